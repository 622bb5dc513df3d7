//! Read API: filters, Relay paging, aggregates and cross-regency views, checked against
//! counts computed independently from the rows, and the SQL statement bound.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use entity::{
    IdeaStatus, InnovationType, Stage, UnitKind, idea, mentor, mentor_assignment, regency,
    stage_transition, unit,
};
use labinov::global_id::{self, Kind};
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

/// Every row the independent counts are computed from.
struct Rows {
    ideas: Vec<idea::Model>,
    units: HashMap<i32, unit::Model>,
    regencies: HashMap<i32, regency::Model>,
    mentors: Vec<mentor::Model>,
    current_mentors: HashMap<i32, HashSet<i32>>,
    peaks: HashMap<i32, Stage>,
}

async fn rows(app: &TestApp) -> Rows {
    let db = &app.db().await;
    let mut current_mentors: HashMap<i32, HashSet<i32>> = HashMap::new();
    for a in mentor_assignment::Entity::find()
        .all(db)
        .await
        .expect("assignments")
    {
        if a.until.is_none() {
            current_mentors
                .entry(a.idea_id)
                .or_default()
                .insert(a.mentor_id);
        }
    }
    let mut peaks: HashMap<i32, Stage> = HashMap::new();
    for t in stage_transition::Entity::find()
        .all(db)
        .await
        .expect("transitions")
    {
        let peak = peaks.entry(t.idea_id).or_insert(t.to_stage);
        *peak = (*peak).max(t.to_stage);
    }
    Rows {
        ideas: idea::Entity::find().all(db).await.expect("ideas"),
        units: unit::Entity::find()
            .all(db)
            .await
            .expect("units")
            .into_iter()
            .map(|u| (u.id, u))
            .collect(),
        regencies: regency::Entity::find()
            .all(db)
            .await
            .expect("regencies")
            .into_iter()
            .map(|r| (r.id, r))
            .collect(),
        mentors: mentor::Entity::find().all(db).await.expect("mentors"),
        current_mentors,
        peaks,
    }
}

impl Rows {
    fn count(&self, keep: impl Fn(&idea::Model) -> bool) -> u64 {
        self.ideas.iter().filter(|i| keep(i)).count() as u64
    }

    fn code(&self, idea: &idea::Model) -> &str {
        &self.regencies[&idea.regency_id].code
    }
}

async fn total(app: &TestApp, filter: Value) -> u64 {
    let data = app
        .data(
            "query($f: IdeaFilter) { ideas(filter: $f, first: 1) { totalCount } }",
            json!({ "f": filter }),
        )
        .await;
    data["ideas"]["totalCount"].as_u64().expect("a count")
}

