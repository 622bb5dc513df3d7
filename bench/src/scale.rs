//! Scale-out: 1, 2 and 4 labinov instances sharing one PostgreSQL and one Redis, the same
//! subscribers spread evenly over them, the same steady writes sent to them in turn. Reports
//! write-to-delivery latency and what each process spent, so the cost of an instance more shows.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::{Plan, Report, data, load, servers, start_labinov_with, submit_idea, ws};

/// What the instances share besides the database: the bus, and read replicas of the database.
pub struct Shared {
    /// One Redis (used when `cluster` is empty).
    pub redis_url: String,
    /// The seed nodes of a Redis Cluster instead.
    pub cluster: Vec<String>,
    /// Streaming replicas of the benchmark's database.
    pub replicas: Vec<String>,
}

impl Shared {
    /// The instances' settings for it, on the channel prefix `prefix`.
    fn settings(&self, prefix: String) -> Vec<(&'static str, String)> {
        let mut settings = vec![("REDIS_CHANNEL_PREFIX", prefix)];
        if self.cluster.is_empty() {
            settings.push(("REDIS_URL", self.redis_url.clone()));
        } else {
            settings.push(("REDIS_CLUSTER_URLS", self.cluster.join(",")));
        }
        if !self.replicas.is_empty() {
            settings.push(("DATABASE_REPLICA_URLS", self.replicas.join(",")));
        }
        settings
    }

    fn described(&self) -> String {
        let bus = if self.cluster.is_empty() {
            "one Redis".to_owned()
        } else {
            format!("a Redis Cluster ({} nodes)", self.cluster.len())
        };
        match self.replicas.len() {
            0 => format!("PostgreSQL and {bus}"),
            n => format!("PostgreSQL ({n} read replica(s)) and {bus}"),
        }
    }

    /// The Redis processes on this machine, to read their CPU time.
    async fn redis_pids(&self) -> Vec<u32> {
        let urls = if self.cluster.is_empty() {
            std::slice::from_ref(&self.redis_url)
        } else {
            &self.cluster[..]
        };
        let mut pids = Vec::new();
        for url in urls {
            pids.extend(redis_pid(url).await);
        }
        pids
    }
}

