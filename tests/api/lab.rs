//! The lab's own work: mentor reviews on a rubric, the score and the ranking, stall reasons
//! and the follow-up of stale ideas, innovators and hand-overs, the CSV export.

use axum::{body::Body, http::Request};
use http_body_util::BodyExt;
use labinov::{access::Role, global_id};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::clients::WsClient;
use crate::helpers::{TestApp, error_code, event_total, token};

const BANJAR: &str = "63.03";

const SCORE: &str = "mutation($i: ID!, $s: [CriterionScoreInput!]!, $r: Recommendation!) {
    reviewIdea(input: {ideaId: $i, scores: $s, recommendation: $r, comment: \"Catatan mentor\"}) {
        review { id total current stage scores { criterion weight score } mentor { name } }
        idea { id score }
        event { kind actor } } }";

/// Scores on the default rubric: novelty, usefulness, replicability, authority, mastery.
fn scores(values: [i64; 5]) -> Value {
    let keys = [
        "NOVELTY",
        "USEFULNESS",
        "REPLICABILITY",
        "AUTHORITY",
        "MASTERY",
    ];
    Value::Array(
        keys.iter()
            .zip(values)
            .map(|(k, v)| json!({"criterion": k, "score": v}))
            .collect(),
    )
}

/// A fresh lab edition of Banjar with three ideas (submitted a day apart) and two LAN mentors
/// assigned to all of them, and the MENTOR tokens of those two and of a third, unassigned one.
struct Lab {
    cohort: Value,
    ideas: Vec<Value>,
    mentors: Vec<String>,
    stranger: String,
}

fn db_id(kind: global_id::Kind, id: &Value) -> i32 {
    global_id::decode(kind, id.as_str().expect("an id")).expect("a global id")
}

async fn lab(app: &TestApp, rubric: Option<Value>) -> Lab {
    let regency = app
        .data(
            "query($c: String!) { regency(code: $c) { id units { id } } }",
            json!({"c": BANJAR}),
        )
        .await;
    let regency_id = &regency["regency"]["id"];
    let unit = &regency["regency"]["units"][0]["id"];
    let cohort = app
        .data(
            "mutation($r: ID!, $k: [RubricCriterionInput!]) { createCohort(input: {regencyId: $r, year: 2026, name: \"Lab Uji Penilaian\", rubric: $k}) { cohort { id } } }",
            json!({"r": regency_id, "k": rubric}),
        )
        .await["createCohort"]["cohort"]["id"]
        .clone();
    let mut ideas = Vec::new();
    for (n, day) in ["2026-01-05", "2026-01-06", "2026-01-07"]
        .iter()
        .enumerate()
    {
        let idea = app
            .data(
                "mutation($c: ID!, $u: ID!, $t: String!, $at: DateTime!) { submitIdea(input: {cohortId: $c, unitId: $u, title: $t,
                   problem: \"Antrean panjang\", type: DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Kesehatan\",
                   initiator: WORK_UNIT, submittedAt: $at, innovator: {name: \"Siti Rahmawati\", position: \"Kepala Seksi\"}}) { idea { id } } }",
                json!({"c": cohort, "u": unit, "t": format!("Ide Uji {n}"), "at": format!("{day}T08:00:00Z")}),
            )
            .await["submitIdea"]["idea"]["id"]
            .clone();
        ideas.push(idea);
    }
    let all = app
        .data("{ mentors(first: 3) { nodes { id } } }", json!({}))
        .await;
    let mentor_ids: Vec<Value> = all["mentors"]["nodes"]
        .as_array()
        .expect("mentors")
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    for idea in &ideas {
        for mentor in &mentor_ids[..2] {
            app.data(
                "mutation($i: ID!, $m: ID!) { assignMentor(input: {ideaId: $i, mentorId: $m}) { assignment { current } } }",
                json!({"i": idea, "m": mentor}),
            )
            .await;
        }
    }
    let mentor_token =
        |m: &Value| token(Role::Mentor, None, Some(db_id(global_id::Kind::Mentor, m)));
    Lab {
        cohort,
        ideas: ideas.clone(),
        mentors: mentor_ids[..2].iter().map(mentor_token).collect(),
        stranger: mentor_token(&mentor_ids[2]),
    }
}

#[tokio::test]
async fn a_rubric_is_the_default_or_weights_that_sum_to_100() {
    let app = TestApp::with_demo().await;
    let banjar = app
        .data(
            "{ cohorts(filter: {regencyCodes: [\"63.03\"]}) { nodes { rubric { key weight } } } }",
            json!({}),
        )
        .await;
    let weights: Vec<(String, i64)> = banjar["cohorts"]["nodes"][0]["rubric"]
        .as_array()
        .expect("a rubric")
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap_or_default().to_owned(),
                c["weight"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        weights,
        [
            ("NOVELTY", 30),
            ("USEFULNESS", 25),
            ("REPLICABILITY", 20),
            ("AUTHORITY", 15),
            ("MASTERY", 10)
        ]
        .map(|(k, w)| (k.to_owned(), w))
    );

    let regency = app
        .data("{ regency(code: \"63.03\") { id } }", json!({}))
        .await["regency"]["id"]
        .clone();
    let create = "mutation($r: ID!, $n: String!, $k: [RubricCriterionInput!]) { createCohort(input: {regencyId: $r, year: 2026, name: $n, rubric: $k}) { cohort { id version rubric { key name weight } } } }";
    let before = event_total(&app).await;
    for (bad, says) in [
        (
            json!([{"key": "A", "name": "A", "weight": 60}, {"key": "B", "name": "B", "weight": 30}]),
            "sum to 90",
        ),
        (
            json!([{"key": "A", "name": "A", "weight": 50}, {"key": "a", "name": "A again", "weight": 50}]),
            "twice",
        ),
        (
            json!([{"key": "A", "name": "A", "weight": 100}, {"key": "B", "name": "B", "weight": 0}]),
            "from 1 to 100",
        ),
        (
            json!([{"key": "NO SPACES", "name": "A", "weight": 100}]),
            "letters, digits or underscores",
        ),
        (json!([]), "1 to 12 criteria"),
    ] {
        let response = app
            .gql(
                create,
                json!({"r": regency, "n": "Lab Rubrik Salah", "k": bad}),
            )
            .await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains(says), "{message}");
    }
    assert_eq!(
        event_total(&app).await,
        before,
        "a refused rubric writes nothing"
    );

    let own = json!([
        {"key": "IMPACT", "name": "Dampak bagi warga", "weight": 50},
        {"key": "COST", "name": "Efisiensi biaya", "weight": 30},
        {"key": "SUSTAINABILITY", "name": "Keberlanjutan", "weight": 20}
    ]);
    let created = app
        .data(
            create,
            json!({"r": regency, "n": "Lab Rubrik Sendiri", "k": own}),
        )
        .await;
    assert_eq!(created["createCohort"]["cohort"]["rubric"], own);
}

