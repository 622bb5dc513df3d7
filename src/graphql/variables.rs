//! Variable values checked against the types their operation declares, as the spec's variable
//! coercion asks, before anything runs: a missing value for a non-null variable, a null where
//! null is not allowed, a number for an input object or an unknown enum value is the client's
//! mistake (BAD_USER_INPUT with a sentence naming the variable), never a failure inside a
//! resolver. Every string a request carries, in its variables and in the document's literals,
//! is also refused when it holds an invisible control character (NUL included), so no such
//! character reaches a filter, a code lookup or the database on any transport.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, ServerError, Value, Variables,
    parser::types::{
        BaseType, ExecutableDocument, Selection, SelectionSet, Type, TypeKind, TypeSystemDefinition,
    },
};

use crate::error::ErrorCode;

/// What a named input type accepts.
enum InputKind {
    /// A scalar: which JSON values it takes.
    Scalar(ScalarKind),
    /// An enum and its values.
    Enum(HashSet<String>),
    /// An input object: its fields, their types and whether each has a default.
    Object(Vec<(String, Type, bool)>),
}

#[derive(Clone, Copy)]
enum ScalarKind {
    Int,
    Float,
    Boolean,
    /// `ID`: a string or an integer.
    Id,
    /// `String` and the schema's own text scalars.
    Text,
    /// `NaiveDate`: a calendar day, `YYYY-MM-DD`.
    Date,
    /// `DateTime`: an RFC 3339 time.
    DateTime,
    /// `JSON`: any value.
    Any,
}

/// The schema's input types, read once from its SDL.
pub struct InputTypes(HashMap<String, InputKind>);

