//! The planner without hosts: fixture facts in, plan out, snapshotted. Real hosts prove the
//! executors; these prove the decisions.

use std::path::Path;

use flinkup::components::flink::plan::{self, ArtifactState, Inputs};
use flinkup::components::flink::probe::{FlinkFacts, Java, Registered};
use flinkup::components::flink::render::{HostExtras, Renderer};
use flinkup::components::flink::FlinkFactsOf;
use flinkup::components::flink::Role;
use flinkup::components::fornaxee::FornaxeeFactsOf;
use flinkup::facts::{Facts, HostFacts, Machine, Peer, PortHolder};
use flinkup::fleet::HostId;
use flinkup::inventory::{load_str, Cluster};
use flinkup::plan::{display, Plan, PlanMode};

const SHA: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// The guide's shape on h1 (JobManager + TaskManager) and h2, plus `extra_tms`.
fn cluster(version: &str, slots: u32, extra_tms: &str) -> Cluster {
    let text = format!(
        "cluster: fixture\nflink:\n  version: {version}\n  artifact:\n    url: https://downloads.example.org/flink-{version}-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2, h1{extra_tms}]\nconfig:\n  taskmanager.numberOfTaskSlots: {slots}\n  rest.port: 8082\nverify:\n  timeout: 60s\n"
    );
    load_str(Path::new("fixture.yaml"), &text, Default::default())
        .expect("fixture inventory is valid")
        .cluster
}

/// A host with nothing of Flink on it.
fn empty_host(name: &str) -> HostFacts {
    HostFacts {
        gathered: true,
        machine: Machine {
            home: Some("/root".into()),
            user: "root".into(),
            hostname: name.into(),
            hostname_resolves: true,
            disk_free_kb: Some(50 * 1024 * 1024),
            install_dir_writable: true,
            ports_known: true,
            ssh_client: true,
            ..Machine::default()
        },
        ..HostFacts::default()
    }
    .with(FlinkFacts {
        java: Some(Java {
            path: "/usr/bin/java".into(),
            major: 17,
            version: "openjdk version \"17.0.15\"".into(),
        }),
        ..FlinkFacts::default()
    })
}

/// A host running what `c` asks of it, deployed from `c` (so its files match), with pids.
fn deployed_host(c: &Cluster, name: &str) -> HostFacts {
    let mut f = empty_host(name);
    let h = c
        .hosts
        .iter()
        .find(|h| h.name == name)
        .expect("host in the inventory");
    let files = Renderer::new(c)
        .unwrap()
        .render(
            c,
            &HostExtras::for_host(
                c,
                h,
                Some(&flinkup::components::java::Chosen {
                    java: "/usr/bin/java".into(),
                    major: Some(17),
                    runtime: None,
                    why: String::new(),
                }),
                &c.release_dir(),
            ),
        )
        .unwrap();
    f.flink_mut().release_present = true;
    f.flink_mut().current_link = Some(c.release_dir());
    f.flink_mut().conf = files.into_iter().map(|r| (r.name, r.content)).collect();
    let mut pid = 100;
    for role in flinkup::components::flink::roles(h) {
        pid += 1;
        f.flink_mut().running.insert(role, pid);
    }
    if h.jobmanager {
        f.machine.ports.insert(
            c.rest_port,
            PortHolder {
                holder: "java pid 101".into(),
                pid: Some(101),
            },
        );
        f.flink_mut().registered = Some(
            c.taskmanagers()
                .map(|t| Registered {
                    id: format!("tm-{}", t.name),
                    path: format!("akka.tcp://flink@{}:40000/user/taskmanager_0", t.name),
                })
                .collect(),
        );
    }
    f
}

fn trusted(c: &Cluster, facts: &mut Facts) {
    for t in c.taskmanagers() {
        facts.peers.insert(
            HostId::of(t),
            Peer {
                trusted: true,
                reachable: true,
            },
        );
    }
}

fn id(name: &str) -> HostId {
    HostId(name.into())
}

fn deploy(c: &Cluster, facts: &Facts) -> Plan {
    deploy_with(c, facts, Default::default())
}

fn deploy_with(c: &Cluster, facts: &Facts, day2: plan::Day2) -> Plan {
    plan::deploy(
        &Inputs {
            cluster: c,
            facts,
            mode: PlanMode::Live,
            artifact: ArtifactState {
                local: Some("/cache/flink.tgz".into()),
                sha512: Some(SHA.into()),
                size: Some(250 * 1024 * 1024),
                cached: Some(true),
            },
            warnings: Vec::new(),
            jars: Vec::new(),
            smoke: None,
            day2,
            record: None,
            jdk: None,
        },
        &Renderer::new(c).unwrap(),
    )
    .unwrap()
}

fn running_cluster(c: &Cluster) -> Facts {
    let mut f = Facts::default();
    for h in &c.hosts {
        f.hosts.insert(HostId::of(h), deployed_host(c, &h.name));
    }
    trusted(c, &mut f);
    f
}

/// Empty hosts, each trusted by the JobManager host.
fn empty_cluster(c: &Cluster, names: &[&str]) -> Facts {
    let mut facts = Facts::default();
    for n in names {
        facts.hosts.insert(id(n), empty_host(n));
    }
    trusted(c, &mut facts);
    facts
}

/// The JobManager on h1 runs a job, `orders`.
fn with_running_job(facts: &mut Facts) {
    facts
        .hosts
        .get_mut(&id("h1"))
        .unwrap()
        .flink_mut()
        .running_jobs = Some(vec![("0123abcd".into(), "orders".into())]);
}

fn stage_names(p: &Plan) -> Vec<&str> {
    p.stages.iter().map(|s| s.name.as_str()).collect()
}

#[test]
fn empty_hosts() {
    let c = cluster("1.9.3", 4, "");
    let mut facts = Facts::default();
    for n in ["h1", "h2"] {
        facts.hosts.insert(id(n), empty_host(n));
    }
    for n in ["h1", "h2"] {
        facts.peers.insert(
            id(n),
            Peer {
                trusted: false,
                reachable: true,
            },
        );
    }
    let p = deploy(&c, &facts);
    assert_eq!(
        stage_names(&p),
        ["trust", "install", "switch", "start", "verify"]
    );
    assert!(p.refusals().is_empty());
    insta::assert_snapshot!("planner_empty_hosts", display::text(&p));
}

#[test]
fn no_op() {
    let c = cluster("1.9.3", 4, "");
    let p = deploy(&c, &running_cluster(&c));
    assert!(p.is_noop());
    assert_eq!(stage_names(&p), ["verify"]);
    insta::assert_snapshot!("planner_no_op", display::text(&p));
}

