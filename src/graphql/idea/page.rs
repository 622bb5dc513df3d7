//! A page of ideas: read with only the columns its query selects, their owners in the same
//! statement, and the relations the query selects primed in the loaders.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Result, SelectionField};
use entity::{cohort, idea, mentor, mentor_assignment, regency, unit};

use super::{Carried, IDEA_COLUMNS, Idea, IdeaFilter, IdeaOrder};
use crate::domain::{
    Domain,
    idea::{Assigned, IdeaColumns, IdeaFilter as DomainFilter, Owners},
    page::PageRequest,
    rows::{AtPosition, ById, Columns, Seen},
};
use crate::graphql::{
    connection::{Conn, Total, connection, page_request},
    loaders::{self, CommitmentId, CommitmentsOfIdea, Loaders, TransitionsOfIdea, UnitId},
    mentor::MENTOR_COLUMNS,
    ready::Ready,
    regency::{COHORT_COLUMNS, REGENCY_COLUMNS},
    unit::UNIT_COLUMNS,
};

/// The arguments of every `ideas` connection field (`Query.ideas` and the `ideas` of a
/// regency, cohort, unit and mentor): the filter, the order and the page.
pub struct IdeasArgs {
    pub filter: Option<IdeaFilter>,
    pub order_by: Option<IdeaOrder>,
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

/// A page of ideas, each answering its ready fields at once ([`Ready`]).
pub type IdeaPage = Conn<Ready<Idea>>;

impl IdeasArgs {
    /// The page the arguments ask for, among all the ideas the caller may read.
    pub async fn page(self, ctx: &Context<'_>) -> Result<IdeaPage> {
        let filter = self
            .filter
            .map(|f| f.to_domain())
            .transpose()?
            .unwrap_or_default();
        let request = page_request(self.first, self.after, self.last, self.before);
        idea_page(ctx, filter, self.order_by, request).await
    }

    /// The page the arguments ask for, among the ideas of `scope` (the parent's ideas).
    pub async fn page_within(self, ctx: &Context<'_>, scope: DomainFilter) -> Result<IdeaPage> {
        let filter = IdeaFilter::scoped(self.filter, scope)?;
        let request = page_request(self.first, self.after, self.last, self.before);
        idea_page(ctx, filter, self.order_by, request).await
    }
}

/// Reads a page of ideas: shared by `Query.ideas` and the nested `ideas` fields. It reads only
/// the columns the query selects, and when the query selects an idea's unit, cohort or regency,
/// reads them in the page's own statement.
pub async fn idea_page(
    ctx: &Context<'_>,
    filter: DomainFilter,
    order: Option<IdeaOrder>,
    page: PageRequest,
) -> Result<IdeaPage> {
    let domain = ctx.data::<Domain>()?;
    let caller = crate::graphql::context::caller(ctx);
    let order = order.unwrap_or_default().into();
    let wants = Wants::of(ctx);
    // The page's mentor assignments with their mentors, when the query selects them, come in
    // the page's own statement.
    let mentors = (wants.one(&["mentors"]) || wants.one(&["mentorAssignments", "mentor"]))
        .then(|| wants.mentor_columns());
    let (page, owners, assigned) = domain
        .ideas_with_owners(&caller, &filter, order, &page, wants.columns(), mentors)
        .await?;
    let ideas: Vec<&Seen<idea::Model>> = page.edges.iter().map(|(_, m)| m).collect();
    let (mentors, assignments) = prefetch(ctx, domain, assigned, &wants, &ideas, &owners).await?;
    let carried = Arc::new(Carried::new(owners, mentors, assignments));
    Ok(connection(page, Total::Ideas(Box::new(filter)), |idea| {
        Ready(Idea(idea, Some(carried.clone())))
    }))
}

/// The columns of `M` that `fields` read, by `table`; every column when one is not in it.
fn columns_of<M: AtPosition>(
    fields: &[SelectionField<'_>],
    table: &[(&str, &[<M::Entity as sea_orm::EntityTrait>::Column])],
) -> Columns {
    let mut columns = Columns::NONE;
    for field in fields {
        match table.iter().find(|(name, _)| *name == field.name()) {
            Some((_, names)) => columns = columns.and(Columns::of::<M>(names)),
            None => return Columns::ALL,
        }
    }
    columns
}

/// Which fields a query selects on the ideas of a connection (under `edges.node` or `nodes`).
struct Wants<'a> {
    nodes: [async_graphql::Lookahead<'a>; 2],
    /// The fields selected on an idea, through fragments, each as often as it is selected.
    fields: Vec<SelectionField<'a>>,
}

/// The fields selected below the fields named `name` among `fields` (through fragments).
fn under<'a>(fields: &[SelectionField<'a>], name: &str) -> Vec<SelectionField<'a>> {
    fields
        .iter()
        .filter(|f| f.name() == name)
        .flat_map(|f| f.selection_set().collect::<Vec<_>>())
        .collect()
}

