//! GraphQL over WebSockets: graphql-transport-ws (the graphql-ws library) and the legacy
//! subscriptions-transport-ws, with keep-alive pings and a 1012 close frame when the server
//! stops so clients reconnect and resume.
//!
//! A [`Guard`] reads every client message before async-graphql does and enforces what the
//! graphql-transport-ws protocol asks of a server, and the limits: `connection_init` within a
//! time-out (4408), nothing before it (4401), no second one (4429), no two subscriptions with one
//! id (4409), well-formed messages (4400), messages within the size limit (1009) and a bounded
//! number of subscriptions per connection. Subscriptions a group can serve
//! ([`super::fanout`]) are taken out of the input: their group writes its shared answers into
//! the socket's [`Outlet`], the writing half the connection sends through as well.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::http::{WebSocketProtocols, WsMessage};
use axum::{
    extract::ws::{CloseFrame, Message, WebSocket},
    http::{HeaderMap, header},
};
use futures_util::StreamExt;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::state::AppState;
use super::{
    address::{AddressSlots, Holding, Slot},
    fanout,
    outlet::{Closing, Event, Outlet},
};
use crate::{error::ErrorCode, graphql::errors::refused_before_running};

/// The close codes this server sends: graphql-transport-ws's own and the WebSocket standard's.
pub mod close_code {
    pub const NORMAL: u16 = 1000;
    /// The client stopped answering pings (and runs no subscription).
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// The client broke a rule of the server's (it sent pings faster than it may).
    pub const POLICY: u16 = 1008;
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    pub const INTERNAL_ERROR: u16 = 1011;
    pub const SERVICE_RESTART: u16 = 1012;
    /// Try again later: reconnect and resume with the last cursor.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    pub const BAD_MESSAGE: u16 = 4400;
    pub const UNAUTHORIZED: u16 = 4401;
    pub const FORBIDDEN: u16 = 4403;
    pub const INIT_TIMEOUT: u16 = 4408;
    pub const DUPLICATE_ID: u16 = 4409;
    pub const TOO_MANY_INITS: u16 = 4429;
}

/// Longest operation id a client may use; ids are kept for as long as their operation runs.
pub const MAX_ID_BYTES: usize = 128;

/// What the server does with a client message.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Hand it to GraphQL.
    Pass,
    /// Drop it and answer with this message.
    Reply(String),
    /// Close the connection with this code and reason.
    Close(u16, String),
    /// Stop sending this grouped operation's answers.
    Leave(String),
}

/// Where the guard's replies and closes go, in order, for the connection to act on: a channel
/// of 16. A reply that finds it full is dropped (the client is sending faster than it reads);
/// a close that finds it full waits in `overflow` for the input's end, so a client that queued
/// 16 refusals before earning a close still gets its close code.
#[derive(Clone)]
struct Verdicts {
    sender: mpsc::Sender<Verdict>,
    overflow: Arc<std::sync::Mutex<Option<Verdict>>>,
}

impl Verdicts {
    fn send(&self, verdict: Verdict) {
        if let Err(mpsc::error::TrySendError::Full(verdict)) = self.sender.try_send(verdict)
            && matches!(verdict, Verdict::Close(..))
            && let Ok(mut overflow) = self.overflow.lock()
        {
            overflow.get_or_insert(verdict);
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Shape>,
}

/// Whether a payload is a JSON object, read without keeping any of it.
#[derive(Debug, PartialEq, Eq)]
enum Shape {
    Object,
    Other,
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Shape, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Shape::Object)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Shape, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Shape::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other)
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// A connection's protocol state: initialised or not, and the operations running.
#[derive(Debug)]
struct Guard {
    protocol: WebSocketProtocols,
    initialised: bool,
    /// The running operations, each with its place under its address's subscription cap.
    running: std::collections::HashMap<String, Option<Slot>>,
    /// The running operations served by a group ([`super::fanout`]), not by async-graphql:
    /// dropping a membership leaves its group.
    grouped: HashMap<String, fanout::Member>,
    max_running: usize,
    /// Where the client's address holds its subscriptions (none for in-process calls).
    places: Option<(Arc<AddressSlots>, std::net::IpAddr)>,
    /// Operations answered with `error` because they were refused before they ran: the
    /// `complete` async-graphql sends after them is not the client's to see.
    refused: std::collections::HashSet<String>,
}

fn bad_message(reason: &str) -> Verdict {
    Verdict::Close(close_code::BAD_MESSAGE, reason.to_owned())
}

impl Guard {
    fn new(
        protocol: WebSocketProtocols,
        max_running: usize,
        places: Option<(Arc<AddressSlots>, std::net::IpAddr)>,
    ) -> Self {
        Self {
            protocol,
            initialised: false,
            running: std::collections::HashMap::new(),
            grouped: HashMap::new(),
            max_running,
            places,
            refused: std::collections::HashSet::new(),
        }
    }

