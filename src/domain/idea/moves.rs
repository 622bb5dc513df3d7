//! Writing ideas: submission, edits, moves through the pipeline and mentor assignments.
//! Every move is checked by `pipeline::decide`, audited and recorded as an event.

use chrono::{DateTime, NaiveDate, Utc};
use entity::{
    Decision, IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, PipelineEventKind,
    Stage, StallReason, cohort, commitment, commitment_idea, hand_over, idea, pipeline_event,
    stage_transition,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QuerySelect, sea_query::Query,
};
use serde_json::json;

use crate::access::Caller;
use crate::domain::{
    Domain,
    pipeline::{self, IdeaState},
    write::{
        Edit, NewEvent, Target, Work, Written, lab_floor, optional_text, required_text, within_lab,
    },
};
use crate::error::{DomainError, DomainResult};

pub const TITLE_MAX: usize = 200;
pub const PROBLEM_MAX: usize = 5000;

/// A new idea, as a regency enters it.
#[derive(Debug, Clone)]
pub struct NewIdea {
    pub cohort_id: i32,
    pub unit_id: i32,
    pub title: String,
    pub problem: String,
    pub description: Option<String>,
    pub innovation_type: InnovationType,
    pub form: InnovationForm,
    pub affairs_area: String,
    pub initiator: Initiator,
    pub maturity: Option<Maturity>,
    /// Defaults to now; cannot be in the future.
    pub submitted_at: Option<DateTime<Utc>>,
    /// The person carrying the idea, if known yet.
    pub innovator: Option<Innovator>,
}

/// The person carrying an innovation in its unit: a name and a position, never an identity
/// number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Innovator {
    pub name: String,
    pub position: String,
}

/// Longest run of digits an innovator's name or position may hold: NIK (16 digits) and NIP
/// (18 digits) are personal data labinov does not keep.
pub(crate) const MAX_DIGIT_RUN: usize = 6;

/// The longest run of digits in `text`, in any script, counting through the spaces, dots,
/// dashes and slashes people write between groups of digits ("6303 0112 3456 7890").
pub fn longest_digit_run(text: &str) -> usize {
    let (mut longest, mut run) = (0, 0);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_numeric() {
            run += 1;
            longest = longest.max(run);
        } else if run > 0
            && matches!(c, ' ' | '.' | '-' | '/' | '\u{a0}')
            && chars.peek().is_some_and(|n| n.is_numeric())
        {
            // A separator inside a number: the run goes on.
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod identity_tests {
    use super::longest_digit_run;

    #[test]
    fn numbers_are_counted_through_their_separators() {
        assert_eq!(longest_digit_run("Kepala Seksi 2"), 1);
        assert_eq!(longest_digit_run("6303-0112-3456-7890"), 16);
        assert_eq!(longest_digit_run("NIK 6303 0112 3456 7890."), 16);
        assert_eq!(longest_digit_run("SK 800/123/2024"), 10);
        assert_eq!(longest_digit_run("\u{ff16}\u{ff13}\u{ff10}"), 3);
        assert_eq!(longest_digit_run("lahir 1980, 2 anak"), 4);
    }
}

/// Refuses text that holds what looks like an identity number (NIK, NIP).
pub fn no_identity_number(label: &str, text: &str, longest: usize) -> DomainResult<()> {
    let run = longest_digit_run(text);
    if run > longest {
        return Err(DomainError::bad_input(format!(
            "{label} holds a number of {run} digits, which looks like an identity number (NIK or NIP); labinov keeps only names and positions, never identity numbers."
        )));
    }
    Ok(())
}

impl Innovator {
    /// The innovator with checked, trimmed fields.
    pub fn checked(&self) -> DomainResult<Self> {
        let name = required_text("The innovator's name", &self.name, 200)?;
        let position = required_text("The innovator's position", &self.position, 200)?;
        no_identity_number("The innovator's name", &name, MAX_DIGIT_RUN)?;
        no_identity_number("The innovator's position", &position, MAX_DIGIT_RUN)?;
        Ok(Self { name, position })
    }
}

/// Changes to an idea's description; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct IdeaChanges {
    pub title: Option<String>,
    pub problem: Option<String>,
    pub description: Option<String>,
    pub innovation_type: Option<InnovationType>,
    pub form: Option<InnovationForm>,
    pub affairs_area: Option<String>,
    pub initiator: Option<Initiator>,
    pub maturity: Option<Maturity>,
    pub unit_id: Option<i32>,
}

/// Why a move is made: the sentence, and for a stall the kind of reason.
#[derive(Debug, Clone, Default)]
pub struct MoveReason {
    pub text: Option<String>,
    pub code: Option<StallReason>,
}

impl MoveReason {
    /// A reason given as a sentence only.
    pub fn said(text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            code: None,
        }
    }

    /// A stall's reason: its kind and the sentence.
    pub fn stall(code: StallReason, text: impl Into<String>) -> Self {
        Self {
            text: Some(text.into()),
            code: Some(code),
        }
    }
}

