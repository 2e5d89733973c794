//! `flinkup deploy` and its preview (`plan`, `deploy --dry-run`): facts, fetch, plan,
//! confirmation, apply, verification.

use super::{
    artifact_state, cancel_on_ctrl_c, connect, execute, gather, locked, print_plan, reporter,
    warnings, Execute,
};
use crate::artifact::{self, FetchOptions};
use crate::cli::{FetchArgs, OutputArgs, RemoteArgs};
use crate::components::flink::{self, render::Renderer};
use crate::error::{exit, Error, Result};
use crate::facts::Facts;
use crate::inventory::Loaded;
use crate::plan::{Plan, PlanMode};

fn build(loaded: &Loaded, facts: &Facts, art: flink::plan::ArtifactState) -> Result<Plan> {
    let c = &loaded.cluster;
    flink::plan::deploy(
        &flink::plan::Inputs {
            cluster: c,
            facts,
            mode: PlanMode::Live,
            artifact: art,
            warnings: warnings(loaded),
        },
        &Renderer::new(c)?,
    )
}

/// The plan deploy would execute now, from the hosts' facts; changes nothing, takes no lock.
pub async fn preview(
    loaded: &Loaded,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    json: bool,
) -> Result<i32> {
    let c = &loaded.cluster;
    let fleet = connect(c, remote).await?;
    let facts = gather(c, &fleet).await;
    fleet.close().await;
    let plan = build(loaded, &facts?, artifact_state(c, fetch))?;
    print_plan(&plan, json);
    Ok(exit::OK)
}

pub async fn deploy(
    loaded: &Loaded,
    yes: bool,
    fetch: &FetchArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    let rep = reporter(output.quiet, output.json);
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    let fleet = connect(c, remote).await?;
    let work = async {
        let fleet = &fleet;
        let cancel = cancel_on_ctrl_c(rep.clone());
        let facts = gather(c, fleet).await?;
        let mut art = artifact_state(c, fetch);
        // Refusals that facts alone show come before any download.
        let first = build(loaded, &facts, art.clone())?;
        let refusals = first.refusals();
        if !refusals.is_empty() {
            if !output.json {
                print_plan(&first, false);
            }
            return Err(Error::Refused(refusals));
        }
        // Fetch only when some host lacks the release: a no-op re-run never touches the network.
        if facts.hosts.values().any(|f| !f.flink.release_present) {
            let got = artifact::fetch(&c.artifact, &opts, rep.as_ref()).await?;
            art.local = Some(got.path.display().to_string());
            art.sha512 = Some(got.sha512.clone());
            art.size = Some(got.size);
            art.cached = Some(true);
        }
        let plan = build(loaded, &facts, art)?;
        let how = Execute {
            command: "deploy",
            yes,
            json: output.json,
            ask: true,
        };
        execute(&plan, how, fleet, rep.clone(), cancel).await?;
        if !output.json {
            println!(
                "{}: {}",
                c.name,
                if plan.is_noop() {
                    "up to date and verified"
                } else {
                    "deployed and verified"
                }
            );
        }
        Ok(exit::OK)
    };
    let r = locked(c, &fleet, "deploy", work).await;
    fleet.close().await;
    r
}
