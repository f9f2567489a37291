//! The latent population shared by both log kinds: users with heavy-tailed activity, a set of
//! active calendar days and a taste vector; items with a Zipf-like popularity and a taste vector.

use super::{SynthError, SynthSpec};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Binomial, Distribution, StandardNormal};

/// Dimension of the planted taste vectors.
pub(crate) const LATENT_DIM: usize = 8;
/// Zipf exponent of item exposure: weight of the item of popularity rank r (0-based) is
/// `(r + 1)^-ZIPF_EXPONENT`.
const ZIPF_EXPONENT: f64 = 0.8;
/// Spread of log-activity: activity = exp(ACTIVITY_SIGMA * z), z ~ N(0, 1).
const ACTIVITY_SIGMA: f64 = 1.1;
/// Upper bound on the number of active days of one user (bounds generator memory).
const MAX_ACTIVE_DAYS: usize = 366;

fn alias(weights: Vec<f64>, what: &'static str) -> Result<WeightedAliasIndex<f64>, SynthError> {
    WeightedAliasIndex::new(weights).map_err(|e| SynthError::Internal {
        what,
        detail: e.to_string(),
    })
}

fn latent(rng: &mut impl Rng, n: usize) -> Vec<f64> {
    (0..n * LATENT_DIM)
        .map(|_| rng.sample::<f64, _>(StandardNormal))
        .collect()
}

/// Users: activity (who shows up how often), active days, taste.
pub(crate) struct Users {
    pub n: usize,
    /// Standard-normal draw behind the activity; features correlate with it.
    pub activity_z: Vec<f64>,
    /// `n * LATENT_DIM` taste coordinates, row-major, each N(0, 1).
    pub latent: Vec<f64>,
    /// CSR offsets into `active_days` (length `n + 1`).
    day_offsets: Vec<usize>,
    /// Distinct active days of each user, in random order.
    active_days: Vec<u32>,
    /// Activity weight of each user (relative number of rows).
    weights: Vec<f64>,
}

impl Users {
    pub fn new(spec: &SynthSpec, rng: &mut impl Rng) -> Self {
        let n = spec.users;
        let days = spec.days as usize;
        let activity_z: Vec<f64> = (0..n).map(|_| rng.sample(StandardNormal)).collect();
        let weights: Vec<f64> = activity_z
            .iter()
            .map(|z| (ACTIVITY_SIGMA * z).exp())
            .collect();
        let latent = latent(rng, n);
        let mut day_offsets = Vec::with_capacity(n + 1);
        let mut active_days = Vec::new();
        day_offsets.push(0);
        for w in &weights {
            // Heavier users come back on more days; everyone gets >= 2 days when possible.
            let k = (2.0 + (w * days as f64 / 5.0).floor()) as usize;
            let k = k.clamp(days.min(2), days.min(MAX_ACTIVE_DAYS));
            let picked = rand::seq::index::sample(rng, days, k);
            active_days.extend(picked.iter().map(|d| d as u32));
            day_offsets.push(active_days.len());
        }
        Users {
            n,
            activity_z,
            latent,
            day_offsets,
            active_days,
            weights,
        }
    }

    pub fn latent_of(&self, u: usize) -> &[f64] {
        &self.latent[u * LATENT_DIM..(u + 1) * LATENT_DIM]
    }

    /// Active days of user `u` (distinct, in random order, at least one).
    pub fn days_of(&self, u: usize) -> &[u32] {
        &self.active_days[self.day_offsets[u]..self.day_offsets[u + 1]]
    }

    /// Where each user's rows start when `rows` rows are shared out (`users + 1` offsets, the
    /// last is `rows`). Each user gets `min(2, rows / users)` rows (the warm-up, placed on their
    /// first two active days by the callers), the rest is split multinomially by activity
    /// (sequential conditional binomials, so the counts sum to `rows` exactly).
    pub fn row_offsets(&self, rows: usize, rng: &mut impl Rng) -> Result<Vec<usize>, SynthError> {
        let base = (rows / self.n).min(2);
        let mut counts = vec![base; self.n];
        let mut remaining = (rows - base * self.n) as u64;
        let mut weight_left: f64 = self.weights.iter().sum();
        for (u, (count, w)) in counts.iter_mut().zip(&self.weights).enumerate() {
            if remaining == 0 {
                break;
            }
            let p = if u + 1 == self.n {
                1.0
            } else {
                (w / weight_left).clamp(0.0, 1.0)
            };
            let k = Binomial::new(remaining, p)
                .map_err(|e| SynthError::Internal {
                    what: "splitting rows over users",
                    detail: e.to_string(),
                })?
                .sample(rng);
            *count += k as usize;
            remaining -= k;
            weight_left -= w;
        }
        let mut offsets = Vec::with_capacity(self.n + 1);
        offsets.push(0);
        let mut total = 0;
        for c in counts {
            total += c;
            offsets.push(total);
        }
        Ok(offsets)
    }
}

/// Items: exposure popularity and taste.
pub(crate) struct Items {
    pub n: usize,
    /// `n * LATENT_DIM` taste coordinates, row-major, each N(0, 1).
    pub latent: Vec<f64>,
    /// Exposure weight of each item (Zipf over a random permutation of ranks), summing to 1.
    pub share: Vec<f64>,
    exposure: WeightedAliasIndex<f64>,
}

impl Items {
    pub fn new(spec: &SynthSpec, rng: &mut impl Rng) -> Result<Self, SynthError> {
        let n = spec.items;
        let latent = latent(rng, n);
        let mut rank: Vec<usize> = (0..n).collect();
        rank.shuffle(rng);
        let weights: Vec<f64> = rank
            .iter()
            .map(|&r| ((r + 1) as f64).powf(-ZIPF_EXPONENT))
            .collect();
        let total: f64 = weights.iter().sum();
        let share = weights.iter().map(|w| w / total).collect();
        Ok(Items {
            n,
            latent,
            share,
            exposure: alias(weights, "building the item popularity table")?,
        })
    }

    pub fn latent_of(&self, i: usize) -> &[f64] {
        &self.latent[i * LATENT_DIM..(i + 1) * LATENT_DIM]
    }

    /// An item drawn by popularity alone.
    pub fn by_popularity(&self, rng: &mut impl Rng) -> usize {
        self.exposure.sample(rng)
    }
}

/// The user owning row `row` given [`Users::row_offsets`]: the last offset `<= row`.
pub(crate) fn owner(offsets: &[usize], row: usize) -> usize {
    offsets.partition_point(|&o| o <= row).saturating_sub(1)
}

/// The planted affinity `u·v / sqrt(LATENT_DIM)`: about N(0, 1) over random pairs.
pub(crate) fn affinity(u: &[f64], v: &[f64]) -> f64 {
    let dot: f64 = u.iter().zip(v).map(|(a, b)| a * b).sum();
    dot / (LATENT_DIM as f64).sqrt()
}
