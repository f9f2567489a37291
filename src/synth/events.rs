//! The `events` kind: a DeskDrop-like interaction log (`timestamp, eventType, contentId,
//! personId`).
//!
//! Planted model: a user views items drawn from popularity × taste (a popularity proposal is
//! accepted with probability `exp(TASTE_SHARPNESS * (min(a, AFFINITY_CAP) - AFFINITY_CAP))`,
//! a = planted affinity). After each view, LIKE / BOOKMARK / COMMENT CREATED / FOLLOW happen
//! independently with probability `sigmoid(bias_t + FOLLOWUP_SLOPE * a)`, biases calibrated so
//! the overall event mix matches DeskDrop. A few views are written twice (exact duplicate rows).
//! Views are shared out over users like the `ctr` rows (warm-up of 2 views each on two distinct
//! days, the rest by activity); a small planned surplus of rows is dropped uniformly at random
//! so that exactly `rows` rows remain.
//! Ids are scrambled with a bijection, so they look like DeskDrop's signed hashes and never clash.

use super::world::{Items, Users, affinity, owner};
use super::{
    SECONDS_PER_DAY, SynthError, SynthSpec, calibrate_bias, mix64, sigmoid, stream, time_order,
};
use polars::prelude::*;
use rand::Rng;
use rand_distr::Exp1;
use rayon::prelude::*;

/// Values of the `eventType` column, indexed by event code (0 = VIEW).
pub const EVENT_TYPES: [&str; 5] = ["VIEW", "LIKE", "BOOKMARK", "COMMENT CREATED", "FOLLOW"];
/// Target overall share of each event type (DeskDrop's mix), same order as [`EVENT_TYPES`].
const TARGET_SHARE: [f64; 5] = [0.84, 0.08, 0.034, 0.022, 0.019];
/// Probability that a view is written twice (an exact duplicate row).
const DUPLICATE_RATE: f64 = 0.006;
const TASTE_SHARPNESS: f64 = 1.5;
const AFFINITY_CAP: f64 = 2.0;
const MAX_TRIES: usize = 64;
const FOLLOWUP_SLOPE: f64 = 1.0;
/// Mean delay in seconds between a view and a follow-up event.
const FOLLOWUP_DELAY: f64 = 90.0;
/// Users per generation chunk (each chunk has its own random stream).
const USERS_PER_CHUNK: usize = 1024;
const PILOT_SIZE: usize = 20_000;

const TAG_USERS: u64 = 11;
const TAG_ITEMS: u64 = 12;
const TAG_PILOT: u64 = 13;
const TAG_ROWS: u64 = 15;
const TAG_IDS: u64 = 16;
const TAG_VIEWS: u64 = 18;
const TAG_DROP: u64 = 19;

struct EventsWorld {
    users: Users,
    items: Items,
    followup_bias: [f64; 4],
    person_salt: u64,
    content_salt: u64,
}

/// Rows of one chunk of users, in generation order.
#[derive(Default)]
struct Chunk {
    ts: Vec<i64>,
    kind: Vec<u8>,
    item: Vec<u32>,
    user: Vec<u32>,
}

impl Chunk {
    fn push(&mut self, ts: i64, kind: u8, item: usize, user: usize) {
        self.ts.push(ts);
        self.kind.push(kind);
        self.item.push(item as u32);
        self.user.push(user as u32);
    }
}

/// Expected rows per view: the view, its duplicate, its follow-ups.
fn rows_per_view() -> f64 {
    (1.0 + DUPLICATE_RATE) * TARGET_SHARE.iter().sum::<f64>() / TARGET_SHARE[0]
}

/// Number of views for round `round`: enough that the log almost surely holds `rows` rows.
fn planned_views(rows: usize, round: u32) -> usize {
    let margin = 1.01 * 1.1_f64.powi(round as i32);
    let rows = rows as f64;
    (rows * margin / rows_per_view() + 10.0 * rows.sqrt() + 16.0).ceil() as usize
}

