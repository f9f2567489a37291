//! The literature's protocols through the binary: several cut-offs, per-user rows, GAUC, the
//! given (`files`) split, fixed candidate lists, the synthetic oracle, JSON without duplicate keys.

use std::collections::HashSet;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::common::{EVENTS_CSV, Sandbox, config, ctr_csv};

/// A JSON value that fails to parse when any object repeats a key (serde_json's `Value` keeps
/// the last one silently).
struct NoDuplicateKeys;

impl<'de> Deserialize<'de> for NoDuplicateKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NoDuplicateKeys)
    }
}

impl<'de> Visitor<'de> for NoDuplicateKeys {
    type Value = NoDuplicateKeys;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self, A::Error> {
        let mut seen = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            map.next_value::<NoDuplicateKeys>()?;
        }
        Ok(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self, A::Error> {
        while seq.next_element::<NoDuplicateKeys>()?.is_some() {}
        Ok(self)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self, E> {
        Ok(self)
    }
    fn visit_unit<E>(self) -> Result<Self, E> {
        Ok(self)
    }
}

fn assert_no_duplicate_keys(json: &str) {
    if let Err(e) = serde_json::from_str::<NoDuplicateKeys>(json) {
        panic!("{e}\n{json}");
    }
}

fn metrics_json(s: &Sandbox) -> (String, serde_json::Value) {
    let text = std::fs::read_to_string(s.path("artifacts/t/metrics.json")).expect("metrics.json");
    let v = serde_json::from_str(&text).expect("json");
    (text, v)
}

#[test]
fn the_checker_catches_a_duplicate_key() {
    assert!(serde_json::from_str::<NoDuplicateKeys>(r#"{"a": 1, "b": {"c": 2, "c": 3}}"#).is_err());
    assert!(serde_json::from_str::<NoDuplicateKeys>(r#"{"a": [{"c": 2}, {"c": 3}]}"#).is_ok());
}

#[test]
fn data_json_prints_every_key_once() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"a.csv\"", ""));
    let out = s.run(&["data", "c.toml", "--json"]);
    out.ok();
    assert_no_duplicate_keys(out.stdout.trim());
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["eval_users"], 5);
}

/// `k = [2, 3]` on the small implicit log: every metric at both cut-offs, the flat keys equal
/// the first cut-off, per-user rows whose means are the reported means, both tables.
#[test]
fn several_cutoffs_and_per_user_rows() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"a.csv\"", "[eval]\nk = [2, 3]"));
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    let (text, m) = metrics_json(&s);
    assert_no_duplicate_keys(&text);
    assert_eq!(m["ks"], serde_json::json!([2, 3]));
    let pop = &m["models"]["popularity"];
    for k in ["2", "3"] {
        for key in [
            "hr",
            "ndcg",
            "precision",
            "recall",
            "mrr",
            "map",
            "coverage",
        ] {
            assert!(pop["at_k"][k][key].is_number(), "at_k.{k}.{key}: {pop}");
        }
    }
    for (flat, key) in [
        ("hr_at_k", "hr"),
        ("ndcg_at_k", "ndcg"),
        ("recall_at_k", "recall"),
        ("mrr_at_k", "mrr"),
        ("map_at_k", "map"),
        ("coverage_at_k", "coverage"),
    ] {
        assert_eq!(pop[flat], pop["at_k"]["2"][key], "{flat}");
    }
    assert_eq!(pop["k"], 2);
    // More room can only find more: HR and recall do not fall from K = 2 to K = 3.
    assert!(pop["at_k"]["3"]["recall"].as_f64() >= pop["at_k"]["2"]["recall"].as_f64());
    for t in [
        out.stdout.as_str(),
        &std::fs::read_to_string(s.path("artifacts/t/report.md")).unwrap(),
    ] {
        assert!(
            t.contains("| popularity | 2 |") && t.contains("| popularity | 3 |"),
            "{t}"
        );
        assert!(t.contains("| MRR | MAP | coverage |"), "{t}");
    }

    let rows = std::fs::read_to_string(s.path("artifacts/t/per_user/popularity.csv")).unwrap();
    let mut lines = rows.lines();
    assert_eq!(lines.next(), Some("user,k,hits,recall,ndcg"));
    let parsed: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    let users = pop["ranked_users"].as_u64().unwrap() as usize;
    assert_eq!(parsed.len(), 2 * users);
    for (k, key) in [("2", "recall"), ("3", "ndcg")] {
        let col = if key == "recall" { 3 } else { 4 };
        let vals: Vec<f64> = parsed
            .iter()
            .filter(|r| r[1] == k)
            .map(|r| r[col].parse().unwrap())
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let reported = pop["at_k"][k][key].as_f64().unwrap();
        assert!(
            (mean - reported).abs() < 1e-12,
            "{key}@{k}: {mean} vs {reported}"
        );
    }
    assert!(
        s.ls("artifacts/t/plots")
            .contains(&"hit_rate.svg".to_string())
    );
}

