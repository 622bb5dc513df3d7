//! Regencies and their lab editions.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{cohort, regency};

use super::{
    aggregate::{Funnel, StageCount},
    connection::{Conn, Total, connection, page_request},
    enums::Stage,
    idea::{IdeaFilter, IdeaOrder, IdeaPage, IdeasArgs},
    ids::{self, Kind},
    loaders::{self, CohortId, CohortsOfRegency, Loaders, RegencyId, UnitsOfRegency},
    ready::{Plain, now},
    unit::Unit,
};
use crate::{
    domain::{
        Domain, cohort::CohortFilter as DomainCohortFilter, idea::IdeaFilter as DomainIdeaFilter,
        rows::Seen,
    },
    error::DomainError,
};

/// A regency or city (kabupaten/kota) that runs an innovation lab with LAN.
pub struct Regency(pub Seen<regency::Model>);

impl From<regency::Model> for Regency {
    fn from(model: regency::Model) -> Self {
        Regency(Seen::all(model))
    }
}

impl Regency {
    fn scope(&self, filter: Option<IdeaFilter>) -> Result<DomainIdeaFilter> {
        IdeaFilter::scoped(filter, DomainIdeaFilter::regency(self.0.id()))
    }
}

/// The fields a page answers without async-graphql's resolver ([`super::ready::Ready`]).
impl Plain for Regency {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => now(self.id(ctx), ctx),
            "code" => now(self.code(ctx), ctx),
            "name" => now(self.name(ctx), ctx),
            "province" => now(self.province(ctx), ctx),
            "organiser" => now(self.organiser(ctx), ctx),
            "mouSignedOn" => now(self.mou_signed_on(ctx), ctx),
            "lastEventSequence" => now(self.last_event_sequence(ctx), ctx),
            "version" => now(self.version(ctx), ctx),
            "updatedAt" => now(self.updated_at(ctx), ctx),
            _ => None,
        }
    }
}

/// A regency or city (kabupaten/kota) that runs an innovation lab with LAN.
#[Object]
#[allow(
    clippy::unused_async,
    reason = "async-graphql resolvers are async, also those that only read a column"
)]
impl Regency {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Regency, self.0.id())
    }

    /// Kemendagri code, e.g. "63.03" for Kabupaten Banjar.
    async fn code(&self) -> Result<&str> {
        Ok(self.0.code()?)
    }

    /// Official name, e.g. "Kabupaten Banjar".
    async fn name(&self) -> Result<&str> {
        Ok(self.0.name()?)
    }

    /// Province the regency belongs to.
    async fn province(&self) -> Result<&str> {
        Ok(self.0.province()?)
    }

    /// The body that organises the lab, e.g. Bapelitbangda.
    async fn organiser(&self) -> Result<&str> {
        Ok(self.0.organiser()?)
    }

    /// Date the regency signed its innovation-lab MoU with LAN, if known.
    async fn mou_signed_on(&self) -> Result<Option<NaiveDate>> {
        Ok(*self.0.mou_signed_on()?)
    }

    /// Sequence number of the latest pipeline event in this regency.
    async fn last_event_sequence(&self) -> Result<i64> {
        Ok(*self.0.event_seq()?)
    }

    /// Version for optimistic concurrency; pass it back when updating.
    async fn version(&self) -> Result<i32> {
        Ok(*self.0.version()?)
    }

    /// When the record was last changed.
    async fn updated_at(&self) -> Result<DateTime<Utc>> {
        Ok(*self.0.updated_at()?)
    }

    /// The regency's lab editions, newest first.
    async fn cohorts(&self, ctx: &Context<'_>) -> Result<Vec<Cohort>> {
        let cohorts = ctx
            .data::<Loaders>()?
            .load_one(CohortsOfRegency(self.0.id()))
            .await?;
        Ok(cohorts
            .unwrap_or_default()
            .into_iter()
            .map(Cohort::from)
            .collect())
    }

    /// The regency's units, by name.
    async fn units(&self, ctx: &Context<'_>) -> Result<Vec<Unit>> {
        let units = ctx
            .data::<Loaders>()?
            .load_one(UnitsOfRegency(self.0.id()))
            .await?;
        Ok(units
            .unwrap_or_default()
            .into_iter()
            .map(Unit::from)
            .collect())
    }

    /// The regency's ideas, optionally filtered further.
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
        .page_within(ctx, DomainIdeaFilter::regency(self.0.id()))
        .await
    }

    /// The funnel of the regency's ideas (optionally filtered further).
    async fn funnel(&self, ctx: &Context<'_>, filter: Option<IdeaFilter>) -> Result<Funnel> {
        Ok(Funnel::new(
            ctx.data::<Domain>()?
                .funnel(&crate::graphql::context::caller(ctx), &self.scope(filter)?)
                .await?,
            super::aggregate::Shown::to(ctx),
        ))
    }

    /// The regency's ideas per stage.
    async fn stages(
        &self,
        ctx: &Context<'_>,
        filter: Option<IdeaFilter>,
    ) -> Result<Vec<StageCount>> {
        let counts = ctx
            .data::<Domain>()?
            .stage_counts(&crate::graphql::context::caller(ctx), &self.scope(filter)?)
            .await?;
        let shown = super::aggregate::Shown::to(ctx);
        Ok(counts
            .into_iter()
            .map(|c| StageCount::shown(&c, shown))
            .collect())
    }
}

