//! Pipeline events: the outbox and history of every change, and the reads behind live
//! delivery (sequence heads, catch-up ranges, retention, consistent funnel snapshots).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use entity::{PipelineEventKind, Stage, pipeline_event, regency};
use sea_orm::{
    AccessMode, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend,
    EntityTrait, IsolationLevel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use sea_orm::{PaginatorTrait, Select};

use super::{
    Domain, by_id,
    idea::{IdeaFilter, aggregate::Funnel},
    page::{Page, PageRequest, paginate},
    regency_code_filter,
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

/// Which pipeline events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub kinds: Option<Vec<PipelineEventKind>>,
    pub stages: Option<Vec<Stage>>,
    pub unit_id: Option<i32>,
    pub idea_id: Option<i32>,
}

impl EventFilter {
    /// Whether a live event passes the filter (regency codes must be resolved to ids first).
    pub fn matches(&self, event: &pipeline_event::Model) -> bool {
        self.regency_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&event.regency_id))
            && self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&event.kind))
            && self
                .stages
                .as_ref()
                .is_none_or(|stages| event.stage.is_some_and(|s| stages.contains(&s)))
            && self.unit_id.is_none_or(|unit| event.unit_id == Some(unit))
            && self.idea_id.is_none_or(|idea| event.idea_id == Some(idea))
    }
}

/// Where a reader stands in each regency's event sequence.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Positions {
    /// Regencies with an id above this one were created after the position was taken, so all
    /// of their events are new to the reader. None: unknown (absent regencies start live).
    pub floor: Option<i32>,
    /// Last sequence number seen, per regency.
    pub seen: BTreeMap<i32, i64>,
}

/// The data version of one database (the primary, or a replica).
pub(super) async fn data_version_on(db: &DatabaseConnection) -> DomainResult<DataVersion> {
    const SQL: &str = "SELECT \
        (SELECT CAST(COALESCE(SUM(event_seq), 0) AS BIGINT) FROM regency) AS events, \
        (SELECT CAST(COALESCE(SUM(version), 0) + COUNT(*) AS BIGINT) FROM mentor) AS mentors";
    let backend = db.get_database_backend();
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(backend, SQL))
        .await?
        .ok_or_else(|| {
            DomainError::Internal(anyhow::anyhow!("the version query returned no row"))
        })?;
    Ok(DataVersion {
        events: row.try_get("", "events")?,
        mentors: row.try_get("", "mentors")?,
    })
}

/// What [`Domain::data_version`] reads: equal versions, equal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DataVersion {
    /// The sum of the regencies' event counters.
    pub events: i64,
    /// The sum of the mentors' versions plus their number.
    pub mentors: i64,
}

impl Domain {
    by_ids!(/// Pipeline events by id.
        events_by_id, pipeline_event, i64, |s: ReadScope| s.on(pipeline_event::Column::RegencyId));

