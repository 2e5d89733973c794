//! What is true on each host right now, gathered read-only before planning.
//!
//! The planner is a pure function of the cluster and these facts; an offline plan uses
//! [`HostFacts::empty`] for every host.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::{Cluster, Host};

/// The Java a host will run Flink with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Java {
    /// The java binary that was found.
    pub path: String,
    /// The feature release: 8, 11, 17…
    pub major: u32,
    pub version: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostFacts {
    /// Whether these facts came from the host (false: offline, the host assumed empty).
    pub gathered: bool,
    /// The ssh user's home, to resolve `~/` in install_dir.
    pub home: Option<String>,
    pub java: Option<Java>,
    /// The inventory's java_home, when it is not a directory on this host (Flink's config.sh
    /// then silently falls back to the java on PATH).
    pub java_home_missing: Option<String>,
    /// sha512 of the tarball already uploaded to the state directory, if one is there.
    pub artifact_sha512: Option<String>,
    /// The release directory exists and holds a Flink distribution.
    pub release_present: bool,
    /// Current content of each conf file flinkup manages, by file name.
    pub conf: BTreeMap<String, String>,
    /// Where `<install_dir>/flink` points now.
    pub current_link: Option<String>,
    /// Flink daemons running on the host: "jobmanager", "taskmanager".
    pub running: Vec<String>,
    /// The JobManager host can already ssh here without a password (cluster-script start).
    pub trusted_by_jobmanager: bool,
}

impl HostFacts {
    pub fn empty() -> Self {
        HostFacts::default()
    }

    pub fn runs(&self, daemon: &str) -> bool {
        self.running.iter().any(|d| d == daemon)
    }
}

/// Facts about the machine itself, for `check` and `status`; not used by the planner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MachineFacts {
    pub user: String,
    pub hostname: String,
    /// The host's own hostname resolves (Flink's TaskManager dies with UnknownHostException if not).
    pub hostname_resolves: bool,
    pub disk_free_kb: Option<u64>,
    pub install_dir_writable: bool,
    /// PIDs of running Flink daemons by role.
    pub pids: BTreeMap<String, String>,
}

/// The flink-daemon.sh pid-file names and the role each one is.
const DAEMONS: &[(&str, &str)] = &[
    ("standalonesession", "jobmanager"),
    ("taskexecutor", "taskmanager"),
];

/// Conf file names flinkup manages (both spellings of the TaskManager list).
const CONF_FILES: &[&str] = &["flink-conf.yaml", "slaves", "workers", "masters"];

/// A shell function: is this pid a live Java process? A pid file can outlive its process
/// (a zombie still answers `kill -0`) and a pid can be reused by something else.
pub const ALIVE_FN: &str = "alive() { if [ -d /proc ]; then grep -qa java /proc/\"$1\"/cmdline 2>/dev/null; else kill -0 \"$1\" 2>/dev/null; fi; }";

/// The read-only script that reports a host's state as `key=value` lines.
pub fn script(cluster: &Cluster, host: &Host) -> String {
    use crate::remote::qp;
    // The same choice Flink 1.9's config.sh makes: env.java.home if it is a directory, else
    // JAVA_HOME if it is one, else whatever `java` is on PATH.
    let java = format!(
        r#"JH={jh}
if [ -n "$JH" ] && [ -d "$JH" ]; then J="$JH/bin/java"
elif [ -n "$JAVA_HOME" ] && [ -d "$JAVA_HOME" ]; then J="$JAVA_HOME/bin/java"
else J=$(command -v java); fi
if [ -n "$JH" ] && [ ! -d "$JH" ]; then echo "java_home_missing=$JH"; fi"#,
        jh = host.java_home.as_deref().map(qp).unwrap_or_default()
    );
    let pid_dir = cluster
        .config
        .get("env.pid.dir")
        .map(|d| qp(d))
        .unwrap_or_else(|| "/tmp".into());
    let daemons: Vec<String> = DAEMONS.iter().map(|(d, r)| format!("{d}:{r}")).collect();
    format!(
        r#"set +e
{alive_fn}
U=${{USER:-$(id -un)}}
echo "home=$HOME"
echo "user=$U"
echo "hostname=$(hostname)"
if getent hosts "$(hostname)" >/dev/null 2>&1; then echo resolves=1; fi
{java}
if [ -n "$J" ] && [ -x "$J" ]; then echo "java=$J"; echo "java_version=$("$J" -version 2>&1 | head -n1)"; fi
REL={rel}
if [ -x "$REL/bin/start-cluster.sh" ] && [ -f "$REL/lib/flink-dist_{scala}-{version}.jar" ]; then echo release=1
elif [ -f {art} ]; then echo "artifact_sha512=$(sha512sum {art} | cut -d' ' -f1)"; fi
for f in {confs}; do if [ -f "$REL/conf/$f" ]; then echo "conf.$f=$(base64 -w0 < "$REL/conf/$f")"; fi; done
if [ -L {link} ]; then echo "link=$(readlink {link})"; fi
for d in {daemons}; do
  pf={pid_dir}/flink-$U-${{d%%:*}}.pid
  if [ -f "$pf" ]; then for p in $(cat "$pf"); do if {alive} "$p"; then echo "running=${{d#*:}}"; echo "pid.${{d#*:}}=$p"; fi; done; fi
done
D={install}
while [ ! -d "$D" ]; do D=$(dirname "$D"); done
echo "disk_free_kb=$(df -Pk "$D" | awk 'NR==2 {{print $4}}')"
if [ -w "$D" ]; then echo writable=1; fi
"#,
        rel = qp(&cluster.release_dir()),
        scala = cluster.scala,
        version = cluster.version,
        art = qp(&format!(
            "{}/{}",
            cluster.state_dir(),
            cluster.artifact.file_name
        )),
        confs = CONF_FILES.join(" "),
        link = qp(&cluster.current_link()),
        daemons = daemons.join(" "),
        install = qp(&cluster.install_dir),
        pid_dir = pid_dir,
        alive_fn = ALIVE_FN,
        alive = "alive",
    )
}

