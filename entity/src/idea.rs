//! An innovation idea moving through the 5D pipeline.

use sea_orm::entity::prelude::*;

use crate::{IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, Stage, StallReason};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "idea")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Denormalised from the cohort so that regency filters need no join.
    pub regency_id: i32,
    pub cohort_id: i32,
    pub unit_id: i32,
    pub title: String,
    pub problem: String,
    pub description: String,
    pub innovation_type: InnovationType,
    pub form: InnovationForm,
    /// Government affairs area (urusan), free text.
    pub affairs_area: String,
    pub initiator: Initiator,
    pub stage: Stage,
    pub status: IdeaStatus,
    /// Why the idea is stalled or dropped.
    pub status_reason: Option<String>,
    /// The kind of reason while the idea is stalled.
    pub stall_reason: Option<StallReason>,
    /// When the idea entered its current stage (its submission, last advance or revert).
    pub stage_entered_at: DateTimeUtc,
    /// The person carrying the innovation in its unit, and their position; no identity numbers.
    pub innovator_name: Option<String>,
    pub innovator_position: Option<String>,
    pub maturity: Maturity,
    pub submitted_at: DateTimeUtc,
    /// Set when the idea enters DELIVER.
    pub launched_on: Option<Date>,
    /// Optimistic concurrency: bumped by every write.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::unit::Entity",
        from = "Column::UnitId",
        to = "super::unit::Column::Id"
    )]
    Unit,
    #[sea_orm(
        belongs_to = "super::cohort::Entity",
        from = "Column::CohortId",
        to = "super::cohort::Column::Id"
    )]
    Cohort,
}

impl Related<super::unit::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Unit.def()
    }
}

impl Related<super::cohort::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Cohort.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
