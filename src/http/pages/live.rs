//! The event screen: a regency's 5D funnel as large bars and a ticker of pipeline events in
//! words, updating over SSE, for a projector at a lab's event. One self-contained page: its
//! style and script are inline, so it needs no build step and no outside network.

use entity::{Stage, regency};
use serde_json::json;

/// What the screen shows beside the ticker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The 5D funnel of the regency (or cohort).
    Funnel,
    /// A cohort's ideas at or past a stage, ranked by their mentors' scores (the Display expo).
    Ranking(Stage),
}

impl View {
    /// `view=ranking` (with `stage`, DELIVER by default) or the funnel.
    pub fn from_param(view: Option<&str>, stage: Option<&str>) -> Self {
        match view.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("ranking") => {
                let stage = stage
                    .map(|s| s.trim().to_uppercase())
                    .and_then(|s| Stage::ALL.into_iter().find(|st| st.as_str() == s))
                    .unwrap_or(Stage::Deliver);
                Self::Ranking(stage)
            }
            _ => Self::Funnel,
        }
    }
}

/// The language of the screen's labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Id,
    En,
}

impl Lang {
    /// `id` or `en`; Indonesian by default, as at a regency's own event.
    pub fn from_param(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("en") => Self::En,
            _ => Self::Id,
        }
    }

    fn code(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::En => "en",
        }
    }

    /// The labels the page's script uses.
    fn labels(self) -> serde_json::Value {
        match self {
            Self::Id => indonesian_labels(),
            Self::En => english_labels(),
        }
    }
}

/// The page's labels in Indonesian.
fn indonesian_labels() -> serde_json::Value {
    json!({
        "lab": "Laboratorium Inovasi",
        "funnel": "Corong 5D",
        "ideas": "ide",
        "conversion": "lanjut",
        "launched": "diluncurkan",
        "latest": "Kabar terbaru",
        "live": "Langsung",
        "reconnecting": "Menyambung ulang…",
        "noEvents": "Belum ada kabar. Setiap perubahan tampil di sini saat terjadi.",
        "needsToken": "Kabar per ide butuh token pembaca: buka halaman ini dengan &token=… (labinov token issue --role VIEWER --regency KODE --ttl 12h).",
        "submitted": "{title} diajukan",
        "advanced": "{title} naik ke {stage}",
        "reverted": "{title} dikembalikan ke {stage}",
        "stalled": "{title} tertunda",
        "resumed": "{title} dilanjutkan",
        "dropped": "{title} dihentikan",
        "updated": "{title} diperbarui",
        "mentorAssigned": "{mentor} mendampingi {title}",
        "mentorUnassigned": "Pendampingan {title} berakhir",
        "commitmentCreated": "Rancangan komitmen disusun",
        "commitmentSigned": "Komitmen ditandatangani",
        "commitmentFulfilled": "Komitmen terpenuhi",
        "commitmentWithdrawn": "Komitmen ditarik",
        "reviewed": "{mentor} menilai {title}: {score}",
        "handedOver": "{title} diteruskan kepada {to}",
        "planWritten": "Rencana aksi {title}: {planned} tonggak",
        "milestoneDone": "{title}: {done} dari {planned} tonggak selesai",
        "milestoneCommented": "{mentor} memberi catatan untuk {title}",
        "evidenceAdded": "Bukti baru untuk {title}: {name}",
        "evidenceRemoved": "Bukti {name} dilepas dari {title}",
        "ranking": "Peringkat inovasi",
        "rankingFrom": "tahap {stage} ke atas",
        "points": "poin",
        "review": "penilaian",
        "milestones": "{done}/{planned} tonggak",
        "reviews": "penilaian",
        "unscored": "belum dinilai",
        "noRanking": "Belum ada inovasi pada tahap ini.",
        "noCohort": "Kabupaten ini belum punya edisi laboratorium.",
        "other": "{kind}",
        "stages": {"DRUM_UP": "Drum-Up", "DIAGNOSE": "Diagnose", "DESIGN": "Design", "DELIVER": "Deliver", "DISPLAY": "Display"}
    })
}

