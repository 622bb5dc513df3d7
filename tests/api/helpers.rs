//! `TestApp`: a server on its own fresh database, called through its router.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use axum::{Router, body::Body, http::Request};
use http_body_util::BodyExt;
use std::time::Duration;

use labinov::{App, Config, access::Role, auth::Authenticator, domain::Domain, live::Hub};
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub struct TestApp {
    pub config: Config,
    pub domain: Domain,
    pub hub: Hub,
    /// Subscription answers shared among identical subscribers.
    pub shared_results: Arc<labinov::graphql::shared::SharedResults>,
    /// Identical WebSocket subscriptions served by one execution.
    pub fanout: Arc<labinov::http::fanout::Fanout>,
    /// `http://127.0.0.1:PORT`, where the server listens for tests that need a real socket.
    pub address: String,
    router: Router,
    stop: CancellationToken,
    dir: Arc<TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The token secret of every test server.
pub const TEST_SECRET: &str = "test secret of the labinov suite, 32+ bytes long";

/// A token signed with the test secret.
pub fn token(role: Role, regency: Option<&str>, mentor: Option<i32>) -> String {
    token_for("tester", role, regency, mentor, Duration::from_hours(1))
}

/// A token for `subject`, valid for `ttl`.
pub fn token_for(
    subject: &str,
    role: Role,
    regency: Option<&str>,
    mentor: Option<i32>,
    ttl: Duration,
) -> String {
    let claims = labinov::cli::claims(subject, role, regency.map(str::to_owned), mentor, ttl)
        .expect("valid claims");
    sign_with(TEST_SECRET, &claims)
}

/// `claims` signed with `secret` (HS256), as a server with that secret issues them.
pub fn sign_with(secret: &str, claims: &labinov::auth::Claims) -> String {
    let mut config = Config::sqlite(std::path::Path::new("unused.db"));
    config.tokens.jwt_secret = Some(secret.to_owned());
    Authenticator::from_config(&config, false)
        .and_then(|auth| auth.issue(claims))
        .expect("a token")
}

/// The ADMIN token the helpers send unless a test says otherwise.
pub fn admin_token() -> String {
    token(Role::Admin, None, None)
}

/// The configuration of a fresh, empty database for one test. The database poll of the live
/// listener is off (an hour), so statement counts only see what a request does; live tests
/// turn it on.
pub fn fresh_config() -> (Config, TempDir) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::sqlite(&dir.path().join("labinov.db"));
    config.live_poll_ms = 3_600_000;
    config.tokens.jwt_secret = Some(TEST_SECRET.to_owned());
    if let Ok(url) = std::env::var("LABINOV_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        sweep_schemas_of_ended_runs(&url);
        {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            config.database.database_url = url;
            config.database.database_schema = Some(format!(
                "labinov_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            config.database.database_max_connections = 5;
        }
    }
    (config, dir)
}

/// Drops, once per test run and in a thread of its own, the schemas that earlier runs left in
/// the test database: each is named after the process that made it, and one whose process is
/// gone is no test's any more. A run that ends before the thread does leaves the rest to the
/// next run.
fn sweep_schemas_of_ended_runs(url: &str) {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let url = url.to_owned();
    SWEPT.call_once(|| {
        std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(db) = sea_orm::Database::connect(url).await else {
                    return;
                };
                let names: Vec<String> = db
                    .query_all_raw(sea_orm::Statement::from_string(
                        db.get_database_backend(),
                        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'labinov\\_test\\_%'",
                    ))
                    .await
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|row| row.try_get_by_index::<String>(0).ok())
                    .collect();
                for name in names {
                    let ended = name
                        .strip_prefix("labinov_test_")
                        .and_then(|rest| rest.split('_').next())
                        .and_then(|pid| pid.parse::<u32>().ok())
                        .is_some_and(|pid| {
                            pid != std::process::id()
                                && !std::path::Path::new(&format!("/proc/{pid}")).exists()
                        });
                    if ended {
                        let _ = db
                            .execute_unprepared(&format!(r#"DROP SCHEMA IF EXISTS "{name}" CASCADE"#))
                            .await;
                    }
                }
                db.close().await.ok();
            });
        });
    });
}

