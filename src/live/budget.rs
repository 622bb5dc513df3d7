//! The time live aggregates may take. Funnel and ranking subscriptions recompute after the
//! writes that change them; a thousand of them with distinct filters would each run their
//! queries after every write, and the writers and readers would wait behind them. Instead every
//! recomputation takes a turn on one lane, and after each turn the lane rests for as long as the
//! budget asks (at 50 %, as long as the turn took), so live aggregates take at most that share
//! of one lane's time whatever their number. Past it their snapshots arrive later; a
//! subscription that waited through several writes recomputes once for all of them. Writers
//! never wait on the lane.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The lane and the share of its time live aggregates may use.
#[derive(Debug)]
pub struct AggregateBudget {
    lane: Arc<Semaphore>,
    /// Rest after a turn, per unit of the turn's length.
    rest_per_turn: f64,
}

/// The longest rest after one turn, so one slow recomputation does not stall the others long.
const MAX_REST: Duration = Duration::from_secs(2);

impl AggregateBudget {
    /// Live aggregates take at most `percent` % of one lane's time (1 to 100).
    pub fn new(percent: u32) -> Self {
        let share = f64::from(percent.clamp(1, 100)) / 100.0;
        Self {
            lane: Arc::new(Semaphore::new(1)),
            rest_per_turn: (1.0 - share) / share,
        }
    }

    /// Waits for a turn on the lane; the turn ends when the returned guard is dropped.
    pub async fn turn(&self) -> Turn {
        let waited = Instant::now();
        let permit = self.lane.clone().acquire_owned().await.ok();
        metrics::histogram!("labinov_live_aggregate_wait_seconds")
            .record(waited.elapsed().as_secs_f64());
        Turn {
            permit,
            started: Instant::now(),
            rest_ratio: self.rest_per_turn,
        }
    }
}

impl Default for AggregateBudget {
    fn default() -> Self {
        Self::new(50)
    }
}

/// A turn on the lane: when it ends, the lane rests in proportion before the next turn.
#[derive(Debug)]
pub struct Turn {
    permit: Option<OwnedSemaphorePermit>,
    started: Instant,
    /// Rest per unit of this turn's length.
    rest_ratio: f64,
}

impl Drop for Turn {
    fn drop(&mut self) {
        let took = self.started.elapsed();
        metrics::histogram!("labinov_live_aggregate_seconds").record(took.as_secs_f64());
        let rest = took.mul_f64(self.rest_ratio).min(MAX_REST);
        let Some(permit) = self.permit.take() else {
            return;
        };
        if rest.is_zero() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                tokio::time::sleep(rest).await;
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn after_a_turn_the_lane_rests_unless_the_budget_is_the_whole_lane() {
        for (percent, resting) in [(50, true), (100, false)] {
            let budget = AggregateBudget::new(percent);
            let turn = budget.turn().await;
            // Work that takes some time: the rest is in proportion to it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(turn);
            assert_eq!(
                budget.lane.available_permits() == 0,
                resting,
                "at {percent} % the lane is resting: {resting}"
            );
            // Once rested, the lane takes the next turn.
            drop(budget.turn().await);
        }
    }
}
