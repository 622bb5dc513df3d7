//! GraphQL mirrors of the stored enums (the entity crate knows nothing of GraphQL).

use async_graphql::Enum;

/// LAN's five innovation-lab stages ("5D"), in pipeline order.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::Stage")]
pub enum Stage {
    /// Inspire and build the will to innovate.
    DrumUp,
    /// Find problems and collect ideas. New ideas enter here.
    Diagnose,
    /// Write an action plan per idea.
    Design,
    /// Launch and implement; gather evidence. Needs a signed commitment.
    Deliver,
    /// Showcase, expo and documentation. The last stage.
    Display,
}

/// Whether an idea is moving, parked or given up.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::IdeaStatus")]
pub enum IdeaStatus {
    /// Moving through the pipeline.
    Active,
    /// Parked with a reason (a budget cut, the innovator transferred); can resume.
    Stalled,
    /// Given up with a reason; final.
    Dropped,
}

/// Innovation type as the Indeks Inovasi Daerah classifies it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::InnovationType")]
pub enum InnovationType {
    /// Relies on digital technology.
    Digital,
    /// Works without digital technology.
    NonDigital,
}

/// Innovation form as the Indeks Inovasi Daerah classifies it.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::InnovationForm")]
pub enum InnovationForm {
    /// Government administration (tata kelola pemerintahan).
    Governance,
    /// Public service (pelayanan publik).
    PublicService,
    /// Other regional innovation.
    Other,
}

/// Maturity of an innovation: inisiatif, uji coba, penerapan.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::Maturity")]
pub enum Maturity {
    /// Inisiatif: an idea not yet tried.
    Initiative,
    /// Uji coba: being trialled.
    Trial,
    /// Penerapan: applied in daily work.
    Applied,
}

/// Who started an innovation.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::Initiator")]
pub enum Initiator {
    /// The regional head (bupati/wali kota).
    RegionalHead,
    /// The regional parliament.
    Dprd,
    /// A work unit (perangkat daerah).
    WorkUnit,
    /// An individual civil servant (ASN).
    CivilServant,
    /// The community.
    Community,
}

/// Kind of regional government unit.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::UnitKind")]
pub enum UnitKind {
    /// Regional or parliament secretariat.
    Secretariat,
    /// Dinas (agency).
    Dinas,
    /// Badan (board).
    Badan,
    /// Inspektorat.
    Inspectorate,
    /// Kecamatan (district), led by a Camat.
    Kecamatan,
    /// Kelurahan (urban ward), led by a Lurah.
    Kelurahan,
    /// Desa (village).
    Desa,
    /// Puskesmas (community health centre).
    Puskesmas,
    /// Regional hospital.
    Rsud,
    /// Technical implementation unit.
    Uptd,
    /// Regionally owned enterprise.
    Bumd,
    /// Community organisation.
    Community,
}

/// The decision a stage transition records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::Decision")]
pub enum Decision {
    /// The idea entered the pipeline at DIAGNOSE.
    Submit,
    /// One stage forward.
    Advance,
    /// One stage back, with a reason.
    Revert,
    /// Parked, with a reason.
    Stall,
    /// Back from stalled, with a reason.
    Resume,
    /// Given up, with a reason; final.
    Drop,
}

/// Why an innovation stalled.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::StallReason")]
pub enum StallReason {
    /// The budget was cut or refocused.
    Budget,
    /// The innovator was moved to another post (mutasi).
    InnovatorTransferred,
    /// The unit's head or the regional head changed.
    LeadershipChange,
    /// A regulation is missing or stands in the way.
    Regulation,
    /// A partner (a BUMD, a company, a university) withdrew.
    PartnerWithdrew,
    /// Another reason; the sentence says which.
    Other,
}

/// A mentor's recommendation in a review.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::Recommendation")]
pub enum Recommendation {
    /// Move the idea on.
    Advance,
    /// Rework it before it moves on.
    Revise,
    /// Give it up.
    Drop,
}

/// Life cycle of a commitment.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::CommitmentStatus")]
pub enum CommitmentStatus {
    /// Written, not yet signed.
    Draft,
    /// Signed by the unit head and the regent.
    Signed,
    /// The committed innovation was delivered.
    Fulfilled,
    /// Withdrawn before fulfilment.
    Withdrawn,
}

/// How far a milestone of an action plan got.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::MilestoneStatus")]
pub enum MilestoneStatus {
    /// Not started.
    Planned,
    /// Under way.
    InProgress,
    /// Done, on its done date.
    Done,
    /// Given up; it no longer counts towards the plan's progress.
    Dropped,
}

/// What a pipeline event records.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::PipelineEventKind")]
pub enum PipelineEventKind {
    /// A regency was registered.
    RegencyCreated,
    /// A regency's details changed.
    RegencyUpdated,
    /// A unit was added to a regency.
    UnitCreated,
    /// A unit's details changed.
    UnitUpdated,
    /// A lab edition was opened.
    CohortCreated,
    /// A lab edition's details or stage changed.
    CohortUpdated,
    /// An idea entered the pipeline at DIAGNOSE.
    IdeaSubmitted,
    /// An idea's description changed.
    IdeaUpdated,
    /// An idea moved one stage forward.
    IdeaAdvanced,
    /// An idea went one stage back.
    IdeaReverted,
    /// An idea was parked with a reason.
    IdeaStalled,
    /// A parked idea moved again.
    IdeaResumed,
    /// An idea was given up for good.
    IdeaDropped,
    /// A mentor reviewed an idea on the rubric.
    IdeaReviewed,
    /// An idea passed to a new innovator.
    IdeaHandedOver,
    /// A mentor began coaching an idea.
    MentorAssigned,
    /// A mentor stopped coaching an idea.
    MentorUnassigned,
    /// A commitment was drafted.
    CommitmentCreated,
    /// A commitment was signed with the regent.
    CommitmentSigned,
    /// A commitment's target was met.
    CommitmentFulfilled,
    /// A commitment was withdrawn.
    CommitmentWithdrawn,
    /// An idea's action plan was written or changed (a new version).
    ActionPlanWritten,
    /// A milestone of an idea's action plan was done.
    MilestoneDone,
    /// A mentor wrote in the coaching log of a milestone.
    MilestoneCommented,
    /// A file was attached to an idea as evidence.
    EvidenceAdded,
    /// An evidence file was removed from an idea.
    EvidenceRemoved,
}
