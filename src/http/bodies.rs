//! Request bodies in flight. A GraphQL-over-HTTP body is read whole before it runs (up to the
//! body limit, 4 MiB: a CSV import), so a client holding many connections each sending a large
//! body slowly would hold that memory for each. Every POST takes its declared length (or the
//! body limit, when it declares none) from two budgets before its body is read: its address's
//! and the server's. Past the first it gets 429, past the second 503; either way its body is
//! never read.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex, PoisonError},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
