//! Handing a collector's own keys to its kind, with positions.
//!
//! The loader reads the keys every collector has ([`super::CollectorConfig`]) and merges the
//! preset; the rest belong to the kind, which reads them into its own config structs, one part at
//! a time ([`KindKeys::take`]): the HTTP request keys, the format and mapping keys, the kind's
//! own. What no part took is an unknown key ([`KindKeys::finish`]). Every error points at the
//! key's line and column, in the preset's file when the key came from the preset, and lists only
//! the keys the kind accepts.

use serde::de::{self, DeserializeOwned, Visitor};
use serde::forward_to_deserialize_any;
use serde_yaml::{Mapping, Value};

use super::load::{ConfigError, LoadedConfig};
use super::locate::{path_text, Step};

/// What is wrong with a kind's keys once they are read (a URL that does not parse, a file that
/// cannot be read, two keys that exclude each other), and which key it is about, so that the
/// error points at that key's line rather than at the collector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// The path of the key at fault below the collector (`[Key("tls_config"),
    /// Key("ca_file")]`); empty when the collector as a whole is at fault.
    pub path: Vec<Step>,
    /// What is wrong and what would be valid; it names the key.
    pub message: String,
}

impl KeyError {
    /// An error about the top-level key `key`.
    pub fn at(key: &str, message: impl Into<String>) -> Self {
        KeyError {
            path: vec![Step::Key(key.to_string())],
            message: message.into(),
        }
    }

    /// The same error, one level deeper: below `key` (an error of `tls_config`'s own keys,
    /// raised where only those are known, is `.below("tls_config")`).
    pub fn below(mut self, key: &str) -> Self {
        self.path.insert(0, Step::Key(key.to_string()));
        self
    }

    /// The same error, below item `index` of a list.
    pub fn in_item(mut self, index: usize) -> Self {
        self.path.insert(0, Step::Index(index));
        self
    }
}

/// An error about the collector as a whole.
impl From<String> for KeyError {
    fn from(message: String) -> Self {
        KeyError {
            path: Vec::new(),
            message,
        }
    }
}

impl From<&str> for KeyError {
    fn from(message: &str) -> Self {
        KeyError::from(message.to_string())
    }
}

impl std::fmt::Display for KeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for KeyError {}

/// The kind-specific keys of one collector, for its kind to read.
pub struct KindKeys<'a> {
    config: &'a LoadedConfig,
    index: usize,
    kind: &'static str,
    remaining: Mapping,
    accepted: Vec<&'static str>,
}

impl<'a> KindKeys<'a> {
    /// The keys of collector `index` of `config`, read as kind `kind`.
    pub fn new(config: &'a LoadedConfig, index: usize, kind: &'static str) -> Self {
        KindKeys {
            config,
            index,
            kind,
            remaining: config.collectors[index].options.clone(),
            accepted: Vec::new(),
        }
    }

    /// Reads the keys that the struct `T` declares (all of them optional or defaulted: a part
    /// may be absent) and removes them from the keys still to read.
    pub fn take<T: DeserializeOwned>(&mut self) -> Result<T, ConfigError> {
        let fields = struct_fields::<T>();
        self.accepted.extend_from_slice(fields);
        let mut part = Mapping::new();
        for field in fields {
            if let Some((key, value)) = self.remaining.remove_entry(*field) {
                part.insert(key, value);
            }
        }
        read_part(part).map_err(|(path, message)| self.error_at(&path, message))
    }

    /// Refuses the first key that no part took, listing the keys this kind accepts.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        let Some(key) = self.remaining.keys().next() else {
            return Ok(());
        };
        let key = match key {
            Value::String(text) => text.clone(),
            other => serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        };
        let expected: Vec<String> = self.accepted.iter().map(|k| format!("`{k}`")).collect();
        let message = format!(
            "unknown key `{key}`, expected one of {} (or a key every collector has: {})",
            expected.join(", "),
            struct_fields::<super::CollectorConfig>()
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        Err(self.error_at(&[Step::Key(key)], message))
    }

    /// A [`KeyError`] of this collector, pointing at its key, or at the collector's definition
    /// when it is about the collector as a whole (a key missing).
    pub fn error(&self, error: impl Into<KeyError>) -> ConfigError {
        let error = error.into();
        if !error.path.is_empty() {
            return self.error_at(&error.path, error.message);
        }
        let name = &self.config.collectors[self.index].config.name;
        self.config
            .error_at_collector(self.index, format!("collector `{name}`: {}", error.message))
    }

    /// An error about the value at `path` (below the collector), pointing at it: in the
    /// preset's file when the key came from the preset.
    pub fn error_at(&self, path: &[Step], message: impl std::fmt::Display) -> ConfigError {
        let collector = &self.config.collectors[self.index];
        let preset = match &collector.config.preset {
            Some(name) => format!(", preset `{name}`"),
            None => String::new(),
        };
        self.config.error_at(
            self.index,
            path,
            format!(
                "collectors[{}] ({}{preset}): {message}",
                collector.index, self.kind
            ),
        )
    }
}

/// Deserializes one part of a collector's keys; an error comes with the path to the value at
/// fault (`tls_config.ca_file`, `metrics[2].valuetype`) and a message that starts with it.
pub(super) fn read_part<T: DeserializeOwned>(part: Mapping) -> Result<T, (Vec<Step>, String)> {
    serde_path_to_error::deserialize(Value::Mapping(part)).map_err(|error| {
        let path: Vec<Step> = error
            .path()
            .iter()
            .filter_map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => Some(Step::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(Step::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => Some(Step::Key(variant.clone())),
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        let message = match path.is_empty() {
            true => error.into_inner().to_string(),
            false => format!("{}: {}", path_text(&path), error.into_inner()),
        };
        (path, message)
    })
}

/// The keys a struct deriving `Deserialize` accepts, as serde's derive passes them to
/// `deserialize_struct`.
pub fn struct_fields<T: DeserializeOwned>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    // The probe always ends in an error once it has seen the field list; that error is expected.
    let _ = T::deserialize(FieldProbe(&mut fields));
    fields
}

struct FieldProbe<'f>(&'f mut &'static [&'static str]);

impl<'de> de::Deserializer<'de> for FieldProbe<'_> {
    type Error = de::value::Error;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(de::Error::custom("not a struct"))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = fields;
        Err(de::Error::custom("fields read"))
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Part {
        url: Option<String>,
        #[serde(default)]
        retries: u32,
    }

    #[test]
    fn struct_fields_lists_the_derived_keys() {
        assert_eq!(struct_fields::<Part>(), &["url", "retries"]);
        assert!(struct_fields::<u32>().is_empty());
    }
}
