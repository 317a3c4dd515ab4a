//! Where a key or list item stands in a YAML text, for errors found after parsing (a kind's key,
//! a preset's key, a duplicate name).
//!
//! The values are handed around as `serde_yaml::Value`, which keeps no positions. Rather than
//! parse the text a second time with another YAML reader (whose idea of a position could differ),
//! this walks the text with serde_yaml's own deserializer to the wanted node and stops there with
//! an error: serde_yaml stamps every error with the position of the event it arose at, so the
//! error's location is the node's.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The value under a mapping key (the position is the key's).
    Key(String),
    /// An item of a sequence.
    Index(usize),
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Key(key) => f.write_str(key),
            Step::Index(index) => write!(f, "[{index}]"),
        }
    }
}

/// Writes a path as `collectors[0].tls_config.ca_file`.
pub fn path_text(path: &[Step]) -> String {
    let mut text = String::new();
    for step in path {
        if matches!(step, Step::Key(_)) && !text.is_empty() {
            text.push('.');
        }
        text.push_str(&step.to_string());
    }
    text
}

/// The 1-based line and column of the node at `path` (of its key, for a mapping value), or of
/// the deepest part of the path that exists.
pub fn locate(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    (0..=path.len())
        .rev()
        .find_map(|len| locate_exactly(text, &path[..len]))
}

fn locate_exactly(text: &str, path: &[Step]) -> Option<(usize, usize)> {
    let deserializer = serde_yaml::Deserializer::from_str(text);
    match Walk(path).deserialize(deserializer) {
        // serde_yaml puts the path in front of the message.
        Err(error) if error.to_string().contains(FOUND) => error
            .location()
            .map(|location| (location.line(), location.column())),
        _ => None,
    }
}

/// The error that ends a walk at its goal.
const FOUND: &str = "(the node looked for is here)";

fn found<E: de::Error>() -> E {
    E::custom(FOUND)
}

struct Walk<'p>(&'p [Step]);

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        match self.0.first() {
            None => deserializer.deserialize_any(Here),
            Some(Step::Key(_)) => deserializer.deserialize_map(self),
            Some(Step::Index(_)) => deserializer.deserialize_seq(self),
        }
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping or sequence")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (Some(Step::Key(wanted)), rest) = (self.0.first(), &self.0[1..]) else {
            return Ok(());
        };
        while let Some(matched) = map.next_key_seed(KeyIs {
            wanted,
            stop_here: rest.is_empty(),
        })? {
            if matched {
                return map.next_value_seed(Walk(rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let (Some(Step::Index(wanted)), rest) = (self.0.first(), &self.0[1..]) else {
            return Ok(());
        };
        for _ in 0..*wanted {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(Walk(rest))?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Stops at whatever node it is given.
struct Here;

impl<'de> Visitor<'de> for Here {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any node")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(found())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(found())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(found())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(found())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(found())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(found())
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(found())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(found())
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(found())
    }
}

/// Reads a mapping key: true when it is the wanted one; at the end of the path, stops on it.
struct KeyIs<'w> {
    wanted: &'w str,
    stop_here: bool,
}

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl KeyIs<'_> {
    fn compare<E: de::Error>(&self, key: &str) -> Result<bool, E> {
        match key == self.wanted {
            true if self.stop_here => Err(found()),
            matched => Ok(matched),
        }
    }
}

impl<'de> Visitor<'de> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        self.compare(key)
    }
    fn visit_bool<E: de::Error>(self, key: bool) -> Result<bool, E> {
        self.compare(&key.to_string())
    }
    fn visit_i64<E: de::Error>(self, key: i64) -> Result<bool, E> {
        self.compare(&key.to_string())
    }
    fn visit_u64<E: de::Error>(self, key: u64) -> Result<bool, E> {
        self.compare(&key.to_string())
    }
    fn visit_f64<E: de::Error>(self, key: f64) -> Result<bool, E> {
        self.compare(&key.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(k: &str) -> Step {
        Step::Key(k.to_string())
    }

    const TEXT: &str = "\
global:
  labels: {a: b, 'c': d}
collectors:
  - name: one
    kind: file
  - name: two
    preset: nginx
    tls_config:
      ca_file: /x
    metrics:
      - {name: m, path: '{.a}'}
      - name: n
        path: '{.b}'
";

    #[test]
    fn finds_keys_items_and_nested_values() {
        assert_eq!(locate(TEXT, &[key("global")]), Some((1, 1)));
        assert_eq!(
            locate(TEXT, &[key("global"), key("labels"), key("c")]),
            Some((2, 18))
        );
        assert_eq!(
            locate(TEXT, &[key("collectors"), Step::Index(1)]),
            Some((6, 5))
        );
        let nested = [
            key("collectors"),
            Step::Index(1),
            key("tls_config"),
            key("ca_file"),
        ];
        assert_eq!(locate(TEXT, &nested), Some((9, 7)));
        let second_rule = [
            key("collectors"),
            Step::Index(1),
            key("metrics"),
            Step::Index(1),
            key("path"),
        ];
        assert_eq!(locate(TEXT, &second_rule), Some((13, 9)));
        assert_eq!(path_text(&second_rule), "collectors[1].metrics[1].path");
    }

    #[test]
    fn a_missing_step_gives_the_deepest_that_exists() {
        let missing = [key("collectors"), Step::Index(0), key("nope")];
        assert_eq!(locate(TEXT, &missing), Some((4, 5)));
        let past_the_end = [key("collectors"), Step::Index(7)];
        assert_eq!(locate(TEXT, &past_the_end), Some((3, 1)));
        assert_eq!(locate("", &[key("a")]), None);
    }
}
