//! `GET /export/ideas.csv`: the ideas `ideas(filter, orderBy)` lists, as a spreadsheet. The
//! filter is the GraphQL `IdeaFilter` as JSON (`?filter={"regencyCodes":["63.03"]}`), checked
//! by the same limits as a query's variables and read as the caller, so the file holds what
//! the query would. The file is UTF-8 with a byte-order mark (spreadsheets then read the
//! accents right), streamed a page at a time, and imports again with `labinov import`.

use async_graphql::Executor as _;
use async_graphql::{InputType, Value};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use futures_util::stream;

use super::context::{Links, QueryParams, Requester, client_error, refused};
use crate::{
    access::Caller,
    domain::{
        Domain,
        action_plan::Progress,
        idea::{
            IdeaFilter as DomainFilter, IdeaOrder as DomainOrder,
            export::{ExportPage, ExportRow},
            import::{FORMULA_STARTS, is_guarded},
        },
    },
    error::{DomainError, ErrorCode},
    graphql::idea::{IdeaFilter, IdeaOrder},
    http::state::AppState,
};

/// The document the export's parameters are checked with, as variables of a query.
/// The field is skipped: only the variables are checked, nothing is read.
pub const PROBE: &str = "query Export($filter: IdeaFilter, $orderBy: IdeaOrder) { ideas(filter: $filter, orderBy: $orderBy) @skip(if: true) { totalCount } }";

/// The header line; the columns `labinov import` reads keep its names.
pub const COLUMNS: [&str; 29] = [
    "id",
    "regency",
    "cohort",
    "unit",
    "unit_kind",
    "title",
    "problem",
    "description",
    "type",
    "form",
    "affairs_area",
    "initiator",
    "maturity",
    "stage",
    "status",
    "stall_reason",
    "status_reason",
    "submitted",
    "stage_entered",
    "launched_on",
    "innovator",
    "innovator_position",
    "mentors",
    "score",
    "reviews",
    "milestones_done",
    "milestones_planned",
    "milestones_overdue",
    "evidence_files",
];

fn bad_request(err: &DomainError) -> Response {
    client_error(StatusCode::BAD_REQUEST, err.code(), err.message())
}

/// A query parameter's JSON, parsed once.
fn json_of(name: &str, json: &str) -> Result<serde_json::Value, DomainError> {
    let example = if name == "orderBy" {
        r#"orderBy={"field":"TITLE","direction":"ASC"}"#
    } else {
        r#"filter={"regencyCodes":["63.03"]}"#
    };
    serde_json::from_str(json).map_err(|_| {
        DomainError::bad_input(format!(
            "`{name}` is not JSON; give it as the GraphQL variable would be, e.g. {example}."
        ))
    })
}

/// A parameter's JSON (checked by the schema already) as a GraphQL input value of type `T`.
fn input<T: InputType>(
    name: &str,
    json: Option<&serde_json::Value>,
) -> Result<Option<T>, DomainError> {
    let Some(json) = json else { return Ok(None) };
    let value = Value::from_json(json.clone())
        .map_err(|_| DomainError::bad_input(format!("`{name}` is not a GraphQL input value.")))?;
    T::parse(Some(value)).map(Some).map_err(|err| {
        DomainError::bad_input(format!(
            "`{name}`: {}",
            err.into_server_error(async_graphql::Pos::default()).message
        ))
    })
}

/// The filter and order of an export link, checked as the variables of an `ideas` query are
/// (limits, unknown fields, enum values): the export takes exactly what `ideas` takes.
async fn checked_variables(
    state: &AppState,
    caller: &Caller,
    query: Option<&str>,
) -> Result<serde_json::Map<String, serde_json::Value>, Box<Response>> {
    let params = QueryParams::of(query);
    let param = |name: &str| params.get(name);
    // The same limits as a query's variables: nesting, list lengths, size.
    let mut variables = serde_json::Map::new();
    for name in ["filter", "orderBy"] {
        if let Some(json) = param(name) {
            match json_of(name, json) {
                Ok(value) => {
                    variables.insert(name.to_owned(), value);
                }
                Err(err) => return Err(Box::new(bad_request(&err))),
            }
        }
    }
    // The schema checks the filter as it checks a query's variables (limits, unknown fields,
    // enum values), so the export takes exactly what `ideas` takes.
    let probe = async_graphql::Request::new(PROBE)
        .variables(async_graphql::Variables::from_json(
            variables.clone().into(),
        ))
        .data(caller.clone());
    let checked = state.engine.execute(probe).await;
    if let Some(err) = checked.errors.first() {
        let code = err
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|c| match c {
                Value::String(s) => ErrorCode::parse(s),
                _ => None,
            })
            .unwrap_or(ErrorCode::BadUserInput);
        return Err(Box::new(client_error(
            StatusCode::BAD_REQUEST,
            code,
            &err.message,
        )));
    }
    Ok(variables)
}

