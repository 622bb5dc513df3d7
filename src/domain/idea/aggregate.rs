//! Aggregates for dashboards: stage counts, the funnel, group-by counts, time in stage and
//! commitments — counted in SQL, never by loading the matching ideas.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use entity::{
    CommitmentStatus, IdeaStatus, MilestoneStatus, Stage, StallReason, commitment, commitment_idea,
    idea, milestone, regency, stage_transition, unit,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
    sea_query::{Alias, Expr, ExprTrait, Func, Query},
};

use crate::access::Caller;
use crate::domain::{Domain, idea::IdeaFilter};
use crate::error::DomainResult;

/// Ideas per stage, one entry per 5D stage in order.
#[derive(Debug, Clone, PartialEq)]
pub struct StageCount {
    pub stage: Stage,
    pub count: u64,
}

/// One stage of the funnel.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelStage {
    pub stage: Stage,
    /// Ideas that got at least this far (now here or beyond, or here once and sent back).
    pub reached: u64,
    /// Ideas in this stage now, whatever their status.
    pub current: u64,
    pub active: u64,
    pub stalled: u64,
    pub dropped: u64,
    /// `reached` over the previous stage's `reached`; None for the first stage or when nothing reached it.
    pub conversion: Option<f64>,
    /// The stalled ideas in this stage by kind of reason, largest first.
    pub stalled_by_reason: Vec<ReasonCount>,
    /// Completed stays in this stage: how many, their mean and median length in days.
    pub stays: u64,
    pub average_days: Option<f64>,
    pub median_days: Option<f64>,
    /// Milestones of the action plans of the ideas in this stage now: done, and planned
    /// (dropped ones left out).
    pub milestones_done: u64,
    pub milestones_planned: u64,
}

/// The funnel of the ideas matching a filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Funnel {
    pub stages: Vec<FunnelStage>,
    pub total: u64,
    pub active: u64,
    pub stalled: u64,
    pub dropped: u64,
    /// Ideas that reached DELIVER (were launched), whatever happened after.
    pub launched: u64,
    /// Stalled ideas by kind of reason, largest first.
    pub stalled_by_reason: Vec<ReasonCount>,
    pub commitments: CommitmentCounts,
}

/// Stalled ideas with one kind of reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCount {
    pub reason: StallReason,
    pub count: u64,
}

/// Counts per reason, largest first (ties in the reasons' order).
fn by_reason(counts: impl Iterator<Item = (StallReason, u64)>) -> Vec<ReasonCount> {
    let mut merged: Vec<ReasonCount> = Vec::new();
    for (reason, count) in counts {
        match merged.iter_mut().find(|r| r.reason == reason) {
            Some(entry) => entry.count += count,
            None => merged.push(ReasonCount { reason, count }),
        }
    }
    let order = |r: &StallReason| StallReason::all().iter().position(|x| x == r);
    merged.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then_with(|| order(&a.reason).cmp(&order(&b.reason)))
    });
    merged
}

/// Commitments covering the matching ideas, by status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommitmentCounts {
    pub draft: u64,
    pub signed: u64,
    pub fulfilled: u64,
    pub withdrawn: u64,
}

/// Dimensions `idea_counts` groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdeaGrouping {
    Stage,
    Status,
    UnitKind,
    Type,
    Form,
    Maturity,
    Regency,
    Unit,
    Cohort,
    Year,
    /// Stalled ideas by kind of reason (other ideas are not counted).
    StallReason,
}

/// One group of `idea_counts`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupCount {
    /// Machine key: the enum name, the row id or the year.
    pub key: String,
    /// What a person reads: the stage name, the regency or unit name, the year.
    pub label: String,
    /// Database id when grouping by regency, unit or cohort.
    pub id: Option<i32>,
    pub count: u64,
}

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some(f64::midpoint(sorted[n / 2 - 1], sorted[n / 2])),
    }
}

/// What the funnel is computed from, each counted in SQL: the matching ideas by stage and
/// status, by the highest stage they reached, the stalled ones by stage and reason, and the
/// lengths of completed stays per stage.
struct FunnelCounts {
    /// (stage rank, status, count) rows.
    by_stage_status: Vec<(i32, String, i64)>,
    /// Ideas per highest stage rank reached.
    reached_at_peak: HashMap<i32, u64>,
    /// (stage rank, reason, count) rows of the stalled ideas.
    stalled: Vec<(i32, StallReason, u64)>,
    stays: HashMap<Stage, Vec<f64>>,
}