    fn client_message(&mut self, bytes: &[u8]) -> Verdict {
        let Ok(envelope) = serde_json::from_slice::<Envelope>(bytes) else {
            return bad_message("Invalid message received");
        };
        if envelope
            .id
            .as_ref()
            .is_some_and(|id| id.len() > MAX_ID_BYTES)
        {
            return bad_message("Invalid message received: an operation id is at most 128 bytes");
        }
        match envelope.kind.as_str() {
            "connection_init" => {
                if self.initialised {
                    return Verdict::Close(
                        close_code::TOO_MANY_INITS,
                        "Too many initialisation requests".to_owned(),
                    );
                }
                self.initialised = true;
                Verdict::Pass
            }
            "subscribe" | "start" => {
                if !self.initialised {
                    return Verdict::Close(close_code::UNAUTHORIZED, "Unauthorized".to_owned());
                }
                match envelope.payload {
                    None | Some(Shape::Other) => {
                        return bad_message(
                            "Invalid message received: the payload of a subscribe is an object with a \"query\" string",
                        );
                    }
                    Some(Shape::Object) => {}
                }
                let Some(id) = envelope.id.filter(|id| !id.is_empty()) else {
                    return bad_message("Invalid message received");
                };
                // An id that was refused may be used again; async-graphql drops what it had
                // under that id, so no `complete` of the refused operation follows.
                self.refused.remove(&id);
                if self.running.contains_key(&id) {
                    return Verdict::Close(
                        close_code::DUPLICATE_ID,
                        format!("Subscriber for {id} already exists"),
                    );
                }
                if self.running.len() >= self.max_running {
                    return Verdict::Reply(self.too_many(
                        &id,
                        "subscriptionsPerConnection",
                        self.max_running,
                        "This connection already runs",
                    ));
                }
                let mut place = None;
                if let Some((slots, ip)) = &self.places {
                    let Some(taken) = slots.take(*ip, Holding::Subscription) else {
                        let max = slots.cap(Holding::Subscription);
                        return Verdict::Reply(self.too_many(
                            &id,
                            "subscriptionsPerAddress",
                            max,
                            "Your address already runs",
                        ));
                    };
                    place = Some(taken);
                }
                self.running.insert(id, place);
                Verdict::Pass
            }
            "complete" | "stop" => {
                if let Some(id) = envelope.id {
                    self.running.remove(&id);
                    if self.grouped.remove(&id).is_some() {
                        return Verdict::Leave(id);
                    }
                }
                Verdict::Pass
            }
            "ping" | "pong" | "connection_terminate" => Verdict::Pass,
            _ => bad_message("Invalid message received"),
        }
    }

