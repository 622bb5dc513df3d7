//! A mentor coaching an idea over a period; ended assignments are kept as history.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mentor_assignment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub mentor_id: i32,
    pub idea_id: i32,
    pub since: Date,
    /// None while the assignment is current.
    pub until: Option<Date>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
