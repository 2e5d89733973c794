//! `flinkup deploy` and its preview (`plan`, `deploy --dry-run`): facts, fetch, plan,
//! confirmation, apply, verification.

use super::{
    artifact_state, cancel_on_ctrl_c, connect_recorded, execute, fornaxee_bundle, fornaxee_inputs,
    gather, locked, print_plan, reporter, smoke_job, warnings, Asks, Execute, FxBundle,
};
use crate::artifact::{self, FetchOptions};
use crate::cli::{Day2Args, FetchArgs, Only, OutputArgs, RemoteArgs, RunArgs};
use crate::components::flink::{self, render::Renderer};
use crate::components::fornaxee;
use crate::error::{exit, Error, Result};
use crate::facts::Facts;
use crate::facts::SshPeer;
use crate::fleet::HostId;
use crate::inventory::Loaded;
use crate::inventory::{Connection, Distribution};
use crate::plan::{distribute, Plan, PlanMode};

fn build(
    loaded: &Loaded,
    facts: &Facts,
    art: flink::plan::ArtifactState,
    bundle: Option<&FxBundle>,
    only: Option<Only>,
    day2: &Day2Args,
) -> Result<Plan> {
    let c = &loaded.cluster;
    let mut plan = flink::plan::deploy(
        &flink::plan::Inputs {
            cluster: c,
            facts,
            mode: PlanMode::Live,
            artifact: art,
            warnings: warnings(loaded),
            jars: bundle.map(|b| b.bundle.jars.clone()).unwrap_or_default(),
            smoke: Some(smoke_job(c, None, None)?),
            day2: day2.into(),
            record: Some(record_meta(c)),
        },
        &Renderer::new(c)?,
    )?;
    if let Some(fx) = fornaxee_inputs(c, facts, bundle) {
        fornaxee::plan::deploy(&fx, &mut plan)?;
    }
    if day2.no_start {
        // Staging: every component's starts, stops and checks are left out.
        plan.keep_installation();
    }
    if let Some(o) = only {
        plan.only(o.component());
    }
    relay(c, facts, &mut plan);
    Ok(plan)
}

/// With relay distribution, the archives several hosts get are relayed host to host.
pub(super) fn relay(c: &crate::inventory::Cluster, facts: &Facts, plan: &mut Plan) {
    if c.distribution == Distribution::Relay {
        distribute::relay(plan, &relay_network(c, facts));
    }
}

/// The hosts a relay may use: every host flinkup reaches over ssh, the coordinating host
/// first (in cluster-script mode it already logs in to the TaskManager hosts). A host without
/// an ssh client only receives.
fn relay_network(c: &crate::inventory::Cluster, facts: &Facts) -> distribute::Network {
    let coordinator = HostId::of(c.jobmanager());
    let hosts: Vec<distribute::NetHost> = c
        .hosts
        .iter()
        .filter(|h| h.connection == Connection::Ssh)
        .map(|h| {
            let id = HostId::of(h);
            let f = facts.host(&id);
            distribute::NetHost {
                ssh: SshPeer::of(h, facts.route(&id), h.user.clone()),
                can_send: !f.gathered || f.machine.ssh_client,
                trusts: if id == coordinator {
                    facts
                        .peers
                        .iter()
                        .filter(|(_, p)| p.trusted)
                        .map(|(h, _)| h.clone())
                        .collect()
                } else {
                    Vec::new()
                },
            }
        })
        .collect();
    distribute::Network::new(hosts, c.relay_fanout)
}

/// Who deploys, when, and the inventory's hash, for the record deploy leaves.
fn record_meta(c: &crate::inventory::Cluster) -> flink::record::RecordMeta {
    use sha2::Digest;
    let me = crate::fleet::lock::Owner::me("deploy");
    let bytes = std::fs::read(&c.source).unwrap_or_default();
    flink::record::RecordMeta {
        inventory_sha256: hex::encode(sha2::Sha256::digest(&bytes)),
        at: me.started,
        by: format!("{}@{}", me.user, me.machine),
    }
}

/// The plan deploy would execute now, from the hosts' facts; changes nothing, takes no lock.
pub async fn preview(
    loaded: &Loaded,
    only: Option<Only>,
    day2: &Day2Args,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    json: bool,
) -> Result<i32> {
    let c = &loaded.cluster;
    let rep = reporter(true, json);
    let bundle = fornaxee_bundle(c, fetch, rep.as_ref(), true).await?;
    let (fleet, removed) = connect_recorded(c, remote).await?;
    let mut asks = Asks::of(bundle.as_ref(), c);
    asks.removed = removed;
    let facts = gather(c, &fleet, &asks).await;
    fleet.close().await;
    let plan = build(
        loaded,
        &facts?,
        artifact_state(c, fetch),
        bundle.as_ref(),
        only,
        day2,
    )?;
    print_plan(&plan, json);
    Ok(exit::OK)
}

pub async fn deploy(
    loaded: &Loaded,
    run: &RunArgs,
    day2: &Day2Args,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    let rep = reporter(output.quiet, output.json);
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    // The bundle is small and checked before any host is touched: a bad one refuses the run.
    let bundle = fornaxee_bundle(c, fetch, rep.as_ref(), false).await?;
    let (fleet, removed) = connect_recorded(c, remote).await?;
    let mut asks = Asks::of(bundle.as_ref(), c);
    asks.removed = removed;
    let work = async {
        let fleet = &fleet;
        let cancel = cancel_on_ctrl_c(rep.clone());
        let facts = gather(c, fleet, &asks).await?;
        let mut art = artifact_state(c, fetch);
        // Refusals that facts alone show come before any download.
        let first = build(loaded, &facts, art.clone(), bundle.as_ref(), run.only, day2)?;
        let refusals = first.refusals();
        if !refusals.is_empty() {
            print_plan(&first, output.json);
            return Err(Error::Refused(refusals));
        }
        // Fetch only when some host lacks the release: a no-op re-run never touches the network.
        let uploads_tarball = first
            .actions()
            .any(|a| a.sends() == Some(c.artifact.file_name.as_str()));
        if uploads_tarball || facts.hosts.values().any(|f| !f.flink.release_present) {
            let got = artifact::fetch(&c.artifact, &opts, rep.as_ref()).await?;
            art.local = Some(got.path.display().to_string());
            art.sha512 = Some(got.sha512.clone());
            art.size = Some(got.size);
            art.cached = Some(true);
        }
        let plan = build(loaded, &facts, art, bundle.as_ref(), run.only, day2)?;
        let how = Execute {
            command: "deploy",
            yes: run.yes,
            json: output.json,
            ask: true,
        };
        execute(&plan, how, fleet, rep.clone(), cancel).await?;
        crate::report::summary(format!(
            "{}: {}",
            c.name,
            if plan.is_noop() {
                "up to date and verified"
            } else {
                "deployed and verified"
            }
        ));
        Ok(exit::OK)
    };
    let r = locked(c, &fleet, "deploy", work).await;
    fleet.close().await;
    r
}