/// A committed hand-over: the idea after it, the history row and its event.
#[derive(Debug, Clone)]
pub struct HandedOver {
    pub idea: idea::Model,
    pub hand_over: hand_over::Model,
    pub event: pipeline_event::Model,
}

/// A committed move: the idea after it, its audit row and its event.
#[derive(Debug, Clone)]
pub struct Move {
    pub idea: idea::Model,
    pub transition: stage_transition::Model,
    pub event: pipeline_event::Model,
}

/// A new idea with its checked fields, ready to insert.
pub(crate) struct ReadyIdea {
    pub new: NewIdea,
    pub checked: CheckedIdea,
}

/// The checked text fields of a new idea.
pub(crate) struct CheckedIdea {
    pub title: String,
    pub problem: String,
    pub description: String,
    pub affairs_area: String,
    pub submitted_at: DateTime<Utc>,
    pub innovator: Option<Innovator>,
}

/// Checks a new idea's fields; it is submitted at `now` (or its given time, not later) to a
/// lab whose records start on `floor`.
pub(crate) fn check_new_idea(
    new: &NewIdea,
    floor: NaiveDate,
    now: DateTime<Utc>,
) -> DomainResult<CheckedIdea> {
    let submitted_at = new.submitted_at.unwrap_or(now);
    if submitted_at > now {
        return Err(DomainError::bad_input(format!(
            "The submission time ({submitted_at}) is in the future."
        )));
    }
    within_lab("The submission date", submitted_at.date_naive(), floor)?;
    Ok(CheckedIdea {
        title: required_text("The title", &new.title, TITLE_MAX)?,
        problem: required_text("The problem", &new.problem, PROBLEM_MAX)?,
        description: optional_text("The description", new.description.as_deref(), PROBLEM_MAX)?
            .unwrap_or_default(),
        affairs_area: required_text("The affairs area (urusan)", &new.affairs_area, 200)?,
        submitted_at,
        innovator: new.innovator.as_ref().map(Innovator::checked).transpose()?,
    })
}

