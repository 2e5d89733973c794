//! The relay: one artifact to many hosts with one copy over the operator's link. Each host's
//! receiving script writes the stream to `<dest>.part` and, through its own ssh, forwards it
//! at the same time to the hosts it feeds (a tree). Every host's verdict comes back up the
//! tree as a `relay ok|bad HOST` line.
//!
//! The operator hashes the verified file in chunks of [`CHUNK`] bytes; each host checks every
//! chunk's sha512 as `<dest>.part` grows and renames its copy to `<dest>` only when every chunk
//! and the size matched. A release archive is also unpacked while it arrives: only a checked
//! chunk reaches tar, and the tree goes to `<dest>.unpacked/` only when the whole file matched;
//! the unpack step then renames it into place instead of reading the archive again.
//!
//! Each host's script is written to `<dest>.relay.sh` through flinkup's own connection before
//! the transfer starts, so the command one host runs on the next stays short however large the
//! tree.
//!
//! A host whose sender failed (killed sshd, full disk, a cut link) is fed again in a second
//! round: from the root of the route if it holds the verified file, or else from the operator.
//! A host that cannot be fed even then fails the step, named with its reason; the others keep
//! their verified copy, which seeds the next run. A host the operator feeds keeps the checked
//! chunks of a transfer that broke off (`<dest>.resume-<sha512 prefix>`), and the operator
//! sends only the rest next time.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

use crate::artifact::ahead::CHUNK;
use crate::error::{Error, HostFailure, Result};
use crate::facts::SshPeer;
use crate::fleet::{bounded, Fleet, HostId};
use crate::plan::{Hop, Seed};
use crate::remote::{q, qp};
use crate::report::{Event, Reporter};

/// How a relaying host logs in to the next: no prompt, known host keys only, and a dead peer
/// noticed within seconds instead of TCP's minutes.
/// AES-GCM first: with the AES instructions every server CPU has, it costs a fraction of
/// ChaCha20's CPU per byte, which a host forwarding to several others feels; the server still
/// picks from its own list.
const SSH_OPTS: &str = "-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 -o ServerAliveInterval=5 -o ServerAliveCountMax=3 -o Compression=no -o LogLevel=ERROR -o Ciphers=aes128-gcm@openssh.com,aes256-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr,aes256-ctr";

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
    /// The sha512 of each [`CHUNK`] of the file, in order.
    chunks: &'a [String],
    /// The archive's top directory, when hosts unpack it as it arrives.
    top_dir: Option<&'a str>,
}

/// Where a host's script for this relay is written.
fn script_path(dest: &str) -> String {
    format!("{dest}.relay.sh")
}

/// Where a host the operator feeds keeps the checked part of a transfer that broke off; named
/// after the file's sha512, so a part of another file is never resumed.
fn resume_path(dest: &str, sha512: &str) -> String {
    format!("{dest}.resume-{}", &sha512[..sha512.len().min(16)])
}

/// `ssh` from one host to another, running that host's staged script.
fn ssh_to(p: &SshPeer, dest: &str) -> String {
    let mut s = format!("ssh {SSH_OPTS} -p {}", p.port);
    if let Some(u) = &p.user {
        s.push_str(&format!(" -l {}", q(u)));
    }
    format!(
        "{s} {} {}",
        q(&p.name),
        q(&format!("sh {}", qp(&script_path(dest))))
    )
}

