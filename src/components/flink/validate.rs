//! Flink's part of the inventory: the versions flinkup installs, the Scala flavour, and the
//! `config:` keys with their ports, memory sizes and memory model per release.

use std::collections::BTreeMap;

use crate::components::flink::catalogue;
use crate::inventory::schema::{RawInventory, Scalar};
use crate::inventory::units::{self, parse_memory, MIB};
use crate::inventory::validate::*;
use crate::inventory::{suggest, Version};

/// The releases the test suite deploys on real hosts (tests/it): every other patch of every
/// minor release in the key catalogue is supported too, since a patch release changes no keys.
pub const TESTED: &[&str] = &[
    "1.9.3", "1.10.3", "1.15.4", "1.18.1", "1.19.3", "1.20.5", "2.0.2", "2.2.1", "2.3.0",
];

/// The supported versions in words: every minor release of the key catalogue.
pub fn supported_text() -> String {
    let all = catalogue::releases();
    let first = all.first().map(|r| r.name()).unwrap_or_default();
    let last = catalogue::newest().name();
    format!("every release from {first}.0 to {last}.x (the minor releases of the key catalogue)")
}

pub(crate) const SCALAS: &[&str] = &["2.11", "2.12"];

/// The keys the deployment guide sets, in the guide's order; they open flink-conf.yaml.
pub const GUIDE_KEYS: &[(&str, &str)] = &[
    ("jobmanager.rpc.address", "address of the JobManager"),
    ("jobmanager.rpc.port", "RPC port inside the cluster"),
    ("jobmanager.heap.size", "JVM heap of the JobManager"),
    ("taskmanager.heap.size", "JVM heap of each TaskManager"),
    (
        "taskmanager.numberOfTaskSlots",
        "task slots per TaskManager",
    ),
    ("parallelism.default", "default parallelism of a job"),
    ("rest.port", "port of the REST API and web UI"),
    (
        "jobmanager.web.submit.enable",
        "whether jobs may be submitted from the web UI",
    ),
];

pub const DEFAULT_RPC_PORT: u16 = 6123;

pub const DEFAULT_REST_PORT: u16 = 8081;

pub(crate) fn version(c: &mut Checker, v: Option<&Scalar>) -> Option<Version> {
    let text = v.map(Scalar::render).unwrap_or_else(|| "1.9.2".into());
    let supported = supported_text();
    match text.parse::<Version>().ok() {
        Some(ver) if catalogue::release(ver).is_some() => Some(ver),
        Some(ver)
            if (ver.major, ver.minor) > {
                let n = catalogue::newest();
                (n.major, n.minor)
            } =>
        {
            let n = catalogue::newest();
            c.error(
                &["flink", "version"],
                format!(
                    "Flink {ver} is newer than every release flinkup knows (its key catalogue ends at {})",
                    n.version
                ),
                format!("supported versions: {supported}; a newer flinkup knows newer releases"),
            );
            None
        }
        Some(ver) => {
            c.error(
                &["flink", "version"],
                format!("Flink {ver} is not supported"),
                format!("supported versions: {supported}"),
            );
            None
        }
        None => {
            c.error(
                &["flink", "version"],
                format!("`{text}` is not a Flink version"),
                "write the full release number in quotes, e.g. `version: \"1.9.2\"`",
            );
            None
        }
    }
}

pub(crate) fn scala(c: &mut Checker, s: Option<&Scalar>) -> Option<String> {
    let text = s.map(Scalar::render).unwrap_or_else(|| "2.11".into());
    if SCALAS.contains(&text.as_str()) {
        Some(text)
    } else {
        c.error(
            &["flink", "scala"],
            format!("Scala `{text}` is not a Flink binary flavour"),
            "use \"2.11\" or \"2.12\", in quotes (a bare 2.10 reads as the number 2.1)",
        );
        None
    }
}

pub(crate) struct Settings {
    pub(crate) rpc: u16,
    pub(crate) rest: u16,
    pub(crate) slots: u32,
    pub(crate) jm_heap: u64,
    pub(crate) tm_heap: u64,
}

