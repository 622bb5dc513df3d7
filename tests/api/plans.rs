//! Action plans (rencana aksi): written in DESIGN, versioned with their history, checked like
//! every other input, read by the idea's regency only, and recorded as events.

use chrono::{Days, Utc};
use labinov::access::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code, event_total, token};

const WRITE: &str = "mutation($input: WriteActionPlanInput!) { writeActionPlan(input: $input) {
    actionPlan { goal version progress { done planned overdue }
                 milestones { id position title ownerName ownerPosition dueOn status doneOn overdue }
                 revisions { version goal actor milestones } }
    event { kind sequence payload } } }";

const PLAN: &str = "query($id: ID!) { idea: node(id: $id) { ... on Idea {
    stage progress { done planned overdue }
    actionPlan { goal version milestones { id title status doneOn } } } } }";

/// An active idea of Banjar in DESIGN without a plan: its id.
async fn idea_in_design(app: &TestApp) -> Value {
    let data = app
        .data(
            "{ ideas(filter: {regencyCodes: [\"63.03\"], stages: [DESIGN], statuses: [ACTIVE]}, first: 50) {
                nodes { id actionPlan { version } } } }",
            json!({}),
        )
        .await;
    data["ideas"]["nodes"]
        .as_array()
        .and_then(|ideas| ideas.iter().find(|i| i["actionPlan"].is_null()))
        .map(|i| i["id"].clone())
        .expect("an idea in DESIGN without a plan")
}

/// The title of the idea with this id.
async fn title_of(app: &TestApp, idea: &Value) -> String {
    app.data(
        "query($id: ID!) { node(id: $id) { ... on Idea { title } } }",
        json!({"id": idea}),
    )
    .await["node"]["title"]
        .as_str()
        .expect("a title")
        .to_owned()
}

fn day(offset_days: i64) -> String {
    let today = Utc::now().date_naive();
    let day = if offset_days >= 0 {
        today + Days::new(offset_days.unsigned_abs())
    } else {
        today - Days::new(offset_days.unsigned_abs())
    };
    day.to_string()
}

fn milestone(title: &str, due: &str) -> Value {
    json!({"title": title, "ownerName": "Siti Aminah", "ownerPosition": "Kepala Seksi Pelayanan", "dueOn": due})
}

