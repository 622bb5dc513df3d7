//! The domain layer: every read and every write goes through [`Domain`], so that access
//! rules, limits and metrics can be added in one place.

/// `Domain::$name(ids)`: rows of one entity by id, in one statement (behind the DataLoaders),
/// limited to what the caller may read by `$scope(read_scope)`: rows out of scope read as absent.
macro_rules! by_ids {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $id:ty, $scope:expr) => {
        $(#[$doc])*
        pub async fn $name(
            &self,
            caller: &crate::access::Caller,
            ids: &[$id],
        ) -> DomainResult<HashMap<$id, $entity::Model>> {
            let scope: crate::access::ReadScope = caller.check_read()?;
            let rows = $entity::Entity::find()
                .filter($entity::Column::Id.is_in(ids.iter().copied()))
                .filter($scope(scope))
                .all(self.db())
                .await?;
            Ok(rows.into_iter().map(|r| (r.id, r)).collect())
        }
    };
}

pub mod action_plan;
pub mod cohort;
pub mod commitment;
pub mod event;
pub mod evidence;
pub mod idea;
pub mod mentor;
pub mod page;
pub mod pipeline;
pub mod regency;
pub mod replica;
pub mod review;
pub mod rows;
pub mod unit;
pub mod unit_import;
pub mod volatile;
pub mod write;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use entity::pipeline_event;
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query},
};
use tokio::sync::broadcast;

use crate::{
    access::Caller,
    error::{DomainError, DomainResult},
};
use page::{Page, PageLimits, PageRequest, Sort, SortValue, paginate};

/// Counts every SQL statement the server executes; read by tests and exported as `labinov_sql_statements_total`.
#[derive(Debug, Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one statement.
    pub fn record(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("labinov_sql_statements_total").increment(1);
    }
}

/// Handle to the domain layer, cheap to clone; one per server, shared by all requests.
#[derive(Clone)]
pub struct Domain {
    /// Where this handle reads: the primary, or a replica that holds what the caller has seen
    /// (see [`Domain::reader`]).
    db: DatabaseConnection,
    /// Where every write, version check and read of one's own write goes.
    primary: DatabaseConnection,
    /// Read replicas of the primary, if any (PostgreSQL).
    replicas: Option<Arc<replica::Replicas>>,
    /// Which replica this handle reads from, if it reads from one.
    reading_replica: Option<usize>,
    statements: StatementCounter,
    limits: PageLimits,
    committed: broadcast::Sender<pipeline_event::Model>,
    /// SQLite's one write lock, taken in this process in arrival order; see
    /// [`write::WriteGate`].
    writers: Option<write::WriteGate>,
    /// Where evidence bytes are kept, and how much is kept.
    evidence_store: Arc<dyn evidence::EvidenceStore>,
    evidence_limits: evidence::EvidenceLimits,
}

impl Domain {
    pub fn new(db: DatabaseConnection, statements: StatementCounter, limits: PageLimits) -> Self {
        let (committed, _) = broadcast::channel(4096);
        let writers = (db.get_database_backend() == sea_orm::DbBackend::Sqlite)
            .then(write::WriteGate::default);
        Self {
            primary: db.clone(),
            db,
            replicas: None,
            reading_replica: None,
            statements,
            limits,
            committed,
            writers,
            evidence_store: Arc::new(evidence::DatabaseStore),
            evidence_limits: evidence::EvidenceLimits::default(),
        }
    }

    /// The same domain, reading from `replicas` when they hold what a caller has seen.
    #[must_use]
    pub fn with_replicas(mut self, replicas: replica::Replicas) -> Self {
        self.replicas = Some(Arc::new(replicas));
        self
    }

    /// The read replicas, if any.
    pub fn replicas(&self) -> Option<&replica::Replicas> {
        self.replicas.as_deref()
    }

    /// The domain for a read that must show at least the data of version `seen` (the primary's
    /// version now when None): reading from a replica that holds it, or from the primary when
    /// none does within the wait. Writes made through the handle still go to the primary. A
    /// clone of `self` when there are no replicas (then nothing is read to decide).
    pub async fn reader(&self, seen: Option<event::DataVersion>) -> Domain {
        let Some(replicas) = &self.replicas else {
            return self.clone();
        };
        let required = match seen {
            Some(version) => version,
            None => match self.data_version().await {
                Ok(version) => version,
                // The primary will say what is wrong when the read runs there.
                Err(_) => return self.clone(),
            },
        };
        match replicas.pick(required).await {
            Some((index, db)) => Domain {
                db: db.clone(),
                reading_replica: Some(index),
                ..self.clone()
            },
            None => self.clone(),
        }
    }

    /// Whether this handle reads from a replica (not the primary).
    pub fn reads_replica(&self) -> bool {
        self.reading_replica.is_some()
    }

    /// After a read through this handle found the database unavailable: whether it read from a
    /// replica that is down (its version cannot be read now). That replica is then skipped for
    /// a while, so this read (again, on the primary) and everyone else's go elsewhere. False
    /// for a replica that answers: the read failed for another reason (a statement time-out,
    /// a query cancelled by replay), which the primary would not cure.
    pub async fn replica_is_down(&self) -> bool {
        match (&self.replicas, self.reading_replica) {
            (Some(replicas), Some(index)) => replicas.is_down(index).await,
            _ => false,
        }
    }

