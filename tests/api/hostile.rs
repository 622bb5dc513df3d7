//! Hostile input: every request an attacker on the internet could send is refused with its own
//! code, quickly, and leaves the server answering and the data unchanged.

use std::{sync::Arc, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    clients::{SseClient, WsClient},
    helpers::{TestApp, error_code, fresh_config, wait_until},
};

/// The number of pipeline events: every write records one, so an unchanged count means
/// nothing was written.
async fn event_count(app: &TestApp) -> u64 {
    let data = app
        .data("{ pipelineEvents { totalCount } }", json!({}))
        .await;
    data["pipelineEvents"]["totalCount"]
        .as_u64()
        .expect("a count")
}

/// Over a real socket: the server still answers a normal query at once, and wrote nothing.
async fn still_serving_and_unchanged(app: &TestApp, events_before: u64) {
    let response: Value = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .json(&json!({ "query": "{ regencies { totalCount } }" }))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .expect("the server still answers")
        .json()
        .await
        .expect("a JSON answer");
    assert!(
        response["data"]["regencies"]["totalCount"].is_u64(),
        "a normal query still works: {response}"
    );
    assert_eq!(event_count(app).await, events_before, "nothing was written");
}

/// GETs `/graphql?query=…` over a real socket; the status and the JSON body.
async fn get(app: &TestApp, query: &str, accept: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("accept", accept)
        .query(&[("query", query)])
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_filter_nested_700_deep_in_a_get_url_is_refused_and_the_server_lives() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let query = format!(
        "{{ ideas(filter: {}{}) {{ totalCount }} }}",
        "{not: ".repeat(700),
        "{}".to_owned() + &"}".repeat(700)
    );
    let (status, body) = get(&app, &query, "application/graphql-response+json").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "QUERY_TOO_DEEP");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("48")
    );
    // The same nesting through variables is refused too.
    let mut filter = json!({});
    for _ in 0..100 {
        filter = json!({ "not": filter });
    }
    let response = app
        .gql(
            "query($f: IdeaFilter) { ideas(filter: $f) { totalCount } }",
            json!({ "f": filter }),
        )
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    assert_eq!(response["errors"][0]["extensions"]["limit"], "inputDepth");
    still_serving_and_unchanged(&app, before).await;
}

/// A document with hundreds of mistakes is told the first hundred, each with its code, and how
/// many more there are, as graphql-js does; nothing runs.
#[tokio::test]
async fn a_document_with_hundreds_of_mistakes_gets_a_hundred_errors_and_a_count() {
    let app = TestApp::spawn().await;
    let fields: Vec<String> = (0..250).map(|i| format!("noSuchField{i}")).collect();
    let body = app
        .gql(
            &format!("{{ regencies {{ nodes {{ {} }} }} }}", fields.join(" ")),
            json!({}),
        )
        .await;
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 101, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    for error in errors {
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{error}");
    }
    assert!(
        errors[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("noSuchField0")),
        "{body}"
    );
    assert!(
        errors[100]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("150 more errors")),
        "{body}"
    );
}

#[tokio::test]
async fn or_lists_of_thousands_of_branches_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    for branches in [1_000, 16_000] {
        let or: Vec<Value> = (0..branches)
            .map(|_| json!({ "stages": ["DESIGN"] }))
            .collect();
        for query in [
            "query($f: IdeaFilter) { ideas(filter: $f) { totalCount } }",
            "query($f: IdeaFilter) { funnel(filter: $f) { total } }",
        ] {
            let response = app.gql(query, json!({ "f": { "or": or } })).await;
            assert_eq!(
                error_code(&response),
                "BAD_USER_INPUT",
                "{branches} branches"
            );
            let message = response["errors"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(
                !message.contains("SQL") && message.contains("at most"),
                "{message}"
            );
        }
    }
    // A modest `or` still works.
    let data = app
        .data(
            "{ ideas(filter: {or: [{stages: [DESIGN]}, {stages: [DELIVER]}]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(data["ideas"]["totalCount"].as_u64().unwrap_or_default() > 0);
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn fragment_doubling_is_refused_before_it_is_expanded() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let mut query = String::from(
        "query { ideas(first: 1) { nodes { ...F30 } } }\nfragment F0 on Idea { id title }\n",
    );
    for n in 1..=30 {
        query.push_str(&format!(
            "fragment F{n} on Idea {{ ...F{} ...F{} }}\n",
            n - 1,
            n - 1
        ));
    }
    assert!(query.len() < 2_000);
    let response = app.gql(&query, json!({})).await;
    assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX", "{response}");
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn pages_nested_in_pages_multiply_into_complexity() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let response = app
        .gql(
            "{ ideas(first: 100) { nodes { unit { regency { ideas(first: 100) { nodes {
                unit { regency { ideas(first: 100) { nodes { id title } } } } } } } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX");
    assert_eq!(response["errors"][0]["extensions"]["limit"], "complexity");
    // The dashboard's page query is well within the limit.
    let data = app
        .data(
            "{ ideas(first: 100) { nodes { id title stage unit { name } cohort { name }
               regency { name } mentors { name } commitments { status } history { decision } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["ideas"]["nodes"].as_array().map(Vec::len), Some(100));
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn thousands_of_aliases_and_root_fields_are_refused() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let roots: String = (0..1_000)
        .map(|i| format!("f{i}: funnel {{ total }} "))
        .collect();
    let response = app.gql(&format!("{{ {roots} }}"), json!({})).await;
    assert_eq!(error_code(&response), "TOO_MANY_ROOT_FIELDS");
    let nested: String = (0..40)
        .map(|i| format!("f{i}: funnel {{ total }} "))
        .collect();
    let response = app
        .gql(
            &format!("{{ regencies {{ nodes {{ {nested} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), "TOO_MANY_ALIASES");
    let long: String = (0..5_000)
        .map(|i| format!("f{i}: funnel {{ total }} "))
        .collect();
    let response = app.gql(&format!("{{ {long} }}"), json!({})).await;
    assert_eq!(error_code(&response), "QUERY_TOO_LARGE");
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn oversized_searches_and_id_lists_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let search = "a".repeat(50_000);
    for query in [
        "query($s: String) { ideas(filter: {search: $s}) { totalCount } }",
        "query($s: String) { units(filter: {search: $s}) { totalCount } }",
        "query($s: String) { mentors(search: $s) { totalCount } }",
    ] {
        let response = app.gql(query, json!({ "s": search })).await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{query}");
    }
    let ids: Vec<String> = (0..5_000).map(|i| format!("UmVnZW5jeTo{i}")).collect();
    let response = app
        .gql(
            "query($ids: [ID!]) { ideas(filter: {regencyIds: $ids}) { totalCount } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    assert_eq!(
        response["errors"][0]["extensions"]["limit"],
        "inputListLength"
    );
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn writes_need_a_json_body_or_an_upload_with_its_token_in_the_header() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let mutation = r#"mutation { createMentor(input: {name: "Penyusup", institution: "X"}) { mentor { id } } }"#;
    // An EventSource on any site sends a GET with Accept: text/event-stream.
    let (status, body) = get(&app, mutation, "text/event-stream").await;
    assert_eq!(status, 405);
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    // A form on any site can POST text/plain or a form encoding without a CORS preflight.
    for content_type in ["text/plain", "application/x-www-form-urlencoded"] {
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", app.address))
            .bearer_auth(crate::helpers::admin_token())
            .header("content-type", content_type)
            .body(json!({ "query": mutation }).to_string())
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status().as_u16(), 415, "{content_type}");
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(error_code(&body), "UNSUPPORTED_MEDIA_TYPE");
    }
    // It can POST multipart/form-data too, the uploads' encoding, but not with an
    // Authorization header, and uploads take the token from that header only.
    let form = format!(
        "--x\r\ncontent-disposition: form-data; name=\"operations\"\r\n\r\n{}\r\n--x\r\ncontent-disposition: form-data; name=\"map\"\r\n\r\n{{}}\r\n--x--\r\n",
        json!({ "query": mutation })
    );
    for url in [
        format!("{}/graphql", app.address),
        format!(
            "{}/graphql?token={}",
            app.address,
            crate::helpers::admin_token()
        ),
    ] {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "multipart/form-data; boundary=x")
            .body(form.clone())
            .send()
            .await
            .expect("the server answers");
        assert_eq!(response.status().as_u16(), 401);
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn live_connections_from_other_origins_are_refused_unless_listed() {
    let (mut config, dir) = fresh_config();
    config.cors_origins = vec!["https://dasbor.banjarkab.go.id".into()];
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let evil = WsClient::open(&app.ws_url(), false, Some("http://evil.example")).await;
    assert_eq!(evil.err(), Some(403));
    let listed = WsClient::open(&app.ws_url(), false, Some("https://dasbor.banjarkab.go.id")).await;
    assert!(listed.is_ok());
    let same = WsClient::open(&app.ws_url(), true, Some(&app.address)).await;
    assert!(same.is_ok());
    let response = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("accept", "text/event-stream")
        .header("origin", "http://evil.example")
        .query(&[("query", "subscription { funnel { funnel { total } } }")])
        .send()
        .await
        .expect("the server answers");
    assert_eq!(response.status().as_u16(), 403);
}

#[tokio::test]
async fn the_graphql_transport_ws_close_codes() {
    let (mut config, dir) = fresh_config();
    config.limits.connection_init_timeout_secs = 1;
    config.limits.max_ws_message_bytes = 64 * 1024;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let subscription = "subscription { funnel { funnel { total } } }";

    let mut early = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("open");
    early.subscribe("1", subscription, json!({})).await;
    assert_eq!(
        early.close_code().await,
        Some(4401),
        "subscribe before connection_init"
    );

    let mut silent = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("open");
    assert_eq!(
        silent.close_code().await,
        Some(4408),
        "no connection_init in time"
    );

    let mut twice = WsClient::connect(&app.ws_url(), false).await;
    twice.subscribe("1", subscription, json!({})).await;
    assert!(twice.next_result().await["data"]["funnel"]["funnel"]["total"].is_u64());
    twice.subscribe("1", subscription, json!({})).await;
    assert_eq!(twice.close_code().await, Some(4409), "a duplicate id");

    let mut big = WsClient::connect(&app.ws_url(), false).await;
    big.send_text(format!(
        r#"{{"type":"subscribe","id":"1","payload":{{"query":"{{ stages {{ stage }} }}","variables":{{"x":"{}"}}}}}}"#,
        "x".repeat(100 * 1024)
    ))
    .await;
    assert_eq!(
        big.close_code().await,
        Some(1009),
        "a message over the size limit"
    );

    let mut garbage = WsClient::connect(&app.ws_url(), false).await;
    garbage.send_text("{ not json".to_owned()).await;
    assert_eq!(garbage.close_code().await, Some(4400));

    // Each WebSocket ping makes the server queue a pong: a flood of them is refused, not kept.
    let mut pinging = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("open");
    for _ in 0..100 {
        pinging.ping_frame().await;
    }
    assert_eq!(pinging.close_code().await, Some(1008), "a ping flood");
    still_serving_and_unchanged(&app, 0).await;
}

#[tokio::test]
async fn subscriptions_per_connection_are_bounded() {
    let (mut config, dir) = fresh_config();
    config.limits.max_subscriptions_per_connection = 3;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    for id in 1..=3 {
        ws.subscribe(
            &id.to_string(),
            "subscription { funnel { funnel { total } } }",
            json!({}),
        )
        .await;
        assert!(ws.next_result().await["data"]["funnel"]["funnel"]["total"].is_u64());
    }
    ws.subscribe(
        "4",
        "subscription { funnel { funnel { total } } }",
        json!({}),
    )
    .await;
    let refused = ws.next_result().await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
        "{refused}"
    );
    // Ending one makes room for another.
    ws.send_text(json!({"type": "complete", "id": "1"}).to_string())
        .await;
    ws.subscribe(
        "5",
        "subscription { funnel { funnel { total } } }",
        json!({}),
    )
    .await;
    assert!(ws.next_result().await["data"]["funnel"]["funnel"]["total"].is_u64());
}