#[tokio::test]
async fn a_plan_is_written_versioned_and_its_history_kept() {
    let app = TestApp::with_demo().await;
    let idea = idea_in_design(&app).await;
    let first = app
        .data(
            WRITE,
            json!({"input": {"ideaId": idea, "goal": "Layanan antar obat bagi lansia", "milestones": [
                milestone("Menyusun SOP", &day(-10)),
                milestone("Uji coba di dua desa", &day(20)),
            ]}}),
        )
        .await;
    let plan = &first["writeActionPlan"]["actionPlan"];
    assert_eq!(plan["version"], 1);
    assert_eq!(
        plan["progress"],
        json!({"done": 0, "planned": 2, "overdue": 1})
    );
    assert_eq!(plan["milestones"][0]["overdue"], true);
    assert_eq!(plan["milestones"][1]["position"], 2);
    assert_eq!(
        first["writeActionPlan"]["event"]["kind"],
        "ACTION_PLAN_WRITTEN"
    );

    // Version 2 keeps the first milestone (marked done), drops the second, adds a third.
    let kept = plan["milestones"][0]["id"].clone();
    let mut done = milestone("Menyusun SOP", &day(-10));
    done["id"] = kept.clone();
    done["status"] = json!("DONE");
    done["doneOn"] = json!(day(-3));
    let before = event_total(&app).await;
    let second = app
        .data(
            WRITE,
            json!({"input": {"ideaId": idea, "version": 1, "goal": "Layanan antar obat bagi lansia", "milestones": [
                done, milestone("Peluncuran", &day(60)),
            ]}}),
        )
        .await;
    let plan = &second["writeActionPlan"]["actionPlan"];
    assert_eq!(plan["version"], 2);
    assert_eq!(
        plan["milestones"][0]["id"], kept,
        "a listed milestone keeps its id"
    );
    assert_eq!(plan["milestones"][0]["doneOn"], day(-3).as_str());
    assert_eq!(
        plan["progress"],
        json!({"done": 1, "planned": 2, "overdue": 0})
    );
    let revisions = plan["revisions"].as_array().expect("revisions");
    assert_eq!(revisions.len(), 2);
    assert_eq!(
        revisions[0]["milestones"][1]["title"],
        "Uji coba di dua desa"
    );
    // ACTION_PLAN_WRITTEN and MILESTONE_DONE, in one write.
    assert_eq!(event_total(&app).await, before + 2);
    let events = app
        .data(
            "query($i: ID!) { pipelineEvents(filter: {ideaId: $i}, last: 2) { nodes { kind payload } } }",
            json!({"i": idea}),
        )
        .await;
    let kinds: Vec<&str> = events["pipelineEvents"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["ACTION_PLAN_WRITTEN", "MILESTONE_DONE"]);

    // A stale version is a CONFLICT and writes nothing; so is a first write over an existing plan.
    let before = event_total(&app).await;
    for version in [json!(1), Value::Null] {
        let stale = app
            .gql(
                WRITE,
                json!({"input": {"ideaId": idea, "version": version, "goal": "Lain", "milestones": []}}),
            )
            .await;
        assert_eq!(error_code(&stale), "CONFLICT", "{stale}");
    }
    // One milestone listed twice is refused.
    let mut twice = milestone("Menyusun SOP", &day(-10));
    twice["id"] = kept.clone();
    let repeated = app
        .gql(
            WRITE,
            json!({"input": {"ideaId": idea, "version": 2, "goal": "Lain", "milestones": [twice.clone(), twice]}}),
        )
        .await;
    assert_eq!(error_code(&repeated), "BAD_USER_INPUT", "{repeated}");
    assert_eq!(event_total(&app).await, before);
    let read = app.data(PLAN, json!({"id": idea})).await;
    assert_eq!(read["idea"]["actionPlan"]["version"], 2);
    assert_eq!(read["idea"]["progress"]["done"], 1);
}

#[tokio::test]
async fn bad_plans_are_refused_with_a_sentence_and_change_nothing() {
    let app = TestApp::with_demo().await;
    let idea = idea_in_design(&app).await;
    let diagnose = app
        .data(
            "{ ideas(filter: {regencyCodes: [\"63.03\"], stages: [DIAGNOSE], statuses: [ACTIVE]}, first: 1) { nodes { id } } }",
            json!({}),
        )
        .await["ideas"]["nodes"][0]["id"]
        .clone();
    let mut nik = milestone("Uji", &day(10));
    nik["ownerName"] = json!("Siti 6303012345670001");
    let mut future = milestone("Uji", &day(10));
    future["status"] = json!("DONE");
    future["doneOn"] = json!(day(5));
    let mut early = milestone("Uji", &day(10));
    early["doneOn"] = json!(day(-1));
    let cases = [
        (
            json!({"ideaId": idea, "goal": "  ", "milestones": []}),
            "BAD_USER_INPUT",
            "goal",
        ),
        (
            json!({"ideaId": idea, "goal": "G", "milestones": [nik]}),
            "BAD_USER_INPUT",
            "identity number",
        ),
        (
            json!({"ideaId": idea, "goal": "G", "milestones": [future]}),
            "BAD_USER_INPUT",
            "in the future",
        ),
        (
            json!({"ideaId": idea, "goal": "G", "milestones": [early]}),
            "BAD_USER_INPUT",
            "only a DONE milestone",
        ),
        (
            json!({"ideaId": idea, "goal": "G", "milestones": [milestone("Uji", "1990-01-01")]}),
            "BAD_USER_INPUT",
            "lab's start",
        ),
        (
            json!({"ideaId": diagnose, "goal": "G", "milestones": []}),
            "INVALID_TRANSITION",
            "written in DESIGN",
        ),
        (
            json!({"ideaId": idea, "goal": "G", "milestones": [milestone("Uji", "7 Desember")]}),
            "BAD_USER_INPUT",
            "must be a calendar day as YYYY-MM-DD",
        ),
    ];
    let before = event_total(&app).await;
    for (input, code, words) in cases {
        let refused = app.gql(WRITE, json!({ "input": input })).await;
        assert_eq!(error_code(&refused), code, "{refused}");
        let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{message}");
    }
    // The same day written into the query itself.
    let literal = format!(
        r#"mutation {{ writeActionPlan(input: {{ideaId: {idea}, goal: "G", milestones: [{{title: "Uji",
           ownerName: "Siti Aminah", ownerPosition: "Kepala Seksi", dueOn: "7 Desember"}}]}}) {{
           actionPlan {{ version }} }} }}"#
    );
    let refused = app.gql(&literal, json!({})).await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("is not a date written YYYY-MM-DD") && message.ends_with('.'),
        "{message}"
    );
    let too_many: Vec<Value> = (0..51)
        .map(|n| milestone(&format!("Langkah {n}"), &day(10)))
        .collect();
    let refused = app
        .gql(
            WRITE,
            json!({"input": {"ideaId": idea, "goal": "G", "milestones": too_many}}),
        )
        .await;
    assert_eq!(error_code(&refused), "BAD_USER_INPUT");
    assert_eq!(event_total(&app).await, before);
    let read = app.data(PLAN, json!({"id": idea})).await;
    assert_eq!(read["idea"]["actionPlan"], Value::Null);
}

