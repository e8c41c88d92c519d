//! One metric row: named, typed cells in a fixed order.
//!
//! The trainer, the SVM metrics and the Parquet sinks all speak this type, so a
//! column added in one place reaches every output without a schema registry.

use serde::{Deserialize, Serialize};

/// A single typed cell of a metric row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// Floating-point metrics; NaN and infinities are allowed (e.g. `svm_C = inf` for hard margin).
    F64(f64),
    /// Counts, epochs, indices.
    I64(i64),
    /// Flags such as `separable`.
    Bool(bool),
    /// Names such as `svm_formulation` or `regime`.
    Str(String),
}

/// An ordered list of `(column, value)` pairs; order is the column order in Parquet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The cells, in output column order. Column names are unique within a row.
    pub cells: Vec<(String, Value)>,
}

impl Row {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a cell, replacing an earlier cell of the same name so names stay unique.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Value>) {
        let name = name.into();
        let value = value.into();
        match self.cells.iter_mut().find(|(n, _)| *n == name) {
            Some(cell) => cell.1 = value,
            None => self.cells.push((name, value)),
        }
    }

    /// Appends every cell of `other` (later cells win on a name clash).
    pub fn extend(&mut self, other: &Row) {
        for (n, v) in &other.cells {
            self.push(n.clone(), v.clone());
        }
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.cells.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}
impl From<f32> for Value {
    fn from(v: f32) -> Self {
        Value::F64(v as f64)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}
impl From<usize> for Value {
    fn from(v: usize) -> Self {
        Value::I64(v as i64)
    }
}
impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Value::I64(v as i64)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Str(v)
    }
}
