//! What is true on each host right now, gathered read-only before planning.
//!
//! The planner is a pure function of the cluster and these facts; an offline plan uses
//! [`HostFacts::empty`] for every host.

use std::collections::BTreeMap;

use serde::Serialize;

/// The Java a host will run Flink with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Java {
    /// The java binary that was found.
    pub path: String,
    /// The feature release: 8, 11, 17…
    pub major: u32,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostFacts {
    /// Whether these facts came from the host (false: offline, the host assumed empty).
    pub gathered: bool,
    /// The ssh user's home, to resolve `~/` in install_dir.
    pub home: Option<String>,
    pub java: Option<Java>,
    /// sha512 of the tarball already uploaded to the state directory, if one is there.
    pub artifact_sha512: Option<String>,
    /// The release directory exists and holds a Flink distribution.
    pub release_present: bool,
    /// Current content of each conf file flinkup manages, by file name.
    pub conf: BTreeMap<String, String>,
    /// Where `<install_dir>/flink` points now.
    pub current_link: Option<String>,
    /// Flink daemons running on the host: "jobmanager", "taskmanager".
    pub running: Vec<String>,
    /// The JobManager host can already ssh here without a password (cluster-script start).
    pub trusted_by_jobmanager: bool,
}

impl HostFacts {
    pub fn empty() -> Self {
        HostFacts::default()
    }

    pub fn runs(&self, daemon: &str) -> bool {
        self.running.iter().any(|d| d == daemon)
    }
}
