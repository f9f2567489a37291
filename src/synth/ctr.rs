//! The `ctr` kind: an impression log in the style of the NetEase music-card CTR data.
//!
//! Planted model of a click, per impression (user u, item i, device d):
//! `logit = bias + user_part[u] + item_part[i] + AFFINITY_SCALE * affinity(u, i)
//!          + device_effect[d] + N(0, NOISE_SD)`, `is_click ~ Bernoulli(sigmoid(logit))`.
//! `user_part` holds a random propensity plus a `user_level` effect; `item_part` a random quality,
//! a log(creator_followers) effect and a negative days-since-publish effect. `bias` is calibrated
//! on a pilot sample so that the overall click rate is about [`TARGET_CLICK_RATE`].
//!
//! With `SynthSpec::fields = N > 0` the log also has the first N categorical fields of
//! [`super::CTR_FIELDS`] (see `fields.rs`) and the logit gains `+ sum_f effect_f[level_f]`, the
//! planted per-level effects of the signal fields (noise fields add nothing); `bias` is calibrated
//! with them, so the click rate stays about [`TARGET_CLICK_RATE`]. The fields draw from streams of
//! their own: every column except `is_click` and the platform counts `item_impressions` /
//! `item_clicks` (drawn with the recalibrated bias) is the same as without fields, and
//! `fields = 0` is the log of old, byte for byte.

use super::fields::{Attach, Fields, TAG_PILOT_CODES, TAG_ROW_CODES};
use super::world::{Items, Users, affinity, owner};
use super::{SECONDS_PER_DAY, SynthError, SynthSpec, calibrate_bias, sigmoid, stream};
use polars::prelude::*;
use rand::Rng;
use rand_distr::{Binomial, Distribution, Exp1, Poisson, StandardNormal};
use rayon::prelude::*;

/// The numeric feature columns of the `ctr` kind, in column order (all `Int64`).
pub const CTR_FEATURES: [&str; 11] = [
    "user_level",
    "user_registered_months",
    "user_follow_count",
    "user_fans_count",
    "user_gender",
    "item_impressions",
    "item_clicks",
    "item_days_since_publish",
    "creator_level",
    "creator_followers",
    "creator_registered_months",
];

/// Values of the categorical `device` column, indexed by device code.
pub const DEVICES: [&str; 3] = ["android", "ios", "web"];

/// Overall click rate the bias is calibrated to.
pub const TARGET_CLICK_RATE: f64 = 0.09;
const AFFINITY_SCALE: f64 = 1.2;
const NOISE_SD: f64 = 0.3;
const DEVICE_EFFECT: [f64; 3] = [0.0, 0.15, -0.3];
const PRIMARY_DEVICE_SHARE: f64 = 0.85;
const PILOT_SIZE: usize = 20_000;
/// Users per generation chunk (each chunk has its own random stream).
const USERS_PER_CHUNK: usize = 1024;

// Stream tags: one independent random stream per purpose.
const TAG_USERS: u64 = 1;
const TAG_ITEMS: u64 = 2;
const TAG_PILOT: u64 = 3;
const TAG_COUNTS: u64 = 4;
const TAG_ROWS: u64 = 5;

fn normal(rng: &mut impl Rng, mean: f64, sd: f64) -> f64 {
    mean + sd * rng.sample::<f64, _>(StandardNormal)
}

/// `max(0, floor(exp(N(mean, sd))) - 1)`: a heavy-tailed count with zeros.
fn log_count(rng: &mut impl Rng, mean: f64, sd: f64) -> i64 {
    (normal(rng, mean, sd).exp().floor() as i64 - 1).max(0)
}

/// The generator state of the `ctr` kind: latent population plus per-user/per-item features.
struct CtrWorld {
    users: Users,
    items: Items,
    /// The 5 user features (order of `CTR_FEATURES[..5]`) of each user.
    user_feats: Vec<[i64; 5]>,
    /// The 6 item/creator features (order of `CTR_FEATURES[5..]`) of each item.
    item_feats: Vec<[i64; 6]>,
    /// Where each user's rows start (`users + 1` offsets, the last is `rows`).
    row_offsets: Vec<usize>,
    user_part: Vec<f64>,
    item_part: Vec<f64>,
    primary_device: Vec<u8>,
    /// The categorical fields (none when `spec.fields == 0`).
    fields: Fields,
    bias: f64,
}