    /// What the client gets of a message async-graphql answers with, or None for nothing.
    /// An operation refused before it ran (its document does not parse or validate, or a
    /// limit refuses it) is answered with the protocol's `error` message, as both protocols
    /// ask, instead of a result followed by `complete`; that `complete` is dropped.
    fn server_answer(&mut self, text: String) -> Option<String> {
        if text.starts_with(r#"{"type":"complete""#)
            && !self.refused.is_empty()
            && let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str::<Envelope>(&text)
            && self.refused.remove(&id)
        {
            return None;
        }
        let text = match refusal(&text, self.protocol) {
            Some((id, error)) => {
                self.refused.insert(id);
                error
            }
            None => text,
        };
        self.server_message(&text);
        Some(text)
    }

    /// Notes operations the server ended (`complete` or `error` sent to the client).
    fn server_message(&mut self, text: &str) {
        let ended =
            text.starts_with(r#"{"type":"complete""#) || text.starts_with(r#"{"type":"error""#);
        if ended && let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str::<Envelope>(text) {
            self.ended(&id);
        }
    }

    /// Notes an operation the server ended.
    fn ended(&mut self, id: &str) {
        self.running.remove(id);
        self.grouped.remove(id);
    }

    fn too_many(&self, id: &str, limit: &str, max: usize, who: &str) -> String {
        let error = serde_json::json!({
            "message": format!(
                "{who} {max} subscriptions, the most it may; complete one first."
            ),
            "extensions": {
                "code": ErrorCode::TooManySubscriptions,
                "limit": limit,
                "max": max,
            },
        });
        let payload = match self.protocol {
            WebSocketProtocols::GraphQLWS => serde_json::json!([error]),
            WebSocketProtocols::SubscriptionsTransportWS => error,
        };
        serde_json::json!({ "type": "error", "id": id, "payload": payload }).to_string()
    }
}

/// A result async-graphql answers an operation with, read back.
#[derive(Deserialize)]
struct Answer {
    id: String,
    payload: async_graphql::Response,
}

/// The `error` message, and its operation's id, for a result that refuses its operation before
/// it ran ([`refused_before_running`]: parse, validation and limit errors; an error of an
/// operation that ran names the field it came from, and stays a result, as the graphql-ws
/// library's own server sends it).
fn refusal(text: &str, protocol: WebSocketProtocols) -> Option<(String, String)> {
    // Most answers are results with data: only these few are read again.
    let candidate = (text.starts_with(r#"{"type":"next""#)
        || text.starts_with(r#"{"type":"data""#))
        && text.contains(r#""data":null"#)
        && text.contains(r#""errors":["#);
    if !candidate {
        return None;
    }
    let Answer { id, payload } = serde_json::from_str(text).ok()?;
    if !refused_before_running(&payload) {
        return None;
    }
    let payload = match (protocol, payload.errors.as_slice()) {
        // subscriptions-transport-ws's `error` carries one error object.
        (WebSocketProtocols::SubscriptionsTransportWS, [one]) => serde_json::to_value(one).ok()?,
        (_, errors) => serde_json::to_value(errors).ok()?,
    };
    // `type` first, as async-graphql writes its messages and as `server_message` reads them.
    let error = format!(
        r#"{{"type":"error","id":{},"payload":{payload}}}"#,
        serde_json::Value::from(id.as_str())
    );
    Some((id, error))
}

/// The first GraphQL subprotocol the client offers that this server speaks.
pub fn chosen_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().parse().ok())
}

/// The error reply to an operation over the rate limit, or None to let it through. Only
/// `subscribe` (and the legacy `start`) messages count.
fn rate_limited(
    rate: &super::rate::RateLimits,
    holder: &Mutex<Option<String>>,
    peer: Option<std::net::IpAddr>,
    protocol: WebSocketProtocols,
    bytes: &[u8],
) -> Option<String> {
    let message: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !matches!(message["type"].as_str(), Some("subscribe" | "start")) {
        return None;
    }
    let holder = holder.lock().ok().and_then(|h| h.clone());
    let wait = rate.check(holder.as_deref(), peer).err()?;
    let error = serde_json::json!({
        "message": super::rate::message(wait),
        "extensions": {
            "code": ErrorCode::RateLimited,
            "retryAfter": super::rate::retry_after_secs(wait),
        }
    });
    let payload = match protocol {
        WebSocketProtocols::GraphQLWS => serde_json::json!([error]),
        WebSocketProtocols::SubscriptionsTransportWS => error,
    };
    Some(
        serde_json::json!({ "id": message["id"], "type": "error", "payload": payload }).to_string(),
    )
}

/// The bearer token of a `connection_init` payload: `Authorization` (or `authorization`) as
/// `Bearer …` or bare, or `token`, at the top level or under `headers`.
fn payload_token(payload: &serde_json::Value) -> Result<Option<String>, &'static str> {
    let find = |object: &serde_json::Value| {
        ["Authorization", "authorization", "token"]
            .iter()
            .find_map(|key| object.get(*key))
            .cloned()
    };
    let value = find(payload).or_else(|| payload.get("headers").and_then(find));
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(value)) => crate::auth::bearer(&value)
            .map(|t| Some(t.to_owned()))
            .ok_or("Send the token as \"Authorization\": \"Bearer <token>\" in the connection_init payload."),
        Some(_) => Err("The token in the connection_init payload must be a string."),
    }
}

type Caller = crate::access::Caller;
type Expiry = chrono::DateTime<chrono::Utc>;

/// What the connection does after an event.
enum Step {
    Go,
    /// End the connection without a close frame (the client is gone).
    Stop,
    /// Send a close frame, then end.
    Close(u16, String),
}

impl Step {
    fn close(code: u16, reason: &str) -> Self {
        Self::Close(code, reason.to_owned())
    }

    /// Whether sending worked: on, or stop.
    fn sent<E>(result: &Result<(), E>) -> Self {
        if result.is_ok() { Self::Go } else { Self::Stop }
    }
}

/// How long a close frame may wait for a socket that is not being read.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);
const TOKEN_EXPIRED: &str = "Forbidden: the token expired; reconnect with a new one";
const DATABASE_UNAVAILABLE: &str =
    "the database is unavailable; reconnect and resume with your last cursor";
const FELL_BEHIND: &str =
    "this connection fell behind the live events; reconnect and resume with your last cursor";

/// What the client-message reader shares with the connection.
#[derive(Clone)]
struct Shared {
    guard: Arc<Mutex<Guard>>,
    /// The token holder, once `connection_init` named one: operations count against it.
    holder: Arc<Mutex<Option<String>>>,
    /// The caller, once `connection_init` made one: groups are by caller class.
    caller: Arc<Mutex<Option<Caller>>>,
    /// Whether the client sent anything (a pong included) since the last keep-alive ping.
    heard: Arc<AtomicBool>,
}

/// One WebSocket: the events it reacts to, one method each.
struct Connection {
    /// The socket's writing half, which its groups write to as well.
    outlet: Arc<Outlet>,
    shared: Shared,
    /// When the connection's token expires, once `connection_init` told.
    expires_at: Option<tokio::time::Instant>,
    ping: &'static str,
}

/// Serves one WebSocket until the client leaves, breaks the protocol, or the server stops.
pub async fn serve(
    socket: WebSocket,
    protocol: WebSocketProtocols,
    state: AppState,
    peer: Option<std::net::IpAddr>,
) {
    let _open = crate::metrics::Open::new(metrics::gauge!("labinov_websocket_connections"));
    let (sink, stream) = socket.split();
    let shared = Shared {
        guard: Arc::new(Mutex::new(Guard::new(
            protocol,
            state.limits.max_subscriptions_per_connection,
            peer.map(|ip| (state.per_address.clone(), ip)),
        ))),
        holder: Arc::default(),
        caller: Arc::default(),
        heard: Arc::new(AtomicBool::new(true)),
    };
    // What the guard decides while async-graphql reads the input: replies and a close.
    let (sender, mut decided) = mpsc::channel::<Verdict>(16);
    let verdicts = Verdicts {
        sender,
        overflow: Arc::default(),
    };
    let overflow = verdicts.overflow.clone();
    let outlet = Outlet::new(sink);
    let input = client_input(stream, &state, &shared, peer, protocol, verdicts, &outlet);
    // The token comes in the `connection_init` payload; the socket closes when it expires.
    let (expiry_tx, mut expiry_rx) = tokio::sync::oneshot::channel::<Expiry>();
    let mut output = async_graphql::http::WebSocket::new(state.engine.clone(), input, protocol)
        .on_connection_init(connection_init(state.clone(), shared.clone(), expiry_tx));
    let mut connection = Connection::new(protocol, outlet, shared);
    let mut expiry_pending = true;
    let mut keepalive = tokio::time::interval(state.keepalive);
    keepalive.tick().await;
    let init_deadline = tokio::time::sleep(state.connection_init_timeout);
    tokio::pin!(init_deadline);
    loop {
        let initialised = connection.initialised();
        let expires_at = connection.expires_at;
        let step = tokio::select! {
            biased;
            event = connection.outlet.event() => connection.on_outlet(event).await,
            verdict = decided.recv() => match verdict {
                Some(Verdict::Reply(text)) => Step::sent(&connection.send_text(text).await),
                Some(Verdict::Close(code, reason)) => Step::Close(code, reason),
                Some(Verdict::Pass | Verdict::Leave(_)) | None => Step::Go,
            },
            message = output.next() => match message {
                Some(message) => connection.on_answer(message, initialised).await,
                // The input ended: say why if the guard closed it.
                None => why_input_ended(&mut decided, &overflow),
            },
            expiry = &mut expiry_rx, if expiry_pending => {
                expiry_pending = false;
                connection.on_expiry_known(expiry.ok());
                Step::Go
            }
            () = tokio::time::sleep_until(expires_at.unwrap_or_else(tokio::time::Instant::now)), if expires_at.is_some() => {
                Step::close(close_code::FORBIDDEN, TOKEN_EXPIRED)
            }
            () = &mut init_deadline, if !initialised => {
                Step::close(close_code::INIT_TIMEOUT, "Connection initialisation timeout")
            }
            _ = keepalive.tick(), if initialised => connection.on_keepalive().await,
            () = state.stop.cancelled() => {
                Step::close(close_code::SERVICE_RESTART, "server restarting; reconnect and resume")
            }
        };
        if connection.ended(step).await {
            break;
        }
    }
}

impl Connection {
    fn new(protocol: WebSocketProtocols, outlet: Arc<Outlet>, shared: Shared) -> Self {
        Self {
            outlet,
            shared,
            expires_at: None,
            ping: match protocol {
                WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
                WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
            },
        }
    }

    /// Whether `step` ends the connection (after sending its close frame, if it has one).
    async fn ended(&mut self, step: Step) -> bool {
        match step {
            Step::Go => false,
            Step::Stop => true,
            Step::Close(code, reason) => {
                let frame = Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                }));
                // A client that stopped reading does not hold the connection open.
                let _ = tokio::time::timeout(CLOSE_WAIT, async {
                    if self.outlet.send(frame).await.is_err() {
                        // After the client's own close frame the socket takes no other
                        // message: its answer, queued when that frame was read, goes out
                        // with a flush.
                        self.outlet.flush().await;
                    }
                })
                .await;
                true
            }
        }
    }

