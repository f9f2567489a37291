//! Results a user can trust: outputs never overwrite inputs nor come out silently empty, asked-for
//! protocols run or fail, `eval` and `metrics` say what they score, overrides and restarts
//! explain themselves, serving names its model.

use crate::common::{EVENTS_CSV, Sandbox, config, ctr_csv};

/// A synthetic CTR run (NCF 1 epoch, ALS, popularity) with features and a categorical.
fn ctr_run() -> Sandbox {
    let s = Sandbox::new();
    s.write(
        "c.toml",
        config(
            "label = \"is_click\"\nfeatures = [\"user_level\", \"creator_followers\"]\ncategorical = [\"device\"]",
            "[data.synthetic]\nkind = \"ctr\"\nusers = 200\nitems = 100\nrows = 8000\ndays = 5\n\
             [ncf]\nepochs = 1\n[als]\nfactors = 4\niterations = 2\n",
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    s
}

/// An implicit run (ALS + popularity) on a generated events log.
fn events_run() -> Sandbox {
    let s = Sandbox::new();
    s.run(&[
        "generate", "--kind", "events", "--users", "120", "--items", "60", "--rows", "4000",
        "--days", "5", "--seed", "7", "-o", "ev.csv",
    ])
    .ok();
    s.write(
        "c.toml",
        config(
            "path = \"ev.csv\"\nuser = \"personId\"\nitem = \"contentId\"",
            "[eval]\nk = [5, 10]\n[als]\nfactors = 6\niterations = 3\n",
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    s
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn metrics_json(s: &Sandbox) -> serde_json::Value {
    json(&std::fs::read_to_string(s.path("artifacts/t/metrics.json")).expect("metrics.json"))
}

/// The first data row's user and item of a run's predictions file.
fn first_pair(s: &Sandbox, model: &str) -> (String, String) {
    let p = std::fs::read_to_string(s.path(&format!("artifacts/t/predictions/{model}.csv")))
        .expect("predictions");
    let f: Vec<&str> = p.lines().nth(1).expect("a row").split(',').collect();
    (f[0].to_string(), f[1].to_string())
}

#[test]
fn score_never_overwrites_its_input_and_checks_the_folder_first() {
    let s = ctr_run();
    let (u, i) = first_pair(&s, "ncf");
    let input = format!("user,item,user_level,creator_followers,device\n{u},{i},3,100,ios\n");
    s.write("in.csv", &input);
    s.run(&["score", "artifacts/t", "in.csv", "-o", "in.csv"])
        .fails_with(&["-o in.csv", "same file as the input INPUT in.csv"]);
    s.run(&["score", "artifacts/t", "in.csv", "-o", "./in.csv"])
        .fails_with(&["same file as the input"]);
    assert_eq!(std::fs::read_to_string(s.path("in.csv")).unwrap(), input);
    s.run(&[
        "score",
        "artifacts/t",
        "in.csv",
        "-o",
        "missing_dir/out.csv",
    ])
    .fails_with(&[
        "-o missing_dir/out.csv",
        "folder missing_dir does not exist",
    ]);
    assert!(!s.path("missing_dir").exists());
    s.run(&["score", "artifacts/t", "in.csv", "-o", "out.csv"])
        .ok();
}

#[test]
fn recommend_checks_every_output_before_any_work() {
    let s = events_run();
    let (u, i) = first_pair(&s, "als");
    s.write(
        "h.csv",
        format!("personId,contentId\n{u},{i}\nnewcomer,{i}\n"),
    );
    s.run(&[
        "recommend",
        "artifacts/t",
        "--model",
        "als",
        "--history",
        "h.csv",
        "--factors-out",
        "F.safetensors",
        "-o",
        "missing_dir/recs.csv",
    ])
    .fails_with(&["-o missing_dir/recs.csv", "does not exist"]);
    assert!(
        !s.path("F.safetensors").exists(),
        "F written before the check"
    );
    assert_eq!(s.ls(""), vec!["artifacts", "c.toml", "ev.csv", "h.csv"]);
    s.run(&[
        "recommend",
        "artifacts/t",
        "--history",
        "h.csv",
        "--model",
        "als",
        "-o",
        "h.csv",
    ])
    .fails_with(&["same file as the input --history h.csv"]);
    s.run(&[
        "recommend",
        "artifacts/t",
        "--history",
        "h.csv",
        "--model",
        "als",
        "--factors-out",
        "h.csv",
    ])
    .fails_with(&["--factors-out h.csv", "same file as the input --history"]);
    s.run(&[
        "recommend",
        "artifacts/t",
        "--model",
        "als",
        "--history",
        "h.csv",
        "--factors-out",
        "F.safetensors",
        "-o",
        "recs.csv",
    ])
    .ok();
    assert!(s.path("F.safetensors").exists() && s.path("recs.csv").exists());
}

#[test]
fn filters_that_leave_nothing_are_errors_naming_them() {
    let s = events_run();
    let (_, i) = first_pair(&s, "als");
    s.write("cand.csv", format!("contentId\n{i}\n"));
    s.write("excl.csv", format!("contentId\n{i}\n"));
    let all = |extra: &[&str]| {
        let mut a = vec!["recommend", "artifacts/t", "--all", "-o", "recs.csv", "-q"];
        a.extend_from_slice(extra);
        s.run(&a)
    };
    all(&["--candidates", "cand.csv", "--exclude", "excl.csv"]).fails_with(&[
        "--candidates cand.csv with --exclude excl.csv",
        "leave no item",
    ]);
    s.write("nobody.csv", "personId\nnobody\nno-one\n");
    all(&["--users", "nobody.csv"]).fails_with(&["--users nobody.csv", "none of its ids"]);
    let (u, _) = first_pair(&s, "als");
    s.write("one.csv", format!("personId\n{u}\n"));
    all(&["--users", "one.csv", "--shard", "1/2"])
        .fails_with(&["--shard 1/2", "selects none of the 1 users"]);
    assert!(!s.path("recs.csv").exists());
    s.run(&[
        "similar",
        "artifacts/t",
        "--all",
        "-o",
        "sim.csv",
        "--candidates",
        "cand.csv",
        "--exclude",
        "excl.csv",
    ])
    .fails_with(&["leave no item"]);
    assert!(!s.path("sim.csv").exists());
}

#[test]
fn an_asked_for_sampled_protocol_that_cannot_run_is_an_error() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("neg.csv", "user,item\n1,777\n2,778\n");
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"",
            "[eval]\nranking = \"sampled\"\ncandidates = \"neg.csv\"\n",
        ),
    );
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["ranking = \"sampled\" cannot run", "neg.csv"]);
    assert!(!s.path("artifacts/t").exists());
    // When it runs, its figures are the sampled ones: no full-ranking lists are written.
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"",
            "[eval]\nranking = \"sampled\"\nsampled_negatives = 2\n",
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    let m = metrics_json(&s);
    assert_eq!(m["models"]["popularity"]["ranking"], "sampled");
    assert!(s.path("artifacts/t/predictions/popularity.csv").exists());
    assert!(
        !s.path("artifacts/t/predictions/popularity.ranked.csv")
            .exists()
    );
}

#[test]
fn serving_names_the_model_that_answered() {
    let s = events_run();
    let m = metrics_json(&s);
    let (u, _) = first_pair(&s, "als");
    let best = ["als", "popularity"]
        .into_iter()
        .max_by(|a, b| {
            let v = |n: &str| m["models"][n]["hr_at_k"].as_f64().unwrap();
            v(a).partial_cmp(&v(b)).unwrap().then(b.cmp(a))
        })
        .unwrap();
    let out = s.run(&[
        "recommend",
        "artifacts/t",
        "--user",
        &u,
        "-k",
        "3",
        "--json",
    ]);
    out.ok();
    assert!(
        out.stderr.contains(&format!("model: {best} (best of")),
        "{}",
        out.stderr
    );
    for line in out.stdout.lines() {
        assert_eq!(json(line)["model"], best, "{line}");
    }
    let out = s.run(&[
        "recommend",
        "artifacts/t",
        "--user",
        &u,
        "--model",
        "popularity",
    ]);
    out.ok();
    assert!(
        out.stderr.contains("model: popularity (--model)"),
        "{}",
        out.stderr
    );
    let (_, i) = first_pair(&s, "als");
    let out = s.run(&["similar", "artifacts/t", "--item", &i, "--json"]);
    out.ok();
    assert!(out.stderr.contains("model: als"), "{}", out.stderr);
    assert_eq!(json(out.stdout.lines().next().unwrap())["model"], "als");
    // Without metrics.json the choice is the user's.
    std::fs::remove_file(s.path("artifacts/t/metrics.json")).unwrap();
    s.run(&["recommend", "artifacts/t", "--user", &u])
        .fails_with(&["choose one with --model", "als, popularity"]);
}

#[test]
fn eval_counts_unknown_ids_and_refuses_a_model_of_other_data() {
    let s = events_run();
    let out = s.run(&["eval", "artifacts/t", "c.toml", "--model", "als", "--json"]);
    out.ok();
    let v = json(&out.stdout);
    assert_eq!(v["model"], "als");
    assert_eq!(v["unknown_test_users"], 0);
    assert!(v["test_users"].as_u64().unwrap() > 0);
    assert_eq!(v["unknown_test_items"], 0);
    let text = s.run(&["eval", "artifacts/t", "c.toml", "--model", "als"]);
    text.ok();
    assert!(
        text.stdout
            .contains("test users unknown to the model: 0 of"),
        "{}",
        text.stdout
    );
    // Another data set: none of its users is in the model.
    s.write("other.csv", EVENTS_CSV);
    s.write("o.toml", config("path = \"other.csv\"", ""));
    s.run(&["eval", "artifacts/t", "o.toml", "--model", "als"])
        .fails_with(&["knows 0 of the", "test users", "at least half"]);
}

#[test]
fn metrics_scores_a_runs_predictions_back_to_its_figures() {
    // Implicit run: the positives-only file is refused, the ranked lists give the run's figures.
    let s = events_run();
    let m = metrics_json(&s);
    s.run(&["metrics", "artifacts/t/predictions/als.csv"])
        .fails_with(&["every row is a click", "ranked.csv"]);
    for model in ["als", "popularity"] {
        let out = s.run(&[
            "metrics",
            &format!("artifacts/t/predictions/{model}.ranked.csv"),
            "--k",
            "5,10",
            "--json",
        ]);
        out.ok();
        let v = json(&out.stdout);
        let run = &m["models"][model];
        assert_eq!(v["ranked_users"], run["ranked_users"], "{model}");
        for key in [
            "hr_at_k",
            "ndcg_at_k",
            "precision_at_k",
            "recall_at_k",
            "mrr_at_k",
            "map_at_k",
        ] {
            assert_eq!(v[key], run[key], "{model} {key}");
        }
        for kk in ["5", "10"] {
            for key in ["hr", "ndcg", "precision", "recall", "mrr", "map"] {
                assert_eq!(
                    v["at_k"][kk][key], run["at_k"][kk][key],
                    "{model} @{kk} {key}"
                );
            }
        }
    }
    s.run(&[
        "metrics",
        "artifacts/t/predictions/als.ranked.csv",
        "--k",
        "20",
    ])
    .fails_with(&["top 10", "--k 20"]);

    // CTR run: the predictions file is the run's test part.
    let c = ctr_run();
    let m = metrics_json(&c);
    for model in ["ncf", "als", "popularity"] {
        let out = c.run(&[
            "metrics",
            &format!("artifacts/t/predictions/{model}.csv"),
            "--json",
        ]);
        out.ok();
        let v = json(&out.stdout);
        let run = &m["models"][model];
        for key in [
            "auc",
            "gauc",
            "hr_at_k",
            "ndcg_at_k",
            "precision_at_k",
            "mrr_at_k",
        ] {
            assert_eq!(v[key], run[key], "{model} {key}");
        }
        if let Some(l) = run["logloss"].as_f64() {
            assert!((v["logloss"].as_f64().unwrap() - l).abs() < 1e-6, "{model}");
        }
    }
}

#[test]
fn overrides_name_themselves_and_show_the_expected_form() {
    let s = Sandbox::new();
    s.write("a.csv", ctr_csv());
    s.write(
        "c.toml",
        config(
            "path = \"a.csv\"\nlabel = \"click\"\nfeatures = [\"level\"]",
            "[ncf]\nepochs = 1\nhidden = [8, 4]\n",
        ),
    );
    let out = s.run(&["train", "c.toml", "-q", "--set", "ncf.epochs=five"]);
    out.fails_with(&["--set ncf.epochs=five", "--set 'ncf.epochs=1'"]);
    assert!(!out.stderr.contains("error: c.toml"), "{}", out.stderr);
    s.run(&["train", "c.toml", "-q", "--set", "ncf.hidden=32,16"])
        .fails_with(&["--set ncf.hidden=32,16", "--set 'ncf.hidden=[32, 16]'"]);
    s.run(&["train", "c.toml", "-q", "--set", "ncf.epoch=3"])
        .fails_with(&["--set ncf.epoch=3", "did you mean `epochs`"]);
    s.run(&["train", "c.toml", "-q", "--set", "als.factors=16"])
        .fails_with(&["--set als.factors=16", "no [als] table", "als.enabled=true"]);
    assert!(!s.path("artifacts").exists());
    // Enabling on purpose works.
    s.run(&[
        "data",
        "c.toml",
        "--set",
        "als.enabled=true",
        "--set",
        "als.factors=4",
    ])
    .ok();
    // A wrong-case column gets a did-you-mean.
    s.write(
        "w.toml",
        config(
            "path = \"a.csv\"\nlabel = \"click\"\nfeatures = [\"Level\"]",
            "",
        ),
    );
    s.run(&["data", "w.toml"])
        .fails_with(&["no column `Level`", "did you mean `level`"]);
}

#[test]
fn a_leftover_checkpoint_without_resume_is_reported_and_removed() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"a.csv\"", ""));
    s.write("artifacts/.t.checkpoint/ncf.bin", "stale");
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    assert!(
        out.stderr
            .contains("removed the checkpoint of an interrupted run in artifacts/.t.checkpoint"),
        "{}",
        out.stderr
    );
    assert!(!s.path("artifacts/.t.checkpoint").exists());
}

