//! Reading a table file (CSV, TSV, `.csv.gz`, Parquet) into a polars `DataFrame`.
//!
//! The bytes are checked before polars sees them (existence, emptiness, gzip and Parquet magic
//! numbers, UTF-8 with the line of the first bad byte; `encoding = "latin1"` converts), so every bad file gets an error that names
//! the file and says what to do instead of a parser backtrace.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use super::DataError;

/// How to read one table file.
#[derive(Debug, Clone)]
pub struct TableSpec {
    pub path: PathBuf,
    /// Field separator; inferred from the extension when absent (`.tsv` → tab, else comma).
    pub delimiter: Option<u8>,
    pub has_header: bool,
    /// Column names for header-less files (e.g. ml-100k `u.data`).
    pub columns: Option<Vec<String>>,
    pub encoding: crate::config::Encoding,
}

impl TableSpec {
    /// A file with a header row, delimiter from the extension, UTF-8 (files given on the command
    /// line: predictions, impressions to score, id lists, histories).
    pub fn with_header(path: &Path) -> TableSpec {
        TableSpec {
            path: path.to_path_buf(),
            delimiter: None,
            has_header: true,
            columns: None,
            encoding: Default::default(),
        }
    }
}

/// The file kind, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Csv,
    Parquet,
}

fn kind_of(path: &Path) -> (Kind, bool, u8) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let gz = name.ends_with(".gz");
    let stem = name.trim_end_matches(".gz");
    if stem.ends_with(".parquet") || stem.ends_with(".pq") {
        (Kind::Parquet, gz, b',')
    } else if stem.ends_with(".tsv") || stem.ends_with(".tab") {
        (Kind::Csv, gz, b'\t')
    } else {
        (Kind::Csv, gz, b',')
    }
}

/// Parse a config delimiter string (`","`, `"|"`, `"\t"`).
pub fn delimiter_byte(d: &str) -> u8 {
    if d == "\\t" {
        b'\t'
    } else {
        d.as_bytes().first().copied().unwrap_or(b',')
    }
}

/// Read a table file into a DataFrame, with clear errors for every way a file can be bad.
pub fn read_table(spec: &TableSpec) -> Result<DataFrame, DataError> {
    let path = &spec.path;
    if !path.exists() {
        return Err(DataError::Missing { path: path.clone() });
    }
    let mut bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.clone(),
        source,
    })?;
    if bytes.is_empty() {
        return Err(DataError::EmptyFile { path: path.clone() });
    }
    let (kind, gz, default_sep) = kind_of(path);
    if gz {
        if !bytes.starts_with(&[0x1f, 0x8b]) {
            return Err(DataError::NotGzip { path: path.clone() });
        }
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::BadGzip {
                path: path.clone(),
                message: e.to_string(),
            })?;
        bytes = out;
        if bytes.is_empty() {
            return Err(DataError::EmptyFile { path: path.clone() });
        }
    }
    let df = match kind {
        Kind::Parquet => read_parquet(path, bytes)?,
        Kind::Csv => read_csv(spec, bytes, spec.delimiter.unwrap_or(default_sep))?,
    };
    if df.height() == 0 {
        return Err(DataError::NoRows { path: path.clone() });
    }
    Ok(df)
}

