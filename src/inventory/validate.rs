//! Resolves defaults and checks every inventory rule, collecting all problems in one pass.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::Spans;
use super::schema::{
    RawArtifact, RawFornaxee, RawHost, RawInventory, RawSmoke, RawSsh, Scalar, SmokeWhen,
};
use super::units::{self, parse_memory, MIB};
use super::{
    Artifact, Checksum, Cluster, Connection, Diagnostic, Distribution, ExternalFlink, Fornaxee,
    HashAlgo, Host, KnownHosts, LoadOptions, Pinned, Smoke, StartMode, Version,
};
use crate::components::flink::keys::{self as flink_keys, KeyCheck};

/// Flink versions flinkup knows how to install and configure.
pub const SUPPORTED: &[(u32, u32, u32)] = &[(1, 9, 3), (1, 10, 3), (1, 11, 6)];
const SCALAS: &[&str] = &["2.11", "2.12"];

/// The keys the deployment guide sets, in the guide's order; they open flink-conf.yaml.
pub const GUIDE_KEYS: &[(&str, &str)] = &[
    ("jobmanager.rpc.address", "address of the JobManager"),
    ("jobmanager.rpc.port", "RPC port inside the cluster"),
    ("jobmanager.heap.size", "JVM heap of the JobManager"),
    ("taskmanager.heap.size", "JVM heap of each TaskManager"),
    (
        "taskmanager.numberOfTaskSlots",
        "task slots per TaskManager",
    ),
    ("parallelism.default", "default parallelism of a job"),
    ("rest.port", "port of the REST API and web UI"),
    (
        "jobmanager.web.submit.enable",
        "whether jobs may be submitted from the web UI",
    ),
];

pub const DEFAULT_RPC_PORT: u16 = 6123;
pub const DEFAULT_REST_PORT: u16 = 8081;

pub struct Ctx<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub spans: &'a Spans,
    pub base: &'a Path,
    pub opts: LoadOptions,
}

struct Checker<'a> {
    ctx: &'a Ctx<'a>,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn located(&self, d: Diagnostic, path: &[&str], key: bool) -> Diagnostic {
        let pos = if key {
            self.ctx.spans.key(path)
        } else {
            self.ctx.spans.value(path)
        };
        match pos {
            Some(p) => d.at(self.ctx.file, self.ctx.text, p),
            None => d.in_file(self.ctx.file),
        }
    }

    fn error(&mut self, path: &[&str], message: impl Into<String>, help: impl Into<String>) {
        let d = self.located(Diagnostic::error(message).help(help), path, false);
        self.diags.push(d);
    }

    fn key_error(&mut self, path: &[&str], message: impl Into<String>, help: impl Into<String>) {
        let d = self.located(Diagnostic::error(message).help(help), path, true);
        self.diags.push(d);
    }

    fn warn(&mut self, path: &[&str], message: impl Into<String>, help: Option<String>) {
        let d = self.located(Diagnostic::warning(message).help_opt(help), path, true);
        self.diags.push(d);
    }
}

pub fn validate(ctx: &Ctx, raw: RawInventory) -> (Option<Cluster>, Vec<Diagnostic>) {
    let mut c = Checker {
        ctx,
        diags: Vec::new(),
    };
    let cluster = build(&mut c, raw);
    (cluster, c.diags)
}

