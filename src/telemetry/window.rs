//! Recent rates of one connector: events out per minute over the last five minutes, records
//! failed in the last hour. The totals only ever grow, so a ring of their values sampled once a
//! minute is enough: a rate is the total now minus the total sampled then.

/// Minutes of samples kept: a little more than the hour the longest rate looks back.
const SLOTS: usize = 64;
/// The window of `out_per_min`, in minutes.
const OUT_MINUTES: u64 = 5;
/// The window of `failed_last_hour`, in minutes.
const FAILED_MINUTES: u64 = 60;

/// Running totals at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub out: u64,
    pub failed: u64,
}

/// Rates over the recent past.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Recent {
    /// Events out over the last five minutes, divided by five.
    pub out_per_min: f64,
    /// Records that failed in the last hour.
    pub failed_last_hour: u64,
}

/// The totals sampled at the start of each minute (minutes since the Unix epoch).
#[derive(Debug)]
pub struct Window {
    samples: [Option<(u64, Totals)>; SLOTS],
}

impl Window {
    /// A window whose totals were zero at `minute` (when counting began).
    pub fn starting(minute: u64) -> Self {
        let mut window = Self {
            samples: [None; SLOTS],
        };
        window.sample(minute, Totals::default());
        window
    }

    /// Records the totals at `minute`; the first sample of a minute stands for it (sampling
    /// more often than once a minute is harmless).
    pub fn sample(&mut self, minute: u64, totals: Totals) {
        let slot = &mut self.samples[(minute % SLOTS as u64) as usize];
        if slot.is_none_or(|(m, _)| m != minute) {
            *slot = Some((minute, totals));
        }
    }

    /// The rates at `minute`, given the totals now.
    pub fn recent(&self, minute: u64, now: Totals) -> Recent {
        let out = now
            .out
            .saturating_sub(self.at(minute.saturating_sub(OUT_MINUTES)).out);
        let failed = now
            .failed
            .saturating_sub(self.at(minute.saturating_sub(FAILED_MINUTES)).failed);
        Recent {
            out_per_min: out as f64 / OUT_MINUTES as f64,
            failed_last_hour: failed,
        }
    }

    /// The totals at `minute`: the newest sample no later, or the oldest sample kept when every
    /// sample is later (counting began after `minute`).
    fn at(&self, minute: u64) -> Totals {
        let kept = self.samples.iter().flatten();
        let before = kept
            .clone()
            .filter(|(m, _)| *m <= minute)
            .max_by_key(|(m, _)| *m);
        before
            .or_else(|| kept.min_by_key(|(m, _)| *m))
            .map_or_else(Totals::default, |(_, totals)| *totals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(out: u64, failed: u64) -> Totals {
        Totals { out, failed }
    }

    #[test]
    fn out_per_minute_counts_the_last_five_minutes_only() {
        let mut window = Window::starting(100);
        window.sample(101, totals(1_000, 0));
        window.sample(102, totals(1_000, 0));
        window.sample(106, totals(1_300, 0));
        let recent = window.recent(106, totals(1_500, 0));
        assert_eq!(recent.out_per_min, 100.0, "(1500 - 1000 at minute 101) / 5");
    }

    #[test]
    fn the_first_sample_of_a_minute_stands_for_it() {
        let mut window = Window::starting(0);
        window.sample(1, totals(10, 0));
        window.sample(1, totals(40, 0));
        assert_eq!(window.recent(6, totals(60, 0)).out_per_min, 10.0);
    }

    #[test]
    fn a_young_window_counts_from_zero() {
        let window = Window::starting(100);
        let recent = window.recent(102, totals(50, 3));
        assert_eq!(recent.out_per_min, 10.0);
        assert_eq!(recent.failed_last_hour, 3);
    }

    #[test]
    fn failures_older_than_an_hour_drop_out() {
        let mut window = Window::starting(0);
        window.sample(10, totals(0, 7));
        for minute in 11..=70 {
            window.sample(minute, totals(0, 9));
        }
        assert_eq!(
            window.recent(70, totals(0, 12)).failed_last_hour,
            5,
            "the sample of minute 10 is the last before the hour began"
        );
        for minute in 71..=75 {
            window.sample(minute, totals(0, 9));
        }
        assert_eq!(window.recent(75, totals(0, 12)).failed_last_hour, 3);
    }

    #[test]
    fn a_missed_minute_falls_back_to_the_sample_before_it() {
        let mut window = Window::starting(0);
        window.sample(3, totals(30, 0));
        window.sample(9, totals(90, 0));
        assert_eq!(window.recent(9, totals(100, 0)).out_per_min, 14.0);
    }
}
