//! labinov: a GraphQL server for regional innovation labs (Laboratorium Inovasi) run by
//! Indonesian regencies with LAN. `main.rs` is thin; everything testable lives here.

pub mod app;
pub mod auth;
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

pub use app::App;
pub use config::Config;
