//! Flink's plan rules: desired state (the inventory, rendered files) + facts → stages.
//! Pure: no network, no disk, no clock. Every command that changes a Flink cluster builds
//! its plan here: deploy, start, stop, destroy.

use std::collections::{BTreeMap, HashMap};

use similar::TextDiff;

use super::jobs::SmokeCheck;
use super::probe::FlinkFacts;
use super::render::{HostExtras, Renderer};
use super::rest::{ClusterCheck, TmHost};
use super::{coordinator, roles, sizing, ssh_markers, ssh_peers, Role, NAME};
use crate::components::fornaxee::bundle::Jar;
use crate::components::Check;
use crate::error::Result;
use crate::facts::{Facts, HostFacts};
use crate::fleet::HostId;
use crate::inventory::{units, Cluster, Host, SmokeWhen, StartMode};
pub use crate::plan::ArtifactState;
use crate::plan::{
    Action, ArtifactInfo, Change, ComponentInfo, Finding, HostView, OnFailure, Plan, PlanMode,
    Stage,
};

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

/// The job that proves the cluster runs jobs.
#[derive(Debug, Clone)]
pub struct SmokeJob {
    /// A jar from the operator's machine, verified: (path, sha512, size). None: the
    /// distribution's examples/streaming/WordCount.jar.
    pub jar: Option<(std::path::PathBuf, String, u64)>,
    pub args: Vec<String>,
    pub timeout: std::time::Duration,
}

/// Stages that upload the smoke job's jar (when it is the operator's) and run it.
fn smoke_stages(inp: &Inputs, job: &SmokeJob) -> Vec<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let p = paths(c, jf);
    let mut stages = Vec::new();
    let jar = match &job.jar {
        Some((local, sha, size)) => {
            let name = local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "job.jar".into());
            let dest = format!("{}/smoke/{name}", p.state);
            if jf.flink.smoke_jars.get(&dest) != Some(sha) {
                let mut s = Stage::new("smoke upload", Some(NAME));
                s.push(
                    &jm,
                    Action::Upload {
                        file: name,
                        local: Some(local.display().to_string()),
                        dest: dest.clone(),
                        size: Some(*size),
                        sha512: Some(sha.clone()),
                    },
                );
                stages.push(s);
            }
            dest
        }
        None => format!("{}/examples/streaming/WordCount.jar", p.link),
    };
    let mut s = Stage::new("smoke", Some(NAME));
    s.if_failed = "The cluster keeps running; only the smoke job failed.".into();
    s.push(
        &jm,
        Action::Check(Check::FlinkSmoke(SmokeCheck {
            flink: format!("{}/bin/flink", p.link),
            jar,
            args: job.args.clone(),
            jvm_args: jvm_args(c, jf),
            target: rest_target(c),
            jobmanager: c.jobmanager().name.clone(),
            rest_port: c.rest_port,
            timeout_secs: job.timeout.as_secs(),
            tm_logs: c
                .taskmanagers()
                .map(|h| {
                    let f = inp.facts.host(&HostId::of(h));
                    (HostId::of(h), format!("{}/log", paths(c, f).link))
                })
                .collect(),
        })),
    );
    stages.push(s);
    stages
}

/// `smoke`: verify the cluster, then run a job on it and wait for it to finish.
pub fn smoke(inp: &Inputs, job: &SmokeJob) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "smoke");
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    if !c.manages_flink() {
        plan.preflight.push(Finding::error(
            None,
            "this inventory deploys no Flink cluster to run a job on",
            "submit jobs to the existing cluster with its own tools",
        ));
        return plan;
    }
    if jf.gathered && !jf.flink.runs(Role::JobManager) {
        plan.preflight.push(Finding::error(
            Some(&jm),
            "the JobManager does not run",
            "start the cluster first: `flinkup start` (or `flinkup deploy`)",
        ));
    }
    plan.stages.push(verify_stage(inp, &missing(inp)));
    plan.stages.extend(smoke_stages(inp, job));
    plan
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
            let f = &inp.facts.host(&HostId::of(h)).flink;
            HostView {
                host: HostId::of(h),
                address: h.address.clone(),
                roles: h.roles(),
                java: f
                    .java
                    .as_ref()
                    .map(|j| format!("{} ({})", j.version, j.path)),
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
        sizing: Vec::new(),
        warnings: inp.warnings.clone(),
    }
}

/// Findings that refuse any plan that starts Flink: a host whose own name does not resolve,
/// and (when the JobManager is not running) its ports held by another process.
fn start_preflight(inp: &Inputs, plan: &mut Plan) {
    let c = inp.cluster;
    for h in &c.hosts {
        let id = HostId::of(h);
        let m = &inp.facts.host(&id).machine;
        if inp.facts.host(&id).gathered && !m.hostname_resolves {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!("its host name `{}` does not resolve on the host: Flink's TaskManager dies with UnknownHostException", m.hostname),
                "add the name to the host's /etc/hosts (or DNS) and run again",
            ));
        }
    }
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    if jf.gathered && !jf.flink.runs(Role::JobManager) {
        for (key, port) in [
            ("jobmanager.rpc.port", c.rpc_port),
            ("rest.port", c.rest_port),
        ] {
            if let Some(p) = jf.machine.ports.get(&port) {
                plan.preflight.push(Finding::error(
                    Some(&jm),
                    format!(
                        "{key} {port} is taken by {}; the JobManager could not start",
                        if p.holder.is_empty() {
                            "another process"
                        } else {
                            &p.holder
                        }
                    ),
                    "stop that process or choose another port in the inventory's config",
                ));
            }
        }
    }
}