/// The demo data, loaded once per test run by the real loader (which replays some 3,400
/// writes through the domain, too slow to repeat in every test), for tests to copy.
enum DemoTemplate {
    /// A SQLite file, written by `VACUUM INTO` so it is complete without its WAL.
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL schema in the test database.
    Postgres(String),
}

/// Tables in the order their foreign keys allow filling them.
const TABLES: [&str; 18] = [
    "regency",
    "unit",
    "cohort",
    "mentor",
    "idea",
    "stage_transition",
    "mentor_assignment",
    "review",
    "hand_over",
    "commitment",
    "commitment_idea",
    "pipeline_event",
    "action_plan",
    "milestone",
    "action_plan_revision",
    "milestone_comment",
    "evidence",
    "evidence_blob",
];

async fn demo_template() -> &'static DemoTemplate {
    static TEMPLATE: tokio::sync::OnceCell<DemoTemplate> = tokio::sync::OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let (config, dir) = fresh_config();
            let domain = labinov::db::connect_and_migrate(&config)
                .await
                .expect("the demo template database opens");
            labinov::demo::load(&domain)
                .await
                .unwrap_or_else(|e| panic!("the demo loads: {e:#}"));
            let (db, _) = labinov::db::connect(&config)
                .await
                .expect("the demo template database opens");
            let template = if let Some(schema) = &config.database.database_schema {
                DemoTemplate::Postgres(schema.clone())
            } else {
                // Kept for the whole test run: the directory is never removed.
                let path = dir.keep().join("template.db");
                db.execute_unprepared(&format!("VACUUM INTO '{}'", path.display()))
                    .await
                    .expect("the demo template is written");
                DemoTemplate::Sqlite(path)
            };
            db.close().await.ok();
            template
        })
        .await
}

/// Gives the database of `config` a copy of the demo data, before its server starts.
async fn copy_demo(config: &Config) {
    match demo_template().await {
        DemoTemplate::Sqlite(template) => {
            let target = config
                .database
                .database_url
                .trim_start_matches("sqlite://")
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
            std::fs::copy(template, target).expect("the demo template is copied");
        }
        DemoTemplate::Postgres(template) => {
            let domain = labinov::db::connect_and_migrate(config)
                .await
                .expect("the test database opens");
            drop(domain);
            let (db, _) = labinov::db::connect(config)
                .await
                .expect("the test database opens");
            let schema = config
                .database
                .database_schema
                .as_deref()
                .unwrap_or_default();
            // Every table the migrations make is copied: a new one missing from TABLES fails here.
            let mut made: Vec<String> = db
                .query_all_raw(sea_orm::Statement::from_string(
                    db.get_database_backend(),
                    format!(
                        "SELECT table_name::text FROM information_schema.tables \
                         WHERE table_schema = '{template}' AND table_name <> 'seaql_migrations'"
                    ),
                ))
                .await
                .expect("the template's tables")
                .iter()
                .map(|row| row.try_get_by_index::<String>(0).expect("a table name"))
                .collect();
            made.sort();
            let mut copied: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
            copied.sort();
            assert_eq!(
                made, copied,
                "helpers::TABLES lists every table of the schema"
            );
            for table in TABLES {
                db.execute_unprepared(&format!(
                    r#"INSERT INTO "{schema}".{table} SELECT * FROM "{template}".{table}"#
                ))
                .await
                .expect("the demo rows are copied");
                // Tables keyed by another table's id have no sequence of their own.
                if !["commitment_idea", "evidence_blob"].contains(&table) {
                    db.execute_unprepared(&format!(
                        r#"SELECT setval(pg_get_serial_sequence('"{schema}".{table}', 'id'), (SELECT COALESCE(MAX(id), 0) + 1 FROM "{schema}".{table}), false)"#
                    ))
                    .await
                    .expect("the id sequence follows the copied rows");
                }
            }
            db.close().await.ok();
        }
    }
}