impl FunnelCounts {
    /// The funnel: the totals, then each stage in order with its conversion from the one
    /// before.
    fn funnel(&self, commitments: CommitmentCounts) -> Funnel {
        let mut funnel = Funnel {
            stages: Vec::with_capacity(5),
            total: 0,
            active: 0,
            stalled: 0,
            dropped: 0,
            launched: 0,
            stalled_by_reason: by_reason(self.stalled.iter().map(|(_, r, n)| (*r, *n))),
            commitments,
        };
        for (_, status, n) in &self.by_stage_status {
            let n = *n as u64;
            funnel.total += n;
            match IdeaStatus::parse(status) {
                Some(IdeaStatus::Active) => funnel.active += n,
                Some(IdeaStatus::Stalled) => funnel.stalled += n,
                Some(IdeaStatus::Dropped) => funnel.dropped += n,
                None => {}
            }
        }
        let mut previous_reached: Option<u64> = None;
        for stage in Stage::ALL {
            let reached = self.reached(stage, funnel.total);
            funnel
                .stages
                .push(self.stage(stage, reached, previous_reached));
            previous_reached = Some(reached);
            if stage == Stage::Deliver {
                funnel.launched = reached;
            }
        }
        funnel
    }

    /// How many ideas got at least as far as `stage`, out of `total`.
    fn reached(&self, stage: Stage, total: u64) -> u64 {
        // Every idea comes out of the lab's drum-up, so all of them reached DRUM_UP.
        if stage == Stage::DrumUp {
            total
        } else {
            self.reached_at_peak
                .iter()
                .filter(|(peak, _)| **peak >= stage.rank())
                .map(|(_, n)| *n)
                .sum()
        }
    }

    /// One stage of the funnel, `reached` by that many ideas, after a stage reached by
    /// `previous_reached` (None for the first).
    fn stage(&self, stage: Stage, reached: u64, previous_reached: Option<u64>) -> FunnelStage {
        let here = |status: IdeaStatus| -> u64 {
            self.by_stage_status
                .iter()
                .filter(|(s, st, _)| *s == stage.rank() && st == status.as_str())
                .map(|(_, _, n)| *n as u64)
                .sum()
        };
        let (active, stalled, dropped) = (
            here(IdeaStatus::Active),
            here(IdeaStatus::Stalled),
            here(IdeaStatus::Dropped),
        );
        let mut days = self.stays.get(&stage).cloned().unwrap_or_default();
        days.sort_by(f64::total_cmp);
        FunnelStage {
            stage,
            reached,
            current: active + stalled + dropped,
            active,
            stalled,
            dropped,
            conversion: previous_reached
                .filter(|p| *p > 0)
                .map(|p| reached as f64 / p as f64),
            stalled_by_reason: by_reason(
                self.stalled
                    .iter()
                    .filter(|(s, _, _)| *s == stage.rank())
                    .map(|(_, r, n)| (*r, *n)),
            ),
            stays: days.len() as u64,
            average_days: (!days.is_empty()).then(|| days.iter().sum::<f64>() / days.len() as f64),
            median_days: median(&days),
            milestones_done: 0,
            milestones_planned: 0,
        }
    }
}

impl Domain {
    /// Ideas per stage, all five stages in order.
    pub async fn stage_counts(
        &self,
        caller: &Caller,
        filter: &IdeaFilter,
    ) -> DomainResult<Vec<StageCount>> {
        let filter = &public_figures(caller, filter, None)?;
        let rows: Vec<(i32, i64)> = self
            .ideas_matching(filter)?
            .select_only()
            .column(idea::Column::Stage)
            .column_as(idea::Column::Id.count(), "n")
            .group_by(idea::Column::Stage)
            .into_tuple()
            .all(self.db())
            .await?;
        let counts: HashMap<i32, i64> = rows.into_iter().collect();
        Ok(Stage::ALL
            .iter()
            .map(|stage| StageCount {
                stage: *stage,
                count: counts.get(&stage.rank()).copied().unwrap_or_default() as u64,
            })
            .collect())
    }