/// The script a host runs beside `at` (its destination, or the seed's file): forward to
/// `children` while receiving (or, for a sender that does not receive, while reading
/// `source`), unpack checked chunks, verify its own copy, report every verdict (its own and
/// its receivers').
/// With `resume` (a host the operator feeds), the host replays the checked part it kept of a
/// transfer that broke off, and keeps the checked part of this one if it breaks off too.
fn script(
    at: &str,
    me: Option<&Hop>,
    children: &[&Hop],
    source: &Source,
    e: &Expect,
    resume: bool,
) -> String {
    let host = me.map_or("-".to_string(), |h| h.host.to_string());
    let mut s = format!(
        r#"B={b}
# Leftovers of a relay whose host went down are removed; a relay ends by removing its own,
# on a signal too (its sshd killed).
rm -rf "$(dirname "$B")"/.relay.??????
if ! mkdir -p "$(dirname "$B")" || ! T=$(mktemp -d "$(dirname "$B")/.relay.XXXXXX"); then echo "relay bad {host} cannot write in $(dirname "$B")"; cat > /dev/null; exit 0; fi
trap 'rm -rf "$T" {own}' EXIT
trap 'exit 1' HUP INT TERM PIPE
"#,
        b = qp(at),
        own = qp(&script_path(at)),
    );
    let mut outs = Vec::new();
    for (i, c) in children.iter().enumerate() {
        s.push_str(&format!(
            "mkfifo \"$T/{i}\"\n( {ssh} < \"$T/{i}\" > \"$T/{i}.out\" 2>&1 || echo \"relay lost {host} $(tail -n 1 \"$T/{i}.out\" | tr -d '\\r')\" >> \"$T/{i}.out\" ) &\n",
            ssh = ssh_to(&c.ssh, &c.dest),
            host = c.host,
        ));
        outs.push(format!("\"$T/{i}\""));
    }
    let input = match source {
        Source::Stdin => String::new(),
        Source::File(p) => format!(" < {}", qp(p)),
    };
    match me {
        Some(h) => {
            // The receiving tee never waits for the checks: they follow `<dest>.part` as it
            // grows, one chunk at a time, and only a chunk whose sha512 matched reaches tar.
            let top = e.top_dir.map(q).unwrap_or_default();
            s.push_str(&format!(
                r#"D={d}; P="$D.part"; U="$D.unpacked"; R={r}; N={size}; TOP={top}
printf '%s\n' {sums} > "$T/sums"
mkdir "$T/tree"
vc() {{
  exec 3< "$T/sums"; i=0
  while read -r want <&3; do
    end=$(( (i + 1) * {chunk} )); [ "$end" -le "$N" ] || end=$N
    while [ ! -e "$T/done" ] && [ "$(stat -c %s "$P" 2>/dev/null || echo 0)" -lt "$end" ]; do sleep 0.1; done
    # A stream that ended early is short, not wrong: what was checked can be resumed.
    [ "$(stat -c %s "$P" 2>/dev/null || echo 0)" -ge "$end" ] || return 1
    # The part file only grows: a chunk hashed here is the chunk tar reads next.
    if [ "$(dd if="$P" bs={chunk} skip=$i count=1 2>/dev/null | sha512sum | cut -d' ' -f1)" != "$want" ]; then echo "chunk $((i + 1)) of {count} does not match its sha512" > "$T/why"; return 1; fi
    if [ -n "$TOP" ]; then dd if="$P" bs={chunk} skip=$i count=1 2>/dev/null || TOP=; fi
    i=$((i + 1)); echo "$i" > "$T/good"
  done
  : > "$T/ok"
}}
if [ -n "$TOP" ]; then ( vc | tar xzf - -C "$T/tree" 2>/dev/null && : > "$T/untarred" ) & else vc & fi
# Fed by the operator, a host first replays what it kept of a transfer that broke off: the
# operator then sends only the rest.
if [ {resume} = 1 ] && [ -f "$R" ]; then IN="$R"; else IN=/dev/null; rm -f "$R"; fi
if rm -f "$P" && : > "$P"; then {{ cat "$IN"; cat; }}{input} | tee -p "$P" {outs} > /dev/null; else echo "relay bad {host} cannot write $P"; cat > /dev/null; for f in {outs}; do : > "$f"; done; fi
: > "$T/done"
wait
SIZE=$(stat -c %s "$P" 2>/dev/null || echo 0)
if [ -e "$T/ok" ] && [ "$SIZE" = "$N" ] && mv -f "$P" "$D"; then
  rm -f "$R"; how=""
  if [ -e "$T/untarred" ] && [ -n "$TOP" ] && [ -d "$T/tree/$TOP" ]; then echo {sha} > "$T/tree/$TOP/.flinkup-sha512" && rm -rf "$U" && mv "$T/tree" "$U" && how=" unpacked"; fi
  echo "relay ok {host}$how"
else
  if [ {resume} = 1 ] && [ ! -e "$T/why" ] && [ "$SIZE" -lt "$N" ] && [ -s "$T/good" ]; then truncate -s $(( $(cat "$T/good") * {chunk} )) "$P" && mv -f "$P" "$R"; else rm -f "$R"; fi
  rm -f "$P"; echo "relay bad {host} received $SIZE of $N bytes$( [ -e "$T/why" ] && echo ", $(cat "$T/why")"); free: $(df -Pk "$(dirname "$D")" 2>/dev/null | awk 'NR==2 {{print $4}}') KiB"; fi
"#,
                d = qp(&h.dest),
                host = h.host,
                outs = outs.join(" "),
                sha = q(e.sha512),
                size = e.size,
                sums = e.chunks.join(" "),
                chunk = CHUNK,
                count = e.chunks.len(),
                r = qp(&resume_path(&h.dest, e.sha512)),
                resume = u8::from(resume),
            ));
        }
        None => {
            s.push_str(&format!(
                "tee -p {}{input} > /dev/null\nwait\n",
                outs.join(" ")
            ));
        }
    }
    s.push_str("cat \"$T\"/*.out 2>/dev/null\n");
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
    /// The archive's top directory, when hosts unpack it as it arrives.
    pub top_dir: Option<&'a str>,
}

