//! One step of an action plan: what is done, by whom (a name and a position, never an
//! identity number), by when, and how far it got.

use sea_orm::entity::prelude::*;

use crate::MilestoneStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "milestone")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    pub action_plan_id: i32,
    pub idea_id: i32,
    /// The milestone's place in the plan, from 1.
    pub position: i32,
    pub title: String,
    pub owner_name: String,
    pub owner_position: String,
    pub due_on: Date,
    pub status: MilestoneStatus,
    /// The day it was done (set exactly when the status is DONE).
    pub done_on: Option<Date>,
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
