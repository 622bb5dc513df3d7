//! Regencies and their lab editions (cohorts).

use std::collections::HashMap;

use entity::{cohort, regency};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Domain;
use crate::error::DomainResult;

impl Domain {
    pub async fn regency_by_code(&self, code: &str) -> DomainResult<Option<regency::Model>> {
        Ok(regency::Entity::find()
            .filter(regency::Column::Code.eq(code.trim()))
            .one(self.db())
            .await?)
    }

    pub async fn regencies_by_id(&self, ids: &[i32]) -> DomainResult<HashMap<i32, regency::Model>> {
        let rows = regency::Entity::find()
            .filter(regency::Column::Id.is_in(ids.iter().copied()))
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }

    /// Cohorts of each regency, newest edition first.
    pub async fn cohorts_of_regencies(
        &self,
        regency_ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<cohort::Model>>> {
        let rows = cohort::Entity::find()
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
}

impl Domain {
    /// The cohort of the regency with Kemendagri `code` that started in `year`.
    pub async fn cohort_by_code_and_year(
        &self,
        code: &str,
        year: i32,
    ) -> DomainResult<cohort::Model> {
        let regency = self.regency_by_code(code).await?.ok_or_else(|| {
            crate::error::DomainError::bad_input(format!("No regency has the code {code}."))
        })?;
        let mut cohorts: Vec<cohort::Model> = self
            .cohorts_of_regencies(&[regency.id])
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
}
