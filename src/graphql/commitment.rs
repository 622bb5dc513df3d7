//! Commitments (Komitmen Kesepakatan Berinovasi) between unit heads and the regent.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::NaiveDate;
use entity::commitment;

use super::{
    action_plan::ActionPlan,
    connection::{Conn, Total, connection, page_request},
    enums::CommitmentStatus,
    idea::Idea,
    ids::{self, Kind},
    loaders::{
        self, ActionPlanOfIdea, CohortId, CommitmentId, IdeaId, IdeasOfCommitment, Loaders,
        RegencyId, UnitId,
    },
    regency::{Cohort, Regency},
    unit::Unit,
};
use crate::domain::{Domain, commitment::CommitmentFilter as DomainFilter};

/// A unit head's signed commitment with the regent to deliver some ideas.
pub struct Commitment(pub commitment::Model);

/// A unit head's signed commitment with the regent to deliver some ideas.
#[Object]
impl Commitment {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Commitment, self.0.id)
    }

    /// Who signs for the unit.
    async fn signatory_name(&self) -> &str {
        &self.0.signatory_name
    }

    /// The signatory's title, e.g. "Camat Martapura".
    async fn signatory_title(&self) -> &str {
        &self.0.signatory_title
    }

    /// The other party, usually the regent (Bupati).
    async fn counterpart(&self) -> &str {
        &self.0.counterpart
    }

    /// What the unit commits to.
    async fn target(&self) -> &str {
        &self.0.target
    }

    /// When the commitment is due.
    async fn due_on(&self) -> Option<NaiveDate> {
        self.0.due_on
    }

    /// DRAFT, SIGNED, FULFILLED or WITHDRAWN.
    async fn status(&self) -> CommitmentStatus {
        self.0.status.into()
    }

    /// The day it was signed; null while a draft.
    async fn signed_on(&self) -> Option<NaiveDate> {
        self.0.signed_on
    }

    /// Version for optimistic concurrency.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The committing unit.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Unit> {
        Ok(Unit::from(
            loaders::required(ctx.data::<Loaders>()?, UnitId(self.0.unit_id)).await?,
        ))
    }

    /// The lab edition.
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Cohort> {
        Ok(Cohort::from(
            loaders::required(ctx.data::<Loaders>()?, CohortId(self.0.cohort_id)).await?,
        ))
    }

    /// The regency.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Regency> {
        Ok(Regency::from(
            loaders::required(ctx.data::<Loaders>()?, RegencyId(self.0.regency_id)).await?,
        ))
    }

    /// The ideas the commitment covers.
    async fn ideas(&self, ctx: &Context<'_>) -> Result<Vec<Idea>> {
        let loaders = ctx.data::<Loaders>()?;
        let ids = loaders
            .load_one(IdeasOfCommitment(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(loaders::many(loaders, ids.into_iter().map(IdeaId))
            .await?
            .into_iter()
            .map(Idea::from)
            .collect())
    }

    /// The action plans the commitment commits to: those of the ideas it covers (an idea
    /// without a plan yet has none here).
    async fn action_plans(&self, ctx: &Context<'_>) -> Result<Vec<ActionPlan>> {
        let loaders = ctx.data::<Loaders>()?;
        let ids = loaders
            .load_one(IdeasOfCommitment(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(
            loaders::many(loaders, ids.into_iter().map(ActionPlanOfIdea))
                .await?
                .into_iter()
                .map(ActionPlan)
                .collect(),
        )
    }
}

/// Which commitments to return.
#[derive(InputObject, Default)]
pub struct CommitmentFilter {
    /// Of these regencies (global IDs).
    pub regency_ids: Option<Vec<ID>>,
    /// Of these regencies (Kemendagri codes).
    pub regency_codes: Option<Vec<String>>,
    /// Of these lab editions.
    pub cohort_ids: Option<Vec<ID>>,
    /// Signed for these units.
    pub unit_ids: Option<Vec<ID>>,
    /// With one of these statuses.
    pub statuses: Option<Vec<CommitmentStatus>>,
    /// Covering this idea.
    pub idea_id: Option<ID>,
    /// Signed on or after this day.
    pub signed_from: Option<NaiveDate>,
    /// Signed on or before this day.
    pub signed_to: Option<NaiveDate>,
}

impl CommitmentFilter {
    fn to_domain(&self) -> Result<DomainFilter> {
        Ok(DomainFilter {
            regency_ids: ids::decode_list(Kind::Regency, &self.regency_ids)?,
            regency_codes: self.regency_codes.clone(),
            cohort_ids: ids::decode_list(Kind::Cohort, &self.cohort_ids)?,
            unit_ids: ids::decode_list(Kind::Unit, &self.unit_ids)?,
            statuses: self
                .statuses
                .as_ref()
                .map(|s| s.iter().map(|s| (*s).into()).collect()),
            idea_id: ids::decode_opt(Kind::Idea, &self.idea_id)?,
            signed_from: self.signed_from,
            signed_to: self.signed_to,
        })
    }
}

#[derive(Default)]
pub struct CommitmentQuery;

#[Object]
impl CommitmentQuery {
    /// Commitments, in the order they were written.
    async fn commitments(
        &self,
        ctx: &Context<'_>,
        filter: Option<CommitmentFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Commitment>> {
        let filter = filter.unwrap_or_default().to_domain()?;
        let page = ctx
            .data::<Domain>()?
            .commitment_page(
                &crate::graphql::context::caller(ctx),
                &filter,
                &page_request(first, after, last, before),
            )
            .await?;
        Ok(connection(page, Total::Commitments(filter), Commitment))
    }

    /// One commitment by global ID; null if there is none.
    async fn commitment(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Commitment>> {
        let id = ids::decode(Kind::Commitment, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(CommitmentId(id))
            .await?
            .map(Commitment))
    }
}

/// A new commitment, written as a DRAFT.
#[derive(InputObject)]
pub struct CreateCommitmentInput {
    /// The lab edition.
    pub cohort_id: ID,
    /// The committing unit, of the cohort's regency.
    pub unit_id: ID,
    /// The ideas covered, all of the same cohort.
    pub idea_ids: Vec<ID>,
    /// Who signs for the unit.
    pub signatory_name: String,
    /// The signatory's title, e.g. "Kepala Dinas Kesehatan".
    pub signatory_title: String,
    /// The other party, usually the regent (Bupati).
    pub counterpart: String,
    /// What the unit commits to.
    pub target: String,
    /// When it is due.
    pub due_on: Option<NaiveDate>,
}

/// Signs a draft commitment.
#[derive(InputObject)]
pub struct SignCommitmentInput {
    /// The commitment.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// The signing day; today when left out; not in the future.
    pub signed_on: Option<NaiveDate>,
}

/// Marks a signed commitment fulfilled.
#[derive(InputObject)]
pub struct FulfillCommitmentInput {
    /// The commitment.
    pub id: ID,
    /// The version you read.
    pub version: i32,
}

/// Withdraws a draft or signed commitment.
#[derive(InputObject)]
pub struct WithdrawCommitmentInput {
    /// The commitment.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Why, for the record.
    pub reason: Option<String>,
}

/// The commitment after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct CommitmentPayload {
    /// The commitment as it is now.
    pub commitment: Commitment,
    /// The event the change recorded.
    pub event: super::event::PipelineEvent,
}

#[derive(Default)]
pub struct CommitmentMutation;

impl CommitmentMutation {
    async fn step(
        ctx: &Context<'_>,
        id: &ID,
        version: i32,
        action: crate::domain::pipeline::CommitmentAction,
        signed_on: Option<NaiveDate>,
        reason: Option<String>,
    ) -> Result<CommitmentPayload> {
        let id = ids::decode(Kind::Commitment, id)?;
        let written = ctx
            .data::<Domain>()?
            .step_commitment(
                &super::context::caller(ctx),
                id,
                version,
                action,
                signed_on,
                reason,
            )
            .await?;
        super::context::after_write(ctx);
        Ok(CommitmentPayload {
            commitment: Commitment(written.value),
            event: super::context::first_event(written.events)?,
        })
    }
}

#[Object]
impl CommitmentMutation {
    /// Writes a commitment as a DRAFT.
    async fn create_commitment(
        &self,
        ctx: &Context<'_>,
        input: CreateCommitmentInput,
    ) -> Result<CommitmentPayload> {
        let new = crate::domain::commitment::NewCommitment {
            cohort_id: ids::decode(Kind::Cohort, &input.cohort_id)?,
            unit_id: ids::decode(Kind::Unit, &input.unit_id)?,
            idea_ids: input
                .idea_ids
                .iter()
                .map(|id| ids::decode(Kind::Idea, id))
                .collect::<Result<_, _>>()?,
            signatory_name: input.signatory_name,
            signatory_title: input.signatory_title,
            counterpart: input.counterpart,
            target: input.target,
            due_on: input.due_on,
        };
        let written = ctx
            .data::<Domain>()?
            .create_commitment(&super::context::caller(ctx), new)
            .await?;
        super::context::after_write(ctx);
        Ok(CommitmentPayload {
            commitment: Commitment(written.value),
            event: super::context::first_event(written.events)?,
        })
    }

    /// Signs a DRAFT commitment; its ideas may then enter DELIVER.
    async fn sign_commitment(
        &self,
        ctx: &Context<'_>,
        input: SignCommitmentInput,
    ) -> Result<CommitmentPayload> {
        use crate::domain::pipeline::CommitmentAction::Sign;
        Self::step(ctx, &input.id, input.version, Sign, input.signed_on, None).await
    }

    /// Marks a SIGNED commitment FULFILLED.
    async fn fulfill_commitment(
        &self,
        ctx: &Context<'_>,
        input: FulfillCommitmentInput,
    ) -> Result<CommitmentPayload> {
        use crate::domain::pipeline::CommitmentAction::Fulfill;
        Self::step(ctx, &input.id, input.version, Fulfill, None, None).await
    }

    /// Withdraws a DRAFT or SIGNED commitment.
    async fn withdraw_commitment(
        &self,
        ctx: &Context<'_>,
        input: WithdrawCommitmentInput,
    ) -> Result<CommitmentPayload> {
        use crate::domain::pipeline::CommitmentAction::Withdraw;
        Self::step(ctx, &input.id, input.version, Withdraw, None, input.reason).await
    }
}
