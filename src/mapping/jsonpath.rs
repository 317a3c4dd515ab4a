//! The path language of the mapping rules: kubectl-style JSONPath templates (what json_exporter
//! speaks: `'{ .counter }'`, `'planet-{.location}'`, `'{.values[?(@.state == "ACTIVE")]}'`),
//! RFC 9535 JSONPath for expressions starting with `$` (`$.a.b[?@.state=='UP']`), and the
//! `{$key}` extension (the object key or array index a `type: object` item was found under).
//!
//! kubectl's template language is small and no maintained Rust crate implements it, so it is
//! parsed and evaluated here. Evaluation never fails: what a query does not find is simply absent,
//! and the caller decides whether absence is an error.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

/// Where a selected value sits in its parent: the member name or the array index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Key<'a> {
    /// A member of an object.
    Name(&'a str),
    /// An element of an array.
    Index(usize),
}

impl fmt::Display for Key<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Name(name) => f.write_str(name),
            Key::Index(index) => write!(f, "{index}"),
        }
    }
}

/// A selected value and the key it was found under (`None` for the document itself).
#[derive(Debug, Clone, Copy)]
pub struct Hit<'a> {
    /// The key in the parent, for `{$key}`.
    pub key: Option<Key<'a>>,
    /// The value.
    pub value: &'a Value,
}

impl<'a> Hit<'a> {
    /// The document itself, with no key.
    pub fn root(value: &'a Value) -> Self {
        Hit { key: None, value }
    }
}

/// What an expression produced for one node.
#[derive(Debug, Clone, PartialEq)]
pub enum Evaluated<'a> {
    /// The expression selected nothing; the text names what was missing.
    Missing(String),
    /// Exactly one JSON value (keeps its type: number, boolean, null, string…).
    Json(&'a Value),
    /// Text: literal text, several values joined by spaces, or a template mixing both.
    Text(String),
}

/// A compiled expression: a kubectl template or an RFC 9535 query.
#[derive(Debug, Clone)]
pub enum Expr {
    /// kubectl-style template: literal text and `{…}` actions.
    Template(Template),
    /// RFC 9535 JSONPath (the expression started with `$`).
    Rfc9535(Box<serde_json_path::JsonPath>),
}

impl Expr {
    /// Parses an expression: RFC 9535 when it starts with `$`, a kubectl template otherwise
    /// (which includes plain static text such as `beta` or `1`).
    pub fn parse(source: &str) -> Result<Expr, String> {
        if source == "$key" {
            return Err("the object key is written with braces: `{$key}`".to_string());
        }
        // Both parsers recurse into nested filters: bound the depth so that a path from the
        // config cannot overflow the stack (nor, for RFC 9535, take hours to parse).
        let rfc9535 = source.starts_with('$');
        let max_nesting = if rfc9535 {
            MAX_RFC9535_NESTING
        } else {
            MAX_NESTING
        };
        if nesting_depth(source) > max_nesting {
            return Err(format!(
                "`{}…` nests brackets and parentheses more than {max_nesting} deep",
                source.chars().take(40).collect::<String>()
            ));
        }
        if rfc9535 {
            serde_json_path::JsonPath::parse(source)
                .map(|path| Expr::Rfc9535(Box::new(path)))
                .map_err(|e| {
                    format!(
                        "`{source}` is not a valid RFC 9535 JSONPath ({e}); a kubectl-style \
                         template is written in braces, e.g. `{{.a.b}}`"
                    )
                })
        } else {
            Template::parse(source).map(Expr::Template)
        }
    }

    /// Checks that the expression can select objects for `type: object`: one query, no text.
    pub fn check_selector(&self) -> Result<(), String> {
        match self {
            Expr::Rfc9535(_) => Ok(()),
            Expr::Template(t) => match t.parts.as_slice() {
                [Part::Query(_)] => Ok(()),
                _ => Err("a `type: object` path must be exactly one query such as \
                          `{.items[*]}` or `$.items[*]`, without text around it"
                    .to_string()),
            },
        }
    }

