//! One executor per action: a function of the action and the connection to its host (and,
//! for actions that span hosts, the fleet's other connections). Executors never read the
//! inventory; what they need is in the action.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::components;
use crate::error::{Error, Result};
use crate::facts::SshPeer;
use crate::fleet::{Fleet, HostId};
use crate::plan::Action;
use crate::remote::{q, qp, Remote};
use crate::report::{Event, Reporter};

/// The state a step found before changing it, so an undoing stage can put it back.
#[derive(Debug, Clone, PartialEq)]
pub enum Undo {
    /// The link pointed at `previous` (None: there was no link).
    Link {
        link: String,
        previous: Option<String>,
    },
    /// The private file held `previous` (None: it did not exist).
    Secret {
        path: String,
        previous: Option<crate::plan::SecretBytes>,
    },
    /// The file held `previous` (None: it did not exist).
    File {
        path: String,
        previous: Option<String>,
        executable: bool,
    },
}

impl fmt::Display for Undo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undo::Link {
                link,
                previous: Some(p),
            } => write!(f, "{link} -> {p} again"),
            Undo::Link {
                link,
                previous: None,
            } => write!(f, "remove {link}"),
            Undo::File {
                path,
                previous: Some(_),
                ..
            }
            | Undo::Secret {
                path,
                previous: Some(_),
            } => write!(f, "{path} as it was"),
            Undo::File {
                path,
                previous: None,
                ..
            }
            | Undo::Secret {
                path,
                previous: None,
            } => write!(f, "remove {path}"),
        }
    }
}

/// The words a progress line shows for a step.
pub fn detail(a: &Action) -> String {
    match a {
        Action::Upload { dest, .. } => dest.clone(),
        Action::Download { dest, urls, .. } => {
            format!("{dest} from {}", urls.first().map_or("", String::as_str))
        }
        Action::Relay { file, hops, .. } => format!(
            "{file} to {} host{}",
            hops.len(),
            if hops.len() == 1 { "" } else { "s" }
        ),
        Action::Unpack { archive, dest, .. } => format!("{archive} -> {dest}"),
        Action::WriteFile { path, .. } | Action::WriteSecret { path, .. } => path.clone(),
        Action::Link { link, target, .. } => format!("{link} -> {target}"),
        Action::TrustSsh { peers, .. } => peers
            .iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        Action::SshConfig { block, .. } => if block.is_some() {
            "write ~/.ssh/config block"
        } else {
            "remove ~/.ssh/config block"
        }
        .into(),
        Action::StartService {
            service, script, ..
        }
        | Action::RunDaemon {
            service, script, ..
        } => format!("{service}: {script}"),
        Action::StopServices {
            services, reason, ..
        } => format!("{}: {reason}", services.join(", ")),
        Action::Remove {
            link,
            trees,
            state_dir,
        } => link
            .iter()
            .chain(trees)
            .chain(state_dir)
            .cloned()
            .collect::<Vec<_>>()
            .join(", "),
        Action::Unit { service, unit, .. } => format!("{service}: {unit}"),
        Action::Untrust { marker, .. } => format!("lines ending {marker}"),
        Action::Unlock { lock_dir, .. } => lock_dir.clone(),
        Action::Check(c) => c.to_string(),
    }
}

