//! Serving an exported run: batch recommendations with candidate control and shards, fold-in
//! of histories, the binary export format and its old-format errors.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::common::{Sandbox, config};

/// An implicit run (all three models) on a generated DeskDrop-like log, with its train split
/// written to `split/train.csv`.
fn trained() -> Sandbox {
    trained_on(
        ["150", "90", "5000", "5", "3"],
        "[ncf]\nepochs = 1\n[als]\nfactors = 6\niterations = 3\nalpha = 2.0\nregularization = 0.05\nconfidence = \"hu\"\n",
    )
}

/// A run of the models in `models` (config tables) on a generated events log of
/// `[users, items, rows, days, seed]`, with its train split written to `split/train.csv`.
fn trained_on(log: [&str; 5], models: &str) -> Sandbox {
    let s = Sandbox::new();
    let [users, items, rows, days, seed] = log;
    s.run(&[
        "generate", "--kind", "events", "--users", users, "--items", items, "--rows", rows,
        "--days", days, "--seed", seed, "-o", "ev.csv",
    ])
    .ok();
    s.write(
        "c.toml",
        config(
            "path = \"ev.csv\"\nuser = \"personId\"\nitem = \"contentId\"\nevent = \"eventType\"\n\
             [data.event_weights]\nVIEW = 1.0\nLIKE = 2.0\nBOOKMARK = 3.0\nFOLLOW = 4.0\n\"COMMENT CREATED\" = 5.0",
            models,
        ),
    );
    s.run(&["train", "c.toml", "-q"]).ok();
    s.run(&["data", "c.toml", "--write-split", "split"]).ok();
    s
}

/// `split/train.csv` as (user, item, weight) rows.
fn train_rows(s: &Sandbox) -> Vec<(String, String, f64)> {
    std::fs::read_to_string(s.path("split/train.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[1].to_string(), f[3].parse().unwrap())
        })
        .collect()
}

/// Rows of a recommendations CSV: user → [(rank, item, score)].
fn recs(s: &Sandbox, file: &str) -> BTreeMap<String, Vec<(usize, String, f64)>> {
    let text = std::fs::read_to_string(s.path(file)).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("user,rank,item,score"));
    let mut out: BTreeMap<String, Vec<(usize, String, f64)>> = BTreeMap::new();
    for l in lines {
        let f: Vec<&str> = l.split(',').collect();
        out.entry(f[0].into()).or_default().push((
            f[1].parse().unwrap(),
            f[2].into(),
            f[3].parse().unwrap(),
        ));
    }
    out
}

#[test]
fn all_users_get_exactly_k_rows_within_candidates_and_excludes() {
    let s = trained();
    let train = train_rows(&s);
    let mut seen: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (u, i, _) in &train {
        seen.entry(u).or_default().insert(i);
    }
    let items: BTreeSet<&str> = train.iter().map(|r| r.1.as_str()).collect();
    let items: Vec<&str> = items.into_iter().collect();
    // Candidates: every other item plus an id the model does not know; excluded: a few of them.
    let cand: BTreeSet<&str> = items.iter().step_by(2).copied().collect();
    let excl: BTreeSet<&str> = cand.iter().take(5).copied().collect();
    let mut c = String::from("contentId\n999999999\n");
    cand.iter().for_each(|i| c.push_str(&format!("{i}\n")));
    s.write("cand.csv", c);
    let mut e = String::from("item\n");
    excl.iter().for_each(|i| e.push_str(&format!("{i}\n")));
    s.write("excl.csv", e);
    let allowed: BTreeSet<&str> = cand.difference(&excl).copied().collect();
    let k = 12;
    for model in ["als", "ncf", "popularity"] {
        for include_seen in [false, true] {
            let mut args = vec![
                "recommend",
                "artifacts/t",
                "--all",
                "--model",
                model,
                "-k",
                "12",
                "--candidates",
                "cand.csv",
                "--exclude",
                "excl.csv",
                "-o",
                "r.csv",
                "-q",
            ];
            if include_seen {
                args.push("--include-seen");
            }
            let out = s.run(&args);
            out.ok();
            assert!(out.stderr.contains("not in the model"), "{}", out.stderr);
            let r = recs(&s, "r.csv");
            assert_eq!(r.len(), seen.len(), "{model}: one block per user");
            for (u, rows) in &r {
                let left: BTreeSet<&str> = if include_seen {
                    allowed.clone()
                } else {
                    allowed.difference(&seen[u.as_str()]).copied().collect()
                };
                assert_eq!(rows.len(), k.min(left.len()), "{model} user {u}");
                for (n, (rank, item, score)) in rows.iter().enumerate() {
                    assert_eq!(*rank, n + 1);
                    assert!(
                        left.contains(item.as_str()),
                        "{model} {u}: {item} not allowed"
                    );
                    if n > 0 {
                        assert!(*score <= rows[n - 1].2, "{model} {u}: scores not sorted");
                    }
                }
            }
        }
    }
}

