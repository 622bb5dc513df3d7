//! Models read from a row by position. A page of ideas joins several tables into one row;
//! sea-orm's derived readers look every column up by name (and, for a joined table's prefixed
//! columns, format the name first), which a profile of the dashboard page put at about a
//! quarter of the server's time. Reading by position skips both.

use std::collections::{HashMap, hash_map::Entry};

use entity::{cohort, idea, mentor, mentor_assignment, regency, unit};
use sea_orm::{DbErr, EntityTrait, QueryResult, QuerySelect, Select};

/// A model read from consecutive columns of a row, in its entity's column order.
pub trait AtPosition: Sized {
    /// The entity whose columns these are.
    type Entity: EntityTrait<Model = Self>;

    /// The column names in the order [`Self::at`] reads them.
    const COLUMNS: &'static [&'static str];

    /// The model whose first column is at position `at`.
    fn at(row: &QueryResult, at: usize) -> Result<Self, DbErr>;
}

macro_rules! at_position {
    ($($entity:ident { $($field:ident),* $(,)? })*) => {$(
        impl AtPosition for $entity::Model {
            type Entity = $entity::Entity;

            const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn at(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                let mut next = at;
                $(
                    let $field = row.try_get_by_index(next)?;
                    next += 1;
                )*
                let _ = next;
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

/// Reads the model whose columns start at `at` into `models`, unless its id (its first
/// column) is there already: the rows of a joined page repeat the same few units, cohorts,
/// regencies and mentors.
pub fn read_once<M: AtPosition, S: std::hash::BuildHasher>(
    models: &mut HashMap<i32, M, S>,
    row: &QueryResult,
    at: usize,
) -> Result<(), DbErr> {
    if let Entry::Vacant(entry) = models.entry(row.try_get_by_index(at)?) {
        entry.insert(M::at(row, at)?);
    }
    Ok(())
}

/// Appends every column of `M`'s entity to `select`, in [`AtPosition`] order, each named
/// `{prefix}{column}` (for whoever reads the statement in a log).
pub fn select_columns<E: EntityTrait, M: AtPosition>(
    mut select: Select<E>,
    prefix: &str,
) -> Select<E> {
    use sea_orm::{IdenStatic, Iterable};
    for column in <M::Entity as EntityTrait>::Column::iter() {
        select = select.column_as(column, format!("{prefix}{}", column.as_str()));
    }
    select
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
