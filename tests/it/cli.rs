//! validate, render and the offline plan: everything that needs no network.

use crate::support::{flinkup, root};

/// Every bad inventory under tests/inventories/bad, each breaking one rule.
const BAD: &[(&str, &str)] = &[
    ("syntax", "invalid YAML"),
    ("java-without-artifact", "java has no artifact"),
    (
        "java-and-env-java-home",
        "config sets env.java.home, and java: installs a runtime",
    ),
    ("java-not-a-tarball", "is not a .tar.gz or .tgz archive"),
    ("bad-supervisor", "valid values here: systemd, scripts, auto"),
    (
        "tls-client-auth-without-enabled",
        "tls.rest_client_auth requires client certificates on a REST API that TLS protects",
    ),
    (
        "tls-and-ssl-keys-in-config",
        "config sets security.ssl.algorithms, and tls: makes flinkup set Flink's TLS keys",
    ),
    (
        "tls-openssl-suite-names",
        "tls.cipher_suites must list cipher suite names",
    ),
    ("bad-distribution", "valid values here: relay, fanout"),
    (
        "relay-fanout-out-of-range",
        "relay_fanout 0 is out of range",
    ),
    ("unknown-field", "did you mean `jobmanager`?"),
    ("unknown-nested-field", "did you mean `install_dir`?"),
    ("unknown-host-field", "did you mean `address`?"),
    ("missing-jobmanager", "no jobmanager"),
    ("missing-cluster", "missing field `cluster`"),
    ("empty-taskmanagers", "no taskmanagers"),
    ("duplicate-taskmanager", "listed twice"),
    ("bad-host-name", "contains `;`"),
    ("bad-ip-address", "not a valid IPv4 address"),
    ("bad-host-address", "bad address"),
    ("port-out-of-range", "not a port from 1 to 65535"),
    ("port-not-a-number", "not a port"),
    ("ports-collide", "are both 6123"),
    (
        "ports-collide-default",
        "jobmanager.rpc.port is 8081, the port rest.port takes by default",
    ),
    ("ssh-port-out-of-range", "ssh port 0 is out of range"),
    ("host-ssh-port-out-of-range", "ssh port 65536"),
    ("memory-no-unit", "has no unit"),
    ("memory-bad-unit", "unknown unit"),
    ("zero-slots", "at least 1"),
    ("newline-in-value", "spans several lines"),
    ("hash-in-value", "contains `#`"),
    ("bad-config-key", "characters Flink cannot read"),
    ("unsupported-version", "Flink 1.8.0 is not supported"),
    ("version-not-a-version", "not a Flink version"),
    ("bad-scala", "not a Flink binary flavour"),
    ("rpc-address-conflict", "jobmanager.rpc.address is"),
    ("bad-timeout", "not a duration"),
    ("bad-known-hosts", "did you mean `strict`?"),
    ("bad-user", "not a valid user name"),
    ("relative-install-dir", "neither absolute"),
    ("install-dir-with-dotdot", "contains `..`"),
    ("artifact-url-and-path", "both `url` and `path`"),
    ("artifact-bad-sha512", "128 hex characters"),
    ("artifact-bad-url", "not an http:// or https:// URL"),
    ("empty", "empty"),
    ("not-a-map", "not a map of settings"),
    ("taskmanager-memory-too-small-1-10", "leave no task heap"),
    (
        "ha-without-zookeeper",
        "ha has neither zookeeper nor zookeeper_quorum",
    ),
    (
        "ha-storage-without-scheme",
        "storage_dir `/srv/flink-ha` has no scheme",
    ),
    (
        "taskmanager-process-size-too-small-2-2",
        "452.0m of Flink memory) is too small for Flink 2.2.1",
    ),
    (
        "jobmanager-process-size-too-small-1-20",
        "leaves no JVM heap, and the JobManager refuses to start",
    ),
    ("several-mistakes", "4 errors in the inventory"),
    ("templates-dir-missing", "not a directory"),
    ("templates-dir-escape", "climbs out with `..`"),
    ("install-dir-injection", "contains `$`"),
    ("not-utf8", "not UTF-8 text"),
    ("ipv6-host-name", "is an IPv6 address"),
    (
        "rest-port-is-the-default-rpc-port",
        "rest.port is 6123, the port jobmanager.rpc.port takes by default",
    ),
    (
        "key-indented-too-far",
        "is indented more than `jobmanager.heap.size` on line 13",
    ),
    ("key-indented-too-little", "so it belongs to neither"),
    (
        "unknown-config-key",
        "did you mean `taskmanager.numberOfTaskSlots`?",
    ),
    (
        "removed-config-key",
        "`taskmanager.memory.fraction` was removed in Flink 1.10",
    ),
    (
        "version-newer-than-the-catalogue",
        "Flink 2.4.0 is newer than every release flinkup knows",
    ),
    (
        "jobmanagers-without-ha",
        "2 JobManagers without ha: standalone Flink runs several JobManagers only when ZooKeeper elects their leader",
    ),
    ("jobmanager-and-jobmanagers", "both jobmanager and jobmanagers"),
    (
        "direct-distribution-of-a-local-file",
        "distribution: direct has every host download flink.artifact from its URL",
    ),
    (
        "jobmanager-listed-twice",
        "`192.168.1.143` is listed twice in jobmanagers",
    ),
    (
        "high-availability-in-config",
        "high availability is the inventory's ha: section",
    ),
];

