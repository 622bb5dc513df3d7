//! Gives every error an `extensions.code`. Requests that fail to parse or validate (unknown
//! fields, wrong argument types, a value that is not a date) come out of async-graphql without
//! one: they are the client's, BAD_USER_INPUT. Any other error without a code is a fault of the
//! server's: it is logged in full and the client reads only "internal server error".

use std::sync::Arc;

use async_graphql::{
    Response, ServerError, Value,
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextRequest, NextSubscribe,
    },
    futures_util::stream::BoxStream,
};
use futures_util::StreamExt;
use tracing::Instrument;

use crate::error::code;

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension)
    }
}

struct ErrorCodesExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        with_codes(next.run(ctx).await)
    }

    /// Everything logged while an operation runs (a database error, say) names the operation.
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let span =
            tracing::error_span!("operation", name = operation_name.unwrap_or("(anonymous)"));
        next.run(ctx, operation_name).instrument(span).await
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