pub(crate) fn is_memory_key(key: &str) -> bool {
    key.ends_with(".heap.size")
        || key == "taskmanager.memory.segment-size"
        || ((key.starts_with("taskmanager.memory.") || key.starts_with("jobmanager.memory."))
            && (key.ends_with(".size") || key.ends_with(".min") || key.ends_with(".max")))
        || key == "taskmanager.network.memory.min"
        || key == "taskmanager.network.memory.max"
}

pub(crate) fn config(
    c: &mut Checker,
    raw: &RawInventory,
    version: Option<Version>,
    jm_name: Option<&str>,
) -> (BTreeMap<String, String>, Option<Settings>) {
    let mut out = BTreeMap::new();
    let mut ok = true;
    let mut ports: Vec<(&str, u16)> = Vec::new();
    for (key, value) in &raw.config {
        let path = ["config", key.as_str()];
        if key.is_empty()
            || !key
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
        {
            c.key_error(
                &path,
                format!(
                    "config key `{}` contains characters Flink cannot read",
                    key.escape_default()
                ),
                "keys are dotted names of letters, digits, `.`, `_` and `-`, e.g. rest.port",
            );
            ok = false;
            continue;
        }
        let text = value.render();
        if text.contains('\n') || text.contains('\r') {
            c.error(
                &path,
                format!("config value of `{key}` spans several lines"),
                "Flink's config.sh reads one line per key; write the value on one line",
            );
            ok = false;
            continue;
        }
        if text.contains('#') {
            c.error(
                &path,
                format!("config value of `{key}` contains `#`"),
                "Flink 1.9's config.sh drops everything after `#`, so the value would be cut short; remove the `#`",
            );
            ok = false;
            continue;
        }
        // With ha:, flinkup writes the keys that say where ZooKeeper and the storage are; the
        // others (timeouts, paths in ZooKeeper) tune it and stay the inventory's.
        // (`high-availability.type` is the newer name of the first, whatever the release.)
        let ha_own = super::ha::KEYS
            .iter()
            .chain(&["high-availability.type"])
            .any(|o| {
                *o == key
                    || version.is_some_and(|v| {
                        super::render::written_as(v, o) == super::render::written_as(v, key)
                    })
            });
        if (key == "high-availability" || key.starts_with("high-availability."))
            && (ha_own || raw.ha.is_none())
        {
            c.key_error(
                &path,
                format!("`{key}` under config: high availability is the inventory's ha: section"),
                "remove the high-availability keys from config and write `ha: {storage_dir: file:///srv/flink-ha, zookeeper_quorum: \"zk1:2181,zk2:2181,zk3:2181\"}`: flinkup sets every HA key from it and checks the ensemble before anything starts",
            );
            ok = false;
            continue;
        }
        if key == "jobmanager.rpc.address" {
            if Some(text.as_str()) != jm_name {
                c.error(
                    &path,
                    format!(
                        "jobmanager.rpc.address is `{text}` but the jobmanager is `{}`",
                        jm_name.unwrap_or("?")
                    ),
                    "remove jobmanager.rpc.address from config; flinkup sets it from `jobmanager`",
                );
                ok = false;
            }
            continue;
        }
        match key.as_str() {
            "jobmanager.rpc.port" | "rest.port" | "taskmanager.data.port" => {
                let min = if key == "taskmanager.data.port" { 0 } else { 1 };
                match as_int(value).filter(|p| (min..=65535).contains(p)) {
                    Some(p) => {
                        if p != 0 {
                            ports.push((key.as_str(), p as u16));
                        }
                    }
                    None => {
                        c.error(
                            &path,
                            format!("{key} `{text}` is not a port from {min} to 65535"),
                            "use a free TCP port, e.g. 8081 for rest.port",
                        );
                        ok = false;
                    }
                }
            }
            "taskmanager.numberOfTaskSlots" | "parallelism.default"
                if !as_int(value).is_some_and(|n| (1..=i64::from(u32::MAX)).contains(&n)) =>
            {
                c.error(
                    &path,
                    format!("{key} must be a whole number of at least 1, found `{text}`"),
                    "the guide uses 4 slots per TaskManager, one per CPU core",
                );
                ok = false;
            }
            k if is_memory_key(k) && text.trim() != "0" => {
                if let Err(e) = parse_memory(&text) {
                    c.error(
                        &path,
                        format!("{key}: {e}"),
                        "write a size with a unit: 1024m, 1g, 512mb",
                    );
                    ok = false;
                }
            }
            _ => {}
        }
        if let Some(v) = version {
            ok &= key_in_release(c, &path, key, v);
        }
        out.insert(key.clone(), text);
    }
    if ports.len() > 1 {
        for i in 0..ports.len() {
            for j in i + 1..ports.len() {
                if ports[i].1 == ports[j].1 {
                    let (a, b) = (ports[i].0, ports[j].0);
                    c.error(
                        &["config", b],
                        format!("{b} and {a} are both {}", ports[j].1),
                        "each port must be distinct on the JobManager host; the guide uses rpc 6123 and rest 8082",
                    );
                    ok = false;
                }
            }
        }
    }
    let port_of = |k: &str, d: u16| ports.iter().find(|(n, _)| *n == k).map_or(d, |(_, p)| *p);
    let rpc = port_of("jobmanager.rpc.port", DEFAULT_RPC_PORT);
    let rest = port_of("rest.port", DEFAULT_REST_PORT);
    if rpc == rest && ok {
        // One of them is set and the other is its default: point at the one that is set.
        let (set, default) = if ports.iter().any(|(n, _)| *n == "rest.port") {
            ("rest.port", "jobmanager.rpc.port")
        } else {
            ("jobmanager.rpc.port", "rest.port")
        };
        c.error(
            &["config", set],
            format!("{set} is {rpc}, the port {default} takes by default"),
            format!("set {set} to another port, or set {default} explicitly to a free one"),
        );
        ok = false;
    }
    let mem = |k: &str| {
        out.get(k)
            .and_then(|v| parse_memory(v).ok())
            .unwrap_or(1024 * MIB)
    };
    if let Some(v) = version {
        ok &= memory_model(c, &out, v);
    }
    let settings = Settings {
        rpc,
        rest,
        slots: out
            .get("taskmanager.numberOfTaskSlots")
            .and_then(|s| s.parse().ok())
            .unwrap_or(1),
        jm_heap: mem("jobmanager.heap.size"),
        tm_heap: mem("taskmanager.heap.size"),
    };
    (out, ok.then_some(settings))
}