    fn initialised(&self) -> bool {
        self.shared.guard.lock().map_or(true, |g| g.initialised)
    }

    async fn send_text(&mut self, text: String) -> Result<(), ()> {
        self.outlet.send(Message::Text(text.into())).await
    }

    /// What the connection's groups left for it to do.
    async fn on_outlet(&mut self, event: Event) -> Step {
        match event {
            Event::Broken => Step::Stop,
            Event::Close(Closing::FellBehind) => {
                // This socket could not take the answers as fast as they came: the client
                // reconnects and resumes with its last cursor, losing nothing.
                Step::close(close_code::TRY_AGAIN_LATER, FELL_BEHIND)
            }
            Event::Close(Closing::TokenExpired) => {
                Step::close(close_code::FORBIDDEN, TOKEN_EXPIRED)
            }
            Event::Close(Closing::DatabaseUnavailable) => {
                Step::close(close_code::TRY_AGAIN_LATER, DATABASE_UNAVAILABLE)
            }
            Event::Ended(ids) => {
                for id in ids {
                    // Only if the operation is still the one that ended (an id may be reused).
                    let ours = self.shared.guard.lock().is_ok_and(|mut guard| {
                        let ours = guard.grouped.get(&*id).is_some_and(|m| m.is(&id));
                        if ours {
                            guard.ended(&id);
                        }
                        ours
                    });
                    if ours && self.send_text(complete(&id)).await.is_err() {
                        return Step::Stop;
                    }
                }
                Step::Go
            }
        }
    }

