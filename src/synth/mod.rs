//! Seeded generator of realistic click logs with *planted* structure.
//!
//! This is clickrec's embedded default data (no download needed) and the engine behind
//! `clickrec generate`. Because the structure is planted (users and items carry latent taste
//! vectors, clicks and follow-up events depend on their dot product), model metrics on this data
//! mean something: a model that learns the taste vectors beats popularity, a model that does not
//! cannot.
//!
//! Two kinds of log exist (see [`SynthKind`]):
//! * `ctr`: an impression log in the style of the NetEase music-card CTR data, one row per shown
//!   card with a 0/1 `is_click` label, the 11 numeric features of [`CTR_FEATURES`] and a
//!   categorical `device` column, plus with [`SynthSpec::fields`] up to ten categorical fields
//!   of 10 to 1 000 000 levels ([`CTR_FIELDS`]) written as `Int32` level codes;
//! * `events`: an interaction log in the style of CI&T DeskDrop (`timestamp, eventType,
//!   contentId, personId`).
//!
//! The result is a polars `DataFrame` shaped exactly as if the file had been read from CSV
//! (integer columns are `Int64`, strings are `String`), so loaders treat it like a file. The
//! one exception is the fields' level codes: `Int32`, which halves their memory (a CSV file read
//! back has them as `Int64`; the loaders read both alike).
//!
//! Determinism: the same [`SynthSpec`] always yields the same frame, byte for byte, whatever the
//! number of rayon threads: every random draw comes from a ChaCha8 stream seeded from
//! `(seed, purpose, chunk index)` and a chunk is a fixed block of 1024 users.
//!
//! Cost: rows are generated user by user, so 10 M `ctr` rows take about 2 s of CPU and peak
//! memory is about the size of the frame itself (~1.4 GB for 10 M `ctr` rows, plus 40 MB per
//! million rows with `fields = 10`).

mod ctr;
mod events;
mod fields;
mod io;
mod oracle;
mod world;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_events;
#[cfg(test)]
mod tests_fields;
#[cfg(test)]
mod tests_oracle;

use polars::prelude::PolarsError;
use serde::Deserialize;
use std::path::PathBuf;

pub use ctr::{CTR_FEATURES, DEVICES, TARGET_CLICK_RATE, ctr_oracle_affinity};
pub use events::EVENT_TYPES;
pub use fields::{Attach, CTR_FIELDS, FieldDef, MAX_FIELDS, field_levels};
pub use io::{WRITABLE_EXTENSIONS, write_frame};
pub use oracle::SynthOracle;

/// Unix seconds of 2023-11-14 00:00:00 UTC: 1_700_000_000 rounded down to a UTC midnight.
pub const DEFAULT_START: i64 = 1_699_920_000;

/// Largest accepted number of rows (row indices are packed into 32 bits while sorting).
pub const MAX_ROWS: usize = 1 << 31;
/// Largest accepted number of users or items (each costs ~100 bytes of generator state).
pub const MAX_ENTITIES: usize = 1 << 26;
/// Largest accepted number of calendar days (100 years).
pub const MAX_DAYS: u32 = 36_500;

const SECONDS_PER_DAY: i64 = 86_400;

/// Which log to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SynthKind {
    /// Impression log with a click label and numeric + categorical features.
    Ctr,
    /// DeskDrop-like interaction log (VIEW, LIKE, BOOKMARK, FOLLOW, COMMENT CREATED).
    Events,
}

impl std::fmt::Display for SynthKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SynthKind::Ctr => "ctr",
            SynthKind::Events => "events",
        })
    }
}

/// What to generate. Missing fields in a config take the values of [`SynthSpec::default`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthSpec {
    /// Which log to generate.
    pub kind: SynthKind,
    /// Number of distinct users in the population (every user appears when `rows >= 2 * users`).
    pub users: usize,
    /// Number of items (cards / articles) in the catalogue.
    pub items: usize,
    /// Exact number of rows of the returned frame.
    pub rows: usize,
    /// Number of calendar days the log spans; users are active on a subset of them.
    pub days: u32,
    /// Seed of every random draw.
    pub seed: u64,
    /// Unix seconds of the start of day 0. Keep it a UTC midnight so that
    /// `floor(timestamp / 86400)` gives the generator's days.
    pub start: i64,
    /// Number of categorical fields of a `ctr` log: the first `fields` of [`CTR_FIELDS`]
    /// (0 to [`MAX_FIELDS`]; 0 is the log without fields).
    pub fields: usize,
}

impl Default for SynthSpec {
    fn default() -> Self {
        SynthSpec {
            kind: SynthKind::Ctr,
            users: 2_000,
            items: 1_000,
            rows: 200_000,
            days: 14,
            seed: 42,
            start: DEFAULT_START,
            fields: 0,
        }
    }
}