#[tokio::test]
async fn the_regency_admin_writes_a_viewer_reads_and_other_regencies_see_nothing() {
    let app = TestApp::with_demo().await;
    let idea = idea_in_design(&app).await;
    let input = json!({"input": {"ideaId": idea, "goal": "Layanan", "milestones": [milestone("Uji", &day(10))]}});
    let before = event_total(&app).await;
    let viewer = token(Role::Viewer, Some("63.03"), None);
    let mentor = token(Role::Mentor, None, Some(1));
    let other_admin = token(Role::RegencyAdmin, Some("33.03"), None);
    for (who, caller, code) in [
        ("anonymous", None, "UNAUTHENTICATED"),
        ("VIEWER", Some(viewer.as_str()), "FORBIDDEN"),
        ("MENTOR", Some(mentor.as_str()), "FORBIDDEN"),
        (
            "Purbalingga's REGENCY_ADMIN",
            Some(other_admin.as_str()),
            "NOT_FOUND",
        ),
    ] {
        let refused = app.gql_as(caller, WRITE, input.clone()).await;
        assert_eq!(error_code(&refused), code, "{who}: {refused}");
    }
    assert_eq!(event_total(&app).await, before);

    let own_admin = token(Role::RegencyAdmin, Some("63.03"), None);
    let written = app.gql_as(Some(&own_admin), WRITE, input).await;
    assert_eq!(
        written["data"]["writeActionPlan"]["actionPlan"]["version"], 1,
        "{written}"
    );

    let read = app.gql_as(Some(&viewer), PLAN, json!({"id": idea})).await;
    assert_eq!(
        read["data"]["idea"]["actionPlan"]["goal"], "Layanan",
        "{read}"
    );
    let other_viewer = token(Role::Viewer, Some("33.03"), None);
    let hidden = app
        .gql_as(Some(&other_viewer), PLAN, json!({"id": idea}))
        .await;
    assert_eq!(hidden["data"]["idea"], Value::Null, "{hidden}");
}

#[tokio::test]
async fn the_demo_plans_every_idea_that_reached_deliver() {
    let app = TestApp::with_demo().await;
    let data = app
        .data(
            "{ ideas(filter: {regencyCodes: [\"63.03\"], stages: [DELIVER, DISPLAY]}, first: 100) {
                totalCount nodes { stage actionPlan { milestones { status } } progress { done planned } } } }",
            json!({}),
        )
        .await;
    let ideas = data["ideas"]["nodes"].as_array().expect("ideas");
    assert!(!ideas.is_empty());
    for idea in ideas {
        let planned = idea["progress"]["planned"].as_i64().unwrap_or_default();
        assert!(
            planned >= 1,
            "an idea in DELIVER has a planned milestone: {idea}"
        );
        if idea["stage"] == "DISPLAY" {
            assert_eq!(
                idea["progress"]["done"], idea["progress"]["planned"],
                "{idea}"
            );
        }
    }
}