/// In cluster-script mode: the JobManager host must have ssh and reach every TaskManager
/// host's sshd; then flinkup can write its ssh_config block and trust. Returns the stage.
fn trust_stage(inp: &Inputs, plan: &mut Plan) -> Option<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let peers = ssh_peers(c, inp.facts);
    let mut stage = Stage::new("trust", Some(NAME));
    stage.if_failed = "Nothing was installed, started or stopped.".into();
    let (begin, end) = ssh_markers(c);
    let wanted: Vec<String> = peers
        .iter()
        .filter(|p| p.needs_config())
        .map(|p| {
            let mut b = format!(
                "Host {}\n  HostName {}\n  Port {}\n",
                p.name, p.address, p.port
            );
            if let Some(u) = &p.user {
                b.push_str(&format!("  User {u}\n"));
            }
            b
        })
        .collect();
    let block = (!wanted.is_empty()).then(|| format!("{begin}\n{}{end}\n", wanted.concat()));
    if c.start != StartMode::ClusterScript {
        if jf.machine.ssh_block.is_some() {
            stage.push(
                &jm,
                Action::SshConfig {
                    begin,
                    end,
                    block: None,
                },
            );
        }
        return (!stage.steps.is_empty()).then_some(stage);
    }
    if jf.gathered {
        if !jf.machine.ssh_client {
            plan.preflight.push(Finding::error(
                Some(&jm),
                "has no ssh client, and start-cluster.sh logs in to every TaskManager host with ssh",
                "install openssh-client there, or set `flink.start: direct` (flinkup then starts each daemon over its own connection)",
            ));
        }
        for p in &peers {
            if !inp.facts.peer(&p.host).reachable {
                plan.preflight.push(Finding::error(
                    Some(&p.host),
                    format!(
                        "the JobManager host {jm} cannot reach its sshd at {}:{}, and start-cluster.sh logs in there with {}",
                        p.address,
                        p.port,
                        p.target()
                    ),
                    "open that port between the hosts, or set `flink.start: direct` (flinkup then starts each daemon over its own connection)",
                ));
            }
        }
    }
    if jf.machine.ssh_block != block {
        stage.push(&jm, Action::SshConfig { begin, end, block });
    }
    let untrusted: Vec<_> = peers
        .into_iter()
        .filter(|p| !inp.facts.peer(&p.host).trusted)
        .collect();
    if !untrusted.is_empty() {
        stage.push(
            &jm,
            Action::TrustSsh {
                peers: untrusted,
                reason: "start-cluster.sh logs in to every TaskManager host".into(),
            },
        );
    }
    (!stage.steps.is_empty()).then_some(stage)
}

/// Stops `roles` on a host with their scripts (`stop-all`, or `stop` for one daemon) and
/// waits for the pids in their pid files, whichever release the daemons run from.
fn stop_roles(
    c: &Cluster,
    f: &HostFacts,
    roles: &[Role],
    script_arg: &str,
    terminate: bool,
    reason: &str,
) -> Action {
    let p = paths(c, f);
    let pid_dir = resolve(&super::probe::pid_dir(c), f.machine.home.as_deref());
    Action::StopServices {
        services: roles.iter().map(|r| r.to_string()).collect(),
        scripts: roles
            .iter()
            .rev()
            .map(|r| vec![format!("{}/bin/{}", p.link, r.script()), script_arg.into()])
            .collect(),
        pid_files: roles
            .iter()
            .map(|r| format!("{pid_dir}/flink-{}-{}.pid", f.machine.user, r.pid_name()))
            .collect(),
        cmdline_has: Some("java".into()),
        terminate,
        grace_secs: 30,
        reason: reason.into(),
    }
}

/// Stops the daemons running on a host, by the pid files (independent of the workers file,
/// which may just have changed); None when nothing runs there.
fn stop_action(c: &Cluster, f: &HostFacts, reason: &str) -> Option<Action> {
    let running: Vec<Role> = f.flink.running.keys().copied().collect();
    (!running.is_empty()).then(|| stop_roles(c, f, &running, "stop-all", false, reason))
}

/// A stage that stops every running Flink daemon.
fn stop_stage(inp: &Inputs, reason: &str) -> Option<Stage> {
    let c = inp.cluster;
    let mut stage = Stage::new("stop", Some(NAME));
    for h in &c.hosts {
        let id = HostId::of(h);
        if let Some(a) = stop_action(c, inp.facts.host(&id), reason) {
            stage.push(&id, a);
        }
    }
    (!stage.steps.is_empty()).then_some(stage)
}

fn start_action(c: &Cluster, f: &HostFacts, role: Option<Role>, reason: &str) -> Action {
    let p = paths(c, f);
    match role {
        None => Action::StartService {
            service: "cluster".into(),
            script: format!("{}/bin/start-cluster.sh", p.link),
            args: Vec::new(),
            log: format!("{}/log/flinkup-start.log", p.link),
            reason: reason.into(),
        },
        Some(r) => Action::StartService {
            service: r.to_string(),
            script: format!("{}/bin/{}", p.link, r.script()),
            args: vec!["start".into()],
            log: format!("{}/log/flinkup-start-{r}.log", p.link),
            reason: reason.into(),
        },
    }
}

