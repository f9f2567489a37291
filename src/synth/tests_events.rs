//! Tests of the `events` kind.

use super::tests::{csv_bytes, ints, multi_day_share, spec, strings};
use super::*;
use polars::prelude::*;
use std::collections::{HashMap, HashSet};

#[test]
fn events_columns_dtypes_and_determinism() {
    let s = spec(SynthKind::Events, 300, 200, 40_001);
    let mut a = generate(&s).expect("generate");
    let names: Vec<&str> = a.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["timestamp", "eventType", "contentId", "personId"]);
    let dtypes = a.dtypes();
    assert_eq!(
        dtypes,
        [
            DataType::Int64,
            DataType::String,
            DataType::Int64,
            DataType::Int64
        ]
    );
    assert_eq!(a.height(), 40_001);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("pool");
    let mut b = pool.install(|| generate(&s)).expect("generate");
    assert_eq!(csv_bytes(&mut a), csv_bytes(&mut b));
    let mut c = generate(&SynthSpec { seed: 99, ..s }).expect("generate");
    assert_ne!(csv_bytes(&mut a), csv_bytes(&mut c));
}

#[test]
fn events_mix_duplicates_ids_and_days() {
    let s = spec(SynthKind::Events, 2_000, 1_500, 200_000);
    let df = generate(&s).expect("generate");
    let kinds = strings(&df, "eventType");
    let n = kinds.len() as f64;
    let targets = [
        ("VIEW", 0.84),
        ("LIKE", 0.08),
        ("BOOKMARK", 0.034),
        ("COMMENT CREATED", 0.022),
        ("FOLLOW", 0.019),
    ];
    for (name, target) in targets {
        let share = kinds.iter().filter(|k| k.as_str() == name).count() as f64 / n;
        // Relative tolerance 15 %: the pilot calibration plus sampling noise is well inside.
        assert!(
            (share - target).abs() < 0.15 * target,
            "{name}: share {share}, target {target}"
        );
    }
    assert!(kinds.iter().all(|k| EVENT_TYPES.contains(&k.as_str())));

    let ts = ints(&df, "timestamp");
    let content = ints(&df, "contentId");
    let person = ints(&df, "personId");
    let mut rows: HashMap<(i64, &str, i64, i64), usize> = HashMap::new();
    for i in 0..kinds.len() {
        *rows
            .entry((ts[i], kinds[i].as_str(), content[i], person[i]))
            .or_default() += 1;
    }
    let duplicates = kinds.len() - rows.len();
    // About 0.6 % of views are written twice: ~1000 of 200k rows.
    assert!(
        (300..3_000).contains(&duplicates),
        "{duplicates} exact duplicates"
    );

    // Hashed ids: both signs occur, and there are as many distinct ids as entities seen.
    assert!(content.iter().any(|&c| c < 0) && content.iter().any(|&c| c > 0));
    let distinct_items: HashSet<i64> = content.iter().copied().collect();
    assert!(distinct_items.len() > 1_000 && distinct_items.len() <= s.items);

    let end = s.start + i64::from(s.days) * 86_400;
    assert!(ts.iter().all(|&t| t >= s.start && t < end));
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
    let (n_persons, share) = multi_day_share(&person, &ts);
    assert_eq!(n_persons, s.users);
    assert!(share > 0.95, "persons on >= 2 days: {share}");
}

#[test]
fn events_follow_ups_prefer_items_matching_taste() {
    // Views are tilted towards high-affinity items, so a (person, content) pair viewed 3+ times
    // is, on average, a higher-affinity pair than one viewed once; LIKE probability rises with
    // affinity, so its LIKE rate per view must be clearly higher. (Without the planted taste
    // both rates would be equal: follow-ups would not depend on the pair.)
    let df = generate(&spec(SynthKind::Events, 500, 2_000, 150_000)).expect("generate");
    let kinds = strings(&df, "eventType");
    let content = ints(&df, "contentId");
    let person = ints(&df, "personId");
    let mut pairs: HashMap<(i64, i64), (usize, usize)> = HashMap::new();
    for i in 0..kinds.len() {
        let e = pairs.entry((person[i], content[i])).or_default();
        match kinds[i].as_str() {
            "VIEW" => e.0 += 1,
            "LIKE" => e.1 += 1,
            _ => {}
        }
    }
    let rate = |pred: &dyn Fn(usize) -> bool| {
        let (views, likes) = pairs
            .values()
            .filter(|(v, _)| pred(*v))
            .fold((0, 0), |(v, l), (pv, pl)| (v + pv, l + pl));
        likes as f64 / views.max(1) as f64
    };
    let once = rate(&|v| v == 1);
    let repeated = rate(&|v| v >= 3);
    assert!(
        repeated > 1.2 * once,
        "LIKE/VIEW repeated {repeated}, once {once}"
    );
}
