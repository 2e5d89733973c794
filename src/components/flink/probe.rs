//! Flink's read-only probe: the Java a host will run Flink with, the release and its conf
//! files, the `flink` link, the running daemons, and (on the JobManager host) the
//! TaskManagers the JobManager has registered.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Role;
use crate::inventory::{Cluster, Host};
use crate::remote::qp;

/// The Java a host will run Flink with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Java {
    /// The java binary that was found.
    pub path: String,
    /// The feature release: 8, 11, 17…
    pub major: u32,
    pub version: String,
}

/// A TaskManager the JobManager lists, by id and akka path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registered {
    pub id: String,
    #[serde(default)]
    pub path: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FlinkFacts {
    pub java: Option<Java>,
    /// The inventory's java_home, when it is not a directory on this host (Flink's config.sh
    /// then silently falls back to the java on PATH).
    pub java_home_missing: Option<String>,
    /// sha512 of the tarball already uploaded to the state directory, if one is there.
    pub artifact_sha512: Option<String>,
    /// The release directory exists and holds a Flink distribution.
    pub release_present: bool,
    /// The sha512 of the archive it was unpacked from, when flinkup recorded it.
    pub release_sha512: Option<String>,
    /// Current content of each conf file flinkup manages, by file name.
    pub conf: BTreeMap<String, String>,
    /// Where `<install_dir>/flink` points now.
    pub current_link: Option<String>,
    /// Flink daemons running on the host, each with its pid.
    pub running: BTreeMap<Role, u32>,
    /// TaskManagers the JobManager running here has registered (JobManager host only).
    pub registered: Option<Vec<Registered>>,
    /// sha512 of the asked-about jars in the release's lib/, by file name.
    pub libs: BTreeMap<String, String>,
    /// Flink release directories in the install directory.
    pub releases: Vec<String>,
    /// What flinkup recorded here at its last deploy (JobManager host only).
    pub record: Option<super::record::Record>,
    /// Jobs running on the cluster (id, name), when the JobManager runs here.
    pub running_jobs: Option<Vec<(String, String)>>,
    /// sha256 of the TLS files flinkup keeps on the host, by file name (`tls:`).
    pub tls_files: BTreeMap<String, String>,
    /// The `jdk.tls.disabledAlgorithms` of the Java that runs Flink here (`tls:`).
    pub jdk_tls_disabled: Option<String>,
    /// sha512 of smoke job jars uploaded earlier, by path (JobManager host only).
    pub smoke_jars: BTreeMap<String, String>,
    /// Each daemon's systemd unit as it is (state), when its unit file exists.
    pub units: BTreeMap<Role, super::supervise::UnitState>,
    /// Each daemon's unit file as it is.
    pub unit_files: BTreeMap<Role, String>,
    /// The first of the release's URLs this host reaches itself (`distribution: auto`, asked
    /// while the release is not installed here).
    pub url_reach: Option<String>,
    /// How each server of `ha.zookeeper_quorum` answered from here, by its index in the
    /// quorum (JobManager host only).
    pub zookeeper: BTreeMap<usize, String>,
    /// The ZooKeeper version each of those servers reports (`3.4.10`, `3.8.4`).
    pub zookeeper_versions: BTreeMap<usize, String>,
    /// A `file://` HA storage directory the JobManager cannot write: the directory (or the
    /// parent it would be created in) that is not writable (JobManager host only).
    pub ha_storage_unwritable: Option<String>,
    /// With `ha:`: the JobManager running here leads (its log's last word on the dispatcher's
    /// leadership is that it was granted), Some(false): it stands by.
    pub leads: Option<bool>,
}

/// Flink's part of a host's facts.
pub trait FlinkFactsOf {
    /// What Flink's probe found (empty facts when it did not run there).
    fn flink(&self) -> &FlinkFacts;
    fn flink_mut(&mut self) -> &mut FlinkFacts;
}

impl FlinkFactsOf for crate::facts::HostFacts {
    fn flink(&self) -> &FlinkFacts {
        self.parts.get_or_empty()
    }
    fn flink_mut(&mut self) -> &mut FlinkFacts {
        self.parts.get_mut()
    }
}

impl FlinkFacts {
    pub fn runs(&self, role: Role) -> bool {
        self.running.contains_key(&role)
    }
}