    /// The funnel: per stage how many reached it, are in it, converted; totals and commitments.
    pub async fn funnel(&self, caller: &Caller, filter: &IdeaFilter) -> DomainResult<Funnel> {
        let filter = public_figures(caller, filter, None)?;
        self.funnel_on(self.db(), &filter).await
    }

    /// The funnel read through `db` (a connection or a snapshot transaction).
    pub(crate) async fn funnel_on<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<Funnel> {
        let counts = FunnelCounts {
            by_stage_status: self.ideas_by_stage_and_status(db, filter).await?,
            reached_at_peak: self.ideas_by_peak_stage(db, filter).await?,
            stalled: self.stalled_by_stage_and_reason(db, filter).await?,
            stays: self.stage_stays(db, filter).await?,
        };
        let commitments = self.commitment_counts(db, filter).await?;
        let mut funnel = counts.funnel(commitments);
        for (rank, status, n) in self.milestones_by_stage(db, filter).await? {
            if let Some(stage) = funnel.stages.iter_mut().find(|s| s.stage.rank() == rank) {
                stage.milestones_planned += n as u64;
                if status == MilestoneStatus::Done.as_str() {
                    stage.milestones_done += n as u64;
                }
            }
        }
        Ok(funnel)
    }

    /// The milestones (dropped ones left out) of the matching ideas' plans, by the idea's
    /// stage and the milestone's status, as (stage rank, status, count) rows.
    async fn milestones_by_stage<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<Vec<(i32, String, i64)>> {
        let ideas = self
            .ideas_matching(filter)?
            .select_only()
            .column(idea::Column::Id)
            .into_query();
        let to_idea: sea_orm::RelationDef = milestone::Entity::belongs_to(idea::Entity)
            .from(milestone::Column::IdeaId)
            .to(idea::Column::Id)
            .into();
        Ok(milestone::Entity::find()
            .select_only()
            .column(idea::Column::Stage)
            .column(milestone::Column::Status)
            .column_as(milestone::Column::Id.count(), "n")
            .join(sea_orm::JoinType::InnerJoin, to_idea)
            .filter(milestone::Column::IdeaId.in_subquery(ideas))
            .filter(milestone::Column::Status.ne(MilestoneStatus::Dropped))
            .group_by(idea::Column::Stage)
            .group_by(milestone::Column::Status)
            .into_tuple()
            .all(db)
            .await?)
    }

    /// How many of the matching ideas are in each stage with each status, as
    /// (stage rank, status, count) rows.
    async fn ideas_by_stage_and_status<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<Vec<(i32, String, i64)>> {
        Ok(self
            .ideas_matching(filter)?
            .select_only()
            .column(idea::Column::Stage)
            .column(idea::Column::Status)
            .column_as(idea::Column::Id.count(), "n")
            .group_by(idea::Column::Stage)
            .group_by(idea::Column::Status)
            .into_tuple()
            .all(db)
            .await?)
    }

