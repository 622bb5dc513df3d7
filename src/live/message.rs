//! What travels on the Redis channel: a versioned message, not the database row, so that
//! instances of two releases can share a channel during a rolling deploy. A message of a
//! version (or an event kind) this release does not know is skipped; the listener's database
//! poll delivers that event instead, so nothing is lost.

use chrono::{DateTime, Utc};
use entity::{PipelineEventKind, Stage, pipeline_event};
use serde::{Deserialize, Serialize};

/// The message version this release writes and reads.
pub const VERSION: u32 = 1;

/// A committed pipeline event on the bus, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BusMessage {
    /// The message version; always [`VERSION`] when written by this release.
    pub v: u32,
    pub id: i64,
    pub regency_id: i32,
    pub seq: i64,
    pub kind: String,
    pub idea_id: Option<i32>,
    pub unit_id: Option<i32>,
    pub commitment_id: Option<i32>,
    pub stage: Option<String>,
    pub actor: String,
    pub payload: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
}

#[derive(Deserialize)]
struct Envelope {
    v: u32,
}

/// Why a message was not turned into an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Skipped {
    /// Not a message at all.
    Malformed,
    /// Written by a release with another message version.
    Version(u32),
    /// An event kind or stage this release does not know.
    Unknown(String),
}

impl From<&pipeline_event::Model> for BusMessage {
    fn from(event: &pipeline_event::Model) -> Self {
        Self {
            v: VERSION,
            id: event.id,
            regency_id: event.regency_id,
            seq: event.seq,
            kind: event.kind.as_str().to_owned(),
            idea_id: event.idea_id,
            unit_id: event.unit_id,
            commitment_id: event.commitment_id,
            stage: event.stage.map(|s| s.as_str().to_owned()),
            actor: event.actor.clone(),
            payload: serde_json::from_str(&event.payload).unwrap_or(serde_json::Value::Null),
            occurred_at: event.occurred_at,
        }
    }
}

/// The JSON text of an event's message.
pub fn encode(event: &pipeline_event::Model) -> String {
    serde_json::to_string(&BusMessage::from(event)).unwrap_or_default()
}

/// The event a message carries.
pub fn decode(text: &str) -> Result<pipeline_event::Model, Skipped> {
    let envelope: Envelope = serde_json::from_str(text).map_err(|_| Skipped::Malformed)?;
    if envelope.v != VERSION {
        return Err(Skipped::Version(envelope.v));
    }
    let message: BusMessage = serde_json::from_str(text).map_err(|_| Skipped::Malformed)?;
    let kind = PipelineEventKind::parse(&message.kind)
        .ok_or_else(|| Skipped::Unknown(message.kind.clone()))?;
    let stage = match message.stage.as_deref() {
        None => None,
        Some(text) => Some(
            Stage::ALL
                .into_iter()
                .find(|s| s.as_str() == text)
                .ok_or_else(|| Skipped::Unknown(text.to_owned()))?,
        ),
    };
    Ok(pipeline_event::Model {
        id: message.id,
        regency_id: message.regency_id,
        seq: message.seq,
        kind,
        idea_id: message.idea_id,
        unit_id: message.unit_id,
        commitment_id: message.commitment_id,
        stage,
        actor: message.actor,
        payload: message.payload.to_string(),
        occurred_at: message.occurred_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> pipeline_event::Model {
        pipeline_event::Model {
            id: 812,
            regency_id: 1,
            seq: 40,
            kind: PipelineEventKind::IdeaAdvanced,
            idea_id: Some(7),
            unit_id: Some(3),
            commitment_id: None,
            stage: Some(Stage::Deliver),
            actor: "anonymous".to_owned(),
            payload: r#"{"from":"DESIGN","to":"DELIVER"}"#.to_owned(),
            occurred_at: Utc::now(),
        }
    }

    #[test]
    fn an_event_survives_the_bus() {
        let event = event();
        let text = encode(&event);
        assert!(text.starts_with(r#"{"v":1,"#));
        assert_eq!(decode(&text), Ok(event));
    }

    #[test]
    fn messages_of_other_releases_are_skipped_not_misread() {
        let newer = encode(&event()).replacen(r#""v":1"#, r#""v":2"#, 1);
        assert_eq!(decode(&newer), Err(Skipped::Version(2)));
        let new_kind = encode(&event()).replace("IDEA_ADVANCED", "IDEA_CELEBRATED");
        assert_eq!(
            decode(&new_kind),
            Err(Skipped::Unknown("IDEA_CELEBRATED".into()))
        );
        assert_eq!(decode("not json"), Err(Skipped::Malformed));
    }
}
