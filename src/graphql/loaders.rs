//! DataLoaders: nested fields batch their reads, one SQL statement per field and request level,
//! so a page of 100 ideas with their relations costs what a page of 10 costs.

use std::{
    collections::HashMap,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, Ordering},
    },
};

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    cohort, commitment, hand_over, idea, mentor, mentor_assignment, regency, review,
    stage_transition, unit,
};

use crate::{access::Caller, domain::Domain};

/// Per-operation loader over the domain layer, reading as the operation's caller.
pub struct DomainLoader {
    domain: Domain,
    caller: Caller,
}

type Cached = DataLoader<DomainLoader, HashMapCache>;

/// The loaders resolvers take from the context: one set per operation (installed by
/// [`super::engine::Engine`]), so a WebSocket connection never keeps a cache for its life. Its cache
/// lives as long as the operation, so connections can prime it for the page they return (see
/// `idea::prefetch`); a write, and each item of a subscription, start it afresh with
/// [`Loaders::renew`], whatever loaders exist.
#[derive(Clone)]
pub struct Loaders(Arc<LoadersInner>);

struct LoadersInner {
    domain: Domain,
    caller: Caller,
    current: RwLock<Arc<Cached>>,
    /// Set by `renew`: the next load starts a fresh cache. A subscription renews before each
    /// item, and most items (events with scalar fields) load nothing, so the cache is only
    /// rebuilt when something is loaded.
    stale: AtomicBool,
}

fn cached(domain: &Domain, caller: &Caller) -> Arc<Cached> {
    Arc::new(DataLoader::with_cache(
        DomainLoader {
            domain: domain.clone(),
            caller: caller.clone(),
        },
        tokio::spawn,
        HashMapCache::default(),
    ))
}

impl Loaders {
    pub fn new(domain: &Domain, caller: &Caller) -> Self {
        Self(Arc::new(LoadersInner {
            domain: domain.clone(),
            caller: caller.clone(),
            current: RwLock::new(cached(domain, caller)),
            stale: AtomicBool::new(false),
        }))
    }

    fn current(&self) -> Arc<Cached> {
        if self.0.stale.swap(false, Ordering::AcqRel) {
            let fresh = cached(&self.0.domain, &self.0.caller);
            match self.0.current.write() {
                Ok(mut current) => *current = fresh.clone(),
                Err(poisoned) => *poisoned.into_inner() = fresh.clone(),
            }
            return fresh;
        }
        match self.0.current.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Forgets everything read so far: what is loaded next is read again.
    pub fn renew(&self) {
        self.0.stale.store(true, Ordering::Release);
    }

    pub async fn load_one<K>(
        &self,
        key: K,
    ) -> async_graphql::Result<Option<<DomainLoader as Loader<K>>::Value>>
    where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        DomainLoader: Loader<K, Error = async_graphql::Error>,
    {
        self.current().load_one(key).await
    }

    pub async fn load_many<K>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> async_graphql::Result<HashMap<K, <DomainLoader as Loader<K>>::Value>>
    where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        DomainLoader: Loader<K, Error = async_graphql::Error>,
    {
        self.current().load_many(keys).await
    }

    /// Primes the cache with rows read in bulk.
    pub async fn feed_many<K>(
        &self,
        values: impl IntoIterator<Item = (K, <DomainLoader as Loader<K>>::Value)>,
    ) where
        K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
        DomainLoader: Loader<K, Error = async_graphql::Error>,
    {
        self.current().feed_many(values).await;
    }
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
                let rows = self.domain.$method(&self.caller, &ids).await?;
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
loader!(/// The current reviews of an idea.
    CurrentReviewsOfIdea => Vec<review::Model>, current_reviews_of_ideas);
loader!(/// Every review of an idea, superseded ones included.
    ReviewsOfIdea => Vec<review::Model>, all_reviews_of_ideas);
loader!(/// The hand-overs of an idea.
    HandOversOfIdea => Vec<hand_over::Model>, hand_overs_of_ideas);
loader!(/// The action plan of an idea, with its milestones.
    ActionPlanOfIdea => crate::domain::action_plan::ActionPlan, action_plans_of);
loader!(/// The coaching log of a milestone.
    CommentsOfMilestone => Vec<entity::milestone_comment::Model>, comments_of_milestones);
loader!(/// The evidence files of an idea, oldest first.
    EvidenceOfIdea => Vec<entity::evidence::Model>, evidence_of_ideas);

pub(crate) fn find<T: 'static>(data: &async_graphql::Data) -> Option<&T> {
    data.get(&std::any::TypeId::of::<T>())
        .and_then(|value| value.downcast_ref::<T>())
}

/// Loads one row that must exist (&self.caller, a foreign key points at it).
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
