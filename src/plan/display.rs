//! The plan as people read it (text) and as programs read it (JSON), secrets masked in both.

use std::fmt::Write;

use super::{Action, Change, Plan, PlanMode};

/// Keys whose values never leave the config file: plan output, logs and JSON show a mask.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|w| k.contains(w))
}

pub const MASK: &str = "********";

/// Masks the value of every `key: value` line (plain or in a diff) whose key looks secret.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let (prefix, rest) = match body.chars().next() {
            Some(c @ ('+' | '-' | ' ')) if !body.starts_with("+++") && !body.starts_with("---") => {
                (&body[..c.len_utf8()], &body[c.len_utf8()..])
            }
            _ => ("", body),
        };
        match rest.split_once(':') {
            Some((k, _)) if !k.trim_start().starts_with('#') && is_secret_key(k.trim()) => {
                out.push_str(prefix);
                out.push_str(k);
                out.push_str(": ");
                out.push_str(MASK);
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}

fn masked(plan: &Plan) -> Plan {
    // Hosts mostly share their files: mask each distinct text once.
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    let mut mask = |t: &mut String| {
        let m = seen.entry(t.clone()).or_insert_with(|| mask_secrets(t));
        *t = m.clone();
    };
    let mut p = plan.clone();
    for h in &mut p.hosts {
        for a in &mut h.actions {
            if let Action::WriteFile { content, diff, .. } = a {
                mask(content);
                mask(diff);
            }
        }
    }
    p
}

/// Writes the plan as JSON, secrets masked.
pub fn write_json(plan: &Plan, out: &mut impl std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &masked(plan))?;
    writeln!(out)
}

/// Prints the plan as JSON on standard output, buffered: large plans are megabytes.
pub fn print_json(plan: &Plan) {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let _ = write_json(plan, &mut out);
    let _ = std::io::Write::flush(&mut out);
}

/// Prints one action. A file whose diff was already printed for an earlier host is named, not
/// repeated, so a plan for hundreds of identical TaskManagers stays readable.
fn action_line(out: &mut String, a: &Action, shown: &mut Vec<(String, String)>) {
    let _ = match a {
        Action::Upload { file, dest, sha512 } => writeln!(
            out,
            "  + upload   {file} -> {dest} ({})",
            if sha512.is_some() {
                "sha512 checked on the host"
            } else {
                "sha512 checked on the host once fetched"
            }
        ),
        Action::Unpack { archive, dest, .. } => {
            writeln!(out, "  + unpack   {archive} -> {dest} (temporary directory, then rename)")
        }
        Action::WriteFile {
            path, change, diff, ..
        } => {
            let _ = writeln!(
                out,
                "  {} write    {path}",
                if *change == Change::Create { "+" } else { "~" }
            );
            if let Some((host, _)) = shown.iter().find(|(_, d)| d == diff) {
                let _ = writeln!(out, "      (same change as on {host})");
                return;
            }
            shown.push((String::new(), diff.clone()));
            for l in mask_secrets(diff).lines() {
                if l.starts_with("---") || l.starts_with("+++") {
                    continue;
                }
                let _ = writeln!(out, "      {l}");
            }
            Ok(())
        }
        Action::Link {
            link,
            target,
            previous,
        } => match previous {
            Some(p) => writeln!(out, "  ~ link     {link} -> {target} (was {p})"),
            None => writeln!(out, "  + link     {link} -> {target}"),
        },
        Action::TrustSsh { from, to } => writeln!(
            out,
            "  + trust    ssh from {from} to {} without a password (start-cluster.sh logs in to every TaskManager host)",
            to.join(", ")
        ),
        Action::Stop { reason } => writeln!(out, "  ~ stop     the running cluster: {reason}"),
        Action::Start { on, command, .. } => writeln!(out, "  + start    {command} on {on}"),
        Action::StartMissing { daemons } => writeln!(
            out,
            "  + start    {} (not running; the other daemons keep running)",
            daemons
                .iter()
                .map(|(h, r)| format!("{r} on {h}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::Verify {
            url,
            taskmanagers,
            slots,
            timeout_secs,
        } => writeln!(
            out,
            "    verify   {url}: {taskmanagers} TaskManager{}, {slots} slots within {timeout_secs}s",
            if *taskmanagers == 1 { "" } else { "s" }
        ),
    };
}

pub fn text(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Cluster {} · Flink {} (Scala {}) · {}",
        plan.cluster,
        plan.flink_version,
        plan.scala,
        match plan.mode {
            PlanMode::Offline => "offline plan: hosts assumed empty, nothing contacted",
            PlanMode::Live => "plan from the hosts' current state",
        }
    );
    let a = &plan.artifact;
    let _ = writeln!(out, "\nArtifact\n  file      {}", a.file_name);
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
    let _ = writeln!(out, "\nTopology\n  {}", plan.topology.summary);
    for h in &plan.hosts {
        let _ = writeln!(out, "  {:<20} {}", h.host, h.roles);
    }
    let mut shown: Vec<(String, String)> = Vec::new();
    for h in &plan.hosts {
        let addr = if h.address != h.host {
            format!(" via {}", h.address)
        } else {
            String::new()
        };
        let _ = writeln!(out, "\nHost {}{addr} ({})", h.host, h.roles);
        if plan.mode == PlanMode::Live {
            let _ = writeln!(
                out,
                "  now      release {}; running: {}",
                h.current_release.as_deref().unwrap_or("none"),
                if h.running.is_empty() {
                    "no Flink daemon".to_string()
                } else {
                    h.running.join(", ")
                }
            );
        }
        if let Some(j) = &h.java {
            let _ = writeln!(out, "  java     {j}");
        }
        if h.actions.is_empty() {
            let _ = writeln!(out, "  = up to date");
        }
        let before = shown.len();
        for a in &h.actions {
            action_line(&mut out, a, &mut shown);
        }
        for s in &mut shown[before..] {
            s.0 = h.host.clone();
        }
        for n in &h.notes {
            let _ = writeln!(out, "  note: {n}");
        }
    }
    let _ = writeln!(out, "\nCluster");
    for a in &plan.cluster_actions {
        action_line(&mut out, a, &mut shown);
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
    let changes = plan.all_actions().filter(|a| a.changes_hosts()).count();
    let _ = writeln!(
        out,
        "\nPlan: {} host{}, {changes} change{}{}.",
        plan.hosts.len(),
        if plan.hosts.len() == 1 { "" } else { "s" },
        if changes == 1 { "" } else { "s" },
        if changes == 0 {
            " (nothing to do; the cluster will be verified)"
        } else {
            ""
        }
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret_values_in_files_and_diffs() {
        let t = "a: 1\nsecurity.ssl.keystore-password: hunter2\n+s3.secret-key: abc\n# token: x\n";
        let m = mask_secrets(t);
        assert!(!m.contains("hunter2") && !m.contains("abc"), "{m}");
        assert!(m.contains("security.ssl.keystore-password: ********"));
        assert!(m.contains("+s3.secret-key: ********"));
        assert!(m.starts_with("a: 1\n"));
    }
}
