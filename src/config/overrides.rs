//! `--set key=value`: dotted keys into the TOML tree; values parse as TOML, else as a string.
//! Keys follow TOML's dotted-key syntax, so a quoted segment may hold dots:
//! `--set 'tune.space."als.factors"=[64, 128]'`.

use super::ConfigError;

/// The tables that switch a model on by their presence: an override may not create one
/// silently (only `<model>.enabled`).
pub const MODEL_TABLES: [&str; 4] = ["ncf", "als", "deepfm", "dcnv2"];

/// The error of an override after which the config no longer types (`typing` is that
/// error, `file` the config as typed before it): names the override and shows the form of the
/// key's current value, e.g. `--set 'ncf.hidden=[32, 16]'`.
pub fn blame(arg: &str, typing: &toml::de::Error, file: Option<&toml::Value>) -> ConfigError {
    let message = match ConfigError::from_toml(std::path::Path::new(""), typing) {
        ConfigError::UnknownKey {
            key,
            suggestion,
            allowed,
            ..
        } => format!(
            "unknown key `{key}`{}; allowed here: {allowed}",
            suggestion
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default()
        ),
        other => other
            .to_string()
            .trim_start_matches(": ")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    };
    let Some((key, value)) = split_key_value(arg) else {
        return ConfigError::Override {
            arg: arg.to_string(),
            message,
            hint: String::new(),
        };
    };
    let (key, value) = (key.trim(), value.trim());
    let current = key_parts(key).and_then(|parts| {
        let mut v = file?;
        for p in &parts {
            v = v.as_table()?.get(p)?;
        }
        Some(v.clone())
    });
    let read_as_text =
        matches!(parse_value(value), toml::Value::String(_)) && !value.starts_with(['"', '\'']);
    let hint = if read_as_text && value.contains(',') {
        let items: Vec<&str> = value.split(',').map(str::trim).collect();
        format!(
            " (`{value}` is not a TOML value and was read as text; a list needs brackets: --set '{key}=[{}]')",
            items.join(", ")
        )
    } else if let Some(v) = current {
        format!(
            " (expected a value like the current one: --set '{key}={}')",
            v.to_string().trim()
        )
    } else if read_as_text {
        format!(
            " (`{value}` was read as text; numbers go as is (--set ncf.epochs=5), lists in brackets (--set 'ncf.hidden=[32, 16]'))"
        )
    } else {
        String::new()
    };
    ConfigError::Override {
        arg: arg.to_string(),
        message,
        hint,
    }
}

/// Apply one `a.b.c=value` override to the tree.
pub fn apply(tree: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::BadOverride {
        arg: arg.to_string(),
    };
    let (key, value) = split_key_value(arg).ok_or_else(bad)?;
    let parts = key_parts(key).ok_or_else(bad)?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    if let [model, rest, ..] = parts[..]
        && MODEL_TABLES.contains(&model)
        && !tree.contains_key(model)
        && rest != "enabled"
    {
        return Err(ConfigError::OverrideDisabledModel {
            arg: arg.to_string(),
            model: model.to_string(),
        });
    }
    set(tree, &parts, parse_value(value.trim())).map_err(|key| ConfigError::OverrideNotTable {
        arg: arg.to_string(),
        key,
    })
}

/// Splits `key=value` at the first `=` outside a quoted key segment.
fn split_key_value(arg: &str) -> Option<(&str, &str)> {
    let mut quote = None;
    for (i, ch) in arg.char_indices() {
        match (quote, ch) {
            (None, '"' | '\'') => quote = Some(ch),
            (Some(q), c) if c == q => quote = None,
            (None, '=') => return Some((&arg[..i], &arg[i + 1..])),
            _ => {}
        }
    }
    None
}

