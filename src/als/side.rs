//! One side of the factorisation (users or items) arranged for the row solves.

use super::{AlsError, Confidence, Csr};

/// The confidences of one side's rows with, in every row, the entries whose confidence is not
/// the unobserved weight α0 first (column order kept within each group). An entry with
/// `c = α0` adds nothing to the row's matrix `Σ (c − α0) y yᵀ`, so the conjugate-gradient
/// products skip those entries entirely; the result is the same as visiting them, since their
/// term is exactly zero.
pub(crate) struct Side {
    pub(crate) n_rows: usize,
    pub(crate) n_cols: usize,
    indptr: Vec<usize>,
    /// Per row: how many leading entries have `c ≠ α0`.
    weighted: Vec<usize>,
    indices: Vec<u32>,
    conf: Vec<f32>,
}

impl Side {
    /// Turns the strengths of a checked `Csr` into confidences `confidence.of(alpha, r)` and
    /// rearranges them (entries with `c = w0`, the unobserved weight, last). Errors on a stored
    /// strength that is not > 0 (reported at its row and column in `m`).
    pub(crate) fn new(
        m: &Csr,
        confidence: Confidence,
        alpha: f32,
        w0: f32,
    ) -> Result<Side, AlsError> {
        let mut indices = Vec::with_capacity(m.nnz());
        let mut conf = Vec::with_capacity(m.nnz());
        let mut weighted = Vec::with_capacity(m.n_rows);
        for row in 0..m.n_rows {
            let (cols, rs) = m.row(row);
            let start = indices.len();
            for (&col, &r) in cols.iter().zip(rs) {
                if r.is_nan() || r <= 0.0 {
                    return Err(AlsError::NonPositiveValue {
                        row,
                        col: col as usize,
                        value: r,
                    });
                }
                let c = confidence.of(alpha, r);
                if c != w0 {
                    indices.push(col);
                    conf.push(c);
                }
            }
            weighted.push(indices.len() - start);
            for &col in cols
                .iter()
                .zip(rs)
                .filter_map(|(col, &r)| (confidence.of(alpha, r) == w0).then_some(col))
            {
                indices.push(col);
                conf.push(w0);
            }
        }
        Ok(Side {
            n_rows: m.n_rows,
            n_cols: m.n_cols,
            indptr: m.indptr.clone(),
            weighted,
            indices,
            conf,
        })
    }

    /// Number of stored entries.
    pub(crate) fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Stored entries of row `r` (0 out of range).
    pub(crate) fn row_len(&self, r: usize) -> usize {
        match (self.indptr.get(r), self.indptr.get(r + 1)) {
            (Some(&a), Some(&b)) => b - a,
            _ => 0,
        }
    }

    /// Row `r`: its columns, confidences, and how many leading entries have `c ≠ α0`.
    /// Empty for a row out of range.
    pub(crate) fn row(&self, r: usize) -> (&[u32], &[f32], usize) {
        let (Some(&start), Some(&end)) = (self.indptr.get(r), self.indptr.get(r + 1)) else {
            return (&[], &[], 0);
        };
        match (self.indices.get(start..end), self.conf.get(start..end)) {
            (Some(i), Some(c)) => (i, c, self.weighted.get(r).copied().unwrap_or(0)),
            _ => (&[], &[], 0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_entries_come_first_in_column_order() {
        let m = Csr::from_triplets(
            2,
            5,
            &[0, 0, 0, 0, 1],
            &[0, 1, 2, 4, 3],
            &[1.0, 3.0, 1.0, 2.0, 1.0],
        )
        .expect("valid");
        let s = Side::new(&m, Confidence::Linear, 1.0, 1.0).expect("positive values");
        assert_eq!(
            s.row(0),
            (&[1u32, 4, 0, 2][..], &[3.0f32, 2.0, 1.0, 1.0][..], 2)
        );
        assert_eq!(s.row(1), (&[3u32][..], &[1.0f32][..], 0));
        assert_eq!(s.row(2), (&[][..], &[][..], 0));
        assert_eq!((s.row_len(0), s.row_len(1), s.row_len(2)), (4, 1, 0));
        // With α0 = 2 the entries of confidence 2 are the skipped ones.
        let w = Side::new(&m, Confidence::Linear, 1.0, 2.0).expect("positive values");
        assert_eq!(
            w.row(0),
            (&[0u32, 1, 2, 4][..], &[1.0f32, 3.0, 1.0, 2.0][..], 3)
        );
        // Hu with alpha 0.5: c = 1 + 0.5·r, so no entry has c = 1.
        let hu = Side::new(&m, Confidence::Hu, 0.5, 1.0).expect("positive values");
        assert_eq!(
            hu.row(0),
            (&[0u32, 1, 2, 4][..], &[1.5f32, 2.5, 1.5, 2.0][..], 4)
        );
    }

    #[test]
    fn non_positive_strengths_are_rejected_with_their_position() {
        let m = Csr::from_triplets(2, 3, &[0, 1], &[2, 1], &[1.0, 0.0]).expect("finite");
        assert_eq!(
            Side::new(&m, Confidence::Hu, 1.0, 1.0).err(),
            Some(AlsError::NonPositiveValue {
                row: 1,
                col: 1,
                value: 0.0
            })
        );
    }
}
