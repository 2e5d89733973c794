//! Sizing advice from the deployment guide, computed from the configuration that will run.
//!
//! Network buffers: a TaskManager needs about slots-per-TM² × TMs × 4 buffers (the guide's
//! rule: 4 concurrent repartitions or broadcasts), each one memory segment (32 KiB default).
//! Flink 1.9 gives the network stack `fraction × TaskManager memory`, clamped to [min, max].

use crate::inventory::units::{human, parse_memory, KIB, MIB};
use crate::inventory::Cluster;

/// One line of advice, and whether it warns.
pub struct Note {
    pub text: String,
    pub warn: bool,
}

fn mem_key(c: &Cluster, keys: &[&str], default: u64) -> u64 {
    keys.iter()
        .find_map(|k| c.config.get(*k))
        .and_then(|v| parse_memory(v).ok())
        .unwrap_or(default)
}

pub fn notes(c: &Cluster) -> Vec<Note> {
    let mut out = Vec::new();
    let tms = c.taskmanager_count() as u64;
    let slots = u64::from(c.slots);
    let segment = mem_key(c, &["taskmanager.memory.segment-size"], 32 * KIB);
    let needed = slots * slots * tms * 4;
    let (configured, how) = if let Some(n) = c
        .config
        .get("taskmanager.network.numberOfBuffers")
        .and_then(|v| v.parse::<u64>().ok())
    {
        (n, "taskmanager.network.numberOfBuffers".to_string())
    } else {
        let fraction: f64 = [
            "taskmanager.network.memory.fraction",
            "taskmanager.memory.network.fraction",
        ]
        .iter()
        .find_map(|k| c.config.get(*k))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.1);
        let min = mem_key(
            c,
            &[
                "taskmanager.network.memory.min",
                "taskmanager.memory.network.min",
            ],
            64 * MIB,
        );
        let max = mem_key(
            c,
            &[
                "taskmanager.network.memory.max",
                "taskmanager.memory.network.max",
            ],
            1024 * MIB,
        );
        let raw = (c.taskmanager_heap as f64 * fraction) as u64;
        let bytes = raw.clamp(min, max.max(min));
        (
            bytes / segment.max(1),
            format!(
                "{} = {fraction} × {} TaskManager memory, within {}–{}",
                human(bytes),
                human(c.taskmanager_heap),
                human(min),
                human(max)
            ),
        )
    };
    let enough = configured >= needed;
    out.push(Note {
        text: format!(
            "network buffers per TaskManager: need {slots}² × {tms} TMs × 4 = {needed} ({} at {} segments); configured {configured} ({how}){}",
            human(needed * segment),
            human(segment),
            if enough {
                String::new()
            } else {
                format!(
                    " — too few: jobs fail with \"Insufficient number of network buffers\"; raise taskmanager.network.memory.min to at least {}",
                    human(needed * segment)
                )
            }
        ),
        warn: !enough,
    });
    for h in &c.hosts {
        if h.jobmanager && h.taskmanager {
            out.push(Note {
                text: format!(
                    "{} runs the JobManager and a TaskManager: {} of JVM heap on one machine",
                    h.name,
                    human(c.jobmanager_heap + c.taskmanager_heap)
                ),
                warn: false,
            });
        }
    }
    let parallelism: u64 = c
        .config
        .get("parallelism.default")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    if parallelism > c.total_slots() {
        out.push(Note {
            text: format!(
                "parallelism.default {parallelism} exceeds the cluster's {} slots: jobs using it cannot be scheduled",
                c.total_slots()
            ),
            warn: true,
        });
    }
    // Under the name the release reads (execution.checkpointing.dir from 1.20), set under
    // either name.
    let dir = super::render::written_as(c.version, "state.checkpoints.dir");
    if !c
        .config
        .keys()
        .any(|k| super::render::written_as(c.version, k) == dir)
    {
        out.push(Note {
            text: format!("{dir} is not set: checkpoints stay in JobManager memory and are lost with it; set a shared directory (hdfs://, s3://, NFS) for jobs that need to recover"),
            warn: false,
        });
    }
    out
}
