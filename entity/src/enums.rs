//! Closed vocabularies of the domain, stored as readable text (the 5D stage as its rank, so
//! that ordering and "at or past a stage" are plain integer comparisons in SQL).

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// LAN's five lab stages ("5D"), in pipeline order. Stored as the rank 1..=5.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
)]
#[sea_orm(rs_type = "i32", db_type = "Integer")]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Stage {
    #[sea_orm(num_value = 1)]
    DrumUp,
    #[sea_orm(num_value = 2)]
    Diagnose,
    #[sea_orm(num_value = 3)]
    Design,
    #[sea_orm(num_value = 4)]
    Deliver,
    #[sea_orm(num_value = 5)]
    Display,
}

impl Stage {
    /// All stages in pipeline order.
    pub const ALL: [Stage; 5] = [
        Stage::DrumUp,
        Stage::Diagnose,
        Stage::Design,
        Stage::Deliver,
        Stage::Display,
    ];

    /// The stage's position in the pipeline, 1 for DRUM_UP to 5 for DISPLAY.
    pub fn rank(self) -> i32 {
        self as i32 + 1
    }

    /// The stage after this one, if any.
    pub fn next(self) -> Option<Stage> {
        Self::ALL.get(self as usize + 1).copied()
    }

    /// The stage before this one, if any.
    pub fn previous(self) -> Option<Stage> {
        (self as usize).checked_sub(1).map(|i| Self::ALL[i])
    }

    /// The name clients see, e.g. `DELIVER`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::DrumUp => "DRUM_UP",
            Stage::Diagnose => "DIAGNOSE",
            Stage::Design => "DESIGN",
            Stage::Deliver => "DELIVER",
            Stage::Display => "DISPLAY",
        }
    }
}

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
        )]
        #[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
        pub enum $name {
            $($(#[$vmeta])* #[sea_orm(string_value = $text)] #[serde(rename = $text)] $variant,)+
        }

        impl $name {
            /// The name clients see and the database stores.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Parses the stored or client-facing name.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }

            /// Every value, in declaration order.
            pub fn all() -> Vec<Self> {
                vec![$($name::$variant),+]
            }
        }
    };
}

text_enum!(
    /// Whether an idea is moving, parked with a reason, or given up for good.
    IdeaStatus { Active = "ACTIVE", Stalled = "STALLED", Dropped = "DROPPED" }
);

text_enum!(
    /// Indeks Inovasi Daerah type.
    InnovationType { Digital = "DIGITAL", NonDigital = "NON_DIGITAL" }
);

text_enum!(
    /// Indeks Inovasi Daerah form.
    InnovationForm { Governance = "GOVERNANCE", PublicService = "PUBLIC_SERVICE", Other = "OTHER" }
);

text_enum!(
    /// Indeks Inovasi Daerah maturity: inisiatif, uji coba, penerapan.
    Maturity { Initiative = "INITIATIVE", Trial = "TRIAL", Applied = "APPLIED" }
);

text_enum!(
    /// Who started an innovation (Indeks Inovasi Daerah).
    Initiator {
        RegionalHead = "REGIONAL_HEAD",
        Dprd = "DPRD",
        WorkUnit = "WORK_UNIT",
        CivilServant = "CIVIL_SERVANT",
        Community = "COMMUNITY",
    }
);

text_enum!(
    /// Kind of regional government unit (perangkat daerah).
    UnitKind {
        Secretariat = "SECRETARIAT",
        Dinas = "DINAS",
        Badan = "BADAN",
        Inspectorate = "INSPECTORATE",
        Kecamatan = "KECAMATAN",
        Kelurahan = "KELURAHAN",
        Desa = "DESA",
        Puskesmas = "PUSKESMAS",
        Rsud = "RSUD",
        Uptd = "UPTD",
        Bumd = "BUMD",
        Community = "COMMUNITY",
    }
);

text_enum!(
    /// The decision recorded by a stage transition.
    Decision {
        Submit = "SUBMIT",
        Advance = "ADVANCE",
        Revert = "REVERT",
        Stall = "STALL",
        Resume = "RESUME",
        Drop = "DROP",
    }
);

text_enum!(
    /// Why an innovation stalled: the known causes regional innovations stall for.
    StallReason {
        Budget = "BUDGET",
        InnovatorTransferred = "INNOVATOR_TRANSFERRED",
        LeadershipChange = "LEADERSHIP_CHANGE",
        Regulation = "REGULATION",
        PartnerWithdrew = "PARTNER_WITHDREW",
        Other = "OTHER",
    }
);

text_enum!(
    /// A mentor's recommendation in a review.
    Recommendation { Advance = "ADVANCE", Revise = "REVISE", Drop = "DROP" }
);

text_enum!(
    /// Life cycle of a commitment: DRAFT → SIGNED → FULFILLED, or WITHDRAWN.
    CommitmentStatus {
        Draft = "DRAFT",
        Signed = "SIGNED",
        Fulfilled = "FULFILLED",
        Withdrawn = "WITHDRAWN",
    }
);

text_enum!(
    /// How far a milestone of an action plan got.
    MilestoneStatus {
        Planned = "PLANNED",
        InProgress = "IN_PROGRESS",
        Done = "DONE",
        Dropped = "DROPPED",
    }
);

text_enum!(
    /// What a pipeline event records.
    PipelineEventKind {
        RegencyCreated = "REGENCY_CREATED",
        RegencyUpdated = "REGENCY_UPDATED",
        UnitCreated = "UNIT_CREATED",
        UnitUpdated = "UNIT_UPDATED",
        CohortCreated = "COHORT_CREATED",
        CohortUpdated = "COHORT_UPDATED",
        IdeaSubmitted = "IDEA_SUBMITTED",
        IdeaUpdated = "IDEA_UPDATED",
        IdeaAdvanced = "IDEA_ADVANCED",
        IdeaReverted = "IDEA_REVERTED",
        IdeaStalled = "IDEA_STALLED",
        IdeaResumed = "IDEA_RESUMED",
        IdeaDropped = "IDEA_DROPPED",
        IdeaReviewed = "IDEA_REVIEWED",
        IdeaHandedOver = "IDEA_HANDED_OVER",
        MentorAssigned = "MENTOR_ASSIGNED",
        MentorUnassigned = "MENTOR_UNASSIGNED",
        CommitmentCreated = "COMMITMENT_CREATED",
        CommitmentSigned = "COMMITMENT_SIGNED",
        CommitmentFulfilled = "COMMITMENT_FULFILLED",
        CommitmentWithdrawn = "COMMITMENT_WITHDRAWN",
        ActionPlanWritten = "ACTION_PLAN_WRITTEN",
        MilestoneDone = "MILESTONE_DONE",
        MilestoneCommented = "MILESTONE_COMMENTED",
        EvidenceAdded = "EVIDENCE_ADDED",
        EvidenceRemoved = "EVIDENCE_REMOVED",
    }
);

impl PipelineEventKind {
    /// Whether an event of this kind can change a funnel (ideas, commitments, and the action
    /// plans' milestones counted per stage).
    pub fn affects_funnel(self) -> bool {
        let text = self.as_str();
        text.starts_with("IDEA_")
            || text.starts_with("COMMITMENT_")
            || matches!(self, Self::ActionPlanWritten | Self::MilestoneDone)
    }
}
