//! ssh hosts through the openssh crate: one multiplexed master connection per host.

use std::time::Duration;

use openssh::{KnownHosts as Check, Session, SessionBuilder, Stdio};

use super::{pump, to_output, ConnectOptions, Output};
use crate::error::{Error, Result};
use crate::inventory::{Host, KnownHosts};

pub struct SshRemote {
    session: Session,
}

/// A short directory for control sockets: unix socket paths are limited to about 100 bytes.
fn control_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flinkup-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700));
    }
    dir
}

/// Explains an ssh connection failure, with what to do about host keys.
fn explain(host: &Host, err: &openssh::Error) -> String {
    let mut text = err.to_string();
    let mut src = std::error::Error::source(err);
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
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
        let mut b = SessionBuilder::default();
        b.known_hosts_check(match host.known_hosts {
            KnownHosts::Strict => Check::Strict,
            KnownHosts::AcceptNew => Check::Add,
        })
        .control_directory(control_dir())
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
            .connect(&host.address)
            .await
            .map_err(|e| Error::remote(&host.name, explain(host, &e)))?;
        Ok(SshRemote { session })
    }

    pub async fn sh(&self, host: &str, script: &str, input: Option<&[u8]>) -> Result<Output> {
        let mut cmd = self.session.command("sh");
        cmd.arg("-c").arg(script);
        cmd.stdin(if input.is_some() {
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
        if let (Some(data), Some(mut stdin)) = (input, child.stdin().take()) {
            use tokio::io::AsyncWriteExt;
            stdin
                .write_all(data)
                .await
                .map_err(|e| Error::remote(host, format!("connection lost while sending: {e}")))?;
            drop(stdin);
        }
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| Error::remote(host, format!("connection lost: {e}")))?;
        if out.status.code() == Some(255) {
            let o = to_output(out);
            return Err(Error::remote(
                host,
                format!("ssh connection failed: {}", o.why()),
            ));
        }
        Ok(to_output(out))
    }

    pub async fn send(
        &self,
        host: &str,
        mut file: tokio::fs::File,
        script: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Output> {
        let mut cmd = self.session.command("sh");
        cmd.arg("-c").arg(script);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .await
            .map_err(|e| Error::remote(host, format!("ssh: {e}")))?;
        let pumped = match child.stdin().take() {
            Some(mut stdin) => pump(host, &mut file, &mut stdin, progress).await,
            None => Ok(()),
        };
        let out = child
            .wait_with_output()
            .await
            .map_err(|e| Error::remote(host, format!("connection lost: {e}")))?;
        let out = to_output(out);
        // A script that stopped reading (disk full) explains itself; a dropped link does not.
        match pumped {
            Err(e) if out.code == 255 || out.ok() => Err(e),
            _ => Ok(out),
        }
    }

    pub async fn close(self) {
        let _ = self.session.close().await;
    }
}

fn expand_home(p: &str) -> String {
    match (p.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(h)) => h.join(rest).display().to_string(),
        _ => p.to_string(),
    }
}