#[tokio::test]
async fn only_the_assigned_mentors_review_and_refusals_write_nothing() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let idea = &lab.ideas[0];
    let variables = json!({"i": idea, "s": scores([80, 70, 60, 90, 50]), "r": "ADVANCE"});
    let before = event_total(&app).await;
    let regency_admin = token(Role::RegencyAdmin, Some(BANJAR), None);
    let viewer = token(Role::Viewer, Some(BANJAR), None);
    let admin = crate::helpers::admin_token();
    for (who, caller, code) in [
        ("anonymous", None, "UNAUTHENTICATED"),
        ("VIEWER", Some(viewer.as_str()), "FORBIDDEN"),
        ("REGENCY_ADMIN", Some(regency_admin.as_str()), "FORBIDDEN"),
        ("ADMIN", Some(admin.as_str()), "FORBIDDEN"),
        (
            "an unassigned MENTOR",
            Some(lab.stranger.as_str()),
            "FORBIDDEN",
        ),
    ] {
        let response = app.gql_as(caller, SCORE, variables.clone()).await;
        assert_eq!(error_code(&response), code, "{who}: {response}");
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("mentor"), "{who}: {message}");
    }
    // A bad scoring is refused as bad input, whoever sends it.
    for (bad, says) in [
        (scores([80, 70, 60, 90, 101]), "from 0 to 100"),
        (json!([{"criterion": "NOVELTY", "score": 80}]), "USEFULNESS"),
        (
            json!([{"criterion": "BEAUTY", "score": 80}]),
            "no criterion BEAUTY",
        ),
    ] {
        let response = app
            .gql_as(
                Some(&lab.mentors[0]),
                SCORE,
                json!({"i": idea, "s": bad, "r": "REVISE"}),
            )
            .await;
        assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
        assert!(
            response["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(says)
        );
    }
    assert_eq!(
        event_total(&app).await,
        before,
        "refused reviews write nothing"
    );
    let reviews = app
        .data(
            "query($i: ID!) { idea(id: $i) { score reviews(includeSuperseded: true) { id } } }",
            json!({"i": idea}),
        )
        .await;
    assert_eq!(reviews["idea"]["reviews"], json!([]));
    assert_eq!(reviews["idea"]["score"], Value::Null);

    // A dropped idea is final: no more reviews.
    let dropped = &lab.ideas[2];
    app.data(
        "mutation($i: ID!) { dropIdea(input: {id: $i, version: 1, reason: \"Tumpang tindih\"}) { idea { status } } }",
        json!({"i": dropped}),
    )
    .await;
    let response = app
        .gql_as(
            Some(&lab.mentors[0]),
            SCORE,
            json!({"i": dropped, "s": scores([80, 70, 60, 90, 50]), "r": "DROP"}),
        )
        .await;
    assert_eq!(error_code(&response), "INVALID_TRANSITION", "{response}");
}

