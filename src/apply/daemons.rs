//! Starting and stopping Flink's daemons, and finding out why one did not come up.

use futures_util::future::join_all;

use crate::error::Result;
use crate::inventory::{Cluster, StartMode};
use crate::remote::{qp, Remote};
use crate::report::{Event, Reporter};
use crate::verify::Rest;

/// Runs a Flink script detached from the ssh session: `setsid` puts it in a new session so
/// the daemons it forks get no SIGHUP when the connection closes (a naive `ssh host
/// start-cluster.sh` loses the JobManager that way); `-w` still waits for the script itself.
fn detached(script_path: &str, args: &str, log: &str) -> String {
    format!(
        "export USER=\"${{USER:-$(id -un)}}\"; mkdir -p \"$(dirname {log})\" && setsid -w {s} {args} < /dev/null > {log} 2>&1; rc=$?; cat {log}; exit $rc",
        s = qp(script_path),
        log = qp(log),
    )
}

pub async fn start(cluster: &Cluster, remotes: &[Remote], mode: StartMode) -> Result<()> {
    let link = cluster.current_link();
    let log = format!("{link}/log/flinkup-start.log");
    let jm = cluster.jobmanager();
    match mode {
        StartMode::ClusterScript => {
            let s = detached(&format!("{link}/bin/start-cluster.sh"), "", &log);
            remotes[0]
                .must(&jm.name, "start-cluster.sh failed", &s)
                .await?;
        }
        StartMode::Direct => {
            let s = detached(&format!("{link}/bin/jobmanager.sh"), "start", &log);
            remotes[0]
                .must(&jm.name, "jobmanager.sh start failed", &s)
                .await?;
            let tms = cluster.tm_order.iter().map(|&i| {
                let h = &cluster.hosts[i];
                let s = detached(
                    &format!("{link}/bin/taskmanager.sh"),
                    "start",
                    &format!("{link}/log/flinkup-start-tm.log"),
                );
                async move {
                    remotes[i]
                        .must(&h.name, "taskmanager.sh start failed", &s)
                        .await
                }
            });
            for r in join_all(tms).await {
                r?;
            }
        }
    }
    Ok(())
}

/// The TaskManager ids the JobManager still lists for hosts whose TaskManager is dead: it
/// keeps them until their heartbeat times out, so they must not count as started.
pub async fn stale_ids(
    cluster: &Cluster,
    jm: &Remote,
    daemons: &[(String, String)],
) -> Vec<String> {
    let jm_host = cluster.jobmanager();
    let rest = Rest::new(&jm_host.name, cluster.rest_port, &jm_host.name, jm);
    let registered = rest.taskmanagers().await.unwrap_or_default();
    registered
        .into_iter()
        .filter(|t| {
            daemons.iter().any(|(name, role)| {
                role == "taskmanager"
                    && cluster
                        .hosts
                        .iter()
                        .any(|h| &h.name == name && t.runs_on(h))
            })
        })
        .map(|t| t.id)
        .collect()
}

/// Starts the given daemons (host name, role), the JobManager first, each on its own host.
pub async fn start_missing(
    cluster: &Cluster,
    remotes: &[Remote],
    daemons: &[(String, String)],
) -> Result<()> {
    let link = cluster.current_link();
    for role in ["jobmanager", "taskmanager"] {
        let jobs = daemons.iter().filter(|(_, r)| r == role).map(|(name, _)| {
            let i = cluster.hosts.iter().position(|h| &h.name == name);
            let s = detached(
                &format!("{link}/bin/{role}.sh"),
                "start",
                &format!("{link}/log/flinkup-start-{role}.log"),
            );
            async move {
                match i {
                    Some(i) => remotes[i]
                        .must(name, &format!("{role}.sh start failed"), &s)
                        .await
                        .map(drop),
                    None => Ok(()),
                }
            }
        });
        for r in join_all(jobs).await {
            r?;
        }
    }
    Ok(())
}

/// Stops every Flink daemon flinkup manages, on every host in parallel, by the pids in
/// Flink's pid files (independent of the slaves file, which may just have changed), and
/// waits until those processes are gone; what is still alive after 30 s gets SIGKILL.
pub async fn stop(cluster: &Cluster, remotes: &[Remote], rep: &dyn Reporter) -> Result<()> {
    let bin = qp(&format!("{}/bin", cluster.current_link()));
    let pid_dir = cluster
        .config
        .get("env.pid.dir")
        .map(|d| qp(d))
        .unwrap_or_else(|| "/tmp".into());
    let jobs = cluster.hosts.iter().enumerate().map(|(i, h)| {
        let script = format!(
            r#"set +e
{alive_fn}
U=${{USER:-$(id -un)}}; export USER="$U"
P=$(cat {pid_dir}/flink-$U-standalonesession.pid {pid_dir}/flink-$U-taskexecutor.pid 2>/dev/null)
if [ -x {bin}/taskmanager.sh ]; then {bin}/taskmanager.sh stop-all >/dev/null 2>&1; {bin}/jobmanager.sh stop-all >/dev/null 2>&1; fi
left=""
for i in $(seq 60); do
  left=""; for p in $P; do alive "$p" && left="$left $p"; done
  [ -z "$left" ] && exit 0
  sleep 0.5
done
kill -9 $left 2>/dev/null; echo "killed:$left""#,
            alive_fn = crate::facts::ALIVE_FN,
        );
        async move { (h, remotes[i].sh(&h.name, &script).await) }
    });
    for (h, r) in join_all(jobs).await {
        let out = r?;
        if let Some(k) = out.stdout.lines().find_map(|l| l.strip_prefix("killed:")) {
            rep.event(&Event::Warning {
                message: format!("{}: Flink did not stop within 30s; killed{k}", h.name),
            });
        }
    }
    Ok(())
}

/// After a failed verification: which TaskManager hosts are missing, and their log tails.
pub async fn diagnose(cluster: &Cluster, remotes: &[Remote], rest: &Rest<'_>) -> String {
    let registered = rest.taskmanagers().await.unwrap_or_default();
    let mut out = String::new();
    let link = cluster.current_link();
    for &i in &cluster.tm_order {
        let h = &cluster.hosts[i];
        if registered.iter().any(|t| t.runs_on(h)) {
            continue;
        }
        out.push_str(&format!("\n  TaskManager on {} is missing", h.name));
        let script = format!(
            "for f in {l}/log/flink-*-taskexecutor-*.log {l}/log/flink-*-taskexecutor-*.out {l}/log/flinkup-start*.log; do [ -s \"$f\" ] && {{ echo \"--- $f\"; tail -n 15 \"$f\"; }}; done; exit 0",
            l = qp(&link)
        );
        match remotes[i].sh(&h.name, &script).await {
            Ok(o) if !o.stdout.trim().is_empty() => {
                for line in o.stdout.lines() {
                    out.push_str("\n    ");
                    out.push_str(line);
                }
            }
            Ok(_) => out.push_str(" (no Flink log on the host)"),
            Err(e) => out.push_str(&format!(" (cannot read its logs: {e})")),
        }
    }
    if !registered.is_empty() {
        out.push_str(&format!(
            "\n  registered: {}",
            registered
                .iter()
                .map(|t| t.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}
