//! The fault suite: what breaks at a customer's site, on real test hosts with the real Flink
//! distribution. Each scenario must end with a clear error, the last working state kept, and
//! a plain re-run that finishes. The suite prints
//! "faults survived N/N, bad inputs rejected M/M, panics 0".

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{flinkup, report, root, Run};
use crate::testbed::{flink_lock, Spec, Testbed};

type Outcome = Result<(), String>;

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn run(tb: &Testbed, verb: &str, inv: &Path, extra: &[&str]) -> Run {
    flinkup(tb.cmd(verb, inv, extra))
}

/// A process in the background, killed and reaped if the scenario ends early.
struct Bg(Option<std::process::Child>);

impl Bg {
    fn id(&self) -> u32 {
        self.0.as_ref().map_or(0, |c| c.id())
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// flinkup in the background, for faults injected while it works.
fn spawn(tb: &Testbed, verb: &str, inv: &Path, extra: &[&str]) -> Bg {
    Bg(Some(
        Command::new(env!("CARGO_BIN_EXE_flinkup"))
            .args(tb.cmd(verb, inv, extra))
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group, as a shell gives a foreground job: Ctrl-C at a terminal
            // signals the whole group, ssh processes included.
            .process_group(0)
            .spawn()
            .expect("flinkup starts"),
    ))
}

fn finish(mut bg: Bg, limit: Duration) -> Result<(i32, String, Duration), String> {
    let start = Instant::now();
    let mut child = bg.0.take().ok_or("no process")?;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let out = child.wait_with_output().map_err(|e| e.to_string())?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return Ok((status.code().unwrap_or(-1), text, start.elapsed()));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "flinkup did not finish within {}s (hang)",
                limit.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_for(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Outcome {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!("timed out waiting for {what}"))
}

fn append(inv: &Path, text: &str) {
    let mut body = std::fs::read_to_string(inv).unwrap();
    body.push_str(text);
    std::fs::write(inv, body).unwrap();
}

fn part_size(tb: &Testbed, i: usize) -> u64 {
    std::fs::metadata(
        tb.hosts[i]
            .opt()
            .join(".flinkup/flink-1.9.3-bin-scala_2.11.tgz.part"),
    )
    .map(|m| m.len())
    .unwrap_or(0)
}

/// Fault 1: sshd on a TaskManager host is down: refused before any change, host and reason named.
fn sshd_down_at_plan_time() -> Outcome {
    let mut tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("down", 4, "cluster-script");
    tb.hosts[1].stop_sshd();
    for (verb, extra) in [("plan", &[][..]), ("deploy", &["--yes"][..])] {
        let r = run(&tb, verb, &inv, extra);
        let err = r.stderr();
        ensure!(r.code() == 1, "{verb}: exit {} (want 1)\n{err}", r.code());
        ensure!(
            err.contains(tb.ip(1)) && err.contains("Connection refused"),
            "{verb}: names host and ssh error\n{err}"
        );
        ensure!(
            err.contains("nothing was changed"),
            "{verb}: says nothing changed\n{err}"
        );
    }
    let st = run(&tb, "status", &inv, &[]);
    ensure!(
        st.code() == 1
            && st
                .stdout()
                .contains(&format!("{:<20} UNREACHABLE", tb.ip(1))),
        "status reports the unreachable host\n{}",
        st.stdout()
    );
    ensure!(
        std::fs::read_dir(tb.hosts[0].opt())
            .map_err(|e| e.to_string())?
            .next()
            .is_none(),
        "nothing written on the reachable host"
    );
    Ok(())
}

/// Fault 2: The link to a host goes down mid-upload: bounded failure naming the host; the partial
/// file is never used; after the link is back a re-run sends only the missing part. A second
/// deploy started meanwhile is refused by the lock.
fn connection_cut_mid_upload() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("cut", 4, "cluster-script");
    // Fan-out: the operator's own upload, which resumes.
    append(&inv, "distribution: fanout\n");
    run(&tb, "fetch", &inv, &["--quiet"]);
    tb.hosts[1].throttle(Some("40mbit"));
    let child = spawn(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    wait_for("the upload to start", Duration::from_secs(60), || {
        part_size(&tb, 1) > 20 << 20
    })?;
    // A second deploy while the first holds the lock.
    let second = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(
        second.code() == 1 && second.stderr().contains("locked by `flinkup deploy`"),
        "second deploy refused by the lock\n{}",
        second.stderr()
    );
    tb.hosts[1].link(false);
    let (code, text, took) = finish(child, Duration::from_secs(90))?;
    tb.hosts[1].link(true);
    tb.hosts[1].throttle(None);
    ensure!(code == 1, "exit {code} (want 1)\n{text}");
    ensure!(
        took < Duration::from_secs(60),
        "failed in {}s, bounded below 60s",
        took.as_secs()
    );
    ensure!(text.contains(tb.ip(1)), "names the host\n{text}");
    ensure!(
        !tb.hosts[1].opt().join("flink-1.9.3").exists()
            && !tb.hosts[1].opt().join("flink").exists(),
        "partial upload never unpacked or linked"
    );
    let kept = part_size(&tb, 1);
    ensure!(kept > 0, "the partial file is kept for resuming");
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(
        r.code() == 0,
        "re-run after the link is back: exit {}\n{}{}",
        r.code(),
        r.stdout(),
        r.stderr()
    );
    ensure!(
        r.stderr()
            .contains(&format!("{}: resuming the upload at byte", tb.ip(1))),
        "re-run resumes the upload\n{}",
        r.stderr()
    );
    ensure!(
        tb.overview() == Some((2, 8)),
        "cluster verified after the re-run"
    );
    Ok(())
}

/// Fault 3: The remote disk is full: refused with the free space found; the previous release and the
/// symlink untouched; no temporary files left.
fn remote_disk_full() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("full", 4, "cluster-script");
    let h = &tb.hosts[1];
    let o = h.exec("mount -t tmpfs -o size=120m tmpfs /opt && mkdir -p /opt/flink-1.9.2/bin && echo previous > /opt/flink-1.9.2/RELEASE && ln -s /opt/flink-1.9.2 /opt/flink");
    ensure!(
        o.status.success(),
        "tmpfs: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    let err = r.stderr();
    ensure!(r.code() == 1, "exit {}\n{err}", r.code());
    ensure!(
        err.contains(tb.ip(1)) && err.contains("free under /opt") && err.contains("MiB"),
        "names the host and the free space\n{err}"
    );
    let o = h.exec(
        "readlink /opt/flink; cat /opt/flink-1.9.2/RELEASE; ls -A /opt /opt/.flinkup 2>/dev/null",
    );
    let state = String::from_utf8_lossy(&o.stdout).to_string();
    ensure!(
        state.starts_with("/opt/flink-1.9.2\nprevious\n"),
        "previous release and link untouched:\n{state}"
    );
    ensure!(
        !state.contains(".part") && !state.contains("staged") && !state.contains("flink-1.9.3"),
        "no temporary files:\n{state}"
    );
    ensure!(
        !tb.hosts[0].opt().join("flink").exists(),
        "the other host was not switched either"
    );
    Ok(())
}

/// Fault 4: The tarball on a host is corrupted after upload: found by sha512 and sent again.
/// 6 is folded in: after the cluster runs, a TaskManager host that cannot start is reported.
fn corrupted_tarball_on_host() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("corrupt", 4, "cluster-script");
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(r.code() == 0, "first deploy: {}{}", r.stdout(), r.stderr());
    let opt = tb.hosts[1].opt();
    std::fs::remove_dir_all(opt.join("flink-1.9.3")).map_err(|e| e.to_string())?;
    // Only the JobManager host keeps the archive after a deploy: a damaged copy of it is put
    // where host 2 keeps archives, as if it had been corrupted there.
    let tgz = opt.join(".flinkup/flink-1.9.3-bin-scala_2.11.tgz");
    ensure!(!tgz.exists(), "host 2 removed its archive after unpacking");
    let kept = tb.hosts[0]
        .opt()
        .join(".flinkup/flink-1.9.3-bin-scala_2.11.tgz");
    let mut bytes = std::fs::read(&kept).map_err(|e| e.to_string())?;
    let n = bytes.len() / 2;
    bytes[n] ^= 0x55;
    std::fs::write(&tgz, bytes).map_err(|e| e.to_string())?;
    let plan = run(&tb, "plan", &inv, &[]);
    let text = plan.stdout();
    let h2 = text
        .split(&format!("Host {}", tb.ip(1)))
        .nth(1)
        .unwrap_or("");
    ensure!(
        h2.contains("+ upload"),
        "the corrupted tarball is uploaded again:\n{text}"
    );
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(r.code() == 0, "re-run: {}{}", r.stdout(), r.stderr());
    ensure!(
        opt.join("flink-1.9.3/bin/start-cluster.sh").exists(),
        "release unpacked again"
    );
    Ok(())
}

/// Fault 5: rest.port is taken on the JobManager host: check and deploy name port and holder.
fn port_taken() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("port", 4, "cluster-script");
    let mut holder = tb.hosts[0].spawn(&format!(
        "exec perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => \"{}\", LocalPort => 8082, Listen => 5, ReuseAddr => 1) or die; sleep 600'",
        tb.ip(0)
    ));
    let ready = wait_for("the port holder", Duration::from_secs(10), || {
        std::net::TcpStream::connect_timeout(
            &format!("{}:8082", tb.ip(0)).parse().unwrap(),
            Duration::from_millis(200),
        )
        .is_ok()
    });
    let result = (|| {
        ready?;
        let c = run(&tb, "check", &inv, &[]);
        ensure!(
            c.code() == 1 && c.stdout().contains("rest.port 8082 is taken by perl pid"),
            "check names port and holder\n{}",
            c.stdout()
        );
        let d = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
        ensure!(
            d.code() == 1
                && d.stderr().contains("rest.port 8082 is taken by perl pid")
                && d.stderr().contains("nothing was changed"),
            "deploy refuses\n{}",
            d.stderr()
        );
        ensure!(
            !tb.hosts[0].opt().join("flink-1.9.3").exists(),
            "nothing installed"
        );
        ensure!(
            tb.hosts.iter().all(|h| h.java_pids().is_empty()),
            "nothing started"
        );
        Ok(())
    })();
    let _ = holder.kill();
    let _ = holder.wait();
    result
}

/// Fault 6: One TaskManager cannot start (its host's java_home holds a broken JDK): verify fails
/// naming the host with the tail of its Flink log, and reports what did register.
fn taskmanager_cannot_start() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let jdk = tb.hosts[1].opt().join("broken-jdk/bin");
    std::fs::create_dir_all(&jdk).map_err(|e| e.to_string())?;
    std::fs::write(
        jdk.join("java"),
        // It answers -version (so preflight sees a Java), but nothing starts with it.
        "#!/bin/sh\nif [ \"$1\" = -version ]; then echo 'openjdk version \"17.0.1\" 2021-10-19' >&2; exit 0; fi\necho 'this JDK is broken' >&2\nexit 1\n",
    )
    .map_err(|e| e.to_string())?;
    let _ = Command::new("chmod")
        .arg("755")
        .arg(jdk.join("java"))
        .status();
    let tgz = crate::testbed::flink_tarball();
    let inv = tb.inventory(
        "nojava",
        &format!(
            "flink:\n  version: 1.9.3\n  artifact: {{path: {}}}\nssh: {{user: root}}\njobmanager: {h1}\ntaskmanagers:\n  - {{host: {h2}, java_home: /opt/broken-jdk}}\n  - {h1}\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 4\n  rest.port: 8082\nverify:\n  timeout: 25s\n",
            tgz.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1)
        ),
    );
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    let err = r.stderr();
    ensure!(r.code() == 1, "exit {}\n{err}", r.code());
    ensure!(
        err.contains(&format!("TaskManager on {} is missing", tb.ip(1))),
        "names the host\n{err}"
    );
    ensure!(
        err.contains("this JDK is broken"),
        "shows the log tail with the cause\n{err}"
    );
    ensure!(
        err.contains(&format!("registered: akka.tcp://flink@{}", tb.ip(0))),
        "reports the host that did register\n{err}"
    );
    Ok(())
}

