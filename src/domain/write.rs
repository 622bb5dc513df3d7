//! What every write shares: the write transaction, the event outbox with its gapless
//! per-regency sequence, the caller, input validation and constraint translation.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{PipelineEventKind, Stage, pipeline_event, regency};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, EntityTrait, QueryFilter,
    SqlErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sea_query::{Expr, ExprTrait},
};

use super::Domain;
use crate::access::Caller;
use crate::error::{DomainError, DomainResult};

/// The result of a committed write and the events it recorded.
#[derive(Debug, Clone)]
pub struct Written<T> {
    pub value: T,
    pub events: Vec<pipeline_event::Model>,
}

/// An event to record in the outbox, inside the write's transaction.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub regency_id: i32,
    pub kind: PipelineEventKind,
    pub idea_id: Option<i32>,
    pub unit_id: Option<i32>,
    pub commitment_id: Option<i32>,
    pub stage: Option<Stage>,
    pub payload: serde_json::Value,
}

impl NewEvent {
    /// An event of `kind` about `idea`, in its unit and stage, saying `payload`.
    pub fn of_idea(
        idea: &entity::idea::Model,
        kind: PipelineEventKind,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            idea_id: Some(idea.id),
            unit_id: Some(idea.unit_id),
            stage: Some(idea.stage),
            payload,
            ..Self::about(idea.regency_id, kind)
        }
    }

    /// An event of `kind` in a regency, about nothing in particular yet.
    pub fn about(regency_id: i32, kind: PipelineEventKind) -> Self {
        Self {
            regency_id,
            kind,
            idea_id: None,
            unit_id: None,
            commitment_id: None,
            stage: None,
            payload: serde_json::Value::Null,
        }
    }
}

/// One write in progress: its transaction, who makes it, the time it happens at and the
/// events it has recorded so far. A request's write is one `Work`; the demo loader makes many
/// writes in one `Work`, moving its clock along a lab's calendar, so what it records is what
/// the same writes made by people on those days would have recorded.
pub(crate) struct Work {
    pub txn: DatabaseTransaction,
    pub caller: Caller,
    now: DateTime<Utc>,
    events: Vec<pipeline_event::Model>,
    grant: Grant,
    /// Why the work may commit without an event, if it may (see [`Work::without_event`]).
    without_event: Option<&'static str>,
    /// This process's turn at SQLite's write lock, held until the work commits or is dropped.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

/// SQLite has one write lock per database. Writers that find it taken wait in SQLite's busy
/// handler, which sleeps and retries with growing pauses (up to 100 ms): under 8 concurrent
/// writers most waited a few milliseconds and some 180. Taking turns in this process first, in
/// arrival order, leaves the busy handler only for other processes (`labinov import`).
#[derive(Clone, Default)]
pub(crate) struct WriteGate(std::sync::Arc<tokio::sync::Mutex<()>>);

/// How long a write waits for its turn: as long as SQLite's busy handler would.
const WRITE_TURN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl WriteGate {
    async fn turn(&self) -> DomainResult<tokio::sync::OwnedMutexGuard<()>> {
        tokio::time::timeout(WRITE_TURN_TIMEOUT, self.0.clone().lock_owned())
            .await
            .map_err(|_| {
                DomainError::Unavailable(anyhow::anyhow!(
                    "no turn at the SQLite write lock within {} s",
                    WRITE_TURN_TIMEOUT.as_secs()
                ))
            })
    }
}

/// What a unit of work may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    /// Rows of the regencies the caller administers (`Caller::check_write`).
    Rows,
    /// A mentor's own notes on the ideas assigned to them; the write checks the assignment.
    AssignedIdeas,
}

impl Work {
    /// The time the write happens at: its rows' change times and its events' times.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The day the write happens on, for dates that default to "today" or cannot be later.
    pub fn today(&self) -> NaiveDate {
        self.now.date_naive()
    }

    /// Moves the clock of the following writes (the demo loader replaying a calendar).
    pub fn set_clock(&mut self, now: DateTime<Utc>) {
        self.now = now;
    }

