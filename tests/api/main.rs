//! The one integration test binary, with modules by capability.
//!
//! Backend: SQLite (a fresh file per test) by default; set `LABINOV_TEST_DATABASE_URL` to a
//! PostgreSQL URL to run every test in its own fresh schema there instead.

#![allow(
    clippy::too_many_lines,
    reason = "a test tells one user's story from start to end"
)]

mod access;
mod backup;
mod browser;
mod cache;
mod clients;
mod evidence;
mod foundation;
mod helpers;
mod hostile;
mod introspection;
mod lab;
mod live;
mod operate;
mod plans;
mod promises;
mod read;
mod replica;
mod write;
