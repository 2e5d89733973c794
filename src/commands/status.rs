//! `flinkup status`: per host reachable, release, daemons and Fornaxee; the cluster's REST
//! figures; every job's health (state, uptime, restarts, backpressure per vertex, checkpoints
//! and their start delay) with the guide's advice. Exit 0 healthy, 1 degraded.

use std::fmt::Write;
use std::time::Duration;

use serde::Serialize;

use super::gather;
use crate::cli::RemoteArgs;
use crate::components::flink::jobs::{self, JobHealth};
use crate::components::flink::registrations::{self, Expected, Heartbeat, Judged};
use crate::components::flink::rest::Rest;
use crate::components::flink::FlinkFactsOf;
use crate::components::flink::Role;
use crate::components::fornaxee::FornaxeeFactsOf;
use crate::error::{exit, Result};
use crate::fleet::{Fleet, HostId};
use crate::inventory::{units, Cluster, Loaded};
use crate::remote::qp;

#[derive(Serialize)]
struct HostStatus {
    host: String,
    reachable: bool,
    release: Option<String>,
    daemons: Vec<String>,
    java: Option<String>,
    /// With `ha:`, on a host running a JobManager: whether it leads (false: it stands by).
    #[serde(skip_serializing_if = "Option::is_none")]
    leads: Option<bool>,
    /// On Fornaxee hosts: its release and whether it runs.
    fornaxee: Option<FornaxeeStatus>,
    /// The daemons' systemd units, where they have one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    units: Vec<UnitStatus>,
    error: Option<String>,
}

#[derive(Serialize)]
struct UnitStatus {
    daemon: String,
    unit: String,
    state: String,
    /// How many times systemd restarted the daemon.
    restarts: u32,
    enabled: bool,
    /// The end of its journal, when the unit is not active.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    journal: Vec<String>,
}

#[derive(Serialize)]
struct FornaxeeStatus {
    release: Option<String>,
    pid: Option<u32>,
    /// Whether its health path answered 200 (None: not asked, it does not run).
    healthy: Option<bool>,
    /// What the health path answered, and where it was asked.
    health: Option<String>,
}

#[derive(Serialize)]
struct ClusterStatus {
    cluster: String,
    healthy: bool,
    hosts: Vec<HostStatus>,
    taskmanagers: Option<u64>,
    slots_total: Option<u64>,
    slots_available: Option<u64>,
    rest_error: Option<String>,
    /// With several JobManagers: the host whose REST API answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    rest_from: Option<String>,
    /// Each TaskManager registration the JobManager lists, judged live or stale.
    registrations: Option<Judged>,
    jobs: Vec<JobHealth>,
    /// The ZooKeeper ensemble as the JobManager host sees it (with `ha:`).
    zookeeper: Option<crate::components::flink::ha::Ensemble>,
    /// Why the cluster counts as degraded, with what to do.
    problems: Vec<String>,
    /// `tls:`: the certificates' expiry and the hosts whose TLS files differ from this
    /// machine's.
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<TlsStatus>,
    /// What does not degrade the cluster yet but needs doing (a certificate about to expire).
    warnings: Vec<String>,
}

#[derive(Serialize)]
struct TlsStatus {
    client_auth: bool,
    certificate: String,
    ca: String,
    /// Hosts whose keystore is not the one flinkup keeps for the cluster.
    outdated: Vec<String>,
}

pub async fn status(
    loaded: &Loaded,
    remote: &RemoteArgs,
    json: bool,
    watch: Option<u64>,
) -> Result<i32> {
    let c = &loaded.cluster;
    let Some(every) = watch else {
        let st = read(c, remote).await;
        print(c, &st, json, false);
        crate::report::result_summary(if st.healthy { "healthy" } else { "degraded" });
        return Ok(code(&st));
    };
    let tty = crate::report::stdout_is_terminal();
    loop {
        let st = read(c, remote).await;
        print(c, &st, json, tty);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(every.max(1))) => {}
            _ = tokio::signal::ctrl_c() => return Ok(code(&st)),
        }
    }
}