    /// A message async-graphql answers with.
    async fn on_answer(&mut self, message: WsMessage, initialised: bool) -> Step {
        match message {
            WsMessage::Text(text) if crate::graphql::subscription::database_unavailable(&text) => {
                // A result the database could not serve (an event whose fields could not be
                // read, or a subscription that could not start): the client would skip the
                // event or give up. 1013 "try again later" makes it reconnect and resume with
                // the cursor of the last event it got, losing nothing.
                Step::close(close_code::TRY_AGAIN_LATER, DATABASE_UNAVAILABLE)
            }
            WsMessage::Text(text) => {
                let answer = match self.shared.guard.lock() {
                    Ok(mut guard) => guard.server_answer(text),
                    Err(_) => Some(text),
                };
                match answer {
                    Some(text) => Step::sent(&self.send_text(text).await),
                    None => Step::Go,
                }
            }
            WsMessage::Close(code, reason) => {
                // A refused connection_init is 4403 Forbidden in graphql-transport-ws;
                // async-graphql says 1002.
                let code = if code == close_code::PROTOCOL_ERROR && !initialised {
                    close_code::FORBIDDEN
                } else {
                    code
                };
                Step::Close(code, reason)
            }
        }
    }

    /// `connection_init` made a caller whose token expires at `at`.
    fn on_expiry_known(&mut self, at: Option<Expiry>) {
        if let Some(at) = at {
            let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
            self.expires_at = Some(tokio::time::Instant::now() + left);
        }
    }

    /// Time for a keep-alive ping. A socket running nothing that did not answer the last ping
    /// is gone or idle on purpose: it gives its places back. (A subscriber of the legacy
    /// protocol, which has no pong, keeps its socket while it runs a subscription.)
    async fn on_keepalive(&mut self) -> Step {
        let answered = self.shared.heard.swap(false, Ordering::Relaxed);
        let idle = self
            .shared
            .guard
            .lock()
            .map_or(true, |g| g.running.is_empty());
        if !answered && idle {
            return Step::close(close_code::GOING_AWAY, "no answer to pings");
        }
        // A WebSocket ping, which browsers and libraries answer by themselves, and the
        // protocol's own.
        if self
            .outlet
            .send(Message::Ping(Vec::new().into()))
            .await
            .is_err()
        {
            return Step::Stop;
        }
        Step::sent(&self.send_text(self.ping.to_owned()).await)
    }
}

