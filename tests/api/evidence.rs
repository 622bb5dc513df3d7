//! Evidence files: uploaded as a GraphQL multipart request or a plain POST, typed by their
//! bytes, kept with their SHA-256, downloaded as attachments by those who may read the idea,
//! and refused past each limit with nothing changed.

use std::sync::Arc;

use labinov::access::Role;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, admin_token, error_code, event_total, fresh_config, token};

const OWN: &str = "63.03";
const OTHER: &str = "33.03";

const ADD: &str = "mutation($input: AddEvidenceInput!) { addEvidence(input: $input) {
    evidence { id name contentType size sha256 url description milestone { title } }
    event { kind sequence payload } } }";

/// A PNG header declaring `width` × `height` pixels (no pixel data: never decoded).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend(width.to_be_bytes());
    bytes.extend(height.to_be_bytes());
    bytes.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}

/// A PDF's first bytes and `text`, so that each one is a different file.
fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.4\n% {text}\n%%EOF\n").into_bytes()
}

fn sha256(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// An active idea of `code`: its id.
async fn idea_of(app: &TestApp, code: &str) -> Value {
    app.data(
        "query($c: String!) { ideas(filter: {regencyCodes: [$c], statuses: [ACTIVE]}, first: 1) { nodes { id } } }",
        json!({"c": code}),
    )
    .await["ideas"]["nodes"][0]["id"]
        .clone()
}

/// Sends `addEvidence` for `idea` as a GraphQL multipart request over the socket, the file
/// named `name` and declared as `declared`; the status and the body.
async fn upload(
    app: &TestApp,
    token: Option<&str>,
    idea: &Value,
    milestone: Option<&Value>,
    name: &str,
    declared: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let operations = json!({
        "query": ADD,
        "variables": {"input": {"ideaId": idea, "milestoneId": milestone, "description": "Foto kegiatan", "file": null}},
    });
    let form = Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.input.file"]}).to_string())
        .part(
            "0",
            Part::bytes(bytes)
                .file_name(name.to_owned())
                .mime_str(declared)
                .expect("a media type"),
        );
    let mut request = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answered(request.send().await.expect("the server answers")).await
}

/// POSTs `bytes` to `/evidence?idea=…&name=…`: the status and the body.
async fn post_file(
    app: &TestApp,
    token: &str,
    idea: &Value,
    name: &str,
    bytes: Vec<u8>,
) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/evidence", app.address))
        .query(&[("idea", idea.as_str().unwrap_or_default()), ("name", name)])
        .bearer_auth(token)
        .body(bytes)
        .send()
        .await
        .expect("the server answers");
    answered(response).await
}

/// A response's status and JSON body (null when it has none).
async fn answered(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// GETs a download path with the token as `?token=` (a link): the response.
async fn download(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut url = format!("{}{path}", app.address);
    if let Some(token) = token {
        url.push_str(&format!("?token={token}"));
    }
    reqwest::get(url).await.expect("the server answers")
}

/// Files and blobs stored, counted in the database itself.
async fn stored(app: &TestApp) -> (i64, i64) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let db = app.db().await;
    let files = entity::evidence::Entity::find()
        .count(&db)
        .await
        .expect("a count");
    let blobs = entity::evidence_blob::Entity::find()
        .count(&db)
        .await
        .expect("a count");
    (files as i64, blobs as i64)
}

#[tokio::test]
async fn a_photo_sent_as_a_multipart_request_is_kept_by_its_bytes_and_downloads_as_an_attachment() {
    let app = TestApp::with_demo().await;
    let idea = idea_of(&app, OWN).await;
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let photo = png(1200, 800);
    let version = app.domain.data_version().await.expect("a version");

    // The client calls it HTML; the bytes say PNG, and the name gets the extension it is.
    let (status, body) = upload(
        &app,
        Some(&regency_admin),
        &idea,
        None,
        "../../laporan.html",
        "text/html",
        photo.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let added = &body["data"]["addEvidence"];
    let evidence = &added["evidence"];
    assert_eq!(evidence["name"], "laporan.html.png", "{body}");
    assert_eq!(evidence["contentType"], "image/png");
    assert_eq!(evidence["size"], photo.len());
    assert_eq!(evidence["sha256"], sha256(&photo));
    assert_eq!(evidence["description"], "Foto kegiatan");
    assert_eq!(added["event"]["kind"], "EVIDENCE_ADDED");
    assert_eq!(added["event"]["payload"]["name"], "laporan.html.png");
    assert_ne!(
        app.domain.data_version().await.expect("a version"),
        version,
        "cached answers about the idea are stale now"
    );

    // The idea lists it; a link with the token downloads the same bytes as an attachment.
    let listed = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Idea { evidence { id url } } } }",
            json!({"id": idea}),
        )
        .await;
    assert_eq!(listed["node"]["evidence"][0]["id"], evidence["id"]);
    let url = evidence["url"].as_str().expect("a download path");
    let viewer = token(Role::Viewer, Some(OWN), None);
    let response = download(&app, url, Some(&viewer)).await;
    assert_eq!(response.status().as_u16(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "image/png");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(
        header("content-disposition").starts_with("attachment; filename=\"laporan.html.png\""),
        "{}",
        header("content-disposition")
    );
    assert!(header("content-security-policy").contains("sandbox"));
    assert_eq!(
        response.bytes().await.expect("the bytes").as_ref(),
        photo.as_slice()
    );
}

