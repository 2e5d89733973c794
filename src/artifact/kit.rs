//! A site kit: one file an engineer carries to an air-gapped site. It is a plain tar holding
//! `manifest.json` (what is inside, each entry's sha512 and size, the flinkup version and the
//! platform its binary runs on), the `flinkup` binary itself, the `inventory.yaml` it was made
//! for, and under `artifacts/` every archive that inventory needs (the Flink release, the
//! Fornaxee bundle, the Java runtime). Working from a kit, every archive comes out of it,
//! checked against the manifest first, and no URL is contacted.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha512};

use crate::error::{Error, Result};
use crate::inventory::{Artifact, Checksum, HashAlgo, Loaded, Pinned};

/// The manifest's format.
pub const KIT_FORMAT: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub kit: u32,
    pub flinkup: String,
    pub commit: String,
    /// Where its binary runs: `linux-x86_64`.
    pub platform: String,
    pub created: String,
    pub cluster: String,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// Its path in the kit.
    pub path: String,
    /// `flinkup`, `inventory`, `flink`, `fornaxee` or `java`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub sha512: String,
    pub size: u64,
}

/// Reads `r` to its end, hashing it and copying it into `out` when given: (sha512, size).
fn hash_copy(
    r: &mut dyn Read,
    mut out: Option<&mut std::fs::File>,
) -> std::io::Result<(String, u64)> {
    let mut h = Sha512::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok((hex::encode(h.finalize()), size));
        }
        h.update(&buf[..n]);
        size += n as u64;
        if let Some(o) = out.as_mut() {
            o.write_all(&buf[..n])?;
        }
    }
}

fn sha512_file(p: &Path) -> Result<(String, u64)> {
    let io = |e| Error::io(format!("cannot read {}", p.display()), e);
    let mut f = std::fs::File::open(p).map_err(io)?;
    hash_copy(&mut f, None).map_err(io)
}

/// Writes the kit: `files` are (path in the kit, kind, version, file on this machine), every
/// archive already fetched and verified. Written beside `out` and renamed, so a kit that
/// exists is whole.
pub fn write(
    out: &Path,
    cluster: &str,
    files: &[(String, &str, Option<String>, PathBuf)],
) -> Result<Manifest> {
    let mut entries = Vec::new();
    for (path, kind, version, local) in files {
        let (sha512, size) = sha512_file(local)?;
        entries.push(Entry {
            path: path.clone(),
            kind: kind.to_string(),
            version: version.clone(),
            sha512,
            size,
        });
    }
    let manifest = Manifest {
        kit: KIT_FORMAT,
        flinkup: env!("CARGO_PKG_VERSION").into(),
        commit: env!("FLINKUP_COMMIT").into(),
        platform: format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH),
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        cluster: cluster.into(),
        entries,
    };
    let tmp = out.with_extension("kit.partial");
    let io = |e: std::io::Error| Error::io(format!("cannot write {}", tmp.display()), e);
    let file = std::fs::File::create(&tmp).map_err(io)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::new(file));
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Failed(e.to_string()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    tar.append_data(&mut header, "manifest.json", &json[..])
        .map_err(io)?;
    for (path, _, _, local) in files {
        tar.append_path_with_name(local, path).map_err(io)?;
    }
    let mut w = tar.into_inner().map_err(io)?;
    w.flush().map_err(io)?;
    w.get_ref().sync_all().map_err(io)?;
    drop(w);
    std::fs::rename(&tmp, out)
        .map_err(|e| Error::io(format!("cannot write {}", out.display()), e))?;
    Ok(manifest)
}

/// A kit opened and proven whole: its archives unpacked into a private directory that lives
/// as long as this value.
pub struct Opened {
    pub manifest: Manifest,
    dir: tempfile::TempDir,
}

impl Opened {
    /// Where an archive of the kit is on this machine.
    pub fn archive(&self, kind: &str, file_name: &str) -> Option<(PathBuf, &Entry)> {
        self.manifest
            .entries
            .iter()
            .find(|e| e.kind == kind && e.path == format!("artifacts/{file_name}"))
            .map(|e| (self.dir.path().join(&e.path), e))
    }
}

