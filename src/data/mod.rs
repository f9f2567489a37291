//! Loading a click log into columnar [`Interactions`]: file or synthetic source, id encoding,
//! event weights, de-duplication and the `[filter]` rules.
//!
//! Everything stays struct-of-arrays: one `Vec` per column, rows addressed by position.

mod columns;
mod error;
pub mod filter;
mod given;
mod ids;
mod int_levels;
pub mod read;
pub mod side;
pub mod time;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use polars::prelude::DataFrame;
use serde::Serialize;

use crate::config::RunConfig;
pub use crate::config::{TimestampUnit, UnknownEvents};
pub use columns::Columns;
pub use error::DataError;
pub use ids::{IdMap, RawIds};
pub use read::{TableSpec, read_table};

/// At most this many levels are one-hot encoded per categorical column.
pub const MAX_LEVELS: usize = 64;

/// A numeric column. f32, like the model inputs: at 10 M rows each f64 column would cost 40 MB
/// more, and min-max scaling to f32 loses nothing that f32 storage keeps.
#[derive(Debug, Clone)]
pub struct Numeric {
    pub name: String,
    pub values: Vec<f32>,
}

/// A categorical column: sorted levels and each row's level index.
#[derive(Debug, Clone)]
pub struct Categorical {
    pub name: String,
    pub levels: Vec<String>,
    pub codes: Vec<u32>,
}

/// A multi-valued categorical column: sorted levels and each row's level indices, CSR
/// (`codes[offsets[r]..offsets[r + 1]]` are row r's values, possibly none).
#[derive(Debug, Clone)]
pub struct Sequence {
    pub name: String,
    pub levels: Vec<String>,
    pub offsets: Vec<u32>,
    pub codes: Vec<u32>,
}

impl Sequence {
    /// Row `r`'s values.
    pub fn row(&self, r: usize) -> &[u32] {
        &self.codes[self.offsets[r] as usize..self.offsets[r + 1] as usize]
    }

    /// The rows `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Sequence {
        let mut offsets = Vec::with_capacity(rows.len() + 1);
        offsets.push(0u32);
        let mut codes = Vec::new();
        for &r in rows {
            codes.extend_from_slice(self.row(r));
            offsets.push(codes.len() as u32);
        }
        Sequence {
            name: self.name.clone(),
            levels: self.levels.clone(),
            offsets,
            codes,
        }
    }
}

/// The click log, columnar. `user`/`item` index into `users`/`items` (ascending raw id).
#[derive(Debug, Clone)]
pub struct Interactions {
    /// Where the rows came from (a path, or `synthetic`), for messages.
    pub source: PathBuf,
    pub users: IdMap,
    pub items: IdMap,
    pub user: Vec<u32>,
    pub item: Vec<u32>,
    /// Unix seconds, UTC.
    pub ts: Vec<i64>,
    /// CTR mode: the click label of each impression.
    pub label: Option<Vec<bool>>,
    /// Interaction strength: event weight × weight column (1 when neither is set).
    pub weight: Vec<f32>,
    /// Whether `weight` carries information (a weight or event column is set).
    pub weighted: bool,
    /// Event type index into `event_names`, when an event column is set.
    pub event: Option<Vec<u16>>,
    pub event_names: Vec<String>,
    /// Numeric row features (raw, unscaled).
    pub features: Vec<Numeric>,
    /// Categorical row features (fields).
    pub categorical: Vec<Categorical>,
    /// Multi-valued categorical fields.
    pub sequences: Vec<Sequence>,
    /// `split.method = "files"`: whether each row came from `split.test_path`.
    pub given_test: Option<Vec<bool>>,
    /// `split.method = "files"` with `valid_path`: whether each row came from it.
    pub given_valid: Option<Vec<bool>>,
}

