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
    /// the run directory (artifacts/<name>/).
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
        /// Output file (.csv or .parquet).
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Top-k items for a user from an exported model (items seen in train are excluded).
    Recommend {
        /// A run directory (artifacts/<name>) or a model folder (…/als, …/ncf).
        model_dir: PathBuf,
        /// The user's raw id (negative ids such as DeskDrop's work as is).
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        /// Which model of a run directory: als or ncf (default: the one present, NCF first).
        #[arg(long)]
        model: Option<String>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Items most similar to an item (cosine of item factors / embeddings).
    Similar {
        model_dir: PathBuf,
        /// The item's raw id (negative ids work as is).
        #[arg(long, allow_hyphen_values = true)]
        item: String,
        #[arg(short, long, default_value_t = 10)]
        k: usize,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Score an impression file with an exported NCF model: adds score, click (score >=
    /// threshold), cold_user and cold_item columns.
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
