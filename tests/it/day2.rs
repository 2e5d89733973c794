//! Day-2 on a running cluster, on real test hosts: resize without restarts, restart only
//! what changed, and running jobs protected by savepoints.

use std::time::{Duration, Instant};

use crate::support::{flinkup, flinkup_without_user, root};
use crate::testbed::{flink_dist, flink_lock, Spec, Testbed};

fn tm_ids_by_host(tb: &Testbed) -> Vec<(String, String)> {
    let v = tb
        .get(&format!("http://{}:8082/taskmanagers", tb.ip(0)))
        .expect("GET /taskmanagers");
    let mut out: Vec<(String, String)> = v["taskmanagers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let path = t["path"].as_str().unwrap_or_default();
            let host = tb
                .hosts
                .iter()
                .find(|h| path.contains(&format!("@{}:", h.ip)))
                .map(|h| h.ip.clone())
                .unwrap_or_default();
            (host, t["id"].as_str().unwrap().to_string())
        })
        .collect();
    out.sort();
    out
}

/// An inventory of cluster `day2`, each variant in its own directory.
fn inventory(tb: &Testbed, tms: &[usize], slots: u32, jm_heap: &str) -> std::path::PathBuf {
    let base =
        std::fs::read_to_string(tb.guide_inventory("day2", slots, "cluster-script")).unwrap();
    let list: Vec<&str> = tms.iter().map(|i| tb.ip(*i)).collect();
    let text = base
        .replace(
            &format!("taskmanagers: [{}, {}]", tb.ip(1), tb.ip(0)),
            &format!("taskmanagers: [{}]", list.join(", ")),
        )
        .replace(
            "jobmanager.heap.size: 512m",
            &format!("jobmanager.heap.size: {jm_heap}"),
        );
    let tag: Vec<String> = tms.iter().map(|i| i.to_string()).collect();
    let dir = tb
        .dir
        .join(format!("inv-{}-{slots}-{jm_heap}", tag.join("")));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("day2.yaml");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn resize_restart_what_changed_and_protect_jobs() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    let two = inventory(&tb, &[1, 0], 2, "512m");
    flinkup(tb.cmd("deploy", &two, &["--yes", "--quiet"])).expect_code(0);
    let jm = tb.jm_pid();
    let before = tm_ids_by_host(&tb);
    assert_eq!(before.len(), 2);

    // 2 -> 3: only the new host's TaskManager starts.
    let three = inventory(&tb, &[1, 0, 2], 2, "512m");
    let run = flinkup(tb.cmd("deploy", &three, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains(&format!("+ start    taskmanager on {}", tb.ip(2))) && !out.contains("~ stop"),
        "{out}"
    );
    assert_eq!(tb.jm_pid(), jm, "the JobManager kept running");
    let now = tm_ids_by_host(&tb);
    for t in &before {
        assert!(now.contains(t), "{t:?} kept its id: {now:?}");
    }
    assert_eq!(now.len(), 3);
    let workers =
        std::fs::read_to_string(tb.hosts[0].opt().join("flink-1.9.3/conf/slaves")).unwrap();
    assert!(
        workers.contains(tb.ip(2)),
        "the slaves file lists the new host: {workers}"
    );
    let status = flinkup(tb.cmd("status", &three, &[]))
        .expect_code(0)
        .stdout();
    assert!(status.contains("3 TaskManagers"), "{status}");

    // 3 -> 2: the removed host's TaskManager stops and its release goes; nothing else.
    let run = flinkup(tb.cmd("deploy", &two, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("retire") && out.contains("not counting 1 stale registration"),
        "{out}"
    );
    assert!(
        tb.hosts[2].java_pids().is_empty(),
        "no Flink JVM on the removed host"
    );
    assert!(!tb.hosts[2].opt().join("flink-1.9.3").exists());
    assert_eq!(tb.jm_pid(), jm, "the JobManager kept running");
    let now = tm_ids_by_host(&tb);
    for t in &before {
        assert!(now.contains(t), "{t:?} kept its id: {now:?}");
    }
    let history = flinkup(tb.cmd("history", &two, &[]))
        .expect_code(0)
        .stdout();
    let last = history.lines().last().unwrap_or_default();
    assert!(
        history.lines().count() == 4 && last.contains(" done ") && last.contains("retire"),
        "deploy, scale-out, scale-in: {history}"
    );
    // Right after the scale-in the JobManager may still list the removed host's TaskManager:
    // status calls the cluster healthy and the registration stale, never a missing one.
    let listed = tb.tm_ids().len();
    let run = flinkup(tb.cmd("status", &two, &[])).expect_code(0);
    let status = run.stdout();
    assert!(
        status.contains("Healthy.") && !status.contains("missing"),
        "{status}"
    );
    if listed == 3 {
        assert!(
            status.contains("stale registration") && status.contains(&format!("({})", tb.ip(2))),
            "{status}"
        );
    }
    // Removing every TaskManager host of the record is refused without --force.
    let only_new = inventory(&tb, &[2], 2, "512m");
    let run = flinkup(tb.cmd("deploy", &only_new, &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr().contains("every recorded TaskManager host"),
        "{}",
        run.stderr()
    );

    // Slots changed: a TaskManager key. The JobManager keeps running; TaskManagers restart
    // one host at a time, each verified before the next.
    let slots = inventory(&tb, &[1, 0], 3, "512m");
    let run = flinkup(tb.cmd("deploy", &slots, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("restart taskmanagers (Flink) · 2 hosts, 1 at a time"),
        "{out}"
    );
    assert_eq!(tb.jm_pid(), jm, "the JobManager kept running");
    assert_eq!(tb.overview().expect("GET /overview"), (2, 6));
    let err = run.stderr();
    let first = err
        .find(&format!("{}: stop", tb.ip(1)))
        .expect("host 2 stopped");
    let back = err.find("TaskManager ").expect("a TaskManager came back");
    let second = err
        .find(&format!("{}: stop", tb.ip(0)))
        .expect("host 1 stopped");
    assert!(first < back && back < second, "one host at a time:\n{err}");

    // A running job and a JobManager key: refused without --savepoint or --force.
    let jar = root().join("target/flink-jobs/pressure.jar");
    std::fs::copy(&jar, tb.hosts[0].root.join("tmp/pressure.jar")).unwrap();
    let out = tb.hosts[0].exec(
        "export USER=root HOME=/root; /opt/flink/bin/flink run -d /tmp/pressure.jar fast 2>&1",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let start = Instant::now();
    while tb
        .get(&format!("http://{}:8082/jobs/overview", tb.ip(0)))
        .and_then(|v| {
            v["jobs"]
                .as_array()
                .map(|a| a.iter().any(|j| j["state"] == "RUNNING"))
        })
        != Some(true)
    {
        assert!(start.elapsed() < Duration::from_secs(60), "the job runs");
        std::thread::sleep(Duration::from_millis(300));
    }
    let heap = inventory(&tb, &[1, 0], 3, "600m");
    let run = flinkup(tb.cmd("deploy", &heap, &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr().contains("running job") && run.stderr().contains("--savepoint"),
        "{}",
        run.stderr()
    );
    assert_eq!(tb.jm_pid(), jm, "nothing was restarted");
    let run = flinkup(tb.cmd(
        "deploy",
        &heap,
        &["--yes", "--quiet", "--savepoint", "file:///tmp/savepoints"],
    ))
    .expect_code(0);
    let err = run.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("stopped with a savepoint at"))
        .unwrap_or_else(|| panic!("the savepoint path is printed:\n{err}"));
    assert!(line.contains("resume it with:"), "{line}");
    let path = line
        .split("savepoint at ")
        .nth(1)
        .and_then(|r| r.split(';').next())
        .unwrap()
        .trim_start_matches("file:");
    assert!(
        tb.hosts[0]
            .exec(&format!("test -e {path}/_metadata"))
            .status
            .success(),
        "the savepoint exists: {path}"
    );
    assert_ne!(
        tb.jm_pid(),
        jm,
        "the JobManager restarted with its new heap"
    );
    assert_eq!(tb.overview().expect("GET /overview"), (2, 6));

    // A TaskManager JVM killed: status names the host at once, though the JobManager still
    // lists the registration until its heartbeat times out.
    for p in tb.hosts[1].java_pids() {
        let _ = std::process::Command::new("kill")
            .args(["-9", &p.to_string()])
            .status();
    }
    assert_eq!(
        tb.overview().expect("GET /overview").0,
        2,
        "still listed by the JobManager"
    );
    let run = flinkup(tb.cmd("status", &heap, &[])).expect_code(1);
    let status = run.stdout();
    assert!(
        status.contains(&format!("no TaskManager runs on {}", tb.ip(1)))
            && status.contains("stale registration")
            && !status.contains("Healthy."),
        "{status}"
    );
    let json = flinkup(tb.cmd("status", &heap, &["--json"])).expect_code(1);
    let v = json.event("status");
    assert_eq!(v["healthy"], false);
    let stale: Vec<&serde_json::Value> = v["registrations"]["registrations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| !r["stale"].is_null())
        .collect();
    assert_eq!(stale.len(), 1, "{v}");
    assert_eq!(stale[0]["host"], tb.ip(1));
}

#[test]
fn upgrade_with_automatic_rollback_and_rollback_on_purpose() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let inv = |version: &str, tgz: &std::path::Path, tag: &str| {
        let text = format!(
            "cluster: upgrade\nflink:\n  version: {version}\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 768m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 40s\n  smoke: false\n",
            tgz.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        );
        let dir = tb.dir.join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("upgrade.yaml");
        std::fs::write(&p, text).unwrap();
        p
    };
    let old = inv("1.9.3", &flink_dist("flink-1.9.3-bin-scala_2.11.tgz"), "a");
    // Staged first: installed and configured, nothing started; a later deploy only starts.
    let run = flinkup(tb.cmd("deploy", &old, &["--yes", "--quiet", "--no-start"])).expect_code(0);
    assert!(!run.stdout().contains("+ start"), "{}", run.stdout());
    for h in &tb.hosts {
        assert!(
            h.java_pids().is_empty(),
            "nothing started on {}",
            h.hostname
        );
        assert!(h.opt().join("flink-1.9.3/conf/flink-conf.yaml").exists());
    }
    let run = flinkup(tb.cmd("deploy", &old, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("+ start") && !run.stdout().contains("+ upload"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.flink_version(), "1.9.3");

    // A new release that cannot start: rolled back automatically, 1.9.3 verified again.
    let damaged = inv(
        "1.10.3",
        &flink_dist("damaged/flink-1.10.3-bin-scala_2.11.tgz"),
        "b",
    );
    let run =
        flinkup_without_user(tb.cmd("deploy", &damaged, &["--yes", "--quiet"])).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("Rolled back: Flink 1.9.3 runs again and is verified"),
        "{err}"
    );
    assert!(err.contains("did not come up"), "the cause: {err}");
    assert!(
        run.stdout().contains("If stages"),
        "the plan shows the way back"
    );
    assert_eq!(tb.flink_version(), "1.9.3");
    // The history has the three runs and how each ended; the one run without USER names the
    // account all the same.
    let history = flinkup(tb.cmd("history", &damaged, &[]))
        .expect_code(0)
        .stdout();
    let rows: Vec<&str> = history.lines().skip(1).collect();
    assert_eq!(rows.len(), 3, "{history}");
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for r in &rows {
        assert!(r.contains(&format!("root@{}", machine.trim())), "{history}");
    }
    assert!(
        rows[0].contains(" deploy ") && rows[0].contains(" done ") && rows[0].contains("install"),
        "{history}"
    );
    assert!(
        rows[1].contains(" done ") && rows[1].contains("start"),
        "{history}"
    );
    assert!(
        rows[2].contains(" rolled back ")
            && rows[2].contains("verify (failed)")
            && rows[2].contains("rollback: "),
        "{history}"
    );
    let id = rows[2].split_whitespace().next().unwrap();
    let show = flinkup(tb.cmd("history", &damaged, &["show", id]))
        .expect_code(0)
        .stdout();
    assert!(
        show.contains("outcome    rolled back") && show.contains("\"command\": \"deploy\""),
        "{show}"
    );

    // The real 1.10.3: unpacked beside 1.9.3 (the damaged one replaced), verified.
    let new = inv(
        "1.10.3",
        &flink_dist("flink-1.10.3-bin-scala_2.11.tgz"),
        "c",
    );
    let run = flinkup(tb.cmd("deploy", &new, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("unpacked from another archive"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stdout().contains("taskmanager.memory.flink.size: 768m"),
        "1.10's memory key: {}",
        run.stdout()
    );
    assert_eq!(tb.flink_version(), "1.10.3");
    tb.user_job_runs(&root().join("target/flink-jobs/pressure.jar"), "fast");
    for h in &tb.hosts {
        assert!(
            h.opt().join("flink-1.9.3/bin/start-cluster.sh").exists(),
            "1.9.3 kept"
        );
    }

    // Rollback on purpose: a plan, then 1.9.3 verified.
    let plan = flinkup(tb.cmd("rollback", &new, &["--dry-run"]))
        .expect_code(0)
        .stdout();
    assert!(plan.contains("/opt/flink -> /opt/flink-1.9.3"), "{plan}");
    assert_eq!(tb.flink_version(), "1.10.3", "a dry run changes nothing");
    let run = flinkup(tb.cmd("rollback", &new, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("rolled back and verified"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.flink_version(), "1.9.3");

    // Destroy removes every release flinkup installed.
    flinkup(tb.cmd("destroy", &new, &["--yes"])).expect_code(0);
    for h in &tb.hosts {
        assert!(!h.opt().join("flink-1.9.3").exists() && !h.opt().join("flink-1.10.3").exists());
    }
}
