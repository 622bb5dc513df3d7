//! The GraphQL API: one `schema()` builder without data, used by the server, the tests and
//! the SDL export alike, so the checked-in `schema.graphql` is exactly what runs.

pub mod enums;
pub mod ids;
pub mod loaders;
pub mod regency;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Schema, SchemaBuilder};

/// Root of every query.
#[derive(MergedObject, Default)]
pub struct Query(regency::RegencyQuery);

pub type LabinovSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// The schema without data; the server adds the domain handle, tests and `labinov schema` reuse it.
pub fn schema() -> SchemaBuilder<Query, EmptyMutation, EmptySubscription> {
    Schema::build(Query::default(), EmptyMutation, EmptySubscription)
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    schema().finish().sdl()
}
