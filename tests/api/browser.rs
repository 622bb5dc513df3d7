//! The pages in a real browser: headless Chromium, driven over the DevTools protocol, with every
//! host name but loopback unresolvable, so a page that needed the internet would break.

use std::{path::PathBuf, process::Stdio, time::Duration};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use labinov::access::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{TestApp, admin_token, token};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium with one page, stopped when dropped.
struct Browser {
    _child: tokio::process::Child,
    _profile: tempfile::TempDir,
    socket: Socket,
    session: String,
    next_id: u64,
}

impl Browser {
    async fn launch(url: &str) -> Browser {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = tokio::process::Command::new(
            std::env::var("LABINOV_TEST_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned()),
        )
        .args([
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            // The network is cut off: only loopback resolves.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            "--remote-debugging-port=0",
            "--window-size=1920,1080",
            &format!("--user-data-dir={}", profile.path().display()),
            url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts (apt-get install chromium)");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let endpoint = tokio::time::timeout(Duration::from_secs(30), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_owned();
                }
            }
            panic!("chromium ended without a DevTools endpoint");
        })
        .await
        .expect("chromium opens its DevTools endpoint");
        // Keep reading stderr so chromium never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let (socket, _) = tokio_tungstenite::connect_async(endpoint.as_str())
            .await
            .expect("the DevTools socket opens");
        let mut browser = Browser {
            _child: child,
            _profile: profile,
            socket,
            session: String::new(),
            next_id: 0,
        };
        let targets = browser.call("Target.getTargets", json!({})).await;
        let page = targets["targetInfos"]
            .as_array()
            .and_then(|t| t.iter().find(|t| t["type"] == "page"))
            .and_then(|t| t["targetId"].as_str())
            .expect("a page")
            .to_owned();
        let attached = browser
            .call(
                "Target.attachToTarget",
                json!({ "targetId": page, "flatten": true }),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("a session")
            .to_owned();
        browser
    }

    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({ "id": id, "method": method, "params": params });
        if !self.session.is_empty() {
            message["sessionId"] = json!(self.session);
        }
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("DevTools accepts the command");
        loop {
            let reply = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .expect("DevTools answers")
                .expect("the DevTools socket stays open")
                .expect("a DevTools message");
            let Message::Text(text) = reply else { continue };
            let reply: Value = serde_json::from_str(&text).expect("JSON");
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
    }

