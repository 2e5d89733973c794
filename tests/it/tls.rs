//! TLS on real test hosts (`tls:`): REST over https with the cluster's CA and not over http,
//! internal TLS as the JobManager reports it, client certificates, status, smoke, a rolling
//! rotation with a running job savepointed, TLS turned on for a running plain cluster, no
//! secret in any output, and hosts whose JDK refuses the suites.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::fornaxee::Flaw;
use crate::support::{flinkup_env, root, Run};
use crate::testbed::{flink_dist, flink_lock, Spec, Testbed};

/// flinkup with the testbed's own state directory (where the cluster's CA is kept).
fn run(tb: &Testbed, args: Vec<String>) -> Run {
    flinkup_env(&[("FLINKUP_STATE_DIR", &state(tb))], args)
}

/// `flinkup tls rotate` against the testbed.
fn rotate(tb: &Testbed, inv: &Path, extra: &[&str]) -> Run {
    let args: Vec<String> = ["tls", "rotate", "-i", inv.to_str().unwrap()]
        .map(String::from)
        .into_iter()
        .chain(tb.args())
        .chain(tb.cache_args())
        .chain(extra.iter().map(|s| s.to_string()))
        .collect();
    run(tb, args)
}

fn state(tb: &Testbed) -> PathBuf {
    tb.dir.join("state")
}

fn tls_dir(tb: &Testbed, cluster: &str) -> PathBuf {
    state(tb).join("clusters").join(cluster).join("tls")
}

