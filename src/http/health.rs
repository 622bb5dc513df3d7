//! `/healthz`: the process is alive. `/readyz`: it can serve, with a JSON body that says
//! what is wrong when it cannot: the database answers, the event listener runs, and how the
//! event bus stands (a Redis outage degrades live delivery to database polling; it does not
//! make the server unready, since nothing is lost), and how each read replica stands (one that
//! is down or behind is skipped by reads, so it does not make the server unready either).
//!
//! Callers that ask while a check of the database is under way share its answer ([`Checks`]):
//! a client calling `/readyz` from many connections at once holds at most one of the pool's
//! connections, however many it opens.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use futures_util::future::{BoxFuture, FutureExt, Shared};

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::state::AppState;
use crate::domain::{Domain, replica::ReplicaReport};

/// How long the database has to answer a readiness check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Response {
    Json(json!({ "status": "alive" })).into_response()
}

/// The check of the database and its replicas under way, if one is.
#[derive(Default)]
pub struct Checks(Mutex<Option<Shared<BoxFuture<'static, Checked>>>>);

/// How the database and its replicas stood when last checked.
#[derive(Clone)]
struct Checked {
    database: serde_json::Value,
    replicas: Vec<ReplicaReport>,
}

impl Checks {
    /// The answer of the check under way, or of a new one.
    async fn check(&self, domain: &Domain) -> Checked {
        let under_way = {
            let mut current = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match &*current {
                Some(check) if check.peek().is_none() => check.clone(),
                _ => current
                    .insert(check(domain.clone()).boxed().shared())
                    .clone(),
            }
        };
        under_way.await
    }
}

/// Pings the database and asks after the replicas. A replica that is down or behind is skipped
/// by reads: it does not make the server unready. Asked beside the database's ping, so the
/// answer comes within the ping's time-out.
async fn check(domain: Domain) -> Checked {
    let (pinged, replicas) = tokio::join!(
        tokio::time::timeout(DATABASE_TIMEOUT, domain.ping()),
        domain.replica_reports()
    );
    let database = match pinged {
        Ok(Ok(())) => json!({ "ok": true }),
        Ok(Err(_)) => json!({ "ok": false, "problem": "the database refused a query" }),
        Err(_) => {
            json!({ "ok": false, "problem": format!("the database did not answer within {} s", DATABASE_TIMEOUT.as_secs()) })
        }
    };
    Checked { database, replicas }
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let Checked { database, replicas } = state.readiness.check(&state.domain).await;
    let bus_state = state.hub.state();
    let listener = if bus_state.listener_running() {
        json!({ "ok": true })
    } else {
        json!({ "ok": false, "problem": "the event listener has stopped" })
    };
    let bus = match (bus_state.redis_configured, bus_state.redis_connected()) {
        (false, _) => json!({ "mode": "in-process", "ok": true }),
        (true, true) if bus_state.redis_cluster => json!({ "mode": "redis cluster", "ok": true }),
        (true, true) => json!({ "mode": "redis", "ok": true }),
        (true, false) => json!({
            "mode": "database fallback",
            "ok": false,
            "problem": "Redis cannot be reached; live events are read from the database every 250 ms until it is back",
        }),
    };
    let draining = state.draining.is_cancelled();
    let ready = database["ok"] == true && listener["ok"] == true && !draining;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let mut body = json!({
        "ready": ready,
        "database": database,
        "listener": listener,
        "bus": bus,
    });
    if !replicas.is_empty() {
        body["replicas"] = json!(replicas);
    }
    if draining {
        body["draining"] = json!({
            "problem": "the server is shutting down; send new requests to another instance",
        });
    }
    (status, Json(body)).into_response()
}
