//! Reading ideas: the filter dashboards combine, the orderings, pages and counts.

pub mod aggregate;
pub mod export;
pub mod import;
pub mod moves;

use std::collections::HashMap;

use chrono::{Days, NaiveDate, TimeZone, Utc};
use entity::{
    IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, MilestoneStatus, Stage,
    StallReason, UnitKind, cohort, hand_over, idea, mentor, mentor_assignment, milestone, regency,
    review, stage_transition, unit,
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseTransaction, DbBackend, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SimpleExpr},
};

use crate::access::{Caller, ReadScope};
use crate::domain::{
    Domain, group,
    page::{Page, PageRequest, Sort, SortValue, page_of_rows, page_select, page_statement},
    rows::{AtPosition, ById, Columns, Seen, read_once, select_columns},
};
use crate::error::{DomainError, DomainResult};

/// Which ideas to read. Every set field must hold (AND); `any_of` adds alternatives (OR) and
/// `none_of` excludes. An absent field does not filter.
#[derive(Debug, Clone, Default)]
pub struct IdeaFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub cohort_ids: Option<Vec<i32>>,
    pub unit_ids: Option<Vec<i32>>,
    pub unit_kinds: Option<Vec<UnitKind>>,
    pub stages: Option<Vec<Stage>>,
    pub stage_at_least: Option<Stage>,
    pub statuses: Option<Vec<IdeaStatus>>,
    /// Stalled ideas whose reason is one of these.
    pub stall_reasons: Option<Vec<StallReason>>,
    /// Ideas that entered their current stage more than this many days ago.
    pub in_stage_longer_than_days: Option<i32>,
    /// Ideas whose action plan has (true) or has no (false) milestone past its due date and
    /// not done.
    pub overdue_milestones: Option<bool>,
    /// Ideas a mentor coaches that still wait for the mentor's review at their current stage
    /// (not dropped). Not a client filter: `reviewQueue` sets it.
    pub awaiting_review_by: Option<i32>,
    pub types: Option<Vec<InnovationType>>,
    pub forms: Option<Vec<InnovationForm>>,
    pub maturities: Option<Vec<Maturity>>,
    pub initiators: Option<Vec<Initiator>>,
    pub mentor_ids: Option<Vec<i32>>,
    pub search: Option<String>,
    pub submitted_from: Option<NaiveDate>,
    pub submitted_to: Option<NaiveDate>,
    pub launched_from: Option<NaiveDate>,
    pub launched_to: Option<NaiveDate>,
    pub all_of: Vec<IdeaFilter>,
    pub any_of: Vec<IdeaFilter>,
    pub none_of: Option<Box<IdeaFilter>>,
}

fn non_empty<T>(name: &str, list: &Option<Vec<T>>) -> DomainResult<()> {
    match list {
        Some(list) if list.is_empty() => Err(DomainError::bad_input(format!(
            "`{name}` is an empty list, which no idea can match; leave it out to not filter on it."
        ))),
        _ => Ok(()),
    }
}

/// A date of a filter must have a four-digit year: stored dates compare as text on SQLite,
/// where `+10000-01-01` would come before every real day.
pub(crate) fn four_digit_year(name: &str, day: Option<NaiveDate>) -> DomainResult<()> {
    match day {
        Some(day) if !(1..=9999).contains(&chrono::Datelike::year(&day)) => {
            Err(DomainError::bad_input(format!(
                "`{name}` ({day}) is outside the years 1 to 9999; give a calendar date."
            )))
        }
        _ => Ok(()),
    }
}

fn ordered_range(
    from_name: &str,
    from: Option<NaiveDate>,
    to_name: &str,
    to: Option<NaiveDate>,
) -> DomainResult<()> {
    four_digit_year(from_name, from)?;
    four_digit_year(to_name, to)?;
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(DomainError::bad_input(format!(
            "`{from_name}` ({from}) is after `{to_name}` ({to}); no idea can match that range."
        ))),
        _ => Ok(()),
    }
}

/// Start of `day` in UTC, and the start of the day after `day` (an exclusive upper bound).
fn day_bounds(day: NaiveDate) -> (chrono::DateTime<Utc>, chrono::DateTime<Utc>) {
    let start = Utc.from_utc_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default());
    (start, start + Days::new(1))
}