#[test]
fn cutoff_list_errors_name_the_key() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    for (eval, needles) in [
        ("k = []", &["eval.k", "at least one cutoff"][..]),
        ("k = [10, 10]", &["eval.k", "twice"]),
        ("k = [5, 0]", &["eval.k", "at least 1"]),
        ("k = -3", &["c.toml", "cutoff"]),
        ("k = [1.5]", &["c.toml", "invalid type"]),
    ] {
        s.write(
            "c.toml",
            config("path = \"a.csv\"", &format!("[eval]\n{eval}")),
        );
        s.run(&["train", "c.toml", "-q"]).fails_with(needles);
    }
    s.write("c.toml", config("path = \"a.csv\"", ""));
    s.run(&["train", "c.toml", "-q", "--set", "eval.k=[1,2]"])
        .ok();
    let (_, m) = metrics_json(&s);
    assert_eq!(m["ks"], serde_json::json!([1, 2]));
    let snapshot = std::fs::read_to_string(s.path("artifacts/t/config.toml")).unwrap();
    assert!(
        snapshot.contains("k = [1, 2]") || snapshot.contains("k = [\n"),
        "{snapshot}"
    );
}

/// CTR logs get GAUC next to AUC, with the users behind it.
#[test]
fn ctr_logs_report_gauc() {
    let s = Sandbox::new();
    s.write("a.csv", ctr_csv());
    s.write("c.toml", config("path = \"a.csv\"\nlabel = \"click\"", ""));
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    let (_, m) = metrics_json(&s);
    let pop = &m["models"]["popularity"];
    let users = pop["gauc_users"].as_u64().unwrap();
    let skipped = pop["gauc_single_class_users"].as_u64().unwrap();
    assert_eq!(users + skipped, 20, "{pop}");
    if users > 0 {
        let g = pop["gauc"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&g));
    }
    assert!(out.stdout.contains("| GAUC |"), "{}", out.stdout);
    // The metrics command reports it as well.
    s.write(
        "p.csv",
        "user,item,label,score\na,1,1,0.9\na,2,0,0.2\nb,3,1,0.3\nb,4,0,0.6\nc,5,0,0.1\n",
    );
    let v: serde_json::Value =
        serde_json::from_str(s.run(&["metrics", "p.csv", "--json"]).stdout.trim()).unwrap();
    // a: AUC 1, b: AUC 0, both 2 rows -> GAUC 0.5; c has one class.
    assert_eq!(v["gauc"], 0.5);
    assert_eq!(
        (
            v["gauc_users"].as_u64(),
            v["gauc_single_class_users"].as_u64()
        ),
        (Some(2), Some(1))
    );
}

const TRAIN: &str = "user,item,timestamp\n1,10,1\n1,11,2\n2,10,3\n2,12,4\n3,11,5\n3,12,6\n4,13,7\n";
const TEST: &str = "user,item,timestamp\n1,12,9\n2,11,9\n3,10,9\n3,11,9\n1,99,9\n5,10,9\n";

fn files_config(extra: &str) -> String {
    format!(
        "name = \"t\"\n[data]\n[split]\nmethod = \"files\"\ntrain_path = \"train.csv\"\ntest_path = \"test.csv\"\n{extra}\n"
    )
}

