//! LAN mentors and their assignments to ideas, across regencies.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Result};
use chrono::NaiveDate;
use entity::{mentor, mentor_assignment};

use super::{
    connection::{Conn, Total, connection, page_request},
    idea::{Idea, IdeaFilter, IdeaOrder, IdeaPage, IdeasArgs},
    ids::{self, Kind},
    loaders::{self, IdeaId, Loaders, MentorId},
    ready::{Plain, Ready, now},
};
use crate::domain::{
    Domain,
    idea::IdeaFilter as DomainIdeaFilter,
    rows::{ById, Seen},
};

/// A LAN mentor (Tim Road Map Inovasi) who coaches ideas in many regencies.
pub struct Mentor(pub Seen<mentor::Model>);

impl From<mentor::Model> for Mentor {
    fn from(model: mentor::Model) -> Self {
        Mentor(Seen::all(model))
    }
}

/// The fields a page answers without async-graphql's resolver ([`super::ready::Ready`]).
impl Plain for Mentor {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => now(self.id(ctx), ctx),
            "name" => now(self.name(ctx), ctx),
            "institution" => now(self.institution(ctx), ctx),
            "team" => now(self.team(ctx), ctx),
            "expertise" => now(self.expertise(ctx), ctx),
            "contact" => now(self.contact(ctx), ctx),
            "version" => now(self.version(ctx), ctx),
            _ => None,
        }
    }
}

/// A LAN mentor (Tim Road Map Inovasi) who coaches ideas in many regencies.
#[Object]
#[allow(
    clippy::unused_async,
    reason = "async-graphql resolvers are async, also those that only read a column"
)]
impl Mentor {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Mentor, self.0.id())
    }

    /// Full name.
    async fn name(&self) -> Result<&str> {
        Ok(self.0.name()?)
    }

    /// Institution, e.g. Lembaga Administrasi Negara (LAN).
    async fn institution(&self) -> Result<&str> {
        Ok(self.0.institution()?)
    }

    /// Team within the institution.
    async fn team(&self) -> Result<Option<&str>> {
        Ok(self.0.team()?.as_deref())
    }

    /// Fields of expertise.
    async fn expertise(&self) -> Result<Option<&str>> {
        Ok(self.0.expertise()?.as_deref())
    }

    /// How to reach the mentor.
    async fn contact(&self) -> Result<Option<&str>> {
        Ok(self.0.contact()?.as_deref())
    }

    /// Version for optimistic concurrency.
    async fn version(&self) -> Result<i32> {
        Ok(*self.0.version()?)
    }

    /// Ideas the mentor coaches now, in every regency, optionally filtered further.
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
            mentor_ids: Some(vec![self.0.id()]),
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
}

/// A mentor coaching an idea over a period. One of a page of ideas carries the mentors the page
/// read (with the columns its query selects).
pub struct MentorAssignment(
    pub mentor_assignment::Model,
    pub Option<Arc<ById<Seen<mentor::Model>>>>,
);

impl From<mentor_assignment::Model> for MentorAssignment {
    fn from(model: mentor_assignment::Model) -> Self {
        MentorAssignment(model, None)
    }
}

/// The fields a page answers without async-graphql's resolver ([`super::ready::Ready`]).
impl Plain for MentorAssignment {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => now(self.id(ctx), ctx),
            "since" => now(self.since(ctx), ctx),
            "until" => now(self.until(ctx), ctx),
            "current" => now(self.current(ctx), ctx),
            "mentor"
                if self
                    .1
                    .as_ref()
                    .is_some_and(|m| m.contains_key(&self.0.mentor_id)) =>
            {
                now(self.mentor(ctx), ctx)
            }
            _ => None,
        }
    }
}

/// A mentor coaching an idea over a period. One of a page of ideas carries the mentors the page
/// read (with the columns its query selects).
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
    async fn mentor(&self, ctx: &Context<'_>) -> Result<Ready<Mentor>> {
        if let Some(mentor) = self.1.as_ref().and_then(|m| m.get(&self.0.mentor_id)) {
            return Ok(Ready(Mentor(mentor.clone())));
        }
        Ok(Ready(Mentor::from(
            loaders::required(ctx.data::<Loaders>()?, MentorId(self.0.mentor_id)).await?,
        )))
    }

    /// The idea coached.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Idea> {
        Ok(Idea::from(
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
        let search = crate::domain::search_text(search.as_deref())?;
        let page = ctx
            .data::<Domain>()?
            .mentor_page(
                &crate::graphql::context::caller(ctx),
                search.as_deref(),
                &page_request(first, after, last, before),
            )
            .await?;
        Ok(connection(page, Total::Mentors(search), Mentor::from))
    }

    /// One mentor by global ID; null if there is none.
    async fn mentor(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Mentor>> {
        let id = ids::decode(Kind::Mentor, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(MentorId(id))
            .await?
            .map(Mentor::from))
    }
}

/// A new mentor.
#[derive(async_graphql::InputObject)]
pub struct CreateMentorInput {
    /// Full name.
    pub name: String,
    /// Institution; Lembaga Administrasi Negara (LAN) when left out.
    pub institution: Option<String>,
    /// Team, e.g. "Tim Road Map Inovasi".
    pub team: Option<String>,
    /// Fields of expertise.
    pub expertise: Option<String>,
    /// How to reach the mentor.
    pub contact: Option<String>,
}

/// Changes to a mentor; fields left out stay as they are, an empty text clears an optional one.
#[derive(async_graphql::InputObject)]
pub struct UpdateMentorInput {
    /// The mentor.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// New name.
    pub name: Option<String>,
    /// New institution.
    pub institution: Option<String>,
    /// New team.
    pub team: Option<String>,
    /// New expertise.
    pub expertise: Option<String>,
    /// New contact.
    pub contact: Option<String>,
}

/// Puts a mentor on an idea.
#[derive(async_graphql::InputObject)]
pub struct AssignMentorInput {
    /// The idea.
    pub idea_id: ID,
    /// The mentor.
    pub mentor_id: ID,
    /// First day of coaching; today when left out; not in the future.
    pub since: Option<NaiveDate>,
}

/// Ends a mentor's coaching of an idea (kept in the history).
#[derive(async_graphql::InputObject)]
pub struct UnassignMentorInput {
    /// The idea.
    pub idea_id: ID,
    /// The mentor.
    pub mentor_id: ID,
    /// Last day of coaching; today when left out.
    pub until: Option<NaiveDate>,
}

/// The mentor after a write.
#[derive(async_graphql::SimpleObject)]
pub struct MentorPayload {
    /// The mentor as it is now.
    pub mentor: Mentor,
}

/// The assignment after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct MentorAssignmentPayload {
    /// The assignment as it is now.
    pub assignment: MentorAssignment,
    /// The idea coached.
    pub idea: Idea,
    /// The event the change recorded.
    pub event: super::event::PipelineEvent,
}

