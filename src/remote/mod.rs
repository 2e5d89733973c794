//! Running commands and sending files on a host: over ssh (the openssh crate, multiplexed
//! over the system ssh so ssh_config, agents, ProxyJump and known_hosts work as with plain
//! ssh) or through a local shell for `connection: local` hosts.
//!
//! Every command is a script built with [`q`]-quoted values and run as `sh -c <script>`,
//! the script itself passed as one escaped argument: nothing from the inventory reaches a
//! shell unquoted.

mod ssh;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::inventory::{Connection, Host};

/// Quotes one value for a POSIX shell.
pub fn q(s: &str) -> String {
    shell_escape::unix::escape(s.into()).into_owned()
}

/// A path for a shell script: quoted, with a leading `~/` left to the shell's `$HOME`.
pub fn qp(path: &str) -> String {
    match path.strip_prefix("~/") {
        Some(rest) => format!("\"$HOME\"/{}", q(rest)),
        None if path == "~" => "\"$HOME\"".into(),
        None => q(path),
    }
}

#[derive(Debug, Clone)]
pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == 0
    }

    /// stderr, or stdout when stderr is empty, trimmed: what to show when a command failed.
    pub fn why(&self) -> String {
        let s = if self.stderr.trim().is_empty() {
            &self.stdout
        } else {
            &self.stderr
        };
        let s = s.trim();
        if s.is_empty() {
            format!("exit status {}", self.code)
        } else {
            s.to_string()
        }
    }
}

/// How to reach hosts, from the command line.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// An ssh_config file used instead of ~/.ssh/config (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
}

pub enum Remote {
    Ssh(ssh::SshRemote),
    Local,
}

impl Remote {
    pub async fn connect(host: &Host, opts: &ConnectOptions) -> Result<Remote> {
        match host.connection {
            Connection::Local => Ok(Remote::Local),
            Connection::Ssh => ssh::SshRemote::connect(host, opts).await.map(Remote::Ssh),
        }
    }

    /// Runs a shell script on the host and collects its output.
    pub async fn sh(&self, host: &str, script: &str) -> Result<Output> {
        self.sh_input(host, script, None).await
    }

    /// Runs a script with `input` on its standard input.
    pub async fn sh_input(&self, host: &str, script: &str, input: Option<&[u8]>) -> Result<Output> {
        match self {
            Remote::Ssh(s) => s.sh(host, script, input).await,
            Remote::Local => {
                let mut cmd = tokio::process::Command::new("sh");
                cmd.arg("-c").arg(script);
                run_local(host, cmd, input).await
            }
        }
    }

    /// Runs a script that must succeed; its failure becomes an error naming the host and `what`.
    pub async fn must(&self, host: &str, what: &str, script: &str) -> Result<String> {
        let out = self.sh(host, script).await?;
        if out.ok() {
            Ok(out.stdout)
        } else {
            Err(Error::remote(host, format!("{what}: {}", out.why())))
        }
    }

    /// Streams a local file into `script`'s standard input from `offset` (the script appends
    /// or writes it), calling `progress` with each chunk's size.
    pub async fn send_file(
        &self,
        host: &str,
        local: &Path,
        offset: u64,
        script: &str,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<Output> {
        let mut file = tokio::fs::File::open(local)
            .await
            .map_err(|e| Error::io(format!("cannot open {}", local.display()), e))?;
        if offset > 0 {
            use tokio::io::AsyncSeekExt;
            file.seek(std::io::SeekFrom::Start(offset))
                .await
                .map_err(|e| Error::io(format!("cannot seek {}", local.display()), e))?;
        }
        match self {
            Remote::Ssh(s) => s.send(host, file, script, progress).await,
            Remote::Local => {
                let mut cmd = tokio::process::Command::new("sh");
                cmd.arg("-c").arg(script);
                cmd.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = cmd
                    .spawn()
                    .map_err(|e| Error::remote(host, format!("cannot start sh: {e}")))?;
                let pumped = match child.stdin.take() {
                    Some(mut stdin) => pump(host, &mut file, &mut stdin, progress).await,
                    None => Ok(()),
                };
                let out = child
                    .wait_with_output()
                    .await
                    .map_err(|e| Error::remote(host, format!("sh failed: {e}")))?;
                let out = to_output(out);
                match pumped {
                    Err(e) if out.ok() => Err(e),
                    _ => Ok(out),
                }
            }
        }
    }

    pub async fn close(self) {
        if let Remote::Ssh(s) = self {
            s.close().await;
        }
    }
}

/// Copies a file into a command's stdin in chunks, reporting progress.
pub(crate) async fn pump<W: tokio::io::AsyncWrite + Unpin>(
    host: &str,
    file: &mut tokio::fs::File,
    stdin: &mut W,
    progress: &(dyn Fn(u64) + Send + Sync),
) -> Result<()> {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(|e| Error::io("cannot read the file being sent", e))?;
        if n == 0 {
            break;
        }
        stdin
            .write_all(&buf[..n])
            .await
            .map_err(|e| Error::remote(host, format!("connection lost while sending: {e}")))?;
        progress(n as u64);
    }
    stdin
        .shutdown()
        .await
        .map_err(|e| Error::remote(host, format!("connection lost while sending: {e}")))?;
    Ok(())
}

pub(crate) fn to_output(out: std::process::Output) -> Output {
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

async fn run_local(
    host: &str,
    mut cmd: tokio::process::Command,
    input: Option<&[u8]>,
) -> Result<Output> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::remote(host, format!("cannot start sh: {e}")))?;
    if let (Some(data), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(data)
            .await
            .map_err(|e| Error::remote(host, format!("cannot write to sh: {e}")))?;
        drop(stdin);
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| Error::remote(host, format!("sh failed: {e}")))?;
    Ok(to_output(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_keeps_values_inert() {
        assert_eq!(q("/opt"), "/opt");
        assert_eq!(q("a b"), "'a b'");
        assert_eq!(q("$(touch x)"), "'$(touch x)'");
        assert_eq!(qp("~/flink dir"), "\"$HOME\"/'flink dir'");
        assert_eq!(qp("/opt/x;y"), "'/opt/x;y'");
    }
}
