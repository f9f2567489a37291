//! Where a training step's time goes: `CLICKREC_STEP_TIMES=1` splits every step into its phases
//! and prints the split once per epoch (stderr).
//!
//! A phase ends with a device sync while the clock runs, so on a GPU each phase's time is its
//! own kernels' rather than whichever later call happened to wait for them. The syncs cost time
//! themselves (a GPU step loses its overlap of host and device work), so the clock is off unless
//! asked for, and the epoch's samples/s with it on are not the speed to quote.

use burn::tensor::Device;
use std::time::Instant;

/// The phases of a step, in order.
#[derive(Debug, Clone, Copy)]
pub(super) enum Phase {
    /// The batch's table rows per field (host).
    Ids,
    /// The network input: rows gathered and uploaded (host tables) or ids uploaded and rows
    /// gathered there (device tables), dense features and labels.
    Input,
    Forward,
    Backward,
    /// The row-sparse update of every field table, with Burn's Adam on the dense layers
    /// alongside (host tables: on the calling thread while the team updates the tables).
    Update,
}

const NAMES: [&str; 5] = ["ids", "input", "forward", "backward", "update"];

/// Per-phase seconds of the steps so far; a no-op unless `CLICKREC_STEP_TIMES` is set.
pub(super) struct StepClock {
    on: bool,
    device: Device,
    last: Instant,
    seconds: [f64; 5],
    steps: usize,
}

impl StepClock {
    pub(super) fn from_env(device: &Device) -> Self {
        let on = std::env::var_os("CLICKREC_STEP_TIMES").is_some_and(|v| v != "0" && !v.is_empty());
        Self {
            on,
            device: device.clone(),
            last: Instant::now(),
            seconds: [0.0; 5],
            steps: 0,
        }
    }

    /// Starts a step.
    #[inline]
    pub(super) fn start(&mut self) {
        if self.on {
            self.steps += 1;
            self.last = Instant::now();
        }
    }

    /// Ends `phase` (after waiting for the device's queued work).
    #[inline]
    pub(super) fn lap(&mut self, phase: Phase) {
        if self.on {
            // A failed sync shows as a later error of the step itself; the clock only waits.
            let _ = self.device.sync();
            let now = Instant::now();
            self.seconds[phase as usize] += (now - self.last).as_secs_f64();
            self.last = now;
        }
    }

    /// The split so far as one line (None when off or before any step), and a fresh count.
    pub(super) fn take_line(&mut self, model: &str, epoch: usize) -> Option<String> {
        if !self.on || self.steps == 0 {
            return None;
        }
        let total: f64 = self.seconds.iter().sum();
        let parts: Vec<String> = NAMES
            .iter()
            .zip(self.seconds)
            .map(|(n, s)| {
                format!(
                    "{n} {:.1} µs ({:.0}%)",
                    1e6 * s / self.steps as f64,
                    100.0 * s / total.max(1e-12)
                )
            })
            .collect();
        let line = format!(
            "step times, {model} epoch {epoch}, {} steps of {:.1} µs: {}",
            self.steps,
            1e6 * total / self.steps as f64,
            parts.join(" · ")
        );
        self.seconds = [0.0; 5];
        self.steps = 0;
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clock(on: bool) -> StepClock {
        StepClock {
            on,
            device: crate::ncf::backend::inference_device(),
            last: Instant::now(),
            seconds: [0.0; 5],
            steps: 0,
        }
    }

    #[test]
    fn the_split_covers_every_phase_and_resets() {
        let mut c = clock(true);
        assert!(c.take_line("m", 1).is_none(), "no steps yet");
        c.start();
        for p in [
            Phase::Ids,
            Phase::Input,
            Phase::Forward,
            Phase::Backward,
            Phase::Update,
        ] {
            std::thread::sleep(std::time::Duration::from_millis(1));
            c.lap(p);
        }
        let line = c.take_line("m", 1).expect("a line");
        for n in NAMES {
            assert!(line.contains(&format!("{n} ")), "{line}");
        }
        assert!(line.contains("1 steps"), "{line}");
        assert!(c.seconds.iter().all(|&s| s == 0.0) && c.steps == 0);
        assert!(c.seconds.len() == NAMES.len());
    }

    #[test]
    fn off_by_default_records_nothing() {
        let mut c = clock(false);
        c.start();
        c.lap(Phase::Forward);
        assert!(c.take_line("m", 1).is_none());
    }
}