#[test]
fn a_renamed_copy_of_the_inventory_changes_nothing() {
    let c = cluster("1.9.3", 4, "");
    let facts = running_cluster(&c);
    let mut renamed = c.clone();
    renamed.source = Path::new("/elsewhere/site-copy.yaml").to_path_buf();
    let p = deploy(&renamed, &facts);
    assert!(p.is_noop(), "{}", display::text(&p));
}

#[test]
fn java_problems_are_preflight_findings() {
    let c = cluster("1.9.3", 4, "");
    let mut facts = empty_cluster(&c, &["h1", "h2"]);
    facts
        .hosts
        .get_mut(&id("h1"))
        .unwrap()
        .flink_mut()
        .java_home_missing = Some("/opt/jdk".into());
    let p = deploy(&c, &facts);
    assert!(p.refusals().is_empty());
    let text = display::text(&p);
    assert!(
        text.contains(
            "java_home /opt/jdk is not a directory here; Flink falls back to /usr/bin/java"
        ),
        "{text}"
    );
    facts.hosts.get_mut(&id("h2")).unwrap().flink_mut().java = None;
    let p = deploy(&c, &facts);
    let refused = p.refusals();
    assert_eq!(refused.len(), 1, "{}", display::text(&p));
    assert!(
        refused[0].to_string().contains("h2: no working java here"),
        "{}",
        refused[0]
    );
}

#[test]
fn a_java_outside_the_releases_range_is_refused_before_anything_changes() {
    for (version, major, range) in [("2.2.1", 8, "11 to 21"), ("1.9.3", 21, "8 to 17")] {
        let c = cluster(version, 4, "");
        let mut facts = empty_cluster(&c, &["h1", "h2"]);
        let java = facts.hosts.get_mut(&id("h2")).unwrap().flink_mut();
        java.java = Some(Java {
            path: "/opt/jdk/bin/java".into(),
            major,
            version: format!("openjdk version \"{major}.0.2\""),
        });
        let p = deploy(&c, &facts);
        let refused = p.refusals();
        assert_eq!(refused.len(), 1, "{}", display::text(&p));
        assert_eq!(
            refused[0].to_string(),
            format!(
                "h2: Flink {version} runs on Java {range}; /opt/jdk/bin/java here is Java {major}\n    \
                 help: install a JDK {} there and point the host's java_home at it (or put it first on PATH)",
                range.replace(" to ", "–")
            )
        );
    }
}

#[test]
fn config_change_restarts() {
    let before = cluster("1.9.3", 4, "");
    let facts = running_cluster(&before);
    let c = cluster("1.9.3", 2, "");
    let p = deploy(&c, &facts);
    // Slots are a TaskManager key: the JobManager keeps running, the TaskManagers restart
    // one host at a time.
    assert_eq!(
        stage_names(&p),
        ["install", "restart taskmanagers", "verify"]
    );
    assert_eq!(p.stages[1].batch, flinkup::plan::Batch::Rolling(1));
    insta::assert_snapshot!("planner_config_change", display::text(&p));
}

#[test]
fn one_daemon_dead_starts_only_it_and_ignores_its_old_registration() {
    let c = cluster("1.9.3", 4, "");
    let mut facts = running_cluster(&c);
    facts
        .hosts
        .get_mut(&id("h2"))
        .unwrap()
        .flink_mut()
        .running
        .remove(&Role::TaskManager);
    let p = deploy(&c, &facts);
    assert_eq!(stage_names(&p), ["start taskmanagers", "verify"]);
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["stages"][1]["steps"][0]["ignore"],
        serde_json::json!(["tm-h2"])
    );
    insta::assert_snapshot!("planner_one_daemon_dead", display::text(&p));
}

#[test]
fn host_added() {
    let before = cluster("1.9.3", 4, "");
    let mut facts = running_cluster(&before);
    facts.hosts.insert(id("h3"), empty_host("h3"));
    let c = cluster("1.9.3", 4, ", h3");
    facts.peers.insert(
        id("h3"),
        Peer {
            trusted: false,
            reachable: true,
        },
    );
    let p = deploy(&c, &facts);
    insta::assert_snapshot!("planner_host_added", display::text(&p));
}

#[test]
fn host_removed() {
    let before = cluster("1.9.3", 4, ", h3");
    let mut facts = running_cluster(&before);
    // What the last deploy recorded on the JobManager host, and the dropped host as the
    // command found it.
    let record = flinkup::components::flink::record::of(
        &before,
        &Default::default(),
        None,
        "/opt/flink-1.9.3",
    );
    facts.hosts.get_mut(&id("h1")).unwrap().flink_mut().record = Some(record.clone());
    let h3 = record.hosts.iter().find(|h| h.name == "h3").unwrap();
    facts.removed.push(flinkup::components::flink::record::host(
        h3,
        &before.hosts[0],
    ));
    let c = cluster("1.9.3", 4, "");
    let p = deploy(&c, &facts);
    assert_eq!(stage_names(&p), ["install", "retire", "verify"]);
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(
        json["stages"][2]["steps"][0]["ignore"],
        serde_json::json!(["tm-h3"]),
        "the removed TaskManager's registration does not count"
    );
    insta::assert_snapshot!("planner_host_removed", display::text(&p));
}

#[test]
fn version_change() {
    let before = cluster("1.9.2", 4, "");
    let mut facts = running_cluster(&before);
    // The probe looks at the new version's release directory: not there yet.
    for f in facts.hosts.values_mut() {
        f.flink_mut().release_present = false;
        f.flink_mut().conf.clear();
    }
    let c = cluster("1.9.3", 4, "");
    let p = deploy(&c, &facts);
    assert_eq!(
        stage_names(&p),
        ["install", "switch", "stop", "start", "verify"]
    );
    insta::assert_snapshot!("planner_version_change", display::text(&p));
}

#[test]
fn port_held_by_another_process_is_refused() {
    let c = cluster("1.9.3", 4, "");
    let mut facts = empty_cluster(&c, &["h1", "h2"]);
    facts
        .hosts
        .get_mut(&id("h1"))
        .unwrap()
        .machine
        .ports
        .insert(
            8082,
            PortHolder {
                holder: "python3 pid 77".into(),
                pid: Some(77),
            },
        );
    let p = deploy(&c, &facts);
    let refused = p.refusals();
    assert_eq!(refused.len(), 1);
    assert!(refused[0]
        .message
        .contains("rest.port 8082 is taken by python3 pid 77"));
    insta::assert_snapshot!("planner_port_held", display::text(&p));
}

