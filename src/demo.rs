//! Illustrative demo data, generated deterministically by the program.
//!
//! Published facts are kept exactly (Banjar: MoU with LAN on 2017-03-16, 268 ideas in the 2017
//! lab, 104 launched in 2018, commitments signed on 2019-09-10, mentors Suripto, Marsono and
//! Antun Nastri Sidik, who also review Banjar's launched ideas; Purbalingga 2022: 174 ideas from 35 OPD, 18 kecamatan, 25 puskesmas and
//! 8 BUMD; Banggai lab I: 190 ideas, 50 still running). Everything else (idea titles, dates
//! inside the published years, which unit holds which idea) is made up so that dashboards have
//! something realistic to show. Every stage history obeys the pipeline rules.

#![allow(
    clippy::too_many_lines,
    reason = "the demo data are tables, long by nature"
)]

mod files;

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use entity::{
    Decision, IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, MilestoneStatus,
    Recommendation, Stage, StallReason, UnitKind,
};

use crate::access::{Caller, Role, User};
use crate::domain::{
    Domain,
    action_plan::{ActionPlan, MilestoneDraft, PlanDraft},
    cohort::NewCohort,
    commitment::NewCommitment,
    evidence::NewEvidence,
    idea::moves::{IdeaChanges, Innovator, MoveReason, NewIdea},
    mentor::MentorFields,
    pipeline::{self, CommitmentAction, IdeaState},
    regency::NewRegency,
    review::{CriterionScore, NewReview, default_rubric},
    unit::{NewUnit, default_head_title as head_title},
    write::Work,
};
use crate::error::DomainResult;

/// What the demo load wrote, for the CLI to report.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DemoSummary {
    pub regencies: usize,
    pub units: usize,
    pub ideas: usize,
    pub commitments: usize,
    pub events: usize,
}

impl DemoSummary {
    /// Logs what was loaded, as fields.
    pub fn log(&self) {
        tracing::info!(
            regencies = self.regencies,
            units = self.units,
            ideas = self.ideas,
            commitments = self.commitments,
            events = self.events,
            "demo data loaded"
        );
    }
}

