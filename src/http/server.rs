//! Accepting connections: a cap on how many are open at once, in all and per client address
//! (more are closed as soon as they arrive, so idle sockets cannot use up the process's file
//! descriptors nor one address every place), a time-out and a size cap for request headers
//! (the time-out also ends idle keep-alive connections), and a graceful shutdown. HTTP/2 is
//! spoken only when asked for: a reverse proxy ends TLS and speaks HTTP/1.1 to the server.

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use tokio::{
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::address::{AddressSlots, ClientAddr, Holding, TrustedProxies};

/// A connection's place under the cap. Each request carries it in its extensions, so a
/// WebSocket keeps the place after the upgrade takes its socket out of the HTTP connection.
#[derive(Clone)]
pub struct ConnectionSlot(
    #[allow(dead_code, reason = "held, never read")]
    Arc<(OwnedSemaphorePermit, Option<super::address::Slot>)>,
);

/// How a server treats its connections.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    /// Largest request head, in bytes (HTTP 431 beyond).
    pub max_header_bytes: usize,
    /// Whether HTTP/2 without TLS is spoken.
    pub http2_cleartext: bool,
    /// What each client address may hold.
    pub per_address: Arc<AddressSlots>,
    /// The proxies whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
}

/// Streams one HTTP/2 connection may carry at once (when HTTP/2 is on).
const HTTP2_STREAMS: u32 = 32;

/// File descriptors kept free for the database pool, Redis, logs and the listener itself.
const RESERVED_FDS: u64 = 64;

/// The connection cap the process can honour: the soft limit on open files is raised to the
/// hard limit, and the cap lowered below it if needed, so that idle sockets are refused by the
/// cap rather than starving the process of file descriptors.
fn honourable_cap(configured: usize) -> usize {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => {
            let room = usize::try_from(files.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
            if room < configured {
                tracing::warn!(
                    configured,
                    open_file_limit = files,
                    cap = room,
                    "the open-file limit is below the connection cap; lowering the cap"
                );
            }
            configured.min(room.max(1))
        }
        Err(err) => {
            tracing::warn!(error = %err, "cannot read the open-file limit; keeping the configured connection cap");
            configured
        }
    }
}

/// Runs `connection` to its end; once `stop` is cancelled, asks it (`shutdown`) to finish the
/// request it is serving and close.
async fn until_stopped<C, E>(
    connection: C,
    stop: &CancellationToken,
    shutdown: impl FnOnce(std::pin::Pin<&mut C>),
) -> Result<(), String>
where
    C: std::future::Future<Output = Result<(), E>>,
    E: std::fmt::Display,
{
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        ended = connection.as_mut() => ended,
        () = stop.cancelled() => {
            shutdown(connection.as_mut());
            connection.await
        }
    }
    .map_err(|err| err.to_string())
}

/// How connections are spoken to: HTTP/1.1 alone (hyper's own HTTP/1 connection, since the
/// auto builder reads the first bytes to pick a version whatever it is told), or HTTP/1.1 and
/// HTTP/2 without TLS.
#[derive(Clone)]
struct Builders {
    auto: Builder<TokioExecutor>,
    http1: hyper::server::conn::http1::Builder,
    http2_cleartext: bool,
}

impl Builders {
    fn new(limits: &ConnectionLimits) -> Self {
        let mut auto = Builder::new(TokioExecutor::new());
        auto.http1()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            // hyper reads the head into this buffer and answers 431 when it does not fit.
            .max_buf_size(limits.max_header_bytes.max(8192));
        auto.http2()
            .timer(TokioTimer::new())
            .keep_alive_interval(limits.header_timeout)
            .max_concurrent_streams(HTTP2_STREAMS)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            .enable_connect_protocol();
        let mut http1 = hyper::server::conn::http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192));
        Self {
            auto,
            http1,
            http2_cleartext: limits.http2_cleartext,
        }
    }
}

/// Refused connections, logged at most once a second with how many there were.
#[derive(Default)]
struct Refusals {
    count: u64,
    last_warning: Option<tokio::time::Instant>,
}