/// The names a TaskManager of host `h` may register under: its name, its address, and the
/// addresses the host has.
fn tm_names(h: &crate::inventory::Host, f: &HostFacts) -> Vec<String> {
    let mut v = vec![h.name.clone(), h.address.clone()];
    v.extend(f.machine.addresses.iter().cloned());
    v
}

/// The ids of the TaskManagers the running JobManager lists on a host.
fn registered_on(jf: &HostFacts, names: &[String]) -> Vec<String> {
    jf.flink
        .registered
        .iter()
        .flatten()
        .filter(|r| super::rest::runs_on(&r.path, names))
        .map(|r| r.id.clone())
        .collect()
}

/// The daemons the inventory wants that are not running.
fn missing(inp: &Inputs) -> Vec<(HostId, Role)> {
    inp.cluster
        .hosts
        .iter()
        .flat_map(|h| {
            let id = HostId::of(h);
            let f = &inp.facts.host(&id).flink;
            roles(h)
                .into_iter()
                .filter(|r| !f.runs(*r))
                .map(move |r| (id.clone(), r))
        })
        .collect()
}

/// Start stages (everything, or only what is missing) and the verification.
fn start_stages(inp: &Inputs, restart: bool) -> Vec<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let any_running = c
        .hosts
        .iter()
        .any(|h| !inp.facts.host(&HostId::of(h)).flink.running.is_empty());
    let missing = missing(inp);
    let mut stages = Vec::new();
    if restart || !any_running {
        if restart || !missing.is_empty() {
            let reason = if restart {
                "the configuration or release changed; Flink reads it only at start"
            } else {
                "not running"
            };
            match c.start {
                StartMode::ClusterScript => {
                    let mut s = Stage::new("start", Some(NAME));
                    s.push(&jm, start_action(c, jf, None, reason));
                    s.if_failed = "See the start-cluster.sh output above; run the same command again once fixed.".into();
                    stages.push(s);
                }
                StartMode::Direct => {
                    let mut s = Stage::new("start jobmanager", Some(NAME));
                    s.push(&jm, start_action(c, jf, Some(Role::JobManager), reason));
                    stages.push(s);
                    let mut s = Stage::new("start taskmanagers", Some(NAME));
                    for h in c.taskmanagers() {
                        let id = HostId::of(h);
                        s.push(
                            &id,
                            start_action(c, inp.facts.host(&id), Some(Role::TaskManager), reason),
                        );
                    }
                    stages.push(s);
                }
            }
        }
    } else if !missing.is_empty() {
        // Some daemons run and nothing changed: start only the missing ones, so a crashed
        // TaskManager comes back without a second copy of everything else.
        let reason = "not running; the other daemons keep running";
        for role in Role::ALL {
            let mut s = Stage::new(&format!("start {role}s"), Some(NAME));
            for (id, _) in missing.iter().filter(|(_, r)| *r == role) {
                s.push(id, start_action(c, inp.facts.host(id), Some(role), reason));
            }
            if !s.steps.is_empty() {
                stages.push(s);
            }
        }
    }
    stages.push(verify_stage(inp, &missing));
    stages
}

/// The verification: every TaskManager and slot registered. Registrations that must not
/// count: dead TaskManagers the running JobManager still lists (they are started again) and
/// TaskManagers of hosts that left the inventory, until their heartbeat times out.
fn verify_stage(inp: &Inputs, missing: &[(HostId, Role)]) -> Stage {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let mut ignore = Vec::new();
    if jf.flink.runs(Role::JobManager) {
        let restarted = missing
            .iter()
            .filter(|(_, r)| *r == Role::TaskManager)
            .filter_map(|(id, _)| c.hosts.iter().find(|h| &HostId::of(h) == id));
        for h in restarted.chain(inp.facts.removed.iter()) {
            ignore.extend(registered_on(
                jf,
                &tm_names(h, inp.facts.host(&HostId::of(h))),
            ));
        }
    }
    let mut verify = Stage::new("verify", Some(NAME));
    verify.push(
        &jm,
        Action::Check(Check::FlinkCluster(ClusterCheck {
            jobmanager: c.jobmanager().name.clone(),
            rest_port: c.rest_port,
            taskmanagers: c.taskmanager_count(),
            slots: c.total_slots(),
            timeout_secs: c.verify_timeout.as_secs(),
            ignore,
            tm_hosts: c
                .taskmanagers()
                .map(|h| {
                    let f = inp.facts.host(&HostId::of(h));
                    TmHost {
                        host: HostId::of(h),
                        name: h.name.clone(),
                        address: h.address.clone(),
                        ips: f.machine.addresses.clone(),
                        log_dir: format!("{}/log", paths(c, f).link),
                    }
                })
                .collect(),
        })),
    );
    verify
}

/// The Java a host will run Flink with, as preflight findings: a java_home that is not there
/// (Flink's config.sh silently falls back to another Java) warns; no working Java at all on a
/// host that runs a daemon refuses, since nothing could start there.
fn java_preflight(h: &Host, id: &HostId, f: &HostFacts, plan: &mut Plan) {
    let fl = &f.flink;
    if let Some(j) = &fl.java_home_missing {
        plan.preflight.push(Finding {
            severity: crate::plan::Severity::Warning,
            host: Some(id.clone()),
            message: format!(
                "java_home {j} is not a directory here; Flink falls back to {}",
                fl.java
                    .as_ref()
                    .map_or("the java on PATH".to_string(), |j| j.path.clone())
            ),
            help: Some("point java_home at a JDK directory on this host, or remove it to use the java on PATH".into()),
        });
    }
    if f.gathered && fl.java.is_none() {
        let message =
            "no working java here (java_home, JAVA_HOME, then PATH, as Flink's config.sh looks)";
        if roles(h).is_empty() {
            plan.preflight.push(Finding::warning(Some(id), message));
        } else {
            plan.preflight.push(Finding::error(
                Some(id),
                format!("{message}: Flink's daemons cannot start"),
                "install a JDK 8 or later there, or point java_home at one",
            ));
        }
    }
}