/// The given split: every train row is train; of the 6 test rows, item 99 is unknown, user 5 is
/// unknown, (3, 11) is already in user 3's train rows -> 3 test rows, 3 eval users.
#[test]
fn files_split_keeps_the_given_parts_and_counts_drops() {
    let s = Sandbox::new();
    s.write("train.csv", TRAIN);
    s.write("test.csv", TEST);
    s.write("c.toml", files_config(""));
    let out = s.run(&["data", "c.toml", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["split"], "files");
    assert_eq!(v["rows_read"], 13);
    assert_eq!(v["train_rows"], 7);
    assert_eq!(v["test_rows_before_filters"], 6);
    assert_eq!(v["test_rows_dropped_unknown_item"], 1);
    assert_eq!(v["test_rows_dropped_unknown_user"], 1);
    assert_eq!(v["test_rows_dropped_seen_in_train"], 1);
    assert_eq!(
        (v["test_rows"].as_u64(), v["eval_users"].as_u64()),
        (Some(3), Some(3))
    );

    // Filters see both files: user 4 (1 row) and user 5 (1 row) go with min_user_interactions = 2,
    // and the filter step is reported.
    s.write(
        "c.toml",
        files_config("[filter]\nmin_user_interactions = 2"),
    );
    let v: serde_json::Value =
        serde_json::from_str(s.run(&["data", "c.toml", "--json"]).stdout.trim()).unwrap();
    assert_eq!(v["filters"][0]["rows_removed"], 2, "{v}");
    assert_eq!(
        (
            v["train_rows"].as_u64(),
            v["test_rows_before_filters"].as_u64()
        ),
        (Some(6), Some(5))
    );
    s.run(&["train", "c.toml", "-q"]).ok();
}

#[test]
fn files_split_errors() {
    let s = Sandbox::new();
    s.write("train.csv", TRAIN);
    s.write("test.csv", TEST);
    s.write(
        "c.toml",
        "name = \"t\"\n[data]\n[split]\nmethod = \"files\"\ntrain_path = \"train.csv\"\n",
    );
    s.run(&["data", "c.toml"])
        .fails_with(&["split.test_path", "required"]);
    s.write(
        "c.toml",
        files_config("").replace("[data]\n", "[data]\npath = \"train.csv\"\n"),
    );
    s.run(&["data", "c.toml"])
        .fails_with(&["data.path", "unset"]);
    s.write(
        "c.toml",
        config("path = \"train.csv\"", "[split]\ntest_path = \"test.csv\""),
    );
    s.run(&["data", "c.toml"])
        .fails_with(&["split.test_path", "files"]);
    // The test file lacks a column of the train file.
    s.write("test.csv", "user,item\n1,12\n");
    s.write("c.toml", files_config(""));
    s.run(&["data", "c.toml"])
        .fails_with(&["test.csv", "timestamp", "split.test_path"]);
    // A bad value in the test file names that file and its own row.
    s.write("test.csv", "user,item,timestamp\n1,12,9\n2,11,soon\n");
    s.run(&["data", "c.toml"])
        .fails_with(&["test.csv", "row 2", "timestamp"]);
    s.write("test.csv", "");
    s.run(&["data", "c.toml"]).fails_with(&["test.csv"]);
}

/// A user, items and day layout with 3 eval users under leave_last_out: user 1 test {12},
/// user 2 test {14}, user 3 test {16} (see `eval::candidates::tests`).
const LOO_CSV: &str = "user,item,timestamp\n1,16,0\n1,10,1\n1,11,2\n1,12,3\n2,12,0\n2,11,1\n2,13,2\n2,14,3\n3,14,0\n3,15,1\n3,16,2\n";

fn candidates_config(file: &str) -> String {
    config(
        "path = \"a.csv\"",
        &format!(
            "[split]\nmethod = \"leave_last_out\"\n[eval]\nranking = \"sampled\"\nk = [1, 3]\ncandidates = \"{file}\""
        ),
    )
}

#[test]
fn fixed_candidates_in_both_formats() {
    let s = Sandbox::new();
    s.write("a.csv", LOO_CSV);
    s.write(
        "c.negative",
        "(1,12)\t10\t13\t14\t99\n(2,14)\t15\t12\t14\n(7,10)\t11\n",
    );
    s.write("c.toml", candidates_config("c.negative"));
    s.run(&["train", "c.toml", "-q"]).ok();
    let (text, m) = metrics_json(&s);
    assert_no_duplicate_keys(&text);
    let pop = &m["models"]["popularity"];
    assert_eq!(pop["ranking"], "sampled");
    let c = &pop["candidates"];
    assert_eq!(c["format"], "ncf");
    assert_eq!(
        (
            c["dropped_train_items"].as_u64(),
            c["dropped_test_items"].as_u64(),
            c["dropped_unknown_items"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert_eq!(c["pairs_without_candidates"], 1);
    // Popularity ties every candidate with the positive (one train row each) -> ranks 2 and 1.
    assert_eq!(pop["at_k"]["1"]["hr"], 0.0);
    assert_eq!(pop["at_k"]["3"]["hr"], 1.0);
    assert_eq!(pop["sampled"]["pairs"], 2);

    s.write("c.csv", "user,item\n1,13\n1,10\n2,15\n3,12\n3,16\n9,10\n");
    s.write("c.toml", candidates_config("c.csv"));
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    let (_, m) = metrics_json(&s);
    let c = &m["models"]["popularity"]["candidates"];
    assert_eq!(c["format"], "long");
    assert_eq!(m["models"]["popularity"]["sampled"]["pairs"], 3);
}

#[test]
fn malformed_candidates_name_file_and_line() {
    let s = Sandbox::new();
    s.write("a.csv", LOO_CSV);
    s.write("c.negative", "(1,12)\t10\n(2,14\t15\n");
    s.write("c.toml", candidates_config("c.negative"));
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["c.negative line 2", "(user,item)"]);
    assert!(
        s.ls("artifacts").iter().all(|n| !n.starts_with('t')),
        "{:?}",
        s.ls("artifacts")
    );
    s.write("c.csv", "user,item\n1,13,4\n");
    s.write("c.toml", candidates_config("c.csv"));
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["c.csv line 2", "two fields"]);
    s.write("c.toml", candidates_config("missing.txt"));
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["missing.txt"]);
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"\nlabel = \"item\"",
            "[eval]\ncandidates = \"c.csv\"",
        ),
    );
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["eval.candidates", "implicit"]);
}

