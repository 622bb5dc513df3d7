//! The ideas a commitment covers.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commitment_idea")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub commitment_id: i32,
    #[sea_orm(primary_key, auto_increment = false)]
    pub idea_id: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
