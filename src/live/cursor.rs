//! Opaque resume cursors: the reader's position in every regency's event sequence.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};

use crate::{domain::event::Positions, error::DomainError};

const VERSION: &str = "v1";

/// Encodes positions as an opaque cursor.
pub fn encode(positions: &Positions) -> String {
    let seen: Vec<String> = positions
        .seen
        .iter()
        .map(|(r, s)| format!("{r}:{s}"))
        .collect();
    let floor = positions.floor.map(|f| f.to_string()).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{VERSION};{floor};{}", seen.join(",")))
}

/// The cursor to resume after `event`, in its regency only.
pub fn after_event(event: &entity::pipeline_event::Model) -> String {
    let mut positions = Positions::default();
    positions.seen.insert(event.regency_id, event.seq);
    encode(&positions)
}

/// Decodes a cursor made by [`encode`].
pub fn decode(cursor: &str) -> Result<Positions, DomainError> {
    let malformed = || {
        DomainError::bad_input(format!(
            "\"{}\" is not an event cursor; use the `cursor` of an event or snapshot you received.",
            crate::error::excerpt(cursor)
        ))
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .map_err(|_| malformed())?;
    let text = String::from_utf8(bytes).map_err(|_| malformed())?;
    let mut parts = text.splitn(3, ';');
    if parts.next() != Some(VERSION) {
        return Err(malformed());
    }
    let floor = match parts.next().ok_or_else(malformed)? {
        "" => None,
        f => Some(f.parse().map_err(|_| malformed())?),
    };
    let mut positions = Positions {
        floor,
        ..Default::default()
    };
    for pair in parts
        .next()
        .ok_or_else(malformed)?
        .split(',')
        .filter(|p| !p.is_empty())
    {
        let (regency, seq) = pair.split_once(':').ok_or_else(malformed)?;
        let regency: i32 = regency.parse().map_err(|_| malformed())?;
        let seq: i64 = seq.parse().map_err(|_| malformed())?;
        if seq < 0 {
            return Err(malformed());
        }
        positions.seen.insert(regency, seq);
    }
    Ok(positions)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let mut positions = Positions {
            floor: Some(3),
            ..Default::default()
        };
        positions.seen.insert(1, 812);
        positions.seen.insert(3, 0);
        assert_eq!(decode(&encode(&positions)).ok(), Some(positions));
        let open = Positions::default();
        assert_eq!(decode(&encode(&open)).ok(), Some(open));
        assert!(decode("garbage").is_err());
        assert!(decode(&URL_SAFE_NO_PAD.encode("v1;;1:x")).is_err());
    }
}
