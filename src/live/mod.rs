//! Live delivery: the event bus (Redis pub/sub or in-process), the one listener per process,
//! and the resumable streams subscriptions are built from.
//!
//! Guarantee: a subscriber that resumes with the cursor of the last event it saw gets every
//! later event it asked for, exactly once, in order, across bus outages, restarts and
//! instance switches. Order and completeness rest on the gapless per-regency sequence the
//! writes record; the bus is only a fast path, the database is the source of truth.

pub mod budget;
pub mod cursor;
pub mod listener;
pub mod message;
pub mod redis_bus;
pub mod stream;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use entity::pipeline_event;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::{config::Config, domain::Domain};

/// How many events the local broadcast buffers before a slow subscriber lags (and is then
/// caught up from the database).
const BROADCAST_CAPACITY: usize = 4096;

/// The process's live event feed, shared by every subscription.
#[derive(Clone)]
pub struct Hub {
    events: broadcast::Sender<Arc<pipeline_event::Model>>,
    state: Arc<BusState>,
    /// Funnel computations shared by identical funnel subscriptions.
    pub(crate) funnels: Arc<stream::FunnelShares>,
    /// The time funnel and ranking subscriptions may take recomputing.
    pub(crate) aggregates: Arc<budget::AggregateBudget>,
}

/// How events reach this process's subscribers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusMode {
    /// No Redis configured: events stay in this process.
    InProcess,
    /// Over Redis pub/sub.
    Redis,
    /// Over a Redis Cluster's sharded pub/sub.
    RedisCluster,
    /// Redis is configured but unreachable: the listener polls the database.
    DatabaseFallback,
}

impl BusMode {
    pub const ALL: [Self; 4] = [
        Self::InProcess,
        Self::Redis,
        Self::RedisCluster,
        Self::DatabaseFallback,
    ];

    /// As `/readyz` and the `labinov_bus_mode` metric name it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InProcess => "in-process",
            Self::Redis => "redis",
            Self::RedisCluster => "redis cluster",
            Self::DatabaseFallback => "database fallback",
        }
    }
}

/// How the live delivery of this process stands, for `/readyz`.
#[derive(Debug, Default)]
pub struct BusState {
    /// Whether a Redis bus is configured (otherwise events stay in the process).
    pub redis_configured: bool,
    /// Whether that bus is a Redis Cluster (sharded channels).
    pub redis_cluster: bool,
    redis_connected: AtomicBool,
    listener_running: AtomicBool,
    database_readable: AtomicBool,
}

impl BusState {
    /// Whether the listener holds a live subscription to the Redis channel.
    pub fn redis_connected(&self) -> bool {
        self.redis_connected.load(Ordering::Relaxed)
    }

    /// `in-process`, `redis`, `redis cluster`, or `database fallback` (Redis configured but
    /// unreachable).
    pub fn mode(&self) -> BusMode {
        match (self.redis_configured, self.redis_connected()) {
            (false, _) => BusMode::InProcess,
            (true, true) if self.redis_cluster => BusMode::RedisCluster,
            (true, true) => BusMode::Redis,
            (true, false) => BusMode::DatabaseFallback,
        }
    }

    /// Whether the one event listener of the process is running.
    pub fn listener_running(&self) -> bool {
        self.listener_running.load(Ordering::Relaxed)
    }

    /// Whether the listener's last read of the database succeeded.
    pub fn database_readable(&self) -> bool {
        self.database_readable.load(Ordering::Relaxed)
    }

    pub(crate) fn set_redis_connected(&self, connected: bool) {
        self.redis_connected.store(connected, Ordering::Relaxed);
    }

    pub(crate) fn set_listener_running(&self, running: bool) {
        self.listener_running.store(running, Ordering::Relaxed);
    }

    pub(crate) fn set_database_readable(&self, readable: bool) {
        self.database_readable.store(readable, Ordering::Relaxed);
    }
}

impl Hub {
    /// Every event from now on, per regency in order without gaps.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<pipeline_event::Model>> {
        self.events.subscribe()
    }

    /// How many funnel computations run for the funnel subscriptions (identical ones share).
    pub fn funnel_computations(&self) -> usize {
        self.funnels.running()
    }

    /// How the live delivery stands.
    pub fn state(&self) -> &BusState {
        &self.state
    }
}

/// Starts the listener (and, with Redis, the publisher and its subscription) and the retention
/// pruner; they run until `shutdown`.
pub async fn start(
    domain: &Domain,
    config: &Config,
    shutdown: CancellationToken,
) -> anyhow::Result<Hub> {
    let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
    let cluster: Vec<String> = config
        .redis_cluster_urls
        .iter()
        .filter(|url| !url.trim().is_empty())
        .cloned()
        .collect();
    let redis = match &config.redis_url {
        _ if !cluster.is_empty() => Some(redis_bus::RedisBus::cluster(
            &cluster,
            &config.redis_channel_prefix,
        )?),
        Some(url) if !url.trim().is_empty() => {
            Some(redis_bus::RedisBus::new(url, &config.redis_channel_prefix)?)
        }
        _ => None,
    };
    if let Some(bus) = &redis {
        tokio::spawn(
            bus.clone()
                .publish_committed(domain.committed_events(), shutdown.clone()),
        );
    }
    let state = Arc::new(BusState {
        redis_configured: redis.is_some(),
        redis_cluster: !cluster.is_empty(),
        ..BusState::default()
    });
    let listener = listener::Listener::new(domain.clone(), events.clone(), state.clone())
        .await
        .map_err(anyhow::Error::from)?;
    state.set_listener_running(true);
    state.set_database_readable(true);
    tokio::spawn(listener.run(
        redis,
        Duration::from_millis(config.live_poll_ms.max(10)),
        shutdown.clone(),
    ));
    if config.event_retention_days > 0 {
        tokio::spawn(prune_forever(
            domain.clone(),
            config.event_retention_days,
            shutdown.clone(),
        ));
    }
    Ok(Hub {
        events,
        state,
        funnels: Arc::default(),
        aggregates: Arc::new(budget::AggregateBudget::new(config.live_aggregate_percent)),
    })
}

async fn prune_forever(domain: Domain, days: u32, shutdown: CancellationToken) {
    loop {
        let cutoff = chrono::Utc::now() - chrono::Duration::days(i64::from(days));
        match domain
            .prune_events_before(&crate::access::Caller::system("event retention"), cutoff)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, days, "pruned pipeline events past retention"),
            Err(err) => tracing::warn!(error = %err.describe(), "could not prune pipeline events"),
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(Duration::from_hours(1)) => {}
        }
    }
}
