//! The one GraphQL URL: a WebSocket upgrade speaks graphql-transport-ws or the legacy
//! subscriptions-transport-ws; `Accept: text/event-stream` gets GraphQL over SSE; anything else
//! is GraphQL over HTTP.
//!
//! Writes only come through POST with a JSON body, a multipart upload carrying its token in the
//! `Authorization` header, or an initialised WebSocket: a GET (a link, an `<img>`, an
//! EventSource) and a POST a cross-site HTML form can send (`text/plain`, form encodings without
//! that header) never reach a mutation.

use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};

use async_graphql::Executor as _;
use async_graphql::parser::types::OperationType;
use async_graphql_axum::{GraphQLRequest, rejection::GraphQLRejection};
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Request, State, ws::WebSocketUpgrade},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::{
    cache,
    context::{EventStreams, Requester, client_error, peer_ip, wants_event_stream},
    origin, sse, uploads, websocket,
};
use crate::{domain::event::DataVersion, error::ErrorCode, http::state::AppState};

/// Bytes a WebSocket reads at a time (larger messages still arrive whole: the buffer grows for
/// them). Clients send a few small messages per connection — `connection_init`, `subscribe`,
/// `pong` — while an idle subscriber keeps this buffer for hours.
const WS_READ_BUFFER: usize = 1024;

/// A request body that notes in `over` when it outgrows the body limit: the GraphQL reader
/// turns body errors into text, so the limit is recognised here, by the error's type.
fn noting_overflow(body: axum::body::Body, over: Arc<AtomicBool>) -> axum::body::Body {
    use http_body_util::BodyExt as _;
    axum::body::Body::new(body.map_err(move |err| {
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        while let Some(err) = cause {
            if err.is::<http_body_util::LengthLimitError>() {
                over.store(true, Ordering::Relaxed);
            }
            cause = err.source();
        }
        err
    }))
}

/// Whether the body is JSON, but not of a GraphQL request's shape.
fn wrong_shape(err: &async_graphql::ParseRequestError) -> bool {
    matches!(err, async_graphql::ParseRequestError::InvalidRequest(inner)
        if inner.downcast_ref::<serde_json::Error>().is_some_and(serde_json::Error::is_data))
}