    fn events_matching(&self, filter: &EventFilter) -> Select<pipeline_event::Entity> {
        let mut cond = Condition::all();
        if let Some(ids) = &filter.regency_ids {
            cond = cond.add(pipeline_event::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(sub) = regency_code_filter(&filter.regency_codes) {
            cond = cond.add(pipeline_event::Column::RegencyId.in_subquery(sub));
        }
        if let Some(kinds) = &filter.kinds {
            cond = cond.add(pipeline_event::Column::Kind.is_in(kinds.clone()));
        }
        if let Some(stages) = &filter.stages {
            cond = cond.add(pipeline_event::Column::Stage.is_in(stages.clone()));
        }
        if let Some(unit) = filter.unit_id {
            cond = cond.add(pipeline_event::Column::UnitId.eq(unit));
        }
        if let Some(idea) = filter.idea_id {
            cond = cond.add(pipeline_event::Column::IdeaId.eq(idea));
        }
        pipeline_event::Entity::find().filter(cond)
    }

    /// Pipeline events in the order they were recorded.
    pub async fn event_page(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<pipeline_event::Model>> {
        let scope = caller.check_read()?;
        super::volatile::mark();
        let sort = by_id::<pipeline_event::Entity>(pipeline_event::Column::Id, |m| m.id);
        self.listing(
            self.events_matching(filter)
                .filter(scope.on(pipeline_event::Column::RegencyId)),
            sort,
            page,
        )
        .await
    }

    pub async fn count_events(&self, caller: &Caller, filter: &EventFilter) -> DomainResult<u64> {
        let scope = caller.check_read()?;
        super::volatile::mark();
        Ok(self
            .events_matching(filter)
            .filter(scope.on(pipeline_event::Column::RegencyId))
            .count(self.db())
            .await?)
    }

    /// Current sequence heads of the regencies in `scope` (all when None), and the highest
    /// regency id.
    pub async fn event_heads(
        &self,
        caller: &Caller,
        scope: Option<&[i32]>,
    ) -> DomainResult<Positions> {
        let scope = caller.check_read()?.narrow(scope);
        self.event_heads_on(self.db(), scope.as_deref()).await
    }

    /// A version of everything queries read, in one cheap statement: every change of a
    /// regency's rows records events, raising the regency's event counter, and every change of a
    /// mentor (the only rows outside regencies) raises the mentor's version. Both sums only grow,
    /// so an unchanged version means unchanged data, on every instance sharing the database.
    /// Retention's pruning of events and the clock are outside it; see [`super::volatile`].
    /// Always read on the primary: it is what a replica must have caught up with.
    pub async fn data_version(&self) -> DomainResult<DataVersion> {
        data_version_on(self.primary()).await
    }

    async fn event_heads_on<C: ConnectionTrait>(
        &self,
        db: &C,
        scope: Option<&[i32]>,
    ) -> DomainResult<Positions> {
        let mut select = regency::Entity::find()
            .select_only()
            .column(regency::Column::Id)
            .column(regency::Column::EventSeq);
        if let Some(scope) = scope {
            select = select.filter(regency::Column::Id.is_in(scope.iter().copied()));
        }
        let rows: Vec<(i32, i64)> = select.into_tuple().all(db).await?;
        let floor = match scope {
            // Every regency was read: the highest id is among the rows.
            None => rows.iter().map(|(id, _)| *id).max(),
            Some(_) => regency::Entity::find()
                .select_only()
                .column_as(regency::Column::Id.max(), "m")
                .into_tuple::<Option<i32>>()
                .one(db)
                .await?
                .flatten(),
        };
        Ok(Positions {
            floor: Some(floor.unwrap_or(0)),
            seen: rows.into_iter().collect(),
        })
    }

    /// Up to `limit` stored events after `positions`, oldest first: for every regency in
    /// `positions` the events after its sequence, and every event of regencies created after
    /// `floor`; restricted to `scope` when given.
    pub async fn events_after(
        &self,
        caller: &Caller,
        positions: &Positions,
        scope: Option<&[i32]>,
        limit: u64,
    ) -> DomainResult<Vec<pipeline_event::Model>> {
        let read = caller.check_read()?;
        let mut any = Condition::any();
        for (regency_id, seq) in &positions.seen {
            if scope.is_some_and(|s| !s.contains(regency_id)) {
                continue;
            }
            any = any.add(
                Condition::all()
                    .add(pipeline_event::Column::RegencyId.eq(*regency_id))
                    .add(pipeline_event::Column::Seq.gt(*seq)),
            );
        }
        if let Some(floor) = positions.floor {
            let mut new = Condition::all()
                .add(pipeline_event::Column::RegencyId.gt(floor))
                .add(pipeline_event::Column::RegencyId.is_not_in(positions.seen.keys().copied()));
            if let Some(scope) = scope {
                new = new.add(pipeline_event::Column::RegencyId.is_in(scope.iter().copied()));
            }
            any = any.add(new);
        }
        if any.is_empty() {
            return Ok(Vec::new());
        }
        Ok(pipeline_event::Entity::find()
            .filter(any)
            .filter(read.on(pipeline_event::Column::RegencyId))
            .order_by_asc(pipeline_event::Column::Id)
            .limit(limit)
            .all(self.db())
            .await?)
    }

    /// The stored events of one regency with `after < seq < before`, in order.
    pub async fn events_between(
        &self,
        caller: &Caller,
        regency_id: i32,
        after: i64,
        before: i64,
    ) -> DomainResult<Vec<pipeline_event::Model>> {
        let read = caller.check_read()?;
        Ok(pipeline_event::Entity::find()
            .filter(pipeline_event::Column::RegencyId.eq(regency_id))
            .filter(read.on(pipeline_event::Column::RegencyId))
            .filter(pipeline_event::Column::Seq.gt(after))
            .filter(pipeline_event::Column::Seq.lt(before))
            .order_by_asc(pipeline_event::Column::Seq)
            .all(self.db())
            .await?)
    }

    /// Regencies of `positions` whose events after the position are no longer all stored
    /// (deleted by retention), or whose position is past the stored sequence: resuming there
    /// would skip events.
    pub async fn expired_positions(
        &self,
        caller: &Caller,
        positions: &Positions,
    ) -> DomainResult<Vec<i32>> {
        caller.check_read()?;
        let ids: Vec<i32> = positions.seen.keys().copied().collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let oldest: HashMap<i32, Option<i64>> = pipeline_event::Entity::find()
            .select_only()
            .column(pipeline_event::Column::RegencyId)
            .column_as(pipeline_event::Column::Seq.min(), "oldest")
            .filter(pipeline_event::Column::RegencyId.is_in(ids.clone()))
            .group_by(pipeline_event::Column::RegencyId)
            .into_tuple::<(i32, Option<i64>)>()
            .all(self.db())
            .await?
            .into_iter()
            .collect();
        let heads = self.event_heads(caller, Some(&ids)).await?;
        Ok(positions
            .seen
            .iter()
            .filter(|(regency_id, seen)| {
                let Some(head) = heads.seen.get(regency_id).copied() else {
                    // A regency that no longer exists has nothing to resume.
                    return false;
                };
                let oldest = oldest.get(regency_id).copied().flatten();
                let pruned = **seen < head && oldest.is_none_or(|oldest| oldest > **seen + 1);
                // Ahead of the stored sequence: a forged cursor, or a database restored from a
                // backup. Resuming would silently skip the events that fill the difference.
                let ahead = **seen > head;
                pruned || ahead
            })
            .map(|(regency_id, _)| *regency_id)
            .collect())
    }

    /// Deletes events that occurred before `cutoff` (the retention window); returns how many.
    pub async fn prune_events_before(
        &self,
        caller: &Caller,
        cutoff: DateTime<Utc>,
    ) -> DomainResult<u64> {
        caller.check_write(None, "event")?;
        let result = pipeline_event::Entity::delete_many()
            .filter(pipeline_event::Column::OccurredAt.lt(cutoff))
            .exec(self.primary())
            .await?;
        Ok(result.rows_affected)
    }

    /// The funnel of `filter` and the event positions it reflects, read in one snapshot.
    pub async fn funnel_snapshot(
        &self,
        caller: &Caller,
        filter: &IdeaFilter,
        scope: Option<&[i32]>,
    ) -> DomainResult<(Funnel, Positions)> {
        let read = caller.aggregate_scope()?;
        let filter = super::idea::aggregate::public_figures(caller, filter, None)?;
        let scope = read.narrow(scope);
        let txn = self.begin_snapshot().await?;
        let funnel = self.funnel_on(&txn, &filter).await;
        let heads = self.event_heads_on(&txn, scope.as_deref()).await;
        txn.commit().await?;
        Ok((funnel?, heads?))
    }

    /// A read-only transaction whose reads all see one moment.
    async fn begin_snapshot(&self) -> DomainResult<sea_orm::DatabaseTransaction> {
        Ok(if self.db().get_database_backend() == DbBackend::Postgres {
            self.db()
                .begin_with_config(
                    Some(IsolationLevel::RepeatableRead),
                    Some(AccessMode::ReadOnly),
                )
                .await?
        } else {
            // A SQLite read transaction in WAL mode is a snapshot already.
            self.db().begin().await?
        })
    }

    /// A page of events and the position right after it in every regency of the filter's
    /// scope, read at one moment: resuming a subscription from that position delivers every
    /// later event exactly once, whichever regency it belongs to. After an empty page the
    /// position is the current head of every regency.
    pub async fn event_page_and_position(
        &self,
        caller: &Caller,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> DomainResult<(Page<pipeline_event::Model>, Positions)> {
        let allowed = caller.check_read()?;
        super::volatile::mark();
        let txn = self.begin_snapshot().await?;
        let read = async {
            let scope = allowed.narrow(self.scope_of_filter(&txn, filter).await?.as_deref());
            let sort = by_id::<pipeline_event::Entity>(pipeline_event::Column::Id, |m| m.id);
            let rows = paginate(
                &txn,
                self.events_matching(filter)
                    .filter(allowed.on(pipeline_event::Column::RegencyId)),
                &sort,
                page,
                self.page_limits(),
            )
            .await?;
            let heads = self.event_heads_on(&txn, scope.as_deref()).await?;
            let Some(last) = rows.edges.iter().map(|(_, e)| e.id).max() else {
                return Ok((rows, heads));
            };
            // Within a regency, ids grow with the sequence (the regency row is locked while
            // an event is numbered), so "id <= last" is a prefix of every regency's sequence.
            let mut select = pipeline_event::Entity::find()
                .select_only()
                .column(pipeline_event::Column::RegencyId)
                .column_as(pipeline_event::Column::Seq.max(), "seen")
                .filter(pipeline_event::Column::Id.lte(last))
                .group_by(pipeline_event::Column::RegencyId);
            if let Some(scope) = &scope {
                select =
                    select.filter(pipeline_event::Column::RegencyId.is_in(scope.iter().copied()));
            }
            let seen: HashMap<i32, i64> = select
                .into_tuple::<(i32, Option<i64>)>()
                .all(&txn)
                .await?
                .into_iter()
                .map(|(regency, seen)| (regency, seen.unwrap_or_default()))
                .collect();
            let positions = Positions {
                floor: heads.floor,
                seen: heads
                    .seen
                    .keys()
                    .map(|regency| (*regency, seen.get(regency).copied().unwrap_or_default()))
                    .collect(),
            };
            Ok::<_, crate::error::DomainError>((rows, positions))
        };
        let result = read.await;
        txn.commit().await?;
        result
    }

    /// The regency ids an event filter is limited to (ids and codes), None for all.
    async fn scope_of_filter<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &EventFilter,
    ) -> DomainResult<Option<Vec<i32>>> {
        if filter.regency_ids.is_none() && filter.regency_codes.is_none() {
            return Ok(None);
        }
        let mut scope = filter.regency_ids.clone().unwrap_or_default();
        if let Some(codes) = &filter.regency_codes {
            let found: Vec<i32> = regency::Entity::find()
                .select_only()
                .column(regency::Column::Id)
                .filter(regency::Column::Code.is_in(codes.iter().map(|c| c.trim().to_owned())))
                .into_tuple()
                .all(db)
                .await?;
            scope.extend(found);
        }
        Ok(Some(scope))
    }
}
