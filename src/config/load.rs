//! Loading a config file: read, expand `${VAR}`, parse, follow includes, apply presets, validate.
//! Every error names the file, line and column.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde_yaml::Mapping;

use super::expand::expand_env;
use super::keys::{read_part, struct_fields};
use super::locate::{locate, Step};
use super::model::{CollectorConfig, Config, GlobalConfig, IncludedFile};
use super::presets::{self, Preset};
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
    /// The keys every collector has, with its preset applied.
    pub config: CollectorConfig,
    /// The kind's own keys, with its preset applied, for the kind to read through
    /// [`super::KindKeys`].
    pub options: Mapping,
    /// The top-level keys whose value came from the preset (the user did not set them), so that
    /// an error in one points into the preset's file.
    pub preset_keys: Vec<String>,
    /// Index into [`LoadedConfig::files`].
    pub file: usize,
    /// Its place in that file's `collectors:` list.
    pub index: usize,
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
    /// An error pointing at the definition of collector `index`, for errors found after
    /// parsing.
    pub fn error_at_collector(&self, index: usize, message: impl Into<String>) -> ConfigError {
        self.error_at(index, &[], message)
    }

    /// An error pointing at `path` below collector `index` (`[Key("tls_config"),
    /// Key("ca_file")]`): in the preset's file when that key came from the preset.
    pub fn error_at(&self, index: usize, path: &[Step], message: impl Into<String>) -> ConfigError {
        let collector = &self.collectors[index];
        Origin {
            file: &self.files[collector.file],
            index: collector.index,
            preset: collector.config.preset.as_deref().and_then(presets::find),
            preset_keys: &collector.preset_keys,
        }
        .error(path, message.into())
    }
}

/// Where one collector's keys were written: its file and place there, and its preset.
struct Origin<'a> {
    file: &'a SourceFile,
    index: usize,
    preset: Option<&'static Preset>,
    preset_keys: &'a [String],
}

impl Origin<'_> {
    fn error(&self, path: &[Step], message: String) -> ConfigError {
        let from_preset = match (path.first(), self.preset) {
            (Some(Step::Key(key)), Some(preset)) if self.preset_keys.contains(key) => Some(preset),
            _ => None,
        };
        let (file, (line, column)) = match from_preset {
            Some(preset) => (
                format!("collectors/{}.yaml", preset.name),
                locate(preset.yaml, path).unwrap_or((1, 1)),
            ),
            None => {
                let mut full = vec![Step::Key("collectors".into()), Step::Index(self.index)];
                full.extend_from_slice(path);
                (
                    self.file.name.clone(),
                    locate(&self.file.expanded, &full).unwrap_or((1, 1)),
                )
            }
        };
        ConfigError {
            file,
            line,
            column,
            message,
        }
    }
}

