//! The flink-conf.yaml keys Flink documents, so a mistyped key is caught before it is deployed.
//!
//! Flink ignores keys it does not know, which turns `taskmanager.numberOfTaskSlot` into a
//! cluster that silently runs with one slot. The table covers the families an operator sets
//! by hand; families whose keys are open-ended (metric reporters, security, akka…) pass.

use crate::inventory::{suggest, Version};

/// Keys documented for Flink 1.9 in the families the table covers.
const KEYS_1_9: &[&str] = &[
    "jobmanager.rpc.address",
    "jobmanager.rpc.port",
    "jobmanager.heap.size",
    "jobmanager.archive.fs.dir",
    "jobmanager.execution.attempts-history-size",
    "jobmanager.execution.failover-strategy",
    "jobmanager.web.submit.enable",
    "jobmanager.web.upload.dir",
    "jobmanager.web.log.path",
    "jobmanager.web.address",
    "jobmanager.web.port",
    "jobmanager.scheduler.partition.force-release-on-consumption",
    "taskmanager.heap.size",
    "taskmanager.numberOfTaskSlots",
    "taskmanager.host",
    "taskmanager.rpc.port",
    "taskmanager.data.port",
    "taskmanager.data.ssl.enabled",
    "taskmanager.jvm-exit-on-oom",
    "taskmanager.exit-on-fatal-akka-error",
    "taskmanager.log.path",
    "taskmanager.tmp.dirs",
    "taskmanager.memory.size",
    "taskmanager.memory.fraction",
    "taskmanager.memory.off-heap",
    "taskmanager.memory.preallocate",
    "taskmanager.memory.segment-size",
    "taskmanager.network.memory.fraction",
    "taskmanager.network.memory.min",
    "taskmanager.network.memory.max",
    "taskmanager.network.numberOfBuffers",
    "taskmanager.network.memory.buffers-per-channel",
    "taskmanager.network.memory.floating-buffers-per-gate",
    "taskmanager.network.request-backoff.initial",
    "taskmanager.network.request-backoff.max",
    "taskmanager.network.detailed-metrics",
    "taskmanager.network.credit-model",
    "taskmanager.network.netty.server.numThreads",
    "taskmanager.network.netty.client.numThreads",
    "taskmanager.network.netty.num-arenas",
    "taskmanager.network.netty.sendReceiveBufferSize",
    "taskmanager.network.netty.transport",
    "taskmanager.network.netty.client.connectTimeoutSec",
    "taskmanager.registration.timeout",
    "taskmanager.registration.initial-backoff",
    "taskmanager.registration.max-backoff",
    "taskmanager.registration.refused-backoff",
    "taskmanager.debug.memory.log",
    "taskmanager.debug.memory.log-interval",
    "taskmanager.runtime.hashjoin-bloom-filters",
    "taskmanager.runtime.max-fan",
    "taskmanager.runtime.sort-spilling-threshold",
    "taskmanager.task.cancellation.interval",
    "taskmanager.task.cancellation.timeout",
    "taskmanager.task.cancellation.timers.timeout",
    "taskmanager.state.local.root-dirs",
    "taskmanager.network.bind-policy",
    "parallelism.default",
    "rest.address",
    "rest.port",
    "rest.bind-address",
    "rest.bind-port",
    "rest.server.max-content-length",
    "rest.client.max-content-length",
    "rest.connection-timeout",
    "rest.idleness-timeout",
    "rest.await-leader-timeout",
    "rest.retry.max-attempts",
    "rest.retry.delay",
    "rest.server.numThreads",
    "rest.server.thread-priority",
    "web.submit.enable",
    "web.upload.dir",
    "web.tmpdir",
    "web.refresh-interval",
    "web.timeout",
    "web.checkpoints.history",
    "web.history",
    "web.log.path",
    "web.backpressure.cleanup-interval",
    "web.backpressure.delay-between-samples",
    "web.backpressure.num-samples",
    "web.backpressure.refresh-interval",
    "web.access-control-allow-origin",
    "web.ssl.enabled",
    "state.backend",
    "state.backend.async",
    "state.backend.incremental",
    "state.backend.local-recovery",
    "state.backend.fs.memory-threshold",
    "state.backend.rocksdb.localdir",
    "state.backend.rocksdb.timer-service.factory",
    "state.backend.rocksdb.checkpoint.transfer.thread.num",
    "state.backend.rocksdb.ttl.compaction.filter.enabled",
    "state.backend.rocksdb.predefined-options",
    "state.backend.rocksdb.options-factory",
    "state.checkpoints.dir",
    "state.checkpoints.num-retained",
    "state.savepoints.dir",
    "high-availability",
    "high-availability.cluster-id",
    "high-availability.storageDir",
    "high-availability.jobmanager.port",
    "high-availability.zookeeper.quorum",
    "high-availability.zookeeper.path.root",
    "high-availability.zookeeper.path.latch",
    "high-availability.zookeeper.path.leader",
    "high-availability.zookeeper.path.jobgraphs",
    "high-availability.zookeeper.path.checkpoints",
    "high-availability.zookeeper.path.checkpoint-counter",
    "high-availability.zookeeper.path.mesos-workers",
    "high-availability.zookeeper.path.running-registry",
    "high-availability.zookeeper.client.session-timeout",
    "high-availability.zookeeper.client.connection-timeout",
    "high-availability.zookeeper.client.retry-wait",
    "high-availability.zookeeper.client.max-retry-attempts",
    "high-availability.zookeeper.client.acl",
    "env.java.home",
    "env.java.opts",
    "env.java.opts.jobmanager",
    "env.java.opts.taskmanager",
    "env.java.opts.historyserver",
    "env.java.opts.client",
    "env.log.dir",
    "env.log.max",
    "env.pid.dir",
    "env.ssh.opts",
    "env.hadoop.conf.dir",
    "env.yarn.conf.dir",
    "env.hbase.conf.dir",
];

