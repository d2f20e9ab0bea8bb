//! Exponential backoff between attempts to reach something that failed — the broker, a legacy
//! system's broker or database, a connector restarted by the hub: the first wait, doubling up to a
//! cap, back to the first once an attempt succeeds.

use std::time::Duration;

/// Waits that double from `first` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    current: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            current: first,
            max,
        }
    }

    /// The wait before the next attempt; the one after it is twice as long (at most the cap).
    pub fn next_wait(&mut self) -> Duration {
        let now = self.current;
        self.current = (self.current * 2).min(self.max);
        now
    }

    /// An attempt succeeded: the next wait is the first again.
    pub fn reset(&mut self) {
        self.current = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seen: Vec<_> = (0..4).map(|_| b.next_wait().as_millis()).collect();
        assert_eq!(seen, vec![100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_wait().as_millis(), 100);
    }
}
