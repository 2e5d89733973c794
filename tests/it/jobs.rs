//! Jobs on real test hosts: the smoke job (with web submission disabled, as in the guide), a
//! job that throws, and job health in `status` with a deliberately slow sink. The jobs are
//! the tests' own, compiled with javac --release 8 by tests/fixtures/jobs.sh.

use std::path::PathBuf;

use crate::support::{flinkup, root};
use crate::testbed::{flink_lock, Spec, Testbed};

fn job_jar(name: &str) -> PathBuf {
    let p = root().join("target/flink-jobs").join(name);
    assert!(
        p.is_file(),
        "{} is missing: run tests/fixtures/flink-tarball.sh (as .ci/run does)",
        p.display()
    );
    p
}

/// Submits a job as a user would, on the JobManager host, with the installed client and no
/// environment of its own.
fn submit(tb: &Testbed, jar: &str, args: &str) -> String {
    std::fs::copy(job_jar(jar), tb.hosts[0].root.join("tmp").join(jar)).unwrap();
    tb.submit("", &format!("/tmp/{jar}"), args)
}

fn cancel(tb: &Testbed, id: &str) {
    tb.hosts[0].exec(&format!(
        "export USER=root HOME=/root; /opt/flink/bin/flink cancel {id} >/dev/null 2>&1"
    ));
}

#[test]
fn smoke_job_and_job_health() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    // The guide's cluster, web submission disabled: deploy starts it and runs the smoke job.
    let inv = tb.guide_inventory("jobs", 2, "cluster-script");
    assert!(std::fs::read_to_string(&inv)
        .unwrap()
        .contains("jobmanager.web.submit.enable: false"));
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("+ smoke    smoke job: /opt/flink/bin/flink run -d /opt/flink/examples/streaming/WordCount.jar"),
        "{}",
        run.stdout()
    );
    assert!(run.stderr().contains("FINISHED in"), "{}", run.stderr());
    // A no-op re-run does not submit it again (verify.smoke defaults to on-start).
    let run = flinkup(tb.cmd("deploy", &inv, &["--quiet"])).expect_code(0);
    assert!(!run.stdout().contains("+ smoke"), "{}", run.stdout());

    let run = flinkup(tb.cmd("smoke", &inv, &[])).expect_code(0);
    assert!(
        run.stdout().contains("the smoke job finished"),
        "{}",
        run.stdout()
    );

    // A job that throws: smoke fails showing the exception.
    let fail = job_jar("fail.jar");
    let run = flinkup(tb.cmd("smoke", &inv, &["--jar", fail.to_str().unwrap()])).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("FAILED") && err.contains("flinkup test job fails on purpose"),
        "{err}"
    );

    // A streaming job whose sink is slow: HIGH backpressure before the sink, checkpoints with
    // a start delay, exit 1.
    let slow = submit(&tb, "pressure.jar", "slow");
    tb.wait_checkpoints(&slow, 2);
    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(1);
    let out = run.stdout();
    assert!(out.contains("flinkup pressure slow"), "{out}");
    let map_line = out
        .lines()
        .find(|l| l.contains("vertex Map"))
        .unwrap_or_else(|| panic!("no Map vertex in\n{out}"));
    assert!(map_line.contains("backpressure HIGH"), "{out}");
    assert!(!map_line.contains("start delay -"), "a start delay: {out}");
    assert!(
        out.contains("completed") && out.contains("latest #"),
        "{out}"
    );
    assert!(
        out.contains("raise its parallelism, or slow the source"),
        "the guide's advice: {out}"
    );
    let json = flinkup(tb.cmd("status", &inv, &["--json"])).expect_code(1);
    let v = json.event("status");
    assert_eq!(v["healthy"], false);
    let vertices = v["jobs"][0]["vertices"].as_array().unwrap();
    assert!(vertices.iter().any(|x| x["backpressure"] == "high"), "{v}");
    assert!(v["jobs"][0]["checkpoints"]["completed"].as_u64().unwrap() >= 2);
    cancel(&tb, &slow);

    // The same job without the slow sink: OK everywhere, exit 0.
    let fast = submit(&tb, "pressure.jar", "fast");
    tb.wait_checkpoints(&fast, 2);
    let run = flinkup(tb.cmd("status", &inv, &[])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("flinkup pressure fast") && out.contains("Healthy."),
        "{out}"
    );
    assert!(!out.contains("backpressure HIGH"), "{out}");
    cancel(&tb, &fast);
}
