//! Identical live subscriptions served once. A projector wall or a room of dashboards opens
//! the same `pipelineEvents` subscription hundreds or thousands of times; each subscriber used
//! to run it on its own: follow the event feed, resolve the answer through the executor,
//! serialize it and send it. Here the first subscriber of a kind starts one execution (a
//! group), every answer is serialized once, and each member only wraps the shared bytes in its
//! own message (`next` or `data`, with its own id) and writes its socket.
//!
//! What may be grouped is exact: the same document text, operation name and variables, by
//! callers of one class (role, regency, mentor: what they may see, not who they are), for a
//! subscription that starts now — `pipelineEvents` without `after`. A subscription that
//! resumes from a cursor catches up on its own. Validation, limits and access are checked by
//! the group's execution: members of one group would get the same verdict. A group's answer
//! with an error ends the group for new members (later subscribers start their own), and a
//! member that falls behind the group is closed with 1013 so its client resumes with the
//! cursor of the last event it got.

use async_graphql::Executor as _;
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, Weak},
};

use async_graphql::{
    Data, Request, Response,
    parser::types::{OperationType, Selection},
};
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::{
    access::Caller,
    graphql::engine::{Engine, GroupExecution},
};

/// Answers a member may fall behind its group by before it is closed (1013) to resume.
const BACKLOG: usize = 128;
/// Subscriptions with more variables than this (as JSON) run on their own: a dashboard's are
/// a few dozen bytes, and a group keeps its key for as long as it runs.
const MAX_VARIABLES: usize = 4096;

/// What makes two subscriptions the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    class: String,
    query: String,
    operation: Option<String>,
    variables: String,
}

/// One answer of a group, serialized once, or the end of the group's stream.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A response, as JSON, and whether it carries SERVICE_UNAVAILABLE (the member's
    /// connection then closes with 1013 so the client resumes).
    Next {
        payload: Arc<str>,
        unavailable: bool,
    },
    /// The execution ended: members send `complete`.
    End,
}

/// A running group: members hold it; the last one to leave stops its execution.
pub struct Group {
    frames: broadcast::Sender<Frame>,
    _stop: DropGuard,
}

/// A member's place in a group: its feed of frames.
pub struct Member {
    pub frames: broadcast::Receiver<Frame>,
    _group: Arc<Group>,
    /// Counted in `labinov_subscriptions_active` while it lasts.
    _active: crate::metrics::Open,
}

/// A subscriber of the group's kind (groups serve `pipelineEvents`), counted while it lasts.
fn active() -> crate::metrics::Open {
    let kind = crate::graphql::subscription::SubscriptionKind::PipelineEvents.field();
    crate::metrics::Open::new(metrics::gauge!("labinov_subscriptions_active", "kind" => kind))
}

/// The running groups of a process.
pub struct Fanout {
    engine: Engine,
    groups: Mutex<HashMap<Arc<Key>, Weak<Group>>>,
}