#[tokio::test]
async fn a_script_posts_the_bytes_and_follows_the_location_to_download_them() {
    let app = TestApp::with_demo().await;
    let idea = idea_of(&app, OWN).await;
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let report = pdf("laporan triwulan");
    let (status, body) = post_file(
        &app,
        &regency_admin,
        &idea,
        "Laporan Triwulan I.pdf",
        report.clone(),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["evidence"]["contentType"], "application/pdf");
    assert_eq!(body["evidence"]["sha256"], sha256(&report));
    assert_eq!(body["event"]["kind"], "EVIDENCE_ADDED");
    let cursor = body["event"]["cursor"].as_str().expect("a resume cursor");
    assert!(!cursor.is_empty());

    let response = reqwest::Client::new()
        .get(format!(
            "{}{}",
            app.address,
            body["evidence"]["url"].as_str().expect("a path")
        ))
        .bearer_auth(&regency_admin)
        .send()
        .await
        .expect("the server answers");
    assert_eq!(
        response
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok()),
        Some(
            "attachment; filename=\"Laporan Triwulan I.pdf\"; filename*=UTF-8''Laporan%20Triwulan%20I.pdf"
        )
    );
    let etag = response
        .headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("an ETag");
    assert_eq!(etag, format!("\"{}\"", sha256(&report)));
    assert_eq!(response.bytes().await.expect("bytes").as_ref(), report);

    // The spreadsheet counts it.
    let csv = reqwest::Client::new()
        .get(format!("{}/export/ideas.csv", app.address))
        .bearer_auth(&regency_admin)
        .send()
        .await
        .expect("the export")
        .text()
        .await
        .expect("text");
    let mut reader = csv::Reader::from_reader(csv.trim_start_matches('\u{feff}').as_bytes());
    let headers = reader.headers().expect("a header line").clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("a {name} column"))
    };
    let row = reader
        .records()
        .map(|r| r.expect("a row"))
        .find(|r| r.get(column("id")) == idea.as_str())
        .expect("the idea's row");
    assert_eq!(row.get(column("evidence_files")), Some("1"));
}

