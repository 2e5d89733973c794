//! Flink's daemons: how they are started (start-cluster.sh or one by one) and stopped, which ones
//! are missing, and the verification that every TaskManager and slot registered.

use super::*;

/// Whether systemd runs `role` on the host now.
pub(super) fn unit_active(f: &HostFacts, role: Role) -> bool {
    f.flink().units.get(&role).is_some_and(|u| u.is_running())
}

/// Stops `roles` on a host: a daemon under a systemd unit (or on a host systemd supervises)
/// by `systemctl disable --now`, so it stays stopped after a reboot; the others with their
/// scripts (`stop-all`, or `stop` for one daemon), waiting for the pids in their pid files,
/// whichever release the daemons run from.
pub(super) fn stop_roles(
    c: &Cluster,
    h: &Host,
    f: &HostFacts,
    roles: &[Role],
    script_arg: &str,
    terminate: bool,
    reason: &str,
) -> Vec<Action> {
    let fl = f.flink();
    let systemd = super::super::supervise::systemd_on(h, f).0;
    let mut out: Vec<Action> = roles
        .iter()
        .filter(|r| fl.unit_files.contains_key(r) || systemd)
        .map(|r| Action::Unit {
            service: r.to_string(),
            unit: super::super::supervise::unit_name(c, *r),
            op: crate::plan::UnitOp::Stop,
            reason: reason.into(),
        })
        .collect();
    let scripted: Vec<Role> = roles
        .iter()
        .copied()
        .filter(|r| !unit_active(f, *r))
        .collect();
    if !scripted.is_empty() {
        let p = paths(c, f);
        out.push(Action::StopServices {
            services: scripted.iter().map(|r| r.to_string()).collect(),
            scripts: scripted
                .iter()
                .rev()
                .map(|r| vec![format!("{}/bin/{}", p.link, r.script()), script_arg.into()])
                .collect(),
            pid_files: scripted
                .iter()
                .map(|r| pid_file(c, f, r.pid_name()))
                .collect(),
            cmdline_has: Some("java".into()),
            terminate,
            grace_secs: 30,
            reason: reason.into(),
        });
    }
    out
}

/// Stops the daemons running on a host, by the pid files (independent of the workers file,
/// which may just have changed) and their units (a unit that is enabled is disabled even when
/// its daemon is down); empty when nothing runs there.
pub(super) fn stop_action(c: &Cluster, h: &Host, f: &HostFacts, reason: &str) -> Vec<Action> {
    let fl = f.flink();
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| fl.runs(*r) || fl.units.get(r).is_some_and(|u| u.enabled))
        .collect();
    if roles.is_empty() {
        return Vec::new();
    }
    stop_roles(c, h, f, &roles, "stop-all", false, reason)
}

/// A stage that stops every running Flink daemon.
pub(super) fn stop_stage(inp: &Inputs, reason: &str) -> Option<Stage> {
    let c = inp.cluster;
    let mut stage = Stage::new("stop", Some(NAME));
    for h in &c.hosts {
        let id = HostId::of(h);
        stage.extend_host(&id, stop_action(c, h, inp.facts.host(&id), reason));
    }
    (!stage.steps.is_empty()).then_some(stage)
}

/// Whether daemons start one by one (with their own scripts or units) rather than through
/// start-cluster.sh: `start: direct`, or a host whose daemons systemd supervises.
pub(super) fn per_host_start(inp: &Inputs) -> bool {
    let c = inp.cluster;
    c.start == StartMode::Direct
        || c.hosts
            .iter()
            .any(|h| super::super::supervise::systemd_on(h, inp.facts.host(&HostId::of(h))).0)
}

