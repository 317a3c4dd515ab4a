//! The YAML in the documentation is tested: every fenced block whose info string starts with
//! `yaml`, in README.md, collectors/README.md and the `///`/`//!` comments under src/, is checked
//! the way `sidecar-exporter check` checks a config (`config::load_bytes`, then
//! `scrape::Engine::build`), so that an example cannot drift away from what the program accepts.
//!
//! A block without a marker must be a whole config (`collectors:`, `global:` or `include:` at
//! the top), or one collector or a list of them (`name:` with `kind:` or `preset:`), which is
//! checked as the entries of `collectors:`. A block that is something else says what it is with
//! one marker after `yaml` in the fence's info string (```` ```yaml fragment ````):
//!
//! | marker | the block is | checked with |
//! |---|---|---|
//! | `fragment` | a part that cannot stand alone: one key, a preset's `detect:` section | valid YAML only; it must not be a whole config or collector |
//! | `metrics` | mapping rules: a `metrics:` list, its entries, or keys of an `http_json` collector | placed in an `http_json` collector, load + build |
//! | `web-config` | a `--web.config.file` file | `server::web_config::parse` |
//! | `needs-files` | a config naming files (a CA, a password file) that exist only where it is deployed | load + build; the build must fail, and only because a named file is missing |
//!
//! Any other marker, more than one marker, and a `yml` block fail the test: a typo in a marker
//! would otherwise exempt a block without anyone noticing. Rustdoc runs only untagged or `rust`
//! blocks as doctests, so these info strings keep the blocks out of `cargo test --doc`.
//!
//! Every problem is reported at once, at the file and line of the documentation (a doc
//! comment's line and column in the `.rs` file), not at the line of the text handed to the
//! loader.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_yaml::{Mapping, Value};
use sidecar_exporter::config::{load_bytes, ConfigError};
use sidecar_exporter::scrape::{Counters, Engine};
use sidecar_exporter::server::web_config;

/// The Markdown files whose YAML is checked, each with the fewest YAML blocks it holds today:
/// a fence parser that finds nothing must not pass as "no bad block".
const MARKDOWN_FILES: [(&str, usize); 2] = [("README.md", 3), ("collectors/README.md", 1)];

/// The fewest YAML blocks in doc comments under src/, counted over the whole tree rather than
/// per file: modules move between files in refactors, the examples stay.
const MIN_SRC_BLOCKS: usize = 7;

/// The markers a YAML fence may carry, as documented at the top of this file.
const MARKERS: [&str; 4] = ["fragment", "metrics", "web-config", "needs-files"];

/// How `std::io::Error` says that a file does not exist, which a `needs-files` block may fail
/// on at `Engine::build`, and nothing else.
const MISSING_FILE: &str = "No such file or directory";

/// The environment the examples are expanded with. Fixed, so that the outcome does not depend
/// on the machine running the test, and holding what a pod's examples would use.
fn lookup(name: &str) -> Option<String> {
    let value = match name {
        "POD_NAME" => "demo-5d8f7b9c4-x2x7q",
        "POD_NAMESPACE" => "default",
        "POD_IP" => "10.1.2.3",
        "NODE_NAME" => "node-1",
        "HOSTNAME" => "demo-5d8f7b9c4-x2x7q",
        _ => return None,
    };
    Some(value.to_string())
}

/// A line of a file as Markdown sees it: every line of a `.md` file, the text of a doc comment
/// in a `.rs` file.
struct SourceLine {
    number: usize,
    /// Characters before `text` on the file's line (the `/// ` prefix and its indentation).
    column: usize,
    text: String,
}

/// A fenced code block.
struct Block {
    file: String,
    fence_line: usize,
    info: String,
    lines: Vec<SourceLine>,
}

impl Block {
    fn text(&self) -> String {
        let mut text = String::new();
        for line in &self.lines {
            text.push_str(&line.text);
            text.push('\n');
        }
        text
    }

    fn at(&self) -> String {
        format!("{}:{}", self.file, self.fence_line)
    }
}

/// The length and character of a fence opening or closing `trimmed`.
fn fence(trimmed: &str) -> Option<(char, usize)> {
    let first = trimmed.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = trimmed.chars().take_while(|c| *c == first).count();
    (length >= 3).then_some((first, length))
}

