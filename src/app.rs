//! The HTTP application: router, shared state, start-up and graceful shutdown.

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use anyhow::Context;
use async_graphql::http::{GraphiQLSource, WebSocketProtocols, WsMessage};
use async_graphql_axum::{GraphQLRequest, rejection::GraphQLRejection};
use axum::{
    Router,
    extract::{
        FromRequest, FromRequestParts, Request, State,
        ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade},
    },
    http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header},
    response::{
        Html, IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::get,
};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    limit::RequestBodyLimitLayer,
};

use crate::{
    config::Config,
    db, demo,
    domain::Domain,
    graphql::{self, LabinovSchema, loaders, subscription::ResumeFrom},
    live,
};

/// Largest request body accepted (a CSV import of a few thousand rows fits).
const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Shared by every request.
#[derive(Clone)]
pub struct AppState {
    pub schema: LabinovSchema,
    pub domain: Domain,
    /// The process's live event feed.
    pub hub: live::Hub,
    /// Interval of keep-alive pings on WebSocket and SSE connections.
    pub keepalive: Duration,
    /// Cancelled when the server stops: live connections close so clients reconnect.
    pub stop: CancellationToken,
    /// Origins other sites may call the API from.
    pub cors_origins: Vec<String>,
}

/// A built application bound to its port, ready to run.
pub struct App {
    listener: TcpListener,
    state: AppState,
}

impl App {
    /// Connects to the database, migrates it, loads the demo data if asked and the database is
    /// empty, starts the live event listener and binds the listen address.
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
        let stop = CancellationToken::new();
        let hub = live::start(&domain, config, stop.clone()).await?;
        let schema = graphql::schema()
            .data(domain.clone())
            .data(hub.clone())
            .finish();
        Ok(App {
            listener,
            state: AppState {
                schema,
                domain,
                hub,
                keepalive: Duration::from_secs(config.keepalive_secs.max(1)),
                stop,
                cors_origins: config.cors_origins.clone(),
            },
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

    pub fn hub(&self) -> &live::Hub {
        &self.state.hub
    }

    /// The router, for tests that call it without a socket.
    pub fn router(&self) -> Router {
        router(self.state.clone())
    }

    /// Serves until `shutdown` is cancelled: then live connections are closed (WebSockets with
    /// a 1012 close frame, SSE streams ended) so clients reconnect and resume, background tasks
    /// stop, and requests in flight finish.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        tracing::info!(address = %self.local_addr(), "labinov listening; GraphiQL at http://{}/", self.local_addr());
        let stop = self.state.stop.clone();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown.cancelled().await;
                stop.cancel();
            }
        });
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(async move { stop.cancelled().await })
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
    let cors = cors(&state.cors_origins);
    let router = Router::new()
        .route("/", get(graphiql))
        .route("/graphql", get(graphql_entry).post(graphql_entry))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
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

async fn graphiql() -> impl IntoResponse {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql")
            .title("labinov")
            .finish(),
    )
}

/// One URL for every client: a WebSocket upgrade on /graphql speaks graphql-transport-ws or
/// the legacy subscriptions-transport-ws; `Accept: text/event-stream` gets GraphQL over SSE;
/// anything else is GraphQL over HTTP.
async fn graphql_entry(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        let Some(protocol) = chosen_protocol(&parts.headers) else {
            return client_error(
                StatusCode::BAD_REQUEST,
                "Ask for a GraphQL WebSocket subprotocol: graphql-transport-ws or graphql-ws.",
            );
        };
        return match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
            Ok(ws) => ws
                .protocols([protocol.sec_websocket_protocol()])
                .on_upgrade(move |socket| serve_websocket(socket, protocol, state))
                .into_response(),
            Err(rejection) => rejection.into_response(),
        };
    }
    let method = parts.method.clone();
    let headers = parts.headers.clone();
    let request = match GraphQLRequest::<GraphQLRejection>::from_request(
        Request::from_parts(parts, body),
        &state,
    )
    .await
    {
        Ok(request) => request.into_inner(),
        Err(rejection) => {
            return client_error(
                StatusCode::BAD_REQUEST,
                &format!("The request is not a GraphQL request: {}", rejection.0),
            );
        }
    };
    if wants_event_stream(&headers) {
        let last_event_id = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        return server_sent_events(state, request, last_event_id);
    }
    graphql_over_http(state, method, &headers, request).await
}

