//! The GraphQL API: one `schema()` builder without data, used by the server, the tests and
//! the SDL export alike, so the checked-in `schema.graphql` is exactly what runs.

pub mod aggregate;
pub mod commitment;
pub mod connection;
pub mod enums;
pub mod event;
pub mod idea;
pub mod ids;
pub mod loaders;
pub mod mentor;
pub mod node;
pub mod regency;
pub mod unit;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};

/// Root of every query.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    regency::RegencyQuery,
    unit::UnitQuery,
    idea::IdeaQuery,
    aggregate::AggregateQuery,
    mentor::MentorQuery,
    commitment::CommitmentQuery,
    event::EventQuery,
);

pub type LabinovSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema without data; the server adds the domain handle, tests and `labinov schema` reuse it.
pub fn schema() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().finish().sdl()
}
