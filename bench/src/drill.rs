//! `bench drill`: the fault drills. Each drill runs labinov instances as child processes on a
//! database of their own (created, then dropped) and a `redis-server` of their own on a free
//! port, attaches resuming subscribers over the three protocols, writes steadily, brings on a
//! fault — Redis killed, an instance killed or stopped, the database cut or its pool exhausted,
//! a burst of thousands of events — and then checks every subscriber got every event it may
//! see exactly once, in order. It reports what was written, delivered, lost and repeated, and
//! how long recovery took; it exits non-zero when anything was lost, repeated, out of order,
//! half-written or answered without a code. Loopback only; it stops by itself; it never
//! touches the shared PostgreSQL's other databases or the shared Redis.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use sea_orm::{
    ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement, TransactionTrait,
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::{
    Report,
    data::{self, Target},
    follow::{Follower, Instances, Log, Protocol},
    servers::{self, Child},
};

/// The drills, in the order they run.
const DRILLS: [&str; 6] = ["soak", "redis", "kill", "shutdown", "database", "burst"];

#[derive(clap::Args, Clone)]
pub struct DrillArgs {
    /// Seconds instead of minutes: fewer subscribers, shorter soaks (what CI runs).
    #[arg(long)]
    quick: bool,
    /// The PostgreSQL server to create the drill's own database on (its database is only
    /// used to create and drop that one).
    #[arg(
        long,
        env = "LABINOV_BENCH_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database_url: String,
    /// Only these drills: soak, redis, kill, shutdown, database, burst.
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Subscribers per drill (overrides the mode's).
    #[arg(long)]
    subscribers: Option<usize>,
    /// Seconds each soak writes for (overrides the mode's).
    #[arg(long)]
    seconds: Option<u64>,
    /// Write the report (Markdown) to this file too.
    #[arg(long)]
    report: Option<std::path::PathBuf>,
}

/// How big the drills are.
struct Plan {
    subscribers: usize,
    soak: Duration,
    writes_per_second: u64,
    writers: u64,
    burst_rows: usize,
    burst_subscribers: usize,
    /// How long the database stays cut, and the pool exhausted.
    cut: Duration,
}

impl Plan {
    fn of(args: &DrillArgs) -> Plan {
        let mut plan = if args.quick {
            Plan {
                subscribers: 60,
                soak: Duration::from_secs(12),
                writes_per_second: 20,
                writers: 4,
                burst_rows: 1_000,
                burst_subscribers: 30,
                cut: Duration::from_secs(4),
            }
        } else {
            Plan {
                subscribers: 1_000,
                soak: Duration::from_mins(1),
                writes_per_second: 20,
                writers: 4,
                burst_rows: 5_000,
                burst_subscribers: 500,
                cut: Duration::from_secs(10),
            }
        };
        if let Some(n) = args.subscribers {
            plan.subscribers = n;
            plan.burst_subscribers = n.min(plan.burst_subscribers);
        }
        if let Some(s) = args.seconds {
            plan.soak = Duration::from_secs(s);
        }
        plan
    }
}

pub async fn run(args: DrillArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let pinned = servers::pin_self_away_from_servers();
    let plan = Plan::of(&args);
    let mut report = Report(Vec::new());
    let world = World::create(&args).await?;
    report.line(format!(
        "# labinov fault drills{} — database {}, own redis-server on port {}",
        if args.quick { " (quick)" } else { "" },
        world.name,
        world.redis.port
    ));
    report.line(format!(
        "{} subscribers per drill over graphql-transport-ws, legacy graphql-ws and SSE; {} writes/s from {} writers; soaks of {} s; servers pinned to core 0, clients on the others: {pinned}",
        plan.subscribers,
        plan.writes_per_second,
        plan.writers,
        plan.soak.as_secs()
    ));
    let mut failures = Vec::new();
    for drill in DRILLS {
        if args
            .only
            .as_ref()
            .is_some_and(|only| !only.iter().any(|o| o == drill))
        {
            continue;
        }
        let outcome = match drill {
            "soak" => soak(&world, &plan, Fault::None, &mut report).await,
            "redis" => soak(&world, &plan, Fault::Redis, &mut report).await,
            "kill" => soak(&world, &plan, Fault::Kill, &mut report).await,
            "shutdown" => soak(&world, &plan, Fault::Shutdown, &mut report).await,
            "database" => database(&world, &plan, &mut report).await,
            _ => burst(&world, &plan, &mut report).await,
        };
        match outcome {
            Ok(problems) => failures.extend(problems.into_iter().map(|p| format!("{drill}: {p}"))),
            Err(err) => failures.push(format!("{drill}: could not run: {err:#}")),
        }
    }
    world.drop_database().await;
    report.line(format!(
        "\nwhole run: {:.0} s",
        started.elapsed().as_secs_f64()
    ));
    if failures.is_empty() {
        report.line("**every drill passed: nothing lost, nothing repeated, nothing half-written**");
    } else {
        report.line("**drills failed:**");
        for failure in &failures {
            report.line(format!("- {failure}"));
        }
    }
    if let Some(path) = &args.report {
        std::fs::write(path, report.0.join("\n") + "\n")
            .with_context(|| format!("writing {}", path.display()))?;
    }
    anyhow::ensure!(
        failures.is_empty(),
        "{} drill checks failed",
        failures.len()
    );
    Ok(())
}

/// What the drills share: the database of their own, its data, a Redis of their own.
struct World {
    admin_url: String,
    name: String,
    url: String,
    targets: Vec<Target>,
    token: String,
    redis: OwnRedis,
}

impl World {
    async fn create(args: &DrillArgs) -> anyhow::Result<World> {
        let name = format!("labinov_drill_{}", std::process::id());
        let admin = Database::connect(args.database_url.clone())
            .await
            .context("connecting to PostgreSQL (set LABINOV_BENCH_DATABASE_URL)")?;
        admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .context("creating the drill's database (the user needs CREATEDB)")?;
        let base = args
            .database_url
            .split('?')
            .next()
            .unwrap_or_default()
            .rsplit_once('/')
            .map(|(server, _)| server.to_owned())
            .context("LABINOV_BENCH_DATABASE_URL names no database")?;
        let url = format!("{base}/{name}");
        let mut config = labinov::config::Config::sqlite(std::path::Path::new("unused.db"));
        config.database.database_url.clone_from(&url);
        let domain = labinov::db::connect_and_migrate(&config).await?;
        let dataset = data::build(
            &domain,
            data::Scale {
                regencies: 3,
                ideas: 12,
            },
            3,
        )
        .await?;
        Ok(World {
            admin_url: args.database_url.clone(),
            name,
            url,
            targets: dataset.targets,
            token: crate::token()?,
            redis: OwnRedis::start()?,
        })
    }