impl Domain {
    /// Inserts checked ideas of one cohort at DIAGNOSE, each with its submission in the audit
    /// trail and an IDEA_SUBMITTED event, in batches. `submitIdea`, the CSV import and the demo
    /// loader all insert ideas this way.
    pub(crate) async fn insert_ideas(
        &self,
        work: &mut Work,
        cohort: &cohort::Model,
        ready: &[ReadyIdea],
        imported: bool,
    ) -> DomainResult<Vec<idea::Model>> {
        let now = work.now();
        let txn = &work.txn;
        let mut ideas = Vec::with_capacity(ready.len());
        for chunk in ready.chunks(400) {
            let rows = chunk.iter().map(|idea| idea::ActiveModel {
                regency_id: Set(cohort.regency_id),
                cohort_id: Set(cohort.id),
                unit_id: Set(idea.new.unit_id),
                title: Set(idea.checked.title.clone()),
                problem: Set(idea.checked.problem.clone()),
                description: Set(idea.checked.description.clone()),
                innovation_type: Set(idea.new.innovation_type),
                form: Set(idea.new.form),
                affairs_area: Set(idea.checked.affairs_area.clone()),
                initiator: Set(idea.new.initiator),
                stage: Set(pipeline::ENTRY_STAGE),
                status: Set(IdeaStatus::Active),
                status_reason: Set(None),
                stall_reason: Set(None),
                stage_entered_at: Set(idea.checked.submitted_at),
                innovator_name: Set(idea.checked.innovator.as_ref().map(|i| i.name.clone())),
                innovator_position: Set(idea
                    .checked
                    .innovator
                    .as_ref()
                    .map(|i| i.position.clone())),
                maturity: Set(idea.new.maturity.unwrap_or(Maturity::Initiative)),
                submitted_at: Set(idea.checked.submitted_at),
                launched_on: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
            let mut inserted = idea::Entity::insert_many(rows)
                .exec_with_returning(txn)
                .await?;
            inserted.sort_by_key(|i| i.id);
            ideas.extend(inserted);
        }
        for chunk in ideas.chunks(500) {
            stage_transition::Entity::insert_many(chunk.iter().map(|i| {
                stage_transition::ActiveModel {
                    idea_id: Set(i.id),
                    from_stage: Set(None),
                    to_stage: Set(pipeline::ENTRY_STAGE),
                    to_status: Set(IdeaStatus::Active),
                    decision: Set(Decision::Submit),
                    reason: Set(None),
                    reason_code: Set(None),
                    actor: Set(work.caller.actor().to_owned()),
                    at: Set(i.submitted_at),
                    ..Default::default()
                }
            }))
            .exec(txn)
            .await?;
        }
        let events: Vec<NewEvent> = ideas
            .iter()
            .map(|i| {
                let mut payload = json!({ "title": i.title, "to": i.stage.as_str(), "status": i.status.as_str() });
                if imported {
                    payload["import"] = json!(true);
                }
                NewEvent {
                    idea_id: Some(i.id),
                    unit_id: Some(i.unit_id),
                    stage: Some(i.stage),
                    payload,
                    ..NewEvent::about(i.regency_id, PipelineEventKind::IdeaSubmitted)
                }
            })
            .collect();
        self.record_events(work, cohort.regency_id, events).await?;
        Ok(ideas)
    }

    /// Submits a new idea; it enters the pipeline at DIAGNOSE.
    pub async fn submit_idea(
        &self,
        caller: &Caller,
        new: NewIdea,
    ) -> DomainResult<Written<idea::Model>> {
        self.write(caller, async |work| self.submit_idea_in(work, new).await)
            .await
    }

    pub(crate) async fn submit_idea_in(
        &self,
        work: &mut Work,
        new: NewIdea,
    ) -> DomainResult<idea::Model> {
        let cohort = self.cohort_in(&work.txn, new.cohort_id).await?;
        work.caller.check_write(Some(cohort.regency_id), "cohort")?;
        let regency = self.regency_in(&work.txn, cohort.regency_id).await?;
        let checked = check_new_idea(&new, lab_floor(&regency, cohort.year), work.now())?;
        self.unit_of_regency(&work.txn, new.unit_id, cohort.regency_id)
            .await?;
        let ready = [ReadyIdea { new, checked }];
        let mut rows = self.insert_ideas(work, &cohort, &ready, false).await?;
        rows.pop()
            .ok_or_else(|| DomainError::Internal(anyhow::anyhow!("an idea insert returned no row")))
    }

    /// Edits an idea's description (not its stage: moves have their own mutations).
    pub async fn update_idea(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        changes: IdeaChanges,
    ) -> DomainResult<Written<idea::Model>> {
        self.write(caller, async |work| {
            self.update_idea_in(work, id, version, changes).await
        })
        .await
    }

    pub(crate) async fn update_idea_in(
        &self,
        work: &mut Work,
        id: i32,
        version: i32,
        changes: IdeaChanges,
    ) -> DomainResult<idea::Model> {
        let target = Target {
            id,
            version,
            what: "idea",
        };
        self.update_versioned::<idea::Entity, _>(
            work,
            target,
            async |work, current| {
                let mut row: idea::ActiveModel = current.clone().into();
                if let Some(title) = &changes.title {
                    row.title = Set(required_text("The title", title, TITLE_MAX)?);
                }
                if let Some(problem) = &changes.problem {
                    row.problem = Set(required_text("The problem", problem, PROBLEM_MAX)?);
                }
                if let Some(description) = &changes.description {
                    row.description =
                        Set(
                            optional_text("The description", Some(description), PROBLEM_MAX)?
                                .unwrap_or_default(),
                        );
                }
                if let Some(area) = &changes.affairs_area {
                    row.affairs_area = Set(required_text("The affairs area (urusan)", area, 200)?);
                }
                if let Some(v) = changes.innovation_type {
                    row.innovation_type = Set(v);
                }
                if let Some(v) = changes.form {
                    row.form = Set(v);
                }
                if let Some(v) = changes.initiator {
                    row.initiator = Set(v);
                }
                if let Some(v) = changes.maturity {
                    row.maturity = Set(v);
                }
                if let Some(unit_id) = changes.unit_id {
                    self.unit_of_regency(&work.txn, unit_id, current.regency_id)
                        .await?;
                    row.unit_id = Set(unit_id);
                }
                Ok(Edit::new(row))
            },
            async |work, _, updated| {
                self.record_event(
                    work,
                    NewEvent {
                        idea_id: Some(id),
                        unit_id: Some(updated.unit_id),
                        stage: Some(updated.stage),
                        payload: json!({ "title": updated.title, "version": updated.version }),
                        ..NewEvent::about(updated.regency_id, PipelineEventKind::IdeaUpdated)
                    },
                )
                .await?;
                Ok(updated)
            },
        )
        .await
    }

    /// Whether a signed (or fulfilled) commitment covers the idea.
    async fn covered_by_signed_commitment(
        &self,
        txn: &DatabaseTransaction,
        idea_id: i32,
    ) -> DomainResult<bool> {
        let signed = commitment::Entity::find()
            .select_only()
            .column(commitment::Column::Id)
            .filter(
                commitment::Column::Status.is_in(
                    entity::CommitmentStatus::all()
                        .into_iter()
                        .filter(|s| pipeline::counts_as_signed(*s)),
                ),
            )
            .filter(
                commitment::Column::Id.in_subquery(
                    Query::select()
                        .column(commitment_idea::Column::CommitmentId)
                        .from(commitment_idea::Entity)
                        .and_where(commitment_idea::Column::IdeaId.eq(idea_id))
                        .to_owned(),
                ),
            )
            .into_tuple::<i32>()
            .one(txn)
            .await?;
        Ok(signed.is_some())
    }

    /// Moves an idea by `decision` (ADVANCE, REVERT, STALL, RESUME or DROP) if the rules allow.
    /// A stall takes the kind of its reason (`code`) besides the sentence.
    pub async fn move_idea(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        decision: Decision,
        reason: MoveReason,
    ) -> DomainResult<Written<Move>> {
        self.write(caller, async |work| {
            self.move_idea_in(work, id, version, decision, reason).await
        })
        .await
    }

    pub(crate) async fn move_idea_in(
        &self,
        work: &mut Work,
        id: i32,
        version: i32,
        decision: Decision,
        reason: MoveReason,
    ) -> DomainResult<Move> {
        let asked = AskedMove::checked(decision, &reason)?;
        let target = Target {
            id,
            version,
            what: "idea",
        };
        self.update_versioned::<idea::Entity, _>(
            work,
            target,
            async |work, current| self.apply_move(work, current, &asked).await,
            async |work, current, updated| self.record_move(work, current, updated, &asked).await,
        )
        .await
    }

    /// The idea's row after the move `asked`, if the pipeline's rules allow it. Entering DELIVER
    /// needs a signed commitment and a planned milestone, so only then are they looked for.
    async fn apply_move(
        &self,
        work: &Work,
        current: &idea::Model,
        asked: &AskedMove,
    ) -> DomainResult<Edit<idea::ActiveModel>> {
        let state = IdeaState {
            stage: current.stage,
            status: current.status,
        };
        let entering_deliver =
            asked.decision == Decision::Advance && current.stage.next() == Some(Stage::Deliver);
        let readiness = if entering_deliver {
            pipeline::Readiness {
                signed_commitment: self
                    .covered_by_signed_commitment(&work.txn, current.id)
                    .await?,
                planned_milestone: has_planned_milestone(&work.txn, current.id).await?,
            }
        } else {
            pipeline::Readiness::NOTHING
        };
        let next = pipeline::decide(state, asked.decision, asked.reason.as_deref(), readiness)?;
        Ok(Edit::new(moved_row(work, current, next, asked)))
    }

    /// Records a move in the idea's audit trail and as an event.
    async fn record_move(
        &self,
        work: &mut Work,
        current: &idea::Model,
        updated: idea::Model,
        asked: &AskedMove,
    ) -> DomainResult<Move> {
        let transition = stage_transition::ActiveModel {
            idea_id: Set(updated.id),
            from_stage: Set(Some(current.stage)),
            to_stage: Set(updated.stage),
            to_status: Set(updated.status),
            decision: Set(asked.decision),
            reason: Set(asked.reason.clone()),
            reason_code: Set(asked.code),
            actor: Set(work.caller.actor().to_owned()),
            at: Set(work.now()),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        let event = self
            .record_event(
                work,
                NewEvent {
                    idea_id: Some(updated.id),
                    unit_id: Some(updated.unit_id),
                    stage: Some(updated.stage),
                    payload: json!({
                        "from": current.stage.as_str(),
                        "to": updated.stage.as_str(),
                        "status": updated.status.as_str(),
                        "reason": asked.reason,
                        "reasonCode": asked.code.map(StallReason::as_str),
                        "version": updated.version,
                    }),
                    ..NewEvent::about(updated.regency_id, event_kind(asked.decision))
                },
            )
            .await?;
        Ok(Move {
            idea: updated,
            transition,
            event,
        })
    }
}

/// A move as asked for, its reason checked.
struct AskedMove {
    decision: Decision,
    reason: Option<String>,
    /// The kind of reason, given for a stall and only then.
    code: Option<StallReason>,
}

impl AskedMove {
    /// Checks `reason` for `decision`: a stall needs the kind of its reason, other moves take
    /// none; the sentence is bounded in length.
    fn checked(decision: Decision, reason: &MoveReason) -> DomainResult<Self> {
        let code = match (decision, reason.code) {
            (Decision::Stall, None) => {
                return Err(DomainError::bad_input(
                    "A stall needs a reason code (BUDGET, INNOVATOR_TRANSFERRED, LEADERSHIP_CHANGE, REGULATION, PARTNER_WITHDREW or OTHER) besides the sentence.",
                ));
            }
            (Decision::Stall, code) => code,
            (_, Some(_)) => {
                return Err(DomainError::bad_input(
                    "A reason code is given only when an idea stalls.",
                ));
            }
            (_, None) => None,
        };
        Ok(Self {
            decision,
            reason: optional_text("The reason", reason.text.as_deref(), 2000)?,
            code,
        })
    }
}

/// The idea's row moved from `current` to `next`: the reason is kept while the idea is not
/// active and the kind of reason while it is stalled; entering a stage restarts its clock,
/// entering DELIVER from DESIGN sets the launch day, and falling back before DELIVER clears it.
fn moved_row(
    work: &Work,
    current: &idea::Model,
    next: IdeaState,
    asked: &AskedMove,
) -> idea::ActiveModel {
    let mut row: idea::ActiveModel = current.clone().into();
    row.stage = Set(next.stage);
    row.status = Set(next.status);
    row.status_reason = Set(match next.status {
        IdeaStatus::Active => None,
        _ => asked.reason.clone(),
    });
    row.stall_reason = Set(match next.status {
        IdeaStatus::Stalled => asked.code,
        _ => None,
    });
    if next.stage != current.stage {
        row.stage_entered_at = Set(work.now());
    }
    if next.stage == Stage::Deliver && current.stage == Stage::Design {
        row.launched_on = Set(Some(work.today()));
    }
    if next.stage < Stage::Deliver {
        row.launched_on = Set(None);
    }
    row
}

impl Domain {
    /// Passes an idea to a new innovator, with the reason (the innovator was transferred, for
    /// example); the hand-over is kept in the idea's history. A dropped idea is final.
    pub async fn hand_over_idea(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        to: Innovator,
        reason: String,
    ) -> DomainResult<Written<HandedOver>> {
        self.write(caller, async |work| {
            self.hand_over_idea_in(work, id, version, to, reason).await
        })
        .await
    }

    pub(crate) async fn hand_over_idea_in(
        &self,
        work: &mut Work,
        id: i32,
        version: i32,
        to: Innovator,
        reason: String,
    ) -> DomainResult<HandedOver> {
        let to = to.checked()?;
        let reason = required_text("The reason of a hand-over", &reason, 2000)?;
        // A NIK has 16 digits: shorter numbers (a decree's number, a year) are fine here.
        no_identity_number("The reason of a hand-over", &reason, 15)?;
        let target = Target {
            id,
            version,
            what: "idea",
        };
        self.update_versioned::<idea::Entity, _>(
            work,
            target,
            async |_, current| {
                if current.status == IdeaStatus::Dropped {
                    return Err(DomainError::InvalidTransition(
                        "The idea is DROPPED, which is final; it cannot be handed over.".to_owned(),
                    ));
                }
                if current.innovator_name.as_deref() == Some(to.name.as_str())
                    && current.innovator_position.as_deref() == Some(to.position.as_str())
                {
                    return Err(DomainError::bad_input(format!(
                        "{} ({}) already carries this idea; hand it over to someone else.",
                        to.name, to.position
                    )));
                }
                let mut row: idea::ActiveModel = current.clone().into();
                row.innovator_name = Set(Some(to.name.clone()));
                row.innovator_position = Set(Some(to.position.clone()));
                Ok(Edit::new(row))
            },
            async |work, current, updated| {
                let hand_over = hand_over::ActiveModel {
                    idea_id: Set(id),
                    from_name: Set(current.innovator_name.clone()),
                    from_position: Set(current.innovator_position.clone()),
                    to_name: Set(to.name.clone()),
                    to_position: Set(to.position.clone()),
                    reason: Set(reason.clone()),
                    actor: Set(work.caller.actor().to_owned()),
                    at: Set(work.now()),
                    ..Default::default()
                }
                .insert(&work.txn)
                .await?;
                let event = self
                    .record_event(
                        work,
                        NewEvent {
                            idea_id: Some(id),
                            unit_id: Some(updated.unit_id),
                            stage: Some(updated.stage),
                            payload: json!({
                                "title": updated.title,
                                "from": current.innovator_name,
                                "to": to.name,
                                "position": to.position,
                                "reason": reason,
                                "version": updated.version,
                            }),
                            ..NewEvent::about(updated.regency_id, PipelineEventKind::IdeaHandedOver)
                        },
                    )
                    .await?;
                Ok(HandedOver {
                    idea: updated,
                    hand_over,
                    event,
                })
            },
        )
        .await
    }
}

/// The event kind of a decision.
pub fn event_kind(decision: Decision) -> PipelineEventKind {
    match decision {
        Decision::Submit => PipelineEventKind::IdeaSubmitted,
        Decision::Advance => PipelineEventKind::IdeaAdvanced,
        Decision::Revert => PipelineEventKind::IdeaReverted,
        Decision::Stall => PipelineEventKind::IdeaStalled,
        Decision::Resume => PipelineEventKind::IdeaResumed,
        Decision::Drop => PipelineEventKind::IdeaDropped,
    }
}

/// Whether the idea has an action plan with at least one milestone that is not dropped (what
/// entering DELIVER needs besides the signed commitment).
async fn has_planned_milestone(txn: &DatabaseTransaction, idea_id: i32) -> DomainResult<bool> {
    let found = entity::milestone::Entity::find()
        .select_only()
        .column(entity::milestone::Column::Id)
        .filter(entity::milestone::Column::IdeaId.eq(idea_id))
        .filter(entity::milestone::Column::Status.ne(entity::MilestoneStatus::Dropped))
        .into_tuple::<i32>()
        .one(txn)
        .await?;
    Ok(found.is_some())
}
