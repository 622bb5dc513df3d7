//! Ideas: the type, its filter and ordering, and the `ideas`/`idea` queries.

use std::{collections::HashMap, sync::Arc};

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SelectionField};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{cohort, idea, mentor, regency, stage_transition, unit};

use super::{
    commitment::Commitment,
    connection::{Conn, Total, connection, page_request},
    enums::{
        Decision, IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, Stage,
        StallReason, UnitKind,
    },
    ids::{self, Kind},
    loaders::{
        self, AssignmentsOfIdea, CohortId, CommitmentId, CommitmentsOfIdea, CurrentReviewsOfIdea,
        HandOversOfIdea, IdeaId, Loaders, RegencyId, ReviewsOfIdea, TransitionsOfIdea, UnitId,
    },
    mentor::{Mentor, MentorAssignment},
    regency::{Cohort, Regency},
    review::{HandOver, Innovator, InnovatorInput, Review},
    unit::Unit,
};
use crate::domain::{
    Domain,
    idea::{
        IdeaColumns, IdeaFilter as DomainFilter, IdeaOrder as DomainOrder,
        IdeaOrderField as DomainOrderField, Owners, import::Duplicates,
    },
    page::PageRequest,
    rows::{AtPosition, Columns},
};

/// An innovation idea moving through the 5D pipeline.
///
/// An idea of a page carries the page's unit, cohort, regency and mentors ([`Carried`],
/// shared): they were read with only the columns the page's query selects, so they serve this
/// idea's fields and never a loader another field reads from.
pub struct Idea(pub idea::Model, Option<Arc<Carried>>);

/// What the ideas of one page carry: their unit, cohort and regency and their mentors, read
/// with only the columns the page's query selects.
pub struct Carried {
    owners: Owners,
    mentors: Arc<HashMap<i32, mentor::Model>>,
}

impl From<idea::Model> for Idea {
    fn from(model: idea::Model) -> Self {
        Idea(model, None)
    }
}

impl Idea {
    /// The owner `get` finds among those the idea's page read with it, if it read them.
    fn owners<'a, M>(&'a self, get: impl FnOnce(&'a Owners) -> Option<&'a M>) -> Option<&'a M> {
        self.1.as_deref().and_then(|carried| get(&carried.owners))
    }

    /// The mentors the idea's page read with it (none if it read none).
    fn carried_mentors(&self) -> Option<&Arc<HashMap<i32, mentor::Model>>> {
        self.1.as_ref().map(|carried| &carried.mentors)
    }
}

