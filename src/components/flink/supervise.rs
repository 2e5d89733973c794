//! What keeps Flink's daemons running on a host: a systemd unit per daemon (the JVM in the
//! foreground as the unit's main process, restarted when it dies, started again at boot) or
//! Flink's own scripts under `nohup`, as the deployment guide does. `supervisor: auto` picks
//! systemd where the host runs it as PID 1 and flinkup logs in as root.

use serde::Serialize;

use super::plan::paths;
use super::Role;
use crate::facts::HostFacts;
use crate::inventory::{Cluster, Host, Supervisor};
use crate::plan::{Action, Change};

/// Where unit files go.
pub const UNIT_DIR: &str = "/etc/systemd/system";

/// A daemon's unit as the probe finds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct UnitState {
    /// `ActiveState`: active, activating, failed, inactive.
    pub active: String,
    pub main_pid: u32,
    /// How many times systemd restarted it (`NRestarts`).
    pub restarts: u32,
    /// Enabled: started at boot.
    pub enabled: bool,
}

impl UnitState {
    /// systemd runs the daemon now (or is starting it).
    pub fn is_running(&self) -> bool {
        self.active == "active" || self.active == "activating"
    }

    /// The daemon's pid, once systemd runs it: what counts as running whatever a pid file says.
    pub fn pid(&self) -> Option<u32> {
        (self.active == "active" && self.main_pid > 0).then_some(self.main_pid)
    }
}

/// Shell prefix of the commands that manage units: as root directly, else through `sudo -n`
/// (a login with password-free sudo; `$S` before each privileged command).
pub const PRIVILEGE: &str = "S=; [ \"$(id -u)\" = 0 ] || S=\"sudo -n\"; ";

/// `flink-<cluster>-<role>.service`: named after the cluster, so two clusters on one host
/// never share a unit.
pub fn unit_name(c: &Cluster, role: Role) -> String {
    named(c, role.as_str())
}

/// `flink-<cluster>-<daemon>.service` for any daemon of the cluster (`zookeeper`,
/// `fornaxee`): every unit of a cluster shares the prefix.
pub fn named(c: &Cluster, daemon: &str) -> String {
    format!(
        "flink-{}-{daemon}.service",
        crate::plan::plain_name(&c.name)
    )
}

/// Writes a daemon's unit file where it is missing or differs (`old`: the file as the probe
/// read it); None when it is as it should be.
pub fn write(c: &Cluster, daemon: &str, old: Option<&str>, content: String) -> Option<Action> {
    if old == Some(content.as_str()) {
        return None;
    }
    let path = format!("{UNIT_DIR}/{}", named(c, daemon));
    Some(Action::WriteFile {
        diff: super::plan::unified_diff(old.unwrap_or(""), &content, &path),
        change: if old.is_some() {
            Change::Update
        } else {
            Change::Create
        },
        path,
        content,
        executable: false,
    })
}

/// What a unit runs and how; [`render`] writes the file.
pub struct UnitSpec {
    /// `taskmanager`, `zookeeper`, `fornaxee`.
    pub daemon: String,
    pub user: String,
    /// Units it starts after on the same host.
    pub after: Vec<String>,
    pub exec_start: String,
}

/// The unit file: restarted on failure with a back-off, started at boot, its runtime
/// directory its pid directory.
pub fn render(c: &Cluster, u: &UnitSpec) -> String {
    let run_dir = named(c, &u.daemon).trim_end_matches(".service").to_string();
    let after: String = u.after.iter().map(|a| format!(" {a}")).collect();
    format!(
        "# Written by flinkup for cluster {cluster}: its {daemon}.\n\
         # Change the inventory and run flinkup again: edits made here are replaced.\n\
         [Unit]\n\
         Description=Flink cluster {cluster}: {daemon} (flinkup)\n\
         Wants=network-online.target\n\
         After=network-online.target{after}\n\
         StartLimitIntervalSec=300\n\
         StartLimitBurst=10\n\
         \n\
         [Service]\n\
         Type=simple\n\
         User={user}\n\
         RuntimeDirectory={run_dir}\n\
         Environment=FLINK_PID_DIR=/run/{run_dir}\n\
         ExecStart={exec}\n\
         Restart=on-failure\n\
         RestartSec=5\n\
         # The JVM ends with 143 when systemd stops it.\n\
         SuccessExitStatus=143\n\
         TimeoutStopSec=60\n\
         LimitNOFILE=65536\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        cluster = c.name,
        daemon = u.daemon,
        user = u.user,
        exec = u.exec_start,
    )
}

