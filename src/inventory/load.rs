//! Reads inventory YAML: the only module that touches a YAML parser.
//!
//! serde_yaml builds the typed [`RawInventory`] and reports syntax and type errors with their
//! position; a second pass with yaml-rust2's event parser records where every key and value
//! sits, so later semantic checks (ports, hosts, sizes) can point at the exact line too.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

use super::schema::RawInventory;
use super::{suggest, Diagnostic, Pos};

/// Positions of keys and values, addressed by their path (`["config", "rest.port"]`).
#[derive(Debug, Default)]
pub struct Spans {
    values: HashMap<String, Pos>,
    keys: HashMap<String, Pos>,
}

const SEP: char = '\u{1f}';

fn join(path: &[&str]) -> String {
    let mut out = String::new();
    for (i, p) in path.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.push_str(p);
    }
    out
}

impl Spans {
    /// Where the value at `path` starts; falls back to the nearest enclosing node.
    pub fn value(&self, path: &[&str]) -> Option<Pos> {
        (0..=path.len())
            .rev()
            .find_map(|n| self.values.get(&join(&path[..n])).copied())
    }

    /// Where the key of `path` is written (its value's position when the key is unknown).
    pub fn key(&self, path: &[&str]) -> Option<Pos> {
        self.keys
            .get(&join(path))
            .copied()
            .or_else(|| self.value(path))
    }
}

enum Frame {
    Map { key: Option<String> },
    Seq { idx: usize },
}

#[derive(Default)]
struct Recorder {
    stack: Vec<Frame>,
    path: Vec<String>,
    spans: Spans,
}

fn pos(m: Marker) -> Pos {
    Pos {
        line: m.line(),
        column: m.col() + 1,
    }
}

impl Recorder {
    fn here(&self) -> String {
        let parts: Vec<&str> = self.path.iter().map(String::as_str).collect();
        join(&parts)
    }

    fn node(&mut self, scalar: Option<String>, mark: Marker, container: bool) {
        match self.stack.last_mut() {
            None => {
                // The document itself: problems with no better place point at its start.
                self.spans
                    .values
                    .insert(String::new(), Pos { line: 1, column: 1 });
            }
            Some(Frame::Map { key: key @ None }) => {
                let k = scalar.unwrap_or_default();
                *key = Some(k.clone());
                self.path.push(k);
                let here = self.here();
                self.path.pop();
                self.spans.keys.insert(here, pos(mark));
                if container {
                    // A complex key: its contents are not addressable, but the frames must balance.
                    self.path.push(String::new());
                }
            }
            Some(Frame::Map { key: Some(k) }) => {
                let k = k.clone();
                self.path.push(k);
                let here = self.here();
                self.spans.values.insert(here, pos(mark));
                if !container {
                    self.finish_value();
                }
            }
            Some(Frame::Seq { idx }) => {
                let i = idx.to_string();
                self.path.push(i);
                let here = self.here();
                self.spans.values.insert(here, pos(mark));
                if !container {
                    self.finish_value();
                }
            }
        }
    }

    /// Called when a value (scalar or container) of the innermost frame is complete.
    fn finish_value(&mut self) {
        self.path.pop();
        match self.stack.last_mut() {
            Some(Frame::Map { key }) => *key = None,
            Some(Frame::Seq { idx }) => *idx += 1,
            None => {}
        }
    }
}

impl MarkedEventReceiver for Recorder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(v, ..) => self.node(Some(v), mark, false),
            Event::Alias(_) => self.node(None, mark, false),
            Event::MappingStart(..) => {
                self.node(None, mark, true);
                self.stack.push(Frame::Map { key: None });
            }
            Event::SequenceStart(..) => {
                self.node(None, mark, true);
                self.stack.push(Frame::Seq { idx: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
                if !self.stack.is_empty() {
                    self.finish_value();
                }
            }
            _ => {}
        }
    }
}

fn spans_of(text: &str) -> Spans {
    let mut rec = Recorder::default();
    let mut parser = Parser::new_from_str(text);
    // serde_yaml has already accepted the text; a failure here only costs positions.
    let _ = parser.load(&mut rec, false);
    rec.spans
}

