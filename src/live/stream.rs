//! Resumable subscription streams: replay stored events after a cursor, then go live from the
//! hub with no gap and no duplicate at the seam; a lagging subscriber is caught up from the
//! database, never skipped.
//!
//! A stream never ends because the server stops: a `complete` would tell clients the
//! subscription is over. The transports close the connection instead (WebSockets with 1012,
//! SSE streams cut before `complete`), so clients reconnect elsewhere and resume.

use std::{
    collections::HashMap,
    sync::{Arc, Weak},
    time::Duration,
};

use entity::{Stage, idea, pipeline_event};
use futures_util::Stream;
use tokio::sync::{
    broadcast::{Receiver, error::RecvError},
    watch,
};

use super::{Hub, cursor};
use crate::{
    access::Caller,
    domain::{
        Domain,
        event::{EventFilter, Positions},
        idea::{IdeaFilter, aggregate::Funnel},
        review::RankedIdea,
    },
    error::{DomainError, DomainResult, ErrorCode},
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
    /// Who follows: every read is made as them.
    caller: Caller,
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

    /// Advances past `event`; returns it for delivery if it is asked for and the follower may
    /// see it now (its token may have expired, and the access rules decide, not the filter).
    fn take(&mut self, event: pipeline_event::Model) -> DomainResult<Option<Delivery>> {
        self.positions.seen.insert(event.regency_id, event.seq);
        if !self.caller.may_see(event.regency_id)? || !self.filter.matches(&event) {
            return Ok(None);
        }
        Ok(Some(Delivery {
            cursor: cursor::encode(&self.positions),
            event,
        }))
    }

    /// The next page of stored events after the positions, in order, and whether more may
    /// follow. Catch-up goes page by page, so memory does not grow with the events missed.
    /// With read replicas, a replica holding every event committed when the page is read
    /// answers (so also the live event that sent the follower back to catch-up), else the
    /// primary.
    async fn catch_up_page(&mut self, domain: &Domain) -> DomainResult<(Vec<Delivery>, bool)> {
        let reader = domain.reader(None).await;
        let scope = self.scope.as_deref();
        let batch = match reader
            .events_after(&self.caller, &self.positions, scope, BATCH)
            .await
        {
            Ok(batch) => batch,
            // Its replica went down under it: the primary reads the page instead.
            Err(DomainError::Unavailable(_)) if reader.replica_is_down().await => {
                domain
                    .events_after(&self.caller, &self.positions, scope, BATCH)
                    .await?
            }
            Err(err) => return Err(err),
        };
        let more = batch.len() as u64 == BATCH;
        let mut out = Vec::new();
        for event in batch {
            if event.seq > self.position(&event) {
                out.extend(self.take(event)?);
            }
        }
        Ok((out, more))
    }

    /// A live event: dropped if seen or out of scope; `Jump` when events before it are missing
    /// (then catch-up reads them, and this one, from the database).
    fn live(&mut self, event: &pipeline_event::Model) -> Live {
        if !self.in_scope(event.regency_id) {
            return Live::Skip;
        }
        let seen = self.position(event);
        if event.seq <= seen {
            Live::Skip
        } else if event.seq > seen + 1 {
            Live::Jump
        } else {
            match self.take(event.clone()) {
                Ok(Some(delivery)) => Live::Deliver(delivery),
                Ok(None) => Live::Skip,
                Err(err) => Live::Refused(err),
            }
        }
    }
}

/// What a live event means for a follower.
enum Live {
    Skip,
    Deliver(Delivery),
    Jump,
    /// The follower may no longer see anything (its token expired): the stream ends.
    Refused(DomainError),
}

