//! The domain layer: every read and every write goes through [`Domain`], so that access
//! rules, limits and metrics can be added in one place.

pub mod admin;
pub mod aggregate;
pub mod commitment;
pub mod idea;
pub mod import;
pub mod listing;
pub mod live;
pub mod lookup;
pub mod moves;
pub mod page;
pub mod pipeline;
pub mod regency;
pub mod write;

use entity::pipeline_event;
use sea_orm::DatabaseConnection;
use tokio::sync::broadcast;

use crate::{
    db::StatementCounter,
    error::{DomainError, DomainResult},
};
use page::PageLimits;

/// Handle to the domain layer, cheap to clone; one per server, shared by all requests.
#[derive(Clone)]
pub struct Domain {
    db: DatabaseConnection,
    statements: StatementCounter,
    limits: PageLimits,
    committed: broadcast::Sender<pipeline_event::Model>,
}

impl Domain {
    pub fn new(db: DatabaseConnection, statements: StatementCounter, limits: PageLimits) -> Self {
        let (committed, _) = broadcast::channel(4096);
        Self {
            db,
            statements,
            limits,
            committed,
        }
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

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Number of SQL statements executed since start-up.
    pub fn statements_executed(&self) -> u64 {
        self.statements.get()
    }
}

impl Domain {
    /// True when no regency exists yet (a fresh database).
    pub async fn is_empty(&self) -> crate::error::DomainResult<bool> {
        use sea_orm::{EntityTrait, PaginatorTrait};
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
        other => Ok(other.map(str::to_owned)),
    }
}
