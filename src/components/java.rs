//! A Java runtime flinkup installs (`java:`) on hosts whose own Java is missing or outside the
//! Flink release's range (or on every host, `install: always`): a JDK tarball unpacked under
//! `home_dir`, named after the archive, marked with the archive's sha512 so flinkup knows it put
//! it there. Flink (and Fornaxee) then run with it as their Java home; hosts whose Java fits are
//! left alone; destroy removes only runtimes flinkup installed. Once a host runs flinkup's
//! runtime it keeps it (a host's Java changing later does not restart the cluster).

use std::io::Read;
use std::path::Path;

use futures_util::future::BoxFuture;
use serde::Serialize;

use super::flink::plan::resolve;
use super::flink::FlinkFactsOf;
use super::{Component, PlanCtx, ProbeAsk, Verb};
use crate::error::{Error, Result};
use crate::facts::{HostFacts, MachineProbe, Part};
use crate::fleet::{Fleet, HostId};
use crate::inventory::{Artifact, Cluster, JavaInstall};
use crate::plan::{Action, ArtifactState, CheckStep, ComponentInfo, Finding, Plan, Stage};
use crate::remote::qp;
use crate::report::Reporter;

pub const NAME: &str = "Java";

/// The validated `java:` section.
#[derive(Debug, Clone, Serialize)]
pub struct Runtime {
    pub artifact: Artifact,
    /// Where runtimes are unpacked, one directory per archive; may start with `~/`.
    pub home_dir: String,
    pub install: JavaInstall,
}

impl Runtime {
    /// The runtime's directory: `home_dir`/the archive's name without `.tar.gz`/`.tgz`.
    pub fn home(&self) -> String {
        let f = &self.artifact.file_name;
        let stem = f
            .strip_suffix(".tar.gz")
            .or_else(|| f.strip_suffix(".tgz"))
            .unwrap_or(f);
        format!("{}/{stem}", self.home_dir.trim_end_matches('/'))
    }
}

/// The JDK archive on the operator's machine, fetched and verified, and what is inside.
#[derive(Debug, Clone)]
pub struct JdkAtHand {
    pub art: ArtifactState,
    /// The archive's one top directory.
    pub top_dir: String,
    /// `JAVA_VERSION` from its `release` file: `17.0.21`.
    pub version: String,
    pub major: u32,
}

