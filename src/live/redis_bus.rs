//! The Redis side of the bus: one channel per deployment (named by the prefix), carrying every
//! committed event as a versioned message ([`super::message`]). Publishing never blocks or
//! fails a write.

use std::{pin::Pin, time::Duration};

use entity::pipeline_event;
use futures_util::{Stream, StreamExt};
use redis::AsyncCommands;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::message;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// A stream of events received from Redis; ends when the connection is lost.
pub type EventStream = Pin<Box<dyn Stream<Item = pipeline_event::Model> + Send>>;

#[derive(Clone)]
pub struct RedisBus {
    client: redis::Client,
    channel: String,
}

impl RedisBus {
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL: {e}"))?;
        Ok(Self {
            client,
            channel: format!("{prefix}pipeline-events"),
        })
    }

    /// Subscribes to the channel; None while Redis cannot be reached (logged at debug level:
    /// the listener retries every 250 ms and says once that Redis is gone).
    pub async fn subscribe(&self) -> Option<EventStream> {
        let connect = async {
            let mut pubsub = self.client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(pubsub)) => Some(Box::pin(pubsub.into_on_message().filter_map(|message| async move {
                let payload: String = message.get_payload().ok()?;
                match message::decode(&payload) {
                    Ok(event) => Some(event),
                    Err(skipped) => {
                        tracing::debug!(?skipped, "skipping a message on the event channel; the database poll delivers its event");
                        None
                    }
                }
            }))),
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "cannot subscribe to the Redis event channel");
                None
            }
            Err(_) => {
                tracing::debug!("timed out subscribing to the Redis event channel");
                None
            }
        }
    }

    /// Publishes this process's committed events until `shutdown`. An event that cannot be
    /// published is left to the other instances' database poll.
    pub async fn publish_committed(
        self,
        mut committed: broadcast::Receiver<pipeline_event::Model>,
        shutdown: CancellationToken,
    ) {
        let mut connection: Option<redis::aio::MultiplexedConnection> = None;
        loop {
            let event = tokio::select! {
                () = shutdown.cancelled() => break,
                event = committed.recv() => match event {
                    Ok(event) => event,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "event publisher fell behind; other instances will read those events from the database");
                        continue;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
            };
            let payload = message::encode(&event);
            if connection.is_none() {
                connection = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    self.client.get_multiplexed_async_connection(),
                )
                .await
                .ok()
                .and_then(Result::ok);
            }
            let Some(conn) = connection.as_mut() else {
                tracing::debug!(seq = event.seq, "Redis unreachable; event not published");
                continue;
            };
            let sent = tokio::time::timeout(
                CONNECT_TIMEOUT,
                conn.publish::<_, _, i64>(&self.channel, payload),
            )
            .await;
            if matches!(sent, Ok(Ok(_))) {
                metrics::counter!("labinov_events_published_total").increment(1);
            } else {
                tracing::warn!(
                    seq = event.seq,
                    "could not publish an event to Redis; reconnecting"
                );
                connection = None;
            }
        }
    }
}
