//! What every mutation shares: the acting user and a fresh loader cache after a write.

use async_graphql::Context;

use super::event::PipelineEvent;
use super::loaders::{
    AssignmentsOfIdea, ChildrenOfUnit, CohortId, CohortsOfRegency, CommitmentId, CommitmentsOfIdea,
    IdeaId, IdeasOfCommitment, Loaders, MentorId, RegencyId, TransitionsOfIdea, UnitId,
    UnitsOfRegency,
};
use crate::{domain::write::Actor, error::DomainError};

/// The actor of the request (anonymous until tokens identify users).
pub fn actor(ctx: &Context<'_>) -> Actor {
    ctx.data_opt::<Actor>()
        .cloned()
        .unwrap_or_else(Actor::anonymous)
}

/// Forgets what this request's loaders read before a write, so the payload shows the change.
pub fn after_write(ctx: &Context<'_>) {
    if let Ok(loaders) = ctx.data::<Loaders>() {
        forget(loaders);
    }
}

/// Lets a subscription forget what its connection's loaders read before each new item, so
/// every item shows the data as it is then.
#[derive(Clone)]
pub struct LoaderReset(Option<Loaders>);

impl LoaderReset {
    pub fn reset(&self) {
        if let Some(loaders) = &self.0 {
            forget(loaders);
        }
    }
}

pub fn loader_reset(ctx: &Context<'_>) -> LoaderReset {
    LoaderReset(ctx.data_opt::<Loaders>().cloned())
}

fn forget(loaders: &Loaders) {
    {
        loaders.clear::<RegencyId>();
        loaders.clear::<UnitId>();
        loaders.clear::<CohortId>();
        loaders.clear::<IdeaId>();
        loaders.clear::<MentorId>();
        loaders.clear::<CommitmentId>();
        loaders.clear::<CohortsOfRegency>();
        loaders.clear::<UnitsOfRegency>();
        loaders.clear::<ChildrenOfUnit>();
        loaders.clear::<AssignmentsOfIdea>();
        loaders.clear::<CommitmentsOfIdea>();
        loaders.clear::<IdeasOfCommitment>();
        loaders.clear::<TransitionsOfIdea>();
    }
}

/// The one event a write recorded, for its payload.
pub fn first_event(
    events: Vec<entity::pipeline_event::Model>,
) -> async_graphql::Result<PipelineEvent> {
    events
        .into_iter()
        .next()
        .map(PipelineEvent::from)
        .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("a write recorded no event")).into())
}
