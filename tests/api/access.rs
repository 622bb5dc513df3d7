//! Access: tokens, roles and regency scoping on every write, read and live event.

use std::time::Duration;

use axum::{body::Body, http::Request};
use base64::Engine;
use labinov::access::Role;
use serde_json::{Value, json};

use crate::clients::WsClient;
use crate::helpers::{TestApp, admin_token, error_code, event_total, sign_with, token, token_for};

/// A test fixture file.
fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// `claims` signed by the test identity provider's RS256 key, naming key `kid` if given.
fn provider_token(claims: &impl serde::Serialize, kid: Option<&str>) -> String {
    let private = std::fs::read(fixture("idp_rs256_private.pem")).expect("the test key");
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&private).expect("an RSA key"),
    )
    .expect("a token")
}

pub(crate) const OWN: &str = "63.03";
const OTHER: &str = "33.03";

/// The ids of one regency's rows that the mutations act on.
pub(crate) struct Rows {
    regency: Value,
    cohort: Value,
    unit: Value,
    idea: Value,
    commitment: Value,
    mentor: Value,
    /// Two evidence files of an idea at DISPLAY: the table removes the first, and the ADMIN
    /// after the REGENCY_ADMIN removes the second.
    evidence: Value,
    spare_evidence: Value,
}

pub(crate) async fn rows_of(app: &TestApp, code: &str) -> Rows {
    let data = app
        .data(
            "query($c: String!) {
                regency(code: $c) { id cohorts { id } units { id } }
                ideas(filter: {regencyCodes: [$c]}, first: 1) { nodes { id } }
                commitments(filter: {regencyCodes: [$c]}, first: 1) { nodes { id } }
                mentors(first: 1) { nodes { id } }
                displayed: ideas(filter: {regencyCodes: [$c], stages: [DISPLAY]}, first: 50) {
                    nodes { evidence { id } } }
            }",
            json!({ "c": code }),
        )
        .await;
    Rows {
        regency: data["regency"]["id"].clone(),
        cohort: data["regency"]["cohorts"][0]["id"].clone(),
        unit: data["regency"]["units"][0]["id"].clone(),
        idea: data["ideas"]["nodes"][0]["id"].clone(),
        commitment: data["commitments"]["nodes"][0]["id"].clone(),
        mentor: data["mentors"]["nodes"][0]["id"].clone(),
        evidence: demo_evidence(&data, 0),
        spare_evidence: demo_evidence(&data, 1),
    }
}

/// The id of file `n` of the first displayed idea with evidence.
fn demo_evidence(data: &Value, n: usize) -> Value {
    data["displayed"]["nodes"]
        .as_array()
        .and_then(|ideas| ideas.iter().find_map(|i| i["evidence"].get(n)))
        .map(|e| e["id"].clone())
        .expect("demo evidence in the regency")
}