/// Conf file names flinkup manages (both spellings of the TaskManager list).
const CONF_FILES: &[&str] = &[
    "flink-conf.yaml",
    "config.yaml",
    "slaves",
    "workers",
    "masters",
    "java-launcher/bin/java",
];

/// Where Flink's daemons keep their pid files.
pub fn pid_dir(cluster: &Cluster) -> String {
    cluster
        .config
        .get("env.pid.dir")
        .cloned()
        .unwrap_or_else(|| "/tmp".into())
}

/// The read-only script that reports Flink's state on a host as `key=value` lines; `jars`
/// are lib/ files whose sha512 is asked for (connector jars another component places).
pub fn script(cluster: &Cluster, host: &Host, jars: &[String], read_record: bool) -> String {
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
    let daemons: Vec<String> = Role::ALL
        .iter()
        .map(|r| format!("{}:{}", r.pid_name(), r))
        .collect();
    let mut s = format!(
        r#"set +e
{alive_fn}
U=${{USER:-$(id -un)}}
{java}
if [ -n "$J" ] && [ -x "$J" ]; then echo "java=$J"; echo "java_version=$("$J" -version 2>&1 | head -n1)"; fi
REL={rel}
if [ -x "$REL/bin/start-cluster.sh" ] && [ -f "$REL/lib/"{dist} ]; then echo release=1; [ -f "$REL/.flinkup-sha512" ] && echo "release_sha512=$(cat "$REL/.flinkup-sha512")"
elif [ -f {art} ]; then echo "artifact_sha512=$(sha512sum {art} | cut -d' ' -f1)"; fi
for f in {confs}; do if [ -f "$REL/conf/$f" ]; then echo "conf.$f=$(base64 -w0 < "$REL/conf/$f")"; fi; done
if [ -L {link} ]; then echo "link=$(readlink {link})"; fi
for r in {install}/flink-[0-9]*; do if [ -d "$r" ] && [ ! -L "$r" ]; then case "$r" in *.incomplete.*) ;; *) echo "rel=$r";; esac; fi; done
for d in {daemons}; do
  pf={pid_dir}/flink-$U-${{d%%:*}}.pid
  if [ -f "$pf" ]; then for p in $(cat "$pf"); do if alive "$p" java; then echo "running.${{d#*:}}=$p"; fi; done; fi
