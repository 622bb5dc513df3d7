//! Gives every error an `extensions.code`. Requests that fail to parse or validate (unknown
//! fields, wrong argument types, a value that is not a date) come out of async-graphql without
//! one: they are the client's, BAD_USER_INPUT. Any other error without a code is a fault of the
//! server's: it is logged in full and the client reads only "internal server error".

use std::sync::{Arc, Mutex};

use async_graphql::{
    Response, ServerError, ServerResult, Value, Variables,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
        NextSubscribe,
    },
    futures_util::stream::BoxStream,
    parser::types::{ExecutableDocument, OperationType, Selection},
};
use futures_util::StreamExt;
use tracing::Instrument;

use crate::error::code;

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension::default())
    }
}

/// Per request: the operation's type and first root field, read when the query is parsed and
/// used (once it has validated, so only the schema's own names reach the metrics) when it runs.
#[derive(Default)]
struct ErrorCodesExtension {
    operation: Mutex<Option<(&'static str, String)>>,
    /// Counts a subscription as active for as long as its stream (and this extension) lives.
    active: Mutex<Option<crate::metrics::Open>>,
    /// The document of a query or mutation, to put its answer's fields in the order asked
    /// ([`super::order`]); not kept for subscriptions, which live long.
    document: Mutex<Option<ExecutableDocument>>,
}

impl ErrorCodesExtension {
    fn operation(&self) -> (&'static str, String) {
        self.operation
            .lock()
            .ok()
            .and_then(|o| o.clone())
            .unwrap_or(("query", "(none)".to_owned()))
    }
}

/// The type and first root field of the operation a document runs.
fn describe(document: &ExecutableDocument, name: Option<&str>) -> Option<(&'static str, String)> {
    let operation = document
        .operations
        .iter()
        .find(|(n, _)| name.is_none() || n.map(async_graphql::Name::as_str) == name)
        .map(|(_, op)| op)?;
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let field = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| "(fragment)".to_owned());
    Some((kind, field))
}

/// `ok`, or the code of the first error.
fn outcome(response: &Response) -> String {
    response.errors.first().map_or_else(
        || "ok".to_owned(),
        |e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("code"))
                .map_or_else(
                    || "error".to_owned(),
                    |c| c.to_string().trim_matches('"').to_owned(),
                )
        },
    )
}

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        with_codes(next.run(ctx).await)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let described = describe(&document, None);
        let subscription = document
            .operations
            .iter()
            .any(|(_, op)| op.node.ty == OperationType::Subscription);
        if !subscription && let Ok(mut kept) = self.document.lock() {
            *kept = Some(document.clone());
        }
        // A group's own execution is no subscriber: its members are counted.
        let group = ctx
            .data_opt::<crate::http::fanout::GroupExecution>()
            .is_some();
        if let Some(("subscription", field)) = &described
            && !group
            && let Ok(mut active) = self.active.lock()
        {
            // Not validated yet: only the schema's subscription fields become label values.
            let kind = match field.as_str() {
                "pipelineEvents" => "pipelineEvents",
                "funnel" => "funnel",
                "idea" => "idea",
                _ => "other",
            };
            *active = Some(crate::metrics::Open::new(
                metrics::gauge!("labinov_subscriptions_active", "kind" => kind),
            ));
        }
        if let Ok(mut operation) = self.operation.lock() {
            *operation = described;
        }
        Ok(document)
    }

    /// Everything logged while an operation runs (a database error, say) names the operation;
    /// the request's log line and the metrics get its type, root field, outcome and duration.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let (kind, field) = self.operation();
        if kind == "subscription" {
            // Runs once per item of a subscription: each event for each subscriber. The
            // subscription itself is counted by `labinov_subscriptions_active`. Its items are
            // not reordered: a live stream keeps no copy of its document.
            return next.run(ctx, operation_name).await;
        }
        let name: String = operation_name.unwrap_or(&field).chars().take(64).collect();
        tracing::Span::current().record("operation", name.as_str());
        let span = tracing::error_span!("operation", name = name.as_str());
        let started = std::time::Instant::now();
        let mut response = next.run(ctx, operation_name).instrument(span).await;
        if let Some(document) = self.document.lock().ok().and_then(|mut d| d.take()) {
            super::order::in_asked_order(&mut response.data, &document, operation_name);
        }
        let outcome = outcome(&response);
        metrics::counter!("labinov_graphql_operations_total", "type" => kind, "field" => field, "outcome" => outcome).increment(1);
        metrics::histogram!("labinov_graphql_operation_duration_seconds", "type" => kind)
            .record(started.elapsed().as_secs_f64());
        response
    }

    /// Subscriptions (and any operation sent over a WebSocket or SSE) answer with a stream.
    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream).map(with_codes).boxed()
    }
}

fn with_codes(mut response: Response) -> Response {
    for error in &mut response.errors {
        give_code(error);
    }
    response
}

/// Whether a codeless error is the client's: the request failed before it ran, or an
/// argument's value could not be read as its type.
fn is_clients(error: &ServerError) -> bool {
    error.path.is_empty()
        || error.message.starts_with("Failed to parse")
        || error.message.starts_with("Invalid value for argument")
}

fn give_code(error: &mut ServerError) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
    {
        return;
    }
    if is_clients(error) {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("code", Value::from(code::BAD_USER_INPUT));
        return;
    }
    tracing::error!(message = %error.message, path = ?error.path, "request failed without an error code");
    error.message = "internal server error".to_owned();
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", Value::from(code::INTERNAL_SERVER_ERROR));
}

#[cfg(test)]
mod tests {
    use async_graphql::PathSegment;

    use super::*;

    fn code_of(error: &ServerError) -> String {
        error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    #[test]
    fn validation_errors_are_the_clients_and_other_codeless_errors_are_internal() {
        let mut validation = ServerError::new("Unknown field \"nonsense\"", None);
        give_code(&mut validation);
        assert_eq!(code_of(&validation), "\"BAD_USER_INPUT\"");

        let mut date = ServerError::new("Failed to parse \"NaiveDate\": premature end", None);
        date.path = vec![PathSegment::Field("commitments".into())];
        give_code(&mut date);
        assert_eq!(code_of(&date), "\"BAD_USER_INPUT\"");

        let mut fault = ServerError::new("Data `Domain` does not exist.", None);
        fault.path = vec![PathSegment::Field("ideas".into())];
        give_code(&mut fault);
        assert_eq!(code_of(&fault), "\"INTERNAL_SERVER_ERROR\"");
        assert_eq!(fault.message, "internal server error");
    }
}
