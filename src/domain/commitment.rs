//! Writing commitments: drafting, signing, fulfilling and withdrawing.

use chrono::{DateTime, NaiveDate, Utc};
use std::collections::HashMap;

use entity::{CommitmentStatus, PipelineEventKind, cohort, commitment, commitment_idea, idea};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Select, sea_query::Query,
};
use serde_json::json;

use super::{
    Domain, by_id, group,
    page::{Page, PageRequest},
    pipeline::{self, CommitmentAction},
    regency_code_filter,
    write::{Edit, NewEvent, Target, Work, Written, optional_text, required_text, within_lab},
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

/// A new commitment, written as a draft.
#[derive(Debug, Clone)]
pub struct NewCommitment {
    pub cohort_id: i32,
    pub unit_id: i32,
    pub idea_ids: Vec<i32>,
    pub signatory_name: String,
    pub signatory_title: String,
    pub counterpart: String,
    pub target: String,
    pub due_on: Option<NaiveDate>,
}

/// The text fields of a new commitment, checked and trimmed.
struct CommitmentText {
    signatory_name: String,
    signatory_title: String,
    counterpart: String,
    target: String,
}

impl CommitmentText {
    /// Checks the text fields of `new`: each is required and bounded in length.
    fn checked(new: &NewCommitment) -> DomainResult<Self> {
        Ok(Self {
            signatory_name: required_text("The signatory's name", &new.signatory_name, 200)?,
            signatory_title: required_text("The signatory's title", &new.signatory_title, 200)?,
            counterpart: required_text("The counterpart", &new.counterpart, 200)?,
            target: required_text("The target", &new.target, 2000)?,
        })
    }

    /// The row of a new draft commitment with this text, made with `unit_id` in `cohort`.
    fn into_draft(
        self,
        cohort: &cohort::Model,
        unit_id: i32,
        due_on: Option<NaiveDate>,
        now: DateTime<Utc>,
    ) -> commitment::ActiveModel {
        commitment::ActiveModel {
            regency_id: Set(cohort.regency_id),
            cohort_id: Set(cohort.id),
            unit_id: Set(unit_id),
            signatory_name: Set(self.signatory_name),
            signatory_title: Set(self.signatory_title),
            counterpart: Set(self.counterpart),
            target: Set(self.target),
            due_on: Set(due_on),
            status: Set(CommitmentStatus::Draft),
            signed_on: Set(None),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
    }
}

/// The ideas a commitment covers, each once and in id order; a commitment covers at least one.
fn distinct_idea_ids(ids: &[i32]) -> DomainResult<Vec<i32>> {
    let mut idea_ids = ids.to_vec();
    idea_ids.sort_unstable();
    idea_ids.dedup();
    if idea_ids.is_empty() {
        return Err(DomainError::bad_input(
            "A commitment covers at least one idea; ideaIds is empty.",
        ));
    }
    Ok(idea_ids)
}

/// Refuses ideas a commitment in `cohort` cannot cover. Ideas of other regencies count as
/// missing, since their titles are not the caller's to read; ideas of another cohort of the
/// same regency are named.
async fn check_ideas_of_cohort(
    txn: &DatabaseTransaction,
    cohort: &cohort::Model,
    idea_ids: &[i32],
) -> DomainResult<()> {
    let ideas = idea::Entity::find()
        .filter(idea::Column::Id.is_in(idea_ids.to_vec()))
        .filter(idea::Column::RegencyId.eq(cohort.regency_id))
        .all(txn)
        .await?;
    if ideas.len() != idea_ids.len() {
        return Err(DomainError::not_found(format!(
            "{} of the given ideaIds are not ideas of this regency.",
            idea_ids.len() - ideas.len()
        )));
    }
    if let Some(other) = ideas.iter().find(|i| i.cohort_id != cohort.id) {
        return Err(DomainError::bad_input(format!(
            "The idea \"{}\" belongs to another cohort; a commitment covers ideas of its own cohort.",
            other.title
        )));
    }
    Ok(())
}

impl Domain {
    pub async fn create_commitment(
        &self,
        caller: &Caller,
        new: NewCommitment,
    ) -> DomainResult<Written<commitment::Model>> {
        self.write(caller, async |work| {
            self.create_commitment_in(work, new).await
        })
        .await
    }

    pub(crate) async fn create_commitment_in(
        &self,
        work: &mut Work,
        new: NewCommitment,
    ) -> DomainResult<commitment::Model> {
        let text = CommitmentText::checked(&new)?;
        let idea_ids = distinct_idea_ids(&new.idea_ids)?;
        let txn = &work.txn;
        let cohort = cohort::Entity::find_by_id(new.cohort_id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::missing("cohort"))?;
        work.caller.check_write(Some(cohort.regency_id), "cohort")?;
        let unit = self.unit_in(txn, new.unit_id).await?;
        if unit.regency_id != cohort.regency_id {
            // Answered as absent: the caller may not see another regency's units.
            return Err(DomainError::missing("unit"));
        }
        if let Some(due) = new.due_on {
            self.check_due_date(txn, cohort.id, due).await?;
        }
        check_ideas_of_cohort(txn, &cohort, &idea_ids).await?;
        let row = text
            .into_draft(&cohort, unit.id, new.due_on, work.now())
            .insert(txn)
            .await?;
        commitment_idea::Entity::insert_many(idea_ids.iter().map(|idea_id| {
            commitment_idea::ActiveModel {
                commitment_id: Set(row.id),
                idea_id: Set(*idea_id),
            }
        }))
        .exec(txn)
        .await?;
        self.record_event(
            work,
            NewEvent {
                unit_id: Some(row.unit_id),
                commitment_id: Some(row.id),
                payload: json!({ "ideas": idea_ids, "status": row.status.as_str() }),
                ..NewEvent::about(row.regency_id, PipelineEventKind::CommitmentCreated)
            },
        )
        .await?;
        Ok(row)
    }

    /// Refuses a due date outside the lab's records: not before the lab's start, and not more
    /// than thirty years after it, which no real commitment reaches.
    async fn check_due_date(
        &self,
        txn: &DatabaseTransaction,
        cohort_id: i32,
        due: NaiveDate,
    ) -> DomainResult<()> {
        let floor = self.lab_floor_of(txn, cohort_id).await?;
        let latest = floor + chrono::Days::new(365 * 30);
        if due < floor || due > latest {
            return Err(DomainError::bad_input(format!(
                "The due date ({due}) must fall between the lab's start ({floor}) and {latest}."
            )));
        }
        Ok(())
    }

    /// Signs, fulfils or withdraws a commitment if its life cycle allows.
    pub async fn step_commitment(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        action: CommitmentAction,
        signed_on: Option<NaiveDate>,
        reason: Option<String>,
    ) -> DomainResult<Written<commitment::Model>> {
        self.write(caller, async |work| {
            self.step_commitment_in(work, id, version, action, signed_on, reason)
                .await
        })
        .await
    }

    pub(crate) async fn step_commitment_in(
        &self,
        work: &mut Work,
        id: i32,
        version: i32,
        action: CommitmentAction,
        signed_on: Option<NaiveDate>,
        reason: Option<String>,
    ) -> DomainResult<commitment::Model> {
        let reason = optional_text("The reason", reason.as_deref(), 2000)?;
        let target = Target {
            id,
            version,
            what: "commitment",
        };
        self.update_versioned::<commitment::Entity, _>(
            work,
            target,
            async |work, current| {
                let floor = self.lab_floor_of(&work.txn, current.cohort_id).await?;
                let signed_on = signed_on
                    .map(|d| within_lab("The signing date", d, floor))
                    .transpose()?;
                let next = pipeline::commitment_step(current.status, action)?;
                let mut row: commitment::ActiveModel = current.clone().into();
                row.status = Set(next);
                if action == CommitmentAction::Sign {
                    row.signed_on = Set(Some(signed_on.unwrap_or(work.today())));
                }
                Ok(Edit::new(row))
            },
            async |work, _, updated| {
                let kind = match action {
                    CommitmentAction::Sign => PipelineEventKind::CommitmentSigned,
                    CommitmentAction::Fulfill => PipelineEventKind::CommitmentFulfilled,
                    CommitmentAction::Withdraw => PipelineEventKind::CommitmentWithdrawn,
                };
                self.record_event(
                    work,
                    NewEvent {
                        unit_id: Some(updated.unit_id),
                        commitment_id: Some(id),
                        payload: json!({
                            "status": updated.status.as_str(),
                            "signedOn": updated.signed_on,
                            "reason": reason,
                            "version": updated.version,
                        }),
                        ..NewEvent::about(updated.regency_id, kind)
                    },
                )
                .await?;
                Ok(updated)
            },
        )
        .await
    }
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

impl Domain {
    by_ids!(/// Commitments by id.
        commitments_by_id, commitment, i32, |s: ReadScope| s.on(commitment::Column::RegencyId));

    /// Ids of the commitments covering each idea.
    pub async fn commitment_ids_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<i32>>> {
        let scope = caller.check_read()?;
        let rows = commitment_idea::Entity::find()
            .filter(commitment_idea::Column::IdeaId.is_in(ids.iter().copied()))
            .filter(scope.on_idea(commitment_idea::Column::IdeaId))
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
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<i32>>> {
        let scope = caller.check_read()?;
        let rows = commitment_idea::Entity::find()
            .filter(commitment_idea::Column::CommitmentId.is_in(ids.iter().copied()))
            .filter(scope.on_idea(commitment_idea::Column::IdeaId))
            .order_by_asc(commitment_idea::Column::IdeaId)
            .all(self.db())
            .await?;
        Ok(group(rows, |l| l.commitment_id)
            .into_iter()
            .map(|(c, links)| (c, links.into_iter().map(|l| l.idea_id).collect()))
            .collect())
    }

    fn commitments_matching(
        &self,
        filter: &CommitmentFilter,
    ) -> DomainResult<Select<commitment::Entity>> {
        super::idea::four_digit_year("signedFrom", filter.signed_from)?;
        super::idea::four_digit_year("signedTo", filter.signed_to)?;
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
        caller: &Caller,
        filter: &CommitmentFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<commitment::Model>> {
        let scope = caller.check_read()?;
        let sort = by_id::<commitment::Entity>(commitment::Column::Id, |m| i64::from(m.id));
        self.listing(
            self.commitments_matching(filter)?
                .filter(scope.on(commitment::Column::RegencyId)),
            sort,
            page,
        )
        .await
    }

    pub async fn count_commitments(
        &self,
        caller: &Caller,
        filter: &CommitmentFilter,
    ) -> DomainResult<u64> {
        let scope = caller.check_read()?;
        Ok(self
            .commitments_matching(filter)?
            .filter(scope.on(commitment::Column::RegencyId))
            .count(self.db())
            .await?)
    }
}
