//! Restart what changed: which daemons a configuration change concerns, the JobManager on its
//! own and the TaskManagers in verified batches, and running jobs protected by a savepoint.

use super::*;

/// The keys set in a flink-conf.yaml, by key.
pub(super) fn conf_keys(text: &str) -> BTreeMap<&str, &str> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

/// Which daemons a changed key concerns: (JobManager, TaskManager). With `ha`, a TaskManager
/// finds the leader through ZooKeeper: `jobmanager.rpc.address` (a JobManager added or gone)
/// is the JobManagers' own business.
pub fn key_affects(key: &str, ha: bool) -> (bool, bool) {
    let jm_only = [
        "rest.",
        "web.",
        "resourcemanager.",
        "slotmanager.",
        "jobstore.",
        "blob.server.",
    ];
    if key.starts_with("taskmanager.") {
        (false, true)
    } else if (ha && key == "jobmanager.rpc.address")
        || (key.starts_with("jobmanager.") && !key.starts_with("jobmanager.rpc."))
        || jm_only.iter().any(|p| key.starts_with(p))
    {
        (true, false)
    } else {
        (true, true)
    }
}

/// Why the JobManager and why the TaskManagers must restart for a flink-conf.yaml change.
pub(super) fn conf_effects(old: &str, new: &str, ha: bool) -> (Vec<String>, Vec<String>) {
    let (a, b) = (conf_keys(old), conf_keys(new));
    let mut changed: Vec<&str> = a
        .iter()
        .filter(|(k, v)| b.get(*k) != Some(v))
        .map(|(k, _)| *k)
        .chain(b.keys().filter(|k| !a.contains_key(*k)).copied())
        .collect();
    changed.sort_unstable();
    changed.dedup();
    let (mut jm, mut tm) = (Vec::new(), Vec::new());
    for k in changed {
        let (j, t) = key_affects(k, ha);
        if j {
            jm.push(format!("{k} changed"));
        }
        if t {
            tm.push(format!("{k} changed"));
        }
    }
    (jm, tm)
}

/// Running jobs on a cluster whose JobManager (or every TaskManager) a plan stops: a stage
/// that stops each with a savepoint first (`--savepoint DIR`), or a refusal in preflight
/// naming them, unless `--force`. `what` says what the plan does to them.
pub fn protect_jobs(inp: &Inputs, plan: &mut Plan, what: &str) -> Option<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let jobs = jf.flink().running_jobs.clone().unwrap_or_default();
    if jobs.is_empty() {
        return None;
    }
    match &inp.day2.savepoint {
        Some(dir) => {
            let mut s = Stage::new("savepoint", Some(NAME));
            s.if_failed = "Nothing was stopped; the jobs keep running.".into();
            let p = paths(c, jf);
            s.push(
                &jm,
                crate::components::flink::check_action(Check::FlinkSavepoint(
                    crate::components::flink::jobs::Savepoint {
                        flink: format!("{}/bin/flink", p.link),
                        jobs,
                        dir: dir.clone(),
                        jvm_args: jvm_args(c, jf),
                        target: rest_target(c),
                        running_conf: running_conf(c, jf),
                    },
                )),
            );
            Some(s)
        }
        None if !inp.day2.force => {
            plan.preflight.push(Finding::error(
                Some(&jm),
                format!(
                    "{} running job{} ({}) would be lost: {what}",
                    jobs.len(),
                    if jobs.len() == 1 { "" } else { "s" },
                    jobs.iter()
                        .map(|j| format!("{} `{}`", j.0, j.1))
                        .collect::<Vec<_>>()
                        .join(", "),
                ),
                "stop them with a savepoint first: `--savepoint DIR` (a directory every Flink host can write, e.g. on shared storage), or `--force` to go ahead anyway",
            ));
            None
        }
        None => None,
    }
}

/// The JobManager host's configuration as the running cluster read it, when the plan turns
/// TLS on or off (the savepoint's client must speak as the running REST API does).
fn running_conf(c: &Cluster, jf: &HostFacts) -> Option<(String, String)> {
    let file = c.version.config_file();
    let text = jf.flink().conf.get(file)?;
    let key = crate::components::flink::render::written_as(c.version, "security.ssl.rest.enabled");
    let running_tls = conf_keys(text).get(key.as_str()) == Some(&"true");
    (running_tls != c.tls.is_some()).then(|| (file.to_string(), text.clone()))
}

