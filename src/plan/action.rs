//! The steps a deploy takes: plain data, printed by `plan` and executed by `deploy`.

use serde::Serialize;

use crate::inventory::StartMode;

/// Whether a file is new or replaces different content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Create,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Send the verified tarball to the host's state directory; its sha512 is checked there.
    Upload {
        file: String,
        dest: String,
        sha512: Option<String>,
    },
    /// Unpack into a temporary directory beside `dest`, then rename it to `dest`. An archive
    /// that was not `checked` by an upload in the same plan is verified by sha512 first.
    Unpack {
        archive: String,
        dest: String,
        checked: bool,
    },
    /// Replace a file atomically (temporary file, then rename).
    WriteFile {
        path: String,
        change: Change,
        content: String,
        diff: String,
    },
    /// Point the `flink` symlink at a release, atomically.
    Link {
        link: String,
        target: String,
        previous: Option<String>,
    },
    /// Let the JobManager host ssh to TaskManager hosts, as start-cluster.sh needs.
    TrustSsh { from: String, to: Vec<String> },
    /// Stop the running cluster before starting it with a changed configuration.
    Stop { reason: String },
    /// Start the daemons.
    Start {
        mode: StartMode,
        on: String,
        command: String,
    },
    /// Start only the daemons that are not running (host, role), the others untouched.
    StartMissing { daemons: Vec<(String, String)> },
    /// Poll the REST API until the expected TaskManagers and slots are registered.
    Verify {
        url: String,
        taskmanagers: usize,
        slots: u64,
        timeout_secs: u64,
    },
}

impl Action {
    /// A one-word name for progress lines and counts.
    pub fn verb(&self) -> &'static str {
        match self {
            Action::Upload { .. } => "upload",
            Action::Unpack { .. } => "unpack",
            Action::WriteFile { .. } => "write",
            Action::Link { .. } => "link",
            Action::TrustSsh { .. } => "trust",
            Action::Stop { .. } => "stop",
            Action::Start { .. } | Action::StartMissing { .. } => "start",
            Action::Verify { .. } => "verify",
        }
    }

    /// Whether executing the action changes anything on a host.
    pub fn changes_hosts(&self) -> bool {
        !matches!(self, Action::Verify { .. })
    }
}
