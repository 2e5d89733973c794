//! The deploy lock on the JobManager host: one flinkup run changes a cluster at a time.
//!
//! The lock is a directory made with `mkdir` (atomic on every POSIX filesystem) in the
//! state directory, holding who took it, from which machine and process, and when. A lock
//! whose process is gone from this machine is reported as stale; `flinkup unlock` removes it.

use std::time::SystemTime;

use super::HostId;
use crate::error::{Error, Result};
use crate::remote::{q, qp, Remote};

/// Who holds (or would hold) the lock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owner {
    pub user: String,
    pub machine: String,
    pub pid: u32,
    pub started: String,
    pub command: String,
}

/// The operator's account: `USER` (or `LOGNAME`) when set, else the name /etc/passwd gives
/// this process's uid (cron, `env -i`, some CI runners set neither), else `uid N`.
pub fn account() -> String {
    for var in ["USER", "LOGNAME"] {
        if let Some(u) = std::env::var(var).ok().filter(|u| !u.is_empty()) {
            return u;
        }
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_default();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

impl Owner {
    pub fn me(command: &str) -> Owner {
        Owner {
            user: account(),
            machine: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            pid: std::process::id(),
            started: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
            command: command.to_string(),
        }
    }

    fn render(&self) -> String {
        format!(
            "user={}\nmachine={}\npid={}\nstarted={}\ncommand={}\n",
            self.user, self.machine, self.pid, self.started, self.command
        )
    }

    pub fn parse(text: &str) -> Owner {
        let mut o = Owner::default();
        for line in text.lines() {
            match line.split_once('=') {
                Some(("user", v)) => o.user = v.into(),
                Some(("machine", v)) => o.machine = v.into(),
                Some(("pid", v)) => o.pid = v.parse().unwrap_or(0),
                Some(("started", v)) => o.started = v.into(),
                Some(("command", v)) => o.command = v.into(),
                _ => {}
            }
        }
        o
    }

    /// The holder ran on this machine and its process is gone.
    pub fn is_stale(&self) -> bool {
        let me = Owner::me("");
        self.machine == me.machine
            && (self.pid == 0 || !std::path::Path::new(&format!("/proc/{}", self.pid)).exists())
    }

    /// "`flinkup deploy` by … since …", with "(stale: …)" when its process is gone.
    pub fn describe_state(&self) -> String {
        format!(
            "{}{}",
            self.describe(),
            if self.is_stale() {
                " (stale: that process no longer runs on this machine)"
            } else {
                ""
            }
        )
    }

    pub fn describe(&self) -> String {
        format!(
            "`flinkup {}` by {}@{} (pid {}) since {}",
            self.command, self.user, self.machine, self.pid, self.started
        )
    }
}

/// Where the lock lives: the coordinating host (the JobManager's) and its state directory.
#[derive(Debug, Clone)]
pub struct Site {
    pub host: HostId,
    pub state_dir: String,
    /// The inventory file, named in the message that tells how to unlock.
    pub inventory: String,
}

impl Site {
    pub fn lock_dir(&self) -> String {
        format!("{}/lock", self.state_dir)
    }
}

/// Takes the lock or explains who holds it.
pub async fn acquire(site: &Site, jm: &Remote, command: &str) -> Result<Owner> {
    let me = Owner::me(command);
    let dir = qp(&site.lock_dir());
    let script = format!(
        "mkdir -p {state} || exit 1; if mkdir {dir} 2>/dev/null; then printf %s {info} > {dir}/info; echo acquired; else cat {dir}/info 2>/dev/null; fi",
        state = qp(&site.state_dir),
        info = q(&me.render()),
    );
    let host = site.host.as_str();
    let out = jm
        .must(host, "cannot take the deploy lock", &script)
        .await?;
    if out.trim() == "acquired" {
        return Ok(me);
    }
    let holder = Owner::parse(&out);
    let stale = if holder.is_stale() {
        " The lock is stale: that process no longer runs on this machine."
    } else {
        ""
    };
    Err(Error::Failed(format!(
        "{host}: the cluster is locked by {}.{stale} Wait for that run to finish; if it was killed, remove the lock with `flinkup unlock -i {}`",
        holder.describe(),
        site.inventory
    )))
}

/// Releases the lock if this process holds it.
pub async fn release(site: &Site, jm: &Remote, me: &Owner) {
    let dir = qp(&site.lock_dir());
    let script = format!(
        "if grep -qx {pid} {dir}/info 2>/dev/null && grep -qx {machine} {dir}/info; then rm -rf {dir}; rmdir {state} 2>/dev/null; fi; exit 0",
        pid = q(&format!("pid={}", me.pid)),
        machine = q(&format!("machine={}", me.machine)),
        state = qp(&site.state_dir),
    );
    let _ = jm.sh(site.host.as_str(), &script).await;
}

/// A shell fragment that prints `lock.<key>=<value>` lines when the lock is held; read-only,
/// part of the coordinating host's facts.
pub fn probe(site: &Site) -> String {
    format!(
        "if [ -d {dir} ]; then echo lock.held=1; sed 's/^/lock./' {dir}/info 2>/dev/null; echo; fi",
        dir = qp(&site.lock_dir())
    )
}

/// The holder, from the `lock.*` fact lines (without their prefix).
pub fn parse_holder(lines: &str) -> Owner {
    Owner::parse(lines)
}
