//! Gets an artifact (a release tarball, a bundle) onto the operator's machine, verified,
//! before any host sees it.
//!
//! Nothing unverified is ever used: downloads are hashed while they stream into a `.part`
//! file in the cache and renamed into place only when the hash matches; cached files are
//! hashed again before use (read ahead while the hosts are probed, see [`ahead`]); local
//! files are checked against a pin or their `.sha512`.

pub mod ahead;
mod checksum;
mod download;
pub mod kit;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use checksum::{hash_file, parse_sidecar, Digests, Hasher};

use crate::error::{Error, Result};
use crate::inventory::{Artifact, HashAlgo};
use crate::report::{Event, Reporter};

#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub cache_dir: PathBuf,
    /// Tries per source for transient failures (connection errors, 5xx, cut-off bodies).
    pub attempts: u32,
    /// First wait between tries; doubled each time.
    pub backoff: Duration,
    pub connect_timeout: Duration,
    /// Longest silence while reading a response.
    pub read_timeout: Duration,
}

impl FetchOptions {
    pub fn new(cache_dir: Option<PathBuf>) -> Self {
        FetchOptions {
            cache_dir: cache_dir.unwrap_or_else(default_cache_dir),
            attempts: 4,
            backoff: Duration::from_millis(500),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
        }
    }
}

/// `$XDG_CACHE_HOME/flinkup`, or `~/.cache/flinkup`.
pub fn default_cache_dir() -> PathBuf {
    dirs::cache_dir()
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("flinkup")
}

/// The verified tarball on the operator's machine.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub path: PathBuf,
    pub sha512: String,
    pub size: u64,
    /// Used without any checksum (`--insecure-no-checksum`).
    pub unverified: bool,
}

impl Fetched {
    fn at(path: PathBuf, sha512: String, unverified: bool) -> Fetched {
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Fetched {
            path,
            sha512,
            size,
            unverified,
        }
    }
}

/// A file's digests: those hashed ahead when the file is still the one read, else a read now.
/// (Only sha512 is hashed ahead: with a sha256 pinned, the file is read now without waiting.)
fn hashed(path: &Path, with_sha256: bool) -> std::io::Result<Digests> {
    match (!with_sha256).then(|| ahead::take(path, false)).flatten() {
        Some(s) => Ok(Digests {
            sha512: s.sha512,
            sha256: None,
        }),
        None => hash_file(path, with_sha256),
    }
}

/// The operator's copy of the artifact, where one can be found without contacting anything:
/// its local path, or its place in the cache.
pub fn local_copy(art: &Artifact, cache: &Path) -> Option<PathBuf> {
    if let Some(p) = &art.path {
        return p.is_file().then(|| p.clone());
    }
    let entry = match &art.checksum.pinned {
        Some(p) => cache_entry(cache, p.algorithm, &p.hex, &art.file_name),
        None => cache_entry(
            cache,
            HashAlgo::Sha512,
            &cached_sha512(art, cache)?,
            &art.file_name,
        ),
    };
    entry.is_file().then_some(entry)
}

fn cache_entry(cache: &Path, algo: HashAlgo, hex: &str, file: &str) -> PathBuf {
    cache.join(algo.to_string()).join(hex).join(file)
}

/// Whether a copy is cached, as far as can be told without contacting anything: exact when the
/// hash is pinned, by file name otherwise (the sidecar is checked again when fetching).
pub fn is_cached(art: &Artifact, cache: &Path) -> bool {
    local_copy(art, cache).is_some()
}

