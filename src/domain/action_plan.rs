//! Action plans (rencana aksi): an idea's goal and ordered milestones, written in DESIGN and
//! carried out in DELIVER. A plan is written whole, with the version the client read; every
//! version is kept as a revision, and each write records ACTION_PLAN_WRITTEN (and
//! MILESTONE_DONE for each milestone it marks done).

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{
    IdeaStatus, MilestoneStatus, PipelineEventKind, Stage, action_plan, action_plan_revision, idea,
    mentor, milestone, milestone_comment,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::json;

use super::{
    Domain,
    idea::moves::{MAX_DIGIT_RUN, no_identity_number},
    write::{NewEvent, Work, Written, on_unique, optional_text, required_text, stale},
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

/// The most milestones a plan holds.
pub const MAX_MILESTONES: usize = 50;

/// One milestone as a client writes it; `id` keeps a milestone the plan already has (and its
/// coaching history), none adds one.
#[derive(Debug, Clone)]
pub struct MilestoneDraft {
    pub id: Option<i32>,
    pub title: String,
    pub owner_name: String,
    pub owner_position: String,
    pub due_on: NaiveDate,
    pub status: MilestoneStatus,
    pub done_on: Option<NaiveDate>,
    pub note: Option<String>,
}

/// A whole plan as a client writes it: `version` is the plan's version the client read, none
/// for an idea without a plan.
#[derive(Debug, Clone)]
pub struct PlanDraft {
    pub idea_id: i32,
    pub version: Option<i32>,
    pub goal: String,
    pub milestones: Vec<MilestoneDraft>,
}

/// An action plan and its milestones in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionPlan {
    pub plan: action_plan::Model,
    pub milestones: Vec<milestone::Model>,
}

/// How far a plan got: milestones done of those planned (dropped ones do not count), and how
/// many are past due and not done on `today`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub planned: usize,
    pub overdue: usize,
}

/// Whether a milestone is past its due date on `today` and neither done nor dropped.
pub fn is_overdue(m: &milestone::Model, today: NaiveDate) -> bool {
    matches!(
        m.status,
        MilestoneStatus::Planned | MilestoneStatus::InProgress
    ) && m.due_on < today
}

impl ActionPlan {
    /// Milestones done and planned (dropped ones left out); no reading of the clock.
    pub fn done_of_planned(&self) -> (usize, usize) {
        let counted = self
            .milestones
            .iter()
            .filter(|m| m.status != MilestoneStatus::Dropped);
        let done = counted
            .clone()
            .filter(|m| m.status == MilestoneStatus::Done)
            .count();
        (done, counted.count())
    }

    /// The plan's progress on `today`.
    pub fn progress(&self, today: NaiveDate) -> Progress {
        let (done, planned) = self.done_of_planned();
        let overdue = self
            .milestones
            .iter()
            .filter(|m| is_overdue(m, today))
            .count();
        Progress {
            done,
            planned,
            overdue,
        }
    }
}

/// A milestone checked against the lab's calendar: text trimmed and bounded, no identity
/// numbers, due within the lab's life, a done date exactly when DONE and not in the future.
fn checked_milestone(
    n: usize,
    draft: &MilestoneDraft,
    floor: NaiveDate,
    today: NaiveDate,
) -> DomainResult<MilestoneDraft> {
    let label = |field: &str| format!("Milestone {n}'s {field}");
    let title = required_text(&label("title"), &draft.title, 300)?;
    let owner_name = required_text(&label("owner name"), &draft.owner_name, 200)?;
    let owner_position = required_text(&label("owner position"), &draft.owner_position, 200)?;
    no_identity_number(&label("owner name"), &owner_name, MAX_DIGIT_RUN)?;
    no_identity_number(&label("owner position"), &owner_position, MAX_DIGIT_RUN)?;
    let latest = floor + chrono::Days::new(365 * 30);
    if draft.due_on < floor || draft.due_on > latest {
        return Err(DomainError::bad_input(format!(
            "Milestone {n}'s due date ({}) must fall between the lab's start ({floor}) and {latest}.",
            draft.due_on
        )));
    }
    let done_on = match (draft.status, draft.done_on) {
        (MilestoneStatus::Done, Some(day)) if day > today => {
            return Err(DomainError::bad_input(format!(
                "Milestone {n}'s done date ({day}) is in the future; a milestone is marked done once it is done."
            )));
        }
        (MilestoneStatus::Done, Some(day)) if day < floor => {
            return Err(DomainError::bad_input(format!(
                "Milestone {n}'s done date ({day}) is before the lab's start ({floor})."
            )));
        }
        (MilestoneStatus::Done, Some(day)) => Some(day),
        (MilestoneStatus::Done, None) => Some(today),
        (_, Some(_)) => {
            return Err(DomainError::bad_input(format!(
                "Milestone {n} has a done date but its status is {}; only a DONE milestone has one.",
                draft.status.as_str()
            )));
        }
        (_, None) => None,
    };
    Ok(MilestoneDraft {
        id: draft.id,
        title,
        owner_name,
        owner_position,
        due_on: draft.due_on,
        status: draft.status,
        done_on,
        note: optional_text(&label("note"), draft.note.as_deref(), 2000)?,
    })
}