#[tokio::test]
async fn an_overdue_milestone_puts_the_idea_on_the_follow_up_list() {
    let app = TestApp::with_demo().await;
    let idea = idea_in_design(&app).await;
    let title = title_of(&app, &idea).await;
    let listed = async |app: &TestApp, filter: &str| -> bool {
        let data = app
            .data(
                &format!(
                    "query($t: String!) {{ ideas(filter: {{search: $t, {filter}}}, first: 100) {{ nodes {{ id }} }}
                       staleIdeas(days: 36500, filter: {{search: $t}}, first: 100) {{ nodes {{ id }} }} }}"
                ),
                json!({"t": title}),
            )
            .await;
        let has = |list: &Value| {
            list["nodes"]
                .as_array()
                .is_some_and(|nodes| nodes.iter().any(|n| n["id"] == idea))
        };
        assert_eq!(
            has(&data["ideas"]),
            has(&data["staleIdeas"]),
            "staleIdeas lists an idea in DESIGN that moved today exactly when it is overdue"
        );
        has(&data["ideas"])
    };
    assert!(
        !listed(&app, "overdueMilestones: true").await,
        "no plan, nothing overdue"
    );
    app.data(
        WRITE,
        json!({"input": {"ideaId": idea, "goal": "Layanan", "milestones": [
            milestone("Menyusun SOP", &day(-1)), milestone("Uji coba", &day(30)),
        ]}}),
    )
    .await;
    assert!(listed(&app, "overdueMilestones: true").await);
    let plan = app.data(PLAN, json!({"id": idea})).await;
    let mut done = milestone("Menyusun SOP", &day(-1));
    done["id"] = plan["idea"]["actionPlan"]["milestones"][0]["id"].clone();
    done["status"] = json!("DONE");
    app.data(
        WRITE,
        json!({"input": {"ideaId": idea, "version": 1, "goal": "Layanan", "milestones": [
            done, milestone("Uji coba", &day(30)),
        ]}}),
    )
    .await;
    assert!(
        !listed(&app, "overdueMilestones: true").await,
        "done is not overdue"
    );
}

