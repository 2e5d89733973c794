//! One executor per action.

use std::sync::atomic::{AtomicU64, Ordering};

use super::daemons;
use super::Context;
use crate::error::{Error, Result};
use crate::plan::Action;
use crate::remote::{q, qp};
use crate::report::Event;
use crate::verify::{self, Rest};

fn step(ctx: &Context, host: &str, a: &Action, detail: String) {
    ctx.rep.event(&Event::Step {
        host: host.to_string(),
        action: a.verb().to_string(),
        detail,
    });
}

pub async fn host_action(ctx: &Context<'_>, i: usize, a: &Action) -> Result<()> {
    let host = &ctx.cluster.hosts[i].name;
    let r = &ctx.remotes[i];
    match a {
        Action::Upload { dest, .. } => {
            step(ctx, host, a, dest.clone());
            upload(ctx, i, dest).await
        }
        Action::Unpack {
            archive,
            dest,
            checked,
        } => {
            step(ctx, host, a, format!("{archive} -> {dest}"));
            // Re-check an archive found on the host; one uploaded just now was checked already.
            let sha = match (checked, ctx.artifact) {
                (false, Some(f)) => f.sha512.clone(),
                _ => String::new(),
            };
            let dir = format!("flink-{}", ctx.cluster.version);
            let script = format!(
                r#"A={a}; R={r}; S={s}
if [ -n {sha} ] && ! echo {sha}"  $A" | sha512sum -c --status; then echo "$A does not match its sha512 (corrupted on the host?); run again to upload it anew" >&2; rm -f "$A"; exit 3; fi
mkdir -p "$S" || exit 1
T=$(mktemp -d "$S/unpack.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
if ! tar xzf "$A" -C "$T" 2>"$T.err"; then
  echo "cannot unpack $A: $(tail -n 3 "$T.err"); free space in $S: $(df -Pk "$S" | awk 'NR==2 {{print $4}}') KiB" >&2; rm -f "$T.err"; exit 1
fi
rm -f "$T.err"
[ -d "$T/{dir}" ] || {{ echo "$A has no {dir}/ directory at its top" >&2; exit 1; }}
if [ -e "$R" ]; then mv "$R" "$R.incomplete.$(date +%s)" || exit 1; fi
mv "$T/{dir}" "$R"
"#,
                a = qp(archive),
                r = qp(dest),
                s = qp(&ctx.cluster.state_dir()),
                sha = q(&sha),
                dir = dir,
            );
            r.must(host, "unpack", &script).await.map(drop)
        }
        Action::WriteFile { path, content, .. } => {
            step(ctx, host, a, path.clone());
            let p = qp(path);
            let script = format!(
                "mkdir -p \"$(dirname {p})\" && cat > {p}.flinkup-tmp && mv -f {p}.flinkup-tmp {p}"
            );
            let out = r.sh_input(host, &script, Some(content.as_bytes())).await?;
            if out.ok() {
                Ok(())
            } else {
                Err(Error::remote(
                    host,
                    format!("cannot write {path}: {}", out.why()),
                ))
            }
        }
        Action::Link { link, target, .. } => {
            step(ctx, host, a, format!("{link} -> {target}"));
            let script = format!(
                "ln -sfn {t} {l}.flinkup-tmp && mv -Tf {l}.flinkup-tmp {l}",
                t = qp(target),
                l = qp(link)
            );
            r.must(host, &format!("cannot switch {link}"), &script)
                .await
                .map(drop)
        }
        other => Err(Error::Failed(format!(
            "{} is a cluster action, not a host action",
            other.verb()
        ))),
    }
}

/// Sends the tarball, resuming a partial upload, and checks its sha512 on the host before
/// it takes its final name. A fresh upload is hashed as it is written (`tee`), so the check
/// costs no second read of the file.
async fn upload(ctx: &Context<'_>, i: usize, dest: &str) -> Result<()> {
    let host = &ctx.cluster.hosts[i].name;
    let r = &ctx.remotes[i];
    let art = ctx.artifact.ok_or_else(|| {
        Error::Failed("upload planned but no verified artifact was fetched".into())
    })?;
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
            ctx.rep.event(&Event::Info {
                message: format!(
                    "{host}: resuming the upload at byte {offset} of {}",
                    art.size
                ),
            });
        }
        let sent = AtomicU64::new(offset);
        let total = art.size;
        let rep = ctx.rep;
        let hostname = host.clone();
        let progress = move |n: u64| {
            let now = sent.fetch_add(n, Ordering::Relaxed) + n;
            rep.event(&Event::UploadProgress {
                host: hostname.clone(),
                bytes: now,
                total,
            });
        };
        // A fresh upload is hashed as it is written (tee into sha512sum): the check costs no
        // second read. Unpacking while streaming was measured slower than after: tar behind
        // a pipe of pipes loses more than the overlap gains.
        let script = if offset > 0 {
            format!("cat >> {p}; echo \"sha=$(sha512sum {p} | cut -d' ' -f1)\"; echo \"size=$(stat -c %s {p})\"")
        } else {
            format!("echo \"sha=$(tee {p} | sha512sum | cut -d' ' -f1)\"; echo \"size=$(stat -c %s {p} 2>/dev/null || echo 0)\"")
        };
        let out = r
            .send_file(host, &art.path, offset, &script, &progress)
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
        if got == art.sha512 {
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

pub async fn cluster_action(ctx: &Context<'_>, a: &Action) -> Result<()> {
    match a {
        Action::TrustSsh { from, to } => {
            step(ctx, from, a, to.join(", "));
            trust(ctx, from, to).await
        }
        Action::Stop { reason } => {
            step(ctx, &ctx.cluster.jobmanager().name, a, reason.clone());
            daemons::stop(ctx.cluster, ctx.remotes, ctx.rep).await
        }
        Action::Start { mode, on, command } => {
            step(ctx, on, a, command.clone());
            daemons::start(ctx.cluster, ctx.remotes, *mode).await
        }
        Action::StartMissing { daemons } => {
            let list: Vec<String> = daemons.iter().map(|(h, r)| format!("{r} on {h}")).collect();
            let jm = ctx.cluster.jobmanager();
            step(ctx, &jm.name, a, list.join(", "));
            let stale = daemons::stale_ids(ctx.cluster, &ctx.remotes[0], daemons).await;
            if let Ok(mut s) = ctx.stale.lock() {
                s.extend(stale);
            }
            daemons::start_missing(ctx.cluster, ctx.remotes, daemons).await
        }
        Action::Verify {
            url,
            taskmanagers,
            slots,
            timeout_secs,
        } => {
            let jm = ctx.cluster.jobmanager();
            step(ctx, &jm.name, a, url.clone());
            let rest = Rest::new(&jm.name, ctx.cluster.rest_port, &jm.name, &ctx.remotes[0]);
            let timeout = std::time::Duration::from_secs(*timeout_secs);
            let stale = ctx.stale.lock().map(|s| s.clone()).unwrap_or_default();
            match verify::wait_for(&rest, *taskmanagers as u64, *slots, timeout, &stale).await {
                Ok(o) => {
                    ctx.rep.event(&Event::Info {
                        message: format!(
                            "verified {url}: {} TaskManagers, {} slots (Flink {})",
                            o.taskmanagers, o.slots_total, o.flink_version
                        ),
                    });
                    Ok(())
                }
                Err(why) => {
                    let details = daemons::diagnose(ctx.cluster, ctx.remotes, &rest).await;
                    Err(verify::not_verified(url, timeout, &why, &details))
                }
            }
        }
        other => Err(Error::Failed(format!(
            "{} is a host action, not a cluster action",
            other.verb()
        ))),
    }
}

/// Lets the JobManager host log in to each TaskManager host with a key, as start-cluster.sh
/// needs: a key on the JobManager host (made if missing), authorized on each TaskManager
/// host through flinkup's own verified connection, and the TaskManager hosts' keys recorded
/// in the JobManager host's known_hosts.
async fn trust(ctx: &Context<'_>, from: &str, to: &[String]) -> Result<()> {
    let jm_i = ctx.index(from)?;
    let jm = &ctx.remotes[jm_i];
    let key = jm
        .must(
            from,
            "prepare the JobManager host's ssh key",
            "mkdir -p ~/.ssh && chmod 700 ~/.ssh && { [ -f ~/.ssh/id_ed25519 ] || ssh-keygen -q -t ed25519 -N '' -C \"flinkup@$(hostname)\" -f ~/.ssh/id_ed25519; } && cat ~/.ssh/id_ed25519.pub",
        )
        .await?;
    let key = key.trim().to_string();
    for name in to {
        let i = ctx.index(name)?;
        let script = format!(
            "mkdir -p ~/.ssh && chmod 700 ~/.ssh && touch ~/.ssh/authorized_keys && chmod 600 ~/.ssh/authorized_keys && {{ grep -qxF {k} ~/.ssh/authorized_keys || echo {k} >> ~/.ssh/authorized_keys; }}",
            k = q(&key)
        );
        ctx.remotes[i]
            .must(name, "authorize the JobManager host's key", &script)
            .await?;
    }
    let names: Vec<String> = to.iter().map(|n| q(n)).collect();
    let script = format!(
        r#"touch ~/.ssh/known_hosts; bad=""
for h in {hosts}; do
  ssh-keygen -F "$h" >/dev/null 2>&1 || ssh-keyscan -T 5 "$h" 2>/dev/null >> ~/.ssh/known_hosts
  ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 "$h" true >/dev/null 2>&1 || bad="$bad $h"
done
if [ -n "$bad" ]; then echo "the JobManager host still cannot ssh without a password to:$bad" >&2; exit 1; fi"#,
        hosts = names.join(" ")
    );
    jm.must(from, "set up ssh from the JobManager host", &script)
        .await
        .map(drop)
}
