//! Database schema migrations. Owns the table layout; knows nothing of the service's rules.
//!
//! Architecture invariant: every migration is append-only, reversible, and runs the same on
//! SQLite (embedded default) and PostgreSQL (production). The suite runs them up and down on both.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_accounts;
mod m20261125_000002_generation;
mod m20261125_000003_job_dispatch;
mod m20261125_000004_audit_log;
mod m20261130_000005_moderation;
mod m20261130_000006_remixes;
mod m20261130_000007_cameos;
mod m20261130_000008_social;

/// The ordered list of migrations.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_accounts::Migration),
            Box::new(m20261125_000002_generation::Migration),
            Box::new(m20261125_000003_job_dispatch::Migration),
            Box::new(m20261125_000004_audit_log::Migration),
            Box::new(m20261130_000005_moderation::Migration),
            Box::new(m20261130_000006_remixes::Migration),
            Box::new(m20261130_000007_cameos::Migration),
            Box::new(m20261130_000008_social::Migration),
        ]
    }
}