    async fn drop_database(&self) {
        if let Ok(admin) = Database::connect(self.admin_url.clone()).await {
            let _ = admin
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
        }
    }

    async fn admin(&self) -> anyhow::Result<DatabaseConnection> {
        Ok(Database::connect(self.admin_url.clone()).await?)
    }

    /// A connection to the drill's database, outside every instance's pool.
    async fn direct(&self) -> anyhow::Result<DatabaseConnection> {
        let mut options = sea_orm::ConnectOptions::new(self.url.clone());
        options.max_connections(2).sqlx_logging(false);
        Ok(Database::connect(options).await?)
    }

    /// The last sequence of each regency, by code.
    async fn heads(&self) -> anyhow::Result<HashMap<String, i64>> {
        let db = self.direct().await?;
        let rows = db
            .query_all_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT r.code, COALESCE(MAX(e.seq), 0) AS head FROM regency r LEFT JOIN pipeline_event e ON e.regency_id = r.id GROUP BY r.code",
            ))
            .await?;
        let mut heads = HashMap::new();
        for row in rows {
            heads.insert(
                row.try_get::<String>("", "code")?,
                row.try_get::<i64>("", "head")?,
            );
        }
        db.close().await?;
        Ok(heads)
    }

    /// Starts an instance on the drill's database and Redis.
    async fn instance(&self, extra: &[(&'static str, String)]) -> anyhow::Result<Child> {
        let port = servers::free_port()?;
        let mut env = crate::server_env();
        env.retain(|(k, _)| *k != "LABINOV_LIVE_POLL_MS");
        env.push(("REDIS_URL", self.redis.url()));
        env.push(("REDIS_CHANNEL_PREFIX", format!("{}:", self.name)));
        env.push(("LABINOV_SHUTDOWN_DELAY_SECS", "1".to_owned()));
        env.extend(extra.iter().cloned());
        servers::spawn(
            &[
                "serve-labinov".to_owned(),
                "serve".to_owned(),
                "--database-url".to_owned(),
                self.url.clone(),
                "--listen".to_owned(),
                format!("127.0.0.1:{port}"),
            ],
            &env,
            port,
            "/readyz",
        )
        .await
    }

    /// A resume cursor for `codes` as of now, from `port`.
    async fn cursor(&self, port: u16, codes: &[String]) -> anyhow::Result<String> {
        let body = graphql(
            &reqwest::Client::new(),
            port,
            &self.token,
            "query($c: [String!]) { pipelineEvents(filter: {regencyCodes: $c}, last: 1) { resumeCursor } }",
            json!({"c": codes}),
        )
        .await?;
        body["data"]["pipelineEvents"]["resumeCursor"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no resume cursor: {body}"))
    }

    /// `n` followers spread over the protocols, the regencies (one each, or all) and the
    /// instances, each starting from a cursor taken now.
    async fn followers(
        &self,
        n: usize,
        instances: &Instances,
        stop: &CancellationToken,
    ) -> anyhow::Result<Vec<Follower>> {
        let port = instances.pick(0).context("no instance is up")?;
        let all: Vec<String> = self.targets.iter().map(|t| t.code.clone()).collect();
        let mut scopes = all.iter().map(|c| vec![c.clone()]).collect::<Vec<_>>();
        scopes.push(all.clone());
        let mut cursors = Vec::new();
        for scope in &scopes {
            cursors.push(self.cursor(port, scope).await?);
        }
        Ok((0..n)
            .map(|i| {
                let s = (i / 3) % scopes.len();
                Follower::start(
                    Protocol::ALL[i % 3],
                    instances.clone(),
                    i,
                    self.token.clone(),
                    scopes[s].clone(),
                    cursors[s].clone(),
                    stop.clone(),
                )
            })
            .collect())
    }
}

/// A `redis-server` of the drills' own on a free port, killed and restarted at will.
struct OwnRedis {
    port: u16,
    process: Mutex<Option<std::process::Child>>,
}

impl OwnRedis {
    fn start() -> anyhow::Result<OwnRedis> {
        let redis = OwnRedis {
            port: servers::free_port()?,
            process: Mutex::new(None),
        };
        redis.restart()?;
        Ok(redis)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn restart(&self) -> anyhow::Result<()> {
        let process = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .context("starting redis-server (it must be on the PATH)")?;
        *lock(&self.process) = Some(process);
        for _ in 0..50 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        anyhow::bail!("redis-server did not start on port {}", self.port)
    }

    /// SIGKILL: no goodbye to its clients.
    fn kill(&self) {
        if let Some(mut process) = lock(&self.process).take() {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn graphql(
    client: &reqwest::Client,
    port: u16,
    token: &str,
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    Ok(client
        .post(format!("http://127.0.0.1:{port}/graphql"))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await?
        .json()
        .await?)
}

const SUBMIT: &str = "mutation($c: ID!, $u: ID!, $t: String!) { submitIdea(input: {cohortId: $c, unitId: $u, title: $t, problem: \"Antrean\", type: DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Umum\", initiator: WORK_UNIT}) { event { sequence } } }";

/// What the writers saw.
#[derive(Default)]
struct Writes {
    ok: AtomicU64,
    /// Answers with errors, by code.
    coded: Mutex<BTreeMap<String, u64>>,
    /// Refused at connect (the instance is down): never started.
    refused: AtomicU64,
    /// Broken after the request went out: an instance stopping must never do this.
    cut: AtomicU64,
    /// Titles written successfully, and titles refused with a code.
    done: Mutex<Vec<String>>,
    failed: Mutex<Vec<String>>,
    /// The slowest answer, in ms.
    slowest_ms: AtomicU64,
}

impl Writes {
    fn summary(&self) -> String {
        let coded = lock(&self.coded);
        let mut s = format!(
            "{} written, {} refused at connect, {} cut mid-request",
            self.ok.load(Ordering::Relaxed),
            self.refused.load(Ordering::Relaxed),
            self.cut.load(Ordering::Relaxed)
        );
        for (code, n) in coded.iter() {
            let _ = write!(s, ", {n} answered {code}");
        }
        s
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// Writers submitting ideas at `rate` per second in total, round-robin over the regencies and
/// the instances up, until `stop`.
fn start_writers(
    world: &World,
    plan: &Plan,
    instances: &Instances,
    label: &str,
    stop: &CancellationToken,
) -> (Arc<Writes>, tokio::task::JoinSet<()>) {
    let writes = Arc::new(Writes::default());
    let mut tasks = tokio::task::JoinSet::new();
    let every = Duration::from_secs_f64(plan.writers as f64 / plan.writes_per_second as f64);
    for w in 0..plan.writers {
        let (writes, instances, stop) = (writes.clone(), instances.clone(), stop.clone());
        let (targets, token, label) =
            (world.targets.clone(), world.token.clone(), label.to_owned());
        tasks.spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_mins(1))
                .build()
                .unwrap_or_default();
            let mut beat = tokio::time::interval(every);
            for n in 0usize.. {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = beat.tick() => {}
                }
                let Some(port) = instances.pick(n + w as usize) else {
                    continue;
                };
                let target = &targets[(n + w as usize) % targets.len()];
                let title = format!("{label} w{w} n{n}");
                let began = Instant::now();
                let answer = graphql(
                    &client,
                    port,
                    &token,
                    SUBMIT,
                    json!({"c": target.cohort, "u": target.unit, "t": title}),
                )
                .await;
                writes
                    .slowest_ms
                    .fetch_max(began.elapsed().as_millis() as u64, Ordering::Relaxed);
                match answer {
                    Ok(body) => match body["errors"][0]["extensions"]["code"].as_str() {
                        None if body["data"]["submitIdea"].is_object() => {
                            writes.ok.fetch_add(1, Ordering::Relaxed);
                            lock(&writes.done).push(title);
                        }
                        code => {
                            *lock(&writes.coded)
                                .entry(code.unwrap_or("(no code)").to_owned())
                                .or_default() += 1;
                            lock(&writes.failed).push(title);
                        }
                    },
                    Err(err) => {
                        let connect = err
                            .downcast_ref::<reqwest::Error>()
                            .is_some_and(reqwest::Error::is_connect);
                        if connect {
                            writes.refused.fetch_add(1, Ordering::Relaxed);
                        } else {
                            writes.cut.fetch_add(1, Ordering::Relaxed);
                        }
                        lock(&writes.failed).push(title);
                    }
                }
            }
        });
    }
    (writes, tasks)
}

/// Resident memory of each instance, sampled every second.
/// Seconds since the start, and each instance's resident memory then (KiB).
type Sample = (f64, Vec<u64>);

struct Memory {
    samples: Arc<Mutex<Vec<Sample>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Memory {
    fn sample(pids: Vec<u32>, stop: CancellationToken) -> Memory {
        let samples = Arc::new(Mutex::new(Vec::new()));
        let shared = samples.clone();
        let task = tokio::spawn(async move {
            let began = Instant::now();
            loop {
                let rss = pids.iter().map(|pid| servers::rss_of(*pid)).collect();
                lock(&shared).push((began.elapsed().as_secs_f64(), rss));
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
            }
        });
        Memory { samples, task }
    }

    /// The curve in a few points (MB), each instance's growth from the end of warm-up (a
    /// quarter of the way) to the end, and each one's peak (MB).
    fn finish(self) -> (String, Vec<Option<f64>>, Vec<f64>) {
        self.task.abort();
        let samples = lock(&self.samples).clone();
        let mb = |kib: u64| kib as f64 / 1024.0;
        let mut curve = String::new();
        let points = 8.min(samples.len());
        for k in 0..points {
            let (t, rss) = &samples[k * (samples.len() - 1) / (points - 1).max(1)];
            let values: Vec<String> = rss.iter().map(|r| format!("{:.1}", mb(*r))).collect();
            let _ = write!(curve, "{t:.0} s: {} MB; ", values.join(" / "));
        }
        let growth = match (samples.get(samples.len() / 4), samples.last()) {
            (Some((_, warm)), Some((_, end))) => warm
                .iter()
                .zip(end)
                .map(|(w, e)| (*e > 0).then(|| mb(*e) - mb(*w)))
                .collect(),
            _ => Vec::new(),
        };
        let peak = (0..samples.first().map_or(0, |(_, rss)| rss.len()))
            .map(|i| {
                samples
                    .iter()
                    .map(|(_, rss)| mb(rss[i]))
                    .fold(0.0, f64::max)
            })
            .collect();
        (curve.trim_end_matches("; ").to_owned(), growth, peak)
    }
}

/// What each follower got, against what it should have.
#[derive(Default)]
struct Tally {
    expected: u64,
    delivered: u64,
    lost: u64,
    repeated: u64,
    out_of_order: u64,
    reconnects: u64,
    errors: Vec<String>,
    by_protocol: BTreeMap<&'static str, (u64, u64)>,
}

impl Tally {
    fn of(
        followers: &[(Protocol, Vec<String>, Log)],
        start: &HashMap<String, i64>,
        end: &HashMap<String, i64>,
    ) -> Tally {
        let mut tally = Tally::default();
        for (protocol, codes, log) in followers {
            let mut want = 0;
            for code in codes {
                let from = start.get(code).copied().unwrap_or(0);
                let to = end.get(code).copied().unwrap_or(0);
                want += (to - from).max(0) as u64;
                let got: Vec<i64> = log
                    .received
                    .iter()
                    .filter(|(c, _)| c == code)
                    .map(|(_, s)| *s)
                    .collect();
                let distinct: std::collections::BTreeSet<i64> = got.iter().copied().collect();
                tally.repeated += (got.len() - distinct.len()) as u64;
                tally.lost += (from + 1..=to).filter(|s| !distinct.contains(s)).count() as u64;
                tally.out_of_order += got.windows(2).filter(|w| w[1] <= w[0]).count() as u64;
            }
            tally.expected += want;
            tally.delivered += log.received.len() as u64;
            tally.reconnects += u64::from(log.reconnects);
            tally.errors.extend(log.errors.iter().take(2).cloned());
            let entry = tally.by_protocol.entry(protocol.name()).or_default();
            entry.0 += 1;
            entry.1 += log.received.len() as u64;
        }
        tally
    }

    fn line(&self) -> String {
        let protocols: Vec<String> = self
            .by_protocol
            .iter()
            .map(|(p, (n, d))| format!("{n} on {p} got {d}"))
            .collect();
        format!(
            "events owed to subscribers {}, delivered {}, lost **{}**, repeated **{}**, out of order **{}**; reconnects {} ({})",
            self.expected,
            self.delivered,
            self.lost,
            self.repeated,
            self.out_of_order,
            self.reconnects,
            protocols.join(", ")
        )
    }

    /// The tally's line and how long after the last write every subscriber had its due.
    fn report(&self, report: &mut Report, caught_up: Duration) {
        report.line(format!("- {}", self.line()));
        report.line(format!(
            "- every subscriber had all its events {:.2} s after the last write",
            caught_up.as_secs_f64()
        ));
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.lost > 0 {
            problems.push(format!("{} events lost", self.lost));
        }
        if self.repeated > 0 {
            problems.push(format!("{} events repeated", self.repeated));
        }
        if self.out_of_order > 0 {
            problems.push(format!("{} events out of order", self.out_of_order));
        }
        if self.delivered != self.expected {
            problems.push(format!(
                "{} delivered where {} were owed",
                self.delivered, self.expected
            ));
        }
        for error in self.errors.iter().take(3) {
            problems.push(format!("a subscriber was refused: {error}"));
        }
        problems
    }
}

/// Waits until every follower has as many events as it is owed (or `within`), then stops them
/// and returns their logs; the time it took is the catch-up after the last write.
async fn settle(
    followers: Vec<Follower>,
    start: &HashMap<String, i64>,
    end: &HashMap<String, i64>,
    stop: &CancellationToken,
    within: Duration,
) -> (Vec<(Protocol, Vec<String>, Log)>, Duration) {
    let began = Instant::now();
    let owed = |codes: &[String]| -> usize {
        codes
            .iter()
            .map(|c| {
                (end.get(c).copied().unwrap_or(0) - start.get(c).copied().unwrap_or(0)).max(0)
                    as usize
            })
            .sum()
    };
    // Until every follower has its due, or delivery has stopped moving for a while (then
    // what is missing is lost, not late), or `within` is over.
    let (mut progress, mut moved) = (0, Instant::now());
    while began.elapsed() < within
        && moved.elapsed() < STALLED
        && followers
            .iter()
            .any(|f| f.count() < owed(&f.codes) && f.log().errors.is_empty())
    {
        let delivered: usize = followers.iter().map(Follower::count).sum();
        if delivered > progress {
            (progress, moved) = (delivered, Instant::now());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let waited = began.elapsed();
    // A moment more, so a repeat arriving after the last owed event is seen too.
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let mut logs = Vec::new();
    for follower in followers {
        let (protocol, codes) = (follower.protocol, follower.codes.clone());
        logs.push((protocol, codes, follower.finish().await));
    }
    (logs, waited)
}

/// What the followers got once the writes stopped.
struct Delivered {
    /// Each regency's head when the writes stopped.
    end: HashMap<String, i64>,
    logs: Vec<(Protocol, Vec<String>, Log)>,
    tally: Tally,
    /// How long after the writes stopped every follower had its due.
    caught_up: Duration,
}

/// The writes have stopped: waits for every follower's due (see [`settle`]), stops them and
/// counts what each got against what it was owed.
async fn delivered(
    world: &World,
    followers: Vec<Follower>,
    start: &HashMap<String, i64>,
    stop: &CancellationToken,
) -> anyhow::Result<Delivered> {
    let end = world.heads().await?;
    let (logs, caught_up) = settle(followers, start, &end, stop, Duration::from_mins(10)).await;
    let tally = Tally::of(&logs, start, &end);
    Ok(Delivered {
        end,
        logs,
        tally,
        caught_up,
    })
}

/// Delivery that has not moved for this long has stopped: what is missing then is lost.
const STALLED: Duration = Duration::from_secs(15);

/// Writes sent to an instance a moment before it is told to stop.
const IN_FLIGHT: usize = 10;

/// The fault a soak brings on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    None,
    /// The Redis server killed (SIGKILL) and restarted, twice.
    Redis,
    /// The second instance killed with SIGKILL halfway.
    Kill,
    /// The second instance sent SIGTERM halfway.
    Shutdown,
}

/// Polls `/readyz` of `port` until its bus mode is `mode`; the time it took.
async fn bus_mode(port: u16, mode: &str, within: Duration) -> Option<Duration> {
    readyz_until(port, within, |_, body| body["bus"]["mode"] == mode).await
}

/// Polls `/readyz` until it is `ready` (200) or not; the time it took.
async fn ready_is(port: u16, ready: bool, within: Duration) -> Option<Duration> {
    readyz_until(port, within, |ok, _| ok == ready).await
}

/// Polls `/readyz` every 50 ms until `wanted(answered 200, body)` holds; the time it took.
async fn readyz_until(
    port: u16,
    within: Duration,
    wanted: impl Fn(bool, &Value) -> bool,
) -> Option<Duration> {
    let began = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    while began.elapsed() < within {
        if let Ok(response) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            let ok = response.status().is_success();
            let body = response.json::<Value>().await.unwrap_or_default();
            if wanted(ok, &body) {
                return Some(began.elapsed());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn secs(d: Option<Duration>) -> String {
    d.map_or_else(
        || "never".to_owned(),
        |d| format!("{:.2} s", d.as_secs_f64()),
    )
}

/// Two instances sharing the database and Redis, followers spread over both and the
/// protocols, writes from several writers for the soak's length, and `fault` on the way.
async fn soak(
    world: &World,
    plan: &Plan,
    fault: Fault,
    report: &mut Report,
) -> anyhow::Result<Vec<String>> {
    let title = match fault {
        Fault::None => "Soak: two instances, no fault",
        Fault::Redis => "Redis killed (SIGKILL) and restarted twice during the soak",
        Fault::Kill => "One of two instances killed with SIGKILL mid-soak",
        Fault::Shutdown => "One of two instances stopped with SIGTERM mid-soak (graceful shutdown)",
    };
    report.line(format!("\n## {title}"));
    let mut problems = Vec::new();
    let a = world.instance(&[]).await?;
    let mut b = Some(world.instance(&[]).await?);
    let b_port = b.as_ref().map_or(0, |b| b.port);
    let instances = Instances::default();
    instances.set(vec![a.port, b_port]);
    let stop_followers = CancellationToken::new();
    let start = world.heads().await?;
    let followers = world
        .followers(plan.subscribers, &instances, &stop_followers)
        .await?;
    let stop_writes = CancellationToken::new();
    let memory = Memory::sample(
        vec![a.pid, b.as_ref().map_or(0, |b| b.pid)],
        stop_writes.clone(),
    );
    let label = format!("{fault:?} soak");
    let (writes, mut writing) = start_writers(world, plan, &instances, &label, &stop_writes);
    let began = Instant::now();
    let at = |fraction: f64| began + plan.soak.mul_f64(fraction);
    let mut events = Vec::new();
    match fault {
        Fault::None => {}
        Fault::Redis => {
            // Each instance must see the bus go and come back: /readyz says so.
            let redis = &world.redis;
            for (kill, back) in [(0.2, 0.4), (0.6, 0.8)] {
                tokio::time::sleep_until(at(kill).into()).await;
                redis.kill();
                let down = Instant::now();
                let a_down = bus_mode(a.port, "database fallback", Duration::from_secs(10)).await;
                let b_down = bus_mode(b_port, "database fallback", Duration::from_secs(10)).await;
                tokio::time::sleep_until(at(back).into()).await;
                redis.restart()?;
                let up = Instant::now();
                let a_up = bus_mode(a.port, "redis", Duration::from_secs(15)).await;
                let b_up = bus_mode(b_port, "redis", Duration::from_secs(15)).await;
                if a_down.is_none() || b_down.is_none() {
                    problems.push("/readyz did not report the bus down".to_owned());
                }
                if a_up.is_none() || b_up.is_none() {
                    problems.push("/readyz did not report the bus back".to_owned());
                }
                events.push(format!(
                    "Redis killed at {:.1} s: /readyz said \"database fallback\" after {} and {}; restarted at {:.1} s: \"redis\" again after {} and {}",
                    down.duration_since(began).as_secs_f64(),
                    secs(a_down),
                    secs(b_down),
                    up.duration_since(began).as_secs_f64(),
                    secs(a_up),
                    secs(b_up)
                ));
            }
        }
        Fault::Kill | Fault::Shutdown => {
            tokio::time::sleep_until(at(0.5).into()).await;
            let mut child = b.take().context("the second instance")?;
            let on_b = followers.iter().filter(|f| f.log().port == b_port).count();
            let hit = Instant::now();
            let drained = if fault == Fault::Kill {
                let _ = child.process.start_kill();
                // Clients learn of the loss from their own connections; writes go elsewhere.
                instances.remove(b_port);
                None
            } else {
                // Writes in flight when the signal comes: each must finish.
                let in_flight: Vec<_> = (0..IN_FLIGHT)
                    .map(|n| {
                        let target = world.targets[n % world.targets.len()].clone();
                        let token = world.token.clone();
                        tokio::spawn(async move {
                            let body = graphql(
                                &reqwest::Client::new(),
                                b_port,
                                &token,
                                SUBMIT,
                                json!({"c": target.cohort, "u": target.unit, "t": format!("in flight at SIGTERM {n}")}),
                            )
                            .await;
                            body.is_ok_and(|b| b["data"]["submitIdea"].is_object())
                        })
                    })
                    .collect();
                tokio::time::sleep(Duration::from_millis(5)).await;
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &child.pid.to_string()])
                    .status();
                let mut finished = 0;
                for write in in_flight {
                    finished += usize::from(write.await.unwrap_or(false));
                }
                events.push(format!(
                    "{finished} of {IN_FLIGHT} writes sent to the second instance just before its SIGTERM finished"
                ));
                if finished < IN_FLIGHT {
                    problems.push(format!(
                        "{} writes in flight at SIGTERM did not finish",
                        IN_FLIGHT - finished
                    ));
                }
                // A load balancer's health check: it stops sending writes there once /readyz
                // says the instance is draining.
                let drained = ready_is(b_port, false, Duration::from_secs(10)).await;
                instances.remove(b_port);
                if drained.is_none() {
                    problems
                        .push("/readyz did not say the stopping instance was draining".to_owned());
                }
                drained
            };
            let exited = tokio::time::timeout(Duration::from_secs(30), child.process.wait())
                .await
                .ok()
                .and_then(Result::ok);
            let stopped_in = hit.elapsed();
            let moved = loop {
                let left = followers
                    .iter()
                    .filter(|f| {
                        let port = f.log().port;
                        port == b_port || port == 0
                    })
                    .count();
                if left == 0 || hit.elapsed() > Duration::from_secs(30) {
                    break (left == 0).then(|| hit.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            if moved.is_none() {
                problems.push("subscribers did not all reconnect to the other instance".to_owned());
            }
            let exit = match exited {
                Some(status) => status.to_string(),
                None => "still running after 30 s".to_owned(),
            };
            let draining = drained.map_or_else(String::new, |d| {
                format!(
                    " (/readyz said draining after {}; the drill sets a 1 s shutdown delay)",
                    secs(Some(d))
                )
            });
            events.push(format!(
                "{} the second instance at {:.1} s with {on_b} subscribers on it: it exited ({exit}) after {:.2} s{draining}; every subscriber was on the first instance again after {}",
                if fault == Fault::Kill { "SIGKILL to" } else { "SIGTERM to" },
                hit.duration_since(began).as_secs_f64(),
                stopped_in.as_secs_f64(),
                secs(moved)
            ));
            if fault == Fault::Shutdown && exited.is_none_or(|s| !s.success()) {
                problems.push(format!("the stopped instance did not exit cleanly: {exit}"));
            }
        }
    }
    tokio::time::sleep_until(at(1.0).into()).await;
    stop_writes.cancel();
    while writing.join_next().await.is_some() {}
    let Delivered {
        end,
        logs,
        tally,
        caught_up,
    } = delivered(world, followers, &start, &stop_followers).await?;
    let (curve, growth, _) = memory.finish();
    let written: i64 = end
        .iter()
        .map(|(c, h)| h - start.get(c).copied().unwrap_or(0))
        .sum();
    for line in events {
        report.line(format!("- {line}"));
    }
    report.line(format!(
        "- writes: {} ({written} events written); slowest answer {} ms",
        writes.summary(),
        writes.slowest_ms.load(Ordering::Relaxed)
    ));
    tally.report(report, caught_up);
    if fault == Fault::Shutdown {
        let closes: Vec<u16> = logs
            .iter()
            .flat_map(|(_, _, l)| l.close_codes.clone())
            .collect();
        let restart = closes.iter().filter(|c| **c == 1012).count();
        report.line(format!(
            "- WebSocket close frames received: {} ({} with 1012 \"service restart\")",
            closes.len(),
            restart
        ));
        if restart == 0 {
            problems.push("no WebSocket was closed with 1012".to_owned());
        }
        if writes.cut.load(Ordering::Relaxed) > 0 {
            problems.push("writes in flight were cut by the shutdown".to_owned());
        }
    }
    report.line(format!(
        "- resident memory (first / second instance): {curve}; growth after warm-up: {}",
        growth
            .iter()
            .map(|g| g.map_or_else(|| "stopped".to_owned(), |g| format!("{g:+.1} MB")))
            .collect::<Vec<_>>()
            .join(" / ")
    ));
    problems.extend(tally.problems());
    problems.extend(unexplained(&writes, &[]));
    drop(b);
    drop(a);
    Ok(problems)
}

/// Errors a writer got that no fault of this drill explains.
fn unexplained(writes: &Writes, allowed: &[&str]) -> Vec<String> {
    lock(&writes.coded)
        .iter()
        .filter(|(code, _)| !allowed.contains(&code.as_str()))
        .map(|(code, n)| format!("{n} writes answered {code}"))
        .collect()
}

/// The database cut, then its pool exhausted, under writes and subscribers.
async fn database(world: &World, plan: &Plan, report: &mut Report) -> anyhow::Result<Vec<String>> {
    report.line("\n## The database cut, then the pool exhausted by long transactions");
    let mut problems = Vec::new();
    let acquire = 2u64;
    let a = world
        .instance(&[
            ("DATABASE_MAX_CONNECTIONS", "4".to_owned()),
            ("DATABASE_ACQUIRE_TIMEOUT_SECS", acquire.to_string()),
        ])
        .await?;
    let instances = Instances::default();
    instances.set(vec![a.port]);
    let stop_followers = CancellationToken::new();
    let start = world.heads().await?;
    let followers = world
        .followers(plan.subscribers.min(90), &instances, &stop_followers)
        .await?;
    let stop_writes = CancellationToken::new();
    let (writes, mut writing) =
        start_writers(world, plan, &instances, "database drill", &stop_writes);
    let probes = Probes::start(a.port, world.token.clone(), stop_writes.clone());
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The cut: no new connections to the database, and every one open terminated.
    let admin = world.admin().await?;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS false",
            world.name
        ))
        .await?;
    let cut = Instant::now();
    let terminated = admin
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()",
                world.name
            ),
        ))
        .await?
        .len();
    let unready = ready_is(a.port, false, plan.cut + Duration::from_secs(5)).await;
    tokio::time::sleep_until((cut + plan.cut).into()).await;
    admin
        .execute_unprepared(&format!(
            "ALTER DATABASE {} ALLOW_CONNECTIONS true",
            world.name
        ))
        .await?;
    let restored = Instant::now();
    let ready = ready_is(a.port, true, Duration::from_secs(30)).await;
    let wrote = writes.ok.load(Ordering::Relaxed);
    let first_write = loop {
        if writes.ok.load(Ordering::Relaxed) > wrote {
            break Some(restored.elapsed());
        }
        if restored.elapsed() > Duration::from_secs(30) {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    report.line(format!(
        "- cut for {} s ({terminated} server connections terminated, new ones refused): /readyz false after {}; restored: /readyz true after {}, first write through after {}",
        plan.cut.as_secs(),
        secs(unready),
        secs(ready),
        secs(first_write)
    ));
    if unready.is_none() {
        problems.push("/readyz stayed true while the database was cut".to_owned());
    }
    if ready.is_none() || first_write.is_none() {
        problems.push("the server did not recover from the cut without a restart".to_owned());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The pool exhausted: a transaction outside the server locks the event table, so every
    // write the server starts waits on it holding a connection, until none is left.
    let direct = world.direct().await?;
    let locker = direct.begin().await?;
    locker
        .execute_unprepared("LOCK TABLE pipeline_event IN EXCLUSIVE MODE")
        .await?;
    let lock_taken = Instant::now();
    let unready = ready_is(a.port, false, plan.cut + Duration::from_secs(5)).await;
    tokio::time::sleep_until((lock_taken + plan.cut).into()).await;
    locker.rollback().await?;
    let ready = ready_is(a.port, true, Duration::from_secs(30)).await;
    report.line(format!(
        "- pool of 4 exhausted for {} s by writes waiting on a lock held outside: /readyz false after {}; lock released: /readyz true after {}",
        plan.cut.as_secs(),
        secs(unready),
        secs(ready)
    ));
    if unready.is_none() {
        problems.push("/readyz stayed true while the pool was exhausted".to_owned());
    }
    if ready.is_none() {
        problems.push("the server did not recover from the exhausted pool".to_owned());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop_writes.cancel();
    while writing.join_next().await.is_some() {}
    let probes = probes.finish().await;
    let Delivered {
        end: _,
        logs: _,
        tally,
        caught_up,
    } = delivered(world, followers, &start, &stop_followers).await?;

    // Never half-done: every idea has its submission event and every write reported done is
    // there; writes refused with a code left nothing.
    let db = world.direct().await?;
    let count = async |sql: String| -> anyhow::Result<i64> {
        let row = db
            .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
            .await?
            .context("a count")?;
        Ok(row.try_get::<i64>("", "n")?)
    };
    let orphans = count(
        "SELECT COUNT(*) AS n FROM idea i WHERE NOT EXISTS (SELECT 1 FROM pipeline_event e WHERE e.idea_id = i.id)".to_owned(),
    )
    .await?;
    let quoted = |titles: &[String]| {
        titles
            .iter()
            .map(|t| format!("'{}'", t.replace('\'', "''")))
            .collect::<Vec<_>>()
            .join(",")
    };
    let done = lock(&writes.done).clone();
    let failed = lock(&writes.failed).clone();
    let kept = if done.is_empty() {
        0
    } else {
        count(format!(
            "SELECT COUNT(*) AS n FROM idea WHERE title IN ({})",
            quoted(&done)
        ))
        .await?
    };
    let refused_kept = if failed.is_empty() {
        0
    } else {
        count(format!(
            "SELECT COUNT(*) AS n FROM idea WHERE title IN ({})",
            quoted(&failed)
        ))
        .await?
    };
    db.close().await?;
    report.line(format!(
        "- writes: {}; slowest answer {} ms (the acquire timeout is {acquire} s)",
        writes.summary(),
        writes.slowest_ms.load(Ordering::Relaxed)
    ));
    report.line(format!("- reads during the drill: {}", probes.summary()));
    report.line(format!(
        "- half-done writes: ideas without their event {orphans}; written and answered done but missing {}; answered with an error but kept {refused_kept}",
        done.len() as i64 - kept
    ));
    tally.report(report, caught_up);
    if orphans > 0 || kept != done.len() as i64 {
        problems.push("a write was half-done or lost".to_owned());
    }
    if refused_kept > 0 {
        // Possible only when a connection is lost during the commit itself; reported, as the
        // README says.
        report.line(format!(
            "- note: {refused_kept} writes were answered with an error although they committed (their connection was terminated during the commit)"
        ));
    }
    problems.extend(unexplained(&writes, &["SERVICE_UNAVAILABLE"]));
    problems.extend(probes.unexplained());
    if probes.unavailable == 0 {
        problems.push("no read was answered SERVICE_UNAVAILABLE during the faults".to_owned());
    }
    problems.extend(tally.problems());
    drop(a);
    Ok(problems)
}

/// A read every 100 ms through the drill, as a dashboard polling would: what it was answered
/// and how long the slowest took.
struct Probes {
    task: tokio::task::JoinHandle<ProbeLog>,
}

#[derive(Default)]
struct ProbeLog {
    ok: u64,
    unavailable: u64,
    other: BTreeMap<String, u64>,
    slowest_error_ms: u64,
}

impl Probes {
    fn start(port: u16, token: String, stop: CancellationToken) -> Probes {
        let task = tokio::spawn(async move {
            let mut log = ProbeLog::default();
            let client = reqwest::Client::builder()
                .timeout(Duration::from_mins(1))
                .build()
                .unwrap_or_default();
            while !stop.is_cancelled() {
                let began = Instant::now();
                let answer = graphql(
                    &client,
                    port,
                    &token,
                    "{ ideas(first: 5) { totalCount nodes { title } } }",
                    json!({}),
                )
                .await;
                let ms = began.elapsed().as_millis() as u64;
                match answer {
                    Ok(body) => match body["errors"][0]["extensions"]["code"].as_str() {
                        None => log.ok += 1,
                        Some("SERVICE_UNAVAILABLE") => {
                            log.unavailable += 1;
                            log.slowest_error_ms = log.slowest_error_ms.max(ms);
                        }
                        Some(code) => *log.other.entry(code.to_owned()).or_default() += 1,
                    },
                    Err(_) => *log.other.entry("(no answer)".to_owned()).or_default() += 1,
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            log
        });
        Probes { task }
    }

    async fn finish(self) -> ProbeLog {
        self.task.await.unwrap_or_default()
    }
}

impl ProbeLog {
    fn summary(&self) -> String {
        let mut s = format!(
            "{} answered, {} SERVICE_UNAVAILABLE (slowest of those {} ms)",
            self.ok, self.unavailable, self.slowest_error_ms
        );
        for (code, n) in &self.other {
            let _ = write!(s, ", {n} {code}");
        }
        s
    }

    fn unexplained(&self) -> Vec<String> {
        self.other
            .iter()
            .map(|(code, n)| format!("{n} reads answered {code}"))
            .collect()
    }
}

/// One import of thousands of ideas with hundreds of subscribers attached.
async fn burst(world: &World, plan: &Plan, report: &mut Report) -> anyhow::Result<Vec<String>> {
    report.line(format!(
        "\n## A burst: {} ideas in one import with {} subscribers attached",
        plan.burst_rows, plan.burst_subscribers
    ));
    let a = world.instance(&[]).await?;
    let b = world.instance(&[]).await?;
    let instances = Instances::default();
    instances.set(vec![a.port, b.port]);
    let stop_followers = CancellationToken::new();
    let start = world.heads().await?;
    let followers = world
        .followers(plan.burst_subscribers, &instances, &stop_followers)
        .await?;
    // Every follower connected and subscribed before the burst.
    let began = Instant::now();
    while followers.iter().any(|f| f.log().port == 0) && began.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stop_memory = CancellationToken::new();
    let memory = Memory::sample(vec![a.pid, b.pid], stop_memory.clone());
    let before = (a.rss_kib(), b.rss_kib());
    let target = &world.targets[0];
    let csv = data::csv_of(plan.burst_rows, 0).replace("Inovasi ", "Lonjakan ");
    let imported = Instant::now();
    let body = reqwest::Client::builder()
        .timeout(Duration::from_mins(5))
        .build()?
        .post(format!("http://127.0.0.1:{}/graphql", a.port))
        .bearer_auth(&world.token)
        .json(&json!({
            "query": "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { imported } }",
            "variables": {"c": target.cohort, "csv": csv},
        }))
        .send()
        .await?
        .json::<Value>()
        .await?;
    let took = imported.elapsed();
    anyhow::ensure!(
        body["data"]["importIdeas"]["imported"].as_u64() == Some(plan.burst_rows as u64),
        "the import failed: {body}"
    );
    let Delivered {
        end,
        logs: _,
        tally,
        caught_up,
    } = delivered(world, followers, &start, &stop_followers).await?;
    stop_memory.cancel();
    let (curve, _, peak) = memory.finish();
    let written = end[&target.code] - start[&target.code];
    report.line(format!(
        "- the import wrote {written} events in {:.2} s",
        took.as_secs_f64()
    ));
    tally.report(report, caught_up);
    report.line(format!(
        "- resident memory (importing / other instance) before: {:.1} / {:.1} MB; peak {}; during and after: {curve}",
        before.0 as f64 / 1024.0,
        before.1 as f64 / 1024.0,
        peak.iter()
            .map(|p| format!("{p:.1} MB"))
            .collect::<Vec<_>>()
            .join(" / ")
    ));
    let mut problems = tally.problems();
    if written < plan.burst_rows as i64 {
        problems.push(format!(
            "the import wrote {written} events for {} ideas",
            plan.burst_rows
        ));
    }
    drop((a, b));
    Ok(problems)
}
