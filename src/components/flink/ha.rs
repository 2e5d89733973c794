//! High availability through ZooKeeper: the inventory's `ha:` section, the keys each release
//! reads for it, what the JobManager host's probe asks of the ensemble, and the findings and
//! status lines that come from the answers.
//!
//! The ensemble is the site's (`ha.zookeeper_quorum`): flinkup checks that it answers from the
//! JobManager host and how many of its servers do, and never starts or stops it. Job metadata
//! lives in `ha.storage_dir`; with it the JobManager recovers its jobs after a restart.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::schema::RawHa;
use crate::inventory::units;
use crate::inventory::validate::Checker;
use crate::inventory::Cluster;

/// The validated `ha:` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ha {
    /// Where the JobManager keeps job metadata (`file:///…`, `hdfs://…`, `s3://…`).
    pub storage_dir: String,
    /// The ZooKeeper servers, as `host:port`, in the inventory's order.
    pub quorum: Vec<(String, u16)>,
    /// The quorum is flinkup's own (`ha.zookeeper`: it starts, verifies, stops and removes
    /// its peers), not the site's (`ha.zookeeper_quorum`).
    pub own: bool,
}

/// The client port of flinkup's own ZooKeeper peers, and their quorum and election ports.
pub const CLIENT_PORT: u16 = 2181;
pub const PEER_PORTS: (u16, u16) = (2888, 3888);

