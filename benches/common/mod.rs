//! What the benchmarks share: running a script, waiting for the cluster, the JVM options the
//! scripted guide needs on Java 17.

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
