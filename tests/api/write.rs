//! Write API: the pipeline rules, error codes, concurrency, the event outbox and CSV import.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

/// An idea matching `filter` with its id, version and stage.
async fn an_idea(app: &TestApp, filter: Value) -> Value {
    let data = app
        .data(
            "query($f: IdeaFilter) { ideas(filter: $f, first: 1) { nodes { id version stage status
               cohort { id } unit { id } regency { code lastEventSequence } } } }",
            json!({ "f": filter }),
        )
        .await;
    data["ideas"]["nodes"][0].clone()
}

async fn last_sequence(app: &TestApp, code: &str) -> i64 {
    let data = app
        .data(
            "query($c: String) { regency(code: $c) { lastEventSequence } }",
            json!({ "c": code }),
        )
        .await;
    data["regency"]["lastEventSequence"]
        .as_i64()
        .expect("a sequence")
}

async fn counts(app: &TestApp) -> (u64, u64, u64) {
    let data = app
        .data(
            "{ ideas { totalCount } pipelineEvents { totalCount } commitments { totalCount } }",
            json!({}),
        )
        .await;
    (
        data["ideas"]["totalCount"].as_u64().unwrap_or_default(),
        data["pipelineEvents"]["totalCount"]
            .as_u64()
            .unwrap_or_default(),
        data["commitments"]["totalCount"]
            .as_u64()
            .unwrap_or_default(),
    )
}

const ADVANCE: &str = "mutation($id: ID!, $v: Int!) { advanceIdea(input: {id: $id, version: $v}) {
    idea { id version stage status launchedOn history { decision } }
    transition { fromStage toStage decision actor }
    event { sequence kind stage } } }";

async fn move_idea(app: &TestApp, mutation: &str, id: &Value, version: i64, reason: &str) -> Value {
    // A stall names the kind of its reason too.
    let code = if mutation == "stallIdea" {
        ", reasonCode: BUDGET"
    } else {
        ""
    };
    let query = format!(
        "mutation($id: ID!, $v: Int!, $r: String!) {{ {mutation}(input: {{id: $id, version: $v, reason: $r{code}}}) {{
            idea {{ version stage status statusReason }} transition {{ decision reason }} event {{ kind sequence }} }} }}"
    );
    app.gql(&query, json!({"id": id, "v": version, "r": reason}))
        .await
}

#[tokio::test]
async fn an_idea_advances_one_stage_and_needs_a_signed_commitment_and_a_plan_to_deliver() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"regencyCodes": ["63.03"], "stages": ["DIAGNOSE"], "statuses": ["ACTIVE"]}),
    )
    .await;
    let before = last_sequence(&app, "63.03").await;

    let moved = app
        .data(ADVANCE, json!({"id": idea["id"], "v": idea["version"]}))
        .await;
    let payload = &moved["advanceIdea"];
    assert_eq!(payload["idea"]["stage"], "DESIGN");
    assert_eq!(
        payload["idea"]["version"],
        idea["version"].as_i64().unwrap_or_default() + 1
    );
    assert_eq!(payload["transition"]["fromStage"], "DIAGNOSE");
    assert_eq!(payload["transition"]["decision"], "ADVANCE");
    assert_eq!(payload["event"]["kind"], "IDEA_ADVANCED");
    assert_eq!(payload["event"]["sequence"], before + 1);
    assert_eq!(
        payload["idea"]["history"]
            .as_array()
            .map(|h| h.last().cloned()),
        Some(Some(json!({"decision": "ADVANCE"})))
    );

    // DESIGN → DELIVER without a signed commitment: refused, nothing written.
    let version = payload["idea"]["version"].clone();
    let refused = app
        .gql(ADVANCE, json!({"id": idea["id"], "v": version}))
        .await;
    assert_eq!(error_code(&refused), "INVALID_TRANSITION");
    assert!(
        refused["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("signed commitment")
    );
    assert_eq!(last_sequence(&app, "63.03").await, before + 1);

    // A draft is not enough; a signed one is.
    let draft = app
        .data(
            "mutation($c: ID!, $u: ID!, $i: ID!) { createCommitment(input: {cohortId: $c, unitId: $u, ideaIds: [$i],
               signatoryName: \"Kepala Dinas\", signatoryTitle: \"Kepala Dinas\", counterpart: \"Bupati Banjar\",
               target: \"Meluncurkan inovasi\"}) { commitment { id version status } event { kind } } }",
            json!({"c": idea["cohort"]["id"], "u": idea["unit"]["id"], "i": idea["id"]}),
        )
        .await;
    let commitment = &draft["createCommitment"]["commitment"];
    assert_eq!(commitment["status"], "DRAFT");
    assert_eq!(
        error_code(
            &app.gql(ADVANCE, json!({"id": idea["id"], "v": version}))
                .await
        ),
        "INVALID_TRANSITION"
    );
    let signed = app
        .data(
            "mutation($id: ID!, $v: Int!) { signCommitment(input: {id: $id, version: $v}) { commitment { status signedOn version } } }",
            json!({"id": commitment["id"], "v": commitment["version"]}),
        )
        .await;
    assert_eq!(signed["signCommitment"]["commitment"]["status"], "SIGNED");

    // Signed, but no action plan yet: refused, with the rule in a sentence.
    let unplanned = app
        .gql(ADVANCE, json!({"id": idea["id"], "v": version}))
        .await;
    assert_eq!(error_code(&unplanned), "INVALID_TRANSITION");
    assert!(
        unplanned["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("action plan with at least one milestone"),
        "{unplanned}"
    );
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    app.data(
        "mutation($i: ID!, $due: NaiveDate!) { writeActionPlan(input: {ideaId: $i, goal: \"Meluncurkan layanan\",
           milestones: [{title: \"Uji coba\", ownerName: \"Siti Aminah\", ownerPosition: \"Kepala Seksi\", dueOn: $due}]})
           { actionPlan { version } } }",
        json!({"i": idea["id"], "due": due}),
    )
    .await;
    // The signed commitment points at the plan it commits to.
    let committed = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Commitment { actionPlans { goal } } } }",
            json!({"id": commitment["id"]}),
        )
        .await;
    assert_eq!(
        committed["node"]["actionPlans"],
        json!([{"goal": "Meluncurkan layanan"}])
    );
    let delivered = app
        .data(ADVANCE, json!({"id": idea["id"], "v": version}))
        .await;
    assert_eq!(delivered["advanceIdea"]["idea"]["stage"], "DELIVER");
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        delivered["advanceIdea"]["idea"]["launchedOn"],
        today.as_str()
    );

    // DISPLAY is last.
    let v = delivered["advanceIdea"]["idea"]["version"].clone();
    let shown = app.data(ADVANCE, json!({"id": idea["id"], "v": v})).await;
    assert_eq!(shown["advanceIdea"]["idea"]["stage"], "DISPLAY");
    let v = shown["advanceIdea"]["idea"]["version"].clone();
    let last = app.gql(ADVANCE, json!({"id": idea["id"], "v": v})).await;
    assert_eq!(error_code(&last), "INVALID_TRANSITION");
    assert!(
        last["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("last stage")
    );
}