#[tokio::test]
async fn the_score_is_the_weighted_mean_of_current_reviews_and_history_is_kept() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let idea = &lab.ideas[0];
    let queue =
        "query($c: ID!) { reviewQueue(filter: {cohortIds: [$c]}) { totalCount nodes { id } } }";
    let in_queue = |response: &Value| {
        response["reviewQueue"]["nodes"]
            .as_array()
            .expect("a queue")
            .iter()
            .any(|n| n["id"] == *idea)
    };
    let first_queue = app
        .gql_as(Some(&lab.mentors[0]), queue, json!({"c": lab.cohort}))
        .await;
    assert!(in_queue(&first_queue["data"]), "{first_queue}");

    // 80×30 + 70×25 + 60×20 + 90×15 + 50×10 = 7200 hundredths.
    let version = app.domain.data_version().await.expect("a version");
    let first = app
        .gql_as(
            Some(&lab.mentors[0]),
            SCORE,
            json!({"i": idea, "s": scores([80, 70, 60, 90, 50]), "r": "ADVANCE"}),
        )
        .await;
    assert!(first.get("errors").is_none(), "{first}");
    assert_ne!(
        app.domain.data_version().await.expect("a version"),
        version,
        "a review moves the data version the response cache goes by"
    );
    let review = &first["data"]["reviewIdea"];
    assert_eq!(review["review"]["total"], 72.0);
    assert_eq!(review["review"]["stage"], "DIAGNOSE");
    assert_eq!(review["idea"]["score"], 72.0);
    assert_eq!(review["event"]["kind"], "IDEA_REVIEWED");
    assert_eq!(review["event"]["actor"], "tester");
    let after = app
        .gql_as(Some(&lab.mentors[0]), queue, json!({"c": lab.cohort}))
        .await;
    assert!(!in_queue(&after["data"]), "reviewed ideas leave the queue");

    // A second mentor: the score is the mean of both. 65×30 + 81×25 + 70×20 + 40×15 + 99×10 = 6965.
    let second = app
        .gql_as(
            Some(&lab.mentors[1]),
            SCORE,
            json!({"i": idea, "s": scores([65, 81, 70, 40, 99]), "r": "REVISE"}),
        )
        .await;
    assert_eq!(second["data"]["reviewIdea"]["review"]["total"], 69.65);
    // (7200 + 6965) / 2 = 7082.5, rounded half up to 70.83.
    assert_eq!(second["data"]["reviewIdea"]["idea"]["score"], 70.83);

    // The first mentor reviews again: the new review supersedes the old, which is kept.
    // 100×30 + 100×25 + 100×20 + 100×15 + 100×10 = 10000.
    let again = app
        .gql_as(
            Some(&lab.mentors[0]),
            SCORE,
            json!({"i": idea, "s": scores([100, 100, 100, 100, 100]), "r": "ADVANCE"}),
        )
        .await;
    // (10000 + 6965) / 2 = 8482.5 → 84.83.
    assert_eq!(
        again["data"]["reviewIdea"]["idea"]["score"], 84.83,
        "{again}"
    );
    let history = app
        .data(
            "query($i: ID!) { idea(id: $i) { score current: reviews { total current } all: reviews(includeSuperseded: true) { total current supersededAt } } }",
            json!({"i": idea}),
        )
        .await;
    assert_eq!(history["idea"]["current"].as_array().map(Vec::len), Some(2));
    let all = history["idea"]["all"].as_array().expect("reviews");
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["total"], 72.0);
    assert_eq!(all[0]["current"], false);
    assert!(all[0]["supersededAt"].is_string());

    // Reviews are readable as nodes and flow as events like any other change.
    let node = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Review { total mentor { name } } } }",
            json!({"id": review["review"]["id"]}),
        )
        .await;
    assert_eq!(node["node"]["total"], 72.0);
    let events = app
        .data(
            "query($c: [String!]) { pipelineEvents(filter: {regencyCodes: $c, kinds: [IDEA_REVIEWED]}, last: 3) { nodes { kind idea { id } } } }",
            json!({"c": [BANJAR]}),
        )
        .await;
    let nodes = events["pipelineEvents"]["nodes"]
        .as_array()
        .expect("events");
    assert_eq!(nodes.len(), 3);
    assert!(nodes.iter().all(|e| e["idea"]["id"] == *idea));

    // A cohort's rubric is fixed once its ideas are reviewed, so scores stay comparable.
    let cohort = app
        .data(
            "query($c: ID!) { node(id: $c) { ... on Cohort { version } } }",
            json!({"c": lab.cohort}),
        )
        .await;
    let changed = app
        .gql(
            "mutation($c: ID!, $v: Int!) { updateCohort(input: {id: $c, version: $v, rubric: [{key: \"ALL\", name: \"Semua\", weight: 100}]}) { cohort { id } } }",
            json!({"c": lab.cohort, "v": cohort["node"]["version"]}),
        )
        .await;
    assert_eq!(error_code(&changed), "BAD_USER_INPUT", "{changed}");
}

