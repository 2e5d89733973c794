//! The audit history: every plan a command applied, appended as one JSON line on the host
//! that holds the deploy lock, beside it, and never rewritten: who ran what, from where, with
//! which inventory, how each stage ended, and the plan itself.

use serde::{Deserialize, Serialize};

use super::lock::Site;
use crate::error::{Error, Result};
use crate::remote::{qp, Remote};

/// One applied plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// `<started, compact>-<pid>`: unique per run, sortable by time.
    pub id: String,
    pub command: String,
    pub cluster: String,
    /// The operator's account and machine, `user@machine`.
    pub by: String,
    pub inventory: String,
    pub inventory_sha256: String,
    pub started: String,
    pub ended: String,
    /// `done`, `failed`, `rolled back` or `interrupted`.
    pub outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub stages: Vec<StageOutcome>,
    /// The plan as `plan --json` prints it.
    pub plan: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageOutcome {
    pub name: String,
    pub outcome: String,
}

/// Where the history lives on the lock's host.
pub fn file(site: &Site) -> String {
    format!("{}/history.jsonl", site.state_dir)
}

/// Appends one entry (one line: appends of whole lines under the lock never interleave).
pub async fn append(site: &Site, remote: &Remote, e: &Entry) -> Result<()> {
    let line = serde_json::to_string(e).map_err(|x| Error::Failed(x.to_string()))? + "\n";
    let out = remote
        .sh_input(
            site.host.as_str(),
            &format!(
                "mkdir -p {dir} && cat >> {f}",
                dir = qp(&site.state_dir),
                f = qp(&file(site))
            ),
            Some(line.as_bytes()),
        )
        .await?;
    if out.ok() {
        Ok(())
    } else {
        Err(Error::remote(
            site.host.as_str(),
            format!("cannot append to {}: {}", file(site), out.why()),
        ))
    }
}

/// Every entry, oldest first; lines that do not parse (a disk that filled mid-line) are
/// skipped and counted.
pub async fn read(site: &Site, remote: &Remote) -> Result<(Vec<Entry>, usize)> {
    let out = remote
        .sh(
            site.host.as_str(),
            &format!("cat {} 2>/dev/null; exit 0", qp(&file(site))),
        )
        .await?;
    let mut bad = 0;
    let entries = out
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| serde_json::from_str(l).map_err(|_| bad += 1).ok())
        .collect();
    Ok((entries, bad))
}

/// A run's id from its start time (`2026-12-02T22:45:01Z`) and pid.
pub fn id(started: &str) -> String {
    let compact: String = started.chars().filter(|c| c.is_ascii_digit()).collect();
    format!("{compact}-{}", std::process::id())
}
