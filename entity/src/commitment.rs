//! Komitmen Kesepakatan Berinovasi: a unit head's signed commitment with the regent.

use sea_orm::entity::prelude::*;

use crate::CommitmentStatus;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commitment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    pub cohort_id: i32,
    pub unit_id: i32,
    pub signatory_name: String,
    pub signatory_title: String,
    /// The other party, usually the regent (Bupati).
    pub counterpart: String,
    pub target: String,
    pub due_on: Option<Date>,
    pub status: CommitmentStatus,
    pub signed_on: Option<Date>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
