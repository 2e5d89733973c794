//! Flink's plan rules: desired state (the inventory, rendered files) + facts → stages.
//! Pure: no network, no disk, no clock. Every command that changes a Flink cluster builds
//! its plan here: deploy, start, stop, destroy. One file per concept; this one holds the
//! inputs and what they all share.

mod daemons;
mod deploy;
mod lifecycle;
mod preflight;
mod restart;
mod retire;
mod smoke;
mod trust;
mod upgrade;

use std::collections::{BTreeMap, HashMap};

use similar::TextDiff;

use super::jobs::SmokeCheck;
use super::probe::FlinkFacts;
use super::probe::FlinkFactsOf;
use super::render::{self, HostExtras, Renderer};
use super::rest::{ClusterCheck, Leadership, TmHost};
use super::{coordinator, roles, sizing, ssh_markers, ssh_peers, Role, NAME};
use crate::components::flink::Check;
use crate::components::fornaxee::bundle::Jar;
use crate::error::Result;
use crate::facts::{Facts, HostFacts};
use crate::fleet::HostId;
use crate::inventory::{units, Cluster, Host, SmokeWhen, StartMode, Version};
pub use crate::plan::ArtifactState;
use crate::plan::{
    Action, ArtifactInfo, Change, ComponentInfo, Finding, HostView, OnFailure, Plan, PlanMode,
    Section, Stage,
};

use daemons::*;
pub use deploy::*;
pub use lifecycle::*;
use preflight::*;
pub use restart::*;
use retire::*;
pub use smoke::*;
use trust::*;
pub use upgrade::*;

pub struct Inputs<'a> {
    pub cluster: &'a Cluster,
    pub facts: &'a Facts,
    pub mode: PlanMode,
    pub artifact: ArtifactState,
    /// Inventory warnings, repeated in the plan.
    pub warnings: Vec<String>,
    /// Jars another component needs in every Flink host's lib/ (Fornaxee's connectors).
    pub jars: Vec<Jar>,
    /// The smoke job deploy runs when `verify.smoke` asks for it.
    pub smoke: Option<SmokeJob>,
    /// How day-2 changes are carried out.
    pub day2: Day2,
    /// When deploy records what it manages (None: no record is written).
    pub record: Option<super::record::RecordMeta>,
    /// The Java runtime's archive at hand (`java:`), when a host needs it installed.
    pub jdk: Option<&'a crate::components::java::JdkAtHand>,
}

/// Options of changes to a running cluster.
#[derive(Debug, Clone)]
pub struct Day2 {
    /// TaskManager hosts restarted at a time (at least 1).
    pub batch: usize,
    /// Stop running jobs with a savepoint here before restarting what they run on.
    pub savepoint: Option<String>,
    /// Restart even when running jobs would be lost, remove hosts despite the guards.
    pub force: bool,
    /// Leave a removed host's files in place.
    pub keep_files: bool,
    /// Install only: no daemon is started, stopped or restarted.
    pub no_start: bool,
}

impl Default for Day2 {
    fn default() -> Self {
        Day2 {
            batch: 1,
            savepoint: None,
            force: false,
            keep_files: false,
            no_start: false,
        }
    }
}

impl From<&crate::cli::Day2Args> for Day2 {
    fn from(a: &crate::cli::Day2Args) -> Self {
        Day2 {
            batch: a.batch.max(1),
            savepoint: a.jobs.savepoint.clone(),
            force: a.jobs.force,
            keep_files: a.keep_files,
            no_start: a.no_start,
        }
    }
}

/// Apache's tarballs are about 250 MB: the estimate when the real size is not at hand.
const TARBALL_ESTIMATE: u64 = 260 * 1024 * 1024;

/// The disk a host needs to install a release: twice the tarball (the tarball and the
/// unpacked release). Returns the bytes needed and whether the size is real or an estimate.
pub fn disk_needed(tarball: Option<u64>) -> (u64, bool) {
    match tarball {
        Some(s) => (2 * s, true),
        None => (2 * TARBALL_ESTIMATE, false),
    }
}

