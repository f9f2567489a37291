//! The commands on small data: train writes a complete run directory, data prints the split,
//! metrics reproduces hand-worked numbers, generate writes files.

use crate::common::{EVENTS_CSV, Sandbox, config, ctr_csv};

#[test]
fn train_writes_a_complete_run_directory() {
    let s = Sandbox::new();
    s.write("a.csv", ctr_csv());
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"\nlabel = \"click\"\nfeatures = [\"level\"]",
            "",
        ),
    );
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    assert!(out.stdout.contains("| popularity |"), "{}", out.stdout);
    let files = s.ls("artifacts/t");
    for f in [
        "config.toml",
        "metrics.json",
        "plots",
        "predictions",
        "report.md",
    ] {
        assert!(files.contains(&f.to_string()), "{files:?}");
    }
    assert!(s.ls("artifacts/t/plots").contains(&"roc.svg".to_string()));
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("artifacts/t/metrics.json")).unwrap())
            .unwrap();
    for key in [
        "auc",
        "logloss",
        "threshold",
        "hr_at_k",
        "ndcg_at_k",
        "precision_at_k",
        "base_rate",
    ] {
        assert!(
            m["models"]["popularity"][key].is_number(),
            "{key}: {}",
            m["models"]["popularity"]
        );
    }
    for key in ["train_rows", "test_rows", "eval_users"] {
        assert!(m["split"][key].is_number(), "{key}");
    }
    assert!(m["timings"]["popularity"]["fit_seconds"].is_number());
    let preds = std::fs::read_to_string(s.path("artifacts/t/predictions/popularity.csv")).unwrap();
    assert!(preds.starts_with("user,item,label,score\n"));
    assert_eq!(
        preds.lines().count() - 1,
        m["split"]["test_rows"].as_u64().unwrap() as usize
    );
    // Only the run directory is left: no temp dirs.
    assert_eq!(s.ls("artifacts"), vec!["t"]);
}

#[test]
fn same_config_and_seed_give_identical_metrics() {
    let s = Sandbox::new();
    s.write("a.csv", ctr_csv());
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"\nlabel = \"click\"\nfeatures = [\"level\"]",
            "",
        ),
    );
    let read = |s: &Sandbox| {
        let mut v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(s.path("artifacts/t/metrics.json")).unwrap(),
        )
        .unwrap();
        v.as_object_mut().unwrap().remove("timings");
        v
    };
    s.run(&["train", "c.toml", "-q"]).ok();
    let a = read(&s);
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    assert_eq!(a, read(&s));
}

