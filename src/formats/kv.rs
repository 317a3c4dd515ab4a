//! `format: kv`: one `key<separator>value` pair per line, as written by Apache's
//! `server-status?auto` (`Total Accesses: 123`), Redis `INFO` (`connected_clients:1`) and
//! memcached `stats` (`STAT pid 123`).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::collector::CollectError;

use super::{parse_error, utf8};

/// Options of `format: {type: kv, …}`.
///
/// The result is a JSON object from key to value, every value a string as written
/// (`{"Total Accesses": "123"}`); later lines with a key already seen are ignored (the first one
/// wins). Lines end with `\n` or `\r\n`; empty lines are skipped.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawKvConfig")]
pub struct KvConfig {
    /// Separates the key from the value; the first occurrence on a line counts, so the value may
    /// contain it (`CurrentTime: 12:00:00`). Default `":"`; memcached needs `" "`.
    pub separator: String,
    /// Stripped from the start of every line before it is split; lines without it are treated
    /// as lines without a separator. Example: `"STAT "` for memcached.
    pub line_prefix: Option<String>,
    /// Lines starting with this are comments and skipped (with `sections: true` they name a
    /// section). Example: `"#"` for Redis.
    pub comment_prefix: Option<String>,
    /// A line equal to this (after trimming) ends the answer; what follows is ignored.
    /// Example: `"END"` for memcached.
    pub terminator_line: Option<String>,
    /// Comment lines start sections: Redis' `# Server` puts the keys after it into
    /// `{"Server": {…}}`, so paths read `{ .Clients.connected_clients }` and
    /// `{ .Keyspace.* }` walks the databases. Keys before the first section stay at the top level.
    /// There is no additional flat view: leave this `false` (the default) to get every key at
    /// the top level instead. Needs `comment_prefix`.
    pub sections: bool,
    /// Removes whitespace around keys and values (default `true`).
    pub trim: bool,
    /// Lines without the separator (Apache's first line is the bare host name; a Redis reply
    /// starts with `$1234`) are skipped instead of failing the collection. Default `false`.
    /// An answer in which every line was skipped is still an error: it is not key/value text.
    pub skip_invalid_lines: bool,
    /// Splits values that are themselves lists of pairs, such as Redis'
    /// `db0:keys=1,expires=0,avg_ttl=0`, into objects: `{"db0": {"keys": "1", …}}`. A value is
    /// split only when every part contains `kv`; other values stay strings.
    pub split_values: Option<SplitValues>,
    /// Keys with bracketed indexes become nested arrays, so that `type: object` rules can walk
    /// them: Apache's `ProxyBalancer[0]Worker[1]Name: http://b` gives
    /// `{"ProxyBalancer": [{"Worker": [{}, {"Name": "http://b"}]}]}` (a gap is an empty object).
    /// A key whose brackets do not hold a number (below 10000) stays as it is. Default `false`.
    pub indexed_keys: bool,
    /// Keys made of parts joined by this text become nested objects, so that `type: object`
    /// rules can walk the parts: with `nested_keys: ':'`, memcached's `stats items` line
    /// `STAT items:1:number 5` gives `{"items": {"1": {"number": "5"}}}` (one object per slab
    /// class, walked with `'{ .items.* }'` and labelled with `'{$key}'`), and `stats slabs`'
    /// `STAT 1:chunk_size 96` gives `{"1": {"chunk_size": "96"}}` next to the plain
    /// `{"total_malloced": "…"}`. A key with an empty part (`a::b`, `:a`) stays as it is, and so
    /// does a key whose leading parts already hold a plain value (`a: 1` then `a:b: 2` keeps
    /// `"a:b"` flat); as for flat keys, what is already there wins. Not together with
    /// `indexed_keys`.
    pub nested_keys: Option<String>,
    /// Keys the answer must have, each with the sentence the error gives when it is missing:
    /// the answer is then refused (a `parse` error), which tells the user what to change instead
    /// of a list of missing series. Checked at the top level (before any section).
    /// ```yaml fragment
    /// required_keys:
    ///   Scoreboard: "this is not mod_status' machine-readable page: add ?auto to the URL"
    /// ```
    pub required_keys: BTreeMap<String, String>,
}

