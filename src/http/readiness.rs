//! The readiness check of the database and its replicas behind `/readyz`. Callers that ask
//! while a check is under way share its answer: a client calling `/readyz` from many
//! connections at once holds at most one of the pool's connections, however many it opens.
//! A check runs as a task of its own: it finishes (within its time-outs) whether or not the
//! callers that started it still wait, so no later caller gets a stale or stalled one.

use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde_json::json;
use tokio::task::AbortHandle;

use crate::domain::{Domain, replica::ReplicaReport};

/// How long the database has to answer a readiness check.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// The last check of the database and its replicas: its answer, shared by its callers, and its
/// task, which says when it is over even if no caller is left to see it.
#[derive(Default)]
pub struct Checks(Mutex<Option<(Shared<BoxFuture<'static, Checked>>, AbortHandle)>>);

/// How the database and its replicas stood when last checked.
#[derive(Clone)]
pub struct Checked {
    pub database: serde_json::Value,
    pub replicas: Vec<ReplicaReport>,
}

impl Checks {
    /// The answer of the check under way, or of a new one.
    pub async fn check(&self, domain: &Domain) -> Checked {
        let under_way = {
            let mut current = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            match &*current {
                Some((check, task)) if check.peek().is_none() && !task.is_finished() => {
                    check.clone()
                }
                _ => {
                    let task = tokio::spawn(check(domain.clone()));
                    let handle = task.abort_handle();
                    let answer = async move {
                        task.await.unwrap_or_else(|_| Checked {
                            database: json!({ "ok": false, "problem": "the readiness check failed" }),
                            replicas: Vec::new(),
                        })
                    };
                    current.insert((answer.boxed().shared(), handle)).0.clone()
                }
            }
        };
        under_way.await
    }
}

/// Pings the database and asks after the replicas. A replica that is down or behind is skipped
/// by reads: it does not make the server unready. Asked beside the database's ping, so the
/// answer comes within the ping's time-out.
async fn check(domain: Domain) -> Checked {
    let (pinged, replicas) = tokio::join!(
        tokio::time::timeout(DATABASE_TIMEOUT, domain.ping()),
        domain.replica_reports()
    );
    let database = match pinged {
        Ok(Ok(())) => json!({ "ok": true }),
        Ok(Err(_)) => json!({ "ok": false, "problem": "the database refused a query" }),
        Err(_) => {
            json!({ "ok": false, "problem": format!("the database did not answer within {} s", DATABASE_TIMEOUT.as_secs()) })
        }
    };
    Checked { database, replicas }
}