#[test]
fn data_reports_split_counts_as_json() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"a.csv\"", ""));
    let out = s.run(&["data", "c.toml", "--json", "--write-split", "split"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    // users 1-5 have two active days; user 6 one. Users 1, 2, 4: last day = day 1; users 3, 5: day 2.
    assert_eq!(v["rows_read"], 17);
    assert_eq!(v["users"], 6);
    assert_eq!(v["items"], 5);
    assert_eq!(v["test_rows_before_filters"], 5);
    assert_eq!(v["train_only_users"], 1);
    assert_eq!(v["test_rows"], 5);
    assert_eq!(v["eval_users"], 5);
    for k in [
        "duplicates_dropped",
        "interactions",
        "sparsity",
        "train_rows",
        "test_rows",
    ] {
        assert!(v[k].is_number(), "{k}");
    }
    let train = std::fs::read_to_string(s.path("split/train.csv")).unwrap();
    let test = std::fs::read_to_string(s.path("split/test.csv")).unwrap();
    assert_eq!(
        train.lines().count() - 1,
        v["train_rows"].as_u64().unwrap() as usize
    );
    assert_eq!(
        test.lines().count() - 1,
        v["test_rows"].as_u64().unwrap() as usize
    );
}

#[test]
fn metrics_command_reproduces_hand_worked_numbers() {
    let s = Sandbox::new();
    // test_protocol.py: labels [0,0,1,1], scores [0.1,0.4,0.35,0.8] -> AUC 0.75, threshold 0.8.
    s.write(
        "p.csv",
        "user,item,label,score\na,1,0,0.1\na,2,0,0.4\nb,3,1,0.35\nb,4,1,0.8\n",
    );
    let out = s.run(&["metrics", "p.csv", "--json"]);
    out.ok();
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert!((v["auc"].as_f64().unwrap() - 0.75).abs() < 1e-12);
    assert_eq!(v["threshold"].as_f64().unwrap(), 0.8);
    assert_eq!(v["confusion"], serde_json::json!([[2, 0], [1, 1]]));
    assert_eq!(v["classification"]["1"]["recall"].as_f64().unwrap(), 0.5);
    assert_eq!(v["hr_at_k"].as_f64().unwrap(), 1.0);
    let text = s.run(&["metrics", "p.csv"]);
    text.ok();
    assert!(text.stdout.contains("AUC: 0.750000"), "{}", text.stdout);
    s.write("bad.csv", "user,item,label,score\na,1,0,0.1\na,2,1,NaN\n");
    s.run(&["metrics", "bad.csv"])
        .fails_with(&["score", "row 2"]);
}

#[test]
fn generate_writes_csv_and_parquet_that_train_reads() {
    let s = Sandbox::new();
    for f in ["g.csv", "g.parquet"] {
        s.run(&[
            "generate", "--kind", "ctr", "--users", "50", "--items", "30", "--rows", "3000",
            "--days", "4", "-o", f,
        ])
        .ok();
    }
    s.write(
        "c.toml",
        config("path = \"g.parquet\"\nlabel = \"is_click\"\nfeatures = [\"user_level\", \"creator_followers\"]", ""),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    s.run(&["generate", "--rows", "10", "-o", "g.json"])
        .fails_with(&["g.json"]);
}

#[test]
fn generate_fields_writes_integer_codes_that_deepfm_trains_on_and_refuses_too_many() {
    let s = Sandbox::new();
    let base = [
        "generate", "--kind", "ctr", "--users", "60", "--items", "40", "--rows", "4000", "--days",
        "4",
    ];
    s.run(&[&base[..], &["--fields", "4", "-o", "f.csv"]].concat())
        .ok();
    let text = std::fs::read_to_string(s.path("f.csv")).expect("f.csv");
    let header = text.lines().next().expect("header");
    assert!(
        header.ends_with(",device,os,channel,country,city"),
        "{header}"
    );
    // Every field value is a positive integer code.
    let row: Vec<&str> = text.lines().nth(1).expect("a row").split(',').collect();
    for code in &row[row.len() - 4..] {
        assert!(code.parse::<u32>().is_ok_and(|c| c >= 1), "{row:?}");
    }
    s.run(&[&base[..], &["-o", "plain.csv"]].concat()).ok();
    let plain = std::fs::read_to_string(s.path("plain.csv")).expect("plain.csv");
    assert!(plain.lines().next().unwrap().ends_with(",device"));
    s.write(
        "c.toml",
        config(
            "path = \"f.csv\"\nlabel = \"is_click\"\nfeatures = [\"user_level\"]\ncategorical = [\"os\", \"channel\", \"country\", \"city\"]",
            "[deepfm]\nepochs = 1\n",
        ),
    );
    let out = s.run(&["train", "c.toml"]);
    out.ok();
    assert!(out.stdout.contains("city ("), "{}", out.stdout);
    s.run(&[&base[..], &["--fields", "11", "-o", "g.csv"]].concat())
        .fails_with(&["fields", "at most 10"]);
    s.run(&[
        "generate", "--kind", "events", "--fields", "2", "-o", "g.csv",
    ])
    .fails_with(&["fields", "ctr"]);
    assert!(!s.path("g.csv").exists());
}
