//! The time the store uses for share links: the system clock, or one that tests set.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Marks a clock that reads the system time.
const SYSTEM: i64 = i64::MIN;

/// A source of the current time in milliseconds since the Unix epoch, UTC. Clones
/// share it, so a test that keeps one moves the store's time.
#[derive(Clone, Debug)]
pub struct Clock {
    fixed_ms: Arc<AtomicI64>,
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// Builds a clock that reads the system time.
    pub fn system() -> Clock {
        Clock {
            fixed_ms: Arc::new(AtomicI64::new(SYSTEM)),
        }
    }

    /// Builds a clock that stays at `now_ms` until [`Clock::set_ms`] or
    /// [`Clock::advance`] moves it.
    pub fn manual(now_ms: i64) -> Clock {
        Clock {
            fixed_ms: Arc::new(AtomicI64::new(now_ms)),
        }
    }

    pub fn now_ms(&self) -> i64 {
        match self.fixed_ms.load(Ordering::SeqCst) {
            SYSTEM => system_now_ms(),
            fixed => fixed,
        }
    }

    /// Sets a manual clock to `now_ms`; a system clock turns into a manual one.
    pub fn set_ms(&self, now_ms: i64) {
        self.fixed_ms.store(now_ms, Ordering::SeqCst);
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by_ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.set_ms(self.now_ms().saturating_add(by_ms));
    }
}

/// Returns the system time in milliseconds since the Unix epoch, UTC.
pub fn system_now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = Clock::manual(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.clone().advance(Duration::from_secs(2));
        assert_eq!(clock.now_ms(), 3_000);
        clock.set_ms(10);
        assert_eq!(clock.now_ms(), 10);
    }

    #[test]
    fn system_clock_reads_system_time() {
        let before = system_now_ms();
        let now = Clock::system().now_ms();
        assert!(now >= before, "{now} < {before}");
    }
}