fn host_notes(c: &Cluster, f: &HostFacts, extras: &HostExtras) -> Vec<String> {
    let mut notes = Vec::new();
    let fl: &FlinkFacts = &f.flink;
    if extras.jdk_opens {
        notes.push(format!(
            "Java {} with Flink {}: env.java.opts gets --add-exports/--add-opens so NetUtils can reach JDK internals",
            fl.java.as_ref().map_or(0, |j| j.major),
            c.version
        ));
    }
    if !f.gathered && c.version.needs_jdk_opens() && !c.config.contains_key("env.java.opts") {
        notes.push(
            "Java version unknown offline: if this host runs Java 16 or later, deploy adds the --add-opens options Flink needs there to env.java.opts".into(),
        );
    }
    notes
}

/// `deploy`: make every host match the inventory, (re)start what must, verify.
pub fn deploy(inp: &Inputs, renderer: &Renderer) -> Result<Plan> {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "deploy");
    let mut diffs = Diffs::default();
    let mut install = Stage::new("install", Some(NAME));
    install.if_failed = "Nothing was started or stopped. Fix the cause and run the same command again: hosts already done are skipped.".into();
    let mut switch = Stage::new("switch", Some(NAME));
    switch.on_failure = OnFailure::Undo;
    switch.if_failed = "Every link was switched back; nothing was started or stopped.".into();
    // Per host, why its JobManager and its TaskManager would have to restart.
    let mut effects: BTreeMap<HostId, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut upgrade = false;
    let (need, exact) = disk_needed(inp.artifact.size);
    for (i, h) in c.hosts.iter().enumerate() {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let fl = &f.flink;
        let p = paths(c, f);
        let extras = HostExtras::for_host(c, h, fl.java.as_ref().map(|j| j.major));
        let files = renderer.render(c, &extras)?;
        // A release of the same name from another archive (a re-packed or damaged tarball)
        // is installed again.
        let other_archive = fl.release_present
            && matches!((&fl.release_sha512, &inp.artifact.sha512), (Some(a), Some(b)) if a != b);
        if other_archive {
            plan.hosts[i].notes.push(format!(
                "{} was unpacked from another archive than {}: installed again",
                p.release, c.artifact.file_name
            ));
        }
        let fl_present = fl.release_present && !other_archive;
        if !fl_present {
            let archive = format!("{}/{}", p.state, c.artifact.file_name);
            let have = fl.artifact_sha512.is_some() && fl.artifact_sha512 == inp.artifact.sha512;
            if have {
                plan.hosts[i].notes.push(format!(
                    "{archive} already there (sha512 matches): not uploaded again"
                ));
            }
            install.extend_host(
                &id,
                crate::plan::ReleaseInstall {
                    art: &inp.artifact,
                    file: &c.artifact.file_name,
                    archive,
                    release: p.release.clone(),
                    top_dir: format!("flink-{}", c.version),
                    staging: p.state.clone(),
                    have,
                    keep: id == coordinator(c),
                }
                .actions(),
            );
            if let Some(kb) = f.machine.disk_free_kb.filter(|_| f.gathered && exact) {
                if kb * 1024 < need {
                    plan.preflight.push(Finding::error(
                        Some(&id),
                        format!(
                            "{} free under {}, need {} for the tarball and the release",
                            units::human(kb * 1024),
                            c.install_dir,
                            units::human(need)
                        ),
                        "free space there, or choose another install_dir",
                    ));
                }
            }
        }
        let mut new_jars = Vec::new();
        for jar in &inp.jars {
            if fl.libs.get(&jar.name) == Some(&jar.sha512) {
                continue;
            }
            install.push(
                &id,
                Action::Upload {
                    file: jar.name.clone(),
                    local: Some(jar.local.display().to_string()),
                    dest: format!("{}/lib/{}", p.release, jar.name),
                    size: Some(jar.size),
                    sha512: Some(jar.sha512.clone()),
                },
            );
            new_jars.push(jar.name.clone());
        }
        if fl_present && !new_jars.is_empty() && !fl.running.is_empty() {
            let why = format!("connector jars changed in lib/ ({})", new_jars.join(", "));
            let e = effects.entry(id.clone()).or_default();
            e.0.push(why.clone());
            e.1.push(why);
            plan.hosts[i].notes.push(format!(
                "connector jars new in lib/: {}; its daemons load lib/ only at start",
                new_jars.join(", ")
            ));
        }
        for file in &files {
            let path = format!("{}/conf/{}", p.release, file.name);
            let old = fl.conf.get(&file.name).filter(|_| fl_present);
            if old.map(String::as_str) == Some(file.content.as_str()) {
                continue;
            }
            let change = if old.is_some() {
                Change::Update
            } else {
                Change::Create
            };
            if fl_present && file.name == "flink-conf.yaml" {
                let (jm, tm) = conf_effects(old.map_or("", String::as_str), &file.content);
                let e = effects.entry(id.clone()).or_default();
                e.0.extend(jm);
                e.1.extend(tm);
            }
            install.push(
                &id,
                Action::WriteFile {
                    diff: diffs.get(old.map_or("", String::as_str), &file.content, &path),
                    path,
                    change,
                    content: file.content.clone(),
                },
            );
        }
        if other_archive && fl.current_link.as_deref() == Some(p.release.as_str()) {
            // The running release is replaced in place: a restart like an upgrade.
            upgrade = true;
        }
        if fl.current_link.as_deref() != Some(p.release.as_str()) {
            if fl.current_link.is_some() {
                upgrade = true;
            }
            switch.push(
                &id,
                Action::Link {
                    link: p.link.clone(),
                    target: p.release.clone(),
                    previous: fl.current_link.clone(),
                },
            );
        }
        plan.hosts[i].notes = [plan.hosts[i].notes.clone(), host_notes(c, f, &extras)].concat();
        java_preflight(h, &id, f, &mut plan);
    }
    if c.manages_flink() {
        start_preflight(inp, &mut plan);
        let trust = trust_stage(inp, &mut plan);
        plan.stages.extend(trust);
    }
    if !install.steps.is_empty() {
        plan.stages.push(install);
    }
    if !switch.steps.is_empty() {
        plan.stages.push(switch);
    }
    let any_running = c
        .hosts
        .iter()
        .any(|h| !inp.facts.host(&HostId::of(h)).flink.running.is_empty());
    if !c.manages_flink() {
        // Only Flink clients here: nothing to start, stop or verify.
        return Ok(plan);
    }
    let retiring = retire(inp, &mut plan);
    plan.stages.extend(retiring);
    let mut starting;
    if upgrade && any_running {
        // A new release: everything stops, the link switches, everything starts. If the new
        // release does not come up, the previous one is put back, started and verified.
        let from_stage = plan.stages.len();
        plan.stages.extend(stop_stage(
            inp,
            "the release changed; Flink runs the new one only after a restart",
        ));
        let starts = start_stages(inp, true);
        starting = true;
        plan.stages.extend(starts);
        plan.rollback = switch_back(inp, from_stage, plan.stages.len());
        plan.stages.extend(prune_stage(inp));
    } else {
        let restarts = restart_stages(inp, &effects, &mut plan);
        starting = !restarts.is_empty();
        plan.stages.extend(restarts);
        let starts = start_stages(inp, false);
        let started = starts.len() > 1;
        plan.stages.extend(starts);
        starting |= started;
    }
    if inp.day2.no_start {
        // Staging: what would stop, restart or start is left out, so what runs keeps running.
        let changes_running = plan.stages.iter().any(|s| {
            s.steps
                .iter()
                .any(|st| matches!(st.action, Action::StopServices { .. }))
        });
        if changes_running || plan.rollback.is_some() {
            plan.preflight.push(Finding::error(
                None,
                "--no-start stages an installation, and this plan restarts running daemons",
                "run without --no-start to apply the change, or stage it on stopped hosts",
            ));
        }
        // The command keeps only the installing stages of every component.
        plan.rollback = None;
    }
    if let Some(meta) = &inp.record {
        let jf = inp.facts.host(&coordinator(c));
        let previous = jf.flink.record.as_ref();
        let release = paths(c, jf).release;
        let record = super::record::of(c, meta, previous, &release);
        let same = previous.is_some_and(|p| {
            super::record::Record {
                deployed_at: String::new(),
                by: String::new(),
                ..p.clone()
            } == super::record::Record {
                deployed_at: String::new(),
                by: String::new(),
                ..record.clone()
            }
        });
        if !same {
            let mut s = Stage::new("record", Some(NAME));
            let path = resolve(&super::record::file(c), jf.machine.home.as_deref());
            s.push(
                &coordinator(c),
                Action::WriteFile {
                    change: if previous.is_some() {
                        Change::Update
                    } else {
                        Change::Create
                    },
                    content: serde_json::to_string_pretty(&record).unwrap_or_default() + "\n",
                    diff: String::new(),
                    path,
                },
            );
            plan.stages.push(s);
        }
    }
    if let Some(job) = inp.smoke.as_ref().filter(|_| !inp.day2.no_start) {
        let wanted = match c.smoke.when {
            SmokeWhen::Always => true,
            SmokeWhen::OnStart => starting,
            SmokeWhen::Never => false,
        };
        if wanted {
            plan.stages.extend(smoke_stages(inp, job));
        }
    }
    plan.sizing = sizing::notes(c)
        .into_iter()
        .map(|n| {
            if n.warn {
                format!("warning: {}", n.text)
            } else {
                n.text
            }
        })
        .collect();
    Ok(plan)
}