/// The fenced blocks of one run of Markdown. Fences may be indented (a block inside a list
/// item); the fence's indentation is taken off its content lines, as CommonMark does.
fn fenced_blocks(file: &str, lines: Vec<SourceLine>, problems: &mut Vec<String>) -> Vec<Block> {
    struct Open {
        indent: usize,
        character: char,
        length: usize,
        block: Block,
    }
    let mut blocks = Vec::new();
    let mut open: Option<Open> = None;
    for line in lines {
        let trimmed = line.text.trim_start();
        let indent = line.text.len() - trimmed.len();
        let opening = fence(trimmed);
        match open.take() {
            None => {
                if let Some((character, length)) = opening {
                    let info = trimmed[length..].trim();
                    // A backtick in a backtick fence's info string makes it inline code.
                    if character == '`' && info.contains('`') {
                        continue;
                    }
                    open = Some(Open {
                        indent,
                        character,
                        length,
                        block: Block {
                            file: file.to_string(),
                            fence_line: line.number,
                            info: info.to_string(),
                            lines: Vec::new(),
                        },
                    });
                }
            }
            Some(mut current) => {
                let closes = opening.is_some_and(|(character, length)| {
                    character == current.character
                        && length >= current.length
                        && trimmed[length..].trim().is_empty()
                });
                if closes {
                    blocks.push(current.block);
                    continue;
                }
                let strip = line
                    .text
                    .char_indices()
                    .take(current.indent)
                    .take_while(|(_, c)| *c == ' ')
                    .count();
                current.block.lines.push(SourceLine {
                    number: line.number,
                    column: line.column + strip,
                    text: line.text[strip..].to_string(),
                });
                open = Some(current);
            }
        }
    }
    if let Some(current) = open {
        problems.push(format!(
            "{}: the code fence opened here is never closed",
            current.block.at()
        ));
    }
    blocks
}

fn markdown_blocks(file: &str, text: &str, problems: &mut Vec<String>) -> Vec<Block> {
    let lines = text
        .lines()
        .enumerate()
        .map(|(index, line)| SourceLine {
            number: index + 1,
            column: 0,
            text: line.to_string(),
        })
        .collect();
    fenced_blocks(file, lines, problems)
}

/// The fenced blocks of a Rust file's doc comments. Each run of consecutive `///` or `//!`
/// lines is Markdown of its own, as rustdoc reads it.
fn doc_comment_blocks(file: &str, text: &str, problems: &mut Vec<String>) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut run: Vec<SourceLine> = Vec::new();
    let mut run_style = "";
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        // `////` is an ordinary comment for rustdoc.
        let style = if trimmed.starts_with("///") && !trimmed.starts_with("////") {
            "///"
        } else if trimmed.starts_with("//!") {
            "//!"
        } else {
            ""
        };
        if style != run_style && !run.is_empty() {
            blocks.extend(fenced_blocks(file, std::mem::take(&mut run), problems));
        }
        run_style = style;
        if style.is_empty() {
            continue;
        }
        let after = &trimmed[3..];
        let content = after.strip_prefix(' ').unwrap_or(after);
        run.push(SourceLine {
            number: index + 1,
            column: line.len() - content.len(),
            text: content.to_string(),
        });
    }
    blocks.extend(fenced_blocks(file, run, problems));
    blocks
}

/// What a block's YAML is, by its top-level keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Config,
    Collectors,
    Other,
}

fn is_collector(mapping: &Mapping) -> bool {
    mapping.contains_key("name") && (mapping.contains_key("kind") || mapping.contains_key("preset"))
}

fn shape(value: &Value) -> Shape {
    match value {
        Value::Mapping(mapping)
            if ["collectors", "global", "include"]
                .iter()
                .any(|key| mapping.contains_key(*key)) =>
        {
            Shape::Config
        }
        Value::Mapping(mapping) if is_collector(mapping) => Shape::Collectors,
        Value::Sequence(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|item| item.as_mapping().is_some_and(is_collector)) =>
        {
            Shape::Collectors
        }
        _ => Shape::Other,
    }
}

/// A block's text made into a whole config: `header` lines before it, every line of it
/// indented by `indent` spaces.
struct Wrapped {
    text: String,
    header_lines: usize,
    indent: usize,
}

fn wrap(block: &Block, header: &[&str], indent: usize) -> Wrapped {
    let mut text = String::new();
    for line in header {
        text.push_str(line);
        text.push('\n');
    }
    for line in &block.lines {
        if !line.text.trim().is_empty() {
            text.push_str(&" ".repeat(indent));
        }
        text.push_str(&line.text);
        text.push('\n');
    }
    Wrapped {
        text,
        header_lines: header.len(),
        indent,
    }
}

