//! The response cache: repeated queries are answered from it, and never with data older than
//! the last committed write, on any instance.

use axum::{body::Body, http::Request};
use http_body_util::BodyExt;
use labinov::access::Role;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::helpers::{TestApp, admin_token, token};

/// POSTs a query with `token`; returns the `x-labinov-cache` header (hit, miss, or none when
/// the answer was not kept) and the body.
async fn ask(app: &TestApp, token: &str, query: &str, variables: Value) -> (Option<String>, Value) {
    ask_raw(
        app,
        token,
        json!({ "query": query, "variables": variables }),
    )
    .await
}

/// POSTs `body` (a whole GraphQL request) with `token`; returns the cache header and the body.
async fn ask_raw(app: &TestApp, token: &str, body: Value) -> (Option<String>, Value) {
    let (cache, bytes) = ask_bytes(app, token, body).await;
    (cache, serde_json::from_slice(&bytes).expect("JSON"))
}

/// Like [`ask_raw`], with the body's bytes as sent.
async fn ask_bytes(app: &TestApp, token: &str, body: Value) -> (Option<String>, Vec<u8>) {
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .expect("a valid request");
    let response = app.router().oneshot(request).await.expect("an answer");
    let cache = response
        .headers()
        .get("x-labinov-cache")
        .map(|v| v.to_str().expect("ASCII").to_owned());
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (cache, bytes.to_vec())
}

const TITLES: &str = "query($r: [String!]) { ideas(first: 3, filter: {regencyCodes: $r}, orderBy: {field: SUBMITTED_AT, direction: DESC}) { totalCount nodes { id title version } } }";

#[tokio::test]
async fn a_repeated_query_is_answered_from_the_cache_until_a_write_changes_the_data() {
    let app = TestApp::with_demo().await;
    let admin = admin_token();
    let vars = json!({"r": ["63.03"]});
    let (first, before) = ask(&app, &admin, TITLES, vars.clone()).await;
    assert_eq!(first.as_deref(), Some("miss"), "{before:#}");
    let (second, again) = ask(&app, &admin, TITLES, vars.clone()).await;
    assert_eq!(second.as_deref(), Some("hit"));
    assert_eq!(again, before, "a kept answer is the answer");

    // Other variables are another question.
    let (other, elsewhere) = ask(&app, &admin, TITLES, json!({"r": ["33.03"]})).await;
    assert_eq!(other.as_deref(), Some("miss"));
    assert_ne!(elsewhere, before);

    // A write changes the data: the next answer shows it.
    let idea = &before["data"]["ideas"]["nodes"][0];
    let renamed = app
        .data(
            "mutation($id: ID!, $v: Int!) { updateIdea(input: {id: $id, version: $v, title: \"Judul yang baru\"}) { idea { title } } }",
            json!({"id": idea["id"], "v": idea["version"]}),
        )
        .await;
    assert_eq!(renamed["updateIdea"]["idea"]["title"], "Judul yang baru");
    let (after_write, after) = ask(&app, &admin, TITLES, vars.clone()).await;
    assert_eq!(after_write.as_deref(), Some("miss"));
    assert_eq!(
        after["data"]["ideas"]["nodes"][0]["title"],
        "Judul yang baru"
    );
    let (kept_again, _) = ask(&app, &admin, TITLES, vars).await;
    assert_eq!(kept_again.as_deref(), Some("hit"));
}

#[tokio::test]
async fn a_mentor_change_records_no_event_and_is_still_seen_at_once() {
    let app = TestApp::with_demo().await;
    let admin = admin_token();
    let mentors = "{ mentors(first: 50) { nodes { id name version } } }";
    let (_, before) = ask(&app, &admin, mentors, json!({})).await;
    let (hit, _) = ask(&app, &admin, mentors, json!({})).await;
    assert_eq!(hit.as_deref(), Some("hit"));
    let mentor = &before["data"]["mentors"]["nodes"][0];
    app.data(
        "mutation($id: ID!, $v: Int!) { updateMentor(input: {id: $id, version: $v, name: \"Mentor Berganti Nama\"}) { mentor { name } } }",
        json!({"id": mentor["id"], "v": mentor["version"]}),
    )
    .await;
    let (cache, after) = ask(&app, &admin, mentors, json!({})).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    let names: Vec<&str> = after["data"]["mentors"]["nodes"]
        .as_array()
        .expect("mentors")
        .iter()
        .filter_map(|m| m["name"].as_str())
        .collect();
    assert!(names.contains(&"Mentor Berganti Nama"), "{names:?}");
}

