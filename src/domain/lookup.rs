//! Batched reads behind the DataLoaders: rows by id and children by parent, each one statement.

use std::collections::HashMap;

use entity::{
    cohort, commitment, commitment_idea, idea, mentor, mentor_assignment, pipeline_event,
    stage_transition, unit,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use super::Domain;
use crate::error::DomainResult;

/// Groups rows by a key, keeping their order.
fn group<K: std::hash::Hash + Eq, M>(rows: Vec<M>, key: impl Fn(&M) -> K) -> HashMap<K, Vec<M>> {
    let mut grouped: HashMap<K, Vec<M>> = HashMap::new();
    for row in rows {
        grouped.entry(key(&row)).or_default().push(row);
    }
    grouped
}

macro_rules! by_ids {
    ($(#[$doc:meta])* $name:ident, $entity:ident, $id:ty) => {
        $(#[$doc])*
        pub async fn $name(&self, ids: &[$id]) -> DomainResult<HashMap<$id, $entity::Model>> {
            let rows = $entity::Entity::find()
                .filter($entity::Column::Id.is_in(ids.iter().copied()))
                .all(self.db())
                .await?;
            Ok(rows.into_iter().map(|r| (r.id, r)).collect())
        }
    };
}

impl Domain {
    by_ids!(/// Units by id.
        units_by_id, unit, i32);
    by_ids!(/// Cohorts by id.
        cohorts_by_id, cohort, i32);
    by_ids!(/// Ideas by id.
        ideas_by_id, idea, i32);
    by_ids!(/// Mentors by id.
        mentors_by_id, mentor, i32);
    by_ids!(/// Commitments by id.
        commitments_by_id, commitment, i32);
    by_ids!(/// Pipeline events by id.
        events_by_id, pipeline_event, i64);
    by_ids!(/// Stage transitions by id.
        transitions_by_id, stage_transition, i32);
    by_ids!(/// Mentor assignments by id.
        assignments_by_id, mentor_assignment, i32);

    /// Units of each regency, by name.
    pub async fn units_of_regencies(
        &self,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<unit::Model>>> {
        let rows = unit::Entity::find()
            .filter(unit::Column::RegencyId.is_in(ids.iter().copied()))
            .order_by_asc(unit::Column::Name)
            .all(self.db())
            .await?;
        Ok(group(rows, |u| u.regency_id))
    }

    /// Sub-units of each unit (kelurahan of a kecamatan, puskesmas of the health office).
    pub async fn children_of_units(
        &self,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<unit::Model>>> {
        let rows = unit::Entity::find()
            .filter(unit::Column::ParentId.is_in(ids.iter().copied()))
            .order_by_asc(unit::Column::Name)
            .all(self.db())
            .await?;
        Ok(group(rows, |u| u.parent_id.unwrap_or_default()))
    }

    /// Mentor assignments of each idea, current and past, oldest first.
    pub async fn assignments_of_ideas(
        &self,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<mentor_assignment::Model>>> {
        let rows = mentor_assignment::Entity::find()
            .filter(mentor_assignment::Column::IdeaId.is_in(ids.iter().copied()))
            .order_by_asc(mentor_assignment::Column::Since)
            .order_by_asc(mentor_assignment::Column::Id)
            .all(self.db())
            .await?;
        Ok(group(rows, |a| a.idea_id))
    }

    /// Ids of the commitments covering each idea.
    pub async fn commitment_ids_of_ideas(
        &self,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<i32>>> {
        let rows = commitment_idea::Entity::find()
            .filter(commitment_idea::Column::IdeaId.is_in(ids.iter().copied()))
            .order_by_asc(commitment_idea::Column::CommitmentId)
            .all(self.db())
            .await?;
        Ok(group(rows, |l| l.idea_id)
            .into_iter()
            .map(|(idea, links)| (idea, links.into_iter().map(|l| l.commitment_id).collect()))
            .collect())
    }

    /// Ids of the ideas each commitment covers.
    pub async fn idea_ids_of_commitments(
        &self,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<i32>>> {
        let rows = commitment_idea::Entity::find()
            .filter(commitment_idea::Column::CommitmentId.is_in(ids.iter().copied()))
            .order_by_asc(commitment_idea::Column::IdeaId)
            .all(self.db())
            .await?;
        Ok(group(rows, |l| l.commitment_id)
            .into_iter()
            .map(|(c, links)| (c, links.into_iter().map(|l| l.idea_id).collect()))
            .collect())
    }

    /// The audit trail of each idea, in the order the moves happened.
    pub async fn transitions_of_ideas(
        &self,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<stage_transition::Model>>> {
        let rows = stage_transition::Entity::find()
            .filter(stage_transition::Column::IdeaId.is_in(ids.iter().copied()))
            .order_by_asc(stage_transition::Column::At)
            .order_by_asc(stage_transition::Column::Id)
            .all(self.db())
            .await?;
        Ok(group(rows, |t| t.idea_id))
    }
}
