//! Bounded retries with exponential backoff and full jitter.
//!
//! Retry `n` (0 for the first retry) waits a random time between zero and
//! `min(cap, first × 2ⁿ)` ("full jitter"), so many callers throttled at once spread out instead
//! of coming back together. After `tries` calls in all the caller gives up with
//! `PortError::Throttled`, so the total wait is bounded (`Backoff::max_total_wait`).

use crate::ports::PortError;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::SdkError;
use std::future::Future;
use std::time::Duration;

/// How patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The longest wait before the first retry.
    pub first: Duration,
    /// No wait is longer than this.
    pub cap: Duration,
    /// Calls in all, the first included (at least 1).
    pub tries: u32,
}

impl Backoff {
    /// DynamoDB: 10 calls, at most about 10 s of waiting in all.
    pub const DYNAMODB: Backoff = Backoff { first: Duration::from_millis(25), cap: Duration::from_secs(4), tries: 10 };
    /// A request someone waits on (the tile check, behind an HTTP API that gives up at 30 s):
    /// 3 calls, at most 75 ms of waiting; with `CallTimeouts::REQUEST` the answer, or an error,
    /// comes within about 6 s.
    pub const REQUEST: Backoff = Backoff { first: Duration::from_millis(25), cap: Duration::from_millis(500), tries: 3 };
    /// SES: 6 calls, at most about 6 s of waiting in all.
    pub const SES: Backoff = Backoff { first: Duration::from_millis(200), cap: Duration::from_secs(3), tries: 6 };

    /// The longest wait before retry `retry` (0 = the first retry).
    pub fn ceiling(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.first.saturating_mul(factor).min(self.cap)
    }

    /// A random wait in `[0, ceiling(retry)]`.
    pub fn delay(&self, retry: u32) -> Duration {
        self.ceiling(retry).mul_f64(fastrand::f64())
    }

    /// The most all retries of one operation can wait.
    pub fn max_total_wait(&self) -> Duration {
        (0..self.tries.saturating_sub(1)).map(|retry| self.ceiling(retry)).sum()
    }

    pub fn start(&self) -> Retries {
        Retries { policy: *self, failures: 0 }
    }
}

/// One operation's retry budget.
#[derive(Debug)]
pub struct Retries {
    policy: Backoff,
    failures: u32,
}

impl Retries {
    /// Records a failed call. Waits and answers true when another call is allowed; answers
    /// false (at once) when the budget is spent.
    pub async fn pause(&mut self) -> bool {
        self.failures += 1;
        if self.failures >= self.policy.tries.max(1) {
            return false;
        }
        tokio::time::sleep(self.policy.delay(self.failures - 1)).await;
        true
    }

    /// Calls made so far that failed.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

/// How a call that did not succeed ended.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // returned once, matched at once; boxing buys nothing
pub enum Failed<E> {
    /// Transient failures lasted past the retry budget (`PortError::Throttled`).
    GaveUp(PortError),
    /// A failure that retrying cannot fix; the caller gives it a meaning.
    Final(SdkError<E, HttpResponse>),
}

/// Calls `send` until it succeeds, fails for good, or the budget is spent. `transient` names a
/// failure worth retrying (for the log and the final message), or answers `None`.
pub async fn call<T, E, F, Fut>(
    policy: &Backoff,
    operation: &'static str,
    mut send: F,
    transient: impl Fn(&SdkError<E, HttpResponse>) -> Option<String>,
) -> Result<T, Failed<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
{
    let mut retries = policy.start();
    loop {
        let error = match send().await {
            Ok(output) => return Ok(output),
            Err(error) => error,
        };
        let Some(reason) = transient(&error) else {
            return Err(Failed::Final(error));
        };
        let logged = crate::domain::text::redact_addresses(&reason.to_string());
        tracing::debug!(operation, reason = %logged, failures = retries.failures() + 1, "transient AWS failure; backing off");
        if !retries.pause().await {
            tracing::warn!(operation, reason = %logged, tries = retries.failures(), "AWS kept failing; giving up for now");
            return Err(Failed::GaveUp(PortError::Throttled(format!(
                "{operation}: {reason}, still failing after {} tries",
                retries.failures()
            ))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    const QUICK: Backoff = Backoff { first: Duration::from_millis(1), cap: Duration::from_millis(4), tries: 5 };

    #[test]
    fn waits_grow_exponentially_up_to_the_cap_and_are_jittered_below_it() {
        let policy = Backoff { first: Duration::from_millis(100), cap: Duration::from_secs(1), tries: 6 };
        let ceilings: Vec<u128> = (0..6).map(|n| policy.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(policy.max_total_wait(), Duration::from_millis(2500));
        assert_eq!(policy.ceiling(200), Duration::from_secs(1), "no overflow on huge retry counts");
        for retry in 0..6 {
            for _ in 0..50 {
                assert!(policy.delay(retry) <= policy.ceiling(retry));
            }
        }
        assert!(Backoff::DYNAMODB.max_total_wait() <= Duration::from_secs(11));
        assert!(Backoff::SES.max_total_wait() <= Duration::from_secs(6));
        let distinct: std::collections::HashSet<Duration> = (0..20).map(|_| policy.delay(3)).collect();
        assert!(distinct.len() > 1, "full jitter picks different waits");
    }

    #[tokio::test]
    async fn the_budget_counts_every_call() {
        let mut retries = QUICK.start();
        let mut allowed = 0;
        while retries.pause().await {
            allowed += 1;
        }
        assert_eq!(allowed, QUICK.tries - 1, "5 calls = 1 + 4 retries");
    }

    #[derive(Debug)]
    struct Boom;
    impl std::fmt::Display for Boom {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("boom")
        }
    }
    impl std::error::Error for Boom {}

    fn boom() -> SdkError<Boom, HttpResponse> {
        SdkError::timeout_error("slow")
    }

    #[tokio::test]
    async fn transient_failures_are_retried_then_succeed() {
        let calls = AtomicU32::new(0);
        let result = call(
            &QUICK,
            "Test",
            || async {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(boom())
                } else {
                    Ok(7)
                }
            },
            |_| Some("timeout".into()),
        )
        .await;
        assert_eq!(result.ok(), Some(7));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn endless_transient_failures_end_as_throttled_after_the_budget() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = call(
            &QUICK,
            "Test",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(boom())
            },
            |_| Some("timeout".into()),
        )
        .await;
        assert!(matches!(result, Err(Failed::GaveUp(PortError::Throttled(ref m))) if m.contains("5 tries")), "{result:?}");
        assert_eq!(calls.load(Ordering::SeqCst), QUICK.tries);
    }

    #[tokio::test]
    async fn final_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let result: Result<(), _> = call(
            &QUICK,
            "Test",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(boom())
            },
            |_| None,
        )
        .await;
        assert!(matches!(result, Err(Failed::Final(_))));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
