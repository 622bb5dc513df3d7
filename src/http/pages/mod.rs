//! Pages the binary serves itself, with every asset embedded: GraphiQL at `/` and the event
//! screen at `/live`. Nothing is fetched from another site, so both work on a regency's
//! offline network.

use axum::{
    extract::{Path, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use crate::{access::Caller, http::state::AppState};

pub mod live;

/// The pinned GraphiQL release and its dependencies (production builds, licences kept in
/// `assets/graphiql/`); the version is in the URL, so browsers may cache them for good.
pub const GRAPHIQL_ASSETS: &str = "/assets/graphiql-3.9.0";

const GRAPHIQL_PAGE: &str = include_str!("graphiql.html");

/// (file name, content type, bytes) of every embedded asset.
const ASSETS: [(&str, &str, &[u8]); 9] = [
    (
        "graphiql.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/graphiql/graphiql.min.js"),
    ),
    (
        "graphiql.min.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../assets/graphiql/graphiql.min.css"),
    ),
    (
        "react.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/graphiql/react.production.min.js"),
    ),
    (
        "react-dom.production.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/graphiql/react-dom.production.min.js"),
    ),
    (
        "graphql-ws.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../assets/graphiql/graphql-ws.min.js"),
    ),
    (
        "LICENSE.graphiql",
        "text/plain; charset=utf-8",
        include_bytes!("../../../assets/graphiql/LICENSE.graphiql"),
    ),
    (
        "LICENSE.react",
        "text/plain; charset=utf-8",
        include_bytes!("../../../assets/graphiql/LICENSE.react"),
    ),
    (
        "LICENSE.react-dom",
        "text/plain; charset=utf-8",
        include_bytes!("../../../assets/graphiql/LICENSE.react-dom"),
    ),
    (
        "LICENSE.graphql-ws",
        "text/plain; charset=utf-8",
        include_bytes!("../../../assets/graphiql/LICENSE.graphql-ws"),
    ),
];

/// What a link to a page may say.
#[derive(Debug, Default, serde::Deserialize)]
pub struct PageParams {
    token: Option<String>,
    regency: Option<String>,
    cohort: Option<String>,
    lang: Option<String>,
    view: Option<String>,
    stage: Option<String>,
}

/// Only a token's own characters (base64url and dots) may come from a link into a page.
pub fn link_token(params: &PageParams) -> Option<&str> {
    params.token.as_deref().filter(|t| {
        !t.is_empty()
            && t.len() <= 4096
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    })
}

/// GraphiQL; `/?token=…` (the links `serve --demo` prints) opens it with that token set for
/// queries, mutations and subscriptions.
pub async fn graphiql(Query(params): Query<PageParams>) -> Response {
    let token = serde_json::to_string(&link_token(&params)).unwrap_or_else(|_| "null".into());
    let mut response = Html(GRAPHIQL_PAGE.replace("__TOKEN__", &token)).into_response();
    // A page holding a token is not cached, nor shown inside other sites' frames.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // A token in the address is not passed on to other sites.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// An embedded asset.
pub async fn asset(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, *content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "No such asset.").into_response(),
    }
}

/// A cohort of the regency by year (the first opened that year) or by global ID.
async fn cohort_of(
    state: &AppState,
    screen: &Caller,
    regency_id: i32,
    asked: &str,
) -> Option<entity::cohort::Model> {
    let cohorts = state
        .domain
        .cohorts_of_regencies(screen, &[regency_id])
        .await
        .ok()?
        .remove(&regency_id)
        .unwrap_or_default();
    if let Ok(year) = asked.parse::<i32>() {
        cohorts
            .into_iter()
            .filter(|c| c.year == year)
            .min_by_key(|c| c.id)
    } else {
        let id = crate::global_id::decode(crate::global_id::Kind::Cohort, asked).ok()?;
        cohorts.into_iter().find(|c| c.id == id)
    }
}

/// `/live?regency=CODE[&cohort=YEAR|ID][&lang=id|en][&view=funnel|ranking][&stage=DELIVER][&token=…]`:
/// the event screen. The ranking view ranks the given cohort's ideas (the regency's latest
/// cohort without one) at or past `stage` (DELIVER by default).
pub async fn live_screen(
    State(state): State<AppState>,
    Query(params): Query<PageParams>,
) -> Response {
    let lang = live::Lang::from_param(params.lang.as_deref());
    let code = params.regency.as_deref().map(str::trim).unwrap_or_default();
    let regency = if code.is_empty() {
        None
    } else {
        state
            .domain
            .regency_by_code(&Caller::system("event screen"), code)
            .await
            .ok()
            .flatten()
    };
    let Some(regency) = regency else {
        return (StatusCode::NOT_FOUND, Html(live::unknown_page(lang, code))).into_response();
    };
    let view = live::View::from_param(params.view.as_deref(), params.stage.as_deref());
    let screen = Caller::system("event screen");
    let cohort = match params.cohort.as_deref().map(str::trim) {
        None | Some("") if matches!(view, live::View::Ranking(_)) => state
            .domain
            .latest_cohort(&screen, regency.id)
            .await
            .ok()
            .flatten(),
        None | Some("") => None,
        Some(asked) => {
            let Some(cohort) = cohort_of(&state, &screen, regency.id, asked).await else {
                let page = live::unknown_cohort_page(lang, &regency, asked);
                return (StatusCode::NOT_FOUND, Html(page)).into_response();
            };
            Some(cohort)
        }
    }
    .map(|c| {
        (
            c.year,
            crate::global_id::encode(crate::global_id::Kind::Cohort, c.id),
        )
    });
    // A token that cannot read the regency would show an empty screen: say so instead, and
    // show the public funnel.
    let mut token = link_token(&params);
    let mut notice = None;
    if let Some(given) = token {
        let problem = match state.caller(Some(given)).await {
            Err(err) => Some(live::TokenProblem::Refused(err.message().to_owned())),
            Ok(caller) if !caller.read_scope().is_ok_and(|s| s.allows(regency.id)) => {
                Some(live::TokenProblem::OtherRegency)
            }
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            notice = Some(problem.sentence(lang, &regency));
            token = None;
        }
    }
    let mut response = Html(live::page(
        lang,
        view,
        &regency,
        cohort,
        token,
        notice.as_deref(),
    ))
    .into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
