//! CSV import of the idea spreadsheets regencies already keep: all or nothing, every bad line
//! reported with its number and reason, thousands of rows in one transaction.

use std::collections::HashMap;

use chrono::{NaiveDate, TimeZone, Utc};
use entity::{Initiator, InnovationForm, InnovationType, Maturity, cohort, idea, regency, unit};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::access::Caller;
use crate::domain::{
    Domain,
    idea::moves::{Innovator, NewIdea, ReadyIdea, check_new_idea},
    write::{Written, lab_floor},
};
use crate::error::{DomainError, DomainResult, LineError};

/// Most rows one import may hold.
pub const MAX_ROWS: usize = 10_000;
/// Most bad lines one answer lists (all are counted).
pub const MAX_REPORTED_LINES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Title,
    Unit,
    Problem,
    Type,
    Form,
    AffairsArea,
    Initiator,
    Submitted,
    Description,
    Maturity,
    Innovator,
    InnovatorPosition,
}

const REQUIRED: [(Column, &str); 7] = [
    (Column::Title, "title"),
    (Column::Unit, "unit"),
    (Column::Problem, "problem"),
    (Column::Type, "type"),
    (Column::Form, "form"),
    (Column::AffairsArea, "affairs_area"),
    (Column::Initiator, "initiator"),
];

fn normalise(text: &str) -> String {
    text.trim()
        .to_uppercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect::<String>()
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

/// English and Indonesian headers a regency's spreadsheet may use.
fn column_of(header: &str) -> Option<Column> {
    Some(match normalise(header).as_str() {
        "TITLE" | "JUDUL" | "NAMA_INOVASI" | "JUDUL_INOVASI" => Column::Title,
        "UNIT" | "PERANGKAT_DAERAH" | "OPD" | "UNIT_KERJA" | "SKPD" => Column::Unit,
        "PROBLEM" | "MASALAH" | "PERMASALAHAN" => Column::Problem,
        "TYPE" | "JENIS" | "JENIS_INOVASI" => Column::Type,
        "FORM" | "BENTUK" | "BENTUK_INOVASI" => Column::Form,
        "AFFAIRS_AREA" | "URUSAN" | "URUSAN_PEMERINTAHAN" => Column::AffairsArea,
        "INITIATOR" | "INISIATOR" | "INISIATOR_INOVASI" => Column::Initiator,
        "SUBMITTED" | "SUBMITTED_ON" | "SUBMITTED_AT" | "SUBMITTED_DATE" | "TANGGAL"
        | "TANGGAL_USULAN" => Column::Submitted,
        "DESCRIPTION" | "DESKRIPSI" | "URAIAN" => Column::Description,
        "MATURITY" | "KEMATANGAN" | "TAHAPAN_INOVASI" => Column::Maturity,
        "INNOVATOR" | "INOVATOR" | "NAMA_INOVATOR" => Column::Innovator,
        "INNOVATOR_POSITION" | "JABATAN_INOVATOR" | "JABATAN" => Column::InnovatorPosition,
        _ => return None,
    })
}

fn parse_type(v: &str) -> Option<InnovationType> {
    match normalise(v).as_str() {
        "DIGITAL" => Some(InnovationType::Digital),
        "NON_DIGITAL" | "NONDIGITAL" => Some(InnovationType::NonDigital),
        _ => None,
    }
}

fn parse_form(v: &str) -> Option<InnovationForm> {
    match normalise(v).as_str() {
        "GOVERNANCE"
        | "TATA_KELOLA"
        | "TATA_KELOLA_PEMERINTAHAN"
        | "TATA_KELOLA_PEMERINTAH_DAERAH" => Some(InnovationForm::Governance),
        "PUBLIC_SERVICE" | "PELAYANAN_PUBLIK" => Some(InnovationForm::PublicService),
        "OTHER" | "LAINNYA" | "BENTUK_LAINNYA" | "INOVASI_DAERAH_LAINNYA" => {
            Some(InnovationForm::Other)
        }
        _ => None,
    }
}

fn parse_initiator(v: &str) -> Option<Initiator> {
    match normalise(v).as_str() {
        "REGIONAL_HEAD" | "KEPALA_DAERAH" => Some(Initiator::RegionalHead),
        "DPRD" | "ANGGOTA_DPRD" => Some(Initiator::Dprd),
        "WORK_UNIT" | "OPD" | "PERANGKAT_DAERAH" => Some(Initiator::WorkUnit),
        "CIVIL_SERVANT" | "ASN" => Some(Initiator::CivilServant),
        "COMMUNITY" | "MASYARAKAT" => Some(Initiator::Community),
        _ => None,
    }
}

fn parse_maturity(v: &str) -> Option<Maturity> {
    match normalise(v).as_str() {
        "INITIATIVE" | "INISIATIF" => Some(Maturity::Initiative),
        "TRIAL" | "UJI_COBA" | "UJICOBA" => Some(Maturity::Trial),
        "APPLIED" | "PENERAPAN" => Some(Maturity::Applied),
        _ => None,
    }
}

/// A cell as the export wrote it: a leading apostrophe that kept a spreadsheet from reading
/// the cell as a formula is taken off again.
pub fn unguarded(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) || is_guarded(rest) => rest,
        _ => cell,
    }
}

