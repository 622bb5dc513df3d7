//! Database connection, migrations and the counter of executed SQL statements.

use std::time::Duration;

use anyhow::Context;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::{
    config::Config,
    domain::{Domain, StatementCounter, replica::Replicas},
};

/// Prepared statements kept per connection. Filters with long ID lists make large statements
/// of many shapes; a small cache keeps the memory they hold bounded (the list items of one
/// request are limited too), while the few shapes of everyday queries stay prepared.
const STATEMENT_CACHE: usize = 32;

/// A pooled connection is pinged before it is handed out only once it has been idle this long.
/// sqlx pings on every checkout by default: one more round trip for every statement, and under
/// the dashboard page's load the pings took a seventh of the server's CPU time. A connection in
/// steady use is known to be alive (sqlx still checks each one as it comes back); one that sat
/// idle may have been dropped by a restart, a proxy or a firewall, and is checked.
pub const PING_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Opens the pool named by the configuration, creating the PostgreSQL schema if one is set.
pub async fn connect(config: &Config) -> anyhow::Result<(DatabaseConnection, StatementCounter)> {
    if let Some(schema) = &config.database.database_schema {
        ensure_schema(&config.database.database_url, schema).await?;
    }
    let options = pool_options(config, &config.database.database_url);
    let mut db = Database::connect(options)
        .await
        .map_err(|err| cannot_connect(&config.database.database_url, &err))?;
    let counter = StatementCounter::default();
    let bump = counter.clone();
    db.set_metric_callback(move |_| bump.record());
    Ok((db, counter))
}

/// The read replicas of the configuration, each in a pool of its own that connects when first
/// used: a replica that is down at start-up is skipped until it answers, the server starts.
async fn connect_replicas(
    config: &Config,
    counter: &StatementCounter,
) -> anyhow::Result<Option<Replicas>> {
    let urls: Vec<&String> = config
        .database
        .database_replica_urls
        .iter()
        .filter(|url| !url.trim().is_empty())
        .collect();
    if urls.is_empty() {
        return Ok(None);
    }
    anyhow::ensure!(
        config.database.database_url.starts_with("postgres"),
        "DATABASE_REPLICA_URLS needs a PostgreSQL DATABASE_URL: SQLite has no replicas"
    );
    let mut members = Vec::with_capacity(urls.len());
    for url in urls {
        anyhow::ensure!(
            url.starts_with("postgres"),
            "every URL of DATABASE_REPLICA_URLS is a PostgreSQL URL (postgres://USER@HOST/DB); {} is not",
            redact(url)
        );
        let mut options = pool_options(config, url);
        options
            .connect_lazy(true)
            .connect_timeout(Duration::from_secs(2));
        let mut db = Database::connect(options)
            .await
            .map_err(|err| cannot_connect(url, &err))?;
        let bump = counter.clone();
        db.set_metric_callback(move |_| bump.record());
        members.push((redact(url), db));
    }
    Ok(Some(Replicas::new(
        members,
        Duration::from_millis(config.database.database_replica_wait_ms),
    )))
}

/// How a pool of the configuration connects to `url`.
fn pool_options(config: &Config, url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(config.database.database_max_connections)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(
            config.database.database_acquire_timeout_secs.max(1),
        ))
        .test_before_acquire_if_idle_for(PING_IF_IDLE_FOR)
        .sqlx_logging(false);
    if let Some(schema) = &config.database.database_schema {
        options.set_schema_search_path(schema.clone());
    }
    // WAL lets dashboards read while a write is in flight; writers queue instead of failing.
    options.map_sqlx_sqlite_opts(|opts| {
        opts.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true)
            .statement_cache_capacity(STATEMENT_CACHE)
    });
    let statement_timeout = config.database.database_statement_timeout_secs;
    options.map_sqlx_postgres_opts(move |opts| {
        let opts = opts.statement_cache_capacity(STATEMENT_CACHE);
        if statement_timeout == 0 {
            opts
        } else {
            opts.options([("statement_timeout", format!("{statement_timeout}s"))])
        }
    });
    options
}

/// Why the database at `url` cannot be reached, in one sentence: the deepest cause (the
/// driver's own words, once), and what to do when the database itself is missing.
fn cannot_connect(url: &str, err: &sea_orm::DbErr) -> anyhow::Error {
    let mut cause: &dyn std::error::Error = err;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let reason = cause.to_string();
    let hint = if reason.contains("does not exist") && reason.contains("database") {
        "; create it first (psql -h HOST -U USER -c 'CREATE DATABASE name'): labinov makes its tables, not the database"
    } else {
        ""
    };
    anyhow::anyhow!(
        "cannot connect to the database at {}: {reason}{hint}",
        redact(url)
    )
}

/// Applies every pending migration; a no-op on an up-to-date database.
pub async fn migrate(db: &DatabaseConnection) -> anyhow::Result<()> {
    Migrator::up(db, None).await.context("running migrations")
}

async fn ensure_schema(url: &str, schema: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        !schema.is_empty()
            && schema
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "DATABASE_SCHEMA may hold only letters, digits and underscores"
    );
    let db = Database::connect(url)
        .await
        .map_err(|err| cannot_connect(url, &err))?;
    db.execute_unprepared(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))
        .await
        .context("creating the database schema")?;
    db.close().await.ok();
    Ok(())
}

/// The URL without its password and without its query parameters (which may hold one), for
/// messages and readiness.
pub fn redact(url: &str) -> String {
    let url = url.split_once('?').map_or(url, |(before, _)| before);
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Opens and migrates the configured database.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Domain> {
    {
        // Migrations may rewrite big tables: they run on a pool of their own without the
        // statement time-out meant for requests.
        let mut unlimited = config.clone();
        unlimited.database.database_statement_timeout_secs = 0;
        unlimited.database.database_max_connections = 1;
        let (migrations, _) = connect(&unlimited).await?;
        migrate(&migrations).await?;
        migrations.close().await.ok();
    }
    let (connection, statements) = connect(config).await?;
    let replicas = connect_replicas(config, &statements).await?;
    let limits = crate::domain::page::PageLimits {
        default: config.default_page_size.min(config.max_page_size),
        max: config.max_page_size,
    };
    let domain = Domain::new(connection, statements, limits).with_evidence_limits(
        crate::domain::evidence::EvidenceLimits {
            max_bytes: config.limits.evidence_max_bytes,
            max_files: config.limits.evidence_max_files,
        },
    );
    Ok(match replicas {
        Some(replicas) => domain.with_replicas(replicas),
        None => domain,
    })
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn messages_never_show_a_password() {
        assert_eq!(
            redact("postgres://labinov:s3cret@db.example/labinov"),
            "postgres://labinov:***@db.example/labinov"
        );
        assert_eq!(
            redact("postgres://labinov:p@ss@db.example/labinov"),
            "postgres://labinov:***@db.example/labinov"
        );
        assert_eq!(
            redact("postgres://db.example/labinov?user=labinov&password=s3cret"),
            "postgres://db.example/labinov"
        );
        assert_eq!(
            redact("sqlite://labinov.db?mode=rwc"),
            "sqlite://labinov.db"
        );
    }
}
