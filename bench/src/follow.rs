//! A resuming `pipelineEvents` subscriber, as a dashboard would be written against labinov: it
//! speaks one of the three protocols (graphql-transport-ws, the legacy graphql-ws, SSE), keeps
//! the cursor of the last event it got, and when its connection ends it reconnects (to the
//! next instance that is up) with that cursor. It records every event it receives, so a drill
//! can check it got each one exactly once, in order.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use wire::{sse, ws};

/// The subscription every follower runs.
const SUBSCRIPTION: &str = "subscription($f: PipelineEventFilter, $after: String) { pipelineEvents(filter: $f, after: $after) { sequence cursor regency { code } } }";

/// The protocols a follower may speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    TransportWs,
    LegacyWs,
    Sse,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::TransportWs, Protocol::LegacyWs, Protocol::Sse];

    pub fn name(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::LegacyWs => "graphql-ws (legacy)",
            Protocol::Sse => "SSE",
        }
    }
}

/// The instances a follower may connect to: ports of those up, changed as a drill kills and
/// starts them.
#[derive(Clone, Default)]
pub struct Instances(Arc<Mutex<Vec<u16>>>);

impl Instances {
    pub fn set(&self, ports: Vec<u16>) {
        *lock(&self.0) = ports;
    }

    pub fn remove(&self, port: u16) {
        lock(&self.0).retain(|p| *p != port);
    }

    /// The `n`-th instance up (wrapping), if any is.
    pub fn pick(&self, n: usize) -> Option<u16> {
        let ports = lock(&self.0);
        (!ports.is_empty()).then(|| ports[n % ports.len()])
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// What a follower saw.
#[derive(Debug, Default, Clone)]
pub struct Log {
    /// Every event received, in arrival order: (regency code, sequence).
    pub received: Vec<(String, i64)>,
    /// Connections after the first.
    pub reconnects: u32,
    /// WebSocket close codes the server sent.
    pub close_codes: Vec<u16>,
    /// Error results and refused connections, in words.
    pub errors: Vec<String>,
    /// The port of the instance it is connected to now (0 between connections).
    pub port: u16,
}

/// A running follower.
pub struct Follower {
    pub protocol: Protocol,
    pub codes: Vec<String>,
    pub log: Arc<Mutex<Log>>,
    task: tokio::task::JoinHandle<()>,
}

impl Follower {
    /// Starts following `codes` after `cursor`, on instance `first` of `instances` (the next
    /// ones on reconnects), until `stop`.
    pub fn start(
        protocol: Protocol,
        instances: Instances,
        first: usize,
        token: String,
        codes: Vec<String>,
        cursor: String,
        stop: CancellationToken,
    ) -> Follower {
        let log = Arc::new(Mutex::new(Log::default()));
        let task = tokio::spawn(follow(
            protocol,
            instances,
            first,
            token,
            codes.clone(),
            cursor,
            log.clone(),
            stop,
        ));
        Follower {
            protocol,
            codes,
            log,
            task,
        }
    }

    pub fn log(&self) -> Log {
        lock(&self.log).clone()
    }

    /// Events received so far.
    pub fn count(&self) -> usize {
        lock(&self.log).received.len()
    }

    pub async fn finish(self) -> Log {
        let _ = self.task.await;
        lock(&self.log).clone()
    }
}

/// How a connection ended.
enum Ended {
    /// The server closed or the connection broke: reconnect.
    Reconnect,
    /// The server refused the subscription for good (recorded in the log): stop.
    Refused,
    /// The drill is over.
    Stopped,
}

#[allow(
    clippy::too_many_arguments,
    reason = "one call site, each argument named there"
)]
async fn follow(
    protocol: Protocol,
    instances: Instances,
    first: usize,
    token: String,
    codes: Vec<String>,
    mut cursor: String,
    log: Arc<Mutex<Log>>,
    stop: CancellationToken,
) {
    let mut attempt = first;
    let mut connections = 0u32;
    while !stop.is_cancelled() {
        let Some(port) = instances.pick(attempt) else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        if connections > 0 {
            lock(&log).reconnects += 1;
        }
        connections += 1;
        lock(&log).port = port;
        let variables = json!({"f": {"regencyCodes": codes}, "after": cursor});
        let ended = match protocol {
            Protocol::TransportWs | Protocol::LegacyWs => {
                websocket(protocol, port, &token, &variables, &mut cursor, &log, &stop).await
            }
            Protocol::Sse => sse(port, &token, &variables, &mut cursor, &log, &stop).await,
        };
        lock(&log).port = 0;
        match ended {
            Ended::Reconnect => {
                // The next instance, after a pause so a dead one is not hammered.
                attempt += 1;
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(100)) => {}
                }
            }
            Ended::Refused | Ended::Stopped => return,
        }
    }
}

