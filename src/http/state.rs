//! The state every handler shares: the engine, the domain, the live hub, the guards and the
//! settings of the HTTP layer.

use std::{sync::Arc, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    access::Caller,
    auth::Authenticator,
    config::LimitArgs,
    domain::Domain,
    graphql::{self, engine::Engine, limits::QueryLimits},
    live,
};

/// What every request handler reads, built once by `app`: cheap to clone (one `Arc`), and
/// read through `Deref` as `state.domain`, `state.hub`, ….
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's services and settings, shared by every request.
pub struct Shared {
    /// The schema and the checks and bookkeeping around every request.
    pub engine: Engine,
    pub domain: Domain,
    /// The process's live event feed.
    pub hub: live::Hub,
    /// Interval of keep-alive pings on WebSocket and SSE connections.
    pub keepalive: Duration,
    /// Cancelled when the server stops: live connections close so clients reconnect.
    pub stop: CancellationToken,
    /// Cancelled when the server is told to stop, `shutdown_delay` before `stop`: `/readyz`
    /// answers 503 from then on so load balancers send no new requests.
    pub draining: CancellationToken,
    /// The upgraded WebSockets: the server waits for them to send their close frames.
    pub live_connections: TaskTracker,
    /// Subscription answers shared among subscribers (also installed in the schema).
    pub shared_results: Arc<graphql::shared::SharedResults>,
    /// Origins other sites may call the API from.
    pub cors_origins: Vec<String>,
    /// Host names the server answers to besides IP addresses and localhost.
    pub allowed_hosts: Arc<Vec<String>>,
    /// The configured limits.
    pub limits: Arc<LimitArgs>,
    /// The limits on a request's shape (also held by the engine).
    pub query_limits: Arc<QueryLimits>,
    /// How long a GraphQL-over-HTTP request may take.
    pub request_timeout: Duration,
    /// How long an upload (multipart GraphQL or `POST /evidence`) may take.
    pub upload_timeout: Duration,
    /// How long a WebSocket may wait before `connection_init`.
    pub connection_init_timeout: Duration,
    /// Verifies bearer tokens and turns them into callers.
    pub auth: Arc<Authenticator>,
    /// Operations per token and per client address.
    pub rate: Arc<super::rate::RateLimits>,
    /// Query texts of automatic persisted queries, by hash (also held by the engine).
    pub persisted: Arc<graphql::persisted::PersistedQueries>,
    /// Identical WebSocket subscriptions served by one execution.
    pub fanout: Arc<super::fanout::Fanout>,
    /// Answers to repeated GraphQL-over-HTTP queries; None when turned off.
    pub response_cache: Option<Arc<super::cache::ResponseCache>>,
    /// The connections, streams and subscriptions each client address holds.
    pub per_address: Arc<super::address::AddressSlots>,
    /// The proxies whose forwarding headers name the client.
    pub trusted_proxies: super::address::TrustedProxies,
    /// Whether HTTP/2 without TLS is spoken.
    pub http2_cleartext: bool,
    /// Request bodies in flight, per address and in all.
    pub bodies: Arc<super::bodies::BodyBudget>,
    /// Evidence files being downloaded, held in memory until sent: per address and in all,
    /// within the same amounts as request bodies.
    pub downloads: Arc<super::bodies::BodyBudget>,
    /// The readiness check under way, shared by the `/readyz` callers that ask meanwhile.
    pub readiness: super::readiness::Checks,
}

impl AppState {
    /// The caller of a request carrying `token` (None: anonymous); UNAUTHENTICATED for a bad,
    /// expired or foreign token.
    pub async fn caller(&self, token: Option<&str>) -> crate::error::DomainResult<Caller> {
        let domain = &self.domain;
        let system = Caller::system("token check");
        self.auth
            .caller(
                token,
                async |code| Ok(domain.regency_by_code(&system, &code).await?.map(|r| r.id)),
                async |id| Ok(!domain.mentors_by_id(&system, &[id]).await?.is_empty()),
            )
            .await
    }
}