impl CtrWorld {
    fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        let mut rng = stream(spec.seed, TAG_USERS, 0);
        let users = Users::new(spec, &mut rng);
        let mut user_feats = Vec::with_capacity(users.n);
        let mut user_part = Vec::with_capacity(users.n);
        let mut primary_device = Vec::with_capacity(users.n);
        for &z in &users.activity_z {
            let level = normal(&mut rng, 4.0 + 1.6 * z, 1.2)
                .round()
                .clamp(0.0, 10.0);
            let months = normal(&mut rng, 2.6 + 0.12 * level, 0.7).exp().round();
            user_feats.push([
                level as i64,
                months.clamp(1.0, 240.0) as i64,
                log_count(&mut rng, 2.0 + 0.5 * z, 1.0),
                log_count(&mut rng, 0.5 + 0.35 * level, 1.3),
                i64::from(rng.random_bool(0.46)),
            ]);
            user_part.push(normal(&mut rng, 0.07 * level, 0.35));
            let r: f64 = rng.random();
            primary_device.push(if r < 0.55 {
                0
            } else if r < 0.9 {
                1
            } else {
                2
            });
        }
        let row_offsets = users.row_offsets(spec.rows, &mut rng)?;

        let mut rng = stream(spec.seed, TAG_ITEMS, 0);
        let items = Items::new(spec, &mut rng)?;
        let n_creators = (items.n / 6).max(1);
        let mut creators = Vec::with_capacity(n_creators);
        for _ in 0..n_creators {
            let level = normal(&mut rng, 4.5, 2.2).round().clamp(0.0, 10.0);
            let followers = log_count(&mut rng, 3.0 + 0.45 * level, 1.5);
            let months = normal(&mut rng, 3.0 + 0.05 * level, 0.6).exp().round();
            creators.push([level as i64, followers, months.clamp(1.0, 300.0) as i64]);
        }
        let mut item_feats = Vec::with_capacity(items.n);
        let mut item_part = Vec::with_capacity(items.n);
        for _ in 0..items.n {
            let [level, followers, months] = creators[rng.random_range(0..n_creators)];
            let age = (45.0 * rng.sample::<f64, _>(Exp1)).floor().min(2000.0);
            let quality = normal(&mut rng, 0.0, 0.5);
            item_part.push(quality + 0.12 * (followers as f64).ln_1p() - 0.006 * age);
            // Impressions and clicks (slots 0 and 1) are filled by `platform_counts`.
            item_feats.push([0, 0, age as i64, level, followers, months]);
        }

