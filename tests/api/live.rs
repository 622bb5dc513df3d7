//! Live delivery: real sockets, real protocols, real Redis. Subscriptions here resume from a
//! cursor, so what they must receive does not depend on when the server registered them; the
//! ones that start now (served by a group) are written to until they deliver.

use std::{sync::Arc, time::Duration};

use futures_util::StreamExt;
use labinov::access::Role;
use serde_json::{Value, json};

use crate::{
    clients::{SseClient, WsClient},
    helpers::{TestApp, error_code, fresh_config, token, wait_until},
};

const EVENTS: &str = "subscription($f: PipelineEventFilter, $after: String) {
    pipelineEvents(filter: $f, after: $after) { cursor sequence kind stage actor regency { code } idea { id title stage } } }";

/// A demo app whose listener polls the database quickly (as a production one does).
async fn live_app() -> TestApp {
    let (mut config, dir) = fresh_config();
    config.live_poll_ms = 200;
    TestApp::start(config, true, Arc::new(dir)).await
}

/// The Redis URL CI provides. Tests that need Redis are `#[ignore]`d in the plain `cargo test`
/// (a machine without services); CI runs them with `--include-ignored` and this variable set,
/// and a run without it fails rather than passing silently.
fn redis_url() -> String {
    std::env::var("LABINOV_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .expect("set LABINOV_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379) to run the Redis tests")
}

fn unique_prefix() -> String {
    format!(
        "labinov-test-{}-{}:",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    )
}

/// The newest event in a regency: its cursor and sequence.
async fn newest_event(app: &TestApp, code: &str) -> Value {
    let data = app
        .data(
            "query($c: String!) { pipelineEvents(filter: {regencyCodes: [$c]}, last: 1) { nodes { cursor sequence } } }",
            json!({"c": code}),
        )
        .await;
    data["pipelineEvents"]["nodes"][0].clone()
}

/// The cursor of the latest event in a regency: subscribing after it gets every later event.
async fn cursor_now(app: &TestApp, code: &str) -> String {
    newest_event(app, code).await["cursor"]
        .as_str()
        .expect("a cursor")
        .to_owned()
}

/// An active idea at DIAGNOSE in a regency: (id, version).
async fn an_idea(app: &TestApp, code: &str) -> (Value, i64) {
    let data = app
        .data(
            "query($c: String!) { ideas(filter: {regencyCodes: [$c], stages: [DIAGNOSE], statuses: [ACTIVE]}, first: 1) { nodes { id version } } }",
            json!({"c": code}),
        )
        .await;
    let idea = &data["ideas"]["nodes"][0];
    (
        idea["id"].clone(),
        idea["version"].as_i64().expect("a version"),
    )
}

/// Renames an idea `n` times (one IDEA_UPDATED event each); returns the next version.
async fn rename(app: &TestApp, id: &Value, mut version: i64, n: usize, label: &str) -> i64 {
    for i in 0..n {
        let data = app
            .data(
                "mutation($id: ID!, $v: Int!, $t: String!) { updateIdea(input: {id: $id, version: $v, title: $t}) { idea { version } } }",
                json!({"id": id, "v": version, "t": format!("{label} {i}")}),
            )
            .await;
        version = data["updateIdea"]["idea"]["version"]
            .as_i64()
            .expect("a version");
    }
    version
}

fn event_of(result: &Value) -> &Value {
    assert!(result.get("errors").is_none(), "{result}");
    &result["data"]["pipelineEvents"]
}

#[tokio::test]
async fn a_mutation_reaches_graphql_ws_legacy_ws_and_sse_subscribers() {
    let app = live_app().await;
    let after = cursor_now(&app, "63.03").await;
    let variables = json!({"f": {"regencyCodes": ["63.03"]}, "after": after});

    let mut modern = WsClient::connect(&app.ws_url(), false).await;
    modern.subscribe("1", EVENTS, variables.clone()).await;
    let mut legacy = WsClient::connect(&app.ws_url(), true).await;
    legacy.subscribe("1", EVENTS, variables.clone()).await;
    let mut sse = SseClient::connect(&app.address, EVENTS, variables, None).await;

    let (id, version) = an_idea(&app, "63.03").await;
    let moved = app
        .data(
            "mutation($id: ID!, $v: Int!) { advanceIdea(input: {id: $id, version: $v}) { event { sequence } } }",
            json!({"id": id, "v": version}),
        )
        .await;
    let sequence = moved["advanceIdea"]["event"]["sequence"].clone();

    let from_modern = modern.next_result().await;
    let from_legacy = legacy.next_result().await;
    let from_sse = sse.next_event().await.expect("an SSE event");
    assert_eq!(from_sse.event, "next");
    for event in [
        event_of(&from_modern),
        event_of(&from_legacy),
        event_of(&from_sse.json()),
    ] {
        assert_eq!(event["kind"], "IDEA_ADVANCED");
        assert_eq!(event["sequence"], sequence);
        assert_eq!(event["idea"]["id"], id);
        assert_eq!(event["idea"]["stage"], "DESIGN");
        assert_eq!(event["regency"]["code"], "63.03");
    }
    // SSE events carry the cursor as their id, so an EventSource resumes by itself.
    assert_eq!(
        from_sse.id.as_deref(),
        event_of(&from_sse.json())["cursor"].as_str()
    );
}

#[tokio::test]
async fn a_subscriber_that_missed_50_events_gets_exactly_those_in_order() {
    let app = live_app().await;
    let after = cursor_now(&app, "33.03").await;
    let variables = json!({"f": {"regencyCodes": ["33.03"]}, "after": after});
    let (id, version) = an_idea(&app, "33.03").await;

    let mut client = WsClient::connect(&app.ws_url(), false).await;
    client.subscribe("a", EVENTS, variables).await;
    let version = rename(&app, &id, version, 1, "before").await;
    let first = client.next_result().await;
    let last_seen = event_of(&first).clone();
    drop(client);

    let version = rename(&app, &id, version, 50, "missed").await;

    let mut client = WsClient::connect(&app.ws_url(), false).await;
    client
        .subscribe(
            "b",
            EVENTS,
            json!({"f": {"regencyCodes": ["33.03"]}, "after": last_seen["cursor"]}),
        )
        .await;
    let start = last_seen["sequence"].as_i64().expect("a sequence");
    for n in 1..=50 {
        let result = client.next_result().await;
        let event = event_of(&result);
        assert_eq!(
            event["sequence"],
            start + n,
            "in order, none skipped or repeated"
        );
        assert_eq!(event["kind"], "IDEA_UPDATED");
    }
    client.expect_nothing_for(Duration::from_millis(400)).await;
    // And the stream goes on live after the replay, with no duplicate at the seam.
    rename(&app, &id, version, 1, "live").await;
    let result = client.next_result().await;
    assert_eq!(event_of(&result)["sequence"], start + 51);
}

