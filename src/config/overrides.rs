//! `--set key=value`: dotted keys into the TOML tree; values parse as TOML, else as a string.
//! Keys follow TOML's dotted-key syntax, so a quoted segment may hold dots:
//! `--set 'tune.space."als.factors"=[64, 128]'`.

use super::ConfigError;

/// Apply one `a.b.c=value` override to the tree.
pub fn apply(tree: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::BadOverride {
        arg: arg.to_string(),
    };
    let (key, value) = split_key_value(arg).ok_or_else(bad)?;
    let parts = key_parts(key).ok_or_else(bad)?;
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
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
        let mut t: toml::Table = toml::from_str("name = 'a'\n[eval]\nk = 10\n").unwrap();
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
