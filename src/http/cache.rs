//! The response cache of GraphQL over HTTP. Dashboards ask the same query again and again
//! while the data behind it rarely changes; a kept answer is served without parsing,
//! validating, reading or serializing anything again.
//!
//! It is exact, not timed: an answer is kept with the data's version
//! ([`Domain::data_version`](crate::domain::Domain::data_version), one cheap statement per
//! request), and any committed write — on this instance or another sharing the database —
//! changes the version, so the next request finds nothing kept and runs. The key is everything
//! the answer depends on besides the data: the document's text (a persisted query's too), the
//! operation name, the variables and the caller
//! ([`Caller::cache_identity`](crate::access::Caller::cache_identity)), compared in full. Not kept: answers with an
//! error, mutations, and answers that read the clock or the event log
//! ([`volatile`](crate::domain::volatile)).

use std::sync::Mutex;

use axum::body::Bytes;
use lru::LruCache;

use crate::domain::event::DataVersion;

/// The kept answers: all of one data version, the most recently used first.
pub struct ResponseCache {
    budget: usize,
    kept: Mutex<Kept>,
}

struct Kept {
    version: Option<DataVersion>,
    answers: LruCache<String, Bytes>,
    bytes: usize,
}

/// What a request asks, in full: two requests with the same key get the same answer from the
/// same data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key(String);

impl Key {
    /// The key of a request whose document text is `text` (a persisted query's resolved text)
    /// made by the caller of [`Caller::cache_identity`] `caller`.
    pub fn of(text: &str, request: &async_graphql::Request, caller: &str) -> Option<Self> {
        let variables = serde_json::to_string(&request.variables).ok()?;
        // No operation name and an empty one are different requests (the second is refused).
        let operation = match request.operation_name.as_deref() {
            Some(name) => format!("={name}"),
            None => String::new(),
        };
        let key = format!("{caller}\u{0}{operation}\u{0}{variables}\u{0}{text}");
        (key.len() <= MAX_KEY).then_some(Self(key))
    }

    fn size(&self) -> usize {
        self.0.len()
    }
}

/// The longest key kept: a request with more text and variables than this (variables it does
/// not even declare count) is not kept, so that a few of them cannot push everyone's answers
/// out.
const MAX_KEY: usize = 16 * 1024;

/// The largest share of the budget one answer may take.
const MAX_SHARE: usize = 64;

/// Whether one version is the other or a later one: both of its sums only grow.
fn not_older(version: DataVersion, than: DataVersion) -> bool {
    version.events >= than.events && version.mentors >= than.mentors
}

impl ResponseCache {
    /// A cache keeping at most `budget` bytes of answers and keys; None when `budget` is 0.
    pub fn new(budget: usize) -> Option<Self> {
        (budget > 0).then(|| Self {
            budget,
            kept: Mutex::new(Kept {
                version: None,
                answers: LruCache::unbounded(),
                bytes: 0,
            }),
        })
    }

    /// The answer kept for `key`, if it was made from data of `version`.
    pub fn get(&self, key: &Key, version: DataVersion) -> Option<Bytes> {
        let mut kept = self.lock();
        kept.move_to(version);
        if kept.version != Some(version) {
            return None;
        }
        kept.answers.get(&key.0).cloned()
    }

    /// Keeps `body` as the answer to `key` on data of `version`, and tells whether it did: a
    /// request that read an older version than the kept ones keeps nothing (its answer may be
    /// older than theirs), nor does an answer larger than a 64th of the budget.
    pub fn put(&self, key: Key, version: DataVersion, body: Bytes) -> bool {
        let size = key.size() + body.len();
        if size > self.budget / MAX_SHARE {
            return false;
        }
        let mut kept = self.lock();
        kept.move_to(version);
        if kept.version != Some(version) {
            return false;
        }
        let key_size = key.size();
        kept.bytes += size;
        if let Some(old) = kept.answers.put(key.0, body) {
            kept.bytes -= key_size + old.len();
        }
        while kept.bytes > self.budget {
            let Some((key, body)) = kept.answers.pop_lru() else {
                break;
            };
            kept.bytes -= key.len() + body.len();
        }
        true
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.lock().answers.len()
    }

    /// Whether no answer is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        // A panic while holding the lock leaves nothing half-done worth refusing: the map is
        // only ever inserted into or cleared.
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Kept {
    /// Forgets every answer once a later version is seen.
    fn move_to(&mut self, version: DataVersion) {
        match self.version {
            Some(current) if current == version || !not_older(version, current) => {}
            _ => {
                self.version = Some(version);
                self.answers.clear();
                self.bytes = 0;
            }
        }
    }
}

impl std::fmt::Debug for ResponseCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseCache")
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Key {
        Key::of(text, &async_graphql::Request::new(text), "caller").expect("a key")
    }

    const V1: DataVersion = DataVersion {
        events: 10,
        mentors: 3,
    };
    const V2: DataVersion = DataVersion {
        events: 11,
        mentors: 3,
    };

    #[test]
    fn a_later_version_forgets_everything_and_an_older_one_keeps_nothing() {
        let cache = ResponseCache::new(1 << 20).expect("on");
        assert!(cache.put(key("{ a }"), V1, Bytes::from_static(b"A")));
        assert_eq!(cache.get(&key("{ a }"), V1).as_deref(), Some(&b"A"[..]));
        assert_eq!(cache.get(&key("{ a }"), V2), None);
        assert!(cache.is_empty());
        // A request that read the version before the write finishes after it: not kept.
        assert!(!cache.put(key("{ a }"), V1, Bytes::from_static(b"old")));
        assert!(cache.is_empty());
        assert_eq!(cache.get(&key("{ a }"), V1), None);
    }

    #[test]
    fn the_least_recently_used_answers_go_when_the_budget_is_spent() {
        let body = Bytes::from(vec![b'x'; 1000]);
        let cache = ResponseCache::new(64 * 1024).expect("on");
        for n in 0..100 {
            assert!(cache.put(key(&format!("{{ q{n} }}")), V1, body.clone()));
            // q0 is asked all along: it stays.
            let _ = cache.get(&key("{ q0 }"), V1);
        }
        assert!(cache.len() < 66, "{} answers kept in 64 KiB", cache.len());
        assert!(cache.get(&key("{ q0 }"), V1).is_some());
        assert!(cache.get(&key("{ q1 }"), V1).is_none());
        assert!(cache.get(&key("{ q99 }"), V1).is_some());
        // An answer bigger than a 64th of the budget is not kept at all.
        assert!(!cache.put(key("{ big }"), V1, Bytes::from(vec![b'x'; 2 * 1024])));
        assert!(cache.get(&key("{ big }"), V1).is_none());
        // Nor is a request with a huge key.
        let mut long = async_graphql::Request::new("{ a }");
        long.variables = async_graphql::Variables::from_json(
            serde_json::json!({ "unused": "x".repeat(MAX_KEY) }),
        );
        assert!(Key::of("{ a }", &long, "caller").is_none());
        let named = async_graphql::Request::new("{ a }").operation_name("");
        assert_ne!(
            Key::of("{ a }", &named, "caller"),
            Key::of("{ a }", &async_graphql::Request::new("{ a }"), "caller"),
            "an empty operation name is another request"
        );
        assert!(ResponseCache::new(0).is_none(), "0 turns it off");
    }
}