/// GraphQL over HTTP as the spec asks: POST and GET (GET for queries only, 405 otherwise),
/// `application/graphql-response+json` unless the client only accepts `application/json`,
/// and 400 for a request that fails before execution (parse or validation errors).
async fn graphql_over_http(
    state: AppState,
    method: Method,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    let legacy_json = accepts_only_json(headers);
    if method == Method::GET && !is_query(&request) {
        let mut response = client_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Only queries may be sent with GET; send mutations with POST, and subscriptions over a WebSocket or with Accept: text/event-stream.",
        );
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

/// A request the server refuses before GraphQL runs, in the GraphQL error shape.
fn client_error(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{
        "message": message,
        "extensions": { "code": crate::error::code::BAD_USER_INPUT }
    }]});
    (status, axum::Json(body)).into_response()
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}

/// GraphQL over Server-Sent Events, graphql-sse "distinct connections" mode: each result is a
/// `next` event whose `id` is the result's cursor (so an EventSource resumes with
/// `Last-Event-ID`), then `complete`. On shutdown the stream just ends and the client reconnects.
fn server_sent_events(
    state: AppState,
    request: async_graphql::Request,
    last_event_id: Option<String>,
) -> Response {
    let mut request = request.data(loaders::for_request(&state.domain));
    if let Some(id) = last_event_id {
        request = request.data(ResumeFrom(id));
    }
    let events = state
        .schema
        .execute_stream(request)
        .map(|response| {
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
        .chain(futures_util::stream::once(async {
            Ok(Event::default().event("complete").data(""))
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

/// Serves one WebSocket: the GraphQL protocol the client chose, keep-alive pings, and a 1012
/// close frame when the server stops so the client reconnects and resumes.
async fn serve_websocket(socket: WebSocket, protocol: WebSocketProtocols, state: AppState) {
    let (mut sink, stream) = socket.split();
    let input = stream
        .take_while(|message| {
            futures_util::future::ready(matches!(message, Ok(m) if !matches!(m, Message::Close(_))))
        })
        .filter_map(|message| {
            futures_util::future::ready(match message {
                Ok(Message::Text(text)) => Some(text.as_str().as_bytes().to_vec()),
                Ok(Message::Binary(bytes)) => Some(bytes.to_vec()),
                _ => None,
            })
        });
    let domain = state.domain.clone();
    let mut output = async_graphql::http::WebSocket::new(state.schema.clone(), input, protocol)
        .on_connection_init(move |_payload| async move {
            let mut data = async_graphql::Data::default();
            data.insert(loaders::for_request(&domain));
            Ok(data)
        });
    let ping = match protocol {
        WebSocketProtocols::GraphQLWS => r#"{"type":"ping"}"#,
        WebSocketProtocols::SubscriptionsTransportWS => r#"{"type":"ka"}"#,
    };
    let mut keepalive = tokio::time::interval(state.keepalive);
    keepalive.tick().await;
    loop {
        tokio::select! {
            message = output.next() => match message {
                Some(WsMessage::Text(text)) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break;
                    }
                }
                Some(WsMessage::Close(code, reason)) => {
                    let _ = sink.send(Message::Close(Some(CloseFrame { code, reason: reason.into() }))).await;
                    break;
                }
                None => break,
            },
            _ = keepalive.tick() => {
                if sink.send(Message::Text(ping.into())).await.is_err() {
                    break;
                }
            }
            _ = state.stop.cancelled() => {
                let frame = CloseFrame { code: 1012, reason: "server restarting; reconnect and resume".into() };
                let _ = sink.send(Message::Close(Some(frame))).await;
                break;
            }
        }
    }
}

/// The first GraphQL subprotocol the client offers that this server speaks.
fn chosen_protocol(headers: &HeaderMap) -> Option<WebSocketProtocols> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().parse().ok())
}

/// Whether to answer as `application/json` (legacy clients): when the client accepts only that,
/// or gives no Accept header at all, as the GraphQL-over-HTTP spec asks.
fn accepts_only_json(headers: &HeaderMap) -> bool {
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    if accept.trim().is_empty() {
        return true;
    }
    accept.contains("application/json")
        && !accept.contains("application/graphql-response+json")
        && !accept.contains("*/*")
}

fn is_query(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::OperationType;
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        // Let execution report the syntax error.
        return true;
    };
    let wanted = request.operation_name.as_deref();
    document
        .operations
        .iter()
        .filter(|(name, _)| wanted.is_none() || name.map(|n| n.as_str()) == wanted)
        .all(|(_, op)| op.node.ty == OperationType::Query)
}
