//! Mentor reviews on a cohort's rubric, the review queue, the Display ranking, stale ideas and
//! hand-overs between innovators.

use async_graphql::{Context, ID, InputObject, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{hand_over, review};

use super::{
    connection::page_request,
    context,
    enums::{Recommendation, Stage},
    event::PipelineEvent,
    idea::{Idea, IdeaFilter, IdeaOrder, IdeaOrderField, IdeaPage, OrderDirection, idea_page},
    ids::{self, Kind},
    loaders::{self, Loaders, MentorId},
    mentor::Mentor,
    regency::Cohort,
};
use crate::domain::{
    Domain,
    idea::IdeaFilter as DomainFilter,
    review::{self as domain, CriterionScore, NewReview},
};

/// One criterion of a cohort's review rubric and its weight.
#[derive(SimpleObject, Clone)]
pub struct RubricCriterion {
    /// Machine key, e.g. NOVELTY.
    pub key: String,
    /// What a person reads, e.g. "Novelty (kebaruan)".
    pub name: String,
    /// Weight in percent; a rubric's weights sum to 100.
    pub weight: i32,
}

impl From<domain::Criterion> for RubricCriterion {
    fn from(c: domain::Criterion) -> Self {
        Self {
            key: c.key,
            name: c.name,
            weight: c.weight,
        }
    }
}

/// A criterion of a rubric, as a cohort sets it.
#[derive(InputObject, Clone)]
pub struct RubricCriterionInput {
    /// Machine key: letters, digits and underscores, e.g. NOVELTY.
    pub key: String,
    /// What a person reads.
    pub name: String,
    /// Weight in percent, 1–100; the weights of a rubric sum to 100.
    pub weight: i32,
}

impl From<RubricCriterionInput> for domain::Criterion {
    fn from(c: RubricCriterionInput) -> Self {
        Self {
            key: c.key,
            name: c.name,
            weight: c.weight,
        }
    }
}

/// One criterion as a review scored it, with the weight the rubric had then.
#[derive(SimpleObject)]
pub struct CriterionScoreEntry {
    /// The criterion's key.
    pub criterion: String,
    /// The criterion's name.
    pub name: String,
    /// Its weight in percent when the review was written.
    pub weight: i32,
    /// The score, 0–100.
    pub score: i32,
    /// The mentor's comment on this criterion.
    pub comment: Option<String>,
}

/// A LAN mentor's review of an idea at a stage, scored on the cohort's rubric.
pub struct Review(pub review::Model);

/// A LAN mentor's review of an idea at a stage, scored on the cohort's rubric.
#[Object]
impl Review {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Review, self.0.id)
    }

    /// The mentor who wrote it.
    async fn mentor(&self, ctx: &Context<'_>) -> Result<Mentor> {
        Ok(Mentor::from(
            loaders::required(ctx.data::<Loaders>()?, MentorId(self.0.mentor_id)).await?,
        ))
    }

    /// The idea's stage when it was reviewed.
    async fn stage(&self) -> Stage {
        self.0.stage.into()
    }

    /// ADVANCE, REVISE or DROP.
    async fn recommendation(&self) -> Recommendation {
        self.0.recommendation.into()
    }

    /// Each criterion's score, in the rubric's order.
    async fn scores(&self) -> Vec<CriterionScoreEntry> {
        domain::scored_criteria(&self.0)
            .into_iter()
            .map(|c| CriterionScoreEntry {
                criterion: c.key,
                name: c.name,
                weight: c.weight,
                score: c.score,
                comment: c.comment,
            })
            .collect()
    }

    /// The weighted score, 0–100 with two decimals: Σ score × weight / 100.
    async fn total(&self) -> f64 {
        f64::from(self.0.total) / 100.0
    }

    /// The mentor's overall comment.
    async fn comment(&self) -> Option<&str> {
        self.0.comment.as_deref()
    }

    /// When it was written.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Whether it still counts: false once the same mentor reviewed the idea again at the
    /// same stage.
    async fn current(&self) -> bool {
        self.0.superseded_at.is_none()
    }

    /// When a newer review of the same mentor at the same stage replaced it.
    async fn superseded_at(&self) -> Option<DateTime<Utc>> {
        self.0.superseded_at
    }
}

/// An idea passed from one innovator to another. Never edited, never deleted.
pub struct HandOver(pub hand_over::Model);

/// An idea passed from one innovator to another. Never edited, never deleted.
#[Object]
impl HandOver {
    /// The innovator before; null when the idea named none.
    async fn from(&self) -> Option<Innovator> {
        self.0.from_name.as_ref().map(|name| Innovator {
            name: name.clone(),
            position: self.0.from_position.clone().unwrap_or_default(),
        })
    }

    /// The innovator after.
    async fn to(&self) -> Innovator {
        Innovator {
            name: self.0.to_name.clone(),
            position: self.0.to_position.clone(),
        }
    }

    /// Why (for example "inovator dimutasi ke Dinas Kesehatan").
    async fn reason(&self) -> &str {
        &self.0.reason
    }

