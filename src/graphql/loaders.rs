//! DataLoaders: nested fields batch their reads, one SQL statement per field per request level.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{cohort, regency};

use crate::domain::Domain;

/// Per-request loader over the domain layer.
pub struct DomainLoader(pub Domain);

/// Creates the loader a request uses; its cache lives as long as the request.
pub fn for_request(domain: &Domain) -> DataLoader<DomainLoader> {
    DataLoader::new(DomainLoader(domain.clone()), tokio::spawn)
}

/// Key: the regency with this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RegencyId(pub i32);

/// Key: the cohorts of the regency with this id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CohortsOfRegency(pub i32);

impl Loader<RegencyId> for DomainLoader {
    type Value = regency::Model;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[RegencyId],
    ) -> Result<HashMap<RegencyId, Self::Value>, Self::Error> {
        let ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
        let rows = self.0.regencies_by_id(&ids).await?;
        Ok(rows.into_iter().map(|(id, r)| (RegencyId(id), r)).collect())
    }
}

impl Loader<CohortsOfRegency> for DomainLoader {
    type Value = Vec<cohort::Model>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[CohortsOfRegency],
    ) -> Result<HashMap<CohortsOfRegency, Self::Value>, Self::Error> {
        let ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
        let rows = self.0.cohorts_of_regencies(&ids).await?;
        Ok(rows
            .into_iter()
            .map(|(id, r)| (CohortsOfRegency(id), r))
            .collect())
    }
}
