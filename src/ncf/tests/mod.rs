//! Tests of the NCF module, with tiny synthetic data generated here.

mod io;
mod training;
mod units;

use super::*;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

/// A small CTR problem: label = 1 when user and item fall in the same half (an interaction the
/// embeddings must learn), plus `fr` uniform row features and optional side tables.
pub(super) fn toy_ctr(
    n_rows: usize,
    fr: usize,
    fu: usize,
    fi: usize,
    seed: u64,
) -> (SideTables, TrainSet) {
    let (n_users, n_items) = (12usize, 10usize);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let side = SideTables {
        n_users,
        n_items,
        user_side: (0..n_users * fu).map(|_| rng.random::<f32>()).collect(),
        fu,
        item_side: (0..n_items * fi).map(|_| rng.random::<f32>()).collect(),
        fi,
    };
    let mut set = TrainSet {
        fr,
        ..TrainSet::default()
    };
    for _ in 0..n_rows {
        let u = rng.random_range(0..n_users as u32);
        let i = rng.random_range(0..n_items as u32);
        let same = (u < n_users as u32 / 2) == (i < n_items as u32 / 2);
        set.users.push(u);
        set.items.push(i);
        set.labels.push(if same { 1.0 } else { 0.0 });
        set.row_features
            .extend((0..fr).map(|_| rng.random::<f32>()));
    }
    (side, set)
}

/// Small, fast parameters for the toy problems.
pub(super) fn toy_params(epochs: usize) -> NcfParams {
    NcfParams {
        embedding_dim: 4,
        hidden: vec![16, 8],
        epochs,
        batch_size: 32,
        learning_rate: 0.005,
        init_std: 0.1,
        seed: 7,
        ..NcfParams::default()
    }
}

pub(super) fn fit(
    params: &NcfParams,
    side: &SideTables,
    train: &TrainSet,
    checkpoint: Option<&std::path::Path>,
    resume: bool,
) -> NcfTrained {
    match super::train(
        params,
        side,
        train,
        None,
        checkpoint,
        resume,
        &mut |_| {},
        false,
    ) {
        Ok(m) => m,
        Err(e) => panic!("training failed: {e}"),
    }
}

/// `params` trained for `first` epochs with checkpoints in `ck`, then resumed to
/// `params.epochs`: what a run interrupted after epoch `first` ends with.
pub(super) fn interrupted_and_resumed(
    params: &NcfParams,
    side: &SideTables,
    train: &TrainSet,
    first: usize,
    ck: &std::path::Path,
) -> NcfTrained {
    let early = NcfParams {
        epochs: first,
        ..params.clone()
    };
    fit(&early, side, train, Some(ck), false);
    fit(params, side, train, Some(ck), true)
}

pub(super) fn predict_all(m: &NcfTrained, set: &TrainSet) -> Vec<f32> {
    match m.predict(&set.users, &set.items, &set.row_features) {
        Ok(p) => p,
        Err(e) => panic!("predict failed: {e}"),
    }
}
