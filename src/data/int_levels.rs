//! Levels of an integer categorical column without casting every value to text.
//!
//! The text path (cast the column to `String`, hash every value) costs a string per row: on a
//! 57 M-row log with ten integer-coded fields that is 570 M strings. Here the integers are
//! factorized directly and only the distinct values get a text label. The result is exactly the
//! text path's: the levels are the values' decimal text, sorted as text (`"10" < "9"`), and a
//! row's code is its level's position among them; more than `max` levels is reported with the
//! count the text path stops at (`max + 1`).

use polars::prelude::*;
use rayon::prelude::*;
use std::collections::HashMap;

/// Rows per parallel task of the coding pass.
const TASK_ROWS: usize = 1 << 16;
/// Value ranges up to this many slots (and at least up to the number of rows) are factorized
/// with a direct table of one `u32` per slot (at most 64 MB); wider ranges use a hash map.
const DENSE_SLOTS: usize = 1 << 24;

/// Sorted levels (text) and each row's level index (0-based), as the text path returns them.
type Found = (Vec<String>, Vec<u32>);

/// Sorted levels and each row's level index of an integer column without nulls, or `None` for
/// any other column (other types, nulls, empty: the caller takes the text path). `Err(levels)`
/// when there are more than `max` levels.
pub(super) fn int_levels(s: &Series, max: usize) -> Option<Result<Found, usize>> {
    if s.is_empty() || s.null_count() > 0 {
        return None;
    }
    macro_rules! run {
        ($ca:expr) => {{
            let chunks: Vec<&[_]> = $ca
                .ok()?
                .downcast_iter()
                .map(|a| a.values().as_slice())
                .collect();
            Some(factorize(&chunks, max))
        }};
    }
    match s.dtype() {
        DataType::Int8 => run!(s.i8()),
        DataType::Int16 => run!(s.i16()),
        DataType::Int32 => run!(s.i32()),
        DataType::Int64 => run!(s.i64()),
        DataType::UInt8 => run!(s.u8()),
        DataType::UInt16 => run!(s.u16()),
        DataType::UInt32 => run!(s.u32()),
        _ => None,
    }
}

/// Factorizes the values of `chunks` (the column's chunks in row order).
fn factorize<N>(chunks: &[&[N]], max: usize) -> Result<Found, usize>
where
    N: Copy + Into<i64> + Sync,
{
    let rows: usize = chunks.iter().map(|c| c.len()).sum();
    let values = || chunks.iter().flat_map(|c| c.iter().map(|&v| v.into()));
    let (lo, hi) = values().fold((i64::MAX, i64::MIN), |(lo, hi), v: i64| {
        (lo.min(v), hi.max(v))
    });
    let span = u64::try_from(i128::from(hi) - i128::from(lo) + 1).unwrap_or(u64::MAX);
    if span <= DENSE_SLOTS.max(rows) as u64 {
        // slot[v - lo]: u32::MAX unseen, then 0 seen, then the level's sorted position.
        let mut slot = vec![u32::MAX; span as usize];
        values().for_each(|v| slot[(v - lo) as usize] = 0);
        let present: Vec<i64> = (0..span as i64)
            .filter(|&k| slot[k as usize] == 0)
            .map(|k| lo + k)
            .collect();
        let levels = sort_as_text(present, max)?;
        for (pos, (_, v)) in levels.iter().enumerate() {
            slot[(v - lo) as usize] = pos as u32;
        }
        let codes = code_rows(chunks, rows, |v| slot[(v - lo) as usize]);
        Ok((levels.into_iter().map(|(l, _)| l).collect(), codes))
    } else {
        let mut seen: HashMap<i64, u32> = HashMap::new();
        for v in values() {
            seen.insert(v, 0);
            if seen.len() > max {
                return Err(max + 1);
            }
        }
        let levels = sort_as_text(seen.keys().copied().collect(), max)?;
        for (pos, (_, v)) in levels.iter().enumerate() {
            seen.insert(*v, pos as u32);
        }
        let codes = code_rows(chunks, rows, |v| seen[&v]);
        Ok((levels.into_iter().map(|(l, _)| l).collect(), codes))
    }
}