        let fields = Fields::new(spec, &users, &items)?;
        let mut world = CtrWorld {
            users,
            items,
            user_feats,
            item_feats,
            row_offsets,
            user_part,
            item_part,
            primary_device,
            fields,
            bias: 0.0,
        };
        world.bias = world.calibrate(spec);
        world.platform_counts(spec)?;
        Ok(world)
    }

    /// Everything of the logit except `bias`, the noise and the impression fields.
    fn static_logit(&self, u: usize, i: usize, device: u8) -> f64 {
        self.user_part[u]
            + self.item_part[i]
            + AFFINITY_SCALE * affinity(self.users.latent_of(u), self.items.latent_of(i))
            + DEVICE_EFFECT[device as usize]
            + self.fields.fixed_effect(u, i)
    }

    fn device(&self, u: usize, rng: &mut impl Rng) -> u8 {
        if rng.random::<f64>() < PRIMARY_DEVICE_SHARE {
            self.primary_device[u]
        } else {
            rng.random_range(0..DEVICES.len() as u8)
        }
    }

    /// The bias giving [`TARGET_CLICK_RATE`] on a pilot sample drawn like the real rows (the
    /// user of a uniformly chosen row, an item by popularity).
    fn calibrate(&self, spec: &SynthSpec) -> f64 {
        let mut rng = stream(spec.seed, TAG_PILOT, 0);
        let mut field_rng = stream(spec.seed, TAG_PILOT_CODES, 0);
        let mut codes = Vec::new();
        let xs: Vec<f64> = (0..PILOT_SIZE)
            .map(|_| {
                let u = owner(&self.row_offsets, rng.random_range(0..spec.rows));
                let i = self.items.by_popularity(&mut rng);
                let d = self.device(u, &mut rng);
                codes.clear();
                self.static_logit(u, i, d)
                    + NOISE_SD * rng.sample::<f64, _>(StandardNormal)
                    + self.fields.draw_impression(&mut field_rng, &mut codes)
            })
            .collect();
        calibrate_bias(&xs, TARGET_CLICK_RATE)
    }

    /// Platform-wide `item_impressions` (Poisson around popularity × volume, with log-normal
    /// noise) and `item_clicks` (Binomial at the item's click rate for an average user), so that
    /// their ratio is an informative, noisy estimate of item quality.
    fn platform_counts(&mut self, spec: &SynthSpec) -> Result<(), SynthError> {
        let mut rng = stream(spec.seed, TAG_COUNTS, 0);
        let volume = 20.0 * spec.rows.max(10_000) as f64;
        let mean_user = self.user_part.iter().sum::<f64>() / self.user_part.len().max(1) as f64;
        // The fields' part of an average impression of item i: the users' mean field effect and
        // the impression fields' mean (both 0 without fields) plus the item's own (in `fixed`).
        let f = &self.fields;
        let mean_user = mean_user
            + f.user_effect.iter().sum::<f64>() / f.user_effect.len().max(1) as f64
            + f.impression_moments().0;
        let internal = |what: &'static str, e: String| SynthError::Internal { what, detail: e };
        for (i, feats) in self.item_feats.iter_mut().enumerate() {
            let lambda = self.items.share[i] * volume * normal(&mut rng, 0.0, 0.3).exp() + 1.0;
            let poisson = Poisson::new(lambda)
                .map_err(|e| internal("drawing item impressions", e.to_string()))?;
            let shown = poisson.sample(&mut rng) as u64;
            let fixed = self.fields.item_effect.get(i).copied().unwrap_or(0.0);
            let p = sigmoid(self.bias + mean_user + self.item_part[i] + fixed);
            let clicks = Binomial::new(shown, p)
                .map_err(|e| internal("drawing item clicks", e.to_string()))?
                .sample(&mut rng);
            feats[0] = shown as i64;
            feats[1] = clicks as i64;
        }
        Ok(())
    }
}

/// The planted affinity `u·v / sqrt(8)` (about N(0, 1)) of each (user, item) row of a `ctr` log
/// generated from `spec`, for ids as they appear in the log (1-based). An oracle for checking
/// that a model found the planted signal. Unknown ids give an `InvalidSpec` error.
pub fn ctr_oracle_affinity(
    spec: &SynthSpec,
    user: &[i64],
    item: &[i64],
) -> Result<Vec<f64>, SynthError> {
    spec.validate()?;
    let mut rng = stream(spec.seed, TAG_USERS, 0);
    let users = Users::new(spec, &mut rng);
    let mut rng = stream(spec.seed, TAG_ITEMS, 0);
    let items = Items::new(spec, &mut rng)?;
    let index = |id: i64, n: usize, field: &'static str| {
        usize::try_from(id - 1)
            .ok()
            .filter(|&x| x < n)
            .ok_or_else(|| SynthError::InvalidSpec {
                field,
                value: id.to_string(),
                reason: format!("is not an id of this spec (ids are 1..={n})"),
            })
    };
    user.iter()
        .zip(item)
        .map(|(&u, &i)| {
            let u = index(u, users.n, "users")?;
            let i = index(i, items.n, "items")?;
            Ok(affinity(users.latent_of(u), items.latent_of(i)))
        })
        .collect()
}