/// Errors of the generator and of [`write_frame`].
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    /// A field of the spec is out of range.
    #[error("invalid synthetic data spec: `{field}` = {value} {reason}")]
    InvalidSpec {
        field: &'static str,
        value: String,
        reason: String,
    },
    /// An internal distribution could not be built (should not happen for a validated spec).
    #[error("synthetic generator failed while {what}: {detail}; please report this with the spec")]
    Internal { what: &'static str, detail: String },
    /// The output path has an extension other than `.csv` / `.parquet`.
    #[error(
        "cannot write {path}: unsupported extension {found:?}; use a path ending in .csv or .parquet"
    )]
    UnsupportedExtension { path: PathBuf, found: String },
    /// Creating, writing or renaming the output file failed.
    #[error("cannot write {path}: {source}; check that the directory exists and is writable")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Polars failed to build or serialise the frame.
    #[error("polars error while {what}: {source}")]
    Polars {
        what: String,
        #[source]
        source: PolarsError,
    },
}

impl SynthSpec {
    /// Checks every field; returns the first problem found.
    pub fn validate(&self) -> Result<(), SynthError> {
        let bad = |field: &'static str, value: String, reason: &str| {
            Err(SynthError::InvalidSpec {
                field,
                value,
                reason: reason.to_string(),
            })
        };
        for (field, value) in [("users", self.users), ("items", self.items)] {
            if value == 0 {
                return bad(field, value.to_string(), "must be at least 1");
            }
            if value > MAX_ENTITIES {
                return bad(
                    field,
                    value.to_string(),
                    &format!("is too large; at most {MAX_ENTITIES} are supported"),
                );
            }
        }
        if self.rows == 0 {
            return bad("rows", "0".into(), "must be at least 1");
        }
        if self.rows > MAX_ROWS {
            return bad(
                "rows",
                self.rows.to_string(),
                &format!("is too large; at most {MAX_ROWS} are supported"),
            );
        }
        if self.days == 0 {
            return bad("days", "0".into(), "must be at least 1");
        }
        if self.days > MAX_DAYS {
            return bad(
                "days",
                self.days.to_string(),
                &format!("is too large; at most {MAX_DAYS} are supported"),
            );
        }
        if self.fields > MAX_FIELDS {
            return bad(
                "fields",
                self.fields.to_string(),
                &format!("is too large; at most {MAX_FIELDS} categorical fields exist"),
            );
        }
        if self.fields > 0 && self.kind != SynthKind::Ctr {
            return bad(
                "fields",
                self.fields.to_string(),
                "applies to the ctr kind only; use 0 for events",
            );
        }
        let span = (i64::from(self.days) + 1) * SECONDS_PER_DAY;
        if self.start.checked_add(span).is_none() {
            return bad(
                "start",
                self.start.to_string(),
                "puts the log's timestamps out of the i64 range; use unix seconds such as 1699920000",
            );
        }
        Ok(())
    }
}

/// Generates the log described by `spec` (after validating it).
///
/// Columns, in order:
/// * `ctr`: `user, item, timestamp, is_click`, the 11 [`CTR_FEATURES`], `device`, then the
///   first `spec.fields` names of [`CTR_FIELDS`];
/// * `events`: `timestamp, eventType, contentId, personId`.
///
/// `ctr` rows are grouped by user (ascending id, like MovieLens' files) and in time order within
/// a user; `events` rows are in time order (ties keep generation order).
pub fn generate(spec: &SynthSpec) -> Result<polars::prelude::DataFrame, SynthError> {
    spec.validate()?;
    match spec.kind {
        SynthKind::Ctr => ctr::generate_ctr(spec),
        SynthKind::Events => events::generate_events(spec),
    }
}

/// The splitmix64 finaliser: a bijection on `u64` that scrambles bits well.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A ChaCha8 stream for one purpose (`tag`) and one chunk (`index`) of the run seeded by `seed`.
pub(crate) fn stream(seed: u64, tag: u64, index: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let s = mix64(mix64(seed ^ mix64(tag)).wrapping_add(index));
    rand_chacha::ChaCha8Rng::seed_from_u64(s)
}

pub(crate) fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Finds `b` such that `mean(sigmoid(b + x)) == target` by bisection (the mean is increasing in
/// `b`). Used to calibrate base rates on a pilot sample.
pub(crate) fn calibrate_bias(xs: &[f64], target: f64) -> f64 {
    if xs.is_empty() {
        return (target / (1.0 - target)).ln();
    }
    let (mut lo, mut hi) = (-40.0_f64, 40.0_f64);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        let mean = xs.iter().map(|&x| sigmoid(mid + x)).sum::<f64>() / xs.len() as f64;
        if mean < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Sorts row indices by `(offset, index)` where `offset` is seconds since `start`.
/// Returns the permutation (as `u64` holding row indices). Deterministic because keys are unique.
pub(crate) fn time_order(timestamps: &[i64], start: i64) -> Vec<u64> {
    use rayon::prelude::*;
    let mut keys: Vec<u64> = timestamps
        .par_iter()
        .enumerate()
        .map(|(i, &t)| {
            let offset = (t - start).clamp(0, u32::MAX as i64) as u64;
            (offset << 32) | i as u64
        })
        .collect();
    keys.par_sort_unstable();
    keys.par_iter_mut().for_each(|k| *k &= 0xFFFF_FFFF);
    keys
}
