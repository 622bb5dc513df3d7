//! One pooled connection held for the few statements of one read, such as a page of ideas and
//! its mentors. Every statement through the pool takes a connection and gives it back, and
//! sqlx checks each connection it takes back with a round trip to the database (a `Sync`)
//! before another request may use it: two statements on one held connection pay one check
//! instead of two. PostgreSQL only; on SQLite a read goes through the pool as before.

use std::sync::Arc;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr,
    Statement,
    sqlx::{self, Postgres, pool::PoolConnection},
};
use sea_query_sqlx::SqlxValues;
use tokio::sync::{Mutex, MutexGuard};

use super::{Domain, StatementCounter};
use crate::error::DomainResult;

/// Where the statements of one read go: one held PostgreSQL connection, or the pool.
pub enum Reading<'a> {
    /// Each statement takes a connection from the pool (SQLite).
    Pool(&'a DatabaseConnection),
    /// Every statement on this one connection, counted as the pool's statements are.
    Held {
        connection: Mutex<PoolConnection<Postgres>>,
        statements: StatementCounter,
    },
}

impl Domain {
    /// A connection from where this handle reads, held for the statements of one read until
    /// the returned value is dropped. Hold it only while no other statement of the request
    /// waits for a connection of its own: with a pool of one, that one would wait for this.
    pub(crate) async fn reading(&self) -> DomainResult<Reading<'_>> {
        if self.db().get_database_backend() != DbBackend::Postgres {
            return Ok(Reading::Pool(self.db()));
        }
        let connection = self
            .db()
            .get_postgres_connection_pool()
            .acquire()
            .await
            .map_err(acquire_error)?;
        Ok(Reading::Held {
            connection: Mutex::new(connection),
            statements: self.statements.clone(),
        })
    }
}

/// The error sea-orm's pool gives for a connection it could not take.
fn acquire_error(error: sqlx::Error) -> DbErr {
    match error {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => {
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::ConnectionClosed)
        }
        other => DbErr::Conn(RuntimeErr::SqlxError(Arc::new(other))),
    }
}

/// The error sea-orm gives for a query that failed.
fn query_error(error: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(error)))
}

/// The error sea-orm gives for a statement run for its effect that failed.
fn exec_error(error: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(error)))
}

/// `statement` as sqlx runs it, with its values bound as sea-orm binds them.
fn bound(statement: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = statement
        .values
        .clone()
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    sqlx::query_with(
        sqlx::AssertSqlSafe(statement.sql.as_str()),
        SqlxValues(values),
    )
}

/// How one statement runs: through the pool, or on the held connection, locked for it.
enum Way<'a> {
    Pool(&'a DatabaseConnection),
    Held(MutexGuard<'a, PoolConnection<Postgres>>),
}

impl Reading<'_> {
    /// The way of the next statement, counted when it runs on the held connection (the pool
    /// counts its own).
    async fn way(&self) -> Way<'_> {
        match self {
            Reading::Pool(db) => Way::Pool(db),
            Reading::Held {
                connection,
                statements,
            } => {
                statements.record();
                Way::Held(connection.lock().await)
            }
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Reading<'_> {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Reading::Pool(db) => db.get_database_backend(),
            Reading::Held { .. } => DbBackend::Postgres,
        }
    }

    async fn execute_raw(&self, statement: Statement) -> Result<ExecResult, DbErr> {
        match self.way().await {
            Way::Pool(db) => db.execute_raw(statement).await,
            Way::Held(mut connection) => bound(&statement)
                .execute(&mut **connection)
                .await
                .map(ExecResult::from)
                .map_err(exec_error),
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self.way().await {
            Way::Pool(db) => db.execute_unprepared(sql).await,
            Way::Held(mut connection) => sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut **connection)
                .await
                .map(ExecResult::from)
                .map_err(exec_error),
        }
    }

    async fn query_one_raw(&self, statement: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self.way().await {
            Way::Pool(db) => db.query_one_raw(statement).await,
            Way::Held(mut connection) => bound(&statement)
                .fetch_optional(&mut **connection)
                .await
                .map(|row| row.map(QueryResult::from))
                .map_err(query_error),
        }
    }

    async fn query_all_raw(&self, statement: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self.way().await {
            Way::Pool(db) => db.query_all_raw(statement).await,
            Way::Held(mut connection) => bound(&statement)
                .fetch_all(&mut **connection)
                .await
                .map(|rows| rows.into_iter().map(QueryResult::from).collect())
                .map_err(query_error),
        }
    }
}
