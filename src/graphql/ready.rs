//! Objects whose fields are mostly ready at once, such as the dashboard page's ideas with their
//! unit, cohort, regency and mentors, all read with the page.
//!
//! async-graphql resolves every field of an object as a boxed future of its generated
//! `resolve_field` (as large as the type's largest resolver), run by a `FuturesUnordered`, also
//! a field that only reads a column: a page of 50 ideas with their owners made over 500 of
//! them. [`Ready`] answers a type's [`Plain`] fields (its columns, and the owners its page read
//! with it) by calling their own resolver methods and polling them once; every other field is
//! boxed and awaited with the others, as async-graphql does.
//!
//! Nothing that can wait is polled and then dropped, so no statement is sent twice: a plain
//! field is one whose resolver answers at once by construction, and while a plain field's
//! value is resolved at once ([`now`]), an object below it that has a field to await answers
//! "not now" without polling that field; the whole field is then resolved the usual way.
//!
//! The answer is async-graphql's: the same resolvers and output types, errors with the same
//! paths (a field that fails is left to async-graphql's own resolver, which gives its error),
//! fragments applied by the same rules and repeated keys merged alike. An object with a custom
//! directive on one of its fields is resolved by async-graphql itself. Schema extensions'
//! per-field hooks would not run for ready fields: the schema has none, on purpose
//! ([`super::engine`] does their work around each request).

use std::{
    borrow::Cow,
    cell::Cell,
    future::Future,
    pin::pin,
    task::{Context as PollContext, Poll, Waker},
};

use async_graphql::{
    Context, ContextSelectionSet, Name, ObjectType, OutputType, Positioned, ServerResult, Value,
    futures_util::future::{BoxFuture, join_all},
    indexmap::{IndexMap, map::Entry},
    parser::types::{Field, Selection},
    registry::Registry,
    resolver_utils::resolve_container,
};

/// An object of type `T` whose ready fields are answered without a future each; the schema
/// sees `T` itself.
pub struct Ready<T>(pub T);

/// The fields a type answers from what it holds: each through the resolver method the schema
/// calls for it, by the field's name.
pub trait Plain: ObjectType {
    /// The value of `ctx`'s field if it is one of the type's plain fields and is ready without
    /// an error; None leaves the field to async-graphql's resolver. A field is listed only
    /// where its resolver answers without waiting (a column, an owner the page read).
    fn plain(&self, ctx: &Context<'_>) -> Option<Value>;
}

thread_local! {
    /// Set while [`now`] resolves a value at once: a [`Ready`] object below it with a field to
    /// await answers "not now" instead of polling that field.
    static AT_ONCE: Cell<bool> = const { Cell::new(false) };
}

/// A plain field's value: its resolver's `resolving` output, resolved as its output type, if
/// both are ready at once and without an error.
pub fn now<V: OutputType>(resolving: impl Future<Output = V>, ctx: &Context<'_>) -> Option<Value> {
    let value = poll_once(resolving)?;
    let below = ctx.with_selection_set(&ctx.item.node.selection_set);
    let _at_once = AtOnce::begin();
    poll_once(value.resolve(&below, ctx.item))?.ok()
}

/// [`AT_ONCE`] set while it lives, and put back as it was when dropped, also by a panic.
struct AtOnce(bool);

impl AtOnce {
    fn begin() -> Self {
        Self(AT_ONCE.replace(true))
    }
}

impl Drop for AtOnce {
    fn drop(&mut self) {
        AT_ONCE.set(self.0);
    }
}

/// The future's output if it is ready at its first poll.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut PollContext::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

impl<T: Plain> OutputType for Ready<T> {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn qualified_type_name() -> String {
        T::qualified_type_name()
    }

    fn introspection_type_name(&self) -> Cow<'static, str> {
        self.0.introspection_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        T::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        _field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        resolve(&self.0, ctx).await
    }
}

/// A field's answer: given at once, or still to be awaited.
enum Answer<'a> {
    Now(ServerResult<Value>),
    Later(BoxFuture<'a, ServerResult<Value>>),
}

/// Why an object goes to async-graphql's own resolution instead.
struct Unusual;

