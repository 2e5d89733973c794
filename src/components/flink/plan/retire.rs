//! Scale-in: hosts the record knows and the inventory dropped are stopped and their files
//! removed; guarded moves of the JobManager and removal of every TaskManager.

use super::*;

/// Hosts flinkup recorded that the inventory dropped: their daemons stop (their
/// registrations are not counted by verification) and their files go, unless
/// `--keep-files`. Moving the JobManager or dropping every TaskManager needs `--force`. A
/// JobManager on a host the inventory keeps only as a TaskManager stops.
pub(super) fn retire(inp: &Inputs, plan: &mut Plan) -> Option<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let recorded = inp
        .facts
        .host(&jm)
        .flink()
        .record
        .as_ref()
        .map_or(&[][..], |r| &r.hosts[..]);
    let force = inp.day2.force;
    for r in recorded.iter().filter(|r| r.runs(Role::JobManager)) {
        if !c.jobmanagers().any(|h| h.name == r.name) && !force {
            plan.preflight.push(Finding::error(
                Some(&HostId(r.name.clone())),
                format!(
                    "the JobManager would move from {} to {}: every job and TaskManager registration is lost",
                    r.name,
                    c.jobmanager().name
                ),
                "run again with --force if that is meant (destroy first for a clean move)",
            ));
        }
    }
    let recorded_tms: Vec<&str> = recorded
        .iter()
        .filter(|r| r.runs(Role::TaskManager))
        .map(|r| r.name.as_str())
        .collect();
    if !recorded_tms.is_empty()
        && recorded_tms
            .iter()
            .all(|n| !c.taskmanagers().any(|h| h.name == *n))
        && !force
    {
        plan.preflight.push(Finding::error(
            None,
            format!(
                "every recorded TaskManager host ({}) would be removed: running jobs lose all their slots at once",
                recorded_tms.join(", ")
            ),
            "keep at least one of them in this step, or run again with --force",
        ));
    }
    for (id, why) in &inp.facts.removed_unreachable {
        if force {
            plan.warnings.push(format!(
                "{id} left the inventory and cannot be reached ({why}): it is forgotten; stop its daemons by hand"
            ));
        } else {
            plan.preflight.push(Finding::error(
                Some(id),
                format!("left the inventory but cannot be reached to stop its daemons: {why}"),
                "make it reachable, or run again with --force to forget it",
            ));
        }
    }
    let mut stage = Stage::new("retire", Some(NAME));
    stage.if_failed = "The hosts that stay were not touched; run the same command again.".into();
    for h in &inp.facts.removed {
        let id = HostId::of(h);
        if inp.facts.removed_unreachable.iter().any(|(u, _)| *u == id) {
            continue;
        }
        let f = inp.facts.host(&id);
        stage.extend_host(&id, stop_action(c, h, f, "the host left the inventory"));
        if !inp.day2.keep_files {
            let p = paths(c, f);
            stage.push(
                &id,
                crate::plan::remove_installation(
                    &p.link,
                    &p.release,
                    f.flink().current_link.as_ref(),
                    &p.state,
                ),
            );
        }
    }
    // A host that stays but is no longer one of the JobManagers (two JobManagers back to
    // one): its JobManager stops; with HA a leader's jobs move to the one that stays.
    for h in c.hosts.iter().filter(|h| !h.jobmanager) {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        if f.flink().runs(Role::JobManager) {
            stage.extend_host(
                &id,
                stop_roles(
                    c,
                    h,
                    f,
                    &[Role::JobManager],
                    "stop",
                    false,
                    "no longer one of the inventory's JobManagers",
                ),
            );
        }
    }
    (!stage.steps.is_empty()).then_some(stage)
}
