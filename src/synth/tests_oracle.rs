//! The generator's truth ([`SynthOracle`]) matches the generated log.

use super::tests::{ints, spec};
use super::*;

/// `ctr`: every row's ids map back, and the mean truth probability over the rows equals the
/// observed click rate (the clicks were drawn from it): 40 000 rows at ~9 % give a standard
/// error of ~0.0015, the probit approximation of the noise adds well under 0.002.
#[test]
fn ctr_truth_is_calibrated_on_the_generated_rows() {
    let s = spec(SynthKind::Ctr, 800, 300, 40_000);
    let df = generate(&s).unwrap();
    let o = SynthOracle::new(&s).unwrap();
    assert!(o.probabilistic());
    let (users, items, clicks) = (ints(&df, "user"), ints(&df, "item"), ints(&df, "is_click"));
    let mut p_sum = 0.0;
    for (&u, &i) in users.iter().zip(&items) {
        let p = o.score(o.user_index(u).unwrap(), o.item_index(i).unwrap());
        assert!((0.0..=1.0).contains(&p));
        p_sum += p;
    }
    let mean_p = p_sum / users.len() as f64;
    let rate = clicks.iter().sum::<i64>() as f64 / clicks.len() as f64;
    assert!(
        (mean_p - rate).abs() < 0.006,
        "mean truth {mean_p} vs click rate {rate}"
    );
    assert_eq!(o.user_index(0), None);
    assert_eq!(o.item_index(301), None);
}

/// `events`: every scrambled id of the log maps back to a generator index, and the items the
/// users viewed have a higher mean propensity than random items for the same users.
#[test]
fn events_ids_map_back_and_viewed_items_score_higher() {
    let s = spec(SynthKind::Events, 300, 200, 20_000);
    let df = generate(&s).unwrap();
    let o = SynthOracle::new(&s).unwrap();
    assert!(!o.probabilistic());
    let (persons, contents) = (ints(&df, "personId"), ints(&df, "contentId"));
    let (mut viewed, mut other) = (0.0, 0.0);
    for (r, (&p, &c)) in persons.iter().zip(&contents).enumerate() {
        let u = o.user_index(p).expect("every personId maps back");
        let i = o.item_index(c).expect("every contentId maps back");
        viewed += o.score(u, i);
        other += o.score(u, (i + 1 + r % 7) % 200);
    }
    assert!(viewed > 1.5 * other, "viewed {viewed} vs others {other}");
    assert_eq!(o.user_index(12345), None);
}
