//! Spreadsheet exports (CSV, Parquet, XLSX) through polars, for planning
//! spreadsheets. Any serializable record (an estimate, the rows of a plan
//! search) is flattened to one row of columns named by their JSON path
//! (`memory.weights_gib`, `uncertainty.co2e_total_kg.p95`); all formats
//! render to bytes.

use polars::prelude::{Column, DataFrame};
use polars_io::prelude::{CsvWriter, ParquetWriter, SerWriter};
use serde::Serialize;
use serde_json::Value;

/// Spreadsheet formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sheet {
    Csv,
    Parquet,
    Xlsx,
}

fn flatten(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, x, out);
            }
        }
        Value::Array(a) => {
            let s = a.iter().map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            out.push((prefix.to_string(), Value::String(s.collect::<Vec<_>>().join("; "))));
        }
        other => out.push((prefix.to_string(), other.clone())),
    }
}

/// Builds a data frame with one row per record.
///
/// # Errors
/// A record that does not serialize, or a polars error.
pub fn frame<T: Serialize>(records: &[T]) -> Result<DataFrame, String> {
    let mut rows: Vec<Vec<(String, Value)>> = Vec::with_capacity(records.len());
    for r in records {
        let v = serde_json::to_value(r).map_err(|e| e.to_string())?;
        let mut flat = Vec::new();
        flatten("", &v, &mut flat);
        rows.push(flat);
    }
    let mut names: Vec<String> = Vec::new();
    for row in &rows {
        for (k, _) in row {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let get = |row: &Vec<(String, Value)>, k: &str| row.iter().find(|(n, _)| n == k).map_or(Value::Null, |(_, v)| v.clone());
    let cols: Vec<Column> = names
        .iter()
        .map(|name| {
            let vals: Vec<Value> = rows.iter().map(|r| get(r, name)).collect();
            column(name, &vals)
        })
        .collect();
    DataFrame::new(records.len(), cols).map_err(|e| e.to_string())
}

/// A column from JSON values: numbers (f64), booleans, else strings
/// (nulls stay null).
#[must_use]
pub fn column(name: &str, vals: &[Value]) -> Column {
    let non_null = || vals.iter().filter(|v| !v.is_null());
    if non_null().all(Value::is_number) {
        Column::new(name.into(), vals.iter().map(Value::as_f64).collect::<Vec<Option<f64>>>())
    } else if non_null().all(Value::is_boolean) {
        Column::new(name.into(), vals.iter().map(Value::as_bool).collect::<Vec<Option<bool>>>())
    } else {
        let s: Vec<Option<String>> = vals
            .iter()
            .map(|v| match v {
                Value::Null => None,
                Value::String(s) => Some(s.clone()),
                o => Some(o.to_string()),
            })
            .collect();
        Column::new(name.into(), s)
    }
}

/// A cell of a frame as JSON.
#[must_use]
pub fn any_to_json(v: &polars::prelude::AnyValue<'_>) -> Value {
    use polars::prelude::AnyValue as A;
    match v {
        A::Null => Value::Null,
        A::Boolean(b) => Value::Bool(*b),
        A::Float64(x) => serde_json::Number::from_f64(*x).map_or(Value::Null, Value::Number),
        A::String(s) => Value::String((*s).to_string()),
        A::StringOwned(s) => Value::String(s.to_string()),
        other => other.extract::<f64>().and_then(serde_json::Number::from_f64).map_or_else(|| Value::String(other.to_string()), Value::Number),
    }
}

/// Renders records to a spreadsheet format.
///
/// # Errors
/// Serialization or writer failure.
pub fn render<T: Serialize>(records: &[T], sheet: Sheet) -> Result<Vec<u8>, String> {
    render_frame(&frame(records)?, sheet)
}

/// Renders a frame to a spreadsheet format (XLSX: the columns as one sheet).
///
/// # Errors
/// Writer failure.
pub fn render_frame(df: &DataFrame, sheet: Sheet) -> Result<Vec<u8>, String> {
    let mut df = df.clone();
    let mut buf = Vec::new();
    match sheet {
        Sheet::Csv => CsvWriter::new(&mut buf).finish(&mut df).map_err(|e| e.to_string())?,
        Sheet::Parquet => {
            ParquetWriter::new(&mut buf).finish(&mut df).map_err(|e| e.to_string())?;
        }
        Sheet::Xlsx => {
            let mut w = polars_excel_writer::PolarsExcelWriter::new();
            w.write_dataframe(&df).map_err(|e| e.to_string())?;
            buf = w.save_to_buffer().map_err(|e| e.to_string())?;
        }
    }
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct R {
        a_kwh: f64,
        name: &'static str,
        ok: bool,
        nested: N,
        maybe: Option<f64>,
    }
    #[derive(Serialize)]
    struct N {
        p5: f64,
    }

    fn recs() -> Vec<R> {
        vec![
            R { a_kwh: 1.5, name: "x", ok: true, nested: N { p5: 0.1 }, maybe: None },
            R { a_kwh: 2.5, name: "y", ok: false, nested: N { p5: 0.2 }, maybe: Some(3.0) },
        ]
    }

    #[test]
    fn csv_has_flattened_header_and_rows() {
        let csv = String::from_utf8(render(&recs(), Sheet::Csv).unwrap()).unwrap();
        let mut lines = csv.lines();
        // serde_json orders object keys alphabetically
        assert_eq!(lines.next().unwrap(), "a_kwh,maybe,name,nested.p5,ok");
        assert_eq!(lines.next().unwrap(), "1.5,,x,0.1,true");
        assert_eq!(lines.next().unwrap(), "2.5,3.0,y,0.2,false");
    }

    #[test]
    fn parquet_and_xlsx_have_their_magic_bytes() {
        let pq = render(&recs(), Sheet::Parquet).unwrap();
        assert_eq!(&pq[..4], b"PAR1");
        assert_eq!(&pq[pq.len() - 4..], b"PAR1");
        let x = render(&recs(), Sheet::Xlsx).unwrap();
        assert_eq!(&x[..2], b"PK");
    }
}
