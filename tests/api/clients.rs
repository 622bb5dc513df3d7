//! The live tests' clients: the `wire` crate's protocol clients (the ones the benchmark harness
//! uses too) with the tests' patience window and ADMIN token, failing the test where the
//! protocol goes wrong.

use std::time::Duration;

use serde_json::{Value, json};
use wire::{
    sse::{EventStream, SseEvent},
    ws::{Protocol, Received, Socket, WireError},
};

/// Longest wait for a message a test expects.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct WsClient {
    socket: Socket,
}

impl WsClient {
    /// Connects and completes the protocol's handshake; `legacy` picks subscriptions-transport-ws.
    pub async fn connect(url: &str, legacy: bool) -> WsClient {
        let mut client = Self::open(url, legacy, None)
            .await
            .unwrap_or_else(|status| panic!("the WebSocket opens, not {status}"));
        client.init().await;
        client
    }

    /// Opens the socket without `connection_init`, sending `origin` as a browser would;
    /// the HTTP status when the server refuses the upgrade.
    pub async fn open(url: &str, legacy: bool, origin: Option<&str>) -> Result<WsClient, u16> {
        let protocol = if legacy {
            Protocol::Legacy
        } else {
            Protocol::TransportWs
        };
        let headers: Vec<_> = origin
            .map(|origin| ("origin", origin))
            .into_iter()
            .collect();
        match Socket::open(url, protocol, &headers).await {
            Ok(socket) => Ok(WsClient { socket }),
            Err(WireError::Refused(status)) => Err(status),
            Err(err) => panic!("the WebSocket handshake fails oddly: {err}"),
        }
    }

    /// Sends `connection_init` with an ADMIN token and waits for the acknowledgement.
    pub async fn init(&mut self) {
        self.init_with(Socket::bearer(&crate::helpers::admin_token()))
            .await;
    }

    /// Sends `connection_init` with `payload` and waits for the acknowledgement.
    pub async fn init_with(&mut self, payload: Value) {
        tokio::time::timeout(PATIENCE, self.socket.init(payload))
            .await
            .expect("a connection_ack within the patience window")
            .expect("a connection_ack");
    }

    /// Sends one text message as it is.
    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send_text(text)
            .await
            .expect("the message is sent");
    }

    /// Sends a WebSocket ping frame.
    pub async fn ping_frame(&mut self) {
        self.socket.ping_frame().await.expect("the ping is sent");
    }

    /// Starts an operation under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.socket
            .subscribe(id, query, &variables)
            .await
            .expect("the message is sent");
    }

    /// The next result of any operation: its `payload` (`data` and maybe `errors`).
    pub async fn next_result(&mut self) -> Value {
        loop {
            let received = tokio::time::timeout(PATIENCE, self.socket.receive())
                .await
                .expect("a message within the patience window")
                .expect("the server keeps the connection open");
            match received {
                Received::Result { payload, .. } => return payload,
                // subscriptions-transport-ws's `error` carries one error object.
                Received::Error { payload, .. } if payload.is_object() => {
                    return json!({"errors": [payload]});
                }
                Received::Error { payload, .. } => return json!({"errors": payload}),
                _ => {}
            }
        }
    }

    /// Waits `quiet` and fails if a result arrives meanwhile, or if the socket closes or
    /// fails: silence is an open connection that says nothing, not one that is gone.
    pub async fn expect_nothing_for(&mut self, quiet: Duration) {
        match tokio::time::timeout(quiet, self.socket.receive()).await {
            Err(_) => {}
            Ok(Ok(message)) => panic!("expected silence, got {message:?}"),
            Ok(Err(err)) => panic!("expected silence on an open socket; {err}"),
        }
    }

    /// The type of the next raw message the server sends, pings included.
    pub async fn next_raw_type(&mut self) -> Option<String> {
        self.next_raw()
            .await
            .and_then(|value| value["type"].as_str().map(str::to_owned))
    }

    /// The next raw message the server sends, pings included; None if none comes within the
    /// patience window or the socket closes.
    pub async fn next_raw(&mut self) -> Option<Value> {
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next_json())
                .await
                .ok()?
            {
                Ok(Some(value)) => return Some(value),
                Ok(None) => {}
                Err(_) => return None,
            }
        }
    }

    /// Ends the connection as a client does, with a close frame of `code`; the code of the
    /// close frame the server answers with, if it answers with one.
    pub async fn close_from_client(&mut self, code: u16) -> Option<u16> {
        self.socket
            .close_with(code)
            .await
            .expect("the close frame is sent");
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next_json()).await {
                Ok(Ok(_) | Err(WireError::NotJson(_))) => {}
                Ok(Err(WireError::Closed(frame))) => return frame.map(|(code, _)| code),
                Ok(Err(_)) | Err(_) => return None,
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        self.messages_then_close().await.1
    }

    /// Reads until the server closes; the close frame's code and reason.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        self.read_until_close().await.1
    }

    /// The text messages the server sends until it closes the socket, and the close code.
    pub async fn messages_then_close(&mut self) -> (Vec<Value>, Option<u16>) {
        let (messages, frame) = self.read_until_close().await;
        (messages, frame.map(|(code, _)| code))
    }

    /// Every JSON message until the server closes (or the patience runs out), and the close
    /// frame it sent.
    async fn read_until_close(&mut self) -> (Vec<Value>, Option<(u16, String)>) {
        let mut messages = Vec::new();
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next_json()).await {
                Ok(Ok(Some(value))) => messages.push(value),
                Ok(Ok(None) | Err(WireError::NotJson(_))) => {}
                Ok(Err(WireError::Closed(frame))) => return (messages, frame),
                Ok(Err(_)) | Err(_) => return (messages, None),
            }
        }
    }
}

/// A GraphQL-over-SSE subscription read with a plain HTTP client, as an EventSource would.
pub struct SseClient {
    events: EventStream,
}

impl SseClient {
    /// GETs the endpoint with `Accept: text/event-stream`, optionally resuming with `Last-Event-ID`.
    pub async fn connect(
        address: &str,
        query: &str,
        variables: Value,
        last_event_id: Option<&str>,
    ) -> SseClient {
        let mut request = reqwest::Client::new()
            .get(format!("{address}/graphql"))
            .header("accept", "text/event-stream")
            .bearer_auth(crate::helpers::admin_token())
            .query(&[("query", query), ("variables", &variables.to_string())]);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.expect("the server answers");
        assert_eq!(response.status().as_u16(), 200);
        assert!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.starts_with("text/event-stream"))
        );
        SseClient {
            events: EventStream::new(response),
        }
    }

    /// The next event (keep-alive comments skipped); None when the stream ended.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        tokio::time::timeout(PATIENCE, self.events.next_event())
            .await
            .expect("an event within the patience window")
    }
}
