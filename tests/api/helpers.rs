//! `TestApp`: a server on its own fresh database, called through its router.

use std::sync::{
    Arc,
    atomic::{AtomicU32, Ordering},
};

use axum::{Router, body::Body, http::Request};
use http_body_util::BodyExt;
use labinov::{App, Config, domain::Domain, live::Hub};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

pub struct TestApp {
    pub config: Config,
    pub domain: Domain,
    pub hub: Hub,
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

/// The configuration of a fresh, empty database for one test. The database poll of the live
/// listener is off (an hour), so statement counts only see what a request does; live tests
/// turn it on.
pub fn fresh_config() -> (Config, TempDir) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut config = Config::sqlite(&dir.path().join("labinov.db"));
    config.live_poll_ms = 3_600_000;
    if let Ok(url) = std::env::var("LABINOV_TEST_DATABASE_URL")
        && !url.is_empty()
    {
        {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or_default();
            config.database_url = url;
            config.database_schema = Some(format!(
                "labinov_test_{}_{}_{nanos}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            config.database_max_connections = 5;
        }
    }
    (config, dir)
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

    /// Starts a server with `config`; `dir` holds its SQLite file.
    pub async fn start(config: Config, demo: bool, dir: Arc<TempDir>) -> TestApp {
        let app = App::build(&config, demo)
            .await
            .unwrap_or_else(|e| panic!("the test server must start: {e:#}"));
        let stop = CancellationToken::new();
        let test_app = TestApp {
            domain: app.domain().clone(),
            hub: app.hub().clone(),
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

    /// The WebSocket URL of the GraphQL endpoint.
    pub fn ws_url(&self) -> String {
        format!("{}/graphql", self.address.replace("http://", "ws://"))
    }

    /// POSTs a GraphQL request and returns the whole response body.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .expect("a valid request");
        self.send(request).await.1
    }

    /// Sends any request and returns the status and the JSON body.
    pub async fn send(&self, request: Request<Body>) -> (u16, Value) {
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

/// The `extensions.code` of the first error of a response.
pub fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<no code>")
}
