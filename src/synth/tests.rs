//! Tests of the `ctr` kind, of spec validation and of `write_frame`.

use super::*;
use polars::prelude::*;
use std::collections::{HashMap, HashSet};

pub(super) fn spec(kind: SynthKind, users: usize, items: usize, rows: usize) -> SynthSpec {
    SynthSpec {
        kind,
        users,
        items,
        rows,
        days: 10,
        seed: 7,
        start: DEFAULT_START,
        fields: 0,
    }
}

pub(super) fn ints(df: &DataFrame, name: &str) -> Vec<i64> {
    df.column(name)
        .and_then(|c| c.i64().map(|ca| ca.into_no_null_iter().collect()))
        .unwrap_or_else(|e| panic!("column {name}: {e}"))
}

pub(super) fn strings(df: &DataFrame, name: &str) -> Vec<String> {
    df.column(name)
        .and_then(|c| {
            c.str().map(|ca| {
                ca.iter()
                    .map(|s| s.unwrap_or("<null>").to_string())
                    .collect()
            })
        })
        .unwrap_or_else(|e| panic!("column {name}: {e}"))
}

pub(super) fn csv_bytes(df: &mut DataFrame) -> Vec<u8> {
    let mut buf = Vec::new();
    CsvWriter::new(&mut buf).finish(df).expect("csv to memory");
    buf
}

/// Fraction of users (by `user_col`) whose rows fall on at least 2 distinct UTC days.
pub(super) fn multi_day_share(users: &[i64], ts: &[i64]) -> (usize, f64) {
    let mut days: HashMap<i64, HashSet<i64>> = HashMap::new();
    for (&u, &t) in users.iter().zip(ts) {
        days.entry(u).or_default().insert(t.div_euclid(86_400));
    }
    let multi = days.values().filter(|d| d.len() >= 2).count();
    (days.len(), multi as f64 / days.len() as f64)
}

#[test]
fn default_start_is_a_utc_midnight_below_1_7e9() {
    assert_eq!(DEFAULT_START % 86_400, 0);
    const { assert!(DEFAULT_START <= 1_700_000_000 && 1_700_000_000 - DEFAULT_START < 86_400) };
}

#[test]
fn same_seed_same_bytes_and_thread_count_does_not_matter() {
    let s = spec(SynthKind::Ctr, 300, 200, 70_001); // crosses a chunk boundary
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| generate(&s)).expect("generate")
    };
    let mut a = run(1);
    let mut b = run(3);
    assert_eq!(a.height(), 70_001);
    assert_eq!(csv_bytes(&mut a), csv_bytes(&mut b));
    let mut other = generate(&SynthSpec { seed: 8, ..s }).expect("generate");
    assert_ne!(csv_bytes(&mut a), csv_bytes(&mut other));
}

#[test]
fn ctr_columns_and_dtypes() {
    let df = generate(&spec(SynthKind::Ctr, 50, 40, 1_000)).expect("generate");
    let mut expected = vec!["user", "item", "timestamp", "is_click"];
    expected.extend(CTR_FEATURES);
    expected.push("device");
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, expected);
    for name in &expected[..expected.len() - 1] {
        assert_eq!(
            df.column(name).expect("col").dtype(),
            &DataType::Int64,
            "{name}"
        );
    }
    assert_eq!(df.column("device").expect("col").dtype(), &DataType::String);
}