fn build(c: &mut Checker, raw: RawInventory) -> Option<Cluster> {
    if raw.cluster.trim().is_empty() || raw.cluster.chars().any(|ch| ch.is_control()) {
        c.error(
            &["cluster"],
            "the cluster name is empty or contains a control character",
            "give the cluster a one-line name, e.g. `cluster: fornaxee-demo`",
        );
    }
    let version = version(c, raw.flink.version.as_ref());
    let scala = scala(c, raw.flink.scala.as_ref());
    let install_dir = raw
        .flink
        .install_dir
        .clone()
        .unwrap_or_else(|| "/opt".into());
    if let Err(e) = units::check_remote_path(&install_dir) {
        c.error(
            &["flink", "install_dir"],
            format!("install_dir: {e}"),
            "use an absolute path such as /opt, or ~/flink for the ssh user's home",
        );
    }
    if let Some(j) = &raw.flink.java_home {
        if let Err(e) = units::check_remote_path(j) {
            c.error(
                &["flink", "java_home"],
                format!("java_home: {e}"),
                "use the absolute path of a JDK, e.g. /usr/lib/jvm/java-11",
            );
        }
    }
    let hosts = hosts(c, &raw);
    let (config, ports) = config(
        c,
        &raw,
        version,
        hosts
            .as_ref()
            .and_then(|h| h.first())
            .map(|h| h.name.as_str()),
    );
    let verify_timeout = timeout(c, raw.verify.timeout.as_ref());
    let smoke = smoke(c, raw.verify.smoke.as_ref());
    let keep_releases = match raw.flink.keep_releases {
        None => Some(2),
        Some(n) if (1..=100).contains(&n) => Some(n as usize),
        Some(n) => {
            c.error(
                &["flink", "keep_releases"],
                format!("keep_releases {n} is out of range"),
                "keep 1 to 100 releases per host; 2 (the default) leaves one to roll back to",
            );
            None
        }
    };
    let relay_fanout = match raw.relay_fanout {
        None => Some(3),
        Some(n) if (1..=32).contains(&n) => Some(n as usize),
        Some(n) => {
            c.error(
                &["relay_fanout"],
                format!("relay_fanout {n} is out of range"),
                "let one host send to 1 to 32 others; 3 (the default) keeps a host's LAN link well above the operator's",
            );
            None
        }
    };
    let templates_dir = raw.templates_dir.as_ref().and_then(|d| {
        if std::path::Path::new(d)
            .components()
            .any(|x| x == std::path::Component::ParentDir)
        {
            c.error(
                &["templates_dir"],
                format!("templates_dir `{d}` climbs out with `..`"),
                "keep templates in a directory at or below the inventory's own directory",
            );
            return None;
        }
        let p = c.ctx.base.join(d);
        if p.is_dir() {
            Some(p)
        } else {
            c.error(
                &["templates_dir"],
                format!(
                    "templates_dir `{d}` is not a directory (looked at {})",
                    p.display()
                ),
                "create it, or remove templates_dir to use the built-in templates",
            );
            None
        }
    });
    let fornaxee = raw
        .fornaxee
        .as_ref()
        .map(|f| fornaxee(c, &raw, f, install_dir.trim_end_matches('/')));
    let version = version?;
    let scala = scala?;
    let artifact = artifact(c, raw.flink.artifact.as_ref(), version, &scala);
    let (mut hosts, ports, artifact) = (hosts?, ports?, artifact?);
    let fornaxee = match fornaxee {
        Some(f) => {
            let (f, fx_hosts) = f?;
            for h in fx_hosts {
                match hosts.iter_mut().find(|x| x.name == h.name) {
                    Some(existing) => existing.fornaxee = true,
                    None => hosts.push(Host {
                        fornaxee: true,
                        ..h
                    }),
                }
            }
            Some(f)
        }
        None => None,
    };
    let tm_order = raw
        .taskmanagers
        .iter()
        .filter_map(|t| hosts.iter().position(|h| h.name == t.name()))
        .collect();
    Some(Cluster {
        name: raw.cluster.clone(),
        source: PathBuf::new(),
        version,
        scala,
        artifact,
        install_dir: install_dir.trim_end_matches('/').to_string(),
        start: raw.flink.start.unwrap_or(StartMode::ClusterScript),
        keep_releases: keep_releases?,
        hosts,
        tm_order,
        rpc_port: ports.rpc,
        // A Flink client talks to the existing cluster's REST port.
        rest_port: fornaxee
            .as_ref()
            .and_then(|f| f.flink.as_ref())
            .map_or(ports.rest, |e| e.port),
        slots: ports.slots,
        jobmanager_heap: ports.jm_heap,
        taskmanager_heap: ports.tm_heap,
        config,
        verify_timeout: verify_timeout.unwrap_or(Duration::from_secs(120)),
        smoke: smoke?,
        templates_dir,
        distribution: raw.distribution.unwrap_or(
            if raw.flink.start.unwrap_or(StartMode::ClusterScript) == StartMode::ClusterScript
                && raw
                    .fornaxee
                    .as_ref()
                    .and_then(|f| f.flink.as_ref())
                    .is_none()
            {
                Distribution::Relay
            } else {
                Distribution::Fanout
            },
        ),
        relay_fanout: relay_fanout?,
        fornaxee,
    })
}

