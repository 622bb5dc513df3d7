//! Who a client is on the network, and what one client address may hold at once.
//!
//! The client's address is the TCP peer's, unless the peer is one of the operator's
//! `--trusted-proxies`: then it is the address that proxy put in `X-Forwarded-For` (the
//! rightmost one not itself a trusted proxy) or `Forwarded: for=`. From anyone else those
//! headers are ignored, so a client cannot pass for another. IPv6 clients are counted by their
//! /64 network, the block one subscriber line gets.
//!
//! [`AddressSlots`] caps, per client address, the open connections, the open streams (every
//! WebSocket and every SSE stream, over HTTP/1.1 and HTTP/2 alike) and the running
//! subscriptions, so one address cannot take every slot of the server.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv6Addr},
    sync::{Arc, Mutex, PoisonError},
};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The address a request is counted by: the client's, as the accept loop worked it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// The proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> Self {
        Self(networks)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer`, or when `peer` is a trusted proxy the address it forwards.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.contains(peer) {
            return peer;
        }
        // X-Forwarded-For lists the hops in order; each proxy appends the address it saw. The
        // rightmost one not a trusted proxy is the first the operator's network did not make.
        let forwarded_for: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|part| parse_node(part.trim()))
            .collect();
        let forwarded: Vec<IpAddr> = headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then(|| parse_node(value.trim().trim_matches('"')))
                        .flatten()
                })
            })
            .collect();
        let hops = if forwarded_for.is_empty() {
            forwarded
        } else {
            forwarded_for
        };
        hops.into_iter()
            .rev()
            .find(|ip| !self.contains(*ip))
            .unwrap_or(peer)
    }
}

/// An address as a proxy writes it: `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:80` or
/// `2001:db8::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = text.parse::<std::net::SocketAddr>() {
        return Some(socket.ip());
    }
    text.strip_prefix('[')
        .and_then(|rest| rest.split(']').next())
        .and_then(|ip| ip.parse().ok())
}

/// An IPv4 address mapped into IPv6 is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// What a client is counted by: its IPv4 address, or its IPv6 /64.
pub fn counted_as(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 @ IpAddr::V4(_) => v4,
    }
}

/// What one address may hold at once; 0 means no cap.
#[derive(Debug, Clone, Copy)]
pub struct PerAddress {
    pub connections: usize,
    pub streams: usize,
    pub subscriptions: usize,
}

/// A kind of thing an address holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    Connection,
    Stream,
    Subscription,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    connections: usize,
    streams: usize,
    subscriptions: usize,
}

impl Counts {
    fn of(&mut self, holding: Holding) -> &mut usize {
        match holding {
            Holding::Connection => &mut self.connections,
            Holding::Stream => &mut self.streams,
            Holding::Subscription => &mut self.subscriptions,
        }
    }

    fn is_empty(&self) -> bool {
        self.connections == 0 && self.streams == 0 && self.subscriptions == 0
    }
}

/// The connections, streams and subscriptions each address holds, against the caps.
#[derive(Debug)]
pub struct AddressSlots {
    caps: PerAddress,
    held: Mutex<HashMap<IpAddr, Counts>>,
}

/// One place held by an address; given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<AddressSlots>,
    address: IpAddr,
    holding: Holding,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self
            .slots
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(counts) = held.get_mut(&self.address) {
            let n = counts.of(self.holding);
            *n = n.saturating_sub(1);
            if counts.is_empty() {
                held.remove(&self.address);
            }
        }
    }
}

