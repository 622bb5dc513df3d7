//! The outbox and history of every change, numbered per regency without gaps.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{PipelineEventKind, Stage};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, Serialize, Deserialize)]
#[sea_orm(table_name = "pipeline_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub regency_id: i32,
    /// Gapless per-regency sequence, 1, 2, 3…
    pub seq: i64,
    /// What happened, e.g. IDEA_ADVANCED.
    pub kind: PipelineEventKind,
    pub idea_id: Option<i32>,
    pub unit_id: Option<i32>,
    pub commitment_id: Option<i32>,
    /// Stage of the idea after the change, when the event concerns an idea.
    pub stage: Option<Stage>,
    pub actor: String,
    /// JSON document with the change's details.
    pub payload: String,
    pub occurred_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
