//! Dashboard aggregates: stage counts, the funnel and group-by counts.

use async_graphql::{Context, Enum, ID, Object, Result, SimpleObject};

use super::{
    enums::{Stage, StallReason},
    idea::IdeaFilter,
    ids::{self, Kind},
};
use crate::domain::{
    Domain,
    idea::aggregate::{self, IdeaGrouping},
};

/// The smallest count public figures show exactly (`LABINOV_ANONYMOUS_MIN_COUNT`), as schema
/// data; [`DEFAULT_PUBLIC_MINIMUM`] when the schema has none.
#[derive(Debug, Clone, Copy)]
pub struct PublicMinimum(pub u64);

/// The minimum of a schema built without [`PublicMinimum`] (tests, the SDL).
pub const DEFAULT_PUBLIC_MINIMUM: u64 = 5;

/// How counts are shown to the caller: exactly, or for public figures (callers who may read no
/// rows) with the counts from 1 to the minimum less one hidden, as null, so that no public filter
/// singles out an idea. Derived figures (conversions, days in a stage) of a hidden count are
/// hidden too.
#[derive(Debug, Clone, Copy, Default)]
pub struct Shown {
    hide_below: Option<u64>,
}

impl Shown {
    /// How counts are shown to the caller of `ctx`.
    pub fn to(ctx: &Context<'_>) -> Self {
        if crate::graphql::context::caller(ctx).read_scope().is_ok() {
            return Self::default();
        }
        let min = ctx
            .data_opt::<PublicMinimum>()
            .map_or(DEFAULT_PUBLIC_MINIMUM, |m| m.0);
        Self {
            hide_below: (min > 1).then_some(min),
        }
    }

    /// `n` as shown: None when it is hidden.
    pub fn count(self, n: u64) -> Option<u64> {
        match self.hide_below {
            Some(min) if n > 0 && n < min => None,
            _ => Some(n),
        }
    }

    /// The minimum, when counts below it are hidden.
    pub fn fewer_than(self) -> Option<u64> {
        self.hide_below
    }
}

/// Ideas currently in one stage.
#[derive(SimpleObject)]
pub struct StageCount {
    /// The stage.
    pub stage: Stage,
    /// Ideas in it now, whatever their status; null when public figures hide it (fewer than
    /// `fewerThan`).
    pub count: Option<u64>,
    /// When counts below it are hidden (public figures, for callers without a token): the
    /// smallest count shown; null when every count is exact.
    pub fewer_than: Option<u64>,
}

impl StageCount {
    pub fn shown(c: &aggregate::StageCount, shown: Shown) -> Self {
        StageCount {
            stage: c.stage.into(),
            count: shown.count(c.count),
            fewer_than: shown.fewer_than(),
        }
    }
}

/// Milestones of action plans counted together.
#[derive(SimpleObject)]
pub struct MilestoneCounts {
    /// Milestones done.
    pub done: u64,
    /// Milestones planned (dropped ones left out).
    pub planned: u64,
}

/// One stage of the funnel. Counts are null when public figures hide them (see
/// `Funnel.fewerThan`).
pub struct FunnelStage(pub aggregate::FunnelStage, pub Shown, Row);

/// Which of a row's counts are hidden: its active, stalled, dropped and current (or total), and
/// its stall reasons by position.
#[derive(Debug, Clone, Default)]
pub struct Row {
    cells: [bool; 4],
    reasons: Vec<bool>,
}

impl Row {
    fn show(&self, cell: usize, n: u64) -> Option<u64> {
        (!self.cells[cell]).then_some(n)
    }
}

