//! The inventory: the typed cluster model every later stage works from, and how it is loaded.
//!
//! `load` reads a file, `validate` resolves defaults and checks every rule; the result is a
//! [`Cluster`] in which nothing is optional any more, or a list of diagnostics.

pub(crate) mod load;
pub mod schema;
pub mod units;
pub(crate) mod validate;

pub use validate::{DEFAULT_REST_PORT, DEFAULT_RPC_PORT, GUIDE_KEYS, TESTED};

/// Whether flink-conf.yaml lists this key in the guide's block at the top.
pub fn is_guide_key(key: &str) -> bool {
    GUIDE_KEYS.iter().any(|(k, _)| *k == key)
}

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use crate::diagnostic::{Diagnostic, Pos, Severity};
pub use schema::{
    Connection, Distribution, JavaInstall, KnownHosts, SmokeWhen, StartMode, Supervisor,
};

use crate::error::{Error, Result};

/// A Flink release number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl std::str::FromStr for Version {
    type Err = ();

    /// `major.minor.patch`, each a number.
    fn from_str(s: &str) -> std::result::Result<Version, ()> {
        let mut parts = s.split('.').map(|p| p.parse::<u32>().ok());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Some(major)), Some(Some(minor)), Some(Some(patch)), None) => Ok(Version {
                major,
                minor,
                patch,
            }),
            _ => Err(()),
        }
    }
}

impl Version {
    /// Flink renamed `conf/slaves` to `conf/workers` in 1.11.
    /// The configuration file the release reads: `conf/config.yaml` (standard YAML) from 1.19,
    /// `conf/flink-conf.yaml` before.
    pub fn config_file(&self) -> &'static str {
        if (self.major, self.minor) >= (1, 19) {
            "config.yaml"
        } else {
            "flink-conf.yaml"
        }
    }

    /// The jar every release's lib/ holds: `flink-dist_<scala>-<v>.jar`, Scala-free
    /// (`flink-dist-<v>.jar`) from 1.15.
    pub fn dist_jar(&self, scala: &str) -> String {
        if (self.major, self.minor) >= (1, 15) {
            format!("flink-dist-{self}.jar")
        } else {
            format!("flink-dist_{scala}-{self}.jar")
        }
    }

    pub fn workers_file(&self) -> &'static str {
        if (self.major, self.minor) >= (1, 11) {
            "workers"
        } else {
            "slaves"
        }
    }

    /// Flink 1.9's `bin/flink` starts the client with `JVM_ARGS` only, not `env.java.opts`
    /// (1.10 added `env.java.opts.client` and passes both).
    pub fn client_ignores_java_opts(&self) -> bool {
        (self.major, self.minor) < (1, 10)
    }

    /// Flink's NetUtils reaches into JDK internals that Java 16+ closes (IllegalAccessError,
    /// seen on 1.9.3, 1.10.3 and 1.15.4): releases whose shipped configuration carries no
    /// module options of its own (all before 1.18, from the catalogue) need flinkup's.
    pub fn needs_jdk_opens(&self) -> bool {
        !crate::components::flink::catalogue::release(*self).is_some_and(|r| r.ships_module_options)
    }
}

/// How a host is reached and what runs on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Host {
    /// The name Flink uses for the host (slaves file, jobmanager.rpc.address).
    pub name: String,
    /// Where ssh connects; defaults to `name`.
    pub address: String,
    /// None: whatever ssh's own configuration says.
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity_file: Option<String>,
    pub known_hosts: KnownHosts,
    pub connection: Connection,
    pub java_home: Option<String>,
    pub jobmanager: bool,
    pub taskmanager: bool,
    /// Runs the Fornaxee service (and so needs a Flink client when it runs no Flink daemon).
    pub fornaxee: bool,
    /// Runs a peer of flinkup's own ZooKeeper quorum (`ha.zookeeper`).
    pub zookeeper: bool,
    /// What keeps its daemons running (the host's own setting, else the inventory's).
    pub supervisor: Supervisor,
}

impl Host {
    pub fn roles(&self) -> String {
        let mut r: Vec<&str> = Vec::new();
        if self.jobmanager {
            r.push("jobmanager");
        }
        if self.taskmanager {
            r.push("taskmanager");
        }
        if self.fornaxee {
            if r.is_empty() {
                r.push("flink client");
            }
            r.push("fornaxee");
        }
        if self.zookeeper {
            r.push("zookeeper");
        }
        r.join(", ")
    }
}

