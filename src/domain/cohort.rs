//! Cohorts: the editions of a regency's lab (a year, a name, the lab's own 5D stage).

use std::collections::HashMap;

use chrono::Utc;
use entity::{PipelineEventKind, Stage, cohort, regency};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Select,
};
use serde_json::json;

use super::{
    Domain, by_id,
    page::{Page, PageRequest},
    regency_code_filter,
    review::{Criterion, check_rubric},
    write::{Edit, NewEvent, Target, Work, Written, on_unique, required_text},
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

/// A new lab edition.
#[derive(Debug, Clone)]
pub struct NewCohort {
    pub regency_id: i32,
    pub year: i32,
    pub name: String,
    pub stage: Option<Stage>,
    /// The review rubric; the default one when None.
    pub rubric: Option<Vec<Criterion>>,
}

/// Changes to a lab edition.
#[derive(Debug, Clone, Default)]
pub struct CohortChanges {
    pub name: Option<String>,
    pub year: Option<i32>,
    pub stage: Option<Stage>,
    /// A new review rubric; refused once any idea of the cohort has been reviewed.
    pub rubric: Option<Vec<Criterion>>,
}

/// Which cohorts to list.
#[derive(Debug, Clone, Default)]
pub struct CohortFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub years: Option<Vec<i32>>,
}

/// A checked rubric as the cohort row stores it.
fn rubric_json(criteria: &[Criterion]) -> DomainResult<String> {
    serde_json::to_string(&check_rubric(criteria)?).map_err(|e| DomainError::Internal(e.into()))
}

/// Refuses a lab year before the regency's MoU with LAN.
fn check_year_after_mou(year: i32, regency: &regency::Model) -> DomainResult<i32> {
    if let Some(mou) = regency.mou_signed_on
        && year < chrono::Datelike::year(&mou)
    {
        return Err(DomainError::bad_input(format!(
            "{} signed its MoU with LAN on {mou}; a lab edition of {year} would predate it.",
            regency.name
        )));
    }
    Ok(year)
}

fn check_year(year: i32) -> DomainResult<i32> {
    let this_year = chrono::Datelike::year(&Utc::now().date_naive());
    if !(2000..=this_year + 1).contains(&year) {
        return Err(DomainError::bad_input(format!(
            "The year {year} is out of range; labs run from 2000 to next year ({}).",
            this_year + 1
        )));
    }
    Ok(year)
}

impl Domain {
    by_ids!(/// Cohorts by id.
        cohorts_by_id, cohort, i32, |s: ReadScope| s.on(cohort::Column::RegencyId));

