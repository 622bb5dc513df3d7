//! Limits on the shape of a request, checked before async-graphql parses, validates or runs it,
//! on every transport (HTTP, SSE, both WebSocket protocols).
//!
//! Everything here is linear in the size of the request text: fragments are measured once each
//! and their measures reused wherever they are spread, so a request that would expand to
//! millions of fields (a fragment spreading another twice, twenty times over) is refused in
//! microseconds instead of being walked. Each limit answers with its own `extensions.code`, the
//! limit's name and its value, and a sentence saying what to change.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

use async_graphql::{
    Positioned, Request, ServerError, ServerResult, Value as ConstValue, Variables,
    parser::types::{
        DocumentOperations, ExecutableDocument, Field, OperationDefinition, OperationType,
        Selection, SelectionSet,
    },
};
use async_graphql_value::Value;

use super::kept::Kept;
use crate::{config::LimitArgs, error::ErrorCode};

/// The limits on one request; every one is configurable (see `config.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryLimits {
    /// Longest query text, in bytes.
    pub max_query_bytes: usize,
    /// Deepest nesting of brackets (`{`, `[`, `(`) in the query text: bounds every recursive
    /// walk of the document and of literal input values.
    pub max_nesting: usize,
    /// Deepest selection, fragments expanded.
    pub max_depth: usize,
    /// Most fields a query may resolve, fragments expanded, connection fields multiplied by
    /// their page size (`first`/`last`, or the default page size) and lists without pages by
    /// the most items they hold ([`UNPAGED_LISTS`]).
    pub max_complexity: usize,
    /// Most aliased fields, fragments expanded.
    pub max_aliases: usize,
    /// Most top-level fields of one operation, fragments expanded.
    pub max_root_fields: usize,
    /// Deepest nesting of input objects and lists in arguments and variables (filters in filters).
    pub max_input_depth: usize,
    /// Longest list in an argument or variable.
    pub max_input_list: usize,
    /// Most input objects in one request, arguments and variables together (filter branches).
    pub max_input_objects: usize,
    /// Most list items in one request, arguments and variables together (each becomes a
    /// bound value in SQL, and SQLite takes at most 32,766 of those in one statement).
    pub max_input_items: usize,
    /// The page size assumed for a connection asked without `first` or `last`.
    pub default_page_size: usize,
    /// Bytes of parsed documents kept for reuse (see [`Documents`]).
    pub kept_documents_bytes: usize,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self::new(&LimitArgs::default(), 20)
    }
}

impl QueryLimits {
    /// The limits configured by `limits`, with pages of `default_page_size` items when a
    /// query names no size.
    pub fn new(limits: &LimitArgs, default_page_size: usize) -> Self {
        Self {
            max_query_bytes: limits.max_query_bytes,
            max_nesting: limits.max_query_nesting,
            max_depth: limits.max_query_depth,
            max_complexity: limits.max_query_complexity,
            max_aliases: limits.max_aliases,
            max_root_fields: limits.max_root_fields,
            max_input_depth: limits.max_input_depth,
            max_input_list: limits.max_input_list,
            max_input_objects: limits.max_input_objects,
            max_input_items: limits.max_input_items,
            default_page_size,
            kept_documents_bytes: limits.parsed_documents_kb.saturating_mul(1024),
        }
    }
}

/// A refused request: the code, the limit's name and value, and the sentence.
pub fn limit_error(code: ErrorCode, limit: &str, max: usize, message: String) -> ServerError {
    let mut error = ServerError::new(message, None);
    let extensions = error.extensions.get_or_insert_with(Default::default);
    extensions.set("code", code);
    extensions.set("limit", limit);
    extensions.set("max", max as u64);
    error
}

/// What a mutation sent by GET or as an event stream is told.
pub const QUERIES_ONLY: &str = "Only queries may be sent with GET or as an event stream; send mutations with POST (Content-Type: application/json) or over a WebSocket.";

/// Request data marking a transport that runs no mutations (GET, event streams).
#[derive(Debug, Clone, Copy)]
pub struct QueriesOnly;

/// Parsed documents by their text, most recently used kept: dashboards and screens send the
/// same few documents over and over, and parsing one is a noticeable share of a small query's
/// time. A document is kept only once it passed every check here, only when its text is short,
/// and within a byte budget (a parsed document weighs [`Self::WEIGHT_PER_BYTE`] times its
/// text), so what an attacker can make the server keep is bounded.
pub struct Documents(Mutex<Kept<String, Arc<ExecutableDocument>>>);

