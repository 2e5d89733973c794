//! Fornaxee's health: its HTTP health path answers 200, asked from the operator's machine or,
//! when the port is not reachable from here, through the ssh session on its host.

use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fleet::{Fleet, HostId};
use crate::remote::{q, qp};
use crate::report::{Event, Reporter};

#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// Polls the health path until it answers 200; on failure the error carries the log's tail.
pub async fn check(
    c: &HealthCheck,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    let remote = fleet.get(host)?;
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let start = Instant::now();
    let mut direct_works = true;
    let last = loop {
        let status = if direct_works {
            match client.get(c.url()).send().await {
                Ok(r) => Ok(r.status().as_u16()),
                Err(e) if e.is_connect() || e.is_timeout() => {
                    direct_works = false;
                    Err(e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        } else {
            // Not reachable from here: ask on the host itself.
            let url = format!("http://127.0.0.1:{}{}", c.port, c.path);
            let script = format!(
                "curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 {u} || wget -q -O /dev/null -T 5 {u} && echo 200",
                u = q(&url)
            );
            match remote.sh(host.as_str(), &script).await {
                Ok(o) => o
                    .stdout
                    .trim()
                    .parse::<u16>()
                    .map_err(|_| format!("no answer on port {}", c.port)),
                Err(e) => Err(e.to_string()),
            }
        };
        match status {
            Ok(200) => {
                rep.event(&Event::Info {
                    message: format!("{host}: Fornaxee healthy ({} answered 200)", c.url()),
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