#[tokio::test]
async fn reverting_stalling_resuming_and_dropping_need_reasons_and_dropped_is_final() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"regencyCodes": ["33.03"], "stages": ["DESIGN"], "statuses": ["ACTIVE"]}),
    )
    .await;
    let id = &idea["id"];
    let v = idea["version"].as_i64().expect("version");

    let blank = move_idea(&app, "revertIdea", id, v, "   ").await;
    assert_eq!(error_code(&blank), "INVALID_TRANSITION");
    assert!(
        blank["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("reason")
    );

    let reverted = move_idea(&app, "revertIdea", id, v, "Rencana aksi belum jelas").await;
    assert_eq!(reverted["data"]["revertIdea"]["idea"]["stage"], "DIAGNOSE");
    assert_eq!(
        reverted["data"]["revertIdea"]["transition"]["reason"],
        "Rencana aksi belum jelas"
    );
    let too_far = move_idea(&app, "revertIdea", id, v + 1, "lagi").await;
    assert_eq!(error_code(&too_far), "INVALID_TRANSITION");

    let stalled = move_idea(&app, "stallIdea", id, v + 1, "Anggaran dipangkas").await;
    assert_eq!(stalled["data"]["stallIdea"]["idea"]["status"], "STALLED");
    assert_eq!(
        stalled["data"]["stallIdea"]["idea"]["statusReason"],
        "Anggaran dipangkas"
    );
    let advance_stalled = app.gql(ADVANCE, json!({"id": id, "v": v + 2})).await;
    assert_eq!(error_code(&advance_stalled), "INVALID_TRANSITION");

    let resumed = move_idea(&app, "resumeIdea", id, v + 2, "Anggaran perubahan").await;
    assert_eq!(resumed["data"]["resumeIdea"]["idea"]["status"], "ACTIVE");
    assert!(resumed["data"]["resumeIdea"]["idea"]["statusReason"].is_null());

    let dropped = move_idea(&app, "dropIdea", id, v + 3, "Inovator dimutasi").await;
    assert_eq!(dropped["data"]["dropIdea"]["idea"]["status"], "DROPPED");
    assert_eq!(dropped["data"]["dropIdea"]["event"]["kind"], "IDEA_DROPPED");
    for mutation in ["resumeIdea", "stallIdea", "dropIdea", "revertIdea"] {
        let refused = move_idea(&app, mutation, id, v + 4, "coba lagi").await;
        assert_eq!(error_code(&refused), "INVALID_TRANSITION", "{mutation}");
        assert!(
            refused["errors"][0]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("final")
        );
    }
    // The audit trail replays to where the idea is.
    let history = app
        .data(
            "query($id: ID!) { idea(id: $id) { history { decision } } }",
            json!({"id": id}),
        )
        .await;
    let decisions: Vec<&str> = history["idea"]["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| h["decision"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        &decisions[decisions.len() - 4..],
        ["REVERT", "STALL", "RESUME", "DROP"]
    );
}

