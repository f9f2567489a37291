//! `ids.safetensors`: the large arrays of an exported model — the user and item id maps, each
//! user's train items and the item titles — as integer tensors, so the JSON beside them stays
//! small (at 2 M users these arrays are hundreds of MB as JSON).
//!
//! # Tensors (all little-endian, readable with `safetensors.numpy.load_file`)
//! | name | dtype, shape | what |
//! |------|--------------|------|
//! | `users` | I64 `[n_users]` | integer user ids, ascending; the row of an id is its position |
//! | `users.utf8`, `users.offsets` | U8 `[bytes]`, I64 `[n_users + 1]` | string user ids instead: id `u` is `utf8[offsets[u]:offsets[u+1]]` |
//! | `items` / `items.utf8`, `items.offsets` | as for users | item ids |
//! | `seen.offsets` | I64 `[n_users + 1]` | user `u`'s train items are `seen.items[offsets[u]:offsets[u+1]]` |
//! | `seen.items` | I32 `[pairs]` | item rows, ascending per user |
//! | `titles.utf8`, `titles.offsets` | U8, I64 `[n_items + 1]` | item titles (when the item table has them) |
//!
//! The metadata holds `format` = [`FORMAT`].

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::data::IdMap;
use crate::dataset::Dataset;
use crate::error::{Error, Result};
use crate::rundir::write_atomic;

/// File name inside every exported model folder.
pub const IDS_FILE: &str = "ids.safetensors";
/// Format tag in the file's metadata.
pub const FORMAT: &str = "clickrec-ids-1";

/// The arrays of `ids.safetensors`, read back.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelIds {
    pub users: IdMap,
    pub items: IdMap,
    /// CSR over users: `seen_ptr[u]..seen_ptr[u + 1]` indexes `seen_items`.
    pub seen_ptr: Vec<usize>,
    pub seen_items: Vec<u32>,
    pub item_titles: Option<Vec<String>>,
}

impl ModelIds {
    /// User `u`'s train items (ascending); empty for an out-of-range user.
    pub fn seen(&self, u: u32) -> &[u32] {
        self.seen_ptr
            .get(u as usize..u as usize + 2)
            .map(|w| &self.seen_items[w[0]..w[1]])
            .unwrap_or(&[])
    }
}

/// The arrays to write, borrowed from a dataset or a [`ModelIds`].
#[derive(Debug, Clone, Copy)]
pub struct IdsView<'a> {
    pub users: &'a IdMap,
    pub items: &'a IdMap,
    pub seen_ptr: &'a [usize],
    pub seen_items: &'a [u32],
    pub item_titles: Option<&'a [String]>,
}

impl<'a> From<&'a Dataset> for IdsView<'a> {
    fn from(ds: &'a Dataset) -> Self {
        IdsView {
            users: &ds.users,
            items: &ds.items,
            seen_ptr: &ds.seen_ptr,
            seen_items: &ds.seen_items,
            item_titles: ds.item_titles.as_deref(),
        }
    }
}

impl<'a> From<&'a ModelIds> for IdsView<'a> {
    fn from(m: &'a ModelIds) -> Self {
        IdsView {
            users: &m.users,
            items: &m.items,
            seen_ptr: &m.seen_ptr,
            seen_items: &m.seen_items,
            item_titles: m.item_titles.as_deref(),
        }
    }
}