/// The regency ids a filter names (ids and Kemendagri codes), or None for every regency. Codes
/// are looked up whatever the caller may read: the caller's own scope narrows the result.
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
        match domain
            .regency_by_code(&Caller::system("subscription scope"), code)
            .await?
        {
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
    caller: Caller,
    hub: Hub,
    mut filter: EventFilter,
    after: Option<String>,
) -> DomainResult<impl Stream<Item = DomainResult<Delivery>>> {
    let asked = scope_of(&domain, &filter.regency_ids, &filter.regency_codes).await?;
    let scope = caller.check_read()?.narrow(asked.as_deref());
    filter.regency_ids = scope.clone();
    filter.regency_codes = None;
    // Subscribe before reading the start position, so nothing falls between the two.
    let mut live: Receiver<Arc<pipeline_event::Model>> = hub.subscribe();
    let positions = match after {
        Some(after) => {
            let positions = cursor::decode(&after)?;
            let regencies = domain.count_regencies(&caller).await?;
            if positions.seen.len() as u64 > regencies {
                return Err(DomainError::bad_input(format!(
                    "This cursor names {} regencies but only {regencies} exist; use the `cursor` of an event or snapshot you received.",
                    positions.seen.len()
                )));
            }
            let expired = domain.expired_positions(&caller, &positions).await?;
            if !expired.is_empty() {
                return Err(DomainError::CursorExpired(
                    "This cursor does not match the events the server keeps (it is older than they are, \
                     or ahead of them after a restore); reload the data you show, then subscribe again \
                     without a cursor (or with a newer one)."
                        .to_owned(),
                ));
            }
            positions
        }
        None => domain.event_heads(&caller, scope.as_deref()).await?,
    };
    let mut follower = Follower {
        caller,
        positions,
        scope,
        filter,
    };
    Ok(async_stream::stream! {
        let mut catching_up = true;
        loop {
            if catching_up {
                // Boxed: an idle subscription's state then holds a pointer, not the whole
                // database read's future (kilobytes per subscriber).
                match Box::pin(follower.catch_up_page(&domain)).await {
                    Ok((deliveries, more)) => {
                        metrics::counter!("labinov_events_caught_up_total").increment(deliveries.len() as u64);
                        for delivery in deliveries {
                            metrics::counter!("labinov_events_delivered_total").increment(1);
                            yield Ok(delivery);
                        }
                        catching_up = more;
                        continue;
                    }
                    Err(err) => { yield Err(err); return; }
                }
            }
            let received = live.recv().await;
            match received {
                Ok(event) => match follower.live(&event) {
                    Live::Skip => {}
                    Live::Deliver(delivery) => {
                        metrics::counter!("labinov_events_delivered_total").increment(1);
                        yield Ok(delivery);
                    }
                    Live::Jump => catching_up = true,
                    Live::Refused(err) => { yield Err(err); return; }
                },
                Err(RecvError::Lagged(missed)) => {
                    // Subscriber lag: the live feed outran this subscriber; it reads the
                    // missed events from the database.
                    metrics::counter!("labinov_subscriber_lagged_events_total").increment(missed);
                    catching_up = true;
                }
                Err(RecvError::Closed) => return,
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
    event.kind.affects_funnel()
}

/// Funnel subscriptions that count the same ideas (the same filter, within the same regencies)
/// share one computation: one task recomputes the funnel after each change and every such
/// subscription sends its snapshots. A thousand screens showing one regency's funnel cost one
/// funnel per change, not a thousand.
#[derive(Default)]
pub struct FunnelShares(std::sync::Mutex<HashMap<String, Weak<SharedFunnel>>>);

/// The latest funnel of one shared computation; the task stops with its last subscriber.
pub struct SharedFunnel {
    latest: watch::Receiver<Option<Result<FunnelSnapshot, SharedError>>>,
    task: tokio::task::AbortHandle,
}

impl Drop for SharedFunnel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An error of a shared computation, handed to each of its subscribers.
#[derive(Debug, Clone)]
struct SharedError {
    code: ErrorCode,
    message: String,
}

impl From<DomainError> for SharedError {
    fn from(err: DomainError) -> Self {
        if let DomainError::Internal(inner) = &err {
            tracing::error!(error = ?inner, "a shared funnel failed");
        }
        Self {
            code: err.code(),
            message: err.message().to_owned(),
        }
    }
}

impl From<SharedError> for DomainError {
    fn from(err: SharedError) -> Self {
        match err.code {
            ErrorCode::Unauthenticated => DomainError::Unauthenticated(err.message),
            ErrorCode::Forbidden => DomainError::Forbidden(err.message),
            ErrorCode::BadUserInput => DomainError::BadInput(err.message),
            ErrorCode::NotFound => DomainError::NotFound(err.message),
            ErrorCode::ServiceUnavailable => DomainError::Unavailable(anyhow::anyhow!(err.message)),
            _ => DomainError::Internal(anyhow::anyhow!(err.message)),
        }
    }
}

impl FunnelShares {
    /// The shared computation for `key`, started by `start` if none runs.
    fn get_or_start(
        &self,
        key: String,
        start: impl FnOnce() -> Arc<SharedFunnel>,
    ) -> Arc<SharedFunnel> {
        let mut shares = match self.0.lock() {
            Ok(shares) => shares,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(running) = shares.get(&key).and_then(Weak::upgrade) {
            return running;
        }
        shares.retain(|_, weak| weak.strong_count() > 0);
        let started = start();
        shares.insert(key, Arc::downgrade(&started));
        started
    }

    /// How many computations run (for tests and metrics).
    pub fn running(&self) -> usize {
        match self.0.lock() {
            Ok(shares) => shares.values().filter(|w| w.strong_count() > 0).count(),
            Err(poisoned) => poisoned
                .into_inner()
                .values()
                .filter(|w| w.strong_count() > 0)
                .count(),
        }
    }
}

/// `funnel(filter)`: the current snapshot first, then a new one after each change that alters
/// it; bursts of changes are coalesced into one snapshot.
pub async fn funnels(
    domain: Domain,
    caller: Caller,
    hub: Hub,
    filter: IdeaFilter,
) -> DomainResult<impl Stream<Item = DomainResult<FunnelSnapshot>>> {
    let asked = scope_of(&domain, &filter.regency_ids, &filter.regency_codes).await?;
    let scope = caller.aggregate_scope()?.narrow(asked.as_deref());
    // What the caller may count, made explicit: the shared computation runs as the system on it.
    let counted = crate::domain::idea::aggregate::public_figures(&caller, &filter, None)?;
    let key = format!("{counted:?}|{scope:?}");
    let shared = hub.funnels.get_or_start(key, || {
        let (sender, latest) = watch::channel(None);
        let task = tokio::spawn(share_funnel(
            domain.clone(),
            hub.clone(),
            counted,
            scope.clone(),
            sender,
        ));
        Arc::new(SharedFunnel {
            latest,
            task: task.abort_handle(),
        })
    });
    let mut latest = shared.latest.clone();
    // The first snapshot, or the error that kept it from being read, before the stream starts.
    let first = latest
        .wait_for(Option::is_some)
        .await
        .map_err(|_| DomainError::Internal(anyhow::anyhow!("a shared funnel stopped")))?
        .clone();
    if let Some(Err(err)) = first {
        return Err(err.into());
    }
    latest.mark_changed();
    Ok(async_stream::stream! {
        // Holding the share keeps its computation running.
        let _shared = shared;
        loop {
            if latest.changed().await.is_err() {
                    return;
                }
            let now = latest.borrow_and_update().clone();
            match now {
                Some(Ok(snapshot)) => yield Ok(snapshot),
                Some(Err(err)) => { yield Err(err.into()); return; }
                None => {}
            }
        }
    })
}

/// The computation behind shared funnel subscriptions: the funnel now, then after each change
/// in `scope` (bursts coalesced), sent when it differs; it ends when nobody listens.
async fn share_funnel(
    domain: Domain,
    hub: Hub,
    counted: IdeaFilter,
    scope: Option<Vec<i32>>,
    sender: watch::Sender<Option<Result<FunnelSnapshot, SharedError>>>,
) {
    let system = Caller::system("funnel subscriptions");
    let mut live = hub.subscribe();
    let snapshot = |funnel: Funnel, positions: Positions| FunnelSnapshot {
        funnel,
        cursor: cursor::encode(&positions),
    };
    let first = {
        let _turn = hub.aggregates.turn().await;
        domain
            .funnel_snapshot(&system, &counted, scope.as_deref())
            .await
    };
    let mut last = match first {
        Ok((funnel, positions)) => {
            let _ = sender.send(Some(Ok(snapshot(funnel.clone(), positions))));
            funnel
        }
        Err(err) => {
            let _ = sender.send(Some(Err(err.into())));
            return;
        }
    };
    loop {
        // Wait for a relevant change (or a lag, after which anything may have changed).
        loop {
            let received = tokio::select! {
                () = sender.closed() => return,
                received = live.recv() => received,
            };
            match received {
                Ok(event)
                    if affects_funnel(&event)
                        && scope.as_ref().is_none_or(|s| s.contains(&event.regency_id)) =>
                {
                    break;
                }
                Ok(_) => {}
                Err(RecvError::Lagged(_)) => break,
                Err(RecvError::Closed) => return,
            }
        }
        tokio::time::sleep(COALESCE).await;
        // Changes that came while waiting for the turn are in what it reads.
        let turn = hub.aggregates.turn().await;
        while !matches!(
            live.try_recv(),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty
                | tokio::sync::broadcast::error::TryRecvError::Closed)
        ) {}
        let now = domain
            .funnel_snapshot(&system, &counted, scope.as_deref())
            .await;
        drop(turn);
        match now {
            Ok((funnel, positions)) => {
                if funnel != last {
                    last = funnel.clone();
                    let _ = sender.send(Some(Ok(snapshot(funnel, positions))));
                }
            }
            Err(err) => {
                let _ = sender.send(Some(Err(err.into())));
                return;
            }
        }
    }
}

/// `idea(id)`: the idea now, then again after every event that concerns it.
pub async fn idea_updates(
    domain: Domain,
    caller: Caller,
    hub: Hub,
    id: i32,
) -> DomainResult<impl Stream<Item = DomainResult<idea::Model>>> {
    let mut live = hub.subscribe();
    let current = domain
        .ideas_by_id(&caller, &[id])
        .await?
        .remove(&id)
        .ok_or_else(|| DomainError::not_found("No idea with this id exists."))?;
    Ok(async_stream::stream! {
        yield Ok(current);
        loop {
            let received = live.recv().await;
            let changed = match received {
                Ok(event) => event.idea_id == Some(id),
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => return,
            };
            if changed {
                match domain.ideas_by_id(&caller, &[id]).await {
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

/// A cohort's ranking as of a change.
#[derive(Debug, Clone)]
pub struct RankingSnapshot {
    pub cohort: entity::cohort::Model,
    pub entries: Vec<RankedIdea>,
}

/// `ranking(cohortId, stageAtLeast)`: the ranking now, then again after each change of the
/// cohort's ideas that alters it (a review, a move, an edit); bursts are coalesced.
pub async fn rankings(
    domain: Domain,
    caller: Caller,
    hub: Hub,
    cohort_id: i32,
    stage_at_least: Stage,
) -> DomainResult<impl Stream<Item = DomainResult<RankingSnapshot>>> {
    let mut live = hub.subscribe();
    let (cohort, first) = domain.ranking(&caller, cohort_id, stage_at_least).await?;
    let regency_id = cohort.regency_id;
    Ok(async_stream::stream! {
        let mut last = first.clone();
        yield Ok(RankingSnapshot { cohort, entries: first });
        loop {
            loop {
                let received = live.recv().await;
                match received {
                    Ok(event) if event.regency_id == regency_id && event.idea_id.is_some() => break,
                    Ok(_) => {}
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
            tokio::time::sleep(COALESCE).await;
            let turn = hub.aggregates.turn().await;
            while !matches!(live.try_recv(), Err(tokio::sync::broadcast::error::TryRecvError::Empty | tokio::sync::broadcast::error::TryRecvError::Closed)) {}
            if let Err(err) = caller.check_read() {
                yield Err(err);
                return;
            }
            let now = domain.ranking(&caller, cohort_id, stage_at_least).await;
            drop(turn);
            match now {
                Ok((cohort, entries)) => {
                    if entries != last {
                        last = entries.clone();
                        yield Ok(RankingSnapshot { cohort, entries });
                    }
                }
                Err(err) => { yield Err(err); return; }
            }
        }
    })
}