    /// Makes the following writes a mentor's own (the demo loader replaying a mentor's
    /// review); [`act_for_rows`](Self::act_for_rows) goes back.
    pub fn act_as_mentor(&mut self, mentor: Caller) {
        self.caller = mentor;
        self.grant = Grant::AssignedIdeas;
    }

    /// Makes the following writes changes to rows, by `caller`.
    pub fn act_for_rows(&mut self, caller: Caller) {
        self.caller = caller;
        self.grant = Grant::Rows;
    }

    /// Lets the work commit without recording an event, for `reason`. Every other write records
    /// one: the response cache serves an answer while the data version (the regencies' event
    /// counters and the mentors' versions) is unchanged, so a write that moved neither would
    /// leave stale answers served. Only writes that move a mentor's version, or change nothing,
    /// may say so.
    pub fn without_event(&mut self, reason: &'static str) {
        self.without_event = Some(reason);
    }

    /// A date that cannot be after the write's day.
    pub fn not_in_future(&self, label: &str, day: NaiveDate) -> DomainResult<NaiveDate> {
        not_in_future(label, day, self.today())
    }
}

impl Domain {
    /// Starts a write transaction. On SQLite it takes the write lock at once (BEGIN IMMEDIATE),
    /// so concurrent writers queue instead of failing when they upgrade a read lock.
    pub(crate) async fn begin_work(&self, caller: &Caller) -> DomainResult<Work> {
        caller.check_may_write()?;
        self.begin(caller, Grant::Rows).await
    }

    /// Starts a mentor's write (a review): the caller must be a mentor, and the write itself
    /// checks that the idea is assigned to them.
    pub(crate) async fn begin_mentor_work(&self, caller: &Caller) -> DomainResult<Work> {
        caller.check_mentor()?;
        self.begin(caller, Grant::AssignedIdeas).await
    }

    async fn begin(&self, caller: &Caller, grant: Grant) -> DomainResult<Work> {
        let turn = match &self.writers {
            Some(gate) => Some(gate.turn().await?),
            None => None,
        };
        let txn = self
            .primary()
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await?;
        Ok(Work {
            txn,
            caller: caller.clone(),
            now: Utc::now(),
            events: Vec::new(),
            grant,
            without_event: None,
            _turn: turn,
        })
    }

    /// Commits a unit of work. Every write ends here, so publishing its events after the
    /// commit happens in this one place.
    /// A unit of work that recorded no event and gave no reason fails and is rolled back.
    pub(crate) async fn finish<T>(&self, work: Work, value: T) -> DomainResult<Written<T>> {
        if work.events.is_empty() && work.without_event.is_none() {
            return Err(DomainError::Internal(anyhow::anyhow!(
                "a write recorded no event; it was rolled back"
            )));
        }
        work.txn.commit().await?;
        metrics::counter!("labinov_events_written_total").increment(work.events.len() as u64);
        self.published(&work.events);
        Ok(Written {
            value,
            events: work.events,
        })
    }

    /// Runs one write as its own unit of work: `write` makes the change, then it commits.
    pub(crate) async fn write<T>(
        &self,
        caller: &Caller,
        write: impl AsyncFnOnce(&mut Work) -> DomainResult<T>,
    ) -> DomainResult<Written<T>> {
        let mut work = self.begin_work(caller).await?;
        let value = write(&mut work).await?;
        self.finish(work, value).await
    }

    /// Records one event; see [`record_events`](Self::record_events).
    pub(crate) async fn record_event(
        &self,
        work: &mut Work,
        event: NewEvent,
    ) -> DomainResult<pipeline_event::Model> {
        let regency_id = event.regency_id;
        let mut rows = self.record_events(work, regency_id, vec![event]).await?;
        rows.pop().ok_or_else(|| {
            DomainError::Internal(anyhow::anyhow!("an event insert returned no row"))
        })
    }

