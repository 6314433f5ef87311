//! A time-bucketed sliding window of call and failure counts.
//!
//! Recording is lock-free (two atomic operations) because it sits on every
//! protected call. A bucket that has fallen out of the window is recycled
//! under a short lock the first time a record lands in it again; totals are
//! only summed on the failure path, so no running total is kept.

use crate::core::clock::Nanos;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How many buckets every window has: the window slides in steps of span / 20.
pub const BUCKETS: usize = 20;

const FAILURE_ONE: u64 = 1 << 32;
const CALL_MASK: u64 = FAILURE_ONE - 1;

/// Calls and failures counted over the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Calls recorded (failures included).
    pub calls: u64,
    /// Failures among them.
    pub failures: u64,
}

/// One slice of the window: the slice number it holds (`epoch + 1`, 0 for
/// never used) and its counts packed as `failures << 32 | calls`.
#[derive(Debug, Default)]
struct Bucket {
    tag: AtomicU64,
    counts: AtomicU64,
}

/// The sliding window. See the module docs.
///
/// ```
/// use baldur::core::window::SlidingWindow;
/// use std::time::Duration;
/// let w = SlidingWindow::new(Duration::from_secs(10));
/// w.record(0, false);
/// w.record(1, true);
/// assert_eq!(w.totals(2).calls, 2);
/// assert_eq!(w.totals(2).failures, 1);
/// // Ten seconds later both have slid out.
/// assert_eq!(w.totals(10_000_000_001).calls, 0);
/// ```
#[derive(Debug)]
pub struct SlidingWindow {
    buckets: Box<[Bucket]>,
    /// What a shared store was already sent of each bucket, so counts reach
    /// it as deltas without a second counter on the call path.
    sent: Box<[Bucket]>,
    bucket_nanos: AtomicU64,
    recycle: Mutex<()>,
}

impl SlidingWindow {
    /// A window covering `span` (at least one nanosecond per bucket).
    pub fn new(span: Duration) -> Self {
        let buckets = (0..BUCKETS).map(|_| Bucket::default()).collect();
        let sent = (0..BUCKETS).map(|_| Bucket::default()).collect();
        Self {
            buckets,
            sent,
            bucket_nanos: AtomicU64::new(bucket_nanos(span)),
            recycle: Mutex::new(()),
        }
    }

    /// Changes the span and forgets every count.
    pub fn resize(&self, span: Duration) {
        let _guard = self.recycle.lock();
        self.bucket_nanos
            .store(bucket_nanos(span), Ordering::Relaxed);
        self.clear_locked();
    }

    /// Counts one call at `now`, as a failure or not.
    #[inline]
    pub fn record(&self, now: Nanos, failed: bool) {
        let epoch = now / self.bucket_nanos.load(Ordering::Relaxed);
        let tag = epoch + 1;
        let bucket = &self.buckets[(epoch % BUCKETS as u64) as usize];
        if bucket.tag.load(Ordering::Acquire) != tag {
            self.recycle(bucket, tag);
        }
        let add = if failed { FAILURE_ONE + 1 } else { 1 };
        bucket.counts.fetch_add(add, Ordering::Relaxed);
    }

    /// The counts of every bucket still inside the window at `now`.
    pub fn totals(&self, now: Nanos) -> Totals {
        let epoch = now / self.bucket_nanos.load(Ordering::Relaxed);
        let oldest_tag = (epoch + 1).saturating_sub(BUCKETS as u64 - 1);
        let newest_tag = epoch + 1;
        let mut totals = Totals::default();
        for bucket in self.buckets.iter() {
            let tag = bucket.tag.load(Ordering::Acquire);
            if tag >= oldest_tag && tag <= newest_tag {
                let counts = bucket.counts.load(Ordering::Relaxed);
                totals.calls += counts & CALL_MASK;
                totals.failures += counts >> 32;
            }
        }
        totals
    }

    /// Counts recorded since the last [`SlidingWindow::take_unsent`],
    /// without marking them sent.
    pub fn peek_unsent(&self) -> Totals {
        self.unsent(false)
    }

    /// Counts recorded since the last call, marked sent. One caller at a
    /// time (the sync task); a bucket recycled since holds only counts a
    /// whole window old, long since sent.
    pub fn take_unsent(&self) -> Totals {
        self.unsent(true)
    }

    fn unsent(&self, take: bool) -> Totals {
        // Taking holds the recycle lock: a bucket recycled (or the window
        // cleared) between reading its tag and its counts would pair the old
        // tag with new counts, and those counts would be sent twice.
        let _guard = take.then(|| self.recycle.lock());
        let mut totals = Totals::default();
        for (bucket, sent) in self.buckets.iter().zip(self.sent.iter()) {
            let tag = bucket.tag.load(Ordering::Acquire);
            let counts = bucket.counts.load(Ordering::Acquire);
            let already = if sent.tag.load(Ordering::Relaxed) == tag {
                sent.counts.load(Ordering::Relaxed)
            } else {
                0
            };
            totals.calls += (counts & CALL_MASK).saturating_sub(already & CALL_MASK);
            totals.failures += (counts >> 32).saturating_sub(already >> 32);
            if take {
                sent.tag.store(tag, Ordering::Relaxed);
                sent.counts.store(counts, Ordering::Relaxed);
            }
        }
        totals
    }

    /// Forgets every count.
    pub fn clear(&self) {
        let _guard = self.recycle.lock();
        self.clear_locked();
    }

    fn clear_locked(&self) {
        // What was sent goes too: a bucket reused under the same tag after a
        // clear would otherwise hide its new counts behind the old ones.
        for (bucket, sent) in self.buckets.iter().zip(self.sent.iter()) {
            bucket.counts.store(0, Ordering::Relaxed);
            bucket.tag.store(0, Ordering::Release);
            sent.counts.store(0, Ordering::Relaxed);
            sent.tag.store(0, Ordering::Relaxed);
        }
    }

    #[cold]
    fn recycle(&self, bucket: &Bucket, tag: Nanos) {
        let _guard = self.recycle.lock();
        // Another thread may have recycled it while we waited, or a newer
        // epoch may already own it (a caller stalled for a whole window).
        if bucket.tag.load(Ordering::Acquire) < tag {
            bucket.counts.store(0, Ordering::Relaxed);
            bucket.tag.store(tag, Ordering::Release);
        }
    }
}

fn bucket_nanos(span: Duration) -> u64 {
    let span = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
    (span / BUCKETS as u64).max(1)
}
