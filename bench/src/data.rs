//! The database at scale: regencies with units, a lab edition, ideas with histories, LAN
//! mentors coaching them, commitments — written through the domain's own writes, several
//! regencies at a time.

use std::sync::Arc;

use anyhow::Context;
use entity::{Decision, UnitKind};
use labinov::{
    access::Caller,
    domain::{
        Domain,
        action_plan::{MilestoneDraft, PlanDraft},
        cohort::NewCohort,
        commitment::NewCommitment,
        idea::moves::MoveReason,
        mentor::MentorFields,
        pipeline::CommitmentAction,
        regency::NewRegency,
        unit::NewUnit,
    },
};

/// How big the database is.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub regencies: usize,
    pub ideas: usize,
}

/// What the measurements need to know about the data.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Kemendagri-like codes, in creation order.
    pub codes: Vec<String>,
    /// The first regency's lab edition and a unit of it (global IDs), for writes.
    pub cohort: String,
    pub unit: String,
    pub ideas: usize,
    pub events: u64,
    /// Every regency's code, lab edition and first unit (global IDs), for writes anywhere.
    pub targets: Vec<Target>,
}

/// Where writes into one regency go.
#[derive(Debug, Clone)]
pub struct Target {
    pub code: String,
    pub cohort: String,
    pub unit: String,
}

const UNITS: [(UnitKind, &str); 10] = [
    (UnitKind::Dinas, "Dinas Kesehatan"),
    (UnitKind::Dinas, "Dinas Pendidikan"),
    (UnitKind::Dinas, "Dinas Kependudukan dan Pencatatan Sipil"),
    (UnitKind::Badan, "Badan Perencanaan Pembangunan Daerah"),
    (UnitKind::Kecamatan, "Kecamatan Kota"),
    (UnitKind::Kecamatan, "Kecamatan Utara"),
    (UnitKind::Kelurahan, "Kelurahan Pasar"),
    (UnitKind::Puskesmas, "Puskesmas Kota"),
    (UnitKind::Rsud, "RSUD"),
    (UnitKind::Bumd, "PDAM"),
];

pub fn csv_of(ideas: usize, seed: usize) -> String {
    let mut csv = String::from("title,unit,problem,type,form,affairs_area,initiator,submitted\n");
    for i in 0..ideas {
        let (_, unit) = UNITS[(i + seed) % UNITS.len()];
        let kind = if i % 3 == 0 { "DIGITAL" } else { "NON_DIGITAL" };
        let form = ["PUBLIC_SERVICE", "GOVERNANCE", "OTHER"][i % 3];
        csv.push_str(&format!(
            "Inovasi {i} {unit},{unit},Antrean layanan yang panjang nomor {i},{kind},{form},Pelayanan umum,WORK_UNIT,2024-{:02}-{:02}\n",
            1 + i % 12,
            1 + i % 28
        ));
    }
    csv
}

/// Builds one regency: its units, a 2024 lab edition, `ideas` ideas imported at DIAGNOSE, a
/// third of them advanced to DESIGN with a mentor, a third of those launched under a signed
/// commitment and a one-milestone action plan, a tenth of the rest stalled.
async fn regency(
    domain: &Domain,
    caller: &Caller,
    n: usize,
    ideas: usize,
    mentors: &[i32],
) -> anyhow::Result<Built> {
    let code = format!("9{}.{:02}", n / 100, n % 100);
    let mut events = 0;
    let regency = domain
        .create_regency(
            caller,
            NewRegency {
                code: code.clone(),
                name: format!("Kabupaten Uji {n}"),
                province: "Provinsi Uji".to_owned(),
                organiser: "Bapelitbangda".to_owned(),
                mou_signed_on: None,
            },
        )
        .await?;
    events += regency.events.len() as u64;
    let regency = regency.value;
    let mut units = Vec::new();
    for (kind, name) in UNITS {
        let unit = domain
            .create_unit(
                caller,
                NewUnit {
                    regency_id: regency.id,
                    parent_id: None,
                    kind,
                    name: name.to_owned(),
                    head_title: None,
                },
            )
            .await?;
        events += 1;
        units.push(unit.value.id);
    }
    let cohort = domain
        .create_cohort(
            caller,
            NewCohort {
                regency_id: regency.id,
                year: 2024,
                name: format!("Laboratorium Inovasi {n} 2024"),
                stage: None,
                rubric: None,
            },
        )
        .await?
        .value;
    events += 1;
    let imported = domain
        .import_ideas(
            caller,
            cohort.id,
            &csv_of(ideas, n),
            labinov::domain::idea::import::Duplicates::Add,
        )
        .await?;
    events += imported.events.len() as u64;
    let ideas = imported.value.ideas;
    let mut designed = Vec::new();
    for (i, idea) in ideas.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let moved = domain
            .move_idea(
                caller,
                idea.id,
                idea.version,
                Decision::Advance,
                MoveReason::default(),
            )
            .await?;
        domain
            .assign_mentor(caller, idea.id, mentors[(i + n) % mentors.len()], None)
            .await?;
        events += 2;
        designed.push(moved.value.idea);
    }
    // A third of the designed ideas, in one unit's commitment, are launched.
    let launched: Vec<_> = designed.iter().step_by(3).collect();
    if !launched.is_empty() {
        let draft = domain
            .create_commitment(
                caller,
                NewCommitment {
                    cohort_id: cohort.id,
                    unit_id: units[0],
                    idea_ids: launched.iter().map(|i| i.id).collect(),
                    signatory_name: "Kepala Dinas".to_owned(),
                    signatory_title: "Kepala Dinas Kesehatan".to_owned(),
                    counterpart: "Bupati".to_owned(),
                    target: "Meluncurkan inovasi".to_owned(),
                    due_on: None,
                },
            )
            .await?
            .value;
        domain
            .step_commitment(
                caller,
                draft.id,
                draft.version,
                CommitmentAction::Sign,
                None,
                None,
            )
            .await?;
        events += 2;
        for idea in &launched {
            // DELIVER needs an action plan with a milestone as well as the signed commitment.
            let plan = PlanDraft {
                idea_id: idea.id,
                version: None,
                goal: "Meluncurkan layanan".to_owned(),
                milestones: vec![MilestoneDraft {
                    id: None,
                    title: "Uji coba".to_owned(),
                    owner_name: "Siti Aminah".to_owned(),
                    owner_position: "Kepala Seksi".to_owned(),
                    due_on: chrono::NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or_default(),
                    status: entity::MilestoneStatus::Planned,
                    done_on: None,
                    note: None,
                }],
            };
            domain.write_action_plan(caller, plan).await?;
            events += 1;
            domain
                .move_idea(
                    caller,
                    idea.id,
                    idea.version,
                    Decision::Advance,
                    MoveReason::default(),
                )
                .await?;
            events += 1;
        }
    }
    let versions: std::collections::HashMap<i32, i32> =
        designed.iter().map(|i| (i.id, i.version)).collect();
    for idea in ideas.iter().skip(1).step_by(10) {
        let launched_now = launched.iter().any(|l| l.id == idea.id);
        if launched_now {
            continue;
        }
        domain
            .move_idea(
                caller,
                idea.id,
                versions.get(&idea.id).copied().unwrap_or(idea.version),
                Decision::Stall,
                MoveReason::stall(entity::StallReason::Budget, "Anggaran dipangkas"),
            )
            .await?;
        events += 1;
    }
    Ok(Built {
        code,
        cohort: labinov::global_id::encode(labinov::global_id::Kind::Cohort, cohort.id),
        unit: labinov::global_id::encode(labinov::global_id::Kind::Unit, units[0]),
        events,
    })
}

