//! `flinkup start`, `stop`, `destroy` and `unlock`: the cluster's life after deploy.

use super::{confirm, connect, gather, locked, Hosts};
use crate::apply;
use crate::cli::RemoteArgs;
use crate::error::{exit, Error, Result};
use crate::inventory::{Cluster, Loaded};
use crate::lock;
use crate::plan;
use crate::remote::qp;
use crate::report::{self, Style};
use crate::verify::{self, Rest};

pub async fn unlock(loaded: &Loaded, yes: bool, remote: &RemoteArgs) -> Result<i32> {
    let c = &loaded.cluster;
    let hosts = connect(c, remote).await?;
    let r = async {
        let Some(holder) = lock::read(c, &hosts.remotes[0]).await? else {
            println!("{}: not locked", c.jobmanager().name);
            return Ok(exit::OK);
        };
        println!(
            "{}: locked by {}{}",
            c.jobmanager().name,
            holder.describe(),
            if holder.is_stale() {
                " (stale: that process no longer runs on this machine)"
            } else {
                ""
            }
        );
        confirm(
            yes,
            "Remove this lock? Only do so if that run is gone.",
            "unlock needs confirmation: no terminal to ask on; run again with --yes",
            "the lock was kept",
        )?;
        lock::remove(c, &hosts.remotes[0]).await?;
        println!("{}: lock removed", c.jobmanager().name);
        Ok(exit::OK)
    }
    .await;
    hosts.close().await;
    r
}

pub async fn start_cmd(loaded: &Loaded, remote: &RemoteArgs) -> Result<i32> {
    let concurrency = remote.concurrency;
    locked(
        &loaded.cluster,
        remote,
        "start",
        move |c, hosts| async move {
            let (hf, _) = gather(c, &hosts, concurrency).await?;
            if let Some((h, _)) = c
                .hosts
                .iter()
                .zip(&hf)
                .find(|(_, f)| f.current_link.is_none())
            {
                return Err(Error::Failed(format!(
                    "{} has no installed release: run `flinkup deploy` first",
                    h.name
                )));
            }
            // Start what is missing, never a second copy of what runs.
            let missing = plan::missing_daemons(c, &hf);
            let mut stale = Vec::new();
            if hf.iter().all(|f| f.running.is_empty()) {
                apply::start(c, &hosts.remotes, c.start).await?;
            } else if !missing.is_empty() {
                stale = apply::stale_ids(c, &hosts.remotes[0], &missing).await;
                apply::start_missing(c, &hosts.remotes, &missing).await?;
            }
            verify_now(c, &hosts, &stale).await
        },
    )
    .await
}

async fn verify_now(c: &Cluster, hosts: &Hosts, stale: &[String]) -> Result<i32> {
    let jm = c.jobmanager();
    let rest = Rest::new(&jm.name, c.rest_port, &jm.name, &hosts.remotes[0]);
    let url = format!("http://{}:{}/overview", jm.name, c.rest_port);
    match verify::wait_for(
        &rest,
        c.taskmanager_count() as u64,
        c.total_slots(),
        c.verify_timeout,
        stale,
    )
    .await
    {
        Ok(o) => {
            println!(
                "verified {url}: {} TaskManagers, {} slots",
                o.taskmanagers, o.slots_total
            );
            Ok(exit::OK)
        }
        Err(why) => {
            let details = apply::diagnose(c, &hosts.remotes, &rest).await;
            Err(verify::not_verified(&url, c.verify_timeout, &why, &details))
        }
    }
}

pub async fn stop_cmd(loaded: &Loaded, remote: &RemoteArgs) -> Result<i32> {
    locked(&loaded.cluster, remote, "stop", |c, hosts| async move {
        let rep = report::reporter(Style::Plain);
        apply::stop(c, &hosts.remotes, rep.as_ref()).await?;
        println!(
            "{}: stopped; no Flink daemon is running on any host",
            c.name
        );
        Ok(exit::OK)
    })
    .await
}

pub async fn destroy(loaded: &Loaded, yes: bool, remote: &RemoteArgs) -> Result<i32> {
    if !yes {
        return Err(Error::Usage(
            "destroy removes the installation from every host: run it with --yes".into(),
        ));
    }
    locked(&loaded.cluster, remote, "destroy", |c, hosts| async move {
        let rep = report::reporter(Style::Plain);
        apply::stop(c, &hosts.remotes, rep.as_ref()).await?;
        for (i, h) in c.hosts.iter().enumerate() {
            // Only what flinkup put there: the link (if it is a link), this release and the
            // state directory; on the JobManager host the lock inside it goes on release.
            let script = format!(
                "set -e; if [ -L {link} ]; then rm -f {link}; fi; rm -rf {rel} {rel}.incomplete.*; if [ -d {state} ]; then find {state} -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {{}} +; rmdir {state} 2>/dev/null || true; fi",
                link = qp(&c.current_link()),
                rel = qp(&c.release_dir()),
                state = qp(&c.state_dir()),
            );
            hosts.remotes[i].must(&h.name, "remove the installation", &script).await?;
            println!("{}: removed {}, {} and {}", h.name, c.current_link(), c.release_dir(), c.state_dir());
        }
        Ok(exit::OK)
    })
    .await
}
