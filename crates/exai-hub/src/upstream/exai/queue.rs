//! Fair queueing of calls waiting for a free pooled connection.
//!
//! Each session has its own FIFO. The next call comes from the waiting session that was served
//! least recently, so one window's burst of calls cannot starve another window's single call.
//! Owned by the pool manager task; no locking.

use exai_proto::SessionId;
use std::collections::{HashMap, VecDeque};

/// Per-session FIFOs, served round-robin by least recent service.
#[derive(Debug)]
pub(crate) struct FairQueue<T> {
    waiting: HashMap<SessionId, SessionQueue<T>>,
    /// When each session was last served (a `clock` value). Kept after a session's FIFO empties:
    /// a session whose one call was sent at once and that then queues a burst must still rank
    /// behind a session that was never served.
    last_served: HashMap<SessionId, u64>,
    /// Incremented on every push and pop.
    clock: u64,
    len: usize,
}

#[derive(Debug)]
struct SessionQueue<T> {
    items: VecDeque<T>,
    /// When the session started waiting; breaks ties in arrival order.
    waiting_since: u64,
}

/// Service history beyond this many sessions is pruned (oldest first).
const HISTORY_LIMIT: usize = 1024;

impl<T> Default for FairQueue<T> {
    fn default() -> FairQueue<T> {
        FairQueue {
            waiting: HashMap::new(),
            last_served: HashMap::new(),
            clock: 0,
            len: 0,
        }
    }
}

impl<T> FairQueue<T> {
    /// Calls waiting in all sessions.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn session_queue(&mut self, session: SessionId) -> &mut SessionQueue<T> {
        self.clock += 1;
        let clock = self.clock;
        self.waiting.entry(session).or_insert_with(|| SessionQueue {
            items: VecDeque::new(),
            waiting_since: clock,
        })
    }

    /// Appends `item` to `session`'s FIFO.
    pub(crate) fn push(&mut self, session: SessionId, item: T) {
        self.session_queue(session).items.push_back(item);
        self.len += 1;
    }

    /// Puts `item` back at the front of `session`'s FIFO (a call that was never sent).
    pub(crate) fn push_front(&mut self, session: SessionId, item: T) {
        self.session_queue(session).items.push_front(item);
        self.len += 1;
    }

    /// The next call: the head of the waiting session served least recently.
    pub(crate) fn pop(&mut self) -> Option<T> {
        let session = *self
            .waiting
            .iter()
            .min_by_key(|(session, queue)| {
                let last_served = self.last_served.get(session).copied().unwrap_or(0);
                (last_served, queue.waiting_since)
            })
            .map(|(session, _)| session)?;
        self.clock += 1;
        let queue = self.waiting.get_mut(&session)?;
        let item = queue.items.pop_front();
        if queue.items.is_empty() {
            self.waiting.remove(&session);
        }
        self.last_served.insert(session, self.clock);
        if self.last_served.len() > HISTORY_LIMIT {
            let mut served: Vec<u64> = self.last_served.values().copied().collect();
            served.sort_unstable();
            let cutoff = served[served.len() / 2];
            let waiting = &self.waiting;
            self.last_served
                .retain(|session, served| *served >= cutoff || waiting.contains_key(session));
        }
        if item.is_some() {
            self.len -= 1;
        }
        item
    }

    /// Removes and returns every waiting call.
    pub(crate) fn drain(&mut self) -> Vec<T> {
        self.len = 0;
        self.waiting
            .drain()
            .flat_map(|(_, queue)| queue.items)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newcomer_is_served_before_a_busy_sessions_backlog() {
        let (a, b) = (SessionId(1), SessionId(2));
        let mut queue = FairQueue::default();
        for n in 0..5 {
            queue.push(a, ("a", n));
        }
        assert_eq!(queue.pop(), Some(("a", 0)));
        queue.push(b, ("b", 0));
        assert_eq!(queue.pop(), Some(("b", 0)));
        assert_eq!(queue.pop(), Some(("a", 1)));
        assert_eq!(queue.len(), 3);
    }

    #[test]
    fn a_session_served_at_once_still_ranks_behind_a_newcomer() {
        let (a, b) = (SessionId(1), SessionId(2));
        let mut queue = FairQueue::default();
        queue.push(a, ("a", 0));
        assert_eq!(queue.pop(), Some(("a", 0)));
        for n in 1..5 {
            queue.push(a, ("a", n));
        }
        queue.push(b, ("b", 0));
        assert_eq!(queue.pop(), Some(("b", 0)));
        assert_eq!(queue.pop(), Some(("a", 1)));
    }

    #[test]
    fn sessions_alternate() {
        let (a, b) = (SessionId(1), SessionId(2));
        let mut queue = FairQueue::default();
        for n in 0..3 {
            queue.push(a, ("a", n));
            queue.push(b, ("b", n));
        }
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(
            order,
            [("a", 0), ("b", 0), ("a", 1), ("b", 1), ("a", 2), ("b", 2)]
        );
        queue.push_front(a, ("a", 9));
        assert_eq!(queue.drain(), vec![("a", 9)]);
        assert_eq!(queue.len(), 0);
    }
}
