//! The processes the harness measures: labinov itself, a hand-written axum + SQL endpoint that
//! returns the dashboard page's JSON, and a WebSocket floor that broadcasts pre-serialized bytes.
//! Each runs as a child process of the harness (the same binary), pinned to the first core when
//! `taskset` is there, so its memory and CPU time are its own.

use std::{
    collections::HashMap,
    net::SocketAddr,
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::Context;
use axum::{
    Router,
    extract::{
        Query, State,
        ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade},
    },
    response::{IntoResponse, Response},
    routing::{get, post},
};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use serde_json::{Value, json};
use tokio::sync::broadcast;

/// A free loopback port.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A child process of the harness, killed when dropped.
pub struct Child {
    pub process: tokio::process::Child,
    pub pid: u32,
    pub port: u16,
    pub started_in: Duration,
}

impl Child {
    /// Resident memory now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        rss_of(self.pid)
    }

    /// CPU time used so far (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        cpu_of(self.pid)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

/// CPU time process `pid` used so far (user + system), in seconds (0 once it is gone).
pub fn cpu_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU time every PostgreSQL process on this machine used so far, in seconds: the server
/// measured shares the database with nothing else while the harness runs.
pub fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim_end() == "postgres")
        })
        .map(cpu_of)
        .sum()
}

/// CPU seconds `pid` and PostgreSQL use during the measured part of a [`crate::load::run`]
/// started at the same moment (after its warm-up, for its duration).
pub async fn cpu_during(pid: u32, warmup: Duration, duration: Duration) -> (f64, f64) {
    tokio::time::sleep(warmup).await;
    let (server, postgres) = (cpu_of(pid), postgres_cpu_seconds());
    tokio::time::sleep(duration).await;
    (cpu_of(pid) - server, postgres_cpu_seconds() - postgres)
}

/// Resident memory of process `pid` now, in KiB (0 once it is gone).
pub fn rss_of(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_default()
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.process.start_kill();
    }
}

