//! How release archives reach the hosts. Components plan a plain upload per host (the
//! operator sends the archive to each); with relay distribution, the uploads of one archive in
//! a stage become one [`Action::Relay`] in a stage of its own just before: the operator sends
//! the archive once and the hosts forward it to each other over their own ssh, in a tree of
//! bounded fan-out. Every component's archives go this way (Flink's release, Fornaxee's bundle).

use std::collections::{BTreeSet, VecDeque};

use super::{Action, Hop, Plan, Seed, Stage, Step};
use crate::facts::SshPeer;
use crate::fleet::HostId;

/// The hosts that may take part in a relay.
pub struct Network {
    /// Most preferred sender first (the coordinating host, whose trust often exists).
    hosts: Vec<NetHost>,
    /// How many hosts one host sends to.
    fanout: usize,
    index: std::collections::HashMap<HostId, usize>,
}

pub struct NetHost {
    /// How other hosts log in to it.
    pub ssh: SshPeer,
    /// It has an ssh client, so it can send to others.
    pub can_send: bool,
    /// Hosts it already logs in to without a password (facts).
    pub trusts: Vec<HostId>,
}

impl Network {
    pub fn new(hosts: Vec<NetHost>, fanout: usize) -> Network {
        let index = hosts
            .iter()
            .enumerate()
            .map(|(i, h)| (h.ssh.host.clone(), i))
            .collect();
        Network {
            hosts,
            fanout: fanout.max(1),
            index,
        }
    }

    fn get(&self, id: &HostId) -> Option<&NetHost> {
        self.index.get(id).map(|&i| &self.hosts[i])
    }

    fn rank(&self, id: &HostId) -> usize {
        self.index.get(id).copied().unwrap_or(usize::MAX)
    }

    fn can_send(&self, id: &HostId) -> bool {
        self.get(id).is_some_and(|h| h.can_send)
    }
}

/// An archive some hosts of a stage get uploaded and then unpack.
struct Group {
    file: String,
    local: Option<String>,
    size: Option<u64>,
    sha512: Option<String>,
    /// (host, destination, index of its upload step)
    targets: Vec<(HostId, String, usize)>,
    /// The top directory every unpack of it expects, when they agree.
    top_dir: Option<String>,
}

/// Finds, in one stage, uploads that an unpack of the same path on the same host follows:
/// archives, the same file for every host. Other uploads (jars into a release) stay direct.
fn groups(stage: &Stage) -> Vec<Group> {
    let mut out: Vec<Group> = Vec::new();
    for (i, step) in stage.steps.iter().enumerate() {
        let Action::Upload {
            file,
            local,
            dest,
            size,
            sha512,
        } = &step.action
        else {
            continue;
        };
        let top = match stage.steps[i + 1..].iter().find(|s| s.host == step.host) {
            Some(Step {
                action: Action::Unpack {
                    archive, top_dir, ..
                },
                ..
            }) if archive == dest => top_dir.clone(),
            _ => continue,
        };
        let target = (step.host.clone(), dest.clone(), i);
        match out
            .iter_mut()
            .find(|g| &g.file == file && &g.sha512 == sha512)
        {
            Some(g) => {
                g.targets.push(target);
                if g.top_dir.as_ref() != Some(&top) {
                    g.top_dir = None;
                }
            }
            None => out.push(Group {
                file: file.clone(),
                local: local.clone(),
                size: *size,
                sha512: sha512.clone(),
                targets: vec![target],
                top_dir: Some(top),
            }),
        }
    }
    out
}

/// A host of the stage that already holds the archive, verified at planning time: its unpack
/// checks the sha512 of a file it did not get uploaded.
fn seeds(stage: &Stage, g: &Group) -> Vec<Seed> {
    // A host that downloads the archive in this very stage does not hold it yet.
    let downloads: BTreeSet<&HostId> = stage
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::Download { .. }))
        .map(|s| &s.host)
        .collect();
    stage
        .steps
        .iter()
        .filter(|s| !downloads.contains(&s.host))
        .filter_map(|s| match &s.action {
            Action::Unpack {
                archive,
                verify_sha512: Some(sha),
                ..
            } if Some(sha) == g.sha512.as_ref()
                && archive.rsplit('/').next() == Some(g.file.as_str()) =>
            {
                Some(Seed {
                    host: s.host.clone(),
                    path: archive.clone(),
                })
            }
            _ => None,
        })
        .collect()
}