/// Where a position of the wrapped text stands in the documentation.
fn position(block: &Block, wrapped: &Wrapped, line: usize, column: usize) -> String {
    let source = line
        .checked_sub(wrapped.header_lines + 1)
        .and_then(|index| block.lines.get(index));
    match source {
        Some(source) => format!(
            "{}:{}:{}",
            block.file,
            source.number,
            source.column + column.saturating_sub(wrapped.indent).max(1)
        ),
        // The error concerns the whole text or the lines added around the block.
        None => block.at(),
    }
}

fn config_problem(block: &Block, wrapped: &Wrapped, error: &ConfigError) -> String {
    if error.file == block.file && error.line > 0 {
        format!(
            "{}: {} (```{} block at {})",
            position(block, wrapped, error.line, error.column),
            error.message,
            block.info,
            block.at()
        )
    } else {
        format!("{}: ```{} block: {error}", block.at(), block.info)
    }
}

/// What `sidecar-exporter check` runs, with `build: false` for a config whose files are absent.
fn check_config(block: &Block, wrapped: &Wrapped, dir: &Path, build: bool) -> Result<(), String> {
    let loaded = load_bytes(&block.file, wrapped.text.as_bytes(), dir, &lookup)
        .map_err(|error| config_problem(block, wrapped, &error))?;
    if build {
        Engine::build(&loaded, Arc::new(Counters::default()))
            .map_err(|error| config_problem(block, wrapped, &error))?;
    }
    Ok(())
}

/// The wrapping that makes a block of collectors a config.
fn as_config(block: &Block, value: &Value) -> Wrapped {
    match value {
        Value::Mapping(mapping) if is_collector(mapping) => wrap(block, &["collectors:", "-"], 2),
        Value::Sequence(_) => wrap(block, &["collectors:"], 0),
        _ => wrap(block, &[], 0),
    }
}

/// The wrapping that puts mapping rules into an `http_json` collector.
fn in_http_json(block: &Block, value: &Value) -> Result<Wrapped, String> {
    const COLLECTOR: [&str; 4] = [
        "collectors:",
        "- name: docs",
        "  kind: http_json",
        "  url: http://127.0.0.1:8080/stats",
    ];
    let mut header = COLLECTOR.to_vec();
    let indent = match value {
        Value::Sequence(_) => {
            header.push("  metrics:");
            2
        }
        Value::Mapping(mapping) if mapping.contains_key("name") => {
            header.extend(["  metrics:", "  -"]);
            4
        }
        Value::Mapping(_) => 2,
        _ => {
            return Err(format!(
                "{}: a `metrics` block must be a list of rules, one rule, or keys of an \
                 `http_json` collector",
                block.at()
            ))
        }
    };
    Ok(wrap(block, &header, indent))
}

/// Checks one YAML block; the class it was checked as, and what is wrong with it.
fn check_block(block: &Block, dir: &Path) -> (&'static str, Result<(), String>) {
    let mut tokens = block
        .info
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|token| !token.is_empty());
    let language = tokens.next().unwrap_or_default();
    let markers: Vec<&str> = tokens.collect();
    if language != "yaml" {
        return (
            "invalid",
            Err(format!(
                "{}: the info string `{}` must start with the word `yaml`, then a marker if any \
                 (one of {MARKERS:?})",
                block.at(),
                block.info
            )),
        );
    }
    let marker = match markers.as_slice() {
        [] => None,
        [written] => match MARKERS.iter().copied().find(|marker| marker == written) {
            Some(marker) => Some(marker),
            None => {
                return (
                    "invalid",
                    Err(format!(
                        "{}: ```{}: unknown marker `{written}`, expected one of {MARKERS:?}",
                        block.at(),
                        block.info
                    )),
                )
            }
        },
        _ => {
            return (
                "invalid",
                Err(format!(
                    "{}: ```{}: at most one marker, one of {MARKERS:?}",
                    block.at(),
                    block.info
                )),
            )
        }
    };
    let text = block.text();
    let value: Value = match serde_yaml::from_str(&text) {
        Ok(value) => value,
        Err(error) => {
            let unwrapped = wrap(block, &[], 0);
            let at = match error.location() {
                Some(location) => position(block, &unwrapped, location.line(), location.column()),
                None => block.at(),
            };
            return (
                "invalid",
                Err(format!(
                    "{at}: not valid YAML: {error} (```{} block at {})",
                    block.info,
                    block.at()
                )),
            );
        }
    };
    let shape = shape(&value);
    let whole = |what: &str| {
        Err(format!(
            "{}: ```{} block is {what}: remove the marker so that it is checked as one",
            block.at(),
            block.info
        ))
    };
    match (marker, shape) {
        (None, Shape::Config) => (
            "config",
            check_config(block, &wrap(block, &[], 0), dir, true),
        ),
        (None, Shape::Collectors) => (
            "collectors",
            check_config(block, &as_config(block, &value), dir, true),
        ),
        (None, Shape::Other) => (
            "invalid",
            Err(format!(
                "{}: ```yaml block is neither a config nor a collector; if it is meant as a \
                 part, mark it with one of {MARKERS:?} (see tests/docs_yaml.rs)",
                block.at()
            )),
        ),
        (Some("needs-files"), Shape::Config | Shape::Collectors) => {
            let wrapped = as_config(block, &value);
            let result = check_config(block, &wrapped, dir, false).and_then(|()| {
                // The marker skips a check; where nothing needs skipping it only hides mistakes.
                match check_config(block, &wrapped, dir, true) {
                    Ok(()) => Err(format!(
                        "{}: ```{} block builds without its files: remove the marker",
                        block.at(),
                        block.info
                    )),
                    Err(problem) if problem.contains(MISSING_FILE) => Ok(()),
                    Err(problem) => Err(problem),
                }
            });
            ("needs-files", result)
        }
        (Some("needs-files"), Shape::Other) => (
            "needs-files",
            Err(format!(
                "{}: ```{} block is neither a config nor a collector",
                block.at(),
                block.info
            )),
        ),
        (Some(marker), Shape::Config) => (marker, whole("a whole config")),
        (Some(marker), Shape::Collectors) => (marker, whole("a collector")),
        (Some("fragment"), Shape::Other) => ("fragment", Ok(())),
        (Some("metrics"), Shape::Other) => (
            "metrics",
            in_http_json(block, &value)
                .and_then(|wrapped| check_config(block, &wrapped, dir, true)),
        ),
        (Some("web-config"), Shape::Other) => (
            "web-config",
            web_config::parse(&block.file, &text)
                .map(drop)
                .map_err(|error| config_problem(block, &wrap(block, &[], 0), &error)),
        ),
        (Some(marker), Shape::Other) => unreachable!("marker {marker} is in MARKERS"),
    }
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, found)?;
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
    Ok(())
}

