//! Action plans (rencana aksi): an idea's goal and milestones, their progress and revisions.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{action_plan_revision, milestone, milestone_comment};

use super::{
    context,
    enums::MilestoneStatus,
    event::PipelineEvent,
    evidence::Evidence,
    idea::Idea,
    ids::{self, Kind},
    loaders::{CommentsOfMilestone, EvidenceOfIdea, IdeaId, Loaders, MentorId},
    mentor::Mentor,
};
use crate::domain::{
    Domain,
    action_plan::{self as domain, MilestoneDraft, NewComment, PlanDraft},
    volatile,
};

/// An idea's action plan (rencana aksi): what it achieves and the ordered milestones that get
/// it there. Written in DESIGN; entering DELIVER needs one with at least one milestone.
pub struct ActionPlan(pub domain::ActionPlan);

/// An idea's action plan (rencana aksi): what it achieves and the ordered milestones that get
/// it there. Written in DESIGN; entering DELIVER needs one with at least one milestone.
#[Object]
impl ActionPlan {
    /// What the plan achieves, in a sentence.
    async fn goal(&self) -> &str {
        &self.0.plan.goal
    }

    /// The plan's version: send it back to write over it (CONFLICT if someone wrote since).
    async fn version(&self) -> i32 {
        self.0.plan.version
    }

    /// When the plan was first written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.plan.created_at
    }

    /// When the plan last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.plan.updated_at
    }

    /// The milestones, in the plan's order.
    async fn milestones(&self) -> Vec<Milestone> {
        self.0.milestones.iter().cloned().map(Milestone).collect()
    }

    /// Milestones done of those planned, and how many are overdue today.
    async fn progress(&self) -> Progress {
        progress_today(&self.0)
    }

    /// The idea the plan is for.
    async fn idea(&self, ctx: &Context<'_>) -> Result<Option<Idea>> {
        Ok(ctx
            .data::<Loaders>()?
            .load_one(IdeaId(self.0.plan.idea_id))
            .await?
            .map(Idea::from))
    }

    /// Every version the plan had, oldest first, as it was written.
    async fn revisions(&self, ctx: &Context<'_>) -> Result<Vec<ActionPlanRevision>> {
        let rows = ctx
            .data::<Domain>()?
            .action_plan_revisions(&context::caller(ctx), &self.0.plan)
            .await?;
        Ok(rows.into_iter().map(ActionPlanRevision).collect())
    }
}

/// The plan's progress as of today (a read of the clock, so the answer is not cached).
pub fn progress_today(plan: &domain::ActionPlan) -> Progress {
    let p = plan.progress(volatile::now().date_naive());
    Progress {
        done: p.done as i32,
        planned: p.planned as i32,
        overdue: p.overdue as i32,
    }
}

/// How far an action plan got.
#[derive(SimpleObject, Clone, Copy)]
pub struct Progress {
    /// Milestones done.
    pub done: i32,
    /// Milestones planned (dropped ones left out).
    pub planned: i32,
    /// Milestones past their due date and not done.
    pub overdue: i32,
}

/// One step of an action plan.
pub struct Milestone(pub milestone::Model);

/// One step of an action plan.
#[Object]
impl Milestone {
    /// Global ID; send it back in `writeActionPlan` to keep this milestone.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Milestone, self.0.id)
    }

    /// Its place in the plan, from 1.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// What is done.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Who does it: a name.
    async fn owner_name(&self) -> &str {
        &self.0.owner_name
    }

    /// Who does it: a position, e.g. "Kepala Puskesmas Martapura".
    async fn owner_position(&self) -> &str {
        &self.0.owner_position
    }

    /// By when.
    async fn due_on(&self) -> NaiveDate {
        self.0.due_on
    }

    /// PLANNED, IN_PROGRESS, DONE or DROPPED.
    async fn status(&self) -> MilestoneStatus {
        self.0.status.into()
    }

    /// The day it was done (DONE only).
    async fn done_on(&self) -> Option<NaiveDate> {
        self.0.done_on
    }

    /// A note on how it went.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// The coaching log: the mentors' comments, oldest first.
    async fn comments(&self, ctx: &Context<'_>) -> Result<Vec<MilestoneComment>> {
        let rows = ctx
            .data::<Loaders>()?
            .load_one(CommentsOfMilestone(self.0.id))
            .await?
            .unwrap_or_default();
        Ok(rows.into_iter().map(MilestoneComment).collect())
    }

    /// The files attached to the idea as evidence of this milestone, oldest first.
    async fn evidence(&self, ctx: &Context<'_>) -> Result<Vec<Evidence>> {
        let rows = ctx
            .data::<Loaders>()?
            .load_one(EvidenceOfIdea(self.0.idea_id))
            .await?
            .unwrap_or_default();
        Ok(rows
            .into_iter()
            .filter(|e| e.milestone_id == Some(self.0.id))
            .map(Evidence)
            .collect())
    }

    /// Whether it is past its due date and not done (today, by the server's clock).
    async fn overdue(&self) -> bool {
        domain::is_overdue(&self.0, volatile::now().date_naive())
    }
}

/// A LAN mentor's comment in a milestone's coaching log.
pub struct MilestoneComment(pub milestone_comment::Model);

/// A LAN mentor's comment in a milestone's coaching log.
#[Object]
impl MilestoneComment {
    /// What the mentor noted.
    async fn comment(&self) -> &str {
        &self.0.comment
    }

    /// The day of the coaching.
    async fn written_on(&self) -> NaiveDate {
        self.0.written_on
    }

    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The mentor who wrote it.
    async fn mentor(&self, ctx: &Context<'_>) -> Result<Option<Mentor>> {
        Ok(ctx
            .data::<Loaders>()?
            .load_one(MentorId(self.0.mentor_id))
            .await?
            .map(Mentor::from))
    }
}