fn has_taskset() -> bool {
    std::process::Command::new("taskset")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Cores online, whatever this process's affinity.
fn num_cpus_online() -> usize {
    std::fs::read_to_string("/sys/devices/system/cpu/online")
        .ok()
        .and_then(|text| {
            text.trim()
                .split(',')
                .map(|range| match range.split_once('-') {
                    Some((a, b)) => b
                        .parse::<usize>()
                        .ok()?
                        .checked_sub(a.parse::<usize>().ok()?)
                        .map(|n| n + 1),
                    None => range.parse::<usize>().ok().map(|_| 1),
                })
                .sum::<Option<usize>>()
        })
        .unwrap_or(1)
}

/// Pins this process to every core but the first, where the servers run.
pub fn pin_self_away_from_servers() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cores < 2 || !has_taskset() {
        return false;
    }
    std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &format!("1-{}", cores - 1),
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The labinov binary to measure instead of the harness's own build of it, e.g.
/// `LABINOV_BENCH_SERVER=target/debug/labinov`: the same server, built another way.
pub const SERVER_ENV: &str = "LABINOV_BENCH_SERVER";

/// Starts `bench <args>` as a child on the first core and waits until `ready` answers 200.
/// `bench serve-labinov <labinov arguments>` runs [`SERVER_ENV`]'s binary with those
/// arguments when it is set.
pub async fn spawn(
    args: &[String],
    env: &[(&str, String)],
    port: u16,
    ready: &str,
) -> anyhow::Result<Child> {
    let (exe, args) = match (args.split_first(), std::env::var_os(SERVER_ENV)) {
        (Some((mode, rest)), Some(server)) if mode == "serve-labinov" => {
            (std::path::PathBuf::from(server), rest)
        }
        _ => (std::env::current_exe()?, args),
    };
    // The harness pinned itself away from core 0 already, so it cannot count cores any more.
    let pinned = has_taskset() && num_cpus_online() > 1;
    let mut command = if pinned {
        let mut c = tokio::process::Command::new("taskset");
        c.args(["-c", "0"]).arg(&exe);
        c
    } else {
        tokio::process::Command::new(&exe)
    };
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    let started = Instant::now();
    let process = command.spawn().context("starting a child process")?;
    let pid = process.id().context("the child has a pid")?;
    let url = format!("http://127.0.0.1:{port}{ready}");
    let client = reqwest::Client::new();
    loop {
        if let Ok(response) = client.get(&url).send().await
            && response.status().is_success()
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_mins(2),
            "{} did not become ready",
            args.first().map_or("child", String::as_str)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(Child {
        process,
        pid,
        port,
        started_in: started.elapsed(),
    })
}

/// Raises this process's open-file limit to at least `wanted` (the hard limit too, where the
/// process may: as root); whether it now is that high.
pub fn allow_open_files(wanted: u64) -> bool {
    use rlimit::Resource;
    let Ok((soft, hard)) = Resource::NOFILE.get() else {
        return false;
    };
    soft >= wanted
        || Resource::NOFILE.set(wanted, hard.max(wanted)).is_ok()
        || (hard >= wanted && Resource::NOFILE.set(wanted, hard).is_ok())
}

/// `bench serve-labinov -- <labinov arguments>`: the labinov server, as `labinov` runs it.
pub async fn serve_labinov(args: Vec<String>) -> anyhow::Result<()> {
    use clap::Parser;
    let cli = labinov::config::Cli::parse_from(std::iter::once("labinov".to_owned()).chain(args));
    labinov::telemetry::init(false);
    let labinov::config::Command::Serve(serve) = cli.command else {
        anyhow::bail!("serve-labinov runs `serve` only");
    };
    let app = labinov::App::build(&serve.config, serve.demo).await?;
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(labinov::app::stop_on_signal(shutdown.clone()));
    app.run_until_stopped(shutdown).await
}

/// `bench serve-raw`: the dashboard page's JSON from hand-written SQL on a pool like labinov's.
pub async fn serve_raw(
    database_url: &str,
    schema: &str,
    port: u16,
    pool: u32,
) -> anyhow::Result<()> {
    let mut options = ConnectOptions::new(database_url.to_owned());
    options
        .max_connections(pool)
        .test_before_acquire_if_idle_for(labinov::db::PING_IF_IDLE_FOR)
        .set_schema_search_path(schema.to_owned())
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    let app = Router::new()
        .route("/healthz", get(|| async { "alive" }))
        .route("/raw/ideas", get(raw_ideas))
        .with_state(db);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// The stage names clients see, by the rank the database stores.
const STAGES: [&str; 5] = ["DRUM_UP", "DIAGNOSE", "DESIGN", "DELIVER", "DISPLAY"];

async fn raw_ideas(
    State(db): State<DatabaseConnection>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let first: i64 = params
        .get("first")
        .and_then(|f| f.parse().ok())
        .unwrap_or(50);
    let answer = if params.get("statements").is_some_and(|n| n == "1") {
        page_in_one_statement(&db, first).await
    } else {
        page(&db, first).await
    };
    match answer {
        Ok(body) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(err) => (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            err.to_string(),
        )
            .into_response(),
    }
}

/// `ideas(first: N) { nodes { id title stage unit { name } cohort { name } regency { name }
/// mentorAssignments { mentor { name } } } }`, in two statements, serialised with serde_json.
pub async fn page(db: &DatabaseConnection, first: i64) -> anyhow::Result<Vec<u8>> {
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            // The limit in the text, as labinov writes it: a LIMIT parameter makes PostgreSQL
            // plan this four-table join again on every execution (see docs/benchmarks.md).
            format!(
                "SELECT i.id, i.title, i.stage, u.name AS unit, c.name AS cohort, r.name AS regency \
             FROM idea i JOIN unit u ON u.id = i.unit_id JOIN cohort c ON c.id = i.cohort_id \
             JOIN regency r ON r.id = i.regency_id ORDER BY i.submitted_at, i.id LIMIT {first}"
            ),
            [],
        ))
        .await?;
    let mut ideas = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i32 = row.try_get("", "id")?;
        let stage: i32 = row.try_get("", "stage")?;
        ideas.push((
            id,
            row.try_get::<String>("", "title")?,
            STAGES[(stage - 1).clamp(0, 4) as usize],
            row.try_get::<String>("", "unit")?,
            row.try_get::<String>("", "cohort")?,
            row.try_get::<String>("", "regency")?,
        ));
    }
    let ids: Vec<sea_orm::Value> = ideas.iter().map(|i| i.0.into()).collect();
    let mut mentors: HashMap<i32, Vec<Value>> = HashMap::new();
    if !ids.is_empty() {
        let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let assignments = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                format!(
                    "SELECT a.idea_id, m.name FROM mentor_assignment a JOIN mentor m ON m.id = a.mentor_id \
                     WHERE a.idea_id IN ({}) ORDER BY a.since, a.id",
                    placeholders.join(", ")
                ),
                ids,
            ))
            .await?;
        for row in &assignments {
            let idea: i32 = row.try_get("", "idea_id")?;
            let name: String = row.try_get("", "name")?;
            mentors
                .entry(idea)
                .or_default()
                .push(json!({"mentor": {"name": name}}));
        }
    }
    let nodes: Vec<Value> = ideas
        .into_iter()
        .map(|(id, title, stage, unit, cohort, regency)| {
            json!({
                "id": labinov::global_id::encode(labinov::global_id::Kind::Idea, id),
                "title": title,
                "stage": stage,
                "unit": {"name": unit},
                "cohort": {"name": cohort},
                "regency": {"name": regency},
                "mentorAssignments": mentors.remove(&id).unwrap_or_default(),
            })
        })
        .collect();
    Ok(serde_json::to_vec(
        &json!({"data": {"ideas": {"nodes": nodes}}}),
    )?)
}