#[tokio::test]
async fn a_stale_version_is_a_conflict_and_changes_nothing() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"stages": ["DIAGNOSE"], "statuses": ["ACTIVE"]}),
    )
    .await;
    let before = counts(&app).await;
    let stale = app
        .gql(
            ADVANCE,
            json!({"id": idea["id"], "v": idea["version"].as_i64().unwrap_or_default() - 1}),
        )
        .await;
    assert_eq!(error_code(&stale), "CONFLICT");
    assert!(
        stale["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("reload")
    );
    let edit = app
        .gql(
            "mutation($id: ID!) { updateIdea(input: {id: $id, version: 999, title: \"Judul baru\"}) { idea { title } } }",
            json!({"id": idea["id"]}),
        )
        .await;
    assert_eq!(error_code(&edit), "CONFLICT");
    let gone = labinov::global_id::encode(labinov::global_id::Kind::Idea, 9_999_999);
    let missing = app.gql(ADVANCE, json!({"id": gone, "v": 1})).await;
    assert_eq!(error_code(&missing), "NOT_FOUND");
    assert_eq!(counts(&app).await, before);
    let now = an_idea(
        &app,
        json!({"stages": ["DIAGNOSE"], "statuses": ["ACTIVE"]}),
    )
    .await;
    assert_eq!(now["version"], idea["version"]);
}

#[tokio::test]
async fn many_concurrent_moves_with_the_same_version_have_exactly_one_winner() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"regencyCodes": ["72.01"], "stages": ["DESIGN"], "statuses": ["STALLED"]}),
    )
    .await;
    let before = last_sequence(&app, "72.01").await;
    let client = reqwest::Client::new();
    let url = format!("{}/graphql", app.address);
    let query = "mutation($id: ID!, $v: Int!) { resumeIdea(input: {id: $id, version: $v, reason: \"lanjut\"}) { idea { version } } }";
    let mut requests = Vec::new();
    for _ in 0..12 {
        let request = client
            .post(&url)
            .bearer_auth(crate::helpers::admin_token())
            .json(&json!({"query": query, "variables": {"id": idea["id"], "v": idea["version"]}}))
            .send();
        requests.push(tokio::spawn(async move {
            let response = request.await.expect("the server answers");
            response.json::<Value>().await.expect("a JSON body")
        }));
    }
    let mut won = 0;
    let mut conflicts = 0;
    for request in requests {
        let body = request.await.expect("the request task");
        if body.get("errors").is_none() {
            won += 1;
        } else {
            assert_eq!(error_code(&body), "CONFLICT", "{body}");
            conflicts += 1;
        }
    }
    assert_eq!((won, conflicts), (1, 11));
    assert_eq!(
        last_sequence(&app, "72.01").await,
        before + 1,
        "one event, no gap"
    );
    let history = app
        .data(
            "query($id: ID!) { idea(id: $id) { version status history { decision } } }",
            json!({"id": idea["id"]}),
        )
        .await;
    let resumes = history["idea"]["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h["decision"] == "RESUME")
        .count();
    assert_eq!(resumes, 1);
    assert_eq!(history["idea"]["status"], "ACTIVE");
}

const SUBMIT: &str = "mutation($in: SubmitIdeaInput!) { submitIdea(input: $in) {
    idea { id title stage status version regency { code } history { decision toStage } }
    event { kind sequence stage } } }";

fn submission(cohort: &Value, unit: &Value, title: &str) -> Value {
    json!({"in": {"cohortId": cohort, "unitId": unit, "title": title, "problem": "Antrean panjang",
        "type": "DIGITAL", "form": "PUBLIC_SERVICE", "affairsArea": "Kesehatan", "initiator": "CIVIL_SERVANT"}})
}

