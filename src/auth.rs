//! Bearer tokens: issuing them, verifying them (HS256 with the server's secret, RS256 with an
//! outside provider's keys) and turning a verified token into the [`Caller`] of `access`.

use std::{collections::HashMap, net::IpAddr, path::Path, sync::Mutex};

use anyhow::Context;
use chrono::DateTime;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::{
    access::{AnonymousAccess, Caller, RegencyGrant, Role, User},
    config::{Config, TokenArgs},
    error::{DomainError, DomainResult},
};

/// The secret `serve --demo` signs tokens with when no secret is configured. Anyone can read it
/// here, so a server refuses it on any address but loopback.
pub const DEMO_SECRET: &str = "labinov-demo-secret: for trying labinov on one machine only";

/// Shortest secret accepted for HS256.
pub const MIN_SECRET_BYTES: usize = 32;

/// Longest subject (`sub`) a token may carry: it is recorded as the actor of every change.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// What is wrong with a token's subject as the actor the events record and screens show, if
/// anything: empty, too long, or holding control characters or the marks that turn the
/// direction of text (which would make a name read as another on a screen).
pub fn subject_problem(sub: &str) -> Option<String> {
    let direction_mark = |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if sub.trim().is_empty() {
        Some("has an empty subject (sub)".to_owned())
    } else if sub.chars().count() > MAX_SUBJECT_CHARS {
        Some(format!(
            "has a subject (sub) longer than {MAX_SUBJECT_CHARS} characters"
        ))
    } else if sub.chars().any(|c| c.is_control() || direction_mark(c)) {
        Some("has a subject (sub) with control characters or direction marks".to_owned())
    } else {
        None
    }
}

/// The claims of a labinov token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who holds the token; recorded as the actor of their changes.
    pub sub: String,
    pub role: Role,
    /// The regency code (e.g. `63.03`) a REGENCY_ADMIN writes in, or a VIEWER reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regency: Option<String>,
    /// The mentor (database id) a MENTOR token speaks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mentor: Option<i32>,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    #[serde(default)]
    pub iat: i64,
}

/// A key that verifies RS256 tokens of an outside identity provider, with its key id.
struct PublicKey {
    kid: Option<String>,
    key: DecodingKey,
}

/// Issues and verifies tokens, and turns a verified token into a [`Caller`].
pub struct Authenticator {
    secret: Option<(EncodingKey, DecodingKey)>,
    public_keys: Vec<PublicKey>,
    issuer: Option<String>,
    audience: Option<String>,
    anonymous: AnonymousAccess,
    /// Regency codes of verified tokens, resolved to ids (codes never change).
    regencies: Mutex<HashMap<String, i32>>,
    /// Mentors that MENTOR tokens named and that exist (mentors are never deleted).
    mentors: Mutex<std::collections::HashSet<i32>>,
    /// Whether the secret is the public demo one (only ever on loopback).
    demo_secret: bool,
}

impl Authenticator {
    /// Whether tokens are signed with the public demo secret: demo tokens may then be printed,
    /// since anyone can make them anyway.
    pub fn signs_with_demo_secret(&self) -> bool {
        self.demo_secret
    }
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("hs256", &self.secret.is_some())
            .field("rs256_keys", &self.public_keys.len())
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// The authenticator of a server (or the `token` command) run with `config`.
    pub fn from_config(config: &Config, demo: bool) -> anyhow::Result<Self> {
        Self::new(
            &config.tokens,
            config.anonymous_access,
            config.listen.ip(),
            demo,
        )
    }