/// An innovation idea moving through the 5D pipeline.
#[Object]
impl Idea {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Idea, self.0.id)
    }

    /// Short name of the innovation.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// The problem the idea addresses.
    async fn problem(&self) -> &str {
        &self.0.problem
    }

    /// What the innovation does.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Digital or non-digital (Indeks Inovasi Daerah).
    #[graphql(name = "type")]
    async fn innovation_type(&self) -> InnovationType {
        self.0.innovation_type.into()
    }

    /// Governance, public service or other (Indeks Inovasi Daerah).
    async fn form(&self) -> InnovationForm {
        self.0.form.into()
    }

    /// Government affairs area (urusan), free text.
    async fn affairs_area(&self) -> &str {
        &self.0.affairs_area
    }

    /// Who started the innovation.
    async fn initiator(&self) -> Initiator {
        self.0.initiator.into()
    }

    /// Current 5D stage.
    async fn stage(&self) -> Stage {
        self.0.stage.into()
    }

    /// Active, stalled or dropped.
    async fn status(&self) -> IdeaStatus {
        self.0.status.into()
    }

    /// Why the idea is stalled or dropped; null while active.
    async fn status_reason(&self) -> Option<&str> {
        self.0.status_reason.as_deref()
    }

    /// The kind of reason while the idea is stalled; null otherwise.
    async fn stall_reason(&self) -> Option<StallReason> {
        self.0.stall_reason.map(Into::into)
    }

    /// When the idea entered its current stage (its submission, last advance or revert).
    async fn stage_entered_at(&self) -> DateTime<Utc> {
        self.0.stage_entered_at
    }

    /// Whole days since the idea entered its current stage.
    async fn days_in_stage(&self) -> i64 {
        crate::domain::volatile::mark();
        (Utc::now() - self.0.stage_entered_at).num_days().max(0)
    }

    /// The person carrying the innovation in its unit; null until one is named.
    async fn innovator(&self) -> Option<Innovator> {
        self.0.innovator_name.as_ref().map(|name| Innovator {
            name: name.clone(),
            position: self.0.innovator_position.clone().unwrap_or_default(),
        })
    }

    /// Every hand-over of the idea to a new innovator, oldest first.
    async fn hand_overs(&self, ctx: &Context<'_>) -> Result<Vec<HandOver>> {
        let rows = ctx
            .data::<Loaders>()?
            .load_one(HandOversOfIdea(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(HandOver).collect())
    }

    /// The mentors' reviews, oldest first: the current ones, or every one with
    /// `includeSuperseded`.
    async fn reviews(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] include_superseded: bool,
    ) -> Result<Vec<Review>> {
        let loaders = ctx.data::<Loaders>()?;
        let rows = if include_superseded {
            loaders.load_one(ReviewsOfIdea(self.0.id)).await?
        } else {
            loaders.load_one(CurrentReviewsOfIdea(self.0.id)).await?
        };
        Ok(rows.unwrap_or_default().into_iter().map(Review).collect())
    }

    /// The idea's score, 0–100 with two decimals: the mean of the weighted scores of the
    /// current reviews at the latest stage it was reviewed in; null while unreviewed.
    async fn score(&self, ctx: &Context<'_>) -> Result<Option<f64>> {
        let reviews = ctx
            .data::<Loaders>()?
            .load_one(CurrentReviewsOfIdea(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(crate::domain::review::idea_score(&reviews)
            .map(crate::domain::review::IdeaScore::points))
    }

    /// Initiative, trial or applied.
    async fn maturity(&self) -> Maturity {
        self.0.maturity.into()
    }

    /// When the idea was submitted.
    async fn submitted_at(&self) -> DateTime<Utc> {
        self.0.submitted_at
    }

    /// The day the idea entered DELIVER (its launch); null before.
    async fn launched_on(&self) -> Option<NaiveDate> {
        self.0.launched_on
    }

    /// Version for optimistic concurrency: pass it back with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the idea last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The unit (perangkat daerah) that owns the idea.
    async fn unit(&self, ctx: &Context<'_>) -> Result<Unit> {
        if let Some(unit) = self.owners(|o| o.units.get(&self.0.unit_id)) {
            return Ok(Unit(unit.clone()));
        }
        Ok(Unit(
            loaders::required(ctx.data::<Loaders>()?, UnitId(self.0.unit_id)).await?,
        ))
    }

    /// The lab edition the idea belongs to.
    async fn cohort(&self, ctx: &Context<'_>) -> Result<Cohort> {
        if let Some(cohort) = self.owners(|o| o.cohorts.get(&self.0.cohort_id)) {
            return Ok(Cohort(cohort.clone()));
        }
        Ok(Cohort(
            loaders::required(ctx.data::<Loaders>()?, CohortId(self.0.cohort_id)).await?,
        ))
    }

    /// The regency running the lab.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Regency> {
        if let Some(regency) = self.owners(|o| o.regencies.get(&self.0.regency_id)) {
            return Ok(Regency(regency.clone()));
        }
        Ok(Regency(
            loaders::required(ctx.data::<Loaders>()?, RegencyId(self.0.regency_id)).await?,
        ))
    }

    /// LAN mentors coaching the idea now.
    async fn mentors(&self, ctx: &Context<'_>) -> Result<Vec<Mentor>> {
        let loaders = ctx.data::<Loaders>()?;
        let assignments = loaders
            .load_one(AssignmentsOfIdea(self.0.id))
            .await?
            .unwrap_or_default();
        let current: Vec<i32> = assignments
            .iter()
            .filter(|a| a.until.is_none())
            .map(|a| a.mentor_id)
            .collect();
        if let Some(carried) = self.carried_mentors()
            && current.iter().all(|id| carried.contains_key(id))
        {
            return Ok(current
                .iter()
                .map(|id| Mentor(carried[id].clone()))
                .collect());
        }
        Ok(
            loaders::many(loaders, current.into_iter().map(loaders::MentorId))
                .await?
                .into_iter()
                .map(Mentor)
                .collect(),
        )
    }

    /// Every mentor assignment of the idea, current and past, oldest first.
    async fn mentor_assignments(&self, ctx: &Context<'_>) -> Result<Vec<MentorAssignment>> {
        let loaders = ctx.data::<Loaders>()?;
        let assignments = loaders
            .load_one(AssignmentsOfIdea(self.0.id))
            .await?
            .unwrap_or_default();
        let mentors = self.carried_mentors();
        Ok(assignments
            .into_iter()
            .map(|a| MentorAssignment(a, mentors.cloned()))
            .collect())
    }

    /// Commitments covering the idea.
    async fn commitments(&self, ctx: &Context<'_>) -> Result<Vec<Commitment>> {
        let loaders = ctx.data::<Loaders>()?;
        let ids = loaders
            .load_one(CommitmentsOfIdea(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(loaders::many(loaders, ids.into_iter().map(CommitmentId))
            .await?
            .into_iter()
            .map(Commitment)
            .collect())
    }

    /// The audit trail: every move of the idea, oldest first, starting with its submission.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<StageTransition>> {
        let loaders = ctx.data::<Loaders>()?;
        let moves = loaders
            .load_one(TransitionsOfIdea(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(moves.into_iter().map(StageTransition).collect())
    }
}

/// One recorded move of an idea. Never edited, never deleted.
pub struct StageTransition(pub stage_transition::Model);

/// One recorded move of an idea. Never edited, never deleted.
#[Object]
impl StageTransition {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::StageTransition, self.0.id)
    }

    /// Stage before the move; null for the submission.
    async fn from_stage(&self) -> Option<Stage> {
        self.0.from_stage.map(Into::into)
    }

    /// Stage after the move.
    async fn to_stage(&self) -> Stage {
        self.0.to_stage.into()
    }

    /// Status after the move.
    async fn to_status(&self) -> IdeaStatus {
        self.0.to_status.into()
    }

    /// What was decided.
    async fn decision(&self) -> Decision {
        self.0.decision.into()
    }

    /// The kind of reason of a stall; null for other moves.
    async fn reason_code(&self) -> Option<StallReason> {
        self.0.reason_code.map(Into::into)
    }

    /// Why (required to revert, stall, resume or drop).
    async fn reason(&self) -> Option<&str> {
        self.0.reason.as_deref()
    }

    /// Who made the move.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }

    /// The idea that moved.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Idea> {
        Ok(Idea::from(
            loaders::required(ctx.data::<Loaders>()?, IdeaId(self.0.idea_id)).await?,
        ))
    }
}

