//! `flinkup status`: per host reachable, release and daemons; the cluster's REST figures.

use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::cli::RemoteArgs;
use crate::error::{exit, Result};
use crate::facts;
use crate::inventory::Loaded;
use crate::remote::{ConnectOptions, Remote};
use crate::verify::Rest;

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
    let opts = ConnectOptions {
        ssh_config: remote.ssh_config.clone(),
        connect_timeout: Some(Duration::from_secs(10)),
    };
    // Every host at once; an unreachable host is a finding here, not a reason to stop.
    let mut found: Vec<(usize, HostStatus, Option<Remote>)> =
        stream::iter(c.hosts.iter().enumerate())
            .map(|(i, h)| {
                let opts = opts.clone();
                async move {
                    match Remote::connect(h, &opts).await {
                        Ok(r) => {
                            let out = r.sh(&h.name, &facts::script(c, h)).await;
                            let (f, _) = out.map(|o| facts::parse(&o.stdout)).unwrap_or_default();
                            let st = HostStatus {
                                host: h.name.clone(),
                                reachable: true,
                                release: f.current_link.clone(),
                                daemons: f.running.clone(),
                                java: f.java.as_ref().map(|j| j.version.clone()),
                                error: None,
                            };
                            (i, st, Some(r))
                        }
                        Err(e) => {
                            let st = HostStatus {
                                host: h.name.clone(),
                                reachable: false,
                                release: None,
                                daemons: Vec::new(),
                                java: None,
                                error: Some(e.to_string()),
                            };
                            (i, st, None)
                        }
                    }
                }
            })
            .buffer_unordered(remote.concurrency.max(1))
            .collect()
            .await;
    found.sort_by_key(|(i, _, _)| *i);
    let (hosts, remotes): (Vec<HostStatus>, Vec<Option<Remote>>) =
        found.into_iter().map(|(_, st, r)| (st, r)).unzip();
    let jm = c.jobmanager();
    let mut st = ClusterStatus {
        cluster: c.name.clone(),
        hosts,
        taskmanagers: None,
        slots_total: None,
        slots_available: None,
        rest_error: None,
    };
    let local = Remote::Local;
    let jm_remote = remotes[0].as_ref().unwrap_or(&local);
    let rest = Rest::new(&jm.name, c.rest_port, &jm.name, jm_remote);
    match rest.overview().await {
        Ok(o) => {
            st.taskmanagers = Some(o.taskmanagers);
            st.slots_total = Some(o.slots_total);
            st.slots_available = Some(o.slots_available);
        }
        Err(e) => st.rest_error = Some(e),
    }
    for r in remotes.into_iter().flatten() {
        r.close().await;
    }
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
