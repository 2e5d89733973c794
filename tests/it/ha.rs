//! High availability on real test hosts, against a ZooKeeper the site runs: Flink's own
//! quorum peer from the 1.9.3 distribution, started by hand on host 3 (flinkup never starts or
//! stops an ensemble named by `ha.zookeeper_quorum`). Job metadata goes to a directory outside
//! the hosts' private ones, which every host sees like an NFS mount.

use std::time::{Duration, Instant};

use crate::support::{flinkup, root};
use crate::testbed::{flink_lock, Spec, Testbed};

/// The release's Scala build and the tests' checkpointing job compiled against it.
fn scala_and_job(version: &str) -> (&'static str, std::path::PathBuf) {
    if version.starts_with("1.9") {
        ("2.11", root().join("target/flink-jobs/pressure.jar"))
    } else {
        (
            "2.12",
            root().join(format!("target/flink-jobs/{version}/pressure.jar")),
        )
    }
}

/// Starts a one-server ZooKeeper on host `i` as a site would, with the quorum peer of the
/// release under test (releases from 1.15 talk only to ZooKeeper 3.5 and later; 1.9 ships 3.4).
fn site_zookeeper(tb: &Testbed, i: usize, version: &str, scala: &str) {
    std::fs::copy(
        crate::testbed::flink_dist(&format!("flink-{version}-bin-scala_{scala}.tgz")),
        tb.hosts[i].root.join("tmp/flink.tgz"),
    )
    .unwrap();
    // 1.9 ships no Java options for Java 17; later releases' shipped configuration has them.
    let opens = if version.starts_with("1.9") {
        format!(
            "printf 'env.java.opts: {}\\n' > /opt/zk/flink-{version}/conf/flink-conf.yaml",
            flinkup::components::flink::render::JDK_OPENS
        )
    } else {
        String::new()
    };
    let out = tb.hosts[i].exec(&format!(
        "set -e; export USER=root HOME=/root; mkdir -p /opt/zk && tar xzf /tmp/flink.tgz -C /opt/zk
{opens}
printf 'tickTime=2000\\ninitLimit=10\\nsyncLimit=5\\nclientPort=2181\\ndataDir=/tmp/zk\\nserver.1={ip}:2888:3888\\n' > /opt/zk/flink-{version}/conf/zoo.cfg
/opt/zk/flink-{version}/bin/zookeeper.sh start 1 < /dev/null > /tmp/zk.log 2>&1",
        ip = tb.ip(i),
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    tb.wait_listening(i, 2181, 60, "ZooKeeper listens on 2181");
}

/// The guide's cluster on 1.9.3 with `ha:` (ZooKeeper on host 3, storage shared by every
/// host): see [`recovers_its_jobs`].
#[test]
fn a_jobmanager_restarted_recovers_its_jobs_from_zookeeper_and_shared_storage() {
    recovers_its_jobs("1.9.3");
}

/// The same on Flink 2.2 (`high-availability.type`, config.yaml, a job of the 2.x API).
#[test]
fn a_jobmanager_restarted_recovers_its_jobs_on_flink_2_2() {
    recovers_its_jobs("2.2.1");
}

/// The HA keys written, the ensemble checked and shown by status; a checkpointing job
/// survives its JobManager's death: `deploy` starts the JobManager again and the same job runs
/// on, restored from its latest checkpoint. With ZooKeeper gone, status says the quorum is
/// lost.
fn recovers_its_jobs(version: &str) {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    let (scala, jar) = scala_and_job(version);
    site_zookeeper(&tb, 2, version, scala);
    let storage = tb.dir.join("ha-storage");
    let inv = tb.inventory(
        "ha",
        &format!(
            "flink:\n  version: {version}\n  scala: \"{scala}\"\n  install_dir: /opt\n  artifact:\n    path: {tgz}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 180s\n  smoke: false\nha:\n  storage_dir: file://{storage}\n  zookeeper_quorum: \"{zk}:2181\"\n",
            tgz = crate::testbed::flink_dist(&format!("flink-{version}-bin-scala_{scala}.tgz")).display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
            storage = storage.display(),
            zk = tb.ip(2),
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout()
            .contains("high-availability.zookeeper.quorum: ")
            && run.stdout().contains("high-availability.cluster-id: ha"),
        "{}",
        run.stdout()
    );
    assert!(
        run.stderr().contains("one ZooKeeper server"),
        "a lone server is a warning: {}",
        run.stderr()
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    let status = flinkup(tb.cmd("status", &inv, &[])).expect_code(0).stdout();
    assert!(
        status.contains(&format!(
            "HA: ZooKeeper working: 1/1 servers answer, leader {}:2181",
            tb.ip(2)
        )),
        "{status}"
    );

    // A job with checkpoints; then its JobManager dies.
    std::fs::copy(&jar, tb.hosts[0].root.join("tmp/pressure.jar")).unwrap();
    let id = tb.submit("", "/tmp/pressure.jar", "fast");
    tb.wait_checkpoints(&id, 2);
    let tms = tb.tm_ids();
    let _ = std::process::Command::new("kill")
        .args(["-9", &tb.jm_pid().to_string()])
        .status();
    while tb.overview().is_some() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains(&format!(
            "+ start    jobmanager on {} (not running",
            tb.ip(0)
        )),
        "{}",
        run.stdout()
    );
    // The same job runs again, restored from a checkpoint kept in ZooKeeper and the storage.
    let url = format!("http://{}:8082/jobs/{id}/checkpoints", tb.ip(0));
    let start = Instant::now();
    loop {
        let v = tb.get(&url);
        let restored = v
            .as_ref()
            .and_then(|v| v["counts"]["restored"].as_u64())
            .unwrap_or(0);
        let running = tb
            .get(&format!("http://{}:8082/jobs/{id}", tb.ip(0)))
            .and_then(|v| v["state"].as_str().map(str::to_string))
            == Some("RUNNING".into());
        if restored >= 1 && running {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "job {id} not restored and running: {v:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(
        tb.tm_ids().len(),
        tms.len(),
        "the TaskManagers registered again"
    );
    tb.hosts[0].exec(&format!(
        "export USER=root HOME=/root; /opt/flink/bin/flink cancel {id} >/dev/null 2>&1"
    ));

    // ZooKeeper gone: status says the quorum is lost, and deploy refuses to start anything.
    tb.hosts[2].exec(&format!(
        "export USER=root HOME=/root; /opt/zk/flink-{version}/bin/zookeeper.sh stop"
    ));
    while std::net::TcpStream::connect((tb.ip(2), 2181)).is_ok() {
        std::thread::sleep(Duration::from_millis(200));
    }
    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(1);
    assert!(
        run.stdout().contains("ZooKeeper quorum LOST"),
        "{}",
        run.stdout()
    );
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--force", "--quiet"])).expect_code(0);
}

/// Kills the ZooKeeper peer running on host `i`.
fn kill_peer(tb: &Testbed, i: usize) {
    let pid = tb.hosts[i]
        .java_pids()
        .into_iter()
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("FlinkZooKeeperQuorumPeer"))
                .unwrap_or(false)
        })
        .expect("a ZooKeeper peer runs there");
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    while std::net::TcpStream::connect((tb.ip(i), 2181)).is_ok() {
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// flinkup's own quorum (`ha.zookeeper`): a peer on each of three hosts, started and verified
/// before the JobManager (whose host runs no TaskManager, yet start-cluster.sh logs in there
/// in HA mode), shown by status; one peer lost leaves it working but degraded, two
/// lose the quorum (status exit 1); `deploy` starts the dead peers and touches nothing else;
/// stop and destroy stop the peers after Flink.
#[test]
fn flinkups_own_zookeeper_quorum_on_three_hosts() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    let storage = tb.dir.join("ha-storage");
    let base = std::fs::read_to_string(tb.guide_inventory("zk", 2, "cluster-script")).unwrap();
    let inv = tb.inventory(
        "zk",
        &format!(
            "{}ha:\n  storage_dir: file://{}\n  zookeeper: [{}, {}, {}]\n",
            base.trim_start_matches("cluster: zk\n")
                .replace(
                    "verify:\n  timeout: 120s\n",
                    "verify:\n  timeout: 180s\n  smoke: false\n"
                )
                // The JobManager host runs no TaskManager: start-cluster.sh still logs in there.
                .replace(
                    &format!("taskmanagers: [{}, {}]", tb.ip(1), tb.ip(0)),
                    &format!("taskmanagers: [{}, {}]", tb.ip(1), tb.ip(2))
                ),
            storage.display(),
            tb.ip(0),
            tb.ip(1),
            tb.ip(2)
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    let zk_start = out.find("zookeeper start").expect("the peers start");
    let flink_start = out.find("+ start    cluster on").expect("then Flink");
    assert!(zk_start < flink_start, "{out}");
    assert!(
        out.contains(&format!("server.3={}:2888:3888", tb.ip(2))),
        "{out}"
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    let status = flinkup(tb.cmd("status", &inv, &[])).expect_code(0).stdout();
    assert!(
        status.contains("HA: ZooKeeper working: 3/3 servers answer, leader "),
        "{status}"
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("Plan: 3 hosts, 0 changes"),
        "{}",
        run.stdout()
    );

    // One peer lost: working, degraded. Two: the quorum is lost.
    kill_peer(&tb, 2);
    // The two left may be electing a new leader for a moment.
    let start = Instant::now();
    loop {
        let run = flinkup(tb.cmd("status", &inv, &[]));
        let status = run.stdout();
        if run.code() == 0
            && status.contains("working, degraded: 2/3 servers answer, leader")
            && status.contains(&format!("not answering: {}:2181", tb.ip(2)))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "exit {}: {status}",
            run.code()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    kill_peer(&tb, 1);
    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(1);
    assert!(
        run.stdout().contains("ZooKeeper quorum LOST"),
        "{}",
        run.stdout()
    );

    // deploy starts the two dead peers, one at a time, and the quorum forms again.
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    for i in [1, 2] {
        assert!(
            out.contains(&format!(
                "+ start    zookeeper on {} (not running)",
                tb.ip(i)
            )),
            "{out}"
        );
    }
    assert!(
        !out.contains("start-cluster.sh"),
        "Flink is not restarted: {out}"
    );
    let status = flinkup(tb.cmd("status", &inv, &[])).expect_code(0).stdout();
    assert!(status.contains("HA: ZooKeeper working: 3/3"), "{status}");

    // Stop and destroy take the peers down after Flink.
    let run = flinkup(tb.cmd("stop", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.find("zookeeper stop").unwrap() > out.find("Stage 1/").unwrap(),
        "{out}"
    );
    for i in 0..3 {
        assert!(std::net::TcpStream::connect((tb.ip(i), 2181)).is_err());
    }
    flinkup(tb.cmd("start", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(tb.overview(), Some((2, 4)));
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
    for h in &tb.hosts {
        assert!(h.java_pids().is_empty(), "nothing runs on {}", h.hostname);
        assert!(!h.opt().join("flink-1.9.3").exists());
    }
}

/// The pid of the JobManager on host `i`, if one runs there.
fn jobmanager_pid(tb: &Testbed, i: usize) -> Option<u32> {
    tb.hosts[i].java_pids().into_iter().find(|p| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains("StandaloneSessionClusterEntrypoint"))
            .unwrap_or(false)
    })
}

/// The pids of the TaskManagers on the first `n` hosts.
fn taskmanager_pids(tb: &Testbed, n: usize) -> Vec<u32> {
    (0..n)
        .flat_map(|i| tb.hosts[i].java_pids())
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("TaskManagerRunner"))
                .unwrap_or(false)
        })
        .collect()
}

/// The status line of host `i` (its name is its address).
fn status_line(status: &str, tb: &Testbed, i: usize) -> String {
    status
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{} ", tb.ip(i))))
        .unwrap_or_default()
        .to_string()
}

/// Waits until job `id`, asked at host `i`'s REST API, runs restored from a checkpoint at
/// least `restored` times.
fn wait_restored(tb: &Testbed, i: usize, id: &str, restored: u64) {
    let start = Instant::now();
    loop {
        let base = format!("http://{}:8082/jobs/{id}", tb.ip(i));
        let state = tb
            .get(&base)
            .and_then(|v| v["state"].as_str().map(str::to_string));
        let n = tb
            .get(&format!("{base}/checkpoints"))
            .and_then(|v| v["counts"]["restored"].as_u64())
            .unwrap_or(0);
        assert_ne!(state.as_deref(), Some("CANCELED"), "job {id} was cancelled");
        if state.as_deref() == Some("RUNNING") && n >= restored {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "job {id} at {}: {state:?}, restored {n} times, waited for {restored}",
            tb.ip(i)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Two JobManagers on 1.9.3 with flinkup's own quorum: see [`failover`].
#[test]
fn two_jobmanagers_fail_over_and_the_dead_one_comes_back_as_standby() {
    failover("1.9.3");
}

/// The same on Flink 2.2.
#[test]
fn two_jobmanagers_fail_over_on_flink_2_2() {
    failover("2.2.1");
}

/// Three hosts, two JobManagers, three ZooKeeper peers, two TaskManagers: storage under a
/// host's private /tmp is refused before anything starts; with shared storage the cluster
/// comes up and status names the leader; a checkpointing job runs; the leader's JVM is
/// killed and the standby leads with the same job restored from its checkpoint; `deploy`
/// starts the killed one again as a standby and restarts no TaskManager; a JobManager setting
/// changed restarts the standby first and the leader last, and the job runs on.
fn failover(version: &str) {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    let (scala, jar) = scala_and_job(version);
    let body = |storage: &str, extra: &str| {
        format!(
            "flink:\n  version: {version}\n  scala: \"{scala}\"\n  install_dir: /opt\n  artifact:\n    path: {tgz}\nssh:\n  user: root\njobmanagers: [{h1}, {h2}]\ntaskmanagers: [{h1}, {h2}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\n  high-availability.zookeeper.client.session-timeout: 10000\n{extra}verify:\n  timeout: 180s\n  smoke: false\nha:\n  storage_dir: file://{storage}\n  zookeeper: [{h1}, {h2}, {h3}]\n",
            tgz = crate::testbed::flink_dist(&format!("flink-{version}-bin-scala_{scala}.tgz"))
                .display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
            h3 = tb.ip(2),
        )
    };

    // /tmp is each host's own: the standby would find nothing there.
    let inv = tb.inventory("ha2", &body("/tmp/flink-ha", ""));
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr().contains(&format!(
            "ha.storage_dir file:///tmp/flink-ha is not shared: {} cannot see the marker {} wrote",
            tb.ip(1),
            tb.ip(0)
        )),
        "{}",
        run.stderr()
    );
    for h in &tb.hosts {
        assert!(
            h.java_pids().is_empty(),
            "nothing started on {}",
            h.hostname
        );
        assert!(!h.opt().join("flink").exists(), "nothing installed");
    }

    let storage = tb.dir.join("ha-storage");
    let inv = tb.inventory("ha2", &body(&storage.display().to_string(), ""));
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("2 JobManagers, 2 TaskManagers"),
        "{}",
        run.stdout()
    );
    // The verification names the leader.
    assert!(
        run.stderr().contains(" leads; standing by: "),
        "{}",
        run.stderr()
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    // Which one leads shows once it has logged its leadership.
    let start = Instant::now();
    let (leader, standby) = loop {
        let status = flinkup(tb.cmd("status", &inv, &[])).stdout();
        let lines = [status_line(&status, &tb, 0), status_line(&status, &tb, 1)];
        match (
            lines.iter().position(|l| l.contains("jobmanager (leader)")),
            lines
                .iter()
                .position(|l| l.contains("jobmanager (standby)")),
        ) {
            (Some(l), Some(s)) => break (l, s),
            _ => assert!(
                start.elapsed() < Duration::from_secs(60),
                "one leader, one standby:\n{status}"
            ),
        }
        std::thread::sleep(Duration::from_millis(500));
    };

    // A job with checkpoints; then the leading JobManager's JVM dies.
    std::fs::copy(&jar, tb.hosts[0].root.join("tmp/pressure.jar")).unwrap();
    let id = tb.submit("", "/tmp/pressure.jar", "fast");
    tb.wait_checkpoints(&id, 2);
    let t = Instant::now();
    flinkup(tb.cmd("status", &inv, &[]));
    crate::support::report(format!(
        "status of Flink {version} with one running job: {:.1}s",
        t.elapsed().as_secs_f64()
    ));
    let tms = taskmanager_pids(&tb, 2);
    assert_eq!(tms.len(), 2);
    let pid = jobmanager_pid(&tb, leader).expect("the leader runs");
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    let killed_at = Instant::now();
    wait_restored(&tb, standby, &id, 1);
    eprintln!(
        "failover: the standby ran the job again {:.1}s after the leader was killed",
        killed_at.elapsed().as_secs_f64()
    );
    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(1);
    let status = run.stdout();
    assert!(
        status_line(&status, &tb, standby).contains("jobmanager (leader)"),
        "{status}"
    );
    assert!(
        status.contains(&format!("no JobManager runs on {}", tb.ip(leader))),
        "{status}"
    );
    assert!(status.contains(&format!("Job {id}")), "{status}");

    // deploy starts the killed one again, as a standby, and nothing else.
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "+ start    jobmanager on {} (not running; the other daemons keep running)",
            tb.ip(leader)
        )),
        "{out}"
    );
    assert!(!out.contains("taskmanager.sh"), "{out}");
    assert_eq!(taskmanager_pids(&tb, 2), tms, "no TaskManager restarted");
    // (The fast job's backpressure is a finding of its own on 2.x: the exit code is not
    // this test's business.)
    let status = flinkup(tb.cmd("status", &inv, &[])).stdout();
    assert!(
        status_line(&status, &tb, leader).contains("jobmanager (standby)")
            && status_line(&status, &tb, standby).contains("jobmanager (leader)")
            && !status.contains("no JobManager runs on"),
        "{status}"
    );
    wait_restored(&tb, standby, &id, 1);

    // A JobManager setting: the standby (the one killed before) restarts first, the leader
    // last; the job runs on.
    let inv = tb.inventory(
        "ha2",
        &body(
            &storage.display().to_string(),
            "  web.refresh-interval: 5000\n",
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    let stop = |i: usize| {
        out.find(&format!("~ stop     jobmanager on {}", tb.ip(i)))
            .unwrap_or_else(|| panic!("the JobManager on {} restarts: {out}", tb.ip(i)))
    };
    assert!(stop(leader) < stop(standby), "standby first: {out}");
    assert!(!out.contains("taskmanager.sh"), "{out}");
    assert_eq!(taskmanager_pids(&tb, 2), tms, "no TaskManager restarted");
    let start = Instant::now();
    loop {
        let ok = (0..2).any(|i| {
            tb.get(&format!("http://{}:8082/jobs/{id}", tb.ip(i)))
                .and_then(|v| v["state"].as_str().map(str::to_string))
                .as_deref()
                == Some("RUNNING")
        });
        if ok {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "job {id} runs after the restart"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--force", "--quiet"])).expect_code(0);
}