/// Fault 7: A lock held by a live run refuses; a lock whose process died is reported stale and
/// `flinkup unlock` removes it after confirmation.
fn lock_live_stale_unlock() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("lock", 4, "cluster-script");
    let mut sleeper = Command::new("sleep")
        .arg("120")
        .spawn()
        .map_err(|e| e.to_string())?;
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let lock = tb.hosts[0].opt().join(".flinkup/lock");
    std::fs::create_dir_all(&lock).map_err(|e| e.to_string())?;
    std::fs::write(
        lock.join("info"),
        format!(
            "user=someone\nmachine={}\npid={}\nstarted=2026-11-24T10:00:00Z\ncommand=deploy\n",
            machine.trim(),
            sleeper.id()
        ),
    )
    .map_err(|e| e.to_string())?;
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(
        r.code() == 1
            && r.stderr().contains(&format!(
                "someone@{} (pid {})",
                machine.trim(),
                sleeper.id()
            ))
            && r.stderr().contains("since 2026-11-24T10:00:00Z"),
        "live lock refuses, naming owner, pid and start time\n{}",
        r.stderr()
    );
    ensure!(!r.stderr().contains("stale"), "a live lock is not stale");
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(
        r.code() == 1 && r.stderr().contains("stale") && r.stderr().contains("flinkup unlock"),
        "stale lock detected\n{}",
        r.stderr()
    );
    let u = run(&tb, "unlock", &inv, &[]);
    ensure!(
        u.code() == 2 && u.stderr().contains("confirmation"),
        "unlock asks first\n{}",
        u.stderr()
    );
    ensure!(lock.exists(), "an unconfirmed unlock keeps the lock");
    let u = run(&tb, "unlock", &inv, &["--yes"]);
    ensure!(
        u.code() == 0 && u.stdout().contains("lock removed"),
        "unlock --yes\n{}{}",
        u.stdout(),
        u.stderr()
    );
    ensure!(!lock.exists(), "the lock is gone");
    Ok(())
}

