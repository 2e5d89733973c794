//! Fornaxee's plan rules: its stages come after Flink's verification, so a Fornaxee failure
//! never stops or changes a running Flink cluster. Pure: no network, no disk, no clock.

use std::collections::BTreeMap;

use super::bundle::Bundle;
use super::health::HealthCheck;
use super::render::{self, EnvValues};
use super::{NAME, SERVICE};
use crate::components::flink::plan::{artifact_info, resolve, unified_diff};
use crate::components::flink::supervise;
use crate::components::fornaxee::FornaxeeFactsOf;
use crate::error::Result;
use crate::facts::{Facts, HostFacts};
use crate::fleet::HostId;
use crate::inventory::{Cluster, ExternalFlink, Fornaxee, Host};
use crate::plan::{
    Action, ArtifactState, Change, ComponentInfo, Finding, OnFailure, Plan, Severity, Stage, UnitOp,
};

pub struct Inputs<'a> {
    pub cluster: &'a Cluster,
    pub fx: &'a Fornaxee,
    pub facts: &'a Facts,
    /// The inspected bundle, when it is at hand (deploy always has it).
    pub bundle: Option<&'a Bundle>,
    pub artifact: ArtifactState,
    /// The Flink REST address Fornaxee submits to.
    pub flink_rest: String,
    /// The Flink version it will run against.
    pub flink_version: String,
}

/// Fornaxee's paths on one host, `~` resolved.
struct Paths {
    release: String,
    link: String,
    state: String,
    data: String,
    log_dir: String,
    pid: String,
    log: String,
    flink_home: String,
}

fn paths(inp: &Inputs, f: &HostFacts) -> Paths {
    let home = f.machine.home.as_deref();
    let fx = inp.fx;
    Paths {
        release: resolve(&fx.release_dir(), home),
        link: resolve(&fx.current_link(), home),
        state: resolve(&fx.state_dir(), home),
        data: resolve(&fx.data_dir, home),
        log_dir: resolve(&fx.log_dir, home),
        pid: resolve(&fx.pid_file(), home),
        log: resolve(&fx.log_file(), home),
        flink_home: resolve(&inp.cluster.current_link(), home),
    }
}

/// The port Fornaxee listens on: the site's `http.port`, else the bundle's default
/// properties, else the manifest's.
pub fn http_port(fx: &Fornaxee, bundle: Option<&Bundle>) -> Option<u16> {
    if let Some(p) = fx.properties.get("http.port") {
        return p.parse().ok();
    }
    let b = bundle?;
    port_in(&b.default_properties).or(Some(b.manifest.http_port))
}

/// The values flinkup writes over the bundle's defaults.
fn values(inp: &Inputs) -> BTreeMap<String, String> {
    let mut v = inp.fx.properties.clone();
    v.entry("flink.rest.url".into())
        .or_insert_with(|| inp.flink_rest.clone());
    // `tls:` Flink's REST over https, asked as flinkup's own requests on a host ask it: the
    // cluster's CA, and the client certificate it wants.
    if let Some(t) = crate::components::flink::tls::RestTls::of(inp.cluster) {
        v.insert("flink.rest.ca".into(), t.host_ca);
        if let Some(id) = t.host_identity {
            v.insert("flink.rest.client_cert".into(), id);
        }
    }
    v
}

fn fx_hosts<'a>(inp: &'a Inputs) -> impl Iterator<Item = (&'a Host, HostId, &'a HostFacts)> + 'a {
    inp.cluster.fornaxee_hosts().map(|h| {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        (h, id, f)
    })
}

fn component_info(inp: &Inputs, with_artifact: bool) -> ComponentInfo {
    ComponentInfo {
        name: NAME.into(),
        version: inp.fx.version.clone(),
        detail: match inp.bundle {
            Some(b) => format!("for Flink {}", b.manifest.flink),
            None => "bundle not inspected yet".into(),
        },
        artifact: with_artifact.then(|| artifact_info(&inp.fx.artifact, inp.artifact.cached)),
        summary: format!("on {} against {}", inp.fx.hosts.join(", "), inp.flink_rest),
    }
}

