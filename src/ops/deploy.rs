//! `flinkup deploy`: facts, preflight, fetch, plan, confirmation, apply, verification.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::{
    build_plan, cancel_on_ctrl_c, confirm, gather, locked, ports_taken, print_plan, Hosts,
};
use crate::apply::{self, Context};
use crate::artifact::{self, FetchOptions, Fetched};
use crate::cli::{FetchArgs, OutputArgs, RemoteArgs};
use crate::error::{exit, Error, Result};
use crate::inventory::{units, Loaded};
use crate::plan::PlanMode;
use crate::report::{self, Reporter, Style};

pub async fn deploy(
    loaded: &Loaded,
    yes: bool,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
) -> Result<i32> {
    let rep: Arc<dyn Reporter> =
        Arc::from(report::reporter(Style::choose(output.quiet, output.json)));
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    locked(&loaded.cluster, remote, "deploy", |_, hosts| async move {
        let cancel = cancel_on_ctrl_c(rep.clone());
        deploy_on(loaded, yes, &opts, remote, output, &hosts, rep, cancel).await
    })
    .await
}

#[allow(clippy::too_many_arguments)]
async fn deploy_on(
    loaded: &Loaded,
    yes: bool,
    opts: &FetchOptions,
    remote: &RemoteArgs,
    output: &OutputArgs,
    hosts: &Hosts,
    rep: Arc<dyn Reporter>,
    cancel: Arc<AtomicBool>,
) -> Result<i32> {
    let c = &loaded.cluster;
    let (facts, machines) = gather(c, hosts, remote.concurrency).await?;
    let unresolved: Vec<String> = c
        .hosts
        .iter()
        .zip(&machines)
        .filter(|(_, m)| !m.hostname_resolves)
        .map(|(h, m)| {
            format!(
                "{}: its host name `{}` does not resolve on the host",
                h.name, m.hostname
            )
        })
        .collect();
    if !unresolved.is_empty() {
        return Err(Error::Failed(format!(
            "Flink's TaskManager dies with UnknownHostException on a host whose own name does not resolve:\n  {}\nAdd the name to the host's /etc/hosts (or DNS) and run again; nothing was changed",
            unresolved.join("\n  ")
        )));
    }
    if !facts[0].runs("jobmanager") {
        let taken = ports_taken(c, &hosts.remotes[0], &machines[0]).await?;
        if !taken.is_empty() {
            return Err(Error::Failed(format!(
                "{}: {}; the JobManager could not start. Stop that process or choose other ports; nothing was changed",
                c.jobmanager().name,
                taken.join(", ")
            )));
        }
    }
    // Only fetch when some host lacks the release: a no-op re-run never touches the network.
    let needs_artifact = facts.iter().any(|f| !f.release_present);
    let fetched: Option<Fetched> = if needs_artifact {
        Some(artifact::fetch(&c.artifact, opts, rep.as_ref()).await?)
    } else {
        None
    };
    if let Some(f) = &fetched {
        // The tarball and the unpacked release need about twice its size; refuse up front
        // rather than fill a disk halfway.
        let need = 2 * f.size;
        let short: Vec<String> = c
            .hosts
            .iter()
            .zip(facts.iter().zip(&machines))
            .filter(|(_, (hf, m))| {
                !hf.release_present && m.disk_free_kb.is_some_and(|kb| kb * 1024 < need)
            })
            .map(|(h, (_, m))| {
                format!(
                    "{}: {} free under {}, need {} for the tarball and the release",
                    h.name,
                    units::human(m.disk_free_kb.unwrap_or(0) * 1024),
                    c.install_dir,
                    units::human(need)
                )
            })
            .collect();
        if !short.is_empty() {
            return Err(Error::Failed(format!(
                "not enough disk space; nothing was changed:\n  {}",
                short.join("\n  ")
            )));
        }
    }
    let sha = fetched.as_ref().map(|f| f.sha512.clone());
    let plan = build_plan(loaded, &facts, PlanMode::Live, sha, fetched.is_some())?;
    if !output.json {
        print_plan(&plan, false);
    }
    if !plan.is_noop() {
        confirm(
            yes,
            "Apply this plan?",
            "deploy needs confirmation: no terminal to ask on. Review the plan above and run again with --yes",
            "not applied: the plan was not confirmed",
        )?;
    }
    if cancel.load(Ordering::SeqCst) {
        return Err(Error::Interrupted);
    }
    let ctx = Context {
        cluster: c,
        remotes: &hosts.remotes,
        artifact: fetched.as_ref(),
        rep: rep.as_ref(),
        concurrency: remote.concurrency,
        cancel,
        stale: Default::default(),
    };
    apply::run(&plan, &ctx).await?;
    if output.json {
        print_plan(&plan, true);
    } else {
        println!(
            "{}: {}",
            c.name,
            if plan.is_noop() {
                "up to date and verified"
            } else {
                "deployed and verified"
            }
        );
    }
    Ok(exit::OK)
}
