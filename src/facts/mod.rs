//! What is true on each host right now, gathered read-only, in parallel, before planning.
//!
//! The engine's probe reads the machine (home, user, name resolution, disk, ports, the ssh
//! client config block, the lock); each component adds its own probe, whose result the engine
//! keeps without knowing its type ([`Parts`]). Planners are pure functions of these facts; an
//! offline plan uses [`HostFacts::default`] for every host.

use std::any::{Any, TypeId};
use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::fleet::lock::{self, Owner};
use crate::fleet::HostId;
use crate::remote::{q, qp, Route};

/// A listening TCP port and who holds it, as `ss` tells.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PortHolder {
    /// "python3 pid 7", or empty when `ss` cannot name the process.
    pub holder: String,
    pub pid: Option<u32>,
}

/// Facts about the machine itself, whatever runs on it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Machine {
    /// The ssh user's home, to resolve `~/` in paths.
    pub home: Option<String>,
    pub user: String,
    pub hostname: String,
    /// The host's own name resolves (Flink's TaskManager dies with UnknownHostException if not).
    pub hostname_resolves: bool,
    /// The host's own IP addresses (`hostname -I`): a TaskManager registers under one.
    pub addresses: Vec<String>,
    pub disk_free_kb: Option<u64>,
    pub install_dir_writable: bool,
    /// Whether `ss` was there to look at ports; without it every port reads as free.
    pub ports_known: bool,
    /// Listening ports among those asked about.
    pub ports: BTreeMap<u16, PortHolder>,
    /// The host has an ssh client (cluster-script start needs one on the coordinating host).
    pub ssh_client: bool,
    /// systemd runs as PID 1 (and manages services there).
    pub systemd: bool,
    /// flinkup logs in as root there.
    pub root: bool,
    /// Not root, and `sudo -n` works (password-free sudo): units are managed through it.
    pub sudo: bool,
    /// The managed block in `~/.ssh/config`, as it is now.
    pub ssh_block: Option<String>,
    /// Lines of `~/.ssh/authorized_keys` and `~/.ssh/known_hosts` flinkup added for the
    /// cluster (ending with its trust marker).
    pub trust_lines: (usize, usize),
    /// Who holds the deploy lock, when asked and held.
    #[serde(skip)]
    pub lock: Option<Owner>,
}

/// Everything gathered from one host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct HostFacts {
    /// Whether these facts came from the host (false: offline, the host assumed empty).
    pub gathered: bool,
    pub machine: Machine,
    /// What each component's own probe found, kept by its type.
    pub parts: Parts,
}

impl HostFacts {
    /// These facts with a component's probe result added (replacing one of the same type).
    pub fn with<T: Part>(mut self, part: T) -> HostFacts {
        self.parts.insert(part);
        self
    }
}

/// A component's probe result as the engine keeps it: any value that can be cloned, compared
/// and shown. Components read theirs back by type.
pub trait Part: Any + Send + Sync + fmt::Debug {
    fn clone_part(&self) -> Box<dyn Part>;
    fn eq_part(&self, other: &dyn Part) -> bool;
    fn json(&self) -> serde_json::Value;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Sync + fmt::Debug + Clone + PartialEq + Serialize> Part for T {
    fn clone_part(&self) -> Box<dyn Part> {
        Box::new(self.clone())
    }
    fn eq_part(&self, other: &dyn Part) -> bool {
        other.as_any().downcast_ref::<T>() == Some(self)
    }
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Every component's probe result for one host, one per type.
#[derive(Default)]
pub struct Parts(BTreeMap<TypeId, Box<dyn Part>>);

/// A probe value a host sent base64-encoded (`$(base64 -w0 < file)`), as text.
pub fn b64_text(v: &str) -> Option<String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(v.trim())
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

impl Parts {
    pub fn insert<T: Part>(&mut self, part: T) {
        self.0.insert(TypeId::of::<T>(), Box::new(part));
    }

    /// A result already boxed (as a component's probe parser returns it).
    pub fn insert_boxed(&mut self, part: Box<dyn Part>) {
        let id = part.as_any().type_id();
        self.0.insert(id, part);
    }

    pub fn get<T: Part>(&self) -> Option<&T> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|p| p.as_any().downcast_ref())
    }