/// The service's unit, as every unit of the cluster is named.
fn unit_name(inp: &Inputs) -> String {
    supervise::named(inp.cluster, "fornaxee")
}

fn unit_active(f: &HostFacts) -> bool {
    f.fornaxee().unit.as_ref().is_some_and(|u| u.is_running())
}

/// Stops the service: `systemctl disable --now` (or, with `op` Remove, its unit removed)
/// where it has a unit, by its pid file otherwise; empty when nothing is to do.
fn stop_actions(inp: &Inputs, h: &Host, f: &HostFacts, op: UnitOp, reason: &str) -> Vec<Action> {
    let ff = f.fornaxee();
    let p = paths(inp, f);
    let mut out = Vec::new();
    let unit = ff.unit_file.is_some() || supervise::systemd_on(h, f).0;
    if unit
        && (ff.running.is_some()
            || ff.unit.as_ref().is_some_and(|u| u.enabled)
            || (op == UnitOp::Remove && ff.unit_file.is_some()))
    {
        out.push(Action::Unit {
            service: SERVICE.into(),
            unit: unit_name(inp),
            op,
            reason: reason.into(),
        });
    }
    if ff.running.is_some() && !unit_active(f) {
        out.push(Action::StopServices {
            services: vec![SERVICE.into()],
            scripts: Vec::new(),
            pid_files: vec![p.pid.clone()],
            cmdline_has: None,
            terminate: true,
            grace_secs: 30,
            reason: reason.into(),
        });
    }
    out
}

fn start_action(inp: &Inputs, h: &Host, f: &HostFacts, reason: &str) -> Action {
    if supervise::systemd_on(h, f).0 {
        return Action::Unit {
            service: SERVICE.into(),
            unit: unit_name(inp),
            op: UnitOp::Start,
            reason: reason.into(),
        };
    }
    let p = paths(inp, f);
    Action::RunDaemon {
        service: SERVICE.into(),
        script: format!("{}/bin/fornaxee", p.link),
        args: vec!["run".into()],
        env_file: Some(format!("{}/etc/fornaxee-env.sh", p.link)),
        pid_file: p.pid.clone(),
        log: p.log.clone(),
        dirs: vec![p.data.clone(), p.log_dir.clone()],
        reason: reason.into(),
    }
}

/// The service's unit: its directories made, its output appended to its log file as when it
/// runs detached, its environment file sourced, `bin/fornaxee run` in the foreground.
fn unit_file(inp: &Inputs, f: &HostFacts) -> String {
    let p = paths(inp, f);
    supervise::render(
        inp.cluster,
        &supervise::UnitSpec {
            daemon: "fornaxee".into(),
            user: supervise::user(f),
            after: Vec::new(),
            exec_start: format!(
                "/bin/sh -c 'mkdir -p {data} {logs} && exec >>{log} 2>&1 && . {link}/etc/fornaxee-env.sh && exec {link}/bin/fornaxee run'",
                data = p.data,
                logs = p.log_dir,
                log = p.log,
                link = p.link
            ),
        },
    )
}

/// The port in a rendered fornaxee.properties.
fn port_in(properties: &str) -> Option<u16> {
    properties.lines().find_map(|l| {
        let (k, v) = l.split_once(['=', ':'])?;
        (k.trim() == "http.port").then(|| v.trim().parse().ok())?
    })
}

fn verify_stage(inp: &Inputs) -> Stage {
    let mut verify = Stage::new("fornaxee verify", Some(NAME));
    for (id, check) in health_checks(inp) {
        verify.push(
            &id,
            crate::components::check_step(NAME, &super::Check::FornaxeeHealth(check), None),
        );
    }
    verify
}