/// The route: a tree rooted at the seed (or at the first target, which the operator feeds),
/// each sender with at most `fanout` receivers, senders preferred in the network's order.
fn route(net: &Network, seed: Option<&Seed>, targets: &[(HostId, String)]) -> Vec<Hop> {
    let mut order: Vec<&(HostId, String)> = targets.iter().collect();
    // Hosts that can send come first, so they sit high in the tree; then the network's order.
    order.sort_by_key(|(h, _)| (!net.can_send(h), net.rank(h)));
    let mut senders: VecDeque<(HostId, usize)> = VecDeque::new();
    let mut hops = Vec::new();
    if let Some(s) = seed {
        senders.push_back((s.host.clone(), net.fanout));
    }
    for (host, dest) in order {
        while senders.front().is_some_and(|(_, left)| *left == 0) {
            senders.pop_front();
        }
        let from = senders.front_mut().map(|(h, left)| {
            *left -= 1;
            h.clone()
        });
        if net.can_send(host) {
            senders.push_back((host.clone(), net.fanout));
        }
        let Some(ssh) = net.get(host).map(|h| h.ssh.clone()) else {
            continue;
        };
        hops.push(Hop {
            host: host.clone(),
            dest: dest.clone(),
            from,
            ssh,
        });
    }
    hops
}

/// Turns the uploads of each archive that several hosts get (or that a host already holding
/// it can feed) into a relay. Hosts the network does not list keep their direct upload.
pub fn relay(plan: &mut Plan, net: &Network, min_targets: usize) {
    let cluster = plan.cluster.clone();
    plan.rework_stages(|stages, mut stage| {
        let mut before: Vec<Stage> = Vec::new();
        let mut drop_steps: BTreeSet<usize> = BTreeSet::new();
        for g in groups(&stage) {
            let targets: Vec<(HostId, String)> = g
                .targets
                .iter()
                .filter(|(h, _, _)| net.get(h).is_some())
                .map(|(h, d, _)| (h.clone(), d.clone()))
                .collect();
            let seed = {
                let mut s = seeds(&stage, &g);
                s.retain(|s| net.can_send(&s.host));
                s.sort_by_key(|s| net.rank(&s.host));
                s.into_iter().next()
            };
            // One host fed by the operator is what an upload already does; `min_targets`
            // hosts at least, unless a host already holds the archive.
            if targets.is_empty() || (targets.len() < min_targets.max(2) && seed.is_none()) {
                continue;
            }
            if seed.is_none() && !targets.iter().any(|(h, _)| net.can_send(h)) {
                continue;
            }
            let hops = route(net, seed.as_ref(), &targets);
            let root = seed
                .as_ref()
                .map(|s| s.host.clone())
                .or_else(|| hops.first().map(|h| h.host.clone()));
            let Some(root) = root else {
                continue;
            };
            // Each sender logs in to the hosts it feeds; the root also to every other host of
            // the route, so it can feed again any host whose sender failed. Trust grows with
            // the number of hosts, not with its square.
            let mut senders: Vec<HostId> = vec![root.clone()];
            for h in hops.iter().filter_map(|h| h.from.as_ref()) {
                if !senders.contains(h) {
                    senders.push(h.clone());
                }
            }
            let relayers = vec![root.clone()];
            let mut trust = Stage::new("relay trust", stage.component.map(|c| c.as_str()));
            trust.if_failed = "Nothing was installed, started or stopped.".into();
            for r in &senders {
                let known = trusted_before(stages, r, net);
                let peers: Vec<SshPeer> = hops
                    .iter()
                    .filter(|h| &h.host != r && (r == &root || h.from.as_ref() == Some(r)))
                    .filter(|h| !known.contains(&h.host))
                    .map(|h| h.ssh.clone())
                    .collect();
                if !peers.is_empty() {
                    trust.push(
                        r,
                        Action::TrustSsh {
                            peers,
                            reason: "it relays the archive to them".into(),
                            marker: super::trust_marker(&cluster),
                        },
                    );
                }
            }
            // Trust set up just before (the cluster-script trust stage) takes these steps too:
            // hosts run together, each host's steps in order.
            let trust_only = |s: &Stage| {
                !s.steps.is_empty()
                    && s.steps.iter().all(|st| {
                        matches!(
                            st.action,
                            Action::TrustSsh { .. } | Action::SshConfig { .. }
                        )
                    })
            };
            match stages.last_mut() {
                Some(prev) if before.is_empty() && trust_only(prev) => {
                    prev.steps.extend(trust.steps);
                }
                _ if !trust.steps.is_empty() => before.push(trust),
                _ => {}
            }
            let mut dist = Stage::new("distribute", stage.component.map(|c| c.as_str()));
            dist.if_failed = "Hosts that verified the archive keep it and feed the others on the next run; nothing was unpacked, started or stopped.".into();
            drop_steps.extend(
                g.targets
                    .iter()
                    .filter(|(h, _, _)| hops.iter().any(|x| &x.host == h))
                    .map(|(_, _, i)| *i),
            );
            dist.push(
                &root,
                Action::Relay {
                    file: g.file,
                    local: g.local,
                    size: g.size,
                    sha512: g.sha512,
                    seed,
                    hops,
                    relayers,
                    unpack_top: g.top_dir,
                },
            );
            before.push(dist);
        }
        if !drop_steps.is_empty() {
            stage.steps = stage
                .steps
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !drop_steps.contains(i))
                .map(|(_, s)| s)
                .collect::<Vec<Step>>();
        }
        stages.extend(before);
        // A stage of uploads alone is empty now; an empty stage runs nothing either way.
        Some(stage)
    });
}