/// The smoke job that proves the cluster runs jobs (`verify.smoke`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Smoke {
    pub when: SmokeWhen,
    /// A jar on the operator's machine; None: the distribution's WordCount example.
    pub jar: Option<PathBuf>,
    pub args: Vec<String>,
    #[serde(with = "humantime_serde_secs")]
    pub timeout: Duration,
}

/// The validated `fornaxee:` section.
#[derive(Debug, Clone, Serialize)]
pub struct Fornaxee {
    pub artifact: Artifact,
    /// From the bundle's file name, `fornaxee-<version>.tgz`.
    pub version: String,
    /// Names (into `Cluster::hosts`) of the hosts that run it, in inventory order.
    pub hosts: Vec<String>,
    pub install_dir: String,
    /// Becomes -Xmx in FORNAXEE_JAVA_OPTS.
    pub heap: u64,
    /// Written over the bundle's etc/fornaxee.properties.
    pub properties: BTreeMap<String, String>,
    /// Kept outside the release, across upgrades.
    pub data_dir: String,
    pub log_dir: String,
    /// An existing Flink cluster Fornaxee connects to; None: the cluster this inventory deploys.
    pub flink: Option<ExternalFlink>,
}

/// A Flink cluster the customer runs: flinkup reads it and never starts or stops it.
#[derive(Debug, Clone, Serialize)]
pub struct ExternalFlink {
    /// Its REST address, `http://host:port`, without a trailing slash.
    pub rest: String,
    /// Its REST host and port, parsed from `rest`.
    pub host: String,
    pub port: u16,
    /// Hosts flinkup may ssh to, to place connector jars in `home/lib`.
    pub hosts: Vec<Host>,
    pub home: String,
}

impl Fornaxee {
    pub fn release_dir(&self) -> String {
        format!("{}/fornaxee-{}", self.install_dir, self.version)
    }

    pub fn current_link(&self) -> String {
        format!("{}/fornaxee", self.install_dir)
    }

    pub fn state_dir(&self) -> String {
        format!("{}/.flinkup", self.install_dir)
    }

    pub fn pid_file(&self) -> String {
        format!("{}/fornaxee.pid", self.data_dir)
    }

    pub fn log_file(&self) -> String {
        format!("{}/fornaxee.log", self.log_dir)
    }
}

/// Which checksum proves the artifact is the right file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checksum {
    /// Written in the inventory: the strongest source; wins over any sidecar.
    pub pinned: Option<Pinned>,
    /// A `sha512sum`-format file (URL or local path). With a pin, it must agree with it.
    pub sidecar: Option<String>,
    /// `--insecure-no-checksum`: a local file with no checksum anywhere is used anyway.
    pub insecure: bool,
}

impl Checksum {
    /// The pinned sha512, the hash hosts verify, when the inventory pins one.
    pub fn pinned_sha512(&self) -> Option<String> {
        self.pinned
            .as_ref()
            .filter(|p| p.algorithm == HashAlgo::Sha512)
            .map(|p| p.hex.clone())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pinned {
    pub algorithm: HashAlgo,
    pub hex: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgo {
    Sha256,
    Sha512,
}

impl fmt::Display for HashAlgo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HashAlgo::Sha256 => "sha256",
            HashAlgo::Sha512 => "sha512",
        })
    }
}

/// Where the Flink tarball comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Artifact {
    /// Where the inventory sets it (`flink.artifact`), for messages.
    pub key: String,
    pub file_name: String,
    /// URLs in the order they are tried (primary first, then mirrors). Empty for `path:`.
    pub urls: Vec<String>,
    /// A local file on the operator's machine (air-gapped sites).
    pub path: Option<PathBuf>,
    pub checksum: Checksum,
}

