//! Transports: GraphQL over HTTP, over Server-Sent Events and over WebSockets, all on one URL,
//! and the connection handling that keeps slow or hostile clients from holding the server.

pub mod graphql;
pub mod health;
pub mod origin;
pub mod server;
pub mod sse;
pub mod websocket;

use async_graphql::http::GraphiQLSource;
use axum::{
    Router,
    http::{HeaderName, HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
};

use crate::app::AppState;

/// The router: GraphiQL on `/`, GraphQL on `/graphql`.
pub fn router(state: AppState) -> Router {
    let cors = cors(&state.cors_origins);
    let router = Router::new()
        .route("/", get(graphiql))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route(
            "/graphql",
            get(graphql::graphql_entry).post(graphql::graphql_entry),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(RequestBodyLimitLayer::new(state.limits.max_body_bytes))
        .layer(axum::middleware::map_response(coded_payload_too_large))
        .layer(axum::middleware::from_fn_with_state(
            state.allowed_hosts.clone(),
            known_host,
        ))
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

/// Refuses requests for names the server does not answer to (DNS rebinding).
async fn known_host(
    axum::extract::State(allowed): axum::extract::State<std::sync::Arc<Vec<String>>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if origin::host_allowed(request.headers(), &allowed) {
        return next.run(request).await;
    }
    graphql::client_error(
        StatusCode::FORBIDDEN,
        graphql::refusal::FORBIDDEN_ORIGIN,
        "This server does not answer to that host name; its operator can add it to LABINOV_ALLOWED_HOSTS.",
    )
}

async fn not_found() -> Response {
    graphql::client_error(
        StatusCode::NOT_FOUND,
        crate::error::code::NOT_FOUND,
        "Nothing is served here: GraphQL is at /graphql, GraphiQL at /.",
    )
}

async fn method_not_allowed() -> Response {
    graphql::client_error(
        StatusCode::METHOD_NOT_ALLOWED,
        graphql::refusal::METHOD_NOT_ALLOWED,
        "Use GET or POST.",
    )
}

/// The body limit answers 413 in plain text; clients get the GraphQL error shape instead.
async fn coded_payload_too_large(response: Response) -> Response {
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return graphql::too_large();
    }
    response
}

/// GraphiQL; `/?token=…` (the links `serve --demo` prints) opens it with that token set for
/// queries, mutations and subscriptions.
async fn graphiql(
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    // Only a token's own characters (base64url and dots) go into the page: nothing else can
    // be injected through the link.
    let token = params.get("token").filter(|t| {
        !t.is_empty()
            && t.len() <= 4096
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    });
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut page = GraphiQLSource::build()
        .endpoint("/graphql")
        .subscription_endpoint("/graphql")
        .title("labinov");
    if let Some(bearer) = &bearer {
        page = page
            .header("Authorization", bearer)
            .ws_connection_param("Authorization", bearer);
    }
    Html(page.finish())
}