done
"#,
        rel = qp(&cluster.release_dir()),
        dist = crate::remote::q(&cluster.version.dist_jar(&cluster.scala)),
        art = qp(&format!(
            "{}/{}",
            cluster.state_dir(),
            cluster.artifact.file_name
        )),
        confs = CONF_FILES.join(" "),
        link = qp(&cluster.current_link()),
        install = qp(&cluster.install_dir),
        daemons = daemons.join(" "),
        pid_dir = qp(&pid_dir(cluster)),
        alive_fn = crate::remote::shell::ALIVE_FN,
    );
    s.push_str(&super::supervise::probe(cluster));
    // The JDK's own refusals (conf/security on 9+, jre/lib/security on 8), and the TLS files
    // flinkup keeps here.
    s.push_str(&format!(
        r#"if [ -n "$J" ] && [ -x "$J" ]; then JR=$(dirname "$(dirname "$(readlink -f "$J")")"); for JS in "$JR/conf/security/java.security" "$JR/lib/security/java.security" "$JR/jre/lib/security/java.security"; do if [ -f "$JS" ]; then echo "jdk_tls_disabled=$(sed -n '/^jdk.tls.disabledAlgorithms=/,/[^\]$/p' "$JS" | base64 -w0)"; break; fi; done; fi
for f in {files}; do if [ -f {dir}/"$f" ]; then echo "tls.$f=$(sha256sum {dir}/"$f" | cut -d' ' -f1)"; fi; done
"#,
        files = super::tls::FILES.join(" "),
        dir = qp(&super::tls::host_dir(cluster)),
    ));
    if cluster.distribution == crate::inventory::Distribution::Auto
        && cluster.artifact.path.is_none()
        && !cluster.artifact.urls.is_empty()
    {
        // `distribution: auto`: whether this host reaches the release's URLs itself, asked
        // only while the release is not installed here (one byte, a few seconds at most).
        s.push_str(&format!(
            "if [ ! -x \"$REL/bin/start-cluster.sh\" ]; then for u in {urls}; do if command -v curl >/dev/null 2>&1; then curl -fsL --max-time 5 -r 0-0 -o /dev/null \"$u\" 2>/dev/null; elif command -v wget >/dev/null 2>&1; then wget -q -T 5 --spider \"$u\" 2>/dev/null; else false; fi && {{ echo \"url_reach=$u\"; break; }}; done; fi\n",
            urls = cluster
                .artifact
                .urls
                .iter()
                .map(|u| crate::remote::q(u))
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    for j in jars {
        s.push_str(&format!(
            "if [ -f \"$REL/lib/\"{j} ]; then echo \"lib.\"{j}\"=$(sha512sum \"$REL/lib/\"{j} | cut -d' ' -f1)\"; fi\n",
            j = crate::remote::q(j)
        ));
    }
    if host.jobmanager && read_record {
        s.push_str(&format!(
            "if [ -f {rec} ]; then echo \"record=$(base64 -w0 < {rec})\"; fi\n",
            rec = qp(&super::record::file(cluster))
        ));
    }
    if let Some(ha) = cluster.ha.as_ref().filter(|_| host.jobmanager) {
        s.push_str(&super::ha::probe(&ha.quorum));
        s.push_str(&super::ha::storage_probe(ha));
        s.push_str(&super::ha::leader_probe(
            &pid_dir(cluster),
            &super::log_dir(cluster),
        ));
    }
    if host.jobmanager {
        s.push_str(&format!(
            "for j in {smoke}/*.jar; do [ -f \"$j\" ] && echo \"smoke_jar.$j=$(sha512sum \"$j\" | cut -d' ' -f1)\"; done\n",
            smoke = qp(&format!("{}/smoke", cluster.state_dir()))
        ));
        // Which TaskManagers the running JobManager lists: a restarted TaskManager's old entry
        // stays until its heartbeat times out, and verification must not count it.
        // The API answers over https where TLS is on (with the CA and client certificate
        // flinkup keeps on the host), over http before or after.
        s.push_str(&format!(
            r#"{http}
D={tls}; HTTP_CA=; HTTP_CERT=; [ -f "$D/{ca}" ] && HTTP_CA="$D/{ca}"; [ -f "$D/{cl}" ] && HTTP_CERT="$D/{cl}"
if [ -n "$(cat {pid_dir}/flink-$U-standalonesession.pid 2>/dev/null)" ]; then
  T=$({{ [ -n "$HTTP_CA" ] && http_body https://127.0.0.1:{port}/taskmanagers; }} || http_body http://127.0.0.1:{port}/taskmanagers || http_body {url})
  [ -n "$T" ] && echo "registered=$(printf %s "$T" | base64 -w0)"
  J=$({{ [ -n "$HTTP_CA" ] && http_body https://127.0.0.1:{port}/jobs/overview; }} || http_body http://127.0.0.1:{port}/jobs/overview || http_body {jobs_url})
  [ -n "$J" ] && echo "jobs=$(printf %s "$J" | base64 -w0)"
fi
"#,
            http = crate::remote::shell::HTTP_GET_FN,
            tls = qp(&super::tls::host_dir(cluster)),
            ca = super::tls::CA_PEM,
            cl = super::tls::CLIENT_PEM,
            pid_dir = qp(&pid_dir(cluster)),
            port = cluster.rest_port,
            url = crate::remote::q(&format!(
                "http://{}:{}/taskmanagers",
                host.name, cluster.rest_port
            )),
            jobs_url = crate::remote::q(&format!(
                "http://{}:{}/jobs/overview",
                host.name, cluster.rest_port
            )),
        ));
    }
    s
}

#[derive(Deserialize)]
struct TaskManagers {
    taskmanagers: Vec<Registered>,
}

/// Parses the probe's output; keys of other probes are ignored.
pub fn parse(out: &str) -> FlinkFacts {
    let b64 = crate::facts::b64_text;
    let mut f = FlinkFacts::default();
    let mut java_path = None;
    let mut java_version = None;
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "java" => java_path = Some(v.to_string()),
            "java_version" => java_version = Some(v.to_string()),
            "java_home_missing" => f.java_home_missing = Some(v.to_string()),
            "url_reach" => f.url_reach = Some(v.to_string()),
            k if k.starts_with("unit.") && k.ends_with("_file") => {
                if let (Some(r), Some(t)) = (Role::parse(&k[5..k.len() - 5]), b64(v)) {
                    f.unit_files.insert(r, t);
                }
            }
            k if k.starts_with("unit.") => {
                if let Some(r) = Role::parse(&k[5..]) {
                    f.units.insert(r, super::supervise::parse_state(v));
                }
            }
            "release" => f.release_present = true,
            "release_sha512" if v.trim().len() == 128 => {
                f.release_sha512 = Some(v.trim().to_string())
            }
            "artifact_sha512" if v.len() == 128 => f.artifact_sha512 = Some(v.to_string()),
            "link" => f.current_link = Some(v.to_string()),
            "rel" => f.releases.push(v.to_string()),
            "record" => {
                f.record = b64(v).and_then(|t| serde_json::from_str(&t).ok());
            }
            "jobs" => {
                f.running_jobs = b64(v)
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .map(|j| {
                        j["jobs"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter(|x| {
                                matches!(
                                    x["state"].as_str(),
                                    Some("RUNNING" | "RESTARTING" | "CREATED")
                                )
                            })
                            .map(|x| {
                                (
                                    x["jid"].as_str().unwrap_or_default().to_string(),
                                    x["name"].as_str().unwrap_or_default().to_string(),
                                )
                            })
                            .collect()
                    })
            }
            "registered" => {
                f.registered = b64(v)
                    .and_then(|t| serde_json::from_str::<TaskManagers>(&t).ok())
                    .map(|t| t.taskmanagers)
            }
            k if k.starts_with("running.") => {
                if let (Some(role), Ok(pid)) = (Role::parse(&k[8..]), v.trim().parse()) {
                    f.running.insert(role, pid);
                }
            }
            "leads" => f.leads = Some(v.trim() == "granted"),
            "ha_storage" if v.trim() != "writable" => {
                f.ha_storage_unwritable = Some(v.trim().to_string())
            }
            "jdk_tls_disabled" => {
                f.jdk_tls_disabled = b64(v).map(|t| {
                    t.trim_start_matches("jdk.tls.disabledAlgorithms=")
                        .to_string()
                })
            }
            k if k.starts_with("tls.") => {
                f.tls_files.insert(k[4..].to_string(), v.trim().to_string());
            }
            k if k.starts_with("smoke_jar.") => {
                f.smoke_jars
                    .insert(k[10..].to_string(), v.trim().to_string());
            }
            k if k.starts_with("lib.") => {
                f.libs.insert(k[4..].to_string(), v.trim().to_string());
            }
            k if k.starts_with("conf.") => {
                if let Some(text) = b64(v) {
                    f.conf.insert(k[5..].to_string(), text);
                }
            }
            _ => {}
        }
    }
    (f.zookeeper, f.zookeeper_versions) = super::ha::answers(out);
    if let (Some(path), Some(version)) = (java_path, java_version) {
        if let Some(major) = java_major(&version) {
            f.java = Some(Java {
                path,
                major,
                version,
            });
        }
    }
    // A daemon systemd runs is running whatever its pid file says (Flink 1.9's foreground
    // start writes none).
    for (r, u) in &f.units {
        if let Some(pid) = u.pid() {
            f.running.entry(*r).or_insert(pid);
        }
    }
    f
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
        use base64::Engine;
        let reg = base64::engine::general_purpose::STANDARD.encode(
            r#"{"taskmanagers":[{"id":"abc","path":"akka.tcp://flink@h2:1/user/taskmanager_0"}]}"#,
        );
        let out = format!("java=/usr/bin/java\njava_version=openjdk version \"17.0.1\"\nrelease=1\nconf.slaves=aDEKaDIK\nlink=/opt/flink-1.9.3\nrunning.jobmanager=42\nregistered={reg}\n");
        let f = parse(&out);
        assert_eq!(f.java.as_ref().unwrap().major, 17);
        assert!(f.release_present);
        assert_eq!(f.conf["slaves"], "h1\nh2\n");
        assert!(f.runs(Role::JobManager) && !f.runs(Role::TaskManager));
        assert_eq!(f.running[&Role::JobManager], 42);
        assert_eq!(f.registered.unwrap()[0].id, "abc");
    }
}
