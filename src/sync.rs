//! Locks that survive a panic elsewhere, and the one lock order of the
//! state, checked where the locks are taken.
//!
//! Every lock of `state` is an [`Ordered`] with its [`Level`]. In a debug
//! build (every test run), taking one while this thread holds a lock of the
//! same or a later level panics naming both, so a change that could
//! deadlock fails the first test that takes that path; a release build
//! checks nothing and pays nothing.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, whatever a panic elsewhere left behind: every change under
/// the mock's locks is applied in one step or undone, so the data is never
/// half-changed.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The state's locks, in the only order they may be taken (a thread holding
/// one may take only a later one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// Shared by requests, exclusive for wholesale changes.
    Gate,
    /// The map of partitions.
    Partitions,
    /// One partition.
    Partition,
    /// Saved idempotent answers.
    Idempotency,
    /// The journal.
    Journal,
    /// Coverage counts.
    Coverage,
    /// Injected faults.
    Faults,
    /// Request-id streams outside any partition.
    Ids,
}

impl Level {
    /// Every level, in order.
    #[cfg(debug_assertions)]
    const ALL: [Level; 8] = [
        Level::Gate,
        Level::Partitions,
        Level::Partition,
        Level::Idempotency,
        Level::Journal,
        Level::Coverage,
        Level::Faults,
        Level::Ids,
    ];
}

#[cfg(debug_assertions)]
thread_local! {
    /// The levels this thread holds, one bit each.
    static HELD: std::cell::Cell<u16> = const { std::cell::Cell::new(0) };
}

/// Marks `level` held by this thread until dropped.
pub(crate) struct Held {
    #[cfg(debug_assertions)]
    level: Level,
}

impl Held {
    fn take(level: Level) -> Held {
        #[cfg(debug_assertions)]
        HELD.with(|held| {
            let mask = held.get();
            let later_or_same = mask >> (level as u16);
            assert!(
                later_or_same == 0,
                "lock order: {level:?} taken while holding {:?} (docs/architecture.md)",
                Level::ALL
                    .iter()
                    .filter(|l| mask & (1 << **l as u16) != 0)
                    .collect::<Vec<_>>()
            );
            held.set(mask | (1 << level as u16));
        });
        let _ = level;
        Held {
            #[cfg(debug_assertions)]
            level,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        #[cfg(debug_assertions)]
        HELD.with(|held| held.set(held.get() & !(1 << self.level as u16)));
    }
}

/// A `Mutex` that belongs to one [`Level`].
#[derive(Debug)]
pub(crate) struct Ordered<T> {
    level: Level,
    inner: Mutex<T>,
}

/// A locked [`Ordered`]: the guard first, so it is released before the
/// level is.
pub(crate) struct Guard<'a, T> {
    guard: MutexGuard<'a, T>,
    _held: Held,
}

impl<T> Ordered<T> {
    /// `value` behind a lock of `level`.
    pub fn new(level: Level, value: T) -> Self {
        Ordered {
            level,
            inner: Mutex::new(value),
        }
    }

    /// Locks it, checking the order first (debug builds).
    pub fn lock(&self) -> Guard<'_, T> {
        let held = Held::take(self.level);
        Guard {
            guard: lock(&self.inner),
            _held: held,
        }
    }
}

impl<T> std::ops::Deref for Guard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

/// The gate: an `RwLock` at [`Level::Gate`].
#[derive(Debug, Default)]
pub(crate) struct Gate(RwLock<()>);

/// The gate held, shared or exclusive.
pub(crate) enum GateGuard<'a> {
    /// Held by a request.
    Shared(
        #[allow(dead_code)] RwLockReadGuard<'a, ()>,
        #[allow(dead_code)] Held,
    ),
    /// Held by a wholesale change.
    Exclusive(
        #[allow(dead_code)] RwLockWriteGuard<'a, ()>,
        #[allow(dead_code)] Held,
    ),
}

impl Gate {
    /// Shared access, for one request.
    pub fn shared(&self) -> GateGuard<'_> {
        let held = Held::take(Level::Gate);
        GateGuard::Shared(self.0.read().unwrap_or_else(|e| e.into_inner()), held)
    }

    /// Exclusive access, for a wholesale change.
    pub fn exclusive(&self) -> GateGuard<'_> {
        let held = Held::take(Level::Gate);
        GateGuard::Exclusive(self.0.write().unwrap_or_else(|e| e.into_inner()), held)
    }
}

#[cfg(all(test, debug_assertions))]
mod tests {
    use super::*;

    #[test]
    fn locks_in_order_are_fine_and_out_of_order_panics() {
        let journal = Ordered::new(Level::Journal, 1);
        let faults = Ordered::new(Level::Faults, 2);
        {
            let _j = journal.lock();
            let _f = faults.lock();
        }
        // One after the other, not nested: fine in any order.
        drop(faults.lock());
        drop(journal.lock());
        let wrong = std::panic::catch_unwind(|| {
            let _f = faults.lock();
            let _j = journal.lock();
        });
        let message = *wrong.unwrap_err().downcast::<String>().unwrap();
        assert!(message.contains("Journal taken while holding"), "{message}");
        // The panic released what it held: the order starts clean.
        let _j = journal.lock();
        let _f = faults.lock();
    }
}
