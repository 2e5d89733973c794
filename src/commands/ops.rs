//! Day-to-day commands on a running cluster, over the same ssh as every plan: `exec` (a
//! command on picked hosts), `ssh` (a shell on one) and `logs` (the daemons' own log files,
//! with known failures pointed out).

use std::collections::BTreeMap;

use super::connect_options;
use crate::cli::{LogsArgs, PickArgs, RemoteArgs};
use crate::components::LogSource;
use crate::error::{exit, Error, Result};
use crate::fleet::{Fleet, HostId};
use crate::inventory::{Cluster, Host, Loaded};
use crate::remote::{q, qp};

/// The hosts `--host` and `--role` pick (all of the inventory's when neither is given).
fn picked<'a>(c: &'a Cluster, pick: &PickArgs) -> Result<Vec<&'a Host>> {
    const ROLES: &[&str] = &["jobmanager", "taskmanager", "zookeeper", "fornaxee"];
    if let Some(r) = pick.role.as_deref().filter(|r| !ROLES.contains(r)) {
        return Err(Error::Usage(format!(
            "no role `{r}`; roles: {}",
            ROLES.join(", ")
        )));
    }
    for h in &pick.hosts {
        find(c, h)?;
    }
    Ok(c.hosts
        .iter()
        .filter(|h| {
            pick.hosts.is_empty() || pick.hosts.iter().any(|p| *p == h.name || *p == h.address)
        })
        .filter(|h| match pick.role.as_deref() {
            None => true,
            Some("jobmanager") => h.jobmanager,
            Some("taskmanager") => h.taskmanager,
            Some("zookeeper") => h.zookeeper,
            _ => h.fornaxee,
        })
        .collect())
}

/// A host of the inventory by name or address.
fn find<'a>(c: &'a Cluster, name: &str) -> Result<&'a Host> {
    c.hosts
        .iter()
        .find(|h| h.name == name || h.address == name)
        .ok_or_else(|| {
            let names: Vec<&str> = c.hosts.iter().map(|h| h.name.as_str()).collect();
            let hint = crate::inventory::suggest(name, names.iter().copied())
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            Error::Usage(format!(
                "no host `{name}` in {}: {hint}hosts: {}",
                c.source.display(),
                names.join(", ")
            ))
        })
}

/// Text prefixed line by line: `host | line`, the host padded to `width`.
fn prefixed(prefix: &str, text: &str) -> String {
    text.lines().map(|l| format!("{prefix} | {l}\n")).collect()
}

pub async fn exec(
    loaded: &Loaded,
    pick: &PickArgs,
    remote: &RemoteArgs,
    command: &[String],
) -> Result<i32> {
    let c = &loaded.cluster;
    let hosts = picked(c, pick)?;
    if hosts.is_empty() {
        return Err(Error::Usage("no host of the inventory is picked".into()));
    }
    let script = command.join(" ");
    let (fleet, failures) =
        Fleet::connect_lenient(&hosts, &connect_options(remote), remote.concurrency).await;
    let ids: Vec<HostId> = hosts.iter().map(|h| HostId::of(h)).collect();
    let reached: Vec<HostId> = ids
        .iter()
        .filter(|id| !failures.iter().any(|f| f.host == **id))
        .cloned()
        .collect();
    let results: BTreeMap<HostId, Result<crate::remote::Output>> = fleet
        .for_each(&reached, |id, r| {
            let script = script.clone();
            async move { r.sh(id.as_str(), &script).await }
        })
        .await
        .into_iter()
        .collect();
    fleet.close().await;
    let width = ids.iter().map(|i| i.as_str().len()).max().unwrap_or(0);
    let mut failed = Vec::new();
    for id in &ids {
        let p = format!("{:<width$}", id.as_str());
        match (results.get(id), failures.iter().find(|f| f.host == *id)) {
            (Some(Ok(o)), _) => {
                crate::report::stdout(&prefixed(&p, &o.stdout));
                eprint!("{}", prefixed(&p, &o.stderr));
                if !o.ok() {
                    failed.push(format!("{id}: exit status {}", o.code));
                }
            }
            (Some(Err(e)), _) => failed.push(format!("{id}: {e}")),
            (None, Some(f)) => failed.push(format!("{id}: not reached: {}", f.error)),
            (None, None) => {}
        }
    }
    let summary = format!(
        "exec on {}: {} failed",
        crate::report::plural(ids.len() as u64, "host"),
        failed.len()
    );
    // Standard output carries the hosts' own output alone, for pipes.
    if failed.is_empty() {
        crate::report::trace(&summary);
        Ok(exit::OK)
    } else {
        for f in &failed {
            crate::report::error_text(&format!("  {f}"));
        }
        crate::report::error_text(&summary);
        Ok(exit::FAILED)
    }
}

