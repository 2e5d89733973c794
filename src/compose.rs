//! One composition per verb: facts (and what the operator has at hand) in, the plan out. Every
//! caller of a verb — the command that executes it, its `--dry-run`, `plan`, `plan --offline`,
//! `check` — gets its plan from here, so a preview cannot drift from what is executed.

use crate::cli::{Day2Args, JobsArgs, Only};
use crate::components::flink::{self, plan::ArtifactState, render::Renderer};
use crate::components::fornaxee::{self, bundle::Bundle};
use crate::error::Result;
use crate::facts::{Facts, SshPeer};
use crate::fleet::HostId;
use crate::inventory::{Cluster, Connection, Distribution, Loaded};
use crate::plan::{distribute, Plan, PlanMode};

/// The Fornaxee bundle, fetched and verified like any artifact, then inspected.
pub struct BundleAtHand {
    pub art: ArtifactState,
    pub bundle: Bundle,
}

/// What a deploy plan is built from beyond the facts.
pub struct DeployAsk<'a> {
    pub mode: PlanMode,
    /// The Flink release as far as it is known (fetched, cached, pinned).
    pub art: ArtifactState,
    pub bundle: Option<&'a BundleAtHand>,
    pub only: Option<Only>,
    pub day2: &'a Day2Args,
    pub smoke: flink::plan::SmokeJob,
}

/// The inventory's warnings, as plans show them.
pub fn warnings(loaded: &Loaded) -> Vec<String> {
    loaded.warnings.iter().map(|w| w.message.clone()).collect()
}

/// `deploy` (and `plan`, `plan --offline`, `check`): every component's deploy rules, then
/// `--no-start`, `--only` and the relay, in that order.
pub fn deploy(loaded: &Loaded, facts: &Facts, ask: DeployAsk) -> Result<Plan> {
    let c = &loaded.cluster;
    let mut plan = flink::plan::deploy(
        &flink::plan::Inputs {
            cluster: c,
            facts,
            mode: ask.mode,
            artifact: ask.art,
            warnings: warnings(loaded),
            jars: ask
                .bundle
                .map(|b| b.bundle.jars.clone())
                .unwrap_or_default(),
            smoke: Some(ask.smoke),
            day2: ask.day2.into(),
            record: (ask.mode == PlanMode::Live).then(|| record_meta(c)),
        },
        &Renderer::new(c)?,
    )?;
    if let Some(fx) = fornaxee_inputs(c, facts, ask.bundle) {
        fornaxee::plan::deploy(&fx, &mut plan)?;
    }
    if ask.day2.no_start {
        // Staging: every component's starts, stops and checks are left out.
        plan.keep_installation();
    }
    if let Some(o) = ask.only {
        plan.only(o.component());
    }
    if c.distribution == Distribution::Relay {
        distribute::relay(&mut plan, &relay_network(c, facts));
    }
    Ok(plan)
}

/// The verbs that act on what is installed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Start,
    Stop,
    Destroy,
    Rollback,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Destroy => "destroy",
            Verb::Rollback => "rollback",
        }
    }
}

/// `start`, `stop`, `destroy`, `rollback`: each component's rules for the verb, then `--only`.
pub fn lifecycle(
    verb: Verb,
    loaded: &Loaded,
    facts: &Facts,
    only: Option<Only>,
    jobs: &JobsArgs,
) -> Plan {
    let c = &loaded.cluster;
    let inp = installed(
        loaded,
        facts,
        flink::plan::Day2 {
            savepoint: jobs.savepoint.clone(),
            force: jobs.force,
            ..Default::default()
        },
    );
    let fx = fornaxee_inputs(c, facts, None);
    let mut plan = match verb {
        Verb::Start => {
            let mut p = flink::plan::start(&inp);
            if let Some(fx) = &fx {
                fornaxee::plan::start(fx, &mut p);
            }
            p
        }
        Verb::Stop => {
            let mut p = flink::plan::stop(&inp);
            if let Some(fx) = &fx {
                fornaxee::plan::stop(fx, &mut p, "flinkup stop: every service of the cluster");
            }
            p
        }
        Verb::Rollback => flink::plan::rollback(&inp),
        Verb::Destroy => {
            let mut p = flink::plan::destroy(&inp);
            if let Some(fx) = &fx {
                fornaxee::plan::destroy(fx, &mut p);
            }
            p
        }
    };
    if let Some(o) = only {
        plan.only(o.component());
    }
    plan
}

/// `smoke`: Flink's job (unless `--only fornaxee`), then Fornaxee's health check.
pub fn smoke(
    loaded: &Loaded,
    facts: &Facts,
    job: &flink::plan::SmokeJob,
    only: Option<Only>,
) -> Plan {
    let c = &loaded.cluster;
    let inp = installed(loaded, facts, Default::default());
    // Another component alone is proven by its own checks; Flink's preflight has no say there.
    let mut plan = if only.is_some_and(|o| !o.is(flink::NAME)) {
        flink::plan::skeleton(&inp, "smoke")
    } else {
        flink::plan::smoke(&inp, job)
    };
    if let Some(fx) = fornaxee_inputs(c, facts, None) {
        fornaxee::plan::smoke(&fx, &mut plan);
    }
    if let Some(o) = only {
        plan.only(o.component());
    }
    plan
}

/// Flink's inputs for a verb that acts on what is installed: no artifact, no jars, no record.
fn installed<'a>(
    loaded: &'a Loaded,
    facts: &'a Facts,
    day2: flink::plan::Day2,
) -> flink::plan::Inputs<'a> {
    flink::plan::Inputs {
        cluster: &loaded.cluster,
        facts,
        mode: PlanMode::Live,
        artifact: Default::default(),
        warnings: warnings(loaded),
        jars: Vec::new(),
        smoke: None,
        day2,
        record: None,
    }
}

/// The REST address of the Flink cluster Fornaxee talks to.
pub fn flink_rest(c: &Cluster) -> String {
    match c.external() {
        Some(e) => e.rest.clone(),
        None => format!("http://{}:{}", c.jobmanager().name, c.rest_port),
    }
}

/// Fornaxee's plan inputs, when the inventory installs it.
pub fn fornaxee_inputs<'a>(
    c: &'a Cluster,
    facts: &'a Facts,
    bundle: Option<&'a BundleAtHand>,
) -> Option<fornaxee::plan::Inputs<'a>> {
    c.fornaxee.as_ref().map(|fx| fornaxee::plan::Inputs {
        cluster: c,
        fx,
        facts,
        bundle: bundle.map(|b| &b.bundle),
        artifact: bundle.map(|b| b.art.clone()).unwrap_or_default(),
        flink_rest: flink_rest(c),
        flink_version: c.version.to_string(),
    })
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

/// Who deploys, when, and the inventory's hash, for the record deploy leaves.
fn record_meta(c: &Cluster) -> flink::record::RecordMeta {
    use sha2::Digest;
    let me = crate::fleet::lock::Owner::me("deploy");
    let bytes = std::fs::read(&c.source).unwrap_or_default();
    flink::record::RecordMeta {
        inventory_sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        at: me.started,
        by: format!("{}@{}", me.user, me.machine),
    }
}
