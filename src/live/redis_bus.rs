//! The Redis side of the bus, carrying every committed event as a versioned message
//! ([`super::message`]). On one Redis: one pub/sub channel per deployment (named by the prefix).
//! On a Redis Cluster: [`SHARDS`] sharded channels (`SPUBLISH`/`SSUBSCRIBE`, Redis 7), an event
//! going on the one of its regency, so the messages spread over the cluster's primaries instead
//! of every node carrying every message. Publishing never blocks or fails a write; what the bus
//! misses (a node down, a slot moving) the listener reads from the database.

use std::{pin::Pin, sync::Arc, time::Duration};

use entity::pipeline_event;
use futures_util::{Stream, StreamExt};
use redis::AsyncCommands;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::message;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Messages from the cluster held for the listener before it must read the database instead.
const PUSH_BUFFER: usize = 4096;

/// A stream of events received from Redis; ends when the connection is lost.
pub type EventStream = Pin<Box<dyn Stream<Item = pipeline_event::Model> + Send>>;

/// Sharded channels of a deployment on a Redis Cluster; a regency's events go on channel
/// `regency id mod SHARDS`. Enough to spread over the primaries of any cluster a national
/// deployment runs, few enough that every instance subscribes to all of them.
pub const SHARDS: i32 = 16;

#[derive(Clone)]
pub struct RedisBus {
    target: Target,
    channel: String,
}

#[derive(Clone)]
enum Target {
    One(redis::Client),
    /// The client events are published with, and the seed nodes subscriptions connect to.
    Cluster(Box<redis::cluster::ClusterClient>, Arc<[String]>),
}

impl RedisBus {
    pub fn new(url: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL is not a Redis URL: {e}"))?;
        Ok(Self {
            target: Target::One(client),
            channel: format!("{prefix}pipeline-events"),
        })
    }

    /// The bus on the Redis Cluster reachable through any of `urls` (its seed nodes).
    pub fn cluster(urls: &[String], prefix: &str) -> anyhow::Result<Self> {
        let client = cluster_client(urls)
            .build()
            .map_err(|e| anyhow::anyhow!("REDIS_CLUSTER_URLS are not Redis URLs: {e}"))?;
        Ok(Self {
            target: Target::Cluster(Box::new(client), urls.into()),
            channel: format!("{prefix}pipeline-events"),
        })
    }

    /// The sharded channel of a regency's events (Redis Cluster).
    pub fn shard_channel(prefix_channel: &str, regency_id: i32) -> String {
        format!("{prefix_channel}:{}", regency_id.rem_euclid(SHARDS))
    }

    /// Subscribes to the channel (every sharded channel on a cluster); None while Redis cannot
    /// be reached (logged at debug level: the listener retries every 250 ms and says once that
    /// Redis is gone).
    pub async fn subscribe(&self) -> Option<EventStream> {
        let client = match &self.target {
            Target::One(client) => client,
            Target::Cluster(_, seeds) => return self.subscribe_shards(seeds).await,
        };
        let connect = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.subscribe(&self.channel).await?;
            Ok::<_, redis::RedisError>(pubsub)
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok(pubsub)) => Some(Box::pin(pubsub.into_on_message().filter_map(
                |message| async move { decoded(&message.get_payload::<String>().ok()?) },
            ))),
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

