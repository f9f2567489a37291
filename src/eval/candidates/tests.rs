//! Fixture tests of both candidate formats, their drops and counts, malformed lines, and the
//! sampled protocol on fixed lists.

use std::path::Path;

use super::*;
use crate::config::RankingMode;
use crate::eval::{EvalSettings, evaluate};
use crate::metrics::ThresholdRule;
use crate::model::popularity::Popularity;
use crate::split::tests::leave_last_out_dataset;

/// Leave-last-out over 3 users. Train: u1 {16, 10, 11}, u2 {12, 11, 13}, u3 {14, 15};
/// test: u1 {12}, u2 {14}, u3 {16}. Train counts: item 11 twice, every other item once.
fn dataset() -> Dataset {
    leave_last_out_dataset(&[
        (1, 16, 0),
        (1, 10, 1),
        (1, 11, 2),
        (1, 12, 3),
        (2, 12, 0),
        (2, 11, 1),
        (2, 13, 2),
        (2, 14, 3),
        (3, 14, 0),
        (3, 15, 1),
        (3, 16, 2),
    ])
}

/// Raw ids of the negatives of the pair (user, item) given as raw ids.
fn negs(c: &Candidates, ds: &Dataset, user: &str, item: &str) -> Option<Vec<String>> {
    let u = ds.users.find(user)?;
    let i = ds.items.find(item)?;
    c.of(u, i).map(|l| {
        l.iter()
            .map(|&j| ds.items.label(j as usize))
            .collect::<Vec<_>>()
    })
}

const NCF: &str = "(1,12)\t10\t13\t14\t99\n(2,14)\t15\t12\t14\n\n(7,10)\t11\n";

/// (1,12): 10 is a train item of user 1 (dropped), 99 is unknown (dropped) -> {13, 14}.
/// (2,14): 12 is a train item of user 2, 14 the positive itself -> {15}.
/// (7,10): user 7 is not a test user. (3,16) has no line.
#[test]
fn ncf_format_drops_and_counts() {
    let ds = dataset();
    let c = Candidates::from_text(Path::new("t.negative"), NCF, &ds).unwrap();
    assert_eq!(
        negs(&c, &ds, "1", "12"),
        Some(vec!["13".into(), "14".into()])
    );
    assert_eq!(negs(&c, &ds, "2", "14"), Some(vec!["15".into()]));
    assert_eq!(negs(&c, &ds, "3", "16"), None);
    assert_eq!(
        c.stats,
        CandidateStats {
            format: "ncf",
            lines: 3,
            lines_not_in_test: 1,
            dropped_unknown_items: 1,
            dropped_train_items: 2,
            dropped_test_items: 1,
            pairs_without_candidates: 1,
        }
    );
}

/// u1 {13, 10 (train: dropped)}; u2 {15}; u3 {12, 16 (its test item: dropped)}; user 9 unknown.
#[test]
fn long_csv_format_drops_and_counts() {
    let ds = dataset();
    let text = "user,item\n1,13\n1,10\n2,15\n3,12\n3,16\n9,10\n";
    let c = Candidates::from_text(Path::new("c.csv"), text, &ds).unwrap();
    assert_eq!(negs(&c, &ds, "1", "12"), Some(vec!["13".into()]));
    assert_eq!(negs(&c, &ds, "2", "14"), Some(vec!["15".into()]));
    assert_eq!(negs(&c, &ds, "3", "16"), Some(vec!["12".into()]));
    assert_eq!(
        c.stats,
        CandidateStats {
            format: "long",
            lines: 6,
            lines_not_in_test: 1,
            dropped_unknown_items: 0,
            dropped_train_items: 1,
            dropped_test_items: 1,
            pairs_without_candidates: 0,
        }
    );
    // Tabs work as well, without a header.
    let tabbed = Candidates::from_text(Path::new("c.tsv"), "1\t13\n2\t15\n", &ds).unwrap();
    assert_eq!(negs(&tabbed, &ds, "1", "12"), Some(vec!["13".into()]));
    assert_eq!(tabbed.stats.pairs_without_candidates, 1);
}

