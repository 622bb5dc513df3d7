//! Puts the fields of an answer in the order the document asked for them, as the GraphQL spec
//! orders a response. async-graphql resolves an object's fields concurrently and inserts each
//! as it finishes, so `ideas { totalCount nodes }` came back as `nodes` then `totalCount`
//! whenever counting took longer than the page — not even the same order every time.

use async_graphql::{
    Name, Value,
    indexmap::IndexMap,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

/// How deep selections are followed; validation already refuses deeper documents.
const MAX_DEPTH: usize = 64;

/// The response keys of a selection, in the order asked, each with the order below it.
#[derive(Default)]
struct Plan<'a> {
    keys: Vec<(&'a str, Plan<'a>)>,
}

/// Orders every object of `data`, an answer to `operation` of `document` (None: its only one).
/// An object already in order (the usual case) is only looked at, not rebuilt.
pub fn in_asked_order(data: &mut Value, document: &ExecutableDocument, operation: Option<&str>) {
    let Some((_, op)) = document
        .operations
        .iter()
        .find(|(name, _)| operation.is_none() || name.map(Name::as_str) == operation)
    else {
        return;
    };
    let plan = plan(&[&op.node.selection_set.node], document, 0);
    apply(data, &plan);
}

fn plan<'a>(sets: &[&'a SelectionSet], document: &'a ExecutableDocument, depth: usize) -> Plan<'a> {
    let mut grouped: Vec<(&'a str, Vec<&'a SelectionSet>)> = Vec::new();
    for set in sets {
        collect(set, document, &mut grouped, depth);
    }
    Plan {
        keys: grouped
            .into_iter()
            .map(|(key, below)| {
                let nested = if depth < MAX_DEPTH && below.iter().any(|s| !s.items.is_empty()) {
                    plan(&below, document, depth + 1)
                } else {
                    Plan::default()
                };
                (key, nested)
            })
            .collect(),
    }
}

/// The fields a selection set asks for, fragments spread in place; a key asked twice keeps its
/// first place and merges what is asked below it.
fn collect<'a>(
    set: &'a SelectionSet,
    document: &'a ExecutableDocument,
    out: &mut Vec<(&'a str, Vec<&'a SelectionSet>)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                let key = field.node.response_key().node.as_str();
                let below = &field.node.selection_set.node;
                match out.iter_mut().find(|(k, _)| *k == key) {
                    Some((_, sets)) => sets.push(below),
                    None => out.push((key, vec![below])),
                }
            }
            Selection::FragmentSpread(spread) => {
                if let Some(fragment) = document.fragments.get(&spread.node.fragment_name.node) {
                    collect(&fragment.node.selection_set.node, document, out, depth + 1);
                }
            }
            Selection::InlineFragment(inline) => {
                collect(&inline.node.selection_set.node, document, out, depth + 1);
            }
        }
    }
}

fn apply(value: &mut Value, plan: &Plan<'_>) {
    if plan.keys.is_empty() {
        // A leaf: a JSON scalar's object is data, not fields.
        return;
    }
    match value {
        Value::List(items) => {
            for item in items {
                apply(item, plan);
            }
        }
        Value::Object(fields) => {
            if !in_order(fields, plan) {
                let mut ordered = IndexMap::with_capacity(fields.len());
                for (key, _) in &plan.keys {
                    if let Some((name, value)) = fields.shift_remove_entry(*key) {
                        ordered.insert(name, value);
                    }
                }
                ordered.extend(std::mem::take(fields));
                *fields = ordered;
            }
            // The fields now come in the plan's order (any the plan does not name last): each
            // meets its plan by walking both together, without a lookup.
            let mut asked = plan.keys.iter();
            for (key, value) in fields.iter_mut() {
                if let Some((_, below)) = asked.find(|(k, _)| *k == key.as_str()) {
                    apply(value, below);
                }
            }
        }
        _ => {}
    }
}

/// Whether the object's keys already come in the plan's order.
fn in_order(fields: &IndexMap<Name, Value>, plan: &Plan<'_>) -> bool {
    let mut asked = plan.keys.iter();
    fields
        .keys()
        .all(|key| asked.any(|(k, _)| *k == key.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(query: &str, data: serde_json::Value) -> String {
        let document = async_graphql::parser::parse_query(query).expect("a document");
        let mut value = Value::from_json(data).expect("a value");
        in_asked_order(&mut value, &document, None);
        serde_json::to_string(&value).expect("JSON")
    }

    #[test]
    fn fields_come_in_the_order_asked_at_every_depth() {
        let query = "{ ideas { totalCount nodes { title id unit { name kind } ...f } } }
                     fragment f on Idea { stage payload }";
        let data = serde_json::json!({ "ideas": {
            "nodes": [
                { "id": 1, "unit": { "kind": "K", "name": "N" }, "payload": { "z": 1, "a": 2 },
                  "stage": "S", "title": "T" },
                { "title": "U", "id": 2, "unit": { "name": "M", "kind": "L" }, "stage": "S",
                  "payload": null }
            ],
            "totalCount": 2
        }});
        assert_eq!(
            ordered(query, data),
            r#"{"ideas":{"totalCount":2,"nodes":[{"title":"T","id":1,"unit":{"name":"N","kind":"K"},"stage":"S","payload":{"a":2,"z":1}},{"title":"U","id":2,"unit":{"name":"M","kind":"L"},"stage":"S","payload":null}]}}"#
        );
    }

    #[test]
    fn aliases_and_repeated_fields_keep_their_first_place() {
        let query = "query Q { b: funnel { total } a: funnel { launched } b: funnel { active } }";
        let data = serde_json::json!({ "a": { "launched": 1 }, "b": { "active": 3, "total": 4 } });
        let document = async_graphql::parser::parse_query(query).expect("a document");
        let mut value = Value::from_json(data).expect("a value");
        in_asked_order(&mut value, &document, Some("Q"));
        assert_eq!(
            serde_json::to_string(&value).expect("JSON"),
            r#"{"b":{"total":4,"active":3},"a":{"launched":1}}"#
        );
    }
}