/// Every mutation with inputs naming `rows`; versions are 1 (a stale version is CONFLICT, which
/// only an allowed caller can reach).
pub(crate) fn mutations(rows: &Rows) -> Vec<(&'static str, String, Value)> {
    let m = |name: &'static str, input_type: &str, input: Value| {
        (
            name,
            format!("mutation($input: {input_type}!) {{ {name}(input: $input) {{ __typename }} }}"),
            json!({ "input": input }),
        )
    };
    let versioned = |id: &Value| json!({ "id": id, "version": 1 });
    let moved = |id: &Value| json!({ "id": id, "version": 1, "reason": "uji akses" });
    vec![
        m(
            "createRegency",
            "CreateRegencyInput",
            json!({"code": "99.01", "name": "Kabupaten Uji", "province": "Uji", "organiser": "Bappeda Uji"}),
        ),
        m(
            "updateRegency",
            "UpdateRegencyInput",
            json!({"id": rows.regency, "version": 1, "organiser": "Bappeda"}),
        ),
        m(
            "createCohort",
            "CreateCohortInput",
            json!({"regencyId": rows.regency, "year": 2024, "name": "Laboratorium Inovasi Uji"}),
        ),
        m(
            "updateCohort",
            "UpdateCohortInput",
            json!({"id": rows.cohort, "version": 1, "name": "Angkatan Uji"}),
        ),
        m(
            "createUnit",
            "CreateUnitInput",
            json!({"regencyId": rows.regency, "kind": "DINAS", "name": "Dinas Uji Akses"}),
        ),
        m(
            "updateUnit",
            "UpdateUnitInput",
            json!({"id": rows.unit, "version": 1, "headTitle": "Kepala"}),
        ),
        m(
            "submitIdea",
            "SubmitIdeaInput",
            json!({"cohortId": rows.cohort, "unitId": rows.unit, "title": "Uji Akses", "problem": "Uji",
                   "type": "DIGITAL", "form": "PUBLIC_SERVICE", "affairsArea": "Kesehatan", "initiator": "WORK_UNIT"}),
        ),
        m(
            "updateIdea",
            "UpdateIdeaInput",
            json!({"id": rows.idea, "version": 1, "title": "Judul Baru"}),
        ),
        m("advanceIdea", "AdvanceIdeaInput", versioned(&rows.idea)),
        m(
            "writeActionPlan",
            "WriteActionPlanInput",
            json!({"ideaId": rows.idea, "goal": "Uji akses", "milestones": [
                {"title": "Uji", "ownerName": "Penguji", "ownerPosition": "Kepala Seksi", "dueOn": "2020-06-01"}
            ]}),
        ),
        m(
            "removeEvidence",
            "RemoveEvidenceInput",
            json!({"id": rows.evidence}),
        ),
        m("revertIdea", "MoveIdeaInput", moved(&rows.idea)),
        m(
            "stallIdea",
            "StallIdeaInput",
            json!({ "id": rows.idea, "version": 1, "reason": "uji akses", "reasonCode": "BUDGET" }),
        ),
        m(
            "handOverIdea",
            "HandOverIdeaInput",
            json!({ "id": rows.idea, "version": 1, "reason": "uji akses",
                    "to": {"name": "Penerus Uji", "position": "Kepala Seksi"} }),
        ),
        m("resumeIdea", "MoveIdeaInput", moved(&rows.idea)),
        m("dropIdea", "MoveIdeaInput", moved(&rows.idea)),
        m(
            "importIdeas",
            "ImportIdeasInput",
            json!({"cohortId": rows.cohort, "csv": "title,unit\n"}),
        ),
        m(
            "createMentor",
            "CreateMentorInput",
            json!({"name": "Mentor Uji Akses"}),
        ),
        m(
            "updateMentor",
            "UpdateMentorInput",
            json!({"id": rows.mentor, "version": 1, "team": "Tim Uji"}),
        ),
        m(
            "assignMentor",
            "AssignMentorInput",
            json!({"ideaId": rows.idea, "mentorId": rows.mentor}),
        ),
        m(
            "unassignMentor",
            "UnassignMentorInput",
            json!({"ideaId": rows.idea, "mentorId": rows.mentor}),
        ),
        m(
            "createCommitment",
            "CreateCommitmentInput",
            json!({"cohortId": rows.cohort, "unitId": rows.unit, "ideaIds": [rows.idea],
                   "signatoryName": "Uji", "signatoryTitle": "Kepala", "counterpart": "Bupati", "target": "Uji"}),
        ),
        m(
            "signCommitment",
            "SignCommitmentInput",
            versioned(&rows.commitment),
        ),
        m(
            "fulfillCommitment",
            "FulfillCommitmentInput",
            versioned(&rows.commitment),
        ),
        m(
            "withdrawCommitment",
            "WithdrawCommitmentInput",
            versioned(&rows.commitment),
        ),
    ]
}

/// Mutations on rows of no regency: only an ADMIN makes them.
const ADMIN_ONLY: [&str; 3] = ["createRegency", "createMentor", "updateMentor"];

/// What the access rules made of a request: let through (whatever the domain then said) or
/// refused with an access code.
fn outcome(response: &Value) -> &str {
    match error_code(response) {
        code @ ("UNAUTHENTICATED" | "FORBIDDEN" | "NOT_FOUND") => code,
        _ => "ALLOWED",
    }
}