impl AddressSlots {
    pub fn new(caps: PerAddress) -> Arc<Self> {
        Arc::new(Self {
            caps,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// The cap on one kind of holding (0: none).
    pub fn cap(&self, holding: Holding) -> usize {
        match holding {
            Holding::Connection => self.caps.connections,
            Holding::Stream => self.caps.streams,
            Holding::Subscription => self.caps.subscriptions,
        }
    }

    /// A place of `holding` for `ip`, or None when the address holds its cap already.
    pub fn take(self: &Arc<Self>, ip: IpAddr, holding: Holding) -> Option<Slot> {
        let address = counted_as(ip);
        let cap = self.cap(holding);
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let n = held.entry(address).or_default().of(holding);
        if cap != 0 && *n >= cap {
            if held.get(&address).is_some_and(Counts::is_empty) {
                held.remove(&address);
            }
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: self.clone(),
            address,
            holding,
        })
    }

    /// How many of `holding` the address of `ip` holds now.
    pub fn holding(&self, ip: IpAddr, holding: Holding) -> usize {
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.get(&counted_as(ip))
            .map_or(0, |c| *Counts::clone(c).of(holding))
    }

    /// How many addresses hold anything (for tests: nothing is left behind).
    pub fn addresses(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).expect("a name"),
                v.parse().expect("a value"),
            );
        }
        map
    }

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().expect("a network")]);
        let proxy: IpAddr = "10.1.2.3".parse().expect("an address");
        let stranger: IpAddr = "203.0.113.9".parse().expect("an address");
        let forged = headers(&[("x-forwarded-for", "198.51.100.7")]);
        assert_eq!(proxies.client(stranger, &forged), stranger);
        assert_eq!(
            proxies.client(proxy, &forged),
            "198.51.100.7".parse::<IpAddr>().expect("an address")
        );
        // A client's own X-Forwarded-For before the proxy's is not believed.
        let chained = headers(&[("x-forwarded-for", "1.1.1.1, 198.51.100.7, 10.9.9.9")]);
        assert_eq!(
            proxies.client(proxy, &chained),
            "198.51.100.7".parse::<IpAddr>().expect("an address")
        );
        let rfc = headers(&[("forwarded", r#"for="[2001:db8::7]:443";proto=https"#)]);
        assert_eq!(
            proxies.client(proxy, &rfc),
            "2001:db8::7".parse::<IpAddr>().expect("an address")
        );
        assert_eq!(proxies.client(proxy, &HeaderMap::new()), proxy);
    }

    #[test]
    fn an_address_holds_at_most_its_cap_and_gets_places_back() {
        let slots = AddressSlots::new(PerAddress {
            connections: 2,
            streams: 0,
            subscriptions: 1,
        });
        let a: IpAddr = "192.0.2.1".parse().expect("an address");
        let b: IpAddr = "192.0.2.2".parse().expect("an address");
        let first = slots.take(a, Holding::Connection).expect("a place");
        let _second = slots.take(a, Holding::Connection).expect("a place");
        assert!(slots.take(a, Holding::Connection).is_none());
        assert!(slots.take(b, Holding::Connection).is_some());
        drop(first);
        assert!(slots.take(a, Holding::Connection).is_some());
        let held: Vec<_> = (0..50)
            .filter_map(|_| slots.take(a, Holding::Stream))
            .collect();
        assert_eq!(held.len(), 50, "0 is no cap");
        drop(held);
        // Every address of one IPv6 /64 is one client.
        let v6a: IpAddr = "2001:db8:1:2::1".parse().expect("an address");
        let v6b: IpAddr = "2001:db8:1:2:ffff::9".parse().expect("an address");
        let _sub = slots.take(v6a, Holding::Subscription).expect("a place");
        assert!(slots.take(v6b, Holding::Subscription).is_none());
    }

    #[test]
    fn nothing_is_left_behind_once_every_place_is_given_back() {
        let slots = AddressSlots::new(PerAddress {
            connections: 5,
            streams: 5,
            subscriptions: 5,
        });
        let a: IpAddr = "192.0.2.1".parse().expect("an address");
        let held =
            [Holding::Connection, Holding::Stream, Holding::Subscription].map(|h| slots.take(a, h));
        assert_eq!(slots.addresses(), 1);
        drop(held);
        assert_eq!(slots.addresses(), 0);
    }
}