impl IdeaFilter {
    /// Ideas of one regency.
    /// This filter, limited to the regencies `scope` lets the caller read.
    pub fn within(&self, scope: ReadScope) -> Self {
        match scope {
            ReadScope::Everything => self.clone(),
            ReadScope::Regency(id) => Self {
                all_of: vec![self.clone(), Self::regency(id)],
                ..Self::default()
            },
        }
    }

    pub fn regency(id: i32) -> Self {
        Self {
            regency_ids: Some(vec![id]),
            ..Self::default()
        }
    }

    /// The SQL condition on the `idea` table, or BAD_USER_INPUT if the filter cannot match.
    pub fn condition(&self) -> DomainResult<Condition> {
        self.check()?;
        let all = self.with_owner_terms(Condition::all());
        let all = self.with_pipeline_terms(all);
        let all = self.with_description_terms(all);
        let all = self.with_date_terms(all);
        self.with_nested_terms(all)
    }

    /// Refuses a filter no idea can match (an empty list, a range that ends before it starts,
    /// only stages before `stageAtLeast`) and a day count out of bounds. Nested filters are
    /// checked as their conditions are built.
    fn check(&self) -> DomainResult<()> {
        non_empty("regencyIds", &self.regency_ids)?;
        non_empty("regencyCodes", &self.regency_codes)?;
        non_empty("cohortIds", &self.cohort_ids)?;
        non_empty("unitIds", &self.unit_ids)?;
        non_empty("unitKinds", &self.unit_kinds)?;
        non_empty("stages", &self.stages)?;
        non_empty("statuses", &self.statuses)?;
        non_empty("stallReasons", &self.stall_reasons)?;
        non_empty("types", &self.types)?;
        non_empty("forms", &self.forms)?;
        non_empty("maturities", &self.maturities)?;
        non_empty("initiators", &self.initiators)?;
        non_empty("mentorIds", &self.mentor_ids)?;
        ordered_range(
            "submittedFrom",
            self.submitted_from,
            "submittedTo",
            self.submitted_to,
        )?;
        ordered_range(
            "launchedFrom",
            self.launched_from,
            "launchedTo",
            self.launched_to,
        )?;
        if let (Some(stages), Some(least)) = (&self.stages, self.stage_at_least)
            && stages.iter().all(|s| *s < least)
        {
            return Err(DomainError::bad_input(format!(
                "`stages` lists only stages before `stageAtLeast` ({}); no idea can match.",
                least.as_str()
            )));
        }
        if let Some(days) = self.in_stage_longer_than_days
            && !(0..=36_500).contains(&days)
        {
            return Err(DomainError::bad_input(format!(
                "`inStageLongerThanDays` is {days}; give a number of days from 0 to 36500."
            )));
        }
        Ok(())
    }

