//! Pipeline events: the history of every change, numbered per regency without gaps.

use async_graphql::{
    Context, ID, InputObject, Json, Object, Result,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::pipeline_event;

use super::{
    commitment::Commitment,
    connection::{Total, connection_with, page_request},
    enums::{PipelineEventKind, Stage},
    idea::Idea,
    ids::{self, Kind},
    loaders::{self, CommitmentId, IdeaId, Loaders, RegencyId, UnitId},
    regency::Regency,
    unit::Unit,
};
use crate::domain::{Domain, event::EventFilter as DomainFilter};

/// A change in the pipeline: an idea submitted or moved, a commitment signed…
pub struct PipelineEvent {
    pub model: pipeline_event::Model,
    /// The subscriber's resume position after this event, when delivered by a subscription.
    pub cursor: Option<String>,
}

impl From<pipeline_event::Model> for PipelineEvent {
    fn from(model: pipeline_event::Model) -> Self {
        Self {
            model,
            cursor: None,
        }
    }
}

/// A change in the pipeline: an idea submitted or moved, a commitment signed…
#[Object]
impl PipelineEvent {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::PipelineEvent, self.model.id)
    }

    /// Opaque cursor to resume after this event: pass it as `after` to the `pipelineEvents`
    /// subscription. From a subscription it covers every regency the subscription follows;
    /// from a query it covers this event's regency only: to resume after a page of the
    /// `pipelineEvents` query, use the connection's `resumeCursor`.
    async fn cursor(&self) -> String {
        self.cursor
            .clone()
            .unwrap_or_else(|| crate::live::cursor::after_event(&self.model))
    }

    /// Position in the regency's event sequence: 1, 2, 3… without gaps.
    async fn sequence(&self) -> i64 {
        self.model.seq
    }

    /// What happened, e.g. IDEA_ADVANCED, COMMITMENT_SIGNED.
    async fn kind(&self) -> PipelineEventKind {
        self.model.kind.into()
    }

    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.model.occurred_at
    }

    /// Who did it.
    async fn actor(&self) -> &str {
        &self.model.actor
    }

    /// Stage of the idea after the change, for idea events.
    async fn stage(&self) -> Option<Stage> {
        self.model.stage.map(Into::into)
    }

    /// Details of the change (stages, status, reason…).
    async fn payload(&self) -> Json<serde_json::Value> {
        Json(serde_json::from_str(&self.model.payload).unwrap_or(serde_json::Value::Null))
    }

    /// The regency where it happened.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Regency> {
        Ok(Regency::from(
            loaders::required(ctx.data::<Loaders>()?, RegencyId(self.model.regency_id)).await?,
        ))
    }

    /// The idea concerned, if any.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Option<Idea>> {
        let Some(id) = self.model.idea_id else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loaders>()?
            .load_one(IdeaId(id))
            .await?
            .map(Idea::from))
    }

    /// The unit concerned, if any.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Option<Unit>> {
        let Some(id) = self.model.unit_id else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loaders>()?
            .load_one(UnitId(id))
            .await?
            .map(Unit::from))
    }

    /// The commitment concerned, if any.
    async fn commitment(&self, ctx: &Context<'_>) -> Result<Option<Commitment>> {
        let Some(id) = self.model.commitment_id else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loaders>()?
            .load_one(CommitmentId(id))
            .await?
            .map(Commitment))
    }
}

/// Which pipeline events to return.
#[derive(InputObject, Default)]
pub struct PipelineEventFilter {
    /// In these regencies (global IDs).
    pub regency_ids: Option<Vec<ID>>,
    /// In these regencies (Kemendagri codes).
    pub regency_codes: Option<Vec<String>>,
    /// Of these kinds, e.g. [IDEA_ADVANCED].
    pub kinds: Option<Vec<PipelineEventKind>>,
    /// Leaving an idea in one of these stages.
    pub stages: Option<Vec<Stage>>,
    /// Concerning this unit.
    pub unit_id: Option<ID>,
    /// Concerning this idea.
    pub idea_id: Option<ID>,
}

impl PipelineEventFilter {
    pub fn to_domain(&self) -> Result<DomainFilter> {
        Ok(DomainFilter {
            regency_ids: ids::decode_list(Kind::Regency, &self.regency_ids)?,
            regency_codes: self.regency_codes.clone(),
            kinds: self
                .kinds
                .as_ref()
                .map(|k| k.iter().map(|k| (*k).into()).collect()),
            stages: self
                .stages
                .as_ref()
                .map(|s| s.iter().map(|s| (*s).into()).collect()),
            unit_id: ids::decode_opt(Kind::Unit, &self.unit_id)?,
            idea_id: ids::decode_opt(Kind::Idea, &self.idea_id)?,
        })
    }
}

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// Pipeline events in the order they were recorded (oldest first).
    async fn pipeline_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<PipelineEventFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<
        Connection<crate::domain::page::PageCursor, PipelineEvent, EventPageFields, EmptyFields>,
    > {
        let filter = filter.unwrap_or_default().to_domain()?;
        let domain = ctx.data::<Domain>()?;
        let request = page_request(first, after, last, before);
        let (page, resume) = if ctx.look_ahead().field("resumeCursor").exists() {
            let (page, positions) = domain
                .event_page_and_position(&crate::graphql::context::caller(ctx), &filter, &request)
                .await?;
            (page, Some(crate::live::cursor::encode(&positions)))
        } else {
            (
                domain
                    .event_page(&crate::graphql::context::caller(ctx), &filter, &request)
                    .await?,
                None,
            )
        };
        let fields = EventPageFields {
            total: Total::Events(filter),
            resume_cursor: resume,
        };
        Ok(connection_with(page, fields, PipelineEvent::from))
    }
}

/// The fields of a page of events beside its edges.
pub struct EventPageFields {
    total: Total,
    resume_cursor: Option<String>,
}

/// The fields of a page of events beside its edges.
#[Object]
impl EventPageFields {
    /// Number of events matching the filter, across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        self.total.total_count(ctx).await
    }

    /// Where to resume the `pipelineEvents` subscription (its `after`) to get every event
    /// after this page exactly once: the position right after the page's newest event in
    /// every regency the filter covers, read at the same moment as the page (after an empty
    /// page, the current position). Read the history, then subscribe with this, and nothing
    /// falls between the two, in any regency.
    #[allow(clippy::unused_async, reason = "async-graphql resolvers are async")]
    async fn resume_cursor(&self) -> Result<String> {
        self.resume_cursor
            .clone()
            .ok_or_else(|| "resumeCursor was not prepared for this page".into())
    }
}
