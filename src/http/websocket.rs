//! GraphQL over WebSockets: graphql-transport-ws (the graphql-ws library) and the legacy
//! subscriptions-transport-ws, with keep-alive pings and a 1012 close frame when the server
//! stops so clients reconnect and resume.
//!
//! A [`Guard`] reads every client message before async-graphql does and enforces what the
//! graphql-transport-ws protocol asks of a server, and the limits: `connection_init` within a
//! time-out (4408), nothing before it (4401), no second one (4429), no two subscriptions with one
//! id (4409), well-formed messages (4400), messages within the size limit (1009) and a bounded
//! number of subscriptions per connection. Subscriptions a group can serve
//! ([`super::fanout`]) are taken out of the input and sent from the group's shared answers.

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
};

use async_graphql::http::{WebSocketProtocols, WsMessage};
use axum::{
    extract::ws::{CloseFrame, Message, WebSocket},
    http::{HeaderMap, header},
};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::sync::mpsc;

use super::state::AppState;
use super::{
    address::{AddressSlots, Holding, Slot},
    fanout::{self, Frame},
};
use crate::error::ErrorCode;

/// The close codes this server sends: graphql-transport-ws's own and the WebSocket standard's.
pub mod close_code {
    /// The client stopped answering pings (and runs no subscription).
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
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

/// A change to the connection's grouped operations, in the order the client asked.
enum Grouped {
    /// A member, and when its caller's token expires (none for anonymous callers).
    Joined(
        String,
        fanout::Member,
        Option<chrono::DateTime<chrono::Utc>>,
    ),
    Left(String),
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
    /// The running operations served by a group ([`super::fanout`]), not by async-graphql.
    grouped: HashSet<String>,
    max_running: usize,
    /// Where the client's address holds its subscriptions (none for in-process calls).
    places: Option<(Arc<AddressSlots>, std::net::IpAddr)>,
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
            grouped: HashSet::new(),
            max_running,
            places,
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
                    if self.grouped.remove(&id) {
                        return Verdict::Leave(id);
                    }
                }
                Verdict::Pass
            }
            "ping" | "pong" | "connection_terminate" => Verdict::Pass,
            _ => bad_message("Invalid message received"),
        }
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

