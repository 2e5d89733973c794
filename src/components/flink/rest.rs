//! Flink's REST API: proves the cluster is up by polling until the expected TaskManagers and
//! slots have registered, from the operator's machine or, when the port is not reachable from
//! here, through the ssh session to the JobManager host; and explains a cluster that did not
//! come up with the missing TaskManagers' log tails.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fleet::{Fleet, HostId};
use crate::remote::{qp, Remote};
use crate::report::{Event, Reporter};

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Overview {
    pub taskmanagers: u64,
    #[serde(rename = "slots-total")]
    pub slots_total: u64,
    #[serde(rename = "slots-available", default)]
    pub slots_available: u64,
    #[serde(rename = "flink-version", default)]
    pub flink_version: String,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct TaskManager {
    pub id: String,
    #[serde(default)]
    pub path: String,
    #[serde(rename = "slotsNumber", default)]
    pub slots: u64,
    /// When the JobManager last heard from it (epoch ms on the JobManager's clock; Flink
    /// names the field `timeSinceLastHeartbeat`).
    #[serde(rename = "timeSinceLastHeartbeat", default)]
    pub last_heartbeat: u64,
    #[serde(rename = "dataPort", default)]
    pub data_port: u16,
}

impl TaskManager {
    /// Whether this TaskManager runs on the host known by one of `names` (its akka path
    /// names one of them).
    pub fn runs_on<S: AsRef<str>>(&self, names: &[S]) -> bool {
        runs_on(&self.path, names)
    }
}

#[derive(Debug, Deserialize)]
struct TaskManagers {
    taskmanagers: Vec<TaskManager>,
}

/// One way to the API: the client, its URL from here, the same API as the JobManager host
/// reaches it, and the TLS that host's own requests use.
struct Endpoint {
    client: reqwest::Client,
    base: String,
    inside: String,
    tls: Option<super::tls::RestTls>,
}

/// Reads the REST API directly or through the JobManager host's own curl/wget.
pub struct Rest<'a> {
    pub jm_name: &'a str,
    pub jm: &'a Remote,
    /// Tried in order: https first with `tls:`, then plain http (a cluster whose TLS is not
    /// on yet, or no longer, while a plan turns it on or off).
    ways: Vec<Endpoint>,
    /// Why the cluster's TLS material could not be used, told with a failure.
    tls_error: Option<String>,
}

