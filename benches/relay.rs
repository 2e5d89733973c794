//! Distribution over a slow operator link, in one run on the same eight test hosts (network
//! namespaces with their own sshd, the real Flink 1.9.3 tarball): the operator's side of the
//! bridge capped at 200 Mbit/s, host-to-host links uncapped.
//!
//! - `deploy --no-start` to 1, 2, 4 and 8 hosts, with `distribution: relay` and `fanout`.
//!   Target: relay to 8 hosts <= 1.5x relay to 1 host.
//! - A full deploy to 4 hosts against the guide's procedure scripted with ssh/scp (scp the
//!   tarball once, unpack, edit the config, `scp -r` host to host, start-cluster.sh, poll
//!   /overview). Target: <= 0.6x the scripted procedure.
//!
//! Run as root: `cargo bench --bench relay`. `RELAY_FANOUT=N` adds relay runs with that
//! fan-out to the table (the default is 3). `RELAY_TRACE=8` (or `4full`) runs one relay
//! deploy instead and prints its events with the time each arrived.

mod common;
#[path = "../tests/it/testbed.rs"]
#[allow(dead_code)]
mod testbed;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{clean, flinkup, sh, JAVA_OPTS};
use testbed::{flink_tarball, Spec, Testbed};

const OPERATOR_LINK: &str = "200mbit";
/// Waits until the JobManager lists `n` TaskManagers (2 slots each, as the inventory says).
fn wait_overview(tb: &Testbed, n: u64) {
    common::wait_overview(tb, n, 2 * n, Duration::from_secs(180));
}

fn inventory(tb: &Testbed, n: usize, distribution: &str, fanout: usize) -> std::path::PathBuf {
    inventory_start(tb, n, distribution, fanout, "cluster-script")
}

fn inventory_start(
    tb: &Testbed,
    n: usize,
    distribution: &str,
    fanout: usize,
    start: &str,
) -> std::path::PathBuf {
    let tms: Vec<&str> = (0..n).map(|i| tb.ip(i)).collect();
    tb.inventory(
        &format!("bench-{n}-{distribution}-{start}"),
        &format!(
            "flink:\n  version: 1.9.3\n  start: {start}\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {}\ntaskmanagers: [{}]\ndistribution: {distribution}\nrelay_fanout: {fanout}\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 180s\n  smoke: false\n",
            flink_tarball().display(),
            tb.ip(0),
            tms.join(", ")
        ),
    )
}

/// The guide's procedure for `n` hosts, scripted: the tarball to the JobManager host once,
/// unpack, edit flink-conf.yaml and slaves, `scp -r` the release to each other host, start.
fn scripted(tb: &Testbed, n: usize) -> Duration {
    let cfg = tb.ssh_config.display();
    let h1 = tb.ip(0);
    let all: Vec<&str> = (0..n).map(|i| tb.ip(i)).collect();
    // Precondition of the guide, not timed: ssh trust from the JobManager host.
    sh(&format!(
        r#"ssh -F {cfg} root@{h1} 'ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519 && ssh-keyscan {hosts} > ~/.ssh/known_hosts 2>/dev/null && cat ~/.ssh/id_ed25519.pub' > {dir}/jm.pub
for h in {hosts}; do ssh -F {cfg} root@$h 'cat >> ~/.ssh/authorized_keys' < {dir}/jm.pub; done"#,
        hosts = all.join(" "),
        dir = tb.dir.display()
    ));
    let conf = format!("jobmanager.rpc.address: {h1}\njobmanager.heap.size: 512m\ntaskmanager.heap.size: 512m\ntaskmanager.numberOfTaskSlots: 2\nrest.port: 8082\nenv.java.opts: {JAVA_OPTS}\n");
    std::fs::write(tb.dir.join("flink-conf.yaml"), conf).unwrap();
    std::fs::write(tb.dir.join("slaves"), format!("{}\n", all.join("\n"))).unwrap();
    let others: Vec<&str> = all[1..].to_vec();
    let start = Instant::now();
    sh(&format!(
        r#"scp -q -F {cfg} {tgz} root@{h1}:/opt/
ssh -F {cfg} root@{h1} 'tar xzf /opt/flink-1.9.3-bin-scala_2.11.tgz -C /opt'
ssh -F {cfg} root@{h1} 'cat > /opt/flink-1.9.3/conf/flink-conf.yaml' < {dir}/flink-conf.yaml
ssh -F {cfg} root@{h1} 'cat > /opt/flink-1.9.3/conf/slaves' < {dir}/slaves
for h in {others}; do ssh -F {cfg} root@{h1} "scp -q -r /opt/flink-1.9.3 $h:/opt/"; done
ssh -F {cfg} root@{h1} 'cd /opt/flink-1.9.3/bin && setsid ./start-cluster.sh < /dev/null > /dev/null 2>&1'"#,
        tgz = flink_tarball().display(),
        dir = tb.dir.display(),
        others = others.join(" "),
    ));
    wait_overview(tb, n as u64);
    start.elapsed()
}

