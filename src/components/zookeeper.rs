//! flinkup's own ZooKeeper quorum (`ha.zookeeper`): a peer on each listed host, run by the
//! quorum peer every Flink distribution carries (`bin/zookeeper.sh start <id>`, configured by
//! `conf/zoo.cfg`), so a site needs nothing beyond Flink. Its stages run before Flink's daemons
//! start (the JobManager needs a working quorum to become leader) and its peers stop after
//! them. The site's own ensemble (`ha.zookeeper_quorum`) is never touched here.

use std::fmt;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::flink::ha::{Ensemble, Ha, CLIENT_PORT, PEER_PORTS};
use super::flink::plan::{paths, pid_file, resolve, unified_diff};
use super::flink::supervise::{self, UnitState};
use super::{Component, PlanCtx, ProbeAsk, Verb};
use crate::error::{Error, Result};
use crate::facts::{HostFacts, MachineProbe, Part};
use crate::fleet::{Fleet, HostId};
use crate::inventory::{Cluster, Host};
use crate::plan::{Action, Batch, Change, CheckStep, ComponentInfo, Plan, Stage, UnitOp};
use crate::remote::qp;
use crate::report::Reporter;

pub const NAME: &str = "ZooKeeper";

pub struct ZooKeeper;

/// What the probe finds on a peer's host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ZkFacts {
    /// The peer's pid, when it runs.
    pub running: Option<u32>,
    /// The release's conf/zoo.cfg as it is.
    pub cfg: Option<String>,
    /// Its systemd unit's file and state, when it has one.
    pub unit_file: Option<String>,
    pub unit: Option<UnitState>,
}

/// The peer's unit, as every unit of the cluster is named.
fn unit_name(c: &Cluster) -> String {
    supervise::named(c, "zookeeper")
}

/// Whether systemd runs the peer now.
fn unit_active(zf: &ZkFacts) -> bool {
    zf.unit.as_ref().is_some_and(UnitState::is_running)
}

fn facts(f: &HostFacts) -> &ZkFacts {
    f.parts.get_or_empty()
}

/// The quorum flinkup runs, when the inventory asks for one.
fn own(c: &Cluster) -> Option<&Ha> {
    c.ha.as_ref().filter(|h| h.own)
}

/// The peers with their ids (1, 2, … in `ha.zookeeper`'s order).
fn peers(c: &Cluster) -> Vec<(u32, &Host)> {
    let Some(ha) = own(c) else {
        return Vec::new();
    };
    ha.quorum
        .iter()
        .enumerate()
        .filter_map(|(i, (name, _))| {
            c.hosts
                .iter()
                .find(|h| h.zookeeper && &h.name == name)
                .map(|h| (i as u32 + 1, h))
        })
        .collect()
}

/// Where the peers keep their data: beside flinkup's other state, so destroy removes it.
fn data_dir(c: &Cluster) -> String {
    format!("{}/zookeeper", c.state_dir())
}

/// `conf/zoo.cfg`: every peer with its quorum and election ports, the data directory.
pub fn zoo_cfg(c: &Cluster, home: Option<&str>) -> String {
    let mut s = format!(
        "# zoo.cfg for cluster {}, written by flinkup from ha.zookeeper.\n\
         tickTime=2000\ninitLimit=10\nsyncLimit=5\nclientPort={CLIENT_PORT}\ndataDir={}\n",
        c.name,
        resolve(&data_dir(c), home)
    );
    for (id, h) in peers(c) {
        s.push_str(&format!(
            "server.{id}={}:{}:{}\n",
            h.name, PEER_PORTS.0, PEER_PORTS.1
        ));
    }
    s
}

/// The quorum answers: every peer with a mode, one of them leading.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
enum Check {
    ZookeeperQuorum {
        servers: Vec<(String, u16)>,
        timeout_secs: u64,
    },
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::ZookeeperQuorum {
                servers,
                timeout_secs,
            } => write!(
                f,
                "{} ZooKeeper peers answer, one of them leading, within {timeout_secs}s",
                servers.len()
            ),
        }
    }
}