#[tokio::test]
async fn subscription_errors_over_websocket_and_sse_carry_a_code() {
    let app = TestApp::with_demo().await;
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    ws.subscribe("1", "subscription { funnel { nonsense } }", json!({}))
        .await;
    let result = ws.next_result().await;
    assert_eq!(
        result["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{result}"
    );
    let mut sse = SseClient::connect(
        &app.address,
        "subscription { pipelineEvents { nonsense } }",
        json!({}),
        None,
    )
    .await;
    let event = sse.next_event().await.expect("an event");
    assert_eq!(
        error_code(&event.json()),
        "BAD_USER_INPUT",
        "{:?}",
        event.data
    );
}

#[tokio::test]
async fn a_forged_cursor_naming_15000_regencies_is_bad_user_input() {
    use base64::Engine;
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let entries: Vec<String> = (1..=15_000).map(|r| format!("{r}:0")).collect();
    let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("v1;;{}", entries.join(",")));
    // Too long for a URL, so sent as graphql-sse allows: a POST asking for an event stream.
    let stream = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("accept", "text/event-stream")
        .json(&json!({
            "query": "subscription($a: String) { pipelineEvents(after: $a) { cursor } }",
            "variables": { "a": cursor },
        }))
        .timeout(Duration::from_secs(15))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("the stream ends after the error");
    let first = stream
        .lines()
        .find_map(|line| line.strip_prefix("data:"))
        .and_then(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .unwrap_or_default();
    assert_eq!(error_code(&first), "BAD_USER_INPUT", "{first}");
    assert!(
        first["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("15000 regencies")
    );
    still_serving_and_unchanged(&app, before).await;
}

/// Reads from `socket` until it closes; true when the server closed it within `within`.
async fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buffer)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn slow_and_idle_clients_are_cut_off() {
    let (mut config, dir) = fresh_config();
    config.limits.header_timeout_secs = 1;
    config.limits.request_timeout_secs = 1;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let host = app.address.trim_start_matches("http://").to_owned();

    // A client dribbling its headers a byte at a time.
    let mut slow = TcpStream::connect(&host).await.expect("connect");
    slow.write_all(b"GET /graphql?query={__typename} HTTP/1.1\r\nHo")
        .await
        .expect("write");
    assert!(
        closed_within(&mut slow, Duration::from_secs(5)).await,
        "header time-out"
    );

    // A client that connects and never says anything.
    let mut silent = TcpStream::connect(&host).await.expect("connect");
    assert!(
        closed_within(&mut silent, Duration::from_secs(5)).await,
        "a silent connection is closed"
    );

    // A keep-alive connection that goes idle after one request.
    let mut idle = TcpStream::connect(&host).await.expect("connect");
    idle.write_all(
        format!("GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    )
    .await
    .expect("write");
    assert!(
        closed_within(&mut idle, Duration::from_secs(5)).await,
        "idle time-out"
    );

    // A body that never finishes arriving.
    let mut dribble = TcpStream::connect(&host).await.expect("connect");
    dribble
        .write_all(format!("POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"query\"").as_bytes())
        .await
        .expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), dribble.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("REQUEST_TIMEOUT"));
    still_serving_and_unchanged(&app, 0).await;
}

#[tokio::test]
async fn connections_beyond_the_cap_are_closed_at_once() {
    let (mut config, dir) = fresh_config();
    config.limits.max_connections = 4;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    // The server accepts in the order the kernel queued the connections (one accept loop),
    // so the four held ones have their places before the extra one is looked at.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&host).await.expect("connect"));
    }
    let mut extra = TcpStream::connect(&host).await.expect("the kernel accepts");
    assert!(closed_within(&mut extra, Duration::from_secs(3)).await);
    drop(held);
    served_again(&app).await;
    still_serving_and_unchanged(&app, 0).await;

    // Open WebSockets keep their places after the upgrade (each has its acknowledgement, so
    // each was accepted).
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(WsClient::connect(&app.ws_url(), false).await);
    }
    let mut extra = TcpStream::connect(&host).await.expect("the kernel accepts");
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)).await,
        "four open WebSockets fill a cap of four"
    );
    drop(sockets);
    served_again(&app).await;
    still_serving_and_unchanged(&app, 0).await;
}

