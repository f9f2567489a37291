//! `clickrec recommend` and `clickrec similar` on an exported model: one user or item, every
//! user or item (`--all -o FILE`), or folded-in histories; with candidate control.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::candidates::{CandidateFlags, Catalog};
use super::foldin;
use super::modeldir::Kind;
use super::output::{print_ranked, write_ranked};
use super::queries::{Queries, Shard, one_user, select_users};
use super::served::Served;
use crate::data::IdMap;
use crate::error::{Error, Result};

/// Whom `recommend` ranks for.
#[derive(Debug, Clone)]
pub enum Target {
    /// One user of the model (raw id).
    User(String),
    /// Every user of the model (restricted by `users_file` and `shard`).
    All {
        users_file: Option<PathBuf>,
        shard: Option<Shard>,
    },
    /// The users of a history file, folded in.
    History(PathBuf),
}

/// A `recommend` or `similar` call.
#[derive(Debug, Clone)]
pub struct Request {
    pub dir: PathBuf,
    pub model: Option<Kind>,
    pub k: usize,
    pub flags: CandidateFlags,
    /// Write a table instead of printing (required with `--all`).
    pub output: Option<PathBuf>,
    /// `--history` with ALS: also write the folded-in factors (safetensors).
    pub factors_out: Option<PathBuf>,
    pub json: bool,
    pub quiet: bool,
}

fn check(r: &Request, target: Option<&Target>, all: bool) -> Result<()> {
    if r.k == 0 {
        return Err(Error::Usage("-k must be at least 1".into()));
    }
    if all && r.output.is_none() {
        return Err(Error::Usage(
            "--all writes a table: give -o FILE (.parquet or .csv)".into(),
        ));
    }
    if let Some(o) = r.output.as_deref().filter(|o| !writable(o)) {
        return Err(Error::Usage(format!(
            "-o {}: the output must end in .parquet or .csv",
            o.display()
        )));
    }
    // Every output against every input, before any work.
    let mut inputs: Vec<(&str, &Path)> = Vec::new();
    match target {
        Some(Target::History(h)) => inputs.push(("--history", h.as_path())),
        Some(Target::All {
            users_file: Some(u),
            ..
        }) => inputs.push(("--users", u.as_path())),
        _ => {}
    }
    if let Some(c) = &r.flags.candidates {
        inputs.push(("--candidates", c.as_path()));
    }
    if let Some(e) = &r.flags.exclude {
        inputs.push(("--exclude", e.as_path()));
    }
    if let Some(o) = &r.output {
        crate::outpath::check("-o", o, &inputs)?;
    }
    if let Some(f) = &r.factors_out {
        if let Some(o) = &r.output {
            inputs.push(("-o", o.as_path()));
        }
        crate::outpath::check("--factors-out", f, &inputs)?;
    }
    Ok(())
}

/// An error when candidate control left no item at all (instead of an empty answer).
fn nonempty_catalog(catalog: &Catalog, flags: &CandidateFlags) -> Result<()> {
    if !catalog.items.is_empty() {
        return Ok(());
    }
    let mut given = Vec::new();
    if let Some(c) = &flags.candidates {
        given.push(format!("--candidates {}", c.display()));
    }
    if let Some(e) = &flags.exclude {
        given.push(format!("--exclude {}", e.display()));
    }
    Err(Error::Usage(format!(
        "{} leave no item of the model to recommend; nothing was written",
        if given.is_empty() {
            "the model has no items: it".to_string()
        } else {
            given.join(" with ")
        }
    )))
}

