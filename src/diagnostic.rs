//! The ground floor: what every layer reports and the error type renders — a host's id,
//! positions in the inventory, one `Severity`, inventory diagnostics and the plan's preflight
//! findings. It imports nothing of flinkup's own, so nothing it serves can form a cycle
//! through it.

use std::fmt;

use serde::Serialize;

/// A host as the inventory names it (Flink's name for it); unique within an inventory.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct HostId(pub String);

impl HostId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A position in the inventory file (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// How bad a finding is, for the inventory's diagnostics and the plan's preflight alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// It cannot work: nothing is contacted (inventory) or executed (plan).
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// The line that ends an inventory's diagnostics: how many errors, and that nothing happened.
pub fn outcome(diags: &[Diagnostic]) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    format!(
        "{errors} error{} in the inventory; nothing was contacted or written",
        if errors == 1 { "" } else { "s" }
    )
}

/// One finding about the inventory: what, where, and how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub message: String,
    pub file: Option<String>,
    pub pos: Option<Pos>,
    /// The inventory key it is about, as a path: `config.rest.port`, `taskmanagers[1].ssh`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The source line the position points into, shown under the message.
    #[serde(skip)]
    pub snippet: Option<String>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            file: None,
            pos: None,
            key: None,
            snippet: None,
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn help_opt(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }

    /// The key path it is about (`["taskmanagers", "1", "ssh"]` → `taskmanagers[1].ssh`).
    pub fn key(mut self, path: &[&str]) -> Self {
        let mut k = String::new();
        for p in path {
            if p.parse::<usize>().is_ok() {
                k.push_str(&format!("[{p}]"));
            } else {
                if !k.is_empty() {
                    k.push('.');
                }
                k.push_str(p);
            }
        }
        self.key = (!k.is_empty()).then_some(k);
        self
    }

    /// As a JSON Lines event: `error` or `warning`, each part a field of its own.
    pub fn event(&self) -> serde_json::Value {
        serde_json::json!({
            "event": self.severity.to_string(),
            "message": self.message,
            "file": self.file,
            "line": self.pos.map(|p| p.line),
            "column": self.pos.map(|p| p.column),
            "key": self.key,
            "help": self.help,
        })
    }

    pub fn in_file(mut self, file: &str) -> Self {
        self.file = Some(file.to_string());
        self
    }

    pub fn at(mut self, file: &str, text: &str, pos: Pos) -> Self {
        self.file = Some(file.to_string());
        self.pos = Some(pos);
        self.snippet = text
            .lines()
            .nth(pos.line.saturating_sub(1))
            .map(|l| l.to_string());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {}", self.severity, self.message)?;
        match (&self.file, self.pos) {
            (Some(file), Some(p)) => {
                writeln!(f, "  --> {file}:{}:{}", p.line, p.column)?;
                if let Some(line) = &self.snippet {
                    let n = p.line.to_string();
                    let pad = " ".repeat(n.len());
                    writeln!(f, " {pad} |")?;
                    writeln!(f, " {n} | {line}")?;
                    writeln!(f, " {pad} | {}^", " ".repeat(p.column.saturating_sub(1)))?;
                }
            }
            (Some(file), None) => writeln!(f, "  --> {file}")?,
            _ => {}
        }
        if let Some(h) = &self.help {
            write!(f, "  = help: {h}")?;
        }
        Ok(())
    }
}

/// A preflight finding computed from facts: what, on which host, how to fix it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub host: Option<HostId>,
    pub message: String,
    pub help: Option<String>,
}

impl Finding {
    pub fn error(
        host: Option<&HostId>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Error,
            host: host.cloned(),
            message: message.into(),
            help: Some(help.into()),
        }
    }

    pub fn warning(host: Option<&HostId>, message: impl Into<String>) -> Self {
        Finding {
            severity: Severity::Warning,
            host: host.cloned(),
            message: message.into(),
            help: None,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(h) = &self.host {
            write!(f, "{h}: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(help) = &self.help {
            write!(f, "\n    help: {help}")?;
        }
        Ok(())
    }
}