impl Interactions {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.user.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.user.is_empty()
    }

    /// The rows at `rows`, in that order (id maps are shared, not re-encoded).
    pub fn take(&self, rows: &[usize]) -> Interactions {
        fn pick<T: Copy>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&r| v[r]).collect()
        }
        Interactions {
            source: self.source.clone(),
            users: self.users.clone(),
            items: self.items.clone(),
            user: pick(&self.user, rows),
            item: pick(&self.item, rows),
            ts: pick(&self.ts, rows),
            label: self.label.as_ref().map(|l| pick(l, rows)),
            weight: pick(&self.weight, rows),
            weighted: self.weighted,
            event: self.event.as_ref().map(|e| pick(e, rows)),
            event_names: self.event_names.clone(),
            features: self
                .features
                .iter()
                .map(|f| Numeric {
                    name: f.name.clone(),
                    values: pick(&f.values, rows),
                })
                .collect(),
            categorical: self
                .categorical
                .iter()
                .map(|c| Categorical {
                    name: c.name.clone(),
                    levels: c.levels.clone(),
                    codes: pick(&c.codes, rows),
                })
                .collect(),
            sequences: self.sequences.iter().map(|q| q.take(rows)).collect(),
            given_test: self.given_test.as_ref().map(|g| pick(g, rows)),
            given_valid: self.given_valid.as_ref().map(|g| pick(g, rows)),
        }
    }

    /// The strength a row adds to the `[filter]` counts: its click in CTR mode, its weight
    /// when weights are set, else 1.
    pub fn count_weight(&self, row: usize) -> f64 {
        match &self.label {
            Some(l) => f64::from(u8::from(l[row])),
            None if self.weighted => f64::from(self.weight[row]),
            None => 1.0,
        }
    }
}

/// What loading did, for the data report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub rows_read: usize,
    pub duplicates_dropped: usize,
    pub unknown_events_skipped: usize,
    pub filters: Vec<filter::FilterStep>,
    pub event_counts: BTreeMap<String, usize>,
    /// Seconds spent in de-duplication and filters (a timing: not in metrics.json's `data`).
    #[serde(skip)]
    pub filter_seconds: f64,
}

/// The generator spec of a `[data.synthetic]` config.
pub fn synth_spec(cfg: &RunConfig) -> Option<crate::synth::SynthSpec> {
    let s = cfg.raw.data.synthetic.as_ref()?;
    let kind = match s.kind {
        crate::config::SynthKindName::Ctr => crate::synth::SynthKind::Ctr,
        crate::config::SynthKindName::Events => crate::synth::SynthKind::Events,
    };
    Some(crate::synth::SynthSpec {
        kind,
        users: s.users,
        items: s.items,
        rows: s.rows,
        days: s.days,
        seed: s.seed.unwrap_or(cfg.raw.seed),
        start: crate::synth::DEFAULT_START,
        fields: s.fields,
    })
}

/// Produce the raw frame of the configured source.
pub fn source_frame(cfg: &RunConfig) -> Result<(DataFrame, PathBuf), DataError> {
    let d = &cfg.raw.data;
    if let Some(spec) = synth_spec(cfg) {
        let df = crate::synth::generate(&spec).map_err(|e| DataError::Synthetic(e.to_string()))?;
        return Ok((df, PathBuf::from("synthetic")));
    }
    let path = cfg.resolve(
        d.path
            .as_deref()
            .unwrap_or_else(|| std::path::Path::new("")),
    );
    let spec = TableSpec {
        path: path.clone(),
        delimiter: d.delimiter.as_deref().map(read::delimiter_byte),
        has_header: d.has_header,
        columns: d.columns.clone(),
        encoding: d.encoding,
    };
    Ok((read_table(&spec)?, path))
}

/// The source frame; each column is dropped once its last configured use has been read, so
/// the frame shrinks while the typed columns grow (this halves peak memory at 10 M rows).
/// A Parquet log is not read whole: `lazy` reads each column when it is first used, so only
/// one raw column is held at a time.
struct Frame {
    df: DataFrame,
    path: PathBuf,
    uses: HashMap<String, usize>,
    lazy: Option<read::ParquetColumns>,
}