/// The counts of a funnel hidden from public figures: the small ones (1 to the minimum less
/// one) and enough others that none of them follows from the shown ones by addition. The stage ×
/// status table with its totals, and each list of stall reasons with its stalled count, are
/// lines whose counts add up; a line hides either none of its counts or at least two, the
/// smallest others hidden to make it so.
fn mask(funnel: &aggregate::Funnel, shown: Shown) -> Vec<Row> {
    // Rows 0..5 are the stages, the last the funnel's totals; cells active, stalled, dropped, sum.
    let mut values: Vec<[u64; 4]> = funnel
        .stages
        .iter()
        .map(|s| [s.active, s.stalled, s.dropped, s.current])
        .collect();
    values.push([funnel.active, funnel.stalled, funnel.dropped, funnel.total]);
    let reasons: Vec<Vec<u64>> = funnel
        .stages
        .iter()
        .map(|s| &s.stalled_by_reason)
        .chain(std::iter::once(&funnel.stalled_by_reason))
        .map(|list| list.iter().map(|r| r.count).collect())
        .collect();
    let mut rows: Vec<Row> = values
        .iter()
        .zip(&reasons)
        .map(|(cells, reasons)| Row {
            cells: cells.map(|n| shown.count(n).is_none()),
            reasons: reasons.iter().map(|n| shown.count(*n).is_none()).collect(),
        })
        .collect();
    if shown.fewer_than().is_none() {
        return rows;
    }
    // The count to hide next in a line that hides exactly one: the smallest shown one, a
    // non-zero part before a zero and before the line's sum (which comes last).
    let complete = |line: &[(u64, bool)]| -> Option<usize> {
        if line.iter().filter(|(_, hidden)| *hidden).count() != 1 {
            return None;
        }
        line.iter()
            .enumerate()
            .filter(|(_, (_, hidden))| !hidden)
            .min_by_key(|(i, (n, _))| (*n == 0, *i == line.len() - 1, *n))
            .map(|(i, _)| i)
    };
    loop {
        let mut changed = false;
        for r in 0..rows.len() {
            let line: Vec<(u64, bool)> = (0..4).map(|c| (values[r][c], rows[r].cells[c])).collect();
            if let Some(c) = complete(&line) {
                rows[r].cells[c] = true;
                changed = true;
            }
            // The stall reasons add up to the row's stalled count.
            let mut line: Vec<(u64, bool)> = reasons[r]
                .iter()
                .zip(&rows[r].reasons)
                .map(|(n, h)| (*n, *h))
                .collect();
            line.push((values[r][1], rows[r].cells[1]));
            if let Some(i) = complete(&line) {
                if i == line.len() - 1 {
                    rows[r].cells[1] = true;
                } else {
                    rows[r].reasons[i] = true;
                }
                changed = true;
            }
        }
        // Each status over the stages adds up to the funnel's count of it.
        for c in 0..4 {
            let line: Vec<(u64, bool)> = values
                .iter()
                .zip(&rows)
                .map(|(value, row)| (value[c], row.cells[c]))
                .collect();
            if let Some(r) = complete(&line) {
                rows[r].cells[c] = true;
                changed = true;
            }
        }
        if !changed {
            return rows;
        }
    }
}

/// One stage of the funnel. Counts are null when public figures hide them (see
/// `Funnel.fewerThan`).
#[Object]
impl FunnelStage {
    /// The stage.
    async fn stage(&self) -> Stage {
        self.0.stage.into()
    }

    /// Ideas that got at least this far (every idea reached DRUM_UP; an idea sent back still counts).
    async fn reached(&self) -> Option<u64> {
        self.1.count(self.0.reached)
    }

    /// Ideas in this stage now, whatever their status.
    async fn current(&self) -> Option<u64> {
        self.2.show(3, self.0.current)
    }

    /// Ideas in this stage now and active.
    async fn active(&self) -> Option<u64> {
        self.2.show(0, self.0.active)
    }

    /// Ideas stalled in this stage.
    async fn stalled(&self) -> Option<u64> {
        self.2.show(1, self.0.stalled)
    }

    /// Ideas dropped in this stage.
    async fn dropped(&self) -> Option<u64> {
        self.2.show(2, self.0.dropped)
    }

    /// The ideas stalled in this stage by kind of reason, largest first.
    async fn stalled_by_reason(&self) -> Vec<ReasonCount> {
        reason_counts(&self.0.stalled_by_reason, &self.2)
    }

    /// `reached` divided by the previous stage's `reached` (0..1); null for DRUM_UP, when none
    /// reached the previous stage, or when public figures hide `reached`.
    async fn conversion(&self) -> Option<f64> {
        self.1.count(self.0.reached)?;
        self.0.conversion
    }

    /// Completed stays in this stage (ideas that entered and left it).
    async fn completed_stays(&self) -> Option<u64> {
        self.1.count(self.0.stays)
    }

    /// Mean length of a completed stay, in days.
    async fn average_days(&self) -> Option<f64> {
        self.1.count(self.0.stays)?;
        self.0.average_days
    }

    /// Median length of a completed stay, in days.
    async fn median_days(&self) -> Option<f64> {
        self.1.count(self.0.stays)?;
        self.0.median_days
    }
    /// The milestones of the action plans of the ideas in this stage now: done of planned
    /// (dropped ones left out). Null for public figures.
    async fn milestones(&self) -> Option<MilestoneCounts> {
        self.1.fewer_than().is_none().then_some(MilestoneCounts {
            done: self.0.milestones_done,
            planned: self.0.milestones_planned,
        })
    }
}

