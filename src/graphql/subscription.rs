//! Subscriptions: live pipeline events (resumable), funnel snapshots and idea updates.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result, Subscription};
use futures_util::{Stream, StreamExt};

use super::{
    aggregate::Funnel,
    context,
    event::{PipelineEvent, PipelineEventFilter},
    idea::{Idea, IdeaFilter},
    ids::{self, Kind},
    review::Ranking,
    shared::{Shared, SharedResults},
};
use crate::{
    domain::Domain,
    error::ErrorCode,
    live::{Hub, stream},
};

/// The subscription fields of the schema, as the `kind` label of
/// `labinov_subscriptions_active` (a test holds the list against the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionKind {
    PipelineEvents,
    Funnel,
    Ranking,
    Idea,
}

impl SubscriptionKind {
    pub const ALL: [Self; 4] = [
        Self::PipelineEvents,
        Self::Funnel,
        Self::Ranking,
        Self::Idea,
    ];

    /// The field's name in the schema.
    pub const fn field(self) -> &'static str {
        match self {
            Self::PipelineEvents => "pipelineEvents",
            Self::Funnel => "funnel",
            Self::Ranking => "ranking",
            Self::Idea => "idea",
        }
    }

    /// The kind of a subscription to `field`; None for a field the schema lacks (validation
    /// refuses those).
    pub fn of(field: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.field() == field)
    }
}

/// Whether a WebSocket message (`next`/`data` or `error`) carries a SERVICE_UNAVAILABLE error:
/// the transports then close the connection, so the client reconnects and resumes, instead of
/// passing on a result the database could not serve.
pub fn database_unavailable(message: &str) -> bool {
    // Cheap first: almost no message holds the code at all.
    if !message.contains(ErrorCode::ServiceUnavailable.as_str()) {
        return false;
    }
    let Ok(message) = serde_json::from_str::<serde_json::Value>(message) else {
        return false;
    };
    let payload = &message["payload"];
    let errors = payload["errors"].as_array().or_else(|| payload.as_array());
    errors.is_some_and(|errors| {
        errors
            .iter()
            .any(|e| e["extensions"]["code"] == ErrorCode::ServiceUnavailable.as_str())
    })
}

/// Whether a subscription result carries a SERVICE_UNAVAILABLE error (see
/// [`database_unavailable`]).
pub fn response_unavailable(response: &async_graphql::Response) -> bool {
    response.errors.iter().any(|e| {
        e.extensions.as_ref().and_then(|x| x.get("code"))
            == Some(&async_graphql::Value::from(ErrorCode::ServiceUnavailable))
    })
}

/// Where an SSE client resumes: the `Last-Event-ID` its EventSource sent on reconnect.
#[derive(Debug, Clone)]
pub struct ResumeFrom(pub String);

/// A funnel as of a point in the event stream.
pub struct FunnelSnapshot(stream::FunnelSnapshot);

/// A funnel as of a point in the event stream.
#[Object]
impl FunnelSnapshot {
    /// Position of this snapshot in the event stream: subscribe to `pipelineEvents` with
    /// `after` set to it to follow every change from here.
    async fn cursor(&self) -> &str {
        &self.0.cursor
    }

    /// The funnel at that position.
    async fn funnel(&self, ctx: &Context<'_>) -> Funnel {
        Funnel::new(self.0.funnel.clone(), super::aggregate::Shown::to(ctx))
    }
}

#[derive(Default)]
pub struct Subscription;

