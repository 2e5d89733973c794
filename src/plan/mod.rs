//! The plan: what a command will do, as data. Every command that changes hosts builds one
//! from facts, prints it, and executes exactly it; `--dry-run` stops after printing.
//!
//! A plan is an ordered list of [`Stage`]s. A stage has its steps (an [`Action`] on a host),
//! a batch size (all hosts at once, or N at a time for rolling work) and what happens when a
//! step fails (stop there, or undo the stage's completed steps from what they recorded).

mod action;
pub mod display;
pub mod distribute;

use serde::Serialize;

pub use crate::diagnostic::{Finding, Severity};
pub use action::{Action, Change, CheckStep, Hop, SecretBytes, Seed, UnitOp};

use crate::fleet::HostId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanMode {
    /// Nothing contacted: every host assumed empty.
    Offline,
    /// Built from facts gathered on the hosts.
    Live,
}

/// What is known about an artifact when planning.
#[derive(Debug, Clone, Default)]
pub struct ArtifactState {
    /// The verified file on the operator's machine, once fetched.
    pub local: Option<String>,
    /// Its sha512: pinned, cached or fetched.
    pub sha512: Option<String>,
    /// Its size, when the file is at hand (cached, local `path:`, or fetched).
    pub size: Option<u64>,
    /// Whether the cache holds it (None: not looked at).
    pub cached: Option<bool>,
}

/// A release from an archive, as a host gets it: the archive is uploaded (unless the host
/// already holds it with the right sha512: `have`), then unpacked into `release` with
/// `top_dir` as the archive's top directory. The engine's one way to install a release.
pub struct ReleaseInstall<'a> {
    pub art: &'a ArtifactState,
    pub file: &'a str,
    /// Where the archive is kept on the host.
    pub archive: String,
    pub release: String,
    pub top_dir: String,
    pub staging: String,
    pub have: bool,
    /// Keep the archive after unpacking (the host that seeds later transfers).
    pub keep: bool,
    /// The host fetches the archive from these URLs itself (`distribution: direct`).
    pub download: Option<Vec<String>>,
}

impl ReleaseInstall<'_> {
    pub fn actions(self) -> Vec<Action> {
        let mut out = Vec::new();
        let downloads = match (&self.download, &self.art.sha512) {
            (Some(urls), Some(sha)) if !self.have => {
                out.push(Action::Download {
                    file: self.file.to_string(),
                    urls: urls.clone(),
                    dest: self.archive.clone(),
                    sha512: sha.clone(),
                });
                true
            }
            _ => false,
        };
        if !self.have && !downloads {
            out.push(Action::Upload {
                file: self.file.to_string(),
                local: self.art.local.clone(),
                dest: self.archive.clone(),
                size: self.art.size,
                sha512: self.art.sha512.clone(),
            });
        }
        out.push(Action::Unpack {
            archive: self.archive,
            dest: self.release,
            top_dir: self.top_dir,
            staging: self.staging,
            archive_sha512: self.art.sha512.clone(),
            keep_archive: self.keep,
            // An archive already on the host is checked before tar reads it; one the host has
            // just downloaded or received was checked as it was kept.
            verify_sha512: if self.have {
                self.art.sha512.clone()
            } else {
                None
            },
        });
        out
    }
}

/// What flinkup appends to each `authorized_keys` and `known_hosts` line it adds for a
/// cluster, so destroy removes exactly those lines: ` flinkup-cluster=<name>` (the comment
/// field both files allow).
pub fn trust_marker(cluster: &str) -> String {
    format!("flinkup-cluster={}", plain_name(cluster))
}

/// An awk condition true for a line that ends with the trust marker held in awk's `m`
/// (` <marker>`): what the probe counts and what `Untrust` removes.
pub const MARKED_LINE: &str =
    "length($0) >= length(m) && substr($0, length($0) - length(m) + 1) == m";

/// The cluster's name with every character but letters, digits, `-`, `_` and `.` made `-`:
/// safe in unit names and file comments.
pub fn plain_name(cluster: &str) -> String {
    cluster
        .chars()
        .map(|ch| {
            if ch.is_ascii_alphanumeric() || matches!(ch, '-' | '_' | '.') {
                ch
            } else {
                '-'
            }
        })
        .collect()
}