impl Domain {
    by_ids!(/// Milestones by id.
        milestones_by_id, milestone, i32, |s: ReadScope| s.on(milestone::Column::RegencyId));

    /// Writes an idea's whole action plan (its first version, or a new one over `version`).
    pub async fn write_action_plan(
        &self,
        caller: &Caller,
        draft: PlanDraft,
    ) -> DomainResult<Written<ActionPlan>> {
        self.write(caller, async |work| {
            self.write_action_plan_in(work, draft).await
        })
        .await
    }

    pub(crate) async fn write_action_plan_in(
        &self,
        work: &mut Work,
        draft: PlanDraft,
    ) -> DomainResult<ActionPlan> {
        let idea = self.planned_idea(work, draft.idea_id).await?;
        let goal = required_text("The plan's goal", &draft.goal, 2000)?;
        if draft.milestones.len() > MAX_MILESTONES {
            return Err(DomainError::bad_input(format!(
                "A plan holds at most {MAX_MILESTONES} milestones; this one has {}.",
                draft.milestones.len()
            )));
        }
        let floor = self.lab_floor_of(&work.txn, idea.cohort_id).await?;
        let today = work.today();
        let milestones = draft
            .milestones
            .into_iter()
            .enumerate()
            .map(|(i, m)| checked_milestone(i + 1, &m, floor, today))
            .collect::<DomainResult<Vec<_>>>()?;
        let (plan, before) = self.plan_row(work, &idea, draft.version, goal).await?;
        let saved = self.save_milestones(work, &plan, &idea, milestones).await?;
        self.record_plan(work, &idea, &plan, &before, &saved)
            .await?;
        Ok(ActionPlan {
            plan,
            milestones: saved,
        })
    }

    /// The idea a plan is written for: NOT_FOUND / FORBIDDEN as for any row of its regency,
    /// and an idea from DESIGN on that is not dropped.
    async fn planned_idea(&self, work: &Work, idea_id: i32) -> DomainResult<idea::Model> {
        let idea = idea::Entity::find_by_id(idea_id)
            .one(&work.txn)
            .await?
            .ok_or_else(|| DomainError::missing("idea"))?;
        work.caller.check_write(Some(idea.regency_id), "idea")?;
        if idea.stage < Stage::Design {
            return Err(DomainError::InvalidTransition(format!(
                "An action plan is written in DESIGN; this idea is in {}. Advance it to DESIGN first.",
                idea.stage.as_str()
            )));
        }
        if idea.status == IdeaStatus::Dropped {
            return Err(DomainError::InvalidTransition(
                "The idea was dropped; its action plan can no longer change.".to_owned(),
            ));
        }
        Ok(idea)
    }