    /// Subscribes to every sharded channel of the deployment on the cluster. The stream ends
    /// when a node's connection drops (a node down, a failover), when a channel moves to
    /// another node, or when the listener falls behind: messages may have been missed then, so
    /// the listener reads the database and subscribes again with the cluster's new slot map.
    async fn subscribe_shards(&self, seeds: &[String]) -> Option<EventStream> {
        // Bounded: a listener that falls this far behind ends the stream and reads the database.
        let (pushes, mut received) = broadcast::channel(PUSH_BUFFER);
        let connect = async {
            let mut connection = cluster_client(seeds)
                .use_protocol(redis::ProtocolVersion::RESP3)
                .push_sender(pushes)
                .build()?
                .get_async_connection()
                .await?;
            for shard in 0..SHARDS {
                connection
                    .ssubscribe(Self::shard_channel(&self.channel, shard))
                    .await?;
            }
            Ok::<_, redis::RedisError>(connection)
        };
        let connection = match tokio::time::timeout(CONNECT_TIMEOUT * 2, connect).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(err)) => {
                tracing::debug!(error = %err, "cannot subscribe to the Redis Cluster's event channels");
                return None;
            }
            Err(_) => {
                tracing::debug!("timed out subscribing to the Redis Cluster's event channels");
                return None;
            }
        };
        Some(Box::pin(async_stream::stream! {
            // The subscriptions live as long as their connection.
            let _connection = connection;
            while let Ok(push) = received.recv().await {
                match push.kind {
                    redis::PushKind::SMessage => {
                        let payload = push
                            .data
                            .get(1)
                            .and_then(|value| redis::from_redis_value_ref::<String>(value).ok());
                        if let Some(event) = payload.as_deref().and_then(decoded) {
                            yield event;
                        }
                    }
                    redis::PushKind::Disconnection => {
                        tracing::debug!("a Redis Cluster node's connection dropped");
                        return;
                    }
                    // A slot of ours moved to another node, which drops its subscribers: read
                    // the database and subscribe again where the channel lives now.
                    redis::PushKind::SUnsubscribe => {
                        tracing::debug!("a sharded channel moved to another Redis Cluster node");
                        return;
                    }
                    _ => {}
                }
            }
        }))
    }

    /// Publishes this process's committed events until `shutdown`. An event that cannot be
    /// published is left to the other instances' database poll.
    pub async fn publish_committed(
        self,
        mut committed: broadcast::Receiver<pipeline_event::Model>,
        shutdown: CancellationToken,
    ) {
        let mut connection: Option<Publisher> = None;
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
                connection = tokio::time::timeout(CONNECT_TIMEOUT, self.publisher())
                    .await
                    .ok()
                    .and_then(Result::ok);
            }
            let Some(conn) = connection.as_mut() else {
                tracing::debug!(seq = event.seq, "Redis unreachable; event not published");
                continue;
            };
            let sent = tokio::time::timeout(CONNECT_TIMEOUT, async {
                match conn {
                    Publisher::One(conn) => conn.publish::<_, _, i64>(&self.channel, payload).await,
                    Publisher::Cluster(conn) => {
                        let channel = Self::shard_channel(&self.channel, event.regency_id);
                        conn.spublish::<_, _, i64>(channel, payload).await
                    }
                }
            })
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

    async fn publisher(&self) -> redis::RedisResult<Publisher> {
        Ok(match &self.target {
            Target::One(client) => Publisher::One(client.get_multiplexed_async_connection().await?),
            Target::Cluster(client, _) => Publisher::Cluster(client.get_async_connection().await?),
        })
    }
}

/// A cluster client of the seed nodes `urls`, failing fast like the single Redis's.
fn cluster_client(urls: &[String]) -> redis::cluster::ClusterClientBuilder {
    redis::cluster::ClusterClientBuilder::new(urls.iter().map(String::as_str))
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(CONNECT_TIMEOUT)
}

/// A connection events are published on.
enum Publisher {
    One(redis::aio::MultiplexedConnection),
    Cluster(redis::cluster_async::ClusterConnection),
}

/// The event a message carries; None for one this build cannot read (the database poll
/// delivers its event).
fn decoded(payload: &str) -> Option<pipeline_event::Model> {
    match message::decode(payload) {
        Ok(event) => Some(event),
        Err(skipped) => {
            tracing::debug!(
                ?skipped,
                "skipping a message on the event channel; the database poll delivers its event"
            );
            None
        }
    }
}
