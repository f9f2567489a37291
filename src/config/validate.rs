//! [`validate`]: every rule a config must obey, checked before any work starts.

use std::collections::HashSet;
use std::path::PathBuf;

use super::{ConfigError, RawConfig, RunConfig};

fn invalid(key: &str, value: impl std::fmt::Display, rule: &'static str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        value: value.to_string(),
        rule,
    }
}

fn check(
    ok: bool,
    key: &str,
    value: impl std::fmt::Display,
    rule: &'static str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(key, value, rule))
    }
}

/// A half-life in days: absent, `inf` (no decay) or a number > 0.
fn check_half_life(key: &str, h: Option<f64>) -> Result<(), ConfigError> {
    match h {
        Some(h) => check(
            h > 0.0,
            key,
            h,
            "must be a number of days > 0 (inf or absent: no decay)",
        ),
        None => Ok(()),
    }
}

fn check_names(key: &str, names: &[String]) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for n in names {
        check(
            !n.trim().is_empty(),
            key,
            format!("{names:?}"),
            "entries must be non-empty column names",
        )?;
        if !seen.insert(n.as_str()) {
            return Err(ConfigError::Duplicate {
                key: key.to_string(),
                name: n.clone(),
            });
        }
    }
    Ok(())
}

fn check_delimiter(key: &str, d: &Option<String>) -> Result<(), ConfigError> {
    if let Some(d) = d {
        let ok = d.len() == 1 || d == "\\t";
        check(
            ok,
            key,
            format!("{d:?}"),
            "must be one ASCII character (\"\\t\" for tab)",
        )?;
    }
    Ok(())
}

fn check_table(prefix: &str, t: &super::RawTable) -> Result<(), ConfigError> {
    check(
        !t.key.trim().is_empty(),
        &format!("{prefix}.key"),
        "\"\"",
        "must name the id column",
    )?;
    check_delimiter(&format!("{prefix}.delimiter"), &t.delimiter)?;
    check_names(&format!("{prefix}.features"), &t.features)?;
    check_names(&format!("{prefix}.categorical"), &t.categorical)?;
    if let Some(c) = &t.columns {
        check_names(&format!("{prefix}.columns"), c)?;
    }
    Ok(())
}

