//! Identical live subscriptions served once. A projector wall or a room of dashboards opens
//! the same `pipelineEvents` subscription hundreds or thousands of times. Here the first
//! subscriber of a kind starts one execution (a group); every answer is serialized once and the
//! group writes it into each member's socket itself ([`super::outlet`]), wrapped in the
//! member's own message (`next` or `data`, with its own id): no task of the member's is woken
//! and nothing is queued for it while its socket takes what it is given.
//!
//! What may be grouped is exact: the same document text, operation name and variables, by
//! callers of one class (role, regency, mentor: what they may see, not who they are), for a
//! subscription that starts now — `pipelineEvents` without `after`. A subscription that
//! resumes from a cursor catches up on its own. Validation, limits and access are checked by
//! the group's execution: members of one group would get the same verdict. A group's answer
//! with an error ends the group for new members (later subscribers start their own), and a
//! member whose socket falls more than [`super::outlet::BACKLOG`] messages behind is closed
//! with 1013 so its client resumes with the cursor of the last event it got.

use async_graphql::Executor as _;
use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::{
    Data, Request,
    http::WebSocketProtocols,
    parser::types::{OperationType, Selection},
};
use futures_util::StreamExt;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::outlet::{Closing, Outlet};
use crate::{
    access::Caller,
    graphql::engine::{Engine, GroupExecution},
};

/// Subscriptions with more variables than this (as JSON) run on their own: a dashboard's are
/// a few dozen bytes, and a group keeps its key for as long as it runs.
const MAX_VARIABLES: usize = 4096;
/// Members a group writes to, at most, before it lets other tasks run (tokio's budget for a
/// task's turn is smaller still, and the group yields when it runs out).
const WRITES_PER_TURN: usize = 256;

/// What makes two subscriptions the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    class: String,
    query: String,
    operation: Option<String>,
    variables: String,
}

/// A member's place in its group: where and how its answers are written.
struct Seat {
    outlet: Arc<Outlet>,
    /// The operation's id, for its `complete`.
    id: Arc<str>,
    /// The start of its `next` (or legacy `data`) message, up to the payload.
    opening: Arc<str>,
    /// When its caller's token expires: a group runs as a caller that does not, so each answer
    /// is checked against it before it is written.
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Cleared when the operation is completed, so nothing more is written for it.
    present: Arc<AtomicBool>,
}

/// A group's members, shared by the group and its execution.
#[derive(Default)]
struct Seats {
    taken: Mutex<Taken>,
}

#[derive(Default)]
struct Taken {
    seats: HashMap<u64, Arc<Seat>>,
    /// The next seat's number.
    next: u64,
    /// The execution ended: whoever still sits down is told at once.
    over: bool,
}

impl Seats {
    fn lock(&self) -> MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&self, seat: Arc<Seat>) -> u64 {
        let mut taken = self.lock();
        let number = taken.next;
        taken.next += 1;
        if taken.over {
            drop(taken);
            seat.outlet.ended(seat.id.clone(), &seat.present);
        } else {
            taken.seats.insert(number, seat);
        }
        number
    }

    /// The members now, so writing to them holds no lock.
    fn now(&self) -> Vec<Arc<Seat>> {
        self.lock().seats.values().cloned().collect()
    }

    /// The members when the execution ended; none sits down after.
    fn last(&self) -> Vec<Arc<Seat>> {
        let mut taken = self.lock();
        taken.over = true;
        taken.seats.values().cloned().collect()
    }
}

/// A running group: members hold it; the last one to leave stops its execution.
pub struct Group {
    seats: Arc<Seats>,
    _stop: DropGuard,
}

/// A member's place in a group. Dropping it leaves the group: nothing more is written for it.
pub struct Member {
    group: Arc<Group>,
    seat: Arc<Seat>,
    number: u64,
    /// Counted in `labinov_subscriptions_active` while it lasts.
    _active: crate::metrics::Open,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("id", &self.seat.id)
            .finish_non_exhaustive()
    }
}

impl Member {
    /// Whether this membership is the operation `id` a group said has ended.
    pub fn is(&self, id: &Arc<str>) -> bool {
        Arc::ptr_eq(&self.seat.id, id)
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.seat.present.store(false, Ordering::Release);
        self.group.seats.lock().seats.remove(&self.number);
    }
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

/// Who joins: the operation's id and protocol, its caller, and its connection's socket.
pub struct Joining<'a> {
    pub id: &'a str,
    pub protocol: WebSocketProtocols,
    pub caller: &'a Caller,
    pub outlet: &'a Arc<Outlet>,
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

