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

/// Ideas currently in one stage.
#[derive(SimpleObject)]
pub struct StageCount {
    /// The stage.
    pub stage: Stage,
    /// Ideas in it now, whatever their status.
    pub count: u64,
}

impl From<aggregate::StageCount> for StageCount {
    fn from(c: aggregate::StageCount) -> Self {
        StageCount {
            stage: c.stage.into(),
            count: c.count,
        }
    }
}

/// One stage of the funnel.
pub struct FunnelStage(pub aggregate::FunnelStage);

#[Object]
impl FunnelStage {
    /// The stage.
    async fn stage(&self) -> Stage {
        self.0.stage.into()
    }

    /// Ideas that got at least this far (every idea reached DRUM_UP; an idea sent back still counts).
    async fn reached(&self) -> u64 {
        self.0.reached
    }

    /// Ideas in this stage now, whatever their status.
    async fn current(&self) -> u64 {
        self.0.current
    }

    /// Ideas in this stage now and active.
    async fn active(&self) -> u64 {
        self.0.active
    }

    /// Ideas stalled in this stage.
    async fn stalled(&self) -> u64 {
        self.0.stalled
    }

    /// Ideas dropped in this stage.
    async fn dropped(&self) -> u64 {
        self.0.dropped
    }

    /// The ideas stalled in this stage by kind of reason, largest first.
    async fn stalled_by_reason(&self) -> Vec<ReasonCount> {
        reason_counts(&self.0.stalled_by_reason)
    }

    /// `reached` divided by the previous stage's `reached` (0..1); null for DRUM_UP or when none reached the previous stage.
    async fn conversion(&self) -> Option<f64> {
        self.0.conversion
    }

    /// Completed stays in this stage (ideas that entered and left it).
    async fn completed_stays(&self) -> u64 {
        self.0.stays
    }

    /// Mean length of a completed stay, in days.
    async fn average_days(&self) -> Option<f64> {
        self.0.average_days
    }

    /// Median length of a completed stay, in days.
    async fn median_days(&self) -> Option<f64> {
        self.0.median_days
    }
}

/// Commitments covering the ideas in view, by status.
#[derive(SimpleObject)]
pub struct CommitmentCounts {
    /// Written, not signed.
    pub draft: u64,
    /// Signed, not yet fulfilled.
    pub signed: u64,
    /// Fulfilled.
    pub fulfilled: u64,
    /// Withdrawn.
    pub withdrawn: u64,
}

/// Stalled ideas with one kind of reason.
#[derive(SimpleObject)]
pub struct ReasonCount {
    /// The kind of reason.
    pub reason: StallReason,
    /// How many stalled ideas give it.
    pub count: u64,
}

fn reason_counts(counts: &[aggregate::ReasonCount]) -> Vec<ReasonCount> {
    counts
        .iter()
        .map(|c| ReasonCount {
            reason: c.reason.into(),
            count: c.count,
        })
        .collect()
}

/// The 5D funnel of the ideas matching a filter.
pub struct Funnel(pub aggregate::Funnel);

#[Object]
impl Funnel {
    /// The five stages in order.
    async fn stages(&self) -> Vec<FunnelStage> {
        self.0.stages.iter().cloned().map(FunnelStage).collect()
    }

    /// All matching ideas.
    async fn total(&self) -> u64 {
        self.0.total
    }

    /// Ideas active now.
    async fn active(&self) -> u64 {
        self.0.active
    }

    /// Ideas stalled now.
    async fn stalled(&self) -> u64 {
        self.0.stalled
    }

    /// Ideas dropped.
    async fn dropped(&self) -> u64 {
        self.0.dropped
    }

    /// Ideas that reached DELIVER (were launched), whatever happened after.
    async fn launched(&self) -> u64 {
        self.0.launched
    }

    /// Stalled ideas by kind of reason, largest first.
    async fn stalled_by_reason(&self) -> Vec<ReasonCount> {
        reason_counts(&self.0.stalled_by_reason)
    }

    /// Commitments covering these ideas, by status: signed vs fulfilled.
    async fn commitments(&self) -> CommitmentCounts {
        let c = &self.0.commitments;
        CommitmentCounts {
            draft: c.draft,
            signed: c.signed,
            fulfilled: c.fulfilled,
            withdrawn: c.withdrawn,
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
}

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

    /// Ideas in the group.
    async fn count(&self) -> u64 {
        self.group.count
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
            .stage_counts(&crate::graphql::mutation::caller(ctx), &filter_of(filter)?)
            .await?;
        Ok(counts.into_iter().map(StageCount::from).collect())
    }

    /// The funnel of the matching ideas: per stage reached / current / conversion, time in
    /// stage, totals, and the commitments covering them.
    async fn funnel(&self, ctx: &Context<'_>, filter: Option<IdeaFilter>) -> Result<Funnel> {
        Ok(Funnel(
            ctx.data::<Domain>()?
                .funnel(&crate::graphql::mutation::caller(ctx), &filter_of(filter)?)
                .await?,
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
                &crate::graphql::mutation::caller(ctx),
                group_by.into(),
                &filter_of(filter)?,
            )
            .await?;
        Ok(groups
            .into_iter()
            .map(|group| IdeaCount {
                group,
                grouping: group_by,
            })
            .collect())
    }
}
