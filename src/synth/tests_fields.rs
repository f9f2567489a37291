//! Tests of the `ctr` kind's categorical fields (`SynthSpec::fields`).

use super::fields::level_effects;
use super::tests::{csv_bytes, ints, spec};
use super::*;
use polars::prelude::*;
use std::collections::{HashMap, HashSet};

fn with_fields(users: usize, items: usize, rows: usize, fields: usize) -> SynthSpec {
    SynthSpec {
        fields,
        ..spec(SynthKind::Ctr, users, items, rows)
    }
}

/// The level codes of a field column (`Int32`).
fn codes(df: &DataFrame, name: &str) -> Vec<i32> {
    df.column(name)
        .and_then(|c| c.i32().map(|ca| ca.into_no_null_iter().collect()))
        .unwrap_or_else(|e| panic!("column {name}: {e}"))
}

/// 64-bit FNV-1a of `bytes`.
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[test]
fn fields_zero_is_the_log_of_old_byte_for_byte() {
    // FNV-1a of the CSV written by `clickrec generate --kind ctr --users 300 --items 200
    // --rows 70001 --days 10 --seed 7` before fields existed (commit ebe3cdb).
    let mut df = generate(&spec(SynthKind::Ctr, 300, 200, 70_001)).expect("generate");
    let bytes = csv_bytes(&mut df);
    assert_eq!(bytes.len(), 4_203_814);
    assert_eq!(fnv(&bytes), 0xf508_7e31_0474_2cd0);
}

#[test]
fn same_seed_same_frame_with_fields_whatever_the_threads() {
    let s = with_fields(300, 200, 70_001, MAX_FIELDS);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| generate(&s)).expect("generate")
    };
    let mut a = run(1);
    let mut b = run(3);
    assert_eq!(csv_bytes(&mut a), csv_bytes(&mut b));
    let other = generate(&SynthSpec { seed: 8, ..s }).expect("generate");
    assert_ne!(codes(&a, "query"), codes(&other, "query"));
}

#[test]
fn fields_are_int32_columns_after_the_log_of_old_which_stays_put() {
    let base = generate(&spec(SynthKind::Ctr, 300, 200, 20_000)).expect("generate");
    let df = generate(&with_fields(300, 200, 20_000, 4)).expect("generate");
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut expected: Vec<String> = base
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    expected.extend(["os", "channel", "country", "city"].map(String::from));
    assert_eq!(names, expected);
    for f in &CTR_FIELDS[..4] {
        assert_eq!(df.column(f.name).unwrap().dtype(), &DataType::Int32);
    }
    // The fields draw from streams of their own: only the click and the platform counts (drawn
    // with the recalibrated bias, which moves their shared stream) may change.
    for name in base.get_column_names() {
        let same = base.column(name).unwrap().equals(df.column(name).unwrap());
        let may_change = ["is_click", "item_impressions", "item_clicks"].contains(&name.as_str());
        assert!(same || may_change, "column {name} changed with fields");
        if name == "is_click" {
            assert!(!same, "the signal fields should move some clicks");
        }
    }
}

#[test]
fn codes_stay_within_the_capped_levels_and_fixed_fields_are_fixed() {
    let s = with_fields(2_000, 1_000, 50_000, MAX_FIELDS);
    let df = generate(&s).expect("generate");
    let user = ints(&df, "user");
    let item = ints(&df, "item");
    for f in &CTR_FIELDS {
        let cap = field_levels(f, &s);
        let nominal = f.levels;
        let population = match f.attach {
            Attach::User => 2_000,
            Attach::Item => 1_000,
            Attach::Impression => 50_000,
        };
        assert_eq!(cap, nominal.min(population), "{}", f.name);
        let c = codes(&df, f.name);
        assert!(c.iter().all(|&x| x >= 1 && x as usize <= cap), "{}", f.name);
        let owner = match f.attach {
            Attach::User => Some(&user),
            Attach::Item => Some(&item),
            Attach::Impression => None,
        };
        if let Some(owner) = owner {
            let mut seen: HashMap<i64, i32> = HashMap::new();
            for (&o, &x) in owner.iter().zip(&c) {
                assert_eq!(
                    *seen.entry(o).or_insert(x),
                    x,
                    "{} varies within {o}",
                    f.name
                );
            }
        }
    }
    // Heavy-tailed: the query head level is frequent, yet thousands of levels occur.
    let q = codes(&df, "query");
    let mut count: HashMap<i32, usize> = HashMap::new();
    q.iter().for_each(|&x| *count.entry(x).or_default() += 1);
    let top = *count.values().max().unwrap() as f64 / q.len() as f64;
    assert!(top > 0.03, "top query level share {top}");
    assert!(count.len() > 5_000, "{} distinct queries", count.len());
    // A small log caps the big fields: 300 rows cannot carry a million queries.
    let tiny = with_fields(20, 10, 300, MAX_FIELDS);
    assert_eq!(field_levels(&CTR_FIELDS[9], &tiny), 300);
    assert_eq!(field_levels(&CTR_FIELDS[8], &tiny), 10);
    let df = generate(&tiny).expect("generate");
    assert!(codes(&df, "query").iter().all(|&x| (1..=300).contains(&x)));
}