/// A body that does not fit in its address's budget (429) or the server's (503).
pub(super) fn over_body_budget(state: &AppState, over: super::bodies::Over) -> Response {
    let (status, code, limit, max, message) = match over {
        super::bodies::Over::Address(held) => (
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyLargeRequests,
            "bodyBytesPerAddress",
            state.limits.max_body_bytes_per_address,
            format!(
                "Your address is already sending {held} bytes of requests; wait for them to finish."
            ),
        ),
        super::bodies::Over::Server(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "bodyBytesInFlight",
            state.limits.max_body_bytes_in_flight,
            "The server is receiving as many large requests as it takes at once; try again in a moment.".to_owned(),
        ),
    };
    let body = serde_json::json!({ "errors": [{
        "message": message,
        "extensions": { "code": code, "limit": limit, "max": max }
    }]});
    let mut response = (status, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A place for one more live stream (and, for an event stream, subscription) of the client's
/// address, or the 429 that refuses it.
fn stream_places(
    state: &AppState,
    peer: Option<std::net::IpAddr>,
    subscription: bool,
) -> Result<Vec<super::address::Slot>, Box<Response>> {
    use super::address::Holding;
    let Some(ip) = peer else {
        return Ok(Vec::new());
    };
    let mut held = Vec::new();
    let wanted: &[Holding] = if subscription {
        &[Holding::Stream, Holding::Subscription]
    } else {
        &[Holding::Stream]
    };
    for holding in wanted {
        let Some(slot) = state.per_address.take(ip, *holding) else {
            let max = state.per_address.cap(*holding);
            let (code, limit, what) = match holding {
                Holding::Subscription => (
                    ErrorCode::TooManySubscriptions,
                    "subscriptionsPerAddress",
                    "subscriptions",
                ),
                _ => (
                    ErrorCode::TooManyStreams,
                    "streamsPerAddress",
                    "WebSockets and event streams",
                ),
            };
            let body = serde_json::json!({ "errors": [{
                "message": format!("Your address already holds {max} open {what}, the most one address may; close one first."),
                "extensions": { "code": code, "limit": limit, "max": max }
            }]});
            return Err(Box::new(
                (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response(),
            ));
        };
        held.push(slot);
    }
    Ok(held)
}

/// Upgrades a request to a GraphQL WebSocket: same-site or allowed origins only, one of the two
/// subprotocols, a stream place of the client's address held for as long as the socket is open.
async fn websocket_upgrade(state: AppState, mut parts: axum::http::request::Parts) -> Response {
    if !origin::allowed(&parts.headers, &state.cors_origins) {
        return forbidden_origin();
    }
    let Some(protocol) = websocket::chosen_protocol(&parts.headers) else {
        return client_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "Ask for a GraphQL WebSocket subprotocol: graphql-transport-ws or graphql-ws.",
        );
    };
    let peer = peer_ip(&parts.extensions);
    let stream_place = match stream_places(&state, peer, false) {
        Ok(place) => place,
        Err(refused) => return *refused,
    };
    // The socket keeps its place under the connection cap for as long as it is open.
    let slot = parts.extensions.remove::<super::server::ConnectionSlot>();
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => ws
            .protocols([protocol.sec_websocket_protocol()])
            .max_message_size(state.limits.max_ws_message_bytes)
            .max_frame_size(state.limits.max_ws_message_bytes)
            // tungstenite reads into a 128 KiB buffer per socket by default: most of an idle
            // subscriber's memory, zeroed again as it fills. Client messages are small.
            .read_buffer_size(WS_READ_BUFFER)
            .on_upgrade(move |socket| async move {
                // Counted until its close frame is sent: a stopping server waits for it.
                let open = state.live_connections.token();
                websocket::serve(socket, protocol, state, peer).await;
                drop((slot, open, stream_place));
            })
            .into_response(),
        Err(rejection) => rejection.into_response(),
    }
}

/// A POST body's place in the per-address and server budgets, taken (by its declared length,
/// at most `limit`) before it is read and held until the answer is made; or the refusal.
pub(super) fn body_place(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<std::net::IpAddr>,
    limit: usize,
) -> Result<super::bodies::BodyPlace, Box<Response>> {
    let declared = declared_length(headers).map_or(limit, |n| n.min(limit));
    state
        .bodies
        .take(peer, declared)
        .map_err(|over| Box::new(over_body_budget(state, over)))
}

/// A POST body's place in the budgets, as for [`body_place`]; an upload is a write, so it
/// first needs a user's token, in the header a cross-site form cannot send.
fn post_place(
    state: &AppState,
    headers: &HeaderMap,
    caller: &crate::access::Caller,
    peer: Option<std::net::IpAddr>,
    upload: bool,
) -> Result<super::bodies::BodyPlace, Box<Response>> {
    if !upload {
        return body_place(state, headers, peer, state.limits.max_body_bytes);
    }
    if caller.as_user().is_none() || !headers.contains_key(header::AUTHORIZATION) {
        return Err(Box::new(super::context::unauthenticated(
            "File uploads need a REGENCY_ADMIN or ADMIN token in the Authorization header (Bearer …).",
        )));
    }
    // A token that may write nothing is turned back before its body is read.
    caller
        .check_may_write()
        .map_err(|err| Box::new(super::context::refused(&err, "The upload")))?;
    body_place(state, headers, peer, uploads::body_limit(state))
}

/// How long a request may take, reading its body included: an upload's time, or a request's.
fn time_limit(state: &AppState, upload: bool) -> std::time::Duration {
    if upload {
        state.upload_timeout
    } else {
        state.request_timeout
    }
}

/// Reads a multipart upload (the GraphQL multipart request spec): every file at most the
/// evidence limit, spooled to a temporary file, the whole body within [`uploads::body_limit`].
async fn read_upload(
    state: &AppState,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
) -> Result<async_graphql::Request, GraphQLRejection> {
    use futures_util::TryStreamExt as _;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let reader = body
        .into_data_stream()
        .map_err(|err| std::io::Error::other(err.to_string()))
        .into_async_read();
    let options = async_graphql::http::MultipartOptions::default()
        .max_file_size(state.limits.evidence_max_bytes)
        .max_num_files(uploads::FILES_PER_REQUEST);
    let request = async_graphql::http::receive_body(content_type, reader, options).await?;
    // async-graphql's count only sizes the stream; the files are counted here.
    if request.uploads.len() > uploads::FILES_PER_REQUEST {
        return Err(GraphQLRejection(
            async_graphql::ParseRequestError::PayloadTooLarge,
        ));
    }
    Ok(request)
}

/// Reads the GraphQL request within the request time-out (an upload's), the body within its
/// limit.
async fn read_request(
    state: &AppState,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
    upload: bool,
) -> Result<async_graphql::Request, Box<Response>> {
    let timeout = time_limit(state, upload);
    let over_limit = Arc::new(AtomicBool::new(false));
    // The route takes bodies as large as an upload's; other requests keep the body limit.
    let body = if upload {
        body
    } else {
        axum::body::Body::new(http_body_util::Limited::new(
            body,
            state.limits.max_body_bytes,
        ))
    };
    let body = noting_overflow(body, over_limit.clone());
    let mut too_many_values = false;
    let read = async {
        if upload {
            return read_upload(state, parts, body).await;
        }
        // Read whole first, to count its values before they are parsed.
        let bytes = axum::body::to_bytes(body, usize::MAX)
            .await
            .map_err(|err| GraphQLRejection(std::io::Error::other(err.to_string()).into()))?;
        if !super::bodies::json_values_within(&bytes, super::bodies::MAX_JSON_VALUES) {
            too_many_values = true;
            return Err(GraphQLRejection(
                async_graphql::ParseRequestError::PayloadTooLarge,
            ));
        }
        GraphQLRequest::<GraphQLRejection>::from_request(
            Request::from_parts(parts, axum::body::Body::from(bytes)),
            &state,
        )
        .await
        .map(GraphQLRequest::into_inner)
    };
    // The body of a GraphQL-over-HTTP request must arrive within the request time-out too.
    let read = tokio::time::timeout(timeout, read).await;
    if too_many_values {
        return Err(Box::new(too_many_json_values()));
    }
    match read {
        Ok(Ok(request)) => Ok(request),
        Ok(Err(GraphQLRejection(async_graphql::ParseRequestError::PayloadTooLarge))) if upload => {
            Err(Box::new(uploads::too_large(state)))
        }
        Ok(Err(_)) if over_limit.load(Ordering::Relaxed) && upload => Err(Box::new(
            uploads::file_too_large(state.limits.evidence_max_bytes),
        )),
        Ok(Err(_)) if over_limit.load(Ordering::Relaxed) => Err(Box::new(too_large())),
        Ok(Err(rejection)) => {
            let reason = if matches!(
                rejection.0,
                async_graphql::ParseRequestError::MissingOperatorsPart
            ) {
                "the multipart request has no `operations` part".to_owned()
            } else if wrong_shape(&rejection.0) {
                // serde's words for JSON of the wrong shape name a type of async-graphql's.
                "send a JSON object with a \"query\" string, and \"variables\", \"operationName\" \
                 and \"extensions\" if needed"
                    .to_owned()
            } else {
                rejection.0.to_string()
            };
            Err(Box::new(client_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadUserInput,
                &format!("The request is not a GraphQL request: {reason}."),
            )))
        }
        Err(_) => Err(Box::new(timed_out(timeout))),
    }
}