/// `clickrec recommend`: the top-k items of each target user.
pub fn recommend(r: &Request, target: &Target) -> Result<()> {
    check(r, Some(target), matches!(target, Target::All { .. }))?;
    let (kind, dir, why) = super::modeldir::choose(&r.dir, r.model)?;
    let m = Served::load(&dir, Some(kind))?;
    eprintln!("model: {} ({why})", kind.name());
    let ids = m.ids();
    let catalog = Catalog::build(&ids.items, &m.columns().item, &r.flags)?;
    nonempty_catalog(&catalog, &r.flags)?;
    let factors = match &m {
        Served::Als(a) => Some((&a.model.user_factors[..], a.model.factors)),
        _ => None,
    };
    let include_seen = r.flags.include_seen;
    let queries = match target {
        Target::User(u) => Queries::known(&[one_user(ids, u)?], ids, include_seen, factors),
        Target::All { users_file, shard } => {
            let rows = select_users(&ids.users, &m.columns().user, users_file.as_deref(), *shard)?;
            Queries::known(&rows, ids, include_seen, factors)
        }
        Target::History(path) => {
            let h = foldin::read_histories(path, m.columns(), &m)?;
            let t = Instant::now();
            let q = foldin::queries(&h, &m, include_seen)?;
            if !r.quiet {
                let s = t.elapsed().as_secs_f64();
                eprintln!(
                    "folded in {} histories in {s:.3} s ({:.0}/s)",
                    q.len(),
                    q.len() as f64 / s.max(1e-9)
                );
            }
            if let Some(out) = &r.factors_out {
                foldin::write_factors(out, &q, &m)?;
            }
            q
        }
    };
    let single = matches!(target, Target::User(_));
    let bar = crate::progress::bar(queries.len() as u64, "recommend", r.quiet || single);
    let t = Instant::now();
    let rows = m.recommend(&queries, &catalog.items, r.k, &bar)?;
    bar.finish_and_clear();
    if rows.is_empty() {
        return Err(Error::Usage(format!(
            "no recommendation for any of the {} users: every remaining candidate item is among their train items (--include-seen keeps them); nothing was written",
            queries.len()
        )));
    }
    let ints = matches!(ids.users, IdMap::Int(_));
    emit(
        r,
        &m,
        &queries.labels,
        ints,
        ["user", "item"],
        &rows,
        !single,
    )?;
    if !single && !r.quiet {
        eprintln!(
            "{}: top-{} of {} users from {} candidate items in {:.2} s",
            m.kind().name(),
            r.k,
            queries.len(),
            catalog.items.len(),
            t.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// `clickrec similar`: the k most similar items of one item (`item`) or of every item (`None`);
/// ALS unless `--model ncf`.
pub fn similar(r: &Request, item: Option<&str>) -> Result<()> {
    check(r, None, item.is_none())?;
    let kind = r.model.unwrap_or(Kind::Als);
    let m = Served::load(&r.dir, Some(kind))?;
    let why = if r.model.is_some() {
        "--model"
    } else {
        "the default of similar"
    };
    eprintln!("model: {} ({why})", kind.name());
    let ids = m.ids();
    let catalog = Catalog::build(&ids.items, &m.columns().item, &r.flags)?;
    nonempty_catalog(&catalog, &r.flags)?;
    let queries: Vec<u32> = match item {
        Some(id) => vec![ids.items.find(id).ok_or_else(|| {
            Error::Usage(format!(
                "item {id:?} is not in the model (it had no train interactions)"
            ))
        })?],
        None => (0..ids.items.len() as u32).collect(),
    };
    let bar = crate::progress::bar(queries.len() as u64, "similar", r.quiet || item.is_some());
    let rows = m.similar(&queries, &catalog.items, r.k, &bar)?;
    bar.finish_and_clear();
    if rows.is_empty() {
        return Err(Error::Usage(
            "no similar item for any query item: the candidates hold only the query items themselves; nothing was written".into(),
        ));
    }
    let labels: Vec<String> = queries
        .iter()
        .map(|&i| ids.items.label(i as usize))
        .collect();
    let ints = matches!(ids.items, IdMap::Int(_));
    emit(
        r,
        &m,
        &labels,
        ints,
        ["item", "similar"],
        &rows,
        item.is_none(),
    )
}

/// Write the rows to `-o` or print them.
fn emit(
    r: &Request,
    m: &Served,
    labels: &[String],
    ints: bool,
    columns: [&str; 2],
    rows: &[super::rank::Ranked],
    with_query: bool,
) -> Result<()> {
    let ids = m.ids();
    match &r.output {
        Some(o) => write_ranked(o, columns, labels, ints, &ids.items, rows),
        None => {
            print_ranked(
                m.kind().name(),
                labels,
                &ids.items,
                ids.item_titles.as_deref(),
                rows,
                with_query,
                r.json,
            );
            Ok(())
        }
    }
}

/// Whether `path` names a table file `-o` can write (checked before any work).
fn writable(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    crate::synth::WRITABLE_EXTENSIONS.contains(&ext.as_str())
}