fn error_of(text: &str) -> (usize, String) {
    match Candidates::from_text(Path::new("bad.txt"), text, &dataset()).unwrap_err() {
        EvalError::Candidates {
            path,
            line,
            problem,
        } => {
            assert_eq!(path, Path::new("bad.txt"));
            (line, problem)
        }
        other => panic!("unexpected error {other}"),
    }
}

#[test]
fn malformed_lines_name_the_line() {
    let (line, p) = error_of("(1,12)\t13\n(2,14\t15\n");
    assert_eq!(line, 2);
    assert!(p.contains("(user,item)"), "{p}");
    let (line, p) = error_of("(1,12)\t13\n\n(2)\t15\n");
    assert_eq!(line, 3);
    assert!(p.contains("not a (user,item) pair"), "{p}");
    let (line, p) = error_of("(1,12)\n");
    assert_eq!(line, 1);
    assert!(p.contains("no negative items"), "{p}");
    let (line, p) = error_of("(1,12)\t13\n(1,12)\t14\n");
    assert_eq!(line, 2);
    assert!(p.contains("second line"), "{p}");
    let (line, p) = error_of("user,item\n1,13\n1,2,3\n");
    assert_eq!(line, 3);
    assert!(p.contains("two fields"), "{p}");
    let (line, p) = error_of("user,item\n1,\n");
    assert_eq!(line, 2);
    assert!(p.contains("two fields"), "{p}");
    let (_, p) = error_of("\n  \n");
    assert!(p.contains("empty"), "{p}");
    let shown = EvalError::Candidates {
        path: "x.negative".into(),
        line: 4,
        problem: "p".into(),
    }
    .to_string();
    assert!(shown.contains("x.negative line 4") && shown.contains("eval.candidates"));
}

/// Popularity scores: item 11 = 2, every other item 1. (1,12) vs {13, 14}: both tie at 1 ->
/// rank 2 (ties count against the positive). (2,14) vs {15}: rank 1. (3,16): no line, left out.
/// HR@1 = 0, HR@2 = 1/2, HR@3 = 1; MRR@3 = (1/3 + 1/2) / 2.
#[test]
fn sampled_protocol_on_fixed_lists() {
    let ds = dataset();
    let c = Candidates::from_text(Path::new("t.negative"), NCF, &ds).unwrap();
    let s = EvalSettings {
        ks: vec![2, 1, 3],
        rule: ThresholdRule::Youden,
        ranking: RankingMode::Sampled,
        sampled_negatives: 99,
        seed: 1,
        candidates: Some(std::sync::Arc::new(c)),
    };
    let (m, _) = evaluate(&Popularity::fit(&ds, None), &ds, &s).unwrap();
    assert_eq!(m.ranking, "sampled");
    let hr: Vec<f64> = [1, 2, 3].iter().map(|k| m.at_k[k].hr).collect();
    assert_eq!(hr, vec![0.0, 0.5, 1.0]);
    assert_eq!((m.k, m.hr_at_k), (2, 0.5));
    let sm = m.sampled.unwrap();
    assert_eq!((sm.pairs, sm.negatives_per_pair, sm.k), (2, 2, 2));
    assert!((m.at_k[&3].mrr - (1.0 / 3.0 + 0.5) / 2.0).abs() < 1e-15);
    assert_eq!(m.candidates.as_ref().unwrap().pairs_without_candidates, 1);
    assert!(
        m.notes.iter().any(|n| n.contains("1 test pairs left out")),
        "{:?}",
        m.notes
    );
    assert!(
        m.notes.iter().any(|n| n.contains("1 to 2 negatives")),
        "{:?}",
        m.notes
    );
}

proptest::proptest! {
    /// Any text is either parsed or rejected with an error naming a line; never a panic.
    #[test]
    fn arbitrary_text_never_panics(text in "[()0-9,\t \nxé]{0,80}") {
        let ds = dataset();
        match Candidates::from_text(Path::new("f"), &text, &ds) {
            Ok(c) => proptest::prop_assert!(c.stats.lines <= text.lines().count()),
            Err(EvalError::Candidates { line, .. }) => {
                proptest::prop_assert!(line <= text.lines().count().max(1))
            }
            Err(e) => proptest::prop_assert!(false, "unexpected error {e}"),
        }
    }
}
