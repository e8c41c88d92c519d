//! Errors of the dataset layer.
//!
//! Every variant that concerns a file carries its path, so a user pointing the CLI at
//! the wrong file learns which file and what was wrong without a debugger.

use std::path::PathBuf;

/// Why a dataset could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A generator or preparation step was called with a value outside its domain.
    #[error("invalid parameter `{name}`: expected {expected}, got {got}")]
    InvalidParameter {
        /// The parameter's name as it appears in the function signature.
        name: &'static str,
        /// The accepted domain, in words.
        expected: String,
        /// The rejected value, formatted.
        got: String,
    },
    /// The operating system refused to open or read a file.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying error (not found, permission denied, ...).
        source: std::io::Error,
    },
    /// A required file was looked for in several places and found in none.
    #[error("{what} not found; tried {}. {hint}", display_paths(tried))]
    NotFound {
        /// What was looked for, e.g. "mnist_5k.csv.gz".
        what: String,
        /// Every path that was tried, in lookup order.
        tried: Vec<PathBuf>,
        /// How to obtain the file.
        hint: String,
    },
    /// The file's content does not follow its format (wrong magic number, bad header, ...).
    #[error("{path}: {problem}")]
    Format {
        /// The offending file.
        path: PathBuf,
        /// What was expected and what was found.
        problem: String,
    },
    /// The file ends before the amount of data its header or record size promises.
    #[error("{path}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        /// The offending file.
        path: PathBuf,
        /// Bytes the format requires.
        expected: u64,
        /// Bytes actually present.
        found: u64,
    },
    /// A label is outside the allowed range, missing, or labels and samples do not match up.
    #[error("{path}: bad labels: {problem}")]
    Label {
        /// The file holding the labels.
        path: PathBuf,
        /// Which label (record/line) and why it is rejected.
        problem: String,
    },
    /// A single table cell is not a finite number.
    #[error("{path}: line {line}, column `{column}`: {problem}")]
    Cell {
        /// The offending file.
        path: PathBuf,
        /// 1-based line (CSV) or 1-based data row + 1 (Parquet; header counts as line 1).
        line: usize,
        /// The column's header name.
        column: String,
        /// What the cell holds and why it is rejected.
        problem: String,
    },
    /// A table column has a type or content that cannot be used as it is.
    #[error("{path}: column `{column}`: {problem}")]
    Column {
        /// The offending file.
        path: PathBuf,
        /// The column's name.
        column: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The requested label column is not in the table.
    #[error("{path}: label column `{column}` not found; columns are: {}", available.join(", "))]
    MissingColumn {
        /// The offending file.
        path: PathBuf,
        /// The requested label column.
        column: String,
        /// The columns the file does have, so typos are easy to spot.
        available: Vec<String>,
    },
    /// The file's extension names no format this loader reads.
    #[error("{path}: unsupported table format (expected .csv, .csv.gz or .parquet){hint}")]
    UnsupportedFormat {
        /// The offending file.
        path: PathBuf,
        /// Extra advice (e.g. to use the .npy loader), possibly empty.
        hint: String,
    },
}

fn display_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// Shorthand for results of the dataset layer.
pub type Result<T> = std::result::Result<T, DataError>;

/// Builds an [`DataError::InvalidParameter`].
pub(crate) fn invalid(name: &'static str, expected: impl Into<String>, got: impl std::fmt::Display) -> DataError {
    DataError::InvalidParameter { name, expected: expected.into(), got: got.to_string() }
}

/// Builds a [`DataError::Format`].
pub(crate) fn format_error(path: &std::path::Path, problem: impl Into<String>) -> DataError {
    DataError::Format { path: path.to_path_buf(), problem: problem.into() }
}
