//! The audit trail of idea moves. Rows are only ever inserted.

use sea_orm::entity::prelude::*;

use crate::{Decision, IdeaStatus, Stage, StallReason};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stage_transition")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub idea_id: i32,
    /// None for the submission that puts the idea into the pipeline.
    pub from_stage: Option<Stage>,
    pub to_stage: Stage,
    /// Status after the move.
    pub to_status: IdeaStatus,
    pub decision: Decision,
    pub reason: Option<String>,
    /// The kind of reason of a stall.
    pub reason_code: Option<StallReason>,
    pub actor: String,
    pub at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
