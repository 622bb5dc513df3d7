//! Real protocol clients for live tests: graphql-transport-ws, the legacy
//! subscriptions-transport-ws, and GraphQL over SSE.

use std::{pin::Pin, time::Duration};

use futures_util::{SinkExt, Stream, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

/// Longest wait for a message a test expects.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    legacy: bool,
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
        let mut request = url.into_client_request().expect("a WebSocket URL");
        let protocol = if legacy {
            "graphql-ws"
        } else {
            "graphql-transport-ws"
        };
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(protocol));
        if let Some(origin) = origin {
            request.headers_mut().insert(
                "Origin",
                HeaderValue::from_str(origin).expect("an origin header"),
            );
        }
        let (socket, response) = match tokio_tungstenite::connect_async(request).await {
            Ok(opened) => opened,
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                return Err(response.status().as_u16());
            }
            Err(err) => panic!("the WebSocket handshake fails oddly: {err}"),
        };
        assert_eq!(
            response
                .headers()
                .get("sec-websocket-protocol")
                .and_then(|v| v.to_str().ok()),
            Some(protocol)
        );
        Ok(WsClient { socket, legacy })
    }

    /// Sends `connection_init` with an ADMIN token and waits for the acknowledgement.
    pub async fn init(&mut self) {
        let payload =
            json!({ "Authorization": format!("Bearer {}", crate::helpers::admin_token()) });
        self.init_with(payload).await;
    }

    /// Sends `connection_init` with `payload` and waits for the acknowledgement.
    pub async fn init_with(&mut self, payload: Value) {
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        loop {
            let message = self.receive().await.expect("a connection_ack");
            if message["type"] == "connection_ack" {
                break;
            }
        }
    }

    /// Sends one text message as it is.
    pub async fn send_text(&mut self, text: String) {
        self.socket
            .send(Message::Text(text.into()))
            .await
            .expect("the message is sent");
    }

    async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("the message is sent");
    }

    /// The next protocol message (answering pings); None when the server closed.
    async fn receive(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .expect("a message within the patience window")?;
            match message {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    match value["type"].as_str() {
                        Some("ping") => self.send(json!({"type": "pong"})).await,
                        Some("ka" | "pong") => {}
                        _ => return Some(value),
                    }
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Starts an operation under `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        let kind = if self.legacy { "start" } else { "subscribe" };
        self.send(
            json!({"id": id, "type": kind, "payload": {"query": query, "variables": variables}}),
        )
        .await;
    }

    /// The next result of any operation: its `payload` (`data` and maybe `errors`).
    pub async fn next_result(&mut self) -> Value {
        loop {
            let message = self
                .receive()
                .await
                .expect("the server keeps the connection open");
            match message["type"].as_str() {
                Some("next" | "data") => return message["payload"].clone(),
                Some("error") => return json!({"errors": message["payload"]}),
                _ => {}
            }
        }
    }

    /// Waits `quiet` and fails if a result arrives meanwhile, or if the socket closes or
    /// fails: silence is an open connection that says nothing, not one that is gone.
    pub async fn expect_nothing_for(&mut self, quiet: Duration) {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            let message = match tokio::time::timeout_at(deadline, self.socket.next()).await {
                Err(_) => return,
                Ok(None) => panic!("expected silence on an open socket; the socket ended"),
                Ok(Some(Err(err))) => {
                    panic!("expected silence on an open socket; the socket failed: {err}")
                }
                Ok(Some(Ok(message))) => message,
            };
            let text = match message {
                Message::Text(text) => text,
                Message::Close(frame) => {
                    panic!("expected silence on an open socket; the server closed it: {frame:?}")
                }
                _ => continue,
            };
            let value: Value = serde_json::from_str(&text).expect("JSON");
            match value["type"].as_str() {
                Some("ping") => self.send(json!({"type": "pong"})).await,
                Some("ka" | "pong") => {}
                _ => panic!("expected silence, got {value}"),
            }
        }
    }

    /// The type of the next raw message the server sends, pings included.
    pub async fn next_raw_type(&mut self) -> Option<String> {
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next())
                .await
                .ok()??
            {
                Ok(Message::Text(text)) => {
                    let value: Value = serde_json::from_str(&text).expect("JSON");
                    return value["type"].as_str().map(str::to_owned);
                }
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => {}
            }
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        self.messages_then_close().await.1
    }

    /// Reads until the server closes; the close frame's code and reason.
    pub async fn close_frame(&mut self) -> Option<(u16, String)> {
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                }
                Ok(Some(Ok(_))) => {}
                _ => return None,
            }
        }
    }

    /// The text messages the server sends until it closes the socket, and the close code.
    pub async fn messages_then_close(&mut self) -> (Vec<Value>, Option<u16>) {
        let mut messages = Vec::new();
        loop {
            match tokio::time::timeout(PATIENCE, self.socket.next()).await {
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return (messages, frame.map(|f| u16::from(f.code)));
                }
                Ok(Some(Ok(Message::Text(text)))) => {
                    messages.extend(serde_json::from_str::<Value>(&text).ok());
                }
                Ok(Some(Ok(_))) => {}
                _ => return (messages, None),
            }
        }
    }
}

/// A GraphQL-over-SSE subscription read with a plain HTTP client, as an EventSource would.
pub struct SseClient {
    body: Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: Value,
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
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next event (keep-alive comments skipped); None when the stream ended.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = Some(v.trim().to_owned());
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim_start());
                    }
                }
                if block.lines().all(|l| l.starts_with(':') || l.is_empty()) {
                    continue;
                }
                event.data = serde_json::from_str(&data).unwrap_or(Value::Null);
                return Some(event);
            }
            let chunk = tokio::time::timeout(PATIENCE, self.body.next())
                .await
                .expect("an event within the patience window")?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk.ok()?));
        }
    }
}
