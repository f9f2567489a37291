//! The categorical fields of the `ctr` kind (`SynthSpec::fields`): high-cardinality columns such
//! as a real CTR log has (device model, city, site, query, …), written as integer level codes.
//!
//! `fields = N` adds the first N fields of [`CTR_FIELDS`]. Each field has a nominal number of
//! levels (log-spaced from 10 to 1 000 000), capped by the population the level attaches to (the
//! users, the items or the rows), so a small log does not carry a million-row table. A level is
//! drawn Zipf-like: the level of popularity rank r (0-based) has weight `(r + 1)^-s`, the ranks a
//! random permutation of the codes. How a level attaches:
//! * `user`: drawn once per user, the same on all the user's rows (a user attribute);
//! * `item`: drawn once per item (an item attribute);
//! * `impression`: drawn per row (the context of the impression).
//!
//! A *signal* field carries a planted per-level effect `N(0, sd)` added to the click logit; a
//! *noise* field (`sd = 0`) has no effect at all. Fields are independent of each other and of the
//! latent tastes. Level codes are `1..=levels`, written as `Int32`.

use super::world::{Items, Users};
use super::{SynthSpec, stream};
use rand::Rng;
use rand::seq::SliceRandom;
use rand_distr::weighted::WeightedAliasIndex;
use rand_distr::{Distribution, StandardNormal};

/// Most fields `SynthSpec::fields` may ask for (the length of [`CTR_FIELDS`]).
pub const MAX_FIELDS: usize = 10;

/// What a field's level is drawn for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// Once per user.
    User,
    /// Once per item.
    Item,
    /// Once per row.
    Impression,
}

/// One categorical field of the `ctr` kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldDef {
    /// Column name.
    pub name: &'static str,
    /// Nominal number of levels (before the cap by the attached population).
    pub levels: usize,
    pub attach: Attach,
    /// Zipf exponent of the level frequencies.
    pub zipf: f64,
    /// Standard deviation of the planted per-level logit effect; 0 for a noise field.
    pub effect_sd: f64,
}

const fn def(name: &'static str, levels: usize, attach: Attach, zipf: f64, sd: f64) -> FieldDef {
    FieldDef {
        name,
        levels,
        attach,
        zipf,
        effect_sd: sd,
    }
}

/// The fields in the order `fields = N` takes them: 6 signal fields (`os`, `channel`, `city`,
/// `tag`, `site`, `query`) and 4 noise fields (`country`, `app`, `device_model`, `album`).
pub const CTR_FIELDS: [FieldDef; MAX_FIELDS] = [
    def("os", 10, Attach::User, 1.2, 0.2),
    def("channel", 30, Attach::Impression, 1.0, 0.3),
    def("country", 200, Attach::User, 1.1, 0.0),
    def("city", 3_000, Attach::User, 1.0, 0.3),
    def("tag", 10_000, Attach::Item, 0.9, 0.4),
    def("app", 30_000, Attach::Impression, 1.0, 0.0),
    def("site", 100_000, Attach::Impression, 1.0, 0.3),
    def("device_model", 300_000, Attach::User, 0.9, 0.0),
    def("album", 600_000, Attach::Item, 0.8, 0.0),
    def("query", 1_000_000, Attach::Impression, 1.0, 0.4),
];

// Stream tags of the fields (the base log's tags are 1..=5; these never reuse them, so the base
// columns draw exactly what they draw without fields).
const TAG_LEVELS: u64 = 101;
const TAG_USER_CODES: u64 = 102;
const TAG_ITEM_CODES: u64 = 103;
/// Per-row draws of the impression fields (indexed by chunk, like the rows' own stream).
pub(super) const TAG_ROW_CODES: u64 = 104;
/// The impression fields of the bias calibration's pilot sample.
pub(super) const TAG_PILOT_CODES: u64 = 105;

/// The number of levels of `def` in a log of `spec`: its nominal count capped by the users, the
/// items or the rows it attaches to (at least 1).
pub fn field_levels(def: &FieldDef, spec: &SynthSpec) -> usize {
    let population = match def.attach {
        Attach::User => spec.users,
        Attach::Item => spec.items,
        Attach::Impression => spec.rows,
    };
    def.levels.min(population).max(1)
}

/// The level table of one field: a Zipf sampler over its codes and the planted effects.
pub(super) struct Levels {
    sampler: WeightedAliasIndex<f64>,
    /// Planted logit effect of each code (0-based); empty for a noise field.
    pub effect: Vec<f64>,
    /// Popularity-weighted mean and variance of the effect over the levels.
    moments: (f64, f64),
}

