//! Mentor reviews: a LAN mentor assigned to an idea scores it on its cohort's rubric, with a
//! recommendation. The score of an idea, the review queue of a mentor and the Display ranking
//! of a cohort are read from the current reviews.

use std::collections::HashMap;

use entity::{IdeaStatus, PipelineEventKind, Recommendation, Stage, cohort, idea, mentor, review};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::access::{Caller, ReadScope};
use crate::domain::{
    Domain, group,
    write::{NewEvent, Work, Written, optional_text, required_text},
};
use crate::error::{DomainError, DomainResult};

/// One criterion of a rubric and its weight; a rubric's weights sum to 100.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Criterion {
    /// Machine key, e.g. `NOVELTY`.
    pub key: String,
    /// What a person reads, e.g. "Novelty (kebaruan)".
    pub name: String,
    pub weight: i32,
}

/// Most criteria a rubric may have.
pub const MAX_CRITERIA: usize = 12;

/// The default rubric, in the style of the regional innovation award: novelty 30,
/// usefulness 25, replicability 20, authority and regulation 15, mastery 10.
pub fn default_rubric() -> Vec<Criterion> {
    [
        ("NOVELTY", "Novelty (kebaruan)", 30),
        ("USEFULNESS", "Usefulness (kemanfaatan)", 25),
        ("REPLICABILITY", "Replicability (dapat direplikasi)", 20),
        ("AUTHORITY", "Authority and regulation (kewenangan)", 15),
        ("MASTERY", "Mastery (penguasaan)", 10),
    ]
    .into_iter()
    .map(|(key, name, weight)| Criterion {
        key: key.to_owned(),
        name: name.to_owned(),
        weight,
    })
    .collect()
}

/// The rubric a cohort's ideas are reviewed on.
pub fn rubric_of(cohort: &cohort::Model) -> Vec<Criterion> {
    cohort
        .rubric
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok())
        .unwrap_or_else(default_rubric)
}

/// A rubric with checked criteria: keys in upper snake case and unique, names given, weights
/// whole numbers from 1 that sum to 100.
pub fn check_rubric(criteria: &[Criterion]) -> DomainResult<Vec<Criterion>> {
    if criteria.is_empty() || criteria.len() > MAX_CRITERIA {
        return Err(DomainError::bad_input(format!(
            "A rubric has 1 to {MAX_CRITERIA} criteria; this one has {}.",
            criteria.len()
        )));
    }
    let mut checked: Vec<Criterion> = Vec::with_capacity(criteria.len());
    for criterion in criteria {
        let key = criterion.key.trim().to_uppercase();
        if key.is_empty()
            || key.len() > 40
            || !key
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(DomainError::bad_input(format!(
                "The criterion key \"{}\" must be 1 to 40 letters, digits or underscores, like NOVELTY.",
                crate::error::excerpt(criterion.key.trim())
            )));
        }
        if checked.iter().any(|c| c.key == key) {
            return Err(DomainError::bad_input(format!(
                "The criterion {key} is listed twice; each criterion appears once."
            )));
        }
        if !(1..=100).contains(&criterion.weight) {
            return Err(DomainError::bad_input(format!(
                "The weight of {key} is {}; a weight is a whole number from 1 to 100.",
                criterion.weight
            )));
        }
        checked.push(Criterion {
            name: required_text(&format!("The name of {key}"), &criterion.name, 200)?,
            key,
            weight: criterion.weight,
        });
    }
    let sum: i32 = checked.iter().map(|c| c.weight).sum();
    if sum != 100 {
        return Err(DomainError::bad_input(format!(
            "The weights sum to {sum}; a rubric's weights sum to 100."
        )));
    }
    Ok(checked)
}

/// One criterion as a mentor scores it.
#[derive(Debug, Clone)]
pub struct CriterionScore {
    pub criterion: String,
    pub score: i32,
    pub comment: Option<String>,
}

/// A criterion as a review stored it: the rubric's weight at the time, the score, the comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoredCriterion {
    pub key: String,
    pub name: String,
    pub weight: i32,
    pub score: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The criteria a stored review scored.