#[tokio::test]
async fn filters_deliver_only_matching_events() {
    let app = live_app().await;
    let after = cursor_now(&app, "63.03").await;
    let (id, version) = an_idea(&app, "63.03").await;
    let mut stalls = WsClient::connect(&app.ws_url(), false).await;
    stalls
        .subscribe(
            "s",
            EVENTS,
            json!({"f": {"regencyCodes": ["63.03"], "kinds": ["IDEA_STALLED"]}, "after": after}),
        )
        .await;
    let mut one_idea = WsClient::connect(&app.ws_url(), false).await;
    one_idea
        .subscribe("i", EVENTS, json!({"f": {"ideaId": id}, "after": after}))
        .await;
    let mut design = WsClient::connect(&app.ws_url(), false).await;
    design
        .subscribe(
            "d",
            EVENTS,
            json!({"f": {"regencyCodes": ["63.03"], "stages": ["DESIGN"]}, "after": after}),
        )
        .await;

    // Another idea changes first: only the regency-wide stage filter may see it, and it stays at DIAGNOSE.
    let other = app
        .data("{ ideas(filter: {regencyCodes: [\"63.03\"], stages: [DIAGNOSE], statuses: [ACTIVE]}, first: 2) { nodes { id version } } }", json!({}))
        .await;
    let other = &other["ideas"]["nodes"][1];
    rename(
        &app,
        &other["id"],
        other["version"].as_i64().unwrap_or_default(),
        1,
        "lain",
    )
    .await;
    let moved = app
        .data("mutation($id: ID!, $v: Int!) { advanceIdea(input: {id: $id, version: $v}) { idea { version } } }", json!({"id": id, "v": version}))
        .await;
    let version = moved["advanceIdea"]["idea"]["version"]
        .as_i64()
        .expect("version");
    app.data(
        "mutation($id: ID!, $v: Int!) { stallIdea(input: {id: $id, version: $v, reasonCode: INNOVATOR_TRANSFERRED, reason: \"mutasi\"}) { idea { version } } }",
        json!({"id": id, "v": version}),
    )
    .await;

    let stalled = stalls.next_result().await;
    assert_eq!(event_of(&stalled)["kind"], "IDEA_STALLED");
    stalls.expect_nothing_for(Duration::from_millis(400)).await;

    let kinds: Vec<Value> = [one_idea.next_result().await, one_idea.next_result().await]
        .iter()
        .map(|r| event_of(r)["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("IDEA_ADVANCED"), json!("IDEA_STALLED")]);
    one_idea
        .expect_nothing_for(Duration::from_millis(400))
        .await;

    for expected in ["IDEA_ADVANCED", "IDEA_STALLED"] {
        let result = design.next_result().await;
        assert_eq!(event_of(&result)["kind"], expected);
        assert_eq!(event_of(&result)["stage"], "DESIGN");
    }
    design.expect_nothing_for(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn funnel_snapshots_always_equal_the_funnel_query() {
    const FUNNEL: &str = "{ total active stalled dropped launched stages { stage reached current conversion } commitments { signed fulfilled } }";
    let app = live_app().await;
    let subscription = format!(
        "subscription {{ funnel(filter: {{regencyCodes: [\"72.01\"]}}) {{ cursor funnel {FUNNEL} }} }}"
    );
    let query = format!("{{ funnel(filter: {{regencyCodes: [\"72.01\"]}}) {FUNNEL} }}");
    let mut client = WsClient::connect(&app.ws_url(), false).await;
    client.subscribe("f", &subscription, json!({})).await;
    let first = client.next_result().await;
    let now = app.data(&query, json!({})).await;
    assert_eq!(first["data"]["funnel"]["funnel"], now["funnel"]);
    assert!(first["data"]["funnel"]["cursor"].is_string());

    // A burst of changes: a stalled idea resumes, then is dropped.
    let stalled = app
        .data("{ ideas(filter: {regencyCodes: [\"72.01\"], statuses: [STALLED]}, first: 1) { nodes { id version } } }", json!({}))
        .await;
    let idea = &stalled["ideas"]["nodes"][0];
    let v = idea["version"].as_i64().expect("version");
    app.data("mutation($id: ID!, $v: Int!) { resumeIdea(input: {id: $id, version: $v, reason: \"dana ada\"}) { idea { id } } }", json!({"id": idea["id"], "v": v})).await;
    app.data("mutation($id: ID!, $v: Int!) { dropIdea(input: {id: $id, version: $v, reason: \"tidak jadi\"}) { idea { id } } }", json!({"id": idea["id"], "v": v + 1})).await;
    let after = app.data(&query, json!({})).await;
    // Snapshots may coalesce the burst; the last one equals the query.
    let mut snapshot = client.next_result().await;
    while snapshot["data"]["funnel"]["funnel"] != after["funnel"] {
        assert_ne!(
            snapshot["data"]["funnel"]["funnel"], first["data"]["funnel"]["funnel"],
            "a snapshot after a change differs"
        );
        snapshot = client.next_result().await;
    }
    assert_eq!(
        snapshot["data"]["funnel"]["funnel"]["dropped"],
        now["funnel"]["dropped"].as_u64().unwrap_or_default() + 1
    );
    client.expect_nothing_for(Duration::from_millis(400)).await;
}

#[tokio::test]
async fn the_idea_subscription_shows_the_idea_now_and_after_each_change() {
    let app = live_app().await;
    let (id, version) = an_idea(&app, "63.03").await;
    let mut client = WsClient::connect(&app.ws_url(), true).await;
    client
        .subscribe(
            "x",
            "subscription($id: ID!) { idea(id: $id) { id stage version history { decision } } }",
            json!({"id": id}),
        )
        .await;
    let now = client.next_result().await;
    assert_eq!(now["data"]["idea"]["stage"], "DIAGNOSE");
    app.data("mutation($id: ID!, $v: Int!) { advanceIdea(input: {id: $id, version: $v}) { idea { id } } }", json!({"id": id, "v": version}))
        .await;
    let moved = client.next_result().await;
    assert_eq!(moved["data"]["idea"]["stage"], "DESIGN");
    assert_eq!(moved["data"]["idea"]["version"], version + 1);
    assert_eq!(
        moved["data"]["idea"]["history"]
            .as_array()
            .and_then(|h| h.last())
            .cloned(),
        Some(json!({"decision": "ADVANCE"}))
    );
}

#[tokio::test]
async fn subscribers_resume_without_loss_after_a_server_restart() {
    let first = live_app().await;
    let after = cursor_now(&first, "63.03").await;
    let (id, version) = an_idea(&first, "63.03").await;
    let mut ws = WsClient::connect(&first.ws_url(), false).await;
    ws.subscribe(
        "r",
        EVENTS,
        json!({"f": {"regencyCodes": ["63.03"]}, "after": after}),
    )
    .await;
    let mut sse = SseClient::connect(
        &first.address,
        EVENTS,
        json!({"f": {"regencyCodes": ["63.03"]}, "after": after}),
        None,
    )
    .await;
    let version = rename(&first, &id, version, 3, "sebelum").await;
    let mut ws_cursor = Value::Null;
    let mut sse_id = None;
    let mut start = 0;
    for _ in 0..3 {
        let event = event_of(&ws.next_result().await).clone();
        start = event["sequence"].as_i64().unwrap_or_default();
        ws_cursor = event["cursor"].clone();
        sse_id = sse.next_event().await.and_then(|e| e.id);
    }

    first.stop();
    let (last_words, code) = ws.messages_then_close().await;
    assert_eq!(
        code,
        Some(1012),
        "the WebSocket closes with 'service restart'"
    );
    assert!(
        !last_words.iter().any(|m| m["type"] == "complete"),
        "a stopping server does not complete the subscription (a client would not resubscribe): {last_words:?}"
    );
    while let Some(event) = sse.next_event().await {
        assert_ne!(
            event.event, "complete",
            "a stopping server ends the SSE stream without `complete`, so the EventSource reconnects"
        );
    }

    // Writes continue while nobody listens (here through the restarted server's domain).
    let second = first.another_instance().await;
    let version = rename(&second, &id, version, 5, "sesudah").await;

    let mut ws = WsClient::connect(&second.ws_url(), false).await;
    ws.subscribe(
        "r",
        EVENTS,
        json!({"f": {"regencyCodes": ["63.03"]}, "after": ws_cursor}),
    )
    .await;
    let mut sse = SseClient::connect(
        &second.address,
        EVENTS,
        json!({"f": {"regencyCodes": ["63.03"]}}),
        sse_id.as_deref(),
    )
    .await;
    for n in 1..=5 {
        assert_eq!(event_of(&ws.next_result().await)["sequence"], start + n);
        let event = sse.next_event().await.expect("an SSE event");
        assert_eq!(
            event_of(&event.json())["sequence"],
            start + n,
            "SSE resumes from Last-Event-ID"
        );
    }
    rename(&second, &id, version, 1, "live").await;
    assert_eq!(event_of(&ws.next_result().await)["sequence"], start + 6);
}

#[tokio::test]
async fn a_slow_subscriber_is_caught_up_from_the_database_and_never_skips() {
    let app = TestApp::with_demo().await;
    let after = cursor_now(&app, "33.03").await;
    let filter = labinov::domain::event::EventFilter {
        regency_codes: Some(vec!["33.03".into()]),
        ..Default::default()
    };
    let slow = labinov::live::stream::pipeline_events(
        app.domain.clone(),
        labinov::access::Caller::system("dashboard"),
        app.hub.clone(),
        filter.clone(),
        Some(after.clone()),
    )
    .await
    .expect("a stream");
    let fast = labinov::live::stream::pipeline_events(
        app.domain.clone(),
        labinov::access::Caller::system("dashboard"),
        app.hub.clone(),
        filter,
        Some(after),
    )
    .await
    .expect("a stream");
    let fast_reader = tokio::spawn(async move {
        let mut fast = Box::pin(fast);
        let mut seen = Vec::new();
        while seen.len() < 5000 {
            let delivery = tokio::time::timeout(crate::clients::PATIENCE, fast.next())
                .await
                .expect("in time")
                .expect("open")
                .expect("ok");
            seen.push(delivery.event.seq);
        }
        seen
    });
    // 5000 events in one transaction: more than the live broadcast buffers, so the slow
    // subscriber, which reads nothing meanwhile, lags behind.
    let units = app
        .data(
            "{ units(filter: {regencyCodes: [\"33.03\"]}, first: 1) { nodes { name } } }",
            json!({}),
        )
        .await;
    let unit = units["units"]["nodes"][0]["name"]
        .as_str()
        .expect("a unit")
        .to_owned();
    let cohort = app
        .data(
            "{ cohorts(filter: {regencyCodes: [\"33.03\"]}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let mut csv = String::from("title,unit,problem,type,form,affairs_area,initiator\n");
    for n in 0..5000 {
        csv.push_str(&format!(
            "Ide {n},{unit},Masalah,DIGITAL,GOVERNANCE,Umum,ASN\n"
        ));
    }
    app.data(
        "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { imported } }",
        json!({"c": cohort["cohorts"]["nodes"][0]["id"], "csv": csv}),
    )
    .await;
    // The fast reader saw all 5000: the hub has sent them all, more than it buffers, so the
    // slow subscriber has lagged by now and must be caught up from the database.
    let fast_seen = fast_reader.await.expect("the fast reader");
    let mut slow = Box::pin(slow);
    let mut slow_seen = Vec::new();
    while slow_seen.len() < 5000 {
        let delivery = tokio::time::timeout(crate::clients::PATIENCE, slow.next())
            .await
            .expect("in time")
            .expect("open")
            .expect("ok");
        slow_seen.push(delivery.event.seq);
    }
    let first = fast_seen[0];
    let expected: Vec<i64> = (first..first + 5000).collect();
    assert_eq!(fast_seen, expected);
    assert_eq!(
        slow_seen, expected,
        "the slow subscriber got every event, in order"
    );
}

#[tokio::test]
async fn a_cursor_older_than_the_retained_events_is_cursor_expired() {
    let app = live_app().await;
    let old = cursor_now(&app, "63.03").await;
    let (id, version) = an_idea(&app, "63.03").await;
    rename(&app, &id, version, 2, "x").await;
    // Retention removes everything up to now.
    let deleted = app
        .domain
        .prune_events_before(
            &labinov::access::Caller::system("test"),
            chrono::Utc::now() + chrono::Duration::seconds(1),
        )
        .await
        .map_err(|e| e.message().to_owned())
        .expect("prune");
    assert!(deleted > 0);
    let mut client = WsClient::connect(&app.ws_url(), false).await;
    client
        .subscribe(
            "e",
            EVENTS,
            json!({"f": {"regencyCodes": ["63.03"]}, "after": old}),
        )
        .await;
    let result = client.next_result().await;
    let errors = &result["errors"];
    assert_eq!(
        errors[0]["extensions"]["code"], "CURSOR_EXPIRED",
        "{result}"
    );
    client
        .subscribe("m", EVENTS, json!({"after": "nonsense"}))
        .await;
    let malformed = client.next_result().await;
    assert_eq!(
        malformed["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{malformed}"
    );
}

/// A redis-server of the test's own on a free port, killed when dropped.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start_on(port: u16) -> OwnRedis {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (it is installed where CI runs the Redis tests)");
        let mut redis = OwnRedis {
            port,
            child: Some(child),
        };
        redis.wait_ready();
        redis
    }

    fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Self::start_on(port)
    }

    fn wait_ready(&mut self) {
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server did not start on port {}", self.port);
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
#[ignore = "needs Redis: LABINOV_TEST_REDIS_URL"]
async fn two_instances_sharing_one_redis_deliver_each_others_writes() {
    let redis = redis_url();
    let (mut config, dir) = fresh_config();
    config.redis_url = Some(redis);
    config.redis_channel_prefix = unique_prefix();
    // No database poll within the test: the reader's listener learns of the writer's events
    // from Redis alone (it polls every 250 ms only while Redis is unreachable, which the bus
    // mode below rules out).
    config.live_poll_ms = 3_600_000;
    let writer = TestApp::start(config, true, Arc::new(dir)).await;
    let reader = writer.another_instance().await;
    for app in [&writer, &reader] {
        assert_eq!(
            bus_mode_within(app, "redis").await,
            "redis",
            "both instances hold the Redis channel"
        );
    }
    let after = cursor_now(&writer, "63.03").await;
    let mut client = WsClient::connect(&reader.ws_url(), false).await;
    client
        .subscribe(
            "x",
            EVENTS,
            json!({"f": {"regencyCodes": ["63.03"]}, "after": after}),
        )
        .await;
    // The first event may reach the subscriber from its catch-up read of the database (when
    // the write beats the subscription's start); once it has arrived, that read is over and
    // the subscription only hears what the reader's listener emits.
    let (id, version) = an_idea(&writer, "63.03").await;
    let version = rename(&writer, &id, version, 1, "via redis").await;
    let start = event_of(&client.next_result().await)["sequence"]
        .as_i64()
        .expect("a sequence");
    rename(&writer, &id, version, 2, "over redis").await;
    for n in 1..=2 {
        assert_eq!(event_of(&client.next_result().await)["sequence"], start + n);
    }
    for app in [&writer, &reader] {
        assert_eq!(
            bus_mode_within(app, "redis").await,
            "redis",
            "Redis stayed up throughout, so no fallback poll delivered the events"
        );
    }
}

#[tokio::test]
#[ignore = "needs Redis: LABINOV_TEST_REDIS_URL and redis-server on the PATH"]
async fn no_event_is_lost_or_repeated_when_redis_dies_and_returns() {
    redis_url();
    let mut redis = OwnRedis::start();
    let (mut config, dir) = fresh_config();
    config.redis_url = Some(redis.url());
    config.redis_channel_prefix = unique_prefix();
    config.live_poll_ms = 3_600_000;
    let writer = TestApp::start(config, true, Arc::new(dir)).await;
    let reader = writer.another_instance().await;
    let after = cursor_now(&writer, "72.01").await;
    let mut client = WsClient::connect(&reader.ws_url(), false).await;
    client
        .subscribe(
            "k",
            EVENTS,
            json!({"f": {"regencyCodes": ["72.01"]}, "after": after}),
        )
        .await;
    let (id, mut version) = first_idea(&writer, "72.01").await;

    version = rename(&writer, &id, version, 10, "sebelum").await;
    let first = event_of(&client.next_result().await)["sequence"]
        .as_i64()
        .expect("a sequence");
    let mut received = vec![first];
    for _ in 1..10 {
        received.push(
            event_of(&client.next_result().await)["sequence"]
                .as_i64()
                .unwrap_or_default(),
        );
    }

    assert_eq!(bus_mode_within(&writer, "redis").await, "redis");
    redis.kill();
    // /readyz reports the degraded bus, and the server stays ready.
    assert_eq!(
        bus_mode_within(&writer, "database fallback").await,
        "database fallback"
    );
    // Writes go on while Redis is down.
    version = rename(&writer, &id, version, 10, "padam").await;
    received.extend(sequences(&mut client, 10).await);

    let _redis = OwnRedis::start_on(redis.port);
    assert_eq!(
        bus_mode_within(&writer, "redis").await,
        "redis",
        "the bus recovers"
    );
    rename(&writer, &id, version, 10, "pulih").await;
    received.extend(sequences(&mut client, 10).await);
    assert_eq!(received, (first..first + 30).collect::<Vec<_>>());
    client.expect_nothing_for(Duration::from_millis(500)).await;
}

/// The first idea of a regency: its id and version.
async fn first_idea(app: &TestApp, code: &str) -> (Value, i64) {
    let data = app
        .data(
            "query($c: String!) { ideas(filter: {regencyCodes: [$c]}, first: 1) { nodes { id version } } }",
            json!({"c": code}),
        )
        .await;
    let idea = &data["ideas"]["nodes"][0];
    (
        idea["id"].clone(),
        idea["version"].as_i64().expect("version"),
    )
}

/// The sequences of the next `n` events a subscriber receives.
async fn sequences(client: &mut WsClient, n: usize) -> Vec<i64> {
    let mut received = Vec::with_capacity(n);
    for _ in 0..n {
        let result = client.next_result().await;
        received.push(event_of(&result)["sequence"].as_i64().unwrap_or_default());
    }
    received
}

/// Polls `/readyz` until its bus mode is `wanted` (for up to 15 s); returns the last mode seen.
/// The server must stay ready throughout.
async fn bus_mode_within(app: &TestApp, wanted: &str) -> String {
    let mut mode = String::new();
    for _ in 0..150 {
        let response = reqwest::get(format!("{}/readyz", app.address))
            .await
            .expect("/readyz answers");
        assert_eq!(response.status().as_u16(), 200, "the server stays ready");
        let body: Value = response.json().await.expect("a JSON body");
        mode = body["bus"]["mode"].as_str().unwrap_or_default().to_owned();
        if mode == wanted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mode
}

#[tokio::test]
async fn a_jump_in_sequence_is_filled_from_the_database_before_delivery() {
    // The listener never polls here, so the events of a writer whose publishing is lost (a
    // second process writing to the same database) can only reach subscribers through the
    // gap fill triggered by the next event that does arrive.
    let app = TestApp::with_demo().await;
    let silent = labinov::db::connect_and_migrate(&app.config)
        .await
        .expect("a second process");
    let after = cursor_now(&app, "63.03").await;
    let mut client = WsClient::connect(&app.ws_url(), false).await;
    client
        .subscribe(
            "g",
            EVENTS,
            json!({"f": {"regencyCodes": ["63.03"]}, "after": after}),
        )
        .await;
    let (id, version) = an_idea(&app, "63.03").await;
    let version = rename(&app, &id, version, 1, "first").await;
    let start = event_of(&client.next_result().await)["sequence"]
        .as_i64()
        .expect("a sequence");

    let raw_id = labinov::graphql::ids::decode(
        labinov::graphql::ids::Kind::Idea,
        &async_graphql::ID(id.as_str().unwrap_or_default().to_owned()),
    )
    .map_err(|e| e.message().to_owned())
    .expect("an idea id");
    let actor = labinov::access::Caller::system("another process");
    let mut v = version as i32;
    for n in 0..3 {
        let changes = labinov::domain::idea::moves::IdeaChanges {
            title: Some(format!("unpublished {n}")),
            ..Default::default()
        };
        v = silent
            .update_idea(&actor, raw_id, v, changes)
            .await
            .map_err(|e| e.message().to_owned())
            .expect("a write")
            .value
            .version;
    }
    client.expect_nothing_for(Duration::from_millis(300)).await;
    rename(&app, &id, i64::from(v), 1, "published").await;
    for n in 1..=4 {
        let result = client.next_result().await;
        let event = event_of(&result);
        assert_eq!(event["sequence"], start + n);
        assert_eq!(
            event["actor"],
            if n < 4 { "another process" } else { "tester" }
        );
    }
}

#[tokio::test]
async fn websocket_connections_get_keep_alive_pings_in_their_protocol() {
    let (mut config, dir) = fresh_config();
    config.keepalive_secs = 1;
    let app = TestApp::start(config, false, Arc::new(dir)).await;
    let mut modern = WsClient::connect(&app.ws_url(), false).await;
    assert_eq!(modern.next_raw_type().await.as_deref(), Some("ping"));
    let mut legacy = WsClient::connect(&app.ws_url(), true).await;
    assert_eq!(legacy.next_raw_type().await.as_deref(), Some("ka"));
}

#[tokio::test]
async fn reading_history_then_subscribing_with_its_resume_cursor_misses_no_regency() {
    let app = live_app().await;
    // The last page of Banjar's and Purbalingga's history ends in one of them; the other
    // regency's position must be carried by the resume cursor too.
    let (banjar, banjar_version) = an_idea(&app, "63.03").await;
    rename(&app, &banjar, banjar_version, 1, "newest in Banjar").await;
    let page = app
        .data(
            r#"{ pipelineEvents(filter: {regencyCodes: ["63.03", "33.03"]}, last: 3) {
                 resumeCursor totalCount nodes { sequence regency { code } } } }"#,
            json!({}),
        )
        .await;
    let resume = page["pipelineEvents"]["resumeCursor"]
        .as_str()
        .expect("a resume cursor")
        .to_owned();
    assert_eq!(
        page["pipelineEvents"]["nodes"][2]["regency"]["code"], "63.03",
        "the page ends in Banjar"
    );
    // Between the read and the subscription, both regencies change.
    let (purbalingga, purbalingga_version) = an_idea(&app, "33.03").await;
    rename(
        &app,
        &purbalingga,
        purbalingga_version,
        2,
        "between read and subscribe",
    )
    .await;
    let (banjar, banjar_version) = an_idea(&app, "63.03").await;
    rename(&app, &banjar, banjar_version, 1, "also between").await;
    let mut client = WsClient::connect(&app.ws_url(), false).await;
    client
        .subscribe(
            "h",
            EVENTS,
            json!({"f": {"regencyCodes": ["63.03", "33.03"]}, "after": resume}),
        )
        .await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let event = event_of(&client.next_result().await).clone();
        got.push((
            event["regency"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            event["kind"].as_str().unwrap_or_default().to_owned(),
        ));
    }
    let from_purbalingga = got.iter().filter(|(code, _)| code == "33.03").count();
    assert_eq!(from_purbalingga, 2, "{got:?}");
    assert!(
        got.iter().all(|(_, kind)| kind == "IDEA_UPDATED"),
        "{got:?}"
    );
    client.expect_nothing_for(Duration::from_millis(1500)).await;
}

#[tokio::test]
async fn an_event_kind_filter_with_a_typo_is_a_validation_error() {
    let app = TestApp::with_demo().await;
    let response = app
        .gql(
            r"{ pipelineEvents(filter: {kinds: [IDEA_ADVANCD]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    let kinds = app
        .data(
            r"{ pipelineEvents(filter: {kinds: [IDEA_ADVANCED]}, first: 3) { nodes { kind stage } } }",
            json!({}),
        )
        .await;
    for event in kinds["pipelineEvents"]["nodes"].as_array().expect("events") {
        assert_eq!(event["kind"], "IDEA_ADVANCED");
        assert!(event["stage"].is_string());
    }
}

/// An operation refused before it runs (a document that does not parse or validate) is
/// answered with the protocol's own `error` message, which the graphql-ws library rejects
/// the subscription with, and nothing more under its id; the connection stays open and the
/// id may be used again. An operation that ran and failed stays a result and a `complete`.
#[tokio::test]
async fn an_operation_refused_before_it_runs_is_the_protocols_error_message() {
    let app = live_app().await;
    for legacy in [false, true] {
        let mut client = WsClient::connect(&app.ws_url(), legacy).await;
        for refused in [
            "subscription { pipelineEvent { sequence } }",
            "subscription { pipelineEvents(",
        ] {
            client.subscribe("1", refused, json!({})).await;
            let message = client.next_raw().await.expect("an answer");
            assert_eq!(message["type"], "error", "{message}");
            assert_eq!(message["id"], "1", "{message}");
            // graphql-transport-ws: a list of errors; subscriptions-transport-ws: one error.
            let error = if legacy {
                &message["payload"]
            } else {
                assert_eq!(message["payload"].as_array().map(Vec::len), Some(1));
                &message["payload"][0]
            };
            assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{message}");
            assert!(
                error["message"]
                    .as_str()
                    .is_some_and(|m| m.ends_with(['.', '?'])),
                "{message}"
            );
        }
        // No `complete` follows the refusals, and "1" is free for an operation that runs.
        client
            .subscribe("1", "query { stages { stage } }", json!({}))
            .await;
        let answer = client.next_raw().await.expect("an answer");
        assert_eq!(
            answer["type"],
            if legacy { "data" } else { "next" },
            "{answer}"
        );
        assert!(answer["payload"]["data"]["stages"].is_array(), "{answer}");
        assert_eq!(client.next_raw_type().await.as_deref(), Some("complete"));
    }
}

/// A client that ends the connection with a close frame gets one back (the closing handshake),
/// not a dropped connection its library reports as 1006, after a refusal too.
#[tokio::test]
async fn a_client_that_closes_gets_a_close_frame_back() {
    let app = live_app().await;
    for legacy in [false, true] {
        let mut client = WsClient::connect(&app.ws_url(), legacy).await;
        client
            .subscribe(
                "1",
                "subscription { pipelineEvent { sequence } }",
                json!({}),
            )
            .await;
        assert_eq!(client.next_raw_type().await.as_deref(), Some("error"));
        assert_eq!(client.close_from_client(1000).await, Some(1000));
    }
    let mut idle = WsClient::connect(&app.ws_url(), false).await;
    assert_eq!(idle.close_from_client(4000).await, Some(4000));
}

#[tokio::test]
async fn each_operation_on_a_websocket_reads_fresh_data() {
    let app = TestApp::with_demo().await;
    let (id, version) = an_idea(&app, "63.03").await;
    let mut client = WsClient::connect(&app.ws_url(), false).await;
    let query = "query($id: ID!) { node(id: $id) { ... on Idea { title unit { name } } } }";
    client.subscribe("1", query, json!({"id": id})).await;
    let before = client.next_result().await;
    rename(&app, &id, version, 1, "Judul baru").await;
    client.subscribe("2", query, json!({"id": id})).await;
    let after = client.next_result().await;
    assert_ne!(
        before["data"]["node"]["title"],
        after["data"]["node"]["title"]
    );
    assert_eq!(after["data"]["node"]["title"], "Judul baru 0");
}

#[tokio::test]
async fn identical_funnel_subscriptions_share_one_computation() {
    let app = live_app().await;
    let banggai =
        "subscription { funnel(filter: {regencyCodes: [\"72.01\"]}) { funnel { total dropped } } }";
    let purbalingga =
        "subscription { funnel(filter: {regencyCodes: [\"33.03\"]}) { funnel { total } } }";
    let mut screens = Vec::new();
    let mut dropped_before = None;
    for n in 0..3 {
        let mut client = WsClient::connect(&app.ws_url(), false).await;
        client.subscribe(&format!("s{n}"), banggai, json!({})).await;
        let first = client.next_result().await;
        assert_eq!(first["data"]["funnel"]["funnel"]["total"], 190, "{first}");
        let dropped = first["data"]["funnel"]["funnel"]["dropped"]
            .as_u64()
            .expect("a dropped count");
        assert_eq!(*dropped_before.get_or_insert(dropped), dropped);
        screens.push(client);
    }
    let dropped_before = dropped_before.expect("three screens");
    let mut other = WsClient::connect(&app.ws_url(), false).await;
    other.subscribe("p", purbalingga, json!({})).await;
    assert_eq!(
        other.next_result().await["data"]["funnel"]["funnel"]["total"],
        174
    );
    assert_eq!(
        app.hub.funnel_computations(),
        2,
        "three identical subscriptions and one other: two computations"
    );

    // One change reaches every identical subscription, and not the other.
    let idea = app
        .data("{ ideas(filter: {regencyCodes: [\"72.01\"], statuses: [ACTIVE]}, first: 1) { nodes { id version } } }", json!({}))
        .await;
    let idea = &idea["ideas"]["nodes"][0];
    app.data(
        "mutation($id: ID!, $v: Int!) { dropIdea(input: {id: $id, version: $v, reason: \"tidak jadi\"}) { idea { id } } }",
        json!({"id": idea["id"], "v": idea["version"]}),
    )
    .await;
    // The drop leaves the total as it was and moves the idea into `dropped`: the update must
    // show the one more dropped idea.
    for client in &mut screens {
        let update = client.next_result().await;
        assert_eq!(
            update["data"]["funnel"]["funnel"]["dropped"],
            dropped_before + 1,
            "{update}"
        );
        assert_eq!(update["data"]["funnel"]["funnel"]["total"], 190, "{update}");
    }
    other.expect_nothing_for(Duration::from_millis(400)).await;

    // The computation stops with its last subscriber.
    drop(screens);
    wait_until(
        "the shared computation to stop with its last subscriber",
        || async { app.hub.funnel_computations() == 1 },
    )
    .await;
}

/// `/readyz`'s status code and body.
async fn readyz(app: &TestApp) -> (u16, Value) {
    let response = reqwest::get(format!("{}/readyz", app.address))
        .await
        .expect("/readyz answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[tokio::test]
async fn a_stopping_server_drains_before_it_closes_sockets_with_1012() {
    let (mut config, dir) = fresh_config();
    config.shutdown_delay_secs = 4;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let (id, version) = an_idea(&app, "63.03").await;
    // From a cursor: the event arrives however long the subscription takes to start.
    let after = cursor_now(&app, "63.03").await;
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    ws.subscribe(
        "r",
        EVENTS,
        json!({"f": {"regencyCodes": ["63.03"]}, "after": after}),
    )
    .await;

    app.stop();
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "a draining server is not ready: {body}");
    assert!(body["draining"]["problem"].is_string(), "{body}");
    // Still serving while the load balancer moves traffic away: writes and their events too.
    rename(&app, &id, version, 1, "while draining").await;
    assert_eq!(event_of(&ws.next_result().await)["kind"], "IDEA_UPDATED");

    let (last_words, code) = ws.messages_then_close().await;
    assert_eq!(
        code,
        Some(1012),
        "then the WebSocket closes with 'service restart'"
    );
    assert!(
        !last_words.iter().any(|m| m["type"] == "complete"),
        "{last_words:?}"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: LABINOV_TEST_DATABASE_URL"]
async fn an_exhausted_pool_answers_service_unavailable_and_recovers_without_a_restart() {
    let (mut config, dir) = fresh_config();
    assert!(
        config.database.database_schema.is_some(),
        "set LABINOV_TEST_DATABASE_URL to run the PostgreSQL tests"
    );
    config.database.database_max_connections = 2;
    config.database.database_acquire_timeout_secs = 1;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let (id, version) = an_idea(&app, "63.03").await;
    let events_before = app
        .data("{ pipelineEvents(filter: {regencyCodes: [\"63.03\"]}, last: 1) { nodes { sequence } } }", json!({}))
        .await;

    // A transaction outside the server locks the event table: the server's writes wait on it,
    // each holding one of the pool's two connections.
    let outside = app.db().await;
    let lock = sea_orm::TransactionTrait::begin(&outside)
        .await
        .expect("a transaction");
    sea_orm::ConnectionTrait::execute_unprepared(
        &lock,
        "LOCK TABLE pipeline_event IN EXCLUSIVE MODE",
    )
    .await
    .expect("the lock");
    let locker = sea_orm::ConnectionTrait::query_one_raw(
        &lock,
        sea_orm::Statement::from_string(
            sea_orm::DatabaseBackend::Postgres,
            "SELECT pg_backend_pid() AS pid",
        ),
    )
    .await
    .expect("the lock's session")
    .and_then(|row| row.try_get::<i32>("", "pid").ok())
    .expect("a backend pid");
    let blocked: Vec<_> = (0..2)
        .map(|n| {
            let (address, id) = (app.address.clone(), id.clone());
            tokio::spawn(async move {
                let body: Value = reqwest::Client::new()
                    .post(format!("{address}/graphql"))
                    .bearer_auth(crate::helpers::admin_token())
                    .json(&json!({
                        "query": "mutation($id: ID!, $v: Int!, $t: String!) { updateIdea(input: {id: $id, version: $v, title: $t}) { idea { version } } }",
                        "variables": {"id": id, "v": version, "t": format!("blocked {n}")},
                    }))
                    .send()
                    .await
                    .expect("an answer")
                    .json()
                    .await
                    .expect("JSON");
                body
            })
        })
        .collect();
    // Both writes wait behind the lock (one on it, the other maybe on the first's row), each
    // holding one of the pool's connections.
    let watcher = app.db().await;
    let behind_the_lock = format!(
        "WITH RECURSIVE waiting(pid) AS (
            SELECT pid FROM pg_stat_activity WHERE {locker} = ANY(pg_blocking_pids(pid))
            UNION
            SELECT a.pid FROM pg_stat_activity a JOIN waiting w ON w.pid = ANY(pg_blocking_pids(a.pid))
        ) SELECT count(*) AS n FROM waiting"
    );
    wait_until("both writes to wait behind the lock", || async {
        let waiting = sea_orm::ConnectionTrait::query_one_raw(
            &watcher,
            sea_orm::Statement::from_string(
                sea_orm::DatabaseBackend::Postgres,
                behind_the_lock.clone(),
            ),
        )
        .await
        .expect("pg_stat_activity reads")
        .and_then(|row| row.try_get::<i64>("", "n").ok())
        .unwrap_or_default();
        waiting == 2
    })
    .await;

    // No connection is left: a read is refused with a code (after the acquire time-out), not
    // left waiting; the patience window only guards against a hang.
    let refused = tokio::time::timeout(
        crate::clients::PATIENCE,
        app.gql("{ ideas(first: 1) { totalCount } }", json!({})),
    )
    .await
    .expect("refused, not hung");
    assert_eq!(error_code(&refused), "SERVICE_UNAVAILABLE", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("try again") && !message.contains("pool") && !message.contains("SQL"),
        "a sentence for a person: {message}"
    );
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["database"]["ok"], false, "{body}");

    // The lock goes: the waiting writes finish whole (one wins, the other meets its version
    // conflict), and the server serves again without a restart.
    lock.rollback().await.expect("the lock released");
    let mut codes = Vec::new();
    for write in blocked {
        let body = write.await.expect("the write finished");
        codes.push(
            body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("ok")
                .to_owned(),
        );
    }
    codes.sort();
    assert_eq!(
        codes,
        ["CONFLICT", "ok"],
        "one write won, the other conflicted"
    );
    let (status, body) = readyz(&app).await;
    assert_eq!(status, 200, "{body}");
    let events_after = app
        .data("{ pipelineEvents(filter: {regencyCodes: [\"63.03\"]}, last: 1) { nodes { sequence } } }", json!({}))
        .await;
    assert_eq!(
        events_after["pipelineEvents"]["nodes"][0]["sequence"]
            .as_i64()
            .unwrap_or_default(),
        events_before["pipelineEvents"]["nodes"][0]["sequence"]
            .as_i64()
            .unwrap_or_default()
            + 1,
        "exactly one event: the winning write's"
    );
}

#[tokio::test]
async fn identical_subscriptions_share_each_answer_and_others_get_their_own() {
    let app = live_app().await;
    let (id, version) = an_idea(&app, "63.03").await;
    // From cursors: every subscriber gets the event however long its subscription takes to
    // start.
    let both = app
        .data(
            "{ pipelineEvents(filter: {regencyCodes: [\"63.03\", \"33.03\"]}, last: 1) { resumeCursor } }",
            json!({}),
        )
        .await["pipelineEvents"]["resumeCursor"]
        .clone();
    let one = json!({"f": {"regencyCodes": ["63.03"]}, "after": cursor_now(&app, "63.03").await});
    let two = json!({"f": {"regencyCodes": ["63.03", "33.03"]}, "after": both});
    let mut same_a = WsClient::connect(&app.ws_url(), false).await;
    let mut same_b = WsClient::connect(&app.ws_url(), false).await;
    let mut other_selection = WsClient::connect(&app.ws_url(), false).await;
    let mut other_scope = WsClient::connect(&app.ws_url(), false).await;
    same_a.subscribe("s", EVENTS, one.clone()).await;
    same_b.subscribe("s", EVENTS, one.clone()).await;
    other_selection
        .subscribe(
            "s",
            "subscription($f: PipelineEventFilter, $after: String) { pipelineEvents(filter: $f, after: $after) { sequence kind } }",
            one,
        )
        .await;
    other_scope.subscribe("s", EVENTS, two).await;
    assert!(app.shared_results.is_empty());

    rename(&app, &id, version, 1, "shared").await;
    let a = event_of(&same_a.next_result().await).clone();
    let b = event_of(&same_b.next_result().await).clone();
    let selection = event_of(&other_selection.next_result().await).clone();
    let scope = event_of(&other_scope.next_result().await).clone();
    assert_eq!(a, b, "identical subscriptions get identical answers");
    assert_eq!(a["idea"]["title"], "shared 0");
    assert_eq!(
        selection.as_object().map(serde_json::Map::len),
        Some(2),
        "another selection gets its own fields only: {selection}"
    );
    assert_eq!(selection["sequence"], a["sequence"]);
    assert_ne!(
        scope["cursor"], a["cursor"],
        "a subscription following two regencies gets a cursor covering both"
    );
    assert_eq!(scope["sequence"], a["sequence"]);
    assert_eq!(
        app.shared_results.len(),
        3,
        "one answer for the two identical subscriptions, one each for the others"
    );
}

#[tokio::test]
#[ignore = "needs PostgreSQL: LABINOV_TEST_DATABASE_URL"]
async fn an_event_the_database_cannot_serve_closes_the_socket_and_is_resent_on_resume() {
    let (mut config, dir) = fresh_config();
    assert!(
        config.database.database_schema.is_some(),
        "set LABINOV_TEST_DATABASE_URL to run the PostgreSQL tests"
    );
    config.database.database_statement_timeout_secs = 1;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let (id, version) = an_idea(&app, "63.03").await;
    let after = cursor_now(&app, "63.03").await;
    let query = "subscription($f: PipelineEventFilter, $after: String) { pipelineEvents(filter: $f, after: $after) { sequence cursor idea { title unit { name } } } }";
    let filter = json!({"f": {"regencyCodes": ["63.03"]}, "after": after});
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    ws.subscribe("s", query, filter).await;
    // The subscription runs once it has delivered an event: a first write, read whole.
    let version = rename(&app, &id, version, 1, "readable").await;
    let readable = event_of(&ws.next_result().await).clone();
    assert_eq!(readable["idea"]["title"], "readable 0");
    assert!(readable["idea"]["unit"]["name"].is_string(), "{readable}");

    // The unit table is locked outside the server: the write goes through (it does not read
    // units), but the event's `idea { unit }` cannot be read before the statement time-out.
    let outside = app.db().await;
    let lock = sea_orm::TransactionTrait::begin(&outside)
        .await
        .expect("a transaction");
    sea_orm::ConnectionTrait::execute_unprepared(&lock, "LOCK TABLE unit IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("the lock");
    rename(&app, &id, version, 1, "unreadable for a moment").await;
    let (said, code) = ws.messages_then_close().await;
    assert_eq!(
        code,
        Some(1013),
        "the socket closes with 'try again later' rather than passing on a broken event: {said:?}"
    );
    assert!(
        !said.iter().any(|m| m["type"] == "next"),
        "no result went out for the event: {said:?}"
    );
    lock.rollback().await.expect("the lock released");

    // The client resumes with the last cursor it had (that of the event it read) and gets the
    // event whole.
    let mut ws = WsClient::connect(&app.ws_url(), false).await;
    ws.subscribe(
        "s",
        query,
        json!({"f": {"regencyCodes": ["63.03"]}, "after": readable["cursor"]}),
    )
    .await;
    let event = event_of(&ws.next_result().await).clone();
    assert_eq!(event["idea"]["title"], "unreadable for a moment 0");
    assert!(event["idea"]["unit"]["name"].is_string(), "{event}");
}

/// Reads a subscriber's answers until the event with this sequence. (An event's idea is
/// resolved when it is delivered, so a late warm-up event may already carry a newer title:
/// the sequence, not the title, names the event.)
async fn event_numbered(client: &mut WsClient, sequence: &Value) -> Value {
    loop {
        let result = client.next_result().await;
        if &event_of(&result)["sequence"] == sequence {
            return result;
        }
    }
}

#[tokio::test]
async fn identical_subscriptions_that_start_now_run_once_and_each_gets_its_own_messages() {
    let app = live_app().await;
    let (id, mut version) = an_idea(&app, "63.03").await;
    let now = json!({"f": {"regencyCodes": ["63.03"]}});
    let mut members = Vec::new();
    for legacy in [false, false, true] {
        let mut client = WsClient::connect(&app.ws_url(), legacy).await;
        client.subscribe("same", EVENTS, now.clone()).await;
        members.push(client);
    }
    // A caller of another class (a regency's staff), and a subscriber that resumes from a
    // cursor: both run on their own.
    let mut staff = WsClient::open(&app.ws_url(), false, None).await.unwrap();
    staff
        .init_with(json!({"Authorization": format!("Bearer {}", token(Role::Viewer, Some("63.03"), None))}))
        .await;
    staff.subscribe("same", EVENTS, now.clone()).await;
    let mut resuming = WsClient::connect(&app.ws_url(), false).await;
    let from = json!({"f": {"regencyCodes": ["63.03"]}, "after": cursor_now(&app, "63.03").await});
    resuming.subscribe("r", EVENTS, from).await;
    // Subscriptions that start now see events from when they are running: write until every
    // one of them (the group's members and the staff's own) has seen one, then once more for
    // everyone.
    let mut waiting: Vec<&mut WsClient> = members.iter_mut().chain([&mut staff]).collect();
    for attempt in 0.. {
        assert!(attempt < 20, "a subscription never delivered");
        version = rename(&app, &id, version, 1, &format!("warm-up {attempt}")).await;
        let mut still = Vec::new();
        for client in waiting {
            let seen = tokio::time::timeout(Duration::from_secs(1), client.next_result()).await;
            if seen.is_err() {
                still.push(client);
            }
        }
        waiting = still;
        if waiting.is_empty() {
            break;
        }
    }
    assert_eq!(
        app.fanout.groups(),
        2,
        "one group for the three identical subscriptions, one for the staff's"
    );
    rename(&app, &id, version, 1, "together").await;
    let together = newest_event(&app, "63.03").await["sequence"].clone();
    let mut answers = Vec::new();
    for member in &mut members {
        answers.push(event_of(&event_numbered(member, &together).await).clone());
    }
    assert_eq!(answers[0]["idea"]["title"], "together 0");
    assert_eq!(
        answers[0], answers[1],
        "the same answer for the same subscription"
    );
    assert_eq!(answers[0], answers[2], "in either protocol");
    let theirs = event_of(&event_numbered(&mut staff, &together).await).clone();
    assert_eq!(theirs["idea"]["title"], "together 0");
    let resumed = event_of(&event_numbered(&mut resuming, &together).await).clone();
    assert_eq!(resumed["idea"]["title"], "together 0");

    // A member that completes gets nothing more; the others go on; the last one to leave
    // ends the group.
    members[0]
        .send_text(json!({"type": "complete", "id": "same"}).to_string())
        .await;
    members[2]
        .send_text(json!({"type": "stop", "id": "same"}).to_string())
        .await;
    assert_eq!(
        members[2].next_raw_type().await.as_deref(),
        Some("complete"),
        "the legacy protocol confirms a stop"
    );
    rename(&app, &id, version + 1, 1, "after").await;
    let after = newest_event(&app, "63.03").await["sequence"].clone();
    event_numbered(&mut members[1], &after).await;
    members[0]
        .expect_nothing_for(Duration::from_millis(300))
        .await;
    members[1]
        .send_text(json!({"type": "complete", "id": "same"}).to_string())
        .await;
    wait_until("only the staff's group to be left", || async {
        app.fanout.groups() == 1
    })
    .await;
}

#[tokio::test]
async fn a_grouped_subscription_that_is_refused_tells_every_subscriber() {
    let app = live_app().await;
    let bad = "subscription { pipelineEvents(filter: {regencyCodes: [\"no-such\"]}) { sequence } }";
    let mut first = WsClient::connect(&app.ws_url(), false).await;
    let mut second = WsClient::connect(&app.ws_url(), true).await;
    first.subscribe("a", bad, json!({})).await;
    second.subscribe("b", bad, json!({})).await;
    for client in [&mut first, &mut second] {
        let result = client.next_result().await;
        assert!(result["errors"][0]["message"].is_string(), "{result}");
        assert!(
            result["errors"][0]["extensions"]["code"].is_string(),
            "{result}"
        );
        assert_eq!(client.next_raw_type().await.as_deref(), Some("complete"));
    }
}

#[tokio::test]
async fn expired_callers_and_bulky_variables_are_not_grouped() {
    let app = live_app().await;
    let caller = |expires_at| {
        labinov::access::Caller::user(labinov::access::User {
            subject: "siti".to_owned(),
            role: Role::Admin,
            regency: None,
            mentor: None,
            expires_at,
        })
    };
    let payload = json!({"query": "subscription { pipelineEvents { sequence } }"});
    let now = chrono::Utc::now();
    let outlet = labinov::http::outlet::Outlet::new(futures_util::SinkExt::sink_map_err(
        futures_util::sink::drain(),
        axum::Error::new,
    ));
    let (expired, valid) = (
        caller(now - chrono::Duration::seconds(2)),
        caller(now + chrono::Duration::hours(1)),
    );
    let joining = |caller| labinov::http::fanout::Joining {
        id: "1",
        protocol: async_graphql::http::WebSocketProtocols::GraphQLWS,
        caller,
        outlet: &outlet,
    };
    // A token past its expiry (still within the verifier's leeway) runs on its own and is
    // told so there.
    assert!(app.fanout.join(&payload, &joining(&expired)).is_none());
    let member = app
        .fanout
        .join(&payload, &joining(&valid))
        .expect("a valid caller joins a group");
    assert_eq!(app.fanout.groups(), 1);
    let bulky = json!({
        "query": "subscription($x: String) { pipelineEvents { sequence } }",
        "variables": {"x": "x".repeat(10_000)},
    });
    assert!(
        app.fanout.join(&bulky, &joining(&valid)).is_none(),
        "a group keeps its key while it runs: bulky variables run on their own"
    );
    drop(member);
    assert_eq!(
        app.fanout.groups(),
        0,
        "the last member to leave ends the group"
    );
}

/// A member of a subscription group that stops reading while 300 large answers come: each
/// answer carries the idea's long description 29 times (about 145 KB), so a few hundred fill
/// the sockets' buffers and the member's backlog behind them.
async fn a_member_that_stops_reading(app: &TestApp) -> WsClient {
    let idea = app
        .data("{ ideas(first: 1) { nodes { id version } } }", json!({}))
        .await["ideas"]["nodes"][0]
        .clone();
    let fields: String = (1..30).map(|n| format!(" d{n}: description")).collect();
    let subscription =
        format!("subscription {{ pipelineEvents {{ sequence idea {{ id{fields} }} }} }}");
    let mut member = WsClient::connect(&app.ws_url(), false).await;
    member.subscribe("1", &subscription, json!({})).await;
    let update = "mutation($i: ID!, $v: Int!, $d: String!) { updateIdea(input: {id: $i, version: $v, description: $d}) { idea { version } } }";
    let mut version = idea["version"].clone();
    let mut write = async |n: usize| {
        let description = format!("{n} ")
            .repeat(2500)
            .chars()
            .take(5000)
            .collect::<String>();
        let written = app
            .data(
                update,
                json!({"i": idea["id"], "v": version, "d": description}),
            )
            .await;
        version = written["updateIdea"]["idea"]["version"].clone();
    };
    // The subscription runs once it delivers: write until it does.
    for n in 0.. {
        assert!(n < 20, "the subscription never delivered");
        write(n).await;
        if tokio::time::timeout(Duration::from_secs(1), member.next_result())
            .await
            .is_ok()
        {
            break;
        }
    }
    // Then it stops reading while 300 answers come.
    for n in 100..400 {
        write(n).await;
    }
    member
}

/// A member that falls more than 128 answers behind its group is closed with 1013 (try again
/// later) so it reconnects and resumes with its cursor, instead of holding the group's memory.
#[tokio::test]
async fn a_group_member_too_far_behind_is_closed_with_1013() {
    let app = TestApp::with_demo().await;
    let mut member = a_member_that_stops_reading(&app).await;
    let (messages, code) = member.messages_then_close().await;
    assert_eq!(
        code,
        Some(1013),
        "closed for falling behind after {} messages",
        messages.len()
    );
    assert!(
        messages.len() < 300,
        "it did not get every answer ({})",
        messages.len()
    );
}

/// A member that fell behind and never reads again does not keep its connection: the close
/// frame waits a few seconds at most, then the connection ends and its address's place is free.
#[tokio::test]
async fn a_group_member_that_never_reads_again_gives_its_place_back() {
    let (mut config, dir) = fresh_config();
    config.limits.max_streams_per_address = 1;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let member = a_member_that_stops_reading(&app).await;
    assert_eq!(
        WsClient::open(&app.ws_url(), false, None).await.err(),
        Some(429),
        "the member still holds the address's one stream"
    );
    wait_until("the silent member's place is free again", || async {
        WsClient::open(&app.ws_url(), false, None).await.is_ok()
    })
    .await;
    drop(member);
}

/// `n` free ports for Redis Cluster nodes: below 55536, since a node also listens on its port
/// plus 10,000 (the cluster bus), and with that port free too.
fn cluster_ports(n: usize) -> Vec<u16> {
    let start = 20_000
        + (std::process::id() as u16 % 300) * 100
        + (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default()
            % 97) as u16;
    let free = |port: u16| std::net::TcpListener::bind(("127.0.0.1", port)).is_ok();
    let ports: Vec<u16> = (start..55_000)
        .filter(|&port| free(port) && free(port + 10_000))
        .take(n)
        .collect();
    assert_eq!(ports.len(), n, "free ports for the cluster");
    ports
}

/// A Redis Cluster of the test's own: three primaries and a replica of each, on free ports,
/// with a one-second node time-out so a killed primary fails over quickly; killed when dropped.
struct OwnRedisCluster {
    _dir: tempfile::TempDir,
    nodes: Vec<OwnRedis>,
}

impl OwnRedisCluster {
    fn start() -> OwnRedisCluster {
        let dir = tempfile::tempdir().expect("a directory");
        let mut nodes = Vec::new();
        for port in cluster_ports(6) {
            let child = std::process::Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "1000"])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(dir.path())
                .args(["--save", "", "--appendonly", "no"])
                // Replicas sync at once (not after the default 5 s): a replica that never
                // synced does not take over its primary.
                .args(["--repl-diskless-sync-delay", "0"])
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("redis-server runs");
            let mut node = OwnRedis {
                port,
                child: Some(child),
            };
            node.wait_ready();
            nodes.push(node);
        }
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = std::process::Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            created.status.success(),
            "the cluster is created: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        let cluster = OwnRedisCluster { _dir: dir, nodes };
        cluster.wait_ok();
        cluster
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits until every live node says the cluster is ok (all slots served).
    fn wait_ok(&self) {
        for _ in 0..200 {
            let ok = self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                self.cli(n.port, &["cluster", "info"])
                    .contains("cluster_state:ok")
            });
            if ok {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the Redis Cluster did not become ok");
    }

    fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(OwnRedis::url).collect()
    }

    /// Kills the primary serving `slot`; returns its port.
    fn kill_primary_of(&mut self, slot: u16) -> u16 {
        let nodes = self.cli(self.nodes[0].port, &["cluster", "nodes"]);
        let port = nodes
            .lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                let primary = fields.get(2).is_some_and(|flags| flags.contains("master"));
                let serves = fields.iter().skip(8).any(|range| {
                    let (from, to) = range.split_once('-').unwrap_or((range, range));
                    from.parse::<u16>().is_ok_and(|from| from <= slot)
                        && to.parse::<u16>().is_ok_and(|to| slot <= to)
                });
                (primary && serves).then(|| {
                    fields[1]
                        .split('@')
                        .next()
                        .and_then(|addr| addr.rsplit(':').next())
                        .and_then(|port| port.parse::<u16>().ok())
                        .expect("a node's port")
                })
            })
            .expect("a primary serves the slot");
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("the node is ours");
        node.kill();
        port
    }

    fn slot_of(&self, channel: &str) -> u16 {
        self.cli(self.nodes[0].port, &["cluster", "keyslot", channel])
            .trim()
            .parse()
            .expect("a slot")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server and redis-cli (7 or newer) on the PATH"]
async fn a_redis_cluster_carries_events_on_sharded_channels_and_loses_none_when_a_primary_dies() {
    // The cluster's set-up and checks block (processes, redis-cli): on a thread of their own.
    let mut cluster = tokio::task::block_in_place(OwnRedisCluster::start);
    let (mut config, dir) = fresh_config();
    config.redis_cluster_urls = cluster.urls();
    let prefix = unique_prefix();
    config.redis_channel_prefix = prefix.clone();
    // No database poll while the cluster serves: the reader learns of the writer's events from
    // the sharded channels alone (it polls every 250 ms only while the bus is down).
    config.live_poll_ms = 3_600_000;
    let writer = TestApp::start(config, true, Arc::new(dir)).await;
    let reader = writer.another_instance().await;
    for app in [&writer, &reader] {
        assert_eq!(bus_mode_within(app, "redis cluster").await, "redis cluster");
    }

    // A listener of the test's own on every sharded channel sees the writes go by.
    let (pushes, mut heard) = tokio::sync::mpsc::unbounded_channel();
    let mut own = redis::cluster::ClusterClientBuilder::new(cluster.urls())
        .use_protocol(redis::ProtocolVersion::RESP3)
        .push_sender(pushes)
        .build()
        .expect("a cluster client")
        .get_async_connection()
        .await
        .expect("a cluster connection");
    let channels: Vec<String> = (0..labinov::live::redis_bus::SHARDS)
        .map(|shard| {
            labinov::live::redis_bus::RedisBus::shard_channel(
                &format!("{prefix}pipeline-events"),
                shard,
            )
        })
        .collect();
    for channel in &channels {
        own.ssubscribe(channel)
            .await
            .expect("a sharded subscription");
    }

    let after = cursor_now(&writer, "72.01").await;
    let mut client = WsClient::connect(&reader.ws_url(), false).await;
    client
        .subscribe(
            "c",
            EVENTS,
            json!({"f": {"regencyCodes": ["72.01"]}, "after": after}),
        )
        .await;
    let (id, mut version) = first_idea(&writer, "72.01").await;
    version = rename(&writer, &id, version, 5, "gugus").await;
    let mut received = sequences(&mut client, 5).await;
    // The writes went over a sharded channel, as SMESSAGEs on exactly one channel.
    let mut carried = std::collections::BTreeSet::new();
    while let Ok(push) = heard.try_recv() {
        if push.kind == redis::PushKind::SMessage {
            let channel: String = redis::from_redis_value_ref(&push.data[0]).expect("a channel");
            carried.insert(channel);
        }
    }
    assert_eq!(
        carried.len(),
        1,
        "one regency, one sharded channel: {carried:?}"
    );
    let channel = carried.into_iter().next().unwrap_or_default();
    assert!(channels.contains(&channel), "{channel}");
    drop(own);

    // The primary serving that channel dies after three of twenty writes; the other seventeen
    // go on while its replica has not yet taken over.
    let slot = cluster.slot_of(&channel);
    version = rename(&writer, &id, version, 3, "gagal").await;
    let killed = tokio::task::block_in_place(|| cluster.kill_primary_of(slot));
    version = rename(&writer, &id, version, 17, "gagal lagi").await;
    assert_eq!(
        bus_mode_within(&reader, "database fallback").await,
        "database fallback",
        "the reader notices its channel's node is gone and reads the database meanwhile"
    );
    received.extend(sequences(&mut client, 20).await);
    // Its replica takes over; the bus follows it back onto the sharded channels.
    tokio::task::block_in_place(|| cluster.wait_ok());
    for app in [&writer, &reader] {
        assert_eq!(
            bus_mode_within(app, "redis cluster").await,
            "redis cluster",
            "the bus is back on the cluster after primary {killed} failed over"
        );
    }
    rename(&writer, &id, version, 5, "pulih").await;
    received.extend(sequences(&mut client, 5).await);
    let first = received[0];
    assert_eq!(
        received,
        (first..first + 30).collect::<Vec<_>>(),
        "every event once, in order"
    );
    client.expect_nothing_for(Duration::from_millis(500)).await;
}