/// Fault 8: Ctrl-C during apply: stops between actions, releases the lock, never leaves the flink
/// symlink half-switched; a re-run completes without uploading again.
fn ctrl_c_during_apply() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("sigint", 4, "cluster-script");
    run(&tb, "fetch", &inv, &["--quiet"]);
    for h in &tb.hosts {
        h.throttle(Some("200mbit"));
    }
    let child = spawn(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    wait_for("the upload to start", Duration::from_secs(60), || {
        part_size(&tb, 1) > 1 << 20
    })?;
    // What Ctrl-C at a terminal does: SIGINT to every process of the foreground job.
    let _ = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status();
    let (code, text, _) = finish(child, Duration::from_secs(90))?;
    for h in &tb.hosts {
        h.throttle(None);
    }
    ensure!(code == 130, "exit {code} (want 130)\n{text}");
    ensure!(
        text.contains("interrupted"),
        "says it was interrupted\n{text}"
    );
    ensure!(
        !tb.hosts[0].opt().join(".flinkup/lock").exists(),
        "lock released"
    );
    for h in &tb.hosts {
        let link = h.opt().join("flink");
        ensure!(
            !link.exists() || std::fs::read_link(&link).is_ok(),
            "symlink whole on {}",
            h.hostname
        );
        ensure!(
            !h.opt().join("flink.flinkup-tmp").exists(),
            "no half-switched link on {}",
            h.hostname
        );
    }
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    ensure!(
        r.code() == 0,
        "re-run completes: {}{}",
        r.stdout(),
        r.stderr()
    );
    ensure!(tb.overview() == Some((2, 8)), "cluster verified");
    Ok(())
}