#[test]
fn host_name_that_does_not_resolve_is_refused() {
    let c = cluster("1.9.3", 4, "");
    let mut facts = empty_cluster(&c, &["h1", "h2"]);
    facts
        .hosts
        .get_mut(&id("h2"))
        .unwrap()
        .machine
        .hostname_resolves = false;
    let p = deploy(&c, &facts);
    let refused = p.refusals();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].host, Some(id("h2")));
    insta::assert_snapshot!("planner_unresolvable", display::text(&p));
}

#[test]
fn taskmanager_on_another_ssh_port_gets_an_ssh_config_block() {
    let c = cluster(
        "1.9.3",
        4,
        ", {host: h3, address: 10.1.0.3, ssh: {port: 2222}}",
    );
    let mut facts = empty_cluster(&c, &["h1", "h2", "h3"]);
    facts.peers.insert(
        id("h3"),
        Peer {
            trusted: false,
            reachable: true,
        },
    );
    let p = deploy(&c, &facts);
    let text = display::text(&p);
    assert!(
        text.contains("Host h3\n          HostName 10.1.0.3\n          Port 2222"),
        "{text}"
    );
    assert!(p.refusals().is_empty());
    insta::assert_snapshot!("planner_other_ssh_port", text);

    // The same host unreachable from the JobManager host: refused, pointing at `direct`.
    facts.peers.insert(id("h3"), Peer::default());
    let p = deploy(&c, &facts);
    let refused = p.refusals();
    assert_eq!(refused.len(), 1);
    assert!(refused[0]
        .help
        .as_deref()
        .unwrap_or("")
        .contains("start: direct"));
}

#[test]
fn stop_and_destroy_plans() {
    let c = cluster("1.9.3", 4, "");
    let facts = running_cluster(&c);
    let inp = Inputs {
        cluster: &c,
        facts: &facts,
        mode: PlanMode::Live,
        artifact: ArtifactState::default(),
        warnings: Vec::new(),
        jars: Vec::new(),
        smoke: None,
        day2: Default::default(),
        record: None,
        jdk: None,
    };
    let stop = plan::stop(&inp);
    assert_eq!(stage_names(&stop), ["stop"]);
    insta::assert_snapshot!("planner_stop", display::text(&stop));
    let destroy = plan::destroy(&inp);
    assert_eq!(stage_names(&destroy), ["stop", "remove"]);
    insta::assert_snapshot!("planner_destroy", display::text(&destroy));
    let start = plan::start(&inp);
    assert!(start.is_noop());
}

#[test]
fn stop_destroy_and_rollback_protect_running_jobs() {
    let c = cluster("1.9.3", 4, "");
    let mut facts = running_cluster(&c);
    with_running_job(&mut facts);
    let inp = |day2: plan::Day2| Inputs {
        cluster: &c,
        facts: &facts,
        mode: PlanMode::Live,
        artifact: ArtifactState::default(),
        warnings: Vec::new(),
        jars: Vec::new(),
        smoke: None,
        day2,
        record: None,
        jdk: None,
    };
    for build in [plan::stop, plan::destroy] {
        let p = build(&inp(Default::default()));
        let refused = p.refusals();
        assert_eq!(refused.len(), 1, "{}", display::text(&p));
        let text = display::text(&p);
        assert!(
            text.contains("1 running job (0123abcd `orders`) would be lost")
                && text.contains("--savepoint DIR")
                && text.contains("--force"),
            "{text}"
        );
        let p = build(&inp(plan::Day2 {
            savepoint: Some("file:///shared/sp".into()),
            ..Default::default()
        }));
        assert!(p.refusals().is_empty());
        assert_eq!(stage_names(&p)[..2], ["savepoint", "stop"]);
        let p = build(&inp(plan::Day2 {
            force: true,
            ..Default::default()
        }));
        assert!(p.refusals().is_empty());
        assert_eq!(stage_names(&p)[0], "stop");
    }
}

#[test]
fn upgrade_keeps_two_releases_and_knows_the_way_back() {
    let before = cluster("1.9.3", 4, "");
    let mut facts = running_cluster(&before);
    // An earlier 1.9.2 and the running 1.9.3 are recorded and present on every host.
    let mut record = flinkup::components::flink::record::of(
        &before,
        &Default::default(),
        None,
        "/opt/flink-1.9.2",
    );
    record.releases.push("/opt/flink-1.9.3".into());
    for f in facts.hosts.values_mut() {
        f.flink_mut().releases = vec!["/opt/flink-1.9.2".into(), "/opt/flink-1.9.3".into()];
        f.flink_mut().release_present = false;
        f.flink_mut().conf.clear();
    }
    facts.hosts.get_mut(&id("h1")).unwrap().flink_mut().record = Some(record);
    let c = cluster("1.10.3", 4, "");
    let p = deploy(&c, &facts);
    assert_eq!(
        stage_names(&p),
        ["install", "switch", "stop", "start", "verify", "prune"]
    );
    let prune = serde_json::to_value(&p.stages[5]).unwrap();
    assert_eq!(
        prune["steps"][0]["trees"],
        serde_json::json!(["/opt/flink-1.9.2"])
    );
    let rb = p.rollback.as_ref().expect("a way back");
    assert_eq!((rb.from_stage, rb.until_stage), (2, 5));
    assert_eq!(rb.restores, "Flink 1.9.3");
    insta::assert_snapshot!("planner_upgrade_rollback", display::text(&p));

    // `rollback` on the upgraded cluster: back to the release before the current one.
    let mut after = running_cluster(&c);
    let mut rec =
        flinkup::components::flink::record::of(&c, &Default::default(), None, "/opt/flink-1.9.3");
    rec.releases.push("/opt/flink-1.10.3".into());
    for f in after.hosts.values_mut() {
        f.flink_mut().releases = vec!["/opt/flink-1.9.3".into(), "/opt/flink-1.10.3".into()];
    }
    after.hosts.get_mut(&id("h1")).unwrap().flink_mut().record = Some(rec);
    let inp = Inputs {
        cluster: &c,
        facts: &after,
        mode: PlanMode::Live,
        artifact: ArtifactState::default(),
        warnings: Vec::new(),
        jars: Vec::new(),
        smoke: None,
        day2: Default::default(),
        record: None,
        jdk: None,
    };
    let back = plan::rollback(&inp);
    assert!(back.refusals().is_empty());
    let text = display::text(&back);
    assert!(
        text.contains("~ link     /opt/flink -> /opt/flink-1.9.3 (was /opt/flink-1.10.3)"),
        "{text}"
    );
}