/// Waits until a request over a new connection is answered: the server noticed the closed
/// sockets and gave their places back.
async fn served_again(app: &TestApp) {
    let client = reqwest::Client::new();
    wait_until("a new connection to be served again", || async {
        client
            .get(format!("{}/healthz", app.address))
            // Not kept alive: this connection gives its place back at once.
            .header("connection", "close")
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|response| response.status().is_success())
    })
    .await;
}

/// A mutation's payload or its error code.
async fn write(app: &TestApp, query: &str, variables: Value) -> Value {
    app.gql(query, variables).await
}

#[tokio::test]
async fn units_cannot_contain_each_other_or_share_a_name_in_another_case() {
    let app = TestApp::with_demo().await;
    let regency = app
        .data(r#"{ regency(code: "63.03") { id } }"#, json!({}))
        .await["regency"]["id"]
        .clone();
    let create = "mutation($r: ID!, $n: String!, $p: ID) { createUnit(input: {regencyId: $r, kind: KECAMATAN, name: $n, parentId: $p}) { unit { id version } } }";
    let a = write(&app, create, json!({"r": regency, "n": "Kecamatan Uji A"})).await;
    let a = &a["data"]["createUnit"]["unit"];
    let b = write(
        &app,
        create,
        json!({"r": regency, "n": "Kecamatan Uji B", "p": a["id"]}),
    )
    .await;
    let b = &b["data"]["createUnit"]["unit"];
    assert!(
        a["id"].is_string() && b["id"].is_string(),
        "both units exist: {a} {b}"
    );
    let before = event_count(&app).await;
    let cycle = write(
        &app,
        "mutation($id: ID!, $v: Int!, $p: ID!) { updateUnit(input: {id: $id, version: $v, parentId: $p}) { unit { id } } }",
        json!({"id": a["id"], "v": a["version"], "p": b["id"]}),
    )
    .await;
    assert_eq!(error_code(&cycle), "BAD_USER_INPUT", "{cycle}");
    let shouting = write(&app, create, json!({"r": regency, "n": "KECAMATAN UJI A"})).await;
    assert_eq!(error_code(&shouting), "BAD_USER_INPUT", "{shouting}");
    assert!(
        shouting["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Kecamatan Uji A")
    );
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn dates_before_the_lab_began_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    let ids = app
        .data(
            r#"{ regency(code: "63.03") { id cohorts { id year } units { id } }
               ideas(filter: {regencyCodes: ["63.03"], stages: [DESIGN]}, first: 1) { nodes { id unit { id } } } }"#,
            json!({}),
        )
        .await;
    let cohort = &ids["regency"]["cohorts"][0]["id"];
    let unit = &ids["regency"]["units"][0]["id"];
    let idea = &ids["ideas"]["nodes"][0];
    let draft = write(
        &app,
        "mutation($c: ID!, $u: ID!, $i: ID!) { createCommitment(input: {cohortId: $c, unitId: $u, ideaIds: [$i],
            signatoryName: \"Kepala\", signatoryTitle: \"Kepala\", counterpart: \"Bupati Banjar\", target: \"Meluncurkan\"}) {
            commitment { id version status } } }",
        json!({"c": cohort, "u": idea["unit"]["id"], "i": idea["id"]}),
    )
    .await;
    let draft = &draft["data"]["createCommitment"]["commitment"];
    assert_eq!(draft["status"], "DRAFT", "{draft}");
    let before = event_count(&app).await;
    let submit = "mutation($c: ID!, $u: ID!, $at: DateTime) { submitIdea(input: {cohortId: $c, unitId: $u,
        title: \"Ide kuno\", problem: \"p\", type: DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Kesehatan\",
        initiator: CIVIL_SERVANT, submittedAt: $at}) { idea { id } } }";
    let ancient = write(
        &app,
        submit,
        json!({"c": cohort, "u": unit, "at": "0001-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(error_code(&ancient), "BAD_USER_INPUT", "{ancient}");
    let before_mou = write(
        &app,
        submit,
        json!({"c": cohort, "u": unit, "at": "2017-03-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(error_code(&before_mou), "BAD_USER_INPUT", "{before_mou}");
    let mou = write(
        &app,
        r#"mutation { createRegency(input: {code: "99.01", name: "Kabupaten Uji", province: "Uji", organiser: "Bapelitbangda", mouSignedOn: "1900-01-01"}) { regency { id } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(error_code(&mou), "BAD_USER_INPUT", "{mou}");
    for day in ["1900-01-01", "2017-03-15"] {
        let sign = write(
            &app,
            "mutation($id: ID!, $v: Int!, $d: NaiveDate) { signCommitment(input: {id: $id, version: $v, signedOn: $d}) { commitment { id } } }",
            json!({"id": draft["id"], "v": draft["version"], "d": day}),
        )
        .await;
        assert_eq!(
            error_code(&sign),
            "BAD_USER_INPUT",
            "signed on {day}: {sign}"
        );
    }
    still_serving_and_unchanged(&app, before).await;
    // A day within the lab's life is accepted.
    let sign = app
        .data(
            "mutation($id: ID!, $v: Int!) { signCommitment(input: {id: $id, version: $v, signedOn: \"2019-09-10\"}) { commitment { status signedOn } } }",
            json!({"id": draft["id"], "v": draft["version"]}),
        )
        .await;
    assert_eq!(
        sign["signCommitment"]["commitment"]["signedOn"],
        "2019-09-10"
    );
}

#[tokio::test]
async fn introspection_can_be_turned_off() {
    let (mut config, dir) = fresh_config();
    config.limits.disable_introspection = true;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let response = app
        .gql(
            "{ __schema { types { name } } __type(name: \"Idea\") { fields { name } } }",
            json!({}),
        )
        .await;
    assert!(response["data"]["__schema"].is_null(), "{response}");
    assert!(response["data"]["__type"].is_null(), "{response}");
    let open = TestApp::spawn().await;
    let response = open
        .gql("{ __type(name: \"Idea\") { name } }", json!({}))
        .await;
    assert_eq!(
        response["data"]["__type"]["name"], "Idea",
        "introspection is on by default"
    );
    still_serving_and_unchanged(&app, 0).await;
}

#[tokio::test]
async fn variable_defaults_count_like_sent_variables() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let nested =
        "query($a: Int = 100, $b: Int = 100, $c: Int = 100) { ideas(first: $a) { nodes { cohort {
        ideas(first: $b) { nodes { cohort { ideas(first: $c) { nodes { title } } } } } } } } }";
    let response = app.gql(nested, json!({})).await;
    assert_eq!(error_code(&response), "QUERY_TOO_COMPLEX", "{response}");
    let branches: String = (0..101).map(|_| "{stages: [DESIGN]}, ").collect();
    let defaulted = format!(
        "query($f: IdeaFilter = {{or: [{branches}]}}) {{ ideas(filter: $f) {{ totalCount }} }}"
    );
    let response = app.gql(&defaulted, json!({})).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    assert_eq!(response["errors"][0]["extensions"]["limit"], "inputObjects");
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn long_lists_in_many_branches_are_bad_user_input_not_internal_errors() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let codes: Vec<String> = (0..1000).map(|i| format!("99.{i}")).collect();
    let or: Vec<Value> = (0..33).map(|_| json!({ "regencyCodes": codes })).collect();
    let response = app
        .gql(
            "query($f: IdeaFilter) { ideas(filter: $f) { totalCount } }",
            json!({ "f": { "or": or } }),
        )
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    assert_eq!(response["errors"][0]["extensions"]["limit"], "inputItems");
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn a_subscription_selects_exactly_one_field() {
    let app = TestApp::with_demo().await;
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    ws.subscribe(
        "1",
        "subscription { a: funnel { cursor } b: funnel { cursor } }",
        json!({}),
    )
    .await;
    let refused = ws.next_result().await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"],
        "subscriptionRootFields"
    );
}

#[tokio::test]
async fn an_import_of_more_rows_than_allowed_is_refused_even_when_every_row_is_bad() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let cohort = app
        .data(
            r#"{ regency(code: "63.03") { cohorts { id } } }"#,
            json!({}),
        )
        .await["regency"]["cohorts"][0]["id"]
        .clone();
    let import = "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { ideas { id } } }";
    let header = "title,unit,problem,type,form,affairs_area,initiator\n";
    let too_many = format!("{header}{}", "x\n".repeat(20_000));
    let response = app.gql(import, json!({"c": cohort, "csv": too_many})).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("more than 10000 rows")
    );
    let many_bad = format!("{header}{}", "x\n".repeat(5_000));
    let response = app.gql(import, json!({"c": cohort, "csv": many_bad})).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    let listed = response["errors"][0]["extensions"]["lines"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(listed, 200, "the answer lists the first 200 bad lines");
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("5000 line(s)")
    );
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn unknown_paths_methods_and_large_bodies_answer_with_a_code() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let response = client
        .get(format!("{}/wp-admin", app.address))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 404);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(error_code(&body), "NOT_FOUND");
    let response = client
        .delete(format!("{}/graphql", app.address))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    let huge =
        json!({ "query": "{ __typename }", "variables": { "x": "x".repeat(5 * 1024 * 1024) } });
    let response = client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .json(&huge)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE");
}

