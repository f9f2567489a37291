//! The `ctr` kind: an impression log in the style of the NetEase music-card CTR data.
//!
//! Planted model of a click, per impression (user u, item i, device d):
//! `logit = bias + user_part[u] + item_part[i] + AFFINITY_SCALE * affinity(u, i)
//!          + device_effect[d] + N(0, NOISE_SD)`, `is_click ~ Bernoulli(sigmoid(logit))`.
//! `user_part` holds a random propensity plus a `user_level` effect; `item_part` a random quality,
//! a log(creator_followers) effect and a negative days-since-publish effect. `bias` is calibrated
//! on a pilot sample so that the overall click rate is about [`TARGET_CLICK_RATE`].

use super::world::{Items, Users, affinity};
use super::{SECONDS_PER_DAY, SynthError, SynthSpec, calibrate_bias, sigmoid, stream, time_order};
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
const CHUNK_ROWS: usize = 1 << 16;

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
    /// The 5 user feature columns, each indexed by user.
    user_feats: [Vec<i64>; 5],
    /// The 6 item/creator feature columns, each indexed by item.
    item_feats: [Vec<i64>; 6],
    user_part: Vec<f64>,
    item_part: Vec<f64>,
    primary_device: Vec<u8>,
    bias: f64,
}

impl CtrWorld {
    fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        let mut rng = stream(spec.seed, TAG_USERS, 0);
        let users = Users::new(spec, &mut rng)?;
        let mut uf: [Vec<i64>; 5] = Default::default();
        let mut user_part = Vec::with_capacity(users.n);
        let mut primary_device = Vec::with_capacity(users.n);
        for &z in &users.activity_z {
            let level = normal(&mut rng, 4.0 + 1.6 * z, 1.2)
                .round()
                .clamp(0.0, 10.0);
            uf[0].push(level as i64);
            let months = normal(&mut rng, 2.6 + 0.12 * level, 0.7).exp().round();
            uf[1].push(months.clamp(1.0, 240.0) as i64);
            uf[2].push(log_count(&mut rng, 2.0 + 0.5 * z, 1.0));
            uf[3].push(log_count(&mut rng, 0.5 + 0.35 * level, 1.3));
            uf[4].push(i64::from(rng.random_bool(0.46)));
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
        let mut item_feats: [Vec<i64>; 6] = Default::default();
        let mut item_part = Vec::with_capacity(items.n);
        for _ in 0..items.n {
            let creator = creators[rng.random_range(0..n_creators)];
            let age = (45.0 * rng.sample::<f64, _>(Exp1)).floor().min(2000.0);
            let quality = normal(&mut rng, 0.0, 0.5);
            item_part.push(quality + 0.12 * (creator[1] as f64).ln_1p() - 0.006 * age);
            item_feats[2].push(age as i64);
            for (k, value) in creator.into_iter().enumerate() {
                item_feats[3 + k].push(value);
            }
        }

        let mut world = CtrWorld {
            users,
            items,
            user_feats: uf,
            item_feats,
            user_part,
            item_part,
            primary_device,
            bias: 0.0,
        };
        world.bias = world.calibrate(spec);
        world.platform_counts(spec)?;
        Ok(world)
    }

    /// Everything of the logit except `bias` and the noise.
    fn static_logit(&self, u: usize, i: usize, device: u8) -> f64 {
        self.user_part[u]
            + self.item_part[i]
            + AFFINITY_SCALE * affinity(self.users.latent_of(u), self.items.latent_of(i))
            + DEVICE_EFFECT[device as usize]
    }

    fn device(&self, u: usize, rng: &mut impl Rng) -> u8 {
        if rng.random::<f64>() < PRIMARY_DEVICE_SHARE {
            self.primary_device[u]
        } else {
            rng.random_range(0..DEVICES.len() as u8)
        }
    }