/// curl from this machine: (HTTP status, 0 when nothing answered as HTTP, and the body).
fn curl(args: &[&str], url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn file_mode(tb: &Testbed, i: usize, path: &str) -> String {
    let out = tb.hosts[i].exec(&format!("stat -c %a {path}"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sha(tb: &Testbed, i: usize, path: &str) -> String {
    let out = tb.hosts[i].exec(&format!("sha256sum {path} | cut -d' ' -f1"));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every secret of the cluster's TLS state: both passwords, and the private keys in PEM and
/// as their base64 body lines.
fn secrets(dir: &Path) -> Vec<String> {
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("tls.json")).unwrap()).unwrap();
    let mut out = vec![
        v["secrets"]["keystore_password"]
            .as_str()
            .unwrap()
            .to_string(),
        v["secrets"]["truststore_password"]
            .as_str()
            .unwrap()
            .to_string(),
    ];
    for k in ["ca_key", "key", "client_key"] {
        let pem = v[k].as_str().unwrap();
        out.extend(
            pem.lines()
                .filter(|l| !l.starts_with("-----") && l.len() > 20)
                .map(str::to_string),
        );
    }
    out
}

fn assert_no_secret(what: &str, text: &str, secrets: &[String]) {
    assert!(!text.contains("PRIVATE KEY"), "{what} shows a private key");
    for s in secrets {
        assert!(!text.contains(s.as_str()), "{what} shows a secret ({s})");
    }
}

fn job_runs(tb: &Testbed, cert: &[&str]) {
    let start = Instant::now();
    loop {
        let (code, body) = curl(cert, &format!("https://{}:8082/jobs/overview", tb.ip(0)));
        if code == 200 && body.contains("RUNNING") {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the job runs: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn tls_turned_on_for_a_running_cluster_rotated_and_kept_secret() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    // Fornaxee on the TaskManager-only host: its service asks Flink's /overview for its health.
    let bundle = crate::fornaxee::bundle(&tb.dir, "2.3.0", ">=1.9, <1.12", Flaw::None);
    let inv = crate::fornaxee::with_fornaxee(&tb, "tls19", &bundle, &[tb.ip(1)], 18630);
    let plain = std::fs::read_to_string(&inv).unwrap();
    run(&tb, tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let jm = format!("https://{}:8082", tb.ip(0));

    // A job runs on the plain cluster; TLS is turned on with it protected by a savepoint (the
    // savepoint's client speaks plain http to the running JobManager).
    let jar = root().join("target/flink-jobs/pressure.jar");
    std::fs::copy(&jar, tb.hosts[0].root.join("tmp/pressure.jar")).unwrap();
    tb.submit("", "/tmp/pressure.jar", "fast");
    std::fs::write(
        &inv,
        format!("{plain}tls:\n  enabled: true\n  rest_client_auth: true\n"),
    )
    .unwrap();
    let preview = run(&tb, tb.cmd("deploy", &inv, &["--dry-run"])).expect_code(0);
    let json = run(&tb, tb.cmd("plan", &inv, &["--json"])).expect_code(0);
    let on = run(
        &tb,
        tb.cmd(
            "deploy",
            &inv,
            &["--yes", "-v", "--savepoint", "file:///tmp/savepoints"],
        ),
    )
    .expect_code(0);
    let err = on.stderr();
    assert!(err.contains("stopped with a savepoint at"), "{err}");
    assert!(err.contains("verified https://"), "{err}");
    // Fornaxee talks to Flink over https with the CA and the client certificate.
    let props = std::fs::read_to_string(
        tb.hosts[1]
            .opt()
            .join("fornaxee-2.3.0/etc/fornaxee.properties"),
    )
    .unwrap();
    assert!(
        props.contains(&format!("flink.rest.url=https://{}:8082", tb.ip(0)))
            && props.contains("flink.rest.ca=/opt/tls/ca.pem")
            && props.contains("flink.rest.client_cert=/opt/tls/client.pem"),
        "{props}"
    );
    let (code, body) = curl(&[], &format!("http://{}:18630/rest/v1/ping", tb.ip(1)));
    assert_eq!(code, 200, "Fornaxee reaches Flink over TLS: {body}");
    let dir = tls_dir(&tb, "tls19");
    let ca = dir.join("ca.pem");
    let client = dir.join("client.pem");
    let (ca_s, client_s) = (ca.to_str().unwrap(), client.to_str().unwrap());

    // `flinkup ca` prints the CA that REST's certificate chains to.
    let printed = run(
        &tb,
        vec!["ca".into(), "-i".into(), inv.display().to_string()],
    )
    .expect_code(0)
    .stdout();
    assert!(
        printed.starts_with("-----BEGIN CERTIFICATE-----"),
        "{printed}"
    );
    assert_eq!(printed, std::fs::read_to_string(&ca).unwrap());
    let pem = tb.dir.join("printed-ca.pem");
    std::fs::write(&pem, &printed).unwrap();
    let trusted = ["--cacert", pem.to_str().unwrap(), "--cert", client_s];
    let (code, body) = curl(&trusted, &format!("{jm}/overview"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"taskmanagers\":2"), "{body}");
    // Not over http, and not without the client certificate.
    let (code, _) = curl(&[], &format!("http://{}:8082/overview", tb.ip(0)));
    assert_ne!(code, 200, "REST still answers over http");
    let (code, _) = curl(&["--cacert", ca_s], &format!("{jm}/overview"));
    assert_ne!(code, 200, "REST answers without a client certificate");
    // The JobManager runs with internal TLS on.
    let (_, config) = curl(&trusted, &format!("{jm}/jobmanager/config"));
    let config: serde_json::Value = serde_json::from_str(&config).unwrap();
    let value = |k: &str| {
        config
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["key"] == k)
            .map(|e| e["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        value("security.ssl.internal.enabled").as_deref(),
        Some("true")
    );
    assert_eq!(
        value("security.ssl.rest.authentication-enabled").as_deref(),
        Some("true")
    );
    for i in 0..2 {
        assert_eq!(file_mode(&tb, i, "/opt/tls/keystore.p12"), "600");
        assert_eq!(file_mode(&tb, i, "/opt/tls"), "700");
        assert_eq!(file_mode(&tb, i, "/opt/flink/conf/flink-conf.yaml"), "600");
    }

    // status, the smoke job and a re-run, all over TLS.
    let st = run(&tb, tb.cmd("status", &inv, &[])).expect_code(0);
    assert!(
        st.stdout()
            .contains("TLS: internal and REST (https, client certificates required)"),
        "{}",
        st.stdout()
    );
    run(&tb, tb.cmd("smoke", &inv, &[])).expect_code(0);
    let again = run(&tb, tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(again.stdout().contains("0 changes"), "{}", again.stdout());

    // Rotation: new certificates and passwords under the same CA, a rolling restart with the
    // running job savepointed first, verified.
    let before = secrets(&dir);
    let keystore = sha(&tb, 1, "/opt/tls/keystore.p12");
    tb.submit("", "/tmp/pressure.jar", "fast");
    job_runs(&tb, &trusted);
    let refused = rotate(&tb, &inv, &["--yes", "--quiet"]).expect_code(1);
    assert!(
        refused.stderr().contains("--savepoint"),
        "{}",
        refused.stderr()
    );
    assert_eq!(sha(&tb, 1, "/opt/tls/keystore.p12"), keystore);
    let rotated = rotate(
        &tb,
        &inv,
        &["--yes", "-v", "--savepoint", "file:///tmp/savepoints"],
    )
    .expect_code(0);
    let err = rotated.stderr();
    assert!(err.contains("stopped with a savepoint at"), "{err}");
    assert!(err.contains("registered"), "rolling TaskManagers: {err}");
    assert_ne!(sha(&tb, 1, "/opt/tls/keystore.p12"), keystore);
    let after = secrets(&dir);
    assert_ne!(before[0], after[0], "new passwords");
    assert_eq!(std::fs::read_to_string(&ca).unwrap(), printed, "same CA");
    let (code, _) = curl(&trusted, &format!("{jm}/overview"));
    assert_eq!(code, 200);
    run(&tb, tb.cmd("status", &inv, &[])).expect_code(0);

    // No password, key or private part anywhere flinkup writes text.
    let history =
        String::from_utf8_lossy(&tb.hosts[0].exec("cat /opt/.flinkup/history.jsonl").stdout)
            .into_owned();
    assert!(
        history.contains("\"command\":\"tls rotate\""),
        "the rotation is in the history: {history}"
    );
    let all: Vec<String> = before.iter().chain(after.iter()).cloned().collect();
    for (what, text) in [
        ("the plan", preview.stdout()),
        ("the JSON plan", json.stdout()),
        ("-v output", format!("{}{}", on.stdout(), on.stderr())),
        (
            "-v rotation",
            format!("{}{}", rotated.stdout(), rotated.stderr()),
        ),
        ("the on-host history", history),
    ] {
        assert_no_secret(what, &text, &all);
    }

    // A JDK that refuses every suite asked for: refused before anything changes.
    let conf = sha(&tb, 0, "/opt/flink/conf/flink-conf.yaml");
    std::fs::write(
        &inv,
        format!("{plain}tls:\n  enabled: true\n  rest_client_auth: true\n  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"),
    )
    .unwrap();
    let refused = run(&tb, tb.cmd("deploy", &inv, &["--yes", "--quiet"]));
    assert_ne!(refused.code(), 0);
    assert!(
        refused.stderr().contains("disables every cipher suite")
            || refused.stdout().contains("disables every cipher suite"),
        "{}{}",
        refused.stdout(),
        refused.stderr()
    );
    assert_eq!(sha(&tb, 0, "/opt/flink/conf/flink-conf.yaml"), conf);

    // destroy removes the keystores with the rest.
    run(&tb, tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
    for i in 0..2 {
        assert!(!tb.hosts[i].opt().join("tls").exists());
    }
}

/// A 2.x cluster deployed with TLS from the start: https only, internal TLS on, status, the
/// smoke job with a job of the 2.x API, a rotation's rolling restart verified, then TLS
/// turned off.
#[test]
fn a_2x_cluster_with_tls_from_the_start() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let version = "2.2.1";
    let tgz = flink_dist(&format!("flink-{version}-bin-scala_2.12.tgz"));
    let inv = tb.inventory(
        "tls2",
        &format!(
            "flink:\n  version: {version}\n  scala: \"2.12\"\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 180s\n  smoke: false\ntls:\n  enabled: true\n  validity: 20d\n",
            tgz.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        ),
    );
    let dep = run(&tb, tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        dep.stderr().contains("verified https://"),
        "{}",
        dep.stderr()
    );
    let ca = tls_dir(&tb, "tls2").join("ca.pem");
    let trusted = ["--cacert", ca.to_str().unwrap()];
    let (code, body) = curl(&trusted, &format!("https://{}:8082/overview", tb.ip(0)));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"taskmanagers\":2"), "{body}");
    let (code, _) = curl(&[], &format!("http://{}:8082/overview", tb.ip(0)));
    assert_ne!(code, 200, "REST still answers over http");
    let (_, config) = curl(
        &trusted,
        &format!("https://{}:8082/jobmanager/config", tb.ip(0)),
    );
    assert!(
        config.contains("\"key\":\"security.ssl.internal.enabled\",\"value\":\"true\""),
        "{config}"
    );
    let st = run(&tb, tb.cmd("status", &inv, &[])).expect_code(0);
    assert!(
        st.stdout().contains("TLS: internal and REST (https)"),
        "{}",
        st.stdout()
    );
    let count = root()
        .join("target/flink-jobs")
        .join(version)
        .join("count.jar");
    let smoke = run(
        &tb,
        tb.cmd("smoke", &inv, &["--jar", count.to_str().unwrap()]),
    )
    .expect_code(0);
    assert!(
        smoke.stdout().contains("the smoke job finished"),
        "{}",
        smoke.stdout()
    );
    let rotated = rotate(&tb, &inv, &["--yes"]).expect_code(0);
    assert!(
        rotated.stderr().contains("registered"),
        "{}",
        rotated.stderr()
    );
    let (code, _) = curl(&trusted, &format!("https://{}:8082/overview", tb.ip(0)));
    assert_eq!(code, 200);
    // TLS turned off again: plain http, the keystores gone from the hosts.
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(
        &inv,
        text.replace("tls:\n  enabled: true\n  validity: 20d\n", ""),
    )
    .unwrap();
    let off = run(&tb, tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(off.stdout().contains("tls cleanup"), "{}", off.stdout());
    assert_eq!(tb.overview(), Some((2, 4)));
    for i in 0..2 {
        assert!(!tb.hosts[i].opt().join("tls").exists());
    }
    run(&tb, tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
}

/// Two JobManagers with ZooKeeper high availability and TLS with client certificates: each
/// JobManager's REST answers over https (the certificate names both), the verification names
/// the leader, and a rotation restarts the JobManagers one at a time, each verified, the
/// running job recovered by high availability.
#[test]
fn high_availability_over_tls() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let storage = tb.dir.join("ha-storage");
    let inv = tb.inventory(
        "tlsha",
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: /opt\n  artifact:\n    path: {tgz}\nssh:\n  user: root\njobmanagers: [{h1}, {h2}]\ntaskmanagers: [{h1}, {h2}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 180s\n  smoke: false\nha:\n  storage_dir: file://{storage}\n  zookeeper: [{h1}]\ntls:\n  enabled: true\n  rest_client_auth: true\n",
            tgz = crate::testbed::flink_tarball().display(),
            storage = storage.display(),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        ),
    );
    let dep = run(&tb, tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        dep.stderr().contains(" leads; standing by: "),
        "{}",
        dep.stderr()
    );
    let dir = tls_dir(&tb, "tlsha");
    let (ca, client) = (dir.join("ca.pem"), dir.join("client.pem"));
    let trusted = [
        "--cacert",
        ca.to_str().unwrap(),
        "--cert",
        client.to_str().unwrap(),
    ];
    for i in 0..2 {
        let (code, body) = curl(&trusted, &format!("https://{}:8082/overview", tb.ip(i)));
        assert_eq!(code, 200, "JobManager {i}: {body}");
    }
    // A running job outlives the rotation: the JobManagers restart one at a time under high
    // availability, and the job, restarted with every TaskManager (`--force` says so), comes
    // back from its checkpoints.
    let jar = root().join("target/flink-jobs/pressure.jar");
    std::fs::copy(&jar, tb.hosts[0].root.join("tmp/pressure.jar")).unwrap();
    let id = tb.submit("", "/tmp/pressure.jar", "fast");
    job_runs(&tb, &trusted);
    let rotated = rotate(&tb, &inv, &["--yes", "--force"]).expect_code(0);
    let err = rotated.stderr();
    assert!(err.contains(" leads; standing by: "), "{err}");
    let start = Instant::now();
    loop {
        let (code, body) = curl(&trusted, &format!("https://{}:8082/jobs/{id}", tb.ip(0)));
        if code == 200 && body.contains("\"state\":\"RUNNING\"") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the job runs again after the rotation: {code} {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    run(
        &tb,
        tb.cmd("destroy", &inv, &["--yes", "--quiet", "--force"]),
    )
    .expect_code(0);
}