pub async fn graphql_entry(State(state): State<AppState>, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if upgrade {
        return websocket_upgrade(state, parts).await;
    }
    let method = parts.method.clone();
    let headers = parts.headers.clone();
    let upload = method == Method::POST && is_multipart(&headers);
    if method == Method::POST && !is_json(&headers) && !upload {
        return client_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "Send GraphQL requests with Content-Type: application/json (multipart/form-data for file uploads).",
        );
    }
    let event_stream = wants_event_stream(&headers);
    if event_stream && !origin::allowed(&headers, &state.cors_origins) {
        return forbidden_origin();
    }
    let Requester { caller, peer, .. } =
        match Requester::<EventStreams>::from_request_parts(&mut parts, &state).await {
            Ok(requester) => requester,
            Err(refused) => return refused,
        };
    let expires_at = caller.expires_at();
    // A POST's body takes its place in the budgets before it is read, and keeps it until the
    // answer is made.
    let _body_place = if method == Method::POST {
        match post_place(&state, &headers, &caller, peer, upload) {
            Ok(place) => Some(place),
            Err(refused) => return *refused,
        }
    } else {
        None
    };
    let hide_schema = state.limits.no_anonymous_introspection && caller.as_user().is_none();
    let timeout = time_limit(&state, upload);
    let request = match read_request(&state, parts, body, upload).await {
        Ok(request) => request,
        Err(refused) => return *refused,
    };
    if request.query.trim().is_empty() && !request.extensions.contains_key("persistedQuery") {
        return client_error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadUserInput,
            "The request has no query: send the GraphQL document as the \"query\" string.",
        );
    }
    let identity = caller.cache_identity();
    let mut request = request.data(caller);
    if event_stream || method == Method::GET {
        request = request.data(crate::graphql::limits::QueriesOnly);
    }
    if hide_schema {
        request = request.disable_introspection();
    }
    if event_stream {
        if !every_operation(&state, &request, |ty| ty != OperationType::Mutation) {
            return writes_need_post();
        }
        let places = match stream_places(&state, peer, true) {
            Ok(places) => places,
            Err(refused) => return *refused,
        };
        let last_event_id = headers
            .get("last-event-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        return sse::serve(&state, request, last_event_id, expires_at, places);
    }
    let asked = graphql_over_http(state, method, &headers, request, identity);
    match tokio::time::timeout(timeout, asked).await {
        Ok(response) => response,
        Err(_) => timed_out(timeout),
    }
}