#[test]
fn shards_cover_every_user_exactly_once_and_match_the_full_run() {
    let s = trained();
    s.run(&[
        "recommend",
        "artifacts/t",
        "--all",
        "--model",
        "als",
        "-o",
        "all.parquet",
        "-q",
    ])
    .ok();
    s.run(&[
        "recommend",
        "artifacts/t",
        "--all",
        "--model",
        "als",
        "-o",
        "all.csv",
        "-q",
    ])
    .ok();
    let full = recs(&s, "all.csv");
    let mut union = BTreeMap::new();
    for i in 0..3 {
        let shard = format!("{i}/3");
        let file = format!("s{i}.csv");
        s.run(&[
            "recommend",
            "artifacts/t",
            "--all",
            "--model",
            "als",
            "--shard",
            &shard,
            "-o",
            &file,
            "-q",
        ])
        .ok();
        for (u, rows) in recs(&s, &file) {
            assert!(
                union.insert(u.clone(), rows).is_none(),
                "user {u} in two shards"
            );
        }
    }
    assert_eq!(union, full);
    // --users restricts the list (unknown ids are reported), shards split it further.
    let users: Vec<&String> = full.keys().take(7).collect();
    let mut f = String::from("personId\nnobody\n");
    users.iter().for_each(|u| f.push_str(&format!("{u}\n")));
    s.write("users.csv", f);
    s.run(&[
        "recommend",
        "artifacts/t",
        "--all",
        "--model",
        "als",
        "--users",
        "users.csv",
        "-o",
        "some.csv",
        "-q",
    ])
    .ok();
    let some = recs(&s, "some.csv");
    assert_eq!(some.keys().collect::<Vec<_>>(), users);
    for bad in ["3/3", "1/0", "x"] {
        s.run(&[
            "recommend",
            "artifacts/t",
            "--all",
            "--shard",
            bad,
            "-o",
            "x.csv",
        ])
        .fails_with(&["--shard"]);
    }
    s.run(&["recommend", "artifacts/t", "--all"])
        .fails_with(&["-o FILE"]);
    assert!(s.path("all.parquet").exists());
}

/// Solve `a x = b` (a symmetric positive definite, n × n) by Cholesky in f64.
fn cholesky_solve(mut a: Vec<f64>, mut b: Vec<f64>, n: usize) -> Vec<f64> {
    for j in 0..n {
        let d = a[j * n + j] - (0..j).map(|k| a[j * n + k].powi(2)).sum::<f64>();
        let l = d.sqrt();
        a[j * n + j] = l;
        for i in j + 1..n {
            let s = a[i * n + j] - (0..j).map(|k| a[i * n + k] * a[j * n + k]).sum::<f64>();
            a[i * n + j] = s / l;
        }
    }
    for i in 0..n {
        b[i] = (b[i] - (0..i).map(|k| a[i * n + k] * b[k]).sum::<f64>()) / a[i * n + i];
    }
    for i in (0..n).rev() {
        b[i] = (b[i] - (i + 1..n).map(|k| a[k * n + i] * b[k]).sum::<f64>()) / a[i * n + i];
    }
    b
}

#[test]
fn fold_in_of_train_histories_is_one_more_exact_user_half_step() {
    use clickrec::serving::{foldin, modeldir::Kind, served::Served};
    let s = trained();
    let m = Served::load(&s.path("artifacts/t"), Some(Kind::Als)).unwrap();
    let Served::Als(als) = &m else { panic!("als") };
    let h = foldin::read_histories(&s.path("split/train.csv"), m.columns(), &m).unwrap();
    let q = foldin::queries(&h, &m, false).unwrap();
    let x = q.vectors.as_ref().unwrap();
    // The reference: the user's normal equations built here from the train rows and the
    // exported item factors, c = 1 + alpha·r (confidence "hu"), λ = 0.05.
    let f = als.model.factors;
    let y: Vec<f64> = als
        .model
        .item_factors
        .iter()
        .map(|&v| f64::from(v))
        .collect();
    let mut gram = vec![0f64; f * f];
    for row in y.chunks_exact(f) {
        for a in 0..f {
            for b in 0..f {
                gram[a * f + b] += row[a] * row[b];
            }
        }
    }
    let mut strength: HashMap<(String, String), f64> = HashMap::new();
    for (u, i, w) in train_rows(&s) {
        *strength.entry((u, i)).or_default() += w;
    }
    let mut checked = 0;
    for (n, user) in q.labels.iter().enumerate() {
        let mut a = gram.clone();
        (0..f).for_each(|d| a[d * f + d] += 0.05);
        let mut b = vec![0f64; f];
        for ((u, i), r) in &strength {
            if u != user {
                continue;
            }
            let row = als.ids.items.find(i).unwrap() as usize;
            let yi = &y[row * f..(row + 1) * f];
            let c = 1.0 + 2.0 * r;
            for p in 0..f {
                b[p] += c * yi[p];
                for t in 0..f {
                    a[p * f + t] += (c - 1.0) * yi[p] * yi[t];
                }
            }
        }
        let want = cholesky_solve(a, b, f);
        for (got, want) in x[n * f..(n + 1) * f].iter().zip(&want) {
            assert!(
                (f64::from(*got) - want).abs() < 1e-5 * (1.0 + want.abs()),
                "user {user}: {got} vs {want}"
            );
        }
        checked += 1;
    }
    assert_eq!(checked, h.users.len());
    assert!(checked > 100);
}