#[test]
fn split_files_keep_the_columns_a_model_scores() {
    let s = ctr_run();
    s.run(&["data", "c.toml", "--write-split", "split"]).ok();
    let test = std::fs::read_to_string(s.path("split/test.csv")).unwrap();
    let header = test.lines().next().unwrap();
    assert_eq!(
        header,
        "user,item,timestamp,weight,label,user_level,creator_followers,device"
    );
    let out = s.run(&["score", "artifacts/t", "split/test.csv", "-o", "scored.csv"]);
    out.ok();
    let scored = std::fs::read_to_string(s.path("scored.csv")).unwrap();
    assert_eq!(scored.lines().count(), test.lines().count());
    // NCF over the device field; every test row's levels are known to the model.
    assert!(
        scored.lines().next().unwrap().ends_with(",oov_fields"),
        "{scored}"
    );
    assert!(
        scored.lines().skip(1).all(|l| l.ends_with(",0")),
        "OOV rows"
    );
}

#[test]
fn the_terminal_shows_the_split_and_only_filled_columns() {
    let s = Sandbox::new();
    s.write("a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"a.csv\"", "[ncf]\nepochs = 1\n"));
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    assert!(
        out.stdout.contains("implicit log; split `last_day`:")
            && out.stdout.contains("train rows")
            && out.stdout.contains("eval users"),
        "{}",
        out.stdout
    );
    let header = out
        .stdout
        .lines()
        .find(|l| l.starts_with("| model |"))
        .unwrap();
    for gone in ["AUC", "GAUC", "logloss", "threshold"] {
        assert!(!header.contains(gone), "{header}");
    }
    assert!(header.contains("HR@10"), "{header}");
    let fit = out
        .stdout
        .lines()
        .find(|l| l.starts_with("fit ncf:"))
        .unwrap();
    assert!(fit.ends_with("/s samples"), "{fit}");
}