/// The generator's expected click probability of an impression of item `i` to user `u` (0-based
/// generator indices): the planted logit with the noise integrated out (probit approximation
/// `E[sigmoid(x + N(0, s^2))] ~ sigmoid(x / sqrt(1 + pi s^2 / 8))`) and averaged over the user's
/// device mix. The best any model can do without seeing the per-impression noise. With fields,
/// the user's and item's field effects are in the logit and the impression fields are
/// integrated out like the noise (their mean added, their variance added to the noise's).
pub(super) struct CtrTruth {
    world: CtrWorld,
}

impl CtrTruth {
    pub(super) fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        Ok(CtrTruth {
            world: CtrWorld::new(spec)?,
        })
    }

    pub(super) fn users(&self) -> usize {
        self.world.users.n
    }

    pub(super) fn items(&self) -> usize {
        self.world.items.n
    }

    pub(super) fn prob(&self, u: usize, i: usize) -> f64 {
        let w = &self.world;
        let (imp_mean, imp_var) = w.fields.impression_moments();
        let var = NOISE_SD * NOISE_SD + imp_var;
        let kappa = (1.0 + std::f64::consts::PI * var / 8.0).sqrt();
        let other = (1.0 - PRIMARY_DEVICE_SHARE) / DEVICES.len() as f64;
        (0..DEVICES.len() as u8)
            .map(|d| {
                let share =
                    other + PRIMARY_DEVICE_SHARE * f64::from(u8::from(d == w.primary_device[u]));
                share * sigmoid((w.bias + w.static_logit(u, i, d) + imp_mean) / kappa)
            })
            .sum()
    }
}

/// Number of `Int64` output columns: user, item, timestamp, is_click and the 11 features.
const INT_COLUMNS: usize = 4 + CTR_FEATURES.len();

/// The output rows of one chunk of users: one slice per `Int64` column, device codes and one
/// slice per field (level codes, 1-based).
struct ChunkOut<'a> {
    users: std::ops::Range<usize>,
    ints: Vec<&'a mut [i64]>,
    device: &'a mut [u8],
    fields: Vec<&'a mut [i32]>,
}

/// Cuts `len` rows off the front of every slice of `rest`.
fn split_heads<'a, T>(rest: &mut [&'a mut [T]], len: usize) -> Vec<&'a mut [T]> {
    rest.iter_mut()
        .map(|r| {
            let (head, tail) = std::mem::take(r).split_at_mut(len);
            *r = tail;
            head
        })
        .collect()
}

pub(super) fn generate_ctr(spec: &SynthSpec) -> Result<DataFrame, SynthError> {
    let world = CtrWorld::new(spec)?;
    let rows = spec.rows;
    let mut ints: Vec<Vec<i64>> = (0..INT_COLUMNS).map(|_| vec![0i64; rows]).collect();
    let mut device = vec![0u8; rows];
    // Level codes as Int32 (4 bytes a value: 57 M rows x 10 fields is 2.3 GB, not 4.6).
    let mut fields: Vec<Vec<i32>> = world.fields.defs.iter().map(|_| vec![0; rows]).collect();

    // Cut every column at the chunk boundaries (chunks of USERS_PER_CHUNK users).
    let n_chunks = world.users.n.div_ceil(USERS_PER_CHUNK);
    let mut chunks: Vec<ChunkOut<'_>> = Vec::with_capacity(n_chunks);
    let mut rest_dev: &mut [u8] = &mut device;
    let mut rest_ints: Vec<&mut [i64]> = ints.iter_mut().map(|c| c.as_mut_slice()).collect();
    let mut rest_fields: Vec<&mut [i32]> = fields.iter_mut().map(|c| c.as_mut_slice()).collect();
    for c in 0..n_chunks {
        let users = c * USERS_PER_CHUNK..((c + 1) * USERS_PER_CHUNK).min(world.users.n);
        let len = world.row_offsets[users.end] - world.row_offsets[users.start];
        let (head, tail) = std::mem::take(&mut rest_dev).split_at_mut(len);
        rest_dev = tail;
        chunks.push(ChunkOut {
            users,
            ints: split_heads(&mut rest_ints, len),
            device: head,
            fields: split_heads(&mut rest_fields, len),
        });
    }
    chunks
        .into_par_iter()
        .enumerate()
        .for_each(|(c, out)| fill_chunk(&world, spec, c, out));

    let mut columns: Vec<Column> = ["user", "item", "timestamp", "is_click"]
        .into_iter()
        .chain(CTR_FEATURES)
        .zip(ints)
        .map(|(name, values)| Int64Chunked::from_vec(name.into(), values).into_column())
        .collect();
    let devices = StringChunked::from_iter_values(
        "device".into(),
        device.iter().map(|&d| DEVICES[d as usize]),
    );
    columns.push(devices.into_column());
    for (def, codes) in world.fields.defs.iter().zip(fields) {
        columns.push(Int32Chunked::from_vec(def.name.into(), codes).into_column());
    }
    DataFrame::new(rows, columns).map_err(|source| SynthError::Polars {
        what: "assembling the ctr frame".into(),
        source,
    })
}