impl Frame {
    fn cols(&self) -> Columns<'_> {
        Columns {
            df: &self.df,
            path: &self.path,
        }
    }

    /// Makes `name` available in `df` (reads it from a lazy Parquet source).
    fn load(&mut self, name: &str) -> Result<(), DataError> {
        if let Some(src) = &self.lazy
            && self.df.column(name).is_err()
        {
            self.df = src.read(name)?;
        }
        Ok(())
    }

    /// [`Self::load`], then the columns view.
    fn col(&mut self, name: &str) -> Result<Columns<'_>, DataError> {
        self.load(name)?;
        Ok(self.cols())
    }

    /// One use of `name` is read; drop the column after its last.
    fn done(&mut self, name: &str) {
        if let Some(n) = self.uses.get_mut(name) {
            *n -= 1;
            if *n == 0 {
                let _ = self.df.drop_in_place(name);
            }
        }
    }
}

/// Load the configured log: read, type every column, weigh events, de-duplicate, filter.
/// With `split.method = "files"` both files are read and each row remembers which it came from.
pub fn load(cfg: &RunConfig) -> Result<(Interactions, LoadReport), DataError> {
    if let Some(files) = given::paths(cfg) {
        let (df, parts) = given::read_all(cfg, &files)?;
        let (mut x, report) = load_frame(cfg, df, files.train.clone(), Some(parts), None)
            .map_err(|e| given::relocate(e, parts, &files))?;
        x.source = PathBuf::from(files.describe());
        return Ok((x, report));
    }
    // A Parquet log is read column by column (see `Frame::lazy`).
    let d = &cfg.raw.data;
    let lazy = match (&d.synthetic, &d.path) {
        (None, Some(p)) => read::ParquetColumns::open(&cfg.resolve(p))?,
        _ => None,
    };
    let (df, path) = match (&lazy, &d.path) {
        (Some(src), Some(p)) => (src.schema.clone(), cfg.resolve(p)),
        _ => source_frame(cfg)?,
    };
    load_frame(cfg, df, path, None, lazy)
}

