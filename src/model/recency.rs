//! Recency weighting of interactions (`als.half_life_days`, `popularity.half_life_days`).
//!
//! An interaction `age` days older than the newest train interaction counts
//! `0.5^(age / half_life)` times its strength: a half-life of 30 days halves a month-old view.
//! Click logs drift (news articles, new releases), and a last-day test part is about what users
//! do next, so recent interactions say more about it than old ones. The half-life is a setting to
//! tune on validation (`"als.half_life_days" = [inf, 7.0, 30.0, 90.0]` in `[tune.space]`);
//! `inf` or an absent key is no decay, today's model exactly.
//!
//! The reference is the newest timestamp of the rows the model is fit on, so only train rows are
//! read. Moving the reference multiplies every weight by one constant, which ALS and popularity
//! absorb (into alpha, or not at all for a ranking), so a trial fit on the train part minus its
//! validation part ranks like the final fit on the whole train part.

use serde::{Deserialize, Serialize};

const SECONDS_PER_DAY: f64 = 86_400.0;

/// A half-life and the timestamp at which weights are 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Decay {
    pub half_life_days: f64,
    /// Unix seconds (UTC) of the newest train interaction.
    pub reference_ts: i64,
}

impl Decay {
    /// The decay for a half-life over rows with timestamps `ts`; `None` when there is no decay
    /// (no half-life, an infinite one, or no rows).
    pub fn over(half_life_days: Option<f64>, ts: &[i64]) -> Option<Decay> {
        let h = half_life_days.filter(|h| h.is_finite())?;
        let reference_ts = *ts.iter().max()?;
        Some(Decay {
            half_life_days: h,
            reference_ts,
        })
    }

    /// The factor of an interaction at `ts`: `0.5^((reference − ts) / half_life)`, at least the
    /// smallest positive f32 so that an old interaction stays an (almost weightless) interaction
    /// instead of vanishing by underflow.
    pub fn factor(&self, ts: i64) -> f32 {
        let age_days = (self.reference_ts - ts) as f64 / SECONDS_PER_DAY;
        let f = (-(age_days / self.half_life_days) * std::f64::consts::LN_2).exp();
        (f as f32).max(f32::MIN_POSITIVE)
    }
}

/// The factor of each row: all 1 without a decay.
pub fn factors(decay: Option<&Decay>, ts: &[i64]) -> Vec<f32> {
    match decay {
        Some(d) => ts.iter().map(|&t| d.factor(t)).collect(),
        None => vec![1.0; ts.len()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    #[test]
    fn halves_per_half_life_from_the_newest_row() {
        let ts = [10 * DAY, 40 * DAY, 70 * DAY, 100 * DAY];
        let d = Decay::over(Some(30.0), &ts).unwrap();
        assert_eq!(d.reference_ts, 100 * DAY);
        let f = factors(Some(&d), &ts);
        for (got, want) in f.iter().zip([0.125f32, 0.25, 0.5, 1.0]) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // 45 days is one and a half half-lives.
        assert!((d.factor(55 * DAY) - 0.5f32.powf(1.5)).abs() < 1e-6);
    }

    #[test]
    fn no_half_life_or_infinite_or_no_rows_is_no_decay() {
        assert_eq!(Decay::over(None, &[1, 2]), None);
        assert_eq!(Decay::over(Some(f64::INFINITY), &[1, 2]), None);
        assert_eq!(Decay::over(Some(7.0), &[]), None);
        assert_eq!(factors(None, &[5, 6, 7]), vec![1.0; 3]);
    }

    /// Train rows (user, item, day): (1, 10, 0), (1, 11, 1), (2, 10, 2); the newest is day 2.
    /// With a 1-day half-life they count 1/4, 1/2 and 1.
    fn dataset() -> crate::dataset::Dataset {
        crate::split::tests::leave_last_out_dataset(&[
            (1, 10, 0),
            (1, 11, DAY),
            (1, 12, 2 * DAY),
            (2, 10, 2 * DAY),
            (2, 11, 3 * DAY),
        ])
    }

    #[test]
    fn popularity_and_the_als_matrix_count_decayed_rows() {
        use crate::model::{als, popularity::Popularity};
        let ds = dataset();
        let item = |raw: &str| ds.items.find(raw).unwrap() as usize;
        let user = |raw: &str| ds.users.find(raw).unwrap() as usize;
        let p = Popularity::fit(&ds, Some(1.0));
        assert_eq!(p.decay.unwrap().reference_ts, 2 * DAY);
        assert!((p.scores[item("10")] - 1.25).abs() < 1e-6);
        assert!((p.scores[item("11")] - 0.5).abs() < 1e-6);
        let plain = Popularity::fit(&ds, None);
        assert_eq!(
            (plain.scores[item("10")], plain.scores[item("11")]),
            (2.0, 1.0)
        );
        assert_eq!(plain.decay, None);

        let d = Decay::over(Some(1.0), &ds.train.ts);
        let m = als::train_matrix(&ds, d.as_ref()).unwrap();
        let entry = |u: usize, i: usize| {
            let (cols, vals) = m.row(u);
            cols.iter().position(|&c| c as usize == i).map(|k| vals[k])
        };
        assert_eq!(entry(user("1"), item("10")), Some(0.25));
        assert_eq!(entry(user("1"), item("11")), Some(0.5));
        assert_eq!(entry(user("2"), item("10")), Some(1.0));
        assert_eq!(entry(user("2"), item("11")), None);
        let m = als::train_matrix(&ds, None).unwrap();
        assert_eq!(m.data, vec![1.0; 3]);
    }

    #[test]
    fn very_old_rows_keep_a_positive_weight() {
        let d = Decay::over(Some(1.0), &[0, 10_000 * DAY]).unwrap();
        let f = d.factor(0);
        assert!(f > 0.0 && f <= f32::MIN_POSITIVE, "{f}");
        // A row newer than the reference (a fold-in history) weighs more than 1.
        assert!((d.factor(10_001 * DAY) - 2.0).abs() < 1e-5);
    }
}
