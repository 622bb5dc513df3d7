//! Accepting connections: a cap on how many are open at once (more are closed as soon as
//! they arrive, so idle sockets cannot use up the process's file descriptors), a time-out for
//! request headers that also ends idle keep-alive connections, and a graceful shutdown.

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::Request};
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto::Builder, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::{
    net::TcpListener,
    sync::{OwnedSemaphorePermit, Semaphore},
};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// A connection's place under the cap. Each request carries it in its extensions, so a
/// WebSocket keeps the place after the upgrade takes its socket out of the HTTP connection.
#[derive(Clone)]
pub struct ConnectionSlot(
    #[allow(dead_code, reason = "held, never read")] Arc<OwnedSemaphorePermit>,
);

/// How a server treats its connections.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
}

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
    let graceful = GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.header_timeout)
        .enable_connect_protocol();
    // Refusals are logged at most once a second, with how many there were.
    let (mut refused, mut last_warning) = (0u64, None::<tokio::time::Instant>);
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
            refused += 1;
            if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                tracing::warn!(%peer, refused, max = max_connections, "connections refused: too many open connections");
                (refused, last_warning) = (0, Some(tokio::time::Instant::now()));
            }
            continue;
        };
        let _ = socket.set_nodelay(true);
        let slot = ConnectionSlot(Arc::new(permit));
        let request_slot = slot.clone();
        let service = TowerToHyperService::new(router.clone().map_request(
            move |request: Request<Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(request_slot.clone());
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                request
            },
        ));
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let header_timeout = limits.header_timeout;
        tokio::spawn(async move {
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
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(socket), service)
                .into_owned();
            if let Err(err) = watcher.watch(connection).await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the shutdown grace period; closing them");
    }
}