/// Check every rule and resolve paths: a [`RawConfig`] becomes a [`RunConfig`].
pub fn validate(raw: RawConfig, base_dir: PathBuf) -> Result<RunConfig, ConfigError> {
    let name_ok = !raw.name.is_empty()
        && raw
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        && !raw.name.starts_with('.');
    check(
        name_ok,
        "name",
        format!("{:?}", raw.name),
        "must be non-empty, letters, digits, - _ . only",
    )?;

    let d = &raw.data;
    let sp = &raw.split;
    let files = sp.method == super::SplitMethod::Files;
    let shown = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| format!("{:?}", p.display().to_string()))
            .unwrap_or_else(|| "(unset)".into())
    };
    for (key, p) in [
        ("split.train_path", &sp.train_path),
        ("split.test_path", &sp.test_path),
    ] {
        let rule = if files {
            "is required with split.method = \"files\""
        } else {
            "is only read with split.method = \"files\""
        };
        check(p.is_some() == files, key, shown(p), rule)?;
    }
    check(
        files || sp.valid_path.is_none(),
        "split.valid_path",
        shown(&sp.valid_path),
        "is only read with split.method = \"files\"",
    )?;
    if files {
        check(
            d.path.is_none() && d.synthetic.is_none(),
            "data.path",
            d.path
                .as_ref()
                .map(|_| shown(&d.path))
                .unwrap_or_else(|| "[data.synthetic]".into()),
            "must be unset with split.method = \"files\": the rows come from split.train_path and split.test_path",
        )?;
    } else if d.path.is_some() == d.synthetic.is_some() {
        return Err(ConfigError::DataSource);
    }
    if let Some(s) = &d.synthetic {
        check(
            s.users > 0,
            "data.synthetic.users",
            s.users,
            "must be at least 1",
        )?;
        check(
            s.items > 0,
            "data.synthetic.items",
            s.items,
            "must be at least 1",
        )?;
        check(
            s.rows > 0,
            "data.synthetic.rows",
            s.rows,
            "must be at least 1",
        )?;
        check(
            s.days > 0,
            "data.synthetic.days",
            s.days,
            "must be at least 1",
        )?;
        check(
            s.fields <= crate::synth::MAX_FIELDS,
            "data.synthetic.fields",
            s.fields,
            "the generator has 10 categorical fields (os, channel, country, city, tag, app, site, device_model, album, query)",
        )?;
        check(
            s.fields == 0 || s.kind == super::SynthKindName::Ctr,
            "data.synthetic.fields",
            s.fields,
            "only a `ctr` log has categorical fields",
        )?;
    }
    check_delimiter("data.delimiter", &d.delimiter)?;
    if let Some(c) = &d.columns {
        check_names("data.columns", c)?;
    }
    for (key, v) in [
        ("data.user", &d.user),
        ("data.item", &d.item),
        ("data.timestamp", &d.timestamp_column().to_string()),
    ] {
        check(!v.trim().is_empty(), key, "\"\"", "must name a column")?;
    }
    check_names("data.features", &d.features)?;
    check_names("data.categorical", &d.categorical)?;
    check_names("data.sequence", &d.sequence)?;
    check_fields(&raw)?;
    if d.event_weights.is_some() && d.event.is_none() {
        return Err(ConfigError::EventWeightsWithoutEvent);
    }
    for (ev, w) in d.event_weights.iter().flatten() {
        check(
            w.is_finite() && *w >= 0.0,
            &format!("data.event_weights.{ev}"),
            w,
            "must be a finite weight >= 0",
        )?;
    }
    if let Some(t) = &d.user_table {
        check_table("data.user_table", t)?;
    }
    if let Some(t) = &d.item_table {
        check_table("data.item_table", t)?;
    }

    let f = &raw.filter;
    for (key, v) in [
        ("filter.min_user_interactions", f.min_user_interactions),
        ("filter.min_item_interactions", f.min_item_interactions),
        ("filter.max_item_interactions", f.max_item_interactions),
    ] {
        if let Some(v) = v {
            check(
                v.is_finite() && v >= 0.0,
                key,
                v,
                "must be a finite count >= 0",
            )?;
        }
    }
    if let (Some(lo), Some(hi)) = (f.min_item_interactions, f.max_item_interactions) {
        check(
            lo <= hi,
            "filter.max_item_interactions",
            hi,
            "must be >= filter.min_item_interactions",
        )?;
    }

    let s = &raw.split;
    check(s.days >= 1, "split.days", s.days, "must be at least 1")?;
    let tf = s.test_fraction;
    check(
        tf > 0.0 && tf < 1.0,
        "split.test_fraction",
        tf,
        "must be in (0, 1)",
    )?;

    let e = &raw.eval;
    check(
        !e.k.is_empty(),
        "eval.k",
        "[]",
        "needs at least one cutoff, e.g. k = [10, 20]",
    )?;
    check(
        e.k.iter().all(|&k| k >= 1),
        "eval.k",
        format!("{:?}", e.k),
        "every cutoff must be at least 1",
    )?;
    check(
        e.k.iter().collect::<HashSet<_>>().len() == e.k.len(),
        "eval.k",
        format!("{:?}", e.k),
        "lists a cutoff twice",
    )?;
    let w = e.cutoff_weight;
    check(
        (0.0..=1.0).contains(&w),
        "eval.cutoff_weight",
        w,
        "must be in [0, 1]",
    )?;
    check(
        e.sampled_negatives >= 1,
        "eval.sampled_negatives",
        e.sampled_negatives,
        "must be at least 1",
    )?;

    if e.candidates.is_some() {
        check(
            raw.data.label.is_none(),
            "eval.candidates",
            format!(
                "{:?}",
                e.candidates
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            "fixed candidate lists apply to implicit logs (unset data.label) in the sampled protocol",
        )?;
        check(
            e.ranking != super::RankingMode::Impressions,
            "eval.candidates",
            format!(
                "{:?}",
                e.candidates
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            "the sampled protocol does not run with eval.ranking = \"impressions\"",
        )?;
    }

    if let Some(n) = &raw.ncf {
        check(
            n.embedding_dim >= 1,
            "ncf.embedding_dim",
            n.embedding_dim,
            "must be at least 1",
        )?;
        check(
            n.hidden.iter().all(|&h| h >= 1),
            "ncf.hidden",
            format!("{:?}", n.hidden),
            "every layer width must be at least 1",
        )?;
        check(
            (0.0..1.0).contains(&n.dropout),
            "ncf.dropout",
            n.dropout,
            "must be in [0, 1)",
        )?;
        check(n.epochs >= 1, "ncf.epochs", n.epochs, "must be at least 1")?;
        check(
            n.lr_base_batch >= 1,
            "ncf.lr_base_batch",
            n.lr_base_batch,
            "must be at least 1",
        )?;
        check(
            n.batch_size >= 1,
            "ncf.batch_size",
            n.batch_size,
            "must be at least 1",
        )?;
        let lr = n.learning_rate;
        check(
            lr.is_finite() && lr > 0.0,
            "ncf.learning_rate",
            lr,
            "must be > 0",
        )?;
        let wd = n.weight_decay;
        check(
            wd.is_finite() && wd >= 0.0,
            "ncf.weight_decay",
            wd,
            "must be >= 0",
        )?;
        let pw = n.pos_weight;
        check(
            pw.is_finite() && pw > 0.0,
            "ncf.pos_weight",
            pw,
            "must be > 0",
        )?;
        check(
            n.negatives >= 1,
            "ncf.negatives",
            n.negatives,
            "must be at least 1",
        )?;
        let sd = n.init_std;
        check(
            sd.is_finite() && sd > 0.0,
            "ncf.init_std",
            sd,
            "must be > 0",
        )?;
        if let Some(p) = n.early_stopping {
            check(
                p >= 1,
                "ncf.early_stopping",
                p,
                "patience must be at least 1 epoch",
            )?;
        }
    }
    if let Some(n) = raw
        .ncf
        .as_ref()
        .filter(|n| n.enabled && super::over_fields(&raw))
    {
        // NCF over fields runs on the CTR trainer, which has no positive weight, popularity
        // feature or last-epoch choice, and scores impressions only.
        let why = "is not available to [ncf] over categorical fields (a click log with [data] categorical or sequence columns trains NCF on the CTR trainer)";
        check(n.pos_weight == 1.0, "ncf.pos_weight", n.pos_weight, why)?;
        check(!n.item_popularity, "ncf.item_popularity", true, why)?;
        check(
            n.keep_best != Some(false),
            "ncf.keep_best",
            false,
            "must stay on with [ncf] over categorical fields: the CTR trainer always keeps the epoch with the best validation AUC",
        )?;
        let ranking = raw.eval.ranking;
        check(
            matches!(
                ranking,
                super::RankingMode::Auto | super::RankingMode::Impressions
            ),
            "eval.ranking",
            format!("{ranking:?}").to_lowercase(),
            "must be \"impressions\" (or auto) with [ncf] over categorical fields: they are per impression, so it ranks a user's impressions, not every item",
        )?;
    }
    if let Some(n) = raw
        .ncf
        .as_ref()
        .filter(|n| n.enabled && !super::over_fields(&raw))
    {
        check(
            n.tables != super::TablePlacement::Device,
            "ncf.tables",
            "device",
            "is implemented for the CTR trainer ([deepfm], [dcnv2], [ncf] over categorical fields); the seed NCF keeps its tables on the host",
        )?;
        check(
            n.calibration != Some(super::CalibrationMethod::Platt),
            "ncf.calibration",
            "platt",
            "is implemented for the CTR trainer ([deepfm], [dcnv2], [ncf] over categorical fields); the seed NCF outputs its own sigmoid",
        )?;
    }
    for (table, c) in [("deepfm", &raw.deepfm), ("dcnv2", &raw.dcnv2)] {
        if let Some(c) = c {
            check_ctr(table, c, raw.data.label.is_some())?;
            let ranking = raw.eval.ranking;
            check(
                !c.enabled
                    || matches!(
                        ranking,
                        super::RankingMode::Auto | super::RankingMode::Impressions
                    ),
                "eval.ranking",
                format!("{ranking:?}").to_lowercase(),
                "must be \"impressions\" (or auto) with [deepfm] / [dcnv2]: their fields are per impression, so they rank a user's impressions, not every item",
            )?;
        }
    }
    if let Some(a) = &raw.als {
        check(
            a.factors >= 1,
            "als.factors",
            a.factors,
            "must be at least 1",
        )?;
        let r = a.regularization;
        check(
            r.is_finite() && r >= 0.0,
            "als.regularization",
            r,
            "must be >= 0",
        )?;
        check(
            a.alpha.is_finite() && a.alpha > 0.0,
            "als.alpha",
            a.alpha,
            "must be > 0",
        )?;
        check(
            a.iterations >= 1,
            "als.iterations",
            a.iterations,
            "must be at least 1",
        )?;
        check(
            a.cg_steps >= 1,
            "als.cg_steps",
            a.cg_steps,
            "must be at least 1",
        )?;
        let w0 = a.unobserved_weight;
        check(
            w0.is_finite() && w0 > 0.0,
            "als.unobserved_weight",
            w0,
            "must be > 0",
        )?;
        if let Some(sd) = a.init_std {
            check(
                sd.is_finite() && sd > 0.0,
                "als.init_std",
                sd,
                "must be > 0",
            )?;
        }
        check_half_life("als.half_life_days", a.half_life_days)?;
        check(
            a.checkpoint_seconds.is_finite() && a.checkpoint_seconds >= 0.0,
            "als.checkpoint_seconds",
            a.checkpoint_seconds,
            "must be a finite number of seconds >= 0",
        )?;
    }

    if let Some(t) = &raw.tune {
        super::raw_tune::check(t)?;
    }

    check_half_life("popularity.half_life_days", raw.popularity.half_life_days)?;

    let any_model = raw.popularity.enabled
        || raw.ncf.as_ref().is_some_and(|n| n.enabled)
        || raw.deepfm.as_ref().is_some_and(|n| n.enabled)
        || raw.dcnv2.as_ref().is_some_and(|n| n.enabled)
        || raw.als.as_ref().is_some_and(|a| a.enabled);
    if !any_model {
        return Err(ConfigError::NoModels);
    }

    let output_dir = raw
        .output
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("artifacts").join(&raw.name));
    Ok(RunConfig {
        raw,
        base_dir,
        output_dir,
    })
}

