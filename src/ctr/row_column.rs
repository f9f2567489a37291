//! One single field's table row per data row, stored in the narrowest unsigned type its table
//! allows.
//!
//! The trainer holds every field's column for every train row. Most of a click log's fields
//! (os, channel, country, city, app) have at most a few thousand levels, so u32 everywhere spends
//! most of those bytes on zeros: at 57 M rows with ten generated fields of 10 to 1 M levels, u8
//! and u16 columns hold 0.78 GB less, the difference between that run fitting 8 GB or not. A
//! narrower column also takes fewer cache lines per batch. Values are the same whatever the
//! width: every reader sees `u32` rows.

/// Table rows of one field, one per data row; see the module doc.
#[derive(Debug, Clone, PartialEq)]
pub enum RowColumn {
    /// Tables of at most 256 rows.
    U8(Vec<u8>),
    /// Tables of at most 65 536 rows.
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for RowColumn {
    fn default() -> Self {
        Self::U32(Vec::new())
    }
}

impl From<Vec<u32>> for RowColumn {
    /// The column as given, u32 wide (scoring and tests; the trainer narrows with
    /// [`RowColumn::collect`]).
    fn from(v: Vec<u32>) -> Self {
        Self::U32(v)
    }
}

impl RowColumn {
    /// `len` rows, each below `table_rows`, in the narrowest type for `table_rows` (huge pages
    /// when large: the trainer reads them at random, see `crate::hugepages`).
    pub fn collect(table_rows: usize, len: usize, rows: impl Iterator<Item = u32>) -> Self {
        use crate::hugepages::collect;
        let fits = |max: usize| {
            move |r: u32| {
                debug_assert!((r as usize) < max, "row {r} outside a table of {max}");
                r
            }
        };
        if table_rows <= 1 << 8 {
            Self::U8(collect(len, rows.map(fits(1 << 8)).map(|r| r as u8)))
        } else if table_rows <= 1 << 16 {
            Self::U16(collect(len, rows.map(fits(1 << 16)).map(|r| r as u16)))
        } else {
            Self::U32(collect(len, rows))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::U16(v) => v.len(),
            Self::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table row of data row `i`.
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Self::U8(v) => u32::from(v[i]),
            Self::U16(v) => u32::from(v[i]),
            Self::U32(v) => v[i],
        }
    }

    /// Every row in data-row order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Appends the table rows of data rows `batch` to `out` (the trainer's per-batch ids; one
    /// match per batch, not per row).
    pub fn gather_into(&self, batch: &[u32], out: &mut Vec<i32>) {
        match self {
            Self::U8(v) => out.extend(batch.iter().map(|&r| i32::from(v[r as usize]))),
            Self::U16(v) => out.extend(batch.iter().map(|&r| i32::from(v[r as usize]))),
            Self::U32(v) => out.extend(batch.iter().map(|&r| v[r as usize] as i32)),
        }
    }

    /// Data rows that read the OOV row (row 0).
    pub fn oov_rows(&self) -> usize {
        match self {
            Self::U8(v) => v.iter().filter(|&&r| r == 0).count(),
            Self::U16(v) => v.iter().filter(|&&r| r == 0).count(),
            Self::U32(v) => v.iter().filter(|&&r| r == 0).count(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_width_follows_the_table_rows_and_values_survive_it() {
        let cases: [(usize, u32, usize); 6] = [
            (1, 0, 1),
            (256, 255, 1),
            (257, 256, 2),
            (65_536, 65_535, 2),
            (65_537, 65_536, 4),
            (5_000_000, 4_999_999, 4),
        ];
        for (table_rows, top, width) in cases {
            let rows = vec![0, top, top / 2, top];
            let col = RowColumn::collect(table_rows, rows.len(), rows.iter().copied());
            let got = match &col {
                RowColumn::U8(_) => 1,
                RowColumn::U16(_) => 2,
                RowColumn::U32(_) => 4,
            };
            assert_eq!(got, width, "{table_rows} table rows");
            assert_eq!(col.iter().collect::<Vec<_>>(), rows);
            assert_eq!(col.len(), 4);
            assert_eq!(col.oov_rows(), 1 + usize::from(top == 0) * 3);
            let mut ids = vec![-1];
            col.gather_into(&[3, 0, 1], &mut ids);
            assert_eq!(ids, vec![-1, top as i32, 0, top as i32]);
        }
    }

    #[test]
    fn a_given_column_stays_u32() {
        let col = RowColumn::from(vec![7, 0, 300_000]);
        assert_eq!(col, RowColumn::U32(vec![7, 0, 300_000]));
        assert_eq!((col.get(2), col.oov_rows()), (300_000, 1));
        assert!(RowColumn::default().is_empty());
    }
}
