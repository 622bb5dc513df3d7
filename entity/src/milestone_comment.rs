//! The coaching log: a LAN mentor's comment on a milestone of an idea they coach.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "milestone_comment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    pub milestone_id: i32,
    pub idea_id: i32,
    pub mentor_id: i32,
    pub comment: String,
    /// The day of the coaching the comment is about.
    pub written_on: Date,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
