//! Many graphql-transport-ws subscribers, each reporting when its results arrive.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use serde_json::Value;
use tokio::sync::mpsc;
use wire::ws::{Protocol, Received, Socket};

/// A result a subscriber received: which subscriber, when, and what.
pub struct Arrival {
    pub subscriber: usize,
    pub at: Instant,
    pub payload: Value,
}

/// Open subscribers; dropping it closes them.
pub struct Subscribers {
    tasks: tokio::task::JoinSet<()>,
    pub arrivals: mpsc::UnboundedReceiver<Arrival>,
}

impl Subscribers {
    /// Waits for `n` arrivals (or `within`); returns them.
    pub async fn collect(&mut self, n: usize, within: Duration) -> Vec<Arrival> {
        let mut got = Vec::with_capacity(n);
        let deadline = tokio::time::Instant::now() + within;
        while got.len() < n {
            match tokio::time::timeout_at(deadline, self.arrivals.recv()).await {
                Ok(Some(arrival)) => got.push(arrival),
                _ => break,
            }
        }
        got
    }

    /// Reads arrivals, noting who delivered in `live`, until all `n` subscribers have (true)
    /// or `within` has passed (false).
    pub async fn until_each_delivered(
        &mut self,
        live: &mut std::collections::HashSet<usize>,
        n: usize,
        within: Duration,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while live.len() < n {
            match tokio::time::timeout_at(deadline, self.arrivals.recv()).await {
                Ok(Some(arrival)) => {
                    live.insert(arrival.subscriber);
                }
                _ => return false,
            }
        }
        true
    }

    /// Drops what arrived so far.
    pub fn drain(&mut self) {
        while self.arrivals.try_recv().is_ok() {}
    }

    pub async fn close(mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// One subscriber's operation: the document and its variables.
pub type Operation = (String, Value);

/// Opens one graphql-transport-ws connection per operation, `parallel` handshakes at a time,
/// and subscribes; results flow to `arrivals`. With `raw`, the socket is a plain broadcast
/// floor: no handshake, every text message counts.
pub async fn open(
    url: &str,
    token: &str,
    operations: Vec<Operation>,
    parallel: usize,
    raw: bool,
) -> anyhow::Result<Subscribers> {
    let (sender, arrivals) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    let opened: Vec<anyhow::Result<_>> = stream::iter(operations.into_iter().enumerate())
        .map(|(n, op)| async move { connect(url, token, op, raw).await.map(|s| (n, s)) })
        .buffer_unordered(parallel.max(1))
        .collect()
        .await;
    for socket in opened {
        let (subscriber, mut socket) = socket?;
        let sender = sender.clone();
        tasks.spawn(async move {
            loop {
                let received = match socket.receive().await {
                    Ok(received) => received,
                    Err(ended) => {
                        // The server closed the socket, or it broke: this subscriber is done.
                        let mut err = std::io::stderr().lock();
                        let _ = writeln!(err, "subscriber {subscriber}: socket ended: {ended}");
                        return;
                    }
                };
                let at = Instant::now();
                let payload = match received {
                    // The floor sends graphql-transport-ws `next` messages too, without a handshake.
                    Received::Result { payload, .. } => payload,
                    // A subscription the server refused or ended: say so, it will not deliver.
                    refused @ (Received::Error { .. } | Received::Complete { .. }) => {
                        let mut err = std::io::stderr().lock();
                        let _ = writeln!(err, "subscriber {subscriber}: {refused:?}");
                        continue;
                    }
                    _ => continue,
                };
                let arrival = Arrival {
                    subscriber,
                    at,
                    payload,
                };
                if sender.send(arrival).is_err() {
                    return;
                }
            }
        });
    }
    Ok(Subscribers { tasks, arrivals })
}

async fn connect(
    url: &str,
    token: &str,
    (query, variables): Operation,
    raw: bool,
) -> anyhow::Result<Socket> {
    if raw {
        return Ok(Socket::open_plain(url).await?);
    }
    let mut socket = Socket::open(url, Protocol::TransportWs, &[]).await?;
    // An empty token subscribes anonymously.
    socket.init(Socket::bearer(token)).await?;
    socket.subscribe("1", &query, &variables).await?;
    Ok(socket)
}
