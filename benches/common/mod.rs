//! What the benchmarks share: running a script, waiting for the cluster, the JVM options the
//! scripted guide needs on Java 17.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::testbed::Testbed;

/// `env.java.opts` for Flink < 1.10 on Java 16+, as flinkup writes it.
pub const JAVA_OPTS: &str = "--add-exports=java.base/sun.net.util=ALL-UNNAMED --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED";

/// Runs a bash script; its failure ends the benchmark with its output.
pub fn sh(script: &str) {
    let out = Command::new("bash")
        .args(["-euc", script])
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "script failed:\n{script}\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Waits until the JobManager on host 1 lists `tms` TaskManagers and `slots` slots.
pub fn wait_overview(tb: &Testbed, tms: u64, slots: u64, limit: Duration) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(v) = tb.get(&format!("http://{}:8082/overview", tb.ip(0))) {
            if v["taskmanagers"] == tms && v["slots-total"] == slots {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("cluster did not come up");
}

/// Runs flinkup against the testbed (its ssh config unless fetching, its cache) and returns
/// how long it took; its failure ends the benchmark with its output.
pub fn flinkup(tb: &Testbed, inv: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_flinkup"))
        .args(args)
        .arg("-i")
        .arg(inv)
        .args(if args[0] == "fetch" {
            Vec::new()
        } else {
            tb.args()
        })
        .args(tb.cache_args())
        .output()
        .expect("flinkup");
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "flinkup {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

#[allow(dead_code)] // the deploy benchmark builds a fresh testbed per run instead
/// The first `n` hosts back to their first state: no Flink, no release, the operator's key
/// alone (each host's `authorized_keys.first`, saved when the benchmark began).
pub fn clean(tb: &Testbed, n: usize) {
    for h in &tb.hosts[..n] {
        for pid in h.java_pids() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
        let o = h.exec(
            "rm -rf /opt/* /opt/.flinkup; cd /root/.ssh && rm -f id_ed25519 id_ed25519.pub known_hosts config && cp authorized_keys.first authorized_keys",
        );
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}
