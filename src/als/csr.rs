//! Compressed sparse row matrix: the user × item interactions ALS trains on.

use super::AlsError;

/// A sparse matrix in compressed-row form. Within each row the column indices are strictly
/// increasing (duplicates were summed when it was built).
///
/// Row `r` occupies `indices[indptr[r]..indptr[r + 1]]` and the same range of `data`;
/// `indptr` has `n_rows + 1` entries, starting at 0.
#[derive(Debug, Clone, PartialEq)]
pub struct Csr {
    pub n_rows: usize,
    pub n_cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub data: Vec<f32>,
}

impl Csr {
    /// Builds an `n_rows × n_cols` matrix from (row, col, value) triplets in any order.
    /// Repeated (row, col) pairs are summed (in input order); columns are sorted within rows.
    ///
    /// Errors: slices of different lengths, an index out of range, a NaN or infinite value, or
    /// more than 2³² columns.
    pub fn from_triplets(
        n_rows: usize,
        n_cols: usize,
        rows: &[u32],
        cols: &[u32],
        vals: &[f32],
    ) -> Result<Csr, AlsError> {
        if rows.len() != cols.len() || rows.len() != vals.len() {
            return Err(AlsError::TripletLengthMismatch {
                rows: rows.len(),
                cols: cols.len(),
                vals: vals.len(),
            });
        }
        let max_cols = u32::MAX as usize + 1;
        if n_cols > max_cols {
            return Err(AlsError::TooManyColumns {
                n_cols,
                max: max_cols,
            });
        }
        let mut counts = vec![0usize; n_rows + 1];
        for (position, ((&row, &col), &value)) in rows.iter().zip(cols).zip(vals).enumerate() {
            if row as usize >= n_rows {
                return Err(AlsError::RowOutOfRange {
                    position,
                    row,
                    n_rows,
                });
            }
            if col as usize >= n_cols {
                return Err(AlsError::ColOutOfRange {
                    position,
                    col,
                    n_cols,
                });
            }
            if !value.is_finite() {
                return Err(AlsError::NonFiniteValue { position, value });
            }
            counts[row as usize + 1] += 1;
        }
        for r in 0..n_rows {
            counts[r + 1] += counts[r];
        }
        // Counting sort by row (stable, so duplicates keep input order), then sort each row by
        // column and merge duplicates.
        let mut next = counts.clone();
        let mut by_row: Vec<(u32, f32)> = vec![(0, 0.0); rows.len()];
        for ((&row, &col), &value) in rows.iter().zip(cols).zip(vals) {
            let slot = &mut next[row as usize];
            by_row[*slot] = (col, value);
            *slot += 1;
        }
        let mut indptr = Vec::with_capacity(n_rows + 1);
        let mut indices = Vec::with_capacity(rows.len());
        let mut data = Vec::with_capacity(rows.len());
        indptr.push(0);
        for r in 0..n_rows {
            let entries = &mut by_row[counts[r]..counts[r + 1]];
            entries.sort_by_key(|&(col, _)| col); // stable: duplicates stay in input order
            for &(col, value) in entries.iter() {
                if indices.len() > *indptr.last().unwrap_or(&0) && indices.last() == Some(&col) {
                    if let Some(last) = data.last_mut() {
                        *last += value;
                    }
                } else {
                    indices.push(col);
                    data.push(value);
                }
            }
            indptr.push(indices.len());
        }
        Ok(Csr {
            n_rows,
            n_cols,
            indptr,
            indices,
            data,
        })
    }