/// Parses the inventory text. Structural mistakes (unknown fields, wrong types) are all
/// reported, each at its line: the offending node is set aside and the rest parsed again, so
/// the typed inventory (when the mistakes allow one) still goes on to value validation.
pub fn parse(
    file: &str,
    text: &str,
) -> Result<(Option<RawInventory>, Spans, Vec<Diagnostic>), Box<Diagnostic>> {
    let mut value: serde_yaml::Value = match serde_yaml::from_str(text) {
        Ok(v) => v,
        Err(e) => return Err(Box::new(yaml_error(file, text, &e))),
    };
    let spans = spans_of(text);
    if text.trim().is_empty() || value.is_null() {
        let (message, help) = explain("", true);
        return Err(Box::new(Diagnostic::error(message).help_opt(help).at(
            file,
            text,
            Pos { line: 1, column: 1 },
        )));
    }
    if !value.is_mapping() {
        return Err(Box::new(
            Diagnostic::error(format!(
                "the inventory is a {}, not a map of settings",
                kind(&value)
            ))
            .help("write `key: value` lines at the top level: cluster:, flink:, jobmanager:, taskmanagers: … (inventories/seed.yaml shows them all)")
            .at(file, text, Pos { line: 1, column: 1 }),
        ));
    }
    let mut diags = Vec::new();
    for _ in 0..50 {
        // Through text, so serde_yaml names the path of each mistake; positions come from
        // the original text's spans.
        let again = serde_yaml::to_string(&value).unwrap_or_default();
        let e = match serde_yaml::from_str::<RawInventory>(&again) {
            Ok(raw) => return Ok((Some(raw), spans, diags)),
            Err(e) => e,
        };
        let full = e.to_string();
        let full = match full.rfind(" at line ") {
            Some(i) => full[..i].to_string(),
            None => full,
        };
        let (path, rest) = split_path(&full);
        let mut segs = segments(path);
        let (message, help) = explain(&full, false);
        // An unknown field is addressed by its own key; a wrong type by its value.
        let unknown = rest
            .strip_prefix("unknown field `")
            .and_then(|r| r.split('`').next())
            .map(str::to_string);
        if let Some(f) = &unknown {
            segs.push(f.clone());
        }
        let refs: Vec<&str> = segs.iter().map(String::as_str).collect();
        let at = if unknown.is_some() {
            spans.key(&refs)
        } else {
            spans.value(&refs)
        };
        let d = Diagnostic::error(message).help_opt(help).key(&refs);
        diags.push(match at {
            Some(p) => d.at(file, text, p),
            None => d.in_file(file),
        });
        // Set the node aside and look for the next mistake; a missing field cannot be.
        if rest.starts_with("missing field") || segs.is_empty() || !remove(&mut value, &segs) {
            break;
        }
    }
    Ok((None, spans, diags))
}

fn kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Sequence(_) => "list",
        serde_yaml::Value::String(_) => "single text value",
        serde_yaml::Value::Number(_) => "number",
        serde_yaml::Value::Bool(_) => "boolean",
        _ => "value of another kind",
    }
}

/// "taskmanagers[1].ssh" → ["taskmanagers", "1", "ssh"].
fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            out.push(rest[..i].to_string());
            rest = &rest[i..];
            while let Some(r) = rest.strip_prefix('[') {
                let (idx, tail) = r.split_once(']').unwrap_or((r, ""));
                out.push(idx.to_string());
                rest = tail;
            }
        } else {
            out.push(rest.to_string());
        }
    }
    out
}

