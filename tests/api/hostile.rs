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
    helpers::{TestApp, error_code, fresh_config},
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
    let ids: Vec<String> = (0..100_000).map(|i| format!("UmVnZW5jeTo{i}")).collect();
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
async fn writes_come_only_through_post_with_a_json_body() {
    let app = TestApp::with_demo().await;
    let before = event_count(&app).await;
    let mutation = r#"mutation { createMentor(input: {name: "Penyusup", institution: "X"}) { mentor { id } } }"#;
    // An EventSource on any site sends a GET with Accept: text/event-stream.
    let (status, body) = get(&app, mutation, "text/event-stream").await;
    assert_eq!(status, 405);
    assert_eq!(error_code(&body), "METHOD_NOT_ALLOWED");
    // A form on any site can POST text/plain or a form encoding without a CORS preflight.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
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
        error_code(&event.data),
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
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(TcpStream::connect(&host).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&host).await.expect("the kernel accepts");
    assert!(closed_within(&mut extra, Duration::from_secs(3)).await);
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    still_serving_and_unchanged(&app, 0).await;

    // Open WebSockets keep their places after the upgrade.
    let mut sockets = Vec::new();
    for _ in 0..4 {
        sockets.push(WsClient::connect(&app.ws_url(), false).await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = TcpStream::connect(&host).await.expect("the kernel accepts");
    assert!(
        closed_within(&mut extra, Duration::from_secs(3)).await,
        "four open WebSockets fill a cap of four"
    );
    drop(sockets);
    tokio::time::sleep(Duration::from_millis(300)).await;
    still_serving_and_unchanged(&app, 0).await;
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
