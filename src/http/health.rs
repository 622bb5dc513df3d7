//! `/healthz`: the process is alive. `/readyz`: it can serve, with a JSON body that says
//! what is wrong when it cannot: the database answers, the event listener runs, and how the
//! event bus stands (a Redis outage degrades live delivery to database polling; it does not
//! make the server unready, since nothing is lost), and how each read replica stands (one that
//! is down or behind is skipped by reads, so it does not make the server unready either).
//!
//! Callers that ask while a check of the database is under way share its answer
//! ([`super::readiness::Checks`]).

use axum::{
    Json,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{readiness::Checked, state::AppState};

pub async fn healthz() -> Response {
    Json(json!({ "status": "alive" })).into_response()
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
