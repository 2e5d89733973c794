//! The products flinkup installs. Each one is a folder here and one line in [`registry`]: it
//! provides its inventory section's meaning, its artifacts, templates, a read-only facts probe
//! and its parser, the plan rules of every verb, its services and its checks. The engine
//! (plan, apply, fleet, remote, artifact, facts, report, the error type) knows no product: it
//! probes hosts with the fragments components hand it, keeps their results by type, runs
//! stages of self-contained actions and hands a component's own checks back to it.

pub mod flink;
pub mod fornaxee;
pub mod java;
#[cfg(test)]
mod marker;
pub mod zookeeper;

use std::fmt;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::cli::Only;
use crate::error::{Error, Result};
use crate::facts::{Facts, MachineProbe, Part};
use crate::fleet::{Fleet, HostId};
use crate::inventory::{Cluster, Host, Loaded};
use crate::plan::{Action, ArtifactState, CheckStep, Plan, PlanMode};
use crate::report::Reporter;

/// The verbs every component has plan rules for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Deploy,
    Start,
    Stop,
    Destroy,
    Rollback,
    Smoke,
}

impl Verb {
    pub fn name(self) -> &'static str {
        match self {
            Verb::Deploy => "deploy",
            Verb::Start => "start",
            Verb::Stop => "stop",
            Verb::Destroy => "destroy",
            Verb::Rollback => "rollback",
            Verb::Smoke => "smoke",
        }
    }
}

/// What a run's probes may need beyond the inventory.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeAsk<'a> {
    /// Hosts the last deploy recorded that the inventory no longer lists: probed like the
    /// cluster's own, so their daemons can be stopped.
    pub removed: &'a [Host],
    /// The deploy record, when it was read already (the probe then leaves it alone).
    pub record: Option<&'a Option<flink::record::Record>>,
    /// The Fornaxee bundle at hand: the port its service takes, the jars it brings.
    pub bundle: Option<&'a fornaxee::bundle::Bundle>,
}

impl ProbeAsk<'_> {
    /// The names of the jars the bundle at hand brings (none without a bundle).
    pub fn jar_names(&self) -> Vec<String> {
        self.bundle
            .map(|b| b.jars.iter().map(|j| j.name.clone()).collect())
            .unwrap_or_default()
    }

    /// The inventory's host, or a removed one, of this id.
    pub fn host<'h>(&'h self, c: &'h Cluster, id: &HostId) -> Option<&'h Host> {
        c.hosts
            .iter()
            .chain(self.removed.iter())
            .find(|h| HostId::of(h) == *id)
    }
}

/// The Fornaxee bundle, fetched and verified like any artifact, then inspected.
pub struct BundleAtHand {
    pub art: ArtifactState,
    pub bundle: fornaxee::bundle::Bundle,
}

/// Everything a verb's plan is built from: the inventory, the facts, and what the operator
/// holds and asked for on the command line.
pub struct PlanCtx<'a> {
    pub verb: Verb,
    pub loaded: &'a Loaded,
    pub facts: &'a Facts,
    pub mode: PlanMode,
    /// The Flink release as far as it is known (fetched, cached, pinned); deploy only.
    pub release: ArtifactState,
    pub bundle: Option<&'a BundleAtHand>,
    /// The Java runtime's archive, fetched and read, when some host needs it.
    pub jdk: Option<&'a java::JdkAtHand>,
    pub only: Option<Only>,
    /// How day-2 changes are carried out (deploy) and how running jobs are treated (stop,
    /// destroy, rollback).
    pub day2: flink::plan::Day2,
    /// The job deploy runs when `verify.smoke` asks for it, and the one `smoke` runs.
    pub smoke: Option<&'a flink::plan::SmokeJob>,
    /// Who deploys, when, and from what inventory: what a live deploy records (the planner
    /// itself reads no clock).
    pub record: Option<flink::record::RecordMeta>,
    /// Flink's files as rendered for this run (rendered once, whatever asks for them).
    pub renderer: Option<&'a flink::render::Renderer>,
}

impl PlanCtx<'_> {
    pub fn cluster(&self) -> &Cluster {
        &self.loaded.cluster
    }

    /// The inventory's warnings, as plans show them.
    pub fn warnings(&self) -> Vec<String> {
        self.loaded
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .collect()
    }
}

/// What a product gives the engine. The engine names none of them: it finds a component
/// by the name a plan step carries.
pub trait Component: Sync {
    /// The name plans, `--only` and stages use.
    fn name(&self) -> &'static str;

    /// Whether the inventory installs (or configures) this component at all.
    fn in_inventory(&self, cluster: &Cluster) -> bool;

    /// Adds to one host's read-only probe: what the engine's machine probe should look at
    /// (`machine`: install directory, ports) and a shell fragment whose `key=value` lines
    /// only this component's [`Component::parse`] reads. None: nothing to ask there.
    fn probe(
        &self,
        c: &Cluster,
        host: &HostId,
        ask: &ProbeAsk,
        machine: &mut MachineProbe,
    ) -> Option<String>;