/// Resolves `root`'s selection in `ctx` as async-graphql's `resolve_container` does.
///
/// Its future is kept small (async-graphql's own resolution, kilobytes of future, is boxed):
/// a page makes one for each of its objects, and each is moved a few times before it is polled.
async fn resolve<'a, T: Plain>(root: &'a T, ctx: &ContextSelectionSet<'a>) -> ServerResult<Value> {
    let mut answers = Vec::with_capacity(ctx.item.node.items.len());
    if collect(root, ctx, &mut answers).is_err() {
        if AT_ONCE.get() {
            return std::future::pending().await;
        }
        return Box::pin(resolve_container(ctx, root)).await;
    }
    let waits = answers.iter().any(|(_, a)| matches!(a, Answer::Later(_)));
    if waits && AT_ONCE.get() {
        // Asked for at once: answer "not now" before anything that waits is polled.
        return std::future::pending().await;
    }
    let mut later = Vec::new();
    for (_, answer) in &mut answers {
        if let Answer::Later(future) = answer {
            later.push(std::mem::replace(future, Box::pin(std::future::pending())));
        }
    }
    let mut later = if later.is_empty() {
        Vec::new()
    } else {
        join_all(later).await
    }
    .into_iter();
    let mut object = IndexMap::with_capacity(answers.len());
    for (key, answer) in answers {
        let result = match answer {
            Answer::Now(result) => Some(result),
            Answer::Later(_) => later.next(),
        };
        match result {
            Some(Ok(value)) => insert_value(&mut object, key, value),
            Some(Err(error)) => ctx.add_error(error),
            None => {}
        }
    }
    Ok(if object.is_empty() {
        Value::Null
    } else {
        Value::Object(object)
    })
}

/// Each field of `ctx`'s selection with its answer, fragments followed, in the order asked.
fn collect<'a, T: Plain>(
    root: &'a T,
    ctx: &ContextSelectionSet<'a>,
    answers: &mut Vec<(Name, Answer<'a>)>,
) -> Result<(), Unusual> {
    for selection in &ctx.item.node.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.clone();
                if field.node.name.node == "__typename" {
                    let name = root.introspection_type_name().into_owned();
                    answers.push((key, Answer::Now(Ok(Value::String(name)))));
                    continue;
                }
                if !field.node.directives.is_empty() {
                    return Err(Unusual);
                }
                answers.push((key, answer(root, ctx, field)));
                continue;
            }
            Selection::FragmentSpread(spread) => {
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                else {
                    return Err(Unusual);
                };
                (
                    Some(&fragment.node.type_condition),
                    &fragment.node.selection_set,
                )
            }
            Selection::InlineFragment(fragment) => (
                fragment.node.type_condition.as_ref(),
                &fragment.node.selection_set,
            ),
        };
        // An object's fragment applies when it names the object, an interface it implements,
        // or no type at all.
        let applies = condition.is_none_or(|condition| {
            let condition = condition.node.on.node.as_str();
            T::type_name() == condition
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(T::type_name().as_ref())
                    .is_some_and(|interfaces| interfaces.contains(condition))
        });
        if applies {
            collect(root, &ctx.with_selection_set(selection_set), answers)?;
        }
    }
    Ok(())
}

/// The field's answer: a plain field's value, or its `resolve_field`, boxed, to be awaited
/// with the others.
fn answer<'a, T: Plain>(
    root: &'a T,
    ctx: &ContextSelectionSet<'a>,
    field: &'a Positioned<Field>,
) -> Answer<'a> {
    if let Some(value) = root.plain(&ctx.with_field(field)) {
        return Answer::Now(Ok(value));
    }
    let ctx = ctx.clone();
    Answer::Later(Box::pin(async move {
        let ctx_field = ctx.with_field(field);
        root.resolve_field(&ctx_field)
            .await
            .map(Option::unwrap_or_default)
    }))
}