#[tokio::test]
async fn every_limit_refuses_with_its_reason_and_keeps_nothing() {
    let (mut config, dir) = fresh_config();
    config.limits.evidence_max_bytes = 2_000;
    config.limits.evidence_max_files = 2;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let idea = idea_of(&app, OWN).await;
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let events = event_total(&app).await;
    let (files, blobs) = stored(&app).await;

    let mut zip = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
    zip.extend([0u8; 40]);
    let refused: [(&str, Vec<u8>, &str, &str); 7] = [
        (
            "an HTML page",
            b"<!DOCTYPE html><html><script>alert(1)</script></html>".to_vec(),
            "BAD_USER_INPUT",
            "text/html",
        ),
        (
            "an SVG with a script",
            br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#
                .to_vec(),
            "BAD_USER_INPUT",
            "PDFs",
        ),
        (
            "a Windows program",
            b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".to_vec(),
            "BAD_USER_INPUT",
            "PDFs",
        ),
        ("a zip archive", zip, "BAD_USER_INPUT", "application/zip"),
        (
            "a picture declaring 3.6 gigapixels",
            png(60_000, 60_000),
            "BAD_USER_INPUT",
            "60000 × 60000",
        ),
        ("an empty file", Vec::new(), "BAD_USER_INPUT", "empty"),
        (
            "a file over the size limit",
            {
                let mut big = pdf("big");
                big.extend(vec![b'x'; 3_000]);
                big
            },
            "PAYLOAD_TOO_LARGE",
            "LABINOV_EVIDENCE_MAX_BYTES",
        ),
    ];
    for (what, bytes, code, words) in refused {
        let (status, body) = upload(
            &app,
            Some(&regency_admin),
            &idea,
            None,
            "foto.jpg",
            "image/jpeg",
            bytes.clone(),
        )
        .await;
        assert_eq!(error_code(&body), code, "{what}: {status} {body}");
        let message = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(message.contains(words), "{what}: {message}");
        let (status, body) = post_file(&app, &regency_admin, &idea, "foto.jpg", bytes).await;
        assert_eq!(error_code(&body), code, "{what} by POST: {status} {body}");
        let expected = if code == "PAYLOAD_TOO_LARGE" {
            413
        } else {
            400
        };
        assert_eq!(status, expected, "{what} by POST: {body}");
    }

    // The same file again is the same evidence; two files fit; a third is past the count.
    let (status, body) = post_file(&app, &regency_admin, &idea, "laporan.pdf", pdf("0")).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = post_file(&app, &regency_admin, &idea, "lagi.pdf", pdf("0")).await;
    assert_eq!((status, error_code(&body)), (409, "CONFLICT"), "{body}");
    let (status, body) = post_file(&app, &regency_admin, &idea, "kedua.pdf", pdf("1")).await;
    assert_eq!(status, 201, "{body}");
    let (_, body) = upload(
        &app,
        Some(&regency_admin),
        &idea,
        None,
        "ketiga.pdf",
        "application/pdf",
        pdf("2"),
    )
    .await;
    assert_eq!(error_code(&body), "BAD_USER_INPUT", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("LABINOV_EVIDENCE_MAX_FILES")),
        "{body}"
    );

    // A body far over the limit is refused by its declared length, before it is read.
    let response = reqwest::Client::new()
        .post(format!("{}/evidence", app.address))
        .query(&[("idea", idea.as_str().unwrap_or_default())])
        .bearer_auth(&regency_admin)
        .body(vec![0u8; 200_000])
        .send()
        .await
        .expect("an answer");
    let (status, body) = answered(response).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");

    assert_eq!(
        event_total(&app).await,
        events + 2,
        "only the two files kept recorded events"
    );
    assert_eq!(stored(&app).await, (files + 2, blobs + 2));
}

