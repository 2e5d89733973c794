//! The relay: one artifact to many hosts with one copy over the operator's link. Each host's
//! receiving script writes the stream to `<dest>.part`, hashes it as it goes and, through its
//! own ssh, forwards it at the same time to the hosts it feeds (a tree); a host renames its
//! copy to `<dest>` only when the sha512 and the size match. Every host's verdict comes back
//! up the tree as a `relay ok|bad HOST` line.
//!
//! A host whose sender failed (killed sshd, full disk, a cut link) is fed again in a second
//! round: from a relaying host that holds the verified file, or else from the operator. A host
//! that cannot be fed even then fails the step, named with its reason; the others keep their
//! verified copy, which seeds the next run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{Error, HostFailure, Result};
use crate::facts::SshPeer;
use crate::fleet::{bounded, Fleet, HostId};
use crate::plan::{Hop, Seed};
use crate::remote::q;
use crate::report::{Event, Reporter};

/// How a relaying host logs in to the next: no prompt, known host keys only, and a dead peer
/// noticed within seconds instead of TCP's minutes.
const SSH_OPTS: &str = "-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o Compression=no -o LogLevel=ERROR";

/// Where a host's receiving script reads the file from.
enum Source<'a> {
    /// Its standard input (the operator, or the sending host's ssh).
    Stdin,
    /// A verified file on the host itself (a seed, or a relayer in the second round).
    File(&'a str),
}

/// The file being relayed, as every script checks it.
struct Expect<'a> {
    sha512: &'a str,
    size: u64,
}

/// `ssh` from one host to another, with the command to run there.
fn ssh_to(p: &SshPeer, script: &str) -> String {
    let mut s = format!("ssh {SSH_OPTS} -p {}", p.port);
    if let Some(u) = &p.user {
        s.push_str(&format!(" -l {}", q(u)));
    }
    format!("{s} {} {}", q(&p.name), q(script))
}

/// The script a host runs: forward to `children` while receiving (or, for a sender that does
/// not receive, while reading `source`), verify its own copy, report every verdict.
fn script(
    me: Option<&Hop>,
    children: &[&Hop],
    hops: &[Hop],
    source: &Source,
    e: &Expect,
) -> String {
    let mut s = String::from(
        "T=$(mktemp -d \"${TMPDIR:-/tmp}/flinkup-relay.XXXXXX\") || { echo \"relay bad - cannot make a temporary directory\"; exit 1; }\ntrap 'rm -rf \"$T\"' EXIT\n",
    );
    let mut outs = Vec::new();
    for (i, c) in children.iter().enumerate() {
        let grand: Vec<&Hop> = hops
            .iter()
            .filter(|h| h.from.as_ref() == Some(&c.host))
            .collect();
        let inner = script(Some(c), &grand, hops, &Source::Stdin, e);
        s.push_str(&format!(
            "mkfifo \"$T/{i}\"\n( {ssh} < \"$T/{i}\" > \"$T/{i}.out\" 2>&1 || echo \"relay lost {host} $(tail -n 1 \"$T/{i}.out\" | tr -d '\\r')\" >> \"$T/{i}.out\" ) &\n",
            ssh = ssh_to(&c.ssh, &inner),
            host = c.host,
        ));
        outs.push(format!("\"$T/{i}\""));
    }
    let input = match source {
        Source::Stdin => String::new(),
        Source::File(p) => format!(" < {}", q(p)),
    };
    match me {
        Some(h) => {
            let d = q(&h.dest);
            s.push_str(&format!(
                r#"D={d}; P="$D.part"
if ! mkdir -p "$(dirname "$D")" || ! rm -f "$P" || ! : > "$P"; then echo "relay bad {host} cannot write $P"; cat > /dev/null; SHA=; else
SHA=$(tee -p "$P" {outs}{input} | sha512sum | cut -d' ' -f1); fi
SIZE=$(stat -c %s "$P" 2>/dev/null || echo 0)
if [ "$SHA" = {sha} ] && [ "$SIZE" = {size} ] && mv -f "$P" "$D"; then echo "relay ok {host}"
else rm -f "$P"; echo "relay bad {host} received $SIZE of {size} bytes$( [ "$SIZE" = {size} ] && echo ', sha512 differs'); free: $(df -Pk "$(dirname "$D")" 2>/dev/null | awk 'NR==2 {{print $4}}') KiB"; fi
"#,
                host = h.host,
                outs = outs.join(" "),
                sha = q(e.sha512),
                size = e.size,
            ));
        }
        None => {
            s.push_str(&format!("tee -p {}{input} > /dev/null\n", outs.join(" ")));
        }
    }
    s.push_str("wait\ncat \"$T\"/*.out 2>/dev/null\n");
    s
}

