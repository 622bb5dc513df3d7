//! A file attached to an idea (and optionally to one of its milestones) as evidence of the
//! work: a photo, a PDF, an office document. The row describes it; its bytes live in the
//! evidence store (by default the `evidence_blob` table).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "evidence")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    pub idea_id: i32,
    /// The milestone it shows, if any; cleared when the plan drops that milestone.
    pub milestone_id: Option<i32>,
    /// The file's name as uploaded (path and control characters removed, the extension made
    /// to match its content).
    pub name: String,
    pub description: Option<String>,
    /// The media type read from the file's bytes, never from its name or the client's word.
    pub content_type: String,
    /// Bytes.
    pub size: i64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Who uploaded it (the token's subject).
    pub uploaded_by: String,
    pub uploaded_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