/// The `fornaxee:` section; its hosts come back separately, to be merged with the cluster's.
fn fornaxee(
    c: &mut Checker,
    raw: &RawInventory,
    f: &RawFornaxee,
    flink_install_dir: &str,
) -> Option<(Fornaxee, Vec<Host>)> {
    let mut ok = true;
    let external = f.flink.as_ref().and_then(|x| external_flink(c, raw, x));
    if f.flink.is_some() && external.is_none() {
        ok = false;
    }
    let has_source = f
        .artifact
        .as_ref()
        .is_some_and(|a| a.url.is_some() || a.path.is_some());
    if !has_source {
        c.error(
            &["fornaxee"],
            "fornaxee has no artifact",
            "add `artifact: {path: fornaxee-<version>.tgz}` (or `url:`), with its sha512",
        );
        return None;
    }
    let artifact = artifact_at(
        c,
        "fornaxee",
        f.artifact.as_ref(),
        String::new(),
        String::new(),
        None,
    );
    let version = artifact.as_ref().and_then(|a| {
        let v = a
            .file_name
            .strip_prefix("fornaxee-")
            .and_then(|r| r.strip_suffix(".tgz"))
            .filter(|v| {
                v.starts_with(|ch: char| ch.is_ascii_digit())
                    && v.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '-' | '_' | '+'))
            });
        if v.is_none() {
            c.error(
                &["fornaxee", "artifact"],
                format!(
                    "the bundle's file name `{}` is not fornaxee-<version>.tgz",
                    a.file_name
                ),
                "use the file as Fornaxee's build names it, e.g. fornaxee-2.3.0.tgz",
            );
        }
        v.map(str::to_string)
    });
    if f.hosts.is_empty() {
        c.error(
            &["fornaxee", "hosts"],
            "fornaxee has no hosts",
            "list the hosts that run Fornaxee: `hosts: [192.168.1.100]`",
        );
        ok = false;
    }
    let mut hosts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, h) in f.hosts.iter().enumerate() {
        let idx = i.to_string();
        let path = ["fornaxee", "hosts", idx.as_str()];
        if !seen.insert(h.name().to_string()) {
            c.error(
                &path,
                format!("`{}` is listed twice in fornaxee.hosts", h.name()),
                "list each host once",
            );
            ok = false;
            continue;
        }
        match make_host(c, raw, h, &path) {
            Some(h) => hosts.push(h),
            None => ok = false,
        }
    }
    let install_dir = f
        .install_dir
        .clone()
        .unwrap_or_else(|| flink_install_dir.to_string())
        .trim_end_matches('/')
        .to_string();
    let mut dir = |key: &'static str, value: Option<&String>, default: String| -> String {
        let d = value.cloned().unwrap_or(default);
        if let Err(e) = units::check_remote_path(&d) {
            c.error(
                &["fornaxee", key],
                format!("{key}: {e}"),
                "use an absolute path such as /var/lib/fornaxee",
            );
            ok = false;
        }
        d.trim_end_matches('/').to_string()
    };
    let install_dir = dir("install_dir", Some(&install_dir), String::new());
    let data_dir = dir(
        "data_dir",
        f.data_dir.as_ref(),
        format!("{install_dir}/fornaxee-data"),
    );
    let log_dir = dir(
        "log_dir",
        f.log_dir.as_ref(),
        format!("{install_dir}/fornaxee-logs"),
    );
    let heap_text = f
        .heap
        .as_ref()
        .map(Scalar::render)
        .unwrap_or_else(|| "1024m".into());
    let heap = match parse_memory(&heap_text) {
        Ok(b) => Some(b),
        Err(e) => {
            c.error(
                &["fornaxee", "heap"],
                format!("heap `{heap_text}`: {e}"),
                "give a size with a unit, e.g. 1024m or 2g",
            );
            None
        }
    };
    let mut properties = BTreeMap::new();
    for (key, value) in &f.properties {
        let text = value.render();
        let bad_key = key.is_empty()
            || !key
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'));
        if bad_key {
            c.key_error(
                &["fornaxee", "properties", key.as_str()],
                format!(
                    "property key `{}` is not a dotted name",
                    key.escape_default()
                ),
                "keys are letters, digits, `.`, `_` and `-`, e.g. http.port",
            );
            ok = false;
        } else if text.contains('\n') || text.contains('\r') {
            c.error(
                &["fornaxee", "properties", key.as_str()],
                format!("property `{key}` spans several lines"),
                "write the value on one line",
            );
            ok = false;
        } else {
            properties.insert(key.clone(), text);
        }
    }
    if let Some(p) = properties.get("http.port") {
        if p.parse::<u16>().map_or(true, |p| p == 0) {
            c.error(
                &["fornaxee", "properties", "http.port"],
                format!("http.port `{p}` is not a port"),
                "use a port from 1 to 65535, e.g. 18630",
            );
            ok = false;
        }
    }
    let (artifact, version, heap) = (artifact?, version?, heap?);
    ok.then(|| {
        (
            Fornaxee {
                artifact,
                version,
                hosts: hosts.iter().map(|h| h.name.clone()).collect(),
                install_dir,
                heap,
                properties,
                data_dir,
                log_dir,
                flink: external,
            },
            hosts,
        )
    })
}

/// `fornaxee.flink`: an existing cluster's REST address, and optional ssh access to its hosts.
fn external_flink(
    c: &mut Checker,
    raw: &RawInventory,
    x: &super::schema::RawExternalFlink,
) -> Option<ExternalFlink> {
    let Some(rest) = &x.rest else {
        c.error(
            &["fornaxee", "flink"],
            "fornaxee.flink has no `rest`",
            "give the existing cluster's REST address, e.g. `rest: http://10.0.0.5:8081`",
        );
        return None;
    };
    let parsed = reqwest::Url::parse(rest).ok().filter(|u| {
        matches!(u.scheme(), "http" | "https") && u.host_str().is_some() && u.port().is_some()
    });
    let Some(url) = parsed else {
        c.error(
            &["fornaxee", "flink", "rest"],
            format!("`{rest}` is not an http:// address with a host and a port"),
            "write it as Flink's web UI shows it, e.g. http://10.0.0.5:8081",
        );
        return None;
    };
    let mut ok = true;
    let mut hosts = Vec::new();
    for (i, h) in x.hosts.iter().enumerate() {
        let idx = i.to_string();
        match make_host(c, raw, h, &["fornaxee", "flink", "hosts", idx.as_str()]) {
            Some(h) => hosts.push(h),
            None => ok = false,
        }
    }
    let home = x.home.clone().unwrap_or_else(|| "/opt/flink".into());
    if let Err(e) = units::check_remote_path(&home) {
        c.error(
            &["fornaxee", "flink", "home"],
            format!("home: {e}"),
            "give Flink's home on those hosts, e.g. /opt/flink",
        );
        ok = false;
    }
    ok.then(|| ExternalFlink {
        rest: rest.trim_end_matches('/').to_string(),
        host: url.host_str().unwrap_or_default().to_string(),
        port: url.port().unwrap_or(8081),
        hosts,
        home: home.trim_end_matches('/').to_string(),
    })
}