/// Which ideas to return. Every field given must hold; `and`, `or` and `not` combine filters.
#[derive(InputObject, Default, Clone)]
pub struct IdeaFilter {
    /// Ideas of these regencies (global IDs).
    pub regency_ids: Option<Vec<ID>>,
    /// Ideas of these regencies (Kemendagri codes, e.g. "63.03").
    pub regency_codes: Option<Vec<String>>,
    /// Ideas of these lab editions.
    pub cohort_ids: Option<Vec<ID>>,
    /// Ideas owned by these units.
    pub unit_ids: Option<Vec<ID>>,
    /// Ideas owned by units of these kinds.
    pub unit_kinds: Option<Vec<UnitKind>>,
    /// Ideas currently in one of these stages.
    pub stages: Option<Vec<Stage>>,
    /// Ideas at this stage or beyond (DELIVER: launched and not sent back).
    pub stage_at_least: Option<Stage>,
    /// Ideas with one of these statuses.
    pub statuses: Option<Vec<IdeaStatus>>,
    /// Stalled ideas whose reason is one of these kinds.
    pub stall_reasons: Option<Vec<StallReason>>,
    /// Ideas that entered their current stage more than this many days ago (0–36500).
    pub in_stage_longer_than_days: Option<i32>,
    /// Ideas of these types.
    pub types: Option<Vec<InnovationType>>,
    /// Ideas of these forms.
    pub forms: Option<Vec<InnovationForm>>,
    /// Ideas of these maturities.
    pub maturities: Option<Vec<Maturity>>,
    /// Ideas started by these initiators.
    pub initiators: Option<Vec<Initiator>>,
    /// Ideas currently coached by one of these mentors.
    pub mentor_ids: Option<Vec<ID>>,
    /// Case-insensitive text contained in the title or the problem.
    pub search: Option<String>,
    /// Submitted on or after this day (UTC).
    pub submitted_from: Option<NaiveDate>,
    /// Submitted on or before this day (UTC).
    pub submitted_to: Option<NaiveDate>,
    /// Launched (entered DELIVER) on or after this day.
    pub launched_from: Option<NaiveDate>,
    /// Launched on or before this day.
    pub launched_to: Option<NaiveDate>,
    /// Every one of these filters must hold too.
    pub and: Option<Vec<IdeaFilter>>,
    /// At least one of these filters must hold too.
    pub or: Option<Vec<IdeaFilter>>,
    /// This filter must not hold.
    pub not: Option<Box<IdeaFilter>>,
}

fn convert<T: Copy, U: From<T>>(list: &Option<Vec<T>>) -> Option<Vec<U>> {
    list.as_ref()
        .map(|l| l.iter().map(|v| U::from(*v)).collect())
}