/// The validated cluster: every default resolved, every rule checked.
#[derive(Debug, Clone, Serialize)]
pub struct Cluster {
    pub name: String,
    pub source: PathBuf,
    pub version: Version,
    pub scala: String,
    pub artifact: Artifact,
    /// Where releases are unpacked; may start with `~/` (the remote user's home).
    pub install_dir: String,
    pub start: StartMode,
    /// Releases kept on each host after an upgrade (the running one included).
    pub keep_releases: usize,
    /// Hosts without repetition: the JobManagers first, then TaskManagers in inventory order.
    pub hosts: Vec<Host>,
    /// Indexes into `hosts` of the TaskManagers, in inventory order (the slaves file's order).
    pub tm_order: Vec<usize>,
    pub rpc_port: u16,
    pub rest_port: u16,
    pub slots: u32,
    pub taskmanager_heap: u64,
    pub jobmanager_heap: u64,
    /// The user's flink-conf.yaml keys, rendered as text (jobmanager.rpc.address excluded).
    pub config: BTreeMap<String, String>,
    #[serde(with = "humantime_serde_secs")]
    pub verify_timeout: Duration,
    pub smoke: Smoke,
    pub templates_dir: Option<PathBuf>,
    pub fornaxee: Option<Fornaxee>,
    /// ZooKeeper high availability (`ha:`).
    pub ha: Option<crate::components::flink::ha::Ha>,
    /// How release archives reach the hosts; `auto` (the default) decides per run.
    pub distribution: Distribution,
    /// How many hosts one relaying host sends to.
    pub relay_fanout: usize,
    /// The Java runtime flinkup installs where a host's own does not fit (`java:`).
    pub java: Option<crate::components::java::Runtime>,
    /// TLS inside the cluster and on REST (`tls:` with `enabled: true`).
    pub tls: Option<crate::components::flink::tls::Tls>,
}

mod humantime_serde_secs {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }
}

impl Cluster {
    /// The coordinating host, first in `hosts`: the JobManager host or, when Fornaxee connects
    /// to an existing cluster and no Flink is deployed, the first Fornaxee host. The deploy
    /// lock lives there. validate() guarantees it exists.
    pub fn jobmanager(&self) -> &Host {
        &self.hosts[0]
    }

    /// The existing Flink cluster Fornaxee connects to, when the inventory names one.
    pub fn external(&self) -> Option<&ExternalFlink> {
        self.fornaxee.as_ref().and_then(|f| f.flink.as_ref())
    }

    /// Whether `distribution: auto` may relay: where host-to-host ssh is already part of the
    /// setup (cluster-script start of a cluster flinkup runs).
    pub fn relay_allowed(&self) -> bool {
        self.start == StartMode::ClusterScript && self.manages_flink()
    }

    /// Whether this inventory deploys and runs a Flink cluster (not only clients).
    /// The cluster's TLS material, once the command loaded it (`tls:`).
    pub fn tls_material(&self) -> Option<&crate::components::flink::tls::Material> {
        self.tls.as_ref().and_then(|t| t.material.as_ref())
    }

    pub fn manages_flink(&self) -> bool {
        self.external().is_none()
    }

    /// The JobManager's address as Flink's configuration names it.
    pub fn rpc_address(&self) -> &str {
        match self.external() {
            Some(e) => &e.host,
            None => &self.jobmanager().name,
        }
    }

    /// Every host that runs a JobManager.
    pub fn jobmanagers(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.jobmanager)
    }

    /// Several JobManagers (one leads, the others stand by, with `ha:`).
    pub fn several_jobmanagers(&self) -> bool {
        self.jobmanagers().nth(1).is_some()
    }

    pub fn taskmanagers(&self) -> impl Iterator<Item = &Host> {
        self.tm_order.iter().map(|&i| &self.hosts[i])
    }

    /// Hosts that run Fornaxee, in its section's order.
    pub fn fornaxee_hosts(&self) -> impl Iterator<Item = &Host> {
        self.hosts.iter().filter(|h| h.fornaxee)
    }

    pub fn taskmanager_count(&self) -> usize {
        self.taskmanagers().count()
    }

    pub fn total_slots(&self) -> u64 {
        self.taskmanager_count() as u64 * u64::from(self.slots)
    }

    /// "1 JobManager, 2 TaskManagers × 4 slots = 8 slots"
    pub fn topology(&self) -> String {
        if let Some(e) = self.external() {
            return format!("an existing cluster at {} (not managed by flinkup)", e.rest);
        }
        let plural = |n: u64, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
        format!(
            "{}, {} × {} = {}",
            plural(self.jobmanagers().count() as u64, "JobManager"),
            plural(self.taskmanager_count() as u64, "TaskManager"),
            plural(u64::from(self.slots), "slot"),
            plural(self.total_slots(), "slot")
        )
    }

    /// `<install_dir>/flink-<version>`: one directory per release.
    pub fn release_dir(&self) -> String {
        format!("{}/flink-{}", self.install_dir, self.version)
    }

    /// `<install_dir>/flink`: the symlink that names the current release.
    pub fn current_link(&self) -> String {
        format!("{}/flink", self.install_dir)
    }

    /// Where uploaded tarballs and the deploy lock live on each host.
    pub fn state_dir(&self) -> String {
        format!("{}/.flinkup", self.install_dir)
    }
}