impl Relay<'_> {
    fn children(&self, of: Option<&HostId>) -> Vec<&Hop> {
        self.hops.iter().filter(|h| h.from.as_ref() == of).collect()
    }

    /// Runs the relay; a host that could not get the verified file fails, named.
    pub async fn run(&self, fleet: &Fleet, rep: &dyn Reporter) -> Result<()> {
        // The chunks' hashes come from the verified file: hashed whole in the same read (ahead,
        // while the hosts were probed, or now), it must still be the file that was verified.
        let local = self.local.to_path_buf();
        let crate::artifact::ahead::Sums {
            sha512: whole,
            chunks,
        } = tokio::task::spawn_blocking(move || {
            crate::artifact::ahead::take(&local, true)
                .map_or_else(|| crate::artifact::ahead::sums(&local, true), Ok)
        })
        .await
        .map_err(|e| Error::Failed(format!("hashing the archive's chunks: {e}")))?
        .map_err(|e| Error::io(format!("cannot read {}", self.local.display()), e))?;
        if whole != self.sha512 {
            return Err(Error::Failed(format!(
                "{} changed since it was verified (sha512 {whole}, expected {}); run again to fetch it anew",
                self.local.display(),
                self.sha512
            )));
        }
        let e = Expect {
            sha512: self.sha512,
            size: self.size,
            chunks: &chunks,
            top_dir: self.top_dir,
        };
        let ok = tokio::select! {
            got = self.first_round(fleet, rep, &e) => got,
            _ = self.progress(fleet, rep) => unreachable!("progress polls until the relay ends"),
        };
        let mut verified: BTreeSet<HostId> =
            ok.keys().filter(|h| ok[*h].is_ok()).cloned().collect();
        // Progress is polled: close every verified host's count at the end.
        for h in &verified {
            rep.event(&Event::UploadProgress {
                host: (*h).clone(),
                bytes: self.size,
                total: self.size,
            });
        }
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
        // Senders for the second round: the hosts that log in to every host of the route
        // (the seed, the root) and hold the verified file.
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
            let e = &e;
            async move { (hop, self.feed_again(fleet, rep, hop, src, e).await) }
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

    /// Writes a host's script where its sender runs it from.
    async fn stage(fleet: &Fleet, host: &HostId, at: &str, script: &str) -> Result<()> {
        let p = qp(&script_path(at));
        let out = fleet
            .get(host)?
            .sh_input(
                host.as_str(),
                &format!("mkdir -p \"$(dirname {p})\" && cat > {p}"),
                Some(script.as_bytes()),
            )
            .await?;
        if out.ok() {
            Ok(())
        } else {
            Err(Error::remote(
                host.as_str(),
                format!("cannot write the relay script: {}", out.why()),
            ))
        }
    }

    /// The planned tree: every host's script written first, then the operator (or the seed)
    /// feeds the root, which forwards at once. Returns the verdicts that came back.
    async fn first_round(
        &self,
        fleet: &Fleet,
        rep: &dyn Reporter,
        e: &Expect<'_>,
    ) -> BTreeMap<HostId, std::result::Result<(), String>> {
        let mut verdict = BTreeMap::new();
        let staged = bounded(
            self.hops.iter().collect(),
            fleet.concurrency,
            |h| async move {
                let kids = self.children(Some(&h.host));
                let s = script(&h.dest, Some(h), &kids, &Source::Stdin, e, h.from.is_none());
                (h, Self::stage(fleet, &h.host, &h.dest, &s).await)
            },
        )
        .await;
        for (h, r) in staged {
            if let Err(err) = r {
                verdict.insert(h.host.clone(), Err(err.to_string()));
            }
        }
        let out = match self.seed {
            Some(seed) => {
                let kids = self.children(Some(&seed.host));
                let s = script(&seed.path, None, &kids, &Source::File(&seed.path), e, false);
                let run = async {
                    Self::stage(fleet, &seed.host, &seed.path, &s).await?;
                    let cmd = format!("sh {}", qp(&script_path(&seed.path)));
                    fleet
                        .get(&seed.host)?
                        .sh(seed.host.as_str(), &cmd)
                        .await
                        .map(|o| o.stdout)
                };
                // On failure the hosts it feeds have no verdict: they are fed again.
                run.await.unwrap_or_default()
            }
            None => {
                // The hops the operator feeds: the root, and hosts no host could send to.
                let tops: Vec<&Hop> = self.hops.iter().filter(|h| h.from.is_none()).collect();
                let outs = bounded(tops, fleet.concurrency, |top| async move {
                    let cmd = format!("sh {}", qp(&script_path(&top.dest)));
                    match self.send_from_operator(fleet, rep, top, &cmd).await {
                        Ok(o) => o,
                        Err(err) => format!("relay bad {} {err}\n", top.host),
                    }
                })
                .await;
                outs.concat()
            }
        };
        for (h, v) in verdicts(&out) {
            verdict.entry(h).or_insert(v);
        }
        verdict
    }

    /// Streams the operator's file into `command` on `hop`'s host, with progress.
    async fn send_from_operator(
        &self,
        fleet: &Fleet,
        rep: &dyn Reporter,
        hop: &Hop,
        command: &str,
    ) -> Result<String> {
        let r = fleet.get(&hop.host)?;
        let kept = resume_path(&hop.dest, self.sha512);
        let offset: u64 = r
            .sh(
                hop.host.as_str(),
                &format!("stat -c %s {} 2>/dev/null || echo 0", qp(&kept)),
            )
            .await?
            .stdout
            .trim()
            .parse()
            .unwrap_or(0)
            .min(self.size);
        if offset > 0 {
            rep.event(&Event::Info {
                message: format!(
                    "{}: resuming the relay at byte {offset} of {}",
                    hop.host, self.size
                ),
            });
        }
        let progress = super::exec::sent_counter(rep, hop.host.as_str(), offset, self.size);
        let out = r
            .send_file(hop.host.as_str(), self.local, offset, command, &progress)
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
        e: &Expect<'_>,
    ) -> Result<()> {
        let mut alone = hop.clone();
        alone.from = None;
        let mut why = String::new();
        if let Some((from, path)) = src {
            let s = script(&hop.dest, Some(&alone), &[], &Source::Stdin, e, false);
            Self::stage(fleet, &hop.host, &hop.dest, &s).await?;
            let cmd = format!("{} < {}", ssh_to(&hop.ssh, &hop.dest), qp(path));
            let out = fleet.get(from)?.sh(from.as_str(), &cmd).await?;
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
        let s = script(&hop.dest, Some(&alone), &[], &Source::Stdin, e, true);
        Self::stage(fleet, &hop.host, &hop.dest, &s).await?;
        let cmd = format!("sh {}", qp(&script_path(&hop.dest)));
        let out = self.send_from_operator(fleet, rep, &alone, &cmd).await?;
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

    /// Reports how far each host fed by another host has got, every two seconds; never returns.
    async fn progress(&self, fleet: &Fleet, rep: &dyn Reporter) {
        let relayed: Vec<&Hop> = self.hops.iter().filter(|h| h.from.is_some()).collect();
        loop {
            // Every two seconds: each look is an ssh session on the host.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let sizes = bounded(relayed.clone(), fleet.concurrency, |h| async move {
                let script = format!(
                    "stat -c %s {part} 2>/dev/null || stat -c %s {p} 2>/dev/null",
                    part = qp(&format!("{}.part", h.dest)),
                    p = qp(&h.dest)
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
                        host: h.host.clone(),
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
