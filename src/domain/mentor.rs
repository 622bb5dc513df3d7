//! LAN mentors and their assignments to ideas (history kept). Mentors are cross-regency.

use std::collections::HashMap;

use chrono::NaiveDate;
use entity::{IdeaStatus, PipelineEventKind, idea, mentor, mentor_assignment};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Select,
};
use serde_json::json;

use super::{
    Domain, by_name, contains, group,
    page::{Page, PageRequest, SortValue},
    write::{Edit, NewEvent, Target, Work, Written, on_unique, optional_text, required_text},
};
use crate::access::{Caller, ReadScope};
use crate::error::{DomainError, DomainResult};

/// A new mentor, or the full set of a mentor's fields.
#[derive(Debug, Clone, Default)]
pub struct MentorFields {
    pub name: Option<String>,
    pub institution: Option<String>,
    pub team: Option<String>,
    pub expertise: Option<String>,
    pub contact: Option<String>,
}

/// The mentor assignments of these ideas the caller may read, oldest first.
fn assignments_of(caller: &Caller, ids: &[i32]) -> DomainResult<Select<mentor_assignment::Entity>> {
    let scope = caller.check_read()?;
    Ok(mentor_assignment::Entity::find()
        .filter(mentor_assignment::Column::IdeaId.is_in(ids.iter().copied()))
        .filter(scope.on_idea(mentor_assignment::Column::IdeaId))
        .order_by_asc(mentor_assignment::Column::Since)
        .order_by_asc(mentor_assignment::Column::Id))
}

impl Domain {
    by_ids!(/// Mentors by id.
        mentors_by_id, mentor, i32, |_: ReadScope| sea_orm::Condition::all());

    by_ids!(/// Mentor assignments by id.
        assignments_by_id, mentor_assignment, i32, |s: ReadScope| s.on_idea(mentor_assignment::Column::IdeaId));

    /// Mentor assignments of each idea, current and past, oldest first.
    pub async fn assignments_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<mentor_assignment::Model>>> {
        let rows = assignments_of(caller, ids)?.all(self.db()).await?;
        Ok(group(rows, |a| a.idea_id))
    }

    fn mentors_matching(&self, search: Option<&str>) -> Select<mentor::Entity> {
        let mut select = mentor::Entity::find();
        if let Some(search) = search.filter(|s| !s.trim().is_empty()) {
            select = select.filter(
                Condition::any()
                    .add(contains(mentor::Column::Name, search))
                    .add(contains(mentor::Column::Expertise, search)),
            );
        }
        select
    }

    /// Mentors ordered by name; `search` looks in names and expertise.
    pub async fn mentor_page(
        &self,
        caller: &Caller,
        search: Option<&str>,
        page: &PageRequest,
    ) -> DomainResult<Page<mentor::Model>> {
        caller.check_read()?;
        let sort = by_name::<mentor::Entity>(
            mentor::Column::Name,
            mentor::Column::Id,
            |m| SortValue::Text(m.name.clone()),
            |m| i64::from(m.id),
        );
        self.listing(self.mentors_matching(search), sort, page)
            .await
    }

    pub async fn count_mentors(&self, caller: &Caller, search: Option<&str>) -> DomainResult<u64> {
        caller.check_read()?;
        Ok(self.mentors_matching(search).count(self.db()).await?)
    }

    pub async fn create_mentor(
        &self,
        caller: &Caller,
        fields: MentorFields,
    ) -> DomainResult<mentor::Model> {
        Ok(self
            .write(caller, async |work| {
                self.create_mentor_in(work, fields).await
            })
            .await?
            .value)
    }

    pub(crate) async fn create_mentor_in(
        &self,
        work: &mut Work,
        fields: MentorFields,
    ) -> DomainResult<mentor::Model> {
        work.caller.check_write(None, "mentor")?;
        work.without_event("a new mentor adds to the mentors' versions");
        let name = required_text(
            "The mentor's name",
            fields.name.as_deref().unwrap_or_default(),
            200,
        )?;
        let institution = optional_text("The institution", fields.institution.as_deref(), 200)?
            .unwrap_or_else(|| "Lembaga Administrasi Negara (LAN)".to_owned());
        let now = work.now();
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
        .insert(&work.txn)
        .await
        .map_err(|e| {
            on_unique(e, || {
                format!("A mentor named \"{name}\" of {institution} already exists.")
            })
        })?;
        Ok(row)
    }