/// Hosts flinkup recorded that the inventory dropped: their daemons stop (their
/// registrations are not counted by verification) and their files go, unless
/// `--keep-files`. Moving the JobManager or dropping every TaskManager needs `--force`.
fn retire(inp: &Inputs, plan: &mut Plan) -> Option<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let record = inp.facts.host(&jm).flink.record.as_ref()?;
    let force = inp.day2.force;
    for r in record
        .hosts
        .iter()
        .filter(|r| r.roles.iter().any(|x| x == "jobmanager"))
    {
        if r.name != c.jobmanager().name && !force {
            plan.preflight.push(Finding::error(
                Some(&HostId(r.name.clone())),
                format!(
                    "the JobManager would move from {} to {}: every job and TaskManager registration is lost",
                    r.name,
                    c.jobmanager().name
                ),
                "run again with --force if that is meant (destroy first for a clean move)",
            ));
        }
    }
    let recorded_tms: Vec<&str> = record
        .hosts
        .iter()
        .filter(|r| r.roles.iter().any(|x| x == "taskmanager"))
        .map(|r| r.name.as_str())
        .collect();
    if !recorded_tms.is_empty()
        && recorded_tms
            .iter()
            .all(|n| !c.taskmanagers().any(|h| h.name == *n))
        && !force
    {
        plan.preflight.push(Finding::error(
            None,
            format!(
                "every recorded TaskManager host ({}) would be removed: running jobs lose all their slots at once",
                recorded_tms.join(", ")
            ),
            "keep at least one of them in this step, or run again with --force",
        ));
    }
    for (id, why) in &inp.facts.removed_unreachable {
        if force {
            plan.warnings.push(format!(
                "{id} left the inventory and cannot be reached ({why}): it is forgotten; stop its daemons by hand"
            ));
        } else {
            plan.preflight.push(Finding::error(
                Some(id),
                format!("left the inventory but cannot be reached to stop its daemons: {why}"),
                "make it reachable, or run again with --force to forget it",
            ));
        }
    }
    let mut stage = Stage::new("retire", Some(NAME));
    stage.if_failed = "The hosts that stay were not touched; run the same command again.".into();
    for h in &inp.facts.removed {
        let id = HostId::of(h);
        if inp.facts.removed_unreachable.iter().any(|(u, _)| *u == id) {
            continue;
        }
        let f = inp.facts.host(&id);
        stage
            .steps
            .extend(
                stop_action(c, f, "the host left the inventory").map(|a| crate::plan::Step {
                    host: id.clone(),
                    action: a,
                }),
            );
        if !inp.day2.keep_files {
            let p = paths(c, f);
            stage.push(
                &id,
                crate::plan::remove_installation(
                    &p.link,
                    &p.release,
                    f.flink.current_link.as_ref(),
                    &p.state,
                ),
            );
        }
    }
    (!stage.steps.is_empty()).then_some(stage)
}

