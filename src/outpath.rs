//! Output paths checked before any work: the folder must exist, the file must not be a folder,
//! and it must not be one of the command's inputs (the user's data would be overwritten).

use std::path::Path;

use crate::error::{Error, Result};

/// Check the output `out` (given as `flag`, e.g. `-o`) against the command's `inputs`
/// (`(flag, path)` pairs). Every message names the path as the user gave it.
pub fn check(flag: &str, out: &Path, inputs: &[(&str, &Path)]) -> Result<()> {
    if out.is_dir() {
        return Err(Error::Usage(format!(
            "{flag} {}: is a folder; give a file name",
            out.display()
        )));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return Err(Error::Usage(format!(
            "{flag} {}: the folder {} does not exist; create it first (nothing was written)",
            out.display(),
            parent.display()
        )));
    }
    for (what, input) in inputs {
        if same_file(out, input) {
            return Err(Error::Usage(format!(
                "{flag} {}: is the same file as the input {what} {}; writing it would destroy the input, give another output file (nothing was written)",
                out.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Whether two paths name the same existing file (through links and relative parts). A path
/// that does not exist yet is no input.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_missing_folders_folders_and_inputs() {
        let d = tempfile::tempdir().expect("tmp");
        let input = d.path().join("in.csv");
        std::fs::write(&input, "a\n1\n").expect("write");
        let msg = |r: Result<()>| r.expect_err("refused").to_string();
        let m = msg(check("-o", &d.path().join("missing/out.csv"), &[]));
        assert!(
            m.contains("missing/out.csv") && m.contains("does not exist"),
            "{m}"
        );
        let m = msg(check("-o", d.path(), &[]));
        assert!(m.contains("is a folder"), "{m}");
        // The same file through a relative detour.
        let detour = d.path().join("x/../in.csv");
        std::fs::create_dir(d.path().join("x")).expect("mkdir");
        let m = msg(check("-o", &detour, &[("INPUT", &input)]));
        assert!(m.contains("same file as the input INPUT"), "{m}");
        assert!(check("-o", &d.path().join("out.csv"), &[("INPUT", &input)]).is_ok());
    }
}
