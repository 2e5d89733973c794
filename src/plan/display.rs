//! The plan as people read it (text) and as programs read it (JSON), secrets masked in both.

use std::fmt::Write;

use super::{Action, Batch, Change, OnFailure, Plan, PlanMode, Severity};
use crate::fleet::HostId;
pub use crate::secrets::{is_secret_key, mask_secrets, MASK};

/// The plan with every secret value masked, as any output or record shows it.
pub fn masked(plan: &Plan) -> Plan {
    // Hosts mostly share their files: mask each distinct text once.
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    let mut mask = |t: &mut String| {
        let m = seen.entry(t.clone()).or_insert_with(|| mask_secrets(t));
        *t = m.clone();
    };
    let mut p = plan.clone();
    for stage in &mut p.stages {
        for step in &mut stage.steps {
            match &mut step.action {
                Action::WriteFile { content, diff, .. } => {
                    mask(content);
                    mask(diff);
                }
                // A check may carry configuration text (a savepoint's running configuration).
                Action::Check(c) => {
                    for v in c.spec.values_mut() {
                        mask_json(v, &mut mask);
                    }
                }
                _ => {}
            }
        }
    }
    p
}

fn mask_json(v: &mut serde_json::Value, mask: &mut impl FnMut(&mut String)) {
    match v {
        serde_json::Value::String(t) => mask(t),
        serde_json::Value::Array(a) => a.iter_mut().for_each(|x| mask_json(x, mask)),
        serde_json::Value::Object(o) => o.values_mut().for_each(|x| mask_json(x, mask)),
        _ => {}
    }
}

/// Writes the plan as one JSON Lines event, secrets masked.
pub fn write_json(plan: &Plan, out: &mut impl std::io::Write) -> std::io::Result<()> {
    #[derive(serde::Serialize)]
    struct PlanEvent<'a> {
        event: &'static str,
        plan: &'a Plan,
    }
    serde_json::to_writer(
        &mut *out,
        &PlanEvent {
            event: "plan",
            plan: &masked(plan),
        },
    )?;
    writeln!(out)
}

/// The plan event, one JSON line.
pub fn json_line(plan: &Plan) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = write_json(plan, &mut out);
    out
}