/// The release a host's link points at now, and its version ("flink-1.9.3" → "1.9.3").
fn version_of(release: &str) -> String {
    release
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_prefix("flink-"))
        .unwrap_or(release)
        .to_string()
}

/// Stages that stop what runs, point every link back at the release it had, start and
/// verify: the way back from a failed upgrade (and `rollback`).
fn back_to(inp: &Inputs, targets: &BTreeMap<HostId, String>, reason: &str) -> Vec<Stage> {
    let c = inp.cluster;
    let mut stages = Vec::new();
    let mut stop = Stage::new("stop", Some(NAME));
    let mut switch = Stage::new("switch back", Some(NAME));
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let Some(target) = targets.get(&id) else {
            continue;
        };
        let p = paths(c, f);
        let roles: Vec<Role> = roles(h);
        if !roles.is_empty() {
            stop.push(&id, stop_roles(c, f, &roles, "stop-all", true, reason));
        }
        switch.push(
            &id,
            Action::Link {
                link: p.link.clone(),
                target: target.clone(),
                previous: Some(p.release.clone()),
            },
        );
    }
    stages.push(stop);
    stages.push(switch);
    // Started as from nothing: every daemon, with the verification that follows.
    let empty = Facts {
        hosts: inp
            .facts
            .hosts
            .iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                v.flink.running.clear();
                (k.clone(), v)
            })
            .collect(),
        ..inp.facts.clone()
    };
    let fresh = Inputs {
        cluster: c,
        facts: &empty,
        mode: inp.mode,
        artifact: ArtifactState::default(),
        warnings: Vec::new(),
        jars: Vec::new(),
        smoke: None,
        day2: inp.day2.clone(),
        record: None,
    };
    stages.extend(start_stages(&fresh, false));
    stages
}

/// After an upgrade: if the new release fails from `from_stage` on, the previous one comes
/// back.
fn switch_back(
    inp: &Inputs,
    from_stage: usize,
    until_stage: usize,
) -> Option<crate::plan::Rollback> {
    let c = inp.cluster;
    let targets: BTreeMap<HostId, String> = c
        .hosts
        .iter()
        .filter_map(|h| {
            let id = HostId::of(h);
            let cur = inp.facts.host(&id).flink.current_link.clone()?;
            Some((id, cur))
        })
        .collect();
    let any = targets.values().next()?.clone();
    Some(crate::plan::Rollback {
        from_stage,
        until_stage,
        restores: format!("Flink {}", version_of(&any)),
        stages: back_to(
            inp,
            &targets,
            "rolling back: the new release did not come up",
        ),
    })
}

/// Releases beyond `flink.keep_releases` (oldest first) are removed from every host.
fn prune_stage(inp: &Inputs) -> Option<Stage> {
    let c = inp.cluster;
    let jf = inp.facts.host(&coordinator(c));
    let current = paths(c, jf).release;
    let mut known: Vec<String> = jf
        .flink
        .record
        .as_ref()
        .map(|r| r.releases.clone())
        .unwrap_or_default();
    for h in &c.hosts {
        if let Some(l) = &inp.facts.host(&HostId::of(h)).flink.current_link {
            if !known.contains(l) {
                known.push(l.clone());
            }
        }
    }
    known.retain(|r| r != &current);
    known.push(current);
    let drop = known.len().saturating_sub(c.keep_releases);
    let old: Vec<String> = known.into_iter().take(drop).collect();
    if old.is_empty() {
        return None;
    }
    let mut s = Stage::new("prune", Some(NAME));
    s.if_failed = "The new release runs; old releases may be left behind.".into();
    for h in &c.hosts {
        let id = HostId::of(h);
        let present: Vec<String> = inp
            .facts
            .host(&id)
            .flink
            .releases
            .iter()
            .filter(|r| old.contains(r))
            .cloned()
            .collect();
        if !present.is_empty() {
            s.push(
                &id,
                Action::Remove {
                    link: None,
                    trees: present,
                    state_dir: None,
                },
            );
        }
    }
    (!s.steps.is_empty()).then_some(s)
}