    /// Who recorded it.
    async fn actor(&self) -> &str {
        &self.0.actor
    }

    /// When.
    async fn at(&self) -> DateTime<Utc> {
        self.0.at
    }
}

/// The person carrying an innovation in its unit. Only a name and a position: labinov keeps
/// no identity numbers.
#[derive(SimpleObject, Clone)]
pub struct Innovator {
    /// Full name.
    pub name: String,
    /// Position in the unit, e.g. "Kepala Seksi Pelayanan".
    pub position: String,
}

/// The person carrying an innovation.
#[derive(InputObject)]
pub struct InnovatorInput {
    /// Full name (no NIK or NIP).
    pub name: String,
    /// Position in the unit.
    pub position: String,
}

impl From<InnovatorInput> for crate::domain::idea::moves::Innovator {
    fn from(i: InnovatorInput) -> Self {
        Self {
            name: i.name,
            position: i.position,
        }
    }
}

/// One place in a ranking.
pub struct RankingEntry(domain::RankedIdea);

/// One place in a ranking.
#[Object]
impl RankingEntry {
    /// 1 for the best; every idea has its own place.
    async fn rank(&self) -> usize {
        self.0.rank
    }

    /// The idea.
    async fn idea(&self) -> Idea {
        Idea::from(self.0.idea.clone())
    }

    /// Its score, 0–100 with two decimals; null while it has no current review.
    async fn score(&self) -> Option<f64> {
        self.0.score.map(domain::IdeaScore::points)
    }

    /// How many current reviews the score is the mean of.
    async fn review_count(&self) -> usize {
        self.0.score.map_or(0, |s| s.reviews)
    }

    /// Its action plan's milestones, done of planned (dropped ones left out); null without a
    /// plan. Shown next to the score on the Display screen.
    async fn milestones(&self) -> Option<super::aggregate::MilestoneCounts> {
        self.0
            .milestones
            .map(|(done, planned)| super::aggregate::MilestoneCounts {
                done: done as u64,
                planned: planned as u64,
            })
    }
}

/// A cohort's ideas at or past a stage, ordered by score. Ties are broken the same way every
/// time: more current reviews first, then the earlier launch, the earlier submission, the
/// smaller id. Dropped ideas are left out; unreviewed ones come last.
pub struct Ranking {
    cohort: entity::cohort::Model,
    stage_at_least: entity::Stage,
    entries: Vec<domain::RankedIdea>,
}

/// A cohort's ideas at or past a stage, ordered by score. Ties are broken the same way every
/// time: more current reviews first, then the earlier launch, the earlier submission, the
/// smaller id. Dropped ideas are left out; unreviewed ones come last.
#[Object]
impl Ranking {
    /// The lab edition ranked.
    async fn cohort(&self) -> Cohort {
        Cohort::from(self.cohort.clone())
    }

    /// The stage the ideas are at or past.
    async fn stage_at_least(&self) -> Stage {
        self.stage_at_least.into()
    }

    /// The ideas, best first: the first `first` of them (up to the server's maximum page
    /// size, which is also the default).
    #[allow(
        clippy::unused_async,
        reason = "async-graphql resolvers that take the context are async"
    )]
    async fn entries(&self, ctx: &Context<'_>, first: Option<i32>) -> Result<Vec<RankingEntry>> {
        let max = ctx.data::<Domain>()?.page_limits().max as usize;
        let first = match first {
            None => max,
            Some(n) if n >= 0 && n as usize <= max => n as usize,
            Some(n) => {
                return Err(crate::error::DomainError::bad_input(format!(
                    "`first` is {n}; give a number from 0 to {max} (the server's maximum page size)."
                ))
                .into());
            }
        };
        Ok(self
            .entries
            .iter()
            .take(first)
            .cloned()
            .map(RankingEntry)
            .collect())
    }

    /// How many ideas are ranked.
    async fn total(&self) -> usize {
        self.entries.len()
    }

    /// How many of them have a score.
    async fn scored(&self) -> usize {
        self.entries.iter().filter(|e| e.score.is_some()).count()
    }
}

impl Ranking {
    pub fn new(
        cohort: entity::cohort::Model,
        stage_at_least: entity::Stage,
        entries: Vec<domain::RankedIdea>,
    ) -> Self {
        Self {
            cohort,
            stage_at_least,
            entries,
        }
    }
}

/// Ideas in the order they have waited longest in their stage.
fn oldest_in_stage() -> IdeaOrder {
    IdeaOrder {
        field: IdeaOrderField::StageEnteredAt,
        direction: OrderDirection::Asc,
    }
}

#[derive(Default)]
pub struct ReviewQuery;

