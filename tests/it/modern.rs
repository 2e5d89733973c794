//! Flink releases after 1.11 on real hosts, from distributions built out of PyPI's packages
//! (tests/fixtures/flink-modern.sh).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::flinkup;
use crate::testbed::{flink_dist, flink_lock, Spec, Testbed};

/// Flink 2.2 on two hosts with the guide's keys (see [`two_hosts_with_the_guides_keys`]), and
/// jobs of the 2.x API: the smoke job, and a job with a slow operator whose backpressure status
/// reports HIGH (2.x measures it from busy and backpressured time).
#[test]
fn flink_2_2_on_two_hosts_with_the_guides_keys() {
    two_hosts_with_the_guides_keys("2.2.1");
}

/// Flink 1.20, the long-term line, likewise.
#[test]
fn flink_1_20_on_two_hosts_with_the_guides_keys() {
    two_hosts_with_the_guides_keys("1.20.5");
}

/// A release on two hosts with the guide's keys: `config.yaml` rendered on top of the one the
/// release ships (its localhost bindings left out, its Java options kept), the guide's memory
/// keys written as the release reads them, every TaskManager verified through REST; a re-run
/// changes nothing, status reads it healthy, more slots restart what they change, stop and
/// start go through its scripts, destroy removes it.
fn two_hosts_with_the_guides_keys(version: &str) {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let tgz = flink_dist(&format!("flink-{version}-bin-scala_2.12.tgz"));
    let inv = tb.inventory(
        "modern",
        &format!(
            "flink:\n  version: {version}\n  scala: \"2.12\"\n  install_dir: /opt\n  start: cluster-script\n  artifact:\n    path: {}\nssh:\n  user: root\n  known_hosts: strict\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.rpc.port: 6123\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  parallelism.default: 1\n  rest.port: 8082\n  jobmanager.web.submit.enable: false\nverify:\n  timeout: 180s\n  smoke: false\n",
            tgz.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(run.stdout().contains("config.yaml"), "{}", run.stdout());
    assert_eq!(tb.overview(), Some((2, 4)));
    let release = tb.hosts[0].opt().join(format!("flink-{version}"));
    let conf = std::fs::read_to_string(release.join("conf/config.yaml")).unwrap();
    for needle in [
        "taskmanager.memory.flink.size: 1024m",
        "jobmanager.memory.heap.size: 512m",
        "env.java.opts.all: --add-exports",
    ] {
        assert!(conf.contains(needle), "{needle}:\n{conf}");
    }
    assert!(!conf.contains("bind-host"), "{conf}");
    assert!(!release.join("conf/flink-conf.yaml").exists());
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(run.stdout().contains("0 changes"), "{}", run.stdout());
    // Status reads the release's REST replies (2.x names TaskManagers without `host`).
    let run = flinkup(tb.cmd("status", &inv, &["--json"])).expect_code(0);
    let v = run.event("status");
    assert_eq!(
        (v["taskmanagers"].as_u64(), v["slots_total"].as_u64()),
        (Some(2), Some(4)),
        "{v}"
    );
    assert_eq!(v["healthy"], serde_json::json!(true), "{v}");
    if version.starts_with("2.") {
        jobs_of_the_2_api(&tb, &inv, version);
    }
    // Day 2: more slots restart the TaskManagers through the release's scripts, verified.
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(
        &inv,
        text.replace(
            "taskmanager.numberOfTaskSlots: 2",
            "taskmanager.numberOfTaskSlots: 3",
        ),
    )
    .unwrap();
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout()
            .contains("taskmanager.numberOfTaskSlots changed"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.overview(), Some((2, 6)));
    // Stop and start through the release's own scripts.
    flinkup(tb.cmd("stop", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(tb.overview(), None);
    flinkup(tb.cmd("start", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(tb.overview(), Some((2, 6)));
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(!tb.hosts[1].opt().join(format!("flink-{version}")).exists());
}

/// The releases between those above, each as a lab admin installs it: in turn on the same two
/// hosts, a fresh deploy with the guide's keys verified through REST (the release's own
/// configuration file and format, its Scala-free or Scala-suffixed jars, Akka or Pekko), a job
/// submitted over ssh with the installed client as it is, then destroy.
#[test]
fn each_release_deploys_and_runs_a_users_job() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    for version in ["1.15.4", "1.18.1", "1.19.3", "2.0.2", "2.3.0"] {
        let tgz = flink_dist(&format!("flink-{version}-bin-scala_2.12.tgz"));
        let inv = tb.inventory(
            &format!("r{}", version.replace('.', "")),
            &format!(
                "flink:\n  version: {version}\n  scala: \"2.12\"\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\n  jobmanager.web.submit.enable: false\nverify:\n  timeout: 180s\n  smoke: false\n",
                tgz.display(),
                h1 = tb.ip(0),
                h2 = tb.ip(1),
            ),
        );
        flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
        assert_eq!(tb.flink_version(), version);
        assert_eq!(tb.overview(), Some((2, 4)), "on {version}");
        let release = tb.hosts[0].opt().join(format!("flink-{version}/conf"));
        let file = if version == "1.15.4" || version == "1.18.1" {
            "flink-conf.yaml"
        } else {
            "config.yaml"
        };
        assert!(release.join(file).is_file(), "{version} reads {file}");
        tb.user_job_runs(&users_job(version), "");
        flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
        assert!(!tb.hosts[0].opt().join(format!("flink-{version}")).exists());
    }
}

/// The job a user submits on `version`: the 2.x-API job compiled against it from 1.19 on,
/// the 1.x test job before.
fn users_job(version: &str) -> PathBuf {
    let v: Vec<u32> = version.split('.').map(|p| p.parse().unwrap()).collect();
    if (v[0], v[1]) >= (1, 19) {
        job(version, "pressure.jar")
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/flink-jobs/pressure.jar")
    }
}

/// A test job compiled against the release's lib/ (tests/fixtures/flink-modern.sh).
fn job(version: &str, jar: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/flink-jobs")
        .join(version)
        .join(jar);
    assert!(
        p.is_file(),
        "{} is missing: run tests/fixtures/flink-modern.sh {version} (as .ci/run does)",
        p.display()
    );
    p
}

fn jobs_of_the_2_api(tb: &Testbed, inv: &Path, version: &str) {
    let count = job(version, "count.jar");
    let run = flinkup(tb.cmd("smoke", inv, &["--jar", count.to_str().unwrap()])).expect_code(0);
    assert!(
        run.stdout().contains("the smoke job finished"),
        "{}",
        run.stdout()
    );
    // Submitted as a user would on the JobManager host, with the installed client as it is.
    std::fs::copy(
        job(version, "pressure.jar"),
        tb.hosts[0].root.join("tmp/pressure.jar"),
    )
    .unwrap();
    let id = tb.submit("", "/tmp/pressure.jar", "");
    // Busy and backpressured time are averaged over a while: wait for the level to show.
    let start = Instant::now();
    let v = loop {
        let run = flinkup(tb.cmd("status", inv, &["--json"]));
        let v = run.event("status");
        let high = v["jobs"][0]["vertices"]
            .as_array()
            .is_some_and(|vs| vs.iter().any(|x| x["backpressure"] == "high"));
        if high {
            assert_eq!(
                run.code(),
                1,
                "a backpressured job makes the cluster degraded"
            );
            break v;
        }
        assert!(
            start.elapsed() < Duration::from_secs(90),
            "no HIGH backpressure reported: {v}"
        );
        std::thread::sleep(Duration::from_secs(2));
    };
    assert_eq!(v["healthy"], false, "{v}");
    tb.hosts[0].exec(&format!(
        "export USER=root HOME=/root; /opt/flink/bin/flink cancel {id} >/dev/null 2>&1"
    ));
}

/// The guide's 1.9 cluster carried forward in place: 1.9.3 → 1.20.5 → 2.2.1, each step verified
/// (the configuration file changes format on the way: flink-conf.yaml, then config.yaml with the
/// guide's memory keys under their new names), then `rollback` to 1.20.5, verified.
#[test]
fn upgrade_from_1_9_to_1_20_to_2_2_and_roll_back() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let inv = |version: &str, scala: &str| {
        let tgz = flink_dist(&format!("flink-{version}-bin-scala_{scala}.tgz"));
        let text = format!(
            "cluster: forward\nflink:\n  version: {version}\n  scala: \"{scala}\"\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\n  jobmanager.web.submit.enable: false\nverify:\n  timeout: 120s\n  smoke: false\n",
            tgz.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        );
        let dir = tb.dir.join(version);
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("forward.yaml");
        std::fs::write(&p, text).unwrap();
        p
    };
    let steps = [("1.9.3", "2.11"), ("1.20.5", "2.12"), ("2.2.1", "2.12")];
    let mut last = None;
    for (version, scala) in steps {
        let p = inv(version, scala);
        flinkup(tb.cmd("deploy", &p, &["--yes", "--quiet"])).expect_code(0);
        assert_eq!(tb.flink_version(), version);
        assert_eq!(tb.overview(), Some((2, 4)), "on {version}");
        // The installed client works on each release for whoever logs in.
        tb.user_job_runs(&users_job(version), "");
        last = Some(p);
    }
    let conf = tb.hosts[1].opt().join("flink-2.2.1/conf/config.yaml");
    let conf = std::fs::read_to_string(conf).unwrap();
    assert!(
        conf.contains("taskmanager.memory.flink.size: 1024m"),
        "{conf}"
    );
    let last = last.unwrap();
    let plan = flinkup(tb.cmd("rollback", &last, &["--dry-run"]))
        .expect_code(0)
        .stdout();
    assert!(plan.contains("/opt/flink -> /opt/flink-1.20.5"), "{plan}");
    flinkup(tb.cmd("rollback", &last, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(tb.flink_version(), "1.20.5");
    assert_eq!(tb.overview(), Some((2, 4)));
    flinkup(tb.cmd("destroy", &last, &["--yes", "--quiet"])).expect_code(0);
}

/// A host whose Java the release cannot run on is refused by preflight, naming the range,
/// before anything is uploaded: Flink 2.2 with a Java 8 on one host, Flink 1.9 with a Java 21.
/// The Java is a stand-in under the host's java_home that only answers `-version`.
#[test]
fn a_java_outside_the_releases_range_is_refused_before_anything_runs() {
    let tb = Testbed::new(Spec::default());
    for (version, scala, reports, range) in [
        ("2.2.1", "2.12", "1.8.0_292", "11 to 21"),
        ("1.9.3", "2.11", "21.0.5", "8 to 17"),
    ] {
        let jdk = tb.hosts[1].opt().join("jdk/bin");
        std::fs::create_dir_all(&jdk).unwrap();
        std::fs::write(
            jdk.join("java"),
            format!("#!/bin/sh\necho 'openjdk version \"{reports}\" 2024-01-16' >&2\n"),
        )
        .unwrap();
        std::process::Command::new("chmod")
            .args(["+x", jdk.join("java").to_str().unwrap()])
            .status()
            .unwrap();
        let tgz = flink_dist(&format!("flink-{version}-bin-scala_{scala}.tgz"));
        let inv = tb.inventory(
            &format!("java-{version}"),
            &format!(
                "flink:\n  version: {version}\n  scala: \"{scala}\"\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers:\n  - {{host: {h2}, java_home: /opt/jdk}}\nconfig:\n  rest.port: 8082\n",
                tgz.display(),
                h1 = tb.ip(0),
                h2 = tb.ip(1),
            ),
        );
        let run = flinkup(tb.cmd("deploy", &inv, &["--yes"])).expect_code(1);
        let major = reports.split('.').next().unwrap();
        let major = if major == "1" { "8" } else { major };
        assert!(
            run.stderr().contains(&format!(
                "{}: Flink {version} runs on Java {range}; /opt/jdk/bin/java here is Java {major}",
                tb.ip(1)
            )),
            "{}",
            run.stderr()
        );
        for h in &tb.hosts {
            let left: Vec<_> = std::fs::read_dir(h.opt())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .filter(|n| n != "jdk")
                .collect();
            assert!(left.is_empty(), "nothing installed, found {left:?}");
        }
    }
}
