//! The commands that talk to hosts, one file each, and what they share: connecting to every
//! host, gathering facts, the deploy lock, confirmation prompts, the JobManager's ports.

mod check;
mod deploy;
mod lifecycle;
mod status;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

pub use check::check;
pub use deploy::deploy;
pub use lifecycle::{destroy, start_cmd, stop_cmd, unlock};
pub use status::status;

use crate::artifact::{self, FetchOptions};
use crate::cli::{FetchArgs, RemoteArgs};
use crate::error::{exit, Error, Result};
use crate::facts::{self, HostFacts, MachineFacts};
use crate::inventory::{Cluster, Loaded, StartMode};
use crate::lock;
use crate::plan::{self, Plan, PlanInput, PlanMode};
use crate::remote::{q, ConnectOptions, Remote};
use crate::render::Renderer;
use crate::report::{Event, Reporter};

/// Live connections to every host of the cluster, in `cluster.hosts` order.
pub struct Hosts {
    pub remotes: Vec<Remote>,
}

impl Hosts {
    pub async fn close(self) {
        for r in self.remotes {
            r.close().await;
        }
    }
}

/// Connects to every host in parallel; any failure refuses the whole command before anything
/// is changed, naming each unreachable host and ssh's reason.
pub async fn connect(cluster: &Cluster, args: &RemoteArgs) -> Result<Hosts> {
    let opts = ConnectOptions {
        ssh_config: args.ssh_config.clone(),
        connect_timeout: Some(Duration::from_secs(10)),
    };
    let results: Vec<(usize, Result<Remote>)> = stream::iter(cluster.hosts.iter().enumerate())
        .map(|(i, h)| {
            let opts = opts.clone();
            async move { (i, Remote::connect(h, &opts).await) }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let mut ok: Vec<Option<Remote>> = (0..cluster.hosts.len()).map(|_| None).collect();
    let mut failed = Vec::new();
    for (i, r) in results {
        match r {
            Ok(remote) => ok[i] = Some(remote),
            Err(e) => failed.push(e.to_string()),
        }
    }
    if !failed.is_empty() {
        for r in ok.into_iter().flatten() {
            r.close().await;
        }
        failed.sort();
        return Err(Error::Failed(format!(
            "cannot reach {} of {} hosts; nothing was changed:\n  {}",
            failed.len(),
            cluster.hosts.len(),
            failed.join("\n  ")
        )));
    }
    Ok(Hosts {
        remotes: ok.into_iter().flatten().collect(),
    })
}

/// Reads every host's state in parallel; read-only.
pub async fn gather(
    cluster: &Cluster,
    hosts: &Hosts,
    concurrency: usize,
) -> Result<(Vec<HostFacts>, Vec<MachineFacts>)> {
    let results: Vec<(usize, Result<(HostFacts, MachineFacts)>)> =
        stream::iter(cluster.hosts.iter().enumerate())
            .map(|(i, h)| {
                let r = &hosts.remotes[i];
                async move {
                    let out = r.sh(&h.name, &facts::script(cluster, h)).await;
                    (i, out.map(|o| facts::parse(&o.stdout)))
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
    let mut hf = vec![HostFacts::default(); cluster.hosts.len()];
    let mut mf = vec![MachineFacts::default(); cluster.hosts.len()];
    for (i, r) in results {
        let (f, m) = r?;
        hf[i] = f;
        mf[i] = m;
    }
    if cluster.start == StartMode::ClusterScript {
        let names: Vec<String> = cluster.taskmanagers().map(|h| q(&h.name)).collect();
        let script = format!(
            "for h in {}; do ( ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 \"$h\" true >/dev/null 2>&1 && echo \"trusted=$h\" ) & done; wait",
            names.join(" ")
        );
        let out = hosts.remotes[0]
            .sh(&cluster.jobmanager().name, &script)
            .await?;
        for line in out.stdout.lines() {
            if let Some(name) = line.strip_prefix("trusted=") {
                if let Some(i) = cluster.hosts.iter().position(|h| h.name == name) {
                    hf[i].trusted_by_jobmanager = true;
                }
            }
        }
    }
    Ok((hf, mf))
}

/// The sha512 the tarball must have, if known without downloading: pinned, or cached.
fn known_sha512(cluster: &Cluster, fetch: &FetchArgs) -> Option<String> {
    cluster.artifact.checksum.pinned_sha512().or_else(|| {
        artifact::cached_sha512(
            &cluster.artifact,
            &FetchOptions::new(fetch.cache_dir.clone()).cache_dir,
        )
    })
}

pub(crate) fn build_plan(
    loaded: &Loaded,
    facts: &[HostFacts],
    mode: PlanMode,
    sha512: Option<String>,
    cached: bool,
) -> Result<Plan> {
    let c = &loaded.cluster;
    let renderer = Renderer::new(c)?;
    plan::build(PlanInput {
        cluster: c,
        renderer: &renderer,
        facts,
        mode,
        artifact_sha512: sha512,
        artifact_cached: Some(cached),
        warnings: loaded.warnings.iter().map(|w| w.message.clone()).collect(),
    })
}

pub async fn live_plan(
    loaded: &Loaded,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    json: bool,
) -> Result<i32> {
    let c = &loaded.cluster;
    let hosts = connect(c, remote).await?;
    let gathered = gather(c, &hosts, remote.concurrency).await;
    hosts.close().await;
    let (facts, _) = gathered?;
    let sha = known_sha512(c, fetch);
    let cached = artifact::is_cached(
        &c.artifact,
        &FetchOptions::new(fetch.cache_dir.clone()).cache_dir,
    );
    let plan = build_plan(loaded, &facts, PlanMode::Live, sha, cached)?;
    print_plan(&plan, json);
    Ok(exit::OK)
}

pub(crate) fn print_plan(plan: &Plan, json: bool) {
    if json {
        plan::display::print_json(plan);
    } else {
        print!("{}", plan::display::text(plan));
    }
}

/// Sets the flag on Ctrl-C so the runner stops between two actions.
fn cancel_on_ctrl_c(rep: Arc<dyn Reporter>) -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            f.store(true, Ordering::SeqCst);
            rep.event(&Event::Warning {
                message: "interrupted: finishing the current action, then stopping".into(),
            });
        }
    });
    flag
}

/// Asks a yes/no question on the terminal; `--yes` answers it, and without a terminal the
/// answer is no (exit 2) with `no_tty` saying how to proceed.
fn confirm(yes: bool, question: &str, no_tty: &str, declined: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(no_tty.into()));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(Error::Usage(declined.into()))
    }
}

