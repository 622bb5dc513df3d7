//! Who may do what: the [`Caller`] every domain read and write receives, its [`Role`] and
//! the rows it may read.
//!
//! The access rules live here and nowhere else: [`Caller::read_scope`] says which regencies'
//! rows a caller may read (the domain adds it to every select), [`Caller::check_write`] whether
//! it may change rows of a regency, [`Caller::may_see`] whether a live event may be sent to it.
//! Resolvers, transports and subscriptions only hand the caller on; how a token becomes a
//! caller is `auth`'s business.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{DomainError, DomainResult};

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "ADMIN",
            Self::RegencyAdmin => "REGENCY_ADMIN",
            Self::Mentor => "MENTOR",
            Self::Viewer => "VIEWER",
        }
    }
}

/// What a caller without a token may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnonymousAccess {
    /// Nothing at all.
    None,
    /// The public aggregates: `stages`, `funnel`, `ideaCounts` and the funnel subscription.
    #[default]
    Public,
    /// Every read, as a VIEWER of all regencies (an open-data deployment).
    Read,
}

/// A regency a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegencyGrant {
    pub id: i32,
    pub code: String,
}

/// The holder of a verified token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub subject: String,
    pub role: Role,
    pub regency: Option<RegencyGrant>,
    pub mentor: Option<i32>,
    pub expires_at: DateTime<Utc>,
}

/// Who is behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A request that carries no token.
    Anonymous(AnonymousAccess),
    /// A process of the operator's own: the CLI, the demo loader, the live listener.
    System(String),
    /// A request with a verified token.
    User(User),
}

/// The rows a caller may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadScope {
    Everything,
    Regency(i32),
}

impl ReadScope {
    /// Whether rows of `regency_id` are in scope.
    pub fn allows(self, regency_id: i32) -> bool {
        match self {
            Self::Everything => true,
            Self::Regency(id) => id == regency_id,
        }
    }

    /// The one regency in scope, if the scope is one regency.
    pub fn regency(self) -> Option<i32> {
        match self {
            Self::Everything => None,
            Self::Regency(id) => Some(id),
        }
    }

    /// The regencies of `asked` (None: every regency) that are in scope.
    pub fn narrow(self, asked: Option<&[i32]>) -> Option<Vec<i32>> {
        match (self, asked) {
            (Self::Everything, asked) => asked.map(<[i32]>::to_vec),
            (Self::Regency(id), None) => Some(vec![id]),
            (Self::Regency(id), Some(asked)) => {
                Some(asked.iter().copied().filter(|a| *a == id).collect())
            }
        }
    }

    /// A condition keeping rows whose `column` names a regency in scope.
    pub fn on<C: sea_orm::ColumnTrait>(self, column: C) -> sea_orm::Condition {
        match self {
            Self::Everything => sea_orm::Condition::all(),
            Self::Regency(id) => sea_orm::Condition::all().add(column.eq(id)),
        }
    }

    /// A condition keeping rows whose `idea_column` names an idea of a regency in scope.
    pub fn on_idea<C: sea_orm::ColumnTrait>(self, idea_column: C) -> sea_orm::Condition {
        use sea_orm::sea_query::Query;
        match self {
            Self::Everything => sea_orm::Condition::all(),
            Self::Regency(id) => sea_orm::Condition::all().add(
                idea_column.in_subquery(
                    Query::select()
                        .column(entity::idea::Column::Id)
                        .from(entity::idea::Entity)
                        .and_where(sea_orm::ColumnTrait::eq(
                            &entity::idea::Column::RegencyId,
                            id,
                        ))
                        .to_owned(),
                ),
            ),
        }
    }
}

/// What a caller may do, as `me` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Right {
    /// `stages`, `funnel`, `ideaCounts` and the funnel subscription.
    ReadPublicAggregates,
    /// Every regency's rows.
    ReadAllRegencies,
    /// The rows of the caller's regency.
    ReadOwnRegency,
    /// Changes to the rows of the caller's regency.
    WriteOwnRegency,
    /// Changes to every regency's rows.
    WriteAllRegencies,
    /// Creating regencies and managing LAN mentors.
    ManageRegenciesAndMentors,
    /// Notes and reviews on the ideas assigned to the caller.
    WriteAssignedIdeas,
}