/// Asks every server `srvr` from `host` until all answer and one leads.
async fn quorum(
    servers: &[(String, u16)],
    timeout_secs: u64,
    host: &HostId,
    fleet: &Fleet,
) -> Result<()> {
    let remote = fleet.get(host)?;
    let script = super::flink::ha::probe(servers);
    let start = Instant::now();
    loop {
        let out = remote.sh(host.as_str(), &script).await?;
        let (modes, _) = super::flink::ha::answers(&out.stdout);
        let e = Ensemble::of(servers, &modes).unwrap_or_default();
        if e.working() && e.answering() == servers.len() {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(timeout_secs) {
            return Err(Error::Failed(format!(
                "the ZooKeeper quorum did not form within {timeout_secs}s (asked from {host}): {}; each peer's log is under the release's log/ directory (flink-*-zookeeper-*.log)",
                e.summary()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

impl ZooKeeper {
    /// Stops the peer: `systemctl disable --now` where it has a unit (or systemd supervises
    /// the host), its script otherwise (or both, when it moves).
    fn stop_actions(c: &Cluster, h: &Host, f: &HostFacts, op: UnitOp, reason: &str) -> Vec<Action> {
        let zf = facts(f);
        let mut out = Vec::new();
        if zf.unit_file.is_some() || supervise::systemd_on(h, f).0 {
            out.push(Action::Unit {
                service: "zookeeper".into(),
                unit: unit_name(c),
                op,
                reason: reason.into(),
            });
        }
        if !unit_active(zf) {
            let p = paths(c, f);
            out.push(Action::StopServices {
                services: vec!["zookeeper".into()],
                scripts: vec![vec![format!("{}/bin/zookeeper.sh", p.link), "stop".into()]],
                pid_files: vec![pid_file(c, f, "zookeeper")],
                cmdline_has: Some("java".into()),
                terminate: false,
                grace_secs: 30,
                reason: reason.into(),
            });
        }
        out
    }

    fn start_action(c: &Cluster, h: &Host, f: &HostFacts, id: u32, reason: &str) -> Action {
        if supervise::systemd_on(h, f).0 {
            return Action::Unit {
                service: "zookeeper".into(),
                unit: unit_name(c),
                op: UnitOp::Start,
                reason: reason.into(),
            };
        }
        let p = paths(c, f);
        Action::StartService {
            service: "zookeeper".into(),
            script: format!("{}/bin/zookeeper.sh", p.link),
            args: vec!["start".into(), id.to_string()],
            log: format!("{}/log/flinkup-start-zookeeper.log", p.link),
            reason: reason.into(),
        }
    }

    /// The peer's unit: the quorum peer Flink ships in the foreground.
    fn unit_file(c: &Cluster, f: &HostFacts, id: u32) -> String {
        supervise::render(
            c,
            &supervise::UnitSpec {
                daemon: "zookeeper".into(),
                user: supervise::user(f),
                after: Vec::new(),
                exec_start: format!(
                    "{}/bin/zookeeper.sh start-foreground {id}",
                    paths(c, f).link
                ),
            },
        )
    }

    /// Stops every running peer (and, with `op` Remove, removes its unit); None when
    /// nothing is to do.
    fn stop(&self, ctx: &PlanCtx, op: UnitOp, reason: &str) -> Option<Stage> {
        let c = ctx.cluster();
        let mut s = Stage::new("zookeeper stop", Some(NAME));
        for (_, h) in peers(c) {
            let id = HostId::of(h);
            let f = ctx.facts.host(&id);
            let zf = facts(f);
            if zf.running.is_some()
                || zf.unit.as_ref().is_some_and(|u| u.enabled)
                || (op == UnitOp::Remove && zf.unit_file.is_some())
            {
                s.extend_host(&id, Self::stop_actions(c, h, f, op, reason));
            }
        }
        (!s.steps.is_empty()).then_some(s)
    }

    /// Writes zoo.cfg where it changed (deploy), starts the peers that do not run, restarts one
    /// at a time those whose zoo.cfg changed, and checks the quorum.
    fn up(&self, ctx: &PlanCtx, write: bool) -> Vec<Stage> {
        let c = ctx.cluster();
        let mut install = Stage::new("zookeeper install", Some(NAME));
        let mut start = Stage::new("zookeeper start", Some(NAME));
        start.batch = Batch::Rolling(1);
        start.if_failed = "Peers already restarted run with the new zoo.cfg; the others run as before. Fix the cause and run again.".into();
        for (n, h) in peers(c) {
            let id = HostId::of(h);
            let f = ctx.facts.host(&id);
            let zf = facts(f);
            let cfg = zoo_cfg(c, f.machine.home.as_deref());
            let changed = write && zf.cfg.as_deref() != Some(cfg.as_str());
            if changed {
                let path = format!("{}/conf/zoo.cfg", paths(c, f).release);
                install.push(
                    &id,
                    Action::WriteFile {
                        diff: unified_diff(zf.cfg.as_deref().unwrap_or(""), &cfg, &path),
                        change: if zf.cfg.is_some() {
                            Change::Update
                        } else {
                            Change::Create
                        },
                        path,
                        content: cfg,
                        executable: false,
                    },
                );
            }
            // Under systemd: its unit file, and whether the peer must move or restart for it.
            let systemd = supervise::systemd_on(h, f).0;
            let mut unit_changed = false;
            if systemd && write {
                if let Some(a) = supervise::write(
                    c,
                    "zookeeper",
                    zf.unit_file.as_deref(),
                    Self::unit_file(c, f, n),
                ) {
                    install.push(&id, a);
                    unit_changed = zf.unit_file.is_some();
                }
            }
            let moves = zf.running.is_some() && systemd != unit_active(zf);
            let why = if changed {
                "zoo.cfg changed; ZooKeeper reads it only at start"
            } else if moves && systemd {
                "it runs from Flink's scripts and moves under systemd"
            } else if moves {
                "it runs under systemd and moves to Flink's scripts"
            } else {
                "its unit file changed"
            };
            match (zf.running, changed || moves || unit_changed) {
                (None, _) => start.push(&id, Self::start_action(c, h, f, n, "not running")),
                (Some(_), true) => {
                    start.extend_host(&id, Self::stop_actions(c, h, f, UnitOp::Stop, why));
                    start.push(&id, Self::start_action(c, h, f, n, why));
                }
                (Some(_), false) => {}
            }
        }
        let mut verify = Stage::new("zookeeper verify", Some(NAME));
        if let Some((_, first)) = peers(c).first() {
            verify.push(
                &HostId::of(first),
                super::check_step(
                    NAME,
                    &Check::ZookeeperQuorum {
                        servers: own(c).map(|h| h.quorum.clone()).unwrap_or_default(),
                        timeout_secs: c.verify_timeout.as_secs(),
                    },
                    None,
                ),
            );
        }
        [install, start, verify]
            .into_iter()
            .filter(|s| !s.steps.is_empty())
            .collect()
    }
}

/// The first of Flink's stages past preparing the hosts (trust, distribute, install, savepoint,
/// switch): what starts, stops, verifies or removes its daemons needs the quorum up before it,
/// and stops it only after them.
fn before_flink_daemons(plan: &Plan) -> usize {
    const PREPARING: &[&str] = &[
        "ha storage",
        "trust",
        "relay trust",
        "distribute",
        "install",
        "savepoint",
        "switch",
    ];
    plan.stages
        .iter()
        .position(|s| {
            s.component
                .is_some_and(|c| c.as_str() == super::flink::NAME)
                && !PREPARING.contains(&s.name.as_str())
        })
        .unwrap_or(plan.stages.len())
}

/// The first stage that removes what Flink installed (destroy).
fn before_removal(plan: &Plan) -> usize {
    plan.stages
        .iter()
        .position(|s| {
            s.steps
                .iter()
                .any(|st| matches!(st.action, Action::Remove { .. }))
        })
        .unwrap_or(plan.stages.len())
}

impl Component for ZooKeeper {
    fn name(&self) -> &'static str {
        NAME
    }

    fn in_inventory(&self, c: &Cluster) -> bool {
        own(c).is_some()
    }

    fn logs(&self, c: &Cluster, host: &Host) -> Vec<super::LogSource> {
        if own(c).is_none() || !host.zookeeper {
            return Vec::new();
        }
        vec![super::LogSource {
            daemon: "zookeeper",
            dir: super::flink::log_dir(c),
            pattern: "flink-*-zookeeper-*.log".into(),
            unit: Some(unit_name(c)),
        }]
    }

    fn probe(
        &self,
        c: &Cluster,
        id: &HostId,
        ask: &ProbeAsk,
        machine: &mut MachineProbe,
    ) -> Option<String> {
        own(c)?;
        if !ask.host(c, id).is_some_and(|h| h.zookeeper) {
            return None;
        }
        machine
            .ports
            .extend([CLIENT_PORT, PEER_PORTS.0, PEER_PORTS.1]);
        Some(format!(
            "{alive}\nU=${{USER:-$(id -un)}}\nZP={pid_dir}/flink-$U-zookeeper.pid\nif [ -f \"$ZP\" ]; then for p in $(cat \"$ZP\"); do if alive \"$p\" java; then echo \"zk_running=$p\"; fi; done; fi\nif [ -f {cfg} ]; then echo \"zk_cfg=$(base64 -w0 < {cfg})\"; fi\n",
            alive = crate::remote::shell::ALIVE_FN,
            pid_dir = qp(&super::flink::probe::pid_dir(c)),
            cfg = qp(&format!("{}/conf/zoo.cfg", c.release_dir())),
        ) + &supervise::probe_unit(c, "zookeeper", "zk_unit"))
    }

    fn parse(&self, _: &Cluster, _: &HostId, _: &ProbeAsk, out: &str) -> Box<dyn Part> {
        let mut f = ZkFacts::default();
        for (k, v) in out.lines().filter_map(|l| l.split_once('=')) {
            match k {
                "zk_running" => f.running = v.trim().parse().ok(),
                "zk_cfg" => f.cfg = crate::facts::b64_text(v),
                "zk_unit_file" => f.unit_file = crate::facts::b64_text(v),
                "zk_unit" => f.unit = Some(supervise::parse_state(v)),
                _ => {}
            }
        }
        if let Some(pid) = f.unit.as_ref().and_then(UnitState::pid) {
            f.running.get_or_insert(pid);
        }
        Box::new(f)
    }

    fn plan(&self, ctx: &PlanCtx, plan: &mut Plan) -> Result<()> {
        let c = ctx.cluster();
        if !self.in_inventory(c) {
            return Ok(());
        }
        let names: Vec<&str> = peers(c).iter().map(|(_, h)| h.name.as_str()).collect();
        plan.components.push(ComponentInfo {
            name: NAME.into(),
            version: format!("from Flink {}", c.version),
            detail: "the quorum peer Flink ships".into(),
            artifact: None,
            summary: format!(
                "{} peers on {} (client port {CLIENT_PORT})",
                names.len(),
                names.join(", ")
            ),
        });
        match ctx.verb {
            Verb::Deploy | Verb::Start => {
                let stages = self.up(ctx, ctx.verb == Verb::Deploy);
                plan.insert_stages(before_flink_daemons(plan), stages);
            }
            Verb::Stop => {
                if let Some(s) = self.stop(
                    ctx,
                    UnitOp::Stop,
                    "flinkup stop: every service of the cluster",
                ) {
                    plan.stages.push(s);
                }
            }
            Verb::Destroy => {
                if let Some(s) = self.stop(ctx, UnitOp::Remove, "destroy removes the cluster") {
                    plan.insert_stages(before_removal(plan), vec![s]);
                }
            }
            Verb::Rollback | Verb::Smoke => {}
        }
        Ok(())
    }

    fn run_check<'a>(
        &'a self,
        step: &'a CheckStep,
        host: &'a HostId,
        fleet: &'a Fleet,
        _: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            match super::parse_check::<Check>(step)? {
                Check::ZookeeperQuorum {
                    servers,
                    timeout_secs,
                } => quorum(&servers, timeout_secs, host, fleet).await,
            }
        })
    }
}
