//! Rencana aksi: an idea's current action plan, written in DESIGN and carried out in DELIVER.
//! Its milestones are rows of `milestone`; every version it had is a row of
//! `action_plan_revision`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "action_plan")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    /// One plan per idea.
    pub idea_id: i32,
    /// What the plan achieves, in a sentence.
    pub goal: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
