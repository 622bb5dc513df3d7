//! Schema migrations for labinov. Every migration runs on SQLite and PostgreSQL alike and is
//! written with sea-query builders only, never backend-specific SQL.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_pipeline;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(m20261128_000001_create_pipeline::Migration)]
    }
}
