//! Writing a generated frame to CSV or Parquet, atomically (temp file + rename).

use super::SynthError;
use polars::prelude::*;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// The file formats [`write_frame`] knows, by lowercase extension.
pub const WRITABLE_EXTENSIONS: [&str; 2] = ["csv", "parquet"];

/// Writes `df` to `path` as CSV (with header) or Parquet (zstd), chosen by the extension
/// (`.csv` / `.parquet`, case-insensitive). The data goes to a temporary file in the same
/// directory that is then renamed over `path`, so readers never see a half-written file.
pub fn write_frame(df: &mut DataFrame, path: &Path) -> Result<(), SynthError> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    let parquet = match ext.as_str() {
        "csv" => false,
        "parquet" => true,
        _ => {
            return Err(SynthError::UnsupportedExtension {
                path: path.to_path_buf(),
                found: ext,
            });
        }
    };
    let io_err = |p: &Path, source| SynthError::Io {
        path: p.to_path_buf(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            io_err(
                path,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the path has no file name",
                ),
            )
        })?
        .to_string_lossy()
        .into_owned();
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = write_to(df, &tmp, parquet)
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|source| io_err(path, source)));
    if result.is_err() {
        // Best effort: do not leave the temporary file behind.
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn write_to(df: &mut DataFrame, tmp: &Path, parquet: bool) -> Result<(), SynthError> {
    let io_err = |source| SynthError::Io {
        path: tmp.to_path_buf(),
        source,
    };
    let polars_err = |source| SynthError::Polars {
        what: format!("writing {}", tmp.display()),
        source,
    };
    let file = File::create(tmp).map_err(io_err)?;
    if parquet {
        let mut out = BufWriter::new(file);
        ParquetWriter::new(&mut out)
            .finish(df)
            .map_err(polars_err)?;
        out.flush().map_err(io_err)?;
        out.get_ref().sync_all().map_err(io_err)?;
    } else {
        let mut out = file;
        CsvWriter::new(&mut out)
            .include_header(true)
            .finish(df)
            .map_err(polars_err)?;
        out.sync_all().map_err(io_err)?;
    }
    Ok(())
}