impl Rest<'_> {
    pub fn new<'a>(host: &str, port: u16, jm_name: &'a str, jm: &'a Remote) -> Rest<'a> {
        Rest {
            jm_name,
            jm,
            ways: vec![Endpoint {
                client: reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap_or_default(),
                base: format!("http://{host}:{port}"),
                inside: format!("http://127.0.0.1:{port}"),
                tls: None,
            }],
            tls_error: None,
        }
    }

    /// The API over https with the cluster's CA (and client certificate), where `tls` is
    /// set; plain http stays the fallback while a plan turns TLS on or off.
    pub fn with_tls(mut self, tls: Option<&super::tls::RestTls>) -> Self {
        let Some(t) = tls else { return self };
        match t.client(Duration::from_secs(5)) {
            Ok(client) => {
                let plain = &self.ways[0];
                let https = |u: &str| u.replacen("http://", "https://", 1);
                let secure = Endpoint {
                    client,
                    base: https(&plain.base),
                    inside: https(&plain.inside),
                    tls: Some(t.clone()),
                };
                self.ways.insert(0, secure);
            }
            Err(e) => self.tls_error = Some(format!("TLS material unusable: {e}")),
        }
        self
    }

    /// An API at `url` that `via`'s host also reaches at `url` (an existing cluster, asked
    /// from a Fornaxee host).
    pub fn at<'a>(url: &str, via_name: &'a str, via: &'a Remote) -> Rest<'a> {
        let mut r = Rest::new("", 0, via_name, via);
        let url = url.trim_end_matches('/').to_string();
        r.ways[0].inside = url.clone();
        r.ways[0].base = url;
        r
    }

    async fn get(&self, path: &str) -> Result<String, String> {
        let mut first = None;
        for way in &self.ways {
            match self.get_from(way, path).await {
                Ok(body) => return Ok(body),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        let e = first.unwrap_or_default();
        Err(match &self.tls_error {
            Some(t) => format!("{e} ({t})"),
            None => e,
        })
    }

    async fn get_from(&self, way: &Endpoint, path: &str) -> Result<String, String> {
        let direct = match way.client.get(format!("{}{path}", way.base)).send().await {
            Ok(r) if r.status().is_success() => return r.text().await.map_err(|e| e.to_string()),
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => crate::error::chain(&e),
        };
        // Not reachable from here: ask the JobManager host itself.
        let url = format!("{}{path}", way.inside);
        let env = way.tls.as_ref().map(|t| t.shell_env()).unwrap_or_default();
        let asked = self.jm.http_get_with(self.jm_name, &url, &env).await;
        match asked {
            Ok(a) if a.ok() => Ok(a.body),
            Ok(a) if a.status == 0 => Err(format!(
                "{direct}; asked on {}: nothing answers at {url}",
                self.jm_name
            )),
            Ok(a) => Err(format!(
                "{direct}; asked on {}: HTTP {}",
                self.jm_name, a.status
            )),
            Err(e) => Err(format!("{direct}; asked on {}: {e}", self.jm_name)),
        }
    }

    /// Any GET of the API, as JSON.
    pub async fn json(&self, path: &str) -> Result<serde_json::Value, String> {
        let body = self.get(path).await?;
        serde_json::from_str(&body).map_err(|e| format!("unexpected {path} answer: {e}"))
    }

    pub async fn overview(&self) -> Result<Overview, String> {
        let body = self.get("/overview").await?;
        serde_json::from_str(&body).map_err(|e| format!("unexpected /overview answer: {e}"))
    }

    pub async fn taskmanagers(&self) -> Result<Vec<TaskManager>, String> {
        let body = self.get("/taskmanagers").await?;
        serde_json::from_str::<TaskManagers>(&body)
            .map(|t| t.taskmanagers)
            .map_err(|e| format!("unexpected /taskmanagers answer: {e}"))
    }
}

/// The value of `key` in the running JobManager's configuration, as
/// `GET /jobmanager/config` lists it (`[{"key":…,"value":…}]`); None when it does not set it.
pub fn config_value<'a>(config: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    config
        .as_array()?
        .iter()
        .find(|e| e["key"] == key)
        .and_then(|e| e["value"].as_str())
}

