//! The one retry policy: exponential backoff with full jitter, and the error shape every sink
//! returns so that the delivery loop can tell "try again later" from "never".
//!
//! Owns: [`RetryPolicy`] (delay = uniform random in `[0, min(cap, base * 2^attempt)]`, or
//! exactly the server-given delay when a sink reports one) and [`SinkError`] with its
//! [`FailureClass`]. Must not sleep, loop or
//! log: the delivery loop does that, and it is the only place that retries.
//!
//! Full jitter (AWS architecture blog, "Exponential Backoff And Jitter"; vector's
//! `JitterMode::Full`) spreads retries out so that many deferred deliveries never come back in
//! the same second, which Postfix's fixed doubling does ("the whole deferred queue can reach
//! its retry time simultaneously").

use std::fmt;
use std::time::Duration;

use rand::Rng;

/// What kind of failure a sink reports: it decides what the delivery loop does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureClass {
    /// Trying again later may succeed (network, timeout, 408, 429, 5xx): backoff with jitter,
    /// or exactly the server's delay when it gave one.
    Retryable,
    /// The destination refused this payload (HTTP 400 with a schema error, SMTP 5xx for the
    /// message): the entry is quarantined with the reason (the sink has already tried its
    /// plain-text form once); the entries behind it go on.
    Rejected,
    /// The destination is gone or refuses us (401/403/404/410, SMTP 5.7.x authentication):
    /// the loop stops, keeps every entry spooled and reports it until the config is reloaded.
    Dead,
    /// A configuration problem on our side (a cipher that cannot work, an invalid name): the
    /// entries wait and the loop retries at the backoff cap, logging an error.
    Config,
}

/// Why a delivery failed, classified for the retry loop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SinkError {
    /// What the loop does about it.
    pub class: FailureClass,
    /// The delay the server asked for (HTTP `Retry-After`, Discord `retry_after`, ...).
    pub after: Option<Duration>,
    /// Operator-facing, lowercase, no trailing period; never holds a secret.
    pub message: String,
}

impl SinkError {
    fn new(class: FailureClass, message: impl fmt::Display) -> SinkError {
        SinkError {
            class,
            after: None,
            message: message.to_string(),
        }
    }

    /// A failure that may go away.
    pub fn retryable(message: impl fmt::Display) -> SinkError {
        SinkError::new(FailureClass::Retryable, message)
    }

    /// A failure that will not go away by trying again (a configuration problem).
    pub fn permanent(message: impl fmt::Display) -> SinkError {
        SinkError::new(FailureClass::Config, message)
    }

    /// The destination refused this entry's payload.
    pub fn rejected(message: impl fmt::Display) -> SinkError {
        SinkError::new(FailureClass::Rejected, message)
    }

    /// The destination is dead (gone, or refuses our credentials).
    pub fn dead(message: impl fmt::Display) -> SinkError {
        SinkError::new(FailureClass::Dead, message)
    }

    /// True for [`FailureClass::Retryable`].
    pub fn is_retryable(&self) -> bool {
        self.class == FailureClass::Retryable
    }

    /// The same error with a server-given minimum delay before the next attempt.
    pub fn with_after(mut self, after: Duration) -> SinkError {
        self.after = Some(after);
        self
    }

    /// Classify an I/O error: everything is retryable except errors that no retry can fix
    /// (invalid input or data, unsupported operations).
    pub fn from_io(context: impl fmt::Display, e: &std::io::Error) -> SinkError {
        use std::io::ErrorKind::*;
        let message = format!("{context}: {e}");
        match e.kind() {
            InvalidInput | InvalidData | Unsupported => SinkError::permanent(message),
            _ => SinkError::retryable(message),
        }
    }
}

/// Exponential backoff with full jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Ceiling of the first retry's delay.
    pub base: Duration,
    /// Largest ceiling (the doubling stops here).
    pub cap: Duration,
    /// Largest server-given delay honoured (a broken server cannot park us for a year).
    pub max_after: Duration,
}

