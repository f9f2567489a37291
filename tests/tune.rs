//! `clickrec tune`: grid size, the run directory it writes, resume after kill -9, the test part
//! never reaching a trial, and one clean config error per bad-space rule.

use std::time::{Duration, Instant};

use crate::common::Sandbox;

const DAY: u64 = 86_400;

/// An implicit log of `users` users on 4 days over 40 items with some taste structure (each
/// user prefers items of one of 4 blocks). Returns the CSV and, per row, whether it falls on
/// the user's last day (the test part under `last_day`).
fn log(users: u64, per_day: u64, seed: u64) -> (String, Vec<bool>) {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    let mut next = move |n: u64| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) % n
    };
    let mut s = String::from("user,item,timestamp\n");
    let mut last = Vec::new();
    for u in 0..users {
        let block = u % 4;
        for day in 0..4 {
            for j in 0..per_day {
                let item = if next(10) < 7 {
                    block * 10 + next(10)
                } else {
                    next(40)
                };
                s.push_str(&format!("{u},{item},{}\n", day * DAY + j * 60 + u));
                last.push(day == 3);
            }
        }
    }
    (s, last)
}

/// A config tuning ALS over `space` (TOML lines of [tune.space]) with `extra` [tune] keys.
fn cfg(tune: &str, space: &str) -> String {
    format!(
        "name = \"t\"\n[data]\npath = \"a.csv\"\n[eval]\nranking = \"full\"\n\
         [als]\nfactors = 4\niterations = 3\n[tune]\nmodel = \"als\"\n{tune}\n[tune.space]\n{space}\n"
    )
}

