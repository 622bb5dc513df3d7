//! Operating it: the pages the binary serves on its own, and the metrics.

use axum::{body::Body, http::Request};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::helpers::TestApp;

/// GETs `path` over a real socket: status, content type, headers and body text.
async fn get(app: &TestApp, path: &str) -> (u16, String, reqwest::header::HeaderMap, String) {
    let response = reqwest::Client::new()
        .get(format!("{}{path}", app.address))
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (
        status,
        content_type,
        headers,
        response.text().await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn graphiql_is_served_from_the_binary_with_no_outside_address() {
    let app = TestApp::spawn().await;
    let (status, content_type, headers, page) = get(&app, "/").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert_eq!(
        headers.get("cache-control").and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    for needle in ["unpkg", "jsdelivr", "cdn", "https://"] {
        assert!(!page.contains(needle), "the page names {needle}");
    }
    let assets: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("/assets/"))
        .collect();
    assert_eq!(assets.len(), 5, "{assets:?}");
    for asset in assets {
        let (status, content_type, headers, body) = get(&app, asset).await;
        assert_eq!(status, 200, "{asset}");
        assert!(
            content_type.starts_with("text/javascript") || content_type.starts_with("text/css"),
            "{asset}: {content_type}"
        );
        assert!(
            headers
                .get("cache-control")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.contains("immutable"))
        );
        assert!(body.len() > 5_000, "{asset} is the real build");
    }
    let (status, _, _, licence) = get(&app, "/assets/graphiql-3.9.0/LICENSE.graphiql").await;
    assert_eq!(status, 200);
    assert!(licence.contains("MIT"));
    let (status, _, _, _) = get(&app, "/assets/graphiql-3.9.0/../../Cargo.toml").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn a_link_cannot_put_script_into_the_pages() {
    let app = TestApp::with_demo().await;
    let (_, _, _, page) = get(&app, "/?token=%3C%2Fscript%3E%3Cscript%3Ealert(1)").await;
    assert!(
        page.contains("const token = null;"),
        "a bad token is dropped"
    );
    assert!(!page.contains("alert(1)"));
    let (status, _, _, page) = get(&app, "/live?regency=%3Cscript%3Ealert(1)%3C%2Fscript%3E").await;
    assert_eq!(status, 404);
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(page.contains("&lt;script&gt;"));
}

#[tokio::test]
async fn the_event_screen_page_names_its_regency_in_either_language() {
    let app = TestApp::with_demo().await;
    let (status, content_type, _, page) = get(&app, "/live?regency=63.03").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/html"));
    assert!(page.contains("<title>Kabupaten Banjar"));
    assert!(page.contains("\"lab\":\"Laboratorium Inovasi\""));
    assert!(!page.contains("https://"), "no outside address");
    let (_, _, _, english) = get(&app, "/live?regency=63.03&lang=en&cohort=2017").await;
    assert!(english.contains("\"lab\":\"Innovation Lab\""));
    assert!(english.contains("\"cohortYear\":2017"));
    let (status, _, _, unknown) = get(&app, "/live?regency=99.99&lang=en").await;
    assert_eq!(status, 404);
    assert!(unknown.contains("Unknown regency") && unknown.contains("99.99"));
    let (status, _, _, _) = get(&app, "/live?regency=63.03&cohort=1999").await;
    assert_eq!(status, 404, "a cohort the regency does not have");
}

#[tokio::test]
async fn metrics_count_requests_operations_statements_and_the_bus() {
    let app = TestApp::with_demo().await;
    let data = app.data("{ regencies { totalCount } }", json!({})).await;
    assert_eq!(data["regencies"]["totalCount"], 3);
    let response = app
        .router()
        .oneshot(
            Request::get("/metrics")
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("the router answers");
    assert_eq!(response.status().as_u16(), 200);
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .expect("a body")
            .to_bytes()
            .to_vec(),
    )
    .expect("text");
    for metric in [
        "labinov_http_requests_total{",
        "labinov_http_request_duration_seconds_bucket{",
        "labinov_graphql_operations_total{",
        "field=\"regencies\"",
        "labinov_sql_statements_total",
        "labinov_bus_mode{mode=\"in-process\"} 1",
    ] {
        assert!(text.contains(metric), "{metric} is missing from:\n{text}");
    }
}
