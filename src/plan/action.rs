//! The steps a plan is made of: plain, self-contained data. Executing one needs only the
//! action and a connection to its host; nothing here refers back to the inventory.

use serde::Serialize;

use crate::facts::SshPeer;
use crate::fleet::HostId;

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
    /// Send a verified file from the operator's machine; its sha512 is checked on the host
    /// before it takes its final name. `local` and `sha512` are known once it is fetched.
    Upload {
        file: String,
        local: Option<String>,
        dest: String,
        size: Option<u64>,
        sha512: Option<String>,
    },
    /// The host fetches the archive itself from the first of `urls` that answers (curl, else
    /// wget) and keeps it under `dest` only when its sha512 is `sha512` (`distribution:
    /// direct`): nothing crosses the operator's link.
    Download {
        file: String,
        urls: Vec<String>,
        dest: String,
        sha512: String,
    },
    /// Send one verified file to many hosts, each artifact once over the operator's link:
    /// hosts forward it to each other over their own ssh while they receive it (`hops`, a
    /// tree), and every host checks its sha512 before the file takes its final name. A host
    /// whose sender failed is fed again from a host holding the verified file (`relayers`)
    /// or from the operator.
    Relay {
        file: String,
        local: Option<String>,
        size: Option<u64>,
        sha512: Option<String>,
        /// A host that already holds the verified file, and where: it feeds the route instead
        /// of the operator.
        seed: Option<Seed>,
        hops: Vec<Hop>,
        /// Hosts that log in to every other host of the route (the root): they feed again a
        /// host whose sender failed.
        relayers: Vec<HostId>,
        /// The archive's top directory: hosts unpack it as it arrives, each chunk checked
        /// before tar reads it, into `<dest>.unpacked/` (the unpack step renames it).
        unpack_top: Option<String>,
    },
    /// Unpack into a temporary directory under `staging`, check that `top_dir` is the
    /// archive's top directory, then rename it to `dest`. With `verify_sha512`, the archive is
    /// checked first (one found on the host rather than uploaded by this plan).
    Unpack {
        archive: String,
        dest: String,
        top_dir: String,
        staging: String,
        verify_sha512: Option<String>,
        /// The archive's sha512, recorded in the release (`.flinkup-sha512`), so a release
        /// of the same name from another archive is told apart.
        archive_sha512: Option<String>,
        /// Keep the archive once the release is in place: the one host that seeds later
        /// transfers (a scale-out's relay, a re-install) keeps it; the others remove it.
        keep_archive: bool,
    },
    /// Replace a file atomically (temporary file, then rename).
    WriteFile {
        path: String,
        change: Change,
        content: String,
        diff: String,
        /// Written with its execute bits (a program, not a configuration file).
        executable: bool,
    },
    /// Replace a private file (mode 0600 in a 0700 directory) atomically: a keystore, a key.
    /// Its bytes never appear in any output; the plan shows what it is and its sha256.
    WriteSecret {
        path: String,
        change: Change,
        what: String,
        sha256: String,
        #[serde(skip)]
        content: SecretBytes,
    },
    /// Point a symlink at a release, atomically.
    Link {
        link: String,
        target: String,
        previous: Option<String>,
    },
    /// Let this host log in to its peers with a key and known host keys (start-cluster.sh).
    TrustSsh {
        peers: Vec<SshPeer>,
        /// What needs it, in words.
        reason: String,
        /// Appended to every line it adds (see `plan::trust_marker`).
        marker: String,
    },
    /// Remove the `authorized_keys` and `known_hosts` lines flinkup added for the cluster
    /// (those ending with `marker`) and nothing else.
    Untrust {
        marker: String,
        /// How many lines of each file end with it now, for the plan.
        authorized: usize,
        known: usize,
    },
    /// Write (or, with no block, remove) flinkup's managed block at the top of `~/.ssh/config`.
    SshConfig {
        begin: String,
        end: String,
        block: Option<String>,
    },
    /// Run a service's start script detached from the ssh session.
    StartService {
        service: String,
        script: String,
        args: Vec<String>,
        log: String,
        reason: String,
    },
    /// Run a service that stays in the foreground, detached from the ssh session, with its
    /// environment file sourced first and its pid written to `pid_file`.
    RunDaemon {
        service: String,
        script: String,
        args: Vec<String>,
        env_file: Option<String>,
        pid_file: String,
        log: String,
        /// Directories made first (data, logs).
        dirs: Vec<String>,
        reason: String,
    },
    /// Stop services by their stop scripts (and, with `terminate`, SIGTERM to the pids in
    /// their pid files), wait for those pids to exit, and kill what is still alive after
    /// `grace_secs`.
    StopServices {
        services: Vec<String>,
        scripts: Vec<Vec<String>>,
        pid_files: Vec<String>,
        /// A pid counts as the service only if its command line contains this (a pid file
        /// can outlive its process and the pid be reused).
        cmdline_has: Option<String>,
        terminate: bool,
        grace_secs: u64,
        reason: String,
    },
    /// Remove what flinkup installed: a link (only if it is a link), release trees (and
    /// leftovers of interrupted unpacks beside them), the state directory (the lock inside it
    /// is released at the end of the run).
    Remove {
        link: Option<String>,
        trees: Vec<String>,
        state_dir: Option<String>,
    },
    /// Start (and enable), stop (and disable), restart or remove a systemd unit, after a
    /// `daemon-reload` (its file may just have been written).
    Unit {
        service: String,
        unit: String,
        op: UnitOp,
        reason: String,
    },
    /// Remove the deploy lock left by a run that is gone.
    Unlock { lock_dir: String, holder: String },
    /// A component's own check (Flink: the REST API lists every TaskManager), run by the
    /// component that planned it.
    Check(CheckStep),
}