    /// Records events of one regency: bumps the regency's counter once by their number (the
    /// row lock also serialises concurrent writers of the regency, so sequence order is commit
    /// order) and inserts the outbox rows with consecutive sequence numbers, at the work's time.
    pub(crate) async fn record_events(
        &self,
        work: &mut Work,
        regency_id: i32,
        events: Vec<NewEvent>,
    ) -> DomainResult<Vec<pipeline_event::Model>> {
        // Every change of a regency's rows records its events here, in the change's
        // transaction: the one place a refused write is turned back before it commits.
        match work.grant {
            Grant::Rows => work.caller.check_write(Some(regency_id), "regency")?,
            Grant::AssignedIdeas => {
                work.caller.check_mentor()?;
            }
        }
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let actor = work.caller.actor().to_owned();
        let mut inserted = Vec::with_capacity(events.len());
        if work.txn.get_database_backend() == DbBackend::Postgres {
            // One statement bumps the counter and inserts the rows: the counter's row lock is
            // held from it to the commit, and every round trip in between is a wait for the
            // regency's other writers.
            for chunk in events.chunks(500) {
                inserted.extend(bump_and_insert(work, regency_id, chunk, &actor).await?);
            }
        } else {
            let count = events.len() as i64;
            let bumped = regency::Entity::update_many()
                .col_expr(
                    regency::Column::EventSeq,
                    Expr::col(regency::Column::EventSeq).add(count),
                )
                .filter(regency::Column::Id.eq(regency_id))
                .exec_with_returning(&work.txn)
                .await?;
            let last = bumped
                .first()
                .map(|r| r.event_seq)
                .ok_or_else(gone_regency)?;
            let rows: Vec<pipeline_event::ActiveModel> = events
                .into_iter()
                .enumerate()
                .map(|(n, event)| pipeline_event::ActiveModel {
                    regency_id: Set(regency_id),
                    seq: Set(last - count + 1 + n as i64),
                    kind: Set(event.kind),
                    idea_id: Set(event.idea_id),
                    unit_id: Set(event.unit_id),
                    commitment_id: Set(event.commitment_id),
                    stage: Set(event.stage),
                    actor: Set(actor.clone()),
                    payload: Set(event.payload.to_string()),
                    occurred_at: Set(work.now),
                    ..Default::default()
                })
                .collect();
            for chunk in rows.chunks(500) {
                inserted.extend(
                    pipeline_event::Entity::insert_many(chunk.to_vec())
                        .exec_with_returning(&work.txn)
                        .await?,
                );
            }
        }
        inserted.sort_by_key(|e| e.seq);
        work.events.extend(inserted.iter().cloned());
        Ok(inserted)
    }
}

fn gone_regency() -> DomainError {
    DomainError::not_found("The regency of this change no longer exists.")
}

/// PostgreSQL: bumps the regency's counter by the number of `events` and inserts them with the
/// sequence numbers it gave, in one statement. The rows are inserted in sequence order after the
/// bump took the regency's row lock, so their ids grow with their sequence numbers, within the
/// write and across the regency's writes.
async fn bump_and_insert(
    work: &Work,
    regency_id: i32,
    events: &[NewEvent],
    actor: &str,
) -> DomainResult<Vec<pipeline_event::Model>> {
    use sea_orm::{FromQueryResult, Statement, Value};

    let count = events.len() as i64;
    let mut values: Vec<Value> = vec![
        count.into(),
        regency_id.into(),
        actor.to_owned().into(),
        work.now.into(),
    ];
    let mut rows = Vec::with_capacity(events.len());
    for (n, event) in events.iter().enumerate() {
        let at = values.len();
        rows.push(format!(
            "(${}::bigint, ${}, ${}, ${}, ${}, ${}, ${})",
            at + 1,
            at + 2,
            at + 3,
            at + 4,
            at + 5,
            at + 6,
            at + 7
        ));
        values.extend([
            (n as i64 + 1).into(),
            event.kind.as_str().to_owned().into(),
            event.idea_id.into(),
            event.unit_id.into(),
            event.commitment_id.into(),
            event.stage.map(entity::Stage::rank).into(),
            event.payload.to_string().into(),
        ]);
    }
    let sql = format!(
        "WITH bumped AS (UPDATE regency SET event_seq = event_seq + $1 WHERE id = $2 \
         RETURNING event_seq) \
         INSERT INTO pipeline_event \
         (regency_id, seq, kind, idea_id, unit_id, commitment_id, stage, actor, payload, occurred_at) \
         SELECT $2, bumped.event_seq - $1 + v.n, v.kind, v.idea_id, v.unit_id, v.commitment_id, \
         v.stage, $3, v.payload, $4 \
         FROM bumped, (VALUES {}) AS v (n, kind, idea_id, unit_id, commitment_id, stage, payload) \
         ORDER BY v.n RETURNING *",
        rows.join(", ")
    );
    let rows = work
        .txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?;
    if rows.is_empty() {
        return Err(gone_regency());
    }
    rows.iter()
        .map(|row| Ok(pipeline_event::Model::from_query_result(row, "")?))
        .collect()
}

