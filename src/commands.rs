//! The implementation of each CLI command.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

mod metrics;

use crate::cli::{Cli, Command};
use crate::config;
use crate::error::{Error, Result};
use crate::fitted::TrainOptions;
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
                    ..Default::default()
                },
            )?;
            println!("{}", crate::report::split_line(&m));
            println!("{}", crate::report::table(&m));
            for (name, c) in &m.training {
                if let Some(l) = c.best_line(name) {
                    println!("{l}");
                }
            }
            for (name, t) in &m.timings.models {
                if let Some(r) = t.samples_per_sec {
                    println!(
                        "fit {name}: {:.2} s, {} samples",
                        t.fit_seconds,
                        crate::report::rate(r)
                    );
                }
            }
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
        } => metrics::metrics_cmd(&predictions, &k, cutoff_weight, youden, json),
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
            for written in export_onnx(&model_dir)? {
                println!("wrote {}", written.display());
            }
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
        } if serving::ctr::is_ctr_model(&model_dir) => {
            if model.is_some() {
                return Err(Error::Usage(format!(
                    "{}: a DeepFM/DCNv2 model folder holds one model; drop --model",
                    model_dir.display()
                )));
            }
            serving::eval::eval_ctr(&model_dir, &config, &set, json)
        }
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
            fields,
            output,
        } => {
            crate::outpath::check("-o", &output, &[])?;
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
                fields,
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
    println!("{}", crate::report::split_line(&out.metrics));
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
    if let Some(line) = crate::tune::against_baselines(t, &out.metrics) {
        println!("{line}");
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
    if let Some(dir) = write_split {
        check_split_dir(dir)?;
    }
    let p = pipeline::prepare(&cfg)?;
    let st = &p.split.stats;
    if let Some(dir) = write_split {
        // The dataset consumed the raw feature columns: the files take them from a fresh load.
        let (x, _) = crate::data::load(&cfg)?;
        let rows: Vec<usize> = (0..x.len()).collect();
        let split = crate::split::split(&x, rows, &pipeline::split_rule(&cfg));
        write_split_csvs(dir, &cfg, &x, &split)?;
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

/// `--write-split DIR` replaces the folder: only a new folder or one holding nothing but an
/// earlier split (train.csv, test.csv) may be given, so no file of the user's is lost.
fn check_split_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        return Err(Error::Usage(format!(
            "--write-split {}: is a file; give a folder",
            dir.display()
        )));
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    let others: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "train.csv" && n != "test.csv")
        .collect();
    if let Some(first) = others.first() {
        return Err(Error::Usage(format!(
            "--write-split {}: the folder holds other files ({first}{}); the split replaces the whole folder, so give a new or empty one (nothing was written)",
            dir.display(),
            if others.len() > 1 { ", …" } else { "" }
        )));
    }
    Ok(())
}

/// Write train.csv / test.csv (raw ids) for outside tools, atomically as a folder: the id
/// columns under the config's names, `timestamp` (Unix seconds), `weight`, `label` (click
/// logs), then every numeric and categorical row feature under its own name, so that
/// `clickrec score MODEL DIR/test.csv` reads the file as it reads the training log.
fn write_split_csvs(
    dir: &Path,
    cfg: &config::RunConfig,
    x: &crate::data::Interactions,
    split: &crate::split::Split,
) -> Result<()> {
    let run = RunDir::create(dir, true)?;
    let d = &cfg.raw.data;
    let mut header = vec![csv_field(&d.user), csv_field(&d.item)];
    header.extend(["timestamp".to_string(), "weight".to_string()]);
    if x.label.is_some() {
        header.push("label".into());
    }
    for name in x
        .features
        .iter()
        .map(|f| &f.name)
        .chain(x.categorical.iter().map(|c| &c.name))
    {
        header.push(csv_field(name));
    }
    for (name, rows) in [("train.csv", &split.train), ("test.csv", &split.test)] {
        let mut out = header.join(",");
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
            for f in &x.features {
                let _ = write!(out, ",{}", f.values[r]);
            }
            for c in &x.categorical {
                let level = c.levels.get(c.codes[r] as usize).map_or("", String::as_str);
                let _ = write!(out, ",{}", csv_field(level));
            }
            out.push('\n');
        }
        crate::rundir::write_atomic(&run.path().join(name), out.as_bytes())?;
    }
    run.commit()?;
    Ok(())
}

/// `export --onnx`: `model.onnx` for the seed NCF (`ncf/`) and every CTR model folder (DeepFM,
/// DCNv2, NCF over fields) of a run directory, or for the one model folder `dir` is. Returns the
/// files written; a directory with none of these models is an error.
fn export_onnx(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    use crate::export::{onnx, onnx_ctr};
    let mut written = Vec::new();
    let ctr_dirs: Vec<std::path::PathBuf> = if serving::ctr::is_ctr_model(dir) {
        vec![dir.to_path_buf()]
    } else {
        ["ncf", "deepfm", "dcnv2"]
            .iter()
            .map(|m| dir.join(m))
            .filter(|d| serving::ctr::is_ctr_model(d))
            .collect()
    };
    if dir.join("scorer.json").is_file() || dir.join("ncf/scorer.json").is_file() {
        let (_, ncf) = serving::modeldir::locate(dir, Some(Kind::Ncf))?;
        onnx::write_ncf(&ncf)?;
        written.push(ncf.join(onnx::ONNX_FILE));
    }
    for d in ctr_dirs {
        onnx_ctr::write_ctr(&d)?;
        written.push(d.join(onnx::ONNX_FILE));
    }
    if written.is_empty() {
        return Err(Error::Export(format!(
            "{}: no exported NCF, DeepFM or DCNv2 model here (expected ncf/, deepfm/ or dcnv2/, \
             or one of those folders); train with that model enabled first",
            dir.display()
        )));
    }
    Ok(written)
}