#[tokio::test]
async fn the_coaching_mentor_comments_on_milestones_and_nobody_else_does() {
    let app = TestApp::with_demo().await;
    let idea = idea_in_design(&app).await;
    let written = app
        .data(
            WRITE,
            json!({"input": {"ideaId": idea, "goal": "Layanan", "milestones": [milestone("Uji coba", &day(30))]}}),
        )
        .await;
    let milestone_id = written["writeActionPlan"]["actionPlan"]["milestones"][0]["id"].clone();
    // The idea's coach (the demo assigned one to every idea that reached DESIGN) and a mentor
    // who does not coach it.
    let coaching = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Idea { mentors { id name } } } }",
            json!({"id": idea}),
        )
        .await;
    let coach = coaching["node"]["mentors"][0].clone();
    assert!(coach.is_object(), "the idea has a coach: {coaching}");
    let mentors = app
        .data("{ mentors(first: 10) { nodes { id name } } }", json!({}))
        .await;
    let other = mentors["mentors"]["nodes"]
        .as_array()
        .and_then(|all| all.iter().find(|m| m["id"] != coach["id"]).cloned())
        .expect("another mentor");
    let as_mentor = |m: &Value| {
        let id = labinov::global_id::decode(
            labinov::global_id::Kind::Mentor,
            m["id"].as_str().expect("an id"),
        )
        .expect("a mentor id");
        token(Role::Mentor, None, Some(id))
    };
    let comment = "mutation($m: ID!, $on: NaiveDate) { commentOnMilestone(input: {milestoneId: $m, comment: \"Jadwal uji coba perlu disepakati dengan kepala desa\", on: $on}) {
        comment { comment writtenOn mentor { name } } event { kind payload } } }";

    // Not the coach, not a mentor, a day in the future: refused, nothing written.
    let before = event_total(&app).await;
    let regency_admin = token(Role::RegencyAdmin, Some("63.03"), None);
    for (who, caller, on, code) in [
        (
            "another mentor",
            as_mentor(&other),
            Value::Null,
            "FORBIDDEN",
        ),
        (
            "the regency's admin",
            regency_admin,
            Value::Null,
            "FORBIDDEN",
        ),
        (
            "the coach, tomorrow",
            as_mentor(&coach),
            json!(day(1)),
            "BAD_USER_INPUT",
        ),
    ] {
        let refused = app
            .gql_as(Some(&caller), comment, json!({"m": milestone_id, "on": on}))
            .await;
        assert_eq!(error_code(&refused), code, "{who}: {refused}");
    }
    let anonymous = app
        .gql_as(None, comment, json!({"m": milestone_id, "on": Value::Null}))
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED");
    assert_eq!(event_total(&app).await, before);

    let done = app
        .gql_as(
            Some(&as_mentor(&coach)),
            comment,
            json!({"m": milestone_id, "on": day(0)}),
        )
        .await;
    let done = &done["data"]["commentOnMilestone"];
    assert_eq!(done["comment"]["mentor"]["name"], coach["name"], "{done}");
    assert_eq!(done["event"]["kind"], "MILESTONE_COMMENTED");
    assert_eq!(event_total(&app).await, before + 1);
    // The coach cannot change the plan itself.
    let edit = app
        .gql_as(
            Some(&as_mentor(&coach)),
            WRITE,
            json!({"input": {"ideaId": idea, "version": 1, "goal": "Lain", "milestones": []}}),
        )
        .await;
    assert_eq!(error_code(&edit), "FORBIDDEN");
    let log = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Milestone { comments { comment writtenOn } } } }",
            json!({"id": milestone_id}),
        )
        .await;
    assert_eq!(log["node"]["comments"][0]["writtenOn"], day(0).as_str());
}