/// The same page as [`page`] from one statement: the page's ideas with their owners, then each
/// idea's mentors joined to it (read by the array of the page's ids, one index scan), one row
/// per idea and mentor, as labinov reads it.
pub async fn page_in_one_statement(db: &DatabaseConnection, first: i64) -> anyhow::Result<Vec<u8>> {
    let rows = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "WITH page AS MATERIALIZED (SELECT i.id, i.title, i.stage, i.submitted_at, \
                 u.name AS unit, c.name AS cohort, r.name AS regency \
                 FROM idea i JOIN unit u ON u.id = i.unit_id JOIN cohort c ON c.id = i.cohort_id \
                 JOIN regency r ON r.id = i.regency_id ORDER BY i.submitted_at, i.id LIMIT {first}) \
                 SELECT page.id, page.title, page.stage, page.unit, page.cohort, page.regency, \
                 x.mentor FROM page LEFT JOIN (SELECT a.idea_id, a.since, a.id, m.name AS mentor \
                 FROM mentor_assignment a JOIN mentor m ON m.id = a.mentor_id \
                 WHERE a.idea_id = ANY (ARRAY (SELECT id FROM page))) x ON x.idea_id = page.id \
                 ORDER BY page.submitted_at, page.id, x.since, x.id"
            ),
        ))
        .await?;
    let mut nodes: Vec<Value> = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in &rows {
        let id: i32 = row.try_get("", "id")?;
        if last != Some(id) {
            let stage: i32 = row.try_get("", "stage")?;
            nodes.push(json!({
                "id": labinov::global_id::encode(labinov::global_id::Kind::Idea, id),
                "title": row.try_get::<String>("", "title")?,
                "stage": STAGES[(stage - 1).clamp(0, 4) as usize],
                "unit": {"name": row.try_get::<String>("", "unit")?},
                "cohort": {"name": row.try_get::<String>("", "cohort")?},
                "regency": {"name": row.try_get::<String>("", "regency")?},
                "mentorAssignments": [],
            }));
            last = Some(id);
        }
        if let Some(name) = row.try_get::<Option<String>>("", "mentor")?
            && let Some(Value::Array(mentors)) =
                nodes.last_mut().map(|node| &mut node["mentorAssignments"])
        {
            mentors.push(json!({"mentor": {"name": name}}));
        }
    }
    Ok(serde_json::to_vec(
        &json!({"data": {"ideas": {"nodes": nodes}}}),
    )?)
}

/// `bench serve-floor`: accepts WebSockets and broadcasts each `POST /fire` body to all of them
/// as one pre-serialized text frame — the floor any fan-out can be held against.
pub async fn serve_floor(port: u16) -> anyhow::Result<()> {
    let (sender, _) = broadcast::channel::<Utf8Bytes>(1024);
    let app = Router::new()
        .route("/healthz", get(|| async { "alive" }))
        .route("/ws", get(floor_socket))
        .route("/fire", post(fire))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn fire(State(sender): State<broadcast::Sender<Utf8Bytes>>, body: String) -> &'static str {
    let _ = sender.send(Utf8Bytes::from(body));
    "fired"
}

async fn floor_socket(
    State(sender): State<broadcast::Sender<Utf8Bytes>>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let mut receiver = sender.subscribe();
    upgrade.on_upgrade(move |mut socket: WebSocket| async move {
        while let Ok(bytes) = receiver.recv().await {
            if socket.send(Message::Text(bytes)).await.is_err() {
                return;
            }
        }
    })
}
