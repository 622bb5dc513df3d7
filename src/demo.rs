//! Illustrative demo data, generated deterministically by the program.
//!
//! Published facts are kept exactly (Banjar: MoU with LAN on 2017-03-16, 268 ideas in the 2017
//! lab, 104 launched in 2018, commitments signed on 2019-09-10, mentors Suripto, Marsono and
//! Antun Nastri Sidik; Purbalingga 2022: 174 ideas from 35 OPD, 18 kecamatan, 25 puskesmas and
//! 8 BUMD; Banggai lab I: 190 ideas, 50 still running). Everything else (idea titles, dates
//! inside the published years, which unit holds which idea) is made up so that dashboards have
//! something realistic to show. Every stage history obeys the pipeline rules.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use entity::{
    CommitmentStatus, Decision, IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity,
    PipelineEventKind, Stage, UnitKind, cohort, commitment, commitment_idea, idea, mentor,
    mentor_assignment, pipeline_event, regency, stage_transition, unit,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DatabaseTransaction, EntityTrait, PaginatorTrait,
    TransactionTrait,
};

use crate::domain::{
    pipeline::{self, IdeaState},
    unit::default_head_title as head_title,
};

/// What the demo load wrote, for the CLI to report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub regencies: usize,
    pub units: usize,
    pub ideas: usize,
    pub commitments: usize,
    pub events: usize,
}

/// Loads the demo data into an empty database, in one transaction.
pub async fn load(domain: &crate::domain::Domain) -> anyhow::Result<DemoSummary> {
    let db = domain.db();
    let existing = regency::Entity::find()
        .count(db)
        .await
        .context("counting regencies")?;
    anyhow::ensure!(
        existing == 0,
        "the database already holds {existing} regencies; demo data is only loaded into an empty database"
    );
    let txn = db.begin().await.context("starting the demo transaction")?;
    let mentors = insert_mentors(&txn).await?;
    let mut summary = DemoSummary::default();
    for lab in [banjar(), purbalingga(), banggai()] {
        lab.insert(&txn, &mentors, &mut summary)
            .await
            .with_context(|| format!("loading {}", lab.name))?;
    }
    txn.commit().await.context("committing the demo data")?;
    Ok(summary)
}

/// Small deterministic generator (SplitMix64), so the demo is the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn day_in(&mut self, window: (NaiveDate, NaiveDate)) -> NaiveDate {
        let span = (window.1 - window.0).num_days().max(0) as usize;
        window.0 + Days::new(self.below(span + 1) as u64)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

/// Office hours in WITA/WIB do not matter here; 09:00 UTC keeps every date on its own day.
fn at(day: NaiveDate, minute: u32) -> DateTime<Utc> {
    let naive = day
        .and_hms_opt(2 + minute / 60 % 8, minute % 60, 0)
        .unwrap_or_default();
    Utc.from_utc_datetime(&naive)
}

/// Where an idea should end up, and how many ideas end up there.
#[derive(Clone, Copy)]
struct Target {
    stage: Stage,
    status: IdeaStatus,
    count: usize,
}

const fn target(stage: Stage, status: IdeaStatus, count: usize) -> Target {
    Target {
        stage,
        status,
        count,
    }
}

/// The date windows of one lab edition.
struct Calendar {
    submit: (NaiveDate, NaiveDate),
    design: (NaiveDate, NaiveDate),
    /// Launch commitments are signed on this day, before any idea enters DELIVER.
    commitments_signed: NaiveDate,
    deliver: (NaiveDate, NaiveDate),
    display: (NaiveDate, NaiveDate),
    setback: (NaiveDate, NaiveDate),
}

struct Lab {
    seed: u64,
    code: &'static str,
    name: &'static str,
    province: &'static str,
    organiser: &'static str,
    regent: &'static str,
    mou: Option<NaiveDate>,
    cohort_year: i32,
    cohort_name: &'static str,
    cohort_stage: Stage,
    units: Vec<(UnitKind, String, Option<usize>)>,
    targets: Vec<Target>,
    calendar: Calendar,
    /// A later signing of commitments for ideas still in DESIGN (Banjar, 2019-09-10).
    design_commitments_signed: Option<NaiveDate>,
}

