//! Prometheus metrics, rendered at `/metrics`: one recorder per process, so every server in it
//! (tests start many) reports to the same registry.
//!
//! Names: `labinov_http_requests_total{route,method,status}`,
//! `labinov_http_request_duration_seconds{route}`, `labinov_graphql_operations_total{field,type,outcome}`,
//! `labinov_graphql_operation_duration_seconds{type}`, `labinov_sql_statements_total`,
//! `labinov_websocket_connections`, `labinov_sse_streams`, `labinov_subscriptions_active{kind}`, `labinov_subscription_groups`,
//! `labinov_events_written_total`, `labinov_events_published_total`, `labinov_events_delivered_total`,
//! `labinov_events_caught_up_total` (read back from the database by a lagging subscriber),
//! `labinov_bus_mode{mode}` (1 for the current mode).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// The process's recorder, installed on first use.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [
            0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ];
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &buckets)
            .unwrap_or_else(|_| PrometheusBuilder::new());
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is installed (an embedding program's): render an empty registry.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// The metrics text, after folding in recent histogram samples.
pub fn render() -> String {
    let handle = handle();
    handle.run_upkeep();
    handle.render()
}

/// A gauge that goes up now and down when the guard is dropped: open connections, active
/// subscriptions.
pub struct Open {
    gauge: metrics::Gauge,
}

impl Open {
    pub fn new(gauge: metrics::Gauge) -> Self {
        gauge.increment(1.0);
        Self { gauge }
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}