/// Fault 9: A host's key changes: strict checking refuses, says how to verify and update, and
/// nothing is sent to any host.
fn host_key_changed() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let inv = tb.guide_inventory("hostkey", 4, "cluster-script");
    let other = tb.dir.join("other_key");
    let _ = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", ""])
        .arg("-f")
        .arg(&other)
        .status();
    let key = std::fs::read_to_string(other.with_extension("pub")).map_err(|e| e.to_string())?;
    let key: Vec<&str> = key.split_whitespace().take(2).collect();
    let known = std::fs::read_to_string(&tb.known_hosts).map_err(|e| e.to_string())?;
    let known: String = known
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{} ", tb.ip(1))) {
                format!("{} {}\n", tb.ip(1), key.join(" "))
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&tb.known_hosts, known).map_err(|e| e.to_string())?;
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    let err = r.stderr();
    ensure!(r.code() == 1, "exit {}\n{err}", r.code());
    ensure!(
        err.contains("host key is unknown or has changed")
            && err.contains(&format!("ssh-keygen -R {}", tb.ip(1)))
            && err.contains("ssh-keygen -lf"),
        "says how to verify and update\n{err}"
    );
    for h in &tb.hosts {
        ensure!(
            std::fs::read_dir(h.opt())
                .map_err(|e| e.to_string())?
                .next()
                .is_none(),
            "nothing sent to {}",
            h.hostname
        );
    }
    Ok(())
}