#[tokio::test]
async fn the_ranking_orders_by_score_and_breaks_ties_the_same_way_every_time() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let ranking = "query($c: ID!) { ranking(cohortId: $c, stageAtLeast: DIAGNOSE) { total scored entries { rank score reviewCount idea { id } } } }";
    // Ideas 0 and 1 tie on score with one review each: the earlier submission (idea 0) first.
    // Idea 2 scores higher. An unreviewed idea would come last.
    for (n, values) in [
        (1, [70, 70, 70, 70, 70]),
        (0, [70, 70, 70, 70, 70]),
        (2, [90, 90, 90, 90, 90]),
    ] {
        let response = app
            .gql_as(
                Some(&lab.mentors[0]),
                SCORE,
                json!({"i": lab.ideas[n], "s": scores(values), "r": "ADVANCE"}),
            )
            .await;
        assert!(response.get("errors").is_none(), "{response}");
    }
    let order = |data: &Value| -> Vec<Value> {
        data["ranking"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["idea"]["id"].clone())
            .collect()
    };
    let first = app.data(ranking, json!({"c": lab.cohort})).await;
    assert_eq!(
        order(&first),
        [
            lab.ideas[2].clone(),
            lab.ideas[0].clone(),
            lab.ideas[1].clone()
        ]
    );
    let ranks: Vec<i64> = first["ranking"]["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["rank"].as_i64().unwrap_or_default())
        .collect();
    assert_eq!(ranks, [1, 2, 3]);
    assert_eq!(first["ranking"]["entries"][0]["score"], 90.0);
    // Asked again, the same order.
    assert_eq!(
        order(&app.data(ranking, json!({"c": lab.cohort})).await),
        order(&first)
    );

    // A second review of idea 1 at the same score: more reviews now break the tie in its favour.
    let response = app
        .gql_as(
            Some(&lab.mentors[1]),
            SCORE,
            json!({"i": lab.ideas[1], "s": scores([70, 70, 70, 70, 70]), "r": "ADVANCE"}),
        )
        .await;
    assert!(response.get("errors").is_none(), "{response}");
    let second = app.data(ranking, json!({"c": lab.cohort})).await;
    assert_eq!(
        order(&second),
        [
            lab.ideas[2].clone(),
            lab.ideas[1].clone(),
            lab.ideas[0].clone()
        ]
    );
    assert_eq!(second["ranking"]["entries"][1]["reviewCount"], 2);
    // Entries come a page at a time, as any list.
    let too_many = app
        .gql(
            "query($c: ID!) { ranking(cohortId: $c, stageAtLeast: DIAGNOSE) { entries(first: 1000) { rank } } }",
            json!({"c": lab.cohort}),
        )
        .await;
    assert_eq!(error_code(&too_many), "BAD_USER_INPUT", "{too_many}");
    // Without a token there is no queue to see.
    let anonymous = app
        .gql_as(None, "{ reviewQueue { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
    // At DELIVER none of them is ranked yet.
    let launched = app
        .data(
            "query($c: ID!) { ranking(cohortId: $c) { total } }",
            json!({"c": lab.cohort}),
        )
        .await;
    assert_eq!(launched["ranking"]["total"], 0);
}

#[tokio::test]
async fn the_ranking_subscription_sends_a_snapshot_then_each_change() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let mut screen = WsClient::connect(&app.ws_url(), false).await;
    screen
        .subscribe(
            "r",
            "subscription($c: ID!) { ranking(cohortId: $c, stageAtLeast: DIAGNOSE) { scored entries(first: 1) { score idea { id } } } }",
            json!({"c": lab.cohort}),
        )
        .await;
    let snapshot = screen.next_result().await;
    assert_eq!(snapshot["data"]["ranking"]["scored"], 0, "{snapshot}");
    app.gql_as(
        Some(&lab.mentors[0]),
        SCORE,
        json!({"i": lab.ideas[1], "s": scores([90, 90, 90, 90, 90]), "r": "ADVANCE"}),
    )
    .await;
    let update = screen.next_result().await;
    assert_eq!(update["data"]["ranking"]["scored"], 1, "{update}");
    assert_eq!(
        update["data"]["ranking"]["entries"][0]["idea"]["id"],
        lab.ideas[1]
    );
    assert_eq!(update["data"]["ranking"]["entries"][0]["score"], 90.0);
}