impl Documents {
    /// At most this many documents.
    const KEPT: usize = 256;
    /// Only texts this short (a dashboard's page query is a few hundred bytes).
    const KEPT_BYTES: usize = 2048;
    /// What a parsed document is taken to weigh per byte of its text: positions, names and
    /// boxed nodes make the tree some tens of times larger than the text.
    pub const WEIGHT_PER_BYTE: usize = 40;

    /// Keeps parsed documents weighing `budget` bytes at most.
    pub fn new(budget: usize) -> Self {
        Self(Mutex::new(Kept::new(Self::KEPT, budget)))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept<String, Arc<ExecutableDocument>>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The kept document of `query`, or `query` parsed now (and whether it was).
    fn parse(&self, query: &str) -> ServerResult<(Arc<ExecutableDocument>, bool)> {
        if let Some(document) = self.lock().get(query) {
            return Ok((document.clone(), false));
        }
        let document =
            async_graphql::parser::parse_query(query).map_err(|error| unparsable(&error))?;
        Ok((Arc::new(document), true))
    }

    /// Keeps a document that passed the checks, if its text is short enough.
    fn keep(&self, query: &str, document: &Arc<ExecutableDocument>) {
        if query.len() <= Self::KEPT_BYTES {
            let weight = query.len() * (Self::WEIGHT_PER_BYTE + 1);
            self.lock().put(query.to_owned(), document.clone(), weight);
        }
    }

    /// The bytes the kept documents are taken to weigh.
    pub fn bytes(&self) -> usize {
        self.lock().bytes()
    }
}

impl Default for Documents {
    fn default() -> Self {
        Self::new(4 * 1024 * 1024)
    }
}

/// The refusal of a query that does not parse, as a sentence with its place: the parser's
/// own message draws the line with a caret under it, which reads as noise in a JSON error.
fn unparsable(error: &async_graphql::parser::Error) -> ServerError {
    use async_graphql::parser::Error;
    let locations: Vec<_> = error.positions().collect();
    let what = match error {
        Error::Syntax { message, .. } => message
            .lines()
            .rev()
            .find_map(|line| line.trim().strip_prefix("= "))
            .unwrap_or("it does not follow GraphQL's grammar")
            .to_owned(),
        other => other.to_string(),
    };
    let at = locations
        .first()
        .map(|pos| format!(" at line {}, column {}", pos.line, pos.column))
        .unwrap_or_default();
    let mut refused =
        ServerError::new(format!("The query is not valid GraphQL{at}: {what}."), None);
    refused.locations = locations;
    refused
}

/// Checks `request` against `limits`; returns its parsed document when it passes.
pub fn check(
    limits: &QueryLimits,
    documents: &Documents,
    request: &Request,
) -> ServerResult<Arc<ExecutableDocument>> {
    let query = request.query.as_str();
    check_text(limits, query)?;
    // Input objects and list items are counted over the variables, their defaults and the
    // literal arguments together.
    let mut tally = Tally::default();
    for (name, value) in request.variables.iter() {
        check_input(limits, &format!("${name}"), value, &mut tally)?;
    }
    let (document, parsed_now) = documents.parse(query)?;
    let operations = operations_to_run(&document, request.operation_name.as_deref());
    let variables = with_defaults(limits, &operations, &request.variables, &mut tally)?;
    let mut measure = Measure::new(limits, &document, &variables);
    for operation in operations {
        let size = measure.selection_set(&operation.node.selection_set.node)?;
        check_size(limits, operation.node.ty, &size)?;
        tally.objects += size.input_objects;
        tally.items += size.input_items;
    }
    check_tally(limits, &tally)?;
    if parsed_now {
        documents.keep(query, &document);
    }
    Ok(document)
}

/// The limits a query's text is held to before it is parsed: its size and its nesting.
fn check_text(limits: &QueryLimits, query: &str) -> ServerResult<()> {
    if query.len() > limits.max_query_bytes {
        return Err(limit_error(
            ErrorCode::QueryTooLarge,
            "queryBytes",
            limits.max_query_bytes,
            format!(
                "The query is {} bytes long; at most {} are accepted. Send a shorter query.",
                query.len(),
                limits.max_query_bytes
            ),
        ));
    }
    let nesting = bracket_nesting(query);
    if nesting > limits.max_nesting {
        return Err(limit_error(
            ErrorCode::QueryTooDeep,
            "nesting",
            limits.max_nesting,
            format!(
                "The query nests brackets {nesting} deep; at most {} levels are accepted.",
                limits.max_nesting
            ),
        ));
    }
    Ok(())
}

/// The operations of `document` a request with `operation_name` may run.
fn operations_to_run<'d>(
    document: &'d ExecutableDocument,
    operation_name: Option<&str>,
) -> Vec<&'d Positioned<OperationDefinition>> {
    match &document.operations {
        DocumentOperations::Single(operation) => vec![operation],
        DocumentOperations::Multiple(map) => match operation_name {
            Some(wanted) => map
                .iter()
                .filter(|(name, _)| name.as_str() == wanted)
                .map(|(_, op)| op)
                .collect(),
            None => map.values().collect(),
        },
    }
}

