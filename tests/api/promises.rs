//! Promises of the README that each need a test of their own: the selection-depth limit, the
//! start-up refusals, anonymous access, ordering by title and the total count of a page.

use std::sync::Arc;

use labinov::{App, access::AnonymousAccess, global_id};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, fresh_config};

/// Thirteen fields deep, in twelve pairs of brackets: the selection depth (12 by default) trips
/// before the bracket nesting (48) or the complexity.
const THIRTEEN_DEEP: &str = "{ regencies { nodes { units { ideas { nodes { unit { regency { \
    units { ideas { nodes { unit { regency { name } } } } } } } } } } } } }";

#[tokio::test]
async fn the_selection_depth_limit_names_itself_and_its_maximum() {
    let app = TestApp::spawn().await;
    let response = app.gql(THIRTEEN_DEEP, json!({})).await;
    assert_eq!(error_code(&response), "QUERY_TOO_DEEP", "{response}");
    let extensions = &response["errors"][0]["extensions"];
    assert_eq!(extensions["limit"], "depth", "{response}");
    assert_eq!(extensions["max"], 12, "{response}");

    // The same query under a deeper limit (and a complexity limit out of its way) runs.
    let (mut config, dir) = fresh_config();
    config.limits.max_query_depth = 13;
    config.limits.max_query_complexity = 1_000_000_000;
    let deeper = TestApp::start(config, false, Arc::new(dir)).await;
    let response = deeper.gql(THIRTEEN_DEEP, json!({})).await;
    assert!(response.get("errors").is_none(), "{response}");
}

#[tokio::test]
async fn a_server_refuses_to_start_without_a_safe_token_secret() {
    let refusal = async |change: &dyn Fn(&mut labinov::Config), demo: bool| {
        let (mut config, _dir) = fresh_config();
        change(&mut config);
        match App::build(&config, demo).await {
            Ok(_) => String::new(),
            Err(err) => format!("{err:#}"),
        }
    };
    let none = refusal(&|c| c.tokens.jwt_secret = None, false).await;
    assert!(none.contains("no way to verify tokens"), "{none}");
    let short = refusal(&|c| c.tokens.jwt_secret = Some("short".to_owned()), false).await;
    assert!(short.contains("at least 32"), "{short}");
    let public = refusal(
        &|c| {
            c.tokens.jwt_secret = None;
            c.listen = "0.0.0.0:0".parse().expect("an address");
        },
        true,
    )
    .await;
    assert!(public.contains("demo token secret is public"), "{public}");
}

