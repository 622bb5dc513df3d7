//! Global object IDs as GraphQL `ID`s; the codec itself is [`crate::global_id`].

use async_graphql::ID;

pub use crate::global_id::Kind;
use crate::{error::DomainError, global_id};

pub fn encode(kind: Kind, id: impl std::fmt::Display) -> ID {
    ID(global_id::encode(kind, id))
}

/// Splits a global ID into its kind and database id.
pub fn decode_any(id: &ID) -> Result<(Kind, i64), DomainError> {
    global_id::decode_any(id.as_str())
}

/// Decodes an ID that must be of `kind`, e.g. an `ideaId` argument.
pub fn decode(kind: Kind, id: &ID) -> Result<i32, DomainError> {
    global_id::decode(kind, id.as_str())
}
/// Decodes an optional list of IDs that must all be of `kind` (a filter argument).
pub fn decode_list(kind: Kind, list: &Option<Vec<ID>>) -> Result<Option<Vec<i32>>, DomainError> {
    list.as_ref()
        .map(|list| list.iter().map(|id| decode(kind, id)).collect())
        .transpose()
}

/// Decodes an optional ID that must be of `kind`.
pub fn decode_opt(kind: Kind, id: &Option<ID>) -> Result<Option<i32>, DomainError> {
    id.as_ref().map(|id| decode(kind, id)).transpose()
}
