//! A version of an action plan as it was written: never edited, never deleted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "action_plan_revision")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub action_plan_id: i32,
    /// The plan's version this revision made.
    pub version: i32,
    pub goal: String,
    /// JSON: the milestones as written, in order.
    pub milestones: String,
    pub actor: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
