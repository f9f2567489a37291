//! Where the time of a run goes: seconds per pipeline stage and the peak resident memory,
//! kept under `metrics.json.timings` (with the per-model training timings) and printed in one
//! line after `clickrec train`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use serde::Serialize;

use super::Timing;

/// Seconds spent in each stage of `clickrec train`, in pipeline order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stages {
    /// Reading and parsing the log (and side tables), id coding, de-duplication.
    pub load: f64,
    /// The `[filter]` rules.
    pub filter: f64,
    /// Train/test split.
    pub split: f64,
    /// Train-index coding of ids, the parts' columns, seen lists.
    pub encode: f64,
    /// Fitting the min-max scalers and scaling the feature columns.
    pub features: f64,
    /// Fitting each model (including its data preparation and checkpoints).
    pub fit: BTreeMap<String, f64>,
    /// Scoring the test part and computing every metric, all models.
    pub evaluate: f64,
    /// Writing the models' export folders.
    pub export: f64,
    /// Writing predictions, metrics.json, report.md, plots, and publishing the run dir.
    pub write: f64,
}

impl Stages {
    /// One line: `load 1.2 s · filter 0.1 s · ... · peak RSS 1.9 GB`.
    pub fn line(&self, peak_rss_bytes: u64) -> String {
        let mut s = String::from("stages:");
        let fixed = [
            ("load", self.load),
            ("filter", self.filter),
            ("split", self.split),
            ("encode", self.encode),
            ("features", self.features),
        ];
        for (name, v) in fixed {
            let _ = write!(s, " {name} {v:.2} s ·");
        }
        for (name, v) in &self.fit {
            let _ = write!(s, " fit.{name} {v:.2} s ·");
        }
        let tail = [
            ("evaluate", self.evaluate),
            ("export", self.export),
            ("write", self.write),
        ];
        for (name, v) in tail {
            let _ = write!(s, " {name} {v:.2} s ·");
        }
        let _ = write!(s, " peak RSS {:.2} GB", peak_rss_bytes as f64 / 1e9);
        s
    }
}

/// `metrics.json.timings`: per-model training timings (keyed by model name), the stages and
/// the peak resident set size of the process.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timings {
    #[serde(flatten)]
    pub models: BTreeMap<String, Timing>,
    pub stages: Stages,
    pub peak_rss_bytes: u64,
}

/// A stopwatch that hands out the seconds since the last lap.
pub struct Lap(Instant);

impl Lap {
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Seconds since the start or the previous lap.
    pub fn lap(&mut self) -> f64 {
        let now = Instant::now();
        let s = now.duration_since(self.0).as_secs_f64();
        self.0 = now;
        s
    }
}

/// Peak resident set size of this process so far, in bytes (`getrusage`; 0 where unavailable).
pub fn peak_rss_bytes() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass; zeroed is a valid `rusage`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return 0;
    }
    // Linux reports kilobytes.
    (usage.ru_maxrss.max(0) as u64) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_grows_with_a_large_allocation() {
        let before = peak_rss_bytes();
        assert!(before > 0);
        let big = vec![1u8; 64 << 20];
        std::hint::black_box(&big);
        assert!(peak_rss_bytes() >= before.max(64 << 20), "{before}");
    }

    #[test]
    fn the_stage_line_names_every_stage() {
        let mut s = Stages::default();
        s.fit.insert("ncf".into(), 1.5);
        let line = s.line(2_000_000_000);
        for name in [
            "load", "filter", "split", "encode", "features", "fit.ncf", "evaluate", "export",
            "write",
        ] {
            assert!(line.contains(name), "{name} missing from {line}");
        }
        assert!(line.ends_with("peak RSS 2.00 GB"), "{line}");
    }
}