/// Prints one action. A file whose diff was already printed for an earlier host is named, not
/// repeated, so a plan for hundreds of identical TaskManagers stays readable.
fn action_line(out: &mut String, host: &HostId, a: &Action, shown: &mut Vec<(HostId, String)>) {
    let _ = match a {
        Action::Upload {
            file, dest, sha512, ..
        } => writeln!(
            out,
            "    + upload   {file} -> {dest} ({})",
            if sha512.is_some() {
                "sha512 checked on the host"
            } else {
                "sha512 checked on the host once fetched"
            }
        ),
        Action::Download { file, urls, .. } => writeln!(
            out,
            "    + download {file} on the host from {} (kept only if its sha512 matches)",
            urls.join(", then ")
        ),
        Action::Unpack {
            archive,
            dest,
            verify_sha512,
            keep_archive,
            ..
        } => writeln!(
            out,
            "    + unpack   {archive} -> {dest} ({}temporary directory, then rename; {})",
            if verify_sha512.is_some() {
                "sha512 checked first; "
            } else {
                ""
            },
            if *keep_archive {
                "the archive stays here to seed later transfers"
            } else {
                "the archive is removed"
            }
        ),
        Action::WriteFile {
            path, change, diff, ..
        } => {
            let _ = writeln!(
                out,
                "    {} write    {path}",
                if *change == Change::Create { "+" } else { "~" }
            );
            if let Some((h, _)) = shown.iter().find(|(_, d)| d == diff) {
                let _ = writeln!(out, "        (same change as on {h})");
                return;
            }
            shown.push((host.clone(), diff.clone()));
            for l in mask_secrets(diff).lines() {
                if l.starts_with("---") || l.starts_with("+++") {
                    continue;
                }
                let _ = writeln!(out, "        {l}");
            }
            Ok(())
        }
        Action::WriteSecret {
            path,
            change,
            what,
            sha256,
            ..
        } => writeln!(
            out,
            "    {} write    {path} ({what}, private; sha256 {})",
            if *change == Change::Create { "+" } else { "~" },
            &sha256[..sha256.len().min(16)]
        ),
        Action::Link {
            link,
            target,
            previous,
        } => match previous {
            Some(p) => writeln!(out, "    ~ link     {link} -> {target} (was {p})"),
            None => writeln!(out, "    + link     {link} -> {target}"),
        },
        Action::TrustSsh { peers, reason, .. } => writeln!(
            out,
            "    + trust    ssh from {host} to {} without a password ({reason})",
            peers
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::Relay {
            file,
            size,
            seed,
            hops,
            unpack_top,
            ..
        } => {
            let _ = writeln!(
                out,
                "    + relay    {file}{} to {}: one copy over the operator's link, {}",
                size.map(|s| format!(" ({})", crate::inventory::units::human(s)))
                    .unwrap_or_default(),
                plural(hops.len(), "host"),
                if unpack_top.is_some() {
                    "forwarded host to host and unpacked as it arrives; each host checks every 8 MiB chunk's sha512 before tar reads it and keeps the file only if all match"
                } else {
                    "forwarded host to host as it arrives; each host checks every 8 MiB chunk's sha512 and keeps the file only if all match"
                }
            );
            let from_op: Vec<&str> = hops
                .iter()
                .filter(|h| h.from.is_none())
                .map(|h| h.host.as_str())
                .collect();
            if let Some(s) = seed {
                let _ = writeln!(
                    out,
                    "        {} already holds it ({}): the operator sends nothing",
                    s.host, s.path
                );
            }
            if !from_op.is_empty() {
                let _ = writeln!(out, "        operator -> {}", from_op.join(", "));
            }
            let mut senders: Vec<&HostId> = Vec::new();
            for h in hops.iter().filter_map(|h| h.from.as_ref()) {
                if !senders.contains(&h) {
                    senders.push(h);
                }
            }
            for s in senders {
                let to: Vec<&str> = hops
                    .iter()
                    .filter(|h| h.from.as_ref() == Some(s))
                    .map(|h| h.host.as_str())
                    .collect();
                let _ = writeln!(out, "        {s} -> {}", to.join(", "));
            }
            for h in hops {
                let _ = writeln!(out, "        {}: {}", h.host, h.dest);
            }
            Ok(())
        }
        Action::SshConfig { block, .. } => match block {
            Some(b) => {
                let _ = writeln!(
                    out,
                    "    ~ ssh-config  ~/.ssh/config on {host}: flinkup's block, so `ssh NAME` reaches each host as the inventory says"
                );
                for l in b.lines() {
                    let _ = writeln!(out, "        {l}");
                }
                Ok(())
            }
            None => writeln!(out, "    - ssh-config  ~/.ssh/config on {host}: remove flinkup's block"),
        },
        Action::StartService {
            service,
            script,
            args,
            reason,
            ..
        } => writeln!(
            out,
            "    + start    {service} on {host} ({reason}): {script}{}",
            args.iter().map(|a| format!(" {a}")).collect::<String>()
        ),
        Action::RunDaemon {
            service,
            script,
            args,
            pid_file,
            reason,
            ..
        } => writeln!(
            out,
            "    + start    {service} on {host} ({reason}): {script}{}, detached, pid in {pid_file}",
            args.iter().map(|a| format!(" {a}")).collect::<String>()
        ),
        Action::StopServices {
            services, reason, ..
        } => writeln!(out, "    ~ stop     {} on {host}: {reason}", services.join(", ")),
        Action::Remove {
            link,
            trees,
            state_dir,
        } => {
            let mut what: Vec<String> = Vec::new();
            what.extend(link.iter().map(|l| format!("{l} (the link)")));
            what.extend(trees.iter().cloned());
            what.extend(state_dir.iter().map(|s| format!("{s} (flinkup's state)")));
            writeln!(out, "    - remove   {}", what.join(", "))
        }
        Action::Unit {
            service,
            unit,
            op,
            reason,
        } => {
            let (sign, how) = match op {
                crate::plan::UnitOp::Start => ("+", "systemctl enable --now"),
                crate::plan::UnitOp::Stop => ("~", "systemctl disable --now"),
                crate::plan::UnitOp::Remove => ("-", "systemctl disable --now, unit file removed:"),
            };
            writeln!(
                out,
                "    {sign} {:<8} {service} on {host} ({reason}): {how} {unit}",
                op.as_str()
            )
        }
        Action::Untrust {
            marker,
            authorized,
            known,
        } => writeln!(
            out,
            "    - untrust  {authorized} line{} of ~/.ssh/authorized_keys and {known} of ~/.ssh/known_hosts that flinkup added (ending `{marker}`); every other line stays",
            if *authorized == 1 { "" } else { "s" }
        ),
        Action::Unlock { lock_dir, holder } => {
            writeln!(out, "    - unlock   {lock_dir}, held by {holder}")
        }
        Action::Check(c) => match &c.runs {
            Some(verb) => writeln!(out, "    + {verb:<8} {c}"),
            None => writeln!(out, "      verify   {c}"),
        },
    };
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The plan's text coloured for a terminal: additions green, changes yellow, removals red.
/// Unchanged when colours are off (`--color never`, NO_COLOR, not a terminal).
pub fn colored(text: &str) -> String {
    if !console::colors_enabled() {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let t = body.trim_start();
        let styled = if t.starts_with("+ ") || (t.starts_with('+') && body.starts_with("        "))
        {
            console::style(body).green().to_string()
        } else if t.starts_with("~ ") {
            console::style(body).yellow().to_string()
        } else if t.starts_with("- ") || (t.starts_with('-') && body.starts_with("        ")) {
            console::style(body).red().to_string()
        } else if t.starts_with("REFUSED") {
            console::style(body).red().bold().to_string()
        } else if t.starts_with("Stage ") || t.starts_with("Plan: ") {
            console::style(body).bold().to_string()
        } else {
            body.to_string()
        };
        out.push_str(&styled);
        if line.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} plan · cluster {} · {}",
        plan.command,
        plan.cluster,
        match plan.mode {
            PlanMode::Offline => "offline: hosts assumed empty, nothing contacted",
            PlanMode::Live => "from the hosts' current state",
        }
    );
    for c in &plan.components {
        let _ = writeln!(out, "\n{} {} ({})", c.name, c.version, c.detail);
        if let Some(a) = &c.artifact {
            let _ = writeln!(out, "  file      {}", a.file_name);
            let _ = writeln!(out, "  from      {}", a.source);
            for m in &a.mirrors {
                let _ = writeln!(out, "  mirror    {m}");
            }
            let _ = writeln!(out, "  checksum  {}", a.checksum);
            if a.insecure {
                let _ = writeln!(
                    out,
                    "  {}",
                    console::style("INSECURE: --insecure-no-checksum: a local file without a checksum will be used unverified").red().bold()
                );
            }
            if let Some(cached) = a.cached {
                let _ = writeln!(
                    out,
                    "  cache     {}",
                    if cached {
                        "in the cache (hashed again before use)"
                    } else {
                        "not cached: will be fetched"
                    }
                );
            }
        }
        let _ = writeln!(out, "  topology  {}", c.summary);
    }
    let _ = writeln!(out, "\nHosts");
    for h in &plan.hosts {
        let addr = if h.address != h.host.as_str() {
            format!(" via {}", h.address)
        } else {
            String::new()
        };
        let _ = writeln!(out, "  Host {}{addr} ({})", h.host, h.roles);
        if plan.mode == PlanMode::Live {
            let _ = writeln!(
                out,
                "    now      release {}; running: {}",
                h.current_release.as_deref().unwrap_or("none"),
                if h.running.is_empty() {
                    "no daemon".to_string()
                } else {
                    h.running.join(", ")
                }
            );
        }
        if let Some(j) = &h.java {
            let _ = writeln!(out, "    java     {j}");
        }
        for n in &h.notes {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    let _ = writeln!(out, "\nPreflight");
    if plan.preflight.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            match plan.mode {
                PlanMode::Live => "ok: nothing found that stops this plan",
                PlanMode::Offline =>
                    "not checked offline (host names, ports, disk, ssh between hosts): `plan` without --offline checks them",
            }
        );
    }
    for f in &plan.preflight {
        let label = match f.severity {
            Severity::Error => "REFUSED",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "  {label}  {f}");
    }
    for n in &plan.notes {
        let _ = writeln!(out, "\n{}", n.title);
        for l in &n.lines {
            let _ = writeln!(out, "  {l}");
        }
    }
    let mut shown: Vec<(HostId, String)> = Vec::new();
    let n = plan.stages.len();
    for (i, st) in plan.stages.iter().enumerate() {
        let targets = st.targets();
        let relayed: usize = st
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::Relay { hops, .. } => hops.len(),
                _ => 0,
            })
            .sum();
        let batch = match st.batch {
            Batch::All if relayed > 0 => format!("{} along the route", plural(relayed, "host")),
            Batch::All => format!("{} at once", plural(targets.len(), "host")),
            Batch::Rolling(k) => format!("{}, {k} at a time", plural(targets.len(), "host")),
        };
        let _ = writeln!(
            out,
            "\nStage {}/{n}: {}{} · {batch} · on failure: {}",
            i + 1,
            st.name,
            st.component.map(|c| format!(" ({c})")).unwrap_or_default(),
            match st.on_failure {
                OnFailure::Stop => "stop",
                OnFailure::Undo => "undo this stage, then stop",
            }
        );
        for h in &targets {
            let _ = writeln!(out, "  {h}");
            for step in st.steps.iter().filter(|s| &s.host == h) {
                action_line(&mut out, h, &step.action, &mut shown);
            }
        }
    }
    if let Some(rb) = &plan.rollback {
        let _ = writeln!(
            out,
            "\nIf stages {}–{} fail: back to {}",
            rb.from_stage + 1,
            rb.until_stage,
            rb.restores
        );
        for st in &rb.stages {
            let _ = writeln!(out, "  {}", st.name);
            for h in st.targets() {
                for step in st.steps.iter().filter(|s| s.host == h) {
                    let mut line = String::new();
                    action_line(&mut line, &h, &step.action, &mut shown);
                    out.push_str(&line);
                }
            }
        }
    }
    if !plan.sizing.is_empty() {
        let _ = writeln!(out, "\nSizing");
        for s in &plan.sizing {
            let _ = writeln!(out, "  {s}");
        }
    }
    for w in &plan.warnings {
        let _ = writeln!(out, "\nwarning: {w}");
    }
    let changes = plan.actions().filter(|a| a.changes_hosts()).count();
    let refused = plan.refusals().len();
    let _ = writeln!(
        out,
        "\nPlan: {}, {}{}{}.",
        plural(plan.hosts.len(), "host"),
        plural(changes, "change"),
        if changes == 0 {
            if plan.actions().next().is_some() {
                " (nothing to change; the cluster will be verified)"
            } else {
                " (nothing to do)"
            }
        } else {
            ""
        },
        if refused > 0 {
            format!("; REFUSED by {}", plural(refused, "preflight finding"))
        } else {
            String::new()
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret_values_in_files_and_diffs() {
        let t = "a: 1\nsecurity.ssl.keystore-password: hunter2\n+s3.secret-key: abc\n# token: x\n+db.password=pw1\n";
        let m = mask_secrets(t);
        assert!(
            !m.contains("pw1") && m.contains("+db.password=********"),
            "{m}"
        );
        assert!(!m.contains("hunter2") && !m.contains("abc"), "{m}");
        assert!(m.contains("security.ssl.keystore-password: ********"));
        assert!(m.contains("+s3.secret-key: ********"));
        assert!(m.starts_with("a: 1\n"));
    }
}
