//! Resolves defaults and checks every inventory rule, collecting all problems in one pass; the
//! rules of a component's own section sit with the component (`components/*/validate.rs`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::load::Spans;
use super::schema::{RawArtifact, RawHost, RawInventory, RawSmoke, RawSsh, Scalar, SmokeWhen};
use super::units::{self};
use super::{
    Artifact, Checksum, Cluster, Connection, Diagnostic, Distribution, HashAlgo, Host, KnownHosts,
    LoadOptions, Pinned, Smoke, StartMode, Supervisor, Version,
};
use crate::components::flink::validate::{config, scala, version};
pub use crate::components::flink::validate::{
    DEFAULT_REST_PORT, DEFAULT_RPC_PORT, GUIDE_KEYS, TESTED,
};
use crate::components::fornaxee::validate::fornaxee;

pub struct Ctx<'a> {
    pub file: &'a str,
    pub text: &'a str,
    pub spans: &'a Spans,
    pub base: &'a Path,
    pub opts: LoadOptions,
}

pub(crate) struct Checker<'a> {
    pub(crate) ctx: &'a Ctx<'a>,
    pub(crate) diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    pub(crate) fn located(&self, d: Diagnostic, path: &[&str], key: bool) -> Diagnostic {
        let d = d.key(path);
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

    pub(crate) fn error(
        &mut self,
        path: &[&str],
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::error(message).help(help), path, false);
        self.diags.push(d);
    }

    pub(crate) fn key_error(
        &mut self,
        path: &[&str],
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::error(message).help(help), path, true);
        self.diags.push(d);
    }

    pub(crate) fn warn(&mut self, path: &[&str], message: impl Into<String>, help: Option<String>) {
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

pub(crate) fn build(c: &mut Checker, raw: RawInventory) -> Option<Cluster> {
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
    let java = match &raw.java {
        None => Some(None),
        Some(_) if raw.config.contains_key("env.java.home") => {
            c.key_error(
                &["config", "env.java.home"],
                "config sets env.java.home, and java: installs a runtime for Flink to run with",
                "keep one: remove env.java.home to let flinkup choose each host's Java, or remove java:",
            );
            None
        }
        Some(j) => {
            crate::components::java::validate(c, j, install_dir.trim_end_matches('/')).map(Some)
        }
    };
    let tls = tls(c, &raw, version);
    let fornaxee = raw
        .fornaxee
        .as_ref()
        .map(|f| fornaxee(c, &raw, f, install_dir.trim_end_matches('/')));
    let ha = match &raw.ha {
        None => Some(None),
        Some(_) if raw.fornaxee.as_ref().is_some_and(|f| f.flink.is_some()) => {
            c.key_error(
                &["ha"],
                "ha: configures the Flink cluster flinkup deploys, and fornaxee.flink names an existing one",
                "remove ha:; the existing cluster's high availability is its own",
            );
            None
        }
        Some(h) => crate::components::flink::ha::validate(c, h).map(Some),
    };
    let version = version?;
    let scala = scala?;
    let artifact = artifact(c, raw.flink.artifact.as_ref(), version, &scala);
    if raw.distribution == Some(Distribution::Direct)
        && artifact.as_ref().is_some_and(|a| a.path.is_some())
    {
        c.error(
            &["distribution"],
            "distribution: direct has every host download flink.artifact from its URL, and the artifact is a local path",
            "give flink.artifact.url (a site mirror every host reaches) with its sha512, or use relay or fanout to send a local file",
        );
        return None;
    }
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
        distribution: raw.distribution.unwrap_or(Distribution::Auto),
        relay_fanout: relay_fanout?,
        java: java?,
        fornaxee,
        ha: ha?,
        tls: tls?,
    })
}

