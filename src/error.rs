//! One error type for the domain and one mapping to GraphQL.
//!
//! Rule: code on the request path returns [`DomainError`]; every variant a client can cause
//! carries a sentence for a person. Infrastructure failures (database, bus) become
//! [`DomainError::Internal`]: logged in full where they are mapped, shown to clients only as
//! "internal server error". `anyhow` with `.context(..)` is for code off the request path
//! (start-up, CLI, demo data).

use async_graphql::ErrorExtensions;

macro_rules! error_codes {
    ($($(#[$doc:meta])* $variant:ident = $text:literal,)*) => {
        /// Every `extensions.code` the server sends, from the domain, the query limits and the
        /// transports alike: one list, so a code is spelled once and documented once.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $($(#[$doc])* $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order listed here.
            pub const ALL: &[Self] = &[$(Self::$variant),*];

            /// The code as clients read it, e.g. `NOT_FOUND`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }

            /// The code a client error carries, if it is one of ours.
            pub fn parse(text: &str) -> Option<Self> {
                match text {
                    $($text => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

error_codes! {
    /// No row with this id, or one the caller may not see (never told apart).
    NotFound = "NOT_FOUND",
    /// The request names something wrong: a bad value, a bad cursor, a bad file line.
    BadUserInput = "BAD_USER_INPUT",
    /// A stale version or a name already taken.
    Conflict = "CONFLICT",
    /// A pipeline move the rules do not allow.
    InvalidTransition = "INVALID_TRANSITION",
    /// A resume cursor older than the events the server still keeps.
    CursorExpired = "CURSOR_EXPIRED",
    /// No token where one is needed, or a bad, expired or foreign one.
    Unauthenticated = "UNAUTHENTICATED",
    /// A good token without the right, or a request from an origin not allowed.
    Forbidden = "FORBIDDEN",
    /// The database (or the server's intake) cannot serve now; try again.
    ServiceUnavailable = "SERVICE_UNAVAILABLE",
    /// A failure of the server's own; the details are in its log.
    InternalServerError = "INTERNAL_SERVER_ERROR",
    /// A query text over the size limit.
    QueryTooLarge = "QUERY_TOO_LARGE",
    /// A query nested or selected deeper than the limit.
    QueryTooDeep = "QUERY_TOO_DEEP",
    /// A query that would resolve more fields than the limit.
    QueryTooComplex = "QUERY_TOO_COMPLEX",
    /// More aliased fields than the limit.
    TooManyAliases = "TOO_MANY_ALIASES",
    /// More top-level fields than the limit.
    TooManyRootFields = "TOO_MANY_ROOT_FIELDS",
    /// An automatic persisted query's hash the server does not know yet: send the text.
    PersistedQueryNotFound = "PERSISTED_QUERY_NOT_FOUND",
    /// A document outside the operator's trusted list.
    DocumentNotTrusted = "DOCUMENT_NOT_TRUSTED",
    /// A body type GraphQL-over-HTTP does not take.
    UnsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE",
    /// A method the endpoint does not take (or a mutation over GET or SSE).
    MethodNotAllowed = "METHOD_NOT_ALLOWED",
    /// A request that took longer than the request time-out.
    RequestTimeout = "REQUEST_TIMEOUT",
    /// A body over the size limit.
    PayloadTooLarge = "PAYLOAD_TOO_LARGE",
    /// More operations than the per-token or per-address rate allows.
    RateLimited = "RATE_LIMITED",
    /// More WebSockets and event streams from one address than allowed.
    TooManyStreams = "TOO_MANY_STREAMS",
    /// A request head (request line and headers) over the limit.
    RequestHeadersTooLarge = "REQUEST_HEADERS_TOO_LARGE",
    /// More request bodies in flight from one address than its budget.
    TooManyLargeRequests = "TOO_MANY_LARGE_REQUESTS",
    /// More running subscriptions than a connection or an address may hold.
    TooManySubscriptions = "TOO_MANY_SUBSCRIPTIONS",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl From<ErrorCode> for async_graphql::Value {
    fn from(code: ErrorCode) -> Self {
        Self::from(code.as_str())
    }
}

/// Requests failed with SERVICE_UNAVAILABLE since the last line logged about them.
static UNAVAILABLE_LOG: Throttle = Throttle::new();

/// At most one log line a second about a kind of failure, counting those not logged.
struct Throttle {
    last_second: std::sync::atomic::AtomicU64,
    count: std::sync::atomic::AtomicU64,
}

impl Throttle {
    const fn new() -> Self {
        Self {
            last_second: std::sync::atomic::AtomicU64::new(0),
            count: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Counts one failure; returns how many there were when a line is due.
    fn due(&self) -> Option<u64> {
        use std::sync::atomic::Ordering::Relaxed;
        let count = self.count.fetch_add(1, Relaxed) + 1;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let last = self.last_second.load(Relaxed);
        (now > last
            && self
                .last_second
                .compare_exchange(last, now, Relaxed, Relaxed)
                .is_ok())
        .then(|| {
            self.count.store(0, Relaxed);
            count
        })
    }
}

/// Deliberately not `Display`: async-graphql converts any `Display` type into an error without
/// a code, so this type only becomes a client error through the one mapping below.
#[derive(Debug)]
pub enum DomainError {
    NotFound(String),
    BadInput(String),
    Conflict(String),
    InvalidTransition(String),
    CursorExpired(String),
    /// No token where one is needed, or a bad, expired or foreign one.
    Unauthenticated(String),
    /// A good token without the right; the sentence names the missing right.
    Forbidden(String),
    /// Bad input spread over many lines (a CSV import): a summary and each line's reason.
    InvalidLines(String, Vec<LineError>),
    /// The database cannot serve now (unreachable, every connection busy, a statement timed
    /// out): the request may be tried again; a write in it was rolled back.
    Unavailable(anyhow::Error),
    Internal(anyhow::Error),
}

/// One bad line of an uploaded file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line number in the file, the header being line 1.
    pub line: u64,
    pub message: String,
}

impl DomainError {
    /// The one answer for a row that does not exist and a row the caller may not see, so a
    /// refusal never tells them apart: NOT_FOUND, "No {what} with this id exists."
    pub fn missing(what: &str) -> Self {
        Self::not_found(format!("No {what} with this id exists."))
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn bad_input(sentence: impl Into<String>) -> Self {
        Self::BadInput(sentence.into())
    }

    /// For the log: the sentence, or for a server-side failure the chain of causes, on one line
    /// and without a backtrace (a flood of failures must not flood the log).
    pub fn describe(&self) -> String {
        match self {
            Self::Internal(source) | Self::Unavailable(source) => format!("{source:#}"),
            other => other.message().to_owned(),
        }
    }

    /// The sentence a client sees.
    pub fn message(&self) -> &str {
        match self {
            Self::NotFound(m)
            | Self::BadInput(m)
            | Self::Conflict(m)
            | Self::InvalidTransition(m)
            | Self::CursorExpired(m)
            | Self::Unauthenticated(m)
            | Self::Forbidden(m)
            | Self::InvalidLines(m, _) => m,
            Self::Unavailable(_) => {
                "The database cannot serve this request right now (it is unreachable or busy); \
                 try again in a moment."
            }
            Self::Internal(_) => "internal server error",
        }
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::BadInput(_) | Self::InvalidLines(..) => ErrorCode::BadUserInput,
            Self::Conflict(_) => ErrorCode::Conflict,
            Self::InvalidTransition(_) => ErrorCode::InvalidTransition,
            Self::CursorExpired(_) => ErrorCode::CursorExpired,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Self::Internal(_) => ErrorCode::InternalServerError,
        }
    }
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(err: sea_orm::DbErr) -> Self {
        if database_unavailable(&err) {
            Self::Unavailable(anyhow::Error::new(err).context("database unavailable"))
        } else {
            Self::Internal(anyhow::Error::new(err).context("database"))
        }
    }
}

/// Whether a database error says the database cannot serve now, rather than that the request
/// or the server is wrong: no connection to be had, a connection lost or terminated, a
/// statement cancelled by its timeout, or SQLite's writer lock not granted in time.
fn database_unavailable(err: &sea_orm::DbErr) -> bool {
    use sea_orm::{DbErr, RuntimeErr, sqlx::Error};
    let (DbErr::Exec(RuntimeErr::SqlxError(sqlx)) | DbErr::Query(RuntimeErr::SqlxError(sqlx))) =
        err
    else {
        // No connection to be had at all: the pool timed out, or opening one failed (the
        // database down, refusing connections, or the network gone).
        return matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_));
    };
    match sqlx.as_ref() {
        Error::Io(_) | Error::PoolTimedOut | Error::PoolClosed | Error::WorkerCrashed => true,
        Error::Database(db) => db.code().is_some_and(|code| {
            // PostgreSQL: connection exceptions (08…), operator intervention (57…: terminated
            // by an administrator, shutting down, statement timeout), too many connections;
            // SQLite: SQLITE_BUSY and its extended codes.
            code.starts_with("08")
                || code.starts_with("57")
                || code == "53300"
                // A read replica cancelling a query its replay conflicts with.
                || code == "40001"
                || code == "5"
                || code == "261"
                || code == "517"
        }),
        _ => false,
    }
}

impl From<sea_orm::TransactionError<DomainError>> for DomainError {
    fn from(err: sea_orm::TransactionError<DomainError>) -> Self {
        match err {
            sea_orm::TransactionError::Connection(db) => db.into(),
            sea_orm::TransactionError::Transaction(domain) => domain,
        }
    }
}

impl From<DomainError> for async_graphql::Error {
    fn from(err: DomainError) -> Self {
        // The chain of causes on one line, without a backtrace: a flood of failures must not
        // flood the log.
        match &err {
            DomainError::Internal(source) => {
                tracing::error!(error = %format!("{source:#}"), "request failed");
            }
            DomainError::Unavailable(source) => {
                metrics::counter!("labinov_database_unavailable_total").increment(1);
                // An outage fails every request: one line a second says so, with how many.
                if let Some(failed) = UNAVAILABLE_LOG.due() {
                    tracing::warn!(error = %format!("{source:#}"), failed, "requests failed: database unavailable");
                }
            }
            _ => {}
        }
        let code = err.code();
        let lines = match &err {
            DomainError::InvalidLines(_, lines) => lines
                .iter()
                .map(|l| {
                    let mut entry = async_graphql::indexmap::IndexMap::new();
                    entry.insert(
                        async_graphql::Name::new("line"),
                        async_graphql::Value::from(l.line),
                    );
                    entry.insert(
                        async_graphql::Name::new("message"),
                        async_graphql::Value::from(l.message.clone()),
                    );
                    async_graphql::Value::Object(entry)
                })
                .collect(),
            _ => Vec::new(),
        };
        async_graphql::Error::new(err.message()).extend_with(|_, e| {
            e.set("code", code);
            if !lines.is_empty() {
                e.set("lines", async_graphql::Value::List(lines.clone()));
            }
        })
    }
}

/// Off the request path (CLI, start-up) a domain error is just an error with its sentence.
impl From<DomainError> for anyhow::Error {
    fn from(err: DomainError) -> Self {
        match err {
            DomainError::Internal(source) | DomainError::Unavailable(source) => source,
            other => anyhow::anyhow!("{}", other.message()),
        }
    }
}

pub type DomainResult<T> = Result<T, DomainError>;

/// A client's text as quoted back in a message: at most 40 characters, so an error never
/// echoes a megabyte the client sent.
pub fn excerpt(text: &str) -> String {
    const SHOWN: usize = 40;
    if text.chars().count() <= SHOWN {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(SHOWN).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(err: &async_graphql::Error) -> String {
        err.extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(std::string::ToString::to_string)
            .unwrap_or_default()
    }

    /// A client reads what a code means in the README or the configuration reference: every
    /// code the server can send is explained there.
    #[test]
    fn every_code_is_documented() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let docs: String = ["README.md", "docs/configuration.md"]
            .iter()
            .map(|file| std::fs::read_to_string(root.join(file)).expect("the docs"))
            .collect();
        let missing: Vec<&str> = ErrorCode::ALL
            .iter()
            .map(|code| code.as_str())
            .filter(|code| !docs.contains(code))
            .collect();
        assert!(missing.is_empty(), "undocumented codes: {missing:?}");
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(*code));
        }
    }

    #[test]
    fn client_errors_keep_their_sentence_and_code() {
        let err: async_graphql::Error = DomainError::bad_input("A title cannot be empty.").into();
        assert_eq!(err.message, "A title cannot be empty.");
        assert_eq!(code_of(&err), "\"BAD_USER_INPUT\"");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let db = sea_orm::DbErr::Custom("relation \"idea\" does not exist at /var/lib".into());
        let err: async_graphql::Error = DomainError::from(db).into();
        assert_eq!(err.message, "internal server error");
        assert_eq!(code_of(&err), "\"INTERNAL_SERVER_ERROR\"");
    }
}
