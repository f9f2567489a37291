//! Serving what was trained: the commands that use an exported model directory without the
//! training data — `score` (NCF; DeepFM and DCNv2 through [`ctr`]), `recommend` (one user, every user, folded-in histories),
//! `similar`, `eval` (a saved model on a config's held-out part) and `export --onnx`.
//!
//! [`modeldir`] finds a model in a directory; [`als`], [`ncf`] and [`served`] load the exported
//! models (the NCF scorer is plain Rust, the formula a service or numpy uses); [`candidates`]
//! and [`queries`] say which items and users a call ranks, [`foldin`] turns histories into
//! users, [`rank`] and `crate::topk` compute the top-k, [`output`] writes them; [`score`],
//! [`recommend`] and [`eval`] are the commands.

pub mod als;
pub mod candidates;
pub mod ctr;
pub mod eval;
pub mod foldin;
pub mod modeldir;
pub mod ncf;
pub mod output;
pub mod queries;
pub mod rank;
pub mod recommend;
pub mod score;
pub mod served;
#[cfg(test)]
mod tests_onnx;
#[cfg(test)]
mod tests_onnx_ctr;
