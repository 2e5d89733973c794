//! Proves the cluster is up: polls Flink's REST API until the expected TaskManagers and slots
//! have registered, from the operator's machine or, when the port is not reachable from
//! here, through the ssh session to the JobManager host.

use std::time::{Duration, Instant};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::remote::{q, Remote};

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
}

impl TaskManager {
    /// Whether this TaskManager runs on `host`: its akka path names the host or its address.
    pub fn runs_on(&self, host: &crate::inventory::Host) -> bool {
        [&host.name, &host.address]
            .iter()
            .any(|n| self.path.contains(&format!("@{n}:")))
    }
}

#[derive(Debug, Deserialize)]
struct TaskManagers {
    taskmanagers: Vec<TaskManager>,
}

/// Reads the REST API directly or through the JobManager host's own curl/wget.
pub struct Rest<'a> {
    pub base: String,
    pub port: u16,
    pub jm_name: &'a str,
    pub jm: &'a Remote,
    pub client: reqwest::Client,
}

impl Rest<'_> {
    pub fn new<'a>(host: &str, port: u16, jm_name: &'a str, jm: &'a Remote) -> Rest<'a> {
        Rest {
            base: format!("http://{host}:{port}"),
            port,
            jm_name,
            jm,
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn get(&self, path: &str) -> Result<String, String> {
        let direct = match self.client.get(format!("{}{path}", self.base)).send().await {
            Ok(r) if r.status().is_success() => return r.text().await.map_err(|e| e.to_string()),
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.to_string(),
        };
        // Not reachable from here: ask the JobManager host itself.
        let url = format!("http://127.0.0.1:{}{path}", self.port);
        let script = format!(
            "if command -v curl >/dev/null; then curl -sf --max-time 5 {u}; else wget -q -T 5 -O - {u}; fi",
            u = q(&url)
        );
        match self.jm.sh(self.jm_name, &script).await {
            Ok(out) if out.ok() => Ok(out.stdout),
            Ok(out) => Err(format!("{direct}; through ssh: {}", out.why())),
            Err(e) => Err(format!("{direct}; through ssh: {e}")),
        }
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

pub fn not_verified(url: &str, timeout: Duration, why: &str, details: &str) -> Error {
    Error::Failed(format!(
        "the cluster did not come up: {url} within {}s: {why}{details}",
        timeout.as_secs()
    ))
}
