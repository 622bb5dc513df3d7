//! Units (perangkat daerah): dinas, kecamatan, kelurahan, puskesmas, BUMD…

use async_graphql::{Context, ID, InputObject, Object, Result};
use entity::unit;

use super::{
    connection::{Conn, Total, connection, page_request},
    enums::UnitKind,
    idea::{IdeaFilter, IdeaOrder, IdeaPage, IdeasArgs},
    ids::{self, Kind},
    loaders::{self, ChildrenOfUnit, Loaders, RegencyId, UnitId},
    ready::{Plain, now},
    regency::Regency,
};
use crate::domain::{
    Domain, idea::IdeaFilter as DomainIdeaFilter, rows::Seen, unit::UnitFilter as DomainFilter,
};

/// A regional government unit that owns ideas and signs commitments.
pub struct Unit(pub Seen<unit::Model>);

impl From<unit::Model> for Unit {
    fn from(model: unit::Model) -> Self {
        Unit(Seen::all(model))
    }
}

/// The fields a page answers without async-graphql's resolver ([`super::ready::Ready`]).
impl Plain for Unit {
    fn plain(&self, ctx: &Context<'_>) -> Option<async_graphql::Value> {
        match ctx.item.node.name.node.as_str() {
            "id" => now(self.id(ctx), ctx),
            "name" => now(self.name(ctx), ctx),
            "kind" => now(self.kind(ctx), ctx),
            "headTitle" => now(self.head_title(ctx), ctx),
            "version" => now(self.version(ctx), ctx),
            _ => None,
        }
    }
}

/// A regional government unit that owns ideas and signs commitments.
#[Object]
#[allow(
    clippy::unused_async,
    reason = "async-graphql resolvers are async, also those that only read a column"
)]
impl Unit {
    /// Global ID.
    pub async fn id(&self) -> ID {
        ids::encode(Kind::Unit, self.0.id())
    }

    /// Name, unique within the regency.
    async fn name(&self) -> Result<&str> {
        Ok(self.0.name()?)
    }

    /// Kind of unit.
    async fn kind(&self) -> Result<UnitKind> {
        Ok((*self.0.kind()?).into())
    }

    /// Title of the unit's head: Kepala, Camat, Lurah, Direktur…
    async fn head_title(&self) -> Result<&str> {
        Ok(self.0.head_title()?)
    }

    /// Version for optimistic concurrency.
    async fn version(&self) -> Result<i32> {
        Ok(*self.0.version()?)
    }

    /// The regency the unit belongs to.
    async fn regency(&self, ctx: &Context<'_>) -> Result<Regency> {
        Ok(Regency::from(
            loaders::required(ctx.data::<Loaders>()?, RegencyId(*self.0.regency_id()?)).await?,
        ))
    }

    /// The unit above this one (the kecamatan of a kelurahan, the health office of a puskesmas).
    async fn parent(&self, ctx: &Context<'_>) -> Result<Option<Unit>> {
        let Some(parent) = *self.0.parent_id()? else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loaders>()?
            .load_one(UnitId(parent))
            .await?
            .map(Unit::from))
    }

    /// Units under this one, by name.
    async fn children(&self, ctx: &Context<'_>) -> Result<Vec<Unit>> {
        let children = ctx
            .data::<Loaders>()?
            .load_one(ChildrenOfUnit(self.0.id()))
            .await?;
        Ok(children
            .unwrap_or_default()
            .into_iter()
            .map(Unit::from)
            .collect())
    }

    /// The unit's ideas, optionally filtered further.
    #[allow(
        clippy::too_many_arguments,
        reason = "a connection field: its arguments are the GraphQL API"
    )]
    async fn ideas(
        &self,
        ctx: &Context<'_>,
        filter: Option<IdeaFilter>,
        order_by: Option<IdeaOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<IdeaPage> {
        let scope = DomainIdeaFilter {
            unit_ids: Some(vec![self.0.id()]),
            ..Default::default()
        };
        IdeasArgs {
            filter,
            order_by,
            first,
            after,
            last,
            before,
        }
        .page_within(ctx, scope)
        .await
    }
}

/// Which units to return.
#[derive(InputObject, Default)]
pub struct UnitFilter {
    /// Units of these regencies (global IDs).
    pub regency_ids: Option<Vec<ID>>,
    /// Units of these regencies (Kemendagri codes).
    pub regency_codes: Option<Vec<String>>,
    /// Units of these kinds.
    pub kinds: Option<Vec<UnitKind>>,
    /// Units directly under this unit.
    pub parent_id: Option<ID>,
    /// Case-insensitive text contained in the name.
    pub search: Option<String>,
}

impl UnitFilter {
    fn to_domain(&self) -> Result<DomainFilter> {
        Ok(DomainFilter {
            regency_ids: ids::decode_list(Kind::Regency, &self.regency_ids)?,
            regency_codes: self.regency_codes.clone(),
            kinds: self
                .kinds
                .as_ref()
                .map(|k| k.iter().map(|k| (*k).into()).collect()),
            parent_id: ids::decode_opt(Kind::Unit, &self.parent_id)?,
            search: crate::domain::search_text(self.search.as_deref())?,
        })
    }
}

#[derive(Default)]
pub struct UnitQuery;