#[test]
fn every_bad_inventory_is_rejected_with_where_and_how() {
    let dir = root().join("tests/inventories/bad");
    let on_disk = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        on_disk,
        BAD.len(),
        "every file in {} is listed in BAD",
        dir.display()
    );
    for (name, needle) in BAD {
        let file = format!("tests/inventories/bad/{name}.yaml");
        let run = flinkup(["validate", "-i", &file]).expect_code(2);
        let err = run.stderr();
        assert!(run.stdout().is_empty(), "{name}: nothing on stdout");
        assert!(
            err.contains(needle),
            "{name}: expected {needle:?} in\n{err}"
        );
        assert!(
            err.contains(&format!("--> {file}")),
            "{name}: names the file\n{err}"
        );
        assert!(
            err.contains("= help: "),
            "{name}: says how to fix it\n{err}"
        );
        insta::assert_snapshot!(format!("bad_{name}"), err);
    }
}

#[test]
fn bad_inventory_writes_nothing() {
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("rendered");
    flinkup([
        "render",
        "-i",
        "tests/inventories/bad/ports-collide.yaml",
        "-o",
        target.to_str().unwrap(),
    ])
    .expect_code(2);
    assert!(
        !target.exists(),
        "render must not create its output on invalid input"
    );
}

#[test]
fn unknown_flink_key_is_an_error_with_the_nearest_key_of_that_release() {
    let run = flinkup([
        "validate",
        "-i",
        "tests/inventories/bad/unknown-config-key.yaml",
    ])
    .expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains("error: `taskmanager.numberOfTaskSlot` is not a Flink 1.9 configuration key"),
        "{err}"
    );
    assert!(err.contains(":20:3"), "points at the key: {err}");
}

/// A key the release deprecates in favour of another is accepted with a warning and written
/// under the name the release reads, saying so in the file.
#[test]
fn deprecated_key_is_written_under_the_name_the_release_reads() {
    let run = flinkup([
        "validate",
        "-i",
        "tests/inventories/good/deprecated-key.yaml",
    ])
    .expect_code(0);
    assert!(
        run.stderr().contains(
            "warning: `taskmanager.network.memory.fraction` is deprecated in Flink 1.11: flinkup writes it as `taskmanager.memory.network.fraction`"
        ),
        "{}",
        run.stderr()
    );
    let out = tempfile::tempdir().unwrap();
    flinkup([
        "render",
        "-i",
        "tests/inventories/good/deprecated-key.yaml",
        "-o",
        out.path().to_str().unwrap(),
    ])
    .expect_code(0);
    let conf = std::fs::read_to_string(out.path().join("flink-conf.yaml")).unwrap();
    assert!(
        conf.contains("# taskmanager.network.memory.fraction in the inventory (Flink 1.11 reads it as taskmanager.memory.network.fraction)\ntaskmanager.memory.network.fraction: 0.15\n"),
        "{conf}"
    );
    assert!(
        !conf.contains("taskmanager.network.memory.fraction:"),
        "{conf}"
    );
}

#[test]
fn seed_validates() {
    let run = flinkup(["validate", "-i", "inventories/seed.yaml"]).expect_code(0);
    assert_eq!(
        run.stdout().trim(),
        "inventories/seed.yaml: valid. Cluster fornaxee-demo, Flink 1.9.2: 1 JobManager, 2 TaskManagers × 4 slots = 8 slots"
    );
    assert!(run.stderr().is_empty(), "{}", run.stderr());
    flinkup(["validate", "-i", "inventories/local.yaml"]).expect_code(0);
}