/// What an export's refusals call it.
const EXPORT: &str = "The export";

pub async fn ideas_csv(
    State(state): State<AppState>,
    Requester { caller, .. }: Requester<Links>,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let query = parts.uri.query();
    let variables = match checked_variables(&state, &caller, query).await {
        Ok(variables) => variables,
        Err(refused) => return *refused,
    };
    let filter = match input::<IdeaFilter>("filter", variables.get("filter")).and_then(|f| {
        f.map(|f| f.to_domain().map_err(|e| DomainError::bad_input(e.message)))
            .transpose()
    }) {
        Ok(filter) => filter.unwrap_or_default(),
        Err(err) => return bad_request(&err),
    };
    let order: DomainOrder = match input::<IdeaOrder>("orderBy", variables.get("orderBy")) {
        Ok(order) => order.unwrap_or_default().into(),
        Err(err) => return bad_request(&err),
    };
    // With read replicas, one that holds what the caller may have seen reads every page.
    let domain = state.domain.reader(None).await;
    let first = match domain.export_page(&caller, &filter, order, None).await {
        Ok(page) => page,
        Err(err) => return refused(&err, EXPORT),
    };
    let body = Body::from_stream(pages(domain, caller, filter, order, first));
    let filename = format!(
        "attachment; filename=\"labinov-ideas-{}.csv\"",
        chrono::Utc::now().format("%Y%m%d-%H%M")
    );
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// The file: the byte-order mark and header line with the first page, then one chunk per page.
fn pages(
    domain: Domain,
    caller: Caller,
    filter: DomainFilter,
    order: DomainOrder,
    first: ExportPage,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
    let start = (Some(first), true);
    stream::unfold(start, move |(page, first_chunk)| {
        let domain = domain.clone();
        let caller = caller.clone();
        let filter = filter.clone();
        async move {
            let page = page?;
            let mut out = Vec::with_capacity(page.rows.len() * 400);
            if first_chunk {
                out.extend_from_slice("\u{feff}".as_bytes());
            }
            let written = write_rows(&mut out, first_chunk, &page.rows);
            if let Err(err) = written {
                tracing::error!(error = %err, "export: writing CSV failed");
                return Some((Err(std::io::Error::other("CSV")), (None, false)));
            }
            let next = match page.next {
                None => None,
                Some(cursor) => match domain
                    .export_page(&caller, &filter, order, Some(cursor))
                    .await
                {
                    Ok(next) => Some(next),
                    Err(err) => {
                        // The status is sent; a cut file is all a client can be told now.
                        tracing::error!(error = %err.describe(), "export: reading a page failed");
                        return Some((Err(std::io::Error::other("export cut")), (None, false)));
                    }
                },
            };
            Some((Ok(axum::body::Bytes::from(out)), (next, false)))
        }
    })
}

/// A cell a spreadsheet will not run as a formula: one starting with `=`, `+`, `-`, `@` or a
/// control character gets a leading apostrophe, which `labinov import` takes off again.
fn guarded(text: &str) -> std::borrow::Cow<'_, str> {
    // A text that itself starts with the guard gets one more, which import takes off again.
    if text.starts_with(FORMULA_STARTS) || is_guarded(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

fn write_rows(out: &mut Vec<u8>, header: bool, rows: &[ExportRow]) -> csv::Result<()> {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    if header {
        writer.write_record(COLUMNS)?;
    }
    for row in rows {
        let idea = &row.idea;
        let score = row
            .score
            .map(|s| format!("{:.2}", s.points()))
            .unwrap_or_default();
        let reviews = row.score.map(|s| s.reviews.to_string()).unwrap_or_default();
        let mentors = row.mentors.join("; ");
        let progress = |n: fn(&Progress) -> usize| {
            row.progress
                .as_ref()
                .map(|p| n(p).to_string())
                .unwrap_or_default()
        };
        let record: [std::borrow::Cow<'_, str>; 29] = [
            crate::global_id::encode(crate::global_id::Kind::Idea, idea.id).into(),
            row.regency_code.as_str().into(),
            guarded(&row.cohort),
            guarded(&row.unit),
            row.unit_kind
                .map(entity::UnitKind::as_str)
                .unwrap_or_default()
                .into(),
            guarded(&idea.title),
            guarded(&idea.problem),
            guarded(&idea.description),
            idea.innovation_type.as_str().into(),
            idea.form.as_str().into(),
            guarded(&idea.affairs_area),
            idea.initiator.as_str().into(),
            idea.maturity.as_str().into(),
            idea.stage.as_str().into(),
            idea.status.as_str().into(),
            idea.stall_reason
                .map(entity::StallReason::as_str)
                .unwrap_or_default()
                .into(),
            guarded(idea.status_reason.as_deref().unwrap_or_default()),
            idea.submitted_at.to_rfc3339().into(),
            idea.stage_entered_at.to_rfc3339().into(),
            idea.launched_on
                .map(|d| d.to_string())
                .unwrap_or_default()
                .into(),
            guarded(idea.innovator_name.as_deref().unwrap_or_default()),
            guarded(idea.innovator_position.as_deref().unwrap_or_default()),
            guarded(&mentors),
            score.into(),
            reviews.into(),
            progress(|p| p.done).into(),
            progress(|p| p.planned).into(),
            progress(|p| p.overdue).into(),
            row.evidence.to_string().into(),
        ];
        writer.write_record(record.iter().map(|c| c.as_bytes()))?;
    }
    writer.flush()?;
    Ok(())
}

/// The columns of an action plan's export, one row per milestone.
pub const PLAN_COLUMNS: [&str; 10] = [
    "position",
    "title",
    "owner_name",
    "owner_position",
    "due_on",
    "status",
    "done_on",
    "overdue",
    "note",
    "goal",
];

/// `GET /export/plan.csv?idea=<ID>`: an idea's action plan as a spreadsheet, one row per
/// milestone, read as the caller (an idea of another regency, or without a plan, is 404).
pub async fn plan_csv(
    State(state): State<AppState>,
    Requester { caller, .. }: Requester<Links>,
    request: Request,
) -> Response {
    let params = QueryParams::of(request.uri().query());
    let Some(id) = params.get("idea") else {
        return bad_request(&DomainError::bad_input(
            "Name the idea: /export/plan.csv?idea=<the idea's ID>.",
        ));
    };
    let idea_id = match crate::global_id::decode(crate::global_id::Kind::Idea, id) {
        Ok(id) => id,
        Err(err) => return bad_request(&err),
    };
    let domain = state.domain.reader(None).await;
    let plan = match domain.action_plans_of(&caller, &[idea_id]).await {
        Ok(mut plans) => plans.remove(&idea_id),
        Err(err) => return refused(&err, EXPORT),
    };
    let Some(plan) = plan else {
        let missing =
            DomainError::not_found("No idea with this ID has an action plan you may read.");
        return client_error(StatusCode::NOT_FOUND, missing.code(), missing.message());
    };
    let mut out = "\u{feff}".as_bytes().to_vec();
    if let Err(err) = write_plan(&mut out, &plan) {
        return refused(&DomainError::Internal(err.into()), EXPORT);
    }
    let mut response = (StatusCode::OK, out).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let filename = format!("attachment; filename=\"labinov-plan-{idea_id}.csv\"");
    if let Ok(value) = HeaderValue::from_str(&filename) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

fn write_plan(out: &mut Vec<u8>, plan: &crate::domain::action_plan::ActionPlan) -> csv::Result<()> {
    let today = crate::domain::volatile::now().date_naive();
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    writer.write_record(PLAN_COLUMNS)?;
    for m in &plan.milestones {
        let overdue = crate::domain::action_plan::is_overdue(m, today);
        let record: [std::borrow::Cow<'_, str>; 10] = [
            m.position.to_string().into(),
            guarded(&m.title),
            guarded(&m.owner_name),
            guarded(&m.owner_position),
            m.due_on.to_string().into(),
            m.status.as_str().into(),
            m.done_on.map(|d| d.to_string()).unwrap_or_default().into(),
            if overdue { "yes" } else { "no" }.into(),
            guarded(m.note.as_deref().unwrap_or_default()),
            guarded(&plan.plan.goal),
        ];
        writer.write_record(record.iter().map(|c| c.as_bytes()))?;
    }
    writer.flush()?;
    Ok(())
}
