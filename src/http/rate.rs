//! Per-token and per-IP rate limits on GraphQL operations, with governor's GCRA limiters.
//! Each HTTP request and each WebSocket `subscribe` counts as one operation; a caller over its
//! limit gets RATE_LIMITED with `retryAfter` (seconds) instead of an answer.

use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use axum::{
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use governor::{
    DefaultKeyedRateLimiter, Quota, RateLimiter,
    clock::{Clock, DefaultClock},
};

use crate::error::ErrorCode;

/// The limits of one server.
pub struct RateLimits {
    per_token: Option<DefaultKeyedRateLimiter<String>>,
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    clock: DefaultClock,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits")
            .field("per_token", &self.per_token.is_some())
            .field("per_ip", &self.per_ip.is_some())
            .finish_non_exhaustive()
    }
}

impl RateLimits {
    /// Operations per minute per token and per client address (0: no limit). A client may
    /// spend a minute's worth at once, then one every `60 s / n`.
    pub fn new(per_token_per_minute: u32, per_ip_per_minute: u32) -> Self {
        Self {
            per_token: NonZeroU32::new(per_token_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            per_ip: NonZeroU32::new(per_ip_per_minute)
                .map(|n| RateLimiter::keyed(Quota::per_minute(n))),
            clock: DefaultClock::default(),
        }
    }

    /// Counts one operation of the token holder `token` (its subject) from `ip`; the time to
    /// wait when either is over its limit.
    pub fn check(&self, token: Option<&str>, ip: Option<IpAddr>) -> Result<(), Duration> {
        if let (Some(limiter), Some(ip)) = (&self.per_ip, ip) {
            limiter
                .check_key(&super::address::counted_as(ip))
                .map_err(|until| until.wait_time_from(self.clock.now()))?;
        }
        if let (Some(limiter), Some(token)) = (&self.per_token, token) {
            limiter
                .check_key(&token.to_owned())
                .map_err(|until| until.wait_time_from(self.clock.now()))?;
        }
        Ok(())
    }

    /// Forgets clients whose allowance is full again, so memory follows the active clients.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.per_token {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Whole seconds to wait, at least one.
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// The sentence of a refused operation.
pub fn message(wait: Duration) -> String {
    format!(
        "Too many requests; try again in {} s.",
        retry_after_secs(wait)
    )
}

/// 429 with `Retry-After` and the GraphQL error shape.
pub fn too_many(wait: Duration) -> Response {
    let secs = retry_after_secs(wait);
    let body = serde_json::json!({ "errors": [{
        "message": message(wait),
        "extensions": { "code": ErrorCode::RateLimited, "retryAfter": secs }
    }]});
    let mut response = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_waits_and_other_clients_do_not() {
        let limits = RateLimits::new(3, 0);
        for _ in 0..3 {
            assert!(limits.check(Some("siti"), None).is_ok());
        }
        let wait = limits
            .check(Some("siti"), None)
            .expect_err("over the limit");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20));
        assert!(limits.check(Some("budi"), None).is_ok());
        assert!(
            limits.check(None, None).is_ok(),
            "no token, no address: no key"
        );
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_secs(2)), 2);
    }
}
