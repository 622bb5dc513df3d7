//! The schema with what every request passes through on its way in and out, on every transport
//! (HTTP, both WebSocket protocols, SSE, groups of subscriptions): the persisted-query lookup and
//! the request limits ([`super::limits`]) and the checks async-graphql leaves out
//! ([`super::typename`]), the caller and a fresh set of loaders
//! ([`super::loaders`]), and on the way out an `extensions.code` on every error
//! ([`super::errors`]), the answer's fields in the order asked ([`super::order`]), the
//! operation's log span and metrics, and the count of active subscriptions.
//!
//! This is a wrapper and not schema extensions on purpose: async-graphql resolves a field on its
//! fast path only when a schema has no extensions, and otherwise builds a `ResolveInfo` and one
//! boxed future per extension for every field of every answer. None of this looks at fields.

use std::sync::Arc;

use async_graphql::{
    Data, Executor, Request, Response, ServerError,
    futures_util::stream::{self, BoxStream, StreamExt},
    parser::types::{ExecutableDocument, OperationType},
};
use tracing::Instrument;

use super::{
    LabinovSchema, errors,
    limits::{self, Documents, QUERIES_ONLY, QueriesOnly, QueryLimits},
    loaders::{Loaders, find},
    persisted::PersistedQueries,
    subscription::SubscriptionKind,
    variables::InputTypes,
};
use crate::{
    access::{Caller, Principal, Role},
    domain::Domain,
};

/// Marks a grouped execution in its request data (one execution whose answers many
/// subscribers share): it counts as no subscriber of its own, its members are counted.
#[derive(Debug, Clone, Copy)]
pub struct GroupExecution;

/// The data version a query's answer must not be older than, when the transport read it
/// already (the response cache does, to look the answer up): a query then reads from a replica
/// that holds it without reading the version a second time.
#[derive(Debug, Clone, Copy)]
pub struct SeenVersion(pub crate::domain::event::DataVersion);

/// The schema and the request handling around it; cheap to clone.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

struct Inner {
    schema: LabinovSchema,
    limits: Arc<QueryLimits>,
    persisted: Arc<PersistedQueries>,
    domain: Domain,
    documents: Documents,
    /// The schema's input types, to check variables against.
    inputs: InputTypes,
}

/// A request that passed the checks, with what its answer is measured and ordered by.
struct Checked {
    request: Request,
    /// The operation's type and first root field.
    kind: &'static str,
    field: String,
    /// The document of a query or mutation, to order its answer; not kept for subscriptions,
    /// which live long.
    document: Option<Arc<ExecutableDocument>>,
}

impl Engine {
    pub fn new(
        schema: LabinovSchema,
        limits: Arc<QueryLimits>,
        persisted: Arc<PersistedQueries>,
        domain: Domain,
    ) -> Self {
        let inputs = InputTypes::of_sdl(&schema.sdl());
        let documents = Documents::new(limits.kept_documents_bytes);
        Self(Arc::new(Inner {
            schema,
            limits,
            persisted,
            domain,
            documents,
            inputs,
        }))
    }

    /// Resolves a persisted query, checks the limits and the transport, and gives the request
    /// its caller (the one the transport identified, anonymous otherwise) and its own loaders.
    fn check(&self, mut request: Request, session: Option<&Data>) -> Result<Checked, ServerError> {
        let inner = &self.0;
        inner.persisted.resolve(&mut request)?;
        let caller = find::<Caller>(&request.data)
            .or_else(|| session.and_then(find::<Caller>))
            .cloned()
            .unwrap_or_else(Caller::anonymous);
        let operator = matches!(caller.principal(), Principal::System(_))
            || caller.as_user().is_some_and(|u| u.role == Role::Admin);
        inner.persisted.check_trusted(&request.query, operator)?;
        let document = limits::check(&inner.limits, &inner.documents, &request)?;
        super::typename::check(&document)?;
        let wanted = request.operation_name.as_deref();
        inner.inputs.check(&document, wanted, &request.variables)?;
        let (kind, field) =
            errors::describe(&document, wanted).unwrap_or(("query", "(none)".to_owned()));
        // GET and event streams run no mutation, whatever text a persisted hash stands for.
        let mutation = document.operations.iter().any(|(name, op)| {
            (wanted.is_none() || name.map(async_graphql::Name::as_str) == wanted)
                && op.node.ty == OperationType::Mutation
        });
        if mutation && find::<QueriesOnly>(&request.data).is_some() {
            let mut error = ServerError::new(QUERIES_ONLY, None);
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", async_graphql::Value::from("METHOD_NOT_ALLOWED"));
            return Err(error);
        }
        let subscription = document
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Subscription);
        let kept = (!subscription).then(|| document.clone());
        request.set_parsed_query(ExecutableDocument::clone(&document));
        request.data.insert(Loaders::new(&inner.domain, &caller));
        request.data.insert(caller);
        Ok(Checked {
            request,
            kind,
            field,
            document: kept,
        })
    }

    /// Runs a query or mutation: in a span naming the operation (so everything logged while it
    /// runs names it), its fields in the order asked, counted and timed once it has validated
    /// (so only the schema's own names reach the metrics).
    async fn run(&self, checked: Checked) -> Response {
        let Checked {
            mut request,
            kind,
            field,
            document,
        } = checked;
        // With read replicas a query reads from one; should that replica fail under it, the
        // query runs again on the primary (`again` keeps what that takes).
        let (reader, again) = if kind == "query" {
            match self.read_from_replica(&mut request).await {
                Some(reader) if reader.reads_replica() => {
                    let again = Again::of(&request);
                    (Some(reader), Some(again))
                }
                _ => (None, None),
            }
        } else {
            (None, None)
        };
        if kind == "subscription" {
            // Over a transport without streams: async-graphql says so.
            return errors::with_codes(Box::pin(self.0.schema.execute(request)).await);
        }
        let operation_name = request.operation_name.clone();
        let name: String = operation_name
            .as_deref()
            .unwrap_or(&field)
            .chars()
            .take(64)
            .collect();
        tracing::Span::current().record("operation", name.as_str());
        let span = tracing::error_span!("operation", name = name.as_str());
        let started = std::time::Instant::now();
        // Boxed: async-graphql's future is some 16 KB, too big to move around on the stack.
        let mut response = Box::pin(self.0.schema.execute(request))
            .instrument(span.clone())
            .await;
        if let (Some(reader), Some(again), Some(document)) = (reader, again, &document)
            && response.errors.iter().any(errors::is_unavailable)
            && reader.replica_is_down().await
        {
            let request = again.on(&self.0.domain, document);
            response = Box::pin(self.0.schema.execute(request))
                .instrument(span)
                .await;
        }
        if errors::refused_before_running(&response) {
            return errors::with_codes(response);
        }
        if let Some(document) = &document {
            super::order::in_asked_order(&mut response.data, document, operation_name.as_deref());
        }
        let response = errors::with_codes(response);
        let outcome = errors::outcome(&response);
        metrics::counter!("labinov_graphql_operations_total", "type" => kind, "field" => field, "outcome" => outcome).increment(1);
        metrics::histogram!("labinov_graphql_operation_duration_seconds", "type" => kind)
            .record(started.elapsed().as_secs_f64());
        response
    }
}