    /// `all` with the terms on where the idea belongs: its regency, cohort and unit.
    fn with_owner_terms(&self, mut all: Condition) -> Condition {
        if let Some(ids) = &self.regency_ids {
            all = all.add(idea::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(codes) = &self.regency_codes {
            let trimmed: Vec<String> = codes.iter().map(|c| c.trim().to_owned()).collect();
            all = all.add(
                idea::Column::RegencyId.in_subquery(
                    Query::select()
                        .column(regency::Column::Id)
                        .from(regency::Entity)
                        .and_where(regency::Column::Code.is_in(trimmed))
                        .to_owned(),
                ),
            );
        }
        if let Some(ids) = &self.cohort_ids {
            all = all.add(idea::Column::CohortId.is_in(ids.clone()));
        }
        if let Some(ids) = &self.unit_ids {
            all = all.add(idea::Column::UnitId.is_in(ids.clone()));
        }
        if let Some(kinds) = &self.unit_kinds {
            all = all.add(
                idea::Column::UnitId.in_subquery(
                    Query::select()
                        .column(unit::Column::Id)
                        .from(unit::Entity)
                        .and_where(unit::Column::Kind.is_in(kinds.iter().copied()))
                        .to_owned(),
                ),
            );
        }
        all
    }

    /// `all` with the terms on where the idea stands in the pipeline: its stage and status,
    /// why it stalled, how long it has been in its stage, and whether a mentor's review of it
    /// is due.
    fn with_pipeline_terms(&self, mut all: Condition) -> Condition {
        if let Some(stages) = &self.stages {
            all = all.add(idea::Column::Stage.is_in(stages.iter().copied()));
        }
        if let Some(least) = self.stage_at_least {
            all = all.add(idea::Column::Stage.gte(least));
        }
        if let Some(statuses) = &self.statuses {
            all = all.add(idea::Column::Status.is_in(statuses.iter().copied()));
        }
        if let Some(reasons) = &self.stall_reasons {
            all = all
                .add(idea::Column::Status.eq(IdeaStatus::Stalled))
                .add(idea::Column::StallReason.is_in(reasons.iter().copied()));
        }
        if let Some(days) = self.in_stage_longer_than_days {
            let cutoff = crate::domain::volatile::now() - chrono::Duration::days(i64::from(days));
            all = all.add(idea::Column::StageEnteredAt.lt(cutoff));
        }
        if let Some(mentor) = self.awaiting_review_by {
            all = with_awaiting_review_terms(all, mentor);
        }
        if let Some(overdue) = self.overdue_milestones {
            let today = crate::domain::volatile::now().date_naive();
            let late = Query::select()
                .column(milestone::Column::IdeaId)
                .from(milestone::Entity)
                .and_where(milestone::Column::DueOn.lt(today))
                .and_where(
                    milestone::Column::Status
                        .is_in([MilestoneStatus::Planned, MilestoneStatus::InProgress]),
                )
                .to_owned();
            all = all.add(if overdue {
                idea::Column::Id.in_subquery(late)
            } else {
                idea::Column::Id.not_in_subquery(late)
            });
        }
        all
    }

    /// `all` with the terms on what the idea is and who carries it: its type, form, maturity
    /// and initiator, its mentors, and the text search over its title and problem.
    fn with_description_terms(&self, mut all: Condition) -> Condition {
        if let Some(types) = &self.types {
            all = all.add(idea::Column::InnovationType.is_in(types.iter().copied()));
        }
        if let Some(forms) = &self.forms {
            all = all.add(idea::Column::Form.is_in(forms.iter().copied()));
        }
        if let Some(maturities) = &self.maturities {
            all = all.add(idea::Column::Maturity.is_in(maturities.iter().copied()));
        }
        if let Some(initiators) = &self.initiators {
            all = all.add(idea::Column::Initiator.is_in(initiators.iter().copied()));
        }
        if let Some(mentors) = &self.mentor_ids {
            all = all.add(
                idea::Column::Id.in_subquery(
                    Query::select()
                        .column(mentor_assignment::Column::IdeaId)
                        .from(mentor_assignment::Entity)
                        .and_where(mentor_assignment::Column::MentorId.is_in(mentors.clone()))
                        .and_where(mentor_assignment::Column::Until.is_null())
                        .to_owned(),
                ),
            );
        }
        if let Some(search) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            all = all.add(text_search(search));
        }
        all
    }

    /// `all` with the terms on when the idea was submitted and launched. Submission times are
    /// compared with the bounds of the days given; launch days directly.
    fn with_date_terms(&self, mut all: Condition) -> Condition {
        if let Some(from) = self.submitted_from {
            all = all.add(idea::Column::SubmittedAt.gte(day_bounds(from).0));
        }
        if let Some(to) = self.submitted_to {
            all = all.add(idea::Column::SubmittedAt.lt(day_bounds(to).1));
        }
        if let Some(from) = self.launched_from {
            all = all.add(idea::Column::LaunchedOn.gte(from));
        }
        if let Some(to) = self.launched_to {
            all = all.add(idea::Column::LaunchedOn.lte(to));
        }
        all
    }

    /// `all` with the nested filters: every one of `all_of`, at least one of `any_of`, and not
    /// `none_of`.
    fn with_nested_terms(&self, mut all: Condition) -> DomainResult<Condition> {
        for nested in &self.all_of {
            all = all.add(nested.condition()?);
        }
        if !self.any_of.is_empty() {
            let mut any = Condition::any();
            for nested in &self.any_of {
                any = any.add(nested.condition()?);
            }
            all = all.add(any);
        }
        if let Some(excluded) = &self.none_of {
            all = all.add(excluded.condition()?.not());
        }
        Ok(all)
    }
}

/// `all` with the terms of the ideas awaiting `mentor`'s review: not dropped, coached by the
/// mentor now, and without the mentor's current review at the idea's current stage.
fn with_awaiting_review_terms(all: Condition, mentor: i32) -> Condition {
    all.add(idea::Column::Status.ne(IdeaStatus::Dropped))
        .add(
            idea::Column::Id.in_subquery(
                Query::select()
                    .column(mentor_assignment::Column::IdeaId)
                    .from(mentor_assignment::Entity)
                    .and_where(mentor_assignment::Column::MentorId.eq(mentor))
                    .and_where(mentor_assignment::Column::Until.is_null())
                    .to_owned(),
            ),
        )
        .add(
            Expr::exists(
                Query::select()
                    .expr(Expr::val(1))
                    .from(review::Entity)
                    .and_where(
                        Expr::col((review::Entity, review::Column::IdeaId))
                            .equals((idea::Entity, idea::Column::Id)),
                    )
                    .and_where(
                        Expr::col((review::Entity, review::Column::Stage))
                            .equals((idea::Entity, idea::Column::Stage)),
                    )
                    .and_where(review::Column::MentorId.eq(mentor))
                    .and_where(review::Column::SupersededAt.is_null())
                    .to_owned(),
            )
            .not(),
        )
}

/// Ideas whose title or problem contains `search`, case aside. The LIKE wildcards in `search`
/// are escaped, so they match themselves.
fn text_search(search: &str) -> Condition {
    let escaped = search
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = format!("%{escaped}%");
    let contains = |column: idea::Column| -> SimpleExpr {
        Expr::expr(Func::lower(Expr::col(column))).like(LikeExpr::new(pattern.clone()).escape('\\'))
    };
    Condition::any()
        .add(contains(idea::Column::Title))
        .add(contains(idea::Column::Problem))
}

/// Orderings of the ideas connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdeaOrderField {
    #[default]
    SubmittedAt,
    Stage,
    Title,
    UpdatedAt,
    StageEnteredAt,
}

