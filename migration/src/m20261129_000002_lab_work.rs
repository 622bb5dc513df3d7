//! The lab's own work: mentor reviews on a cohort's rubric, stall reason codes, the time an
//! idea entered its stage, innovators and their hand-overs.

#![allow(
    clippy::too_many_lines,
    reason = "a migration creates its tables in one place, in order"
)]

use sea_orm_migration::{
    prelude::*,
    schema::{
        integer, pk_auto, string_len, string_len_null, text, text_null, timestamp_with_time_zone,
        timestamp_with_time_zone_null,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Idea {
    Table,
    StallReason,
    StageEnteredAt,
    InnovatorName,
    InnovatorPosition,
}

#[derive(DeriveIden, Clone, Copy)]
enum Cohort {
    Table,
    Rubric,
}

#[derive(DeriveIden, Clone, Copy)]
enum StageTransition {
    Table,
    ReasonCode,
}

#[derive(DeriveIden, Clone, Copy)]
enum Review {
    Table,
    Id,
    IdeaId,
    MentorId,
    Stage,
    Recommendation,
    Scores,
    Total,
    Comment,
    CreatedAt,
    SupersededAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum HandOver {
    Table,
    Id,
    IdeaId,
    FromName,
    FromPosition,
    ToName,
    ToPosition,
    Reason,
    Actor,
    At,
}

/// A foreign key from `table.column` to `references.id` that refuses deleting the referenced row.
fn restrict(
    table: impl IntoIden,
    column: impl IntoIden,
    references: impl IntoIden,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(references, Alias::new("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

/// An index on two columns of `table`.
fn index(
    name: &str,
    table: impl IntoIden,
    first: impl IntoIden,
    second: impl IntoIden,
) -> IndexCreateStatement {
    Index::create()
        .name(name)
        .table(table)
        .col(first)
        .col(second)
        .if_not_exists()
        .to_owned()
}

/// Adds one column; SQLite takes one column per ALTER TABLE.
async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    column: &mut ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column_if_not_exists(column)
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        add_column(
            manager,
            Idea::Table,
            &mut string_len_null(Idea::StallReason, 32),
        )
        .await?;
        // A constant placeholder (SQLite adds NOT NULL columns only with one), replaced below.
        add_column(
            manager,
            Idea::Table,
            timestamp_with_time_zone(Idea::StageEnteredAt).default("2000-01-01T00:00:00Z"),
        )
        .await?;
        add_column(
            manager,
            Idea::Table,
            &mut string_len_null(Idea::InnovatorName, 200),
        )
        .await?;
        add_column(
            manager,
            Idea::Table,
            &mut string_len_null(Idea::InnovatorPosition, 200),
        )
        .await?;
        add_column(manager, Cohort::Table, &mut text_null(Cohort::Rubric)).await?;
        add_column(
            manager,
            StageTransition::Table,
            &mut string_len_null(StageTransition::ReasonCode, 32),
        )
        .await?;

        // An idea entered its stage with its last submission, advance or revert.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE idea SET stage_entered_at = COALESCE(\
                   (SELECT MAX(t.at) FROM stage_transition t WHERE t.idea_id = idea.id \
                      AND t.decision IN ('SUBMIT', 'ADVANCE', 'REVERT')), \
                   submitted_at)",
            )
            .await?;
        // Stalls recorded before reason codes existed are classified as OTHER.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE idea SET stall_reason = 'OTHER' WHERE status = 'STALLED' AND stall_reason IS NULL",
            )
            .await?;
        manager
            .create_index(index(
                "ix_idea_stage_entered",
                Idea::Table,
                Idea::StageEnteredAt,
                Alias::new("id"),
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Review::Table)
                    .if_not_exists()
                    .col(pk_auto(Review::Id))
                    .col(integer(Review::IdeaId))
                    .col(integer(Review::MentorId))
                    .col(integer(Review::Stage))
                    .col(string_len(Review::Recommendation, 32))
                    .col(text(Review::Scores))
                    .col(integer(Review::Total))
                    .col(text_null(Review::Comment))
                    .col(timestamp_with_time_zone(Review::CreatedAt))
                    .col(timestamp_with_time_zone_null(Review::SupersededAt))
                    .foreign_key(&mut restrict(Review::Table, Review::IdeaId, Idea::Table))
                    .foreign_key(&mut restrict(
                        Review::Table,
                        Review::MentorId,
                        Alias::new("mentor"),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_review_idea",
                Review::Table,
                Review::IdeaId,
                Review::Id,
            ))
            .await?;
        // One current review per mentor, idea and stage, whatever two writers race to do.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS ux_review_current \
                 ON review (idea_id, mentor_id, stage) WHERE superseded_at IS NULL",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(HandOver::Table)
                    .if_not_exists()
                    .col(pk_auto(HandOver::Id))
                    .col(integer(HandOver::IdeaId))
                    .col(string_len_null(HandOver::FromName, 200))
                    .col(string_len_null(HandOver::FromPosition, 200))
                    .col(string_len(HandOver::ToName, 200))
                    .col(string_len(HandOver::ToPosition, 200))
                    .col(text(HandOver::Reason))
                    .col(string_len(HandOver::Actor, 200))
                    .col(timestamp_with_time_zone(HandOver::At))
                    .foreign_key(&mut restrict(
                        HandOver::Table,
                        HandOver::IdeaId,
                        Idea::Table,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_hand_over_idea",
                HandOver::Table,
                HandOver::IdeaId,
                HandOver::Id,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HandOver::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Review::Table).if_exists().to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_idea_stage_entered")
                    .if_exists()
                    .to_owned(),
            )
            .await?;
        for (table, column) in [
            (Idea::Table.into_iden(), Idea::StallReason.into_iden()),
            (Idea::Table.into_iden(), Idea::StageEnteredAt.into_iden()),
            (Idea::Table.into_iden(), Idea::InnovatorName.into_iden()),
            (Idea::Table.into_iden(), Idea::InnovatorPosition.into_iden()),
            (Cohort::Table.into_iden(), Cohort::Rubric.into_iden()),
            (
                StageTransition::Table.into_iden(),
                StageTransition::ReasonCode.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
