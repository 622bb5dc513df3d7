//! The Relay `Node` interface and `node(id)`.

use async_graphql::{Context, ID, Interface, Object, Result};

use super::{
    action_plan::Milestone,
    commitment::Commitment,
    event::PipelineEvent,
    evidence::Evidence,
    idea::{Idea, StageTransition},
    ids::{self, Kind},
    loaders::{CohortId, CommitmentId, IdeaId, Loaders, MentorId, RegencyId, UnitId},
    mentor::{Mentor, MentorAssignment},
    regency::{Cohort, Regency},
    review::Review,
    unit::Unit,
};
use crate::domain::Domain;

/// Anything with a global ID, fetchable with `node(id)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "Global ID."))]
#[allow(
    clippy::large_enum_variant,
    reason = "one short-lived value per node(id) call"
)]
pub enum Node {
    Regency(Regency),
    Unit(Unit),
    Cohort(Cohort),
    Idea(Idea),
    StageTransition(StageTransition),
    Mentor(Mentor),
    MentorAssignment(MentorAssignment),
    Commitment(Commitment),
    PipelineEvent(PipelineEvent),
    Review(Review),
    Milestone(Milestone),
    Evidence(Evidence),
}

#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Any object by its global ID; null if it does not exist.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        let (kind, raw) = ids::decode_any(&id)?;
        let loaders = ctx.data::<Loaders>()?;
        let domain = ctx.data::<Domain>()?;
        let Ok(small) = i32::try_from(raw) else {
            return Ok(None);
        };
        Ok(match kind {
            Kind::Regency => loaders
                .load_one(RegencyId(small))
                .await?
                .map(|m| Node::Regency(Regency::from(m))),
            Kind::Unit => loaders
                .load_one(UnitId(small))
                .await?
                .map(|m| Node::Unit(Unit::from(m))),
            Kind::Cohort => loaders
                .load_one(CohortId(small))
                .await?
                .map(|m| Node::Cohort(Cohort::from(m))),
            Kind::Idea => loaders
                .load_one(IdeaId(small))
                .await?
                .map(|m| Node::Idea(Idea::from(m))),
            Kind::Mentor => loaders
                .load_one(MentorId(small))
                .await?
                .map(|m| Node::Mentor(Mentor::from(m))),
            Kind::Commitment => loaders
                .load_one(CommitmentId(small))
                .await?
                .map(|m| Node::Commitment(Commitment(m))),
            Kind::StageTransition => domain
                .transitions_by_id(&crate::graphql::context::caller(ctx), &[small])
                .await?
                .remove(&small)
                .map(|m| Node::StageTransition(StageTransition(m))),
            Kind::MentorAssignment => domain
                .assignments_by_id(&crate::graphql::context::caller(ctx), &[small])
                .await?
                .remove(&small)
                .map(|m| Node::MentorAssignment(MentorAssignment::from(m))),
            Kind::PipelineEvent => domain
                .events_by_id(&crate::graphql::context::caller(ctx), &[raw])
                .await
                // Retention may prune the event without a trace in the data's version.
                .inspect(|_| crate::domain::volatile::mark())?
                .remove(&raw)
                .map(|m| Node::PipelineEvent(m.into())),
            Kind::Review => domain
                .reviews_by_id(&crate::graphql::context::caller(ctx), &[small])
                .await?
                .remove(&small)
                .map(|m| Node::Review(Review(m))),
            Kind::Milestone => domain
                .milestones_by_id(&crate::graphql::context::caller(ctx), &[small])
                .await?
                .remove(&small)
                .map(|m| Node::Milestone(Milestone(m))),
            Kind::Evidence => domain
                .evidence_by_id(&crate::graphql::context::caller(ctx), &[small])
                .await?
                .remove(&small)
                .map(|m| Node::Evidence(Evidence(m))),
        })
    }
}
