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
    error: Option<String>,
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
    let all: Vec<&crate::inventory::Host> = c.hosts.iter().collect();
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
            let rest = Rest::new(&jm.name, c.rest_port, &jm.name, jm_remote);
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
            } else {
                println!(
                    "  {:<20} UNREACHABLE: {}",
                    h.host,
                    h.error.as_deref().unwrap_or("")
                );
            }
        }
        match (&st.taskmanagers, &st.rest_error) {
            (Some(t), _) => println!(
                "  REST http://{}:{}/overview: {t} TaskManagers, {} slots ({} available)",
                jm.name,
                c.rest_port,
                st.slots_total.unwrap_or(0),
                st.slots_available.unwrap_or(0)
            ),
            (None, Some(e)) => println!(
                "  REST http://{}:{}/overview: not answering ({e})",
                jm.name, c.rest_port
            ),
            _ => {}
        }
    }
    let healthy = st.hosts.iter().all(|h| h.reachable)
        && st.taskmanagers == Some(c.taskmanager_count() as u64)
        && st.slots_total == Some(c.total_slots());
    Ok(if healthy { exit::OK } else { exit::FAILED })
}