/// An ordering and its direction.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdeaOrder {
    pub field: IdeaOrderField,
    pub descending: bool,
}

impl IdeaOrder {
    pub(crate) fn sort(self) -> Sort<idea::Entity> {
        let (name, column, value_of): (_, _, fn(&idea::Model) -> SortValue) = match self.field {
            IdeaOrderField::SubmittedAt => ("SUBMITTED_AT", idea::Column::SubmittedAt, |m| {
                SortValue::Time(m.submitted_at)
            }),
            IdeaOrderField::Stage => ("STAGE", idea::Column::Stage, |m| {
                SortValue::Int(i64::from(m.stage.rank()))
            }),
            IdeaOrderField::Title => ("TITLE", idea::Column::Title, |m| {
                SortValue::Text(m.title.clone())
            }),
            IdeaOrderField::UpdatedAt => ("UPDATED_AT", idea::Column::UpdatedAt, |m| {
                SortValue::Time(m.updated_at)
            }),
            IdeaOrderField::StageEnteredAt => {
                ("STAGE_ENTERED_AT", idea::Column::StageEnteredAt, |m| {
                    SortValue::Time(m.stage_entered_at)
                })
            }
        };
        Sort {
            name: if self.descending {
                match name {
                    "SUBMITTED_AT" => "SUBMITTED_AT_DESC",
                    "STAGE" => "STAGE_DESC",
                    "TITLE" => "TITLE_DESC",
                    "STAGE_ENTERED_AT" => "STAGE_ENTERED_AT_DESC",
                    _ => "UPDATED_AT_DESC",
                }
            } else {
                name
            },
            column,
            descending: self.descending,
            id_column: idea::Column::Id,
            value_of: Some(value_of),
            id_of: |m| i64::from(m.id),
        }
    }
}

impl Domain {
    pub(crate) fn ideas_matching(&self, filter: &IdeaFilter) -> DomainResult<Select<idea::Entity>> {
        Ok(idea::Entity::find().filter(filter.condition()?))
    }

    /// How many ideas match `filter`.
    pub async fn count_ideas(&self, caller: &Caller, filter: &IdeaFilter) -> DomainResult<u64> {
        let scope = caller.check_read()?;
        Ok(self
            .ideas_matching(filter)?
            .filter(scope.on(idea::Column::RegencyId))
            .count(self.db())
            .await?)
    }

    /// The ids of the ideas matching `filter`, as a subquery for aggregates.
    pub(crate) fn idea_ids_matching(
        &self,
        filter: &IdeaFilter,
    ) -> DomainResult<sea_orm::sea_query::SelectStatement> {
        Ok(self
            .ideas_matching(filter)?
            .select_only()
            .column(idea::Column::Id)
            .into_query())
    }
}