#[tokio::test]
async fn every_filter_agrees_with_an_independent_count() {
    let app = TestApp::with_demo().await;
    let r = rows(&app).await;
    let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("a date");
    let suripto = r
        .mentors
        .iter()
        .find(|m| m.name == "Suripto")
        .expect("Suripto")
        .id;
    let some_unit = r.ideas[7].unit_id;
    let some_cohort = r.ideas[300].cohort_id;
    let banjar = r
        .regencies
        .values()
        .find(|g| g.code == "63.03")
        .expect("Banjar")
        .id;

    let cases: Vec<(Value, u64)> = vec![
        (json!({}), r.count(|_| true)),
        (
            json!({"regencyCodes": ["63.03"]}),
            r.count(|i| r.code(i) == "63.03"),
        ),
        (
            json!({"regencyCodes": ["63.03", "72.01"]}),
            r.count(|i| ["63.03", "72.01"].contains(&r.code(i))),
        ),
        (
            json!({"regencyIds": [global_id::encode(Kind::Regency, banjar)]}),
            r.count(|i| i.regency_id == banjar),
        ),
        (
            json!({"cohortIds": [global_id::encode(Kind::Cohort, some_cohort)]}),
            r.count(|i| i.cohort_id == some_cohort),
        ),
        (
            json!({"unitIds": [global_id::encode(Kind::Unit, some_unit)]}),
            r.count(|i| i.unit_id == some_unit),
        ),
        (
            json!({"unitKinds": ["PUSKESMAS", "KELURAHAN"]}),
            r.count(|i| {
                matches!(
                    r.units[&i.unit_id].kind,
                    UnitKind::Puskesmas | UnitKind::Kelurahan
                )
            }),
        ),
        (
            json!({"stages": ["DESIGN", "DELIVER"]}),
            r.count(|i| matches!(i.stage, Stage::Design | Stage::Deliver)),
        ),
        (
            json!({"stageAtLeast": "DELIVER"}),
            r.count(|i| i.stage >= Stage::Deliver),
        ),
        (
            json!({"statuses": ["STALLED"]}),
            r.count(|i| i.status == IdeaStatus::Stalled),
        ),
        (
            json!({"types": ["DIGITAL"]}),
            r.count(|i| i.innovation_type == InnovationType::Digital),
        ),
        (
            json!({"forms": ["GOVERNANCE"]}),
            r.count(|i| i.form == entity::InnovationForm::Governance),
        ),
        (
            json!({"maturities": ["APPLIED"]}),
            r.count(|i| i.maturity == entity::Maturity::Applied),
        ),
        (
            json!({"initiators": ["COMMUNITY"]}),
            r.count(|i| i.initiator == entity::Initiator::Community),
        ),
        (
            json!({"mentorIds": [global_id::encode(Kind::Mentor, suripto)]}),
            r.count(|i| {
                r.current_mentors
                    .get(&i.id)
                    .is_some_and(|m| m.contains(&suripto))
            }),
        ),
        (
            json!({"search": "POSYANDU"}),
            r.count(|i| {
                i.title.to_lowercase().contains("posyandu")
                    || i.problem.to_lowercase().contains("posyandu")
            }),
        ),
        (
            json!({"search": "jarak dan biaya"}),
            r.count(|i| {
                i.title.contains("jarak dan biaya") || i.problem.contains("jarak dan biaya")
            }),
        ),
        (json!({"search": "100%"}), 0),
        (
            json!({"submittedFrom": "2017-05-01", "submittedTo": "2017-06-30"}),
            r.count(|i| {
                let d = i.submitted_at.date_naive();
                d >= day("2017-05-01") && d <= day("2017-06-30")
            }),
        ),
        (
            json!({"launchedFrom": "2018-03-01", "launchedTo": "2018-06-30"}),
            r.count(|i| {
                i.launched_on
                    .is_some_and(|d| d >= day("2018-03-01") && d <= day("2018-06-30"))
            }),
        ),
        (
            json!({"regencyCodes": ["33.03"], "or": [{"stages": ["DISPLAY"]}, {"statuses": ["STALLED"]}]}),
            r.count(|i| {
                r.code(i) == "33.03"
                    && (i.stage == Stage::Display || i.status == IdeaStatus::Stalled)
            }),
        ),
        (
            json!({"and": [{"stageAtLeast": "DESIGN"}, {"types": ["NON_DIGITAL"]}], "not": {"regencyCodes": ["72.01"]}}),
            r.count(|i| {
                i.stage >= Stage::Design
                    && i.innovation_type == InnovationType::NonDigital
                    && r.code(i) != "72.01"
            }),
        ),
        (
            json!({"not": {"or": [{"statuses": ["DROPPED"]}, {"unitKinds": ["KECAMATAN"]}]}}),
            r.count(|i| {
                i.status != IdeaStatus::Dropped && r.units[&i.unit_id].kind != UnitKind::Kecamatan
            }),
        ),
    ];
    for (filter, expected) in cases {
        assert_eq!(
            total(&app, filter.clone()).await,
            expected,
            "filter {filter}"
        );
    }
}

/// Pages through a connection in both directions and returns the node lists.
async fn page_both_ways(
    app: &TestApp,
    order: Value,
    filter: Value,
    size: u32,
) -> (Vec<Value>, Vec<Value>) {
    let query = "query($f: IdeaFilter, $o: IdeaOrder, $first: Int, $after: String, $last: Int, $before: String) {
        ideas(filter: $f, orderBy: $o, first: $first, after: $after, last: $last, before: $before) {
          pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
          nodes { id title stage submittedAt updatedAt mentorAssignments { since mentor { name } } }
        } }";
    let mut forward = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(
                query,
                json!({"f": filter, "o": order, "first": size, "after": after}),
            )
            .await;
        let page = &data["ideas"];
        forward.extend(page["nodes"].as_array().expect("nodes").iter().cloned());
        if !page["pageInfo"]["hasNextPage"]
            .as_bool()
            .expect("hasNextPage")
        {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    let mut backward = Vec::new();
    let mut before = Value::Null;
    loop {
        let data = app
            .data(
                query,
                json!({"f": filter, "o": order, "last": size, "before": before}),
            )
            .await;
        let page = &data["ideas"];
        let mut nodes = page["nodes"].as_array().expect("nodes").clone();
        nodes.extend(backward);
        backward = nodes;
        if !page["pageInfo"]["hasPreviousPage"]
            .as_bool()
            .expect("hasPreviousPage")
        {
            break;
        }
        before = page["pageInfo"]["startCursor"].clone();
    }
    (forward, backward)
}

fn stage_rank(stage: &Value) -> usize {
    ["DRUM_UP", "DIAGNOSE", "DESIGN", "DELIVER", "DISPLAY"]
        .iter()
        .position(|s| stage == s)
        .expect("a stage")
}