/// Removes an installation: the link, the release it should be and the one it points at
/// (when another), and the state directory.
pub fn remove_installation(
    link: &str,
    release: &str,
    current: Option<&String>,
    state: &str,
) -> Action {
    let mut trees = vec![release.to_string()];
    if let Some(cur) = current.filter(|c| c.as_str() != release) {
        trees.push(cur.clone());
    }
    Action::Remove {
        link: Some(link.to_string()),
        trees,
        state_dir: Some(state.to_string()),
    }
}

/// Where an artifact comes from and how it is proven.
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

/// One product the plan is about.
#[derive(Debug, Clone, Serialize)]
pub struct ComponentInfo {
    pub name: ComponentId,
    pub version: String,
    /// "Scala 2.11"
    pub detail: String,
    pub artifact: Option<ArtifactInfo>,
    /// "1 JobManager, 2 TaskManagers × 4 slots = 8 slots"
    pub summary: String,
}

/// A host as the plan sees it: its roles and, for live plans, what it runs now.
#[derive(Debug, Clone, Serialize)]
pub struct HostView {
    pub host: HostId,
    pub address: String,
    pub roles: String,
    pub java: Option<String>,
    pub current_release: Option<String>,
    pub running: Vec<String>,
    pub notes: Vec<String>,
}

/// How many hosts of a stage are worked on together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Batch {
    /// Every host at once (bounded by `--concurrency`).
    All,
    /// N hosts at a time; the next batch starts when this one succeeded.
    Rolling(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Stop the run; what is done stays done, the stages after do not run.
    Stop,
    /// Put back what the stage's completed steps changed (each recorded the state before it),
    /// then stop.
    Undo,
}

/// One action on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    pub host: HostId,
    #[serde(flatten)]
    pub action: Action,
}

/// A registered component's name, as plans carry it (`"Flink"` in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ComponentId(pub &'static str);

impl ComponentId {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl std::fmt::Display for ComponentId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl From<&'static str> for ComponentId {
    fn from(name: &'static str) -> ComponentId {
        ComponentId(name)
    }
}

impl PartialEq<&str> for ComponentId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    pub name: String,
    /// Which product's stage this is, or None for the engine's own (trust, lock).
    pub component: Option<ComponentId>,
    pub batch: Batch,
    pub on_failure: OnFailure,
    /// What a failure here means for the cluster, told with the error.
    pub if_failed: String,
    pub steps: Vec<Step>,
}

impl Stage {
    pub fn new(name: &str, component: Option<&'static str>) -> Stage {
        Stage {
            name: name.into(),
            component: component.map(ComponentId),
            batch: Batch::All,
            on_failure: OnFailure::Stop,
            if_failed: String::new(),
            steps: Vec::new(),
        }
    }

    pub fn push(&mut self, host: &HostId, action: Action) {
        self.steps.push(Step {
            host: host.clone(),
            action,
        });
    }

    /// Several steps on one host, in order.
    pub fn extend_host(&mut self, host: &HostId, actions: impl IntoIterator<Item = Action>) {
        for a in actions {
            self.push(host, a);
        }
    }

