//! Preflight computed from facts: what cannot work refuses before any change (a name that does
//! not resolve, a port held, no Java), what may surprise is a warning or a host note.

use super::*;

/// Findings that refuse any plan that starts Flink: a host whose own name does not resolve,
/// and (when the JobManager is not running) its ports held by another process.
pub(super) fn start_preflight(inp: &Inputs, plan: &mut Plan) {
    let c = inp.cluster;
    for h in &c.hosts {
        let id = HostId::of(h);
        let m = &inp.facts.host(&id).machine;
        if inp.facts.host(&id).gathered && !m.hostname_resolves {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!("its host name `{}` does not resolve on the host: Flink's TaskManager dies with UnknownHostException", m.hostname),
                "add the name to the host's /etc/hosts (or DNS) and run again",
            ));
        }
    }
    for h in c.jobmanagers() {
        let jm = HostId::of(h);
        let jf = inp.facts.host(&jm);
        if let Some(ha) = c.ha.as_ref().filter(|_| jf.gathered) {
            ha_preflight(c, ha, &jm, jf.flink(), plan);
        }
        if !jf.gathered || jf.flink().runs(Role::JobManager) {
            continue;
        }
        for (key, port) in [
            ("jobmanager.rpc.port", c.rpc_port),
            ("rest.port", c.rest_port),
        ] {
            if let Some(p) = jf.machine.ports.get(&port) {
                plan.preflight.push(Finding::error(
                    Some(&jm),
                    format!(
                        "{key} {port} is taken by {}; the JobManager could not start",
                        if p.holder.is_empty() {
                            "another process"
                        } else {
                            &p.holder
                        }
                    ),
                    "stop that process or choose another port in the inventory's config",
                ));
            }
        }
    }
}

/// The Java a host will run Flink with, as preflight findings: a java_home that is not there
/// (Flink's config.sh silently falls back to another Java) warns; no working Java at all on a
/// host that runs a daemon refuses, since nothing could start there.
pub(super) fn java_preflight(
    c: &Cluster,
    h: &Host,
    id: &HostId,
    f: &HostFacts,
    java: Option<&crate::components::java::Chosen>,
    plan: &mut Plan,
) {
    let fl = f.flink();
    if java.is_some_and(|j| j.runtime.is_some()) {
        // flinkup's runtime runs Flink here; the java component checks it fits.
        return;
    }
    let range = crate::components::flink::catalogue::release(c.version).map(|r| r.java_range());
    if let (Some(j), Some((min, max))) = (&fl.java, range) {
        if j.major < min || j.major > max {
            plan.preflight.push(Finding::error(
                Some(id),
                format!(
                    "Flink {} runs on Java {min} to {max}; {} here is Java {}",
                    c.version, j.path, j.major
                ),
                format!(
                    "install a JDK {min}–{max} there and point the host's java_home at it (or put it first on PATH)"
                ),
            ));
        }
    }
    if let Some(j) = &fl.java_home_missing {
        plan.preflight.push(Finding {
            severity: crate::plan::Severity::Warning,
            host: Some(id.clone()),
            message: format!(
                "java_home {j} is not a directory here; Flink falls back to {}",
                fl.java
                    .as_ref()
                    .map_or("the java on PATH".to_string(), |j| j.path.clone())
            ),
            help: Some("point java_home at a JDK directory on this host, or remove it to use the java on PATH".into()),
        });
    }
    if f.gathered && fl.java.is_none() {
        let message =
            "no working java here (java_home, JAVA_HOME, then PATH, as Flink's config.sh looks)";
        if roles(h).is_empty() {
            plan.preflight.push(Finding::warning(Some(id), message));
        } else {
            plan.preflight.push(Finding::error(
                Some(id),
                format!("{message}: Flink's daemons cannot start"),
                format!(
                    "install a JDK {} or later there, or point java_home at one",
                    range.map_or(8, |r| r.0)
                ),
            ));
        }
    }
}

pub(super) fn host_notes(
    c: &Cluster,
    f: &HostFacts,
    java: Option<&crate::components::java::Chosen>,
    extras: &HostExtras,
) -> Vec<String> {
    let mut notes = Vec::new();
    let major = java.and_then(|j| j.major).unwrap_or(0);
    if extras.launcher.is_some() {
        notes.push(format!(
            "Java {} with Flink {}: its scripts run Java through conf/{}/bin/java, which adds --add-exports/--add-opens so NetUtils can reach JDK internals (bin/flink included)",
            major,
            c.version,
            crate::components::flink::render::LAUNCHER
        ));
    } else if extras.jdk_opens {
        notes.push(format!(
            "Java {} with Flink {}: {} gets --add-exports/--add-opens so NetUtils can reach JDK internals",
            major,
            c.version,
            crate::components::flink::render::written_as(c.version, "env.java.opts")
        ));
    }
    if !f.gathered
        && c.version.needs_jdk_opens()
        && !crate::components::flink::render::sets(c, "env.java.opts")
    {
        notes.push(
            "Java version unknown offline: if this host runs Java 16 or later, deploy adds the --add-opens options Flink needs there to env.java.opts".into(),
        );
    }
    notes
}

/// What high availability needs before the JobManager starts, as its host sees it: a working
/// ZooKeeper quorum (a server missing warns, a lost majority refuses) and, for `file://`
/// storage, a directory it can write.
fn ha_preflight(
    c: &Cluster,
    ha: &crate::components::flink::ha::Ha,
    jm: &HostId,
    fl: &FlinkFacts,
    plan: &mut Plan,
) {
    // flinkup's own quorum is started and checked by its stages before the JobManager's.
    if let Some(e) =
        crate::components::flink::ha::Ensemble::of(&ha.quorum, &fl.zookeeper).filter(|_| !ha.own)
    {
        if !e.working() {
            plan.preflight.push(Finding::error(
                Some(jm),
                format!("seen from here, {}", e.summary()),
                "start the ensemble or correct ha.zookeeper_quorum, then run again: without a quorum the JobManager never becomes leader",
            ));
        } else if e.answering() < e.servers.len() {
            plan.preflight.push(Finding::warning(
                Some(jm),
                format!("seen from here, {}", e.summary()),
            ));
        }
    }
    // From 1.15 Flink's ZooKeeper client (Curator 5) works only with servers of 3.5 and later.
    if (c.version.major, c.version.minor) >= (1, 15) && !ha.own {
        let old: Vec<String> = fl
            .zookeeper_versions
            .iter()
            .filter(|(_, v)| v.starts_with("3.4") || v.starts_with("3.3"))
            .filter_map(|(i, v)| ha.quorum.get(*i).map(|(h, p)| format!("{h}:{p} runs {v}")))
            .collect();
        if !old.is_empty() {
            plan.preflight.push(Finding::error(
                Some(jm),
                format!(
                    "Flink {} talks only to ZooKeeper 3.5 and later: {}",
                    c.version,
                    old.join(", ")
                ),
                "upgrade the ensemble to ZooKeeper 3.5+, or let flinkup run one: ha.zookeeper: [hosts]",
            ));
        }
    }
    if let Some(dir) = &fl.ha_storage_unwritable {
        plan.preflight.push(Finding::error(
            Some(jm),
            format!(
                "ha.storage_dir {}: {dir} is not a directory this user can write, so the JobManager could not store job metadata",
                ha.storage_dir
            ),
            "create the directory and give the ssh user write access to it (on shared storage when several hosts need it)",
        ));
    }
}