pub fn scored_criteria(review: &review::Model) -> Vec<ScoredCriterion> {
    serde_json::from_str(&review.scores).unwrap_or_default()
}

/// A mentor's review of an idea.
#[derive(Debug, Clone)]
pub struct NewReview {
    pub idea_id: i32,
    pub scores: Vec<CriterionScore>,
    pub recommendation: Recommendation,
    pub comment: Option<String>,
}

/// A committed review: the review, the idea it scores and its event.
#[derive(Debug, Clone)]
pub struct Reviewed {
    pub review: review::Model,
    pub idea: idea::Model,
    pub event: entity::pipeline_event::Model,
}

/// Scores a review on `rubric`: every criterion exactly once, each 0–100. The total is
/// Σ score × weight, in hundredths of a point.
pub fn score_on(
    rubric: &[Criterion],
    scores: &[CriterionScore],
) -> DomainResult<(Vec<ScoredCriterion>, i32)> {
    let mut given: HashMap<String, &CriterionScore> = HashMap::new();
    for score in scores {
        let key = score.criterion.trim().to_uppercase();
        let Some(criterion) = rubric.iter().find(|c| c.key == key) else {
            let keys: Vec<&str> = rubric.iter().map(|c| c.key.as_str()).collect();
            return Err(DomainError::bad_input(format!(
                "The rubric has no criterion {}; its criteria are {}.",
                crate::error::excerpt(&key),
                keys.join(", ")
            )));
        };
        if given.insert(criterion.key.clone(), score).is_some() {
            return Err(DomainError::bad_input(format!(
                "The criterion {key} is scored twice; score each criterion once."
            )));
        }
        if !(0..=100).contains(&score.score) {
            return Err(DomainError::bad_input(format!(
                "The score for {key} is {}; a score is a whole number from 0 to 100.",
                score.score
            )));
        }
    }
    let missing: Vec<&str> = rubric
        .iter()
        .filter(|c| !given.contains_key(&c.key))
        .map(|c| c.key.as_str())
        .collect();
    if !missing.is_empty() {
        let verb = if missing.len() == 1 { "is" } else { "are" };
        return Err(DomainError::bad_input(format!(
            "A review scores every criterion of the rubric; {} {verb} missing.",
            missing.join(", ")
        )));
    }
    let mut criteria = Vec::with_capacity(rubric.len());
    let mut total = 0;
    for criterion in rubric {
        let given = given[&criterion.key];
        total += given.score * criterion.weight;
        criteria.push(ScoredCriterion {
            key: criterion.key.clone(),
            name: criterion.name.clone(),
            weight: criterion.weight,
            score: given.score,
            comment: optional_text(
                &format!("The comment on {}", criterion.key),
                given.comment.as_deref(),
                2000,
            )?,
        });
    }
    Ok((criteria, total))
}

/// An idea's score: the mean of the weighted scores of its current reviews at the latest stage
/// it was reviewed in, in hundredths of a point, rounded half away from zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdeaScore {
    pub hundredths: i64,
    pub reviews: usize,
    pub stage: Stage,
}

impl IdeaScore {
    /// The score in points, 0–100, with two decimals.
    pub fn points(self) -> f64 {
        self.hundredths as f64 / 100.0
    }
}

/// The score of an idea from its current reviews (superseded ones are ignored).
pub fn idea_score(reviews: &[review::Model]) -> Option<IdeaScore> {
    let current = || reviews.iter().filter(|r| r.superseded_at.is_none());
    let stage = current().map(|r| r.stage).max()?;
    let totals: Vec<i64> = current()
        .filter(|r| r.stage == stage)
        .map(|r| i64::from(r.total))
        .collect();
    let n = totals.len() as i64;
    let sum: i64 = totals.iter().sum();
    // Integer division rounding half away from zero (all totals are non-negative).
    let hundredths = (2 * sum + n) / (2 * n);
    Some(IdeaScore {
        hundredths,
        reviews: totals.len(),
        stage,
    })
}

/// One place in a ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RankedIdea {
    /// 1 for the best; ideas with the same score and review count share nothing: ties are
    /// broken so that every idea has its own place.
    pub rank: usize,
    pub idea: idea::Model,
    pub score: Option<IdeaScore>,
    /// Its action plan's milestones (done, planned), if it has a plan.
    pub milestones: Option<(usize, usize)>,
}

