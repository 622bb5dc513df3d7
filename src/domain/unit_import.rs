//! CSV import of a regency's units (name, kind, parent, head title), so an empty deployment is
//! not set up one mutation per office: all or nothing, every bad line reported with its number
//! and reason, as the idea import does. A unit already in the regency (the same name, case
//! aside) is left out, so importing a file again adds nothing.

use std::collections::{HashMap, HashSet};

use entity::{UnitKind, unit};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{
    Domain,
    unit::NewUnit,
    write::{Written, is_unprintable},
};
use crate::access::Caller;
use crate::error::{DomainError, DomainResult, LineError};

/// Most rows one unit import may hold.
pub const MAX_UNIT_ROWS: usize = 2_000;

/// What a unit import wrote, and what it left out.
#[derive(Debug, Clone)]
pub struct UnitImport {
    /// The new units, in file order.
    pub units: Vec<unit::Model>,
    /// Rows left out because a unit of that name is already in the regency.
    pub skipped: usize,
}

/// One good line of the file.
#[derive(Debug, Clone)]
struct UnitRow {
    line: u64,
    name: String,
    kind: UnitKind,
    parent: Option<String>,
    head_title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Column {
    Name,
    Kind,
    Parent,
    HeadTitle,
}

fn key(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn column_of(header: &str) -> Option<Column> {
    match key(header).replace(['-', ' '], "_").as_str() {
        "name" | "nama" | "unit" | "nama_unit" | "perangkat_daerah" => Some(Column::Name),
        "kind" | "jenis" | "type" => Some(Column::Kind),
        "parent" | "induk" | "parent_unit" | "unit_induk" => Some(Column::Parent),
        "head_title" | "jabatan" | "jabatan_kepala" | "head" => Some(Column::HeadTitle),
        _ => None,
    }
}

/// A kind as spreadsheets write it: the enum name in any case, or its Indonesian word.
fn parse_kind(text: &str) -> Option<UnitKind> {
    let normal = key(text).replace(['-', ' '], "_").to_uppercase();
    let normal = match normal.as_str() {
        "SEKRETARIAT" | "SETDA" => "SECRETARIAT",
        "INSPEKTORAT" => "INSPECTORATE",
        "RUMAH_SAKIT" | "RSU" => "RSUD",
        "KOMUNITAS" | "MASYARAKAT" => "COMMUNITY",
        other => other,
    };
    UnitKind::parse(normal)
}

/// Parses and checks every line; all bad lines are reported together.
fn parse(csv_text: &str) -> DomainResult<Vec<UnitRow>> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(csv_text.as_bytes());
    let columns = header_columns(&mut reader)?;
    let kinds = UnitKind::all()
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let (mut rows, mut errors) = (Vec::new(), Vec::new());
    for (index, record) in reader.records().enumerate() {
        let line = index as u64 + 2;
        if index >= MAX_UNIT_ROWS {
            return Err(DomainError::bad_input(format!(
                "The file holds more than {MAX_UNIT_ROWS} units; split it."
            )));
        }
        let Ok(record) = record else {
            errors.push(LineError {
                line,
                message: "The line is not valid CSV.".to_owned(),
            });
            continue;
        };
        match read_row(line, &record, &columns, &kinds) {
            Ok(row) => rows.push(row),
            Err(error) => errors.push(error),
        }
    }
    if !errors.is_empty() {
        return Err(invalid(errors));
    }
    if rows.is_empty() {
        return Err(DomainError::bad_input(
            "The file holds a header but no units.",
        ));
    }
    Ok(rows)
}

/// The column of each header cell (None for a column the import does not read). A file
/// without a name or kind column is refused.
fn header_columns(reader: &mut csv::Reader<&[u8]>) -> DomainResult<Vec<Option<Column>>> {
    let headers = reader
        .headers()
        .map_err(|_| DomainError::bad_input("The file does not start with a header line."))?
        .clone();
    let columns: Vec<Option<Column>> = headers.iter().map(column_of).collect();
    for (needed, name) in [(Column::Name, "name"), (Column::Kind, "kind")] {
        if !columns.contains(&Some(needed)) {
            return Err(DomainError::bad_input(format!(
                "The header has no \"{name}\" column; the columns are name, kind, parent (optional) and head_title (optional)."
            )));
        }
    }
    Ok(columns)
}

/// One data line as a unit to import, or its error naming everything wrong with it. `kinds`
/// lists the kinds of unit, for the error of a kind not understood.
fn read_row(
    line: u64,
    record: &csv::StringRecord,
    columns: &[Option<Column>],
    kinds: &str,
) -> Result<UnitRow, LineError> {
    let field = |wanted: Column| {
        columns
            .iter()
            .position(|c| *c == Some(wanted))
            .and_then(|i| record.get(i))
            .unwrap_or_default()
    };
    let mut problems = Vec::new();
    let name = field(Column::Name);
    if name.is_empty() {
        problems.push("the name is empty".to_owned());
    } else if name.chars().count() > 200 {
        problems.push("the name is longer than 200 characters".to_owned());
    }
    if [name, field(Column::Parent), field(Column::HeadTitle)]
        .iter()
        .any(|t| t.chars().any(is_unprintable))
    {
        problems.push("a cell holds an invisible control character".to_owned());
    }
    let kind = parse_kind(field(Column::Kind));
    if kind.is_none() {
        problems.push(format!(
            "\"{}\" is not a kind of unit (one of {kinds})",
            field(Column::Kind)
        ));
    }
    match (kind, problems.is_empty()) {
        (Some(kind), true) => Ok(UnitRow {
            line,
            name: name.to_owned(),
            kind,
            parent: Some(field(Column::Parent).to_owned()).filter(|p| !p.is_empty()),
            head_title: Some(field(Column::HeadTitle).to_owned()).filter(|t| !t.is_empty()),
        }),
        _ => Err(LineError {
            line,
            message: format!("{}.", capitalised(&problems.join("; "))),
        }),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
        .unwrap_or_default()
}

fn invalid(errors: Vec<LineError>) -> DomainError {
    let bad = errors.len();
    DomainError::InvalidLines(
        format!(
            "{bad} line(s) of the file are not valid; nothing was imported. See extensions.lines."
        ),
        errors,
    )
}

impl Domain {
    /// Imports a regency's units from CSV text: every line good or nothing written; units
    /// already in the regency (by name) are left out. A parent is named by its unit's name: one
    /// in the regency already, or one earlier in the file.
    pub async fn import_units(
        &self,
        caller: &Caller,
        regency_id: i32,
        csv_text: &str,
    ) -> DomainResult<Written<UnitImport>> {
        caller.check_may_write()?;
        let rows = parse(csv_text)?;
        self.write(caller, async |work| {
            let regency = self.regency_in(&work.txn, regency_id).await?;
            work.caller.check_write(Some(regency.id), "regency")?;
            let mut known: HashMap<String, i32> = unit::Entity::find()
                .filter(unit::Column::RegencyId.eq(regency.id))
                .all(&work.txn)
                .await?
                .into_iter()
                .map(|u| (key(&u.name), u.id))
                .collect();
            // Check every line before writing any, so the errors come all at once.
            let (mut errors, mut coming, mut skipped) = (Vec::new(), HashSet::new(), 0);
            let mut to_create = Vec::new();
            for row in &rows {
                let name = key(&row.name);
                if known.contains_key(&name) {
                    skipped += 1;
                    continue;
                }
                if !coming.insert(name) {
                    errors.push(LineError {
                        line: row.line,
                        message: format!("\"{}\" is named on an earlier line too.", row.name),
                    });
                    continue;
                }
                if let Some(parent) = &row.parent
                    && !known.contains_key(&key(parent))
                    && !coming.contains(&key(parent))
                {
                    errors.push(LineError {
                        line: row.line,
                        message: format!(
                            "No unit named \"{parent}\" is in {} or on an earlier line; name the parent as it is written there.",
                            regency.name
                        ),
                    });
                    continue;
                }
                to_create.push(row);
            }
            if !errors.is_empty() {
                return Err(invalid(errors));
            }
            if to_create.is_empty() {
                work.without_event("every unit of the file is there already: nothing changes");
            }
            let mut units = Vec::with_capacity(to_create.len());
            for row in to_create {
                let parent_id = row.parent.as_ref().and_then(|p| known.get(&key(p)).copied());
                let made = self
                    .create_unit_in(
                        work,
                        NewUnit {
                            regency_id: regency.id,
                            parent_id,
                            kind: row.kind,
                            name: row.name.clone(),
                            head_title: row.head_title.clone(),
                        },
                    )
                    .await?;
                known.insert(key(&made.name), made.id);
                units.push(made);
            }
            Ok(UnitImport { units, skipped })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_headers_are_read_in_english_or_indonesian() {
        let rows = parse("Nama,Jenis,Induk\nDinas Kesehatan,dinas,\nPuskesmas Martapura,Puskesmas,Dinas Kesehatan\nSetda,Sekretariat,\n")
            .expect("a good file");
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].kind, UnitKind::Puskesmas);
        assert_eq!(rows[1].parent.as_deref(), Some("Dinas Kesehatan"));
        assert_eq!(rows[2].kind, UnitKind::Secretariat);
    }

    #[test]
    fn every_bad_line_is_reported_with_its_number() {
        let Err(DomainError::InvalidLines(_, lines)) =
            parse("name,kind\nBaik,DINAS\n,DINAS\nKantor,KANTOR\n")
        else {
            panic!("bad lines are refused");
        };
        let numbers: Vec<u64> = lines.iter().map(|l| l.line).collect();
        assert_eq!(numbers, [3, 4]);
        assert!(lines[1].message.contains("KANTOR"));
    }
}
