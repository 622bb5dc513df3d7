//! GraphQL over Server-Sent Events, graphql-sse "distinct connections" mode: each result is a
//! `next` event whose `id` is the result's cursor (so an EventSource resumes with
//! `Last-Event-ID`), then `complete`. On shutdown, or when the database cannot serve a result,
//! the stream just ends (without `complete`) and the client reconnects and resumes.

use async_graphql::Executor as _;
use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::response::{
    IntoResponse, Response,
    sse::{Event, KeepAlive, Sse},
};
use futures_util::StreamExt;

use crate::error::ErrorCode;
use crate::{graphql::subscription::ResumeFrom, http::state::AppState};

/// Serves one event stream; when the caller's token expires (`expires_at`) the stream ends
/// with a `next` event carrying an UNAUTHENTICATED error, then `complete`.
pub fn serve(
    state: &AppState,
    request: async_graphql::Request,
    last_event_id: Option<String>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    places: Vec<super::address::Slot>,
) -> Response {
    let mut request = request;
    if let Some(id) = last_event_id {
        request = request.data(ResumeFrom(id));
    }
    let expiry = async move {
        match expires_at {
            Some(at) => {
                tokio::time::sleep((at - chrono::Utc::now()).to_std().unwrap_or_default()).await;
            }
            None => std::future::pending().await,
        }
    };
    // After the results: the expiry error, if that is why they stopped.
    let expired =
        futures_util::stream::once(
            async move { expires_at.is_some_and(|at| at <= chrono::Utc::now()) },
        )
        .filter_map(|expired| async move {
            expired.then(|| {
                let body = serde_json::json!({ "errors": [{
                    "message": "Your token expired; reconnect with a new one.",
                    "extensions": { "code": ErrorCode::Unauthenticated }
                }]});
                Ok::<_, Infallible>(
                    Event::default()
                        .event("next")
                        .json_data(body)
                        .unwrap_or_else(|_| Event::default().event("next")),
                )
            })
        });
    let open = crate::metrics::Open::new(metrics::gauge!("labinov_sse_streams"));
    // A result the database could not serve ends the stream without `complete`: the
    // EventSource reconnects and resumes with Last-Event-ID, losing nothing.
    let cut = Arc::new(AtomicBool::new(false));
    let cut_seen = cut.clone();
    let events = state
        .engine
        .execute_stream(request, None)
        .take_while(move |response| {
            let unavailable = crate::graphql::subscription::response_unavailable(response);
            if unavailable {
                cut_seen.store(true, Ordering::Relaxed);
            }
            futures_util::future::ready(!unavailable)
        })
        .take_until(expiry)
        .map(move |response| {
            // Held while the stream lives: its gauge and its client's places.
            let _open = (&open, &places);
            let mut event = Event::default().event("next");
            if let Some(cursor) = cursor_of(&response) {
                event = event.id(cursor);
            }
            Ok::<_, Infallible>(
                event
                    .json_data(&response)
                    .unwrap_or_else(|_| Event::default().event("next")),
            )
        })
        .chain(expired)
        .chain(futures_util::stream::once(async move {
            if cut.load(Ordering::Relaxed) {
                // No `complete`: the client reconnects, soon, and resumes.
                Ok(Event::default()
                    .retry(Duration::from_secs(1))
                    .comment("the database is unavailable; reconnect and resume"))
            } else {
                Ok(Event::default().event("complete").data(""))
            }
        }))
        .take_until(state.stop.clone().cancelled_owned());
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(state.keepalive))
        .into_response()
}

/// The `cursor` of the result's one top-level field, if it has one.
fn cursor_of(response: &async_graphql::Response) -> Option<String> {
    let async_graphql::Value::Object(fields) = &response.data else {
        return None;
    };
    fields.values().find_map(|value| match value {
        async_graphql::Value::Object(object) => match object.get("cursor") {
            Some(async_graphql::Value::String(cursor)) => Some(cursor.clone()),
            _ => None,
        },
        _ => None,
    })
}
