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

/// The time now, for a read whose answer depends on it ("in its stage for more than N days"):
/// the request is marked, so its answer is not kept. Writes take their time from their unit of
/// work instead.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    mark();
    chrono::Utc::now()
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

    /// Where the domain and GraphQL layers may read the clock without marking the request:
    /// writes and the checks of what a write is given, whose answers the cache never keeps.
    const UNMARKED_CLOCK_READS: &[(&str, usize, &str)] = &[
        (
            "domain/write.rs",
            2,
            "a unit of work's clock and the dates a write is given",
        ),
        (
            "domain/cohort.rs",
            1,
            "the year a new or edited edition may have",
        ),
        ("domain/idea/import.rs", 1, "the dates of imported ideas"),
        ("domain/volatile.rs", 1, "`now` itself"),
    ];

    /// The response cache keeps an answer while the data version is unchanged, so a read whose
    /// answer depends on the time must mark the request. Every read of the clock in the domain
    /// and GraphQL layers goes through [`now`], except the listed writes.
    #[test]
    fn reads_of_the_clock_go_through_volatile_now() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut found: Vec<(String, usize)> = Vec::new();
        for layer in ["domain", "graphql"] {
            for path in rust_files(&src.join(layer)) {
                let text = std::fs::read_to_string(&path).expect("a source file");
                // Test modules read the clock as they like.
                let code = text.split("#[cfg(test)]").next().unwrap_or_default();
                let reads = ["Utc::now()", "Local::now()", "SystemTime::now()"]
                    .iter()
                    .map(|clock| code.matches(clock).count())
                    .sum::<usize>();
                if reads > 0 {
                    let name = path.strip_prefix(&src).expect("under src");
                    found.push((name.to_string_lossy().replace('\\', "/"), reads));
                }
            }
        }
        found.sort();
        let mut allowed: Vec<(String, usize)> = UNMARKED_CLOCK_READS
            .iter()
            .map(|(file, reads, _)| ((*file).to_owned(), *reads))
            .collect();
        allowed.sort();
        assert_eq!(found, allowed);
    }

    fn rust_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir)
            .expect("a source directory")
            .flatten()
        {
            let path = entry.path();
            if path.is_dir() {
                files.extend(rust_files(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
        files
    }

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
