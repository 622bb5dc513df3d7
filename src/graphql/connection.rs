//! Relay connections: every list that can grow is a connection with edges, cursors, pageInfo
//! and a `totalCount` computed only when asked for.

use async_graphql::{
    Context, Object, ObjectType, OutputType, Result,
    connection::{Connection, CursorType, Edge, EmptyFields},
};

use crate::domain::{
    Domain,
    cohort::CohortFilter,
    commitment::CommitmentFilter,
    event::EventFilter,
    idea::IdeaFilter,
    page::{Page, PageCursor, PageRequest},
    unit::UnitFilter,
};

/// What `totalCount` counts: the same filter the page was read with.
#[derive(Clone)]
pub enum Total {
    Ideas(Box<IdeaFilter>),
    Regencies,
    Units(UnitFilter),
    Cohorts(CohortFilter),
    Mentors(Option<String>),
    Commitments(CommitmentFilter),
    Events(EventFilter),
}

#[Object]
impl Total {
    /// Number of items matching the connection's filter, across all pages.
    pub async fn total_count(&self, ctx: &Context<'_>) -> Result<u64> {
        let domain = ctx.data::<Domain>()?;
        Ok(match self {
            Total::Ideas(f) => {
                domain
                    .count_ideas(&crate::graphql::context::caller(ctx), f)
                    .await?
            }
            Total::Regencies => {
                domain
                    .count_regencies(&crate::graphql::context::caller(ctx))
                    .await?
            }
            Total::Units(f) => {
                domain
                    .count_units(&crate::graphql::context::caller(ctx), f)
                    .await?
            }
            Total::Cohorts(f) => {
                domain
                    .count_cohorts(&crate::graphql::context::caller(ctx), f)
                    .await?
            }
            Total::Mentors(search) => {
                domain
                    .count_mentors(&crate::graphql::context::caller(ctx), search.as_deref())
                    .await?
            }
            Total::Commitments(f) => {
                domain
                    .count_commitments(&crate::graphql::context::caller(ctx), f)
                    .await?
            }
            Total::Events(f) => {
                domain
                    .count_events(&crate::graphql::context::caller(ctx), f)
                    .await?
            }
        })
    }
}

pub type Conn<N> = Connection<PageCursor, N, Total, EmptyFields>;

/// A row's cursor, encoded when an edge's `cursor` or `pageInfo`'s start or end is asked for.
impl CursorType for PageCursor {
    type Error = &'static str;

    /// Cursors come back as arguments, read by the domain against their ordering; a
    /// connection never reads one itself.
    fn decode_cursor(_: &str) -> Result<Self, Self::Error> {
        Err("cursors are read by the domain")
    }

    fn encode_cursor(&self) -> String {
        self.encode()
    }
}

/// Arguments every connection takes.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageRequest {
    PageRequest {
        first,
        after,
        last,
        before,
    }
}

/// Turns a domain page into a GraphQL connection of `N`.
pub fn connection<M, N: OutputType>(page: Page<M>, total: Total, node: impl Fn(M) -> N) -> Conn<N> {
    connection_with(page, total, node)
}

/// Like [`connection`], with other fields beside the edges than `totalCount` alone.
pub fn connection_with<M, N: OutputType, F: ObjectType>(
    page: Page<M>,
    fields: F,
    node: impl Fn(M) -> N,
) -> Connection<PageCursor, N, F, EmptyFields> {
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, fields);
    connection.edges.extend(
        page.edges
            .into_iter()
            .map(|(cursor, row)| Edge::new(cursor, node(row))),
    );
    connection
}
