//! Reads whose answer the stored rows alone do not fix: the clock ("in its stage for more than
//! N days") and the event log, which retention prunes without a trace in the rows. A response
//! cache keeps an answer for as long as the data it read is unchanged; answers that made such a
//! read are not kept. The mark travels with the task that runs the request (a task-local), so
//! the read marks it where it happens, whichever resolver asked for it. DataLoader loads run
//! on tasks of their own and cannot mark: keep such reads out of `graphql/loaders.rs` (none of
//! its loaders reads the clock or the event log).

use std::cell::Cell;

tokio::task_local! {
    static VOLATILE: Cell<bool>;
}

/// Marks the request running on this task as one whose answer depends on more than the data
/// (nothing happens outside [`tracking`]).
pub fn mark() {
    let _ = VOLATILE.try_with(|v| v.set(true));
}

/// Runs `work` and tells whether any read in it [`mark`]ed its answer as volatile.
pub async fn tracking<T>(work: impl Future<Output = T>) -> (T, bool) {
    VOLATILE
        .scope(Cell::new(false), async {
            let value = work.await;
            (value, VOLATILE.with(Cell::get))
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_mark_inside_is_seen_and_one_outside_is_harmless() {
        mark();
        let ((), marked) = tracking(async { tokio::task::yield_now().await }).await;
        assert!(!marked);
        let ((), marked) = tracking(async {
            tokio::task::yield_now().await;
            mark();
        })
        .await;
        assert!(marked);
    }
}