/// Ports the JobManager needs that another process holds: "rest.port 8082 is taken by python3 pid 7".
async fn ports_taken(c: &Cluster, jm: &Remote, m: &MachineFacts) -> Result<Vec<String>> {
    let mut taken = Vec::new();
    for (key, port) in [
        ("jobmanager.rpc.port", c.rpc_port),
        ("rest.port", c.rest_port),
    ] {
        let script = format!(
            "ss -Htlnp 'sport = :{port}' 2>/dev/null | head -n1 | sed -n 's/.*users:((\"\\([^\"]*\\)\",pid=\\([0-9]*\\).*/\\1 pid \\2/p'; ss -Htln 'sport = :{port}' 2>/dev/null | head -n1 | grep -q . && echo listening"
        );
        let out = jm.sh(&c.jobmanager().name, &script).await?;
        if !out.stdout.contains("listening") {
            continue;
        }
        let holder = out
            .stdout
            .lines()
            .find(|l| *l != "listening")
            .unwrap_or("")
            .trim()
            .to_string();
        let ours = m
            .pids
            .get("jobmanager")
            .is_some_and(|p| holder.ends_with(&format!("pid {p}")));
        if !ours {
            taken.push(format!(
                "{key} {port} is taken by {}",
                if holder.is_empty() {
                    "another process".to_string()
                } else {
                    holder
                }
            ));
        }
    }
    Ok(taken)
}

/// Runs `work` on connected hosts while holding the deploy lock; always releases and closes.
async fn locked<'a, F, Fut>(
    c: &'a Cluster,
    remote: &RemoteArgs,
    command: &str,
    work: F,
) -> Result<i32>
where
    F: FnOnce(&'a Cluster, Arc<Hosts>) -> Fut,
    Fut: std::future::Future<Output = Result<i32>> + 'a,
{
    let hosts = Arc::new(connect(c, remote).await?);
    let me = match lock::acquire(c, &hosts.remotes[0], command).await {
        Ok(me) => me,
        Err(e) => {
            close(hosts).await;
            return Err(e);
        }
    };
    let r = work(c, hosts.clone()).await;
    lock::release(c, &hosts.remotes[0], &me).await;
    close(hosts).await;
    r
}

async fn close(hosts: Arc<Hosts>) {
    if let Ok(h) = Arc::try_unwrap(hosts) {
        h.close().await;
    }
}
