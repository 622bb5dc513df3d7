//! labinov's benchmark harness. One command builds a PostgreSQL database at scale, starts the
//! server and, side by side with hand-written baselines, measures what docs/benchmarks.md
//! reports; it stops by itself, uses the loopback only, and drops its schema at the end.
//!
//! ```sh
//! cargo run --release -p bench                 # the full run (minutes)
//! cargo run -p bench -- --quick                # seconds: what CI runs so the harness cannot rot
//! LABINOV_BENCH_SERVER=target/debug/labinov ./target/release/bench --only tax,big
//!                                              # another build of the server, same load
//! ```

#![allow(
    clippy::too_many_lines,
    reason = "a benchmark section or a fault drill is one scenario told from start to end, like a test"
)]

mod data;
mod drill;
mod floor;
mod follow;
mod load;
mod scale;
mod servers;
mod ws;

use std::{
    io::Write,
    time::{Duration, Instant},
};

use anyhow::Context;
use clap::{Parser, Subcommand};
use labinov::{access::Role, auth::Authenticator};
use load::{Call, quantile_ms};
use serde_json::{Value, json};
use servers::Child;

#[derive(Parser)]
#[command(name = "bench", about = "labinov's benchmark harness")]
struct Cli {
    #[command(subcommand)]
    command: Option<Mode>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
enum Mode {
    /// Runs the labinov server with these arguments (what the harness measures).
    #[command(hide = true)]
    ServeLabinov {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Runs the hand-written endpoint.
    #[command(hide = true)]
    ServeRaw {
        #[arg(long)]
        database_url: String,
        #[arg(long)]
        schema: String,
        #[arg(long)]
        port: u16,
        #[arg(long, default_value_t = 10)]
        pool: u32,
    },
    /// Runs the WebSocket broadcast floor.
    #[command(hide = true)]
    ServeFloor {
        #[arg(long)]
        port: u16,
    },
    /// The floor's subscribers of the fan-out measurement, in a process of their own, taking
    /// turns with labinov's when the harness says (see `floor.rs`).
    #[command(hide = true)]
    FloorSubscribers {
        #[arg(long)]
        url: String,
        #[arg(long)]
        fire: String,
        #[arg(long)]
        subscribers: usize,
        #[arg(long)]
        per_second: u32,
    },
    /// Opens idle pipelineEvents subscribers to a running server (signed with the harness's
    /// secret) and holds them, for profiling memory by hand (heaptrack, /proc).
    #[command(hide = true)]
    Hold {
        /// The GraphQL WebSocket URL, e.g. ws://127.0.0.1:8080/graphql.
        #[arg(long)]
        url: String,
        #[arg(long, default_value_t = 1000)]
        subscribers: usize,
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// The fault drills: Redis, an instance or the database failing under load; checks that
    /// every subscriber gets every event exactly once, in order (see docs/reliability.md).
    Drill(drill::DrillArgs),
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Seconds instead of minutes: a small database, short runs (what CI runs).
    #[arg(long)]
    quick: bool,
    /// The PostgreSQL database to build the benchmark schema in.
    #[arg(
        long,
        env = "LABINOV_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// Write the report (Markdown) to this file too.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
    /// Regencies in the database (overrides the mode's scale).
    #[arg(long)]
    regencies: Option<usize>,
    /// Ideas per regency (overrides the mode's scale).
    #[arg(long)]
    ideas: Option<usize>,
    /// Subscriber counts of the fan-out measurement, e.g. 1000,10000.
    #[arg(long, value_delimiter = ',')]
    fanout: Option<Vec<usize>>,
    /// Only these measurements: tax, statements, big, funnel, aggregates, fanout, writes, scale.
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// The Redis the instances of the scale-out measurement share.
    #[arg(
        long,
        env = "LABINOV_BENCH_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    /// A Redis Cluster (seed nodes, comma-separated) the scale-out instances share instead.
    #[arg(long, env = "LABINOV_BENCH_REDIS_CLUSTER_URLS", value_delimiter = ',')]
    redis_cluster_urls: Vec<String>,
    /// Streaming replicas of the benchmark's database for the scale-out instances.
    #[arg(long, env = "LABINOV_BENCH_REPLICA_URLS", value_delimiter = ',')]
    replica_urls: Vec<String>,
    /// Instance counts of the scale-out measurement, e.g. 1,2,4.
    #[arg(long, value_delimiter = ',')]
    instances: Option<Vec<usize>>,
    /// Subscribers spread over the instances in the scale-out measurement.
    #[arg(long)]
    scale_subscribers: Option<usize>,
}

impl RunArgs {
    fn wants(&self, part: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|o| o == part))
    }
}

/// How much of everything a run uses.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    scale: data::Scale,
    duration: Duration,
    warmup: Duration,
    concurrency: usize,
    fanout: Vec<usize>,
    pub(crate) writes_per_second: u32,
    pub(crate) fanout_writes: usize,
    /// Writes of the fan-out measurement (section 4) and how many a second: enough writes that
    /// one slow write is no more than the 1% a p99 leaves out, spaced so that each write's
    /// deliveries are done before the next write (10,000 frames take the floor itself about
    /// 200 ms here): its p99 is then a delivery's latency, not a queue two cores build up.
    delivery_writes: usize,
    delivery_writes_per_second: u32,
    funnels: usize,
    write_clients: usize,
    /// Instance counts and subscribers of the scale-out measurement.
    pub(crate) instances: Vec<usize>,
    pub(crate) scale_subscribers: usize,
}