/// Whether `text` starts with the export's guard before a formula character.
pub fn is_guarded(text: &str) -> bool {
    text.strip_prefix('\'')
        .is_some_and(|rest| rest.starts_with(FORMULA_STARTS))
}

/// First characters that make a spreadsheet read a cell as a formula.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A submission time: a full RFC 3339 time (as the export writes it) or a day.
fn parse_submitted(v: &str) -> Option<chrono::DateTime<Utc>> {
    chrono::DateTime::parse_from_rfc3339(v.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc))
        .or_else(|| {
            parse_day(v)
                .map(|day| Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()))
        })
}

fn parse_day(v: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(v.trim(), f).ok())
}

/// What an import does with a row whose idea (the same title and unit) is already in the cohort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Duplicates {
    /// Leave it out: importing a file again adds nothing.
    #[default]
    Skip,
    /// Add it anyway.
    Add,
}

/// What an import wrote, and what it left out.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// The new ideas, in file order.
    pub ideas: Vec<idea::Model>,
    /// Rows left out because their idea is already in the cohort.
    pub skipped: usize,
}

/// An idea as an import recognises it again: its title (case and spacing aside) and its unit.
fn fingerprint(title: &str, unit_id: i32) -> (String, i32) {
    (
        title
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase(),
        unit_id,
    )
}

impl Domain {
    /// Imports ideas from CSV text into a cohort. Nothing is written unless every line is good;
    /// rows whose idea is already in the cohort are left out unless `duplicates` says add them.
    pub async fn import_ideas(
        &self,
        caller: &Caller,
        cohort_id: i32,
        csv_text: &str,
        duplicates: Duplicates,
    ) -> DomainResult<Written<ImportOutcome>> {
        caller.check_may_write()?;
        let cohort = cohort::Entity::find_by_id(cohort_id)
            .one(self.db())
            .await?
            .ok_or_else(|| DomainError::missing("cohort"))?;
        caller.check_write(Some(cohort.regency_id), "cohort")?;
        let units: HashMap<String, i32> = unit::Entity::find()
            .filter(unit::Column::RegencyId.eq(cohort.regency_id))
            .all(self.db())
            .await?
            .into_iter()
            .map(|u| (u.name.trim().to_lowercase(), u.id))
            .collect();
        let regency = regency::Entity::find_by_id(cohort.regency_id)
            .one(self.db())
            .await?
            .ok_or_else(|| DomainError::missing("cohort"))?;
        let rows = parse(
            csv_text,
            cohort.id,
            &units,
            lab_floor(&regency, cohort.year),
        )?;

        self.write(caller, async |work| {
            // The cohort may have gone between the read above and the write lock.
            let cohort = cohort::Entity::find_by_id(cohort.id)
                .one(&work.txn)
                .await?
                .ok_or_else(|| DomainError::missing("cohort"))?;
            let mut rows = rows;
            let before = rows.len();
            if duplicates == Duplicates::Skip {
                let present: std::collections::HashSet<(String, i32)> = idea::Entity::find()
                    .select_only()
                    .column(idea::Column::Title)
                    .column(idea::Column::UnitId)
                    .filter(idea::Column::CohortId.eq(cohort.id))
                    .into_tuple::<(String, i32)>()
                    .all(&work.txn)
                    .await?
                    .into_iter()
                    .map(|(title, unit)| fingerprint(&title, unit))
                    .collect();
                rows.retain(|row| {
                    !present.contains(&fingerprint(&row.checked.title, row.new.unit_id))
                });
            }
            let skipped = before - rows.len();
            let ideas = if rows.is_empty() {
                work.without_event("every idea of the file is there already: nothing changes");
                Vec::new()
            } else {
                self.insert_ideas(work, &cohort, &rows, true).await?
            };
            Ok(ImportOutcome { ideas, skipped })
        })
        .await
    }
}