/// Verdicts reported by the scripts: host → (ok, why not).
fn verdicts(out: &str) -> BTreeMap<HostId, std::result::Result<(), String>> {
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let mut it = line.splitn(4, ' ');
        if it.next() != Some("relay") {
            continue;
        }
        let (Some(kind), Some(host)) = (it.next(), it.next()) else {
            continue;
        };
        let rest = it.next().unwrap_or("").trim().to_string();
        let v = match kind {
            "ok" => Ok(()),
            "lost" => Err(format!("its sender lost the connection: {rest}")),
            _ => Err(rest),
        };
        // A host's own verdict wins over its sender's view of the connection.
        let id = HostId(host.to_string());
        if v.is_ok() || !m.contains_key(&id) || kind == "bad" {
            m.insert(id, v);
        }
    }
    m
}

pub struct Relay<'a> {
    pub file: &'a str,
    pub local: &'a Path,
    pub size: u64,
    pub sha512: &'a str,
    pub seed: Option<&'a Seed>,
    pub hops: &'a [Hop],
    pub relayers: &'a [HostId],
}

impl Relay<'_> {
    fn expect(&self) -> Expect<'_> {
        Expect {
            sha512: self.sha512,
            size: self.size,
        }
    }

    fn children(&self, of: Option<&HostId>) -> Vec<&Hop> {
        self.hops.iter().filter(|h| h.from.as_ref() == of).collect()
    }

    /// Runs the relay; a host that could not get the verified file fails, named.
    pub async fn run(&self, fleet: &Fleet, rep: &dyn Reporter) -> Result<()> {
        let ok = tokio::select! {
            got = self.first_round(fleet, rep) => got,
            _ = self.progress(fleet, rep) => unreachable!("progress polls until the relay ends"),
        };
        let mut verified: BTreeSet<HostId> =
            ok.keys().filter(|h| ok[*h].is_ok()).cloned().collect();
        let missing: Vec<&Hop> = self
            .hops
            .iter()
            .filter(|h| !verified.contains(&h.host))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        for h in &missing {
            let why = match ok.get(&h.host) {
                Some(Err(w)) => w.clone(),
                _ => "its sender stopped".into(),
            };
            rep.event(&Event::Info {
                message: format!("{}: relay failed ({why}); feeding it again", h.host),
            });
        }
        // Senders for the second round: relaying hosts (trusted to every host of the route)
        // that hold the verified file.
        let sources: Vec<(&HostId, &str)> = self
            .seed
            .iter()
            .map(|s| (&s.host, s.path.as_str()))
            .chain(
                self.hops
                    .iter()
                    .filter(|h| self.relayers.contains(&h.host) && verified.contains(&h.host))
                    .map(|h| (&h.host, h.dest.as_str())),
            )
            .collect();
        let items: Vec<(usize, &Hop)> = missing.into_iter().enumerate().collect();
        let results = bounded(items, fleet.concurrency, |(i, hop)| {
            let src = (!sources.is_empty()).then(|| sources[i % sources.len()]);
            async move { (hop, self.feed_again(fleet, rep, hop, src).await) }
        })
        .await;
        let mut failures = Vec::new();
        for (hop, r) in results {
            match r {
                Ok(()) => {
                    verified.insert(hop.host.clone());
                }
                Err(error) => failures.push(HostFailure {
                    host: hop.host.clone(),
                    error,
                }),
            }
        }
        if failures.is_empty() {
            return Ok(());
        }
        Err(Error::Hosts {
            what: format!("did not get a verified {}", self.file),
            failures,
            total: self.hops.len(),
            after: format!(
                "{} host{} verified it and keep{} it to feed the others on the next run; nothing was unpacked, started or stopped.",
                verified.len(),
                if verified.len() == 1 { "" } else { "s" },
                if verified.len() == 1 { "s" } else { "" },
            ),
        })
    }

    /// The planned tree: the operator (or the seed) feeds the root, which forwards at once.
    async fn first_round(
        &self,
        fleet: &Fleet,
        rep: &dyn Reporter,
    ) -> BTreeMap<HostId, std::result::Result<(), String>> {
        let e = self.expect();
        let out = match self.seed {
            Some(seed) => {
                let kids = self.children(Some(&seed.host));
                let s = script(None, &kids, self.hops, &Source::File(&seed.path), &e);
                match fleet.get(&seed.host) {
                    Ok(r) => r.sh(seed.host.as_str(), &s).await.map(|o| o.stdout),
                    Err(e) => Err(e),
                }
            }
            None => {
                // The hops the operator feeds: the root, and hosts no host could send to.
                let tops: Vec<&Hop> = self.hops.iter().filter(|h| h.from.is_none()).collect();
                let outs = bounded(tops, fleet.concurrency, |top| {
                    let e = &e;
                    async move {
                        let kids = self.children(Some(&top.host));
                        let s = script(Some(top), &kids, self.hops, &Source::Stdin, e);
                        match self.send_from_operator(fleet, rep, top, &s).await {
                            Ok(o) => o,
                            Err(err) => format!("relay bad {} {err}\n", top.host),
                        }
                    }
                })
                .await;
                Ok(outs.concat())
            }
        };
        match out {
            Ok(o) => verdicts(&o),
            Err(err) => {
                let root = self.seed.map(|s| s.host.clone());
                let mut m = BTreeMap::new();
                if let Some(r) = root {
                    m.insert(r, Err(err.to_string()));
                }
                m
            }
        }
    }

    /// Streams the operator's file into `script` on `hop`'s host, with progress.
    async fn send_from_operator(
        &self,
        fleet: &Fleet,
        rep: &dyn Reporter,
        hop: &Hop,
        script: &str,
    ) -> Result<String> {
        let r = fleet.get(&hop.host)?;
        let sent = AtomicU64::new(0);
        let total = self.size;
        let host = hop.host.to_string();
        let progress = move |n: u64| {
            let now = sent.fetch_add(n, Ordering::Relaxed) + n;
            rep.event(&Event::UploadProgress {
                host: host.clone(),
                bytes: now,
                total,
            });
        };
        let out = r
            .send_file(hop.host.as_str(), self.local, 0, script, &progress)
            .await?;
        Ok(out.stdout)
    }

    /// The second round for one host: from `src` (a host holding the verified file) or, with
    /// none, from the operator.
    async fn feed_again(
        &self,
        fleet: &Fleet,
        rep: &dyn Reporter,
        hop: &Hop,
        src: Option<(&HostId, &str)>,
    ) -> Result<()> {
        let e = self.expect();
        let mut alone = hop.clone();
        alone.from = None;
        // The host itself must answer first: one whose sshd is gone cannot be fed at all.
        fleet
            .get(&hop.host)?
            .must(hop.host.as_str(), "reach the host", "true")
            .await?;
        let mut why = String::new();
        if let Some((from, path)) = src {
            let inner = script(Some(&alone), &[], &[], &Source::Stdin, &e);
            let s = format!("{} < {}", ssh_to(&hop.ssh, &inner), q(path));
            let out = fleet.get(from)?.sh(from.as_str(), &s).await?;
            match verdicts(&out.stdout).remove(&hop.host) {
                Some(Ok(())) => {
                    rep.event(&Event::Info {
                        message: format!("{}: fed again from {from}", hop.host),
                    });
                    return Ok(());
                }
                Some(Err(w)) => why = format!("from {from}: {w}; "),
                None => why = format!("from {from}: {}; ", out.why()),
            }
        }
        let s = script(Some(&alone), &[], &[], &Source::Stdin, &e);
        let out = self.send_from_operator(fleet, rep, &alone, &s).await?;
        match verdicts(&out).remove(&hop.host) {
            Some(Ok(())) => {
                rep.event(&Event::Info {
                    message: format!("{}: fed again from the operator", hop.host),
                });
                Ok(())
            }
            Some(Err(w)) => Err(Error::remote(
                hop.host.as_str(),
                format!("{why}from the operator: {w}"),
            )),
            None => Err(Error::remote(
                hop.host.as_str(),
                format!("{why}from the operator: no verdict came back"),
            )),
        }
    }

    /// Reports how far each host fed by another host has got, once a second; never returns.
    async fn progress(&self, fleet: &Fleet, rep: &dyn Reporter) {
        let relayed: Vec<&Hop> = self.hops.iter().filter(|h| h.from.is_some()).collect();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let sizes = bounded(relayed.clone(), fleet.concurrency, |h| async move {
                let script = format!(
                    "stat -c %s {p}.part 2>/dev/null || stat -c %s {p} 2>/dev/null",
                    p = q(&h.dest)
                );
                let n = match fleet.get(&h.host) {
                    Ok(r) => r
                        .sh(h.host.as_str(), &script)
                        .await
                        .ok()
                        .and_then(|o| o.stdout.trim().parse::<u64>().ok()),
                    Err(_) => None,
                };
                (h, n)
            })
            .await;
            for (h, n) in sizes {
                if let Some(n) = n {
                    rep.event(&Event::UploadProgress {
                        host: h.host.to_string(),
                        bytes: n.min(self.size),
                        total: self.size,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_s_own_verdict_wins_over_its_sender_s() {
        let v = verdicts(
            "relay ok a\nrelay lost b ssh: connect to host b port 22: Connection refused\nrelay bad c received 10 of 20 bytes\nnoise\n",
        );
        assert_eq!(v[&HostId("a".into())], Ok(()));
        assert!(v[&HostId("b".into())]
            .as_ref()
            .unwrap_err()
            .contains("Connection refused"));
        assert!(v[&HostId("c".into())]
            .as_ref()
            .unwrap_err()
            .contains("10 of 20"));
    }
}
