//! Operating it: the pages the binary serves on its own, and the metrics.

use axum::{body::Body, http::Request};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::TestApp;

/// GETs `path` over a real socket: status, content type, headers and body text.
async fn get(app: &TestApp, path: &str) -> (u16, String, reqwest::header::HeaderMap, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        headers,
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn graphiql_is_served_from_the_binary_with_no_outside_address() {
    let app = TestApp::spawn().await;
    let (status, content_type, headers, page) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    for needle in ["unpkg", "jsdelivr", "cdn", "https://"] {
        assert!(!page.contains(needle), "the page names {needle}");
    }
    let assets: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 5, "{assets:?}");
    for asset in assets {
        let (status, content_type, headers, body) = get(&app, asset).await;
        assert_eq!(status, 200, "{asset}");
        assert!(
            content_type.starts_with("text/javascript") || content_type.starts_with("text/css"),
            "{asset}: {content_type}"
        );
        assert!(
            headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("immutable"))
        );
        assert!(body.len() > 5_000, "{asset} is the real build");
    }
    let (status, _, _, licence) = get(&app, "/assets/graphiql-3.9.0/LICENSE.graphiql").await;
    assert_eq!(status, 200);
    assert!(licence.contains("MIT"));
    let (status, _, _, _) = get(&app, "/assets/graphiql-3.9.0/../../Cargo.toml").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_link_cannot_put_script_into_the_pages() {
    let app = TestApp::with_demo().await;
    let (_, _, _, page) = get(&app, "/?token=%3C%2Fscript%3E%3Cscript%3Ealert(1)").await;
    assert!(
        page.contains("const token = null;"),
        "a bad token is dropped"
    );
    assert!(!page.contains("alert(1)"));
    let (status, _, _, page) = get(&app, "/live?regency=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(status, 404);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn the_event_screen_page_names_its_regency_in_either_language() {
    let app = TestApp::with_demo().await;
    let (status, content_type, _, page) = get(&app, "/live?regency=63.03").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(page.contains("<title>Kabupaten Banjar"));
    assert!(page.contains("\"lab\":\"Laboratorium Inovasi\""));
    assert!(!page.contains("https://"), "no outside address");
    let (_, _, _, english) = get(&app, "/live?regency=63.03&lang=en&cohort=2017").await;
    assert!(english.contains("\"lab\":\"Innovation Lab\""));
    assert!(english.contains("\"cohortYear\":2017"));
    let (status, _, _, unknown) = get(&app, "/live?regency=99.99&lang=en").await;
    assert_eq!(status, 404);
    assert!(unknown.contains("Unknown regency") && unknown.contains("99.99"));
    let (status, _, _, _) = get(&app, "/live?regency=63.03&cohort=1999").await;
    assert_eq!(status, 404, "a cohort the regency does not have");
}

#[tokio::test]
async fn metrics_count_requests_operations_statements_and_the_bus() {
    let app = TestApp::with_demo().await;
    let data = app.data("{ regencies { totalCount } }", json!({})).await;
    assert_eq!(data["regencies"]["totalCount"], 3);
    // A request that does not validate is not an operation: its made-up names never become
    // label values (or anyone could grow the metrics without bound).
    let refused = app.gql("{ madeUpFieldForMetrics }", json!({})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let response = app
        .router()
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("the router answers");
    assert_eq!(response.status().as_u16(), 200);
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes()
            .to_vec(),
    )
    .expect("text");
    for metric in [
        "labinov_http_requests_total{",
        "labinov_http_request_duration_seconds_bucket{",
        "labinov_graphql_operations_total{",
        "field=\"regencies\"",
        "labinov_sql_statements_total",
        "labinov_bus_mode{mode=\"in-process\"} 1",
    ] {
        assert!(text.contains(metric), "{metric} is missing from:\n{text}");
    }
    assert!(!text.contains("madeUpFieldForMetrics"), "{text}");
}

#[tokio::test]
async fn answers_follow_the_graphql_over_http_spec() {
    let app = TestApp::with_demo().await;
    let post = |accept: Option<&'static str>, query: &'static str| {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .bearer_auth(crate::helpers::admin_token())
            .json(&json!({ "query": query }));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        request.send()
    };
    for accept in [None, Some("*/*"), Some("application/json")] {
        let response = post(accept, "{ stages { count } }")
            .await
            .expect("an answer");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json"),
            "Accept {accept:?}"
        );
    }
    // A request that fails validation: 400 under graphql-response+json, 200 under
    // application/json (as clients of that media type expect), and no `data` key under either.
    for (accept, status) in [
        ("application/graphql-response+json", 400),
        ("application/json", 200),
    ] {
        let response = post(Some(accept), "{ noSuchField }")
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), status, "Accept {accept}");
        let body: serde_json::Value = response.json().await.expect("JSON");
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    }

    // Root fields come back in the order they were asked for (read from the raw text: a
    // parsed JSON object here sorts its keys).
    let query = "{ c: stages { count } b: regencies { totalCount } a: funnel { total } me { authenticated } z: ideaCounts(groupBy: UNIT_KIND) { label } }";
    let raw = post(None, query)
        .await
        .expect("an answer")
        .text()
        .await
        .expect("text");
    let at = |key: &str| raw.find(&format!("\"{key}\":")).expect("the key is there");
    assert!(
        at("c") < at("b") && at("b") < at("a") && at("a") < at("me") && at("me") < at("z"),
        "{raw}"
    );
    let data = app.data(query, json!({})).await;
    // Group labels are words a person reads.
    let labels: Vec<&str> = data["z"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["label"].as_str())
        .collect();
    assert!(
        labels.contains(&"Puskesmas") && labels.contains(&"RSUD"),
        "{labels:?}"
    );
}

