//! The `__typename` field checked as the GraphQL spec checks every field: async-graphql's
//! validation passes over it, so `__typename(a: 1)`, `__typename @unknown` or
//! `__typename @include(if: "yes")` would run (the last answering `null` without an error).
//! It takes no arguments, and only the directives a field may carry: `@include` and `@skip`,
//! each once, with one Boolean `if`.

use async_graphql::{
    Name, Positioned, ServerError,
    parser::types::{Directive, ExecutableDocument, Selection, SelectionSet, VariableDefinition},
};
use async_graphql_value::Value;

/// The first misused `__typename` of `document`, as an error at its place.
pub fn check(document: &ExecutableDocument) -> Result<(), ServerError> {
    for (_, operation) in document.operations.iter() {
        let variables = &operation.node.variable_definitions;
        in_set(&operation.node.selection_set, Some(variables))?;
    }
    for fragment in document.fragments.values() {
        // A fragment's variables are those of the operation spreading it: their types are
        // checked where they are declared.
        in_set(&fragment.node.selection_set, None)?;
    }
    Ok(())
}

fn in_set(
    set: &Positioned<SelectionSet>,
    variables: Option<&[Positioned<VariableDefinition>]>,
) -> Result<(), ServerError> {
    for selection in &set.node.items {
        match &selection.node {
            Selection::Field(field) if field.node.name.node == "__typename" => {
                if let Some((name, _)) = field.node.arguments.first() {
                    return Err(refused(
                        format!(
                            "Unknown argument \"{}\" on field \"__typename\".",
                            name.node
                        ),
                        name.pos,
                    ));
                }
                directives(&field.node.directives, variables)?;
            }
            Selection::Field(field) => in_set(&field.node.selection_set, variables)?,
            Selection::InlineFragment(fragment) => {
                in_set(&fragment.node.selection_set, variables)?;
            }
            Selection::FragmentSpread(_) => {}
        }
    }
    Ok(())
}

fn directives(
    directives: &[Positioned<Directive>],
    variables: Option<&[Positioned<VariableDefinition>]>,
) -> Result<(), ServerError> {
    for (n, directive) in directives.iter().enumerate() {
        let name = directive.node.name.node.as_str();
        let pos = directive.pos;
        if !matches!(name, "include" | "skip") {
            return Err(refused(
                format!("Directive \"@{name}\" may not be used on the field \"__typename\"."),
                pos,
            ));
        }
        if directives[..n].iter().any(|d| d.node.name.node == name) {
            return Err(refused(
                format!("Directive \"@{name}\" may not be used twice on one field."),
                pos,
            ));
        }
        let mut condition = None;
        for (argument, value) in &directive.node.arguments {
            if argument.node != "if" {
                return Err(refused(
                    format!(
                        "Unknown argument \"{}\" on directive \"@{name}\".",
                        argument.node
                    ),
                    argument.pos,
                ));
            }
            condition = Some(value);
        }
        let Some(condition) = condition else {
            return Err(refused(
                format!("Directive \"@{name}\" needs its argument \"if\" (a Boolean)."),
                pos,
            ));
        };
        match &condition.node {
            Value::Boolean(_) => {}
            Value::Variable(variable) => boolean_variable(variable, variables, condition.pos)?,
            _ => {
                return Err(refused(
                    format!("The argument \"if\" of \"@{name}\" must be a Boolean."),
                    condition.pos,
                ));
            }
        }
    }
    Ok(())
}

/// A variable given to `if`: declared by the operation, as a Boolean.
fn boolean_variable(
    variable: &Name,
    variables: Option<&[Positioned<VariableDefinition>]>,
    pos: async_graphql::Pos,
) -> Result<(), ServerError> {
    let Some(variables) = variables else {
        return Ok(());
    };
    match variables.iter().find(|d| d.node.name.node == *variable) {
        None => Err(refused(
            format!("Variable \"${variable}\" is not defined."),
            pos,
        )),
        Some(definition) => {
            let ty = &definition.node.var_type.node;
            match &ty.base {
                async_graphql::parser::types::BaseType::Named(name) if name == "Boolean" => Ok(()),
                _ => Err(refused(
                    format!(
                        "Variable \"${variable}\" of type \"{ty}\" cannot be the argument \"if\", a Boolean."
                    ),
                    pos,
                )),
            }
        }
    }
}

fn refused(message: String, pos: async_graphql::Pos) -> ServerError {
    super::variables::refused_at(message, Some(pos))
}

#[cfg(test)]
mod tests {
    use super::check;

    fn verdict(query: &str) -> Result<(), String> {
        let document = async_graphql::parser::parse_query(query).expect("a document");
        check(&document).map_err(|e| e.message)
    }

    #[test]
    fn typename_takes_no_arguments_and_only_include_or_skip_once_with_a_boolean() {
        for fine in [
            "{ __typename }",
            "{ __typename @include(if: true) a: __typename @skip(if: false) }",
            "query($v: Boolean!) { stages { __typename @skip(if: $v) } }",
            "query($v: Boolean) { ...F } fragment F on Query { __typename @include(if: $v) }",
            "{ ... on Query { __typename @include(if: true) @skip(if: false) } }",
        ] {
            assert_eq!(verdict(fine), Ok(()), "{fine}");
        }
        for (wrong, says) in [
            ("{ __typename(a0: 1) }", "Unknown argument \"a0\""),
            ("{ __typename @foo }", "\"@foo\" may not be used"),
            (
                "{ __typename @deprecated }",
                "\"@deprecated\" may not be used",
            ),
            ("{ __typename @include }", "needs its argument \"if\""),
            ("{ __typename @include(if: \"yes\") }", "must be a Boolean"),
            ("{ __typename @skip(if: 5) }", "must be a Boolean"),
            (
                "{ __typename @include(if: true, x: 1) }",
                "Unknown argument \"x\"",
            ),
            (
                "{ __typename @include(if: true) @include(if: false) }",
                "twice",
            ),
            (
                "{ stages { __typename @skip(if: $v) } }",
                "\"$v\" is not defined",
            ),
            (
                "query($v: Int) { __typename @skip(if: $v) }",
                "type \"Int\"",
            ),
            (
                "{ ...F } fragment F on Query { stages { __typename(x: 1) } }",
                "Unknown argument \"x\"",
            ),
        ] {
            let verdict = verdict(wrong);
            assert!(
                verdict.as_ref().is_err_and(|m| m.contains(says)),
                "{wrong}: {verdict:?}"
            );
        }
    }
}