impl<'a> Wants<'a> {
    fn of(ctx: &'a Context<'_>) -> Self {
        let look = ctx.look_ahead();
        let nodes = [look.field("edges").field("node"), look.field("nodes")];
        let fields = nodes
            .iter()
            .flat_map(async_graphql::Lookahead::selection_fields)
            .flat_map(|node| node.selection_set().collect::<Vec<_>>())
            .collect();
        Wants { nodes, fields }
    }

    /// Whether the query selects the field at `path` below an idea.
    fn one(&self, path: &[&str]) -> bool {
        self.nodes.iter().any(|node| {
            let mut field = node.field(path[0]);
            for name in &path[1..] {
                field = field.field(name);
            }
            field.exists()
        })
    }

    /// The columns of the mentors that the idea's `mentors` and `mentorAssignments.mentor`
    /// read.
    fn mentor_columns(&self) -> Columns {
        let mut mentors = under(&self.fields, "mentors");
        mentors.extend(under(&under(&self.fields, "mentorAssignments"), "mentor"));
        columns_of::<mentor::Model>(&mentors, MENTOR_COLUMNS)
    }

    /// The columns the selected fields read: the idea's, and its unit's, cohort's and
    /// regency's when the query selects them.
    fn columns(&self) -> IdeaColumns {
        let below = |name: &str| {
            self.fields
                .iter()
                .any(|f| f.name() == name)
                .then(|| under(&self.fields, name))
        };
        IdeaColumns {
            idea: columns_of::<idea::Model>(&self.fields, IDEA_COLUMNS),
            unit: below("unit").map(|f| columns_of::<unit::Model>(&f, UNIT_COLUMNS)),
            cohort: below("cohort").map(|f| columns_of::<cohort::Model>(&f, COHORT_COLUMNS)),
            regency: below("regency").map(|f| columns_of::<regency::Model>(&f, REGENCY_COLUMNS)),
        }
    }
}

/// Primes the request's loaders with the relations the query selects on a page of ideas, one
/// statement per relation (assignments with their mentors in one); the unit, cohort and
/// regency come with the page (`owners`) and each idea carries them. Returns the mentors read
/// with fewer than all their columns, for the ideas to carry. DataLoader batches split when
/// resolvers reach a nested field at different moments; priming makes the cost depend only on
/// the query, never on the page size. Measured by the statement-count test: without it a page of
/// 100 ideas with their relations costs 50 statements against 11 for a page of 10; with it,
/// both cost the same. The assignments with their mentors, when the query selects mentors, came
/// with the page (`assigned`): the ideas carry them, with the mentors read with some columns.
async fn prefetch(
    ctx: &Context<'_>,
    domain: &Domain,
    assigned: Option<Assigned>,
    wants: &Wants<'_>,
    ideas: &[&Seen<idea::Model>],
    owners: &Owners,
) -> Result<(
    ById<Seen<mentor::Model>>,
    Option<ById<Vec<mentor_assignment::Model>>>,
)> {
    if ideas.is_empty() {
        return Ok((ById::default(), None));
    }
    let prefetch = Prefetch {
        domain,
        loaders: ctx.data::<Loaders>()?,
        caller: crate::graphql::context::caller(ctx),
        idea_ids: ideas.iter().map(|i| i.id()).collect(),
    };
    let (mut carried, mut assignments) = (ById::default(), None);
    if wants.one(&["mentors"]) || wants.one(&["mentorAssignments"]) {
        let (mentors, read) = prefetch.assignments(assigned).await?;
        (carried, assignments) = (mentors, Some(read));
    }
    if wants.one(&["unit", "parent"]) {
        // Whole units, read apart from the page: they may serve any field.
        let mut parents = Vec::new();
        for unit in owners.units.values() {
            parents.extend(*unit.parent_id()?);
        }
        let parents = distinct(parents.into_iter());
        prefetch.units(&parents).await?;
    }
    if wants.one(&["commitments"]) {
        prefetch
            .commitments(wants.one(&["commitments", "unit"]))
            .await?;
    }
    if wants.one(&["history"]) {
        let mut moves = domain
            .transitions_of_ideas(&prefetch.caller, &prefetch.idea_ids)
            .await?;
        prefetch
            .loaders
            .feed_many(
                prefetch
                    .idea_ids
                    .iter()
                    .map(|id| (TransitionsOfIdea(*id), moves.remove(id).unwrap_or_default())),
            )
            .await;
    }
    Ok((carried, assignments))
}