    /// The transpose (`n_cols × n_rows`), with sorted columns in every row.
    pub fn transpose(&self) -> Csr {
        let nnz = self.indices.len();
        let mut indptr = vec![0usize; self.n_cols + 1];
        for &c in &self.indices {
            indptr[c as usize + 1] += 1;
        }
        for c in 0..self.n_cols {
            indptr[c + 1] += indptr[c];
        }
        let mut next = indptr.clone();
        let mut indices = vec![0u32; nnz];
        let mut data = vec![0.0f32; nnz];
        // Walking rows in ascending order writes each transposed row in ascending order.
        for r in 0..self.n_rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let slot = &mut next[c as usize];
                indices[*slot] = r as u32;
                data[*slot] = v;
                *slot += 1;
            }
        }
        Csr {
            n_rows: self.n_cols,
            n_cols: self.n_rows,
            indptr,
            indices,
            data,
        }
    }

    /// Row `r`'s column indices and values; empty slices when `r` is out of range.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (Some(&start), Some(&end)) = (self.indptr.get(r), self.indptr.get(r + 1)) else {
            return (&[], &[]);
        };
        match (self.indices.get(start..end), self.data.get(start..end)) {
            (Some(i), Some(d)) => (i, d),
            _ => (&[], &[]),
        }
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// Checks the structural invariants a hand-built `Csr` (public fields) might break:
    /// `indptr` length, monotonicity, lengths of `indices`/`data`, column range and order.
    pub(crate) fn check_structure(&self, what: &'static str) -> Result<(), AlsError> {
        let nnz = self.indices.len();
        let bad = |expected: usize, got: usize| AlsError::ShapeMismatch {
            what,
            expected,
            got,
        };
        if self.indptr.len() != self.n_rows + 1 {
            return Err(bad(self.n_rows + 1, self.indptr.len()));
        }
        if self.data.len() != nnz {
            return Err(bad(nnz, self.data.len()));
        }
        if self.indptr.first() != Some(&0) || self.indptr.last() != Some(&nnz) {
            return Err(bad(nnz, self.indptr.last().copied().unwrap_or(0)));
        }
        for r in 0..self.n_rows {
            let (start, end) = (self.indptr[r], self.indptr[r + 1]);
            if start > end || end > nnz {
                return Err(bad(start, end));
            }
            let cols = &self.indices[start..end];
            if let Some(&c) = cols.iter().find(|&&c| c as usize >= self.n_cols) {
                return Err(bad(self.n_cols, c as usize));
            }
            if cols.windows(2).any(|w| w[0] >= w[1]) {
                return Err(bad(start, end));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_triplets_sums_duplicates_and_sorts_columns() {
        // Row 0 gets (2, 1.0) twice and (0, 3.0); row 2 gets (1, 0.5); row 1 is empty.
        let m = Csr::from_triplets(3, 3, &[0, 2, 0, 0], &[2, 1, 0, 2], &[1.0, 0.5, 3.0, 1.0])
            .expect("valid triplets");
        assert_eq!(m.indptr, vec![0, 2, 2, 3]);
        assert_eq!(m.indices, vec![0, 2, 1]);
        assert_eq!(m.data, vec![3.0, 2.0, 0.5]);
        assert_eq!(m.row(0), (&[0u32, 2][..], &[3.0f32, 2.0][..]));
        assert_eq!(m.row(1), (&[][..], &[][..]));
        assert_eq!(m.row(7), (&[][..], &[][..]));
        assert!(m.check_structure("m").is_ok());
    }

    #[test]
    fn from_triplets_rejects_bad_input() {
        assert_eq!(
            Csr::from_triplets(2, 2, &[0], &[0, 1], &[1.0]),
            Err(AlsError::TripletLengthMismatch {
                rows: 1,
                cols: 2,
                vals: 1
            })
        );
        assert_eq!(
            Csr::from_triplets(2, 2, &[0, 2], &[0, 1], &[1.0, 1.0]),
            Err(AlsError::RowOutOfRange {
                position: 1,
                row: 2,
                n_rows: 2
            })
        );
        assert_eq!(
            Csr::from_triplets(2, 2, &[0], &[5], &[1.0]),
            Err(AlsError::ColOutOfRange {
                position: 0,
                col: 5,
                n_cols: 2
            })
        );
        assert!(matches!(
            Csr::from_triplets(2, 2, &[0], &[0], &[f32::NAN]),
            Err(AlsError::NonFiniteValue { position: 0, .. })
        ));
    }

    #[test]
    fn transpose_swaps_entries_and_round_trips() {
        let m = Csr::from_triplets(2, 3, &[0, 0, 1, 1], &[1, 2, 0, 2], &[1.0, 2.0, 3.0, 4.0])
            .expect("valid triplets");
        let t = m.transpose();
        assert_eq!((t.n_rows, t.n_cols), (3, 2));
        assert_eq!(t.row(0), (&[1u32][..], &[3.0f32][..]));
        assert_eq!(t.row(1), (&[0u32][..], &[1.0f32][..]));
        assert_eq!(t.row(2), (&[0u32, 1][..], &[2.0f32, 4.0][..]));
        assert_eq!(t.transpose(), m);
    }

    #[test]
    fn check_structure_catches_unsorted_hand_built_rows() {
        let m = Csr {
            n_rows: 1,
            n_cols: 3,
            indptr: vec![0, 2],
            indices: vec![2, 1],
            data: vec![1.0, 1.0],
        };
        assert!(m.check_structure("user_items").is_err());
    }
}
