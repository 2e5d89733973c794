//! Fornaxee, the data factory that runs as a Flink client: the second component. Its bundle
//! format ([`bundle`]), etc/ files ([`render`]), facts probe ([`probe`]), plan rules
//! ([`plan`]) and health check ([`health`]) live here.

pub mod bundle;
pub mod health;
pub mod plan;
pub mod probe;
pub use probe::FornaxeeFactsOf;
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

/// The REST address of the Flink cluster Fornaxee talks to.
pub fn flink_rest(c: &crate::inventory::Cluster) -> String {
    match c.external() {
        Some(e) => e.rest.clone(),
        None => format!(
            "{}://{}:{}",
            if c.tls.is_some() { "https" } else { "http" },
            c.jobmanager().name,
            c.rest_port
        ),
    }
}

/// Fornaxee's plan inputs, when the inventory installs it.
pub fn inputs<'a>(
    c: &'a crate::inventory::Cluster,
    facts: &'a crate::facts::Facts,
    bundle: Option<&'a super::BundleAtHand>,
) -> Option<plan::Inputs<'a>> {
    c.fornaxee.as_ref().map(|fx| plan::Inputs {
        cluster: c,
        fx,
        facts,
        bundle: bundle.map(|b| &b.bundle),
        artifact: bundle.map(|b| b.art.clone()).unwrap_or_default(),
        flink_rest: flink_rest(c),
        flink_version: c.version.to_string(),
    })
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

    fn logs(
        &self,
        c: &crate::inventory::Cluster,
        host: &crate::inventory::Host,
    ) -> Vec<super::LogSource> {
        match &c.fornaxee {
            Some(f) if host.fornaxee => vec![super::LogSource {
                daemon: "fornaxee",
                dir: f.log_dir.clone(),
                pattern: "fornaxee.log".into(),
                unit: None,
            }],
            _ => Vec::new(),
        }
    }

    /// Its own hosts (release, etc/ files, service, the Flink REST API as seen from there),
    /// and an existing Flink's hosts flinkup may reach (connector jars, daemons).
    fn probe(
        &self,
        c: &crate::inventory::Cluster,
        id: &crate::fleet::HostId,
        ask: &super::ProbeAsk,
        machine: &mut crate::facts::MachineProbe,
    ) -> Option<String> {
        let fx = c.fornaxee.as_ref()?;
        let mut script = String::new();
        if ask.host(c, id).is_some_and(|h| h.fornaxee) {
            machine.ports.extend(plan::http_port(fx, ask.bundle));
            script.push_str(&probe::script(fx));
            script.push_str(&crate::components::flink::supervise::probe_unit(
                c, "fornaxee", "fx.unit",
            ));
        }
        if let Some(e) = c.external() {
            if e.hosts.iter().any(|h| crate::fleet::HostId::of(h) == *id) {
                if machine.install_dir.is_empty() {
                    machine.install_dir = e.home.clone();
                }
                script.push_str(&probe::existing_script(&e.home, &ask.jar_names()));
            }
        }
        (!script.is_empty()).then_some(script)
    }

    fn parse(
        &self,
        _: &crate::inventory::Cluster,
        _: &crate::fleet::HostId,
        _: &super::ProbeAsk,
        out: &str,
    ) -> Box<dyn crate::facts::Part> {
        Box::new(probe::parse(out))
    }

    fn plan(&self, ctx: &super::PlanCtx, out: &mut crate::plan::Plan) -> crate::error::Result<()> {
        use super::Verb;
        let Some(inp) = inputs(ctx.cluster(), ctx.facts, ctx.bundle) else {
            return Ok(());
        };
        match ctx.verb {
            Verb::Deploy => plan::deploy(&inp, out)?,
            Verb::Start => plan::start(&inp, out),
            Verb::Stop => plan::stop(&inp, out, "flinkup stop: every service of the cluster"),
            Verb::Destroy => plan::destroy(&inp, out),
            // A rollback puts Flink's previous release back; Fornaxee stays as it is.
            Verb::Rollback => {}
            Verb::Smoke => plan::smoke(&inp, out),
        }
        Ok(())
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