    /// Cohorts of each regency, newest edition first.
    pub async fn cohorts_of_regencies(
        &self,
        caller: &Caller,
        regency_ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<cohort::Model>>> {
        let scope = caller.check_read()?;
        let rows = cohort::Entity::find()
            .filter(scope.on(cohort::Column::RegencyId))
            .filter(cohort::Column::RegencyId.is_in(regency_ids.iter().copied()))
            .order_by_desc(cohort::Column::Year)
            .order_by_asc(cohort::Column::Id)
            .all(self.db())
            .await?;
        let mut grouped: HashMap<i32, Vec<cohort::Model>> = HashMap::new();
        for row in rows {
            grouped.entry(row.regency_id).or_default().push(row);
        }
        Ok(grouped)
    }

    /// The cohort of the regency with Kemendagri `code` that started in `year`.
    /// The regency's most recent lab edition (the latest year; the last opened within it).
    pub async fn latest_cohort(
        &self,
        caller: &Caller,
        regency_id: i32,
    ) -> DomainResult<Option<cohort::Model>> {
        let scope = caller.check_read()?;
        Ok(cohort::Entity::find()
            .filter(cohort::Column::RegencyId.eq(regency_id))
            .filter(scope.on(cohort::Column::RegencyId))
            .order_by_desc(cohort::Column::Year)
            .order_by_desc(cohort::Column::Id)
            .one(self.db())
            .await?)
    }

    pub async fn cohort_by_code_and_year(
        &self,
        caller: &Caller,
        code: &str,
        year: i32,
    ) -> DomainResult<cohort::Model> {
        caller.check_read()?;
        let regency = self.regency_by_code(caller, code).await?.ok_or_else(|| {
            crate::error::DomainError::bad_input(format!("No regency has the code {code}."))
        })?;
        let mut cohorts: Vec<cohort::Model> = self
            .cohorts_of_regencies(caller, &[regency.id])
            .await?
            .remove(&regency.id)
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.year == year)
            .collect();
        match cohorts.len() {
            1 => Ok(cohorts.remove(0)),
            0 => Err(crate::error::DomainError::bad_input(format!(
                "{} has no cohort that started in {year}.",
                regency.name
            ))),
            _ => Err(crate::error::DomainError::bad_input(format!(
                "{} has several cohorts in {year}; give the cohort's global ID instead.",
                regency.name
            ))),
        }
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
        caller: &Caller,
        filter: &CohortFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<cohort::Model>> {
        let scope = caller.check_read()?;
        let sort = by_id::<cohort::Entity>(cohort::Column::Id, |m| i64::from(m.id));
        self.listing(
            self.cohorts_matching(filter)
                .filter(scope.on(cohort::Column::RegencyId)),
            sort,
            page,
        )
        .await
    }

    pub async fn count_cohorts(&self, caller: &Caller, filter: &CohortFilter) -> DomainResult<u64> {
        let scope = caller.check_read()?;
        Ok(self
            .cohorts_matching(filter)
            .filter(scope.on(cohort::Column::RegencyId))
            .count(self.db())
            .await?)
    }

    pub async fn create_cohort(
        &self,
        caller: &Caller,
        new: NewCohort,
    ) -> DomainResult<Written<cohort::Model>> {
        self.write(caller, async |work| self.create_cohort_in(work, new).await)
            .await
    }

    pub(crate) async fn create_cohort_in(
        &self,
        work: &mut Work,
        new: NewCohort,
    ) -> DomainResult<cohort::Model> {
        let name = required_text("The cohort name", &new.name, 200)?;
        let year = check_year(new.year)?;
        let regency = self.regency_in(&work.txn, new.regency_id).await?;
        work.caller.check_write(Some(regency.id), "regency")?;
        check_year_after_mou(year, &regency)?;
        let now = work.now();
        let row = cohort::ActiveModel {
            regency_id: Set(regency.id),
            year: Set(year),
            name: Set(name.clone()),
            stage: Set(new.stage.unwrap_or(Stage::DrumUp)),
            rubric: Set(new.rubric.as_deref().map(rubric_json).transpose()?),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&work.txn)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!(
                    "A cohort named \"{name}\" already exists in {}.",
                    regency.name
                )
            })
        })?;
        self.record_event(
            work,
            NewEvent {
                payload: json!({ "cohortId": row.id, "name": row.name, "year": row.year }),
                ..NewEvent::about(regency.id, PipelineEventKind::CohortCreated)
            },
        )
        .await?;
        Ok(row)
    }

    pub async fn update_cohort(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        changes: CohortChanges,
    ) -> DomainResult<Written<cohort::Model>> {
        let target = Target {
            id,
            version,
            what: "cohort",
        };
        self.write(caller, async |work| self.update_versioned::<cohort::Entity, _>(work, target,
            async |work, current| {
                let mut row: cohort::ActiveModel = current.clone().into();
                if let Some(name) = &changes.name {
                    row.name = Set(required_text("The cohort name", name, 200)?);
                }
                if let Some(year) = changes.year {
                    let regency = self
                        .regency_in(&work.txn, current.regency_id)
                        .await?;
                    row.year = Set(check_year_after_mou(check_year(year)?, &regency)?);
                }
                if let Some(stage) = changes.stage {
                    row.stage = Set(stage);
                }
                if let Some(rubric) = &changes.rubric {
                    let json = rubric_json(rubric)?;
                    if current.rubric.as_deref() != Some(json.as_str()) {
                        if self.cohort_has_reviews(&work.txn, current.id).await? {
                            return Err(DomainError::bad_input(
                                "Ideas of this cohort have already been reviewed on its rubric; the rubric stays as it is so that their scores stay comparable.",
                            ));
                        }
                        row.rubric = Set(Some(json));
                    }
                }
                let name = changes.name.clone().unwrap_or(current.name.clone());
                let duplicate = format!(
                    "A cohort named \"{}\" already exists in this regency.",
                    name.trim()
                );
                Ok(Edit::new(row).unique_as(duplicate))
            },
            async |work, _, updated| {
                self.record_event(work, NewEvent {
                        payload: json!({ "cohortId": id, "stage": updated.stage.as_str(), "version": updated.version }),
                        ..NewEvent::about(updated.regency_id, PipelineEventKind::CohortUpdated)
                    })
                    .await?;
                Ok(updated)
            },
        )
        .await)
        .await
    }
}
