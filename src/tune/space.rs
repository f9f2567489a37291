//! `[tune.space]`: parse the search space, check every key against the config it overrides,
//! and enumerate the trials (a grid, or seeded random draws).

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{self, ConfigError, RunConfig, TuneMethod};

/// The models `tune.model` may name, each with the config table its keys live in.
pub const MODELS: [&str; 5] = ["als", "ncf", "deepfm", "dcnv2", "popularity"];

/// Whether the config enables the model `name` (one of [`MODELS`]).
pub fn model_enabled(cfg: &RunConfig, name: &str) -> bool {
    let r = &cfg.raw;
    match name {
        "als" => r.als.as_ref().is_some_and(|a| a.enabled),
        "ncf" => r.ncf.as_ref().is_some_and(|n| n.enabled),
        "deepfm" => r.deepfm.as_ref().is_some_and(|n| n.enabled),
        "dcnv2" => r.dcnv2.as_ref().is_some_and(|n| n.enabled),
        _ => r.popularity.enabled,
    }
}

/// What one key ranges over.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// These values, in order.
    List(Vec<toml::Value>),
    /// exp(uniform(ln lo, ln hi)); integers when both bounds are integers.
    LogUniform { lo: f64, hi: f64, int: bool },
    /// uniform(lo, hi); integers (inclusive) when both bounds are integers.
    Uniform { lo: f64, hi: f64, int: bool },
}

/// One searched key.
#[derive(Debug, Clone, PartialEq)]
pub struct Dim {
    /// Dotted config key, e.g. `als.factors`.
    pub key: String,
    pub values: Values,
}

impl Dim {
    /// The model table the key belongs to (`als` for `als.factors`).
    pub fn model(&self) -> &str {
        self.key.split('.').next().unwrap_or_default()
    }
}

/// One trial: a model and the values of its searched keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Trial {
    pub model: String,
    pub params: Vec<(String, toml::Value)>,
}

fn space_err(key: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::TuneSpace {
        key: key.to_string(),
        message: message.into(),
    }
}

/// Parse `[tune.space]` (keys sorted, as TOML tables are).
pub fn parse(space: &toml::Table, method: TuneMethod) -> Result<Vec<Dim>, ConfigError> {
    space
        .iter()
        .map(|(key, v)| {
            let values = match v {
                toml::Value::Array(a) if a.is_empty() => {
                    return Err(space_err(key, "the list of values is empty"));
                }
                toml::Value::Array(a) => Values::List(a.clone()),
                toml::Value::Table(t) => range(key, t)?,
                other => {
                    return Err(space_err(
                        key,
                        format!(
                            "{other} is a single value; give a list of values, or {{ log_uniform = [lo, hi] }} / {{ uniform = [lo, hi] }}"
                        ),
                    ));
                }
            };
            if method == TuneMethod::Grid && !matches!(values, Values::List(_)) {
                return Err(space_err(
                    key,
                    "a range cannot be searched by a grid: list the values, or set tune.method = \"random\"",
                ));
            }
            Ok(Dim {
                key: key.clone(),
                values,
            })
        })
        .collect()
}

fn range(key: &str, t: &toml::Table) -> Result<Values, ConfigError> {
    let shape = "expected { log_uniform = [lo, hi] } or { uniform = [lo, hi] }";
    let (kind, bounds) = match t.iter().collect::<Vec<_>>().as_slice() {
        [(k, v)] if k.as_str() == "log_uniform" || k.as_str() == "uniform" => (k.as_str(), *v),
        _ => return Err(space_err(key, shape)),
    };
    let num = |v: &toml::Value| match v {
        toml::Value::Integer(i) => Some((*i as f64, true)),
        toml::Value::Float(f) if f.is_finite() => Some((*f, false)),
        _ => None,
    };
    let (lo, hi, int) = match bounds.as_array().map(Vec::as_slice) {
        Some([a, b]) => match (num(a), num(b)) {
            (Some((lo, ia)), Some((hi, ib))) => (lo, hi, ia && ib),
            _ => {
                return Err(space_err(
                    key,
                    format!("{kind}: the bounds must be numbers"),
                ));
            }
        },
        _ => return Err(space_err(key, format!("{kind}: {shape}"))),
    };
    if lo >= hi {
        return Err(space_err(
            key,
            format!("{kind} = [{lo}, {hi}]: low must be < high"),
        ));
    }
    if kind == "log_uniform" {
        if lo <= 0.0 {
            return Err(space_err(
                key,
                format!("log_uniform = [{lo}, {hi}]: the bounds must be > 0"),
            ));
        }
        Ok(Values::LogUniform { lo, hi, int })
    } else {
        Ok(Values::Uniform { lo, hi, int })
    }
}