/// Parses and checks every line; all bad lines are reported together.
fn parse(
    csv_text: &str,
    cohort_id: i32,
    units: &HashMap<String, i32>,
    floor: NaiveDate,
) -> DomainResult<Vec<ReadyIdea>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(csv_text.trim_start_matches('\u{feff}').as_bytes());
    let columns = header_columns(&mut reader)?;
    let mut ready = Vec::new();
    let mut errors = Vec::new();
    let mut rows = 0usize;
    for record in reader.records() {
        // Every line counts, good or bad, so a file of bad lines is bounded too.
        rows += 1;
        if rows > MAX_ROWS {
            return Err(DomainError::bad_input(format!(
                "The file has more than {MAX_ROWS} rows; split it into smaller imports."
            )));
        }
        let record = match record {
            Ok(record) => record,
            Err(err) => {
                let line = err.position().map(csv::Position::line).unwrap_or_default();
                errors.push(LineError {
                    line,
                    message:
                        "The line is not valid CSV (wrong number of fields or a broken quote)."
                            .to_owned(),
                });
                continue;
            }
        };
        let line = record
            .position()
            .map(csv::Position::line)
            .unwrap_or_default();
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let cells = Cells {
            record: &record,
            columns: &columns,
        };
        match read_line(&cells, cohort_id, units, floor) {
            Ok(idea) => ready.push(idea),
            Err(message) => errors.push(LineError { line, message }),
        }
    }
    if !errors.is_empty() {
        return Err(invalid_lines(errors));
    }
    if ready.is_empty() {
        return Err(DomainError::bad_input(
            "The file holds a header but no ideas.",
        ));
    }
    Ok(ready)
}

/// Where each known column is in the file, read from its header line. A file that lacks a
/// required column is refused as a whole, naming the missing ones.
fn header_columns(reader: &mut csv::Reader<&[u8]>) -> DomainResult<HashMap<Column, usize>> {
    let headers = reader
        .headers()
        .map_err(|_| DomainError::bad_input("The file is not CSV text with a header line."))?
        .clone();
    let columns: HashMap<Column, usize> = headers
        .iter()
        .enumerate()
        .filter_map(|(i, h)| column_of(h).map(|c| (c, i)))
        .collect();
    let missing: Vec<&str> = REQUIRED
        .iter()
        .filter(|(c, _)| !columns.contains_key(c))
        .map(|(_, name)| *name)
        .collect();
    if !missing.is_empty() {
        return Err(DomainError::InvalidLines(
            format!(
                "The header line lacks the column(s) {}; nothing was imported.",
                missing.join(", ")
            ),
            vec![LineError {
                line: 1,
                message: format!(
                    "Missing column(s): {}. Required: title, unit, problem, type, form, affairs_area, initiator; optional: submitted, description, maturity, innovator, innovator_position.",
                    missing.join(", ")
                ),
            }],
        ));
    }
    Ok(columns)
}