fn version(c: &mut Checker, v: Option<&Scalar>) -> Option<Version> {
    let text = v.map(Scalar::render).unwrap_or_else(|| "1.9.2".into());
    let supported = SUPPORTED
        .iter()
        .map(|(a, b, p)| format!("{a}.{b}.0–{a}.{b}.{p}"))
        .collect::<Vec<_>>()
        .join(", ");
    let parts: Vec<Option<u32>> = text.split('.').map(|p| p.parse().ok()).collect();
    let parsed = match parts.as_slice() {
        [Some(a), Some(b), Some(p)] => Some(Version {
            major: *a,
            minor: *b,
            patch: *p,
        }),
        _ => None,
    };
    match parsed {
        Some(ver)
            if SUPPORTED
                .iter()
                .any(|(a, b, p)| ver.major == *a && ver.minor == *b && ver.patch <= *p) =>
        {
            Some(ver)
        }
        Some(ver) => {
            c.error(
                &["flink", "version"],
                format!("Flink {ver} is not supported"),
                format!("supported versions: {supported}"),
            );
            None
        }
        None => {
            c.error(
                &["flink", "version"],
                format!("`{text}` is not a Flink version"),
                "write the full release number in quotes, e.g. `version: \"1.9.2\"`",
            );
            None
        }
    }
}

fn scala(c: &mut Checker, s: Option<&Scalar>) -> Option<String> {
    let text = s.map(Scalar::render).unwrap_or_else(|| "2.11".into());
    if SCALAS.contains(&text.as_str()) {
        Some(text)
    } else {
        c.error(
            &["flink", "scala"],
            format!("Scala `{text}` is not a Flink binary flavour"),
            "use \"2.11\" or \"2.12\", in quotes (a bare 2.10 reads as the number 2.1)",
        );
        None
    }
}

fn smoke(c: &mut Checker, s: Option<&RawSmoke>) -> Option<Smoke> {
    let mut out = Smoke {
        when: SmokeWhen::OnStart,
        jar: None,
        args: Vec::new(),
        timeout: Duration::from_secs(120),
    };
    match s {
        None => {}
        Some(RawSmoke::Flag(true)) => out.when = SmokeWhen::Always,
        Some(RawSmoke::Flag(false)) => out.when = SmokeWhen::Never,
        Some(RawSmoke::Map(m)) => {
            out.when = m.when.unwrap_or(SmokeWhen::OnStart);
            out.args = m.args.clone();
            if let Some(j) = &m.jar {
                let p = c.ctx.base.join(j);
                if !p.is_file() {
                    c.error(
                        &["verify", "smoke", "jar"],
                        format!("smoke jar `{j}` is not a file (looked at {})", p.display()),
                        "give the path of a job jar on this machine, relative to the inventory",
                    );
                    return None;
                }
                out.jar = Some(p);
            }
            if let Some(t) = &m.timeout {
                out.timeout = duration_at(c, &["verify", "smoke", "timeout"], t)?;
            }
        }
    }
    Some(out)
}

fn timeout(c: &mut Checker, t: Option<&Scalar>) -> Option<Duration> {
    duration_at(c, &["verify", "timeout"], t?)
}

/// A positive duration: `120s`, `2m`, or a number of seconds.
fn duration_at(c: &mut Checker, path: &[&str], t: &Scalar) -> Option<Duration> {
    let name = path.join(".");
    let parsed = match t {
        Scalar::Int(n) if *n > 0 => Ok(Duration::from_secs(*n as u64)),
        Scalar::Str(s) => units::parse_duration(s),
        other => Err(format!("`{}` is not a duration", other.render())),
    };
    match parsed {
        Ok(d) if !d.is_zero() => Some(d),
        Ok(_) => {
            c.error(
                path,
                format!("{name} is zero"),
                "give the cluster time to start, e.g. `timeout: 120s`",
            );
            None
        }
        Err(e) => {
            c.error(
                path,
                format!("{name}: {e}"),
                "write a duration such as `120s` or `2m`",
            );
            None
        }
    }
}

fn artifact(c: &mut Checker, a: Option<&RawArtifact>, v: Version, scala: &str) -> Option<Artifact> {
    let default_name = format!("flink-{v}-bin-scala_{scala}.tgz");
    let default_url = format!("https://archive.apache.org/dist/flink/flink-{v}/{default_name}");
    artifact_at(
        c,
        "flink",
        a,
        default_name,
        default_url,
        Some(v.to_string()),
    )
}

