//! NCF and ALS through the binary: one comparison table, exported models that score, recommend
//! and evaluate without the training data, resume after kill -9, reproducibility.

use std::time::{Duration, Instant};

use crate::common::{Sandbox, config};

/// A small synthetic CTR run with all three models.
/// The seed NCF's run: numeric features only (a categorical column would make `[ncf]` train over
/// fields, see tests/fields.rs).
fn synthetic(rows: usize, epochs: usize, iterations: usize) -> String {
    config(
        "label = \"is_click\"\nfeatures = [\"user_level\", \"creator_followers\", \"item_days_since_publish\"]",
        &format!(
            "[data.synthetic]\nkind = \"ctr\"\nusers = 300\nitems = 150\nrows = {rows}\ndays = 6\n\
             [ncf]\nepochs = {epochs}\nlearning_rate = 0.01\n[als]\nfactors = 8\niterations = {iterations}\nalpha = 5.0\nregularization = 0.1\n"
        ),
    )
}

fn metrics(s: &Sandbox) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(s.path("artifacts/t/metrics.json")).expect("metrics.json"),
    )
    .expect("json");
    v.as_object_mut().expect("object").remove("timings");
    v
}

#[test]
fn all_models_share_one_table_and_export() {
    let s = Sandbox::new();
    s.write("c.toml", synthetic(20_000, 6, 3));
    let out = s.run(&["train", "c.toml", "-q"]);
    out.ok();
    for m in ["| ncf |", "| als |", "| popularity |"] {
        assert!(out.stdout.contains(m), "{}", out.stdout);
    }
    let m = metrics(&s);
    assert!(
        m["models"]["ncf"]["auc"].as_f64().unwrap() > 0.55,
        "{}",
        m["models"]["ncf"]
    );
    assert!(m["models"]["ncf"]["logloss"].is_number());
    assert_eq!(m["training"]["ncf"]["loss"].as_array().unwrap().len(), 6);
    for f in [
        "ncf/model.safetensors",
        "ncf/ncf.json",
        "ncf/scorer.json",
        "als/factors.safetensors",
        "als/model.json",
        "plots/loss.svg",
    ] {
        assert!(s.path(&format!("artifacts/t/{f}")).exists(), "{f}");
    }

    // eval of the saved models reproduces the run's metrics.
    let ev = s.run(&["eval", "artifacts/t", "c.toml", "--model", "ncf", "--json"]);
    ev.ok();
    let e: serde_json::Value = serde_json::from_str(ev.stdout.trim()).unwrap();
    let auc = m["models"]["ncf"]["auc"].as_f64().unwrap();
    assert!(
        (e["auc"].as_f64().unwrap() - auc).abs() < 1e-6,
        "saved {} vs run {auc}",
        e["auc"]
    );
    let ev = s.run(&["eval", "artifacts/t", "c.toml", "--model", "als", "--json"]);
    ev.ok();
    let e: serde_json::Value = serde_json::from_str(ev.stdout.trim()).unwrap();
    assert!(
        (e["hr_at_k"].as_f64().unwrap() - m["models"]["als"]["hr_at_k"].as_f64().unwrap()).abs()
            < 1e-9
    );

    // recommend / similar on both models.
    let rec = s.run(&[
        "recommend",
        "artifacts/t",
        "--user",
        "1",
        "-k",
        "4",
        "--json",
    ]);
    rec.ok();
    assert_eq!(rec.stdout.lines().count(), 4);
    s.run(&["recommend", "artifacts/t", "--user", "1", "--model", "als"])
        .ok();
    s.run(&["similar", "artifacts/t", "--item", "2", "-k", "3"])
        .ok();
    s.run(&["similar", "artifacts/t", "--item", "2", "--model", "ncf"])
        .ok();
    s.run(&["recommend", "artifacts/t", "--user", "no-such-user"])
        .fails_with(&["no-such-user", "not in the model"]);

    // score: the predictions of the run, from the export alone; cold ids flagged, never a crash.
    let preds = std::fs::read_to_string(s.path("artifacts/t/predictions/ncf.csv")).unwrap();
    let first: Vec<&str> = preds.lines().nth(1).unwrap().split(',').collect();
    s.write(
        "in.csv",
        format!(
            "user,item,user_level,creator_followers,item_days_since_publish,device\n{},{},3,100,5,ios\n999999,{},3,100,5,web\n",
            first[0], first[1], first[1]
        ),
    );
    let sc = s.run(&["score", "artifacts/t", "in.csv", "-o", "out.csv"]);
    sc.ok();
    let scored = std::fs::read_to_string(s.path("out.csv")).unwrap();
    let lines: Vec<&str> = scored.lines().collect();
    assert!(
        lines[0].ends_with("score,click,cold_user,cold_item"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].ends_with(",0,0") && lines[2].ends_with(",1,0"),
        "{scored}"
    );
    s.write("nofeat.csv", "user,item,user_level\n1,2,3\n");
    s.run(&["score", "artifacts/t", "nofeat.csv"])
        .fails_with(&["no column `creator_followers`"]);
}

