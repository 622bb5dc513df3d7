//! Ideas: the type with the columns each of its fields reads, and the `ideas`/`idea` queries.
//! The filter and ordering, the page read and the mutations have modules of their own.

mod filter;
mod mutation;
mod page;

pub use filter::{IdeaFilter, IdeaOrder, IdeaOrderField, OrderDirection};
pub use mutation::IdeaMutation;
pub use page::{IdeaPage, IdeasArgs, idea_page};

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{idea, mentor, mentor_assignment, stage_transition};

use super::{
    action_plan::{ActionPlan, Progress, progress_today},
    commitment::Commitment,
    enums::{
        Decision, IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, Stage,
        StallReason,
    },
    ids::{self, Kind},
    loaders::{
        self, ActionPlanOfIdea, AssignmentsOfIdea, CohortId, CommitmentId, CommitmentsOfIdea,
        CurrentReviewsOfIdea, HandOversOfIdea, IdeaId, Loaders, RegencyId, ReviewsOfIdea,
        TransitionsOfIdea, UnitId,
    },
    mentor::{Mentor, MentorAssignment},
    ready::{Plain, Ready, now},
    regency::{Cohort, Regency},
    review::{HandOver, Innovator, Review},
    unit::Unit,
};
use crate::domain::{
    idea::Owners,
    rows::{ById, Seen},
};

/// An innovation idea moving through the 5D pipeline.
///
/// An idea of a page carries the page's unit, cohort, regency, mentors and mentor assignments
/// ([`Carried`], shared): they were read with only the columns the page's query selects, so
/// they serve this idea's fields and never a loader another field reads from.
pub struct Idea(pub Seen<idea::Model>, Option<Arc<Carried>>);

/// What the ideas of one page carry: their unit, cohort and regency and their mentors, read
/// with only the columns the page's query selects, and their mentor assignments when the query
/// selects them.
pub struct Carried {
    owners: Owners,
    mentors: Arc<ById<Seen<mentor::Model>>>,
    /// Every mentor assignment of each idea of the page, oldest first (an idea without one is
    /// not in it); None when the query selects none.
    assignments: Option<ById<Vec<mentor_assignment::Model>>>,
}

impl Carried {
    pub fn new(
        owners: Owners,
        mentors: ById<Seen<mentor::Model>>,
        assignments: Option<ById<Vec<mentor_assignment::Model>>>,
    ) -> Self {
        Self {
            owners,
            mentors: Arc::new(mentors),
            assignments,
        }
    }
}

impl From<idea::Model> for Idea {
    fn from(model: idea::Model) -> Self {
        Idea(Seen::all(model), None)
    }
}

impl Idea {
    /// The owner `get` finds among those the idea's page read with it, if it read them.
    fn owners<'a, M>(&'a self, get: impl FnOnce(&'a Owners) -> Option<&'a M>) -> Option<&'a M> {
        self.1.as_deref().and_then(|carried| get(&carried.owners))
    }

    /// The mentors the idea's page read with it (none if it read none).
    fn carried_mentors(&self) -> Option<&Arc<ById<Seen<mentor::Model>>>> {
        self.1.as_ref().map(|carried| &carried.mentors)
    }

    /// The idea's mentor assignments, oldest first, if its page read them.
    fn carried_assignments(&self) -> Option<&[mentor_assignment::Model]> {
        let assignments = self.1.as_deref()?.assignments.as_ref()?;
        Some(assignments.get(&self.0.id()).map_or(&[], Vec::as_slice))
    }

    /// The idea's mentor assignments, oldest first: those its page read, or from the loader.
    async fn assignments(&self, ctx: &Context<'_>) -> Result<Vec<mentor_assignment::Model>> {
        if let Some(assignments) = self.carried_assignments() {
            return Ok(assignments.to_vec());
        }
        Ok(ctx
            .data::<Loaders>()?
            .load_one(AssignmentsOfIdea(self.0.id()))
            .await?
            .unwrap_or_default())
    }
}

