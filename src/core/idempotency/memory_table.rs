//! One table of the memory store: records by key, the keys' bytes kept
//! end to end in one buffer rather than one allocation each. A store of a
//! memory TTL's worth of keys then allocates nothing per claim (each
//! allocation otherwise reused a chunk a sweep had freed, far out of the
//! cache), and a sweep moves the surviving keys into a fresh buffer.

use crate::core::clock::Nanos;
use crate::core::idempotency::store::{Owner, RecordState};
use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

/// What the store knows of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    pub(super) owner: Owner,
    /// The payload's fingerprint; meaningful only when `has_fingerprint`.
    pub(super) fingerprint: u64,
    /// When the record stops counting: the execution window's end for a
    /// running claim, the memory TTL's end for a completed one.
    pub(super) expires_at: Nanos,
    pub(super) has_fingerprint: bool,
    pub(super) state: RecordState,
}

impl Record {
    pub(super) fn fingerprint(&self) -> Option<u64> {
        self.has_fingerprint.then_some(self.fingerprint)
    }
}

/// A record and where its key lies in the table's buffer.
#[derive(Debug)]
struct Slot {
    hash: u64,
    at: u32,
    len: u32,
    record: Record,
}

/// Records by key (hashed by the caller, with the store's seed).
#[derive(Debug, Default)]
pub(super) struct Table {
    slots: HashTable<Slot>,
    keys: Vec<u8>,
    /// The buffer the last sweep moved keys out of, kept for the next
    /// sweep to move them into: a fresh buffer each sweep cost its pages'
    /// faults and zeroing, then a copy of the whole buffer as the next
    /// inserts outgrew its exact size.
    spare: Vec<u8>,
}

/// The table's key buffer would pass 4 GiB.
#[derive(Debug)]
pub(super) struct Full;

impl Table {
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Record> {
        let keys = &self.keys;
        self.slots
            .find_mut(hash, |slot| is(keys, slot, hash, key))
            .map(|slot| &mut slot.record)
    }

    /// Inserts a record for a key the table does not hold.
    pub(super) fn insert(&mut self, hash: u64, key: &[u8], record: Record) -> Result<(), Full> {
        if !self.has_room_for(key.len()) {
            return Err(Full);
        }
        self.insert_bytes(hash, key, record);
        Ok(())
    }

    /// Whether `more` bytes of keys still fit the buffer's 32-bit offsets.
    pub(super) fn has_room_for(&self, more: usize) -> bool {
        self.keys.len().saturating_add(more) <= u32::MAX as usize
    }

    // Callers check `has_room_for` first, so the offsets fit in 32 bits.
    fn insert_bytes(&mut self, hash: u64, key: &[u8], record: Record) {
        let slot = Slot {
            hash,
            at: self.keys.len() as u32,
            len: key.len() as u32,
            record,
        };
        self.keys.extend_from_slice(key);
        self.slots.insert_unique(hash, slot, |slot| slot.hash);
    }

    /// Removes the key's record if `remove` says so; its bytes stay in the
    /// buffer until the next sweep or clear.
    pub(super) fn remove_if(
        &mut self,
        hash: u64,
        key: &[u8],
        remove: impl FnOnce(&Record) -> bool,
    ) -> bool {
        let keys = &self.keys;
        match self
            .slots
            .entry(hash, |slot| is(keys, slot, hash, key), |slot| slot.hash)
        {
            Entry::Occupied(found) if remove(&found.get().record) => {
                found.remove();
                true
            }
            _ => false,
        }
    }

    /// Keeps the records `keep` says to, their keys moved into the spare
    /// buffer (what the dropped records' keys took is reused).
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Record) -> bool) {
        let mut fresh = std::mem::take(&mut self.spare);
        fresh.clear();
        // At most what the old buffer held: grown once, not doubled through.
        fresh.reserve(self.keys.len());
        let old = std::mem::replace(&mut self.keys, fresh);
        let keys = &mut self.keys;
        self.slots.retain(|slot| {
            if !keep(&slot.record) {
                return false;
            }
            let bytes = &old[slot.at as usize..(slot.at + slot.len) as usize];
            // Within 4 GiB: the same bytes fit in the old buffer.
            slot.at = keys.len() as u32;
            keys.extend_from_slice(bytes);
            true
        });
        self.spare = old;
    }

    /// Moves every record into `other` (which holds none of these keys),
    /// leaving this table empty with its memory kept for reuse. Nothing
    /// moves (false) when `other`'s buffer has no room for these keys.
    pub(super) fn move_into(&mut self, other: &mut Table) -> bool {
        if !other.has_room_for(self.keys.len()) {
            return false;
        }
        // A first pass only looks each place up: the lookups are independent,
        // so their cache misses overlap, and the inserts then find their
        // places in the cache instead of stalling on each in turn.
        for slot in self.slots.iter() {
            std::hint::black_box(other.slots.find(slot.hash, |_| false).is_some());
        }
        other.slots.reserve(self.slots.len(), |slot| slot.hash);
        other.keys.reserve(self.keys.len());
        for slot in self.slots.drain() {
            let key = &self.keys[slot.at as usize..(slot.at + slot.len) as usize];
            other.insert_bytes(slot.hash, key, slot.record);
        }
        self.keys.clear();
        true
    }
}

fn is(keys: &[u8], slot: &Slot, hash: u64, key: &[u8]) -> bool {
    slot.hash == hash && &keys[slot.at as usize..(slot.at + slot.len) as usize] == key
}
