//! Running commands and sending files on a host: over ssh (the openssh crate, multiplexed
//! over the system ssh so ssh_config, agents, ProxyJump and known_hosts work as with plain
//! ssh) or through a local shell for `connection: local` hosts.
//!
//! Every command is a script built with [`q`]-quoted values and run as `sh -c <script>`,
//! the script itself passed as one escaped argument: nothing from the inventory reaches a
//! shell unquoted.

pub mod shell;
mod ssh;
pub use ssh::ssh_args;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{Error, Result};
use crate::inventory::{Connection, Host};

/// The first line of a script, shortened, for `-v` (values that look secret are masked).
fn summary(script: &str) -> String {
    let first = script
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && *l != "set +e" && *l != "set -e")
        .unwrap_or("");
    let masked = crate::secrets::mask_secrets(first);
    let lines = script.lines().count();
    let mut out: String = masked.chars().take(110).collect();
    if masked.chars().count() > 110 {
        out.push('…');
    }
    if lines > 1 {
        out.push_str(&format!(" (+{} lines)", lines - 1));
    }
    out
}

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

/// Sends each line `out` gives to `lines` until it ends or nobody listens.
async fn pump<R: tokio::io::AsyncRead + Unpin>(
    out: Option<R>,
    lines: &tokio::sync::mpsc::UnboundedSender<String>,
) {
    use tokio::io::AsyncBufReadExt;
    let Some(out) = out else {
        return;
    };
    let mut rd = tokio::io::BufReader::new(out).lines();
    while let Ok(Some(l)) = rd.next_line().await {
        if lines.send(l).is_err() {
            break;
        }
    }
}

/// How to reach hosts, from the command line.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// An ssh_config file used instead of ~/.ssh/config (`ssh -F`).
    pub ssh_config: Option<PathBuf>,
    pub connect_timeout: Option<Duration>,
    /// Report every command with its host, duration and exit status (`-v`).
    pub verbose: bool,
}

pub enum Remote {
    Ssh(ssh::SshRemote),
    /// This machine, through a local shell; `verbose` as for ssh.
    Local {
        verbose: bool,
    },
}

/// Where the operator's ssh really lands for a host, as `ssh -G` resolves its address with
/// the operator's ssh_config: an alias there (`HostName`, `Port`, `ProxyJump`) means nothing
/// on the hosts themselves, which must be told the real name and port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub hostname: String,
    pub port: u16,
    /// Reached through a ProxyJump or ProxyCommand.
    pub proxied: bool,
}

impl Remote {
    pub async fn connect(host: &Host, opts: &ConnectOptions) -> Result<Remote> {
        match host.connection {
            Connection::Local => Ok(Remote::Local {
                verbose: opts.verbose,
            }),
            Connection::Ssh => ssh::SshRemote::connect(host, opts).await.map(Remote::Ssh),
        }
    }

    /// Runs a shell script on the host and collects its output.
    pub async fn sh(&self, host: &str, script: &str) -> Result<Output> {
        self.run(host, script, Input::Null).await
    }

    /// Runs a script with `input` on its standard input.
    pub async fn sh_input(&self, host: &str, script: &str, input: Option<&[u8]>) -> Result<Output> {
        self.run(host, script, input.map_or(Input::Null, Input::Bytes))
            .await
    }

    /// GETs `url` from the host itself (curl, else wget): for a port only the host reaches.
    pub async fn http_get(&self, host: &str, url: &str) -> Result<shell::HttpAnswer> {
        self.http_get_with(host, url, "").await
    }

    /// `http_get` after shell assignments `env` (the CA and client certificate of https).
    pub async fn http_get_with(
        &self,
        host: &str,
        url: &str,
        env: &str,
    ) -> Result<shell::HttpAnswer> {
        let out = self
            .sh(
                host,
                &format!(
                    "{}
{env}http_get {}",
                    shell::HTTP_GET_FN,
                    q(url)
                ),
            )
            .await?;
        Ok(shell::HttpAnswer::parse(&out.stdout))
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
        self.run(host, script, Input::File { file, progress }).await
    }

    async fn run(&self, host: &str, script: &str, input: Input<'_>) -> Result<Output> {
        let verbose = match self {
            Remote::Ssh(s) => s.verbose,
            Remote::Local { verbose } => *verbose,
        };
        if !verbose {
            return self.run_quiet(host, script, input).await;
        }
        let start = std::time::Instant::now();
        let r = self.run_quiet(host, script, input).await;
        crate::report::trace(&format!(
            "[{host}] {} — {:.2}s, {}",
            summary(script),
            start.elapsed().as_secs_f64(),
            match &r {
                Ok(o) => format!("exit {}", o.code),
                Err(e) => format!("failed: {e}"),
            }
        ));
        r
    }

