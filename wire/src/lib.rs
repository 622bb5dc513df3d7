//! labinov's protocol clients, one per live protocol, shared by the integration tests and the
//! benchmark harness: [`ws::Socket`] speaks graphql-transport-ws and the legacy graphql-ws
//! (subscriptions-transport-ws), [`sse::EventStream`] reads GraphQL over SSE as an
//! EventSource would.
//!
//! Every call returns a `Result` or an `Option`: the tests turn them into assertions with their
//! patience window, the harness into reconnects and refusals it counts.

pub mod sse;
pub mod ws;
