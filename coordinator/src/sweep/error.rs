//! Errors from reading a sweep file, each naming the file, the place and what was expected.

use std::fmt;
use std::path::PathBuf;

/// One problem found in a sweep file.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// 1-based line where the problem is, when it can be located.
    pub line: Option<usize>,
    /// 1-based column, when the TOML parser reported one.
    pub column: Option<usize>,
    /// Dotted path of the offending field, e.g. `grid.learning_rate[2]`.
    pub field: String,
    /// What was wrong and what was expected.
    pub message: String,
}

/// Why a sweep file was refused. Always carries the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("{file}: cannot read the sweep file: {source}")]
    Io {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render(file, diagnostics))]
    Invalid { file: PathBuf, diagnostics: Vec<Diagnostic> },
}

impl SpecError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            SpecError::Io { .. } => &[],
            SpecError::Invalid { diagnostics, .. } => diagnostics,
        }
    }
}

fn render(file: &std::path::Path, diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for (i, d) in diagnostics.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&d.to_string_in(file));
    }
    out
}

impl Diagnostic {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic { line: None, column: None, field: field.into(), message: message.into() }
    }

    pub fn to_string_in(&self, file: &std::path::Path) -> String {
        let mut place = file.display().to_string();
        if let Some(line) = self.line {
            place.push_str(&format!(":{line}"));
            if let Some(col) = self.column {
                place.push_str(&format!(":{col}"));
            }
        }
        if self.field.is_empty() {
            format!("{place}: {}", self.message)
        } else {
            format!("{place}: field `{}`: {}", self.field, self.message)
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_string_in(std::path::Path::new("<sweep>")))
    }
}

/// Best-effort line of a dotted field path in the TOML text: finds the table
/// header (`[a.b]`) or an inline `a.b` key, then the leaf key after it. Returns
/// `None` rather than a wrong line when the text does not match simply.
pub fn locate(text: &str, field: &str) -> Option<usize> {
    let path: Vec<&str> = field.split('.').map(|p| p.split('[').next().unwrap_or(p)).collect();
    let (leaf, tables) = path.split_last()?;
    let lines: Vec<&str> = text.lines().collect();
    let mut start = 0;
    let mut end = lines.len();
    for depth in (1..=tables.len()).rev() {
        let header = format!("[{}]", tables[..depth].join("."));
        if let Some(i) = lines.iter().position(|l| l.trim() == header) {
            start = i + 1;
            end = lines[start..].iter().position(|l| l.trim_start().starts_with('[')).map_or(lines.len(), |p| start + p);
            let rest = tables[depth..].iter().chain(std::iter::once(leaf)).copied().collect::<Vec<_>>().join(".");
            return find_key(&lines, start, end, &rest).or(Some(i + 1));
        }
    }
    find_key(&lines, start, end, &path.join("."))
}

fn find_key(lines: &[&str], start: usize, end: usize, key: &str) -> Option<usize> {
    (start..end).find(|&i| {
        let l = lines[i].trim_start();
        l.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='))
    })
    .map(|i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_in_tables_and_dotted_keys() {
        let text = "name = \"x\"\n[grid]\nseed = 1\ntraining.epochs = [1, 2]\n[training]\nepochs = 3\n";
        assert_eq!(locate(text, "grid.seed"), Some(3));
        assert_eq!(locate(text, "grid.training.epochs[1]"), Some(4));
        assert_eq!(locate(text, "training.epochs"), Some(6));
        assert_eq!(locate(text, "name"), Some(1));
        assert_eq!(locate(text, "missing"), None);
    }
}
