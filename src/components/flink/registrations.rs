//! Which of the JobManager's TaskManager registrations stand for a TaskManager that runs, and
//! which are stale: a JobManager keeps listing a TaskManager that died or was removed until
//! its heartbeat times out (`heartbeat.timeout`, 50 s by default). `status` judges the
//! cluster from these and from the hosts' own processes, so a dead TaskManager is never
//! counted and a removed one is never reported missing.

use serde::Serialize;

use super::rest::TaskManager;

/// Flink's heartbeat settings, from the running JobManager's configuration, with the defaults
/// of `HeartbeatManagerOptions` (1.9–1.11) for keys it does not set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heartbeat {
    pub interval_ms: u64,
    pub timeout_ms: u64,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat {
            interval_ms: 10_000,
            timeout_ms: 50_000,
        }
    }
}

impl Heartbeat {
    /// From `/jobmanager/config`'s `[{"key":…,"value":…}]`.
    pub fn from_config(config: &serde_json::Value) -> Heartbeat {
        let get = |key: &str, default: u64| {
            super::rest::config_value(config, key)
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(default)
        };
        let d = Heartbeat::default();
        Heartbeat {
            interval_ms: get("heartbeat.interval", d.interval_ms),
            timeout_ms: get("heartbeat.timeout", d.timeout_ms),
        }
    }
}

/// Addresses a TaskManager on the JobManager's own host may register under: it reaches the
/// JobManager over loopback.
const LOOPBACK: [&str; 3] = ["127.0.0.1", "127.0.1.1", "localhost"];

/// Every name a TaskManager of host `h` may register under: its name, its address, the
/// addresses the host has (from facts), and loopback on the JobManager's host.
pub fn names(h: &crate::inventory::Host, f: &crate::facts::HostFacts) -> Vec<String> {
    let mut v = vec![h.name.clone(), h.address.clone()];
    v.extend(f.machine.addresses.iter().cloned());
    if h.jobmanager {
        v.extend(LOOPBACK.iter().map(|s| s.to_string()));
    }
    v
}

/// A TaskManager host of the inventory, as the hosts tell.
#[derive(Debug, Clone)]
pub struct Expected {
    pub name: String,
    /// Every name its TaskManager may register under (name, address, the host's addresses).
    pub names: Vec<String>,
    /// Whether a TaskManager process runs there; None when the host could not be asked.
    pub running: Option<bool>,
}

/// One registration the JobManager lists, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Registration {
    pub id: String,
    /// The inventory host it runs on, or the host its address names.
    pub host: String,
    pub slots: u64,
    /// Why it does not count, when it is stale.
    pub stale: Option<String>,
    /// A live TaskManager from a host the inventory does not list.
    pub extra: bool,
}

/// The judgement of every registration against the inventory and the hosts' processes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Judged {
    pub registrations: Vec<Registration>,
    /// TaskManager hosts whose TaskManager runs but has no live registration.
    pub unregistered: Vec<String>,
    /// TaskManager hosts that run no TaskManager.
    pub not_running: Vec<String>,
}

impl Judged {
    pub fn live(&self) -> impl Iterator<Item = &Registration> {
        self.registrations.iter().filter(|r| r.stale.is_none())
    }
}

/// The host part of an akka path: `akka.tcp://flink@h2:43210/user/taskmanager_0` → `h2`.
fn path_host(path: &str) -> &str {
    path.split_once('@')
        .map(|(_, rest)| rest.rsplit_once(':').map_or(rest, |(h, _)| h))
        .unwrap_or(path)
}

/// The host part of a registration and its data port, for asking whether anything still
/// listens there (a registration from a host the inventory does not list).
pub fn data_endpoint(t: &TaskManager) -> (String, u16) {
    (path_host(&t.path).to_string(), t.data_port)
}

/// When the JobManager last heard from a registration, for telling the newer of two: Flink
/// reports 0 (its heartbeat monitor's first value, in 1.9 as in 2.x) until the first heartbeat
/// of a TaskManager that has just registered, which makes it the newest there is.
fn heard(t: &TaskManager) -> u64 {
    match t.last_heartbeat {
        0 => u64::MAX,
        at => at,
    }
}

