//! One table of the memory store: records by key, the keys' bytes kept
//! end to end in one buffer rather than one allocation each. A store of a
//! memory TTL's worth of keys then allocates nothing per claim (each
//! allocation otherwise reused a chunk a sweep had freed, far out of the
//! cache), and a sweep moves the surviving keys into the buffer the
//! previous sweep emptied.
//!
//! Laid out as indexmap is: the hash table holds only each entry's place
//! (four bytes), the entries lie in insertion order in a vector of their
//! own. A new key's lookup probes the small table, which stays in the cache
//! where a table of whole entries (megabytes) did not, and an insert
//! appends instead of writing a far-off place; an entry is read only when
//! its key is found.

use crate::core::clock::Nanos;
use crate::core::idempotency::store::{Owner, RecordState};
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
    /// Each entry's place in `slots`, found by its hash.
    places: HashTable<Place>,
    /// The entries, in the order they came (a removal moves the last one
    /// into the hole).
    slots: Vec<Slot>,
    keys: Vec<u8>,
    /// The buffer the last sweep moved keys out of, kept for the next
    /// sweep to move them into: a fresh buffer each sweep cost its pages'
    /// faults and zeroing, then a copy of the whole buffer as the next
    /// inserts outgrew its exact size.
    spare: Vec<u8>,
}

/// Where an entry lies, and its hash's high half: a probe that meets
/// another key's place (same 7-bit tag) tells it apart here instead of
/// reading the entry (a cache miss more than half the time a claim spent
/// looking a new key up).
#[derive(Debug, Clone, Copy)]
struct Place {
    at: u32,
    check: u32,
}

impl Place {
    fn of(at: u32, hash: u64) -> Self {
        Self {
            at,
            check: (hash >> 32) as u32,
        }
    }

    fn may_be(self, hash: u64) -> bool {
        self.check == (hash >> 32) as u32
    }
}

/// The table's key buffer would pass 4 GiB, or its entries 4 billion.
#[derive(Debug)]
pub(super) struct Full;

impl Table {
    pub(super) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(super) fn get_mut(&mut self, hash: u64, key: &[u8]) -> Option<&mut Record> {
        let (slots, keys) = (&mut self.slots, &self.keys);
        let place = *self.places.find(hash, |&place| {
            place.may_be(hash) && is(keys, &slots[place.at as usize], hash, key)
        })?;
        Some(&mut slots[place.at as usize].record)
    }

    /// Inserts a record for a key the table does not hold; its place.
    pub(super) fn insert(&mut self, hash: u64, key: &[u8], record: Record) -> Result<u32, Full> {
        if !self.has_room_for(1, key.len()) {
            return Err(Full);
        }
        Ok(self.insert_bytes(hash, key, record))
    }

    /// Whether the record at `place` is `owner`'s on a key hashed `hash`:
    /// where a claim's completion finds its record without a lookup (an
    /// owner token is drawn per claim, so no other record carries it).
    #[inline]
    pub(super) fn owns(&self, place: u32, hash: u64, owner: Owner) -> bool {
        self.slots
            .get(place as usize)
            .is_some_and(|slot| slot.hash == hash && slot.record.owner == owner)
    }

    /// The record at `place`, if there is one.
    #[inline]
    pub(super) fn record_at(&mut self, place: u32) -> Option<&mut Record> {
        self.slots
            .get_mut(place as usize)
            .map(|slot| &mut slot.record)
    }

    /// Whether `entries` more entries and `bytes` more bytes of keys still
    /// fit the 32-bit places and offsets.
    fn has_room_for(&self, entries: usize, bytes: usize) -> bool {
        self.keys.len().saturating_add(bytes) <= u32::MAX as usize
            && self.slots.len().saturating_add(entries) <= u32::MAX as usize
    }

    // Callers check `has_room_for` first, so places and offsets fit in 32 bits.
    fn insert_bytes(&mut self, hash: u64, key: &[u8], record: Record) -> u32 {
        let place = self.slots.len() as u32;
        self.slots.push(Slot {
            hash,
            at: self.keys.len() as u32,
            len: key.len() as u32,
            record,
        });
        self.keys.extend_from_slice(key);
        let slots = &self.slots;
        self.places
            .insert_unique(hash, Place::of(place, hash), |place| {
                slots[place.at as usize].hash
            });
        place
    }

    /// Removes the key's record if `remove` says so; its bytes stay in the
    /// buffer until the next sweep or clear.
    pub(super) fn remove_if(
        &mut self,
        hash: u64,
        key: &[u8],
        remove: impl FnOnce(&Record) -> bool,
    ) -> bool {
        let (slots, keys) = (&self.slots, &self.keys);
        let Ok(found) = self.places.find_entry(hash, |&place| {
            place.may_be(hash) && is(keys, &slots[place.at as usize], hash, key)
        }) else {
            return false;
        };
        let place = found.get().at as usize;
        if !remove(&slots[place].record) {
            return false;
        }
        found.remove();
        let last = self.slots.len() - 1;
        self.slots.swap_remove(place);
        if place != last {
            // The last entry moved into the hole: its place says so.
            let moved = self.slots[place].hash;
            if let Some(at) = self.places.find_mut(moved, |at| at.at as usize == last) {
                at.at = place as u32;
            }
        }
        true
    }

    /// Keeps the records `keep` says to, their keys moved into the spare
    /// buffer (what the dropped records' keys took is reused), and finds
    /// the survivors' new places.
    pub(super) fn retain(&mut self, mut keep: impl FnMut(&Record) -> bool) {
        let mut fresh = std::mem::take(&mut self.spare);
        fresh.clear();
        // At most what the old buffer held: grown once, not doubled through.
        fresh.reserve(self.keys.len());
        let old = std::mem::replace(&mut self.keys, fresh);
        let keys = &mut self.keys;
        self.slots.retain_mut(|slot| {
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
        self.places.clear();
        let slots = &self.slots;
        for (at, slot) in slots.iter().enumerate() {
            let place = Place::of(at as u32, slot.hash);
            self.places
                .insert_unique(slot.hash, place, |place| slots[place.at as usize].hash);
        }
    }

    /// Moves every record into `other` (which holds none of these keys),
    /// leaving this table empty with its memory kept for reuse. Nothing
    /// moves (false) when `other` has no room for them.
    pub(super) fn move_into(&mut self, other: &mut Table) -> bool {
        if !other.has_room_for(self.slots.len(), self.keys.len()) {
            return false;
        }
        let others = &other.slots;
        other
            .places
            .reserve(self.slots.len(), |place| others[place.at as usize].hash);
        other.slots.reserve(self.slots.len());
        other.keys.reserve(self.keys.len());
        for slot in self.slots.drain(..) {
            let key = &self.keys[slot.at as usize..(slot.at + slot.len) as usize];
            other.insert_bytes(slot.hash, key, slot.record);
        }
        self.places.clear();
        self.keys.clear();
        true
    }
}

fn is(keys: &[u8], slot: &Slot, hash: u64, key: &[u8]) -> bool {
    slot.hash == hash && &keys[slot.at as usize..(slot.at + slot.len) as usize] == key
}