    /// How many of the matching ideas have each stage rank as the highest they ever reached,
    /// read from the audit trail.
    async fn ideas_by_peak_stage<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<HashMap<i32, u64>> {
        let peaks = Query::select()
            .expr_as(
                Func::max(Expr::col(stage_transition::Column::ToStage)),
                Alias::new("peak"),
            )
            .from(stage_transition::Entity)
            .and_where(
                stage_transition::Column::IdeaId.in_subquery(self.idea_ids_matching(filter)?),
            )
            .group_by_col(stage_transition::Column::IdeaId)
            .to_owned();
        let per_peak = Query::select()
            .column(Alias::new("peak"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from_subquery(peaks, Alias::new("peaks"))
            .group_by_col(Alias::new("peak"))
            .to_owned();
        let mut reached_at_peak: HashMap<i32, u64> = HashMap::new();
        for row in db.query_all(&per_peak).await? {
            let peak: i32 = row.try_get("", "peak")?;
            let n: i64 = row.try_get("", "n")?;
            reached_at_peak.insert(peak, n as u64);
        }
        Ok(reached_at_peak)
    }

    /// How many of the matching stalled ideas are in each stage with each kind of reason, as
    /// (stage rank, reason, count) rows; a reason not stored counts as OTHER.
    async fn stalled_by_stage_and_reason<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<Vec<(i32, StallReason, u64)>> {
        let stalled: Vec<(i32, Option<String>, i64)> = self
            .ideas_matching(filter)?
            .filter(idea::Column::Status.eq(IdeaStatus::Stalled))
            .select_only()
            .column(idea::Column::Stage)
            .column(idea::Column::StallReason)
            .column_as(idea::Column::Id.count(), "n")
            .group_by(idea::Column::Stage)
            .group_by(idea::Column::StallReason)
            .into_tuple()
            .all(db)
            .await?;
        Ok(stalled
            .into_iter()
            .map(|(stage, reason, n)| {
                let reason = reason
                    .as_deref()
                    .and_then(StallReason::parse)
                    .unwrap_or(StallReason::Other);
                (stage, reason, n as u64)
            })
            .collect())
    }

    /// Lengths in days of every completed stay in a stage (entered, then left), per stage.
    /// Reads only (idea, stage, time) triples of the audit trail.
    async fn stage_stays<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<HashMap<Stage, Vec<f64>>> {
        let moves: Vec<(i32, i32, DateTime<Utc>)> = stage_transition::Entity::find()
            .select_only()
            .column(stage_transition::Column::IdeaId)
            .column(stage_transition::Column::ToStage)
            .column(stage_transition::Column::At)
            .filter(stage_transition::Column::IdeaId.in_subquery(self.idea_ids_matching(filter)?))
            .order_by_asc(stage_transition::Column::IdeaId)
            .order_by_asc(stage_transition::Column::At)
            .order_by_asc(stage_transition::Column::Id)
            .into_tuple()
            .all(db)
            .await?;
        let mut stays: HashMap<Stage, Vec<f64>> = HashMap::new();
        let mut open: Option<(i32, i32, DateTime<Utc>)> = None;
        for (idea_id, stage, at) in moves {
            match open {
                Some((open_idea, open_stage, since)) if open_idea == idea_id => {
                    if stage != open_stage {
                        if let Some(s) = Stage::ALL.iter().find(|s| s.rank() == open_stage) {
                            let days = (at - since).num_seconds() as f64 / 86_400.0;
                            stays.entry(*s).or_default().push(days);
                        }
                        open = Some((idea_id, stage, at));
                    }
                }
                _ => open = Some((idea_id, stage, at)),
            }
        }
        Ok(stays)
    }

    /// Commitments covering the ideas matching `filter`, by status.
    async fn commitment_counts<C: ConnectionTrait>(
        &self,
        db: &C,
        filter: &IdeaFilter,
    ) -> DomainResult<CommitmentCounts> {
        let covering = Query::select()
            .column(commitment_idea::Column::CommitmentId)
            .from(commitment_idea::Entity)
            .and_where(commitment_idea::Column::IdeaId.in_subquery(self.idea_ids_matching(filter)?))
            .to_owned();
        let rows: Vec<(String, i64)> = commitment::Entity::find()
            .select_only()
            .column(commitment::Column::Status)
            .column_as(commitment::Column::Id.count(), "n")
            .filter(commitment::Column::Id.in_subquery(covering))
            .group_by(commitment::Column::Status)
            .into_tuple()
            .all(db)
            .await?;
        let mut counts = CommitmentCounts::default();
        for (status, n) in rows {
            let n = n as u64;
            match CommitmentStatus::parse(&status) {
                Some(CommitmentStatus::Draft) => counts.draft = n,
                Some(CommitmentStatus::Signed) => counts.signed = n,
                Some(CommitmentStatus::Fulfilled) => counts.fulfilled = n,
                Some(CommitmentStatus::Withdrawn) => counts.withdrawn = n,
                None => {}
            }
        }
        Ok(counts)
    }

    /// Counts of the matching ideas grouped by one dimension, largest group first.
    pub async fn idea_counts(
        &self,
        caller: &Caller,
        grouping: IdeaGrouping,
        filter: &IdeaFilter,
    ) -> DomainResult<Vec<GroupCount>> {
        let filter = &public_figures(caller, filter, Some(grouping))?;
        let backend = self.db().get_database_backend();
        let key = match grouping {
            IdeaGrouping::Stage => Expr::col((idea::Entity, idea::Column::Stage)),
            IdeaGrouping::Status => Expr::col((idea::Entity, idea::Column::Status)),
            IdeaGrouping::Type => Expr::col((idea::Entity, idea::Column::InnovationType)),
            IdeaGrouping::Form => Expr::col((idea::Entity, idea::Column::Form)),
            IdeaGrouping::Maturity => Expr::col((idea::Entity, idea::Column::Maturity)),
            IdeaGrouping::Regency => Expr::col((idea::Entity, idea::Column::RegencyId)),
            IdeaGrouping::Unit => Expr::col((idea::Entity, idea::Column::UnitId)),
            IdeaGrouping::Cohort => Expr::col((idea::Entity, idea::Column::CohortId)),
            IdeaGrouping::UnitKind => Expr::col((unit::Entity, unit::Column::Kind)),
            IdeaGrouping::StallReason => Expr::cust("COALESCE(\"idea\".\"stall_reason\", 'OTHER')"),
            IdeaGrouping::Year => match backend {
                DbBackend::Postgres => {
                    Expr::cust("CAST(EXTRACT(YEAR FROM \"idea\".\"submitted_at\") AS TEXT)")
                }
                _ => Expr::cust("SUBSTR(\"idea\".\"submitted_at\", 1, 4)"),
            },
        };
        let key = Expr::expr(key).cast_as(Alias::new("TEXT"));
        let mut select = Query::select();
        select
            .expr_as(key.clone(), Alias::new("k"))
            .expr_as(Expr::cust("COUNT(*)"), Alias::new("n"))
            .from(idea::Entity)
            .cond_where(filter.condition()?)
            .add_group_by([key]);
        if grouping == IdeaGrouping::StallReason {
            select.and_where(
                Expr::col((idea::Entity, idea::Column::Status)).eq(IdeaStatus::Stalled.as_str()),
            );
        }
        if grouping == IdeaGrouping::UnitKind {
            select.inner_join(
                unit::Entity,
                Expr::col((unit::Entity, unit::Column::Id))
                    .equals((idea::Entity, idea::Column::UnitId)),
            );
        }
        let mut groups = Vec::new();
        for row in self.db().query_all(&select).await? {
            let key: String = row.try_get("", "k")?;
            let n: i64 = row.try_get("", "n")?;
            groups.push(GroupCount {
                label: key.clone(),
                id: None,
                key,
                count: n as u64,
            });
        }
        self.label_groups(caller, grouping, &mut groups).await?;
        groups.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
        Ok(groups)
    }

    /// Replaces ids and ranks with what a person reads. Regency names are public; unit and
    /// cohort names are read as the caller (callers without a token cannot group by those).
    async fn label_groups(
        &self,
        caller: &Caller,
        grouping: IdeaGrouping,
        groups: &mut [GroupCount],
    ) -> DomainResult<()> {
        let ids: Vec<i32> = groups.iter().filter_map(|g| g.key.parse().ok()).collect();
        let names: HashMap<i32, String> = match grouping {
            IdeaGrouping::Regency => regency::Entity::find()
                .filter(regency::Column::Id.is_in(ids.clone()))
                .all(self.db())
                .await?
                .into_iter()
                .map(|r| (r.id, r.name))
                .collect(),
            IdeaGrouping::Unit => self
                .units_by_id(caller, &ids)
                .await?
                .into_iter()
                .map(|(id, u)| (id, u.name))
                .collect(),
            IdeaGrouping::Cohort => self
                .cohorts_by_id(caller, &ids)
                .await?
                .into_iter()
                .map(|(id, c)| (id, c.name))
                .collect(),
            IdeaGrouping::Stage => Stage::ALL
                .iter()
                .map(|s| (s.rank(), s.as_str().to_owned()))
                .collect(),
            _ => HashMap::new(),
        };
        for group in groups.iter_mut() {
            let Ok(id) = group.key.parse::<i32>() else {
                continue;
            };
            match grouping {
                IdeaGrouping::Stage => {
                    if let Some(name) = names.get(&id) {
                        group.key = name.clone();
                    }
                }
                IdeaGrouping::Regency | IdeaGrouping::Unit | IdeaGrouping::Cohort => {
                    group.id = Some(id);
                    if let Some(name) = names.get(&id) {
                        group.label = name.clone();
                    }
                }
                _ => {}
            }
        }
        if !matches!(
            grouping,
            IdeaGrouping::Regency | IdeaGrouping::Unit | IdeaGrouping::Cohort
        ) {
            for group in groups.iter_mut() {
                group.label = words(&group.key);
            }
        }
        Ok(())
    }
}

/// `filter` limited to what `caller` may count. A caller who may read only the public figures
/// counts by coarse dimensions: not per unit, cohort or mentor, and without a text search,
/// which would let it read idea titles one letter at a time.
pub(crate) fn public_figures(
    caller: &Caller,
    filter: &IdeaFilter,
    grouping: Option<IdeaGrouping>,
) -> DomainResult<IdeaFilter> {
    let scope = caller.aggregate_scope()?;
    if caller.read_scope().is_err() {
        let refused = |what: &str| {
            crate::error::DomainError::Unauthenticated(format!(
                "Without a token the public figures are filtered by regency, cohort, stage, status, type, form, maturity and unit kind and grouped by regency, stage, status, unit kind, type, form, maturity, year or stall reason; {what} needs a token."
            ))
        };
        if matches!(grouping, Some(IdeaGrouping::Unit | IdeaGrouping::Cohort)) {
            return Err(refused("grouping by unit or cohort"));
        }
        if let Some(what) = private_part(filter) {
            return Err(refused(what));
        }
    }
    Ok(filter.within(scope))
}

/// The first part of a filter that only callers who may read rows may use. Public figures are
/// counted by the dimensions the README lists as public (regency, cohort, stage, status, type,
/// form, maturity, unit kind), each a list, all of them together: no text search, units,
/// mentors, initiators, stall reasons, dates or days in a stage, and no `and`/`or`/`not`, which
/// would narrow a count to single ideas.
fn private_part(filter: &IdeaFilter) -> Option<&'static str> {
    let private = [
        (
            filter
                .search
                .as_deref()
                .is_some_and(|s| !s.trim().is_empty()),
            "a text search",
        ),
        (filter.unit_ids.is_some(), "a filter on units"),
        (filter.mentor_ids.is_some(), "a filter on mentors"),
        (filter.initiators.is_some(), "a filter on initiators"),
        (filter.stall_reasons.is_some(), "a filter on stall reasons"),
        (
            filter.in_stage_longer_than_days.is_some(),
            "a filter on days in a stage",
        ),
        (
            filter.overdue_milestones.is_some(),
            "a filter on overdue milestones",
        ),
        (
            filter.submitted_from.is_some() || filter.submitted_to.is_some(),
            "a filter on submission dates",
        ),
        (
            filter.launched_from.is_some() || filter.launched_to.is_some(),
            "a filter on launch dates",
        ),
        (
            !filter.all_of.is_empty() || !filter.any_of.is_empty() || filter.none_of.is_some(),
            "combining filters with and, or and not",
        ),
    ];
    private
        .into_iter()
        .find_map(|(used, what)| used.then_some(what))
}

/// A stored key as a person reads it: `PUSKESMAS` → "Puskesmas", `NON_DIGITAL` → "Non-digital",
/// `DRUM_UP` → "Drum-Up"; acronyms stay as they are (`RSUD`, `BUMD`, `DPRD`).
pub fn words(key: &str) -> String {
    match key {
        "DRUM_UP" => return "Drum-Up".to_owned(),
        "NON_DIGITAL" => return "Non-digital".to_owned(),
        _ => {}
    }
    key.split('_')
        .enumerate()
        .map(|(i, word)| {
            if matches!(word, "RSUD" | "BUMD" | "DPRD" | "OPD" | "ASN") {
                word.to_owned()
            } else if i == 0 {
                let lower = word.to_lowercase();
                let mut chars = lower.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().collect::<String>() + chars.as_str())
                    .unwrap_or_default()
            } else {
                word.to_lowercase()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod words_tests {
    use super::words;

    #[test]
    fn keys_read_as_words() {
        assert_eq!(words("PUSKESMAS"), "Puskesmas");
        assert_eq!(words("PUBLIC_SERVICE"), "Public service");
        assert_eq!(words("DRUM_UP"), "Drum-Up");
        assert_eq!(words("RSUD"), "RSUD");
        assert_eq!(words("WORK_UNIT"), "Work unit");
    }
}