/// The sha512 of a cached copy of the artifact, read from its place in the cache (entries are
/// named by their hash), without hashing anything.
pub fn cached_sha512(art: &Artifact, cache: &Path) -> Option<String> {
    std::fs::read_dir(cache.join("sha512"))
        .ok()?
        .flatten()
        .find(|e| e.path().join(&art.file_name).is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
}

/// The size of a cached copy of the artifact, without hashing anything.
pub fn cached_size(art: &Artifact, cache: &Path) -> Option<u64> {
    let sha = cached_sha512(art, cache)?;
    std::fs::metadata(cache_entry(cache, HashAlgo::Sha512, &sha, &art.file_name))
        .ok()
        .map(|m| m.len())
}

fn mismatch(what: &str, algo: HashAlgo, want: &str, got: &str) -> String {
    format!("{algo} mismatch for {what}: expected {want}, got {got}")
}

/// What the file must hash to: the pin, else the sidecar; plus a second check when the pin
/// and the sidecar use different algorithms.
struct Expected {
    primary: Option<(HashAlgo, String)>,
    secondary: Option<(HashAlgo, String)>,
}

impl Expected {
    fn needs_sha256(&self) -> bool {
        [&self.primary, &self.secondary]
            .iter()
            .any(|e| matches!(e, Some((HashAlgo::Sha256, _))))
    }

    fn check(&self, what: &str, d: &Digests) -> Result<(), String> {
        for (algo, want) in self.primary.iter().chain(self.secondary.iter()) {
            let got = d.get(*algo).unwrap_or("");
            if got != want {
                return Err(mismatch(what, *algo, want, got));
            }
        }
        Ok(())
    }
}

/// The archive's sha512 as the inventory's pin or its checksum file says, without
/// downloading the archive (hosts that fetch it themselves check against it).
pub async fn expected_sha512(
    art: &Artifact,
    opts: &FetchOptions,
    rep: &dyn Reporter,
) -> Result<String> {
    let client = client(opts)?;
    let exp = expected(art, &client, rep).await?;
    [exp.primary, exp.secondary]
        .into_iter()
        .flatten()
        .find(|(algo, _)| *algo == HashAlgo::Sha512)
        .map(|(_, hex)| hex)
        .ok_or_else(|| {
            Error::Fetch(format!(
                "{}: the hosts download {} themselves and need its sha512 to check it: pin `sha512:` or give a `checksum_url:` with the release's .sha512",
                art.key, art.file_name
            ))
        })
}

async fn expected(
    art: &Artifact,
    client: &reqwest::Client,
    rep: &dyn Reporter,
) -> Result<Expected> {
    let pinned = art
        .checksum
        .pinned
        .as_ref()
        .map(|p| (p.algorithm, p.hex.clone()));
    let Some(side) = &art.checksum.sidecar else {
        return Ok(Expected {
            primary: pinned,
            secondary: None,
        });
    };
    let text = if side.starts_with("http://") || side.starts_with("https://") {
        download::small(client, side).await
    } else {
        std::fs::read_to_string(side).map_err(|e| format!("cannot read {side}: {e}"))
    };
    let parsed = text.and_then(|t| parse_sidecar(&t).map_err(|e| format!("{side}: {e}")));
    match (parsed, pinned) {
        (Ok((algo, hex)), Some((palgo, phex))) => {
            if algo == palgo && hex != phex {
                return Err(Error::Fetch(format!(
                    "the checksum file {side} says {algo} {hex}, but the inventory pins {phex}: one of them is wrong; compare both with the checksum Apache publishes for this release"
                )));
            }
            Ok(Expected {
                primary: Some((palgo, phex)),
                secondary: (algo != palgo).then_some((algo, hex)),
            })
        }
        (Ok(found), None) => Ok(Expected {
            primary: Some(found),
            secondary: None,
        }),
        (Err(e), Some(pin)) => {
            rep.event(&Event::Warning {
                message: format!("checksum file unusable ({e}); relying on the pinned hash"),
            });
            Ok(Expected {
                primary: Some(pin),
                secondary: None,
            })
        }
        (Err(_), None) if art.path.is_some() && art.checksum.insecure => Ok(Expected {
            primary: None,
            secondary: None,
        }),
        (Err(e), None) if art.path.is_some() => Err(Error::Fetch(format!(
            "no checksum for the local file {}: {e}. Pin {}.sha512 in the inventory, put a sha512sum-format {} next to it, or pass --insecure-no-checksum to use it unverified",
            art.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
            art.key,
            side
        ))),
        (Err(e), None) if unreachable(&e) => Err(Error::Fetch(format!(
            "cannot get the checksum: {e}. {}",
            offline(&art.file_name)
        ))),
        (Err(e), None) => Err(Error::Fetch(format!(
            "cannot get the checksum: {e}. Pin {k}.sha512 in the inventory or set {k}.checksum_url",
            k = art.key
        ))),
    }
}

pub fn client(opts: &FetchOptions) -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .user_agent(concat!("flinkup/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(opts.connect_timeout)
        .read_timeout(opts.read_timeout)
        .build()
        .map_err(|e| Error::Fetch(format!("cannot set up the HTTP client: {e}")))
}

/// Fetches and verifies the artifact, or takes it from the cache.
pub async fn fetch(art: &Artifact, opts: &FetchOptions, rep: &dyn Reporter) -> Result<Fetched> {
    let client = client(opts)?;
    let exp = expected(art, &client, rep).await?;
    if let Some(path) = &art.path {
        return local(art, path, &exp, rep);
    }
    let Some((algo, hex)) = exp.primary.clone() else {
        return Err(Error::Fetch("no checksum for the download".into()));
    };
    let entry = cache_entry(&opts.cache_dir, algo, &hex, &art.file_name);
    if entry.is_file() {
        let d = hashed(&entry, exp.needs_sha256())
            .map_err(|e| Error::io(format!("cannot read cached {}", entry.display()), e))?;
        match exp.check(&entry.display().to_string(), &d) {
            Ok(()) => {
                rep.event(&Event::CacheHit {
                    path: entry.display().to_string(),
                });
                return Ok(Fetched::at(entry, d.sha512, false));
            }
            Err(reason) => {
                rep.event(&Event::CacheCorrupt {
                    path: entry.display().to_string(),
                    reason,
                });
                std::fs::remove_file(&entry).map_err(|e| {
                    Error::io(format!("cannot delete corrupt {}", entry.display()), e)
                })?;
            }
        }
    }
    let dir = entry.parent().unwrap_or(&opts.cache_dir).to_path_buf();
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::io(
            format!("cannot create cache directory {}", dir.display()),
            e,
        )
    })?;
    let part = dir.join(format!("{}.part", art.file_name));
    let mut failures = Vec::new();
    for url in &art.urls {
        match download::with_retries(&client, url, &part, exp.needs_sha256(), opts, rep).await {
            Ok(d) => match exp.check(url, &d) {
                Ok(()) => {
                    std::fs::rename(&part, &entry).map_err(|e| {
                        Error::io(format!("cannot move {} into the cache", part.display()), e)
                    })?;
                    rep.event(&Event::Verified {
                        path: entry.display().to_string(),
                        algorithm: algo.to_string(),
                        hex: hex.clone(),
                    });
                    return Ok(Fetched::at(entry, d.sha512, false));
                }
                Err(reason) => {
                    let _ = std::fs::remove_file(&part);
                    rep.event(&Event::SourceFailed {
                        url: url.clone(),
                        reason: reason.clone(),
                    });
                    failures.push(format!("{url}: {reason}"));
                }
            },
            Err(download::Failure::Local(msg)) => {
                let _ = std::fs::remove_file(&part);
                return Err(Error::Fetch(msg));
            }
            Err(download::Failure::Source(reason)) => {
                rep.event(&Event::SourceFailed {
                    url: url.clone(),
                    reason: reason.clone(),
                });
                failures.push(format!("{url}: {reason}"));
            }
        }
    }
    // A partial file is kept for resuming only while some source could still complete it.
    let advice = if failures.iter().all(|f| unreachable(f)) {
        format!("\n{}", offline(&art.file_name))
    } else {
        String::new()
    };
    Err(Error::Fetch(format!(
        "could not fetch {} from any source:\n  {}{advice}",
        art.file_name,
        failures.join("\n  ")
    )))
}