/// The health check of every Fornaxee host: the port and path from the bundle at hand, else
/// from what the host has installed.
pub fn health_checks(inp: &Inputs) -> Vec<(HostId, HealthCheck)> {
    let mut out = Vec::new();
    for (h, id, f) in fx_hosts(inp) {
        // From the bundle at hand, else from what the host has installed.
        let installed = f.fornaxee();
        let port = http_port(inp.fx, inp.bundle)
            .or_else(|| {
                installed
                    .etc
                    .get("fornaxee.properties")
                    .and_then(|p| port_in(p))
            })
            .or(installed.manifest.as_ref().map(|m| m.http_port))
            .unwrap_or(18630);
        let path = inp
            .bundle
            .map(|b| &b.manifest)
            .or(installed.manifest.as_ref())
            .map_or_else(|| "/".to_string(), |m| m.health.clone());
        let p = paths(inp, f);
        out.push((
            id,
            HealthCheck {
                address: h.address.clone(),
                port,
                path: path.clone(),
                timeout_secs: inp.cluster.verify_timeout.as_secs(),
                log: p.log,
            },
        ));
    }
    out
}

/// Adds Fornaxee to a deploy plan: install, switch, restart what changed, start, health.
pub fn deploy(inp: &Inputs, plan: &mut Plan) -> Result<()> {
    let c = inp.cluster;
    let fx = inp.fx;
    plan.components.push(component_info(inp, true));
    if let Some(e) = &fx.flink {
        existing_cluster(inp, e, plan);
    } else if let Some(b) = inp.bundle {
        if !b.supports(&inp.flink_version) {
            plan.preflight.push(Finding::error(
                None,
                format!(
                    "Fornaxee {} works with Flink {}; this inventory runs it with Flink {}",
                    fx.version, b.manifest.flink, inp.flink_version
                ),
                "choose a Flink version inside that range, or a Fornaxee bundle built for this Flink",
            ));
        }
    }
    let port = http_port(fx, inp.bundle);
    let mut install = Stage::new("fornaxee install", Some(NAME));
    install.if_failed =
        "Flink was not touched by this stage; Fornaxee keeps what it ran. Fix the cause and run the same command again."
            .into();
    let mut switch = Stage::new("fornaxee switch", Some(NAME));
    switch.on_failure = OnFailure::Undo;
    switch.if_failed = "Every fornaxee link was switched back; Flink was not touched.".into();
    let mut stop = Stage::new("fornaxee stop", Some(NAME));
    let mut start = Stage::new("fornaxee start", Some(NAME));
    start.if_failed =
        "Flink keeps running untouched. Fix the cause and run the same command again.".into();
    let values = values(inp);
    let seed = fx_hosts(inp).next().map(|(_, id, _)| id);
    for (h, id, f) in fx_hosts(inp) {
        let p = paths(inp, f);
        let ff = f.fornaxee();
        let mut changed = false;
        if !ff.release_present {
            changed = true;
            let archive = format!("{}/{}", p.state, fx.artifact.file_name);
            let have = ff.artifact_sha512.is_some() && ff.artifact_sha512 == inp.artifact.sha512;
            install.extend_host(
                &id,
                crate::plan::ReleaseInstall {
                    art: &inp.artifact,
                    file: &fx.artifact.file_name,
                    archive,
                    release: p.release.clone(),
                    top_dir: format!("fornaxee-{}", fx.version),
                    staging: p.state.clone(),
                    have,
                    keep: seed.as_ref() == Some(&id),
                    download: None,
                }
                .actions(),
            );
        }
        let defaults = inp.bundle.map_or("", |b| b.default_properties.as_str());
        let runtime =
            crate::components::java::chosen(c, inp.facts.host(&id), None).and_then(|j| j.runtime);
        let env = render::env(
            &EnvValues {
                cluster: &c.name,
                java_home: runtime.as_deref().or(h.java_home.as_deref()),
                heap: fx.heap,
                flink_home: &p.flink_home,
                data_dir: &p.data,
                log_dir: &p.log_dir,
            },
            c.templates_dir.as_deref(),
        )?;
        let files = [
            ("fornaxee.properties", render::properties(defaults, &values)),
            ("fornaxee-env.sh", env),
        ];
        for (name, content) in files {
            let old = ff.etc.get(name);
            if old == Some(&content) {
                continue;
            }
            changed = true;
            let path = format!("{}/etc/{name}", p.release);
            install.push(
                &id,
                Action::WriteFile {
                    diff: unified_diff(old.map_or("", String::as_str), &content, &path),
                    path,
                    change: if old.is_some() && ff.release_present {
                        Change::Update
                    } else {
                        Change::Create
                    },
                    content,
                    executable: false,
                },
            );
        }
        if inp.bundle.is_none() {
            plan.hosts
                .iter_mut()
                .filter(|v| v.host == id)
                .for_each(|v| v.notes.push("fornaxee.properties: the bundle's defaults are merged in once the bundle is at hand (deploy fetches it first)".into()));
        }
        // Under systemd: its unit file (a changed one restarts it), and a service running
        // under the other supervisor moves.
        let systemd = supervise::systemd_on(h, f).0;
        if systemd {
            if let Some(a) =
                supervise::write(c, "fornaxee", ff.unit_file.as_deref(), unit_file(inp, f))
            {
                changed |= ff.unit_file.is_some();
                install.push(&id, a);
            }
        }
        if ff.running.is_some() && systemd != unit_active(f) {
            changed = true;
        }
        if ff.current_link.as_deref() != Some(p.release.as_str()) {
            changed = true;
            switch.push(
                &id,
                Action::Link {
                    link: p.link.clone(),
                    target: p.release.clone(),
                    previous: ff.current_link.clone(),
                },
            );
        }
        let restart = changed && ff.running.is_some();
        if restart {
            stop.extend_host(
                &id,
                stop_actions(
                    inp,
                    h,
                    f,
                    UnitOp::Stop,
                    "its release, files or supervisor changed; Fornaxee reads them only at start",
                ),
            );
        }
        if restart || ff.running.is_none() {
            start.push(
                &id,
                start_action(
                    inp,
                    h,
                    f,
                    if restart {
                        "its release or files changed"
                    } else {
                        "not running"
                    },
                ),
            );
            if let Some(holder) = port.and_then(|p| f.machine.ports.get(&p).map(|h| (p, h))) {
                // Held by anything but the service being restarted here.
                if holder.1.pid.is_none() || holder.1.pid != ff.running {
                    plan.preflight.push(Finding {
                        severity: Severity::Warning,
                        host: Some(id.clone()),
                        message: format!(
                            "port {} is held by {}: Fornaxee will not start there until it is free",
                            holder.0,
                            if holder.1.holder.is_empty() {
                                "another process"
                            } else {
                                &holder.1.holder
                            }
                        ),
                        help: Some(
                            "stop that process, or set fornaxee.properties.http.port".into(),
                        ),
                    });
                }
            }
        }
    }
    for s in [install, switch, stop, start] {
        if !s.steps.is_empty() {
            plan.stages.push(s);
        }
    }
    plan.stages.push(verify_stage(inp));
    Ok(())
}