    /// Verifies with the secret or public keys of `tokens`, for a server listening on `listen`
    /// whose callers without a token get `anonymous`. Outside demo mode a secret or public keys
    /// are required; the demo secret is refused on any address but loopback.
    pub fn new(
        tokens: &TokenArgs,
        anonymous: AnonymousAccess,
        listen: IpAddr,
        demo: bool,
    ) -> anyhow::Result<Self> {
        let secret: Option<String> = match (&tokens.jwt_secret, demo) {
            (Some(secret), _) => Some(secret.clone()),
            (None, true) => Some(DEMO_SECRET.to_owned()),
            (None, false) => None,
        };
        if let Some(secret) = &secret {
            anyhow::ensure!(
                secret.len() >= MIN_SECRET_BYTES,
                "LABINOV_JWT_SECRET is {} bytes long; use at least {MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -base64 48`)",
                secret.len()
            );
            anyhow::ensure!(
                secret != DEMO_SECRET || listen.is_loopback(),
                "the demo token secret is public; set LABINOV_JWT_SECRET before listening on {listen}"
            );
        }
        let public_keys = match &tokens.jwt_public_keys {
            Some(path) => read_public_keys(path)?,
            None => Vec::new(),
        };
        anyhow::ensure!(
            secret.is_some() || !public_keys.is_empty(),
            "no way to verify tokens: set LABINOV_JWT_SECRET (at least {MIN_SECRET_BYTES} random bytes) or LABINOV_JWT_PUBLIC_KEYS, or run with --demo to try labinov on this machine"
        );
        let demo_secret = secret.as_deref() == Some(DEMO_SECRET);
        Ok(Self {
            secret: secret.map(|s| {
                (
                    EncodingKey::from_secret(s.as_bytes()),
                    DecodingKey::from_secret(s.as_bytes()),
                )
            }),
            public_keys,
            issuer: tokens.jwt_issuer.clone(),
            audience: tokens.jwt_audience.clone(),
            anonymous,
            regencies: Mutex::new(HashMap::new()),
            mentors: Mutex::default(),
            demo_secret,
        })
    }

    /// What callers without a token may read.
    pub fn anonymous(&self) -> Caller {
        Caller::anonymous_with(self.anonymous)
    }

    /// Signs `claims` with the HS256 secret.
    pub fn issue(&self, claims: &Claims) -> anyhow::Result<String> {
        let (key, _) = self
            .secret
            .as_ref()
            .context("tokens can only be issued with a secret (LABINOV_JWT_SECRET)")?;
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, key)
            .context("signing the token")
    }

    /// Verifies a token's signature, algorithm and expiry, and checks its claims.
    pub fn verify(&self, token: &str) -> DomainResult<Claims> {
        let bad = |why: &str| DomainError::Unauthenticated(format!("The token {why}."));
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| bad("is not a well-formed JWT (header.payload.signature)"))?;
        // HS256 only with the configured secret; RS256 only with the provider's keys (the key
        // the token names, or each key when it names none).
        let keys: Vec<&DecodingKey> = match header.alg {
            Algorithm::HS256 => self.secret.iter().map(|(_, key)| key).collect(),
            Algorithm::RS256 => self
                .public_keys
                .iter()
                .filter(|k| header.kid.is_none() || k.kid.is_none() || k.kid == header.kid)
                .map(|k| &k.key)
                .collect(),
            _ => Vec::new(),
        };
        if keys.is_empty() {
            return Err(bad(
                "is signed with an algorithm or key this server does not accept",
            ));
        }
        let mut validation = Validation::new(header.alg);
        validation.leeway = 5;
        // A token not valid yet (`nbf` ahead of the clock) is refused like an expired one.
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "sub"]);
        if header.alg == Algorithm::RS256 {
            // An outside provider signs tokens for many services: only those it issued for
            // labinov count, when the operator names the issuer and the audience.
            if let Some(issuer) = &self.issuer {
                validation.set_issuer(&[issuer]);
                validation.required_spec_claims.insert("iss".to_owned());
            }
            if let Some(audience) = &self.audience {
                validation.set_audience(&[audience]);
                validation.required_spec_claims.insert("aud".to_owned());
            }
        }
        let mut decoded = Err(jsonwebtoken::errors::ErrorKind::InvalidSignature.into());
        for key in keys {
            decoded = jsonwebtoken::decode::<Claims>(token, key, &validation);
            if decoded.is_ok() {
                break;
            }
        }
        let data = decoded.map_err(|err: jsonwebtoken::errors::Error| {
            use jsonwebtoken::errors::ErrorKind;
            match err.kind() {
                ErrorKind::ExpiredSignature => bad("has expired; ask for a new one"),
                ErrorKind::ImmatureSignature => {
                    bad("is not valid yet (its nbf lies ahead); check the issuer's clock")
                }
                ErrorKind::InvalidSignature => bad("has a signature this server cannot verify"),
                ErrorKind::InvalidIssuer | ErrorKind::InvalidAudience => {
                    bad("was issued by another provider or for another service")
                }
                ErrorKind::Json(_) | ErrorKind::MissingRequiredClaim(_) => {
                    bad("does not carry labinov's claims (sub, role, exp)")
                }
                _ => bad("cannot be verified"),
            }
        })?;
        let claims = data.claims;
        if let Some(problem) = subject_problem(&claims.sub) {
            return Err(bad(&problem));
        }
        if claims.role == Role::RegencyAdmin && claims.regency.is_none() {
            return Err(bad("has the REGENCY_ADMIN role but names no regency"));
        }
        if claims.role == Role::Mentor && claims.mentor.is_none() {
            return Err(bad("has the MENTOR role but names no mentor"));
        }
        Ok(claims)
    }

    /// The caller of a request: anonymous without a token, the token's holder with a good one,
    /// UNAUTHENTICATED with a bad one, also one naming a regency or a mentor that does not
    /// exist. `regency_id` resolves a regency code to its id; `mentor_exists` says whether a
    /// mentor id is one.
    pub async fn caller(
        &self,
        token: Option<&str>,
        regency_id: impl AsyncFnOnce(String) -> DomainResult<Option<i32>>,
        mentor_exists: impl AsyncFnOnce(i32) -> DomainResult<bool>,
    ) -> DomainResult<Caller> {
        let Some(token) = token else {
            return Ok(self.anonymous());
        };
        let claims = self.verify(token)?;
        let regency = match claims.regency {
            Some(code) => {
                let known = self
                    .regencies
                    .lock()
                    .ok()
                    .and_then(|m| m.get(&code).copied());
                let id = if let Some(id) = known {
                    id
                } else {
                    let id = regency_id(code.clone()).await?.ok_or_else(|| {
                        DomainError::Unauthenticated(format!(
                            "The token names regency {code}, which does not exist here."
                        ))
                    })?;
                    if let Ok(mut known) = self.regencies.lock() {
                        known.insert(code.clone(), id);
                    }
                    id
                };
                Some(RegencyGrant { id, code })
            }
            None => None,
        };
        if let Some(mentor) = claims.mentor {
            let known = self
                .mentors
                .lock()
                .is_ok_and(|known| known.contains(&mentor));
            if !known {
                if !mentor_exists(mentor).await? {
                    return Err(DomainError::Unauthenticated(format!(
                        "The token speaks for mentor {mentor}, who does not exist here."
                    )));
                }
                if let Ok(mut known) = self.mentors.lock() {
                    known.insert(mentor);
                }
            }
        }
        let expires_at = DateTime::from_timestamp(claims.exp, 0).ok_or_else(|| {
            DomainError::Unauthenticated(
                "The token's expiry (exp) lies beyond any date this server can hold; ask for a new token."
                    .to_owned(),
            )
        })?;
        Ok(Caller::user(User {
            subject: claims.sub,
            role: claims.role,
            regency,
            mentor: claims.mentor,
            expires_at,
        }))
    }
}

