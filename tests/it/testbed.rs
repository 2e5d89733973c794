//! Test hosts on this machine: each one a network namespace on a private bridge, running its
//! own sshd inside `unshare --mount --uts` with private /opt, /root, /home, /tmp and its own
//! /etc/hosts and host name. Addresses are 198.18.N.0/24 on bridge `fubN`, where N is
//! claimed atomically by creating the bridge, so tests running in parallel never collide.
//! Everything is torn down by pid when the testbed is dropped.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The real Flink 1.9.3 distribution built by tests/fixtures/flink-tarball.sh.
pub fn flink_tarball() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/flink-dist/flink-1.9.3-bin-scala_2.11.tgz");
    assert!(
        p.is_file(),
        "{} is missing: run tests/fixtures/flink-tarball.sh (as .ci/run does)",
        p.display()
    );
    p
}

/// A built test distribution by version ("1.10.3"), or the damaged 1.10.3 (`damaged/`).
pub fn flink_dist(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/flink-dist")
        .join(rel);
    assert!(
        p.is_file(),
        "{} is missing: run tests/fixtures/flink-tarball.sh (as .ci/run does)",
        p.display()
    );
    p
}

/// A JDK tarball made from this machine's JDK (the one `java` on PATH runs), as a vendor ships
/// one: a single top directory `jdk-test-<feature>/` with bin/java and the release file,
/// symlinks resolved, without jmods, headers, manuals or sources. Made once, under target/.
pub fn jdk_tarball() -> PathBuf {
    static MADE: Mutex<()> = Mutex::new(());
    let _made = MADE.lock().unwrap_or_else(|e| e.into_inner());
    let java = std::fs::canonicalize(
        String::from_utf8_lossy(
            &Command::new("sh")
                .args(["-c", "command -v java"])
                .output()
                .expect("sh")
                .stdout,
        )
        .trim(),
    )
    .expect("java on PATH: install a JDK (.ci/run does)");
    let home = java
        .parent()
        .and_then(Path::parent)
        .expect("a JDK's bin/java");
    let release = std::fs::read_to_string(home.join("release")).expect("the JDK's release file");
    let feature: String = release
        .lines()
        .find_map(|l| l.strip_prefix("JAVA_VERSION="))
        .expect("JAVA_VERSION")
        .trim_matches('"')
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/flink-dist");
    let out = dir.join(format!("jdk-test-{feature}_linux-x64.tar.gz"));
    if out.is_file() {
        return out;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let tmp = dir.join(format!("jdk-test.{}.partial", std::process::id()));
    let name = home.file_name().unwrap().to_string_lossy().to_string();
    must(
        Command::new("tar")
            .args(["-I", "gzip -1", "-chf"])
            .arg(&tmp)
            .args([
                "--exclude=jmods",
                "--exclude=man",
                "--exclude=docs",
                "--exclude=include",
                "--exclude=demo",
                "--exclude=src.zip",
                "--exclude=libatk-wrapper.so",
                &format!("--transform=s,^{name},jdk-test-{feature},"),
                "-C",
            ])
            .arg(home.parent().unwrap())
            .arg(&name),
    );
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Flink-starting tests run one at a time: the machine has two cores.
static FLINK: Mutex<()> = Mutex::new(());

/// The turn of one Flink-starting test. When it ends, the test's name and how long it held
/// the turn are appended to `target/test-times.txt`: where the suite's time goes.
pub struct FlinkTurn {
    _turn: MutexGuard<'static, ()>,
    since: std::time::Instant,
}

impl Drop for FlinkTurn {
    fn drop(&mut self) {
        use std::io::Write;
        let name = std::thread::current().name().unwrap_or("?").to_string();
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-times.txt");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(file)
        {
            let _ = writeln!(
                f,
                "{:8.1}s {name}{}",
                self.since.elapsed().as_secs_f64(),
                if std::thread::panicking() {
                    " (failed)"
                } else {
                    ""
                }
            );
        }
    }
}

pub fn flink_lock() -> FlinkTurn {
    FlinkTurn {
        _turn: FLINK.lock().unwrap_or_else(|e| e.into_inner()),
        since: std::time::Instant::now(),
    }
}

pub struct TestHost {
    /// The host's own host name (its UTS namespace).
    pub hostname: String,
    pub ip: String,
    /// Where its sshd listens.
    pub ssh_port: u16,
    pub ns: String,
    /// Where its private /opt, /root, /home, /tmp live on this machine.
    pub root: PathBuf,
    sshd: Option<Child>,
    /// What starts its sshd inside its namespaces (again, after `kill_sshd`).
    start: String,
    /// It boots systemd (`sshd` is then its systemd-nspawn, `start` its command line).
    pub systemd: bool,
}

impl TestHost {
    pub fn opt(&self) -> PathBuf {
        self.root.join("opt")
    }

    /// PIDs of every process in the host's network namespace.
    pub fn pids(&self) -> Vec<u32> {
        let out = Command::new("ip")
            .args(["netns", "pids", &self.ns])
            .output()
            .expect("ip netns pids");
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    /// Java processes running on the host.
    pub fn java_pids(&self) -> Vec<u32> {
        self.pids()
            .into_iter()
            .filter(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| String::from_utf8_lossy(&c).contains("java"))
                    .unwrap_or(false)
            })
            .collect()
    }

    fn sshd_pid(&self) -> u32 {
        self.sshd
            .as_ref()
            .map(|c| c.id())
            .expect("the host's sshd runs")
    }

    fn nsenter(&self, script: &str) -> Command {
        let mut c = Command::new("nsenter");
        if self.systemd {
            // The container's systemd, PID 1 in there: its namespaces, pids included.
            c.args([
                "-t",
                &self.init_pid().to_string(),
                "-m",
                "-u",
                "-n",
                "-i",
                "-p",
            ]);
        } else {
            c.args(["-t", &self.sshd_pid().to_string(), "-m", "-u", "-n"]);
        }
        c.args(["sh", "-c", script]);
        c
    }

    /// The systemd a systemd host boots: the child of its systemd-nspawn.
    fn init_pid(&self) -> u32 {
        let nspawn = self.sshd_pid();
        let start = Instant::now();
        loop {
            let kids = std::fs::read_to_string(format!("/proc/{nspawn}/task/{nspawn}/children"))
                .unwrap_or_default();
            if let Some(p) = kids.split_whitespace().find_map(|p| p.parse().ok()) {
                return p;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "{} has not booted",
                self.hostname
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Boots a systemd host (again), and waits for its sshd.
    pub fn boot(&mut self) {
        assert!(
            self.systemd && self.sshd.is_none(),
            "{} runs",
            self.hostname
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root.with_file_name("console.log"))
            .unwrap();
        let child = Command::new("sh")
            .args(["-c", &self.start])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("systemd-nspawn");
        self.sshd = Some(child);
        wait_port(
            &self.ip,
            self.ssh_port,
            &self.root.with_file_name("console.log"),
        );
    }

    /// Shuts a systemd host down as a power button would (systemd stops every unit), and
    /// waits until it is off.
    pub fn power_off(&mut self) {
        let Some(mut child) = self.sshd.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(90) {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        for p in self.pids() {
            let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("{} did not power off within 90s", self.hostname);
    }

    /// Runs a script as root inside the host (its mount, UTS and network namespaces).
    pub fn exec(&self, script: &str) -> std::process::Output {
        self.nsenter(script).output().expect("nsenter")
    }

    /// Starts a long-running process inside the host; the testbed kills it at the end.
    pub fn spawn(&self, script: &str) -> Child {
        self.nsenter(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsenter")
    }

    /// Cuts the host's network link (its end of the bridge), or restores it.
    pub fn link(&self, up: bool) {
        must(Command::new("ip").args(["link", "set", &self.ns, if up { "up" } else { "down" }]));
    }

    /// Limits traffic towards the host, e.g. "40mbit"; None removes the limit.
    pub fn throttle(&self, rate: Option<&str>) {
        match rate {
            Some(r) => must(Command::new("tc").args([
                "qdisc", "replace", "dev", &self.ns, "root", "tbf", "rate", r, "burst", "256kb",
                "latency", "500ms",
            ])),
            None => {
                let _ = Command::new("tc")
                    .args(["qdisc", "del", "dev", &self.ns, "root"])
                    .status();
            }
        }
    }

    /// Kills every sshd process of the host, the listener and each session's (what a crashed
    /// or killed sshd does to transfers under way); the host's other processes stay.
    pub fn kill_sshd(&mut self) {
        for p in self.pids() {
            let comm = std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == "sshd" {
                let _ = Command::new("kill").args(["-9", &p.to_string()]).status();
            }
        }
        self.stop_sshd();
    }

    /// Starts the host's sshd again after `kill_sshd` or `stop_sshd`.
    pub fn start_sshd(&mut self) {
        assert!(
            self.sshd.is_none(),
            "sshd already runs on {}",
            self.hostname
        );
        let log = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.root.join("sshd.log"))
            .unwrap();
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns,
                "unshare",
                "--mount",
                "--uts",
                "sh",
                "-c",
                &self.start,
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start sshd");
        self.sshd = Some(child);
        wait_port(&self.ip, self.ssh_port, &self.root.join("sshd.log"));
    }

    /// Stops the host's sshd (the host stays; its processes keep running).
    pub fn stop_sshd(&mut self) {
        if let Some(mut c) = self.sshd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub struct Testbed {
    pub dir: PathBuf,
    pub hosts: Vec<TestHost>,
    pub ssh_config: PathBuf,
    pub known_hosts: PathBuf,
    bridge: String,
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[track_caller]
/// A host's link to the bridge: our end named after its namespace, `eth0` inside it.
fn veth(ns: &str, bridge: &str, ip: &str) {
    must(Command::new("ip").args([
        "link", "add", ns, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ]));
    must(Command::new("ip").args(["link", "set", ns, "master", bridge, "up"]));
    must(Command::new("ip").args(["-n", ns, "addr", "add", &format!("{ip}/24"), "dev", "eth0"]));
    must(Command::new("ip").args(["-n", ns, "link", "set", "eth0", "up"]));
    must(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]));
}

/// What tests/fixtures/systemd-host.sh builds: the root filesystem and systemd-nspawn.
pub fn systemd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/systemd-host")
}

/// A systemd host's own root filesystem, copied from the fixture's: the operator's key
/// authorized for root (and `user`'s), /etc/hosts naming every test host, its host name and a
/// host key of its own. Returns the host key's public part (`type base64`).
fn systemd_root(
    root: &Path,
    hostname: &str,
    op_pub: &str,
    names: &[(String, String)],
    user: Option<&str>,
) -> String {
    let base = systemd_dir().join("rootfs");
    assert!(
        base.join("usr/local/jdk/bin/java").exists()
            && systemd_dir().join("nspawn/usr/bin/systemd-nspawn").exists(),
        "the systemd test hosts' root filesystem is missing: run tests/fixtures/systemd-host.sh (as .ci/run does)"
    );
    // systemd-nspawn keeps per-machine state here; this machine runs no systemd of its own.
    let _ = std::fs::create_dir_all("/run/systemd/nspawn");
    if run(Command::new("mountpoint").args(["-q", "/run/systemd/nspawn"])).is_err() {
        must(Command::new("mount").args(["-t", "tmpfs", "tmpfs", "/run/systemd/nspawn"]));
    }
    std::fs::create_dir_all(root.parent().unwrap()).unwrap();
    must(
        Command::new("cp")
            .args(["-a", "--reflink=auto"])
            .arg(&base)
            .arg(root),
    );
    std::fs::write(root.join("root/.ssh/authorized_keys"), op_pub).unwrap();
    let mut hosts = String::from("127.0.0.1 localhost\n");
    for (h, a) in names {
        hosts.push_str(&format!("{a} {h}\n"));
    }
    std::fs::write(root.join("etc/hosts"), hosts).unwrap();
    std::fs::write(root.join("etc/hostname"), format!("{hostname}\n")).unwrap();
    if let Some(user) = user {
        must(Command::new("chroot").arg(root).args([
            "useradd", "-m", "-u", "1500", "-s", "/bin/sh", "-p", "*", user,
        ]));
        let home = root.join("home").join(user);
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/authorized_keys"), op_pub).unwrap();
        must(Command::new("chown").args(["-R", "1500:1500"]).arg(&home));
        // Password-free sudo, as sites give a deployment account.
        let sudoers = root.join("etc/sudoers.d/flinkup-test");
        std::fs::write(&sudoers, format!("{user} ALL=(ALL) NOPASSWD: ALL\n")).unwrap();
        must(Command::new("chmod").arg("440").arg(&sudoers));
    }
    let key = root.join("etc/ssh/ssh_host_ed25519_key");
    must(
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key),
    );
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    public
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
}

fn must(cmd: &mut Command) {
    if let Err(e) = run(cmd) {
        panic!("testbed setup failed: {e}");
    }
}

fn require_parts() {
    let uid = unsafe_uid();
    assert_eq!(uid, 0, "the real-host tests need root (network namespaces, bind mounts, sshd); run them as root, as .ci/run does");
    for tool in [
        "ip",
        "unshare",
        "/usr/sbin/sshd",
        "ssh",
        "ssh-keygen",
        "ssh-keyscan",
        "java",
        "curl",
        "setsid",
        "python3",
    ] {
        let found = if tool.starts_with('/') {
            Path::new(tool).exists()
        } else {
            Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .stdout(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        assert!(found, "`{tool}` is missing: install openssh-server, openssh-client, iproute2, util-linux, curl, python3 and a JDK (.ci/run does)");
    }
}

fn unsafe_uid() -> u32 {
    // The uid of this process, from /proc, without a libc dependency.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|u| u.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}

pub struct Spec {
    pub hosts: usize,
    /// An ordinary login user (uid 1500, home /home/<user>) added to every host's private
    /// /etc/passwd, authorized for the operator's key.
    pub user: Option<&'static str>,
    /// Hosts (by index) whose own host name is left out of their /etc/hosts.
    pub unresolvable: Vec<usize>,
    /// Write the hosts' keys into the operator's known_hosts.
    pub known: bool,
    /// Hosts (by index) whose sshd listens on another port than 22.
    pub ssh_ports: Vec<(usize, u16)>,
    /// Hosts that boot systemd as their PID 1 (`systemd-nspawn -b` of a copy of the root
    /// filesystem tests/fixtures/systemd-host.sh builds), their sshd started by it.
    pub systemd: bool,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            hosts: 2,
            user: None,
            unresolvable: Vec::new(),
            known: true,
            ssh_ports: Vec::new(),
            systemd: false,
        }
    }
}

impl Testbed {
    pub fn new(spec: Spec) -> Testbed {
        require_parts();
        let _ = std::fs::create_dir_all("/run/sshd");
        let start = std::process::id() % 200;
        let n = (0..250)
            .map(|k| (start + k) % 250 + 1)
            .find(|n| {
                run(Command::new("ip").args(["link", "add", &format!("fub{n}"), "type", "bridge"]))
                    .is_ok()
            })
            .expect("no free testbed subnet (bridges fub1..fub250 all exist)");
        let bridge = format!("fub{n}");
        // Not under /tmp, /opt, /root or /home: each host mounts its own over those, which
        // would hide the testbed's files (sshd_config, host keys) from the host itself.
        let dir = PathBuf::from("/var/tmp").join(format!("flinkup-testbed-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut tb = Testbed {
            dir: dir.clone(),
            hosts: Vec::new(),
            ssh_config: dir.join("ssh_config"),
            known_hosts: dir.join("known_hosts"),
            bridge: bridge.clone(),
        };
        must(Command::new("ip").args([
            "addr",
            "add",
            &format!("198.18.{n}.254/24"),
            "dev",
            &bridge,
        ]));
        must(Command::new("ip").args(["link", "set", &bridge, "up"]));
        must(
            Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-C", "operator", "-f"])
                .arg(dir.join("operator_key")),
        );
        let op_pub = std::fs::read_to_string(dir.join("operator_key.pub")).unwrap();
        let names: Vec<(String, String)> = (1..=spec.hosts)
            .map(|i| (format!("h{i}"), format!("198.18.{n}.{i}")))
            .collect();
        let mut known = String::new();
        for (idx, (hostname, ip)) in names.iter().enumerate() {
            let ns = format!("fu{n}{hostname}");
            if spec.systemd {
                let root = dir.join(hostname).join("rootfs");
                let port = 22;
                let key = systemd_root(&root, hostname, &op_pub, &names, spec.user);
                known.push_str(&format!("{ip} {key}\n"));
                must(Command::new("ip").args(["netns", "add", &ns]));
                tb.hosts.push(TestHost {
                    hostname: hostname.clone(),
                    ip: ip.clone(),
                    ssh_port: port,
                    ns: ns.clone(),
                    root: root.clone(),
                    sshd: None,
                    start: format!(
                        "LD_LIBRARY_PATH={lib} exec {nspawn} --register=no --keep-unit --console=read-only -b -D {r} -M {hostname}-{n} --hostname={hostname} --network-namespace-path=/run/netns/{ns}",
                        lib = systemd_dir().join("nspawn/usr/lib/x86_64-linux-gnu/systemd").display(),
                        nspawn = systemd_dir().join("nspawn/usr/bin/systemd-nspawn").display(),
                        r = root.display(),
                    ),
                    systemd: true,
                });
                veth(&ns, &bridge, ip);
                continue;
            }
            let root = dir.join(hostname);
            for d in ["opt", "root/.ssh", "home", "tmp"] {
                std::fs::create_dir_all(root.join(d)).unwrap();
            }
            must(Command::new("chmod").args(["1777"]).arg(root.join("tmp")));
            std::fs::write(root.join("root/.ssh/authorized_keys"), &op_pub).unwrap();
            let mut binds = String::new();
            if let Some(user) = spec.user {
                let home = root.join("home").join(user);
                std::fs::create_dir_all(home.join(".ssh")).unwrap();
                std::fs::write(home.join(".ssh/authorized_keys"), &op_pub).unwrap();
                must(Command::new("chown").args(["-R", "1500:1500"]).arg(&home));
                for (file, line) in [
                    (
                        "passwd",
                        format!("{user}:x:1500:1500::/home/{user}:/bin/sh\n"),
                    ),
                    ("group", format!("{user}:x:1500:\n")),
                    ("shadow", format!("{user}:*:19000:0:99999:7:::\n")),
                ] {
                    let mut text =
                        std::fs::read_to_string(format!("/etc/{file}")).unwrap_or_default();
                    text.push_str(&line);
                    std::fs::write(root.join(file), text).unwrap();
                    binds.push_str(&format!(
                        "mount --bind {}/{file} /etc/{file} && ",
                        root.display()
                    ));
                }
            }
            let mut hosts = String::from("127.0.0.1 localhost\n");
            for (j, (h, a)) in names.iter().enumerate() {
                if !(j == idx && spec.unresolvable.contains(&idx)) {
                    hosts.push_str(&format!("{a} {h}\n"));
                }
            }
            std::fs::write(root.join("hosts"), hosts).unwrap();
            must(
                Command::new("ssh-keygen")
                    .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                    .arg(root.join("host_key")),
            );
            let key = std::fs::read_to_string(root.join("host_key.pub")).unwrap();
            let key: Vec<&str> = key.split_whitespace().take(2).collect();
            let port = spec
                .ssh_ports
                .iter()
                .find(|(i, _)| *i == idx)
                .map_or(22, |(_, p)| *p);
            let known_name = if port == 22 {
                ip.clone()
            } else {
                format!("[{ip}]:{port}")
            };
            known.push_str(&format!("{known_name} {}\n", key.join(" ")));
            std::fs::write(
                root.join("sshd_config"),
                format!(
                    "ListenAddress {ip}:{port}\nHostKey {}\nPidFile none\nUsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nAuthorizedKeysFile .ssh/authorized_keys\nMaxStartups 100\nSubsystem sftp internal-sftp\nLogLevel ERROR\n",
                    root.join("host_key").display()
                ),
            )
            .unwrap();
            must(Command::new("ip").args(["netns", "add", &ns]));
            // Owned by the testbed from here on, so a failure below still tears it down.
            tb.hosts.push(TestHost {
                hostname: hostname.clone(),
                ip: ip.clone(),
                ssh_port: port,
                ns: ns.clone(),
                root: root.clone(),
                sshd: None,
                start: String::new(),
                systemd: spec.systemd,
            });
            veth(&ns, &bridge, ip);
            let r = root.display();
            let script = format!(
                "for f in /run/netns/*; do umount -l \"$f\" 2>/dev/null; done; mount --bind {r}/opt /opt && mount --bind {r}/root /root && mount --bind {r}/home /home && mount --bind {r}/tmp /tmp && mount --bind {r}/hosts /etc/hosts && {binds}hostname {hostname} && exec /usr/sbin/sshd -D -e -f {r}/sshd_config"
            );
            let host = tb.hosts.last_mut().expect("the host was pushed above");
            host.start = script;
            let log = std::fs::File::create(root.join("sshd.log")).unwrap();
            let child = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &ns,
                    "unshare",
                    "--mount",
                    "--uts",
                    "sh",
                    "-c",
                    &host.start,
                ])
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .expect("start sshd");
            host.sshd = Some(child);
        }
        std::fs::write(
            &tb.known_hosts,
            if spec.known { known } else { String::new() },
        )
        .unwrap();
        std::fs::write(
            &tb.ssh_config,
            format!(
                "Host *\n  IdentityFile {}\n  IdentitiesOnly yes\n  UserKnownHostsFile {}\n  GlobalKnownHostsFile /dev/null\n  User root\n  LogLevel ERROR\n",
                dir.join("operator_key").display(),
                tb.known_hosts.display()
            ),
        )
        .unwrap();
        for h in tb.hosts.iter_mut().filter(|h| h.systemd) {
            h.boot();
        }
        for h in tb.hosts.iter().filter(|h| !h.systemd) {
            wait_port(&h.ip, h.ssh_port, &h.root.join("sshd.log"));
        }
        tb
    }

    /// Limits the operator's link: everything this machine sends to the hosts leaves through
    /// the bridge's own interface (host-to-host traffic is forwarded between its ports and
    /// stays unlimited). None removes the limit.
    pub fn throttle_operator(&self, rate: Option<&str>) {
        match rate {
            Some(r) => must(Command::new("tc").args([
                "qdisc",
                "replace",
                "dev",
                &self.bridge,
                "root",
                "tbf",
                "rate",
                r,
                "burst",
                "256kb",
                "latency",
                "500ms",
            ])),
            None => {
                let _ = Command::new("tc")
                    .args(["qdisc", "del", "dev", &self.bridge, "root"])
                    .status();
            }
        }
    }

    /// Bytes this machine has sent to the hosts so far (the bridge interface's counter).
    pub fn operator_tx_bytes(&self) -> u64 {
        std::fs::read_to_string(format!(
            "/sys/class/net/{}/statistics/tx_bytes",
            self.bridge
        ))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0)
    }

    /// Waits until something listens on host `i`'s `port`, at most `secs` seconds; `what`
    /// names it when it never does.
    pub fn wait_listening(&self, i: usize, port: u16, secs: u64, what: &str) {
        let start = Instant::now();
        while TcpStream::connect((self.ip(i), port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(secs),
                "{what} within {secs}s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn ip(&self, i: usize) -> &str {
        &self.hosts[i].ip
    }

    /// This machine's address on the bridge (198.18.N.254).
    pub fn operator_ip(&self) -> String {
        let ip = self.ip(0);
        format!("{}.254", &ip[..ip.rfind('.').unwrap()])
    }

    /// Host `i` stops answering this machine (its replies to the operator's address go
    /// nowhere); the other hosts still reach it.
    pub fn hide_from_operator(&self, i: usize) {
        must(Command::new("ip").args([
            "-n",
            &self.hosts[i].ns,
            "route",
            "add",
            "blackhole",
            &format!("{}/32", self.operator_ip()),
        ]));
    }

    /// Adds `alias` to the operator's ssh_config: host `i`, reached through host `jump`.
    pub fn ssh_alias(&self, alias: &str, i: usize, jump: usize) {
        let old = std::fs::read_to_string(&self.ssh_config).unwrap();
        std::fs::write(
            &self.ssh_config,
            format!(
                "Host {alias}\n  HostName {}\n  ProxyJump root@{}\n{old}",
                self.ip(i),
                self.ip(jump)
            ),
        )
        .unwrap();
    }

    /// Writes an inventory for these hosts; `body` holds everything after `cluster:`.
    pub fn inventory(&self, name: &str, body: &str) -> PathBuf {
        let p = self.dir.join(format!("{name}.yaml"));
        std::fs::write(&p, format!("cluster: {name}\n{body}")).unwrap();
        p
    }

    /// The guide's shape: JobManager and a TaskManager on host 1, a TaskManager on host 2.
    pub fn guide_inventory(&self, name: &str, slots: u32, start: &str) -> PathBuf {
        let tgz = flink_tarball();
        self.inventory(
            name,
            &format!(
                "flink:\n  version: 1.9.3\n  install_dir: /opt\n  start: {start}\n  artifact:\n    path: {}\nssh:\n  user: root\n  known_hosts: strict\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.rpc.port: 6123\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: {slots}\n  parallelism.default: 1\n  rest.port: 8082\n  jobmanager.web.submit.enable: false\nverify:\n  timeout: 120s\n",
                tgz.display(),
                h1 = self.ip(0),
                h2 = self.ip(1),
            ),
        )
    }

    /// A flinkup command line against this testbed: the ssh config for commands that reach
    /// hosts, the testbed's cache for commands that fetch.
    pub fn cmd(&self, verb: &str, inv: &Path, extra: &[&str]) -> Vec<String> {
        let mut v = vec![verb.to_string(), "-i".into(), inv.display().to_string()];
        if verb != "fetch" {
            v.extend(self.args());
        }
        if matches!(verb, "deploy" | "plan" | "fetch") {
            v.extend(self.cache_args());
        }
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    }

    /// The arguments every flinkup call against this testbed needs.
    pub fn args(&self) -> Vec<String> {
        vec!["--ssh-config".into(), self.ssh_config.display().to_string()]
    }

    pub fn cache_args(&self) -> Vec<String> {
        vec![
            "--cache-dir".into(),
            self.dir.join("cache").display().to_string(),
        ]
    }

    /// The TaskManager ids the JobManager on host 1 lists (REST on 8082), sorted.
    pub fn tm_ids(&self) -> Vec<String> {
        let v = self
            .get(&format!("http://{}:8082/taskmanagers", self.ip(0)))
            .expect("GET /taskmanagers");
        let mut ids: Vec<String> = v["taskmanagers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// (TaskManagers, slots) from the JobManager on host 1, if it answers.
    /// The Flink version the cluster's REST API reports (empty when it does not answer).
    pub fn flink_version(&self) -> String {
        self.get(&format!("http://{}:8082/config", self.ip(0)))
            .and_then(|v| v["flink-version"].as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Runs `bin/flink run -d` on the JobManager host as a user would (`env` first, e.g.
    /// `JVM_ARGS=…`) and returns the JobID it printed.
    pub fn submit(&self, env: &str, jar: &str, args: &str) -> String {
        let out = self.hosts[0].exec(&format!(
            "export USER=root HOME=/root {env}; /opt/flink/bin/flink run -d {jar} {args} 2>&1"
        ));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.split(|c: char| !c.is_ascii_hexdigit())
            .find(|w| w.len() == 32)
            .unwrap_or_else(|| panic!("no JobID in:\n{text}"))
            .to_string()
    }

    /// Runs a command on host `i` over ssh, as a person who logs in there would: the login's
    /// own environment, nothing added.
    pub fn ssh(&self, i: usize, command: &str) -> std::process::Output {
        Command::new("ssh")
            .arg("-F")
            .arg(&self.ssh_config)
            .args([
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                self.ip(i),
                command,
            ])
            .output()
            .expect("ssh")
    }

    /// The installed client works for whoever logs in to the JobManager host: over ssh, with
    /// no environment of its own, `bin/flink run -d` submits `jar`, the job runs, and
    /// `bin/flink cancel` ends it.
    pub fn user_job_runs(&self, jar: &Path, args: &str) {
        std::fs::copy(jar, self.hosts[0].root.join("tmp/user-job.jar")).unwrap();
        let out = self.ssh(
            0,
            &format!("/opt/flink/bin/flink run -d /tmp/user-job.jar {args}"),
        );
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "bin/flink run over ssh failed:\n{text}"
        );
        let id = text
            .split(|c: char| !c.is_ascii_hexdigit())
            .find(|w| w.len() == 32)
            .unwrap_or_else(|| panic!("no JobID in:\n{text}"))
            .to_string();
        let url = format!("http://{}:8082/jobs/{id}", self.ip(0));
        let start = Instant::now();
        while self
            .get(&url)
            .and_then(|v| v["state"].as_str().map(str::to_string))
            != Some("RUNNING".into())
        {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "job {id} never ran: {:?}",
                self.get(&url)
            );
            std::thread::sleep(Duration::from_millis(300));
        }
        let out = self.ssh(0, &format!("/opt/flink/bin/flink cancel {id}"));
        assert!(
            out.status.success(),
            "bin/flink cancel over ssh failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The JobManager's pid on host 1 (its java process that is not a TaskManager).
    pub fn jm_pid(&self) -> u32 {
        self.hosts[0]
            .java_pids()
            .into_iter()
            .find(|p| {
                std::fs::read(format!("/proc/{p}/cmdline"))
                    .map(|c| {
                        String::from_utf8_lossy(&c).contains("StandaloneSessionClusterEntrypoint")
                    })
                    .unwrap_or(false)
            })
            .expect("the JobManager runs")
    }

    /// Waits until job `id` has completed `n` checkpoints (REST on host 1).
    pub fn wait_checkpoints(&self, id: &str, n: u64) {
        let start = Instant::now();
        loop {
            let done = self
                .get(&format!("http://{}:8082/jobs/{id}/checkpoints", self.ip(0)))
                .and_then(|v| v["counts"]["completed"].as_u64())
                .unwrap_or(0);
            if done >= n {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(90),
                "job {id} completed {done} checkpoints, waited for {n}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    pub fn overview(&self) -> Option<(u64, u64)> {
        let v = self.get(&format!("http://{}:8082/overview", self.ip(0)))?;
        Some((v["taskmanagers"].as_u64()?, v["slots-total"].as_u64()?))
    }

    /// GET from a host's HTTP port, from this machine.
    pub fn get(&self, url: &str) -> Option<serde_json::Value> {
        let out = Command::new("curl")
            .args(["-sf", "--max-time", "5", url])
            .output()
            .ok()?;
        if !out.status.success() {
            return None;
        }
        serde_json::from_slice(&out.stdout).ok()
    }
}

fn wait_port(ip: &str, port: u16, log: &Path) {
    let start = Instant::now();
    // A systemd host boots first: seconds on a loaded machine.
    while start.elapsed() < Duration::from_secs(60) {
        if TcpStream::connect_timeout(
            &format!("{ip}:{port}").parse().unwrap(),
            Duration::from_millis(200),
        )
        .is_ok()
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!(
        "sshd on {ip} did not start: {}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

impl Drop for Testbed {
    fn drop(&mut self) {
        for h in &mut self.hosts {
            // Everything started in the host, sshd and Flink's JVMs alike, by pid.
            for pid in h.pids() {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            h.stop_sshd();
            let _ = Command::new("ip").args(["netns", "del", &h.ns]).status();
            // Deleting our end removes the pair even if something still holds the namespace.
            let _ = Command::new("ip").args(["link", "del", &h.ns]).status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
        // Releases of 300 MB per host: never left behind, failed test or not.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