/// Executes one action on `host`. With `record`, returns what to undo it with.
pub async fn execute(
    a: &Action,
    id: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
    record: bool,
) -> Result<Option<Undo>> {
    let host = id.as_str();
    let r = fleet.get(id)?;
    match a {
        Action::Upload {
            local,
            dest,
            size,
            sha512,
            ..
        } => upload(r, host, rep, local, *size, sha512, dest)
            .await
            .map(|_| None),
        Action::Download {
            file,
            urls,
            dest,
            sha512,
        } => download(r, host, file, urls, dest, sha512)
            .await
            .map(|_| None),
        Action::Relay {
            file,
            local,
            size,
            sha512,
            seed,
            hops,
            relayers,
            unpack_top,
        } => {
            let (Some(local), Some(size), Some(sha512)) = (local, size, sha512) else {
                return Err(Error::Failed(
                    "relay planned but no verified artifact was fetched".into(),
                ));
            };
            super::relay::Relay {
                file,
                local: std::path::Path::new(local),
                size: *size,
                sha512,
                seed: seed.as_ref(),
                hops,
                relayers,
                top_dir: unpack_top.as_deref(),
            }
            .run(fleet, rep)
            .await
            .map(|_| None)
        }
        Action::Unpack {
            archive,
            dest,
            top_dir,
            staging,
            verify_sha512,
            archive_sha512,
            keep_archive,
        } => {
            // Once the release is in place, a host that does not seed later transfers drops
            // the archive and what a relay left beside it (a release's worth of disk each).
            let tidy = if *keep_archive {
                ":"
            } else {
                r#"rm -f "$A" "$A".resume-*"#
            };
            let script = format!(
                r#"A={a}; R={r}; S={s}; U="$A.unpacked"
# The release takes its place: whatever had its name goes first.
put() {{ if [ -e "$R" ]; then mv "$R" "$R.replaced.$(date +%s)" && rm -rf "$R.replaced".* || exit 1; fi; mv "$1" "$R"; }}
if [ -n {mark} ] && [ "$(cat "$U"/{dir}/.flinkup-sha512 2>/dev/null)" = {mark} ]; then
  # Unpacked as it arrived, from checked chunks of this very archive (a relay).
  put "$U"/{dir} && rm -rf "$U" || exit 1
  {tidy}; exit 0
fi
rm -rf "$U"
if [ -n {sha} ] && ! echo {sha}"  $A" | sha512sum -c --status; then echo "$A does not match its sha512 (corrupted on the host?); run again to upload it anew" >&2; rm -f "$A"; exit 3; fi
mkdir -p "$S" || exit 1
T=$(mktemp -d "$S/unpack.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
if ! tar xzf "$A" -C "$T" 2>"$T.err"; then
  echo "cannot unpack $A: $(tail -n 3 "$T.err"); free space in $S: $(df -Pk "$S" | awk 'NR==2 {{print $4}}') KiB" >&2; rm -f "$T.err"; exit 1
fi
rm -f "$T.err"
[ -d "$T"/{dir} ] || {{ echo "$A has no "{dir}"/ directory at its top" >&2; exit 1; }}
[ -z {mark} ] || echo {mark} > "$T"/{dir}/.flinkup-sha512
put "$T"/{dir} || exit 1
{tidy}
"#,
                a = qp(archive),
                r = qp(dest),
                s = qp(staging),
                sha = q(verify_sha512.as_deref().unwrap_or("")),
                mark = q(archive_sha512
                    .as_deref()
                    .or(verify_sha512.as_deref())
                    .unwrap_or("")),
                dir = q(top_dir),
            );
            r.must(host, "unpack", &script).await.map(|_| None)
        }
        Action::WriteFile {
            path,
            content,
            executable,
            ..
        } => {
            let p = qp(path);
            let before = if record {
                let out = r
                    .sh(
                        host,
                        &format!("if [ -f {p} ]; then echo present; cat {p}; fi"),
                    )
                    .await?;
                Some(Undo::File {
                    path: path.clone(),
                    previous: out.stdout.strip_prefix("present\n").map(str::to_string),
                    executable: *executable,
                })
            } else {
                None
            };
            write_file(r, host, path, content, *executable).await?;
            Ok(before)
        }
        Action::WriteSecret { path, content, .. } => {
            let before = if record {
                Some(Undo::Secret {
                    path: path.clone(),
                    previous: read_secret(r, host, path).await?,
                })
            } else {
                None
            };
            write_secret(r, host, path, &content.0).await?;
            Ok(before)
        }
        Action::Link {
            link,
            target,
            previous,
        } => {
            switch_link(r, host, link, target).await?;
            Ok(Some(Undo::Link {
                link: link.clone(),
                previous: previous.clone(),
            }))
        }
        Action::TrustSsh { peers, marker, .. } => {
            trust(id, fleet, peers, marker).await.map(|_| None)
        }
        Action::Untrust { marker, .. } => {
            // Rewritten in place (`cat >`), so the files keep their owner and mode.
            let s = format!(
                r#"m=" "{m}
for f in ~/.ssh/authorized_keys ~/.ssh/known_hosts; do
  [ -f "$f" ] || continue
  t=$(mktemp) || exit 1
  awk -v m="$m" '!({marked})' "$f" > "$t" && cat "$t" > "$f"; rc=$?; rm -f "$t"; [ $rc = 0 ] || exit 1
done"#,
                m = q(marker),
                marked = crate::plan::MARKED_LINE
            );
            r.must(host, "remove the ssh trust flinkup added", &s)
                .await
                .map(|_| None)
        }
        Action::SshConfig { begin, end, block } => {
            ssh_config(r, host, begin, end, block.as_deref())
                .await
                .map(|_| None)
        }
        Action::StartService {
            service,
            script,
            args,
            log,
            ..
        } => {
            let args: Vec<String> = args.iter().map(|a| q(a)).collect();
            // `setsid` puts the script in a new session so the daemons it forks get no SIGHUP
            // when the connection closes (a naive `ssh host start-cluster.sh` loses the
            // JobManager that way); `-w` still waits for the script itself.
            let s = format!(
                "export USER=\"${{USER:-$(id -un)}}\"; mkdir -p \"$(dirname {log})\" && setsid -w {s} {args} < /dev/null > {log} 2>&1; rc=$?; cat {log}; exit $rc",
                s = qp(script),
                log = qp(log),
                args = args.join(" "),
            );
            r.must(host, &format!("starting {service} failed"), &s)
                .await
                .map(|_| None)
        }
        Action::RunDaemon {
            service,
            script,
            args,
            env_file,
            pid_file,
            log,
            dirs,
            ..
        } => {
            let mut argv: Vec<String> = vec![q(env_file.as_deref().unwrap_or("")), qp(script)];
            argv.extend(args.iter().map(|a| q(a)));
            let dirs: Vec<String> = dirs.iter().map(|d| qp(d)).collect();
            // In a new session, so the service gets no SIGHUP when the connection closes;
            // `exec` keeps the pid that is recorded.
            let s = format!(
                r#"set -e
mkdir -p {dirs} "$(dirname {pid})" "$(dirname {log})"
setsid sh -c 'if [ -n "$1" ]; then . "$1"; fi; shift; exec "$@"' {service} {argv} < /dev/null >> {log} 2>&1 &
echo $! > {pid}
sleep 1
if ! kill -0 "$(cat {pid})" 2>/dev/null; then echo "{service_text} exited at once; the end of {log_text}:" >&2; tail -n 20 {log} >&2; exit 1; fi"#,
                dirs = dirs.join(" "),
                pid = qp(pid_file),
                log = qp(log),
                service = q(service),
                argv = argv.join(" "),
                service_text = service.replace(['"', '$', '`', '\\'], ""),
                log_text = log.replace(['"', '$', '`', '\\'], ""),
            );
            r.must(host, &format!("starting {service} failed"), &s)
                .await
                .map(|_| None)
        }
        Action::Unit {
            service, unit, op, ..
        } => {
            let u = q(unit);
            let what = match op {
                crate::plan::UnitOp::Start => format!("$S systemctl enable --now {u}"),
                crate::plan::UnitOp::Stop => format!(
                    "if [ -f {dir}/{u} ]; then $S systemctl disable --now {u}; fi",
                    dir = crate::components::flink::supervise::UNIT_DIR
                ),
                crate::plan::UnitOp::Remove => format!(
                    "$S systemctl disable --now {u} 2>/dev/null; $S rm -f {dir}/{u} && $S systemctl daemon-reload",
                    dir = crate::components::flink::supervise::UNIT_DIR
                ),
            };
            // A unit that fails at once shows why, from its journal.
            let check = match op {
                crate::plan::UnitOp::Start => format!(
                    r#"
i=0; while [ $i -lt 10 ]; do s=$(systemctl is-active {u}); case "$s" in active) exit 0;; failed|inactive) break;; esac; sleep 0.5; i=$((i+1)); done
if [ "$(systemctl is-active {u})" != active ]; then echo "{u} is $(systemctl is-active {u}); its journal ends:" >&2; $S journalctl -u {u} -n 20 --no-pager >&2; exit 1; fi"#
                ),
                _ => String::new(),
            };
            let s = format!(
                "{priv}$S systemctl daemon-reload && {what} || {{ echo \"its journal ends:\" >&2; $S journalctl -u {u} -n 20 --no-pager >&2; exit 1; }}{check}",
                priv = crate::components::flink::supervise::PRIVILEGE,
            );
            r.must(host, &format!("{} of {service} failed", op.as_str()), &s)
                .await
                .map(|_| None)
        }
        Action::StopServices {
            services,
            scripts,
            pid_files,
            cmdline_has,
            terminate,
            grace_secs,
            ..
        } => {
            let stops: Vec<String> = scripts
                .iter()
                .filter_map(|argv| argv.split_first())
                .map(|(cmd, args)| {
                    let args: Vec<String> = args.iter().map(|a| q(a)).collect();
                    format!(
                        "if [ -x {c} ]; then {c} {a} >/dev/null 2>&1; fi",
                        c = qp(cmd),
                        a = args.join(" ")
                    )
                })
                .collect();
            let files: Vec<String> = pid_files.iter().map(|p| qp(p)).collect();
            let alive_fn = crate::remote::shell::ALIVE_FN;
            let has = q(cmdline_has.as_deref().unwrap_or(""));
            let script = format!(
                r#"set +e
{alive_fn}
export USER="${{USER:-$(id -un)}}"
P=$(cat {files} 2>/dev/null)
{stops}
{term}
left=""
for i in $(seq {tries}); do
  left=""; for p in $P; do alive "$p" {has} && left="$left $p"; done
  [ -z "$left" ] && exit 0
  sleep 0.5
done
kill -9 $left 2>/dev/null; echo "killed:$left""#,
                files = files.join(" "),
                stops = stops.join("\n"),
                term = if *terminate {
                    "for p in $P; do kill -TERM \"$p\" 2>/dev/null; done"
                } else {
                    ""
                },
                tries = grace_secs * 2,
            );
            let out = r.sh(host, &script).await?;
            if let Some(k) = out.stdout.lines().find_map(|l| l.strip_prefix("killed:")) {
                rep.event(&Event::Warning {
                    message: format!(
                        "{host}: {} did not stop within {grace_secs}s; killed{k}",
                        services.join(", ")
                    ),
                });
            }
            Ok(None)
        }
        Action::Remove {
            link,
            trees,
            state_dir,
        } => {
            let mut script = String::from("set -e\n");
            if let Some(l) = link {
                script.push_str(&format!("if [ -L {l} ]; then rm -f {l}; fi\n", l = qp(l)));
            }
            for t in trees {
                script.push_str(&format!("rm -rf {t}; rm -rf {t}.incomplete.*\n", t = qp(t)));
            }
            if let Some(s) = state_dir {
                // The lock inside goes when this run releases it.
                script.push_str(&format!(
                    "if [ -d {s} ]; then find {s} -mindepth 1 -maxdepth 1 ! -name lock -exec rm -rf {{}} +; rmdir {s} 2>/dev/null || true; fi\n",
                    s = qp(s)
                ));
            }
            r.must(host, "remove the installation", &script)
                .await
                .map(|_| None)
        }
        Action::Unlock { lock_dir, .. } => r
            .must(
                host,
                "cannot remove the lock",
                &format!("rm -rf {}", qp(lock_dir)),
            )
            .await
            .map(|_| None),
        Action::Check(c) => components::run_check(c, id, fleet, rep).await.map(|_| None),
    }
}

