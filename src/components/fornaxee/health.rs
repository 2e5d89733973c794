//! Fornaxee's health: its HTTP health path answers 200, asked from the operator's machine or,
//! when the port is not reachable from here, through the ssh session on its host.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fleet::{Fleet, HostId};
use crate::remote::{qp, Remote};
use crate::report::{Event, Reporter};

#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct HealthCheck {
    /// Where the operator reaches the host.
    pub address: String,
    pub port: u16,
    pub path: String,
    pub timeout_secs: u64,
    /// Its log, whose tail explains a service that did not come up.
    pub log: String,
}

impl HealthCheck {
    pub fn url(&self) -> String {
        format!("http://{}:{}{}", self.address, self.port, self.path)
    }
}

impl fmt::Display for HealthCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} answers 200 within {}s",
            self.url(),
            self.timeout_secs
        )
    }
}

/// Looks at a health path: from the operator's machine while that reaches the port, else on
/// the host itself (a port open only to the host, a firewall between).
pub struct Prober {
    client: reqwest::Client,
    direct: bool,
}

impl Default for Prober {
    fn default() -> Self {
        Prober {
            client: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(2))
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            direct: true,
        }
    }
}

impl Prober {
    /// The HTTP status the health path answers, or why there is none.
    pub async fn status(
        &mut self,
        c: &HealthCheck,
        host: &HostId,
        remote: &Remote,
    ) -> Result<u16, String> {
        if self.direct {
            match self.client.get(c.url()).send().await {
                Ok(r) => return Ok(r.status().as_u16()),
                Err(e) if e.is_connect() || e.is_timeout() => self.direct = false,
                Err(e) => return Err(e.to_string()),
            }
        }
        let url = format!("http://127.0.0.1:{}{}", c.port, c.path);
        match remote.http_get(host.as_str(), &url).await {
            Ok(a) if a.status == 0 => Err(format!(
                "nothing answers on port {} (from here, nor on {host})",
                c.port
            )),
            Ok(a) => Ok(a.status),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Where the last answer was asked.
    pub fn asked_on_host(&self) -> bool {
        !self.direct
    }
}

/// Polls the health path until it answers 200; on failure the error carries the log's tail.
pub async fn check(
    c: &HealthCheck,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    let remote = fleet.get(host)?;
    let mut prober = Prober::default();
    let start = Instant::now();
    let last = loop {
        let status = prober.status(c, host, remote).await;
        match status {
            Ok(200) => {
                rep.event(&Event::Info {
                    message: format!(
                        "{host}: Fornaxee healthy ({} answered 200{})",
                        c.url(),
                        if prober.asked_on_host() {
                            ", asked on the host: this machine does not reach the port"
                        } else {
                            ""
                        }
                    ),
                });
                return Ok(());
            }
            Ok(code) => {
                if start.elapsed().as_secs() >= c.timeout_secs {
                    break format!("{} answered HTTP {code}", c.url());
                }
            }
            Err(e) => {
                if start.elapsed().as_secs() >= c.timeout_secs {
                    break e;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let tail = remote
        .sh(
            host.as_str(),
            &format!("tail -n 20 {} 2>/dev/null", qp(&c.log)),
        )
        .await
        .map(|o| o.stdout)
        .unwrap_or_default();
    let mut msg = format!(
        "Fornaxee did not become healthy within {}s: {last}",
        c.timeout_secs
    );
    if tail.trim().is_empty() {
        msg.push_str(&format!(" ({} is empty)", c.log));
    } else {
        msg.push_str(&format!("\n    --- {}", c.log));
        for l in tail.lines() {
            msg.push_str("\n    ");
            msg.push_str(l);
        }
    }
    Err(Error::remote(host.as_str(), msg))
}