/// A body sent without a `Content-Length` (chunked) is cut off by the limit as it streams in,
/// and gets the same 413 as a body that declares its size; JSON of the wrong shape gets a
/// sentence that names the shape, not a library's type.
#[tokio::test]
async fn a_streamed_body_over_the_limit_gets_413_and_a_wrong_shape_a_sentence() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
    let chunks = std::iter::once(bytes::Bytes::from_static(
        br#"{"query":"{ __typename }","variables":{"x":""#,
    ))
    .chain(std::iter::repeat_n(chunk, 80))
    .map(Ok::<_, std::io::Error>);
    let response = client
        .post(format!("{}/graphql", app.address))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 413);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE");

    for shape in [json!(42), json!({"query": 5}), json!("text")] {
        let response = client
            .post(format!("{}/graphql", app.address))
            .json(&shape)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 400, "{shape}");
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(error_code(&body), "BAD_USER_INPUT", "{shape}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("\"query\" string") && !message.contains("enum"),
            "{shape}: {message}"
        );
    }
}

#[tokio::test]
async fn a_cursor_ahead_of_the_stored_events_is_cursor_expired() {
    use base64::Engine;
    let app = TestApp::with_demo().await;
    let head = app
        .data(
            r#"{ regency(code: "63.03") { id lastEventSequence } }"#,
            json!({}),
        )
        .await;
    let regency = labinov::global_id::decode(
        labinov::global_id::Kind::Regency,
        head["regency"]["id"].as_str().expect("an id"),
    )
    .expect("a regency id");
    let last = head["regency"]["lastEventSequence"]
        .as_i64()
        .expect("a sequence");
    // As after a restore from an older backup: the client has seen more than the server holds.
    let ahead = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("v1;;{regency}:{}", last + 100));
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    ws.subscribe(
        "1",
        "subscription($a: String) { pipelineEvents(after: $a) { cursor } }",
        json!({ "a": ahead }),
    )
    .await;
    let refused = ws.next_result().await;
    assert_eq!(
        refused["errors"][0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{refused}"
    );
    assert_eq!(ws.next_raw_type().await.as_deref(), Some("complete"));
    // The cursor of the latest event still resumes.
    let current =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1;;{regency}:{last}"));
    ws.subscribe(
        "2",
        "subscription($a: String) { pipelineEvents(after: $a) { cursor } }",
        json!({ "a": current }),
    )
    .await;
    ws.expect_nothing_for(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_page_that_points_its_own_name_at_the_server_cannot_use_it() {
    // DNS rebinding: evil.example resolves to the server, so the browser sends
    // Host: evil.example with Origin: http://evil.example — same-origin in its eyes.
    let (mut config, dir) = fresh_config();
    config.allowed_hosts = vec!["labinov.banjarkab.go.id".into()];
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let before = event_count(&app).await;
    let port = app.address.rsplit(':').next().expect("a port").to_owned();
    let mutation = json!({ "query": r#"mutation { createMentor(input: {name: "Penyusup", institution: "X"}) { mentor { id } } }"# });
    let client = reqwest::Client::new();
    let rebound = client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("host", format!("evil.example:{port}"))
        .header("origin", format!("http://evil.example:{port}"))
        .json(&mutation)
        .send()
        .await
        .expect("an answer");
    assert_eq!(rebound.status().as_u16(), 403);
    let body: Value = rebound.json().await.unwrap_or_default();
    assert_eq!(error_code(&body), "FORBIDDEN");
    // The names the operator lists, IP addresses and localhost are served.
    for host in [
        format!("labinov.banjarkab.go.id:{port}"),
        format!("localhost:{port}"),
    ] {
        let response = client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(crate::helpers::admin_token())
            .header("host", host.clone())
            .json(&json!({ "query": "{ regencies { totalCount } }" }))
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 200, "{host}");
    }
    still_serving_and_unchanged(&app, before).await;
}

#[tokio::test]
async fn invisible_control_characters_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    for name in ["Kecamatan\u{0}Uji", "Kecamatan \u{202E}ijU"] {
        let response = app
            .gql(
                r#"mutation($n: String!) { createMentor(input: {name: $n, institution: "LAN"}) { mentor { id } } }"#,
                json!({ "n": name }),
            )
            .await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    }
    let response = app
        .gql(
            "query($s: String) { ideas(filter: {search: $s}) { totalCount } }",
            json!({ "s": "a\u{0}b" }),
        )
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    // Line breaks in a description are text, not control.
    let idea = app
        .data(
            r#"{ ideas(filter: {regencyCodes: ["63.03"]}, first: 1) { nodes { id version } } }"#,
            json!({}),
        )
        .await["ideas"]["nodes"][0]
        .clone();
    let updated = app
        .gql(
            "mutation($id: ID!, $v: Int!) { updateIdea(input: {id: $id, version: $v, description: \"Baris satu\\nBaris dua\"}) { idea { version } } }",
            json!({ "id": idea["id"], "v": idea["version"] }),
        )
        .await;
    assert!(updated.get("errors").is_none(), "{updated}");
    assert_eq!(event_count(&app).await, before + 1);
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_told_what_shape_to_send() {
    let app = TestApp::spawn().await;
    for body in [
        r#"{"querry": "{ me { role } }"}"#,
        "[1, 2]",
        r#""{ me { role } }""#,
    ] {
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .expect("a request");
        let (status, response) = app.send_as_is(request).await;
        assert_eq!(status, 400, "{body}: {response}");
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains("\"query\" string") && !message.contains("enum"),
            "{body}: {message}"
        );
    }
    for empty in ["/graphql", "/graphql?query=", "/graphql?query=%20%20"] {
        let request = axum::http::Request::get(empty)
            .body(axum::body::Body::empty())
            .expect("a request");
        let (status, response) = app.send_as_is(request).await;
        assert_eq!(status, 400, "{empty}: {response}");
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    }
}

// Resources: one anonymous client on one address must not take the server's memory, CPU or
// every slot.

/// Sends raw bytes over a fresh connection and reads what comes back until the server closes
/// or goes quiet for a second.
async fn raw_exchange(app: &TestApp, bytes: &[u8]) -> Vec<u8> {
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(&host).await.expect("connect");
    socket.write_all(bytes).await.expect("write");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while let Ok(Ok(n)) =
        tokio::time::timeout(Duration::from_secs(1), socket.read(&mut buffer)).await
    {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    answer
}

/// A POST of a persisted query: `text` (may be empty) under `hash`.
async fn persisted(app: &TestApp, text: &str, hash: &str) -> Value {
    let body = json!({
        "query": text,
        "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } }
    });
    let request = axum::http::Request::post("/graphql")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .expect("a request");
    app.send_as_is(request).await.1
}

#[tokio::test]
async fn persisted_query_texts_obey_the_size_limit_and_a_byte_budget_before_they_are_kept() {
    let (mut config, dir) = fresh_config();
    config.limits.persisted_queries_kb = 16;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    // A text over the query-size limit is refused, and not kept under its hash.
    let long = format!("{{ stages {{ count }} }} #{}", "x".repeat(40 * 1024));
    let hash = labinov::graphql::persisted::hash(&long);
    assert_eq!(
        error_code(&persisted(&app, &long, &hash).await),
        "QUERY_TOO_LARGE"
    );
    assert_eq!(
        error_code(&persisted(&app, "", &hash).await),
        "PERSISTED_QUERY_NOT_FOUND",
        "a refused text is not kept"
    );
    // Texts within the limit are kept, the least recently used dropped past 16 KiB.
    let texts: Vec<String> = (0..40)
        .map(|n| format!("{{ stages {{ count }} }} #{n} {}", "y".repeat(1000)))
        .collect();
    for text in &texts {
        let answer = persisted(&app, text, &labinov::graphql::persisted::hash(text)).await;
        assert!(answer["data"]["stages"].is_array(), "{answer}");
    }
    let newest = texts.last().expect("a text");
    let answer = persisted(&app, "", &labinov::graphql::persisted::hash(newest)).await;
    assert!(
        answer["data"]["stages"].is_array(),
        "the newest is kept: {answer}"
    );
    let answer = persisted(&app, "", &labinov::graphql::persisted::hash(&texts[0])).await;
    assert_eq!(
        error_code(&answer),
        "PERSISTED_QUERY_NOT_FOUND",
        "40 KB of texts do not fit in 16 KiB: the oldest went"
    );
}

#[tokio::test]
async fn long_operation_ids_and_payloads_that_are_not_objects_close_with_4400() {
    let app = TestApp::spawn().await;
    for legacy in [false, true] {
        let kind = if legacy { "start" } else { "subscribe" };
        let query = json!({"query": "subscription { funnel { funnel { total } } }"});
        // 128 bytes is the longest id.
        let mut ws = WsClient::connect(&app.ws_url(), legacy).await;
        ws.send_text(json!({"type": kind, "id": "i".repeat(128), "payload": query}).to_string())
            .await;
        assert!(ws.next_result().await["data"]["funnel"].is_object());
        ws.send_text(json!({"type": kind, "id": "i".repeat(129), "payload": query}).to_string())
            .await;
        let (code, reason) = ws.close_frame().await.expect("a close frame");
        assert_eq!(code, 4400, "legacy {legacy}: {reason}");
        assert!(reason.contains("128 bytes"), "{reason}");

        for payload in [
            json!("subscription { funnel { total } }"),
            json!([1]),
            json!(7),
            Value::Null,
        ] {
            let mut ws = WsClient::connect(&app.ws_url(), legacy).await;
            ws.send_text(json!({"type": kind, "id": "1", "payload": payload}).to_string())
                .await;
            let (code, reason) = ws.close_frame().await.expect("a close frame");
            assert_eq!(code, 4400, "legacy {legacy}, payload {payload}: {reason}");
            assert!(
                reason.contains("payload") && !reason.contains("struct"),
                "our own sentence, not the library's: {reason}"
            );
        }
    }
}

#[tokio::test]
async fn a_socket_that_runs_nothing_and_answers_no_ping_is_closed() {
    let (mut config, dir) = fresh_config();
    config.keepalive_secs = 1;
    // Two WebSockets per address: while both are open a third is refused, which shows when
    // the server has closed one without reading from it.
    config.limits.max_streams_per_address = 2;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    // A client that answers: still open after several pings, and still served.
    let mut answering = WsClient::connect(&app.ws_url(), false).await;
    answering.expect_nothing_for(Duration::from_secs(4)).await;
    answering
        .subscribe(
            "1",
            "subscription { funnel { funnel { total } } }",
            json!({}),
        )
        .await;
    assert!(answering.next_result().await["data"]["funnel"].is_object());
    // A client that initialises and then reads nothing (reading would answer the WebSocket
    // pings) and runs nothing: its place comes back once the server has closed it.
    let mut silent = WsClient::connect(&app.ws_url(), false).await;
    let url = app.ws_url();
    wait_until("the silent socket's place to come back", || async {
        WsClient::open(&url, false, None).await.is_ok()
    })
    .await;
    let (code, reason) = silent.close_frame().await.expect("a close frame");
    assert_eq!(code, 1001, "{reason}");
}

#[tokio::test]
async fn one_address_holds_at_most_its_connections_streams_and_subscriptions() {
    let (mut config, dir) = fresh_config();
    config.limits.max_connections_per_address = 3;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(&host).await.expect("connect"));
    }
    // Each held socket sends its first byte so the server has counted it.
    for socket in &mut held {
        socket.write_all(b"G").await.expect("write");
    }
    let mut extra = TcpStream::connect(&host).await.expect("the kernel accepts");
    assert!(closed_within(&mut extra, Duration::from_secs(3)).await);
    drop(held);

    let (mut config, dir) = fresh_config();
    config.limits.max_streams_per_address = 2;
    config.limits.max_subscriptions_per_address = 3;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let mut first = WsClient::connect(&app.ws_url(), false).await;
    let mut second = WsClient::connect(&app.ws_url(), false).await;
    assert_eq!(
        WsClient::open(&app.ws_url(), false, None).await.err(),
        Some(429),
        "a third WebSocket from the address"
    );
    let sse = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/event-stream")
        .query(&[("query", "subscription { funnel { funnel { total } } }")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(
        sse.status().as_u16(),
        429,
        "an event stream counts as a stream"
    );
    let body: Value = sse.json().await.expect("JSON");
    assert_eq!(error_code(&body), "TOO_MANY_STREAMS", "{body}");
    assert_eq!(body["errors"][0]["extensions"]["max"], 2);

    // Subscriptions count across the address's sockets.
    for id in ["1", "2", "3"] {
        let ws = if id == "3" { &mut second } else { &mut first };
        ws.subscribe(
            id,
            "subscription { funnel { funnel { total } } }",
            json!({}),
        )
        .await;
        assert!(ws.next_result().await["data"]["funnel"].is_object());
    }
    second
        .subscribe(
            "4",
            "subscription { funnel { funnel { total } } }",
            json!({}),
        )
        .await;
    let refused = second.next_result().await;
    assert_eq!(error_code(&refused), "TOO_MANY_SUBSCRIPTIONS", "{refused}");
    assert_eq!(
        refused["errors"][0]["extensions"]["limit"],
        "subscriptionsPerAddress"
    );
    // Places come back when the socket goes.
    drop(first);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if WsClient::open(&app.ws_url(), false, None).await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a closed WebSocket gives its place back"
        );
        tokio::task::yield_now().await;
    }
}

/// An anonymous `stages` query sent from 127.0.0.1, naming `forwarded` as the client.
async fn stages_as(app: &TestApp, forwarded: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .header("x-forwarded-for", forwarded)
        .json(&json!({ "query": "{ stages { count } }" }))
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16()
}

#[tokio::test]
async fn forwarded_client_addresses_count_only_from_trusted_proxies() {
    for trusted in [true, false] {
        let (mut config, dir) = fresh_config();
        config.limits.rate_limit_per_ip = 2;
        if trusted {
            config.trusted_proxies = vec!["127.0.0.1/32".parse().expect("a network")];
        }
        let app = TestApp::start(config, false, Arc::new(dir)).await;
        assert_eq!(stages_as(&app, "198.51.100.1").await, 200);
        assert_eq!(stages_as(&app, "198.51.100.1").await, 200);
        assert_eq!(stages_as(&app, "198.51.100.1").await, 429);
        let other = stages_as(&app, "198.51.100.2").await;
        if trusted {
            assert_eq!(
                other, 200,
                "behind a trusted proxy, another client has its own limit"
            );
        } else {
            assert_eq!(other, 429, "from an untrusted peer the header is ignored");
        }
    }
}

#[tokio::test]
async fn request_heads_over_the_cap_get_431_and_http2_without_tls_is_off_by_default() {
    let app = TestApp::spawn().await;
    let big = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: {}\r\n\r\n",
        "p".repeat(40 * 1024)
    );
    let answer = raw_exchange(&app, big.as_bytes()).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    let small = raw_exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await;
    assert!(String::from_utf8_lossy(&small).starts_with("HTTP/1.1 200"));

    // The HTTP/2 connection preface and an empty SETTINGS frame.
    let mut preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    preface.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let settings_frame = |bytes: &[u8]| bytes.len() >= 9 && bytes[3] == 4;
    assert!(
        !settings_frame(&raw_exchange(&app, &preface).await),
        "no HTTP/2 without TLS unless asked for"
    );
    let (mut config, dir) = fresh_config();
    config.http2_cleartext = true;
    let h2c = TestApp::start(config, false, Arc::new(dir)).await;
    assert!(settings_frame(&raw_exchange(&h2c, &preface).await));
}