/// The caller of a domain operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    principal: Principal,
}

impl Caller {
    /// A caller without a token, with the default anonymous access (public aggregates).
    pub fn anonymous() -> Self {
        Self::anonymous_with(AnonymousAccess::default())
    }

    /// A caller without a token, on a server whose anonymous access is `access`.
    pub fn anonymous_with(access: AnonymousAccess) -> Self {
        Self {
            principal: Principal::Anonymous(access),
        }
    }

    /// A process of the operator's own, named in the audit trail (e.g. "cli import").
    pub fn system(name: impl Into<String>) -> Self {
        Self {
            principal: Principal::System(name.into()),
        }
    }

    /// The holder of a verified token.
    pub fn user(user: User) -> Self {
        Self {
            principal: Principal::User(user),
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// What the caller may see, without who they are: callers of one class read the same
    /// answers, so subscribers of one class may share them. None for the server's own callers.
    pub fn sharing_class(&self) -> Option<String> {
        match &self.principal {
            Principal::Anonymous(access) => Some(format!("anonymous {access:?}")),
            Principal::User(user) => Some(format!(
                "{:?} {:?} {:?}",
                user.role, user.regency, user.mentor
            )),
            Principal::System(_) => None,
        }
    }

    /// A caller of the same class that never expires and names no one: what an execution
    /// shared by callers of this class runs as (each of them is held to its own token's expiry
    /// by its connection). None for the server's own callers.
    pub fn stand_in(&self) -> Option<Caller> {
        match &self.principal {
            Principal::Anonymous(_) => Some(self.clone()),
            Principal::User(user) => Some(Caller::user(User {
                subject: "shared subscription".to_owned(),
                expires_at: DateTime::<Utc>::MAX_UTC,
                ..user.clone()
            })),
            Principal::System(_) => None,
        }
    }

    /// Everything about the caller an answer may depend on, for keeping answers per caller;
    /// None for the operator's own processes and for a token past its expiry (still let in
    /// for the verifier's few seconds of leeway, it is refused when the query runs, so it must
    /// not be answered from what it read before).
    pub fn cache_identity(&self) -> Option<String> {
        match &self.principal {
            Principal::System(_) => None,
            Principal::User(user) if user.expires_at <= Utc::now() => None,
            principal => Some(format!("{principal:?}")),
        }
    }

    /// The token holder, if the caller has a token.
    pub fn as_user(&self) -> Option<&User> {
        match &self.principal {
            Principal::User(user) => Some(user),
            _ => None,
        }
    }

    /// The name recorded as the actor of this caller's changes: a token's subject.
    pub fn actor(&self) -> &str {
        match &self.principal {
            Principal::Anonymous(_) => "anonymous",
            Principal::System(name) => name,
            Principal::User(user) => &user.subject,
        }
    }

    /// When the caller's token stops being valid.
    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        self.as_user().map(|u| u.expires_at)
    }

    fn check_unexpired(&self) -> DomainResult<()> {
        match self.expires_at() {
            Some(at) if at <= Utc::now() => Err(DomainError::Unauthenticated(format!(
                "Your token expired at {}; ask for a new one.",
                at.format("%Y-%m-%d %H:%M:%S UTC")
            ))),
            _ => Ok(()),
        }
    }

    /// Which regencies' rows the caller may read; UNAUTHENTICATED for a caller without a token
    /// on a server that opens only the public aggregates to them.
    pub fn read_scope(&self) -> DomainResult<ReadScope> {
        self.check_unexpired()?;
        match &self.principal {
            Principal::System(_) | Principal::Anonymous(AnonymousAccess::Read) => {
                Ok(ReadScope::Everything)
            }
            Principal::Anonymous(_) => Err(DomainError::Unauthenticated(
                "Reading this needs a token (Authorization: Bearer …); without one only stages, funnel and ideaCounts are open.".to_owned(),
            )),
            Principal::User(user) => Ok(match (user.role, &user.regency) {
                (Role::Admin | Role::Mentor, _) | (Role::Viewer, None) => ReadScope::Everything,
                (Role::Viewer | Role::RegencyAdmin, Some(regency)) => ReadScope::Regency(regency.id),
                // A REGENCY_ADMIN token without a regency is refused when it is verified.
                (Role::RegencyAdmin, None) => ReadScope::Regency(0),
            }),
        }
    }

    /// Which regencies' figures the caller may read in the public aggregates (`funnel`,
    /// `ideaCounts`, the funnel subscription).
    pub fn aggregate_scope(&self) -> DomainResult<ReadScope> {
        match &self.principal {
            Principal::Anonymous(AnonymousAccess::Public) => Ok(ReadScope::Everything),
            Principal::Anonymous(AnonymousAccess::None) => Err(DomainError::Unauthenticated(
                "This server opens nothing to callers without a token; send Authorization: Bearer ….".to_owned(),
            )),
            _ => self.read_scope(),
        }
    }

    /// The rule for reads; see [`read_scope`](Self::read_scope).
    pub fn check_read(&self) -> DomainResult<ReadScope> {
        self.read_scope()
    }

    /// The rule for a change to rows of `regency_id` (None: rows of no regency, such as a new
    /// regency or a mentor). `what` names the row for the not-found sentence: a row the caller
    /// may not even read reads as absent, so a refusal does not tell that it exists.
    pub fn check_write(&self, regency_id: Option<i32>, what: &str) -> DomainResult<()> {
        self.check_unexpired()?;
        let user = match &self.principal {
            Principal::System(_) => return Ok(()),
            Principal::Anonymous(_) => {
                return Err(DomainError::Unauthenticated(
                    "Changing data needs a token (Authorization: Bearer …) with the ADMIN or REGENCY_ADMIN role.".to_owned(),
                ));
            }
            Principal::User(user) => user,
        };
        if let Some(regency_id) = regency_id
            && !self.read_scope()?.allows(regency_id)
        {
            return Err(DomainError::missing(what));
        }
        match (user.role, regency_id, &user.regency) {
            (Role::Admin, _, _) => Ok(()),
            (Role::RegencyAdmin, Some(id), Some(own)) if own.id == id => Ok(()),
            (Role::RegencyAdmin, None, _) => Err(DomainError::Forbidden(format!(
                "Changing a {what} needs the ADMIN role; your token has REGENCY_ADMIN, which changes the rows of its own regency."
            ))),
            (role, _, _) => Err(DomainError::Forbidden(format!(
                "Changing a {what} needs the ADMIN role or REGENCY_ADMIN of its regency; your token has {}.",
                role.as_str()
            ))),
        }
    }

    /// The role check every write makes before it reads anything: callers that may change
    /// nothing at all are turned back here.
    pub fn check_may_write(&self) -> DomainResult<()> {
        self.check_unexpired()?;
        match &self.principal {
            Principal::System(_) => Ok(()),
            Principal::Anonymous(_) => Err(DomainError::Unauthenticated(
                "Changing data needs a token (Authorization: Bearer …) with the ADMIN or REGENCY_ADMIN role.".to_owned(),
            )),
            Principal::User(user) => match user.role {
                Role::Admin | Role::RegencyAdmin => Ok(()),
                Role::Mentor => Err(DomainError::Forbidden(
                    "This change needs the ADMIN or REGENCY_ADMIN role; a MENTOR token writes only notes and reviews on its assigned ideas.".to_owned(),
                )),
                Role::Viewer => Err(DomainError::Forbidden(
                    "This change needs the ADMIN or REGENCY_ADMIN role; your token has VIEWER, which only reads.".to_owned(),
                )),
            },
        }
    }

    /// The mentor the caller's token names, if any.
    pub fn mentor_id(&self) -> Option<i32> {
        self.as_user().and_then(|u| u.mentor)
    }

    /// The rule for a mentor's own writes (reviews): a MENTOR token naming its mentor. Whether
    /// the idea is assigned to that mentor is checked by the write itself.
    pub fn check_mentor(&self) -> DomainResult<i32> {
        self.check_unexpired()?;
        match &self.principal {
            Principal::Anonymous(_) => Err(DomainError::Unauthenticated(
                "Reviews are written by LAN mentors: send a token with the MENTOR role.".to_owned(),
            )),
            Principal::User(User {
                role: Role::Mentor,
                mentor: Some(id),
                ..
            }) => Ok(*id),
            Principal::User(user) => Err(DomainError::Forbidden(format!(
                "Reviews are written by the LAN mentors assigned to an idea, with a MENTOR token; your token has {}.",
                user.role.as_str()
            ))),
            Principal::System(_) => Err(DomainError::Forbidden(
                "Reviews are written by LAN mentors, not by the system.".to_owned(),
            )),
        }
    }

    /// Whether a live event of `regency_id` may be sent to this caller now.
    pub fn may_see(&self, regency_id: i32) -> DomainResult<bool> {
        Ok(self.read_scope()?.allows(regency_id))
    }

    /// What the caller may do, for `me`.
    pub fn rights(&self) -> Vec<Right> {
        let mut rights = Vec::new();
        match &self.principal {
            Principal::Anonymous(AnonymousAccess::None) => {}
            Principal::Anonymous(AnonymousAccess::Public) => {
                rights.push(Right::ReadPublicAggregates);
            }
            Principal::Anonymous(AnonymousAccess::Read) => {
                rights.extend([Right::ReadPublicAggregates, Right::ReadAllRegencies]);
            }
            Principal::System(_) => rights.extend([
                Right::ReadPublicAggregates,
                Right::ReadAllRegencies,
                Right::WriteAllRegencies,
                Right::ManageRegenciesAndMentors,
            ]),
            Principal::User(user) => {
                if self.check_unexpired().is_err() {
                    return rights;
                }
                rights.push(Right::ReadPublicAggregates);
                match (user.role, user.regency.is_some()) {
                    (Role::Admin, _) => rights.extend([
                        Right::ReadAllRegencies,
                        Right::WriteAllRegencies,
                        Right::ManageRegenciesAndMentors,
                    ]),
                    (Role::RegencyAdmin, _) => {
                        rights.extend([Right::ReadOwnRegency, Right::WriteOwnRegency]);
                    }
                    (Role::Mentor, _) => {
                        rights.extend([Right::ReadAllRegencies, Right::WriteAssignedIdeas]);
                    }
                    (Role::Viewer, true) => rights.push(Right::ReadOwnRegency),
                    (Role::Viewer, false) => rights.push(Right::ReadAllRegencies),
                }
            }
        }
        rights
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, regency: Option<i32>) -> Caller {
        Caller::user(User {
            subject: "siti".to_owned(),
            role,
            regency: regency.map(|id| RegencyGrant {
                id,
                code: format!("{id}"),
            }),
            mentor: None,
            expires_at: Utc::now() + chrono::Duration::hours(1),
        })
    }

    #[test]
    fn the_actor_names_who_changed_something() {
        assert_eq!(Caller::anonymous().actor(), "anonymous");
        assert_eq!(Caller::system("cli import").actor(), "cli import");
        assert_eq!(user(Role::Admin, None).actor(), "siti");
    }

    #[test]
    fn a_regency_admin_writes_only_in_its_regency_and_cannot_see_others() {
        let admin = user(Role::RegencyAdmin, Some(1));
        assert!(admin.check_write(Some(1), "idea").is_ok());
        assert!(matches!(
            admin.check_write(Some(2), "idea"),
            Err(DomainError::NotFound(_))
        ));
        assert!(matches!(
            admin.check_write(None, "regency"),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            user(Role::Viewer, Some(1)).check_write(Some(1), "idea"),
            Err(DomainError::Forbidden(_))
        ));
        assert!(matches!(
            Caller::anonymous().check_write(Some(1), "idea"),
            Err(DomainError::Unauthenticated(_))
        ));
    }

    #[test]
    fn an_expired_token_reads_nothing() {
        let expired = Caller::user(User {
            expires_at: Utc::now() - chrono::Duration::seconds(1),
            ..user(Role::Admin, None).as_user().cloned().expect("a user")
        });
        assert!(matches!(
            expired.read_scope(),
            Err(DomainError::Unauthenticated(_))
        ));
    }
}