    /// The hosts this stage touches, in the order of their first step.
    pub fn targets(&self) -> Vec<HostId> {
        let mut out: Vec<HostId> = Vec::new();
        for s in &self.steps {
            if !out.contains(&s.host) {
                out.push(s.host.clone());
            }
        }
        out
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The command this plan is for: deploy, start, stop, destroy, unlock.
    pub command: String,
    pub cluster: String,
    pub mode: PlanMode,
    pub components: Vec<ComponentInfo>,
    pub hosts: Vec<HostView>,
    pub preflight: Vec<Finding>,
    pub stages: Vec<Stage>,
    /// What puts the previous state back when a stage from `from_stage` on fails (an upgrade
    /// whose new release does not come up).
    pub rollback: Option<Rollback>,
    /// Sections a component adds to explain the change (an upgrade's translated settings).
    pub notes: Vec<Section>,
    pub sizing: Vec<String>,
    pub warnings: Vec<String>,
}

/// A titled block of lines in a plan.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub title: String,
    pub lines: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Rollback {
    /// The stages whose failure triggers it: `from_stage..until_stage`.
    pub from_stage: usize,
    pub until_stage: usize,
    /// What runs again once it is done, in words ("Flink 1.9.3").
    pub restores: String,
    pub stages: Vec<Stage>,
}

impl Plan {
    /// Puts `stages` at `at`, keeping the plan's way back pointed at the same stages.
    pub fn insert_stages(&mut self, at: usize, stages: Vec<Stage>) {
        let n = stages.len();
        if n == 0 {
            return;
        }
        if let Some(rb) = self.rollback.as_mut() {
            if at <= rb.from_stage {
                rb.from_stage += n;
                rb.until_stage += n;
            } else if at < rb.until_stage {
                rb.until_stage += n;
            }
        }
        self.stages.splice(at..at, stages);
    }

    /// A plan with nothing in it yet: components fill it in.
    pub fn new(command: &str, cluster: &str, mode: PlanMode) -> Plan {
        Plan {
            command: command.into(),
            cluster: cluster.into(),
            mode,
            components: Vec::new(),
            hosts: Vec::new(),
            preflight: Vec::new(),
            stages: Vec::new(),
            rollback: None,
            notes: Vec::new(),
            sizing: Vec::new(),
            warnings: Vec::new(),
        }
    }

    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.stages.iter().flat_map(|s| s.steps.iter())
    }

    pub fn actions(&self) -> impl Iterator<Item = &Action> {
        self.steps().map(|s| &s.action)
    }

    /// True when executing would change nothing (at most a verification remains).
    pub fn is_noop(&self) -> bool {
        !self.actions().any(Action::changes_hosts)
    }

    /// Keeps only the stages that install and configure (`--no-start`): none that starts,
    /// stops or checks a service.
    pub fn keep_installation(&mut self) {
        self.retain_stages(|s| {
            !s.steps.iter().any(|st| {
                matches!(
                    st.action,
                    Action::StartService { .. }
                        | Action::RunDaemon { .. }
                        | Action::StopServices { .. }
                        | Action::Check(_)
                )
            })
        });
    }

    /// Keeps one component's stages and header only (`--only`).
    pub fn only(&mut self, component: ComponentId) {
        self.retain_stages(|s| s.component == Some(component));
        self.components.retain(|c| c.name == component);
    }

    /// Keeps the stages `keep` accepts; the rollback keeps covering the same stages (and goes
    /// when none of them is left).
    fn retain_stages(&mut self, keep: impl Fn(&Stage) -> bool) {
        self.rework_stages(|_, s| keep(&s).then_some(s));
    }

    /// Rebuilds the stages one by one: `f` gets the stages built so far (it may push stages
    /// to come before this one, or change earlier ones) and returns the stage to keep, or
    /// None to drop it. The rollback keeps covering the same stages it covered (and goes when
    /// none of them is left).
    pub fn rework_stages(&mut self, mut f: impl FnMut(&mut Vec<Stage>, Stage) -> Option<Stage>) {
        let mut built = Vec::with_capacity(self.stages.len());
        let (mut from, mut until) = (None, 0);
        let range = self.rollback.as_ref().map(|r| r.from_stage..r.until_stage);
        for (i, s) in std::mem::take(&mut self.stages).into_iter().enumerate() {
            let Some(s) = f(&mut built, s) else {
                continue;
            };
            if range.as_ref().is_some_and(|r| r.contains(&i)) {
                from.get_or_insert(built.len());
                until = built.len() + 1;
            }
            built.push(s);
        }
        self.stages = built;
        match (from, &mut self.rollback) {
            (Some(f), Some(rb)) => {
                rb.from_stage = f;
                rb.until_stage = until;
            }
            _ => self.rollback = None,
        }
    }

    /// The preflight findings that stop the plan from being executed.
    pub fn refusals(&self) -> Vec<Finding> {
        self.preflight
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .cloned()
            .collect()
    }
}
