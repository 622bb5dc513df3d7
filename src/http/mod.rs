//! Transports: GraphQL over HTTP, over Server-Sent Events and over WebSockets, all on one URL,
//! and the connection handling that keeps slow or hostile clients from holding the server.

pub mod address;
pub mod bodies;
pub mod cache;
pub mod context;
pub mod evidence;
pub mod export;
pub mod fanout;
pub mod graphql;
pub mod health;
pub mod origin;
pub mod outlet;
pub mod pages;
pub mod rate;
pub mod readiness;
pub mod server;
pub mod sse;
pub mod state;
pub mod uploads;
pub mod websocket;

use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
};

use crate::error::ErrorCode;
use state::AppState;

/// The GraphQL documents the server's own pages send (the live screen, the CSV export's
/// check): a deployment that runs only trusted documents trusts these too.
pub fn own_documents() -> impl Iterator<Item = &'static str> {
    pages::live::DOCUMENTS.into_iter().chain([export::PROBE])
}

/// The router: GraphiQL on `/`, GraphQL on `/graphql`.
pub fn router(state: AppState) -> Router {
    let cors = cors(&state.cors_origins);
    // The routes that take uploads read bodies up to a file's size (the GraphQL URL keeps
    // other requests within the body limit itself); the rest within the body limit.
    let uploads = Router::new()
        .route(
            "/graphql",
            get(graphql::graphql_entry).post(graphql::graphql_entry),
        )
        .route("/evidence", post(evidence::upload))
        .layer(RequestBodyLimitLayer::new(
            uploads::body_limit(&state).max(state.limits.max_body_bytes),
        ));
    let router = Router::new()
        .route("/", get(pages::graphiql))
        .route("/live", get(pages::live_screen))
        .route("/assets/graphiql-3.9.0/{file}", get(pages::asset))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics))
        .route("/export/ideas.csv", get(export::ideas_csv))
        .route("/export/plan.csv", get(export::plan_csv))
        .route("/evidence/{id}", get(evidence::download))
        .layer(RequestBodyLimitLayer::new(state.limits.max_body_bytes))
        .merge(uploads)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            coded_payload_too_large,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.allowed_hosts.clone(),
            known_host,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.limits.max_header_bytes,
            head_within_limit,
        ))
        .layer(axum::middleware::from_fn(observe))
        .with_state(state);
    match cors {
        Some(cors) => router.layer(cors),
        None => router,
    }
}

/// CORS for dashboards served from other origins; none unless configured.
fn cors(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let allow = if origins.contains(&"*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    Some(
        CorsLayer::new()
            .allow_origin(allow)
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::ACCEPT,
                HeaderName::from_static("last-event-id"),
            ]),
    )
}

/// Prometheus metrics, with the bus mode read now.
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let mode = state.hub.state().mode();
    for candidate in crate::live::BusMode::ALL {
        ::metrics::gauge!("labinov_bus_mode", "mode" => candidate.as_str())
            .set(if candidate == mode { 1.0 } else { 0.0 });
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::render(),
    )
        .into_response()
}

/// One span and one INFO line per request: method, route, status, duration and, for GraphQL,
/// the operation (recorded by the GraphQL layer). The query string is never logged: an event
/// stream may carry its token there.
async fn observe(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let route = if [
        "/",
        "/graphql",
        "/live",
        "/healthz",
        "/readyz",
        "/metrics",
        "/export/ideas.csv",
        "/export/plan.csv",
        "/evidence",
        "/evidence/{id}",
    ]
    .contains(&route.as_str())
        || route.starts_with("/assets/")
    {
        route
    } else {
        "other".to_owned()
    };
    let span = tracing::info_span!(
        "request",
        method = %method,
        path = %request.uri().path(),
        operation = tracing::field::Empty,
    );
    let response = {
        use tracing::Instrument;
        next.run(request).instrument(span.clone()).await
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::info!(
            status,
            duration_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    ::metrics::counter!("labinov_http_requests_total", "route" => route.clone(), "method" => method_label(&method), "status" => status.to_string()).increment(1);
    ::metrics::histogram!("labinov_http_request_duration_seconds", "route" => route)
        .record(elapsed.as_secs_f64());
    response
}

/// The method as a metric label: the standard methods by name, anything a client made up as
/// `other`, so no client can add a series.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Refuses a request whose head (request line and headers) is larger than the limit. hyper
/// stops reading a head at the limit when it arrives in pieces; one that arrives whole in a
/// single read is measured here, so the answer is the same 431 either way.
async fn head_within_limit(
    axum::extract::State(max): axum::extract::State<usize>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let head = request.method().as_str().len()
        + request.uri().to_string().len()
        + request
            .headers()
            .iter()
            .map(|(name, value)| name.as_str().len() + value.len() + 4)
            .sum::<usize>();
    if head > max {
        return context::client_error(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::RequestHeadersTooLarge,
            &format!(
                "The request's headers are {head} bytes; at most {max} are accepted (LABINOV_MAX_HEADER_BYTES)."
            ),
        );
    }
    next.run(request).await
}

/// Refuses requests for names the server does not answer to (DNS rebinding).
async fn known_host(
    axum::extract::State(allowed): axum::extract::State<std::sync::Arc<Vec<String>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if origin::host_allowed(request.headers(), &allowed) {
        return next.run(request).await;
    }
    context::client_error(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "This server does not answer to that host name; its operator can add it to LABINOV_ALLOWED_HOSTS.",
    )
}

async fn not_found() -> Response {
    context::client_error(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        "Nothing is served here: GraphQL is at /graphql, GraphiQL at /.",
    )
}

async fn method_not_allowed(uri: axum::http::Uri) -> Response {
    let message = match uri.path() {
        "/graphql" => "Use GET or POST.",
        "/evidence" => "Use POST, with the file as the body.",
        _ => "Use GET.",
    };
    context::client_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        message,
    )
}

/// The body limit's bare 413 as a coded error naming the limit an upload or a request went over.
async fn coded_payload_too_large(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let upload = request.uri().path() == "/evidence" || graphql::is_multipart(request.headers());
    let response = next.run(request).await;
    let coded = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && !coded {
        return if upload {
            uploads::file_too_large(state.limits.evidence_max_bytes)
        } else {
            graphql::too_large()
        };
    }
    response
}
