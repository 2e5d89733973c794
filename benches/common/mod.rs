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
/// how long it took; its failure ends the benchmark with its output. With `BENCH_TRACE=FILE`,
/// each run is traced into FILE (`-v`: every remote command and how long it took, each line
/// with the seconds since the run began).
pub fn flinkup(tb: &Testbed, inv: &Path, args: &[&str]) -> Duration {
    use std::io::{BufRead, Read, Write};
    let trace = std::env::var_os("BENCH_TRACE");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_flinkup"))
        .args(trace.as_ref().map(|_| "-v"))
        .args(args)
        .arg("-i")
        .arg(inv)
        .args(if args[0] == "fetch" {
            Vec::new()
        } else {
            tb.args()
        })
        .args(tb.cache_args())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("flinkup");
    let mut stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let mut err = String::new();
    for line in std::io::BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap_or_default();
        err += &format!("{:7.2} {line}\n", start.elapsed().as_secs_f64());
    }
    let status = child.wait().expect("flinkup");
    let took = start.elapsed();
    let out = out.join().unwrap();
    if let Some(file) = trace {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
            .expect("trace file");
        let _ = writeln!(
            f,
            "=== flinkup {args:?} -i {} ({:.2}s)\n{err}",
            inv.display(),
            took.as_secs_f64()
        );
    }
    assert!(status.success(), "flinkup {args:?} failed:\n{out}{err}");
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