/// What running a query again takes, on the primary after its replica failed under it.
struct Again {
    query: String,
    operation_name: Option<String>,
    variables: async_graphql::Variables,
    extensions: async_graphql::Extensions,
    introspection_mode: async_graphql::IntrospectionMode,
    caller: Caller,
}

impl Again {
    fn of(request: &Request) -> Self {
        Self {
            query: request.query.clone(),
            operation_name: request.operation_name.clone(),
            variables: request.variables.clone(),
            extensions: request.extensions.clone(),
            introspection_mode: request.introspection_mode,
            caller: find::<Caller>(&request.data)
                .cloned()
                .unwrap_or_else(Caller::anonymous),
        }
    }

    /// The request again, reading from `primary`, its document already checked.
    fn on(self, primary: &Domain, document: &ExecutableDocument) -> Request {
        let mut request = Request::new(self.query);
        request.operation_name = self.operation_name;
        request.variables = self.variables;
        request.extensions = self.extensions;
        request.introspection_mode = self.introspection_mode;
        request.set_parsed_query(document.clone());
        request.data.insert(Loaders::new(primary, &self.caller));
        request.data.insert(self.caller);
        request
    }
}

impl Engine {
    /// Lets a query read from a read replica that holds everything its caller may have seen
    /// (see [`Domain::reader`]); its loaders read there too. Mutations read on the primary:
    /// their answers show their own writes.
    async fn read_from_replica(&self, request: &mut Request) -> Option<Domain> {
        let domain = &self.0.domain;
        domain.replicas()?;
        let seen = find::<SeenVersion>(&request.data).map(|seen| seen.0);
        let reader = domain.reader(seen).await;
        let caller = find::<Caller>(&request.data)
            .cloned()
            .unwrap_or_else(Caller::anonymous);
        request.data.insert(Loaders::new(&reader, &caller));
        request.data.insert(reader.clone());
        Some(reader)
    }
}

impl Executor for Engine {
    async fn execute(&self, request: Request) -> Response {
        match self.check(request, None) {
            Ok(checked) => self.run(checked).await,
            Err(error) => errors::with_codes(Response::from_errors(vec![error])),
        }
    }

    /// Subscriptions (and any operation sent over a WebSocket or SSE) answer with a stream.
    fn execute_stream(
        &self,
        request: Request,
        session: Option<Arc<Data>>,
    ) -> BoxStream<'static, Response> {
        let checked = match self.check(request, session.as_deref()) {
            Ok(checked) => checked,
            Err(error) => {
                let refused = errors::with_codes(Response::from_errors(vec![error]));
                return stream::once(async move { refused }).boxed();
            }
        };
        if checked.kind != "subscription" {
            let engine = self.clone();
            return stream::once(async move { engine.run(checked).await }).boxed();
        }
        // Counted as active for as long as its stream lives. A group's own execution is no
        // subscriber: its members are counted.
        let group = find::<GroupExecution>(&checked.request.data).is_some()
            || session
                .as_deref()
                .and_then(find::<GroupExecution>)
                .is_some();
        let active = (!group).then(|| {
            // Not validated yet: only the schema's subscription fields become label values.
            let kind =
                SubscriptionKind::of(&checked.field).map_or("other", SubscriptionKind::field);
            crate::metrics::Open::new(
                metrics::gauge!("labinov_subscriptions_active", "kind" => kind),
            )
        });
        let answers = match session {
            Some(session) => self
                .0
                .schema
                .execute_stream_with_session_data(checked.request, session),
            None => self.0.schema.execute_stream(checked.request),
        };
        answers
            .map(move |response| {
                let _active = &active;
                errors::with_codes(response)
            })
            .boxed()
    }
}
