//! The k best scores of a dense score vector with exclusions, ties by ascending index (over
//! the shared selection [`crate::topk::TopK`]).

use crate::topk::TopK;

/// The `k` best `(index, score)` of `scores`, best first, ties by ascending index, skipping
/// indices in `exclude` (sorted ascending; sorted here if it is not). NaN counts as -inf.
pub fn top_k(scores: &[f32], k: usize, exclude: &[u32]) -> Vec<(u32, f32)> {
    if k == 0 {
        return Vec::new();
    }
    let sorted_copy;
    let exclude = if exclude.is_sorted() {
        exclude
    } else {
        let mut v = exclude.to_vec();
        v.sort_unstable();
        sorted_copy = v;
        &sorted_copy[..]
    };
    let mut best = TopK::new(k);
    let mut ex = exclude.iter().peekable();
    for (i, &score) in scores.iter().enumerate() {
        let item = i as u32;
        while ex.next_if(|&&e| e < item).is_some() {}
        if ex.peek() != Some(&&item) {
            best.push(item, score);
        }
    }
    let mut out = Vec::with_capacity(k);
    best.drain_sorted(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_handles_nan_and_large_inputs_like_a_full_sort() {
        assert_eq!(
            top_k(&[f32::NAN, 1.0, f32::NEG_INFINITY], 3, &[])
                .iter()
                .map(|p| p.0)
                .collect::<Vec<_>>(),
            vec![1, 0, 2]
        );
        let scores: Vec<f32> = (0..1000u32).map(|i| ((i * 37) % 101) as f32).collect();
        let exclude: Vec<u32> = (0..1000).step_by(3).collect();
        let mut full: Vec<(u32, f32)> = (0..1000u32)
            .filter(|i| i % 3 != 0)
            .map(|i| (i, scores[i as usize]))
            .collect();
        full.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        full.truncate(25);
        assert_eq!(top_k(&scores, 25, &exclude), full);
    }
}
