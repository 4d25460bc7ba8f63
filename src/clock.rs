//! The mock's notion of "now": a frozen, movable fake clock by default, or the
//! system clock on request. This is the only file that reads the wall clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The instant the fake clock starts at unless told otherwise:
/// 2023-11-14T22:13:20Z, shortly after the spec's API version date.
pub const DEFAULT_NOW: i64 = 1_700_000_000;

/// A shareable clock in whole Unix seconds.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    /// `None` reads the system clock; `Some` is a fake clock's current second.
    fake: Option<Arc<AtomicI64>>,
}

impl Clock {
    /// A fake clock frozen at `now`; it moves only through [`Clock::set`].
    pub fn fake(now: i64) -> Self {
        Clock {
            fake: Some(Arc::new(AtomicI64::new(now))),
        }
    }

    /// The system clock.
    pub fn system() -> Self {
        Clock { fake: None }
    }

    /// The current instant in Unix seconds.
    pub fn now(&self) -> i64 {
        match &self.fake {
            Some(t) => t.load(Ordering::SeqCst),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0),
        }
    }

    /// Moves a fake clock to `t`. Returns false (and does nothing) on the
    /// system clock.
    pub fn set(&self, t: i64) -> bool {
        match &self.fake {
            Some(cell) => {
                cell.store(t, Ordering::SeqCst);
                true
            }
            None => false,
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
        assert!(c.clone().set(160));
        assert_eq!(c.now(), 160);
    }

    #[test]
    fn system_clock_cannot_be_set() {
        let c = Clock::system();
        assert!(!c.set(5));
        assert!(c.now() > DEFAULT_NOW);
    }
}