#[tokio::test]
async fn every_mutation_by_role_and_regency() {
    let app = TestApp::with_demo().await;
    let own = rows_of(&app, OWN).await;
    let other = rows_of(&app, OTHER).await;
    let mentor_id: i32 = 1;
    let viewer = token(Role::Viewer, Some(OWN), None);
    let mentor = token(Role::Mentor, None, Some(mentor_id));
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let admin = admin_token();

    // Refused callers first: none of their attempts may leave a row or an event behind.
    let before = event_total(&app).await;
    let mut refused = 0;
    for (rows, target) in [(&own, "own"), (&other, "other")] {
        for (name, query, variables) in mutations(rows) {
            let admin_only = ADMIN_ONLY.contains(&name);
            let cases: [(Option<&str>, &str, &str); 4] = [
                (None, "anonymous", "UNAUTHENTICATED"),
                (Some(&viewer), "VIEWER", "FORBIDDEN"),
                (Some(&mentor), "MENTOR", "FORBIDDEN"),
                (
                    Some(&regency_admin),
                    "REGENCY_ADMIN",
                    match (admin_only, target) {
                        (true, _) => "FORBIDDEN",
                        (false, "own") => "ALLOWED",
                        (false, _) => "NOT_FOUND",
                    },
                ),
            ];
            for (token, who, expected) in cases {
                if expected == "ALLOWED" {
                    continue;
                }
                let response = app.gql_as(token, &query, variables.clone()).await;
                assert_eq!(
                    outcome(&response),
                    expected,
                    "{name} on the {target} regency by {who}: {response}"
                );
                let message = response["errors"][0]["message"]
                    .as_str()
                    .unwrap_or_default();
                assert!(!message.is_empty(), "{name} by {who}: a sentence");
                if expected == "FORBIDDEN" {
                    assert!(
                        message.contains("ADMIN"),
                        "the missing right is named: {message}"
                    );
                }
                refused += 1;
            }
        }
    }
    // Four callers on two regencies, less the REGENCY_ADMIN's own writes (let through).
    let table = mutations(&own).len();
    assert_eq!(refused, table * 4 * 2 - (table - ADMIN_ONLY.len()));
    assert_eq!(
        event_total(&app).await,
        before,
        "a refused write records nothing"
    );

    // Then the callers the rules let through.
    for (name, query, variables) in mutations(&own) {
        let expected = if ADMIN_ONLY.contains(&name) {
            "FORBIDDEN"
        } else {
            "ALLOWED"
        };
        let response = app
            .gql_as(Some(&regency_admin), &query, variables.clone())
            .await;
        assert_eq!(
            outcome(&response),
            expected,
            "{name} by its REGENCY_ADMIN: {response}"
        );
        let mut variables = variables;
        if name == "removeEvidence" {
            variables["input"]["id"] = own.spare_evidence.clone();
        }
        let response = app.gql_as(Some(&admin), &query, variables).await;
        assert_eq!(outcome(&response), "ALLOWED", "{name} by ADMIN: {response}");
    }
}

#[tokio::test]
async fn a_regency_admin_writes_as_itself_in_its_own_regency() {
    let app = TestApp::with_demo().await;
    let own = rows_of(&app, OWN).await;
    let siti = token_for(
        "siti@banjarkab.go.id",
        Role::RegencyAdmin,
        Some(OWN),
        None,
        Duration::from_mins(10),
    );
    let response = app
        .gql_as(
            Some(&siti),
            "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Antar Obat Lansia\",
               problem: \"Lansia sulit ke puskesmas\", type: NON_DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Kesehatan\",
               initiator: CIVIL_SERVANT}) { idea { title } event { actor kind } } }",
            json!({ "c": own.cohort, "u": own.unit }),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response}");
    let event = &response["data"]["submitIdea"]["event"];
    assert_eq!(event["actor"], "siti@banjarkab.go.id");
    assert_eq!(event["kind"], "IDEA_SUBMITTED");
}