/// The trials of `models` (in that order): per model, the grid of its keys' values (first key
/// slowest), or `draws` seeded random draws. A model without keys gets one trial.
pub fn trials(
    dims: &[Dim],
    models: &[String],
    method: TuneMethod,
    draws: usize,
    seed: u64,
) -> Vec<Trial> {
    let mut out = Vec::new();
    for (m, model) in models.iter().enumerate() {
        let mine: Vec<&Dim> = dims.iter().filter(|d| d.model() == model).collect();
        match method {
            TuneMethod::Grid => {
                let mut points: Vec<Vec<(String, toml::Value)>> = vec![vec![]];
                for d in &mine {
                    let Values::List(values) = &d.values else {
                        continue; // rejected by `parse`
                    };
                    points = points
                        .into_iter()
                        .flat_map(|p| {
                            values.iter().map(move |v| {
                                let mut q = p.clone();
                                q.push((d.key.clone(), v.clone()));
                                q
                            })
                        })
                        .collect();
                }
                out.extend(points.into_iter().map(|params| Trial {
                    model: model.clone(),
                    params,
                }));
            }
            TuneMethod::Random => {
                let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7475_6E65);
                rng.set_stream(m as u64);
                let n = if mine.is_empty() { 1 } else { draws };
                for _ in 0..n {
                    let params = mine
                        .iter()
                        .map(|d| (d.key.clone(), draw(&d.values, &mut rng)))
                        .collect();
                    out.push(Trial {
                        model: model.clone(),
                        params,
                    });
                }
            }
        }
    }
    out
}

/// One random value of a key. Real draws are rounded to 4 significant digits so that
/// tuning.csv and best.toml stay readable.
fn draw(v: &Values, rng: &mut ChaCha8Rng) -> toml::Value {
    let real = |x: f64, int: bool| {
        if int {
            toml::Value::Integer(x.round() as i64)
        } else {
            toml::Value::Float(round_sig(x, 4))
        }
    };
    match v {
        Values::List(values) => values[rng.random_range(0..values.len())].clone(),
        Values::Uniform { lo, hi, int: true } => {
            toml::Value::Integer(rng.random_range(*lo as i64..=*hi as i64))
        }
        Values::Uniform { lo, hi, int } => real(rng.random_range(*lo..*hi), *int),
        Values::LogUniform { lo, hi, int } => {
            let x = rng.random_range(lo.ln()..hi.ln()).exp();
            real(x.clamp(*lo, *hi), *int)
        }
    }
}

fn round_sig(x: f64, digits: i32) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

/// The config tree of one trial: `base` with the trial's values set and every model but the
/// trial's disabled.
pub fn trial_tree(
    base: &toml::Table,
    model: &str,
    params: &[(String, toml::Value)],
) -> toml::Table {
    let mut tree = base.clone();
    for m in MODELS {
        if m != model && (m == "popularity" || tree.contains_key(m)) {
            let _ = config::set_key(&mut tree, &[m, "enabled"], toml::Value::Boolean(false));
        }
    }
    for (key, v) in params {
        let parts: Vec<&str> = key.split('.').collect();
        let _ = config::set_key(&mut tree, &parts, v.clone());
    }
    tree
}