/// Resolves a leading `~` against the host's home directory, when known.
pub fn resolve(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(h)) => format!("{}{rest}", h.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

/// The pid file flink-daemon.sh keeps on a host for a daemon named `name` (`standalonesession`,
/// `taskexecutor`, `zookeeper`): `<pid dir>/flink-<user>-<name>.pid`.
pub(crate) fn pid_file(c: &Cluster, f: &HostFacts, name: &str) -> String {
    format!(
        "{}/flink-{}-{name}.pid",
        resolve(
            &crate::components::flink::probe::pid_dir(c),
            f.machine.home.as_deref()
        ),
        f.machine.user
    )
}

pub fn unified_diff(old: &str, new: &str, path: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string()
}

/// Diffs by (old, new, path): hundreds of TaskManagers usually share the same few.
#[derive(Default)]
struct Diffs(HashMap<(String, String, String), String>);

impl Diffs {
    fn get(&mut self, old: &str, new: &str, path: &str) -> String {
        let key = (old.to_string(), new.to_string(), path.to_string());
        self.0
            .entry(key)
            .or_insert_with(|| unified_diff(old, new, path))
            .clone()
    }
}

/// Paths on one host, with `~` resolved where the host's home is known.
pub(crate) struct Paths {
    pub release: String,
    pub state: String,
    pub link: String,
}

pub(crate) fn paths(c: &Cluster, f: &HostFacts) -> Paths {
    let home = f.machine.home.as_deref();
    Paths {
        release: resolve(&c.release_dir(), home),
        state: resolve(&c.state_dir(), home),
        link: resolve(&c.current_link(), home),
    }
}

/// How an artifact of the inventory is fetched and proven, for the plan's header.
pub fn artifact_info(art: &crate::inventory::Artifact, cached: Option<bool>) -> ArtifactInfo {
    let checksum = match (&art.checksum.pinned, &art.checksum.sidecar) {
        (Some(p), Some(s)) => format!(
            "{} pinned in the inventory, cross-checked with {s}",
            p.algorithm
        ),
        (Some(p), None) => format!("{} pinned in the inventory", p.algorithm),
        (None, Some(s)) => format!("sha512 from {s}"),
        (None, None) => "none".into(),
    };
    ArtifactInfo {
        file_name: art.file_name.clone(),
        source: art
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| art.urls.first().cloned())
            .unwrap_or_default(),
        mirrors: art.urls.iter().skip(1).cloned().collect(),
        checksum,
        insecure: art.checksum.insecure,
        cached,
    }
}

/// The plan's frame: the component, the hosts as they are now, no stages yet.
pub fn skeleton(inp: &Inputs, command: &str) -> Plan {
    let c = inp.cluster;
    let hosts = c
        .hosts
        .iter()
        .map(|h| {
            let hf = inp.facts.host(&HostId::of(h));
            let f = hf.flink();
            let chosen = crate::components::java::chosen(c, hf, inp.jdk);
            HostView {
                host: HostId::of(h),
                address: h.address.clone(),
                roles: h.roles(),
                java: match chosen {
                    Some(ch) if ch.runtime.is_some() => Some(format!(
                        "flinkup's runtime {}{} ({})",
                        ch.runtime.unwrap_or_default(),
                        inp.jdk
                            .map(|j| format!(", Java {}", j.version))
                            .unwrap_or_default(),
                        ch.why
                    )),
                    ch => f.java.as_ref().map(|j| {
                        let why = ch.map(|c| c.why).filter(|w| !w.is_empty());
                        format!(
                            "{} ({}){}",
                            j.version,
                            j.path,
                            why.map(|w| format!(": {w}")).unwrap_or_default()
                        )
                    }),
                },
                current_release: f.current_link.clone(),
                running: f.running.keys().map(|r| r.to_string()).collect(),
                notes: Vec::new(),
            }
        })
        .collect();
    Plan {
        command: command.into(),
        cluster: c.name.clone(),
        mode: inp.mode,
        components: vec![ComponentInfo {
            name: NAME.into(),
            version: c.version.to_string(),
            detail: format!("Scala {}", c.scala),
            artifact: (command == "deploy")
                .then(|| artifact_info(&c.artifact, inp.artifact.cached)),
            summary: c.topology(),
        }],
        hosts,
        preflight: Vec::new(),
        stages: Vec::new(),
        rollback: None,
        notes: Vec::new(),
        sizing: Vec::new(),
        warnings: inp.warnings.clone(),
    }
}

/// JVM options the Flink client needs on this host.
fn jvm_args(c: &Cluster, f: &HostFacts) -> Option<String> {
    let java16 = crate::components::java::chosen(c, f, None)
        .and_then(|j| j.major)
        .is_some_and(|m| m >= 16);
    (c.version.needs_jdk_opens() && java16).then(|| super::render::JDK_OPENS.to_string())
}

/// `-m host:port` for the client when REST listens on a specific address.
fn rest_target(c: &Cluster) -> Option<String> {
    c.config
        .get("rest.bind-address")
        .filter(|a| a.as_str() != "0.0.0.0")
        .map(|a| format!("{a}:{}", c.rest_port))
}
