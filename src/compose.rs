//! One composition per verb: facts (and what the operator has at hand) in, the plan out. Every
//! caller of a verb — the command that executes it, its `--dry-run`, `plan`, `plan --offline`,
//! `check` — gets its plan from here, so a preview cannot drift from what is executed.

use crate::cli::{Day2Args, JobsArgs, Only};
use crate::components::flink::{self, plan::ArtifactState, render::Renderer};
use crate::components::java::JdkAtHand;
use crate::components::{registry, PlanCtx, ProbeAsk};
pub use crate::components::{BundleAtHand, Verb};
use crate::error::Result;
use crate::facts::{self, Facts, HostFacts, SshPeer};
use crate::fleet::{Fleet, HostId};
use crate::inventory::{self, Cluster, Connection, Distribution, Loaded, StartMode};
use crate::plan::{distribute, Plan, PlanMode};
use std::collections::BTreeSet;

/// Hosts the record knows and the inventory dropped, as found when connecting.
#[derive(Debug, Clone, Default)]
pub struct Removed {
    pub hosts: Vec<inventory::Host>,
    pub unreachable: Vec<(HostId, String)>,
    /// The record as read on the JobManager host, when it was read already.
    pub record: Option<Option<flink::record::Record>>,
}

/// Reads every connected host's state, bounded by the fleet's concurrency; read-only. Each
/// host runs one script: the engine's machine probe, then every registered component's
/// fragment, each in its own section of the output so no component reads another's keys. In
/// cluster-script mode the JobManager host also reports what it sees of its peers.
pub async fn gather(
    c: &Cluster,
    fleet: &Fleet,
    bundle: Option<&BundleAtHand>,
    removed: &Removed,
) -> Result<Facts> {
    let ask = ProbeAsk {
        removed: &removed.hosts,
        record: removed.record.as_ref(),
        bundle: bundle.map(|b| &b.bundle),
    };
    let mut all = all_hosts(c);
    all.extend(removed.hosts.iter());
    let ids: Vec<HostId> = all
        .iter()
        .map(|h| HostId::of(h))
        .filter(|id| fleet.has(id))
        .collect();
    let ask = &ask;
    let results = fleet
        .for_each(&ids, |id, remote| async move {
            let mut machine = facts::MachineProbe::default();
            let mut script = String::new();
            let mut asked = Vec::new();
            for k in registry() {
                if let Some(fragment) = k.probe(c, &id, ask, &mut machine) {
                    script.push_str(&format!("\necho {}\n{fragment}\n", section(k.name())));
                    asked.push(*k);
                }
            }
            let script = format!("{}\n{script}", facts::machine_script(&machine));
            let out = remote.sh(id.as_str(), &script).await?;
            let mut sections = out.stdout.split(SECTION);
            let mut hf = HostFacts {
                gathered: true,
                machine: facts::parse_machine(sections.next().unwrap_or_default()),
                ..Default::default()
            };
            for text in sections {
                let (name, body) = text.split_once('\n').unwrap_or((text, ""));
                if let Some(k) = asked.iter().find(|k| k.name() == name.trim()) {
                    hf.parts.insert_boxed(k.parse(c, &id, ask, body));
                }
            }
            Ok(hf)
        })
        .await;
    let mut f = Facts::default();
    for (id, r) in results {
        f.hosts.insert(id, r?);
    }
    f.routes = ids
        .iter()
        .filter_map(|id| Some((id.clone(), fleet.get(id).ok()?.route()?.clone())))
        .collect();
    f.removed = removed.hosts.clone();
    f.removed_unreachable = removed.unreachable.clone();
    // Flink's cluster scripts log in from the JobManager host to every TaskManager host.
    let jm = flink::coordinator(c);
    if c.manages_flink() && c.start == StartMode::ClusterScript && fleet.has(&jm) {
        let peers = flink::ssh_peers(c, &f);
        let out = fleet
            .get(&jm)?
            .sh(jm.as_str(), &facts::peers_script(&peers))
            .await?;
        f.peers = facts::parse_peers(&out.stdout, &peers);
    }
    Ok(f)
}

/// The line that opens a component's section of a host's probe output.
const SECTION: &str = "@@flinkup-probe:";

fn section(name: &str) -> String {
    crate::remote::q(&format!("{SECTION}{name}"))
}

/// Every host a run reaches: the cluster's, then an existing cluster's hosts flinkup may ssh
/// to (for connector jars), each once.
pub fn all_hosts(c: &Cluster) -> Vec<&inventory::Host> {
    let mut hosts: Vec<&inventory::Host> = c.hosts.iter().collect();
    for h in c.external().map(|e| e.hosts.iter()).into_iter().flatten() {
        if !hosts.iter().any(|x| x.name == h.name) {
            hosts.push(h);
        }
    }
    hosts
}