impl InputTypes {
    /// The input types of the schema whose SDL is `sdl`.
    pub fn of_sdl(sdl: &str) -> Self {
        let mut kinds = HashMap::from([
            ("Int".to_owned(), InputKind::Scalar(ScalarKind::Int)),
            ("Float".to_owned(), InputKind::Scalar(ScalarKind::Float)),
            ("Boolean".to_owned(), InputKind::Scalar(ScalarKind::Boolean)),
            ("ID".to_owned(), InputKind::Scalar(ScalarKind::Id)),
            ("String".to_owned(), InputKind::Scalar(ScalarKind::Text)),
        ]);
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return Self(kinds);
        };
        for definition in document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.to_string();
            let kind = match ty.node.kind {
                TypeKind::Scalar if name == "JSON" => InputKind::Scalar(ScalarKind::Any),
                TypeKind::Scalar if name == "NaiveDate" => InputKind::Scalar(ScalarKind::Date),
                TypeKind::Scalar if name == "DateTime" => InputKind::Scalar(ScalarKind::DateTime),
                TypeKind::Scalar => InputKind::Scalar(ScalarKind::Text),
                TypeKind::Enum(e) => InputKind::Enum(
                    e.values
                        .iter()
                        .map(|v| v.node.value.node.to_string())
                        .collect(),
                ),
                TypeKind::InputObject(o) => InputKind::Object(
                    o.fields
                        .into_iter()
                        .map(|f| {
                            (
                                f.node.name.node.to_string(),
                                f.node.ty.node,
                                f.node.default_value.is_some(),
                            )
                        })
                        .collect(),
                ),
                _ => continue,
            };
            kinds.insert(name, kind);
        }
        Self(kinds)
    }

    /// Checks the variables of the operation `document` runs, and every string literal in it.
    pub fn check(
        &self,
        document: &ExecutableDocument,
        operation_name: Option<&str>,
        variables: &Variables,
    ) -> Result<(), ServerError> {
        for (name, operation) in document.operations.iter() {
            if operation_name.is_some_and(|wanted| name.map(Name::as_str) != Some(wanted)) {
                continue;
            }
            for definition in &operation.node.variable_definitions {
                let definition = &definition.node;
                let path = format!("${}", definition.name.node);
                let ty = &definition.var_type.node;
                match variables.get(&definition.name.node) {
                    None if !ty.nullable && definition.default_value.is_none() => {
                        return Err(refused(format!(
                            "The variable {path} ({ty}) was not given a value; send it in \"variables\"."
                        )));
                    }
                    None => {}
                    Some(value) => self.coerce(value, ty, &path)?,
                }
            }
            literals_in(&operation.node.selection_set.node)?;
        }
        for fragment in document.fragments.values() {
            literals_in(&fragment.node.selection_set.node)?;
        }
        Ok(())
    }

    /// Checks `value` against `ty`; `path` names it in the sentence.
    fn coerce(&self, value: &Value, ty: &Type, path: &str) -> Result<(), ServerError> {
        if *value == Value::Null {
            return if ty.nullable {
                Ok(())
            } else {
                Err(refused(format!("{path} cannot be null: it is a {ty}.")))
            };
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => items
                    .iter()
                    .enumerate()
                    .try_for_each(|(i, v)| self.coerce(v, item, &format!("{path}[{i}]"))),
                // The spec coerces a single value to a list of one.
                single => self.coerce(single, item, path),
            },
            BaseType::Named(name) => self.named(value, name, path),
        }
    }

    fn named(&self, value: &Value, name: &Name, path: &str) -> Result<(), ServerError> {
        let wrong = |what: &str| {
            Err(refused(format!(
                "{path} must be {what} (type {name}), not {}.",
                describe(value)
            )))
        };
        match self.0.get(name.as_str()) {
            None | Some(InputKind::Scalar(ScalarKind::Any)) => text_in(value, path),
            Some(InputKind::Scalar(ScalarKind::Int)) => match value {
                Value::Number(n) if n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()) => Ok(()),
                _ => wrong("a whole number between -2147483648 and 2147483647"),
            },
            Some(InputKind::Scalar(ScalarKind::Float)) => match value {
                Value::Number(_) => Ok(()),
                _ => wrong("a number"),
            },
            Some(InputKind::Scalar(ScalarKind::Boolean)) => match value {
                Value::Boolean(_) => Ok(()),
                _ => wrong("true or false"),
            },
            Some(InputKind::Scalar(ScalarKind::Id)) => match value {
                Value::String(s) => printable(s, path),
                Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
                _ => wrong("an id (a string)"),
            },
            Some(InputKind::Scalar(ScalarKind::Text)) => match value {
                Value::String(s) => printable(s, path),
                _ => wrong("a string"),
            },
            Some(InputKind::Scalar(ScalarKind::Date)) => match value {
                Value::String(s) if chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() => {
                    Ok(())
                }
                _ => wrong("a calendar day as YYYY-MM-DD, e.g. \"2019-09-10\""),
            },
            Some(InputKind::Scalar(ScalarKind::DateTime)) => match value {
                Value::String(s) if s.parse::<chrono::DateTime<chrono::Utc>>().is_ok() => Ok(()),
                _ => wrong("a time as RFC 3339, e.g. \"2019-09-10T09:00:00+08:00\""),
            },
            Some(InputKind::Enum(values)) => match value {
                Value::String(s) if values.contains(s) => Ok(()),
                Value::Enum(e) if values.contains(e.as_str()) => Ok(()),
                Value::String(_) | Value::Enum(_) => {
                    let mut names: Vec<&str> = values.iter().map(String::as_str).collect();
                    names.sort_unstable();
                    Err(refused(format!(
                        "{path} must be one of {} (type {name}).",
                        names.join(", ")
                    )))
                }
                _ => wrong("one of the enum's names, as a string"),
            },
            Some(InputKind::Object(fields)) => {
                let Value::Object(given) = value else {
                    return wrong("an object");
                };
                if let Some(unknown) = given
                    .keys()
                    .find(|key| !fields.iter().any(|(f, _, _)| f == key.as_str()))
                {
                    return Err(refused(format!(
                        "{path} has no field \"{unknown}\" (type {name})."
                    )));
                }
                for (field, ty, has_default) in fields {
                    let at = format!("{path}.{field}");
                    match given.get(field.as_str()) {
                        None if !ty.nullable && !has_default => {
                            return Err(refused(format!(
                                "{at} is missing: it is a {ty} and must be given."
                            )));
                        }
                        None => {}
                        Some(v) => self.coerce(v, ty, &at)?,
                    }
                }
                Ok(())
            }
        }
    }
}