/// The guide's memory keys: flinkup writes them under the name each release reads (see
/// [`memory_model`]), whatever the catalogue says of the old names.
pub(crate) const GUIDE_MEMORY_KEYS: &[&str] = &["taskmanager.heap.size", "jobmanager.heap.size"];

/// A `config:` key against the chosen release's catalogue: known, deprecated (flinkup writes
/// the key the release reads in its place), removed (an error naming the release that
/// removed it and what replaced it), or unknown (an error with the nearest key of that
/// release). Families a release leaves open pass.
fn key_in_release(c: &mut Checker, path: &[&str], key: &str, v: Version) -> bool {
    let Some(rel) = catalogue::release(v) else {
        return true;
    };
    // The guide's keys are written as the guide writes them while the release reads them.
    if GUIDE_MEMORY_KEYS.contains(&key) || (crate::inventory::is_guide_key(key) && rel.reads(key)) {
        return true;
    }
    if let Some(new) = rel.replaced(key) {
        c.warn(
            path,
            format!(
                "`{key}` is deprecated in Flink {}: flinkup writes it as `{new}`",
                rel.name()
            ),
            Some(format!("write `{new}` instead")),
        );
        return true;
    }
    if let Some(k) = rel.get(key) {
        if k.deprecated {
            c.warn(
                path,
                format!("`{key}` is deprecated in Flink {}", rel.name()),
                Some(format!(
                    "it still works in {v}; Flink's release notes say what replaces it"
                )),
            );
        }
        return true;
    }
    if rel.reads(key) || catalogue::open_family(key) {
        return true;
    }
    if let Some((gone, by)) = catalogue::removed(v, key) {
        c.key_error(
            path,
            format!(
                "`{key}` was removed in Flink {}: Flink {v} ignores it",
                gone.name()
            ),
            match by {
                Some(b) => format!("use `{b}` instead"),
                None => format!(
                    "remove it; Flink {}'s release notes say what took its place",
                    gone.name()
                ),
            },
        );
        return false;
    }
    let near = suggest(key, rel.keys().map(|k| k.key));
    c.key_error(
        path,
        format!(
            "`{key}` is not a Flink {} configuration key: Flink ignores keys it does not know, so it would have no effect",
            rel.name()
        ),
        match near {
            Some(n) => format!("did you mean `{n}`?"),
            None => "check the key against Flink's configuration reference for this release".into(),
        },
    );
    false
}