#[tokio::test]
async fn stalls_carry_a_reason_code_that_filters_and_groups() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let stall = "mutation($i: ID!, $v: Int!, $c: StallReason!) { stallIdea(input: {id: $i, version: $v, reasonCode: $c, reason: \"Anggaran APBD dipangkas\"}) {
        idea { status stallReason statusReason } transition { decision reasonCode reason } event { kind } } }";
    let stalled = app
        .data(stall, json!({"i": lab.ideas[0], "v": 1, "c": "BUDGET"}))
        .await;
    assert_eq!(stalled["stallIdea"]["idea"]["stallReason"], "BUDGET");
    assert_eq!(stalled["stallIdea"]["transition"]["reasonCode"], "BUDGET");
    app.data(
        stall,
        json!({"i": lab.ideas[1], "v": 1, "c": "INNOVATOR_TRANSFERRED"}),
    )
    .await;
    // Without a code the stall is refused.
    let bare = app
        .gql(
            "mutation($i: ID!) { stallIdea(input: {id: $i, version: 1, reason: \"tanpa kode\"}) { idea { id } } }",
            json!({"i": lab.ideas[2]}),
        )
        .await;
    assert_eq!(error_code(&bare), "BAD_USER_INPUT");

    let of_cohort = json!({"cohortIds": [lab.cohort]});
    let by_reason = app
        .data(
            "query($f: IdeaFilter) { ideas(filter: $f) { totalCount nodes { id } } }",
            json!({"f": {"cohortIds": [lab.cohort], "stallReasons": ["INNOVATOR_TRANSFERRED"]}}),
        )
        .await;
    assert_eq!(by_reason["ideas"]["totalCount"], 1);
    assert_eq!(by_reason["ideas"]["nodes"][0]["id"], lab.ideas[1]);
    let grouped = app
        .data(
            "query($f: IdeaFilter) { ideaCounts(groupBy: STALL_REASON, filter: $f) { key label count }
               funnel(filter: $f) { stalled stalledByReason { reason count } stages { stage stalledByReason { reason count } } } }",
            json!({"f": of_cohort}),
        )
        .await;
    let mut counts: Vec<(String, String, i64)> = grouped["ideaCounts"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            (
                g["key"].as_str().unwrap_or_default().to_owned(),
                g["label"].as_str().unwrap_or_default().to_owned(),
                g["count"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            ("BUDGET".to_owned(), "Budget".to_owned(), 1),
            (
                "INNOVATOR_TRANSFERRED".to_owned(),
                "Innovator transferred".to_owned(),
                1
            )
        ]
    );
    assert_eq!(grouped["funnel"]["stalled"], 2);
    assert_eq!(
        grouped["funnel"]["stalledByReason"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(grouped["funnel"]["stages"][1]["stage"], "DIAGNOSE");
    assert_eq!(
        grouped["funnel"]["stages"][1]["stalledByReason"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Resuming clears the code; the history keeps it.
    let resumed = app
        .data(
            "mutation($i: ID!) { resumeIdea(input: {id: $i, version: 2, reason: \"Anggaran perubahan\"}) { idea { stallReason history { decision reasonCode } } } }",
            json!({"i": lab.ideas[0]}),
        )
        .await;
    assert_eq!(resumed["resumeIdea"]["idea"]["stallReason"], Value::Null);
    assert_eq!(
        resumed["resumeIdea"]["idea"]["history"][1]["reasonCode"],
        "BUDGET"
    );
}

#[tokio::test]
async fn stale_ideas_are_those_longest_in_their_stage() {
    let app = TestApp::with_demo().await;
    // Banjar's 2017 lab: nothing has moved for years; the follow-up list holds every active or
    // stalled idea before DISPLAY, longest waiting first, and the filter agrees with it.
    let stale = app
        .data(
            "{ staleIdeas(days: 365, filter: {regencyCodes: [\"63.03\"]}, first: 50) { totalCount nodes { stage status stageEnteredAt daysInStage } } }",
            json!({}),
        )
        .await;
    let expected = app
        .data(
            "{ ideas(filter: {regencyCodes: [\"63.03\"], statuses: [ACTIVE, STALLED], stages: [DIAGNOSE, DESIGN, DELIVER], inStageLongerThanDays: 365}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        stale["staleIdeas"]["totalCount"],
        expected["ideas"]["totalCount"]
    );
    let nodes = stale["staleIdeas"]["nodes"].as_array().expect("ideas");
    assert!(!nodes.is_empty());
    assert!(
        nodes
            .iter()
            .all(|n| n["stage"] != "DISPLAY" && n["status"] != "DROPPED")
    );
    assert!(
        nodes
            .iter()
            .all(|n| n["daysInStage"].as_i64().unwrap_or_default() > 365)
    );
    let entered: Vec<&str> = nodes
        .iter()
        .map(|n| n["stageEnteredAt"].as_str().unwrap_or_default())
        .collect();
    assert!(
        entered.windows(2).all(|w| w[0] <= w[1]),
        "longest waiting first"
    );

    // An idea submitted today has been in its stage 0 days: not stale, even at 0 days' notice.
    let lab = lab(&app, None).await;
    let fresh = app
        .data(
            "query($c: ID!) { staleIdeas(days: 0, filter: {cohortIds: [$c]}) { totalCount } ideas(filter: {cohortIds: [$c], inStageLongerThanDays: 30}) { totalCount } }",
            json!({"c": lab.cohort}),
        )
        .await;
    // Submitted in January 2026 (backdated), so they have been in DIAGNOSE for months.
    assert_eq!(fresh["staleIdeas"]["totalCount"], 3);
    assert_eq!(fresh["ideas"]["totalCount"], 3);
    let refused = app
        .gql("{ staleIdeas(days: -1) { totalCount } }", json!({}))
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT");
}

#[tokio::test]
async fn an_idea_is_handed_over_to_a_new_innovator_and_the_history_is_kept() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let idea = &lab.ideas[0];
    let hand_over = "mutation($i: ID!, $v: Int!, $n: String!, $p: String!) { handOverIdea(input: {id: $i, version: $v, reason: \"Inovator dimutasi ke Dinas Kesehatan\", to: {name: $n, position: $p}}) {
        idea { version innovator { name position } } handOver { from { name } to { name position } reason } event { kind } } }";
    let done = app
        .data(
            hand_over,
            json!({"i": idea, "v": 1, "n": "Budi Santoso", "p": "Kepala Seksi Pelayanan"}),
        )
        .await;
    let done = &done["handOverIdea"];
    assert_eq!(
        done["idea"]["innovator"],
        json!({"name": "Budi Santoso", "position": "Kepala Seksi Pelayanan"})
    );
    assert_eq!(done["handOver"]["from"]["name"], "Siti Rahmawati");
    assert_eq!(done["event"]["kind"], "IDEA_HANDED_OVER");
    // No identity numbers (a NIK is 16 digits), a stale version is a conflict; neither writes.
    let before = event_total(&app).await;
    for name in [
        "Rina 6303012345670001",
        "Rina 6303-0112-3456-7890",
        "Rina 6303 0112 3456 7890",
        "Rina \u{ff16}\u{ff13}\u{ff10}\u{ff13}\u{ff10}\u{ff11}\u{ff12}\u{ff13}",
    ] {
        let nik = app
            .gql(
                hand_over,
                json!({"i": idea, "v": 2, "n": name, "p": "Staf"}),
            )
            .await;
        assert_eq!(error_code(&nik), "BAD_USER_INPUT", "{name}: {nik}");
        assert!(
            nik["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("NIK")
        );
    }
    let stale = app
        .gql(
            hand_over,
            json!({"i": idea, "v": 1, "n": "Rina Wulandari", "p": "Staf"}),
        )
        .await;
    assert_eq!(error_code(&stale), "CONFLICT");
    assert_eq!(event_total(&app).await, before);
    let second = app
        .data(
            hand_over,
            json!({"i": idea, "v": 2, "n": "Rina Wulandari", "p": "Staf"}),
        )
        .await;
    assert!(second["handOverIdea"]["idea"]["version"].as_i64() == Some(3));
    let history = app
        .data(
            "query($i: ID!) { idea(id: $i) { handOvers { from { name } to { name } } } }",
            json!({"i": idea}),
        )
        .await;
    let names: Vec<(&str, &str)> = history["idea"]["handOvers"]
        .as_array()
        .expect("hand-overs")
        .iter()
        .map(|h| {
            (
                h["from"]["name"].as_str().unwrap_or_default(),
                h["to"]["name"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("Siti Rahmawati", "Budi Santoso"),
            ("Budi Santoso", "Rina Wulandari")
        ]
    );
}

/// GETs the export with `filter` as a token's holder; returns the status, the content type and
/// the body.
async fn export(app: &TestApp, filter: &Value, token: Option<&str>) -> (u16, String, String) {
    get_export(app, &[("filter", filter.to_string())], token).await
}

/// GETs the export with the query parameters `pairs` and, when given, `token` in the
/// `Authorization` header; returns the status, the content type and the body.
async fn get_export(
    app: &TestApp,
    pairs: &[(&str, String)],
    token: Option<&str>,
) -> (u16, String, String) {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in pairs {
        query.append_pair(name, value);
    }
    let mut request = Request::get(format!("/export/ideas.csv?{}", query.finish()));
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .router()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (
        status,
        kind,
        String::from_utf8(bytes.to_vec()).expect("UTF-8"),
    )
}

fn records(csv_text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().expect("a header").clone();
    reader
        .records()
        .map(|r| {
            let r = r.expect("a record");
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

#[tokio::test]
async fn the_export_lists_what_the_query_lists_and_imports_again() {
    let app = TestApp::with_demo().await;
    // Every regency's ideas in a stage of the lab or stalled, but not dropped: more than one
    // page of the export (500 rows), so the file is streamed in several chunks.
    let filter = json!({"not": {"statuses": ["DROPPED"]}, "or": [{"stages": ["DIAGNOSE", "DESIGN", "DELIVER", "DISPLAY"]}, {"statuses": ["STALLED"]}]});
    let (status, kind, body) = export(&app, &filter, Some(&crate::helpers::admin_token())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert!(
        body.starts_with('\u{feff}'),
        "a byte-order mark for spreadsheets"
    );
    let rows = records(&body);
    let mut nodes = Vec::new();
    let mut after = Value::Null;
    loop {
        let page = app
            .data(
                "query($f: IdeaFilter, $a: String) { ideas(filter: $f, first: 100, after: $a) { pageInfo { hasNextPage endCursor }
                   nodes { id title stage status score mentors { name } unit { name } } } }",
                json!({"f": filter, "a": after}),
            )
            .await;
        nodes.extend(
            page["ideas"]["nodes"]
                .as_array()
                .expect("ideas")
                .iter()
                .cloned(),
        );
        if page["ideas"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["ideas"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(rows.len(), nodes.len());
    assert!(
        rows.len() > 500,
        "more than one page of the export: {}",
        rows.len()
    );
    for (row, node) in rows.iter().zip(&nodes) {
        assert_eq!(row["id"], node["id"].as_str().unwrap_or_default());
        assert_eq!(row["title"], node["title"].as_str().unwrap_or_default());
        assert_eq!(row["stage"], node["stage"].as_str().unwrap_or_default());
        assert_eq!(
            row["unit"],
            node["unit"]["name"].as_str().unwrap_or_default()
        );
        let score = node["score"]
            .as_f64()
            .map(|s| format!("{s:.2}"))
            .unwrap_or_default();
        assert_eq!(row["score"], score);
        let mentors: Vec<&str> = node["mentors"]
            .as_array()
            .expect("mentors")
            .iter()
            .map(|m| m["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(row["mentors"], mentors.join("; "));
    }
    assert!(
        rows.iter()
            .any(|r| !r["score"].is_empty() && r["reviews"] == "1")
    );
    assert!(
        rows.iter()
            .any(|r| r["status"] == "STALLED" && !r["stall_reason"].is_empty())
    );

    // Authorised like the query: no token, no rows; a VIEWER of Purbalingga sees none of Banjar's.
    let (status, _, body) = export(&app, &filter, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("UNAUTHENTICATED"));
    let purbalingga = token(Role::Viewer, Some("33.03"), None);
    let (status, _, body) = export(&app, &filter, Some(&purbalingga)).await;
    assert_eq!(status, 200);
    let theirs = records(&body);
    let counted = app
        .gql_as(
            Some(&purbalingga),
            "query($f: IdeaFilter) { ideas(filter: $f) { totalCount } }",
            json!({"f": filter}),
        )
        .await;
    assert_eq!(
        counted["data"]["ideas"]["totalCount"].as_u64(),
        Some(theirs.len() as u64)
    );
    assert!(!theirs.is_empty());
    assert!(theirs.iter().all(|r| r["regency"] == "33.03"));
    // What the query refuses, the export refuses: a bad value, a misspelt field.
    for bad in [
        json!({"stages": ["NOPE"]}),
        json!({"regencyCode": ["33.03"]}),
    ] {
        let (status, _, body) = export(&app, &bad, Some(&purbalingga)).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains("BAD_USER_INPUT"), "{body}");
    }

    // Banjar's file imports again into another edition of the same year: the same ideas,
    // described the same way (entering at DIAGNOSE, as every import does).
    let filter = json!({"regencyCodes": ["63.03"], "or": [{"stages": ["DELIVER", "DISPLAY"]}, {"statuses": ["STALLED"]}]});
    let rows = records(&body_of_admin_export(&app, &filter).await);
    let regency = app
        .data("{ regency(code: \"63.03\") { id } }", json!({}))
        .await["regency"]["id"]
        .clone();
    let copy = app
        .data(
            "mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2017, name: \"Salinan Ekspor\"}) { cohort { id } } }",
            json!({"r": regency}),
        )
        .await["createCohort"]["cohort"]["id"]
        .clone();
    let imported = app
        .data(
            "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { imported } }",
            json!({"c": copy, "csv": body_of_admin_export(&app, &filter).await}),
        )
        .await;
    assert_eq!(
        imported["importIdeas"]["imported"].as_u64(),
        Some(rows.len() as u64)
    );
    let (_, _, again) = export(
        &app,
        &json!({"cohortIds": [copy]}),
        Some(&crate::helpers::admin_token()),
    )
    .await;
    let again = records(&again);
    let described = [
        "unit",
        "title",
        "problem",
        "description",
        "type",
        "form",
        "affairs_area",
        "initiator",
        "maturity",
        "submitted",
        "innovator",
        "innovator_position",
    ];
    let key = |r: &std::collections::HashMap<String, String>| described.map(|c| r[c].clone());
    let mut before: Vec<_> = rows.iter().map(key).collect();
    let mut after: Vec<_> = again.iter().map(key).collect();
    before.sort();
    after.sort();
    assert_eq!(before, after);
    assert!(again.iter().all(|r| r["stage"] == "DIAGNOSE"));
}

async fn body_of_admin_export(app: &TestApp, filter: &Value) -> String {
    export(app, filter, Some(&crate::helpers::admin_token()))
        .await
        .2
}

#[tokio::test]
async fn the_export_keeps_spreadsheets_from_running_formulas() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    app.data(
        "mutation($i: ID!) { updateIdea(input: {id: $i, version: 1, title: \"=HYPERLINK(\\\"http://x\\\")\"}) { idea { title } } }",
        json!({"i": lab.ideas[0]}),
    )
    .await;
    // A title that itself starts with the guard keeps it through the round trip.
    app.data(
        "mutation($i: ID!) { updateIdea(input: {id: $i, version: 1, title: \"'=dikutip\"}) { idea { title } } }",
        json!({"i": lab.ideas[1]}),
    )
    .await;
    let (_, _, body) = export(
        &app,
        &json!({"cohortIds": [lab.cohort]}),
        Some(&crate::helpers::admin_token()),
    )
    .await;
    let rows = records(&body);
    let row = rows
        .iter()
        .find(|r| r["id"] == lab.ideas[0].as_str().unwrap_or_default())
        .expect("the idea");
    assert_eq!(row["title"], "'=HYPERLINK(\"http://x\")");
    assert_eq!(row["innovator"], "Siti Rahmawati");
    // Imported again (into the same cohort, so duplicates asked for), the apostrophe comes off.
    let imported = app
        .data(
            "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv, allowDuplicates: true}) { ideas { title innovator { name } } } }",
            json!({"c": lab.cohort, "csv": body}),
        )
        .await;
    let titles: Vec<&str> = imported["importIdeas"]["ideas"]
        .as_array()
        .expect("ideas")
        .iter()
        .map(|i| i["title"].as_str().unwrap_or_default())
        .collect();
    assert!(titles.contains(&"=HYPERLINK(\"http://x\")"), "{titles:?}");
    assert!(titles.contains(&"'=dikutip"), "{titles:?}");
}

/// GETs an export link as a browser would follow it: the token in the link, no header.
async fn export_link(app: &TestApp, pairs: &[(&str, String)]) -> (u16, String) {
    let (status, _, body) = get_export(app, pairs, None).await;
    (status, body)
}

/// The README's export promises beyond the `=` guard: every formula start is guarded, lines
/// end in CRLF, `orderBy` orders the rows as the query would, a link may carry its token, and
/// the link's parameters are held to the query limits.
#[tokio::test]
async fn the_export_guards_formulas_writes_crlf_orders_and_takes_a_link_token() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let titles = ["+62 811 5550", "-tanpa kertas", "@warga"];
    for (idea, title) in lab.ideas.iter().zip(titles) {
        app.data(
            "mutation($i: ID!, $t: String!) { updateIdea(input: {id: $i, version: 1, title: $t}) { idea { title } } }",
            json!({"i": idea, "t": title}),
        )
        .await;
    }
    let filter = json!({"cohortIds": [lab.cohort]});
    let order = json!({"field": "TITLE", "direction": "DESC"});
    let admin = crate::helpers::admin_token();
    let (status, body) = export_link(
        &app,
        &[
            ("filter", filter.to_string()),
            ("orderBy", order.to_string()),
            ("token", admin.clone()),
        ],
    )
    .await;
    assert_eq!(status, 200, "a link with its token: {body}");
    assert!(body.contains("\r\n"), "CRLF lines");
    assert!(
        body.match_indices('\n')
            .all(|(at, _)| at > 0 && body.as_bytes()[at - 1] == b'\r'),
        "every line ends in CRLF"
    );
    let rows = records(&body);
    let exported: Vec<&str> = rows.iter().map(|r| r["title"].as_str()).collect();
    for title in titles {
        let guarded = format!("'{title}");
        assert!(
            exported.contains(&guarded.as_str()),
            "{title} guarded: {exported:?}"
        );
    }
    // The rows in the order the same query gives.
    let listed = app
        .data(
            "query($f: IdeaFilter, $o: IdeaOrder) { ideas(filter: $f, orderBy: $o) { nodes { id } } }",
            json!({"f": filter, "o": order}),
        )
        .await;
    let listed: Vec<&str> = listed["ideas"]["nodes"]
        .as_array()
        .expect("ideas")
        .iter()
        .map(|n| n["id"].as_str().expect("an id"))
        .collect();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids, listed,
        "orderBy orders the export as it orders the query"
    );

    // Without the token the link reads as anonymous: refused.
    let (status, _) = export_link(&app, &[("filter", filter.to_string())]).await;
    assert_eq!(status, 401);
    // A list longer than a query's variables may hold is refused the same way.
    let long: Vec<String> = (0..1001).map(|n| format!("kode-{n}")).collect();
    let (status, body) = export_link(
        &app,
        &[
            ("filter", json!({"regencyCodes": long}).to_string()),
            ("token", admin),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let body: Value = serde_json::from_str(&body).expect("a JSON error");
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
}

/// A mentor's review queue lists the longest waiting first (not the oldest id), and a mentor
/// unassigned from an idea can no longer review it, nor find it in the queue.
#[tokio::test]
async fn the_review_queue_is_longest_waiting_first_and_unassigning_ends_the_review() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let mentors = app
        .data("{ mentors(first: 1) { nodes { id } } }", json!({}))
        .await;
    let mentor = mentors["mentors"]["nodes"][0]["id"].clone();
    let unit = app
        .data(
            "query($c: String!) { regency(code: $c) { units { id } } }",
            json!({"c": BANJAR}),
        )
        .await["regency"]["units"][0]["id"]
        .clone();
    // Submitted last (the largest id) but waiting since before the others.
    let earliest = app
        .data(
            "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Ide Terlama\",
               problem: \"Antrean panjang\", type: DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Kesehatan\",
               initiator: WORK_UNIT, submittedAt: \"2026-01-01T08:00:00Z\"}) { idea { id } } }",
            json!({"c": lab.cohort, "u": unit}),
        )
        .await["submitIdea"]["idea"]["id"]
        .clone();
    app.data(
        "mutation($i: ID!, $m: ID!) { assignMentor(input: {ideaId: $i, mentorId: $m}) { assignment { current } } }",
        json!({"i": earliest, "m": mentor}),
    )
    .await;
    let queue = async || {
        let answer = app
            .gql_as(
                Some(&lab.mentors[0]),
                "query($c: ID!) { reviewQueue(filter: {cohortIds: [$c]}) { nodes { id } } }",
                json!({"c": lab.cohort}),
            )
            .await;
        answer["data"]["reviewQueue"]["nodes"]
            .as_array()
            .expect("a queue")
            .iter()
            .map(|n| n["id"].clone())
            .collect::<Vec<Value>>()
    };
    let mut expected = vec![earliest];
    expected.extend(lab.ideas.iter().cloned());
    assert_eq!(queue().await, expected, "longest waiting first");

    let unassigned = app
        .data(
            "mutation($i: ID!, $m: ID!) { unassignMentor(input: {ideaId: $i, mentorId: $m}) { assignment { current } } }",
            json!({"i": lab.ideas[1], "m": mentor}),
        )
        .await;
    assert_eq!(unassigned["unassignMentor"]["assignment"]["current"], false);
    let before = event_total(&app).await;
    let review = app
        .gql_as(
            Some(&lab.mentors[0]),
            SCORE,
            json!({"i": lab.ideas[1], "s": scores([80, 70, 60, 90, 50]), "r": "ADVANCE"}),
        )
        .await;
    assert_eq!(error_code(&review), "FORBIDDEN", "{review}");
    assert_eq!(
        event_total(&app).await,
        before,
        "the refused review wrote nothing"
    );
    assert!(
        !queue().await.contains(&lab.ideas[1]),
        "the idea left the queue"
    );
}

/// A dropped idea leaves the ranking; the others keep their places in order.
#[tokio::test]
async fn a_dropped_idea_is_left_out_of_the_ranking() {
    let app = TestApp::with_demo().await;
    let lab = lab(&app, None).await;
    let ranked = async || {
        let answer = app
            .data(
                "query($c: ID!) { ranking(cohortId: $c, stageAtLeast: DIAGNOSE) { total entries { rank idea { id } } } }",
                json!({"c": lab.cohort}),
            )
            .await;
        answer["ranking"]["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .map(|e| e["idea"]["id"].clone())
            .collect::<Vec<Value>>()
    };
    let before = ranked().await;
    assert_eq!(before.len(), 3, "the lab's three ideas: {before:?}");
    let dropped = app
        .data(
            "mutation($i: ID!) { dropIdea(input: {id: $i, version: 1, reason: \"Tidak dilanjutkan\"}) { idea { status } } }",
            json!({"i": lab.ideas[1]}),
        )
        .await;
    assert_eq!(dropped["dropIdea"]["idea"]["status"], "DROPPED");
    let after = ranked().await;
    let expected: Vec<Value> = before
        .into_iter()
        .filter(|id| *id != lab.ideas[1])
        .collect();
    assert_eq!(after, expected);
}
