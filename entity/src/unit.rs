//! A regional government unit (perangkat daerah): dinas, kecamatan, puskesmas, BUMD…

use sea_orm::entity::prelude::*;

use crate::UnitKind;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "unit")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub regency_id: i32,
    /// Kelurahan under its kecamatan, puskesmas under the health office.
    pub parent_id: Option<i32>,
    pub kind: UnitKind,
    /// Unique within the regency.
    pub name: String,
    /// Title of the unit's head: Kepala, Camat, Lurah, Direktur…
    pub head_title: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