#[test]
fn saved_model_errors_are_clear() {
    let s = Sandbox::new();
    s.write("c.toml", synthetic(8_000, 1, 2));
    s.run(&["train", "c.toml", "-q"]).ok();
    s.write(
        "in.csv",
        "user,item,user_level,creator_followers,item_days_since_publish,device\n1,2,3,4,5,ios\n",
    );
    s.run(&["score", "nowhere", "in.csv"])
        .fails_with(&["nowhere", "no such model directory"]);
    let json = std::fs::read_to_string(s.path("artifacts/t/ncf/scorer.json")).unwrap();
    s.write(
        "artifacts/t/ncf/scorer.json",
        json.replace("clickrec-ncf-2", "clickrec-ncf-0"),
    );
    s.run(&["score", "artifacts/t", "in.csv"])
        .fails_with(&["format", "re-export"]);
    s.write("artifacts/t/ncf/scorer.json", &json);
    s.write("artifacts/t/ncf/model.safetensors", "not a tensor file");
    s.run(&["score", "artifacts/t", "in.csv"])
        .fails_with(&["model.safetensors", "not a valid safetensors"]);
    std::fs::remove_file(s.path("artifacts/t/ncf/model.safetensors")).unwrap();
    s.run(&["score", "artifacts/t", "in.csv"])
        .fails_with(&["model.safetensors"]);
    s.write("artifacts/t/als/model.json", "{ not json");
    s.run(&["recommend", "artifacts/t", "--user", "1", "--model", "als"])
        .fails_with(&["model.json", "invalid"]);
}

#[test]
fn same_seed_same_metrics_with_every_model() {
    let s = Sandbox::new();
    s.write("c.toml", synthetic(10_000, 2, 3));
    s.run(&["train", "c.toml", "-q"]).ok();
    let a = metrics(&s);
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    assert_eq!(a, metrics(&s));
}

/// Start a run, kill -9 it once a checkpoint of `model` exists, resume; the final metrics must
/// equal an uninterrupted run's.
fn kill_and_resume(model_ck: &str, cfg: &str) {
    let s = Sandbox::new();
    s.write("c.toml", cfg);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_clickrec"))
        .args(["train", "c.toml", "-q"])
        .current_dir(s.path(""))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let ck = s.path(&format!("artifacts/.t.checkpoint/{model_ck}"));
    let start = Instant::now();
    while !ck.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no checkpoint appeared"
        );
        assert!(
            child.try_wait().expect("wait").is_none(),
            "run ended before a checkpoint was seen"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill -9"); // SIGKILL on Unix
    let status = child.wait().expect("wait");
    assert!(!status.success());
    assert!(
        !s.path("artifacts/t").exists(),
        "a killed run must not leave a run directory"
    );
    s.run(&["train", "c.toml", "-q", "--resume"]).ok();
    let resumed = metrics(&s);
    s.run(&["train", "c.toml", "-q", "--force"]).ok();
    assert_eq!(resumed, metrics(&s));
}