#[tokio::test]
async fn made_up_methods_do_not_become_metric_labels() {
    let app = TestApp::spawn().await;
    for method in ["LABINOVMADEUPA", "LABINOVMADEUPB"] {
        let answer = raw_exchange(
            &app,
            format!("{method} /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes(),
        )
        .await;
        assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 405"));
    }
    let metrics = reqwest::get(format!("{}/metrics", app.address))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(!metrics.contains("LABINOVMADEUP"), "made-up names stay out");
    assert!(metrics.contains("method=\"other\""));
}

#[tokio::test]
async fn demo_tokens_are_printed_only_when_signed_with_the_public_demo_secret() {
    let app = TestApp::with_demo().await;
    let mut config = labinov::Config::sqlite(std::path::Path::new("unused.db"));
    config.listen = "127.0.0.1:8080".parse().expect("an address");
    let demo = labinov::auth::Authenticator::from_config(&config, true).expect("demo mode");
    let tokens = labinov::cli::demo_tokens(&app.domain, &demo)
        .await
        .expect("tokens");
    assert_eq!(
        tokens.len(),
        5,
        "one per role (two viewers) with the demo secret"
    );
    assert!(
        tokens.iter().any(|t| t.screen == Some("63.03")),
        "a Banjar viewer opens the event screen"
    );
    config.tokens.jwt_secret = Some(crate::helpers::TEST_SECRET.to_owned());
    let real = labinov::auth::Authenticator::from_config(&config, true).expect("a real secret");
    assert!(
        labinov::cli::demo_tokens(&app.domain, &real)
            .await
            .expect("no error")
            .is_empty(),
        "nothing is printed that is signed with the operator's secret"
    );
}

#[tokio::test]
async fn missing_null_and_mistyped_variables_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    let query = "query($f: IdeaFilter!) { ideas(filter: $f) { totalCount } }";
    for (variables, hint) in [
        (json!({}), "was not given a value"),
        (json!({"f": null}), "cannot be null"),
        (json!({"f": 3}), "an object"),
        (
            json!({"f": {"submittedFrom": 20_190_910}}),
            "$f.submittedFrom",
        ),
        (json!({"f": {"submittedFrom": "2020-13-45"}}), "YYYY-MM-DD"),
        (json!({"f": {"stages": ["NOWHERE"]}}), "$f.stages[0]"),
        (json!({"f": {"madeUp": true}}), "no field \"madeUp\""),
    ] {
        let request = axum::http::Request::post("/graphql")
            .header("content-type", "application/json")
            .header("accept", "application/graphql-response+json")
            .header(
                "authorization",
                format!("Bearer {}", crate::helpers::admin_token()),
            )
            .body(axum::body::Body::from(
                json!({"query": query, "variables": variables}).to_string(),
            ))
            .expect("a request");
        let (status, response) = app.send_as_is(request).await;
        assert_eq!(status, 400, "{variables}: {response}");
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(hint), "{message:?} should say {hint:?}");
    }
}

