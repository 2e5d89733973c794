//! What flinkup manages, recorded on the JobManager host beside the lock
//! (`<install_dir>/.flinkup/managed.json`): the hosts and roles per component and how they
//! are reached, the releases installed, the inventory's hash, when and by whom. A host
//! dropped from the inventory is known from it, and `status` shows it.

use serde::{Deserialize, Serialize};

use crate::inventory::{Cluster, Host};

/// A host as recorded: enough to reach it again after it left the inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordHost {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    pub roles: Vec<String>,
}

impl RecordHost {
    /// Whether the record gives this host the daemon `role`.
    pub fn runs(&self, role: super::Role) -> bool {
        self.roles
            .iter()
            .any(|x| super::Role::parse(x) == Some(role))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub cluster: String,
    pub inventory: String,
    pub inventory_sha256: String,
    pub deployed_at: String,
    pub by: String,
    pub flink_version: String,
    pub hosts: Vec<RecordHost>,
    /// Release directories flinkup installed, oldest first.
    pub releases: Vec<String>,
    pub fornaxee: Option<String>,
}

/// Who deploys and from what, supplied by the command (the planner has no clock).
#[derive(Debug, Clone, Default)]
pub struct RecordMeta {
    pub inventory_sha256: String,
    pub at: String,
    pub by: String,
}

pub fn file(c: &Cluster) -> String {
    format!("{}/managed.json", c.state_dir())
}

/// The record a deploy of `c` leaves: every host with its roles, the releases so far.
pub fn of(c: &Cluster, meta: &RecordMeta, previous: Option<&Record>, release: &str) -> Record {
    let mut releases = previous.map(|p| p.releases.clone()).unwrap_or_default();
    releases.retain(|r| r != release);
    releases.push(release.to_string());
    Record {
        cluster: c.name.clone(),
        inventory: c.source.display().to_string(),
        inventory_sha256: meta.inventory_sha256.clone(),
        deployed_at: meta.at.clone(),
        by: meta.by.clone(),
        flink_version: c.version.to_string(),
        hosts: c
            .hosts
            .iter()
            .map(|h| RecordHost {
                name: h.name.clone(),
                address: h.address.clone(),
                port: h.port,
                user: h.user.clone(),
                roles: h
                    .roles()
                    .split(", ")
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect(),
            })
            .collect(),
        releases,
        fornaxee: c.fornaxee.as_ref().map(|f| f.version.clone()),
    }
}

/// A recorded host that left the inventory, reached with the inventory's ssh settings.
pub fn host(r: &RecordHost, template: &Host) -> Host {
    Host {
        name: r.name.clone(),
        address: r.address.clone(),
        user: r.user.clone().or_else(|| template.user.clone()),
        port: r.port,
        identity_file: template.identity_file.clone(),
        known_hosts: template.known_hosts,
        connection: template.connection,
        java_home: None,
        jobmanager: r.runs(super::Role::JobManager),
        taskmanager: r.runs(super::Role::TaskManager),
        fornaxee: false,
        zookeeper: false,
        supervisor: crate::inventory::Supervisor::Auto,
    }
}