impl IdeaFilter {
    /// The domain's filter, with IDs decoded.
    pub fn to_domain(&self) -> Result<DomainFilter> {
        let nested = |list: &Option<Vec<IdeaFilter>>| -> Result<Vec<DomainFilter>> {
            list.iter().flatten().map(IdeaFilter::to_domain).collect()
        };
        Ok(DomainFilter {
            regency_ids: ids::decode_list(Kind::Regency, &self.regency_ids)?,
            regency_codes: self.regency_codes.clone(),
            cohort_ids: ids::decode_list(Kind::Cohort, &self.cohort_ids)?,
            unit_ids: ids::decode_list(Kind::Unit, &self.unit_ids)?,
            unit_kinds: convert(&self.unit_kinds),
            stages: convert(&self.stages),
            stage_at_least: self.stage_at_least.map(Into::into),
            statuses: convert(&self.statuses),
            stall_reasons: convert(&self.stall_reasons),
            in_stage_longer_than_days: self.in_stage_longer_than_days,
            awaiting_review_by: None,
            types: convert(&self.types),
            forms: convert(&self.forms),
            maturities: convert(&self.maturities),
            initiators: convert(&self.initiators),
            mentor_ids: ids::decode_list(Kind::Mentor, &self.mentor_ids)?,
            search: crate::domain::search_text(self.search.as_deref())?,
            submitted_from: self.submitted_from,
            submitted_to: self.submitted_to,
            launched_from: self.launched_from,
            launched_to: self.launched_to,
            all_of: nested(&self.and)?,
            any_of: nested(&self.or)?,
            none_of: match &self.not {
                Some(not) => Some(Box::new(not.to_domain()?)),
                None => None,
            },
        })
    }

    /// The domain filter of an optional argument, narrowed by `scope` (e.g. one regency).
    pub fn scoped(filter: Option<IdeaFilter>, scope: DomainFilter) -> Result<DomainFilter> {
        match filter {
            None => Ok(scope),
            Some(filter) => Ok(DomainFilter {
                all_of: vec![filter.to_domain()?],
                ..scope
            }),
        }
    }
}

/// Field to order ideas by; ties are broken by id so paging never skips or repeats.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum IdeaOrderField {
    /// Submission time.
    #[default]
    SubmittedAt,
    /// Pipeline stage (DRUM_UP first).
    Stage,
    /// Title, in the database's text order.
    Title,
    /// Time of the last change.
    UpdatedAt,
    /// When the idea entered its current stage (longest waiting first, ascending).
    StageEnteredAt,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// How to order ideas.