/// Orders ideas for a ranking: by score (unscored last), then more current reviews, then the
/// earlier launch, then the earlier submission, then the smaller id — the same order every time.
pub fn rank(mut entries: Vec<(idea::Model, Option<IdeaScore>)>) -> Vec<RankedIdea> {
    entries.sort_by(|(a, sa), (b, sb)| {
        let key = |s: &Option<IdeaScore>| s.map(|s| (s.hundredths, s.reviews));
        key(sb)
            .cmp(&key(sa))
            .then_with(|| {
                // An earlier launch first; ideas never launched after launched ones.
                match (a.launched_on, b.launched_on) {
                    (Some(x), Some(y)) => x.cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                }
            })
            .then_with(|| a.submitted_at.cmp(&b.submitted_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    entries
        .into_iter()
        .enumerate()
        .map(|(i, (idea, score))| RankedIdea {
            rank: i + 1,
            idea,
            score,
            milestones: None,
        })
        .collect()
}

/// The idea `mentor_id` reviews, locked until the review is written. Only an idea the caller
/// may read (another counts as missing), that the mentor is assigned to now, and that is not
/// dropped takes a review.
async fn idea_to_review(work: &Work, idea_id: i32, mentor_id: i32) -> DomainResult<idea::Model> {
    let idea = idea::Entity::find_by_id(idea_id)
        .lock_exclusive()
        .one(&work.txn)
        .await?
        .filter(|i| {
            work.caller
                .read_scope()
                .is_ok_and(|s| s.allows(i.regency_id))
        })
        .ok_or_else(|| DomainError::not_found("No idea with this id exists."))?;
    if super::mentor::current_assignment(&work.txn, idea.id, mentor_id)
        .await?
        .is_none()
    {
        return Err(DomainError::Forbidden(
            "Only the mentors assigned to an idea review it, and you are not assigned to this one."
                .to_owned(),
        ));
    }
    if idea.status == IdeaStatus::Dropped {
        return Err(DomainError::InvalidTransition(
            "The idea is DROPPED, which is final; it takes no more reviews.".to_owned(),
        ));
    }
    Ok(idea)
}

/// Marks the mentor's current reviews of the idea at its current stage as superseded, at the
/// work's time: a new review replaces them, and they are kept.
async fn supersede_reviews(work: &Work, idea: &idea::Model, mentor_id: i32) -> DomainResult<()> {
    review::Entity::update_many()
        .col_expr(review::Column::SupersededAt, Expr::value(work.now()))
        .filter(review::Column::IdeaId.eq(idea.id))
        .filter(review::Column::MentorId.eq(mentor_id))
        .filter(review::Column::Stage.eq(idea.stage))
        .filter(review::Column::SupersededAt.is_null())
        .exec(&work.txn)
        .await?;
    Ok(())
}

impl Domain {
    by_ids!(/// Reviews by id.
        reviews_by_id, review, i32, |s: ReadScope| s.on_idea(review::Column::IdeaId));

    /// The current reviews of each idea (the loader behind `Idea.score`).
    pub async fn current_reviews_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<review::Model>>> {
        self.reviews_of_ideas(caller, ids, true).await
    }

    /// Every review of each idea, superseded ones included.
    pub async fn all_reviews_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
    ) -> DomainResult<HashMap<i32, Vec<review::Model>>> {
        self.reviews_of_ideas(caller, ids, false).await
    }

    /// Records a mentor's review of an idea assigned to them, at the idea's current stage. A
    /// review by the same mentor at the same stage is superseded (and kept).
    pub async fn review_idea(
        &self,
        caller: &Caller,
        new: NewReview,
    ) -> DomainResult<Written<Reviewed>> {
        let mut work = self.begin_mentor_work(caller).await?;
        let value = self.review_idea_in(&mut work, new).await?;
        self.finish(work, value).await
    }

    pub(crate) async fn review_idea_in(
        &self,
        work: &mut Work,
        new: NewReview,
    ) -> DomainResult<Reviewed> {
        let mentor_id = work.caller.check_mentor()?;
        let comment = optional_text("The comment", new.comment.as_deref(), 5000)?;
        let idea = idea_to_review(work, new.idea_id, mentor_id).await?;
        let cohort = cohort::Entity::find_by_id(idea.cohort_id)
            .one(&work.txn)
            .await?
            .ok_or_else(|| DomainError::not_found("The idea's cohort no longer exists."))?;
        let (scored, total) = score_on(&rubric_of(&cohort), &new.scores)?;
        let now = work.now();
        supersede_reviews(work, &idea, mentor_id).await?;
        let review = review::ActiveModel {
            idea_id: Set(idea.id),
            mentor_id: Set(mentor_id),
            stage: Set(idea.stage),
            recommendation: Set(new.recommendation),
            scores: Set(
                serde_json::to_string(&scored).map_err(|e| DomainError::Internal(e.into()))?
            ),
            total: Set(total),
            comment: Set(comment),
            created_at: Set(now),
            superseded_at: Set(None),
            ..Default::default()
        }
        .insert(&work.txn)
        .await?;
        let event = self.record_review(work, &idea, &review, mentor_id).await?;
        Ok(Reviewed {
            review,
            idea,
            event,
        })
    }

    /// Records a review as an event, naming the mentor who wrote it.
    async fn record_review(
        &self,
        work: &mut Work,
        idea: &idea::Model,
        review: &review::Model,
        mentor_id: i32,
    ) -> DomainResult<entity::pipeline_event::Model> {
        let mentor_name = mentor::Entity::find_by_id(mentor_id)
            .one(&work.txn)
            .await?
            .map(|m| m.name)
            .unwrap_or_default();
        self.record_event(
            work,
            NewEvent {
                idea_id: Some(idea.id),
                unit_id: Some(idea.unit_id),
                stage: Some(idea.stage),
                payload: json!({
                    "title": idea.title,
                    "mentor": mentor_name,
                    "recommendation": review.recommendation.as_str(),
                    "score": f64::from(review.total) / 100.0,
                }),
                ..NewEvent::about(idea.regency_id, PipelineEventKind::IdeaReviewed)
            },
        )
        .await
    }

    /// The reviews of each idea, oldest first; with `current_only`, superseded ones are left out.
    pub async fn reviews_of_ideas(
        &self,
        caller: &Caller,
        ids: &[i32],
        current_only: bool,
    ) -> DomainResult<HashMap<i32, Vec<review::Model>>> {
        let scope = caller.check_read()?;
        let mut select = review::Entity::find()
            .filter(review::Column::IdeaId.is_in(ids.iter().copied()))
            .filter(scope.on_idea(review::Column::IdeaId));
        if current_only {
            select = select.filter(review::Column::SupersededAt.is_null());
        }
        let rows = select
            .order_by_asc(review::Column::CreatedAt)
            .order_by_asc(review::Column::Id)
            .all(self.db())
            .await?;
        Ok(group(rows, |r| r.idea_id))
    }

    /// Whether any idea of the cohort has been reviewed (its rubric is then fixed).
    pub(crate) async fn cohort_has_reviews(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        cohort_id: i32,
    ) -> DomainResult<bool> {
        let n = review::Entity::find()
            .filter(
                review::Column::IdeaId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(idea::Column::Id)
                        .from(idea::Entity)
                        .and_where(idea::Column::CohortId.eq(cohort_id))
                        .to_owned(),
                ),
            )
            .count(txn)
            .await?;
        Ok(n > 0)
    }

    /// The ideas of a cohort at `stage_at_least` or beyond (dropped ones left out), ranked by
    /// score; see [`rank`] for the order.
    pub async fn ranking(
        &self,
        caller: &Caller,
        cohort_id: i32,
        stage_at_least: Stage,
    ) -> DomainResult<(cohort::Model, Vec<RankedIdea>)> {
        let scope = caller.check_read()?;
        let cohort = self.readable_cohort(scope, cohort_id).await?;
        let ideas = idea::Entity::find()
            .filter(idea::Column::CohortId.eq(cohort_id))
            .filter(idea::Column::Stage.gte(stage_at_least))
            .filter(idea::Column::Status.ne(IdeaStatus::Dropped))
            .all(self.db())
            .await?;
        let ids: Vec<i32> = ideas.iter().map(|i| i.id).collect();
        let mut reviews = HashMap::new();
        for chunk in ids.chunks(1000) {
            reviews.extend(self.reviews_of_ideas(caller, chunk, true).await?);
        }
        let entries = ideas
            .into_iter()
            .map(|idea| {
                let idea_score = reviews.get(&idea.id).and_then(|r| idea_score(r));
                (idea, idea_score)
            })
            .collect();
        let mut ranked = rank(entries);
        let mut plans = HashMap::new();
        for chunk in ids.chunks(1000) {
            plans.extend(self.action_plans_of(caller, chunk).await?);
        }
        for entry in &mut ranked {
            entry.milestones = plans
                .get(&entry.idea.id)
                .map(super::action_plan::ActionPlan::done_of_planned);
        }
        Ok((cohort, ranked))
    }

    /// A cohort the caller may read, or NOT_FOUND.
    pub(crate) async fn readable_cohort(
        &self,
        scope: ReadScope,
        cohort_id: i32,
    ) -> DomainResult<cohort::Model> {
        cohort::Entity::find_by_id(cohort_id)
            .filter(scope.on(cohort::Column::RegencyId))
            .one(self.db())
            .await?
            .ok_or_else(|| DomainError::not_found("No cohort with this id exists."))
    }

    /// The mentor whose review queue `caller` asks for: the caller's own without `asked`;
    /// another mentor's only for callers who may read every regency.
    pub fn queue_owner(&self, caller: &Caller, asked: Option<i32>) -> DomainResult<i32> {
        caller.check_read()?;
        match (asked, caller.mentor_id()) {
            (Some(asked), Some(own)) if asked == own => Ok(own),
            (None, Some(own)) => Ok(own),
            (None, None) => Err(DomainError::bad_input(
                "Your token names no mentor; give `mentorId` to see a mentor's review queue.",
            )),
            (Some(asked), _) => {
                caller.check_read()?;
                Ok(asked)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An idea of id `id`, submitted on day `submitted` of 2019 and launched on day `launched`.
    fn idea_of(id: i32, submitted: u32, launched: Option<u32>) -> idea::Model {
        let day = |d: u32| chrono::NaiveDate::from_yo_opt(2019, d).expect("a day of 2019");
        let at = day(submitted)
            .and_hms_opt(8, 0, 0)
            .expect("a time")
            .and_utc();
        idea::Model {
            id,
            regency_id: 1,
            cohort_id: 1,
            unit_id: 1,
            title: format!("Ide {id}"),
            problem: String::new(),
            description: String::new(),
            innovation_type: entity::InnovationType::Digital,
            form: entity::InnovationForm::PublicService,
            affairs_area: String::new(),
            initiator: entity::Initiator::WorkUnit,
            stage: Stage::Deliver,
            status: entity::IdeaStatus::Active,
            status_reason: None,
            stall_reason: None,
            stage_entered_at: at,
            innovator_name: None,
            innovator_position: None,
            maturity: entity::Maturity::Trial,
            submitted_at: at,
            launched_on: launched.map(day),
            version: 1,
            created_at: at,
            updated_at: at,
        }
    }

    fn score(hundredths: i64, reviews: usize) -> IdeaScore {
        IdeaScore {
            hundredths,
            reviews,
            stage: Stage::Deliver,
        }
    }

    /// The README's order: the higher score, then more current reviews, then the earlier
    /// launch (launched before never launched), then the earlier submission, then the smaller
    /// id; unscored ideas last. Each pair below differs only in the key it tests.
    #[test]
    fn the_ranking_breaks_every_tie_the_same_way() {
        let ranked = rank(vec![
            (idea_of(9, 10, None), None),
            (idea_of(8, 10, Some(60)), Some(score(7000, 2))),
            (idea_of(7, 10, Some(60)), Some(score(7000, 3))),
            (idea_of(6, 10, Some(50)), Some(score(7000, 2))),
            (idea_of(5, 12, Some(60)), Some(score(7000, 2))),
            (idea_of(4, 10, Some(60)), Some(score(7000, 2))),
            (idea_of(3, 10, None), Some(score(7000, 2))),
            (idea_of(2, 10, None), Some(score(9000, 1))),
            (idea_of(1, 10, None), None),
        ]);
        let order: Vec<i32> = ranked.iter().map(|r| r.idea.id).collect();
        // 2: the best score; 7: more reviews; 6: the earliest launch; 4 before 8: the smaller
        // id; 5: a later submission; 3: never launched; 1 and 9: unscored, by id.
        assert_eq!(order, [2, 7, 6, 4, 8, 5, 3, 1, 9]);
        let places: Vec<usize> = ranked.iter().map(|r| r.rank).collect();
        assert_eq!(
            places,
            (1..=9).collect::<Vec<_>>(),
            "every idea has its own place"
        );
    }

    fn scores(values: &[(&str, i32)]) -> Vec<CriterionScore> {
        values
            .iter()
            .map(|(k, v)| CriterionScore {
                criterion: (*k).to_owned(),
                score: *v,
                comment: None,
            })
            .collect()
    }

    #[test]
    fn the_default_rubric_weighs_like_the_award() {
        let rubric = default_rubric();
        let weights: Vec<i32> = rubric.iter().map(|c| c.weight).collect();
        assert_eq!(weights, [30, 25, 20, 15, 10]);
        assert!(check_rubric(&rubric).is_ok());
    }

    #[test]
    fn weights_must_sum_to_100() {
        let mut rubric = default_rubric();
        rubric[0].weight = 31;
        let err = check_rubric(&rubric).unwrap_err().message().to_owned();
        assert!(err.contains("sum to 101"), "{err}");
        rubric[0].weight = 0;
        assert!(check_rubric(&rubric).is_err());
        let doubled = [rubric[1].clone(), rubric[1].clone()];
        assert!(check_rubric(&doubled).is_err());
    }

    #[test]
    fn the_total_is_the_weighted_sum_in_hundredths() {
        let rubric = default_rubric();
        let (_, total) = score_on(
            &rubric,
            &scores(&[
                ("novelty", 80),
                ("USEFULNESS", 70),
                ("REPLICABILITY", 60),
                ("AUTHORITY", 90),
                ("MASTERY", 50),
            ]),
        )
        .unwrap();
        // 80×30 + 70×25 + 60×20 + 90×15 + 50×10 = 2400 + 1750 + 1200 + 1350 + 500
        assert_eq!(total, 7200);
        let missing = score_on(&rubric, &scores(&[("NOVELTY", 80)])).unwrap_err();
        assert!(
            missing.message().contains("USEFULNESS"),
            "{}",
            missing.message()
        );
        let out_of_range = score_on(
            &rubric,
            &scores(&[
                ("NOVELTY", 101),
                ("USEFULNESS", 70),
                ("REPLICABILITY", 60),
                ("AUTHORITY", 90),
                ("MASTERY", 50),
            ]),
        );
        assert!(out_of_range.is_err());
    }

    fn review(stage: Stage, total: i32, superseded: bool) -> review::Model {
        review::Model {
            id: 0,
            idea_id: 1,
            mentor_id: 1,
            stage,
            recommendation: Recommendation::Advance,
            scores: "[]".to_owned(),
            total,
            comment: None,
            created_at: chrono::Utc::now(),
            superseded_at: superseded.then(chrono::Utc::now),
        }
    }

    #[test]
    fn the_score_is_the_mean_of_the_latest_current_reviews() {
        assert_eq!(idea_score(&[]), None);
        let reviews = [
            review(Stage::Design, 9000, false),
            review(Stage::Deliver, 7200, false),
            review(Stage::Deliver, 8101, false),
            review(Stage::Deliver, 1000, true),
        ];
        let score = idea_score(&reviews).unwrap();
        assert_eq!(score.stage, Stage::Deliver);
        assert_eq!(score.reviews, 2);
        // (7200 + 8101) / 2 = 7650.5, rounded half up.
        assert_eq!(score.hundredths, 7651);
        assert!((score.points() - 76.51).abs() < 1e-9);
    }
}
