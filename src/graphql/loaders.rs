//! DataLoaders: nested fields batch their reads, one SQL statement per field and request level,
//! so a page of 100 ideas with their relations costs what a page of 10 costs.

use std::collections::HashMap;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    cohort, commitment, idea, mentor, mentor_assignment, regency, stage_transition, unit,
};

use crate::domain::Domain;

/// Per-request loader over the domain layer.
pub struct DomainLoader(pub Domain);

/// The loader type resolvers take from the context. Its cache lives as long as the request,
/// so connections can prime it for the page they return (see `idea::prefetch`).
pub type Loaders = std::sync::Arc<DataLoader<DomainLoader, HashMapCache>>;

/// Creates the loader a request (or a WebSocket connection) uses.
pub fn for_request(domain: &Domain) -> Loaders {
    std::sync::Arc::new(DataLoader::with_cache(
        DomainLoader(domain.clone()),
        tokio::spawn,
        HashMapCache::default(),
    ))
}

macro_rules! loader {
    ($(#[$doc:meta])* $key:ident => $value:ty, $method:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub i32);

        impl Loader<$key> for DomainLoader {
            type Value = $value;
            type Error = async_graphql::Error;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<i32> = keys.iter().map(|k| k.0).collect();
                let rows = self.0.$method(&ids).await?;
                Ok(rows.into_iter().map(|(id, v)| ($key(id), v)).collect())
            }
        }
    };
}

loader!(/// The regency with this id.
    RegencyId => regency::Model, regencies_by_id);
loader!(/// The unit with this id.
    UnitId => unit::Model, units_by_id);
loader!(/// The cohort with this id.
    CohortId => cohort::Model, cohorts_by_id);
loader!(/// The idea with this id.
    IdeaId => idea::Model, ideas_by_id);
loader!(/// The mentor with this id.
    MentorId => mentor::Model, mentors_by_id);
loader!(/// The commitment with this id.
    CommitmentId => commitment::Model, commitments_by_id);
loader!(/// The cohorts of a regency.
    CohortsOfRegency => Vec<cohort::Model>, cohorts_of_regencies);
loader!(/// The units of a regency.
    UnitsOfRegency => Vec<unit::Model>, units_of_regencies);
loader!(/// The sub-units of a unit.
    ChildrenOfUnit => Vec<unit::Model>, children_of_units);
loader!(/// The mentor assignments of an idea.
    AssignmentsOfIdea => Vec<mentor_assignment::Model>, assignments_of_ideas);
loader!(/// The ids of the commitments covering an idea.
    CommitmentsOfIdea => Vec<i32>, commitment_ids_of_ideas);
loader!(/// The ids of the ideas a commitment covers.
    IdeasOfCommitment => Vec<i32>, idea_ids_of_commitments);
loader!(/// The audit trail of an idea.
    TransitionsOfIdea => Vec<stage_transition::Model>, transitions_of_ideas);

/// Loads one row that must exist (a foreign key points at it).
pub async fn required<K>(
    loaders: &Loaders,
    key: K,
) -> async_graphql::Result<<DomainLoader as Loader<K>>::Value>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + std::fmt::Debug + 'static,
    DomainLoader: Loader<K, Error = async_graphql::Error>,
{
    loaders.load_one(key.clone()).await?.ok_or_else(|| {
        tracing::error!(?key, "a referenced row is missing");
        crate::error::DomainError::Internal(anyhow::anyhow!("dangling reference {key:?}")).into()
    })
}

/// Loads many rows by id, keeping the order of `ids` and skipping missing ones.
pub async fn many<K, V>(
    loaders: &Loaders,
    ids: impl IntoIterator<Item = K>,
) -> async_graphql::Result<Vec<V>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    DomainLoader: Loader<K, Value = V, Error = async_graphql::Error>,
    V: Clone + Send + Sync + 'static,
{
    let ids: Vec<K> = ids.into_iter().collect();
    let mut found = loaders.load_many(ids.clone()).await?;
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}