#[tokio::test]
async fn bad_input_is_refused_with_a_sentence_and_writes_nothing() {
    let app = TestApp::with_demo().await;
    let banjar = an_idea(&app, json!({"regencyCodes": ["63.03"]})).await;
    let banggai = an_idea(&app, json!({"regencyCodes": ["72.01"]})).await;
    let cohort = &banjar["cohort"]["id"];
    let unit = &banjar["unit"]["id"];
    let before = counts(&app).await;
    let missing_unit = labinov::global_id::encode(labinov::global_id::Kind::Unit, 987_654);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339();
    let mut future = submission(cohort, unit, "Besok");
    future["in"]["submittedAt"] = json!(tomorrow);
    for (variables, hint, code) in [
        (
            submission(cohort, unit, "   "),
            "title cannot be empty",
            "BAD_USER_INPUT",
        ),
        (
            submission(cohort, unit, &"x".repeat(201)),
            "at most 200",
            "BAD_USER_INPUT",
        ),
        // A unit of another regency reads exactly as one that does not exist.
        (
            submission(cohort, &json!(missing_unit), "Baru"),
            "No unit with this id exists.",
            "NOT_FOUND",
        ),
        (
            submission(cohort, &banggai["unit"]["id"], "Baru"),
            "No unit with this id exists.",
            "NOT_FOUND",
        ),
        (
            submission(&json!("bm9wZQ"), unit, "Baru"),
            "not a valid",
            "BAD_USER_INPUT",
        ),
        (future, "future", "BAD_USER_INPUT"),
    ] {
        let response = app.gql(SUBMIT, variables).await;
        assert_eq!(error_code(&response), code, "{response}");
        let message = response["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            message.contains(hint),
            "{message:?} should mention {hint:?}"
        );
    }
    // Duplicates are sentences, not database errors.
    let duplicate_unit = app
        .gql(
            "mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: RSUD, name: \"RSU Ratu Zaleha\"}) { unit { id } } }",
            json!({"r": labinov::global_id::encode(labinov::global_id::Kind::Regency, 1)}),
        )
        .await;
    assert_eq!(error_code(&duplicate_unit), "BAD_USER_INPUT");
    let message = duplicate_unit["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("already exists"), "{message}");
    for leak in ["UNIQUE", "constraint", "duplicate key", "SQL", "sqlx"] {
        assert!(!message.contains(leak), "{message}");
    }
    let duplicate_regency = app
        .gql(
            "mutation { createRegency(input: {code: \"63.03\", name: \"Banjar lagi\", province: \"Kalsel\", organiser: \"X\"}) { regency { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&duplicate_regency), "BAD_USER_INPUT");
    assert!(
        duplicate_regency["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("63.03")
    );
    // A missing required argument is a client error too, with a code.
    let missing = app
        .gql(
            "mutation { revertIdea(input: {id: \"x\", version: 1}) { idea { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&missing), "BAD_USER_INPUT");
    assert_eq!(
        counts(&app).await,
        before,
        "no idea, event or commitment was written"
    );
}

#[tokio::test]
async fn a_submitted_idea_enters_at_diagnose_with_its_event() {
    let app = TestApp::with_demo().await;
    let banjar = an_idea(&app, json!({"regencyCodes": ["63.03"]})).await;
    let before = last_sequence(&app, "63.03").await;
    let data = app
        .data(
            SUBMIT,
            submission(&banjar["cohort"]["id"], &banjar["unit"]["id"], "Si-Cepat"),
        )
        .await;
    let idea = &data["submitIdea"]["idea"];
    assert_eq!(idea["stage"], "DIAGNOSE");
    assert_eq!(idea["status"], "ACTIVE");
    assert_eq!(idea["version"], 1);
    assert_eq!(
        idea["history"],
        json!([{"decision": "SUBMIT", "toStage": "DIAGNOSE"}])
    );
    assert_eq!(data["submitIdea"]["event"]["kind"], "IDEA_SUBMITTED");
    assert_eq!(data["submitIdea"]["event"]["sequence"], before + 1);
}

#[tokio::test]
async fn events_of_a_sequence_of_writes_are_numbered_without_gaps_in_order() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"regencyCodes": ["33.03"], "stages": ["DIAGNOSE"], "statuses": ["ACTIVE"]}),
    )
    .await;
    let before = last_sequence(&app, "33.03").await;
    let id = &idea["id"];
    let v = idea["version"].as_i64().expect("version");
    app.data(ADVANCE, json!({"id": id, "v": v})).await;
    assert!(
        move_idea(&app, "stallIdea", id, v + 1, "mutasi")
            .await
            .get("errors")
            .is_none()
    );
    // A refused write in between leaves no event.
    assert_eq!(
        error_code(&app.gql(ADVANCE, json!({"id": id, "v": v + 2})).await),
        "INVALID_TRANSITION"
    );
    assert!(
        move_idea(&app, "resumeIdea", id, v + 2, "kembali")
            .await
            .get("errors")
            .is_none()
    );
    let mentor = app
        .data("{ mentors(first: 1) { nodes { id } } }", json!({}))
        .await;
    app.data(
        "mutation($i: ID!, $m: ID!) { assignMentor(input: {ideaId: $i, mentorId: $m}) { assignment { current } event { kind } } }",
        json!({"i": id, "m": mentor["mentors"]["nodes"][0]["id"]}),
    )
    .await;
    let events = app
        .data(
            "query($n: Int) { pipelineEvents(filter: {regencyCodes: [\"33.03\"]}, last: $n) { nodes { sequence kind idea { id } } } }",
            json!({"n": 4}),
        )
        .await;
    let nodes = events["pipelineEvents"]["nodes"]
        .as_array()
        .expect("events");
    let sequences: Vec<i64> = nodes
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap_or_default())
        .collect();
    assert_eq!(sequences, (before + 1..=before + 4).collect::<Vec<_>>());
    let kinds: Vec<&str> = nodes
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        kinds,
        [
            "IDEA_ADVANCED",
            "IDEA_STALLED",
            "IDEA_RESUMED",
            "MENTOR_ASSIGNED"
        ]
    );
    assert!(nodes.iter().all(|e| &e["idea"]["id"] == id));
}