/// One edition of a regency's innovation lab.
pub struct Cohort(pub Seen<cohort::Model>);

impl From<cohort::Model> for Cohort {
    fn from(model: cohort::Model) -> Self {
        Cohort(Seen::all(model))
    }
}

/// The fields a page answers without async-graphql's resolver ([`super::ready::Ready`]).
impl Plain for Cohort {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => now(self.id(ctx), ctx),
            "year" => now(self.year(ctx), ctx),
            "name" => now(self.name(ctx), ctx),
            "stage" => now(self.stage(ctx), ctx),
            "version" => now(self.version(ctx), ctx),
            _ => None,
        }
    }
}

/// One edition of a regency's innovation lab.
#[Object]
#[allow(
    clippy::unused_async,
    reason = "async-graphql resolvers are async, also those that only read a column"
)]
impl Cohort {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Cohort, self.0.id())
    }

    /// Year the edition started.
    async fn year(&self) -> Result<i32> {
        Ok(*self.0.year()?)
    }

    /// Name of the edition, e.g. "Laboratorium Inovasi Kabupaten Banjar 2017".
    async fn name(&self) -> Result<&str> {
        Ok(self.0.name()?)
    }

    /// Where the lab itself is in the 5D cycle.
    async fn stage(&self) -> Result<Stage> {
        Ok((*self.0.stage()?).into())
    }

    /// The criteria its ideas are reviewed on, with their weights (summing to 100).
    async fn rubric(&self) -> Result<Vec<super::review::RubricCriterion>> {
        Ok(crate::domain::review::rubric_of(self.0.whole()?)
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Version for optimistic concurrency.
    async fn version(&self) -> Result<i32> {
        Ok(*self.0.version()?)
    }

    /// The regency running this edition.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Regency> {
        Ok(Regency::from(
            loaders::required(ctx.data::<Loaders>()?, RegencyId(*self.0.regency_id()?)).await?,
        ))
    }

    /// The edition's ideas, optionally filtered further.
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
        let scope = DomainIdeaFilter {
            cohort_ids: Some(vec![self.0.id()]),
            ..Default::default()
        };
        IdeasArgs {
            filter,
            order_by,
            first,
            after,
            last,
            before,
        }
        .page_within(ctx, scope)
        .await
    }

    /// The funnel of the edition's ideas.
    async fn funnel(&self, ctx: &Context<'_>) -> Result<Funnel> {
        let scope = DomainIdeaFilter {
            cohort_ids: Some(vec![self.0.id()]),
            ..Default::default()
        };
        Ok(Funnel::new(
            ctx.data::<Domain>()?
                .funnel(&crate::graphql::context::caller(ctx), &scope)
                .await?,
            super::aggregate::Shown::to(ctx),
        ))
    }
}

/// Which cohorts to return.
#[derive(InputObject, Default)]
pub struct CohortFilter {
    /// Of these regencies (global IDs).
    pub regency_ids: Option<Vec<ID>>,
    /// Of these regencies (Kemendagri codes).
    pub regency_codes: Option<Vec<String>>,
    /// Started in one of these years.
    pub years: Option<Vec<i32>>,
}

#[derive(Default)]
pub struct RegencyQuery;

