//! The pipeline rules: how an idea may move through the 5D stages. Pure functions, used by
//! every write and by the audit-trail replay, so the rules live in exactly one place.

use entity::{CommitmentStatus, Decision, IdeaStatus, Stage};

use crate::error::DomainError;

/// The stage a new idea enters at.
pub const ENTRY_STAGE: Stage = Stage::Diagnose;

/// Where an idea stands: its stage and whether it is active, stalled or dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdeaState {
    pub stage: Stage,
    pub status: IdeaStatus,
}

impl IdeaState {
    /// A freshly submitted idea.
    pub const SUBMITTED: IdeaState = IdeaState {
        stage: ENTRY_STAGE,
        status: IdeaStatus::Active,
    };
}

/// A refused move, with the sentence that names the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleViolation(pub String);

impl From<RuleViolation> for DomainError {
    fn from(violation: RuleViolation) -> Self {
        DomainError::InvalidTransition(violation.0)
    }
}

fn refuse<T>(sentence: impl Into<String>) -> Result<T, RuleViolation> {
    Err(RuleViolation(sentence.into()))
}

/// What entering DELIVER needs, as far as the idea has it: the launching is the commitment made
/// real, carrying out the plan it commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// A signed (or fulfilled) commitment covers the idea.
    pub signed_commitment: bool,
    /// The idea has an action plan with at least one milestone that is not dropped.
    pub planned_milestone: bool,
}

impl Readiness {
    /// Everything DELIVER needs.
    pub const READY: Readiness = Readiness {
        signed_commitment: true,
        planned_milestone: true,
    };
    /// Nothing DELIVER needs.
    pub const NOTHING: Readiness = Readiness {
        signed_commitment: false,
        planned_milestone: false,
    };

    /// Refuses with a sentence that names what is missing.
    fn check(self) -> Result<(), RuleViolation> {
        match (self.signed_commitment, self.planned_milestone) {
            (true, true) => Ok(()),
            (false, true) => refuse(
                "An idea cannot enter DELIVER without a signed commitment covering it; \
                 sign a commitment for it first.",
            ),
            (true, false) => refuse(
                "An idea cannot enter DELIVER without an action plan with at least one milestone; \
                 write its plan (writeActionPlan) first.",
            ),
            (false, false) => refuse(
                "An idea cannot enter DELIVER without a signed commitment covering it and an \
                 action plan with at least one milestone; sign a commitment for it and write its \
                 plan first.",
            ),
        }
    }
}

/// Decides where `decision` takes an idea in `state`.
///
/// `reason` must be given (not blank) for REVERT, STALL, RESUME and DROP.
/// `deliver` says what the idea has of what entering DELIVER needs.
pub fn decide(
    state: IdeaState,
    decision: Decision,
    reason: Option<&str>,
    deliver: Readiness,
) -> Result<IdeaState, RuleViolation> {
    let has_reason = reason.is_some_and(|r| !r.trim().is_empty());
    if state.status == IdeaStatus::Dropped {
        return refuse("The idea was dropped; a dropped idea is final and cannot move again.");
    }
    match decision {
        Decision::Submit => refuse("An idea is submitted once; it is already in the pipeline."),
        Decision::Advance => {
            if state.status == IdeaStatus::Stalled {
                return refuse("The idea is stalled; resume it before advancing it.");
            }
            let Some(next) = state.stage.next() else {
                return refuse("DISPLAY is the last stage; the idea cannot advance further.");
            };
            if next == Stage::Deliver {
                deliver.check()?;
            }
            Ok(IdeaState {
                stage: next,
                status: IdeaStatus::Active,
            })
        }
        Decision::Revert => {
            if state.status == IdeaStatus::Stalled {
                return refuse("The idea is stalled; resume it before moving it back.");
            }
            if !has_reason {
                return refuse("Moving an idea back a stage needs a reason.");
            }
            match state.stage.previous() {
                Some(previous) if previous >= ENTRY_STAGE => Ok(IdeaState {
                    stage: previous,
                    status: IdeaStatus::Active,
                }),
                _ => refuse("Ideas enter at DIAGNOSE; an idea cannot move back before it."),
            }
        }
        Decision::Stall => {
            if state.status == IdeaStatus::Stalled {
                return refuse("The idea is already stalled.");
            }
            if !has_reason {
                return refuse(
                    "Stalling an idea needs a reason (for example a budget cut or a transfer).",
                );
            }
            Ok(IdeaState {
                stage: state.stage,
                status: IdeaStatus::Stalled,
            })
        }
        Decision::Resume => {
            if state.status != IdeaStatus::Stalled {
                return refuse("Only a stalled idea can be resumed; this one is active.");
            }
            if !has_reason {
                return refuse("Resuming an idea needs a reason.");
            }
            Ok(IdeaState {
                stage: state.stage,
                status: IdeaStatus::Active,
            })
        }
        Decision::Drop => {
            if !has_reason {
                return refuse("Dropping an idea needs a reason.");
            }
            Ok(IdeaState {
                stage: state.stage,
                status: IdeaStatus::Dropped,
            })
        }
    }
}

