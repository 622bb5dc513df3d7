//! One edition of a regency's innovation lab.

use sea_orm::entity::prelude::*;

use crate::Stage;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "cohort")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    pub year: i32,
    /// Unique within the regency.
    pub name: String,
    /// Where the lab itself is in the 5D cycle.
    pub stage: Stage,
    /// The cohort's review rubric as JSON (criteria with weights); None: the default rubric.
    pub rubric: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