#[tokio::test]
async fn nul_and_control_characters_in_any_string_input_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    for query in [
        "{ funnel(filter: {regencyCodes: [\"63.03\\u0000\"]}) { total } }",
        "{ stages(filter: {regencyCodes: [\"63.03\\u0000\"]}) { count } }",
        "{ ideaCounts(groupBy: STAGE, filter: {regencyCodes: [\"\\u0000\"]}) { count } }",
    ] {
        let anonymous = app.gql_as(None, query, json!({})).await;
        assert_eq!(error_code(&anonymous), "BAD_USER_INPUT", "{anonymous}");
    }
    for hidden in [
        "63.03\u{0}",
        "63.03\u{200B}",
        "\u{200E}63.03",
        "63.03\u{2028}",
    ] {
        let response = app
            .gql_as(
                None,
                "query($c: [String!]) { funnel(filter: {regencyCodes: $c}) { total } }",
                json!({"c": [hidden]}),
            )
            .await;
        assert_eq!(
            error_code(&response),
            "BAD_USER_INPUT",
            "{hidden:?}: {response}"
        );
    }
    let filter = json!({"regencyCodes": ["63.03\u{0}"]}).to_string();
    let url = format!(
        "/export/ideas.csv?filter={}",
        form_urlencoded::byte_serialize(filter.as_bytes()).collect::<String>()
    );
    let (status, body) = app
        .send(
            axum::http::Request::get(url)
                .body(axum::body::Body::empty())
                .expect("a request"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

#[tokio::test]
async fn a_row_of_another_regency_and_a_missing_row_answer_the_same_not_found() {
    let app = TestApp::with_demo().await;
    let other = app
        .data(
            r#"{ units(filter: {regencyCodes: ["33.03"]}, first: 1) { nodes { id } }
                 cohorts(filter: {regencyCodes: ["33.03"]}, first: 1) { nodes { id } }
                 own: cohorts(filter: {regencyCodes: ["63.03"]}, first: 1) { nodes { id regency { id } } }
                 ownUnits: units(filter: {regencyCodes: ["63.03"]}, first: 1) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    let other_unit = other["units"]["nodes"][0]["id"].clone();
    let other_cohort = other["cohorts"]["nodes"][0]["id"].clone();
    let own_cohort = other["own"]["nodes"][0]["id"].clone();
    let own_regency = other["own"]["nodes"][0]["regency"]["id"].clone();
    let own_unit = other["ownUnits"]["nodes"][0]["id"].clone();
    let missing_unit = json!(labinov::global_id::encode(
        labinov::global_id::Kind::Unit,
        987_654
    ));
    let missing_cohort = json!(labinov::global_id::encode(
        labinov::global_id::Kind::Cohort,
        987_654
    ));
    let admin = crate::helpers::token(labinov::access::Role::RegencyAdmin, Some("63.03"), None);
    let before = event_count(&app).await;
    let cases = [
        (
            "mutation($r: ID!, $p: ID!) { createUnit(input: {regencyId: $r, parentId: $p, kind: KELURAHAN, name: \"Kelurahan Uji\"}) { unit { id } } }",
            json!({"r": own_regency}),
            "p",
            (other_unit.clone(), missing_unit.clone()),
        ),
        (
            "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Uji\", problem: \"Uji\", type: DIGITAL, form: OTHER, affairsArea: \"Uji\", initiator: WORK_UNIT}) { idea { id } } }",
            json!({"c": own_cohort}),
            "u",
            (other_unit.clone(), missing_unit.clone()),
        ),
        (
            "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Uji\", problem: \"Uji\", type: DIGITAL, form: OTHER, affairsArea: \"Uji\", initiator: WORK_UNIT}) { idea { id } } }",
            json!({"u": own_unit}),
            "c",
            (other_cohort.clone(), missing_cohort.clone()),
        ),
    ];
    for (mutation, base, argument, (theirs, missing)) in cases {
        let answer = |id: Value| {
            let mut variables = base.clone();
            variables[argument] = id;
            let admin = admin.clone();
            let app = &app;
            async move {
                let response = app.gql_as(Some(&admin), mutation, variables).await;
                (
                    error_code(&response).to_owned(),
                    response["errors"][0]["message"].clone(),
                )
            }
        };
        let (theirs, missing) = (answer(theirs).await, answer(missing).await);
        assert_eq!(theirs.0, "NOT_FOUND", "{theirs:?}");
        assert_eq!(
            theirs, missing,
            "${argument}: another regency's row reads as absent"
        );
    }
    assert_eq!(event_count(&app).await, before);
}

#[tokio::test]
async fn public_figures_take_only_the_public_dimensions() {
    let app = TestApp::with_demo().await;
    for filter in [
        r#"{submittedFrom: "2017-01-01"}"#,
        r#"{launchedTo: "2018-12-31"}"#,
        "{initiators: [WORK_UNIT]}",
        "{stallReasons: [BUDGET]}",
        "{inStageLongerThanDays: 30}",
        "{and: [{stages: [DESIGN]}]}",
    ] {
        for query in [
            format!("{{ funnel(filter: {filter}) {{ total }} }}"),
            format!("{{ ideaCounts(groupBy: STAGE, filter: {filter}) {{ count }} }}"),
        ] {
            let response = app.gql_as(None, &query, json!({})).await;
            assert_eq!(
                error_code(&response),
                "UNAUTHENTICATED",
                "{query}: {response}"
            );
        }
    }
    let public = app
        .gql_as(
            None,
            r#"{ funnel(filter: {regencyCodes: ["63.03"], stages: [DESIGN, DELIVER], types: [DIGITAL], forms: [PUBLIC_SERVICE], maturities: [APPLIED], unitKinds: [PUSKESMAS], statuses: [ACTIVE]}) { total } }"#,
            json!({}),
        )
        .await;
    assert!(public["data"]["funnel"]["total"].is_u64(), "{public}");
}

/// The value of a Prometheus counter or histogram count, 0 when absent.
fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn distinct_funnel_subscriptions_recompute_in_turns_on_the_budgeted_lane() {
    let app = TestApp::with_demo().await;
    let metrics = || async {
        reqwest::get(format!("{}/metrics", app.address))
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text")
    };
    let before = metric_value(&metrics().await, "labinov_live_aggregate_seconds_count");
    // Thirty anonymous subscriptions, each with its own filter.
    let kinds = [
        "DINAS",
        "BADAN",
        "KECAMATAN",
        "KELURAHAN",
        "PUSKESMAS",
        "RSUD",
    ];
    let stages = ["DIAGNOSE", "DESIGN", "DELIVER", "DISPLAY", "DRUM_UP"];
    let mut sockets = Vec::new();
    for (n, kind) in kinds.iter().enumerate() {
        let mut ws = WsClient::open(&app.ws_url(), false, None)
            .await
            .expect("opens");
        ws.init_with(json!({})).await;
        for stage in stages {
            ws.subscribe(
                &format!("{n}{stage}"),
                "subscription($f: IdeaFilter) { funnel(filter: $f) { funnel { total } } }",
                json!({"f": {"regencyCodes": ["63.03"], "unitKinds": [kind], "stages": [stage, "DIAGNOSE"]}}),
            )
            .await;
            assert!(ws.next_result().await["data"]["funnel"].is_object());
        }
        sockets.push(ws);
    }
    let after_first = metric_value(&metrics().await, "labinov_live_aggregate_seconds_count");
    assert!(
        after_first - before >= 30.0,
        "each first snapshot took a turn: {before} → {after_first}"
    );
    // A write that changes every one of them: each gets its new snapshot, in its turn.
    let banjar = app
        .data(
            r#"{ cohorts(filter: {regencyCodes: ["63.03"]}, first: 1) { nodes { id } } }"#,
            json!({}),
        )
        .await;
    let cohort = banjar["cohorts"]["nodes"][0]["id"].clone();
    let units = app
        .data(
            r#"{ units(filter: {regencyCodes: ["63.03"]}, first: 100) { nodes { id kind } } }"#,
            json!({}),
        )
        .await;
    for kind in kinds {
        let Some(unit) = units["units"]["nodes"]
            .as_array()
            .and_then(|u| u.iter().find(|u| u["kind"] == kind))
        else {
            continue;
        };
        let response = app
            .gql(
                "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Uji beban\", problem: \"Uji\", type: DIGITAL, form: OTHER, affairsArea: \"Uji\", initiator: WORK_UNIT}) { idea { id } } }",
                json!({"c": cohort, "u": unit["id"]}),
            )
            .await;
        assert!(response.get("errors").is_none(), "{response}");
        let n = kinds.iter().position(|k| *k == kind).expect("a kind");
        for _ in stages {
            assert!(sockets[n].next_result().await["data"]["funnel"].is_object());
        }
    }
    let text = metrics().await;
    assert!(metric_value(&text, "labinov_live_aggregate_seconds_count") > after_first);
    assert!(text.contains("labinov_live_aggregate_wait_seconds"));
}

#[tokio::test]
async fn public_figures_hide_counts_below_the_minimum_and_signed_in_callers_see_them() {
    let app = TestApp::spawn().await;
    let regency = app
        .data(
            r#"mutation { createRegency(input: {code: "90.01", name: "Kabupaten Uji", province: "Uji", organiser: "Bapelitbangda"}) { regency { id } } }"#,
            json!({}),
        )
        .await["createRegency"]["regency"]["id"]
        .clone();
    let unit = app
        .data(
            "mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: DINAS, name: \"Dinas Uji\"}) { unit { id } } }",
            json!({"r": regency}),
        )
        .await["createUnit"]["unit"]["id"]
        .clone();
    let cohort = app
        .data(
            "mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2024, name: \"Lab 2024\"}) { cohort { id } } }",
            json!({"r": regency}),
        )
        .await["createCohort"]["cohort"]["id"]
        .clone();
    for title in ["Satu", "Dua"] {
        app.data(
            "mutation($c: ID!, $u: ID!, $t: String!) { submitIdea(input: {cohortId: $c, unitId: $u, title: $t, problem: \"Uji\", type: DIGITAL, form: OTHER, affairsArea: \"Uji\", initiator: WORK_UNIT}) { idea { id } } }",
            json!({"c": cohort, "u": unit, "t": title}),
        )
        .await;
    }
    let query = r#"{ funnel(filter: {regencyCodes: ["90.01"]}) { fewerThan total stages { stage reached current conversion } }
                     stages(filter: {regencyCodes: ["90.01"]}) { stage count fewerThan }
                     ideaCounts(groupBy: TYPE, filter: {regencyCodes: ["90.01"]}) { key count fewerThan } }"#;
    let public = app.gql_as(None, query, json!({})).await;
    assert!(public.get("errors").is_none(), "{public}");
    let data = &public["data"];
    assert_eq!(data["funnel"]["fewerThan"], 5);
    assert!(
        data["funnel"]["total"].is_null(),
        "two ideas read as fewer than 5: {data}"
    );
    let diagnose = &data["funnel"]["stages"][1];
    assert!(
        diagnose["reached"].is_null() && diagnose["conversion"].is_null(),
        "{diagnose}"
    );
    assert_eq!(
        data["funnel"]["stages"][3]["reached"], 0,
        "a zero singles no one out"
    );
    assert!(data["stages"][1]["count"].is_null());
    assert!(data["ideaCounts"][0]["count"].is_null());
    let signed_in = app.data(query, json!({})).await;
    assert_eq!(signed_in["funnel"]["total"], 2);
    assert!(signed_in["funnel"]["fewerThan"].is_null());
    assert_eq!(signed_in["stages"][1]["count"], 2);
    assert_eq!(signed_in["ideaCounts"][0]["count"], 2);

    // The minimum is the operator's: 1 shows every count.
    let (mut config, dir) = fresh_config();
    config.anonymous_min_count = 1;
    let open = TestApp::start(config, false, Arc::new(dir)).await;
    let answer = open
        .gql_as(None, "{ funnel { total fewerThan } }", json!({}))
        .await;
    assert_eq!(answer["data"]["funnel"]["total"], 0, "{answer}");
    assert!(answer["data"]["funnel"]["fewerThan"].is_null());
}

/// Sends the head of a POST declaring `length` bytes of body and `sent` of them; the socket.
async fn unfinished_post(app: &TestApp, length: usize, sent: usize) -> TcpStream {
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut socket = TcpStream::connect(&host).await.expect("connect");
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    socket.write_all(head.as_bytes()).await.expect("write");
    socket.write_all(&vec![b' '; sent]).await.expect("write");
    socket
}

/// The answer to a POST declaring `length` bytes, sent without its body.
async fn answer_to_post_of(app: &TestApp, length: usize) -> String {
    let head = format!(
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    );
    let answer = raw_exchange(app, head.as_bytes()).await;
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status of an anonymous query POSTed with some 60 KB of body.
async fn large_post(app: &TestApp) -> u16 {
    let body =
        json!({ "query": "{ stages { count } }", "extensions": { "padding": "p".repeat(60_000) } });
    reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&body)
        .send()
        .await
        .expect("an answer")
        .status()
        .as_u16()
}

/// Sends large posts until one is answered 200 (the budget came back), within a guard.
async fn budget_comes_back(app: &TestApp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while large_post(app).await != 200 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the budget comes back"
        );
        tokio::task::yield_now().await;
    }
}