const OPD: [(UnitKind, &str); 35] = [
    (UnitKind::Secretariat, "Sekretariat Daerah"),
    (UnitKind::Secretariat, "Sekretariat DPRD"),
    (UnitKind::Inspectorate, "Inspektorat"),
    (UnitKind::Dinas, "Dinas Pendidikan"),
    (UnitKind::Dinas, "Dinas Kesehatan"),
    (UnitKind::Dinas, "Dinas Sosial"),
    (UnitKind::Dinas, "Dinas Kependudukan dan Pencatatan Sipil"),
    (UnitKind::Dinas, "Dinas Penanaman Modal dan PTSP"),
    (UnitKind::Dinas, "Dinas Komunikasi dan Informatika"),
    (UnitKind::Dinas, "Dinas Pertanian"),
    (UnitKind::Dinas, "Dinas Perikanan"),
    (UnitKind::Dinas, "Dinas Perhubungan"),
    (UnitKind::Dinas, "Dinas Lingkungan Hidup"),
    (UnitKind::Dinas, "Dinas Pekerjaan Umum dan Penataan Ruang"),
    (UnitKind::Dinas, "Dinas Perdagangan"),
    (UnitKind::Dinas, "Dinas Pariwisata"),
    (UnitKind::Dinas, "Dinas Koperasi dan UKM"),
    (UnitKind::Dinas, "Dinas Perpustakaan dan Kearsipan"),
    (
        UnitKind::Dinas,
        "Dinas Pemberdayaan Perempuan dan Perlindungan Anak",
    ),
    (UnitKind::Dinas, "Dinas Ketahanan Pangan"),
    (UnitKind::Dinas, "Dinas Tenaga Kerja"),
    (UnitKind::Dinas, "Dinas Pemuda dan Olahraga"),
    (UnitKind::Dinas, "Dinas Perumahan dan Permukiman"),
    (UnitKind::Dinas, "Dinas Pemberdayaan Masyarakat dan Desa"),
    (UnitKind::Dinas, "Dinas Pengendalian Penduduk dan KB"),
    (UnitKind::Dinas, "Satuan Polisi Pamong Praja"),
    (UnitKind::Dinas, "Dinas Pemadam Kebakaran"),
    (UnitKind::Dinas, "Dinas Peternakan"),
    (UnitKind::Badan, "Badan Kepegawaian dan Pengembangan SDM"),
    (
        UnitKind::Badan,
        "Badan Pengelolaan Keuangan dan Aset Daerah",
    ),
    (UnitKind::Badan, "Badan Pendapatan Daerah"),
    (
        UnitKind::Badan,
        "Badan Perencanaan, Penelitian dan Pengembangan Daerah",
    ),
    (UnitKind::Badan, "Badan Penanggulangan Bencana Daerah"),
    (UnitKind::Badan, "Badan Kesatuan Bangsa dan Politik"),
    (UnitKind::Rsud, "RSUD"),
];

/// Builds a unit list: `opd` work units (the RSUD named `rsud`), kecamatan with their kelurahan,
/// puskesmas under the health office, and BUMD.
fn units(
    opd: usize,
    rsud: &str,
    kecamatan: &[&str],
    kelurahan: &[(&str, usize)],
    puskesmas: &[String],
    bumd: &[&str],
) -> Vec<(UnitKind, String, Option<usize>)> {
    let mut list: Vec<(UnitKind, String, Option<usize>)> = Vec::new();
    let mut work_units: Vec<(UnitKind, &str)> = OPD
        .iter()
        .copied()
        .filter(|(k, _)| *k != UnitKind::Rsud)
        .take(opd - 1)
        .collect();
    work_units.push((UnitKind::Rsud, rsud));
    for (kind, name) in work_units {
        list.push((kind, name.to_owned(), None));
    }
    let health = list.iter().position(|(_, n, _)| n == "Dinas Kesehatan");
    let first_kecamatan = list.len();
    for name in kecamatan {
        list.push((UnitKind::Kecamatan, format!("Kecamatan {name}"), None));
    }
    for (name, in_kecamatan) in kelurahan {
        list.push((
            UnitKind::Kelurahan,
            format!("Kelurahan {name}"),
            Some(first_kecamatan + in_kecamatan),
        ));
    }
    for name in puskesmas {
        list.push((UnitKind::Puskesmas, format!("Puskesmas {name}"), health));
    }
    for name in bumd {
        list.push((UnitKind::Bumd, (*name).to_owned(), None));
    }
    list
}