/// The guide's 1.9 cluster, running a job, upgraded to 2.2: the plan shows each setting under
/// the key 2.2 reads, the files it reads under other names, and that savepoints need not
/// restore across major releases; the running job refuses the plan unless it is savepointed
/// first, while the old release still runs.
#[test]
fn an_upgrade_across_formats_shows_its_translation_and_protects_jobs() {
    let before = cluster("1.9.3", 4, "");
    let mut facts = running_cluster(&before);
    with_running_job(&mut facts);
    for f in facts.hosts.values_mut() {
        f.flink_mut().release_present = false;
        f.flink_mut().conf.clear();
    }
    let c = cluster("2.2.1", 4, "");
    let p = deploy(&c, &facts);
    let text = display::text(&p);
    for line in [
        "Upgrade from Flink 1.9.3 to 2.2.1",
        "  conf/flink-conf.yaml → conf/config.yaml",
        "  conf/slaves → conf/workers",
        "  jobmanager.heap.size: 1g → jobmanager.memory.heap.size: 1g",
        "  taskmanager.heap.size: 1g → taskmanager.memory.flink.size: 1g",
        "  job state: Flink does not guarantee that savepoints taken on 1.9.3 restore on 2.2.1",
    ] {
        assert!(text.contains(line), "{line}:\n{text}");
    }
    let refused = p.refusals();
    assert_eq!(refused.len(), 1, "{text}");
    assert!(
        refused[0].to_string().contains(
            "1 running job (0123abcd `orders`) would be lost: the upgrade to Flink 2.2.1 restarts the cluster (and Flink does not guarantee that savepoints of 1.9.3 restore on 2.2.1)"
        ),
        "{}",
        refused[0]
    );
    let p = deploy_with(
        &c,
        &facts,
        plan::Day2 {
            savepoint: Some("/shared/savepoints".into()),
            ..Default::default()
        },
    );
    assert!(p.refusals().is_empty(), "{}", display::text(&p));
    assert_eq!(
        stage_names(&p)[..4],
        ["install", "savepoint", "switch", "stop"],
        "jobs are savepointed while 1.9.3 still runs"
    );
    insta::assert_snapshot!("planner_upgrade_across_formats", display::text(&p));
}

/// With `ha:`, the configuration carries the HA keys under the names the release reads, and
/// preflight judges the ensemble as the JobManager host sees it: a server missing warns, a lost
/// majority refuses, and so does a `file://` storage directory the JobManager cannot write.
#[test]
fn high_availability_keys_and_what_preflight_asks_of_zookeeper() {
    for (version, kind_key) in [
        ("1.9.3", "high-availability:"),
        ("2.2.1", "high-availability.type:"),
    ] {
        let mut c = cluster(version, 4, "");
        c.ha = Some(flinkup::components::flink::ha::Ha {
            storage_dir: "file:///srv/flink-ha".into(),
            quorum: vec![
                ("zk1".into(), 2181),
                ("zk2".into(), 2181),
                ("zk3".into(), 2181),
            ],
            own: false,
        });
        let mut facts = empty_cluster(&c, &["h1", "h2"]);
        let answers = |modes: &[&str]| {
            modes
                .iter()
                .enumerate()
                .map(|(i, m)| (i, m.to_string()))
                .collect()
        };
        facts
            .hosts
            .get_mut(&id("h1"))
            .unwrap()
            .flink_mut()
            .zookeeper = answers(&["follower", "leader", "follower"]);
        let p = deploy(&c, &facts);
        assert!(p.refusals().is_empty(), "{}", display::text(&p));
        let text = display::text(&p);
        for line in [
            &format!("+{kind_key} zookeeper"),
            "+high-availability.zookeeper.quorum: zk1:2181,zk2:2181,zk3:2181",
            "+high-availability.storageDir: file:///srv/flink-ha",
            "+high-availability.cluster-id: fixture",
            "+high-availability.jobmanager.port: 6123",
        ] {
            assert!(text.contains(line), "{line}:\n{text}");
        }
        facts
            .hosts
            .get_mut(&id("h1"))
            .unwrap()
            .flink_mut()
            .zookeeper = answers(&["follower", "leader", "unreachable"]);
        let p = deploy(&c, &facts);
        assert!(p.refusals().is_empty());
        assert!(
            display::text(&p).contains("h1: seen from here, ZooKeeper working, degraded: 2/3 servers answer, leader zk2:2181; not answering: zk3:2181"),
            "{}",
            display::text(&p)
        );
        facts
            .hosts
            .get_mut(&id("h1"))
            .unwrap()
            .flink_mut()
            .zookeeper = answers(&["unreachable", "follower", "unreachable"]);
        facts
            .hosts
            .get_mut(&id("h1"))
            .unwrap()
            .flink_mut()
            .ha_storage_unwritable = Some("/srv".into());
        let p = deploy(&c, &facts);
        let refused: Vec<String> = p.refusals().iter().map(|f| f.to_string()).collect();
        assert_eq!(refused.len(), 2, "{refused:?}");
        assert!(refused[0].contains("ZooKeeper quorum LOST: Flink cannot elect a leader or recover jobs: 1/3 servers answer"), "{refused:?}");
        assert!(
            refused[1].contains(
                "ha.storage_dir file:///srv/flink-ha: /srv is not a directory this user can write"
            ),
            "{refused:?}"
        );
        // ZooKeeper 3.4 servers: fine for 1.9, refused from 1.15 on.
        let f = facts.hosts.get_mut(&id("h1")).unwrap().flink_mut();
        f.zookeeper = answers(&["follower", "leader", "follower"]);
        f.ha_storage_unwritable = None;
        f.zookeeper_versions = [(0, "3.4.10".to_string())].into();
        let refused: Vec<String> = deploy(&c, &facts)
            .refusals()
            .iter()
            .map(|f| f.to_string())
            .collect();
        if version == "1.9.3" {
            assert!(refused.is_empty(), "{refused:?}");
        } else {
            assert_eq!(
                refused,
                [format!("h1: Flink {version} talks only to ZooKeeper 3.5 and later: zk1:2181 runs 3.4.10\n    help: upgrade the ensemble to ZooKeeper 3.5+, or let flinkup run one: ha.zookeeper: [hosts]")]
            );
        }
    }
}