/// GraphQL over HTTP as the spec asks: POST and GET (GET for queries only, 405 otherwise),
/// `application/graphql-response+json` unless the client only accepts `application/json`,
/// and 400 for a request that fails before execution (parse or validation errors).
async fn graphql_over_http(
    state: AppState,
    method: Method,
    headers: &HeaderMap,
    request: async_graphql::Request,
    identity: Option<String>,
) -> Response {
    let legacy_json = accepts_only_json(headers);
    // Only queries are kept: a kept answer needs no further check.
    let cached = match identity {
        Some(identity) => kept_answer(&state, &request, &identity).await,
        None => Kept::Skip,
    };
    if let Kept::Hit(body) = cached {
        return answer(StatusCode::OK, legacy_json, body, Some("hit"));
    }
    if method == Method::GET && !every_operation(&state, &request, |ty| ty == OperationType::Query)
    {
        return writes_need_post();
    }
    let keep = match cached {
        Kept::Miss(key, version) => Some((key, version)),
        Kept::Hit(_) | Kept::Skip => None,
    };
    let request = match &keep {
        // The version just read bounds what the answer may be older than (a replica's).
        Some((_, version)) => request.data(crate::graphql::engine::SeenVersion(*version)),
        None => request,
    };
    let (response, volatile) =
        crate::domain::volatile::tracking(state.engine.execute(request)).await;
    let request_error = crate::graphql::errors::refused_before_running(&response);
    let status = if request_error && !legacy_json {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = if request_error {
        // The request never ran: the answer then has no `data` at all (the GraphQL spec's
        // "Response"), under either media type.
        serde_json::to_vec(&serde_json::json!({ "errors": response.errors }))
    } else {
        // Straight from the response, whose fields keep the order they were asked for.
        serde_json::to_vec(&response)
    }
    .unwrap_or_default();
    let body = Bytes::from(body);
    let mut outcome = None;
    if let (Some((key, version)), Some(cache)) = (keep, &state.response_cache) {
        if response.errors.is_empty() && !volatile && cache.put(key, version, body.clone()) {
            outcome = Some("miss");
        } else {
            metrics::counter!("labinov_response_cache_total", "outcome" => "unkept").increment(1);
        }
    }
    answer(status, legacy_json, body, outcome)
}

/// What the response cache holds for a request.
enum Kept {
    /// The answer, made from data of the current version.
    Hit(Bytes),
    /// Nothing yet: the answer may be kept under this key and version.
    Miss(cache::Key, DataVersion),
    /// The cache is off, or cannot tell (the version could not be read).
    Skip,
}

/// Looks the request up in the response cache: one statement reads the data's version.
async fn kept_answer(state: &AppState, request: &async_graphql::Request, identity: &str) -> Kept {
    let Some(cache) = &state.response_cache else {
        return Kept::Skip;
    };
    let persisted;
    let text = if request.extensions.contains_key("persistedQuery") {
        // Checked and remembered as a run would: a kept answer must not skip the hash's checks,
        // nor leave the hash unknown for the next hash-only request.
        let mut probe = async_graphql::Request::new(request.query.clone());
        probe.extensions.clone_from(&request.extensions);
        if state.persisted.resolve(&mut probe).is_err() {
            return Kept::Skip;
        }
        persisted = probe.query;
        persisted.as_str()
    } else {
        request.query.as_str()
    };
    // Only queries are looked up and kept: a mutation or subscription cannot be written without
    // its keyword, so a document without either holds queries only (and a write does not pay
    // for reading the version).
    if text.contains("mutation") || text.contains("subscription") {
        return Kept::Skip;
    }
    let Some(key) = cache::Key::of(text, request, identity) else {
        return Kept::Skip;
    };
    // A database that cannot answer this cannot answer the query either: it runs and says so.
    let Ok(version) = state.domain.data_version().await else {
        return Kept::Skip;
    };
    if let Some(body) = cache.get(&key, version) {
        metrics::counter!("labinov_response_cache_total", "outcome" => "hit").increment(1);
        Kept::Hit(body)
    } else {
        metrics::counter!("labinov_response_cache_total", "outcome" => "miss").increment(1);
        Kept::Miss(key, version)
    }
}

/// A GraphQL-over-HTTP answer; `cache` tells whether it came from the response cache (`hit`)
/// or was kept in it (`miss`), in the `x-labinov-cache` header.
fn answer(
    status: StatusCode,
    legacy_json: bool,
    body: Bytes,
    cache: Option<&'static str>,
) -> Response {
    let content_type = if legacy_json {
        "application/json"
    } else {
        "application/graphql-response+json"
    };
    let mut response = (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response();
    if let Some(cache) = cache {
        response
            .headers_mut()
            .insert(CACHE_HEADER, HeaderValue::from_static(cache));
    }
    response
}

/// The response header telling whether an answer came from the response cache.
pub const CACHE_HEADER: &str = "x-labinov-cache";

/// A request body over the configured limit.
pub fn too_large() -> Response {
    client_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        "The request body is larger than this server accepts (LABINOV_MAX_BODY_BYTES); send less, or split a CSV import.",
    )
}

/// A body whose JSON holds more values than [`super::bodies::MAX_JSON_VALUES`].
fn too_many_json_values() -> Response {
    let max = super::bodies::MAX_JSON_VALUES;
    let body = serde_json::json!({ "errors": [{
        "message": format!("The request holds more than {max} JSON values (numbers, strings, lists and objects); send fewer, or split a CSV import."),
        "extensions": { "code": ErrorCode::PayloadTooLarge, "limit": "jsonValues", "max": max }
    }]});
    (StatusCode::PAYLOAD_TOO_LARGE, axum::Json(body)).into_response()
}

fn forbidden_origin() -> Response {
    client_error(
        StatusCode::FORBIDDEN,
        ErrorCode::Forbidden,
        "Pages from this origin may not open live connections to this server; ask its operator to add the origin to LABINOV_CORS_ORIGINS.",
    )
}

fn writes_need_post() -> Response {
    let mut response = client_error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        crate::graphql::limits::QUERIES_ONLY,
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

pub(super) fn timed_out(timeout: std::time::Duration) -> Response {
    client_error(
        StatusCode::REQUEST_TIMEOUT,
        ErrorCode::RequestTimeout,
        &format!(
            "The request took longer than {} seconds and was stopped; send a smaller request.",
            timeout.as_secs_f32()
        ),
    )
}

fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            let media = media.trim();
            media.eq_ignore_ascii_case("application/json")
                || media.eq_ignore_ascii_case("application/graphql-response+json")
        })
}

