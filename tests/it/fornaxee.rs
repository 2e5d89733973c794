//! Fornaxee on real test hosts, with a test bundle in the real format whose service really
//! talks to the Flink it was configured with: its health path answers 200 only when the
//! Flink REST address in its properties answers /overview and $FLINK_HOME/bin/flink exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::flinkup;
use crate::testbed::{flink_dist, flink_lock, flink_tarball, Spec, Testbed};

const SERVICE: &str = r#"import http.server, os, ssl, sys, urllib.request
props = {}
for line in open(sys.argv[1]):
    line = line.strip()
    if line and not line.startswith('#') and '=' in line:
        k, v = line.split('=', 1)
        props[k.strip()] = v.strip()
port = int(props.get('http.port', '18630'))
address = props.get('http.address', '0.0.0.0')
rest = props['flink.rest.url']
home = os.environ.get('FLINK_HOME', '')
# Flink's REST over https: the cluster's CA, and the client certificate it may ask for.
context = None
if 'flink.rest.ca' in props:
    context = ssl.create_default_context(cafile=props['flink.rest.ca'])
    if 'flink.rest.client_cert' in props:
        context.load_cert_chain(props['flink.rest.client_cert'])
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != '/rest/v1/ping':
            self.send_response(404); self.end_headers(); return
        ok = os.path.exists(os.path.join(home, 'bin', 'flink'))
        try:
            urllib.request.urlopen(rest + '/overview', timeout=3, context=context).read()
        except Exception as e:
            ok = False
            print('flink not reachable:', e, flush=True)
        self.send_response(200 if ok else 503); self.end_headers()
        self.wfile.write(b'ok' if ok else b'not ready')
    def log_message(self, *a):
        pass
print('fornaxee test service on port', port, 'against', rest, 'FLINK_HOME', home, flush=True)
http.server.HTTPServer((address, port), Health).serve_forever()
"#;

const RUN: &str = "#!/bin/sh\nHERE=$(cd \"$(dirname \"$0\")/..\" && pwd)\n[ \"$1\" = run ] || { echo 'usage: fornaxee run' >&2; exit 2; }\nexec python3 \"$HERE/lib/service.py\" \"$HERE/etc/fornaxee.properties\"\n";

/// How a test bundle differs from a good one.
#[derive(Clone, Copy, PartialEq)]
pub enum Flaw {
    None,
    NoManifest,
    UnknownKey,
    BadRange,
    TwoTops,
}