fn mentor_fields(
    name: Option<String>,
    institution: Option<String>,
    team: Option<String>,
    expertise: Option<String>,
    contact: Option<String>,
) -> crate::domain::mentor::MentorFields {
    crate::domain::mentor::MentorFields {
        name,
        institution,
        team,
        expertise,
        contact,
    }
}

#[derive(Default)]
pub struct MentorMutation;

#[async_graphql::Object]
impl MentorMutation {
    /// Adds a mentor.
    async fn create_mentor(
        &self,
        ctx: &Context<'_>,
        input: CreateMentorInput,
    ) -> Result<MentorPayload> {
        let fields = mentor_fields(
            Some(input.name),
            input.institution,
            input.team,
            input.expertise,
            input.contact,
        );
        let mentor = ctx
            .data::<Domain>()?
            .create_mentor(&crate::graphql::context::caller(ctx), fields)
            .await?;
        super::context::after_write(ctx);
        Ok(MentorPayload {
            mentor: Mentor::from(mentor),
        })
    }

    /// Changes a mentor.
    async fn update_mentor(
        &self,
        ctx: &Context<'_>,
        input: UpdateMentorInput,
    ) -> Result<MentorPayload> {
        let id = ids::decode(Kind::Mentor, &input.id)?;
        let fields = mentor_fields(
            input.name,
            input.institution,
            input.team,
            input.expertise,
            input.contact,
        );
        let mentor = ctx
            .data::<Domain>()?
            .update_mentor(
                &crate::graphql::context::caller(ctx),
                id,
                input.version,
                fields,
            )
            .await?;
        super::context::after_write(ctx);
        Ok(MentorPayload {
            mentor: Mentor::from(mentor),
        })
    }

    /// Assigns a mentor to coach an idea.
    async fn assign_mentor(
        &self,
        ctx: &Context<'_>,
        input: AssignMentorInput,
    ) -> Result<MentorAssignmentPayload> {
        let idea_id = ids::decode(Kind::Idea, &input.idea_id)?;
        let mentor_id = ids::decode(Kind::Mentor, &input.mentor_id)?;
        let written = ctx
            .data::<Domain>()?
            .assign_mentor(
                &super::context::caller(ctx),
                idea_id,
                mentor_id,
                input.since,
            )
            .await?;
        assignment_payload(ctx, written).await
    }

    /// Ends a mentor's coaching of an idea; the assignment stays in the idea's history.
    async fn unassign_mentor(
        &self,
        ctx: &Context<'_>,
        input: UnassignMentorInput,
    ) -> Result<MentorAssignmentPayload> {
        let idea_id = ids::decode(Kind::Idea, &input.idea_id)?;
        let mentor_id = ids::decode(Kind::Mentor, &input.mentor_id)?;
        let written = ctx
            .data::<Domain>()?
            .unassign_mentor(
                &super::context::caller(ctx),
                idea_id,
                mentor_id,
                input.until,
            )
            .await?;
        assignment_payload(ctx, written).await
    }
}

async fn assignment_payload(
    ctx: &Context<'_>,
    written: crate::domain::write::Written<mentor_assignment::Model>,
) -> Result<MentorAssignmentPayload> {
    super::context::after_write(ctx);
    let idea = loaders::required(ctx.data::<Loaders>()?, IdeaId(written.value.idea_id)).await?;
    Ok(MentorAssignmentPayload {
        assignment: MentorAssignment::from(written.value),
        idea: Idea::from(idea),
        event: super::context::first_event(written.events)?,
    })
}

/// As [`IDEA_COLUMNS`], for the fields of an idea's mentors.
pub(crate) const MENTOR_COLUMNS: &[(&str, &[mentor::Column])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("name", &[mentor::Column::Name]),
    ("institution", &[mentor::Column::Institution]),
    ("team", &[mentor::Column::Team]),
    ("expertise", &[mentor::Column::Expertise]),
    ("contact", &[mentor::Column::Contact]),
    ("version", &[mentor::Column::Version]),
    ("ideas", &[]),
];
