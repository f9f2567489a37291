//! Fixed candidate lists for the sampled protocol (`[eval] candidates = "path"`), so published
//! 1-vs-N tables can be reproduced with the authors' own negatives.
//!
//! Two formats, told apart by the first non-empty line:
//! * the NCF paper's `*.test.negative`: one line per test pair, `(user,item)<TAB>neg<TAB>neg...`
//!   (whitespace between fields is accepted as well);
//! * a long CSV `user,item` (an optional `user,item` header; comma or tab): the candidate items of
//!   each user, used for every test pair of that user.
//!
//! Ids are raw ids as in the data files. Per test pair, the negatives are the listed candidates
//! minus, each dropped and counted: items that are not train items (a model cannot score them),
//! train items of that user, and test items of that user (the positive itself included); the
//! train/test drops are counted per test pair the list serves. Pairs
//! with no line keep out of the protocol and are counted; lines whose user (or pair) is not in
//! the test part are counted too.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::EvalError;
use crate::dataset::Dataset;

/// Counts of what loading the candidate file dropped (the `sampled.candidates` object).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CandidateStats {
    /// `ncf` (per test pair) or `long` (per user).
    pub format: &'static str,
    /// Data lines read.
    pub lines: usize,
    /// Lines whose user (NCF format: whose pair) is not a test pair of the evaluation.
    pub lines_not_in_test: usize,
    /// Candidates that are not train items.
    pub dropped_unknown_items: usize,
    /// Candidates that are train items of that user.
    pub dropped_train_items: usize,
    /// Candidates that are test items of that user (the positive included).
    pub dropped_test_items: usize,
    /// Test pairs without a candidate line (left out of the sampled protocol).
    pub pairs_without_candidates: usize,
}

/// The resolved candidate negatives of every covered test pair, in train index space.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub path: PathBuf,
    /// (user, positive item) -> negatives, each list sorted and distinct.
    pub negatives: HashMap<(u32, u32), Vec<u32>>,
    pub stats: CandidateStats,
}

/// One parsed line: raw user id, raw positive item id (NCF format) and raw candidate ids.
#[derive(Debug, Clone, PartialEq)]
struct Line<'a> {
    line: usize,
    user: &'a str,
    positive: Option<&'a str>,
    items: Vec<&'a str>,
}

fn bad(path: &Path, line: usize, problem: impl Into<String>) -> EvalError {
    EvalError::Candidates {
        path: path.to_path_buf(),
        line,
        problem: problem.into(),
    }
}

/// Parse the file's text into lines (1-based line numbers), either format.
fn parse<'a>(path: &Path, text: &'a str) -> Result<(Vec<Line<'a>>, &'static str), EvalError> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .peekable();
    let Some(&(_, first)) = lines.peek() else {
        return Err(bad(path, 1, "the candidate file is empty"));
    };
    if first.starts_with('(') {
        let out = lines
            .map(|(n, l)| parse_ncf(path, n, l))
            .collect::<Result<_, _>>()?;
        return Ok((out, "ncf"));
    }
    let mut out = Vec::new();
    for (pos, (n, l)) in lines.enumerate() {
        let fields: Vec<&str> = l.split([',', '\t']).map(str::trim).collect();
        if pos == 0 && fields.len() == 2 && fields[0].eq_ignore_ascii_case("user") {
            continue; // the header
        }
        match fields[..] {
            [user, item] if !user.is_empty() && !item.is_empty() => out.push(Line {
                line: n,
                user,
                positive: None,
                items: vec![item],
            }),
            _ => {
                return Err(bad(
                    path,
                    n,
                    format!("expected two fields `user,item`, found {l:?}"),
                ));
            }
        }
    }
    Ok((out, "long"))
}