/// Removes the node at `path`; false when there is none.
fn remove(v: &mut serde_yaml::Value, path: &[String]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut cur = v;
    for p in parents {
        let next = match cur {
            serde_yaml::Value::Mapping(m) => m.get_mut(p.as_str()),
            serde_yaml::Value::Sequence(s) => p.parse::<usize>().ok().and_then(|i| s.get_mut(i)),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return false,
        }
    }
    match cur {
        serde_yaml::Value::Mapping(m) => m.remove(last.as_str()).is_some(),
        serde_yaml::Value::Sequence(s) => match last.parse::<usize>() {
            Ok(i) if i < s.len() => {
                s.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

fn yaml_error(file: &str, text: &str, e: &serde_yaml::Error) -> Diagnostic {
    let full = e.to_string();
    let msg = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full.clone(),
    };
    let at = e.location().map(|l| Pos {
        line: l.line(),
        column: l.column(),
    });
    if let Some((pos, message, help)) = at.and_then(|p| indentation(text, &msg, p.line)) {
        return Diagnostic::error(message)
            .help_opt(Some(help))
            .at(file, text, pos);
    }
    let (message, help) = explain(&msg, text.trim().is_empty());
    let mut d = Diagnostic::error(message).help_opt(help);
    if let Some(p) = at {
        d = d.at(file, text, p);
    } else {
        d = d.in_file(file);
    }
    d
}

/// A key indented wrongly, which the YAML parser reports in its own terms ("mapping values are
/// not allowed", "did not find expected key") and sometimes a line after the one to fix: finds
/// the line whose indentation breaks the map above it, says so in plain words, and points at it.
fn indentation(text: &str, msg: &str, reported: usize) -> Option<(Pos, String, String)> {
    let over = msg.contains("mapping values are not allowed");
    let under = msg.contains("did not find expected key");
    if !over && !under {
        return None;
    }
    let lines: Vec<&str> = text.lines().collect();
    let indent = |l: &str| l.len() - l.trim_start().len();
    let content = |l: &str| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#')
    };
    let key = |l: &str| {
        l.trim()
            .trim_start_matches("- ")
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_string()
    };
    // Lines are 1-based; look at the reported line and the ones before it, nearest first.
    for n in (2..=reported.min(lines.len())).rev() {
        let line = lines[n - 1];
        if !content(line) {
            continue;
        }
        let Some(p) = (1..n).rev().find(|&i| content(lines[i - 1])) else {
            continue;
        };
        let prev = lines[p - 1];
        let (a, b) = (indent(prev), indent(line));
        let prev_opens_map = prev.trim_end().ends_with(':');
        let found = if over {
            b > a && !prev_opens_map && !prev.trim_start().starts_with("- ")
        } else {
            b < a && !prev_opens_map
        };
        if !found {
            continue;
        }
        let k = key(line);
        let pk = key(prev);
        let by = |n: usize| {
            if n == 0 {
                "at the start of the line".to_string()
            } else {
                format!("by {n} spaces")
            }
        };
        let pos = Pos {
            line: n,
            column: b + 1,
        };
        return Some(if over {
            (
                pos,
                format!("`{k}` is indented more than `{pk}` on line {p}, so YAML reads it as part of that value"),
                format!("indent `{k}` {} like `{pk}`, or, if it belongs under `{pk}`, end line {p} at `{pk}:`", by(a)),
            )
        } else {
            let parent = (1..p)
                .rev()
                .find(|&i| content(lines[i - 1]) && indent(lines[i - 1]) < a)
                .map(|i| (key(lines[i - 1]), indent(lines[i - 1])));
            let (parent, pi) = parent.unwrap_or_default();
            (
                pos,
                format!("`{k}` is indented less than `{pk}` on line {p} but more than `{parent}`, so it belongs to neither"),
                format!("indent `{k}` {} to keep it under `{parent}`, or {} to start a new section", by(a), by(pi)),
            )
        });
    }
    None
}

/// Turns serde's wording into ours and adds the "how to fix" line.
fn explain(msg: &str, empty: bool) -> (String, Option<String>) {
    if empty {
        return (
            "the inventory file is empty".into(),
            Some("start from inventories/seed.yaml".into()),
        );
    }
    let (path, rest) = split_path(msg);
    let prefix = |s: String| {
        if path.is_empty() {
            s
        } else {
            format!("{path}: {s}")
        }
    };
    for (marker, what) in [("unknown field `", "field"), ("unknown variant `", "value")] {
        if let Some(r) = rest.strip_prefix(marker) {
            let (bad, tail) = r.split_once('`').unwrap_or((r, ""));
            let expected: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
            let help = match suggest(bad, expected.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if expected.is_empty() => "remove it".to_string(),
                None => format!("valid {what}s here: {}", expected.join(", ")),
            };
            return (prefix(format!("unknown {what} `{bad}`")), Some(help));
        }
    }
    if let Some(r) = rest.strip_prefix("missing field `") {
        let field = r.split('`').next().unwrap_or(r);
        let help = match field {
            "cluster" => "add `cluster: <name>`, a name for this cluster",
            "host" => "give the host entry its name: `host: tm1`",
            _ => "add it",
        };
        return (
            prefix(format!("missing field `{field}`")),
            Some(help.into()),
        );
    }
    if rest.starts_with("invalid type") {
        let rest = words(rest);
        return (
            prefix(rest),
            Some("check the value's type against the inventory format in the README".into()),
        );
    }
    if rest.contains("duplicate entry") {
        return (
            prefix(rest.to_string()),
            Some("a key may appear only once in a map; remove one of them".into()),
        );
    }
    (
        format!("invalid YAML: {}", prefix(rest.to_string())),
        Some("fix the YAML syntax at this position (indentation, a missing `:` or quote)".into()),
    )
}

/// serde's names of our types, in the inventory's words.
fn words(msg: &str) -> String {
    let mut out = msg.to_string();
    while let Some(i) = out.find("struct Raw") {
        let end = out[i + 7..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .map_or(out.len(), |j| i + 7 + j);
        out.replace_range(i..end, "a map of settings");
    }
    for (t, w) in [
        ("i64", "a whole number"),
        ("u64", "a whole number"),
        ("u32", "a whole number"),
        ("u16", "a whole number"),
        ("usize", "a whole number"),
        ("f64", "a number"),
    ] {
        out = out.replace(&format!("expected {t}"), &format!("expected {w}"));
    }
    out.replace("enum RawHost", "a host name or map")
        .replace("enum RawSmoke", "true, false or a map")
        .replace("a sequence", "a list")
        .replace("sequence", "list")
}

/// serde_yaml prefixes messages with the path of the failing node ("flink.artifact: ...").
fn split_path(msg: &str) -> (&str, &str) {
    match msg.split_once(": ") {
        Some((p, r)) if !p.contains(' ') && !p.is_empty() => (p, r),
        _ => ("", msg),
    }
}
