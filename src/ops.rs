//! The commands that talk to hosts: connect, gather facts, plan, deploy, check, status,
//! start, stop, destroy.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::apply::{self, Context};
use crate::artifact::{self, FetchOptions, Fetched};
use crate::cli::{FetchArgs, OutputArgs, RemoteArgs};
use crate::error::{exit, Error, Result};
use crate::facts::{self, HostFacts, MachineFacts};
use crate::inventory::{units, Cluster, HashAlgo, Loaded, StartMode};
use crate::lock;
use crate::plan::{self, Plan, PlanInput, PlanMode};
use crate::remote::{q, qp, ConnectOptions, Remote};
use crate::render::Renderer;
use crate::report::{self, Event, Reporter, Style};
use crate::verify::{self, Rest};

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
    if let Some(p) = cluster
        .artifact
        .checksum
        .pinned
        .as_ref()
        .filter(|p| p.algorithm == HashAlgo::Sha512)
    {
        return Some(p.hex.clone());
    }
    let cache = FetchOptions::new(fetch.cache_dir.clone())
        .cache_dir
        .join("sha512");
    std::fs::read_dir(cache).ok()?.flatten().find_map(|e| {
        e.path()
            .join(&cluster.artifact.file_name)
            .is_file()
            .then(|| e.file_name().to_string_lossy().into_owned())
    })
}

fn build_plan(
    loaded: &Loaded,
    facts: &[HostFacts],
    sha512: Option<String>,
    cached: bool,
) -> Result<Plan> {
    let c = &loaded.cluster;
    let renderer = Renderer::new(c)?;
    plan::build(PlanInput {
        cluster: c,
        renderer: &renderer,
        facts,
        mode: PlanMode::Live,
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
    let plan = build_plan(loaded, &facts, sha, cached)?;
    print_plan(&plan, json);
    Ok(exit::OK)
}

fn print_plan(plan: &Plan, json: bool) {
    if json {
        println!("{}", plan::display::json(plan));
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

pub async fn deploy(
    loaded: &Loaded,
    yes: bool,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    let rep: Arc<dyn Reporter> =
        Arc::from(report::reporter(Style::choose(output.quiet, output.json)));
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    let hosts = connect(c, remote).await?;
    let me = match lock::acquire(c, &hosts.remotes[0], "deploy").await {
        Ok(me) => me,
        Err(e) => {
            hosts.close().await;
            return Err(e);
        }
    };
    let cancel = cancel_on_ctrl_c(rep.clone());
    let result = deploy_on(loaded, yes, &opts, remote, output, &hosts, rep, cancel).await;
    lock::release(c, &hosts.remotes[0], &me).await;
    hosts.close().await;
    result
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
    let plan = build_plan(loaded, &facts, sha, fetched.is_some())?;
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
    let mut hosts = Vec::new();
    let mut remotes = Vec::new();
    for h in &c.hosts {
        match Remote::connect(h, &opts).await {
            Ok(r) => {
                let out = r.sh(&h.name, &facts::script(c, h)).await;
                let (f, _) = out.map(|o| facts::parse(&o.stdout)).unwrap_or_default();
                hosts.push(HostStatus {
                    host: h.name.clone(),
                    reachable: true,
                    release: f.current_link.clone(),
                    daemons: f.running.clone(),
                    java: f.java.as_ref().map(|j| j.version.clone()),
                    error: None,
                });
                remotes.push(Some(r));
            }
            Err(e) => {
                hosts.push(HostStatus {
                    host: h.name.clone(),
                    reachable: false,
                    release: None,
                    daemons: Vec::new(),
                    java: None,
                    error: Some(e.to_string()),
                });
                remotes.push(None);
            }
        }
    }
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
            let all_running = c.hosts.iter().zip(&hf).all(|(h, f)| {
                (!h.jobmanager || f.runs("jobmanager")) && (!h.taskmanager || f.runs("taskmanager"))
            });
            if !all_running {
                apply::start(c, &hosts.remotes, c.start).await?;
            }
            verify_now(c, &hosts).await
        },
    )
    .await
}

async fn verify_now(c: &Cluster, hosts: &Hosts) -> Result<i32> {
    let jm = c.jobmanager();
    let rest = Rest::new(&jm.name, c.rest_port, &jm.name, &hosts.remotes[0]);
    let url = format!("http://{}:{}/overview", jm.name, c.rest_port);
    match verify::wait_for(
        &rest,
        c.taskmanager_count() as u64,
        c.total_slots(),
        c.verify_timeout,
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
