//! The pipeline schema: regencies, units, cohorts, ideas and their audit trail, mentors,
//! commitments and the pipeline event outbox.

#![allow(
    clippy::too_many_lines,
    reason = "a migration creates its tables in one place, in order"
)]

use sea_orm_migration::{
    prelude::*,
    schema::{
        big_integer, big_pk_auto, date, date_null, integer, integer_null, pk_auto, string_len,
        string_len_null, string_len_uniq, text, text_null, timestamp_with_time_zone,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Regency {
    Table,
    Id,
    Code,
    Name,
    Province,
    Organiser,
    MouSignedOn,
    EventSeq,
}

#[derive(DeriveIden, Clone, Copy)]
enum Unit {
    Table,
    Id,
    RegencyId,
    ParentId,
    Kind,
    Name,
    HeadTitle,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cohort {
    Table,
    Id,
    RegencyId,
    Year,
    Name,
    Stage,
}

#[derive(DeriveIden, Clone, Copy)]
enum Idea {
    Table,
    Id,
    RegencyId,
    CohortId,
    UnitId,
    Title,
    Problem,
    Description,
    InnovationType,
    Form,
    AffairsArea,
    Initiator,
    Stage,
    Status,
    StatusReason,
    Maturity,
    SubmittedAt,
    LaunchedOn,
}

#[derive(DeriveIden, Clone, Copy)]
enum StageTransition {
    Table,
    Id,
    IdeaId,
    FromStage,
    ToStage,
    ToStatus,
    Decision,
    Reason,
    Actor,
    At,
}

#[derive(DeriveIden, Clone, Copy)]
enum Mentor {
    Table,
    Id,
    Name,
    Institution,
    Team,
    Expertise,
    Contact,
}

#[derive(DeriveIden, Clone, Copy)]
enum MentorAssignment {
    Table,
    Id,
    MentorId,
    IdeaId,
    Since,
    Until,
}

#[derive(DeriveIden, Clone, Copy)]
enum Commitment {
    Table,
    Id,
    RegencyId,
    CohortId,
    UnitId,
    SignatoryName,
    SignatoryTitle,
    Counterpart,
    Target,
    DueOn,
    Status,
    SignedOn,
}

#[derive(DeriveIden, Clone, Copy)]
enum CommitmentIdea {
    Table,
    CommitmentId,
    IdeaId,
}

#[derive(DeriveIden, Clone, Copy)]
enum PipelineEvent {
    Table,
    Id,
    RegencyId,
    Seq,
    Kind,
    IdeaId,
    UnitId,
    CommitmentId,
    Stage,
    Actor,
    Payload,
    OccurredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Audit {
    Version,
    CreatedAt,
    UpdatedAt,
}

/// Version and timestamps shared by every mutable table.
fn with_audit(table: &mut TableCreateStatement) -> &mut TableCreateStatement {
    table
        .col(integer(Audit::Version).default(1))
        .col(timestamp_with_time_zone(Audit::CreatedAt))
        .col(timestamp_with_time_zone(Audit::UpdatedAt))
}

fn fk<T: IntoIden + Copy, C: IntoIden + Copy, R: IntoIden + Copy>(
    table: T,
    column: C,
    references: R,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(references, Alias::new("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn index<T: IntoIden>(name: &str, table: T, columns: &[&str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table).if_not_exists();
    for column in columns {
        index.col(Alias::new(*column));
    }
    index.clone()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                with_audit(
                    Table::create()
                        .table(Regency::Table)
                        .if_not_exists()
                        .col(pk_auto(Regency::Id))
                        .col(string_len_uniq(Regency::Code, 16))
                        .col(string_len(Regency::Name, 200))
                        .col(string_len(Regency::Province, 200))
                        .col(string_len(Regency::Organiser, 200))
                        .col(date_null(Regency::MouSignedOn))
                        .col(big_integer(Regency::EventSeq).default(0)),
                )
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                with_audit(
                    Table::create()
                        .table(Unit::Table)
                        .if_not_exists()
                        .col(pk_auto(Unit::Id))
                        .col(integer(Unit::RegencyId))
                        .col(integer_null(Unit::ParentId))
                        .col(string_len(Unit::Kind, 32))
                        .col(string_len(Unit::Name, 200))
                        .col(string_len(Unit::HeadTitle, 100))
                        .foreign_key(&mut fk(Unit::Table, Unit::RegencyId, Regency::Table))
                        .foreign_key(&mut fk(Unit::Table, Unit::ParentId, Unit::Table)),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_unit_regency_name", Unit::Table, &["regency_id", "name"])
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_unit_parent", Unit::Table, &["parent_id"]))
            .await?;

        manager
            .create_table(
                with_audit(
                    Table::create()
                        .table(Cohort::Table)
                        .if_not_exists()
                        .col(pk_auto(Cohort::Id))
                        .col(integer(Cohort::RegencyId))
                        .col(integer(Cohort::Year))
                        .col(string_len(Cohort::Name, 200))
                        .col(integer(Cohort::Stage))
                        .foreign_key(&mut fk(Cohort::Table, Cohort::RegencyId, Regency::Table)),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_cohort_regency_name",
                    Cohort::Table,
                    &["regency_id", "name"],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                with_audit(
                    Table::create()
                        .table(Idea::Table)
                        .if_not_exists()
                        .col(pk_auto(Idea::Id))
                        .col(integer(Idea::RegencyId))
                        .col(integer(Idea::CohortId))
                        .col(integer(Idea::UnitId))
                        .col(string_len(Idea::Title, 300))
                        .col(text(Idea::Problem))
                        .col(text(Idea::Description))
                        .col(string_len(Idea::InnovationType, 32))
                        .col(string_len(Idea::Form, 32))
                        .col(string_len(Idea::AffairsArea, 200))
                        .col(string_len(Idea::Initiator, 32))
                        .col(integer(Idea::Stage))
                        .col(string_len(Idea::Status, 32))
                        .col(text_null(Idea::StatusReason))
                        .col(string_len(Idea::Maturity, 32))
                        .col(timestamp_with_time_zone(Idea::SubmittedAt))
                        .col(date_null(Idea::LaunchedOn))
                        .foreign_key(&mut fk(Idea::Table, Idea::RegencyId, Regency::Table))
                        .foreign_key(&mut fk(Idea::Table, Idea::CohortId, Cohort::Table))
                        .foreign_key(&mut fk(Idea::Table, Idea::UnitId, Unit::Table)),
                )
                .to_owned(),
            )
            .await?;
        for (name, columns) in [
            ("ix_idea_regency_stage", &["regency_id", "stage"][..]),
            ("ix_idea_regency_status", &["regency_id", "status"]),
            ("ix_idea_cohort", &["cohort_id"]),
            ("ix_idea_unit", &["unit_id"]),
            ("ix_idea_submitted", &["submitted_at", "id"]),
            ("ix_idea_launched", &["launched_on"]),
            ("ix_idea_updated", &["updated_at", "id"]),
        ] {
            manager
                .create_index(index(name, Idea::Table, columns))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(StageTransition::Table)
                    .if_not_exists()
                    .col(pk_auto(StageTransition::Id))
                    .col(integer(StageTransition::IdeaId))
                    .col(integer_null(StageTransition::FromStage))
                    .col(integer(StageTransition::ToStage))
                    .col(string_len(StageTransition::ToStatus, 32))
                    .col(string_len(StageTransition::Decision, 32))
                    .col(text_null(StageTransition::Reason))
                    .col(string_len(StageTransition::Actor, 200))
                    .col(timestamp_with_time_zone(StageTransition::At))
                    .foreign_key(&mut fk(
                        StageTransition::Table,
                        StageTransition::IdeaId,
                        Idea::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_stage_transition_idea",
                StageTransition::Table,
                &["idea_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                with_audit(
                    Table::create()
                        .table(Mentor::Table)
                        .if_not_exists()
                        .col(pk_auto(Mentor::Id))
                        .col(string_len(Mentor::Name, 200))
                        .col(string_len(Mentor::Institution, 200))
                        .col(string_len_null(Mentor::Team, 200))
                        .col(text_null(Mentor::Expertise))
                        .col(string_len_null(Mentor::Contact, 200)),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_mentor_name", Mentor::Table, &["name", "institution"])
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MentorAssignment::Table)
                    .if_not_exists()
                    .col(pk_auto(MentorAssignment::Id))
                    .col(integer(MentorAssignment::MentorId))
                    .col(integer(MentorAssignment::IdeaId))
                    .col(date(MentorAssignment::Since))
                    .col(date_null(MentorAssignment::Until))
                    .foreign_key(&mut fk(
                        MentorAssignment::Table,
                        MentorAssignment::MentorId,
                        Mentor::Table,
                    ))
                    .foreign_key(&mut fk(
                        MentorAssignment::Table,
                        MentorAssignment::IdeaId,
                        Idea::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_mentor_assignment_mentor",
                MentorAssignment::Table,
                &["mentor_id", "idea_id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_mentor_assignment_idea",
                MentorAssignment::Table,
                &["idea_id"],
            ))
            .await?;

        manager
            .create_table(
                with_audit(
                    Table::create()
                        .table(Commitment::Table)
                        .if_not_exists()
                        .col(pk_auto(Commitment::Id))
                        .col(integer(Commitment::RegencyId))
                        .col(integer(Commitment::CohortId))
                        .col(integer(Commitment::UnitId))
                        .col(string_len(Commitment::SignatoryName, 200))
                        .col(string_len(Commitment::SignatoryTitle, 200))
                        .col(string_len(Commitment::Counterpart, 200))
                        .col(text(Commitment::Target))
                        .col(date_null(Commitment::DueOn))
                        .col(string_len(Commitment::Status, 32))
                        .col(date_null(Commitment::SignedOn))
                        .foreign_key(&mut fk(
                            Commitment::Table,
                            Commitment::RegencyId,
                            Regency::Table,
                        ))
                        .foreign_key(&mut fk(
                            Commitment::Table,
                            Commitment::CohortId,
                            Cohort::Table,
                        ))
                        .foreign_key(&mut fk(Commitment::Table, Commitment::UnitId, Unit::Table)),
                )
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_commitment_regency_status",
                Commitment::Table,
                &["regency_id", "status"],
            ))
            .await?;
        manager
            .create_index(index("ix_commitment_unit", Commitment::Table, &["unit_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CommitmentIdea::Table)
                    .if_not_exists()
                    .col(integer(CommitmentIdea::CommitmentId))
                    .col(integer(CommitmentIdea::IdeaId))
                    .primary_key(
                        Index::create()
                            .col(CommitmentIdea::CommitmentId)
                            .col(CommitmentIdea::IdeaId),
                    )
                    .foreign_key(&mut fk(
                        CommitmentIdea::Table,
                        CommitmentIdea::CommitmentId,
                        Commitment::Table,
                    ))
                    .foreign_key(&mut fk(
                        CommitmentIdea::Table,
                        CommitmentIdea::IdeaId,
                        Idea::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_commitment_idea_idea",
                CommitmentIdea::Table,
                &["idea_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PipelineEvent::Table)
                    .if_not_exists()
                    .col(big_pk_auto(PipelineEvent::Id))
                    .col(integer(PipelineEvent::RegencyId))
                    .col(big_integer(PipelineEvent::Seq))
                    .col(string_len(PipelineEvent::Kind, 64))
                    .col(integer_null(PipelineEvent::IdeaId))
                    .col(integer_null(PipelineEvent::UnitId))
                    .col(integer_null(PipelineEvent::CommitmentId))
                    .col(integer_null(PipelineEvent::Stage))
                    .col(string_len(PipelineEvent::Actor, 200))
                    .col(text(PipelineEvent::Payload))
                    .col(timestamp_with_time_zone(PipelineEvent::OccurredAt))
                    .foreign_key(&mut fk(
                        PipelineEvent::Table,
                        PipelineEvent::RegencyId,
                        Regency::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_pipeline_event_regency_seq",
                    PipelineEvent::Table,
                    &["regency_id", "seq"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_pipeline_event_idea",
                PipelineEvent::Table,
                &["idea_id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_pipeline_event_occurred",
                PipelineEvent::Table,
                &["occurred_at"],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PipelineEvent::Table.into_iden(),
            CommitmentIdea::Table.into_iden(),
            Commitment::Table.into_iden(),
            MentorAssignment::Table.into_iden(),
            Mentor::Table.into_iden(),
            StageTransition::Table.into_iden(),
            Idea::Table.into_iden(),
            Cohort::Table.into_iden(),
            Unit::Table.into_iden(),
            Regency::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