#[tokio::test]
async fn reads_stay_within_the_callers_regency() {
    let app = TestApp::with_demo().await;
    let other = rows_of(&app, OTHER).await;
    let other_code_events = app
        .data(
            "query($c: String!) { regency(code: $c) { lastEventSequence } }",
            json!({ "c": OWN }),
        )
        .await["regency"]["lastEventSequence"]
        .as_u64()
        .expect("a sequence");
    for who in [
        token(Role::Viewer, Some(OWN), None),
        token(Role::RegencyAdmin, Some(OWN), None),
    ] {
        let who = Some(who.as_str());
        let data = app
            .gql_as(
                who,
                "query($c: [String!], $i: ID!, $u: ID!) {
                    regencies { totalCount nodes { code } }
                    ideas(filter: {regencyCodes: $c}) { totalCount }
                    units(filter: {regencyCodes: $c}) { totalCount }
                    commitments(filter: {regencyCodes: $c}) { totalCount }
                    node(id: $i) { id }
                    idea(id: $i) { id }
                    unit(id: $u) { id }
                    funnel(filter: {regencyCodes: $c}) { total }
                    ideaCounts(groupBy: REGENCY) { count }
                    pipelineEvents { totalCount resumeCursor }
                    mentors { nodes { ideas(first: 100) { nodes { regency { code } } } } }
                }",
                json!({ "c": [OTHER], "i": other.idea, "u": other.unit }),
            )
            .await;
        assert!(data.get("errors").is_none(), "{data}");
        let data = &data["data"];
        assert_eq!(data["regencies"]["totalCount"], 1);
        assert_eq!(data["regencies"]["nodes"][0]["code"], OWN);
        for list in ["ideas", "units", "commitments"] {
            assert_eq!(data[list]["totalCount"], 0, "{list} of the other regency");
        }
        assert!(data["node"].is_null() && data["idea"].is_null() && data["unit"].is_null());
        assert_eq!(data["funnel"]["total"], 0);
        assert_eq!(data["ideaCounts"].as_array().map(Vec::len), Some(1));
        assert_eq!(data["pipelineEvents"]["totalCount"], other_code_events);
        let cursor = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(
                data["pipelineEvents"]["resumeCursor"]
                    .as_str()
                    .expect("a cursor"),
            )
            .expect("base64");
        let cursor = String::from_utf8(cursor).expect("text");
        assert_eq!(
            cursor.rsplit(';').next().map(|s| s.split(',').count()),
            Some(1),
            "the cursor names only the caller's regency: {cursor}"
        );
        let codes: Vec<&str> = data["mentors"]["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| m["ideas"]["nodes"].as_array().into_iter().flatten())
            .filter_map(|i| i["regency"]["code"].as_str())
            .collect();
        assert!(!codes.is_empty() && codes.iter().all(|c| *c == OWN));
    }
    // A MENTOR reads every regency.
    let mentor = token(Role::Mentor, None, Some(1));
    let data = app
        .gql_as(
            Some(&mentor),
            "{ regencies { totalCount } me { role rights mentor { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["data"]["regencies"]["totalCount"], 3, "{data}");
    assert_eq!(data["data"]["me"]["role"], "MENTOR");
    assert_eq!(data["data"]["me"]["mentor"]["name"], "Suripto");
}

#[tokio::test]
async fn without_a_token_only_the_public_figures_are_open() {
    let app = TestApp::with_demo().await;
    let data = app
        .gql_as(
            None,
            "{ stages { count } funnel { total } ideaCounts(groupBy: STAGE) { count } me { authenticated rights } }",
            json!({}),
        )
        .await;
    assert!(data.get("errors").is_none(), "{data}");
    assert_eq!(data["data"]["funnel"]["total"], 632);
    assert_eq!(data["data"]["me"]["authenticated"], false);
    assert_eq!(
        data["data"]["me"]["rights"],
        json!(["READ_PUBLIC_AGGREGATES"])
    );
    for query in [
        "{ regencies { totalCount } }",
        "{ ideas { totalCount } }",
        "{ pipelineEvents { totalCount } }",
        "{ mentors { totalCount } }",
    ] {
        let response = app.gql_as(None, query, json!({})).await;
        assert_eq!(
            error_code(&response),
            "UNAUTHENTICATED",
            "{query}: {response}"
        );
    }
}

#[tokio::test]
async fn bad_tokens_are_unauthenticated() {
    let app = TestApp::with_demo().await;
    let good = admin_token();
    let (header, rest) = good.split_once('.').expect("a JWT");
    let (payload, signature) = rest.split_once('.').expect("a JWT");
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value =
        serde_json::from_slice(&b64.decode(payload).expect("base64")).expect("JSON");
    claims["role"] = json!("ADMIN");
    claims["sub"] = json!("mallory");
    let forged_payload = b64.encode(claims.to_string());
    let none_header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let other_secret = sign_with(
        "another server's secret, also 32+ bytes",
        &labinov::cli::claims("eve", Role::Admin, None, None, Duration::from_mins(10))
            .expect("claims"),
    );
    let expired = {
        let mut claims =
            labinov::cli::claims("late", Role::Admin, None, None, Duration::from_secs(1))
                .expect("claims");
        claims.exp -= 3600;
        sign_with(crate::helpers::TEST_SECRET, &claims)
    };
    // Well signed, but naming its holder in a way no event may record as the actor.
    let with_subject = |sub: String| {
        let mut claims =
            labinov::cli::claims("x", Role::Admin, None, None, Duration::from_mins(10))
                .expect("claims");
        claims.sub = sub;
        jsonwebtoken::encode(
            &jsonwebtoken::Header::default(),
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(crate::helpers::TEST_SECRET.as_bytes()),
        )
        .expect("a token")
    };
    let cases = [
        (
            "a subject of 20,000 characters",
            with_subject("a".repeat(20_000)),
        ),
        (
            "a subject turning its text",
            with_subject("admin\u{202E}nimda".to_owned()),
        ),
        (
            "a subject with a line break",
            with_subject("rina\nADMIN".to_owned()),
        ),
        ("an empty subject", with_subject(String::new())),
        (
            "a mentor who does not exist",
            token(Role::Mentor, None, Some(999_999)),
        ),
        ("tampered", format!("{header}.{forged_payload}.{signature}")),
        ("alg none", format!("{none_header}.{payload}.")),
        ("wrong secret", other_secret),
        ("expired", expired),
        ("garbage", "not-a-token".to_owned()),
    ];
    for (what, bad) in cases {
        let request = Request::post("/graphql")
            .header("content-type", "application/json")
            .header("authorization", format!("Bearer {bad}"))
            .body(Body::from(
                json!({"query": "{ funnel { total } }"}).to_string(),
            ))
            .expect("a request");
        let (status, body) = app.send(request).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert_eq!(error_code(&body), "UNAUTHENTICATED", "{what}: {body}");
    }
}

#[tokio::test]
async fn live_events_reach_only_callers_who_may_see_them() {
    let app = TestApp::with_demo().await;
    let own = rows_of(&app, OWN).await;
    let other = rows_of(&app, OTHER).await;
    let subscription = "subscription { pipelineEvents { regency { code } kind sequence } }";

    // Without a token the event stream is refused.
    let mut anonymous = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("the socket opens");
    anonymous.init_with(json!({})).await;
    anonymous.subscribe("1", subscription, json!({})).await;
    let refused = anonymous.next_result().await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");

    // A viewer of one regency hears its events only.
    let mut viewer = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("the socket opens");
    viewer
        .init_with(
            json!({ "Authorization": format!("Bearer {}", token(Role::Viewer, Some(OWN), None)) }),
        )
        .await;
    viewer.subscribe("1", subscription, json!({})).await;
    // A subscription that starts now hears the events from when it runs: write in the
    // viewer's regency until it hears one, then read on to the last of those writes.
    let update = "mutation($id: ID!, $v: Int!, $o: String!) { updateRegency(input: {id: $id, version: $v, organiser: $o}) { regency { version lastEventSequence } } }";
    let mut own_version = json!(1);
    let mut own_last = Value::Null;
    for attempt in 0.. {
        assert!(attempt < 20, "the viewer's subscription never delivered");
        let written = app
            .data(
                update,
                json!({ "id": own.regency, "v": own_version, "o": format!("Bappeda {attempt}") }),
            )
            .await;
        own_version = written["updateRegency"]["regency"]["version"].clone();
        own_last = written["updateRegency"]["regency"]["lastEventSequence"].clone();
        if let Ok(heard) = tokio::time::timeout(Duration::from_secs(1), viewer.next_result()).await
        {
            assert_eq!(
                heard["data"]["pipelineEvents"]["regency"]["code"], OWN,
                "{heard}"
            );
            let mut heard = heard;
            while heard["data"]["pipelineEvents"]["sequence"] != own_last {
                heard = viewer.next_result().await;
                assert_eq!(
                    heard["data"]["pipelineEvents"]["regency"]["code"], OWN,
                    "{heard}"
                );
            }
            break;
        }
    }
    // Now it runs: a write in another regency, then one in its own.
    for (rows, version) in [(&other, json!(1)), (&own, own_version)] {
        let response = app
            .gql(
                update,
                json!({ "id": rows.regency, "v": version, "o": "Bappeda" }),
            )
            .await;
        assert!(response.get("errors").is_none(), "{response}");
    }
    let first = viewer.next_result().await;
    assert_eq!(
        first["data"]["pipelineEvents"]["regency"]["code"], OWN,
        "{first}"
    );
    assert_eq!(
        first["data"]["pipelineEvents"]["sequence"],
        own_last.as_i64().expect("a sequence") + 1,
        "{first}"
    );
    viewer.expect_nothing_for(Duration::from_millis(300)).await;

    // A bad token in connection_init closes the socket with 4403.
    let mut forged = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("the socket opens");
    forged
        .send_text(
            json!({"type": "connection_init", "payload": {"Authorization": "Bearer nope"}})
                .to_string(),
        )
        .await;
    assert_eq!(forged.close_code().await, Some(4403));
}

#[tokio::test]
async fn a_subscription_ends_when_its_token_expires() {
    let app = TestApp::with_demo().await;
    let short = token_for("brief", Role::Admin, None, None, Duration::from_secs(2));
    let mut client = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("the socket opens");
    client
        .init_with(json!({ "Authorization": format!("Bearer {short}") }))
        .await;
    client
        .subscribe("1", "subscription { pipelineEvents { cursor } }", json!({}))
        .await;
    assert_eq!(client.close_code().await, Some(4403));

    // Over SSE the stream ends with an UNAUTHENTICATED error.
    let short = token_for("brief", Role::Admin, None, None, Duration::from_secs(2));
    let body = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/event-stream")
        .query(&[
            ("query", "subscription { pipelineEvents { cursor } }"),
            ("token", short.as_str()),
        ])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("the stream ends");
    assert!(body.contains("UNAUTHENTICATED"), "{body}");
    assert!(body.contains("event: complete"), "{body}");
}

#[tokio::test]
async fn a_token_over_its_rate_is_told_when_to_come_back() {
    let (mut config, dir) = crate::helpers::fresh_config();
    config.limits.rate_limit_per_token = 3;
    let app = TestApp::start(config, false, std::sync::Arc::new(dir)).await;
    let siti = token_for("siti", Role::Viewer, None, None, Duration::from_mins(10));
    for _ in 0..3 {
        let ok = app
            .gql_as(Some(&siti), "{ regencies { totalCount } }", json!({}))
            .await;
        assert!(ok.get("errors").is_none(), "{ok}");
    }
    let request = Request::post("/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {siti}"))
        .body(Body::from(
            json!({"query": "{ regencies { totalCount } }"}).to_string(),
        ))
        .expect("a request");
    let (status, body) = app.send(request).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_code(&body), "RATE_LIMITED");
    let retry = body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .expect("retryAfter");
    assert!((1..=20).contains(&retry), "{body}");
    // Another token is not held back by siti's.
    let other = app
        .gql_as(
            Some(&admin_token()),
            "{ regencies { totalCount } }",
            json!({}),
        )
        .await;
    assert!(other.get("errors").is_none(), "{other}");

    // Over a WebSocket every subscribe counts too.
    let mut client = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("the socket opens");
    client
        .init_with(json!({ "Authorization": format!("Bearer {siti}") }))
        .await;
    client
        .subscribe("1", "subscription { pipelineEvents { cursor } }", json!({}))
        .await;
    let refused = client.next_result().await;
    assert_eq!(error_code(&refused), "RATE_LIMITED", "{refused}");
    // The refused operation does not hold its id: asking again is refused the same way, not
    // closed as a duplicate.
    client
        .subscribe("1", "subscription { pipelineEvents { cursor } }", json!({}))
        .await;
    let again = client.next_result().await;
    assert_eq!(error_code(&again), "RATE_LIMITED", "{again}");
}