/// The page's labels in English.
fn english_labels() -> serde_json::Value {
    json!({
        "lab": "Innovation Lab",
        "funnel": "5D funnel",
        "ideas": "ideas",
        "conversion": "carried on",
        "launched": "launched",
        "latest": "Latest",
        "live": "Live",
        "reconnecting": "Reconnecting…",
        "noEvents": "Nothing yet. Every change appears here as it happens.",
        "needsToken": "Events per idea need a viewer token: open this page with &token=… (labinov token issue --role VIEWER --regency CODE --ttl 12h).",
        "submitted": "{title} submitted",
        "advanced": "{title} moved to {stage}",
        "reverted": "{title} sent back to {stage}",
        "stalled": "{title} stalled",
        "resumed": "{title} resumed",
        "dropped": "{title} dropped",
        "updated": "{title} updated",
        "mentorAssigned": "{mentor} now coaches {title}",
        "mentorUnassigned": "Coaching of {title} ended",
        "commitmentCreated": "Commitment drafted",
        "commitmentSigned": "Commitment signed",
        "commitmentFulfilled": "Commitment fulfilled",
        "commitmentWithdrawn": "Commitment withdrawn",
        "reviewed": "{mentor} scored {title}: {score}",
        "handedOver": "{title} handed over to {to}",
        "planWritten": "Action plan for {title}: {planned} milestones",
        "milestoneDone": "{title}: {done} of {planned} milestones done",
        "milestoneCommented": "{mentor} commented on {title}",
        "evidenceAdded": "New evidence for {title}: {name}",
        "evidenceRemoved": "Evidence {name} removed from {title}",
        "ranking": "Innovation ranking",
        "rankingFrom": "{stage} and beyond",
        "points": "points",
        "review": "review",
        "milestones": "{done}/{planned} milestones",
        "reviews": "reviews",
        "unscored": "not yet scored",
        "noRanking": "No innovation has reached this stage yet.",
        "noCohort": "This regency has no lab edition yet.",
        "other": "{kind}",
        "stages": {"DRUM_UP": "Drum-Up", "DIAGNOSE": "Diagnose", "DESIGN": "Design", "DELIVER": "Deliver", "DISPLAY": "Display"}
    })
}

/// A plain page with a heading and a sentence, for links that lead nowhere.
fn plain_page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{background:#0b1020;color:#f5f7ff;font:clamp(18px,2vw,40px)/1.5 system-ui,sans-serif;padding:8vh 8vw}}code,b{{color:#ffd166}}</style>\
         </head><body><h1>{title}</h1><p>{body}</p></body></html>",
        lang.code()
    )
}

/// The page shown for a regency code the server does not know.
pub fn unknown_page(lang: Lang, code: &str) -> String {
    let code = escape(code);
    let (title, body) = match lang {
        Lang::Id => (
            "Kabupaten tidak dikenal",
            format!(
                "Tidak ada kabupaten dengan kode <b>{code}</b> di server ini. Buka <code>/live?regency=KODE</code> dengan kode Kemendagri, misalnya <code>/live?regency=63.03</code>."
            ),
        ),
        Lang::En => (
            "Unknown regency",
            format!(
                "This server has no regency with the code <b>{code}</b>. Open <code>/live?regency=CODE</code> with a Kemendagri code, e.g. <code>/live?regency=63.03</code>."
            ),
        ),
    };
    plain_page(lang, title, &body)
}

/// The page shown for a lab edition the regency does not have.
pub fn unknown_cohort_page(lang: Lang, regency: &regency::Model, asked: &str) -> String {
    let (name, asked) = (escape(&regency.name), escape(asked));
    let (title, body) = match lang {
        Lang::Id => (
            "Edisi laboratorium tidak dikenal",
            format!(
                "{name} tidak punya edisi laboratorium <b>{asked}</b>. Beri <code>cohort=</code> tahun sebuah edisi (misalnya <code>cohort=2017</code>) atau ID-nya, atau hapus <code>cohort</code> untuk edisi terbaru."
            ),
        ),
        Lang::En => (
            "Unknown lab edition",
            format!(
                "{name} has no lab edition <b>{asked}</b>. Give <code>cohort=</code> the year of an edition (e.g. <code>cohort=2017</code>) or its ID, or leave <code>cohort</code> out for the latest one."
            ),
        ),
    };
    plain_page(lang, title, &body)
}