/// The `tls:` section: refused where it cannot work, before anything is made.
fn tls(
    c: &mut Checker,
    raw: &RawInventory,
    version: Option<Version>,
) -> Option<Option<crate::components::flink::tls::Tls>> {
    use crate::components::flink::tls;
    let Some(t) = &raw.tls else {
        return Some(None);
    };
    let enabled = t.enabled.unwrap_or(false);
    let mut ok = true;
    if t.rest_client_auth == Some(true) && !enabled {
        c.key_error(
            &["tls", "rest_client_auth"],
            "tls.rest_client_auth requires client certificates on a REST API that TLS protects, and tls.enabled is not true",
            "add `enabled: true` under tls:, or remove rest_client_auth",
        );
        ok = false;
    }
    if !enabled {
        return ok.then_some(None);
    }
    if raw.fornaxee.as_ref().is_some_and(|f| f.flink.is_some()) {
        c.key_error(
            &["tls"],
            "tls: secures the Flink cluster flinkup deploys, and fornaxee.flink names an existing one",
            "remove tls:; the existing cluster's TLS is its own",
        );
        return None;
    }
    if raw
        .flink
        .install_dir
        .as_deref()
        .is_some_and(|d| d.starts_with('~'))
    {
        c.error(
            &["flink", "install_dir"],
            "tls: names its keystores in flink-conf.yaml by absolute path, and install_dir starts with ~ (Flink does not expand it)",
            "give an absolute install_dir, e.g. /home/flink/opt",
        );
        ok = false;
    }
    for k in raw.config.keys() {
        if k.starts_with("security.ssl.") {
            c.key_error(
                &["config", k],
                format!("config sets {k}, and tls: makes flinkup set Flink's TLS keys"),
                "remove it from config:; use tls.cipher_suites for the suites",
            );
            ok = false;
        }
    }
    if let Some(v) = version {
        let missing = tls::missing_keys(v);
        if !missing.is_empty() {
            c.key_error(
                &["tls", "enabled"],
                format!(
                    "Flink {v}'s key catalogue lacks the TLS keys flinkup writes: {}",
                    missing.join(", ")
                ),
                "use a release whose catalogue has them (every release from 1.9 does), or remove tls:",
            );
            ok = false;
        }
    }
    let suites = match &t.cipher_suites {
        Some(s)
            if s.is_empty()
                || s.iter()
                    .any(|x| !x.starts_with("TLS_") || x.contains(char::is_whitespace)) =>
        {
            c.error(
                &["tls", "cipher_suites"],
                "tls.cipher_suites must list cipher suite names such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "give JSSE suite names (TLS_…) or remove cipher_suites for flinkup's choice",
            );
            ok = false;
            Vec::new()
        }
        Some(s) => s.clone(),
        None => tls::SUITES.iter().map(|s| s.to_string()).collect(),
    };
    let validity = match &t.validity {
        None => tls::DEFAULT_VALIDITY,
        Some(v) => match humantime::parse_duration(v) {
            Ok(d) if d.as_secs() >= 3600 => d,
            _ => {
                c.error(
                    &["tls", "validity"],
                    format!("tls.validity `{v}` is not a duration of an hour or more"),
                    "write it like `825d` or `90days`",
                );
                ok = false;
                tls::DEFAULT_VALIDITY
            }
        },
    };
    ok.then(|| {
        Some(tls::Tls {
            client_auth: t.rest_client_auth.unwrap_or(false),
            suites,
            validity,
            material: None,
        })
    })
}