    /// Evaluates `expression` in the page.
    async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// Polls `expression` until `done` accepts its value; the last value otherwise.
    async fn wait_for(&mut self, expression: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.eval(expression).await;
            if done(&value) || tokio::time::Instant::now() > deadline {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
    }

    /// A screenshot at `width`×`height`, written to the test's output folder; its path.
    async fn screenshot(&mut self, name: &str, width: u32, height: u32) -> PathBuf {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().expect("image data"))
            .expect("base64");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        let path = dir.join(format!("{name}-{width}x{height}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        // Printed for whoever runs the test (`-- --nocapture`) to look at.
        #[allow(clippy::print_stdout)]
        {
            println!("screenshot: {}", path.display());
        }
        path
    }
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
#[ignore = "needs chromium (CI installs Debian's chromium)"]
async fn the_event_screen_shows_a_change_live_and_graphiql_works_offline() {
    let app = TestApp::with_demo().await;
    let viewer = token(Role::Viewer, Some("63.03"), None);
    let url = format!("{}/live?regency=63.03&lang=en&token={viewer}", app.address);
    let mut browser = Browser::launch(&url).await;

    // The funnel and the latest events arrive.
    let total = browser
        .wait_for(
            "document.getElementById('total') && document.getElementById('total').textContent",
            |v| text(v) == "268",
        )
        .await;
    assert_eq!(text(&total), "268", "the funnel shows Banjar's 268 ideas");
    let rows = browser
        .wait_for("document.querySelectorAll('#ticker li').length", |v| {
            v.as_u64().unwrap_or_default() > 0
        })
        .await;
    assert!(
        rows.as_u64().unwrap_or_default() > 0,
        "the latest events are listed"
    );
    let status = browser
        .wait_for("document.getElementById('status').className", |v| {
            text(v) == "live"
        })
        .await;
    assert_eq!(text(&status), "live");

    // A change made elsewhere shows within seconds: a new count and the event in words.
    let ids = app
        .data(
            "{ regency(code: \"63.03\") { cohorts { id } units { id name } } }",
            json!({}),
        )
        .await;
    let unit = &ids["regency"]["units"][0];
    let submitted = app
        .gql(
            "mutation($c: ID!, $u: ID!) { submitIdea(input: {cohortId: $c, unitId: $u, title: \"Posyandu Lansia Keliling\",
               problem: \"Lansia sulit datang ke posyandu\", type: NON_DIGITAL, form: PUBLIC_SERVICE, affairsArea: \"Kesehatan\",
               initiator: CIVIL_SERVANT}) { idea { id } } }",
            json!({ "c": ids["regency"]["cohorts"][0]["id"], "u": unit["id"] }),
        )
        .await;
    assert!(submitted.get("errors").is_none(), "{submitted}");
    let total = browser
        .wait_for("document.getElementById('total').textContent", |v| {
            text(v) == "269"
        })
        .await;
    assert_eq!(text(&total), "269", "the count follows the write");
    let newest = browser
        .wait_for("document.querySelector('#ticker li').textContent", |v| {
            text(v).contains("Posyandu Lansia Keliling")
        })
        .await;
    assert!(
        text(&newest).contains("Posyandu Lansia Keliling submitted")
            && text(&newest).contains(unit["name"].as_str().unwrap_or_default()),
        "the event in words: {newest}"
    );

    // A milestone done arrives in words, with the plan's progress.
    let idea = &submitted["data"]["submitIdea"]["idea"]["id"];
    app.data(
        "mutation($i: ID!) { advanceIdea(input: {id: $i, version: 1}) { idea { stage } } }",
        json!({ "i": idea }),
    )
    .await;
    let due = (chrono::Utc::now().date_naive() + chrono::Days::new(30)).to_string();
    let steps = [
        "Menyusun jadwal kunjungan",
        "Uji coba di dua desa",
        "Evaluasi",
    ];
    let milestones: Vec<Value> = steps
        .iter()
        .map(|t| json!({"title": t, "ownerName": "Siti Aminah", "ownerPosition": "Bidan Desa", "dueOn": due}))
        .collect();
    let write = "mutation($input: WriteActionPlanInput!) { writeActionPlan(input: $input) { actionPlan { milestones { id } } } }";
    let plan = app
        .data(
            write,
            json!({"input": {"ideaId": idea, "goal": "Posyandu mendatangi lansia", "milestones": milestones}}),
        )
        .await;
    let mut done = milestones.clone();
    for (m, written) in done.iter_mut().zip(
        plan["writeActionPlan"]["actionPlan"]["milestones"]
            .as_array()
            .expect("milestones"),
    ) {
        m["id"] = written["id"].clone();
    }
    done[0]["status"] = json!("DONE");
    app.data(
        write,
        json!({"input": {"ideaId": idea, "version": 1, "goal": "Posyandu mendatangi lansia", "milestones": done}}),
    )
    .await;
    let newest = browser
        .wait_for("document.querySelector('#ticker li').textContent", |v| {
            text(v).contains("milestones done")
        })
        .await;
    assert!(
        text(&newest).contains("Posyandu Lansia Keliling: 1 of 3 milestones done"),
        "the milestone in words: {newest}"
    );

