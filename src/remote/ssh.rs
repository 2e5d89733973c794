//! ssh hosts through the openssh crate: one multiplexed master connection per host.

use std::time::Duration;

use openssh::{KnownHosts as Check, Session, SessionBuilder, Stdio};

use super::{feed, settle, ConnectOptions, Input, Output};
use crate::error::{Error, Result};
use crate::inventory::{Host, KnownHosts};

pub struct SshRemote {
    session: Session,
    /// Holds the control socket: a fresh private directory (mode 0700, random name) under a
    /// short path, since unix socket paths are limited to about 100 bytes. Removed on close.
    _sockets: tempfile::TempDir,
    /// Where `ssh -G` says this host's address leads.
    pub route: Option<super::Route>,
    /// Report every command (`-v`).
    pub verbose: bool,
}

/// Explains an ssh connection failure, with what to do about host keys.
fn explain(host: &Host, err: &openssh::Error) -> String {
    let text = crate::error::chain(err);
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
        || text.contains("Host key verification failed")
    {
        let addr = &host.address;
        return format!(
            "ssh refused {addr}: its host key is unknown or has changed, and known_hosts is strict ({text}).\n  \
             Verify the key with the host's owner (on the host: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then\n  \
             remove an old entry with `ssh-keygen -R {addr}` and add the verified key to ~/.ssh/known_hosts,\n  \
             or set `known_hosts: accept-new` in the inventory to trust a host seen for the first time"
        );
    }
    format!("cannot connect over ssh to {}: {text}", host.address)
}

impl SshRemote {
    pub async fn connect(host: &Host, opts: &ConnectOptions) -> Result<SshRemote> {
        let sockets = tempfile::Builder::new()
            .prefix("flinkup-")
            .tempdir()
            .map_err(|e| Error::io("cannot create a directory for ssh control sockets", e))?;
        let mut b = SessionBuilder::default();
        b.known_hosts_check(match host.known_hosts {
            KnownHosts::Strict => Check::Strict,
            KnownHosts::AcceptNew => Check::Add,
        })
        .control_directory(sockets.path())
        .connect_timeout(opts.connect_timeout.unwrap_or(Duration::from_secs(10)))
        .server_alive_interval(Duration::from_secs(5));
        if let Some(u) = &host.user {
            b.user(u.clone());
        }
        if let Some(p) = host.port {
            b.port(p);
        }
        if let Some(k) = &host.identity_file {
            b.keyfile(expand_home(k));
        }
        if let Some(f) = &opts.ssh_config {
            b.config_file(f);
        }
        // The address is validated as a host name or IP, so it cannot be read as an option.
        let session = b
            .connect_mux(&host.address)
            .await
            .map_err(|e| Error::remote(&host.name, explain(host, &e)))?;
        Ok(SshRemote {
            session,
            _sockets: sockets,
            route: resolve(host, opts).await,
            verbose: opts.verbose,
        })
    }

    /// Runs a script that goes on until stopped, each line of its output to `lines`. Its
    /// standard input stays open while it runs and closes when this future is dropped.
    pub(crate) async fn follow(
        &self,
        host: &str,
        script: &str,
        lines: &tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<i32> {
        let mut cmd = self.session.command("sh");
        cmd.arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .await
            .map_err(|e| Error::remote(host, format!("ssh: {e}")))?;
        let _stdin = child.stdin().take();
        super::pump(child.stdout().take(), lines).await;
        let status = child
            .wait()
            .await
            .map_err(|e| Error::remote(host, format!("connection lost: {e}")))?;
        Ok(status.code().unwrap_or(-1))
    }

    pub(crate) async fn run(&self, host: &str, script: &str, input: Input<'_>) -> Result<Output> {
        let mut cmd = self.session.command("sh");
        cmd.arg("-c").arg(script);
        cmd.stdin(if input.piped() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .await
            .map_err(|e| Error::remote(host, format!("ssh: {e}")))?;
        let fed = feed(host, input, child.stdin().take()).await;
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| Error::remote(host, format!("connection lost: {e}")))?;
        settle(host, fed, out, true)
    }

    pub async fn close(self) {
        let _ = self.session.close().await;
    }
}

/// What `ssh -G` makes of the host's address with the same options the connection uses.
async fn resolve(host: &Host, opts: &ConnectOptions) -> Option<super::Route> {
    let mut cmd = tokio::process::Command::new("ssh");
    cmd.arg("-G");
    if let Some(f) = &opts.ssh_config {
        cmd.arg("-F").arg(f);
    }
    if let Some(p) = host.port {
        cmd.arg("-p").arg(p.to_string());
    }
    cmd.arg(&host.address)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let out = cmd.output().await.ok().filter(|o| o.status.success())?;
    parse_route(&String::from_utf8_lossy(&out.stdout))
}

fn parse_route(text: &str) -> Option<super::Route> {
    let mut hostname = None;
    let mut port = 22;
    let mut proxied = false;
    for line in text.lines() {
        match line.split_once(' ') {
            Some(("hostname", v)) => hostname = Some(v.trim().to_string()),
            Some(("port", v)) => port = v.trim().parse().unwrap_or(22),
            Some(("proxyjump" | "proxycommand", v)) if v.trim() != "none" => proxied = true,
            _ => {}
        }
    }
    Some(super::Route {
        hostname: hostname?,
        port,
        proxied,
    })
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => p.to_string(),
    }
}

/// The system ssh's arguments that reach `host` as flinkup's own sessions do (user, port,
/// identity, host-key policy, the operator's ssh_config), the address last.
pub fn ssh_args(host: &Host, opts: &ConnectOptions) -> Vec<String> {
    let mut a: Vec<String> = Vec::new();
    if let Some(f) = &opts.ssh_config {
        a.extend(["-F".into(), f.display().to_string()]);
    }
    a.extend([
        "-o".into(),
        format!(
            "StrictHostKeyChecking={}",
            match host.known_hosts {
                KnownHosts::Strict => "yes",
                KnownHosts::AcceptNew => "accept-new",
            }
        ),
    ]);
    if let Some(u) = &host.user {
        a.extend(["-l".into(), u.clone()]);
    }
    if let Some(p) = host.port {
        a.extend(["-p".into(), p.to_string()]);
    }
    if let Some(k) = &host.identity_file {
        a.extend(["-i".into(), expand_home(k)]);
    }
    a.push(host.address.clone());
    a
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_what_ssh_resolves() {
        let r = super::parse_route(
            "user root\nhostname 198.18.9.4\nport 2200\nproxyjump root@[198.18.9.1]\n",
        )
        .unwrap();
        assert_eq!(
            (r.hostname.as_str(), r.port, r.proxied),
            ("198.18.9.4", 2200, true)
        );
        let r = super::parse_route("hostname h2\nport 22\nproxycommand none\n").unwrap();
        assert!(!r.proxied);
    }
}