#[tokio::test]
async fn the_regency_admin_writes_evidence_others_read_it_and_anonymous_sees_none() {
    let app = TestApp::with_demo().await;
    let idea = idea_of(&app, OWN).await;
    let photo = png(640, 480);
    let viewer = token(Role::Viewer, Some(OWN), None);
    let mentor = token(Role::Mentor, None, Some(1));
    let other_admin = token(Role::RegencyAdmin, Some(OTHER), None);
    let events = event_total(&app).await;
    for (who, token, code) in [
        ("VIEWER", Some(viewer.as_str()), "FORBIDDEN"),
        ("MENTOR", Some(mentor.as_str()), "FORBIDDEN"),
        (
            "another regency's admin",
            Some(other_admin.as_str()),
            "NOT_FOUND",
        ),
    ] {
        let (_, body) = upload(
            &app,
            token,
            &idea,
            None,
            "foto.png",
            "image/png",
            photo.clone(),
        )
        .await;
        assert_eq!(error_code(&body), code, "{who}: {body}");
    }
    // Without a token, or with one only in the URL (a cross-site form can send that), an upload
    // is turned back before its body is read.
    let (status, body) = upload(
        &app,
        None,
        &idea,
        None,
        "foto.png",
        "image/png",
        photo.clone(),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
    let response = reqwest::Client::new()
        .post(format!(
            "{}/evidence?idea={}&token={}",
            app.address,
            idea.as_str().unwrap_or_default(),
            admin_token()
        ))
        .body(photo.clone())
        .send()
        .await
        .expect("an answer");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(
        event_total(&app).await,
        events,
        "refused uploads record nothing"
    );

    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let (status, body) = upload(
        &app,
        Some(&regency_admin),
        &idea,
        None,
        "foto.png",
        "image/png",
        photo.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let url = body["data"]["addEvidence"]["evidence"]["url"]
        .as_str()
        .expect("a path")
        .to_owned();
    for (who, token, status) in [
        ("VIEWER", Some(viewer.as_str()), 200),
        ("MENTOR", Some(mentor.as_str()), 200),
        ("another regency's admin", Some(other_admin.as_str()), 404),
        ("anonymous", None, 401),
    ] {
        let response = download(&app, &url, token).await;
        assert_eq!(response.status().as_u16(), status, "{who} downloads");
    }
    let listed = app
        .gql_as(
            None,
            "query($id: ID!) { node(id: $id) { ... on Idea { evidence { id } } } }",
            json!({"id": idea}),
        )
        .await;
    assert_eq!(error_code(&listed), "UNAUTHENTICATED", "{listed}");
}

#[tokio::test]
async fn evidence_shows_a_milestone_and_stays_when_the_plan_drops_it_and_goes_when_removed() {
    let app = TestApp::with_demo().await;
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let ideas = app
        .data(
            "{ ideas(filter: {regencyCodes: [\"63.03\"], stages: [DELIVER], statuses: [ACTIVE]}, first: 20) {
                nodes { id actionPlan { version goal milestones { id title ownerName ownerPosition dueOn status doneOn } } } } }",
            json!({}),
        )
        .await;
    let nodes = ideas["ideas"]["nodes"].as_array().expect("ideas");
    let with_plan = nodes
        .iter()
        .find(|i| {
            i["actionPlan"]["milestones"]
                .as_array()
                .is_some_and(|m| m.len() > 1)
        })
        .expect("an idea in DELIVER with a plan");
    let other_idea = nodes
        .iter()
        .find(|i| i["id"] != with_plan["id"])
        .expect("another idea");
    let idea = &with_plan["id"];
    let plan = &with_plan["actionPlan"];
    let shown = &plan["milestones"][1];

    // A milestone of another idea's plan is not this idea's.
    let (_, body) = upload(
        &app,
        Some(&regency_admin),
        &other_idea["id"],
        Some(&shown["id"]),
        "foto.png",
        "image/png",
        png(10, 10),
    )
    .await;
    assert_eq!(error_code(&body), "NOT_FOUND", "{body}");

    let (_, body) = upload(
        &app,
        Some(&regency_admin),
        idea,
        Some(&shown["id"]),
        "foto.png",
        "image/png",
        png(10, 10),
    )
    .await;
    let evidence = body["data"]["addEvidence"]["evidence"].clone();
    assert_eq!(evidence["milestone"]["title"], shown["title"], "{body}");

    // The plan is written again without that milestone: the file stays with the idea.
    let kept: Vec<Value> = plan["milestones"]
        .as_array()
        .expect("milestones")
        .iter()
        .filter(|m| m["id"] != shown["id"])
        .cloned()
        .collect();
    let rewritten = app
        .gql(
            "mutation($input: WriteActionPlanInput!) { writeActionPlan(input: $input) { actionPlan { version } } }",
            json!({"input": {"ideaId": idea, "version": plan["version"], "goal": plan["goal"], "milestones": kept}}),
        )
        .await;
    assert!(rewritten.get("errors").is_none(), "{rewritten}");
    let after = app
        .data(
            "query($id: ID!) { node(id: $id) { ... on Evidence { name milestone { title } } } }",
            json!({"id": evidence["id"]}),
        )
        .await;
    assert_eq!(after["node"]["name"], "foto.png");
    assert!(after["node"]["milestone"].is_null(), "{after}");

    // Removed: the event keeps its name and hash, the bytes and the link are gone.
    let removed = app
        .data(
            "mutation($input: RemoveEvidenceInput!) { removeEvidence(input: $input) { removedId event { kind payload } } }",
            json!({"input": {"id": evidence["id"]}}),
        )
        .await;
    assert_eq!(
        removed["removeEvidence"]["event"]["kind"],
        "EVIDENCE_REMOVED"
    );
    assert_eq!(
        removed["removeEvidence"]["event"]["payload"]["sha256"],
        evidence["sha256"]
    );
    let url = evidence["url"].as_str().expect("a path");
    assert_eq!(
        download(&app, url, Some(&admin_token()))
            .await
            .status()
            .as_u16(),
        404
    );
}