#[test]
fn ctr_values_click_rate_days_and_ranges() {
    let s = spec(SynthKind::Ctr, 2_000, 1_000, 200_000);
    let df = generate(&s).expect("generate");
    let clicks = ints(&df, "is_click");
    assert!(clicks.iter().all(|&c| c == 0 || c == 1));
    let rate = clicks.iter().sum::<i64>() as f64 / clicks.len() as f64;
    assert!((0.07..=0.11).contains(&rate), "click rate {rate}");

    let ts = ints(&df, "timestamp");
    let end = s.start + i64::from(s.days) * 86_400;
    assert!(ts.iter().all(|&t| t >= s.start && t < end));
    let users = ints(&df, "user");
    // Rows are grouped by user (ascending id) and in time order within a user.
    let ordered = (1..users.len())
        .all(|r| users[r - 1] < users[r] || (users[r - 1] == users[r] && ts[r - 1] <= ts[r]));
    assert!(ordered, "rows ordered by (user, timestamp)");
    let (n_users, share) = multi_day_share(&users, &ts);
    assert_eq!(
        n_users, s.users,
        "every user appears when rows >= 2 * users"
    );
    assert!(share > 0.95, "share of users on >= 2 days: {share}");
    let items = ints(&df, "item");
    assert!(users.iter().all(|&u| (1..=2_000).contains(&u)));
    assert!(items.iter().all(|&i| (1..=1_000).contains(&i)));

    let level = ints(&df, "user_level");
    assert!(level.iter().all(|&l| (0..=10).contains(&l)));
    assert!(ints(&df, "user_gender").iter().all(|&g| g == 0 || g == 1));
    let shown = ints(&df, "item_impressions");
    let clicked = ints(&df, "item_clicks");
    assert!(shown.iter().zip(&clicked).all(|(&n, &c)| 0 <= c && c <= n));
    for name in CTR_FEATURES {
        assert!(ints(&df, name).iter().all(|&v| v >= 0), "{name} >= 0");
    }
    let devices: HashSet<String> = strings(&df, "device").into_iter().collect();
    let all: HashSet<String> = ctr::DEVICES.iter().map(|d| d.to_string()).collect();
    assert_eq!(devices, all);

    // Zipf-like exposure: the most shown item gets far more than the average 1/items.
    let mut count: HashMap<i64, usize> = HashMap::new();
    for &i in &items {
        *count.entry(i).or_default() += 1;
    }
    let top = count.values().copied().max().unwrap_or(0) as f64 / items.len() as f64;
    assert!(top > 20.0 / s.items as f64, "top item share {top}");
}

#[test]
fn ctr_features_are_constant_per_user_and_item() {
    let df = generate(&spec(SynthKind::Ctr, 200, 100, 20_000)).expect("generate");
    for (key, feats) in [("user", &CTR_FEATURES[..5]), ("item", &CTR_FEATURES[5..])] {
        let ids = ints(&df, key);
        for name in feats {
            let values = ints(&df, name);
            let mut seen: HashMap<i64, i64> = HashMap::new();
            for (&id, &v) in ids.iter().zip(&values) {
                assert_eq!(
                    *seen.entry(id).or_insert(v),
                    v,
                    "{name} varies for {key} {id}"
                );
            }
            let distinct: HashSet<i64> = seen.values().copied().collect();
            assert!(distinct.len() > 1, "{name} is constant over all {key}s");
        }
    }
}

#[test]
fn ctr_planted_affinity_drives_clicks() {
    let s = spec(SynthKind::Ctr, 1_000, 500, 100_000);
    let df = generate(&s).expect("generate");
    let aff = ctr_oracle_affinity(&s, &ints(&df, "user"), &ints(&df, "item")).expect("oracle");
    let clicks = ints(&df, "is_click");
    let mut sorted = aff.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let (mut hi, mut hi_n, mut lo, mut lo_n) = (0i64, 0usize, 0i64, 0usize);
    for (&a, &c) in aff.iter().zip(&clicks) {
        if a > median {
            hi += c;
            hi_n += 1;
        } else {
            lo += c;
            lo_n += 1;
        }
    }
    let (hi, lo) = (hi as f64 / hi_n as f64, lo as f64 / lo_n as f64);
    assert!(
        hi > 2.0 * lo,
        "click rate above median affinity {hi}, below {lo}"
    );
    // Unknown ids are an error, not a panic.
    assert!(ctr_oracle_affinity(&s, &[0], &[1]).is_err());
    assert!(ctr_oracle_affinity(&s, &[1], &[501]).is_err());
}

