//! Models read from a row by position. A page of ideas joins several tables into one row;
//! sea-orm's derived readers look every column up by name (and, for a joined table's prefixed
//! columns, format the name first), which a profile of the dashboard page put at about a
//! quarter of the server's time. Reading by position skips both.
//!
//! A reader can also read only some of its columns ([`Columns`]): a page reads the columns its
//! query selects. What it reads is a [`Seen`] model, not the entity's model: its fields are
//! reached through one accessor per column, which answers [`Unread`] for a column the read left
//! out, so no resolver can take a column it did not ask for as a value.

use std::collections::{HashMap, hash_map::Entry};

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, Stage, StallReason, UnitKind,
    cohort, idea, mentor, mentor_assignment, regency, unit,
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

    /// The columns `of` of `M`'s entity.
    pub fn of<M: AtPosition>(of: &[<M::Entity as EntityTrait>::Column]) -> Columns {
        use sea_orm::IdenStatic;
        let mut columns = Columns::NONE;
        for column in of {
            // Every column of the entity is in COLUMNS (a test compares them).
            if let Some(at) = M::COLUMNS.iter().position(|c| *c == column.as_str()) {
                columns.0 |= 1 << at;
            }
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

/// A model read with some of its columns. Its accessors (one per column, generated beside the
/// readers below) answer [`Unread`] for a column the read left out; [`Seen::whole`] gives the
/// model itself only when every column was read.
#[derive(Clone, Debug)]
pub struct Seen<M> {
    /// The model; a field whose column was not read holds a filler no accessor hands out.
    model: M,
    columns: Columns,
}

impl<M: AtPosition> Seen<M> {
    /// A model read whole.
    pub fn all(model: M) -> Self {
        Seen {
            model,
            columns: Columns::ALL,
        }
    }

    /// The model, when every column was read.
    pub fn whole(&self) -> Result<&M, Unread> {
        self.reading(Columns::ALL)
    }

    /// The model itself, when every column was read.
    pub fn into_whole(self) -> Result<M, Unread> {
        self.whole()?;
        Ok(self.model)
    }

    /// The model, for a reader of only the `needed` columns, when they were all read.
    pub fn reading(&self, needed: Columns) -> Result<&M, Unread> {
        match (0..M::COLUMNS.len()).find(|&at| needed.has(at) && !self.columns.has(at)) {
            None => Ok(&self.model),
            Some(at) => Err(Unread {
                table: M::TABLE,
                column: M::COLUMNS[at],
            }),
        }
    }

    /// The field at column `at`, if it was read.
    fn field<'a, T>(
        &'a self,
        at: usize,
        get: impl FnOnce(&'a M) -> &'a T,
    ) -> Result<&'a T, Unread> {
        if self.columns.has(at) {
            Ok(get(&self.model))
        } else {
            Err(Unread {
                table: M::TABLE,
                column: M::COLUMNS[at],
            })
        }
    }
}

impl<M: AtPosition> From<M> for Seen<M> {
    fn from(model: M) -> Self {
        Seen::all(model)
    }
}

/// A resolver asked for a column its query's read left out: the field → column table beside
/// the resolver misses it. A fault of the server's, answered as an internal error.
#[derive(Debug, thiserror::Error)]
#[error(
    "the {column} column of {table} was not read for this query (see the field → column table beside its resolver)"
)]
pub struct Unread {
    table: &'static str,
    column: &'static str,
}

/// What a field whose column was not read holds inside a [`Seen`]; never handed out.
trait Filler {
    fn filler() -> Self;
}

macro_rules! filler {
    ($($ty:ty => $value:expr),* $(,)?) => {$(
        impl Filler for $ty {
            fn filler() -> Self {
                $value
            }
        }
    )*};
}

filler! {
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

impl<T> Filler for Option<T> {
    fn filler() -> Self {
        None
    }
}

/// A model read from consecutive columns of a row, in its entity's column order.
pub trait AtPosition: Sized {
    /// The entity whose columns these are.
    type Entity: EntityTrait<Model = Self>;

    /// The entity's table, for messages.
    const TABLE: &'static str;

    /// The column names in the order [`Self::at`] reads them; the first is the id.
    const COLUMNS: &'static [&'static str];

    /// The id column.
    const ID: <Self::Entity as EntityTrait>::Column;

    /// The model whose first column is at position `at`, every column read.
    fn at(row: &QueryResult, at: usize) -> Result<Self, DbErr>;

    /// The model whose first read column is at position `at`, only `columns` read (in their
    /// order, one after the other).
    fn at_only(row: &QueryResult, at: usize, columns: Columns) -> Result<Seen<Self>, DbErr>;
}

