//! The `events` kind: a DeskDrop-like interaction log (`timestamp, eventType, contentId,
//! personId`).
//!
//! Planted model: a user views items drawn from popularity × taste (a popularity proposal is
//! accepted with probability `exp(TASTE_SHARPNESS * (min(a, AFFINITY_CAP) - AFFINITY_CAP))`,
//! a = planted affinity). After each view, LIKE / BOOKMARK / COMMENT CREATED / FOLLOW happen
//! independently with probability `sigmoid(bias_t + FOLLOWUP_SLOPE * a)`, biases calibrated so
//! the overall event mix matches DeskDrop. A few views are written twice (exact duplicate rows).
//! Ids are scrambled with a bijection, so they look like DeskDrop's signed hashes and never clash.

use super::world::{Items, Users, affinity};
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
/// Conservative rows-per-view used only to decide how many chunks to generate per round.
const ROWS_PER_VIEW_LOW: f64 = 1.1;
const VIEWS_PER_CHUNK: usize = 1 << 14;
const PILOT_SIZE: usize = 20_000;

const TAG_USERS: u64 = 11;
const TAG_ITEMS: u64 = 12;
const TAG_PILOT: u64 = 13;
const TAG_ROWS: u64 = 15;
const TAG_IDS: u64 = 16;

struct EventsWorld {
    users: Users,
    items: Items,
    followup_bias: [f64; 4],
    person_salt: u64,
    content_salt: u64,
}

/// One chunk of generated rows, in generation order.
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

impl EventsWorld {
    fn new(spec: &SynthSpec) -> Result<Self, SynthError> {
        let users = Users::new(spec, &mut stream(spec.seed, TAG_USERS, 0))?;
        let items = Items::new(spec, &mut stream(spec.seed, TAG_ITEMS, 0))?;
        let mut world = EventsWorld {
            users,
            items,
            followup_bias: [0.0; 4],
            person_salt: mix64(spec.seed ^ mix64(TAG_IDS)),
            content_salt: mix64(spec.seed ^ mix64(TAG_IDS + 1)),
        };
        // Pilot views drawn like the real ones; calibrate each follow-up rate per view.
        let mut rng = stream(spec.seed, TAG_PILOT, 0);
        let views = (spec.rows as f64 / 1.19) as usize;
        let slopes: Vec<f64> = (0..PILOT_SIZE)
            .map(|_| {
                let u = world.users.pilot_user(views, &mut rng);
                FOLLOWUP_SLOPE * world.pick_item(u, &mut rng).1
            })
            .collect();
        for (t, bias) in world.followup_bias.iter_mut().enumerate() {
            let per_view = TARGET_SHARE[t + 1] * (1.0 + DUPLICATE_RATE) / TARGET_SHARE[0];
            *bias = calibrate_bias(&slopes, per_view);
        }
        Ok(world)
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

    /// Rows of the views `c * VIEWS_PER_CHUNK ..` (each view with its duplicates and follow-ups).
    fn chunk(&self, spec: &SynthSpec, c: usize) -> Chunk {
        let mut rng = stream(spec.seed, TAG_ROWS, c as u64);
        let mut out = Chunk::default();
        for j in 0..VIEWS_PER_CHUNK {
            let (u, day) = self.users.pick(c * VIEWS_PER_CHUNK + j, &mut rng);
            let (i, a) = self.pick_item(u, &mut rng);
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
        out
    }
}

pub(super) fn generate_events(spec: &SynthSpec) -> Result<DataFrame, SynthError> {
    let world = EventsWorld::new(spec)?;
    let rows = spec.rows;
    // Chunks are generated in rounds until they hold `rows` rows; each chunk depends only on
    // its index, so the result does not depend on how many chunks a round makes.
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut total = 0usize;
    while total < rows {
        let need = (rows - total) as f64;
        let batch = (need / (VIEWS_PER_CHUNK as f64 * ROWS_PER_VIEW_LOW)).ceil() as usize;
        let first = chunks.len();
        let fresh: Vec<Chunk> = (first..first + batch.max(1))
            .into_par_iter()
            .map(|c| world.chunk(spec, c))
            .collect();
        total += fresh.iter().map(|c| c.ts.len()).sum::<usize>();
        chunks.extend(fresh);
    }
    let mut ts = Vec::with_capacity(rows);
    let mut kind = Vec::with_capacity(rows);
    let mut item = Vec::with_capacity(rows);
    let mut user = Vec::with_capacity(rows);
    for chunk in chunks {
        let take = (rows - ts.len()).min(chunk.ts.len());
        ts.extend_from_slice(&chunk.ts[..take]);
        kind.extend_from_slice(&chunk.kind[..take]);
        item.extend_from_slice(&chunk.item[..take]);
        user.extend_from_slice(&chunk.user[..take]);
    }
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