/// Against an existing cluster: it must answer from every Fornaxee host, run a Flink version
/// the bundle supports and equal to the client's; connector jars go where flinkup has ssh
/// access, and the daemons that must load them are named, never restarted.
fn existing_cluster(inp: &Inputs, e: &ExternalFlink, plan: &mut Plan) {
    let c = inp.cluster;
    for (_, id, f) in fx_hosts(inp) {
        if !f.gathered {
            continue;
        }
        let ff = f.fornaxee();
        if let Some(err) = &ff.cluster_error {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!(
                    "cannot reach the Flink cluster at {} from this host: {err}",
                    e.rest
                ),
                "open the route from this host to that address, or correct fornaxee.flink.rest",
            ));
            continue;
        }
        let Some(v) = &ff.cluster_version else {
            continue;
        };
        if let Some(b) = inp.bundle {
            if !b.supports(v) {
                plan.preflight.push(Finding::error(
                    Some(&id),
                    format!(
                        "the cluster at {} runs Flink {v}; Fornaxee {} works with Flink {}",
                        e.rest, inp.fx.version, b.manifest.flink
                    ),
                    "use a Fornaxee bundle built for that Flink version",
                ));
            }
        }
        if v != &c.version.to_string() {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!(
                    "the Flink client here would be {}, the cluster at {} runs Flink {v}",
                    c.version, e.rest
                ),
                format!(
                    "set `flink.version: {v}` (and its artifact) so the client matches the cluster"
                ),
            ));
        }
    }
    let Some(b) = inp.bundle else { return };
    if b.jars.is_empty() {
        return;
    }
    let names: Vec<&str> = b.jars.iter().map(|j| j.name.as_str()).collect();
    if e.hosts.is_empty() {
        plan.warnings.push(format!(
            "Fornaxee's connector jars ({}) must be in lib/ of every host of the cluster at {}: flinkup has no ssh access there (fornaxee.flink.hosts); copy them by hand and restart its daemons",
            names.join(", "),
            e.rest
        ));
        return;
    }
    let mut stage = Stage::new("fornaxee connectors", Some(NAME));
    stage.if_failed = "The existing cluster keeps running; nothing of it was restarted.".into();
    let mut restart = Vec::new();
    for h in &e.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let mut copied = false;
        for j in &b.jars {
            if f.fornaxee().existing_libs.get(&j.name) == Some(&j.sha512) {
                continue;
            }
            copied = true;
            stage.push(
                &id,
                Action::Upload {
                    file: j.name.clone(),
                    local: Some(j.local.display().to_string()),
                    dest: format!("{}/lib/{}", e.home, j.name),
                    size: Some(j.size),
                    sha512: Some(j.sha512.clone()),
                },
            );
        }
        if copied && !f.fornaxee().existing_daemons.is_empty() {
            restart.push(format!(
                "{id} ({})",
                f.fornaxee().existing_daemons.join(", ")
            ));
        }
    }
    if !restart.is_empty() {
        plan.warnings.push(format!(
            "connector jars are copied to {}/lib; the Flink daemons on {} load them only when restarted, and flinkup never restarts a cluster it did not start: restart them when it suits the cluster",
            e.home,
            restart.join(", ")
        ));
    }
    if !stage.steps.is_empty() {
        plan.stages.push(stage);
    }
}