/// An `artifact:` map under `section`: the same keys and rules for every component.
fn artifact_at(
    c: &mut Checker,
    section: &'static str,
    a: Option<&RawArtifact>,
    default_name: String,
    default_url: String,
    expects_in_name: Option<String>,
) -> Option<Artifact> {
    let empty = RawArtifact::default();
    let a = a.unwrap_or(&empty);
    let mut ok = true;
    let path = |p: &[&'static str]| -> Vec<&'static str> {
        let mut v = vec![section, "artifact"];
        v.extend_from_slice(p);
        v
    };
    if a.url.is_some() && a.path.is_some() {
        c.error(
            &path(&["path"]),
            "artifact has both `url` and `path`",
            "keep `url` to download, or `path` for a local file, not both",
        );
        ok = false;
    }
    if a.sha512.is_some() && a.sha256.is_some() {
        c.error(
            &path(&["sha256"]),
            "artifact pins both sha512 and sha256",
            "pin one of them (sha512 is what Apache publishes)",
        );
        ok = false;
    }
    let urls: Vec<String> = std::iter::once(a.url.clone().unwrap_or(default_url))
        .chain(a.mirrors.iter().cloned())
        .collect();
    let url_fields: Vec<(Vec<&str>, &String)> = a
        .url
        .iter()
        .map(|u| (path(&["url"]), u))
        .chain(a.checksum_url.iter().map(|u| (path(&["checksum_url"]), u)))
        .collect();
    for (p, u) in url_fields {
        if !is_http_url(u) {
            c.error(
                &p,
                format!("`{u}` is not an http:// or https:// URL"),
                "write the full URL, e.g. https://archive.apache.org/dist/flink/…",
            );
            ok = false;
        }
    }
    for (i, m) in a.mirrors.iter().enumerate() {
        if !is_http_url(m) {
            let idx = i.to_string();
            c.error(
                &[section, "artifact", "mirrors", &idx],
                format!("mirror `{m}` is not an http:// or https:// URL"),
                "write the full URL of the tarball on the mirror",
            );
            ok = false;
        }
    }
    let pinned = match (&a.sha512, &a.sha256) {
        (Some(h), _) => pin(c, &path(&["sha512"]), HashAlgo::Sha512, h),
        (None, Some(h)) => pin(c, &path(&["sha256"]), HashAlgo::Sha256, h),
        (None, None) => Ok(None),
    };
    let pinned = match pinned {
        Ok(p) => p,
        Err(()) => {
            ok = false;
            None
        }
    };
    let local = a.path.as_ref().map(|p| c.ctx.base.join(p));
    let file_name = match (&local, &a.url) {
        (Some(p), _) => p
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or(default_name),
        (None, Some(u)) => u
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or(&default_name)
            .to_string(),
        (None, None) => default_name,
    };
    let sidecar = match (&a.checksum_url, &local, &pinned) {
        (Some(u), _, _) => Some(u.clone()),
        (None, _, Some(_)) => None,
        (None, Some(p), None) => Some(format!("{}.sha512", p.display())),
        (None, None, None) => Some(format!("{}.sha512", urls[0])),
    };
    if let (Some(p), Some(raw)) = (&local, &a.path) {
        if !p.is_file() {
            c.error(
                &path(&["path"]),
                format!(
                    "the local artifact `{raw}` is not a file (looked at {})",
                    p.display()
                ),
                "copy the tarball there, or correct the path (relative to the inventory)",
            );
            ok = false;
        } else if a.checksum_url.is_none()
            && pinned.is_none()
            && !c.ctx.opts.insecure_no_checksum
            && !std::path::Path::new(&format!("{}.sha512", p.display())).is_file()
        {
            c.error(
                &path(&["path"]),
                format!("the local artifact `{raw}` has no checksum: no sha512 or sha256 pin, no checksum_url, no {raw}.sha512 beside it"),
                format!("pin it (`sha512: ` and the first field of `sha512sum {raw}`), or copy its .sha512 beside it; --insecure-no-checksum uses it unverified"),
            );
            ok = false;
        }
    }
    if let Some(expected) = expects_in_name {
        if file_name.starts_with(&format!("{section}-"))
            && !file_name.starts_with(&format!("{section}-{expected}-"))
            && !file_name.starts_with(&format!("{section}-{expected}."))
        {
            c.error(
                &path(&[if a.path.is_some() { "path" } else { "url" }]),
                format!("the artifact `{file_name}` names another version than {section}.version {expected}"),
                format!("use the tarball of {section} {expected}, or set version to the one the file holds"),
            );
            ok = false;
        }
    }
    ok.then(|| Artifact {
        file_name,
        urls: if local.is_some() { Vec::new() } else { urls },
        path: local,
        checksum: Checksum {
            pinned,
            sidecar,
            insecure: c.ctx.opts.insecure_no_checksum,
        },
    })
}

fn is_http_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://"))
        && !u.chars().any(|ch| ch.is_whitespace() || ch.is_control())
}

fn pin(c: &mut Checker, p: &[&str], algo: HashAlgo, hex: &str) -> Result<Option<Pinned>, ()> {
    let want = match algo {
        HashAlgo::Sha256 => 64,
        HashAlgo::Sha512 => 128,
    };
    let h = hex.trim().to_ascii_lowercase();
    if h.len() == want && h.chars().all(|ch| ch.is_ascii_hexdigit()) {
        Ok(Some(Pinned {
            algorithm: algo,
            hex: h,
        }))
    } else {
        c.error(
            p,
            format!(
                "{algo} must be {want} hex characters, found {} characters",
                h.len()
            ),
            format!("paste the first field of the tarball's .{algo} file"),
        );
        Err(())
    }
}

