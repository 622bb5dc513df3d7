//! A regency or city (kabupaten/kota) that runs an innovation lab with LAN.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "regency")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    /// Kemendagri code, e.g. "63.03"; unique.
    #[sea_orm(unique)]
    pub code: String,
    pub name: String,
    pub province: String,
    /// The body that organises the lab, e.g. Bapelitbangda.
    pub organiser: String,
    /// Date of the lab MoU with LAN.
    pub mou_signed_on: Option<Date>,
    /// Last pipeline event sequence number issued for this regency (gapless counter).
    pub event_seq: i64,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