impl EventsWorld {
    fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        Ok(EventsWorld {
            users: Users::new(spec, &mut stream(spec.seed, TAG_USERS, 0)),
            items: Items::new(spec, &mut stream(spec.seed, TAG_ITEMS, 0))?,
            followup_bias: [0.0; 4],
            person_salt: mix64(spec.seed ^ mix64(TAG_IDS)),
            content_salt: mix64(spec.seed ^ mix64(TAG_IDS + 1)),
        })
    }

    /// Sets each follow-up bias so its rate per view matches DeskDrop's mix, on pilot views
    /// drawn like the real ones (the user of a uniformly chosen view, an item by
    /// popularity × taste).
    fn calibrate(&mut self, spec: &SynthSpec, view_offsets: &[usize]) {
        let mut rng = stream(spec.seed, TAG_PILOT, 0);
        let views = view_offsets.last().copied().unwrap_or(0).max(1);
        let slopes: Vec<f64> = (0..PILOT_SIZE)
            .map(|_| {
                let u = owner(view_offsets, rng.random_range(0..views));
                FOLLOWUP_SLOPE * self.pick_item(u, &mut rng).1
            })
            .collect();
        for (t, bias) in self.followup_bias.iter_mut().enumerate() {
            let per_view = TARGET_SHARE[t + 1] * (1.0 + DUPLICATE_RATE) / TARGET_SHARE[0];
            *bias = calibrate_bias(&slopes, per_view);
        }
    }

    /// An item for user `u` from popularity × taste (rejection sampling), and its affinity.
    fn pick_item(&self, u: usize, rng: &mut impl Rng) -> (usize, f64) {
        let lu = self.users.latent_of(u);
        let mut last = (0, 0.0);
        for _ in 0..MAX_TRIES {
            let i = self.items.by_popularity(rng);
            let a = affinity(lu, self.items.latent_of(i));
            let accept = (TASTE_SHARPNESS * (a.min(AFFINITY_CAP) - AFFINITY_CAP)).exp();
            if rng.random::<f64>() < accept {
                return (i, a);
            }
            last = (i, a);
        }
        last
    }

    /// All rows of the users of chunk `c` (each view with its duplicate and follow-ups).
    fn chunk(&self, spec: &SynthSpec, offsets: &[usize], round: u32, c: usize) -> Chunk {
        let mut rng = stream(spec.seed, TAG_ROWS + u64::from(round) * 0x100, c as u64);
        let mut out = Chunk::default();
        let users = c * USERS_PER_CHUNK..((c + 1) * USERS_PER_CHUNK).min(self.users.n);
        for u in users {
            let days = self.users.days_of(u);
            for j in 0..offsets[u + 1] - offsets[u] {
                // The first two views (the warm-up) go to the first two active days.
                let day = if j < 2 {
                    days[j.min(days.len() - 1)]
                } else {
                    days[rng.random_range(0..days.len())]
                };
                self.view(spec, u, day, &mut rng, &mut out);
            }
        }
        out
    }

    fn view(&self, spec: &SynthSpec, u: usize, day: u32, rng: &mut impl Rng, out: &mut Chunk) {
        let (i, a) = self.pick_item(u, rng);
        let day_start = spec.start + i64::from(day) * SECONDS_PER_DAY;
        let t = day_start + rng.random_range(0..SECONDS_PER_DAY);
        out.push(t, 0, i, u);
        if rng.random::<f64>() < DUPLICATE_RATE {
            out.push(t, 0, i, u);
        }
        for (k, bias) in self.followup_bias.iter().enumerate() {
            if rng.random::<f64>() < sigmoid(bias + FOLLOWUP_SLOPE * a) {
                let delay = 3 + (FOLLOWUP_DELAY * rng.sample::<f64, _>(Exp1)) as i64;
                // Follow-ups stay on the view's calendar day.
                let at = (t + delay).min(day_start + SECONDS_PER_DAY - 1);
                out.push(at, k as u8 + 1, i, u);
            }
        }
    }
}

/// The generator's view propensity of item `i` for user `u` (0-based generator indices): item
/// exposure times the taste acceptance of [`EventsWorld::pick_item`], so ranking a user's items
/// by it is the order the generator prefers. Also maps the scrambled raw ids back to indices.
pub(super) struct EventsTruth {
    world: EventsWorld,
}