/// Fault 10-12: An ordinary user deploys into its home on every host without sudo; a config value
/// carrying a command substitution is written literally (a canary proves nothing ran); a
/// password-like value reaches the host but never the output.
fn non_root_hostile_values_and_secrets() -> Outcome {
    let tb = Testbed::new(Spec {
        user: Some("flink"),
        ..Spec::default()
    });
    let tgz = crate::testbed::flink_tarball();
    let inv = tb.inventory(
        "plain-user",
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: ~/flink\n  artifact: {{path: {}}}\nssh: {{user: flink}}\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 4\n  rest.port: 8082\n  state.checkpoints.dir: \"file:///tmp/ckpt/$(touch /tmp/flinkup-canary)`touch /tmp/flinkup-canary2`\"\n  security.ssl.internal.keystore-password: s3cr3t-Value\n",
            tgz.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1)
        ),
    );
    let r = run(&tb, "deploy", &inv, &["--yes", "--quiet"]);
    let all = r.stdout() + &r.stderr();
    ensure!(r.code() == 0, "deploy as flink: {all}");
    ensure!(tb.overview() == Some((2, 8)), "cluster verified");
    let j = run(&tb, "plan", &inv, &["--json"]);
    let all = all + &j.stdout() + &j.stderr();
    ensure!(
        !all.contains("s3cr3t-Value"),
        "the secret appears in output"
    );
    ensure!(
        all.contains("keystore-password: ********"),
        "the secret is shown masked"
    );
    for h in &tb.hosts {
        let conf = h
            .root
            .join("home/flink/flink/flink-1.9.3/conf/flink-conf.yaml");
        let text =
            std::fs::read_to_string(&conf).map_err(|e| format!("{}: {e}", conf.display()))?;
        ensure!(
            text.contains("keystore-password: s3cr3t-Value"),
            "the host gets the real value"
        );
        ensure!(
            text.contains("$(touch /tmp/flinkup-canary)`touch /tmp/flinkup-canary2`"),
            "the value is written literally"
        );
        for canary in [
            "tmp/flinkup-canary",
            "tmp/flinkup-canary2",
            "home/flink/flinkup-canary",
        ] {
            ensure!(
                !h.root.join(canary).exists(),
                "an injected command ran on {}",
                h.hostname
            );
        }
        for pid in h.java_pids() {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
            ensure!(
                status.lines().any(|l| l.starts_with("Uid:\t1500")),
                "Flink runs as the ordinary user on {}",
                h.hostname
            );
        }
        ensure!(
            std::fs::read_dir(h.opt())
                .map_err(|e| e.to_string())?
                .next()
                .is_none(),
            "nothing written to /opt on {}",
            h.hostname
        );
    }
    ensure!(
        !Path::new("/tmp/flinkup-canary").exists(),
        "an injected command ran on this machine"
    );
    Ok(())
}

/// The four-host relay's inventory: h1 the JobManager, three TaskManagers, each relaying
/// host sending to two, so h2 relays to h4 (operator -> h1; h1 -> h2, h3; h2 -> h4).
pub fn relay_inventory(tb: &Testbed, name: &str, extra: &str) -> std::path::PathBuf {
    tb.inventory(
        name,
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {}\ntaskmanagers: [{}, {}, {}]\nrelay_fanout: 2\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 120s\n  smoke: false\n{extra}",
            crate::testbed::flink_tarball().display(),
            tb.ip(0),
            tb.ip(1),
            tb.ip(2),
            tb.ip(3),
        ),
    )
}