/// Reads the row a write changes, inside its transaction: NOT_FOUND if it is gone (or the
/// caller may not see it), FORBIDDEN if the caller may not change it, CONFLICT if its version is
/// not the one the client read.
pub(crate) async fn for_update<E>(
    work: &Work,
    id: i32,
    version: i32,
    what: &str,
) -> DomainResult<E::Model>
where
    E: VersionedEntity,
    <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<i32>,
{
    let current = E::find_by_id(id)
        .one(&work.txn)
        .await?
        .ok_or_else(|| DomainError::missing(what))?;
    work.caller.check_write(E::regency_of(&current), what)?;
    if E::version_of(&current) != version {
        return Err(stale(what, version));
    }
    Ok(current)
}

/// A required text field: trimmed, not blank, at most `max` characters.
pub fn required_text(label: &str, value: &str, max: usize) -> DomainResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(DomainError::bad_input(format!("{label} cannot be empty.")));
    }
    let length = value.chars().count();
    if length > max {
        return Err(DomainError::bad_input(format!(
            "{label} is {length} characters long; at most {max} are allowed."
        )));
    }
    if let Some(bad) = value.chars().find(|c| is_unprintable(*c)) {
        return Err(DomainError::bad_input(format!(
            "{label} holds an invisible control character (U+{:04X}); remove it.",
            u32::from(bad)
        )));
    }
    Ok(value.to_owned())
}

/// Control characters other than line breaks and tabs, the bidirectional marks and overrides
/// that make text display in another order than it is stored, and the invisible characters
/// that make two texts look alike (zero-width spaces and joiners, word joiners, the byte-order
/// mark, line and paragraph separators). PostgreSQL refuses NUL outright.
pub fn is_unprintable(c: char) -> bool {
    (c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        || matches!(
            c,
            '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// An optional text field: blank becomes absent; at most `max` characters.
pub fn optional_text(label: &str, value: Option<&str>, max: usize) -> DomainResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => required_text(label, v, max).map(Some),
    }
}

/// The earliest day labs are recorded from: LAN's innovation labs began long after.
pub fn earliest_lab_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default()
}

/// The first day a lab edition's records may carry: its year's first day, and never before the
/// regency's MoU with LAN (the day the lab was founded) when that is known.
pub fn lab_floor(regency: &regency::Model, cohort_year: i32) -> NaiveDate {
    let year_start = NaiveDate::from_ymd_opt(cohort_year, 1, 1).unwrap_or_else(earliest_lab_day);
    regency
        .mou_signed_on
        .map_or(year_start, |mou| Ord::max(mou, year_start))
}

/// `day` for a record of a lab whose records start on `floor`: not before it, not in the future.
pub fn within_lab(label: &str, day: NaiveDate, floor: NaiveDate) -> DomainResult<NaiveDate> {
    if day < floor {
        return Err(DomainError::bad_input(format!(
            "{label} ({day}) is before the lab began ({floor}: its MoU with LAN or its cohort's year)."
        )));
    }
    not_in_future(label, day, Utc::now().date_naive())
}