/// Reads a JDK tarball: its one top directory and the `release` file's `JAVA_VERSION`; an
/// archive without them is not a JDK flinkup can install.
pub fn inspect(path: &Path) -> Result<(String, String, u32)> {
    let not = |why: String| {
        Error::Usage(format!(
            "{} is not a JDK tarball flinkup can install: {why}; give java.artifact a JDK's .tar.gz (one top directory holding bin/java and the release file)",
            path.display()
        ))
    };
    let file = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {}", path.display()), e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::io::BufReader::new(file)));
    let mut top: Option<String> = None;
    let (mut version, mut java) = (None, false);
    let entries = tar
        .entries()
        .map_err(|e| not(format!("not a gzip'd tar ({e})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| not(format!("cannot be read ({e})")))?;
        let p = entry
            .path()
            .map_err(|e| not(e.to_string()))?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut parts = p.splitn(2, '/');
        let first = parts.next().unwrap_or_default().to_string();
        let rest = parts.next().unwrap_or_default().trim_end_matches('/');
        if first.is_empty() {
            continue;
        }
        match &top {
            None => top = Some(first.clone()),
            Some(t) if *t != first => {
                return Err(not(format!("it has several top entries ({t}, {first})")))
            }
            Some(_) => {}
        }
        match rest {
            "release" => {
                let mut text = String::new();
                entry
                    .read_to_string(&mut text)
                    .map_err(|e| not(format!("its release file cannot be read ({e})")))?;
                version = text.lines().find_map(|l| {
                    l.strip_prefix("JAVA_VERSION=")
                        .map(|v| v.trim().trim_matches('"').to_string())
                });
            }
            "bin/java" => java = true,
            _ => {}
        }
        if java && version.is_some() {
            break;
        }
    }
    let top = top.ok_or_else(|| not("it is empty".into()))?;
    if !java {
        return Err(not(format!("{top}/bin/java is not in it")));
    }
    let version = version.ok_or_else(|| not(format!("{top}/release names no JAVA_VERSION")))?;
    let major = feature(&version)
        .ok_or_else(|| not(format!("its JAVA_VERSION {version} is not a Java version")))?;
    Ok((top, version, major))
}

/// The feature release of a `release` file's JAVA_VERSION (`17.0.21`, `1.8.0_292`).
fn feature(version: &str) -> Option<u32> {
    super::flink::probe::java_major(&format!("\"{version}\""))
}

/// A runtime flinkup installed on a host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Installed {
    pub dir: String,
    /// The sha512 of the archive it came from.
    pub sha512: String,
    pub version: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct JavaFacts {
    /// Every runtime flinkup installed under home_dir.
    pub installed: Vec<Installed>,
}

fn facts(f: &HostFacts) -> &JavaFacts {
    f.parts.get_or_empty()
}

/// The Java that runs Flink (and Fornaxee) on a host.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    /// The java binary.
    pub java: String,
    /// Its feature release (None: flinkup's runtime, not at hand yet).
    pub major: Option<u32>,
    /// flinkup's runtime: the Java home Flink's `env.java.home` (Fornaxee's `JAVA_HOME`) names.
    pub runtime: Option<String>,
    /// Why, in the plan's words.
    pub why: String,
}

/// flinkup's runtime on this host, when it is installed there from the inventory's archive.
fn present<'a>(
    rt: &Runtime,
    f: &'a HostFacts,
    jdk: Option<&JdkAtHand>,
    sha: Option<&str>,
) -> Option<&'a Installed> {
    let home = resolve(&rt.home(), f.machine.home.as_deref());
    let sha = jdk.and_then(|j| j.art.sha512.as_deref()).or(sha);
    facts(f)
        .installed
        .iter()
        .find(|i| i.dir == home && sha.is_none_or(|s| s == i.sha512))
}

/// The pinned sha512 of the runtime's archive, when the inventory gives one.
fn pinned(rt: &Runtime) -> Option<&str> {
    rt.artifact
        .checksum
        .pinned
        .as_ref()
        .filter(|p| p.algorithm == crate::inventory::HashAlgo::Sha512)
        .map(|p| p.hex.as_str())
}

/// Which Java runs Flink on the host of these facts, and why; None when nothing is known to (no Java there and no
/// runtime in the inventory, or a plan made offline).
pub fn chosen(c: &Cluster, f: &HostFacts, jdk: Option<&JdkAtHand>) -> Option<Chosen> {
    let own = f.flink().java.as_ref();
    let own_choice = || {
        own.map(|j| Chosen {
            java: j.path.clone(),
            major: Some(j.major),
            runtime: None,
            why: String::new(),
        })
    };
    let Some(rt) = &c.java else {
        return own_choice();
    };
    let range = super::flink::catalogue::release(c.version).map(|r| r.java_range());
    let home = resolve(&rt.home(), f.machine.home.as_deref());
    let ours = |why: String, major: Option<u32>| {
        Some(Chosen {
            java: format!("{home}/bin/java"),
            major: major.or(jdk.map(|j| j.major)),
            runtime: Some(home.clone()),
            why,
        })
    };
    if let Some(i) = present(rt, f, jdk, pinned(rt)) {
        let major = i.version.as_deref().and_then(feature);
        return ours("flinkup's runtime, installed here earlier".into(), major);
    }
    if rt.install == JavaInstall::Always {
        return ours("java.install: always".into(), None);
    }
    if !f.gathered {
        return own_choice();
    }
    match (own, range) {
        (None, _) => ours("no Java here".into(), None),
        (Some(j), Some((min, max))) if j.major < min || j.major > max => ours(
            format!(
                "Java {} here ({}); Flink {} runs on Java {min} to {max}",
                j.major, j.path, c.version
            ),
            None,
        ),
        (Some(j), _) => Some(Chosen {
            why: format!("its own Java {} fits Flink {}", j.major, c.version),
            ..own_choice()?
        }),
    }
}

