//! Which ideas a query asks for, and in what order.

use async_graphql::{Enum, ID, InputObject, Result};
use chrono::NaiveDate;

use crate::domain::idea::{
    IdeaFilter as DomainFilter, IdeaOrder as DomainOrder, IdeaOrderField as DomainOrderField,
};
use crate::graphql::{
    enums::{
        IdeaStatus, Initiator, InnovationForm, InnovationType, Maturity, Stage, StallReason,
        UnitKind,
    },
    ids::{self, Kind},
};

/// Which ideas to return. Every field given must hold; `and`, `or` and `not` combine filters.
#[derive(InputObject, Default, Clone)]
pub struct IdeaFilter {
    /// Ideas of these regencies (global IDs).
    pub regency_ids: Option<Vec<ID>>,
    /// Ideas of these regencies (Kemendagri codes, e.g. "63.03").
    pub regency_codes: Option<Vec<String>>,
    /// Ideas of these lab editions.
    pub cohort_ids: Option<Vec<ID>>,
    /// Ideas owned by these units.
    pub unit_ids: Option<Vec<ID>>,
    /// Ideas owned by units of these kinds.
    pub unit_kinds: Option<Vec<UnitKind>>,
    /// Ideas currently in one of these stages.
    pub stages: Option<Vec<Stage>>,
    /// Ideas at this stage or beyond (DELIVER: launched and not sent back).
    pub stage_at_least: Option<Stage>,
    /// Ideas with one of these statuses.
    pub statuses: Option<Vec<IdeaStatus>>,
    /// Stalled ideas whose reason is one of these kinds.
    pub stall_reasons: Option<Vec<StallReason>>,
    /// Ideas that entered their current stage more than this many days ago (0–36500).
    pub in_stage_longer_than_days: Option<i32>,
    /// Ideas whose action plan has (true) or has no (false) milestone past its due date and
    /// not done.
    pub overdue_milestones: Option<bool>,
    /// Ideas of these types.
    pub types: Option<Vec<InnovationType>>,
    /// Ideas of these forms.
    pub forms: Option<Vec<InnovationForm>>,
    /// Ideas of these maturities.
    pub maturities: Option<Vec<Maturity>>,
    /// Ideas started by these initiators.
    pub initiators: Option<Vec<Initiator>>,
    /// Ideas currently coached by one of these mentors.
    pub mentor_ids: Option<Vec<ID>>,
    /// Case-insensitive text contained in the title or the problem.
    pub search: Option<String>,
    /// Submitted on or after this day (UTC).
    pub submitted_from: Option<NaiveDate>,
    /// Submitted on or before this day (UTC).
    pub submitted_to: Option<NaiveDate>,
    /// Launched (entered DELIVER) on or after this day.
    pub launched_from: Option<NaiveDate>,
    /// Launched on or before this day.
    pub launched_to: Option<NaiveDate>,
    /// Every one of these filters must hold too.
    pub and: Option<Vec<IdeaFilter>>,
    /// At least one of these filters must hold too.
    pub or: Option<Vec<IdeaFilter>>,
    /// This filter must not hold.
    pub not: Option<Box<IdeaFilter>>,
}

fn convert<T: Copy, U: From<T>>(list: &Option<Vec<T>>) -> Option<Vec<U>> {
    list.as_ref()
        .map(|l| l.iter().map(|v| U::from(*v)).collect())
}

impl IdeaFilter {
    /// The domain's filter, with IDs decoded.
    pub fn to_domain(&self) -> Result<DomainFilter> {
        let nested = |list: &Option<Vec<IdeaFilter>>| -> Result<Vec<DomainFilter>> {
            list.iter().flatten().map(IdeaFilter::to_domain).collect()
        };
        Ok(DomainFilter {
            regency_ids: ids::decode_list(Kind::Regency, &self.regency_ids)?,
            regency_codes: self.regency_codes.clone(),
            cohort_ids: ids::decode_list(Kind::Cohort, &self.cohort_ids)?,
            unit_ids: ids::decode_list(Kind::Unit, &self.unit_ids)?,
            unit_kinds: convert(&self.unit_kinds),
            stages: convert(&self.stages),
            stage_at_least: self.stage_at_least.map(Into::into),
            statuses: convert(&self.statuses),
            stall_reasons: convert(&self.stall_reasons),
            in_stage_longer_than_days: self.in_stage_longer_than_days,
            overdue_milestones: self.overdue_milestones,
            awaiting_review_by: None,
            types: convert(&self.types),
            forms: convert(&self.forms),
            maturities: convert(&self.maturities),
            initiators: convert(&self.initiators),
            mentor_ids: ids::decode_list(Kind::Mentor, &self.mentor_ids)?,
            search: crate::domain::search_text(self.search.as_deref())?,
            submitted_from: self.submitted_from,
            submitted_to: self.submitted_to,
            launched_from: self.launched_from,
            launched_to: self.launched_to,
            all_of: nested(&self.and)?,
            any_of: nested(&self.or)?,
            none_of: match &self.not {
                Some(not) => Some(Box::new(not.to_domain()?)),
                None => None,
            },
        })
    }

    /// The domain filter of an optional argument, narrowed by `scope` (e.g. one regency).
    pub fn scoped(filter: Option<IdeaFilter>, scope: DomainFilter) -> Result<DomainFilter> {
        match filter {
            None => Ok(scope),
            Some(filter) => Ok(DomainFilter {
                all_of: vec![filter.to_domain()?],
                ..scope
            }),
        }
    }
}

/// Field to order ideas by; ties are broken by id so paging never skips or repeats.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum IdeaOrderField {
    /// Submission time.
    #[default]
    SubmittedAt,
    /// Pipeline stage (DRUM_UP first).
    Stage,
    /// Title, in the database's text order.
    Title,
    /// Time of the last change.
    UpdatedAt,
    /// When the idea entered its current stage (longest waiting first, ascending).
    StageEnteredAt,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum OrderDirection {
    /// Smallest first.
    #[default]
    Asc,
    /// Largest first.
    Desc,
}

/// How to order ideas.
#[derive(InputObject, Clone, Copy, Default)]
pub struct IdeaOrder {
    /// The field to order by.
    #[graphql(default)]
    pub field: IdeaOrderField,
    /// Ascending or descending.
    #[graphql(default)]
    pub direction: OrderDirection,
}

impl From<IdeaOrder> for DomainOrder {
    fn from(order: IdeaOrder) -> Self {
        DomainOrder {
            field: match order.field {
                IdeaOrderField::SubmittedAt => DomainOrderField::SubmittedAt,
                IdeaOrderField::Stage => DomainOrderField::Stage,
                IdeaOrderField::Title => DomainOrderField::Title,
                IdeaOrderField::UpdatedAt => DomainOrderField::UpdatedAt,
                IdeaOrderField::StageEnteredAt => DomainOrderField::StageEnteredAt,
            },
            descending: order.direction == OrderDirection::Desc,
        }
    }
}