impl Domain {
    /// [`lab_floor`] of a cohort, read in the write's transaction.
    pub(crate) async fn lab_floor_of(
        &self,
        txn: &DatabaseTransaction,
        cohort_id: i32,
    ) -> DomainResult<NaiveDate> {
        let missing = || DomainError::missing("cohort");
        let cohort = entity::cohort::Entity::find_by_id(cohort_id)
            .one(txn)
            .await?
            .ok_or_else(missing)?;
        let regency = regency::Entity::find_by_id(cohort.regency_id)
            .one(txn)
            .await?
            .ok_or_else(missing)?;
        Ok(lab_floor(&regency, cohort.year))
    }
}

/// A date that cannot be after `today` (a signing, a submission, an MoU).
pub fn not_in_future(label: &str, day: NaiveDate, today: NaiveDate) -> DomainResult<NaiveDate> {
    if day > today {
        return Err(DomainError::bad_input(format!(
            "{label} ({day}) is in the future; it must be today ({today}) or earlier."
        )));
    }
    Ok(day)
}

/// Translates a unique violation into `sentence`; other database errors stay internal.
pub fn on_unique(err: DbErr, sentence: impl FnOnce() -> String) -> DomainError {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(_)) => DomainError::bad_input(sentence()),
        _ => err.into(),
    }
}

/// The error for a stale version: somebody else changed the object since the client read it.
/// The one CONFLICT: the row moved on since the client read it.
pub fn stale(what: &str, sent: i32) -> DomainError {
    DomainError::Conflict(format!(
        "The {what} was changed by someone else since you read version {sent}; reload it and try again."
    ))
}

/// Which row an update changes, and the version the client read.
pub(crate) struct Target<'a> {
    pub id: i32,
    pub version: i32,
    /// What the row is, for messages: "unit", "idea"…
    pub what: &'a str,
}

/// What an update makes of a row: the changed columns, and the sentence a unique clash gets.
pub(crate) struct Edit<A> {
    pub row: A,
    pub duplicate: Option<String>,
}

impl<A> Edit<A> {
    pub fn new(row: A) -> Self {
        Self {
            row,
            duplicate: None,
        }
    }

    /// The sentence a client reads when the change would duplicate another row.
    pub fn unique_as(mut self, sentence: String) -> Self {
        self.duplicate = Some(sentence);
        self
    }
}

/// Entities clients update with the version they read.
pub(crate) trait VersionedEntity: EntityTrait {
    fn version_column() -> Self::Column;
    fn version_of(row: &Self::Model) -> i32;
    /// The regency whose rows the row belongs to (None: a row of no regency, a mentor).
    fn regency_of(row: &Self::Model) -> Option<i32>;
    /// Sets the next version and the change time.
    fn bump(row: &mut Self::ActiveModel, version: i32, now: DateTime<Utc>);
}

macro_rules! versioned_entity {
    ($($entity:ident: $regency_of:expr),+) => {
        $(impl VersionedEntity for entity::$entity::Entity {
            fn regency_of(row: &Self::Model) -> Option<i32> {
                $regency_of(row)
            }

            fn version_column() -> Self::Column {
                entity::$entity::Column::Version
            }

            fn version_of(row: &Self::Model) -> i32 {
                row.version
            }

            fn bump(row: &mut Self::ActiveModel, version: i32, now: DateTime<Utc>) {
                row.version = Set(version + 1);
                row.updated_at = Set(now);
            }
        })+
    };
}

versioned_entity!(
    regency: |r: &entity::regency::Model| Some(r.id),
    unit: |r: &entity::unit::Model| Some(r.regency_id),
    cohort: |r: &entity::cohort::Model| Some(r.regency_id),
    mentor: |_: &entity::mentor::Model| None,
    commitment: |r: &entity::commitment::Model| Some(r.regency_id),
    idea: |r: &entity::idea::Model| Some(r.regency_id)
);