/// Commitments covering the ideas in view, by status (null when public figures hide a count).
#[derive(SimpleObject)]
pub struct CommitmentCounts {
    /// Written, not signed.
    pub draft: Option<u64>,
    /// Signed, not yet fulfilled.
    pub signed: Option<u64>,
    /// Fulfilled.
    pub fulfilled: Option<u64>,
    /// Withdrawn.
    pub withdrawn: Option<u64>,
}

/// Stalled ideas with one kind of reason.
#[derive(SimpleObject)]
pub struct ReasonCount {
    /// The kind of reason.
    pub reason: StallReason,
    /// How many stalled ideas give it; null when public figures hide it.
    pub count: Option<u64>,
}

fn reason_counts(counts: &[aggregate::ReasonCount], row: &Row) -> Vec<ReasonCount> {
    counts
        .iter()
        .enumerate()
        .map(|(i, c)| ReasonCount {
            reason: c.reason.into(),
            count: (!row.reasons.get(i).copied().unwrap_or_default()).then_some(c.count),
        })
        .collect()
}

/// The 5D funnel of the ideas matching a filter. For callers without a token (public figures)
/// counts from 1 to `fewerThan` − 1 read as null, and so do enough others that no hidden count
/// follows from the shown ones by addition, so no public filter singles out an idea.
pub struct Funnel(pub aggregate::Funnel, pub Shown, Vec<Row>);

impl Funnel {
    /// The funnel as the caller sees it.
    pub fn new(funnel: aggregate::Funnel, shown: Shown) -> Self {
        let rows = mask(&funnel, shown);
        Self(funnel, shown, rows)
    }

    fn totals(&self) -> &Row {
        &self.2[self.2.len() - 1]
    }
}

/// The 5D funnel of the ideas matching a filter. For callers without a token (public figures)
/// counts from 1 to `fewerThan` − 1 read as null, and so do enough others that no hidden count
/// follows from the shown ones by addition, so no public filter singles out an idea.
#[Object]
impl Funnel {
    /// The five stages in order.
    async fn stages(&self) -> Vec<FunnelStage> {
        self.0
            .stages
            .iter()
            .cloned()
            .zip(&self.2)
            .map(|(stage, row)| FunnelStage(stage, self.1, row.clone()))
            .collect()
    }

    /// When counts below it are hidden (public figures, for callers without a token): the
    /// smallest count shown; a hidden count is null. Null when every count is exact.
    async fn fewer_than(&self) -> Option<u64> {
        self.1.fewer_than()
    }

    /// All matching ideas.
    async fn total(&self) -> Option<u64> {
        self.totals().show(3, self.0.total)
    }

    /// Ideas active now.
    async fn active(&self) -> Option<u64> {
        self.totals().show(0, self.0.active)
    }

    /// Ideas stalled now.
    async fn stalled(&self) -> Option<u64> {
        self.totals().show(1, self.0.stalled)
    }

    /// Ideas dropped.
    async fn dropped(&self) -> Option<u64> {
        self.totals().show(2, self.0.dropped)
    }

    /// Ideas that reached DELIVER (were launched), whatever happened after.
    async fn launched(&self) -> Option<u64> {
        self.1.count(self.0.launched)
    }

    /// Stalled ideas by kind of reason, largest first.
    async fn stalled_by_reason(&self) -> Vec<ReasonCount> {
        reason_counts(&self.0.stalled_by_reason, self.totals())
    }

    /// Commitments covering these ideas, by status: signed vs fulfilled.
    async fn commitments(&self) -> CommitmentCounts {
        let (c, shown) = (&self.0.commitments, self.1);
        CommitmentCounts {
            draft: shown.count(c.draft),
            signed: shown.count(c.signed),
            fulfilled: shown.count(c.fulfilled),
            withdrawn: shown.count(c.withdrawn),
        }
    }
}

/// Dimension to group idea counts by.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum IdeaGroupBy {
    /// By current stage.
    Stage,
    /// By status.
    Status,
    /// By the kind of the owning unit.
    UnitKind,
    /// By innovation type.
    Type,
    /// By innovation form.
    Form,
    /// By maturity.
    Maturity,
    /// By regency.
    Regency,
    /// By owning unit.
    Unit,
    /// By lab edition.
    Cohort,
    /// By year of submission.
    Year,
    /// Stalled ideas by kind of reason (BUDGET, INNOVATOR_TRANSFERRED…); other ideas are not
    /// counted.
    StallReason,
}