#[tokio::test]
async fn anonymous_access_is_none_public_or_read_as_configured() {
    let stages = "{ stages { stage count } }";
    let ideas = "{ ideas(first: 1) { totalCount } }";
    let admins = TestApp::with_demo().await.gql(ideas, json!({})).await;
    let all = admins["data"]["ideas"]["totalCount"]
        .as_u64()
        .expect("a count");
    for (access, stages_open, ideas_open) in [
        (AnonymousAccess::None, false, false),
        (AnonymousAccess::Public, true, false),
        (AnonymousAccess::Read, true, true),
    ] {
        let (mut config, dir) = fresh_config();
        config.anonymous_access = access;
        let app = TestApp::start(config, true, Arc::new(dir)).await;
        let answer = app.gql_as(None, stages, json!({})).await;
        assert_eq!(
            answer.get("errors").is_none(),
            stages_open,
            "{access:?}: {answer}"
        );
        let answer = app.gql_as(None, ideas, json!({})).await;
        if ideas_open {
            assert_eq!(
                answer["data"]["ideas"]["totalCount"], all,
                "{access:?}: {answer}"
            );
        } else {
            assert_eq!(
                error_code(&answer),
                "UNAUTHENTICATED",
                "{access:?}: {answer}"
            );
        }
        // Reading everything never makes anonymous callers writers.
        let write = app
            .gql_as(
                None,
                "mutation { createMentor(input: {name: \"Anonim\"}) { mentor { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(error_code(&write), "UNAUTHENTICATED", "{access:?}: {write}");
    }
}

/// Every id of a paging through Banjar's ideas in `order`, `size` at a time, and the total
/// count each page reported.
async fn paged_ids(app: &TestApp, order: &Value, size: u64) -> (Vec<i32>, Vec<u64>) {
    let (mut ids, mut totals, mut after) = (Vec::new(), Vec::new(), Value::Null);
    loop {
        let data = app
            .data(
                "query($o: IdeaOrder, $n: Int, $a: String) {
                    ideas(filter: {regencyCodes: [\"63.03\"]}, orderBy: $o, first: $n, after: $a) {
                        totalCount pageInfo { hasNextPage endCursor } nodes { id }
                    }
                }",
                json!({ "o": order, "n": size, "a": after }),
            )
            .await;
        let page = &data["ideas"];
        totals.push(page["totalCount"].as_u64().expect("a count"));
        for node in page["nodes"].as_array().expect("nodes") {
            let id = node["id"].as_str().expect("an id");
            ids.push(global_id::decode(global_id::Kind::Idea, id).expect("an idea id"));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return (ids, totals);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The ids of Banjar's ideas as the database itself orders them by title.
async fn ids_by_title(app: &TestApp, direction: &str) -> Vec<i32> {
    let db = app.db().await;
    let sql = format!(
        "SELECT i.id FROM idea i JOIN regency r ON r.id = i.regency_id \
         WHERE r.code = '63.03' ORDER BY i.title {direction}, i.id {direction}"
    );
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("the ideas")
        .iter()
        .map(|row| row.try_get_by_index::<i32>(0).expect("an id"))
        .collect()
}

#[tokio::test]
async fn ordering_by_title_follows_the_databases_text_order_both_ways() {
    let app = TestApp::with_demo().await;
    for direction in ["ASC", "DESC"] {
        let order = json!({ "field": "TITLE", "direction": direction });
        let (ids, _) = paged_ids(&app, &order, 30).await;
        assert_eq!(
            ids,
            ids_by_title(&app, direction).await,
            "TITLE {direction}"
        );
    }
}

#[tokio::test]
async fn the_total_count_is_the_number_of_ideas_the_pages_hold() {
    let app = TestApp::with_demo().await;
    let order = json!({ "field": "SUBMITTED_AT", "direction": "ASC" });
    let (ids, totals) = paged_ids(&app, &order, 40).await;
    assert!(totals.len() > 1, "more than one page");
    for total in totals {
        assert_eq!(
            total,
            ids.len() as u64,
            "each page reports the count of all the pages"
        );
    }
    assert_eq!(
        ids.len(),
        ids_by_title(&app, "ASC").await.len(),
        "every one of Banjar's ideas"
    );
}

/// When each event of the server's history happened, paged through as an ADMIN.
async fn event_times(app: &TestApp) -> Vec<chrono::DateTime<chrono::Utc>> {
    let (mut times, mut after) = (Vec::new(), Value::Null);
    loop {
        let data = app
            .data(
                "query($a: String) { pipelineEvents(first: 100, after: $a) {
                    pageInfo { hasNextPage endCursor } nodes { occurredAt } } }",
                json!({ "a": after }),
            )
            .await;
        let page = &data["pipelineEvents"];
        for node in page["nodes"].as_array().expect("events") {
            let at = node["occurredAt"].as_str().expect("a time");
            times.push(at.parse().expect("an RFC 3339 time"));
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return times;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// `LABINOV_EVENT_RETENTION_DAYS` prunes the history by itself: a server started with it on
/// the demo data removes the events older than the window and keeps the newer ones; without it
/// (the default) every event stays.
#[tokio::test]
async fn event_retention_prunes_what_is_older_than_its_window_and_nothing_without_it() {
    let kept = TestApp::with_demo().await;
    let mut times = event_times(&kept).await;
    times.sort();
    let middle = times[times.len() / 2];
    let days = (chrono::Utc::now() - middle).num_days();
    assert!(days > 1, "the demo's history spans more than its last days");
    let cutoff = chrono::Utc::now() - chrono::Duration::days(days);
    let older = times.iter().filter(|at| **at < cutoff).count();
    assert!(
        older > 0 && older < times.len(),
        "the window splits the history"
    );

    let (mut config, dir) = fresh_config();
    config.event_retention_days = u32::try_from(days).expect("days");
    let pruned = TestApp::start(config, true, Arc::new(dir)).await;
    let (app, all) = (&pruned, times.len());
    crate::helpers::wait_until("the retention pruner's first round", move || async move {
        crate::helpers::event_total(app).await < all as u64
    })
    .await;
    // The pruning is one statement: once the count shows it, every page does.
    let left = event_times(&pruned).await;
    // The pruner ran once the window was set: what is left is the window's, every one of it
    // (an event within a minute of the edge may fall either way).
    let slack = chrono::Duration::minutes(1);
    let oldest = left.iter().min().copied();
    assert!(
        left.iter().all(|at| *at >= cutoff - slack),
        "nothing older is left: {oldest:?}, cutoff {cutoff}, {} of {} left",
        left.len(),
        times.len()
    );
    let newer = times.iter().filter(|at| **at >= cutoff + slack).count();
    assert!(
        left.len() >= newer,
        "every newer event is kept ({} of {newer})",
        left.len()
    );
    assert_eq!(
        event_times(&kept).await.len(),
        times.len(),
        "without the flag, nothing goes"
    );
}
