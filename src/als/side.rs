//! One side of the factorisation (users or items) arranged for the row solves.

use super::Csr;

/// The confidences of one side's rows with, in every row, the entries whose confidence is not
/// 1 first (column order kept within each group). An entry with `c = 1` adds nothing to the
/// row's matrix `Σ (c − 1) y yᵀ`, so the conjugate-gradient products skip those entries
/// entirely; the result is the same as visiting them, since their term is exactly zero.
pub(crate) struct Side {
    pub(crate) n_rows: usize,
    pub(crate) n_cols: usize,
    indptr: Vec<usize>,
    /// Per row: how many leading entries have `c ≠ 1`.
    weighted: Vec<usize>,
    indices: Vec<u32>,
    conf: Vec<f32>,
}

impl Side {
    /// Rearranges a confidence matrix (a checked `Csr`).
    pub(crate) fn new(conf: &Csr) -> Side {
        let mut indices = Vec::with_capacity(conf.nnz());
        let mut values = Vec::with_capacity(conf.nnz());
        let mut weighted = Vec::with_capacity(conf.n_rows);
        for r in 0..conf.n_rows {
            let (cols, cs) = conf.row(r);
            let start = indices.len();
            for (&c, &v) in cols.iter().zip(cs).filter(|(_, v)| **v != 1.0) {
                indices.push(c);
                values.push(v);
            }
            weighted.push(indices.len() - start);
            for (&c, &v) in cols.iter().zip(cs).filter(|(_, v)| **v == 1.0) {
                indices.push(c);
                values.push(v);
            }
        }
        Side {
            n_rows: conf.n_rows,
            n_cols: conf.n_cols,
            indptr: conf.indptr.clone(),
            weighted,
            indices,
            conf: values,
        }
    }

    /// Row `r`: its columns, confidences, and how many leading entries have `c ≠ 1`.
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
        let s = Side::new(&m);
        assert_eq!(
            s.row(0),
            (&[1u32, 4, 0, 2][..], &[3.0f32, 2.0, 1.0, 1.0][..], 2)
        );
        assert_eq!(s.row(1), (&[3u32][..], &[1.0f32][..], 0));
        assert_eq!(s.row(2), (&[][..], &[][..], 0));
    }
}
