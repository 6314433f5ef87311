//! Group commit: writers that arrive while a durable commit runs share the
//! next one, so N concurrent writers cost about one fsync per round instead
//! of N in a row.
//!
//! Leader and followers, no thread of its own (so nothing to restart after a
//! fork or to stop at exit): a writer queues its request; the first one to
//! find no commit running becomes the leader, takes everything queued and
//! commits it as one batch, outside the queue's lock. The others wait and
//! find their own result when the leader is done; whoever still waits when
//! the commit ends (it arrived too late for that batch) leads the next one.
//! Every writer returns only once the batch holding its request committed.

use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;

/// The queue of requests waiting for a commit. `R` is a request, `T` its
/// result; see the module docs.
///
/// ```
/// use baldur::core::dlq::group_commit::GroupCommit;
/// let group = GroupCommit::new();
/// let doubled = group.submit(21, |batch: Vec<i32>| batch.iter().map(|n| n * 2).collect());
/// assert_eq!(doubled, Some(42));
/// ```
#[derive(Debug)]
pub struct GroupCommit<R, T> {
    state: Mutex<State<R, T>>,
    /// Signalled whenever a commit ends.
    ended: Condvar,
}

#[derive(Debug)]
struct State<R, T> {
    /// Requests no commit has taken yet, with their tickets.
    queued: Vec<(u64, R)>,
    /// Results not yet picked up, by ticket: `None` when the commit that
    /// took the request never finished (its leader panicked).
    done: HashMap<u64, Option<T>>,
    /// A leader is committing now.
    committing: bool,
    next_ticket: u64,
}

impl<R, T> Default for GroupCommit<R, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<R, T> GroupCommit<R, T> {
    /// An empty queue.
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State {
                queued: Vec::new(),
                done: HashMap::new(),
                committing: false,
                next_ticket: 0,
            }),
            ended: Condvar::new(),
        }
    }

    /// Requests queued that no commit has taken yet.
    pub fn waiting(&self) -> usize {
        self.state.lock().queued.len()
    }

    /// Queues `request` and returns its result once a commit took it.
    /// `commit` gets a batch (this request and whatever else was queued, in
    /// arrival order) and answers one result per request, in that order;
    /// it runs on whichever caller leads that batch, with no lock of this
    /// queue held. `None`: the leader committing this request panicked.
    pub fn submit(&self, request: R, commit: impl FnOnce(Vec<R>) -> Vec<T>) -> Option<T> {
        let mut state = self.state.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.queued.push((ticket, request));
        let mut commit = Some(commit);
        loop {
            if let Some(result) = state.done.remove(&ticket) {
                return result;
            }
            if state.committing {
                self.ended.wait(&mut state);
                continue;
            }
            // No commit running and ours not done: lead the next batch (a
            // caller leads at most once: its own request is in this batch).
            let Some(commit) = commit.take() else {
                return None; // unreachable: a batch we led answered us
            };
            state.committing = true;
            let (tickets, requests): (Vec<u64>, Vec<R>) =
                std::mem::take(&mut state.queued).into_iter().unzip();
            drop(state);
            let mut leading = Leading {
                group: self,
                tickets,
                results: None,
            };
            leading.results = Some(commit(requests));
            drop(leading);
            state = self.state.lock();
        }
    }
}

/// Ends a batch, on the way out of its leader even when `commit` panicked:
/// each request gets its result (`None` without one), and a waiter may
/// lead the next batch.
struct Leading<'a, R, T> {
    group: &'a GroupCommit<R, T>,
    tickets: Vec<u64>,
    results: Option<Vec<T>>,
}

impl<R, T> Drop for Leading<'_, R, T> {
    fn drop(&mut self) {
        let mut results = self.results.take().unwrap_or_default().into_iter();
        let mut state = self.group.state.lock();
        for ticket in &self.tickets {
            state.done.insert(*ticket, results.next());
        }
        state.committing = false;
        self.group.ended.notify_all();
    }
}
