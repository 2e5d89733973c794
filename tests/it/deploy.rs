//! Deploys to real sshd hosts (tests/it/testbed.rs) with the real Flink 1.9.3 distribution.

use crate::support::flinkup;
use crate::testbed::{flink_lock, Spec, Testbed};

/// Relay: the operator's link carries the archive once; h1 forwards to h2 and h3, h2 to h4,
/// while they receive; every host holds the archive with the right sha512 and the cluster of
/// three TaskManagers is verified.
#[test]
fn relay_to_four_hosts_every_host_verified() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 4,
        ..Spec::default()
    });
    let inv = crate::faults::relay_inventory(&tb, "relay", "");
    flinkup(tb.cmd("fetch", &inv, &["--quiet"])).expect_code(0);
    let sent = tb.operator_tx_bytes();
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes"])).expect_code(0);
    let sent = tb.operator_tx_bytes() - sent;
    let out = run.stdout();
    for needle in [
        "+ relay    flink-1.9.3-bin-scala_2.11.tgz".to_string(),
        format!("operator -> {}", tb.ip(0)),
        format!("{} -> {}, {}", tb.ip(0), tb.ip(1), tb.ip(2)),
        format!("{} -> {}", tb.ip(1), tb.ip(3)),
    ] {
        assert!(
            out.contains(&needle),
            "the plan shows the route: {needle}\n{out}"
        );
    }
    let tarball = std::fs::metadata(crate::testbed::flink_tarball())
        .unwrap()
        .len();
    assert!(
        sent < tarball + tarball / 4,
        "the operator sent {sent} bytes for a {tarball}-byte archive to 4 hosts"
    );
    assert!(
        out.contains("each host checks every 8 MiB chunk's sha512 before tar reads it"),
        "{out}"
    );
    let sha = crate::faults::tarball_sha512();
    for (i, h) in tb.hosts.iter().enumerate() {
        let o = h.exec(
            "sha512sum /opt/.flinkup/flink-1.9.3-bin-scala_2.11.tgz 2>/dev/null; cat /opt/flink-1.9.3/.flinkup-sha512; ls -A /opt/.flinkup",
        );
        let got = String::from_utf8_lossy(&o.stdout);
        // Every release records the archive it came from; only the JobManager host keeps
        // the archive itself, to seed later transfers.
        let copies = if i == 0 { 2 } else { 1 };
        assert_eq!(got.matches(&sha).count(), copies, "{}: {got}", h.hostname);
        assert!(
            (i == 0) == got.contains("flink-1.9.3-bin-scala_2.11.tgz"),
            "{}: {got}",
            h.hostname
        );
        for left in [".part", ".unpacked", ".relay"] {
            assert!(!got.contains(left), "{}: {left} left: {got}", h.hostname);
        }
        assert!(h.opt().join("flink-1.9.3/bin/start-cluster.sh").exists());
    }
    assert_eq!(tb.overview(), Some((3, 6)));
    // A re-run relays nothing.
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes"])).expect_code(0);
    assert!(!run.stdout().contains("+ relay"), "{}", run.stdout());
}

