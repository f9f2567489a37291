//! Run directories that appear complete or not at all: everything is written into a hidden
//! temp dir next to the target and renamed into place when the run succeeds. A failed or
//! interrupted run leaves no half-written `artifacts/<name>/`.

use std::path::{Path, PathBuf};

/// Errors creating or publishing a run directory.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{}: the output directory already exists; pass --force to replace it, or change `name` / [output].dir", path.display())]
    Exists { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RunDirError + '_ {
    move |source| RunDirError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A run directory being written.
#[derive(Debug)]
pub struct RunDir {
    target: PathBuf,
    tmp: PathBuf,
    force: bool,
    done: bool,
}

fn sibling(target: &Path, tag: &str) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    target.with_file_name(format!(".{name}.{tag}-{}", std::process::id()))
}

impl RunDir {
    /// Start writing `target`; refuses an existing target unless `force`.
    pub fn create(target: &Path, force: bool) -> Result<RunDir, RunDirError> {
        if target.exists() && !force {
            return Err(RunDirError::Exists {
                path: target.to_path_buf(),
            });
        }
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(io(parent))?;
        remove_stale(target);
        let tmp = sibling(target, "tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
        }
        std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
        Ok(RunDir {
            target: target.to_path_buf(),
            tmp,
            force,
            done: false,
        })
    }

    /// The folder to write into (the temp dir).
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The final location.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Publish: rename the temp dir to the target (replacing it when forced).
    pub fn commit(mut self) -> Result<PathBuf, RunDirError> {
        if self.target.exists() {
            if !self.force {
                return Err(RunDirError::Exists {
                    path: self.target.clone(),
                });
            }
            let old = sibling(&self.target, "old");
            std::fs::rename(&self.target, &old).map_err(io(&self.target))?;
            std::fs::rename(&self.tmp, &self.target).map_err(io(&self.target))?;
            let _ = std::fs::remove_dir_all(&old);
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(io(&self.target))?;
        }
        self.done = true;
        Ok(self.target.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Remove temp dirs left by killed runs of the same target (their process is gone).
fn remove_stale(target: &Path) {
    let (Some(parent), Some(name)) = (target.parent(), target.file_name()) else {
        return;
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for e in entries.flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = n.strip_prefix(&prefix) {
            let alive = Path::new("/proc").join(pid).exists();
            if !alive {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Write a file atomically (temp file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunDirError> {
    write_atomic_with(path, |tmp| std::fs::write(tmp, bytes))
}

/// Write a file atomically through `write`, which creates the temporary file it is given (in
/// the same folder) and streams into it; then rename. On failure the temporary file is removed.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), RunDirError> {
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let written = write(&tmp)
        .map_err(io(&tmp))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(io(path)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_run_leaves_nothing_and_commit_publishes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("run");
        {
            let r = RunDir::create(&target, false).unwrap();
            std::fs::write(r.path().join("a"), "x").unwrap();
        }
        assert!(!target.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let r = RunDir::create(&target, false).unwrap();
        std::fs::write(r.path().join("a"), "x").unwrap();
        r.commit().unwrap();
        assert!(target.join("a").exists());
        assert!(matches!(
            RunDir::create(&target, false),
            Err(RunDirError::Exists { .. })
        ));
        let r = RunDir::create(&target, true).unwrap();
        std::fs::write(r.path().join("b"), "y").unwrap();
        r.commit().unwrap();
        assert!(target.join("b").exists() && !target.join("a").exists());
    }
}
