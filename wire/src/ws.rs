//! A GraphQL WebSocket client for both subprotocols the server speaks.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream,
    tungstenite::{self, Message, client::IntoClientRequest, http::HeaderValue},
};

/// The subprotocol a socket speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// graphql-transport-ws (the graphql-ws library).
    TransportWs,
    /// The legacy subscriptions-transport-ws, negotiated as `graphql-ws`.
    Legacy,
}

impl Protocol {
    /// The name negotiated in `Sec-WebSocket-Protocol`.
    pub fn subprotocol(self) -> &'static str {
        match self {
            Protocol::TransportWs => "graphql-transport-ws",
            Protocol::Legacy => "graphql-ws",
        }
    }

    /// The message type that starts an operation.
    fn start(self) -> &'static str {
        match self {
            Protocol::TransportWs => "subscribe",
            Protocol::Legacy => "start",
        }
    }
}

/// Why a socket did not open or stopped working.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The server answered the upgrade with an HTTP status instead.
    #[error("the server refused the WebSocket upgrade with HTTP {0}")]
    Refused(u16),
    /// The server agreed to a subprotocol other than the one asked for.
    #[error("the server negotiated {0:?} instead of the subprotocol asked for")]
    Negotiated(Option<String>),
    /// The server closed the socket where a message was expected.
    #[error("the server closed the socket ({0:?})")]
    Closed(Option<(u16, String)>),
    /// A text message that is not JSON.
    #[error("the server sent a message that is not JSON: {0}")]
    NotJson(String),
    /// The URL, the handshake or the connection failed.
    #[error(transparent)]
    Socket(#[from] tungstenite::Error),
}

/// A protocol message from the server, pings already answered.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// `connection_ack`.
    Ack,
    /// A result of operation `id` (`next`, or `data` on the legacy protocol): its payload.
    Result { id: String, payload: Value },
    /// Operation `id` failed before it produced results: the payload is the errors.
    Error { id: String, payload: Value },
    /// Operation `id` ended.
    Complete { id: String },
    /// The legacy protocol refused `connection_init`.
    ConnectionError(Value),
    /// Any other message, as sent.
    Other(Value),
}

type Stream = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// One WebSocket to the server's `/graphql`.
pub struct Socket {
    stream: Stream,
    protocol: Protocol,
}

