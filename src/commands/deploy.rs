//! `flinkup deploy` and its preview (`plan`, `deploy --dry-run`): facts, fetch, plan,
//! confirmation, apply, verification.

use super::{
    artifact_state, cancel_on_ctrl_c, connect_recorded, execute, fornaxee_bundle, gather,
    java_runtime, locked, print_plan, reporter, smoke_job, Execute,
};
use crate::artifact::{self, FetchOptions};
use crate::cli::{Day2Args, FetchArgs, Only, OutputArgs, RemoteArgs, RunArgs};
use crate::components::flink::FlinkFactsOf;
use crate::components::flink::{self, render::Renderer};
use crate::components::java::JdkAtHand;
use crate::compose::{self, BundleAtHand, DeployAsk};
use crate::error::{exit, Error, Result};
use crate::facts::Facts;
use crate::inventory::Loaded;
use crate::plan::{Plan, PlanMode};

#[allow(clippy::too_many_arguments)]
fn build(
    loaded: &Loaded,
    facts: &Facts,
    art: flink::plan::ArtifactState,
    bundle: Option<&BundleAtHand>,
    jdk: Option<&JdkAtHand>,
    only: Option<Only>,
    day2: &Day2Args,
    renderer: &Renderer,
) -> Result<Plan> {
    compose::deploy(
        loaded,
        facts,
        DeployAsk {
            jdk,
            mode: PlanMode::Live,
            art,
            bundle,
            only,
            day2,
            smoke: smoke_job(&loaded.cluster, None, None)?,
            renderer,
        },
    )
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
    let facts = gather(c, &fleet, bundle.as_ref(), &removed).await;
    fleet.close().await;
    let facts = facts?;
    let needed = crate::components::java::archive_needed(c, &facts);
    let jdk = java_runtime(c, fetch, rep.as_ref(), needed, true).await?;
    let plan = build(
        loaded,
        &facts,
        artifact_state(c, fetch),
        bundle.as_ref(),
        jdk.as_ref(),
        only,
        day2,
        &Renderer::new(c)?,
    )?;
    print_plan(&plan, json);
    Ok(exit::OK)
}

/// `command`: how the history names the run (`deploy`, `tls rotate`).
pub async fn deploy(
    loaded: &Loaded,
    command: &'static str,
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
    // The release on this machine is hashed while the hosts are probed; a run whose hosts all
    // hold it leaves the result unread.
    if let Some(copy) = artifact::local_copy(&c.artifact, &opts.cache_dir) {
        artifact::ahead::start(&copy, compose::may_relay(c));
    }
    let work = async {
        let fleet = &fleet;
        let cancel = cancel_on_ctrl_c(rep.clone());
        let facts = gather(c, fleet, bundle.as_ref(), &removed).await?;
        let mut art = artifact_state(c, fetch);
        // Flink's files are rendered once, for both plans.
        let renderer = Renderer::new(c)?;
        // The Java runtime's archive is read before planning: which Java runs Flink decides
        // its options, and a runtime outside the release's range refuses the run.
        let needed = crate::components::java::archive_needed(c, &facts);
        let jdk = java_runtime(c, fetch, rep.as_ref(), needed, false).await?;
        // Refusals that facts alone show come before any download.
        let first = build(
            loaded,
            &facts,
            art.clone(),
            bundle.as_ref(),
            jdk.as_ref(),
            run.only,
            day2,
            &renderer,
        )?;
        let refusals = first.refusals();
        if !refusals.is_empty() {
            print_plan(&first, output.json);
            return Err(Error::Refused(refusals));
        }
        // Fetch only when some host lacks the release: a no-op re-run never touches the network.
        let uploads_tarball = first
            .actions()
            .any(|a| a.sends() == Some(c.artifact.file_name.as_str()));
        // Hosts that fetch the release themselves need only its checksum from here: every
        // host with `direct`; with `auto`, when every host that lacks it reaches its URLs.
        let lacking: Vec<_> = facts
            .hosts
            .values()
            .map(|f| f.flink())
            .filter(|f| !f.release_present)
            .collect();
        let direct = match c.distribution {
            crate::inventory::Distribution::Direct => true,
            crate::inventory::Distribution::Auto => {
                !lacking.is_empty() && lacking.iter().all(|f| f.url_reach.is_some())
            }
            _ => false,
        };
        if direct && !lacking.is_empty() {
            // The hosts fetch it: only its checksum is needed here.
            art.sha512 = Some(artifact::expected_sha512(&c.artifact, &opts, rep.as_ref()).await?);
        } else if uploads_tarball || !lacking.is_empty() {
            let got = artifact::fetch(&c.artifact, &opts, rep.as_ref()).await?;
            art.local = Some(got.path.display().to_string());
            art.sha512 = Some(got.sha512.clone());
            art.size = Some(got.size);
            art.cached = Some(true);
        }
        let plan = build(
            loaded,
            &facts,
            art,
            bundle.as_ref(),
            jdk.as_ref(),
            run.only,
            day2,
            &renderer,
        )?;
        let how = Execute {
            cluster: c,
            command,
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
    let r = locked(c, &fleet, command, work).await;
    fleet.close().await;
    r
}
