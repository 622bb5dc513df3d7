//! A LAN mentor's review of an idea at a stage, scored on the cohort's rubric. A new review
//! by the same mentor at the same stage supersedes the old one, which is kept.

use sea_orm::entity::prelude::*;

use crate::{Recommendation, Stage};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "review")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub idea_id: i32,
    pub mentor_id: i32,
    /// The idea's stage when it was reviewed.
    pub stage: Stage,
    pub recommendation: Recommendation,
    /// JSON: each criterion with its weight, score and comment, as scored.
    pub scores: String,
    /// The weighted score in hundredths (0..=10000): Σ score × weight, weights summing to 100.
    pub total: i32,
    pub comment: Option<String>,
    pub created_at: DateTimeUtc,
    /// Set when a newer review of the same mentor at the same stage replaced this one.
    pub superseded_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