/// Serves one WebSocket until the client leaves, breaks the protocol, or the server stops.
pub async fn serve(
    socket: WebSocket,
    protocol: WebSocketProtocols,
    state: AppState,
    peer: Option<std::net::IpAddr>,
) {
    let _open = crate::metrics::Open::new(metrics::gauge!("labinov_websocket_connections"));
    // The token holder, once `connection_init` named one: operations count against it.
    let holder: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let (mut sink, stream) = socket.split();
    let guard = Arc::new(Mutex::new(Guard::new(
        protocol,
        state.limits.max_subscriptions_per_connection,
        peer.map(|ip| (state.per_address.clone(), ip)),
    )));
    // Whether the client sent anything (a pong included) since the last keep-alive ping.
    let heard = Arc::new(std::sync::atomic::AtomicBool::new(true));
    // What the guard decides while async-graphql reads the input: replies and a close.
    let (verdicts, mut decided) = mpsc::channel::<Verdict>(16);
    // Operations served by a group, joined and left in the client's order (bounded by the
    // guard: a subscription joins only under the per-connection limit).
    let (grouping, mut regrouped) = mpsc::unbounded_channel::<Grouped>();
    // The caller, once `connection_init` made one: groups are by caller class.
    let connection_caller: Arc<Mutex<Option<crate::access::Caller>>> = Arc::new(Mutex::new(None));
    let input = {
        let guard = guard.clone();
        let holder = holder.clone();
        let rate = state.rate.clone();
        let fanout = state.fanout.clone();
        let connection_caller = connection_caller.clone();
        let heard = heard.clone();
        stream
            .map(move |message| {
                heard.store(true, std::sync::atomic::Ordering::Relaxed);
                let bytes = match message {
                    Ok(Message::Text(text)) => text.as_str().as_bytes().to_vec(),
                    Ok(Message::Binary(bytes)) => bytes.to_vec(),
                    Ok(Message::Close(_)) => return None,
                    Ok(_) => return Some(None),
                    Err(err) => {
                        let too_big = std::error::Error::source(&err)
                            .and_then(|e| e.downcast_ref::<tungstenite::Error>())
                            .is_some_and(|e| matches!(e, tungstenite::Error::Capacity(_)));
                        let close = if too_big {
                            Verdict::Close(
                                close_code::MESSAGE_TOO_BIG,
                                "Message too big".to_owned(),
                            )
                        } else {
                            Verdict::Close(close_code::PROTOCOL_ERROR, "Protocol error".to_owned())
                        };
                        let _ = verdicts.try_send(close);
                        return None;
                    }
                };
                let verdict = match guard.lock() {
                    Ok(mut guard) => guard.client_message(&bytes),
                    Err(_) => {
                        Verdict::Close(close_code::INTERNAL_ERROR, "internal error".to_owned())
                    }
                };
                match verdict {
                    Verdict::Pass => match rate_limited(&rate, &holder, peer, protocol, &bytes) {
                        Some(reply) => {
                            // The refused operation is not running: its id and its place under
                            // the per-connection limit are free again.
                            if let (Ok(mut guard), Ok(Envelope { id: Some(id), .. })) =
                                (guard.lock(), serde_json::from_slice::<Envelope>(&bytes))
                            {
                                guard.ended(&id);
                            }
                            let _ = verdicts.try_send(Verdict::Reply(reply));
                            Some(None)
                        }
                        None => match joined(&fanout, &connection_caller, &bytes) {
                            Some((id, member, expiry)) => {
                                if let Ok(mut guard) = guard.lock() {
                                    guard.grouped.insert(id.clone());
                                }
                                let _ = grouping.send(Grouped::Joined(id, member, expiry));
                                Some(None)
                            }
                            None => Some(Some(bytes)),
                        },
                    },
                    Verdict::Leave(id) => {
                        let _ = grouping.send(Grouped::Left(id));
                        Some(None)
                    }
                    Verdict::Reply(reply) => {
                        let _ = verdicts.try_send(Verdict::Reply(reply));
                        Some(None)
                    }
                    close @ Verdict::Close(..) => {
                        let _ = verdicts.try_send(close);
                        None
                    }
                }
            })
            .take_while(|message| futures_util::future::ready(message.is_some()))
            .filter_map(|message| futures_util::future::ready(message.flatten()))
    };
    // The token comes in the `connection_init` payload; the socket closes when it expires.
    let (expiry_tx, mut expiry_rx) =
        tokio::sync::oneshot::channel::<chrono::DateTime<chrono::Utc>>();
    let init_state = state.clone();
    let init_holder = holder.clone();
    let init_caller = connection_caller.clone();
    let mut output = async_graphql::http::WebSocket::new(state.engine.clone(), input, protocol)
        .on_connection_init(move |payload| async move {
            let token = payload_token(&payload).map_err(async_graphql::Error::new)?;
            let caller = init_state
                .caller(token.as_deref())
                .await
                .map_err(|err| async_graphql::Error::new(err.message()))?;
            if let Some(at) = caller.expires_at() {
                let _ = expiry_tx.send(at);
            }
            if let (Some(user), Ok(mut holder)) = (caller.as_user(), init_holder.lock()) {
                *holder = Some(user.subject.clone());
            }
            if let Ok(mut slot) = init_caller.lock() {
                *slot = Some(caller.clone());
            }
            let mut data = async_graphql::Data::default();
            data.insert(caller);
            Ok(data)
        });
    let mut expires_at: Option<tokio::time::Instant> = None;
    let mut expiry_pending = true;
    let ping = match protocol {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut keepalive = tokio::time::interval(state.keepalive);
    keepalive.tick().await;
    let init_deadline = tokio::time::sleep(state.connection_init_timeout);
    tokio::pin!(init_deadline);
    let close = |code: u16, reason: String| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    // The grouped operations' feeds, and how to stop each.
    let mut members = futures_util::stream::SelectAll::new();
    let mut leaving: std::collections::HashMap<String, futures_util::stream::AbortHandle> =
        std::collections::HashMap::new();
    // When the members' caller's token expires: a group runs as a caller that does not, so
    // each answer is checked against it before it is sent, however late the loop gets to it.
    let mut members_expire: Option<chrono::DateTime<chrono::Utc>> = None;
    loop {
        let initialised = guard.lock().map_or(true, |g| g.initialised);
        tokio::select! {
            biased;
            change = regrouped.recv() => match change {
                Some(Grouped::Joined(id, member, expiry)) => {
                    members_expire = expiry;
                    let (feed, abort) = futures_util::stream::abortable(feed(id.as_str().into(), member).boxed());
                    leaving.insert(id, abort);
                    members.push(feed);
                }
                Some(Grouped::Left(id)) => {
                    if let Some(abort) = leaving.remove(&id) {
                        abort.abort();
                    }
                    // async-graphql confirms a legacy `stop` with `complete`; so does a group.
                    if protocol == WebSocketProtocols::SubscriptionsTransportWS
                        && sink.send(Message::Text(complete(&id).into())).await.is_err()
                    {
                        break;
                    }
                }
                None => {}
            },
            Some((id, frame)) = members.next(), if !members.is_empty() => match frame {
                Ok(Frame::Next { .. }) if members_expire.is_some_and(|at| at <= chrono::Utc::now()) => {
                    let _ = sink.send(close(close_code::FORBIDDEN, "Forbidden: the token expired; reconnect with a new one".to_owned())).await;
                    break;
                }
                Ok(Frame::Next { payload, unavailable: false }) => {
                    let text = fanout::next_message(protocol, &id, &payload);
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Ok(Frame::Next { unavailable: true, .. }) => {
                    let _ = sink.send(close(close_code::TRY_AGAIN_LATER, "the database is unavailable; reconnect and resume with your last cursor".to_owned())).await;
                    break;
                }
                Ok(Frame::End) | Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                    if let Some(abort) = leaving.remove(&*id) {
                        abort.abort();
                    }
                    if let Ok(mut guard) = guard.lock() {
                        guard.ended(&id);
                    }
                    if sink.send(Message::Text(complete(&id).into())).await.is_err() {
                        break;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // This socket could not take the answers as fast as they came: the client
                    // reconnects and resumes with its last cursor, losing nothing.
                    let _ = sink.send(close(close_code::TRY_AGAIN_LATER, "this connection fell behind the live events; reconnect and resume with your last cursor".to_owned())).await;
                    break;
                }
            },
            verdict = decided.recv() => match verdict {
                Some(Verdict::Reply(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(Verdict::Close(code, reason)) => {
                    let _ = sink.send(close(code, reason)).await;
                    break;
                }
                Some(Verdict::Pass | Verdict::Leave(_)) | None => {}
            },
            message = output.next() => match message {
                Some(WsMessage::Text(text)) if crate::graphql::subscription::database_unavailable(&text) => {
                    // A result the database could not serve (an event whose fields could not
                    // be read, or a subscription that could not start): the client would skip
                    // the event or give up. 1013 "try again later" makes it reconnect and
                    // resume with the cursor of the last event it got, losing nothing.
                    let _ = sink.send(close(close_code::TRY_AGAIN_LATER, "the database is unavailable; reconnect and resume with your last cursor".to_owned())).await;
                    break;
                }
                Some(WsMessage::Text(text)) => {
                    if let Ok(mut guard) = guard.lock() {
                        guard.server_message(&text);
                    }
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    // A refused connection_init is 4403 Forbidden in graphql-transport-ws;
                    // async-graphql says 1002.
                    let code = if code == close_code::PROTOCOL_ERROR && !initialised {
                        close_code::FORBIDDEN
                    } else {
                        code
                    };
                    let _ = sink.send(close(code, reason)).await;
                    break;
                }
                None => {
                    // The input ended: say why if the guard closed it.
                    if let Ok(Verdict::Close(code, reason)) = decided.try_recv() {
                        let _ = sink.send(close(code, reason)).await;
                    }
                    break;
                }
            },
            expiry = &mut expiry_rx, if expiry_pending => {
                expiry_pending = false;
                if let Ok(at) = expiry {
                    let left = (at - chrono::Utc::now()).to_std().unwrap_or_default();
                    expires_at = Some(tokio::time::Instant::now() + left);
                }
            }
            () = tokio::time::sleep_until(expires_at.unwrap_or_else(tokio::time::Instant::now)), if expires_at.is_some() => {
                let _ = sink.send(close(close_code::FORBIDDEN, "Forbidden: the token expired; reconnect with a new one".to_owned())).await;
                break;
            }
            () = &mut init_deadline, if !initialised => {
                let _ = sink.send(close(close_code::INIT_TIMEOUT, "Connection initialisation timeout".to_owned())).await;
                break;
            }
            _ = keepalive.tick(), if initialised => {
                // A socket running nothing that did not answer the last ping is gone or idle on
                // purpose: it gives its places back. (A subscriber of the legacy protocol, which
                // has no pong, keeps its socket while it runs a subscription.)
                let answered = heard.swap(false, std::sync::atomic::Ordering::Relaxed);
                let idle = guard.lock().map_or(true, |g| g.running.is_empty());
                if !answered && idle {
                    let _ = sink.send(close(close_code::GOING_AWAY, "no answer to pings".to_owned())).await;
                    break;
                }
                // A WebSocket ping, which browsers and libraries answer by themselves, and the
                // protocol's own.
                if sink.send(Message::Ping(Vec::new().into())).await.is_err()
                    || sink.send(Message::Text(ping.into())).await.is_err()
                {
                    break;
                }
            }
            () = state.stop.cancelled() => {
                let _ = sink.send(close(close_code::SERVICE_RESTART, "server restarting; reconnect and resume".to_owned())).await;
                break;
            }
        }
    }
}

/// The group membership for a client message, when it is a subscription a group can serve.
fn joined(
    fanout: &Arc<fanout::Fanout>,
    caller: &Mutex<Option<crate::access::Caller>>,
    bytes: &[u8],
) -> Option<(
    String,
    fanout::Member,
    Option<chrono::DateTime<chrono::Utc>>,
)> {
    let message: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    if !matches!(message["type"].as_str(), Some("subscribe" | "start")) {
        return None;
    }
    let id = message["id"].as_str()?.to_owned();
    let caller = caller.lock().ok()?.clone()?;
    let member = fanout.join(&message["payload"], &caller)?;
    Some((id, member, caller.expires_at()))
}

/// A grouped operation's answers, tagged with its id.
fn feed(
    id: Arc<str>,
    member: fanout::Member,
) -> impl futures_util::Stream<
    Item = (
        Arc<str>,
        Result<Frame, tokio::sync::broadcast::error::RecvError>,
    ),
> + Send {
    futures_util::stream::unfold(member, move |mut member| {
        let id = id.clone();
        async move {
            let frame = member.frames.recv().await;
            Some(((id, frame), member))
        }
    })
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
}
