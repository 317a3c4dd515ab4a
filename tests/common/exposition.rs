//! Comparing an exposition with a peer exporter's, series by series.

use std::collections::{BTreeMap, BTreeSet};

/// Families (name → type) and series (`name{labels}` as written → value) of an exposition.
pub struct Exposition {
    /// Family name → type.
    pub types: BTreeMap<String, String>,
    /// `name{labels}` as written → value.
    pub series: BTreeMap<String, f64>,
}

/// Reads an exposition in the text format.
pub fn parse(text: &str) -> Exposition {
    let mut types = BTreeMap::new();
    let mut series = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            types.insert(name.to_string(), kind.to_string());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let (key, value) = line.rsplit_once(' ').unwrap();
            series.insert(key.to_string(), value.parse().unwrap());
        }
    }
    Exposition { types, series }
}

/// The family a series key belongs to.
pub fn family(series: &str) -> &str {
    series.split('{').next().unwrap()
}

/// Diffs our series against the peer's, restricted to the families we emit with `prefix`:
/// types and series keys (names and label sets) exactly, values exactly except for the
/// series `moving` accepts (for counters ours, read later, must not be smaller). Returns the
/// peer's families with `prefix` that we do not emit. `ignore_peer` drops peer series (e.g. the
/// zero series redis_exporter adds for empty databases).
pub fn compare(
    peer: &Exposition,
    ours: &Exposition,
    prefix: &str,
    moving: impl Fn(&str) -> bool,
    ignore_peer: impl Fn(&str, f64) -> bool,
) -> BTreeSet<String> {
    let emitted: BTreeSet<&String> = ours
        .types
        .keys()
        .filter(|f| f.starts_with(prefix))
        .collect();
    let mut problems = Vec::new();
    for name in &emitted {
        if peer.types.get(*name) != ours.types.get(*name) {
            problems.push(format!(
                "type of {name}: peer {:?}, ours {:?}",
                peer.types.get(*name),
                ours.types.get(*name)
            ));
        }
    }
    for (key, value) in &peer.series {
        if !emitted.contains(&family(key).to_string()) || ignore_peer(key, *value) {
            continue;
        }
        match ours.series.get(key) {
            None => problems.push(format!("only the peer has {key}")),
            Some(ours_value) if moving(key) => {
                if ours.types[family(key)] == "counter" && ours_value < value {
                    problems.push(format!(
                        "counter {key} went down: peer {value}, ours {ours_value}"
                    ));
                }
            }
            Some(ours_value) if ours_value != value => {
                problems.push(format!("{key}: peer {value}, ours {ours_value}"))
            }
            Some(_) => {}
        }
    }
    for key in ours.series.keys() {
        if emitted.contains(&family(key).to_string()) && !peer.series.contains_key(key) {
            problems.push(format!("only we have {key}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    peer.types
        .keys()
        .filter(|f| f.starts_with(prefix) && !emitted.contains(f))
        .cloned()
        .collect()
}
