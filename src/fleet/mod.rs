//! The connected hosts of one run, by [`HostId`]: connecting, bounded per-host work that
//! keeps each host's error typed, and the deploy lock on the coordinating host.

pub mod history;
pub mod lock;

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};

pub use crate::diagnostic::HostId;
use crate::error::{Error, HostFailure, Result};
use crate::inventory::Host;
use crate::remote::{ConnectOptions, Remote};

/// Open connections, each reached by its host's id.
pub struct Fleet {
    remotes: BTreeMap<HostId, Remote>,
    /// How many hosts are worked on at once, in every per-host loop.
    pub concurrency: usize,
}

/// Runs `f` for every item, at most `concurrency` at once, and returns each item's result in
/// the input order.
pub async fn bounded<I, T, F, Fut>(items: Vec<I>, concurrency: usize, f: F) -> Vec<T>
where
    F: Fn(I) -> Fut,
    Fut: Future<Output = T>,
{
    let mut out: Vec<(usize, T)> = stream::iter(items.into_iter().enumerate())
        .map(|(i, item)| {
            let fut = f(item);
            async move { (i, fut.await) }
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, t)| t).collect()
}

impl Fleet {
    /// Connects to every host; any failure closes the others and names each unreachable host
    /// with ssh's reason, before anything is changed.
    pub async fn connect(
        hosts: &[&Host],
        opts: &ConnectOptions,
        concurrency: usize,
    ) -> Result<Fleet> {
        let (fleet, failures) = Fleet::connect_lenient(hosts, opts, concurrency).await;
        if failures.is_empty() {
            return Ok(fleet);
        }
        fleet.close().await;
        Err(Error::Hosts {
            what: "cannot be reached".into(),
            failures,
            total: hosts.len(),
            after: "Fix the connection and run again; nothing was changed.".into(),
        })
    }

    /// Connects to every host it can; the unreachable ones are returned as failures.
    pub async fn connect_lenient(
        hosts: &[&Host],
        opts: &ConnectOptions,
        concurrency: usize,
    ) -> (Fleet, Vec<HostFailure>) {
        let results = bounded(hosts.to_vec(), concurrency, |h| async move {
            (HostId::of(h), Remote::connect(h, opts).await)
        })
        .await;
        let mut remotes = BTreeMap::new();
        let mut failures = Vec::new();
        for (id, r) in results {
            match r {
                Ok(remote) => {
                    remotes.insert(id, remote);
                }
                Err(error) => failures.push(HostFailure { host: id, error }),
            }
        }
        (
            Fleet {
                remotes,
                concurrency: concurrency.max(1),
            },
            failures,
        )
    }

    /// A fleet of already open connections (tests, local runs).
    pub fn from_remotes(remotes: BTreeMap<HostId, Remote>, concurrency: usize) -> Fleet {
        Fleet {
            remotes,
            concurrency: concurrency.max(1),
        }
    }

    /// Adds the connections of another fleet (hosts already here are kept).
    pub fn merge(&mut self, other: Fleet) {
        for (id, r) in other.remotes {
            self.remotes.entry(id).or_insert(r);
        }
    }

    pub fn get(&self, id: &HostId) -> Result<&Remote> {
        self.remotes.get(id).ok_or_else(|| {
            Error::Failed(format!(
                "{id} is not connected: the plan names a host this run did not reach"
            ))
        })
    }

    pub fn has(&self, id: &HostId) -> bool {
        self.remotes.contains_key(id)
    }

    /// Runs `f` on each host, bounded by the fleet's concurrency; per-host results keep their
    /// type and come back in `ids` order.
    pub async fn for_each<'a, T, F, Fut>(&'a self, ids: &[HostId], f: F) -> Vec<(HostId, Result<T>)>
    where
        F: Fn(HostId, &'a Remote) -> Fut,
        Fut: Future<Output = Result<T>> + 'a,
    {
        let f = &f;
        bounded(ids.to_vec(), self.concurrency, |id| async move {
            let r = match self.remotes.get(&id) {
                Some(remote) => f(id.clone(), remote).await,
                None => Err(Error::Failed(format!("{id} is not connected"))),
            };
            (id, r)
        })
        .await
    }

    pub async fn close(self) {
        for (_, r) in self.remotes {
            r.close().await;
        }
    }
}

/// How long to wait for ssh to connect before calling a host unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
