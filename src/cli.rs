//! Command-line interface: argument parsing (clap derive) and dispatch to the library.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Train and evaluate CTR and recommendation models from config files.
#[derive(Debug, Parser)]
#[command(name = "clickrec", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load, filter, split, train every enabled model, evaluate on the held-out part and write
    /// the run directory (`artifacts/<name>/`).
    Train {
        /// The run config (TOML).
        config: PathBuf,
        /// Override a config key, e.g. --set ncf.epochs=5 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Replace an existing output directory.
        #[arg(long)]
        force: bool,
        /// Continue an interrupted run from its last checkpoint.
        #[arg(long)]
        resume: bool,
        /// No progress bars.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Choose model settings on a validation part carved from the train part (`[tune]` table),
    /// retrain the best on the whole train part and evaluate it on test once. Writes the run
    /// directory plus tuning.csv and best.toml.
    Tune {
        /// The run config (TOML) with a `[tune]` table.
        config: PathBuf,
        /// Override a config key, e.g. --set tune.trials=10 (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Replace an existing output directory.
        #[arg(long)]
        force: bool,
        /// Continue a killed run without redoing its finished trials.
        #[arg(long)]
        resume: bool,
        /// No progress bars.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Dataset and split statistics without training.
    Data {
        config: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Write train.csv and test.csv into this folder.
        #[arg(long, value_name = "DIR")]
        write_split: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// The full metric report of a predictions file with columns user,item,label,score.
    Metrics {
        predictions: PathBuf,
        /// Top-K cut-offs, the first one primary: --k 10 or --k 10,20 (repeatable).
        #[arg(long, value_delimiter = ',', default_value = "10")]
        k: Vec<usize>,
        /// Weight w of the ROC cutoff rule |w·tpr − (1−w)·(1−fpr)|.
        #[arg(long, default_value_t = 0.75)]
        cutoff_weight: f64,
        /// Use Youden's J instead of the weighted cutoff.
        #[arg(long)]
        youden: bool,
        #[arg(long)]
        json: bool,
    },
    /// Generate a synthetic click log (CSV or Parquet by extension).
    Generate {
        /// ctr (impressions with clicks and 11 features) or events (DeskDrop-like).
        #[arg(long, default_value = "ctr")]
        kind: String,
        #[arg(long, default_value_t = 2000)]
        users: usize,
        #[arg(long, default_value_t = 1000)]
        items: usize,
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value_t = 14)]
        days: u32,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// ctr only: add this many categorical fields (0 to 10: os, channel, country, city, tag,
        /// app, site, device_model, album, query; 10 to 1 M levels, Int32 codes), some with a
        /// planted click effect.
        #[arg(long, default_value_t = 0)]
        fields: usize,
        /// Output file (.csv or .parquet).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Top-k items for one user, every user (--all -o FILE) or folded-in histories
    /// (--history FILE) from an exported model; items seen in train are excluded.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["user", "all", "history"])))]
    Recommend {
        /// A run directory (`artifacts/<name>`) or a model folder (…/als, …/ncf, …/popularity).
        model_dir: PathBuf,
        /// The user's raw id (negative ids such as DeskDrop's work as is).
        #[arg(long, allow_hyphen_values = true)]
        user: Option<String>,
        /// Every user of the model (with -o FILE; see --users, --shard).
        #[arg(long)]
        all: bool,
        /// Users described by a history file (`user,item[,weight]` with the training column
        /// names): ALS solves their factors exactly, NCF uses the cold-start row for new users.
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        /// Which model of a run directory: als, ncf or popularity (default: the only one, else
        /// the best on the run's primary metric in metrics.json; the answer names it).
        #[arg(long)]
        model: Option<String>,
        /// With --all: only the users listed in FILE (a table with a user column).
        #[arg(long, value_name = "FILE", requires = "all")]
        users: Option<PathBuf>,
        /// With --all: every N-th user starting at I (0 <= I < N), to split the job.
        #[arg(long, value_name = "I/N", requires = "all")]
        shard: Option<String>,
        /// With --history and ALS: also write the folded-in factors to FILE (safetensors).
        #[arg(long, value_name = "FILE", requires = "history")]
        factors_out: Option<PathBuf>,
        #[command(flatten)]
        candidates: CandidateArgs,
        /// Write user,rank,item,score to a .parquet or .csv file instead of printing.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Items most similar to an item, or to every item (--all -o FILE): cosine of ALS item
    /// factors (default) or NCF item embeddings.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["item", "all"])))]
    Similar {
        model_dir: PathBuf,
        /// The item's raw id (negative ids work as is).
        #[arg(long, allow_hyphen_values = true)]
        item: Option<String>,
        /// Every item of the model (with -o FILE).
        #[arg(long)]
        all: bool,
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        model: Option<String>,
        /// Only these items as answers (a table with an item column).
        #[arg(long, value_name = "FILE")]
        candidates: Option<PathBuf>,
        /// Never these items as answers.
        #[arg(long, value_name = "FILE")]
        exclude: Option<PathBuf>,
        /// Write item,rank,similar,score to a .parquet or .csv file instead of printing.
        #[arg(short, long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        #[arg(long, short)]
        quiet: bool,
    },
    /// Write serving files for an existing run: --onnx writes model.onnx into ncf/ and into each
    /// CTR model's folder (deepfm/, dcnv2/, ncf/ over fields).
    Export {
        /// A run directory or one model's folder.
        model_dir: PathBuf,
        /// The NCF and CTR scorers as ONNX graphs (`<model>/model.onnx`).
        #[arg(long)]
        onnx: bool,
    },
    /// Score an impression file with an exported NCF model (a run directory) or an exported
    /// DeepFM / DCNv2 model (its folder, e.g. artifacts/run/dcnv2): adds score, click (score >=
    /// threshold) and cold_user / cold_item (NCF) or oov_fields (DeepFM, DCNv2) columns.
    Score {
        model_dir: PathBuf,
        /// CSV with the training column names (user, item and feature columns).
        input: PathBuf,
        /// Output CSV (default: stdout).
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Evaluate a saved model on a config's held-out part.
    Eval {
        model_dir: PathBuf,
        config: PathBuf,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        set: Vec<String>,
        /// Which model of a run directory: als or ncf.
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// Candidate control of `recommend`.
#[derive(Debug, Clone, clap::Args)]
pub struct CandidateArgs {
    /// Keep the items the user had in train (default: excluded).
    #[arg(long)]
    pub include_seen: bool,
    /// Only these items (a table with an item column).
    #[arg(long, value_name = "FILE")]
    pub candidates: Option<PathBuf>,
    /// Never these items.
    #[arg(long, value_name = "FILE")]
    pub exclude: Option<PathBuf>,
}