#[test]
fn history_users_are_folded_in_and_unknown_items_reported() {
    let s = trained();
    let train = train_rows(&s);
    let (u0, i0) = (&train[0].0, &train[0].1);
    let i1 = &train.iter().find(|r| &r.1 != i0).unwrap().1;
    s.write(
        "h.csv",
        format!(
            "personId,contentId,eventType\nnewbie,{i0},VIEW\nnewbie,{i1},LIKE\nnewbie,424242,VIEW\n{u0},{i1},VIEW\n"
        ),
    );
    for model in ["als", "ncf", "popularity"] {
        let out = s.run(&[
            "recommend",
            "artifacts/t",
            "--history",
            "h.csv",
            "--model",
            model,
            "-k",
            "4",
            "-o",
            "h_out.csv",
            "-q",
        ]);
        out.ok();
        assert!(out.stderr.contains("424242"), "{}", out.stderr);
        let r = recs(&s, "h_out.csv");
        assert_eq!(
            r.keys().collect::<Vec<_>>(),
            vec![u0, &"newbie".to_string()]
        );
        let newbie: Vec<&str> = r["newbie"].iter().map(|x| x.1.as_str()).collect();
        assert_eq!(newbie.len(), 4);
        assert!(!newbie.contains(&i0.as_str()) && !newbie.contains(&i1.as_str()));
        // A known user takes the given history: only i1 is excluded now.
        assert!(!r[u0].iter().any(|x| &x.1 == i1));
    }
    s.write("bad.csv", "personId,contentId,eventType\nx,1,SHOUT\n");
    s.run(&["recommend", "artifacts/t", "--history", "bad.csv"])
        .fails_with(&["bad.csv", "SHOUT", "eventType"]);
}

