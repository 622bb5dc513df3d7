//! Gives every error an `extensions.code`. Requests that fail to parse or validate (unknown
//! fields, wrong argument types, a value that is not a date) come out of async-graphql without
//! one: they are the client's, BAD_USER_INPUT. Any other error without a code is a fault of the
//! server's: it is logged in full and the client reads only "internal server error".

use async_graphql::{
    Response, ServerError, Value,
    parser::types::{ExecutableDocument, OperationType, Selection},
};

use crate::error::ErrorCode;

/// The type and first root field of the operation a document runs.
pub(super) fn describe(
    document: &ExecutableDocument,
    name: Option<&str>,
) -> Option<(&'static str, String)> {
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
pub(super) fn outcome(response: &Response) -> String {
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

/// Whether a request was refused before it ran (it did not parse, validate or pass the
/// limits): no data, and only errors that belong to no field.
pub fn refused_before_running(response: &Response) -> bool {
    response.data == Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty())
}

/// Whether an error says the database could not serve (SERVICE_UNAVAILABLE).
pub(super) fn is_unavailable(error: &ServerError) -> bool {
    error
        .extensions
        .as_ref()
        .and_then(|e| e.get("code"))
        .is_some_and(|code| *code == Value::from(ErrorCode::ServiceUnavailable))
}

/// At most this many errors of a request refused before it ran, as graphql-js validates: a
/// document with thousands of mistakes is told the first hundred and how many more there are,
/// not sent an answer of megabytes.
pub const MAX_REFUSAL_ERRORS: usize = 100;

/// Gives every error of an answer its code; a refusal with more than [`MAX_REFUSAL_ERRORS`]
/// errors keeps the first of them and says how many more there were.
pub(super) fn with_codes(mut response: Response) -> Response {
    if response.errors.len() > MAX_REFUSAL_ERRORS && refused_before_running(&response) {
        let more = response.errors.len() - MAX_REFUSAL_ERRORS;
        response.errors.truncate(MAX_REFUSAL_ERRORS);
        // Coded below, as every error of a refusal is: BAD_USER_INPUT.
        response.errors.push(ServerError::new(
            format!(
                "{more} more errors are not listed: fix the {MAX_REFUSAL_ERRORS} above and send \
                 the request again."
            ),
            None,
        ));
    }
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
        error.message = as_sentence(&error.message);
        let extensions = error.extensions.get_or_insert_with(Default::default);
        extensions.set("code", Value::from(ErrorCode::BadUserInput));
        return;
    }
    tracing::error!(message = %error.message, path = ?error.path, "request failed without an error code");
    error.message = "internal server error".to_owned();
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", Value::from(ErrorCode::InternalServerError));
}

/// A client error's message as a sentence. async-graphql words a value that is not of its
/// scalar as `Failed to parse "NaiveDate": premature end of input (occurred while parsing
/// "ActionPlanInput")`, naming the type as the server's code names it; this says what was
/// expected and how to write it, and ends the sentence.
fn as_sentence(message: &str) -> String {
    const FAILED: &str = "Failed to parse \"";
    let mut text = message.trim_end().to_owned();
    if let Some(at) = text.find(FAILED)
        && let Some((scalar, rest)) = text[at + FAILED.len()..].split_once("\": ")
    {
        // The input object named last is the argument's own.
        const WHILE: &str = " (occurred while parsing \"";
        let (reason, within) = match rest.rsplit_once(WHILE) {
            Some((before, input)) => (
                before.split(WHILE).next().unwrap_or(before),
                format!(" in {}", input.trim_end_matches([')', '"'])),
            ),
            None => (rest, String::new()),
        };
        let expected = match scalar {
            "NaiveDate" => "a date written YYYY-MM-DD, e.g. 2026-12-07".to_owned(),
            "DateTime" => "a date and time in RFC 3339, e.g. 2026-12-07T08:00:00Z".to_owned(),
            other => format!("a valid {other}"),
        };
        text = format!(
            "{}A value{within} is not {expected} ({reason})",
            &text[..at]
        );
    }
    if !text.ends_with(['.', '?', '!']) {
        text.push('.');
    }
    text
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

        assert_eq!(
            date.message,
            "A value is not a date written YYYY-MM-DD, e.g. 2026-12-07 (premature end)."
        );

        let mut fault = ServerError::new("Data `Domain` does not exist.", None);
        fault.path = vec![PathSegment::Field("ideas".into())];
        give_code(&mut fault);
        assert_eq!(code_of(&fault), "\"INTERNAL_SERVER_ERROR\"");
        assert_eq!(fault.message, "internal server error");
    }

    #[test]
    fn values_of_the_wrong_scalar_are_told_what_was_expected_in_a_sentence() {
        assert_eq!(
            as_sentence(
                "Failed to parse \"DateTime\": input contains invalid characters (occurred while parsing \"EventFilter\")"
            ),
            "A value in EventFilter is not a date and time in RFC 3339, e.g. \
             2026-12-07T08:00:00Z (input contains invalid characters)."
        );
        assert_eq!(
            as_sentence("Invalid value for argument \"first\", expected type \"Int\""),
            "Invalid value for argument \"first\", expected type \"Int\"."
        );
        assert_eq!(as_sentence("Unknown field."), "Unknown field.");
    }
}
