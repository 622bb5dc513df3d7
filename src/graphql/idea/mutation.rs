//! The writes on ideas: submit, edit, move, hand over, import.

use async_graphql::{Context, ID, InputObject, Object, Result};
use chrono::{DateTime, Utc};

use super::{Idea, StageTransition};
use crate::domain::{Domain, idea::import::Duplicates};
use crate::graphql::{
    enums::{Initiator, InnovationForm, InnovationType, Maturity, StallReason},
    ids::{self, Kind},
    review::{HandOver, InnovatorInput},
};

/// A new idea. It enters the pipeline at DIAGNOSE.
#[derive(InputObject)]
pub struct SubmitIdeaInput {
    /// The lab edition.
    pub cohort_id: ID,
    /// The owning unit, of the cohort's regency.
    pub unit_id: ID,
    /// Short name (at most 200 characters).
    pub title: String,
    /// The problem it addresses.
    pub problem: String,
    /// What the innovation does.
    pub description: Option<String>,
    /// Digital or non-digital.
    #[graphql(name = "type")]
    pub innovation_type: InnovationType,
    /// Governance, public service or other.
    pub form: InnovationForm,
    /// Government affairs area (urusan).
    pub affairs_area: String,
    /// Who started it.
    pub initiator: Initiator,
    /// INITIATIVE when left out.
    pub maturity: Option<Maturity>,
    /// When it was proposed; now when left out; not in the future.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The person carrying it in the unit (name and position only).
    pub innovator: Option<InnovatorInput>,
}

/// Changes to an idea's description; fields left out stay as they are. Stage moves have their
/// own mutations.
#[derive(InputObject)]
pub struct UpdateIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read; a stale version is refused with CONFLICT.
    pub version: i32,
    /// New title.
    pub title: Option<String>,
    /// New problem statement.
    pub problem: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New type.
    #[graphql(name = "type")]
    pub innovation_type: Option<InnovationType>,
    /// New form.
    pub form: Option<InnovationForm>,
    /// New affairs area.
    pub affairs_area: Option<String>,
    /// New initiator.
    pub initiator: Option<Initiator>,
    /// New maturity.
    pub maturity: Option<Maturity>,
    /// Hand the idea to another unit of the same regency.
    pub unit_id: Option<ID>,
}

/// Moves an idea one stage forward.
#[derive(InputObject)]
pub struct AdvanceIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Optional note for the audit trail.
    pub note: Option<String>,
}

/// A move that needs a reason: revert, stall, resume or drop.
#[derive(InputObject)]
pub struct MoveIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Why; recorded in the audit trail (for example "anggaran dipangkas" or "inovator dimutasi").
    pub reason: String,
}

/// Parks an active idea in its stage, with the kind of reason and a sentence.
#[derive(InputObject)]
pub struct StallIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// The kind of reason, for follow-up and the figures.
    pub reason_code: StallReason,
    /// Why, in words (for example "anggaran dipangkas pada APBD perubahan").
    pub reason: String,
}

/// Passes an idea to a new innovator.
#[derive(InputObject)]
pub struct HandOverIdeaInput {
    /// The idea.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// Who carries it from now on.
    pub to: InnovatorInput,
    /// Why (for example "inovator dimutasi ke Dinas Kesehatan").
    pub reason: String,
}

/// The idea after a hand-over, the history row and the event it recorded.
#[derive(async_graphql::SimpleObject)]
pub struct HandOverPayload {
    /// The idea with its new innovator.
    pub idea: Idea,
    /// The hand-over as the history keeps it.
    pub hand_over: HandOver,
    /// The IDEA_HANDED_OVER event.
    pub event: crate::graphql::event::PipelineEvent,
}

