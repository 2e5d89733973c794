//! The products flinkup installs. Each one sits behind one boundary and provides its
//! inventory section's meaning, its artifacts, templates, a read-only facts probe, the plan
//! rules that turn desired state and facts into stages, its services and its health check.
//! The engine (plan, apply, fleet, remote, artifact, facts) knows no product: it runs
//! stages of self-contained actions and hands a product's own checks back to it.

pub mod flink;
pub mod fornaxee;

use std::fmt;

use futures_util::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fleet::{Fleet, HostId};
use crate::plan::{Action, CheckStep};
use crate::report::Reporter;

/// What a product gives the engine. The engine names none of them: it finds a component
/// by the name a plan step carries.
pub trait Component: Sync {
    /// The name plans, `--only` and stages use.
    fn name(&self) -> &'static str;

    /// Whether the inventory installs (or configures) this component at all.
    fn in_inventory(&self, cluster: &crate::inventory::Cluster) -> bool;

    /// Runs one of the component's own checks from the host its step names.
    fn run_check<'a>(
        &'a self,
        check: &'a CheckStep,
        host: &'a HostId,
        fleet: &'a Fleet,
        rep: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<()>>;
}

/// Every component flinkup knows, in the order their stages run.
pub fn registry() -> &'static [&'static dyn Component] {
    &[&flink::Flink, &fornaxee::Fornaxee]
}

/// Runs a check through the component that planned it.
pub async fn run_check(
    check: &CheckStep,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    match registry().iter().find(|c| c.name() == check.component) {
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
    component: &str,
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
        component: component.to_string(),
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
        assert!(registry().iter().any(|r| r.name() == step.component));
    }
}
