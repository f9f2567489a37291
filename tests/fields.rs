//! CTR fields and the DeepFM / DCNv2 models: given train/valid/test files without a timestamp,
//! every categorical field embedded, the validation figures, and the bad-input rules.

use crate::common::Sandbox;

/// A multi-field click log with a planted signal: the click rate depends on (city, device) and
/// on the user's first tag, so a model that embeds the fields beats popularity.
fn field_rows(n: usize, seed: u64) -> String {
    let mut s = String::from("user,item,city,device,tags,label\n");
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) as usize
    };
    for _ in 0..n {
        let u = next() % 40;
        let i = next() % 30;
        let city = next() % 90; // more than the 64 one-hot levels of [ncf]
        let device = ["ios", "android", "web"][next() % 3];
        let tags = ["a|b", "b", "c|a|d", ""][(u + i) % 4];
        let p = if (city % 3 == 0) == (device == "ios") {
            80
        } else {
            15
        } + if tags.starts_with('a') { 10 } else { 0 };
        let click = u8::from(next() % 100 < p);
        s.push_str(&format!("{u},{i},c{city},{device},{tags},{click}\n"));
    }
    s
}

fn setup(s: &Sandbox) {
    s.write("train.csv", field_rows(3000, 1));
    s.write("valid.csv", field_rows(600, 2));
    // Two test rows of a user and an item that train never saw, and a city level it never saw.
    let test = field_rows(600, 3) + "999,998,c5,ios,a,1\n999,3,zz,web,b,0\n";
    s.write("test.csv", test);
}

fn config(extra_data: &str, models: &str) -> String {
    format!(
        "name = \"f\"\n[data]\nlabel = \"label\"\ncategorical = [\"city\", \"device\"]\nsequence = [\"tags\"]\n{extra_data}\n\
         [split]\nmethod = \"files\"\ntrain_path = \"train.csv\"\nvalid_path = \"valid.csv\"\ntest_path = \"test.csv\"\n{models}\n"
    )
}

const MODELS: &str = "[deepfm]\nepochs = 4\nhidden = [16]\nbatch_size = 256\n\
                      [dcnv2]\nepochs = 4\nhidden = [16]\nbatch_size = 256\ncross_layers = 2\n";

