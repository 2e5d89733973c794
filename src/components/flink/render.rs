//! Renders the Flink configuration files from Tera templates.
//!
//! The templates in `templates/` are built into the binary; an inventory's `templates_dir`
//! replaces them file by file. Every host gets the same files except where a per-host fact
//! (its own java_home, a Java that needs module opens) changes flink-conf.yaml.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use tera::{Context, Tera};

use crate::error::{Error, Result};
use crate::inventory::{units, Cluster, Host, Version};

const EMBEDDED: &[(&str, &str)] = &[
    (
        "flink-conf.yaml.tera",
        include_str!("../../../templates/flink/flink-conf.yaml.tera"),
    ),
    (
        "slaves.tera",
        include_str!("../../../templates/flink/slaves.tera"),
    ),
    (
        "masters.tera",
        include_str!("../../../templates/flink/masters.tera"),
    ),
];

/// JVM options Flink (before 1.18) needs on Java 16 and later, where the JDK closes its internals.
pub const JDK_OPENS: &str = "--add-exports=java.base/sun.net.util=ALL-UNNAMED \
--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
--add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED \
--add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED";

/// Where, under the release's conf/, the Java launcher of a 1.9 release on Java 16+ lives:
/// `env.java.home` names the directory, Flink's scripts run its `bin/java`.
pub const LAUNCHER: &str = "java-launcher";

/// What a host adds to the shared configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HostExtras {
    pub java_home: Option<String>,
    /// `java_home` is flinkup's Java runtime (`java:`), not the inventory's.
    pub runtime: bool,
    /// The host's Java is 16 or later and this Flink needs `JDK_OPENS`.
    pub jdk_opens: bool,
    /// Flink 1.9 on Java 16+: its `bin/flink` passes the client no `env.java.opts`, so the
    /// options come from a launcher every script runs as its Java (`env.java.home`), for the
    /// daemons and for whoever runs the installed client.
    pub launcher: Option<Launcher>,
    /// A JobManager of several binds and announces its own address (`jobmanager.sh start`
    /// without arguments reads it from the configuration); None: the first JobManager's.
    pub rpc_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Launcher {
    /// The release's conf/java-launcher on the host, what `env.java.home` names.
    pub home: String,
    /// The java the host runs Flink with (java_home's, JAVA_HOME's or PATH's, as probed).
    pub java: String,
}

impl HostExtras {
    /// `java`: the Java that runs Flink there (the host's own as probed, or flinkup's
    /// runtime); `release`: where the release sits on the host.
    pub fn for_host(
        cluster: &Cluster,
        host: &Host,
        java: Option<&crate::components::java::Chosen>,
        release: &str,
    ) -> Self {
        let jdk_opens = cluster.version.needs_jdk_opens()
            && java.and_then(|j| j.major).is_some_and(|v| v >= 16)
            && !sets(cluster, "env.java.opts");
        let launcher = java
            .filter(|_| {
                jdk_opens
                    && cluster.version.client_ignores_java_opts()
                    && !cluster.config.contains_key("env.java.home")
            })
            .map(|j| Launcher {
                home: format!("{release}/conf/{LAUNCHER}"),
                java: j.java.clone(),
            });
        HostExtras {
            java_home: java
                .and_then(|j| j.runtime.clone())
                .or_else(|| host.java_home.clone()),
            runtime: java.is_some_and(|j| j.runtime.is_some()),
            jdk_opens,
            launcher,
            rpc_address: (host.jobmanager && cluster.several_jobmanagers())
                .then(|| host.name.clone()),
        }
    }
}

/// One rendered file, named as it sits in the release's conf/ directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedFile {
    pub name: String,
    pub content: String,
    /// A program (the Java launcher), written with its execute bits.
    pub executable: bool,
}

/// The launcher's `bin/java`: the host's java with the options 1.9 needs on Java 16+.
fn launcher_script(cluster: &Cluster, l: &Launcher) -> String {
    format!(
        "#!/bin/sh\n\
         # Written by flinkup. Flink {v}'s scripts run Java through here (env.java.home), so\n\
         # the daemons and bin/flink, whose client reads no env.java.opts in {v}, get the\n\
         # options Java 16 and later need for Flink's NetUtils.\n\
         exec {java} {opens} \"$@\"\n",
        v = cluster.version,
        java = crate::remote::q(&l.java),
        opens = JDK_OPENS,
    )
}

#[derive(Serialize)]
struct Entry {
    key: String,
    value: String,
    comment: String,
}

pub struct Renderer {
    tera: Tera,
    cache: Mutex<HashMap<HostExtras, Vec<RenderedFile>>>,
}