/// Asks until the answer starts with `status` (the held body is being counted), within a guard.
async fn answer_until(app: &TestApp, length: usize, status: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let answer = answer_to_post_of(app, length).await;
        if answer.starts_with(status) || tokio::time::Instant::now() > deadline {
            return answer;
        }
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn request_bodies_in_flight_are_budgeted_per_address_and_in_all() {
    let (mut config, dir) = fresh_config();
    config.limits.max_body_bytes_per_address = 64 * 1024;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    // One large body arriving slowly holds most of the address's budget, so a second one is
    // refused before its body is read, and a small one still fits.
    let held = unfinished_post(&app, 60_000, 1_000).await;
    let refused = answer_until(&app, 60_000, "HTTP/1.1 429").await;
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    assert!(
        refused.contains("TOO_MANY_LARGE_REQUESTS") && refused.contains("bodyBytesPerAddress"),
        "{refused}"
    );
    let small = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .json(&json!({ "query": "{ stages { count } }" }))
        .send()
        .await
        .expect("an answer");
    assert_eq!(small.status().as_u16(), 200);
    // Once the held body's connection goes, its bytes come back.
    drop(held);
    let answer = answer_until(&app, 60_000, "HTTP/1.1 4").await;
    assert!(
        !answer.starts_with("HTTP/1.1 429"),
        "the budget comes back: {answer}"
    );

    let (mut config, dir) = fresh_config();
    config.limits.max_body_bytes_per_address = 0;
    config.limits.max_body_bytes_in_flight = 64 * 1024;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let held = unfinished_post(&app, 60_000, 1_000).await;
    let refused = answer_until(&app, 60_000, "HTTP/1.1 503").await;
    assert!(refused.starts_with("HTTP/1.1 503"), "{refused}");
    assert!(
        refused.contains("bodyBytesInFlight") && refused.to_lowercase().contains("retry-after"),
        "{refused}"
    );
    drop(held);
    budget_comes_back(&app).await;
    still_serving_and_unchanged(&app, 0).await;
}

/// Whether no hidden count of an anonymous funnel follows from the shown ones by addition:
/// every line of the stage × status table with its totals, and each list of stall reasons with
/// its stalled count, hides none or at least two.
fn no_hidden_count_follows(funnel: &Value) -> Result<(), String> {
    let cell = |v: &Value| v.is_null();
    let stages = funnel["stages"].as_array().cloned().unwrap_or_default();
    let mut rows: Vec<[bool; 4]> = stages
        .iter()
        .map(|s| {
            [
                cell(&s["active"]),
                cell(&s["stalled"]),
                cell(&s["dropped"]),
                cell(&s["current"]),
            ]
        })
        .collect();
    rows.push([
        cell(&funnel["active"]),
        cell(&funnel["stalled"]),
        cell(&funnel["dropped"]),
        cell(&funnel["total"]),
    ]);
    let lone = |hidden: usize| hidden == 1;
    for (r, row) in rows.iter().enumerate() {
        if lone(row.iter().filter(|h| **h).count()) {
            return Err(format!("row {r} hides one count: {funnel}"));
        }
    }
    for c in 0..4 {
        if lone(rows.iter().filter(|row| row[c]).count()) {
            return Err(format!("column {c} hides one count: {funnel}"));
        }
    }
    let reason_lists = stages
        .iter()
        .map(|s| (&s["stalledByReason"], &s["stalled"]))
        .chain(std::iter::once((
            &funnel["stalledByReason"],
            &funnel["stalled"],
        )));
    for (reasons, stalled) in reason_lists {
        let hidden = reasons.as_array().map_or(0, |list| {
            list.iter().filter(|r| r["count"].is_null()).count()
        }) + usize::from(stalled.is_null());
        if lone(hidden) {
            return Err(format!("a stall-reason list hides one count: {funnel}"));
        }
    }
    Ok(())
}

#[tokio::test]
async fn a_hidden_public_count_cannot_be_worked_out_from_the_shown_ones() {
    let app = TestApp::with_demo().await;
    let mut hidden_somewhere = false;
    for code in ["63.03", "33.03", "72.01"] {
        for kinds in [
            "[KELURAHAN]",
            "[PUSKESMAS]",
            "[SECRETARIAT]",
            "[KECAMATAN]",
            "[BUMD]",
            "[RSUD, DESA]",
            "[DINAS]",
            "[BADAN, INSPECTORATE]",
        ] {
            let query = format!(
                r#"{{ funnel(filter: {{regencyCodes: ["{code}"], unitKinds: {kinds}}}) {{ total active stalled dropped
                     stalledByReason {{ count }} stages {{ current active stalled dropped stalledByReason {{ count }} }} }} }}"#
            );
            let answer = app.gql_as(None, &query, json!({})).await;
            let funnel = &answer["data"]["funnel"];
            assert!(funnel.is_object(), "{answer}");
            hidden_somewhere |= funnel.to_string().contains("null");
            if let Err(leak) = no_hidden_count_follows(funnel) {
                panic!("{code} {kinds}: {leak}");
            }
        }
    }
    assert!(hidden_somewhere, "the demo data has small counts to hide");
}

