//! Every configuration key of every Flink minor release flinkup knows, read from the releases'
//! own jars by `tools/catalogue/generate.sh` (data in `catalogue/<minor>.tsv`, embedded here):
//! its type, its default, whether the release deprecates it, and the older keys it still
//! reads in its place. Validation asks it whether a key exists in the chosen release, was
//! removed (and for what), or is deprecated; defaults flinkup reasons with come from here.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::inventory::Version;

/// Each release's generated files, oldest first: its keys (`<minor>.tsv`) and the
/// configuration file it ships (`<minor>.conf`).
macro_rules! release_files {
    ($(($ma:literal, $mi:literal, $name:literal)),* $(,)?) => {
        &[$(($ma, $mi, include_str!(concat!("catalogue/", $name, ".tsv")),
             include_str!(concat!("catalogue/", $name, ".conf")))),*]
    };
}

const DATA: &[(u32, u32, &str, &str)] = release_files![
    (1, 9, "1.9"),
    (1, 10, "1.10"),
    (1, 11, "1.11"),
    (1, 12, "1.12"),
    (1, 13, "1.13"),
    (1, 14, "1.14"),
    (1, 15, "1.15"),
    (1, 16, "1.16"),
    (1, 17, "1.17"),
    (1, 18, "1.18"),
    (1, 19, "1.19"),
    (1, 20, "1.20"),
    (2, 0, "2.0"),
    (2, 1, "2.1"),
    (2, 2, "2.2"),
    (2, 3, "2.3"),
];

/// One configuration key as a release defines it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub key: &'static str,
    /// Its value type (`Integer`, `MemorySize`, `Duration`, …); empty where 1.9 does not say.
    pub ty: &'static str,
    /// Its default as written in a configuration file; None when it has none.
    pub default: Option<&'static str>,
    pub deprecated: bool,
    /// Older keys the release reads when this one is not set: (key, deprecated).
    pub fallbacks: Vec<(&'static str, bool)>,
}

/// One minor release's keys.
#[derive(Debug)]
pub struct Release {
    pub major: u32,
    pub minor: u32,
    /// The release the keys were read from (`1.9.3`).
    pub version: &'static str,
    /// The oldest Java it runs on: the class-file level of its flink-dist jar.
    pub java_min: u32,
    /// Its shipped configuration carries the JVM module options Java 17 needs (1.18 on).
    pub ships_module_options: bool,
    keys: BTreeMap<&'static str, Key>,
    /// Each fallback key, and the key that reads it.
    fallback_of: BTreeMap<&'static str, &'static str>,
}

impl Release {
    pub fn get(&self, key: &str) -> Option<&Key> {
        self.keys.get(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &Key> {
        self.keys.values()
    }

    /// The key this release reads in place of `key`, when `key` is one of its fallbacks.
    pub fn read_as(&self, key: &str) -> Option<&'static str> {
        self.fallback_of.get(key).copied()
    }

    /// The key this release reads in place of `key` when it deprecates `key` as that key's
    /// fallback: the key to write instead.
    pub fn replaced(&self, key: &str) -> Option<&'static str> {
        let new = self.read_as(key)?;
        self.get(new)?
            .fallbacks
            .iter()
            .any(|(k, deprecated)| *k == key && *deprecated)
            .then_some(new)
    }

    /// Whether the release reads `key` at all (as a key or as another key's fallback).
    pub fn reads(&self, key: &str) -> bool {
        self.keys.contains_key(key) || self.fallback_of.contains_key(key)
    }

