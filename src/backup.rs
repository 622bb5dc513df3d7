//! `labinov backup` and `labinov restore` for the embedded SQLite database, and the lock that
//! keeps a restore from replacing a database a server is using.
//!
//! A backup is SQLite's own `VACUUM INTO`: one read transaction, so the copy is the database
//! as of one moment even while a server writes, complete without its write-ahead log. A
//! restore checks the file is a labinov database, then swaps it in while holding the
//! database's lock file (`<database>.lock`), which a running server holds for its lifetime;
//! the database it replaces is kept beside it. PostgreSQL has its own tools (`pg_dump`,
//! `pg_restore`), and both commands point at them.
//!
//! Off the request path: errors are `anyhow` with a sentence for the operator.

use std::{
    fs::{File, TryLockError},
    path::{Path, PathBuf},
};

use anyhow::Context;
use migration::MigratorTrait;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement};

use crate::config::DatabaseArgs;

/// What both commands answer for a PostgreSQL database.
const USE_PG_TOOLS: &str = "this database is PostgreSQL: back it up with `pg_dump -Fc` and restore it with `pg_restore` \
     (docs/deploy.md, \"Backups of the national hub\"); labinov backup and restore copy the embedded SQLite database";

/// The first 16 bytes of every SQLite database file.
const SQLITE_HEADER: &[u8; 16] = b"SQLite format 3\0";

/// Tables every labinov database has, whatever its version.
const LABINOV_TABLES: [&str; 4] = ["seaql_migrations", "regency", "idea", "pipeline_event"];

/// The SQLite file a database URL names, or `None` for PostgreSQL. An in-memory database has
/// no file and is refused.
pub fn sqlite_file(database_url: &str) -> anyhow::Result<Option<PathBuf>> {
    let Some(rest) = database_url.strip_prefix("sqlite:") else {
        return Ok(None);
    };
    let path = rest
        .trim_start_matches("//")
        .split('?')
        .next()
        .unwrap_or_default();
    anyhow::ensure!(
        !path.is_empty() && path != ":memory:",
        "DATABASE_URL names an in-memory SQLite database, which has no file to copy or replace"
    );
    Ok(Some(PathBuf::from(path)))
}

/// The lock file beside a SQLite database: `labinov.db` → `labinov.db.lock`.
fn lock_path(database: &Path) -> PathBuf {
    with_suffix(database, ".lock")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// An exclusive advisory lock on a SQLite database's lock file, released when dropped (or
/// when the process ends, however it ends).
#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// Takes the lock of `database` if it is SQLite (`None` for PostgreSQL). `what` says in
    /// the refusal what could not start while another process holds it.
    fn take(database: &Path, what: &str) -> anyhow::Result<Self> {
        let path = lock_path(database);
        // Read-only when it exists (flock needs no more), so a lock file made by another user
        // (root running a restore) never keeps the server's user out.
        let file = match File::open(&path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => File::options()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path),
            opened => opened,
        }
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(anyhow::anyhow!(
                "{what}: a labinov server is running on {} (it holds {}); stop it first (e.g. `systemctl stop labinov`)",
                database.display(),
                path.display()
            )),
            Err(TryLockError::Error(err)) => {
                Err(err).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// The lock a server holds for its lifetime on its SQLite database, so that no restore
    /// replaces the file under it; `None` for PostgreSQL.
    pub fn for_server(database: &DatabaseArgs) -> anyhow::Result<Option<Self>> {
        sqlite_file(&database.database_url)?
            .map(|file| Self::take(&file, "cannot serve"))
            .transpose()
    }
}

/// What a backup or restore copied, for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    pub regencies: i64,
    pub ideas: i64,
    pub events: i64,
}

impl std::fmt::Display for Contents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let counted =
            |n: i64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            f,
            "{}, {}, {}",
            counted(self.regencies, "regency", "regencies"),
            counted(self.ideas, "idea", "ideas"),
            counted(self.events, "event", "events")
        )
    }
}