#[tokio::test]
async fn paging_through_all_banjar_ideas_forward_and_backward_returns_each_once_in_order() {
    let app = TestApp::with_demo().await;
    let banjar = json!({"regencyCodes": ["63.03"]});
    for (order, size) in [
        (json!({"field": "SUBMITTED_AT", "direction": "ASC"}), 25),
        (json!({"field": "STAGE", "direction": "DESC"}), 100),
        (json!({"field": "TITLE", "direction": "ASC"}), 30),
        (json!({"field": "UPDATED_AT", "direction": "DESC"}), 50),
    ] {
        let (forward, backward) = page_both_ways(&app, order.clone(), banjar.clone(), size).await;
        assert_eq!(forward.len(), 268, "{order}");
        let ids: HashSet<&str> = forward
            .iter()
            .map(|n| n["id"].as_str().expect("id"))
            .collect();
        assert_eq!(ids.len(), 268, "each idea exactly once with {order}");
        assert_eq!(
            forward, backward,
            "backward paging gives the same sequence with {order}"
        );
        for pair in forward.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            match order["field"].as_str() {
                Some("SUBMITTED_AT") => {
                    assert!(a["submittedAt"].as_str() <= b["submittedAt"].as_str());
                }
                Some("STAGE") => assert!(stage_rank(&a["stage"]) >= stage_rank(&b["stage"])),
                Some("UPDATED_AT") => assert!(a["updatedAt"].as_str() >= b["updatedAt"].as_str()),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn every_group_by_agrees_with_an_independent_count() {
    let app = TestApp::with_demo().await;
    let r = rows(&app).await;
    let groups = |by: &str| -> Box<dyn Fn(&idea::Model) -> String + '_> {
        match by {
            "STAGE" => Box::new(|i| i.stage.as_str().to_owned()),
            "STATUS" => Box::new(|i| i.status.as_str().to_owned()),
            "UNIT_KIND" => Box::new(|i| r.units[&i.unit_id].kind.as_str().to_owned()),
            "TYPE" => Box::new(|i| i.innovation_type.as_str().to_owned()),
            "FORM" => Box::new(|i| i.form.as_str().to_owned()),
            "MATURITY" => Box::new(|i| i.maturity.as_str().to_owned()),
            "REGENCY" => Box::new(|i| global_id::encode(Kind::Regency, i.regency_id)),
            "UNIT" => Box::new(|i| global_id::encode(Kind::Unit, i.unit_id)),
            "COHORT" => Box::new(|i| global_id::encode(Kind::Cohort, i.cohort_id)),
            _ => Box::new(|i| i.submitted_at.format("%Y").to_string()),
        }
    };
    for (by, filter) in [
        ("STAGE", json!({})),
        ("STATUS", json!({"regencyCodes": ["72.01"]})),
        ("UNIT_KIND", json!({"regencyCodes": ["33.03"]})),
        ("TYPE", json!({})),
        ("FORM", json!({"stageAtLeast": "DELIVER"})),
        ("MATURITY", json!({})),
        ("REGENCY", json!({})),
        ("UNIT", json!({"regencyCodes": ["63.03"]})),
        ("COHORT", json!({})),
        ("YEAR", json!({})),
    ] {
        let data = app
            .data(
                "query($g: IdeaGroupBy!, $f: IdeaFilter) { ideaCounts(groupBy: $g, filter: $f) { key label count } }",
                json!({"g": by, "f": filter}),
            )
            .await;
        let got: HashMap<String, u64> = data["ideaCounts"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| {
                (
                    g["key"].as_str().expect("key").to_owned(),
                    g["count"].as_u64().expect("count"),
                )
            })
            .collect();
        let key = groups(by);
        let mut expected: HashMap<String, u64> = HashMap::new();
        for idea in &r.ideas {
            let in_scope = match filter.get("regencyCodes") {
                Some(codes) => codes[0] == r.code(idea),
                None => filter.get("stageAtLeast").is_none() || idea.stage >= Stage::Deliver,
            };
            if in_scope {
                *expected.entry(key(idea)).or_default() += 1;
            }
        }
        assert_eq!(got, expected, "group by {by} with {filter}");
    }
}

#[tokio::test]
async fn the_cross_regency_funnel_compares_banjar_purbalingga_and_banggai() {
    let app = TestApp::with_demo().await;
    let r = rows(&app).await;
    let data = app
        .data(
            "{ regencies { nodes { code funnel { total active stalled dropped launched
                 stages { stage reached current conversion } commitments { signed fulfilled } } } } }",
            json!({}),
        )
        .await;
    let funnels: HashMap<&str, &Value> = data["regencies"]["nodes"]
        .as_array()
        .expect("regencies")
        .iter()
        .map(|n| (n["code"].as_str().expect("code"), &n["funnel"]))
        .collect();
    assert_eq!(funnels["63.03"]["total"], 268);
    assert_eq!(funnels["63.03"]["launched"], 104);
    assert_eq!(funnels["33.03"]["total"], 174);
    assert_eq!(funnels["72.01"]["total"], 190);
    assert_eq!(funnels["72.01"]["active"], 50);
    for (code, funnel) in &funnels {
        let mine = |i: &&idea::Model| r.code(i) == *code;
        let stages = funnel["stages"].as_array().expect("stages");
        assert_eq!(stages.len(), 5);
        for (n, stage) in stages.iter().enumerate() {
            let rank = n as i32 + 1;
            let reached = r
                .ideas
                .iter()
                .filter(mine)
                .filter(|i| rank == 1 || r.peaks[&i.id].rank() >= rank)
                .count();
            let current = r
                .ideas
                .iter()
                .filter(mine)
                .filter(|i| i.stage.rank() == rank)
                .count();
            assert_eq!(stage["reached"], reached, "{code} {}", stage["stage"]);
            assert_eq!(stage["current"], current, "{code} {}", stage["stage"]);
            if n > 0 {
                let previous = stages[n - 1]["reached"].as_f64().expect("reached");
                let conversion = stage["conversion"].as_f64().expect("conversion");
                assert!((conversion - reached as f64 / previous).abs() < 1e-9);
            }
        }
        let launched = r
            .ideas
            .iter()
            .filter(mine)
            .filter(|i| r.peaks[&i.id] >= Stage::Deliver)
            .count();
        assert_eq!(funnel["launched"], launched);
        let sum = ["active", "stalled", "dropped"]
            .iter()
            .map(|k| funnel[k].as_u64().unwrap_or(0))
            .sum::<u64>();
        assert_eq!(funnel["total"].as_u64(), Some(sum));
    }
    // The top-level funnel over one regency agrees with the nested one.
    let single = app
        .data(
            "{ funnel(filter: {regencyCodes: [\"33.03\"]}) { total launched stages { reached } } }",
            json!({}),
        )
        .await;
    assert_eq!(single["funnel"]["launched"], funnels["33.03"]["launched"]);
    assert_eq!(single["funnel"]["total"], funnels["33.03"]["total"]);
}

