//! ssh from the JobManager host to every TaskManager host, as start-cluster.sh needs it: the
//! peers it must reach (at the address the operator's ssh resolves), the managed
//! `~/.ssh/config` block, and the keys to authorize.

use super::*;

/// In cluster-script mode: the JobManager host must have ssh and reach every TaskManager
/// host's sshd; then flinkup can write its ssh_config block and trust. Returns the stage.
pub(super) fn trust_stage(inp: &Inputs, plan: &mut Plan) -> Option<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let peers = ssh_peers(c, inp.facts);
    let mut stage = Stage::new("trust", Some(NAME));
    stage.if_failed = "Nothing was installed, started or stopped.".into();
    let (begin, end) = ssh_markers(c);
    let wanted: Vec<String> = peers
        .iter()
        .filter(|p| p.needs_config())
        .map(|p| {
            let mut b = format!(
                "Host {}\n  HostName {}\n  Port {}\n",
                p.name, p.address, p.port
            );
            if let Some(u) = &p.user {
                b.push_str(&format!("  User {u}\n"));
            }
            b
        })
        .collect();
    let block = (!wanted.is_empty()).then(|| format!("{begin}\n{}{end}\n", wanted.concat()));
    if c.start != StartMode::ClusterScript || per_host_start(inp) {
        if jf.machine.ssh_block.is_some() {
            stage.push(
                &jm,
                Action::SshConfig {
                    begin,
                    end,
                    block: None,
                },
            );
        }
        return (!stage.steps.is_empty()).then_some(stage);
    }
    if jf.gathered {
        if !jf.machine.ssh_client {
            plan.preflight.push(Finding::error(
                Some(&jm),
                "has no ssh client, and start-cluster.sh logs in to every TaskManager host with ssh",
                "install openssh-client there, or set `flink.start: direct` (flinkup then starts each daemon over its own connection)",
            ));
        }
        for p in &peers {
            if !inp.facts.peer(&p.host).reachable {
                plan.preflight.push(Finding::error(
                    Some(&p.host),
                    format!(
                        "the JobManager host {jm} cannot reach its sshd at {}:{}, and start-cluster.sh logs in there with {}",
                        p.address,
                        p.port,
                        p.target()
                    ),
                    "open that port between the hosts, or set `flink.start: direct` (flinkup then starts each daemon over its own connection)",
                ));
            }
        }
    }
    if jf.machine.ssh_block != block {
        stage.push(&jm, Action::SshConfig { begin, end, block });
    }
    let untrusted: Vec<_> = peers
        .into_iter()
        .filter(|p| !inp.facts.peer(&p.host).trusted)
        .collect();
    if !untrusted.is_empty() {
        stage.push(
            &jm,
            Action::TrustSsh {
                peers: untrusted,
                reason: if c.ha.is_some() {
                    "start-cluster.sh logs in to every TaskManager host and, with ha:, to every JobManager host (its own too)"
                } else {
                    "start-cluster.sh logs in to every TaskManager host"
                }
                .into(),
                marker: crate::plan::trust_marker(&c.name),
            },
        );
    }
    (!stage.steps.is_empty()).then_some(stage)
}
