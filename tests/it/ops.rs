//! Day-to-day commands on real test hosts: `exec` on picked hosts with one failing, `ssh`
//! through an alias with ProxyJump, `logs` from several hosts with prefixes and hints, and
//! `logs -f` following them until Ctrl-C.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::support::{flinkup, root};
use crate::testbed::{Spec, Testbed};

/// Log files where Flink's daemons write them (`<install_dir>/flink/log`), as a deployed
/// cluster has them: a JobManager and a TaskManager on host 1, a TaskManager on host 2.
fn write_logs(tb: &Testbed) {
    for (i, files) in [
        (0, vec!["standalonesession", "taskexecutor"]),
        (1, vec!["taskexecutor"]),
    ] {
        let mut script = String::from("set -e; mkdir -p /opt/flink/log\n");
        for d in files {
            script.push_str(&format!(
                "printf '%s\\n' '2026-12-02 10:00:00,000 INFO  first line of {d}' '2026-12-02 10:00:01,000 ERROR java.io.IOException: Insufficient number of network buffers: required 65, but only 38 available' '2026-12-02 10:00:02,000 INFO  last line of {d}' > /opt/flink/log/flink-root-{d}-0-{h}.log\n",
                h = tb.hosts[i].hostname
            ));
        }
        let out = tb.hosts[i].exec(&script);
        assert!(out.status.success(), "{out:?}");
    }
}