fn sh(script: &str) {
    let out = Command::new("sh").args(["-c", script]).output().unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Builds `fornaxee-<version>.tgz` (and its `.sha512`) in `dir`, its connector jar the 1.9.3
/// distribution's Prometheus reporter.
pub fn bundle(dir: &Path, version: &str, range: &str, flaw: Flaw) -> PathBuf {
    bundle_with(
        dir,
        version,
        range,
        flaw,
        (
            &flink_tarball(),
            "flink-1.9.3/opt/flink-metrics-prometheus-1.9.3.jar",
        ),
    )
}

/// A bundle whose connector jar is `connector`: (a Flink distribution, the jar's path in it).
pub fn bundle_with(
    dir: &Path,
    version: &str,
    range: &str,
    flaw: Flaw,
    connector: (&Path, &str),
) -> PathBuf {
    let work = dir.join(format!("bundle-build-{version}"));
    let _ = std::fs::remove_dir_all(&work);
    let top = work.join(format!("fornaxee-{version}"));
    for d in ["bin", "etc", "lib", "flink-lib"] {
        std::fs::create_dir_all(top.join(d)).unwrap();
    }
    let mut manifest = format!(
        "name: fornaxee\nversion: {version}\nflink: \"{range}\"\nhttp_port: 18630\nhealth: /rest/v1/ping\n"
    );
    match flaw {
        Flaw::UnknownKey => manifest.push_str("colour: blue\n"),
        Flaw::BadRange => manifest = manifest.replace(range, "around 1.9"),
        _ => {}
    }
    if flaw != Flaw::NoManifest {
        std::fs::write(top.join("bundle.yaml"), manifest).unwrap();
    }
    std::fs::write(top.join("bin/fornaxee"), RUN).unwrap();
    std::fs::write(
        top.join("etc/fornaxee.properties"),
        "# Fornaxee defaults\nhttp.port=18630\npipeline.threads=4\n",
    )
    .unwrap();
    std::fs::write(
        top.join("etc/fornaxee-env.sh"),
        "# replaced by the installer\n",
    )
    .unwrap();
    std::fs::write(top.join("lib/service.py"), SERVICE).unwrap();
    // A real connector jar: a metrics reporter of the Flink release the bundle is made for.
    sh(&format!(
        "tar xzf {tgz} -C {out} --strip-components={depth} {member}",
        tgz = connector.0.display(),
        out = top.join("flink-lib").display(),
        depth = connector.1.matches('/').count(),
        member = connector.1,
    ));
    if flaw == Flaw::TwoTops {
        std::fs::create_dir_all(work.join("extra")).unwrap();
        std::fs::write(work.join("extra/readme"), "x").unwrap();
    }
    let name = format!("fornaxee-{version}.tgz");
    sh(&format!(
        "chmod 755 {bin} && cd {work} && tar czf {out} * && cd {dir} && sha512sum {name} > {name}.sha512",
        bin = top.join("bin/fornaxee").display(),
        work = work.display(),
        out = dir.join(&name).display(),
        dir = dir.display(),
    ));
    dir.join(name)
}

fn get_code(url: &str) -> String {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn with_fornaxee(
    tb: &Testbed,
    name: &str,
    bundle: &Path,
    hosts: &[&str],
    port: u16,
) -> PathBuf {
    let base = std::fs::read_to_string(tb.guide_inventory(name, 2, "cluster-script")).unwrap();
    let body = format!(
        "{}fornaxee:\n  artifact: {{path: {}}}\n  hosts: [{}]\n  heap: 256m\n  properties:\n    http.port: {port}\n    pipeline.secret-token: s3cr3t\n",
        base.trim_start_matches(&format!("cluster: {name}\n")),
        bundle.display(),
        hosts.join(", ")
    );
    tb.inventory(name, &body)
}

#[test]
fn fornaxee_beside_flink_and_on_a_client_host() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    let tgz = bundle(&tb.dir, "2.3.0", ">=1.9, <1.12", Flaw::None);
    // Fornaxee on the TaskManager-only host and on a third host that runs no Flink daemon.
    let inv = with_fornaxee(&tb, "fx", &tgz, &[tb.ip(1), tb.ip(2)], 18630);
    // Relay asked for: with two hosts per archive, `auto` would upload.
    let text = std::fs::read_to_string(&inv).unwrap();
    std::fs::write(&inv, format!("{text}distribution: relay\n")).unwrap();
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    for needle in [
        "Fornaxee 2.3.0 (for Flink >=1.9, <1.12)",
        "Stage 6/",
        "fornaxee install",
        "+ write    /opt/fornaxee-2.3.0/etc/fornaxee.properties",
        "+flink.rest.url=http://",
        "pipeline.secret-token=********",
        "+ start    fornaxee on",
        "/rest/v1/ping answers 200",
        "deployed and verified",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    // Flink's release and Fornaxee's bundle take the same path: relayed host to host.
    let fx = format!("+ relay    {}", tgz.file_name().unwrap().to_string_lossy());
    assert!(
        out.contains("+ relay    flink-1.9.3-bin-scala_2.11.tgz"),
        "{out}"
    );
    assert!(out.contains(&fx), "{out}");
    assert!(
        out.contains(&format!("{} -> {}", tb.ip(1), tb.ip(2))),
        "{out}"
    );
    assert!(!out.contains("s3cr3t") && !run.stderr().contains("s3cr3t"));
    for i in [1, 2] {
        assert_eq!(
            get_code(&format!("http://{}:18630/rest/v1/ping", tb.ip(i))),
            "200",
            "Fornaxee on host {} is healthy",
            i + 1
        );
    }
    // The connector jar is in lib/ on both Flink hosts and the client host, and on the
    // TaskManager JVMs' classpath.
    for h in &tb.hosts {
        assert!(
            h.opt()
                .join("flink-1.9.3/lib/flink-metrics-prometheus-1.9.3.jar")
                .is_file(),
            "jar on {}",
            h.hostname
        );
    }
    for h in &tb.hosts[..2] {
        let on_classpath = h.java_pids().iter().any(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("flink-metrics-prometheus-1.9.3.jar"))
                .unwrap_or(false)
        });
        assert!(
            on_classpath,
            "the jar is on {}'s TaskManager classpath",
            h.hostname
        );
    }
    // The third host got the Flink client (release, conf, link) and runs no Flink daemon.
    let h3 = &tb.hosts[2];
    assert!(h3.opt().join("flink-1.9.3/bin/flink").is_file());
    assert!(h3.opt().join("flink-1.9.3/conf/flink-conf.yaml").is_file());
    assert!(
        h3.pids()
            .iter()
            .all(|p| !std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("flink.runtime"))
                .unwrap_or(false)),
        "no Flink daemon on the client host"
    );
    let env = std::fs::read_to_string(h3.opt().join("fornaxee-2.3.0/etc/fornaxee-env.sh")).unwrap();
    assert!(env.contains("export FLINK_HOME=\"/opt/flink\""), "{env}");
    assert!(env.contains("-Xmx256m"), "{env}");

    // A re-run is a no-op.
    let ids = tb.tm_ids();
    let run = flinkup(tb.cmd("deploy", &inv, &["--quiet"])).expect_code(0);
    assert!(
        run.stdout().contains("Plan: 3 hosts, 0 changes"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.tm_ids(), ids);

    // smoke --only fornaxee proves Fornaxee alone: its health on every host, no Flink job.
    let run = flinkup(tb.cmd("smoke", &inv, &["--only", "fornaxee"])).expect_code(0);
    let out = run.stdout();
    assert!(
        out.contains("/rest/v1/ping answers 200")
            && !out.contains("smoke job")
            && out.contains("Fornaxee answers on every host"),
        "{out}"
    );

    // Fornaxee cannot start (its new port is taken): Flink keeps running untouched, the error
    // names the host and shows the log tail; after the port is freed a re-run finishes.
    let mut holder = tb.hosts[1].spawn(
        "exec python3 -c 'import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((\"0.0.0.0\", 18631)); s.listen(); time.sleep(600)'",
    );
    tb.wait_listening(1, 18631, 20, "the port holder listens");
    let inv2 = with_fornaxee(&tb, "fx", &tgz, &[tb.ip(1), tb.ip(2)], 18631);
    let run = flinkup(tb.cmd("deploy", &inv2, &["--yes", "--quiet"])).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains(tb.ip(1)) && err.contains("Address already in use"),
        "the host and the log tail:\n{err}"
    );
    assert!(
        run.stdout().contains("port 18631 is held by"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.tm_ids(), ids, "Flink kept running untouched");
    let _ = holder.kill();
    let _ = holder.wait();
    flinkup(tb.cmd("deploy", &inv2, &["--yes", "--quiet"])).expect_code(0);
    assert_eq!(
        get_code(&format!("http://{}:18631/rest/v1/ping", tb.ip(1))),
        "200"
    );

    // One component at a time: Fornaxee stops and starts, Flink is left alone.
    let ids = tb.tm_ids();
    let plan = flinkup(tb.cmd("stop", &inv2, &["--only", "fornaxee", "--dry-run"]))
        .expect_code(0)
        .stdout();
    assert!(
        plan.contains("fornaxee stop") && !plan.contains("~ stop     taskmanager"),
        "{plan}"
    );
    flinkup(tb.cmd("stop", &inv2, &["--only", "fornaxee"])).expect_code(0);
    assert_ne!(
        get_code(&format!("http://{}:18631/rest/v1/ping", tb.ip(1))),
        "200"
    );
    let status = flinkup(tb.cmd("status", &inv2, &[]))
        .expect_code(1)
        .stdout();
    assert!(status.contains("NOT running"), "{status}");
    flinkup(tb.cmd("start", &inv2, &["--only", "fornaxee"])).expect_code(0);
    assert_eq!(
        get_code(&format!("http://{}:18631/rest/v1/ping", tb.ip(1))),
        "200"
    );
    assert_eq!(tb.tm_ids(), ids, "Flink was left alone");

    // Stop and destroy cover Fornaxee: stopped first, release gone, data kept.
    let plan = flinkup(tb.cmd("destroy", &inv2, &["--dry-run"]))
        .expect_code(0)
        .stdout();
    assert!(
        plan.contains("fornaxee stop") && plan.contains("fornaxee remove"),
        "{plan}"
    );
    flinkup(tb.cmd("destroy", &inv2, &["--yes"])).expect_code(0);
    for h in &tb.hosts {
        assert!(h.java_pids().is_empty(), "{} still runs java", h.hostname);
        assert!(!h.opt().join("fornaxee-2.3.0").exists());
    }
    assert!(tb.hosts[1]
        .opt()
        .join("fornaxee-logs/fornaxee.log")
        .exists());
}