/// What a deploy plan is built from beyond the facts.
pub struct DeployAsk<'a> {
    pub mode: PlanMode,
    /// The Flink release as far as it is known (fetched, cached, pinned).
    pub art: ArtifactState,
    pub bundle: Option<&'a BundleAtHand>,
    /// The Java runtime's archive, when some host needs it and it is at hand.
    pub jdk: Option<&'a JdkAtHand>,
    pub only: Option<Only>,
    pub day2: &'a Day2Args,
    pub smoke: flink::plan::SmokeJob,
    /// Flink's files, rendered once for every plan this run builds.
    pub renderer: &'a Renderer,
}

/// Every registered component's rules for the context's verb, in registry order, then what
/// the command line asks of the whole plan: `--no-start`, `--only` and the relay, in that
/// order. Every verb's plan comes from here.
pub fn plan(ctx: &PlanCtx) -> Result<Plan> {
    let c = ctx.cluster();
    let mut plan = Plan::new(ctx.verb.name(), &c.name, ctx.mode);
    for k in registry() {
        k.plan(ctx, &mut plan)?;
    }
    if ctx.verb == Verb::Deploy && ctx.day2.no_start {
        // Staging: every component's starts, stops and checks are left out.
        plan.keep_installation();
    }
    if let Some(o) = ctx.only {
        plan.only(o.component());
    }
    if ctx.verb == Verb::Deploy {
        match c.distribution {
            Distribution::Relay => distribute::relay(&mut plan, &relay_network(c, ctx.facts), 2),
            Distribution::Auto => auto(c, ctx.facts, &mut plan),
            Distribution::Fanout | Distribution::Direct => {}
        }
    }
    Ok(plan)
}

/// The fewest hosts that make the relay worth its setup under `distribution: auto`: with two,
/// uploading to both at once is as fast on a fast link and needs no host-to-host trust.
const AUTO_RELAY_FROM: usize = 3;

/// Whether hosts may relay the release on this run, before the facts decide: `relay`, or
/// `auto` where it relays from [`AUTO_RELAY_FROM`] hosts on.
pub fn may_relay(c: &Cluster) -> bool {
    match c.distribution {
        Distribution::Relay => true,
        Distribution::Auto => c.relay_allowed() && c.hosts.len() >= AUTO_RELAY_FROM,
        _ => false,
    }
}