#[tokio::test]
async fn stages_lists_the_five_stages_in_order_with_their_counts() {
    let app = TestApp::with_demo().await;
    let r = rows(&app).await;
    let data = app
        .data(
            "{ stages(filter: {regencyCodes: [\"63.03\"]}) { stage count } }",
            json!({}),
        )
        .await;
    let stages = data["stages"].as_array().expect("stages");
    let names: Vec<&str> = stages
        .iter()
        .map(|s| s["stage"].as_str().expect("stage"))
        .collect();
    assert_eq!(
        names,
        ["DRUM_UP", "DIAGNOSE", "DESIGN", "DELIVER", "DISPLAY"]
    );
    for s in stages {
        let expected = r.count(|i| r.code(i) == "63.03" && i.stage.as_str() == s["stage"]);
        assert_eq!(s["count"], expected);
    }
}

const NESTED_PAGE: &str = "query($n: Int) { ideas(first: $n, filter: {stageAtLeast: DESIGN}) { totalCount edges { cursor node {
    id title unit { name kind parent { name } } cohort { name } regency { code }
    mentors { name } mentorAssignments { since mentor { name } } commitments { status unit { name } }
    history { decision toStage at } } } } }";

#[tokio::test]
async fn a_page_of_100_ideas_with_relations_costs_the_same_statements_as_a_page_of_10() {
    let app = TestApp::with_demo().await;
    let mut costs = Vec::new();
    for n in [10, 100] {
        let before = app.domain.statements_executed();
        let data = app.data(NESTED_PAGE, json!({ "n": n })).await;
        costs.push(app.domain.statements_executed() - before);
        assert_eq!(data["ideas"]["edges"].as_array().map(Vec::len), Some(n));
    }
    assert_eq!(
        costs[0], costs[1],
        "statements for 10 vs 100 ideas: {costs:?}"
    );
    assert!(
        costs[1] <= 15,
        "a page costs a small fixed number of statements, not {}",
        costs[1]
    );
}

/// A page's relations each take a connection after the page gave its own back: on a pool of
/// one connection, the page with every relation still answers, as it does on a larger pool,
/// instead of waiting for itself until the pool times out.
#[tokio::test]
async fn a_page_with_every_relation_answers_on_a_pool_of_one_connection() {
    let larger = TestApp::with_demo().await;
    let (mut config, dir) = crate::helpers::fresh_config();
    config.database.database_max_connections = 1;
    config.database.database_acquire_timeout_secs = 2;
    let one = TestApp::start(config, true, std::sync::Arc::new(dir)).await;
    let asked = json!({ "n": 30 });
    let answer = one.gql(NESTED_PAGE, asked.clone()).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(answer["data"], larger.data(NESTED_PAGE, asked).await);
}