/// Puts back one recorded state.
pub async fn undo(u: &Undo, id: &HostId, fleet: &Fleet) -> Result<()> {
    let host = id.as_str();
    let r = fleet.get(id)?;
    match u {
        Undo::Link {
            link,
            previous: Some(p),
        } => switch_link(r, host, link, p).await,
        Undo::Link {
            link,
            previous: None,
        } => r
            .must(
                host,
                "remove the link",
                &format!("if [ -L {l} ]; then rm -f {l}; fi", l = qp(link)),
            )
            .await
            .map(drop),
        Undo::File {
            path,
            previous: Some(p),
            executable,
        } => write_file(r, host, path, p, *executable).await,
        Undo::Secret {
            path,
            previous: Some(p),
        } => write_secret(r, host, path, &p.0).await,
        Undo::Secret {
            path,
            previous: None,
        }
        | Undo::File {
            path,
            previous: None,
            ..
        } => r
            .must(host, "remove the file", &format!("rm -f {}", qp(path)))
            .await
            .map(drop),
    }
}

/// A private file's bytes, None when it does not exist.
async fn read_secret(
    r: &Remote,
    host: &str,
    path: &str,
) -> Result<Option<crate::plan::SecretBytes>> {
    let p = qp(path);
    let out = r
        .sh(
            host,
            &format!("if [ -f {p} ]; then echo present; base64 -w0 < {p}; fi"),
        )
        .await?;
    Ok(out.stdout.strip_prefix("present\n").and_then(|b| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .ok()
            .map(crate::plan::SecretBytes)
    }))
}