/// Bytes that are never printed (`Debug` shows their length only).
#[derive(Clone, PartialEq, Default)]
pub struct SecretBytes(pub Vec<u8>);

impl std::fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<{} secret bytes>", self.0.len())
    }
}

/// What happens to a systemd unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitOp {
    /// `systemctl enable --now`: running, and started at boot.
    Start,
    /// `systemctl disable --now`: stopped, and stays stopped after a reboot.
    Stop,
    /// Stopped, disabled, its file removed.
    Remove,
}

impl UnitOp {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitOp::Start => "start",
            UnitOp::Stop => "stop",
            UnitOp::Remove => "remove",
        }
    }
}

/// A component's check as plan data: which component runs it, its kind (the plan's JSON
/// `check` field), the line the plan shows, and its parameters. The engine runs it through
/// the component registry and knows nothing else of it.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckStep {
    pub component: super::ComponentId,
    pub kind: String,
    pub text: String,
    /// Shown as something the plan runs (`+ smoke`) rather than a verification.
    pub runs: Option<String>,
    pub spec: serde_json::Map<String, serde_json::Value>,
}

impl std::fmt::Display for CheckStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

/// As the plan's JSON shows it: `{"check": kind, …its parameters}`.
impl Serialize for CheckStep {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.spec.len() + 1))?;
        m.serialize_entry("check", &self.kind)?;
        for (k, v) in &self.spec {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// A host that holds the verified file before the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Seed {
    pub host: HostId,
    pub path: String,
}

/// One receiving host of a relay.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hop {
    pub host: HostId,
    /// Where its verified copy goes (received as `<dest>.part`).
    pub dest: String,
    /// Who sends to it: None for the operator.
    pub from: Option<HostId>,
    /// How other hosts log in to it.
    pub ssh: SshPeer,
}

impl Action {
    /// A one-word name for progress lines and counts.
    /// Whether the action streams an archive over the operator's link: Ctrl-C aborts it at
    /// once (what arrived is kept, and a re-run resumes it).
    pub fn is_transfer(&self) -> bool {
        matches!(self, Action::Upload { .. } | Action::Relay { .. })
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Action::Upload { .. } => "upload",
            Action::Relay { .. } => "relay",
            Action::Download { .. } => "download",
            Action::Unpack { .. } => "unpack",
            Action::WriteFile { .. } | Action::WriteSecret { .. } => "write",
            Action::Link { .. } => "link",
            Action::TrustSsh { .. } => "trust",
            Action::Untrust { .. } => "untrust",
            Action::SshConfig { .. } => "ssh-config",
            Action::StartService { .. } | Action::RunDaemon { .. } => "start",
            Action::Unit { op, .. } => op.as_str(),
            Action::StopServices { .. } => "stop",
            Action::Remove { .. } => "remove",
            Action::Unlock { .. } => "unlock",
            Action::Check(_) => "verify",
        }
    }

    /// The file this action sends from the operator's machine (an upload or a relay).
    pub fn sends(&self) -> Option<&str> {
        match self {
            Action::Upload { file, .. } | Action::Relay { file, .. } => Some(file),
            _ => None,
        }
    }

    /// Whether executing the action changes anything on a host.
    pub fn changes_hosts(&self) -> bool {
        !matches!(self, Action::Check(_))
    }
}