impl From<IdeaGroupBy> for IdeaGrouping {
    fn from(g: IdeaGroupBy) -> Self {
        match g {
            IdeaGroupBy::Stage => IdeaGrouping::Stage,
            IdeaGroupBy::Status => IdeaGrouping::Status,
            IdeaGroupBy::UnitKind => IdeaGrouping::UnitKind,
            IdeaGroupBy::Type => IdeaGrouping::Type,
            IdeaGroupBy::Form => IdeaGrouping::Form,
            IdeaGroupBy::Maturity => IdeaGrouping::Maturity,
            IdeaGroupBy::Regency => IdeaGrouping::Regency,
            IdeaGroupBy::Unit => IdeaGrouping::Unit,
            IdeaGroupBy::Cohort => IdeaGrouping::Cohort,
            IdeaGroupBy::Year => IdeaGrouping::Year,
            IdeaGroupBy::StallReason => IdeaGrouping::StallReason,
        }
    }
}

/// The number of ideas in one group.
pub struct IdeaCount {
    group: aggregate::GroupCount,
    grouping: IdeaGroupBy,
    shown: Shown,
}

/// The number of ideas in one group.
#[Object]
impl IdeaCount {
    /// Machine key of the group: the enum value (e.g. "DESIGN"), the year, or the global ID
    /// of the regency, unit or cohort.
    async fn key(&self) -> String {
        let kind = match self.grouping {
            IdeaGroupBy::Regency => Some(Kind::Regency),
            IdeaGroupBy::Unit => Some(Kind::Unit),
            IdeaGroupBy::Cohort => Some(Kind::Cohort),
            _ => None,
        };
        match (kind, self.group.id) {
            (Some(kind), Some(id)) => ids::encode(kind, id).0,
            _ => self.group.key.clone(),
        }
    }

    /// What a person reads: the stage, the regency or unit name, the year.
    async fn label(&self) -> &str {
        &self.group.label
    }

    /// Ideas in the group; null when public figures hide it (fewer than `fewerThan`).
    async fn count(&self) -> Option<u64> {
        self.shown.count(self.group.count)
    }

    /// When counts below it are hidden (public figures, for callers without a token): the
    /// smallest count shown; null when every count is exact.
    async fn fewer_than(&self) -> Option<u64> {
        self.shown.fewer_than()
    }

    /// Global ID of the regency, unit or cohort, when grouping by one of them.
    async fn node_id(&self) -> Option<ID> {
        let kind = match self.grouping {
            IdeaGroupBy::Regency => Kind::Regency,
            IdeaGroupBy::Unit => Kind::Unit,
            IdeaGroupBy::Cohort => Kind::Cohort,
            _ => return None,
        };
        self.group.id.map(|id| ids::encode(kind, id))
    }
}

fn filter_of(filter: Option<IdeaFilter>) -> Result<crate::domain::idea::IdeaFilter> {
    Ok(filter
        .map(|f| f.to_domain())
        .transpose()?
        .unwrap_or_default())
}

#[derive(Default)]
pub struct AggregateQuery;

#[Object]
impl AggregateQuery {
    /// The five 5D stages in order, each with the number of matching ideas in it now.
    async fn stages(
        &self,
        ctx: &Context<'_>,
        filter: Option<IdeaFilter>,
    ) -> Result<Vec<StageCount>> {
        let counts = ctx
            .data::<Domain>()?
            .stage_counts(&crate::graphql::context::caller(ctx), &filter_of(filter)?)
            .await?;
        let shown = Shown::to(ctx);
        Ok(counts
            .into_iter()
            .map(|c| StageCount::shown(&c, shown))
            .collect())
    }

    /// The funnel of the matching ideas: per stage reached / current / conversion, time in
    /// stage, totals, and the commitments covering them.
    async fn funnel(&self, ctx: &Context<'_>, filter: Option<IdeaFilter>) -> Result<Funnel> {
        Ok(Funnel::new(
            ctx.data::<Domain>()?
                .funnel(&crate::graphql::context::caller(ctx), &filter_of(filter)?)
                .await?,
            Shown::to(ctx),
        ))
    }

    /// Matching ideas counted per group, largest group first; computed in the database.
    async fn idea_counts(
        &self,
        ctx: &Context<'_>,
        group_by: IdeaGroupBy,
        filter: Option<IdeaFilter>,
    ) -> Result<Vec<IdeaCount>> {
        let groups = ctx
            .data::<Domain>()?
            .idea_counts(
                &crate::graphql::context::caller(ctx),
                group_by.into(),
                &filter_of(filter)?,
            )
            .await?;
        let shown = Shown::to(ctx);
        Ok(groups
            .into_iter()
            .map(|group| IdeaCount {
                group,
                grouping: group_by,
                shown,
            })
            .collect())
    }
}
