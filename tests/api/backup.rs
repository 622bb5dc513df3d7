//! `labinov backup` and `labinov restore`, run as an operator runs them: the real binary,
//! against a real server that keeps writing; and the national hub's `pg_dump`/`pg_restore`.

use std::{
    io::BufRead,
    path::Path,
    process::{Child, Output, Stdio},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
};

use serde_json::{Value, json};

use crate::helpers::{TEST_SECRET, admin_token, wait_until};

const BIN: &str = env!("CARGO_BIN_EXE_labinov");

/// A `labinov serve` process on `database_url`, stopped with SIGTERM when dropped.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(database_url: &str) -> Server {
        let mut child = std::process::Command::new(BIN)
            .env("DATABASE_URL", database_url)
            .env("LABINOV_JWT_SECRET", TEST_SECRET)
            .env("LABINOV_LISTEN", "127.0.0.1:0")
            .env("LABINOV_LIVE_POLL_MS", "200")
            .env("RUST_LOG", "info")
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().expect("its log");
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = port_tx.send(port);
                }
            }
        });
        let port = port_rx
            .recv_timeout(crate::clients::PATIENCE)
            .expect("the server says where it listens");
        Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Stops the server as systemd does (SIGTERM) and waits for it to exit.
    fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if !matches!(self.child.try_wait(), Ok(None)) {
            return;
        }
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }

    /// POSTs a GraphQL request as an ADMIN; fails the test on any error; returns `data`.
    async fn data(&self, query: &str, variables: Value) -> Value {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.base))
            .bearer_auth(admin_token())
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON");
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// `labinov ARGS` with the database at `database_url`.
fn labinov(database_url: &str, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .args(args)
        .output()
        .expect("labinov runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn sqlite_url(file: &Path) -> String {
    format!("sqlite://{}?mode=rwc", file.display())
}

/// A regency with a unit and a lab edition, made through the API; returns the cohort and unit ids.
async fn a_lab(server: &Server) -> (String, String) {
    let regency = server
        .data(
            r#"mutation { createRegency(input: {code: "90.01", name: "Kabupaten Cadangan", province: "Uji", organiser: "Bapelitbangda"}) { regency { id } } }"#,
            json!({}),
        )
        .await["createRegency"]["regency"]["id"]
        .as_str()
        .expect("a regency id")
        .to_owned();
    let unit = server
        .data(
            r#"mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: PUSKESMAS, name: "Puskesmas Cadangan"}) { unit { id } } }"#,
            json!({ "r": regency }),
        )
        .await["createUnit"]["unit"]["id"]
        .as_str()
        .expect("a unit id")
        .to_owned();
    let cohort = server
        .data(
            r#"mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2024, name: "Laboratorium Inovasi 2024"}) { cohort { id } } }"#,
            json!({ "r": regency }),
        )
        .await["createCohort"]["cohort"]["id"]
        .as_str()
        .expect("a cohort id")
        .to_owned();
    (cohort, unit)
}

/// Submits an idea titled `title`.
async fn submit(server: &Server, (cohort, unit): &(String, String), title: &str) {
    server
        .data(
            r#"mutation($c: ID!, $u: ID!, $t: String!) { submitIdea(input: {cohortId: $c, unitId: $u, title: $t, problem: "Antrean panjang", type: DIGITAL, form: PUBLIC_SERVICE, affairsArea: "Kesehatan", initiator: CIVIL_SERVANT}) { idea { id } } }"#,
            json!({ "c": cohort, "u": unit, "t": title }),
        )
        .await;
}

/// What a user checks of a database: its ideas, the submissions its event history records,
/// and the last event's sequence number (sequences have no gaps).
async fn ideas_and_events(server: &Server) -> (u64, u64, u64) {
    let data = server
        .data(
            r#"{ ideas { totalCount }
                 submitted: pipelineEvents(filter: {regencyCodes: ["90.01"], kinds: [IDEA_SUBMITTED]}) { totalCount }
                 all: pipelineEvents(filter: {regencyCodes: ["90.01"]}, last: 1) { totalCount nodes { sequence } } }"#,
            json!({}),
        )
        .await;
    let count = |v: &Value| v.as_u64().expect("a count");
    assert_eq!(
        count(&data["all"]["totalCount"]),
        count(&data["all"]["nodes"][0]["sequence"]),
        "the event history has no gap: {data}"
    );
    (
        count(&data["ideas"]["totalCount"]),
        count(&data["submitted"]["totalCount"]),
        count(&data["all"]["totalCount"]),
    )
}

