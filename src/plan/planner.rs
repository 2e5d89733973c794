//! Desired state + facts → plan. Pure: no network, no disk, no clock.

use std::collections::HashMap;

use similar::TextDiff;

use super::sizing;
use super::{Action, ArtifactInfo, Change, HostPlan, Plan, PlanMode, Topology};
use crate::error::Result;
use crate::facts::HostFacts;
use crate::inventory::{Cluster, StartMode};
use crate::render::{HostExtras, Renderer};

pub struct PlanInput<'a> {
    pub cluster: &'a Cluster,
    pub renderer: &'a Renderer,
    /// One entry per `cluster.hosts`, in the same order.
    pub facts: &'a [HostFacts],
    pub mode: PlanMode,
    /// The verified sha512 of the tarball, once fetched.
    pub artifact_sha512: Option<String>,
    pub artifact_cached: Option<bool>,
    pub warnings: Vec<String>,
}

/// Resolves a leading `~` against the host's home directory, when known.
pub fn resolve(path: &str, home: Option<&str>) -> String {
    match (path.strip_prefix('~'), home) {
        (Some(rest), Some(h)) => format!("{}{rest}", h.trim_end_matches('/')),
        _ => path.to_string(),
    }
}

pub fn unified_diff(old: &str, new: &str, path: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("a{path}"), &format!("b{path}"))
        .to_string()
}

/// Diffs by (old, new, path): hundreds of TaskManagers usually share the same few.
#[derive(Default)]
struct Diffs(HashMap<(String, String, String), String>);

impl Diffs {
    fn get(&mut self, old: &str, new: &str, path: &str) -> String {
        let key = (old.to_string(), new.to_string(), path.to_string());
        self.0
            .entry(key)
            .or_insert_with(|| unified_diff(old, new, path))
            .clone()
    }
}

/// The daemons the inventory wants that are not running: (host name, role).
pub fn missing_daemons(c: &Cluster, facts: &[HostFacts]) -> Vec<(String, String)> {
    let empty = HostFacts::empty();
    c.hosts
        .iter()
        .enumerate()
        .flat_map(|(i, h)| {
            let f = facts.get(i).unwrap_or(&empty);
            [("jobmanager", h.jobmanager), ("taskmanager", h.taskmanager)]
                .into_iter()
                .filter(move |(role, has)| *has && !f.runs(role))
                .map(move |(role, _)| (h.name.clone(), role.to_string()))
        })
        .collect()
}