impl Renderer {
    pub fn new(cluster: &Cluster) -> Result<Self> {
        let mut tera = Tera::default();
        tera.autoescape_on(vec![]);
        for (name, builtin) in EMBEDDED {
            let text = match &cluster.templates_dir {
                Some(dir) if dir.join(name).is_file() => {
                    let p = dir.join(name);
                    std::fs::read_to_string(&p).map_err(|e| {
                        Error::io(format!("cannot read template {}", p.display()), e)
                    })?
                }
                _ => builtin.to_string(),
            };
            tera.add_raw_template(name, &text)
                .map_err(|e| template_error(name, &e))?;
        }
        Ok(Renderer {
            tera,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The files for one host; hosts with the same extras share one rendering.
    pub fn render(&self, cluster: &Cluster, extras: &HostExtras) -> Result<Vec<RenderedFile>> {
        if let Some(files) = self.cache.lock().ok().and_then(|c| c.get(extras).cloned()) {
            return Ok(files);
        }
        let files = self.render_uncached(cluster, extras)?;
        if let Ok(mut c) = self.cache.lock() {
            c.insert(extras.clone(), files.clone());
        }
        Ok(files)
    }

    fn render_uncached(&self, cluster: &Cluster, extras: &HostExtras) -> Result<Vec<RenderedFile>> {
        let mut ctx = Context::new();
        ctx.insert("cluster", &cluster.name);
        ctx.insert("file", cluster.version.config_file());
        ctx.insert(
            "guide",
            &guide_entries(cluster, extras.rpc_address.as_deref()),
        );
        let rel = super::catalogue::release(cluster.version);
        let extra: Vec<Entry> = cluster
            .config
            .iter()
            .filter(|(k, _)| {
                !crate::inventory::is_guide_key(k)
                    && !super::validate::GUIDE_MEMORY_KEYS
                        .iter()
                        .any(|g| renamed(cluster.version, g) == Some(k.as_str()))
            })
            .filter_map(|(k, v)| {
                // A key the release deprecates in favour of another is written under the
                // name the release reads (and left out when the inventory sets that one too).
                match rel.and_then(|r| r.replaced(k)) {
                    Some(new) if cluster.config.contains_key(new) => None,
                    Some(new) => Some(Entry {
                        key: new.to_string(),
                        value: v.clone(),
                        comment: format!(
                            "{k} in the inventory (Flink {}.{} reads it as {new})",
                            cluster.version.major, cluster.version.minor
                        ),
                    }),
                    None => Some(Entry {
                        key: k.clone(),
                        value: v.clone(),
                        comment: String::new(),
                    }),
                }
            })
            .collect();
        ctx.insert("extra", &extra);
        ctx.insert("shipped", &shipped_entries(cluster));
        let mut managed = Vec::new();
        if let Some(l) = &extras.launcher {
            managed.push(Entry {
                key: "env.java.home".into(),
                value: l.home.clone(),
                comment: format!(
                    "runs {} with the options Flink {} needs on Java 16+, the client's too ({}'s bin/flink reads no env.java.opts)",
                    l.java, cluster.version, cluster.version
                ),
            });
        } else if let Some(j) = &extras.java_home {
            if !cluster.config.contains_key("env.java.home") {
                managed.push(Entry {
                    key: "env.java.home".into(),
                    value: j.clone(),
                    comment: if extras.runtime {
                        "the Java runtime flinkup installs here (java:)".into()
                    } else {
                        "java_home from the inventory".into()
                    },
                });
            }
        }
        if extras.jdk_opens && extras.launcher.is_none() {
            managed.push(Entry {
                key: written_as(cluster.version, "env.java.opts"),
                value: JDK_OPENS.into(),
                comment: format!(
                    "Flink {} on Java 16+ needs these to reach JDK internals (else IllegalAccessError in NetUtils)",
                    cluster.version
                ),
            });
        }
        ctx.insert("managed", &managed);
        let entries = |keys: Option<Vec<(String, String)>>| -> Vec<Entry> {
            keys.unwrap_or_default()
                .into_iter()
                .map(|(key, value)| Entry {
                    key,
                    value,
                    comment: String::new(),
                })
                .collect()
        };
        let ha = entries(cluster.ha.as_ref().map(|ha| super::ha::keys(cluster, ha)));
        ctx.insert("ha", &ha);
        let tls = entries(cluster.tls.as_ref().map(|t| super::tls::keys(cluster, t)));
        ctx.insert("tls", &tls);
        let tms: Vec<&str> = cluster.taskmanagers().map(|h| h.name.as_str()).collect();
        ctx.insert("taskmanagers", &tms);
        ctx.insert("jobmanager", cluster.rpc_address());
        let mut jms: Vec<&str> = cluster.jobmanagers().map(|h| h.name.as_str()).collect();
        if jms.is_empty() {
            // Clients of an existing cluster: its JobManager.
            jms.push(cluster.rpc_address());
        }
        ctx.insert("jobmanagers", &jms);
        ctx.insert("rest_port", &cluster.rest_port);
        let mut out = Vec::with_capacity(3);
        for (tpl, file) in [
            ("flink-conf.yaml.tera", cluster.version.config_file()),
            ("slaves.tera", cluster.version.workers_file()),
            ("masters.tera", "masters"),
        ] {
            let content = self
                .tera
                .render(tpl, &ctx)
                .map_err(|e| template_error(tpl, &e))?;
            if tpl == "flink-conf.yaml.tera"
                && tls
                    .first()
                    .is_some_and(|e| !content.contains(&format!("{}: ", e.key)))
            {
                return Err(Error::Template {
                    name: tpl.into(),
                    message: "the template writes no TLS keys, and tls: is enabled: add the `tls` entries as the built-in template does".into(),
                });
            }
            out.push(RenderedFile {
                name: file.to_string(),
                content,
                executable: false,
            });
        }
        if let Some(l) = &extras.launcher {
            out.push(RenderedFile {
                name: format!("{LAUNCHER}/bin/java"),
                content: launcher_script(cluster, l),
                executable: true,
            });
        }
        Ok(out)
    }
}

fn template_error(name: &str, e: &tera::Error) -> Error {
    Error::Template {
        name: name.to_string(),
        message: crate::error::chain(e),
    }
}

/// The settings the release ships in its own configuration file that flinkup keeps, as the
/// guide keeps them when it edits that file: everything but what flinkup sets itself (the
/// guide's keys, addresses and ports, memory sizes, which the inventory's sizes replace as a
/// whole) and what the inventory sets.
fn shipped_entries(cluster: &Cluster) -> Vec<Entry> {
    // Beside the guide's keys (ports and memory among them): the addresses each host binds
    // and is reached at.
    const OWN: &[&str] = &[
        "jobmanager.bind-host",
        "taskmanager.bind-host",
        "taskmanager.host",
        "rest.address",
        "rest.bind-address",
    ];
    super::catalogue::shipped(cluster.version)
        .into_iter()
        .filter(|(k, _)| {
            !crate::inventory::is_guide_key(k)
                && !OWN.contains(&k.as_str())
                && !k.starts_with("jobmanager.memory.")
                && !k.starts_with("taskmanager.memory.")
                && !sets(cluster, k)
        })
        .map(|(key, value)| Entry {
            key,
            value,
            comment: String::new(),
        })
        .collect()
}

/// The name a guide key has in release `v`, when it was renamed.
fn renamed(v: Version, key: &str) -> Option<&'static str> {
    let v = (v.major, v.minor);
    match key {
        "taskmanager.heap.size" if v >= (1, 10) => Some("taskmanager.memory.flink.size"),
        "jobmanager.heap.size" if v >= (1, 11) => Some("jobmanager.memory.heap.size"),
        _ => None,
    }
}

/// The key flinkup writes an inventory key under for release `v`: the guide's memory keys
/// under the names that release reads them by, a key it deprecates under its replacement.
pub fn written_as(v: Version, key: &str) -> String {
    renamed(v, key)
        .or_else(|| super::catalogue::release(v).and_then(|r| r.replaced(key)))
        .unwrap_or(key)
        .to_string()
}

/// Whether the inventory sets `key` under any name the release reads it by
/// (`env.java.opts` or, from 1.17, `env.java.opts.all`).
pub fn sets(cluster: &Cluster, key: &str) -> bool {
    let name = written_as(cluster.version, key);
    cluster
        .config
        .keys()
        .any(|k| k == key || written_as(cluster.version, k) == name)
}

/// The inventory's Flink settings (the guide's keys with their values, then `config:`), as
/// (key, value) in the inventory's terms.
pub fn inventory_settings(cluster: &Cluster) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = guide_entries(cluster, None)
        .into_iter()
        .zip(crate::inventory::GUIDE_KEYS)
        .map(|(e, (key, _))| (key.to_string(), e.value))
        .collect();
    for (k, v) in &cluster.config {
        if !out.iter().any(|(o, _)| o == k) {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

/// The guide's keys; `rpc_address`: the host's own, where it is one JobManager of several.
fn guide_entries(cluster: &Cluster, rpc_address: Option<&str>) -> Vec<Entry> {
    crate::inventory::GUIDE_KEYS
        .iter()
        .map(|(key, comment)| {
            let value = match *key {
                "jobmanager.rpc.address" => {
                    rpc_address.unwrap_or(cluster.rpc_address()).to_string()
                }
                "jobmanager.rpc.port" => cluster.rpc_port.to_string(),
                "rest.port" => cluster.rest_port.to_string(),
                "taskmanager.numberOfTaskSlots" => cluster.slots.to_string(),
                k => cluster.config.get(k).cloned().unwrap_or_else(|| match k {
                    "jobmanager.heap.size" => units::format_memory(cluster.jobmanager_heap),
                    "taskmanager.heap.size" => units::format_memory(cluster.taskmanager_heap),
                    "parallelism.default" => "1".into(),
                    _ => "true".into(),
                }),
            };
            // The key each version reads for the guide's memory settings; a value given
            // under the new name wins.
            let new = renamed(cluster.version, key);
            let value = new
                .and_then(|new| cluster.config.get(new).cloned())
                .unwrap_or(value);
            let (key, comment) = match new {
                Some(new @ "taskmanager.memory.flink.size") => (
                    new,
                    "total Flink memory of each TaskManager (taskmanager.heap.size before 1.10)",
                ),
                Some(new @ "jobmanager.memory.heap.size") => (
                    new,
                    "JVM heap of the JobManager (jobmanager.heap.size before 1.11)",
                ),
                _ => (*key, *comment),
            };
            Entry {
                key: key.to_string(),
                value,
                comment: comment.to_string(),
            }
        })
        .collect()
}