    // Evidence arrives in words too; its name is shown as text, never as markup.
    let uploaded = reqwest::Client::new()
        .post(format!("{}/evidence", app.address))
        .query(&[
            ("idea", idea.as_str().unwrap_or_default()),
            ("name", "<img src=x onerror=alert(1)>.pdf"),
        ])
        .bearer_auth(crate::helpers::admin_token())
        .body(b"%PDF-1.4\n% laporan\n%%EOF\n".to_vec())
        .send()
        .await
        .expect("the upload is answered");
    assert_eq!(uploaded.status().as_u16(), 201);
    let newest = browser
        .wait_for("document.querySelector('#ticker li').textContent", |v| {
            text(v).contains("New evidence")
        })
        .await;
    assert!(
        text(&newest).contains(
            "New evidence for Posyandu Lansia Keliling: <img src=x onerror=alert(1)>.pdf"
        ),
        "the evidence in words: {newest}"
    );
    assert_eq!(
        browser
            .eval("document.querySelectorAll('#ticker img').length")
            .await,
        json!(0),
        "no markup from a file name"
    );
    browser.screenshot("live", 1920, 1080).await;
    browser.screenshot("live", 1280, 720).await;

    // An unknown regency gets a plain page.
    browser
        .navigate(&format!("{}/live?regency=99.99", app.address))
        .await;
    let heading = browser
        .wait_for(
            "document.querySelector('h1') && document.querySelector('h1').textContent",
            |v| !text(v).is_empty(),
        )
        .await;
    assert_eq!(text(&heading), "Kabupaten tidak dikenal");

    // GraphiQL loads from the binary alone and runs a query.
    browser
        .navigate(&format!("{}/?token={}", app.address, admin_token()))
        .await;
    let button = browser
        .wait_for(
            "!!document.querySelector('.graphiql-execute-button')",
            |v| v == &json!(true),
        )
        .await;
    assert_eq!(
        button,
        json!(true),
        "GraphiQL renders with the network cut off"
    );
    // Its Docs read the schema by introspection on first load, with no error shown anywhere.
    browser
        .wait_for(
            "!!document.querySelector('[aria-label=\"Show Documentation Explorer\"]')",
            |v| v == &json!(true),
        )
        .await;
    browser
        .eval("document.querySelector('[aria-label=\"Show Documentation Explorer\"]').click()")
        .await;
    let root = browser
        .wait_for(
            "[...document.querySelectorAll('.graphiql-doc-explorer a')].some((a) => a.textContent === 'Query')",
            |v| v == &json!(true),
        )
        .await;
    assert_eq!(root, json!(true), "the Docs list the root types");
    browser
        .eval("[...document.querySelectorAll('.graphiql-doc-explorer a')].find((a) => a.textContent === 'Query').click()")
        .await;
    let idea = browser
        .wait_for(
            "[...document.querySelectorAll('.graphiql-doc-explorer a')].some((a) => a.textContent === 'Idea')",
            |v| v == &json!(true),
        )
        .await;
    assert_eq!(idea, json!(true), "the Docs show the Idea type");
    let page = browser.eval("document.body.innerText").await;
    assert!(
        !text(&page).contains("Error fetching schema") && !text(&page).contains("QUERY_TOO_DEEP"),
        "no error on first load: {page}"
    );
    browser.screenshot("graphiql-docs", 1280, 720).await;
    browser
        .eval("document.querySelector('.graphiql-execute-button').click()")
        .await;
    let result = browser
        .wait_for(
            "document.querySelector('.result-window') && document.querySelector('.result-window').innerText",
            |v| text(v).contains("tester"),
        )
        .await;
    assert!(
        text(&result).contains("\"role\": \"ADMIN\""),
        "the query ran with the token from the link: {result}"
    );
    browser.screenshot("graphiql", 1280, 720).await;

    // Its graphql-ws client (what GraphiQL subscribes with) follows a subscription.
    let total = browser
        .eval(&format!(
            "new Promise((resolve) => {{
                const client = graphqlWs.createClient({{
                    url: 'ws://' + location.host + '/graphql',
                    connectionParams: {{ Authorization: 'Bearer {}' }},
                }});
                client.subscribe({{ query: 'subscription {{ funnel(filter: {{regencyCodes: [\"63.03\"]}}) {{ funnel {{ total }} }} }}' }}, {{
                    next: (result) => {{ resolve(result.data ? result.data.funnel.funnel.total : JSON.stringify(result)); client.dispose(); }},
                    error: (error) => resolve('error: ' + JSON.stringify(error)),
                    complete: () => {{}},
                }});
            }})",
            admin_token()
        ))
        .await;
    assert_eq!(
        total,
        json!(269),
        "a subscription over graphql-ws in the page"
    );
}

