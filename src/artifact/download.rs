//! One HTTP source: streaming download into a `.part` file with hashing, resume and retries.

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use reqwest::header::RANGE;
use reqwest::StatusCode;

use super::checksum::{Digests, Hasher};
use super::FetchOptions;
use crate::report::{Event, Reporter};

pub enum Failure {
    /// This source cannot deliver; another mirror may.
    Source(String),
    /// The problem is on this machine (disk full, permissions): no mirror will help.
    Local(String),
}

enum Try {
    Transient(String),
    Permanent(String),
    Local(String),
}

/// A small text file (a checksum sidecar).
pub async fn small(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))?;
    if !resp.status().is_success() {
        return Err(format!("{url}: HTTP {}", resp.status()));
    }
    resp.text()
        .await
        .map_err(|e| format!("{url}: {}", describe(&e)))
}

/// Names the cause of a reqwest error the way an operator would look for it.
fn describe(e: &reqwest::Error) -> String {
    let chain = crate::error::chain(e);
    let kind = if e.is_timeout() {
        "timed out"
    } else if chain.contains("dns error") || chain.contains("failed to lookup") {
        "DNS lookup failed"
    } else if chain.contains("Connection refused") {
        "connection refused"
    } else if chain.contains("certificate") || chain.contains("tls") || chain.contains("TLS") {
        "TLS error"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "transfer failed"
    };
    format!("{kind} ({chain})")
}

pub async fn with_retries(
    client: &reqwest::Client,
    url: &str,
    part: &Path,
    sha256: bool,
    opts: &FetchOptions,
    rep: &dyn Reporter,
) -> Result<Digests, Failure> {
    let mut wait = opts.backoff;
    for attempt in 1..=opts.attempts.max(1) {
        match once(client, url, part, sha256, rep).await {
            Ok(d) => return Ok(d),
            Err(Try::Permanent(r)) => return Err(Failure::Source(r)),
            Err(Try::Local(r)) => return Err(Failure::Local(r)),
            Err(Try::Transient(r)) if attempt < opts.attempts => {
                rep.event(&Event::FetchRetry {
                    url: url.to_string(),
                    attempt,
                    reason: r,
                    wait_ms: wait.as_millis() as u64,
                });
                tokio::time::sleep(wait).await;
                wait *= 2;
            }
            Err(Try::Transient(r)) => {
                return Err(Failure::Source(format!(
                    "{r} (gave up after {attempt} tries)"
                )))
            }
        }
    }
    Err(Failure::Source("no attempt made".into()))
}

fn local_error(part: &Path, e: &std::io::Error) -> Try {
    let full = e.raw_os_error() == Some(28);
    Try::Local(format!(
        "cannot write {}: {}{}",
        part.display(),
        e,
        if full {
            " (disk full: free space in the cache directory or pass --cache-dir)"
        } else {
            ""
        }
    ))
}

async fn once(
    client: &reqwest::Client,
    url: &str,
    part: &Path,
    sha256: bool,
    rep: &dyn Reporter,
) -> Result<Digests, Try> {
    let mut offset = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    let mut req = client.get(url);
    if offset > 0 {
        req = req.header(RANGE, format!("bytes={offset}-"));
    }
    let mut resp = req.send().await.map_err(|e| Try::Transient(describe(&e)))?;
    let status = resp.status();
    match status {
        StatusCode::PARTIAL_CONTENT if offset > 0 => {}
        StatusCode::RANGE_NOT_SATISFIABLE => {
            // The partial file is not a prefix this server can continue: start over.
            let _ = std::fs::remove_file(part);
            return Err(Try::Transient(
                "the server cannot resume the partial file; restarting".into(),
            ));
        }
        s if s.is_success() => offset = 0,
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => {
            return Err(Try::Transient(format!("HTTP {s}")))
        }
        s => return Err(Try::Permanent(format!("HTTP {s}"))),
    }
    let mut hasher = Hasher::new(sha256);
    if offset > 0 {
        hasher
            .update_file(part)
            .map_err(|e| Try::Local(format!("cannot read {}: {e}", part.display())))?;
    }
    let total = resp.content_length().map(|n| n + offset);
    rep.event(&Event::FetchStart {
        url: url.to_string(),
        total,
        offset,
    });
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .append(offset > 0)
        .truncate(offset == 0)
        .open(part)
        .map_err(|e| local_error(part, &e))?;
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut got = offset;
    loop {
        match resp.chunk().await {
            Ok(Some(bytes)) => {
                out.write_all(&bytes).map_err(|e| local_error(part, &e))?;
                hasher.update(&bytes);
                got += bytes.len() as u64;
                rep.event(&Event::FetchProgress {
                    bytes: bytes.len() as u64,
                });
            }
            Ok(None) => break,
            Err(e) => {
                out.flush().map_err(|e| local_error(part, &e))?;
                return Err(Try::Transient(format!(
                    "connection lost after {got} bytes: {}",
                    describe(&e)
                )));
            }
        }
    }
    out.flush().map_err(|e| local_error(part, &e))?;
    if let Some(t) = total {
        if got < t {
            return Err(Try::Transient(format!("truncated: got {got} of {t} bytes")));
        }
    }
    Ok(hasher.finish())
}
