//! Data errors: each names the file, column and (1-based data) row, and says what to do.

use std::path::PathBuf;

/// Everything that can be wrong with an input file or its columns.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{}: file not found (check [data].path; paths are relative to the config file)", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: the file is empty", path.display())]
    EmptyFile { path: PathBuf },
    #[error("{}: no data rows (only a header, or nothing at all)", path.display())]
    NoRows { path: PathBuf },
    #[error("{}: the name ends in .gz but the file is not gzip-compressed (rename it or compress it)", path.display())]
    NotGzip { path: PathBuf },
    #[error("{}: gzip data is corrupt or truncated: {message}", path.display())]
    BadGzip { path: PathBuf, message: String },
    #[error("{}: not a Parquet file (no PAR1 magic); name CSV files .csv", path.display())]
    NotParquet { path: PathBuf },
    #[error("{}: line {line} is not valid UTF-8 (re-encode the file as UTF-8, or set encoding = \"latin1\")", path.display())]
    NotUtf8 { path: PathBuf, line: usize },
    #[error("{}: cannot parse: {message} (check the delimiter and that every row has the same number of fields)", path.display())]
    Parse { path: PathBuf, message: String },
    #[error("{}: the column name `{column}` appears more than once in the header (rename one of them)", path.display())]
    DuplicateColumn { path: PathBuf, column: String },
    #[error("{}: `columns` names {expected} columns but the file has {found} (delimiter {delimiter:?}; set the right `delimiter`)", path.display())]
    ColumnCount {
        path: PathBuf,
        expected: usize,
        found: usize,
        delimiter: char,
    },
    #[error("{}: no column `{column}` (configured as `{key}`); the file has: {available}{hint}", path.display())]
    NoColumn {
        path: PathBuf,
        column: String,
        key: String,
        available: String,
        hint: String,
    },
    #[error("{}: column `{column}` row {row}: {problem}", path.display())]
    BadValue {
        path: PathBuf,
        column: String,
        row: usize,
        problem: String,
    },
    #[error("{}: column `{column}` has at least {levels} categorical levels; [ncf] one-hot encodes at most {max} (embed it with [deepfm] / [dcnv2], use it as a numeric feature, or drop it)", path.display())]
    TooManyLevels {
        path: PathBuf,
        column: String,
        levels: usize,
        max: usize,
    },
    #[error("{}: event type {event:?} (row {row}) has no weight in [data.event_weights] (known: {known}); add it or set unknown_events = \"skip\"", path.display())]
    UnknownEvent {
        path: PathBuf,
        event: String,
        row: usize,
        known: String,
    },
    #[error("{}: key column `{column}` holds {found} ids but the log's {what} ids are {expected}; make both the same type", path.display())]
    IdTypeMismatch {
        path: PathBuf,
        column: String,
        what: &'static str,
        found: &'static str,
        expected: &'static str,
    },
    #[error("{}: {what} id {id} from the log has no row in this table (key `{column}`)", path.display())]
    MissingSideRow {
        path: PathBuf,
        column: String,
        what: &'static str,
        id: String,
    },
    #[error("{}: {what} id {id} appears twice in key column `{column}`", path.display())]
    DuplicateKey {
        path: PathBuf,
        column: String,
        what: &'static str,
        id: String,
    },
    #[error("{what}: no rows left after {stage} (loosen [filter] or check the data)")]
    NothingLeft { what: String, stage: &'static str },
    #[error("{}: cannot write: {message}", path.display())]
    Write { path: PathBuf, message: String },
    #[error("synthetic data: {0}")]
    Synthetic(String),
}
