//! Upgrades and their way back: the previous release kept, the link switched back and the
//! cluster verified again when the new one fails; `flinkup rollback`; old releases pruned.

use super::*;

/// The release a host's link points at now, and its version ("flink-1.9.3" → "1.9.3").
pub(super) fn version_of(release: &str) -> String {
    release
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_prefix("flink-"))
        .unwrap_or(release)
        .to_string()
}

/// The release a link names, as a version ("/opt/flink-1.9.3" → 1.9.3).
pub(super) fn parse_version(release: &str) -> Option<Version> {
    version_of(release).parse().ok()
}

/// What an upgrade from `from` does to the cluster's configuration and its jobs' state, for
/// the plan: the files the new release reads under other names, each inventory setting
/// written under another key (the guide's keys as the new release reads them), and whether
/// running jobs' savepoints can be expected to restore on the new release.
pub(super) fn upgrade_notes(c: &Cluster, from: Version) -> Section {
    let to = c.version;
    let mut lines: Vec<String> = [
        (from.config_file(), to.config_file()),
        (from.workers_file(), to.workers_file()),
    ]
    .into_iter()
    .filter(|(old, new)| old != new)
    .map(|(old, new)| format!("conf/{old} → conf/{new}"))
    .collect();
    let renamed: Vec<String> = render::inventory_settings(c)
        .into_iter()
        .filter_map(|(key, value)| {
            let (old, new) = (render::written_as(from, &key), render::written_as(to, &key));
            (old != new).then(|| format!("{old}: {value} → {new}: {value}"))
        })
        .collect();
    if renamed.is_empty() {
        lines.push("every setting keeps its key".into());
    }
    lines.extend(renamed);
    lines.push(if from.major != to.major {
        format!(
            "job state: Flink does not guarantee that savepoints taken on {from} restore on {to} (a major release apart); `--savepoint DIR` still stops running jobs with one first: try the restore before relying on it, or start the jobs afresh"
        )
    } else {
        format!(
            "job state: Flink {to} restores savepoints of earlier {}.x releases (its compatibility table lists the exceptions); `--savepoint DIR` stops running jobs with one first",
            to.major
        )
    });
    Section {
        title: format!("Upgrade from Flink {from} to {to}"),
        lines,
    }
}

/// Stages that stop what runs, point every link back at the release it had, start and
/// verify: the way back from a failed upgrade (and `rollback`).
pub(super) fn back_to(
    inp: &Inputs,
    targets: &BTreeMap<HostId, String>,
    reason: &str,
) -> Vec<Stage> {
    let c = inp.cluster;
    let mut stages = Vec::new();
    let mut stop = Stage::new("stop", Some(NAME));
    let mut switch = Stage::new("switch back", Some(NAME));
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let Some(target) = targets.get(&id) else {
            continue;
        };
        let p = paths(c, f);
        let roles: Vec<Role> = roles(h);
        if !roles.is_empty() {
            stop.extend_host(&id, stop_roles(c, h, f, &roles, "stop-all", true, reason));
        }
        switch.push(
            &id,
            Action::Link {
                link: p.link.clone(),
                target: target.clone(),
                previous: Some(p.release.clone()),
            },
        );
    }
    stages.push(stop);
    stages.push(switch);
    // Started as from nothing: every daemon, with the verification that follows.
    let empty = Facts {
        hosts: inp
            .facts
            .hosts
            .iter()
            .map(|(k, v)| {
                let mut v = v.clone();
                v.flink_mut().running.clear();
                (k.clone(), v)
            })
            .collect(),
        ..inp.facts.clone()
    };
    let fresh = Inputs {
        cluster: c,
        facts: &empty,
        mode: inp.mode,
        artifact: ArtifactState::default(),
        warnings: Vec::new(),
        jars: Vec::new(),
        smoke: None,
        day2: inp.day2.clone(),
        record: None,
        jdk: inp.jdk,
    };
    stages.extend(start_stages(&fresh, false));
    stages
}

/// After an upgrade: if the new release fails from `from_stage` on, the previous one comes
/// back.
pub(super) fn switch_back(
    inp: &Inputs,
    from_stage: usize,
    until_stage: usize,
) -> Option<crate::plan::Rollback> {
    let c = inp.cluster;
    let targets: BTreeMap<HostId, String> = c
        .hosts
        .iter()
        .filter_map(|h| {
            let id = HostId::of(h);
            let cur = inp.facts.host(&id).flink().current_link.clone()?;
            Some((id, cur))
        })
        .collect();
    let any = targets.values().next()?.clone();
    Some(crate::plan::Rollback {
        from_stage,
        until_stage,
        restores: format!("Flink {}", version_of(&any)),
        stages: back_to(
            inp,
            &targets,
            "rolling back: the new release did not come up",
        ),
    })
}

/// Releases beyond `flink.keep_releases` (oldest first) are removed from every host.
pub(super) fn prune_stage(inp: &Inputs) -> Option<Stage> {
    let c = inp.cluster;
    let jf = inp.facts.host(&coordinator(c));
    let current = paths(c, jf).release;
    let mut known: Vec<String> = jf
        .flink()
        .record
        .as_ref()
        .map(|r| r.releases.clone())
        .unwrap_or_default();
    for h in &c.hosts {
        if let Some(l) = &inp.facts.host(&HostId::of(h)).flink().current_link {
            if !known.contains(l) {
                known.push(l.clone());
            }
        }
    }
    known.retain(|r| r != &current);
    known.push(current);
    let drop = known.len().saturating_sub(c.keep_releases);
    let old: Vec<String> = known.into_iter().take(drop).collect();
    if old.is_empty() {
        return None;
    }
    let mut s = Stage::new("prune", Some(NAME));
    s.if_failed = "The new release runs; old releases may be left behind.".into();
    for h in &c.hosts {
        let id = HostId::of(h);
        let present: Vec<String> = inp
            .facts
            .host(&id)
            .flink()
            .releases
            .iter()
            .filter(|r| old.contains(r))
            .cloned()
            .collect();
        if !present.is_empty() {
            s.push(
                &id,
                Action::Remove {
                    link: None,
                    trees: present,
                    state_dir: None,
                },
            );
        }
    }
    (!s.steps.is_empty()).then_some(s)
}

/// `rollback`: back to the release installed before the current one, on purpose.
pub fn rollback(inp: &Inputs) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "rollback");
    let jf = inp.facts.host(&coordinator(c));
    let current = jf.flink().current_link.clone();
    let previous = jf.flink().record.as_ref().and_then(|r| {
        r.releases
            .iter()
            .rev()
            .find(|x| Some(*x) != current.as_ref())
            .cloned()
    });
    let Some(previous) = previous else {
        plan.preflight.push(Finding::error(
            None,
            "no previous release is recorded to roll back to",
            "rollback returns to the release a deploy replaced; deploy another version first",
        ));
        return plan;
    };
    let mut targets = BTreeMap::new();
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        if f.gathered && !f.flink().releases.contains(&previous) {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!("{previous} is not on this host any more"),
                "deploy that version again instead",
            ));
        }
        targets.insert(id, previous.clone());
    }
    let stages = back_to(
        inp,
        &targets,
        &format!("rolling back to {}", version_of(&previous)),
    );
    let protect = protect_jobs(inp, &mut plan, "rollback restarts the cluster");
    plan.stages.extend(protect);
    plan.stages.extend(stages);
    plan
}