/// The sha512 the test distribution's sidecar gives.
pub fn tarball_sha512() -> String {
    let side = crate::testbed::flink_tarball().with_extension("tgz.sha512");
    std::fs::read_to_string(side)
        .expect("the tarball's .sha512 sidecar")
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Fault 11: the sshd of a relaying host is killed mid-transfer (every session of it): the
/// host it feeds gets the archive from another relaying host; the deploy fails naming the
/// dead host; nothing unverified is unpacked anywhere; once sshd is back, a re-run completes
/// with the archive fed from a host holding it, not from the operator.
fn relaying_host_killed() -> Outcome {
    let mut tb = Testbed::new(Spec {
        hosts: 4,
        ..Spec::default()
    });
    let inv = relay_inventory(&tb, "relaykill", "");
    run(&tb, "fetch", &inv, &["--quiet"]);
    tb.throttle_operator(Some("100mbit"));
    let child = spawn(&tb, "deploy", &inv, &["--yes"]);
    wait_for("h2 to relay", Duration::from_secs(90), || {
        part_size(&tb, 1) > 40 << 20 && part_size(&tb, 3) > 20 << 20
    })?;
    tb.hosts[1].kill_sshd();
    let (code, text, _) = finish(child, Duration::from_secs(180))?;
    tb.throttle_operator(None);
    ensure!(code == 1, "exit {code} (want 1)\n{text}");
    ensure!(
        text.contains(&format!("{}: ", tb.ip(1))) && text.contains("did not get a verified"),
        "names the dead relaying host\n{text}"
    );
    ensure!(
        text.contains(&format!("{}: fed again from {}", tb.ip(3), tb.ip(0))),
        "h4 is fed from h1, which holds the verified archive\n{text}"
    );
    let sha = tarball_sha512();
    for i in [0, 2, 3] {
        let o = tb.hosts[i].exec("sha512sum /opt/.flinkup/flink-1.9.3-bin-scala_2.11.tgz");
        let got = String::from_utf8_lossy(&o.stdout);
        ensure!(
            got.starts_with(&sha),
            "{} holds the verified archive: {got}",
            tb.hosts[i].hostname
        );
    }
    for h in &tb.hosts {
        ensure!(
            !h.opt().join("flink-1.9.3").exists() && !h.opt().join("flink").exists(),
            "nothing unpacked or linked on {}",
            h.hostname
        );
    }
    // The dead relaying host kept nothing of what it had received, unpacked or not.
    tb.hosts[1].start_sshd();
    let o = tb.hosts[1].exec("ls -A /opt/.flinkup");
    let left = String::from_utf8_lossy(&o.stdout);
    ensure!(
        !left.contains(".unpacked") && !left.contains(".part") && !left.contains(".relay."),
        "h2 keeps nothing unverified: {left}"
    );
    let r = run(&tb, "deploy", &inv, &["--yes"]);
    ensure!(
        r.code() == 0,
        "re-run: exit {}\n{}{}",
        r.code(),
        r.stdout(),
        r.stderr()
    );
    let out = r.stdout();
    ensure!(
        out.contains(&format!("{} already holds it", tb.ip(0)))
            && out.contains(&format!("{} -> {}", tb.ip(0), tb.ip(1)))
            && !out.contains("operator ->"),
        "the re-run feeds h2 from h1, not from the operator\n{out}"
    );
    ensure!(
        tb.overview() == Some((3, 6)),
        "cluster verified after the re-run: {:?}",
        tb.overview()
    );
    Ok(())
}

/// A deploy of the guide's cluster relaying over an operator link of `rate`, once host 1 has
/// received `bytes` of the archive.
fn relay_under_way(
    tb: &Testbed,
    name: &str,
    rate: &str,
    bytes: u64,
) -> Result<(Bg, PathBuf), String> {
    let inv = tb.guide_inventory(name, 4, "cluster-script");
    append(&inv, "distribution: relay\n");
    run(tb, "fetch", &inv, &["--quiet"]);
    tb.throttle_operator(Some(rate));
    let child = spawn(tb, "deploy", &inv, &["--yes", "--quiet"]);
    wait_for("the relay to start", Duration::from_secs(90), || {
        part_size(tb, 0) > bytes
    })?;
    Ok((child, inv))
}

/// After a relay broke off: nothing unpacked anywhere; the re-run resumes host 1's transfer
/// where it stopped (the operator's link carries less than the archive) and verifies.
fn rerun_resumes(tb: &Testbed, inv: &Path) -> Outcome {
    tb.throttle_operator(None);
    for h in &tb.hosts {
        ensure!(
            !h.opt().join("flink-1.9.3").exists(),
            "nothing unpacked on {}",
            h.hostname
        );
    }
    let sent = tb.operator_tx_bytes();
    let r = run(tb, "deploy", inv, &["--yes", "--quiet"]);
    let sent = tb.operator_tx_bytes() - sent;
    ensure!(
        r.code() == 0,
        "re-run: exit {}\n{}{}",
        r.code(),
        r.stdout(),
        r.stderr()
    );
    ensure!(
        r.stderr()
            .contains(&format!("{}: resuming the relay at byte", tb.ip(0))),
        "the re-run resumes\n{}",
        r.stderr()
    );
    let tarball = std::fs::metadata(crate::testbed::flink_tarball())
        .map_err(|e| e.to_string())?
        .len();
    ensure!(
        sent < tarball - (25 << 20),
        "the re-run sent {sent} bytes, not the whole {tarball}-byte archive again"
    );
    ensure!(tb.overview() == Some((2, 8)), "cluster verified");
    Ok(())
}

/// Fault 12: the operator's flinkup dies mid-relay (killed with its ssh processes): the root
/// host keeps the checked part of what it received, nothing is unpacked; after `unlock`, a
/// re-run sends only the rest over the operator's link and completes.
fn operator_dies_mid_relay() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let (child, inv) = relay_under_way(&tb, "relayresume", "100mbit", 60 << 20)?;
    let _ = Command::new("kill")
        .args(["-9", "--", &format!("-{}", child.id())])
        .status();
    let _ = finish(child, Duration::from_secs(30));
    wait_for(
        "h1 to keep what it checked",
        Duration::from_secs(30),
        || {
            std::fs::read_dir(tb.hosts[0].opt().join(".flinkup"))
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().contains(".resume-"))
                })
                .unwrap_or(false)
        },
    )?;
    let u = run(&tb, "unlock", &inv, &["--yes"]);
    ensure!(u.code() == 0, "unlock: {}{}", u.stdout(), u.stderr());
    rerun_resumes(&tb, &inv)
}

