//! Many graphql-transport-ws subscribers, each reporting when its results arrive.

use std::{
    io::Write,
    time::{Duration, Instant},
};

use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest, http::HeaderValue};

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
                let message = match socket.next().await {
                    Some(Ok(message)) => message,
                    ended => {
                        // The server closed the socket, or it broke: this subscriber is done.
                        let mut err = std::io::stderr().lock();
                        let _ = writeln!(err, "subscriber {subscriber}: socket ended: {ended:?}");
                        return;
                    }
                };
                let Message::Text(text) = message else {
                    continue;
                };
                let at = Instant::now();
                let Ok(value) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                // The floor sends graphql-transport-ws `next` messages too, without a handshake.
                if value["type"] == "next" {
                    let payload = value["payload"].clone();
                    if sender
                        .send(Arrival {
                            subscriber,
                            at,
                            payload,
                        })
                        .is_err()
                    {
                        return;
                    }
                } else if value["type"] == "error" || value["type"] == "complete" {
                    // A subscription the server refused or ended: say so, it will not deliver.
                    let mut err = std::io::stderr().lock();
                    let _ = writeln!(err, "subscriber {subscriber}: {text}");
                } else if value["type"] == "ping" {
                    let _ = socket.send(Message::text(r#"{"type":"pong"}"#)).await;
                }
            }
        });
    }
    Ok(Subscribers { tasks, arrivals })
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(
    url: &str,
    token: &str,
    (query, variables): Operation,
    raw: bool,
) -> anyhow::Result<Socket> {
    let mut request = url.into_client_request()?;
    if !raw {
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
    }
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;
    if raw {
        return Ok(socket);
    }
    // An empty token subscribes anonymously.
    let payload = if token.is_empty() {
        json!({})
    } else {
        json!({"Authorization": format!("Bearer {token}")})
    };
    let init = json!({"type": "connection_init", "payload": payload});
    socket.send(Message::text(init.to_string())).await?;
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) if text.contains("connection_ack") => break,
            Some(Ok(_)) => {}
            other => anyhow::bail!("no connection_ack: {other:?}"),
        }
    }
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}});
    socket.send(Message::text(subscribe.to_string())).await?;
    Ok(socket)
}