/// `RELAY_TRACE=N`: one relay deploy to N hosts, each event with the time it arrived.
fn trace(tb: &Testbed, n: usize, full: bool) {
    use std::io::BufRead;
    clean(tb, tb.hosts.len());
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flinkup"))
        .args(["deploy", "--yes", "--json"])
        .args(if full { None } else { Some("--no-start") })
        .arg("-i")
        .arg(inventory(
            tb,
            n,
            "relay",
            std::env::var("RELAY_FANOUT")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(3),
        ))
        .args(tb.args())
        .args(tb.cache_args())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("flinkup");
    let out = child.stdout.take().unwrap();
    for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if matches!(
            v["event"].as_str(),
            Some("step" | "host_done" | "info" | "result")
        ) {
            println!("{:7.2}  {line}", start.elapsed().as_secs_f64());
        }
    }
    let _ = child.wait();
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _guard = testbed::flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 8,
        ..Spec::default()
    });
    for h in &tb.hosts {
        let o = h.exec("cp /root/.ssh/authorized_keys /root/.ssh/authorized_keys.first");
        assert!(o.status.success());
    }
    // The tarball is on the operator's disk for every run (the scripted one copies it as is).
    flinkup(&tb, &inventory(&tb, 1, "relay", 3), &["fetch", "--quiet"]);
    tb.throttle_operator(Some(OPERATOR_LINK));
    if let Ok(v) = std::env::var("RELAY_TRACE") {
        // "8": deploy --no-start to 8 hosts; "4full": a full deploy to 4 hosts.
        let full = v.ends_with("full");
        let n = v
            .trim_end_matches("full")
            .parse()
            .expect("RELAY_TRACE=N or Nfull");
        trace(&tb, n, full);
        return;
    }
    let mut fanouts = vec![3];
    if let Some(f) = std::env::var("RELAY_FANOUT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        if f != 3 {
            fanouts.push(f);
        }
    }
    println!(
        "deploy --no-start, operator link {OPERATOR_LINK}, host links uncapped, {} MB tarball",
        std::fs::metadata(flink_tarball()).unwrap().len() / 1_000_000
    );
    println!(
        "{:>5}  {:>9}  {}",
        "hosts",
        "fanout",
        fanouts
            .iter()
            .map(|f| format!("relay(fan-out {f})"))
            .collect::<Vec<_>>()
            .join("  ")
    );
    let mut relay_times: Vec<(usize, f64)> = Vec::new();
    for n in [1, 2, 4, 8] {
        clean(&tb, tb.hosts.len());
        let fan = flinkup(
            &tb,
            &inventory(&tb, n, "fanout", 3),
            &["deploy", "--yes", "--quiet", "--no-start"],
        );
        let mut cols = Vec::new();
        for &f in &fanouts {
            clean(&tb, tb.hosts.len());
            let t = flinkup(
                &tb,
                &inventory(&tb, n, "relay", f),
                &["deploy", "--yes", "--quiet", "--no-start"],
            );
            if f == 3 {
                relay_times.push((n, t.as_secs_f64()));
            }
            cols.push(format!("{:>17.2} s", t.as_secs_f64()));
        }
        println!("{n:>5}  {:>7.2} s  {}", fan.as_secs_f64(), cols.join("  "));
    }
    let one = relay_times[0].1;
    let eight = relay_times[3].1;
    let r = eight / one;
    println!(
        "relay to 8 hosts / relay to 1 host: {r:.2}x (target <= 1.5x: {})",
        if r <= 1.5 { "PASS" } else { "FAIL" }
    );

    // What unpacking while receiving could save at most: the unpack after the check.
    let o = tb.hosts[0].exec(
        "mkdir -p /opt/u && s=$(date +%s.%N) && tar xzf /opt/.flinkup/flink-1.9.3-bin-scala_2.11.tgz -C /opt/u && e=$(date +%s.%N) && awk \"BEGIN { printf \\\"%.2f\\\", $e - $s }\"",
    );
    println!(
        "unpack of the verified archive on one host: {} s (the most unpacking while receiving could overlap)",
        String::from_utf8_lossy(&o.stdout).trim()
    );

    clean(&tb, tb.hosts.len());
    let base = scripted(&tb, 4);
    clean(&tb, tb.hosts.len());
    let full = flinkup(
        &tb,
        &inventory(&tb, 4, "relay", 3),
        &["deploy", "--yes", "--quiet"],
    );
    wait_overview(&tb, 4);
    let r = full.as_secs_f64() / base.as_secs_f64();
    println!(
        "full deploy to 4 hosts: guide procedure scripted {:.2} s; flinkup (relay) {:.2} s = {r:.2}x (target <= 0.6x: {})",
        base.as_secs_f64(),
        full.as_secs_f64(),
        if r <= 0.6 { "PASS" } else { "FAIL" }
    );
    // The same with every daemon started by flinkup over its own connection, at once,
    // instead of start-cluster.sh logging in to the TaskManager hosts one after another.
    clean(&tb, tb.hosts.len());
    let direct = flinkup(
        &tb,
        &inventory_start(&tb, 4, "relay", 3, "direct"),
        &["deploy", "--yes", "--quiet"],
    );
    wait_overview(&tb, 4);
    println!(
        "                        flinkup (relay, start: direct) {:.2} s = {:.2}x",
        direct.as_secs_f64(),
        direct.as_secs_f64() / base.as_secs_f64()
    );
    clean(&tb, tb.hosts.len());
    tb.throttle_operator(None);
}