/// The unit, cohort and regency of a set of ideas, each by id, with the columns the page read
/// ([`IdeaColumns`]).
#[derive(Debug, Default)]
pub struct Owners {
    pub units: ById<Seen<unit::Model>>,
    pub cohorts: ById<Seen<cohort::Model>>,
    pub regencies: ById<Seen<regency::Model>>,
}

/// The columns a page of ideas reads: the idea's, and those of its unit, cohort and regency
/// when the page joins them (`None`: not joined). What is read is [`Seen`]: a model read with
/// fewer than all columns is for the query that asked for them only, never for a cache another
/// query reads. The page adds what it needs itself: each model's id, the idea's owners' ids and
/// its sort column.
#[derive(Clone, Copy, Debug)]
pub struct IdeaColumns {
    pub idea: Columns,
    pub unit: Option<Columns>,
    pub cohort: Option<Columns>,
    pub regency: Option<Columns>,
}

/// Where one joined owner's columns start in a row, and which they are.
type Joined = Option<(usize, Columns)>;

/// Selects `columns` of the idea, then joins the owners `columns` asks for and selects theirs.
/// Returns where each owner's columns start. An idea's unit and cohort are of its own regency,
/// so the idea's read scope covers all three; the joins follow foreign keys, so they drop no
/// idea.
fn join_owners(
    select: Select<idea::Entity>,
    columns: &IdeaColumns,
) -> (Select<idea::Entity>, [Joined; 3], usize) {
    use sea_orm::RelationTrait;

    let (select, at) = select_columns::<_, idea::Model>(select.select_only(), "", columns.idea);
    let regency = idea::Entity::belongs_to(regency::Entity)
        .from(idea::Column::RegencyId)
        .to(regency::Column::Id)
        .into();
    let mut joined = [None; 3];
    let (select, at) = join::<unit::Model>(
        (select, at),
        idea::Relation::Unit.def(),
        "u_",
        columns.unit,
        &mut joined[0],
    );
    let (select, at) = join::<cohort::Model>(
        (select, at),
        idea::Relation::Cohort.def(),
        "c_",
        columns.cohort,
        &mut joined[1],
    );
    let (select, width) =
        join::<regency::Model>((select, at), regency, "r_", columns.regency, &mut joined[2]);
    (select, joined, width)
}

/// The mentor assignments (every column) of each idea of a page, oldest first as
/// [`Domain::assignments_of_ideas`] reads them, and their mentors read with some columns, by id:
/// read with the page.
pub type Assigned = (
    ById<Vec<mentor_assignment::Model>>,
    ById<Seen<mentor::Model>>,
);