#[tokio::test]
async fn mentors_are_assigned_once_and_their_past_is_kept() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"regencyCodes": ["63.03"], "stages": ["DIAGNOSE"], "statuses": ["ACTIVE"]}),
    )
    .await;
    let created = app
        .data("mutation { createMentor(input: {name: \"Dewi Lestari\", expertise: \"Desain layanan\"}) { mentor { id institution version } } }", json!({}))
        .await;
    let mentor = &created["createMentor"]["mentor"];
    assert_eq!(mentor["institution"], "Lembaga Administrasi Negara (LAN)");
    let assign = "mutation($i: ID!, $m: ID!) { assignMentor(input: {ideaId: $i, mentorId: $m}) { assignment { current mentor { name } } idea { mentors { name } } } }";
    let assigned = app
        .data(assign, json!({"i": idea["id"], "m": mentor["id"]}))
        .await;
    assert!(
        assigned["assignMentor"]["idea"]["mentors"]
            .as_array()
            .expect("mentors")
            .iter()
            .any(|m| m["name"] == "Dewi Lestari")
    );
    assert_eq!(
        error_code(
            &app.gql(assign, json!({"i": idea["id"], "m": mentor["id"]}))
                .await
        ),
        "BAD_USER_INPUT"
    );
    let unassigned = app
        .data(
            "mutation($i: ID!, $m: ID!) { unassignMentor(input: {ideaId: $i, mentorId: $m}) { assignment { current until } idea { mentors { name } mentorAssignments { mentor { name } current } } } }",
            json!({"i": idea["id"], "m": mentor["id"]}),
        )
        .await;
    let payload = &unassigned["unassignMentor"];
    assert_eq!(payload["assignment"]["current"], false);
    assert!(
        !payload["idea"]["mentors"]
            .as_array()
            .expect("mentors")
            .iter()
            .any(|m| m["name"] == "Dewi Lestari")
    );
    assert!(
        payload["idea"]["mentorAssignments"]
            .as_array()
            .expect("history")
            .iter()
            .any(|a| a["mentor"]["name"] == "Dewi Lestari" && a["current"] == false)
    );
    let stale = app
        .gql("mutation($id: ID!) { updateMentor(input: {id: $id, version: 7, team: \"Tim\"}) { mentor { id } } }", json!({"id": mentor["id"]}))
        .await;
    assert_eq!(error_code(&stale), "CONFLICT");
}

#[tokio::test]
async fn a_commitment_goes_from_draft_to_signed_to_fulfilled_and_no_other_way() {
    let app = TestApp::with_demo().await;
    let idea = an_idea(
        &app,
        json!({"regencyCodes": ["63.03"], "stages": ["DESIGN"], "statuses": ["ACTIVE"]}),
    )
    .await;
    let created = app
        .data(
            "mutation($c: ID!, $u: ID!, $i: ID!) { createCommitment(input: {cohortId: $c, unitId: $u, ideaIds: [$i, $i],
               signatoryName: \"Camat\", signatoryTitle: \"Camat Martapura\", counterpart: \"Bupati Banjar\", target: \"Uji coba\"}) {
               commitment { id version status ideas { id } } } }",
            json!({"c": idea["cohort"]["id"], "u": idea["unit"]["id"], "i": idea["id"]}),
        )
        .await;
    let c = &created["createCommitment"]["commitment"];
    assert_eq!(c["ideas"].as_array().map(Vec::len), Some(1));
    let step = |name: &str| {
        format!(
            "mutation($id: ID!, $v: Int!) {{ {name}(input: {{id: $id, version: $v}}) {{ commitment {{ status version }} event {{ kind }} }} }}"
        )
    };
    let early = app
        .gql(
            &step("fulfillCommitment"),
            json!({"id": c["id"], "v": c["version"]}),
        )
        .await;
    assert_eq!(error_code(&early), "INVALID_TRANSITION");
    let signed = app
        .data(&step("signCommitment"), json!({"id": c["id"], "v": 1}))
        .await;
    assert_eq!(
        signed["signCommitment"]["event"]["kind"],
        "COMMITMENT_SIGNED"
    );
    assert_eq!(
        error_code(
            &app.gql(&step("signCommitment"), json!({"id": c["id"], "v": 2}))
                .await
        ),
        "INVALID_TRANSITION"
    );
    let fulfilled = app
        .data(&step("fulfillCommitment"), json!({"id": c["id"], "v": 2}))
        .await;
    assert_eq!(
        fulfilled["fulfillCommitment"]["commitment"]["status"],
        "FULFILLED"
    );
    assert_eq!(
        error_code(
            &app.gql(&step("withdrawCommitment"), json!({"id": c["id"], "v": 3}))
                .await
        ),
        "INVALID_TRANSITION"
    );
    let future = app
        .gql(
            "mutation($id: ID!) { signCommitment(input: {id: $id, version: 3, signedOn: \"2999-01-01\"}) { commitment { id } } }",
            json!({"id": c["id"]}),
        )
        .await;
    assert_eq!(error_code(&future), "BAD_USER_INPUT");
}