/// Whether some host needs the runtime's archive: it runs flinkup's runtime and does not have
/// it yet. `sha`: the archive's sha512 as far as known.
pub fn archive_needed(c: &Cluster, facts: &crate::facts::Facts) -> bool {
    let Some(rt) = &c.java else {
        return false;
    };
    c.hosts.iter().any(|h| {
        let f = facts.host(&HostId::of(h));
        chosen(c, f, None).is_some_and(|ch| ch.runtime.is_some())
            && present(rt, f, None, pinned(rt)).is_none()
    })
}

pub struct Java;

impl Java {
    fn deploy(&self, ctx: &PlanCtx, plan: &mut Plan, rt: &Runtime) {
        let c = ctx.cluster();
        let jdk = ctx.jdk;
        let range = super::flink::catalogue::release(c.version).map(|r| r.java_range());
        if let (Some(j), Some((min, max))) = (jdk, range) {
            if j.major < min || j.major > max {
                plan.preflight.push(Finding::error(
                    None,
                    format!(
                        "{} is Java {} ({}); Flink {} runs on Java {min} to {max}",
                        rt.artifact.file_name, j.major, j.version, c.version
                    ),
                    format!("give java.artifact a JDK {min}–{max}"),
                ));
            }
        }
        let mut stage = Stage::new("java", Some(NAME));
        stage.if_failed = "Nothing was started or stopped; a runtime half unpacked is not in place. Fix the cause and run again.".into();
        let coordinator = HostId::of(c.jobmanager());
        for h in &c.hosts {
            let id = HostId::of(h);
            let f = ctx.facts.host(&id);
            let Some(ch) = chosen(c, f, jdk) else {
                continue;
            };
            let Some(home) = &ch.runtime else {
                continue;
            };
            if present(rt, f, jdk, pinned(rt)).is_some() {
                continue;
            }
            let state = resolve(&c.state_dir(), f.machine.home.as_deref());
            let empty = ArtifactState::default();
            stage.extend_host(
                &id,
                crate::plan::ReleaseInstall {
                    art: jdk.map_or(&empty, |j| &j.art),
                    file: &rt.artifact.file_name,
                    archive: format!("{state}/{}", rt.artifact.file_name),
                    release: home.clone(),
                    top_dir: jdk.map_or_else(
                        || "(its top directory, read once fetched)".into(),
                        |j| j.top_dir.clone(),
                    ),
                    staging: state,
                    have: false,
                    keep: id == coordinator,
                    download: None,
                }
                .actions(),
            );
        }
        if !stage.steps.is_empty() {
            let at = plan
                .stages
                .iter()
                .position(|s| {
                    s.component
                        .is_some_and(|x| x.as_str() == super::flink::NAME)
                        && !matches!(s.name.as_str(), "ha storage" | "trust")
                })
                .unwrap_or(plan.stages.len());
            plan.insert_stages(at, vec![stage]);
        }
    }

    fn destroy(&self, ctx: &PlanCtx, plan: &mut Plan) {
        let c = ctx.cluster();
        let mut stage = Stage::new("java remove", Some(NAME));
        for h in &c.hosts {
            let id = HostId::of(h);
            let trees: Vec<String> = facts(ctx.facts.host(&id))
                .installed
                .iter()
                .map(|i| i.dir.clone())
                .collect();
            if !trees.is_empty() {
                stage.push(
                    &id,
                    Action::Remove {
                        link: None,
                        trees,
                        state_dir: None,
                    },
                );
            }
        }
        if !stage.steps.is_empty() {
            plan.stages.push(stage);
        }
    }
}