/// `page`, a page of ideas in `sort`'s order read `ascending`, extended to one row per idea
/// and mentor assignment (an idea without one keeps one row of NULLs there): the assignment's
/// columns, then its mentor's `mentors` columns, ordered by the page's order, then by when each
/// assignment began, as the assignments of ideas are read alone. One statement instead of two:
/// a round trip and a statement less for every dashboard page.
///
/// On PostgreSQL the assignments are read by the array of the page's ids, one index scan, and
/// joined to the page: joined to it plainly, the planner reckons a scan of every assignment
/// cheaper than an index probe per idea of the page (30,000 ideas: 0.6 ms of scan per page), and
/// a LATERAL probe per idea costs more than the page's own read. SQLite joins by index probes.
fn with_assignments(
    page: Statement,
    sort: &Sort<idea::Entity>,
    ascending: bool,
    mentors: Columns,
) -> Statement {
    use sea_orm::{IdenStatic, Iterable};

    let direction = if ascending { "ASC" } else { "DESC" };
    let mut order = Vec::with_capacity(4);
    if sort.value_of.is_some() {
        order.push(format!(r#"page."{}" {direction}"#, sort.column.as_str()));
    }
    order.push(format!(r#"page."{}" {direction}"#, sort.id_column.as_str()));
    let mut columns: Vec<String> = mentor_assignment::Column::iter()
        .map(|c| format!(r#"a."{0}" AS "a_{0}""#, c.as_str()))
        .collect();
    columns.extend(
        mentor::Column::iter()
            .enumerate()
            .filter(|(at, _)| mentors.has(*at))
            .map(|(_, c)| format!(r#"m."{0}" AS "m_{0}""#, c.as_str())),
    );
    let columns = columns.join(", ");
    let joined = if page.db_backend == DbBackend::Postgres {
        order.extend([
            r#"x."a_since" ASC"#.to_owned(),
            r#"x."a_id" ASC"#.to_owned(),
        ]);
        format!(
            r#"page.*, x.* FROM page LEFT JOIN (SELECT {columns} FROM "mentor_assignment" a INNER JOIN "mentor" m ON m."id" = a."mentor_id" WHERE a."idea_id" = ANY (ARRAY (SELECT "id" FROM page))) x ON x."a_idea_id" = page."id""#
        )
    } else {
        order.extend([r#"a."since" ASC"#.to_owned(), r#"a."id" ASC"#.to_owned()]);
        format!(
            r#"page.*, {columns} FROM page LEFT JOIN "mentor_assignment" a ON a."idea_id" = page."id" LEFT JOIN "mentor" m ON m."id" = a."mentor_id""#
        )
    };
    Statement {
        sql: format!(
            "WITH page AS MATERIALIZED ({}) SELECT {joined} ORDER BY {}",
            page.sql,
            order.join(", ")
        ),
        ..page
    }
}

/// Joins one owner by `relation` when `columns` asks for it (its id always) and selects its
/// columns after the `at` already selected; notes in `joined` where they start.
fn join<M: AtPosition>(
    (select, at): (Select<idea::Entity>, usize),
    relation: sea_orm::RelationDef,
    prefix: &str,
    columns: Option<Columns>,
    joined: &mut Joined,
) -> (Select<idea::Entity>, usize) {
    let Some(columns) = columns else {
        return (select, at);
    };
    let columns = columns.and(Columns::of::<M>(&[M::ID]));
    *joined = Some((at, columns));
    let (select, added) = select_columns::<_, M>(
        select.join(sea_orm::sea_query::JoinType::InnerJoin, relation),
        prefix,
        columns,
    );
    (select, at + added)
}

impl Domain {
    /// One page of the ideas matching `filter` that the caller may read, in `order`, with the
    /// unit, cohort and regency of each that `columns` asks for, read in the same statement: the
    /// to-one relations a dashboard page shows cost nothing more. Only the columns `columns`
    /// names are read. With `mentors`, the ideas' mentor assignments and those columns of their
    /// mentors come in the same statement too ([`with_assignments`]).
    pub async fn ideas_with_owners(
        &self,
        caller: &Caller,
        filter: &IdeaFilter,
        order: IdeaOrder,
        page: &PageRequest,
        columns: IdeaColumns,
        mentors: Option<Columns>,
    ) -> DomainResult<(Page<Seen<idea::Model>>, Owners, Option<Assigned>)> {
        use sea_orm::ConnectionTrait;

        let scope = caller.check_read()?;
        let sort = order.sort();
        let (select, shape) = page_select(
            self.ideas_matching(filter)?
                .filter(scope.on(idea::Column::RegencyId)),
            &sort,
            page,
            self.page_limits(),
        )?;
        let columns = IdeaColumns {
            idea: columns.idea.and(Columns::of::<idea::Model>(&[
                idea::Column::Id,
                idea::Column::RegencyId,
                idea::Column::CohortId,
                idea::Column::UnitId,
                sort.column,
            ])),
            ..columns
        };
        let (select, [units, cohorts, regencies], width) = join_owners(select, &columns);
        let db = self.db();
        let mut statement = page_statement(&select, shape, db.get_database_backend());
        let mentors = mentors.map(|m| m.and(Columns::of::<mentor::Model>(&[mentor::Column::Id])));
        if let Some(mentors) = mentors {
            statement = with_assignments(statement, &sort, shape.ascending(&sort), mentors);
        }
        let rows = db.query_all_raw(statement).await?;
        let mut owners = Owners::default();
        let mut ideas: Vec<Seen<idea::Model>> = Vec::with_capacity(rows.len());
        let mut assigned = mentors.map(|_| (Vec::new(), ById::default()));
        for row in &rows {
            if let Some(((assignments, read), mentors)) = assigned.as_mut().zip(mentors) {
                if row.try_get_by_index::<Option<i32>>(width)?.is_some() {
                    assignments.push(mentor_assignment::Model::at(row, width)?);
                    let at = width + mentor_assignment::Model::COLUMNS.len();
                    read_once(read, row, at, mentors)?;
                }
                // The page's rows repeat an idea once for each of its assignments.
                let id: i32 = row.try_get_by_index(0)?;
                if ideas.last().is_some_and(|idea| idea.id() == id) {
                    continue;
                }
            }
            ideas.push(idea::Model::at_only(row, 0, columns.idea)?);
            if let Some((at, columns)) = units {
                read_once(&mut owners.units, row, at, columns)?;
            }
            if let Some((at, columns)) = cohorts {
                read_once(&mut owners.cohorts, row, at, columns)?;
            }
            if let Some((at, columns)) = regencies {
                read_once(&mut owners.regencies, row, at, columns)?;
            }
        }
        let key = Columns::of::<idea::Model>(&[idea::Column::Id, sort.column]);
        let page = page_of_rows(ideas, &sort, shape, |idea| idea.reading(key))
            .map_err(|unread| DomainError::Internal(unread.into()))?;
        let assigned = assigned.map(|(assignments, mentors)| {
            let mut by_idea = ById::<Vec<mentor_assignment::Model>>::default();
            for assignment in assignments {
                by_idea
                    .entry(assignment.idea_id)
                    .or_default()
                    .push(assignment);
            }
            (by_idea, mentors)
        });
        Ok((page, owners, assigned))
    }

    by_ids!(/// Ideas by id.
        ideas_by_id, idea, i32, |s: ReadScope| s.on(idea::Column::RegencyId));

    by_ids!(/// Stage transitions by id.
        transitions_by_id, stage_transition, i32, |s: ReadScope| s.on_idea(stage_transition::Column::IdeaId));

    /// The audit trail of each idea, in the order the moves happened.
    pub async fn transitions_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<stage_transition::Model>>> {
        let scope = caller.check_read()?;
        let rows = stage_transition::Entity::find()
            .filter(stage_transition::Column::IdeaId.is_in(ids.iter().copied()))
            .filter(scope.on_idea(stage_transition::Column::IdeaId))
            .order_by_asc(stage_transition::Column::At)
            .order_by_asc(stage_transition::Column::Id)
            .all(self.db())
            .await?;
        Ok(group(rows, |t| t.idea_id))
    }

    /// The hand-overs of each idea, in the order they happened.
    pub async fn hand_overs_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<hand_over::Model>>> {
        let scope = caller.check_read()?;
        let rows = hand_over::Entity::find()
            .filter(hand_over::Column::IdeaId.is_in(ids.iter().copied()))
            .filter(scope.on_idea(hand_over::Column::IdeaId))
            .order_by_asc(hand_over::Column::At)
            .order_by_asc(hand_over::Column::Id)
            .all(self.db())
            .await?;
        Ok(group(rows, |h| h.idea_id))
    }

    async fn cohort_in(&self, txn: &DatabaseTransaction, id: i32) -> DomainResult<cohort::Model> {
        cohort::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::missing("cohort"))
    }

    /// The unit, checked to belong to `regency_id`.
    async fn unit_of_regency(
        &self,
        txn: &DatabaseTransaction,
        unit_id: i32,
        regency_id: i32,
    ) -> DomainResult<unit::Model> {
        let unit = self.unit_in(txn, unit_id).await?;
        if unit.regency_id != regency_id {
            // Answered as absent: the caller may not see another regency's units.
            return Err(DomainError::missing("unit"));
        }
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait;

    use super::*;

    /// A dashboard page's statement reads the title and stage of the idea and its unit's name,
    /// besides the ids it needs, and joins neither the cohort nor the regency it does not show.
    #[test]
    fn a_page_selects_only_the_columns_and_joins_only_the_owners_asked_for() {
        let columns = IdeaColumns {
            idea: Columns::of::<idea::Model>(&[idea::Column::Title, idea::Column::Stage]),
            unit: Some(Columns::of::<unit::Model>(&[unit::Column::Name])),
            cohort: None,
            regency: None,
        };
        let (select, joined, _) = join_owners(idea::Entity::find(), &columns);
        let sql = select.build(DbBackend::Postgres).sql;
        for read in [r#""title""#, r#""stage""#, r#""u_id""#, r#""u_name""#] {
            assert!(sql.contains(read), "{read} in {sql}");
        }
        for left in [
            r#""problem""#,
            r#""description""#,
            r#""u_head_title""#,
            "cohort",
            "regency\" ON",
        ] {
            assert!(!sql.contains(left), "{left} in {sql}");
        }
        // The unit's id and name follow the idea's two columns.
        assert_eq!(
            joined,
            [
                Some((
                    2,
                    Columns::of::<unit::Model>(&[unit::Column::Id, unit::Column::Name])
                )),
                None,
                None
            ]
        );
    }
}