/// One tensor to write: name, dtype, shape, little-endian bytes.
struct Raw {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

fn i64s(name: &str, v: impl ExactSizeIterator<Item = i64>) -> Raw {
    let n = v.len();
    Raw {
        name: name.into(),
        dtype: Dtype::I64,
        shape: vec![n],
        bytes: v.flat_map(i64::to_le_bytes).collect(),
    }
}

/// Strings as concatenated UTF-8 plus offsets.
fn strings(prefix: &str, v: &[String], out: &mut Vec<Raw>) {
    let mut offsets = Vec::with_capacity(v.len() + 1);
    let mut bytes = Vec::new();
    offsets.push(0i64);
    for s in v {
        bytes.extend_from_slice(s.as_bytes());
        offsets.push(bytes.len() as i64);
    }
    out.push(Raw {
        name: format!("{prefix}.utf8"),
        dtype: Dtype::U8,
        shape: vec![bytes.len()],
        bytes,
    });
    out.push(i64s(&format!("{prefix}.offsets"), offsets.into_iter()));
}

fn id_map(prefix: &str, ids: &IdMap, out: &mut Vec<Raw>) {
    match ids {
        IdMap::Int(v) => out.push(i64s(prefix, v.iter().copied())),
        IdMap::Str(v) => strings(prefix, v, out),
    }
}

/// Write `dir/ids.safetensors` (id maps, seen lists, titles), atomically.
pub fn write_ids<'a>(dir: &Path, ids: impl Into<IdsView<'a>>) -> Result<()> {
    let ds = ids.into();
    let mut raw = Vec::new();
    id_map("users", ds.users, &mut raw);
    id_map("items", ds.items, &mut raw);
    raw.push(i64s("seen.offsets", ds.seen_ptr.iter().map(|&p| p as i64)));
    raw.push(Raw {
        name: "seen.items".into(),
        dtype: Dtype::I32,
        shape: vec![ds.seen_items.len()],
        bytes: ds
            .seen_items
            .iter()
            .flat_map(|&i| (i as i32).to_le_bytes())
            .collect(),
    });
    if let Some(t) = ds.item_titles {
        strings("titles", t, &mut raw);
    }
    let path = dir.join(IDS_FILE);
    let views: Vec<(String, TensorView)> = raw
        .iter()
        .map(|r| {
            TensorView::new(r.dtype, r.shape.clone(), &r.bytes)
                .map(|v| (r.name.clone(), v))
                .map_err(|e| Error::Export(format!("{}: tensor {}: {e}", path.display(), r.name)))
        })
        .collect::<Result<_>>()?;
    let meta = HashMap::from([("format".to_string(), FORMAT.to_string())]);
    let bytes = safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::Export(format!("{}: {e}", path.display())))?;
    write_atomic(&path, &bytes)?;
    Ok(())
}

/// Reads tensors of one file, with errors naming it.
struct Reader<'a> {
    st: SafeTensors<'a>,
    path: &'a Path,
}

impl Reader<'_> {
    fn bad(&self, msg: impl std::fmt::Display) -> Error {
        Error::Export(format!("{}: {msg}", self.path.display()))
    }

    fn has(&self, name: &str) -> bool {
        self.st.tensor(name).is_ok()
    }

    /// The bytes of a 1-d tensor of `dtype`.
    fn bytes(&self, name: &str, dtype: Dtype) -> Result<&[u8]> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| self.bad(format!("no tensor `{name}` (file from another version?)")))?;
        if t.dtype() != dtype || t.shape().len() != 1 {
            return Err(self.bad(format!(
                "tensor `{name}` is {:?} {:?}, expected 1-d {dtype:?}",
                t.dtype(),
                t.shape()
            )));
        }
        Ok(t.data())
    }

    fn i64s(&self, name: &str) -> Result<Vec<i64>> {
        Ok(self
            .bytes(name, Dtype::I64)?
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect())
    }

    /// Offsets that start at 0, never decrease and end at `len`.
    fn offsets(&self, name: &str, len: usize) -> Result<Vec<usize>> {
        let o = self.i64s(name)?;
        let ok = o.first() == Some(&0)
            && o.windows(2).all(|w| w[0] <= w[1])
            && o.last().is_some_and(|&l| l as usize == len);
        if !ok {
            return Err(self.bad(format!(
                "tensor `{name}` is not a valid offset list over {len} values"
            )));
        }
        Ok(o.into_iter().map(|x| x as usize).collect())
    }

    fn strings(&self, prefix: &str) -> Result<Vec<String>> {
        let bytes = self.bytes(&format!("{prefix}.utf8"), Dtype::U8)?;
        let off = self.offsets(&format!("{prefix}.offsets"), bytes.len())?;
        off.windows(2)
            .map(|w| {
                std::str::from_utf8(&bytes[w[0]..w[1]])
                    .map(str::to_string)
                    .map_err(|_| self.bad(format!("`{prefix}.utf8` is not UTF-8")))
            })
            .collect()
    }

    fn id_map(&self, prefix: &str) -> Result<IdMap> {
        if self.has(prefix) {
            Ok(IdMap::Int(self.i64s(prefix)?))
        } else {
            Ok(IdMap::Str(self.strings(prefix)?))
        }
    }
}

