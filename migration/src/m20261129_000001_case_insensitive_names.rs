//! Unit and cohort names are unique within their regency whatever their letter case, so a CSV
//! import (which matches unit names case-insensitively) can never find two.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &'static str {
        "m20261129_000001_case_insensitive_names"
    }
}

/// sea-query cannot build an expression index for SQLite, so this one is plain SQL, written
/// the same for SQLite and PostgreSQL (both name the current schema implicitly).
const INDEXES: [(&str, &str); 2] = [
    ("ux_unit_regency_lower_name", "unit"),
    ("ux_cohort_regency_lower_name", "cohort"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!(
                    "CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} (regency_id, lower(name))"
                ))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, _) in INDEXES {
            manager
                .get_connection()
                .execute_unprepared(&format!("DROP INDEX IF EXISTS {name}"))
                .await?;
        }
        Ok(())
    }
}