impl Refusals {
    fn note(&mut self, peer: std::net::SocketAddr, max: usize, message: &'static str) {
        self.count += 1;
        if self
            .last_warning
            .is_none_or(|at| at.elapsed() >= Duration::from_secs(1))
        {
            tracing::warn!(%peer, refused = self.count, max, "{message}");
            (self.count, self.last_warning) = (0, Some(tokio::time::Instant::now()));
        }
    }
}

/// Serves `router` on `listener` until `stop` is cancelled, then lets requests in flight finish
/// (for up to `drain`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
    drain: Duration,
) {
    let max_connections = honourable_cap(limits.max_connections.max(1));
    let permits = Arc::new(Semaphore::new(max_connections));
    // Every connection's task, so a stopping server can wait for them to finish.
    let connections = tokio_util::task::TaskTracker::new();
    let builders = Builders::new(&limits);
    let mut refusals = Refusals::default();
    loop {
        let (socket, peer) = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors or the like: wait instead of spinning.
                    tracing::warn!(error = %err, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            drop(socket);
            refusals.note(
                peer,
                max_connections,
                "connections refused: too many open connections",
            );
            continue;
        };
        // Trusted proxies carry many clients: those are counted by stream, not here.
        let proxied = limits.trusted_proxies.contains(peer.ip());
        let address_slot = if proxied {
            None
        } else if let Some(slot) = limits.per_address.take(peer.ip(), Holding::Connection) {
            Some(slot)
        } else {
            drop(socket);
            refusals.note(
                peer,
                limits.per_address.cap(Holding::Connection),
                "connections refused: too many open connections from one address",
            );
            continue;
        };
        let _ = socket.set_nodelay(true);
        let slot = ConnectionSlot(Arc::new((permit, address_slot)));
        let request_slot = slot.clone();
        let trusted = limits.trusted_proxies.clone();
        let service = TowerToHyperService::new(router.clone().map_request(
            move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                let client = if proxied {
                    trusted.client(peer.ip(), request.headers())
                } else {
                    peer.ip()
                };
                request.extensions_mut().insert(request_slot.clone());
                request.extensions_mut().insert(ClientAddr(client));
                request
            },
        ));
        connections.spawn(serve_connection(
            socket,
            peer,
            service,
            builders.clone(),
            stop.clone(),
            limits.header_timeout,
            slot,
        ));
    }
    drop(listener);
    connections.close();
    if tokio::time::timeout(drain, connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}

/// Serves one accepted connection until the client leaves or, once `stop` is cancelled, its
/// request in flight is answered; its slot is given back at the end.
async fn serve_connection<S>(
    socket: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    service: S,
    builders: Builders,
    stop: CancellationToken,
    header_timeout: Duration,
    slot: ConnectionSlot,
) where
    S: hyper::service::Service<Request<Incoming>, Response = axum::response::Response>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // hyper's header time-out starts with the first byte; a client that connects and
    // says nothing is cut off here, so silent sockets cannot hold the connection cap.
    let mut first = [0u8; 1];
    if !matches!(
        tokio::time::timeout(header_timeout, socket.peek(&mut first)).await,
        Ok(Ok(n)) if n > 0
    ) {
        tracing::debug!(%peer, "connection closed: nothing sent within the header time-out");
        return;
    }
    // On stop, each connection finishes the request it is serving, then closes.
    let ended = if builders.http2_cleartext {
        let connection = builders
            .auto
            .serve_connection_with_upgrades(TokioIo::new(socket), service);
        until_stopped(
            connection,
            &stop,
            hyper_util::server::conn::auto::UpgradeableConnection::graceful_shutdown,
        )
        .await
    } else {
        let connection = builders
            .http1
            .serve_connection(TokioIo::new(socket), service)
            .with_upgrades();
        until_stopped(
            connection,
            &stop,
            hyper::server::conn::http1::UpgradeableConnection::graceful_shutdown,
        )
        .await
    };
    if let Err(err) = ended {
        tracing::debug!(%peer, error = %err, "connection ended with an error");
    }
    drop(slot);
}