/// The cells of one data line, by column.
struct Cells<'a> {
    record: &'a csv::StringRecord,
    columns: &'a HashMap<Column, usize>,
}

impl<'a> Cells<'a> {
    /// The cell of `column`, without the export's formula guard; empty when the file has no
    /// such column.
    fn get(&self, column: Column) -> &'a str {
        unguarded(
            self.columns
                .get(&column)
                .and_then(|i| self.record.get(*i))
                .unwrap_or_default(),
        )
    }
}

/// One data line as an idea ready to insert, or the sentence naming everything wrong with it.
fn read_line(
    cells: &Cells,
    cohort_id: i32,
    units: &HashMap<String, i32>,
    floor: NaiveDate,
) -> Result<ReadyIdea, String> {
    let mut problems = Vec::new();
    let new = new_idea_of(cells, cohort_id, units, &mut problems);
    match check_new_idea(&new, floor, chrono::Utc::now()) {
        Ok(checked) if problems.is_empty() => return Ok(ReadyIdea { new, checked }),
        Ok(_) => {}
        Err(err) => problems.insert(0, lowercase_first(err.message())),
    }
    Err(format!("{}.", problems.join("; ").trim_end_matches('.')))
}

/// The idea a line describes. Cells that do not read (an unknown unit, a type, form, initiator,
/// maturity or date not understood) are noted in `problems` and stand in with a default, so
/// the line's other fields are still checked.
fn new_idea_of(
    cells: &Cells,
    cohort_id: i32,
    units: &HashMap<String, i32>,
    problems: &mut Vec<String>,
) -> NewIdea {
    let unit_name = cells.get(Column::Unit);
    let unit_id = units.get(&unit_name.trim().to_lowercase()).copied();
    if unit_id.is_none() {
        problems.push(format!("no unit named \"{unit_name}\" in this regency"));
    }
    let innovation_type = coded(
        problems,
        "type",
        "DIGITAL or NON_DIGITAL",
        cells.get(Column::Type),
        parse_type,
    );
    let form = coded(
        problems,
        "form",
        "GOVERNANCE, PUBLIC_SERVICE or OTHER",
        cells.get(Column::Form),
        parse_form,
    );
    let initiator = coded(
        problems,
        "initiator",
        "REGIONAL_HEAD, DPRD, WORK_UNIT, CIVIL_SERVANT or COMMUNITY",
        cells.get(Column::Initiator),
        parse_initiator,
    );
    let maturity = optional_coded(
        problems,
        "maturity",
        "INITIATIVE, TRIAL or APPLIED",
        cells.get(Column::Maturity),
        parse_maturity,
    );
    let submitted_at = optional_coded(
        problems,
        "submitted date",
        "a date like 2017-04-03 or 03/04/2017",
        cells.get(Column::Submitted),
        parse_submitted,
    );
    NewIdea {
        cohort_id,
        unit_id: unit_id.unwrap_or_default(),
        title: cells.get(Column::Title).to_owned(),
        problem: cells.get(Column::Problem).to_owned(),
        description: Some(cells.get(Column::Description).to_owned()),
        innovation_type: innovation_type.unwrap_or(InnovationType::NonDigital),
        form: form.unwrap_or(InnovationForm::Other),
        affairs_area: cells.get(Column::AffairsArea).to_owned(),
        initiator: initiator.unwrap_or(Initiator::WorkUnit),
        maturity,
        submitted_at,
        innovator: match (
            cells.get(Column::Innovator),
            cells.get(Column::InnovatorPosition),
        ) {
            ("", "") => None,
            (name, position) => Some(Innovator {
                name: name.to_owned(),
                position: position.to_owned(),
            }),
        },
    }
}

/// A cell read by `parse`. A cell that does not read is noted in `problems` as
/// `label "text" is not expected`.
fn coded<T>(
    problems: &mut Vec<String>,
    label: &str,
    expected: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    let parsed = parse(text);
    if parsed.is_none() {
        problems.push(format!("{label} \"{text}\" is not {expected}"));
    }
    parsed
}

