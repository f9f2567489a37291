//! The implementation of each CLI command.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::config;
use crate::data::{Columns, TableSpec, read_table};
use crate::error::{Error, Result};
use crate::fitted::TrainOptions;
use crate::metrics::ThresholdRule;
use crate::pipeline;
use crate::report::csv_field;
use crate::rundir::RunDir;
use crate::serving;
use crate::serving::candidates::CandidateFlags;
use crate::serving::modeldir::Kind;
use crate::serving::queries::Shard;
use crate::serving::recommend::{Request, Target};

/// Run a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Train {
            config,
            set,
            force,
            resume,
            quiet,
        } => {
            let cfg = config::load(&config, &set)?;
            let (dir, m) = pipeline::train(
                &cfg,
                &TrainOptions {
                    force,
                    resume,
                    quiet,
                },
            )?;
            println!("{}", crate::report::table(&m));
            for (name, mm) in &m.models {
                for n in &mm.notes {
                    println!("note ({name}): {n}");
                }
            }
            let t = &m.timings;
            println!("{}", t.stages.line(t.peak_rss_bytes));
            println!("wrote {}", dir.display());
            Ok(())
        }
        Command::Tune {
            config,
            set,
            force,
            resume,
            quiet,
        } => tune(
            &config,
            &set,
            &crate::tune::TuneOptions {
                force,
                resume,
                quiet,
            },
        ),
        Command::Data {
            config,
            set,
            write_split,
            json,
        } => data(&config, &set, write_split.as_deref(), json),
        Command::Metrics {
            predictions,
            k,
            cutoff_weight,
            youden,
            json,
        } => metrics_cmd(&predictions, &k, cutoff_weight, youden, json),
        Command::Recommend {
            model_dir,
            user,
            all: _,
            history,
            k,
            model,
            users,
            shard,
            factors_out,
            candidates,
            output,
            json,
            quiet,
        } => {
            let target = match (user, history) {
                (Some(u), _) => Target::User(u),
                (None, Some(h)) => Target::History(h),
                (None, None) => Target::All {
                    users_file: users,
                    shard: shard
                        .map(|s| s.parse::<Shard>().map_err(Error::Usage))
                        .transpose()?,
                },
            };
            let req = Request {
                dir: model_dir,
                model: Kind::from_arg(model.as_deref())?,
                k,
                flags: CandidateFlags {
                    include_seen: candidates.include_seen,
                    candidates: candidates.candidates,
                    exclude: candidates.exclude,
                },
                output,
                factors_out,
                json,
                quiet,
            };
            serving::recommend::recommend(&req, &target)
        }
        Command::Similar {
            model_dir,
            item,
            all: _,
            k,
            model,
            candidates,
            exclude,
            output,
            json,
            quiet,
        } => {
            let req = Request {
                dir: model_dir,
                model: Kind::from_arg(model.as_deref())?,
                k,
                flags: CandidateFlags {
                    include_seen: false,
                    candidates,
                    exclude,
                },
                output,
                factors_out: None,
                json,
                quiet,
            };
            serving::recommend::similar(&req, item.as_deref())
        }
        Command::Export { model_dir, onnx } => {
            if !onnx {
                return Err(Error::Usage("export: say what to write (--onnx)".into()));
            }
            let (_, dir) = serving::modeldir::locate(&model_dir, Some(Kind::Ncf))?;
            crate::export::onnx::write_ncf(&dir)?;
            println!(
                "wrote {}",
                dir.join(crate::export::onnx::ONNX_FILE).display()
            );
            Ok(())
        }
        Command::Score {
            model_dir,
            input,
            output,
        } => serving::score::score(&model_dir, &input, output.as_deref()),
        Command::Eval {
            model_dir,
            config,
            set,
            model,
            json,
        } => serving::eval::eval(
            &model_dir,
            &config,
            &set,
            Kind::from_arg(model.as_deref())?,
            json,
        ),
        Command::Generate {
            kind,
            users,
            items,
            rows,
            days,
            seed,
            output,
        } => {
            let kind = match kind.as_str() {
                "ctr" => crate::synth::SynthKind::Ctr,
                "events" => crate::synth::SynthKind::Events,
                other => {
                    return Err(Error::Usage(format!(
                        "--kind {other:?}: expected ctr or events"
                    )));
                }
            };
            let spec = crate::synth::SynthSpec {
                kind,
                users,
                items,
                rows,
                days,
                seed,
                start: crate::synth::DEFAULT_START,
            };
            let mut df = crate::synth::generate(&spec).map_err(|e| Error::Usage(e.to_string()))?;
            crate::synth::write_frame(&mut df, &output).map_err(|e| Error::Usage(e.to_string()))?;
            println!("wrote {} rows to {}", df.height(), output.display());
            Ok(())
        }
    }
}