/// `flinkup ssh HOST [-- COMMAND]`: the system ssh, with the inventory's settings for the host.
pub fn ssh(
    loaded: &Loaded,
    host: &str,
    ssh_config: Option<std::path::PathBuf>,
    command: &[String],
) -> Result<i32> {
    let h = find(&loaded.cluster, host)?;
    let mut cmd = match h.connection {
        crate::inventory::Connection::Local => {
            let mut cmd = std::process::Command::new("sh");
            if !command.is_empty() {
                cmd.arg("-c").arg(command.join(" "));
            }
            cmd
        }
        crate::inventory::Connection::Ssh => {
            let opts = crate::remote::ConnectOptions {
                ssh_config,
                ..Default::default()
            };
            let mut cmd = std::process::Command::new("ssh");
            cmd.args(crate::remote::ssh_args(h, &opts));
            if !command.is_empty() {
                cmd.arg("--").arg(command.join(" "));
            }
            cmd
        }
    };
    let status = cmd
        .status()
        .map_err(|e| Error::io("cannot run ssh (is OpenSSH's client installed?)", e))?;
    Ok(status.code().unwrap_or(exit::FAILED))
}

/// What flinkup knows about a log line: a failure it has seen before, and what to do.
pub fn hint(line: &str) -> Option<&'static str> {
    if line.contains("Insufficient number of network buffers") {
        Some("the TaskManager ran out of network buffers: the guide's formula is slots² × TaskManagers × 4 per TaskManager; raise taskmanager.network.memory.fraction (or .max), and `flinkup status` shows the figures")
    } else if line.contains("Address already in use") || line.contains("BindException") {
        Some("a port this daemon binds is taken: `flinkup check` names the process that holds it")
    } else if line.contains("IllegalAccessError") || line.contains("InaccessibleObjectException") {
        Some("this Flink reaches JDK internals that Java 16+ closes: flinkup writes the --add-opens options unless the inventory sets env.java.opts itself; keep them there")
    } else {
        None
    }
}

/// Every picked host's log sources, as the components say, filtered.
fn sources<'a>(
    c: &'a Cluster,
    hosts: &[&'a Host],
    ask: &LogsArgs,
) -> Result<Vec<(&'a Host, LogSource)>> {
    let daemons = ["jobmanager", "taskmanager", "zookeeper", "fornaxee"];
    if let Some(d) = ask.daemon.as_deref().filter(|d| !daemons.contains(d)) {
        return Err(Error::Usage(format!(
            "no daemon `{d}`; daemons: {}",
            daemons.join(", ")
        )));
    }
    let mut out = Vec::new();
    for h in hosts {
        for comp in crate::components::registry() {
            if !comp.in_inventory(c) || ask.component.is_some_and(|o| !o.is(comp.name())) {
                continue;
            }
            for s in comp.logs(c, h) {
                if ask.daemon.as_deref().is_none_or(|d| d == s.daemon) {
                    out.push((*h, s));
                }
            }
        }
    }
    Ok(out)
}