/// `(user,item)<TAB>neg<TAB>neg...`.
fn parse_ncf<'a>(path: &Path, n: usize, l: &'a str) -> Result<Line<'a>, EvalError> {
    let expected = "expected `(user,item)` then tab-separated negative items, as in the NCF paper's *.test.negative";
    let close = l
        .find(')')
        .filter(|_| l.starts_with('('))
        .ok_or_else(|| bad(path, n, format!("{expected}; found {l:?}")))?;
    let (user, positive) = l[1..close]
        .split_once(',')
        .map(|(u, i)| (u.trim(), i.trim()))
        .filter(|(u, i)| !u.is_empty() && !i.is_empty() && !i.contains(','))
        .ok_or_else(|| {
            bad(
                path,
                n,
                format!("{expected}; `{}` is not a (user,item) pair", &l[..=close]),
            )
        })?;
    let items: Vec<&str> = l[close + 1..].split_whitespace().collect();
    if items.is_empty() {
        return Err(bad(
            path,
            n,
            format!("no negative items after `{}`", &l[..=close]),
        ));
    }
    Ok(Line {
        line: n,
        user,
        positive: Some(positive),
        items,
    })
}

impl Candidates {
    /// Read and resolve `path` against the dataset's test pairs. Errors name the file and line.
    pub fn load(path: &Path, ds: &Dataset) -> Result<Candidates, EvalError> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(path, 0, e.to_string()))?;
        Self::from_text(path, &text, ds)
    }

    /// [`Candidates::load`] on text already read.
    pub fn from_text(path: &Path, text: &str, ds: &Dataset) -> Result<Candidates, EvalError> {
        let (lines, format) = parse(path, text)?;
        let mut stats = CandidateStats {
            format,
            lines: lines.len(),
            ..Default::default()
        };
        let test_of = |u: u32| -> Option<&[u32]> {
            ds.eval_users
                .binary_search(&u)
                .ok()
                .map(|p| ds.eval_items[p].as_slice())
        };
        // Raw candidates per pair (NCF) or per user (long), as train item indices.
        let mut per_pair: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
        let mut per_user: HashMap<u32, Vec<u32>> = HashMap::new();
        for line in &lines {
            let user = ds.users.find(line.user);
            let test = user.and_then(test_of);
            let (Some(u), Some(test)) = (user, test) else {
                stats.lines_not_in_test += 1;
                continue;
            };
            let list = match line.positive {
                Some(p) => match ds.items.find(p).filter(|i| test.binary_search(i).is_ok()) {
                    Some(i) => {
                        if per_pair.contains_key(&(u, i)) {
                            return Err(bad(
                                path,
                                line.line,
                                format!("a second line for the pair ({},{p})", line.user),
                            ));
                        }
                        per_pair.entry((u, i)).or_default()
                    }
                    None => {
                        stats.lines_not_in_test += 1;
                        continue;
                    }
                },
                None => per_user.entry(u).or_default(),
            };
            for item in &line.items {
                match ds.items.find(item) {
                    Some(i) => list.push(i),
                    None => stats.dropped_unknown_items += 1,
                }
            }
        }
        let mut negatives = HashMap::new();
        for (&u, test) in ds.eval_users.iter().zip(&ds.eval_items) {
            let seen = ds.seen(u);
            for &i in test {
                let raw = match format {
                    "ncf" => per_pair.get(&(u, i)),
                    _ => per_user.get(&u),
                };
                let Some(raw) = raw else {
                    stats.pairs_without_candidates += 1;
                    continue;
                };
                let mut kept = Vec::with_capacity(raw.len());
                for &j in raw {
                    if seen.binary_search(&j).is_ok() {
                        stats.dropped_train_items += 1;
                    } else if test.binary_search(&j).is_ok() {
                        stats.dropped_test_items += 1;
                    } else {
                        kept.push(j);
                    }
                }
                kept.sort_unstable();
                kept.dedup();
                negatives.insert((u, i), kept);
            }
        }
        Ok(Candidates {
            path: path.to_path_buf(),
            negatives,
            stats,
        })
    }

    /// The negatives of the test pair (user, positive item), if the file covers it.
    pub fn of(&self, user: u32, item: u32) -> Option<&[u32]> {
        self.negatives.get(&(user, item)).map(Vec::as_slice)
    }
}

#[cfg(test)]
mod tests;