fn ssh_settings(c: &mut Checker, path: &[&str], s: &RawSsh) -> bool {
    let mut ok = true;
    if let Some(u) = &s.user {
        if let Err(e) = units::check_user(u) {
            let mut p = path.to_vec();
            p.push("user");
            c.error(
                &p,
                format!("ssh user: {e}"),
                "use the login name on the host, e.g. `user: root`",
            );
            ok = false;
        }
    }
    if let Some(port) = s.port {
        if !(1..=65535).contains(&port) {
            let mut p = path.to_vec();
            p.push("port");
            c.error(
                &p,
                format!("ssh port {port} is out of range"),
                "use a port from 1 to 65535 (sshd listens on 22 by default)",
            );
            ok = false;
        }
    }
    if let Some(f) = &s.identity_file {
        if f.chars().any(|ch| ch.is_control()) || f.is_empty() {
            let mut p = path.to_vec();
            p.push("identity_file");
            c.error(
                &p,
                "identity_file is empty or contains a control character",
                "give the path of a private key, e.g. ~/.ssh/id_ed25519",
            );
            ok = false;
        }
    }
    ok
}

/// One host entry: a name, or a map with per-host settings over the inventory's `ssh:`.
fn make_host(c: &mut Checker, raw: &RawInventory, h: &RawHost, path: &[&str]) -> Option<Host> {
    let global = &raw.ssh;
    let default_conn = raw.connection.unwrap_or(Connection::Ssh);
    {
        let mut hp = path.to_vec();
        let (name, m) = match h {
            RawHost::Name(n) => (n.as_str(), None),
            RawHost::Full(m) => {
                hp.push("host");
                (m.host.as_str(), Some(m))
            }
        };
        let mut good = true;
        if let Err(e) = units::check_host(name) {
            c.error(
                &hp,
                format!("bad host: {e}"),
                "use a DNS name (letters, digits, `-`, `.`) or an IP address",
            );
            good = false;
        } else if name.parse::<std::net::Ipv6Addr>().is_ok() {
            // Flink writes the name into `masters` (`host:port`), `slaves` and its REST URL,
            // none of which has a bracketed form: the cluster would not start.
            c.error(
                &hp,
                format!("`{name}` is an IPv6 address, and Flink's masters/workers files and REST URL take a host name or an IPv4 address there"),
                format!("give the host a name that resolves on every host (DNS or /etc/hosts) and keep the address for ssh: `{{host: NAME, address: \"{name}\"}}`"),
            );
            good = false;
        }
        let empty = RawSsh::default();
        let over = m.and_then(|m| m.ssh.as_ref()).unwrap_or(&empty);
        if m.and_then(|m| m.ssh.as_ref()).is_some() {
            let mut sp = path.to_vec();
            sp.push("ssh");
            good &= ssh_settings(c, &sp, over);
        }
        let address = m
            .and_then(|m| m.address.clone())
            .unwrap_or_else(|| name.to_string());
        if m.and_then(|m| m.address.as_ref()).is_some() {
            if let Err(e) = units::check_host(&address) {
                let mut ap = path.to_vec();
                ap.push("address");
                c.error(
                    &ap,
                    format!("bad address: {e}"),
                    "use a DNS name or an IP address",
                );
                good = false;
            }
        }
        let java_home = m
            .and_then(|m| m.java_home.clone())
            .or_else(|| raw.flink.java_home.clone());
        if let Some(j) = m.and_then(|m| m.java_home.as_ref()) {
            if let Err(e) = units::check_remote_path(j) {
                let mut jp = path.to_vec();
                jp.push("java_home");
                c.error(
                    &jp,
                    format!("java_home: {e}"),
                    "use the absolute path of a JDK",
                );
                good = false;
            }
        }
        let port = over
            .port
            .or(global.port)
            .and_then(|p| u16::try_from(p).ok());
        good.then(|| Host {
            name: name.to_string(),
            address,
            user: over.user.clone().or_else(|| global.user.clone()),
            port,
            identity_file: over
                .identity_file
                .clone()
                .or_else(|| global.identity_file.clone()),
            known_hosts: over
                .known_hosts
                .or(global.known_hosts)
                .unwrap_or(KnownHosts::Strict),
            connection: m.and_then(|m| m.connection).unwrap_or(default_conn),
            java_home,
            jobmanager: false,
            taskmanager: false,
            fornaxee: false,
        })
    }
}

