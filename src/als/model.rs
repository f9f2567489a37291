//! The factor model, its checkpointable training state, and the fit loop.

use super::side::Side;
use super::solver::{Weights, loss, solve_side};
use super::{AlsError, AlsParams, Csr};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// A fitted (or partly fitted) factor model. The score of (u, i) is `x_uᵀ y_i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsModel {
    /// Latent dimension f.
    pub factors: usize,
    /// User factors X, `n_users × factors`, row-major.
    pub user_factors: Vec<f32>,
    /// Item factors Y, `n_items × factors`, row-major.
    pub item_factors: Vec<f32>,
    pub n_users: usize,
    pub n_items: usize,
}

/// Everything needed to continue a fit between iterations: the factors and how many
/// iterations produced them. Resuming from a saved state gives bit-identical results to an
/// uninterrupted fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlsState {
    pub model: AlsModel,
    pub iterations_done: usize,
}

/// Progress of one finished iteration, passed to the `fit` callback.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IterReport {
    /// Number of iterations finished so far, counting those of a resumed state (1-based).
    pub iteration: usize,
    /// Wall seconds of this iteration (both half-steps and, if asked for, the loss).
    pub seconds: f64,
    /// `implicit`'s normalised training loss after this iteration, when `compute_loss` is set.
    pub loss: Option<f64>,
}

/// Starting state: user then item factors drawn from uniform[0, 0.01) (as `implicit` does),
/// or from N(0, init_std²) when `params.init_std` is set, with
/// `ChaCha8Rng::seed_from_u64(params.seed)`.
pub fn init(n_users: usize, n_items: usize, params: &AlsParams) -> AlsState {
    let f = params.factors;
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    // An invalid std (rejected by `validate`) falls back to the uniform draw.
    let normal = params.init_std.and_then(|s| Normal::new(0.0f32, s).ok());
    let mut draw = |n: usize| -> Vec<f32> {
        (0..n.saturating_mul(f))
            .map(|_| match &normal {
                Some(d) => d.sample(&mut rng),
                None => rng.random::<f32>() * 0.01,
            })
            .collect()
    };
    let user_factors = draw(n_users);
    let item_factors = draw(n_items);
    AlsState {
        model: AlsModel {
            factors: f,
            user_factors,
            item_factors,
            n_users,
            n_items,
        },
        iterations_done: 0,
    }
}

/// Runs iterations `state.iterations_done..params.iterations` on the `n_users × n_items`
/// matrix of interaction strengths `user_items` (all stored values must be > 0). Each
/// iteration solves all users given the items, then all items given the users; then
/// `on_iter` gets the iteration's report and the state after it (to print progress or save a
/// checkpoint); an error from it stops the fit and is returned.
///
/// Uses the current rayon pool (wrap the call in `ThreadPool::install` to choose the thread
/// count); the result is the same for any thread count.
pub fn fit(
    user_items: &Csr,
    params: &AlsParams,
    state: AlsState,
    on_iter: &mut dyn FnMut(IterReport, &AlsState) -> Result<(), AlsError>,
) -> Result<AlsModel, AlsError> {
    params.validate()?;
    check_state(user_items, params, &state)?;
    user_items.check_structure("user_items")?;
    let max = u32::MAX as usize + 1;
    if user_items.n_rows > max {
        return Err(AlsError::TooManyUsers {
            n_users: user_items.n_rows,
            max,
        });
    }
    let w0 = params.unobserved_weight;
    let users = Side::new(user_items, params.confidence, params.alpha, w0)?;
    let items = Side::new(&user_items.transpose(), params.confidence, params.alpha, w0)?;
    let w = Weights::of(params);
    let f = params.factors;
    let mut state = state;
    while state.iterations_done < params.iterations {
        let start = Instant::now();
        let m = &mut state.model;
        solve_side(
            &mut m.user_factors,
            &m.item_factors,
            f,
            &users,
            w,
            params.solver,
            "user",
        )?;
        solve_side(
            &mut m.item_factors,
            &m.user_factors,
            f,
            &items,
            w,
            params.solver,
            "item",
        )?;
        let loss = params
            .compute_loss
            .then(|| loss(&m.user_factors, &m.item_factors, f, &users, &items, w));
        state.iterations_done += 1;
        let report = IterReport {
            iteration: state.iterations_done,
            seconds: start.elapsed().as_secs_f64(),
            loss,
        };
        on_iter(report, &state)?;
    }
    Ok(state.model)
}

fn check_state(user_items: &Csr, params: &AlsParams, state: &AlsState) -> Result<(), AlsError> {
    let m = &state.model;
    let f = params.factors;
    let checks = [
        ("state factors vs params.factors", f, m.factors),
        ("state n_users vs matrix rows", user_items.n_rows, m.n_users),
        (
            "state n_items vs matrix columns",
            user_items.n_cols,
            m.n_items,
        ),
        ("user_factors length", m.n_users * f, m.user_factors.len()),
        ("item_factors length", m.n_items * f, m.item_factors.len()),
    ];
    for (what, expected, got) in checks {
        if expected != got {
            return Err(AlsError::ShapeMismatch {
                what,
                expected,
                got,
            });
        }
    }
    Ok(())
}