fn read(s: &Sandbox, rel: &str) -> String {
    std::fs::read_to_string(s.path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn json(s: &Sandbox, rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(s, rel)).expect("json")
}

/// tuning.csv without its last column (fit seconds, a timing).
fn without_timings(csv: &str) -> Vec<String> {
    csv.lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
        .collect()
}

#[test]
fn a_2x2_grid_runs_4_trials_and_writes_the_tuned_run() {
    let s = Sandbox::new();
    s.write("a.csv", log(80, 6, 1).0);
    s.write(
        "c.toml",
        cfg(
            "",
            "\"als.factors\" = [2, 6]\n\"als.regularization\" = [0.01, 10.0]",
        ),
    );
    let out = s.run(&["tune", "c.toml", "-q"]);
    out.ok();
    assert!(out.stdout.contains("tuned als"), "{}", out.stdout);
    let csv = read(&s, "artifacts/t/tuning.csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 5, "{csv}");
    let header: Vec<&str> = lines[0].split(',').collect();
    for col in [
        "trial",
        "model",
        "als.factors",
        "als.regularization",
        "hr_at_k",
        "ndcg_at_k",
        "fit_seconds",
    ] {
        assert!(header.contains(&col), "{col} not in {header:?}");
    }
    let m = json(&s, "artifacts/t/metrics.json");
    let t = &m["tuning"];
    assert_eq!(t["method"], "grid");
    assert_eq!(t["trials"], 4);
    assert_eq!(t["model"], "als");
    assert_eq!(t["metric"], "ndcg_at_k");
    assert_eq!(t["validation"]["rule"], "last_day");
    assert!(t["validation"]["split"]["test_rows"].as_u64().unwrap() > 0);
    // The best is the trial with the highest validation NDCG in tuning.csv.
    let col = header.iter().position(|h| *h == "ndcg_at_k").unwrap();
    let values: Vec<f64> = lines[1..]
        .iter()
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    let best = values.iter().cloned().fold(f64::MIN, f64::max);
    assert_eq!(t["best"]["value"].as_f64().unwrap(), best);
    let trial = t["best"]["trial"].as_u64().unwrap() as usize;
    assert_eq!(values[trial], best);
    // The run directory is the normal one, with the winner evaluated on test.
    assert!(m["models"]["als"]["hr_at_k"].is_number());
    assert!(m["models"]["popularity"]["hr_at_k"].is_number());
    for f in [
        "config.toml",
        "report.md",
        "best.toml",
        "predictions",
        "als",
    ] {
        assert!(s.path(&format!("artifacts/t/{f}")).exists(), "{f}");
    }
    assert!(read(&s, "artifacts/t/report.md").contains("## Tuning"));
    // Nothing else is left behind, and best.toml trains as is with the chosen setting.
    assert_eq!(s.ls("artifacts"), vec!["t"]);
    let best_toml = read(&s, "artifacts/t/best.toml");
    assert!(!best_toml.contains("[tune"), "{best_toml}");
    s.run(&["train", "artifacts/t/best.toml", "-q"]).ok();
    let again = json(&s, "artifacts/t-best/metrics.json");
    assert_eq!(again["models"]["als"], m["models"]["als"]);
    let factors = t["best"]["params"]["als.factors"].as_i64().unwrap();
    assert!(
        best_toml.contains(&format!("factors = {factors}")),
        "{best_toml}"
    );
}

#[test]
fn scrambled_test_rows_give_the_identical_tuning_table() {
    let (csv, last) = log(80, 6, 2);
    let mut scrambled = String::from("user,item,timestamp\n");
    for (k, (line, &is_test)) in csv.lines().skip(1).zip(&last).enumerate() {
        if is_test {
            let mut f = line.split(',');
            let (u, _, ts) = (f.next().unwrap(), f.next(), f.next().unwrap());
            scrambled.push_str(&format!("{u},{},{ts}\n", (k * 7 + 3) % 40));
        } else {
            scrambled.push_str(line);
            scrambled.push('\n');
        }
    }
    assert_ne!(csv, scrambled);
    let run = |data: &str| {
        let s = Sandbox::new();
        s.write("a.csv", data);
        s.write(
            "c.toml",
            cfg(
                "method = \"random\"\ntrials = 4",
                "\"als.factors\" = [2, 4, 8]\n\"als.regularization\" = { log_uniform = [0.01, 100.0] }",
            ),
        );
        s.run(&["tune", "c.toml", "-q"]).ok();
        (
            without_timings(&read(&s, "artifacts/t/tuning.csv")),
            json(&s, "artifacts/t/metrics.json"),
        )
    };
    let (a, ma) = run(&csv);
    let (b, mb) = run(&scrambled);
    assert_eq!(a.len(), 5);
    assert_eq!(a, b);
    assert_eq!(ma["tuning"]["best"], mb["tuning"]["best"]);
    // The test part did change: the final test scores differ.
    assert_ne!(
        ma["models"]["als"]["hr_at_k"],
        mb["models"]["als"]["hr_at_k"]
    );
}

#[test]
fn resume_after_kill_keeps_the_finished_trials() {
    let s = Sandbox::new();
    s.write("a.csv", log(400, 30, 3).0);
    // Two quick trials, then a slow one to kill.
    s.write(
        "c.toml",
        cfg("", "\"als.iterations\" = [1, 2, 3000]").replace("factors = 4", "factors = 32"),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clickrec"))
        .args(["tune", "c.toml", "-q"])
        .current_dir(s.path(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let state = s.path("artifacts/.t.tune/trials.json");
    let start = Instant::now();
    let finished = loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no trials recorded"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before it could be killed"
        );
        if let Ok(text) = std::fs::read_to_string(&state) {
            let v: serde_json::Value = serde_json::from_str(&text).expect("state is whole json");
            if v["trials"].as_array().map_or(0, |a| a.len()) == 2 {
                break v["trials"].clone();
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().expect("kill -9");
    assert!(!child.wait().expect("wait").success());
    assert!(!s.path("artifacts/t").exists());
    s.run(&["tune", "c.toml", "-q", "--resume"]).ok();
    let csv = read(&s, "artifacts/t/tuning.csv");
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    // The first two rows are the killed run's records, fit seconds included: not redone.
    for (row, rec) in rows.iter().zip(finished.as_array().unwrap()) {
        let secs = format!("{:.3}", rec["fit_seconds"].as_f64().unwrap());
        assert!(row.ends_with(&format!(",{secs}")), "{row} vs {rec}");
    }
    assert!(!s.path("artifacts/.t.tune").exists());
}

#[test]
fn bad_spaces_are_config_errors_naming_the_key() {
    let s = Sandbox::new();
    s.write("a.csv", log(20, 2, 4).0);
    let cases: [(&str, &str, &[&str]); 7] = [
        ("", "\"als.factorz\" = [2, 4]", &["als.factorz", "factors"]),
        ("", "\"als.factors\" = []", &["als.factors", "empty"]),
        (
            "method = \"random\"\ntrials = 2",
            "\"als.alpha\" = { log_uniform = [5.0, 1.0] }",
            &["als.alpha", "low must be < high"],
        ),
        (
            "",
            "\"ncf.embedding_dim\" = [8, 16]",
            &["ncf.embedding_dim", "not enabled"],
        ),
        ("", "\"als.factors\" = [\"big\"]", &["als.factors", "big"]),
        (
            "",
            "\"als.factors\" = [0, 4]",
            &["als.factors", "at least 1"],
        ),
        ("", "\"split.days\" = [1, 2]", &["split.days", "model key"]),
    ];
    for (tune, space, needles) in cases {
        s.write("c.toml", cfg(tune, space));
        s.run(&["tune", "c.toml", "-q"]).fails_with(needles);
        assert!(!s.path("artifacts/t").exists());
    }
    s.write("c.toml", cfg("metric = \"ndcg\"", "\"als.factors\" = [2]"));
    s.run(&["tune", "c.toml"])
        .fails_with(&["tune.metric", "ndcg_at_k"]);
    s.write(
        "c.toml",
        cfg("", "\"als.factors\" = [2]").replace("[als]\n", "[als]\nenabled = false\n"),
    );
    s.run(&["tune", "c.toml"])
        .fails_with(&["tune.model", "not enabled"]);
    s.write("c.toml", "name = \"t\"\n[data]\npath = \"a.csv\"\n");
    s.run(&["tune", "c.toml"]).fails_with(&["[tune]"]);
}

/// `inf` (no recency decay) survives the round trip through metrics.json and best.toml even
/// when the base config decays: the tuned run and best.toml fit without decay.
#[test]
fn an_infinite_half_life_is_chosen_and_written_back_as_inf() {
    let s = Sandbox::new();
    s.write("a.csv", log(60, 5, 3).0);
    let c = cfg("", "\"als.half_life_days\" = [inf]")
        .replace("iterations = 3\n", "iterations = 3\nhalf_life_days = 0.5\n");
    s.write("c.toml", &c);
    s.run(&["tune", "c.toml", "-q"]).ok();
    let m = json(&s, "artifacts/t/metrics.json");
    assert_eq!(m["tuning"]["best"]["params"]["als.half_life_days"], "inf");
    let csv = read(&s, "artifacts/t/tuning.csv");
    assert!(csv.lines().nth(1).unwrap().contains(",inf,"), "{csv}");
    let best = read(&s, "artifacts/t/best.toml");
    assert!(best.contains("half_life_days = inf"), "{best}");
    // The tuned run equals a plain fit without the key; the base config's decay differs.
    s.write(
        "plain.toml",
        c.replace("half_life_days = 0.5\n", "")
            .replace("name = \"t\"", "name = \"p\""),
    );
    s.write("decayed.toml", c.replace("name = \"t\"", "name = \"d\""));
    s.run(&["train", "plain.toml", "-q"]).ok();
    s.run(&["train", "decayed.toml", "-q"]).ok();
    let plain = json(&s, "artifacts/p/metrics.json");
    let decayed = json(&s, "artifacts/d/metrics.json");
    assert_eq!(
        m["models"]["als"]["ndcg_at_k"],
        plain["models"]["als"]["ndcg_at_k"]
    );
    assert_ne!(
        decayed["models"]["als"]["ndcg_at_k"],
        plain["models"]["als"]["ndcg_at_k"]
    );
}

#[test]
fn metric_rules_are_checked_before_the_first_trial_and_leave_nothing() {
    let s = Sandbox::new();
    s.write("a.csv", log(60, 5, 4).0);
    let cases: [(&str, &[&str]); 3] = [
        (
            "metric = \"at_k.20.ndcg\"",
            &["at_k.20.ndcg", "20 is not a cut-off of eval.k (10)"],
        ),
        ("metric = \"at_k.10.nope\"", &["at_k.<K>.<name>", "ndcg"]),
        ("metric = \"auc\"", &["\"auc\"", "click label"]),
    ];
    for (tune, needles) in cases {
        // A slow trial: the rules must fail before it, not after.
        s.write(
            "c.toml",
            cfg(tune, "\"als.iterations\" = [100000]")
                .replace("ranking = \"full\"\n", "ranking = \"full\"\nk = 10\n"),
        );
        let start = Instant::now();
        s.run(&["tune", "c.toml", "-q"]).fails_with(needles);
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{tune}: a trial ran"
        );
        assert!(
            !s.path("artifacts").exists(),
            "{tune}: {:?}",
            s.ls("artifacts")
        );
    }
}

#[test]
fn resumed_tuning_is_bit_identical_to_an_uninterrupted_run() {
    let (data, _) = log(300, 20, 5);
    // Random draws over continuous ranges give metrics with long decimal expansions.
    let c = cfg(
        "method = \"random\"\ntrials = 6",
        "\"als.regularization\" = { log_uniform = [0.01, 10.0] }\n\"als.iterations\" = [300, 500]",
    )
    .replace("factors = 4", "factors = 24");
    let whole = Sandbox::new();
    whole.write("a.csv", &data);
    whole.write("c.toml", &c);
    whole.run(&["tune", "c.toml", "-q"]).ok();
    let expected = without_timings(&read(&whole, "artifacts/t/tuning.csv"));

    let s = Sandbox::new();
    s.write("a.csv", &data);
    s.write("c.toml", &c);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clickrec"))
        .args(["tune", "c.toml", "-q"])
        .current_dir(s.path(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let state = s.path("artifacts/.t.tune/trials.json");
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no trial recorded"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "the run ended before it could be killed"
        );
        if let Ok(text) = std::fs::read_to_string(&state) {
            let v: serde_json::Value = serde_json::from_str(&text).expect("state is whole json");
            let n = v["trials"].as_array().map_or(0, |a| a.len());
            if n >= 1 {
                assert!(n < 6, "every trial finished before the kill");
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill -9");
    assert!(!child.wait().expect("wait").success());
    s.run(&["tune", "c.toml", "-q", "--resume"]).ok();
    assert_eq!(
        without_timings(&read(&s, "artifacts/t/tuning.csv")),
        expected
    );
    let a = json(&s, "artifacts/t/metrics.json");
    let b = json(&whole, "artifacts/t/metrics.json");
    assert_eq!(a["tuning"]["best"], b["tuning"]["best"]);
    assert_eq!(a["models"]["als"], b["models"]["als"]);
}

#[test]
fn tune_reports_the_chosen_model_against_both_baselines() {
    let s = Sandbox::new();
    s.write("a.csv", log(80, 6, 6).0);
    s.write("c.toml", cfg("", "\"als.factors\" = [2, 4]"));
    let out = s.run(&["tune", "c.toml", "-q"]);
    out.ok();
    let m = json(&s, "artifacts/t/metrics.json");
    let h = m["tuning"]["recent_half_life_days"]
        .as_f64()
        .expect("chosen");
    assert!([1.0, 3.0, 7.0, 14.0, 30.0, 90.0].contains(&h), "{h}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("chosen als on test: ndcg_at_k"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(
        line.contains("; popularity ") && line.contains(&format!("; recent popularity ({h} d) ")),
        "{line}"
    );
    let report = read(&s, "artifacts/t/report.md");
    assert!(report.contains(&format!("{line}.")), "{report}");
    assert!(
        m["models"]["recent_popularity"]["notes"]
            .to_string()
            .contains("chosen on the validation part"),
        "{}",
        m["models"]["recent_popularity"]
    );
}
