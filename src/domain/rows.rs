//! Models read from a row by position. A page of ideas joins several tables into one row;
//! sea-orm's derived readers look every column up by name (and, for a joined table's prefixed
//! columns, format the name first), which a profile of the dashboard page put at about a
//! quarter of the server's time. Reading by position skips both.
//!
//! A reader can also read only some of its columns ([`Columns`]): a page reads the columns its
//! query selects, and the model's other fields hold a blank value ([`Blank`]) that no resolver
//! of that query reads.

use std::collections::{HashMap, hash_map::Entry};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, Stage, UnitKind, cohort, idea,
    mentor, mentor_assignment, regency, unit,
};
use sea_orm::{DbErr, EntityTrait, QueryResult, QuerySelect, Select};

/// Some of a model's columns, by their position in [`AtPosition::COLUMNS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Columns(u64);

impl Columns {
    /// Every column.
    pub const ALL: Columns = Columns(u64::MAX);

    /// No column.
    pub const NONE: Columns = Columns(0);

    /// The columns of `M` named `names`.
    ///
    /// # Panics
    /// When a name is not one of `M`'s columns: a mistake in the caller's code.
    pub fn of<M: AtPosition>(names: &[&str]) -> Columns {
        let mut columns = Columns::NONE;
        for name in names {
            let at = M::COLUMNS
                .iter()
                .position(|column| column == name)
                .unwrap_or_else(|| panic!("{name} is not a column of {}", M::COLUMNS[0]));
            columns.0 |= 1 << at;
        }
        columns
    }

    /// These columns and `other`'s.
    #[must_use]
    pub fn and(self, other: Columns) -> Columns {
        Columns(self.0 | other.0)
    }

    /// Whether the column at `at` is one of these.
    pub fn has(self, at: usize) -> bool {
        self.0 & (1 << at) != 0
    }
}

/// The value a model's field holds when its column was not read. No resolver of the query the
/// model was read for looks at it.
pub trait Blank {
    /// The blank value.
    fn blank() -> Self;
}

macro_rules! blank {
    ($($ty:ty => $value:expr),* $(,)?) => {$(
        impl Blank for $ty {
            fn blank() -> Self {
                $value
            }
        }
    )*};
}

blank! {
    i32 => 0,
    i64 => 0,
    String => String::new(),
    DateTime<Utc> => DateTime::UNIX_EPOCH,
    NaiveDate => NaiveDate::MIN,
    Stage => Stage::DrumUp,
    IdeaStatus => IdeaStatus::Active,
    InnovationType => InnovationType::Digital,
    InnovationForm => InnovationForm::Other,
    Initiator => Initiator::WorkUnit,
    Maturity => Maturity::Initiative,
    UnitKind => UnitKind::Dinas,
}

impl<T> Blank for Option<T> {
    fn blank() -> Self {
        None
    }
}

/// A model read from consecutive columns of a row, in its entity's column order.
pub trait AtPosition: Sized {
    /// The entity whose columns these are.
    type Entity: EntityTrait<Model = Self>;

    /// The column names in the order [`Self::at`] reads them.
    const COLUMNS: &'static [&'static str];

    /// The model whose first column is at position `at`, every column read.
    fn at(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
        Self::at_only(row, at, Columns::ALL)
    }

    /// The model whose first read column is at position `at`, only `columns` read (in their
    /// order, one after the other); the other fields are [`Blank`].
    fn at_only(row: &QueryResult, at: usize, columns: Columns) -> Result<Self, DbErr>;
}

macro_rules! at_position {
    ($($entity:ident { $($field:ident),* $(,)? })*) => {$(
        impl AtPosition for $entity::Model {
            type Entity = $entity::Entity;

            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn at_only(row: &QueryResult, at: usize, columns: Columns) -> Result<Self, DbErr> {
                let mut next = at;
                let mut index = 0;
                $(
                    let $field = if columns.has(index) {
                        next += 1;
                        row.try_get_by_index(next - 1)?
                    } else {
                        Blank::blank()
                    };
                    index += 1;
                )*
                let _ = (next, index);
                Ok(Self { $($field),* })
            }
        }
    )*};
}

at_position! {
    idea {
        id, regency_id, cohort_id, unit_id, title, problem, description, innovation_type, form,
        affairs_area, initiator, stage, status, status_reason, stall_reason, stage_entered_at,
        innovator_name, innovator_position, maturity, submitted_at, launched_on, version,
        created_at, updated_at,
    }
    unit { id, regency_id, parent_id, kind, name, head_title, version, created_at, updated_at }
    cohort { id, regency_id, year, name, stage, rubric, version, created_at, updated_at }
    regency {
        id, code, name, province, organiser, mou_signed_on, event_seq, version, created_at,
        updated_at,
    }
    mentor { id, name, institution, team, expertise, contact, version, created_at, updated_at }
    mentor_assignment { id, mentor_id, idea_id, since, until }
}

/// Reads the model whose read columns start at `at` into `models`, unless its id (its first
/// column, which `columns` must hold) is there already: the rows of a joined page repeat the
/// same few units, cohorts, regencies and mentors.
pub fn read_once<M: AtPosition, S: std::hash::BuildHasher>(
    models: &mut HashMap<i32, M, S>,
    row: &QueryResult,
    at: usize,
    columns: Columns,
) -> Result<(), DbErr> {
    debug_assert!(columns.has(0), "a model read once is known by its id");
    if let Entry::Vacant(entry) = models.entry(row.try_get_by_index(at)?) {
        entry.insert(M::at_only(row, at, columns)?);
    }
    Ok(())
}

/// Appends `columns` of `M`'s entity to `select`, in [`AtPosition`] order, each named
/// `{prefix}{column}` (for whoever reads the statement in a log). Returns how many it added.
pub fn select_columns<E: EntityTrait, M: AtPosition>(
    mut select: Select<E>,
    prefix: &str,
    columns: Columns,
) -> (Select<E>, usize) {
    use sea_orm::{IdenStatic, Iterable};
    let mut added = 0;
    for (at, column) in <M::Entity as EntityTrait>::Column::iter().enumerate() {
        if columns.has(at) {
            select = select.column_as(column, format!("{prefix}{}", column.as_str()));
            added += 1;
        }
    }
    (select, added)
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    fn columns<M: AtPosition>() -> Vec<&'static str> {
        <M::Entity as EntityTrait>::Column::iter()
            .map(|c| c.as_str())
            .collect()
    }

    /// A reader that named its fields in another order than the entity's columns would put
    /// one column's value into another field (two text columns swapped would still decode).
    #[test]
    fn each_reader_reads_its_entitys_columns_in_their_order() {
        assert_eq!(idea::Model::COLUMNS, columns::<idea::Model>());
        assert_eq!(unit::Model::COLUMNS, columns::<unit::Model>());
        assert_eq!(cohort::Model::COLUMNS, columns::<cohort::Model>());
        assert_eq!(regency::Model::COLUMNS, columns::<regency::Model>());
        assert_eq!(mentor::Model::COLUMNS, columns::<mentor::Model>());
        assert_eq!(
            mentor_assignment::Model::COLUMNS,
            columns::<mentor_assignment::Model>()
        );
    }
}