/// The client's messages as async-graphql reads them: each checked by the guard and the rate
/// limits first; replies and closes go to `verdicts`; grouped subscriptions join their group
/// (and are taken out of the input).
fn client_input(
    stream: futures_util::stream::SplitStream<WebSocket>,
    state: &AppState,
    shared: &Shared,
    peer: Option<std::net::IpAddr>,
    protocol: WebSocketProtocols,
    verdicts: Verdicts,
    outlet: &Arc<Outlet>,
) -> impl futures_util::Stream<Item = Vec<u8>> + use<> {
    let shared = shared.clone();
    let outlet = outlet.clone();
    let rate = state.rate.clone();
    let fanout = state.fanout.clone();
    let mut pings = PingBudget::new();
    stream
        .map(move |message| {
            shared.heard.store(true, Ordering::Relaxed);
            let bytes = match message {
                Ok(Message::Text(text)) => text.as_str().as_bytes().to_vec(),
                Ok(Message::Binary(bytes)) => bytes.to_vec(),
                Ok(Message::Close(frame)) => {
                    // The closing handshake: the client's close frame is answered with one
                    // that echoes its code (the socket queued it when it read the frame; the
                    // connection's end flushes it), so the client sees a clean close, not 1006.
                    let code = frame.map_or(close_code::NORMAL, |f| f.code);
                    verdicts.send(Verdict::Close(code, String::new()));
                    return None;
                }
                Ok(Message::Ping(_)) if !pings.take() => {
                    let close = Verdict::Close(close_code::POLICY, "Too many pings".to_owned());
                    verdicts.send(close);
                    return None;
                }
                Ok(_) => return Some(None),
                Err(err) => {
                    verdicts.send(unreadable(&err));
                    return None;
                }
            };
            let verdict = match shared.guard.lock() {
                // Counted before it is parsed: see `bodies::MAX_JSON_VALUES`.
                _ if !super::bodies::json_values_within(&bytes, super::bodies::MAX_JSON_VALUES) => {
                    bad_message("Message holds too many JSON values")
                }
                Ok(mut guard) => guard.client_message(&bytes),
                Err(_) => Verdict::Close(close_code::INTERNAL_ERROR, "internal error".to_owned()),
            };
            match verdict {
                Verdict::Pass => {
                    if let Some(reply) = rate_limited(&rate, &shared.holder, peer, protocol, &bytes)
                    {
                        // The refused operation is not running: its id and its place under the
                        // per-connection limit are free again.
                        if let (Ok(mut guard), Ok(Envelope { id: Some(id), .. })) = (
                            shared.guard.lock(),
                            serde_json::from_slice::<Envelope>(&bytes),
                        ) {
                            guard.ended(&id);
                        }
                        verdicts.send(Verdict::Reply(reply));
                        return Some(None);
                    }
                    let Some((id, member)) =
                        joined(&fanout, &shared.caller, &outlet, protocol, &bytes)
                    else {
                        return Some(Some(bytes));
                    };
                    if let Ok(mut guard) = shared.guard.lock() {
                        guard.grouped.insert(id, member);
                    }
                    Some(None)
                }
                Verdict::Leave(id) => {
                    // async-graphql confirms a legacy `stop` with `complete`; so does a group.
                    if protocol == WebSocketProtocols::SubscriptionsTransportWS {
                        outlet.push(Message::Text(complete(&id).into()));
                    }
                    Some(None)
                }
                Verdict::Reply(reply) => {
                    verdicts.send(Verdict::Reply(reply));
                    Some(None)
                }
                close @ Verdict::Close(..) => {
                    verdicts.send(close);
                    None
                }
            }
        })
        .take_while(|message| futures_util::future::ready(message.is_some()))
        .filter_map(|message| futures_util::future::ready(message.flatten()))
}

/// How the connection ends once its input ended: with the close the guard decided, if it did
/// (behind any replies still queued, or in `overflow` when they filled the channel), else
/// without a close frame.
fn why_input_ended(
    decided: &mut mpsc::Receiver<Verdict>,
    overflow: &std::sync::Mutex<Option<Verdict>>,
) -> Step {
    while let Ok(verdict) = decided.try_recv() {
        if let Verdict::Close(code, reason) = verdict {
            return Step::Close(code, reason);
        }
    }
    match overflow.lock().ok().and_then(|mut o| o.take()) {
        Some(Verdict::Close(code, reason)) => Step::Close(code, reason),
        _ => Step::Stop,
    }
}