/// Restarts only the daemons whose effective configuration changed: the JobManager on its
/// own, the TaskManagers `--batch` hosts at a time, each batch verified before the next.
/// Refused while jobs run, unless they are savepointed first or `--force` is given.
pub(super) fn restart_stages(
    inp: &Inputs,
    effects: &BTreeMap<HostId, (Vec<String>, Vec<String>)>,
    plan: &mut Plan,
) -> Vec<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let mut stages = Vec::new();
    let reason = |why: &[String]| {
        format!(
            "{}; Flink reads its configuration only at start",
            why.join(", ")
        )
    };
    // The JobManagers whose configuration changed: standbys first, the leader last, so one
    // failover at most moves the jobs (high availability recovers them; without it the one
    // JobManager's restart loses them unless they are savepointed).
    let mut jm_hosts: Vec<(&Host, Vec<String>)> = c
        .jobmanagers()
        .filter_map(|h| {
            let id = HostId::of(h);
            let f = inp.facts.host(&id).flink();
            effects
                .get(&id)
                .map(|e| e.0.clone())
                .filter(|w| !w.is_empty() && f.runs(Role::JobManager))
                .map(|w| (h, w))
        })
        .collect();
    jm_hosts.sort_by_key(|(h, _)| inp.facts.host(&HostId::of(h)).flink().leads == Some(true));
    let tm_hosts: Vec<(&Host, Vec<String>)> = c
        .taskmanagers()
        .filter_map(|h| {
            let id = HostId::of(h);
            let f = inp.facts.host(&id);
            effects
                .get(&id)
                .map(|e| e.1.clone())
                .filter(|w| !w.is_empty() && f.flink().runs(Role::TaskManager))
                .map(|w| (h, w))
        })
        .collect();
    let every_tm = !tm_hosts.is_empty()
        && c.taskmanagers()
            .all(|h| tm_hosts.iter().any(|(x, _)| x.name == h.name));
    // Jobs outlive a JobManager's restart when it runs with ZooKeeper HA already (its
    // configuration as the host has it now) and keeps it.
    let jm_loses_jobs = !jm_hosts.is_empty()
        && (c.ha.is_none()
            || jm_hosts.iter().any(|(h, _)| {
                let f = inp.facts.host(&HostId::of(h)).flink();
                let ha_key =
                    crate::components::flink::render::written_as(c.version, "high-availability");
                f.conf
                    .get(c.version.config_file())
                    .is_none_or(|t| conf_keys(t).get(ha_key.as_str()) != Some(&"zookeeper"))
            }));
    if jm_loses_jobs || every_tm {
        let what = if jm_loses_jobs {
            "this plan restarts the JobManager"
        } else {
            "this plan restarts every TaskManager"
        };
        stages.extend(protect_jobs(inp, plan, what));
    }
    let several = c.several_jobmanagers();
    if !jm_hosts.is_empty() {
        let mut s = Stage::new(
            if several {
                "restart jobmanagers"
            } else {
                "restart jobmanager"
            },
            Some(NAME),
        );
        if several {
            s.batch = crate::plan::Batch::Rolling(1);
        }
        s.if_failed = "See the JobManager's log; run the same command again once fixed.".into();
        for (h, why) in jm_hosts {
            let id = HostId::of(h);
            let f = inp.facts.host(&id);
            s.extend_host(
                &id,
                stop_roles(c, h, f, &[Role::JobManager], "stop", false, &reason(&why)),
            );
            s.push(
                &id,
                start_action(c, h, f, Some(Role::JobManager), &reason(&why)),
            );
            if several {
                // Back (as a standby, answering for the leader) before the next one stops.
                s.push(&id, cluster_check(inp, h, Vec::new()));
            }
        }
        stages.push(s);
    }
    if !tm_hosts.is_empty() {
        let mut s = Stage::new("restart taskmanagers", Some(NAME));
        s.batch = crate::plan::Batch::Rolling(inp.day2.batch.max(1));
        s.if_failed = "The TaskManagers of earlier batches run the new configuration; the others keep the old one. Fix the cause and run the same command again.".into();
        for (h, why) in tm_hosts {
            let id = HostId::of(h);
            let f = inp.facts.host(&id);
            let old = registered_on(jf, &crate::components::flink::registrations::names(h, f));
            s.extend_host(
                &id,
                stop_roles(c, h, f, &[Role::TaskManager], "stop", false, &reason(&why)),
            );
            s.extend_host(
                &id,
                [
                    start_action(c, h, f, Some(Role::TaskManager), &reason(&why)),
                    crate::components::flink::check_action(Check::FlinkTaskManagerBack(
                        crate::components::flink::rest::TaskManagerBack {
                            jobmanager_host: jm.clone(),
                            jobmanager: c.jobmanager().name.clone(),
                            rest_port: c.rest_port,
                            name: h.name.clone(),
                            address: h.address.clone(),
                            ips: f.machine.addresses.clone(),
                            old,
                            timeout_secs: c.verify_timeout.as_secs(),
                            tls: crate::components::flink::tls::RestTls::of(c),
                        },
                    )),
                ],
            );
        }
        stages.push(s);
    }
    stages
}
