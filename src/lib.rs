//! labinov: a GraphQL server for regional innovation labs (Laboratorium Inovasi) run by
//! Indonesian regencies with LAN. `main.rs` is thin; everything testable lives here.

// serde_json's `json!` recurses once per key: the /live page's label tables need more than 128.
#![recursion_limit = "256"]

pub mod access;
pub mod app;
pub mod auth;
pub mod backup;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod global_id;
pub mod graphql;
pub mod http;
pub mod live;
pub mod metrics;
pub mod telemetry;

/// mimalloc instead of the system allocator, for every binary that links labinov: a page
/// answer is thousands of small allocations, and glibc's malloc and free took about a fifth
/// of the server's time on the dashboard page (docs/benchmarks.md, "What was tuned and why").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use app::App;
pub use config::Config;