#[Object]
impl ReviewQuery {
    /// The ideas a mentor coaches that wait for the mentor's review at their current stage,
    /// longest waiting first (dropped ideas left out). A MENTOR token sees its own queue
    /// without `mentorId`; `filter` narrows it (a regency, a cohort, a stage).
    async fn review_queue(
        &self,
        ctx: &Context<'_>,
        mentor_id: Option<ID>,
        filter: Option<IdeaFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdeaPage> {
        let asked = ids::decode_opt(Kind::Mentor, &mentor_id)?;
        let mentor = ctx
            .data::<Domain>()?
            .queue_owner(&context::caller(ctx), asked)?;
        let queue = DomainFilter {
            awaiting_review_by: Some(mentor),
            ..DomainFilter::default()
        };
        idea_page(
            ctx,
            IdeaFilter::scoped(filter, queue)?,
            Some(oldest_in_stage()),
            page_request(first, after, None, None),
        )
        .await
    }

    /// Ideas that need following up: active or stalled, before DISPLAY, that have not moved for
    /// more than `days` days or whose action plan has a milestone past its due date and not
    /// done; in their stage since longest first — the organiser's follow-up list. `filter`
    /// narrows it (a regency, a cohort, a stall reason).
    async fn stale_ideas(
        &self,
        ctx: &Context<'_>,
        days: i32,
        filter: Option<IdeaFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<IdeaPage> {
        if !(0..=36_500).contains(&days) {
            return Err(crate::error::DomainError::bad_input(format!(
                "`days` is {days}; give a number of days from 0 to 36500."
            ))
            .into());
        }
        let stale = DomainFilter {
            any_of: vec![
                DomainFilter {
                    in_stage_longer_than_days: Some(days),
                    ..DomainFilter::default()
                },
                DomainFilter {
                    overdue_milestones: Some(true),
                    ..DomainFilter::default()
                },
            ],
            statuses: Some(vec![
                entity::IdeaStatus::Active,
                entity::IdeaStatus::Stalled,
            ]),
            stages: Some(
                entity::Stage::ALL
                    .into_iter()
                    .filter(|s| *s != entity::Stage::Display)
                    .collect(),
            ),
            ..DomainFilter::default()
        };
        idea_page(
            ctx,
            IdeaFilter::scoped(filter, stale)?,
            Some(oldest_in_stage()),
            page_request(first, after, None, None),
        )
        .await
    }

    /// A cohort's ideas at or past `stageAtLeast` (DELIVER by default: the launched ones),
    /// ranked by their mentors' scores.
    async fn ranking(
        &self,
        ctx: &Context<'_>,
        cohort_id: ID,
        #[graphql(default_with = "Stage::Deliver")] stage_at_least: Stage,
    ) -> Result<Ranking> {
        let cohort_id = ids::decode(Kind::Cohort, &cohort_id)?;
        let (cohort, entries) = ctx
            .data::<Domain>()?
            .ranking(&context::caller(ctx), cohort_id, stage_at_least.into())
            .await?;
        Ok(Ranking::new(cohort, stage_at_least.into(), entries))
    }
}

/// One criterion's score in a review.
#[derive(InputObject)]
pub struct CriterionScoreInput {
    /// The criterion's key, e.g. NOVELTY.
    pub criterion: String,
    /// 0–100.
    pub score: i32,
    /// Why this score.
    pub comment: Option<String>,
}

/// A mentor's review of an idea assigned to them, at the idea's current stage.
#[derive(InputObject)]
pub struct ReviewIdeaInput {
    /// The idea.
    pub idea_id: ID,
    /// One score per criterion of the cohort's rubric.
    pub scores: Vec<CriterionScoreInput>,
    /// ADVANCE, REVISE or DROP.
    pub recommendation: Recommendation,
    /// An overall comment.
    pub comment: Option<String>,
}

/// A review after it was written, the idea it scores and the event it recorded.
#[derive(SimpleObject)]
pub struct ReviewPayload {
    /// The review.
    pub review: Review,
    /// The idea reviewed (its `score` now counts the review).
    pub idea: Idea,
    /// The IDEA_REVIEWED event.
    pub event: PipelineEvent,
}

#[derive(Default)]
pub struct ReviewMutation;

#[Object]
impl ReviewMutation {
    /// Scores an idea on its cohort's rubric, as the mentor the token names. Only mentors
    /// assigned to the idea review it, and not once it is dropped. A new review by the same
    /// mentor at the same stage supersedes the previous one, which stays in the history.
    async fn review_idea(
        &self,
        ctx: &Context<'_>,
        input: ReviewIdeaInput,
    ) -> Result<ReviewPayload> {
        let new = NewReview {
            idea_id: ids::decode(Kind::Idea, &input.idea_id)?,
            scores: input
                .scores
                .into_iter()
                .map(|s| CriterionScore {
                    criterion: s.criterion,
                    score: s.score,
                    comment: s.comment,
                })
                .collect(),
            recommendation: input.recommendation.into(),
            comment: input.comment,
        };
        let written = ctx
            .data::<Domain>()?
            .review_idea(&context::caller(ctx), new)
            .await?;
        context::after_write(ctx);
        let reviewed = written.value;
        Ok(ReviewPayload {
            review: Review(reviewed.review),
            idea: Idea::from(reviewed.idea),
            event: reviewed.event.into(),
        })
    }
}
