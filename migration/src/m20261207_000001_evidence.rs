//! Evidence: files attached to an idea (optionally to a milestone), their bytes kept apart in
//! `evidence_blob` for the database evidence store.

use sea_orm_migration::{
    prelude::*,
    schema::{
        big_integer, binary, integer, integer_null, pk_auto, string_len, text_null,
        timestamp_with_time_zone,
    },
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Evidence {
    Table,
    Id,
    RegencyId,
    IdeaId,
    MilestoneId,
    Name,
    Description,
    ContentType,
    Size,
    Sha256,
    UploadedBy,
    UploadedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum EvidenceBlob {
    Table,
    EvidenceId,
    Bytes,
}

fn evidence() -> TableCreateStatement {
    Table::create()
        .table(Evidence::Table)
        .if_not_exists()
        .col(pk_auto(Evidence::Id))
        .col(integer(Evidence::RegencyId))
        .col(integer(Evidence::IdeaId))
        .col(integer_null(Evidence::MilestoneId))
        .col(string_len(Evidence::Name, 255))
        .col(text_null(Evidence::Description))
        .col(string_len(Evidence::ContentType, 100))
        .col(big_integer(Evidence::Size))
        .col(string_len(Evidence::Sha256, 64))
        .col(string_len(Evidence::UploadedBy, 200))
        .col(timestamp_with_time_zone(Evidence::UploadedAt))
        .foreign_key(
            ForeignKey::create()
                .from(Evidence::Table, Evidence::RegencyId)
                .to(Alias::new("regency"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Restrict),
        )
        .foreign_key(
            ForeignKey::create()
                .from(Evidence::Table, Evidence::IdeaId)
                .to(Alias::new("idea"), Alias::new("id"))
                .on_delete(ForeignKeyAction::Restrict),
        )
        // A plan rewritten without a milestone keeps its evidence on the idea.
        .foreign_key(
            ForeignKey::create()
                .from(Evidence::Table, Evidence::MilestoneId)
                .to(Alias::new("milestone"), Alias::new("id"))
                .on_delete(ForeignKeyAction::SetNull),
        )
        .to_owned()
}

fn evidence_blob() -> TableCreateStatement {
    Table::create()
        .table(EvidenceBlob::Table)
        .if_not_exists()
        .col(
            ColumnDef::new(EvidenceBlob::EvidenceId)
                .integer()
                .not_null()
                .primary_key(),
        )
        .col(binary(EvidenceBlob::Bytes))
        .foreign_key(
            ForeignKey::create()
                .from(EvidenceBlob::Table, EvidenceBlob::EvidenceId)
                .to(Evidence::Table, Evidence::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_table(evidence()).await?;
        manager.create_table(evidence_blob()).await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_evidence_idea")
                    .table(Evidence::Table)
                    .col(Evidence::IdeaId)
                    .col(Evidence::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [EvidenceBlob::Table.into_iden(), Evidence::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