/// Fault 13: Ctrl-C mid-relay on a slow link: the transfer is aborted at once (flinkup exits
/// 130 within seconds, not after the whole archive), the lock is released, and the re-run
/// resumes where the transfer stopped.
fn ctrl_c_mid_relay() -> Outcome {
    let tb = Testbed::new(Spec::default());
    let (child, inv) = relay_under_way(&tb, "interrupt", "40mbit", 30 << 20)?;
    // The rest of the archive takes over 40 s on this link. Ctrl-C at a terminal: SIGINT to
    // the foreground process group.
    let _ = Command::new("kill")
        .args(["-INT", "--", &format!("-{}", child.id())])
        .status();
    let (code, text, took) = finish(child, Duration::from_secs(60))?;
    ensure!(code == 130, "exit {code} (want 130)\n{text}");
    ensure!(
        took < Duration::from_secs(5),
        "flinkup took {:.1}s to stop after Ctrl-C\n{text}",
        took.as_secs_f64()
    );
    ensure!(
        text.contains("transfers stop now"),
        "the interrupt is explained\n{text}"
    );
    // No unlock needed: the interrupted run released its lock.
    rerun_resumes(&tb, &inv)
}

/// Every bad inventory, run through the loader in this process: rejected, never a panic.
fn bad_inputs() -> (usize, usize, usize) {
    let dir = root().join("tests/inventories/bad");
    let (mut rejected, mut total, mut panics) = (0, 0, 0);
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        total += 1;
        let bytes = std::fs::read(e.path()).unwrap();
        let path = e.path();
        match std::panic::catch_unwind(|| {
            flinkup::inventory::load_bytes(&path, &bytes, Default::default())
        }) {
            Ok(Err(err)) if err.exit_code() == 2 => rejected += 1,
            Ok(_) => {}
            Err(_) => panics += 1,
        }
    }
    (rejected, total, panics)
}