/// `split_values:` of the `kv` format.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SplitValues {
    /// Separates the pairs inside a value (default `","`).
    #[serde(default = "default_pairs")]
    pub pairs: String,
    /// Separates key from value inside a pair (default `"="`).
    #[serde(default = "default_pair_kv")]
    pub kv: String,
}

fn default_pairs() -> String {
    ",".to_string()
}

fn default_pair_kv() -> String {
    "=".to_string()
}

fn default_separator() -> String {
    ":".to_string()
}

fn default_true() -> bool {
    true
}

impl Default for KvConfig {
    fn default() -> Self {
        KvConfig {
            separator: default_separator(),
            line_prefix: None,
            comment_prefix: None,
            terminator_line: None,
            sections: false,
            trim: true,
            skip_invalid_lines: false,
            split_values: None,
            indexed_keys: false,
            nested_keys: None,
            required_keys: BTreeMap::new(),
        }
    }
}

/// The YAML shape, checked by `TryFrom` into [`KvConfig`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKvConfig {
    #[serde(default = "default_separator")]
    separator: String,
    line_prefix: Option<String>,
    comment_prefix: Option<String>,
    terminator_line: Option<String>,
    #[serde(default)]
    sections: bool,
    #[serde(default = "default_true")]
    trim: bool,
    #[serde(default)]
    skip_invalid_lines: bool,
    split_values: Option<SplitValues>,
    #[serde(default)]
    indexed_keys: bool,
    nested_keys: Option<String>,
    #[serde(default)]
    required_keys: BTreeMap<String, String>,
}

impl TryFrom<RawKvConfig> for KvConfig {
    type Error = String;

    fn try_from(raw: RawKvConfig) -> Result<Self, String> {
        if raw.separator.is_empty() {
            return Err("`separator` must not be empty".into());
        }
        if raw.sections && raw.comment_prefix.as_deref().unwrap_or("").is_empty() {
            return Err(
                "`sections: true` needs `comment_prefix` (the start of a section line, e.g. \"#\")"
                    .into(),
            );
        }
        if matches!(raw.comment_prefix.as_deref(), Some("")) {
            return Err("`comment_prefix` must not be empty".into());
        }
        if let Some(split) = &raw.split_values {
            if split.pairs.is_empty() || split.kv.is_empty() {
                return Err("`split_values.pairs` and `split_values.kv` must not be empty".into());
            }
        }
        match &raw.nested_keys {
            Some(joint) if joint.is_empty() => {
                return Err(
                    "`nested_keys` must not be empty (the text between key parts, e.g. \":\")"
                        .into(),
                )
            }
            Some(_) if raw.indexed_keys => {
                return Err("`nested_keys` and `indexed_keys` cannot be used together".into())
            }
            _ => {}
        }
        Ok(KvConfig {
            separator: raw.separator,
            line_prefix: raw.line_prefix.filter(|p| !p.is_empty()),
            comment_prefix: raw.comment_prefix,
            terminator_line: raw.terminator_line,
            sections: raw.sections,
            trim: raw.trim,
            skip_invalid_lines: raw.skip_invalid_lines,
            split_values: raw.split_values,
            indexed_keys: raw.indexed_keys,
            nested_keys: raw.nested_keys,
            required_keys: raw.required_keys,
        })
    }
}