macro_rules! at_position {
    ($($entity:ident { $id:ident: $id_ty:ty, $($field:ident: $ty:ty),* $(,)? })*) => {$(
        impl AtPosition for $entity::Model {
            type Entity = $entity::Entity;

            const TABLE: &'static str = stringify!($entity);

            const COLUMNS: &'static [&'static str] = &[stringify!($id), $(stringify!($field)),*];

            const ID: $entity::Column = $entity::Column::Id;

            fn at(row: &QueryResult, at: usize) -> Result<Self, DbErr> {
                Ok(Self::at_only(row, at, Columns::ALL)?.model)
            }

            fn at_only(row: &QueryResult, at: usize, columns: Columns) -> Result<Seen<Self>, DbErr> {
                let mut next = at;
                let mut index = 0;
                let $id = if columns.has(index) {
                    next += 1;
                    row.try_get_by_index(next - 1)?
                } else {
                    Filler::filler()
                };
                $(
                    index += 1;
                    let $field = if columns.has(index) {
                        next += 1;
                        row.try_get_by_index(next - 1)?
                    } else {
                        Filler::filler()
                    };
                )*
                let _ = (next, index);
                Ok(Seen { model: Self { $id, $($field),* }, columns })
            }
        }

        /// One accessor per column; each answers [`Unread`] when its column was not read.
        impl Seen<$entity::Model> {
            /// The id, read with every model.
            pub fn $id(&self) -> $id_ty {
                debug_assert!(self.columns.has(0), "every read model is read with its id");
                self.model.$id
            }

            at_position!(@accessors 1usize; $($field: $ty,)*);
        }
    )*};
    (@accessors $at:expr; $field:ident: $ty:ty, $($rest:ident: $rest_ty:ty,)*) => {
        #[doc = concat!("The `", stringify!($field), "` column.")]
        pub fn $field(&self) -> Result<&$ty, Unread> {
            self.field($at, |model| &model.$field)
        }

        at_position!(@accessors $at + 1usize; $($rest: $rest_ty,)*);
    };
    (@accessors $at:expr;) => {};
}

at_position! {
    idea {
        id: i32, regency_id: i32, cohort_id: i32, unit_id: i32, title: String, problem: String,
        description: String, innovation_type: InnovationType, form: InnovationForm,
        affairs_area: String, initiator: Initiator, stage: Stage, status: IdeaStatus,
        status_reason: Option<String>, stall_reason: Option<StallReason>,
        stage_entered_at: DateTime<Utc>, innovator_name: Option<String>,
        innovator_position: Option<String>, maturity: Maturity, submitted_at: DateTime<Utc>,
        launched_on: Option<NaiveDate>, version: i32, created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    }
    unit {
        id: i32, regency_id: i32, parent_id: Option<i32>, kind: UnitKind, name: String,
        head_title: String, version: i32, created_at: DateTime<Utc>, updated_at: DateTime<Utc>,
    }
    cohort {
        id: i32, regency_id: i32, year: i32, name: String, stage: Stage, rubric: Option<String>,
        version: i32, created_at: DateTime<Utc>, updated_at: DateTime<Utc>,
    }
    regency {
        id: i32, code: String, name: String, province: String, organiser: String,
        mou_signed_on: Option<NaiveDate>, event_seq: i64, version: i32, created_at: DateTime<Utc>,
        updated_at: DateTime<Utc>,
    }
    mentor {
        id: i32, name: String, institution: String, team: Option<String>,
        expertise: Option<String>, contact: Option<String>, version: i32,
        created_at: DateTime<Utc>, updated_at: DateTime<Utc>,
    }
    mentor_assignment {
        id: i32, mentor_id: i32, idea_id: i32, since: NaiveDate, until: Option<NaiveDate>,
    }
}

/// Rows by their id: a page keeps its owners, mentors and mentor assignments in these and looks
/// each up once or twice per idea.
pub type ById<V> = std::collections::HashMap<i32, V>;

/// Reads the model whose read columns start at `at` into `models`, unless its id (its first
/// column, which `columns` must hold) is there already: the rows of a joined page repeat the
/// same few units, cohorts, regencies and mentors.
pub fn read_once<M: AtPosition, S: std::hash::BuildHasher>(
    models: &mut HashMap<i32, Seen<M>, S>,
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

    /// A model read with some columns hands out those and refuses the others: a resolver that
    /// reads a column its query did not select gets an error, never a blank it would show.
    #[tokio::test]
    async fn a_column_left_out_is_an_error_never_a_value() {
        use sea_orm::{ConnectionTrait, Database, Statement};

        let db = Database::connect("sqlite::memory:").await.expect("SQLite");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT 7, 'Kartu Tani Pintar'",
            ))
            .await
            .expect("a query")
            .expect("a row");
        let seen = idea::Model::at_only(
            &row,
            0,
            Columns::of::<idea::Model>(&[idea::Column::Id, idea::Column::Title]),
        )
        .expect("two columns");
        assert_eq!(seen.id(), 7);
        assert_eq!(seen.title().expect("read"), "Kartu Tani Pintar");
        let unread = seen.problem().expect_err("not read").to_string();
        assert!(unread.contains("problem column of idea"), "{unread}");
        assert!(seen.stage().is_err() && seen.version().is_err());
        assert!(seen.whole().is_err());
        assert!(seen.clone().into_whole().is_err());
        assert!(
            seen.reading(Columns::of::<idea::Model>(&[idea::Column::Title]))
                .is_ok()
        );
        assert!(
            seen.reading(Columns::of::<idea::Model>(&[idea::Column::Stage]))
                .is_err()
        );
    }
}
