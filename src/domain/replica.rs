//! PostgreSQL read replicas: which one may answer a read, and when the primary must.
//!
//! A read may go to a replica only when the replica holds everything the caller could already
//! have seen. The measure is the data version ([`DataVersion`]: the regencies' event counters
//! and the mentors' versions, both only growing, raised in the same transaction as every change
//! they count): the version of the primary when the read starts bounds what any answer given
//! before could have shown (the caller's own writes included, on any instance), and a replica
//! whose version is at least as high holds all of it. A replica behind that is waited for
//! briefly (`DATABASE_REPLICA_WAIT_MS`); past the wait, or when every replica is down, the
//! primary answers. A replica that fails is skipped for a few seconds, then tried again.
//!
//! The comparison is of sums, which assumes the primary shows commits in the order its WAL
//! holds them. PostgreSQL may show two concurrent commits in the other order for a moment;
//! a read in that moment, on a replica between the two, could find the sums equal while the
//! replica lacks the later-logged commit. Per-regency heads would close that window at the
//! price of reading every regency's counter per read.

use std::{
    sync::{
        Mutex,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::DatabaseConnection;

use super::event::{DataVersion, data_version_on};

/// How long a replica that failed is left alone before it is tried again.
const DOWN_FOR: Duration = Duration::from_secs(5);

/// How often a replica that is behind is asked again while a read waits for it.
const POLL: Duration = Duration::from_millis(5);

/// How long a replica's version may be asked for before it counts as failed.
const ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// How long readiness waits for each replica's version (all are asked at once).
pub(super) const REPORT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long a version read from a replica is trusted without asking again: a replica that
/// stopped since is found within this time, not only once a write moves the primary.
const TRUSTED_FOR: Duration = Duration::from_millis(500);

/// The replicas of one primary, tried in turn.
pub struct Replicas {
    members: Vec<Replica>,
    /// Longest a read waits for a replica to catch up before the primary answers it.
    wait: Duration,
    next: AtomicUsize,
    /// Reads the primary answered because every replica was behind or down.
    fell_back: AtomicU64,
}

/// One replica: its pool and what is known of it.
pub struct Replica {
    /// Its URL without the password, for logs.
    name: String,
    db: DatabaseConnection,
    known: Mutex<Known>,
    /// One version read at a time: concurrent reads that find the replica behind share it.
    asking: tokio::sync::Mutex<()>,
    /// Reads it answered.
    served: AtomicU64,
}

#[derive(Default)]
struct Known {
    /// The version last read from it, and when.
    version: Option<(DataVersion, Instant)>,
    /// Since when it has been behind the versions reads asked for.
    behind_since: Option<Instant>,
    /// Skipped until then.
    down: Option<Instant>,
}

/// How a replica stands for a read that needs `required`.
enum Standing {
    Ready,
    /// Behind, and worth waiting for: it was in step until a moment ago.
    Catching,
    /// Behind for longer than a read waits, or down: the primary answers without waiting.
    Skipped,
}

/// What readiness shows of one replica. `/readyz` answers anyone, so a replica is named by
/// its place in `DATABASE_REPLICA_URLS` (1 for the first), never by its address; the logs name
/// its address (without the password).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplicaReport {
    pub replica: usize,
    pub ok: bool,
    /// Events the primary has that the replica has not applied yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub behind_events: Option<i64>,
    /// Reads it answered since start-up.
    pub reads: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

fn not_older(version: DataVersion, than: DataVersion) -> bool {
    version.events >= than.events && version.mentors >= than.mentors
}

impl Replicas {
    /// Replicas `(name, pool)`, read when they hold what the caller saw, waited for up to `wait`.
    pub fn new(members: Vec<(String, DatabaseConnection)>, wait: Duration) -> Self {
        Self {
            members: members
                .into_iter()
                .map(|(name, db)| Replica {
                    name,
                    db,
                    known: Mutex::default(),
                    asking: tokio::sync::Mutex::new(()),
                    served: AtomicU64::new(0),
                })
                .collect(),
            wait,
            next: AtomicUsize::new(0),
            fell_back: AtomicU64::new(0),
        }
    }

    /// Reads the primary answered because no replica could (every one behind or down).
    pub fn fell_back(&self) -> u64 {
        self.fell_back.load(Ordering::Relaxed)
    }

    /// Reads the replicas answered, all together.
    pub fn served(&self) -> u64 {
        self.members
            .iter()
            .map(|m| m.served.load(Ordering::Relaxed))
            .sum()
    }

    /// A replica holding at least `required`, taking turns among those that do, with its
    /// index; None when the primary must answer (every replica down, or still behind after the
    /// wait).
    pub(super) async fn pick(&self, required: DataVersion) -> Option<(usize, &DatabaseConnection)> {
        let deadline = Instant::now() + self.wait;
        loop {
            let first = self.next.fetch_add(1, Ordering::Relaxed);
            let mut catching = false;
            for turn in 0..self.members.len() {
                let index = (first + turn) % self.members.len();
                let replica = &self.members[index];
                match replica.standing(required, self.wait).await {
                    Standing::Ready => {
                        replica.served.fetch_add(1, Ordering::Relaxed);
                        metrics::counter!("labinov_replica_reads_total", "answered_by" => "replica")
                            .increment(1);
                        return Some((index, &replica.db));
                    }
                    Standing::Catching => catching = true,
                    Standing::Skipped => {}
                }
            }
            if !catching || Instant::now() >= deadline {
                self.fell_back.fetch_add(1, Ordering::Relaxed);
                metrics::counter!("labinov_replica_reads_total", "answered_by" => "primary")
                    .increment(1);
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// After a read on replica `index` failed: whether the replica is down (its version cannot
    /// be read now; it is then skipped for [`DOWN_FOR`]).
    pub(super) async fn is_down(&self, index: usize) -> bool {
        match self.members.get(index) {
            Some(replica) => replica.ask().await.is_err(),
            None => false,
        }
    }

    /// How every replica stands, with the version it holds (None when it did not answer), all
    /// asked at once, each within [`REPORT_TIMEOUT`]; `behind_events` is left for the caller,
    /// who knows the primary's version.
    pub(super) async fn report(&self) -> Vec<(ReplicaReport, Option<DataVersion>)> {
        let asked = self
            .members
            .iter()
            .enumerate()
            .map(|(index, replica)| async move {
                let reads = replica.served.load(Ordering::Relaxed);
                let answer = tokio::time::timeout(REPORT_TIMEOUT, replica.ask())
                    .await
                    .unwrap_or_else(|_| {
                        Err(format!(
                            "the replica did not answer within {} s",
                            REPORT_TIMEOUT.as_secs()
                        ))
                    });
                let report = ReplicaReport {
                    replica: index + 1,
                    ok: answer.is_ok(),
                    behind_events: None,
                    reads,
                    problem: answer.as_ref().err().map(|problem| {
                        format!("{problem}; reads go to the primary and the other replicas")
                    }),
                };
                (report, answer.ok())
            });
        futures_util::future::join_all(asked).await
    }
}

impl Replica {
    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether it is skipped now (down), as of `at`.
    fn is_down(&self, at: Instant) -> bool {
        self.known().down.as_ref().is_some_and(|until| *until > at)
    }

    async fn standing(&self, required: DataVersion, wait: Duration) -> Standing {
        let asked_at = Instant::now();
        if self.is_down(asked_at) {
            return Standing::Skipped;
        }
        if self.known().version.is_some_and(|(version, read_at)| {
            read_at.elapsed() < TRUSTED_FOR && not_older(version, required)
        }) {
            self.known().behind_since = None;
            return Standing::Ready;
        }
        // Behind as far as is known, or not asked lately: read its version, once for all the
        // reads waiting.
        let _asking = self.asking.lock().await;
        if self.is_down(asked_at) {
            // The read before this one found it down.
            return Standing::Skipped;
        }
        let fresh = self
            .known()
            .version
            .filter(|(_, read_at)| *read_at >= asked_at);
        let version = match fresh {
            Some((version, _)) => version,
            None => match self.ask().await {
                Ok(version) => version,
                Err(_) => return Standing::Skipped,
            },
        };
        let mut known = self.known();
        if not_older(version, required) {
            known.behind_since = None;
            return Standing::Ready;
        }
        let since = *known.behind_since.get_or_insert(asked_at);
        if since.elapsed() > wait {
            Standing::Skipped
        } else {
            Standing::Catching
        }
    }

    /// Reads the replica's version now; a failure marks it down for a while.
    async fn ask(&self) -> Result<DataVersion, String> {
        let asked = tokio::time::timeout(ASK_TIMEOUT, data_version_on(&self.db)).await;
        let (problem, detail) = match asked {
            Ok(Ok(version)) => {
                let mut known = self.known();
                if known.down.take().is_some() {
                    tracing::info!(replica = %self.name, "the read replica answers again");
                }
                // As read, even if lower than before: a replica rebuilt from an older copy is
                // behind, whatever it said before.
                known.version = Some((version, Instant::now()));
                return Ok(version);
            }
            Ok(Err(err)) => (
                "the replica cannot be reached or refused a query".to_owned(),
                format!("{err:?}"),
            ),
            Err(_) => {
                let problem = format!(
                    "the replica did not answer within {} s",
                    ASK_TIMEOUT.as_secs()
                );
                (problem.clone(), problem)
            }
        };
        self.mark_down(&detail);
        Err(problem)
    }

    fn mark_down(&self, detail: &str) {
        let mut known = self.known();
        if known.down.is_none() {
            tracing::warn!(replica = %self.name, error = %detail, "skipping a read replica for {} s", DOWN_FOR.as_secs());
        }
        known.down = Some(Instant::now() + DOWN_FOR);
        known.version = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(events: i64, mentors: i64) -> DataVersion {
        DataVersion { events, mentors }
    }

    #[test]
    fn a_replica_must_hold_both_counters_of_what_was_seen() {
        assert!(not_older(version(5, 3), version(5, 3)));
        assert!(not_older(version(6, 3), version(5, 3)));
        assert!(!not_older(version(6, 2), version(5, 3)));
        assert!(!not_older(version(4, 9), version(5, 3)));
    }
}
