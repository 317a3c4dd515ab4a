//! Loading a config file: read, expand `${VAR}`, parse, follow includes, apply presets, validate.
//! Every error names the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::expand::expand_env;
use super::model::{CollectorConfig, Config, GlobalConfig, IncludedFile};
use crate::config::presets;
use crate::model::is_valid_label_name;

/// A config error with its position: `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (as given, or `<embedded default>`).
    pub file: String,
    /// 1-based line (0 when the error concerns the whole file).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong and what would be valid.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for ConfigError {}

/// One file the config was read from, with its text (after expansion), so that later checks
/// can point into it and the watcher can tell when it changed.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as named (or `<embedded default>`).
    pub name: String,
    /// The text as read, before `${VAR}` expansion.
    pub raw: String,
    /// The text after expansion, which positions refer to.
    pub expanded: String,
}

/// A collector with the file it came from.
#[derive(Debug, Clone)]
pub struct LoadedCollector {
    /// The collector, with its preset applied.
    pub config: CollectorConfig,
    /// The keys the collector (and its preset) set, for the per-kind key check.
    pub keys: Vec<String>,
    /// Index into [`LoadedConfig::files`].
    pub file: usize,
}

/// A loaded, validated configuration.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The `global:` settings.
    pub global: GlobalConfig,
    /// Every collector, in file order (includes after the main file), disabled ones included.
    pub collectors: Vec<LoadedCollector>,
    /// The files read, main file first.
    pub files: Vec<SourceFile>,
}

/// The embedded default configuration: one process group per process name.
pub const DEFAULT_CONFIG: &str = include_str!("default.yaml");
/// The name errors use for the embedded default.
pub const DEFAULT_CONFIG_NAME: &str = "<embedded default>";