#[test]
fn recent_popularity_is_the_reference_row_beside_popularity() {
    let s = events_run();
    let m = metrics_json(&s);
    let r = &m["models"]["recent_popularity"];
    assert!(r["hr_at_k"].is_number(), "{}", m["models"]);
    assert!(
        r["notes"].to_string().contains("7-day half-life"),
        "{}",
        r["notes"]
    );
    // Its own half-life makes popularity the recent one: no second row.
    s.write(
        "h.toml",
        std::fs::read_to_string(s.path("c.toml"))
            .unwrap()
            .replace("name = \"t\"", "name = \"h\"")
            + "[popularity]\nhalf_life_days = 3.0\n",
    );
    let out = s.run(&["train", "h.toml", "-q"]);
    out.ok();
    assert!(out.stdout.contains("| popularity |"), "{}", out.stdout);
    assert!(!out.stdout.contains("recent_popularity"), "{}", out.stdout);
}

#[test]
fn the_best_epoch_is_named_and_plotted_with_validation_auc() {
    let s = Sandbox::new();
    s.write(
        "c.toml",
        config(
            "label = \"is_click\"\nfeatures = [\"user_level\"]",
            "[data.synthetic]\nkind = \"ctr\"\nusers = 200\nitems = 100\nrows = 8000\ndays = 6\n\
             [ncf]\nepochs = 4\nearly_stopping = 2\nlearning_rate = 0.01\n",
        ),
    );
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    let m = metrics_json(&s);
    let t = &m["training"]["ncf"];
    let aucs: Vec<f64> = t["valid_auc"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let best = aucs.iter().enumerate().fold(
        (0, f64::MIN),
        |b, (e, &a)| if a > b.1 { (e + 1, a) } else { b },
    );
    assert_eq!(t["best_epoch"], best.0, "{t}");
    assert!(
        out.stdout.contains(&format!(
            "ncf: best validation AUC {:.4} at epoch {} of {}",
            best.1,
            best.0,
            aucs.len()
        )),
        "{}",
        out.stdout
    );
    let report = std::fs::read_to_string(s.path("artifacts/t/report.md")).unwrap();
    assert!(report.contains("best validation AUC"), "{report}");
    let svg = std::fs::read_to_string(s.path("artifacts/t/plots/loss.svg")).unwrap();
    assert!(svg.contains("ncf validation AUC"), "legend missing");
}

#[test]
fn write_split_never_replaces_a_folder_of_the_users_files() {
    let s = Sandbox::new();
    s.write("data/a.csv", EVENTS_CSV);
    s.write("c.toml", config("path = \"data/a.csv\"", ""));
    s.run(&["data", "c.toml", "--write-split", "data"])
        .fails_with(&["--write-split data", "holds other files (a.csv)"]);
    assert_eq!(
        std::fs::read_to_string(s.path("data/a.csv")).unwrap(),
        EVENTS_CSV
    );
    // A folder holding an earlier split is replaced.
    s.run(&["data", "c.toml", "--write-split", "split"]).ok();
    s.run(&["data", "c.toml", "--write-split", "split"]).ok();
    assert_eq!(s.ls("split"), vec!["test.csv", "train.csv"]);
    s.run(&["generate", "--rows", "100", "-o", "nowhere/x.csv"])
        .fails_with(&["-o nowhere/x.csv", "does not exist"]);
}