impl Component for Java {
    fn name(&self) -> &'static str {
        NAME
    }

    fn in_inventory(&self, c: &Cluster) -> bool {
        c.java.is_some()
    }

    fn probe(&self, c: &Cluster, _: &HostId, _: &ProbeAsk, _: &mut MachineProbe) -> Option<String> {
        let rt = c.java.as_ref()?;
        // `~/` stays outside the quotes so the host's shell expands it.
        let dir = rt.home_dir.trim_end_matches('/');
        let dir = match dir.strip_prefix("~/") {
            Some(rest) => format!("\"$HOME\"/{}", qp(rest)),
            None => qp(dir),
        };
        Some(format!(
            r#"for d in {dir}/*/; do d=${{d%/}}; if [ -f "$d/.flinkup-sha512" ] && [ -x "$d/bin/java" ]; then echo "java.installed=$d|$(cat "$d/.flinkup-sha512")|$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$d/release" 2>/dev/null)"; fi; done"#
        ))
    }

    fn parse(&self, _: &Cluster, _: &HostId, _: &ProbeAsk, out: &str) -> Box<dyn Part> {
        let mut f = JavaFacts::default();
        for v in out
            .lines()
            .filter_map(|l| l.strip_prefix("java.installed="))
        {
            let mut it = v.splitn(3, '|');
            if let (Some(dir), Some(sha)) = (it.next(), it.next()) {
                f.installed.push(Installed {
                    dir: dir.to_string(),
                    sha512: sha.trim().to_string(),
                    version: it
                        .next()
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string),
                });
            }
        }
        Box::new(f)
    }

    fn plan(&self, ctx: &PlanCtx, plan: &mut Plan) -> Result<()> {
        let c = ctx.cluster();
        let Some(rt) = &c.java else {
            return Ok(());
        };
        plan.components.push(ComponentInfo {
            name: NAME.into(),
            version: ctx
                .jdk
                .map_or_else(|| "from the archive".into(), |j| j.version.clone()),
            detail: "a runtime flinkup installs".into(),
            artifact: (ctx.verb == Verb::Deploy)
                .then(|| super::flink::plan::artifact_info(&rt.artifact, ctx.jdk.map(|_| true))),
            summary: match rt.install {
                JavaInstall::Always => format!("on every host, under {}", rt.home_dir),
                JavaInstall::Missing => format!(
                    "where a host's Java is missing or outside Flink {}'s range, under {}",
                    c.version, rt.home_dir
                ),
            },
        });
        match ctx.verb {
            Verb::Deploy => self.deploy(ctx, plan, rt),
            Verb::Destroy => self.destroy(ctx, plan),
            _ => {}
        }
        Ok(())
    }

    fn run_check<'a>(
        &'a self,
        step: &'a CheckStep,
        _: &'a HostId,
        _: &'a Fleet,
        _: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            Err(Error::Failed(format!(
                "the Java runtime has no {} check",
                step.kind
            )))
        })
    }
}

/// The `java:` section: an archive (required), where runtimes go (default `<install_dir>/java`),
/// and on which hosts.
pub(crate) fn validate(
    c: &mut crate::inventory::validate::Checker,
    raw: &crate::inventory::schema::RawJava,
    install_dir: &str,
) -> Option<Runtime> {
    if !raw
        .artifact
        .as_ref()
        .is_some_and(|a| a.url.is_some() || a.path.is_some())
    {
        c.error(
            &["java"],
            "java has no artifact",
            "add `artifact: {path: OpenJDK17U-jdk_x64_linux_hotspot_17.0.13_11.tar.gz, sha512: …}` (or `url:`): a JDK tarball",
        );
        return None;
    }
    let artifact = crate::inventory::validate::artifact_at(
        c,
        "java",
        raw.artifact.as_ref(),
        String::new(),
        String::new(),
        None,
    )?;
    let f = &artifact.file_name;
    if !(f.ends_with(".tar.gz") || f.ends_with(".tgz")) || f.starts_with('.') {
        c.error(
            &["java", "artifact"],
            format!("the runtime's file name `{f}` is not a .tar.gz or .tgz archive"),
            "give a JDK tarball, as the JDK's vendor ships it for Linux (…_linux_….tar.gz)",
        );
        return None;
    }
    let home_dir = raw.home_dir.as_deref().map_or_else(
        || format!("{install_dir}/java"),
        |d| d.trim_end_matches('/').to_string(),
    );
    let rt = Runtime {
        artifact,
        home_dir,
        install: raw.install.unwrap_or(JavaInstall::Missing),
    };
    if let Err(e) = crate::inventory::units::check_remote_path(&rt.home()) {
        let at: &[&str] = if raw.home_dir.is_some() {
            &["java", "home_dir"]
        } else {
            &["java", "artifact"]
        };
        c.error(
            at,
            format!("the runtime's Java home: {e}"),
            "Flink's scripts run java from there: choose a home_dir (and an archive name) of plain characters",
        );
        return None;
    }
    Some(rt)
}
