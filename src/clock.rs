//! The mock's notion of "now": a frozen, movable fake clock by default, or the
//! system clock on request. This is the only file that reads the wall clock.
//!
//! Expiry is permanent (docs/behaviour.md §7): the clock remembers the latest
//! instant it has shown (its high-water mark), and a secret or saved answer
//! is gone once the high-water mark passes its end, even if the clock is
//! later moved back. Nothing is swept when the clock moves: each partition
//! drops what has expired the next time it is used.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The instant the fake clock starts at unless told otherwise:
/// 2023-11-14T22:13:20Z, shortly after the spec's API version date.
pub const DEFAULT_NOW: i64 = 1_700_000_000;

/// The earliest instant the fake clock may show: 1970-01-01T00:00:00Z.
pub const EARLIEST: i64 = 0;

/// The latest instant the fake clock may show: 9999-12-31T23:59:59Z. With
/// the clock in this range, no time arithmetic the mock does can overflow.
pub const LATEST: i64 = 253_402_300_799;

/// Whether `t` is an instant the fake clock may show.
pub fn in_range(t: i64) -> bool {
    (EARLIEST..=LATEST).contains(&t)
}

/// Nanoseconds of the system clock since the Unix epoch: a value unique to
/// this moment, for `verify`'s per-run idempotency-key suffix. The only
/// other reader of the wall clock besides [`Clock::system`].
pub(crate) fn wall_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// Why the clock refused to move; its text is the one wording every
/// caller (control API, harness, start-up) gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ClockError {
    /// It is the system clock.
    System,
    /// The instant is outside [`EARLIEST`]..=[`LATEST`].
    OutOfRange,
}

impl std::fmt::Display for ClockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockError::System => f.write_str(
                "the mock runs on the system clock, which cannot be moved (start it without \
                 --system-clock to control time)",
            ),
            ClockError::OutOfRange => write!(
                f,
                "the mock's clock runs from {EARLIEST} (1970-01-01) to {LATEST} \
                 (9999-12-31T23:59:59Z)"
            ),
        }
    }
}

impl std::error::Error for ClockError {}

/// A fake clock's current second and the latest it has shown.
#[derive(Debug)]
struct Fake {
    /// The current instant.
    now: AtomicI64,
    /// The latest instant ever set (since the last reset).
    high: AtomicI64,
}

/// A shareable clock in whole Unix seconds.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    /// `None` reads the system clock.
    fake: Option<Arc<Fake>>,
}

impl Clock {
    /// A fake clock frozen at `now`; it moves only through [`Clock::set`].
    pub fn fake(now: i64) -> Self {
        Clock {
            fake: Some(Arc::new(Fake {
                now: AtomicI64::new(now),
                high: AtomicI64::new(now),
            })),
        }
    }

    /// The system clock (the proxy's own error bodies use it: it serves real
    /// time, not a mock's).
    pub fn system() -> Self {
        Clock { fake: None }
    }

    /// The current instant in Unix seconds.
    pub fn now(&self) -> i64 {
        match &self.fake {
            Some(f) => f.now.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        }
    }

    /// The latest instant the clock has shown: what has expired by then
    /// stays expired.
    pub fn high_water(&self) -> i64 {
        match &self.fake {
            Some(f) => f.high.load(Ordering::SeqCst),
            None => self.now(),
        }
    }

    /// Moves a fake clock to `t`; refuses (and does nothing) on the system
    /// clock or outside [`EARLIEST`]..=[`LATEST`].
    pub fn set(&self, t: i64) -> Result<(), ClockError> {
        let Some(f) = &self.fake else {
            return Err(ClockError::System);
        };
        if !in_range(t) {
            return Err(ClockError::OutOfRange);
        }
        // Raise the mark first: a reader that sees the new `now` also sees a
        // mark at least as late.
        f.high.fetch_max(t, Ordering::SeqCst);
        f.now.store(t, Ordering::SeqCst);
        Ok(())
    }

    /// Starts a new history at `t`: the clock shows `t` and nothing later
    /// counts as passed (a full reset, an import).
    pub fn reset(&self, t: i64) {
        if let Some(f) = &self.fake {
            f.now.store(t, Ordering::SeqCst);
            f.high.store(t, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_clock_stays_put_until_set() {
        let c = Clock::fake(100);
        assert_eq!(c.now(), 100);
        assert!(c.clone().set(160).is_ok());
        assert_eq!(c.now(), 160);
    }

    #[test]
    fn moving_back_keeps_the_high_water_mark_until_reset() {
        let c = Clock::fake(100);
        c.set(200).unwrap();
        c.set(150).unwrap();
        assert_eq!((c.now(), c.high_water()), (150, 200));
        c.reset(120);
        assert_eq!((c.now(), c.high_water()), (120, 120));
    }

    #[test]
    fn instants_outside_1970_to_9999_are_refused() {
        let c = Clock::fake(100);
        assert_eq!(c.set(LATEST + 1), Err(ClockError::OutOfRange));
        assert_eq!(c.set(-1), Err(ClockError::OutOfRange));
        assert_eq!(c.set(i64::MAX), Err(ClockError::OutOfRange));
        assert!(c.set(LATEST).is_ok() && c.set(EARLIEST).is_ok());
        assert_eq!(c.high_water(), LATEST);
    }

    #[test]
    fn wall_nanos_reads_the_system_clock_in_nanoseconds() {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs() as u128;
        let nanos = wall_nanos();
        assert!(nanos / 1_000_000_000 >= secs && nanos / 1_000_000_000 <= secs + 5);
        assert!(!nanos.is_multiple_of(1_000_000_000) || wall_nanos() != nanos);
    }

    #[test]
    fn each_refusal_has_its_one_wording() {
        assert_eq!(
            ClockError::System.to_string(),
            "the mock runs on the system clock, which cannot be moved (start it without \
             --system-clock to control time)"
        );
        assert_eq!(
            ClockError::OutOfRange.to_string(),
            "the mock's clock runs from 0 (1970-01-01) to 253402300799 (9999-12-31T23:59:59Z)"
        );
    }

    #[test]
    fn system_clock_cannot_be_set() {
        let c = Clock::system();
        assert_eq!(c.set(5), Err(ClockError::System));
        assert!(c.now() > DEFAULT_NOW);
        assert_eq!(c.high_water(), c.now());
    }
}