/// [`load`] of one frame; rows from `given_train_rows` on are the given test rows.
fn load_frame(
    cfg: &RunConfig,
    df: DataFrame,
    path: PathBuf,
    given: Option<given::Parts>,
    lazy: Option<read::ParquetColumns>,
) -> Result<(Interactions, LoadReport), DataError> {
    let d = &cfg.raw.data;
    let ts_name = d.timestamp_column().to_string();
    // The timestamp may be absent when nobody asked for it and the split needs no time.
    let needs_time = d.timestamp.is_some()
        || !matches!(
            cfg.raw.split.method,
            crate::config::SplitMethod::Files | crate::config::SplitMethod::Random
        );
    let has_ts = df.column(&ts_name).is_ok(); // in the lazy case `df` is the schema frame
    let use_ts = needs_time || has_ts;
    let roles: Vec<(&String, &str)> = [(&d.user, "data.user"), (&d.item, "data.item")]
        .into_iter()
        .chain(use_ts.then_some((&ts_name, "data.timestamp")))
        .chain(d.label.iter().map(|c| (c, "data.label")))
        .chain(d.weight.iter().map(|c| (c, "data.weight")))
        .chain(d.event.iter().map(|c| (c, "data.event")))
        .chain(d.features.iter().map(|c| (c, "data.features")))
        .chain(d.categorical.iter().map(|c| (c, "data.categorical")))
        .chain(d.sequence.iter().map(|c| (c, "data.sequence")))
        .collect();
    let mut f = Frame {
        df,
        path: path.clone(),
        uses: HashMap::new(),
        lazy: None,
    };
    for (name, key) in &roles {
        f.cols().get(name, key)?; // a missing column errors here, listing every column
        *f.uses.entry(name.to_string()).or_default() += 1;
    }
    let unused: Vec<String> =
        f.df.get_column_names()
            .iter()
            .map(|c| c.to_string())
            .filter(|c| !f.uses.contains_key(c))
            .collect();
    for c in unused {
        let _ = f.df.drop_in_place(&c);
    }
    let height = lazy.as_ref().map_or(f.df.height(), |l| l.height);
    if lazy.is_some() {
        f.df = DataFrame::empty(); // the zero-row schema frame only served the column checks
    }
    f.lazy = lazy;
    let mut report = LoadReport {
        rows_read: height,
        ..Default::default()
    };

    let (users, user) = IdMap::encode(&f.col(&d.user)?.ids(&d.user, "data.user")?);
    f.done(&d.user);
    let (items, item) = IdMap::encode(&f.col(&d.item)?.ids(&d.item, "data.item")?);
    f.done(&d.item);
    let ts = if use_ts {
        let ts = f
            .col(&ts_name)?
            .timestamps(&ts_name, "data.timestamp", d.timestamp_unit)?;
        f.done(&ts_name);
        ts
    } else {
        vec![0; height]
    };
    let label = match &d.label {
        Some(l) => Some(f.col(l)?.labels(l, "data.label")?),
        None => None,
    };
    if let Some(l) = &d.label {
        f.done(l);
    }
    let mut weight = vec![1.0f32; height];
    if let Some(w) = &d.weight {
        let v = f.col(w)?.f64s(w, "data.weight")?;
        f.cols()
            .reject(w, &v, |x: f64| x < 0.0, |x| format!("negative weight {x}"))?;
        weight = v.iter().map(|&x| x as f32).collect();
        f.done(w);
    }

    let mut keep: Vec<bool> = vec![true; height];
    let (event, event_names) = match &d.event {
        None => (None, Vec::new()),
        Some(col) => {
            let (names, codes) =
                f.col(col)?
                    .categorical(col, "data.event", usize::from(u16::MAX))?;
            f.done(col);
            let level_weight: Vec<Option<f64>> = names
                .iter()
                .map(|n| match &d.event_weights {
                    None => Some(1.0),
                    Some(map) => map.get(n).copied(),
                })
                .collect();
            for (row, &c) in codes.iter().enumerate() {
                match (level_weight[c as usize], d.unknown_events) {
                    (Some(w), _) => weight[row] *= w as f32,
                    (None, UnknownEvents::Skip) => {
                        keep[row] = false;
                        report.unknown_events_skipped += 1;
                    }
                    (None, UnknownEvents::Error) => {
                        let known = d
                            .event_weights
                            .iter()
                            .flatten()
                            .map(|(k, _)| format!("{k:?}"))
                            .collect::<Vec<_>>();
                        return Err(DataError::UnknownEvent {
                            path: path.clone(),
                            event: names[c as usize].clone(),
                            row: row + 1,
                            known: known.join(", "),
                        });
                    }
                }
            }
            (Some(codes.into_iter().map(|c| c as u16).collect()), names)
        }
    };

    let mut features = Vec::with_capacity(d.features.len());
    for name in &d.features {
        features.push(Numeric {
            name: name.clone(),
            values: f.col(name)?.f32s(name, "data.features")?,
        });
        f.done(name);
    }
    let mut categorical = Vec::with_capacity(d.categorical.len());
    for c in &d.categorical {
        let (levels, codes) = f.col(c)?.field(c, "data.categorical")?;
        f.done(c);
        categorical.push(Categorical {
            name: c.clone(),
            levels,
            codes,
        });
    }
    let mut sequences = Vec::with_capacity(d.sequence.len());
    for c in &d.sequence {
        sequences.push(
            f.col(c)?
                .sequence(c, "data.sequence", &d.sequence_separator)?,
        );
        f.done(c);
    }
    drop(f);

    let all = Interactions {
        source: path,
        users,
        items,
        user,
        item,
        ts,
        label,
        weight,
        weighted: d.weight.is_some() || d.event.is_some(),
        event,
        event_names,
        features,
        categorical,
        sequences,
        given_test: given.map(|p| (0..height).map(|r| p.is_test(r)).collect()),
        given_valid: given
            .filter(|p| p.valid > 0)
            .map(|p| (0..height).map(|r| p.is_valid(r)).collect()),
    };
    let t_filter = std::time::Instant::now();
    let mut rows: Vec<usize> = (0..all.len()).filter(|&r| keep[r]).collect();
    if d.dedupe {
        let before = rows.len();
        rows = dedupe(&all, &rows);
        report.duplicates_dropped = before - rows.len();
    }
    let (rows, steps) = filter::apply(&all, rows, &cfg.raw.filter);
    report.filters = steps;
    if rows.is_empty() {
        return Err(DataError::NothingLeft {
            what: all.source.display().to_string(),
            stage: "de-duplication and filters",
        });
    }
    let out = if rows.len() == all.len() {
        all
    } else {
        all.take(&rows)
    };
    if let Some(ev) = &out.event {
        for &e in ev {
            *report
                .event_counts
                .entry(out.event_names[e as usize].clone())
                .or_default() += 1;
        }
    }
    report.filter_seconds = t_filter.elapsed().as_secs_f64();
    Ok((out, report))
}