#[tokio::test]
async fn a_provinces_identity_provider_can_issue_rs256_tokens() {
    let (mut config, dir) = crate::helpers::fresh_config();
    config.tokens.jwt_public_keys = Some(fixture("idp_rs256_public.pem"));
    let app = TestApp::start(config, true, std::sync::Arc::new(dir)).await;
    let claims = labinov::cli::claims(
        "ani@kalselprov.go.id",
        Role::Viewer,
        Some(OWN.to_owned()),
        None,
        Duration::from_mins(10),
    )
    .expect("claims");
    let signed = provider_token(&claims, None);
    let data = app
        .gql_as(
            Some(&signed),
            "{ me { subject role } regencies { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["data"]["me"]["subject"], "ani@kalselprov.go.id",
        "{data}"
    );
    assert_eq!(data["data"]["regencies"]["totalCount"], 1);
    // The HS256 secret still works beside it.
    let admin = app.gql("{ regencies { totalCount } }", json!({})).await;
    assert_eq!(admin["data"]["regencies"]["totalCount"], 3, "{admin}");
}

#[tokio::test]
async fn an_event_stream_without_a_token_is_refused_with_a_reason() {
    let app = TestApp::with_demo().await;
    let body = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/event-stream")
        .query(&[("query", "subscription { pipelineEvents { cursor } }")])
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the server answers")
        .text()
        .await
        .expect("the stream ends");
    assert!(body.contains("UNAUTHENTICATED"), "{body}");
    // The public funnel streams without one.
    let mut stream = reqwest::Client::new()
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/event-stream")
        .query(&[("query", "subscription { funnel { funnel { total } } }")])
        .send()
        .await
        .expect("the server answers");
    let first = stream.chunk().await.expect("a chunk").expect("bytes");
    assert!(
        String::from_utf8_lossy(&first).contains("632"),
        "{}",
        String::from_utf8_lossy(&first)
    );
}