/// `clickrec tune`: the comparison table of the retrained winner and the chosen setting.
fn tune(config: &Path, set: &[String], opts: &crate::tune::TuneOptions) -> Result<()> {
    let out = crate::tune::run(config, set, opts)?;
    println!("{}", crate::report::table(&out.metrics));
    let t = &out.tuning;
    for b in t.per_model.values() {
        let setting: Vec<String> = b.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
        println!(
            "tuned {}: validation {} {:.4} (trial {}){}: {}",
            b.model,
            t.metric,
            b.value,
            b.trial,
            if b.trial == t.best.trial {
                ", best"
            } else {
                ""
            },
            if setting.is_empty() {
                "defaults".to_string()
            } else {
                setting.join(" ")
            }
        );
    }
    println!("{} trials; wrote {}", t.trials, out.dir.display());
    Ok(())
}

/// `clickrec data --json`: the data summary and the split counts in one flat object (every key
/// once: the split counts already hold `eval_users`).
#[derive(Serialize)]
struct DataJson<'a> {
    #[serde(flatten)]
    summary: &'a crate::report::DataSummary,
    #[serde(flatten)]
    split: &'a crate::split::SplitStats,
}

fn data(config: &Path, set: &[String], write_split: Option<&Path>, json: bool) -> Result<()> {
    let cfg = config::load(config, set)?;
    let p = pipeline::prepare(&cfg)?;
    let st = &p.split.stats;
    if let Some(dir) = write_split {
        write_split_csvs(dir, &p)?;
    }
    if json {
        let out = DataJson {
            summary: &p.summary,
            split: st,
        };
        println!(
            "{}",
            serde_json::to_string(&out).map_err(|e| Error::Export(e.to_string()))?
        );
        return Ok(());
    }
    let s = &p.summary;
    let mut o = String::new();
    let _ = writeln!(o, "source: {}", p.x.source.display());
    let _ = writeln!(o, "rows read: {}", s.load.rows_read);
    let _ = writeln!(o, "duplicates dropped: {}", s.load.duplicates_dropped);
    if s.load.unknown_events_skipped > 0 {
        let _ = writeln!(
            o,
            "unknown events skipped: {}",
            s.load.unknown_events_skipped
        );
    }
    for f in &s.load.filters {
        let _ = writeln!(
            o,
            "filter {} (round {}): {} rows removed",
            f.filter, f.round, f.rows_removed
        );
    }
    let _ = writeln!(
        o,
        "users: {}  items: {}  interactions: {}  sparsity: {:.4} %",
        s.users, s.items, s.interactions, s.sparsity
    );
    for (ev, n) in &s.load.event_counts {
        let _ = writeln!(o, "event {ev}: {n}");
    }
    if let Some(c) = s.click_rate {
        let _ = writeln!(o, "click rate: {:.4}", c);
    }
    let _ = writeln!(o, "split: {}", st.split);
    let _ = writeln!(
        o,
        "train rows: {}  (users {}, items {}, train-only users {})",
        st.train_rows, st.train_users, st.train_items, st.train_only_users
    );
    let _ = writeln!(
        o,
        "test rows:  {}  (before filters {}, dropped unknown item {}, dropped unknown user {}, dropped seen in train {}; distinct pairs {})",
        st.test_rows,
        st.test_rows_before_filters,
        st.test_rows_dropped_unknown_item,
        st.test_rows_dropped_unknown_user,
        st.test_rows_dropped_seen_in_train,
        st.test_pairs
    );
    let _ = writeln!(o, "eval users: {}", st.eval_users);
    print!("{o}");
    Ok(())
}

/// Write train.csv / test.csv (raw ids) for outside tools, atomically as a folder.
fn write_split_csvs(dir: &Path, p: &pipeline::Prepared) -> Result<()> {
    let run = RunDir::create(dir, true)?;
    for (name, rows) in [("train.csv", &p.split.train), ("test.csv", &p.split.test)] {
        let x = &p.x;
        let mut out = String::from("user,item,timestamp,weight");
        if x.label.is_some() {
            out.push_str(",label");
        }
        out.push('\n');
        for &r in rows.iter() {
            let _ = write!(
                out,
                "{},{},{},{}",
                csv_field(&x.users.label(x.user[r] as usize)),
                csv_field(&x.items.label(x.item[r] as usize)),
                x.ts[r],
                x.weight[r]
            );
            if let Some(l) = &x.label {
                let _ = write!(out, ",{}", u8::from(l[r]));
            }
            out.push('\n');
        }
        crate::rundir::write_atomic(&run.path().join(name), out.as_bytes())?;
    }
    run.commit()?;
    Ok(())
}

