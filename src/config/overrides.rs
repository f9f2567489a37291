//! `--set key=value`: dotted keys into the TOML tree; values parse as TOML, else as a string.

use super::ConfigError;

/// Apply one `a.b.c=value` override to the tree.
pub fn apply(tree: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let bad = || ConfigError::BadOverride {
        arg: arg.to_string(),
    };
    let (key, value) = arg.split_once('=').ok_or_else(bad)?;
    let parts: Vec<&str> = key.trim().split('.').map(str::trim).collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    set(tree, &parts, parse_value(value.trim())).map_err(|key| ConfigError::OverrideNotTable {
        arg: arg.to_string(),
        key,
    })
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

/// `3` → integer, `[32, 16]` → array, `true` → bool, `abc` → the string "abc".
fn parse_value(text: &str) -> toml::Value {
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
