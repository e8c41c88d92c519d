//! Turning raw label values (integers or strings) into class indices.
//!
//! One rule for every loader: classes are the sorted unique values, mapped to
//! `0..k` in that order, so a file whose labels are {3, 7} gives classes
//! ["3", "7"] and a file with {"cat", "dog"} gives ["cat", "dog"] — the same file
//! always yields the same indices regardless of row order.

use std::collections::BTreeMap;

/// Labels as read from a file, before encoding.
#[derive(Debug, Clone)]
pub(crate) enum RawLabels {
    /// Integer labels; class names become their decimal strings, sorted numerically.
    Ints(Vec<i64>),
    /// String labels; classes sorted lexicographically.
    Strs(Vec<String>),
}

/// Class indices and class names for `raw`.
pub(crate) fn encode(raw: RawLabels) -> (Vec<usize>, Vec<String>) {
    match raw {
        RawLabels::Ints(values) => encode_sorted(values, |v| v.to_string()),
        RawLabels::Strs(values) => encode_sorted(values, |v| v.clone()),
    }
}

fn encode_sorted<T: Ord + Clone>(values: Vec<T>, name: impl Fn(&T) -> String) -> (Vec<usize>, Vec<String>) {
    let mut index: BTreeMap<T, usize> = values.iter().map(|v| (v.clone(), 0)).collect();
    let mut names = Vec::with_capacity(index.len());
    for (k, (value, slot)) in index.iter_mut().enumerate() {
        *slot = k;
        names.push(name(value));
    }
    let y = values.iter().map(|v| index[v]).collect();
    (y, names)
}

/// Parses string cells as integer labels when every one is an integer, else keeps strings.
pub(crate) fn from_strings(cells: Vec<String>) -> RawLabels {
    let ints: Option<Vec<i64>> = cells.iter().map(|c| c.parse::<i64>().ok()).collect();
    match ints {
        Some(ints) => RawLabels::Ints(ints),
        None => RawLabels::Strs(cells),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_sort_numerically_and_remap() {
        let (y, names) = encode(RawLabels::Ints(vec![10, -1, 2, 10, 2]));
        assert_eq!(names, ["-1", "2", "10"]);
        assert_eq!(y, [2, 0, 1, 2, 1]);
    }

    #[test]
    fn strings_sort_and_integers_are_detected() {
        let (y, names) = encode(from_strings(vec!["dog".into(), "cat".into(), "dog".into()]));
        assert_eq!(names, ["cat", "dog"]);
        assert_eq!(y, [1, 0, 1]);
        assert!(matches!(from_strings(vec!["1".into(), "10".into()]), RawLabels::Ints(_)));
        assert!(matches!(from_strings(vec!["1".into(), "1.5".into()]), RawLabels::Strs(_)));
    }
}
