//! Schema migrations for labinov. Every migration runs on SQLite and PostgreSQL alike and is
//! written with sea-query builders where they can express it, and otherwise in SQL that both
//! backends read alike (expression indexes).

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_pipeline;
mod m20261129_000001_case_insensitive_names;
mod m20261129_000002_lab_work;
mod m20261206_000001_action_plans;
mod m20261207_000001_evidence;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_pipeline::Migration),
            Box::new(m20261129_000001_case_insensitive_names::Migration),
            Box::new(m20261129_000002_lab_work::Migration),
            Box::new(m20261206_000001_action_plans::Migration),
            Box::new(m20261207_000001_evidence::Migration),
        ]
    }
}
