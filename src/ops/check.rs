//! `flinkup check`: the preflight, one line per finding, exit 1 when anything fails.

use super::{connect, gather, ports_taken, Hosts};
use crate::cli::RemoteArgs;
use crate::error::{exit, Result};
use crate::inventory::{units, Cluster, Loaded};

pub async fn check(loaded: &Loaded, remote: &RemoteArgs) -> Result<i32> {
    let c = &loaded.cluster;
    let hosts = connect(c, remote).await?;
    let result = check_on(c, remote, &hosts).await;
    hosts.close().await;
    result
}

async fn check_on(c: &Cluster, remote: &RemoteArgs, hosts: &Hosts) -> Result<i32> {
    let (hf, mf) = gather(c, hosts, remote.concurrency).await?;
    // Apache's tarballs are about 250 MB; unpacked they take about as much again.
    let need_kb = 2 * 260 * 1024;
    let mut problems = 0;
    for (i, h) in c.hosts.iter().enumerate() {
        let (f, m) = (&hf[i], &mf[i]);
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
                    "{} free under {} (need {} for the tarball and the release)",
                    units::human(kb * 1024),
                    c.install_dir,
                    units::human(need_kb * 1024)
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
            let taken = ports_taken(c, &hosts.remotes[i], m).await?;
            for (key, port) in [
                ("jobmanager.rpc.port", c.rpc_port),
                ("rest.port", c.rest_port),
            ] {
                let prefix = format!("{key} {port} ");
                match taken.iter().find(|t| t.starts_with(&prefix)) {
                    Some(t) => line(false, format!("{t}: stop it or choose another port")),
                    None if m.pids.contains_key("jobmanager") => line(
                        true,
                        format!("{key} {port} is free or held by this cluster's JobManager"),
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