/// Live operations: pipeline events, funnel snapshots, rankings and ideas as they change.
#[Subscription]
impl Subscription {
    /// Every pipeline event matching `filter`, as it happens. Give `after` (the `cursor` of the
    /// last event you received) to first get every event you missed, exactly once and in
    /// order, then the live ones. A cursor older than the retained events is CURSOR_EXPIRED.
    /// Over SSE, an EventSource's `Last-Event-ID` takes the place of `after`.
    async fn pipeline_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<PipelineEventFilter>,
        after: Option<String>,
    ) -> Result<impl Stream<Item = Result<Shared<PipelineEvent>>> + use<>> {
        let domain = ctx.data::<Domain>()?.clone();
        let hub = ctx.data::<Hub>()?.clone();
        let results = ctx.data::<Arc<SharedResults>>()?.clone();
        let after = ctx.data_opt::<ResumeFrom>().map(|r| r.0.clone()).or(after);
        let filter = filter.unwrap_or_default().to_domain()?;
        let caller = context::caller(ctx);
        let selection = results.selection_of(ctx, &caller);
        let events = stream::pipeline_events(domain, caller, hub, filter, after).await?;
        let loaders = context::loader_reset(ctx);
        Ok(events.map(move |delivery| {
            if let Some(loaders) = &loaders {
                loaders.renew();
            }
            let delivery = delivery?;
            let key = (delivery.event.id, &delivery.cursor);
            let shared = Shared::key(key.0, key.1, selection, &results);
            Ok(shared.of(PipelineEvent {
                cursor: Some(delivery.cursor),
                model: delivery.event,
            }))
        }))
    }

    /// The funnel of the ideas matching `filter`: the current snapshot first (with its cursor),
    /// then a new snapshot whenever a change alters it; bursts are coalesced.
    async fn funnel(
        &self,
        ctx: &Context<'_>,
        filter: Option<IdeaFilter>,
    ) -> Result<impl Stream<Item = Result<FunnelSnapshot>> + use<>> {
        let domain = ctx.data::<Domain>()?.clone();
        let hub = ctx.data::<Hub>()?.clone();
        let filter = filter
            .map(|f| f.to_domain())
            .transpose()?
            .unwrap_or_default();
        let snapshots = stream::funnels(domain, context::caller(ctx), hub, filter).await?;
        Ok(snapshots.map(|snapshot| Ok(FunnelSnapshot(snapshot?))))
    }

    /// A cohort's ranking (as the `ranking` query gives it): now, then again whenever a
    /// review, a move or an edit of its ideas changes it — for the Display event screen.
    async fn ranking(
        &self,
        ctx: &Context<'_>,
        cohort_id: ID,
        #[graphql(default_with = "super::enums::Stage::Deliver")]
        stage_at_least: super::enums::Stage,
    ) -> Result<impl Stream<Item = Result<Ranking>> + use<>> {
        let cohort_id = ids::decode(Kind::Cohort, &cohort_id)?;
        let domain = ctx.data::<Domain>()?.clone();
        let hub = ctx.data::<Hub>()?.clone();
        let stage: entity::Stage = stage_at_least.into();
        let snapshots =
            stream::rankings(domain, context::caller(ctx), hub, cohort_id, stage).await?;
        let loaders = context::loader_reset(ctx);
        Ok(snapshots.map(move |snapshot| {
            if let Some(loaders) = &loaders {
                loaders.renew();
            }
            let snapshot = snapshot?;
            Ok(Ranking::new(snapshot.cohort, stage, snapshot.entries))
        }))
    }

    /// One idea: as it is now, then again after every change that concerns it.
    async fn idea(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Result<Idea>> + use<>> {
        let id = ids::decode(Kind::Idea, &id)?;
        let domain = ctx.data::<Domain>()?.clone();
        let hub = ctx.data::<Hub>()?.clone();
        let updates = stream::idea_updates(domain, context::caller(ctx), hub, id).await?;
        let loaders = context::loader_reset(ctx);
        Ok(updates.map(move |idea| {
            if let Some(loaders) = &loaders {
                loaders.renew();
            }
            Ok(Idea::from(idea?))
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::{SubscriptionKind, database_unavailable};

    #[test]
    fn every_subscription_field_has_its_metric_label() {
        let fields = crate::graphql::field_names("Subscription");
        let labelled: Vec<&str> = SubscriptionKind::ALL.iter().map(|k| k.field()).collect();
        assert_eq!(fields, labelled);
        assert!(!fields.is_empty());
    }

    #[test]
    fn only_a_service_unavailable_error_closes_a_subscription() {
        // A result and an operation error, in both WebSocket protocols' shapes.
        assert!(database_unavailable(
            r#"{"type":"next","id":"1","payload":{"data":null,"errors":[{"message":"m","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}}"#
        ));
        assert!(database_unavailable(
            r#"{"type":"error","id":"1","payload":[{"message":"m","extensions":{"code":"SERVICE_UNAVAILABLE"}}]}"#
        ));
        // Other errors, and an event that merely mentions the code in its data, pass.
        assert!(!database_unavailable(
            r#"{"type":"next","id":"1","payload":{"errors":[{"message":"m","extensions":{"code":"FORBIDDEN"}}]}}"#
        ));
        assert!(!database_unavailable(
            r#"{"type":"data","id":"1","payload":{"data":{"pipelineEvents":{"payload":{"title":"SERVICE_UNAVAILABLE"}}}}}"#
        ));
    }
}