/// A body of tiny values (`[0,0,0,…]`) would take some 90 times its size once parsed: past
/// 65,536 values it gets 413 with the limit before it is parsed, wherever the values sit, and a
/// WebSocket message closes with 4400. A body just under the limit is answered.
#[tokio::test]
async fn a_body_of_many_tiny_values_is_refused_before_it_is_parsed() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let zeros = vec![0; 70_000];
    for body in [
        json!({ "query": "{ __typename }", "variables": { "x": zeros } }),
        json!({ "query": "{ __typename }", "extensions": { "x": zeros } }),
        json!({ "query": "{ __typename }", "unknown": zeros }),
    ] {
        let response = client
            .post(format!("{}/graphql", app.address))
            .json(&body)
            .send()
            .await
            .expect("an answer");
        assert_eq!(response.status().as_u16(), 413);
        let body: Value = response.json().await.unwrap_or_default();
        assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
        let extensions = &body["errors"][0]["extensions"];
        assert_eq!(extensions["limit"], "jsonValues", "{body}");
        assert_eq!(extensions["max"], 65_536, "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("65536 JSON values"), "{message}");
    }
    let under = json!({ "query": "{ __typename }", "extensions": { "x": vec![0; 65_000] } });
    let response = client
        .post(format!("{}/graphql", app.address))
        .json(&under)
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap_or_default();
    assert_eq!(body["data"]["__typename"], "Query", "{body}");

    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    let payload = json!({ "query": "subscription { funnel { funnel { total } } }", "extensions": { "x": zeros } });
    ws.send_text(json!({ "type": "subscribe", "id": "1", "payload": payload }).to_string())
        .await;
    let (code, reason) = ws.close_frame().await.expect("a close frame");
    assert_eq!(code, 4400, "{reason}");
    assert!(reason.contains("JSON values"), "{reason}");
}

/// async-graphql's validation passes over `__typename`: its arguments and directives are
/// checked here, so a misused one is refused with a code and a sentence instead of running
/// (`@include(if: "yes")` answered `null` without an error).
#[tokio::test]
async fn typename_with_arguments_or_wrong_directives_is_refused_with_a_code() {
    let app = TestApp::spawn().await;
    for (query, says) in [
        ("{ __typename(a0: 1) }", "Unknown argument"),
        ("{ __typename @include(if: \"yes\") }", "must be a Boolean"),
        ("{ __typename @foo }", "may not be used"),
        (
            "{ __typename @include(if: true) @include(if: false) }",
            "twice",
        ),
    ] {
        let response = app.gql(query, json!({})).await;
        assert_eq!(
            error_code(&response),
            "BAD_USER_INPUT",
            "{query}: {response}"
        );
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(says), "{query}: {message}");
        assert!(
            response.get("data").is_none_or(Value::is_null),
            "{response}"
        );
    }
    let response = app
        .gql(
            "{ a: __typename @include(if: true) b: __typename @skip(if: true) }",
            json!({}),
        )
        .await;
    assert_eq!(response["data"], json!({ "a": "Query" }), "{response}");
}