/// The fields a page answers without async-graphql's resolver ([`super::ready::Ready`]).
impl Plain for Idea {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => now(self.id(ctx), ctx),
            "title" => now(self.title(ctx), ctx),
            "problem" => now(self.problem(ctx), ctx),
            "description" => now(self.description(ctx), ctx),
            "type" => now(self.innovation_type(ctx), ctx),
            "form" => now(self.form(ctx), ctx),
            "affairsArea" => now(self.affairs_area(ctx), ctx),
            "initiator" => now(self.initiator(ctx), ctx),
            "stage" => now(self.stage(ctx), ctx),
            "status" => now(self.status(ctx), ctx),
            "statusReason" => now(self.status_reason(ctx), ctx),
            "stallReason" => now(self.stall_reason(ctx), ctx),
            "stageEnteredAt" => now(self.stage_entered_at(ctx), ctx),
            "daysInStage" => now(self.days_in_stage(ctx), ctx),
            "innovator" => now(self.innovator(ctx), ctx),
            "maturity" => now(self.maturity(ctx), ctx),
            "submittedAt" => now(self.submitted_at(ctx), ctx),
            "launchedOn" => now(self.launched_on(ctx), ctx),
            "version" => now(self.version(ctx), ctx),
            "updatedAt" => now(self.updated_at(ctx), ctx),
            "unit"
                if self
                    .0
                    .unit_id()
                    .is_ok_and(|id| self.owners(|o| o.units.get(id)).is_some()) =>
            {
                now(self.unit(ctx), ctx)
            }
            "cohort"
                if self
                    .0
                    .cohort_id()
                    .is_ok_and(|id| self.owners(|o| o.cohorts.get(id)).is_some()) =>
            {
                now(self.cohort(ctx), ctx)
            }
            "regency"
                if self
                    .0
                    .regency_id()
                    .is_ok_and(|id| self.owners(|o| o.regencies.get(id)).is_some()) =>
            {
                now(self.regency(ctx), ctx)
            }
            // The page read the assignments and their mentors with it.
            "mentors" if self.carried_assignments().is_some() => now(self.mentors(ctx), ctx),
            "mentorAssignments" if self.carried_assignments().is_some() => {
                now(self.mentor_assignments(ctx), ctx)
            }
            _ => None,
        }
    }
}