/// Parses key/value lines into an object (see [`KvConfig`] for the shape).
pub fn parse(config: &KvConfig, body: &[u8]) -> Result<Value, CollectError> {
    let text = utf8(body)?;
    let mut top = Map::new();
    // With `sections: true`, the name of the section being filled (None: the top level).
    let mut section: Option<String> = None;
    // With `skip_invalid_lines`, the first line skipped, and whether any pair was read.
    let mut first_skipped: Option<(usize, &str)> = None;
    let mut pairs_read = false;
    let mut slots_left = MAX_INDEXED_SLOTS;
    for (index, raw_line) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw_line.strip_suffix('\r').unwrap_or(raw_line);
        if let Some(end) = &config.terminator_line {
            if line.trim() == end {
                break;
            }
        }
        if line.trim().is_empty() {
            continue;
        }
        if let Some(comment) = &config.comment_prefix {
            if let Some(rest) = line.strip_prefix(comment.as_str()) {
                if config.sections {
                    let name = rest.trim().to_string();
                    if !top.contains_key(&name) {
                        top.insert(name.clone(), Value::Object(Map::new()));
                    }
                    section = Some(name);
                }
                continue;
            }
        }
        let Some((key, value)) = split_line(config, line) else {
            if config.skip_invalid_lines {
                first_skipped.get_or_insert((line_no, line));
                continue;
            }
            return Err(parse_error(format!(
                "line {line_no} has no {:?} separator: {:?}",
                config.separator,
                shorten(line)
            ))
            .with_page_message(format!(
                "line {line_no} has no {:?} separator",
                config.separator
            )));
        };
        let value = match &config.split_values {
            Some(split) => split_value(split, value, config.trim),
            None => Value::String(value.to_string()),
        };
        let target = match &section {
            // The section entry is an object unless a plain key took its name first.
            Some(name) => match top.get_mut(name) {
                Some(Value::Object(map)) => map,
                _ => &mut top,
            },
            None => &mut top,
        };
        let placed = if config.indexed_keys {
            insert_indexed(target, key, &value, &mut slots_left)
        } else if let Some(joint) = &config.nested_keys {
            insert_nested(target, key, &value, joint)
        } else {
            false
        };
        if !placed {
            target.entry(key.to_string()).or_insert(value);
        }
        pairs_read = true;
    }
    if let (false, Some((line_no, line))) = (pairs_read, first_skipped) {
        return Err(parse_error(format!(
            "no line has a {:?} separator; this is not key/value text (line {line_no}: {:?})",
            config.separator,
            shorten(line)
        ))
        .with_page_message(format!(
            "no line has a {:?} separator; this is not key/value text",
            config.separator
        )));
    }
    if let Some((_, message)) = config
        .required_keys
        .iter()
        .find(|(key, _)| !top.contains_key(key.as_str()))
    {
        return Err(parse_error(message.clone()));
    }
    Ok(Value::Object(top))
}

/// Indexes above this stay flat keys, so that a key like `a[999999999]` cannot make a huge array.
const MAX_KEY_INDEX: usize = 10_000;

/// All indexed keys of one answer together may make arrays of at most this many elements, so
/// that short lines such as `a[1]b[9999]: x`, `a[2]b[9999]: x`, … cannot fill the memory with
/// gap objects (10 000 per line). Keys past the budget stay flat keys.
const MAX_INDEXED_SLOTS: usize = 100_000;

/// `a[0]b[1]c` → `[("a", Some(0)), ("b", Some(1)), ("c", None)]`; None when the key has no
/// brackets or a bracket does not hold a small number.
fn indexed_segments(key: &str) -> Option<Vec<(&str, Option<usize>)>> {
    if !key.contains('[') {
        return None;
    }
    let mut segments = Vec::new();
    let mut rest = key;
    while !rest.is_empty() {
        match rest.split_once('[') {
            Some((name, after)) => {
                let (index, tail) = after.split_once(']')?;
                if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let index: usize = index.parse().ok().filter(|i| *i < MAX_KEY_INDEX)?;
                segments.push((name, Some(index)));
                rest = tail;
            }
            None => {
                segments.push((rest, None));
                rest = "";
            }
        }
    }
    Some(segments)
}

