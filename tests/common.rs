//! Helpers for the integration tests: run the binary in a temp dir, as a user would.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// What a run of the binary gave.
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Assert a clean failure: exit code 2, the message contains every needle, no panic.
    pub fn fails_with(&self, needles: &[&str]) {
        assert_eq!(
            self.code, 2,
            "expected exit code 2\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
        for n in needles {
            assert!(
                self.stderr.contains(n),
                "stderr lacks {n:?}:\n{}",
                self.stderr
            );
        }
    }

    /// Assert success.
    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// A temp working dir with helpers to write files and run clickrec in it.
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A JSON file of the sandbox (a run's `metrics.json`, an export's `model.json`), parsed.
    pub fn json(&self, rel: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.path(rel)).expect("read json");
        serde_json::from_str(&text).expect("json")
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_threads(args, 2)
    }

    /// Run with a given rayon thread count.
    pub fn run_threads(&self, args: &[&str], threads: usize) -> Out {
        let out = Command::new(env!("CARGO_BIN_EXE_clickrec"))
            .args(args)
            .current_dir(self.dir.path())
            .env("RAYON_NUM_THREADS", threads.to_string())
            .output()
            .expect("run clickrec");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Entries of a folder (names), sorted.
    pub fn ls(&self, rel: &str) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path(rel))
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }
}

/// A small implicit log: 6 users on 3 days, 5 items.
pub const EVENTS_CSV: &str = "user,item,timestamp\n\
1,10,100\n1,11,200\n1,12,86500\n\
2,10,300\n2,12,400\n2,11,86600\n\
3,11,500\n3,13,600\n3,10,172900\n\
4,12,700\n4,13,800\n4,14,86700\n\
5,10,900\n5,14,1000\n5,12,172950\n\
6,13,1100\n6,11,1200\n";

/// A small CTR log with one numeric feature.
pub fn ctr_csv() -> String {
    let mut s = String::from("user,item,timestamp,click,level\n");
    for u in 0..20 {
        for j in 0..8 {
            let item = (u * 3 + j) % 12;
            let day = if j < 5 { 0 } else { 1 };
            let click = u8::from((u + item) % 3 == 0);
            s.push_str(&format!(
                "{u},{item},{},{click},{}\n",
                day * 86_400 + j * 10 + u,
                u % 5
            ));
        }
    }
    s
}

/// A config for `data` (path relative to the config), with extra TOML appended.
pub fn config(data: &str, extra: &str) -> String {
    format!("name = \"t\"\n[data]\n{data}\n{extra}\n")
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
