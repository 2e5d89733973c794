//! `distribution: auto` against the deployment guide's procedure scripted with ssh/scp, and
//! against the fixed modes, in one run on the same five test hosts (network namespaces with
//! their own sshd, the real Flink 1.9.3 tarball), each a full deploy (started, verified):
//!
//! - (a) 2 hosts, links uncapped; the archive on the operator's disk.
//! - (b) 4 hosts, the operator's side of the bridge capped at 200 Mbit/s, host links uncapped.
//! - (c) the same 4 hosts and capped operator link, with a site mirror (an HTTP server on the
//!   fifth host, reached over the uncapped LAN). The guide downloads on the JobManager host
//!   from the mirror, as its `wget` does, then copies the release with `scp -r`.
//!
//! Targets: auto <= 1.0x the guide on (a), <= 0.85x on (b), <= 0.6x on (c), and auto never
//! more than 5 % slower than fanout or relay on any of them.
//!
//! Run as root: `cargo bench --bench sites`.

mod common;
#[path = "../tests/it/testbed.rs"]
#[allow(dead_code)]
mod testbed;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{clean, flinkup, sh, JAVA_OPTS};
use testbed::{flink_tarball, Spec, Testbed};

const OPERATOR_LINK: &str = "200mbit";
const MIRROR: usize = 4;

fn wait_overview(tb: &Testbed, n: usize) {
    common::wait_overview(tb, n as u64, 2 * n as u64, Duration::from_secs(180));
}

fn mirror_url(tb: &Testbed) -> String {
    format!(
        "http://{}:8000/flink-1.9.3-bin-scala_2.11.tgz",
        tb.ip(MIRROR)
    )
}

/// A cluster of `n` hosts: the JobManager and a TaskManager on host 1, a TaskManager on each.
fn inventory(tb: &Testbed, n: usize, distribution: &str, mirror: bool) -> PathBuf {
    let tms: Vec<&str> = (0..n).map(|i| tb.ip(i)).collect();
    let tgz = flink_tarball();
    let artifact = if mirror {
        let sha = std::fs::read_to_string(tgz.with_extension("tgz.sha512")).unwrap();
        format!(
            "    url: {}\n    sha512: {}\n",
            mirror_url(tb),
            sha.split_whitespace().next().unwrap()
        )
    } else {
        format!("    path: {}\n", tgz.display())
    };
    tb.inventory(
        &format!("sites-{n}-{distribution}-{mirror}"),
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: /opt\n  artifact:\n{artifact}ssh:\n  user: root\njobmanager: {}\ntaskmanagers: [{}]\ndistribution: {distribution}\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 180s\n  smoke: false\n",
            tb.ip(0),
            tms.join(", ")
        ),
    )
}

/// The guide's procedure for `n` hosts, scripted: the tarball to the JobManager host (copied
/// from the operator's disk, or downloaded there from the mirror), unpack, edit flink-conf.yaml
/// and slaves, `scp -r` the release to each other host, start-cluster.sh, poll /overview.
fn scripted(tb: &Testbed, n: usize, mirror: bool) -> Run {
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
    let fetch = if mirror {
        format!(
            "ssh -F {cfg} root@{h1} 'curl -fsS -o /opt/flink-1.9.3-bin-scala_2.11.tgz {}'",
            mirror_url(tb)
        )
    } else {
        format!(
            "scp -q -F {cfg} {} root@{h1}:/opt/",
            flink_tarball().display()
        )
    };
    let cpu = busy_cpu_seconds();
    let start = Instant::now();
    sh(&format!(
        r#"{fetch}
ssh -F {cfg} root@{h1} 'tar xzf /opt/flink-1.9.3-bin-scala_2.11.tgz -C /opt'
ssh -F {cfg} root@{h1} 'cat > /opt/flink-1.9.3/conf/flink-conf.yaml' < {dir}/flink-conf.yaml
ssh -F {cfg} root@{h1} 'cat > /opt/flink-1.9.3/conf/slaves' < {dir}/slaves
for h in {others}; do ssh -F {cfg} root@{h1} "scp -q -r /opt/flink-1.9.3 $h:/opt/"; done
ssh -F {cfg} root@{h1} 'cd /opt/flink-1.9.3/bin && setsid ./start-cluster.sh < /dev/null > /dev/null 2>&1'"#,
        dir = tb.dir.display(),
        others = others.join(" "),
    ));
    wait_overview(tb, n);
    Run {
        wall: start.elapsed().as_secs_f64(),
        cpu: busy_cpu_seconds() - cpu,
    }
}

/// CPU seconds this machine has spent busy since it booted (`/proc/stat`: user, nice, system,
/// irq, softirq). Every test host shares the machine's cores, so the difference across a run
/// is the CPU the whole run cost: the operator, every host, every link.
fn busy_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let ticks: u64 = stat
        .lines()
        .next()
        .expect("the cpu line")
        .split_whitespace()
        .skip(1)
        .take(7)
        .enumerate()
        .filter(|(i, _)| ![3, 4].contains(i)) // idle, iowait
        .map(|(_, v)| v.parse::<u64>().expect("a tick count"))
        .sum();
    let hz = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .trim()
                .parse::<f64>()
                .ok()
        })
        .unwrap_or(100.0);
    ticks as f64 / hz
}

/// One measured deploy: seconds on the clock, and busy CPU seconds of the whole machine.
#[derive(Clone, Copy)]
struct Run {
    wall: f64,
    cpu: f64,
}

