//! The work inside the stages: an idea's action plan (rencana aksi), its milestones, the plan's
//! revisions and the mentors' coaching log.

use sea_orm_migration::{
    prelude::*,
    schema::{
        date, date_null, integer, pk_auto, string_len, text, text_null, timestamp_with_time_zone,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ActionPlan {
    Table,
    Id,
    RegencyId,
    IdeaId,
    Goal,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Milestone {
    Table,
    Id,
    RegencyId,
    ActionPlanId,
    IdeaId,
    Position,
    Title,
    OwnerName,
    OwnerPosition,
    DueOn,
    Status,
    DoneOn,
    Note,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum MilestoneComment {
    Table,
    Id,
    RegencyId,
    MilestoneId,
    IdeaId,
    MentorId,
    Comment,
    WrittenOn,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ActionPlanRevision {
    Table,
    Id,
    ActionPlanId,
    Version,
    Goal,
    Milestones,
    Actor,
    At,
}

/// A foreign key from `table.column` to `references.id` that refuses deleting the referenced row.
fn restrict(
    table: impl IntoIden,
    column: impl IntoIden,
    references: &str,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(Alias::new(references), Alias::new("id"))
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn action_plan() -> TableCreateStatement {
    Table::create()
        .table(ActionPlan::Table)
        .if_not_exists()
        .col(pk_auto(ActionPlan::Id))
        .col(integer(ActionPlan::RegencyId))
        .col(integer(ActionPlan::IdeaId).unique_key())
        .col(text(ActionPlan::Goal))
        .col(integer(ActionPlan::Version))
        .col(timestamp_with_time_zone(ActionPlan::CreatedAt))
        .col(timestamp_with_time_zone(ActionPlan::UpdatedAt))
        .foreign_key(&mut restrict(
            ActionPlan::Table,
            ActionPlan::RegencyId,
            "regency",
        ))
        .foreign_key(&mut restrict(ActionPlan::Table, ActionPlan::IdeaId, "idea"))
        .to_owned()
}

fn milestone() -> TableCreateStatement {
    Table::create()
        .table(Milestone::Table)
        .if_not_exists()
        .col(pk_auto(Milestone::Id))
        .col(integer(Milestone::RegencyId))
        .col(integer(Milestone::ActionPlanId))
        .col(integer(Milestone::IdeaId))
        .col(integer(Milestone::Position))
        .col(string_len(Milestone::Title, 300))
        .col(string_len(Milestone::OwnerName, 200))
        .col(string_len(Milestone::OwnerPosition, 200))
        .col(date(Milestone::DueOn))
        .col(string_len(Milestone::Status, 32))
        .col(date_null(Milestone::DoneOn))
        .col(text_null(Milestone::Note))
        .col(timestamp_with_time_zone(Milestone::CreatedAt))
        .col(timestamp_with_time_zone(Milestone::UpdatedAt))
        .foreign_key(&mut restrict(
            Milestone::Table,
            Milestone::RegencyId,
            "regency",
        ))
        .foreign_key(&mut restrict(
            Milestone::Table,
            Milestone::ActionPlanId,
            "action_plan",
        ))
        .foreign_key(&mut restrict(Milestone::Table, Milestone::IdeaId, "idea"))
        .to_owned()
}

fn action_plan_revision() -> TableCreateStatement {
    Table::create()
        .table(ActionPlanRevision::Table)
        .if_not_exists()
        .col(pk_auto(ActionPlanRevision::Id))
        .col(integer(ActionPlanRevision::ActionPlanId))
        .col(integer(ActionPlanRevision::Version))
        .col(text(ActionPlanRevision::Goal))
        .col(text(ActionPlanRevision::Milestones))
        .col(string_len(ActionPlanRevision::Actor, 200))
        .col(timestamp_with_time_zone(ActionPlanRevision::At))
        .foreign_key(&mut restrict(
            ActionPlanRevision::Table,
            ActionPlanRevision::ActionPlanId,
            "action_plan",
        ))
        .to_owned()
}

fn milestone_comment() -> TableCreateStatement {
    Table::create()
        .table(MilestoneComment::Table)
        .if_not_exists()
        .col(pk_auto(MilestoneComment::Id))
        .col(integer(MilestoneComment::RegencyId))
        .col(integer(MilestoneComment::MilestoneId))
        .col(integer(MilestoneComment::IdeaId))
        .col(integer(MilestoneComment::MentorId))
        .col(text(MilestoneComment::Comment))
        .col(date(MilestoneComment::WrittenOn))
        .col(timestamp_with_time_zone(MilestoneComment::CreatedAt))
        .foreign_key(&mut restrict(
            MilestoneComment::Table,
            MilestoneComment::MilestoneId,
            "milestone",
        ))
        .foreign_key(&mut restrict(
            MilestoneComment::Table,
            MilestoneComment::IdeaId,
            "idea",
        ))
        .foreign_key(&mut restrict(
            MilestoneComment::Table,
            MilestoneComment::MentorId,
            "mentor",
        ))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(action_plan()).await?;
        manager.create_table(milestone()).await?;
        manager.create_table(action_plan_revision()).await?;
        manager.create_table(milestone_comment()).await?;
        for (name, table, first, second) in [
            (
                "ix_milestone_plan",
                Milestone::Table,
                Milestone::ActionPlanId,
                Milestone::Position,
            ),
            (
                "ix_milestone_idea",
                Milestone::Table,
                Milestone::IdeaId,
                Milestone::DueOn,
            ),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(table)
                        .col(first)
                        .col(second)
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_milestone_comment_milestone")
                    .table(MilestoneComment::Table)
                    .col(MilestoneComment::MilestoneId)
                    .col(MilestoneComment::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_action_plan_revision_plan")
                    .table(ActionPlanRevision::Table)
                    .col(ActionPlanRevision::ActionPlanId)
                    .col(ActionPlanRevision::Version)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MilestoneComment::Table.into_iden(),
            ActionPlanRevision::Table.into_iden(),
            Milestone::Table.into_iden(),
            ActionPlan::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