/// Ideas from a spreadsheet, as CSV text.
#[derive(InputObject)]
pub struct ImportIdeasInput {
    /// The lab edition to import into.
    pub cohort_id: ID,
    /// CSV with a header line. Columns (English or Indonesian headers): title/judul,
    /// unit/perangkat daerah, problem/permasalahan, type/jenis, form/bentuk,
    /// affairs_area/urusan, initiator/inisiator, submitted/tanggal (optional),
    /// description/deskripsi (optional), maturity (optional), innovator/inovator and
    /// innovator_position/jabatan (optional). Other columns are ignored, so a file from
    /// `GET /export/ideas.csv` imports as it is (the ideas enter at DIAGNOSE).
    pub csv: String,
    /// Add rows whose idea (the same title, case and spacing aside, and the same unit) is already
    /// in the cohort. By default they are left out, so importing a file again adds nothing.
    #[graphql(default = false)]
    pub allow_duplicates: bool,
}

/// The idea after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct IdeaPayload {
    /// The idea as it is now.
    pub idea: Idea,
    /// The event the change recorded.
    pub event: crate::graphql::event::PipelineEvent,
}

/// The idea after a move, its new audit row and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct IdeaMovePayload {
    /// The idea as it is now (stage, status and version changed).
    pub idea: Idea,
    /// The move as the audit trail records it.
    pub transition: StageTransition,
    /// The event the move recorded.
    pub event: crate::graphql::event::PipelineEvent,
}

/// What an import wrote.
#[derive(async_graphql::SimpleObject)]
pub struct ImportIdeasPayload {
    /// Number of ideas imported.
    pub imported: usize,
    /// Rows left out because their idea (the same title and unit) is already in the cohort: a
    /// file imported again adds nothing (see `allowDuplicates`).
    pub skipped: usize,
    /// The imported ideas, in file order.
    pub ideas: Vec<Idea>,
}

#[derive(Default)]
pub struct IdeaMutation;

impl IdeaMutation {
    async fn apply(
        ctx: &Context<'_>,
        id: &ID,
        version: i32,
        decision: entity::Decision,
        reason: crate::domain::idea::moves::MoveReason,
    ) -> Result<IdeaMovePayload> {
        let id = ids::decode(Kind::Idea, id)?;
        let written = ctx
            .data::<Domain>()?
            .move_idea(
                &crate::graphql::context::caller(ctx),
                id,
                version,
                decision,
                reason,
            )
            .await?;
        crate::graphql::context::after_write(ctx);
        let moved = written.value;
        Ok(IdeaMovePayload {
            idea: Idea::from(moved.idea),
            transition: StageTransition(moved.transition),
            event: moved.event.into(),
        })
    }
}

#[Object]
impl IdeaMutation {
    /// Enters a new idea into the pipeline at DIAGNOSE.
    async fn submit_idea(&self, ctx: &Context<'_>, input: SubmitIdeaInput) -> Result<IdeaPayload> {
        let new = crate::domain::idea::moves::NewIdea {
            cohort_id: ids::decode(Kind::Cohort, &input.cohort_id)?,
            unit_id: ids::decode(Kind::Unit, &input.unit_id)?,
            title: input.title,
            problem: input.problem,
            description: input.description,
            innovation_type: input.innovation_type.into(),
            form: input.form.into(),
            affairs_area: input.affairs_area,
            initiator: input.initiator.into(),
            maturity: input.maturity.map(Into::into),
            submitted_at: input.submitted_at,
            innovator: input.innovator.map(Into::into),
        };
        let written = ctx
            .data::<Domain>()?
            .submit_idea(&crate::graphql::context::caller(ctx), new)
            .await?;
        crate::graphql::context::after_write(ctx);
        Ok(IdeaPayload {
            idea: Idea::from(written.value),
            event: crate::graphql::context::first_event(written.events)?,
        })
    }

    /// Changes an idea's description.
    async fn update_idea(&self, ctx: &Context<'_>, input: UpdateIdeaInput) -> Result<IdeaPayload> {
        let id = ids::decode(Kind::Idea, &input.id)?;
        let changes = crate::domain::idea::moves::IdeaChanges {
            title: input.title,
            problem: input.problem,
            description: input.description,
            innovation_type: input.innovation_type.map(Into::into),
            form: input.form.map(Into::into),
            affairs_area: input.affairs_area,
            initiator: input.initiator.map(Into::into),
            maturity: input.maturity.map(Into::into),
            unit_id: ids::decode_opt(Kind::Unit, &input.unit_id)?,
        };
        let written = ctx
            .data::<Domain>()?
            .update_idea(
                &crate::graphql::context::caller(ctx),
                id,
                input.version,
                changes,
            )
            .await?;
        crate::graphql::context::after_write(ctx);
        Ok(IdeaPayload {
            idea: Idea::from(written.value),
            event: crate::graphql::context::first_event(written.events)?,
        })
    }

