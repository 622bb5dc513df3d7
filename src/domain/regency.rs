//! Regencies (kabupaten/kota): each runs its own lab and owns every row but the mentors.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{PipelineEventKind, regency};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter,
};
use serde_json::json;

use super::{
    Domain,
    page::{Page, PageRequest, Sort, SortValue},
    write::{
        Edit, NewEvent, Target, Work, Written, earliest_lab_day, on_unique, required_text,
        within_lab,
    },
};
use crate::access::Caller;
use crate::error::{DomainError, DomainResult};

/// A new regency.
#[derive(Debug, Clone)]
pub struct NewRegency {
    pub code: String,
    pub name: String,
    pub province: String,
    pub organiser: String,
    pub mou_signed_on: Option<NaiveDate>,
}

/// Changes to a regency; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct RegencyChanges {
    pub name: Option<String>,
    pub province: Option<String>,
    pub organiser: Option<String>,
    pub mou_signed_on: Option<NaiveDate>,
}

fn check_code(code: &str) -> DomainResult<String> {
    let code = required_text("The regency code", code, 16)?;
    let valid = code.split('.').count() == 2
        && code
            .split('.')
            .all(|part| part.len() == 2 && part.chars().all(|c| c.is_ascii_digit()));
    if !valid {
        return Err(DomainError::bad_input(format!(
            "\"{code}\" is not a Kemendagri regency code; it looks like \"63.03\" (province.regency)."
        )));
    }
    Ok(code)
}

impl Domain {
    pub async fn regency_by_code(
        &self,
        caller: &Caller,
        code: &str,
    ) -> DomainResult<Option<regency::Model>> {
        let scope = caller.check_read()?;
        Ok(regency::Entity::find()
            .filter(regency::Column::Code.eq(code.trim()))
            .filter(scope.on(regency::Column::Id))
            .one(self.db())
            .await?)
    }

    pub async fn regencies_by_id(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, regency::Model>> {
        let scope = caller.check_read()?;
        let rows = regency::Entity::find()
            .filter(regency::Column::Id.is_in(ids.iter().copied()))
            .filter(scope.on(regency::Column::Id))
            .all(self.db())
            .await?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }

    /// Regencies ordered by Kemendagri code.
    pub async fn regency_page(
        &self,
        caller: &Caller,
        page: &PageRequest,
    ) -> DomainResult<Page<regency::Model>> {
        let scope = caller.check_read()?;
        let sort = Sort {
            name: "CODE",
            column: regency::Column::Code,
            descending: false,
            id_column: regency::Column::Id,
            value_of: Some(|m: &regency::Model| SortValue::Text(m.code.clone())),
            id_of: |m: &regency::Model| i64::from(m.id),
        };
        self.listing(
            regency::Entity::find().filter(scope.on(regency::Column::Id)),
            sort,
            page,
        )
        .await
    }

    pub async fn count_regencies(&self, caller: &Caller) -> DomainResult<u64> {
        let scope = caller.check_read()?;
        Ok(regency::Entity::find()
            .filter(scope.on(regency::Column::Id))
            .count(self.db())
            .await?)
    }

    pub(crate) async fn regency_in(
        &self,
        txn: &DatabaseTransaction,
        id: i32,
    ) -> DomainResult<regency::Model> {
        regency::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::missing("regency"))
    }

    pub async fn create_regency(
        &self,
        caller: &Caller,
        new: NewRegency,
    ) -> DomainResult<Written<regency::Model>> {
        self.write(caller, async |work| self.create_regency_in(work, new).await)
            .await
    }

    pub(crate) async fn create_regency_in(
        &self,
        work: &mut Work,
        new: NewRegency,
    ) -> DomainResult<regency::Model> {
        work.caller.check_write(None, "regency")?;
        let code = check_code(&new.code)?;
        let name = required_text("The regency name", &new.name, 200)?;
        let province = required_text("The province", &new.province, 200)?;
        let organiser = required_text("The organiser", &new.organiser, 200)?;
        let mou = new
            .mou_signed_on
            .map(|d| within_lab("The MoU date", d, earliest_lab_day()))
            .transpose()?;
        let now = work.now();
        let row = regency::ActiveModel {
            code: Set(code.clone()),
            name: Set(name),
            province: Set(province),
            organiser: Set(organiser),
            mou_signed_on: Set(mou),
            event_seq: Set(0),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&work.txn)
        .await
        .map_err(|e| on_unique(e, || format!("A regency with code {code} already exists.")))?;
        self.record_event(
            work,
            NewEvent {
                payload: json!({ "code": row.code, "name": row.name }),
                ..NewEvent::about(row.id, PipelineEventKind::RegencyCreated)
            },
        )
        .await?;
        Ok(regency::Entity::find_by_id(row.id)
            .one(&work.txn)
            .await?
            .unwrap_or(row))
    }

    pub async fn update_regency(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        changes: RegencyChanges,
    ) -> DomainResult<Written<regency::Model>> {
        let target = Target {
            id,
            version,
            what: "regency",
        };
        self.write(caller, async |work| {
            self.update_versioned::<regency::Entity, _>(
                work,
                target,
                async |_, current| {
                    let mut row: regency::ActiveModel = current.clone().into();
                    if let Some(name) = &changes.name {
                        row.name = Set(required_text("The regency name", name, 200)?);
                    }
                    if let Some(province) = &changes.province {
                        row.province = Set(required_text("The province", province, 200)?);
                    }
                    if let Some(organiser) = &changes.organiser {
                        row.organiser = Set(required_text("The organiser", organiser, 200)?);
                    }
                    if let Some(mou) = changes.mou_signed_on {
                        row.mou_signed_on =
                            Set(Some(within_lab("The MoU date", mou, earliest_lab_day())?));
                    }
                    Ok(Edit::new(row))
                },
                async |work, _, updated| {
                    self.record_event(
                        work,
                        NewEvent {
                            payload: json!({ "name": updated.name, "version": updated.version }),
                            ..NewEvent::about(id, PipelineEventKind::RegencyUpdated)
                        },
                    )
                    .await?;
                    Ok(regency::Entity::find_by_id(id)
                        .one(&work.txn)
                        .await?
                        .unwrap_or(updated))
                },
            )
            .await
        })
        .await
    }
}
