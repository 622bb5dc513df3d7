//! An idea passed from one innovator to another, with the reason. Rows are only ever inserted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hand_over")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub idea_id: i32,
    /// None when the idea named no innovator before.
    pub from_name: Option<String>,
    pub from_position: Option<String>,
    pub to_name: String,
    pub to_position: String,
    pub reason: String,
    pub actor: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