/// Every YAML block of the documentation, by file, with the problems met while finding them.
fn documentation_blocks(root: &Path) -> (BTreeMap<String, Vec<Block>>, Vec<String>) {
    let mut problems = Vec::new();
    let mut by_file = BTreeMap::new();
    for (file, _) in MARKDOWN_FILES {
        let text = std::fs::read_to_string(root.join(file))
            .unwrap_or_else(|error| panic!("cannot read {file}: {error}"));
        by_file.insert(
            file.to_string(),
            markdown_blocks(file, &text, &mut problems),
        );
    }
    let mut sources = Vec::new();
    rust_files(&root.join("src"), &mut sources)
        .unwrap_or_else(|error| panic!("cannot list src/: {error}"));
    sources.sort();
    for path in sources {
        let file = path
            .strip_prefix(root)
            .unwrap_or(&path)
            .display()
            .to_string();
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {file}: {error}"));
        let blocks = doc_comment_blocks(&file, &text, &mut problems);
        by_file.insert(file, blocks);
    }
    for blocks in by_file.values_mut() {
        blocks.retain(|block| {
            let info = block.info.to_ascii_lowercase();
            info.starts_with("yaml") || info.starts_with("yml")
        });
    }
    (by_file, problems)
}

#[test]
fn every_yaml_block_of_the_documentation_is_a_valid_config_or_marked() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // An empty folder: `include:` globs find nothing and relative paths name no file of the
    // repository, as on a fresh host.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let (by_file, mut problems) = documentation_blocks(root);

    let mut summary = String::new();
    let mut src_blocks = 0;
    for (file, blocks) in &by_file {
        let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
        for block in blocks {
            let (class, result) = check_block(block, dir.path());
            *classes.entry(class).or_default() += 1;
            if let Err(problem) = result {
                problems.push(problem);
            }
        }
        if file.starts_with("src/") {
            src_blocks += blocks.len();
        }
        if !blocks.is_empty() {
            summary.push_str(&format!("{file}: {} {classes:?}\n", blocks.len()));
        }
    }
    for (file, minimum) in MARKDOWN_FILES {
        let found = by_file.get(file).map_or(0, Vec::len);
        if found < minimum {
            problems.push(format!(
                "{file}: {found} YAML blocks found, at least {minimum} expected"
            ));
        }
    }
    if src_blocks < MIN_SRC_BLOCKS {
        problems.push(format!(
            "src/: {src_blocks} YAML blocks found in doc comments, at least {MIN_SRC_BLOCKS} expected"
        ));
    }
    println!("{summary}");
    assert!(
        problems.is_empty(),
        "{} problems in the documentation's YAML:\n{}\n\nblocks found:\n{summary}",
        problems.len(),
        problems.join("\n")
    );
}