#[tokio::test]
async fn a_persisted_query_runs_by_its_hash() {
    use sha2::Digest;
    let app = TestApp::with_demo().await;
    let query = "{ funnel { total } }";
    let hash = format!("{:x}", sha2::Sha256::digest(query.as_bytes()));
    let extensions = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let by_hash = || async {
        reqwest::Client::new()
            .get(format!("{}/graphql", app.address))
            .query(&[("extensions", extensions.to_string())])
            .send()
            .await
            .expect("an answer")
            .json::<serde_json::Value>()
            .await
            .expect("JSON")
    };
    let unknown = by_hash().await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_FOUND",
        "{unknown}"
    );
    let registered: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": query, "extensions": extensions }))
        .send()
        .await
        .expect("an answer")
        .json()
        .await
        .expect("JSON");
    assert_eq!(registered["data"]["funnel"]["total"], 632, "{registered}");
    let known = by_hash().await;
    assert_eq!(known["data"]["funnel"]["total"], 632, "{known}");

    // A mutation registered by POST still cannot run from a GET by its hash.
    let mutation = "mutation { createMentor(input: {name: \"Lewat GET\"}) { mentor { id } } }";
    let mutation_hash = format!("{:x}", sha2::Sha256::digest(mutation.as_bytes()));
    let mutation_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": mutation_hash } });
    let first = app
        .gql_as(Some(&crate::helpers::admin_token()), mutation, json!({}))
        .await;
    assert!(first.get("errors").is_none(), "{first}");
    let _ = app
        .router()
        .oneshot(
            Request::post("/graphql")
                .header("content-type", "application/json")
                .header(
                    "authorization",
                    format!("Bearer {}", crate::helpers::admin_token()),
                )
                .body(Body::from(
                    json!({ "query": mutation, "extensions": mutation_ext }).to_string(),
                ))
                .expect("a request"),
        )
        .await;
    let get = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .query(&[("extensions", mutation_ext.to_string())])
        .send()
        .await
        .expect("an answer");
    assert_eq!(get.status().as_u16(), 405);
}

#[tokio::test]
async fn a_server_can_run_only_trusted_documents() {
    let (mut config, dir) = crate::helpers::fresh_config();
    let list = dir.path().join("trusted.json");
    std::fs::write(&list, json!(["{ stages { count } }"]).to_string()).expect("the list");
    config.trusted_documents = Some(list);
    let app = TestApp::start(config, true, std::sync::Arc::new(dir)).await;
    let viewer = crate::helpers::token(labinov::access::Role::Viewer, None, None);
    let trusted = app
        .gql_as(Some(&viewer), "{ stages { count } }", json!({}))
        .await;
    assert!(trusted.get("errors").is_none(), "{trusted}");
    let other = app
        .gql_as(Some(&viewer), "{ regencies { totalCount } }", json!({}))
        .await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"], "DOCUMENT_NOT_TRUSTED",
        "{other}"
    );
    // The event screen's own documents, and the operator's ADMIN token, still work.
    let screen = app
        .gql_as(
            None,
            labinov::http::pages::live::DOCUMENTS[0]
                .replacen("subscription", "query", 1)
                .as_str(),
            json!({}),
        )
        .await;
    assert_eq!(
        screen["errors"][0]["extensions"]["code"], "DOCUMENT_NOT_TRUSTED",
        "a changed document is another document: {screen}"
    );
    let history = app
        .gql_as(
            Some(&viewer),
            labinov::http::pages::live::DOCUMENTS[1],
            json!({ "c": ["63.03"] }),
        )
        .await;
    assert!(history.get("errors").is_none(), "{history}");
    let admin = app.gql("{ regencies { totalCount } }", json!({})).await;
    assert_eq!(admin["data"]["regencies"]["totalCount"], 3, "{admin}");
}

