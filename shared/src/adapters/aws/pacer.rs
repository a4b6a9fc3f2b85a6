//! Paces sends to the account's rate: a token bucket refilled at `rate` tokens a second that
//! holds at most one token, so sends are spread evenly and no burst outruns the rate. Clones
//! share one bucket, so every task of a process draws from the same budget.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The most tokens the bucket keeps: no saving up for a burst.
const BURST: f64 = 1.0;
/// Rates below this (or not a number) are treated as this: one mail in 100 s.
const SLOWEST: f64 = 0.01;

#[derive(Debug, Clone)]
pub struct SendPacer {
    bucket: Arc<Mutex<Bucket>>,
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    /// May go below zero: the sends already promised a slot in the future.
    tokens: f64,
    refilled_at: Instant,
}

fn usable(rate: f64) -> f64 {
    if rate.is_finite() && rate > SLOWEST {
        rate
    } else {
        SLOWEST
    }
}

impl SendPacer {
    /// A pacer at `rate` sends a second.
    pub fn new(rate: f64) -> Self {
        Self { bucket: Arc::new(Mutex::new(Bucket { rate: usable(rate), tokens: BURST, refilled_at: Instant::now() })) }
    }

    fn bucket(&self) -> MutexGuard<'_, Bucket> {
        // The lock is never held across an await or a panic-prone call; a poisoned one still
        // holds consistent numbers.
        self.bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn rate(&self) -> f64 {
        self.bucket().rate
    }

    pub fn set_rate(&self, rate: f64) {
        let mut bucket = self.bucket();
        bucket.refill();
        bucket.rate = usable(rate);
    }

    /// Waits until `count` more sends (recipients, as SES counts them) fit within the rate.
    /// The slot is reserved before the wait, so concurrent callers queue up fairly.
    pub async fn acquire(&self, count: u32) {
        let wait = {
            let mut bucket = self.bucket();
            bucket.refill();
            bucket.tokens -= f64::from(count.max(1));
            if bucket.tokens >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-bucket.tokens / bucket.rate)
            }
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }
}

impl Bucket {
    fn refill(&mut self) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(BURST);
        self.refilled_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sends_are_spread_at_the_rate_across_clones() {
        let pacer = SendPacer::new(50.0);
        let other = pacer.clone();
        let started = std::time::Instant::now();
        let first = async {
            for _ in 0..5 {
                pacer.acquire(1).await;
            }
        };
        let second = async {
            for _ in 0..6 {
                other.acquire(1).await;
            }
        };
        tokio::join!(first, second);
        // 11 sends at 50/s: the first is free, the other 10 wait 20 ms each.
        let elapsed = started.elapsed();
        assert!(elapsed >= Duration::from_millis(190), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    }

    #[tokio::test]
    async fn a_mail_to_many_recipients_takes_as_many_slots() {
        let pacer = SendPacer::new(100.0);
        pacer.acquire(1).await;
        let started = std::time::Instant::now();
        pacer.acquire(10).await;
        assert!(started.elapsed() >= Duration::from_millis(90), "{:?}", started.elapsed());
    }

    #[test]
    fn nonsense_rates_become_the_slowest_one() {
        assert_eq!(SendPacer::new(f64::NAN).rate(), SLOWEST);
        assert_eq!(SendPacer::new(-3.0).rate(), SLOWEST);
        let pacer = SendPacer::new(14.0);
        pacer.set_rate(0.0);
        assert_eq!(pacer.rate(), SLOWEST);
    }
}