/// The variables with the defaults of those left out: a default is checked, and counts, like a
/// sent value.
fn with_defaults(
    limits: &QueryLimits,
    operations: &[&Positioned<OperationDefinition>],
    sent: &Variables,
    tally: &mut Tally,
) -> ServerResult<Variables> {
    let mut variables = sent.clone();
    for operation in operations {
        for definition in &operation.node.variable_definitions {
            let name = &definition.node.name.node;
            if variables.contains_key(name) {
                continue;
            }
            if let Some(default) = &definition.node.default_value {
                check_input(limits, &format!("${name}"), &default.node, tally)?;
                variables.insert(name.clone(), default.node.clone());
            }
        }
    }
    Ok(variables)
}

/// The limits on one operation's measured selection.
fn check_size(limits: &QueryLimits, kind: OperationType, size: &Size) -> ServerResult<()> {
    if kind == OperationType::Subscription && size.root_fields != 1 {
        return Err(input_error(
            "subscriptionRootFields",
            1,
            format!(
                "A subscription selects exactly one top-level field; this one selects {}. Subscribe to each separately.",
                size.root_fields
            ),
        ));
    }
    if size.root_fields > limits.max_root_fields {
        return Err(limit_error(
            ErrorCode::TooManyRootFields,
            "rootFields",
            limits.max_root_fields,
            format!(
                "The operation asks for {} top-level fields; at most {} are accepted. Split it into several requests.",
                size.root_fields, limits.max_root_fields
            ),
        ));
    }
    if size.depth > limits.max_depth {
        return Err(limit_error(
            ErrorCode::QueryTooDeep,
            "depth",
            limits.max_depth,
            format!(
                "The query is {} fields deep; at most {} levels are accepted.",
                size.depth, limits.max_depth
            ),
        ));
    }
    if size.aliases > limits.max_aliases {
        return Err(limit_error(
            ErrorCode::TooManyAliases,
            "aliases",
            limits.max_aliases,
            format!(
                "The query uses {} aliases; at most {} are accepted.",
                size.aliases, limits.max_aliases
            ),
        ));
    }
    if size.complexity > limits.max_complexity {
        return Err(limit_error(
            ErrorCode::QueryTooComplex,
            "complexity",
            limits.max_complexity,
            format!(
                "The query could resolve up to {} fields (page sizes multiplied, fragments expanded); at most {} are accepted. Ask for smaller pages or fewer nested lists.",
                saturating_display(size.complexity),
                limits.max_complexity
            ),
        ));
    }
    Ok(())
}

/// The limits on the request's input objects and list items, all arguments together.
fn check_tally(limits: &QueryLimits, tally: &Tally) -> ServerResult<()> {
    let input_objects = tally.objects;
    if tally.items > limits.max_input_items {
        return Err(input_error(
            "inputItems",
            limits.max_input_items,
            format!(
                "The arguments hold {} list items in all; at most {} are accepted; ask in several requests.",
                tally.items, limits.max_input_items
            ),
        ));
    }
    if input_objects > limits.max_input_objects {
        return Err(input_error(
            "inputObjects",
            limits.max_input_objects,
            format!(
                "The arguments hold {input_objects} input objects (filters within filters); at most {} are accepted; simplify them.",
                limits.max_input_objects
            ),
        ));
    }
    Ok(())
}

/// Whether parsing `query` could recurse deeper or take longer than the limits allow.
pub fn too_big_to_parse(limits: &QueryLimits, query: &str) -> bool {
    query.len() > limits.max_query_bytes || bracket_nesting(query) > limits.max_nesting
}