/// The event screen of `regency` (its `cohort` year only, when given).
/// Why the token of a link cannot show the regency's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenProblem {
    /// Expired, malformed or signed by another server: the server's sentence.
    Refused(String),
    /// Valid, but for another regency.
    OtherRegency,
}

impl TokenProblem {
    /// What the screen says, with the command that issues a token that works.
    pub fn sentence(&self, lang: Lang, regency: &regency::Model) -> String {
        let command = format!(
            "labinov token issue --role VIEWER --regency {} --ttl 12h",
            regency.code
        );
        match (self, lang) {
            (Self::Refused(reason), Lang::En) => format!(
                "The token in this link no longer works ({reason}) Ask the organiser for a new link: {command}"
            ),
            (Self::Refused(reason), Lang::Id) => format!(
                "Token pada tautan ini tidak berlaku lagi ({reason}) Minta tautan baru kepada penyelenggara: {command}"
            ),
            (Self::OtherRegency, Lang::En) => format!(
                "The token in this link does not read {}; the funnel shows public figures. A token for it: {command}",
                regency.name
            ),
            (Self::OtherRegency, Lang::Id) => format!(
                "Token pada tautan ini tidak dapat membaca {}; corong menampilkan angka publik. Token untuknya: {command}",
                regency.name
            ),
        }
    }
}

pub fn page(
    lang: Lang,
    view: View,
    regency: &regency::Model,
    cohort: Option<(i32, String)>,
    token: Option<&str>,
    notice: Option<&str>,
) -> String {
    let config = json!({
        "notice": notice,
        "code": regency.code,
        "name": regency.name,
        "cohortYear": cohort.as_ref().map(|c| c.0),
        "cohortId": cohort.map(|c| c.1),
        "token": token,
        "lang": lang.code(),
        "labels": lang.labels(),
        "view": match view { View::Funnel => "funnel", View::Ranking(_) => "ranking" },
        "stage": match view { View::Funnel => None, View::Ranking(stage) => Some(stage.as_str()) },
        "documents": { "funnel": FUNNEL, "history": HISTORY, "events": EVENTS, "ranking": RANKING },
    });
    // `</` cannot end the script early: JSON strings never need a raw `<`.
    let config = config.to_string().replace('<', "\\u003c");
    PAGE.replace("__LANG__", lang.code())
        .replace("__TITLE__", &escape(&regency.name))
        .replace("__CONFIG__", &config)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const PAGE: &str = include_str!("live.html");

/// The GraphQL documents the event screen sends; a server that runs only trusted documents
/// always trusts these.
pub const DOCUMENTS: [&str; 4] = [FUNNEL, HISTORY, EVENTS, RANKING];
const FUNNEL: &str = "subscription($f: IdeaFilter) { funnel(filter: $f) { funnel { fewerThan total launched stages { stage reached current } } } }";
const HISTORY: &str = "query($c: [String!]) { pipelineEvents(filter: { regencyCodes: $c }, last: 6) { nodes { kind stage occurredAt payload idea { title } unit { name } } resumeCursor } }";
const RANKING: &str = "subscription($c: ID!, $s: Stage!) { ranking(cohortId: $c, stageAtLeast: $s) { total scored entries(first: 10) { rank score reviewCount milestones { done planned } idea { title stage unit { name } } } } }";
const EVENTS: &str = "subscription($f: PipelineEventFilter, $a: String) { pipelineEvents(filter: $f, after: $a) { kind stage occurredAt payload idea { title } unit { name } } }";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_from_the_link_can_break_out_of_the_page() {
        let page = unknown_page(Lang::En, "<script>alert(1)</script>");
        assert!(!page.contains("<script>alert"));
        assert_eq!(Lang::from_param(Some("EN")), Lang::En);
        assert_eq!(Lang::from_param(Some("xx")), Lang::Id);
    }
}
