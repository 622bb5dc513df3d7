//! Reading ideas for the CSV export: pages of ideas with what a spreadsheet row shows (the
//! regency, cohort and unit by name, the current mentors, the score, the action plan's
//! progress, the evidence files), a fixed handful of statements per page.

use std::collections::{BTreeSet, HashMap};

use entity::{UnitKind, idea};
use sea_orm::QueryFilter;

use crate::access::Caller;
use crate::domain::{
    Domain,
    action_plan::Progress,
    idea::{IdeaFilter, IdeaOrder},
    page::{PageLimits, PageRequest, paginate},
    review::{IdeaScore, idea_score},
};
use crate::error::DomainResult;

/// Ideas per page of the export.
pub const EXPORT_PAGE: u32 = 500;

/// One idea as the export writes it.
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub idea: idea::Model,
    pub regency_code: String,
    pub cohort: String,
    pub unit: String,
    pub unit_kind: Option<UnitKind>,
    /// Names of the mentors coaching it now.
    pub mentors: Vec<String>,
    pub score: Option<IdeaScore>,
    /// How far its action plan got today, if it has one.
    pub progress: Option<Progress>,
    /// Evidence files attached to it.
    pub evidence: i64,
}

/// A page of the export and the cursor of its last row, if more follow.
pub struct ExportPage {
    pub rows: Vec<ExportRow>,
    pub next: Option<String>,
}

fn distinct(ids: impl Iterator<Item = i32>) -> Vec<i32> {
    ids.collect::<BTreeSet<_>>().into_iter().collect()
}

impl Domain {
    /// The page of the export after `after` (the start when None), read as `caller`: the rows
    /// `ideas(filter, orderBy)` would list, in the same order.
    pub async fn export_page(
        &self,
        caller: &Caller,
        filter: &IdeaFilter,
        order: IdeaOrder,
        after: Option<String>,
    ) -> DomainResult<ExportPage> {
        let scope = caller.check_read()?;
        let select = self
            .ideas_matching(filter)?
            .filter(scope.on(idea::Column::RegencyId));
        let request = PageRequest {
            first: Some(EXPORT_PAGE as i32),
            after,
            last: None,
            before: None,
        };
        let limits = PageLimits {
            default: EXPORT_PAGE,
            max: EXPORT_PAGE,
        };
        let page = paginate(self.db(), select, &order.sort(), &request, limits).await?;
        let next = page
            .has_next_page
            .then(|| page.edges.last().map(|(cursor, _)| cursor.encode()))
            .flatten();
        let ideas: Vec<idea::Model> = page.edges.into_iter().map(|(_, idea)| idea).collect();
        let ids: Vec<i32> = ideas.iter().map(|i| i.id).collect();
        let units = self
            .units_by_id(caller, &distinct(ideas.iter().map(|i| i.unit_id)))
            .await?;
        let cohorts = self
            .cohorts_by_id(caller, &distinct(ideas.iter().map(|i| i.cohort_id)))
            .await?;
        let regencies = self
            .regencies_by_id(caller, &distinct(ideas.iter().map(|i| i.regency_id)))
            .await?;
        let assignments = self.assignments_of_ideas(caller, &ids).await?;
        let current = |id: &i32| {
            assignments
                .get(id)
                .into_iter()
                .flatten()
                .filter(|a| a.until.is_none())
                .map(|a| a.mentor_id)
        };
        let mentors: HashMap<i32, String> = self
            .mentors_by_id(caller, &distinct(ids.iter().flat_map(current)))
            .await?
            .into_iter()
            .map(|(id, m)| (id, m.name))
            .collect();
        let reviews = self.current_reviews_of_ideas(caller, &ids).await?;
        let plans = self.action_plans_of(caller, &ids).await?;
        let evidence = self.evidence_counts(caller, &ids).await?;
        let today = crate::domain::volatile::now().date_naive();
        let rows = ideas
            .into_iter()
            .map(|idea| ExportRow {
                regency_code: regencies
                    .get(&idea.regency_id)
                    .map(|r| r.code.clone())
                    .unwrap_or_default(),
                cohort: cohorts
                    .get(&idea.cohort_id)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                unit: units
                    .get(&idea.unit_id)
                    .map(|u| u.name.clone())
                    .unwrap_or_default(),
                unit_kind: units.get(&idea.unit_id).map(|u| u.kind),
                mentors: current(&idea.id)
                    .filter_map(|m| mentors.get(&m).cloned())
                    .collect(),
                score: reviews.get(&idea.id).and_then(|r| idea_score(r)),
                progress: plans.get(&idea.id).map(|p| p.progress(today)),
                evidence: evidence.get(&idea.id).copied().unwrap_or_default(),
                idea,
            })
            .collect();
        Ok(ExportPage { rows, next })
    }
}