/// Judges each registration. Stale: its host runs no TaskManager; its host has a newer
/// registration (a TaskManager that was started again); it comes from a host the inventory
/// does not list and nothing answers on its data port any more (a removed host). `answering`
/// holds the ids of such registrations whose data port still answers.
pub fn judge(
    all: &[TaskManager],
    expected: &[Expected],
    hb: &Heartbeat,
    answering: &[String],
) -> Judged {
    let newest = all.iter().map(|t| t.last_heartbeat).max().unwrap_or(0);
    let mut out = Judged::default();
    for t in all {
        let host = expected
            .iter()
            .find(|e| super::rest::runs_on(&t.path, &e.names));
        let (name, stale, extra) = match host {
            Some(e) => {
                let newer = all.iter().any(|o| {
                    o.id != t.id && super::rest::runs_on(&o.path, &e.names) && heard(o) > heard(t)
                });
                let stale = if e.running == Some(false) {
                    Some(format!(
                        "its TaskManager no longer runs on {}; Flink lists it until heartbeat.timeout ({} s) passes",
                        e.name,
                        hb.timeout_ms / 1000
                    ))
                } else if newer {
                    Some(format!(
                        "replaced by a newer registration from {}; Flink lists it until heartbeat.timeout ({} s) passes",
                        e.name,
                        hb.timeout_ms / 1000
                    ))
                } else {
                    None
                };
                (e.name.clone(), stale, false)
            }
            None => {
                let stale = (!answering.contains(&t.id)).then(|| {
                    format!(
                        "from a host the inventory does not list, where no TaskManager answers any more (last heartbeat {} s before the newest); Flink drops it when heartbeat.timeout ({} s) passes",
                        newest.saturating_sub(t.last_heartbeat) / 1000,
                        hb.timeout_ms / 1000
                    )
                });
                (
                    path_host(&t.path).to_string(),
                    stale.clone(),
                    stale.is_none(),
                )
            }
        };
        out.registrations.push(Registration {
            id: t.id.clone(),
            host: name,
            slots: t.slots,
            stale,
            extra,
        });
    }
    for e in expected {
        match e.running {
            Some(false) => out.not_running.push(e.name.clone()),
            Some(true) => {
                let registered = all
                    .iter()
                    .zip(&out.registrations)
                    .any(|(t, r)| r.stale.is_none() && super::rest::runs_on(&t.path, &e.names));
                if !registered {
                    out.unregistered.push(e.name.clone());
                }
            }
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tm(id: &str, host: &str, hb: u64) -> TaskManager {
        TaskManager {
            id: id.into(),
            path: format!("akka.tcp://flink@{host}:40000/user/taskmanager_0"),
            slots: 2,
            last_heartbeat: hb,
            data_port: 40001,
        }
    }

    fn host(name: &str, running: Option<bool>) -> Expected {
        Expected {
            name: name.into(),
            names: vec![name.into(), format!("10.0.0.{}", &name[1..])],
            running,
        }
    }

    #[test]
    fn a_dead_taskmanager_is_stale_and_named() {
        let all = [tm("a", "h1", 100_000), tm("b", "h2", 95_000)];
        let j = judge(
            &all,
            &[host("h1", Some(true)), host("h2", Some(false))],
            &Heartbeat::default(),
            &[],
        );
        assert_eq!(j.live().count(), 1);
        assert!(j.registrations[1]
            .stale
            .as_deref()
            .unwrap()
            .contains("no longer runs on h2"));
        assert_eq!(j.not_running, ["h2"]);
        assert!(j.unregistered.is_empty());
    }

    #[test]
    fn a_taskmanager_registered_again_before_its_first_heartbeat_replaces_the_old_one() {
        // h2's TaskManager was stopped and started again: the JobManager still lists the old
        // registration, and reports the new one with 0 until its first heartbeat.
        let all = [
            tm("a", "h1", 100_000),
            tm("old", "h2", 60_000),
            tm("new", "h2", 0),
        ];
        let j = judge(
            &all,
            &[host("h1", Some(true)), host("h2", Some(true))],
            &Heartbeat::default(),
            &[],
        );
        assert_eq!(
            j.live().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "new"]
        );
        assert!(j.registrations[1]
            .stale
            .as_deref()
            .unwrap()
            .contains("replaced by a newer registration from h2"));
        assert!(j.unregistered.is_empty());
    }

    #[test]
    fn a_removed_host_is_stale_not_missing() {
        // h3 left the inventory; its TaskManager stopped: nothing answers on its data port.
        let all = [
            tm("a", "h1", 100_000),
            tm("b", "h2", 99_000),
            tm("c", "h3", 75_000),
        ];
        let j = judge(
            &all,
            &[host("h1", Some(true)), host("h2", Some(true))],
            &Heartbeat::default(),
            &[],
        );
        assert_eq!(j.live().count(), 2);
        let c = &j.registrations[2];
        assert_eq!(c.host, "h3");
        assert!(c
            .stale
            .as_deref()
            .unwrap()
            .contains("the inventory does not list, where no TaskManager answers"));
        assert!(!c.extra);
    }

    #[test]
    fn a_restarted_taskmanager_counts_once_and_a_live_stranger_is_extra() {
        let all = [
            tm("old", "h1", 60_000),
            tm("new", "h1", 100_000),
            tm("x", "h9", 99_500),
        ];
        let j = judge(
            &all,
            &[host("h1", Some(true))],
            &Heartbeat::default(),
            &["x".to_string()],
        );
        let live: Vec<&str> = j.live().map(|r| r.id.as_str()).collect();
        assert_eq!(live, ["new", "x"]);
        assert!(j.registrations[2].extra);
    }

    #[test]
    fn a_running_taskmanager_without_registration_is_unregistered() {
        let j = judge(
            &[],
            &[host("h1", Some(true)), host("h2", None)],
            &Heartbeat::default(),
            &[],
        );
        assert_eq!(j.unregistered, ["h1"]);
        assert!(j.not_running.is_empty());
    }
}
