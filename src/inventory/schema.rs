//! The inventory file as written: serde types that mirror the YAML, before defaults and checks.
//!
//! Every struct denies unknown fields so a typo is an error at its line, never silently ignored.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInventory {
    pub cluster: String,
    #[serde(default)]
    pub flink: RawFlink,
    #[serde(default)]
    pub ssh: RawSsh,
    pub connection: Option<Connection>,
    pub jobmanager: Option<RawHost>,
    /// Several JobManagers (`ha:` elects one leader among them); instead of `jobmanager`.
    #[serde(default)]
    pub jobmanagers: Vec<RawHost>,
    #[serde(default)]
    pub taskmanagers: Vec<RawHost>,
    #[serde(default)]
    pub config: BTreeMap<String, Scalar>,
    #[serde(default)]
    pub verify: RawVerify,
    pub templates_dir: Option<String>,
    pub fornaxee: Option<RawFornaxee>,
    pub distribution: Option<Distribution>,
    pub relay_fanout: Option<i64>,
    pub ha: Option<RawHa>,
    pub java: Option<RawJava>,
    pub supervisor: Option<Supervisor>,
    pub tls: Option<RawTls>,
}

/// The `tls:` section: TLS inside the cluster and on its REST API.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    pub enabled: Option<bool>,
    /// REST also requires a client certificate signed by the cluster's CA.
    pub rest_client_auth: Option<bool>,
    /// Cipher suites instead of flinkup's choice.
    pub cipher_suites: Option<Vec<String>>,
    /// How long the certificates flinkup issues are valid (`825d`).
    pub validity: Option<String>,
}

/// What keeps a host's daemons running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Supervisor {
    /// A systemd unit per daemon: restarted when it dies, started again at boot.
    Systemd,
    /// Flink's own scripts (`nohup`): what the deployment guide does.
    Scripts,
    /// systemd where the host runs it as PID 1 and flinkup logs in as root; else the scripts.
    Auto,
}

/// The `java:` section: a Java runtime flinkup installs where a host's own does not fit.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawJava {
    pub artifact: Option<RawArtifact>,
    pub home_dir: Option<String>,
    pub install: Option<JavaInstall>,
}

/// Where the `java:` runtime goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum JavaInstall {
    /// Hosts whose Java is missing or outside the Flink release's range.
    Missing,
    /// Every host.
    Always,
}

/// The `ha:` section: ZooKeeper high availability.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHa {
    pub storage_dir: Option<String>,
    /// Hosts that run flinkup's own ZooKeeper quorum (Flink's quorum peer).
    #[serde(default)]
    pub zookeeper: Vec<RawHost>,
    /// Or the site's ensemble, `host:port,…`.
    pub zookeeper_quorum: Option<String>,
}

/// The `fornaxee:` section: the Fornaxee bundle, where it runs, and its settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFornaxee {
    pub artifact: Option<RawArtifact>,
    #[serde(default)]
    pub hosts: Vec<RawHost>,
    pub install_dir: Option<String>,
    pub heap: Option<Scalar>,
    #[serde(default)]
    pub properties: BTreeMap<String, Scalar>,
    pub data_dir: Option<String>,
    pub log_dir: Option<String>,
    pub flink: Option<RawExternalFlink>,
}

/// `fornaxee.flink:` a Flink cluster the customer runs, which flinkup does not manage.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExternalFlink {
    pub rest: Option<String>,
    #[serde(default)]
    pub hosts: Vec<RawHost>,
    pub home: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFlink {
    pub version: Option<Scalar>,
    pub scala: Option<Scalar>,
    pub artifact: Option<RawArtifact>,
    pub install_dir: Option<String>,
    pub java_home: Option<String>,
    pub start: Option<StartMode>,
    pub keep_releases: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawArtifact {
    pub url: Option<String>,
    #[serde(default)]
    pub mirrors: Vec<String>,
    pub sha512: Option<String>,
    pub sha256: Option<String>,
    pub checksum_url: Option<String>,
    pub path: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSsh {
    pub user: Option<String>,
    pub port: Option<i64>,
    pub identity_file: Option<String>,
    pub known_hosts: Option<KnownHosts>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVerify {
    pub timeout: Option<Scalar>,
    pub smoke: Option<RawSmoke>,
}

/// `verify.smoke`: `true`/`false`, or a map.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RawSmoke {
    Flag(bool),
    Map(RawSmokeMap),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSmokeMap {
    pub when: Option<SmokeWhen>,
    pub jar: Option<String>,
    #[serde(default)]
    pub args: Vec<String>,
    pub timeout: Option<Scalar>,
}

/// When deploy runs the smoke job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmokeWhen {
    /// After every deploy.
    Always,
    /// After a deploy that started or restarted Flink daemons (the default).
    OnStart,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KnownHosts {
    Strict,
    AcceptNew,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Connection {
    Ssh,
    Local,
}

/// How artifacts reach the hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Distribution {
    /// The operator sends each artifact once; hosts forward it to each other over ssh.
    Relay,
    /// The operator sends each artifact to every host.
    Fanout,
    /// Each host downloads the Flink archive itself from its URLs (a site mirror) and checks
    /// its sha512: nothing crosses the operator's link.
    Direct,
    /// Decided per run from facts: hosts that reach the URLs download; otherwise the relay
    /// when at least three hosts need an archive (or a host already holds it), else uploads.
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartMode {
    ClusterScript,
    Direct,
}

/// A host entry: a bare name or address, or a map with per-host overrides.
#[derive(Debug, Clone, PartialEq)]
pub enum RawHost {
    Name(String),
    Full(RawHostMap),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHostMap {
    pub host: String,
    pub address: Option<String>,
    pub ssh: Option<RawSsh>,
    pub connection: Option<Connection>,
    pub java_home: Option<String>,
    pub supervisor: Option<Supervisor>,
}

impl RawHost {
    pub fn name(&self) -> &str {
        match self {
            RawHost::Name(n) => n,
            RawHost::Full(m) => &m.host,
        }
    }
}

impl<'de> Deserialize<'de> for RawHost {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HostVisitor;
        impl<'de> Visitor<'de> for HostVisitor {
            type Value = RawHost;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a host name or address, or a map with `host`, `address`, `ssh`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawHost, E> {
                Ok(RawHost::Name(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawHost, A::Error> {
                RawHostMap::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawHost::Full)
            }
        }
        d.deserialize_any(HostVisitor)
    }
}

/// One scalar value from the YAML file, kept with its kind so `1.10` can be told from `"1.10"`.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

impl Scalar {
    /// The value as it will appear in flink-conf.yaml.
    pub fn render(&self) -> String {
        match self {
            Scalar::Bool(b) => b.to_string(),
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(x) => x.to_string(),
            Scalar::Str(s) => s.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl Visitor<'_> for ScalarVisitor {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a single value (string, number or boolean)")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                i64::try_from(v)
                    .map(Scalar::Int)
                    .or_else(|_| Ok(Scalar::Str(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Str(v.to_string()))
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}
