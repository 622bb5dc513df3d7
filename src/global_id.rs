//! Global object IDs: `base64("Kind:id")`, opaque to clients and stable across releases. The
//! GraphQL layer wraps them in its `ID` type; the CLI reads them too.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::error::DomainError;

/// Every type reachable through `node(id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Regency,
    Unit,
    Cohort,
    Idea,
    Mentor,
    Commitment,
    StageTransition,
    MentorAssignment,
    PipelineEvent,
    Review,
    Milestone,
    Evidence,
}

impl Kind {
    const ALL: [Kind; 12] = [
        Kind::Regency,
        Kind::Unit,
        Kind::Cohort,
        Kind::Idea,
        Kind::Mentor,
        Kind::Commitment,
        Kind::StageTransition,
        Kind::MentorAssignment,
        Kind::PipelineEvent,
        Kind::Review,
        Kind::Milestone,
        Kind::Evidence,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Regency => "Regency",
            Kind::Unit => "Unit",
            Kind::Cohort => "Cohort",
            Kind::Idea => "Idea",
            Kind::Mentor => "Mentor",
            Kind::Commitment => "Commitment",
            Kind::StageTransition => "StageTransition",
            Kind::MentorAssignment => "MentorAssignment",
            Kind::PipelineEvent => "PipelineEvent",
            Kind::Review => "Review",
            Kind::Milestone => "Milestone",
            Kind::Evidence => "Evidence",
        }
    }
}

pub fn encode(kind: Kind, id: impl std::fmt::Display) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{id}", kind.name()))
}

/// Splits a global ID into its kind and database id.
pub fn decode_any(id: &str) -> Result<(Kind, i64), DomainError> {
    let malformed = || {
        DomainError::bad_input(format!(
            "\"{}\" is not a valid labinov id.",
            crate::error::excerpt(id)
        ))
    };
    let bytes = URL_SAFE_NO_PAD.decode(id.trim()).map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let (kind, raw) = text.split_once(':').ok_or_else(malformed)?;
    let kind = Kind::ALL
        .into_iter()
        .find(|k| k.name() == kind)
        .ok_or_else(malformed)?;
    let raw = raw.parse::<i64>().map_err(|_| malformed())?;
    Ok((kind, raw))
}

/// Decodes an ID that must be of `kind`, e.g. an `ideaId` argument.
pub fn decode(kind: Kind, id: &str) -> Result<i32, DomainError> {
    match decode_any(id)? {
        (found, raw) if found == kind => i32::try_from(raw).map_err(|_| {
            DomainError::bad_input(format!(
                "\"{}\" is not a valid labinov id.",
                crate::error::excerpt(id)
            ))
        }),
        (found, _) => Err(DomainError::bad_input(format!(
            "\"{}\" is the id of a {}, but a {} id is expected here.",
            id,
            found.name(),
            kind.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_check_their_kind() {
        let id = encode(Kind::Idea, 42);
        assert_eq!(decode(Kind::Idea, &id).ok(), Some(42));
        assert!(decode(Kind::Unit, &id).is_err());
        assert!(decode(Kind::Idea, "not-an-id").is_err());
    }
}