/// Keys 1.10 and 1.11 added with the new memory model (FLIP-49, FLIP-116).
const KEYS_1_10: &[&str] = &[
    "taskmanager.memory.process.size",
    "taskmanager.memory.flink.size",
    "taskmanager.memory.managed.size",
    "taskmanager.memory.managed.fraction",
    "taskmanager.memory.network.min",
    "taskmanager.memory.network.max",
    "taskmanager.memory.network.fraction",
    "taskmanager.memory.task.heap.size",
    "taskmanager.memory.task.off-heap.size",
    "taskmanager.memory.framework.heap.size",
    "taskmanager.memory.framework.off-heap.size",
    "taskmanager.memory.jvm-metaspace.size",
    "taskmanager.memory.jvm-overhead.min",
    "taskmanager.memory.jvm-overhead.max",
    "taskmanager.memory.jvm-overhead.fraction",
    "state.backend.rocksdb.memory.managed",
];

const KEYS_1_11: &[&str] = &[
    "jobmanager.memory.process.size",
    "jobmanager.memory.flink.size",
    "jobmanager.memory.heap.size",
    "jobmanager.memory.off-heap.size",
    "jobmanager.memory.jvm-metaspace.size",
    "jobmanager.memory.jvm-overhead.min",
    "jobmanager.memory.jvm-overhead.max",
    "jobmanager.memory.jvm-overhead.fraction",
];

/// Families the table lists key by key; a key in one of them that the table lacks is a typo.
const CHECKED_FAMILIES: &[&str] = &[
    "jobmanager.",
    "taskmanager.",
    "rest.",
    "web.",
    "state.",
    "high-availability",
    "env.",
    "parallelism.",
];

/// Families whose keys are open-ended or outside the table; they pass unchecked.
const OPEN_FAMILIES: &[&str] = &[
    "metrics.",
    "security.",
    "akka.",
    "blob.",
    "fs.",
    "io.",
    "classloader.",
    "restart-strategy",
    "cluster.",
    "historyserver.",
    "yarn.",
    "mesos.",
    "resourcemanager.",
    "slot.",
    "heartbeat.",
    "queryable-state.",
    "query.",
    "zookeeper.",
    "s3.",
    "execution.",
    "pipeline.",
    "table.",
    "containerized.",
    "kubernetes.",
    "python.",
    "jobstore.",
    "client.",
    "recovery.",
    "env.java.opts.",
];

pub fn documented(version: Version) -> impl Iterator<Item = &'static str> {
    let v10 = (version.major, version.minor) >= (1, 10);
    let v11 = (version.major, version.minor) >= (1, 11);
    KEYS_1_9
        .iter()
        .chain(KEYS_1_10.iter().filter(move |_| v10))
        .chain(KEYS_1_11.iter().filter(move |_| v11))
        .copied()
}

/// What the table says of a key.
#[derive(Debug, PartialEq, Eq)]
pub enum KeyCheck {
    Known,
    /// Not in the table; the nearest documented key, if one is close.
    Unknown(Option<&'static str>),
}

pub fn check(version: Version, key: &str) -> KeyCheck {
    if documented(version).any(|k| k == key) {
        return KeyCheck::Known;
    }
    let checked = CHECKED_FAMILIES.iter().any(|f| key.starts_with(f));
    if !checked && OPEN_FAMILIES.iter().any(|f| key.starts_with(f)) {
        return KeyCheck::Known;
    }
    if key.starts_with("env.java.opts.") {
        return KeyCheck::Known;
    }
    KeyCheck::Unknown(suggest(key, documented(version)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const V19: Version = Version {
        major: 1,
        minor: 9,
        patch: 2,
    };

    #[test]
    fn typo_gets_a_suggestion() {
        assert_eq!(
            check(V19, "taskmanager.numberOfTaskSlot"),
            KeyCheck::Unknown(Some("taskmanager.numberOfTaskSlots"))
        );
        assert_eq!(check(V19, "rest.port"), KeyCheck::Known);
        assert_eq!(check(V19, "metrics.reporter.jmx.class"), KeyCheck::Known);
        assert_eq!(check(V19, "completely.unknown"), KeyCheck::Unknown(None));
    }

    #[test]
    fn newer_keys_only_for_newer_versions() {
        let v110 = Version {
            major: 1,
            minor: 10,
            patch: 0,
        };
        assert_eq!(
            check(v110, "taskmanager.memory.process.size"),
            KeyCheck::Known
        );
        assert!(matches!(
            check(V19, "taskmanager.memory.process.size"),
            KeyCheck::Unknown(_)
        ));
    }
}