#[tokio::test]
async fn a_page_reads_its_ideas_owners_and_mentors_in_its_own_statement() {
    let app = TestApp::with_demo().await;
    let cost = |selection: &'static str| {
        let app = &app;
        async move {
            let before = app.domain.statements_executed();
            let data = app
                .data(
                    &format!("{{ ideas(first: 20) {{ nodes {{ id {selection} }} }} }}"),
                    json!({}),
                )
                .await;
            (app.domain.statements_executed() - before, data)
        }
    };
    let (bare, _) = cost("").await;
    let (one, _) = cost("unit { name }").await;
    let (three, data) = cost("unit { name } cohort { name } regency { code }").await;
    assert_eq!(one, bare, "a to-one relation is read with the page");
    assert_eq!(three, bare, "so are all three to-one relations");
    for node in data["ideas"]["nodes"].as_array().expect("ideas") {
        for field in ["unit", "cohort", "regency"] {
            assert!(node[field].is_object(), "{field} of {node}");
        }
    }
    let (assignments, _) = cost("mentorAssignments { since }").await;
    let (with_mentors, data) = cost("mentorAssignments { since mentor { name } }").await;
    assert_eq!(assignments, bare + 1);
    assert_eq!(
        with_mentors, bare,
        "assignments with their mentors come with the page"
    );
    let named = data["ideas"]["nodes"]
        .as_array()
        .expect("ideas")
        .iter()
        .flat_map(|n| {
            n["mentorAssignments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|a| a["mentor"]["name"].is_string())
        .count();
    assert!(named > 0, "the demo's page has mentored ideas: {data}");
}

#[tokio::test]
async fn reading_the_owners_with_the_page_changes_neither_its_ideas_nor_its_order() {
    let app = TestApp::with_demo().await;
    let page = |args: &str, selection: &str| {
        let app = &app;
        let query = format!(
            "{{ ideas({args}) {{ edges {{ cursor node {{ id title {selection} }} }} pageInfo {{ hasNextPage hasPreviousPage endCursor }} }} }}"
        );
        async move { app.data(&query, json!({})).await["ideas"].clone() }
    };
    let owners = "unit { name regency { code } } cohort { name stage } regency { code name } \
                  mentorAssignments { since mentor { name } }";
    for args in [
        "first: 7",
        "last: 4",
        "first: 5, filter: { search: \"a\" }",
        "first: 5, filter: { stages: [DIAGNOSE, DESIGN, DELIVER] }",
        "first: 5, filter: { or: [{ search: \"sehat\" }, { statuses: [STALLED] }] }",
        "first: 6, orderBy: { field: STAGE, direction: DESC }",
        "first: 6, orderBy: { field: TITLE }",
        "first: 6, orderBy: { field: UPDATED_AT, direction: DESC }",
        "first: 6, orderBy: { field: STAGE_ENTERED_AT }",
    ] {
        let plain = page(args, "").await;
        let joined = page(args, owners).await;
        let ids = |page: &Value| -> Vec<(String, String)> {
            page["edges"]
                .as_array()
                .expect("edges")
                .iter()
                .map(|e| (e["cursor"].to_string(), e["node"]["id"].to_string()))
                .collect()
        };
        assert!(!ids(&plain).is_empty(), "{args}: the demo has such ideas");
        assert_eq!(ids(&joined), ids(&plain), "{args}");
        assert_eq!(joined["pageInfo"], plain["pageInfo"], "{args}");
        for edge in joined["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            assert!(node["unit"]["name"].is_string(), "{args}: {node}");
            assert!(node["cohort"]["stage"].is_string(), "{args}: {node}");
            assert_eq!(
                node["unit"]["regency"]["code"], node["regency"]["code"],
                "{args}: an idea's unit is of its regency"
            );
        }
        if let Some(after) = plain["pageInfo"]["endCursor"].as_str() {
            let next = format!("{args}, after: \"{after}\"");
            if !args.starts_with("last") {
                assert_eq!(
                    ids(&page(&next, owners).await),
                    ids(&page(&next, "").await),
                    "{next}"
                );
            }
        }
    }
}

/// The fields of `type_name` that take no argument and return a scalar or an enum.
async fn leaf_fields(app: &TestApp, type_name: &str) -> Vec<String> {
    let data = app
        .data(
            "query($t: String!) { __type(name: $t) { fields { name args { name } type { kind ofType { kind ofType { kind } } } } } }",
            json!({ "t": type_name }),
        )
        .await;
    let fields = data["__type"]["fields"].as_array().expect("fields").clone();
    fields
        .iter()
        .filter(|f| f["args"].as_array().is_some_and(Vec::is_empty))
        .filter(|f| {
            let mut ty = &f["type"];
            while ty["kind"] == "NON_NULL" || ty["kind"] == "LIST" {
                ty = &ty["ofType"];
            }
            ty["kind"] == "SCALAR" || ty["kind"] == "ENUM"
        })
        .map(|f| f["name"].as_str().expect("name").to_owned())
        .collect()
}

/// A page reads only the columns its query selects, and its ideas' unit, cohort, regency and
/// mentors only theirs; every other field of those models is blank. Each field, selected alone
/// on a page (the rest blank), must answer as the same idea read whole by its id does.
#[tokio::test]
async fn a_page_that_reads_only_the_selected_columns_answers_each_field_as_the_whole_idea() {
    let app = TestApp::with_demo().await;
    // The demo's mentors have no contact: give them one, so a blank contact would show.
    let mentors = app
        .data(
            "{ mentors(first: 100) { nodes { id version } } }",
            json!({}),
        )
        .await;
    for mentor in mentors["mentors"]["nodes"].as_array().expect("mentors") {
        app.data(
            "mutation($id: ID!, $v: Int!, $c: String!) { updateMentor(input: {id: $id, version: $v, contact: $c}) { mentor { id } } }",
            json!({ "id": mentor["id"], "v": mentor["version"], "c": format!("{}@lan.go.id", mentor["id"].as_str().expect("id")) }),
        )
        .await;
    }
    let mut selections: Vec<(String, Vec<String>)> = Vec::new();
    for field in leaf_fields(&app, "Idea").await {
        selections.push((field.clone(), vec![field]));
    }
    selections.push((
        "innovator { name position }".to_owned(),
        vec!["innovator".to_owned()],
    ));
    for (owner, type_name) in [
        ("unit", "Unit"),
        ("cohort", "Cohort"),
        ("regency", "Regency"),
    ] {
        for field in leaf_fields(&app, type_name).await {
            selections.push((
                format!("{owner} {{ {field} }}"),
                vec![owner.to_owned(), field],
            ));
        }
    }
    for field in leaf_fields(&app, "MentorAssignment").await {
        selections.push((
            format!("mentorAssignments {{ {field} }}"),
            vec!["mentorAssignments".to_owned()],
        ));
    }
    for field in leaf_fields(&app, "Mentor").await {
        selections.push((format!("mentors {{ {field} }}"), vec!["mentors".to_owned()]));
        selections.push((
            format!("mentorAssignments {{ mentor {{ {field} }} }}"),
            vec!["mentorAssignments".to_owned()],
        ));
    }
    assert!(
        selections.len() > 50,
        "the types' fields were found: {selections:?}"
    );
    let all: Vec<&str> = selections.iter().map(|(s, _)| s.as_str()).collect();
    let all = all.join(" ");

    let mut seen: HashMap<String, HashSet<String>> = HashMap::new();
    // Each idea read whole by its id, once.
    let mut each: HashMap<String, Value> = HashMap::new();
    for order in [
        "UPDATED_AT, direction: DESC",
        "STAGE, direction: DESC",
        "TITLE",
    ] {
        let page_of = |selection: &str| {
            format!(
                "{{ ideas(first: 40, orderBy: {{ field: {order} }}) {{ nodes {{ id {selection} }} }} }}"
            )
        };
        let whole = app.data(&page_of(""), json!({})).await["ideas"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| node["id"].as_str().expect("id").to_owned())
            .collect::<Vec<_>>();
        assert!(whole.len() >= 20, "the demo has ideas");
        for id in whole {
            if let std::collections::hash_map::Entry::Vacant(entry) = each.entry(id) {
                let idea = idea_alone(&app, &all, entry.key()).await;
                entry.insert(idea);
            }
        }
        for (selection, path) in &selections {
            let nodes = app.data(&page_of(selection), json!({})).await["ideas"]["nodes"]
                .as_array()
                .expect("nodes")
                .clone();
            let at = |node: &Value| {
                path.iter()
                    .fold(node.clone(), |value, key| value[key.as_str()].clone())
            };
            for node in &nodes {
                let alone = &each[node["id"].as_str().expect("id")];
                assert_eq!(
                    at(node),
                    cut_to(&at(alone), &at(node)),
                    "{selection} of {}",
                    node["id"]
                );
                seen.entry(selection.clone())
                    .or_default()
                    .extend(leaves(&at(node)));
            }
        }
    }
    // A blank field could only pass where the pages show blank values alone.
    let blank = ["null", "\"\"", "0", "\"1970-01-01T00:00:00+00:00\""];
    for (selection, seen) in &seen {
        assert!(
            seen.len() > 1 || seen.iter().any(|v| !blank.contains(&v.as_str())),
            "{selection}: the pages show only {seen:?}"
        );
    }

    // Through a fragment and an alias.
    let page = app
        .data(
            "{ ideas(first: 10) { edges { node { id ...F } } } } fragment F on Idea { p: problem u: unit { h: headTitle } }",
            json!({}),
        )
        .await;
    for edge in page["ideas"]["edges"].as_array().expect("edges") {
        let node = &edge["node"];
        let alone = &idea_alone(&app, &all, node["id"].as_str().expect("id")).await;
        assert_eq!(node["p"], alone["problem"]);
        assert_eq!(node["u"]["h"], alone["unit"]["headTitle"]);
    }
}

/// `whole` cut down to the fields `part` has (element by element in lists), so that an answer
/// to a narrow selection compares with an answer to a wide one.
fn cut_to(whole: &Value, part: &Value) -> Value {
    match (whole, part) {
        (Value::Object(whole), Value::Object(part)) => Value::Object(
            part.keys()
                .map(|key| {
                    let value = whole.get(key).unwrap_or(&Value::Null);
                    (key.clone(), cut_to(value, &part[key]))
                })
                .collect(),
        ),
        (Value::Array(whole), Value::Array(part)) if whole.len() == part.len() => Value::Array(
            whole
                .iter()
                .zip(part)
                .map(|(whole, part)| cut_to(whole, part))
                .collect(),
        ),
        (whole, _) => whole.clone(),
    }
}

/// The scalar values in `value`, as JSON texts.
fn leaves(value: &Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.iter().flat_map(leaves).collect(),
        Value::Object(fields) => fields.values().flat_map(leaves).collect(),
        scalar => vec![scalar.to_string()],
    }
}

/// The idea `id` read alone (whole rows, through the loaders), with `selection`.
async fn idea_alone(app: &TestApp, selection: &str, id: &str) -> Value {
    app.data(
        &format!("query($id: ID!) {{ idea(id: $id) {{ {selection} }} }}"),
        json!({ "id": id }),
    )
    .await["idea"]
        .clone()
}

#[tokio::test]
async fn bad_paging_and_contradictory_filters_are_bad_user_input() {
    let app = TestApp::with_demo().await;
    for (query, hint) in [
        ("{ ideas(first: 101) { totalCount } }", "maximum"),
        ("{ ideas(first: -1) { totalCount } }", "negative"),
        ("{ ideas(first: 5, last: 5) { totalCount } }", "not both"),
        ("{ ideas(after: \"garbage\") { totalCount } }", "cursor"),
        // Hand-made cursors of the right ordering whose key is of another kind (a text for a
        // stage's rank, a number for a title, a text for a time).
        (
            "{ ideas(orderBy: {field: STAGE}, after: \"eyJvIjoiU1RBR0UiLCJ2Ijp7IlRleHQiOiJEUlVNX1VQIn0sImkiOjF9\") { nodes { id } } }",
            "not valid",
        ),
        (
            "{ ideas(orderBy: {field: TITLE}, before: \"eyJvIjoiVElUTEUiLCJ2Ijp7IkludCI6NX0sImkiOjF9\") { nodes { id } } }",
            "not valid",
        ),
        (
            "{ ideas(orderBy: {field: UPDATED_AT}, after: \"eyJvIjoiVVBEQVRFRF9BVCIsInYiOnsiVGV4dCI6IngifSwiaSI6MX0\") { nodes { id } } }",
            "not valid",
        ),
        (
            "{ ideas(filter: {submittedFrom: \"2020-01-01\", submittedTo: \"2019-01-01\"}) { totalCount } }",
            "after",
        ),
        ("{ ideas(filter: {stages: []}) { totalCount } }", "empty"),
        (
            "{ ideas(filter: {stages: [DIAGNOSE], stageAtLeast: DELIVER}) { totalCount } }",
            "stageAtLeast",
        ),
        (
            "{ ideas(filter: {unitIds: [\"nonsense\"]}) { totalCount } }",
            "not a valid",
        ),
        ("{ units(first: 1000) { totalCount } }", "maximum"),
        // Dates past year 9999 compared as text on SQLite and matched every idea.
        (
            "{ ideas(filter: {submittedFrom: \"+10000-01-01\"}) { totalCount } }",
            "1 to 9999",
        ),
        (
            "{ ideas(filter: {launchedTo: \"+262142-01-01\"}) { totalCount } }",
            "1 to 9999",
        ),
        (
            "{ commitments(filter: {signedFrom: \"+10000-01-01\"}) { totalCount } }",
            "1 to 9999",
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
        assert!(
            message.contains(hint),
            "{query}: message {message:?} explains with {hint:?}"
        );
        assert!(response["data"].is_null() || response["data"]["ideas"].is_null());
    }
    let latest = app
        .data(
            "{ ideas(filter: {submittedFrom: \"9999-12-31\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(latest["ideas"]["totalCount"], 0);
    // A cursor of one ordering used with another is refused too.
    let data = app
        .data(
            "{ ideas(first: 1, orderBy: {field: TITLE}) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = data["ideas"]["pageInfo"]["endCursor"].clone();
    let response = app
        .gql("query($c: String) { ideas(first: 1, after: $c, orderBy: {field: STAGE}) { totalCount } }", json!({"c": cursor}))
        .await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
}

#[tokio::test]
async fn node_resolves_every_type_and_unknown_ids_are_null() {
    let app = TestApp::with_demo().await;
    let data = app
        .data(
            "{ ideas(first: 1, filter: {stageAtLeast: DELIVER}) { nodes { id
                unit { id } cohort { id } regency { id } mentors { id } mentorAssignments { id }
                commitments { id } history { id } } }
               pipelineEvents(first: 1) { nodes { id } } }",
            json!({}),
        )
        .await;
    let idea = &data["ideas"]["nodes"][0];
    let cases = [
        (&idea["id"], "Idea"),
        (&idea["unit"]["id"], "Unit"),
        (&idea["cohort"]["id"], "Cohort"),
        (&idea["regency"]["id"], "Regency"),
        (&idea["mentors"][0]["id"], "Mentor"),
        (&idea["mentorAssignments"][0]["id"], "MentorAssignment"),
        (&idea["commitments"][0]["id"], "Commitment"),
        (&idea["history"][0]["id"], "StageTransition"),
        (&data["pipelineEvents"]["nodes"][0]["id"], "PipelineEvent"),
    ];
    for (id, typename) in cases {
        let node = app
            .data(
                "query($id: ID!) { node(id: $id) { __typename id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(node["node"]["__typename"], typename);
        assert_eq!(&node["node"]["id"], id);
    }
    let missing = global_id::encode(Kind::Idea, 999_999);
    let data = app
        .data(
            "query($id: ID!) { node(id: $id) { id } idea(id: $id) { id } }",
            json!({ "id": missing }),
        )
        .await;
    assert!(data["node"].is_null() && data["idea"].is_null());
    let response = app.gql("{ node(id: \"@@@\") { id } }", json!({})).await;
    assert_eq!(error_code(&response), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_mentor_sees_their_ideas_across_all_regencies() {
    let app = TestApp::with_demo().await;
    let r = rows(&app).await;
    let data = app
        .data(
            "{ mentors(search: \"suripto\") { totalCount nodes { name
                all: ideas(first: 5) { totalCount nodes { mentors { name } } }
                banjar: ideas(filter: {regencyCodes: [\"63.03\"]}) { totalCount }
                purbalingga: ideas(filter: {regencyCodes: [\"33.03\"]}) { totalCount }
                banggai: ideas(filter: {regencyCodes: [\"72.01\"]}) { totalCount } } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["mentors"]["totalCount"], 1);
    let suripto = &data["mentors"]["nodes"][0];
    let id = r
        .mentors
        .iter()
        .find(|m| m.name == "Suripto")
        .expect("Suripto")
        .id;
    let coached = |code: Option<&str>| {
        r.count(|i| {
            code.is_none_or(|c| r.code(i) == c)
                && r.current_mentors
                    .get(&i.id)
                    .is_some_and(|m| m.contains(&id))
        })
    };
    assert_eq!(suripto["all"]["totalCount"], coached(None));
    for node in suripto["all"]["nodes"].as_array().expect("ideas") {
        assert!(
            node["mentors"]
                .as_array()
                .expect("mentors")
                .iter()
                .any(|m| m["name"] == "Suripto")
        );
    }
    for (alias, code) in [
        ("banjar", "63.03"),
        ("purbalingga", "33.03"),
        ("banggai", "72.01"),
    ] {
        let expected = coached(Some(code));
        assert!(expected > 0, "Suripto coaches in {code}");
        assert_eq!(suripto[alias]["totalCount"], expected, "{code}");
    }
}

#[tokio::test]
async fn every_connection_counts_what_it_pages() {
    let app = TestApp::with_demo().await;
    let r = rows(&app).await;
    let data = app
        .data(
            "{ units(filter: {regencyCodes: [\"33.03\"], kinds: [BUMD]}) { totalCount nodes { name kind } }
               kelurahan: units(filter: {kinds: [KELURAHAN]}, first: 100) { totalCount nodes { parent { kind } } }
               cohorts { totalCount }
               mentors { totalCount }
               banjar2019: commitments(filter: {regencyCodes: [\"63.03\"], signedFrom: \"2019-09-10\", signedTo: \"2019-09-10\"}, first: 100) {
                 totalCount nodes { status signedOn ideas { stage } unit { kind } } }
               pipelineEvents(filter: {regencyCodes: [\"63.03\"]}, first: 3) { totalCount nodes { sequence kind } }
               regency(code: \"63.03\") { lastEventSequence units { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["units"]["totalCount"], 8);
    assert!(
        data["units"]["nodes"]
            .as_array()
            .expect("units")
            .iter()
            .all(|u| u["kind"] == "BUMD")
    );
    let kelurahan = r
        .units
        .values()
        .filter(|u| u.kind == UnitKind::Kelurahan)
        .count();
    assert_eq!(data["kelurahan"]["totalCount"], kelurahan);
    assert!(
        data["kelurahan"]["nodes"]
            .as_array()
            .expect("units")
            .iter()
            .all(|u| u["parent"]["kind"] == "KECAMATAN")
    );
    assert_eq!(data["cohorts"]["totalCount"], 3);
    assert_eq!(data["mentors"]["totalCount"], r.mentors.len());
    let signed = data["banjar2019"]["nodes"].as_array().expect("commitments");
    assert_eq!(data["banjar2019"]["totalCount"], signed.len());
    assert!(
        signed
            .iter()
            .all(|c| c["signedOn"] == "2019-09-10" && c["status"] == "SIGNED")
    );
    assert!(
        signed
            .iter()
            .flat_map(|c| c["ideas"].as_array().cloned().unwrap_or_default())
            .all(|i| i["stage"] == "DESIGN")
    );
    let events = &data["pipelineEvents"];
    assert_eq!(events["totalCount"], data["regency"]["lastEventSequence"]);
    let sequences: Vec<u64> = events["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(sequences, [1, 2, 3]);
    let banjar = r
        .regencies
        .values()
        .find(|g| g.code == "63.03")
        .expect("Banjar")
        .id;
    assert_eq!(
        data["regency"]["units"].as_array().map(Vec::len),
        Some(r.units.values().filter(|u| u.regency_id == banjar).count())
    );
}
