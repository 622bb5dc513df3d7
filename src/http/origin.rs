//! Which browser origins may open a WebSocket or an event stream: the server's own origin
//! always, others only when listed for CORS. Clients that send no Origin (curl, servers,
//! native apps) are not browsers and pass.

use axum::http::{HeaderMap, header};

/// Whether the request is for a name this server answers to: an IP address, `localhost`, or a
/// configured host name (`*`: any). A request without a Host header is no browser's.
pub fn host_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = host_name(host);
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<std::net::IpAddr>().is_ok()
        || allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(name))
}

/// The name in a Host header, without the port (and without the brackets of an IPv6 address).
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

/// Whether the request's Origin may use live connections.
pub fn allowed(headers: &HeaderMap, cors_origins: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let origin = origin.trim().trim_end_matches('/');
    if cors_origins
        .iter()
        .map(|o| o.trim().trim_end_matches('/'))
        .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    {
        return true;
    }
    // Same origin: the Origin's host and port are the Host the request was sent to.
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|host| host.eq_ignore_ascii_case(authority))
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(origin) = origin {
            headers.insert(header::ORIGIN, HeaderValue::from_static(origin));
        }
        headers
    }

    #[test]
    fn only_addresses_localhost_and_listed_names_are_served() {
        let allowed = vec!["labinov.banjarkab.go.id".to_owned()];
        assert!(host_allowed(&headers(None, "127.0.0.1:8080"), &[]));
        assert!(host_allowed(&headers(None, "[::1]:8080"), &[]));
        assert!(host_allowed(&headers(None, "localhost:8080"), &[]));
        assert!(host_allowed(
            &headers(None, "labinov.banjarkab.go.id"),
            &allowed
        ));
        assert!(!host_allowed(&headers(None, "evil.example:8080"), &allowed));
        assert!(host_allowed(
            &headers(None, "evil.example"),
            &["*".to_owned()]
        ));
    }

    #[test]
    fn same_origin_and_listed_origins_pass_others_do_not() {
        let listed = vec!["https://dasbor.banjarkab.go.id".to_owned()];
        assert!(allowed(&headers(None, "127.0.0.1:8080"), &[]));
        assert!(allowed(
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080"),
            &[]
        ));
        assert!(allowed(
            &headers(Some("https://dasbor.banjarkab.go.id"), "api:8080"),
            &listed
        ));
        assert!(!allowed(
            &headers(Some("http://evil.example"), "127.0.0.1:8080"),
            &listed
        ));
        assert!(!allowed(&headers(Some("null"), "127.0.0.1:8080"), &[]));
        assert!(!allowed(
            &headers(Some("http://127.0.0.1:9999"), "127.0.0.1:8080"),
            &[]
        ));
    }
}