#[test]
fn offline_plan_of_the_seed_inventory() {
    let run = flinkup([
        "plan",
        "-i",
        "inventories/seed.yaml",
        "--offline",
        "--cache-dir",
        "target/no-cache",
    ])
    .expect_code(0);
    let text = run.stdout();
    for needle in [
        "deploy plan · cluster fornaxee-demo",
        "Flink 1.9.2 (Scala 2.11)",
        "file      flink-1.9.2-bin-scala_2.11.tgz",
        "from      https://archive.apache.org/dist/flink/flink-1.9.2/flink-1.9.2-bin-scala_2.11.tgz",
        "checksum  sha512 from https://archive.apache.org/dist/flink/flink-1.9.2/flink-1.9.2-bin-scala_2.11.tgz.sha512",
        "1 JobManager, 2 TaskManagers × 4 slots = 8 slots",
        "Distribution (auto)\n  flink-1.9.2-bin-scala_2.11.tgz: uploaded to 192.168.1.100, 192.168.1.143",
        "+ upload   flink-1.9.2-bin-scala_2.11.tgz -> /opt/.flinkup/flink-1.9.2-bin-scala_2.11.tgz",
        "+ unpack   /opt/.flinkup/flink-1.9.2-bin-scala_2.11.tgz -> /opt/flink-1.9.2",
        "+ write    /opt/flink-1.9.2/conf/flink-conf.yaml",
        "+jobmanager.rpc.address: 192.168.1.143",
        "+ write    /opt/flink-1.9.2/conf/slaves",
        "+192.168.1.100\n        +192.168.1.143",
        "+ link     /opt/flink -> /opt/flink-1.9.2",
        "+ trust    ssh from 192.168.1.143 to 192.168.1.100, 192.168.1.143",
        "Stage 3/6: switch (Flink) · 2 hosts at once · on failure: undo this stage, then stop",
        "+ start    cluster on 192.168.1.143 (not running): /opt/flink/bin/start-cluster.sh",
        "verify   http://192.168.1.143:8082/overview: 2 TaskManagers, 8 slots within 120s",
        "need 4² × 2 TMs × 4 = 128",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    insta::assert_snapshot!("plan_seed_text", text);
}

#[test]
fn offline_plan_json_is_the_same_data() {
    let run = flinkup([
        "plan",
        "-i",
        "inventories/seed.yaml",
        "--offline",
        "--json",
        "--cache-dir",
        "target/no-cache",
    ])
    .expect_code(0);
    let lines = run.json_lines();
    assert_eq!(lines[0]["event"], "schema");
    assert_eq!(lines.last().unwrap()["event"], "result");
    let v = run.event("plan")["plan"].clone();
    assert_eq!(v["command"], "deploy");
    assert_eq!(v["hosts"].as_array().unwrap().len(), 2);
    let stages: Vec<&str> = v["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        stages,
        ["trust", "install", "switch", "start", "verify", "smoke"]
    );
    // Two hosts (distribution: auto): the operator uploads to both at once.
    let install = &v["stages"][1];
    let kinds: Vec<&str> = install["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["host"] == "192.168.1.143")
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["upload", "unpack", "write_file", "write_file", "write_file"]
    );
    assert_eq!(v["notes"][0]["title"], "Distribution (auto)");
    assert_eq!(v["stages"][2]["on_failure"], "undo");
    let verify = &v["stages"][4]["steps"][0];
    assert_eq!(verify["action"], "check");
    assert_eq!(verify["check"], "flink_cluster");
    assert_eq!(verify["jobmanager"], "192.168.1.143");
    assert_eq!(verify["taskmanagers"], 2);
    insta::assert_json_snapshot!("plan_seed_json", v);
}

#[test]
fn rendered_flink_conf_follows_the_guide() {
    let out = tempfile::tempdir().unwrap();
    flinkup([
        "render",
        "-i",
        "inventories/seed.yaml",
        "-o",
        out.path().to_str().unwrap(),
    ])
    .expect_code(0);
    let conf = std::fs::read_to_string(out.path().join("flink-conf.yaml")).unwrap();
    let keys: Vec<&str> = conf
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(':').next().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "jobmanager.rpc.address",
            "jobmanager.rpc.port",
            "jobmanager.heap.size",
            "taskmanager.heap.size",
            "taskmanager.numberOfTaskSlots",
            "parallelism.default",
            "rest.port",
            "jobmanager.web.submit.enable",
            // What Flink 1.9 ships in its own flink-conf.yaml beyond the guide's keys.
            "jobmanager.execution.failover-strategy"
        ]
    );
    insta::assert_snapshot!("render_seed_flink_conf", conf);
    let slaves = std::fs::read_to_string(out.path().join("slaves")).unwrap();
    assert_eq!(slaves, "192.168.1.100\n192.168.1.143\n");
    let masters = std::fs::read_to_string(out.path().join("masters")).unwrap();
    assert_eq!(masters, "192.168.1.143:8082\n");
}