/// Drop exact duplicate (user, item, event) rows, keeping the earliest: the smallest timestamp,
/// ties to the first row in file order. The kept rows stay in file order.
pub fn dedupe(x: &Interactions, rows: &[usize]) -> Vec<usize> {
    let mut best: HashMap<(u32, u32, u16), usize> = HashMap::with_capacity(rows.len());
    for &r in rows {
        let key = (x.user[r], x.item[r], x.event.as_ref().map_or(0, |e| e[r]));
        best.entry(key)
            .and_modify(|b| {
                if x.ts[r] < x.ts[*b] {
                    *b = r;
                }
            })
            .or_insert(r);
    }
    let mut kept: Vec<usize> = best.into_values().collect();
    kept.sort_unstable();
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(dir: &std::path::Path, data: &str) -> RunConfig {
        let text = format!("name = \"t\"\n[data]\n{data}\n");
        crate::config::from_str(
            &text,
            std::path::Path::new("t.toml"),
            dir.to_path_buf(),
            &[],
        )
        .unwrap()
    }

    #[test]
    fn parquet_read_column_by_column_equals_the_csv_read() {
        let dir = tempfile::tempdir().unwrap();
        let spec = crate::synth::SynthSpec {
            kind: crate::synth::SynthKind::Ctr,
            users: 40,
            items: 25,
            rows: 2000,
            days: 5,
            seed: 3,
            start: crate::synth::DEFAULT_START,
            fields: 0,
        };
        let mut df = crate::synth::generate(&spec).unwrap();
        crate::synth::write_frame(&mut df, &dir.path().join("g.parquet")).unwrap();
        crate::synth::write_frame(&mut df, &dir.path().join("g.csv")).unwrap();
        let load_from = |file: &str| {
            let c = cfg(
                dir.path(),
                &format!(
                    "path = \"{file}\"\nlabel = \"is_click\"\nfeatures = [\"user_level\", \"item_clicks\"]\ncategorical = [\"device\"]"
                ),
            );
            load(&c).unwrap().0
        };
        let (p, c) = (load_from("g.parquet"), load_from("g.csv"));
        assert_eq!(p.len(), 2000);
        assert_eq!(
            (&p.users, &p.items, &p.user, &p.item),
            (&c.users, &c.items, &c.user, &c.item)
        );
        assert_eq!((&p.ts, &p.label, &p.weight), (&c.ts, &c.label, &c.weight));
        assert_eq!(p.features.len(), 2);
        for (a, b) in p.features.iter().zip(&c.features) {
            assert_eq!((&a.name, &a.values), (&b.name, &b.values));
        }
        assert_eq!(p.categorical[0].codes, c.categorical[0].codes);
        assert_eq!(p.categorical[0].levels, c.categorical[0].levels);
        // A missing column still lists the file's columns.
        let bad = cfg(dir.path(), "path = \"g.parquet\"\nlabel = \"clicked\"");
        let e = load(&bad).unwrap_err().to_string();
        assert!(e.contains("clicked") && e.contains("is_click"), "{e}");
    }

    #[test]
    fn deskdrop_dedup_keeps_the_earliest_and_weighs_events() {
        // test_protocol.py::test_deskdrop_dedup_keeps_earliest
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("i.csv"),
            "timestamp,eventType,contentId,personId,sessionId\n300,VIEW,7,1,0\n100,VIEW,7,1,0\n200,LIKE,7,1,0\n150,VIEW,8,1,0\n",
        )
        .unwrap();
        let c = cfg(
            dir.path(),
            "path = \"i.csv\"\nuser = \"personId\"\nitem = \"contentId\"\nevent = \"eventType\"\ndedupe = true\n[data.event_weights]\nVIEW = 1.0\nLIKE = 2.0",
        );
        let (x, rep) = load(&c).unwrap();
        assert_eq!(rep.rows_read, 4);
        assert_eq!(rep.duplicates_dropped, 1);
        let rows: Vec<(String, i64, f32)> = (0..x.len())
            .map(|r| (x.items.label(x.item[r] as usize), x.ts[r], x.weight[r]))
            .collect();
        assert_eq!(
            rows,
            vec![
                ("7".into(), 100, 1.0),
                ("7".into(), 200, 2.0),
                ("8".into(), 150, 1.0)
            ]
        );
        assert_eq!(rep.event_counts.get("VIEW"), Some(&2));
    }

    #[test]
    fn unknown_events_error_or_are_skipped_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("i.csv"),
            "user,item,timestamp,ev\n1,2,3,VIEW\n1,3,4,SHARE\n",
        )
        .unwrap();
        let base = "path = \"i.csv\"\nevent = \"ev\"\n";
        let err = load(&cfg(
            dir.path(),
            &format!("{base}[data.event_weights]\nVIEW = 1.0"),
        ))
        .unwrap_err();
        assert!(
            matches!(err, DataError::UnknownEvent { row: 2, .. }),
            "{err}"
        );
        let skip = cfg(
            dir.path(),
            &format!("{base}unknown_events = \"skip\"\n[data.event_weights]\nVIEW = 1.0"),
        );
        let (x, rep) = load(&skip).unwrap();
        assert_eq!((x.len(), rep.unknown_events_skipped), (1, 1));
    }

    #[test]
    fn filters_run_in_order_and_repeat_to_a_fixpoint() {
        let dir = tempfile::tempdir().unwrap();
        // Round 1 drops item 9 (one user), then user 3 (one row left); that leaves item 7 with
        // one user, which only a second round removes.
        std::fs::write(
            dir.path().join("i.csv"),
            "user,item,timestamp\n1,5,1\n1,6,2\n2,5,3\n2,6,4\n1,7,5\n3,7,6\n3,9,7\n",
        )
        .unwrap();
        let c = |extra: &str| {
            cfg(
                dir.path(),
                &format!(
                    "path = \"i.csv\"\n[filter]\nmin_item_users = 2\nmin_user_interactions = 2\n{extra}"
                ),
            )
        };
        let (x, rep) = load(&c("")).unwrap();
        assert_eq!(x.len(), 5);
        assert_eq!(
            rep.filters
                .iter()
                .map(|f| f.rows_removed)
                .collect::<Vec<_>>(),
            vec![1, 1]
        );
        let (x, _) = load(&c("repeat = true")).unwrap();
        assert_eq!(x.len(), 4);
    }
}