/// Writes a private file: its directory 0700, the file 0600 from the start (umask), then
/// renamed into place.
async fn write_secret(r: &Remote, host: &str, path: &str, content: &[u8]) -> Result<()> {
    let p = qp(path);
    let script = format!(
        "umask 077 && d=\"$(dirname {p})\" && mkdir -p \"$d\" && chmod 700 \"$d\" && cat > {p}.flinkup-tmp && chmod 600 {p}.flinkup-tmp && mv -f {p}.flinkup-tmp {p}"
    );
    write_with(r, host, path, &script, content).await
}

/// Runs a script that writes `path` from its standard input, fed `content`.
async fn write_with(
    r: &Remote,
    host: &str,
    path: &str,
    script: &str,
    content: &[u8],
) -> Result<()> {
    let out = r.sh_input(host, script, Some(content)).await?;
    if out.ok() {
        Ok(())
    } else {
        Err(Error::remote(
            host,
            format!("cannot write {path}: {}", out.why()),
        ))
    }
}

async fn write_file(
    r: &Remote,
    host: &str,
    path: &str,
    content: &str,
    executable: bool,
) -> Result<()> {
    let p = qp(path);
    // A unit file is the system's: written as root, or through sudo -n.
    let (privilege, s) = if path.starts_with(crate::components::flink::supervise::UNIT_DIR) {
        (crate::components::flink::supervise::PRIVILEGE, "$S ")
    } else {
        ("", "")
    };
    // A file that carries passwords (flink-conf with TLS) is readable by its owner only.
    let private = crate::secrets::carries_secrets(content);
    let script = format!(
        "{privilege}{s}mkdir -p \"$(dirname {p})\" && {umask}{s}tee {p}.flinkup-tmp >/dev/null{chmod} && {s}mv -f {p}.flinkup-tmp {p}",
        umask = if private { "umask 077 && " } else { "" },
        chmod = if executable {
            format!(" && {s}chmod 755 {p}.flinkup-tmp")
        } else if private {
            format!(" && {s}chmod 600 {p}.flinkup-tmp")
        } else {
            String::new()
        }
    );
    write_with(r, host, path, &script, content.as_bytes()).await
}

