//! How many requests an endpoint serves at once, learned from how it behaves (adaptive
//! concurrency, as TCP finds a path's capacity): one [`Capacity`] per endpoint URL, shared by
//! every request of the process.
//!
//! Where the number is known (the server's `/props` says it, the user set it, a preset's own
//! endpoint, or an earlier run learned it) requests start there. Where it is not, the first
//! request goes alone and each request the server starts generating for (its first text) lets one
//! more go (slow start: the number in flight doubles every round, so a server that takes many
//! has them all within a few first tokens). A response head is no evidence: llama-cpp-python's
//! server sends it before the request's turn, then cuts the request that holds the slot.
//!
//! A *capacity signal* is a stream the server cut while others were in flight (`[DONE]` without a
//! finish reason, an empty answer ended as if complete, a reset), a 429 or a 503. On one, the
//! limit becomes half of what is in flight (at least 1), once per round (signals from requests
//! sent before the cut do not halve again), and the level that cut is remembered: growth, one more
//! per round of successes, stops below it for a day. A cut stream goes back in the queue without
//! spending its attempts (see `openai`). A stream cut while it ran alone is no capacity signal: it
//! is a failure of its own.
//!
//! The same state knows whether the endpoint is reachable at all: a refused connection marks it
//! down for a few seconds, and sections not yet sent fail at once as "not sent" instead of each
//! finding out on its own.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::memory::{self, CUT_TTL, Memory};

/// How long an endpoint that refused connections is taken as down.
pub const DOWN_FOR: Duration = Duration::from_secs(10);
/// How soon after that one request tries it again.
pub const HALF_OPEN_AFTER: Duration = Duration::from_secs(1);

/// Where the limit in force comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The server says it serves this many at once (llama.cpp's `/props`).
    Server,
    /// The user's setting or the preset's.
    Setting,
    /// Learned from the server's behaviour (this run or an earlier one).
    Learned,
    /// Still learning: growing from 1 with each response head.
    Learning,
}

/// How a [`Capacity`] starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initial {
    /// At most this many at once is known to be fine (`None`: no limit of its own).
    Known(Option<usize>),
    /// Nothing is known: start from what is remembered, else from 1.
    Unknown,
}

#[derive(Debug)]
struct State {
    limit: usize,
    max: usize,
    in_flight: usize,
    slow_start: bool,
    successes: usize,
    epoch: u64,
    starts: u64,
    cut_at: Option<usize>,
    cut_when: u64,
    source: Source,
    down: Option<Down>,
}

/// The endpoint refused connections: since when, why, and whether one request is out trying
/// again (half-open, as a circuit breaker: the server may have been started meanwhile).
#[derive(Debug)]
struct Down {
    since: Instant,
    why: String,
    trying: bool,
}

/// Whether a cut seen at `when` (seconds since the epoch) is recent enough to hold growth back.
fn lately(when: u64) -> bool {
    memory::now_secs().saturating_sub(when) < CUT_TTL.as_secs()
}

impl State {
    /// The level that cut streams lately, if one did.
    fn fresh_cut(&self) -> Option<usize> {
        self.cut_at.filter(|_| lately(self.cut_when))
    }
}

/// One endpoint's capacity. See the module docs.
#[derive(Debug)]
pub struct Capacity {
    state: Mutex<State>,
    changed: Notify,
    memory: Option<(Arc<Memory>, String)>,
    /// Set once the server has been asked how many it serves (`/props`).
    pub(super) probed: tokio::sync::OnceCell<()>,
}

/// A request's place among those in flight; dropping it frees the place.
#[derive(Debug)]
pub struct Slot<'a> {
    capacity: &'a Capacity,
    epoch: u64,
    others_at_start: usize,
    starts_at: u64,
    acked: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut s = self.capacity.lock();
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.capacity.changed.notify_waiters();
    }
}

/// The process-wide table, keyed by endpoint URL.
static ENDPOINTS: LazyLock<Mutex<HashMap<String, Arc<Capacity>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The most requests in flight at once to one endpoint, whatever else says.
pub const CEILING: usize = 4096;

impl Capacity {
    /// The capacity of `url`, shared with every other provider of the process.
    pub fn shared(url: &str, initial: Initial, memory: Option<Arc<Memory>>) -> Arc<Self> {
        let mut table = ENDPOINTS.lock().unwrap_or_else(PoisonError::into_inner);
        table
            .entry(url.to_owned())
            .or_insert_with(|| {
                let remembered = memory.as_ref().and_then(|m| m.capacity(url));
                Arc::new(Self::new(
                    initial,
                    remembered,
                    memory.map(|m| (m, url.to_owned())),
                ))
            })
            .clone()
    }

