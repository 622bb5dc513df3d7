//! The domain layer: every read and every write goes through [`Domain`], so that access
//! rules, limits and metrics can be added in one place.

pub mod aggregate;
pub mod idea;
pub mod listing;
pub mod lookup;
pub mod page;
pub mod pipeline;
pub mod regency;

use sea_orm::DatabaseConnection;

use crate::db::StatementCounter;
use page::PageLimits;

/// Handle to the domain layer, cheap to clone; one per server, shared by all requests.
#[derive(Clone)]
pub struct Domain {
    db: DatabaseConnection,
    statements: StatementCounter,
    limits: PageLimits,
}

impl Domain {
    pub fn new(db: DatabaseConnection, statements: StatementCounter, limits: PageLimits) -> Self {
        Self {
            db,
            statements,
            limits,
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
