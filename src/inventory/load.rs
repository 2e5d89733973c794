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

/// Parses the inventory text. On failure returns one diagnostic pointing at the problem.
pub fn parse(file: &str, text: &str) -> Result<(RawInventory, Spans), Box<Diagnostic>> {
    match serde_yaml::from_str::<RawInventory>(text) {
        Ok(raw) => Ok((raw, spans_of(text))),
        Err(e) => Err(Box::new(yaml_error(file, text, &e))),
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
    let (message, help) = explain(&msg, text.trim().is_empty());
    let mut d = Diagnostic::error(message).help_opt(help);
    if let Some(p) = at {
        d = d.at(file, text, p);
    } else {
        d = d.in_file(file);
    }
    d
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
        return (
            prefix(rest.to_string()),
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

/// serde_yaml prefixes messages with the path of the failing node ("flink.artifact: ...").
fn split_path(msg: &str) -> (&str, &str) {
    match msg.split_once(": ") {
        Some((p, r)) if !p.contains(' ') && !p.is_empty() => (p, r),
        _ => ("", msg),
    }
}
