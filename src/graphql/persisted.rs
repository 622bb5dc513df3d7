//! Automatic persisted queries (Apollo's `persistedQuery` extension, version 1): a client sends
//! a query's SHA-256 instead of its text once the server has seen it, so dashboards and event
//! screens send a few dozen bytes per request. The text is kept, not the parsed document, so
//! every request still goes through the request-shape limits.

use std::sync::Mutex;

use async_graphql::{Request, ServerError, Value};
use sha2::{Digest, Sha256};

use super::{kept::Kept, limits::limit_error};
use crate::error::ErrorCode;

/// Query texts by their SHA-256, the most recently used kept within a byte budget; and, when the
/// operator gives one, the list of trusted documents, the only ones callers other than ADMIN may
/// run. A text longer than the query-size limit is refused before it is kept.
pub struct PersistedQueries {
    texts: Mutex<Kept<String, String>>,
    trusted: Option<std::collections::HashMap<String, String>>,
    max_query_bytes: usize,
}

/// At most this many texts, whatever their size.
const KEPT_TEXTS: usize = 4096;

/// The SHA-256 of a document, in hex.
pub fn hash(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// Reads a trusted-document list: a JSON array of documents, or an Apollo persisted-query
/// manifest (`{"operations": [{"body": …}, …]}`).
pub fn read_trusted(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the trusted documents in {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let documents: Option<Vec<String>> = match &json {
        serde_json::Value::Array(items) => items
            .iter()
            .map(|d| d.as_str().map(str::to_owned))
            .collect(),
        serde_json::Value::Object(_) => json["operations"].as_array().and_then(|ops| {
            ops.iter()
                .map(|op| op["body"].as_str().map(str::to_owned))
                .collect()
        }),
        _ => None,
    };
    documents.with_context(|| {
        format!(
            "{} must hold a JSON array of GraphQL documents or an Apollo persisted-query manifest",
            path.display()
        )
    })
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries").finish_non_exhaustive()
    }
}

impl PersistedQueries {
    /// Keeps texts of at most `max_query_bytes` each, `budget` bytes in all.
    pub fn new(budget: usize, max_query_bytes: usize) -> Self {
        Self {
            texts: Mutex::new(Kept::new(KEPT_TEXTS, budget)),
            trusted: None,
            max_query_bytes,
        }
    }

    /// Runs only `documents` for callers other than ADMIN (the server's own pages send theirs
    /// too, so they belong in it); their hashes work without being sent first.
    #[must_use]
    pub fn trusting(mut self, documents: impl IntoIterator<Item = String>) -> Self {
        self.trusted = Some(documents.into_iter().map(|d| (hash(&d), d)).collect());
        self
    }

    /// Refuses a document outside the trusted list, when there is one, unless `trusted_caller`.
    pub fn check_trusted(&self, query: &str, trusted_caller: bool) -> Result<(), ServerError> {
        match &self.trusted {
            Some(trusted) if !trusted_caller && !trusted.contains_key(&hash(query)) => Err(coded(
                "This server runs only the documents its operator trusts (LABINOV_TRUSTED_DOCUMENTS); send one of those.",
                ErrorCode::DocumentNotTrusted,
            )),
            _ => Ok(()),
        }
    }

    /// The text a hash-only request stands for, if the server knows it (for the transport's
    /// checks, which must see what will run).
    pub fn text_of(&self, request: &Request) -> Option<String> {
        let extension = serde_json::to_value(request.extensions.get("persistedQuery")?).ok()?;
        let hash = extension["sha256Hash"].as_str()?.to_ascii_lowercase();
        if let Some(text) = self.trusted.as_ref().and_then(|t| t.get(&hash)) {
            return Some(text.clone());
        }
        self.texts.lock().ok()?.peek(&hash).cloned()
    }

    /// Fills in the text of a request that sent only a hash, and remembers the text of one
    /// that sent both; requests without the extension pass unchanged.
    pub fn resolve(&self, request: &mut Request) -> Result<(), ServerError> {
        let Some(extension) = request.extensions.get("persistedQuery") else {
            return Ok(());
        };
        let extension = serde_json::to_value(extension).unwrap_or_default();
        if extension["version"] != 1 {
            return Err(coded(
                "Only version 1 of the persistedQuery extension is supported.",
                ErrorCode::BadUserInput,
            ));
        }
        let Some(hash) = extension["sha256Hash"]
            .as_str()
            .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
        else {
            return Err(coded(
                "persistedQuery.sha256Hash must be the query's SHA-256 in hex.",
                ErrorCode::BadUserInput,
            ));
        };
        let mut texts = self
            .texts
            .lock()
            .map_err(|_| ServerError::new("internal server error", None))?;
        if request.query.is_empty() {
            let trusted = self.trusted.as_ref().and_then(|t| t.get(&hash));
            let text = trusted
                .cloned()
                .or_else(|| texts.get(&hash).cloned())
                .ok_or_else(|| {
                    // Not a sentence on purpose: Apollo's persisted-queries link (and the
                    // clients that copied it) compare the message with this exact word
                    // before they send the query again with its text.
                    coded("PersistedQueryNotFound", ErrorCode::PersistedQueryNotFound)
                })?;
            request.query = text;
            return Ok(());
        }
        if request.query.len() > self.max_query_bytes {
            return Err(limit_error(
                ErrorCode::QueryTooLarge,
                "queryBytes",
                self.max_query_bytes,
                format!(
                    "The query is {} bytes long; at most {} are accepted. Send a shorter query.",
                    request.query.len(),
                    self.max_query_bytes
                ),
            ));
        }
        let actual = format!("{:x}", Sha256::digest(request.query.as_bytes()));
        if actual != hash {
            return Err(coded(
                "persistedQuery.sha256Hash is not the SHA-256 of the query sent with it.",
                ErrorCode::BadUserInput,
            ));
        }
        let weight = hash.len() + request.query.len();
        texts.put(hash, request.query.clone(), weight);
        Ok(())
    }
}

fn coded(message: &str, code: ErrorCode) -> ServerError {
    let mut error = ServerError::new(message, None);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", Value::from(code));
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_hash(query: &str, hash: &str) -> Request {
        let mut request = Request::new(query);
        request.extensions.insert(
            "persistedQuery".to_owned(),
            Value::from_json(serde_json::json!({ "version": 1, "sha256Hash": hash }))
                .expect("a value"),
        );
        request
    }

    #[test]
    fn a_hash_finds_its_text_once_the_text_was_sent() {
        let cache = PersistedQueries::new(1 << 20, 1024);
        let query = "{ stages { count } }";
        let hash = format!("{:x}", Sha256::digest(query.as_bytes()));
        let mut unknown = with_hash("", &hash);
        assert!(cache.resolve(&mut unknown).is_err());
        assert!(cache.resolve(&mut with_hash(query, &hash)).is_ok());
        let mut known = with_hash("", &hash);
        assert!(cache.resolve(&mut known).is_ok());
        assert_eq!(known.query, query);
        let mut forged = with_hash("{ funnel { total } }", &hash);
        assert!(
            cache.resolve(&mut forged).is_err(),
            "a hash must match its text"
        );
    }

    #[test]
    fn a_text_over_the_size_limit_is_refused_and_not_kept_and_the_budget_holds() {
        let cache = PersistedQueries::new(10_000, 1024);
        let long = format!("{{ stages {{ count }} }}#{}", "x".repeat(2000));
        let refused = cache
            .resolve(&mut with_hash(&long, &hash(&long)))
            .expect_err("too long");
        assert_eq!(
            refused.extensions.and_then(|e| e.get("code").cloned()),
            Some(Value::from("QUERY_TOO_LARGE"))
        );
        assert!(cache.texts.lock().expect("lock").is_empty());
        for i in 0..100 {
            let text = format!("{{ stages {{ count }} }}#{i}{}", "x".repeat(900));
            cache
                .resolve(&mut with_hash(&text, &hash(&text)))
                .expect("kept");
        }
        assert!(cache.texts.lock().expect("lock").bytes() <= 10_000);
    }
}