/// One version of an action plan as it was written; never changed.
pub struct ActionPlanRevision(pub action_plan_revision::Model);

/// One version of an action plan as it was written; never changed.
#[Object]
impl ActionPlanRevision {
    /// The plan's version this revision made.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The goal as written then.
    async fn goal(&self) -> &str {
        &self.0.goal
    }

    /// The milestones as written then, in order (JSON: id, position, title, ownerName,
    /// ownerPosition, dueOn, status, doneOn, note).
    #[allow(clippy::unused_async, reason = "async-graphql resolvers are async")]
    async fn milestones(&self) -> Result<async_graphql::Json<serde_json::Value>> {
        let value = serde_json::from_str(&self.0.milestones)
            .map_err(|e| crate::error::DomainError::Internal(e.into()))?;
        Ok(async_graphql::Json(value))
    }

    /// Who wrote it.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// One milestone as written.
#[derive(InputObject)]
pub struct MilestoneInput {
    /// The ID of a milestone the plan already has, to keep it; leave it out to add one.
    pub id: Option<ID>,
    /// What is done (at most 300 characters).
    pub title: String,
    /// Who does it: a name (no identity numbers).
    pub owner_name: String,
    /// Who does it: a position (no identity numbers).
    pub owner_position: String,
    /// By when: within the lab's life.
    pub due_on: NaiveDate,
    /// PLANNED when left out.
    pub status: Option<MilestoneStatus>,
    /// The day it was done: only for DONE, not in the future; today when left out.
    pub done_on: Option<NaiveDate>,
    /// A note on how it went (at most 2,000 characters).
    pub note: Option<String>,
}

/// An idea's whole action plan, written at once.
#[derive(InputObject)]
pub struct WriteActionPlanInput {
    /// The idea, in DESIGN or later and not dropped.
    pub idea_id: ID,
    /// The plan's version you read; leave it out for an idea without a plan.
    pub version: Option<i32>,
    /// What the plan achieves (at most 2,000 characters).
    pub goal: String,
    /// The milestones in order (at most 50): listed IDs are kept, new ones added, the rest
    /// removed (the revisions keep them).
    pub milestones: Vec<MilestoneInput>,
}

/// What `writeActionPlan` returns.
#[derive(SimpleObject)]
pub struct ActionPlanPayload {
    /// The plan as written.
    pub action_plan: ActionPlan,
    /// The ACTION_PLAN_WRITTEN event it recorded (MILESTONE_DONE events follow it in the stream
    /// for each milestone it marked done).
    pub event: PipelineEvent,
}

/// A comment for a milestone's coaching log.
#[derive(InputObject)]
pub struct CommentOnMilestoneInput {
    /// The milestone, of an idea you coach.
    pub milestone_id: ID,
    /// What you noted (at most 5,000 characters).
    pub comment: String,
    /// The day of the coaching: within the lab's life, not in the future; today when left out.
    pub on: Option<NaiveDate>,
}

/// What `commentOnMilestone` returns.
#[derive(SimpleObject)]
pub struct MilestoneCommentPayload {
    /// The comment as written.
    pub comment: MilestoneComment,
    /// The MILESTONE_COMMENTED event it recorded.
    pub event: PipelineEvent,
}

#[derive(Default)]
pub struct ActionPlanMutation;

#[Object]
impl ActionPlanMutation {
    /// Writes an idea's action plan: the first version, or a new one over the version you read.
    /// REGENCY_ADMIN of the idea's regency (or ADMIN).
    async fn write_action_plan(
        &self,
        ctx: &Context<'_>,
        input: WriteActionPlanInput,
    ) -> Result<ActionPlanPayload> {
        let idea_id = ids::decode(Kind::Idea, &input.idea_id)?;
        let milestones = input
            .milestones
            .into_iter()
            .map(|m| {
                Ok(MilestoneDraft {
                    id: m
                        .id
                        .map(|id| ids::decode(Kind::Milestone, &id))
                        .transpose()?,
                    title: m.title,
                    owner_name: m.owner_name,
                    owner_position: m.owner_position,
                    due_on: m.due_on,
                    status: m
                        .status
                        .map_or(entity::MilestoneStatus::Planned, Into::into),
                    done_on: m.done_on,
                    note: m.note,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let draft = PlanDraft {
            idea_id,
            version: input.version,
            goal: input.goal,
            milestones,
        };
        let written = ctx
            .data::<Domain>()?
            .write_action_plan(&context::caller(ctx), draft)
            .await?;
        context::after_write(ctx);
        Ok(ActionPlanPayload {
            action_plan: ActionPlan(written.value),
            event: context::first_event(written.events)?,
        })
    }

    /// Writes in a milestone's coaching log: a LAN mentor (MENTOR token) coaching the idea now.
    /// Mentors comment on plans; they do not change them.
    async fn comment_on_milestone(
        &self,
        ctx: &Context<'_>,
        input: CommentOnMilestoneInput,
    ) -> Result<MilestoneCommentPayload> {
        let new = NewComment {
            milestone_id: ids::decode(Kind::Milestone, &input.milestone_id)?,
            comment: input.comment,
            on: input.on,
        };
        let written = ctx
            .data::<Domain>()?
            .comment_on_milestone(&context::caller(ctx), new)
            .await?;
        context::after_write(ctx);
        Ok(MilestoneCommentPayload {
            comment: MilestoneComment(written.value),
            event: context::first_event(written.events)?,
        })
    }
}