    fn lock(&self) -> MutexGuard<'_, HashMap<Arc<Key>, Weak<Group>>> {
        self.groups.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A membership for the subscription in a subscribe message's `payload`: in a running
    /// group or a new one. None when it cannot be grouped: the connection then runs it on its
    /// own.
    pub fn join(self: &Arc<Self>, payload: &serde_json::Value, who: &Joining) -> Option<Member> {
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
        let caller = who.caller;
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
        let seat = Arc::new(Seat {
            outlet: who.outlet.clone(),
            id: who.id.into(),
            opening: opening(who.protocol, who.id).into(),
            expires_at: caller.expires_at(),
            present: Arc::new(AtomicBool::new(true)),
        });
        let mut groups = self.lock();
        if let Some(group) = groups.get(&key).and_then(Weak::upgrade) {
            drop(groups);
            return Some(seated(group, seat));
        }
        groups.retain(|_, g| g.strong_count() > 0);
        let stop = CancellationToken::new();
        let group = Arc::new(Group {
            seats: Arc::default(),
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
        let running = Running {
            fanout: Arc::downgrade(self),
            key,
            group: Arc::downgrade(&group),
            seats: group.seats.clone(),
        };
        // Seated before the execution starts, so the first answer reaches it.
        let member = seated(group, seat);
        tokio::spawn(running.run(stream, stop));
        Some(member)
    }

    /// Takes the group out of the registry, so later subscribers start their own.
    fn forget(&self, key: &Arc<Key>, group: &Weak<Group>) {
        let mut groups = self.lock();
        if groups.get(key).is_some_and(|g| g.ptr_eq(group)) {
            groups.remove(key);
        }
    }
}

fn seated(group: Arc<Group>, seat: Arc<Seat>) -> Member {
    let number = group.seats.take(seat.clone());
    Member {
        group,
        seat,
        number,
        _active: active(),
    }
}

/// A group's execution.
struct Running {
    fanout: Weak<Fanout>,
    key: Arc<Key>,
    group: Weak<Group>,
    seats: Arc<Seats>,
}

impl Running {
    /// Runs the execution until it ends or the last member leaves, writing each answer to
    /// every member's socket.
    async fn run(
        self,
        mut stream: futures_util::stream::BoxStream<'static, async_graphql::Response>,
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
                && let Some(fanout) = self.fanout.upgrade()
            {
                // An answer with an error is not kept for anyone who comes later.
                fanout.forget(&self.key, &self.group);
            }
            let unavailable = crate::graphql::subscription::response_unavailable(&response);
            let Ok(payload) = serde_json::to_string(&response) else {
                break;
            };
            let members = self.write(&payload.into(), unavailable).await;
            // The execution counted one delivery per event; the other members it reached got
            // it too.
            delivered.increment(members.saturating_sub(1) as u64);
        }
        // Out of the registry before the end is told: whoever joins later starts anew, and
        // whoever joined before gets the end.
        if let Some(fanout) = self.fanout.upgrade() {
            fanout.forget(&self.key, &self.group);
        }
        for seat in self.seats.last() {
            seat.outlet.ended(seat.id.clone(), &seat.present);
        }
    }

    /// Writes one answer to every member; how many it was written (or queued) for.
    async fn write(&self, payload: &Arc<str>, unavailable: bool) -> usize {
        let seats = self.seats.now();
        let now = chrono::Utc::now();
        let mut reached = 0;
        for (n, seat) in seats.iter().enumerate() {
            // Each socket write spends the task's budget: with none left the socket would
            // answer "not now" and the member's connection would be woken to write instead.
            if n % WRITES_PER_TURN == WRITES_PER_TURN - 1
                || !tokio::task::coop::has_budget_remaining()
            {
                tokio::task::yield_now().await;
            }
            if seat.expires_at.is_some_and(|at| at <= now) {
                seat.outlet.close(Closing::TokenExpired);
            } else if unavailable {
                seat.outlet.close(Closing::DatabaseUnavailable);
            } else {
                reached += usize::from(seat.outlet.offer(
                    &seat.opening,
                    payload,
                    &seat.present,
                    seat.expires_at,
                ));
            }
        }
        reached
    }
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

/// The start of a member's message for an answer, up to its payload: `next`
/// (graphql-transport-ws) or `data` (the legacy protocol) with its own id.
fn opening(protocol: WebSocketProtocols, id: &str) -> String {
    let kind = match protocol {
        WebSocketProtocols::GraphQLWS => "next",
        WebSocketProtocols::SubscriptionsTransportWS => "data",
    };
    let id = serde_json::to_string(id).unwrap_or_else(|_| "\"\"".to_owned());
    format!(r#"{{"type":"{kind}","id":{id},"payload":"#)
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
        let message = format!(
            "{}{}}}",
            opening(WebSocketProtocols::GraphQLWS, "a\"b"),
            r#"{"data":{}}"#
        );
        let parsed: serde_json::Value = serde_json::from_str(&message).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"type": "next", "id": "a\"b", "payload": {"data": {}}})
        );
        let legacy = opening(WebSocketProtocols::SubscriptionsTransportWS, "1");
        assert_eq!(legacy, r#"{"type":"data","id":"1","payload":"#);
    }
}