/// Loads the demo data into an empty database, in one transaction, through the domain's own
/// writes: each lab's history is replayed in date order with the unit of work's clock set to
/// the day of each step, so the demo's rows, audit trail and events are what the same writes
/// made by a regency's staff on those days would have recorded.
pub async fn load(domain: &Domain) -> anyhow::Result<DemoSummary> {
    let loader = Caller::system("demo");
    anyhow::ensure!(
        domain.is_empty(&loader).await?,
        "the database already holds regencies; demo data is only loaded into an empty database"
    );
    let mut work = domain.begin_work(&loader).await?;
    let mentors = create_mentors(domain, &mut work).await?;
    let mut summary = DemoSummary::default();
    for lab in [banjar(), purbalingga(), banggai()] {
        lab.replay(domain, &mut work, &mentors, &mut summary)
            .await
            .with_context(|| format!("loading {}", lab.name))?;
    }
    let written = domain
        .finish(work, ())
        .await
        .map_err(anyhow::Error::from)
        .context("committing the demo data")?;
    summary.events = written.events.len();
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
    /// Whether the LAN mentors reviewed the launched ideas on the rubric (Banjar).
    reviews_launched: bool,
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
        reviews_launched: true,
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
        reviews_launched: false,
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
        reviews_launched: false,
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

const STALL_REASONS: [(StallReason, &str); 5] = [
    (StallReason::Budget, "Anggaran dipangkas (refocusing)"),
    (
        StallReason::InnovatorTransferred,
        "Inovator dimutasi ke unit lain",
    ),
    (StallReason::Regulation, "Menunggu regulasi pendukung"),
    (
        StallReason::LeadershipChange,
        "Pergantian kepala perangkat daerah, program ditinjau ulang",
    ),
    (
        StallReason::PartnerWithdrew,
        "Mitra (BUMD) menarik dukungan pendanaan",
    ),
];

const FIRST_NAMES: [&str; 12] = [
    "Ahmad", "Siti", "Muhammad", "Nur", "Rahmat", "Dewi", "Hendra", "Fitri", "Budi", "Rina",
    "Agus", "Lestari",
];

const LAST_NAMES: [&str; 10] = [
    "Hidayat",
    "Rahmawati",
    "Saputra",
    "Wulandari",
    "Santoso",
    "Maulida",
    "Pratama",
    "Noor",
    "Fauzi",
    "Anggraini",
];

/// A made-up innovator for the idea of this index, with a position fitting the unit kind.
fn innovator(index: usize, kind: UnitKind) -> Innovator {
    let positions: &[&str] = match kind {
        UnitKind::Puskesmas => &["Kepala Puskesmas", "Bidan Koordinator", "Perawat Pelaksana"],
        UnitKind::Rsud => &["Kepala Instalasi Rawat Jalan", "Kepala Bidang Pelayanan"],
        UnitKind::Kecamatan => &["Sekretaris Camat", "Kepala Seksi Pelayanan Umum"],
        UnitKind::Kelurahan => &["Sekretaris Lurah", "Kepala Seksi Pemberdayaan"],
        UnitKind::Bumd => &["Manajer Operasional", "Kepala Bagian Umum"],
        _ => &[
            "Kepala Bidang",
            "Kepala Seksi",
            "Analis Kebijakan",
            "Pranata Komputer",
        ],
    };
    Innovator {
        name: format!(
            "{} {}",
            FIRST_NAMES[index % FIRST_NAMES.len()],
            LAST_NAMES[(index / FIRST_NAMES.len() + index * 7) % LAST_NAMES.len()]
        ),
        position: positions[index % positions.len()].to_owned(),
    }
}

const DROP_REASONS: [&str; 3] = [
    "Tumpang tindih dengan program yang sudah ada",
    "Tidak lolos seleksi tim penilai",
    "Inovator dimutasi dan tidak ada pengganti",
];

/// A move to record, with the date it happened.
struct PlannedMove {
    decision: Decision,
    to: IdeaState,
    reason: Option<String>,
    code: Option<StallReason>,
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
        to: state,
        reason: None,
        code: None,
        day: rng.day_in(cal.submit),
    }];
    let mut push = |moves: &mut Vec<PlannedMove>,
                    decision,
                    reason: Option<&str>,
                    window,
                    state: &mut IdeaState| {
        let (code, reason) = match (decision, reason) {
            (Decision::Stall, Some(text)) => {
                let code = STALL_REASONS
                    .iter()
                    .find(|(_, t)| *t == text)
                    .map_or(StallReason::Other, |(c, _)| *c);
                (Some(code), Some(text))
            }
            _ => (None, reason),
        };
        let last = moves.last().map_or(cal.submit.0, |m| m.day);
        let day = rng.day_in(window).max(last + Days::new(1));
        let to = pipeline::decide(*state, decision, reason, pipeline::Readiness::READY)
            .unwrap_or(*state);
        moves.push(PlannedMove {
            decision,
            to,
            reason: reason.map(str::to_owned),
            code,
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
        // Every 11th idea reaching DELIVER stalled for a while and came back: every other
        // one for its budget, the others because the innovator was transferred (the idea was
        // handed over to a successor before it resumed).
        if state.stage == Stage::Deliver && index % 11 == 3 && goal.stage > Stage::Deliver {
            let (stall, resume) = if transferred_and_handed_over(index) {
                (STALL_REASONS[1].1, "Inovator pengganti ditunjuk")
            } else {
                (STALL_REASONS[0].1, "Anggaran perubahan disetujui")
            };
            push(
                &mut moves,
                Decision::Stall,
                Some(stall),
                cal.deliver,
                &mut state,
            );
            push(
                &mut moves,
                Decision::Resume,
                Some(resume),
                cal.deliver,
                &mut state,
            );
        }
    }
    match goal.status {
        IdeaStatus::Active => {}
        IdeaStatus::Stalled => {
            let reason = STALL_REASONS[index % STALL_REASONS.len()].1;
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

/// Whether the idea of this index stalled in DELIVER because its innovator was transferred,
/// and was handed over to a successor before it resumed.
fn transferred_and_handed_over(index: usize) -> bool {
    index % 11 == 3 && (index / 11) % 2 == 1
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

/// The LAN mentors: ids and names.
struct Mentors(Vec<i32>, Vec<&'static str>);

impl Mentors {
    /// The token-less caller a mentor's own writes are replayed as.
    fn caller(&self, id: i32) -> Caller {
        let name = self
            .0
            .iter()
            .position(|m| *m == id)
            .map_or("LAN mentor", |i| self.1[i]);
        Caller::user(User {
            subject: name.to_owned(),
            role: Role::Mentor,
            regency: None,
            mentor: Some(id),
            expires_at: DateTime::<Utc>::MAX_UTC,
        })
    }
}

async fn create_mentors(domain: &Domain, work: &mut Work) -> anyhow::Result<Mentors> {
    work.set_clock(at(date(2017, 1, 2), 0));
    let mut ids = Vec::new();
    let mut names = Vec::new();
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
        let fields = MentorFields {
            name: Some(name.to_owned()),
            institution: Some("Lembaga Administrasi Negara (LAN)".to_owned()),
            team: Some("Tim Road Map Inovasi".to_owned()),
            expertise: Some(expertise.to_owned()),
            contact: None,
        };
        let mentor = domain
            .create_mentor_in(work, fields)
            .await
            .map_err(anyhow::Error::from)
            .with_context(|| format!("creating mentor {name}"))?;
        ids.push(mentor.id);
        names.push(name);
    }
    Ok(Mentors(ids, names))
}

/// One write of a lab's history. Steps are replayed in time order; steps at the same time
/// keep the order they were planned in.
#[derive(Debug)]
enum Step {
    Regency,
    Unit(usize),
    Cohort,
    /// Draft and sign the commitment of this index.
    Commitment(usize),
    Submit(usize),
    /// The idea's move of this index (after its submission).
    Move(usize, usize),
    Maturity(usize, Maturity),
    Assign {
        idea: usize,
        mentor: i32,
    },
    Unassign {
        idea: usize,
        mentor: i32,
    },
    Fulfil(usize),
    /// The idea passes to a successor of its transferred innovator.
    HandOver(usize),
    /// A mentor scores the idea on the rubric; `round` 0 is the first review at the stage.
    Review {
        idea: usize,
        mentor: i32,
        round: u32,
    },
    /// The idea's action plan is written, the day it entered DESIGN.
    Plan(usize),
    /// The milestones of the idea's plan due by the step's day are marked done (all of them,
    /// with `all`, on the day it reached DISPLAY).
    MilestonesDone {
        idea: usize,
        all: bool,
    },
    /// Evidence of the idea's work is attached the day it reaches DISPLAY (one idea in three):
    /// a photo of its trial and a short report.
    Evidence(usize),
}

/// A commitment the lab's history signs: a unit's promise for some of its ideas.
struct PlannedCommitment {
    unit: usize,
    ideas: Vec<usize>,
    signed_on: NaiveDate,
    /// The day after its last idea reached DISPLAY, for a launch commitment all of whose ideas
    /// did.
    fulfilled_on: Option<NaiveDate>,
}

/// What the replay has created so far: ids and current versions, by plan index.
#[derive(Default)]
struct Created {
    regency: i32,
    units: Vec<i32>,
    cohort: i32,
    ideas: Vec<(i32, i32)>,
    commitments: Vec<(i32, i32)>,
    /// The action plans written so far, by idea index.
    action_plans: HashMap<usize, ActionPlan>,
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

    /// The commitments of the lab's history: one per unit for its ideas that were launched,
    /// signed before the launch (and fulfilled once all of them are displayed); and, where the
    /// lab had one, a later signing for ideas still being designed.
    fn plan_commitments(&self, plans: &[PlannedIdea]) -> Vec<PlannedCommitment> {
        let design = IdeaState {
            stage: Stage::Design,
            status: IdeaStatus::Active,
        };
        let signings = [
            (Some(self.calendar.commitments_signed), true),
            (self.design_commitments_signed, false),
        ];
        let mut planned = Vec::new();
        for (signed_on, launch) in signings {
            let Some(signed_on) = signed_on else { continue };
            let mut by_unit: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, plan) in plans.iter().enumerate() {
                let covered = if launch {
                    plan.day_entered(Stage::Deliver).is_some()
                } else {
                    plan.final_state == design
                };
                if covered {
                    by_unit.entry(plan.unit).or_default().push(i);
                }
            }
            for (unit, ideas) in by_unit {
                let displayed: Option<Vec<NaiveDate>> = ideas
                    .iter()
                    .map(|i| plans[*i].day_entered(Stage::Display))
                    .collect();
                let fulfilled_on = displayed
                    .filter(|_| launch)
                    .and_then(|days| days.into_iter().max())
                    .map(|last| last + Days::new(1));
                planned.push(PlannedCommitment {
                    unit,
                    ideas,
                    signed_on,
                    fulfilled_on,
                });
            }
        }
        planned
    }

    /// Every write of the lab's history with its time, in time order.
    fn steps(
        &self,
        plans: &[PlannedIdea],
        commitments: &[PlannedCommitment],
        mentors: &Mentors,
    ) -> Vec<(DateTime<Utc>, Step)> {
        let created = at(self.calendar.submit.0, 0);
        let mut steps = vec![(created, Step::Regency)];
        steps.extend((0..self.units.len()).map(|u| (created, Step::Unit(u))));
        steps.push((created, Step::Cohort));
        for (c, planned) in commitments.iter().enumerate() {
            steps.push((at(planned.signed_on, 0), Step::Commitment(c)));
            if let Some(day) = planned.fulfilled_on {
                steps.push((at(day, 0), Step::Fulfil(c)));
            }
        }
        let coaches = &mentors.0;
        for (i, plan) in plans.iter().enumerate() {
            let minute = i as u32;
            steps.push((at(plan.moves[0].day, minute), Step::Submit(i)));
            for (m, planned) in plan.moves.iter().enumerate().skip(1) {
                let when = at(planned.day, minute);
                steps.push((when, Step::Move(i, m)));
                if planned.decision == Decision::Advance {
                    match planned.to.stage {
                        Stage::Deliver => steps.push((when, Step::Maturity(i, Maturity::Trial))),
                        Stage::Display => steps.push((when, Step::Maturity(i, Maturity::Applied))),
                        _ => {}
                    }
                }
                // The successor is named the day the stall for a transfer ends.
                if planned.decision == Decision::Resume && transferred_and_handed_over(i) {
                    steps.push((when, Step::HandOver(i)));
                    let last = steps.len() - 1;
                    steps.swap(last, last - 1);
                }
            }
            if self.reviews_launched {
                steps.extend(self.launch_reviews(i, plan, coaches));
            }
            steps.extend(action_plan_steps(i, plan));
            // Ideas that reached DESIGN are coached by a LAN mentor; every seventh changed
            // mentor after two months, unless it was dropped by then.
            if let Some(since) = plan.day_entered(Stage::Design) {
                let mentor = coaches[i % coaches.len()];
                let until = since + Days::new(60);
                let dropped = plan
                    .moves
                    .iter()
                    .any(|m| m.decision == Decision::Drop && m.day <= until);
                if i % 7 == 0 && !dropped {
                    let first = coaches[(i + 1) % coaches.len()];
                    steps.push((
                        at(since, minute),
                        Step::Assign {
                            idea: i,
                            mentor: first,
                        },
                    ));
                    steps.push((
                        at(until, minute),
                        Step::Unassign {
                            idea: i,
                            mentor: first,
                        },
                    ));
                    steps.push((at(until, minute), Step::Assign { idea: i, mentor }));
                } else {
                    steps.push((at(since, minute), Step::Assign { idea: i, mentor }));
                }
            }
        }
        // A stable sort: steps at the same time keep their planned order.
        steps.sort_by_key(|(when, _)| *when);
        steps
    }

    /// The reviews of a launched idea by the mentor coaching it then: on its launch day, and
    /// for every ninth a second review the next day (superseding the first) when the idea was
    /// still in DELIVER.
    fn launch_reviews(
        &self,
        i: usize,
        plan: &PlannedIdea,
        coaches: &[i32],
    ) -> Vec<(DateTime<Utc>, Step)> {
        let (Some(design), Some(launch)) = (
            plan.day_entered(Stage::Design),
            plan.day_entered(Stage::Deliver),
        ) else {
            return Vec::new();
        };
        let minute = i as u32;
        let mentor = coaches[i % coaches.len()];
        let changed_on = design + Days::new(60);
        let dropped_before_change = plan
            .moves
            .iter()
            .any(|m| m.decision == Decision::Drop && m.day <= changed_on);
        let mentor = if i.is_multiple_of(7) && !dropped_before_change && launch <= changed_on {
            coaches[(i + 1) % coaches.len()]
        } else {
            mentor
        };
        let mut reviews = vec![(
            at(launch, minute),
            Step::Review {
                idea: i,
                mentor,
                round: 0,
            },
        )];
        let next_day = launch + Days::new(1);
        let next_move = plan.moves.iter().map(|m| m.day).find(|d| *d > launch);
        if i.is_multiple_of(9) && next_move.is_none_or(|d| d > next_day) && next_day != changed_on {
            reviews.push((
                at(next_day, minute),
                Step::Review {
                    idea: i,
                    mentor,
                    round: 1,
                },
            ));
        }
        reviews
    }

    /// A deterministic review: scores of 45–95 per criterion; ADVANCE from 70 points, REVISE
    /// below, except where a first review asked for a revision the second one answers.
    fn review_of(&self, idea: usize, round: u32, idea_id: i32) -> NewReview {
        let mut rng = Rng(self.seed ^ (idea as u64 * 31 + u64::from(round)));
        let scores: Vec<CriterionScore> = default_rubric()
            .into_iter()
            .map(|c| CriterionScore {
                criterion: c.key,
                score: 45 + rng.below(51) as i32 + if round > 0 { 5 } else { 0 },
                comment: None,
            })
            .map(|mut s| {
                s.score = s.score.min(100);
                s
            })
            .collect();
        let total: i32 = default_rubric()
            .iter()
            .zip(&scores)
            .map(|(c, s)| c.weight * s.score)
            .sum();
        let recommendation = if round == 0 && idea.is_multiple_of(9) {
            Recommendation::Revise
        } else if total >= 7000 {
            Recommendation::Advance
        } else {
            Recommendation::Revise
        };
        NewReview {
            idea_id,
            scores,
            recommendation,
            comment: Some(
                match recommendation {
                    Recommendation::Revise => {
                        "Perlu bukti manfaat dan data dukung yang lebih kuat."
                    }
                    _ => "Layak dilanjutkan dan direplikasi ke unit lain.",
                }
                .to_owned(),
            ),
        }
    }

    /// The descriptive fields of each planned idea, drawn in plan order.
    fn describe_ideas(&self, plans: &[PlannedIdea]) -> Vec<NewIdea> {
        let mut rng = Rng(self.seed ^ 0xA5A5);
        plans
            .iter()
            .enumerate()
            .map(|(i, plan)| {
                let (service, area, form) = SERVICES[(i + plan.unit) % SERVICES.len()];
                let unit_name = &self.units[plan.unit].1;
                NewIdea {
                    cohort_id: 0,
                    unit_id: 0,
                    title: format!("{service} {}", short_name(unit_name)),
                    problem: (*rng.pick(&PROBLEMS)).to_owned(),
                    description: Some(format!(
                        "{service}: aksi inovasi {unit_name} dalam {}.",
                        self.cohort_name
                    )),
                    innovation_type: if rng.below(5) < 2 {
                        InnovationType::Digital
                    } else {
                        InnovationType::NonDigital
                    },
                    form,
                    affairs_area: area.to_owned(),
                    initiator: *rng.pick(&[
                        Initiator::WorkUnit,
                        Initiator::WorkUnit,
                        Initiator::CivilServant,
                        Initiator::Community,
                        Initiator::RegionalHead,
                        Initiator::Dprd,
                    ]),
                    maturity: None,
                    submitted_at: Some(at(plan.moves[0].day, i as u32)),
                    innovator: Some(innovator(i + self.seed as usize, self.units[plan.unit].0)),
                }
            })
            .collect()
    }

    /// Replays the lab's history through the domain's writes, each at its time.
    async fn replay(
        &self,
        domain: &Domain,
        work: &mut Work,
        mentors: &Mentors,
        summary: &mut DemoSummary,
    ) -> anyhow::Result<()> {
        work.caller = Caller::system(format!("demo: {}", self.organiser));
        let plans = self.plan_ideas();
        let commitments = self.plan_commitments(&plans);
        let ideas = self.describe_ideas(&plans);
        let mut made = Created {
            ideas: vec![(0, 0); plans.len()],
            commitments: vec![(0, 0); commitments.len()],
            ..Created::default()
        };
        let organiser = work.caller.clone();
        for (when, step) in self.steps(&plans, &commitments, mentors) {
            work.set_clock(when);
            match step {
                Step::Review { mentor, .. } => work.act_as_mentor(mentors.caller(mentor)),
                _ => work.act_for_rows(organiser.clone()),
            }
            self.take(domain, work, &step, &plans, &commitments, &ideas, &mut made)
                .await
                .map_err(anyhow::Error::from)
                .with_context(|| format!("{step:?} on {when}"))?;
        }
        summary.regencies += 1;
        summary.units += made.units.len();
        summary.ideas += plans.len();
        summary.commitments += commitments.len();
        Ok(())
    }

    /// Takes one step of the history.
    #[allow(clippy::too_many_arguments)]
    async fn take(
        &self,
        domain: &Domain,
        work: &mut Work,
        step: &Step,
        plans: &[PlannedIdea],
        commitments: &[PlannedCommitment],
        ideas: &[NewIdea],
        made: &mut Created,
    ) -> DomainResult<()> {
        match *step {
            Step::Regency => {
                let new = NewRegency {
                    code: self.code.to_owned(),
                    name: self.name.to_owned(),
                    province: self.province.to_owned(),
                    organiser: self.organiser.to_owned(),
                    mou_signed_on: self.mou,
                };
                made.regency = domain.create_regency_in(work, new).await?.id;
            }
            Step::Unit(u) => {
                let (kind, name, parent) = &self.units[u];
                let new = NewUnit {
                    regency_id: made.regency,
                    parent_id: parent.map(|p| made.units[p]),
                    kind: *kind,
                    name: name.clone(),
                    head_title: None,
                };
                made.units.push(domain.create_unit_in(work, new).await?.id);
            }
            Step::Cohort => {
                let new = NewCohort {
                    regency_id: made.regency,
                    year: self.cohort_year,
                    name: self.cohort_name.to_owned(),
                    stage: Some(self.cohort_stage),
                    rubric: None,
                };
                made.cohort = domain.create_cohort_in(work, new).await?.id;
            }
            Step::Submit(i) => {
                let new = NewIdea {
                    cohort_id: made.cohort,
                    unit_id: made.units[plans[i].unit],
                    ..ideas[i].clone()
                };
                let idea = domain.submit_idea_in(work, new).await?;
                made.ideas[i] = (idea.id, idea.version);
            }
            Step::Move(i, m) => {
                let (id, version) = made.ideas[i];
                let planned = &plans[i].moves[m];
                let reason = MoveReason {
                    text: planned.reason.clone(),
                    code: planned.code,
                };
                let moved = domain
                    .move_idea_in(work, id, version, planned.decision, reason)
                    .await?;
                made.ideas[i].1 = moved.idea.version;
            }
            Step::Maturity(i, maturity) => {
                let (id, version) = made.ideas[i];
                let changes = IdeaChanges {
                    maturity: Some(maturity),
                    ..IdeaChanges::default()
                };
                let idea = domain.update_idea_in(work, id, version, changes).await?;
                made.ideas[i].1 = idea.version;
            }
            Step::Assign { idea, mentor } => {
                domain
                    .assign_mentor_in(work, made.ideas[idea].0, mentor, None)
                    .await?;
            }
            Step::Unassign { idea, mentor } => {
                domain
                    .unassign_mentor_in(work, made.ideas[idea].0, mentor, None)
                    .await?;
            }
            Step::Commitment(c) => {
                let planned = &commitments[c];
                let (kind, unit_name, _) = &self.units[planned.unit];
                let new = NewCommitment {
                    cohort_id: made.cohort,
                    unit_id: made.units[planned.unit],
                    idea_ids: planned.ideas.iter().map(|i| made.ideas[*i].0).collect(),
                    signatory_name: format!("{} {}", head_title(*kind), short_name(unit_name)),
                    signatory_title: format!("{} {unit_name}", head_title(*kind)),
                    counterpart: self.regent.to_owned(),
                    target: format!(
                        "Meluncurkan dan menerapkan {} inovasi {unit_name}",
                        planned.ideas.len()
                    ),
                    due_on: Some(planned.signed_on + Days::new(365)),
                };
                let draft = domain.create_commitment_in(work, new).await?;
                let signed = domain
                    .step_commitment_in(
                        work,
                        draft.id,
                        draft.version,
                        CommitmentAction::Sign,
                        Some(planned.signed_on),
                        None,
                    )
                    .await?;
                made.commitments[c] = (signed.id, signed.version);
            }
            Step::HandOver(i) => {
                let (id, version) = made.ideas[i];
                let successor = innovator(i + self.seed as usize + 5, self.units[plans[i].unit].0);
                let done = domain
                    .hand_over_idea_in(
                        work,
                        id,
                        version,
                        successor,
                        "Inovator sebelumnya dimutasi; penggantinya melanjutkan inovasi".to_owned(),
                    )
                    .await?;
                made.ideas[i].1 = done.idea.version;
            }
            Step::Review {
                idea,
                mentor: _,
                round,
            } => {
                let review = self.review_of(idea, round, made.ideas[idea].0);
                domain.review_idea_in(work, review).await?;
            }
            Step::Plan(i) => {
                let design = work.today();
                let draft = action_plan_of(&ideas[i], made.ideas[i].0, design);
                let written = domain.write_action_plan_in(work, draft).await?;
                made.action_plans.insert(i, written);
            }
            Step::MilestonesDone { idea, all } => {
                if let Some(current) = made.action_plans.get(&idea) {
                    let draft = milestones_done(current, work.today(), all);
                    let written = domain.write_action_plan_in(work, draft).await?;
                    made.action_plans.insert(idea, written);
                }
            }
            Step::Evidence(i) => {
                let trial = made
                    .action_plans
                    .get(&i)
                    .and_then(|plan| plan.milestones.get(2))
                    .map(|m| m.id);
                let idea = &ideas[i];
                for new in demo_evidence(idea, made.ideas[i].0, trial, i, work.today()) {
                    domain.add_evidence_in(work, new).await?;
                }
            }
            Step::Fulfil(c) => {
                let (id, version) = made.commitments[c];
                let fulfilled = domain
                    .step_commitment_in(work, id, version, CommitmentAction::Fulfill, None, None)
                    .await?;
                made.commitments[c].1 = fulfilled.version;
            }
        }
        Ok(())
    }
}

/// When an idea's action plan is written and its milestones done: every idea that reaches
/// DELIVER has a plan from the day it entered DESIGN (and every other idea that reached DESIGN
/// too); 60 days into DELIVER the milestones due by then are done, and all of them the day it
/// reaches DISPLAY. Nothing is written after the idea was dropped.
fn action_plan_steps(i: usize, plan: &PlannedIdea) -> Vec<(DateTime<Utc>, Step)> {
    let minute = i as u32;
    let dropped_by = |day: NaiveDate| {
        plan.moves
            .iter()
            .any(|m| m.decision == Decision::Drop && m.day <= day)
    };
    let mut steps = Vec::new();
    let Some(design) = plan.day_entered(Stage::Design) else {
        return steps;
    };
    let delivers = plan.day_entered(Stage::Deliver);
    if delivers.is_none() && (i % 2 == 1 || dropped_by(design)) {
        return steps;
    }
    steps.push((at(design, minute), Step::Plan(i)));
    if let Some(deliver) = delivers {
        let later = deliver + Days::new(60);
        let display = plan.day_entered(Stage::Display);
        if !dropped_by(later) && display.is_none_or(|d| later < d) {
            steps.push((
                at(later, minute),
                Step::MilestonesDone {
                    idea: i,
                    all: false,
                },
            ));
        }
        if let Some(display) = display.filter(|d| !dropped_by(*d)) {
            steps.push((
                at(display, minute),
                Step::MilestonesDone { idea: i, all: true },
            ));
            if i.is_multiple_of(3) {
                steps.push((at(display, minute), Step::Evidence(i)));
            }
        }
    }
    steps
}

/// The made-up evidence of an idea that reached DISPLAY: a photo of its trial (attached to the
/// plan's trial milestone) and a one-page report of its results.
fn demo_evidence(
    idea: &NewIdea,
    idea_id: i32,
    trial: Option<i32>,
    seed: usize,
    day: NaiveDate,
) -> Vec<NewEvidence> {
    let slug: String = idea
        .title
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .take(5)
        .collect::<Vec<_>>()
        .join("-");
    let report = files::report(
        &format!("Laporan hasil: {}", idea.title),
        &[
            format!(
                "Unit pelaksana: {}",
                idea.innovator
                    .as_ref()
                    .map_or("Tim Inovasi", |i| i.position.as_str())
            ),
            format!("Tanggal: {day}"),
            "Semua tonggak rencana aksi selesai; layanan berjalan rutin.".to_owned(),
            "Dokumen contoh untuk data demo labinov (isi rekaan).".to_owned(),
        ],
    );
    vec![
        NewEvidence {
            idea_id,
            milestone_id: trial,
            name: format!("foto-uji-coba-{slug}.png"),
            description: Some("Foto kegiatan uji coba layanan".to_owned()),
            bytes: files::photo(seed),
        },
        NewEvidence {
            idea_id,
            milestone_id: None,
            name: format!("laporan-hasil-{slug}.pdf"),
            description: Some("Laporan hasil penerapan inovasi".to_owned()),
            bytes: report,
        },
    ]
}

/// A made-up action plan for an idea: four milestones from the day it entered DESIGN.
fn action_plan_of(idea: &NewIdea, idea_id: i32, design: NaiveDate) -> PlanDraft {
    let owner = idea.innovator.clone().unwrap_or(Innovator {
        name: "Tim Inovasi".to_owned(),
        position: "Sekretariat Laboratorium Inovasi".to_owned(),
    });
    let steps = [
        ("Menyusun SOP dan rancangan layanan", 30),
        ("Sosialisasi kepada pemangku kepentingan", 75),
        ("Uji coba layanan", 120),
        ("Evaluasi dan pelaporan hasil", 180),
    ];
    PlanDraft {
        idea_id,
        version: None,
        goal: format!("Menerapkan \"{}\" sebagai layanan rutin", idea.title),
        milestones: steps
            .iter()
            .map(|(title, days)| MilestoneDraft {
                id: None,
                title: (*title).to_owned(),
                owner_name: owner.name.clone(),
                owner_position: owner.position.clone(),
                due_on: design + Days::new(*days),
                status: MilestoneStatus::Planned,
                done_on: None,
                note: None,
            })
            .collect(),
    }
}

/// The plan again, with the milestones due by `day` (all, with `all`) done.
fn milestones_done(current: &ActionPlan, day: NaiveDate, all: bool) -> PlanDraft {
    PlanDraft {
        idea_id: current.plan.idea_id,
        version: Some(current.plan.version),
        goal: current.plan.goal.clone(),
        milestones: current
            .milestones
            .iter()
            .map(|m| {
                let done = m.status == MilestoneStatus::Done || all || m.due_on <= day;
                MilestoneDraft {
                    id: Some(m.id),
                    title: m.title.clone(),
                    owner_name: m.owner_name.clone(),
                    owner_position: m.owner_position.clone(),
                    due_on: m.due_on,
                    status: if done {
                        MilestoneStatus::Done
                    } else {
                        m.status
                    },
                    done_on: done.then(|| m.done_on.unwrap_or(m.due_on.min(day))),
                    note: None,
                }
            })
            .collect(),
    }
}

/// "Kecamatan Martapura" → "Martapura", "Dinas Kesehatan" → "Dinas Kesehatan".
fn short_name(unit_name: &str) -> &str {
    ["Kecamatan ", "Kelurahan ", "Puskesmas "]
        .iter()
        .find_map(|prefix| unit_name.strip_prefix(prefix))
        .unwrap_or(unit_name)
}