    /// Moves an idea one stage forward. Entering DELIVER needs a signed commitment covering
    /// the idea and sets `launchedOn`. Refused moves are INVALID_TRANSITION.
    async fn advance_idea(
        &self,
        ctx: &Context<'_>,
        input: AdvanceIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Advance,
            crate::domain::idea::moves::MoveReason {
                text: input.note,
                code: None,
            },
        )
        .await
    }

    /// Moves an idea one stage back (not before DIAGNOSE), with a reason.
    async fn revert_idea(
        &self,
        ctx: &Context<'_>,
        input: MoveIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Revert,
            crate::domain::idea::moves::MoveReason::said(input.reason),
        )
        .await
    }

    /// Parks an active idea in its stage, with the kind of reason (a budget cut, the innovator
    /// transferred…) and a sentence. Stalled ideas are followed up with `staleIdeas` and
    /// counted per reason in `funnel` and `ideaCounts(groupBy: STALL_REASON)`.
    async fn stall_idea(
        &self,
        ctx: &Context<'_>,
        input: StallIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Stall,
            crate::domain::idea::moves::MoveReason::stall(input.reason_code.into(), input.reason),
        )
        .await
    }

    /// Passes an idea to a new innovator, with the reason; the hand-over stays in the idea's
    /// history. Innovations commonly stall when their innovator is moved to another post: a
    /// hand-over keeps them carried on.
    async fn hand_over_idea(
        &self,
        ctx: &Context<'_>,
        input: HandOverIdeaInput,
    ) -> Result<HandOverPayload> {
        let id = ids::decode(Kind::Idea, &input.id)?;
        let written = ctx
            .data::<Domain>()?
            .hand_over_idea(
                &crate::graphql::context::caller(ctx),
                id,
                input.version,
                input.to.into(),
                input.reason,
            )
            .await?;
        crate::graphql::context::after_write(ctx);
        let done = written.value;
        Ok(HandOverPayload {
            idea: Idea::from(done.idea),
            hand_over: HandOver(done.hand_over),
            event: done.event.into(),
        })
    }

    /// Makes a stalled idea active again, with a reason.
    async fn resume_idea(
        &self,
        ctx: &Context<'_>,
        input: MoveIdeaInput,
    ) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Resume,
            crate::domain::idea::moves::MoveReason::said(input.reason),
        )
        .await
    }

    /// Gives an idea up for good, with a reason. A dropped idea is final.
    async fn drop_idea(&self, ctx: &Context<'_>, input: MoveIdeaInput) -> Result<IdeaMovePayload> {
        Self::apply(
            ctx,
            &input.id,
            input.version,
            entity::Decision::Drop,
            crate::domain::idea::moves::MoveReason::said(input.reason),
        )
        .await
    }

    /// Imports ideas from CSV into a cohort, all or nothing: if any line is bad, nothing is
    /// written and the error lists every bad line in `extensions.lines`. Rows whose idea is
    /// already in the cohort are left out and counted in `skipped` (unless `allowDuplicates`).
    async fn import_ideas(
        &self,
        ctx: &Context<'_>,
        input: ImportIdeasInput,
    ) -> Result<ImportIdeasPayload> {
        let cohort_id = ids::decode(Kind::Cohort, &input.cohort_id)?;
        let written = ctx
            .data::<Domain>()?
            .import_ideas(
                &crate::graphql::context::caller(ctx),
                cohort_id,
                &input.csv,
                if input.allow_duplicates {
                    Duplicates::Add
                } else {
                    Duplicates::Skip
                },
            )
            .await?;
        crate::graphql::context::after_write(ctx);
        let outcome = written.value;
        Ok(ImportIdeasPayload {
            imported: outcome.ideas.len(),
            skipped: outcome.skipped,
            ideas: outcome.ideas.into_iter().map(Idea::from).collect(),
        })
    }
}