#[derive(InputObject, Clone, Copy, Default)]
pub struct IdeaOrder {
    /// The field to order by.
    #[graphql(default)]
    pub field: IdeaOrderField,
    /// Ascending or descending.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<IdeaOrder> for DomainOrder {
    fn from(order: IdeaOrder) -> Self {
        DomainOrder {
            field: match order.field {
                IdeaOrderField::SubmittedAt => DomainOrderField::SubmittedAt,
                IdeaOrderField::Stage => DomainOrderField::Stage,
                IdeaOrderField::Title => DomainOrderField::Title,
                IdeaOrderField::UpdatedAt => DomainOrderField::UpdatedAt,
                IdeaOrderField::StageEnteredAt => DomainOrderField::StageEnteredAt,
            },
            descending: order.direction == OrderDirection::Desc,
        }
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
) -> Result<Conn<Idea>> {
    let domain = ctx.data::<Domain>()?;
    let caller = crate::graphql::mutation::caller(ctx);
    let order = order.unwrap_or_default().into();
    let wants = Wants::of(ctx);
    let (page, owners) = domain
        .ideas_with_owners(&caller, &filter, order, &page, wants.columns())
        .await?;
    let ideas: Vec<&idea::Model> = page.edges.iter().map(|(_, m)| m).collect();
    let mentors = prefetch(ctx, domain, &wants, &ideas, &owners).await?;
    let carried = Arc::new(Carried {
        owners,
        mentors: Arc::new(mentors),
    });
    Ok(connection(page, Total::Ideas(Box::new(filter)), |idea| {
        Idea(idea, Some(carried.clone()))
    }))
}

/// The columns each field of an idea reads beyond its id and its owners' ids (which a page
/// always reads). A field missing here reads every column: a new field is correct before it is
/// fast. Tested by selecting each field alone on a page and comparing with the idea read whole.
const IDEA_COLUMNS: &[(&str, &[&str])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("title", &["title"]),
    ("problem", &["problem"]),
    ("description", &["description"]),
    ("type", &["innovation_type"]),
    ("form", &["form"]),
    ("affairsArea", &["affairs_area"]),
    ("initiator", &["initiator"]),
    ("stage", &["stage"]),
    ("status", &["status"]),
    ("statusReason", &["status_reason"]),
    ("stallReason", &["stall_reason"]),
    ("stageEnteredAt", &["stage_entered_at"]),
    ("daysInStage", &["stage_entered_at"]),
    ("innovator", &["innovator_name", "innovator_position"]),
    ("handOvers", &[]),
    ("reviews", &[]),
    ("score", &[]),
    ("maturity", &["maturity"]),
    ("submittedAt", &["submitted_at"]),
    ("launchedOn", &["launched_on"]),
    ("version", &["version"]),
    ("updatedAt", &["updated_at"]),
    ("unit", &[]),
    ("cohort", &[]),
    ("regency", &[]),
    ("mentors", &[]),
    ("mentorAssignments", &[]),
    ("commitments", &[]),
    ("history", &[]),
];

/// As [`IDEA_COLUMNS`], for the fields of an idea's unit.
const UNIT_COLUMNS: &[(&str, &[&str])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("name", &["name"]),
    ("kind", &["kind"]),
    ("headTitle", &["head_title"]),
    ("version", &["version"]),
    ("regency", &["regency_id"]),
    ("parent", &["parent_id"]),
    ("children", &[]),
    ("ideas", &[]),
];

/// As [`IDEA_COLUMNS`], for the fields of an idea's cohort (its rubric reads them all).
const COHORT_COLUMNS: &[(&str, &[&str])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("year", &["year"]),
    ("name", &["name"]),
    ("stage", &["stage"]),
    ("version", &["version"]),
    ("regency", &["regency_id"]),
    ("ideas", &[]),
    ("funnel", &[]),
];

/// As [`IDEA_COLUMNS`], for the fields of an idea's mentors.
const MENTOR_COLUMNS: &[(&str, &[&str])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("name", &["name"]),
    ("institution", &["institution"]),
    ("team", &["team"]),
    ("expertise", &["expertise"]),
    ("contact", &["contact"]),
    ("version", &["version"]),
    ("ideas", &[]),
];

/// As [`IDEA_COLUMNS`], for the fields of an idea's regency.
const REGENCY_COLUMNS: &[(&str, &[&str])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("code", &["code"]),
    ("name", &["name"]),
    ("province", &["province"]),
    ("organiser", &["organiser"]),
    ("mouSignedOn", &["mou_signed_on"]),
    ("lastEventSequence", &["event_seq"]),
    ("version", &["version"]),
    ("updatedAt", &["updated_at"]),
    ("cohorts", &[]),
    ("units", &[]),
    ("ideas", &[]),
    ("funnel", &[]),
    ("stages", &[]),
];

/// The columns of `M` that `fields` read, by `table`; every column when one is not in it.
fn columns_of<M: AtPosition>(fields: &[SelectionField<'_>], table: &[(&str, &[&str])]) -> Columns {
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
/// both cost the same.
async fn prefetch(
    ctx: &Context<'_>,
    domain: &Domain,
    wants: &Wants<'_>,
    ideas: &[&idea::Model],
    owners: &Owners,
) -> Result<HashMap<i32, mentor::Model>> {
    use std::collections::BTreeSet;

    if ideas.is_empty() {
        return Ok(HashMap::new());
    }
    let mentor_columns = wants.mentor_columns();
    let wants = |path: &[&str]| wants.one(path);
    let mut carried = HashMap::new();
    let loaders = ctx.data::<Loaders>()?;
    let idea_ids: Vec<i32> = ideas.iter().map(|i| i.id).collect();
    let distinct = |ids: &mut dyn Iterator<Item = i32>| {
        ids.collect::<BTreeSet<i32>>()
            .into_iter()
            .collect::<Vec<_>>()
    };

    let caller = crate::graphql::mutation::caller(ctx);
    if wants(&["unit", "parent"]) {
        // Whole units, read apart from the page: they may serve any field.
        let parents = distinct(&mut owners.units.values().filter_map(|u| u.parent_id));
        loaders
            .feed_many(
                domain
                    .units_by_id(&caller, &parents)
                    .await?
                    .into_iter()
                    .map(|(id, u)| (UnitId(id), u)),
            )
            .await;
    }
    if wants(&["mentors"]) || wants(&["mentorAssignments"]) {
        let mut assignments = if wants(&["mentors"]) || wants(&["mentorAssignments", "mentor"]) {
            let (assignments, mentors) = domain
                .assignments_and_mentors_of_ideas(&caller, &idea_ids, mentor_columns)
                .await?;
            if mentor_columns == Columns::ALL {
                // Whole mentors may serve any field.
                loaders
                    .feed_many(
                        mentors
                            .into_iter()
                            .map(|(id, m)| (loaders::MentorId(id), m)),
                    )
                    .await;
            } else {
                carried = mentors;
            }
            assignments
        } else {
            domain.assignments_of_ideas(&caller, &idea_ids).await?
        };
        loaders
            .feed_many(idea_ids.iter().map(|id| {
                (
                    AssignmentsOfIdea(*id),
                    assignments.remove(id).unwrap_or_default(),
                )
            }))
            .await;
    }
    if wants(&["commitments"]) {
        let mut links: HashMap<i32, Vec<i32>> =
            domain.commitment_ids_of_ideas(&caller, &idea_ids).await?;
        let ids = distinct(&mut links.values().flatten().copied());
        let commitments = domain.commitments_by_id(&caller, &ids).await?;
        if wants(&["commitments", "unit"]) {
            let unit_ids = distinct(&mut commitments.values().map(|c| c.unit_id));
            loaders
                .feed_many(
                    domain
                        .units_by_id(&caller, &unit_ids)
                        .await?
                        .into_iter()
                        .map(|(id, u)| (UnitId(id), u)),
                )
                .await;
        }
        loaders
            .feed_many(commitments.into_iter().map(|(id, c)| (CommitmentId(id), c)))
            .await;
        loaders
            .feed_many(
                idea_ids
                    .iter()
                    .map(|id| (CommitmentsOfIdea(*id), links.remove(id).unwrap_or_default())),
            )
            .await;
    }
    if wants(&["history"]) {
        let mut moves = domain.transitions_of_ideas(&caller, &idea_ids).await?;
        loaders
            .feed_many(
                idea_ids
                    .iter()
                    .map(|id| (TransitionsOfIdea(*id), moves.remove(id).unwrap_or_default())),
            )
            .await;
    }
    Ok(carried)
}

#[derive(Default)]
pub struct IdeaQuery;

#[Object]
impl IdeaQuery {
    /// Ideas matching `filter`, as a Relay connection. Page forward with `first`/`after`,
    /// backward with `last`/`before`; the default page size and the maximum are server settings.
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
    ) -> Result<Conn<Idea>> {
        let filter = filter
            .map(|f| f.to_domain())
            .transpose()?
            .unwrap_or_default();
        idea_page(
            ctx,
            filter,
            order_by,
            page_request(first, after, last, before),
        )
        .await
    }

    /// One idea by global ID; null if there is none.
    async fn idea(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Idea>> {
        let id = ids::decode(Kind::Idea, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(IdeaId(id))
            .await?
            .map(Idea::from))
    }
}

/// A new idea. It enters the pipeline at DIAGNOSE.
#[derive(InputObject)]
pub struct SubmitIdeaInput {
    /// The lab edition.
    pub cohort_id: ID,
    /// The owning unit, of the cohort's regency.
    pub unit_id: ID,
    /// Short name (at most 200 characters).
    pub title: String,
    /// The problem it addresses.
    pub problem: String,
    /// What the innovation does.
    pub description: Option<String>,
    /// Digital or non-digital.
    #[graphql(name = "type")]
    pub innovation_type: InnovationType,
    /// Governance, public service or other.
    pub form: InnovationForm,
    /// Government affairs area (urusan).
    pub affairs_area: String,
    /// Who started it.
    pub initiator: Initiator,
    /// INITIATIVE when left out.
    pub maturity: Option<Maturity>,
    /// When it was proposed; now when left out; not in the future.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The person carrying it in the unit (name and position only).
    pub innovator: Option<InnovatorInput>,
}

/// Changes to an idea's description; fields left out stay as they are. Stage moves have their
/// own mutations.
#[derive(InputObject)]
pub struct UpdateIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read; a stale version is refused with CONFLICT.
    pub version: i32,
    /// New title.
    pub title: Option<String>,
    /// New problem statement.
    pub problem: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New type.
    #[graphql(name = "type")]
    pub innovation_type: Option<InnovationType>,
    /// New form.
    pub form: Option<InnovationForm>,
    /// New affairs area.
    pub affairs_area: Option<String>,
    /// New initiator.
    pub initiator: Option<Initiator>,
    /// New maturity.
    pub maturity: Option<Maturity>,
    /// Hand the idea to another unit of the same regency.
    pub unit_id: Option<ID>,
}

/// Moves an idea one stage forward.
#[derive(InputObject)]
pub struct AdvanceIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Optional note for the audit trail.
    pub note: Option<String>,
}

/// A move that needs a reason: revert, stall, resume or drop.
#[derive(InputObject)]
pub struct MoveIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Why; recorded in the audit trail (for example "anggaran dipangkas" or "inovator dimutasi").
    pub reason: String,
}