/// A subscribe message's payload.
#[derive(serde::Deserialize)]
struct Payload {
    query: String,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<serde_json::Value>,
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Fanout {
    pub fn new(engine: Engine) -> Self {
        Self {
            engine,
            groups: Mutex::new(HashMap::new()),
        }
    }

    /// How many groups are running.
    pub fn groups(&self) -> usize {
        self.lock()
            .values()
            .filter(|g| g.strong_count() > 0)
            .count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<Key>, Weak<Group>>> {
        self.groups
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A membership for the subscription in a subscribe message's `payload`, by `caller`:
    /// in a running group or a new one. None when it cannot be grouped: the connection then
    /// runs it on its own.
    pub fn join(self: &Arc<Self>, payload: &serde_json::Value, caller: &Caller) -> Option<Member> {
        let payload: Payload = serde_json::from_value(payload.clone()).ok()?;
        if payload.extensions.as_ref().is_some_and(|e| !e.is_empty())
            || !starts_now(
                &payload.query,
                payload.operation_name.as_deref(),
                payload.variables.as_ref(),
            )
        {
            return None;
        }
        // A caller already past its token's expiry (within the verifier's leeway) runs on its
        // own and is told so; a member's own expiry is checked before each answer it is sent.
        if caller
            .expires_at()
            .is_some_and(|at| at <= chrono::Utc::now())
        {
            return None;
        }
        let stand_in = caller.stand_in()?;
        let variables = payload
            .variables
            .as_ref()
            .map_or_else(String::new, ToString::to_string);
        if variables.len() > MAX_VARIABLES {
            return None;
        }
        let key = Arc::new(Key {
            class: caller.sharing_class()?,
            query: payload.query,
            operation: payload.operation_name,
            variables,
        });
        let mut groups = self.lock();
        if let Some(group) = groups.get(&key).and_then(Weak::upgrade) {
            return Some(Member {
                frames: group.frames.subscribe(),
                _group: group,
                _active: active(),
            });
        }
        groups.retain(|_, g| g.strong_count() > 0);
        let (frames, receiver) = broadcast::channel(BACKLOG);
        let stop = CancellationToken::new();
        let group = Arc::new(Group {
            frames: frames.clone(),
            _stop: stop.clone().drop_guard(),
        });
        groups.insert(key.clone(), Arc::downgrade(&group));
        drop(groups);
        let mut request = Request::new(key.query.clone());
        if let Some(name) = &key.operation {
            request = request.operation_name(name);
        }
        if let Some(variables) = payload.variables {
            request = request.variables(async_graphql::Variables::from_json(variables));
        }
        let mut data = Data::default();
        data.insert(stand_in);
        data.insert(GroupExecution);
        let stream = self.engine.execute_stream(request, Some(Arc::new(data)));
        tokio::spawn(run(
            Arc::downgrade(self),
            key,
            Arc::downgrade(&group),
            stream,
            frames,
            stop,
        ));
        Some(Member {
            frames: receiver,
            _group: group,
            _active: active(),
        })
    }

    /// Takes the group out of the registry, so later subscribers start their own.
    fn forget(&self, key: &Arc<Key>, group: &Weak<Group>) {
        let mut groups = self.lock();
        if groups.get(key).is_some_and(|g| g.ptr_eq(group)) {
            groups.remove(key);
        }
    }
}

/// Runs a group's execution until it ends or its last member leaves.
async fn run(
    fanout: Weak<Fanout>,
    key: Arc<Key>,
    group: Weak<Group>,
    mut stream: futures_util::stream::BoxStream<'static, Response>,
    frames: broadcast::Sender<Frame>,
    stop: CancellationToken,
) {
    let _running = crate::metrics::Open::new(metrics::gauge!("labinov_subscription_groups"));
    let delivered = metrics::counter!("labinov_events_delivered_total");
    loop {
        let response = tokio::select! {
            () = stop.cancelled() => break,
            response = stream.next() => response,
        };
        let Some(response) = response else { break };
        if response.is_err()
            && let Some(fanout) = fanout.upgrade()
        {
            // An answer with an error is not kept for anyone who comes later.
            fanout.forget(&key, &group);
        }
        let unavailable = crate::graphql::subscription::response_unavailable(&response);
        let Ok(payload) = serde_json::to_string(&response) else {
            break;
        };
        let members = frames
            .send(Frame::Next {
                payload: payload.into(),
                unavailable,
            })
            .unwrap_or(0);
        // The execution counted one delivery per event; the other members got it too.
        delivered.increment(members.saturating_sub(1) as u64);
    }
    // Out of the registry before the end is sent: whoever joins later starts anew, and
    // whoever joined before gets the end.
    if let Some(fanout) = fanout.upgrade() {
        fanout.forget(&key, &group);
    }
    let _ = frames.send(Frame::End);
}

/// Whether `query` is a subscription that starts now: its operation (`operation`, or the only
/// one) asks for `pipelineEvents` alone, with no `after` (or a null one, given or by an unset
/// variable without a default).
fn starts_now(query: &str, operation: Option<&str>, variables: Option<&serde_json::Value>) -> bool {
    use async_graphql_value::{ConstValue, Value};
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let mut operations = document.operations.iter();
    let operation = match operation {
        Some(name) => operations.find(|(n, _)| n.is_some_and(|n| n == name)),
        // Without a name, the document's only operation, named or not.
        None => operations
            .next()
            .filter(|_| document.operations.iter().count() == 1),
    };
    let Some((_, operation)) = operation else {
        return false;
    };
    if operation.node.ty != OperationType::Subscription || !operation.node.directives.is_empty() {
        return false;
    }
    let [item] = operation.node.selection_set.node.items.as_slice() else {
        return false;
    };
    let Selection::Field(field) = &item.node else {
        return false;
    };
    let field = &field.node;
    let null_after = |value: &Value| match value {
        Value::Null => true,
        Value::Variable(name) => {
            let given = variables.and_then(|v| v.get(name.as_str()));
            let default = operation
                .node
                .variable_definitions
                .iter()
                .find(|d| d.node.name.node == *name)
                .and_then(|d| d.node.default_value.as_ref());
            given.is_none_or(serde_json::Value::is_null)
                && default.is_none_or(|d| d.node == ConstValue::Null)
        }
        _ => false,
    };
    field.name.node == "pipelineEvents"
        && field.directives.is_empty()
        && field
            .arguments
            .iter()
            .all(|(name, value)| name.node != "after" || null_after(&value.node))
}

/// The message a member sends for a frame: `next` (graphql-transport-ws) or `data` (the
/// legacy protocol) with its own id around the shared payload.
pub fn next_message(
    protocol: async_graphql::http::WebSocketProtocols,
    id: &str,
    payload: &str,
) -> String {
    let kind = match protocol {
        async_graphql::http::WebSocketProtocols::GraphQLWS => "next",
        async_graphql::http::WebSocketProtocols::SubscriptionsTransportWS => "data",
    };
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".to_owned());
    let mut message = String::with_capacity(payload.len() + id.len() + 40);
    message.push_str(r#"{"type":""#);
    message.push_str(kind);
    message.push_str(r#"","id":"#);
    message.push_str(&id);
    message.push_str(r#","payload":"#);
    message.push_str(payload);
    message.push('}');
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts_now(query: &str, operation: Option<&str>) -> bool {
        super::starts_now(query, operation, None)
    }

    #[test]
    fn only_subscriptions_that_start_now_are_grouped() {
        assert!(starts_now(
            "subscription { pipelineEvents { sequence } }",
            None
        ));
        // `after` left null, by a variable or literally.
        let with_after = "subscription($a: String) { pipelineEvents(after: $a) { sequence } }";
        assert!(super::starts_now(
            with_after,
            None,
            Some(&serde_json::json!({}))
        ));
        assert!(super::starts_now(
            with_after,
            None,
            Some(&serde_json::json!({"a": null}))
        ));
        assert!(!super::starts_now(
            with_after,
            None,
            Some(&serde_json::json!({"a": "c"}))
        ));
        assert!(!starts_now(
            r#"subscription($a: String = "c") { pipelineEvents(after: $a) { sequence } }"#,
            None
        ));
        assert!(starts_now(
            "subscription { pipelineEvents(after: null) { sequence } }",
            None
        ));
        assert!(starts_now(
            "subscription S($f: PipelineEventFilter) { e: pipelineEvents(filter: $f) { sequence } }",
            Some("S")
        ));
        // Resuming from a cursor, other fields, several fields, queries, fragments at the root.
        assert!(!starts_now(
            r#"subscription { pipelineEvents(after: "x") { sequence } }"#,
            None
        ));
        assert!(!starts_now("subscription { funnel { total } }", None));
        assert!(!starts_now(
            "subscription { pipelineEvents { sequence } pipelineEvents { cursor } }",
            None
        ));
        assert!(!starts_now("query { pipelineEvents { sequence } }", None));
        assert!(!starts_now(
            "subscription { ...F } fragment F on Subscription { pipelineEvents { sequence } }",
            None
        ));
        assert!(!starts_now(
            "subscription { pipelineEvents { sequence } }",
            Some("Other")
        ));
        assert!(!starts_now("subscription {", None));
    }

    #[test]
    fn a_member_wraps_the_shared_payload_in_its_own_message() {
        use async_graphql::http::WebSocketProtocols;
        let message = next_message(WebSocketProtocols::GraphQLWS, "a\"b", r#"{"data":{}}"#);
        let parsed: serde_json::Value = serde_json::from_str(&message).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"type": "next", "id": "a\"b", "payload": {"data": {}}})
        );
        let legacy = next_message(WebSocketProtocols::SubscriptionsTransportWS, "1", "{}");
        assert_eq!(legacy, r#"{"type":"data","id":"1","payload":{}}"#);
    }
}
