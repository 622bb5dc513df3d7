//! A most-recently-used store bounded in bytes as well as in entries, for what the server keeps
//! on a client's behalf (persisted query texts, parsed documents): however large or many the
//! texts an attacker sends, what is kept stays within its budget.

use std::{borrow::Borrow, hash::Hash, num::NonZeroUsize};

use lru::LruCache;

/// Values by key, the most recently used kept while their weights fit in `budget` bytes.
pub struct Kept<K: Hash + Eq, V> {
    entries: LruCache<K, (V, usize)>,
    bytes: usize,
    budget: usize,
}

impl<K: Hash + Eq, V> Kept<K, V> {
    /// At most `entries` values weighing at most `budget` bytes together.
    pub fn new(entries: usize, budget: usize) -> Self {
        Self {
            entries: LruCache::new(NonZeroUsize::new(entries.max(1)).unwrap_or(NonZeroUsize::MIN)),
            bytes: 0,
            budget,
        }
    }

    /// The value of `key`, now the most recently used; looked up by a borrowed form (`&str`
    /// for a `String` key), so a lookup allocates nothing.
    pub fn get<Q>(&mut self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.get(key).map(|(v, _)| v)
    }

    pub fn peek<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.entries.peek(key).map(|(v, _)| v)
    }

    /// Keeps `value`, weighing `weight` bytes, dropping the least recently used to make room;
    /// a value heavier than the whole budget is not kept. Whether it was kept.
    pub fn put(&mut self, key: K, value: V, weight: usize) -> bool {
        if weight > self.budget {
            return false;
        }
        if let Some((_, (_, old))) = self.entries.push(key, (value, weight)) {
            self.bytes -= old;
        }
        self.bytes += weight;
        while self.bytes > self.budget {
            match self.entries.pop_lru() {
                Some((_, (_, w))) => self.bytes -= w,
                None => break,
            }
        }
        true
    }

    /// The bytes kept now.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_budget_holds_whatever_is_put() {
        let mut kept = Kept::new(100, 1000);
        for i in 0..50 {
            assert!(kept.put(i, (), 300));
            assert!(kept.bytes() <= 1000);
        }
        assert_eq!(kept.len(), 3);
        assert!(kept.peek(&49).is_some() && kept.peek(&46).is_none());
        assert!(!kept.put(99, (), 1001), "heavier than the budget");
        assert!(kept.put(49, (), 10), "a key put again replaces its weight");
        assert_eq!(kept.bytes(), 610);
    }
}
