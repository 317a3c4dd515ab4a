//! `format: csv`: comma-separated values with a header row, such as HAProxy's `;csv` statistics.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::collector::CollectError;

use super::{parse_error, utf8};

/// Options of `format: {type: csv, …}`.
///
/// The result is an array with one object per row, from column name (taken from the header
/// row) to the cell's text, a string: `[{"pxname": "web", "svname": "FRONTEND", "scur": "0", …}]`.
/// Columns with an empty name (HAProxy ends every line with a comma) are left out; empty cells
/// are kept as `""`; a short row simply lacks its last columns; when two columns share a name,
/// the first one wins. Fields may be quoted (`"a,b"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawCsvConfig")]
pub struct CsvConfig {
    /// Removed from the start of the header row when present. HAProxy writes
    /// `# pxname,svname,…`: use `"# "`.
    pub header_prefix: Option<String>,
    /// The field delimiter, one ASCII character (default `","`).
    pub delimiter: u8,
}

impl Default for CsvConfig {
    fn default() -> Self {
        CsvConfig {
            header_prefix: None,
            delimiter: b',',
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCsvConfig {
    header_prefix: Option<String>,
    delimiter: Option<String>,
}

impl TryFrom<RawCsvConfig> for CsvConfig {
    type Error = String;

    fn try_from(raw: RawCsvConfig) -> Result<Self, String> {
        let delimiter = match raw.delimiter.as_deref() {
            None => b',',
            Some(d) if d.len() == 1 && d.is_ascii() => d.as_bytes()[0],
            Some(d) => {
                return Err(format!(
                    "`delimiter` must be one ASCII character such as \",\" or \";\", not {d:?}"
                ))
            }
        };
        Ok(CsvConfig {
            header_prefix: raw.header_prefix.filter(|p| !p.is_empty()),
            delimiter,
        })
    }
}

/// Parses CSV with a header row into an array of objects (see [`CsvConfig`] for the shape).
pub fn parse(config: &CsvConfig, body: &[u8]) -> Result<Value, CollectError> {
    let text = utf8(body)?;
    let text = text.trim_start_matches(['\r', '\n']);
    if text.trim().is_empty() {
        return Err(parse_error(
            "the answer is empty, expected CSV with a header row",
        ));
    }
    let text = match &config.header_prefix {
        Some(prefix) => text.strip_prefix(prefix.as_str()).unwrap_or(text),
        None => text,
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .delimiter(config.delimiter)
        .has_headers(true)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| parse_error(format!("the CSV header row cannot be read: {e}")))?
        .clone();
    let mut rows = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            parse_error(format!(
                "CSV row {} cannot be read: {e}",
                index + 2 // 1-based, after the header row
            ))
        })?;
        let mut object = Map::new();
        for (name, cell) in headers.iter().zip(record.iter()) {
            if name.is_empty() {
                continue;
            }
            object
                .entry(name.to_string())
                .or_insert_with(|| Value::String(cell.to_string()));
        }
        rows.push(Value::Object(object));
    }
    Ok(Value::Array(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Reason;
    use serde_json::json;

    fn haproxy() -> CsvConfig {
        serde_yaml::from_str("header_prefix: '# '").unwrap()
    }

    #[test]
    fn haproxy_stats() {
        let body = include_bytes!("../../tests/fixtures/raw/haproxy_stats.csv");
        let value = parse(&haproxy(), body).unwrap();
        let rows = value.as_array().unwrap();
        let names: Vec<(&str, &str)> = rows
            .iter()
            .map(|r| (r["pxname"].as_str().unwrap(), r["svname"].as_str().unwrap()))
            .collect();
        assert_eq!(
            names,
            [
                ("stats", "FRONTEND"),
                ("web", "FRONTEND"),
                ("app", "app1"),
                ("app", "app2"),
                ("app", "BACKEND"),
            ]
        );
        let app1 = &rows[2];
        assert_eq!(app1["status"], json!("DOWN"));
        assert_eq!(app1["check_status"], json!("L4CON"));
        assert_eq!(rows[3]["status"], json!("no check"));
        assert_eq!(rows[0]["qcur"], json!(""));
        assert_eq!(rows[0]["scur"], json!("1"));
        // The trailing comma's empty column is not a key.
        assert!(rows[0].get("").is_none());
        assert!(rows[0].get("# pxname").is_none());
    }

    #[test]
    fn without_prefix_option_the_header_keeps_it() {
        let body = include_bytes!("../../tests/fixtures/raw/haproxy_stats.csv");
        let value = parse(&CsvConfig::default(), body).unwrap();
        assert!(value[0].get("# pxname").is_some());
    }

    #[test]
    fn quoting_short_rows_and_delimiter() {
        let c: CsvConfig = serde_yaml::from_str("delimiter: ';'").unwrap();
        let value = parse(&c, b"a;b;c\r\n\"x;1\";2\r\n3;4;5;6\r\n").unwrap();
        assert_eq!(
            value,
            json!([{"a": "x;1", "b": "2"}, {"a": "3", "b": "4", "c": "5"}])
        );
        assert_eq!(parse(&c, b"a;b\n").unwrap(), json!([]));
        let e = serde_yaml::from_str::<CsvConfig>("delimiter: ';;'").unwrap_err();
        assert!(e.to_string().contains("one ASCII character"), "{e}");
    }

    #[test]
    fn bad_input() {
        let e = parse(&haproxy(), b"").unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert!(e.message.contains("empty"));
        let e = parse(&haproxy(), b"# a,b\n1,\xff\n").unwrap_err();
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        // Truncated in the middle of a quoted field: the csv reader takes the rest as the field.
        assert!(parse(&haproxy(), b"# a,b\n1,\"unterminated").is_ok());
    }
}
