//! Evidence files over plain HTTP: `POST /evidence?idea=<ID>` takes a file's bytes as the body
//! (for scripts; browsers and GraphQL clients use `addEvidence` as a multipart request), and
//! `GET /evidence/<ID>` downloads one, with the same read rights as the idea's.
//!
//! A download is always an attachment, with `X-Content-Type-Options: nosniff` and a
//! content-security policy that runs nothing: the kept types are photos, PDFs and office
//! documents, read from the bytes at upload, and no browser renders one as a page.

use axum::{
    body::Body,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde_json::json;

use super::{
    context::{HeaderOnly, Links, QueryParams, Requester, refused},
    state::AppState,
    uploads,
};
use crate::{
    domain::evidence::NewEvidence,
    error::DomainError,
    global_id::{self, Kind},
};

/// `POST /evidence?idea=<ID>&name=<file name>[&milestone=<ID>][&description=…]`: the body is
/// the file. 201 with the file as kept and the EVIDENCE_ADDED event.
pub async fn upload(
    State(state): State<AppState>,
    Requester { caller, peer, .. }: Requester<HeaderOnly>,
    request: Request,
) -> Response {
    if caller.as_user().is_none() {
        return refused(
            &DomainError::Unauthenticated(
                "Uploading evidence needs a REGENCY_ADMIN or ADMIN token in the Authorization header (Bearer …).".to_owned(),
            ),
            UPLOAD,
        );
    }
    let (parts, body) = request.into_parts();
    let mut new = match upload_target(parts.uri.query()) {
        Ok(new) => new,
        Err(err) => return refused(&err, UPLOAD),
    };
    // Refusals the server can make without the file come before its body is read.
    let max = state.domain.evidence_limits().max_bytes;
    if super::graphql::declared_length(&parts.headers).is_some_and(|n| n > max) {
        return uploads::file_too_large(max);
    }
    if let Err(err) = state.domain.may_attach(&caller, new.idea_id).await {
        return refused(&err, UPLOAD);
    }
    let _place = match super::graphql::body_place(&state, &parts.headers, peer, max) {
        Ok(place) => place,
        Err(refusal) => return *refusal,
    };
    let read = axum::body::to_bytes(body, max);
    new.bytes = match tokio::time::timeout(state.upload_timeout, read).await {
        Ok(Ok(bytes)) => bytes.to_vec(),
        Ok(Err(_)) => return uploads::file_too_large(max),
        Err(_) => return super::graphql::timed_out(state.upload_timeout),
    };
    match state.domain.add_evidence(&caller, new).await {
        Ok(written) => created(&written.value, written.events.first()),
        Err(err) => refused(&err, UPLOAD),
    }
}

/// What an upload's refusals call it.
const UPLOAD: &str = "The upload";

/// The idea (and milestone, name, description) an upload's query names; the bytes to come.
fn upload_target(query: Option<&str>) -> Result<NewEvidence, DomainError> {
    let params = QueryParams::of(query);
    let param = |name: &str| params.get(name);
    let idea_id = param("idea").ok_or_else(|| {
        DomainError::bad_input(
            "Name the idea: POST /evidence?idea=<the idea's ID>&name=<file name>, the file as the body.",
        )
    })?;
    Ok(NewEvidence {
        idea_id: global_id::decode(Kind::Idea, idea_id)?,
        milestone_id: param("milestone")
            .map(|id| global_id::decode(Kind::Milestone, id))
            .transpose()?,
        name: param("name").unwrap_or_default().to_owned(),
        description: param("description").map(str::to_owned),
        bytes: Vec::new(),
    })
}

/// 201 with the file as kept, its download path as `Location`, and the event it recorded.
fn created(
    row: &entity::evidence::Model,
    event: Option<&entity::pipeline_event::Model>,
) -> Response {
    let url = crate::graphql::evidence::download_path(row.id);
    let body = json!({
        "evidence": {
            "id": global_id::encode(Kind::Evidence, row.id),
            "name": row.name,
            "contentType": row.content_type,
            "size": row.size,
            "sha256": row.sha256,
            "url": url,
            "uploadedAt": row.uploaded_at,
        },
        "event": event.map(|e| json!({
            "id": global_id::encode(Kind::PipelineEvent, e.id),
            "kind": e.kind.as_str(),
            "sequence": e.seq,
            "cursor": crate::live::cursor::after_event(e),
        })),
    });
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&url) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `GET /evidence/<ID>`: the file, as an attachment, to a caller who may read its idea. The
/// bytes are held in memory until sent, so a download takes its size from the same per-address
/// and server budgets as request bodies (429 or 503 past them).
pub async fn download(
    State(state): State<AppState>,
    Requester { caller, peer, .. }: Requester<Links>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    const DOWNLOAD: &str = "The download";
    let row = match global_id::decode(Kind::Evidence, &id) {
        Ok(id) => match state.domain.evidence_row(&caller, id).await {
            Ok(row) => row,
            Err(err) => return refused(&err, DOWNLOAD),
        },
        Err(err) => return refused(&err, DOWNLOAD),
    };
    let etag = format!("\"{}\"", row.sha256);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|tag| tag.trim().trim_start_matches("W/"))
                .any(|tag| tag == etag || tag == "*")
        });
    let mut response = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let size = usize::try_from(row.size).unwrap_or(usize::MAX);
        let place = match state.downloads.take(peer, size) {
            Ok(place) => place,
            Err(over) => return super::graphql::over_body_budget(&state, over),
        };
        match state.domain.evidence_bytes(&row).await {
            Ok(bytes) => {
                let length = bytes.len();
                let mut ok = (StatusCode::OK, sent_in_chunks(bytes, place)).into_response();
                ok.headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
                ok
            }
            Err(err) => return refused(&err, DOWNLOAD),
        }
    };
    let out = response.headers_mut();
    // Only the types kept reach here; the header still comes from the row, never the request.
    if let Ok(value) = HeaderValue::from_str(&row.content_type) {
        out.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&row.name)) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, value);
    }
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    // Revalidated each time: the rights to read it are checked on every download.
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// Bytes sent to the client a piece at a time, keeping their place in the download budget
/// until the last piece is taken.
fn sent_in_chunks(bytes: Vec<u8>, place: super::bodies::BodyPlace) -> Body {
    const PIECE: usize = 64 * 1024;
    let bytes = axum::body::Bytes::from(bytes);
    let pieces = futures_util::stream::unfold((bytes, Some(place)), |(mut rest, place)| async {
        if rest.is_empty() {
            drop(place);
            return None;
        }
        let piece = rest.split_to(rest.len().min(PIECE));
        Some((Ok::<_, std::convert::Infallible>(piece), (rest, place)))
    });
    Body::from_stream(pieces)
}

/// `attachment` with the name in ASCII (other characters as `_`) and in full as RFC 8187's
/// `filename*`.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_is_given_in_ascii_and_in_full() {
        assert_eq!(
            content_disposition("Foto posyandu \"baru\" ké.jpg"),
            "attachment; filename=\"Foto posyandu _baru_ k_.jpg\"; filename*=UTF-8''Foto%20posyandu%20%22baru%22%20k%C3%A9.jpg"
        );
    }
}
