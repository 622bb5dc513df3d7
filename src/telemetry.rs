//! Logging setup: an env filter (RUST_LOG, default `info`) and a JSON switch.

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Installs the global subscriber. Tests do not call it, so they log only on demand.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(fmt::layer().json()).init();
    } else {
        // Colour codes only for a person at a terminal, never into a file or a log collector.
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
        registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
            .init();
    }
}