#[test]
fn guide_cluster_deploy_rerun_resize_stop_destroy() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("guide", 4, "cluster-script");
    // A key of the site's own on host 2, and each host's ssh files as they are before.
    let site_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJkSiteOwnKeyOfTheCustomerXXXXXXXXXXXXXXXXXX admin@site";
    let o = tb.hosts[1].exec(&format!("echo '{site_key}' >> /root/.ssh/authorized_keys"));
    assert!(o.status.success());
    let ssh_files = |tb: &Testbed| -> Vec<(String, String)> {
        tb.hosts
            .iter()
            .flat_map(|h| {
                ["authorized_keys", "known_hosts"].map(|f| {
                    (
                        format!("{} {f}", h.hostname),
                        std::fs::read_to_string(h.root.join("root/.ssh").join(f))
                            .unwrap_or_default(),
                    )
                })
            })
            .collect()
    };
    let before = ssh_files(&tb);

    // Fresh deploy: the plan is shown, executed, and verified through /overview.
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("+ upload") && out.contains("+ trust") && out.contains("start-cluster.sh"),
        "{out}"
    );
    assert!(
        out.contains("env.java.home: /opt/flink-1.9.3/conf/java-launcher")
            && out.contains("exec /usr/bin/java --add-exports"),
        "Java 17 gets the module opens through the launcher:\n{out}"
    );
    assert!(
        out.contains("deployed and verified"),
        "{out}\n{}",
        run.stderr()
    );
    assert_eq!(tb.overview().expect("GET /overview"), (2, 8));
    // Whoever logs in runs jobs with the installed client as it is (1.9's bin/flink reads
    // no env.java.opts: the launcher gives it the options Java 17 needs).
    tb.user_job_runs(
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/flink-jobs/pressure.jar"),
        "fast",
    );
    let ids = tb.tm_ids();
    assert_eq!(ids.len(), 2);

    // A re-run changes nothing: no upload, no restart, the same TaskManagers.
    let run = flinkup(tb.cmd("deploy", &inv, &["--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(out.contains("Plan: 2 hosts, 0 changes"), "{out}");
    assert!(out.contains("up to date and verified"), "{out}");
    assert!(!run.stderr().contains("upload"), "{}", run.stderr());
    assert_eq!(tb.tm_ids(), ids, "TaskManagers were not restarted");

    // The TaskManager on host 2 dies: a re-run starts that one alone.
    let host1 = tb.hosts[0].java_pids();
    for pid in tb.hosts[1].java_pids() {
        let _ = std::process::Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status();
    }
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "+ start    taskmanager on {} (not running",
            tb.ip(1)
        )),
        "{out}"
    );
    assert!(!out.contains("start-cluster.sh"), "{out}");
    assert!(
        tb.tm_ids().iter().any(|id| !ids.contains(id)),
        "a new TaskManager registered"
    );
    assert_eq!(
        tb.hosts[0].java_pids(),
        host1,
        "host 1's daemons kept running"
    );
    assert_eq!(
        tb.hosts[1].java_pids().len(),
        1,
        "one TaskManager on host 2"
    );

    // Slots 4 -> 2: the live plan shows the diff and the restart; deploy applies it.
    let inv2 = tb.guide_inventory("guide", 2, "cluster-script");
    assert_eq!(inv, inv2);
    let run = flinkup(tb.cmd("plan", &inv, &[])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("-taskmanager.numberOfTaskSlots: 4")
            && out.contains("+taskmanager.numberOfTaskSlots: 2"),
        "{out}"
    );
    assert!(out.contains("~ stop"), "{out}");
    assert!(!out.contains("+ upload"), "{out}");
    flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(tb.overview().expect("GET /overview"), (2, 4));

    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(0);
    assert!(
        run.stdout().contains("2 TaskManagers, 4 slots"),
        "{}",
        run.stdout()
    );
    let run = flinkup(tb.cmd("status", &inv, &["--json"])).expect_code(0);
    let v = run.event("status");
    assert_eq!(
        (v["taskmanagers"].as_u64(), v["slots_total"].as_u64()),
        (Some(2), Some(4))
    );
    assert_eq!(
        v["hosts"][0]["daemons"],
        serde_json::json!(["jobmanager", "taskmanager"])
    );
    let run = flinkup(tb.cmd("check", &inv, &[])).expect_code(0);
    assert!(
        run.stdout().contains("held by this cluster's JobManager"),
        "{}",
        run.stdout()
    );

    // Dry runs change nothing: same TaskManagers, every file still there; they print the
    // steps that stop and destroy then execute.
    let ids = tb.tm_ids();
    let pids: Vec<Vec<u32>> = tb.hosts.iter().map(|h| h.java_pids()).collect();
    let stop_plan = flinkup(tb.cmd("stop", &inv, &["--dry-run"]))
        .expect_code(0)
        .stdout();
    assert!(
        stop_plan.contains("stop plan")
            && stop_plan.contains(&format!(
                "~ stop     jobmanager, taskmanager on {}",
                tb.ip(0)
            ))
            && stop_plan.contains(&format!("~ stop     taskmanager on {}", tb.ip(1))),
        "{stop_plan}"
    );
    let destroy_plan = flinkup(tb.cmd("destroy", &inv, &["--dry-run"]))
        .expect_code(0)
        .stdout();
    assert!(
        destroy_plan.contains(
            "- remove   /opt/flink (the link), /opt/flink-1.9.3, /opt/.flinkup (flinkup's state)"
        ),
        "{destroy_plan}"
    );
    let json = flinkup(tb.cmd("destroy", &inv, &["--dry-run", "--json"])).expect_code(0);
    assert_eq!(json.event("plan")["plan"]["command"], "destroy");
    assert_eq!(tb.tm_ids(), ids, "no TaskManager was restarted");
    let after: Vec<Vec<u32>> = tb.hosts.iter().map(|h| h.java_pids()).collect();
    assert_eq!(after, pids, "every daemon kept running");
    for h in &tb.hosts {
        assert!(h.opt().join("flink-1.9.3/bin/start-cluster.sh").exists());
        // The link points into the host's own /opt: look at the link itself.
        assert!(h.opt().join("flink").symlink_metadata().is_ok());
    }
    // Without a terminal destroy asks and, unanswered, refuses: nothing removed.
    let run = flinkup(tb.cmd("destroy", &inv, &[])).expect_code(2);
    assert!(
        run.stderr().contains("run again with --yes"),
        "{}",
        run.stderr()
    );
    assert!(run.stdout().contains("- remove"), "the plan is shown first");
    assert!(tb.hosts[0].opt().join("flink-1.9.3").exists());

    // Stop executes the steps its dry run printed: no Flink JVM on any host.
    let run = flinkup(tb.cmd("stop", &inv, &[])).expect_code(0);
    assert_eq!(
        run.stdout()
            .lines()
            .filter(|l| l.contains("~ stop "))
            .count(),
        2,
        "{}",
        run.stdout()
    );
    for h in &tb.hosts {
        assert!(
            h.java_pids().is_empty(),
            "{} still runs java: {:?}",
            h.hostname,
            h.java_pids()
        );
    }

    // Destroy: the installation is gone, nothing else; no trust is left behind: every
    // authorized key and known host flinkup added is gone, every line there before stays.
    let added = ssh_files(&tb);
    assert!(
        added
            .iter()
            .any(|(_, t)| t.contains("flinkup-cluster=guide")),
        "{added:?}"
    );
    let run = flinkup(tb.cmd("destroy", &inv, &["--yes"])).expect_code(0);
    assert!(
        run.stdout().contains("- remove") && run.stdout().contains("- untrust"),
        "{}",
        run.stdout()
    );
    for h in &tb.hosts {
        assert!(!h.opt().join("flink-1.9.3").exists());
        assert!(!h.opt().join("flink").exists());
        assert!(!h.opt().join(".flinkup").exists());
    }
    assert_eq!(ssh_files(&tb), before);
}