/// The script that prints (or follows) a source's files on its host; a daemon that runs
/// under its systemd unit there is read from its journal instead.
fn log_script(s: &LogSource, ask: &LogsArgs) -> String {
    let files = format!("{}/{}", qp(&s.dir), s.pattern);
    let grep = ask
        .grep
        .as_ref()
        .map(|g| format!(" | grep --line-buffered -E -- {}", q(g)))
        .unwrap_or_default();
    let mut filter = grep.clone();
    let mut since = String::new();
    if let Some(d) = ask.since {
        // Lines that open with a timestamp (`2026-12-02 10:00:00`) at or after the cutoff,
        // and the lines that follow them (stack traces).
        since = format!(
            "C=$(date -d \"@$(( $(date +%s) - {} ))\" '+%Y-%m-%d %H:%M:%S')\n",
            d.as_secs()
        );
        filter = format!(
            " | awk -v c=\"$C\" '/^[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/ {{ keep = (substr($0, 1, 19) >= c) }} keep {{ print; fflush() }}'{filter}"
        );
    }
    // Followed in the background until flinkup's side of stdin closes (when it stops).
    let follow = |cmd: String| {
        format!(
            "({cmd}) & P=$!\ncat >/dev/null\nkill $P 2>/dev/null; pkill -P $P 2>/dev/null; exit 0"
        )
    };
    let journal = s
        .unit
        .as_ref()
        .map(|u| {
            let since = ask
                .since
                .map(|d| format!(" --since \"@$(( $(date +%s) - {} ))\"", d.as_secs()))
                .unwrap_or_default();
            let cmd = format!(
                "$S journalctl -u {u} -n {n} -o short-iso --no-pager{since}",
                u = q(u),
                n = ask.lines
            );
            let read = if ask.follow {
                follow(format!("{cmd} -f{grep}"))
            } else {
                format!("{cmd}{grep}; exit 0")
            };
            format!(
                "{privilege}if [ -f {dir}/{u} ] && [ -d /run/systemd/system ]; then\n{read}\nfi\n",
                privilege = crate::components::flink::supervise::PRIVILEGE,
                dir = crate::components::flink::supervise::UNIT_DIR,
                u = q(u)
            )
        })
        .unwrap_or_default();
    let files = if ask.follow {
        format!(
            "{since}set -- {files}; [ -f \"$1\" ] || exit 3\n{}\n",
            follow(format!("tail -n {n} -F \"$@\"{filter}", n = ask.lines))
        )
    } else if ask.since.is_some() {
        // The window first, then the last lines of it.
        format!(
            "{since}set -- {files}; [ -f \"$1\" ] || exit 3\nfor f in \"$@\"; do cat \"$f\"{filter} | tail -n {n}; done; exit 0\n",
            n = ask.lines
        )
    } else {
        format!(
            "set -- {files}; [ -f \"$1\" ] || exit 3\nfor f in \"$@\"; do tail -n {n} \"$f\"{filter}; done; exit 0\n",
            n = ask.lines
        )
    };
    journal + &files
}

pub async fn logs(
    loaded: &Loaded,
    pick: &PickArgs,
    ask: &LogsArgs,
    remote: &RemoteArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    let hosts = picked(c, pick)?;
    let srcs = sources(c, &hosts, ask)?;
    if srcs.is_empty() {
        return Err(Error::Usage(
            "no daemon of the picked hosts writes such a log (see --host, --role, --component, --daemon)"
                .into(),
        ));
    }
    let mut with_logs: Vec<&Host> = Vec::new();
    for (h, _) in &srcs {
        if !with_logs.iter().any(|x| x.name == h.name) {
            with_logs.push(h);
        }
    }
    let (fleet, failures) =
        Fleet::connect_lenient(&with_logs, &connect_options(remote), remote.concurrency).await;
    let width = srcs
        .iter()
        .map(|(h, s)| h.name.len() + 1 + s.daemon.len())
        .max()
        .unwrap_or(0);
    let label = |h: &Host, s: &LogSource| format!("{:<width$}", format!("{} {}", h.name, s.daemon));
    let mut problems: Vec<String> = failures
        .iter()
        .map(|f| format!("{}: not reached: {}", f.host, f.error))
        .collect();
    let print = |prefix: &str, line: &str| {
        let mut text = format!("{prefix} | {line}\n");
        if let Some(h) = hint(line) {
            text.push_str(&format!("{prefix} | ^ flinkup: {h}\n"));
        }
        crate::report::stdout(&text);
    };
    let live: Vec<&(&Host, LogSource)> = srcs
        .iter()
        .filter(|(h, _)| !failures.iter().any(|f| f.host == HostId::of(h)))
        .collect();
    if ask.follow {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, String)>();
        let mut tasks = Vec::new();
        for (i, (h, s)) in live.iter().enumerate() {
            let script = log_script(s, ask);
            let remote = fleet.get(&HostId::of(h))?;
            let tx = tx.clone();
            let name = h.name.clone();
            tasks.push(async move {
                let (ltx, mut lrx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let forward = async {
                    while let Some(l) = lrx.recv().await {
                        let _ = tx.send((i, l));
                    }
                };
                let run = async {
                    let r = remote.follow(&name, &script, &ltx).await;
                    drop(ltx);
                    r
                };
                let (r, _) = tokio::join!(run, forward);
                r
            });
        }
        drop(tx);
        let labels: Vec<String> = live.iter().map(|(h, s)| label(h, s)).collect();
        let mut all = Box::pin(futures_util::future::join_all(tasks));
        let interrupted = loop {
            tokio::select! {
                Some((i, line)) = rx.recv() => print(&labels[i], &line),
                _ = &mut all => break false,
                _ = tokio::signal::ctrl_c() => break true,
            }
        };
        // The follows end here: their standard input closes and tail stops on each host.
        drop(all);
        while let Ok((i, line)) = rx.try_recv() {
            print(&labels[i], &line);
        }
        fleet.close().await;
        return Ok(if interrupted { exit::OK } else { exit::FAILED });
    }
    // --concurrency hosts' logs read at once, as every per-host loop does.
    let outs = crate::fleet::bounded(live.clone(), remote.concurrency, |(h, s)| {
        let script = log_script(s, ask);
        let remote = fleet.get(&HostId::of(h));
        async move {
            match remote {
                Ok(r) => r.sh(&h.name, &script).await,
                Err(e) => Err(e),
            }
        }
    })
    .await;
    fleet.close().await;
    for ((h, s), out) in live.iter().zip(outs) {
        match out {
            Ok(o) if o.code == 3 => problems.push(format!(
                "{}: no {} log under {} ({})",
                h.name, s.daemon, s.dir, s.pattern
            )),
            Ok(o) => {
                let p = label(h, s);
                for line in o.stdout.lines() {
                    print(&p, line);
                }
            }
            Err(e) => problems.push(format!("{}: {e}", h.name)),
        }
    }
    for p in &problems {
        crate::report::error_text(&format!("  {p}"));
    }
    Ok(if problems.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    })
}