fn read_parquet(path: &Path, bytes: Vec<u8>) -> Result<DataFrame, DataError> {
    if bytes.len() < 12 || !bytes.starts_with(b"PAR1") || !bytes.ends_with(b"PAR1") {
        return Err(DataError::NotParquet {
            path: path.to_path_buf(),
        });
    }
    ParquetReader::new(Cursor::new(bytes))
        .finish()
        .map_err(|e| DataError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
}

/// A Parquet file read one column at a time (memory-mapped): at 57 M rows × 16 `Int64`
/// columns the whole frame would be 7 GB, one column is 0.5 GB. [`read_table`] reads whole
/// frames; the click log goes through this instead when it is an uncompressed Parquet file.
pub struct ParquetColumns {
    path: PathBuf,
    /// A zero-row frame with the file's schema (for missing-column messages).
    pub schema: DataFrame,
    pub height: usize,
}

impl ParquetColumns {
    /// Opens `path` if it is a plain (not gzipped) Parquet file; None for every other kind.
    pub fn open(path: &Path) -> Result<Option<Self>, DataError> {
        let (kind, gz, _) = kind_of(path);
        if kind != Kind::Parquet || gz {
            return Ok(None);
        }
        let parse = |e: PolarsError| DataError::Parse {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let height = ParquetReader::new(open_checked(path)?)
            .num_rows()
            .map_err(parse)?;
        if height == 0 {
            return Err(DataError::NoRows {
                path: path.to_path_buf(),
            });
        }
        let empty = ParquetReader::new(open_checked(path)?)
            .with_slice(Some((0, 0)))
            .finish()
            .map_err(parse)?;
        Ok(Some(Self {
            path: path.to_path_buf(),
            schema: empty,
            height,
        }))
    }

    /// The one-column frame of `name`.
    pub fn read(&self, name: &str) -> Result<DataFrame, DataError> {
        ParquetReader::new(open_checked(&self.path)?)
            .with_columns(Some(vec![name.to_string()]))
            .finish()
            .map_err(|e| DataError::Parse {
                path: self.path.clone(),
                message: e.to_string(),
            })
    }
}

/// Opens a Parquet file after checking its magic bytes at both ends.
fn open_checked(path: &Path) -> Result<std::fs::File, DataError> {
    use std::io::{Seek, SeekFrom};
    let io = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    if !path.exists() {
        return Err(DataError::Missing {
            path: path.to_path_buf(),
        });
    }
    let mut f = std::fs::File::open(path).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    if len == 0 {
        return Err(DataError::EmptyFile {
            path: path.to_path_buf(),
        });
    }
    let (mut head, mut tail) = ([0u8; 4], [0u8; 4]);
    let ok = len >= 12
        && f.read_exact(&mut head).is_ok()
        && f.seek(SeekFrom::End(-4)).is_ok()
        && f.read_exact(&mut tail).is_ok()
        && &head == b"PAR1"
        && &tail == b"PAR1";
    if !ok {
        return Err(DataError::NotParquet {
            path: path.to_path_buf(),
        });
    }
    f.seek(SeekFrom::Start(0)).map_err(io)?;
    Ok(f)
}

/// The fields of the first line (double quotes group a field; `""` is a quote inside one).
fn header_fields(bytes: &[u8], sep: u8) -> Vec<String> {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let line = String::from_utf8_lossy(&bytes[..end]);
    let line = line.trim_end_matches('\r').trim_start_matches('\u{feff}');
    let (mut fields, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            '"' => quoted = !quoted,
            c if !quoted && c == sep as char => fields.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

/// The first name that occurs twice.
fn first_repeated(names: &[String]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|n| !seen.insert(n.as_str())).cloned()
}

/// Line (1-based) holding byte `offset`.
fn line_of(bytes: &[u8], offset: usize) -> usize {
    bytes[..offset.min(bytes.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

fn read_csv(spec: &TableSpec, bytes: Vec<u8>, sep: u8) -> Result<DataFrame, DataError> {
    let path = &spec.path;
    let bytes = match spec.encoding {
        // Every Latin-1 byte is the Unicode code point of the same value.
        crate::config::Encoding::Latin1 => bytes
            .iter()
            .map(|&b| b as char)
            .collect::<String>()
            .into_bytes(),
        crate::config::Encoding::Utf8 => bytes,
    };
    if let Err(e) = std::str::from_utf8(&bytes) {
        return Err(DataError::NotUtf8 {
            path: path.clone(),
            line: line_of(&bytes, e.valid_up_to()),
        });
    }
    let header_only = spec.has_header && bytes.iter().filter(|&&b| b == b'\n').count() <= 1 && {
        let first_nl = bytes
            .iter()
            .position(|&b| b == b'\n')
            .unwrap_or(bytes.len());
        bytes[first_nl..].iter().all(|b| b.is_ascii_whitespace())
    };
    if header_only {
        return Err(DataError::NoRows { path: path.clone() });
    }
    let names: Vec<String> = match &spec.columns {
        Some(names) => names.clone(),
        None if spec.has_header => header_fields(&bytes, sep),
        None => Vec::new(),
    };
    if let Some(column) = first_repeated(&names) {
        return Err(DataError::DuplicateColumn {
            path: path.clone(),
            column,
        });
    }
    let ragged_hint = |message: String| DataError::Parse {
        path: path.clone(),
        message,
    };
    let read = |infer: Option<usize>| {
        CsvReadOptions::default()
            .with_has_header(spec.has_header)
            .with_infer_schema_length(infer)
            .map_parse_options(|o| o.with_separator(sep).with_missing_is_null(true))
            .into_reader_with_file_handle(Cursor::new(&bytes))
            .finish()
    };
    // Schema inference on the first 10k rows is fast; if a later row does not fit the inferred
    // type, re-read everything as text so the column conversion can name the exact bad row.
    let mut df = match read(Some(10_000)) {
        Ok(df) => df,
        Err(_) => read(Some(0)).map_err(|e| ragged_hint(e.to_string()))?,
    };
    if let Some(names) = &spec.columns {
        if names.len() != df.width() {
            return Err(DataError::ColumnCount {
                path: path.clone(),
                expected: names.len(),
                found: df.width(),
                delimiter: sep as char,
            });
        }
        let names: Vec<PlSmallStr> = names.iter().map(|s| PlSmallStr::from(s.as_str())).collect();
        df.set_column_names(&names)
            .map_err(|e| ragged_hint(e.to_string()))?;
    }
    Ok(df)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(path: &Path) -> TableSpec {
        TableSpec::with_header(path)
    }

    #[test]
    fn reads_csv_tsv_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("a.csv");
        std::fs::write(&csv, "u,i\n1,2\n3,4\n").unwrap();
        assert_eq!(read_table(&spec(&csv)).unwrap().shape(), (2, 2));
        let tsv = dir.path().join("a.tsv");
        std::fs::write(&tsv, "u\ti\n1\t2\n").unwrap();
        assert_eq!(read_table(&spec(&tsv)).unwrap().shape(), (1, 2));
        let gz = dir.path().join("a.csv.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, b"u,i\n5,6\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_table(&spec(&gz)).unwrap().shape(), (1, 2));
    }

    #[test]
    fn bad_files_get_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str, b: &[u8]| {
            let f = dir.path().join(n);
            std::fs::write(&f, b).unwrap();
            f
        };
        let e = |f: PathBuf| read_table(&spec(&f)).unwrap_err();
        assert!(matches!(
            e(dir.path().join("nope.csv")),
            DataError::Missing { .. }
        ));
        assert!(matches!(
            e(p("empty.csv", b"")),
            DataError::EmptyFile { .. }
        ));
        assert!(matches!(
            e(p("hdr.csv", b"u,i\n")),
            DataError::NoRows { .. }
        ));
        assert!(matches!(
            e(p("x.csv.gz", b"u,i\n1,2\n")),
            DataError::NotGzip { .. }
        ));
        assert!(matches!(
            e(p("x.parquet", b"u,i\n1,2\n")),
            DataError::NotParquet { .. }
        ));
        match e(p("bad.csv", b"u,i\n1,2\n3,\xff\n")) {
            DataError::NotUtf8 { line, .. } => assert_eq!(line, 3),
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn latin1_files_convert_to_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("items.csv");
        std::fs::write(&f, b"item,title\n1,Caf\xe9\n").unwrap();
        assert!(matches!(
            read_table(&spec(&f)),
            Err(DataError::NotUtf8 { line: 2, .. })
        ));
        let mut s = spec(&f);
        s.encoding = crate::config::Encoding::Latin1;
        let df = read_table(&s).unwrap();
        let title = df
            .column("title")
            .unwrap()
            .str()
            .unwrap()
            .get(0)
            .map(str::to_string);
        assert_eq!(title.as_deref(), Some("Café"));
    }

    #[test]
    fn headerless_files_take_configured_names() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("u.data");
        std::fs::write(&f, "1\t10\t5\t100\n2\t20\t3\t200\n").unwrap();
        let mut s = spec(&f);
        s.has_header = false;
        s.delimiter = Some(b'\t');
        s.columns = Some(vec![
            "user".into(),
            "item".into(),
            "rating".into(),
            "timestamp".into(),
        ]);
        let df = read_table(&s).unwrap();
        assert_eq!(df.get_column_names()[3].as_str(), "timestamp");
        s.columns = Some(vec!["user".into()]);
        assert!(matches!(
            read_table(&s),
            Err(DataError::ColumnCount { found: 4, .. })
        ));
    }

    #[test]
    fn a_repeated_header_column_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("d.csv");
        std::fs::write(&f, "user,item,\"ts\",item\n1,2,3,4\n").unwrap();
        let e = read_table(&spec(&f)).unwrap_err();
        assert!(
            matches!(&e, DataError::DuplicateColumn { column, .. } if column == "item"),
            "{e}"
        );
        assert!(e.to_string().contains("`item`"), "{e}");
        // A quoted separator is part of the name: "a,b" and a are different columns.
        std::fs::write(&f, "\"a,b\",a,b\n1,2,3\n").unwrap();
        assert_eq!(read_table(&spec(&f)).unwrap().width(), 3);
        // Names given by the config are checked the same way.
        std::fs::write(&f, "1,2\n").unwrap();
        let mut sp = spec(&f);
        sp.has_header = false;
        sp.columns = Some(vec!["u".into(), "u".into()]);
        assert!(matches!(
            read_table(&sp).unwrap_err(),
            DataError::DuplicateColumn { .. }
        ));
    }
}
