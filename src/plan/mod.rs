//! The plan: what a deploy will do, as data. `plan` prints it; `deploy` executes it.

mod action;
pub mod display;
mod planner;
pub mod sizing;

use serde::Serialize;

pub use action::{Action, Change};
pub use planner::{build, missing_daemons, PlanInput};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Nothing contacted: every host assumed empty.
    Offline,
    /// Built from facts gathered on the hosts.
    Live,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactInfo {
    pub file_name: String,
    /// URL or local path the tarball comes from.
    pub source: String,
    pub mirrors: Vec<String>,
    /// Where the checksum comes from, in words.
    pub checksum: String,
    pub insecure: bool,
    /// Whether the operator's cache already holds it (None: not looked at).
    pub cached: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Topology {
    pub jobmanager: String,
    pub taskmanagers: Vec<String>,
    pub slots_per_taskmanager: u32,
    pub total_slots: u64,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct HostPlan {
    pub host: String,
    pub address: String,
    pub roles: String,
    pub java: Option<String>,
    /// What the host runs now (live plans): the current release and Flink daemons.
    pub current_release: Option<String>,
    pub running: Vec<String>,
    pub actions: Vec<Action>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub cluster: String,
    pub flink_version: String,
    pub scala: String,
    pub mode: PlanMode,
    pub artifact: ArtifactInfo,
    pub topology: Topology,
    pub hosts: Vec<HostPlan>,
    /// Steps after every host is ready: trust, stop, start, verify.
    pub cluster_actions: Vec<Action>,
    pub sizing: Vec<String>,
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn all_actions(&self) -> impl Iterator<Item = &Action> {
        self.hosts
            .iter()
            .flat_map(|h| h.actions.iter())
            .chain(self.cluster_actions.iter())
    }

    /// True when deploying would change nothing: only the verification remains.
    pub fn is_noop(&self) -> bool {
        !self.all_actions().any(Action::changes_hosts)
    }
}