impl Plan {
    fn of(quick: bool) -> Self {
        if quick {
            Self {
                scale: data::Scale {
                    regencies: 3,
                    ideas: 40,
                },
                duration: Duration::from_secs(1),
                warmup: Duration::from_millis(200),
                concurrency: 4,
                fanout: vec![20],
                writes_per_second: 10,
                fanout_writes: 5,
                delivery_writes: 5,
                delivery_writes_per_second: 10,
                funnels: 10,
                write_clients: 8,
                instances: vec![1, 2],
                scale_subscribers: 20,
            }
        } else {
            Self {
                scale: data::Scale {
                    regencies: 100,
                    ideas: 300,
                },
                duration: Duration::from_secs(8),
                warmup: Duration::from_secs(2),
                concurrency: 16,
                fanout: vec![1_000, 10_000],
                writes_per_second: 5,
                fanout_writes: 25,
                delivery_writes: 100,
                delivery_writes_per_second: 2,
                funnels: 1_000,
                write_clients: 8,
                instances: vec![1, 2, 4],
                scale_subscribers: 10_000,
            }
        }
    }
}

impl Plan {
    /// How the fan-out measurement's writes to labinov and to the floor take turns: rounds,
    /// and writes to each in a round.
    fn delivery_rounds(&self) -> (usize, usize) {
        let rounds = if self.delivery_writes >= 40 { 4 } else { 1 };
        (rounds, self.delivery_writes / rounds)
    }

    /// How the uncached tax's endpoints take turns: rounds, each one's measured time and
    /// warm-up, together as long as one run of `duration` after `warmup`.
    fn rounds(&self) -> (usize, Duration, Duration) {
        let rounds = if self.duration >= Duration::from_secs(4) {
            4
        } else {
            2
        };
        let n = rounds as u32;
        (rounds, self.duration / n, self.warmup / n)
    }
}

/// Adds one round of a load run, with the CPU it took, to the runs before it.
fn add_turn(
    total: &mut (load::Run, (f64, f64)),
    (run, (server, postgres)): (load::Run, (f64, f64)),
) {
    total.0.latencies.extend(run.latencies);
    total.0.elapsed += run.elapsed;
    total.0.errors += run.errors;
    total.1.0 += server;
    total.1.1 += postgres;
}

const SECRET: &str = "labinov benchmark secret, loopback only, 32+ bytes";

/// What the fan-out subscribers ask: the events of one regency, with the payload that carries
/// each write's number.
pub(crate) const FANOUT_SUBSCRIPTION: &str =
    "subscription($f: PipelineEventFilter) { pipelineEvents(filter: $f) { sequence payload } }";

const DASHBOARD: &str = "query($n: Int) { ideas(first: $n) { nodes { id title stage unit { name } cohort { name } regency { name } mentorAssignments { mentor { name } } } } }";

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match cli.command {
            Some(Mode::ServeLabinov { args }) => servers::serve_labinov(args).await,
            Some(Mode::ServeRaw {
                database_url,
                schema,
                port,
                pool,
            }) => servers::serve_raw(&database_url, &schema, port, pool).await,
            Some(Mode::ServeFloor { port }) => servers::serve_floor(port).await,
            Some(Mode::Drill(args)) => drill::run(args).await,
            Some(Mode::FloorSubscribers {
                url,
                fire,
                subscribers,
                per_second,
            }) => floor::serve(&url, &fire, subscribers, per_second).await,
            Some(Mode::Hold {
                url,
                subscribers,
                seconds,
            }) => hold(&url, subscribers, seconds).await,
            None => run(cli.run).await,
        }
    })
}

async fn hold(url: &str, subscribers: usize, seconds: u64) -> anyhow::Result<()> {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let operations = (0..subscribers)
        .map(|_| {
            (
                "subscription { pipelineEvents { sequence cursor kind regency { code } } }"
                    .to_owned(),
                json!({}),
            )
        })
        .collect();
    let open = ws::open(url, &token()?, operations, 64, false).await?;
    eprintln!("{subscribers} subscribers open; holding them {seconds} s");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    open.close().await;
    Ok(())
}

/// The report, line by line, as the run goes.
pub(crate) struct Report(pub(crate) Vec<String>);

impl Report {
    pub(crate) fn line(&mut self, line: impl Into<String>) {
        let line = line.into();
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
        self.0.push(line);
    }
}