    /// Inserts the plan's row, or moves the existing one to its next version if the client read
    /// the current one; also the milestones it had before.
    async fn plan_row(
        &self,
        work: &Work,
        idea: &idea::Model,
        version: Option<i32>,
        goal: String,
    ) -> DomainResult<(action_plan::Model, Vec<milestone::Model>)> {
        let txn = &work.txn;
        let current = action_plan::Entity::find()
            .filter(action_plan::Column::IdeaId.eq(idea.id))
            .one(txn)
            .await?;
        let stale_plan = || stale("action plan", version.unwrap_or(0));
        match (current, version) {
            (None, None) => {
                let row = action_plan::ActiveModel {
                    regency_id: Set(idea.regency_id),
                    idea_id: Set(idea.id),
                    goal: Set(goal),
                    version: Set(1),
                    created_at: Set(work.now()),
                    updated_at: Set(work.now()),
                    ..Default::default()
                }
                .insert(txn)
                .await
                .map_err(|err| {
                    on_unique(err, || {
                        "Someone else wrote this idea's action plan meanwhile; reload it and write over its version.".to_owned()
                    })
                })?;
                Ok((row, Vec::new()))
            }
            (None, Some(sent)) => Err(DomainError::Conflict(format!(
                "This idea has no action plan, so there is no version {sent} to write over; write it without a version."
            ))),
            (Some(_), None) => Err(DomainError::Conflict(
                "This idea already has an action plan; read it and write over its version."
                    .to_owned(),
            )),
            (Some(row), Some(sent)) if row.version != sent => Err(stale_plan()),
            (Some(row), Some(sent)) => {
                let before = milestone::Entity::find()
                    .filter(milestone::Column::ActionPlanId.eq(row.id))
                    .order_by_asc(milestone::Column::Position)
                    .all(txn)
                    .await?;
                let updated = action_plan::Entity::update(action_plan::ActiveModel {
                    id: Set(row.id),
                    goal: Set(goal),
                    version: Set(sent + 1),
                    updated_at: Set(work.now()),
                    ..Default::default()
                })
                .validate()?
                .filter(action_plan::Column::Version.eq(sent))
                .exec(txn)
                .await
                .map_err(|err| match err {
                    sea_orm::DbErr::RecordNotUpdated => stale_plan(),
                    other => other.into(),
                })?;
                Ok((updated, before))
            }
        }
    }

    /// Makes the plan's milestones those of `drafts`, in order: listed ids are updated, new ones
    /// inserted, the rest removed (the revisions keep them).
    async fn save_milestones(
        &self,
        work: &Work,
        plan: &action_plan::Model,
        idea: &idea::Model,
        drafts: Vec<MilestoneDraft>,
    ) -> DomainResult<Vec<milestone::Model>> {
        let txn = &work.txn;
        let existing: HashMap<i32, milestone::Model> = milestone::Entity::find()
            .filter(milestone::Column::ActionPlanId.eq(plan.id))
            .all(txn)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect();
        let kept: Vec<i32> = drafts.iter().filter_map(|d| d.id).collect();
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = kept.iter().find(|id| !seen.insert(**id)) {
            let position = drafts
                .iter()
                .rposition(|d| d.id == Some(*twice))
                .unwrap_or(0)
                + 1;
            return Err(DomainError::bad_input(format!(
                "Milestone {position} repeats the id of an earlier one; list each milestone once."
            )));
        }
        if let Some(unknown) = kept.iter().find(|id| !existing.contains_key(id)) {
            return Err(DomainError::not_found(format!(
                "Milestone {unknown} is not a milestone of this plan; leave its id out to add a new one."
            )));
        }
        milestone::Entity::delete_many()
            .filter(milestone::Column::ActionPlanId.eq(plan.id))
            .filter(milestone::Column::Id.is_not_in(kept))
            .exec(txn)
            .await?;
        let mut saved = Vec::with_capacity(drafts.len());
        for (i, draft) in drafts.into_iter().enumerate() {
            let mut row = milestone::ActiveModel {
                regency_id: Set(idea.regency_id),
                action_plan_id: Set(plan.id),
                idea_id: Set(idea.id),
                position: Set(i as i32 + 1),
                title: Set(draft.title),
                owner_name: Set(draft.owner_name),
                owner_position: Set(draft.owner_position),
                due_on: Set(draft.due_on),
                status: Set(draft.status),
                done_on: Set(draft.done_on),
                note: Set(draft.note),
                updated_at: Set(work.now()),
                ..Default::default()
            };
            let row = if let Some(id) = draft.id {
                row.id = Set(id);
                row.update(txn).await?
            } else {
                row.created_at = Set(work.now());
                row.insert(txn).await?
            };
            saved.push(row);
        }
        Ok(saved)
    }

