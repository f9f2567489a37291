//! One interface for every model, so NCF, ALS and popularity share one evaluation path.

pub mod als;
pub mod ctr;
pub mod ncf;
pub mod oracle;
pub mod popularity;
pub mod recency;

use crate::dataset::Part;

/// Errors a trained model can raise while scoring.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{model}: {message}")]
    Scoring { model: String, message: String },
}

/// A fitted recommender: scores (user, item) rows and ranks all items for a user.
///
/// Indices are the dataset's train indices (ascending raw id).
pub trait Recommender: Send + Sync {
    /// Model name as it appears in reports and file names.
    fn name(&self) -> &str;

    /// Whether scores are click probabilities (log loss is reported only then).
    fn probabilistic(&self) -> bool;

    /// One score per row of `part` (its users, items and row features).
    fn score_rows(&self, part: &Part) -> Result<Vec<f32>, ModelError>;

    /// The score of every item for `user`, written into `out` (`out.len()` = number of items).
    fn score_items(&self, user: u32, out: &mut [f32]) -> Result<(), ModelError>;

    /// The scores of every item for each of `users`, user after user (`out.len()` = users ×
    /// items). Full-ranking evaluation scores users in blocks through this; models with factor
    /// matrices override it with one matrix product per block (the same scores up to f32
    /// rounding), the default calls [`Recommender::score_items`] per user.
    fn score_items_block(&self, users: &[u32], out: &mut [f32]) -> Result<(), ModelError> {
        let n = out.len() / users.len().max(1);
        for (&u, row) in users.iter().zip(out.chunks_mut(n.max(1))) {
            self.score_items(u, row)?;
        }
        Ok(())
    }
}