#[tokio::test]
async fn a_backup_taken_while_the_server_writes_serves_every_write_it_holds() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = sqlite_url(&dir.path().join("labinov.db"));
    let server = Arc::new(Server::start(&url));
    let lab = a_lab(&server).await;

    // Writes keep coming while the backup runs.
    let written = Arc::new(AtomicU32::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (server, lab, written, stop) =
            (server.clone(), lab.clone(), written.clone(), stop.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = written.load(Ordering::Relaxed);
                submit(&server, &lab, &format!("Ide {n}")).await;
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    wait_until("writes to be running", || {
        let n = written.load(Ordering::Relaxed);
        async move { n >= 5 }
    })
    .await;
    let backup = dir.path().join("labinov-backup.db");
    let out = tokio::process::Command::new(BIN)
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "error")
        .arg("backup")
        .arg(&backup)
        .output()
        .await
        .expect("labinov backup runs");
    stop.store(true, Ordering::Relaxed);
    writer.await.expect("the writer ends");
    assert!(out.status.success(), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("backed up to"), "{report}");

    // A second backup to the same file is refused and leaves it as it was.
    let before = std::fs::read(&backup).expect("the backup");
    let again = labinov(&url, &["backup", backup.to_str().expect("a path")]);
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("exists already"),
        "{}",
        stderr(&again)
    );
    assert_eq!(std::fs::read(&backup).expect("the backup"), before);

    // The backup serves on its own, and every write in it is whole: each idea has its event.
    let copy = Server::start(&sqlite_url(&backup));
    let (ideas, submitted, _) = ideas_and_events(&copy).await;
    assert!(
        ideas >= 5,
        "the writes before the backup are in it ({ideas})"
    );
    assert_eq!(ideas, submitted, "each idea in the backup has its event");
    assert!(
        report.contains(&format!("{ideas} ideas")),
        "the report counts what it copied: {report}"
    );
    copy.stop();
}

#[tokio::test]
async fn restore_is_refused_while_a_server_runs_on_the_database_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = sqlite_url(&dir.path().join("labinov.db"));
    let server = Server::start(&url);
    let lab = a_lab(&server).await;
    submit(&server, &lab, "Sebelum cadangan").await;
    let backup = dir.path().join("backup.db");
    let out = labinov(&url, &["backup", backup.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    submit(&server, &lab, "Sesudah cadangan").await;

    let refused = labinov(&url, &["restore", backup.to_str().expect("a path")]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("a labinov server is running"),
        "{}",
        stderr(&refused)
    );
    // The server still serves both ideas.
    assert_eq!(ideas_and_events(&server).await.0, 2);

    // A second server on the same file is refused for the same reason.
    let second = std::process::Command::new(BIN)
        .env("DATABASE_URL", &url)
        .env("LABINOV_JWT_SECRET", TEST_SECRET)
        .env("LABINOV_LISTEN", "127.0.0.1:0")
        .arg("serve")
        .output()
        .expect("labinov runs");
    assert!(!second.status.success());
    assert!(stderr(&second).contains("a labinov server is running"));
    assert_eq!(ideas_and_events(&server).await.0, 2);
}

#[tokio::test]
async fn restore_of_a_file_that_is_not_a_labinov_database_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().expect("a directory");
    let database = dir.path().join("labinov.db");
    let url = sqlite_url(&database);
    let server = Server::start(&url);
    let lab = a_lab(&server).await;
    submit(&server, &lab, "Tetap ada").await;
    server.stop();
    let before = std::fs::read(&database).expect("the database");

    let text = dir.path().join("notes.txt");
    std::fs::write(&text, "bukan basis data\n").expect("a file");
    let other = dir.path().join("other.db");
    let db = sea_orm::Database::connect(sqlite_url(&other))
        .await
        .expect("another SQLite database");
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "CREATE TABLE catatan (isi TEXT); INSERT INTO catatan VALUES ('lain');",
    )
    .await
    .expect("a table of its own");
    db.close().await.expect("closed");
    let refused = [
        (text, "is not a SQLite database"),
        (dir.path().join("missing.db"), "cannot read"),
        (other, "not a labinov backup"),
    ];
    for (file, sentence) in refused {
        let out = labinov(&url, &["restore", file.to_str().expect("a path")]);
        assert!(!out.status.success(), "{} was restored", file.display());
        assert!(stderr(&out).contains(sentence), "{}", stderr(&out));
        assert_eq!(
            std::fs::read(&database).expect("the database"),
            before,
            "the database is unchanged"
        );
    }
    let server = Server::start(&url);
    assert_eq!(ideas_and_events(&server).await.0, 1);
}