fn metrics_cmd(path: &Path, ks: &[usize], w: f64, youden: bool, json: bool) -> Result<()> {
    if ks.is_empty() || ks.contains(&0) {
        return Err(Error::Usage("--k must be at least 1".into()));
    }
    if (1..ks.len()).any(|i| ks[..i].contains(&ks[i])) {
        return Err(Error::Usage(format!("--k {ks:?}: lists a cut-off twice")));
    }
    let k = ks[0];
    if !(0.0..=1.0).contains(&w) {
        return Err(Error::Usage(format!(
            "--cutoff-weight {w}: must be in [0, 1]"
        )));
    }
    let df = read_table(&TableSpec::with_header(path))?;
    let cols = Columns { df: &df, path };
    let users_raw = cols.strings("user", "user")?;
    cols.get("item", "item")?;
    let labels = cols.labels("label", "label")?;
    let scores = cols.f64s("score", "score")?;
    let mut index: HashMap<&str, u32> = HashMap::new();
    let users: Vec<u32> = users_raw
        .iter()
        .map(|u| {
            let n = index.len() as u32;
            *index.entry(u.as_str()).or_insert(n)
        })
        .collect();
    let rule = if youden {
        ThresholdRule::Youden
    } else {
        ThresholdRule::WeightedCutoff(w)
    };
    let probabilistic = scores.iter().all(|s| (0.0..=1.0).contains(s));
    // The same code as a model's evaluation in `clickrec train`.
    let mut m = crate::eval::ModelMetrics::default();
    crate::eval::classify(probabilistic, &labels, &scores, rule, &mut m)?;
    if !probabilistic {
        m.notes
            .push("log loss skipped: scores are not probabilities in [0, 1]".into());
    }
    crate::eval::group_auc(&users, &labels, &scores, &mut m)?;
    crate::eval::rank_impressions(&users, &labels, &scores, ks, &mut m)?;
    if json {
        let mut v = serde_json::to_value(&m).map_err(|e| Error::Export(e.to_string()))?;
        if let Some(o) = v.as_object_mut() {
            o.insert("rows".into(), labels.len().into());
            o.insert("k".into(), k.into());
        }
        println!("{v}");
    } else {
        print!("{}", metrics_text(&m, labels.len(), k));
    }
    Ok(())
}

fn metrics_text(m: &crate::eval::ModelMetrics, rows: usize, k: usize) -> String {
    let f = |v: Option<f64>| {
        v.map(|x| format!("{x:.6}"))
            .unwrap_or_else(|| "undefined".into())
    };
    let mut o = String::new();
    let _ = writeln!(o, "rows: {rows}");
    let _ = writeln!(
        o,
        "AUC: {}   GAUC: {} ({} users, {} with one class skipped)   log loss: {}",
        f(m.auc),
        f(m.gauc),
        m.gauc_users.unwrap_or(0),
        m.gauc_single_class_users.unwrap_or(0),
        f(m.logloss)
    );
    let _ = writeln!(
        o,
        "threshold: {} (tpr {}, fpr {})",
        f(m.threshold),
        f(m.tpr),
        f(m.fpr)
    );
    if let (Some(c), Some(conf)) = (&m.classification, &m.confusion) {
        let _ = writeln!(o, "class        precision  recall     f1         support");
        for (label, s) in [("0", &c.class_0), ("1", &c.class_1)] {
            let _ = writeln!(
                o,
                "{label:<12} {:<10.4} {:<10.4} {:<10.4} {}",
                s.precision, s.recall, s.f1, s.support
            );
        }
        let _ = writeln!(o, "accuracy: {:.4}", c.accuracy);
        let _ = writeln!(o, "confusion [[tn, fp], [fn, tp]]: {:?}", conf);
    }
    let _ = writeln!(
        o,
        "HR@{k}: {:.4} (random order {:.4}; {} users with a click, {} with at most {k} rows)   NDCG@{k}: {:.4}   P@{k}: {:.4}   Recall@{k}: {:.4}   MRR@{k}: {:.4}   MAP@{k}: {:.4}",
        m.hr_at_k,
        m.base_rate.unwrap_or(0.0),
        m.ranked_users,
        m.users_with_at_most_k_rows.unwrap_or(0),
        m.ndcg_at_k,
        m.precision_at_k,
        m.recall_at_k,
        m.mrr_at_k,
        m.map_at_k
    );
    for (&other, a) in m.at_k.iter().filter(|(kk, _)| **kk != k) {
        let _ = writeln!(
            o,
            "@{other}: HR {:.4}   NDCG {:.4}   P {:.4}   Recall {:.4}   MRR {:.4}   MAP {:.4}",
            a.hr, a.ndcg, a.precision, a.recall, a.mrr, a.map
        );
    }
    for n in &m.notes {
        let _ = writeln!(o, "note: {n}");
    }
    o
}
