//! `flinkup status`: per host reachable, release and daemons; the cluster's REST figures.

use serde::Serialize;

use super::gather;
use crate::cli::RemoteArgs;
use crate::components::flink::rest::Rest;
use crate::error::{exit, Result};
use crate::fleet::{Fleet, HostId};
use crate::inventory::Loaded;

#[derive(Serialize)]
struct HostStatus {
    host: String,
    reachable: bool,
    release: Option<String>,
    daemons: Vec<String>,
    java: Option<String>,
    /// On Fornaxee hosts: its release and whether it runs.
    fornaxee: Option<FornaxeeStatus>,
    error: Option<String>,
}

#[derive(Serialize)]
struct FornaxeeStatus {
    release: Option<String>,
    pid: Option<u32>,
}

#[derive(Serialize)]
struct ClusterStatus {
    cluster: String,
    hosts: Vec<HostStatus>,
    taskmanagers: Option<u64>,
    slots_total: Option<u64>,
    slots_available: Option<u64>,
    rest_error: Option<String>,
}

pub async fn status(loaded: &Loaded, remote: &RemoteArgs, json: bool) -> Result<i32> {
    let c = &loaded.cluster;
    let all = super::all_hosts(c);
    // Every host at once; an unreachable host is a finding here, not a reason to stop.
    let (fleet, failures) =
        Fleet::connect_lenient(&all, &super::connect_options(remote), remote.concurrency).await;
    let facts = gather(c, &fleet, &super::Asks::of(None, c))
        .await
        .unwrap_or_default();
    let hosts = c
        .hosts
        .iter()
        .map(|h| {
            let id = HostId::of(h);
            let failure = failures.iter().find(|f| f.host == id);
            let f = &facts.host(&id).flink;
            HostStatus {
                host: h.name.clone(),
                reachable: failure.is_none(),
                release: f.current_link.clone(),
                daemons: f.running.keys().map(|r| r.to_string()).collect(),
                java: f.java.as_ref().map(|j| j.version.clone()),
                fornaxee: h.fornaxee.then(|| {
                    let x = &facts.host(&id).fornaxee;
                    FornaxeeStatus {
                        release: x.current_link.clone(),
                        pid: x.running,
                    }
                }),
                error: failure.map(|f| f.error.to_string()),
            }
        })
        .collect();
    let jm = c.jobmanager();
    let mut st = ClusterStatus {
        cluster: c.name.clone(),
        hosts,
        taskmanagers: None,
        slots_total: None,
        slots_available: None,
        rest_error: None,
    };
    match fleet.get(&HostId::of(jm)) {
        Ok(jm_remote) => {
            let rest = match c.external() {
                Some(e) => Rest::at(&e.rest, &jm.name, jm_remote),
                None => Rest::new(&jm.name, c.rest_port, &jm.name, jm_remote),
            };
            match rest.overview().await {
                Ok(o) => {
                    st.taskmanagers = Some(o.taskmanagers);
                    st.slots_total = Some(o.slots_total);
                    st.slots_available = Some(o.slots_available);
                }
                Err(e) => st.rest_error = Some(e),
            }
        }
        // Never ask another Flink (this machine's own, say) in its place.
        Err(_) => {
            st.rest_error = Some(format!(
                "the JobManager host {} is unreachable, so its REST API was not asked",
                jm.name
            ))
        }
    }
    fleet.close().await;
    if json {
        println!("{}", serde_json::to_string_pretty(&st).unwrap_or_default());
    } else {
        println!(
            "Cluster {} · Flink {} · expected {}",
            c.name,
            c.version,
            c.topology()
        );
        for h in &st.hosts {
            if h.reachable {
                println!(
                    "  {:<20} release {:<28} daemons: {}",
                    h.host,
                    h.release.as_deref().unwrap_or("none"),
                    if h.daemons.is_empty() {
                        "none".to_string()
                    } else {
                        h.daemons.join(", ")
                    }
                );
                if let Some(x) = &h.fornaxee {
                    println!(
                        "  {:<20} fornaxee {:<27} {}",
                        "",
                        x.release.as_deref().unwrap_or("none"),
                        match x.pid {
                            Some(p) => format!("running (pid {p})"),
                            None => "NOT running".into(),
                        }
                    );
                }
            } else {
                println!(
                    "  {:<20} UNREACHABLE: {}",
                    h.host,
                    h.error.as_deref().unwrap_or("")
                );
            }
        }
        let url = format!("{}/overview", super::flink_rest(c));
        match (&st.taskmanagers, &st.rest_error) {
            (Some(t), _) => println!(
                "  REST {url}: {t} TaskManagers, {} slots ({} available)",
                st.slots_total.unwrap_or(0),
                st.slots_available.unwrap_or(0)
            ),
            (None, Some(e)) => println!("  REST {url}: not answering ({e})"),
            _ => {}
        }
    }
    let flink_ok = if c.manages_flink() {
        st.taskmanagers == Some(c.taskmanager_count() as u64)
            && st.slots_total == Some(c.total_slots())
    } else {
        st.taskmanagers.is_some()
    };
    let fornaxee_ok = st
        .hosts
        .iter()
        .all(|h| h.fornaxee.as_ref().is_none_or(|x| x.pid.is_some()));
    let healthy = st.hosts.iter().all(|h| h.reachable) && flink_ok && fornaxee_ok;
    Ok(if healthy { exit::OK } else { exit::FAILED })
}