impl LoadedConfig {
    /// Points at the line where collector `name` is defined, for errors found after parsing.
    pub fn error_at_collector(&self, index: usize, message: impl Into<String>) -> ConfigError {
        let collector = &self.collectors[index];
        let file = &self.files[collector.file];
        let (line, column) = find_collector(&file.expanded, &collector.config.name);
        ConfigError {
            file: file.name.clone(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// Loads the file at `path` (or the embedded default when `None`) with the process environment.
pub fn load(path: Option<&Path>) -> Result<LoadedConfig, ConfigError> {
    match path {
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read the config file: {e}"),
            })?;
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            load_bytes(&path.display().to_string(), &bytes, &dir, &env_lookup)
        }
        None => load_bytes(
            DEFAULT_CONFIG_NAME,
            DEFAULT_CONFIG.as_bytes(),
            Path::new("."),
            &env_lookup,
        ),
    }
}

fn env_lookup(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads a config from its bytes; `dir` resolves relative include patterns.
pub fn load_bytes(
    name: &str,
    bytes: &[u8],
    dir: &Path,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let file = read_source(name, bytes, lookup)?;
    let main: Config = parse_yaml(&file)?;
    let main_values = collector_values(&file)?;
    let mut files = vec![file];
    let mut raw_collectors: Vec<(CollectorConfig, serde_yaml::Mapping, usize)> = main
        .collectors
        .into_iter()
        .zip(main_values)
        .map(|(config, value)| (config, value, 0))
        .collect();

    for (index, pattern) in main.include.iter().enumerate() {
        for path in expand_include(&files[0], index, pattern, dir)? {
            let bytes = std::fs::read(&path).map_err(|e| ConfigError {
                file: path.display().to_string(),
                line: 0,
                column: 0,
                message: format!("cannot read the included file: {e}"),
            })?;
            let included = read_source(&path.display().to_string(), &bytes, lookup)?;
            let parsed: IncludedFile = parse_yaml(&included)?;
            let values = collector_values(&included)?;
            files.push(included);
            let file_index = files.len() - 1;
            raw_collectors.extend(
                parsed
                    .collectors
                    .into_iter()
                    .zip(values)
                    .map(|(c, v)| (c, v, file_index)),
            );
        }
    }

    let mut collectors = Vec::with_capacity(raw_collectors.len());
    for (config, mapping, file_index) in raw_collectors {
        let file = &files[file_index];
        let loaded = apply_preset(config, mapping, file_index, file)?;
        collectors.push(loaded);
    }
    let loaded = LoadedConfig {
        global: main.global,
        collectors,
        files,
    };
    validate(&loaded)?;
    Ok(loaded)
}

fn read_source(
    name: &str,
    bytes: &[u8],
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<SourceFile, ConfigError> {
    let raw = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_column(bytes, e.valid_up_to());
        ConfigError {
            file: name.to_string(),
            line,
            column,
            message: "the file is not valid UTF-8 (save it as UTF-8)".into(),
        }
    })?;
    let expanded = expand_env(raw, lookup).map_err(|e| ConfigError {
        file: name.to_string(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    Ok(SourceFile {
        name: name.to_string(),
        raw: raw.to_string(),
        expanded,
    })
}

fn line_column(bytes: &[u8], offset: usize) -> (usize, usize) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}

fn parse_yaml<T: DeserializeOwned + Default>(file: &SourceFile) -> Result<T, ConfigError> {
    if file.expanded.trim().is_empty() {
        return Ok(T::default());
    }
    serde_yaml::from_str(&file.expanded).map_err(|e| yaml_error(&file.name, &e))
}

pub(crate) fn yaml_error(file: &str, error: &serde_yaml::Error) -> ConfigError {
    let text = error.to_string();
    // serde_yaml appends " at line L column C"; the position goes in front instead.
    let message = match text.rfind(" at line ") {
        Some(at) if error.location().is_some() => text[..at].to_string(),
        _ => text,
    };
    let (line, column) = error.location().map_or((0, 0), |l| (l.line(), l.column()));
    ConfigError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// The collectors of a file as untyped YAML mappings, to learn which keys each one set.
fn collector_values(file: &SourceFile) -> Result<Vec<serde_yaml::Mapping>, ConfigError> {
    if file.expanded.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_yaml::Value =
        serde_yaml::from_str(&file.expanded).map_err(|e| yaml_error(&file.name, &e))?;
    let list = value
        .get("collectors")
        .and_then(|c| c.as_sequence())
        .cloned()
        .unwrap_or_default();
    Ok(list
        .into_iter()
        .map(|v| v.as_mapping().cloned().unwrap_or_default())
        .collect())
}

fn expand_include(
    main: &SourceFile,
    index: usize,
    pattern: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, ConfigError> {
    let error = |message: String| {
        let (line, column) = find_text(&main.expanded, pattern);
        ConfigError {
            file: main.name.clone(),
            line,
            column,
            message,
        }
    };
    let full = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        dir.join(pattern)
    };
    let full_text = full.to_string_lossy().to_string();
    let paths = glob::glob(&full_text).map_err(|e| {
        error(format!(
            "include[{index}]: {pattern:?} is not a valid glob pattern: {e}"
        ))
    })?;
    let mut found: Vec<PathBuf> = paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    let is_pattern = pattern.contains(['*', '?', '[']);
    if found.is_empty() && !is_pattern {
        return Err(error(format!(
            "include[{index}]: {full_text} does not exist"
        )));
    }
    Ok(found)
}

fn apply_preset(
    config: CollectorConfig,
    mapping: serde_yaml::Mapping,
    file_index: usize,
    file: &SourceFile,
) -> Result<LoadedCollector, ConfigError> {
    let own_keys = || {
        mapping
            .keys()
            .filter_map(|k| k.as_str().map(str::to_string))
    };
    let Some(preset_name) = config.preset.clone() else {
        return Ok(LoadedCollector {
            config,
            keys: own_keys().collect(),
            file: file_index,
        });
    };
    let error = |message: String| {
        let (line, column) = find_text(&file.expanded, &format!("preset: {preset_name}"));
        ConfigError {
            file: file.name.clone(),
            line,
            column,
            message,
        }
    };
    let preset = presets::find(&preset_name).ok_or_else(|| {
        error(format!(
            "collector `{}`: unknown preset `{preset_name}`, expected one of {}",
            config.name,
            presets::names().join(", ")
        ))
    })?;
    let mut merged = preset
        .mapping()
        .map_err(|e| error(format!("preset `{preset_name}` is broken: {e}")))?;
    for (key, value) in mapping {
        merged.insert(key, value);
    }
    merged.remove("preset");
    merged.remove("description");
    merged.remove("detect");
    let keys = merged
        .keys()
        .filter_map(|k| k.as_str().map(str::to_string))
        .collect();
    let mut merged_config: CollectorConfig =
        serde_yaml::from_value(serde_yaml::Value::Mapping(merged)).map_err(|e| {
            error(format!(
                "collector `{}` with preset `{preset_name}`: {e}",
                config.name
            ))
        })?;
    merged_config.preset = Some(preset_name);
    Ok(LoadedCollector {
        config: merged_config,
        keys,
        file: file_index,
    })
}

fn validate(config: &LoadedConfig) -> Result<(), ConfigError> {
    let main = &config.files[0];
    for name in config.global.labels.keys() {
        if !is_valid_label_name(name) {
            let (line, column) = find_text(&main.expanded, name);
            return Err(ConfigError {
                file: main.name.clone(),
                line,
                column,
                message: format!(
                    "global.labels: `{name}` is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                ),
            });
        }
    }
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, collector) in config.collectors.iter().enumerate() {
        let name = collector.config.name.as_str();
        if !is_valid_collector_name(name) {
            let message = if name.is_empty() {
                format!("collectors[{index}]: missing field `name`")
            } else {
                format!("collector name `{name}` is not valid: expected [a-zA-Z_][a-zA-Z0-9_-]*")
            };
            return Err(config.error_at_collector(index, message));
        }
        if let Some(first) = seen.insert(name, index) {
            let first_file = &config.files[config.collectors[first].file];
            let (line, _) = find_collector(&first_file.expanded, name);
            // The second definition is the one to point at.
            let file = &config.files[collector.file];
            let (l2, c2) = find_nth_collector(
                &file.expanded,
                name,
                if first_file.name == file.name { 1 } else { 0 },
            );
            return Err(ConfigError {
                file: file.name.clone(),
                line: l2,
                column: c2,
                message: format!(
                    "duplicate collector name `{name}` (first defined at {}:{line}); names must be unique",
                    first_file.name
                ),
            });
        }
        if let Some(other) = colliding_collector(config, index) {
            return Err(config.error_at_collector(
                index,
                format!(
                    "collectors `{other}` and `{name}` would emit the same series (same {} and the same labels); give them distinguishing `labels:`, e.g. labels: {{instance: {name}}}",
                    collector.config.preset.as_ref().map_or("kind".to_string(), |p| format!("preset `{p}`"))
                ),
            ));
        }
        if let Some(up_metric) = &collector.config.up_metric {
            if !crate::model::is_valid_metric_name(up_metric) {
                return Err(config.error_at_collector(
                    index,
                    format!("collector `{name}`: up_metric: `{up_metric}` is not a valid metric name ([a-zA-Z_:][a-zA-Z0-9_:]*)"),
                ));
            }
        }
        for label in collector.config.labels.keys() {
            if !is_valid_label_name(label) {
                return Err(config.error_at_collector(
                    index,
                    format!("collector `{name}`: labels: `{label}` is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"),
                ));
            }
        }
    }
    Ok(())
}

/// An earlier enabled collector whose series would collide with collector `index`'s: both use
/// the same preset (or are both `process` collectors) with the same constant labels.
fn colliding_collector(config: &LoadedConfig, index: usize) -> Option<&str> {
    let this = &config.collectors[index].config;
    let family_source = |c: &CollectorConfig| match (&c.preset, c.kind.as_deref()) {
        (Some(preset), _) => Some(format!("preset {preset}")),
        (None, Some("process")) => Some("process".to_string()),
        _ => None,
    };
    let enabled = |c: &CollectorConfig| c.enabled != Some(false);
    let source = family_source(this)?;
    if !enabled(this) {
        return None;
    }
    config.collectors[..index]
        .iter()
        .map(|c| &c.config)
        .find(|other| {
            enabled(other)
                && family_source(other).as_ref() == Some(&source)
                && other.labels == this.labels
        })
        .map(|other| other.name.as_str())
}

/// True for `[a-zA-Z_][a-zA-Z0-9_-]*`.
pub fn is_valid_collector_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Line and column of the first occurrence of `needle` (1, 1 when absent).
pub fn find_text(text: &str, needle: &str) -> (usize, usize) {
    text.find(needle)
        .map_or((1, 1), |offset| line_column(text.as_bytes(), offset))
}

fn find_collector(text: &str, name: &str) -> (usize, usize) {
    find_nth_collector(text, name, 0)
}

/// Position of the `n`-th `name: <name>` line (0-based), pointing at the `name` key.
fn find_nth_collector(text: &str, name: &str, n: usize) -> (usize, usize) {
    let mut found = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start().trim_start_matches('-').trim_start();
        if let Some(value) = trimmed.strip_prefix("name:") {
            let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
            if value == name {
                if found == n {
                    let column = line.len() - trimmed.len();
                    return line_column(text.as_bytes(), offset + column);
                }
                found += 1;
            }
        }
        offset += line.len();
    }
    (1, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<LoadedConfig, ConfigError> {
        load_bytes("test.yaml", text.as_bytes(), Path::new("."), &|name| {
            (name == "HOST").then(|| "127.0.0.1".to_string())
        })
    }

    #[test]
    fn embedded_default_loads() {
        let config = load(None).unwrap();
        assert!(!config.collectors.is_empty());
    }

    #[test]
    fn unknown_key_names_position_and_valid_keys() {
        let err =
            load_text("collectors:\n  - name: a\n    kind: file\n    pathh: /x\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(err.message.contains("unknown field `pathh`"), "{err}");
        assert!(err.message.contains("expected one of"), "{err}");
        assert!(err.to_string().starts_with("test.yaml:4:5: "), "{err}");
    }

    #[test]
    fn wrong_type_is_reported_with_position() {
        let err = load_text("collectors:\n  - name: a\n    enabled: maybe\n").unwrap_err();
        assert_eq!(err.line, 3, "{err}");
        assert!(err.message.contains("enabled"), "{err}");
    }

    #[test]
    fn bad_duration_is_reported_with_position() {
        let err = load_text("global:\n  scrape_timeout: 5 seconds\n").unwrap_err();
        assert_eq!(err.line, 2, "{err}");
        assert!(err.message.contains("invalid duration"), "{err}");
    }

    #[test]
    fn duplicate_collector_name_points_at_second() {
        let text = "collectors:\n  - name: a\n    kind: file\n  - name: a\n    kind: file\n";
        let err = load_text(text).unwrap_err();
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(
            err.message.contains("duplicate collector name `a`"),
            "{err}"
        );
    }

    #[test]
    fn invalid_collector_name_and_label_name() {
        let err = load_text("collectors:\n  - name: 9lives\n    kind: file\n").unwrap_err();
        assert!(err.message.contains("not valid"), "{err}");
        let err = load_text("global:\n  labels:\n    bad-label: x\n").unwrap_err();
        assert!(
            err.message
                .contains("`bad-label` is not a valid label name"),
            "{err}"
        );
        assert_eq!(err.line, 3);
    }

    #[test]
    fn unset_variable_is_an_error_and_set_one_expands() {
        let err = load_text("global:\n  labels:\n    pod: ${POD}\n").unwrap_err();
        assert_eq!((err.line, err.column), (3, 10), "{err}");
        let ok = load_text("global:\n  labels:\n    host: ${HOST}\n").unwrap();
        assert_eq!(ok.global.labels["host"], "127.0.0.1");
    }

    #[test]
    fn non_utf8_file_is_refused_with_position() {
        let err = load_bytes(
            "bad.yaml",
            b"global:\n  labels: {a: \"\xff\"}\n",
            Path::new("."),
            &|_| None,
        )
        .unwrap_err();
        assert_eq!((err.line, err.column), (2, 16), "{err}");
        assert!(err.message.contains("UTF-8"));
    }

    #[test]
    fn missing_include_is_an_error_but_empty_glob_is_not() {
        let err = load_text("include: [nowhere/extra.yaml]\n").unwrap_err();
        assert!(err.message.contains("does not exist"), "{err}");
        assert_eq!(err.line, 1);
        assert!(load_text("include: ['nowhere/*.yaml']\n").is_ok());
    }

    #[test]
    fn includes_add_collectors_and_errors_name_the_included_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("conf.d")).unwrap();
        std::fs::write(
            dir.path().join("conf.d/a.yaml"),
            "collectors:\n  - name: extra\n    kind: file\n    path: /etc/hostname\n",
        )
        .unwrap();
        let main = dir.path().join("main.yaml");
        std::fs::write(&main, "include: ['conf.d/*.yaml']\n").unwrap();
        let config = load(Some(&main)).unwrap();
        assert_eq!(config.collectors.len(), 1);
        assert_eq!(config.collectors[0].config.name, "extra");
        assert_eq!(config.collectors[0].file, 1);

        std::fs::write(
            dir.path().join("conf.d/b.yaml"),
            "collectors:\n  - name: x\n    nope: 1\n",
        )
        .unwrap();
        let err = load(Some(&main)).unwrap_err();
        assert!(err.file.ends_with("conf.d/b.yaml"), "{err}");
        assert_eq!(err.line, 3);
    }

    #[test]
    fn two_process_collectors_without_distinguishing_labels_are_refused() {
        let text = "collectors:\n  - name: a\n    kind: process\n  - name: b\n    kind: process\n";
        let err = load_text(text).unwrap_err();
        assert!(
            err.message
                .contains("`a` and `b` would emit the same series"),
            "{err}"
        );
        assert_eq!(err.line, 4);
        let text = "collectors:\n  - name: a\n    kind: process\n  - name: b\n    kind: process\n    labels: {app: b}\n";
        assert!(load_text(text).is_ok());
    }

    #[test]
    fn unknown_preset_lists_valid_ones() {
        let err = load_text("collectors:\n  - name: a\n    preset: nginxx\n").unwrap_err();
        assert!(err.message.contains("unknown preset `nginxx`"), "{err}");
        assert_eq!(err.line, 3);
    }
}