/// A subscriber's event stream over SSE, read block by block.
struct Sse {
    response: reqwest::Response,
    buffer: String,
}

impl Sse {
    async fn open(server: &Server, after: Option<&str>) -> Sse {
        let response = reqwest::Client::new()
            .get(format!("{}/graphql", server.base))
            .bearer_auth(admin_token())
            .header("accept", "text/event-stream")
            .query(&[
                (
                    "query",
                    "subscription($after: String) { pipelineEvents(filter: {regencyCodes: [\"90.01\"]}, after: $after) { cursor sequence kind idea { title } } }",
                ),
                ("variables", &json!({ "after": after }).to_string()),
            ])
            .send()
            .await
            .expect("an event stream");
        Sse {
            response,
            buffer: String::new(),
        }
    }

    /// The next `data:` of a `next` event, or None when the stream ends.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                    let value: Value = serde_json::from_str(data.trim()).unwrap_or(Value::Null);
                    if value.get("data").is_some() || value.get("errors").is_some() {
                        return Some(value);
                    }
                }
                continue;
            }
            let chunk = tokio::time::timeout(crate::clients::PATIENCE, self.response.chunk())
                .await
                .expect("the stream goes on")
                .expect("a readable stream")?;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// The drill docs/deploy.md describes: a screen follows the events, the database is restored
