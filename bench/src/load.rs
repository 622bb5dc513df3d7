//! HTTP load: concurrent clients on keep-alive connections for a while, latencies recorded.

use std::time::{Duration, Instant};

/// Latencies of one run and how long it lasted.
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub latencies: Vec<Duration>,
    pub elapsed: Duration,
    pub errors: usize,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The `q` quantile (0..=1) of `values`, in milliseconds.
pub fn quantile_ms(values: &[Duration], q: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort();
    let at = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[at].as_secs_f64() * 1000.0
}

/// One request to send again and again.
#[derive(Clone)]
pub enum Call {
    Post {
        url: String,
        token: String,
        body: serde_json::Value,
    },
    Get {
        url: String,
    },
}

impl Call {
    async fn request(&self, client: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
        match self {
            Call::Post { url, token, body } => {
                client
                    .post(url)
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await
            }
            Call::Get { url } => client.get(url).send().await,
        }
    }

    async fn send(&self, client: &reqwest::Client) -> anyhow::Result<()> {
        let response = self.request(client).await?;
        anyhow::ensure!(
            response.status().is_success(),
            "status {}",
            response.status()
        );
        let body = response.bytes().await?;
        anyhow::ensure!(
            !body.starts_with(br#"{"errors""#) && !body.windows(9).any(|w| w == br#""errors":"#),
            "GraphQL errors: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
        Ok(())
    }

    /// The response body once, for comparing answers.
    pub async fn body(&self, client: &reqwest::Client) -> anyhow::Result<serde_json::Value> {
        Ok(self.request(client).await?.json().await?)
    }
}

/// A keep-alive client for the loopback.
pub fn client(connections: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(connections)
        .tcp_nodelay(true)
        .build()
        .unwrap_or_default()
}

/// Sends `call` from `concurrency` clients for `duration`; the first `warmup` is not recorded.
pub async fn run(call: &Call, concurrency: usize, duration: Duration, warmup: Duration) -> Run {
    let client = client(concurrency);
    let start = Instant::now();
    let record_from = start + warmup;
    let end = record_from + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, call) = (client.clone(), call.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            loop {
                let sent = Instant::now();
                if sent >= end {
                    return (latencies, errors);
                }
                let ok = call.send(&client).await.is_ok();
                if sent >= record_from {
                    if ok {
                        latencies.push(sent.elapsed());
                    } else {
                        errors += 1;
                    }
                }
            }
        });
    }
    let mut run = Run::default();
    while let Some(Ok((latencies, errors))) = tasks.join_next().await {
        run.latencies.extend(latencies);
        run.errors += errors;
    }
    run.elapsed = Instant::now().saturating_duration_since(record_from);
    run
}

/// Sends `call` once, without a warm-up: one write is one event.
pub async fn once(call: &Call) -> Run {
    let client = client(1);
    let start = Instant::now();
    let mut run = Run::default();
    send_into(call, &client, &mut run).await;
    run.elapsed = start.elapsed();
    run
}

/// Sends `call` once and counts it in `run`: its latency, or an error.
async fn send_into(call: &Call, client: &reqwest::Client, run: &mut Run) {
    let sent = Instant::now();
    if call.send(client).await.is_ok() {
        run.latencies.push(sent.elapsed());
    } else {
        run.errors += 1;
    }
}

/// Sends `call` `times` times one after the other, after one warm-up call that is not
/// counted; the latencies.
pub async fn sequential(call: &Call, times: usize) -> Run {
    let client = client(1);
    let _ = call.send(&client).await;
    let start = Instant::now();
    let mut run = Run::default();
    for _ in 0..times {
        send_into(call, &client, &mut run).await;
    }
    run.elapsed = start.elapsed();
    run
}
