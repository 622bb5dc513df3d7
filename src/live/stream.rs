//! Resumable subscription streams: replay stored events after a cursor, then go live from the
//! hub with no gap and no duplicate at the seam; a lagging subscriber is caught up from the
//! database, never skipped.

use std::{sync::Arc, time::Duration};

use entity::{idea, pipeline_event};
use futures_util::Stream;
use tokio::sync::broadcast::{Receiver, error::RecvError};

use super::{Hub, cursor};
use crate::{
    domain::{Domain, aggregate::Funnel, idea::IdeaFilter, listing::EventFilter, live::Positions},
    error::{DomainError, DomainResult},
};

/// Events read from the database per catch-up query.
const BATCH: u64 = 500;
/// Changes arriving within this window produce one funnel snapshot.
const COALESCE: Duration = Duration::from_millis(100);

/// An event on its way to a subscriber, with the cursor to resume after it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event: pipeline_event::Model,
    pub cursor: String,
}

/// A subscriber's place: what it has seen, what it may see, what it asked for.
struct Follower {
    positions: Positions,
    scope: Option<Vec<i32>>,
    filter: EventFilter,
}

impl Follower {
    fn in_scope(&self, regency_id: i32) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(&regency_id))
    }

    /// Last sequence seen in a regency; a regency the cursor does not know starts live, unless
    /// it was created after the cursor (then all its events are new).
    fn position(&self, event: &pipeline_event::Model) -> i64 {
        match (
            self.positions.seen.get(&event.regency_id),
            self.positions.floor,
        ) {
            (Some(seen), _) => *seen,
            (None, Some(floor)) if event.regency_id > floor => 0,
            (None, _) => event.seq - 1,
        }
    }

    /// Advances past `event`; returns it for delivery if it is new and asked for.
    fn take(&mut self, event: pipeline_event::Model) -> Option<Delivery> {
        self.positions.seen.insert(event.regency_id, event.seq);
        self.filter.matches(&event).then(|| Delivery {
            cursor: cursor::encode(&self.positions),
            event,
        })
    }

    /// Everything stored after the positions, in order.
    async fn catch_up(&mut self, domain: &Domain) -> DomainResult<Vec<Delivery>> {
        let mut out = Vec::new();
        loop {
            let batch = domain
                .events_after(&self.positions, self.scope.as_deref(), BATCH)
                .await?;
            let full = batch.len() as u64 == BATCH;
            for event in batch {
                if event.seq > self.position(&event) {
                    out.extend(self.take(event));
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }

    /// A live event: dropped if seen, preceded by the missing range if it jumps ahead.
    async fn live(
        &mut self,
        domain: &Domain,
        event: &pipeline_event::Model,
    ) -> DomainResult<Vec<Delivery>> {
        if !self.in_scope(event.regency_id) {
            return Ok(Vec::new());
        }
        let seen = self.position(event);
        if event.seq <= seen {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        if event.seq > seen + 1 {
            for missing in domain
                .events_between(event.regency_id, seen, event.seq)
                .await?
            {
                out.extend(self.take(missing));
            }
        }
        out.extend(self.take(event.clone()));
        Ok(out)
    }
}

/// The regency ids a filter names (ids and Kemendagri codes), or None for every regency.
async fn scope_of(
    domain: &Domain,
    ids: &Option<Vec<i32>>,
    codes: &Option<Vec<String>>,
) -> DomainResult<Option<Vec<i32>>> {
    if ids.is_none() && codes.is_none() {
        return Ok(None);
    }
    let mut scope = ids.clone().unwrap_or_default();
    for code in codes.iter().flatten() {
        match domain.regency_by_code(code).await? {
            Some(regency) => scope.push(regency.id),
            None => {
                return Err(DomainError::bad_input(format!(
                    "No regency has the code {}.",
                    code.trim()
                )));
            }
        }
    }
    Ok(Some(scope))
}

/// `pipelineEvents(filter, after)`: stored events after `after` (or none when absent), then
/// live ones, each exactly once and in order per regency.
pub async fn pipeline_events(
    domain: Domain,
    hub: Hub,
    mut filter: EventFilter,
    after: Option<String>,
) -> DomainResult<impl Stream<Item = DomainResult<Delivery>>> {
    let scope = scope_of(&domain, &filter.regency_ids, &filter.regency_codes).await?;
    filter.regency_ids = scope.clone();
    filter.regency_codes = None;
    // Subscribe before reading the start position, so nothing falls between the two.
    let mut live: Receiver<Arc<pipeline_event::Model>> = hub.subscribe();
    let positions = match after {
        Some(after) => {
            let positions = cursor::decode(&after)?;
            let expired = domain.expired_positions(&positions).await?;
            if !expired.is_empty() {
                return Err(DomainError::CursorExpired(
                    "This cursor is older than the events the server keeps; reload the data you show, \
                     then subscribe again without a cursor (or with a newer one)."
                        .to_owned(),
                ));
            }
            positions
        }
        None => domain.event_heads(scope.as_deref()).await?,
    };
    let mut follower = Follower {
        positions,
        scope,
        filter,
    };
    let shutdown = hub.shutdown().clone();
    Ok(async_stream::stream! {
        let mut pending = match follower.catch_up(&domain).await {
            Ok(deliveries) => deliveries,
            Err(err) => { yield Err(err); return; }
        };
        loop {
            for delivery in pending.drain(..) {
                yield Ok(delivery);
            }
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = live.recv() => received,
            };
            let next = match received {
                Ok(event) => follower.live(&domain, &event).await,
                Err(RecvError::Lagged(_)) => follower.catch_up(&domain).await,
                Err(RecvError::Closed) => return,
            };
            match next {
                Ok(deliveries) => pending = deliveries,
                Err(err) => { yield Err(err); return; }
            }
        }
    })
}

/// A funnel and the event positions it reflects.
#[derive(Debug, Clone)]
pub struct FunnelSnapshot {
    pub funnel: Funnel,
    pub cursor: String,
}

fn affects_funnel(event: &pipeline_event::Model) -> bool {
    event.kind.starts_with("IDEA_") || event.kind.starts_with("COMMITMENT_")
}

/// `funnel(filter)`: the current snapshot first, then a new one after each change that alters
/// it; bursts of changes are coalesced into one snapshot.
pub async fn funnels(
    domain: Domain,
    hub: Hub,
    filter: IdeaFilter,
) -> DomainResult<impl Stream<Item = DomainResult<FunnelSnapshot>>> {
    let scope = scope_of(&domain, &filter.regency_ids, &filter.regency_codes).await?;
    let mut live = hub.subscribe();
    let (first, positions) = domain.funnel_snapshot(&filter, scope.as_deref()).await?;
    let shutdown = hub.shutdown().clone();
    Ok(async_stream::stream! {
        let mut last = first.clone();
        yield Ok(FunnelSnapshot { funnel: first, cursor: cursor::encode(&positions) });
        loop {
            // Wait for a relevant change (or a lag, after which anything may have changed).
            loop {
                let received = tokio::select! {
                    _ = shutdown.cancelled() => return,
                    received = live.recv() => received,
                };
                match received {
                    Ok(event) if affects_funnel(&event) && scope.as_ref().is_none_or(|s| s.contains(&event.regency_id)) => break,
                    Ok(_) => continue,
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
            tokio::time::sleep(COALESCE).await;
            while !matches!(live.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Empty | tokio::sync::broadcast::error::TryRecvError::Closed)) {}
            match domain.funnel_snapshot(&filter, scope.as_deref()).await {
                Ok((funnel, positions)) => {
                    if funnel != last {
                        last = funnel.clone();
                        yield Ok(FunnelSnapshot { funnel, cursor: cursor::encode(&positions) });
                    }
                }
                Err(err) => { yield Err(err); return; }
            }
        }
    })
}

/// `idea(id)`: the idea now, then again after every event that concerns it.
pub async fn idea_updates(
    domain: Domain,
    hub: Hub,
    id: i32,
) -> DomainResult<impl Stream<Item = DomainResult<idea::Model>>> {
    let mut live = hub.subscribe();
    let current = domain
        .ideas_by_id(&[id])
        .await?
        .remove(&id)
        .ok_or_else(|| DomainError::not_found("No idea with this id exists."))?;
    let shutdown = hub.shutdown().clone();
    Ok(async_stream::stream! {
        yield Ok(current);
        loop {
            let received = tokio::select! {
                _ = shutdown.cancelled() => return,
                received = live.recv() => received,
            };
            let changed = match received {
                Ok(event) => event.idea_id == Some(id),
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            };
            if changed {
                match domain.ideas_by_id(&[id]).await {
                    Ok(mut found) => match found.remove(&id) {
                        Some(idea) => yield Ok(idea),
                        None => return,
                    },
                    Err(err) => { yield Err(err); return; }
                }
            }
        }
    })
}