    /// The nodes the expression selects (for the `path` of `type: object`), and what was absent
    /// when a member named in the path does not exist (as opposed to a filter matching nothing).
    pub fn select<'a>(&self, node: Hit<'a>) -> (Vec<Hit<'a>>, Option<String>) {
        match self {
            Expr::Rfc9535(path) => {
                let hits = path
                    .query_located(node.value)
                    .iter()
                    .map(|located| Hit {
                        key: located.location().last().map(|element| match element {
                            serde_json_path::PathElement::Name(name) => Key::Name(name),
                            serde_json_path::PathElement::Index(index) => Key::Index(*index),
                        }),
                        value: located.node(),
                    })
                    .collect();
                (hits, None)
            }
            Expr::Template(t) => match t.parts.as_slice() {
                [Part::Query(query)] => {
                    let selection = query.run_noting_absent(node, node.value);
                    (selection.hits, selection.absent)
                }
                _ => (Vec::new(), None),
            },
        }
    }

    /// The text the expression evaluates to on every node, when it has no query and no
    /// `{$key}` (a static label such as `idle`).
    pub fn constant_text(&self) -> Option<String> {
        let Expr::Template(template) = self else {
            return None;
        };
        template
            .parts
            .iter()
            .map(|part| match part {
                Part::Text(text) => Some(text.as_str()),
                Part::Query(_) | Part::Key => None,
            })
            .collect()
    }

    /// Evaluates the expression on one node (for values, labels and timestamps).
    pub fn evaluate<'a>(&self, node: Hit<'a>) -> Evaluated<'a> {
        match self {
            Expr::Rfc9535(path) => {
                let found = path.query(node.value).all();
                match found.as_slice() {
                    [] => Evaluated::Missing("the path matched nothing".to_string()),
                    [one] => Evaluated::Json(one),
                    many => Evaluated::Text(join_rendered(many.iter().copied())),
                }
            }
            Expr::Template(t) => t.evaluate(node),
        }
    }
}

/// How deep `[` and `(` may nest in one kubectl-style expression (filters inside filters); real
/// paths use two or three levels.
const MAX_NESTING: usize = 32;

/// The same for RFC 9535 paths, lower: serde_json_path's parser backtracks, about doubling its
/// time with each nested filter (16 levels take a tenth of a second, the 32 allowed above would
/// take hours); 8 levels parse in about a millisecond.
const MAX_RFC9535_NESTING: usize = 8;

/// The deepest nesting of `[`/`(` in `source`, outside quoted strings.
fn nesting_depth(source: &str) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in source.chars() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '(' => {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
                ']' | ')' => depth = depth.saturating_sub(1),
                _ => {}
            },
        }
    }
    deepest
}

fn join_rendered<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, value) in values.enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&render(value));
    }
    out
}

/// A value as text, the way a label shows it: strings raw, numbers as written by serde_json
/// (`1655371`, `1234567.89`), booleans `true`/`false`, null empty, objects and arrays as JSON.
pub fn render(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        Value::Number(n) => Cow::Owned(n.to_string()),
        Value::Bool(true) => Cow::Borrowed("true"),
        Value::Bool(false) => Cow::Borrowed("false"),
        Value::Null => Cow::Borrowed(""),
        Value::Array(_) | Value::Object(_) => Cow::Owned(value.to_string()),
    }
}

/// A kubectl-style template: text and `{…}` actions.
#[derive(Debug, Clone)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Query(Query),
    /// `{$key}`: the key the current node was found under.
    Key,
}

impl Template {
    /// Parses a template. Text outside braces is literal.
    pub fn parse(source: &str) -> Result<Template, String> {
        let chars: Vec<char> = source.chars().collect();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut pos = 0;
        while pos < chars.len() {
            if chars[pos] != '{' {
                text.push(chars[pos]);
                pos += 1;
                continue;
            }
            let end = find_action_end(&chars, pos + 1).ok_or_else(|| {
                format!(
                    "`{source}`: the `{{` at character {} is never closed",
                    pos + 1
                )
            })?;
            let action: String = chars[pos + 1..end].iter().collect();
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            parts.push(parse_action(action.trim()).map_err(|e| format!("`{source}`: {e}"))?);
            pos = end + 1;
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    fn evaluate<'a>(&self, node: Hit<'a>) -> Evaluated<'a> {
        // One query alone keeps the JSON type of a single result.
        if let [Part::Query(query)] = self.parts.as_slice() {
            let selection = query.run_noting_absent(node, node.value);
            return match selection.hits.as_slice() {
                [] => Evaluated::Missing(missing_message(query, selection.absent)),
                [one] => Evaluated::Json(one.value),
                many => Evaluated::Text(join_rendered(many.iter().map(|h| h.value))),
            };
        }
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Key => {
                    if let Some(key) = node.key {
                        out.push_str(&key.to_string());
                    }
                }
                Part::Query(query) => {
                    let selection = query.run_noting_absent(node, node.value);
                    if selection.hits.is_empty() {
                        return Evaluated::Missing(missing_message(query, selection.absent));
                    }
                    out.push_str(&join_rendered(selection.hits.iter().map(|h| h.value)));
                }
            }
        }
        Evaluated::Text(out)
    }
}