#[tokio::test]
async fn the_public_figures_do_not_spell_out_rows() {
    let app = TestApp::with_demo().await;
    for query in [
        "{ ideaCounts(groupBy: UNIT) { label count } }",
        "{ ideaCounts(groupBy: COHORT) { label count } }",
        "{ funnel(filter: { search: \"posyandu\" }) { total } }",
        "{ stages(filter: { or: [{ search: \"a\" }] }) { count } }",
    ] {
        let response = app.gql_as(None, query, json!({})).await;
        assert_eq!(
            error_code(&response),
            "UNAUTHENTICATED",
            "{query}: {response}"
        );
    }
    let viewer = token(Role::Viewer, Some(OWN), None);
    let units = app
        .gql_as(
            Some(&viewer),
            "{ ideaCounts(groupBy: UNIT) { label count } }",
            json!({}),
        )
        .await;
    assert!(units.get("errors").is_none(), "{units}");
}

#[tokio::test]
async fn a_refused_write_does_not_quote_another_regencys_rows() {
    let app = TestApp::with_demo().await;
    let own = rows_of(&app, OWN).await;
    let other = rows_of(&app, OTHER).await;
    let title = app
        .data(
            "query($i: ID!) { idea(id: $i) { title } }",
            json!({ "i": other.idea }),
        )
        .await["idea"]["title"]
        .as_str()
        .expect("a title")
        .to_owned();
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let response = app
        .gql_as(
            Some(&regency_admin),
            "mutation($c: ID!, $u: ID!, $i: ID!) { createCommitment(input: {cohortId: $c, unitId: $u, ideaIds: [$i],
               signatoryName: \"Uji\", signatoryTitle: \"Kepala\", counterpart: \"Bupati\", target: \"Uji\"}) { __typename } }",
            json!({ "c": own.cohort, "u": own.unit, "i": other.idea }),
        )
        .await;
    assert_eq!(error_code(&response), "NOT_FOUND", "{response}");
    assert!(!response.to_string().contains(&title), "{response}");
    let response = app
        .gql_as(
            Some(&regency_admin),
            "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Uji\", problem: \"Uji\",
               type: DIGITAL, form: OTHER, affairsArea: \"Uji\", initiator: WORK_UNIT}) { __typename } }",
            json!({ "c": own.cohort, "u": other.unit }),
        )
        .await;
    assert_eq!(error_code(&response), "NOT_FOUND", "{response}");
    assert!(
        !response.to_string().contains("Puskesmas") && !response.to_string().contains("Dinas"),
        "{response}"
    );
}