/// The checks above must be able to fail: each of these blocks is wrong in its own way.
#[test]
fn the_check_refuses_broken_and_unmarked_blocks() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let markdown = "\
intro

```yaml
collectors:
  - name: web
    preset: nginx
    urll: http://127.0.0.1:8080/stub_status
```

```yaml
- name: app
  kind: prometheus
  url: http://127.0.0.1:8080/metrics
  max_series: many
```

```yaml
metric_relabel_configs:
  - {regex: handler, action: labeldrop}
```

```yaml fragmnet
a: 1
```

```yaml fragment
collectors: []
```

```yaml metrics
- name: x
  path: '{ .a }'
  valuetype: sometimes
```

```yaml web-config
tls_server_config:
  cert_fil: server.crt
```

```yml
a: 1
```

```yaml needs-files
- name: app
  kind: prometheus
  url: http://127.0.0.1:8080/metrics
```
";
    let mut problems = Vec::new();
    let blocks = markdown_blocks("doc.md", markdown, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(blocks.len(), 9);
    let results: Vec<String> = blocks
        .iter()
        .map(|block| match check_block(block, dir.path()) {
            (_, Ok(())) => panic!("{} was accepted", block.at()),
            (_, Err(problem)) => problem,
        })
        .collect();
    // The line and column of the mistake in the document, not in the text given to the loader.
    assert!(results[0].starts_with("doc.md:7:5: "), "{}", results[0]);
    assert!(results[0].contains("urll"), "{}", results[0]);
    assert!(results[1].starts_with("doc.md:14:3: "), "{}", results[1]);
    assert!(results[2].contains("neither a config nor a collector"));
    assert!(results[3].contains("unknown marker `fragmnet`"));
    assert!(results[4].contains("remove the marker"));
    assert!(results[5].starts_with("doc.md:33:3: "), "{}", results[5]);
    assert!(results[6].starts_with("doc.md:38:3: "), "{}", results[6]);
    assert!(results[7].contains("must start with the word `yaml`"));
    assert!(results[8].contains("builds without its files"));
}

#[test]
fn needs_files_excuses_missing_files_only() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // Inside the empty folder, so that no machine has the file.
    let ca_file = dir.path().join("ca.crt");
    let collector = "- name: app\n  kind: prometheus\n  url: https://127.0.0.1:8443/metrics\n";
    let markdown = format!(
        "```yaml needs-files\n{collector}  tls_config:\n    ca_file: {}\n```\n\n\
         ```yaml needs-files\n{collector}  max_series: many\n```\n",
        ca_file.display()
    );
    let mut problems = Vec::new();
    let blocks = markdown_blocks("doc.md", &markdown, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let results: Vec<_> = blocks
        .iter()
        .map(|block| check_block(block, dir.path()).1)
        .collect();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0], Ok(()));
    let refused = results[1]
        .as_ref()
        .expect_err("max_series: many is refused");
    assert!(refused.starts_with("doc.md:13:3: "), "{refused}");
}

#[test]
fn fences_are_found_in_doc_comments_and_not_inside_other_blocks() {
    let source = "\
//! Module.
//!
//! ```yaml
//! collectors: []
//! ```

/// An item.
///
///   ```yaml fragment
///   a: 1
///   ```
//// ```yaml
//// not documentation
//// ```
fn item() {}

/// ````markdown
/// ```yaml
/// inside another block
/// ```
/// ````
fn other() {}
";
    let mut problems = Vec::new();
    let blocks = doc_comment_blocks("x.rs", source, &mut problems);
    assert!(problems.is_empty(), "{problems:?}");
    let found: Vec<(usize, &str, String)> = blocks
        .iter()
        .map(|block| (block.fence_line, block.info.as_str(), block.text()))
        .collect();
    assert_eq!(
        found,
        [
            (3, "yaml", "collectors: []\n".to_string()),
            (9, "yaml fragment", "a: 1\n".to_string()),
            (
                17,
                "markdown",
                "```yaml\ninside another block\n```\n".to_string()
            ),
        ]
    );
    // The column of `a` in the `.rs` file: `///   a: 1`.
    assert_eq!(blocks[1].lines[0].column, 6);

    let unclosed = "/// ```yaml\n/// a: 1\nfn f() {}\n";
    let mut problems = Vec::new();
    doc_comment_blocks("y.rs", unclosed, &mut problems);
    assert_eq!(
        problems,
        ["y.rs:1: the code fence opened here is never closed"]
    );
}