/// Read `dir/ids.safetensors`, checking the format tag and that the arrays fit each other.
pub fn read_ids(dir: &Path) -> Result<ModelIds> {
    let path = dir.join(IDS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| {
        Error::Export(format!(
            "{}: {e} (exports of clickrec before the binary id files kept the ids in the JSON; re-export with this version)",
            path.display()
        ))
    })?;
    let invalid = |e: safetensors::SafeTensorError| {
        Error::Export(format!(
            "{}: not a valid safetensors file: {e}",
            path.display()
        ))
    };
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(invalid)?;
    let format = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("format").cloned())
        .unwrap_or_default();
    if format != FORMAT {
        return Err(Error::Export(format!(
            "{}: format {format:?}; this clickrec reads {FORMAT:?}",
            path.display()
        )));
    }
    let r = Reader {
        st: SafeTensors::deserialize(&bytes).map_err(invalid)?,
        path: &path,
    };
    let users = r.id_map("users")?;
    let items = r.id_map("items")?;
    let seen_items: Vec<u32> = r
        .bytes("seen.items", Dtype::I32)?
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])) as u32)
        .collect();
    let seen_ptr = r.offsets("seen.offsets", seen_items.len())?;
    if seen_ptr.len() != users.len() + 1 {
        return Err(r.bad(format!(
            "`seen.offsets` has {} entries for {} users",
            seen_ptr.len(),
            users.len()
        )));
    }
    if let Some(&bad) = seen_items.iter().find(|&&i| i as usize >= items.len()) {
        return Err(r.bad(format!(
            "`seen.items` holds item row {bad}, but there are {} items",
            items.len()
        )));
    }
    let item_titles = if r.has("titles.offsets") {
        let t = r.strings("titles")?;
        if t.len() != items.len() {
            return Err(r.bad(format!("{} titles for {} items", t.len(), items.len())));
        }
        Some(t)
    } else {
        None
    };
    Ok(ModelIds {
        users,
        items,
        seen_ptr,
        seen_items,
        item_titles,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(users: IdMap, titles: bool) -> ModelIds {
        ModelIds {
            users,
            items: IdMap::Str(vec!["a".into(), "b,c".into(), "é".into()]),
            seen_ptr: vec![0, 2, 2, 3],
            seen_items: vec![0, 2, 1],
            item_titles: titles.then(|| vec!["A".into(), String::new(), "Ü t".into()]),
        }
    }

    #[test]
    fn ids_round_trip_for_integer_and_string_ids() {
        let dir = tempfile::tempdir().unwrap();
        for m in [
            sample(IdMap::Int(vec![-5, 3, 1 << 40]), true),
            sample(
                IdMap::Str(vec!["u1".into(), "u2".into(), "x".into()]),
                false,
            ),
        ] {
            write_ids(dir.path(), &m).unwrap();
            let back = read_ids(dir.path()).unwrap();
            assert_eq!(back, m);
            assert_eq!(back.seen(0), &[0, 2]);
            assert_eq!(back.seen(1), &[] as &[u32]);
            assert_eq!(back.seen(9), &[] as &[u32]);
        }
    }

    #[test]
    fn missing_corrupt_or_inconsistent_ids_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let e = read_ids(dir.path()).unwrap_err().to_string();
        assert!(e.contains(IDS_FILE) && e.contains("re-export"), "{e}");
        std::fs::write(dir.path().join(IDS_FILE), b"garbage").unwrap();
        let e = read_ids(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not a valid safetensors"), "{e}");
        let mut m = sample(IdMap::Int(vec![1, 2, 3]), false);
        m.seen_items[2] = 7;
        write_ids(dir.path(), &m).unwrap();
        let e = read_ids(dir.path()).unwrap_err().to_string();
        assert!(e.contains("item row 7"), "{e}");
    }
}