async fn switch_link(r: &Remote, host: &str, link: &str, target: &str) -> Result<()> {
    let script = format!(
        "ln -sfn {t} {l}.flinkup-tmp && mv -Tf {l}.flinkup-tmp {l}",
        t = qp(target),
        l = qp(link)
    );
    r.must(host, &format!("cannot switch {link}"), &script)
        .await
        .map(drop)
}

/// Writes (or removes) the block between `begin` and `end` at the top of `~/.ssh/config`:
/// ssh takes the first value it finds, so the block must come before the user's own `Host *`.
async fn ssh_config(
    r: &Remote,
    host: &str,
    begin: &str,
    end: &str,
    block: Option<&str>,
) -> Result<()> {
    let script = format!(
        r#"set -e
mkdir -p ~/.ssh && chmod 700 ~/.ssh
C=~/.ssh/config; touch "$C"
B=$(grep -nxF {b} "$C" | head -n1 | cut -d: -f1); E=$(grep -nxF {e} "$C" | head -n1 | cut -d: -f1)
T="$C.flinkup-tmp"
cat > "$T"
if [ -n "$B" ] && [ -n "$E" ]; then sed "${{B}},${{E}}d" "$C" >> "$T"; else cat "$C" >> "$T"; fi
chmod 600 "$T"; mv -f "$T" "$C""#,
        b = q(begin),
        e = q(end),
    );
    let out = r
        .sh_input(host, &script, Some(block.unwrap_or("").as_bytes()))
        .await?;
    if out.ok() {
        Ok(())
    } else {
        Err(Error::remote(
            host,
            format!("cannot update ~/.ssh/config: {}", out.why()),
        ))
    }
}