#[tokio::test]
async fn regencies_units_and_cohorts_are_created_and_updated_with_versions() {
    let app = TestApp::spawn().await;
    let created = app
        .data(
            "mutation { createRegency(input: {code: \"64.02\", name: \"Kabupaten Kutai Kartanegara\", province: \"Kalimantan Timur\",
               organiser: \"Bappeda\", mouSignedOn: \"2019-02-01\"}) { regency { id version code } event { kind sequence } } }",
            json!({}),
        )
        .await;
    let regency = &created["createRegency"]["regency"];
    assert_eq!(
        created["createRegency"]["event"],
        json!({"kind": "REGENCY_CREATED", "sequence": 1})
    );
    let bad_code = app
        .gql("mutation { createRegency(input: {code: \"kukar\", name: \"K\", province: \"P\", organiser: \"O\"}) { regency { id } } }", json!({}))
        .await;
    assert_eq!(error_code(&bad_code), "BAD_USER_INPUT");
    let updated = app
        .data(
            "mutation($id: ID!) { updateRegency(input: {id: $id, version: 1, organiser: \"Bapelitbangda\"}) { regency { organiser version lastEventSequence } } }",
            json!({"id": regency["id"]}),
        )
        .await;
    assert_eq!(updated["updateRegency"]["regency"]["version"], 2);
    assert_eq!(updated["updateRegency"]["regency"]["lastEventSequence"], 2);
    let stale = app
        .gql("mutation($id: ID!) { updateRegency(input: {id: $id, version: 1, name: \"X\"}) { regency { id } } }", json!({"id": regency["id"]}))
        .await;
    assert_eq!(error_code(&stale), "CONFLICT");

    let unit = app
        .data(
            "mutation($r: ID!) { createUnit(input: {regencyId: $r, kind: KECAMATAN, name: \"Kecamatan Tenggarong\"}) { unit { id headTitle version } } }",
            json!({"r": regency["id"]}),
        )
        .await;
    let kecamatan = &unit["createUnit"]["unit"];
    assert_eq!(kecamatan["headTitle"], "Camat");
    let child = app
        .data(
            "mutation($r: ID!, $p: ID!) { createUnit(input: {regencyId: $r, parentId: $p, kind: KELURAHAN, name: \"Kelurahan Melayu\"}) { unit { id parent { name } } } }",
            json!({"r": regency["id"], "p": kecamatan["id"]}),
        )
        .await;
    assert_eq!(
        child["createUnit"]["unit"]["parent"]["name"],
        "Kecamatan Tenggarong"
    );
    let rename = app
        .gql(
            "mutation($id: ID!) { updateUnit(input: {id: $id, version: 1, name: \"Kecamatan Tenggarong\"}) { unit { id } } }",
            json!({"id": child["createUnit"]["unit"]["id"]}),
        )
        .await;
    assert_eq!(error_code(&rename), "BAD_USER_INPUT");
    assert!(
        rename["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("already exists")
    );

    let cohort = app
        .data(
            "mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2024, name: \"Labinov Kukar 2024\"}) { cohort { id stage version } } }",
            json!({"r": regency["id"]}),
        )
        .await;
    assert_eq!(cohort["createCohort"]["cohort"]["stage"], "DRUM_UP");
    let moved = app
        .data(
            "mutation($id: ID!) { updateCohort(input: {id: $id, version: 1, stage: DIAGNOSE}) { cohort { stage version } } }",
            json!({"id": cohort["createCohort"]["cohort"]["id"]}),
        )
        .await;
    assert_eq!(
        moved["updateCohort"]["cohort"],
        json!({"stage": "DIAGNOSE", "version": 2})
    );
    let duplicate = app
        .gql(
            "mutation($r: ID!) { createCohort(input: {regencyId: $r, year: 2024, name: \"Labinov Kukar 2024\"}) { cohort { id } } }",
            json!({"r": regency["id"]}),
        )
        .await;
    assert_eq!(error_code(&duplicate), "BAD_USER_INPUT");
}

const IMPORT: &str =
    "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) {
    imported ideas { title stage unit { name } } } }";