/// Adds a field's value to an object, merging it into a value of the same key asked for
/// before (`{ unit { id } unit { name } }`): async-graphql's own rule, which it keeps private.
fn insert_value(object: &mut IndexMap<Name, Value>, key: Name, value: Value) {
    let before = match object.entry(key) {
        Entry::Vacant(vacant) => {
            vacant.insert(value);
            return;
        }
        Entry::Occupied(occupied) => occupied.into_mut(),
    };
    match (before, value) {
        (Value::Object(before), Value::Object(value)) => {
            for (key, value) in value {
                insert_value(before, key, value);
            }
        }
        (Value::List(before), Value::List(value)) => {
            for (before, value) in before.iter_mut().zip(value) {
                if let (Value::Object(before), Value::Object(value)) = (before, value) {
                    for (key, value) in value {
                        insert_value(before, key, value);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::{
        EmptyMutation, EmptySubscription, Interface, Object, PathSegment, Result, Schema,
        ServerError,
    };
    use serde_json::Value as Json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::{Plain, Ready, now};

    /// How many times `Thing.counted` started.
    static STARTED: AtomicUsize = AtomicUsize::new(0);

    /// A type with fields ready at once, fields that wait, fields that fail either way, and
    /// objects below it.
    struct Thing(i32);

    #[Object]
    #[allow(clippy::unused_async, reason = "resolvers are async")]
    impl Thing {
        async fn id(&self) -> i32 {
            self.0
        }

        async fn name(&self) -> String {
            format!("thing {}", self.0)
        }

        async fn later(&self) -> i32 {
            tokio::task::yield_now().await;
            self.0 * 10
        }

        /// Counts each time it starts, then waits.
        async fn counted(&self) -> i32 {
            STARTED.fetch_add(1, Ordering::Relaxed);
            tokio::task::yield_now().await;
            self.0
        }

        async fn broken(&self) -> Result<i32> {
            Err(format!("thing {} broke at once", self.0).into())
        }

        async fn broken_later(&self) -> Result<Option<i32>> {
            tokio::task::yield_now().await;
            Err(format!("thing {} broke later", self.0).into())
        }

        async fn child(&self) -> Ready<Thing> {
            Ready(Thing(self.0 + 100))
        }

        async fn children(&self) -> Vec<Ready<Thing>> {
            vec![Ready(Thing(self.0 + 200)), Ready(Thing(self.0 + 300))]
        }
    }

    impl Plain for Thing {
        fn plain(&self, ctx: &async_graphql::Context<'_>) -> Option<async_graphql::Value> {
            match ctx.item.node.name.node.as_str() {
                "id" => now(self.id(ctx), ctx),
                "later" => now(self.later(ctx), ctx),
                "broken" => now(self.broken(ctx), ctx),
                "child" => now(self.child(ctx), ctx),
                _ => None,
            }
        }
    }

    #[derive(Interface)]
    #[graphql(field(name = "id", ty = "i32"))]
    enum Named {
        Thing(Thing),
    }

    struct Query;

    #[Object]
    #[allow(clippy::unused_async, reason = "resolvers are async")]
    impl Query {
        /// Resolved by async-graphql alone.
        async fn plain(&self) -> Vec<Thing> {
            vec![Thing(1), Thing(2)]
        }

        /// The same things, resolved with `Ready`.
        async fn ready(&self) -> Vec<Ready<Thing>> {
            vec![Ready(Thing(1)), Ready(Thing(2))]
        }

        async fn named(&self) -> Named {
            Named::Thing(Thing(0))
        }
    }

    /// The errors of the answer under `root`, each as its path below it and its message.
    fn errors_under(errors: &[ServerError], root: &str) -> Vec<String> {
        let mut found: Vec<String> = errors
            .iter()
            .filter(|e| {
                e.path
                    .first()
                    .is_some_and(|p| matches!(p, PathSegment::Field(name) if name == root))
            })
            // The two roots' selections stand at different columns: their count is compared.
            .map(|e| format!("{} at {:?} {}", e.message, &e.path[1..], e.locations.len()))
            .collect();
        found.sort();
        found
    }

    #[tokio::test]
    async fn ready_objects_answer_what_async_graphql_answers() {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        for (selection, fragments) in [
            ("id name later __typename", ""),
            ("a: id b: name id later: name", ""),
            (
                "...F child { id } ... on Thing { later } ... { name }",
                "fragment F on Thing { id child { name later } }",
            ),
            ("broken id", ""),
            ("brokenLater later name", ""),
            ("... on Named { id } children { id later __typename }", ""),
            (
                "child { child { later } } child { id child { id } } children { name } children { later }",
                "",
            ),
            (
                "...G",
                "fragment G on Named { id ...F } fragment F on Thing { name }",
            ),
        ] {
            let query =
                format!("{{ plain {{ {selection} }} ready {{ {selection} }} }} {fragments}");
            let response = schema.execute(query.as_str()).await;
            let data: Json = serde_json::to_value(&response.data).expect("json");
            assert!(data["ready"].is_array(), "{query}: {data}");
            assert_eq!(data["ready"], data["plain"], "{query}");
            let errors = errors_under(&response.errors, "ready");
            assert_eq!(errors, errors_under(&response.errors, "plain"), "{query}");
            assert_eq!(selection.contains("broken"), !errors.is_empty(), "{query}");
        }
    }

    /// A field that waits starts once per object, below plain fields too: nothing that waits
    /// is polled, dropped and started again.
    #[tokio::test]
    async fn a_field_that_waits_starts_once_per_object() {
        let schema = Schema::build(Query, EmptyMutation, EmptySubscription).finish();
        let mut starts = Vec::new();
        for root in ["plain", "ready"] {
            let before = STARTED.load(Ordering::Relaxed);
            let query = format!(
                "{{ {root} {{ counted child {{ counted child {{ counted }} }} children {{ counted }} }} }}"
            );
            let response = schema.execute(query.as_str()).await;
            assert!(response.errors.is_empty(), "{:?}", response.errors);
            starts.push(STARTED.load(Ordering::Relaxed) - before);
        }
        // Two things, each with itself, its child, its child's child and two children.
        assert_eq!(starts, [10, 10]);
    }
}
