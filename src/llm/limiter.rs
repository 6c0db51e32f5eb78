//! One limiter shared by every request in flight (a reading's sections, or a whole batch):
//! requests-per-minute and tokens-per-minute budgets as token buckets (tokens estimated before a
//! request is sent, as OpenAI's cookbook parallel processor does), corrected by the server's
//! `x-ratelimit-*` headers, and a shared pause after a 429 so the other requests wait out the
//! server's Retry-After instead of stampeding.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    available: f64,
    per_sec: f64,
}

impl Bucket {
    fn per_minute(limit: u32) -> Self {
        let capacity = f64::from(limit.max(1));
        Self {
            capacity,
            available: capacity,
            per_sec: capacity / 60.0,
        }
    }

    fn refill(&mut self, secs: f64) {
        self.available = (self.available + secs * self.per_sec).min(self.capacity);
    }

    /// How long until `amount` is available (zero if it is).
    fn wait_for(&self, amount: f64) -> Duration {
        let amount = amount.min(self.capacity);
        if self.available >= amount {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((amount - self.available) / self.per_sec)
        }
    }
}

#[derive(Debug)]
struct State {
    requests: Option<Bucket>,
    tokens: Option<Bucket>,
    refilled: Instant,
    paused_until: Option<Instant>,
}

/// The shared limiter. Cheap to call when no budget is set: only the 429 pause applies.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
}

impl Limiter {
    /// A limiter with optional requests/min and tokens/min budgets.
    pub fn new(rpm: Option<u32>, tpm: Option<u32>) -> Self {
        Self {
            state: Mutex::new(State {
                requests: rpm.map(Bucket::per_minute),
                tokens: tpm.map(Bucket::per_minute),
                refilled: Instant::now(),
                paused_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update is a plain store.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a tokens-per-minute budget is set (so requests need a token estimate).
    pub fn counts_tokens(&self) -> bool {
        self.lock().tokens.is_some()
    }

    /// Waits until one request of about `tokens` tokens fits the budgets, then takes it.
    pub async fn acquire(&self, tokens: u32) {
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                let secs = now.duration_since(s.refilled).as_secs_f64();
                s.refilled = now;
                if let Some(b) = &mut s.requests {
                    b.refill(secs);
                }
                if let Some(b) = &mut s.tokens {
                    b.refill(secs);
                }
                let paused = s
                    .paused_until
                    .map_or(Duration::ZERO, |t| t.saturating_duration_since(now));
                let wait = paused
                    .max(
                        s.requests
                            .as_ref()
                            .map_or(Duration::ZERO, |b| b.wait_for(1.0)),
                    )
                    .max(
                        s.tokens
                            .as_ref()
                            .map_or(Duration::ZERO, |b| b.wait_for(f64::from(tokens))),
                    );
                if wait.is_zero() {
                    if let Some(b) = &mut s.requests {
                        b.available -= 1.0;
                    }
                    if let Some(b) = &mut s.tokens {
                        b.available -= f64::from(tokens).min(b.capacity);
                    }
                    return;
                }
                wait
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// Holds every new request until `wait` from now (after a 429 from the server).
    pub fn pause_for(&self, wait: Duration) {
        let until = Instant::now() + wait;
        let mut s = self.lock();
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
        }
    }

    /// Corrects the budgets from `x-ratelimit-remaining-*`: what the server says is left is all
    /// that is left, and the bucket refills from there at its own rate. (The `reset` headers give
    /// the time to a *full* budget, far longer than the wait for the next request, so they are
    /// not used as a pause; a 429's Retry-After is.) Without budgets there is nothing to correct.
    pub fn observe(&self, headers: &HeaderMap) {
        let remaining = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        let mut guard = self.lock();
        let s = &mut *guard;
        for (left, bucket) in [
            (remaining("x-ratelimit-remaining-requests"), &mut s.requests),
            (remaining("x-ratelimit-remaining-tokens"), &mut s.tokens),
        ] {
            if let (Some(left), Some(b)) = (left, bucket) {
                b.available = b.available.min(left.max(0.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[tokio::test(start_paused = true)]
    async fn no_budget_means_no_wait() {
        let l = Limiter::new(None, None);
        let start = Instant::now();
        for _ in 0..1000 {
            l.acquire(10_000).await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_per_minute_spreads_requests_after_the_burst() {
        let l = Limiter::new(Some(60), None);
        let start = Instant::now();
        for _ in 0..60 {
            l.acquire(1).await;
        }
        assert_eq!(
            start.elapsed(),
            Duration::ZERO,
            "a full bucket allows a burst"
        );
        l.acquire(1).await;
        l.acquire(1).await;
        let e = start.elapsed();
        assert!(
            e >= Duration::from_secs(2) && e < Duration::from_millis(2100),
            "{e:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_per_minute_waits_for_big_requests() {
        let l = Limiter::new(None, Some(6000));
        let start = Instant::now();
        l.acquire(6000).await;
        l.acquire(3000).await; // 3000 tokens at 100/s = 30 s
        let e = start.elapsed();
        assert!(
            e >= Duration::from_secs(30) && e < Duration::from_millis(30_100),
            "{e:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_everyone() {
        let l = std::sync::Arc::new(Limiter::new(None, None));
        l.pause_for(Duration::from_secs(5));
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let l = l.clone();
            set.spawn(async move {
                l.acquire(1).await;
                Instant::now()
            });
        }
        while let Some(t) = set.join_next().await {
            assert!(t.unwrap() - start >= Duration::from_secs(5));
        }
        l.pause_for(Duration::from_secs(1)); // a shorter pause does not shorten a longer one
        l.pause_for(Duration::from_millis(10));
        let again = Instant::now();
        l.acquire(1).await;
        assert_eq!(again.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn headers_saying_nothing_is_left_empty_the_bucket() {
        let l = Limiter::new(Some(600), Some(60_000));
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("0"),
        );
        h.insert(
            "x-ratelimit-reset-requests",
            HeaderValue::from_static("6m0s"),
        );
        l.observe(&h);
        let start = Instant::now();
        l.acquire(1).await;
        // 600/min refills one request every 100 ms; the 6-minute full reset is not waited for.
        assert_eq!(start.elapsed(), Duration::from_millis(100));
        // Tokens: 500 left, a 1,500-token request waits for 1,000 more at 1,000/s.
        h.clear();
        h.insert(
            "x-ratelimit-remaining-tokens",
            HeaderValue::from_static("500"),
        );
        l.observe(&h);
        let start = Instant::now();
        l.acquire(1500).await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
        // A limiter without budgets ignores the headers.
        let free = Limiter::new(None, None);
        free.observe(&h);
        let start = Instant::now();
        free.acquire(1_000_000).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
    }
}