/// An error at `path` of a file.
fn error_in(file: &SourceFile, path: &[Step], message: String) -> ConfigError {
    let (line, column) = locate(&file.expanded, path).unwrap_or((1, 1));
    ConfigError {
        file: file.name.clone(),
        line,
        column,
        message,
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

/// `base` with the collectors of `extra` appended (as `serve --discover` adds what it found),
/// checked as one configuration: unique names, no two collectors emitting the same series.
pub fn with_collectors_of(
    mut base: LoadedConfig,
    extra: LoadedConfig,
) -> Result<LoadedConfig, ConfigError> {
    let offset = base.files.len();
    base.files.extend(extra.files);
    base.collectors
        .extend(extra.collectors.into_iter().map(|mut collector| {
            collector.file += offset;
            collector
        }));
    validate(&base)?;
    Ok(base)
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
    let mut files = vec![file];
    // (collector's keys, its file, its place in that file)
    let mut written: Vec<(Mapping, usize, usize)> = main
        .collectors
        .into_iter()
        .enumerate()
        .map(|(index, keys)| (keys, 0, index))
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
            files.push(included);
            let file_index = files.len() - 1;
            written.extend(
                parsed
                    .collectors
                    .into_iter()
                    .enumerate()
                    .map(|(index, keys)| (keys, file_index, index)),
            );
        }
    }

    let mut collectors = Vec::with_capacity(written.len());
    for (keys, file_index, index) in written {
        collectors.push(read_collector(keys, file_index, index, &files[file_index])?);
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

fn expand_include(
    main: &SourceFile,
    index: usize,
    pattern: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, ConfigError> {
    let error = |message: String| {
        error_in(
            main,
            &[Step::Key("include".into()), Step::Index(index)],
            message,
        )
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

/// Keys of a preset file that describe the preset rather than configure a collector.
const PRESET_ONLY_KEYS: [&str; 2] = ["description", "detect"];

/// One collector as written: its preset merged under it (the user's top-level keys win), the
/// keys every collector has read, the kind's keys kept for the kind.
fn read_collector(
    written: Mapping,
    file_index: usize,
    index: usize,
    file: &SourceFile,
) -> Result<LoadedCollector, ConfigError> {
    let mut origin = Origin {
        file,
        index,
        preset: None,
        preset_keys: &[],
    };
    let mut merged = Mapping::new();
    let mut preset_keys = Vec::new();
    if let Some(name) = written.get("preset").and_then(|v| v.as_str()) {
        let preset_path = [Step::Key("preset".into())];
        let preset = presets::find(name).ok_or_else(|| {
            origin.error(
                &preset_path,
                format!(
                    "collectors[{index}]: unknown preset `{name}`, expected one of {}",
                    presets::names().join(", ")
                ),
            )
        })?;
        let keys = preset
            .mapping()
            .map_err(|e| origin.error(&preset_path, format!("preset `{name}` is broken: {e}")))?;
        for (key, value) in keys {
            let Some(key_text) = key.as_str() else {
                continue;
            };
            if PRESET_ONLY_KEYS.contains(&key_text) || written.contains_key(key_text) {
                continue;
            }
            preset_keys.push(key_text.to_string());
            merged.insert(key, value);
        }
        origin.preset = Some(preset);
    }
    merged.extend(written);
    origin.preset_keys = &preset_keys;

    let common_keys = struct_fields::<CollectorConfig>();
    let (common, options): (Mapping, Mapping) = merged
        .into_iter()
        .partition(|(key, _)| key.as_str().is_some_and(|k| common_keys.contains(&k)));
    let config: CollectorConfig = read_part(common).map_err(|(path, message)| {
        origin.error(&path, format!("collectors[{index}]: {message}"))
    })?;
    Ok(LoadedCollector {
        config,
        options,
        preset_keys,
        file: file_index,
        index,
    })
}

fn validate(config: &LoadedConfig) -> Result<(), ConfigError> {
    let main = &config.files[0];
    for name in config.global.labels.keys() {
        if !is_valid_label_name(name) {
            let path = ["global", "labels", name].map(|k| Step::Key(k.to_string()));
            return Err(error_in(
                main,
                &path,
                format!(
                    "global.labels: `{name}` is not a valid label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)"
                ),
            ));
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
            let first = config.error_at_collector(first, "");
            // The second definition is the one to point at.
            return Err(config.error_at_collector(
                index,
                format!(
                    "duplicate collector name `{name}` (first defined at {}:{}); names must be unique",
                    first.file, first.line
                ),
            ));
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
    fn unknown_common_key_type_is_reported_with_position() {
        let err =
            load_text("collectors:\n  - name: a\n    kind: file\n    labels: [x]\n").unwrap_err();
        assert_eq!((err.line, err.column), (4, 5), "{err}");
        assert!(
            err.message.contains("collectors[0]: labels: invalid type"),
            "{err}"
        );
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
            "collectors:\n  - name: x\n    enabled: maybe\n",
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