#[tokio::test]
async fn a_write_on_another_instance_is_seen_at_once() {
    let app = TestApp::with_demo().await;
    let other = app.another_instance().await;
    let admin = admin_token();
    let vars = json!({"r": ["63.03"]});
    let (_, before) = ask(&app, &admin, TITLES, vars.clone()).await;
    let (hit, _) = ask(&app, &admin, TITLES, vars.clone()).await;
    assert_eq!(hit.as_deref(), Some("hit"));
    let idea = &before["data"]["ideas"]["nodes"][0];
    other
        .data(
            "mutation($id: ID!, $v: Int!) { updateIdea(input: {id: $id, version: $v, title: \"Dari instans lain\"}) { idea { title } } }",
            json!({"id": idea["id"], "v": idea["version"]}),
        )
        .await;
    // No event needs to reach this instance first: the data's version is read per request.
    let (cache, after) = ask(&app, &admin, TITLES, vars).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_eq!(
        after["data"]["ideas"]["nodes"][0]["title"],
        "Dari instans lain"
    );
}

#[tokio::test]
async fn answers_are_kept_per_caller() {
    let app = TestApp::with_demo().await;
    let banjar = token(Role::Viewer, Some("63.03"), None);
    let other = token(Role::Viewer, Some("33.03"), None);
    let everyone = "{ ideas(first: 1) { totalCount } }";
    let (_, own) = ask(&app, &banjar, everyone, json!({})).await;
    let (hit, _) = ask(&app, &banjar, everyone, json!({})).await;
    assert_eq!(hit.as_deref(), Some("hit"));
    // The same text from a caller who sees other rows is another question.
    let (cache, theirs) = ask(&app, &other, everyone, json!({})).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_ne!(
        own["data"]["ideas"]["totalCount"], theirs["data"]["ideas"]["totalCount"],
        "each viewer counts only their regency's ideas"
    );
}

#[tokio::test]
async fn answers_that_read_the_clock_or_the_event_log_or_failed_are_not_kept() {
    let app = TestApp::with_demo().await;
    let admin = admin_token();
    for query in [
        "{ ideas(first: 2) { nodes { daysInStage } } }",
        "{ ideas(first: 2, filter: {inStageLongerThanDays: 30}) { totalCount } }",
        "{ staleIdeas(days: 30, first: 2) { totalCount } }",
        "{ pipelineEvents(first: 2) { nodes { sequence } } }",
        "{ idea(id: \"not an id\") { title } }",
    ] {
        for _ in 0..2 {
            let (cache, body) = ask(&app, &admin, query, json!({})).await;
            assert_eq!(cache, None, "{query} must not be kept: {body:#}");
        }
    }
}