#[tokio::test]
async fn the_event_screen_says_when_its_token_cannot_read_the_regency() {
    use labinov::access::Role;
    let app = TestApp::with_demo().await;
    let banjar = crate::helpers::token(Role::Viewer, Some("63.03"), None);
    let (_, _, _, page) = get(&app, &format!("/live?regency=63.03&lang=en&token={banjar}")).await;
    assert!(
        page.contains(&banjar),
        "a token that reads the regency is used"
    );
    assert!(page.contains("\"notice\":null"));

    let purbalingga = crate::helpers::token(Role::Viewer, Some("33.03"), None);
    let (_, _, _, page) = get(
        &app,
        &format!("/live?regency=63.03&lang=en&token={purbalingga}"),
    )
    .await;
    assert!(
        page.contains("does not read Kabupaten Banjar")
            && page.contains("labinov token issue --role VIEWER --regency 63.03 --ttl 12h"),
        "another regency's token is named for what it is"
    );
    assert!(
        !page.contains(&purbalingga),
        "and not used for an empty screen"
    );

    let expired = {
        let mut claims = labinov::cli::claims(
            "late",
            Role::Viewer,
            Some("63.03".to_owned()),
            None,
            std::time::Duration::from_secs(1),
        )
        .expect("claims");
        claims.exp -= 3600;
        crate::helpers::sign_with(crate::helpers::TEST_SECRET, &claims)
    };
    let (_, _, _, page) = get(
        &app,
        &format!("/live?regency=63.03&lang=en&token={expired}"),
    )
    .await;
    assert!(
        page.contains("no longer works"),
        "an expired token is said to be one"
    );
}

#[tokio::test]
async fn init_starts_a_real_deployment_from_an_empty_database() {
    let (config, dir) = crate::helpers::fresh_config();
    let settings = dir.path().join("labinov.env");
    let bin = env!("CARGO_BIN_EXE_labinov");
    let init = |settings: &std::path::Path| {
        let mut command = std::process::Command::new(bin);
        command
            .env("DATABASE_URL", &config.database.database_url)
            .env("RUST_LOG", "error")
            .args(["init", "--code", "90.01", "--name", "Kabupaten Uji"])
            .args(["--province", "Uji", "--settings"])
            .arg(settings);
        if let Some(schema) = &config.database.database_schema {
            command.env("DATABASE_SCHEMA", schema);
        }
        command.output().expect("run labinov")
    };
    let out = init(&settings);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Kabupaten Uji (90.01) is ready") && stdout.contains("Next steps"));
    let token = stdout.lines().last().expect("the token last").to_owned();
    let written = std::fs::read_to_string(&settings).expect("the settings file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&settings)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "only its owner reads the secret");
    }
    let secret = written
        .lines()
        .find_map(|l| l.strip_prefix("LABINOV_JWT_SECRET="))
        .expect("a secret")
        .to_owned();
    assert!(secret.len() >= 64, "48 random bytes in base64");
    assert!(written.contains("LABINOV_LISTEN=0.0.0.0:8080"));

    // A server started with those settings takes the token: the regency's REGENCY_ADMIN.
    let mut serving = config.clone();
    serving.tokens.jwt_secret = Some(secret);
    let app = TestApp::start(serving, false, std::sync::Arc::new(dir)).await;
    let me = app
        .gql_as(
            Some(&token),
            "{ me { role regency { code name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me["data"]["me"]["role"], "REGENCY_ADMIN", "{me}");
    assert_eq!(me["data"]["me"]["regency"]["code"], "90.01");

    // Once is enough: the file exists, and the database is no longer empty.
    assert!(!init(&settings).status.success());
    let again = init(&settings.with_file_name("other.env"));
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("holds regencies already"));
}