    /// This component's facts from the output of its fragment on that host.
    fn parse(&self, c: &Cluster, host: &HostId, ask: &ProbeAsk, out: &str) -> Box<dyn Part>;

    /// The component's rules for a verb. Components run in registry order: the first lays the
    /// plan's header, hosts and preflight (Flink: the cluster every other one runs beside or
    /// against); each later one adds its own stages and findings.
    fn plan(&self, ctx: &PlanCtx, plan: &mut Plan) -> Result<()>;

    /// Where the daemons this component runs on `host` write their logs.
    fn logs(&self, _c: &Cluster, _host: &Host) -> Vec<LogSource> {
        Vec::new()
    }

    /// Runs one of the component's own checks from the host its step names.
    fn run_check<'a>(
        &'a self,
        check: &'a CheckStep,
        host: &'a HostId,
        fleet: &'a Fleet,
        rep: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<()>>;
}

/// A daemon's log files on a host: `dir` (a path, `~/` allowed) and a file-name pattern of
/// the component's own (shell wildcards, nothing to quote).
#[derive(Debug, Clone, PartialEq)]
pub struct LogSource {
    pub daemon: &'static str,
    pub dir: String,
    pub pattern: String,
    /// The daemon's systemd unit: where it is installed on the host, the daemon logs to
    /// its journal and that is read instead.
    pub unit: Option<String>,
}

/// Every component flinkup knows, in the order their stages run.
pub fn registry() -> &'static [&'static dyn Component] {
    &[
        &flink::Flink,
        &java::Java,
        &zookeeper::ZooKeeper,
        &fornaxee::Fornaxee,
        #[cfg(test)]
        &marker::Marker,
    ]
}

/// The registered component of this name.
pub fn named(name: &str) -> Option<&'static dyn Component> {
    registry().iter().copied().find(|c| c.name() == name)
}

/// Runs a check through the component that planned it.
pub async fn run_check(
    check: &CheckStep,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    match named(check.component.as_str()) {
        Some(c) => c.run_check(check, host, fleet, rep).await,
        None => Err(Error::Failed(format!(
            "no component named {} runs the {} check",
            check.component, check.kind
        ))),
    }
}

/// A component's checks (an enum tagged `check`, each variant its parameters) as a plan step:
/// the tag becomes the step's kind, the parameters its spec; `runs` shows it as something the
/// plan runs (`+ smoke`) rather than a verification.
pub fn check_step<C: Serialize + fmt::Display>(
    component: &'static str,
    check: &C,
    runs: Option<&str>,
) -> Action {
    let mut spec = match serde_json::to_value(check) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let kind = spec
        .shift_remove("check")
        .and_then(|k| k.as_str().map(str::to_string))
        .unwrap_or_default();
    Action::Check(CheckStep {
        component: component.into(),
        kind,
        text: check.to_string(),
        runs: runs.map(str::to_string),
        spec,
    })
}

/// A plan step's check back as the component's own enum.
pub fn parse_check<C: DeserializeOwned>(step: &CheckStep) -> Result<C> {
    let mut m = step.spec.clone();
    m.insert("check".into(), step.kind.clone().into());
    serde_json::from_value(serde_json::Value::Object(m)).map_err(|e| {
        Error::Failed(format!(
            "{} cannot run its {} check: {e}",
            step.component, step.kind
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every check a component plans comes back whole from the step the engine carries.
    #[test]
    fn a_check_round_trips_through_its_plan_step() {
        let c = flink::Check::FlinkCluster(flink::rest::ClusterCheck {
            jobmanager: "h1".into(),
            rest_port: 8082,
            taskmanagers: 2,
            slots: 4,
            timeout_secs: 60,
            ignore: vec!["old".into()],
            tls: Some(flink::tls::RestTls {
                ca: "/state/ca.pem".into(),
                identity: None,
                host_ca: "/opt/tls/ca.pem".into(),
                host_identity: None,
            }),
            leadership: Some(flink::rest::Leadership {
                jobmanagers: vec![HostId("h1".into())],
                pid_dir: "/tmp".into(),
                log_dir: "/opt/flink/log".into(),
            }),
            tm_hosts: vec![flink::rest::TmHost {
                host: HostId("h2".into()),
                name: "h2".into(),
                address: "10.0.0.2".into(),
                ips: Vec::new(),
                log_dir: "/opt/flink/log".into(),
            }],
        });
        let Action::Check(step) = flink::check_action(c.clone()) else {
            panic!("a check step");
        };
        assert_eq!(
            (step.component.as_str(), step.kind.as_str()),
            ("Flink", "flink_cluster")
        );
        let json = serde_json::to_value(&step).unwrap();
        assert_eq!(json["check"], "flink_cluster");
        assert_eq!(json["rest_port"], 8082);
        assert_eq!(parse_check::<flink::Check>(&step).unwrap(), c);
        assert!(registry().iter().any(|r| step.component == r.name()));
    }
}