/// WebSocket ping frames a client may send at once, and per second after. The socket answers
/// each with a pong it queues to be written: a client that pings and never reads would have
/// them pile up without end.
const PING_BURST: f64 = 20.0;
const PINGS_PER_SECOND: f64 = 1.0;

/// The pings a client may still send now.
struct PingBudget {
    left: f64,
    at: std::time::Instant,
}

impl PingBudget {
    fn new() -> Self {
        Self {
            left: PING_BURST,
            at: std::time::Instant::now(),
        }
    }

    /// Spends one ping; false when none is left.
    fn take(&mut self) -> bool {
        let now = std::time::Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() * PINGS_PER_SECOND;
        self.left = (self.left + earned).min(PING_BURST);
        self.at = now;
        if self.left < 1.0 {
            return false;
        }
        self.left -= 1.0;
        true
    }
}

/// The close for a message the socket could not read: too big (by tungstenite's own error
/// type), or not a WebSocket message at all.
fn unreadable(err: &axum::Error) -> Verdict {
    let too_big = std::error::Error::source(err)
        .and_then(|e| e.downcast_ref::<tungstenite::Error>())
        .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
    if too_big {
        Verdict::Close(close_code::MESSAGE_TOO_BIG, "Message too big".to_owned())
    } else {
        Verdict::Close(close_code::PROTOCOL_ERROR, "Protocol error".to_owned())
    }
}

/// What `connection_init` does: makes the caller from the payload's token, tells the
/// connection when it expires, and hands the caller to every operation of the connection.
fn connection_init(
    state: AppState,
    shared: Shared,
    expiry: tokio::sync::oneshot::Sender<Expiry>,
) -> impl FnOnce(
    serde_json::Value,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = async_graphql::Result<async_graphql::Data>> + Send>,
> + Send
+ 'static {
    move |payload| {
        Box::pin(async move {
            let token = payload_token(&payload).map_err(async_graphql::Error::new)?;
            let caller = state
                .caller(token.as_deref())
                .await
                .map_err(|err| async_graphql::Error::new(err.message()))?;
            if let Some(at) = caller.expires_at() {
                let _ = expiry.send(at);
            }
            if let (Some(user), Ok(mut holder)) = (caller.as_user(), shared.holder.lock()) {
                *holder = Some(user.subject.clone());
            }
            if let Ok(mut slot) = shared.caller.lock() {
                *slot = Some(caller.clone());
            }
            let mut data = async_graphql::Data::default();
            data.insert(caller);
            Ok(data)
        })
    }
}

/// The group membership for a client message, when it is a subscription a group can serve.
fn joined(
    fanout: &Arc<fanout::Fanout>,
    caller: &Mutex<Option<Caller>>,
    outlet: &Arc<Outlet>,
    protocol: WebSocketProtocols,
    bytes: &[u8],
) -> Option<(String, fanout::Member)> {
    let message: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !matches!(message["type"].as_str(), Some("subscribe" | "start")) {
        return None;
    }
    let id = message["id"].as_str()?.to_owned();
    let caller = caller.lock().ok()?.clone()?;
    let joining = fanout::Joining {
        id: &id,
        protocol,
        caller: &caller,
        outlet,
    };
    let member = fanout.join(&message["payload"], &joining)?;
    Some((id, member))
}

