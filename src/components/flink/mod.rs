//! Apache Flink standalone clusters: the first component. Its inventory keys ([`keys`]),
//! templates ([`render`]), facts probe ([`probe`]), plan rules ([`plan`]), daemons and REST
//! health ([`rest`]) and the guide's sizing advice ([`sizing`]) all live here.

pub mod catalogue;
pub mod ha;
pub mod jobs;
pub mod plan;
pub mod probe;
pub use probe::FlinkFactsOf;
pub mod record;
pub mod registrations;
pub mod render;
pub mod rest;
pub mod sizing;
pub mod supervise;
pub mod tls;
pub mod validate;

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::facts::{Facts, MachineProbe, SshPeer};
use crate::fleet::{lock, HostId};
use crate::inventory::{Cluster, Host};

/// The component's name in plans and output.
pub const NAME: &str = "Flink";

/// A Flink daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    JobManager,
    TaskManager,
}

impl Role {
    pub const ALL: [Role; 2] = [Role::JobManager, Role::TaskManager];

    /// The name flink-daemon.sh gives its pid file: `flink-<user>-<name>.pid`.
    pub fn pid_name(self) -> &'static str {
        match self {
            Role::JobManager => "standalonesession",
            Role::TaskManager => "taskexecutor",
        }
    }

    /// The script under bin/ that starts and stops it.
    pub fn script(self) -> &'static str {
        match self {
            Role::JobManager => "jobmanager.sh",
            Role::TaskManager => "taskmanager.sh",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::JobManager => "jobmanager",
            Role::TaskManager => "taskmanager",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The roles the inventory gives a host.
pub fn roles(host: &Host) -> Vec<Role> {
    let mut r = Vec::new();
    if host.jobmanager {
        r.push(Role::JobManager);
    }
    if host.taskmanager {
        r.push(Role::TaskManager);
    }
    r
}

/// The JobManager host: where the lock lives, start-cluster.sh runs and REST is asked.
pub fn coordinator(c: &Cluster) -> HostId {
    HostId::of(c.jobmanager())
}

/// Where Flink's daemons write their logs: `env.log.dir`, else the current release's log/.
pub fn log_dir(c: &Cluster) -> String {
    c.config
        .get("env.log.dir")
        .cloned()
        .unwrap_or_else(|| format!("{}/log", c.current_link()))
}

/// Where the deploy lock of this cluster lives.
pub fn lock_site(c: &Cluster) -> lock::Site {
    lock::Site {
        host: coordinator(c),
        state_dir: c.state_dir(),
        inventory: c.source.display().to_string(),
    }
}

/// The lines that open and close flinkup's block in the JobManager host's `~/.ssh/config`.
pub fn ssh_markers(c: &Cluster) -> (String, String) {
    (
        format!(
            "# BEGIN flinkup cluster {} (managed: edits are replaced)",
            c.name
        ),
        format!("# END flinkup cluster {}", c.name),
    )
}

/// How start-cluster.sh on the JobManager host reaches each TaskManager host. Flink's ssh
/// logs in as the JobManager host's user, so a peer's user matters only where it differs.
pub fn ssh_peers(c: &Cluster, facts: &Facts) -> Vec<SshPeer> {
    let jm_user = c.jobmanager().user.clone();
    // In HA mode start-cluster.sh starts every JobManager of the masters file over ssh, its
    // own host's too.
    let masters = c.jobmanagers().filter(|h| c.ha.is_some() && !h.taskmanager);
    c.taskmanagers()
        .chain(masters)
        .map(|h| {
            SshPeer::of(
                h,
                facts.route(&HostId::of(h)),
                h.user.clone().filter(|u| Some(u) != jm_user.as_ref()),
            )
        })
        .collect()
}

/// What the engine's probe should read on this host for Flink.
pub fn machine_probe(c: &Cluster, host: &Host) -> MachineProbe {
    MachineProbe {
        install_dir: c.install_dir.clone(),
        ports: if host.jobmanager {
            vec![c.rpc_port, c.rest_port]
        } else {
            Vec::new()
        },
        // Read even in direct mode, so a block left from cluster-script mode can be removed.
        ssh_block: host.jobmanager.then(|| ssh_markers(c)),
        lock: host.jobmanager.then(|| lock_site(c)),
        trust_marker: Some(crate::plan::trust_marker(&c.name)),
    }
}

/// Flink's own checks, each run from the host its step names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Check {
    /// Flink's REST API lists every expected TaskManager and slot.
    FlinkCluster(rest::ClusterCheck),
    /// Running jobs stopped with a savepoint.
    FlinkSavepoint(jobs::Savepoint),
    /// A restarted TaskManager registered again.
    FlinkTaskManagerBack(rest::TaskManagerBack),
    /// A job submitted with `bin/flink run -d` finishes.
    FlinkSmoke(jobs::SmokeCheck),
    /// Every JobManager host sees the same `file://` HA storage directory.
    FlinkHaStorage(ha::SharedStorage),
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::FlinkCluster(c) => c.fmt(f),
            Check::FlinkSmoke(c) => c.fmt(f),
            Check::FlinkSavepoint(c) => c.fmt(f),
            Check::FlinkTaskManagerBack(c) => c.fmt(f),
            Check::FlinkHaStorage(c) => c.fmt(f),
        }
    }
}