    /// Keeps the revision and records ACTION_PLAN_WRITTEN, and MILESTONE_DONE for each
    /// milestone this write marked done.
    async fn record_plan(
        &self,
        work: &mut Work,
        idea: &idea::Model,
        plan: &action_plan::Model,
        before: &[milestone::Model],
        saved: &[milestone::Model],
    ) -> DomainResult<()> {
        let snapshot: Vec<_> = saved.iter().map(milestone_json).collect();
        action_plan_revision::ActiveModel {
            action_plan_id: Set(plan.id),
            version: Set(plan.version),
            goal: Set(plan.goal.clone()),
            milestones: Set(serde_json::Value::Array(snapshot).to_string()),
            actor: Set(work.caller.actor().to_owned()),
            at: Set(work.now()),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        let written = ActionPlan {
            plan: plan.clone(),
            milestones: saved.to_vec(),
        };
        let progress = written.progress(work.today());
        let mut events = vec![NewEvent::of_idea(
            idea,
            PipelineEventKind::ActionPlanWritten,
            json!({
                "title": idea.title,
                "version": plan.version,
                "done": progress.done,
                "planned": progress.planned,
            }),
        )];
        let was_done = |id: i32| {
            before
                .iter()
                .any(|m| m.id == id && m.status == MilestoneStatus::Done)
        };
        for m in saved {
            if m.status == MilestoneStatus::Done && !was_done(m.id) {
                events.push(NewEvent::of_idea(
                    idea,
                    PipelineEventKind::MilestoneDone,
                    json!({
                        "title": idea.title,
                        "milestone": m.title,
                        "position": m.position,
                        "doneOn": m.done_on,
                        "done": progress.done,
                        "planned": progress.planned,
                    }),
                ));
            }
        }
        self.record_events(work, idea.regency_id, events).await?;
        Ok(())
    }

    /// The action plans of `idea_ids` the caller may read, by idea.
    pub async fn action_plans_of(
        &self,
        caller: &Caller,
        idea_ids: &[i32],
    ) -> DomainResult<HashMap<i32, ActionPlan>> {
        let scope = caller.check_read()?;
        let plans = action_plan::Entity::find()
            .filter(action_plan::Column::IdeaId.is_in(idea_ids.iter().copied()))
            .filter(scope.on(action_plan::Column::RegencyId))
            .all(self.db())
            .await?;
        let mut milestones: HashMap<i32, Vec<milestone::Model>> = HashMap::new();
        for m in milestone::Entity::find()
            .filter(milestone::Column::ActionPlanId.is_in(plans.iter().map(|p| p.id)))
            .order_by_asc(milestone::Column::ActionPlanId)
            .order_by_asc(milestone::Column::Position)
            .all(self.db())
            .await?
        {
            milestones.entry(m.action_plan_id).or_default().push(m);
        }
        Ok(plans
            .into_iter()
            .map(|plan| {
                let milestones = milestones.remove(&plan.id).unwrap_or_default();
                (plan.idea_id, ActionPlan { plan, milestones })
            })
            .collect())
    }

    /// Every version a plan had, oldest first (the caller must be able to read the plan).
    pub async fn action_plan_revisions(
        &self,
        caller: &Caller,
        plan: &action_plan::Model,
    ) -> DomainResult<Vec<action_plan_revision::Model>> {
        let scope = caller.check_read()?;
        if !scope.allows(plan.regency_id) {
            return Ok(Vec::new());
        }
        Ok(action_plan_revision::Entity::find()
            .filter(action_plan_revision::Column::ActionPlanId.eq(plan.id))
            .order_by_asc(action_plan_revision::Column::Version)
            .all(self.db())
            .await?)
    }
}

/// A mentor's comment for a milestone's coaching log.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub milestone_id: i32,
    pub comment: String,
    /// The day of the coaching; today when none.
    pub on: Option<NaiveDate>,
}

impl Domain {
    /// Writes in a milestone's coaching log, as the LAN mentor coaching its idea now.
    pub async fn comment_on_milestone(
        &self,
        caller: &Caller,
        new: NewComment,
    ) -> DomainResult<Written<milestone_comment::Model>> {
        let mut work = self.begin_mentor_work(caller).await?;
        let value = self.comment_on_milestone_in(&mut work, new).await?;
        self.finish(work, value).await
    }