/// Lets this host log in to each peer with a key (start-cluster.sh, a relay): a key here
/// (made if missing), authorized on each peer through flinkup's own verified connection, and
/// the peers' host keys recorded here as `ssh -p PORT NAME` looks them up (through
/// ~/.ssh/config, where flinkup's block may name another address).
async fn trust(from: &HostId, fleet: &Fleet, peers: &[SshPeer], marker: &str) -> Result<()> {
    let me = fleet.get(from)?;
    let key = me
        .must(
            from.as_str(),
            "prepare this host's ssh key",
            "mkdir -p ~/.ssh && chmod 700 ~/.ssh && { [ -f ~/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -C \"flinkup@$(hostname)\" -f ~/.ssh/id_ed25519; } && cat ~/.ssh/id_ed25519.pub",
        )
        .await?;
    // The key itself (type and base64), its comment replaced by the cluster's marker: a key
    // already authorized there (by whatever means) is left as it is and not added again.
    let key: String = key.split_whitespace().take(2).collect::<Vec<_>>().join(" ");
    let ids: Vec<HostId> = peers.iter().map(|p| p.host.clone()).collect();
    let script = format!(
        "mkdir -p ~/.ssh && chmod 700 ~/.ssh && touch ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys && {{ awk -v k={k} '$1\" \"$2 == k {{ f = 1 }} END {{ exit !f }}' ~/.ssh/authorized_keys || echo {line} >> ~/.ssh/authorized_keys; }}",
        k = q(&key),
        line = q(&format!("{key} {marker}"))
    );
    let what = format!("authorize {from}'s ssh key");
    for (id, r) in fleet
        .for_each(&ids, |id, remote| {
            let (script, what) = (script.clone(), what.clone());
            async move { remote.must(id.as_str(), &what, &script).await }
        })
        .await
    {
        r.map_err(|e| match e {
            Error::Remote { .. } => e,
            other => Error::remote(id.as_str(), other.to_string()),
        })?;
    }
    // Sixteen peers at a time: quick for a few hosts, bounded for hundreds.
    let checks: Vec<String> = peers
        .chunks(16)
        .map(|batch| {
            let mut line: Vec<String> = batch
                .iter()
                .map(|p| {
                    format!(
                        "t {} {} {} &",
                        q(&p.name),
                        p.port,
                        q(p.user.as_deref().unwrap_or(""))
                    )
                })
                .collect();
            line.push("wait".into());
            line.join(" ")
        })
        .collect();
    let script = format!(
        r#"touch ~/.ssh/known_hosts; B=$(mktemp) || exit 1
M={marker}
t() {{
  h=$1; p=$2; u=$3
  a=$(ssh -G -p "$p" "$h" 2>/dev/null | awk '$1=="hostname" {{print $2}}'); [ -n "$a" ] || a="$h"
  if [ "$p" = 22 ]; then k="$a"; else k="[$a]:$p"; fi
  ssh-keygen -F "$k" >/dev/null 2>&1 || ssh-keyscan -T 5 -p "$p" "$a" 2>/dev/null | sed "s/\$/ $M/" >> ~/.ssh/known_hosts
  ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 -p "$p" ${{u:+-l "$u"}} "$h" true >/dev/null 2>&1 || echo " $h" >> "$B"
}}
{checks}
wait; bad=$(tr -d '\n' < "$B"); rm -f "$B"
if [ -n "$bad" ]; then echo "still cannot ssh without a password to:$bad" >&2; exit 1; fi"#,
        checks = checks.join("\n"),
        marker = q(marker)
    );
    me.must(from.as_str(), "set up ssh from this host", &script)
        .await
        .map(drop)
}