#[tokio::test]
async fn the_demo_spreadsheet_imports_and_a_bad_file_writes_nothing() {
    let app = TestApp::with_demo().await;
    let banjar = an_idea(&app, json!({"regencyCodes": ["63.03"]})).await;
    let cohort = &banjar["cohort"]["id"];
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/ide-inovasi-banjar.csv"
    ))
    .expect("the example spreadsheet");
    let before_seq = last_sequence(&app, "63.03").await;
    let data = app.data(IMPORT, json!({"c": cohort, "csv": csv})).await;
    assert_eq!(data["importIdeas"]["imported"], 5);
    let ideas = data["importIdeas"]["ideas"].as_array().expect("ideas");
    assert_eq!(ideas[0]["title"], "Si-Jempol Akta Kelahiran");
    assert_eq!(ideas[3]["unit"]["name"], "RSU Ratu Zaleha");
    assert!(ideas.iter().all(|i| i["stage"] == "DIAGNOSE"));
    assert_eq!(last_sequence(&app, "63.03").await, before_seq + 5);

    // The same file again adds nothing and says so; asked to, it adds the rows again.
    let again = app
        .data(
            "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { imported skipped } }",
            json!({"c": cohort, "csv": csv}),
        )
        .await;
    assert_eq!(again["importIdeas"]["imported"], 0);
    assert_eq!(again["importIdeas"]["skipped"], 5);
    assert_eq!(
        last_sequence(&app, "63.03").await,
        before_seq + 5,
        "no event"
    );
    let shouted = csv.replace("Si-Jempol Akta Kelahiran", "  SI-JEMPOL   akta kelahiran ");
    let data = app
        .data(
            "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { imported skipped } }",
            json!({"c": cohort, "csv": shouted}),
        )
        .await;
    assert_eq!(data["importIdeas"]["skipped"], 5, "case and spacing aside");
    let forced = app
        .data(
            "mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv, allowDuplicates: true}) { imported skipped } }",
            json!({"c": cohort, "csv": csv}),
        )
        .await;
    assert_eq!(forced["importIdeas"]["imported"], 5);
    assert_eq!(forced["importIdeas"]["skipped"], 0);
    assert_eq!(last_sequence(&app, "63.03").await, before_seq + 10);

    let before = counts(&app).await;
    let bad = "title,unit,problem,type,form,affairs_area,initiator,submitted\n\
               Baik,Dinas Kesehatan,p,DIGITAL,GOVERNANCE,Kesehatan,ASN,2019-09-10\n\
               ,Dinas Kesehatan,p,DIGITAL,GOVERNANCE,Kesehatan,ASN,2019-09-10\n\
               Salah unit,Dinas Rahasia,p,DIGITAL,GOVERNANCE,Kesehatan,ASN,2019-09-10\n\
               Masa depan,Dinas Kesehatan,p,DIGITAL,GOVERNANCE,Kesehatan,ASN,2999-01-01\n";
    let response = app.gql(IMPORT, json!({"c": cohort, "csv": bad})).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
    let lines = response["errors"][0]["extensions"]["lines"]
        .as_array()
        .expect("lines");
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| l["line"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(numbers, [3, 4, 5]);
    assert!(
        lines[1]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Dinas Rahasia")
    );
    assert!(
        lines[2]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("future")
    );
    assert_eq!(counts(&app).await, before, "a bad file writes nothing");
}

#[tokio::test]
async fn a_thousand_row_import_lands_in_one_transaction() {
    let app = TestApp::with_demo().await;
    let purbalingga = an_idea(&app, json!({"regencyCodes": ["33.03"]})).await;
    let units = app
        .data("{ units(filter: {regencyCodes: [\"33.03\"], kinds: [PUSKESMAS]}, first: 25) { nodes { name } } }", json!({}))
        .await;
    let names: Vec<String> = units["units"]["nodes"]
        .as_array()
        .expect("units")
        .iter()
        .map(|u| u["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mut csv =
        String::from("judul,perangkat daerah,permasalahan,jenis,bentuk,urusan,inisiator,tanggal\n");
    for n in 0..1000 {
        csv.push_str(&format!(
            "\"Inovasi {n}, tahap uji\",{},Masalah {n},Digital,Pelayanan Publik,Kesehatan,Masyarakat,2022-04-{:02}\n",
            names[n % names.len()],
            n % 28 + 1
        ));
    }
    let before = counts(&app).await;
    let before_seq = last_sequence(&app, "33.03").await;
    let data = app
        .data("mutation($c: ID!, $csv: String!) { importIdeas(input: {cohortId: $c, csv: $csv}) { imported } }", json!({"c": purbalingga["cohort"]["id"], "csv": csv}))
        .await;
    assert_eq!(data["importIdeas"]["imported"], 1000);
    let after = counts(&app).await;
    assert_eq!(after.0, before.0 + 1000);
    assert_eq!(after.1, before.1 + 1000);
    assert_eq!(last_sequence(&app, "33.03").await, before_seq + 1000);
    let found = app
        .data(
            "{ ideas(filter: {search: \"tahap uji\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(found["ideas"]["totalCount"], 1000);
}

/// The `labinov` binary, set to the database of `app`.
fn labinov_on(app: &TestApp) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_labinov"));
    command
        .env("DATABASE_URL", &app.config.database.database_url)
        .env("RUST_LOG", "error");
    if let Some(schema) = &app.config.database.database_schema {
        command.env("DATABASE_SCHEMA", schema);
    }
    command
}

#[tokio::test]
async fn the_cli_imports_a_spreadsheet_and_reports_bad_lines() {
    let app = TestApp::with_demo().await;
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/ide-inovasi-banjar.csv"
    );
    let mut command = labinov_on(&app);
    let out = command
        .args(["import", file, "--cohort", "63.03/2017"])
        .output()
        .expect("run labinov");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("imported 5 ideas"));
    let mut command = labinov_on(&app);
    let again = command
        .args(["import", file, "--cohort", "63.03/2017"])
        .output()
        .expect("run labinov");
    assert!(again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing imported: all 5 rows"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let found = app
        .data(
            "{ ideas(filter: {search: \"Si-Jempol\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(found["ideas"]["totalCount"], 1);

    let dir = tempfile::tempdir().expect("a directory");
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "title,unit,problem,type,form,affairs_area,initiator\nX,Nowhere,p,DIGITAL,GOVERNANCE,a,ASN\n")
        .expect("write");
    let mut command = labinov_on(&app);
    let out = command
        .args([
            "import",
            bad.to_str().unwrap_or_default(),
            "--cohort",
            "63.03/2017",
        ])
        .output()
        .expect("run labinov");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("line 2") && stderr.contains("Nowhere"),
        "{stderr}"
    );
}