fn code(st: &ClusterStatus) -> i32 {
    if st.healthy {
        exit::OK
    } else {
        exit::FAILED
    }
}

fn print(c: &Cluster, st: &ClusterStatus, json: bool, refresh: bool) {
    if json {
        let mut v = serde_json::Map::new();
        v.insert("event".into(), "status".into());
        if let Ok(serde_json::Value::Object(m)) = serde_json::to_value(st) {
            v.extend(m);
        }
        crate::report::json_line(&serde_json::Value::Object(v));
        return;
    }
    let text = text(c, st);
    if refresh {
        crate::report::stdout_refresh(&text);
    } else {
        crate::report::stdout(&text);
    }
}

/// Reads everything once; unreachable hosts and a silent REST API are findings.
async fn read(c: &Cluster, remote: &RemoteArgs) -> ClusterStatus {
    let all = crate::compose::all_hosts(c);
    let (fleet, failures) =
        Fleet::connect_lenient(&all, &super::connect_options(remote), remote.concurrency).await;
    let facts = gather(c, &fleet, None, &Default::default())
        .await
        .unwrap_or_default();
    let hosts = c
        .hosts
        .iter()
        .map(|h| {
            let id = HostId::of(h);
            let failure = failures.iter().find(|f| f.host == id);
            let f = facts.host(&id).flink();
            HostStatus {
                host: h.name.clone(),
                reachable: failure.is_none(),
                release: f.current_link.clone(),
                daemons: f.running.keys().map(|r| r.to_string()).collect(),
                java: f.java.as_ref().map(|j| j.version.clone()),
                leads: f
                    .leads
                    .filter(|_| c.ha.is_some() && f.runs(Role::JobManager)),
                fornaxee: h.fornaxee.then(|| {
                    let x = facts.host(&id).fornaxee();
                    FornaxeeStatus {
                        release: x.current_link.clone(),
                        pid: x.running,
                        healthy: None,
                        health: None,
                    }
                }),
                units: f
                    .units
                    .iter()
                    .map(|(r, u)| UnitStatus {
                        daemon: r.to_string(),
                        unit: crate::components::flink::supervise::unit_name(c, *r),
                        state: u.active.clone(),
                        restarts: u.restarts,
                        enabled: u.enabled,
                        journal: Vec::new(),
                    })
                    .collect(),
                error: failure.map(|f| f.error.to_string()),
            }
        })
        .collect();
    let mut hosts: Vec<HostStatus> = hosts;
    unit_journals(c, &fleet, &mut hosts).await;
    fornaxee_health(c, &facts, &fleet, &mut hosts).await;
    let jm = c.jobmanager();
    let mut st = ClusterStatus {
        cluster: c.name.clone(),
        healthy: false,
        hosts,
        taskmanagers: None,
        slots_total: None,
        slots_available: None,
        rest_error: None,
        rest_from: None,
        registrations: None,
        jobs: Vec::new(),
        zookeeper: c.ha.as_ref().and_then(|ha| {
            crate::components::flink::ha::Ensemble::of(
                &ha.quorum,
                &facts.host(&HostId::of(jm)).flink().zookeeper,
            )
        }),
        problems: Vec::new(),
        tls: None,
        warnings: Vec::new(),
    };
    if let Some((t, m)) = c.tls.as_ref().zip(c.tls_material()) {
        use crate::components::flink::tls;
        let (cert, soon) = tls::expiry(m.not_after());
        let (ca, ca_soon) = tls::expiry(m.ca_not_after());
        if soon {
            st.warnings.push(format!(
                "the cluster's TLS certificate is {cert}: renew it with `flinkup tls rotate -i {}`",
                c.source.display()
            ));
        }
        if ca_soon {
            st.warnings.push(format!(
                "the cluster's CA is {ca}: a new CA means `flinkup destroy` and a new deploy"
            ));
        }
        let want = m.fingerprint(tls::KEYSTORE);
        st.tls = Some(TlsStatus {
            client_auth: t.client_auth,
            certificate: cert,
            ca,
            outdated: c
                .hosts
                .iter()
                .filter(|h| {
                    !failures.iter().any(|f| f.host == HostId::of(h))
                        && facts
                            .host(&HostId::of(h))
                            .flink()
                            .tls_files
                            .get(tls::KEYSTORE)
                            != want.as_ref()
                })
                .map(|h| h.name.clone())
                .collect(),
        });
    }
    // What each TaskManager host runs, where it could be asked.
    let expected: Vec<Expected> = c
        .taskmanagers()
        .map(|h| {
            let id = HostId::of(h);
            let reached = !failures.iter().any(|f| f.host == id);
            Expected {
                name: h.name.clone(),
                names: registrations::names(h, facts.host(&id)),
                running: reached.then(|| facts.host(&id).flink().runs(Role::TaskManager)),
            }
        })
        .collect();
    // Any JobManager that answers: the leader first, then the others that run (a standby's
    // REST API answers for the leader), never another Flink in their place.
    let mut asked: Vec<&crate::inventory::Host> = c.jobmanagers().collect();
    asked.sort_by_key(|h| {
        let f = facts.host(&HostId::of(h)).flink();
        (f.leads != Some(true), !f.runs(Role::JobManager))
    });
    if asked.is_empty() {
        asked.push(jm);
    }
    let mut errors = Vec::new();
    for h in asked {
        let Ok(jm_remote) = fleet.get(&HostId::of(h)) else {
            errors.push(format!(
                "the JobManager host {} is unreachable, so its REST API was not asked",
                h.name
            ));
            continue;
        };
        let rest = match c.external() {
            Some(e) => Rest::at(&e.rest, &h.name, jm_remote),
            None => Rest::new(&h.name, c.rest_port, &h.name, jm_remote)
                .with_tls(crate::components::flink::tls::RestTls::of(c).as_ref()),
        };
        let o = match rest.overview().await {
            Ok(o) => o,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        if c.several_jobmanagers() {
            st.rest_from = Some(h.name.clone());
        }
        st.taskmanagers = Some(o.taskmanagers);
        st.slots_total = Some(o.slots_total);
        st.slots_available = Some(o.slots_available);
        // Read once: its heartbeat and backpressure sampling settings.
        let config = rest.json("/jobmanager/config").await.unwrap_or_default();
        // The registrations and the jobs' health (backpressure sampling takes seconds) at once.
        let registered = async {
            if !c.manages_flink() {
                return None;
            }
            let all = rest.taskmanagers().await.ok()?;
            let hb = Heartbeat::from_config(&config);
            let answering = answering(&all, &expected, jm_remote, &h.name).await;
            Some(registrations::judge(&all, &expected, &hb, &answering))
        };
        let (registered, health) =
            tokio::join!(registered, jobs::health(&rest, &config, c.version));
        st.registrations = registered;
        match health {
            Ok(j) => st.jobs = j,
            Err(e) => st.problems.push(format!("cannot read the jobs: {e}")),
        }
        errors.clear();
        break;
    }
    if !errors.is_empty() {
        st.rest_error = Some(errors.join("; "));
    }
    if c.manages_flink() {
        st.problems.extend(buffer_advice(c, &fleet).await);
    }
    fleet.close().await;
    judge(c, &mut st);
    st
}

/// The registrations from hosts the inventory does not list whose data port still answers,
/// asked from the JobManager host (which the TaskManagers reach).
async fn answering(
    all: &[crate::components::flink::rest::TaskManager],
    expected: &[Expected],
    jm: &crate::remote::Remote,
    jm_name: &str,
) -> Vec<String> {
    let unknown: Vec<(String, (String, u16))> = all
        .iter()
        .filter(|t| !expected.iter().any(|e| t.runs_on(&e.names)))
        .map(|t| (t.id.clone(), registrations::data_endpoint(t)))
        .filter(|(_, (_, port))| *port > 0)
        .collect();
    if unknown.is_empty() {
        return Vec::new();
    }
    let mut script = format!("set +e\n{}\n", crate::remote::shell::PORT_OPEN_FN);
    for (id, (host, port)) in &unknown {
        script.push_str(&format!(
            "port_open 2 {} {port} && echo {}\n",
            crate::remote::q(host),
            crate::remote::q(id)
        ));
    }
    match jm.sh(jm_name, &script).await {
        Ok(out) => out.stdout.lines().map(str::to_string).collect(),
        // Not asked: count them as answering, so a live stranger is never called stale.
        Err(_) => unknown.into_iter().map(|(id, _)| id).collect(),
    }
}

/// The last lines of the journal of every unit that is enabled and not active (failed, or
/// waiting to be restarted), read on its host.
async fn unit_journals(c: &Cluster, fleet: &Fleet, hosts: &mut [HostStatus]) {
    let asks = hosts.iter().enumerate().flat_map(|(i, h)| {
        h.units
            .iter()
            .enumerate()
            .filter(|(_, u)| u.enabled && u.state != "active")
            .map(move |(j, u)| (i, j, h.host.clone(), u.unit.clone()))
    });
    let reads = asks.map(|(i, j, host, unit)| async move {
        let id = c
            .hosts
            .iter()
            .find(|h| h.name == host)
            .map(HostId::of)
            .unwrap_or_else(|| HostId(host.clone()));
        let lines = match fleet.get(&id) {
            Ok(r) => r
                .sh(
                    id.as_str(),
                    &format!(
                        "{}$S journalctl -u {} -n 8 --no-pager -o cat 2>&1",
                        crate::components::flink::supervise::PRIVILEGE,
                        crate::remote::q(&unit)
                    ),
                )
                .await
                .map(|o| o.stdout.lines().map(str::to_string).collect())
                .unwrap_or_default(),
            Err(_) => Vec::new(),
        };
        (i, j, lines)
    });
    for (i, j, lines) in futures_util::future::join_all(reads).await {
        hosts[i].units[j].journal = lines;
    }
}

/// Asks each running Fornaxee's health path, as deploy's verification does (from here, or on
/// the host when this machine does not reach the port).
async fn fornaxee_health(
    c: &Cluster,
    facts: &crate::facts::Facts,
    fleet: &Fleet,
    hosts: &mut [HostStatus],
) {
    let Some(inp) = crate::components::fornaxee::inputs(c, facts, None) else {
        return;
    };
    let checks = crate::components::fornaxee::plan::health_checks(&inp);
    let ids: Vec<HostId> = checks
        .iter()
        .filter(|(id, _)| facts.host(id).fornaxee().running.is_some())
        .map(|(id, _)| id.clone())
        .collect();
    let answers = fleet
        .for_each(&ids, |id, remote| {
            let check = checks
                .iter()
                .find(|(h, _)| *h == id)
                .map(|(_, c)| c.clone());
            async move {
                let Some(check) = check else {
                    return Ok((false, String::new()));
                };
                let mut prober = crate::components::fornaxee::health::Prober::default();
                let r = prober.status(&check, &id, remote).await;
                let on = if prober.asked_on_host() {
                    format!(" (asked on {id})")
                } else {
                    String::new()
                };
                Ok(match r {
                    Ok(200) => (true, format!("{} answers 200{on}", check.url())),
                    Ok(code) => (false, format!("{} answers HTTP {code}{on}", check.url())),
                    Err(e) => (false, format!("{}: {e}", check.url())),
                })
            }
        })
        .await;
    for (id, r) in answers {
        let r: crate::error::Result<(bool, String)> = r;
        if let (Ok((ok, text)), Some(h)) = (r, hosts.iter_mut().find(|h| h.host == id.as_str())) {
            if let Some(x) = h.fornaxee.as_mut() {
                x.healthy = Some(ok);
                x.health = Some(text);
            }
        }
    }
}

/// The guide's network buffer formula, when a TaskManager log says buffers ran out.
async fn buffer_advice(c: &Cluster, fleet: &Fleet) -> Vec<String> {
    let ids: Vec<HostId> = c.taskmanagers().map(HostId::of).collect();
    let logs = qp(&format!("{}/log", c.current_link()));
    let found = fleet
        .for_each(&ids, |id, remote| {
            let script = format!(
                "grep -l 'Insufficient number of network buffers' {logs}/flink-*-taskexecutor-*.log 2>/dev/null | head -n1"
            );
            async move { remote.sh(id.as_str(), &script).await }
        })
        .await;
    let hit: Vec<String> = found
        .into_iter()
        .filter(|(_, r)| r.as_ref().is_ok_and(|o| !o.stdout.trim().is_empty()))
        .map(|(id, _)| id.to_string())
        .collect();
    if hit.is_empty() {
        return Vec::new();
    }
    let tms = c.taskmanager_count() as u64;
    let slots = u64::from(c.slots);
    let need = slots * slots * tms * 4;
    vec![format!(
        "\"Insufficient number of network buffers\" in the TaskManager log on {}: this cluster needs slots² × TaskManagers × 4 = {slots}² × {tms} × 4 = {need} buffers ({} at 32 KiB) per TaskManager; raise taskmanager.network.memory.fraction, taskmanager.network.memory.min and taskmanager.network.memory.max",
        hit.join(", "),
        units::human(need * 32 * 1024)
    )]
}

/// Exit 0 only when every host answers, every TaskManager and slot is registered, Fornaxee
/// runs where it should, and no job is degraded.
fn judge(c: &Cluster, st: &mut ClusterStatus) {
    let mut p = Vec::new();
    let inv = c.source.display();
    let reached: Vec<&HostStatus> = st.hosts.iter().filter(|h| h.reachable).collect();
    if !reached.is_empty() && reached.len() == st.hosts.len() {
        if reached.iter().all(|h| h.release.is_none()) {
            st.healthy = false;
            st.rest_error = None;
            st.problems = vec![format!(
                "not deployed: no host has a release; run `flinkup deploy -i {inv}`"
            )];
            return;
        }
        if c.manages_flink() && reached.iter().all(|h| h.daemons.is_empty()) {
            st.healthy = false;
            st.rest_error = None;
            st.problems = vec![format!(
                "stopped: no Flink daemon runs; run `flinkup start -i {inv}`"
            )];
            return;
        }
    }
    for h in &st.hosts {
        if !h.reachable {
            p.push(format!("{} is unreachable", h.host));
        }
        let jobmanager = c.jobmanagers().any(|j| j.name == h.host);
        if jobmanager
            && h.reachable
            && c.several_jobmanagers()
            && !h.daemons.iter().any(|d| d == "jobmanager")
        {
            p.push(format!(
                "no JobManager runs on {}: one standby fewer to take over; run `flinkup deploy -i {inv}` to start it again",
                h.host
            ));
        }
        if h.fornaxee.as_ref().is_some_and(|x| x.pid.is_none()) {
            p.push(format!("Fornaxee does not run on {}", h.host));
        }
        if let Some(x) = h.fornaxee.as_ref().filter(|x| x.healthy == Some(false)) {
            p.push(format!(
                "Fornaxee runs on {} but is not healthy: {}",
                h.host,
                x.health.as_deref().unwrap_or_default()
            ));
        }
    }
    if let Some(e) = &st.rest_error {
        p.push(format!("the REST API does not answer: {e}"));
    } else if c.manages_flink() {
        match &st.registrations {
            Some(j) => {
                let before = p.len();
                for h in &j.not_running {
                    p.push(format!(
                        "no TaskManager runs on {h} (the JobManager lists its registration until heartbeat.timeout passes): run `flinkup start -i {inv}`"
                    ));
                }
                for h in &j.unregistered {
                    p.push(format!(
                        "the TaskManager on {h} runs but has not registered with the JobManager: look at its log under {}/log",
                        c.current_link()
                    ));
                }
                for r in j.registrations.iter().filter(|r| r.extra) {
                    p.push(format!(
                        "TaskManager {} from {} registered, but the inventory does not list that host",
                        r.id, r.host
                    ));
                }
                let live = j.live().count() as u64;
                let slots: u64 = j.live().map(|r| r.slots).sum();
                if p.len() == before
                    && (live != c.taskmanager_count() as u64 || slots != c.total_slots())
                {
                    p.push(format!(
                        "TaskManagers: {live} registered with {slots} slots (not counting stale registrations), expected {} with {}",
                        c.taskmanager_count(),
                        c.total_slots()
                    ));
                }
            }
            None if st.taskmanagers != Some(c.taskmanager_count() as u64)
                || st.slots_total != Some(c.total_slots()) =>
            {
                p.push(format!(
                    "TaskManagers missing: {} registered with {} slots, expected {} with {}",
                    st.taskmanagers.unwrap_or(0),
                    st.slots_total.unwrap_or(0),
                    c.taskmanager_count(),
                    c.total_slots()
                ));
            }
            None => {}
        }
    }
    for j in &st.jobs {
        for q in &j.problems {
            p.push(format!("job `{}`: {q}", j.name));
        }
    }
    if let Some(e) = st.zookeeper.as_ref().filter(|e| !e.working()) {
        p.push(format!(
            "{}: start the ZooKeeper servers that stopped (a majority must answer)",
            e.summary()
        ));
    }
    p.append(&mut st.problems);
    st.healthy = p.is_empty();
    st.problems = p;
}

fn ms(v: u64) -> String {
    if v >= 60_000 {
        format!("{}m{:02}s", v / 60_000, (v % 60_000) / 1000)
    } else if v >= 1000 {
        format!("{:.1}s", v as f64 / 1000.0)
    } else {
        format!("{v}ms")
    }
}

fn text(c: &Cluster, st: &ClusterStatus) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cluster {} · Flink {} · expected {}",
        c.name,
        c.version,
        c.topology()
    );
    for h in &st.hosts {
        if h.reachable {
            let _ = writeln!(
                out,
                "  {:<20} release {:<28} daemons: {}",
                h.host,
                h.release.as_deref().unwrap_or("none"),
                if h.daemons.is_empty() {
                    "none".to_string()
                } else {
                    h.daemons
                        .iter()
                        .map(|d| match (d.as_str(), h.leads) {
                            ("jobmanager", Some(true)) => "jobmanager (leader)".to_string(),
                            ("jobmanager", Some(false)) => "jobmanager (standby)".to_string(),
                            _ => d.clone(),
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            );
            for u in &h.units {
                let _ = writeln!(
                    out,
                    "  {:<20} {} {}{}, restarted by systemd {} time{}",
                    "",
                    u.unit,
                    u.state,
                    if u.enabled {
                        ""
                    } else {
                        " (disabled: not started at boot)"
                    },
                    u.restarts,
                    if u.restarts == 1 { "" } else { "s" }
                );
                for l in &u.journal {
                    let _ = writeln!(out, "  {:<20}   | {l}", "");
                }
            }
            if let Some(x) = &h.fornaxee {
                let _ = writeln!(
                    out,
                    "  {:<20} fornaxee {:<27} {}",
                    "",
                    x.release.as_deref().unwrap_or("none"),
                    match (x.pid, &x.health) {
                        (Some(p), Some(health)) => format!("running (pid {p}); {health}"),
                        (Some(p), None) => format!("running (pid {p})"),
                        (None, _) => "NOT running".into(),
                    }
                );
            }
        } else {
            let _ = writeln!(
                out,
                "  {:<20} UNREACHABLE: {}",
                h.host,
                h.error.as_deref().unwrap_or("")
            );
        }
    }
    let url = match &st.rest_from {
        Some(h) => format!("http://{h}:{}/overview", c.rest_port),
        None => format!("{}/overview", crate::components::fornaxee::flink_rest(c)),
    };
    match (&st.taskmanagers, &st.rest_error) {
        (Some(t), _) => {
            let _ = writeln!(
                out,
                "  REST {url}: {}, {} ({} available)",
                crate::report::plural(*t, "TaskManager"),
                crate::report::plural(st.slots_total.unwrap_or(0), "slot"),
                st.slots_available.unwrap_or(0)
            );
        }
        (None, Some(e)) => {
            let _ = writeln!(out, "  REST {url}: not answering ({e})");
        }
        _ => {}
    }
    if let Some(e) = &st.zookeeper {
        let _ = writeln!(out, "  HA: {}", e.summary());
    }
    for r in st
        .registrations
        .iter()
        .flat_map(|j| &j.registrations)
        .filter(|r| r.stale.is_some())
    {
        let _ = writeln!(
            out,
            "  stale registration {} ({}): {}",
            r.id,
            r.host,
            r.stale.as_deref().unwrap_or_default()
        );
    }
    // Jobs that ended well (finished smoke jobs, cancelled ones) in one line.
    let ended: Vec<&JobHealth> = st
        .jobs
        .iter()
        .filter(|j| matches!(j.state.as_str(), "FINISHED" | "CANCELED"))
        .collect();
    if !ended.is_empty() {
        let mut names: Vec<&str> = ended.iter().map(|j| j.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let _ = writeln!(
            out,
            "  {} finished or cancelled: {}",
            crate::report::plural(ended.len() as u64, "job"),
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    for j in st
        .jobs
        .iter()
        .filter(|j| !matches!(j.state.as_str(), "FINISHED" | "CANCELED"))
    {
        let _ = writeln!(
            out,
            "\nJob {} `{}` · {} · up {} · {} restart{}",
            j.id,
            j.name,
            j.state,
            ms(j.uptime_ms),
            j.restarts,
            if j.restarts == 1 { "" } else { "s" }
        );
        for v in &j.vertices {
            let _ = writeln!(
                out,
                "  vertex {:<40} ×{:<3} backpressure {:<14} start delay {}",
                v.name.chars().take(40).collect::<String>(),
                v.parallelism,
                match (&v.backpressure, v.ratio) {
                    (Some(l), Some(r)) => format!("{} ({r:.2})", l.to_uppercase()),
                    (Some(l), None) => l.to_uppercase(),
                    _ => "UNKNOWN".into(),
                },
                v.start_delay_ms.map(ms).unwrap_or_else(|| "-".into())
            );
        }
        if let Some(cp) = &j.checkpoints {
            let _ = writeln!(
                out,
                "  checkpoints: {} completed, {} failed, {} in progress{}{}",
                cp.completed,
                cp.failed,
                cp.in_progress,
                match (cp.latest_id, cp.latest_duration_ms, cp.latest_size_bytes) {
                    (Some(id), Some(d), Some(s)) =>
                        format!("; latest #{id} took {} ({})", ms(d), units::human(s)),
                    _ => String::new(),
                },
                cp.interval_ms
                    .map(|i| format!("; every {}", ms(i)))
                    .unwrap_or_default()
            );
        }
    }
    if let Some(t) = &st.tls {
        let _ = writeln!(
            out,
            "\nTLS: internal and REST (https{}); certificate {}; CA {}",
            if t.client_auth {
                ", client certificates required"
            } else {
                ""
            },
            t.certificate,
            t.ca
        );
        if !t.outdated.is_empty() {
            let _ = writeln!(
                out,
                "  not this machine's keystore on: {} (run deploy)",
                t.outdated.join(", ")
            );
        }
    }
    for w in &st.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if st.healthy {
        let _ = writeln!(out, "\nHealthy.");
    } else {
        let _ = writeln!(out, "\nDegraded:");
        for p in &st.problems {
            let _ = writeln!(out, "  - {p}");
        }
    }
    out
}