/// Whether a download failed because this machine reaches no network at all (or not that
/// host): retrying or pinning a checksum cannot help there.
fn unreachable(reason: &str) -> bool {
    [
        "DNS lookup failed",
        "connection refused",
        "cannot connect",
        "timed out",
        "unreachable",
    ]
    .iter()
    .any(|k| reason.contains(k))
}

/// What to do on a machine that cannot download: bring the file and name it.
fn offline(file: &str) -> String {
    format!(
        "This machine cannot reach the download. On a machine without internet, copy {file} and its checksum file ({file}.sha512) here from one that has it, and name the tarball in the inventory's artifact section: `artifact: {{path: /path/to/{file}}}` (the .sha512 beside it is checked)"
    )
}

fn local(art: &Artifact, path: &Path, exp: &Expected, rep: &dyn Reporter) -> Result<Fetched> {
    if !path.is_file() {
        return Err(Error::Fetch(format!(
            "the artifact {} does not exist; check {}.path (relative paths start at the inventory's directory)",
            path.display(),
            art.key
        )));
    }
    let d = hashed(path, exp.needs_sha256())
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let shown = path.display().to_string();
    let Some((algo, hex)) = &exp.primary else {
        rep.event(&Event::Warning {
            message: format!(
                "{shown} is used WITHOUT checksum verification (--insecure-no-checksum)"
            ),
        });
        return Ok(Fetched::at(path.to_path_buf(), d.sha512, true));
    };
    exp.check(&shown, &d).map_err(Error::Fetch)?;
    rep.event(&Event::Verified {
        path: shown,
        algorithm: algo.to_string(),
        hex: hex.clone(),
    });
    Ok(Fetched::at(path.to_path_buf(), d.sha512, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Checksum, HashAlgo, Pinned};

    /// An artifact's errors name the inventory key it came from, not always Flink's.
    #[tokio::test]
    async fn errors_name_the_artifacts_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let art = Artifact {
            key: "fornaxee.artifact".into(),
            file_name: "fornaxee-2.3.0.tgz".into(),
            urls: Vec::new(),
            path: Some(dir.path().join("fornaxee-2.3.0.tgz")),
            checksum: Checksum {
                pinned: Some(Pinned {
                    algorithm: HashAlgo::Sha512,
                    hex: "0".repeat(128),
                }),
                sidecar: None,
                insecure: false,
            },
        };
        let opts = FetchOptions::new(Some(dir.path().join("cache")));
        let rep = crate::report::reporter(crate::report::Style::Plain);
        let e = fetch(&art, &opts, rep.as_ref())
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("check fornaxee.artifact.path"), "{e}");
    }
}
