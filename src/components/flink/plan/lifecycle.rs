//! The lifecycle verbs: start what is installed and not running, stop everything, destroy
//! what flinkup installed.

use super::*;

/// `start`: start what is installed and not running, then verify.
pub fn start(inp: &Inputs) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "start");
    if !c.manages_flink() {
        return plan;
    }
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        if f.gathered && f.flink().current_link.is_none() {
            plan.preflight.push(Finding::error(
                Some(&id),
                "has no installed release",
                "run `flinkup deploy` first",
            ));
        }
    }
    start_preflight(inp, &mut plan);
    if let Some(t) = trust_stage(inp, &mut plan) {
        plan.stages.push(t);
    }
    plan.stages.extend(start_stages(inp, false));
    plan
}

/// `stop`: stop every running Flink daemon; no Flink JVM is left.
pub fn stop(inp: &Inputs) -> Plan {
    let mut plan = skeleton(inp, "stop");
    let protect = protect_jobs(inp, &mut plan, "stop stops the cluster");
    plan.stages.extend(protect);
    plan.stages
        .extend(stop_stage(inp, "flinkup stop: every daemon of the cluster"));
    plan
}

/// `destroy`: stop, then remove what flinkup installed and nothing else.
pub fn destroy(inp: &Inputs) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "destroy");
    let protect = protect_jobs(inp, &mut plan, "destroy stops and removes the cluster");
    plan.stages.extend(protect);
    plan.stages
        .extend(stop_stage(inp, "destroy removes the installation"));
    let mut remove = Stage::new("remove", Some(NAME));
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let p = paths(c, f);
        for r in f.flink().unit_files.keys() {
            remove.push(
                &id,
                Action::Unit {
                    service: r.to_string(),
                    unit: crate::components::flink::supervise::unit_name(c, *r),
                    op: crate::plan::UnitOp::Remove,
                    reason: "destroy removes the installation".into(),
                },
            );
        }
        let mut trees = vec![p.release.clone()];
        // Every release flinkup installed: the record's, and the one the link points at.
        let recorded = inp
            .facts
            .host(&coordinator(c))
            .flink()
            .record
            .as_ref()
            .map(|r| r.releases.clone())
            .unwrap_or_default();
        let install = resolve(&c.install_dir, f.machine.home.as_deref());
        for r in f.flink().current_link.iter().chain(recorded.iter()) {
            if !trees.contains(r) && r.starts_with(&format!("{install}/flink-")) {
                trees.push(r.clone());
            }
        }
        if !f.flink().tls_files.is_empty() {
            // The keystores and keys flinkup put there (`tls:`).
            trees.push(resolve(
                &crate::components::flink::tls::host_dir(c),
                f.machine.home.as_deref(),
            ));
        }
        remove.push(
            &id,
            Action::Remove {
                link: Some(p.link.clone()),
                trees,
                state_dir: Some(p.state.clone()),
            },
        );
        // No trust left behind: the keys and host keys flinkup added for the cluster.
        let (authorized, known) = f.machine.trust_lines;
        if authorized + known > 0 {
            remove.push(
                &id,
                Action::Untrust {
                    marker: crate::plan::trust_marker(&c.name),
                    authorized,
                    known,
                },
            );
        }
    }
    let jm = coordinator(c);
    if inp.facts.host(&jm).machine.ssh_block.is_some() {
        let (begin, end) = ssh_markers(c);
        remove.push(
            &jm,
            Action::SshConfig {
                begin,
                end,
                block: None,
            },
        );
    }
    plan.stages.push(remove);
    plan
}
