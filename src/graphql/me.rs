//! `me`: who the caller is and what it may do.

use async_graphql::{Context, Enum, Object, Result};
use chrono::{DateTime, Utc};

use super::{
    context::caller,
    loaders::{Loaders, MentorId, RegencyId},
    mentor::Mentor,
    regency::Regency,
};
use crate::access::Caller;

/// What a token lets its holder do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::access::Role")]
pub enum Role {
    /// Everything: regencies, mentors, every regency's rows.
    Admin,
    /// Reads and writes the rows of one regency.
    RegencyAdmin,
    /// A LAN mentor: reads every regency; writes only on ideas assigned to them.
    Mentor,
    /// Reads one regency, or all of them; writes nothing.
    Viewer,
}

/// One thing a caller may do.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
#[graphql(remote = "crate::access::Right")]
pub enum Right {
    /// `stages`, `funnel`, `ideaCounts` and the funnel subscription.
    ReadPublicAggregates,
    /// Every regency's rows.
    ReadAllRegencies,
    /// The rows of the caller's own regency.
    ReadOwnRegency,
    /// Changes to the rows of the caller's own regency.
    WriteOwnRegency,
    /// Changes to every regency's rows.
    WriteAllRegencies,
    /// Creating regencies and managing LAN mentors.
    ManageRegenciesAndMentors,
    /// Notes and reviews on the ideas assigned to the caller.
    WriteAssignedIdeas,
}

/// The caller of this request, as its token says.
pub struct Me(Caller);

/// The caller of this request, as its token says.
#[Object]
impl Me {
    /// Whether the request carried a valid token.
    async fn authenticated(&self) -> bool {
        self.0.as_user().is_some()
    }

    /// Who holds the token (recorded as the actor of their changes); null without a token.
    async fn subject(&self) -> Option<&str> {
        self.0.as_user().map(|u| u.subject.as_str())
    }

    /// The token's role; null without a token.
    async fn role(&self) -> Option<Role> {
        self.0.as_user().map(|u| u.role.into())
    }

    /// The regency the token is bound to (a REGENCY_ADMIN's, or a VIEWER's of one regency).
    async fn regency(&self, ctx: &Context<'_>) -> Result<Option<Regency>> {
        let Some(grant) = self.0.as_user().and_then(|u| u.regency.as_ref()) else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loaders>()?
            .load_one(RegencyId(grant.id))
            .await?
            .map(Regency::from))
    }

    /// The mentor a MENTOR token speaks for.
    async fn mentor(&self, ctx: &Context<'_>) -> Result<Option<Mentor>> {
        let Some(id) = self.0.as_user().and_then(|u| u.mentor) else {
            return Ok(None);
        };
        Ok(ctx
            .data::<Loaders>()?
            .load_one(MentorId(id))
            .await?
            .map(Mentor::from))
    }

    /// When the token stops being accepted; a live subscription ends then.
    async fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.expires_at()
    }

    /// What the caller may do.
    async fn rights(&self) -> Vec<Right> {
        self.0.rights().into_iter().map(Right::from).collect()
    }
}

#[derive(Default)]
pub struct MeQuery;

#[Object]
impl MeQuery {
    /// Who the caller is and what it may do (send a token as `Authorization: Bearer …`).
    async fn me(&self, ctx: &Context<'_>) -> Me {
        Me(caller(ctx))
    }
}