#[tokio::test]
async fn graphql_over_http_status_codes_follow_the_spec() {
    let app = TestApp::spawn().await;
    let client = reqwest::Client::new();
    let get = client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .query(&[(
            "query",
            "mutation { createMentor(input: {name: \"X\"}) { mentor { id } } }",
        )])
        .send()
        .await
        .expect("an answer");
    assert_eq!(get.status().as_u16(), 405);
    let query = client
        .get(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("accept", "application/graphql-response+json")
        .query(&[("query", "{ regencies { totalCount } }")])
        .send()
        .await
        .expect("an answer");
    assert_eq!(query.status().as_u16(), 200);
    assert_eq!(
        query
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/graphql-response+json")
    );
    let invalid = client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("accept", "application/graphql-response+json")
        .json(&json!({"query": "{ nosuchfield }"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(invalid.status().as_u16(), 400);
    let body: Value = invalid.json().await.expect("json");
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let garbage = client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("an answer");
    assert_eq!(garbage.status().as_u16(), 400);
    let body: Value = garbage.json().await.expect("a GraphQL error body");
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    let legacy = client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(crate::helpers::admin_token())
        .header("accept", "application/json")
        .json(&json!({"query": "{ nosuchfield }"}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(legacy.status().as_u16(), 200);
    assert_eq!(
        legacy
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
}

const IMPORT_UNITS: &str = "mutation($r: ID!, $csv: String!) { importUnits(input: {regencyId: $r, csv: $csv}) { imported skipped units { name kind headTitle parent { name } } } }";

#[tokio::test]
async fn units_import_from_a_spreadsheet_all_or_nothing_and_again_adds_nothing() {
    let app = TestApp::spawn().await;
    let regency = app
        .data(
            r#"mutation { createRegency(input: {code: "63.03", name: "Kabupaten Banjar", province: "Kalimantan Selatan", organiser: "Bapelitbangda"}) { regency { id } } }"#,
            json!({}),
        )
        .await["createRegency"]["regency"]["id"]
        .clone();
    let csv = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/examples/unit-banjar.csv"
    ))
    .expect("the example units");
    let version = app.domain.data_version().await.expect("a version");
    let data = app
        .data(IMPORT_UNITS, json!({"r": regency, "csv": csv}))
        .await;
    assert_eq!(data["importUnits"]["imported"], 8);
    assert_ne!(
        app.domain.data_version().await.expect("a version"),
        version,
        "an import moves the data version the response cache goes by"
    );
    let units = data["importUnits"]["units"].as_array().expect("units");
    let sekumpul = units
        .iter()
        .find(|u| u["name"] == "Kelurahan Sekumpul")
        .expect("the kelurahan");
    assert_eq!(sekumpul["kind"], "KELURAHAN");
    assert_eq!(sekumpul["parent"]["name"], "Kecamatan Martapura");
    assert_eq!(sekumpul["headTitle"], "Lurah");
    let events = app
        .data(
            "{ pipelineEvents(filter: {kinds: [UNIT_CREATED]}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(events["pipelineEvents"]["totalCount"], 8);

    // Again: nothing added, and said so.
    let again = app
        .data(IMPORT_UNITS, json!({"r": regency, "csv": csv}))
        .await;
    assert_eq!(again["importUnits"]["imported"], 0);
    assert_eq!(again["importUnits"]["skipped"], 8);

    // A bad file writes nothing and names every bad line.
    let before = counts(&app).await;
    let bad = "nama,jenis,induk\n\
               Dinas Sosial,dinas,\n\
               Kantor Rahasia,KANTOR,\n\
               Desa Sungai Batang,desa,Kecamatan Tidak Ada\n\
               Dinas Sosial,DINAS,\n";
    let response = app
        .gql(IMPORT_UNITS, json!({"r": regency, "csv": bad}))
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT", "{response}");
    let numbers: Vec<u64> = response["errors"][0]["extensions"]["lines"]
        .as_array()
        .expect("lines")
        .iter()
        .map(|l| l["line"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(numbers, [3], "the kind is checked first, line by line");
    let bad = "nama,jenis,induk\n\
               Dinas Sosial,dinas,\n\
               Desa Sungai Batang,desa,Kecamatan Tidak Ada\n\
               Dinas Sosial,DINAS,\n";
    let response = app
        .gql(IMPORT_UNITS, json!({"r": regency, "csv": bad}))
        .await;
    let lines = response["errors"][0]["extensions"]["lines"]
        .as_array()
        .expect("lines");
    let numbers: Vec<u64> = lines
        .iter()
        .map(|l| l["line"].as_u64().unwrap_or_default())
        .collect();
    assert_eq!(numbers, [3, 4], "{response}");
    assert!(
        lines[0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("Kecamatan Tidak Ada")
    );
    assert_eq!(counts(&app).await, before, "a bad file writes nothing");
}