/// An innovation idea moving through the 5D pipeline.
#[Object]
#[allow(
    clippy::unused_async,
    reason = "async-graphql resolvers are async, also those that only read a column"
)]
impl Idea {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Idea, self.0.id())
    }

    /// Short name of the innovation.
    async fn title(&self) -> Result<&str> {
        Ok(self.0.title()?)
    }

    /// The problem the idea addresses.
    async fn problem(&self) -> Result<&str> {
        Ok(self.0.problem()?)
    }

    /// What the innovation does.
    async fn description(&self) -> Result<&str> {
        Ok(self.0.description()?)
    }

    /// Digital or non-digital (Indeks Inovasi Daerah).
    #[graphql(name = "type")]
    async fn innovation_type(&self) -> Result<InnovationType> {
        Ok((*self.0.innovation_type()?).into())
    }

    /// Governance, public service or other (Indeks Inovasi Daerah).
    async fn form(&self) -> Result<InnovationForm> {
        Ok((*self.0.form()?).into())
    }

    /// Government affairs area (urusan), free text.
    async fn affairs_area(&self) -> Result<&str> {
        Ok(self.0.affairs_area()?)
    }

    /// Who started the innovation.
    async fn initiator(&self) -> Result<Initiator> {
        Ok((*self.0.initiator()?).into())
    }

    /// Current 5D stage.
    async fn stage(&self) -> Result<Stage> {
        Ok((*self.0.stage()?).into())
    }

    /// Active, stalled or dropped.
    async fn status(&self) -> Result<IdeaStatus> {
        Ok((*self.0.status()?).into())
    }

    /// Why the idea is stalled or dropped; null while active.
    async fn status_reason(&self) -> Result<Option<&str>> {
        Ok(self.0.status_reason()?.as_deref())
    }

    /// The kind of reason while the idea is stalled; null otherwise.
    async fn stall_reason(&self) -> Result<Option<StallReason>> {
        Ok(self.0.stall_reason()?.map(Into::into))
    }

    /// When the idea entered its current stage (its submission, last advance or revert).
    async fn stage_entered_at(&self) -> Result<DateTime<Utc>> {
        Ok(*self.0.stage_entered_at()?)
    }

    /// Whole days since the idea entered its current stage.
    async fn days_in_stage(&self) -> Result<i64> {
        Ok(
            (crate::domain::volatile::now() - *self.0.stage_entered_at()?)
                .num_days()
                .max(0),
        )
    }

    /// The person carrying the innovation in its unit; null until one is named.
    async fn innovator(&self) -> Result<Option<Innovator>> {
        let position = self.0.innovator_position()?;
        Ok(self.0.innovator_name()?.as_ref().map(|name| Innovator {
            name: name.clone(),
            position: position.clone().unwrap_or_default(),
        }))
    }

    /// The idea's action plan (rencana aksi), if one was written.
    async fn action_plan(&self, ctx: &Context<'_>) -> Result<Option<ActionPlan>> {
        Ok(ctx
            .data::<Loaders>()?
            .load_one(ActionPlanOfIdea(self.0.id()))
            .await?
            .map(ActionPlan))
    }

    /// How far the idea's action plan got (null without a plan): milestones done of those
    /// planned, and how many are overdue today.
    async fn progress(&self, ctx: &Context<'_>) -> Result<Option<Progress>> {
        Ok(ctx
            .data::<Loaders>()?
            .load_one(ActionPlanOfIdea(self.0.id()))
            .await?
            .map(|plan| progress_today(&plan)))
    }

    /// The files attached as evidence of the idea's work, oldest first.
    async fn evidence(&self, ctx: &Context<'_>) -> Result<Vec<crate::graphql::evidence::Evidence>> {
        let rows = ctx
            .data::<Loaders>()?
            .load_one(crate::graphql::loaders::EvidenceOfIdea(self.0.id()))
            .await?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .map(crate::graphql::evidence::Evidence)
            .collect())
    }

    /// Every hand-over of the idea to a new innovator, oldest first.
    async fn hand_overs(&self, ctx: &Context<'_>) -> Result<Vec<HandOver>> {
        let rows = ctx
            .data::<Loaders>()?
            .load_one(HandOversOfIdea(self.0.id()))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(HandOver).collect())
    }

    /// The mentors' reviews, oldest first: the current ones, or every one with
    /// `includeSuperseded`.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_superseded: bool,
    ) -> Result<Vec<Review>> {
        let loaders = ctx.data::<Loaders>()?;
        let rows = if include_superseded {
            loaders.load_one(ReviewsOfIdea(self.0.id())).await?
        } else {
            loaders.load_one(CurrentReviewsOfIdea(self.0.id())).await?
        };
        Ok(rows.unwrap_or_default().into_iter().map(Review).collect())
    }

    /// The idea's score, 0–100 with two decimals: the mean of the weighted scores of the
    /// current reviews at the latest stage it was reviewed in; null while unreviewed.
    async fn score(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        let reviews = ctx
            .data::<Loaders>()?
            .load_one(CurrentReviewsOfIdea(self.0.id()))
            .await?
            .unwrap_or_default();
        Ok(crate::domain::review::idea_score(&reviews)
            .map(crate::domain::review::IdeaScore::points))
    }

    /// Initiative, trial or applied.
    async fn maturity(&self) -> Result<Maturity> {
        Ok((*self.0.maturity()?).into())
    }

    /// When the idea was submitted.
    async fn submitted_at(&self) -> Result<DateTime<Utc>> {
        Ok(*self.0.submitted_at()?)
    }

    /// The day the idea entered DELIVER (its launch); null before.
    async fn launched_on(&self) -> Result<Option<NaiveDate>> {
        Ok(*self.0.launched_on()?)
    }

    /// Version for optimistic concurrency: pass it back with every change.
    async fn version(&self) -> Result<i32> {
        Ok(*self.0.version()?)
    }

    /// When the idea last changed.
    async fn updated_at(&self) -> Result<DateTime<Utc>> {
        Ok(*self.0.updated_at()?)
    }

    /// The unit (perangkat daerah) that owns the idea.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Ready<Unit>> {
        let id = *self.0.unit_id()?;
        if let Some(unit) = self.owners(|o| o.units.get(&id)) {
            return Ok(Ready(Unit(unit.clone())));
        }
        Ok(Ready(Unit::from(
            loaders::required(ctx.data::<Loaders>()?, UnitId(id)).await?,
        )))
    }

    /// The lab edition the idea belongs to.
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Ready<Cohort>> {
        let id = *self.0.cohort_id()?;
        if let Some(cohort) = self.owners(|o| o.cohorts.get(&id)) {
            return Ok(Ready(Cohort(cohort.clone())));
        }
        Ok(Ready(Cohort::from(
            loaders::required(ctx.data::<Loaders>()?, CohortId(id)).await?,
        )))
    }

    /// The regency running the lab.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Ready<Regency>> {
        let id = *self.0.regency_id()?;
        if let Some(regency) = self.owners(|o| o.regencies.get(&id)) {
            return Ok(Ready(Regency(regency.clone())));
        }
        Ok(Ready(Regency::from(
            loaders::required(ctx.data::<Loaders>()?, RegencyId(id)).await?,
        )))
    }

    /// LAN mentors coaching the idea now.
    async fn mentors(&self, ctx: &Context<'_>) -> Result<Vec<Ready<Mentor>>> {
        let assignments = self.assignments(ctx).await?;
        let current: Vec<i32> = assignments
            .iter()
            .filter(|a| a.until.is_none())
            .map(|a| a.mentor_id)
            .collect();
        if let Some(carried) = self.carried_mentors()
            && current.iter().all(|id| carried.contains_key(id))
        {
            return Ok(current
                .iter()
                .map(|id| Ready(Mentor(carried[id].clone())))
                .collect());
        }
        Ok(loaders::many(
            ctx.data::<Loaders>()?,
            current.into_iter().map(loaders::MentorId),
        )
        .await?
        .into_iter()
        .map(|mentor| Ready(Mentor::from(mentor)))
        .collect())
    }

    /// Every mentor assignment of the idea, current and past, oldest first.
    async fn mentor_assignments(&self, ctx: &Context<'_>) -> Result<Vec<Ready<MentorAssignment>>> {
        let assignments = self.assignments(ctx).await?;
        let mentors = self.carried_mentors();
        Ok(assignments
            .into_iter()
            .map(|a| Ready(MentorAssignment(a, mentors.cloned())))
            .collect())
    }

    /// Commitments covering the idea.
    async fn commitments(&self, ctx: &Context<'_>) -> Result<Vec<Commitment>> {
        let loaders = ctx.data::<Loaders>()?;
        let ids = loaders
            .load_one(CommitmentsOfIdea(self.0.id()))
            .await?
            .unwrap_or_default();
        Ok(loaders::many(loaders, ids.into_iter().map(CommitmentId))
            .await?
            .into_iter()
            .map(Commitment)
            .collect())
    }

    /// The audit trail: every move of the idea, oldest first, starting with its submission.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<StageTransition>> {
        let loaders = ctx.data::<Loaders>()?;
        let moves = loaders
            .load_one(TransitionsOfIdea(self.0.id()))
            .await?
            .unwrap_or_default();
        Ok(moves.into_iter().map(StageTransition).collect())
    }
}