#[tokio::test]
async fn introspection_can_be_closed_to_callers_without_a_token() {
    let (mut config, dir) = crate::helpers::fresh_config();
    config.limits.no_anonymous_introspection = true;
    let app = TestApp::start(config, false, std::sync::Arc::new(dir)).await;
    let anonymous = app
        .gql_as(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert!(anonymous["data"]["__schema"].is_null(), "{anonymous}");
    let signed_in = app
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(signed_in["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test]
async fn a_provider_token_must_name_the_configured_issuer_and_audience() {
    let (mut config, dir) = crate::helpers::fresh_config();
    config.tokens.jwt_public_keys = Some(fixture("idp_rs256_public.pem"));
    config.tokens.jwt_issuer = Some("https://sso.kalselprov.go.id".to_owned());
    config.tokens.jwt_audience = Some("labinov".to_owned());
    let app = TestApp::start(config, false, std::sync::Arc::new(dir)).await;
    let exp = chrono::Utc::now().timestamp() + 600;
    let base = json!({ "sub": "ani", "role": "VIEWER", "exp": exp });
    let mut right = base.clone();
    right["iss"] = json!("https://sso.kalselprov.go.id");
    right["aud"] = json!("labinov");
    let mut other_service = right.clone();
    other_service["aud"] = json!("e-kinerja");
    for (claims, expected) in [(base, false), (other_service, false), (right, true)] {
        let response = app
            .gql_as(
                Some(&provider_token(&claims, None)),
                "{ me { subject } }",
                json!({}),
            )
            .await;
        assert_eq!(
            response.get("errors").is_none(),
            expected,
            "{claims}: {response}"
        );
    }
}

#[tokio::test]
async fn a_jwks_file_picks_the_key_a_token_names() {
    let (mut config, dir) = crate::helpers::fresh_config();
    config.tokens.jwt_public_keys = Some(fixture("idp_jwks.json"));
    let app = TestApp::start(config, false, std::sync::Arc::new(dir)).await;
    let claims =
        json!({ "sub": "ani", "role": "VIEWER", "exp": chrono::Utc::now().timestamp() + 600 });
    let sign = |kid: &str| provider_token(&claims, Some(kid));
    let known = app
        .gql_as(Some(&sign("kalsel-2026")), "{ me { subject } }", json!({}))
        .await;
    assert_eq!(known["data"]["me"]["subject"], "ani", "{known}");
    let unknown = app
        .gql_as(Some(&sign("another-key")), "{ me { subject } }", json!({}))
        .await;
    assert_eq!(error_code(&unknown), "UNAUTHENTICATED", "{unknown}");
}

#[tokio::test]
async fn a_token_not_valid_yet_or_with_an_impossible_expiry_is_refused_with_a_sentence() {
    let (mut config, dir) = crate::helpers::fresh_config();
    config.tokens.jwt_public_keys = Some(fixture("idp_rs256_public.pem"));
    let app = TestApp::start(config, false, std::sync::Arc::new(dir)).await;
    let now = chrono::Utc::now().timestamp();
    let valid = json!({ "sub": "ani", "role": "VIEWER", "exp": now + 600, "nbf": now - 60 });
    let ok = app
        .gql_as(
            Some(&provider_token(&valid, None)),
            "{ me { subject } }",
            json!({}),
        )
        .await;
    assert_eq!(ok["data"]["me"]["subject"], "ani", "{ok}");
    let early = json!({ "sub": "ani", "role": "VIEWER", "exp": now + 7200, "nbf": now + 3600 });
    let forever = json!({ "sub": "ani", "role": "VIEWER", "exp": i64::MAX / 2 });
    for (claims, says) in [(early, "not valid yet"), (forever, "expiry")] {
        let refused = app
            .gql_as(
                Some(&provider_token(&claims, None)),
                "{ me { subject } }",
                json!({}),
            )
            .await;
        assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| m.contains(says)),
            "{claims}: {refused}"
        );
    }
}

/// A VIEWER of one regency reads nothing of another through a filter naming it, a cursor taken
/// from the other regency's pages, or the other regency's ranking.
#[tokio::test]
async fn a_viewer_reads_no_other_regency_through_filters_cursors_or_rankings() {
    let app = TestApp::with_demo().await;
    let viewer = token(Role::Viewer, Some(OWN), None);
    let other = app
        .data(
            "query($o: String!) { cohorts(filter: {regencyCodes: [$o]}) { nodes { id } }
               ideas(filter: {regencyCodes: [$o]}, first: 2) { totalCount pageInfo { endCursor } } }",
            json!({"o": OTHER}),
        )
        .await;
    assert!(
        other["ideas"]["totalCount"].as_u64() > Some(0),
        "the other regency has ideas"
    );

    let named = app
        .gql_as(
            Some(&viewer),
            "query($o: String!) { ideas(filter: {regencyCodes: [$o]}) { totalCount nodes { id } } }",
            json!({"o": OTHER}),
        )
        .await;
    assert_eq!(named["data"]["ideas"]["totalCount"], 0, "{named}");
    assert_eq!(named["data"]["ideas"]["nodes"], json!([]), "{named}");

    let forged = app
        .gql_as(
            Some(&viewer),
            "query($a: String) { ideas(first: 100, after: $a) { nodes { regency { code } } } }",
            json!({"a": other["ideas"]["pageInfo"]["endCursor"]}),
        )
        .await;
    let codes: Vec<&Value> = forged["data"]["ideas"]["nodes"]
        .as_array()
        .map(|nodes| nodes.iter().map(|n| &n["regency"]["code"]).collect())
        .unwrap_or_default();
    assert!(
        codes.iter().all(|code| *code == OWN),
        "a cursor of the other regency shows only the viewer's own: {forged}"
    );

    let ranking = app
        .gql_as(
            Some(&viewer),
            "query($c: ID!) { ranking(cohortId: $c) { total entries { idea { id } } } }",
            json!({"c": other["cohorts"]["nodes"][0]["id"]}),
        )
        .await;
    assert_eq!(error_code(&ranking), "NOT_FOUND", "{ranking}");
}

/// The `idea(id)` and `ranking` subscriptions answer a VIEWER about another regency's idea or
/// cohort exactly as about one that does not exist.
#[tokio::test]
async fn a_viewer_subscribes_to_no_other_regencys_idea_or_ranking() {
    let app = TestApp::with_demo().await;
    let other = rows_of(&app, OTHER).await;
    let own = rows_of(&app, OWN).await;
    let mut viewer = WsClient::open(&app.ws_url(), false, None)
        .await
        .expect("the socket opens");
    viewer
        .init_with(
            json!({ "Authorization": format!("Bearer {}", token(Role::Viewer, Some(OWN), None)) }),
        )
        .await;
    let idea = "subscription($i: ID!) { idea(id: $i) { id title } }";
    let ranking = "subscription($c: ID!) { ranking(cohortId: $c) { total } }";
    viewer.subscribe("1", idea, json!({"i": other.idea})).await;
    let refused = viewer.next_result().await;
    assert_eq!(error_code(&refused), "NOT_FOUND", "{refused}");
    viewer
        .subscribe("2", ranking, json!({"c": other.cohort}))
        .await;
    let refused = viewer.next_result().await;
    assert_eq!(error_code(&refused), "NOT_FOUND", "{refused}");
    // The same subscriptions on the viewer's own regency answer.
    viewer.subscribe("3", idea, json!({"i": own.idea})).await;
    let answered = viewer.next_result().await;
    assert_eq!(answered["data"]["idea"]["id"], own.idea, "{answered}");
}