/// Scenarios in the suite; the summary is printed when the last of them has run.
const SCENARIOS: usize = 13;

/// Results of the scenarios that ran in this process: (name, survived).
static TALLY: std::sync::Mutex<Vec<(String, bool)>> = std::sync::Mutex::new(Vec::new());

/// Runs one scenario (one at a time: they start Flink), reports it, and fails the test with
/// the reason if it was not survived. The last scenario to finish prints the suite's summary.
fn scenario(name: &str, f: fn() -> Outcome) {
    let _flink = flink_lock();
    let start = Instant::now();
    let r = std::panic::catch_unwind(f).unwrap_or_else(|p| {
        Err(p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default())
    });
    match &r {
        Ok(()) => report(format!(
            "fault {name}: survived ({:.1}s)",
            start.elapsed().as_secs_f64()
        )),
        Err(e) => report(format!("fault {name}: FAILED: {e}")),
    }
    let summary = {
        let mut t = TALLY.lock().unwrap_or_else(|e| e.into_inner());
        t.push((name.to_string(), r.is_ok()));
        (t.len() == SCENARIOS).then(|| t.iter().filter(|(_, ok)| *ok).count())
    };
    if let Some(survived) = summary {
        let (rejected, total, panics) = bad_inputs();
        report(format!(
            "faults survived {survived}/{SCENARIOS}, bad inputs rejected {rejected}/{total}, panics {panics}"
        ));
    }
    if let Err(e) = r {
        panic!("fault {name} not survived: {e}");
    }
}

#[test]
fn fault_01_sshd_down_at_plan_time() {
    scenario("1 sshd down at plan time", sshd_down_at_plan_time);
}

#[test]
fn fault_02_connection_cut_mid_upload() {
    scenario("2 connection cut mid-upload", connection_cut_mid_upload);
}

#[test]
fn fault_03_remote_disk_full() {
    scenario("3 remote disk full", remote_disk_full);
}

#[test]
fn fault_04_tarball_corrupted_on_the_host() {
    scenario("4 tarball corrupted on the host", corrupted_tarball_on_host);
}

#[test]
fn fault_05_port_taken_on_the_jobmanager_host() {
    scenario("5 port taken on the JobManager host", port_taken);
}

#[test]
fn fault_06_a_taskmanager_cannot_start() {
    scenario("6 a TaskManager cannot start", taskmanager_cannot_start);
}

#[test]
fn fault_07_lock_live_stale_unlock() {
    scenario("7 lock: live, stale, unlock", lock_live_stale_unlock);
}

#[test]
fn fault_08_ctrl_c_during_apply() {
    scenario("8 Ctrl-C during apply", ctrl_c_during_apply);
}

#[test]
fn fault_09_host_key_changed() {
    scenario("9 host key changed", host_key_changed);
}

#[test]
fn fault_10_ordinary_user_hostile_values_secrets() {
    scenario(
        "10-12 ordinary user, hostile values, secrets",
        non_root_hostile_values_and_secrets,
    );
}

#[test]
fn fault_11_relaying_host_killed_mid_transfer() {
    scenario("11 relaying host killed mid-transfer", relaying_host_killed);
}

#[test]
fn fault_12_operator_dies_mid_relay() {
    scenario("12 operator dies mid-relay", operator_dies_mid_relay);
}

#[test]
fn fault_13_ctrl_c_mid_relay() {
    scenario("13 Ctrl-C mid-relay", ctrl_c_mid_relay);
}

#[test]
fn bad_inputs_are_all_rejected() {
    let (rejected, total, panics) = bad_inputs();
    assert_eq!((rejected, panics), (total, 0));
}
