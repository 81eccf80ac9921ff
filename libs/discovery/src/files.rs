//! File-system reads, bounded: a file larger than [`MAX_FILE_BYTES`] is not read,
//! and directory listings come back sorted so the inventory's order is fixed.

use std::path::{Path, PathBuf};

use thiserror::Error;

/// No file discovery reads is larger than this (1 MiB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why a file could not be read.
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("cannot read it: {0}; check that the worker may read the mounted repo")]
    Io(#[from] std::io::Error),
    #[error(
        "it is {size} bytes, over the {MAX_FILE_BYTES}-byte limit; make it smaller or remove it"
    )]
    TooLarge { size: u64 },
    #[error("it is not UTF-8 text; save it as UTF-8")]
    NotUtf8,
}

/// Reads a text file of at most [`MAX_FILE_BYTES`].
pub fn read_text(path: &Path) -> Result<String, ReadError> {
    let size = std::fs::metadata(path)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge { size });
    }
    let bytes = std::fs::read(path)?;
    String::from_utf8(bytes).map_err(|_| ReadError::NotUtf8)
}

/// An entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub name: String,
    pub path: PathBuf,
    pub is_dir: bool,
    pub is_file: bool,
}

/// The entries of a directory, sorted by name; symbolic links are followed only
/// when `follow` is set. Names that are not UTF-8 are skipped.
pub fn list(dir: &Path, follow: bool) -> Result<Vec<Entry>, std::io::Error> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        let path = entry.path();
        let meta = if follow {
            std::fs::metadata(&path)
        } else {
            std::fs::symlink_metadata(&path)
        };
        let Ok(meta) = meta else { continue };
        out.push(Entry {
            name,
            path,
            is_dir: meta.is_dir(),
            is_file: meta.is_file(),
        });
    }
    out.sort();
    Ok(out)
}

/// `path` relative to `base`, with `/` separators, for problems and sources.
pub fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The file's extension is one of `exts` (ASCII case ignored).
pub fn has_ext(name: &str, exts: &[&str]) -> bool {
    Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}