/// Generates the rows of one chunk of users: each user's rows are drawn, sorted by time and
/// written contiguously, so every user's data stays in cache while its rows are made.
fn fill_chunk(world: &CtrWorld, spec: &SynthSpec, chunk: usize, out: ChunkOut<'_>) {
    let mut rng = stream(spec.seed, TAG_ROWS, chunk as u64);
    let mut field_rng = stream(spec.seed, TAG_ROW_CODES, chunk as u64);
    let ChunkOut {
        users,
        mut ints,
        device,
        mut fields,
    } = out;
    let f = &world.fields;
    let n_imp = f.impression.len();
    // (timestamp, item, click, device, draw index) of the current user's rows and the impression
    // fields' codes of each draw (n_imp per row); reused across users.
    let mut buf: Vec<(i64, u32, u8, u8, u32)> = Vec::new();
    let mut imp_codes: Vec<u32> = Vec::new();
    let mut pos = 0;
    for u in users {
        let n = world.row_offsets[u + 1] - world.row_offsets[u];
        let days = world.users.days_of(u);
        buf.clear();
        imp_codes.clear();
        for j in 0..n {
            // The first two rows (the warm-up) go to the first two active days.
            let day = if j < 2 {
                days[j.min(days.len() - 1)]
            } else {
                days[rng.random_range(0..days.len())]
            };
            let ts = spec.start
                + i64::from(day) * SECONDS_PER_DAY
                + rng.random_range(0..SECONDS_PER_DAY);
            let i = world.items.by_popularity(&mut rng);
            let d = world.device(u, &mut rng);
            let logit = world.bias
                + world.static_logit(u, i, d)
                + NOISE_SD * rng.sample::<f64, _>(StandardNormal)
                + f.draw_impression(&mut field_rng, &mut imp_codes);
            let click = u8::from(rng.random::<f64>() < sigmoid(logit));
            buf.push((ts, i as u32, click, d, j as u32));
        }
        buf.sort_unstable();
        let user_feats = &world.user_feats[u];
        for &(ts, i, click, d, j) in &buf {
            let item_feats = &world.item_feats[i as usize];
            let row = [u as i64 + 1, i64::from(i) + 1, ts, i64::from(click)];
            let values = row.iter().chain(user_feats).chain(item_feats);
            for (col, &v) in ints.iter_mut().zip(values) {
                col[pos] = v;
            }
            device[pos] = d;
            let mut imp = imp_codes[j as usize * n_imp..].iter();
            for (k, col) in fields.iter_mut().enumerate() {
                let code = match f.defs[k].attach {
                    Attach::User => f.fixed_codes[k][u],
                    Attach::Item => f.fixed_codes[k][i as usize],
                    Attach::Impression => imp.next().copied().unwrap_or(0),
                };
                // Codes are < 1 M, so the 1-based code fits an i32.
                col[pos] = code as i32 + 1;
            }
            pos += 1;
        }
    }
}