impl Ha {
    /// `host:port,host:port`, as Flink reads the quorum.
    pub fn quorum_text(&self) -> String {
        self.quorum
            .iter()
            .map(|(h, p)| format!("{h}:{p}"))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Storage schemes the JobManager can write job metadata to: the local file system (shared
/// by NFS or the like when several hosts need it) and the distributed ones Flink supports
/// through Hadoop or its file system plugins.
const SCHEMES: &[&str] = &[
    "file", "hdfs", "s3", "s3a", "s3p", "gs", "oss", "abfs", "abfss", "wasb", "wasbs", "viewfs",
];

/// Checks the `ha:` section; None when it has errors (they are in the checker).
pub(crate) fn validate(c: &mut Checker, raw: &RawHa) -> Option<Ha> {
    let mut ok = true;
    let storage_dir = match raw.storage_dir.as_deref().map(str::trim) {
        None | Some("") => {
            c.key_error(
                &["ha"],
                "ha has no storage_dir: the JobManager keeps job metadata there and recovers its jobs from it",
                "add `storage_dir: file:///srv/flink-ha` (a directory every JobManager host sees) or an hdfs://, s3:// URI",
            );
            None
        }
        Some(dir) => match dir.split_once("://") {
            Some((scheme, rest)) if SCHEMES.contains(&scheme) => {
                if scheme == "file" && !rest.starts_with('/') {
                    c.error(
                        &["ha", "storage_dir"],
                        format!("storage_dir `{dir}` is not an absolute path"),
                        "write file:// followed by an absolute path: file:///srv/flink-ha",
                    );
                    None
                } else if rest.contains(char::is_whitespace) || dir.contains('#') {
                    c.error(
                        &["ha", "storage_dir"],
                        format!("storage_dir `{dir}` contains a space or `#`"),
                        "Flink's scripts read one word per value: choose a path without them",
                    );
                    None
                } else {
                    Some(dir.trim_end_matches('/').to_string())
                }
            }
            Some((scheme, _)) => {
                c.error(
                    &["ha", "storage_dir"],
                    format!("storage_dir scheme `{scheme}://` is not one Flink can store job metadata in"),
                    format!("use one of {}", SCHEMES.iter().map(|s| format!("{s}://")).collect::<Vec<_>>().join(", ")),
                );
                None
            }
            None => {
                c.error(
                    &["ha", "storage_dir"],
                    format!("storage_dir `{dir}` has no scheme"),
                    format!("write it as a URI: file://{dir} for a directory every JobManager host mounts"),
                );
                None
            }
        },
    };
    let mut quorum = Vec::new();
    let own = !raw.zookeeper.is_empty();
    match raw.zookeeper_quorum.as_deref().map(str::trim) {
        Some(_) if own => {
            c.key_error(
                &["ha", "zookeeper_quorum"],
                "ha has both zookeeper (hosts for flinkup's own quorum) and zookeeper_quorum (the site's ensemble)",
                "keep one: zookeeper to have flinkup run the quorum, zookeeper_quorum to use one the site runs",
            );
            ok = false;
        }
        None | Some("") if own => {
            quorum = raw
                .zookeeper
                .iter()
                .map(|h| (h.name().to_string(), CLIENT_PORT))
                .collect();
            quorum_warnings(c, &["ha", "zookeeper"], quorum.len());
        }
        None | Some("") => {
            c.key_error(
                &["ha"],
                "ha has neither zookeeper nor zookeeper_quorum: Flink elects its leader and finds its jobs through ZooKeeper",
                "list hosts for flinkup to run a quorum on, `zookeeper: [zk1, zk2, zk3]`, or name the site's ensemble, `zookeeper_quorum: \"zk1:2181,zk2:2181,zk3:2181\"`",
            );
            ok = false;
        }
        Some(text) => {
            for server in text.split(',').map(str::trim) {
                let (host, port) = server.rsplit_once(':').unwrap_or((server, "2181"));
                let port = port.parse::<u16>().ok().filter(|p| *p > 0);
                match (units::check_host(host), port) {
                    (Ok(()), Some(p)) => quorum.push((host.to_string(), p)),
                    (Err(e), _) => {
                        c.error(
                            &["ha", "zookeeper_quorum"],
                            format!("ZooKeeper server `{server}`: {e}"),
                            "list servers as host:port, separated by commas",
                        );
                        ok = false;
                    }
                    (Ok(()), None) => {
                        c.error(
                            &["ha", "zookeeper_quorum"],
                            format!("ZooKeeper server `{server}` has no valid port"),
                            "list servers as host:port with a port from 1 to 65535, e.g. zk1:2181",
                        );
                        ok = false;
                    }
                }
            }
            if ok {
                quorum_warnings(c, &["ha", "zookeeper_quorum"], quorum.len());
            }
        }
    }
    Some(Ha {
        storage_dir: storage_dir?,
        quorum,
        own,
    })
    .filter(|_| ok)
}

/// One server is a single point of failure; an even count survives no more than one fewer.
fn quorum_warnings(c: &mut Checker, path: &[&str], n: usize) {
    if n == 1 {
        c.warn(
            path,
            "one ZooKeeper server: when it stops, Flink loses its leader and every job stops",
            Some(
                "run three (or five) servers: a majority of them keeps the ensemble working".into(),
            ),
        );
    } else if n.is_multiple_of(2) {
        c.warn(
            path,
            format!(
                "{n} ZooKeeper servers survive no more failures than {}: a majority must answer",
                n - 1
            ),
            Some("run an odd number of servers".into()),
        );
    }
}

/// The keys a release reads for ZooKeeper HA, with their values: under the names the release
/// reads them by (`high-availability.type` where it replaced `high-availability`), the cluster's
/// name as its id under ZooKeeper and storage, and the JobManager's RPC port pinned to
/// `jobmanager.rpc.port` (HA picks a random one otherwise, which no firewall can allow).
pub fn keys(c: &Cluster, ha: &Ha) -> Vec<(String, String)> {
    let values = [
        "zookeeper".to_string(),
        ha.quorum_text(),
        ha.storage_dir.clone(),
        c.name.clone(),
        c.rpc_port.to_string(),
    ];
    KEYS.iter()
        .zip(values)
        .map(|(k, v)| (super::render::written_as(c.version, k), v))
        .collect()
}

/// The keys flinkup writes from `ha:` (under the names each release reads them by): where
/// ZooKeeper and the storage are, which cluster, which port.
pub const KEYS: [&str; 5] = [
    "high-availability",
    "high-availability.zookeeper.quorum",
    "high-availability.storageDir",
    "high-availability.cluster-id",
    "high-availability.jobmanager.port",
];

/// The JobManager host's probe: each ZooKeeper server's answer to `srvr` (its mode), asked with
/// bash's /dev/tcp and a time limit, so no ZooKeeper client is needed there.
pub fn probe(quorum: &[(String, u16)]) -> String {
    let mut s = String::new();
    for (i, (h, p)) in quorum.iter().enumerate() {
        s.push_str(&format!(
            "S=$(timeout 3 bash -c 'exec 3<>/dev/tcp/'{h}'/{p}; printf srvr >&3; cat <&3' 2>/dev/null); M=$(printf %s \"$S\" | sed -n 's/^Mode: //p'); V=$(printf %s \"$S\" | sed -n 's/^Zookeeper version: \\([0-9.]*\\).*/\\1/p'); echo \"zk.{i}=${{M:-unreachable}}\"; [ -z \"$V\" ] || echo \"zkv.{i}=$V\"\n",
            h = crate::remote::q(h),
        ));
    }
    s
}

/// What [`probe`] printed: each server's mode and, where it said, its version, by the
/// server's index in the quorum.
pub fn answers(out: &str) -> (BTreeMap<usize, String>, BTreeMap<usize, String>) {
    let (mut modes, mut versions) = (BTreeMap::new(), BTreeMap::new());
    for (k, v) in out.lines().filter_map(|l| l.split_once('=')) {
        let (map, i) = match (k.strip_prefix("zkv."), k.strip_prefix("zk.")) {
            (Some(i), _) => (&mut versions, i),
            (None, Some(i)) => (&mut modes, i),
            _ => continue,
        };
        if let Ok(i) = i.parse() {
            map.insert(i, v.trim().to_string());
        }
    }
    (modes, versions)
}

/// Whether the JobManager host can write a `file://` storage directory: the directory, or the
/// nearest parent that exists (the JobManager creates the rest).
pub fn storage_probe(ha: &Ha) -> String {
    match ha.storage_dir.strip_prefix("file://") {
        Some(path) => format!(
            "D={}; while [ ! -e \"$D\" ]; do D=$(dirname \"$D\"); done; if [ -d \"$D\" ] && [ -w \"$D\" ]; then echo ha_storage=writable; else echo \"ha_storage=$D\"; fi\n",
            crate::remote::q(path)
        ),
        None => String::new(),
    }
}

/// Whether the JobManager running on a host leads: the last line of its log about the
/// dispatcher's leadership (`Dispatcher … was granted leadership` in 1.x before 1.11,
/// `DefaultDispatcherRunner was granted leadership` / `was revoked the leadership` later),
/// printed as `leads=granted`, `leads=revoked` or `leads=none` (a standby that never led);
/// nothing when no JobManager runs here.
pub fn leader_probe(pid_dir: &str, log_dir: &str) -> String {
    format!(
        r#"U=${{USER:-$(id -un)}}
if [ -n "$(cat {pid}/flink-$U-standalonesession.pid 2>/dev/null)" ]; then
  L=$(ls -t {log}/flink-$U-standalonesession-*.log 2>/dev/null | head -n1)
  X=$([ -n "$L" ] && grep -E 'Dispatcher.* was (granted|revoked)' "$L" | tail -n1 | grep -oE 'granted|revoked' | head -n1)
  echo "leads=${{X:-none}}"
fi
"#,
        pid = crate::remote::qp(pid_dir),
        log = crate::remote::qp(log_dir),
    )
}

/// How each ZooKeeper server answered, in quorum order: its mode (`leader`, `follower`,
/// `standalone`) or `unreachable`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Ensemble {
    pub servers: Vec<(String, String)>,
}

impl Ensemble {
    /// The quorum's servers with the modes [`answers`] read (None where the probe did not run).
    pub fn of(quorum: &[(String, u16)], modes: &BTreeMap<usize, String>) -> Option<Ensemble> {
        let servers = quorum
            .iter()
            .enumerate()
            .map(|(i, (h, p))| Some((format!("{h}:{p}"), modes.get(&i)?.clone())))
            .collect::<Option<Vec<_>>>()?;
        Some(Ensemble { servers })
    }

    pub fn answering(&self) -> usize {
        self.servers
            .iter()
            .filter(|(_, m)| m != "unreachable")
            .count()
    }

    /// A majority answers and one of them leads (or a lone server runs standalone).
    pub fn working(&self) -> bool {
        self.answering() * 2 > self.servers.len()
            && self
                .servers
                .iter()
                .any(|(_, m)| m == "leader" || m == "standalone")
    }

    /// One line for status and plans.
    pub fn summary(&self) -> String {
        let unreachable: Vec<&str> = self
            .servers
            .iter()
            .filter(|(_, m)| m == "unreachable")
            .map(|(s, _)| s.as_str())
            .collect();
        let leader = self
            .servers
            .iter()
            .find(|(_, m)| m == "leader" || m == "standalone")
            .map(|(s, _)| s.as_str());
        let state = if !self.working() {
            "quorum LOST: Flink cannot elect a leader or recover jobs"
        } else if unreachable.is_empty() {
            "working"
        } else {
            "working, degraded"
        };
        format!(
            "ZooKeeper {state}: {}/{} servers answer{}{}",
            self.answering(),
            self.servers.len(),
            leader.map(|l| format!(", leader {l}")).unwrap_or_default(),
            if unreachable.is_empty() {
                String::new()
            } else {
                format!("; not answering: {}", unreachable.join(", "))
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// The probe asks `srvr` with bash alone and reads the mode and version from the answer;
    /// a server that does not answer is `unreachable`.
    #[test]
    fn the_probe_reads_mode_and_version_from_srvr() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut word = [0u8; 4];
            s.read_exact(&mut word).unwrap();
            assert_eq!(&word, b"srvr");
            s.write_all(b"Zookeeper version: 3.4.10-39d3a4f269333c922ed3db283be479f9deacaa0f, built on 03/23/2017 10:13 GMT\nLatency min/avg/max: 0/0/0\nMode: follower\nNode count: 4\n").unwrap();
        });
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let quorum = vec![
            ("127.0.0.1".to_string(), port),
            ("127.0.0.1".to_string(), closed_port),
        ];
        let out = std::process::Command::new("bash")
            .args(["-c", &probe(&quorum)])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(text, "zk.0=follower\nzkv.0=3.4.10\nzk.1=unreachable\n");
        let (modes, versions) = answers(&text);
        assert_eq!(
            (
                modes.get(&1).map(String::as_str),
                versions.get(&0).map(String::as_str)
            ),
            (Some("unreachable"), Some("3.4.10"))
        );
    }
}

/// Proves a `file://` storage directory is one place for every JobManager host: a marker
/// written from the first is read back on each of the others (a directory local to each host
/// would hold a leader's job metadata where no standby finds it).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SharedStorage {
    /// As the inventory gives it, for messages.
    pub storage_dir: String,
    /// The directory on the hosts.
    pub path: String,
    pub writer: crate::fleet::HostId,
    pub readers: Vec<crate::fleet::HostId>,
}

impl SharedStorage {
    fn readers_text(&self) -> String {
        self.readers
            .iter()
            .map(|r| r.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl std::fmt::Display for SharedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ha.storage_dir {} is one directory for every JobManager: a marker written on {} is read on {}",
            self.storage_dir,
            self.writer,
            self.readers_text()
        )
    }
}

/// Runs [`SharedStorage`]: the marker is removed again whatever the readers saw.
pub async fn shared_storage(
    c: &SharedStorage,
    fleet: &crate::fleet::Fleet,
    rep: &dyn crate::report::Reporter,
) -> crate::error::Result<()> {
    use crate::remote::q;
    let token = format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
            ^ u128::from(std::process::id())
    );
    let marker = format!("{}/.flinkup-shared-{token}", c.path.trim_end_matches('/'));
    let writer = fleet.get(&c.writer)?;
    let out = writer
        .sh(
            c.writer.as_str(),
            &format!(
                "mkdir -p {dir} && printf %s {token} > {m}",
                dir = q(&c.path),
                m = q(&marker),
                token = q(&token)
            ),
        )
        .await?;
    if !out.ok() {
        return Err(crate::error::Error::remote(
            c.writer.as_str(),
            format!(
                "cannot write in ha.storage_dir {} ({}): {}",
                c.storage_dir,
                c.path,
                out.stderr.trim()
            ),
        ));
    }
    let mut blind = Vec::new();
    for r in &c.readers {
        let seen = match fleet.get(r) {
            Ok(remote) => remote
                .sh(r.as_str(), &format!("cat {} 2>/dev/null", q(&marker)))
                .await
                .map(|o| o.stdout == token)
                .unwrap_or(false),
            Err(_) => false,
        };
        if !seen {
            blind.push(r.to_string());
        }
    }
    let _ = writer
        .sh(c.writer.as_str(), &format!("rm -f {}", q(&marker)))
        .await;
    if !blind.is_empty() {
        return Err(crate::error::Error::Failed(format!(
            "ha.storage_dir {} is not shared: {} cannot see the marker {} wrote at {marker}; every JobManager must reach the same directory (an NFS mount at the same path on each, say, or hdfs:// / s3://) or a standby finds no job metadata when it takes over",
            c.storage_dir,
            blind.join(", "),
            c.writer
        )));
    }
    rep.event(&crate::report::Event::Info {
        message: format!(
            "ha.storage_dir {}: the same directory on {} and {}",
            c.storage_dir,
            c.writer,
            c.readers_text()
        ),
    });
    Ok(())
}

/// The check of [`SharedStorage`] for a cluster of several JobManagers with `file://` storage.
pub fn shared_storage_check(c: &Cluster) -> Option<SharedStorage> {
    let ha = c.ha.as_ref()?;
    let path = ha.storage_dir.strip_prefix("file://")?;
    let mut jms = c.jobmanagers().map(crate::fleet::HostId::of);
    let writer = jms.next()?;
    let readers: Vec<_> = jms.collect();
    (!readers.is_empty()).then(|| SharedStorage {
        storage_dir: ha.storage_dir.clone(),
        path: path.to_string(),
        writer,
        readers,
    })
}
