//! Serving what was trained: the commands that use an exported model directory without the
//! training data — `score` (NCF), `recommend`, `similar` and `eval` (a saved model on a
//! config's held-out part).
//!
//! [`modeldir`] finds a model in a directory and prints ranked rows; [`als`] and [`ncf`] load
//! the exported models (the NCF scorer is plain Rust, the formula a service or numpy uses);
//! [`score`], [`recommend`] and [`eval`] are the commands.

pub mod als;
pub mod eval;
pub mod modeldir;
pub mod ncf;
pub mod recommend;
pub mod score;
