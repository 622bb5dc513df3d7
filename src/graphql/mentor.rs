//! LAN mentors and their assignments to ideas, across regencies.

use async_graphql::{Context, ID, Object, Result};
use chrono::NaiveDate;
use entity::{mentor, mentor_assignment};

use super::{
    connection::{Conn, Total, connection, page_request},
    idea::{Idea, IdeaFilter, IdeaOrder, idea_page},
    ids::{self, Kind},
    loaders::{self, IdeaId, Loaders, MentorId},
};
use crate::domain::{Domain, idea::IdeaFilter as DomainIdeaFilter};

/// A LAN mentor (Tim Road Map Inovasi) who coaches ideas in many regencies.
pub struct Mentor(pub mentor::Model);

#[Object]
impl Mentor {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Mentor, self.0.id)
    }

    /// Full name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Institution, e.g. Lembaga Administrasi Negara (LAN).
    async fn institution(&self) -> &str {
        &self.0.institution
    }

    /// Team within the institution.
    async fn team(&self) -> Option<&str> {
        self.0.team.as_deref()
    }

    /// Fields of expertise.
    async fn expertise(&self) -> Option<&str> {
        self.0.expertise.as_deref()
    }

    /// How to reach the mentor.
    async fn contact(&self) -> Option<&str> {
        self.0.contact.as_deref()
    }

    /// Version for optimistic concurrency.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Ideas the mentor coaches now, in every regency, optionally filtered further.
    #[allow(clippy::too_many_arguments)]
    async fn ideas(
        &self,
        ctx: &Context<'_>,
        filter: Option<IdeaFilter>,
        order_by: Option<IdeaOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Idea>> {
        let scope = DomainIdeaFilter {
            mentor_ids: Some(vec![self.0.id]),
            ..Default::default()
        };
        idea_page(
            ctx,
            IdeaFilter::scoped(filter, scope)?,
            order_by,
            first,
            after,
            last,
            before,
        )
        .await
    }
}

/// A mentor coaching an idea over a period.
pub struct MentorAssignment(pub mentor_assignment::Model);

#[Object]
impl MentorAssignment {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::MentorAssignment, self.0.id)
    }

    /// First day of coaching.
    async fn since(&self) -> NaiveDate {
        self.0.since
    }

    /// Last day of coaching; null while it goes on.
    async fn until(&self) -> Option<NaiveDate> {
        self.0.until
    }

    /// Whether the assignment goes on.
    async fn current(&self) -> bool {
        self.0.until.is_none()
    }

    /// The mentor.
    async fn mentor(&self, ctx: &Context<'_>) -> Result<Mentor> {
        Ok(Mentor(
            loaders::required(ctx.data::<Loaders>()?, MentorId(self.0.mentor_id)).await?,
        ))
    }

    /// The idea coached.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Idea> {
        Ok(Idea(
            loaders::required(ctx.data::<Loaders>()?, IdeaId(self.0.idea_id)).await?,
        ))
    }
}

#[derive(Default)]
pub struct MentorQuery;

#[Object]
impl MentorQuery {
    /// Mentors by name; `search` looks in names and expertise.
    async fn mentors(
        &self,
        ctx: &Context<'_>,
        search: Option<String>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Mentor>> {
        let page = ctx
            .data::<Domain>()?
            .mentor_page(search.as_deref(), &page_request(first, after, last, before))
            .await?;
        Ok(connection(page, Total::Mentors(search), Mentor))
    }

    /// One mentor by global ID; null if there is none.
    async fn mentor(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Mentor>> {
        let id = ids::decode(Kind::Mentor, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(MentorId(id))
            .await?
            .map(Mentor))
    }
}