#[tokio::test]
async fn a_kept_answer_still_checks_and_remembers_a_persisted_query() {
    use sha2::Digest;
    let app = TestApp::with_demo().await;
    let admin = admin_token();
    let query = "{ regencies(first: 3) { nodes { code } } }";
    let hash = format!("{:x}", sha2::Sha256::digest(query.as_bytes()));
    let with = |text: &str, hash: &str, version: i32| {
        json!({ "query": text, "extensions": {
            "persistedQuery": { "version": version, "sha256Hash": hash } } })
    };
    // The text is kept by a plain request first; then text plus hash is answered from the cache.
    let (miss, plain) = ask(&app, &admin, query, json!({})).await;
    assert_eq!(miss.as_deref(), Some("miss"));
    let (_, kept) = ask_raw(&app, &admin, with(query, &hash, 1)).await;
    assert_eq!(kept, plain);
    // ... and the hash alone works afterwards: the kept answer remembered it too.
    let hash_only =
        json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } });
    let (_, by_hash) = ask_raw(&app, &admin, hash_only).await;
    assert_eq!(by_hash, plain, "{by_hash:#}");
    // What a run refuses, a kept answer refuses too.
    let (_, forged) = ask_raw(&app, &admin, with(query, &"0".repeat(64), 1)).await;
    assert_eq!(forged["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (_, version) = ask_raw(&app, &admin, with(query, &hash, 2)).await;
    assert_eq!(version["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let (_, empty_name) =
        ask_raw(&app, &admin, json!({ "query": query, "operationName": "" })).await;
    assert!(empty_name["errors"].is_array(), "{empty_name:#}");
}

#[tokio::test]
async fn a_token_past_its_expiry_is_never_answered_from_the_cache() {
    let app = TestApp::with_demo().await;
    // Valid for one or two more seconds: asked now, then again once it has expired (the verifier
    // lets it in for a few seconds of leeway; the query itself refuses it).
    let claims = labinov::cli::claims(
        "kortsiktig",
        Role::Admin,
        None,
        None,
        std::time::Duration::from_secs(2),
    )
    .expect("valid claims");
    let short = crate::helpers::sign_with(crate::helpers::TEST_SECRET, &claims);
    let query = "{ me { subject rights } }";
    let (kept, fresh) = ask(&app, &short, query, json!({})).await;
    assert_eq!(kept.as_deref(), Some("miss"), "{fresh:#}");
    assert!(
        fresh["data"]["me"]["rights"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{fresh:#}"
    );
    // The token expires on the clock the server reads: wait for that, not for a guessed time.
    crate::helpers::wait_until("the token to expire", || async {
        chrono::Utc::now().timestamp() >= claims.exp
    })
    .await;
    let (cache, late) = ask(&app, &short, query, json!({})).await;
    assert_eq!(cache, None, "{late:#}");
    assert_ne!(
        late, fresh,
        "an expired token is not answered as a valid one: {late:#}"
    );
}

#[tokio::test]
async fn fields_come_in_the_order_asked_so_every_answer_is_the_same_bytes() {
    let app = TestApp::with_demo().await;
    let admin = admin_token();
    let mut answers = Vec::new();
    // Each with other spacing: none comes from the cache. Counting takes a statement of its own
    // and the nodes another; whichever finishes first, the answer keeps the asked order.
    for n in 0..8 {
        let spaces = " ".repeat(n);
        let query = format!(
            "{{ ideas(first: 3){spaces} {{ totalCount pageInfo {{ hasNextPage }} nodes {{ title unit {{ name kind }} id }} }} regencies(first: 1) {{ totalCount }} }}"
        );
        let (_, body) = ask_bytes(&app, &admin, json!({ "query": query })).await;
        answers.push(String::from_utf8(body).expect("UTF-8"));
    }
    let first = &answers[0];
    let at = |key: &str| {
        first
            .find(key)
            .unwrap_or_else(|| panic!("{key} in {first}"))
    };
    assert!(at("\"ideas\"") < at("\"regencies\""), "{first}");
    assert!(at("\"totalCount\"") < at("\"pageInfo\""), "{first}");
    assert!(at("\"pageInfo\"") < at("\"nodes\""), "{first}");
    assert!(
        at("\"title\"") < at("\"unit\"") && at("\"unit\"") < at("\"id\""),
        "{first}"
    );
    assert!(at("\"name\"") < at("\"kind\""), "{first}");
    assert!(answers.iter().all(|a| a == first), "{answers:#?}");
}

/// Mutations of the schema that the table in `access.rs` leaves out, and the test that runs
/// each with a check of the data version.
const RUN_ELSEWHERE: [(&str, &str); 4] = [
    (
        "importUnits",
        "write::units_import_from_a_spreadsheet_all_or_nothing_and_again_adds_nothing",
    ),
    (
        "reviewIdea",
        "lab::the_score_is_the_weighted_mean_of_current_reviews_and_history_is_kept",
    ),
    (
        "commentOnMilestone",
        "plans::the_coaching_mentor_comments_on_milestones_and_nobody_else_does",
    ),
    (
        "addEvidence",
        "evidence::a_photo_sent_as_a_multipart_request_is_kept_by_its_bytes_and_downloads_as_an_attachment",
    ),
];

/// The cache serves an answer while the data version is unchanged, so every mutation of the
/// schema must move it: each one in the access table runs as ADMIN, and each that succeeds must
/// have moved the version. A mutation added to the schema and to neither list fails here.
#[tokio::test]
async fn every_mutation_moves_the_data_version() {
    let app = TestApp::with_demo().await;
    let rows = crate::access::rows_of(&app, crate::access::OWN).await;
    let table = crate::access::mutations(&rows);
    let in_schema: std::collections::BTreeSet<String> = labinov::graphql::field_names("Mutation")
        .into_iter()
        .collect();
    let covered: std::collections::BTreeSet<String> = table
        .iter()
        .map(|(name, ..)| (*name).to_owned())
        .chain(RUN_ELSEWHERE.iter().map(|(name, _)| (*name).to_owned()))
        .collect();
    assert_eq!(
        in_schema, covered,
        "every mutation is run by a version check"
    );

    let admin = admin_token();
    let ran = table.len();
    let mut moved = 0;
    for (name, query, mut variables) in table {
        // The table names version 1; earlier mutations moved some rows on.
        if let Some(id) = variables["input"]["id"].as_str()
            && variables["input"].get("version").is_some()
        {
            let node = app
                .data(
                    "query($id: ID!) { node(id: $id) { ... on Idea { version } \
                     ... on Commitment { version } ... on Regency { version } \
                     ... on Cohort { version } ... on Unit { version } ... on Mentor { version } } }",
                    json!({ "id": id }),
                )
                .await;
            variables["input"]["version"] = node["node"]["version"].clone();
        }
        // An action plan is written over the version the idea's plan has, if it has one.
        if let Some(idea) = variables["input"]["ideaId"].as_str()
            && name == "writeActionPlan"
        {
            let plan = app
                .data(
                    "query($id: ID!) { node(id: $id) { ... on Idea { actionPlan { version } } } }",
                    json!({ "id": idea }),
                )
                .await;
            variables["input"]["version"] = plan["node"]["actionPlan"]["version"].clone();
        }
        let before = app.domain.data_version().await.expect("a version");
        let response = app.gql_as(Some(&admin), &query, variables).await;
        let after = app.domain.data_version().await.expect("a version");
        if response.get("errors").is_some() {
            assert_eq!(
                after, before,
                "{name} failed and changed nothing: {response}"
            );
        } else {
            assert_ne!(after, before, "{name} succeeded and moved the data version");
            moved += 1;
        }
    }
    // A few are refused by the state the earlier ones left (the idea was dropped, the
    // commitment signed and fulfilled); those changed nothing, as checked above.
    assert!(
        moved + 4 >= ran,
        "{moved} of {ran} mutations succeeded as ADMIN"
    );
}