fn banjar() -> Lab {
    let kecamatan = [
        "Martapura",
        "Martapura Timur",
        "Martapura Barat",
        "Astambul",
        "Karang Intan",
        "Aranio",
        "Sungai Pinang",
        "Paramasan",
        "Pengaron",
        "Sambung Makmur",
        "Mataraman",
        "Simpang Empat",
        "Beruntung Baru",
        "Gambut",
        "Kertak Hanyar",
        "Tatah Makmur",
        "Sungai Tabuk",
        "Aluh-Aluh",
        "Cintapuri Darussalam",
        "Telaga Bauntung",
    ];
    let kelurahan = [
        ("Jawa", 0),
        ("Keraton", 0),
        ("Murung Keraton", 0),
        ("Sekumpul", 0),
        ("Tanjung Rema Darat", 0),
        ("Sungai Paring", 0),
        ("Indrasari", 0),
        ("Pasayangan", 0),
        ("Sungai Sipai", 0),
        ("Cindai Alus", 0),
        ("Jawa Laut", 1),
        ("Tambak Baru", 1),
        ("Gambut", 13),
        ("Kertak Hanyar", 14),
        ("Sungai Tabuk", 16),
    ];
    let puskesmas: Vec<String> = [
        "Martapura 1",
        "Martapura 2",
        "Martapura Timur",
        "Martapura Barat",
        "Astambul",
        "Karang Intan 1",
        "Karang Intan 2",
        "Aranio",
        "Sungai Pinang",
        "Pengaron",
        "Mataraman",
        "Simpang Empat 1",
        "Gambut",
        "Kertak Hanyar",
        "Sungai Tabuk 1",
        "Sungai Tabuk 2",
        "Aluh-Aluh",
        "Beruntung Baru",
        "Sambung Makmur",
        "Tatah Makmur",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    Lab {
        seed: 6303,
        code: "63.03",
        name: "Kabupaten Banjar",
        province: "Kalimantan Selatan",
        organiser: "Bapelitbangda Kabupaten Banjar",
        regent: "H. Khalilurrahman, Bupati Banjar",
        mou: Some(date(2017, 3, 16)),
        cohort_year: 2017,
        cohort_name: "Laboratorium Inovasi Kabupaten Banjar 2017",
        cohort_stage: Stage::Display,
        units: units(
            28,
            "RSU Ratu Zaleha",
            &kecamatan,
            &kelurahan,
            &puskesmas,
            &[],
        ),
        // 268 ideas; the 104 launched in 2018 are at DELIVER or DISPLAY.
        targets: vec![
            target(Stage::Deliver, IdeaStatus::Active, 76),
            target(Stage::Deliver, IdeaStatus::Stalled, 6),
            target(Stage::Display, IdeaStatus::Active, 22),
            target(Stage::Design, IdeaStatus::Active, 60),
            target(Stage::Design, IdeaStatus::Stalled, 20),
            target(Stage::Design, IdeaStatus::Dropped, 10),
            target(Stage::Diagnose, IdeaStatus::Active, 30),
            target(Stage::Diagnose, IdeaStatus::Dropped, 44),
        ],
        calendar: Calendar {
            submit: (date(2017, 4, 3), date(2017, 7, 31)),
            design: (date(2017, 8, 14), date(2017, 11, 30)),
            commitments_signed: date(2018, 1, 22),
            deliver: (date(2018, 2, 1), date(2018, 11, 30)),
            display: (date(2019, 3, 1), date(2019, 8, 30)),
            setback: (date(2018, 12, 3), date(2019, 8, 30)),
        },
        design_commitments_signed: Some(date(2019, 9, 10)),
    }
}

fn purbalingga() -> Lab {
    let kecamatan = [
        "Bobotsari",
        "Bojongsari",
        "Bukateja",
        "Kaligondang",
        "Kalimanah",
        "Karanganyar",
        "Karangjambu",
        "Karangmoncol",
        "Karangreja",
        "Kejobong",
        "Kemangkon",
        "Kertanegara",
        "Kutasari",
        "Mrebet",
        "Padamara",
        "Pengadegan",
        "Purbalingga",
        "Rembang",
    ];
    let mut puskesmas: Vec<String> = kecamatan.iter().map(|k| (*k).to_owned()).collect();
    for extra in [
        "Bojong",
        "Serayu Larangan",
        "Karangtengah",
        "Kalikajar",
        "Kutawis",
        "Sumbang",
        "Padamara II",
    ] {
        puskesmas.push(extra.to_owned());
    }
    let bumd = [
        "Perumda Air Minum Tirta Perwira",
        "Perumda Puspahastama",
        "PT BPR Artha Perwira",
        "PT BPR BKK Purbalingga",
        "Perumda Owabong",
        "PT Purbalingga Ventura",
        "Perumda Pasar Purbalingga",
        "PT Jamkrida Purbalingga",
    ];
    Lab {
        seed: 3303,
        code: "33.03",
        name: "Kabupaten Purbalingga",
        province: "Jawa Tengah",
        organiser: "Bappelitbangda Kabupaten Purbalingga",
        regent: "Bupati Purbalingga",
        mou: None,
        cohort_year: 2022,
        cohort_name: "Laboratorium Inovasi Kabupaten Purbalingga 2022",
        cohort_stage: Stage::Deliver,
        units: units(
            35,
            "RSUD dr. R. Goeteng Taroenadibrata",
            &kecamatan,
            &[],
            &puskesmas,
            &bumd,
        ),
        targets: vec![
            target(Stage::Display, IdeaStatus::Active, 10),
            target(Stage::Deliver, IdeaStatus::Active, 40),
            target(Stage::Design, IdeaStatus::Active, 70),
            target(Stage::Design, IdeaStatus::Stalled, 10),
            target(Stage::Diagnose, IdeaStatus::Active, 30),
            target(Stage::Diagnose, IdeaStatus::Dropped, 14),
        ],
        calendar: Calendar {
            submit: (date(2022, 3, 7), date(2022, 5, 31)),
            design: (date(2022, 6, 6), date(2022, 8, 31)),
            commitments_signed: date(2022, 9, 15),
            deliver: (date(2022, 10, 3), date(2022, 12, 16)),
            display: (date(2023, 2, 1), date(2023, 5, 31)),
            setback: (date(2023, 1, 9), date(2023, 6, 30)),
        },
        design_commitments_signed: None,
    }
}

fn banggai() -> Lab {
    let kecamatan = [
        "Luwuk",
        "Luwuk Timur",
        "Luwuk Utara",
        "Luwuk Selatan",
        "Nuhon",
        "Bualemo",
        "Toili",
        "Toili Barat",
        "Batui",
        "Batui Selatan",
        "Kintom",
        "Pagimana",
        "Bunta",
        "Lamala",
        "Balantak",
        "Balantak Utara",
        "Masama",
        "Mantoh",
        "Simpang Raya",
        "Moilong",
    ];
    let puskesmas: Vec<String> = kecamatan.iter().take(16).map(|k| (*k).to_owned()).collect();
    Lab {
        seed: 7201,
        code: "72.01",
        name: "Kabupaten Banggai",
        province: "Sulawesi Tengah",
        organiser: "Bappeda Kabupaten Banggai",
        regent: "Bupati Banggai",
        mou: None,
        cohort_year: 2019,
        cohort_name: "Laboratorium Inovasi Banggai I",
        cohort_stage: Stage::Display,
        units: units(30, "RSUD Luwuk", &kecamatan, &[], &puskesmas, &[]),
        // 190 ideas; 50 still running (active, launched).
        targets: vec![
            target(Stage::Deliver, IdeaStatus::Active, 38),
            target(Stage::Display, IdeaStatus::Active, 12),
            target(Stage::Deliver, IdeaStatus::Stalled, 60),
            target(Stage::Design, IdeaStatus::Stalled, 30),
            target(Stage::Design, IdeaStatus::Dropped, 20),
            target(Stage::Diagnose, IdeaStatus::Dropped, 30),
        ],
        calendar: Calendar {
            submit: (date(2019, 2, 4), date(2019, 4, 30)),
            design: (date(2019, 5, 6), date(2019, 6, 28)),
            commitments_signed: date(2019, 7, 15),
            deliver: (date(2019, 8, 1), date(2019, 11, 29)),
            display: (date(2020, 2, 3), date(2020, 3, 13)),
            setback: (date(2020, 4, 1), date(2021, 6, 30)),
        },
        design_commitments_signed: None,
    }
}

const SERVICES: [(&str, &str, InnovationForm); 16] = [
    (
        "Layanan Antar Jemput Akta Kelahiran",
        "Administrasi Kependudukan",
        InnovationForm::PublicService,
    ),
    (
        "Posyandu Lansia Keliling",
        "Kesehatan",
        InnovationForm::PublicService,
    ),
    (
        "Rapor Digital Sekolah",
        "Pendidikan",
        InnovationForm::PublicService,
    ),
    (
        "Sistem Antrean Daring",
        "Kesehatan",
        InnovationForm::PublicService,
    ),
    (
        "Perizinan Satu Hari",
        "Penanaman Modal",
        InnovationForm::PublicService,
    ),
    (
        "Bank Sampah Kelurahan",
        "Lingkungan Hidup",
        InnovationForm::PublicService,
    ),
    (
        "E-Kinerja Pegawai",
        "Kepegawaian",
        InnovationForm::Governance,
    ),
    (
        "Dashboard Anggaran Terbuka",
        "Keuangan",
        InnovationForm::Governance,
    ),
    (
        "Pojok Baca Desa",
        "Perpustakaan",
        InnovationForm::PublicService,
    ),
    (
        "Kartu Tani Pintar",
        "Pertanian",
        InnovationForm::PublicService,
    ),
    (
        "Pengaduan Warga via WhatsApp",
        "Komunikasi dan Informatika",
        InnovationForm::Governance,
    ),
    (
        "Kelas Ibu Hamil Terpadu",
        "Kesehatan",
        InnovationForm::PublicService,
    ),
    (
        "Pasar Ikan Higienis",
        "Kelautan dan Perikanan",
        InnovationForm::Other,
    ),
    (
        "Rumah Singgah Pasien",
        "Sosial",
        InnovationForm::PublicService,
    ),
    (
        "Monitoring Proyek Berbasis Foto",
        "Pekerjaan Umum",
        InnovationForm::Governance,
    ),
    (
        "Desa Siaga Bencana",
        "Ketenteraman dan Ketertiban",
        InnovationForm::Other,
    ),
];

const PROBLEMS: [&str; 6] = [
    "Warga harus datang berkali-kali dan menunggu lama untuk layanan yang sama.",
    "Data tersebar di banyak buku catatan sehingga laporan selalu terlambat.",
    "Cakupan layanan di desa terpencil masih rendah karena jarak dan biaya.",
    "Pengaduan masyarakat tidak tercatat dan tidak ada tindak lanjut yang terukur.",
    "Anggaran terbatas sehingga program berjalan tanpa prioritas yang jelas.",
    "Koordinasi antar perangkat daerah lambat dan tidak terdokumentasi.",
];

const STALL_REASONS: [&str; 3] = [
    "Anggaran dipangkas (refocusing)",
    "Inovator dimutasi ke unit lain",
    "Menunggu regulasi pendukung",
];

const DROP_REASONS: [&str; 3] = [
    "Tumpang tindih dengan program yang sudah ada",
    "Tidak lolos seleksi tim penilai",
    "Inovator dimutasi dan tidak ada pengganti",
];

/// A move to record, with the date it happened.
struct PlannedMove {
    decision: Decision,
    from: Option<Stage>,
    to: IdeaState,
    reason: Option<String>,
    day: NaiveDate,
}

struct PlannedIdea {
    unit: usize,
    final_state: IdeaState,
    moves: Vec<PlannedMove>,
}

impl PlannedIdea {
    fn day_entered(&self, stage: Stage) -> Option<NaiveDate> {
        self.moves
            .iter()
            .find(|m| m.to.stage == stage && m.decision == Decision::Advance)
            .map(|m| m.day)
    }
}

fn plan_moves(lab: &Lab, goal: IdeaState, index: usize, rng: &mut Rng) -> Vec<PlannedMove> {
    let cal = &lab.calendar;
    let mut state = IdeaState::SUBMITTED;
    let mut moves = vec![PlannedMove {
        decision: Decision::Submit,
        from: None,
        to: state,
        reason: None,
        day: rng.day_in(cal.submit),
    }];
    let mut push = |moves: &mut Vec<PlannedMove>,
                    decision,
                    reason: Option<&str>,
                    window,
                    state: &mut IdeaState| {
        let last = moves.last().map_or(cal.submit.0, |m| m.day);
        let day = rng.day_in(window).max(last + Days::new(1));
        let to = pipeline::decide(*state, decision, reason, true).unwrap_or(*state);
        moves.push(PlannedMove {
            decision,
            from: Some(state.stage),
            to,
            reason: reason.map(str::to_owned),
            day,
        });
        *state = to;
    };
    while state.stage < goal.stage {
        let window = match state.stage.next() {
            Some(Stage::Design) => cal.design,
            Some(Stage::Deliver) => cal.deliver,
            _ => cal.display,
        };
        push(&mut moves, Decision::Advance, None, window, &mut state);
        // Every 13th idea reaching DESIGN was sent back once to sharpen its problem statement.
        if state.stage == Stage::Design && index % 13 == 5 {
            push(
                &mut moves,
                Decision::Revert,
                Some("Rumusan masalah perlu dipertajam"),
                cal.design,
                &mut state,
            );
            push(&mut moves, Decision::Advance, None, cal.design, &mut state);
        }
        // Every 11th idea reaching DELIVER stalled for a while and came back.
        if state.stage == Stage::Deliver && index % 11 == 3 && goal.stage > Stage::Deliver {
            push(
                &mut moves,
                Decision::Stall,
                Some(STALL_REASONS[0]),
                cal.deliver,
                &mut state,
            );
            push(
                &mut moves,
                Decision::Resume,
                Some("Anggaran perubahan disetujui"),
                cal.deliver,
                &mut state,
            );
        }
    }
    match goal.status {
        IdeaStatus::Active => {}
        IdeaStatus::Stalled => {
            let reason = STALL_REASONS[index % STALL_REASONS.len()];
            push(
                &mut moves,
                Decision::Stall,
                Some(reason),
                cal.setback,
                &mut state,
            );
        }
        IdeaStatus::Dropped => {
            let reason = DROP_REASONS[index % DROP_REASONS.len()];
            let window = if goal.stage == Stage::Diagnose {
                cal.design
            } else {
                cal.setback
            };
            push(&mut moves, Decision::Drop, Some(reason), window, &mut state);
        }
    }
    moves
}

/// Makes sure each kind in `kinds` has at least one idea with `goal`, by swapping goals.
fn ensure_kinds_reach(
    goals: &mut [IdeaState],
    unit_of: &[usize],
    units: &[(UnitKind, String, Option<usize>)],
    goal: IdeaState,
    kinds: &[UnitKind],
) {
    for kind in kinds {
        let of_kind = |i: &usize| units[unit_of[*i]].0 == *kind;
        if (0..goals.len()).any(|i| of_kind(&i) && goals[i] == goal) {
            continue;
        }
        let Some(mine) = (0..goals.len()).find(of_kind) else {
            continue;
        };
        let donor =
            (0..goals.len()).find(|i| goals[*i] == goal && !kinds.contains(&units[unit_of[*i]].0));
        if let Some(donor) = donor {
            goals.swap(mine, donor);
        }
    }
}

struct Mentors(Vec<i32>);

async fn insert_mentors(txn: &DatabaseTransaction) -> anyhow::Result<Mentors> {
    let now = Utc::now();
    let mut ids = Vec::new();
    for (name, expertise) in [
        (
            "Suripto",
            "Inovasi administrasi negara, tata kelola laboratorium inovasi",
        ),
        (
            "Marsono",
            "Perancangan aksi inovasi dan manajemen perubahan",
        ),
        (
            "Antun Nastri Sidik",
            "Pengembangan inovasi pelayanan publik",
        ),
    ] {
        let model = mentor::ActiveModel {
            name: Set(name.to_owned()),
            institution: Set("Lembaga Administrasi Negara (LAN)".to_owned()),
            team: Set(Some("Tim Road Map Inovasi".to_owned())),
            expertise: Set(Some(expertise.to_owned())),
            contact: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await
        .context("inserting a mentor")?;
        ids.push(model.id);
    }
    Ok(Mentors(ids))
}

/// One row of the event outbox before its sequence number is known.
struct PlannedEvent {
    at: DateTime<Utc>,
    kind: PipelineEventKind,
    idea_id: Option<i32>,
    unit_id: Option<i32>,
    commitment_id: Option<i32>,
    stage: Option<Stage>,
    payload: serde_json::Value,
}

impl Lab {
    fn plan_ideas(&self) -> Vec<PlannedIdea> {
        let mut rng = Rng(self.seed);
        let mut goals: Vec<IdeaState> = self
            .targets
            .iter()
            .flat_map(|t| {
                std::iter::repeat_n(
                    IdeaState {
                        stage: t.stage,
                        status: t.status,
                    },
                    t.count,
                )
            })
            .collect();
        rng.shuffle(&mut goals);
        // Every unit holds at least one idea: the first ideas go round the units once.
        let mut unit_of: Vec<usize> = (0..goals.len()).map(|i| i % self.units.len()).collect();
        rng.shuffle(&mut unit_of[self.units.len().min(goals.len())..]);
        if self.design_commitments_signed.is_some() {
            let design = IdeaState {
                stage: Stage::Design,
                status: IdeaStatus::Active,
            };
            let kinds = [
                UnitKind::Dinas,
                UnitKind::Kecamatan,
                UnitKind::Kelurahan,
                UnitKind::Puskesmas,
                UnitKind::Rsud,
            ];
            ensure_kinds_reach(&mut goals, &unit_of, &self.units, design, &kinds);
        }
        goals
            .iter()
            .enumerate()
            .map(|(i, goal)| PlannedIdea {
                unit: unit_of[i],
                final_state: *goal,
                moves: plan_moves(self, *goal, i, &mut rng),
            })
            .collect()
    }

    async fn insert(
        &self,
        txn: &DatabaseTransaction,
        mentors: &Mentors,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        let created = at(self.calendar.submit.0, 0);
        let regency = regency::ActiveModel {
            code: Set(self.code.to_owned()),
            name: Set(self.name.to_owned()),
            province: Set(self.province.to_owned()),
            organiser: Set(self.organiser.to_owned()),
            mou_signed_on: Set(self.mou),
            event_seq: Set(0),
            version: Set(1),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        }
        .insert(txn)
        .await?;
        let mut unit_ids: Vec<i32> = Vec::with_capacity(self.units.len());
        for (kind, name, parent) in &self.units {
            let unit = unit::ActiveModel {
                regency_id: Set(regency.id),
                parent_id: Set(parent.map(|p| unit_ids[p])),
                kind: Set(*kind),
                name: Set(name.clone()),
                head_title: Set(head_title(*kind).to_owned()),
                version: Set(1),
                created_at: Set(created),
                updated_at: Set(created),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            unit_ids.push(unit.id);
        }
        let cohort = cohort::ActiveModel {
            regency_id: Set(regency.id),
            year: Set(self.cohort_year),
            name: Set(self.cohort_name.to_owned()),
            stage: Set(self.cohort_stage),
            version: Set(1),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        }
        .insert(txn)
        .await?;

        let plans = self.plan_ideas();
        let mut rng = Rng(self.seed ^ 0xA5A5);
        let mut events: Vec<PlannedEvent> = Vec::new();
        let mut idea_ids = Vec::with_capacity(plans.len());
        for (i, plan) in plans.iter().enumerate() {
            let (service, area, form) = SERVICES[(i + plan.unit) % SERVICES.len()];
            let unit_name = &self.units[plan.unit].1;
            let submitted_at = at(plan.moves[0].day, i as u32);
            let last_at = at(
                plan.moves.last().map(|m| m.day).unwrap_or_default(),
                i as u32,
            );
            let launched_on = plan.day_entered(Stage::Deliver);
            let maturity = match plan.final_state.stage {
                Stage::Display => Maturity::Applied,
                Stage::Deliver => Maturity::Trial,
                _ => Maturity::Initiative,
            };
            let model = idea::ActiveModel {
                regency_id: Set(regency.id),
                cohort_id: Set(cohort.id),
                unit_id: Set(unit_ids[plan.unit]),
                title: Set(format!("{service} {}", short_name(unit_name))),
                problem: Set((*rng.pick(&PROBLEMS)).to_owned()),
                description: Set(format!(
                    "{service}: aksi inovasi {unit_name} dalam {}.",
                    self.cohort_name
                )),
                innovation_type: Set(if rng.below(5) < 2 {
                    InnovationType::Digital
                } else {
                    InnovationType::NonDigital
                }),
                form: Set(form),
                affairs_area: Set(area.to_owned()),
                initiator: Set(*rng.pick(&[
                    Initiator::WorkUnit,
                    Initiator::WorkUnit,
                    Initiator::CivilServant,
                    Initiator::Community,
                    Initiator::RegionalHead,
                    Initiator::Dprd,
                ])),
                stage: Set(plan.final_state.stage),
                status: Set(plan.final_state.status),
                status_reason: Set(match plan.final_state.status {
                    IdeaStatus::Active => None,
                    _ => plan.moves.last().and_then(|m| m.reason.clone()),
                }),
                maturity: Set(maturity),
                submitted_at: Set(submitted_at),
                launched_on: Set(launched_on),
                version: Set(plan.moves.len() as i32),
                created_at: Set(submitted_at),
                updated_at: Set(last_at),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            idea_ids.push(model.id);
        }

        // Commitments: one per unit for its ideas that were launched, signed before the launch;
        // and, where the lab had one, a later signing for ideas still being designed.
        let mut commitment_rows = Vec::new();
        let mut links = Vec::new();
        let signings = [
            (Some(self.calendar.commitments_signed), true),
            (self.design_commitments_signed, false),
        ];
        for (signed_on, launched) in signings {
            let Some(signed_on) = signed_on else { continue };
            let mut by_unit: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, plan) in plans.iter().enumerate() {
                let covered = if launched {
                    plan.day_entered(Stage::Deliver).is_some()
                } else {
                    plan.final_state
                        == IdeaState {
                            stage: Stage::Design,
                            status: IdeaStatus::Active,
                        }
                };
                if covered {
                    by_unit.entry(plan.unit).or_default().push(i);
                }
            }
            for (unit, ideas) in by_unit {
                let (kind, unit_name, _) = &self.units[unit];
                let fulfilled = ideas
                    .iter()
                    .all(|i| plans[*i].final_state.stage == Stage::Display);
                let row = commitment::ActiveModel {
                    regency_id: Set(regency.id),
                    cohort_id: Set(cohort.id),
                    unit_id: Set(unit_ids[unit]),
                    signatory_name: Set(format!("{} {}", head_title(*kind), short_name(unit_name))),
                    signatory_title: Set(format!("{} {unit_name}", head_title(*kind))),
                    counterpart: Set(self.regent.to_owned()),
                    target: Set(format!(
                        "Meluncurkan dan menerapkan {} inovasi {unit_name}",
                        ideas.len()
                    )),
                    due_on: Set(Some(signed_on + Days::new(365))),
                    status: Set(if launched && fulfilled {
                        CommitmentStatus::Fulfilled
                    } else {
                        CommitmentStatus::Signed
                    }),
                    signed_on: Set(Some(signed_on)),
                    version: Set(if launched && fulfilled { 3 } else { 2 }),
                    created_at: Set(at(signed_on, 0)),
                    updated_at: Set(at(signed_on, 0)),
                    ..Default::default()
                }
                .insert(txn)
                .await?;
                events.push(PlannedEvent {
                    at: at(signed_on, 0),
                    kind: PipelineEventKind::CommitmentSigned,
                    idea_id: None,
                    unit_id: Some(unit_ids[unit]),
                    commitment_id: Some(row.id),
                    stage: None,
                    payload: serde_json::json!({ "ideas": ideas.iter().map(|i| idea_ids[*i]).collect::<Vec<_>>() }),
                });
                for i in ideas {
                    links.push(commitment_idea::ActiveModel {
                        commitment_id: Set(row.id),
                        idea_id: Set(idea_ids[i]),
                    });
                }
                commitment_rows.push(row.id);
            }
        }
        for chunk in links.chunks(500) {
            commitment_idea::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }

        // Audit trail and events.
        let actor = format!("demo: {}", self.organiser);
        let mut transitions = Vec::new();
        let mut assignments = Vec::new();
        for (i, plan) in plans.iter().enumerate() {
            for m in &plan.moves {
                let when = at(m.day, i as u32);
                transitions.push(stage_transition::ActiveModel {
                    idea_id: Set(idea_ids[i]),
                    from_stage: Set(m.from),
                    to_stage: Set(m.to.stage),
                    to_status: Set(m.to.status),
                    decision: Set(m.decision),
                    reason: Set(m.reason.clone()),
                    actor: Set(actor.clone()),
                    at: Set(when),
                    ..Default::default()
                });
                events.push(PlannedEvent {
                    at: when,
                    kind: crate::domain::idea::moves::event_kind(m.decision),
                    idea_id: Some(idea_ids[i]),
                    unit_id: Some(unit_ids[plan.unit]),
                    commitment_id: None,
                    stage: Some(m.to.stage),
                    payload: serde_json::json!({
                        "from": m.from.map(Stage::as_str),
                        "to": m.to.stage.as_str(),
                        "status": m.to.status.as_str(),
                        "reason": m.reason,
                    }),
                });
            }
            // Ideas that reached DESIGN are coached by a LAN mentor; some changed mentor.
            if let Some(since) = plan.day_entered(Stage::Design) {
                let mentor = mentors.0[i % mentors.0.len()];
                let mut since = since;
                if i % 7 == 0 {
                    let until = since + Days::new(60);
                    assignments.push(mentor_assignment::ActiveModel {
                        mentor_id: Set(mentors.0[(i + 1) % mentors.0.len()]),
                        idea_id: Set(idea_ids[i]),
                        since: Set(since),
                        until: Set(Some(until)),
                        ..Default::default()
                    });
                    since = until;
                }
                assignments.push(mentor_assignment::ActiveModel {
                    mentor_id: Set(mentor),
                    idea_id: Set(idea_ids[i]),
                    since: Set(since),
                    until: Set(None),
                    ..Default::default()
                });
            }
        }
        for chunk in transitions.chunks(500) {
            stage_transition::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        for chunk in assignments.chunks(500) {
            mentor_assignment::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        events.sort_by_key(|e| e.at);
        let rows: Vec<pipeline_event::ActiveModel> = events
            .iter()
            .enumerate()
            .map(|(n, e)| pipeline_event::ActiveModel {
                regency_id: Set(regency.id),
                seq: Set(n as i64 + 1),
                kind: Set(e.kind),
                idea_id: Set(e.idea_id),
                unit_id: Set(e.unit_id),
                commitment_id: Set(e.commitment_id),
                stage: Set(e.stage),
                actor: Set(actor.clone()),
                payload: Set(e.payload.to_string()),
                occurred_at: Set(e.at),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(400) {
            pipeline_event::Entity::insert_many(chunk.to_vec())
                .exec(txn)
                .await?;
        }
        let mut regency: regency::ActiveModel = regency.into();
        regency.event_seq = Set(events.len() as i64);
        regency.update(txn).await?;

        summary.regencies += 1;
        summary.units += unit_ids.len();
        summary.ideas += idea_ids.len();
        summary.commitments += commitment_rows.len();
        summary.events += events.len();
        Ok(())
    }
}

/// "Kecamatan Martapura" → "Martapura", "Dinas Kesehatan" → "Dinas Kesehatan".
fn short_name(unit_name: &str) -> &str {
    ["Kecamatan ", "Kelurahan ", "Puskesmas "]
        .iter()
        .find_map(|prefix| unit_name.strip_prefix(prefix))
        .unwrap_or(unit_name)
}
