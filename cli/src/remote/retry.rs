//! Asking the function again after an answer that says "not now": throttling (429), a
//! server error (5xx), or no answer at all ([`http::Failure::is_transient`]). Waits grow
//! exponentially with jitter, a `Retry-After` is honoured, and the number of attempts is
//! bounded. Anything else — a 4xx, a result that fails its check — is never retried: asking
//! again cannot make a wrong request right, and a cheating function must not get a second
//! try at the same pair.

use std::future::Future;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, Result};

use super::http;

/// How often and how patiently to ask again.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first wait; each retry doubles it, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// The longest `Retry-After` honoured: a function asking for more is given up on, with
    /// a message saying how long it asked for.
    pub max_retry_after: Duration,
}

impl Policy {
    /// `retries` retries, starting at 250 ms and doubling up to 8 s; `Retry-After` up to a
    /// minute.
    pub fn new(retries: u32) -> Policy {
        Policy {
            retries,
            base: Duration::from_millis(250),
            cap: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
        }
    }

    /// The wait before retry number `retry` (0 for the first), given what the answer
    /// asked for. Exponential with "equal jitter" (between half and all of the step), so
    /// concurrent requests throttled together do not come back together.
    fn wait(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(asked) = retry_after {
            return asked;
        }
        let step = self
            .base
            .saturating_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
            .min(self.cap);
        let mut byte = [0u8; 1];
        // Jitter needs no secrecy: without the OS's randomness, wait the whole step.
        let fraction = match getrandom::getrandom(&mut byte) {
            Ok(()) => 0.5 + f64::from(byte[0]) / 510.0,
            Err(_) => 1.0,
        };
        step.mul_f64(fraction)
    }
}

/// One retry made: which attempt failed, why, and how long was waited before the next.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Retried {
    /// The attempt that failed (1 for the first).
    pub attempt: u32,
    /// The failure, as its one line.
    pub reason: String,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    pub waited_ms: u64,
}

/// Runs `attempt` until it succeeds, fails for good, or `policy.retries` retries are spent;
/// each retry is recorded in `retried`.
pub async fn retrying<T, F, Fut>(
    policy: &Policy,
    retried: &mut Vec<Retried>,
    mut attempt: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    for n in 0.. {
        let e = match attempt().await {
            Ok(done) => return Ok(done),
            Err(e) => e,
        };
        let Some(failure) = e.downcast_ref::<http::Failure>() else {
            return Err(e);
        };
        if !failure.is_transient() {
            return Err(e);
        }
        if n >= policy.retries {
            let tries = n + 1;
            return Err(e.context(format!(
                "gave up after {tries} attempt{} (--retries {})",
                if tries == 1 { "" } else { "s" },
                policy.retries
            )));
        }
        if let Some(asked) = failure.retry_after() {
            if asked > policy.max_retry_after {
                return Err(anyhow!(
                    "{failure}: the function asks to wait {} s before trying again, longer than the {} s picrypt waits; try again later",
                    asked.as_secs(),
                    policy.max_retry_after.as_secs()
                ));
            }
        }
        let wait = policy.wait(n, failure.retry_after());
        tracing::info!(attempt = n + 1, ?wait, "{failure}; asking again");
        retried.push(Retried {
            attempt: n + 1,
            reason: failure.to_string(),
            status: failure.status(),
            waited_ms: wait.as_millis() as u64,
        });
        tokio::time::sleep(wait).await;
    }
    unreachable!("the loop returns")
}

/// A `Retry-After` value as a wait from `now`: a number of seconds, or an HTTP date (a
/// date in the past means now). Anything else, or an empty header, is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:42 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn waits_grow_with_jitter_up_to_the_cap() {
        let p = Policy::new(10);
        for retry in 0..10 {
            let step = (p.base * 2u32.pow(retry)).min(p.cap);
            let w = p.wait(retry, None);
            assert!(
                w >= step / 2 && w <= step,
                "retry {retry}: {w:?} for {step:?}"
            );
        }
        assert_eq!(
            p.wait(3, Some(Duration::from_secs(2))),
            Duration::from_secs(2)
        );
    }
}