    /// The bias giving [`TARGET_CLICK_RATE`] on a pilot sample drawn like the real rows.
    fn calibrate(&self, spec: &SynthSpec) -> f64 {
        let mut rng = stream(spec.seed, TAG_PILOT, 0);
        let xs: Vec<f64> = (0..PILOT_SIZE)
            .map(|_| {
                let u = self.users.pilot_user(spec.rows, &mut rng);
                let i = self.items.by_popularity(&mut rng);
                let d = self.device(u, &mut rng);
                self.static_logit(u, i, d) + NOISE_SD * rng.sample::<f64, _>(StandardNormal)
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
        let internal = |what: &'static str, e: String| SynthError::Internal { what, detail: e };
        for i in 0..self.items.n {
            let lambda = self.items.share[i] * volume * normal(&mut rng, 0.0, 0.3).exp() + 1.0;
            let poisson = Poisson::new(lambda)
                .map_err(|e| internal("drawing item impressions", e.to_string()))?;
            let shown = poisson.sample(&mut rng) as u64;
            let p = sigmoid(self.bias + mean_user + self.item_part[i]);
            let clicks = Binomial::new(shown, p)
                .map_err(|e| internal("drawing item clicks", e.to_string()))?
                .sample(&mut rng);
            self.item_feats[0].push(shown as i64);
            self.item_feats[1].push(clicks as i64);
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
    let users = Users::new(spec, &mut rng)?;
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

pub(super) fn generate_ctr(spec: &SynthSpec) -> Result<DataFrame, SynthError> {
    let world = CtrWorld::new(spec)?;
    let rows = spec.rows;
    let mut user = vec![0u32; rows];
    let mut item = vec![0u32; rows];
    let mut ts = vec![0i64; rows];
    let mut click = vec![0u8; rows];
    let mut device = vec![0u8; rows];
    user.par_chunks_mut(CHUNK_ROWS)
        .zip(item.par_chunks_mut(CHUNK_ROWS))
        .zip(ts.par_chunks_mut(CHUNK_ROWS))
        .zip(click.par_chunks_mut(CHUNK_ROWS))
        .zip(device.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .for_each(|(c, ((((us, its), tss), cls), dvs))| {
            let mut rng = stream(spec.seed, TAG_ROWS, c as u64);
            for r in 0..us.len() {
                let (u, day) = world.users.pick(c * CHUNK_ROWS + r, &mut rng);
                let i = world.items.by_popularity(&mut rng);
                let d = world.device(u, &mut rng);
                let logit = world.bias
                    + world.static_logit(u, i, d)
                    + NOISE_SD * rng.sample::<f64, _>(StandardNormal);
                us[r] = u as u32;
                its[r] = i as u32;
                dvs[r] = d;
                tss[r] = spec.start
                    + i64::from(day) * SECONDS_PER_DAY
                    + rng.random_range(0..SECONDS_PER_DAY);
                cls[r] = u8::from(rng.random::<f64>() < sigmoid(logit));
            }
        });
    let order = time_order(&ts, spec.start);
    let gather = |f: &(dyn Fn(usize) -> i64 + Sync)| -> Vec<i64> {
        order.par_iter().map(|&r| f(r as usize)).collect()
    };
    let mut columns: Vec<Column> = Vec::with_capacity(4 + CTR_FEATURES.len() + 1);
    let mut push = |name: &str, values: Vec<i64>| {
        columns.push(Int64Chunked::from_vec(name.into(), values).into_column());
    };
    push("user", gather(&|r| i64::from(user[r]) + 1));
    push("item", gather(&|r| i64::from(item[r]) + 1));
    push("timestamp", gather(&|r| ts[r]));
    drop(ts);
    push("is_click", gather(&|r| i64::from(click[r])));
    drop(click);
    for (k, name) in CTR_FEATURES.iter().enumerate() {
        let values = if k < 5 {
            let col = &world.user_feats[k];
            gather(&|r| col[user[r] as usize])
        } else {
            let col = &world.item_feats[k - 5];
            gather(&|r| col[item[r] as usize])
        };
        push(name, values);
    }
    let devices = StringChunked::from_iter_values(
        "device".into(),
        order.iter().map(|&r| DEVICES[device[r as usize] as usize]),
    );
    columns.push(devices.into_column());
    DataFrame::new(rows, columns).map_err(|source| SynthError::Polars {
        what: "assembling the ctr frame".into(),
        source,
    })
}