/// A Flink check as a plan step (the smoke job shows as something the plan runs).
pub fn check_action(c: Check) -> crate::plan::Action {
    let runs = matches!(c, Check::FlinkSmoke(_)).then_some("smoke");
    super::check_step(NAME, &c, runs)
}

/// Flink as the engine sees it.
pub struct Flink;

impl super::Component for Flink {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Every inventory has Flink: a cluster flinkup runs, or the client for an existing one.
    fn in_inventory(&self, _: &Cluster) -> bool {
        true
    }

    /// The cluster's hosts and those the record still lists: java, releases, conf files,
    /// daemons; the JobManager host also its ports, ssh block, lock and record.
    fn probe(
        &self,
        c: &Cluster,
        id: &HostId,
        ask: &super::ProbeAsk,
        machine: &mut MachineProbe,
    ) -> Option<String> {
        let h = ask.host(c, id)?;
        *machine = machine_probe(c, h);
        Some(probe::script(c, h, &ask.jar_names(), ask.record.is_none()))
    }

    fn parse(
        &self,
        c: &Cluster,
        id: &HostId,
        ask: &super::ProbeAsk,
        out: &str,
    ) -> Box<dyn crate::facts::Part> {
        let mut f = probe::parse(out);
        if let Some(record) = ask.record.filter(|_| *id == coordinator(c)) {
            f.record = record.clone();
        }
        Box::new(f)
    }

    fn plan(&self, ctx: &super::PlanCtx, out: &mut crate::plan::Plan) -> crate::error::Result<()> {
        use super::Verb;
        let c = ctx.cluster();
        let deploy = ctx.verb == Verb::Deploy;
        let inp = plan::Inputs {
            cluster: c,
            facts: ctx.facts,
            mode: ctx.mode,
            artifact: if deploy {
                ctx.release.clone()
            } else {
                Default::default()
            },
            warnings: ctx.warnings(),
            jars: match ctx.bundle {
                Some(b) if deploy => b.bundle.jars.clone(),
                _ => Vec::new(),
            },
            smoke: ctx.smoke.filter(|_| deploy).cloned(),
            day2: ctx.day2.clone(),
            record: ctx.record.clone().filter(|_| deploy),
            jdk: ctx.jdk.filter(|_| deploy),
        };
        *out = match ctx.verb {
            Verb::Deploy => match ctx.renderer {
                Some(r) => plan::deploy(&inp, r)?,
                None => plan::deploy(&inp, &render::Renderer::new(c)?)?,
            },
            Verb::Start => plan::start(&inp),
            Verb::Stop => plan::stop(&inp),
            Verb::Destroy => plan::destroy(&inp),
            Verb::Rollback => plan::rollback(&inp),
            // Another component alone is proven by its own checks: Flink's preflight has no
            // say there.
            Verb::Smoke => match ctx.smoke {
                Some(job) if ctx.only.is_none_or(|o| o.is(NAME)) => plan::smoke(&inp, job),
                _ => plan::skeleton(&inp, "smoke"),
            },
        };
        Ok(())
    }

    fn logs(&self, c: &Cluster, host: &Host) -> Vec<super::LogSource> {
        let dir = log_dir(c);
        roles(host)
            .into_iter()
            .filter(|_| c.manages_flink())
            .map(|r| super::LogSource {
                daemon: r.as_str(),
                dir: dir.clone(),
                pattern: format!("flink-*-{}-*.log", r.pid_name()),
                unit: Some(supervise::unit_name(c, r)),
            })
            .collect()
    }

    fn run_check<'a>(
        &'a self,
        step: &'a crate::plan::CheckStep,
        host: &'a HostId,
        fleet: &'a crate::fleet::Fleet,
        rep: &'a dyn crate::report::Reporter,
    ) -> futures_util::future::BoxFuture<'a, crate::error::Result<()>> {
        Box::pin(async move {
            match super::parse_check::<Check>(step)? {
                Check::FlinkCluster(c) => rest::check(&c, host, fleet, rep).await,
                Check::FlinkSmoke(c) => jobs::smoke(&c, host, fleet, rep).await,
                Check::FlinkSavepoint(c) => jobs::savepoint(&c, host, fleet, rep).await,
                Check::FlinkTaskManagerBack(c) => rest::taskmanager_back(&c, fleet, rep).await,
                Check::FlinkHaStorage(c) => ha::shared_storage(&c, fleet, rep).await,
            }
        })
    }
}