/// Counts what is sent to `host` from byte `from` on and reports it as upload progress.
pub(super) fn sent_counter<'a>(
    rep: &'a dyn Reporter,
    host: &str,
    from: u64,
    total: u64,
) -> impl Fn(u64) + Send + Sync + 'a {
    let sent = AtomicU64::new(from);
    let host = HostId(host.to_string());
    move |n: u64| {
        let now = sent.fetch_add(n, Ordering::Relaxed) + n;
        rep.event(&Event::UploadProgress {
            host: host.clone(),
            bytes: now,
            total,
        });
    }
}

/// The verified file an upload sends.
struct Art<'a> {
    path: &'a std::path::Path,
    size: u64,
    sha512: &'a str,
}

/// Sends the tarball, resuming a partial upload, and checks its sha512 on the host before
/// it takes its final name. A fresh upload is hashed as it is written (`tee`), so the check
/// costs no second read of the file.
async fn upload(
    r: &Remote,
    host: &str,
    rep: &dyn Reporter,
    local: &Option<String>,
    size: Option<u64>,
    sha512: &Option<String>,
    dest: &str,
) -> Result<()> {
    let (Some(local), Some(size), Some(sha512)) = (local, size, sha512) else {
        return Err(Error::Failed(
            "upload planned but no verified artifact was fetched".into(),
        ));
    };
    let art = Art {
        path: std::path::Path::new(local),
        size,
        sha512,
    };
    let part = format!("{dest}.part");
    let (d, p) = (qp(dest), qp(&part));
    for attempt in 0..2 {
        let have = r
            .must(
                host,
                "prepare upload",
                &format!("mkdir -p \"$(dirname {d})\" && if [ -f {p} ]; then stat -c %s {p}; else echo 0; fi"),
            )
            .await?;
        let mut offset: u64 = have.trim().parse().unwrap_or(0);
        if offset >= art.size || attempt > 0 {
            offset = 0;
        }
        if offset > 0 {
            rep.event(&Event::Info {
                message: format!(
                    "{host}: resuming the upload at byte {offset} of {}",
                    art.size
                ),
            });
        }
        let progress = sent_counter(rep, host, offset, art.size);
        // A fresh upload is hashed as it is written (tee into sha512sum): the check costs no
        // second read. A plain upload is unpacked after it (a relay unpacks checked chunks as
        // they arrive, where the operator's link is the slow part).
        let script = if offset > 0 {
            format!("cat >> {p}; echo \"sha=$(sha512sum {p} | cut -d' ' -f1)\"; echo \"size=$(stat -c %s {p})\"")
        } else {
            format!("echo \"sha=$(tee {p} | sha512sum | cut -d' ' -f1)\"; echo \"size=$(stat -c %s {p} 2>/dev/null || echo 0)\"")
        };
        let out = r
            .send_file(host, art.path, offset, &script, &progress)
            .await?;
        let field = |k: &str| {
            out.stdout
                .lines()
                .find_map(|l| l.strip_prefix(k).map(|v| v.trim().to_string()))
                .unwrap_or_default()
        };
        let got = field("sha=");
        let size: u64 = field("size=").parse().unwrap_or(0);
        if size != art.size {
            // The host could not store the file (disk full, permissions): nothing partial stays.
            let free = r
                .sh(
                    host,
                    &format!("rm -f {p}; df -Pk \"$(dirname {d})\" | awk 'NR==2 {{print $4}}'"),
                )
                .await
                .map(|o| o.stdout.trim().to_string())
                .unwrap_or_default();
            let free = free
                .parse::<u64>()
                .map(|kb| crate::inventory::units::human(kb * 1024))
                .unwrap_or_else(|_| "unknown".into());
            return Err(Error::remote(
                host,
                format!(
                    "upload to {part} stored {size} of {} bytes ({}); free space there: {free}. The partial file was removed; the installed release is untouched",
                    art.size,
                    out.why()
                ),
            ));
        }
        if got == *art.sha512 {
            return r
                .must(host, "rename the upload", &format!("mv -f {p} {d}"))
                .await
                .map(drop);
        }
        r.sh(host, &format!("rm -f {p}")).await?;
        if attempt == 1 || offset == 0 {
            return Err(Error::remote(
                host,
                format!(
                    "sha512 of the uploaded file does not match: expected {}, got {got}",
                    art.sha512
                ),
            ));
        }
    }
    Ok(())
}