#[test]
fn bad_bundles_are_refused_before_any_change() {
    let tb = Testbed::new(Spec::default());
    let cases = [
        (Flaw::NoManifest, 2, "bundle.yaml is missing"),
        (Flaw::UnknownKey, 2, "unknown field `colour`"),
        (Flaw::BadRange, 2, "is not a version range"),
        (Flaw::TwoTops, 2, "2 top directories"),
    ];
    for (i, (flaw, code, want)) in cases.into_iter().enumerate() {
        let dir = tb.dir.join(format!("case{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let tgz = bundle(&dir, "2.3.0", ">=1.9, <1.12", flaw);
        let inv = with_fornaxee(&tb, &format!("bad{i}"), &tgz, &[tb.ip(1)], 18630);
        let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(code);
        assert!(run.stderr().contains(want), "{want}: {}", run.stderr());
        assert!(
            run.stderr().contains("nothing was changed"),
            "{}",
            run.stderr()
        );
    }
    // A bundle whose checksum does not match its .sha512.
    let dir = tb.dir.join("mismatch");
    std::fs::create_dir_all(&dir).unwrap();
    let tgz = bundle(&dir, "2.3.0", ">=1.9, <1.12", Flaw::None);
    std::fs::write(
        dir.join("fornaxee-2.3.0.tgz.sha512"),
        format!("{}  fornaxee-2.3.0.tgz\n", "0".repeat(128)),
    )
    .unwrap();
    let inv = with_fornaxee(&tb, "mismatch", &tgz, &[tb.ip(1)], 18630);
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(1);
    assert!(run.stderr().contains("sha512 mismatch"), "{}", run.stderr());
    // A bundle made for other Flink versions: refused by the plan's preflight.
    let dir = tb.dir.join("range");
    std::fs::create_dir_all(&dir).unwrap();
    let tgz = bundle(&dir, "2.3.0", ">=1.10, <1.12", Flaw::None);
    let inv = with_fornaxee(&tb, "range", &tgz, &[tb.ip(1)], 18630);
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr()
            .contains("works with Flink >=1.10, <1.12; this inventory runs it with Flink 1.9.3"),
        "{}",
        run.stderr()
    );
    for h in &tb.hosts {
        assert!(
            std::fs::read_dir(h.opt()).unwrap().next().is_none(),
            "nothing reached {}",
            h.hostname
        );
    }
}

#[test]
fn fornaxee_against_an_existing_cluster() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    // The customer's cluster on host 1, installed and started with start-cluster.sh by hand.
    let ip1 = tb.ip(0).to_string();
    std::fs::copy(flink_tarball(), tb.hosts[0].root.join("tmp/flink.tgz")).unwrap();
    let conf = format!(
        "jobmanager.rpc.address: {ip1}\njobmanager.rpc.port: 6123\nrest.port: 8082\njobmanager.heap.size: 512m\ntaskmanager.heap.size: 512m\ntaskmanager.numberOfTaskSlots: 2\nenv.java.opts: {}\n",
        flinkup::components::flink::render::JDK_OPENS
    );
    let out = tb.hosts[0].exec(&format!(
        "set -e; export USER=root HOME=/root; tar xzf /tmp/flink.tgz -C /opt && mv /opt/flink-1.9.3 /opt/flink
printf '%s' '{conf}' > /opt/flink/conf/flink-conf.yaml; echo {ip1} > /opt/flink/conf/slaves
mkdir -p /root/.ssh; ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519; cat /root/.ssh/id_ed25519.pub >> /root/.ssh/authorized_keys
ssh-keyscan {ip1} >> /root/.ssh/known_hosts 2>/dev/null
setsid /opt/flink/bin/start-cluster.sh < /dev/null > /tmp/start.log 2>&1"
    ));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let ids = loop {
        if let Some(v) = tb.get(&format!("http://{ip1}:8082/taskmanagers")) {
            if v["taskmanagers"].as_array().is_some_and(|a| a.len() == 1) {
                break tb.tm_ids();
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the existing cluster came up"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let fx_inv = |name: &str, tgz: &Path| {
        tb.inventory(
            name,
            &format!(
                "flink:\n  version: 1.9.3\n  install_dir: /opt\n  artifact: {{path: {flink}}}\nssh:\n  user: root\nfornaxee:\n  artifact: {{path: {tgz}}}\n  hosts: [{ip2}]\n  heap: 256m\n  flink:\n    rest: http://{ip1}:8082\n    hosts: [{ip1}]\n    home: /opt/flink\n",
                flink = flink_tarball().display(),
                tgz = tgz.display(),
                ip2 = tb.ip(1),
            ),
        )
    };
    let tgz = bundle(&tb.dir, "2.3.0", ">=1.9, <1.12", Flaw::None);
    let inv = fx_inv("existing", &tgz);
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let out = run.stdout();
    let existing = format!("an existing cluster at http://{ip1}:8082");
    for needle in [
        existing.as_str(),
        "fornaxee connectors",
        "+ upload   flink-metrics-prometheus-1.9.3.jar -> /opt/flink/lib/",
        "flinkup never restarts a cluster it did not start",
        "(flink client, fornaxee)",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in\n{out}");
    }
    assert_eq!(
        get_code(&format!("http://{}:18630/rest/v1/ping", tb.ip(1))),
        "200"
    );
    assert!(tb.hosts[0]
        .opt()
        .join("flink/lib/flink-metrics-prometheus-1.9.3.jar")
        .is_file());
    assert_eq!(tb.tm_ids(), ids, "the existing cluster was not restarted");
    assert!(
        tb.hosts[1].opt().join("flink-1.9.3/bin/flink").is_file(),
        "the client"
    );
    let conf = std::fs::read_to_string(tb.hosts[1].opt().join("flink-1.9.3/conf/flink-conf.yaml"))
        .unwrap();
    assert!(
        conf.contains(&format!("jobmanager.rpc.address: {ip1}")),
        "{conf}"
    );
    let status = flinkup(tb.cmd("status", &inv, &[])).expect_code(0).stdout();
    assert!(
        status.contains("1 TaskManager, 2 slots") && status.contains("running (pid"),
        "{status}"
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--quiet"])).expect_code(0);
    assert!(run.stdout().contains("0 changes"), "{}", run.stdout());

    // Fornaxee listening on the host's loopback only: this machine cannot reach its port, the
    // host can. Verification and status ask on the host and call it healthy.
    let local = tb.dir.join("local-only");
    std::fs::create_dir_all(&local).unwrap();
    let text = std::fs::read_to_string(&inv).unwrap().replace(
        "  heap: 256m\n",
        "  heap: 256m\n  properties:\n    http.address: 127.0.0.1\n",
    );
    let local_inv = local.join("existing.yaml");
    std::fs::write(&local_inv, text).unwrap();
    let run = flinkup(tb.cmd("deploy", &local_inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stderr()
            .contains("asked on the host: this machine does not reach the port"),
        "{}{}",
        run.stdout(),
        run.stderr()
    );
    assert_eq!(
        get_code(&format!("http://{}:18630/rest/v1/ping", tb.ip(1))),
        "000",
        "this machine does not reach it"
    );
    let status = flinkup(tb.cmd("status", &local_inv, &[]))
        .expect_code(0)
        .stdout();
    assert!(
        status.contains(&format!("answers 200 (asked on {})", tb.ip(1)))
            && status.contains("Healthy."),
        "{status}"
    );
    // Back to listening everywhere for the rest of the test.
    flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);

    // A bundle whose range leaves out the cluster's version: refused before any change.
    let dir = tb.dir.join("newer");
    std::fs::create_dir_all(&dir).unwrap();
    let tgz = bundle(&dir, "2.4.0", ">=1.10, <1.12", Flaw::None);
    let run =
        flinkup(tb.cmd("deploy", &fx_inv("newer", &tgz), &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr()
            .contains("runs Flink 1.9.3; Fornaxee 2.4.0 works with Flink >=1.10, <1.12"),
        "{}",
        run.stderr()
    );
    assert!(!tb.hosts[1].opt().join("fornaxee-2.4.0").exists());
    assert_eq!(
        get_code(&format!("http://{}:18630/rest/v1/ping", tb.ip(1))),
        "200"
    );
}

/// Fornaxee beside a Flink 2.2 cluster: a bundle made for 1.x is refused against it before
/// anything changes; one made for 2.x installs with its connector jar in every Flink host's
/// lib/, its service reaches the 2.2 REST API and finds the client, and status and smoke see it.
#[test]
fn fornaxee_beside_flink_2_2() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let flink = flink_dist("flink-2.2.1-bin-scala_2.12.tgz");
    let jar = "flink-2.2.1/plugins/metrics-prometheus/flink-metrics-prometheus-2.2.1.jar";
    let inv = |name: &str, bundle: &Path| {
        tb.inventory(
            name,
            &format!(
                "flink:\n  version: 2.2.1\n  scala: \"2.12\"\n  install_dir: /opt\n  artifact:\n    path: {}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 1024m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  timeout: 180s\n  smoke: false\nfornaxee:\n  artifact: {{path: {}}}\n  hosts: [{h2}]\n  heap: 256m\n  properties:\n    http.port: 18630\n",
                flink.display(),
                bundle.display(),
                h1 = tb.ip(0),
                h2 = tb.ip(1),
            ),
        )
    };
    let old_dir = tb.dir.join("for-1x");
    std::fs::create_dir_all(&old_dir).unwrap();
    let old = bundle_with(&old_dir, "2.3.0", ">=1.9, <1.12", Flaw::None, (&flink, jar));
    let run = flinkup(tb.cmd("deploy", &inv("old", &old), &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr()
            .contains("works with Flink >=1.9, <1.12; this inventory runs it with Flink 2.2.1"),
        "{}",
        run.stderr()
    );
    for h in &tb.hosts {
        assert!(std::fs::read_dir(h.opt()).unwrap().next().is_none());
    }

    let tgz = bundle_with(&tb.dir, "3.0.0", ">=2.0, <3", Flaw::None, (&flink, jar));
    let inv = inv("fx2", &tgz);
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    assert!(
        run.stdout()
            .contains("Fornaxee 3.0.0 (for Flink >=2.0, <3)"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    for h in &tb.hosts {
        assert!(
            h.opt()
                .join("flink-2.2.1/lib/flink-metrics-prometheus-2.2.1.jar")
                .is_file(),
            "the connector jar on {}",
            h.hostname
        );
    }
    // Its service answers 200 only when the 2.2 REST API answers and bin/flink is there.
    assert_eq!(
        get_code(&format!("http://{}:18630/rest/v1/ping", tb.ip(1))),
        "200"
    );
    let status = flinkup(tb.cmd("status", &inv, &[])).expect_code(0).stdout();
    assert!(
        status.contains("fornaxee /opt/fornaxee-3.0.0") && status.contains("answers 200"),
        "{status}"
    );
    let run = flinkup(tb.cmd("smoke", &inv, &["--only", "fornaxee"])).expect_code(0);
    assert!(
        run.stdout().contains("Fornaxee answers on every host"),
        "{}",
        run.stdout()
    );
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);
}
