//! systemd supervision on test hosts that boot systemd as PID 1 (systemd-nspawn containers of
//! a debootstrapped Debian, each on a test host's network): a cluster started by Flink's
//! scripts moves under systemd; crashed daemons come back without flinkup; a reboot brings the
//! cluster back, and after `flinkup stop` nothing runs after one; a configuration change
//! restarts only the TaskManagers' units; destroy removes the units.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::flinkup;
use crate::testbed::{flink_lock, Spec, Testbed};

/// Waits, bounded, for `what` to hold.
fn wait(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "{what} did not happen within {secs}s"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The pid of the JVM running `class` on host `i`, if one runs.
fn jvm(tb: &Testbed, i: usize, class: &str) -> Option<u32> {
    tb.hosts[i].java_pids().into_iter().find(|p| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(class))
            .unwrap_or(false)
    })
}

const TM: &str = "TaskManagerRunner";
const JM: &str = "StandaloneSessionClusterEntrypoint";

#[test]
fn systemd_keeps_the_cluster_running_through_crashes_and_reboots() {
    let _flink = flink_lock();
    let mut tb = Testbed::new(Spec {
        systemd: true,
        ..Spec::default()
    });
    let auto = tb.guide_inventory("sd", 2, "cluster-script");
    let text = std::fs::read_to_string(&auto).unwrap();
    let scripts = tb.inventory(
        "sd",
        &format!(
            "{}supervisor: scripts\n",
            text.trim_start_matches("cluster: sd\n")
        ),
    );

    // Flink's scripts first, as the guide does.
    flinkup(tb.cmd("deploy", &scripts, &["--yes", "--quiet"])).expect_code(0);
    let scripted_tm = jvm(&tb, 1, TM).expect("a TaskManager on host 2");

    // supervisor: auto on hosts that run systemd as root: every daemon moves under a unit.
    let auto = tb.inventory("sd", text.trim_start_matches("cluster: sd\n"));
    let run = flinkup(tb.cmd("deploy", &auto, &["--yes"])).expect_code(0);
    let out = run.stdout();
    for needle in [
        "daemons under systemd (supervisor: auto, and systemd runs as PID 1 there with flinkup logged in as root)",
        "+ write    /etc/systemd/system/flink-sd-taskmanager.service",
        "+ExecStart=/opt/flink/bin/taskmanager.sh start-foreground",
        "+Restart=on-failure",
        "it runs from Flink's scripts and moves under systemd",
        "systemctl enable --now flink-sd-taskmanager.service",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert_eq!(tb.overview(), Some((2, 4)));
    assert_ne!(
        jvm(&tb, 1, TM),
        Some(scripted_tm),
        "the TaskManager restarted"
    );
    let unit_of = |tb: &Testbed, i: usize, unit: &str| {
        let o = tb.hosts[i].exec(&format!(
            "systemctl show -p MainPID --value {unit}; systemctl is-enabled {unit}"
        ));
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    let tm_pid = jvm(&tb, 1, TM).unwrap();
    assert!(
        unit_of(&tb, 1, "flink-sd-taskmanager.service").contains("enabled"),
        "{}",
        unit_of(&tb, 1, "flink-sd-taskmanager.service")
    );

    // A TaskManager killed: systemd starts it again and it registers, without flinkup.
    Command::new("kill")
        .args(["-9", &tm_pid.to_string()])
        .status()
        .unwrap();
    wait("the TaskManager's return", 120, || {
        jvm(&tb, 1, TM).is_some_and(|p| p != tm_pid) && tb.overview() == Some((2, 4))
    });
    // Status judges more than the overview (each registration's heartbeat): it is asked
    // until it finds the cluster healthy, bounded, and its last answer shown if it never does.
    let start = Instant::now();
    let run = loop {
        let run = flinkup(tb.cmd("status", &auto, &[]));
        if run.code() == 0 {
            break run;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "status never found the cluster healthy after the TaskManager's return:\n{}{}",
            run.stdout(),
            run.stderr()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    assert!(
        run.stdout()
            .contains("flink-sd-taskmanager.service active, restarted by systemd 1 time"),
        "{}",
        run.stdout()
    );
    // The JobManager likewise.
    let jm_pid = jvm(&tb, 0, JM).unwrap();
    Command::new("kill")
        .args(["-9", &jm_pid.to_string()])
        .status()
        .unwrap();
    wait("the JobManager's return", 120, || {
        jvm(&tb, 0, JM).is_some_and(|p| p != jm_pid) && tb.overview() == Some((2, 4))
    });

    // Both hosts rebooted: the cluster comes back by itself.
    for h in tb.hosts.iter_mut() {
        h.power_off();
    }
    assert!(tb.hosts.iter().all(|h| h.java_pids().is_empty()));
    for h in tb.hosts.iter_mut() {
        h.boot();
    }
    wait("the cluster after a reboot", 180, || {
        tb.overview() == Some((2, 4))
    });
    flinkup(tb.cmd("status", &auto, &[])).expect_code(0);

    // A TaskManager setting: only the TaskManagers' units restart.
    let jm_pid = jvm(&tb, 0, JM).unwrap();
    let changed = tb.inventory(
        "sd",
        &text.trim_start_matches("cluster: sd\n").replace(
            "  parallelism.default: 1\n",
            "  parallelism.default: 1\n  taskmanager.network.memory.min: 32m\n",
        ),
    );
    let run = flinkup(tb.cmd("deploy", &changed, &["--yes"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("systemctl enable --now flink-sd-taskmanager.service")
            && !out.contains("flink-sd-jobmanager.service ("),
        "{out}"
    );
    assert_eq!(jvm(&tb, 0, JM), Some(jm_pid), "the JobManager kept running");
    // The restarted TaskManagers' old registrations go when their heartbeats time out.
    wait("the old registrations to go", 120, || {
        tb.overview() == Some((2, 4))
    });

    // Logs come from the journal (its lines name the unit's process: `taskmanager.sh[pid]`).
    let run =
        flinkup(tb.cmd("logs", &changed, &["--daemon", "taskmanager", "-n", "50"])).expect_code(0);
    assert!(
        run.stdout().contains("taskmanager.sh[") && run.stdout().contains("TaskManagerRunner"),
        "{}",
        run.stdout()
    );

    // Stopped, then rebooted: nothing runs.
    flinkup(tb.cmd("stop", &changed, &["--yes", "--quiet"])).expect_code(0);
    for h in tb.hosts.iter_mut() {
        h.power_off();
        h.boot();
    }
    for h in &tb.hosts {
        h.exec("systemctl is-system-running --wait >/dev/null 2>&1");
        assert!(
            h.java_pids().is_empty(),
            "{} runs a JVM after stop and a reboot",
            h.hostname
        );
    }
    flinkup(tb.cmd("start", &changed, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(tb.overview(), Some((2, 4)));

    // Destroy removes the units.
    flinkup(tb.cmd("destroy", &changed, &["--yes", "--quiet"])).expect_code(0);
    for h in &tb.hosts {
        assert!(!h
            .root
            .join("etc/systemd/system/flink-sd-taskmanager.service")
            .exists());
        assert!(h.java_pids().is_empty());
    }
}

/// The pid of the process on host `i` whose command line contains `what`.
fn process(tb: &Testbed, i: usize, what: &str) -> Option<u32> {
    tb.hosts[i].pids().into_iter().find(|p| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .map(|c| {
                String::from_utf8_lossy(&c)
                    .replace('\0', " ")
                    .contains(what)
            })
            .unwrap_or(false)
    })
}

#[test]
fn zookeeper_peers_and_fornaxee_run_under_units_too() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        systemd: true,
        ..Spec::default()
    });
    let tgz = crate::fornaxee::bundle(
        &tb.dir,
        "2.3.0",
        ">=1.9, <1.12",
        crate::fornaxee::Flaw::None,
    );
    let inv = crate::fornaxee::with_fornaxee(&tb, "zf", &tgz, &[tb.ip(1)], 18630);
    let text = std::fs::read_to_string(&inv).unwrap();
    let inv = tb.inventory(
        "zf",
        &format!(
            "{}ha:\n  storage_dir: file:///opt/flink-ha\n  zookeeper: [{}]\n",
            text.trim_start_matches("cluster: zf\n"),
            tb.ip(0)
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes"])).expect_code(0);
    let out = run.stdout();
    for needle in [
        "+ write    /etc/systemd/system/flink-zf-zookeeper.service",
        "+ExecStart=/opt/flink/bin/zookeeper.sh start-foreground 1",
        "systemctl enable --now flink-zf-zookeeper.service",
        "+ write    /etc/systemd/system/flink-zf-fornaxee.service",
        "systemctl enable --now flink-zf-fornaxee.service",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    let health = format!("http://{}:18630/rest/v1/ping", tb.ip(1));
    let healthy = || {
        Command::new("curl")
            .args(["-fsS", "-o", "/dev/null", "--max-time", "3", &health])
            .status()
            .is_ok_and(|s| s.success())
    };
    assert!(healthy());

    // Fornaxee killed: systemd starts it again, and it answers again.
    let fx = process(&tb, 1, "service.py").expect("Fornaxee runs on host 2");
    Command::new("kill")
        .args(["-9", &fx.to_string()])
        .status()
        .unwrap();
    wait("Fornaxee's return", 60, || {
        process(&tb, 1, "service.py").is_some_and(|p| p != fx) && healthy()
    });
    // The ZooKeeper peer likewise; the cluster keeps its TaskManagers.
    let zk =
        process(&tb, 0, "FlinkZooKeeperQuorumPeer").expect("the ZooKeeper peer runs on host 1");
    Command::new("kill")
        .args(["-9", &zk.to_string()])
        .status()
        .unwrap();
    wait("the ZooKeeper peer's return", 90, || {
        process(&tb, 0, "FlinkZooKeeperQuorumPeer").is_some_and(|p| p != zk)
    });
    wait("the cluster with its quorum back", 180, || {
        tb.overview() == Some((2, 4))
    });
    flinkup(tb.cmd("status", &inv, &[])).expect_code(0);

    // Destroy removes every unit.
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
    for h in &tb.hosts {
        let left = std::fs::read_dir(h.root.join("etc/systemd/system"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.starts_with("flink-zf-"))
            .collect::<Vec<_>>();
        assert!(left.is_empty(), "{}: {left:?}", h.hostname);
        assert!(h.java_pids().is_empty());
    }
}

/// A login that is not root but may `sudo -n`: `auto` puts the daemons under units managed
/// through sudo, running as that login; systemd restarts a killed TaskManager; status reads
/// the units and their journal; destroy removes them.
#[test]
fn a_login_with_sudo_manages_the_units() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        systemd: true,
        user: Some("flink"),
        ..Spec::default()
    });
    let inv = tb.inventory(
        "su",
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: /home/flink/opt\n  artifact: {{path: {}}}\nssh: {{user: flink}}\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  smoke: false\n",
            crate::testbed::flink_tarball().display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1)
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes"])).expect_code(0);
    let out = run.stdout();
    for needle in [
        "units managed through sudo -n as flink",
        "+ write    /etc/systemd/system/flink-su-taskmanager.service",
        "+User=flink",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert_eq!(tb.overview(), Some((2, 4)));
    let tm = jvm(&tb, 1, TM).expect("a TaskManager on host 2");
    let status = std::fs::read_to_string(format!("/proc/{tm}/status")).unwrap();
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("");
    assert_eq!(uid, "1500", "the TaskManager runs as flink (uid 1500)");
    // systemd, not flinkup, brings a killed TaskManager back.
    Command::new("kill")
        .args(["-9", &tm.to_string()])
        .status()
        .unwrap();
    wait("systemd restarts the TaskManager", 60, || {
        jvm(&tb, 1, TM).is_some_and(|p| p != tm)
    });
    wait("both TaskManagers registered again", 90, || {
        tb.overview() == Some((2, 4))
    });
    let st = flinkup(tb.cmd("status", &inv, &[]));
    assert!(
        st.stdout().contains("restarted by systemd 1 time"),
        "{}",
        st.stdout()
    );
    let logs =
        flinkup(tb.cmd("logs", &inv, &["--daemon", "taskmanager", "-n", "5"])).expect_code(0);
    assert!(!logs.stdout().is_empty(), "the journal read through sudo");
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
    for i in 0..2 {
        let left = tb.hosts[i].exec("ls /etc/systemd/system | grep flink-su- || true");
        assert!(String::from_utf8_lossy(&left.stdout).trim().is_empty());
        assert!(jvm(&tb, i, TM).is_none() && jvm(&tb, i, JM).is_none());
    }
}