/// Names a JSON value for a sentence: a short string as itself, anything else by its kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s)
            if s.chars().count() <= 40
                && !s
                    .chars()
                    .any(|c| c.is_control() || crate::domain::write::is_unprintable(c)) =>
        {
            format!("{s:?}")
        }
        other => kind_of(other).to_owned(),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Boolean(_) => "a boolean",
        Value::Binary(_) => "bytes",
        Value::Enum(_) => "an enum name",
        Value::List(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Every string within `value` is printable.
fn text_in(value: &Value, path: &str) -> Result<(), ServerError> {
    match value {
        Value::String(s) => printable(s, path),
        Value::List(items) => items.iter().try_for_each(|v| text_in(v, path)),
        Value::Object(fields) => fields.values().try_for_each(|v| text_in(v, path)),
        _ => Ok(()),
    }
}

fn printable(text: &str, path: &str) -> Result<(), ServerError> {
    // A byte-order mark that starts a text is a spreadsheet's, not hidden text.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    match text
        .chars()
        .find(|c| crate::domain::write::is_unprintable(*c))
    {
        Some(c) => Err(refused(format!(
            "{path} holds an invisible control character (U+{:04X}); remove it.",
            u32::from(c)
        ))),
        None => Ok(()),
    }
}

/// Every string literal in the arguments of a selection set, its fields' and their children's.
fn literals_in(set: &SelectionSet) -> Result<(), ServerError> {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                for (name, value) in &field.node.arguments {
                    literal(&value.node, &format!("argument \"{}\"", name.node))?;
                }
                literals_in(&field.node.selection_set.node)?;
            }
            Selection::InlineFragment(fragment) => {
                literals_in(&fragment.node.selection_set.node)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

fn literal(value: &async_graphql_value::Value, path: &str) -> Result<(), ServerError> {
    use async_graphql_value::Value as Literal;
    match value {
        Literal::String(s) => printable(s, path),
        Literal::List(items) => items.iter().try_for_each(|v| literal(v, path)),
        Literal::Object(fields) => fields.values().try_for_each(|v| literal(v, path)),
        _ => Ok(()),
    }
}

fn refused(message: String) -> ServerError {
    refused_at(message, None)
}

/// A request refused before it runs: `BAD_USER_INPUT` with `message`, at `pos` in the document.
pub(super) fn refused_at(message: String, pos: Option<async_graphql::Pos>) -> ServerError {
    let mut error = ServerError::new(message, pos);
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", ErrorCode::BadUserInput);
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = r#"
        scalar NaiveDate
        enum Stage { DIAGNOSE DESIGN }
        input Filter { codes: [String!] stage: Stage since: NaiveDate and: [Filter!] }
        input Move { id: ID! version: Int! reason: String = "x" }
    "#;

    fn check(query: &str, variables: serde_json::Value) -> Result<(), String> {
        let types = InputTypes::of_sdl(SDL);
        let document = async_graphql::parser::parse_query(query).expect("parses");
        let variables = Variables::from_json(variables);
        types
            .check(&document, None, &variables)
            .map_err(|e| e.message)
    }

    #[test]
    fn missing_null_and_mistyped_variables_are_refused_with_their_name() {
        let q = "query($f: Filter!) { a(f: $f) }";
        assert!(check(q, serde_json::json!({})).unwrap_err().contains("$f"));
        assert!(
            check(q, serde_json::json!({"f": null}))
                .unwrap_err()
                .contains("cannot be null")
        );
        assert!(
            check(q, serde_json::json!({"f": 3}))
                .unwrap_err()
                .contains("an object")
        );
        assert!(
            check(q, serde_json::json!({"f": {"since": 20_190_910}}))
                .unwrap_err()
                .contains("$f.since")
        );
        assert!(
            check(q, serde_json::json!({"f": {"stage": "NOPE"}}))
                .unwrap_err()
                .contains("DESIGN, DIAGNOSE")
        );
        assert!(
            check(q, serde_json::json!({"f": {"nope": 1}}))
                .unwrap_err()
                .contains("no field \"nope\"")
        );
        assert!(
            check(
                q,
                serde_json::json!({"f": {"and": [{"codes": ["63.03\u{0}"]}]}})
            )
            .unwrap_err()
            .contains("$f.and[0].codes[0]")
        );
        let q = "query($m: Move!) { a(m: $m) }";
        assert!(
            check(q, serde_json::json!({"m": {"id": "x"}}))
                .unwrap_err()
                .contains("$m.version is missing")
        );
        assert!(check(q, serde_json::json!({"m": {"id": 7, "version": 2}})).is_ok());
        let q = "query($f: Filter!) { a(f: $f) }";
        let bad_day = check(q, serde_json::json!({"f": {"since": "2020-13-45"}})).unwrap_err();
        assert!(
            bad_day.contains("$f.since")
                && bad_day.contains("YYYY-MM-DD")
                && bad_day.contains("2020-13-45"),
            "{bad_day}"
        );
        assert!(check(q, serde_json::json!({"f": {"since": "99999-01-01"}})).is_err());
    }

    #[test]
    fn good_variables_defaults_and_single_values_for_lists_pass() {
        let q = "query($f: Filter = {codes: [\"63.03\"]}, $c: [String!]) { a(f: $f, c: $c) }";
        assert!(check(q, serde_json::json!({})).is_ok());
        assert!(check(q, serde_json::json!({"c": "63.03"})).is_ok());
        assert!(
            check(
                q,
                serde_json::json!({"f": {"stage": "DESIGN", "since": "2019-09-10"}})
            )
            .is_ok()
        );
    }

    #[test]
    fn control_characters_in_literals_are_refused_and_line_breaks_pass() {
        assert!(check("{ a(s: \"x\\u0000y\") }", serde_json::json!({})).is_err());
        assert!(check("{ a(f: {codes: [\"\\u202e\"]}) }", serde_json::json!({})).is_err());
        assert!(check("{ a(s: \"line\\nline\\ttab\") }", serde_json::json!({})).is_ok());
        for hidden in ["\u{200B}", "\u{200E}", "\u{2028}", "a\u{FEFF}"] {
            let q = "query($c: [String!]) { a(c: $c) }";
            assert!(
                check(q, serde_json::json!({"c": [hidden]})).is_err(),
                "{hidden:?}"
            );
        }
        let q = "query($c: String) { a(c: $c) }";
        assert!(
            check(q, serde_json::json!({"c": "\u{FEFF}title,unit"})).is_ok(),
            "a leading BOM"
        );
    }
}
