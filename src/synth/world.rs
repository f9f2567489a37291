//! The latent population shared by both log kinds: users with heavy-tailed activity, a set of
//! active calendar days and a taste vector; items with a Zipf-like popularity and a taste vector.

use super::{SynthError, SynthSpec};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, StandardNormal};

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
    activity: WeightedAliasIndex<f64>,
    /// Number of leading draws that go through the warm-up (2 per user, see [`Users::pick`]).
    warmup: usize,
}

impl Users {
    pub fn new(spec: &SynthSpec, rng: &mut impl Rng) -> Result<Self, SynthError> {
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
        Ok(Users {
            n,
            activity_z,
            latent,
            day_offsets,
            active_days,
            activity: alias(weights, "building the user activity table")?,
            warmup: 2 * n,
        })
    }

    pub fn latent_of(&self, u: usize) -> &[f64] {
        &self.latent[u * LATENT_DIM..(u + 1) * LATENT_DIM]
    }

    /// Share of draws that are warm-up draws when `draws` draws are made in total.
    pub fn warmup_share(&self, draws: usize) -> f64 {
        (self.warmup.min(draws) as f64) / (draws.max(1) as f64)
    }

    /// The user and day of global draw number `index`.
    ///
    /// The first `2 * users` draws are the warm-up: draw `i` goes to user `i % users` on the
    /// `i / users`-th of their active days, so with `rows >= 2 * users` every user appears, on
    /// two distinct days when `days >= 2`. Later draws pick the user by heavy-tailed activity
    /// and the day uniformly among the user's active days.
    pub fn pick(&self, index: usize, rng: &mut impl Rng) -> (usize, u32) {
        let (u, slot) = if index < self.warmup {
            (index % self.n, Some(index / self.n))
        } else {
            (self.activity.sample(rng), None)
        };
        let (a, b) = (self.day_offsets[u], self.day_offsets[u + 1]);
        let k = b - a;
        let j = match slot {
            Some(s) => s.min(k - 1),
            None => rng.random_range(0..k),
        };
        (u, self.active_days[a + j])
    }

    /// A draw from the same mixture as [`Users::pick`] over a log of `draws` draws, for pilot
    /// samples: uniform user with the warm-up share, activity-weighted otherwise.
    pub fn pilot_user(&self, draws: usize, rng: &mut impl Rng) -> usize {
        if rng.random::<f64>() < self.warmup_share(draws) {
            rng.random_range(0..self.n)
        } else {
            self.activity.sample(rng)
        }
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

/// The planted affinity `u·v / sqrt(LATENT_DIM)`: about N(0, 1) over random pairs.
pub(crate) fn affinity(u: &[f64], v: &[f64]) -> f64 {
    let dot: f64 = u.iter().zip(v).map(|(a, b)| a * b).sum();
    dot / (LATENT_DIM as f64).sqrt()
}
