//! The Fornaxee bundle format, as flinkup defines it and Fornaxee's build produces it: a
//! tarball `fornaxee-<version>.tgz` with one top directory `fornaxee-<version>/` holding
//! `bundle.yaml`, `bin/fornaxee`, `etc/fornaxee.properties`, `etc/fornaxee-env.sh`, `lib/`
//! and optionally `flink-lib/*.jar` (connector jars every Flink host must load).
//!
//! A bundle is inspected on the operator's machine before any host is touched: a bundle that
//! breaks the format is refused with what is wrong and how to fix it.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sha2::{Digest, Sha512};

use crate::error::{Error, Result};

/// `bundle.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: String,
    /// The Flink versions it works with, as a range: ">=1.9, <1.12".
    pub flink: String,
    /// The default web port; the property `http.port` overrides it.
    pub http_port: u16,
    /// The HTTP path that answers 200 when the service is up.
    pub health: String,
}

/// A connector jar from `flink-lib/`, extracted on the operator's machine.
#[derive(Debug, Clone, PartialEq)]
pub struct Jar {
    pub name: String,
    pub local: PathBuf,
    pub sha512: String,
    pub size: u64,
}

#[derive(Debug, Clone)]
pub struct Bundle {
    pub top_dir: String,
    pub manifest: Manifest,
    pub range: semver::VersionReq,
    pub jars: Vec<Jar>,
    /// The bundle's own etc/fornaxee.properties: the defaults flinkup writes the site's values over.
    pub default_properties: String,
}

impl Bundle {
    /// Whether the bundle works with this Flink version.
    pub fn supports(&self, flink: &str) -> bool {
        semver::Version::parse(flink).is_ok_and(|v| self.range.matches(&v))
    }
}

fn refuse(file: &Path, what: String, fix: &str) -> Error {
    Error::Bundle(format!(
        "the Fornaxee bundle {} is not usable: {what}\n  = help: {fix}; nothing was changed",
        file.display()
    ))
}