#[test]
fn direct_start_mode_without_host_to_host_ssh() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("direct", 4, "direct");
    // The REST API listens on the JobManager host's loopback only: unreachable from here, so
    // verification goes through the ssh session (curl on the JobManager host).
    let text = std::fs::read_to_string(&inv).unwrap().replace(
        "  rest.port: 8082\n",
        "  rest.port: 8082\n  rest.bind-address: 127.0.0.1\n",
    );
    std::fs::write(&inv, text).unwrap();
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(!run.stdout().contains("+ trust"), "{}", run.stdout());
    assert!(
        run.stderr().contains("verified http://"),
        "{}",
        run.stderr()
    );
    assert!(
        tb.get(&format!("http://{}:8082/overview", tb.ip(0)))
            .is_none(),
        "the REST port is not reachable from the operator"
    );
    let status = flinkup(tb.cmd("status", &inv, &[])).expect_code(0);
    assert!(
        status.stdout().contains("2 TaskManagers, 8 slots"),
        "{}",
        status.stdout()
    );
    flinkup(tb.cmd("stop", &inv, &[])).expect_code(0);
    for h in &tb.hosts {
        assert!(h.java_pids().is_empty(), "{} still runs java", h.hostname);
    }
}

#[test]
fn unresolvable_host_name_fails_check_with_the_reason() {
    let tb = Testbed::new(Spec {
        unresolvable: vec![1],
        ..Spec::default()
    });
    let inv = tb.guide_inventory("noname", 4, "cluster-script");
    let run = flinkup(tb.cmd("check", &inv, &[])).expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains("host name `h2` does not resolve") && out.contains("UnknownHostException"),
        "{out}"
    );
    assert!(out.contains("host name h1 resolves"), "{out}");
}