    pub(crate) async fn comment_on_milestone_in(
        &self,
        work: &mut Work,
        new: NewComment,
    ) -> DomainResult<milestone_comment::Model> {
        let mentor_id = work.caller.check_mentor()?;
        let comment = required_text("The comment", &new.comment, 5000)?;
        let missing = || DomainError::missing("milestone");
        let milestone = milestone::Entity::find_by_id(new.milestone_id)
            .one(&work.txn)
            .await?
            .filter(|m| {
                work.caller
                    .read_scope()
                    .is_ok_and(|s| s.allows(m.regency_id))
            })
            .ok_or_else(missing)?;
        if super::mentor::current_assignment(&work.txn, milestone.idea_id, mentor_id)
            .await?
            .is_none()
        {
            return Err(DomainError::Forbidden(
                "Only the mentors coaching an idea write in its milestones' coaching log, and you do not coach this one."
                    .to_owned(),
            ));
        }
        let idea = idea::Entity::find_by_id(milestone.idea_id)
            .one(&work.txn)
            .await?
            .ok_or_else(missing)?;
        let floor = self.lab_floor_of(&work.txn, idea.cohort_id).await?;
        let on = match new.on {
            Some(day) => super::write::within_lab(
                "The coaching day",
                work.not_in_future("The coaching day", day)?,
                floor,
            )?,
            None => work.today(),
        };
        let row = milestone_comment::ActiveModel {
            regency_id: Set(milestone.regency_id),
            milestone_id: Set(milestone.id),
            idea_id: Set(idea.id),
            mentor_id: Set(mentor_id),
            comment: Set(comment),
            written_on: Set(on),
            created_at: Set(work.now()),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        let mentor_name = mentor::Entity::find_by_id(mentor_id)
            .one(&work.txn)
            .await?
            .map(|m| m.name)
            .unwrap_or_default();
        self.record_events(
            work,
            idea.regency_id,
            vec![NewEvent::of_idea(
                &idea,
                PipelineEventKind::MilestoneCommented,
                json!({
                    "title": idea.title,
                    "milestone": milestone.title,
                    "mentor": mentor_name,
                }),
            )],
        )
        .await?;
        Ok(row)
    }

    /// The coaching log of each milestone the caller may read, oldest first.
    pub async fn comments_of_milestones(
        &self,
        caller: &Caller,
        milestone_ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<milestone_comment::Model>>> {
        let scope = caller.check_read()?;
        let mut log: HashMap<i32, Vec<milestone_comment::Model>> = HashMap::new();
        for row in milestone_comment::Entity::find()
            .filter(milestone_comment::Column::MilestoneId.is_in(milestone_ids.iter().copied()))
            .filter(scope.on(milestone_comment::Column::RegencyId))
            .order_by_asc(milestone_comment::Column::Id)
            .all(self.db())
            .await?
        {
            log.entry(row.milestone_id).or_default().push(row);
        }
        Ok(log)
    }
}

/// A milestone as a revision keeps it.
fn milestone_json(m: &milestone::Model) -> serde_json::Value {
    json!({
        "id": m.id,
        "position": m.position,
        "title": m.title,
        "ownerName": m.owner_name,
        "ownerPosition": m.owner_position,
        "dueOn": m.due_on,
        "status": m.status.as_str(),
        "doneOn": m.done_on,
        "note": m.note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milestone(status: MilestoneStatus, due: NaiveDate) -> milestone::Model {
        let at = chrono::Utc::now();
        milestone::Model {
            id: 1,
            regency_id: 1,
            action_plan_id: 1,
            idea_id: 1,
            position: 1,
            title: "t".into(),
            owner_name: "n".into(),
            owner_position: "p".into(),
            due_on: due,
            status,
            done_on: None,
            note: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn progress_counts_done_of_planned_and_overdue_leaving_dropped_out() {
        let day = |d| NaiveDate::from_ymd_opt(2020, 1, d).expect("a date");
        let plan = ActionPlan {
            plan: action_plan::Model {
                id: 1,
                regency_id: 1,
                idea_id: 1,
                goal: "g".into(),
                version: 1,
                created_at: chrono::Utc::now(),
                updated_at: chrono::Utc::now(),
            },
            milestones: vec![
                milestone(MilestoneStatus::Done, day(1)),
                milestone(MilestoneStatus::InProgress, day(2)),
                milestone(MilestoneStatus::Planned, day(20)),
                milestone(MilestoneStatus::Dropped, day(3)),
            ],
        };
        assert_eq!(
            plan.progress(day(10)),
            Progress {
                done: 1,
                planned: 3,
                overdue: 1
            }
        );
    }
}