/// What can be done to a commitment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentAction {
    Sign,
    Fulfill,
    Withdraw,
}

/// Decides a commitment's next status: DRAFT → SIGNED → FULFILLED, or WITHDRAWN before
/// fulfilment.
pub fn commitment_step(
    status: CommitmentStatus,
    action: CommitmentAction,
) -> Result<CommitmentStatus, RuleViolation> {
    use CommitmentStatus::{Draft, Fulfilled, Signed, Withdrawn};
    match (action, status) {
        (CommitmentAction::Sign, Draft) => Ok(Signed),
        (CommitmentAction::Sign, _) => refuse(format!(
            "Only a draft commitment can be signed; this one is {}.",
            status.as_str()
        )),
        (CommitmentAction::Fulfill, Signed) => Ok(Fulfilled),
        (CommitmentAction::Fulfill, _) => refuse(format!(
            "Only a signed commitment can be fulfilled; this one is {}.",
            status.as_str()
        )),
        (CommitmentAction::Withdraw, Draft | Signed) => Ok(Withdrawn),
        (CommitmentAction::Withdraw, _) => refuse(format!(
            "A {} commitment can no longer be withdrawn.",
            status.as_str()
        )),
    }
}

/// Whether a commitment in `status` counts as signed for the DELIVER rule.
pub fn counts_as_signed(status: CommitmentStatus) -> bool {
    matches!(
        status,
        CommitmentStatus::Signed | CommitmentStatus::Fulfilled
    )
}

/// One recorded move, as the audit trail stores it.
#[derive(Debug, Clone)]
pub struct RecordedMove<'a> {
    pub decision: Decision,
    pub from_stage: Option<Stage>,
    pub to_stage: Stage,
    pub to_status: IdeaStatus,
    pub reason: Option<&'a str>,
    /// What the idea had of what DELIVER needs when the move was made.
    pub deliver: Readiness,
}