#[test]
fn strict_host_keys_refuse_an_unknown_host() {
    let tb = Testbed::new(Spec {
        known: false,
        ..Spec::default()
    });
    let inv = tb.guide_inventory("strict", 4, "cluster-script");
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("host key")
            && err.contains("known_hosts")
            && err.contains("nothing was changed"),
        "{err}"
    );
    for h in &tb.hosts {
        assert!(
            std::fs::read_dir(h.opt()).unwrap().next().is_none(),
            "nothing reached {}",
            h.hostname
        );
    }
}

/// A one-host testbed where flinkup itself runs inside the host with `connection: local`
/// (its private /root, /opt, /tmp), so this machine's own home is left alone. Returns the
/// host's /tmp on this machine.
fn local_host(tb: &Testbed) -> std::path::PathBuf {
    // Inside the host only its own /tmp is sure to be visible: the checkout may live under a
    // directory the host mounts over, so the binary and the tarball are copied there.
    let host_tmp = tb.hosts[0].root.join("tmp");
    let src = crate::testbed::flink_tarball();
    let name = "flink-1.9.3-bin-scala_2.11.tgz";
    std::fs::copy(env!("CARGO_BIN_EXE_flinkup"), host_tmp.join("flinkup")).unwrap();
    std::fs::copy(&src, host_tmp.join(name)).unwrap();
    std::fs::copy(
        src.with_extension("tgz.sha512"),
        host_tmp.join(format!("{name}.sha512")),
    )
    .unwrap();
    let tgz = std::path::Path::new("/tmp").join(name);
    let inv = tb.inventory(
        "local",
        &format!(
            "connection: local\nflink:\n  version: 1.9.3\n  install_dir: ~/flinkup\n  start: direct\n  artifact: {{path: {}}}\njobmanager: localhost\ntaskmanagers: [localhost]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8081\n",
            tgz.display()
        ),
    );
    std::fs::copy(&inv, host_tmp.join("local.yaml")).unwrap();
    host_tmp
}

