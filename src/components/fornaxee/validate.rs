//! The `fornaxee:` section of the inventory: the bundle, its hosts, its settings, and the
//! customer's own Flink it may connect to instead of one flinkup deploys.

use std::collections::BTreeMap;

use crate::inventory::schema::{RawFornaxee, RawInventory, Scalar};
use crate::inventory::units::{self, parse_memory};
use crate::inventory::validate::*;
use crate::inventory::{ExternalFlink, Fornaxee, Host};

/// The `fornaxee:` section; its hosts come back separately, to be merged with the cluster's.
pub(crate) fn fornaxee(
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
pub(crate) fn external_flink(
    c: &mut Checker,
    raw: &RawInventory,
    x: &crate::inventory::schema::RawExternalFlink,
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