    /// A key's default in this release, as written in a configuration file.
    pub fn default(&self, key: &str) -> Option<&'static str> {
        self.get(key).and_then(|k| k.default)
    }

    /// The Java feature releases this release runs on: from the catalogue's `java_min` to the
    /// newest Java it is known to run on. That end is not in a release's files: it comes from
    /// Flink's release notes (Java 17 from 1.18, Java 21 from 1.19) and, for 1.9–1.17, from
    /// runs on Java 17 here with the module options flinkup adds (see `needs_jdk_opens`).
    pub fn java_range(&self) -> (u32, u32) {
        let max = if (self.major, self.minor) >= (1, 19) {
            21
        } else {
            17
        };
        (self.java_min, max)
    }

    pub fn name(&self) -> String {
        format!("{}.{}", self.major, self.minor)
    }

    fn parse(major: u32, minor: u32, text: &'static str) -> Release {
        let mut version = "";
        let mut java_min = 8;
        let mut keys = BTreeMap::new();
        let mut fallback_of = BTreeMap::new();
        for line in text.lines() {
            if let Some(head) = line.strip_prefix("# Flink ") {
                version = head.split(':').next().unwrap_or_default();
                continue;
            }
            if let Some(j) = line.strip_prefix("# java-min ") {
                java_min = j.trim().parse().unwrap_or(java_min);
                continue;
            }
            let f: Vec<&'static str> = line.split('\t').collect();
            if f.len() < 5 {
                continue;
            }
            let fallbacks: Vec<(&'static str, bool)> = f[4]
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| match s.strip_prefix('=') {
                    Some(k) => (k, false),
                    None => (s, true),
                })
                .collect();
            for (k, _) in &fallbacks {
                fallback_of.entry(*k).or_insert(f[0]);
            }
            keys.insert(
                f[0],
                Key {
                    key: f[0],
                    ty: f[1],
                    default: (!f[2].is_empty()).then_some(f[2]),
                    deprecated: f[3].contains('d'),
                    fallbacks,
                },
            );
        }
        Release {
            major,
            minor,
            version,
            java_min,
            ships_module_options: false,
            keys,
            fallback_of,
        }
    }
}

/// Every release in the catalogue, oldest first.
pub fn releases() -> &'static [Release] {
    static ALL: OnceLock<Vec<Release>> = OnceLock::new();
    ALL.get_or_init(|| {
        DATA.iter()
            .map(|(ma, mi, keys, conf)| Release {
                ships_module_options: parse_shipped(*ma, *mi, conf)
                    .iter()
                    .any(|(k, v)| k.starts_with("env.java.opts") && v.contains("--add-exports")),
                ..Release::parse(*ma, *mi, keys)
            })
            .collect()
    })
}

/// The catalogue's release of `v`'s minor line, if it has one.
pub fn release(v: Version) -> Option<&'static Release> {
    releases()
        .iter()
        .find(|r| (r.major, r.minor) == (v.major, v.minor))
}

/// The settings `v`'s release ships in its configuration file, in the file's order, as flat
/// keys (`config.yaml` of 1.19 on nests them); empty for a release the catalogue lacks.
pub fn shipped(v: Version) -> Vec<(String, String)> {
    DATA.iter()
        .find(|(ma, mi, _, _)| (*ma, *mi) == (v.major, v.minor))
        .map(|(ma, mi, _, text)| parse_shipped(*ma, *mi, text))
        .unwrap_or_default()
}

/// A release's shipped configuration file as flat keys, in the file's order.
fn parse_shipped(major: u32, minor: u32, text: &str) -> Vec<(String, String)> {
    if (major, minor) >= (1, 19) {
        let mut out = Vec::new();
        if let Ok(doc) = serde_yaml::from_str::<serde_yaml::Value>(text) {
            flatten("", &doc, &mut out);
        }
        return out;
    }
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Nested YAML maps as Flink reads them: `a: {b: 1}` is `a.b: 1`.
fn flatten(prefix: &str, v: &serde_yaml::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, v) in m {
                let k = match k {
                    serde_yaml::Value::String(s) => s.clone(),
                    other => serde_yaml::to_string(other)
                        .unwrap_or_default()
                        .trim()
                        .to_string(),
                };
                let key = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_yaml::Value::String(s) => out.push((prefix.to_string(), s.clone())),
        serde_yaml::Value::Null => out.push((prefix.to_string(), String::new())),
        other => out.push((
            prefix.to_string(),
            serde_yaml::to_string(other)
                .unwrap_or_default()
                .trim()
                .to_string(),
        )),
    }
}

/// The newest minor release the catalogue knows.
pub fn newest() -> &'static Release {
    releases().last().expect("the catalogue is not empty")
}

/// How a key removed before `v` ended: the first release that no longer reads it, and the key
/// that took its place there (the one that read it as a fallback last, when that one exists
/// in `v`).
pub fn removed(v: Version, key: &str) -> Option<(&'static Release, Option<&'static str>)> {
    let all = releases();
    let at = all
        .iter()
        .position(|r| (r.major, r.minor) == (v.major, v.minor))?;
    if all[at].reads(key) {
        return None;
    }
    let last = all[..at].iter().rposition(|r| r.reads(key))?;
    let gone = &all[last + 1];
    let now = &all[at];
    let replacement = all[..=last]
        .iter()
        .rev()
        .find_map(|r| r.read_as(key))
        .filter(|n| now.get(n).is_some());
    Some((gone, replacement))
}

