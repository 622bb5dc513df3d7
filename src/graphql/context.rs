//! What every resolver reads from its context: the caller, the loaders (renewed after a write
//! and before each subscription item), and the event a write recorded.

use async_graphql::Context;

use super::event::PipelineEvent;
use super::loaders::Loaders;
use crate::{access::Caller, error::DomainError};

/// Who is asking: the caller the transport identified (anonymous for an in-process request
/// that names none).
pub fn caller(ctx: &Context<'_>) -> Caller {
    ctx.data_opt::<Caller>()
        .cloned()
        .unwrap_or_else(Caller::anonymous)
}

/// Forgets what this operation's loaders read before a write, so the payload shows the change.
pub fn after_write(ctx: &Context<'_>) {
    if let Ok(loaders) = ctx.data::<Loaders>() {
        loaders.renew();
    }
}

/// Lets a subscription forget what its loaders read before each new item, so every item shows
/// the data as it is then.
pub fn loader_reset(ctx: &Context<'_>) -> Option<Loaders> {
    ctx.data_opt::<Loaders>().cloned()
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