#[Object]
impl RegencyQuery {
    /// Every regency with an innovation lab, by Kemendagri code.
    async fn regencies(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Regency>> {
        let page = ctx
            .data::<Domain>()?
            .regency_page(
                &crate::graphql::context::caller(ctx),
                &page_request(first, after, last, before),
            )
            .await?;
        Ok(connection(page, Total::Regencies, Regency::from))
    }

    /// One regency, by global `id` or Kemendagri `code` (give exactly one); null if none matches.
    async fn regency(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
    ) -> Result<Option<Regency>> {
        let domain = ctx.data::<Domain>()?;
        let found = match (id, code) {
            (Some(id), None) => {
                let id = ids::decode(Kind::Regency, &id)?;
                ctx.data::<Loaders>()?.load_one(RegencyId(id)).await?
            }
            (None, Some(code)) => {
                domain
                    .regency_by_code(&crate::graphql::context::caller(ctx), &code)
                    .await?
            }
            _ => {
                return Err(DomainError::bad_input(
                    "Give either the regency's id or its code, not both and not neither.",
                )
                .into());
            }
        };
        Ok(found.map(Regency::from))
    }

    /// Lab editions, in the order they were created.
    async fn cohorts(
        &self,
        ctx: &Context<'_>,
        filter: Option<CohortFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Cohort>> {
        let filter = filter.unwrap_or_default();
        let filter = DomainCohortFilter {
            regency_ids: ids::decode_list(Kind::Regency, &filter.regency_ids)?,
            regency_codes: filter.regency_codes,
            years: filter.years,
        };
        let page = ctx
            .data::<Domain>()?
            .cohort_page(
                &crate::graphql::context::caller(ctx),
                &filter,
                &page_request(first, after, last, before),
            )
            .await?;
        Ok(connection(page, Total::Cohorts(filter), Cohort::from))
    }

    /// One lab edition by global ID; null if there is none.
    async fn cohort(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Cohort>> {
        let id = ids::decode(Kind::Cohort, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(CohortId(id))
            .await?
            .map(Cohort::from))
    }
}

/// A new regency.
#[derive(InputObject)]
pub struct CreateRegencyInput {
    /// Kemendagri code, e.g. "63.03"; unique.
    pub code: String,
    /// Official name, e.g. "Kabupaten Banjar".
    pub name: String,
    /// Province.
    pub province: String,
    /// The body organising the lab, e.g. "Bapelitbangda Kabupaten Banjar".
    pub organiser: String,
    /// Date of the lab MoU with LAN; not in the future.
    pub mou_signed_on: Option<NaiveDate>,
}

/// Changes to a regency; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateRegencyInput {
    /// The regency.
    pub id: ID,
    /// The version you read; a stale version is refused with CONFLICT.
    pub version: i32,
    /// New name.
    pub name: Option<String>,
    /// New province.
    pub province: Option<String>,
    /// New organiser.
    pub organiser: Option<String>,
    /// New MoU date.
    pub mou_signed_on: Option<NaiveDate>,
}

/// A new lab edition.
#[derive(InputObject)]
pub struct CreateCohortInput {
    /// The regency running it.
    pub regency_id: ID,
    /// Year it starts.
    pub year: i32,
    /// Name, unique within the regency.
    pub name: String,
    /// The lab's own 5D stage; DRUM_UP when left out.
    pub stage: Option<Stage>,
    /// The criteria mentors score ideas on, weights summing to 100; the default rubric
    /// (novelty 30, usefulness 25, replicability 20, authority 15, mastery 10) when left out.
    pub rubric: Option<Vec<super::review::RubricCriterionInput>>,
}

/// Changes to a lab edition.
#[derive(InputObject)]
pub struct UpdateCohortInput {
    /// The cohort.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// New name.
    pub name: Option<String>,
    /// New year.
    pub year: Option<i32>,
    /// The lab's new 5D stage.
    pub stage: Option<Stage>,
    /// A new review rubric (weights summing to 100); refused once an idea of the cohort has
    /// been reviewed, so that scores stay comparable.
    pub rubric: Option<Vec<super::review::RubricCriterionInput>>,
}

/// The regency after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct RegencyPayload {
    /// The regency as it is now.
    pub regency: Regency,
    /// The event the change recorded.
    pub event: super::event::PipelineEvent,
}

/// The cohort after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct CohortPayload {
    /// The cohort as it is now.
    pub cohort: Cohort,
    /// The event the change recorded.
    pub event: super::event::PipelineEvent,
}

#[derive(Default)]
pub struct RegencyMutation;