#[test]
fn other_keys_follow_sorted_and_templates_can_be_overridden() {
    let dir = tempfile::tempdir().unwrap();
    let tpl = dir.path().join("tpl");
    std::fs::create_dir(&tpl).unwrap();
    std::fs::write(
        tpl.join("masters.tera"),
        "# custom\n{{ jobmanager }}:{{ rest_port }}\n",
    )
    .unwrap();
    let inv = dir.path().join("inv.yaml");
    let seed = std::fs::read_to_string(root().join("inventories/seed.yaml")).unwrap();
    let text = seed.replace(
        "  jobmanager.web.submit.enable: false",
        "  jobmanager.web.submit.enable: false\n  web.backpressure.num-samples: 200\n  state.backend: rocksdb",
    ) + "templates_dir: tpl\n";
    std::fs::write(&inv, text).unwrap();
    let out = dir.path().join("out");
    flinkup([
        "render",
        "-i",
        inv.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ])
    .expect_code(0);
    let conf = std::fs::read_to_string(out.join("flink-conf.yaml")).unwrap();
    let a = conf.find("state.backend: rocksdb").unwrap();
    let b = conf.find("web.backpressure.num-samples: 200").unwrap();
    assert!(
        conf.find("jobmanager.web.submit.enable").unwrap() < a && a < b,
        "{conf}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("masters")).unwrap(),
        "# custom\n192.168.1.143:8082\n"
    );
}

#[test]
fn host_maps_and_pinned_mirrors_in_the_plan() {
    let run = flinkup([
        "plan",
        "-i",
        "tests/inventories/good/host-maps.yaml",
        "--offline",
    ])
    .expect_code(0);
    let text = run.stdout();
    assert!(
        text.contains("Host jm1 via 10.0.0.5 (jobmanager, taskmanager)"),
        "{text}"
    );
    assert!(text.contains("http://jm1:8082/overview"), "{text}");
    let run = flinkup([
        "plan",
        "-i",
        "tests/inventories/good/pinned-mirrors.yaml",
        "--offline",
    ])
    .expect_code(0);
    let text = run.stdout();
    assert!(
        text.contains("from      https://mirror.example.org/flink/"),
        "{text}"
    );
    assert!(
        text.contains("mirror    https://archive.apache.org/"),
        "{text}"
    );
    assert!(
        text.contains("checksum  sha512 pinned in the inventory"),
        "{text}"
    );
}

#[test]
fn secrets_are_masked_in_plan_text_and_json() {
    for extra in [None, Some("--json")] {
        let mut args = vec![
            "plan",
            "-i",
            "tests/inventories/good/secrets.yaml",
            "--offline",
        ];
        args.extend(extra);
        let run = flinkup(args).expect_code(0);
        let out = run.stdout() + &run.stderr();
        assert!(
            !out.contains("hunter2") && !out.contains("AKIAsecretvalue"),
            "{out}"
        );
        assert!(out.contains("********"), "{out}");
    }
}

#[test]
fn smoke_only_fornaxee_without_fornaxee_is_refused_before_any_connection() {
    let run = flinkup([
        "smoke",
        "-i",
        "inventories/local.yaml",
        "--only",
        "fornaxee",
    ])
    .expect_code(2);
    assert!(
        run.stderr()
            .contains("this inventory does not install Fornaxee"),
        "{}",
        run.stderr()
    );
}

#[test]
fn only_takes_a_registered_component_in_any_case() {
    let run = flinkup([
        "deploy",
        "-i",
        "inventories/local.yaml",
        "--dry-run",
        "--only",
        "kafka",
    ])
    .expect_code(2);
    assert!(
        run.stderr()
            .contains("no component named `kafka`; components: flink, java, zookeeper, fornaxee"),
        "{}",
        run.stderr()
    );
}

#[test]
fn usage_errors_exit_2() {
    flinkup(["frobnicate"]).expect_code(2);
    flinkup(["validate", "-i", "does/not/exist.yaml"]).expect_code(2);
}

#[test]
fn clap_definition_is_consistent() {
    use clap::CommandFactory;
    flinkup::cli::Cli::command().debug_assert();
}

/// The guide's inventory against every release of the key catalogue: what validation says and
/// what it renders where flinkup deploys the release, the refusal where it does not yet.
#[test]
fn the_guides_inventory_on_every_release() {
    let seed = std::fs::read_to_string(root().join("inventories/seed.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for rel in flinkup::components::flink::catalogue::releases() {
        let inv = dir.path().join(format!("guide-{}.yaml", rel.version));
        std::fs::write(
            &inv,
            seed.replace("version: 1.9.2 ", &format!("version: {} ", rel.version)),
        )
        .unwrap();
        let out = dir.path().join(format!("out-{}", rel.version));
        let run = flinkup([
            "render",
            "-i",
            inv.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        let mut text = format!("exit {}\n{}", run.code(), run.stderr())
            .replace(&dir.path().display().to_string(), "<dir>");
        for f in [
            "flink-conf.yaml",
            "config.yaml",
            "slaves",
            "workers",
            "masters",
        ] {
            if let Ok(c) = std::fs::read_to_string(out.join(f)) {
                text.push_str(&format!("--- {f}\n{c}"));
            }
        }
        insta::assert_snapshot!(format!("guide_on_flink_{}", rel.name()), text);
    }
}