fn missing_message(query: &Query, absent: Option<String>) -> String {
    match absent {
        Some(absent) => format!("{query}: {absent}"),
        None => format!("{query} matched nothing"),
    }
}

/// Finds the `}` closing an action opened just before `start`, skipping quoted strings.
fn find_action_end(chars: &[char], start: usize) -> Option<usize> {
    let mut pos = start;
    let mut quote: Option<char> = None;
    while pos < chars.len() {
        let c = chars[pos];
        match quote {
            Some(q) => {
                if c == '\\' {
                    pos += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '"' | '\'' => quote = Some(c),
                '}' => return Some(pos),
                _ => {}
            },
        }
        pos += 1;
    }
    None
}

fn parse_action(action: &str) -> Result<Part, String> {
    if action.is_empty() {
        return Err("empty `{}`".to_string());
    }
    if action == "$key" {
        return Ok(Part::Key);
    }
    if action == "end" || action.starts_with("range ") || action == "range" {
        return Err("`range`/`end` are not supported; use `type: object` to iterate".to_string());
    }
    let mut parser = Parser {
        chars: action.chars().collect(),
        pos: 0,
    };
    if matches!(parser.peek(), Some('"') | Some('\'')) {
        let text = parser.quoted()?;
        parser.skip_ws();
        if !parser.at_end() {
            return Err(format!(
                "unexpected text after the quoted string in `{{{action}}}`"
            ));
        }
        return Ok(Part::Text(text));
    }
    let query = parser.query()?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(format!(
            "unexpected `{}` in `{{{action}}}`",
            parser.chars[parser.pos..].iter().collect::<String>()
        ));
    }
    Ok(Part::Query(query))
}