/// Puts `value` under an indexed key (see `indexed_keys`); false when the key is not indexed.
/// As for flat keys, what is already there wins. `slots_left` is what remains of
/// [`MAX_INDEXED_SLOTS`]; a key that might exceed it is not indexed.
fn insert_indexed(
    top: &mut Map<String, Value>,
    key: &str,
    value: &Value,
    slots_left: &mut usize,
) -> bool {
    let Some(segments) = indexed_segments(key) else {
        return false;
    };
    // The most this key can add: every array grown to its index.
    let most_added: usize = segments.iter().filter_map(|(_, i)| *i).map(|i| i + 1).sum();
    if most_added > *slots_left {
        return false;
    }
    let mut map = top;
    let last = segments.len() - 1;
    for (position, (name, index)) in segments.into_iter().enumerate() {
        let Some(index) = index else {
            // Only the last segment has no index.
            map.entry(name.to_string()).or_insert_with(|| value.clone());
            return true;
        };
        let slot = map
            .entry(name.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        let Value::Array(items) = slot else {
            return true; // a plain key took the name first
        };
        if items.len() <= index {
            *slots_left -= index + 1 - items.len();
            items.resize(index + 1, Value::Object(Map::new()));
        }
        let item = &mut items[index];
        if position == last {
            if item.as_object().is_some_and(Map::is_empty) {
                *item = value.clone();
            }
            return true;
        }
        let Value::Object(next) = item else {
            return true; // `a[0]` held a value before `a[0]b` came
        };
        map = next;
    }
    true
}

/// Puts `value` under a key made of parts (see `nested_keys`); false when the key stays flat.
/// Each line adds at most one object per part, so the memory stays proportional to the answer.
fn insert_nested(top: &mut Map<String, Value>, key: &str, value: &Value, joint: &str) -> bool {
    if !key.contains(joint) {
        return false;
    }
    let parts: Vec<&str> = key.split(joint).collect();
    if parts.iter().any(|part| part.is_empty()) {
        return false;
    }
    let Some((last, leading)) = parts.split_last() else {
        return false;
    };
    let mut map = top;
    for part in leading {
        // A part met before holds a plain value: the key stays flat rather than being lost.
        // Objects are only created past the last part that existed, so this leaves no empty
        // object behind.
        let slot = map
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        let Value::Object(next) = slot else {
            return false;
        };
        map = next;
    }
    map.entry(last.to_string()).or_insert_with(|| value.clone());
    true
}

/// Splits one line into key and value, or None when it has no separator.
fn split_line<'a>(config: &KvConfig, line: &'a str) -> Option<(&'a str, &'a str)> {
    let line = match &config.line_prefix {
        Some(prefix) => line.strip_prefix(prefix.as_str())?,
        None => line,
    };
    let (key, value) = line.split_once(config.separator.as_str())?;
    if config.trim {
        Some((key.trim(), value.trim()))
    } else {
        Some((key, value))
    }
}

/// `keys=1,expires=0` → `{"keys": "1", "expires": "0"}` when every part is a pair.
fn split_value(split: &SplitValues, value: &str, trim: bool) -> Value {
    let mut object = Map::new();
    for part in value.split(split.pairs.as_str()) {
        let Some((k, v)) = part.split_once(split.kv.as_str()) else {
            return Value::String(value.to_string());
        };
        let (k, v) = if trim { (k.trim(), v.trim()) } else { (k, v) };
        object
            .entry(k.to_string())
            .or_insert_with(|| Value::String(v.to_string()));
    }
    Value::Object(object)
}

