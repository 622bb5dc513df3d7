//! What an upload may be: a file of evidence and the request around it, and the refusals past
//! those sizes. The GraphQL URL (multipart requests) and `POST /evidence` share them.

use axum::{http::StatusCode, response::Response};

use super::{context::client_error, state::AppState};
use crate::error::ErrorCode;

/// Bytes a multipart upload request may carry beyond its file (the operations and the map).
pub const MULTIPART_OVERHEAD: usize = 64 * 1024;

/// A file larger than evidence may be.
pub fn file_too_large(max: usize) -> Response {
    client_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        &format!(
            "The file is larger than this server keeps: evidence files are at most {max} bytes (LABINOV_EVIDENCE_MAX_BYTES)."
        ),
    )
}

/// A multipart upload over one of its limits.
pub fn too_large(state: &AppState) -> Response {
    let (max, files) = (state.limits.evidence_max_bytes, FILES_PER_REQUEST);
    client_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorCode::PayloadTooLarge,
        &format!(
            "The upload is larger than this server takes: at most {files} files in one request, each at most {max} bytes (LABINOV_EVIDENCE_MAX_BYTES)."
        ),
    )
}

/// Files one multipart request may carry.
pub const FILES_PER_REQUEST: usize = 10;

/// The largest body of a multipart upload: one file of the evidence limit and the request
/// around it.
pub fn body_limit(state: &AppState) -> usize {
    state.limits.evidence_max_bytes + MULTIPART_OVERHEAD
}