/// The segments of a dotted key: parsed as a TOML key (quoted segments keep their dots), or,
/// when it is not valid TOML (e.g. an event name with a space), split at every dot. `None` when a
/// segment is empty.
fn key_parts(key: &str) -> Option<Vec<String>> {
    let key = key.trim();
    if let Ok(doc) = toml::from_str::<toml::Table>(&format!("{key} = 0")) {
        // One key per table down to the leaf `0`.
        let (k, mut v) = doc.iter().next()?;
        let mut parts = vec![k.clone()];
        while let toml::Value::Table(t) = v {
            let (k, next) = t.iter().next()?;
            parts.push(k.clone());
            v = next;
        }
        return Some(parts);
    }
    let parts: Vec<String> = key.split('.').map(|p| p.trim().to_string()).collect();
    (!parts.iter().any(String::is_empty)).then_some(parts)
}

/// Set the dotted key `parts` to `value`, creating tables on the way. Errors with the dotted
/// prefix that is a value, not a table.
pub fn set(tree: &mut toml::Table, parts: &[&str], value: toml::Value) -> Result<(), String> {
    let Some((last, path)) = parts.split_last() else {
        return Err(String::new());
    };
    let mut table = tree;
    for (depth, part) in path.iter().enumerate() {
        let entry = table
            .entry(part.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| parts[..=depth].join("."))?;
    }
    table.insert(last.to_string(), value);
    Ok(())
}

/// `3` → integer, `[32, 16]` → array, `true` → bool, `inf` → float, `abc` → the string "abc".
pub fn parse_value(text: &str) -> toml::Value {
    let doc = format!("v = {text}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_nested_keys_with_typed_values() {
        let mut t: toml::Table = toml::from_str("name = 'a'\n[eval]\nk = 10\n[ncf]\n").unwrap();
        apply(&mut t, "eval.k=5").unwrap();
        apply(&mut t, "ncf.hidden=[64, 32]").unwrap();
        apply(&mut t, "data.path=clicks.csv").unwrap();
        assert_eq!(t["eval"]["k"].as_integer(), Some(5));
        assert_eq!(t["ncf"]["hidden"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(t["data"]["path"].as_str(), Some("clicks.csv"));
    }

    #[test]
    fn quoted_segments_keep_their_dots() {
        let mut t: toml::Table = toml::from_str("[tune.space]\n\"als.factors\" = [64]\n").unwrap();
        apply(&mut t, "tune.space.\"als.factors\"=[64, 128]").unwrap();
        apply(&mut t, "tune.space.'als.alpha'=[1.0]").unwrap();
        let space = t["tune"]["space"].as_table().unwrap();
        assert_eq!(space["als.factors"].as_array().map(|a| a.len()), Some(2));
        assert_eq!(space["als.alpha"].as_array().map(|a| a.len()), Some(1));
        assert_eq!(space.len(), 2, "{space:?}");
        // A key TOML cannot parse (a space in an event name) still splits at its dots.
        apply(&mut t, "data.event_weights.COMMENT CREATED=5.0").unwrap();
        assert_eq!(
            t["data"]["event_weights"]["COMMENT CREATED"].as_float(),
            Some(5.0)
        );
    }

    #[test]
    fn an_override_may_not_switch_a_model_on_silently() {
        let mut t: toml::Table = toml::from_str("name = 'a'\n[ncf]\n").unwrap();
        apply(&mut t, "ncf.epochs=3").unwrap();
        let e = apply(&mut t, "als.factors=16").expect_err("refused");
        assert!(
            matches!(e, ConfigError::OverrideDisabledModel { ref model, .. } if model == "als")
        );
        assert!(!t.contains_key("als"));
        apply(&mut t, "als.enabled=true").unwrap();
        apply(&mut t, "als.factors=16").unwrap();
        assert_eq!(t["als"]["factors"].as_integer(), Some(16));
    }

    #[test]
    fn rejects_malformed_overrides() {
        let mut t: toml::Table = toml::from_str("name = 'a'\n").unwrap();
        assert!(matches!(
            apply(&mut t, "novalue"),
            Err(ConfigError::BadOverride { .. })
        ));
        assert!(matches!(
            apply(&mut t, "a..b=1"),
            Err(ConfigError::BadOverride { .. })
        ));
        assert!(matches!(
            apply(&mut t, "name.x=1"),
            Err(ConfigError::OverrideNotTable { .. })
        ));
    }
}