/// A line cut to a length fit for an error message.
pub(crate) fn shorten(line: &str) -> String {
    const MAX: usize = 60;
    match line.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::Reason;
    use serde_json::json;

    fn config(yaml: &str) -> KvConfig {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn apache_event() {
        let body = include_bytes!("../../tests/fixtures/raw/apache_status_auto_event.txt");
        // The first line is the bare host name.
        let e = parse(&KvConfig::default(), body).unwrap_err();
        assert_eq!(e.message, "line 1 has no \":\" separator: \"127.0.0.1\"");
        let value = parse(&config("skip_invalid_lines: true"), body).unwrap();
        assert_eq!(value["ServerMPM"], json!("event"));
        assert_eq!(value["ServerVersion"], json!("Apache/2.4.71 (Debian)"));
        assert_eq!(value["Total Accesses"], json!("6"));
        assert_eq!(value["DurationPerReq"], json!(".166667"));
        assert_eq!(value["ServerUptime"], json!(""));
        // The first separator splits: the time keeps its colons.
        assert_eq!(
            value["CurrentTime"],
            json!("Monday, 23-Nov-2026 14:20:38 UTC")
        );
        assert!(value["Scoreboard"]
            .as_str()
            .unwrap()
            .starts_with("____W___"));
        assert_eq!(value["ConnsAsyncKeepAlive"], json!("0"));
    }

    #[test]
    fn apache_prefork_and_worker() {
        let c = config("skip_invalid_lines: true");
        let prefork = include_bytes!("../../tests/fixtures/raw/apache_status_auto_prefork.txt");
        let value = parse(&c, prefork).unwrap();
        assert_eq!(value["ServerMPM"], json!("prefork"));
        assert!(value.get("ConnsTotal").is_none());
        let worker = include_bytes!("../../tests/fixtures/raw/apache_status_auto_worker.txt");
        let value = parse(&c, worker).unwrap();
        assert_eq!(value["ServerMPM"], json!("worker"));
        assert!(value["BusyWorkers"].is_string());
    }

    #[test]
    fn redis_flat() {
        let body = include_bytes!("../../tests/fixtures/raw/redis_info.txt");
        let value = parse(&config("comment_prefix: '#'"), body).unwrap();
        assert_eq!(value["redis_version"], json!("7.0.15"));
        assert_eq!(value["connected_clients"], json!("1"));
        assert_eq!(value["db0"], json!("keys=2,expires=1,avg_ttl=999900"));
        assert!(value.get("Server").is_none());
        assert!(value["used_memory"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok());
    }

    #[test]
    fn redis_sections_and_split_values() {
        let c =
            config("comment_prefix: '#'\nsections: true\nsplit_values: {pairs: ',', kv: '='}\n");
        let body = include_bytes!("../../tests/fixtures/raw/redis_info.txt");
        let value = parse(&c, body).unwrap();
        assert_eq!(value["Server"]["redis_mode"], json!("standalone"));
        assert_eq!(value["Clients"]["connected_clients"], json!("1"));
        assert_eq!(
            value["Keyspace"],
            json!({
                "db0": {"keys": "2", "expires": "1", "avg_ttl": "999900"},
                "db3": {"keys": "1", "expires": "0", "avg_ttl": "0"}
            })
        );
        // Values with `=` in only some parts stay strings.
        assert!(value["Server"]["executable"].is_string());
        assert!(value.get("connected_clients").is_none());
    }

    #[test]
    fn redis_wire_reply_with_length_line() {
        // What a tcp source reads: `$4951\r\n` then CRLF lines.
        let body = include_bytes!("../../tests/fixtures/raw/redis_info_wire.txt");
        let e = parse(&config("comment_prefix: '#'"), body).unwrap_err();
        assert!(
            e.message.starts_with("line 1 has no \":\" separator: \"$"),
            "{}",
            e.message
        );
        let c = config("comment_prefix: '#'\nsections: true\nskip_invalid_lines: true");
        let value = parse(&c, body).unwrap();
        assert_eq!(value["Server"]["redis_version"], json!("7.0.15"));
        // No `\r` left in values.
        assert_eq!(value["Server"]["redis_mode"], json!("standalone"));
    }

    #[test]
    fn memcached_stats() {
        let c = config("separator: ' '\nline_prefix: 'STAT '\nterminator_line: END\n");
        let body = include_bytes!("../../tests/fixtures/raw/memcached/stats.txt");
        let value = parse(&c, body).unwrap();
        assert_eq!(value["version"], json!("1.6.18"));
        assert_eq!(value["libevent"], json!("2.1.12-stable"));
        assert!(value["pid"].as_str().unwrap().parse::<u32>().is_ok());
        assert!(value["curr_connections"].is_string());
        // `END` ends the answer: anything after it is not read.
        let mut more = body.to_vec();
        more.extend_from_slice(b"garbage without prefix\r\n");
        assert_eq!(parse(&c, &more).unwrap(), value);
        // A line without the prefix is a line without a separator.
        let e = parse(&c, b"STAT pid 1\r\nERROR\r\n").unwrap_err();
        assert_eq!(e.message, "line 2 has no \" \" separator: \"ERROR\"");
    }

    #[test]
    fn memcached_items_and_slabs_nest_per_slab_class() {
        let c = config(
            "separator: ' '\nline_prefix: 'STAT '\nterminator_line: END\nnested_keys: ':'\n",
        );
        let items = parse(
            &c,
            include_bytes!("../../tests/fixtures/raw/memcached/items.txt"),
        )
        .unwrap();
        let classes: Vec<&String> = items["items"].as_object().unwrap().keys().collect();
        assert_eq!(classes, ["1", "15"]);
        assert_eq!(items["items"]["1"]["number"], json!("3"));
        assert_eq!(items["items"]["15"]["hits_to_hot"], json!("1"));
        assert_eq!(items.as_object().unwrap().len(), 1, "{items}");

        let slabs = parse(
            &c,
            include_bytes!("../../tests/fixtures/raw/memcached/slabs.txt"),
        )
        .unwrap();
        assert_eq!(slabs["1"]["chunk_size"], json!("96"));
        assert_eq!(slabs["15"]["used_chunks"], json!("2"));
        assert_eq!(slabs["total_malloced"], json!("2097152"));
        assert_eq!(slabs["active_slabs"], json!("2"));

        // `stats settings` has a value with the joint in it, not a key: untouched.
        let settings = parse(
            &c,
            include_bytes!("../../tests/fixtures/raw/memcached/settings.txt"),
        )
        .unwrap();
        assert_eq!(settings["stat_key_prefix"], json!(":"));
    }

    #[test]
    fn nested_keys_edge_cases() {
        let c = config("nested_keys: '.'");
        let value = parse(
            &c,
            b"a.b: 1\na.b: dup\na.c.d: 2\nx: plain\nx.y: kept flat\n.lead: 3\ntrail.: 4\nm..n: 5\na.c: lost\n",
        )
        .unwrap();
        assert_eq!(
            value,
            json!({
                "a": {"b": "1", "c": {"d": "2"}},
                "x": "plain",
                "x.y": "kept flat",
                ".lead": "3",
                "trail.": "4",
                "m..n": "5"
            })
        );
        // With sections, the nesting happens inside the section.
        let c = config("{comment_prefix: '#', sections: true, nested_keys: '.'}");
        let value = parse(&c, b"# S\na.b: 1\n").unwrap();
        assert_eq!(value, json!({"S": {"a": {"b": "1"}}}));
        for bad in ["nested_keys: ''", "{nested_keys: ':', indexed_keys: true}"] {
            assert!(serde_yaml::from_str::<KvConfig>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_key_wins_and_trim() {
        let value = parse(&KvConfig::default(), b"a: 1\na: 2\n b :  x y \n").unwrap();
        assert_eq!(value, json!({"a": "1", "b": "x y"}));
        let value = parse(&config("trim: false"), b"a: 1\n").unwrap();
        assert_eq!(value, json!({"a": " 1"}));
    }

    #[test]
    fn sections_edge_cases() {
        let c = config("comment_prefix: '#'\nsections: true");
        let value = parse(&c, b"top:1\n# A\nx:1\n# B\nx:2\n# A\ny:3\n").unwrap();
        assert_eq!(
            value,
            json!({"top": "1", "A": {"x": "1", "y": "3"}, "B": {"x": "2"}})
        );
        // A plain key named like a later section keeps its value; the section's keys go to the
        // top level rather than being lost silently.
        let value = parse(&c, b"A:1\n# A\nx:1\n").unwrap();
        assert_eq!(value, json!({"A": "1", "x": "1"}));
    }

    #[test]
    fn bad_input() {
        let e = parse(&KvConfig::default(), b"ok: 1\n\xff\xfe: 2\n").unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert!(e.message.contains("not UTF-8"), "{}", e.message);
        let e = parse(&KvConfig::default(), b"<html><body>Not Found</body></html>").unwrap_err();
        assert!(e.message.starts_with("line 1 has no"), "{}", e.message);
        assert_eq!(parse(&KvConfig::default(), b"").unwrap(), json!({}));
        // Skipping invalid lines still needs at least one pair.
        let c = config("skip_invalid_lines: true");
        let e = parse(&c, b"HTTP/1.0 400 Bad\r\n\r\ngarbage\r\n").unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert!(
            e.message
                .contains("not key/value text (line 1: \"HTTP/1.0 400 Bad\")"),
            "{}",
            e.message
        );
        assert_eq!(parse(&c, b"junk\r\na:1\r\n").unwrap(), json!({"a": "1"}));
        let long = "x".repeat(500);
        let e = parse(&KvConfig::default(), long.as_bytes()).unwrap_err();
        assert!(e.message.len() < 120, "{}", e.message);
    }

    #[test]
    fn indexed_keys_nest() {
        let body =
            include_bytes!("../../tests/fixtures/raw/apache_status_auto_event_ssl_proxy.txt");
        let value = parse(
            &config("{skip_invalid_lines: true, indexed_keys: true}"),
            body,
        )
        .unwrap();
        let balancer = &value["ProxyBalancer"][0];
        assert_eq!(balancer["Name"], json!("balancer://backend"));
        assert_eq!(
            balancer["Worker"][1]["Name"],
            json!("http://127.0.0.1:18099")
        );
        assert_eq!(balancer["Worker"][1]["Status"], json!("Init Err"));
        assert_eq!(balancer["Worker"][0]["Rcvd"], json!("9000K"));
        // The TLS session cache lines are plain keys.
        assert_eq!(value["CacheType"], json!("SHMCB"));
        let flat = parse(&config("skip_invalid_lines: true"), body).unwrap();
        assert_eq!(flat["ProxyBalancer[0]Worker[0]Elected"], json!("23"));
    }

    #[test]
    fn indexed_keys_edge_cases() {
        let c = config("indexed_keys: true");
        let value = parse(
            &c,
            b"a[2]x: 1\na[2]x: dup\nb[x]: flat\nc[99999]: flat\nd: plain\nd[0]: lost\ne[0]: v\ne[0]y: lost\n[1]: anon\nf[0: open\n",
        )
        .unwrap();
        assert_eq!(value["a"], json!([{}, {}, {"x": "1"}]));
        assert_eq!(value["b[x]"], json!("flat"));
        assert_eq!(value["c[99999]"], json!("flat"));
        assert_eq!(value["d"], json!("plain"));
        assert_eq!(value["e"], json!(["v"]));
        assert_eq!(value[""], json!([{}, "anon"]));
        assert_eq!(value["f[0"], json!("open"));
    }

    /// Each short line adds up to 10 000 gap objects: 100 000 such lines once took gigabytes.
    /// Past the budget, keys stay flat.
    #[test]
    fn indexed_keys_are_bounded_in_total() {
        let c = config("indexed_keys: true");
        let body: String = (0..1000).map(|i| format!("a[{i}]b[9999]: x\n")).collect();
        let value = parse(&c, body.as_bytes()).unwrap();
        let indexed: usize = value["a"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["b"].as_array())
            .map(Vec::len)
            .sum();
        assert!(indexed <= MAX_INDEXED_SLOTS, "{indexed}");
        assert_eq!(value["a"][0]["b"][9999], json!("x"));
        assert_eq!(value["a[999]b[9999]"], json!("x"));
    }

    #[test]
    fn required_keys_give_their_sentence() {
        let c = config(
            "{skip_invalid_lines: true, required_keys: {Scoreboard: 'add ?auto to the URL'}}",
        );
        let html = include_bytes!("../../tests/fixtures/raw/apache_status_html.html");
        let e = parse(&c, html).unwrap_err();
        assert_eq!(e.reason, Reason::Parse);
        assert_eq!(e.message, "add ?auto to the URL");
        let auto = include_bytes!("../../tests/fixtures/raw/apache_status_auto_extended_off.txt");
        assert!(parse(&c, auto).is_ok());
    }
}