/// Hosts `from` logs in to already: known from facts, or trusted by an earlier stage.
fn trusted_before(stages: &[Stage], from: &HostId, net: &Network) -> BTreeSet<HostId> {
    let mut out: BTreeSet<HostId> = net
        .get(from)
        .map(|h| h.trusts.iter().cloned().collect())
        .unwrap_or_default();
    for s in stages.iter().flat_map(|s| &s.steps) {
        if let (true, Action::TrustSsh { peers, .. }) = (&s.host == from, &s.action) {
            out.extend(peers.iter().map(|p| p.host.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(n: &str) -> SshPeer {
        SshPeer {
            host: HostId(n.into()),
            name: n.into(),
            address: n.into(),
            port: 22,
            user: None,
        }
    }

    fn net(names: &[&str], fanout: usize, mute: &[&str]) -> Network {
        Network::new(
            names
                .iter()
                .map(|n| NetHost {
                    ssh: peer(n),
                    can_send: !mute.contains(n),
                    trusts: Vec::new(),
                })
                .collect(),
            fanout,
        )
    }

    fn targets(names: &[&str]) -> Vec<(HostId, String)> {
        names
            .iter()
            .map(|n| (HostId((*n).into()), "/opt/a.tgz".into()))
            .collect()
    }

    fn edges(hops: &[Hop]) -> Vec<String> {
        hops.iter()
            .map(|h| {
                format!(
                    "{}>{}",
                    h.from.as_ref().map_or("op", |f| f.as_str()),
                    h.host
                )
            })
            .collect()
    }

    #[test]
    fn a_tree_of_bounded_fanout_rooted_at_the_first_host() {
        let n = net(&["a", "b", "c", "d", "e", "f"], 2, &[]);
        let hops = route(&n, None, &targets(&["f", "e", "d", "c", "b", "a"]));
        assert_eq!(edges(&hops), ["op>a", "a>b", "a>c", "b>d", "b>e", "c>f"]);
    }

    #[test]
    fn a_seed_feeds_the_route_and_hosts_without_ssh_stay_leaves() {
        let n = net(&["a", "b", "c", "d"], 1, &["b"]);
        let seed = Seed {
            host: HostId("a".into()),
            path: "/opt/a.tgz".into(),
        };
        let hops = route(&n, Some(&seed), &targets(&["b", "c", "d"]));
        assert_eq!(edges(&hops), ["a>c", "c>d", "d>b"]);
    }

    fn install(names: &[&str]) -> Plan {
        let mut st = Stage::new("install", Some("Product"));
        for n in names {
            st.extend_host(
                &HostId((*n).into()),
                [
                    Action::Upload {
                        file: "a.tgz".into(),
                        local: None,
                        dest: "/opt/a.tgz".into(),
                        size: None,
                        sha512: Some("ab".into()),
                    },
                    Action::Unpack {
                        archive: "/opt/a.tgz".into(),
                        dest: "/opt/a".into(),
                        top_dir: "a".into(),
                        staging: "/opt".into(),
                        verify_sha512: None,
                        archive_sha512: Some("ab".into()),
                        keep_archive: false,
                    },
                ],
            );
        }
        Plan {
            command: "deploy".into(),
            cluster: "t".into(),
            mode: super::super::PlanMode::Live,
            components: Vec::new(),
            hosts: Vec::new(),
            preflight: Vec::new(),
            stages: vec![st],
            rollback: None,
            notes: Vec::new(),
            sizing: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn the_root_trusts_every_host_and_each_sender_its_own() {
        let mut plan = install(&["a", "b", "c", "d"]);
        relay(&mut plan, &net(&["a", "b", "c", "d"], 2, &[]), 2);
        let names: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["relay trust", "distribute", "install"]);
        let trust: Vec<String> = plan.stages[0]
            .steps
            .iter()
            .map(|s| match &s.action {
                Action::TrustSsh { peers, .. } => format!(
                    "{}>{}",
                    s.host,
                    peers
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(trust, ["a>b,c,d", "b>d"]);
        assert!(plan.stages[2]
            .steps
            .iter()
            .all(|s| matches!(s.action, Action::Unpack { .. })));
    }

    #[test]
    fn one_host_without_a_seed_keeps_its_upload() {
        let mut plan = install(&["a"]);
        relay(&mut plan, &net(&["a", "b"], 2, &[]), 2);
        assert_eq!(plan.stages.len(), 1);
        assert!(matches!(
            plan.stages[0].steps[0].action,
            Action::Upload { .. }
        ));
    }
}