/// A path: where it starts and its steps.
#[derive(Debug, Clone)]
struct Query {
    /// `$`: the document the template runs on; otherwise `@`, the current node (the same thing
    /// outside filters).
    from_root: bool,
    steps: Vec<Step>,
    source: String,
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{{{}}}`", self.source)
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// `.name`, `['name']`, `['a','b']`.
    Names(Vec<String>),
    /// `.*`, `[*]`.
    Wildcard,
    /// `[0]`, `[-1]`, `[0,2]`.
    Indices(Vec<i64>),
    /// `[start:end:step]`.
    Slice(Option<i64>, Option<i64>, i64),
    /// `[?(…)]`.
    Filter(Box<Filter>),
    /// `..step`: the step applied to every descendant (and the node itself).
    Recursive(Box<Step>),
}

#[derive(Debug, Clone)]
enum Filter {
    Exists(Query),
    Compare(Operand, CompareOp, Operand),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone)]
enum Operand {
    Query(Query),
    Literal(Value),
}

/// What a query found, and the first member or index that was absent (kubectl reports a member
/// that none of the inputs has as "not found"; a filter or wildcard that matches nothing is not
/// an error).
struct Selection<'a> {
    hits: Vec<Hit<'a>>,
    absent: Option<String>,
}

impl Query {
    fn run<'a>(&self, current: Hit<'a>, root: &'a Value) -> Vec<Hit<'a>> {
        self.run_noting_absent(current, root).hits
    }

    fn run_noting_absent<'a>(&self, current: Hit<'a>, root: &'a Value) -> Selection<'a> {
        let start = if self.from_root {
            Hit {
                key: current.key,
                value: root,
            }
        } else {
            current
        };
        let mut nodes = vec![start];
        for (walked, step) in self.steps.iter().enumerate() {
            let mut next = Vec::new();
            for node in &nodes {
                step.apply(*node, root, &mut next);
            }
            if next.is_empty() {
                let absent = match step {
                    Step::Names(names) => Some(format!(
                        "`{}` is not found{}",
                        names.join("`, `"),
                        self.what_is_there(walked, &nodes)
                    )),
                    Step::Indices(indices) => Some(format!(
                        "index {} is out of range{}",
                        indices
                            .iter()
                            .map(i64::to_string)
                            .collect::<Vec<_>>()
                            .join(", "),
                        self.what_is_there(walked, &nodes)
                    )),
                    _ => None,
                };
                return Selection { hits: next, absent };
            }
            nodes = next;
        }
        Selection {
            hits: nodes,
            absent: None,
        }
    }
}

/// The most keys named when a member is not found.
const KEYS_NAMED: usize = 12;

impl Query {
    /// ` under `.stats` (keys there: `a`, `b`)`: where the path stopped finding anything and
    /// what it found there instead (keys are named, values never: they are the app's data).
    fn what_is_there(&self, walked: usize, nodes: &[Hit<'_>]) -> String {
        let walked: String = self.steps[..walked].iter().map(Step::text).collect();
        let place = if walked.is_empty() {
            String::new()
        } else {
            format!(" under `{walked}`")
        };
        let mut keys: Vec<&str> = Vec::new();
        let mut lengths: Vec<usize> = Vec::new();
        let mut others: Vec<&'static str> = Vec::new();
        for node in nodes {
            match node.value {
                Value::Object(map) => {
                    for key in map.keys() {
                        if !keys.contains(&key.as_str()) {
                            keys.push(key);
                        }
                    }
                }
                Value::Array(items) => lengths.push(items.len()),
                other => others.push(crate::explain::type_name(other)),
            }
        }
        let there = if !keys.is_empty() {
            let named: Vec<String> = keys
                .iter()
                .take(KEYS_NAMED)
                .map(|k| format!("`{k}`"))
                .collect();
            let more = keys.len().saturating_sub(KEYS_NAMED);
            format!(
                "keys there: {}{}",
                named.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        } else if !lengths.is_empty() {
            let lengths: Vec<String> = lengths.iter().take(3).map(usize::to_string).collect();
            format!("an array of {} elements there", lengths.join("/"))
        } else if let Some(first) = others.first() {
            format!("a {first} there, not an object")
        } else {
            "an empty object there".to_string()
        };
        format!("{place} ({there})")
    }
}

impl Step {
    /// The step as written in a kubectl template (`.name`, `[*]`, `[0]`).
    fn text(&self) -> String {
        match self {
            Step::Names(names) if names.len() == 1 => format!(".{}", names[0]),
            Step::Names(names) => format!("['{}']", names.join("','")),
            Step::Wildcard => "[*]".to_string(),
            Step::Indices(indices) => format!(
                "[{}]",
                indices
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Step::Slice(start, end, step) => format!(
                "[{}:{}{}]",
                start.map(|s| s.to_string()).unwrap_or_default(),
                end.map(|e| e.to_string()).unwrap_or_default(),
                if *step == 1 {
                    String::new()
                } else {
                    format!(":{step}")
                }
            ),
            Step::Filter(_) => "[?(…)]".to_string(),
            Step::Recursive(step) => format!(".{}", step.text()),
        }
    }

    fn apply<'a>(&self, node: Hit<'a>, root: &'a Value, out: &mut Vec<Hit<'a>>) {
        match self {
            Step::Names(names) => {
                if let Value::Object(map) = node.value {
                    for name in names {
                        if let Some((k, v)) = map.get_key_value(name.as_str()) {
                            out.push(Hit {
                                key: Some(Key::Name(k)),
                                value: v,
                            });
                        }
                    }
                }
            }
            Step::Wildcard => push_children(node.value, out),
            Step::Indices(indices) => {
                if let Value::Array(items) = node.value {
                    for index in indices {
                        if let Some(i) = resolve_index(*index, items.len()) {
                            out.push(Hit {
                                key: Some(Key::Index(i)),
                                value: &items[i],
                            });
                        }
                    }
                }
            }
            Step::Slice(start, end, step) => {
                if let Value::Array(items) = node.value {
                    let len = items.len() as i64;
                    let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
                    let from = start.map(clamp).unwrap_or(0);
                    let to = end.map(clamp).unwrap_or(len);
                    // `step_by`, not `i += step`: a huge step (`[1::9223372036854775807]`)
                    // must end the walk, not overflow.
                    let step = usize::try_from(*step).unwrap_or(usize::MAX);
                    for index in (from as usize..to.max(from) as usize).step_by(step) {
                        out.push(Hit {
                            key: Some(Key::Index(index)),
                            value: &items[index],
                        });
                    }
                }
            }
            Step::Filter(filter) => {
                let mut children = Vec::new();
                push_children(node.value, &mut children);
                out.extend(children.into_iter().filter(|c| filter.matches(*c, root)));
            }
            Step::Recursive(inner) => {
                // Iterative pre-order walk: deep documents cannot overflow the stack.
                let mut stack = vec![node];
                while let Some(current) = stack.pop() {
                    inner.apply(current, root, out);
                    let mut children = Vec::new();
                    push_children(current.value, &mut children);
                    stack.extend(children.into_iter().rev());
                }
            }
        }
    }
}

fn push_children<'a>(value: &'a Value, out: &mut Vec<Hit<'a>>) {
    match value {
        Value::Object(map) => out.extend(map.iter().map(|(k, v)| Hit {
            key: Some(Key::Name(k)),
            value: v,
        })),
        Value::Array(items) => out.extend(items.iter().enumerate().map(|(i, v)| Hit {
            key: Some(Key::Index(i)),
            value: v,
        })),
        _ => {}
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let resolved = if index < 0 { len + index } else { index };
    (0..len).contains(&resolved).then_some(resolved as usize)
}

impl Filter {
    fn matches(&self, candidate: Hit<'_>, root: &Value) -> bool {
        match self {
            Filter::Exists(query) => !query.run(candidate, root).is_empty(),
            Filter::Compare(left, op, right) => {
                let (Some(l), Some(r)) =
                    (left.first(candidate, root), right.first(candidate, root))
                else {
                    // A missing member never matches (kubectl would abort the whole path).
                    return false;
                };
                compare(&l, *op, &r)
            }
        }
    }
}

impl Operand {
    fn first<'a>(&'a self, candidate: Hit<'a>, root: &'a Value) -> Option<Cow<'a, Value>> {
        match self {
            Operand::Literal(v) => Some(Cow::Borrowed(v)),
            Operand::Query(q) => q
                .run(candidate, root)
                .first()
                .map(|h| Cow::Borrowed(h.value)),
        }
    }
}

fn compare(left: &Value, op: CompareOp, right: &Value) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (left, right) {
        (Value::Number(a), Value::Number(b)) => match (a.as_f64(), b.as_f64()) {
            (Some(a), Some(b)) => a.partial_cmp(&b),
            _ => None,
        },
        (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (CompareOp::Eq, Some(o)) => o == Ordering::Equal,
        (CompareOp::Ne, Some(o)) => o != Ordering::Equal,
        (CompareOp::Ne, None) => true,
        (CompareOp::Lt, Some(o)) => o == Ordering::Less,
        (CompareOp::Le, Some(o)) => o != Ordering::Greater,
        (CompareOp::Gt, Some(o)) => o == Ordering::Greater,
        (CompareOp::Ge, Some(o)) => o != Ordering::Less,
        _ => false,
    }
}

/// Characters that end a member name after `.` (kubectl's terminators).
fn ends_name(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '[' | ']' | '(' | ')' | ',' | '{' | '}' | '$' | '@' | '=' | '<' | '>' | '!' | '|'
        )
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!(
                "expected `{c}` at character {} of `{}`",
                self.pos + 1,
                self.chars.iter().collect::<String>()
            ))
        }
    }

    /// A query: optional `$`/`@`, then steps, up to whitespace, `)`, an operator or the end.
    fn query(&mut self) -> Result<Query, String> {
        let begin = self.pos;
        let from_root = match self.peek() {
            Some('$') => {
                self.pos += 1;
                true
            }
            Some('@') => {
                self.pos += 1;
                false
            }
            _ => true,
        };
        let mut steps = Vec::new();
        loop {
            match self.peek() {
                Some('.') if self.peek_at(1) == Some('.') => {
                    self.pos += 2;
                    let inner = if self.peek() == Some('[') {
                        self.pos += 1;
                        self.bracket()?
                    } else {
                        self.dotted()?
                    };
                    steps.push(Step::Recursive(Box::new(inner)));
                }
                Some('.') => {
                    self.pos += 1;
                    // A lone `.` (as in `{.}`) is the current node.
                    if self.peek().is_none_or(|c| ends_name(c) && c != '*') {
                        continue;
                    }
                    steps.push(self.dotted()?);
                }
                Some('[') => {
                    self.pos += 1;
                    steps.push(self.bracket()?);
                }
                None => break,
                Some(c) if c.is_whitespace() || matches!(c, ')' | '=' | '!' | '<' | '>') => break,
                Some(c) => {
                    return Err(format!(
                        "unexpected `{c}` at character {} of `{}`; members are written `.name` \
                         or `['name']`",
                        self.pos + 1,
                        self.chars.iter().collect::<String>()
                    ))
                }
            }
        }
        let source = self.chars[begin..self.pos].iter().collect();
        Ok(Query {
            from_root,
            steps,
            source,
        })
    }

    /// After a `.`: `*` or a member name (`\.` escapes a dot inside the name).
    fn dotted(&mut self) -> Result<Step, String> {
        if self.peek() == Some('*') {
            self.pos += 1;
            return Ok(Step::Wildcard);
        }
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if c == '\\' && self.peek_at(1).is_some() {
                if let Some(escaped) = self.peek_at(1) {
                    name.push(escaped);
                }
                self.pos += 2;
                continue;
            }
            if ends_name(c) {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        if name.is_empty() {
            return Err(format!(
                "a member name is missing at character {} of `{}`",
                self.pos + 1,
                self.chars.iter().collect::<String>()
            ));
        }
        Ok(Step::Names(vec![name]))
    }

    /// After a `[`: `*`, `?(…)`, names, indices or a slice, then `]`.
    fn bracket(&mut self) -> Result<Step, String> {
        self.skip_ws();
        let step = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Step::Wildcard
            }
            Some('?') => {
                self.pos += 1;
                self.skip_ws();
                self.expect('(')?;
                let filter = self.filter()?;
                self.skip_ws();
                self.expect(')')?;
                Step::Filter(Box::new(filter))
            }
            Some('"') | Some('\'') => {
                let mut names = vec![self.quoted()?];
                self.skip_ws();
                while self.peek() == Some(',') {
                    self.pos += 1;
                    self.skip_ws();
                    names.push(self.quoted()?);
                    self.skip_ws();
                }
                Step::Names(names)
            }
            _ => self.indices_or_slice()?,
        };
        self.skip_ws();
        self.expect(']')?;
        Ok(step)
    }

    fn indices_or_slice(&mut self) -> Result<Step, String> {
        let first = self.optional_int()?;
        self.skip_ws();
        if self.peek() == Some(':') {
            self.pos += 1;
            self.skip_ws();
            let end = self.optional_int()?;
            self.skip_ws();
            let mut step = 1;
            if self.peek() == Some(':') {
                self.pos += 1;
                self.skip_ws();
                step = self.optional_int()?.unwrap_or(1);
            }
            if step <= 0 {
                return Err("a slice step must be a positive number".to_string());
            }
            return Ok(Step::Slice(first, end, step));
        }
        let Some(first) = first else {
            return Err(format!(
                "expected an index, a slice, `*`, a quoted name or `?(…)` inside `[]` in `{}`",
                self.chars.iter().collect::<String>()
            ));
        };
        let mut indices = vec![first];
        while self.peek() == Some(',') {
            self.pos += 1;
            self.skip_ws();
            match self.optional_int()? {
                Some(i) => indices.push(i),
                None => return Err("expected an index after `,`".to_string()),
            }
            self.skip_ws();
        }
        Ok(Step::Indices(indices))
    }

    fn optional_int(&mut self) -> Result<Option<i64>, String> {
        let begin = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[begin..self.pos].iter().collect();
        if digits.is_empty() {
            return Ok(None);
        }
        digits
            .parse()
            .map(Some)
            .map_err(|_| format!("`{digits}` is not an index"))
    }

    fn filter(&mut self) -> Result<Filter, String> {
        self.skip_ws();
        let left = self.operand()?;
        self.skip_ws();
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('='), Some('=')) => Some((CompareOp::Eq, 2)),
            (Some('!'), Some('=')) => Some((CompareOp::Ne, 2)),
            (Some('<'), Some('=')) => Some((CompareOp::Le, 2)),
            (Some('>'), Some('=')) => Some((CompareOp::Ge, 2)),
            (Some('<'), _) => Some((CompareOp::Lt, 1)),
            (Some('>'), _) => Some((CompareOp::Gt, 1)),
            _ => None,
        };
        let Some((op, width)) = op else {
            return match left {
                Operand::Query(q) => Ok(Filter::Exists(q)),
                Operand::Literal(_) => Err("a filter needs a path such as `@.state`".to_string()),
            };
        };
        self.pos += width;
        self.skip_ws();
        let right = self.operand()?;
        Ok(Filter::Compare(left, op, right))
    }

    fn operand(&mut self) -> Result<Operand, String> {
        match self.peek() {
            Some('@') | Some('$') => Ok(Operand::Query(self.query()?)),
            Some('"') | Some('\'') => Ok(Operand::Literal(Value::String(self.quoted()?))),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let begin = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[begin..self.pos].iter().collect();
                let number: f64 = text
                    .parse()
                    .map_err(|_| format!("`{text}` is not a number"))?;
                serde_json::Number::from_f64(number)
                    .map(|n| Operand::Literal(Value::Number(n)))
                    .ok_or_else(|| format!("`{text}` is not a finite number"))
            }
            _ => {
                for (word, value) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    let end = self.pos + word.len();
                    if end <= self.chars.len()
                        && self.chars[self.pos..end].iter().copied().eq(word.chars())
                    {
                        self.pos = end;
                        return Ok(Operand::Literal(value));
                    }
                }
                Err(format!(
                    "expected `@.path`, a quoted string, a number, true, false or null at \
                     character {} of `{}`",
                    self.pos + 1,
                    self.chars.iter().collect::<String>()
                ))
            }
        }
    }

    /// A string in `"` or `'` with backslash escapes (`\n`, `\t`, `\\`, `\"`, `\'`).
    fn quoted(&mut self) -> Result<String, String> {
        let Some(quote) = self.peek() else {
            return Err("expected a quoted string".to_string());
        };
        self.pos += 1;
        let mut out = String::new();
        while let Some(c) = self.peek() {
            self.pos += 1;
            if c == quote {
                return Ok(out);
            }
            if c == '\\' {
                let Some(escaped) = self.peek() else { break };
                self.pos += 1;
                out.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    other => other,
                });
            } else {
                out.push(c);
            }
        }
        Err(format!(
            "unterminated string in `{}`",
            self.chars.iter().collect::<String>()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(path: &str, data: &Value) -> Evaluated<'static> {
        let expr = Expr::parse(path).unwrap();
        // Leak the data so the borrowed result can be returned from the helper.
        let data: &'static Value = Box::leak(Box::new(data.clone()));
        expr.evaluate(Hit::root(data))
    }

    fn select_keys(path: &str, data: &Value) -> Vec<String> {
        let expr = Expr::parse(path).unwrap();
        expr.select(Hit::root(data))
            .0
            .iter()
            .map(|h| h.key.map(|k| k.to_string()).unwrap_or_default())
            .collect()
    }

    fn example() -> Value {
        json!({
            "counter": 1234,
            "timestamp": 1657568506,
            "values": [
                {"id": "id-A", "count": 1, "some_boolean": true, "state": "ACTIVE"},
                {"id": "id-B", "count": 2, "some_boolean": true, "state": "INACTIVE"},
                {"id": "id-C", "count": 3, "some_boolean": false, "state": "ACTIVE"}
            ],
            "location": "mars",
            "dotted.key": 7,
            "queues": {"a": {"messages": 5}, "b": {"messages": 6}}
        })
    }

    #[test]
    fn simple_members_keep_their_type() {
        let data = example();
        assert_eq!(eval("{ .counter }", &data), Evaluated::Json(&json!(1234)));
        assert_eq!(eval("{.location}", &data), Evaluated::Json(&json!("mars")));
        assert_eq!(eval("$.counter", &data), Evaluated::Json(&json!(1234)));
        assert_eq!(eval("{.dotted\\.key}", &data), Evaluated::Json(&json!(7)));
        assert_eq!(eval("{['dotted.key']}", &data), Evaluated::Json(&json!(7)));
    }

    #[test]
    fn text_around_actions() {
        let data = example();
        assert_eq!(
            eval("planet-{ .location }", &data),
            Evaluated::Text("planet-mars".into())
        );
        assert_eq!(eval("beta", &data), Evaluated::Text("beta".into()));
        assert_eq!(eval("1", &data), Evaluated::Text("1".into()));
        assert_eq!(
            eval("{.location}{\"/\"}{.counter}", &data),
            Evaluated::Text("mars/1234".into())
        );
    }

    #[test]
    fn several_results_are_joined_by_spaces() {
        let data = example();
        assert_eq!(
            eval("{.values[*].id}", &data),
            Evaluated::Text("id-A id-B id-C".into())
        );
    }

    #[test]
    fn filters() {
        let data = example();
        assert_eq!(
            eval(r#"{ .values[?(@.state == "INACTIVE")].count }"#, &data),
            Evaluated::Json(&json!(2))
        );
        assert_eq!(
            select_keys(r#"{.values[?(@.state == "ACTIVE")]}"#, &data),
            vec!["0", "2"]
        );
        assert_eq!(
            select_keys("{.values[?(@.count > 1)]}", &data),
            vec!["1", "2"]
        );
        assert_eq!(
            select_keys("{.values[?(@.count <= 2)]}", &data),
            vec!["0", "1"]
        );
        assert_eq!(
            select_keys("{.values[?(@.some_boolean == false)]}", &data),
            vec!["2"]
        );
        assert_eq!(
            select_keys("{.values[?(@.missing)]}", &data),
            Vec::<String>::new()
        );
        assert_eq!(
            select_keys("{.values[?(@.id != 'id-A')]}", &data),
            vec!["1", "2"]
        );
        assert_eq!(
            select_keys("$.values[?@.state=='ACTIVE']", &data),
            vec!["0", "2"]
        );
    }

    #[test]
    fn wildcards_slices_indices_recursion() {
        let data = example();
        assert_eq!(select_keys("{ [*] }", &json!([1, 2])), vec!["0", "1"]);
        assert_eq!(select_keys("{.queues.*}", &data), vec!["a", "b"]);
        assert_eq!(select_keys("$.queues.*", &data), vec!["a", "b"]);
        assert_eq!(select_keys("{.values[-1]}", &data), vec!["2"]);
        assert_eq!(select_keys("{.values[0,2]}", &data), vec!["0", "2"]);
        assert_eq!(select_keys("{.values[1:]}", &data), vec!["1", "2"]);
        assert_eq!(select_keys("{.values[0:3:2]}", &data), vec!["0", "2"]);
        assert_eq!(select_keys("{$}", &data), vec![""]);
        assert_eq!(eval("{..messages}", &data), Evaluated::Text("5 6".into()));
    }

    #[test]
    fn missing() {
        let data = example();
        assert!(matches!(eval("{.nope}", &data), Evaluated::Missing(_)));
        assert!(matches!(eval("{.values[7]}", &data), Evaluated::Missing(_)));
        assert!(matches!(eval("x-{.nope}", &data), Evaluated::Missing(_)));
        assert!(matches!(eval("$.nope", &data), Evaluated::Missing(_)));
    }

    #[test]
    fn bad_syntax_is_an_error() {
        for bad in [
            "{.a",
            "{}",
            "{.values[}",
            "{.values[?(@.a ==)]}",
            "{range .items[*]}",
            "{.a b}",
            "$.a[",
            "{.a[0:1:0]}",
            "$key",
            "{\"unterminated}",
        ] {
            assert!(Expr::parse(bad).is_err(), "{bad} should not parse");
        }
    }

    /// A huge slice step made `i += step` overflow and index past the array.
    #[test]
    fn huge_slice_step_ends_the_walk() {
        let data = example();
        assert_eq!(
            select_keys("{.values[1::9223372036854775807]}", &data),
            vec!["1"]
        );
        assert_eq!(
            select_keys("{.values[-9223372036854775808:9223372036854775807]}", &data),
            vec!["0", "1", "2"]
        );
    }

    /// Nested filters recurse in both parsers: deep nesting is an error, not a stack overflow.
    #[test]
    fn deep_nesting_is_an_error() {
        let deep =
            |open: &str, close: &str| format!("{}{}", open.repeat(20_000), close.repeat(20_000));
        for (source, limit) in [
            (format!("{{.a{}}}", deep("[?(@.a", ")]")), 32),
            (format!("$.a{}", deep("[?@.a", "]")), 8),
            (format!("$.a{}", deep("[?(", ")]")), 8),
        ] {
            let e = Expr::parse(&source).unwrap_err();
            assert!(e.contains(&format!("more than {limit} deep")), "{e}");
        }
        // Brackets inside quotes are names, not nesting.
        let quoted = format!("{{['{}']}}", "[".repeat(100));
        assert!(Expr::parse(&quoted).is_ok());
        assert!(Expr::parse("{.items[?(@.a[?(@.b == 'x')])]}").is_ok());
    }

    /// serde_json_path's parse time doubles with each nested filter: a fuzzed 32-level path
    /// (within the kubectl bound) did not finish parsing.
    #[test]
    fn nested_rfc9535_filters_have_a_lower_bound() {
        let nested = |levels: usize| format!("$.a{}{}", "[?@.a".repeat(levels), "]".repeat(levels));
        assert!(Expr::parse(&nested(MAX_RFC9535_NESTING)).is_ok());
        for source in [
            nested(MAX_RFC9535_NESTING + 1),
            nested(32),
            format!("$.a{} == 'UP']", "[?@.a".repeat(32)),
        ] {
            let e = Expr::parse(&source).unwrap_err();
            assert!(e.contains("more than 8 deep"), "{e}");
        }
        // The kubectl parser does not slow down with nesting: its bound stays.
        let kubectl = format!("{{.a{}{}}}", "[?(@.a".repeat(16), ")]".repeat(16));
        assert!(Expr::parse(&kubectl).is_ok());
    }

    #[test]
    fn constant_text() {
        let constant = |source: &str| Expr::parse(source).unwrap().constant_text();
        assert_eq!(constant("idle").as_deref(), Some("idle"));
        assert_eq!(constant("").as_deref(), Some(""));
        assert_eq!(constant("a{'b'}c").as_deref(), Some("abc"));
        assert_eq!(constant("{.a}"), None);
        assert_eq!(constant("q-{$key}"), None);
        assert_eq!(constant("$.a"), None);
    }

    #[test]
    fn key_part() {
        let data = json!({"q": {"x": 1}});
        let expr = Expr::parse("queue-{$key}").unwrap();
        let (hits, _) = Expr::parse("{.q.*}").unwrap().select(Hit::root(&data));
        assert_eq!(expr.evaluate(hits[0]), Evaluated::Text("queue-x".into()));
    }
}