/// The account a host's units run as: the one flinkup logs in as.
pub fn user(f: &HostFacts) -> String {
    if f.machine.user.is_empty() {
        "root".to_string()
    } else {
        f.machine.user.clone()
    }
}

/// A probe fragment: the unit's file (`<key>_file=`, base64) and, where systemd runs, its
/// state (`<key>=`, as [`parse_state`] reads it).
pub fn probe_unit(c: &Cluster, daemon: &str, key: &str) -> String {
    format!(
        "if [ -f {path} ]; then echo \"{key}_file=$(base64 -w0 < {path})\"; if [ -d /run/systemd/system ]; then echo \"{key}=$(systemctl show -p ActiveState -p MainPID -p NRestarts -p UnitFileState {name} 2>/dev/null | tr '\\n' ' ')\"; fi; fi\n",
        path = crate::remote::qp(&format!("{UNIT_DIR}/{}", named(c, daemon))),
        name = crate::remote::q(&named(c, daemon)),
    )
}

/// Whether systemd supervises Flink's daemons on this host, and why.
pub fn systemd_on(h: &Host, f: &HostFacts) -> (bool, String) {
    match h.supervisor {
        Supervisor::Systemd => (true, "supervisor: systemd".into()),
        Supervisor::Scripts => (false, "supervisor: scripts".into()),
        Supervisor::Auto if !f.gathered => (false, "supervisor: auto, decided at deploy".into()),
        Supervisor::Auto if f.machine.systemd && f.machine.root => (
            true,
            "supervisor: auto, and systemd runs as PID 1 there with flinkup logged in as root"
                .into(),
        ),
        Supervisor::Auto if f.machine.systemd && f.machine.sudo => (
            true,
            format!(
                "supervisor: auto, and systemd runs as PID 1 there; units managed through sudo -n as {}",
                f.machine.user
            ),
        ),
        Supervisor::Auto if f.machine.systemd => (
            false,
            format!(
                "supervisor: auto, and {} is neither root nor allowed sudo -n there to manage units",
                f.machine.user
            ),
        ),
        Supervisor::Auto => (
            false,
            "supervisor: auto, and systemd does not run as PID 1 there".into(),
        ),
    }
}

/// The unit that runs `role` on a host: the release's `bin/<role>.sh start-foreground` through
/// the `flink` link (an upgrade is a restart), as the ssh user, pid files in a runtime
/// directory of its own, restarted on failure, TaskManagers after the JobManager of the host.
pub fn unit_file(c: &Cluster, h: &Host, f: &HostFacts, role: Role) -> String {
    let p = paths(c, f);
    render(
        c,
        &UnitSpec {
            daemon: role.to_string(),
            user: user(f),
            after: if role == Role::TaskManager && h.jobmanager {
                vec![unit_name(c, Role::JobManager)]
            } else {
                Vec::new()
            },
            exec_start: format!("{}/bin/{} start-foreground", p.link, role.script()),
        },
    )
}

/// Parses `systemctl show -p ActiveState -p MainPID -p NRestarts -p UnitFileState` output
/// joined on one line.
pub fn parse_state(v: &str) -> UnitState {
    let mut s = UnitState::default();
    for kv in v.split_whitespace() {
        match kv.split_once('=') {
            Some(("ActiveState", a)) => s.active = a.to_string(),
            Some(("MainPID", p)) => s.main_pid = p.parse().unwrap_or(0),
            Some(("NRestarts", n)) => s.restarts = n.parse().unwrap_or(0),
            Some(("UnitFileState", e)) => s.enabled = e == "enabled",
            _ => {}
        }
    }
    s
}

/// The probe's part: each Flink daemon's unit file and state (when systemd runs there).
pub fn probe(c: &Cluster) -> String {
    Role::ALL
        .iter()
        .map(|r| probe_unit(c, r.as_str(), &format!("unit.{r}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_states_parse() {
        let s = parse_state("ActiveState=active MainPID=4242 NRestarts=3 UnitFileState=enabled ");
        assert_eq!(
            s,
            UnitState {
                active: "active".into(),
                main_pid: 4242,
                restarts: 3,
                enabled: true
            }
        );
        assert!(
            !parse_state("ActiveState=inactive MainPID=0 NRestarts=0 UnitFileState=disabled")
                .enabled
        );
    }
}