    pub async fn update_mentor(
        &self,
        caller: &Caller,
        id: i32,
        version: i32,
        fields: MentorFields,
    ) -> DomainResult<mentor::Model> {
        let target = Target {
            id,
            version,
            what: "mentor",
        };
        // Mentors belong to no regency, so their changes record no pipeline event.
        let written = self
            .write(caller, async |work| {
                work.without_event("a mentor's edit moves its version");
                self.update_versioned::<mentor::Entity, _>(
                    work,
                    target,
                    async |_, current| {
                        let mut row: mentor::ActiveModel = current.clone().into();
                        if let Some(name) = &fields.name {
                            row.name = Set(required_text("The mentor's name", name, 200)?);
                        }
                        if let Some(institution) = &fields.institution {
                            row.institution =
                                Set(required_text("The institution", institution, 200)?);
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
                        Ok(Edit::new(row).unique_as(
                            "A mentor with this name and institution already exists.".to_owned(),
                        ))
                    },
                    async |_, _, updated| Ok(updated),
                )
                .await
            })
            .await?;
        Ok(written.value)
    }

    /// Assigns a mentor to coach an idea from `since` (default today).
    pub async fn assign_mentor(
        &self,
        caller: &Caller,
        idea_id: i32,
        mentor_id: i32,
        since: Option<NaiveDate>,
    ) -> DomainResult<Written<mentor_assignment::Model>> {
        self.write(caller, async |work| {
            self.assign_mentor_in(work, idea_id, mentor_id, since).await
        })
        .await
    }

    pub(crate) async fn assign_mentor_in(
        &self,
        work: &mut Work,
        idea_id: i32,
        mentor_id: i32,
        since: Option<NaiveDate>,
    ) -> DomainResult<mentor_assignment::Model> {
        let since = work.not_in_future("The start date", since.unwrap_or(work.today()))?;
        let idea = idea::Entity::find_by_id(idea_id)
            .one(&work.txn)
            .await?
            .ok_or_else(|| DomainError::not_found("No idea with this id exists."))?;
        work.caller.check_write(Some(idea.regency_id), "idea")?;
        let mentor = mentor::Entity::find_by_id(mentor_id)
            .one(&work.txn)
            .await?
            .ok_or_else(|| DomainError::missing("mentor"))?;
        if idea.status == IdeaStatus::Dropped {
            return Err(DomainError::bad_input(
                "The idea was dropped; a dropped idea gets no new mentor.",
            ));
        }
        let current = current_assignment(&work.txn, idea_id, mentor_id).await?;
        if current.is_some() {
            return Err(DomainError::bad_input(format!(
                "{} already coaches this idea.",
                mentor.name
            )));
        }
        let row = mentor_assignment::ActiveModel {
            mentor_id: Set(mentor_id),
            idea_id: Set(idea_id),
            since: Set(since),
            until: Set(None),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        self.record_event(
            work,
            NewEvent {
                idea_id: Some(idea_id),
                unit_id: Some(idea.unit_id),
                stage: Some(idea.stage),
                payload: json!({ "mentorId": mentor_id, "mentor": mentor.name, "since": since }),
                ..NewEvent::about(idea.regency_id, PipelineEventKind::MentorAssigned)
            },
        )
        .await?;
        Ok(row)
    }

    /// Ends a mentor's current assignment to an idea on `until` (default today); the
    /// assignment stays in the history.
    pub async fn unassign_mentor(
        &self,
        caller: &Caller,
        idea_id: i32,
        mentor_id: i32,
        until: Option<NaiveDate>,
    ) -> DomainResult<Written<mentor_assignment::Model>> {
        self.write(caller, async |work| {
            self.unassign_mentor_in(work, idea_id, mentor_id, until)
                .await
        })
        .await
    }

    pub(crate) async fn unassign_mentor_in(
        &self,
        work: &mut Work,
        idea_id: i32,
        mentor_id: i32,
        until: Option<NaiveDate>,
    ) -> DomainResult<mentor_assignment::Model> {
        let until = work.not_in_future("The end date", until.unwrap_or(work.today()))?;
        let idea = idea::Entity::find_by_id(idea_id)
            .one(&work.txn)
            .await?
            .ok_or_else(|| DomainError::not_found("No idea with this id exists."))?;
        work.caller.check_write(Some(idea.regency_id), "idea")?;
        let current = current_assignment(&work.txn, idea_id, mentor_id)
            .await?
            .ok_or_else(|| {
                DomainError::bad_input("That mentor does not currently coach this idea.")
            })?;
        if until < current.since {
            return Err(DomainError::bad_input(format!(
                "The end date ({until}) is before the assignment started ({}).",
                current.since
            )));
        }
        let mut row: mentor_assignment::ActiveModel = current.into();
        row.until = Set(Some(until));
        let row = row.update(&work.txn).await?;
        self.record_event(
            work,
            NewEvent {
                idea_id: Some(idea_id),
                unit_id: Some(idea.unit_id),
                stage: Some(idea.stage),
                payload: json!({ "mentorId": mentor_id, "until": until }),
                ..NewEvent::about(idea.regency_id, PipelineEventKind::MentorUnassigned)
            },
        )
        .await?;
        Ok(row)
    }
}

/// The mentor's current assignment to the idea, if the mentor coaches it now.
pub(crate) async fn current_assignment(
    txn: &DatabaseTransaction,
    idea_id: i32,
    mentor_id: i32,
) -> DomainResult<Option<mentor_assignment::Model>> {
    Ok(mentor_assignment::Entity::find()
        .filter(mentor_assignment::Column::IdeaId.eq(idea_id))
        .filter(mentor_assignment::Column::MentorId.eq(mentor_id))
        .filter(mentor_assignment::Column::Until.is_null())
        .one(txn)
        .await?)
}