/// The field keys of `[data]`: separator, `min_count`, `hash_buckets`.
fn check_fields(raw: &RawConfig) -> Result<(), ConfigError> {
    let d = &raw.data;
    check(
        d.min_count >= 1,
        "data.min_count",
        d.min_count,
        "must be at least 1 (1 keeps every level seen in train)",
    )?;
    let sep = &d.sequence_separator;
    check(
        !sep.is_empty(),
        "data.sequence_separator",
        "\"\"",
        "must be a non-empty string",
    )?;
    let delimiter = d.delimiter.as_deref().unwrap_or(",");
    check(
        d.sequence.is_empty() || sep != delimiter,
        "data.sequence_separator",
        format!("{sep:?}"),
        "must differ from the file's delimiter",
    )?;
    for (name, &n) in &d.hash_buckets {
        let key = format!("data.hash_buckets.{name}");
        check(n >= 1, &key, n, "must be at least 1 bucket")?;
        let known = *name == d.user
            || *name == d.item
            || d.categorical.contains(name)
            || d.sequence.contains(name);
        check(
            known,
            &key,
            format!("{name:?}"),
            "must name data.user, data.item or a data.categorical / data.sequence column",
        )?;
    }
    Ok(())
}

/// One `[deepfm]` / `[dcnv2]` table.
fn check_ctr(table: &str, c: &super::RawCtr, ctr_log: bool) -> Result<(), ConfigError> {
    let key = |k: &str| format!("{table}.{k}");
    check(
        ctr_log || !c.enabled,
        &key("enabled"),
        c.enabled,
        "needs a click label (data.label): the CTR models train on labelled impressions",
    )?;
    check(
        c.embedding_dim >= 1,
        &key("embedding_dim"),
        c.embedding_dim,
        "must be at least 1",
    )?;
    check(
        c.hidden.iter().all(|&h| h >= 1),
        &key("hidden"),
        format!("{:?}", c.hidden),
        "every layer width must be at least 1",
    )?;
    check(
        c.dropout.is_finite() && (0.0..1.0).contains(&c.dropout),
        &key("dropout"),
        c.dropout,
        "must be in [0, 1)",
    )?;
    for (k, v) in [
        ("embedding_l2", c.embedding_l2),
        ("weight_decay", c.weight_decay),
    ] {
        check(v.is_finite() && v >= 0.0, &key(k), v, "must be >= 0")?;
    }
    check(
        c.lr_base_batch >= 1,
        &key("lr_base_batch"),
        c.lr_base_batch,
        "must be at least 1",
    )?;
    let lr = c.learning_rate;
    check(
        lr.is_finite() && lr > 0.0,
        &key("learning_rate"),
        lr,
        "must be > 0",
    )?;
    check(
        c.batch_size >= 1,
        &key("batch_size"),
        c.batch_size,
        "must be at least 1",
    )?;
    check(
        c.epochs >= 1,
        &key("epochs"),
        c.epochs,
        "must be at least 1",
    )?;
    let sd = c.init_std;
    check(
        sd.is_finite() && sd > 0.0,
        &key("init_std"),
        sd,
        "must be > 0",
    )?;
    match (table, c.cross_layers) {
        ("dcnv2", Some(n)) => check(n >= 1, &key("cross_layers"), n, "must be at least 1")?,
        ("dcnv2", None) => {}
        (_, Some(n)) => check(
            false,
            &key("cross_layers"),
            n,
            "is a [dcnv2] key; DeepFM has no cross network",
        )?,
        _ => {}
    }
    Ok(())
}