pub(crate) fn token() -> anyhow::Result<String> {
    let mut config = labinov::config::Config::sqlite(std::path::Path::new("unused.db"));
    config.tokens.jwt_secret = Some(SECRET.to_owned());
    let auth = Authenticator::from_config(&config, false)?;
    auth.issue(&labinov::cli::claims(
        "bench",
        Role::Admin,
        None,
        None,
        Duration::from_hours(6),
    )?)
}

/// The server's environment for a run: limits opened wide so the harness measures the server,
/// not its guards.
pub(crate) fn server_env() -> Vec<(&'static str, String)> {
    vec![
        ("LABINOV_JWT_SECRET", SECRET.to_owned()),
        ("LABINOV_LIVE_POLL_MS", "3600000".to_owned()),
        ("LABINOV_MAX_PAGE_SIZE", "1000".to_owned()),
        ("LABINOV_MAX_QUERY_COMPLEXITY", "1000000".to_owned()),
        ("LABINOV_MAX_CONNECTIONS", "60000".to_owned()),
        // Every client of the harness is 127.0.0.1.
        ("LABINOV_MAX_CONNECTIONS_PER_ADDRESS", "0".to_owned()),
        ("LABINOV_MAX_STREAMS_PER_ADDRESS", "0".to_owned()),
        ("LABINOV_MAX_SUBSCRIPTIONS_PER_ADDRESS", "0".to_owned()),
        ("LABINOV_RATE_LIMIT_PER_TOKEN", "1000000000".to_owned()),
        ("LABINOV_RATE_LIMIT_PER_IP", "1000000000".to_owned()),
        ("LABINOV_CONNECTION_INIT_TIMEOUT_SECS", "120".to_owned()),
    ]
}

async fn start_labinov(database: &[String], port: u16) -> anyhow::Result<Child> {
    start_labinov_with(database, port, &[]).await
}