/// `rollback`: back to the release installed before the current one, on purpose.
pub fn rollback(inp: &Inputs) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "rollback");
    let jf = inp.facts.host(&coordinator(c));
    let current = jf.flink.current_link.clone();
    let previous = jf.flink.record.as_ref().and_then(|r| {
        r.releases
            .iter()
            .rev()
            .find(|x| Some(*x) != current.as_ref())
            .cloned()
    });
    let Some(previous) = previous else {
        plan.preflight.push(Finding::error(
            None,
            "no previous release is recorded to roll back to",
            "rollback returns to the release a deploy replaced; deploy another version first",
        ));
        return plan;
    };
    let mut targets = BTreeMap::new();
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        if f.gathered && !f.flink.releases.contains(&previous) {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!("{previous} is not on this host any more"),
                "deploy that version again instead",
            ));
        }
        targets.insert(id, previous.clone());
    }
    let stages = back_to(
        inp,
        &targets,
        &format!("rolling back to {}", version_of(&previous)),
    );
    let protect = protect_jobs(inp, &mut plan, "rollback restarts the cluster");
    plan.stages.extend(protect);
    plan.stages.extend(stages);
    plan
}

/// The keys set in a flink-conf.yaml, by key.
fn conf_keys(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Which daemons a changed key concerns: (JobManager, TaskManager).
pub fn key_affects(key: &str) -> (bool, bool) {
    let jm_only = [
        "rest.",
        "web.",
        "resourcemanager.",
        "slotmanager.",
        "jobstore.",
        "blob.server.",
    ];
    if key.starts_with("taskmanager.") {
        (false, true)
    } else if (key.starts_with("jobmanager.") && !key.starts_with("jobmanager.rpc."))
        || jm_only.iter().any(|p| key.starts_with(p))
    {
        (true, false)
    } else {
        (true, true)
    }
}

/// Why the JobManager and why the TaskManagers must restart for a flink-conf.yaml change.
fn conf_effects(old: &str, new: &str) -> (Vec<String>, Vec<String>) {
    let (a, b) = (conf_keys(old), conf_keys(new));
    let mut changed: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| *k)
        .chain(b.keys().filter(|k| !a.contains_key(*k)).copied())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    let (mut jm, mut tm) = (Vec::new(), Vec::new());
    for k in changed {
        let (j, t) = key_affects(k);
        if j {
            jm.push(format!("{k} changed"));
        }
        if t {
            tm.push(format!("{k} changed"));
        }
    }
    (jm, tm)
}

/// Running jobs on a cluster whose JobManager (or every TaskManager) a plan stops: a stage
/// that stops each with a savepoint first (`--savepoint DIR`), or a refusal in preflight
/// naming them, unless `--force`. `what` says what the plan does to them.
pub fn protect_jobs(inp: &Inputs, plan: &mut Plan, what: &str) -> Option<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let jobs = jf.flink.running_jobs.clone().unwrap_or_default();
    if jobs.is_empty() {
        return None;
    }
    match &inp.day2.savepoint {
        Some(dir) => {
            let mut s = Stage::new("savepoint", Some(NAME));
            s.if_failed = "Nothing was stopped; the jobs keep running.".into();
            let p = paths(c, jf);
            s.push(
                &jm,
                Action::Check(Check::FlinkSavepoint(super::jobs::Savepoint {
                    flink: format!("{}/bin/flink", p.link),
                    jobs,
                    dir: dir.clone(),
                    jvm_args: jvm_args(c, jf),
                    target: rest_target(c),
                })),
            );
            Some(s)
        }
        None if !inp.day2.force => {
            plan.preflight.push(Finding::error(
                Some(&jm),
                format!(
                    "{} running job{} ({}) would be lost: {what}",
                    jobs.len(),
                    if jobs.len() == 1 { "" } else { "s" },
                    jobs.iter()
                        .map(|j| format!("{} `{}`", j.0, j.1))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                "stop them with a savepoint first: `--savepoint DIR` (a directory every Flink host can write, e.g. on shared storage), or `--force` to go ahead anyway",
            ));
            None
        }
        None => None,
    }
}