/// Parks an active idea in its stage, with the kind of reason and a sentence.
#[derive(InputObject)]
pub struct StallIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// The kind of reason, for follow-up and the figures.
    pub reason_code: StallReason,
    /// Why, in words (for example "anggaran dipangkas pada APBD perubahan").
    pub reason: String,
}

/// Passes an idea to a new innovator.
#[derive(InputObject)]
pub struct HandOverIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Who carries it from now on.
    pub to: InnovatorInput,
    /// Why (for example "inovator dimutasi ke Dinas Kesehatan").
    pub reason: String,
}

/// The idea after a hand-over, the history row and the event it recorded.
#[derive(async_graphql::SimpleObject)]
pub struct HandOverPayload {
    /// The idea with its new innovator.
    pub idea: Idea,
    /// The hand-over as the history keeps it.
    pub hand_over: HandOver,
    /// The IDEA_HANDED_OVER event.
    pub event: super::event::PipelineEvent,
}

/// Ideas from a spreadsheet, as CSV text.
#[derive(InputObject)]
pub struct ImportIdeasInput {
    /// The lab edition to import into.
    pub cohort_id: ID,
    /// CSV with a header line. Columns (English or Indonesian headers): title/judul,
    /// unit/perangkat daerah, problem/permasalahan, type/jenis, form/bentuk,
    /// affairs_area/urusan, initiator/inisiator, submitted/tanggal (optional),
    /// description/deskripsi (optional), maturity (optional), innovator/inovator and
    /// innovator_position/jabatan (optional). Other columns are ignored, so a file from
    /// `GET /export/ideas.csv` imports as it is (the ideas enter at DIAGNOSE).
    pub csv: String,
    /// Add rows whose idea (the same title, case and spacing aside, and the same unit) is already
    /// in the cohort. By default they are left out, so importing a file again adds nothing.
    #[graphql(default = false)]
    pub allow_duplicates: bool,
}