impl TestApp {
    /// A server on an empty, migrated database.
    pub async fn spawn() -> TestApp {
        Self::build(false).await
    }

    /// A server with the demo data loaded.
    pub async fn with_demo() -> TestApp {
        Self::build(true).await
    }

    async fn build(demo: bool) -> TestApp {
        let (config, dir) = fresh_config();
        Self::start(config, demo, Arc::new(dir)).await
    }

    /// Starts a server with `config`, with a copy of the demo data when `demo` is set; `dir`
    /// holds its SQLite file.
    pub async fn start(config: Config, demo: bool, dir: Arc<TempDir>) -> TestApp {
        if demo {
            copy_demo(&config).await;
        }
        let app = App::build(&config, false)
            .await
            .unwrap_or_else(|e| panic!("the test server must start: {e:#}"));
        let stop = CancellationToken::new();
        let test_app = TestApp {
            domain: app.domain().clone(),
            hub: app.hub().clone(),
            shared_results: app.shared_results().clone(),
            fanout: app.fanout().clone(),
            router: app.router(),
            address: format!("http://127.0.0.1:{}", app.port()),
            stop: stop.clone(),
            config,
            dir,
        };
        tokio::spawn(app.run_until_stopped(stop));
        test_app
    }

    /// Another server on the same database and bus (a second instance behind a balancer, or
    /// the same one after a restart).
    pub async fn another_instance(&self) -> TestApp {
        Self::start(self.config.clone(), false, self.dir.clone()).await
    }

    /// A connection of the test's own to the server's database, to check what was stored
    /// without going through the API.
    pub async fn db(&self) -> sea_orm::DatabaseConnection {
        labinov::db::connect(&self.config)
            .await
            .expect("the test database opens")
            .0
    }

    /// Stops the server: live connections are closed, background tasks end.
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// The server's router, to call without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The WebSocket URL of the GraphQL endpoint.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.address.replace("http://", "ws://"))
    }

    /// POSTs a GraphQL request as an ADMIN and returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(Some(&admin_token()), query, variables).await
    }

    /// POSTs a GraphQL request with `token` (None: without one).
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let mut request = Request::post("/graphql").header("content-type", "application/json");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(Body::from(body)).expect("a valid request");
        self.send_as_is(request).await.1
    }

    /// Sends any request as an ADMIN (unless it carries its own Authorization) and returns the
    /// status and the JSON body.
    pub async fn send(&self, mut request: Request<Body>) -> (u16, Value) {
        if !request.headers().contains_key("authorization") {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {}", admin_token())
                    .parse()
                    .expect("a header value"),
            );
        }
        self.send_as_is(request).await
    }

    /// Sends a request exactly as given.
    pub async fn send_as_is(&self, request: Request<Body>) -> (u16, Value) {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router answers");
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("a readable body")
            .to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, body)
    }

    /// Like [`gql`](Self::gql) but fails the test on any GraphQL error; returns `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.gql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }
}

/// Polls `probe` until it yields a value and returns it. The deadline ([`PATIENCE`]) is only a
/// guard: past it the test fails, naming `what` it waited for.
///
/// [`PATIENCE`]: crate::clients::PATIENCE
pub async fn wait_for<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + crate::clients::PATIENCE;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {:?} for {what}",
            crate::clients::PATIENCE
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls `condition` until it holds (see [`wait_for`]).
pub async fn wait_until<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    wait_for(what, || {
        let holds = condition();
        async move { holds.await.then_some(()) }
    })
    .await;
}

/// How many pipeline events an ADMIN sees: what a refused write must leave unchanged.
pub async fn event_total(app: &TestApp) -> u64 {
    app.data("{ pipelineEvents { totalCount } }", serde_json::json!({}))
        .await["pipelineEvents"]["totalCount"]
        .as_u64()
        .expect("a count")
}

/// The `extensions.code` of the first error of a response.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}
