//! Raw ids (integers or strings) encoded to dense indices in ascending raw-id order.
//!
//! Ascending order matters: the ranking metrics break score ties by ascending item index, which
//! the protocol defines as ascending raw id (numeric order for integer ids).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Sorted distinct raw ids; the position of an id is its index.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IdMap {
    Int(Vec<i64>),
    Str(Vec<String>),
}

/// A raw id column as read from the file.
#[derive(Debug, Clone)]
pub enum RawIds {
    Int(Vec<i64>),
    Str(Vec<String>),
}

impl RawIds {
    /// "integer" or "string", for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            RawIds::Int(_) => "integer",
            RawIds::Str(_) => "string",
        }
    }
}

impl IdMap {
    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            IdMap::Int(v) => v.len(),
            IdMap::Str(v) => v.len(),
        }
    }

    /// Whether there are no ids.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw id of index `i`, as text.
    pub fn label(&self, i: usize) -> String {
        match self {
            IdMap::Int(v) => v.get(i).map(|x| x.to_string()).unwrap_or_default(),
            IdMap::Str(v) => v.get(i).cloned().unwrap_or_default(),
        }
    }

    /// The index of a raw id given as text (integers parse first when the map is numeric).
    pub fn find(&self, id: &str) -> Option<u32> {
        match self {
            IdMap::Int(v) => id
                .trim()
                .parse::<i64>()
                .ok()
                .and_then(|x| v.binary_search(&x).ok()),
            IdMap::Str(v) => v.binary_search_by(|s| s.as_str().cmp(id)).ok(),
        }
        .map(|i| i as u32)
    }

    /// Encode a raw id column: the sorted distinct ids and each row's index.
    pub fn encode(raw: &RawIds) -> (IdMap, Vec<u32>) {
        match raw {
            RawIds::Int(v) => {
                let mut ids = v.clone();
                ids.par_sort_unstable();
                ids.dedup();
                let codes = v
                    .par_iter()
                    .map(|x| ids.binary_search(x).unwrap_or(0) as u32)
                    .collect();
                (IdMap::Int(ids), codes)
            }
            RawIds::Str(v) => {
                let mut ids: Vec<&str> = v.iter().map(String::as_str).collect();
                ids.par_sort_unstable();
                ids.dedup();
                let codes = v
                    .par_iter()
                    .map(|x| ids.binary_search(&x.as_str()).unwrap_or(0) as u32)
                    .collect();
                (
                    IdMap::Str(ids.into_iter().map(str::to_string).collect()),
                    codes,
                )
            }
        }
    }

    /// The sub-map of the listed (ascending) indices; keeps ascending raw-id order.
    pub fn subset(&self, keep: &[u32]) -> IdMap {
        match self {
            IdMap::Int(v) => IdMap::Int(keep.iter().map(|&i| v[i as usize]).collect()),
            IdMap::Str(v) => IdMap::Str(keep.iter().map(|&i| v[i as usize].clone()).collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_ids_sort_numerically() {
        let (map, codes) = IdMap::encode(&RawIds::Int(vec![10, -5, 10, 2]));
        assert_eq!(map, IdMap::Int(vec![-5, 2, 10]));
        assert_eq!(codes, vec![2, 0, 2, 1]);
        assert_eq!(map.find("2"), Some(1));
        assert_eq!(map.find("x"), None);
        assert_eq!(map.label(0), "-5");
    }

    #[test]
    fn string_ids_sort_lexicographically() {
        let (map, codes) = IdMap::encode(&RawIds::Str(vec!["b".into(), "a".into(), "b".into()]));
        assert_eq!(map, IdMap::Str(vec!["a".into(), "b".into()]));
        assert_eq!(codes, vec![1, 0, 1]);
        assert_eq!(map.subset(&[1]), IdMap::Str(vec!["b".into()]));
    }
}