/// `distribution: auto`: hosts that reach the release's URLs download it themselves (planned
/// by Flink from the facts); the archives the others need go by relay when at least three hosts
/// need one (or a host already holds it) and hosts log in to each other anyway, else by upload.
/// The plan says what was chosen and why.
fn auto(c: &Cluster, facts: &Facts, plan: &mut Plan) {
    let mut lines = Vec::new();
    let downloads: Vec<String> = plan
        .steps()
        .filter(|s| matches!(s.action, crate::plan::Action::Download { .. }))
        .map(|s| s.host.to_string())
        .collect();
    if !downloads.is_empty() {
        lines.push(format!(
            "{} reach{} {} and download{} {} there, checking its sha512: nothing crosses the operator's link",
            downloads.join(", "),
            if downloads.len() == 1 { "es" } else { "" },
            c.artifact.urls.first().map_or("its URL", String::as_str),
            if downloads.len() == 1 { "s" } else { "" },
            c.artifact.file_name
        ));
    }
    // Archives uploaded to be unpacked (a jar placed as it is goes the plain way).
    let unpacked: BTreeSet<(String, String)> = plan
        .steps()
        .filter_map(|s| match &s.action {
            crate::plan::Action::Unpack { archive, .. } => {
                Some((s.host.to_string(), archive.clone()))
            }
            _ => None,
        })
        .collect();
    let mut uploads: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for s in plan.steps() {
        if let crate::plan::Action::Upload { file, dest, .. } = &s.action {
            if unpacked.contains(&(s.host.to_string(), dest.clone())) {
                uploads
                    .entry(file.clone())
                    .or_default()
                    .insert(s.host.to_string());
            }
        }
    }
    if c.relay_allowed() {
        distribute::relay(plan, &relay_network(c, facts), AUTO_RELAY_FROM);
    }
    let relayed: BTreeSet<String> = plan
        .actions()
        .filter_map(|a| match a {
            crate::plan::Action::Relay { file, .. } => Some(file.clone()),
            _ => None,
        })
        .collect();
    for (file, hosts) in &uploads {
        let n = hosts.len();
        let reach = if c.artifact.urls.is_empty()
            || *file != c.artifact.file_name
            || plan.mode == PlanMode::Offline
        {
            String::new()
        } else if downloads.is_empty() {
            "no host reaches its URLs; ".into()
        } else {
            "the other hosts do not reach its URLs; ".into()
        };
        lines.push(if relayed.contains(file) {
            format!("{file}: {reach}{n} host{} need{} it: relayed, one copy over the operator's link, forwarded host to host", plural(n), if n == 1 { "s" } else { "" })
        } else if !c.relay_allowed() && n >= AUTO_RELAY_FROM {
            format!("{file}: {reach}uploaded to each of {n} hosts (start: direct, so the hosts do not log in to each other to relay)")
        } else if n >= AUTO_RELAY_FROM {
            format!("{file}: {reach}uploaded to each of {n} hosts")
        } else if n == 1 {
            format!("{file}: {reach}uploaded to {}", hosts.iter().cloned().collect::<Vec<_>>().join(", "))
        } else {
            format!("{file}: {reach}uploaded to {} (fewer than {AUTO_RELAY_FROM} hosts: uploading to both at once is as fast as a relay, with no host-to-host trust)", hosts.iter().cloned().collect::<Vec<_>>().join(", "))
        });
    }
    if plan.mode == PlanMode::Offline
        && c.artifact.path.is_none()
        && !c.artifact.urls.is_empty()
        && !lines.is_empty()
    {
        lines.push(format!(
            "made offline: deploy asks each host whether it reaches {} and has those that do download it themselves",
            c.artifact.urls[0]
        ));
    }
    if !lines.is_empty() {
        plan.notes.push(crate::plan::Section {
            title: "Distribution (auto)".into(),
            lines,
        });
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `deploy` (and `plan`, `plan --offline`, `check`).
pub fn deploy(loaded: &Loaded, facts: &Facts, ask: DeployAsk) -> Result<Plan> {
    plan(&PlanCtx {
        verb: Verb::Deploy,
        loaded,
        facts,
        mode: ask.mode,
        release: ask.art,
        bundle: ask.bundle,
        jdk: ask.jdk,
        only: ask.only,
        day2: ask.day2.into(),
        smoke: Some(&ask.smoke),
        record: (ask.mode == PlanMode::Live).then(|| record_meta(&loaded.cluster)),
        renderer: Some(ask.renderer),
    })
}

/// `start`, `stop`, `destroy`, `rollback`: each component's rules for the verb, then `--only`.
pub fn lifecycle(
    verb: Verb,
    loaded: &Loaded,
    facts: &Facts,
    only: Option<Only>,
    jobs: &JobsArgs,
) -> Result<Plan> {
    plan(&PlanCtx {
        day2: flink::plan::Day2 {
            savepoint: jobs.savepoint.clone(),
            force: jobs.force,
            ..Default::default()
        },
        only,
        ..installed(verb, loaded, facts)
    })
}

/// `smoke`: Flink's job (unless `--only` names another component), then each other
/// component's own proof.
pub fn smoke(
    loaded: &Loaded,
    facts: &Facts,
    job: &flink::plan::SmokeJob,
    only: Option<Only>,
) -> Result<Plan> {
    plan(&PlanCtx {
        smoke: Some(job),
        only,
        ..installed(Verb::Smoke, loaded, facts)
    })
}

/// The context of a verb that acts on what is installed: no artifact, no bundle, no record.
fn installed<'a>(verb: Verb, loaded: &'a Loaded, facts: &'a Facts) -> PlanCtx<'a> {
    PlanCtx {
        verb,
        loaded,
        facts,
        mode: PlanMode::Live,
        release: Default::default(),
        bundle: None,
        jdk: None,
        only: None,
        day2: Default::default(),
        smoke: None,
        record: None,
        renderer: None,
    }
}

/// The hosts a relay may use: every host flinkup reaches over ssh, the coordinating host
/// first (in cluster-script mode it already logs in to the TaskManager hosts). A host without
/// an ssh client only receives.
fn relay_network(c: &Cluster, facts: &Facts) -> distribute::Network {
    let coordinator = HostId::of(c.jobmanager());
    let hosts: Vec<distribute::NetHost> = c
        .hosts
        .iter()
        .filter(|h| h.connection == Connection::Ssh)
        .map(|h| {
            let id = HostId::of(h);
            let f = facts.host(&id);
            distribute::NetHost {
                ssh: SshPeer::of(h, facts.route(&id), h.user.clone()),
                can_send: !f.gathered || f.machine.ssh_client,
                trusts: if id == coordinator {
                    facts
                        .peers
                        .iter()
                        .filter(|(_, p)| p.trusted)
                        .map(|(h, _)| h.clone())
                        .collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    distribute::Network::new(hosts, c.relay_fanout)
}

/// Who deploys, when, and the inventory's hash, for the record deploy leaves and the history
/// every applied plan leaves.
pub(crate) fn record_meta(c: &Cluster) -> flink::record::RecordMeta {
    use sha2::Digest;
    let me = crate::fleet::lock::Owner::me("deploy");
    let bytes = std::fs::read(&c.source).unwrap_or_default();
    flink::record::RecordMeta {
        inventory_sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        at: me.started,
        by: format!("{}@{}", me.user, me.machine),
    }
}