fn hosts(c: &mut Checker, raw: &RawInventory) -> Option<Vec<Host>> {
    let global = &raw.ssh;
    let mut ok = ssh_settings(c, &["ssh"], global);
    let existing = raw
        .fornaxee
        .as_ref()
        .is_some_and(|f| f.flink.as_ref().is_some_and(|x| x.rest.is_some()));
    let Some(jm) = &raw.jobmanager else {
        if existing {
            if !raw.taskmanagers.is_empty() {
                c.error(
                    &["taskmanagers"],
                    "taskmanagers without a jobmanager",
                    "with fornaxee.flink.rest naming an existing cluster, leave out both jobmanager and taskmanagers",
                );
                return None;
            }
            return ok.then(Vec::new);
        }
        c.error(
            &[],
            "no jobmanager",
            "add `jobmanager: <host>`, the host that runs the JobManager (and start-cluster.sh)",
        );
        return None;
    };
    if existing {
        c.key_error(
            &["jobmanager"],
            "a jobmanager to deploy and fornaxee.flink.rest naming an existing cluster",
            "keep one: remove fornaxee.flink to deploy this cluster, or jobmanager/taskmanagers to use the existing one",
        );
        return None;
    }
    if raw.taskmanagers.is_empty() {
        c.error(
            &["taskmanagers"],
            "no taskmanagers",
            "list at least one host: `taskmanagers: [192.168.1.100]` (the JobManager host may run one too)",
        );
        ok = false;
    }
    let mut hosts: Vec<Host> = Vec::new();
    let mut jm_host = make_host(c, raw, jm, &["jobmanager"]);
    if let Some(h) = jm_host.as_mut() {
        h.jobmanager = true;
    }
    ok &= jm_host.is_some();
    if let Some(h) = jm_host {
        hosts.push(h);
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, t) in raw.taskmanagers.iter().enumerate() {
        let idx = i.to_string();
        let path = ["taskmanagers", idx.as_str()];
        if let Some(first) = seen.insert(t.name(), i) {
            let first_line = c
                .ctx
                .spans
                .value(&["taskmanagers", &first.to_string()])
                .map(|p| format!(" (first at line {})", p.line))
                .unwrap_or_default();
            c.error(
                &path,
                format!("`{}` is listed twice in taskmanagers{first_line}", t.name()),
                "list each host once; a host runs one TaskManager with taskmanager.numberOfTaskSlots slots",
            );
            ok = false;
            continue;
        }
        let Some(mut h) = make_host(c, raw, t, &path) else {
            ok = false;
            continue;
        };
        h.taskmanager = true;
        if let Some(existing) = hosts.iter_mut().find(|x| x.name == h.name) {
            // The JobManager host also runs a TaskManager, as in the guide. The two entries
            // must not disagree about how the host is reached.
            let both_maps = matches!(jm, RawHost::Full(_)) && matches!(t, RawHost::Full(_));
            if both_maps && jm != t {
                c.error(
                    &path,
                    format!("`{}` is described differently as jobmanager and as taskmanager", h.name),
                    "give the host's address and ssh settings in one place and name it by `host` in the other",
                );
                ok = false;
            } else if matches!(t, RawHost::Full(_)) {
                h.jobmanager = true;
                *existing = h;
            } else {
                existing.taskmanager = true;
            }
            continue;
        }
        hosts.push(h);
    }
    ok.then_some(hosts)
}

struct Settings {
    rpc: u16,
    rest: u16,
    slots: u32,
    jm_heap: u64,
    tm_heap: u64,
}

fn is_memory_key(key: &str) -> bool {
    key.ends_with(".heap.size")
        || key == "taskmanager.memory.segment-size"
        || ((key.starts_with("taskmanager.memory.") || key.starts_with("jobmanager.memory."))
            && (key.ends_with(".size") || key.ends_with(".min") || key.ends_with(".max")))
        || key == "taskmanager.network.memory.min"
        || key == "taskmanager.network.memory.max"
}

fn config(
    c: &mut Checker,
    raw: &RawInventory,
    version: Option<Version>,
    jm_name: Option<&str>,
) -> (BTreeMap<String, String>, Option<Settings>) {
    let mut out = BTreeMap::new();
    let mut ok = true;
    let mut ports: Vec<(&str, u16)> = Vec::new();
    for (key, value) in &raw.config {
        let path = ["config", key.as_str()];
        if key.is_empty()
            || !key
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
        {
            c.key_error(
                &path,
                format!(
                    "config key `{}` contains characters Flink cannot read",
                    key.escape_default()
                ),
                "keys are dotted names of letters, digits, `.`, `_` and `-`, e.g. rest.port",
            );
            ok = false;
            continue;
        }
        let text = value.render();
        if text.contains('\n') || text.contains('\r') {
            c.error(
                &path,
                format!("config value of `{key}` spans several lines"),
                "Flink's config.sh reads one line per key; write the value on one line",
            );
            ok = false;
            continue;
        }
        if text.contains('#') {
            c.error(
                &path,
                format!("config value of `{key}` contains `#`"),
                "Flink 1.9's config.sh drops everything after `#`, so the value would be cut short; remove the `#`",
            );
            ok = false;
            continue;
        }
        if key == "jobmanager.rpc.address" {
            if Some(text.as_str()) != jm_name {
                c.error(
                    &path,
                    format!(
                        "jobmanager.rpc.address is `{text}` but the jobmanager is `{}`",
                        jm_name.unwrap_or("?")
                    ),
                    "remove jobmanager.rpc.address from config; flinkup sets it from `jobmanager`",
                );
                ok = false;
            }
            continue;
        }
        match key.as_str() {
            "jobmanager.rpc.port" | "rest.port" | "taskmanager.data.port" => {
                let min = if key == "taskmanager.data.port" { 0 } else { 1 };
                match as_int(value).filter(|p| (min..=65535).contains(p)) {
                    Some(p) => {
                        if p != 0 {
                            ports.push((key.as_str(), p as u16));
                        }
                    }
                    None => {
                        c.error(
                            &path,
                            format!("{key} `{text}` is not a port from {min} to 65535"),
                            "use a free TCP port, e.g. 8081 for rest.port",
                        );
                        ok = false;
                    }
                }
            }
            "taskmanager.numberOfTaskSlots" | "parallelism.default"
                if !as_int(value).is_some_and(|n| (1..=i64::from(u32::MAX)).contains(&n)) =>
            {
                c.error(
                    &path,
                    format!("{key} must be a whole number of at least 1, found `{text}`"),
                    "the guide uses 4 slots per TaskManager, one per CPU core",
                );
                ok = false;
            }
            k if is_memory_key(k) && text.trim() != "0" => {
                if let Err(e) = parse_memory(&text) {
                    c.error(
                        &path,
                        format!("{key}: {e}"),
                        "write a size with a unit: 1024m, 1g, 512mb",
                    );
                    ok = false;
                }
            }
            _ => {}
        }
        if let Some(v) = version {
            if let KeyCheck::Unknown(near) = flink_keys::check(v, key) {
                let help = near.map(|n| format!("did you mean `{n}`?"));
                c.warn(
                    &path,
                    format!("`{key}` is not a Flink {}.{} configuration key flinkup knows; Flink ignores unknown keys", v.major, v.minor),
                    help.or_else(|| Some("check the key against Flink's configuration reference".into())),
                );
            }
        }
        out.insert(key.clone(), text);
    }
    if ports.len() > 1 {
        for i in 0..ports.len() {
            for j in i + 1..ports.len() {
                if ports[i].1 == ports[j].1 {
                    let (a, b) = (ports[i].0, ports[j].0);
                    c.error(
                        &["config", b],
                        format!("{b} and {a} are both {}", ports[j].1),
                        "each port must be distinct on the JobManager host; the guide uses rpc 6123 and rest 8082",
                    );
                    ok = false;
                }
            }
        }
    }
    let port_of = |k: &str, d: u16| ports.iter().find(|(n, _)| *n == k).map_or(d, |(_, p)| *p);
    let rpc = port_of("jobmanager.rpc.port", DEFAULT_RPC_PORT);
    let rest = port_of("rest.port", DEFAULT_REST_PORT);
    if rpc == rest && ok {
        // One of them is set and the other is its default: point at the one that is set.
        let (set, default) = if ports.iter().any(|(n, _)| *n == "rest.port") {
            ("rest.port", "jobmanager.rpc.port")
        } else {
            ("jobmanager.rpc.port", "rest.port")
        };
        c.error(
            &["config", set],
            format!("{set} is {rpc}, the port {default} takes by default"),
            format!("set {set} to another port, or set {default} explicitly to a free one"),
        );
        ok = false;
    }
    let mem = |k: &str| {
        out.get(k)
            .and_then(|v| parse_memory(v).ok())
            .unwrap_or(1024 * MIB)
    };
    if let Some(v) = version {
        ok &= memory_model(c, &out, v);
    }
    let settings = Settings {
        rpc,
        rest,
        slots: out
            .get("taskmanager.numberOfTaskSlots")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
        jm_heap: mem("jobmanager.heap.size"),
        tm_heap: mem("taskmanager.heap.size"),
    };
    (out, ok.then_some(settings))
}