/// The distinct `values` with their decimal text, sorted by the text (the text path's order).
fn sort_as_text(values: Vec<i64>, max: usize) -> Result<Vec<(String, i64)>, usize> {
    if values.len() > max {
        return Err(max + 1);
    }
    let mut levels: Vec<(String, i64)> = values.into_iter().map(|v| (v.to_string(), v)).collect();
    levels.sort_unstable();
    Ok(levels)
}

/// Each row's code, `code_of(value)`, computed in parallel.
fn code_rows<N>(chunks: &[&[N]], rows: usize, code_of: impl Fn(i64) -> u32 + Sync) -> Vec<u32>
where
    N: Copy + Into<i64> + Sync,
{
    let mut codes = vec![0u32; rows];
    let mut rest: &mut [u32] = &mut codes;
    for chunk in chunks {
        let (out, tail) = std::mem::take(&mut rest).split_at_mut(chunk.len());
        rest = tail;
        out.par_chunks_mut(TASK_ROWS)
            .zip(chunk.par_chunks(TASK_ROWS))
            .for_each(|(o, c)| {
                for (o, &v) in o.iter_mut().zip(c) {
                    *o = code_of(v.into());
                }
            });
    }
    codes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Columns;
    use std::path::Path;

    /// The text path's levels and codes of `s` (or its level count when over `max`).
    fn by_text(s: &Series, max: usize) -> Result<Found, usize> {
        let df = DataFrame::empty();
        let cols = Columns {
            df: &df,
            path: Path::new("t.csv"),
        };
        let text = cols.text(s, "x").expect("text cast");
        cols.levels("x", &text, max).map_err(|e| match e {
            crate::data::DataError::TooManyLevels { levels, .. } => levels,
            other => panic!("{other}"),
        })
    }

    #[test]
    fn integer_fast_path_gives_the_text_paths_levels_and_codes() {
        let dense = [9i64, 10, 2, -5, 100, 9, 0, 10, 1, 11];
        let mut two_chunks = Series::new("x".into(), &dense[..6]);
        two_chunks
            .append(&Series::new("x".into(), &dense[6..]))
            .unwrap();
        assert_eq!(two_chunks.n_chunks(), 2);
        let cases = [
            Series::new("x".into(), &dense),
            two_chunks,
            Series::new("x".into(), &[3i32, 30, 300, 3, 4, 30]),
            Series::new("x".into(), &[7u32, 70, 8, 7]),
            // Far apart values: the hash-map path.
            Series::new(
                "x".into(),
                &[1_000_000_000_000i64, -7, 20, -7, i64::MAX, i64::MIN],
            ),
        ];
        for s in &cases {
            let fast = int_levels(s, usize::MAX)
                .expect("an integer column")
                .unwrap();
            assert_eq!(fast, by_text(s, usize::MAX).unwrap(), "{s:?}");
        }
        // Text order, not numeric: "-5" < "0" < "1" < "10" < "100" < "11" < "2" < "9".
        let (levels, codes) = int_levels(&cases[0], usize::MAX).unwrap().unwrap();
        assert_eq!(levels, ["-5", "0", "1", "10", "100", "11", "2", "9"]);
        assert_eq!(codes, [7, 3, 6, 0, 4, 7, 1, 3, 2, 5]);
    }

    #[test]
    fn integer_fast_path_refuses_too_many_levels_like_the_text_path() {
        for s in [
            Series::new("x".into(), &[1i64, 2, 3, 1]),
            Series::new("x".into(), &[1i64, 5_000_000_000, 3, 1]),
        ] {
            assert_eq!(int_levels(&s, 2), Some(Err(3)));
            assert_eq!(by_text(&s, 2), Err(3));
            assert!(int_levels(&s, 3).unwrap().is_ok());
        }
    }

    #[test]
    fn other_columns_take_the_text_path() {
        let nulls = Series::new("x".into(), &[Some(1i64), None]);
        let text = Series::new("x".into(), &["1", "2"]);
        let floats = Series::new("x".into(), &[1.0f64, 2.0]);
        let big = Series::new("x".into(), &[1u64, 2]);
        for s in [nulls, text, floats, big] {
            assert!(int_levels(&s, usize::MAX).is_none(), "{s:?}");
        }
    }
}