impl Domain {
    /// The one way a row is updated, inside a unit of work: read it for update (NOT_FOUND,
    /// CONFLICT if its version is not `target.version`), `apply` the change, save it only if
    /// its version is still the one read (CONFLICT otherwise; a unique clash becomes
    /// BAD_USER_INPUT with a sentence), and let `finish` record the audit rows and events.
    pub(crate) async fn update_versioned<E, T>(
        &self,
        work: &mut Work,
        target: Target<'_>,
        apply: impl AsyncFnOnce(&Work, &E::Model) -> DomainResult<Edit<E::ActiveModel>>,
        finish: impl AsyncFnOnce(&mut Work, &E::Model, E::Model) -> DomainResult<T>,
    ) -> DomainResult<T>
    where
        E: VersionedEntity,
        E::Model: sea_orm::IntoActiveModel<E::ActiveModel>,
        E::ActiveModel: ActiveModelTrait<Entity = E> + sea_orm::ActiveModelBehavior + Send,
        <E::PrimaryKey as sea_orm::PrimaryKeyTrait>::ValueType: From<i32>,
    {
        let current = for_update::<E>(work, target.id, target.version, target.what).await?;
        let mut edit = apply(work, &current).await?;
        E::bump(&mut edit.row, target.version, work.now());
        let saved = match E::update(edit.row).validate() {
            Ok(update) => {
                update
                    .filter(E::version_column().eq(target.version))
                    .exec(&work.txn)
                    .await
            }
            Err(err) => Err(err),
        };
        let updated = match saved {
            Ok(model) => model,
            Err(sea_orm::DbErr::RecordNotUpdated) => {
                return Err(stale(target.what, target.version));
            }
            Err(err) => {
                let what = target.what;
                return Err(on_unique(err, || {
                    edit.duplicate.unwrap_or_else(|| {
                        format!("This change would make the {what} the same as another one; change it to something unique.")
                    })
                }));
            }
        };
        finish(work, &current, updated).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            required_text("Title", "  Si-Gesit ", 10).ok(),
            Some("Si-Gesit".into())
        );
        assert!(matches!(
            required_text("Title", "   ", 10),
            Err(DomainError::BadInput(_))
        ));
        assert!(matches!(
            required_text("Title", "abcdefghijk", 10),
            Err(DomainError::BadInput(_))
        ));
        assert_eq!(optional_text("Note", Some("  "), 10).ok(), Some(None));
    }

    #[test]
    fn future_dates_are_refused() {
        let today = Utc::now().date_naive();
        let tomorrow = today + chrono::Days::new(1);
        assert!(not_in_future("signedOn", tomorrow, today).is_err());
        assert!(not_in_future("signedOn", today, today).is_ok());
    }
}

#[cfg(test)]
mod unrecorded_writes {
    use entity::mentor;
    use sea_orm::{ActiveModelTrait, EntityTrait, PaginatorTrait, Set};

    use super::*;

    async fn domain(dir: &tempfile::TempDir) -> Domain {
        let config = crate::Config::sqlite(&dir.path().join("write.db"));
        crate::db::connect_and_migrate(&config)
            .await
            .expect("a database")
    }

    /// A mentor row, written without an event.
    async fn insert_mentor(work: &Work, name: &str) -> DomainResult<()> {
        let now = work.now();
        mentor::ActiveModel {
            name: Set(name.to_owned()),
            institution: Set("LAN".to_owned()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        Ok(())
    }

    /// The response cache trusts the data version to move with every write: a write that
    /// records no event (and says no reason) is refused and leaves nothing behind.
    #[tokio::test]
    async fn a_write_that_records_no_event_fails_and_leaves_nothing() {
        let dir = tempfile::tempdir().expect("a directory");
        let domain = domain(&dir).await;
        let operator = Caller::system("test");
        let refused = domain
            .write(&operator, async |work| {
                insert_mentor(work, "Tanpa Jejak").await
            })
            .await;
        assert!(matches!(refused, Err(DomainError::Internal(_))));
        let rows = mentor::Entity::find()
            .count(domain.db())
            .await
            .expect("a count");
        assert_eq!(rows, 0, "the refused write was rolled back");

        let allowed = domain
            .write(&operator, async |work| {
                work.without_event("a test's mentor adds to the mentors' versions");
                insert_mentor(work, "Dengan Alasan").await
            })
            .await;
        assert!(allowed.is_ok());
        let rows = mentor::Entity::find()
            .count(domain.db())
            .await
            .expect("a count");
        assert_eq!(rows, 1);
    }
}
