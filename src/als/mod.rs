//! Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008), pure Rust.
//!
//! The model factorises a user × item matrix of interaction strengths `r_ui` into user factors
//! `X` (n_users × f) and item factors `Y` (n_items × f) by minimising
//!
//! ```text
//!   Σ_(u,i) observed c_ui (1 − x_uᵀ y_i)²  +  α0 Σ_(u,i) unobserved (x_uᵀ y_i)²
//!     +  Σ_u λ_u |x_u|²  +  Σ_i λ_i |y_i|²
//! ```
//!
//! For observed pairs the confidence is [`Confidence::Linear`] `alpha·r` (what the `implicit`
//! library does) or [`Confidence::Hu`] `1 + alpha·r` (the paper). α0 is
//! [`AlsParams::unobserved_weight`] (1 = Hu et al.'s model, where every unobserved pair has
//! confidence 1). λ_u = λ by default ([`RegScaling::None`], as `implicit`), or
//! λ·(|I_u| + α0·|I|) with [`RegScaling::Frequency`] (Rendle et al. 2022, "Revisiting the
//! performance of iALS"; likewise λ_i = λ·(|U_i| + α0·|U|)).
//!
//! Each iteration solves every user given the items, then every item given the users. A row's
//! system is `(α0·YᵀY + λ_u I + Σ_i (c_i − α0) y_i y_iᵀ) x = Σ_i c_i y_i`; `α0·YᵀY` is computed
//! once per half-iteration, so a row costs O(nnz·f + f²) per step with the conjugate-gradient
//! solver ([`Solver::Cg`], `implicit`'s default: a few steps warm-started from the previous
//! factors) or O(nnz·f² + f³) with the exact [`Solver::Cholesky`].
//!
//! Entries with `c = α0` (e.g. strength 1 under `Linear` with alpha 1 and α0 = 1) add nothing
//! to `Σ (c − α0) y yᵀ`, so the solvers skip them in the matrix products (exactly the same
//! result).
//!
//! Layout: [`csr`] holds the sparse input, [`params`] the settings, `kernels` the dense f32
//! kernels (runtime AVX2/FMA dispatch), `side` a side's entries arranged for the solves,
//! `solver` the half-iterations, the Cholesky solve and the loss, `cg` the conjugate-gradient
//! solves (one row at a time, or blocks of rows sharing one matrix product at large f), [`model`] the fit loop with checkpointable state,
//! [`query`] scoring, recommendation and fold-in, `topk` the partial selection ([`top_k`]).
//! Rows are solved in parallel with rayon; each row reads only immutable shared inputs, so
//! results do not depend on the number of threads.

mod cg;
pub mod csr;
mod kernels;
pub mod model;
pub mod params;
pub mod query;
mod side;
mod solver;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cg;
#[cfg(test)]
mod tests_fit;
#[cfg(test)]
mod tests_ials;
mod topk;

pub use csr::Csr;
pub use model::{AlsModel, AlsState, IterReport, fit, init};
pub use params::{AlsParams, Confidence, RegScaling, Solver};
pub use topk::top_k;

/// Everything that can go wrong in this module: bad input, bad settings, or a numerical failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AlsError {
    /// `factors` was 0.
    #[error("factors must be > 0 (got {factors}); set it to the latent dimension, e.g. 64")]
    ZeroFactors { factors: usize },
    /// `regularization` was negative or NaN.
    #[error("regularization must be a finite number >= 0 (got {regularization}); e.g. 0.01")]
    InvalidRegularization { regularization: f32 },
    /// `alpha` was zero, negative or not finite.
    #[error("alpha must be a finite number > 0 (got {alpha}); e.g. 1.0")]
    InvalidAlpha { alpha: f32 },
    /// `iterations` was 0.
    #[error("iterations must be > 0 (got {iterations}); e.g. 15")]
    ZeroIterations { iterations: usize },
    /// `unobserved_weight` was zero, negative or not finite.
    #[error("unobserved weight must be a finite number > 0 (got {weight}); 1 is Hu et al.'s model")]
    InvalidUnobservedWeight { weight: f32 },
    /// `init_std` was zero, negative or not finite.
    #[error(
        "init std must be a finite number > 0 (got {std}); Rendle et al. use 0.1/sqrt(factors)"
    )]
    InvalidInitStd { std: f32 },
    /// The conjugate-gradient solver was given 0 steps.
    #[error("conjugate-gradient steps must be > 0 (got {steps}); implicit uses 3")]
    ZeroCgSteps { steps: usize },
    /// The triplet slices passed to [`Csr::from_triplets`] have different lengths.
    #[error(
        "triplet slices differ in length: {rows} rows, {cols} cols, {vals} values; pass one entry per interaction in each"
    )]
    TripletLengthMismatch {
        rows: usize,
        cols: usize,
        vals: usize,
    },
    /// A triplet's row index is not below `n_rows`.
    #[error(
        "triplet {position}: row {row} is out of range for a matrix with {n_rows} rows; index rows from 0"
    )]
    RowOutOfRange {
        position: usize,
        row: u32,
        n_rows: usize,
    },
    /// A triplet's column index is not below `n_cols`.
    #[error(
        "triplet {position}: column {col} is out of range for a matrix with {n_cols} columns; index columns from 0"
    )]
    ColOutOfRange {
        position: usize,
        col: u32,
        n_cols: usize,
    },
    /// The column count does not fit the u32 column indices.
    #[error("{n_cols} columns do not fit u32 column indices (at most {max}); re-index the items")]
    TooManyColumns { n_cols: usize, max: usize },
    /// The row count does not fit the u32 column indices of the transposed matrix.
    #[error("{n_users} users do not fit u32 indices (at most {max}); re-index the users")]
    TooManyUsers { n_users: usize, max: usize },
    /// A value was NaN or infinite.
    #[error(
        "triplet {position} has value {value}, which is not finite; drop or fix that interaction"
    )]
    NonFiniteValue { position: usize, value: f32 },
    /// A stored value (after summing duplicates) is <= 0; ALS needs a positive strength.
    #[error(
        "entry (row {row}, column {col}) has value {value}; ALS needs interaction strengths > 0"
    )]
    NonPositiveValue { row: usize, col: usize, value: f32 },
    /// The state or model does not match the matrix or the settings.
    #[error(
        "{what}: expected {expected}, got {got}; start from `als::init` with this matrix and these params"
    )]
    ShapeMismatch {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    /// A row's normal equations are not positive definite (Cholesky failed).
    #[error("the {side} system of row {row} is not positive definite; use regularization > 0")]
    NotPositiveDefinite { side: &'static str, row: usize },
    /// An item index passed to a query is not a trained item.
    #[error("item {item} is out of range for a model with {n_items} items")]
    ItemOutOfRange { item: u32, n_items: usize },
    /// `items` and `weights` passed to `recalculate_user` differ in length.
    #[error("{items} items but {weights} weights; pass one weight per item")]
    WeightsLengthMismatch { items: usize, weights: usize },
    /// A weight passed to `recalculate_user` is not a finite number > 0.
    #[error("weight {value} at position {position} is not a finite number > 0")]
    InvalidWeight { position: usize, value: f32 },
    /// The progress callback asked to stop.
    #[error("stopped by the progress callback: {reason}")]
    Stopped { reason: String },
}