/// One recorded move of an idea. Never edited, never deleted.
pub struct StageTransition(pub stage_transition::Model);

/// One recorded move of an idea. Never edited, never deleted.
#[Object]
impl StageTransition {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::StageTransition, self.0.id)
    }

    /// Stage before the move; null for the submission.
    async fn from_stage(&self) -> Option<Stage> {
        self.0.from_stage.map(Into::into)
    }

    /// Stage after the move.
    async fn to_stage(&self) -> Stage {
        self.0.to_stage.into()
    }

    /// Status after the move.
    async fn to_status(&self) -> IdeaStatus {
        self.0.to_status.into()
    }

    /// What was decided.
    async fn decision(&self) -> Decision {
        self.0.decision.into()
    }

    /// The kind of reason of a stall; null for other moves.
    async fn reason_code(&self) -> Option<StallReason> {
        self.0.reason_code.map(Into::into)
    }

    /// Why (required to revert, stall, resume or drop).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// Who made the move.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The idea that moved.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Idea> {
        Ok(Idea::from(
            loaders::required(ctx.data::<Loaders>()?, IdeaId(self.0.idea_id)).await?,
        ))
    }
}

/// The columns each field of an idea reads beyond its id and its owners' ids (which a page
/// always reads). A field missing here reads every column: a new field is correct before it is
/// fast. Tested by selecting each field alone on a page and comparing with the idea read whole.
pub(crate) const IDEA_COLUMNS: &[(&str, &[idea::Column])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("title", &[idea::Column::Title]),
    ("problem", &[idea::Column::Problem]),
    ("description", &[idea::Column::Description]),
    ("type", &[idea::Column::InnovationType]),
    ("form", &[idea::Column::Form]),
    ("affairsArea", &[idea::Column::AffairsArea]),
    ("initiator", &[idea::Column::Initiator]),
    ("stage", &[idea::Column::Stage]),
    ("status", &[idea::Column::Status]),
    ("statusReason", &[idea::Column::StatusReason]),
    ("stallReason", &[idea::Column::StallReason]),
    ("stageEnteredAt", &[idea::Column::StageEnteredAt]),
    ("daysInStage", &[idea::Column::StageEnteredAt]),
    (
        "innovator",
        &[idea::Column::InnovatorName, idea::Column::InnovatorPosition],
    ),
    ("handOvers", &[]),
    ("actionPlan", &[]),
    ("progress", &[]),
    ("reviews", &[]),
    ("score", &[]),
    ("maturity", &[idea::Column::Maturity]),
    ("submittedAt", &[idea::Column::SubmittedAt]),
    ("launchedOn", &[idea::Column::LaunchedOn]),
    ("version", &[idea::Column::Version]),
    ("updatedAt", &[idea::Column::UpdatedAt]),
    ("unit", &[]),
    ("cohort", &[]),
    ("regency", &[]),
    ("mentors", &[]),
    ("mentorAssignments", &[]),
    ("commitments", &[]),
    ("history", &[]),
];

#[derive(Default)]
pub struct IdeaQuery;

#[Object]
impl IdeaQuery {
    /// Ideas matching `filter`, as a Relay connection. Page forward with `first`/`after`,
    /// backward with `last`/`before`; the default page size and the maximum are server settings.
    #[allow(
        clippy::too_many_arguments,
        reason = "a connection field: its arguments are the GraphQL API"
    )]
    async fn ideas(
        &self,
        ctx: &Context<'_>,
        filter: Option<IdeaFilter>,
        order_by: Option<IdeaOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<IdeaPage> {
        IdeasArgs {
            filter,
            order_by,
            first,
            after,
            last,
            before,
        }
        .page(ctx)
        .await
    }

    /// One idea by global ID; null if there is none.
    async fn idea(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Idea>> {
        let id = ids::decode(Kind::Idea, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(IdeaId(id))
            .await?
            .map(Idea::from))
    }
}
