//! Connections over regencies, units, cohorts, mentors, commitments and pipeline events.

use chrono::NaiveDate;
use entity::{
    CommitmentStatus, UnitKind, cohort, commitment, commitment_idea, mentor, pipeline_event,
    regency, unit,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, Select,
    sea_query::{Expr, ExprTrait, Func, LikeExpr, Query},
};

use super::{
    Domain,
    page::{Page, PageRequest, Sort, SortValue, paginate},
};
use crate::error::{DomainError, DomainResult};

fn contains<C: ColumnTrait>(column: C, text: &str) -> sea_orm::sea_query::SimpleExpr {
    let escaped = text
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Expr::expr(Func::lower(Expr::col(column)))
        .like(LikeExpr::new(format!("%{escaped}%")).escape('\\'))
}

fn regency_code_filter(codes: &Option<Vec<String>>) -> Option<sea_orm::sea_query::SelectStatement> {
    codes.as_ref().map(|codes| {
        Query::select()
            .column(regency::Column::Id)
            .from(regency::Entity)
            .and_where(regency::Column::Code.is_in(codes.iter().map(|c| c.trim().to_owned())))
            .to_owned()
    })
}

/// Which units to list.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub kinds: Option<Vec<UnitKind>>,
    pub parent_id: Option<i32>,
    pub search: Option<String>,
}

/// Which cohorts to list.
#[derive(Debug, Clone, Default)]
pub struct CohortFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub years: Option<Vec<i32>>,
}

/// Which commitments to list.
#[derive(Debug, Clone, Default)]
pub struct CommitmentFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub cohort_ids: Option<Vec<i32>>,
    pub unit_ids: Option<Vec<i32>>,
    pub statuses: Option<Vec<CommitmentStatus>>,
    pub idea_id: Option<i32>,
    pub signed_from: Option<NaiveDate>,
    pub signed_to: Option<NaiveDate>,
}

/// Which pipeline events to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub kinds: Option<Vec<String>>,
    pub stages: Option<Vec<i32>>,
    pub unit_id: Option<i32>,
    pub idea_id: Option<i32>,
}

impl EventFilter {
    /// Whether a live event passes the filter (regency codes must be resolved to ids first).
    pub fn matches(&self, event: &pipeline_event::Model) -> bool {
        self.regency_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&event.regency_id))
            && self
                .kinds
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&event.kind))
            && self
                .stages
                .as_ref()
                .is_none_or(|stages| event.stage.is_some_and(|s| stages.contains(&s)))
            && self.unit_id.is_none_or(|unit| event.unit_id == Some(unit))
            && self.idea_id.is_none_or(|idea| event.idea_id == Some(idea))
    }
}

fn by_name<E: EntityTrait>(
    name_column: E::Column,
    id_column: E::Column,
    name_of: fn(&E::Model) -> SortValue,
    id_of: fn(&E::Model) -> i64,
) -> Sort<E> {
    Sort {
        name: "NAME",
        column: name_column,
        descending: false,
        id_column,
        value_of: Some(name_of),
        id_of,
    }
}

fn by_id<E: EntityTrait>(id_column: E::Column, id_of: fn(&E::Model) -> i64) -> Sort<E> {
    Sort {
        name: "ID",
        column: id_column,
        descending: false,
        id_column,
        value_of: None,
        id_of,
    }
}

/// A select, its total count query and its page: every listing is the same three steps.
impl Domain {
    async fn listing<E: EntityTrait>(
        &self,
        select: Select<E>,
        sort: Sort<E>,
        page: &PageRequest,
    ) -> DomainResult<Page<E::Model>> {
        paginate(self.db(), select, &sort, page, self.page_limits()).await
    }

    /// Regencies ordered by Kemendagri code.
    pub async fn regency_page(&self, page: &PageRequest) -> DomainResult<Page<regency::Model>> {
        let sort = Sort {
            name: "CODE",
            column: regency::Column::Code,
            descending: false,
            id_column: regency::Column::Id,
            value_of: Some(|m: &regency::Model| SortValue::Text(m.code.clone())),
            id_of: |m: &regency::Model| i64::from(m.id),
        };
        self.listing(regency::Entity::find(), sort, page).await
    }

    pub async fn count_regencies(&self) -> DomainResult<u64> {
        Ok(regency::Entity::find().count(self.db()).await?)
    }

