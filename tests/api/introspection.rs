//! Standard clients read the schema: graphql-js's introspection queries (what GraphiQL's Docs,
//! graphql-codegen, Apollo and IDE plugins send first) pass the default limits, and rebuild the
//! checked-in schema.

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

/// graphql-js 16's `getIntrospectionQuery()`, and with every option on; `check.mjs` verifies
/// these copies are what graphql-js sends.
const DEFAULT: &str = include_str!("../introspection/introspection-default.graphql");
const EVERY_OPTION: &str = include_str!("../introspection/introspection-every-option.graphql");

/// The types an introspection answer lists, by name.
fn type_named<'a>(answer: &'a Value, name: &str) -> Option<&'a Value> {
    answer["data"]["__schema"]["types"]
        .as_array()?
        .iter()
        .find(|t| t["name"] == name)
}

#[tokio::test]
async fn graphql_js_introspection_passes_the_default_limits_with_or_without_a_token() {
    let app = TestApp::spawn().await;
    for query in [DEFAULT, EVERY_OPTION] {
        for token in [None, Some(crate::helpers::admin_token())] {
            let body = json!({ "query": query, "operationName": "IntrospectionQuery" });
            let mut request = axum::http::Request::post("/graphql")
                .header("content-type", "application/json")
                .header("accept", "application/graphql-response+json");
            if let Some(token) = &token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let (status, answer) = app
                .send_as_is(
                    request
                        .body(axum::body::Body::from(body.to_string()))
                        .expect("a request"),
                )
                .await;
            assert_eq!(status, 200, "{answer}");
            assert!(answer.get("errors").is_none(), "{answer}");
            let idea = type_named(&answer, "Idea").expect("Idea is in the schema");
            assert!(idea["description"].as_str().is_some_and(|d| !d.is_empty()));
            assert!(idea["fields"].as_array().is_some_and(|f| f.len() > 10));
        }
    }
}

#[tokio::test]
async fn introspection_has_its_own_depth_bound_and_data_keeps_its_own() {
    let app = TestApp::spawn().await;
    // Deeper than the data limit of 12, within introspection's own.
    let mut of_type = String::from("name");
    for _ in 0..14 {
        of_type = format!("ofType {{ {of_type} }}");
    }
    let answer = app
        .gql_as(
            None,
            &format!("{{ __type(name: \"Idea\") {{ fields {{ type {{ {of_type} }} }} }} }}"),
            json!({}),
        )
        .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    // Past introspection's bound.
    let mut deeper = String::from("name");
    for _ in 0..30 {
        deeper = format!("ofType {{ {deeper} }}");
    }
    let answer = app
        .gql_as(
            None,
            &format!("{{ __type(name: \"Idea\") {{ {deeper} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(error_code(&answer), "QUERY_TOO_DEEP", "{answer}");
    assert_eq!(
        answer["errors"][0]["extensions"]["limit"],
        "introspectionDepth"
    );
    // Data fields nested past 12 are still refused, introspection inside or not.
    let data = "{ ideas { nodes { unit { regency { ideas { nodes { unit { regency { ideas { nodes { unit { regency { name } } } } } } } } } } } } }";
    let answer = app.gql(data, json!({})).await;
    assert_eq!(error_code(&answer), "QUERY_TOO_DEEP", "{answer}");
    assert_eq!(answer["errors"][0]["extensions"]["limit"], "depth");
}

#[tokio::test]
#[ignore = "needs Node.js and graphql-js (`npm install` in tests/introspection; CI does it)"]
async fn graphql_js_rebuilds_the_checked_in_schema_from_introspection() {
    let app = TestApp::spawn().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/introspection");
    let out = tokio::process::Command::new("node")
        .arg(format!("{dir}/check.mjs"))
        .arg(format!("{}/graphql", app.address))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql"))
        .output()
        .await
        .expect("node runs (install Node.js, then `npm install` in tests/introspection)");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