/// The ids in `ids`, each once, in order.
fn distinct(ids: impl Iterator<Item = i32>) -> Vec<i32> {
    ids.collect::<std::collections::BTreeSet<i32>>()
        .into_iter()
        .collect()
}

/// What priming the loaders for one page of ideas reads with.
struct Prefetch<'a> {
    domain: &'a Domain,
    loaders: &'a Loaders,
    caller: crate::access::Caller,
    idea_ids: Vec<i32>,
}

impl Prefetch<'_> {
    /// Whole units by id, for any field to read.
    async fn units(&self, ids: &[i32]) -> Result<()> {
        let units = self.domain.units_by_id(&self.caller, ids).await?;
        self.loaders
            .feed_many(units.into_iter().map(|(id, u)| (UnitId(id), u)))
            .await;
        Ok(())
    }

    /// The ideas' mentor assignments, for the ideas to carry: `assigned` with their mentors
    /// when the page read them, else read here. Whole mentors go to the loaders, mentors read
    /// with some columns are returned for the ideas to carry too.
    async fn assignments(
        &self,
        assigned: Option<Assigned>,
    ) -> Result<(
        ById<Seen<mentor::Model>>,
        ById<Vec<mentor_assignment::Model>>,
    )> {
        let mut carried = ById::default();
        let (caller, ids) = (&self.caller, &self.idea_ids);
        let assignments = match assigned {
            Some((assignments, mentors)) => {
                if mentors.values().all(|mentor| mentor.whole().is_ok()) {
                    // Whole mentors may serve any field.
                    let mut whole = Vec::with_capacity(mentors.len());
                    for (id, mentor) in mentors {
                        whole.push((loaders::MentorId(id), mentor.into_whole()?));
                    }
                    self.loaders.feed_many(whole).await;
                } else {
                    carried = mentors;
                }
                assignments
            }
            None => self
                .domain
                .assignments_of_ideas(caller, ids)
                .await?
                .into_iter()
                .collect(),
        };
        Ok((carried, assignments))
    }

    /// The ideas' commitments (and, when `with_units`, the commitments' units).
    async fn commitments(&self, with_units: bool) -> Result<()> {
        let (caller, ids) = (&self.caller, &self.idea_ids);
        let mut links: HashMap<i32, Vec<i32>> =
            self.domain.commitment_ids_of_ideas(caller, ids).await?;
        let commitment_ids = distinct(links.values().flatten().copied());
        let commitments = self
            .domain
            .commitments_by_id(caller, &commitment_ids)
            .await?;
        if with_units {
            self.units(&distinct(commitments.values().map(|c| c.unit_id)))
                .await?;
        }
        self.loaders
            .feed_many(commitments.into_iter().map(|(id, c)| (CommitmentId(id), c)))
            .await;
        self.loaders
            .feed_many(
                ids.iter()
                    .map(|id| (CommitmentsOfIdea(*id), links.remove(id).unwrap_or_default())),
            )
            .await;
        Ok(())
    }
}