pub(crate) fn smoke(c: &mut Checker, s: Option<&RawSmoke>) -> Option<Smoke> {
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

pub(crate) fn timeout(c: &mut Checker, t: Option<&Scalar>) -> Option<Duration> {
    duration_at(c, &["verify", "timeout"], t?)
}

/// A positive duration: `120s`, `2m`, or a number of seconds.
pub(crate) fn duration_at(c: &mut Checker, path: &[&str], t: &Scalar) -> Option<Duration> {
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

pub(crate) fn artifact(
    c: &mut Checker,
    a: Option<&RawArtifact>,
    v: Version,
    scala: &str,
) -> Option<Artifact> {
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
pub(crate) fn artifact_at(
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
        key: format!("{section}.artifact"),
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

pub(crate) fn is_http_url(u: &str) -> bool {
    (u.starts_with("http://") || u.starts_with("https://"))
        && !u.chars().any(|ch| ch.is_whitespace() || ch.is_control())
}

pub(crate) fn pin(
    c: &mut Checker,
    p: &[&str],
    algo: HashAlgo,
    hex: &str,
) -> Result<Option<Pinned>, ()> {
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

pub(crate) fn ssh_settings(c: &mut Checker, path: &[&str], s: &RawSsh) -> bool {
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
pub(crate) fn make_host(
    c: &mut Checker,
    raw: &RawInventory,
    h: &RawHost,
    path: &[&str],
) -> Option<Host> {
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
            zookeeper: false,
            supervisor: m
                .and_then(|m| m.supervisor)
                .or(raw.supervisor)
                .unwrap_or(Supervisor::Auto),
        })
    }
}

pub(crate) fn hosts(c: &mut Checker, raw: &RawInventory) -> Option<Vec<Host>> {
    let global = &raw.ssh;
    let mut ok = ssh_settings(c, &["ssh"], global);
    let existing = raw
        .fornaxee
        .as_ref()
        .is_some_and(|f| f.flink.as_ref().is_some_and(|x| x.rest.is_some()));
    // The JobManagers: `jobmanager: host`, or `jobmanagers: [..]` (several, with ha:).
    let jms: Vec<(&RawHost, Vec<String>)> = match (&raw.jobmanager, raw.jobmanagers.is_empty()) {
        (Some(_), false) => {
            c.key_error(
                &["jobmanagers"],
                "both jobmanager and jobmanagers",
                "keep one: `jobmanager: host` for one JobManager, `jobmanagers: [host1, host2]` for several",
            );
            return None;
        }
        (Some(jm), true) => vec![(jm, vec!["jobmanager".to_string()])],
        (None, _) => raw
            .jobmanagers
            .iter()
            .enumerate()
            .map(|(i, h)| (h, vec!["jobmanagers".to_string(), i.to_string()]))
            .collect(),
    };
    if jms.is_empty() {
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
            "add `jobmanager: <host>`, the host that runs the JobManager (and start-cluster.sh), or `jobmanagers: [host1, host2]` with ha: for several",
        );
        return None;
    }
    if existing {
        c.key_error(
            &[if raw.jobmanager.is_some() { "jobmanager" } else { "jobmanagers" }],
            "a jobmanager to deploy and fornaxee.flink.rest naming an existing cluster",
            "keep one: remove fornaxee.flink to deploy this cluster, or jobmanager/taskmanagers to use the existing one",
        );
        return None;
    }
    if jms.len() > 1 && raw.ha.is_none() {
        c.key_error(
            &["jobmanagers"],
            format!(
                "{} JobManagers without ha: standalone Flink runs several JobManagers only when ZooKeeper elects their leader",
                jms.len()
            ),
            "add `ha:` with `storage_dir` and `zookeeper` (or `zookeeper_quorum`), or list one JobManager",
        );
        ok = false;
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
    for (jm, path) in &jms {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if hosts.iter().any(|x| x.name == jm.name()) {
            c.error(
                &path,
                format!("`{}` is listed twice in jobmanagers", jm.name()),
                "list each host once: a host runs one JobManager",
            );
            ok = false;
            continue;
        }
        match make_host(c, raw, jm, &path) {
            Some(mut h) => {
                h.jobmanager = true;
                hosts.push(h);
            }
            None => ok = false,
        }
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
            let jm = jms.iter().map(|(j, _)| *j).find(|j| j.name() == h.name);
            let both_maps = matches!(jm, Some(RawHost::Full(_))) && matches!(t, RawHost::Full(_));
            if both_maps && jm != Some(t) {
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
    // The peers of flinkup's own ZooKeeper quorum: hosts of the cluster or hosts of their own.
    for (i, z) in raw.ha.iter().flat_map(|h| &h.zookeeper).enumerate() {
        let idx = i.to_string();
        let path = ["ha", "zookeeper", idx.as_str()];
        let Some(mut h) = make_host(c, raw, z, &path) else {
            ok = false;
            continue;
        };
        match hosts.iter_mut().find(|x| x.name == h.name) {
            Some(existing) if existing.zookeeper => {
                c.error(
                    &path,
                    format!("`{}` is listed twice in ha.zookeeper", h.name),
                    "list each host once: a host runs one ZooKeeper peer",
                );
                ok = false;
            }
            Some(existing) => existing.zookeeper = true,
            None => {
                h.zookeeper = true;
                hosts.push(h);
            }
        }
    }
    ok.then_some(hosts)
}