    fn units_matching(&self, filter: &UnitFilter) -> Select<unit::Entity> {
        let mut cond = Condition::all();
        if let Some(ids) = &filter.regency_ids {
            cond = cond.add(unit::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(sub) = regency_code_filter(&filter.regency_codes) {
            cond = cond.add(unit::Column::RegencyId.in_subquery(sub));
        }
        if let Some(kinds) = &filter.kinds {
            cond = cond.add(unit::Column::Kind.is_in(kinds.iter().copied()));
        }
        if let Some(parent) = filter.parent_id {
            cond = cond.add(unit::Column::ParentId.eq(parent));
        }
        if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
            cond = cond.add(contains(unit::Column::Name, search));
        }
        unit::Entity::find().filter(cond)
    }

    /// Units ordered by name.
    pub async fn unit_page(
        &self,
        filter: &UnitFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<unit::Model>> {
        let sort = by_name::<unit::Entity>(
            unit::Column::Name,
            unit::Column::Id,
            |m| SortValue::Text(m.name.clone()),
            |m| i64::from(m.id),
        );
        self.listing(self.units_matching(filter), sort, page).await
    }

    pub async fn count_units(&self, filter: &UnitFilter) -> DomainResult<u64> {
        Ok(self.units_matching(filter).count(self.db()).await?)
    }

    fn cohorts_matching(&self, filter: &CohortFilter) -> Select<cohort::Entity> {
        let mut cond = Condition::all();
        if let Some(ids) = &filter.regency_ids {
            cond = cond.add(cohort::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(sub) = regency_code_filter(&filter.regency_codes) {
            cond = cond.add(cohort::Column::RegencyId.in_subquery(sub));
        }
        if let Some(years) = &filter.years {
            cond = cond.add(cohort::Column::Year.is_in(years.clone()));
        }
        cohort::Entity::find().filter(cond)
    }

    /// Cohorts in the order they were created.
    pub async fn cohort_page(
        &self,
        filter: &CohortFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<cohort::Model>> {
        let sort = by_id::<cohort::Entity>(cohort::Column::Id, |m| i64::from(m.id));
        self.listing(self.cohorts_matching(filter), sort, page)
            .await
    }

    pub async fn count_cohorts(&self, filter: &CohortFilter) -> DomainResult<u64> {
        Ok(self.cohorts_matching(filter).count(self.db()).await?)
    }

    fn mentors_matching(&self, search: Option<&str>) -> Select<mentor::Entity> {
        let mut select = mentor::Entity::find();
        if let Some(search) = search.filter(|s| !s.trim().is_empty()) {
            select = select.filter(
                Condition::any()
                    .add(contains(mentor::Column::Name, search))
                    .add(contains(mentor::Column::Expertise, search)),
            );
        }
        select
    }

    /// Mentors ordered by name; `search` looks in names and expertise.
    pub async fn mentor_page(
        &self,
        search: Option<&str>,
        page: &PageRequest,
    ) -> DomainResult<Page<mentor::Model>> {
        let sort = by_name::<mentor::Entity>(
            mentor::Column::Name,
            mentor::Column::Id,
            |m| SortValue::Text(m.name.clone()),
            |m| i64::from(m.id),
        );
        self.listing(self.mentors_matching(search), sort, page)
            .await
    }

    pub async fn count_mentors(&self, search: Option<&str>) -> DomainResult<u64> {
        Ok(self.mentors_matching(search).count(self.db()).await?)
    }

    fn commitments_matching(
        &self,
        filter: &CommitmentFilter,
    ) -> DomainResult<Select<commitment::Entity>> {
        if let (Some(from), Some(to)) = (filter.signed_from, filter.signed_to)
            && from > to
        {
            return Err(DomainError::bad_input(format!(
                "`signedFrom` ({from}) is after `signedTo` ({to}); no commitment can match that range."
            )));
        }
        let mut cond = Condition::all();
        if let Some(ids) = &filter.regency_ids {
            cond = cond.add(commitment::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(sub) = regency_code_filter(&filter.regency_codes) {
            cond = cond.add(commitment::Column::RegencyId.in_subquery(sub));
        }
        if let Some(ids) = &filter.cohort_ids {
            cond = cond.add(commitment::Column::CohortId.is_in(ids.clone()));
        }
        if let Some(ids) = &filter.unit_ids {
            cond = cond.add(commitment::Column::UnitId.is_in(ids.clone()));
        }
        if let Some(statuses) = &filter.statuses {
            cond = cond.add(commitment::Column::Status.is_in(statuses.iter().copied()));
        }
        if let Some(idea) = filter.idea_id {
            cond = cond.add(
                commitment::Column::Id.in_subquery(
                    Query::select()
                        .column(commitment_idea::Column::CommitmentId)
                        .from(commitment_idea::Entity)
                        .and_where(commitment_idea::Column::IdeaId.eq(idea))
                        .to_owned(),
                ),
            );
        }
        if let Some(from) = filter.signed_from {
            cond = cond.add(commitment::Column::SignedOn.gte(from));
        }
        if let Some(to) = filter.signed_to {
            cond = cond.add(commitment::Column::SignedOn.lte(to));
        }
        Ok(commitment::Entity::find().filter(cond))
    }

    /// Commitments in the order they were written.
    pub async fn commitment_page(
        &self,
        filter: &CommitmentFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<commitment::Model>> {
        let sort = by_id::<commitment::Entity>(commitment::Column::Id, |m| i64::from(m.id));
        self.listing(self.commitments_matching(filter)?, sort, page)
            .await
    }

    pub async fn count_commitments(&self, filter: &CommitmentFilter) -> DomainResult<u64> {
        Ok(self.commitments_matching(filter)?.count(self.db()).await?)
    }

    fn events_matching(&self, filter: &EventFilter) -> Select<pipeline_event::Entity> {
        let mut cond = Condition::all();
        if let Some(ids) = &filter.regency_ids {
            cond = cond.add(pipeline_event::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(sub) = regency_code_filter(&filter.regency_codes) {
            cond = cond.add(pipeline_event::Column::RegencyId.in_subquery(sub));
        }
        if let Some(kinds) = &filter.kinds {
            cond = cond.add(pipeline_event::Column::Kind.is_in(kinds.clone()));
        }
        if let Some(stages) = &filter.stages {
            cond = cond.add(pipeline_event::Column::Stage.is_in(stages.clone()));
        }
        if let Some(unit) = filter.unit_id {
            cond = cond.add(pipeline_event::Column::UnitId.eq(unit));
        }
        if let Some(idea) = filter.idea_id {
            cond = cond.add(pipeline_event::Column::IdeaId.eq(idea));
        }
        pipeline_event::Entity::find().filter(cond)
    }

    /// Pipeline events in the order they were recorded.
    pub async fn event_page(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<pipeline_event::Model>> {
        let sort = by_id::<pipeline_event::Entity>(pipeline_event::Column::Id, |m| m.id);
        self.listing(self.events_matching(filter), sort, page).await
    }

    pub async fn count_events(&self, filter: &EventFilter) -> DomainResult<u64> {
        Ok(self.events_matching(filter).count(self.db()).await?)
    }
}