    /// A capacity of its own, from what was `remembered`.
    pub fn new(
        initial: Initial,
        remembered: Option<memory::Capacity>,
        memory: Option<(Arc<Memory>, String)>,
    ) -> Self {
        let fresh_cut = remembered
            .and_then(|r| r.cut_at.map(|c| (c, r.cut_when)))
            .filter(|&(_, when)| lately(when));
        let (limit, max, slow_start, source) = match (initial, remembered) {
            (Initial::Known(n), _) => {
                let n = n.unwrap_or(CEILING).clamp(1, CEILING);
                (n, n, false, Source::Setting)
            }
            (Initial::Unknown, Some(r)) => {
                (r.limit.clamp(1, CEILING), CEILING, false, Source::Learned)
            }
            (Initial::Unknown, None) => (1, CEILING, true, Source::Learning),
        };
        Self {
            state: Mutex::new(State {
                limit,
                max,
                in_flight: 0,
                slow_start,
                successes: 0,
                epoch: 0,
                starts: 0,
                cut_at: fresh_cut.map(|(c, _)| c),
                cut_when: fresh_cut.map_or(0, |(_, w)| w),
                source,
                down: None,
            }),
            changed: Notify::new(),
            memory,
            probed: tokio::sync::OnceCell::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a few plain stores: a panic mid-way leaves nothing inconsistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The limit in force and where it comes from.
    pub fn limit(&self) -> (usize, Source) {
        let s = self.lock();
        (s.limit, s.source)
    }

    /// The server says it serves `slots` at once: that is the limit, and the most; unless it
    /// cut streams at fewer lately (a server with 4 slots over one shared context may not hold
    /// 4 prompts): then what was learned stands, under the server's number.
    pub fn server_says(&self, slots: usize) {
        let mut s = self.lock();
        if s.source == Source::Learned && s.fresh_cut().is_some() {
            s.limit = s.limit.min(slots.max(1));
        } else if s.source == Source::Setting {
            // The user's (or preset's) own number stands, but never above what the server has.
            s.limit = s.limit.min(slots.max(1));
        } else {
            s.limit = slots.clamp(1, CEILING);
            s.slow_start = false;
            s.source = Source::Server;
        }
        s.max = s.max.min(slots.clamp(1, CEILING));
        drop(s);
        self.changed.notify_waiters();
    }

    /// Waits for a place among the requests in flight. `waiting` is called once, with the limit
    /// in force, if the request has to wait.
    pub async fn acquire(&self, mut waiting: impl FnMut(usize)) -> Slot<'_> {
        let mut told = false;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut s = self.lock();
                if s.in_flight < s.limit {
                    s.in_flight += 1;
                    s.starts += 1;
                    return Slot {
                        capacity: self,
                        epoch: s.epoch,
                        others_at_start: s.in_flight - 1,
                        starts_at: s.starts,
                        acked: false,
                    };
                }
                if !told {
                    told = true;
                    waiting(s.limit);
                }
            }
            notified.await;
        }
    }

    /// The server is generating for `slot`'s request (its first text came, or its whole
    /// answer): while still learning, one more may go. (A response head is no evidence: some
    /// servers send it before the request's turn.)
    pub fn serving(&self, slot: &mut Slot<'_>) {
        if slot.acked {
            return;
        }
        slot.acked = true;
        let mut s = self.lock();
        if !s.slow_start {
            return;
        }
        s.limit = (s.limit + 1).min(s.max);
        if s.limit >= s.max {
            s.slow_start = false;
            s.source = Source::Learned;
        }
        let save = s.limit.is_power_of_two() || !s.slow_start;
        let snapshot = self.snapshot(&s);
        drop(s);
        self.changed.notify_waiters();
        if save {
            self.save(snapshot);
        }
    }

    /// `slot`'s request succeeded: after a round of successes, one more may go (never up to a
    /// level that cut streams lately).
    pub fn success(&self, _slot: &Slot<'_>) {
        let mut s = self.lock();
        s.down = None;
        if s.slow_start || s.limit >= s.max {
            return;
        }
        s.successes += 1;
        if s.successes < s.limit {
            return;
        }
        s.successes = 0;
        let next = s.limit + 1;
        if s.fresh_cut().is_some_and(|c| next >= c) {
            return;
        }
        s.limit = next;
        let snapshot = self.snapshot(&s);
        drop(s);
        self.changed.notify_waiters();
        self.save(snapshot);
    }

    /// Whether other requests to the endpoint were in flight at some time during `slot`'s.
    pub fn overlapped(&self, slot: &Slot<'_>) -> bool {
        let s = self.lock();
        slot.others_at_start > 0 || s.starts > slot.starts_at || s.in_flight > 1
    }

    /// A capacity signal on `slot`'s request (a cut stream, a 429 or 503). Returns whether it is
    /// one: only when other requests were in flight during it. The limit becomes half of what is
    /// in flight, once per round.
    pub fn signal(&self, slot: &Slot<'_>) -> bool {
        if !self.overlapped(slot) {
            return false;
        }
        let mut s = self.lock();
        if slot.epoch != s.epoch {
            // Sent before the last cut: that cut already halved for it.
            return true;
        }
        let level = s.in_flight.max(2);
        s.limit = (level / 2).max(1);
        s.cut_at = Some(level);
        s.cut_when = memory::now_secs();
        s.slow_start = false;
        if s.source != Source::Server && s.source != Source::Setting {
            s.source = Source::Learned;
        }
        s.epoch += 1;
        s.successes = 0;
        tracing::info!(
            level,
            limit = s.limit,
            "the server cut a request while others ran; fewer at once"
        );
        let snapshot = self.snapshot(&s);
        drop(s);
        self.save(snapshot);
        true
    }

    /// Why the endpoint is taken as unreachable now, if it is.
    pub fn down(&self) -> Option<String> {
        let s = self.lock();
        s.down
            .as_ref()
            .filter(|d| d.since.elapsed() < DOWN_FOR)
            .map(|d| d.why.clone())
    }

    /// Whether a request may go: yes unless the endpoint is down; while it is, after a second
    /// one request at a time goes through to try again (its success clears the mark, its failure
    /// renews it).
    pub fn through(&self) -> bool {
        let mut s = self.lock();
        let Some(d) = s.down.as_mut() else {
            return true;
        };
        if d.since.elapsed() >= DOWN_FOR {
            s.down = None;
            return true;
        }
        if !d.trying && d.since.elapsed() >= HALF_OPEN_AFTER {
            d.trying = true;
            return true;
        }
        false
    }

    /// Marks the endpoint unreachable for [`DOWN_FOR`], for `why`. Returns whether this call
    /// marked it (`false`: another request already had, and this one was not the one trying
    /// again).
    pub fn mark_down(&self, why: &str) -> bool {
        let mut s = self.lock();
        if let Some(d) = s.down.as_ref()
            && d.since.elapsed() < DOWN_FOR
            && !d.trying
        {
            return false;
        }
        s.down = Some(Down {
            since: Instant::now(),
            why: why.to_owned(),
            trying: false,
        });
        drop(s);
        self.changed.notify_waiters();
        true
    }

    /// A 429, 503 or other 5xx on `slot`'s request while others ran: a capacity signal, except
    /// where the number in flight is the user's (or a hosted preset's own, where a 429 is about
    /// budgets, which the limiter keeps): there it stays.
    pub fn overloaded(&self, slot: &Slot<'_>) {
        if self.lock().source == Source::Setting {
            return;
        }
        self.signal(slot);
    }

    fn snapshot(&self, s: &State) -> memory::Capacity {
        memory::Capacity {
            limit: s.limit,
            cut_at: s.cut_at,
            cut_when: s.cut_when,
        }
    }

    fn save(&self, snapshot: memory::Capacity) {
        if let Some((memory, url)) = &self.memory {
            memory.save_capacity(url, snapshot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn an_unknown_endpoint_starts_alone_and_grows_with_each_request_served() {
        let c = Capacity::new(Initial::Unknown, None, None);
        assert_eq!(c.limit(), (1, Source::Learning));
        let mut a = c.acquire(|_| {}).await;
        // A second request waits until the server serves the first.
        let mut waited = None;
        let second =
            tokio::time::timeout(Duration::from_millis(10), c.acquire(|l| waited = Some(l))).await;
        assert!(second.is_err());
        assert_eq!(waited, Some(1));
        c.serving(&mut a);
        c.serving(&mut a); // once per request
        assert_eq!(c.limit().0, 2);
        let mut b = c.acquire(|_| {}).await;
        c.serving(&mut b);
        assert_eq!(c.limit().0, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cut_while_others_run_halves_what_is_in_flight_once_per_round() {
        let c = Capacity::new(Initial::Known(Some(8)), None, None);
        let slots: Vec<Slot<'_>> =
            futures_util::future::join_all((0..8).map(|_| c.acquire(|_| {}))).await;
        assert!(c.signal(&slots[0]));
        assert_eq!(c.limit().0, 4, "half of the 8 in flight");
        // Others of the same round cut too: still signals, but no second halving.
        assert!(c.signal(&slots[1]));
        assert_eq!(c.limit().0, 4);
        drop(slots);
        // A request of the new round that is cut halves again.
        let round: Vec<Slot<'_>> =
            futures_util::future::join_all((0..4).map(|_| c.acquire(|_| {}))).await;
        assert!(c.signal(&round[3]));
        assert_eq!(c.limit().0, 2);
        drop(round);
        // Alone, a cut is no capacity signal.
        let alone = c.acquire(|_| {}).await;
        assert!(!c.signal(&alone));
        assert_eq!(c.limit().0, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn growth_is_one_per_round_of_successes_and_stops_below_a_level_that_cut() {
        let c = Capacity::new(Initial::Known(Some(16)), None, None);
        {
            let all: Vec<Slot<'_>> =
                futures_util::future::join_all((0..4).map(|_| c.acquire(|_| {}))).await;
            assert!(c.signal(&all[0]));
        }
        assert_eq!(c.limit().0, 2);
        for _ in 0..2 {
            let s = c.acquire(|_| {}).await;
            c.success(&s);
        }
        assert_eq!(c.limit().0, 3, "a round of 2 successes: one more");
        for _ in 0..3 {
            let s = c.acquire(|_| {}).await;
            c.success(&s);
        }
        assert_eq!(c.limit().0, 3, "4 cut streams lately: it stays under 4");
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_s_own_number_and_what_was_remembered_are_where_it_starts() {
        let c = Capacity::new(Initial::Unknown, None, None);
        c.server_says(3);
        assert_eq!(c.limit(), (3, Source::Server));
        let remembered = memory::Capacity {
            limit: 1,
            cut_at: Some(2),
            cut_when: memory::now_secs(),
        };
        let c = Capacity::new(Initial::Unknown, Some(remembered), None);
        assert_eq!(c.limit(), (1, Source::Learned));
        // The server's own count does not undo what its streams taught lately.
        c.server_says(4);
        assert_eq!(c.limit(), (1, Source::Learned));
        for _ in 0..5 {
            let s = c.acquire(|_| {}).await;
            c.success(&s);
        }
        assert_eq!(c.limit().0, 1, "2 cut a day ago: it stays at 1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_endpoint_is_down_for_a_while_and_one_request_tries_again() {
        let c = Capacity::new(Initial::Unknown, None, None);
        assert!(c.mark_down("nothing listens"));
        assert!(!c.mark_down("nothing listens"));
        assert_eq!(c.down().as_deref(), Some("nothing listens"));
        assert!(!c.through(), "the others are not sent");
        // After a second, one request tries again (the server may have been started).
        tokio::time::advance(HALF_OPEN_AFTER).await;
        assert!(c.through());
        assert!(!c.through(), "one at a time");
        // It failed too: it says so itself, and the mark is renewed.
        assert!(c.mark_down("nothing listens"));
        assert!(!c.through());
        tokio::time::advance(DOWN_FOR).await;
        assert_eq!(c.down(), None);
        assert!(c.through());
    }

    #[tokio::test(start_paused = true)]
    async fn load_does_not_halve_a_number_the_user_set() {
        let c = Capacity::new(Initial::Known(Some(8)), None, None);
        let slots: Vec<Slot<'_>> =
            futures_util::future::join_all((0..8).map(|_| c.acquire(|_| {}))).await;
        c.overloaded(&slots[0]);
        assert_eq!(c.limit().0, 8);
        drop(slots);
        let learned = Capacity::new(Initial::Unknown, None, None);
        learned.server_says(8);
        let slots: Vec<Slot<'_>> =
            futures_util::future::join_all((0..8).map(|_| learned.acquire(|_| {}))).await;
        learned.overloaded(&slots[0]);
        assert_eq!(learned.limit().0, 4);
    }
}
