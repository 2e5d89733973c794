//! Fresh deploy and no-op re-run against the deployment guide's procedure scripted with plain
//! ssh/scp, in one run on the same kind of test hosts (two network-namespace hosts with their
//! own sshd, the real Flink 1.9.3 tarball). Targets: fresh deploy <= 0.75x the scripted
//! procedure; no-op re-run <= 1.5 s.
//!
//! Run as root: `cargo bench --bench deploy`.

mod common;
#[path = "../tests/it/testbed.rs"]
#[allow(dead_code)]
mod testbed;

use std::time::{Duration, Instant};

use common::{sh, JAVA_OPTS};
use testbed::{flink_tarball, Spec, Testbed};

fn wait_overview(tb: &Testbed, tms: u64, slots: u64) {
    common::wait_overview(tb, tms, slots, Duration::from_secs(120));
}

/// The guide's steps: copy the tarball to the JobManager host, unpack, edit the config and the
/// slaves file, `scp -r` the directory to the task node, start-cluster.sh, watch the web UI.
fn scripted(tb: &Testbed) -> Duration {
    let (h1, h2) = (tb.ip(0), tb.ip(1));
    let cfg = tb.ssh_config.display();
    // Precondition of the guide, not timed: ssh trust from the JobManager host.
    sh(&format!(
        r#"ssh -F {cfg} root@{h1} 'ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519 && ssh-keyscan {h1} {h2} > ~/.ssh/known_hosts 2>/dev/null && cat ~/.ssh/id_ed25519.pub' > {dir}/jm.pub
for h in {h1} {h2}; do ssh -F {cfg} root@$h 'cat >> ~/.ssh/authorized_keys' < {dir}/jm.pub; done"#,
        dir = tb.dir.display()
    ));
    let conf = format!("jobmanager.rpc.address: {h1}\njobmanager.rpc.port: 6123\njobmanager.heap.size: 512m\ntaskmanager.heap.size: 512m\ntaskmanager.numberOfTaskSlots: 4\nparallelism.default: 1\nrest.port: 8082\njobmanager.web.submit.enable: false\nenv.java.opts: {JAVA_OPTS}\n");
    std::fs::write(tb.dir.join("flink-conf.yaml"), conf).unwrap();
    let tgz = flink_tarball();
    let start = Instant::now();
    sh(&format!(
        r#"scp -q -F {cfg} {tgz} root@{h1}:/opt/
ssh -F {cfg} root@{h1} 'tar xzf /opt/flink-1.9.3-bin-scala_2.11.tgz -C /opt'
ssh -F {cfg} root@{h1} 'cat > /opt/flink-1.9.3/conf/flink-conf.yaml' < {dir}/flink-conf.yaml
ssh -F {cfg} root@{h1} 'printf "{h2}\n{h1}\n" > /opt/flink-1.9.3/conf/slaves'
ssh -F {cfg} root@{h1} 'scp -q -r /opt/flink-1.9.3 {h2}:/opt/'
ssh -F {cfg} root@{h1} 'cd /opt/flink-1.9.3/bin && setsid ./start-cluster.sh < /dev/null > /dev/null 2>&1'"#,
        tgz = tgz.display(),
        dir = tb.dir.display()
    ));
    wait_overview(tb, 2, 8);
    start.elapsed()
}

fn flinkup(tb: &Testbed, args: &[&str]) -> Duration {
    flinkup_mode(tb, "cluster-script", args)
}

fn flinkup_mode(tb: &Testbed, mode: &str, args: &[&str]) -> Duration {
    let inv = tb.guide_inventory("bench", 4, mode);
    // The scripted guide submits no job: neither does flinkup here, to compare like with like.
    let text = std::fs::read_to_string(&inv).expect("the inventory");
    std::fs::write(&inv, format!("{text}  smoke: false\n")).expect("the inventory");
    common::flinkup(tb, &inv, args)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let _guard = testbed::flink_lock();
    let base = {
        let tb = Testbed::new(Spec::default());
        scripted(&tb)
    };
    let tb = Testbed::new(Spec::default());
    // The scripted run had the tarball on disk; give flinkup the same start: a warm cache.
    flinkup(&tb, &["fetch", "--quiet"]);
    let fresh = flinkup(&tb, &["deploy", "--yes", "--quiet"]);
    wait_overview(&tb, 2, 8);
    let mut noop: Vec<Duration> = (0..5)
        .map(|_| flinkup(&tb, &["deploy", "--quiet"]))
        .collect();
    noop.sort();
    let noop = noop[noop.len() / 2];
    drop(tb);
    let direct = {
        let tb = Testbed::new(Spec::default());
        flinkup_mode(&tb, "direct", &["fetch", "--quiet"]);
        let t = flinkup_mode(&tb, "direct", &["deploy", "--yes", "--quiet"]);
        wait_overview(&tb, 2, 8);
        t
    };
    let ratio = fresh.as_secs_f64() / base.as_secs_f64();
    let dratio = direct.as_secs_f64() / base.as_secs_f64();
    println!(
        "baseline  guide procedure with ssh/scp (fresh, 2 hosts): {:6.2} s",
        base.as_secs_f64()
    );
    println!("measured  flinkup deploy, start: cluster-script (fresh): {:6.2} s  ({ratio:.2}x baseline; target <= 0.75x: {})",
        fresh.as_secs_f64(), if ratio <= 0.75 { "PASS" } else { "FAIL" });
    println!(
        "measured  flinkup deploy, start: direct (fresh):        {:6.2} s  ({dratio:.2}x baseline)",
        direct.as_secs_f64()
    );
    println!(
        "measured  flinkup deploy (no-op re-run, median of 5):    {:6.2} s  (target <= 1.5 s: {})",
        noop.as_secs_f64(),
        if noop.as_secs_f64() <= 1.5 {
            "PASS"
        } else {
            "FAIL"
        }
    );
}