impl Socket {
    /// Opens the socket with `protocol` negotiated and the given extra request headers (an
    /// `Origin`, say); no `connection_init` yet.
    pub async fn open(
        url: &str,
        protocol: Protocol,
        headers: &[(&'static str, &str)],
    ) -> Result<Socket, WireError> {
        let mut request = url.into_client_request()?;
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static(protocol.subprotocol()),
        );
        for (name, value) in headers {
            let value = HeaderValue::from_str(value)
                .map_err(|e| tungstenite::Error::HttpFormat(e.into()))?;
            request.headers_mut().insert(*name, value);
        }
        let (stream, response) = match tokio_tungstenite::connect_async(request).await {
            Ok(opened) => opened,
            Err(tungstenite::Error::Http(response)) => {
                return Err(WireError::Refused(response.status().as_u16()));
            }
            Err(err) => return Err(err.into()),
        };
        let negotiated = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        if negotiated != Some(protocol.subprotocol()) {
            return Err(WireError::Negotiated(negotiated.map(str::to_owned)));
        }
        Ok(Socket { stream, protocol })
    }

    /// Opens a plain WebSocket, no subprotocol: the harness's broadcast floor.
    pub async fn open_plain(url: &str) -> Result<Socket, WireError> {
        let (stream, _) = tokio_tungstenite::connect_async(url).await?;
        Ok(Socket {
            stream,
            protocol: Protocol::TransportWs,
        })
    }

    /// The `connection_init` payload that carries `token` (none for an empty token).
    pub fn bearer(token: &str) -> Value {
        if token.is_empty() {
            json!({})
        } else {
            json!({"Authorization": format!("Bearer {token}")})
        }
    }

    /// Sends `connection_init` with `payload` and reads until `connection_ack`.
    pub async fn init(&mut self, payload: Value) -> Result<(), WireError> {
        self.send(&json!({"type": "connection_init", "payload": payload}))
            .await?;
        loop {
            if self.receive().await? == Received::Ack {
                return Ok(());
            }
        }
    }

    /// Starts operation `id`.
    pub async fn subscribe(
        &mut self,
        id: &str,
        query: &str,
        variables: &Value,
    ) -> Result<(), WireError> {
        self.send(&json!({
            "id": id,
            "type": self.protocol.start(),
            "payload": {"query": query, "variables": variables},
        }))
        .await
    }

    /// Sends one protocol message.
    pub async fn send(&mut self, message: &Value) -> Result<(), WireError> {
        self.send_text(message.to_string()).await
    }

    /// Sends one text message as it is.
    pub async fn send_text(&mut self, text: String) -> Result<(), WireError> {
        self.stream.send(Message::Text(text.into())).await?;
        Ok(())
    }

    /// Sends a WebSocket ping frame (not the protocol's `ping` message).
    pub async fn ping_frame(&mut self) -> Result<(), WireError> {
        self.stream.send(Message::Ping(Vec::new().into())).await?;
        Ok(())
    }

    /// The next protocol message; pings are answered and keep-alives skipped on the way.
    pub async fn receive(&mut self) -> Result<Received, WireError> {
        loop {
            let Some(value) = self.next_json().await? else {
                continue;
            };
            match value["type"].as_str() {
                Some("ping") => self.send(&json!({"type": "pong"})).await?,
                Some("ka" | "pong") => {}
                _ => return Ok(classify(value)),
            }
        }
    }

    /// The next text message as JSON, as sent (pings included); `Ok(None)` for a frame that is
    /// not text. The server closing the socket is `Err(WireError::Closed)` with its frame.
    pub async fn next_json(&mut self) -> Result<Option<Value>, WireError> {
        match self.stream.next().await {
            Some(Ok(Message::Text(text))) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|_| WireError::NotJson(text.to_string())),
            Some(Ok(Message::Close(frame))) => Err(WireError::Closed(
                frame.map(|f| (u16::from(f.code), f.reason.to_string())),
            )),
            Some(Ok(_)) => Ok(None),
            Some(Err(err)) => Err(err.into()),
            None => Err(WireError::Closed(None)),
        }
    }

    /// Sends a close frame with `code`, as a client ending the connection does; the server's
    /// answering close frame is then read as `Err(WireError::Closed(Some(..)))`.
    pub async fn close_with(&mut self, code: u16) -> Result<(), WireError> {
        let frame = tungstenite::protocol::CloseFrame {
            code: code.into(),
            reason: "".into(),
        };
        self.stream.send(Message::Close(Some(frame))).await?;
        Ok(())
    }

    /// Sends a close frame.
    pub async fn close(&mut self) {
        // The server may already be gone; closing is best effort.
        let _ = self.stream.close(None).await;
    }
}

/// Names a protocol message by its `type`.
fn classify(value: Value) -> Received {
    let id = || value["id"].as_str().unwrap_or_default().to_owned();
    match value["type"].as_str() {
        Some("connection_ack") => Received::Ack,
        Some("next" | "data") => Received::Result {
            id: id(),
            payload: value["payload"].clone(),
        },
        Some("error") => Received::Error {
            id: id(),
            payload: value["payload"].clone(),
        },
        Some("complete") => Received::Complete { id: id() },
        Some("connection_error") => Received::ConnectionError(value["payload"].clone()),
        _ => Received::Other(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_of_both_protocols_read_alike() {
        let next = classify(json!({"id": "1", "type": "next", "payload": {"data": 1}}));
        let data = classify(json!({"id": "1", "type": "data", "payload": {"data": 1}}));
        assert_eq!(next, data);
        assert_eq!(
            classify(json!({"id": "7", "type": "complete"})),
            Received::Complete { id: "7".into() }
        );
        assert!(matches!(
            classify(json!({"type": "surprise"})),
            Received::Other(_)
        ));
    }
}