/// Opens a kit: the manifest first, then every entry hashed as it is read (archives unpacked);
/// an entry missing, extra, or not matching its manifest line refuses the kit.
pub fn open(kit: &Path) -> Result<Opened> {
    let damaged = |what: String| {
        Error::Usage(format!(
            "the kit {} cannot be used: {what}; make it again with `flinkup kit` where the artifacts can be fetched",
            kit.display()
        ))
    };
    let file = std::fs::File::open(kit)
        .map_err(|e| Error::io(format!("cannot read {}", kit.display()), e))?;
    let dir = tempfile::Builder::new()
        .prefix("flinkup-kit-")
        .tempdir()
        .map_err(|e| Error::io("cannot create a directory to unpack the kit into", e))?;
    let mut tar = tar::Archive::new(std::io::BufReader::new(file));
    let mut manifest: Option<Manifest> = None;
    let mut seen: Vec<(String, String, u64)> = Vec::new();
    let entries = tar
        .entries()
        .map_err(|e| damaged(format!("it is not a kit (not a tar file: {e})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("it is cut short or damaged ({e})")))?;
        let path = entry
            .path()
            .map_err(|e| damaged(e.to_string()))?
            .to_string_lossy()
            .to_string();
        if path == "manifest.json" {
            let mut text = String::new();
            entry
                .read_to_string(&mut text)
                .map_err(|e| damaged(format!("its manifest cannot be read ({e})")))?;
            manifest = Some(
                serde_json::from_str(&text)
                    .map_err(|e| damaged(format!("its manifest is not valid ({e})")))?,
            );
            continue;
        }
        let Some(m) = manifest.as_ref() else {
            return Err(damaged("it does not open with its manifest".into()));
        };
        if !m.entries.iter().any(|e| e.path == path) || path.contains("..") {
            return Err(damaged(format!("{path} is not in its manifest")));
        }
        let unpack = path.starts_with("artifacts/");
        let mut out = if unpack {
            let p = dir.path().join(&path);
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| Error::io("cannot unpack the kit", e))?;
            }
            Some(std::fs::File::create(&p).map_err(|e| Error::io("cannot unpack the kit", e))?)
        } else {
            None
        };
        // A short read or a failed write both leave the entry unusable: named either way.
        let (sha, size) = hash_copy(&mut entry, out.as_mut())
            .map_err(|e| damaged(format!("{path} cannot be read whole ({e})")))?;
        seen.push((path, sha, size));
    }
    let Some(manifest) = manifest else {
        return Err(damaged("it has no manifest.json".into()));
    };
    if manifest.kit > KIT_FORMAT {
        return Err(damaged(format!(
            "it was made by flinkup {} in kit format {}, newer than this flinkup reads ({KIT_FORMAT})",
            manifest.flinkup, manifest.kit
        )));
    }
    for e in &manifest.entries {
        match seen.iter().find(|(p, _, _)| *p == e.path) {
            None => return Err(damaged(format!("{} is missing from it", e.path))),
            Some((_, sha, size)) if *sha != e.sha512 || *size != e.size => {
                return Err(damaged(format!(
                    "{} does not match its manifest (sha512 {}…, {size} bytes; the manifest says {}…, {} bytes)",
                    e.path,
                    &sha[..16],
                    &e.sha512[..16.min(e.sha512.len())],
                    e.size
                )))
            }
            Some(_) => {}
        }
    }
    Ok(Opened { manifest, dir })
}

/// The inventory's archives taken from the kit: each becomes a local file pinned to the
/// manifest's sha512, so nothing is downloaded whatever URLs the inventory names.
pub fn apply(kit: &Opened, loaded: &mut Loaded, name: &Path) -> Result<()> {
    let take = |art: &mut Artifact, kind: &str| -> Result<()> {
        let Some((path, e)) = kit.archive(kind, &art.file_name) else {
            let has: Vec<&str> = kit
                .manifest
                .entries
                .iter()
                .filter(|e| e.kind == kind)
                .map(|e| e.path.trim_start_matches("artifacts/"))
                .collect();
            return Err(Error::Usage(format!(
                "the inventory needs {} ({}), and the kit {} holds {}: make a kit for this inventory",
                art.file_name,
                art.key,
                name.display(),
                if has.is_empty() {
                    "no such archive".to_string()
                } else {
                    has.join(", ")
                }
            )));
        };
        *art = Artifact {
            key: art.key.clone(),
            file_name: art.file_name.clone(),
            urls: Vec::new(),
            path: Some(path),
            checksum: Checksum {
                pinned: Some(Pinned {
                    algorithm: HashAlgo::Sha512,
                    hex: e.sha512.clone(),
                }),
                sidecar: None,
                insecure: false,
            },
        };
        Ok(())
    };
    let c = &mut loaded.cluster;
    take(&mut c.artifact, "flink")?;
    if let Some(f) = c.fornaxee.as_mut() {
        take(&mut f.artifact, "fornaxee")?;
    }
    if let Some(j) = c.java.as_mut() {
        take(&mut j.artifact, "java")?;
    }
    Ok(())
}