/// Runs flinkup inside the local host: (exit code, stdout and stderr).
fn local_run(tb: &Testbed, args: &str) -> (i32, String) {
    let o = tb.hosts[0].exec(&format!(
        "cd /tmp && HOME=/root /tmp/flinkup {args} -i /tmp/local.yaml 2>&1"
    ));
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn exit_code_130_ctrl_c_in_local_mode() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 1,
        ..Spec::default()
    });
    let host_tmp = local_host(&tb);
    // Ctrl-C: the action under way finishes or is abandoned cleanly, exit 130, no temporary
    // file left behind; a plain re-run finishes the deploy.
    let o = tb.hosts[0].exec(
        "cd /tmp && (HOME=/root exec /tmp/flinkup deploy --yes --quiet --cache-dir /tmp/cache -i /tmp/local.yaml > /tmp/int.log 2>&1) & p=$!; sleep 1.5; kill -INT $p; wait $p; echo rc=$?",
    );
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let log = std::fs::read_to_string(host_tmp.join("int.log")).unwrap_or_default();
    assert!(text.contains("rc=130"), "{text}\n{log}");
    assert!(log.contains("interrupted"), "{log}");
    let leftovers = tb.hosts[0].exec(
        "find /root/flinkup /tmp/cache \\( -name '*.part' -o -name 'unpack.*' -o -name '*.flinkup-tmp' \\) 2>/dev/null",
    );
    let leftovers = String::from_utf8_lossy(&leftovers.stdout).into_owned();
    assert!(
        leftovers.trim().is_empty(),
        "temporary files left: {leftovers}\n{log}"
    );
    let (code, out) = local_run(&tb, "deploy --yes --quiet --cache-dir /tmp/cache");
    assert_eq!(code, 0, "{out}");
    let (code, out) = local_run(&tb, "stop");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn local_connection_on_one_machine() {
    // `connection: local` runs everything through a local shell. It runs here inside a test
    // host (its private /root, /opt, /tmp), so this machine's own home is left alone.
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 1,
        ..Spec::default()
    });
    local_host(&tb);
    let run = |args: &str| local_run(&tb, args);
    // JSON Lines from a real deploy: the schema first, the plan before any step, progress
    // throttled, the result last.
    let (code, out) = run("deploy --yes --json --cache-dir /tmp/cache");
    assert_eq!(code, 0, "{out}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let kinds: Vec<&str> = lines
        .iter()
        .map(|v| v["event"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(kinds.first(), Some(&"schema"), "{out}");
    assert_eq!(kinds.last(), Some(&"result"), "{out}");
    let plan_at = kinds
        .iter()
        .position(|k| *k == "plan")
        .expect("a plan event");
    let first_step = kinds
        .iter()
        .position(|k| *k == "step")
        .unwrap_or(usize::MAX);
    assert!(
        plan_at < first_step,
        "the plan comes before the steps: {kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| **k == "plan").count(), 1);
    assert!(
        kinds.iter().filter(|k| **k == "upload_progress").count() < 40,
        "progress is throttled: {kinds:?}"
    );
    assert_eq!(lines.last().unwrap()["ok"], true);
    let mut collapsed: Vec<&str> = Vec::new();
    for k in &kinds {
        if collapsed.last() != Some(k) {
            collapsed.push(k);
        }
    }
    insta::assert_snapshot!("jsonl_deploy_local_kinds", collapsed.join("\n"));
    assert!(tb.hosts[0]
        .root
        .join("root/flinkup/flink-1.9.3/bin/start-cluster.sh")
        .exists());
    let (code, out) = run("deploy --quiet --cache-dir /tmp/cache");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("up to date and verified"), "{out}");
    let (code, out) = run("status --json");
    assert_eq!(code, 0, "{out}");
    let kinds: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
        .collect();
    assert_eq!(kinds, ["\"schema\"", "\"status\"", "\"result\""], "{out}");
    let status: serde_json::Value = serde_json::from_str(out.lines().nth(1).unwrap()).unwrap();
    // The shape of the status event (its values vary from run to run).
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    insta::assert_json_snapshot!(
        "jsonl_status_local",
        serde_json::json!({
            "event": status["event"],
            "healthy": status["healthy"],
            "fields": keys(&status),
            "host_fields": keys(&status["hosts"][0]),
        })
    );
    let (code, out) = run("stop");
    assert_eq!(code, 0, "{out}");
    assert!(tb.hosts[0].java_pids().is_empty());
    // A stopped cluster: a verdict and the next step, and nothing about ssh in local mode.
    let (code, out) = run("status");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("stopped: no Flink daemon runs; run `flinkup start"),
        "{out}"
    );
    assert!(!out.to_lowercase().contains("ssh"), "{out}");
}

#[test]
fn deploy_without_a_terminal_needs_yes() {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("confirm", 4, "cluster-script");
    let run = flinkup(tb.cmd("deploy", &inv, &["--quiet"])).expect_code(2);
    assert!(
        run.stderr().contains("run again with --yes"),
        "{}",
        run.stderr()
    );
    assert!(
        run.stdout().contains("+ upload"),
        "the plan is shown first: {}",
        run.stdout()
    );
    for h in &tb.hosts {
        assert!(
            !h.opt().join("flink-1.9.3").exists(),
            "nothing applied on {}",
            h.hostname
        );
        assert!(
            !h.opt().join(".flinkup/lock").exists(),
            "lock released on {}",
            h.hostname
        );
    }
}

/// start-cluster.sh logs in to each TaskManager host by its Flink name from the JobManager
/// host: one host's sshd listens on another port, and another is reached by the operator only
/// through an alias of its own ssh_config with a ProxyJump, which the JobManager host knows
/// nothing of.
#[test]
fn cluster_script_reaches_another_ssh_port_and_a_host_behind_an_operator_alias() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 4,
        ssh_ports: vec![(2, 2222)],
        ..Spec::default()
    });
    tb.hide_from_operator(3);
    tb.ssh_alias("tm-four", 3, 0);
    assert!(
        std::net::TcpStream::connect_timeout(
            &format!("{}:22", tb.ip(3)).parse().unwrap(),
            std::time::Duration::from_secs(2)
        )
        .is_err(),
        "host 4 must not answer this machine directly"
    );
    let base = std::fs::read_to_string(tb.guide_inventory("ports", 2, "cluster-script")).unwrap();
    let inv = |tms: &str, tag: &str| {
        let text = base.replace(
            &format!("taskmanagers: [{}, {}]", tb.ip(1), tb.ip(0)),
            &format!("taskmanagers: [{tms}]"),
        );
        assert_ne!(text, base);
        let dir = tb.dir.join(tag);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("ports.yaml");
        std::fs::write(&p, text).unwrap();
        p
    };
    let three = inv(
        &format!(
            "{}, {{host: {}, ssh: {{port: 2222}}}}, {{host: h4, address: tm-four}}",
            tb.ip(1),
            tb.ip(2)
        ),
        "three",
    );
    let run = flinkup(tb.cmd("deploy", &three, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains(&format!(
            "Host {ip}\n          HostName {ip}\n          Port 2222",
            ip = tb.ip(2)
        )) && out.contains(&format!(
            "Host h4\n          HostName {}\n          Port 22",
            tb.ip(3)
        )),
        "the plan shows the ssh_config block at the addresses ssh resolves:\n{out}"
    );
    assert!(!out.contains("tm-four\n"), "{out}");
    assert!(out.contains("deployed and verified"), "{out}");
    assert_eq!(
        tb.overview().expect("GET /overview"),
        (3, 6),
        "three TaskManagers, all slots"
    );
    assert!(
        tb.hosts[0].java_pids().len() == 1,
        "host 1 runs the JobManager only"
    );
    let config = std::fs::read_to_string(tb.hosts[0].root.join("root/.ssh/config")).unwrap();
    assert!(
        config.starts_with("# BEGIN flinkup cluster ports") && !config.contains("tm-four"),
        "{config}"
    );

    // A re-run changes nothing: the block and the trust are found in place.
    let run = flinkup(tb.cmd("deploy", &three, &["--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("Plan: 4 hosts, 0 changes"),
        "{}",
        run.stdout()
    );

    // Scale-in of the alias host, then scale-out again: each verified.
    let two = inv(
        &format!("{}, {{host: {}, ssh: {{port: 2222}}}}", tb.ip(1), tb.ip(2)),
        "two",
    );
    let run = flinkup(tb.cmd("deploy", &two, &["--yes", "--quiet"])).expect_code(0);
    assert!(run.stdout().contains("retire"), "{}", run.stdout());
    assert!(tb.hosts[3].java_pids().is_empty(), "h4 stopped");
    let status = flinkup(tb.cmd("status", &two, &[])).expect_code(0).stdout();
    assert!(status.contains("Healthy."), "{status}");
    let run = flinkup(tb.cmd("deploy", &three, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("deployed and verified"),
        "{}",
        run.stdout()
    );
    assert!(!tb.hosts[3].java_pids().is_empty(), "h4 runs again");
    let status = flinkup(tb.cmd("status", &three, &[]))
        .expect_code(0)
        .stdout();
    assert!(status.contains("Healthy."), "{status}");

    // Destroy removes the block with the rest.
    flinkup(tb.cmd("destroy", &three, &["--yes"])).expect_code(0);
    let config = std::fs::read_to_string(tb.hosts[0].root.join("root/.ssh/config")).unwrap();
    assert!(!config.contains("flinkup"), "{config}");
    for h in &tb.hosts {
        assert!(h.java_pids().is_empty(), "{} still runs java", h.hostname);
    }
}

#[test]
fn status_does_not_ask_another_flink_when_the_jobmanager_host_is_unreachable() {
    let mut tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("status", 4, "cluster-script");
    tb.hosts[0].stop_sshd();
    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(1);
    let out = run.stdout();
    assert!(
        out.contains(&format!("{:<20} UNREACHABLE", tb.ip(0))),
        "{out}"
    );
    assert!(
        out.contains("is unreachable, so its REST API was not asked"),
        "{out}"
    );
    let run = flinkup(tb.cmd("status", &inv, &["--json"])).expect_code(1);
    let v = run.event("status");
    assert_eq!(v["taskmanagers"], serde_json::Value::Null);
    assert_eq!(v["hosts"][0]["reachable"], false);
    assert_eq!(v["hosts"][1]["reachable"], true);
}