/// What each version expects of the guide's memory keys: from 1.10 the TaskManager's memory
/// is `taskmanager.memory.*` (`taskmanager.heap.size` is deprecated there and means total
/// Flink memory), from 1.11 the JobManager's is `jobmanager.memory.*`. Deprecated keys are
/// warnings with their replacement; a TaskManager memory 1.10+ rejects at start is an error
/// with the numbers.
fn memory_model(c: &mut Checker, conf: &BTreeMap<String, String>, v: Version) -> bool {
    let at_least = |minor: u32| (v.major, v.minor) >= (1, minor);
    for (old, new, since) in [
        ("taskmanager.heap.size", "taskmanager.memory.flink.size", 10),
        ("jobmanager.heap.size", "jobmanager.memory.heap.size", 11),
    ] {
        if at_least(since) && conf.contains_key(old) {
            c.warn(
                &["config", old],
                format!("`{old}` is deprecated in Flink {v}: flinkup writes it as `{new}`"),
                Some(format!("write `{new}` instead")),
            );
        }
    }
    if !at_least(10) {
        return true;
    }
    let key = if conf.contains_key("taskmanager.memory.flink.size") {
        "taskmanager.memory.flink.size"
    } else {
        "taskmanager.heap.size"
    };
    let Some(size) = conf.get(key).and_then(|t| parse_memory(t).ok()) else {
        return true;
    };
    let fraction: f64 = conf
        .get("taskmanager.memory.managed.fraction")
        .and_then(|f| f.parse().ok())
        .unwrap_or(0.4);
    let framework = 256 * MIB; // framework heap 128m + framework off-heap 128m
    let network = ((size as f64 * 0.1) as u64).clamp(64 * MIB, 1024 * MIB);
    let managed = (size as f64 * fraction) as u64;
    let taken = framework + network + managed;
    if taken >= size {
        let mb = |b: u64| format!("{:.1}m", b as f64 / MIB as f64);
        let need = ((framework + network) as f64 / (1.0 - fraction)).ceil() as u64 + 64 * MIB;
        c.error(
            &["config", key],
            format!(
                "{key} {} is too small for Flink {v}'s memory model: framework heap 128m + framework off-heap 128m + network {} + managed {} ({fraction} × {}) = {} leave no task heap, and the TaskManager refuses to start",
                mb(size),
                mb(network),
                mb(managed),
                mb(size),
                mb(taken)
            ),
            format!("give it at least {}, e.g. {key}: 1024m", units::format_memory(need.div_ceil(MIB) * MIB)),
        );
        return false;
    }
    true
}

fn as_int(v: &Scalar) -> Option<i64> {
    match v {
        Scalar::Int(i) => Some(*i),
        Scalar::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}