impl Levels {
    fn new(def: &FieldDef, n: usize, rng: &mut impl Rng) -> Result<Self, super::SynthError> {
        let mut rank: Vec<u32> = (0..n as u32).collect();
        rank.shuffle(rng);
        let weights: Vec<f64> = rank
            .iter()
            .map(|&r| (f64::from(r) + 1.0).powf(-def.zipf))
            .collect();
        let effect = if def.effect_sd > 0.0 {
            (0..n)
                .map(|_| def.effect_sd * rng.sample::<f64, _>(StandardNormal))
                .collect()
        } else {
            Vec::new()
        };
        let total: f64 = weights.iter().sum();
        let mean = weights.iter().zip(&effect).map(|(w, e)| w * e).sum::<f64>() / total;
        let var = weights
            .iter()
            .zip(&effect)
            .map(|(w, e)| w * (e - mean) * (e - mean))
            .sum::<f64>()
            / total;
        let sampler =
            WeightedAliasIndex::new(weights).map_err(|e| super::SynthError::Internal {
                what: "building a field's level table",
                detail: e.to_string(),
            })?;
        Ok(Levels {
            sampler,
            effect,
            moments: (mean, var),
        })
    }

    /// A level code (0-based) drawn by popularity.
    pub fn draw(&self, rng: &mut impl Rng) -> u32 {
        self.sampler.sample(rng) as u32
    }

    /// The planted effect of code `c` (0 for a noise field).
    pub fn effect_of(&self, c: u32) -> f64 {
        self.effect.get(c as usize).copied().unwrap_or(0.0)
    }
}

/// The fields of one `ctr` log: level tables, per-user and per-item codes and their summed
/// effects. Empty (no work, no draws) when `spec.fields == 0`.
pub(super) struct Fields {
    pub defs: &'static [FieldDef],
    pub levels: Vec<Levels>,
    /// Per field: the code of each user (user fields) or each item (item fields); empty for an
    /// impression field.
    pub fixed_codes: Vec<Vec<u32>>,
    /// Indices (into `defs`) of the impression fields, in order.
    pub impression: Vec<usize>,
    /// Summed planted effect of each user's user fields (empty when there are none).
    pub user_effect: Vec<f64>,
    /// Summed planted effect of each item's item fields (empty when there are none).
    pub item_effect: Vec<f64>,
}

impl Fields {
    pub fn new(spec: &SynthSpec, users: &Users, items: &Items) -> Result<Self, super::SynthError> {
        let defs = &CTR_FIELDS[..spec.fields.min(MAX_FIELDS)];
        let mut levels = Vec::with_capacity(defs.len());
        for (f, def) in defs.iter().enumerate() {
            let mut rng = stream(spec.seed, TAG_LEVELS, f as u64);
            levels.push(Levels::new(def, field_levels(def, spec), &mut rng)?);
        }
        let mut fixed_codes = Vec::with_capacity(defs.len());
        let mut user_effect = Vec::new();
        let mut item_effect = Vec::new();
        for (f, def) in defs.iter().enumerate() {
            let (n, tag, sum) = match def.attach {
                Attach::Impression => {
                    fixed_codes.push(Vec::new());
                    continue;
                }
                Attach::User => (users.n, TAG_USER_CODES, &mut user_effect),
                Attach::Item => (items.n, TAG_ITEM_CODES, &mut item_effect),
            };
            let mut rng = stream(spec.seed, tag, f as u64);
            let codes: Vec<u32> = (0..n).map(|_| levels[f].draw(&mut rng)).collect();
            if sum.is_empty() {
                sum.resize(n, 0.0);
            }
            for (s, &c) in sum.iter_mut().zip(&codes) {
                *s += levels[f].effect_of(c);
            }
            fixed_codes.push(codes);
        }
        let impression = (0..defs.len())
            .filter(|&f| defs[f].attach == Attach::Impression)
            .collect();
        Ok(Fields {
            defs,
            levels,
            fixed_codes,
            impression,
            user_effect,
            item_effect,
        })
    }

    /// Summed effect of the user's and the item's fixed fields.
    pub fn fixed_effect(&self, u: usize, i: usize) -> f64 {
        self.user_effect.get(u).copied().unwrap_or(0.0)
            + self.item_effect.get(i).copied().unwrap_or(0.0)
    }

    /// Draws the impression fields of one row into `codes` (one per impression field, 0-based)
    /// and returns their summed effect.
    pub fn draw_impression(&self, rng: &mut impl Rng, codes: &mut Vec<u32>) -> f64 {
        let mut effect = 0.0;
        for &f in &self.impression {
            let c = self.levels[f].draw(rng);
            effect += self.levels[f].effect_of(c);
            codes.push(c);
        }
        effect
    }

    /// Popularity-weighted mean and variance of the summed impression effects (the fields are
    /// independent, so means and variances add). The truth integrates them out with these.
    pub fn impression_moments(&self) -> (f64, f64) {
        self.impression
            .iter()
            .map(|&f| self.levels[f].moments)
            .fold((0.0, 0.0), |(m, v), (fm, fv)| (m + fm, v + fv))
    }
}

/// The planted effects of field `f` (an index into [`CTR_FIELDS`]) of a log of `spec`, per
/// 0-based code (empty for a noise field): the same table the generator draws.
#[cfg(test)]
pub(super) fn level_effects(spec: &SynthSpec, f: usize) -> Result<Vec<f64>, super::SynthError> {
    let def = &CTR_FIELDS[f];
    let mut rng = stream(spec.seed, TAG_LEVELS, f as u64);
    Ok(Levels::new(def, field_levels(def, spec), &mut rng)?.effect)
}