    /// The result of type `T`, or an empty one for hosts its probe did not run on (made once
    /// per type and kept for the life of the process).
    pub fn get_or_empty<T: Part + Default + Send + Sync>(&self) -> &T {
        if let Some(t) = self.get() {
            return t;
        }
        type Empties = HashMap<TypeId, &'static (dyn Any + Send + Sync)>;
        static EMPTIES: std::sync::OnceLock<std::sync::Mutex<Empties>> = std::sync::OnceLock::new();
        let mut m = EMPTIES
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let empty: &'static (dyn Any + Send + Sync) = *m
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::leak(Box::new(T::default())));
        empty
            .downcast_ref()
            .expect("an empty part is kept under its own type")
    }

    /// The result of type `T`, made empty first when there is none.
    pub fn get_mut<T: Part + Default>(&mut self) -> &mut T {
        self.0
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .as_any_mut()
            .downcast_mut()
            .expect("a part is kept under its own type")
    }
}

impl Clone for Parts {
    fn clone(&self) -> Parts {
        Parts(self.0.iter().map(|(k, v)| (*k, v.clone_part())).collect())
    }
}

impl PartialEq for Parts {
    fn eq(&self, other: &Parts) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .all(|(k, v)| other.0.get(k).is_some_and(|o| v.eq_part(o.as_ref())))
    }
}

impl fmt::Debug for Parts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.values()).finish()
    }
}

impl Serialize for Parts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for p in self.0.values() {
            seq.serialize_element(&p.json())?;
        }
        seq.end()
    }
}

/// What the coordinating host sees of another host over its own ssh.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Peer {
    /// It logs in there without a password, host key known (what start-cluster.sh needs).
    pub trusted: bool,
    /// Its ssh port answers from the coordinating host.
    pub reachable: bool,
}

/// How the coordinating host reaches a peer with plain `ssh NAME`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SshPeer {
    pub host: HostId,
    /// The name typed after `ssh` (Flink's name for the host).
    pub name: String,
    /// Where it connects (differs from `name` when the inventory gives an address).
    pub address: String,
    pub port: u16,
    pub user: Option<String>,
}

impl SshPeer {
    /// How another host reaches `h` with ssh: Flink's name for it, and the address and port
    /// the operator's own ssh lands on (`route`, from `ssh -G`), so an alias or a ProxyJump in
    /// the operator's ssh_config is never handed to a host that does not know it.
    pub fn of(h: &crate::inventory::Host, route: Option<&Route>, user: Option<String>) -> SshPeer {
        let (address, port) = match route {
            Some(r) => (
                if r.hostname.eq_ignore_ascii_case(&h.address) {
                    h.address.clone()
                } else {
                    r.hostname.clone()
                },
                h.port.unwrap_or(r.port),
            ),
            None => (h.address.clone(), h.port.unwrap_or(22)),
        };
        SshPeer {
            host: HostId::of(h),
            name: h.name.clone(),
            address,
            port,
            user,
        }
    }

    /// What `ssh NAME` on the coordinating host resolves to, for messages.
    pub fn target(&self) -> String {
        if self.needs_config() {
            format!(
                "`ssh {}` (flinkup's ~/.ssh/config block there points it at {}:{})",
                self.name, self.address, self.port
            )
        } else {
            format!("`ssh {}` (port {})", self.name, self.port)
        }
    }

    /// Whether plain `ssh NAME` needs an ssh_config entry to land on the right sshd and user.
    pub fn needs_config(&self) -> bool {
        self.address != self.name || self.port != 22 || self.user.is_some()
    }
}

/// Facts about every host of a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Facts {
    pub hosts: BTreeMap<HostId, HostFacts>,
    /// Peers as seen from the coordinating host (cluster-script start only).
    pub peers: BTreeMap<HostId, Peer>,
    /// Where the operator's ssh lands for each host it reached over ssh.
    pub routes: BTreeMap<HostId, Route>,
    /// Hosts flinkup recorded at its last deploy that the inventory no longer lists.
    #[serde(skip)]
    pub removed: Vec<crate::inventory::Host>,
    /// Removed hosts that could not be reached, with ssh's reason.
    pub removed_unreachable: Vec<(HostId, String)>,
}