/// Adds Fornaxee to a start plan: start where it does not run, then health.
pub fn start(inp: &Inputs, plan: &mut Plan) {
    plan.components.push(component_info(inp, false));
    let mut start = Stage::new("fornaxee start", Some(NAME));
    for (h, id, f) in fx_hosts(inp) {
        if f.fornaxee().running.is_none() && f.fornaxee().current_link.is_some() {
            start.push(&id, start_action(inp, h, f, "not running"));
        }
    }
    if !start.steps.is_empty() {
        plan.stages.push(start);
    }
    plan.stages.push(verify_stage(inp));
}

/// `smoke` for Fornaxee: the health check deploy ends with, on every Fornaxee host.
pub fn smoke(inp: &Inputs, plan: &mut Plan) {
    plan.components.push(component_info(inp, false));
    plan.stages.push(verify_stage(inp));
}

/// Puts a stage that stops Fornaxee at the front of the plan: it stops before Flink.
pub fn stop(inp: &Inputs, plan: &mut Plan, reason: &str) {
    stop_with(inp, plan, UnitOp::Stop, reason);
}

fn stop_with(inp: &Inputs, plan: &mut Plan, op: UnitOp, reason: &str) {
    plan.components.push(component_info(inp, false));
    let mut stop = Stage::new("fornaxee stop", Some(NAME));
    for (h, id, f) in fx_hosts(inp) {
        stop.extend_host(&id, stop_actions(inp, h, f, op, reason));
    }
    if !stop.steps.is_empty() {
        plan.stages.insert(0, stop);
    }
}

/// Adds Fornaxee to a destroy plan: stopped first, its releases and link removed at the end.
/// Its data and log directories are the site's, and stay.
pub fn destroy(inp: &Inputs, plan: &mut Plan) {
    stop_with(
        inp,
        plan,
        UnitOp::Remove,
        "destroy removes the installation",
    );
    let mut remove = Stage::new("fornaxee remove", Some(NAME));
    for (_, id, f) in fx_hosts(inp) {
        let p = paths(inp, f);
        remove.push(
            &id,
            crate::plan::remove_installation(
                &p.link,
                &p.release,
                f.fornaxee().current_link.as_ref(),
                &p.state,
            ),
        );
        plan.hosts
            .iter_mut()
            .filter(|v| v.host == id)
            .for_each(|v| {
                v.notes.push(format!(
                    "kept: Fornaxee's data {} and logs {} (remove them by hand if they are not needed)",
                    p.data, p.log_dir
                ))
            });
    }
    plan.stages.push(remove);
}