/// Restarts only the daemons whose effective configuration changed: the JobManager on its
/// own, the TaskManagers `--batch` hosts at a time, each batch verified before the next.
/// Refused while jobs run, unless they are savepointed first or `--force` is given.
fn restart_stages(
    inp: &Inputs,
    effects: &BTreeMap<HostId, (Vec<String>, Vec<String>)>,
    plan: &mut Plan,
) -> Vec<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let mut stages = Vec::new();
    let reason = |why: &[String]| {
        format!(
            "{}; Flink reads its configuration only at start",
            why.join(", ")
        )
    };
    let jm_why = effects
        .get(&jm)
        .map(|e| e.0.clone())
        .filter(|w| !w.is_empty() && jf.flink.runs(Role::JobManager));
    let tm_hosts: Vec<(&Host, Vec<String>)> = c
        .taskmanagers()
        .filter_map(|h| {
            let id = HostId::of(h);
            let f = inp.facts.host(&id);
            effects
                .get(&id)
                .map(|e| e.1.clone())
                .filter(|w| !w.is_empty() && f.flink.runs(Role::TaskManager))
                .map(|w| (h, w))
        })
        .collect();
    let every_tm = !tm_hosts.is_empty()
        && c.taskmanagers()
            .all(|h| tm_hosts.iter().any(|(x, _)| x.name == h.name));
    if jm_why.is_some() || every_tm {
        let what = if jm_why.is_some() {
            "this plan restarts the JobManager"
        } else {
            "this plan restarts every TaskManager"
        };
        stages.extend(protect_jobs(inp, plan, what));
    }
    if let Some(why) = jm_why {
        let mut s = Stage::new("restart jobmanager", Some(NAME));
        s.if_failed = "See the JobManager's log; run the same command again once fixed.".into();
        s.extend_host(
            &jm,
            [
                stop_roles(c, jf, &[Role::JobManager], "stop", false, &reason(&why)),
                start_action(c, jf, Some(Role::JobManager), &reason(&why)),
            ],
        );
        stages.push(s);
    }
    if !tm_hosts.is_empty() {
        let mut s = Stage::new("restart taskmanagers", Some(NAME));
        s.batch = crate::plan::Batch::Rolling(inp.day2.batch.max(1));
        s.if_failed = "The TaskManagers of earlier batches run the new configuration; the others keep the old one. Fix the cause and run the same command again.".into();
        for (h, why) in tm_hosts {
            let id = HostId::of(h);
            let f = inp.facts.host(&id);
            let old = registered_on(jf, &tm_names(h, f));
            s.extend_host(
                &id,
                [
                    stop_roles(c, f, &[Role::TaskManager], "stop", false, &reason(&why)),
                    start_action(c, f, Some(Role::TaskManager), &reason(&why)),
                    Action::Check(Check::FlinkTaskManagerBack(super::rest::TaskManagerBack {
                        jobmanager_host: jm.clone(),
                        jobmanager: c.jobmanager().name.clone(),
                        rest_port: c.rest_port,
                        name: h.name.clone(),
                        address: h.address.clone(),
                        ips: f.machine.addresses.clone(),
                        old,
                        timeout_secs: c.verify_timeout.as_secs(),
                    })),
                ],
            );
        }
        stages.push(s);
    }
    stages
}

/// JVM options the Flink client needs on this host.
fn jvm_args(c: &Cluster, f: &HostFacts) -> Option<String> {
    let java16 = f.flink.java.as_ref().is_some_and(|j| j.major >= 16);
    (c.version.needs_jdk_opens() && java16).then(|| super::render::JDK_OPENS.to_string())
}

/// `-m host:port` for the client when REST listens on a specific address.
fn rest_target(c: &Cluster) -> Option<String> {
    c.config
        .get("rest.bind-address")
        .filter(|a| a.as_str() != "0.0.0.0")
        .map(|a| format!("{a}:{}", c.rest_port))
}

/// `start`: start what is installed and not running, then verify.
pub fn start(inp: &Inputs) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "start");
    if !c.manages_flink() {
        return plan;
    }
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        if f.gathered && f.flink.current_link.is_none() {
            plan.preflight.push(Finding::error(
                Some(&id),
                "has no installed release",
                "run `flinkup deploy` first",
            ));
        }
    }
    start_preflight(inp, &mut plan);
    if let Some(t) = trust_stage(inp, &mut plan) {
        plan.stages.push(t);
    }
    plan.stages.extend(start_stages(inp, false));
    plan
}

/// `stop`: stop every running Flink daemon; no Flink JVM is left.
pub fn stop(inp: &Inputs) -> Plan {
    let mut plan = skeleton(inp, "stop");
    let protect = protect_jobs(inp, &mut plan, "stop stops the cluster");
    plan.stages.extend(protect);
    plan.stages
        .extend(stop_stage(inp, "flinkup stop: every daemon of the cluster"));
    plan
}

/// `destroy`: stop, then remove what flinkup installed and nothing else.
pub fn destroy(inp: &Inputs) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "destroy");
    let protect = protect_jobs(inp, &mut plan, "destroy stops and removes the cluster");
    plan.stages.extend(protect);
    plan.stages
        .extend(stop_stage(inp, "destroy removes the installation"));
    let mut remove = Stage::new("remove", Some(NAME));
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let p = paths(c, f);
        let mut trees = vec![p.release.clone()];
        // Every release flinkup installed: the record's, and the one the link points at.
        let recorded = inp
            .facts
            .host(&coordinator(c))
            .flink
            .record
            .as_ref()
            .map(|r| r.releases.clone())
            .unwrap_or_default();
        let install = resolve(&c.install_dir, f.machine.home.as_deref());
        for r in f.flink.current_link.iter().chain(recorded.iter()) {
            if !trees.contains(r) && r.starts_with(&format!("{install}/flink-")) {
                trees.push(r.clone());
            }
        }
        remove.push(
            &id,
            Action::Remove {
                link: Some(p.link.clone()),
                trees,
                state_dir: Some(p.state.clone()),
            },
        );
    }
    let jm = coordinator(c);
    if inp.facts.host(&jm).machine.ssh_block.is_some() {
        let (begin, end) = ssh_markers(c);
        remove.push(
            &jm,
            Action::SshConfig {
                begin,
                end,
                block: None,
            },
        );
    }
    plan.stages.push(remove);
    plan
}