/// Runs per measurement: `SITES_RUNS` (default 3), the median is reported.
fn runs() -> usize {
    std::env::var("SITES_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3)
}

/// `SITES=bc` measures only those scenarios (default: all three).
fn wanted(key: char) -> bool {
    std::env::var("SITES").map_or(true, |v| v.contains(key))
}

struct Row {
    name: &'static str,
    guide: Run,
    auto: Run,
    fanout: Run,
    relay: Run,
    target: f64,
}

/// The run of median wall time among `runs` (single runs vary by ±10 % on 2 shared cores).
fn median(runs: usize, mut measure: impl FnMut() -> Run) -> Run {
    let mut v: Vec<Run> = (0..runs).map(|_| measure()).collect();
    v.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    v[v.len() / 2]
}

fn scenario(tb: &Testbed, name: &'static str, n: usize, mirror: bool, target: f64) -> Row {
    let runs = runs();
    let guide = median(runs, || {
        clean(tb, MIRROR);
        scripted(tb, n, mirror)
    });
    let run = |mode: &str| {
        median(runs, || {
            clean(tb, MIRROR);
            let cpu = busy_cpu_seconds();
            let t = flinkup(
                tb,
                &inventory(tb, n, mode, mirror),
                &["deploy", "--yes", "--quiet"],
            );
            let cpu = busy_cpu_seconds() - cpu;
            wait_overview(tb, n);
            Run {
                wall: t.as_secs_f64(),
                cpu,
            }
        })
    };
    let auto = run("auto");
    let fanout = run("fanout");
    let relay = run("relay");
    Row {
        name,
        guide,
        auto,
        fanout,
        relay,
        target,
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _guard = testbed::flink_lock();
    let tb = Testbed::new(Spec {
        hosts: MIRROR + 1,
        ..Spec::default()
    });
    for h in &tb.hosts[..MIRROR] {
        let o = h.exec("cp /root/.ssh/authorized_keys /root/.ssh/authorized_keys.first");
        assert!(o.status.success());
    }
    let served = tb.hosts[MIRROR].root.join("tmp/mirror");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::copy(
        flink_tarball(),
        served.join("flink-1.9.3-bin-scala_2.11.tgz"),
    )
    .unwrap();
    let mut server = tb.hosts[MIRROR].spawn("cd /tmp/mirror && exec python3 -m http.server 8000");
    tb.wait_listening(MIRROR, 8000, 30, "the mirror listens");
    // The archive is on the operator's disk for every run, as it is for the scripted guide
    // (the fixed modes of (c) upload it from there too).
    flinkup(
        &tb,
        &inventory(&tb, 2, "fanout", false),
        &["fetch", "--quiet"],
    );
    flinkup(
        &tb,
        &inventory(&tb, 4, "fanout", true),
        &["fetch", "--quiet"],
    );

    let mut rows = Vec::new();
    if wanted('a') {
        rows.push(scenario(&tb, "(a) 2 hosts, uncapped", 2, false, 1.0));
    }
    tb.throttle_operator(Some(OPERATOR_LINK));
    if wanted('b') {
        rows.push(scenario(
            &tb,
            "(b) 4 hosts, operator link 200 Mbit/s",
            4,
            false,
            0.85,
        ));
    }
    if wanted('c') {
        rows.push(scenario(
            &tb,
            "(c) 4 hosts, 200 Mbit/s, site mirror",
            4,
            true,
            0.6,
        ));
    }
    tb.throttle_operator(None);
    let _ = server.kill();
    let _ = server.wait();

    println!(
        "full deploy (started, verified), Flink 1.9.3, {} MB tarball; median of {} runs in seconds, and its ratio to the scripted guide",
        std::fs::metadata(flink_tarball()).unwrap().len() / 1_000_000,
        runs()
    );
    println!(
        "{:<40} {:>8} {:>15} {:>15} {:>15}",
        "scenario", "guide", "auto", "fanout", "relay"
    );
    let mut pass = true;
    for r in &rows {
        let ratio = |t: Run| format!("{:6.2} ({:.2}x)", t.wall, t.wall / r.guide.wall);
        println!(
            "{:<40} {:>8.2} {:>15} {:>15} {:>15}",
            r.name,
            r.guide.wall,
            ratio(r.auto),
            ratio(r.fanout),
            ratio(r.relay)
        );
        let cpu = |t: Run| format!("{:6.1}", t.cpu);
        println!(
            "{:<40} {:>8} {:>15} {:>15} {:>15}",
            "    busy CPU seconds (2 cores in all)",
            cpu(r.guide),
            cpu(r.auto),
            cpu(r.fanout),
            cpu(r.relay)
        );
        let target = r.auto.wall / r.guide.wall <= r.target;
        let best = r.fanout.wall.min(r.relay.wall);
        let never_worse = r.auto.wall <= best * 1.05;
        println!(
            "    auto/guide {:.2}x (target <= {:.2}x: {}); auto/best fixed mode {:.2}x (target <= 1.05x: {})",
            r.auto.wall / r.guide.wall,
            r.target,
            if target { "PASS" } else { "FAIL" },
            r.auto.wall / best,
            if never_worse { "PASS" } else { "FAIL" }
        );
        // On 2 cores, no plan can beat half its own CPU: the lower bound of auto's time.
        println!(
            "    auto's CPU alone needs >= {:.2}s on 2 cores ({:.2}x the guide)",
            r.auto.cpu / 2.0,
            r.auto.cpu / 2.0 / r.guide.wall
        );
        pass &= target && never_worse;
    }
    println!("overall: {}", if pass { "PASS" } else { "FAIL" });
}