/// The README: one log line per request with the path, never the query string (which may hold
/// a token); tokens and secrets are never logged. The real binary at the most verbose level of
/// its own code is sent a token every way a client can send one, and a marked query string.
#[tokio::test]
async fn tokens_secrets_and_query_strings_never_reach_the_logs() {
    use std::io::BufRead;
    let (config, _dir) = crate::helpers::fresh_config();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_labinov"));
    command
        .env("DATABASE_URL", &config.database.database_url)
        .env("LABINOV_JWT_SECRET", crate::helpers::TEST_SECRET)
        .env("LABINOV_LISTEN", "127.0.0.1:0")
        .env("RUST_LOG", "labinov=trace,info")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if let Some(schema) = &config.database.database_schema {
        command.env("DATABASE_SCHEMA", schema);
    }
    let mut server = command.spawn().expect("the server starts");
    let stderr = server.stderr.take().expect("its log");
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let reader = {
        let log = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
                    let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let _ = port_tx.send(port);
                }
                let mut log = log.lock().expect("the log");
                log.push_str(&line);
                log.push('\n');
            }
        })
    };
    let port = port_rx
        .recv_timeout(crate::clients::PATIENCE)
        .expect("the server says where it listens");
    let base = format!("http://127.0.0.1:{port}");
    let token = crate::helpers::admin_token();
    let marker = "RAHASIA-DI-URL";
    let client = reqwest::Client::new();
    // A header, a link's `?token=`, an event stream's `?token=`, a bad token, a query string.
    client
        .post(format!("{base}/graphql"))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ me { role } }" }))
        .send()
        .await
        .expect("an answer");
    client
        .get(format!(
            "{base}/export/ideas.csv?token={token}&filter=%7B%7D"
        ))
        .send()
        .await
        .expect("an answer");
    let stream = client
        .get(format!(
            "{base}/graphql?query=subscription%7Bfunnel%7Btotal%7D%7D&token={token}"
        ))
        .header("accept", "text/event-stream")
        .send()
        .await
        .expect("an answer");
    drop(stream);
    client
        .post(format!("{base}/graphql"))
        .bearer_auth(format!("{token}x"))
        .json(&json!({ "query": "{ stages { stage } }" }))
        .send()
        .await
        .expect("an answer");
    client
        .get(format!(
            "{base}/graphql?query=%7B__typename%7D&note={marker}"
        ))
        .send()
        .await
        .expect("an answer");
    let socket =
        crate::clients::WsClient::connect(&format!("ws://127.0.0.1:{port}/graphql"), false).await;
    // `connect` sends the token in `connection_init`.
    drop(socket);
    // Stopped as an operator would, so every line is written.
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    reader.join().expect("the log is read");
    let log = log.lock().expect("the log").clone();
    assert!(log.contains("/graphql"), "requests are logged: {log}");
    assert!(
        log.contains("/export/ideas.csv"),
        "requests are logged: {log}"
    );
    let signature = token.rsplit('.').next().expect("a signature");
    assert!(!log.contains(signature), "a token reached the log:\n{log}");
    assert!(
        !log.contains(crate::helpers::TEST_SECRET),
        "the secret reached the log"
    );
    assert!(
        !log.contains(marker),
        "a query string reached the log:\n{log}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: LABINOV_TEST_DATABASE_URL"]
async fn a_missing_postgresql_database_is_named_with_what_to_do() {
    let url = std::env::var("LABINOV_TEST_DATABASE_URL")
        .expect("set LABINOV_TEST_DATABASE_URL to run the PostgreSQL tests");
    let (base, _) = url.rsplit_once('/').expect("the URL names a database");
    let (mut config, _dir) = crate::helpers::fresh_config();
    config.database.database_url = format!("{base}/labinov_never_created");
    config.database.database_schema = None;
    let Err(err) = labinov::App::build(&config, false).await else {
        panic!("a server on a database that does not exist must not start");
    };
    let message = format!("{err:#}");
    assert!(
        message.contains("labinov_never_created\" does not exist")
            && message.contains("CREATE DATABASE"),
        "{message}"
    );
    assert_eq!(
        message.matches("does not exist").count(),
        1,
        "the cause said once: {message}"
    );
}
