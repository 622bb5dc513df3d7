//! Regencies and their lab editions.

use async_graphql::{Context, ID, Object, Result, dataloader::DataLoader};
use chrono::{DateTime, NaiveDate, Utc};
use entity::{cohort, regency};

use super::{
    enums::Stage,
    ids::{self, Kind},
    loaders::{CohortsOfRegency, DomainLoader, RegencyId},
};
use crate::domain::Domain;

/// A regency or city (kabupaten/kota) that runs an innovation lab with LAN.
pub struct Regency(pub regency::Model);

#[Object]
impl Regency {
    /// Global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Regency, self.0.id)
    }

    /// Kemendagri code, e.g. "63.03" for Kabupaten Banjar.
    async fn code(&self) -> &str {
        &self.0.code
    }

    /// Official name, e.g. "Kabupaten Banjar".
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Province the regency belongs to.
    async fn province(&self) -> &str {
        &self.0.province
    }

    /// The body that organises the lab, e.g. Bapelitbangda.
    async fn organiser(&self) -> &str {
        &self.0.organiser
    }

    /// Date the regency signed its innovation-lab MoU with LAN, if known.
    async fn mou_signed_on(&self) -> Option<NaiveDate> {
        self.0.mou_signed_on
    }

    /// Sequence number of the latest pipeline event in this regency.
    async fn last_event_sequence(&self) -> i64 {
        self.0.event_seq
    }

    /// Version for optimistic concurrency; pass it back when updating.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the record was last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The regency's lab editions, newest first.
    async fn cohorts(&self, ctx: &Context<'_>) -> Result<Vec<Cohort>> {
        let loader = ctx.data::<DataLoader<DomainLoader>>()?;
        let cohorts = loader.load_one(CohortsOfRegency(self.0.id)).await?;
        Ok(cohorts
            .unwrap_or_default()
            .into_iter()
            .map(Cohort)
            .collect())
    }
}

/// One edition of a regency's innovation lab.
pub struct Cohort(pub cohort::Model);

#[Object]
impl Cohort {
    /// Global ID.
    async fn id(&self) -> ID {
        ids::encode(Kind::Cohort, self.0.id)
    }

    /// Year the edition started.
    async fn year(&self) -> i32 {
        self.0.year
    }

    /// Name of the edition, e.g. "Laboratorium Inovasi Kabupaten Banjar 2017".
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Where the lab itself is in the 5D cycle.
    async fn stage(&self) -> Stage {
        self.0.stage.into()
    }

    /// Version for optimistic concurrency.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// The regency running this edition.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Regency> {
        let loader = ctx.data::<DataLoader<DomainLoader>>()?;
        let regency = loader.load_one(RegencyId(self.0.regency_id)).await?;
        regency.map(Regency).ok_or_else(|| {
            crate::error::DomainError::not_found("The cohort's regency no longer exists.").into()
        })
    }
}

#[derive(Default)]
pub struct RegencyQuery;

#[Object]
impl RegencyQuery {
    /// Every regency with an innovation lab, by Kemendagri code.
    async fn regencies(&self, ctx: &Context<'_>) -> Result<Vec<Regency>> {
        let domain = ctx.data::<Domain>()?;
        Ok(domain.regencies().await?.into_iter().map(Regency).collect())
    }

    /// One regency, by global `id` or Kemendagri `code` (give exactly one); null if none matches.
    async fn regency(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
    ) -> Result<Option<Regency>> {
        let domain = ctx.data::<Domain>()?;
        let found = match (id, code) {
            (Some(id), None) => {
                let id = ids::decode(Kind::Regency, &id)?;
                domain.regencies_by_id(&[id]).await?.remove(&id)
            }
            (None, Some(code)) => domain.regency_by_code(&code).await?,
            _ => {
                return Err(crate::error::DomainError::bad_input(
                    "Give either the regency's id or its code, not both and not neither.",
                )
                .into());
            }
        };
        Ok(found.map(Regency))
    }
}