/// Runs the scale-out measurement for each instance count of the plan.
pub async fn scale_out(
    database: &[String],
    shared: &Shared,
    token: &str,
    plan: &Plan,
    dataset: &data::Dataset,
    report: &mut Report,
) -> anyhow::Result<()> {
    let subscribers = plan.scale_subscribers;
    report.line(format!(
        "\n## 9. Scale-out: {subscribers} pipelineEvents subscribers spread over N instances sharing {}, {} writes at {}/s sent to the instances in turn\n\
         | instances | delivered | p50 / p99 / max ms | CPU per instance, ms per write | all instances, ms per write | Redis ms per write | PostgreSQL ms per write |\n| --- | --- | --- | --- | --- | --- | --- |",
        shared.described(), plan.fanout_writes, plan.writes_per_second
    ));
    let redis_pids = shared.redis_pids().await;
    let redis_cpu = || redis_pids.iter().copied().map(servers::cpu_of).sum::<f64>();
    for &count in plan.instances.iter().filter(|&&n| n > 0) {
        let prefix = format!("bench-scale-{}-{count}:", std::process::id());
        let extra = shared.settings(prefix);
        let mut servers = Vec::with_capacity(count);
        for _ in 0..count {
            servers.push(start_labinov_with(database, servers::free_port()?, &extra).await?);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        // Subscriber k on instance k mod N: every write reaches every subscriber, through the
        // bus on every instance but the one written to.
        let code = &dataset.codes[0];
        let mut groups = Vec::with_capacity(count);
        for (i, server) in servers.iter().enumerate() {
            let share = subscribers / count + usize::from(i < subscribers % count);
            let operations: Vec<ws::Operation> = (0..share)
                .map(|_| {
                    (
                        crate::FANOUT_SUBSCRIPTION.to_owned(),
                        json!({"f": {"regencyCodes": [code]}}),
                    )
                })
                .collect();
            let url = format!("ws://127.0.0.1:{}/graphql", server.port);
            groups.push((share, ws::open(&url, token, operations, 128, false).await?));
        }
        let submit = |k: usize, title: String| {
            submit_idea(
                &servers[k % count],
                token,
                &dataset.cohort,
                &dataset.unit,
                &title,
            )
        };
        // Warm-up writes until every subscriber has received one.
        for attempt in 0..20 {
            load::once(&submit(attempt, format!("scale warm-up {attempt}"))).await;
            let within = Duration::from_secs(2) + Duration::from_millis(subscribers as u64);
            let mut all = true;
            for (share, group) in &mut groups {
                let mut live = std::collections::HashSet::new();
                all &= group.until_each_delivered(&mut live, *share, within).await;
            }
            if all {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        for (_, group) in &mut groups {
            group.drain();
        }
        let cpu_before: Vec<f64> = servers.iter().map(servers::Child::cpu_seconds).collect();
        let redis_before = redis_cpu();
        let postgres_before = servers::postgres_cpu_seconds();
        let gap = Duration::from_secs_f64(1.0 / f64::from(plan.writes_per_second.max(1)));
        let mut tick = tokio::time::interval(gap);
        let mut sent = Vec::with_capacity(plan.fanout_writes);
        let mut writes = tokio::task::JoinSet::new();
        for k in 0..plan.fanout_writes {
            tick.tick().await;
            sent.push(Instant::now());
            let call = submit(k, format!("bench-write-{k}"));
            writes.spawn(async move { load::once(&call).await });
        }
        let mut latencies = Vec::new();
        let collected = futures_util::future::join_all(groups.iter_mut().map(|(share, group)| {
            group.collect(*share * plan.fanout_writes, Duration::from_mins(2))
        }))
        .await;
        while writes.join_next().await.is_some() {}
        for arrival in collected.iter().flatten() {
            let Some(k) = arrival.payload["data"]["pipelineEvents"]["payload"]["title"]
                .as_str()
                .and_then(|t| t.strip_prefix("bench-write-"))
                .and_then(|k| k.parse::<usize>().ok())
            else {
                continue;
            };
            if let Some(at) = sent.get(k) {
                latencies.push(arrival.at.saturating_duration_since(*at));
            }
        }
        let writes_done = plan.fanout_writes.max(1) as f64;
        let per_instance: Vec<f64> = servers
            .iter()
            .zip(&cpu_before)
            .map(|(s, before)| (s.cpu_seconds() - before) * 1000.0 / writes_done)
            .collect();
        let redis_spent = (redis_cpu() - redis_before) * 1000.0 / writes_done;
        // A PostgreSQL backend that exits meanwhile takes its CPU time out of the sum: then
        // the figure is unknown, not negative.
        let postgres_spent =
            (servers::postgres_cpu_seconds() - postgres_before) * 1000.0 / writes_done;
        let postgres_spent = if postgres_spent >= 0.0 {
            format!("{postgres_spent:.1}")
        } else {
            "—".to_owned()
        };
        report.line(format!(
            "| {count} | {} of {} | {:.1} / {:.1} / {:.1} | {} | {:.1} | {:.2} | {} |",
            latencies.len(),
            subscribers * plan.fanout_writes,
            load::quantile_ms(&latencies, 0.5),
            load::quantile_ms(&latencies, 0.99),
            load::quantile_ms(&latencies, 1.0),
            per_instance
                .iter()
                .map(|ms| format!("{ms:.1}"))
                .collect::<Vec<_>>()
                .join(" · "),
            per_instance.iter().sum::<f64>(),
            redis_spent,
            postgres_spent
        ));
        for (_, group) in groups {
            group.close().await;
        }
        drop(servers);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}

/// The process id of the Redis server at `url`, to read its CPU time (None when it is not on
/// this machine or cannot say).
async fn redis_pid(url: &str) -> Option<u32> {
    let client = redis::Client::open(url).ok()?;
    let mut connection = client.get_multiplexed_async_connection().await.ok()?;
    let info: String = redis::cmd("INFO")
        .arg("server")
        .query_async(&mut connection)
        .await
        .ok()?;
    info.lines()
        .find_map(|line| line.strip_prefix("process_id:"))
        .and_then(|pid| pid.trim().parse().ok())
        .filter(|pid| std::path::Path::new(&format!("/proc/{pid}")).exists())
}