/// GETs `path` as `token`'s holder; the status and the body.
async fn get(app: &TestApp, path: &str, token: Option<&str>) -> (u16, String) {
    use axum::{body::Body, http::Request};
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let mut request = Request::get(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let response = app
        .router()
        .oneshot(request.body(Body::empty()).expect("a request"))
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("a body")
        .to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_plan_exports_as_csv_and_the_ideas_export_carries_its_progress() {
    let app = TestApp::with_demo().await;
    let idea = idea_in_design(&app).await;
    let mut done = milestone("=HYPERLINK(\"http://x\")", &day(-5));
    done["status"] = json!("DONE");
    app.data(
        WRITE,
        json!({"input": {"ideaId": idea, "goal": "Layanan antar obat", "milestones": [
            done, milestone("Uji coba", &day(-1)), milestone("Peluncuran", &day(40)),
        ]}}),
    )
    .await;
    let id = idea.as_str().expect("an id");
    let admin = crate::helpers::admin_token();
    let (status, body) = get(&app, &format!("/export/plan.csv?idea={id}"), Some(&admin)).await;
    assert_eq!(status, 200, "{body}");
    let lines: Vec<&str> = body.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(
        lines[0],
        "position,title,owner_name,owner_position,due_on,status,done_on,overdue,note,goal"
    );
    assert!(
        lines[1].starts_with("1,\"'=HYPERLINK"),
        "a formula is guarded: {}",
        lines[1]
    );
    assert!(lines[1].contains(",DONE,"), "{}", lines[1]);
    assert!(
        lines[2].contains(",PLANNED,,yes,"),
        "past due and not done: {}",
        lines[2]
    );
    assert!(lines[3].contains(",PLANNED,,no,"), "{}", lines[3]);

    // Another regency's reader finds nothing; without a token the export asks for one.
    let other = token(Role::Viewer, Some("33.03"), None);
    let path = format!("/export/plan.csv?idea={id}");
    assert_eq!(get(&app, &path, Some(&other)).await.0, 404);
    assert_eq!(get(&app, &path, None).await.0, 401);
    assert_eq!(
        get(&app, "/export/plan.csv?idea=nonsense", Some(&admin))
            .await
            .0,
        400
    );

    // The ideas export names the plan's progress.
    let title = title_of(&app, &idea).await;
    let filter = json!({"search": title}).to_string();
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("filter", &filter);
    let (status, body) = get(
        &app,
        &format!("/export/ideas.csv?{}", query.finish()),
        Some(&admin),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mut reader = csv::Reader::from_reader(body.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().expect("a header").clone();
    let column = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let row = reader
        .records()
        .filter_map(Result::ok)
        .find(|r| r.get(0) == Some(id))
        .expect("the idea's row");
    assert_eq!(row.get(column("milestones_done")), Some("1"));
    assert_eq!(row.get(column("milestones_planned")), Some("3"));
    assert_eq!(row.get(column("milestones_overdue")), Some("1"));
}

#[tokio::test]
async fn the_funnel_counts_milestones_per_stage_for_signed_in_callers() {
    let app = TestApp::with_demo().await;
    let funnel = "{ funnel(filter: {regencyCodes: [\"63.03\"]}) { stages { stage milestones { done planned } } } }";
    let design = |data: &Value| {
        data["funnel"]["stages"]
            .as_array()
            .and_then(|stages| stages.iter().find(|s| s["stage"] == "DESIGN"))
            .map(|s| s["milestones"].clone())
            .expect("the DESIGN stage")
    };
    let before = design(&app.data(funnel, json!({})).await);
    let idea = idea_in_design(&app).await;
    let mut done = milestone("Menyusun SOP", &day(-2));
    done["status"] = json!("DONE");
    let mut dropped = milestone("Studi banding", &day(5));
    dropped["status"] = json!("DROPPED");
    app.data(
        WRITE,
        json!({"input": {"ideaId": idea, "goal": "Layanan", "milestones": [
            done, milestone("Uji coba", &day(30)), dropped,
        ]}}),
    )
    .await;
    let after = design(&app.data(funnel, json!({})).await);
    let n = |v: &Value, key: &str| v[key].as_u64().expect("a count");
    assert_eq!(
        n(&after, "planned"),
        n(&before, "planned") + 2,
        "dropped ones do not count"
    );
    assert_eq!(n(&after, "done"), n(&before, "done") + 1);
    let public = app.gql_as(None, funnel, json!({})).await;
    assert_eq!(
        design(&public["data"]),
        Value::Null,
        "public figures leave milestones out"
    );
}

#[tokio::test]
async fn idea_counts_group_the_ideas_with_overdue_milestones_for_signed_in_callers_only() {
    let app = TestApp::with_demo().await;
    let query = "query($f: IdeaFilter) { ideaCounts(groupBy: STAGE, filter: $f) { key count }
        ideas(filter: $f) { totalCount } }";
    let filter = json!({"f": {"regencyCodes": ["63.03"], "overdueMilestones": true}});
    let data = app.data(query, filter.clone()).await;
    let counted: i64 = data["ideaCounts"]
        .as_array()
        .expect("groups")
        .iter()
        .filter_map(|g| g["count"].as_i64())
        .sum();
    let listed = data["ideas"]["totalCount"].as_i64().expect("a total");
    assert!(listed > 0, "the demo has launched ideas behind their plans");
    assert_eq!(counted, listed, "{data}");
    assert!(
        data["ideaCounts"]
            .as_array()
            .expect("groups")
            .iter()
            .all(|g| g["key"] == "DELIVER" || g["key"] == "DESIGN"),
        "displayed ideas have done every milestone: {data}"
    );
    // Plans are not public: the public figures do not answer about them.
    let anonymous = app
        .gql_as(
            None,
            "query($f: IdeaFilter) { ideaCounts(groupBy: STAGE, filter: $f) { key count } }",
            filter,
        )
        .await;
    assert_eq!(error_code(&anonymous), "UNAUTHENTICATED", "{anonymous}");
}