fn complete(id: &str) -> String {
    serde_json::json!({ "type": "complete", "id": id }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(WebSocketProtocols::GraphQLWS, 2, None)
    }

    fn subscribe(id: &str) -> Vec<u8> {
        format!(r#"{{"type":"subscribe","id":"{id}","payload":{{"query":"subscription {{ funnel {{ total }} }}"}}}}"#).into_bytes()
    }

    /// A client that filled the verdicts with refusals and then earned a close still gets
    /// the close's code when its input ends; a reply that finds them full is dropped.
    #[test]
    fn a_close_that_finds_the_verdicts_full_still_ends_the_connection_with_its_code() {
        let (sender, mut decided) = mpsc::channel(1);
        let verdicts = Verdicts {
            sender,
            overflow: Arc::default(),
        };
        verdicts.send(Verdict::Reply("refused".to_owned()));
        verdicts.send(Verdict::Reply("refused again".to_owned()));
        verdicts.send(bad_message("bad"));
        verdicts.send(Verdict::Close(
            close_code::POLICY,
            "Too many pings".to_owned(),
        ));
        assert!(matches!(
            why_input_ended(&mut decided, &verdicts.overflow),
            Step::Close(code, _) if code == close_code::BAD_MESSAGE
        ));
        assert!(matches!(
            why_input_ended(&mut decided, &verdicts.overflow),
            Step::Stop
        ));
    }

    fn code(verdict: &Verdict) -> Option<u16> {
        match verdict {
            Verdict::Close(code, _) => Some(*code),
            _ => None,
        }
    }

    #[test]
    fn the_protocol_close_codes() {
        let mut g = guard();
        assert_eq!(code(&g.client_message(&subscribe("1"))), Some(4401));
        let mut g = guard();
        assert_eq!(
            g.client_message(br#"{"type":"connection_init"}"#),
            Verdict::Pass
        );
        assert_eq!(
            code(&g.client_message(br#"{"type":"connection_init"}"#)),
            Some(4429)
        );
        assert_eq!(g.client_message(&subscribe("1")), Verdict::Pass);
        assert_eq!(code(&g.client_message(&subscribe("1"))), Some(4409));
        assert_eq!(code(&g.client_message(b"not json")), Some(4400));
        assert_eq!(
            code(&g.client_message(br#"{"type":"subscribe","id":"2"}"#)),
            Some(4400)
        );
        assert_eq!(
            code(&g.client_message(br#"{"type":"next","id":"3"}"#)),
            Some(4400)
        );
    }

    #[test]
    fn subscriptions_per_connection_are_bounded_and_freed_when_they_end() {
        let mut g = guard();
        g.client_message(br#"{"type":"connection_init"}"#);
        assert_eq!(g.client_message(&subscribe("1")), Verdict::Pass);
        assert_eq!(g.client_message(&subscribe("2")), Verdict::Pass);
        assert!(
            matches!(g.client_message(&subscribe("3")), Verdict::Reply(r) if r.contains("TOO_MANY_SUBSCRIPTIONS"))
        );
        g.client_message(br#"{"type":"complete","id":"1"}"#);
        assert_eq!(g.client_message(&subscribe("3")), Verdict::Pass);
        g.server_message(r#"{"type":"complete","id":"2"}"#);
        assert_eq!(g.client_message(&subscribe("4")), Verdict::Pass);
    }

    #[test]
    fn an_operation_refused_before_it_ran_is_an_error_message_without_a_complete() {
        let mut g = guard();
        g.client_message(br#"{"type":"connection_init"}"#);
        assert_eq!(g.client_message(&subscribe("1")), Verdict::Pass);
        let refused = r#"{"type":"next","id":"1","payload":{"data":null,"errors":[{"message":"Unknown field \"nope\" on type \"Subscription\".","locations":[{"line":1,"column":16}],"extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}}"#;
        let sent: serde_json::Value =
            serde_json::from_str(&g.server_answer(refused.to_owned()).unwrap()).unwrap();
        assert_eq!(sent["type"], "error");
        assert_eq!(sent["id"], "1");
        assert_eq!(
            sent["payload"][0]["extensions"]["code"],
            "GRAPHQL_VALIDATION_FAILED"
        );
        assert_eq!(
            g.server_answer(r#"{"type":"complete","id":"1"}"#.to_owned()),
            None
        );
        // The id is free again, and its next operation's `complete` is the client's.
        assert_eq!(g.client_message(&subscribe("1")), Verdict::Pass);
        assert!(g.server_answer(refused.to_owned()).is_some());
        assert_eq!(g.client_message(&subscribe("1")), Verdict::Pass);
        let done = r#"{"type":"complete","id":"1"}"#;
        assert_eq!(g.server_answer(done.to_owned()).as_deref(), Some(done));

        // An error of an operation that ran names its field: it stays a result.
        assert_eq!(g.client_message(&subscribe("2")), Verdict::Pass);
        let ran = r#"{"type":"next","id":"2","payload":{"data":null,"errors":[{"message":"No.","path":["funnel"],"extensions":{"code":"FORBIDDEN"}}]}}"#;
        assert_eq!(g.server_answer(ran.to_owned()).as_deref(), Some(ran));
    }

    #[test]
    fn the_legacy_protocol_gets_one_error_object() {
        let mut g = Guard::new(WebSocketProtocols::SubscriptionsTransportWS, 2, None);
        g.client_message(br#"{"type":"connection_init"}"#);
        let refused = r#"{"type":"data","id":"1","payload":{"data":null,"errors":[{"message":"Syntax error."}]}}"#;
        let sent: serde_json::Value =
            serde_json::from_str(&g.server_answer(refused.to_owned()).unwrap()).unwrap();
        assert_eq!(sent["type"], "error");
        assert_eq!(sent["payload"]["message"], "Syntax error.");
    }
}