#[test]
fn tiny_specs_work() {
    for kind in [SynthKind::Ctr, SynthKind::Events] {
        let s = SynthSpec {
            days: 1,
            ..spec(kind, 1, 1, 1)
        };
        let df = generate(&s).expect("generate");
        assert_eq!(df.height(), 1);
    }
}

#[test]
fn invalid_specs_are_rejected_with_the_field_named() {
    let ok = spec(SynthKind::Ctr, 10, 10, 100);
    let cases = [
        (
            "users",
            SynthSpec {
                users: 0,
                ..ok.clone()
            },
        ),
        (
            "items",
            SynthSpec {
                items: 0,
                ..ok.clone()
            },
        ),
        (
            "rows",
            SynthSpec {
                rows: 0,
                ..ok.clone()
            },
        ),
        (
            "days",
            SynthSpec {
                days: 0,
                ..ok.clone()
            },
        ),
        (
            "rows",
            SynthSpec {
                rows: MAX_ROWS + 1,
                ..ok.clone()
            },
        ),
        (
            "users",
            SynthSpec {
                users: MAX_ENTITIES + 1,
                ..ok.clone()
            },
        ),
        (
            "days",
            SynthSpec {
                days: MAX_DAYS + 1,
                ..ok.clone()
            },
        ),
        (
            "start",
            SynthSpec {
                start: i64::MAX - 10,
                ..ok.clone()
            },
        ),
    ];
    for (field, bad) in cases {
        match generate(&bad) {
            Err(SynthError::InvalidSpec { field: f, .. }) => assert_eq!(f, field),
            other => panic!(
                "{field}: expected InvalidSpec, got {:?}",
                other.map(|d| d.height())
            ),
        }
    }
}

#[test]
fn spec_deserializes_with_defaults_and_rejects_unknown_fields() {
    let s: SynthSpec = toml::from_str("kind = \"events\"\nrows = 5000").expect("toml");
    assert_eq!(s.kind, SynthKind::Events);
    assert_eq!(s.rows, 5_000);
    assert_eq!(s.start, DEFAULT_START);
    assert_eq!(s.users, SynthSpec::default().users);
    assert!(toml::from_str::<SynthSpec>("kind = \"Ctr\"").is_err());
    assert!(toml::from_str::<SynthSpec>("userz = 3").is_err());
}

#[test]
fn write_frame_round_trips_csv_and_parquet() {
    let dir = tempfile::tempdir().expect("tempdir");
    for kind in [SynthKind::Ctr, SynthKind::Events] {
        let mut df = generate(&spec(kind, 30, 20, 500)).expect("generate");
        let csv = dir.path().join(format!("{kind}.CSV"));
        write_frame(&mut df, &csv).expect("write csv");
        let back = CsvReadOptions::default()
            .with_has_header(true)
            .try_into_reader_with_file_path(Some(csv))
            .and_then(|r| r.finish())
            .expect("read csv");
        assert!(back.equals_missing(&df), "csv round trip of {kind}");

        let pq = dir.path().join(format!("{kind}.parquet"));
        write_frame(&mut df, &pq).expect("write parquet");
        let file = std::fs::File::open(&pq).expect("open");
        let back = ParquetReader::new(file).finish().expect("read parquet");
        assert!(back.equals_missing(&df), "parquet round trip of {kind}");
    }
    // Only the two outputs per kind are left: no temporary files.
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 4);
}

#[test]
fn write_frame_rejects_unknown_extensions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut df = generate(&spec(SynthKind::Ctr, 5, 5, 20)).expect("generate");
    for name in ["out.json", "out"] {
        let err = write_frame(&mut df, &dir.path().join(name)).expect_err(name);
        assert!(
            matches!(err, SynthError::UnsupportedExtension { .. }),
            "{name}"
        );
        assert!(err.to_string().contains(".csv or .parquet"));
    }
    let missing = dir.path().join("no-such-dir").join("x.csv");
    assert!(matches!(
        write_frame(&mut df, &missing),
        Err(SynthError::Io { .. })
    ));
    assert_eq!(std::fs::read_dir(dir.path()).expect("ls").count(), 0);
}
