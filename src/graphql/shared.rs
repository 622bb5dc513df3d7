//! Subscription results shared among subscribers. A thousand screens following one regency
//! with the same selection would each resolve every event's fields: the same reads, the same
//! resolvers, the same answer. Here the first of them resolves it and the others take a copy
//! of its answer, so an event costs one resolution per distinct selection, caller class and
//! position rather than one per subscriber.
//!
//! What may be shared is exact: the answer depends on the event, the subscriber's cursor
//! after it (a field of the answer), the selection (the operation's text, fragments and
//! variables) and what the caller may see (role, regency, mentor — not who they are). A
//! resolution that met an error is never shared: each subscriber then resolves on its own.
//! Answers are kept for a few seconds only, as some fields (days in a stage) change with time.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_graphql::{
    ContextSelectionSet, OutputType, Positioned, ServerResult, Value, parser::types::Field,
    registry::Registry,
};
use tokio::sync::OnceCell;

/// At most this many answers are kept (a thousand subscribers in four groups at 20 events a
/// second need 400; the bound keeps many distinct selections from holding much memory)…
const KEPT: usize = 1024;
/// …for at most this long.
const FRESH: Duration = Duration::from_secs(5);

/// One answer, once resolved: None when its resolution met an error (not shared).
type Answer = Arc<OnceCell<Option<Value>>>;

/// What makes two subscribers' answers to one event the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    event: i64,
    cursor: String,
    selection: Selection,
}

/// A subscription's selection and caller class, as a keyed hash: a few bytes per subscriber
/// instead of the operation's text. The key is random per process, so no client can make two
/// selections collide on purpose; by chance, with a 64-bit hash, practically never.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Selection(u64);

/// The answers shared among subscribers, recent ones only.
#[derive(Default)]
pub struct SharedResults(Mutex<Kept>, std::hash::RandomState);

#[derive(Default)]
struct Kept {
    answers: HashMap<Key, (Instant, Answer)>,
    order: VecDeque<(Instant, Key)>,
}

impl SharedResults {
    /// The answer for `key`: one being resolved or resolved lately, or a new one to resolve.
    fn answer(&self, key: Key) -> Answer {
        let mut kept = match self.0.lock() {
            Ok(kept) => kept,
            Err(poisoned) => poisoned.into_inner(),
        };
        let now = Instant::now();
        while let Some((at, _)) = kept.order.front()
            && (kept.order.len() >= KEPT || now.duration_since(*at) > FRESH)
        {
            if let Some((at, old)) = kept.order.pop_front()
                && kept.answers.get(&old).is_some_and(|(made, _)| *made == at)
            {
                kept.answers.remove(&old);
            }
        }
        if let Some((made, answer)) = kept.answers.get(&key)
            && now.duration_since(*made) <= FRESH
        {
            return answer.clone();
        }
        let answer = Answer::default();
        kept.order.push_back((now, key.clone()));
        kept.answers.insert(key, (now, answer.clone()));
        answer
    }

    /// How many answers are kept (for tests).
    pub fn len(&self) -> usize {
        self.0.lock().map_or(0, |kept| kept.answers.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// What a subscription shares its answers by: its selection (the field with its
    /// arguments and sub-selection, the fragments and the variables) and the caller's class,
    /// worked out once when it starts; None when nothing may be shared (a caller of the
    /// server's own).
    pub fn selection_of(
        &self,
        ctx: &async_graphql::Context<'_>,
        caller: &crate::access::Caller,
    ) -> Option<Selection> {
        use std::hash::BuildHasher;
        let class = caller.sharing_class()?;
        let fragments: BTreeMap<_, _> = ctx.query_env.fragments.iter().collect();
        let text = format!(
            "{class}|{:?}|{fragments:?}|{:?}",
            ctx.item.node, ctx.query_env.variables
        );
        Some(Selection(self.1.hash_one(text)))
    }
}

/// A subscription item whose answer is shared with the subscribers that asked the same.
pub struct Shared<T> {
    pub item: T,
    /// The event's id and the cursor after it, and the subscription's selection.
    key: Option<Key>,
    results: Arc<SharedResults>,
}

/// Where a subscription item's answer is shared, before the item is made.
pub struct ShareBy {
    key: Option<Key>,
    results: Arc<SharedResults>,
}

impl ShareBy {
    /// The item shared this way.
    pub fn of<T>(self, item: T) -> Shared<T> {
        Shared {
            item,
            key: self.key,
            results: self.results,
        }
    }
}

impl Shared<()> {
    /// Shares by the event's id, the subscriber's cursor after it and the subscription's
    /// selection (None: not shared).
    pub fn key(
        event: i64,
        cursor: &str,
        selection: Option<Selection>,
        results: &Arc<SharedResults>,
    ) -> ShareBy {
        ShareBy {
            key: selection.map(|selection| Key {
                event,
                cursor: cursor.to_owned(),
                selection,
            }),
            results: results.clone(),
        }
    }
}

fn errors_so_far(ctx: &ContextSelectionSet<'_>) -> usize {
    ctx.query_env.errors.lock().map_or(0, |errors| errors.len())
}

impl<T: OutputType> OutputType for Shared<T> {
    fn type_name() -> std::borrow::Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> std::borrow::Cow<'static, str> {
        self.item.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let Some(key) = &self.key else {
            return self.item.resolve(ctx, field).await;
        };
        let answer = self.results.answer(key.clone());
        let mut mine = None;
        let resolved = &mut mine;
        let shared = answer
            .get_or_init(|| async move {
                let before = errors_so_far(ctx);
                let result = self.item.resolve(ctx, field).await;
                // Errors of nested fields are reported through the context, not the result.
                let clean = errors_so_far(ctx) == before;
                let share = match (&result, clean) {
                    (Ok(value), true) => Some(value.clone()),
                    _ => None,
                };
                *resolved = Some(result);
                share
            })
            .await;
        match (mine, shared) {
            (Some(result), _) => result,
            (None, Some(value)) => {
                metrics::counter!("labinov_subscription_results_shared_total").increment(1);
                Ok(value.clone())
            }
            (None, None) => self.item.resolve(ctx, field).await,
        }
    }
}
