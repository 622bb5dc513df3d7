//! The HTTP application: router, shared state, start-up and graceful shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crate::{
    access::Caller,
    auth::Authenticator,
    config::Config,
    db, demo,
    domain::Domain,
    graphql::{self, limits::QueryLimits},
    http::{
        self,
        server::ConnectionLimits,
        state::{AppState, Shared},
    },
    live,
};

/// How long requests in flight may take to finish once the server is stopping.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Every minute, forgets the rate-limit state of clients that have been quiet.
async fn forget_idle_clients(rate: Arc<crate::http::rate::RateLimits>, stop: CancellationToken) {
    let mut every = tokio::time::interval(Duration::from_mins(1));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => rate.forget_idle(),
        }
    }
}

/// A built application bound to its port, ready to run.
pub struct App {
    listener: TcpListener,
    /// How long `/readyz` says "draining" before connections close.
    shutdown_delay: Duration,
    state: AppState,
}

impl App {
    /// Connects to the database, migrates it, loads the demo data if asked and the database is
    /// empty, starts the live event listener and binds the listen address.
    pub async fn build(config: &Config, load_demo: bool) -> anyhow::Result<App> {
        let auth = Arc::new(Authenticator::from_config(config, load_demo)?);
        // Metrics are recorded from the first request on.
        crate::metrics::handle();
        let domain = db::connect_and_migrate(config).await?;
        if load_demo {
            if domain.is_empty(&Caller::system("start-up")).await? {
                demo::load(&domain).await?.log();
            } else {
                tracing::info!("database already holds data; demo data not loaded");
            }
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let stop = CancellationToken::new();
        let shutdown_delay = Duration::from_secs(config.shutdown_delay_secs);
        let hub = live::start(&domain, config, stop.clone()).await?;
        let query_limits = Arc::new(QueryLimits::new(
            &config.limits,
            config.default_page_size.min(config.max_page_size) as usize,
        ));
        let shared_results = Arc::new(graphql::shared::SharedResults::default());
        let persisted = Arc::new(persisted_queries(config)?);
        let engine = engine(
            config,
            &domain,
            &hub,
            &shared_results,
            &query_limits,
            &persisted,
        );
        let rate = Arc::new(crate::http::rate::RateLimits::new(
            config.limits.rate_limit_per_token,
            config.limits.rate_limit_per_ip,
        ));
        tokio::spawn(forget_idle_clients(rate.clone(), stop.clone()));
        Ok(App {
            listener,
            shutdown_delay,
            state: AppState::new(Shared {
                fanout: Arc::new(crate::http::fanout::Fanout::new(engine.clone())),
                engine,
                domain,
                hub,
                keepalive: Duration::from_secs(config.keepalive_secs.max(1)),
                stop,
                draining: CancellationToken::new(),
                live_connections: TaskTracker::new(),
                shared_results,
                cors_origins: config.cors_origins.clone(),
                allowed_hosts: Arc::new(allowed_hosts(config)),
                limits: Arc::new(config.limits.clone()),
                query_limits,
                request_timeout: Duration::from_secs(config.limits.request_timeout_secs.max(1)),
                upload_timeout: Duration::from_secs(config.limits.upload_timeout_secs.max(1)),
                connection_init_timeout: Duration::from_secs(
                    config.limits.connection_init_timeout_secs.max(1),
                ),
                auth,
                rate,
                persisted,
                per_address: crate::http::address::AddressSlots::new(per_address(config)),
                trusted_proxies: crate::http::address::TrustedProxies::new(
                    config.trusted_proxies.clone(),
                ),
                http2_cleartext: config.http2_cleartext,
                bodies: body_budget(config),
                downloads: body_budget(config),
                readiness: crate::http::readiness::Checks::default(),
                response_cache: crate::http::cache::ResponseCache::new(
                    config.response_cache_mb.saturating_mul(1024 * 1024),
                )
                .map(Arc::new),
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn domain(&self) -> &Domain {
        &self.state.domain
    }

    /// Identical WebSocket subscriptions served by one execution.
    pub fn fanout(&self) -> &Arc<crate::http::fanout::Fanout> {
        &self.state.fanout
    }

    /// Subscription answers shared among identical subscribers.
    pub fn shared_results(&self) -> &Arc<graphql::shared::SharedResults> {
        &self.state.shared_results
    }

    pub fn hub(&self) -> &live::Hub {
        &self.state.hub
    }

    /// Issues and verifies this server's tokens.
    pub fn auth(&self) -> &Authenticator {
        &self.state.auth
    }

    /// The router, for tests that call it without a socket.
    pub fn router(&self) -> Router {
        http::router(self.state.clone())
    }

    /// Serves until `shutdown` is cancelled: then `/readyz` answers 503 for the shutdown
    /// delay while requests are still served, then live connections are closed (WebSockets
    /// with a 1012 close frame, SSE streams ended) so clients reconnect and resume, background
    /// tasks stop, requests in flight finish, and it returns once every WebSocket has sent its
    /// close frame (or the grace period is over).
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let links = openable_urls(self.local_addr());
        tracing::info!(address = %self.local_addr(), "labinov listening; GraphiQL at {}", links.join(" and "));
        let stop = self.state.stop.clone();
        let live_connections = self.state.live_connections.clone();
        tokio::spawn({
            let (stop, draining, delay) = (
                stop.clone(),
                self.state.draining.clone(),
                self.shutdown_delay,
            );
            async move {
                shutdown.cancelled().await;
                draining.cancel();
                if !delay.is_zero() {
                    tracing::info!(
                        seconds = delay.as_secs(),
                        "draining: /readyz answers 503 until connections close"
                    );
                    tokio::time::sleep(delay).await;
                }
                stop.cancel();
            }
        });
        let limits = ConnectionLimits {
            max_connections: self.state.limits.max_connections,
            header_timeout: Duration::from_secs(self.state.limits.header_timeout_secs.max(1)),
            max_header_bytes: self.state.limits.max_header_bytes,
            http2_cleartext: self.state.http2_cleartext,
            per_address: self.state.per_address.clone(),
            trusted_proxies: self.state.trusted_proxies.clone(),
        };
        let router = http::router(self.state);
        http::server::serve(self.listener, router, limits, stop, SHUTDOWN_GRACE).await;
        live_connections.close();
        if tokio::time::timeout(SHUTDOWN_GRACE, live_connections.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = live_connections.len(),
                "WebSockets still open after the shutdown grace period; closing them"
            );
        }
        Ok(())
    }
}

/// The persisted-query store, trusting only the configured documents (and the server's own
/// pages' documents) when a list is configured.
fn persisted_queries(config: &Config) -> anyhow::Result<graphql::persisted::PersistedQueries> {
    let persisted = graphql::persisted::PersistedQueries::new(
        config.limits.persisted_queries_kb.saturating_mul(1024),
        config.limits.max_query_bytes,
    );
    Ok(match &config.trusted_documents {
        Some(path) => {
            let own = http::own_documents().map(str::to_owned);
            persisted.trusting(
                graphql::persisted::read_trusted(path)?
                    .into_iter()
                    .chain(own),
            )
        }
        None => persisted,
    })
}

/// The schema with the domain, the live hub and the shared answers as its data, inside the
/// engine every transport runs.
fn engine(
    config: &Config,
    domain: &Domain,
    hub: &live::Hub,
    shared_results: &Arc<graphql::shared::SharedResults>,
    query_limits: &Arc<QueryLimits>,
    persisted: &Arc<graphql::persisted::PersistedQueries>,
) -> graphql::engine::Engine {
    let mut schema = graphql::schema()
        .data(domain.clone())
        .data(hub.clone())
        .data(shared_results.clone())
        .data(graphql::aggregate::PublicMinimum(
            config.anonymous_min_count,
        ));
    if config.limits.disable_introspection {
        schema = schema.disable_introspection();
    }
    graphql::engine::Engine::new(
        schema.finish(),
        query_limits.clone(),
        persisted.clone(),
        domain.clone(),
    )
}

/// The host names the server answers to besides IP addresses and localhost, as compared.
fn allowed_hosts(config: &Config) -> Vec<String> {
    config
        .allowed_hosts
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .filter(|h| !h.is_empty())
        .collect()
}

/// What one client address may hold.
fn per_address(config: &Config) -> crate::http::address::PerAddress {
    crate::http::address::PerAddress {
        connections: config.limits.max_connections_per_address,
        streams: config.limits.max_streams_per_address,
        subscriptions: config.limits.max_subscriptions_per_address,
    }
}

/// URLs a person can open for a server bound to `address`: itself, or for an unspecified
/// address (`0.0.0.0`, `[::]`) loopback and the machine's address on its network.
fn openable_urls(address: SocketAddr) -> Vec<String> {
    let port = address.port();
    if !address.ip().is_unspecified() {
        return vec![format!("http://{address}/")];
    }
    let mut urls = vec![format!("http://127.0.0.1:{port}/")];
    // The address the machine would send from: a UDP socket "connected" to a public address
    // sends nothing, it only picks the route.
    let routed = std::net::UdpSocket::bind(("0.0.0.0", 0))
        .and_then(|socket| {
            socket.connect(("192.0.2.1", 9))?;
            socket.local_addr()
        })
        .ok()
        .map(|local| local.ip())
        .filter(|ip| !ip.is_unspecified() && !ip.is_loopback());
    if let Some(ip) = routed {
        urls.push(format!("http://{}/", SocketAddr::new(ip, port)));
    }
    urls
}

/// Cancels `shutdown` on SIGINT or SIGTERM.
pub async fn stop_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        if let Ok(mut signal) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// Bytes in flight per client address and in all, as the limits set them.
fn body_budget(config: &Config) -> Arc<crate::http::bodies::BodyBudget> {
    crate::http::bodies::BodyBudget::new(
        config.limits.max_body_bytes_per_address,
        config.limits.max_body_bytes_in_flight,
    )
}
