//! Who is asking, and what they may do: the [`Caller`] every domain read and write receives.
//!
//! Every caller is anonymous (or a named system process, such as the CLI import) until the
//! access issue adds tokens and roles. Then the rules change here, in [`Caller::check_read`]
//! and [`Caller::check_write`], and nowhere else: resolvers, transports and subscriptions
//! already hand the caller to the domain, and events already record it as their actor.

use crate::error::DomainResult;

/// Who is behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A request that carries no identity.
    Anonymous,
    /// A process of the operator's own: the CLI, the demo loader.
    System(String),
}

/// The caller of a domain operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    principal: Principal,
}

impl Caller {
    /// A caller that carries no identity.
    pub fn anonymous() -> Self {
        Self {
            principal: Principal::Anonymous,
        }
    }

    /// A process of the operator's own, named in the audit trail (e.g. "cli import").
    pub fn system(name: impl Into<String>) -> Self {
        Self {
            principal: Principal::System(name.into()),
        }
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The name recorded as the actor of this caller's changes.
    pub fn actor(&self) -> &str {
        match &self.principal {
            Principal::Anonymous => "anonymous",
            Principal::System(name) => name,
        }
    }

    /// The access rule for reads. Everyone may read everything until roles exist.
    pub fn check_read(&self) -> DomainResult<()> {
        Ok(())
    }

    /// The access rule for a change to rows of `regency_id` (None: rows of no regency, such
    /// as mentors). Everyone may write until roles exist.
    pub fn check_write(&self, regency_id: Option<i32>) -> DomainResult<()> {
        let _ = regency_id;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_actor_names_who_changed_something() {
        assert_eq!(Caller::anonymous().actor(), "anonymous");
        assert_eq!(Caller::system("cli import").actor(), "cli import");
    }
}