#[tokio::test]
#[ignore = "needs chromium (CI installs Debian's chromium)"]
async fn the_ranking_view_follows_a_review_live() {
    let app = TestApp::with_demo().await;
    let viewer = token(Role::Viewer, Some("63.03"), None);
    let url = format!(
        "{}/live?regency=63.03&cohort=2017&view=ranking&lang=en&token={viewer}",
        app.address
    );
    let mut browser = Browser::launch(&url).await;
    let first = "document.querySelector('#ranking li .title') && document.querySelector('#ranking li .title').textContent";
    let shown = browser.wait_for(first, |v| !text(v).is_empty()).await;

    // The screen shows what the query ranks first.
    let ranking = app
        .data(
            "{ cohorts(filter: {regencyCodes: [\"63.03\"]}) { nodes { id } } }",
            json!({}),
        )
        .await;
    let cohort = &ranking["cohorts"]["nodes"][0]["id"];
    let ranked = app
        .data(
            "query($c: ID!) { ranking(cohortId: $c) { total entries { idea { id title mentors { id } } } } }",
            json!({ "c": cohort }),
        )
        .await;
    let entries = ranked["ranking"]["entries"].as_array().expect("entries");
    assert_eq!(text(&shown), text(&entries[0]["idea"]["title"]));
    let rows = browser
        .eval("document.querySelectorAll('#ranking li').length")
        .await;
    assert_eq!(rows, json!(10), "the top ten");
    let heading = browser
        .eval("document.getElementById('ranking-title').textContent")
        .await;
    assert_eq!(text(&heading), "Innovation ranking · Deliver and beyond");
    // Each launched idea's plan progress stands next to its unit and stage.
    let unit_line = browser
        .eval("document.querySelector('#ranking li .unit').textContent")
        .await;
    assert!(
        text(&unit_line).contains("/4 milestones"),
        "progress beside the score: {unit_line}"
    );

    // The tenth idea's mentor scores it full marks: it moves to the top, live.
    let tenth = &entries[9]["idea"];
    let mentor = labinov::global_id::decode(
        labinov::global_id::Kind::Mentor,
        tenth["mentors"][0]["id"].as_str().expect("a mentor"),
    )
    .expect("a mentor id");
    let scores: Vec<Value> = [
        "NOVELTY",
        "USEFULNESS",
        "REPLICABILITY",
        "AUTHORITY",
        "MASTERY",
    ]
    .iter()
    .map(|c| json!({"criterion": c, "score": 100}))
    .collect();
    let reviewed = app
        .gql_as(
            Some(&token(Role::Mentor, None, Some(mentor))),
            "mutation($i: ID!, $s: [CriterionScoreInput!]!) { reviewIdea(input: {ideaId: $i, scores: $s, recommendation: ADVANCE}) { idea { score } } }",
            json!({ "i": tenth["id"], "s": scores }),
        )
        .await;
    assert!(reviewed.get("errors").is_none(), "{reviewed}");
    let top = browser
        .wait_for(first, |v| text(v) == text(&tenth["title"]))
        .await;
    assert_eq!(
        text(&top),
        text(&tenth["title"]),
        "the review reorders the screen"
    );
    let score = browser
        .eval("document.querySelector('#ranking li .score b').textContent")
        .await;
    assert_eq!(text(&score), "100.00");
    let newest = browser
        .wait_for("document.querySelector('#ticker li').textContent", |v| {
            text(v).contains("scored")
        })
        .await;
    assert!(
        text(&newest).contains(text(&tenth["title"]).as_str()),
        "the review in words: {newest}"
    );
    browser.screenshot("live-ranking", 1920, 1080).await;
    browser.screenshot("live-ranking", 1280, 720).await;
}