impl EventsTruth {
    pub(super) fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        Ok(EventsTruth {
            world: EventsWorld::new(spec)?,
        })
    }

    /// Raw `personId` of every user index, in index order.
    pub(super) fn person_ids(&self) -> Vec<i64> {
        (0..self.world.users.n)
            .map(|u| mix64(u as u64 ^ self.world.person_salt) as i64)
            .collect()
    }

    /// Raw `contentId` of every item index, in index order.
    pub(super) fn content_ids(&self) -> Vec<i64> {
        (0..self.world.items.n)
            .map(|i| mix64(i as u64 ^ self.world.content_salt) as i64)
            .collect()
    }

    pub(super) fn propensity(&self, u: usize, i: usize) -> f64 {
        let w = &self.world;
        let a = affinity(w.users.latent_of(u), w.items.latent_of(i));
        w.items.share[i] * (TASTE_SHARPNESS * (a.min(AFFINITY_CAP) - AFFINITY_CAP)).exp()
    }
}

pub(super) fn generate_events(spec: &SynthSpec) -> Result<DataFrame, SynthError> {
    let rows = spec.rows;
    let mut world = EventsWorld::new(spec)?;
    let n_chunks = spec.users.div_ceil(USERS_PER_CHUNK);
    // Views are shared out over users, then generated per chunk of users. The number of rows is
    // random, so views are planned with a margin (and more in the rare case it falls short);
    // the surplus rows are then dropped uniformly at random.
    let mut round = 0;
    let (chunks, total) = loop {
        let mut rng = stream(spec.seed, TAG_VIEWS, u64::from(round));
        let offsets = world
            .users
            .row_offsets(planned_views(rows, round), &mut rng)?;
        world.calibrate(spec, &offsets);
        let chunks: Vec<Chunk> = (0..n_chunks)
            .into_par_iter()
            .map(|c| world.chunk(spec, &offsets, round, c))
            .collect();
        let total: usize = chunks.iter().map(|c| c.ts.len()).sum();
        if total >= rows {
            break (chunks, total);
        }
        round += 1;
    };
    let mut keep = vec![true; total];
    let mut rng = stream(spec.seed, TAG_DROP, 0);
    for r in rand::seq::index::sample(&mut rng, total, total - rows).iter() {
        keep[r] = false;
    }
    let mut ts = Vec::with_capacity(rows);
    let mut kind = Vec::with_capacity(rows);
    let mut item = Vec::with_capacity(rows);
    let mut user = Vec::with_capacity(rows);
    let mut flags = keep.iter();
    for chunk in chunks {
        for (r, &t) in chunk.ts.iter().enumerate() {
            if flags.next() == Some(&true) {
                ts.push(t);
                kind.push(chunk.kind[r]);
                item.push(chunk.item[r]);
                user.push(chunk.user[r]);
            }
        }
    }
    drop(keep);
    let order = time_order(&ts, spec.start);
    let timestamp: Vec<i64> = order.par_iter().map(|&r| ts[r as usize]).collect();
    let content: Vec<i64> = order
        .par_iter()
        .map(|&r| mix64(u64::from(item[r as usize]) ^ world.content_salt) as i64)
        .collect();
    let person: Vec<i64> = order
        .par_iter()
        .map(|&r| mix64(u64::from(user[r as usize]) ^ world.person_salt) as i64)
        .collect();
    let event_type = StringChunked::from_iter_values(
        "eventType".into(),
        order
            .iter()
            .map(|&r| EVENT_TYPES[kind[r as usize] as usize]),
    );
    let columns = vec![
        Int64Chunked::from_vec("timestamp".into(), timestamp).into_column(),
        event_type.into_column(),
        Int64Chunked::from_vec("contentId".into(), content).into_column(),
        Int64Chunked::from_vec("personId".into(), person).into_column(),
    ];
    DataFrame::new(rows, columns).map_err(|source| SynthError::Polars {
        what: "assembling the events frame".into(),
        source,
    })
}