impl Facts {
    /// The facts of one host, or empty ones for a host not gathered.
    pub fn host(&self, id: &HostId) -> &HostFacts {
        static EMPTY: std::sync::OnceLock<HostFacts> = std::sync::OnceLock::new();
        self.hosts
            .get(id)
            .unwrap_or_else(|| EMPTY.get_or_init(HostFacts::default))
    }

    pub fn route(&self, id: &HostId) -> Option<&Route> {
        self.routes.get(id)
    }

    pub fn peer(&self, id: &HostId) -> Peer {
        self.peers.get(id).cloned().unwrap_or_default()
    }
}

/// What the engine's probe asks one host.
#[derive(Debug, Clone, Default)]
pub struct MachineProbe {
    /// Where releases go: free disk and write access are read there.
    pub install_dir: String,
    pub ports: Vec<u16>,
    /// The markers of the managed `~/.ssh/config` block, to read it back.
    pub ssh_block: Option<(String, String)>,
    pub lock: Option<lock::Site>,
    /// The marker of the ssh trust flinkup added for the cluster: its lines are counted.
    pub trust_marker: Option<String>,
}

/// The read-only shell script of the engine's probe, `key=value` lines.
pub fn machine_script(p: &MachineProbe) -> String {
    let mut s = format!(
        r#"set +e
U=${{USER:-$(id -un)}}
echo "home=$HOME"
echo "user=$U"
echo "hostname=$(hostname)"
echo "addresses=$(hostname -I 2>/dev/null)"
if getent hosts "$(hostname)" >/dev/null 2>&1; then echo resolves=1; fi
if command -v ssh >/dev/null 2>&1; then echo ssh_client=1; fi
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then echo systemd=1; fi
if [ "$(id -u)" = 0 ]; then echo root=1; elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then echo sudo=1; fi
D={install}
while [ ! -d "$D" ]; do D=$(dirname "$D"); done
echo "disk_free_kb=$(df -Pk "$D" | awk 'NR==2 {{print $4}}')"
if [ -w "$D" ]; then echo writable=1; fi
"#,
        install = qp(&p.install_dir),
    );
    if !p.ports.is_empty() {
        let ports: Vec<String> = p.ports.iter().map(u16::to_string).collect();
        s.push_str(&format!(
            r#"if command -v ss >/dev/null 2>&1; then echo ports_known=1
for p in {ports}; do
  l=$(ss -Htlnp "sport = :$p" 2>/dev/null | head -n1)
  [ -z "$l" ] && l=$(ss -Htln "sport = :$p" 2>/dev/null | head -n1)
  if [ -n "$l" ]; then echo "port.$p=$(echo "$l" | sed -n 's/.*users:(("\([^"]*\)",pid=\([0-9]*\).*/\1 pid \2/p')"; fi
done; fi
"#,
            ports = ports.join(" ")
        ));
    }
    if let Some((begin, end)) = &p.ssh_block {
        s.push_str(&format!(
            r#"if [ -f ~/.ssh/config ]; then B=$(grep -nxF {b} ~/.ssh/config | head -n1 | cut -d: -f1); E=$(grep -nxF {e} ~/.ssh/config | head -n1 | cut -d: -f1)
if [ -n "$B" ] && [ -n "$E" ]; then echo "ssh_block=$(sed -n "${{B}},${{E}}p" ~/.ssh/config | base64 -w0)"; fi; fi
"#,
            b = q(begin),
            e = q(end)
        ));
    }
    if let Some(m) = &p.trust_marker {
        s.push_str(&format!(
            "for f in authorized_keys known_hosts; do if [ -f ~/.ssh/$f ]; then echo \"trust.$f=$(awk -v m=\" \"{m} '{marked}' ~/.ssh/$f | wc -l)\"; fi; done\n",
            m = q(m),
            marked = crate::plan::MARKED_LINE
        ));
    }
    if let Some(site) = &p.lock {
        s.push_str(&lock::probe(site));
        s.push('\n');
    }
    s
}

/// Parses the engine's part of a host's probe output; other keys are left to components.
pub fn parse_machine(out: &str) -> Machine {
    let mut m = Machine::default();
    let mut lock_lines = String::new();
    let mut locked = false;
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        match k {
            "home" => m.home = Some(v.to_string()),
            "user" => m.user = v.to_string(),
            "hostname" => m.hostname = v.to_string(),
            "addresses" => m.addresses = v.split_whitespace().map(str::to_string).collect(),
            "resolves" => m.hostname_resolves = true,
            "ssh_client" => m.ssh_client = true,
            "systemd" => m.systemd = true,
            "trust.authorized_keys" => m.trust_lines.0 = v.trim().parse().unwrap_or(0),
            "trust.known_hosts" => m.trust_lines.1 = v.trim().parse().unwrap_or(0),
            "root" => m.root = true,
            "sudo" => m.sudo = true,
            "disk_free_kb" => m.disk_free_kb = v.trim().parse().ok(),
            "writable" => m.install_dir_writable = true,
            "ports_known" => m.ports_known = true,
            "ssh_block" => m.ssh_block = b64_text(v),
            "lock.held" => locked = true,
            k if k.starts_with("lock.") => {
                lock_lines.push_str(&format!("{}={v}\n", &k[5..]));
            }
            k if k.starts_with("port.") => {
                if let Ok(port) = k[5..].parse::<u16>() {
                    let pid = v
                        .rsplit_once(" pid ")
                        .and_then(|(_, p)| p.trim().parse().ok());
                    m.ports.insert(
                        port,
                        PortHolder {
                            holder: v.trim().to_string(),
                            pid,
                        },
                    );
                }
            }
            _ => {}
        }
    }
    if locked {
        m.lock = Some(lock::parse_holder(&lock_lines));
    }
    m
}

/// The read-only script the coordinating host runs to see its peers: can it log in to each
/// without a password (strict host keys), and does each one's ssh port answer at all.
pub fn peers_script(peers: &[SshPeer]) -> String {
    let mut s = format!("set +e\n{}\n", crate::remote::shell::PORT_OPEN_FN);
    for p in peers {
        s.push_str(&format!(
            "( ssh -n -o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=5 {name} true >/dev/null 2>&1 && echo trusted={name} ) &\n( port_open 5 {addr} {port} && echo reachable={name} ) &\n",
            name = q(&p.name),
            addr = q(&p.address),
            port = p.port,
        ));
    }
    s.push_str("wait\n");
    s
}

/// Parses [`peers_script`]'s output into facts per peer.
pub fn parse_peers(out: &str, peers: &[SshPeer]) -> BTreeMap<HostId, Peer> {
    let mut m: BTreeMap<HostId, Peer> = peers
        .iter()
        .map(|p| (p.host.clone(), Peer::default()))
        .collect();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let name = v;
        for p in peers.iter().filter(|p| p.name == name) {
            if let Some(e) = m.get_mut(&p.host) {
                match k {
                    "trusted" => {
                        e.trusted = true;
                        e.reachable = true;
                    }
                    "reachable" => e.reachable = true,
                    _ => {}
                }
            }
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_machine_facts() {
        let out = "home=/root\nuser=root\nhostname=h1\nresolves=1\nssh_client=1\ndisk_free_kb=1000\nwritable=1\nports_known=1\nport.8082=python3 pid 77\nlock.held=1\nlock.user=ann\nlock.pid=5\n";
        let m = parse_machine(out);
        assert!(m.hostname_resolves && m.install_dir_writable && m.ssh_client);
        assert_eq!(m.ports[&8082].pid, Some(77));
        assert_eq!(m.ports[&8082].holder, "python3 pid 77");
        assert_eq!(m.lock.as_ref().map(|o| o.user.as_str()), Some("ann"));
    }

    #[test]
    fn parses_peers() {
        let peers = vec![SshPeer {
            host: HostId("h2".into()),
            name: "h2".into(),
            address: "10.0.0.2".into(),
            port: 2222,
            user: None,
        }];
        let m = parse_peers("reachable=h2\n", &peers);
        assert_eq!(
            m[&HostId("h2".into())],
            Peer {
                trusted: false,
                reachable: true
            }
        );
        assert!(peers[0].needs_config());
    }
}