    async fn run_quiet(&self, host: &str, script: &str, input: Input<'_>) -> Result<Output> {
        match self {
            Remote::Ssh(s) => s.run(host, script, input).await,
            Remote::Local { .. } => {
                let mut cmd = tokio::process::Command::new("sh");
                // Its own process group: Ctrl-C at the terminal reaches flinkup alone, which
                // lets the action under way finish and then stops (exit 130), as over ssh.
                cmd.process_group(0);
                cmd.arg("-c")
                    .arg(script)
                    .stdin(input.stdio())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = cmd
                    .spawn()
                    .map_err(|e| Error::remote(host, format!("cannot start sh: {e}")))?;
                let fed = feed(host, input, child.stdin.take()).await;
                let out = child
                    .wait_with_output()
                    .await
                    .map_err(|e| Error::remote(host, format!("sh failed: {e}")))?;
                settle(host, fed, out, false)
            }
        }
    }

    /// Runs a script that goes on until stopped (`tail -F`), each line of its standard output
    /// to `lines`, until it ends or this future is dropped (its standard input then closes;
    /// a local one is killed). Returns its exit status.
    pub async fn follow(
        &self,
        host: &str,
        script: &str,
        lines: &tokio::sync::mpsc::UnboundedSender<String>,
    ) -> Result<i32> {
        match self {
            Remote::Ssh(s) => s.follow(host, script, lines).await,
            Remote::Local { .. } => {
                let mut child = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(script)
                    .process_group(0)
                    .kill_on_drop(true)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| Error::remote(host, format!("cannot start sh: {e}")))?;
                let _stdin = child.stdin.take();
                pump(child.stdout.take(), lines).await;
                let status = child
                    .wait()
                    .await
                    .map_err(|e| Error::remote(host, format!("sh failed: {e}")))?;
                Ok(status.code().unwrap_or(-1))
            }
        }
    }

    pub async fn close(self) {
        if let Remote::Ssh(s) = self {
            s.close().await;
        }
    }

    /// Where this connection's ssh landed, when it is one.
    pub fn route(&self) -> Option<&Route> {
        match self {
            Remote::Ssh(s) => s.route.as_ref(),
            Remote::Local { .. } => None,
        }
    }
}

/// What a script reads on its standard input.
pub(crate) enum Input<'a> {
    Null,
    Bytes(&'a [u8]),
    File {
        file: tokio::fs::File,
        progress: &'a (dyn Fn(u64) + Send + Sync),
    },
}

impl Input<'_> {
    fn stdio(&self) -> Stdio {
        match self {
            Input::Null => Stdio::null(),
            _ => Stdio::piped(),
        }
    }

    pub(crate) fn piped(&self) -> bool {
        !matches!(self, Input::Null)
    }
}

/// Writes the input into a child's stdin and closes it.
pub(crate) async fn feed<W: tokio::io::AsyncWrite + Unpin>(
    host: &str,
    input: Input<'_>,
    stdin: Option<W>,
) -> Result<()> {
    let Some(mut stdin) = stdin else {
        return Ok(());
    };
    let lost =
        |e: std::io::Error| Error::remote(host, format!("connection lost while sending: {e}"));
    match input {
        Input::Null => {}
        Input::Bytes(data) => stdin.write_all(data).await.map_err(lost)?,
        Input::File { mut file, progress } => {
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = file
                    .read(&mut buf)
                    .await
                    .map_err(|e| Error::io("cannot read the file being sent", e))?;
                if n == 0 {
                    break;
                }
                stdin.write_all(&buf[..n]).await.map_err(lost)?;
                progress(n as u64);
            }
        }
    }
    stdin.shutdown().await.map_err(lost)
}

/// The command's result. A script that stopped reading its input (a full disk) explains
/// itself through its exit status and stderr; only a clean exit or a dead connection (ssh's
/// 255) makes the failed write the error.
pub(crate) fn settle(
    host: &str,
    fed: Result<()>,
    out: std::process::Output,
    ssh: bool,
) -> Result<Output> {
    let out = Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    if ssh && out.code == 255 {
        return Err(match fed {
            Err(e) => e,
            Ok(()) => Error::remote(host, format!("ssh connection failed: {}", out.why())),
        });
    }
    match fed {
        Err(e) if out.ok() => Err(e),
        _ => Ok(out),
    }
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