#[test]
fn exec_ssh_and_logs_from_several_hosts() {
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    // Host 3 only through host 1 (ProxyJump), by an alias of the operator's ssh_config.
    tb.ssh_alias("far", 2, 0);
    tb.hide_from_operator(2);
    let inv = tb.inventory(
        "ops",
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: /opt\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}, {{host: far, address: far}}]\n",
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        ),
    );

    // exec: every host, one fails; its status is named and the run fails.
    let fail_on = &tb.hosts[1].hostname;
    let run = flinkup(tb.cmd(
        "exec",
        &inv,
        &["--", &format!("hostname; [ \"$(hostname)\" != {fail_on} ]")],
    ))
    .expect_code(1);
    let out = run.stdout();
    for (i, name) in [(0, tb.ip(0)), (1, tb.ip(1)), (2, "far")] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(name) && l.ends_with(&format!("| {}", tb.hosts[i].hostname))),
            "{out}"
        );
    }
    assert!(
        run.stderr()
            .contains(&format!("{}: exit status 1", tb.ip(1)))
            && run.stderr().contains("exec on 3 hosts: 1 failed"),
        "{}",
        run.stderr()
    );
    // Picked by role: the JobManager host alone, and it succeeds.
    let run =
        flinkup(tb.cmd("exec", &inv, &["--role", "jobmanager", "--", "hostname"])).expect_code(0);
    assert_eq!(
        run.stdout().trim(),
        format!("{} | {}", tb.ip(0), tb.hosts[0].hostname)
    );
    let run = flinkup(tb.cmd("exec", &inv, &["--host", "nowhere", "--", "true"])).expect_code(2);
    assert!(
        run.stderr().contains("no host `nowhere`"),
        "{}",
        run.stderr()
    );

    // ssh: through the alias and its jump host, with the inventory's user.
    let run = flinkup(tb.cmd("ssh", &inv, &["far", "--", "hostname; id -un"])).expect_code(0);
    assert_eq!(
        run.stdout(),
        format!("{}\nroot\n", tb.hosts[2].hostname),
        "{}",
        run.stderr()
    );
    flinkup(tb.cmd("ssh", &inv, &["far", "--", "exit 7"])).expect_code(7);

    // logs: every daemon's file from both hosts, prefixed, the buffer failure explained.
    write_logs(&tb);
    let pick = ["--host", tb.ip(0), "--host", tb.ip(1)];
    let mut args = pick.to_vec();
    args.extend(["-n", "2"]);
    let run = flinkup(tb.cmd("logs", &inv, &args)).expect_code(0);
    let out = run.stdout();
    for (host, daemon) in [
        (tb.ip(0), "jobmanager"),
        (tb.ip(0), "taskmanager"),
        (tb.ip(1), "taskmanager"),
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with(&format!("{host} {daemon}"))
                    && l.ends_with(&format!(
                        "last line of {}",
                        if daemon == "jobmanager" {
                            "standalonesession"
                        } else {
                            "taskexecutor"
                        }
                    ))),
            "{out}"
        );
    }
    assert!(!out.contains("first line"), "-n 2: {out}");
    assert!(
        out.contains("| ^ flinkup: the TaskManager ran out of network buffers"),
        "{out}"
    );
    let run =
        flinkup(tb.cmd("logs", &inv, &["--host", tb.ip(1), "--grep", "ERROR"])).expect_code(0);
    assert_eq!(run.stdout().lines().count(), 2, "{}", run.stdout());
    // --since: a line of an hour ago is left out, one of now (and the trace under it) kept.
    tb.hosts[1].exec(&format!(
        "f=/opt/flink/log/flink-root-taskexecutor-0-{h}.log; echo \"$(date -d '-1 hour' '+%Y-%m-%d %H:%M:%S'),000 INFO  an hour ago\" >> $f; echo \"$(date '+%Y-%m-%d %H:%M:%S'),000 ERROR just now\" >> $f; echo '    at some.Trace(Line.java:1)' >> $f",
        h = tb.hosts[1].hostname
    ));
    let run = flinkup(tb.cmd("logs", &inv, &["--host", tb.ip(1), "--since", "10m"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("ERROR just now")
            && out.contains("at some.Trace")
            && !out.contains("an hour ago")
            && !out.contains("first line"),
        "{out}"
    );
    // The alias host has no log yet: said, and the run fails.
    let run = flinkup(tb.cmd("logs", &inv, &["--host", "far"])).expect_code(1);
    assert!(
        run.stderr().contains("far: no taskmanager log"),
        "{}",
        run.stderr()
    );

    // logs -f: both hosts at once, new lines as they come, until Ctrl-C.
    let mut argv = tb.cmd("logs", &inv, &pick);
    argv.extend([
        "-f".into(),
        "-n".into(),
        "1".into(),
        "--daemon".into(),
        "taskmanager".into(),
    ]);
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("flinkup"))
        .current_dir(root())
        .args(&argv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(l);
        }
    });
    let mut seen: Vec<String> = Vec::new();
    let wait_for = |want: &str, seen: &mut Vec<String>| {
        let start = Instant::now();
        while !seen.iter().any(|l| l.contains(want)) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{want:?} not followed: {seen:#?}"
            );
            if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
                seen.push(l);
            }
        }
    };
    for i in 0..2 {
        // Each file's last line first.
        wait_for(&format!("{} taskmanager | ", tb.ip(i)), &mut seen);
    }
    for i in 0..2 {
        tb.hosts[i].exec(&format!(
            "echo 'new line on host {i}' >> /opt/flink/log/flink-root-taskexecutor-0-{}.log",
            tb.hosts[i].hostname
        ));
        wait_for(
            &format!("{} taskmanager | new line on host {i}", tb.ip(i)),
            &mut seen,
        );
    }
    let follows = |i: usize| {
        format!(
            "tail -n 1 -F /opt/flink/log/flink-root-taskexecutor-0-{}.log",
            tb.hosts[i].hostname
        )
    };
    let running = |i: usize| {
        Command::new("pgrep")
            .args(["-f", &follows(i)])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(running(0) && running(1), "tail -F runs on both hosts");
    let _ = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "logs -f ends on Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    // Nothing keeps following on the hosts (they share this machine's process table).
    for i in 0..2 {
        let start = Instant::now();
        while running(i) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tail still runs on host {i}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}
