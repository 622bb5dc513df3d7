//! The one event listener of a process. It merges this process's committed events, the Redis
//! channel (when configured) and a database poll into one stream that is, per regency, in
//! sequence order without gaps or duplicates, and feeds it to the local broadcast that every
//! subscription reads.

use std::{collections::HashMap, sync::Arc, time::Duration};

use entity::pipeline_event;
use futures_util::StreamExt;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::{
    BusState,
    redis_bus::{EventStream, RedisBus},
};
use crate::access::Caller;
use crate::{domain::Domain, error::DomainResult};

/// The poll interval while Redis cannot be reached.
const FALLBACK_POLL: Duration = Duration::from_millis(250);

pub struct Listener {
    domain: Domain,
    /// The listener reads every regency's events as the server itself.
    caller: Caller,
    out: broadcast::Sender<Arc<pipeline_event::Model>>,
    /// Last sequence emitted per regency.
    seen: HashMap<i32, i64>,
    /// What `/readyz` reports.
    state: Arc<BusState>,
}

impl Listener {
    /// Starts at the current heads: only events committed from now on are emitted.
    pub async fn new(
        domain: Domain,
        out: broadcast::Sender<Arc<pipeline_event::Model>>,
        state: Arc<BusState>,
    ) -> DomainResult<Self> {
        let heads = domain
            .event_heads(&Caller::system("live listener"), None)
            .await?;
        Ok(Self {
            domain,
            caller: Caller::system("live listener"),
            out,
            state,
            seen: heads.seen.into_iter().collect(),
        })
    }

    fn emit(&mut self, event: pipeline_event::Model) {
        self.seen.insert(event.regency_id, event.seq);
        // No subscriber is not an error.
        let _ = self.out.send(Arc::new(event));
    }

    /// Takes one event from the bus: drops it if already emitted, fills any gap before it
    /// from the database, then emits it.
    async fn accept(&mut self, event: pipeline_event::Model) -> DomainResult<()> {
        let last = self.seen.get(&event.regency_id).copied().unwrap_or(0);
        if event.seq <= last {
            return Ok(());
        }
        if event.seq > last + 1 {
            for missing in self
                .domain
                .events_between(&self.caller, event.regency_id, last, event.seq)
                .await?
            {
                self.emit(missing);
            }
            if self.seen.get(&event.regency_id).copied().unwrap_or(0) != event.seq - 1 {
                // The database does not hold the whole range yet; the next poll catches up.
                return Ok(());
            }
        }
        self.emit(event);
        Ok(())
    }

    /// Emits every committed event not emitted yet, reading the heads first.
    async fn poll(&mut self) -> DomainResult<()> {
        let heads = self.domain.event_heads(&self.caller, None).await?;
        for (regency_id, head) in heads.seen {
            let last = self.seen.get(&regency_id).copied().unwrap_or(0);
            if head > last {
                for event in self
                    .domain
                    .events_between(&self.caller, regency_id, last, head + 1)
                    .await?
                {
                    self.emit(event);
                }
            }
        }
        Ok(())
    }

    /// Runs until `shutdown`.
    pub async fn run(
        mut self,
        redis: Option<RedisBus>,
        poll_every: Duration,
        shutdown: CancellationToken,
    ) {
        let mut local = self.domain.committed_events();
        let mut redis_stream = first_subscription(redis.as_ref()).await;
        // The poll runs on a steady beat, however busy the other sources are: a stream of this
        // process's own events must not starve the reading of other processes' events.
        let period_for = |redis_down: bool| {
            if redis_down {
                poll_every.min(FALLBACK_POLL)
            } else {
                poll_every
            }
        };
        let mut period = period_for(redis.is_some() && redis_stream.is_none());
        let mut beat = beat_of(period);
        // A new subscription is made beside the loop: connecting to a Redis (Cluster) that is
        // failing over can take a second or more, and the listener meanwhile goes on handing
        // out this process's events and reading the database.
        let mut subscribing: Option<tokio::task::JoinHandle<Option<EventStream>>> = None;
        loop {
            self.state.set_redis_connected(redis_stream.is_some());
            let wanted = period_for(redis.is_some() && redis_stream.is_none());
            if wanted != period {
                period = wanted;
                beat = beat_of(period);
            }
            let next_redis = async {
                match redis_stream.as_mut() {
                    Some(stream) => stream.next().await,
                    None => std::future::pending().await,
                }
            };
            let subscribed = async {
                match subscribing.as_mut() {
                    Some(attempt) => attempt.await.ok().flatten(),
                    None => std::future::pending().await,
                }
            };
            let outcome = tokio::select! {
                () = shutdown.cancelled() => break,
                local_event = local.recv() => match local_event {
                    Ok(event) => self.accept(event).await,
                    Err(broadcast::error::RecvError::Lagged(_)) => self.poll().await,
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                message = next_redis => if let Some(event) = message { self.accept(event).await } else {
                    tracing::warn!("lost the Redis event channel; reading new events from the database until it is back");
                    redis_stream = None;
                    self.poll().await
                },
                stream = subscribed => {
                    subscribing = None;
                    if stream.is_some() {
                        tracing::info!("Redis event channel is back");
                        redis_stream = stream;
                    }
                    // What was published before the subscription held is in the database.
                    self.poll().await
                }
                _ = beat.tick() => {
                    if let (Some(bus), None, None) = (&redis, &redis_stream, &subscribing) {
                        let bus = bus.clone();
                        subscribing = Some(tokio::spawn(async move { bus.subscribe().await }));
                    }
                    self.poll().await
                }
            };
            self.state.set_database_readable(outcome.is_ok());
            if let Err(err) = outcome {
                tracing::warn!(error = %err.describe(), "event listener could not read the database; retrying");
                tokio::time::sleep(FALLBACK_POLL).await;
            }
        }
        if let Some(attempt) = subscribing {
            attempt.abort();
        }
        self.state.set_listener_running(false);
    }
}

/// The bus subscription the listener starts with, if Redis is configured and reachable.
async fn first_subscription(redis: Option<&RedisBus>) -> Option<EventStream> {
    let stream = redis?.subscribe().await;
    if stream.is_none() {
        tracing::warn!("cannot reach Redis; reading new events from the database until it is back");
    }
    stream
}

/// A beat of `period`, its first tick one period from now; late ticks are not made up for.
fn beat_of(period: Duration) -> tokio::time::Interval {
    let mut beat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    beat
}