/// What each version expects of the guide's memory keys: from 1.10 the TaskManager's memory
/// is `taskmanager.memory.*` (`taskmanager.heap.size` is deprecated there and means total
/// Flink memory), from 1.11 the JobManager's is `jobmanager.memory.*`. Deprecated keys are
/// warnings with their replacement; a TaskManager memory 1.10+ rejects at start is an error
/// with the numbers.
pub(crate) fn memory_model(c: &mut Checker, conf: &BTreeMap<String, String>, v: Version) -> bool {
    let at_least = |minor: u32| (v.major, v.minor) >= (1, minor);
    for (old, new, since) in [
        ("taskmanager.heap.size", "taskmanager.memory.flink.size", 10),
        ("jobmanager.heap.size", "jobmanager.memory.heap.size", 11),
    ] {
        if at_least(since) && conf.contains_key(old) {
            let status = match catalogue::removed(v, old) {
                Some((gone, _)) => format!("was removed in Flink {}", gone.name()),
                None => format!("is deprecated in Flink {v}"),
            };
            c.warn(
                &["config", old],
                format!("`{old}` {status}: flinkup writes it as `{new}`"),
                Some(format!("write `{new}` instead")),
            );
        }
    }
    if !at_least(10) {
        return true;
    }
    // Each setting as the inventory gives it, else the release's default from the catalogue.
    let rel = catalogue::release(v);
    let setting = |k: &str| {
        conf.get(k)
            .map(String::as_str)
            .or_else(|| rel.and_then(|r| r.default(k)))
    };
    let size_of = |k: &str, fallback: u64| {
        setting(k)
            .and_then(|t| parse_memory(t).ok())
            .unwrap_or(fallback)
    };
    let fraction_of = |k: &str, fallback: f64| {
        setting(k)
            .and_then(|f| f.trim().parse().ok())
            .unwrap_or(fallback)
    };
    let given = |k: &str| conf.get(k).and_then(|t| parse_memory(t).ok());
    let round = |b: u64| units::format_memory(b.div_ceil(64 * MIB) * 64 * MIB);
    // A process size is Flink's own memory plus JVM metaspace and overhead (a fraction of the
    // process, within its min and max), as Flink derives it.
    let jvm = |prefix: &str, size: u64| Process {
        size,
        meta: size_of(&format!("{prefix}.jvm-metaspace.size"), 256 * MIB),
        fraction: fraction_of(&format!("{prefix}.jvm-overhead.fraction"), 0.1),
        min: size_of(&format!("{prefix}.jvm-overhead.min"), 192 * MIB),
        max: size_of(&format!("{prefix}.jvm-overhead.max"), 1024 * MIB),
    };
    let mut ok = true;

    // The TaskManager: framework heap and off-heap, network and managed memory come out of
    // Flink memory, and what is left is the task heap, which must not be empty.
    let tm = if let Some(size) = given("taskmanager.memory.flink.size") {
        Some(("taskmanager.memory.flink.size", size, None))
    } else if let Some(size) = given("taskmanager.heap.size") {
        Some(("taskmanager.heap.size", size, None))
    } else {
        given("taskmanager.memory.process.size").map(|p| {
            let p = jvm("taskmanager.memory", p);
            ("taskmanager.memory.process.size", p.flink(), Some(p))
        })
    };
    if let Some((key, size, process)) = tm {
        let fraction = fraction_of("taskmanager.memory.managed.fraction", 0.4);
        let framework = size_of("taskmanager.memory.framework.heap.size", 128 * MIB)
            + size_of("taskmanager.memory.framework.off-heap.size", 128 * MIB);
        let network =
            ((size as f64 * fraction_of("taskmanager.memory.network.fraction", 0.1)) as u64).clamp(
                size_of("taskmanager.memory.network.min", 64 * MIB),
                size_of("taskmanager.memory.network.max", 1024 * MIB),
            );
        let managed = (size as f64 * fraction) as u64;
        let taken = framework + network + managed;
        if taken >= size {
            let need = ((framework + network) as f64 / (1.0 - fraction)).ceil() as u64 + 64 * MIB;
            let (given_text, need) = told(size, process.as_ref(), need);
            c.error(
                &["config", key],
                format!(
                    "{key} {given_text} is too small for Flink {v}'s memory model: framework heap and off-heap {} + network {} + managed {} ({fraction} × {}) = {} leave no task heap, and the TaskManager refuses to start",
                    mb(framework),
                    mb(network),
                    mb(managed),
                    mb(size),
                    mb(taken)
                ),
                format!("give it at least {}, e.g. {key}: {}", round(need), round(need)),
            );
            ok = false;
        }
    }

    // The JobManager (1.11 on): its heap is what Flink memory leaves after off-heap memory.
    if at_least(11) && given("jobmanager.memory.heap.size").is_none() {
        let jm = if let Some(size) = given("jobmanager.memory.flink.size") {
            Some(("jobmanager.memory.flink.size", size, None))
        } else {
            given("jobmanager.memory.process.size").map(|p| {
                let p = jvm("jobmanager.memory", p);
                ("jobmanager.memory.process.size", p.flink(), Some(p))
            })
        };
        if let Some((key, size, process)) = jm {
            let off_heap = size_of("jobmanager.memory.off-heap.size", 128 * MIB);
            if size <= off_heap {
                // A heap of at least 128m beside the off-heap memory.
                let need = off_heap + 128 * MIB;
                let (given_text, need) = told(size, process.as_ref(), need);
                c.error(
                    &["config", key],
                    format!(
                        "{key} {given_text} is too small for Flink {v}'s memory model: off-heap memory {} leaves no JVM heap, and the JobManager refuses to start",
                        mb(off_heap)
                    ),
                    format!("give it at least {}, e.g. {key}: {}", round(need), round(need)),
                );
                ok = false;
            }
        }
    }
    ok
}