/// Check every key of the space against the config: it must belong to a tuned, enabled model
/// (not `enabled` itself), and each listed value (each bound of a range) must give a valid
/// config. Errors name the key.
pub fn check(
    dims: &[Dim],
    models: &[String],
    cfg: &RunConfig,
    base: &toml::Table,
    origin: &Path,
) -> Result<(), ConfigError> {
    for d in dims {
        let model = d.model();
        let parts: Vec<&str> = d.key.split('.').collect();
        if parts.len() < 2 || !MODELS.contains(&model) {
            return Err(space_err(
                &d.key,
                "not a model key: the data, filters, split and evaluation are prepared once for all trials; search keys of [als], [ncf], [deepfm] or [dcnv2], e.g. \"als.factors\"",
            ));
        }
        if parts.last() == Some(&"enabled") {
            return Err(space_err(
                &d.key,
                "`enabled` cannot be searched; list the models in tune.model",
            ));
        }
        let enabled = model_enabled(cfg, model);
        if !enabled {
            return Err(space_err(
                &d.key,
                format!("a key of [{model}], which is not enabled in this config"),
            ));
        }
        if !models.iter().any(|m| m == model) {
            return Err(space_err(
                &d.key,
                format!(
                    "a key of [{model}], which tune.model does not tune; add it: model = [{}]",
                    models
                        .iter()
                        .map(String::as_str)
                        .chain([model])
                        .map(|m| format!("{m:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let probes: Vec<toml::Value> = match &d.values {
            Values::List(v) => v.clone(),
            Values::LogUniform { lo, hi, int } | Values::Uniform { lo, hi, int } => {
                let as_value = |x: f64| {
                    if *int {
                        toml::Value::Integer(x as i64)
                    } else {
                        toml::Value::Float(x)
                    }
                };
                vec![as_value(*lo), as_value(*hi)]
            }
        };
        for v in probes {
            let tree = trial_tree(base, model, &[(d.key.clone(), v.clone())]);
            config::from_tree(tree, origin, cfg.base_dir.clone())
                .map_err(|e| space_err(&d.key, format!("value {v}: {e}")))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        toml::from_str(text).expect("toml")
    }

    #[test]
    fn a_2x2_grid_has_4_trials_first_key_slowest() {
        let dims = parse(
            &table("\"als.factors\" = [8, 16]\n\"als.alpha\" = [1.0, 5.0]"),
            TuneMethod::Grid,
        )
        .expect("valid");
        let t = trials(&dims, &["als".into()], TuneMethod::Grid, 0, 1);
        assert_eq!(t.len(), 4);
        // Keys are sorted: als.alpha, then als.factors.
        let shown: Vec<String> = t
            .iter()
            .map(|t| {
                t.params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect();
        assert_eq!(
            shown,
            [
                "als.alpha=1.0 als.factors=8",
                "als.alpha=1.0 als.factors=16",
                "als.alpha=5.0 als.factors=8",
                "als.alpha=5.0 als.factors=16"
            ]
        );
    }

    #[test]
    fn random_draws_are_seeded_in_range_and_typed() {
        let dims = parse(
            &table(
                "\"als.regularization\" = { log_uniform = [0.01, 300.0] }\n\"als.factors\" = { log_uniform = [16, 256] }\n\"als.alpha\" = { uniform = [1, 3] }",
            ),
            TuneMethod::Random,
        )
        .expect("valid");
        let a = trials(&dims, &["als".into()], TuneMethod::Random, 50, 7);
        assert_eq!(a, trials(&dims, &["als".into()], TuneMethod::Random, 50, 7));
        assert_ne!(a, trials(&dims, &["als".into()], TuneMethod::Random, 50, 8));
        assert_eq!(a.len(), 50);
        for t in &a {
            for (k, v) in &t.params {
                match k.as_str() {
                    "als.regularization" => {
                        let x = v.as_float().expect("float");
                        assert!((0.01..=300.0).contains(&x), "{x}");
                    }
                    "als.factors" => {
                        let x = v.as_integer().expect("integer");
                        assert!((16..=256).contains(&x), "{x}");
                    }
                    _ => {
                        let x = v.as_integer().expect("integer");
                        assert!((1..=3).contains(&x), "{x}");
                    }
                }
            }
        }
        // Log-uniform: about half the draws below the geometric mean (√(0.01·300) ≈ 1.73).
        let below = a
            .iter()
            .filter(|t| t.params[2].1.as_float().is_some_and(|x| x < 1.732))
            .count();
        assert!((15..=35).contains(&below), "{below}");
    }

    #[test]
    fn bad_ranges_name_the_key() {
        let bad = |text: &str, method| match parse(&table(text), method) {
            Err(ConfigError::TuneSpace { key, message }) => (key, message),
            other => panic!("{other:?}"),
        };
        let (k, m) = bad("\"als.factors\" = []", TuneMethod::Grid);
        assert_eq!(k, "als.factors");
        assert!(m.contains("empty"), "{m}");
        let (_, m) = bad(
            "\"als.alpha\" = { uniform = [5.0, 5.0] }",
            TuneMethod::Random,
        );
        assert!(m.contains("low must be < high"), "{m}");
        let (_, m) = bad(
            "\"als.alpha\" = { log_uniform = [0.0, 5.0] }",
            TuneMethod::Random,
        );
        assert!(m.contains("> 0"), "{m}");
        let (_, m) = bad("\"als.alpha\" = { normal = [1, 2] }", TuneMethod::Random);
        assert!(m.contains("log_uniform"), "{m}");
        let (_, m) = bad("\"als.alpha\" = 3.0", TuneMethod::Grid);
        assert!(m.contains("single value"), "{m}");
        let (_, m) = bad("\"als.alpha\" = { uniform = [1.0, 5.0] }", TuneMethod::Grid);
        assert!(m.contains("grid"), "{m}");
    }

    #[test]
    fn rounding_keeps_four_significant_digits() {
        assert_eq!(round_sig(123.456_789, 4), 123.5);
        assert_eq!(round_sig(0.012_345_6, 4), 0.01235);
    }
}
