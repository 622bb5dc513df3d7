//! Automatic persisted queries (Apollo's `persistedQuery` extension, version 1): a client sends
//! a query's SHA-256 instead of its text once the server has seen it, so dashboards and event
//! screens send a few dozen bytes per request. The text is kept, not the parsed document, so
//! every request still goes through the request-shape limits.

use std::{num::NonZeroUsize, sync::Mutex};

use async_graphql::{Request, ServerError, Value};
use lru::LruCache;
use sha2::{Digest, Sha256};

/// The code of a hash the server does not know (the client then sends the text with it).
pub const NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";

/// Query texts by their SHA-256, the most recently used kept.
pub struct PersistedQueries {
    texts: Mutex<LruCache<String, String>>,
}

impl std::fmt::Debug for PersistedQueries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PersistedQueries").finish_non_exhaustive()
    }
}

impl PersistedQueries {
    pub fn new(capacity: usize) -> Self {
        Self {
            texts: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    /// The text a hash-only request stands for, if the server knows it (for the transport's
    /// checks, which must see what will run).
    pub fn text_of(&self, request: &Request) -> Option<String> {
        let extension = serde_json::to_value(request.extensions.get("persistedQuery")?).ok()?;
        let hash = extension["sha256Hash"].as_str()?.to_ascii_lowercase();
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
                crate::error::code::BAD_USER_INPUT,
            ));
        }
        let Some(hash) = extension["sha256Hash"]
            .as_str()
            .filter(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
        else {
            return Err(coded(
                "persistedQuery.sha256Hash must be the query's SHA-256 in hex.",
                crate::error::code::BAD_USER_INPUT,
            ));
        };
        let mut texts = self
            .texts
            .lock()
            .map_err(|_| ServerError::new("internal server error", None))?;
        if request.query.is_empty() {
            let text = texts
                .get(&hash)
                .cloned()
                .ok_or_else(|| coded("PersistedQueryNotFound", NOT_FOUND))?;
            request.query = text;
            return Ok(());
        }
        let actual = format!("{:x}", Sha256::digest(request.query.as_bytes()));
        if actual != hash {
            return Err(coded(
                "persistedQuery.sha256Hash is not the SHA-256 of the query sent with it.",
                crate::error::code::BAD_USER_INPUT,
            ));
        }
        texts.put(hash, request.query.clone());
        Ok(())
    }
}

fn coded(message: &str, code: &str) -> ServerError {
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
        let cache = PersistedQueries::new(4);
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
}