/// With `[data.synthetic]` the generator's truth is a row of the table; on CTR data its AUC
/// beats popularity's (the planted taste is invisible to popularity).
#[test]
fn synthetic_runs_report_the_oracle() {
    let s = Sandbox::new();
    s.write(
        "c.toml",
        config(
            "label = \"is_click\"",
            "[data.synthetic]\nkind = \"ctr\"\nusers = 200\nitems = 100\nrows = 20000\ndays = 6",
        ),
    );
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    assert!(
        out.stdout.contains("| oracle (generator truth) |"),
        "{}",
        out.stdout
    );
    let (text, m) = metrics_json(&s);
    assert_no_duplicate_keys(&text);
    let oracle = m["oracle"]["auc"].as_f64().unwrap();
    let pop = m["models"]["popularity"]["auc"].as_f64().unwrap();
    assert!(
        oracle > pop + 0.05,
        "oracle AUC {oracle} vs popularity {pop}"
    );
    assert!(m["oracle"]["logloss"].is_number());
    let report = std::fs::read_to_string(s.path("artifacts/t/report.md")).unwrap();
    assert!(report.contains("achievable lift"), "{report}");

    s.write(
        "c.toml",
        config(
            "user = \"personId\"\nitem = \"contentId\"\nevent = \"eventType\"\ndedupe = true",
            "[data.synthetic]\nkind = \"events\"\nusers = 200\nitems = 100\nrows = 8000\ndays = 6",
        ),
    );
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    let (_, m) = metrics_json(&s);
    assert!(m["oracle"]["hr_at_k"].is_number(), "{}", m["oracle"]);
    // A file log has no oracle.
    s.write("a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"a.csv\"", ""));
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    assert!(metrics_json(&s).1.get("oracle").is_none());
}
