//! Creating and updating regencies, units, cohorts and mentors.

use chrono::{NaiveDate, Utc};
use entity::{Stage, UnitKind, cohort, mentor, regency, unit};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait, Func},
};
use serde_json::json;

use super::{
    Domain,
    write::{
        Actor, NewEvent, Written, earliest_lab_day, for_update, on_unique, optional_text,
        required_text, within_lab,
    },
};
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

/// A new unit.
#[derive(Debug, Clone)]
pub struct NewUnit {
    pub regency_id: i32,
    pub parent_id: Option<i32>,
    pub kind: UnitKind,
    pub name: String,
    pub head_title: Option<String>,
}

/// Changes to a unit.
#[derive(Debug, Clone, Default)]
pub struct UnitChanges {
    pub name: Option<String>,
    pub kind: Option<UnitKind>,
    pub head_title: Option<String>,
    pub parent_id: Option<i32>,
}

/// A new lab edition.
#[derive(Debug, Clone)]
pub struct NewCohort {
    pub regency_id: i32,
    pub year: i32,
    pub name: String,
    pub stage: Option<Stage>,
}

/// Changes to a lab edition.
#[derive(Debug, Clone, Default)]
pub struct CohortChanges {
    pub name: Option<String>,
    pub year: Option<i32>,
    pub stage: Option<Stage>,
}

/// A new mentor, or the full set of a mentor's fields.
#[derive(Debug, Clone, Default)]
pub struct MentorFields {
    pub name: Option<String>,
    pub institution: Option<String>,
    pub team: Option<String>,
    pub expertise: Option<String>,
    pub contact: Option<String>,
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

/// Refuses a unit name already taken in the regency, whatever its letter case.
async fn unit_name_free(
    txn: &DatabaseTransaction,
    regency_id: i32,
    name: &str,
    except: Option<i32>,
    regency_name: &str,
) -> DomainResult<()> {
    let mut same = unit::Entity::find()
        .filter(unit::Column::RegencyId.eq(regency_id))
        .filter(
            Expr::expr(Func::lower(Expr::col(unit::Column::Name))).eq(Func::lower(Expr::val(name))),
        );
    if let Some(id) = except {
        same = same.filter(unit::Column::Id.ne(id));
    }
    match same.one(txn).await? {
        Some(taken) => Err(DomainError::bad_input(format!(
            "A unit named \"{}\" already exists in {regency_name}; unit names differ by more than letter case.",
            taken.name
        ))),
        None => Ok(()),
    }
}

/// Refuses to put `unit` under `parent` when `unit` is above `parent` already.
async fn refuse_cycle(
    txn: &DatabaseTransaction,
    unit: &unit::Model,
    parent: &unit::Model,
) -> DomainResult<()> {
    let mut above = Some(parent.clone());
    // Each step reads one row; a regency has far fewer levels than this.
    for _ in 0..64 {
        let Some(current) = above else {
            return Ok(());
        };
        if current.id == unit.id {
            return Err(DomainError::bad_input(format!(
                "\"{}\" cannot be placed under \"{}\": it is already above it, so the units would contain each other.",
                unit.name, parent.name
            )));
        }
        above = match current.parent_id {
            Some(id) => unit::Entity::find_by_id(id).one(txn).await?,
            None => None,
        };
    }
    Err(DomainError::bad_input(
        "The units above this parent nest more than 64 levels deep.",
    ))
}

/// Refuses a lab year before the regency's MoU with LAN.
fn check_year_after_mou(year: i32, regency: &regency::Model) -> DomainResult<i32> {
    if let Some(mou) = regency.mou_signed_on
        && year < chrono::Datelike::year(&mou)
    {
        return Err(DomainError::bad_input(format!(
            "{} signed its MoU with LAN on {mou}; a lab edition of {year} would predate it.",
            regency.name
        )));
    }
    Ok(year)
}

fn check_year(year: i32) -> DomainResult<i32> {
    let this_year = chrono::Datelike::year(&Utc::now().date_naive());
    if !(2000..=this_year + 1).contains(&year) {
        return Err(DomainError::bad_input(format!(
            "The year {year} is out of range; labs run from 2000 to next year ({}).",
            this_year + 1
        )));
    }
    Ok(year)
}

impl Domain {
    pub(crate) async fn regency_in(
        &self,
        txn: &DatabaseTransaction,
        id: i32,
        role: &str,
    ) -> DomainResult<regency::Model> {
        regency::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| {
                DomainError::bad_input(format!("No regency with the given {role} exists."))
            })
    }