/// labinov with `extra` settings on top of [`server_env`].
pub(crate) async fn start_labinov_with(
    database: &[String],
    port: u16,
    extra: &[(&'static str, String)],
) -> anyhow::Result<Child> {
    let mut args = vec!["serve-labinov".to_owned(), "serve".to_owned()];
    args.extend(database.iter().cloned());
    args.extend(["--listen".to_owned(), format!("127.0.0.1:{port}")]);
    let mut env = server_env();
    env.extend(extra.iter().cloned());
    servers::spawn(&args, &env, port, "/readyz").await
}

fn graphql(server: &Child, token: &str, query: &str, variables: Value) -> Call {
    let mut body = json!({ "query": query });
    body["variables"] = variables;
    Call::Post {
        url: server.url("/graphql"),
        token: token.to_owned(),
        body,
    }
}

async fn statements(server: &Child) -> anyhow::Result<f64> {
    let text = reqwest::get(server.url("/metrics")).await?.text().await?;
    Ok(text
        .lines()
        .find(|l| l.starts_with("labinov_sql_statements_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut plan = Plan::of(args.quick);
    plan.scale.regencies = args.regencies.unwrap_or(plan.scale.regencies).max(1);
    plan.scale.ideas = args.ideas.unwrap_or(plan.scale.ideas).max(1);
    if let Some(fanout) = &args.fanout {
        plan.fanout.clone_from(fanout);
    }
    if let Some(instances) = &args.instances {
        plan.instances.clone_from(instances);
    }
    if let Some(subscribers) = args.scale_subscribers {
        plan.scale_subscribers = subscribers.max(1);
    }
    let started = Instant::now();
    let mut report = Report(Vec::new());
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let pinned = servers::pin_self_away_from_servers();
    let schema = format!("bench_{}", std::process::id());
    report.line(format!(
        "# labinov benchmark{} — {} regencies × {} ideas, PostgreSQL schema {schema}",
        if args.quick { " (quick)" } else { "" },
        plan.scale.regencies,
        plan.scale.ideas
    ));
    report.line(format!(
        "machine: {cores} cores; servers pinned to core 0, load from the others: {pinned}"
    ));
    report.line(format!(
        "labinov measured: {}",
        std::env::var(servers::SERVER_ENV)
            .unwrap_or_else(|_| "the harness's own build of it".to_owned())
    ));

    // The database.
    let mut config = labinov::config::Config::sqlite(std::path::Path::new("unused.db"));
    config.database.database_url.clone_from(&args.database_url);
    config.database.database_schema = Some(schema.clone());
    config.database.database_max_connections = 20;
    let built = Instant::now();
    let dataset = {
        let domain = labinov::db::connect_and_migrate(&config)
            .await
            .context("connecting to PostgreSQL (set LABINOV_BENCH_DATABASE_URL)")?;
        data::build(&domain, plan.scale, 8).await?
    };
    data::settle(&args.database_url, &schema).await?;
    report.line(format!(
        "database: {} ideas, {} events, built (then vacuumed and analyzed) in {:.1} s",
        dataset.ideas,
        dataset.events,
        built.elapsed().as_secs_f64()
    ));

    let outcome = measure(&args, &plan, &schema, &dataset, &mut report).await;

    // Drop the schema whatever happened.
    if let Ok(db) = sea_orm::Database::connect(args.database_url.clone()).await {
        let _ = sea_orm::ConnectionTrait::execute_unprepared(
            &db,
            &format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"),
        )
        .await;
    }
    outcome?;
    report.line(format!(
        "\nwhole run: {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    if let Some(path) = args.report {
        std::fs::write(&path, report.0.join("\n") + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

async fn measure(
    args: &RunArgs,
    plan: &Plan,
    schema: &str,
    dataset: &data::Dataset,
    report: &mut Report,
) -> anyhow::Result<()> {
    let token = token()?;
    let database = vec![
        "--database-url".to_owned(),
        args.database_url.clone(),
        "--database-schema".to_owned(),
        schema.to_owned(),
    ];
    let port = servers::free_port()?;
    let server = start_labinov(&database, port).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_rss = server.rss_kib();
    report.line(format!(
        "\n## 5. Start-up and idle memory\nstart-up to ready (migrations checked, listener up): {:.0} ms; idle resident memory: {:.1} MB",
        ms(server.started_in),
        idle_rss as f64 / 1024.0
    ));

    // 1. The GraphQL tax.
    let raw_port = servers::free_port()?;
    let raw = servers::spawn(
        &[
            "serve-raw".to_owned(),
            "--database-url".to_owned(),
            args.database_url.clone(),
            "--schema".to_owned(),
            schema.to_owned(),
            "--port".to_owned(),
            raw_port.to_string(),
        ],
        &[],
        raw_port,
        "/healthz",
    )
    .await?;
    // The same server with its response cache off: what executing the query costs.
    let uncached = start_labinov_with(
        &database,
        servers::free_port()?,
        &[("LABINOV_RESPONSE_CACHE_MB", "0".to_owned())],
    )
    .await?;
    if args.wants("tax") {
        let page = graphql(&server, &token, DASHBOARD, json!({"n": 50}));
        let page_uncached = graphql(&uncached, &token, DASHBOARD, json!({"n": 50}));
        let hand = Call::Get {
            url: raw.url("/raw/ideas?first=50"),
        };
        let hand_in_one = Call::Get {
            url: raw.url("/raw/ideas?first=50&statements=1"),
        };
        let client = load::client(1);
        let (ours, theirs) = (page.body(&client).await?, hand.body(&client).await?);
        anyhow::ensure!(
            ours == theirs
                && page_uncached.body(&client).await? == theirs
                && hand_in_one.body(&client).await? == theirs,
            "the hand-written endpoint must answer what GraphQL answers"
        );
        // Each run with the CPU its server and PostgreSQL spend while it is measured.
        let measured = |call, pid, duration, warmup| {
            let call: &load::Call = call;
            async move {
                tokio::join!(
                    load::run(call, plan.concurrency, duration, warmup),
                    servers::cpu_during(pid, warmup, duration)
                )
            }
        };
        let cached_run = measured(&page, server.pid, plan.duration, plan.warmup).await;
        // The endpoints the uncached tax compares take turns in short rounds, each round in
        // another order, so that whatever else the machine does in a minute weighs on all alike.
        let (rounds, round, warmup) = plan.rounds();
        let endpoints = [
            (&page_uncached, uncached.pid),
            (&hand, raw.pid),
            (&hand_in_one, raw.pid),
        ];
        let mut runs: [(load::Run, (f64, f64)); 3] = Default::default();
        let mut round_taxes = Vec::with_capacity(rounds);
        for n in 0..rounds {
            let mut per_second = [0.0; 3];
            for k in 0..endpoints.len() {
                let at = (n + k) % endpoints.len();
                let (call, pid) = endpoints[at];
                let turn = measured(call, pid, round, warmup).await;
                per_second[at] = turn.0.per_second();
                add_turn(&mut runs[at], turn);
            }
            round_taxes.push(per_second[0] / per_second[1]);
        }
        let row = |name: &str, (run, (server, postgres)): &(load::Run, (f64, f64))| {
            let per_request = |seconds: f64| 1000.0 * seconds / run.latencies.len().max(1) as f64;
            format!(
                "| {name} | {:.0} | {:.2} | {:.2} | {} | {:.2} | {:.2} |",
                run.per_second(),
                quantile_ms(&run.latencies, 0.5),
                quantile_ms(&run.latencies, 0.99),
                run.errors,
                per_request(*server),
                per_request(*postgres),
            )
        };
        let [graphql_run, raw_run, raw_in_one] = &runs;
        let rate = |run: &(load::Run, (f64, f64))| run.0.per_second();
        report.line(format!(
            "\n## 1. The GraphQL tax: the dashboard page (50 ideas with unit, cohort, regency, mentors), {} clients\n\
             | endpoint | requests/s | p50 ms | p99 ms | errors | server CPU ms/request | PostgreSQL CPU ms/request |\n\
             | --- | --- | --- | --- | --- | --- | --- |\n{}\n{}\n{}\n{}\n\
             GraphQL tax (GraphQL requests/s ÷ hand-written): **{:.2}** with the response cache (the page asked again, \
             the data unchanged), **{:.2}** without it (the uncached page and the hand-written endpoints in {} rounds \
             of {:.1} s each, taking turns; the rounds' own taxes {}); {:.2} without it against the hand-written page \
             in one statement",
            plan.concurrency,
            row("labinov GraphQL, response cache on", &cached_run),
            row("labinov GraphQL, response cache off", graphql_run),
            row("hand-written axum + SQL, two statements", raw_run),
            row("hand-written axum + SQL, one statement", raw_in_one),
            rate(&cached_run) / rate(raw_run),
            rate(graphql_run) / rate(raw_run),
            rounds,
            round.as_secs_f64(),
            round_taxes
                .iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(" / "),
            rate(graphql_run) / rate(raw_in_one),
        ));
    }
    // 2. SQL statements per request.
    if args.wants("statements") {
        let mut per_size = Vec::new();
        for (cache, target) in [("off", &uncached), ("on", &server)] {
            for size in [10, 100] {
                let call = graphql(target, &token, DASHBOARD, json!({"n": size}));
                let before = statements(target).await?;
                let run = load::sequential(&call, 20).await;
                let after = statements(target).await?;
                per_size.push((
                    cache,
                    size,
                    (after - before) / run.latencies.len().max(1) as f64,
                ));
            }
        }
        report.line(format!(
            "\n## 2. SQL statements per request (the dashboard page, 20 times in a row)\n{}",
            per_size
                .iter()
                .map(|(cache, size, n)| format!(
                    "response cache {cache}, first: {size} → {n:.1} statements"
                ))
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    // 3. A 1,000-idea response.
    if args.wants("big") {
        // Built, not kept: the cache would hide what building it costs.
        let big = graphql(&uncached, &token, DASHBOARD, json!({"n": 1000}));
        let big_raw = Call::Get {
            url: raw.url("/raw/ideas?first=1000"),
        };
        let reps = if args.quick { 3 } else { 30 };
        let (ours, theirs) = (
            load::sequential(&big, reps).await,
            load::sequential(&big_raw, reps).await,
        );
        let (ours_ms, theirs_ms) = (
            quantile_ms(&ours.latencies, 0.5),
            quantile_ms(&theirs.latencies, 0.5),
        );
        report.line(format!(
        "\n## 3. A 1,000-idea response, median of {reps}\nlabinov GraphQL {ours_ms:.1} ms; the same rows by hand-written SQL + serde_json {theirs_ms:.1} ms: **{:.1}×**",
        ours_ms / theirs_ms
    ));
    }
    drop((raw, uncached));

    // 6. Funnel subscriptions: the cost of one write.
    let code = &dataset.codes[0];
    let submit =
        |title: String| submit_idea(&server, &token, &dataset.cohort, &dataset.unit, &title);
    if args.wants("funnel") {
        report.line(format!(
        "\n## 6. {} funnel subscriptions: one write into their regency\n| subscriptions | write → last snapshot ms | server CPU s |\n| --- | --- | --- |",
        plan.funnels
    ));
        for distinct in [false, true] {
            let operations: Vec<ws::Operation> = (0..plan.funnels)
                .map(|n| {
                    let mut filter = json!({"regencyCodes": [code]});
                    if distinct {
                        let day = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap_or_default()
                            + chrono::Days::new(n as u64);
                        filter["submittedTo"] = json!(day.to_string());
                    }
                    (
                        "subscription($f: IdeaFilter) { funnel(filter: $f) { funnel { total } } }"
                            .to_owned(),
                        json!({"f": filter}),
                    )
                })
                .collect();
            let mut subscribers = ws::open(
                &format!("ws://127.0.0.1:{}/graphql", server.port),
                &token,
                operations,
                64,
                false,
            )
            .await?;
            let first = subscribers
                .collect(plan.funnels, Duration::from_mins(2))
                .await;
            anyhow::ensure!(
                first.len() == plan.funnels,
                "only {} of {} funnel snapshots arrived",
                first.len(),
                plan.funnels
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
            subscribers.drain();
            let cpu = server.cpu_seconds();
            let sent = Instant::now();
            load::once(&submit(format!("funnel write {distinct}"))).await;
            let updates = subscribers
                .collect(plan.funnels, Duration::from_mins(5))
                .await;
            let last = updates.iter().map(|a| a.at).max().unwrap_or(sent);
            tokio::time::sleep(Duration::from_millis(300)).await;
            report.line(format!(
                "| {} {} | {:.0} | {:.2} |",
                plan.funnels,
                if distinct { "distinct" } else { "identical" },
                ms(last.saturating_duration_since(sent)),
                server.cpu_seconds() - cpu
            ));
            anyhow::ensure!(
                updates.len() == plan.funnels,
                "{} of {} funnel updates arrived",
                updates.len(),
                plan.funnels
            );
            subscribers.close().await;
        }
    }
    // 8. Writes and reads beside many distinct anonymous funnel subscriptions.
    if args.wants("aggregates") {
        aggregates_beside_writes(&database, &token, plan, dataset, report).await?;
    }
    // 9. Scale-out: several instances sharing the database and Redis.
    if args.wants("scale") {
        let shared = scale::Shared {
            redis_url: args.redis_url.clone(),
            cluster: args.redis_cluster_urls.clone(),
            replicas: args.replica_urls.clone(),
        };
        scale::scale_out(&database, &shared, &token, plan, dataset, report).await?;
    }
    // 4 and 5. Fan-out of live events, against the floor of broadcasting pre-serialized bytes.
    if args.wants("fanout") {
        let floor_port = servers::free_port()?;
        let floor = servers::spawn(
            &[
                "serve-floor".to_owned(),
                "--port".to_owned(),
                floor_port.to_string(),
            ],
            &[],
            floor_port,
            "/healthz",
        )
        .await?;
        report.line(format!(
        "\n## 4 and 5. Fan-out: pipelineEvents subscribers on one instance, {} writes at {}/s, to labinov and to the floor in turns ({} rounds, both sets of subscribers open, the floor's in a process of their own)\n\
         | subscribers | labinov p50 / p99 / max ms | floor p50 / p99 / max ms | resident memory per idle subscription |\n| --- | --- | --- | --- |",
        plan.delivery_writes, plan.delivery_writes_per_second, plan.delivery_rounds().0
    ));
        for &n in &plan.fanout {
            // A fresh server, so its memory growth is the subscriptions' alone.
            let fresh = start_labinov(&database, servers::free_port()?).await?;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let submit =
                |title: String| submit_idea(&fresh, &token, &dataset.cohort, &dataset.unit, &title);
            let server = &fresh;
            let before = server.rss_kib();
            let operations: Vec<ws::Operation> = (0..n)
                .map(|_| {
                    (
                        FANOUT_SUBSCRIPTION.to_owned(),
                        json!({"f": {"regencyCodes": [code]}}),
                    )
                })
                .collect();
            let mut subscribers = ws::open(
                &format!("ws://127.0.0.1:{}/graphql", server.port),
                &token,
                operations,
                128,
                false,
            )
            .await?;
            // A subscription is live once the server has set it up, a moment after the
            // socket sent it: warm-up writes go until every subscriber received one.
            let mut live = std::collections::HashSet::new();
            for attempt in 0..20 {
                load::once(&submit(format!("fan-out warm-up {attempt}"))).await;
                let within = Duration::from_secs(2) + Duration::from_millis(n as u64);
                // Every arrival counts, from live subscribers too: reading only as many
                // arrivals as subscribers are missing would leave the late ones' arrivals
                // queued behind the live ones' and never seen.
                if subscribers.until_each_delivered(&mut live, n, within).await {
                    break;
                }
            }
            if live.len() < n {
                // Reported, not hidden: the latencies below are those of the live ones.
                report.line(format!(
                    "**{} of {n} subscriptions delivered nothing after 20 warm-up writes** (the log above has their sockets' last frames)",
                    n - live.len()
                ));
            }
            let delivering = live.len();
            tokio::time::sleep(Duration::from_millis(500)).await;
            subscribers.drain();
            tokio::time::sleep(Duration::from_secs(1)).await;
            let per_subscription = (server.rss_kib().saturating_sub(before)) as f64 / n as f64;
            // The floor's subscribers open beside labinov's, and the two take turns in rounds
            // of writes, each round in the other order: whatever else the machine does for a
            // few seconds (these are shared virtual machines) weighs on both alike. The floor's
            // are held by a child process, so that neither process needs more open files than
            // one set of sockets.
            let (rounds, per_round) = plan.delivery_rounds();
            let per_second = plan.delivery_writes_per_second;
            let (mut ours, mut floor_latencies) = (Vec::new(), Vec::new());
            let mut floor_side = None;
            for round in 0..rounds {
                let writes = round * per_round..(round + 1) * per_round;
                for side in [round % 2, 1 - round % 2] {
                    if side == 0 {
                        ours.extend(
                            fan_out(
                                &mut subscribers,
                                delivering,
                                per_second,
                                writes.clone(),
                                |k| {
                                    let call = submit(format!("bench-write-{k}"));
                                    async move { load::once(&call).await }
                                },
                            )
                            .await,
                        );
                        continue;
                    }
                    if floor_side.is_none() {
                        floor_side = Some(
                            floor::FloorSide::open(
                                &format!("ws://127.0.0.1:{}/ws", floor.port),
                                &floor.url("/fire"),
                                n,
                                per_second,
                            )
                            .await?,
                        );
                    }
                    if let Some(open) = floor_side.as_mut() {
                        floor_latencies.extend(open.turn(writes.clone()).await?);
                    }
                }
            }
            subscribers.close().await;
            if let Some(open) = floor_side {
                open.close().await;
            }
            report.line(format!(
                "| {n} | {:.1} / {:.1} / {:.1} | {:.1} / {:.1} / {:.1} | {:.1} KB |",
                quantile_ms(&ours, 0.5),
                quantile_ms(&ours, 0.99),
                quantile_ms(&ours, 1.0),
                quantile_ms(&floor_latencies, 0.5),
                quantile_ms(&floor_latencies, 0.99),
                quantile_ms(&floor_latencies, 1.0),
                per_subscription
            ));
        }
        drop(floor);
    }

    // 7. Writes from 8 clients into one regency, on PostgreSQL and on SQLite.
    if args.wants("writes") {
        report.line(format!(
        "\n## 7. submitIdea from {} concurrent clients into one regency\n| database | writes/s | p50 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- |",
        plan.write_clients
    ));
        let write = submit("bench write".to_owned());
        let pg = load::run(&write, plan.write_clients, plan.duration, plan.warmup).await;
        report.line(format!(
            "| PostgreSQL | {:.0} | {:.1} | {:.1} | {} |",
            pg.per_second(),
            quantile_ms(&pg.latencies, 0.5),
            quantile_ms(&pg.latencies, 0.99),
            pg.errors
        ));
        drop(server);
        let dir = std::env::temp_dir().join(format!("labinov-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let sqlite_port = servers::free_port()?;
        let sqlite = start_labinov(
            &[
                "--database-url".to_owned(),
                format!("sqlite://{}?mode=rwc", dir.join("bench.db").display()),
            ],
            sqlite_port,
        )
        .await?;
        let target = seed_sqlite(&sqlite, &token).await?;
        let sqlite_write = submit_idea(&sqlite, &token, &target.0, &target.1, "bench write");
        let lite = load::run(
            &sqlite_write,
            plan.write_clients,
            plan.duration,
            plan.warmup,
        )
        .await;
        report.line(format!(
            "| SQLite | {:.0} | {:.1} | {:.1} | {} |",
            lite.per_second(),
            quantile_ms(&lite.latencies, 0.5),
            quantile_ms(&lite.latencies, 0.99),
            lite.errors
        ));
        drop(sqlite);
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(())
}

/// The number of the unmeasured write that starts each turn of the fan-out measurement.
const WARM_UP_WRITE: usize = 1_000_000;

/// Writes numbers `writes` at `per_second` (each write carries its number
/// `k` in the event's payload title) and returns every subscriber's write-to-delivery latency.
pub(crate) async fn fan_out<F, Fut>(
    subscribers: &mut ws::Subscribers,
    n: usize,
    per_second: u32,
    writes: std::ops::Range<usize>,
    write: F,
) -> Vec<Duration>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = load::Run> + Send + 'static,
{
    // One write first, not measured: a turn after the other side's starts from a process left
    // idle for seconds, and one cold write in each of the rounds would be 4 % of the writes,
    // more than the 1 % a p99 leaves out.
    subscribers.drain();
    write(WARM_UP_WRITE).await;
    subscribers.collect(n, Duration::from_secs(10)).await;
    subscribers.drain();
    let mut sent = std::collections::HashMap::with_capacity(writes.len());
    let gap = Duration::from_secs_f64(1.0 / f64::from(per_second.max(1)));
    let mut running = tokio::task::JoinSet::new();
    let mut tick = tokio::time::interval(gap);
    let count = writes.len();
    for k in writes {
        tick.tick().await;
        sent.insert(k, Instant::now());
        running.spawn(write(k));
    }
    let arrivals = subscribers.collect(n * count, Duration::from_mins(2)).await;
    while running.join_next().await.is_some() {}
    arrivals
        .iter()
        .filter_map(|a| {
            let title = a.payload["data"]["pipelineEvents"]["payload"]["title"].as_str()?;
            let k: usize = title.strip_prefix("bench-write-")?.parse().ok()?;
            Some(a.at.saturating_duration_since(*sent.get(&k)?))
        })
        .collect()
}

/// The `n`-th anonymous funnel filter of the first regency: a distinct combination of the
/// public dimensions (stages, types, forms, maturities), each combination a different answer.
fn public_filter(code: &str, n: usize) -> Value {
    let pick = |names: &[&str], bits: usize| -> Vec<String> {
        names
            .iter()
            .enumerate()
            .filter(|(i, _)| bits & (1 << i) != 0)
            .map(|(_, name)| (*name).to_owned())
            .collect()
    };
    let stages = ["DRUM_UP", "DIAGNOSE", "DESIGN", "DELIVER", "DISPLAY"];
    let types = ["DIGITAL", "NON_DIGITAL"];
    let forms = ["GOVERNANCE", "PUBLIC_SERVICE", "OTHER"];
    let maturities = ["INITIATIVE", "TRIAL", "APPLIED"];
    // Mixed radix over the non-empty subsets: 31 × 3 × 7 × 7 = 4,557 filters.
    let (stage_bits, rest) = (n % 31 + 1, n / 31);
    let (type_bits, rest) = (rest % 3 + 1, rest / 3);
    let (form_bits, rest) = (rest % 7 + 1, rest / 7);
    let maturity_bits = rest % 7 + 1;
    json!({
        "regencyCodes": [code],
        "stages": pick(&stages, stage_bits),
        "types": pick(&types, type_bits),
        "forms": pick(&forms, form_bits),
        "maturities": pick(&maturities, maturity_bits),
    })
}

/// Section 8: one writer and two readers on a fresh server, with no funnel subscriptions and
/// then beside `plan.funnels` anonymous ones with distinct filters on the regency written to.
async fn aggregates_beside_writes(
    database: &[String],
    token: &str,
    plan: &Plan,
    dataset: &data::Dataset,
    report: &mut Report,
) -> anyhow::Result<()> {
    let code = &dataset.codes[0];
    report.line(format!(
        "\n## 8. Writes and reads beside {} distinct anonymous funnel subscriptions\n\
         | funnel subscriptions | submitIdea p50 / p99 ms | dashboard page p50 / p99 ms | server CPU s |\n| --- | --- | --- | --- |",
        plan.funnels
    ));
    let mut figures = Vec::new();
    for subscribed in [0, plan.funnels] {
        let fresh = start_labinov(database, servers::free_port()?).await?;
        let operations: Vec<ws::Operation> = (0..subscribed)
            .map(|n| {
                (
                    "subscription($f: IdeaFilter) { funnel(filter: $f) { funnel { total } } }"
                        .to_owned(),
                    json!({"f": public_filter(code, n)}),
                )
            })
            .collect();
        let mut subscribers = ws::open(
            &format!("ws://127.0.0.1:{}/graphql", fresh.port),
            "",
            operations,
            64,
            false,
        )
        .await?;
        let first = subscribers
            .collect(subscribed, Duration::from_mins(5))
            .await;
        anyhow::ensure!(
            first.len() == subscribed,
            "only {} of {subscribed} funnel snapshots arrived",
            first.len()
        );
        let write = submit_idea(&fresh, token, &dataset.cohort, &dataset.unit, "aggregates");
        let read = graphql(&fresh, token, DASHBOARD, json!({"n": 50}));
        let cpu = fresh.cpu_seconds();
        let (writes, reads) = tokio::join!(
            load::run(&write, 1, plan.duration, plan.warmup),
            load::run(&read, 2, plan.duration, plan.warmup)
        );
        let cpu = fresh.cpu_seconds() - cpu;
        subscribers.close().await;
        report.line(format!(
            "| {subscribed} | {:.1} / {:.1} | {:.2} / {:.2} | {cpu:.2} |",
            quantile_ms(&writes.latencies, 0.5),
            quantile_ms(&writes.latencies, 0.99),
            quantile_ms(&reads.latencies, 0.5),
            quantile_ms(&reads.latencies, 0.99),
        ));
        anyhow::ensure!(
            writes.errors == 0 && reads.errors == 0,
            "{} writes and {} reads failed",
            writes.errors,
            reads.errors
        );
        figures.push((
            quantile_ms(&writes.latencies, 0.99),
            quantile_ms(&reads.latencies, 0.5),
        ));
    }
    if let [(write_none, read_none), (write_many, read_many)] = figures[..] {
        report.line(format!(
            "with the subscriptions ÷ without: write p99 **{:.2}×**, read p50 **{:.2}×** (target ≤ 2× each)",
            write_many / write_none,
            read_many / read_none
        ));
    }
    Ok(())
}

/// `submitIdea` of an idea titled `title` into `cohort` and `unit`.
pub(crate) fn submit_idea(
    server: &Child,
    token: &str,
    cohort: &str,
    unit: &str,
    title: &str,
) -> Call {
    graphql(
        server,
        token,
        "mutation($c: ID!, $u: ID!, $t: String!) { submitIdea(input: {cohortId: $c, unitId: $u, title: $t, problem: \"Antrean\", type: DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Umum\", initiator: WORK_UNIT}) { event { sequence } } }",
        json!({"c": cohort, "u": unit, "t": title}),
    )
}

/// A regency, unit and lab edition in the empty SQLite database; their IDs.
async fn seed_sqlite(server: &Child, token: &str) -> anyhow::Result<(String, String)> {
    let client = load::client(1);
    let ask = async |query: &str, variables: Value| -> anyhow::Result<Value> {
        let body = graphql(server, token, query, variables)
            .body(&client)
            .await?;
        anyhow::ensure!(body.get("errors").is_none(), "seeding SQLite: {body}");
        Ok(body["data"].clone())
    };
    let regency = ask(
        "mutation { createRegency(input: {code: \"90.01\", name: \"Kabupaten Uji\", province: \"Uji\", organiser: \"Bapelitbangda\"}) { regency { id } } }",
        json!({}),
    )
    .await?["createRegency"]["regency"]["id"]
        .clone();
    let unit = ask(
        "mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: DINAS, name: \"Dinas Kesehatan\"}) { unit { id } } }",
        json!({"r": regency}),
    )
    .await?["createUnit"]["unit"]["id"]
        .clone();
    let cohort = ask(
        "mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2024, name: \"Lab 2024\"}) { cohort { id } } }",
        json!({"r": regency}),
    )
    .await?["createCohort"]["cohort"]["id"]
        .clone();
    Ok((
        cohort.as_str().unwrap_or_default().to_owned(),
        unit.as_str().unwrap_or_default().to_owned(),
    ))
}
