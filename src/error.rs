//! One error type for the whole tool, its exit codes, and the single place it is rendered.

use crate::diagnostic::{Diagnostic, Finding, HostId};

/// Exit codes. They are part of the command-line contract and documented in the README.
pub mod exit {
    /// Everything asked for was done (and verified, where that applies).
    pub const OK: i32 = 0;
    /// The operation ran and failed: a host, a download, a check or the verification.
    pub const FAILED: i32 = 1;
    /// Invalid input or usage: nothing was contacted and nothing was written.
    pub const INVALID: i32 = 2;
    /// Stopped by Ctrl-C between two actions.
    pub const INTERRUPTED: i32 = 130;
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The inventory failed validation; every problem found is listed.
    #[error("{}", render_diagnostics(.0))]
    Inventory(Vec<Diagnostic>),
    /// Wrong use of the command line that clap cannot see.
    #[error("{0}")]
    Usage(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("template {name}: {message}")]
    Template { name: String, message: String },
    #[error("{0}")]
    Fetch(String),
    /// A product bundle that is not what its format requires; nothing was changed.
    #[error("{0}")]
    Bundle(String),
    #[error("{host}: {message}")]
    Remote { host: HostId, message: String },
    #[error("{0}")]
    Failed(String),
    #[error("interrupted: stopped between two actions; run the same command again to continue")]
    Interrupted,
    /// Some hosts failed a stage; each keeps its own error until rendered here.
    #[error("{}", render_hosts(.what, .failures, *.total, .after))]
    Hosts {
        /// What the hosts were doing: "failed to connect", "failed stage install".
        what: String,
        failures: Vec<HostFailure>,
        total: usize,
        /// What this means for the cluster and what to do next.
        after: String,
    },
    /// A change failed and the previous state was put back (and verified).
    #[error("{cause}\nRolled back: {restored}")]
    RolledBack { cause: Box<Error>, restored: String },
    /// The plan's preflight found what cannot work; nothing was changed.
    #[error("{}", render_refusals(.0))]
    Refused(Vec<Finding>),
}

/// One host's failure, typed.
#[derive(Debug)]
pub struct HostFailure {
    pub host: HostId,
    pub error: Error,
}

fn render_hosts(what: &str, failures: &[HostFailure], total: usize, after: &str) -> String {
    let mut lines: Vec<String> = failures
        .iter()
        .map(|f| match &f.error {
            // The host is named once, not twice.
            Error::Remote { message, .. } => format!("{}: {message}", f.host),
            e => format!("{}: {e}", f.host),
        })
        .collect();
    lines.sort();
    let mut out = format!(
        "{} of {total} host{} {what}:\n  {}",
        failures.len(),
        if total == 1 { "" } else { "s" },
        lines.join("\n  ")
    );
    if !after.is_empty() {
        out.push('\n');
        out.push_str(after);
    }
    out
}

fn render_refusals(findings: &[Finding]) -> String {
    let mut out = String::from("the plan cannot be carried out; nothing was changed:");
    for f in findings {
        out.push_str("\n  ");
        out.push_str(&f.to_string());
    }
    out
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Inventory(_) | Error::Usage(_) => exit::INVALID,
            Error::Template { .. } | Error::Bundle(_) => exit::INVALID,
            Error::Interrupted => exit::INTERRUPTED,
            Error::Io { .. }
            | Error::Fetch(_)
            | Error::Remote { .. }
            | Error::Failed(_)
            | Error::Hosts { .. }
            | Error::RolledBack { .. }
            | Error::Refused(_) => exit::FAILED,
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    pub fn remote(host: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Remote {
            host: HostId(host.into()),
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error and all its sources on one line: "outer: middle: root cause".
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}

fn render_diagnostics(diags: &[Diagnostic]) -> String {
    let mut out = String::new();
    for d in diags {
        out.push_str(&d.to_string());
        out.push('\n');
    }
    out.push_str(&crate::diagnostic::outcome(diags));
    out
}

/// Renders an error for the terminal. Inventory errors already carry their own layout.
pub fn render(err: &Error) -> String {
    match err {
        Error::Inventory(_) => err.to_string(),
        _ => format!("error: {err}"),
    }
}