/// Families whose keys a release leaves open: reporters and plugins name their own keys,
/// `env.*` is read by the scripts, file systems and other deployments bring their own.
pub const OPEN_FAMILIES: &[&str] = &[
    "metrics.reporter.",
    "env.",
    // Read by the scripts for the ZooKeeper quorum peer they start (`zookeeper.heap.mb`).
    "zookeeper.",
    "s3.",
    "s3a.",
    "fs.",
    "presto.",
    "hadoop.",
    "flink.hadoop.",
    "yarn.",
    "kubernetes.",
    "mesos.",
    "python.",
    "sql-client.",
    "state.backend.rocksdb.",
    "containerized.",
    "plugin.",
    "gs.",
    "azure.",
    "oss.",
];

/// Whether `key` belongs to a family the release leaves open.
pub fn open_family(key: &str) -> bool {
    OPEN_FAMILIES.iter().any(|f| key.starts_with(f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u32, minor: u32) -> Version {
        Version {
            major,
            minor,
            patch: 0,
        }
    }

    #[test]
    fn every_minor_from_1_9_to_2_3_is_there() {
        let names: Vec<String> = releases().iter().map(Release::name).collect();
        assert_eq!(names.first().map(String::as_str), Some("1.9"));
        assert_eq!(names.last().map(String::as_str), Some("2.3"));
        assert_eq!(names.len(), 16);
        for r in releases() {
            assert!(
                r.keys().count() > 300,
                "{} has {} keys",
                r.name(),
                r.keys().count()
            );
            assert!(r.version.starts_with(&r.name()), "{}", r.version);
            assert_eq!(r.default("taskmanager.numberOfTaskSlots"), Some("1"));
        }
    }

    #[test]
    fn java_ranges_come_from_the_releases_bytecode() {
        assert_eq!(release(v(1, 9)).unwrap().java_range(), (8, 17));
        assert_eq!(release(v(1, 20)).unwrap().java_range(), (8, 21));
        for minor in 0..=3 {
            assert_eq!(release(v(2, minor)).unwrap().java_range(), (11, 21));
        }
    }

    #[test]
    fn shipped_configuration_is_read_flat_from_both_formats() {
        let old = shipped(v(1, 11));
        assert!(old.contains(&(
            "jobmanager.execution.failover-strategy".into(),
            "region".into()
        )));
        let new = shipped(v(2, 2));
        assert!(new.contains(&("taskmanager.bind-host".into(), "localhost".into())));
        assert!(new
            .iter()
            .any(|(k, v)| k == "env.java.opts.all" && v.contains("--add-opens")));
        assert!(new
            .iter()
            .any(|(k, _)| k == "jobmanager.memory.process.size"));
    }

    #[test]
    fn removed_keys_name_the_release_that_removed_them() {
        let (gone, by) = removed(v(2, 3), "web.backpressure.refresh-interval").unwrap();
        assert_eq!((gone.name().as_str(), by), ("2.0", None));
        assert!(removed(v(1, 9), "rest.port").is_none());
        assert!(removed(v(1, 20), "taskmanager.heap.size").is_none());
    }

    #[test]
    fn renamed_keys_point_at_the_name_the_release_reads() {
        let r118 = release(v(1, 18)).unwrap();
        assert_eq!(r118.replaced("akka.ask.timeout"), Some("pekko.ask.timeout"));
        assert_eq!(r118.default("pekko.ask.timeout"), Some("10 s"));
        let r120 = release(v(1, 20)).unwrap();
        assert_eq!(
            r120.replaced("state.checkpoints.dir"),
            Some("execution.checkpointing.dir")
        );
        assert_eq!(
            release(v(1, 17)).unwrap().replaced("state.checkpoints.dir"),
            None
        );
        // Read in place of web.submit.enable since before 1.9, and still in 2.3.
        assert!(release(v(2, 3))
            .unwrap()
            .reads("jobmanager.web.submit.enable"));
    }
}