#[test]
fn ncf_resumes_after_kill_to_the_same_result() {
    kill_and_resume(
        "ncf",
        &synthetic(60_000, 12, 2).replace("[als]\n", "[als]\nenabled = false\n"),
    );
}

#[test]
fn als_resumes_after_kill_to_the_same_result() {
    let cfg = synthetic(60_000, 1, 400)
        .replace("[ncf]\nepochs = 1\nlearning_rate = 0.01\n", "")
        .replace("[als]\n", "[als]\ncheckpoint_seconds = 0.0\n");
    kill_and_resume("als.safetensors", &cfg);
}

#[test]
fn implicit_run_is_identical_across_thread_counts_and_reports_groups() {
    let s = Sandbox::new();
    s.run(&[
        "generate", "--kind", "events", "--users", "200", "--items", "120", "--rows", "6000",
        "--days", "5", "-o", "ev.csv",
    ])
    .ok();
    // An item table with a title and a group per item (every content id of the log).
    let log = std::fs::read_to_string(s.path("ev.csv")).unwrap();
    let mut ids: Vec<&str> = log
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').nth(2))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut table = String::from("contentId,title,unit\n");
    for (n, id) in ids.iter().enumerate() {
        table.push_str(&format!("{id},Article {n},unit{}\n", n % 3));
    }
    s.write("items.csv", table);
    s.write(
        "c.toml",
        config(
            "path = \"ev.csv\"\nuser = \"personId\"\nitem = \"contentId\"\nevent = \"eventType\"\ndedupe = true\n\
             [data.event_weights]\nVIEW = 1.0\nLIKE = 2.0\nBOOKMARK = 3.0\nFOLLOW = 4.0\n\"COMMENT CREATED\" = 5.0\n\
             [data.item_table]\npath = \"items.csv\"\nkey = \"contentId\"\ntitle = \"title\"\ngroup = \"unit\"",
            "[eval]\nsampled_negatives = 20\n[ncf]\nepochs = 2\n[als]\nfactors = 8\niterations = 3\n",
        ),
    );
    s.run_threads(&["train", "c.toml", "-q"], 1).ok();
    let one = metrics(&s);
    s.run_threads(&["train", "c.toml", "-q", "--force"], 2).ok();
    assert_eq!(one, metrics(&s));
    let ncf = &one["models"]["ncf"];
    assert_eq!(ncf["ranking"], "full");
    assert!(ncf["sampled"]["hr"].is_number(), "{ncf}");
    assert_eq!(
        ncf["group_hit_rate"].as_object().map(|g| g.len()),
        Some(3),
        "{ncf}"
    );
    assert!(s.path("artifacts/t/plots/group_hit_rate.svg").exists());
    let rec = s.run(&[
        "recommend",
        "artifacts/t",
        "--user",
        ids[0],
        "--model",
        "als",
    ]);
    // ids[0] is an item id, not a user id: a clean error.
    rec.fails_with(&["not in the model"]);
    let user = log
        .lines()
        .nth(1)
        .and_then(|l| l.split(',').nth(3))
        .unwrap();
    let rec = s.run(&["recommend", "artifacts/t", "--user", user, "--model", "als"]);
    rec.ok();
    assert!(rec.stdout.contains("Article "), "{}", rec.stdout);
}

#[test]
fn backends_are_selectable_and_wgpu_needs_its_feature() {
    let s = Sandbox::new();
    s.write(
        "c.toml",
        synthetic(6_000, 2, 2).replace("[ncf]\n", "[ncf]\nbackend = \"ndarray\"\n"),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    assert!(metrics(&s)["models"]["ncf"]["auc"].is_number());
    if !cfg!(feature = "wgpu") {
        s.run(&[
            "train",
            "c.toml",
            "-q",
            "--force",
            "--set",
            "ncf.backend=wgpu",
        ])
        .fails_with(&["wgpu", "--features wgpu"]);
    }
}