fn saturating_display(n: usize) -> String {
    if n == usize::MAX {
        "more than 10^18".to_owned()
    } else {
        n.to_string()
    }
}

/// An input that is too big: BAD_USER_INPUT, with the limit named.
fn input_error(limit: &str, max: usize, message: String) -> ServerError {
    limit_error(ErrorCode::BadUserInput, limit, max, message)
}

/// The deepest nesting of `{`, `[` and `(` outside strings and comments.
fn bracket_nesting(query: &str) -> usize {
    let bytes = query.as_bytes();
    let (mut depth, mut deepest, mut i) = (0usize, 0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                if bytes[i..].starts_with(b"\"\"\"") {
                    i += 3;
                    while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 2;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    deepest
}

/// Checks the nesting and list lengths of a variable's value; counts its input objects.
/// Input objects and list items seen so far in a request.
#[derive(Debug, Default)]
struct Tally {
    objects: usize,
    items: usize,
}

fn check_input(
    limits: &QueryLimits,
    name: &str,
    value: &ConstValue,
    tally: &mut Tally,
) -> ServerResult<()> {
    fn walk(
        limits: &QueryLimits,
        name: &str,
        value: &ConstValue,
        depth: usize,
        tally: &mut Tally,
    ) -> ServerResult<()> {
        if depth > limits.max_input_depth {
            return Err(input_error(
                "inputDepth",
                limits.max_input_depth,
                format!(
                    "{name} nests input objects and lists more than {} deep (filters within filters); simplify it.",
                    limits.max_input_depth
                ),
            ));
        }
        match value {
            ConstValue::List(items) => {
                if items.len() > limits.max_input_list {
                    return Err(input_error(
                        "inputListLength",
                        limits.max_input_list,
                        format!(
                            "{name} holds a list of {} items; at most {} are accepted.",
                            items.len(),
                            limits.max_input_list
                        ),
                    ));
                }
                tally.items += items.len();
                if tally.items > limits.max_input_items {
                    return Err(input_error(
                        "inputItems",
                        limits.max_input_items,
                        format!(
                            "{name} brings the list items of the request past the {} accepted at most; ask in several requests.",
                            limits.max_input_items
                        ),
                    ));
                }
                items
                    .iter()
                    .try_for_each(|item| walk(limits, name, item, depth + 1, tally))
            }
            ConstValue::Object(fields) => {
                tally.objects += 1;
                if tally.objects > limits.max_input_objects {
                    return Err(input_error(
                        "inputObjects",
                        limits.max_input_objects,
                        format!(
                            "{name} holds more input objects (filters within filters) than the {} accepted at most; simplify it.",
                            limits.max_input_objects
                        ),
                    ));
                }
                fields
                    .values()
                    .try_for_each(|field| walk(limits, name, field, depth + 1, tally))
            }
            _ => Ok(()),
        }
    }
    walk(limits, name, value, 0, tally)
}

/// What a selection set costs, fragments expanded.
#[derive(Debug, Clone, Copy, Default)]
struct Size {
    depth: usize,
    complexity: usize,
    aliases: usize,
    root_fields: usize,
    input_objects: usize,
    input_items: usize,
}

/// Measures selection sets; each fragment is measured once.
struct Measure<'a> {
    limits: &'a QueryLimits,
    document: &'a ExecutableDocument,
    variables: &'a async_graphql::Variables,
    fragments: HashMap<&'a str, Option<Size>>,
    /// Selection sets walked so far, for the tests to see that the work follows the text.
    #[cfg(test)]
    walked: usize,
}

impl<'a> Measure<'a> {
    fn new(
        limits: &'a QueryLimits,
        document: &'a ExecutableDocument,
        variables: &'a async_graphql::Variables,
    ) -> Self {
        Self {
            limits,
            document,
            variables,
            fragments: HashMap::new(),
            #[cfg(test)]
            walked: 0,
        }
    }

    fn selection_set(&mut self, set: &'a SelectionSet) -> ServerResult<Size> {
        #[cfg(test)]
        {
            self.walked += 1;
        }
        let mut total = Size::default();
        for selection in &set.items {
            let size = match &selection.node {
                Selection::Field(field) => {
                    let size = self.field(&field.node)?;
                    total.root_fields = total.root_fields.saturating_add(1);
                    size
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let size = self.fragment(name)?;
                    total.root_fields = total.root_fields.saturating_add(size.root_fields);
                    size
                }
                Selection::InlineFragment(inline) => {
                    let size = self.selection_set(&inline.node.selection_set.node)?;
                    total.root_fields = total.root_fields.saturating_add(size.root_fields);
                    size
                }
            };
            total.depth = total.depth.max(size.depth);
            total.complexity = total.complexity.saturating_add(size.complexity);
            total.aliases = total.aliases.saturating_add(size.aliases);
            total.input_objects = total.input_objects.saturating_add(size.input_objects);
            total.input_items = total.input_items.saturating_add(size.input_items);
        }
        Ok(total)
    }

    /// A fragment's size; a fragment that spreads itself counts as empty here (validation
    /// refuses the cycle afterwards).
    fn fragment(&mut self, name: &'a str) -> ServerResult<Size> {
        match self.fragments.get(name) {
            Some(Some(size)) => return Ok(*size),
            Some(None) => return Ok(Size::default()),
            None => {}
        }
        let Some(fragment) = self.document.fragments.get(name) else {
            return Ok(Size::default());
        };
        self.fragments.insert(name, None);
        let size = self.selection_set(&fragment.node.selection_set.node)?;
        self.fragments.insert(name, Some(size));
        Ok(size)
    }

    fn field(&mut self, field: &'a Field) -> ServerResult<Size> {
        // Literal arguments are checked like variables; a variable inside one is checked on
        // its own, so here it stands for nothing.
        let mut tally = Tally::default();
        for (name, value) in &field.arguments {
            let literal = match value
                .node
                .clone()
                .into_const_with(|_| Ok::<_, std::convert::Infallible>(ConstValue::Null))
            {
                Ok(literal) => literal,
                Err(never) => match never {},
            };
            let label = format!("The argument `{}`", name.node);
            check_input(self.limits, &label, &literal, &mut tally)?;
        }
        let children = self.selection_set(&field.selection_set.node)?;
        if matches!(field.name.node.as_str(), "__schema" | "__type") {
            return introspection(children);
        }
        let is_connection = field.selection_set.node.items.iter().any(|s| {
            matches!(&s.node, Selection::Field(f) if matches!(f.node.name.node.as_str(), "nodes" | "edges"))
        });
        let page = self
            .page_size(field, "first")
            .or_else(|| self.page_size(field, "last"))
            .or(is_connection.then_some(self.limits.default_page_size))
            .or_else(|| unpaged_list_items(field.name.node.as_str()))
            .unwrap_or(1)
            .max(1);
        Ok(Size {
            depth: children.depth + 1,
            complexity: children.complexity.saturating_mul(page).saturating_add(1),
            aliases: children.aliases + usize::from(field.alias.is_some()),
            root_fields: 0,
            input_objects: children.input_objects.saturating_add(tally.objects),
            input_items: children.input_items.saturating_add(tally.items),
        })
    }

    fn page_size(&self, field: &Field, argument: &str) -> Option<usize> {
        let value = &field.get_argument(argument)?.node;
        let number = match value {
            Value::Number(n) => n.as_u64(),
            Value::Variable(name) => match self.variables.get(name) {
                Some(ConstValue::Number(n)) => n.as_u64(),
                _ => None,
            },
            _ => None,
        }?;
        Some(usize::try_from(number).unwrap_or(usize::MAX))
    }
}

/// The lists of objects the schema answers whole, without pages, by field name, with the items
/// each is counted for: about what a lab holds. A regency has dozens of units (the demo's have
/// 66 to 86) and a unit some children; an idea has a handful of mentors, reviews or moves; a
/// funnel has five stages and six stall reasons. Counted as a page of that size,
/// `regency { units { regency { units { … } } } }` multiplies as nested pages do instead of
/// passing as a few fields. A name that is a list on one type and a single object on another
/// (`commitments`, `milestones`: `Funnel.commitments`, `FunnelStage.milestones`) is not in it,
/// since the document alone does not say which one is asked: those count as one item.
const UNPAGED_LISTS: &[(&str, usize)] = &[
    ("units", 100),
    ("children", 20),
    ("actionPlans", 10),
    ("cohorts", 20),
    ("comments", 20),
    ("entries", 20),
    ("evidence", 10),
    ("handOvers", 5),
    ("history", 10),
    ("ideaCounts", 20),
    ("ideas", 10),
    ("mentorAssignments", 5),
    ("mentors", 5),
    ("reviews", 5),
    ("revisions", 10),
    ("rubric", 10),
    ("scores", 10),
    ("stages", 5),
    ("stalledByReason", 6),
];

/// How many items an unpaged list field named `name` counts for (see [`UNPAGED_LISTS`]).
fn unpaged_list_items(name: &str) -> Option<usize> {
    UNPAGED_LISTS
        .iter()
        .find(|(list, _)| *list == name)
        .map(|(_, items)| *items)
}

/// Deepest selection below `__schema` or `__type`. Introspection answers from the schema held
/// in memory, lists no rows and pages nothing, so its own bound replaces the data-depth limit:
/// the standard introspection query of graphql-js (what GraphiQL, codegen, Apollo and IDE
/// plugins send first) is 13 levels deep, its type references nest nine `ofType` levels.
pub const MAX_INTROSPECTION_DEPTH: usize = 24;

/// The size an introspection field counts for: one level and its fields, refused past
/// [`MAX_INTROSPECTION_DEPTH`].
fn introspection(children: Size) -> ServerResult<Size> {
    if children.depth + 1 > MAX_INTROSPECTION_DEPTH {
        return Err(limit_error(
            ErrorCode::QueryTooDeep,
            "introspectionDepth",
            MAX_INTROSPECTION_DEPTH,
            format!(
                "The introspection query is {} fields deep; at most {MAX_INTROSPECTION_DEPTH} levels are accepted.",
                children.depth + 1
            ),
        ));
    }
    Ok(Size {
        depth: 1,
        complexity: children.complexity.saturating_add(1),
        aliases: children.aliases,
        root_fields: 0,
        input_objects: children.input_objects,
        input_items: children.input_items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(result: ServerResult<Arc<ExecutableDocument>>) -> String {
        match result {
            Ok(_) => "OK".to_owned(),
            Err(e) => e
                .extensions
                .and_then(|x| x.get("code").map(std::string::ToString::to_string))
                .unwrap_or_default()
                .trim_matches('"')
                .to_owned(),
        }
    }

    fn check_query(query: &str) -> String {
        code_of(check(
            &QueryLimits::default(),
            &Documents::default(),
            &Request::new(query),
        ))
    }

    #[test]
    fn a_query_that_does_not_parse_is_refused_with_a_sentence_and_its_place() {
        for (query, line, column) in [
            ("{ ideas(", 1, 9),
            (
                "query {\n  stages { stage }\n  ideas { nodes { id } ",
                3,
                24,
            ),
            (
                "query A { stages { stage } } query A { stages { stage } }",
                1,
                30,
            ),
        ] {
            let refused = check(
                &QueryLimits::default(),
                &Documents::default(),
                &Request::new(query),
            )
            .expect_err("it does not parse");
            let message = &refused.message;
            assert!(
                message.starts_with(&format!(
                    "The query is not valid GraphQL at line {line}, column {column}: "
                )),
                "{message}"
            );
            assert!(
                message.ends_with('.') && !message.contains('\n'),
                "{message}"
            );
            assert_eq!(refused.locations[0].line, line, "{message}");
        }
    }

    /// Lists of objects whose names also name a single object elsewhere: not counted.
    const NOT_COUNTED_LISTS: &[&str] = &["commitments", "milestones"];

    /// Every list of objects the schema answers without pages is counted as one: a new one
    /// cannot be added and forgotten.
    #[test]
    fn every_unpaged_list_of_objects_in_the_schema_is_counted_as_a_page() {
        use async_graphql::parser::types::{BaseType, TypeKind, TypeSystemDefinition};
        let sdl = crate::graphql::schema().finish().sdl();
        let document = async_graphql::parser::parse_schema(&sdl).expect("the schema's SDL");
        // Every field of an object or interface, with the name of its type.
        let mut objects = Vec::new();
        let mut fields = Vec::new();
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(ty) = definition else {
                continue;
            };
            let name = ty.node.name.node.as_str();
            let own = match &ty.node.kind {
                TypeKind::Object(object) => &object.fields,
                TypeKind::Interface(interface) => &interface.fields,
                _ => continue,
            };
            objects.push(name);
            fields.extend(own.iter().map(|field| (name, &field.node)));
        }
        let mut missing = Vec::new();
        let mut lists = 0;
        for (ty, field) in fields.iter().filter(|(ty, _)| !ty.ends_with("Connection")) {
            let BaseType::List(item) = &field.ty.node.base else {
                continue;
            };
            let BaseType::Named(item) = &item.base else {
                continue;
            };
            let paged = field
                .arguments
                .iter()
                .any(|a| matches!(a.node.name.node.as_str(), "first" | "last"));
            if objects.contains(&item.as_str()) && !paged {
                lists += 1;
                let name = field.name.node.as_str();
                if unpaged_list_items(name).is_none() && !NOT_COUNTED_LISTS.contains(&name) {
                    missing.push(format!("{ty}.{name}"));
                }
            }
        }
        assert!(lists > 20, "the schema's lists were found: {lists}");
        assert!(missing.is_empty(), "not counted as pages: {missing:?}");
        // A counted name is a list wherever it stands (a connection is paged; a mutation's
        // payload is one answer).
        let mut single = Vec::new();
        for (ty, field) in fields.iter().filter(|(ty, _)| !ty.ends_with("Payload")) {
            let name = field.name.node.as_str();
            let base = &field.ty.node.base;
            let connection = matches!(base, BaseType::Named(t) if t.ends_with("Connection"));
            if unpaged_list_items(name).is_some()
                && !connection
                && !matches!(base, BaseType::List(_))
            {
                single.push(format!("{ty}.{name}"));
            }
        }
        assert!(single.is_empty(), "counted as lists but single: {single:?}");
    }

    #[test]
    fn nested_unpaged_lists_multiply_like_pages() {
        let nested = |levels: usize| {
            let mut query = "name".to_owned();
            for _ in 0..levels {
                query = format!("regency {{ units {{ {query} }} }}");
            }
            check_query(&format!("{{ idea(id: \"x\") {{ {query} }} }}"))
        };
        assert_eq!(nested(2), "OK", "a regency's units' regency's units");
        assert_eq!(nested(3), "QUERY_TOO_COMPLEX");
        for dashboard in [
            "{ ideas(first: 100) { nodes { id title stage unit { name } cohort { name } regency { name } mentorAssignments { mentor { name } } } } }",
            "{ cohorts(first: 50) { nodes { name funnel { total launched stages { stage current milestones { done planned } } } } } }",
            "{ regencies { nodes { name funnel { total active stalled dropped launched stages { stage reached current active stalled dropped conversion completedStays averageDays medianDays stalledByReason { reason count } milestones { done planned } } stalledByReason { reason count } commitments { draft signed fulfilled withdrawn } } } } }",
            "{ ideas(first: 50) { nodes { id title stage score reviews { stage total scores { criterion score } } } } }",
            "{ units(first: 100) { nodes { id name kind children { id name kind headTitle } } } }",
        ] {
            assert_eq!(check_query(dashboard), "OK", "{dashboard}");
        }
    }

    #[test]
    fn a_short_document_that_passes_is_parsed_once_and_no_other_is_kept() {
        let (limits, documents) = (QueryLimits::default(), Documents::default());
        let page = Request::new("{ ideas(first: 5) { nodes { id } } }");
        let first = check(&limits, &documents, &page).expect("valid");
        let again = check(&limits, &documents, &page).expect("valid");
        assert!(
            Arc::ptr_eq(&first, &again),
            "the second check reuses the parse"
        );
        let broken = Request::new("{ ideas(first: 5) { nodes { id } }");
        assert!(check(&limits, &documents, &broken).is_err());
        let refused = Request::new(
            "{ ideas(first: 100) { nodes { unit { regency { ideas(first: 100) { nodes { id } } } } } } }",
        );
        assert_eq!(
            code_of(check(&limits, &documents, &refused)),
            "QUERY_TOO_COMPLEX"
        );
        let long = Request::new(format!(
            "{{ ideas(first: 5) {{ nodes {{ id }} }} }} #{}",
            "x".repeat(2048)
        ));
        assert_eq!(code_of(check(&limits, &documents, &long)), "OK");
        let kept = documents.lock();
        assert_eq!(kept.len(), 1, "only the short document that passed is kept");
        assert!(kept.peek(&page.query).is_some());
    }

    #[test]
    fn kept_documents_stay_within_their_byte_budget() {
        let limits = QueryLimits::default();
        let documents = Documents::new(64 * 1024);
        for n in 0..200 {
            let request = Request::new(format!(
                "{{ ideas(first: 5) {{ nodes {{ id }} }} }} #{n}{}",
                "x".repeat(1500)
            ));
            assert_eq!(code_of(check(&limits, &documents, &request)), "OK");
            assert!(documents.bytes() <= 64 * 1024);
        }
        assert!(documents.lock().len() < 200);
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count() {
        assert_eq!(bracket_nesting(r#"{ a(s: "{{{{[[[(") # {{{{ "#), 2);
        assert_eq!(bracket_nesting(r#"{ a(s: """ {{{ \""" {{ """) }"#), 2);
    }

    #[test]
    fn fragment_doubling_is_refused_without_expanding_it() {
        let mut query =
            String::from("query { ...F30 }\nfragment F0 on Query { regencies { totalCount } }\n");
        for n in 1..=30 {
            query.push_str(&format!(
                "fragment F{n} on Query {{ ...F{} ...F{} }}\n",
                n - 1,
                n - 1
            ));
        }
        let refused = check(
            &QueryLimits::default(),
            &Documents::default(),
            &Request::new(query.as_str()),
        );
        let message = refused.as_ref().err().map(|e| e.message.clone());
        assert_eq!(code_of(refused), "TOO_MANY_ROOT_FIELDS");
        // Counted in full (2^30 fields, which nobody could expand), not cut short.
        assert!(
            message
                .as_deref()
                .is_some_and(|m| m.contains(&format!("asks for {} top-level", 1u64 << 30))),
            "{message:?}"
        );

        // Measured by walking each selection set of the text once: the operation's, each
        // fragment's, and those of `regencies` and `totalCount`; a walk that expanded the
        // spreads would visit 2^30 of them.
        let document = async_graphql::parser::parse_query(&query).expect("it parses");
        let variables = Variables::default();
        let limits = QueryLimits::default();
        let mut measure = Measure::new(&limits, &document, &variables);
        let operations = operations_to_run(&document, None);
        let size = measure
            .selection_set(&operations[0].node.selection_set.node)
            .expect("measured");
        assert_eq!(size.root_fields, 1 << 30);
        assert_eq!(measure.walked, 1 + 31 + 2);
    }

    #[test]
    fn page_sizes_multiply() {
        let nested = "{ ideas(first: 100) { nodes { unit { regency { ideas(first: 100) { nodes { id title } } } } } } }";
        assert_eq!(check_query(nested), "QUERY_TOO_COMPLEX");
        let page = "{ ideas(first: 100) { nodes { id title unit { name } mentors { name } } } }";
        assert_eq!(check_query(page), "OK");
    }

    #[test]
    fn input_objects_are_counted_over_all_variables_together() {
        let branches = |n: usize| {
            let or: Vec<serde_json::Value> = (0..n).map(|_| serde_json::json!({})).collect();
            serde_json::json!({ "or": or })
        };
        let query = "query($a: IdeaFilter, $b: IdeaFilter) { a: ideas(filter: $a) { totalCount } b: ideas(filter: $b) { totalCount } }";
        let request = |n: usize| {
            Request::new(query).variables(async_graphql::Variables::from_json(
                serde_json::json!({ "a": branches(n), "b": branches(n) }),
            ))
        };
        assert_eq!(
            code_of(check(
                &QueryLimits::default(),
                &Documents::default(),
                &request(40)
            )),
            "OK"
        );
        assert_eq!(
            code_of(check(
                &QueryLimits::default(),
                &Documents::default(),
                &request(60)
            )),
            "BAD_USER_INPUT"
        );
    }

    #[test]
    fn each_limit_has_its_code() {
        let deep = format!(
            "{{ ideas(filter: {}{}) {{ totalCount }} }}",
            "{not: ".repeat(60),
            "}".repeat(60)
        );
        assert_eq!(check_query(&deep), "QUERY_TOO_DEEP");
        let nots = format!(
            "{{ ideas(filter: {}{}) {{ totalCount }} }}",
            "{not: ".repeat(10),
            "{}".to_owned() + &"}".repeat(10)
        );
        assert_eq!(check_query(&nots), "BAD_USER_INPUT");
        let aliases: String = (0..40)
            .map(|i| format!("a{i}: stages {{ stage }} "))
            .collect();
        assert_eq!(
            check_query(&format!("{{ regencies {{ nodes {{ {aliases} }} }} }}")),
            "TOO_MANY_ALIASES"
        );
        let roots: String = (0..21).map(|i| format!("f{i}: __typename ")).collect();
        assert_eq!(
            check_query(&format!("{{ {roots} }}")),
            "TOO_MANY_ROOT_FIELDS"
        );
        assert_eq!(
            check_query(&format!(
                "{{ ideas {{ totalCount }} }} # {}",
                "x".repeat(40_000)
            )),
            "QUERY_TOO_LARGE"
        );
    }
}