/// The host downloads the archive itself and keeps it only when its sha512 matches.
async fn download(
    r: &crate::remote::Remote,
    host: &str,
    file: &str,
    urls: &[String],
    dest: &str,
    sha512: &str,
) -> Result<()> {
    use crate::remote::{q, qp};
    let sources: Vec<String> = urls.iter().map(|u| q(u)).collect();
    let script = format!(
        r#"D={dest}; P="$D.part"; mkdir -p "$(dirname "$D")"; rm -f "$P"; OK=
for U in {sources}; do
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 2 --connect-timeout 10 -o "$P" "$U" 2>/dev/null && OK=$U && break
  else wget -q -T 10 -t 3 -O "$P" "$U" && OK=$U && break; fi
done
if [ -z "$OK" ]; then rm -f "$P"; echo "no source answered from this host: {list}" >&2; exit 3; fi
S=$(sha512sum "$P" | cut -d' ' -f1)
if [ "$S" != {sha} ]; then rm -f "$P"; echo "$OK served a file whose sha512 is $S, not the expected {sha}" >&2; exit 4; fi
mv -f "$P" "$D"
"#,
        dest = qp(dest),
        sources = sources.join(" "),
        list = q(&urls.join(", ")),
        sha = q(sha512),
    );
    let out = r.sh(host, &script).await?;
    if out.ok() {
        Ok(())
    } else {
        Err(Error::remote(
            host,
            format!(
                "download of {file} failed: {}; nothing was unpacked",
                out.why()
            ),
        ))
    }
}