pub async fn history(
    loaded: &Loaded,
    remote: &RemoteArgs,
    json: bool,
    show: Option<&str>,
) -> Result<i32> {
    let c = &loaded.cluster;
    let site = crate::components::flink::lock_site(c);
    let host = find(c, site.host.as_str())?;
    let fleet = Fleet::connect(&[host], &connect_options(remote), 1).await?;
    let read = crate::fleet::history::read(&site, fleet.get(&site.host)?).await;
    fleet.close().await;
    let (entries, bad) = read?;
    if bad > 0 {
        crate::report::error_text(&format!(
            "warning: {bad} line{} of {} could not be read",
            if bad == 1 { "" } else { "s" },
            crate::fleet::history::file(&site)
        ));
    }
    if let Some(id) = show {
        let found: Vec<&crate::fleet::history::Entry> =
            entries.iter().filter(|e| e.id.starts_with(id)).collect();
        let e = match found.as_slice() {
            [one] => one,
            [] => {
                return Err(Error::Usage(format!(
                    "no entry `{id}` in the history of {} (`flinkup history -i {}` lists them)",
                    c.name,
                    c.source.display()
                )))
            }
            many => {
                return Err(Error::Usage(format!(
                    "`{id}` names {} entries: give more of the id",
                    many.len()
                )))
            }
        };
        if json {
            crate::report::json_line(&serde_json::to_value(e).unwrap_or_default());
            return Ok(exit::OK);
        }
        let mut t = format!(
            "Entry {}\n  command    {}\n  by         {}\n  started    {}\n  ended      {}\n  outcome    {}\n  inventory  {} (sha256 {})\n",
            e.id, e.command, e.by, e.started, e.ended, e.outcome, e.inventory, e.inventory_sha256
        );
        if let Some(err) = &e.error {
            t.push_str(&format!(
                "  error      {}
",
                err.replace('\n', "\n             ")
            ));
        }
        t.push_str(
            "Stages
",
        );
        for s in &e.stages {
            t.push_str(&format!("  {:<28} {}\n", s.name, s.outcome));
        }
        t.push_str(
            "Plan
",
        );
        t.push_str(&serde_json::to_string_pretty(&e.plan).unwrap_or_default());
        t.push('\n');
        crate::report::stdout(&t);
        return Ok(exit::OK);
    }
    if json {
        for e in &entries {
            crate::report::json_line(&serde_json::to_value(e).unwrap_or_default());
        }
        return Ok(exit::OK);
    }
    let mut t = format!(
        "{:<22} {:<21} {:<24} {:<9} {:<12} STAGES\n",
        "ID", "STARTED", "BY", "COMMAND", "OUTCOME"
    );
    for e in &entries {
        let stages: Vec<String> = e
            .stages
            .iter()
            .map(|s| {
                if s.outcome == "done" {
                    s.name.clone()
                } else {
                    format!("{} ({})", s.name, s.outcome)
                }
            })
            .collect();
        t.push_str(&format!(
            "{:<22} {:<21} {:<24} {:<9} {:<12} {}\n",
            e.id,
            e.started,
            e.by,
            e.command,
            e.outcome,
            stages.join(", ")
        ));
    }
    if entries.is_empty() {
        t.push_str("(no plan applied yet)\n");
    }
    crate::report::stdout(&t);
    Ok(exit::OK)
}
