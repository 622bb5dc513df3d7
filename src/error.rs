//! One error type for the domain and one mapping to GraphQL.
//!
//! Rule: code on the request path returns [`DomainError`]; every variant a client can cause
//! carries a sentence for a person. Infrastructure failures (database, bus) become
//! [`DomainError::Internal`]: logged in full where they are mapped, shown to clients only as
//! "internal server error". `anyhow` with `.context(..)` is for code off the request path
//! (start-up, CLI, demo data).

use async_graphql::ErrorExtensions;

/// Machine-readable error codes, sent as `extensions.code`.
pub mod code {
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub const CONFLICT: &str = "CONFLICT";
    pub const INVALID_TRANSITION: &str = "INVALID_TRANSITION";
    pub const CURSOR_EXPIRED: &str = "CURSOR_EXPIRED";
    pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const INTERNAL_SERVER_ERROR: &str = "INTERNAL_SERVER_ERROR";
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
    pub fn not_found(what: impl Into<String>) -> Self {
        Self::NotFound(what.into())
    }

    pub fn bad_input(sentence: impl Into<String>) -> Self {
        Self::BadInput(sentence.into())
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
            Self::Internal(_) => "internal server error",
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => code::NOT_FOUND,
            Self::BadInput(_) | Self::InvalidLines(..) => code::BAD_USER_INPUT,
            Self::Conflict(_) => code::CONFLICT,
            Self::InvalidTransition(_) => code::INVALID_TRANSITION,
            Self::CursorExpired(_) => code::CURSOR_EXPIRED,
            Self::Unauthenticated(_) => code::UNAUTHENTICATED,
            Self::Forbidden(_) => code::FORBIDDEN,
            Self::Internal(_) => code::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<sea_orm::DbErr> for DomainError {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Internal(anyhow::Error::new(err).context("database"))
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
        if let DomainError::Internal(source) = &err {
            // The chain of causes on one line, without a backtrace: a flood of failures must
            // not flood the log.
            tracing::error!(error = %format!("{source:#}"), "request failed");
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
            DomainError::Internal(source) => source,
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