// Plans through the one composition every command uses (compose), for what only real hosts
// showed before: Fornaxee beside Flink and against an existing Flink, --only, --no-start and a
// relayed distribution.

use flinkup::cli::{Day2Args, Only};
use flinkup::components::fornaxee::bundle::{Bundle, Jar, Manifest};
use flinkup::compose::{self, BundleAtHand, DeployAsk};
use flinkup::inventory::Loaded;

const FX_SHA: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

fn loaded(text: &str) -> Loaded {
    load_str(Path::new("fixture.yaml"), text, Default::default())
        .expect("fixture inventory is valid")
}

/// h1 runs the JobManager and a TaskManager, h2 a TaskManager; Fornaxee on h2 and h3 (a
/// client host that gets the Flink release but no daemon).
fn with_fornaxee() -> Loaded {
    loaded(&format!(
        "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: https://downloads.example.org/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2, h1]\nconfig:\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nfornaxee:\n  artifact:\n    url: https://downloads.example.org/fornaxee-2.3.0.tgz\n    sha512: {FX_SHA}\n  hosts: [h2, h3]\n  heap: 256m\n  properties:\n    http.port: 18630\n    pipeline.secret-token: s3cr3t\n"
    ))
}

fn bundle() -> BundleAtHand {
    BundleAtHand {
        art: ArtifactState {
            local: Some("/cache/fornaxee-2.3.0.tgz".into()),
            sha512: Some(FX_SHA.into()),
            size: Some(4 << 20),
            cached: Some(true),
        },
        bundle: Bundle {
            top_dir: "fornaxee-2.3.0".into(),
            manifest: Manifest {
                name: "fornaxee".into(),
                version: "2.3.0".into(),
                flink: ">=1.9, <1.12".into(),
                http_port: 18630,
                health: "/rest/v1/ping".into(),
            },
            range: semver::VersionReq::parse(">=1.9, <1.12").unwrap(),
            jars: vec![Jar {
                name: "flink-connector-demo-1.9.3.jar".into(),
                local: "/cache/jars/flink-connector-demo-1.9.3.jar".into(),
                sha512: FX_SHA.into(),
                size: 20_000,
            }],
            default_properties: "# Fornaxee defaults\nhttp.port=18630\npipeline.threads=4\n".into(),
        },
    }
}

fn flink_art() -> ArtifactState {
    ArtifactState {
        local: Some("/cache/flink.tgz".into()),
        sha512: Some(SHA.into()),
        size: Some(250 * 1024 * 1024),
        cached: Some(true),
    }
}

fn composed(
    l: &Loaded,
    facts: &Facts,
    b: Option<&BundleAtHand>,
    only: Option<Only>,
    day2: &Day2Args,
) -> Plan {
    composed_with_jdk(l, facts, b, only, day2, None)
}

fn composed_with_jdk(
    l: &Loaded,
    facts: &Facts,
    b: Option<&BundleAtHand>,
    only: Option<Only>,
    day2: &Day2Args,
    jdk: Option<&flinkup::components::java::JdkAtHand>,
) -> Plan {
    compose::deploy(
        l,
        facts,
        DeployAsk {
            jdk,
            mode: PlanMode::Live,
            art: flink_art(),
            bundle: b,
            only,
            day2,
            smoke: plan::SmokeJob {
                jar: None,
                args: Vec::new(),
                timeout: std::time::Duration::from_secs(120),
            },
            renderer: &flinkup::components::flink::render::Renderer::new(&l.cluster).unwrap(),
        },
    )
    .unwrap()
}

#[test]
fn fornaxee_beside_flink() {
    let l = with_fornaxee();
    let facts = empty_cluster(&l.cluster, &["h1", "h2", "h3"]);
    let b = bundle();
    let p = composed(&l, &facts, Some(&b), None, &Day2Args::default());
    assert!(p.refusals().is_empty(), "{}", display::text(&p));
    let names = stage_names(&p);
    for s in ["fornaxee install", "fornaxee start", "fornaxee verify"] {
        assert!(names.contains(&s), "{names:?}");
    }
    let text = display::text(&p);
    assert!(!text.contains("s3cr3t"), "secrets masked");
    insta::assert_snapshot!("planner_fornaxee_beside_flink", text);
}

#[test]
fn only_fornaxee_and_no_start() {
    let l = with_fornaxee();
    let facts = empty_cluster(&l.cluster, &["h1", "h2", "h3"]);
    let b = bundle();
    let p = composed(
        &l,
        &facts,
        Some(&b),
        Some("fornaxee".parse::<Only>().unwrap()),
        &Day2Args::default(),
    );
    assert!(
        p.stages
            .iter()
            .all(|s| s.component.is_some_and(|c| c == "Fornaxee") || s.name == "distribute"),
        "{:?}",
        stage_names(&p)
    );
    insta::assert_snapshot!("planner_only_fornaxee", display::text(&p));
    let staged = Day2Args {
        no_start: true,
        ..Default::default()
    };
    let p = composed(&l, &facts, Some(&b), None, &staged);
    let text = display::text(&p);
    assert!(
        !text.contains("+ start") && !text.contains("verify   ") && text.contains("+ unpack"),
        "{text}"
    );
    insta::assert_snapshot!("planner_no_start", text);
}

#[test]
fn fornaxee_against_an_existing_flink() {
    let l = loaded(&format!(
        "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: https://downloads.example.org/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\nfornaxee:\n  artifact:\n    url: https://downloads.example.org/fornaxee-2.3.0.tgz\n    sha512: {FX_SHA}\n  hosts: [h2]\n  heap: 256m\n  flink:\n    rest: http://h1:8082\n    hosts: [h1]\n    home: /opt/flink\n"
    ));
    let mut facts = Facts::default();
    // The customer's JobManager and TaskManager run on h1.
    let mut h1 = empty_host("h1");
    h1.fornaxee_mut().existing_daemons = vec!["standalonesession".into(), "taskexecutor".into()];
    facts.hosts.insert(id("h1"), h1);
    let mut h2 = empty_host("h2");
    h2.fornaxee_mut().cluster_version = Some("1.9.3".into());
    facts.hosts.insert(id("h2"), h2);
    let b = bundle();
    let p = composed(&l, &facts, Some(&b), None, &Day2Args::default());
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    assert!(
        text.contains("flinkup never restarts a cluster it did not start"),
        "{text}"
    );
    assert!(!text.contains("start-cluster.sh"), "{text}");
    insta::assert_snapshot!("planner_fornaxee_existing_flink", text);
}