fn mb(b: u64) -> String {
    format!("{:.1}m", b as f64 / MIB as f64)
}

/// A process size as Flink splits it: JVM metaspace and overhead, the rest Flink memory.
struct Process {
    size: u64,
    meta: u64,
    fraction: f64,
    min: u64,
    max: u64,
}

impl Process {
    fn jvm(&self) -> u64 {
        self.meta + ((self.size as f64 * self.fraction) as u64).clamp(self.min, self.max)
    }

    fn flink(&self) -> u64 {
        self.size.saturating_sub(self.jvm())
    }

    /// The process size that leaves `flink` of Flink memory.
    fn for_flink(&self, flink: u64) -> u64 {
        let base = flink + self.meta;
        base + ((base as f64 * self.fraction / (1.0 - self.fraction)) as u64)
            .clamp(self.min, self.max)
    }
}

/// A size found too small, in words, and the size to suggest for `need` of Flink memory: a
/// process size shows what JVM metaspace and overhead took from it.
fn told(size: u64, process: Option<&Process>, need: u64) -> (String, u64) {
    match process {
        Some(p) => (
            format!(
                "{} (less JVM metaspace and overhead {}: {} of Flink memory)",
                mb(p.size),
                mb(p.jvm()),
                mb(size)
            ),
            p.for_flink(need),
        ),
        None => (mb(size), need),
    }
}

pub(crate) fn as_int(v: &Scalar) -> Option<i64> {
    match v {
        Scalar::Int(i) => Some(*i),
        Scalar::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}