/// from an older backup, and the screen's newer cursor is refused with CURSOR_EXPIRED (so it
/// reloads) instead of silently skipping what the restore took away.
#[tokio::test]
async fn a_subscriber_ahead_of_a_restored_backup_gets_cursor_expired() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = sqlite_url(&dir.path().join("labinov.db"));
    let server = Server::start(&url);
    let lab = a_lab(&server).await;
    submit(&server, &lab, "Ide pertama").await;
    let backup = dir.path().join("older.db");
    let out = labinov(&url, &["backup", backup.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", stderr(&out));

    let mut screen = Sse::open(&server, Some(&resume_cursor(&server).await)).await;
    submit(&server, &lab, "Ide kedua").await;
    submit(&server, &lab, "Ide ketiga").await;
    let mut cursor = String::new();
    for title in ["Ide kedua", "Ide ketiga"] {
        let event = screen.next().await.expect("an event");
        assert_eq!(
            event["data"]["pipelineEvents"]["idea"]["title"], title,
            "{event}"
        );
        cursor = event["data"]["pipelineEvents"]["cursor"]
            .as_str()
            .expect("a cursor")
            .to_owned();
    }
    drop(screen);
    server.stop();

    let out = labinov(&url, &["restore", backup.to_str().expect("a path")]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.contains("kept as"),
        "the replaced database is kept: {report}"
    );

    let server = Server::start(&url);
    assert_eq!(
        ideas_and_events(&server).await.0,
        1,
        "the older data is back"
    );
    let mut resumed = Sse::open(&server, Some(&cursor)).await;
    let answer = resumed.next().await.expect("an answer");
    assert_eq!(
        answer["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{answer}"
    );
    // A screen that reloads and subscribes again follows the writes made after the restore.
    let (_, _, last) = ideas_and_events(&server).await;
    let mut reloaded = Sse::open(&server, Some(&resume_cursor(&server).await)).await;
    submit(&server, &lab, "Ide sesudah pemulihan").await;
    let event = reloaded.next().await.expect("an event");
    assert_eq!(
        event["data"]["pipelineEvents"]["sequence"],
        last + 1,
        "{event}"
    );
}

/// Where a screen that has just read the data subscribes from.
async fn resume_cursor(server: &Server) -> String {
    server
        .data(
            r#"{ pipelineEvents(filter: {regencyCodes: ["90.01"]}, last: 1) { resumeCursor } }"#,
            json!({}),
        )
        .await["pipelineEvents"]["resumeCursor"]
        .as_str()
        .expect("a resume cursor")
        .to_owned()
}

/// The national hub's backup: `pg_dump -Fc` of a served database, `pg_restore` into a new
/// database, and a server on it answers as the first did. labinov's own commands refuse
/// PostgreSQL with a sentence naming those tools.
#[tokio::test]
#[ignore = "needs PostgreSQL: LABINOV_TEST_DATABASE_URL, pg_dump and pg_restore"]
async fn a_pg_dump_of_a_served_database_restores_into_a_new_database_that_serves() {
    let admin_url = std::env::var("LABINOV_TEST_DATABASE_URL")
        .expect("set LABINOV_TEST_DATABASE_URL to run the PostgreSQL tests");
    let base = admin_url
        .split('?')
        .next()
        .unwrap_or_default()
        .rsplit_once('/')
        .map(|(server, _)| server.to_owned())
        .expect("LABINOV_TEST_DATABASE_URL names a database");
    let names = [
        format!("labinov_test_db_{}_served", std::process::id()),
        format!("labinov_test_db_{}_restored", std::process::id()),
    ];
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .expect("PostgreSQL");
    for name in &names {
        sea_orm::ConnectionTrait::execute_unprepared(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        .expect("an old test database dropped");
        sea_orm::ConnectionTrait::execute_unprepared(&admin, &format!("CREATE DATABASE {name}"))
            .await
            .expect("a test database (the user needs CREATEDB)");
    }
    let served_url = format!("{base}/{}", names[0]);
    let restored_url = format!("{base}/{}", names[1]);

    let server = Server::start(&served_url);
    let lab = a_lab(&server).await;
    for n in 0..3 {
        submit(&server, &lab, &format!("Ide nasional {n}")).await;
    }
    let before = ideas_and_events(&server).await;

    // labinov's own commands point at the PostgreSQL tools.
    for command in ["backup", "restore"] {
        let out = labinov(&served_url, &[command, "/tmp/unused-labinov-backup.db"]);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("pg_dump") && stderr(&out).contains("docs/deploy.md"),
            "{}",
            stderr(&out)
        );
    }

    let dump = tempfile::tempdir().expect("a directory");
    let file = dump.path().join("labinov.dump");
    let out = std::process::Command::new("pg_dump")
        .args(["-Fc", "-f"])
        .arg(&file)
        .arg(&served_url)
        .output()
        .expect("pg_dump runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let out = std::process::Command::new("pg_restore")
        .args(["--no-owner", "-d", &restored_url])
        .arg(&file)
        .output()
        .expect("pg_restore runs");
    assert!(out.status.success(), "{}", stderr(&out));

    let restored = Server::start(&restored_url);
    assert_eq!(ideas_and_events(&restored).await, before);
    // It takes writes: its event sequence goes on from the restored history.
    submit(&restored, &lab, "Ide sesudah pemulihan").await;
    let after = ideas_and_events(&restored).await;
    assert_eq!((after.0, after.2), (before.0 + 1, before.2 + 1));
    restored.stop();
    drop(server);
    for name in &names {
        sea_orm::ConnectionTrait::execute_unprepared(
            &admin,
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        )
        .await
        .expect("the test database dropped");
    }
}