impl Default for RetryPolicy {
    /// 1 s doubling up to 5 min (Postfix's `minimal_backoff_time` order of magnitude, far
    /// below its 4000 s maximum because a monitoring result goes stale); server hints up to 1 h.
    fn default() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_after: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// `min(cap, base * 2^attempt)`: the largest delay before retry number `attempt` (0-based:
    /// attempt 0 is the first retry after the first failure).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.cap)
    }

    /// A uniformly random delay in `[0, ceiling(attempt)]`.
    pub fn jittered<R: Rng + ?Sized>(&self, attempt: u32, rng: &mut R) -> Duration {
        let ceiling = self.ceiling(attempt).as_nanos().min(u64::MAX as u128) as u64;
        Duration::from_nanos(rng.random_range(0..=ceiling))
    }

    /// The delay before retrying after `error`: exactly the server's delay when it gave one
    /// (capped at `max_after`: a broken server cannot park us for a year), else the jittered
    /// backoff.
    pub fn delay_for<R: Rng + ?Sized>(
        &self,
        attempt: u32,
        error: &SinkError,
        rng: &mut R,
    ) -> Duration {
        match error.after {
            Some(after) => after.min(self.max_after),
            None => self.jittered(attempt, rng),
        }
    }

    /// [`RetryPolicy::delay_for`] with the thread's random generator.
    pub fn delay(&self, attempt: u32, error: &SinkError) -> Duration {
        self.delay_for(attempt, error, &mut rand::rng())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_after: Duration::from_secs(600),
        }
    }

    #[test]
    fn retry_ceiling_doubles_then_caps() {
        let p = policy();
        let secs: Vec<u64> = (0..9).map(|a| p.ceiling(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        // No overflow for absurd attempt counts or a huge base.
        assert_eq!(p.ceiling(u32::MAX), p.cap);
        let huge = RetryPolicy {
            base: Duration::MAX,
            cap: Duration::MAX,
            ..p
        };
        assert_eq!(huge.ceiling(40), Duration::MAX);
        let _ = huge.jittered(40, &mut rand::rngs::StdRng::seed_from_u64(1));
    }

    #[test]
    fn retry_delays_stay_within_full_jitter_bounds() {
        let p = policy();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let e = SinkError::retryable("connection refused");
        for attempt in 0..12 {
            let ceiling = p.ceiling(attempt);
            let draws: Vec<Duration> = (0..2000)
                .map(|_| p.delay_for(attempt, &e, &mut rng))
                .collect();
            assert!(draws.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: the whole range is used, down to near zero and up to near the top.
            let min = draws.iter().min().unwrap();
            let max = draws.iter().max().unwrap();
            assert!(*min < ceiling / 50, "attempt {attempt}: min {min:?}");
            assert!(*max > ceiling * 49 / 50, "attempt {attempt}: max {max:?}");
        }
    }

    #[test]
    fn retry_waits_exactly_the_server_delay_up_to_max_after() {
        let p = policy();
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let e = SinkError::retryable("429 too many requests").with_after(Duration::from_secs(90));
        for _ in 0..500 {
            let d = p.delay_for(0, &e, &mut rng);
            assert_eq!(d, Duration::from_secs(90), "above the 1 s ceiling");
        }
        let absurd = SinkError::retryable("x").with_after(Duration::from_secs(86_400 * 365));
        assert_eq!(p.delay_for(3, &absurd, &mut rng), p.max_after);
        // Exactly the server's delay (SPEC section 6), also when it is shorter than the
        // backoff would be.
        let small = SinkError::retryable("x").with_after(Duration::from_millis(1500));
        for _ in 0..200 {
            assert_eq!(
                p.delay_for(6, &small, &mut rng),
                Duration::from_millis(1500)
            );
        }
    }

    /// R16 "no retry storm": 1,000 deferred deliveries that failed together do not all come
    /// back in the same second.
    #[test]
    fn retry_thousand_deferred_do_not_land_in_the_same_second() {
        let p = RetryPolicy::default();
        let e = SinkError::retryable("connection refused");
        for attempt in [3u32, 5, 8] {
            let mut per_second = std::collections::HashMap::<u64, usize>::new();
            for _ in 0..1000 {
                *per_second
                    .entry(p.delay(attempt, &e).as_secs())
                    .or_default() += 1;
            }
            let busiest = per_second.values().max().unwrap();
            // attempt 3: 9 one-second buckets (0..=8 s), expect ~111 each.
            assert!(*busiest < 250, "attempt {attempt}: {busiest} in one second");
            assert!(per_second.len() >= 8, "attempt {attempt}: {per_second:?}");
        }
    }

    #[test]
    fn retry_classifies_io_errors() {
        use std::io::{Error, ErrorKind};
        let r = SinkError::from_io("connect", &Error::from(ErrorKind::ConnectionRefused));
        assert!(r.is_retryable());
        assert!(r.message.starts_with("connect: "), "{}", r.message);
        assert!(SinkError::from_io("x", &Error::from(ErrorKind::TimedOut)).is_retryable());
        assert!(!SinkError::from_io("x", &Error::from(ErrorKind::InvalidInput)).is_retryable());
        assert!(!SinkError::permanent("bad name").is_retryable());
        assert_eq!(SinkError::dead("gone").class, FailureClass::Dead);
        assert_eq!(SinkError::rejected("bad").class, FailureClass::Rejected);
    }
}