/// Parses the script's output.
pub fn parse(out: &str) -> (HostFacts, MachineFacts) {
    use base64::Engine;
    let mut f = HostFacts {
        gathered: true,
        ..HostFacts::default()
    };
    let mut m = MachineFacts::default();
    let mut java_path = None;
    let mut java_version = None;
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "home" => f.home = Some(v.to_string()),
            "user" => m.user = v.to_string(),
            "hostname" => m.hostname = v.to_string(),
            "resolves" => m.hostname_resolves = true,
            "java" => java_path = Some(v.to_string()),
            "java_version" => java_version = Some(v.to_string()),
            "java_home_missing" => f.java_home_missing = Some(v.to_string()),
            "release" => f.release_present = true,
            "artifact_sha512" if v.len() == 128 => f.artifact_sha512 = Some(v.to_string()),
            "link" => f.current_link = Some(v.to_string()),
            "running" => f.running.push(v.to_string()),
            "disk_free_kb" => m.disk_free_kb = v.trim().parse().ok(),
            "writable" => m.install_dir_writable = true,
            k if k.starts_with("conf.") => {
                if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(v.trim()) {
                    f.conf.insert(
                        k[5..].to_string(),
                        String::from_utf8_lossy(&bytes).into_owned(),
                    );
                }
            }
            k if k.starts_with("pid.") => {
                m.pids.insert(k[4..].to_string(), v.to_string());
            }
            _ => {}
        }
    }
    if let (Some(path), Some(version)) = (java_path, java_version) {
        if let Some(major) = java_major(&version) {
            f.java = Some(Java {
                path,
                major,
                version,
            });
        }
    }
    (f, m)
}

/// The feature release from `java -version`'s first line: `"1.8.0_292"` → 8, `"17.0.15"` → 17.
pub fn java_major(line: &str) -> Option<u32> {
    let v = line.split('"').nth(1)?;
    let mut parts = v.split(['.', '_', '-', '+']);
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_versions() {
        assert_eq!(
            java_major("openjdk version \"17.0.15\" 2025-04-15"),
            Some(17)
        );
        assert_eq!(java_major("java version \"1.8.0_292\""), Some(8));
        assert_eq!(java_major("openjdk version \"11\" 2018-09-25"), Some(11));
        assert_eq!(java_major("garbage"), None);
    }

    #[test]
    fn parses_the_script_output() {
        let out = "home=/root\nuser=root\nhostname=h1\nresolves=1\njava=/usr/bin/java\njava_version=openjdk version \"17.0.1\"\nrelease=1\nconf.slaves=aDEKaDIK\nlink=/opt/flink-1.9.3\nrunning=jobmanager\npid.jobmanager=42\ndisk_free_kb=1000\nwritable=1\n";
        let (f, m) = parse(out);
        assert_eq!(f.java.as_ref().unwrap().major, 17);
        assert!(f.release_present && m.hostname_resolves && m.install_dir_writable);
        assert_eq!(f.conf["slaves"], "h1\nh2\n");
        assert!(f.runs("jobmanager") && !f.runs("taskmanager"));
        assert_eq!(m.pids["jobmanager"], "42");
    }
}