#[tokio::test]
async fn a_forged_file_marker_is_bad_input_never_a_crash() {
    let app = TestApp::with_demo().await;
    let idea = idea_of(&app, OWN).await;
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    for marker in ["#__graphql_file__:0", "#__graphql_file__:x", "0"] {
        for token in [None, Some(regency_admin.as_str())] {
            let response = app
                .gql_as(
                    token,
                    "mutation($i: AddEvidenceInput!) { addEvidence(input: $i) { evidence { id } } }",
                    json!({"i": {"ideaId": idea, "file": marker}}),
                )
                .await;
            let code = error_code(&response);
            assert!(
                ["BAD_USER_INPUT", "UNAUTHENTICATED"].contains(&code),
                "{marker} by {token:?}: {response}"
            );
        }
    }
    // A multipart request without its operations says so.
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&regency_admin)
        .multipart(Form::new().text("map", "{}"))
        .send()
        .await
        .expect("an answer");
    let (status, body) = answered(response).await;
    assert_eq!(status, 400);
    assert_eq!(error_code(&body), "BAD_USER_INPUT");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("`operations`")),
        "{body}"
    );
    // The server is still serving.
    app.data("{ stages { stage } }", json!({})).await;
}

#[tokio::test]
async fn a_caller_who_may_not_attach_is_refused_before_the_file_is_sent() {
    let app = TestApp::with_demo().await;
    let idea = idea_of(&app, OWN).await;
    let viewer = token(Role::Viewer, Some(OWN), None);
    let other_admin = token(Role::RegencyAdmin, Some(OTHER), None);
    for (who, token, status) in [
        ("VIEWER", &viewer, 403),
        ("another regency's admin", &other_admin, 404),
    ] {
        // The body announces 20 MB, sends one piece and then waits: an answer can only come
        // before the file does.
        let first = futures_util::stream::once(async {
            Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"%PDF-1.4\n"))
        });
        let body = reqwest::Body::wrap_stream(futures_util::StreamExt::chain(
            first,
            futures_util::stream::pending(),
        ));
        let response = reqwest::Client::new()
            .post(format!("{}/evidence", app.address))
            .query(&[
                ("idea", idea.as_str().unwrap_or_default()),
                ("name", "x.pdf"),
            ])
            .bearer_auth(token)
            .header("content-length", "20000000")
            .body(body)
            .send()
            .await
            .expect("an answer before the body");
        assert_eq!(response.status().as_u16(), status, "{who}");
    }
}

#[tokio::test]
async fn downloads_share_a_budget_so_held_files_cannot_take_the_memory() {
    let (mut config, dir) = fresh_config();
    // One file fits alone whatever its size; a second at once does not.
    config.limits.max_body_bytes_in_flight = 64 * 1024;
    config.limits.max_body_bytes_per_address = 0;
    let app = TestApp::start(config, true, Arc::new(dir)).await;
    let idea = idea_of(&app, OWN).await;
    let mut big = pdf("a large report");
    big.resize(16 * 1024 * 1024, b' ');
    let (status, body) = post_file(&app, &admin_token(), &idea, "besar.pdf", big.clone()).await;
    assert_eq!(status, 201, "{body}");
    let url = body["evidence"]["url"].as_str().expect("a path").to_owned();

    // The first download is held open, unread; the second waits its turn.
    let held = download(&app, &url, Some(&admin_token())).await;
    assert_eq!(held.status().as_u16(), 200);
    let refused = download(&app, &url, Some(&admin_token())).await;
    assert_eq!(refused.status().as_u16(), 503);
    let body: Value = refused.json().await.expect("a coded error");
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE", "{body}");
    assert_eq!(held.bytes().await.expect("the whole file").len(), big.len());
    let again = download(&app, &url, Some(&admin_token())).await;
    assert_eq!(again.status().as_u16(), 200, "the budget is given back");
}

#[tokio::test]
async fn a_multipart_request_carries_at_most_ten_files() {
    let app = TestApp::with_demo().await;
    let idea = idea_of(&app, OWN).await;
    let regency_admin = token(Role::RegencyAdmin, Some(OWN), None);
    let events = event_total(&app).await;
    let operations = json!({
        "query": ADD,
        "variables": {"input": {"ideaId": idea, "file": null}},
    });
    let map: serde_json::Map<String, Value> = (0..11)
        .map(|n| (n.to_string(), json!(["variables.input.file"])))
        .collect();
    let mut form = Form::new()
        .text("operations", operations.to_string())
        .text("map", Value::Object(map).to_string());
    for n in 0..11 {
        form = form.part(
            n.to_string(),
            Part::bytes(pdf(&format!("file {n}"))).file_name(format!("{n}.pdf")),
        );
    }
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&regency_admin)
        .multipart(form)
        .send()
        .await
        .expect("an answer");
    let (status, body) = answered(response).await;
    assert_eq!(status, 413);
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE", "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("at most 10 files")),
        "{body}"
    );
    assert_eq!(event_total(&app).await, events, "nothing was kept");
}