/// Click rate of the rows whose `field` code (1-based) is in `levels`, and their count.
fn rate_of(df: &DataFrame, field: &str, levels: &HashSet<i32>) -> (f64, usize) {
    let click = ints(df, "is_click");
    let (mut n, mut k) = (0usize, 0i64);
    for (&c, &y) in codes(df, field).iter().zip(&click) {
        if levels.contains(&c) {
            n += 1;
            k += y;
        }
    }
    (k as f64 / n.max(1) as f64, n)
}

#[test]
fn planted_signal_moves_clicks_in_signal_fields_only() {
    let s = with_fields(20_000, 5_000, 300_000, MAX_FIELDS);
    let df = generate(&s).expect("generate");
    let rate = ints(&df, "is_click").iter().sum::<i64>() as f64 / df.height() as f64;
    assert!((0.08..0.10).contains(&rate), "click rate {rate}");
    for (f, name) in [(1, "channel"), (3, "city"), (9, "query")] {
        let effects = level_effects(&s, f).expect("effects");
        assert_eq!(CTR_FIELDS[f].name, name);
        let up: HashSet<i32> = (0..effects.len())
            .filter(|&c| effects[c] > 0.0)
            .map(|c| c as i32 + 1)
            .collect();
        let down: HashSet<i32> = (1..=effects.len() as i32)
            .filter(|c| !up.contains(c))
            .collect();
        let (hi, n_hi) = rate_of(&df, name, &up);
        let (lo, n_lo) = rate_of(&df, name, &down);
        assert!(
            n_hi > 20_000 && n_lo > 20_000,
            "{name}: {n_hi} / {n_lo} rows"
        );
        assert!(hi - lo > 0.015, "{name}: {hi:.4} vs {lo:.4}");
    }
    for (f, name) in [(2, "country"), (5, "app")] {
        assert!(level_effects(&s, f).expect("effects").is_empty());
        let odd: HashSet<i32> = (1..=field_levels(&CTR_FIELDS[f], &s) as i32)
            .filter(|c| c % 2 == 1)
            .collect();
        let even: HashSet<i32> = (1..=field_levels(&CTR_FIELDS[f], &s) as i32)
            .filter(|c| c % 2 == 0)
            .collect();
        let (a, _) = rate_of(&df, name, &odd);
        let (b, _) = rate_of(&df, name, &even);
        assert!((a - b).abs() < 0.008, "{name}: {a:.4} vs {b:.4}");
    }
}

#[test]
fn too_many_fields_or_fields_on_events_are_refused() {
    for s in [
        with_fields(10, 10, 100, MAX_FIELDS + 1),
        SynthSpec {
            fields: 1,
            ..spec(SynthKind::Events, 10, 10, 100)
        },
    ] {
        match generate(&s) {
            Err(SynthError::InvalidSpec { field, .. }) => assert_eq!(field, "fields"),
            other => panic!(
                "expected an InvalidSpec error, got {:?}",
                other.map(|d| d.shape())
            ),
        }
    }
    let msg = with_fields(10, 10, 100, 11)
        .validate()
        .unwrap_err()
        .to_string();
    assert!(msg.contains("at most 10"), "{msg}");
}

#[test]
fn oracle_with_fields_is_a_probability_near_the_click_rate() {
    let s = with_fields(500, 300, 40_000, MAX_FIELDS);
    let oracle = SynthOracle::new(&s).expect("oracle");
    let df = generate(&s).expect("generate");
    let p: Vec<f64> = ints(&df, "user")
        .iter()
        .zip(ints(&df, "item"))
        .map(|(&u, i)| {
            let (u, i) = (oracle.user_index(u).unwrap(), oracle.item_index(i).unwrap());
            oracle.score(u, i)
        })
        .collect();
    let mean = p.iter().sum::<f64>() / p.len() as f64;
    assert!(p.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(
        (0.07..0.11).contains(&mean),
        "mean oracle probability {mean}"
    );
}