#[test]
fn relayed_plan_shows_the_route() {
    let c = cluster("1.9.3", 2, ", h3, h4");
    let l = Loaded {
        cluster: c.clone(),
        warnings: Vec::new(),
    };
    let facts = empty_cluster(&c, &["h1", "h2", "h3", "h4"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(
        stage_names(&p).contains(&"distribute") && text.contains("operator -> h1"),
        "{text}"
    );
    insta::assert_snapshot!("planner_relayed", text);
}

/// flinkup's own quorum: its peers start and are verified after the release is in place and
/// before Flink's daemons; on an upgrade its stages sit before the restart and the way back
/// still covers exactly Flink's stop, start and verify.
#[test]
fn own_zookeeper_quorum_comes_up_before_flink_and_keeps_the_way_back_in_place() {
    let text = |version: &str| {
        format!(
            "cluster: fixture\nflink:\n  version: {version}\n  artifact:\n    url: https://downloads.example.org/flink-{version}-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2, h1]\nconfig:\n  taskmanager.numberOfTaskSlots: 4\n  rest.port: 8082\nverify:\n  timeout: 60s\n  smoke: false\nha:\n  storage_dir: file:///srv/flink-ha\n  zookeeper: [h1, h2, h3]\n"
        )
    };
    let l = loaded(&text("1.9.3"));
    let facts = empty_cluster(&l.cluster, &["h1", "h2", "h3"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    assert!(p.refusals().is_empty(), "{}", display::text(&p));
    assert_eq!(
        stage_names(&p),
        [
            "relay trust",
            "distribute",
            "install",
            "switch",
            "zookeeper install",
            "zookeeper start",
            "zookeeper verify",
            "start",
            "verify",
            "record"
        ]
    );
    let t = display::text(&p);
    assert!(t.contains("server.3=h3:2888:3888"), "{t}");
    assert!(
        t.contains("+high-availability.zookeeper.quorum: h1:2181,h2:2181,h3:2181"),
        "{t}"
    );

    // Upgraded while everything runs: the peers get the new release's zoo.cfg and restart one
    // at a time before Flink's stop; the rollback range moves with Flink's stages.
    let before = loaded(&text("1.9.3")).cluster;
    let mut facts = running_cluster(&before);
    facts.hosts.insert(id("h3"), empty_host("h3"));
    for f in facts.hosts.values_mut() {
        f.flink_mut().release_present = false;
        f.flink_mut().conf.clear();
        f.flink_mut().current_link = Some("/opt/flink-1.9.3".into());
    }
    let l = loaded(&text("1.10.3"));
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let names = stage_names(&p);
    let rb = p.rollback.as_ref().expect("a way back");
    assert_eq!(
        &names[rb.from_stage..rb.until_stage],
        ["stop", "start", "verify"],
        "{names:?}"
    );
    assert!(
        names.iter().position(|n| *n == "zookeeper start")
            < names.iter().position(|n| *n == "stop"),
        "{names:?}"
    );
}

/// With `ha:`, start-cluster.sh starts the JobManager over ssh even on its own host: a
/// JobManager host that runs no TaskManager trusts itself too.
#[test]
fn with_ha_start_cluster_logs_in_to_the_jobmanager_host_itself() {
    let l = loaded(&format!(
        "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: https://downloads.example.org/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2]\nverify:\n  smoke: false\nha:\n  storage_dir: file:///srv/flink-ha\n  zookeeper_quorum: zk1:2181\n"
    ));
    let facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(
        text.contains("+ trust    ssh from h1 to h1 without a password (start-cluster.sh logs in to every TaskManager host and, with ha:, to every JobManager host (its own too))"),
        "{text}"
    );
}

fn two_jobmanagers(extra_config: &str, zookeeper: &str) -> Loaded {
    loaded(&format!(
        "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: https://downloads.example.org/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanagers: [h1, h2]\ntaskmanagers: [h1, h2]\nconfig:\n  rest.port: 8082\n{extra_config}verify:\n  smoke: false\nha:\n  storage_dir: file:///srv/flink-ha\n  {zookeeper}\n"
    ))
}

/// Two JobManagers: masters lists both, each binds its own address, start-cluster.sh logs in
/// to both. One found dead is started again alone (a standby); a configuration change
/// restarts the standby first and the leader last, each answering before the next stops, and
/// running jobs are not in the way (ZooKeeper and the storage recover them).
#[test]
fn two_jobmanagers_are_both_masters_restarted_standby_first() {
    let l = two_jobmanagers("", "zookeeper: [h1, h2, h3]");
    assert_eq!(
        l.cluster.topology(),
        "2 JobManagers, 2 TaskManagers × 1 slot = 2 slots"
    );
    let facts = empty_cluster(&l.cluster, &["h1", "h2", "h3"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    assert!(
        text.contains("+h1:8082\n") && text.contains("+h2:8082\n"),
        "{text}"
    );
    assert!(text.contains("+jobmanager.rpc.address: h2"), "{text}");
    assert_eq!(
        stage_names(&p)[0],
        "ha storage",
        "proven before anything changes"
    );
    assert_eq!(
        stage_names(&p)[5],
        "zookeeper install",
        "the quorum's stages after the release's"
    );

    // The JobManager on h1 died; h2 leads now.
    let zk = "zookeeper_quorum: \"zk1:2181,zk2:2181,zk3:2181\"";
    let c = two_jobmanagers("", zk).cluster;
    let mut facts = running_cluster(&c);
    let lead = |facts: &mut Facts, name: &str, leads: bool| {
        facts.hosts.get_mut(&id(name)).unwrap().flink_mut().leads = Some(leads);
    };
    lead(&mut facts, "h2", true);
    let h1 = facts.hosts.get_mut(&id("h1")).unwrap();
    h1.machine.ports.clear();
    h1.flink_mut().running.remove(&Role::JobManager);
    h1.flink_mut().registered = None;
    with_running_job(&mut facts);
    let p = deploy(&c, &facts);
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    assert_eq!(
        stage_names(&p),
        ["ha storage", "start jobmanagers", "verify"],
        "{text}"
    );
    assert!(
        text.contains("ha.storage_dir file:///srv/flink-ha is one directory for every JobManager: a marker written on h1 is read on h2"),
        "{text}"
    );
    assert!(
        text.contains("+ start    jobmanager on h1 (not running; the other daemons keep running)"),
        "{text}"
    );

    // A JobManager setting changes while a job runs: h1 (standing by) first, h2 (leading) last.
    lead(&mut facts, "h1", false);
    facts
        .hosts
        .get_mut(&id("h1"))
        .unwrap()
        .flink_mut()
        .running
        .insert(Role::JobManager, 7);
    let changed = two_jobmanagers("  jobmanager.execution.failover-strategy: full\n", zk).cluster;
    let p = deploy(&changed, &facts);
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    assert_eq!(
        stage_names(&p),
        ["ha storage", "install", "restart jobmanagers", "verify"],
        "{text}"
    );
    let stage = &p.stages[2];
    let order: Vec<&str> = stage.steps.iter().map(|s| s.host.as_str()).collect();
    assert_eq!(order, ["h1", "h1", "h1", "h2", "h2", "h2"], "{text}");
    assert!(text.contains("1 at a time"), "{text}");
}

/// One JobManager to two with HA is a plan like any other: the new one starts as a standby,
/// nothing else restarts, running jobs are not in the way; two back to one stops the one
/// that goes.
#[test]
fn from_one_jobmanager_to_two_and_back() {
    let zk = "zookeeper_quorum: \"zk1:2181,zk2:2181,zk3:2181\"";
    let one = loaded(&format!(
        "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: https://downloads.example.org/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h1, h2]\nconfig:\n  rest.port: 8082\nverify:\n  smoke: false\nha:\n  storage_dir: file:///srv/flink-ha\n  {zk}\n"
    ))
    .cluster;
    let two = two_jobmanagers("", zk).cluster;
    let mut facts = running_cluster(&one);
    with_running_job(&mut facts);
    let p = deploy(&two, &facts);
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    assert_eq!(
        stage_names(&p),
        ["ha storage", "install", "start jobmanagers", "verify"],
        "{text}"
    );
    assert!(text.contains("+ start    jobmanager on h2"), "{text}");
    assert!(!text.contains("~ stop"), "nothing restarts: {text}");

    let mut facts = running_cluster(&two);
    with_running_job(&mut facts);
    let p = deploy(&one, &facts);
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    assert!(
        text.contains("~ stop     jobmanager on h2: no longer one of the inventory's JobManagers"),
        "{text}"
    );
    assert!(!text.contains("taskmanager on"), "{text}");
}

/// `distribution: direct`: each host downloads the archive itself and unpacks it only once
/// its sha512 matches; nothing is uploaded or relayed.
#[test]
fn direct_distribution_has_every_host_download_the_archive() {
    let l = loaded(&format!(
        "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: http://mirror.site/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2, h1]\ndistribution: direct\n"
    ));
    let facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(p.refusals().is_empty(), "{text}");
    for h in ["h1", "h2"] {
        let steps: Vec<&str> = p
            .stages
            .iter()
            .flat_map(|s| &s.steps)
            .filter(|s| s.host.as_str() == h)
            .map(|s| s.action.verb())
            .collect();
        assert!(
            steps.starts_with(&["download", "unpack"]),
            "{h}: {steps:?}\n{text}"
        );
    }
    assert!(
        text.contains("+ download flink-1.9.3-bin-scala_2.11.tgz on the host from http://mirror.site/flink-1.9.3-bin-scala_2.11.tgz (kept only if its sha512 matches)"),
        "{text}"
    );
    assert!(
        !text.contains("+ upload") && !text.contains("+ relay"),
        "{text}"
    );
}

/// `distribution: auto` (the default): hosts that reach the URLs download the archive; the
/// others get it by upload when fewer than three need it, by relay from three on; the plan
/// says what it chose and why.
#[test]
fn auto_distribution_decides_from_what_each_host_reaches() {
    let inv = |tms: &str| {
        loaded(&format!(
            "cluster: fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: http://mirror.site/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [{tms}]\n"
        ))
    };
    let verbs = |p: &Plan, h: &str| -> Vec<&'static str> {
        p.stages
            .iter()
            .flat_map(|s| &s.steps)
            .filter(|s| s.host.as_str() == h)
            .map(|s| s.action.verb())
            .collect()
    };
    let reach = |facts: &mut Facts, h: &str| {
        facts.hosts.get_mut(&id(h)).unwrap().flink_mut().url_reach =
            Some("http://mirror.site/flink-1.9.3-bin-scala_2.11.tgz".into());
    };

    // Two hosts, h2 reaches the mirror: h2 downloads, h1 gets an upload.
    let l = inv("h2, h1");
    let mut facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    reach(&mut facts, "h2");
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(
        verbs(&p, "h2").starts_with(&["download", "unpack"]),
        "{text}"
    );
    assert!(verbs(&p, "h1").contains(&"upload"), "{text}");
    assert!(
        text.contains("h2 reaches http://mirror.site/flink-1.9.3-bin-scala_2.11.tgz and downloads")
            && text.contains("the other hosts do not reach its URLs; uploaded to h1"),
        "{text}"
    );

    // Two hosts, none reaches it: uploads, no relay, no trust for it.
    let facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    assert!(
        !stage_names(&p).contains(&"distribute"),
        "{}",
        display::text(&p)
    );
    assert!(verbs(&p, "h2").starts_with(&["upload", "unpack"]));

    // Four hosts, none reaches it: relayed.
    let l = inv("h2, h3, h4");
    let facts = empty_cluster(&l.cluster, &["h1", "h2", "h3", "h4"]);
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(stage_names(&p).contains(&"distribute"), "{text}");
    assert!(text.contains("4 hosts need it: relayed"), "{text}");

    // Four hosts, all reach it: every one downloads, nothing is uploaded or relayed.
    let mut facts = empty_cluster(&l.cluster, &["h1", "h2", "h3", "h4"]);
    for h in ["h1", "h2", "h3", "h4"] {
        reach(&mut facts, h);
    }
    let p = composed(&l, &facts, None, None, &Day2Args::default());
    let text = display::text(&p);
    assert!(
        !text.contains("+ upload") && !text.contains("+ relay"),
        "{text}"
    );
    for h in ["h1", "h2", "h3", "h4"] {
        assert!(verbs(&p, h).starts_with(&["download", "unpack"]), "{text}");
    }
}

/// `java: {install: always}` installs the runtime on every host and Flink runs with it there;
/// a runtime outside the release's range is refused before anything changes; a host whose own
/// Java is outside the range gets the runtime with `install: missing`.
#[test]
fn java_runtime_where_the_inventory_and_the_hosts_ask_for_it() {
    let text = |version: &str, install: &str| {
        format!(
            "cluster: fixture\nflink:\n  version: {version}\n  scala: \"2.12\"\n  artifact:\n    url: https://downloads.example.org/flink-{version}-bin-scala_2.12.tgz\n    sha512: {SHA}\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2, h1]\njava:\n  artifact:\n    url: https://downloads.example.org/jdk-17.tar.gz\n    sha512: {SHA}\n  install: {install}\n"
        )
    };
    let jdk = |major: u32| flinkup::components::java::JdkAtHand {
        art: ArtifactState {
            local: Some("/cache/jdk-17.tar.gz".into()),
            sha512: Some(SHA.into()),
            size: Some(150 * 1024 * 1024),
            cached: Some(true),
        },
        top_dir: format!("jdk-{major}.0.1"),
        version: format!("{major}.0.1"),
        major,
    };
    let java_hosts = |p: &Plan| -> Vec<String> {
        p.stages
            .iter()
            .filter(|s| s.name == "java")
            .flat_map(|s| &s.steps)
            .filter(|s| s.action.verb() == "unpack")
            .map(|s| s.host.to_string())
            .collect()
    };
    let l = loaded(&text("1.20.5", "always"));
    let facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    let j = jdk(17);
    let p = composed_with_jdk(&l, &facts, None, None, &Day2Args::default(), Some(&j));
    let shown = display::text(&p);
    assert!(p.refusals().is_empty(), "{shown}");
    assert_eq!(java_hosts(&p), ["h1", "h2"], "{shown}");
    assert!(
        shown.contains("env.java.home: /opt/java/jdk-17")
            && shown
                .contains("flinkup's runtime /opt/java/jdk-17, Java 17.0.1 (java.install: always)"),
        "{shown}"
    );
    // The java stage comes before Flink's release is installed.
    let names = stage_names(&p);
    let at = |n: &str| names.iter().position(|s| *s == n).unwrap();
    assert!(at("java") < at("install"), "{names:?}");

    // A Java 8 runtime for Flink 2.2 (11 to 21): refused.
    let l = loaded(&text("2.2.1", "always"));
    let facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    let j = jdk(8);
    let p = composed_with_jdk(&l, &facts, None, None, &Day2Args::default(), Some(&j));
    assert!(
        p.refusals().iter().any(|f| f
            .message
            .contains("jdk-17.tar.gz is Java 8 (8.0.1); Flink 2.2.1 runs on Java 11 to 21")),
        "{}",
        display::text(&p)
    );

    // install: missing: h2's own Java 8 is outside 2.2's range, h1's Java 17 fits.
    let l = loaded(&text("2.2.1", "missing"));
    let mut facts = empty_cluster(&l.cluster, &["h1", "h2"]);
    facts
        .hosts
        .get_mut(&id("h2"))
        .unwrap()
        .flink_mut()
        .java
        .as_mut()
        .unwrap()
        .major = 8;
    let j = jdk(17);
    let p = composed_with_jdk(&l, &facts, None, None, &Day2Args::default(), Some(&j));
    let shown = display::text(&p);
    assert!(p.refusals().is_empty(), "{shown}");
    assert_eq!(java_hosts(&p), ["h2"], "{shown}");
    assert!(
        shown.contains("Flink 2.2.1 runs on Java 11 to 21)")
            && shown.contains("its own Java 17 fits Flink 2.2.1"),
        "{shown}"
    );
}

/// `tls:` on empty hosts: each host gets the keystores as private writes showing what they are
/// and a fingerprint only; flink-conf's passwords are masked in the text and the JSON; a host
/// whose JDK disables every suite is refused; hosts holding the same files get nothing again.
#[test]
fn tls_files_are_private_steps_and_a_jdk_refusing_every_suite_is_refused() {
    use flinkup::components::flink::tls;
    let text = "cluster: planner-tls-fixture\nflink:\n  version: 1.9.3\n  artifact:\n    url: https://downloads.example.org/flink.tgz\n    sha512: SHA\nssh:\n  user: root\njobmanager: h1\ntaskmanagers: [h2, h1]\ntls:\n  enabled: true\n  rest_client_auth: true\n"
        .replace("SHA", SHA);
    let mut c = load_str(Path::new("fixture.yaml"), &text, Default::default())
        .expect("valid")
        .cluster;
    let t = c.tls.clone().unwrap();
    let m = tls::load(&c, &t, tls::Issue::Keep, false).unwrap();
    c.tls.as_mut().unwrap().material = Some(m.clone());
    let mut facts = empty_cluster(&c, &["h1", "h2"]);
    let p = deploy(&c, &facts);
    let out = display::text(&p);
    assert!(
        out.contains("+ write    /opt/tls/keystore.p12 (the cluster's key and certificate (PKCS12), private; sha256 "),
        "{out}"
    );
    assert!(
        out.contains("+security.ssl.internal.keystore-password: ********"),
        "{out}"
    );
    assert!(
        out.contains("+security.ssl.rest.authentication-enabled: true"),
        "{out}"
    );
    let json = String::from_utf8(display::json_line(&p)).unwrap();
    for secret in [
        &m.secrets().keystore_password,
        &m.secrets().truststore_password,
    ] {
        assert!(!out.contains(secret.as_str()) && !json.contains(secret.as_str()));
    }
    assert!(
        !json.contains("PRIVATE KEY") && !json.contains("\"content\":["),
        "{json}"
    );
    assert!(p.refusals().is_empty(), "{out}");

    // A JDK that disables ECDHE: every suite flinkup offers is refused there.
    facts
        .hosts
        .get_mut(&id("h2"))
        .unwrap()
        .flink_mut()
        .jdk_tls_disabled = Some("SSLv3, TLS_RSA_*, ECDHE, \\\n  EC keySize < 224".into());
    let p = deploy(&c, &facts);
    let refused = p.refusals();
    assert_eq!(refused.len(), 1, "{}", display::text(&p));
    assert!(
        refused[0]
            .to_string()
            .contains("h2: the JDK that runs Flink here (/usr/bin/java) disables every cipher suite tls: offers"),
        "{}",
        refused[0]
    );

    // Hosts that hold these very files: nothing of TLS is written again.
    facts
        .hosts
        .get_mut(&id("h2"))
        .unwrap()
        .flink_mut()
        .jdk_tls_disabled = None;
    for h in ["h1", "h2"] {
        let f = facts.hosts.get_mut(&id(h)).unwrap().flink_mut();
        for (name, _) in &m.files {
            f.tls_files
                .insert(name.to_string(), m.fingerprint(name).unwrap());
        }
    }
    let out = display::text(&deploy(&c, &facts));
    assert!(!out.contains("write    /opt/tls/"), "{out}");
}