#[Object]
impl RegencyMutation {
    /// Adds a regency.
    async fn create_regency(
        &self,
        ctx: &Context<'_>,
        input: CreateRegencyInput,
    ) -> Result<RegencyPayload> {
        let written = ctx
            .data::<Domain>()?
            .create_regency(
                &super::context::caller(ctx),
                crate::domain::regency::NewRegency {
                    code: input.code,
                    name: input.name,
                    province: input.province,
                    organiser: input.organiser,
                    mou_signed_on: input.mou_signed_on,
                },
            )
            .await?;
        super::context::after_write(ctx);
        Ok(RegencyPayload {
            regency: Regency::from(written.value),
            event: super::context::first_event(written.events)?,
        })
    }

    /// Changes a regency.
    async fn update_regency(
        &self,
        ctx: &Context<'_>,
        input: UpdateRegencyInput,
    ) -> Result<RegencyPayload> {
        let id = ids::decode(Kind::Regency, &input.id)?;
        let written = ctx
            .data::<Domain>()?
            .update_regency(
                &super::context::caller(ctx),
                id,
                input.version,
                crate::domain::regency::RegencyChanges {
                    name: input.name,
                    province: input.province,
                    organiser: input.organiser,
                    mou_signed_on: input.mou_signed_on,
                },
            )
            .await?;
        super::context::after_write(ctx);
        Ok(RegencyPayload {
            regency: Regency::from(written.value),
            event: super::context::first_event(written.events)?,
        })
    }

    /// Adds a lab edition to a regency.
    async fn create_cohort(
        &self,
        ctx: &Context<'_>,
        input: CreateCohortInput,
    ) -> Result<CohortPayload> {
        let regency_id = ids::decode(Kind::Regency, &input.regency_id)?;
        let written = ctx
            .data::<Domain>()?
            .create_cohort(
                &super::context::caller(ctx),
                crate::domain::cohort::NewCohort {
                    regency_id,
                    year: input.year,
                    name: input.name,
                    stage: input.stage.map(Into::into),
                    rubric: input
                        .rubric
                        .map(|r| r.into_iter().map(Into::into).collect()),
                },
            )
            .await?;
        super::context::after_write(ctx);
        Ok(CohortPayload {
            cohort: Cohort::from(written.value),
            event: super::context::first_event(written.events)?,
        })
    }

    /// Changes a lab edition (its name, year or the lab's own stage).
    async fn update_cohort(
        &self,
        ctx: &Context<'_>,
        input: UpdateCohortInput,
    ) -> Result<CohortPayload> {
        let id = ids::decode(Kind::Cohort, &input.id)?;
        let written = ctx
            .data::<Domain>()?
            .update_cohort(
                &super::context::caller(ctx),
                id,
                input.version,
                crate::domain::cohort::CohortChanges {
                    name: input.name,
                    year: input.year,
                    stage: input.stage.map(Into::into),
                    rubric: input
                        .rubric
                        .map(|r| r.into_iter().map(Into::into).collect()),
                },
            )
            .await?;
        super::context::after_write(ctx);
        Ok(CohortPayload {
            cohort: Cohort::from(written.value),
            event: super::context::first_event(written.events)?,
        })
    }
}

/// As [`IDEA_COLUMNS`], for the fields of an idea's cohort (its rubric reads them all).
pub(crate) const COHORT_COLUMNS: &[(&str, &[cohort::Column])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("year", &[cohort::Column::Year]),
    ("name", &[cohort::Column::Name]),
    ("stage", &[cohort::Column::Stage]),
    ("version", &[cohort::Column::Version]),
    ("regency", &[cohort::Column::RegencyId]),
    ("ideas", &[]),
    ("funnel", &[]),
];

/// As [`IDEA_COLUMNS`], for the fields of an idea's regency.
pub(crate) const REGENCY_COLUMNS: &[(&str, &[regency::Column])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("code", &[regency::Column::Code]),
    ("name", &[regency::Column::Name]),
    ("province", &[regency::Column::Province]),
    ("organiser", &[regency::Column::Organiser]),
    ("mouSignedOn", &[regency::Column::MouSignedOn]),
    ("lastEventSequence", &[regency::Column::EventSeq]),
    ("version", &[regency::Column::Version]),
    ("updatedAt", &[regency::Column::UpdatedAt]),
    ("cohorts", &[]),
    ("units", &[]),
    ("ideas", &[]),
    ("funnel", &[]),
    ("stages", &[]),
];