impl crate::diagnostic::HostId {
    /// The id of an inventory host: its Flink name, unique within an inventory.
    pub fn of(host: &Host) -> crate::diagnostic::HostId {
        crate::diagnostic::HostId(host.name.clone())
    }
}

/// The nearest candidate to a mistyped name, if one is close enough to be a likely typo.
pub fn suggest<'a>(bad: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = bad.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 4).clamp(1, 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// A loaded inventory plus the warnings found on the way.
#[derive(Debug)]
pub struct Loaded {
    pub cluster: Cluster,
    pub warnings: Vec<Diagnostic>,
}

/// Options from the command line that change what is acceptable.
#[derive(Debug, Default, Clone, Copy)]
pub struct LoadOptions {
    pub insecure_no_checksum: bool,
    /// Warnings are errors (`--deny-warnings`).
    pub deny_warnings: bool,
}

/// Reads and validates an inventory file.
pub fn load(path: &Path, opts: LoadOptions) -> Result<Loaded> {
    if path == Path::new("-") {
        use std::io::Read;
        let mut bytes = Vec::new();
        std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
            Error::Usage(format!(
                "cannot read the inventory from standard input: {}",
                plain_io(&e)
            ))
        })?;
        // Relative paths in it are taken from the current directory.
        return load_bytes(Path::new("<stdin>"), &bytes, opts);
    }
    if path.is_dir() {
        return Err(Error::Usage(format!(
            "the inventory {} is a directory: give the YAML file inside it, e.g. -i {}/inventory.yaml",
            path.display(),
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read the inventory {}: {}",
            path.display(),
            plain_io(&e)
        ))
    })?;
    load_bytes(path, &bytes, opts)
}

/// An I/O error in words, without the "os error N" tail.
pub fn plain_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "it is a directory".into(),
        std::io::ErrorKind::NotADirectory => "a part of the path is not a directory".into(),
        _ => {
            let t = e.to_string();
            match t.find(" (os error") {
                Some(i) => t[..i].to_string(),
                None => t,
            }
        }
    }
}

/// Validates inventory bytes: anything that is not UTF-8 text is invalid input, like bad YAML.
pub fn load_bytes(path: &Path, bytes: &[u8], opts: LoadOptions) -> Result<Loaded> {
    match std::str::from_utf8(bytes) {
        Ok(text) => load_str(path, text, opts),
        Err(e) => {
            let line = bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count()
                + 1;
            Err(Error::Inventory(vec![Diagnostic::error(format!(
                "the inventory is not UTF-8 text (invalid byte at offset {}, line {line})",
                e.valid_up_to()
            ))
            .in_file(&path.display().to_string())
            .help("save the file as UTF-8")]))
        }
    }
}

/// Validates inventory text; `path` names it in messages and anchors relative paths.
pub fn load_str(path: &Path, text: &str, opts: LoadOptions) -> Result<Loaded> {
    let file = path.display().to_string();
    let (raw, spans, structural) =
        load::parse(&file, text).map_err(|d| Error::Inventory(vec![*d]))?;
    let Some(raw) = raw else {
        return Err(Error::Inventory(structural));
    };
    let ctx = validate::Ctx {
        file: &file,
        text,
        spans: &spans,
        base: path.parent().unwrap_or(Path::new(".")),
        opts,
    };
    let (cluster, value_diags) = validate::validate(&ctx, raw);
    let mut diags = structural.clone();
    diags.extend(value_diags);
    let diags: Vec<Diagnostic> = if opts.deny_warnings {
        diags
            .into_iter()
            .map(|d| Diagnostic {
                severity: Severity::Error,
                ..d
            })
            .collect()
    } else {
        diags
    };
    match cluster {
        Some(cluster) if !diags.iter().any(Diagnostic::is_error) && structural.is_empty() => {
            Ok(Loaded {
                cluster: Cluster {
                    source: path.to_path_buf(),
                    ..cluster
                },
                warnings: diags,
            })
        }
        _ => Err(Error::Inventory(diags)),
    }
}
