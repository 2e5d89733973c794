//! The products flinkup installs. Each one sits behind one boundary and provides its
//! inventory section's meaning, its artifacts, templates, a read-only facts probe, the plan
//! rules that turn desired state and facts into stages, its services and its health check.
//! The engine (plan, apply, fleet, remote, artifact, facts) knows no product: it runs
//! stages of self-contained actions and hands a product's own checks back to it.

pub mod flink;
pub mod fornaxee;

use std::fmt;

use serde::Serialize;

use crate::error::Result;
use crate::fleet::{Fleet, HostId};
use crate::report::Reporter;

/// A product's own check, run by the engine as a step on one host.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// Flink's REST API lists every expected TaskManager and slot.
    FlinkCluster(flink::rest::ClusterCheck),
    /// Running jobs stopped with a savepoint.
    FlinkSavepoint(flink::jobs::Savepoint),
    /// A restarted TaskManager registered again.
    FlinkTaskManagerBack(flink::rest::TaskManagerBack),
    /// A job submitted with `bin/flink run -d` finishes.
    FlinkSmoke(flink::jobs::SmokeCheck),
    /// Fornaxee's health path answers 200.
    FornaxeeHealth(fornaxee::health::HealthCheck),
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::FlinkCluster(c) => c.fmt(f),
            Check::FornaxeeHealth(c) => c.fmt(f),
            Check::FlinkSmoke(c) => c.fmt(f),
            Check::FlinkSavepoint(c) => c.fmt(f),
            Check::FlinkTaskManagerBack(c) => c.fmt(f),
        }
    }
}

/// Runs a check from the host its step names.
pub async fn run_check(
    check: &Check,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    match check {
        Check::FlinkCluster(c) => flink::rest::check(c, host, fleet, rep).await,
        Check::FornaxeeHealth(c) => fornaxee::health::check(c, host, fleet, rep).await,
        Check::FlinkSmoke(c) => flink::jobs::smoke(c, host, fleet, rep).await,
        Check::FlinkSavepoint(c) => flink::jobs::savepoint(c, host, fleet, rep).await,
        Check::FlinkTaskManagerBack(c) => flink::rest::taskmanager_back(c, fleet, rep).await,
    }
}