    /// How each replica stands against the primary, for readiness; each asked at once, within
    /// a second.
    pub async fn replica_reports(&self) -> Vec<replica::ReplicaReport> {
        let Some(replicas) = &self.replicas else {
            return Vec::new();
        };
        let primary = async {
            tokio::time::timeout(replica::REPORT_TIMEOUT, self.data_version())
                .await
                .ok()
                .and_then(Result::ok)
        };
        let (primary, reports) = tokio::join!(primary, replicas.report());
        reports
            .into_iter()
            .map(|(mut report, version)| {
                report.behind_events = primary
                    .zip(version)
                    .map(|(primary, version)| Ord::max(primary.events - version.events, 0));
                report
            })
            .collect()
    }

    /// The same domain keeping evidence within `limits`.
    #[must_use]
    pub fn with_evidence_limits(mut self, limits: evidence::EvidenceLimits) -> Self {
        self.evidence_limits = limits;
        self
    }

    /// How much evidence is kept.
    pub fn evidence_limits(&self) -> evidence::EvidenceLimits {
        self.evidence_limits
    }

    /// Events of this process's writes, as they are committed.
    pub fn committed_events(&self) -> broadcast::Receiver<pipeline_event::Model> {
        self.committed.subscribe()
    }

    /// Hands committed events on; only called after the transaction committed.
    pub(crate) fn published(&self, events: &[pipeline_event::Model]) {
        for event in events {
            // No receiver is not an error: nobody is listening.
            let _ = self.committed.send(event.clone());
        }
    }

    /// Default and maximum page sizes of connections.
    pub fn page_limits(&self) -> PageLimits {
        self.limits
    }

    /// Where this handle reads.
    pub(crate) fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// The primary: where writes go.
    pub(crate) fn primary(&self) -> &DatabaseConnection {
        &self.primary
    }

    /// Number of SQL statements executed since start-up.
    pub fn statements_executed(&self) -> u64 {
        self.statements.get()
    }
}

impl Domain {
    /// Whether the database answers a trivial statement.
    pub async fn ping(&self) -> DomainResult<()> {
        use sea_orm::ConnectionTrait;
        // Counted by hand: sea-orm reports only prepared statements to the pool's counter.
        self.statements.record();
        self.primary().execute_unprepared("SELECT 1").await?;
        Ok(())
    }

    /// True when no regency exists yet (a fresh database).
    pub async fn is_empty(&self, caller: &Caller) -> crate::error::DomainResult<bool> {
        use sea_orm::{EntityTrait, PaginatorTrait};
        caller.check_read()?;
        Ok(entity::regency::Entity::find().count(self.db()).await? == 0)
    }
}

/// Longest text a search may look for.
pub const SEARCH_MAX_CHARS: usize = 200;

/// A search text, checked: refused when longer than [`SEARCH_MAX_CHARS`].
pub fn search_text(text: Option<&str>) -> DomainResult<Option<String>> {
    match text {
        Some(text) if text.chars().count() > SEARCH_MAX_CHARS => {
            Err(DomainError::bad_input(format!(
                "A search text is at most {SEARCH_MAX_CHARS} characters long; this one has {}.",
                text.chars().count()
            )))
        }
        Some(text) if text.chars().any(write::is_unprintable) => Err(DomainError::bad_input(
            "A search text cannot hold control characters.",
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

pub(crate) fn contains<C: ColumnTrait>(column: C, text: &str) -> sea_orm::sea_query::SimpleExpr {
    let escaped = text
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column)))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

pub(crate) fn regency_code_filter(
    codes: &Option<Vec<String>>,
) -> Option<sea_orm::sea_query::SelectStatement> {
    codes.as_ref().map(|codes| {
        Query::select()
            .column(entity::regency::Column::Id)
            .from(entity::regency::Entity)
            .and_where(
                entity::regency::Column::Code.is_in(codes.iter().map(|c| c.trim().to_owned())),
            )
            .to_owned()
    })
}

pub(crate) fn by_name<E: EntityTrait>(
    name_column: E::Column,
    id_column: E::Column,
    name_of: fn(&E::Model) -> SortValue,
    id_of: fn(&E::Model) -> i64,
) -> Sort<E> {
    Sort {
        name: "NAME",
        column: name_column,
        descending: false,
        id_column,
        value_of: Some(name_of),
        id_of,
    }
}

pub(crate) fn by_id<E: EntityTrait>(id_column: E::Column, id_of: fn(&E::Model) -> i64) -> Sort<E> {
    Sort {
        name: "ID",
        column: id_column,
        descending: false,
        id_column,
        value_of: None,
        id_of,
    }
}

/// Groups rows by a key, keeping their order.
pub(crate) fn group<K: std::hash::Hash + Eq, M>(
    rows: Vec<M>,
    key: impl Fn(&M) -> K,
) -> HashMap<K, Vec<M>> {
    let mut grouped: HashMap<K, Vec<M>> = HashMap::new();
    for row in rows {
        grouped.entry(key(&row)).or_default().push(row);
    }
    grouped
}

/// A select, its total count query and its page: every listing is the same three steps.
impl Domain {
    pub(crate) async fn listing<E: EntityTrait>(
        &self,
        select: Select<E>,
        sort: Sort<E>,
        page: &PageRequest,
    ) -> DomainResult<Page<E::Model>> {
        paginate(self.db(), select, &sort, page, self.page_limits()).await
    }
}
