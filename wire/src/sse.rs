//! GraphQL over SSE read as an EventSource reads it: `text/event-stream` blocks of `event:`,
//! `id:` and `data:` lines, comment-only blocks (keep-alives) skipped.

use std::pin::Pin;

use futures_util::{Stream, StreamExt};

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// `event:`, `message` when the block names none.
    pub event: String,
    /// `id:`, the cursor a client resumes from with `Last-Event-ID`.
    pub id: Option<String>,
    /// The `data:` lines joined.
    pub data: String,
}

impl SseEvent {
    /// The data as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or(serde_json::Value::Null)
    }
}

/// Splits a byte stream into events; bytes go in as they arrive, whole events come out.
#[derive(Debug, Default)]
pub struct Parser {
    buffer: String,
}

impl Parser {
    /// Appends bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.push_str(&String::from_utf8_lossy(bytes));
    }

    /// The next whole event in what arrived so far, keep-alive comments skipped.
    pub fn next_event(&mut self) -> Option<SseEvent> {
        while let Some(end) = self.buffer.find("\n\n") {
            let block: String = self.buffer.drain(..end + 2).collect();
            if let Some(event) = parse_block(&block) {
                return Some(event);
            }
        }
        None
    }
}

/// One block's event; None for a block of comments only.
fn parse_block(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent {
        event: "message".into(),
        id: None,
        data: String::new(),
    };
    let mut fields = false;
    for line in block.lines() {
        if let Some(value) = line.strip_prefix("event:") {
            event.event = value.trim().to_owned();
        } else if let Some(value) = line.strip_prefix("id:") {
            event.id = Some(value.trim().to_owned());
        } else if let Some(value) = line.strip_prefix("data:") {
            event.data.push_str(value.trim_start());
        } else {
            continue;
        }
        fields = true;
    }
    fields.then_some(event)
}

type Body = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// The events of one HTTP response.
pub struct EventStream {
    body: Body,
    parser: Parser,
}

impl EventStream {
    /// Reads `response`'s body as events (its status and headers are the caller's to check).
    pub fn new(response: reqwest::Response) -> EventStream {
        EventStream {
            body: Box::pin(response.bytes_stream()),
            parser: Parser::default(),
        }
    }

    /// The next event; None when the stream ended or broke.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.parser.next_event() {
                return Some(event);
            }
            let chunk = self.body.next().await?.ok()?;
            self.parser.push(&chunk);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks_come_out_whole_and_keep_alives_do_not() {
        let mut parser = Parser::default();
        parser.push(b":\n\nevent: next\nid: 12");
        assert_eq!(parser.next_event(), None);
        parser.push(b"\ndata: {\"data\":1}\n\nevent: complete\ndata:\n\n");
        assert_eq!(
            parser.next_event(),
            Some(SseEvent {
                event: "next".into(),
                id: Some("12".into()),
                data: r#"{"data":1}"#.into(),
            })
        );
        assert_eq!(
            parser.next_event().map(|e| e.event),
            Some("complete".into())
        );
        assert_eq!(parser.next_event(), None);
    }
}