/// The idea after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct IdeaPayload {
    /// The idea as it is now.
    pub idea: Idea,
    /// The event the change recorded.
    pub event: super::event::PipelineEvent,
}

/// The idea after a move, its new audit row and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct IdeaMovePayload {
    /// The idea as it is now (stage, status and version changed).
    pub idea: Idea,
    /// The move as the audit trail records it.
    pub transition: StageTransition,
    /// The event the move recorded.
    pub event: super::event::PipelineEvent,
}

/// What an import wrote.
#[derive(async_graphql::SimpleObject)]
pub struct ImportIdeasPayload {
    /// Number of ideas imported.
    pub imported: usize,
    /// Rows left out because their idea (the same title and unit) is already in the cohort: a
    /// file imported again adds nothing (see `allowDuplicates`).
    pub skipped: usize,
    /// The imported ideas, in file order.
    pub ideas: Vec<Idea>,
}

#[derive(Default)]
pub struct IdeaMutation;

impl IdeaMutation {
    async fn apply(
        ctx: &Context<'_>,
        id: &ID,
        version: i32,
        decision: entity::Decision,
        reason: crate::domain::idea::moves::MoveReason,
    ) -> Result<IdeaMovePayload> {
        let id = ids::decode(Kind::Idea, id)?;
        let written = ctx
            .data::<Domain>()?
            .move_idea(&super::mutation::caller(ctx), id, version, decision, reason)
            .await?;
        super::mutation::after_write(ctx);
        let moved = written.value;
        Ok(IdeaMovePayload {
            idea: Idea::from(moved.idea),
            transition: StageTransition(moved.transition),
            event: moved.event.into(),
        })
    }
}

#[Object]
impl IdeaMutation {
    /// Enters a new idea into the pipeline at DIAGNOSE.
    async fn submit_idea(&self, ctx: &Context<'_>, input: SubmitIdeaInput) -> Result<IdeaPayload> {
        let new = crate::domain::idea::moves::NewIdea {
            cohort_id: ids::decode(Kind::Cohort, &input.cohort_id)?,
            unit_id: ids::decode(Kind::Unit, &input.unit_id)?,
            title: input.title,
            problem: input.problem,
            description: input.description,
            innovation_type: input.innovation_type.into(),
            form: input.form.into(),
            affairs_area: input.affairs_area,
            initiator: input.initiator.into(),
            maturity: input.maturity.map(Into::into),
            submitted_at: input.submitted_at,
            innovator: input.innovator.map(Into::into),
        };
        let written = ctx
            .data::<Domain>()?
            .submit_idea(&super::mutation::caller(ctx), new)
            .await?;
        super::mutation::after_write(ctx);
        Ok(IdeaPayload {
            idea: Idea::from(written.value),
            event: super::mutation::first_event(written.events)?,
        })
    }

    /// Changes an idea's description.
    async fn update_idea(&self, ctx: &Context<'_>, input: UpdateIdeaInput) -> Result<IdeaPayload> {
        let id = ids::decode(Kind::Idea, &input.id)?;
        let changes = crate::domain::idea::moves::IdeaChanges {
            title: input.title,
            problem: input.problem,
            description: input.description,
            innovation_type: input.innovation_type.map(Into::into),
            form: input.form.map(Into::into),
            affairs_area: input.affairs_area,
            initiator: input.initiator.map(Into::into),
            maturity: input.maturity.map(Into::into),
            unit_id: ids::decode_opt(Kind::Unit, &input.unit_id)?,
        };
        let written = ctx
            .data::<Domain>()?
            .update_idea(&super::mutation::caller(ctx), id, input.version, changes)
            .await?;
        super::mutation::after_write(ctx);
        Ok(IdeaPayload {
            idea: Idea::from(written.value),
            event: super::mutation::first_event(written.events)?,
        })
    }