/// Starts `role` on a host (its unit where systemd supervises it), or, with no role, the
/// whole cluster through start-cluster.sh.
pub(super) fn start_action(
    c: &Cluster,
    h: &Host,
    f: &HostFacts,
    role: Option<Role>,
    reason: &str,
) -> Action {
    let p = paths(c, f);
    match role {
        Some(r) if super::super::supervise::systemd_on(h, f).0 => Action::Unit {
            service: r.to_string(),
            unit: super::super::supervise::unit_name(c, r),
            op: crate::plan::UnitOp::Start,
            reason: reason.into(),
        },
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

/// The ids of the TaskManagers the running JobManager lists on a host.
pub(super) fn registered_on(jf: &HostFacts, names: &[String]) -> Vec<String> {
    jf.flink()
        .registered
        .iter()
        .flatten()
        .filter(|r| crate::components::flink::rest::runs_on(&r.path, names))
        .map(|r| r.id.clone())
        .collect()
}

/// The daemons the inventory wants that are not running.
pub(super) fn missing(inp: &Inputs) -> Vec<(HostId, Role)> {
    inp.cluster
        .hosts
        .iter()
        .flat_map(|h| {
            let id = HostId::of(h);
            let f = inp.facts.host(&id).flink();
            roles(h)
                .into_iter()
                .filter(|r| !f.runs(*r))
                .map(move |r| (id.clone(), r))
        })
        .collect()
}

/// Start stages (everything, or only what is missing) and the verification.
pub(super) fn start_stages(inp: &Inputs, restart: bool) -> Vec<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let any_running = c
        .hosts
        .iter()
        .any(|h| !inp.facts.host(&HostId::of(h)).flink().running.is_empty());
    let missing = missing(inp);
    let mut stages = Vec::new();
    if restart || !any_running {
        if restart || !missing.is_empty() {
            let reason = if restart {
                "the configuration or release changed; Flink reads it only at start"
            } else {
                "not running"
            };
            match if per_host_start(inp) {
                StartMode::Direct
            } else {
                c.start
            } {
                StartMode::ClusterScript => {
                    let mut s = Stage::new("start", Some(NAME));
                    s.push(&jm, start_action(c, c.jobmanager(), jf, None, reason));
                    s.if_failed = "See the start-cluster.sh output above; run the same command again once fixed.".into();
                    stages.push(s);
                }
                StartMode::Direct => {
                    let several = c.several_jobmanagers();
                    let mut s = Stage::new(
                        if several {
                            "start jobmanagers"
                        } else {
                            "start jobmanager"
                        },
                        Some(NAME),
                    );
                    for h in c.jobmanagers() {
                        let id = HostId::of(h);
                        s.push(
                            &id,
                            start_action(c, h, inp.facts.host(&id), Some(Role::JobManager), reason),
                        );
                    }
                    stages.push(s);
                    let mut s = Stage::new("start taskmanagers", Some(NAME));
                    for h in c.taskmanagers() {
                        let id = HostId::of(h);
                        s.push(
                            &id,
                            start_action(
                                c,
                                h,
                                inp.facts.host(&id),
                                Some(Role::TaskManager),
                                reason,
                            ),
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
                let Some(h) = c.hosts.iter().find(|h| HostId::of(h) == *id) else {
                    continue;
                };
                s.push(
                    id,
                    start_action(c, h, inp.facts.host(id), Some(role), reason),
                );
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
pub(super) fn verify_stage(inp: &Inputs, missing: &[(HostId, Role)]) -> Stage {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let mut ignore = Vec::new();
    if jf.flink().runs(Role::JobManager) {
        let restarted = missing
            .iter()
            .filter(|(_, r)| *r == Role::TaskManager)
            .filter_map(|(id, _)| c.hosts.iter().find(|h| &HostId::of(h) == id));
        for h in restarted.chain(inp.facts.removed.iter()) {
            ignore.extend(registered_on(
                jf,
                &crate::components::flink::registrations::names(h, inp.facts.host(&HostId::of(h))),
            ));
        }
    }
    let mut verify = Stage::new("verify", Some(NAME));
    verify.push(&jm, cluster_check(inp, c.jobmanager(), ignore));
    verify
}

/// The check that `at`'s JobManager answers and lists every TaskManager and slot (a standby's
/// REST API answers for the leader).
pub(super) fn cluster_check(inp: &Inputs, at: &Host, ignore: Vec<String>) -> Action {
    let c = inp.cluster;
    crate::components::flink::check_action(Check::FlinkCluster(ClusterCheck {
        tls: crate::components::flink::tls::RestTls::of(c),
        jobmanager: at.name.clone(),
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
        leadership: c.several_jobmanagers().then(|| Leadership {
            jobmanagers: c.jobmanagers().map(HostId::of).collect(),
            pid_dir: crate::components::flink::probe::pid_dir(c),
            log_dir: crate::components::flink::log_dir(c),
        }),
    }))
}
