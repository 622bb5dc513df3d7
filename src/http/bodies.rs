//! Request bodies in flight. A GraphQL-over-HTTP body is read whole before it runs (up to the
//! body limit, 4 MiB: a CSV import), so a client holding many connections each sending a large
//! body slowly would hold that memory for each. Every POST takes its declared length (or the
//! body limit, when it declares none) from two budgets before its body is read: its address's
//! and the server's. Past the first it gets 429, past the second 503; either way its body is
//! never read.
//!
//! What a body becomes once parsed is bounded too: a JSON value takes a hundred-odd bytes parsed,
//! so a body of tiny values (`[0,0,0,…]`) would take some 90 times its size. A GraphQL body or
//! WebSocket message holds at most [`MAX_JSON_VALUES`], counted before it is parsed.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most values (numbers, strings, lists, objects and their members) the JSON of one request
/// body or WebSocket message may hold: some 6 MB once parsed. The largest request the query
/// limits admit (lists of 1,000, 100 input objects) holds a few thousand.
pub const MAX_JSON_VALUES: usize = 65_536;

/// Whether the JSON text `json` holds at most `max` values, counted without parsing it: each
/// comma and opening bracket outside strings, which is never fewer than its values less one (a
/// list or object of k members has one bracket and k - 1 commas). Text that is not JSON is left
/// for the parser to refuse.
pub fn json_values_within(json: &[u8], max: usize) -> bool {
    let (mut count, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in json {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b',' | b'[' | b'{' => {
                count += 1;
                if count > max {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

/// Which budget a body did not fit in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Over {
    /// The client's address has this many bytes in flight already.
    Address(usize),
    /// The whole server has this many bytes in flight already.
    Server(usize),
}

/// The bytes of request bodies in flight, per address and in all.
#[derive(Debug)]
pub struct BodyBudget {
    /// KiB of the server's budget.
    total: Arc<Semaphore>,
    total_bytes: usize,
    per_address: usize,
    held: Mutex<HashMap<IpAddr, usize>>,
}

/// A body's place in the budgets, given back when dropped.
#[derive(Debug)]
pub struct BodyPlace {
    _permit: Option<OwnedSemaphorePermit>,
    budget: Arc<BodyBudget>,
    address: Option<IpAddr>,
    bytes: usize,
}

impl Drop for BodyPlace {
    fn drop(&mut self) {
        let Some(address) = self.address else {
            return;
        };
        let mut held = self
            .budget
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = held.get_mut(&address) {
            *n = n.saturating_sub(self.bytes);
            if *n == 0 {
                held.remove(&address);
            }
        }
    }
}

impl BodyBudget {
    /// At most `per_address` bytes of bodies in flight from one address and `total` from all
    /// (0: no budget).
    pub fn new(per_address: usize, total: usize) -> Arc<Self> {
        Arc::new(Self {
            total: Arc::new(Semaphore::new((total / 1024).min(Semaphore::MAX_PERMITS))),
            total_bytes: total,
            per_address,
            held: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a body of `bytes` from `address` (None: an in-process call).
    pub fn take(
        self: &Arc<Self>,
        address: Option<IpAddr>,
        bytes: usize,
    ) -> Result<BodyPlace, Over> {
        let address = address.map(super::address::counted_as);
        if let Some(ip) = address
            && self.per_address != 0
        {
            let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
            let now = held.get(&ip).copied().unwrap_or_default();
            // One body always fits, however large: the body limit bounds it.
            if now != 0 && now + bytes > self.per_address {
                return Err(Over::Address(now));
            }
            *held.entry(ip).or_default() += bytes;
        }
        let place = |permit| BodyPlace {
            _permit: permit,
            budget: self.clone(),
            address: if self.per_address == 0 { None } else { address },
            bytes,
        };
        if self.total_bytes == 0 {
            return Ok(place(None));
        }
        // A body larger than the whole budget takes all of it: alone, it still fits.
        let kib = bytes
            .div_ceil(1024)
            .clamp(1, (self.total_bytes / 1024).max(1));
        let kib = u32::try_from(kib).unwrap_or(u32::MAX);
        if let Ok(permit) = self.total.clone().try_acquire_many_owned(kib) {
            return Ok(place(Some(permit)));
        }
        // Give back the address's share taken above.
        drop(place(None));
        Err(Over::Server(
            self.total_bytes
                .saturating_sub(self.total.available_permits() * 1024),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values serde_json finds in `json`, counted by walking what it parsed.
    fn parsed_values(json: &str) -> usize {
        fn count(value: &serde_json::Value) -> usize {
            1 + match value {
                serde_json::Value::Array(items) => items.iter().map(count).sum(),
                serde_json::Value::Object(members) => members.values().map(count).sum(),
                _ => 0,
            }
        }
        count(&serde_json::from_str(json).expect("JSON"))
    }

    #[test]
    fn json_values_are_counted_as_many_as_parsed_and_strings_hide_none() {
        for json in [
            r#"{"query":"{ ideas(first: 2) { nodes { id } } }","variables":{"a":[1,2,3],"b":{}}}"#,
            r#"[[],[[]],{"x":[{},{"y":null}]}]"#,
            r#""a string, with: [brackets] and {braces} and \"quotes\" \\""#,
            r#"{"\",:[{":"\\","k[":[0,0]}"#,
            "0",
        ] {
            let values = parsed_values(json);
            // Empty lists and objects count twice at most.
            assert!(json_values_within(json.as_bytes(), 2 * values), "{json}");
            // Never fewer counted than parsed, less one.
            if values > 1 {
                assert!(!json_values_within(json.as_bytes(), values - 2), "{json}");
            }
        }
        let zeros = format!("[{}0]", "0,".repeat(MAX_JSON_VALUES));
        assert!(!json_values_within(zeros.as_bytes(), MAX_JSON_VALUES));
        let text = format!(r#"{{"query":"{}"}}"#, "{,:[".repeat(MAX_JSON_VALUES));
        assert!(json_values_within(text.as_bytes(), MAX_JSON_VALUES));
    }

    #[test]
    fn an_address_holds_at_most_its_budget_and_gets_it_back() {
        let budget = BodyBudget::new(10_000, 1 << 20);
        let a: IpAddr = "192.0.2.1".parse().expect("an address");
        let b: IpAddr = "192.0.2.2".parse().expect("an address");
        let first = budget.take(Some(a), 6_000).expect("fits");
        assert_eq!(
            budget.take(Some(a), 6_000).err(),
            Some(Over::Address(6_000))
        );
        let _other = budget
            .take(Some(b), 6_000)
            .expect("another address has its own");
        drop(first);
        let _again = budget.take(Some(a), 6_000).expect("given back");
        // A single body larger than the address's budget still fits when it is alone.
        let c: IpAddr = "192.0.2.3".parse().expect("an address");
        assert!(budget.take(Some(c), 50_000).is_ok());
    }

    #[test]
    fn the_server_budget_holds_for_every_address_together() {
        let budget = BodyBudget::new(0, 64 * 1024);
        let held: Vec<_> = (0..4)
            .filter_map(|i| {
                budget
                    .take(Some(IpAddr::from([192, 0, 2, i])), 16 * 1024)
                    .ok()
            })
            .collect();
        assert_eq!(held.len(), 4);
        assert!(matches!(
            budget.take(Some(IpAddr::from([192, 0, 2, 9])), 1024),
            Err(Over::Server(_))
        ));
        drop(held);
        assert!(budget.take(None, 1024).is_ok());
        assert!(
            budget.take(None, 4 << 20).is_ok(),
            "alone, a body larger than the budget fits"
        );
    }
}
