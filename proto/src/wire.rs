//! Conversions between the in-process metric [`Row`] and its wire form [`v1::Row`].

use prost::Message;

use crate::row::{Row, Value};
use crate::v1;

impl From<&Row> for v1::Row {
    fn from(row: &Row) -> Self {
        v1::Row {
            cells: row
                .cells
                .iter()
                .map(|(name, value)| v1::Cell {
                    name: name.clone(),
                    value: Some(match value {
                        Value::F64(x) => v1::cell::Value::F64(*x),
                        Value::I64(x) => v1::cell::Value::I64(*x),
                        Value::Bool(x) => v1::cell::Value::Bool(*x),
                        Value::Str(x) => v1::cell::Value::Str(x.clone()),
                    }),
                })
                .collect(),
        }
    }
}

/// A cell without a value: the sender's protobuf oneof was left empty.
#[derive(Debug, thiserror::Error)]
#[error("cell `{0}` has no value")]
pub struct EmptyCell(pub String);

impl TryFrom<&v1::Row> for Row {
    type Error = EmptyCell;

    fn try_from(row: &v1::Row) -> Result<Self, EmptyCell> {
        let mut out = Row::new();
        for cell in &row.cells {
            let value = match &cell.value {
                Some(v1::cell::Value::F64(x)) => Value::F64(*x),
                Some(v1::cell::Value::I64(x)) => Value::I64(*x),
                Some(v1::cell::Value::Bool(x)) => Value::Bool(*x),
                Some(v1::cell::Value::Str(x)) => Value::Str(x.clone()),
                None => return Err(EmptyCell(cell.name.clone())),
            };
            out.push(cell.name.clone(), value);
        }
        Ok(out)
    }
}

/// Encodes rows as a protobuf `RowBatch` (the coordinator's storage format).
pub fn encode_rows(rows: &[Row]) -> Vec<u8> {
    v1::RowBatch { rows: rows.iter().map(v1::Row::from).collect() }.encode_to_vec()
}

/// Decodes a stored `RowBatch`.
pub fn decode_rows(bytes: &[u8]) -> Result<Vec<Row>, String> {
    let batch = v1::RowBatch::decode(bytes).map_err(|e| format!("stored row batch does not decode: {e}"))?;
    batch.rows.iter().map(|r| Row::try_from(r).map_err(|e| e.to_string())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_the_wire_and_storage_formats_keeping_types() {
        let mut row = Row::new();
        row.push("epoch", 3i64);
        row.push("loss", 1.0);
        row.push("separable", true);
        row.push("regime", "full");
        let back = decode_rows(&encode_rows(std::slice::from_ref(&row))).unwrap();
        assert_eq!(back, vec![row]);
        let empty = v1::Row { cells: vec![v1::Cell { name: "x".into(), value: None }] };
        assert!(Row::try_from(&empty).is_err());
    }
}