/// Replays an audit trail from the submission and returns the state it leads to, or the first
/// move that breaks a rule or does not match what the rules say it should have done.
pub fn replay<'a>(moves: impl IntoIterator<Item = RecordedMove<'a>>) -> Result<IdeaState, String> {
    let mut moves = moves.into_iter().enumerate();
    match moves.next() {
        Some((_, first))
            if first.decision == Decision::Submit
                && first.from_stage.is_none()
                && first.to_stage == ENTRY_STAGE
                && first.to_status == IdeaStatus::Active => {}
        _ => return Err("the trail does not start with a submission into DIAGNOSE".into()),
    }
    let mut state = IdeaState::SUBMITTED;
    for (i, m) in moves {
        if m.from_stage != Some(state.stage) {
            return Err(format!(
                "move {i} starts from {:?}, not {:?}",
                m.from_stage, state.stage
            ));
        }
        let next = decide(state, m.decision, m.reason, m.deliver)
            .map_err(|v| format!("move {i} ({}) breaks a rule: {v}", m.decision.as_str()))?;
        if next.stage != m.to_stage || next.status != m.to_status {
            return Err(format!(
                "move {i} records {:?}/{:?}, the rules give {next:?}",
                m.to_stage, m.to_status
            ));
        }
        state = next;
    }
    Ok(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(stage: Stage, status: IdeaStatus) -> IdeaState {
        IdeaState { stage, status }
    }

    const ACTIVE: IdeaStatus = IdeaStatus::Active;

    #[test]
    fn advance_moves_exactly_one_stage_forward() {
        let next = decide(
            at(Stage::Diagnose, ACTIVE),
            Decision::Advance,
            None,
            Readiness::NOTHING,
        );
        assert_eq!(next, Ok(at(Stage::Design, ACTIVE)));
    }

    #[test]
    fn display_is_the_last_stage() {
        let err = decide(
            at(Stage::Display, ACTIVE),
            Decision::Advance,
            None,
            Readiness::READY,
        )
        .unwrap_err();
        assert!(err.0.contains("last stage"), "{err}");
    }

    #[test]
    fn deliver_needs_a_signed_commitment_and_a_plan_with_a_milestone() {
        let design = at(Stage::Design, ACTIVE);
        let err = decide(design, Decision::Advance, None, Readiness::NOTHING).unwrap_err();
        assert!(
            err.0.contains("signed commitment") && err.0.contains("action plan"),
            "{err}"
        );
        let unplanned = Readiness {
            planned_milestone: false,
            ..Readiness::READY
        };
        let err = decide(design, Decision::Advance, None, unplanned).unwrap_err();
        assert!(
            err.0.contains("action plan with at least one milestone"),
            "{err}"
        );
        assert!(!err.0.contains("commitment covering"), "{err}");
        let unsigned = Readiness {
            signed_commitment: false,
            ..Readiness::READY
        };
        let err = decide(design, Decision::Advance, None, unsigned).unwrap_err();
        assert!(err.0.contains("signed commitment"), "{err}");
        let ok = decide(
            at(Stage::Design, ACTIVE),
            Decision::Advance,
            None,
            Readiness::READY,
        );
        assert_eq!(ok, Ok(at(Stage::Deliver, ACTIVE)));
    }

    #[test]
    fn revert_needs_a_reason_and_stops_at_diagnose() {
        assert!(
            decide(
                at(Stage::Design, ACTIVE),
                Decision::Revert,
                None,
                Readiness::NOTHING
            )
            .is_err()
        );
        assert!(
            decide(
                at(Stage::Design, ACTIVE),
                Decision::Revert,
                Some("  "),
                Readiness::NOTHING
            )
            .is_err()
        );
        assert_eq!(
            decide(
                at(Stage::Design, ACTIVE),
                Decision::Revert,
                Some("plan too vague"),
                Readiness::NOTHING
            ),
            Ok(at(Stage::Diagnose, ACTIVE))
        );
        let err = decide(
            at(Stage::Diagnose, ACTIVE),
            Decision::Revert,
            Some("x"),
            Readiness::NOTHING,
        )
        .unwrap_err();
        assert!(err.0.contains("DIAGNOSE"), "{err}");
    }

    #[test]
    fn stall_resume_and_drop_need_reasons() {
        for decision in [Decision::Stall, Decision::Drop] {
            assert!(
                decide(
                    at(Stage::Design, ACTIVE),
                    decision,
                    None,
                    Readiness::NOTHING
                )
                .is_err()
            );
        }
        let stalled = at(Stage::Design, IdeaStatus::Stalled);
        assert!(decide(stalled, Decision::Resume, None, Readiness::NOTHING).is_err());
        assert_eq!(
            decide(
                at(Stage::Design, ACTIVE),
                Decision::Stall,
                Some("budget cut"),
                Readiness::NOTHING
            ),
            Ok(stalled)
        );
        assert_eq!(
            decide(
                stalled,
                Decision::Resume,
                Some("budget restored"),
                Readiness::NOTHING
            ),
            Ok(at(Stage::Design, ACTIVE))
        );
    }

    #[test]
    fn a_stalled_idea_must_resume_before_moving() {
        let stalled = at(Stage::Design, IdeaStatus::Stalled);
        assert!(decide(stalled, Decision::Advance, None, Readiness::READY).is_err());
        assert!(decide(stalled, Decision::Revert, Some("x"), Readiness::READY).is_err());
        assert!(decide(stalled, Decision::Stall, Some("x"), Readiness::READY).is_err());
        assert!(
            decide(
                at(Stage::Design, ACTIVE),
                Decision::Resume,
                Some("x"),
                Readiness::READY
            )
            .is_err()
        );
    }

    #[test]
    fn dropped_is_final() {
        let dropped = at(Stage::Design, IdeaStatus::Dropped);
        for decision in [
            Decision::Advance,
            Decision::Revert,
            Decision::Stall,
            Decision::Resume,
            Decision::Drop,
        ] {
            let err = decide(dropped, decision, Some("because"), Readiness::READY).unwrap_err();
            assert!(err.0.contains("final"), "{err}");
        }
    }

    #[test]
    fn commitments_go_draft_signed_fulfilled_or_withdrawn() {
        use CommitmentAction::*;
        use CommitmentStatus::*;
        assert_eq!(commitment_step(Draft, Sign), Ok(Signed));
        assert_eq!(commitment_step(Signed, Fulfill), Ok(Fulfilled));
        assert_eq!(commitment_step(Draft, Withdraw), Ok(Withdrawn));
        assert_eq!(commitment_step(Signed, Withdraw), Ok(Withdrawn));
        assert!(commitment_step(Draft, Fulfill).is_err());
        assert!(commitment_step(Signed, Sign).is_err());
        assert!(commitment_step(Fulfilled, Withdraw).is_err());
        assert!(commitment_step(Withdrawn, Sign).is_err());
    }

    #[test]
    fn replay_rejects_a_trail_that_skips_a_stage() {
        let submit = RecordedMove {
            decision: Decision::Submit,
            from_stage: None,
            to_stage: Stage::Diagnose,
            to_status: ACTIVE,
            reason: None,
            deliver: Readiness::NOTHING,
        };
        let skip = RecordedMove {
            decision: Decision::Advance,
            from_stage: Some(Stage::Diagnose),
            to_stage: Stage::Deliver,
            to_status: ACTIVE,
            reason: None,
            deliver: Readiness::READY,
        };
        assert!(replay([submit.clone(), skip]).is_err());
        assert_eq!(replay([submit]), Ok(IdeaState::SUBMITTED));
    }
}