/// Like [`coded`], for a cell that may be left empty.
fn optional_coded<T>(
    problems: &mut Vec<String>,
    label: &str,
    expected: &str,
    text: &str,
    parse: fn(&str) -> Option<T>,
) -> Option<T> {
    match text {
        "" => None,
        text => coded(problems, label, expected, text, parse),
    }
}

/// The error of a file with bad lines: how many there are, and the first
/// [`MAX_REPORTED_LINES`] of them.
fn invalid_lines(mut errors: Vec<LineError>) -> DomainError {
    let bad = errors.len();
    errors.truncate(MAX_REPORTED_LINES);
    let shown = if bad > MAX_REPORTED_LINES {
        format!(" The first {MAX_REPORTED_LINES} are in extensions.lines.")
    } else {
        " See extensions.lines.".to_owned()
    };
    DomainError::InvalidLines(
        format!("{bad} line(s) of the file are not valid; nothing was imported.{shown}"),
        errors,
    )
}

fn lowercase_first(sentence: &str) -> String {
    let mut chars = sentence.chars();
    match chars.next() {
        Some(first) => first
            .to_lowercase()
            .chain(chars)
            .collect::<String>()
            .trim_end_matches('.')
            .to_owned(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::write::earliest_lab_day;

    fn units() -> HashMap<String, i32> {
        [
            ("dinas kesehatan".to_owned(), 1),
            ("kecamatan martapura".to_owned(), 2),
        ]
        .into()
    }

    #[test]
    fn indonesian_headers_and_values_are_understood() {
        let csv = "Judul,Perangkat Daerah,Permasalahan,Jenis,Bentuk,Urusan,Inisiator,Tanggal\n\
                   Posyandu Keliling,Dinas Kesehatan,Jarak jauh,Non Digital,Pelayanan Publik,Kesehatan,ASN,03/04/2017\n";
        let rows = parse(csv, 1, &units(), earliest_lab_day()).map_err(|e| e.message().to_owned());
        let rows = rows.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].new.innovation_type, InnovationType::NonDigital);
        assert_eq!(rows[0].new.form, InnovationForm::PublicService);
        assert_eq!(rows[0].new.initiator, Initiator::CivilServant);
        assert_eq!(
            rows[0].checked.submitted_at.date_naive(),
            NaiveDate::from_ymd_opt(2017, 4, 3).unwrap_or_default()
        );
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let csv = "title,unit,problem,type,form,affairs_area,initiator,submitted\n\
                   Good,Dinas Kesehatan,p,DIGITAL,GOVERNANCE,a,ASN,2017-04-03\n\
                   ,Dinas Kesehatan,p,DIGITAL,GOVERNANCE,a,ASN,2017-04-03\n\
                   Bad unit,Dinas Rahasia,p,DIGITAL,GOVERNANCE,a,ASN,2017-04-03\n\
                   Bad type,Dinas Kesehatan,p,ANALOG,GOVERNANCE,a,ASN,someday\n";
        match parse(csv, 1, &units(), earliest_lab_day()) {
            Err(DomainError::InvalidLines(_, lines)) => {
                let numbers: Vec<u64> = lines.iter().map(|l| l.line).collect();
                assert_eq!(numbers, [3, 4, 5]);
                assert!(
                    lines[0].message.contains("title cannot be empty"),
                    "{:?}",
                    lines[0]
                );
                assert!(lines[1].message.contains("Dinas Rahasia"));
                assert!(
                    lines[2].message.contains("ANALOG") && lines[2].message.contains("someday")
                );
            }
            other => panic!("expected line errors, got {:?}", other.map(|r| r.len())),
        }
    }

    #[test]
    fn a_missing_column_is_named() {
        let csv = "title,unit\nX,Dinas Kesehatan\n";
        match parse(csv, 1, &units(), earliest_lab_day()) {
            Err(DomainError::InvalidLines(message, _)) => assert!(message.contains("problem")),
            other => panic!("expected a header error, got {:?}", other.map(|r| r.len())),
        }
    }
}