    pub(crate) async fn unit_in(
        &self,
        txn: &DatabaseTransaction,
        id: i32,
        role: &str,
    ) -> DomainResult<unit::Model> {
        unit::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::bad_input(format!("No unit with the given {role} exists.")))
    }

    pub async fn create_regency(
        &self,
        actor: &Actor,
        new: NewRegency,
    ) -> DomainResult<Written<regency::Model>> {
        let code = check_code(&new.code)?;
        let name = required_text("The regency name", &new.name, 200)?;
        let province = required_text("The province", &new.province, 200)?;
        let organiser = required_text("The organiser", &new.organiser, 200)?;
        let mou = new
            .mou_signed_on
            .map(|d| within_lab("The MoU date", d, earliest_lab_day()))
            .transpose()?;
        let now = Utc::now();
        let txn = self.begin_write().await?;
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
        .insert(&txn)
        .await
        .map_err(|e| on_unique(e, || format!("A regency with code {code} already exists.")))?;
        let event = self
            .record_event(
                &txn,
                actor,
                NewEvent {
                    regency_id: row.id,
                    kind: "REGENCY_CREATED",
                    payload: json!({ "code": row.code, "name": row.name }),
                    ..Default::default()
                },
            )
            .await?;
        let row = regency::Entity::find_by_id(row.id)
            .one(&txn)
            .await?
            .unwrap_or(row);
        self.commit(txn, row, vec![event]).await
    }

    pub async fn update_regency(
        &self,
        actor: &Actor,
        id: i32,
        version: i32,
        changes: RegencyChanges,
    ) -> DomainResult<Written<regency::Model>> {
        let txn = self.begin_write().await?;
        let current = for_update::<regency::Entity>(&txn, id, version, "regency").await?;
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
            row.mou_signed_on = Set(Some(within_lab("The MoU date", mou, earliest_lab_day())?));
        }
        row.version = Set(version + 1);
        row.updated_at = Set(Utc::now());
        let updated = self
            .guarded_update(&txn, row, regency::Column::Version, version, "regency", "")
            .await?;
        let event = self
            .record_event(
                &txn,
                actor,
                NewEvent {
                    regency_id: id,
                    kind: "REGENCY_UPDATED",
                    payload: json!({ "name": updated.name, "version": updated.version }),
                    ..Default::default()
                },
            )
            .await?;
        let updated = regency::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .unwrap_or(updated);
        self.commit(txn, updated, vec![event]).await
    }

    pub async fn create_unit(
        &self,
        actor: &Actor,
        new: NewUnit,
    ) -> DomainResult<Written<unit::Model>> {
        let name = required_text("The unit name", &new.name, 200)?;
        let head_title = optional_text("The head title", new.head_title.as_deref(), 100)?
            .unwrap_or_else(|| default_head_title(new.kind).to_owned());
        let txn = self.begin_write().await?;
        let regency = self.regency_in(&txn, new.regency_id, "regencyId").await?;
        unit_name_free(&txn, regency.id, &name, None, &regency.name).await?;
        if let Some(parent) = new.parent_id {
            let parent = self.unit_in(&txn, parent, "parentId").await?;
            if parent.regency_id != regency.id {
                return Err(DomainError::bad_input(format!(
                    "The parent unit \"{}\" belongs to another regency.",
                    parent.name
                )));
            }
        }
        let now = Utc::now();
        let row = unit::ActiveModel {
            regency_id: Set(regency.id),
            parent_id: Set(new.parent_id),
            kind: Set(new.kind),
            name: Set(name.clone()),
            head_title: Set(head_title),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!(
                    "A unit named \"{name}\" already exists in {}.",
                    regency.name
                )
            })
        })?;
        let event = self
            .record_event(
                &txn,
                actor,
                NewEvent {
                    regency_id: regency.id,
                    kind: "UNIT_CREATED",
                    unit_id: Some(row.id),
                    payload: json!({ "name": row.name, "kind": row.kind.as_str() }),
                    ..Default::default()
                },
            )
            .await?;
        self.commit(txn, row, vec![event]).await
    }

    pub async fn update_unit(
        &self,
        actor: &Actor,
        id: i32,
        version: i32,
        changes: UnitChanges,
    ) -> DomainResult<Written<unit::Model>> {
        let txn = self.begin_write().await?;
        let current = for_update::<unit::Entity>(&txn, id, version, "unit").await?;
        let mut row: unit::ActiveModel = current.clone().into();
        if let Some(name) = &changes.name {
            let name = required_text("The unit name", name, 200)?;
            unit_name_free(&txn, current.regency_id, &name, Some(id), "this regency").await?;
            row.name = Set(name);
        }
        if let Some(kind) = changes.kind {
            row.kind = Set(kind);
        }
        if let Some(title) = &changes.head_title {
            row.head_title = Set(required_text("The head title", title, 100)?);
        }
        if let Some(parent) = changes.parent_id {
            if parent == id {
                return Err(DomainError::bad_input("A unit cannot be its own parent."));
            }
            let parent = self.unit_in(&txn, parent, "parentId").await?;
            if parent.regency_id != current.regency_id {
                return Err(DomainError::bad_input(format!(
                    "The parent unit \"{}\" belongs to another regency.",
                    parent.name
                )));
            }
            refuse_cycle(&txn, &current, &parent).await?;
            row.parent_id = Set(Some(parent.id));
        }
        row.version = Set(version + 1);
        row.updated_at = Set(Utc::now());
        let name = changes.name.clone().unwrap_or(current.name.clone());
        let duplicate = format!(
            "A unit named \"{}\" already exists in this regency.",
            name.trim()
        );
        let updated = self
            .guarded_update(
                &txn,
                row,
                unit::Column::Version,
                version,
                "unit",
                &duplicate,
            )
            .await?;
        let event = self
            .record_event(
                &txn,
                actor,
                NewEvent {
                    regency_id: updated.regency_id,
                    kind: "UNIT_UPDATED",
                    unit_id: Some(id),
                    payload: json!({ "name": updated.name, "version": updated.version }),
                    ..Default::default()
                },
            )
            .await?;
        self.commit(txn, updated, vec![event]).await
    }

    pub async fn create_cohort(
        &self,
        actor: &Actor,
        new: NewCohort,
    ) -> DomainResult<Written<cohort::Model>> {
        let name = required_text("The cohort name", &new.name, 200)?;
        let year = check_year(new.year)?;
        let txn = self.begin_write().await?;
        let regency = self.regency_in(&txn, new.regency_id, "regencyId").await?;
        check_year_after_mou(year, &regency)?;
        let now = Utc::now();
        let row = cohort::ActiveModel {
            regency_id: Set(regency.id),
            year: Set(year),
            name: Set(name.clone()),
            stage: Set(new.stage.unwrap_or(Stage::DrumUp)),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!(
                    "A cohort named \"{name}\" already exists in {}.",
                    regency.name
                )
            })
        })?;
        let event = self
            .record_event(
                &txn,
                actor,
                NewEvent {
                    regency_id: regency.id,
                    kind: "COHORT_CREATED",
                    payload: json!({ "cohortId": row.id, "name": row.name, "year": row.year }),
                    ..Default::default()
                },
            )
            .await?;
        self.commit(txn, row, vec![event]).await
    }

    pub async fn update_cohort(
        &self,
        actor: &Actor,
        id: i32,
        version: i32,
        changes: CohortChanges,
    ) -> DomainResult<Written<cohort::Model>> {
        let txn = self.begin_write().await?;
        let current = for_update::<cohort::Entity>(&txn, id, version, "cohort").await?;
        let mut row: cohort::ActiveModel = current.clone().into();
        if let Some(name) = &changes.name {
            row.name = Set(required_text("The cohort name", name, 200)?);
        }
        if let Some(year) = changes.year {
            let regency = self
                .regency_in(&txn, current.regency_id, "regencyId")
                .await?;
            row.year = Set(check_year_after_mou(check_year(year)?, &regency)?);
        }
        if let Some(stage) = changes.stage {
            row.stage = Set(stage);
        }
        row.version = Set(version + 1);
        row.updated_at = Set(Utc::now());
        let name = changes.name.clone().unwrap_or(current.name.clone());
        let duplicate = format!(
            "A cohort named \"{}\" already exists in this regency.",
            name.trim()
        );
        let updated = self
            .guarded_update(
                &txn,
                row,
                cohort::Column::Version,
                version,
                "cohort",
                &duplicate,
            )
            .await?;
        let event = self
            .record_event(&txn, actor, NewEvent {
                regency_id: updated.regency_id,
                kind: "COHORT_UPDATED",
                payload: json!({ "cohortId": id, "stage": updated.stage.as_str(), "version": updated.version }),
                ..Default::default()
            })
            .await?;
        self.commit(txn, updated, vec![event]).await
    }

    pub async fn create_mentor(&self, fields: MentorFields) -> DomainResult<mentor::Model> {
        let name = required_text(
            "The mentor's name",
            fields.name.as_deref().unwrap_or_default(),
            200,
        )?;
        let institution = optional_text("The institution", fields.institution.as_deref(), 200)?
            .unwrap_or_else(|| "Lembaga Administrasi Negara (LAN)".to_owned());
        let now = Utc::now();
        let txn = self.begin_write().await?;
        let row = mentor::ActiveModel {
            name: Set(name.clone()),
            institution: Set(institution.clone()),
            team: Set(optional_text("The team", fields.team.as_deref(), 200)?),
            expertise: Set(optional_text(
                "The expertise",
                fields.expertise.as_deref(),
                2000,
            )?),
            contact: Set(optional_text(
                "The contact",
                fields.contact.as_deref(),
                200,
            )?),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!("A mentor named \"{name}\" of {institution} already exists.")
            })
        })?;
        Ok(self.commit(txn, row, Vec::new()).await?.value)
    }

    pub async fn update_mentor(
        &self,
        id: i32,
        version: i32,
        fields: MentorFields,
    ) -> DomainResult<mentor::Model> {
        let txn = self.begin_write().await?;
        let current = for_update::<mentor::Entity>(&txn, id, version, "mentor").await?;
        let mut row: mentor::ActiveModel = current.clone().into();
        if let Some(name) = &fields.name {
            row.name = Set(required_text("The mentor's name", name, 200)?);
        }
        if let Some(institution) = &fields.institution {
            row.institution = Set(required_text("The institution", institution, 200)?);
        }
        if fields.team.is_some() {
            row.team = Set(optional_text("The team", fields.team.as_deref(), 200)?);
        }
        if fields.expertise.is_some() {
            row.expertise = Set(optional_text(
                "The expertise",
                fields.expertise.as_deref(),
                2000,
            )?);
        }
        if fields.contact.is_some() {
            row.contact = Set(optional_text(
                "The contact",
                fields.contact.as_deref(),
                200,
            )?);
        }
        row.version = Set(version + 1);
        row.updated_at = Set(Utc::now());
        let updated = self
            .guarded_update(
                &txn,
                row,
                mentor::Column::Version,
                version,
                "mentor",
                "That mentor already exists.",
            )
            .await?;
        Ok(self.commit(txn, updated, Vec::new()).await?.value)
    }

    /// Saves `row` only if its stored version is still `version` (CONFLICT otherwise); a
    /// unique violation becomes BAD_USER_INPUT with `duplicate`.
    pub(crate) async fn guarded_update<A, C>(
        &self,
        txn: &DatabaseTransaction,
        row: A,
        version_column: C,
        version: i32,
        what: &str,
        duplicate: &str,
    ) -> DomainResult<<A::Entity as EntityTrait>::Model>
    where
        A: ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
        C: ColumnTrait,
        <A::Entity as EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
    {
        let result = match <A::Entity as EntityTrait>::update(row).validate() {
            Ok(update) => update.filter(version_column.eq(version)).exec(txn).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(model) => Ok(model),
            Err(sea_orm::DbErr::RecordNotUpdated) => Err(DomainError::Conflict(format!(
                "The {what} was changed by someone else while you edited it; reload it and try again."
            ))),
            Err(err) => Err(on_unique(err, || duplicate.to_owned())),
        }
    }
}

/// The usual title of a unit's head.
pub fn default_head_title(kind: UnitKind) -> &'static str {
    match kind {
        UnitKind::Kecamatan => "Camat",
        UnitKind::Kelurahan => "Lurah",
        UnitKind::Desa => "Kepala Desa",
        UnitKind::Rsud | UnitKind::Bumd => "Direktur",
        UnitKind::Secretariat => "Sekretaris",
        UnitKind::Inspectorate => "Inspektur",
        UnitKind::Community => "Ketua",
        _ => "Kepala",
    }
}