/// Reads RS256 verification keys: a PEM public key, or a JWKS document (`{"keys": [...]}`).
fn read_public_keys(path: &Path) -> anyhow::Result<Vec<PublicKey>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the token keys in {}", path.display()))?;
    if text.trim_start().starts_with('{') {
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JWKS document", path.display()))?;
        set.keys
            .iter()
            .map(|jwk| {
                Ok(PublicKey {
                    kid: jwk.common.key_id.clone(),
                    key: DecodingKey::from_jwk(jwk).context("a key of the JWKS document")?,
                })
            })
            .collect()
    } else {
        Ok(vec![PublicKey {
            kid: None,
            key: DecodingKey::from_rsa_pem(text.as_bytes())
                .with_context(|| format!("{} is not an RSA public key in PEM", path.display()))?,
        }])
    }
}

/// The bearer token of an `Authorization` header value (`Bearer …`, or the bare token).
pub fn bearer(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim(),
        Some(_) => return None,
        None if value.eq_ignore_ascii_case("bearer") => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_are_read_with_or_without_the_scheme() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("abc"), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn a_subject_is_a_plain_name_of_reasonable_length() {
        for good in [
            "rina@banjar.go.id",
            "Dr. Made Wirawan",
            "مدير",
            &"a".repeat(200),
        ] {
            assert_eq!(subject_problem(good), None, "{good}");
        }
        for bad in [
            "",
            "  ",
            "line\nbreak",
            "bell\u{7}",
            "admin\u{202E}nimda",
            "x\u{2066}y",
            &"a".repeat(201),
        ] {
            assert!(subject_problem(bad).is_some(), "{bad:?}");
        }
    }
}
