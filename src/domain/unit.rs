//! Units (perangkat daerah): the offices, districts, health centres and companies of a
//! regency that propose ideas and sign commitments.

use std::collections::HashMap;

use entity::{PipelineEventKind, UnitKind, unit};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, DatabaseTransaction, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select,
    sea_query::{Expr, ExprTrait, Func},
};
use serde_json::json;

use super::{
    Domain, by_name, contains, group,
    page::{Page, PageRequest, SortValue},
    regency_code_filter,
    write::{Edit, NewEvent, Target, Work, Written, on_unique, optional_text, required_text},
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

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

/// Which units to list.
#[derive(Debug, Clone, Default)]
pub struct UnitFilter {
    pub regency_ids: Option<Vec<i32>>,
    pub regency_codes: Option<Vec<String>>,
    pub kinds: Option<Vec<UnitKind>>,
    pub parent_id: Option<i32>,
    pub search: Option<String>,
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

impl Domain {
    by_ids!(/// Units by id.
        units_by_id, unit, i32, |s: ReadScope| s.on(unit::Column::RegencyId));

    /// Units of each regency, by name.
    pub async fn units_of_regencies(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<unit::Model>>> {
        let scope = caller.check_read()?;
        let rows = unit::Entity::find()
            .filter(scope.on(unit::Column::RegencyId))
            .filter(unit::Column::RegencyId.is_in(ids.iter().copied()))
            .order_by_asc(unit::Column::Name)
            .all(self.db())
            .await?;
        Ok(group(rows, |u| u.regency_id))
    }

    /// Sub-units of each unit (kelurahan of a kecamatan, puskesmas of the health office).
    pub async fn children_of_units(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<unit::Model>>> {
        let scope = caller.check_read()?;
        let rows = unit::Entity::find()
            .filter(scope.on(unit::Column::RegencyId))
            .filter(unit::Column::ParentId.is_in(ids.iter().copied()))
            .order_by_asc(unit::Column::Name)
            .all(self.db())
            .await?;
        Ok(group(rows, |u| u.parent_id.unwrap_or_default()))
    }

    fn units_matching(&self, filter: &UnitFilter) -> Select<unit::Entity> {
        let mut cond = Condition::all();
        if let Some(ids) = &filter.regency_ids {
            cond = cond.add(unit::Column::RegencyId.is_in(ids.clone()));
        }
        if let Some(sub) = regency_code_filter(&filter.regency_codes) {
            cond = cond.add(unit::Column::RegencyId.in_subquery(sub));
        }
        if let Some(kinds) = &filter.kinds {
            cond = cond.add(unit::Column::Kind.is_in(kinds.iter().copied()));
        }
        if let Some(parent) = filter.parent_id {
            cond = cond.add(unit::Column::ParentId.eq(parent));
        }
        if let Some(search) = filter.search.as_deref().filter(|s| !s.trim().is_empty()) {
            cond = cond.add(contains(unit::Column::Name, search));
        }
        unit::Entity::find().filter(cond)
    }

    /// Units ordered by name.
    pub async fn unit_page(
        &self,
        caller: &Caller,
        filter: &UnitFilter,
        page: &PageRequest,
    ) -> DomainResult<Page<unit::Model>> {
        let scope = caller.check_read()?;
        let sort = by_name::<unit::Entity>(
            unit::Column::Name,
            unit::Column::Id,
            |m| SortValue::Text(m.name.clone()),
            |m| i64::from(m.id),
        );
        self.listing(
            self.units_matching(filter)
                .filter(scope.on(unit::Column::RegencyId)),
            sort,
            page,
        )
        .await
    }

    pub async fn count_units(&self, caller: &Caller, filter: &UnitFilter) -> DomainResult<u64> {
        let scope = caller.check_read()?;
        Ok(self
            .units_matching(filter)
            .filter(scope.on(unit::Column::RegencyId))
            .count(self.db())
            .await?)
    }

    pub(crate) async fn unit_in(
        &self,
        txn: &DatabaseTransaction,
        id: i32,
    ) -> DomainResult<unit::Model> {
        unit::Entity::find_by_id(id)
            .one(txn)
            .await?
            .ok_or_else(|| DomainError::missing("unit"))
    }

    pub async fn create_unit(
        &self,
        caller: &Caller,
        new: NewUnit,
    ) -> DomainResult<Written<unit::Model>> {
        self.write(caller, async |work| self.create_unit_in(work, new).await)
            .await
    }

    pub(crate) async fn create_unit_in(
        &self,
        work: &mut Work,
        new: NewUnit,
    ) -> DomainResult<unit::Model> {
        let name = required_text("The unit name", &new.name, 200)?;
        let head_title = optional_text("The head title", new.head_title.as_deref(), 100)?
            .unwrap_or_else(|| default_head_title(new.kind).to_owned());
        let regency = self.regency_in(&work.txn, new.regency_id).await?;
        work.caller.check_write(Some(regency.id), "regency")?;
        unit_name_free(&work.txn, regency.id, &name, None, &regency.name).await?;
        if let Some(parent) = new.parent_id {
            let parent = self.unit_in(&work.txn, parent).await?;
            if parent.regency_id != regency.id {
                // Answered as absent: a parent is in the same regency.
                return Err(DomainError::missing("unit"));
            }
        }
        let now = work.now();
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
        .insert(&work.txn)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!(
                    "A unit named \"{name}\" already exists in {}.",
                    regency.name
                )
            })
        })?;
        self.record_event(
            work,
            NewEvent {
                unit_id: Some(row.id),
                payload: json!({ "name": row.name, "kind": row.kind.as_str() }),
                ..NewEvent::about(regency.id, PipelineEventKind::UnitCreated)
            },
        )
        .await?;
        Ok(row)
    }

    pub async fn update_unit(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        changes: UnitChanges,
    ) -> DomainResult<Written<unit::Model>> {
        let target = Target {
            id,
            version,
            what: "unit",
        };
        self.write(caller, async |work| {
            self.update_versioned::<unit::Entity, _>(
                work,
                target,
                async |work, current| {
                    let mut row: unit::ActiveModel = current.clone().into();
                    if let Some(name) = &changes.name {
                        let name = required_text("The unit name", name, 200)?;
                        unit_name_free(
                            &work.txn,
                            current.regency_id,
                            &name,
                            Some(id),
                            "this regency",
                        )
                        .await?;
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
                        let parent = self.unit_in(&work.txn, parent).await?;
                        if parent.regency_id != current.regency_id {
                            // Answered as absent: a parent is in the same regency.
                            return Err(DomainError::missing("unit"));
                        }
                        refuse_cycle(&work.txn, current, &parent).await?;
                        row.parent_id = Set(Some(parent.id));
                    }
                    let name = changes.name.clone().unwrap_or(current.name.clone());
                    Ok(Edit::new(row).unique_as(format!(
                        "A unit named \"{}\" already exists in this regency.",
                        name.trim()
                    )))
                },
                async |work, _, updated| {
                    self.record_event(
                        work,
                        NewEvent {
                            unit_id: Some(id),
                            payload: json!({ "name": updated.name, "version": updated.version }),
                            ..NewEvent::about(updated.regency_id, PipelineEventKind::UnitUpdated)
                        },
                    )
                    .await?;
                    Ok(updated)
                },
            )
            .await
        })
        .await
    }
}
