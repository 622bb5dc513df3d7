//! The HTTP application: router, shared state, start-up and graceful shutdown.

use std::net::SocketAddr;

use anyhow::Context;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::GraphQLRequest;
use axum::{
    Router,
    extract::State,
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse, Response},
    routing::get,
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;

use crate::{
    config::Config,
    db, demo,
    domain::Domain,
    graphql::{self, LabinovSchema, loaders},
};

/// Largest request body accepted (a CSV import of a few thousand rows fits).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub schema: LabinovSchema,
    pub domain: Domain,
}

/// A built application bound to its port, ready to run.
pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    /// Connects to the database, migrates it, loads the demo data if asked and the database is
    /// empty, and binds the listen address.
    pub async fn build(config: &Config, load_demo: bool) -> anyhow::Result<App> {
        let domain = connect_and_migrate(config).await?;
        if load_demo {
            if domain.is_empty().await? {
                let summary = demo::load(domain.db()).await?;
                tracing::info!(?summary, "demo data loaded");
            } else {
                tracing::info!("database already holds data; demo data not loaded");
            }
        }
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let schema = graphql::schema().data(domain.clone()).finish();
        Ok(App {
            listener,
            state: AppState { schema, domain },
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn domain(&self) -> &Domain {
        &self.state.domain
    }

    /// The router, for tests that call it without a socket.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves until `shutdown` is cancelled, then finishes the requests in flight.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = %self.local_addr(), "labinov listening; GraphiQL at http://{}/", self.local_addr());
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await
            .context("serving HTTP")
    }
}

/// Opens and migrates the configured database.
pub async fn connect_and_migrate(config: &Config) -> anyhow::Result<Domain> {
    let (connection, statements) = db::connect(config).await?;
    db::migrate(&connection).await?;
    let limits = crate::domain::page::PageLimits {
        default: config.default_page_size.min(config.max_page_size),
        max: config.max_page_size,
    };
    Ok(Domain::new(connection, statements, limits))
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(graphql_handler).post(graphql_handler))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .with_state(state)
}

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .title("labinov")
            .finish(),
    )
}

/// GraphQL over HTTP as the spec asks: POST and GET (GET for queries only, 405 otherwise),
/// `application/graphql-response+json` unless the client only accepts `application/json`,
/// and 400 for a request that fails before execution (parse or validation errors).
async fn graphql_handler(
    State(state): State<AppState>,
    method: Method,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let request = request.into_inner();
    let legacy_json = accepts_only_json(&headers);
    if method == Method::GET && is_mutation(&request) {
        let body = serde_json::json!({ "errors": [{
            "message": "Mutations are not allowed over GET; send them with POST.",
            "extensions": { "code": "BAD_USER_INPUT" }
        }]});
        let mut response = (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let request = request.data(loaders::for_request(&state.domain));
    let response = state.schema.execute(request).await;
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let status = if request_error && !legacy_json {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let content_type = if legacy_json {
        "application/json"
    } else {
        "application/graphql-response+json"
    };
    let body = serde_json::to_vec(&response).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn accepts_only_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    accept.contains("application/json")
        && !accept.contains("application/graphql-response+json")
        && !accept.contains("*/*")
}

fn is_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    let wanted = request.operation_name.as_deref();
    document.operations.iter().any(|(name, op)| {
        (wanted.is_none() || name.map(|n| n.as_str()) == wanted)
            && op.node.ty != OperationType::Query
    })
}
