//! The Java runtime component on real test hosts: a host whose Java is hidden from it (its
//! mount namespace masks the machine's JDKs, so `java` on PATH leads nowhere) gets the runtime
//! from a JDK tarball made from this machine's JDK, out of a site kit; the other host keeps its
//! own; both run the cluster; destroy removes only the runtime flinkup installed.

use std::process::Command;

use crate::support::flinkup;
use crate::testbed::{flink_lock, flink_tarball, jdk_tarball, Testbed};

#[test]
fn a_host_without_java_gets_the_runtime_and_the_other_keeps_its_own() {
    let _flink = flink_lock();
    let jdk = jdk_tarball();
    let jdk_name = jdk.file_name().unwrap().to_string_lossy().to_string();
    let stem = jdk_name.trim_end_matches(".tar.gz").to_string();
    let sha =
        String::from_utf8_lossy(&Command::new("sha512sum").arg(&jdk).output().unwrap().stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string();
    let tb = Testbed::new(Default::default());
    // Host 1 has no Java: every JDK of the machine is masked in its mount namespace.
    let o = tb.hosts[0].exec("mount -t tmpfs none /usr/lib/jvm && ! command -v java");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // A directory of someone else's under the runtimes' home: destroy leaves it.
    let o = tb.hosts[0].exec("mkdir -p /opt/java/vendor-jdk/bin && touch /opt/java/vendor-jdk/bin/java && chmod +x /opt/java/vendor-jdk/bin/java");
    assert!(o.status.success());

    let text = std::fs::read_to_string(tb.guide_inventory("rt", 2, "cluster-script")).unwrap();
    let made_for = tb.inventory(
        "rt",
        &format!(
            "{}java:\n  artifact:\n    path: {}\n    sha512: {sha}\n",
            text.trim_start_matches("cluster: rt\n"),
            jdk.display()
        ),
    );

    // No Java on host 1 and no runtime: refused before anything changes.
    let plain = tb.guide_inventory("plain", 2, "cluster-script");
    let run = flinkup(tb.cmd("deploy", &plain, &["--yes", "--quiet"])).expect_code(1);
    assert!(
        (run.stdout() + &run.stderr()).contains("no working java here"),
        "{}{}",
        run.stdout(),
        run.stderr()
    );

    // The plan says which Java runs Flink on each host, and why.
    let run = flinkup(tb.cmd("plan", &made_for, &[])).expect_code(0);
    let plan = run.stdout();
    assert!(
        plan.contains(&format!("flinkup's runtime /opt/java/{stem}, Java 17"))
            && plan.contains("(no Java here)")
            && plan.contains("its own Java 17 fits Flink 1.9.3")
            && plan.contains(&jdk_name),
        "{plan}"
    );

    // The kit carries the runtime; the site's inventory names URLs nothing answers at.
    let kit = tb.dir.join("site.kit");
    flinkup([
        "kit",
        "-i",
        &made_for.display().to_string(),
        "-o",
        &kit.display().to_string(),
        "--cache-dir",
        &tb.dir.join("cache").display().to_string(),
    ])
    .expect_code(0);
    let list = Command::new("tar").arg("tf").arg(&kit).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains(&format!("artifacts/{jdk_name}")));
    let site_text = std::fs::read_to_string(&made_for)
        .unwrap()
        .replace(
            &format!("    path: {}\n", flink_tarball().display()),
            "    url: http://127.0.0.1:9/flink-1.9.3-bin-scala_2.11.tgz\n",
        )
        .replace(
            &format!("    path: {}\n    sha512: {sha}\n", jdk.display()),
            &format!("    url: http://127.0.0.1:9/{jdk_name}\n    sha512: {sha}\n"),
        );
    assert_eq!(site_text.matches("127.0.0.1:9").count(), 2, "{site_text}");
    let site = tb.inventory("rt", site_text.trim_start_matches("cluster: rt\n"));
    let mut args = tb.cmd("deploy", &site, &["--yes", "--quiet"]);
    args.extend(["--kit".into(), kit.display().to_string()]);
    flinkup(&args).expect_code(0);

    // Host 1 runs its daemons with flinkup's runtime; host 2 with its own Java.
    let home = format!("/opt/java/{stem}");
    let jm_conf =
        std::fs::read_to_string(tb.hosts[0].opt().join("flink-1.9.3/conf/flink-conf.yaml"))
            .unwrap();
    let launcher = std::fs::read_to_string(
        tb.hosts[0]
            .opt()
            .join("flink-1.9.3/conf/java-launcher/bin/java"),
    )
    .unwrap_or_default();
    assert!(
        jm_conf.contains(&format!("env.java.home: {home}"))
            || launcher.contains(&format!("{home}/bin/java")),
        "host 1's Java home is the runtime:\n{jm_conf}\n{launcher}"
    );
    let tm_conf =
        std::fs::read_to_string(tb.hosts[1].opt().join("flink-1.9.3/conf/flink-conf.yaml"))
            .unwrap();
    let tm_launcher = std::fs::read_to_string(
        tb.hosts[1]
            .opt()
            .join("flink-1.9.3/conf/java-launcher/bin/java"),
    )
    .unwrap_or_default();
    assert!(
        !tm_conf.contains("/opt/java") && !tm_launcher.contains("/opt/java"),
        "host 2 keeps its own Java:\n{tm_conf}\n{tm_launcher}"
    );
    assert!(
        !tb.hosts[1].opt().join("java").exists(),
        "nothing installed on host 2"
    );
    let exes: Vec<String> = tb.hosts[0]
        .java_pids()
        .iter()
        .filter_map(|p| std::fs::read_link(format!("/proc/{p}/exe")).ok())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        exes.len() >= 2 && exes.iter().all(|l| l.starts_with(&home)),
        "host 1's JobManager and TaskManager run {home}/bin/java: {exes:?}"
    );
    let run = flinkup(tb.cmd("status", &made_for, &[])).expect_code(0);
    assert!(run.stdout().contains("2 TaskManagers"), "{}", run.stdout());

    // A re-run changes nothing.
    let run = flinkup(tb.cmd("deploy", &made_for, &["--yes"])).expect_code(0);
    assert!(run.stdout().contains("up to date"), "{}", run.stdout());

    // Destroy removes the runtime flinkup installed, and only that.
    let run = flinkup(tb.cmd("destroy", &made_for, &["--yes"])).expect_code(0);
    assert!(run.stdout().contains(&home), "{}", run.stdout());
    assert!(!tb.hosts[0].opt().join(format!("java/{stem}")).exists());
    assert!(tb.hosts[0].opt().join("java/vendor-jdk/bin/java").exists());
}