#[test]
fn exports_keep_large_arrays_in_binary_files_and_refuse_old_formats() {
    let s = trained();
    for m in ["ncf", "als", "popularity"] {
        assert!(
            s.path(&format!("artifacts/t/{m}/ids.safetensors")).exists(),
            "{m}"
        );
    }
    assert!(s.path("artifacts/t/ncf/model.onnx").exists());
    let scorer = std::fs::read_to_string(s.path("artifacts/t/ncf/scorer.json")).unwrap();
    let als = std::fs::read_to_string(s.path("artifacts/t/als/model.json")).unwrap();
    for json in [&scorer, &als] {
        assert!(
            !json.contains("seen_items") && !json.contains("\"users\""),
            "{json}"
        );
    }
    // The single-user answers equal the batch ones.
    s.run(&[
        "recommend",
        "artifacts/t",
        "--all",
        "--model",
        "als",
        "-k",
        "3",
        "-o",
        "a.csv",
        "-q",
    ])
    .ok();
    let all = recs(&s, "a.csv");
    let (user, rows) = all.iter().next().unwrap();
    let one = s.run(&[
        "recommend",
        "artifacts/t",
        "--user",
        user,
        "--model",
        "als",
        "-k",
        "3",
        "--json",
    ]);
    one.ok();
    let items: Vec<String> = one
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["item"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(items, rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>());
    s.run(&[
        "similar",
        "artifacts/t",
        "--all",
        "-k",
        "2",
        "-o",
        "sim.csv",
        "-q",
    ])
    .ok();
    let sim = std::fs::read_to_string(s.path("sim.csv")).unwrap();
    assert!(sim.starts_with("item,rank,similar,score\n"), "{sim}");

    // The saved popularity model evaluates to the run's figures.
    let ev = s.run(&[
        "eval",
        "artifacts/t",
        "c.toml",
        "--model",
        "popularity",
        "--json",
    ]);
    ev.ok();
    let e: serde_json::Value = serde_json::from_str(ev.stdout.trim()).unwrap();
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(s.path("artifacts/t/metrics.json")).unwrap())
            .unwrap();
    let run = m["models"]["popularity"]["hr_at_k"].as_f64().unwrap();
    assert!(
        (e["hr_at_k"].as_f64().unwrap() - run).abs() < 1e-12,
        "{e} vs {run}"
    );
    // The text form prints every cutoff of eval.k.
    let ev = s.run(&[
        "eval",
        "artifacts/t",
        "c.toml",
        "--model",
        "popularity",
        "--set",
        "eval.k=[3, 5]",
    ]);
    ev.ok();
    assert!(
        ev.stdout.contains("HR@3 ")
            && ev.stdout.contains("  @3: HR ")
            && ev.stdout.contains("  @5: HR "),
        "{}",
        ev.stdout
    );

    // Old formats: a clear message, exit code 2.
    s.write(
        "artifacts/t/ncf/scorer.json",
        scorer.replace("clickrec-ncf-2", "clickrec-ncf-1"),
    );
    s.run(&["recommend", "artifacts/t", "--user", user, "--model", "ncf"])
        .fails_with(&["clickrec-ncf-1", "re-export"]);
    s.write(
        "artifacts/t/als/model.json",
        als.replace("\"format\": \"clickrec-als-2\",", ""),
    );
    s.run(&["recommend", "artifacts/t", "--user", user, "--model", "als"])
        .fails_with(&["clickrec-als-1", "re-export"]);
    std::fs::remove_file(s.path("artifacts/t/popularity/ids.safetensors")).unwrap();
    s.run(&[
        "recommend",
        "artifacts/t",
        "--user",
        user,
        "--model",
        "popularity",
    ])
    .fails_with(&["ids.safetensors", "re-export"]);
    // export --onnx rewrites the ONNX file of an existing run.
    std::fs::remove_file(s.path("artifacts/t/ncf/model.onnx")).unwrap();
    s.write("artifacts/t/ncf/scorer.json", &scorer);
    s.run(&["export", "artifacts/t", "--onnx"]).ok();
    assert!(s.path("artifacts/t/ncf/model.onnx").exists());
}

/// ALS and popularity fit with a recency half-life: the exports record the decay (its reference
/// is the newest train timestamp), and fold-in weighs a history's rows by it exactly as a
/// history whose weights were decayed beforehand and that has no timestamps.
#[test]
fn recency_weighted_als_folds_in_with_the_models_decay() {
    use clickrec::serving::{foldin, modeldir::Kind, served::Served};
    let s = trained_on(
        ["120", "80", "4000", "6", "5"],
        "[popularity]\nhalf_life_days = 1.5\n[als]\nfactors = 5\niterations = 3\nhalf_life_days = 1.5\n",
    );
    let text = std::fs::read_to_string(s.path("split/train.csv")).unwrap();
    let rows: Vec<(String, String, i64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].into(),
                f[1].into(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
            )
        })
        .collect();
    let newest = rows.iter().map(|r| r.2).max().unwrap();
    for m in ["als", "popularity"] {
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(s.path(&format!("artifacts/t/{m}/model.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(json["decay"]["half_life_days"], 1.5, "{m}");
        assert_eq!(json["decay"]["reference_ts"], newest, "{m}");
    }
    let mut pre = String::from("personId,contentId,weight\n");
    for (u, i, t, w) in &rows {
        let f = 0.5f64.powf((newest - t) as f64 / (1.5 * 86_400.0));
        pre.push_str(&format!("{u},{i},{}\n", w * f));
    }
    s.write("pre.csv", pre);
    let m = Served::load(&s.path("artifacts/t"), Some(Kind::Als)).unwrap();
    let timed = foldin::read_histories(&s.path("split/train.csv"), m.columns(), &m).unwrap();
    let given = foldin::read_histories(&s.path("pre.csv"), m.columns(), &m).unwrap();
    assert_eq!((&timed.users, &timed.items), (&given.users, &given.items));
    let old = timed.strengths.iter().filter(|&&w| w < 0.5).count();
    assert!(old > 100, "only {old} rows are older than a half-life");
    for (a, b) in timed.strengths.iter().zip(&given.strengths) {
        assert!((a - b).abs() <= 1e-6 * b.max(1.0), "{a} vs {b}");
    }
    let (qa, qb) = (
        foldin::queries(&timed, &m, false).unwrap(),
        foldin::queries(&given, &m, false).unwrap(),
    );
    for (a, b) in qa.vectors.unwrap().iter().zip(&qb.vectors.unwrap()) {
        assert!((a - b).abs() < 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
    }
}
