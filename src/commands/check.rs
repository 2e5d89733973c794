//! `flinkup check`: the preflight of the plan deploy would build now, host by host, with the
//! facts it was computed from; exit 1 when the plan would be refused. The findings are the
//! planner's own, so `check` and `deploy` can never disagree.

use super::{artifact_state, connect, gather, smoke_job};
use crate::cli::{Day2Args, FetchArgs, RemoteArgs};
use crate::components::flink::FlinkFactsOf;
use crate::components::flink::Role;
use crate::compose::{self, DeployAsk};
use crate::error::{exit, Result};
use crate::fleet::HostId;
use crate::inventory::{units, Loaded};
use crate::plan::{Finding, PlanMode, Severity};

pub async fn check(loaded: &Loaded, remote: &RemoteArgs, json: bool) -> Result<i32> {
    let c = &loaded.cluster;
    let fleet = connect(c, remote).await?;
    let facts = gather(c, &fleet, None, &Default::default()).await;
    fleet.close().await;
    let facts = facts?;
    let plan = compose::deploy(
        loaded,
        &facts,
        DeployAsk {
            jdk: None,
            mode: PlanMode::Live,
            art: artifact_state(c, &FetchArgs::default()),
            bundle: None,
            only: None,
            day2: &Day2Args::default(),
            smoke: smoke_job(c, None, None)?,
            renderer: &crate::components::flink::render::Renderer::new(c)?,
        },
    )?;
    let show = |f: &Finding| {
        let mark = match f.severity {
            Severity::Error => "FAIL",
            Severity::Warning => "warn",
        };
        let mut text = format!("  {mark} {}", f.message);
        if let Some(h) = &f.help {
            text.push_str(&format!("\n       help: {h}"));
        }
        text
    };
    let event = |f: &Finding| {
        serde_json::json!({
            "severity": f.severity,
            "message": f.message,
            "help": f.help,
        })
    };
    let mut out = String::new();
    for h in &c.hosts {
        let id = HostId::of(h);
        let hf = facts.host(&id);
        let (f, m) = (hf.flink(), &hf.machine);
        out.push_str(&format!("Host {} ({})\n", h.name, h.roles()));
        let mut ok: Vec<String> = Vec::new();
        let mut fact = |text: String| {
            out.push_str(&format!("  ok   {text}\n"));
            ok.push(text);
        };
        fact(format!("connected as {}", m.user));
        if m.install_dir_writable {
            fact(format!("{} is writable by {}", c.install_dir, m.user));
        }
        if let Some(j) = &f.java {
            fact(format!(
                "java {} at {} (Java {})",
                j.version, j.path, j.major
            ));
        }
        if let Some(kb) = m.disk_free_kb {
            fact(format!(
                "{} free under {}",
                units::human(kb * 1024),
                c.install_dir
            ));
        }
        if m.hostname_resolves {
            fact(format!("host name {} resolves", m.hostname));
        }
        if h.jobmanager {
            let ours = f.running.get(&Role::JobManager).copied();
            for (key, port) in [
                ("jobmanager.rpc.port", c.rpc_port),
                ("rest.port", c.rest_port),
            ] {
                match m.ports.get(&port) {
                    Some(p) if ours.is_some() && (p.pid.is_none() || p.pid == ours) => {
                        fact(format!("{key} {port} is held by this cluster's JobManager"))
                    }
                    Some(_) => {}
                    None if !m.ports_known => fact(format!(
                        "{key} {port}: cannot tell (no `ss` on the host); taken to be free"
                    )),
                    None => fact(format!("{key} {port} is free")),
                }
            }
        }
        let findings: Vec<&Finding> = plan
            .preflight
            .iter()
            .filter(|p| p.host.as_ref() == Some(&id))
            .collect();
        for finding in &findings {
            out.push_str(&show(finding));
            out.push('\n');
        }
        if json {
            crate::report::json_line(&serde_json::json!({
                "event": "host",
                "host": h.name,
                "roles": h.roles(),
                "ok": ok,
                "findings": findings.iter().map(|f| event(f)).collect::<Vec<_>>(),
            }));
        }
    }
    let general: Vec<&Finding> = plan.preflight.iter().filter(|p| p.host.is_none()).collect();
    if json {
        for f in &general {
            let mut e = event(f);
            e["event"] = "finding".into();
            crate::report::json_line(&e);
        }
    }
    if !general.is_empty() {
        out.push_str("Cluster\n");
        for finding in general {
            out.push_str(&show(finding));
            out.push('\n');
        }
    }
    let refusals = plan.refusals().len();
    let verdict = if refusals == 0 {
        "All checks passed.".to_string()
    } else {
        format!(
            "{refusals} check{} failed: deploy would refuse this plan.",
            if refusals == 1 { "" } else { "s" }
        )
    };
    if json {
        crate::report::summary(verdict);
    } else {
        out.push_str(&verdict);
        out.push('\n');
        crate::report::stdout(&out);
    }
    Ok(if refusals == 0 {
        exit::OK
    } else {
        exit::FAILED
    })
}