/// One regency as built.
struct Built {
    code: String,
    cohort: String,
    unit: String,
    events: u64,
}

/// Builds the whole database, `parallel` regencies at a time.
pub async fn build(domain: &Domain, scale: Scale, parallel: usize) -> anyhow::Result<Dataset> {
    let caller = Caller::system("bench");
    let mut mentors = Vec::new();
    for m in 0..20 {
        let mentor = domain
            .create_mentor(
                &caller,
                MentorFields {
                    name: Some(format!("Mentor LAN {m}")),
                    institution: Some("Lembaga Administrasi Negara (LAN)".to_owned()),
                    team: Some("Tim Road Map Inovasi".to_owned()),
                    expertise: None,
                    contact: None,
                },
            )
            .await?;
        mentors.push(mentor.id);
    }
    let mentors = Arc::new(mentors);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..parallel.max(1) {
        let (domain, caller, mentors, next) = (
            domain.clone(),
            caller.clone(),
            mentors.clone(),
            next.clone(),
        );
        workers.spawn(async move {
            let mut made = Vec::new();
            loop {
                let n = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if n >= scale.regencies {
                    return Ok::<_, anyhow::Error>(made);
                }
                let built = regency(&domain, &caller, n, scale.ideas, &mentors)
                    .await
                    .with_context(|| format!("building regency {n}"))?;
                made.push((n, built));
            }
        });
    }
    let mut all = Vec::new();
    while let Some(done) = workers.join_next().await {
        all.extend(done??);
    }
    all.sort_by_key(|(n, _)| *n);
    let events = all.iter().map(|(_, b)| b.events).sum();
    let (cohort, unit) = all
        .first()
        .map(|(_, b)| (b.cohort.clone(), b.unit.clone()))
        .context("no regency was built")?;
    let targets: Vec<Target> = all
        .into_iter()
        .map(|(_, b)| Target {
            code: b.code,
            cohort: b.cohort,
            unit: b.unit,
        })
        .collect();
    Ok(Dataset {
        codes: targets.iter().map(|t| t.code.clone()).collect(),
        cohort,
        unit,
        ideas: scale.regencies * scale.ideas,
        events,
        targets,
    })
}

/// Vacuums and analyzes the tables of a freshly built schema, as autovacuum does a database in
/// use: without it the planner has no statistics and index scans wade through the dead row
/// versions the histories left, so PostgreSQL's time, not the endpoints', sets the figures.
pub async fn settle(url: &str, schema: &str) -> anyhow::Result<()> {
    use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend, Statement};

    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .set_schema_search_path(schema.to_owned())
        .sqlx_logging(false);
    let db = Database::connect(options).await?;
    let rows = db
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT tablename FROM pg_tables WHERE schemaname = $1",
            [schema.into()],
        ))
        .await?;
    let mut tables = Vec::with_capacity(rows.len());
    for row in &rows {
        tables.push(format!("\"{}\"", row.try_get::<String>("", "tablename")?));
    }
    if !tables.is_empty() {
        db.execute_unprepared(&format!("VACUUM (ANALYZE) {}", tables.join(", ")))
            .await
            .context("vacuuming the benchmark's tables")?;
    }
    db.close().await?;
    Ok(())
}