/// Polls until `tms` TaskManagers with `slots` slots in all have registered, or the timeout
/// passes. `stale` TaskManager ids do not count: registrations of processes that died, which
/// the JobManager keeps listing until their heartbeat times out.
pub async fn wait_for(
    rest: &Rest<'_>,
    tms: u64,
    slots: u64,
    timeout: Duration,
    stale: &[String],
) -> Result<Overview, String> {
    let start = Instant::now();
    loop {
        let counted = if stale.is_empty() {
            rest.overview().await
        } else {
            rest.taskmanagers().await.map(|all| {
                let fresh: Vec<&TaskManager> =
                    all.iter().filter(|t| !stale.contains(&t.id)).collect();
                Overview {
                    taskmanagers: fresh.len() as u64,
                    slots_total: fresh.iter().map(|t| t.slots).sum(),
                    slots_available: 0,
                    flink_version: String::new(),
                }
            })
        };
        let last = match counted {
            Ok(o) if o.taskmanagers == tms && o.slots_total == slots => return Ok(o),
            Ok(o) => {
                format!(
                    "{} TaskManagers and {} slots registered, expected {tms} and {slots}",
                    o.taskmanagers, o.slots_total
                )
            }
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            return Err(last);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether an akka path names the host by one of `names` (its name, its address, the
/// addresses it has: a TaskManager registers with the address it reaches the JobManager from).
pub fn runs_on<S: AsRef<str>>(path: &str, names: &[S]) -> bool {
    names
        .iter()
        .any(|n| path.contains(&format!("@{}:", n.as_ref())))
}

pub fn not_verified(url: &str, timeout: Duration, why: &str, details: &str) -> Error {
    Error::Failed(format!(
        "the cluster did not come up: {url} within {}s: {why}{details}",
        timeout.as_secs()
    ))
}

/// A TaskManager host, for finding its registration and its logs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TmHost {
    pub host: HostId,
    pub name: String,
    pub address: String,
    /// The host's own addresses, from facts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    /// The release's log directory on that host.
    pub log_dir: String,
}

impl TmHost {
    pub fn names(&self) -> Vec<&str> {
        let mut v = vec![self.name.as_str(), self.address.as_str()];
        v.extend(self.ips.iter().map(String::as_str));
        v
    }
}

/// The check that ends a deploy or start: the JobManager's REST API lists exactly the
/// expected TaskManagers and slots. Run on the JobManager host's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterCheck {
    /// Flink's name for the JobManager host, as the REST URL names it.
    pub jobmanager: String,
    pub rest_port: u16,
    pub taskmanagers: usize,
    pub slots: u64,
    pub timeout_secs: u64,
    /// Registrations that must not count: TaskManagers that died and were started again,
    /// which the JobManager lists until their heartbeat times out (from facts).
    pub ignore: Vec<String>,
    pub tm_hosts: Vec<TmHost>,
    /// With several JobManagers: where to read which one leads, named once verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leadership: Option<Leadership>,
    /// The API over https (`tls:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::tls::RestTls>,
}

/// The JobManagers of a cluster and where their pid files and logs are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Leadership {
    pub jobmanagers: Vec<HostId>,
    pub pid_dir: String,
    pub log_dir: String,
}

impl ClusterCheck {
    pub fn url(&self) -> String {
        format!(
            "{}://{}:{}/overview",
            if self.tls.is_some() { "https" } else { "http" },
            self.jobmanager,
            self.rest_port
        )
    }
}

impl std::fmt::Display for ClusterCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}, {} within {}s",
            self.url(),
            crate::report::plural(self.taskmanagers as u64, "TaskManager"),
            crate::report::plural(self.slots, "slot"),
            self.timeout_secs
        )?;
        if !self.ignore.is_empty() {
            write!(
                f,
                " (not counting {} stale registration{})",
                self.ignore.len(),
                if self.ignore.len() == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// Runs the check; on failure the error names the missing TaskManagers with their log tails.
pub async fn check(
    c: &ClusterCheck,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    let jm = fleet.get(host)?;
    let rest = Rest::new(&c.jobmanager, c.rest_port, host.as_str(), jm).with_tls(c.tls.as_ref());
    let timeout = Duration::from_secs(c.timeout_secs);
    let url = c.url();
    match wait_for(&rest, c.taskmanagers as u64, c.slots, timeout, &c.ignore).await {
        Ok(o) => {
            rep.event(&Event::Info {
                message: format!(
                    "verified {url}: {}, {}{}",
                    crate::report::plural(o.taskmanagers, "TaskManager"),
                    crate::report::plural(o.slots_total, "slot"),
                    if o.flink_version.is_empty() {
                        String::new()
                    } else {
                        format!(" (Flink {})", o.flink_version)
                    }
                ),
            });
            if let Some(l) = &c.leadership {
                rep.event(&Event::Info {
                    message: leadership(l, fleet).await,
                });
            }
            Ok(())
        }
        Err(why) => {
            let details = diagnose(c, fleet, &rest).await;
            Err(not_verified(&url, timeout, &why, &details))
        }
    }
}

/// Which JobManager leads and which stand by, from their logs.
async fn leadership(l: &Leadership, fleet: &Fleet) -> String {
    let script = crate::components::flink::ha::leader_probe(&l.pid_dir, &l.log_dir);
    let answers = fleet
        .for_each(&l.jobmanagers, |id, remote| {
            let script = &script;
            async move { remote.sh(id.as_str(), script).await }
        })
        .await;
    let (mut leads, mut stands) = (Vec::new(), Vec::new());
    for (id, out) in answers {
        match out.map(|o| o.stdout.trim().to_string()).as_deref() {
            Ok("leads=granted") => leads.push(id.to_string()),
            _ => stands.push(id.to_string()),
        }
    }
    match leads.as_slice() {
        [one] => format!("JobManager {one} leads; standing by: {}", stands.join(", ")),
        [] => "no JobManager has logged its leadership yet".into(),
        many => format!("JobManagers {} each logged leadership", many.join(", ")),
    }
}

/// After a failed verification: which TaskManager hosts are missing, and their log tails.
pub async fn diagnose(c: &ClusterCheck, fleet: &Fleet, rest: &Rest<'_>) -> String {
    let registered = rest.taskmanagers().await.unwrap_or_default();
    let missing: Vec<&TmHost> = c
        .tm_hosts
        .iter()
        .filter(|t| {
            !registered
                .iter()
                .any(|r| !c.ignore.contains(&r.id) && r.runs_on(&t.names()))
        })
        .collect();
    let ids: Vec<HostId> = missing.iter().map(|t| t.host.clone()).collect();
    let tails = fleet
        .for_each(&ids, |id, remote| {
            let dir = missing
                .iter()
                .find(|t| t.host == id)
                .map(|t| t.log_dir.clone())
                .unwrap_or_default();
            async move {
                let script = format!(
                    "for f in {l}/flink-*-taskexecutor-*.log {l}/flink-*-taskexecutor-*.out {l}/flinkup-start*.log; do [ -s \"$f\" ] && {{ echo \"--- $f\"; tail -n 15 \"$f\"; }}; done; exit 0",
                    l = qp(&dir)
                );
                remote.sh(id.as_str(), &script).await
            }
        })
        .await;
    let mut out = String::new();
    for (id, r) in tails {
        out.push_str(&format!("\n  TaskManager on {id} is missing"));
        match r {
            Ok(o) if !o.stdout.trim().is_empty() => {
                for line in o.stdout.lines() {
                    out.push_str("\n    ");
                    out.push_str(line);
                }
            }
            Ok(_) => out.push_str(" (no Flink log on the host)"),
            Err(e) => out.push_str(&format!(" (cannot read its logs: {e})")),
        }
    }
    if !registered.is_empty() {
        out.push_str(&format!(
            "\n  registered: {}",
            registered
                .iter()
                .map(|t| t.path.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

/// After a TaskManager's restart: a TaskManager on its host registered again, one that is
/// not among the ids it had before. Asked through the JobManager host's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskManagerBack {
    pub jobmanager_host: HostId,
    pub jobmanager: String,
    pub rest_port: u16,
    pub name: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<String>,
    pub old: Vec<String>,
    pub timeout_secs: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::tls::RestTls>,
}

impl std::fmt::Display for TaskManagerBack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a new TaskManager on {} registers within {}s",
            self.name, self.timeout_secs
        )
    }
}

pub async fn taskmanager_back(
    c: &TaskManagerBack,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    let jm = fleet.get(&c.jobmanager_host)?;
    let rest = Rest::new(&c.jobmanager, c.rest_port, c.jobmanager_host.as_str(), jm)
        .with_tls(c.tls.as_ref());
    let start = Instant::now();
    loop {
        if let Ok(all) = rest.taskmanagers().await {
            if let Some(t) = all.iter().find(|t| {
                let mut names = vec![c.name.as_str(), c.address.as_str()];
                names.extend(c.ips.iter().map(String::as_str));
                t.runs_on(&names) && !c.old.contains(&t.id)
            }) {
                rep.event(&Event::Info {
                    message: format!("{}: TaskManager {} registered", c.name, t.id),
                });
                return Ok(());
            }
        }
        if start.elapsed() >= Duration::from_secs(c.timeout_secs) {
            return Err(Error::remote(
                &c.name,
                format!(
                    "the restarted TaskManager did not register within {}s; see its log under the release's log/",
                    c.timeout_secs
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