/// The body length a request declares (`Content-Length`), if it declares one.
pub(super) fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
}

/// Whether the body is a multipart form: a GraphQL multipart upload.
pub(super) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("multipart/form-data"))
}

/// Whether to answer as `application/json` (legacy clients): unless the client names
/// `application/graphql-response+json`, as the GraphQL-over-HTTP spec asks for a missing
/// Accept, `*/*` and `application/json`.
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
    !accept.contains("application/graphql-response+json")
}

/// Whether the operation to run is of a kind `allowed` accepts. A request too big to parse
/// safely, or that does not parse, is let through: execution refuses it with its reason.
fn every_operation(
    state: &AppState,
    request: &async_graphql::Request,
    allowed: impl Fn(OperationType) -> bool,
) -> bool {
    // A persisted query is checked by the text it stands for; an unknown hash runs nothing.
    let query = if request.query.is_empty() {
        state.persisted.text_of(request).unwrap_or_default()
    } else {
        request.query.clone()
    };
    if crate::graphql::limits::too_big_to_parse(&state.query_limits, &query) {
        return true;
    }
    let Ok(document) = async_graphql::parser::parse_query(&query) else {
        return true;
    };
    let wanted = request.operation_name.as_deref();
    document
        .operations
        .iter()
        .filter(|(name, _)| wanted.is_none() || name.map(async_graphql::Name::as_str) == wanted)
        .all(|(_, op)| allowed(op.node.ty))
}
