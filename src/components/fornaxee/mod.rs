//! Fornaxee, the data factory that runs as a Flink client: the second component. Its bundle
//! format ([`bundle`]), etc/ files ([`render`]), facts probe ([`probe`]), plan rules
//! ([`plan`]) and health check ([`health`]) live here.

pub mod bundle;
pub mod health;
pub mod plan;
pub mod probe;
pub mod render;
pub mod validate;

/// The component's name in plans and output.
pub const NAME: &str = "Fornaxee";

/// The service name in plans and pid files.
pub const SERVICE: &str = "fornaxee";

/// Fornaxee's own checks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// Its health path answers 200.
    FornaxeeHealth(health::HealthCheck),
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::FornaxeeHealth(c) => c.fmt(f),
        }
    }
}

/// Fornaxee as the engine sees it.
pub struct Fornaxee;

impl super::Component for Fornaxee {
    fn name(&self) -> &'static str {
        NAME
    }

    fn in_inventory(&self, cluster: &crate::inventory::Cluster) -> bool {
        cluster.fornaxee.is_some()
    }

    fn run_check<'a>(
        &'a self,
        step: &'a crate::plan::CheckStep,
        host: &'a crate::fleet::HostId,
        fleet: &'a crate::fleet::Fleet,
        rep: &'a dyn crate::report::Reporter,
    ) -> futures_util::future::BoxFuture<'a, crate::error::Result<()>> {
        Box::pin(async move {
            match super::parse_check::<Check>(step)? {
                Check::FornaxeeHealth(c) => health::check(&c, host, fleet, rep).await,
            }
        })
    }
}
