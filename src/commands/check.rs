//! `flinkup check`: the preflight, one line per finding, exit 1 when anything fails.

use super::{artifact_state, connect, gather};
use crate::cli::{FetchArgs, RemoteArgs};
use crate::components::flink::{plan::disk_needed, Role};
use crate::error::{exit, Result};
use crate::fleet::HostId;
use crate::inventory::{units, Loaded};

pub async fn check(loaded: &Loaded, remote: &RemoteArgs) -> Result<i32> {
    let c = &loaded.cluster;
    let fleet = connect(c, remote).await?;
    let facts = gather(c, &fleet, &super::Asks::of(None, c)).await;
    fleet.close().await;
    let facts = facts?;
    // The same rule as deploy's preflight: twice the real tarball, when it is at hand.
    let (need, exact) = disk_needed(artifact_state(c, &FetchArgs::default()).size);
    let need_kb = need / 1024;
    let mut problems = 0;
    for h in &c.hosts {
        let hf = facts.host(&HostId::of(h));
        let (f, m) = (&hf.flink, &hf.machine);
        println!("Host {} ({})", h.name, h.roles());
        let mut line = |ok: bool, text: String| {
            if !ok {
                problems += 1;
            }
            println!("  {} {text}", if ok { "ok  " } else { "FAIL" });
        };
        line(true, format!("ssh as {}", m.user));
        line(
            m.install_dir_writable,
            format!(
                "{} {} writable by {}",
                c.install_dir,
                if m.install_dir_writable {
                    "is"
                } else {
                    "is NOT"
                },
                m.user
            ),
        );
        match &f.java {
            Some(j) => line(
                true,
                format!("java {} at {} (Java {})", j.version, j.path, j.major),
            ),
            None => line(
                false,
                "no java found (java_home, JAVA_HOME, PATH): install a JDK 8 or later".into(),
            ),
        }
        match m.disk_free_kb {
            Some(kb) => line(
                kb >= need_kb,
                format!(
                    "{} free under {} (need {} for the tarball and the release{})",
                    units::human(kb * 1024),
                    c.install_dir,
                    units::human(need),
                    if exact {
                        ""
                    } else {
                        ", estimated: the tarball is not cached yet"
                    }
                ),
            ),
            None => line(false, "cannot read free disk space".into()),
        }
        line(
            m.hostname_resolves,
            if m.hostname_resolves {
                format!("host name {} resolves", m.hostname)
            } else {
                format!("host name `{}` does not resolve: Flink's TaskManager dies with UnknownHostException; add it to /etc/hosts", m.hostname)
            },
        );
        if h.jobmanager {
            let ours = f.running.get(&Role::JobManager).copied();
            for (key, port) in [
                ("jobmanager.rpc.port", c.rpc_port),
                ("rest.port", c.rest_port),
            ] {
                match m.ports.get(&port) {
                    Some(p) if ours.is_some() && (p.pid.is_none() || p.pid == ours) => line(
                        true,
                        format!("{key} {port} is held by this cluster's JobManager"),
                    ),
                    Some(p) => line(
                        false,
                        format!(
                            "{key} {port} is taken by {}: stop it or choose another port",
                            if p.holder.is_empty() {
                                "another process"
                            } else {
                                &p.holder
                            }
                        ),
                    ),
                    None if !m.ports_known => line(
                        true,
                        format!(
                            "{key} {port}: cannot tell (no `ss` on the host); taken to be free"
                        ),
                    ),
                    None => line(true, format!("{key} {port} is free")),
                }
            }
        }
    }
    if problems == 0 {
        println!("All checks passed.");
        Ok(exit::OK)
    } else {
        println!(
            "{problems} check{} failed.",
            if problems == 1 { "" } else { "s" }
        );
        Ok(exit::FAILED)
    }
}