/// `labinov backup FILE`: a consistent copy of the running (or stopped) SQLite database in a
/// new file; an existing FILE is never overwritten.
pub async fn backup(database: &DatabaseArgs, target: &Path) -> anyhow::Result<Contents> {
    let source = sqlite_file(&database.database_url)?.context(USE_PG_TOOLS)?;
    anyhow::ensure!(
        source.is_file(),
        "there is no database at {} to back up (DATABASE_URL names it)",
        source.display()
    );
    anyhow::ensure!(
        !target.exists(),
        "{} exists already; a backup goes to a new file (choose another name, or move the old one away)",
        target.display()
    );
    let db = open(&source, "rw").await?;
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "VACUUM INTO ?",
        [target.to_string_lossy().into_owned().into()],
    ))
    .await
    .with_context(|| format!("cannot write the backup to {}", target.display()))?;
    db.close().await.ok();
    let copy = open(target, "ro").await?;
    let contents = contents(&copy).await;
    copy.close().await.ok();
    contents
}

/// `labinov restore FILE`: replaces the SQLite database with the backup in FILE, refused while
/// a server runs on the database and unless FILE is a labinov database this binary can serve.
/// The database it replaces is kept beside it; the path is returned with what was restored.
pub async fn restore(
    database: &DatabaseArgs,
    backup: &Path,
) -> anyhow::Result<(Contents, Option<PathBuf>)> {
    let target = sqlite_file(&database.database_url)?.context(USE_PG_TOOLS)?;
    let contents = check_backup(backup).await?;
    let _lock = DatabaseLock::take(&target, "cannot restore")?;
    let incoming = with_suffix(&target, ".restoring");
    remove_if_present(&incoming)?;
    // Copied by SQLite, not byte by byte: the new file is whole, and a torn backup fails here.
    let source = open(backup, "ro").await?;
    source
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "VACUUM INTO ?",
            [incoming.to_string_lossy().into_owned().into()],
        ))
        .await
        .with_context(|| format!("cannot copy {} beside the database", backup.display()))?;
    source.close().await.ok();
    if let Err(err) = same_owner(&incoming, &target) {
        remove_if_present(&incoming)?;
        return Err(err);
    }
    let kept = keep_aside(&target)?;
    std::fs::rename(&incoming, &target)
        .with_context(|| format!("cannot move {} to {}", incoming.display(), target.display()))?;
    Ok((contents, kept))
}

/// Checks that `file` is a SQLite database holding labinov's tables, with no migration this
/// binary does not know; returns what it holds.
async fn check_backup(file: &Path) -> anyhow::Result<Contents> {
    let mut header = Vec::with_capacity(SQLITE_HEADER.len());
    File::open(file)
        .and_then(|f| std::io::Read::read_to_end(&mut std::io::Read::take(f, 16), &mut header))
        .with_context(|| format!("cannot read {}", file.display()))?;
    let is_sqlite = header == SQLITE_HEADER;
    anyhow::ensure!(
        is_sqlite,
        "{} is not a SQLite database, so not a labinov backup; nothing was changed",
        file.display()
    );
    let db = open(file, "ro").await?;
    let checked = check_labinov(&db, file).await;
    db.close().await.ok();
    checked
}

async fn check_labinov(db: &DatabaseConnection, file: &Path) -> anyhow::Result<Contents> {
    let not_ours = || {
        format!(
            "{} is a SQLite database but not a labinov backup (it lacks labinov's tables); nothing was changed",
            file.display()
        )
    };
    let integrity = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA quick_check",
        ))
        .await
        .ok()
        .flatten()
        .and_then(|row| row.try_get_by_index::<String>(0).ok());
    anyhow::ensure!(
        integrity.as_deref() == Some("ok"),
        "{} is damaged (SQLite's integrity check fails); nothing was changed",
        file.display()
    );
    for table in LABINOV_TABLES {
        let found = db
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                [table.into()],
            ))
            .await
            .with_context(not_ours)?;
        anyhow::ensure!(found.is_some(), not_ours());
    }
    let known: Vec<String> = migration::Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let applied = db
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT version FROM seaql_migrations",
        ))
        .await
        .with_context(not_ours)?;
    for row in applied {
        let version: String = row.try_get_by_index(0).with_context(not_ours)?;
        anyhow::ensure!(
            known.contains(&version),
            "{} was written by a newer labinov (its schema has migration {version}, which this binary does not know); restore it with that version; nothing was changed",
            file.display()
        );
    }
    contents(db).await
}

