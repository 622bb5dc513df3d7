//! The persistence model of labinov: sea-orm entities and the enums they store.
//! No GraphQL here; the server converts these models into its API types.

pub mod action_plan;
pub mod action_plan_revision;
pub mod cohort;
pub mod commitment;
pub mod commitment_idea;
pub mod enums;
pub mod evidence;
pub mod evidence_blob;
pub mod hand_over;
pub mod idea;
pub mod mentor;
pub mod mentor_assignment;
pub mod milestone;
pub mod milestone_comment;
pub mod pipeline_event;
pub mod regency;
pub mod review;
pub mod stage_transition;
pub mod unit;

pub use enums::*;
