//! Who sent a request and from where: the token read and verified, the caller made from it,
//! the client's address, and the rate limits checked — the steps every handler that runs
//! operations takes first, as one extractor.

use std::{marker::PhantomData, net::IpAddr};

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{IntoResponse, Response},
};

use super::state::AppState;
use crate::{access::Caller, error::ErrorCode};

/// Where a token may come from besides the `Authorization` header.
pub trait TokenPlaces {
    /// Whether this request may carry its token as the `token` query parameter.
    fn in_query(parts: &Parts) -> bool;
}

/// Event streams may carry the token as `?token=`: an EventSource cannot send headers. Other
/// GraphQL requests may not (a token in a URL ends up in logs and histories).
pub struct EventStreams;

impl TokenPlaces for EventStreams {
    fn in_query(parts: &Parts) -> bool {
        wants_event_stream(&parts.headers)
    }
}

/// Download links may carry the token as `?token=`: a link cannot send headers.
pub struct Links;

impl TokenPlaces for Links {
    fn in_query(_: &Parts) -> bool {
        true
    }
}

/// Uploads carry their token in the `Authorization` header only: a cross-site form can send a
/// POST with any body, but not that header.
pub struct HeaderOnly;

impl TokenPlaces for HeaderOnly {
    fn in_query(_: &Parts) -> bool {
        false
    }
}

/// The caller and address of a request within its rate limits; refused with 401 for a bad,
/// expired or foreign token and 429 past a limit.
pub struct Requester<P> {
    pub caller: Caller,
    /// The client's address (the forwarded one behind a trusted proxy); None in-process.
    pub peer: Option<IpAddr>,
    places: PhantomData<P>,
}

impl<P: TokenPlaces + Send> FromRequestParts<AppState> for Requester<P> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let query = P::in_query(parts).then(|| parts.uri.query()).flatten();
        let token = request_token(&parts.headers, query).map_err(unauthenticated)?;
        let caller = state
            .caller(token.as_deref())
            .await
            .map_err(|err| unauthenticated(err.message()))?;
        let peer = peer_ip(&parts.extensions);
        state
            .rate
            .check(caller.as_user().map(|u| u.subject.as_str()), peer)
            .map_err(super::rate::too_many)?;
        Ok(Self {
            caller,
            peer,
            places: PhantomData,
        })
    }
}

/// The bearer token of a request: the `Authorization` header, or where allowed the `token`
/// query parameter. A header that is not a bearer token is an error.
fn request_token(headers: &HeaderMap, query: Option<&str>) -> Result<Option<String>, &'static str> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        return crate::auth::bearer(value)
            .map(|t| Some(t.to_owned()))
            .ok_or("Send the token as Authorization: Bearer <token>.");
    }
    Ok(query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(name, _)| name == "token")
            .map(|(_, token)| token.into_owned())
            .filter(|t| !t.is_empty())
    }))
}

/// The client's address, as the accept loop worked it out (the forwarded one behind a trusted
/// proxy); absent for in-process calls.
pub fn peer_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<super::address::ClientAddr>()
        .map(|client| client.0)
}

/// A request with a bad, expired or foreign token: 401 with the reason.
pub fn unauthenticated(message: &str) -> Response {
    let mut response = client_error(
        StatusCode::UNAUTHORIZED,
        ErrorCode::Unauthenticated,
        message,
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer error="invalid_token""#),
    );
    response
}

/// A client error outside GraphQL's own: the status, and the code and sentence in a GraphQL
/// `errors` list.
pub fn client_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [{
        "message": message,
        "extensions": { "code": code }
    }]});
    (status, axum::Json(body)).into_response()
}

/// A URL's query parameters, decoded.
pub struct QueryParams(Vec<(String, String)>);

impl QueryParams {
    pub fn of(query: Option<&str>) -> Self {
        Self(
            query
                .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
                .unwrap_or_default(),
        )
    }

    /// The first value of parameter `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A domain refusal outside GraphQL, as its HTTP status with the code and sentence; a failure
/// of the server's own is logged and answered without its details (`what` names the request,
/// e.g. "The export").
pub fn refused(err: &crate::error::DomainError, what: &str) -> Response {
    use crate::error::DomainError;
    let status = match err {
        DomainError::Internal(_) => {
            tracing::error!(error = %err.describe(), "{what} failed");
            return client_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                err.code(),
                &format!(
                    "{what} failed on the server; try again, and tell the operator if it keeps failing."
                ),
            );
        }
        DomainError::Unauthenticated(_) => return unauthenticated(err.message()),
        DomainError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        DomainError::Forbidden(_) => StatusCode::FORBIDDEN,
        DomainError::NotFound(_) => StatusCode::NOT_FOUND,
        DomainError::Conflict(_) => StatusCode::CONFLICT,
        _ => StatusCode::BAD_REQUEST,
    };
    client_error(status, err.code(), err.message())
}

/// Whether the client asks for GraphQL over SSE (`Accept: text/event-stream`).
pub fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/event-stream"))
}
