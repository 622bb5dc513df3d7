//! Foundation: migrations, demo data, the audit trail and the checked-in schema.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};
use entity::{
    CommitmentStatus, IdeaStatus, PipelineEventKind, Stage, UnitKind, action_plan,
    action_plan_revision, cohort, commitment, commitment_idea, hand_over, idea, mentor,
    pipeline_event, regency, review, stage_transition, unit,
};
use labinov::{
    db,
    domain::pipeline::{self, IdeaState, RecordedMove},
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::helpers::{TestApp, fresh_config};

#[tokio::test]
async fn migrations_run_from_empty_and_again_as_a_no_op() {
    let (config, _dir) = fresh_config();
    let (connection, _) = db::connect(&config).await.expect("connect");
    db::migrate(&connection)
        .await
        .expect("first migration from empty");
    let applied = |c: &sea_orm::DatabaseConnection| {
        let c = c.clone();
        async move {
            c.query_one_raw(sea_orm::Statement::from_string(
                c.get_database_backend(),
                "SELECT COUNT(*) AS n FROM seaql_migrations",
            ))
            .await
            .expect("query")
            .expect("a row")
            .try_get::<i64>("", "n")
            .expect("a count")
        }
    };
    let first = applied(&connection).await;
    db::migrate(&connection)
        .await
        .expect("second migration is a no-op");
    assert_eq!(applied(&connection).await, first);
    assert!(first >= 1);
    for table in [
        "regency",
        "unit",
        "cohort",
        "idea",
        "stage_transition",
        "mentor",
        "mentor_assignment",
        "commitment",
        "commitment_idea",
        "pipeline_event",
    ] {
        let n = connection
            .query_one_raw(sea_orm::Statement::from_string(
                connection.get_database_backend(),
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await
            .unwrap_or_else(|e| panic!("table {table} must exist: {e}"));
        assert!(n.is_some());
    }
}

#[tokio::test]
async fn the_schema_refuses_a_duplicate_unit_name_within_a_regency() {
    let app = TestApp::with_demo().await;
    let db = &app.db().await;
    let existing = unit::Entity::find()
        .one(db)
        .await
        .expect("query")
        .expect("a unit");
    let duplicate = unit::ActiveModel {
        id: sea_orm::ActiveValue::NotSet,
        ..sea_orm::IntoActiveModel::into_active_model(existing)
    };
    let err = unit::Entity::insert(duplicate).exec(db).await;
    assert!(
        err.is_err(),
        "a unit name must be unique within its regency"
    );
}

async fn regency_by_code(app: &TestApp, code: &str) -> regency::Model {
    regency::Entity::find()
        .filter(regency::Column::Code.eq(code))
        .one(&app.db().await)
        .await
        .expect("query")
        .unwrap_or_else(|| panic!("regency {code} is in the demo data"))
}

#[tokio::test]
async fn demo_data_matches_the_published_figures() {
    let app = TestApp::with_demo().await;
    let db = &app.db().await;

    let banjar = regency_by_code(&app, "63.03").await;
    assert_eq!(banjar.name, "Kabupaten Banjar");
    assert_eq!(banjar.mou_signed_on, NaiveDate::from_ymd_opt(2017, 3, 16));
    let cohorts = cohort::Entity::find()
        .filter(cohort::Column::RegencyId.eq(banjar.id))
        .all(db)
        .await
        .expect("cohorts");
    let cohort_2017 = cohorts
        .iter()
        .find(|c| c.year == 2017)
        .expect("a 2017 cohort");
    let ideas = idea::Entity::find()
        .filter(idea::Column::CohortId.eq(cohort_2017.id))
        .all(db)
        .await
        .expect("ideas");
    assert_eq!(ideas.len(), 268);
    let launched: Vec<_> = ideas.iter().filter(|i| i.stage >= Stage::Deliver).collect();
    assert_eq!(launched.len(), 104);
    assert!(
        launched
            .iter()
            .all(|i| i.launched_on.map(|d| d.year()) == Some(2018)),
        "the 104 were launched in 2018"
    );
    assert!(
        ideas
            .iter()
            .filter(|i| i.stage < Stage::Deliver)
            .all(|i| i.launched_on.is_none())
    );

    // Commitments signed on 2019-09-10 by heads of SKPD, kecamatan, kelurahan, puskesmas and RSU Ratu Zaleha.
    let signed = commitment::Entity::find()
        .filter(commitment::Column::RegencyId.eq(banjar.id))
        .filter(commitment::Column::SignedOn.eq(NaiveDate::from_ymd_opt(2019, 9, 10)))
        .all(db)
        .await
        .expect("commitments");
    assert!(!signed.is_empty());
    assert!(signed.iter().all(|c| c.status == CommitmentStatus::Signed));
    let units: HashMap<i32, unit::Model> = unit::Entity::find()
        .all(db)
        .await
        .expect("units")
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let kinds: HashSet<UnitKind> = signed.iter().map(|c| units[&c.unit_id].kind).collect();
    for kind in [
        UnitKind::Dinas,
        UnitKind::Kecamatan,
        UnitKind::Kelurahan,
        UnitKind::Puskesmas,
    ] {
        assert!(
            kinds.contains(&kind),
            "a head of a {kind:?} signed on 2019-09-10"
        );
    }
    assert!(
        signed
            .iter()
            .any(|c| units[&c.unit_id].name == "RSU Ratu Zaleha")
    );

    let mentors: HashSet<String> = mentor::Entity::find()
        .all(db)
        .await
        .expect("mentors")
        .into_iter()
        .map(|m| m.name)
        .collect();
    for name in ["Suripto", "Marsono", "Antun Nastri Sidik"] {
        assert!(mentors.contains(name), "mentor {name}");
    }

    // Purbalingga 2022: 174 ideas from 35 OPD, 18 kecamatan, 25 puskesmas and 8 BUMD.
    let purbalingga = regency_by_code(&app, "33.03").await;
    let ideas = idea::Entity::find()
        .filter(idea::Column::RegencyId.eq(purbalingga.id))
        .all(db)
        .await
        .expect("ideas");
    assert_eq!(ideas.len(), 174);
    let mut proposing: HashMap<&str, HashSet<i32>> = HashMap::new();
    for idea in &ideas {
        let group = match units[&idea.unit_id].kind {
            UnitKind::Kecamatan => "kecamatan",
            UnitKind::Puskesmas => "puskesmas",
            UnitKind::Bumd => "bumd",
            _ => "opd",
        };
        proposing.entry(group).or_default().insert(idea.unit_id);
    }
    assert_eq!(proposing["opd"].len(), 35);
    assert_eq!(proposing["kecamatan"].len(), 18);
    assert_eq!(proposing["puskesmas"].len(), 25);
    assert_eq!(proposing["bumd"].len(), 8);

    // Banggai lab I: 190 ideas, 50 still running.
    let banggai = regency_by_code(&app, "72.01").await;
    let ideas = idea::Entity::find()
        .filter(idea::Column::RegencyId.eq(banggai.id))
        .all(db)
        .await
        .expect("ideas");
    assert_eq!(ideas.len(), 190);
    let running = ideas
        .iter()
        .filter(|i| i.status == IdeaStatus::Active && i.stage >= Stage::Deliver)
        .count();
    assert_eq!(running, 50);
    assert_eq!(
        ideas
            .iter()
            .filter(|i| i.status == IdeaStatus::Active)
            .count(),
        50
    );
}

#[tokio::test]
async fn every_demo_idea_replays_to_its_current_stage() {
    let app = TestApp::with_demo().await;
    let db = &app.db().await;
    let ideas = idea::Entity::find().all(db).await.expect("ideas");
    let trail = stage_transition::Entity::find()
        .order_by_asc(stage_transition::Column::Id)
        .all(db)
        .await
        .expect("transitions");
    let signed_on: HashMap<i32, NaiveDate> = commitment::Entity::find()
        .all(db)
        .await
        .expect("commitments")
        .into_iter()
        .filter_map(|c| c.signed_on.map(|d| (c.id, d)))
        .collect();
    let mut signings_of: HashMap<i32, Vec<NaiveDate>> = HashMap::new();
    for link in commitment_idea::Entity::find()
        .all(db)
        .await
        .expect("links")
    {
        if let Some(day) = signed_on.get(&link.commitment_id) {
            signings_of.entry(link.idea_id).or_default().push(*day);
        }
    }
    // The first version of each idea's action plan, and when it was written with a milestone.
    let plan_ideas: HashMap<i32, i32> = action_plan::Entity::find()
        .all(db)
        .await
        .expect("action plans")
        .into_iter()
        .map(|p| (p.id, p.idea_id))
        .collect();
    let mut planned_at: HashMap<i32, chrono::DateTime<chrono::Utc>> = HashMap::new();
    for revision in action_plan_revision::Entity::find()
        .all(db)
        .await
        .expect("revisions")
    {
        let milestones: serde_json::Value =
            serde_json::from_str(&revision.milestones).expect("JSON milestones");
        if milestones.as_array().is_some_and(|m| !m.is_empty()) {
            let idea = plan_ideas[&revision.action_plan_id];
            let first = planned_at.entry(idea).or_insert(revision.at);
            *first = (*first).min(revision.at);
        }
    }
    let mut by_idea: HashMap<i32, Vec<&stage_transition::Model>> = HashMap::new();
    for t in &trail {
        by_idea.entry(t.idea_id).or_default().push(t);
    }
    assert_eq!(ideas.len(), 632);
    for idea in &ideas {
        let moves = by_idea.get(&idea.id).map(Vec::as_slice).unwrap_or_default();
        let signings = signings_of.get(&idea.id).cloned().unwrap_or_default();
        let replayed = pipeline::replay(moves.iter().map(|t| RecordedMove {
            decision: t.decision,
            from_stage: t.from_stage,
            to_stage: t.to_stage,
            to_status: t.to_status,
            reason: t.reason.as_deref(),
            deliver: pipeline::Readiness {
                signed_commitment: signings.iter().any(|d| *d <= t.at.date_naive()),
                planned_milestone: planned_at.get(&idea.id).is_some_and(|at| *at <= t.at),
            },
        }))
        .unwrap_or_else(|e| panic!("idea {} ({}): {e}", idea.id, idea.title));
        assert_eq!(
            replayed,
            IdeaState {
                stage: idea.stage,
                status: idea.status
            },
            "idea {}",
            idea.id
        );
        let entered_deliver = moves
            .iter()
            .filter(|t| t.to_stage == Stage::Deliver && t.from_stage == Some(Stage::Design))
            .map(|t| t.at.date_naive())
            .next_back();
        assert_eq!(
            idea.launched_on, entered_deliver,
            "idea {} launch date",
            idea.id
        );
    }
}

/// The demo is loaded through the domain's own writes, each at its day in the lab's calendar,
/// so its event history reads like the record of real writes.
#[tokio::test]
async fn the_demo_history_is_what_real_writes_record() {
    let app = TestApp::with_demo().await;
    let db = &app.db().await;
    let banjar = regency_by_code(&app, "63.03").await;
    let events = pipeline_event::Entity::find()
        .filter(pipeline_event::Column::RegencyId.eq(banjar.id))
        .order_by_asc(pipeline_event::Column::Seq)
        .all(db)
        .await
        .expect("events");
    let count = |kind: PipelineEventKind| events.iter().filter(|e| e.kind == kind).count();
    let rows = |n: u64| usize::try_from(n).expect("a count");

    // It starts as a regency's history does: the regency, its units, its cohort.
    assert_eq!(events[0].kind, PipelineEventKind::RegencyCreated);
    let units = unit::Entity::find()
        .filter(unit::Column::RegencyId.eq(banjar.id))
        .count(db)
        .await
        .expect("units");
    assert_eq!(count(PipelineEventKind::UnitCreated), rows(units));
    assert_eq!(count(PipelineEventKind::CohortCreated), 1);
    // Every idea was submitted, every commitment drafted and signed, and those whose ideas
    // all reached DISPLAY fulfilled, each with its own event.
    let ideas = idea::Entity::find()
        .filter(idea::Column::RegencyId.eq(banjar.id))
        .count(db)
        .await
        .expect("ideas");
    assert_eq!(count(PipelineEventKind::IdeaSubmitted), rows(ideas));
    let commitments = commitment::Entity::find()
        .filter(commitment::Column::RegencyId.eq(banjar.id))
        .all(db)
        .await
        .expect("commitments");
    assert_eq!(
        count(PipelineEventKind::CommitmentCreated),
        commitments.len()
    );
    assert_eq!(
        count(PipelineEventKind::CommitmentSigned),
        commitments.len()
    );
    let fulfilled = commitments
        .iter()
        .filter(|c| c.status == CommitmentStatus::Fulfilled)
        .count();
    assert!(fulfilled > 0);
    assert_eq!(count(PipelineEventKind::CommitmentFulfilled), fulfilled);
    // Mentors were assigned (and some changed), launches recorded the innovation's maturity.
    assert!(count(PipelineEventKind::MentorAssigned) > count(PipelineEventKind::MentorUnassigned));
    assert!(count(PipelineEventKind::MentorUnassigned) > 0);
    assert!(count(PipelineEventKind::IdeaUpdated) >= 104);
    // One event per audited move of the regency's ideas.
    let moves = stage_transition::Entity::find()
        .filter(stage_transition::Column::IdeaId.in_subquery(ideas_of(banjar.id)))
        .count(db)
        .await
        .expect("moves");
    let move_kinds = [
        PipelineEventKind::IdeaSubmitted,
        PipelineEventKind::IdeaAdvanced,
        PipelineEventKind::IdeaReverted,
        PipelineEventKind::IdeaStalled,
        PipelineEventKind::IdeaResumed,
        PipelineEventKind::IdeaDropped,
    ];
    assert_eq!(
        move_kinds.into_iter().map(count).sum::<usize>(),
        rows(moves)
    );
    // The sequence runs in the order things happened, on the lab's days, by the lab.
    assert!(
        events
            .windows(2)
            .all(|w| w[0].occurred_at <= w[1].occurred_at)
    );
    assert_eq!(events[0].occurred_at.year(), 2017);
    // By the lab's organiser, except the reviews, which the LAN mentors wrote themselves.
    let mentors = ["Suripto", "Marsono", "Antun Nastri Sidik"];
    for event in &events {
        if event.kind == PipelineEventKind::IdeaReviewed {
            assert!(mentors.contains(&event.actor.as_str()), "{}", event.actor);
        } else {
            assert_eq!(event.actor, format!("demo: {}", banjar.organiser));
        }
    }
    // Banjar's launched ideas were reviewed by their mentors, each reviewer appears; one
    // event per review, superseded reviews kept; hand-overs recorded with their rows.
    let reviews = review::Entity::find()
        .filter(review::Column::IdeaId.in_subquery(ideas_of(banjar.id)))
        .all(db)
        .await
        .expect("reviews");
    assert_eq!(count(PipelineEventKind::IdeaReviewed), reviews.len());
    assert!(reviews.len() >= 104, "every launched idea reviewed");
    assert!(reviews.iter().any(|r| r.superseded_at.is_some()));
    for mentor in mentors {
        assert!(
            events
                .iter()
                .any(|e| e.kind == PipelineEventKind::IdeaReviewed && e.actor == mentor),
            "{mentor} reviewed"
        );
    }
    let hand_overs = hand_over::Entity::find()
        .filter(hand_over::Column::IdeaId.in_subquery(ideas_of(banjar.id)))
        .count(db)
        .await
        .expect("hand-overs");
    assert!(hand_overs > 0);
    assert_eq!(count(PipelineEventKind::IdeaHandedOver), rows(hand_overs));
    assert_eq!(
        banjar.event_seq,
        i64::try_from(events.len()).expect("a count")
    );
}

/// The ids of a regency's ideas, as a subquery.
fn ideas_of(regency_id: i32) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(idea::Column::Id)
        .from(idea::Entity)
        .and_where(idea::Column::RegencyId.eq(regency_id))
        .to_owned()
}

#[tokio::test]
async fn loading_the_demo_twice_is_refused() {
    let app = TestApp::with_demo().await;
    let before = idea::Entity::find()
        .count(&app.db().await)
        .await
        .expect("count");
    let again = labinov::demo::load(&app.domain).await;
    assert!(again.is_err());
    let after = idea::Entity::find()
        .count(&app.db().await)
        .await
        .expect("count");
    assert_eq!(before, after);
}

#[tokio::test]
async fn regencies_and_their_cohorts_are_served_over_graphql() {
    let app = TestApp::with_demo().await;
    let data = app
        .data(
            "{ regencies { totalCount nodes { code name cohorts { year name stage } } } \
               banjar: regency(code: \"63.03\") { name mouSignedOn cohorts { year } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["regencies"]["totalCount"], 3);
    let codes: Vec<&str> = data["regencies"]["nodes"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["code"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(codes, ["33.03", "63.03", "72.01"]);
    assert_eq!(data["banjar"]["mouSignedOn"], "2017-03-16");
    assert_eq!(data["banjar"]["cohorts"][0]["year"], 2017);
}

#[tokio::test]
async fn an_unknown_regency_code_is_null_and_a_bad_id_is_bad_user_input() {
    let app = TestApp::spawn().await;
    let data = app
        .data("{ regency(code: \"99.99\") { name } }", json!({}))
        .await;
    assert!(data["regency"].is_null());
    let response = app
        .gql("{ regency(id: \"nonsense\") { name } }", json!({}))
        .await;
    assert_eq!(crate::helpers::error_code(&response), "BAD_USER_INPUT");
}

#[test]
fn the_checked_in_schema_is_what_the_server_runs() {
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
            .expect("schema.graphql is checked in");
    let current = labinov::graphql::sdl();
    assert!(
        checked_in == current,
        "schema.graphql is stale: run `cargo run -- schema > schema.graphql`"
    );
}

#[test]
fn the_cli_prints_the_schema_and_explains_itself() {
    let bin = env!("CARGO_BIN_EXE_labinov");
    let out = std::process::Command::new(bin)
        .arg("schema")
        .output()
        .expect("run labinov");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        labinov::graphql::sdl()
    );
    let help = |args: &[&str]| {
        let out = std::process::Command::new(bin)
            .args(args)
            .output()
            .expect("run labinov");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // The top-level help is a map of the commands; each command lists only what it uses.
    let map = help(&["--help"]);
    for word in ["serve", "migrate", "seed", "schema", "import", "token"] {
        assert!(map.contains(word), "--help names {word}");
    }
    assert!(
        !map.contains("REDIS_URL") && map.lines().count() < 40,
        "{map}"
    );
    let serve = help(&["serve", "--help"]);
    for word in [
        "DATABASE_URL",
        "REDIS_URL",
        "LABINOV_JWT_SECRET",
        "LABINOV_MAX_CONNECTIONS",
    ] {
        assert!(serve.contains(word), "serve --help explains {word}");
    }
    let issue = help(&["token", "issue", "--help"]);
    assert!(issue.contains("--role") && issue.contains("LABINOV_JWT_SECRET"));
    assert!(
        !issue.contains("REDIS_URL") && !issue.contains("DATABASE_URL"),
        "{issue}"
    );
    let migrate = help(&["migrate", "--help"]);
    assert!(migrate.contains("DATABASE_URL") && !migrate.contains("LABINOV_RATE_LIMIT"));
    let schema = help(&["schema", "--help"]);
    assert!(
        !schema.contains("REDIS_URL") && !schema.contains("DATABASE_URL"),
        "{schema}"
    );
}

#[tokio::test]
async fn browsers_on_other_origins_are_allowed_only_when_configured() {
    let preflight = |app: &TestApp| {
        reqwest::Client::new()
            .request(reqwest::Method::OPTIONS, format!("{}/graphql", app.address))
            .header("origin", "https://dasbor.banjarkab.go.id")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let closed = TestApp::spawn().await;
    let response = preflight(&closed).await.expect("an answer");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let (mut config, dir) = crate::helpers::fresh_config();
    config.cors_origins = vec!["https://dasbor.banjarkab.go.id".into()];
    let open = TestApp::start(config, false, std::sync::Arc::new(dir)).await;
    let response = preflight(&open).await.expect("an answer");
    assert_eq!(
        response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://dasbor.banjarkab.go.id")
    );
}

#[tokio::test]
async fn health_says_alive_and_readiness_names_each_part() {
    let app = TestApp::spawn().await;
    let alive: serde_json::Value = reqwest::get(format!("{}/healthz", app.address))
        .await
        .expect("/healthz answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(alive["status"], "alive");
    let statements = app.domain.statements_executed();
    let response = reqwest::get(format!("{}/readyz", app.address))
        .await
        .expect("/readyz answers");
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        app.domain.statements_executed() > statements,
        "the database's ping counts in labinov_sql_statements_total"
    );
    let ready: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["database"]["ok"], true);
    assert_eq!(ready["listener"]["ok"], true);
    assert_eq!(ready["bus"]["mode"], "in-process");
}

#[test]
fn token_issue_demo_signs_with_the_demo_secret_whatever_the_environment_holds() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_labinov"))
        .env(
            "LABINOV_JWT_SECRET",
            "an operator's real secret, 32+ bytes long",
        )
        .args(["token", "issue", "--demo", "--role", "ADMIN"])
        .output()
        .expect("run labinov");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.lines().last().expect("the token");
    let mut config = labinov::Config::sqlite(std::path::Path::new("unused.db"));
    config.listen = "127.0.0.1:8080".parse().expect("an address");
    let demo = labinov::auth::Authenticator::from_config(&config, true).expect("demo mode");
    assert!(demo.verify(token).is_ok(), "a demo server accepts it");
    assert!(stdout.contains("public demo secret"));
}