/// Reads the bundle, checks its format, and extracts its connector jars into `jars_dir`.
pub fn inspect(tgz: &Path, version: &str, jars_dir: &Path) -> Result<Bundle> {
    let fix_build = "rebuild the bundle as the Fornaxee section of the README describes";
    let file = std::fs::File::open(tgz)
        .map_err(|e| Error::io(format!("cannot open {}", tgz.display()), e))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let entries = archive
        .entries()
        .map_err(|e| refuse(tgz, format!("not a gzip'd tar archive ({e})"), fix_build))?;
    let mut tops = BTreeSet::new();
    let mut manifest_text = None;
    let mut properties = String::new();
    let mut has_bin = false;
    let mut jars = Vec::new();
    for entry in entries {
        let mut entry =
            entry.map_err(|e| refuse(tgz, format!("a damaged archive ({e})"), fix_build))?;
        let path = entry
            .path()
            .map_err(|e| refuse(tgz, format!("a bad path in the archive ({e})"), fix_build))?
            .into_owned();
        let mut parts = path
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir));
        let Some(top) = parts.next() else { continue };
        let top = top.as_os_str().to_string_lossy().into_owned();
        let rest: PathBuf = parts.collect();
        tops.insert(top);
        let rest = rest.to_string_lossy().into_owned();
        match rest.as_str() {
            "bundle.yaml" => {
                let mut t = String::new();
                entry.read_to_string(&mut t).map_err(|e| {
                    refuse(tgz, format!("bundle.yaml is not text ({e})"), fix_build)
                })?;
                manifest_text = Some(t);
            }
            "etc/fornaxee.properties" => {
                entry.read_to_string(&mut properties).map_err(|e| {
                    refuse(
                        tgz,
                        format!("etc/fornaxee.properties is not text ({e})"),
                        fix_build,
                    )
                })?;
            }
            "bin/fornaxee" => has_bin = true,
            r if r.starts_with("flink-lib/") && r.ends_with(".jar") && !r[10..].contains('/') => {
                let name = r[10..].to_string();
                std::fs::create_dir_all(jars_dir)
                    .map_err(|e| Error::io(format!("cannot create {}", jars_dir.display()), e))?;
                let local = jars_dir.join(&name);
                let mut data = Vec::new();
                entry.read_to_end(&mut data).map_err(|e| {
                    refuse(
                        tgz,
                        format!("cannot read flink-lib/{name} ({e})"),
                        fix_build,
                    )
                })?;
                std::fs::write(&local, &data)
                    .map_err(|e| Error::io(format!("cannot write {}", local.display()), e))?;
                jars.push(Jar {
                    name,
                    local,
                    sha512: hex::encode(Sha512::digest(&data)),
                    size: data.len() as u64,
                });
            }
            _ => {}
        }
    }
    let want_top = format!("fornaxee-{version}");
    if tops.len() != 1 {
        return Err(refuse(
            tgz,
            format!(
                "it has {} top directories ({}), not one",
                tops.len(),
                tops.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
            &format!("pack everything under one directory {want_top}/"),
        ));
    }
    let top = tops.into_iter().next().unwrap_or_default();
    if top != want_top {
        return Err(refuse(
            tgz,
            format!("its top directory is {top}/, not {want_top}/"),
            "name the file after the version inside it, or repack the bundle",
        ));
    }
    let Some(text) = manifest_text else {
        return Err(refuse(
            tgz,
            format!("{top}/bundle.yaml is missing"),
            "add bundle.yaml with name, version, flink, http_port and health",
        ));
    };
    let manifest: Manifest = serde_yaml::from_str(&text).map_err(|e| {
        refuse(
            tgz,
            format!("{top}/bundle.yaml: {e}"),
            "bundle.yaml has exactly the keys name, version, flink, http_port and health",
        )
    })?;
    if manifest.version != version {
        return Err(refuse(
            tgz,
            format!(
                "bundle.yaml says version {}, the file name says {version}",
                manifest.version
            ),
            "use the bundle as Fornaxee's build produced it",
        ));
    }
    let range = semver::VersionReq::parse(&manifest.flink).map_err(|e| {
        refuse(
            tgz,
            format!(
                "bundle.yaml: flink `{}` is not a version range ({e})",
                manifest.flink
            ),
            "write the range as comparators, e.g. flink: \">=1.9, <1.12\"",
        )
    })?;
    if !manifest.health.starts_with('/') {
        return Err(refuse(
            tgz,
            format!(
                "bundle.yaml: health `{}` is not an HTTP path",
                manifest.health
            ),
            "write the path that answers 200, e.g. health: /rest/v1/ping",
        ));
    }
    if !has_bin {
        return Err(refuse(
            tgz,
            format!("{top}/bin/fornaxee is missing"),
            "the bundle must carry bin/fornaxee, whose `run` starts the service",
        ));
    }
    jars.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Bundle {
        top_dir: top,
        manifest,
        range,
        jars,
        default_properties: properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
        let tgz = dir.join("fornaxee-2.3.0.tgz");
        let f = std::fs::File::create(&tgz).unwrap();
        let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
            f,
            flate2::Compression::fast(),
        ));
        for (name, text) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(text.len() as u64);
            h.set_mode(0o755);
            h.set_cksum();
            b.append_data(&mut h, name, text.as_bytes()).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap();
        tgz
    }

    const MANIFEST: &str = "name: fornaxee\nversion: 2.3.0\nflink: \">=1.9, <1.12\"\nhttp_port: 18630\nhealth: /rest/v1/ping\n";

    #[test]
    fn a_good_bundle_and_its_jars() {
        let d = tempfile::tempdir().unwrap();
        let tgz = pack(
            d.path(),
            &[
                ("fornaxee-2.3.0/bundle.yaml", MANIFEST),
                ("fornaxee-2.3.0/bin/fornaxee", "#!/bin/sh\n"),
                (
                    "fornaxee-2.3.0/etc/fornaxee.properties",
                    "http.port=18630\n",
                ),
                ("fornaxee-2.3.0/flink-lib/c.jar", "jar"),
            ],
        );
        let b = inspect(&tgz, "2.3.0", &d.path().join("jars")).unwrap();
        assert!(b.supports("1.9.3") && b.supports("1.11.4") && !b.supports("1.12.0"));
        assert_eq!(b.jars.len(), 1);
        assert_eq!(std::fs::read(&b.jars[0].local).unwrap(), b"jar");
        assert_eq!(b.default_properties, "http.port=18630\n");
    }

    #[test]
    fn bad_bundles_say_what_and_how() {
        let d = tempfile::tempdir().unwrap();
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("fornaxee-2.3.0/bin/fornaxee", "x")], "bundle.yaml is missing"),
            (
                &[
                    ("fornaxee-2.3.0/bundle.yaml", "name: fornaxee\nversion: 2.3.0\nflink: \">=1.9\"\nhttp_port: 1\nhealth: /p\ncolour: blue\n"),
                    ("fornaxee-2.3.0/bin/fornaxee", "x"),
                ],
                "unknown field `colour`",
            ),
            (
                &[
                    ("fornaxee-2.3.0/bundle.yaml", "name: fornaxee\nversion: 2.3.0\nflink: \"about 1.9\"\nhttp_port: 1\nhealth: /p\n"),
                    ("fornaxee-2.3.0/bin/fornaxee", "x"),
                ],
                "is not a version range",
            ),
            (
                &[
                    ("fornaxee-2.3.0/bundle.yaml", MANIFEST),
                    ("other/bin/fornaxee", "x"),
                ],
                "2 top directories",
            ),
        ];
        for (files, want) in cases {
            let tgz = pack(d.path(), files);
            let e = inspect(&tgz, "2.3.0", &d.path().join("jars")).unwrap_err();
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains(want), "{e}");
            assert!(e.to_string().contains("nothing was changed"), "{e}");
        }
    }
}