pub fn build(input: PlanInput) -> Result<Plan> {
    let mut diffs = Diffs::default();
    let c = input.cluster;
    let jm = c.jobmanager();
    let mut config_changed = false;
    let mut hosts = Vec::with_capacity(c.hosts.len());
    let empty = HostFacts::empty();
    for (i, h) in c.hosts.iter().enumerate() {
        let f = input.facts.get(i).unwrap_or(&empty);
        let home = f.home.as_deref();
        let release = resolve(&c.release_dir(), home);
        let state = resolve(&c.state_dir(), home);
        let link = resolve(&c.current_link(), home);
        let extras = HostExtras::for_host(c, h, f.java.as_ref().map(|j| j.major));
        let files = input.renderer.render(c, &extras)?;
        let mut actions = Vec::new();
        let mut notes = Vec::new();
        if !f.release_present {
            let archive = format!("{state}/{}", c.artifact.file_name);
            let have = f.artifact_sha512.is_some() && f.artifact_sha512 == input.artifact_sha512;
            if have {
                notes.push(format!(
                    "{archive} already there (sha512 matches): not uploaded again"
                ));
            } else {
                actions.push(Action::Upload {
                    file: c.artifact.file_name.clone(),
                    dest: archive.clone(),
                    sha512: input.artifact_sha512.clone(),
                });
            }
            actions.push(Action::Unpack {
                archive,
                dest: release.clone(),
                checked: !have,
            });
        }
        for file in &files {
            let path = format!("{release}/conf/{}", file.name);
            let old = f.conf.get(&file.name);
            if old.map(String::as_str) == Some(file.content.as_str()) {
                continue;
            }
            let change = if old.is_some() && f.release_present {
                Change::Update
            } else {
                Change::Create
            };
            if f.release_present {
                config_changed = true;
            }
            actions.push(Action::WriteFile {
                diff: diffs.get(old.map_or("", String::as_str), &file.content, &path),
                path,
                change,
                content: file.content.clone(),
            });
        }
        if f.current_link.as_deref() != Some(release.as_str()) {
            if f.current_link.is_some() {
                config_changed = true;
            }
            actions.push(Action::Link {
                link,
                target: release,
                previous: f.current_link.clone(),
            });
        }
        if extras.jdk_opens {
            notes.push(format!(
                "Java {} with Flink {}: env.java.opts gets --add-exports/--add-opens so NetUtils can reach JDK internals",
                f.java.as_ref().map_or(0, |j| j.major),
                c.version
            ));
        }
        if let Some(j) = &f.java_home_missing {
            notes.push(format!(
                "warning: java_home {j} is not a directory here; Flink falls back to {}",
                f.java
                    .as_ref()
                    .map_or("the java on PATH".to_string(), |j| j.path.clone())
            ));
        }
        if f.gathered && f.java.is_none() {
            notes.push("warning: no working java found (java_home, JAVA_HOME, PATH): Flink will not start here; install a JDK 8 or later".into());
        }
        if !f.gathered && c.version.needs_jdk_opens() && !c.config.contains_key("env.java.opts") {
            notes.push(
                "Java version unknown offline: if this host runs Java 16 or later, deploy adds the --add-opens options Flink 1.9 needs to env.java.opts".into(),
            );
        }
        hosts.push(HostPlan {
            host: h.name.clone(),
            address: h.address.clone(),
            roles: h.roles(),
            java: f
                .java
                .as_ref()
                .map(|j| format!("{} ({})", j.version, j.path)),
            current_release: f.current_link.clone(),
            running: f.running.clone(),
            actions,
            notes,
        });
    }

    let jm_facts = input.facts.first().unwrap_or(&empty);
    let mut cluster_actions = Vec::new();
    let all_running = c.hosts.iter().enumerate().all(|(i, h)| {
        let f = input.facts.get(i).unwrap_or(&empty);
        (!h.jobmanager || f.runs("jobmanager")) && (!h.taskmanager || f.runs("taskmanager"))
    });
    let any_running = input.facts.iter().any(|f| !f.running.is_empty());
    if c.start == StartMode::ClusterScript {
        let untrusted: Vec<String> = c
            .tm_order
            .iter()
            .filter(|&&i| !input.facts.get(i).unwrap_or(&empty).trusted_by_jobmanager)
            .map(|&i| c.hosts[i].name.clone())
            .collect();
        if !untrusted.is_empty() {
            cluster_actions.push(Action::TrustSsh {
                from: jm.name.clone(),
                to: untrusted,
            });
        }
    }
    let jm_release = resolve(&c.current_link(), jm_facts.home.as_deref());
    let restart = any_running && config_changed;
    if restart {
        cluster_actions.push(Action::Stop {
            reason: "the configuration or release changed; Flink reads it only at start".into(),
        });
    }
    // Some daemons run and the configuration is unchanged: start only the missing ones, so a
    // crashed TaskManager comes back without a second copy of everything else.
    let missing = missing_daemons(c, input.facts);
    if any_running && !restart && !missing.is_empty() {
        cluster_actions.push(Action::StartMissing { daemons: missing });
    } else if restart || !all_running {
        cluster_actions.push(Action::Start {
            mode: c.start,
            on: jm.name.clone(),
            command: match c.start {
                StartMode::ClusterScript => format!("{jm_release}/bin/start-cluster.sh"),
                StartMode::Direct => format!(
                    "{jm_release}/bin/jobmanager.sh start, then {jm_release}/bin/taskmanager.sh start on each TaskManager host"
                ),
            },
        });
    }
    cluster_actions.push(Action::Verify {
        url: format!("http://{}:{}/overview", jm.name, c.rest_port),
        taskmanagers: c.taskmanager_count(),
        slots: c.total_slots(),
        timeout_secs: c.verify_timeout.as_secs(),
    });

    let art = &c.artifact;
    let checksum = match (&art.checksum.pinned, &art.checksum.sidecar) {
        (Some(p), Some(s)) => format!(
            "{} pinned in the inventory, cross-checked with {s}",
            p.algorithm
        ),
        (Some(p), None) => format!("{} pinned in the inventory", p.algorithm),
        (None, Some(s)) => format!("sha512 from {s}"),
        (None, None) => "none".into(),
    };
    let tms: Vec<String> = c.taskmanagers().map(|h| h.name.clone()).collect();
    Ok(Plan {
        cluster: c.name.clone(),
        flink_version: c.version.to_string(),
        scala: c.scala.clone(),
        mode: input.mode,
        artifact: ArtifactInfo {
            file_name: art.file_name.clone(),
            source: art
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .or_else(|| art.urls.first().cloned())
                .unwrap_or_default(),
            mirrors: art.urls.iter().skip(1).cloned().collect(),
            checksum,
            insecure: art.checksum.insecure,
            cached: input.artifact_cached,
        },
        topology: Topology {
            jobmanager: jm.name.clone(),
            summary: c.topology(),
            taskmanagers: tms,
            slots_per_taskmanager: c.slots,
            total_slots: c.total_slots(),
        },
        hosts,
        cluster_actions,
        sizing: sizing::notes(c)
            .into_iter()
            .map(|n| {
                if n.warn {
                    format!("warning: {}", n.text)
                } else {
                    n.text
                }
            })
            .collect(),
        warnings: input.warnings,
    })
}
