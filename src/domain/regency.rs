//! Regencies and their lab editions (cohorts).

use std::collections::HashMap;

use entity::{cohort, regency};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Domain;
use crate::error::DomainResult;

impl Domain {
    /// All regencies, by Kemendagri code.
    pub async fn regencies(&self) -> DomainResult<Vec<regency::Model>> {
        Ok(regency::Entity::find()
            .order_by_asc(regency::Column::Code)
            .all(self.db())
            .await?)
    }

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
