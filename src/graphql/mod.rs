//! The GraphQL API: one `schema()` builder without data, used by the server, the tests and
//! the SDL export alike, so the checked-in `schema.graphql` is exactly what runs.

pub mod action_plan;
pub mod aggregate;
pub mod commitment;
pub mod connection;
pub mod context;
pub mod engine;
pub mod enums;
pub mod errors;
pub mod event;
pub mod evidence;
pub mod idea;
pub mod ids;
pub mod kept;
pub mod limits;
pub mod loaders;
pub mod me;
pub mod mentor;
pub mod node;
pub mod order;
pub mod persisted;
pub mod ready;
pub mod regency;
pub mod review;
pub mod shared;
pub mod subscription;
pub mod typename;
pub mod unit;
pub mod variables;

use async_graphql::{MergedObject, Schema, SchemaBuilder};

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
    review::ReviewQuery,
    event::EventQuery,
    me::MeQuery,
);

/// Root of every mutation. Each takes one `input` and returns a payload with the changed
/// object (and the event it recorded) so clients can update their cache.
#[derive(MergedObject, Default)]
pub struct Mutation(
    regency::RegencyMutation,
    unit::UnitMutation,
    idea::IdeaMutation,
    mentor::MentorMutation,
    commitment::CommitmentMutation,
    review::ReviewMutation,
    action_plan::ActionPlanMutation,
    evidence::EvidenceMutation,
);

pub type LabinovSchema = Schema<Query, Mutation, subscription::Subscription>;

/// The schema without data; the server adds the domain handle and the live hub, tests and
/// `labinov schema` reuse it.
pub fn schema() -> SchemaBuilder<Query, Mutation, subscription::Subscription> {
    Schema::build(
        Query::default(),
        Mutation::default(),
        subscription::Subscription,
    )
}

/// The SDL of the schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    // With `@specifiedBy` on the scalars that have one, as introspection reports them.
    schema()
        .finish()
        .sdl_with_options(async_graphql::SDLExportOptions::new().include_specified_by())
}

/// The names of the fields of the schema's type `type_name` (e.g. `Mutation`), in schema
/// order; empty when there is no such object type.
pub fn field_names(type_name: &str) -> Vec<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let Ok(document) = async_graphql::parser::parse_schema(sdl()) else {
        return Vec::new();
    };
    document
        .definitions
        .into_iter()
        .find_map(|definition| match definition {
            TypeSystemDefinition::Type(ty) if ty.node.name.node == type_name => {
                match ty.node.kind {
                    TypeKind::Object(object) => Some(
                        object
                            .fields
                            .into_iter()
                            .map(|field| field.node.name.node.to_string())
                            .collect(),
                    ),
                    _ => None,
                }
            }
            _ => None,
        })
        .unwrap_or_default()
}