/// Records one result; false if it is an error (then the follower stops).
fn record(payload: &Value, cursor: &mut String, log: &Mutex<Log>) -> bool {
    if let Some(errors) = payload.get("errors") {
        lock(log).errors.push(errors.to_string());
        return false;
    }
    let event = &payload["data"]["pipelineEvents"];
    let (Some(code), Some(seq), Some(next)) = (
        event["regency"]["code"].as_str(),
        event["sequence"].as_i64(),
        event["cursor"].as_str(),
    ) else {
        lock(log)
            .errors
            .push(format!("a result without an event: {payload}"));
        return false;
    };
    next.clone_into(cursor);
    lock(log).received.push((code.to_owned(), seq));
    true
}

async fn websocket(
    protocol: Protocol,
    port: u16,
    token: &str,
    variables: &Value,
    cursor: &mut String,
    log: &Mutex<Log>,
    stop: &CancellationToken,
) -> Ended {
    let subprotocol = if protocol == Protocol::LegacyWs {
        ws::Protocol::Legacy
    } else {
        ws::Protocol::TransportWs
    };
    let url = format!("ws://127.0.0.1:{port}/graphql");
    let Ok(Ok(mut socket)) = tokio::time::timeout(
        Duration::from_secs(5),
        ws::Socket::open(&url, subprotocol, &[]),
    )
    .await
    else {
        return Ended::Reconnect;
    };
    let init = json!({"type": "connection_init", "payload": ws::Socket::bearer(token)});
    if socket.send(&init).await.is_err() {
        return Ended::Reconnect;
    }
    let mut subscribed = false;
    loop {
        let received = tokio::select! {
            () = stop.cancelled() => {
                socket.close().await;
                return Ended::Stopped;
            }
            received = socket.receive() => received,
        };
        match received {
            Err(ws::WireError::NotJson(_)) => {}
            Err(ws::WireError::Closed(Some((code, reason)))) => {
                lock(log).close_codes.push(code);
                // 1008 (policy) and 44xx: the server refused this client for good.
                if code == 1008 || (4400..=4499).contains(&code) {
                    lock(log).errors.push(format!("closed {code}: {reason}"));
                    return Ended::Refused;
                }
                return Ended::Reconnect;
            }
            Err(_) => return Ended::Reconnect,
            Ok(ws::Received::Ack) if !subscribed => {
                subscribed = true;
                if socket
                    .subscribe("1", SUBSCRIPTION, variables)
                    .await
                    .is_err()
                {
                    return Ended::Reconnect;
                }
            }
            Ok(ws::Received::Result { payload, .. }) if !record(&payload, cursor, log) => {
                return Ended::Refused;
            }
            Ok(ws::Received::Error { payload, .. } | ws::Received::ConnectionError(payload)) => {
                lock(log).errors.push(payload.to_string());
                return Ended::Refused;
            }
            Ok(ws::Received::Complete { .. }) => {
                // This subscription never ends by itself: a client would stop here for good.
                lock(log)
                    .errors
                    .push("the server completed the subscription".to_owned());
                return Ended::Refused;
            }
            Ok(_) => {}
        }
    }
}

async fn sse(
    port: u16,
    token: &str,
    variables: &Value,
    cursor: &mut String,
    log: &Mutex<Log>,
    stop: &CancellationToken,
) -> Ended {
    // The cursor travels as `after` on the first connection and as Last-Event-ID after, as an
    // EventSource would send it; the server takes either.
    let request = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/graphql"))
        .header("accept", "text/event-stream")
        .header("last-event-id", cursor.as_str())
        .bearer_auth(token)
        .query(&[
            ("query", SUBSCRIPTION),
            ("variables", &variables.to_string()),
        ]);
    let Ok(Ok(response)) = tokio::time::timeout(Duration::from_secs(5), request.send()).await
    else {
        return Ended::Reconnect;
    };
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if status.is_server_error() {
            return Ended::Reconnect;
        }
        lock(log).errors.push(format!("{status}: {body}"));
        return Ended::Refused;
    }
    let mut events = sse::EventStream::new(response);
    loop {
        let event = tokio::select! {
            () = stop.cancelled() => return Ended::Stopped,
            event = events.next_event() => event,
        };
        let Some(event) = event else {
            return Ended::Reconnect;
        };
        match event.event.as_str() {
            "complete" => {
                lock(log)
                    .errors
                    .push("the server completed the event stream".to_owned());
                return Ended::Refused;
            }
            "next" if !record(&event.json(), cursor, log) => return Ended::Refused,
            _ => {}
        }
    }
}
