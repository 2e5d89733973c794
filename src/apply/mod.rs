//! Executes a plan: per-host actions in parallel (bounded), then the cluster actions in
//! order. Each [`Action`] has one executor; nothing here decides *what* to do.

mod daemons;
mod exec;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

pub use daemons::{diagnose, stale_ids, start, start_missing, stop};

use crate::artifact::Fetched;
use crate::error::{Error, Result};
use crate::inventory::Cluster;
use crate::plan::{Action, Plan};
use crate::remote::Remote;
use crate::report::{Event, Reporter};

pub struct Context<'a> {
    pub cluster: &'a Cluster,
    /// One connection per `cluster.hosts` entry, same order.
    pub remotes: &'a [Remote],
    pub artifact: Option<&'a Fetched>,
    pub rep: &'a dyn Reporter,
    pub concurrency: usize,
    /// Set by Ctrl-C: checked between actions, never inside one.
    pub cancel: Arc<AtomicBool>,
    /// TaskManager ids registered for daemons that were found dead and started again: the
    /// JobManager lists them until their heartbeat times out, so verification skips them.
    pub stale: std::sync::Mutex<Vec<String>>,
}

impl Context<'_> {
    fn check_cancel(&self) -> Result<()> {
        if self.cancel.load(Ordering::SeqCst) {
            Err(Error::Interrupted)
        } else {
            Ok(())
        }
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.cluster
            .hosts
            .iter()
            .position(|h| h.name == name)
            .ok_or_else(|| {
                Error::Failed(format!(
                    "the plan names {name}, which is not in the inventory"
                ))
            })
    }
}

/// Runs every action of the plan. Host actions of all hosts first; if any host fails, the
/// cluster actions (stop, start) do not run, so a running cluster is left as it was.
pub async fn run(plan: &Plan, ctx: &Context<'_>) -> Result<()> {
    // Setting up ssh trust touches only ~/.ssh, so it runs while the hosts are installed.
    let (prep, rest): (Vec<&Action>, Vec<&Action>) = plan
        .cluster_actions
        .iter()
        .partition(|a| matches!(a, Action::TrustSsh { .. }));
    let prep_run = async {
        for a in &prep {
            exec::cluster_action(ctx, a).await?;
        }
        Ok::<(), Error>(())
    };
    let (results, prepared) = tokio::join!(host_phase(plan, ctx), prep_run);
    check_hosts(plan, results)?;
    prepared?;
    for a in rest {
        ctx.check_cancel()?;
        exec::cluster_action(ctx, a).await?;
    }
    Ok(())
}

async fn host_phase(plan: &Plan, ctx: &Context<'_>) -> Vec<(String, Result<()>)> {
    stream::iter(plan.hosts.iter().map(|hp| async move {
        let r = async {
            let i = ctx.index(&hp.host)?;
            for a in &hp.actions {
                ctx.check_cancel()?;
                exec::host_action(ctx, i, a).await?;
            }
            Ok::<(), Error>(())
        }
        .await;
        ctx.rep.event(&Event::HostDone {
            host: hp.host.clone(),
            ok: r.is_ok(),
            message: match &r {
                Ok(()) if hp.actions.is_empty() => "up to date".into(),
                Ok(()) => format!("{} actions", hp.actions.len()),
                Err(e) => e.to_string(),
            },
        });
        (hp.host.clone(), r)
    }))
    .buffer_unordered(ctx.concurrency.max(1))
    .collect()
    .await
}

fn check_hosts(plan: &Plan, results: Vec<(String, Result<()>)>) -> Result<()> {
    let mut failed: Vec<String> = Vec::new();
    let mut interrupted = false;
    for (host, r) in results {
        match r {
            Ok(()) => {}
            Err(Error::Interrupted) => interrupted = true,
            Err(e) => failed.push(match e {
                Error::Remote { host, message } => format!("{host}: {message}"),
                other => format!("{host}: {other}"),
            }),
        }
    }
    if !failed.is_empty() {
        failed.sort();
        return Err(Error::Failed(format!(
            "{} of {} hosts failed; nothing was started or stopped:\n  {}\nFix the cause and run the same command again: hosts already done are skipped",
            failed.len(),
            plan.hosts.len(),
            failed.join("\n  ")
        )));
    }
    if interrupted {
        return Err(Error::Interrupted);
    }
    Ok(())
}