#[Object]
impl UnitQuery {
    /// Units, by name.
    async fn units(
        &self,
        ctx: &Context<'_>,
        filter: Option<UnitFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<Conn<Unit>> {
        let filter = filter.unwrap_or_default().to_domain()?;
        let page = ctx
            .data::<Domain>()?
            .unit_page(
                &crate::graphql::context::caller(ctx),
                &filter,
                &page_request(first, after, last, before),
            )
            .await?;
        Ok(connection(page, Total::Units(filter), Unit::from))
    }

    /// One unit by global ID; null if there is none.
    async fn unit(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Unit>> {
        let id = ids::decode(Kind::Unit, &id)?;
        Ok(ctx
            .data::<Loaders>()?
            .load_one(UnitId(id))
            .await?
            .map(Unit::from))
    }
}

/// A new unit.
#[derive(InputObject)]
pub struct CreateUnitInput {
    /// The regency the unit belongs to.
    pub regency_id: ID,
    /// The unit above it, in the same regency.
    pub parent_id: Option<ID>,
    /// Kind of unit.
    pub kind: UnitKind,
    /// Name, unique within the regency.
    pub name: String,
    /// Title of the head; the usual one for the kind when left out (Camat, Lurah, Kepala…).
    pub head_title: Option<String>,
}

/// Changes to a unit; fields left out stay as they are.
#[derive(InputObject)]
pub struct UpdateUnitInput {
    /// The unit.
    pub id: ID,
    /// The version you read.
    pub version: i32,
    /// New name.
    pub name: Option<String>,
    /// New kind.
    pub kind: Option<UnitKind>,
    /// New head title.
    pub head_title: Option<String>,
    /// New parent unit.
    pub parent_id: Option<ID>,
}

/// The unit after a write, and the event recorded for it.
#[derive(async_graphql::SimpleObject)]
pub struct UnitPayload {
    /// The unit as it is now.
    pub unit: Unit,
    /// The event the change recorded.
    pub event: super::event::PipelineEvent,
}

#[derive(Default)]
pub struct UnitMutation;

/// A regency's units from a spreadsheet, as CSV text.
#[derive(async_graphql::InputObject)]
pub struct ImportUnitsInput {
    /// The regency the units belong to.
    pub regency_id: ID,
    /// CSV with a header line. Columns (English or Indonesian headers): name/nama, kind/jenis
    /// (DINAS, BADAN, KECAMATAN, PUSKESMAS… or their Indonesian words), parent/induk (the name
    /// of a unit already in the regency or on an earlier line; optional) and
    /// head_title/jabatan (optional). Units already in the regency (by name) are left out.
    pub csv: String,
}

/// What a unit import wrote.
#[derive(async_graphql::SimpleObject)]
pub struct ImportUnitsPayload {
    /// Number of units created.
    pub imported: usize,
    /// Rows left out because a unit of that name is already in the regency.
    pub skipped: usize,
    /// The new units, in file order.
    pub units: Vec<Unit>,
}

#[Object]
impl UnitMutation {
    /// Creates a regency's units from CSV, all or nothing: if any line is bad, nothing is
    /// written and the error lists every bad line in `extensions.lines`. Each new unit records
    /// a UNIT_CREATED event; units already there are counted in `skipped`.
    async fn import_units(
        &self,
        ctx: &Context<'_>,
        input: ImportUnitsInput,
    ) -> Result<ImportUnitsPayload> {
        let regency_id = ids::decode(Kind::Regency, &input.regency_id)?;
        let written = ctx
            .data::<Domain>()?
            .import_units(&super::context::caller(ctx), regency_id, &input.csv)
            .await?;
        super::context::after_write(ctx);
        let outcome = written.value;
        Ok(ImportUnitsPayload {
            imported: outcome.units.len(),
            skipped: outcome.skipped,
            units: outcome.units.into_iter().map(Unit::from).collect(),
        })
    }

    /// Adds a unit to a regency.
    async fn create_unit(&self, ctx: &Context<'_>, input: CreateUnitInput) -> Result<UnitPayload> {
        let new = crate::domain::unit::NewUnit {
            regency_id: ids::decode(Kind::Regency, &input.regency_id)?,
            parent_id: ids::decode_opt(Kind::Unit, &input.parent_id)?,
            kind: input.kind.into(),
            name: input.name,
            head_title: input.head_title,
        };
        let written = ctx
            .data::<Domain>()?
            .create_unit(&super::context::caller(ctx), new)
            .await?;
        super::context::after_write(ctx);
        Ok(UnitPayload {
            unit: Unit::from(written.value),
            event: super::context::first_event(written.events)?,
        })
    }

    /// Changes a unit.
    async fn update_unit(&self, ctx: &Context<'_>, input: UpdateUnitInput) -> Result<UnitPayload> {
        let id = ids::decode(Kind::Unit, &input.id)?;
        let changes = crate::domain::unit::UnitChanges {
            name: input.name,
            kind: input.kind.map(Into::into),
            head_title: input.head_title,
            parent_id: ids::decode_opt(Kind::Unit, &input.parent_id)?,
        };
        let written = ctx
            .data::<Domain>()?
            .update_unit(&super::context::caller(ctx), id, input.version, changes)
            .await?;
        super::context::after_write(ctx);
        Ok(UnitPayload {
            unit: Unit::from(written.value),
            event: super::context::first_event(written.events)?,
        })
    }
}

/// As [`IDEA_COLUMNS`], for the fields of an idea's unit.
pub(crate) const UNIT_COLUMNS: &[(&str, &[unit::Column])] = &[
    ("__typename", &[]),
    ("id", &[]),
    ("name", &[unit::Column::Name]),
    ("kind", &[unit::Column::Kind]),
    ("headTitle", &[unit::Column::HeadTitle]),
    ("version", &[unit::Column::Version]),
    ("regency", &[unit::Column::RegencyId]),
    ("parent", &[unit::Column::ParentId]),
    ("children", &[]),
    ("ideas", &[]),
];