/// How many regencies, ideas and events a database holds.
async fn contents(db: &DatabaseConnection) -> anyhow::Result<Contents> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT (SELECT COUNT(*) FROM regency), (SELECT COUNT(*) FROM idea), (SELECT COUNT(*) FROM pipeline_event)",
        ))
        .await
        .context("counting the rows of the copy")?
        .context("counting the rows of the copy")?;
    Ok(Contents {
        regencies: row.try_get_by_index(0)?,
        ideas: row.try_get_by_index(1)?,
        events: row.try_get_by_index(2)?,
    })
}

/// Opens a SQLite file that must exist, read-only (`ro`) or read-write (`rw`).
async fn open(file: &Path, mode: &str) -> anyhow::Result<DatabaseConnection> {
    let url = format!("sqlite://{}?mode={mode}", file.display());
    let mut options = sea_orm::ConnectOptions::new(url);
    options.max_connections(1).sqlx_logging(false);
    options.map_sqlx_sqlite_opts(|opts| opts.busy_timeout(std::time::Duration::from_secs(30)));
    Database::connect(options)
        .await
        .with_context(|| format!("cannot open {}", file.display()))
}

/// Moves the database (with its write-ahead log, if any) to
/// `<database>.before-restore-<time>`; `None` when there was none.
fn keep_aside(database: &Path) -> anyhow::Result<Option<PathBuf>> {
    if !database.exists() {
        return Ok(None);
    }
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let kept = with_suffix(database, &format!(".before-restore-{stamp}"));
    for suffix in ["-wal", "-shm"] {
        let side = with_suffix(database, suffix);
        if side.exists() {
            std::fs::rename(&side, with_suffix(&kept, suffix))
                .with_context(|| format!("cannot move {} aside", side.display()))?;
        }
    }
    std::fs::rename(database, &kept)
        .with_context(|| format!("cannot move {} aside", database.display()))?;
    Ok(Some(kept))
}

/// Refuses a restore whose new file would belong to another user than the database it
/// replaces (root restoring the `labinov` user's database): the server could not write it.
fn same_owner(incoming: &Path, database: &Path) -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(new), Ok(old)) = (incoming.metadata(), database.metadata()) {
            anyhow::ensure!(
                new.uid() == old.uid(),
                "{} belongs to another user (uid {}) than the one running this restore (uid {}); run it as that user (docs/deploy.md: as_labinov restore FILE); nothing was changed",
                database.display(),
                old.uid(),
                new.uid()
            );
        }
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> anyhow::Result<()> {
    match std::fs::remove_file(path) {
        Err(err) if err.kind() != std::io::ErrorKind::NotFound => {
            Err(err).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_url_names_its_sqlite_file_or_none() {
        let file = |url: &str| sqlite_file(url).expect("a URL");
        assert_eq!(
            file("sqlite://labinov.db?mode=rwc"),
            Some(PathBuf::from("labinov.db"))
        );
        assert_eq!(
            file("sqlite:///var/lib/labinov/labinov.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/labinov/labinov.db"))
        );
        assert_eq!(file("sqlite:data.db"), Some(PathBuf::from("data.db")));
        assert_eq!(file("postgres://postgres@127.0.0.1/labinov"), None);
        assert!(sqlite_file("sqlite::memory:").is_err());
    }

    #[test]
    fn the_lock_file_sits_beside_the_database() {
        assert_eq!(
            lock_path(Path::new("/var/lib/labinov/labinov.db")),
            PathBuf::from("/var/lib/labinov/labinov.db.lock")
        );
    }
}