#[test]
fn deepfm_and_dcnv2_train_on_given_files_without_a_timestamp() {
    let s = Sandbox::new();
    setup(&s);
    s.write("c.toml", config("", MODELS));
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/f/metrics.json");
    assert_eq!(v["split"]["valid_rows"], 600, "{}", v["split"]);
    // Every test row is scored: the unseen user and item go through their fields' OOV rows.
    assert_eq!(v["split"]["test_rows"], 602, "{}", v["split"]);
    assert_eq!(v["split"]["test_rows_unknown_kept"], 2, "{}", v["split"]);
    let pop = v["models"]["popularity"]["auc"].as_f64().unwrap();
    for m in ["deepfm", "dcnv2"] {
        let model = &v["models"][m];
        let auc = model["auc"].as_f64().unwrap();
        let ll = model["logloss"].as_f64().unwrap();
        assert!(auc > pop + 0.05, "{m}: test AUC {auc} vs popularity {pop}");
        assert!(ll > 0.0 && ll < 0.69, "{m}: log loss {ll}");
        let val = &model["validation"];
        assert!(val["auc"].as_f64().unwrap() > 0.6, "{m}: {val}");
        assert!(val["logloss"].as_f64().unwrap() > 0.0, "{m}: {val}");
        let best = val["best_epoch"].as_u64().unwrap();
        assert!((1..=4).contains(&best), "{m}: {val}");
        assert_eq!(val["rows"], 600);
        let notes = model["notes"].to_string();
        // A quarter of the rows have an empty tags cell (the generator's fourth tag list).
        assert!(notes.contains("tags (4 levels; "), "{m}: {notes}");
        assert!(notes.contains("empty train values"), "{m}: {notes}");
        // The two extra test rows: an unseen user (both), item (one) and city (one).
        assert!(
            notes.contains(
                "OOV row (unseen or rarer than data.min_count in train): user 2, item 1, city 1\""
            ),
            "{m}: {notes}"
        );
    }
    // Both models are exported: every weight, and the field map a service needs.
    for m in ["deepfm", "dcnv2"] {
        assert!(
            s.path(&format!("artifacts/f/{m}/model.safetensors"))
                .exists(),
            "{m}"
        );
        let j = s.json(&format!("artifacts/f/{m}/model.json"));
        assert_eq!(j["format"], "clickrec-ctr-1");
        assert_eq!(j["model"], m);
        let names: Vec<&str> = j["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["user", "item", "city", "device", "tags"], "{m}");
        let tags = &j["fields"][4];
        assert_eq!(tags["kind"], "sequence");
        assert_eq!(tags["vocabulary"], serde_json::json!(["a", "b", "c", "d"]));
        assert_eq!(tags["rows"], 5);
    }
    // Same config and seed, same metrics.
    s.write(
        "c2.toml",
        config("", MODELS).replace("name = \"f\"", "name = \"g\""),
    );
    s.run(&["train", "c2.toml", "-q"]).ok();
    let again: serde_json::Value = s.json("artifacts/g/metrics.json");
    for m in ["deepfm", "dcnv2"] {
        assert_eq!(v["models"][m]["auc"], again["models"][m]["auc"], "{m}");
    }
}

#[test]
fn ncf_embeds_every_field_of_a_click_log() {
    let s = Sandbox::new();
    setup(&s);
    // city has 90 levels: more than the seed NCF's one-hot limit, a field like the others here.
    s.write(
        "c.toml",
        config(
            "",
            "[ncf]\nvariant = \"neumf\"\nepochs = 3\nhidden = [16]\nbatch_size = 256\n",
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/f/metrics.json");
    let m = &v["models"]["ncf"];
    let pop = v["models"]["popularity"]["auc"].as_f64().unwrap();
    let auc = m["auc"].as_f64().unwrap();
    assert!(auc > pop + 0.05, "ncf test AUC {auc} vs popularity {pop}");
    assert_eq!(m["validation"]["rows"], 600, "{}", m["validation"]);
    let notes = m["notes"].to_string();
    assert!(notes.contains("city (90 levels)"), "{notes}");
    let j = s.json("artifacts/f/ncf/model.json");
    assert_eq!(j["model"], "ncf");
    assert_eq!(j["arch"]["neumf"], true);
    assert_eq!(j["fields"].as_array().unwrap().len(), 5);
    // The export scores the test file as the run did.
    s.run(&["score", "artifacts/f/ncf", "test.csv", "-o", "scored.csv"])
        .ok();
    let scored = std::fs::read_to_string(s.path("scored.csv")).unwrap();
    assert_eq!(scored.lines().count(), 603, "header + every test row");
    // It ranks impressions, not every item: recommend says so and names the folder.
    s.run(&["recommend", "artifacts/f", "--user", "1", "--model", "ncf"])
        .fails_with(&[
            "artifacts/f/ncf",
            "over categorical fields",
            "clickrec score",
        ]);
    // Keys the CTR trainer does not have are refused before any work.
    for (key, set) in [
        ("ncf.pos_weight", "ncf.pos_weight=2.0"),
        ("ncf.item_popularity", "ncf.item_popularity=true"),
        ("eval.ranking", "eval.ranking=\"full\""),
    ] {
        s.run(&["train", "c.toml", "-q", "--force", "--set", set])
            .fails_with(&[key]);
    }
}

#[test]
fn ctr_probabilities_are_calibrated_on_validation_and_ranking_kept() {
    let s = Sandbox::new();
    setup(&s);
    s.write("c.toml", config("", MODELS));
    s.run(&["train", "c.toml", "-q"]).ok();
    let none = MODELS.replace("hidden = [16]\n", "hidden = [16]\ncalibration = \"none\"\n");
    s.write(
        "n.toml",
        config("", &none).replace("name = \"f\"", "name = \"n\""),
    );
    s.run(&["train", "n.toml", "-q"]).ok();
    let (cal, raw) = (
        s.json("artifacts/f/metrics.json"),
        s.json("artifacts/n/metrics.json"),
    );
    for m in ["deepfm", "dcnv2"] {
        let (c, r) = (&cal["models"][m], &raw["models"][m]);
        // The same network (calibration is fit after training): the same ranking.
        assert_eq!(c["auc"], r["auc"], "{m}");
        assert_eq!(c["validation"]["auc"], r["validation"]["auc"], "{m}");
        let v = &c["validation"];
        let fit = &v["calibration"];
        assert!(fit["scale"].as_f64().unwrap() > 0.0, "{m}: {v}");
        let (after, before) = (
            v["logloss"].as_f64().unwrap(),
            v["logloss_uncalibrated"].as_f64().unwrap(),
        );
        assert_eq!(r["validation"]["logloss"].as_f64().unwrap(), before, "{m}");
        assert!(after <= before + 1e-4, "{m}: {before} -> {after}");
        assert!(r["validation"].get("calibration").is_none(), "{m}");
        assert!(c["notes"].to_string().contains("Platt"), "{m}");
        // Only the probabilities moved (the export carries the fit: `score` equals the run's
        // predictions, see score_with_an_exported_ctr_model_equals_the_runs_predictions).
        assert_ne!(c["logloss"], r["logloss"], "{m}");
    }
    // Bad values name the key; the seed NCF has no calibration to ask for.
    s.write(
        "b.toml",
        config("", "[deepfm]\ncalibration = \"isotonic\"\n")
            .replace("name = \"f\"", "name = \"b\""),
    );
    s.run(&["train", "b.toml", "-q"])
        .fails_with(&["calibration", "isotonic"]);
    assert!(!s.path("artifacts/b").exists());
    s.write(
        "p.toml",
        "name = \"p\"\n[data]\nlabel = \"is_click\"\n[data.synthetic]\nkind = \"ctr\"\nusers = 50\nitems = 20\nrows = 2000\ndays = 4\n[ncf]\ncalibration = \"platt\"\n",
    );
    s.run(&["train", "p.toml", "-q"])
        .fails_with(&["ncf.calibration", "seed NCF"]);
}

#[test]
fn field_config_errors_name_the_key() {
    let s = Sandbox::new();
    setup(&s);
    let cases: [(&str, &str, &[&str]); 8] = [
        (
            "",
            "[eval]\nranking = \"full\"\n[deepfm]\n",
            &["eval.ranking", "impressions"],
        ),
        ("min_count = 0", MODELS, &["data.min_count", "at least 1"]),
        (
            "[data.hash_buckets]\ncity = 0",
            MODELS,
            &["data.hash_buckets.city"],
        ),
        (
            "[data.hash_buckets]\nnope = 10",
            MODELS,
            &["data.hash_buckets.nope"],
        ),
        (
            "sequence_separator = \",\"",
            MODELS,
            &["data.sequence_separator", "delimiter"],
        ),
        ("", "[dcnv2]\ncross_layers = 0\n", &["dcnv2.cross_layers"]),
        (
            "",
            "[deepfm]\ncross_layers = 2\n",
            &["deepfm.cross_layers", "[dcnv2]"],
        ),
        (
            "",
            "[deepfm]\ndropout = 1.0\n",
            &["deepfm.dropout", "[0, 1)"],
        ),
    ];
    for (data, models, needles) in cases {
        s.write("c.toml", config(data, models));
        s.run(&["train", "c.toml", "-q"]).fails_with(needles);
        assert!(!s.path("artifacts/f").exists());
    }
}

#[test]
fn a_valid_file_without_a_field_column_is_refused() {
    let s = Sandbox::new();
    setup(&s);
    s.write("valid.csv", "user,item,city,tags,label\n1,2,c1,a,1\n");
    s.write("c.toml", config("", MODELS));
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["valid.csv", "device", "split.valid_path"]);
    assert!(!s.path("artifacts/f").exists());
}

#[test]
fn a_configured_timestamp_must_exist_and_time_splits_need_one() {
    let s = Sandbox::new();
    setup(&s);
    s.write("c.toml", config("timestamp = \"ts\"", MODELS));
    s.run(&["train", "c.toml", "-q"])
        .fails_with(&["ts", "data.timestamp"]);
    s.write("all.csv", field_rows(200, 4));
    s.write(
        "d.toml",
        "name = \"d\"\n[data]\npath = \"all.csv\"\nlabel = \"label\"\n[split]\nmethod = \"last_day\"\n",
    );
    s.run(&["train", "d.toml", "-q"]).fails_with(&["timestamp"]);
}

#[test]
fn tune_picks_among_the_ctr_models_on_the_given_validation_file() {
    let s = Sandbox::new();
    setup(&s);
    let tune = "[tune]\nmodel = [\"deepfm\", \"dcnv2\"]\nmetric = \"auc\"\n\
                [tune.space]\n\"deepfm.embedding_l2\" = [0.0, 0.05]\n\"dcnv2.cross_layers\" = [1, 2]\n";
    s.write("c.toml", config("", &format!("{MODELS}{tune}")));
    s.run(&["tune", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/f/metrics.json");
    let t = &v["tuning"];
    assert_eq!(t["trials"], 4, "{t}");
    assert_eq!(t["validation"]["validation"], "valid_path", "{t}");
    let best = t["best"]["model"].as_str().unwrap();
    assert!(best == "deepfm" || best == "dcnv2", "{t}");
    // The trials' validation figure is the models' validation AUC on the given file.
    let csv = std::fs::read_to_string(s.path("artifacts/f/tuning.csv")).unwrap();
    assert_eq!(csv.lines().count(), 5, "{csv}");
    assert!(v["models"][best]["auc"].as_f64().unwrap() > 0.6);
}

#[test]
fn every_model_scores_the_unseen_users_and_items_of_a_given_ctr_split() {
    let s = Sandbox::new();
    let mut train = String::from("user,item,click\n");
    for u in 0..20 {
        for i in 0..6 {
            train.push_str(&format!(
                "{u},{},{}\n",
                (u + i) % 10,
                u8::from((u * i) % 3 == 0)
            ));
        }
    }
    s.write("train.csv", train);
    s.write(
        "test.csv",
        "user,item,click\n1,2,1\n1,3,0\n77,2,1\n2,55,0\n2,4,1\n77,66,0\n",
    );
    s.write(
        "c.toml",
        "name = \"u\"\n[data]\nlabel = \"click\"\n[split]\nmethod = \"files\"\ntrain_path = \"train.csv\"\ntest_path = \"test.csv\"\n\
         [ncf]\nepochs = 1\n[als]\nfactors = 4\niterations = 2\n[dcnv2]\nepochs = 2\nhidden = [8]\n",
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/u/metrics.json");
    assert_eq!(v["split"]["test_rows"], 6, "{}", v["split"]);
    assert_eq!(v["split"]["test_rows_unknown_kept"], 3, "{}", v["split"]);
    for m in ["ncf", "als", "dcnv2", "popularity"] {
        assert!(v["models"][m]["auc"].is_number(), "{m}: {}", v["models"][m]);
    }
    let preds = std::fs::read_to_string(s.path("artifacts/u/predictions/dcnv2.csv")).unwrap();
    assert_eq!(preds.lines().count(), 7, "{preds}");
}

#[test]
fn side_table_categoricals_are_fields() {
    let s = Sandbox::new();
    let mut train = String::from("user,item,label\n");
    let mut users = String::from("user,region\n");
    for u in 0..90 {
        users.push_str(&format!("{u},r{u}\n")); // 90 regions: too many to one-hot
        for i in 0..8 {
            train.push_str(&format!("{u},{i},{}\n", u8::from((u + i) % 4 == 0)));
        }
    }
    s.write("train.csv", &train);
    s.write("test.csv", "user,item,label\n1,2,0\n3,1,1\n5,7,0\n2,2,1\n");
    s.write("users.csv", users);
    let cfg = |models: &str| {
        format!(
            "name = \"s\"\n[data]\nlabel = \"label\"\n[data.user_table]\npath = \"users.csv\"\nkey = \"user\"\ncategorical = [\"region\"]\n\
             [split]\nmethod = \"files\"\ntrain_path = \"train.csv\"\ntest_path = \"test.csv\"\n{models}"
        )
    };
    s.write("c.toml", cfg("[deepfm]\nepochs = 2\nhidden = [8]\n"));
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/s/metrics.json");
    let notes = v["models"]["deepfm"]["notes"].to_string();
    assert!(notes.contains("region (90 levels)"), "{notes}");
    s.write(
        "n.toml",
        cfg("[ncf]\nepochs = 1\n").replace("name = \"s\"", "name = \"n\""),
    );
    s.run(&["train", "n.toml", "-q"]).ok();
    let v = s.json("artifacts/n/metrics.json");
    let notes = v["models"]["ncf"]["notes"].to_string();
    assert!(notes.contains("region (90 levels)"), "{notes}");
}

#[test]
fn score_with_an_exported_ctr_model_equals_the_runs_predictions() {
    let s = Sandbox::new();
    setup(&s);
    s.write("c.toml", config("", MODELS));
    s.run(&["train", "c.toml", "-q"]).ok();
    for m in ["deepfm", "dcnv2"] {
        let out = format!("scored_{m}.csv");
        s.run(&["score", &format!("artifacts/f/{m}"), "test.csv", "-o", &out])
            .ok();
        let read = |p: &str, col: &str| -> Vec<String> {
            let text = std::fs::read_to_string(s.path(p)).unwrap();
            let mut lines = text.lines();
            let header: Vec<&str> = lines.next().unwrap().split(',').collect();
            let k = header.iter().position(|h| *h == col).unwrap();
            lines
                .map(|l| l.split(',').nth(k).unwrap().to_string())
                .collect()
        };
        let scored = read(&out, "score");
        let run = read(&format!("artifacts/f/predictions/{m}.csv"), "score");
        assert_eq!(scored.len(), 602);
        for (a, b) in scored.iter().zip(&run) {
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!((a - b).abs() < 1e-6, "{m}: {a} vs {b}");
        }
        // The last two rows hold the unseen user, item and city: OOV rows are counted.
        let oov = read(&out, "oov_fields");
        assert_eq!(oov[600], "2", "{m}");
        assert_eq!(oov[601], "2", "{m}");
        assert_eq!(oov[0], "0", "{m}");
    }
    // Every CTR export writes its ONNX graph; an export without one (earlier versions) still
    // scores, and `export --onnx` on the run writes it again.
    for m in ["deepfm", "dcnv2"] {
        assert!(
            s.path(&format!("artifacts/f/{m}/model.onnx")).exists(),
            "{m}"
        );
    }
    std::fs::remove_file(s.path("artifacts/f/deepfm/model.onnx")).unwrap();
    s.run(&["score", "artifacts/f/deepfm", "test.csv", "-o", "again.csv"])
        .ok();
    assert_eq!(
        std::fs::read_to_string(s.path("again.csv")).unwrap(),
        std::fs::read_to_string(s.path("scored_deepfm.csv")).unwrap()
    );
    let out = s.run(&["export", "artifacts/f", "--onnx"]);
    out.ok();
    assert!(out.stdout.contains("deepfm/model.onnx"), "{}", out.stdout);
    assert!(out.stdout.contains("dcnv2/model.onnx"), "{}", out.stdout);
    assert!(s.path("artifacts/f/deepfm/model.onnx").exists());
    // `eval` of the exported models on the config's test part gives the run's own figures.
    let run: serde_json::Value = s.json("artifacts/f/metrics.json");
    for m in ["deepfm", "dcnv2"] {
        let out = s.run(&["eval", &format!("artifacts/f/{m}"), "c.toml", "--json"]);
        out.ok();
        let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(v["model"], m);
        for key in ["auc", "logloss", "gauc"] {
            let (a, b) = (
                v[key].as_f64().unwrap(),
                run["models"][m][key].as_f64().unwrap(),
            );
            assert!((a - b).abs() < 1e-9, "{m} {key}: eval {a} vs run {b}");
        }
        assert_eq!(v["unknown_test_users"], 1, "{v}");
    }
    // A model folder of another format is refused with a message naming the file.
    let json = s.path("artifacts/f/dcnv2/model.json");
    let text = std::fs::read_to_string(&json).unwrap();
    std::fs::write(&json, text.replace("clickrec-ctr-1", "clickrec-ctr-0")).unwrap();
    s.run(&["score", "artifacts/f/dcnv2", "test.csv", "-o", "x.csv"])
        .fails_with(&["model.json", "clickrec-ctr-1", "re-export"]);
    assert!(!s.path("x.csv").exists());
    s.run(&["export", "artifacts/f/dcnv2", "--onnx"])
        .fails_with(&["model.json", "clickrec-ctr-1", "re-export"]);
    // A directory without any model the ONNX export knows.
    s.run(&["export", ".", "--onnx"])
        .fails_with(&["no exported NCF, DeepFM or DCNv2"]);
}

#[test]
fn seed_ncf_and_a_ctr_model_share_the_numeric_features() {
    // Without categorical columns [ncf] is the seed model, which takes the train features; the
    // CTR model's encoding is made first, so both read them.
    let s = Sandbox::new();
    s.write(
        "c.toml",
        "name = \"b\"\n[data]\nlabel = \"is_click\"\nfeatures = [\"user_level\", \"creator_followers\"]\n\
         [data.synthetic]\nkind = \"ctr\"\nusers = 200\nitems = 100\nrows = 8000\ndays = 5\n\
         [ncf]\nepochs = 1\n[deepfm]\nepochs = 2\nhidden = [8]\nbatch_size = 256\n",
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/b/metrics.json");
    assert!(v["models"]["ncf"]["auc"].is_number(), "{}", v["models"]);
    let auc = v["models"]["deepfm"]["auc"].as_f64().unwrap();
    assert!(auc > 0.55, "deepfm: AUC {auc}");
    let j = s.json("artifacts/b/deepfm/model.json");
    assert_eq!(j["arch"]["dense"], 2);
    assert!(
        s.path("artifacts/b/ncf/scorer.json").exists(),
        "the seed NCF's export"
    );
}

#[test]
fn device_tables_give_the_host_tables_metrics() {
    let s = Sandbox::new();
    setup(&s);
    // Lazy Adam (the rule at scale). Both placements take the same steps (unit tests: 1e-6 after
    // two steps, and the same model after three epochs); over hundreds of steps float rounding
    // drifts, so the metrics agree closely, not bit for bit.
    let models = MODELS.replace(
        "hidden = [16]\n",
        "hidden = [16]\nembedding_optimizer = \"lazy_adam\"\n",
    );
    s.write("c.toml", config("", &models));
    s.run(&["train", "c.toml", "-q"]).ok();
    s.write(
        "d.toml",
        config("", &models).replace("name = \"f\"", "name = \"d\""),
    );
    let sets = ["deepfm.tables=\"device\"", "dcnv2.tables=\"device\""];
    s.run(&["train", "d.toml", "-q", "--set", sets[0], "--set", sets[1]])
        .ok();
    let (host, dev) = (
        s.json("artifacts/f/metrics.json"),
        s.json("artifacts/d/metrics.json"),
    );
    for m in ["deepfm", "dcnv2"] {
        let (a, b) = (
            host["models"][m]["auc"].as_f64().unwrap(),
            dev["models"][m]["auc"].as_f64().unwrap(),
        );
        assert!((a - b).abs() < 2e-3, "{m}: host {a} device {b}");
    }
    // The seed NCF (no categorical column) keeps host tables: asking for device ones is refused.
    s.write(
        "n.toml",
        "name = \"n\"\n[data]\nlabel = \"is_click\"\n[data.synthetic]\nkind = \"ctr\"\nusers = 50\nitems = 20\nrows = 2000\ndays = 4\n[ncf]\ntables = \"device\"\n",
    );
    s.run(&["train", "n.toml", "-q"])
        .fails_with(&["ncf.tables", "seed NCF"]);
}

#[test]
fn sqrt_learning_rate_scaling_is_applied_and_named() {
    let s = Sandbox::new();
    setup(&s);
    s.write(
        "c.toml",
        config(
            "",
            "[ncf]\nepochs = 2\nbatch_size = 2048\nlr_scaling = \"sqrt\"\nlr_base_batch = 512\n",
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/f/metrics.json");
    // 0.001 × √(2048 / 512) = 0.002.
    let notes = v["models"]["ncf"]["notes"].to_string();
    assert!(
        notes.contains("learning rate 0.002000 = 0.001 × √(2048 / 512)"),
        "{notes}"
    );
    s.run(&[
        "train",
        "c.toml",
        "-q",
        "--force",
        "--set",
        "ncf.lr_base_batch=0",
    ])
    .fails_with(&["ncf.lr_base_batch"]);
}

#[test]
fn the_embedded_generator_takes_categorical_fields() {
    let s = Sandbox::new();
    let cfg = |fields: usize| {
        format!(
            "name = \"g\"\n[data]\nlabel = \"is_click\"\ncategorical = [\"os\", \"channel\", \"country\"]\n\
             [data.synthetic]\nkind = \"ctr\"\nusers = 300\nitems = 100\nrows = 20000\ndays = 5\nfields = {fields}\n\
             [ncf]\nepochs = 2\n"
        )
    };
    s.write("c.toml", cfg(3));
    s.run(&["train", "c.toml", "-q"]).ok();
    let v = s.json("artifacts/g/metrics.json");
    let notes = v["models"]["ncf"]["notes"].to_string();
    assert!(
        notes.contains("os (") && notes.contains("country ("),
        "{notes}"
    );
    s.write("bad.toml", cfg(11));
    s.run(&["train", "bad.toml", "-q"])
        .fails_with(&["data.synthetic.fields", "10"]);
}
