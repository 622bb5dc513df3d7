//! Read replicas, against a real streaming replica: the test starts a PostgreSQL primary of its
//! own, copies it with `pg_basebackup` and starts the copy as a hot standby on another free
//! port. Lag is made visible by pausing the replica's replay (`pg_wal_replay_pause()`).

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Arc,
};

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::{
    clients::SseClient,
    helpers::{TestApp, fresh_config, wait_until},
};

/// A PostgreSQL primary and its streaming replica, both the test's own, stopped when dropped.
struct OwnCluster {
    bin: PathBuf,
    dir: TempDir,
    primary_port: u16,
    replica_port: u16,
}

/// The directory of PostgreSQL's server programs: the newest under /usr/lib/postgresql (Debian's
/// place), or the one `LABINOV_TEST_PG_BIN` names.
fn server_programs() -> PathBuf {
    if let Ok(bin) = std::env::var("LABINOV_TEST_PG_BIN") {
        return PathBuf::from(bin);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's server programs are installed under /usr/lib/postgresql")
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    found.sort_by_key(|bin| {
        bin.parent()
            .and_then(|p| p.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or_default()
    });
    found
        .pop()
        .expect("initdb under /usr/lib/postgresql/<version>/bin")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// PostgreSQL refuses to run as root: as root, its programs run as the `postgres` user.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

impl OwnCluster {
    fn program(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        if running_as_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(program);
            command
        } else {
            Command::new(program)
        }
    }

    fn run(&self, name: &str, args: &[&str]) {
        let out = self
            .program(name)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{name} runs: {e}"));
        assert!(
            out.status.success(),
            "{name} {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A primary with a database `labinov`, and a hot standby streaming from it.
    fn start() -> OwnCluster {
        let dir = tempfile::tempdir().expect("a directory");
        if running_as_root() {
            let status = Command::new("chown")
                .args(["postgres:", &dir.path().display().to_string()])
                .status()
                .expect("chown runs");
            assert!(status.success(), "the directory is given to postgres");
        }
        let cluster = OwnCluster {
            bin: server_programs(),
            dir,
            primary_port: free_port(),
            replica_port: free_port(),
        };
        let primary = cluster.path("primary");
        cluster.run(
            "initdb",
            &[
                "-D",
                &primary,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        append(
            &Path::new(&primary).join("postgresql.conf"),
            &format!(
                "listen_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n\
                 max_connections = 60\n",
                cluster.primary_port,
                cluster.dir.path().display()
            ),
        );
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                &primary,
                "-l",
                &cluster.path("primary.log"),
                "-w",
                "start",
            ],
        );
        cluster.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.primary_port.to_string(),
                "-U",
                "postgres",
                "-c",
                "CREATE DATABASE labinov",
            ],
        );
        let replica = cluster.path("replica");
        cluster.run(
            "pg_basebackup",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &cluster.primary_port.to_string(),
                "-U",
                "postgres",
                "-D",
                &replica,
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        append(
            &Path::new(&replica).join("postgresql.conf"),
            &format!("port = {}\n", cluster.replica_port),
        );
        cluster.start_replica();
        cluster
    }

    fn start_replica(&self) {
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.path("replica"),
                "-l",
                &self.path("replica.log"),
                "-w",
                "start",
            ],
        );
    }

    fn stop_replica(&self) {
        self.run(
            "pg_ctl",
            &["-D", &self.path("replica"), "-m", "immediate", "-w", "stop"],
        );
    }

    fn url(port: u16) -> String {
        format!("postgres://postgres@127.0.0.1:{port}/labinov")
    }

    async fn replica(&self) -> DatabaseConnection {
        Database::connect(Self::url(self.replica_port))
            .await
            .expect("the replica accepts connections")
    }
}

impl Drop for OwnCluster {
    fn drop(&mut self) {
        for data in ["replica", "primary"] {
            let _ = self
                .program("pg_ctl")
                .args(["-D", &self.path(data), "-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

fn append(file: &Path, text: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(file)
        .expect("the configuration file opens");
    f.write_all(text.as_bytes())
        .expect("the configuration is written");
}

async fn one(db: &DatabaseConnection, sql: &str) {
    db.execute_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn replay_paused(db: &DatabaseConnection) -> bool {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT pg_get_wal_replay_pause_state() AS state",
        ))
        .await
        .expect("the replica answers")
        .expect("a row");
    row.try_get::<String>("", "state").expect("a state") == "paused"
}

const TITLES: &str =
    "query($s: String) { ideas(filter: {search: $s}) { totalCount nodes { title } } }";

async fn titles(app: &TestApp, search: &str) -> Vec<String> {
    let data = app.data(TITLES, json!({"s": search})).await;
    data["ideas"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["title"].as_str().expect("a title").to_owned())
        .collect()
}

async fn submit(app: &TestApp, cohort: &Value, unit: &Value, title: &str) -> Value {
    app.data(
        "mutation($in: SubmitIdeaInput!) { submitIdea(input: $in) { idea { id } event { cursor sequence } } }",
        json!({"in": {"cohortId": cohort, "unitId": unit, "title": title, "problem": "Antrean panjang",
            "type": "DIGITAL", "form": "PUBLIC_SERVICE", "affairsArea": "Kesehatan", "initiator": "CIVIL_SERVANT"}}),
    )
    .await["submitIdea"]
        .clone()
}

async fn readiness(app: &TestApp) -> Value {
    let response = reqwest::get(format!("{}/readyz", app.address))
        .await
        .expect("readiness answers");
    assert_eq!(response.status(), 200, "the primary serves: ready");
    response.json().await.expect("JSON")
}

fn served(app: &TestApp) -> u64 {
    app.domain.replicas().expect("replicas").served()
}

fn fell_back(app: &TestApp) -> u64 {
    app.domain.replicas().expect("replicas").fell_back()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL's server programs (initdb, pg_basebackup, pg_ctl) under /usr/lib/postgresql"]
async fn queries_read_a_replica_that_holds_what_the_caller_saw_and_the_primary_otherwise() {
    let cluster = OwnCluster::start();
    let (mut config, dir) = fresh_config();
    config.database.database_url = OwnCluster::url(cluster.primary_port);
    config.database.database_schema = None;
    config.database.database_max_connections = 5;
    config.database.database_replica_urls = vec![OwnCluster::url(cluster.replica_port)];
    config.database.database_replica_wait_ms = 100;
    config.live_poll_ms = 200;
    let app = TestApp::start(config, false, Arc::new(dir)).await;

    let regency = app
        .data(
            r#"mutation { createRegency(input: {code: "64.02", name: "Kabupaten Kutai Kartanegara", province: "Kalimantan Timur", organiser: "Bappeda"}) { regency { id } } }"#,
            json!({}),
        )
        .await["createRegency"]["regency"]["id"]
        .clone();
    let unit = app
        .data(
            "mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: RSUD, name: \"RSUD Aji Muhammad Parikesit\"}) { unit { id } } }",
            json!({"r": regency}),
        )
        .await["createUnit"]["unit"]["id"]
        .clone();
    let cohort = app
        .data(
            "mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2026, name: \"Lab 2026\"}) { cohort { id } } }",
            json!({"r": regency}),
        )
        .await["createCohort"]["cohort"]["id"]
        .clone();
    let first = submit(&app, &cohort, &unit, "Antar Obat Pasien Lansia").await;

    // In step: queries are answered by the replica, and every answer holds the write.
    wait_until("a query is answered by the replica", || async {
        let before = served(&app);
        let seen = titles(&app, "Lansia").await;
        assert_eq!(
            seen,
            ["Antar Obat Pasien Lansia"],
            "never older than the write"
        );
        served(&app) > before
    })
    .await;
    let ready = readiness(&app).await;
    assert_eq!(ready["replicas"][0]["ok"], true, "{ready}");
    assert_eq!(ready["replicas"][0]["replica"], 1, "{ready}");
    assert!(
        !ready.to_string().contains("127.0.0.1"),
        "readiness answers anyone: it never names a database's address: {ready}"
    );

    // Replay paused: the replica stops at what it has; the primary moves on.
    let replica = cluster.replica().await;
    one(&replica, "SELECT pg_wal_replay_pause()").await;
    wait_until("the replica's replay pauses", || replay_paused(&replica)).await;
    let fell_back_before = fell_back(&app);
    let second = submit(&app, &cohort, &unit, "Lansia Sehat di Rumah").await;
    for _ in 0..3 {
        let mut seen = titles(&app, "Lansia").await;
        seen.sort();
        assert_eq!(
            seen,
            ["Antar Obat Pasien Lansia", "Lansia Sehat di Rumah"],
            "the caller's own write is in the answer while the replica lags"
        );
    }
    let newest = app
        .data(
            "{ pipelineEvents(last: 1) { nodes { sequence kind } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        newest["pipelineEvents"]["nodes"][0]["sequence"], second["event"]["sequence"],
        "history reads hold the newest event too: {newest}"
    );
    assert!(
        fell_back(&app) > fell_back_before,
        "the primary answered while the replica lagged"
    );
    let ready = readiness(&app).await;
    assert_eq!(ready["replicas"][0]["ok"], true, "{ready}");
    assert!(
        ready["replicas"][0]["behind_events"].as_i64() >= Some(1),
        "readiness shows the lag: {ready}"
    );

    // A subscriber resuming from before the second write gets it, with the replica behind.
    let events = "subscription($after: String) { pipelineEvents(after: $after) { sequence kind idea { title } } }";
    let mut sse = SseClient::connect(
        &app.address,
        events,
        json!({"after": first["event"]["cursor"]}),
        None,
    )
    .await;
    let caught = sse.next_event().await.expect("the missed event").json();
    assert_eq!(
        caught["data"]["pipelineEvents"]["idea"]["title"], "Lansia Sehat di Rumah",
        "{caught}"
    );
    drop(sse);

    // Replay resumed: the replica catches up and answers again, with both ideas.
    one(&replica, "SELECT pg_wal_replay_resume()").await;
    wait_until("the replica answers again after catching up", || async {
        let before = served(&app);
        let seen = titles(&app, "Lansia").await;
        assert_eq!(seen.len(), 2, "{seen:?}");
        served(&app) > before
    })
    .await;
    // Catch-up of a resuming subscriber reads from the replica now it is in step.
    let before = served(&app);
    let mut sse = SseClient::connect(
        &app.address,
        events,
        json!({"after": first["event"]["cursor"]}),
        None,
    )
    .await;
    let caught = sse.next_event().await.expect("the missed event").json();
    assert_eq!(
        caught["data"]["pipelineEvents"]["sequence"], second["event"]["sequence"],
        "{caught}"
    );
    assert!(served(&app) > before, "the catch-up read the replica");
    drop(sse);

    // The replica down: skipped, readiness says so, the server still answers and is ready.
    replica.close().await.ok();
    cluster.stop_replica();
    // The next read finds the replica gone under it (its pooled connections are dead, its
    // version still trusted): it runs again on the primary, the client sees no error, and the
    // replica is skipped from then on. (Each read here asks with other letters' case: the
    // same search, but not an answer the response cache already holds.)
    assert_eq!(
        titles(&app, "lansia").await.len(),
        2,
        "answered all the same"
    );
    let fell_back_before = fell_back(&app);
    for search in ["LANSIA", "lAnsia", "laNsia"] {
        assert_eq!(titles(&app, search).await.len(), 2, "the primary answers");
    }
    assert!(fell_back(&app) > fell_back_before);
    let third = submit(&app, &cohort, &unit, "Lansia Bugar").await;
    assert!(third["idea"]["id"].is_string());
    assert_eq!(titles(&app, "Lansia").await.len(), 3);
    let ready = readiness(&app).await;
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["replicas"][0]["ok"], false, "{ready}");
    assert!(
        ready["replicas"][0]["problem"]
            .as_str()
            .is_some_and(|p| p.contains("primary")),
        "{ready}"
    );

    // Back up: used again once it has caught up.
    cluster.start_replica();
    wait_until("the restarted replica answers again", || async {
        let before = served(&app);
        assert_eq!(titles(&app, "Lansia").await.len(), 3);
        served(&app) > before
    })
    .await;
}