    /// Moves an idea one stage forward. Entering DELIVER needs a signed commitment covering
    /// the idea and sets `launchedOn`. Refused moves are INVALID_TRANSITION.
    async fn advance_idea(
        &self,
        ctx: &Context<'_>,
        input: AdvanceIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Advance,
            crate::domain::idea::moves::MoveReason {
                text: input.note,
                code: None,
            },
        )
        .await
    }

    /// Moves an idea one stage back (not before DIAGNOSE), with a reason.
    async fn revert_idea(
        &self,
        ctx: &Context<'_>,
        input: MoveIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Revert,
            crate::domain::idea::moves::MoveReason::said(input.reason),
        )
        .await
    }

    /// Parks an active idea in its stage, with the kind of reason (a budget cut, the innovator
    /// transferred…) and a sentence. Stalled ideas are followed up with `staleIdeas` and
    /// counted per reason in `funnel` and `ideaCounts(groupBy: STALL_REASON)`.
    async fn stall_idea(
        &self,
        ctx: &Context<'_>,
        input: StallIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Stall,
            crate::domain::idea::moves::MoveReason::stall(input.reason_code.into(), input.reason),
        )
        .await
    }

    /// Passes an idea to a new innovator, with the reason; the hand-over stays in the idea's
    /// history. Innovations commonly stall when their innovator is moved to another post: a
    /// hand-over keeps them carried on.
    async fn hand_over_idea(
        &self,
        ctx: &Context<'_>,
        input: HandOverIdeaInput,
    ) -> Result<HandOverPayload> {
        let id = ids::decode(Kind::Idea, &input.id)?;
        let written = ctx
            .data::<Domain>()?
            .hand_over_idea(
                &super::mutation::caller(ctx),
                id,
                input.version,
                input.to.into(),
                input.reason,
            )
            .await?;
        super::mutation::after_write(ctx);
        let done = written.value;
        Ok(HandOverPayload {
            idea: Idea::from(done.idea),
            hand_over: HandOver(done.hand_over),
            event: done.event.into(),
        })
    }

    /// Makes a stalled idea active again, with a reason.
    async fn resume_idea(
        &self,
        ctx: &Context<'_>,
        input: MoveIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Resume,
            crate::domain::idea::moves::MoveReason::said(input.reason),
        )
        .await
    }

    /// Gives an idea up for good, with a reason. A dropped idea is final.
    async fn drop_idea(&self, ctx: &Context<'_>, input: MoveIdeaInput) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Drop,
            crate::domain::idea::moves::MoveReason::said(input.reason),
        )
        .await
    }

    /// Imports ideas from CSV into a cohort, all or nothing: if any line is bad, nothing is
    /// written and the error lists every bad line in `extensions.lines`. Rows whose idea is
    /// already in the cohort are left out and counted in `skipped` (unless `allowDuplicates`).
    async fn import_ideas(
        &self,
        ctx: &Context<'_>,
        input: ImportIdeasInput,
    ) -> Result<ImportIdeasPayload> {
        let cohort_id = ids::decode(Kind::Cohort, &input.cohort_id)?;
        let written = ctx
            .data::<Domain>()?
            .import_ideas(
                &super::mutation::caller(ctx),
                cohort_id,
                &input.csv,
                if input.allow_duplicates {
                    Duplicates::Add
                } else {
                    Duplicates::Skip
                },
            )
            .await?;
        super::mutation::after_write(ctx);
        let outcome = written.value;
        Ok(ImportIdeasPayload {
            imported: outcome.ideas.len(),
            skipped: outcome.skipped,
            ideas: outcome.ideas.into_iter().map(Idea::from).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column a field table names is one of its model's: a misspelt one would panic when
    /// a query selects the field (the integration tests select only the leaf fields).
    #[test]
    fn the_field_tables_name_only_their_models_columns() {
        for (_, names) in IDEA_COLUMNS {
            Columns::of::<idea::Model>(names);
        }
        for (_, names) in UNIT_COLUMNS {
            Columns::of::<unit::Model>(names);
        }
        for (_, names) in COHORT_COLUMNS {
            Columns::of::<cohort::Model>(names);
        }
        for (_, names) in REGENCY_COLUMNS {
            Columns::of::<regency::Model>(names);
        }
        for (_, names) in MENTOR_COLUMNS {
            Columns::of::<mentor::Model>(names);
        }
    }
}
