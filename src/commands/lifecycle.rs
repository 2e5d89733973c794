//! `flinkup start`, `stop`, `destroy` and `unlock`: each builds its plan from facts and runs
//! exactly it; `--dry-run` prints the plan and changes nothing.

use super::{cancel_on_ctrl_c, connect, execute, gather, locked, print_plan, reporter, Execute};
use crate::cli::{JobsArgs, OutputArgs, RemoteArgs, RunArgs};
use crate::components::flink;
use crate::compose;
use crate::error::{exit, Result};
use crate::inventory::Loaded;
use crate::plan::{Action, ComponentInfo, HostView, Plan, PlanMode, Stage};

pub use crate::compose::Verb;

pub async fn run(
    verb: Verb,
    loaded: &Loaded,
    run: &RunArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
    jobs: &JobsArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    let fleet = connect(c, remote).await?;
    if run.dry_run {
        let facts = gather(c, &fleet, None, &Default::default()).await;
        fleet.close().await;
        print_plan(
            &compose::lifecycle(verb, loaded, &facts?, run.only, jobs)?,
            output.json,
        );
        return Ok(exit::OK);
    }
    let rep = reporter(output.quiet, output.json);
    let work = async {
        let fleet = &fleet;
        let cancel = cancel_on_ctrl_c(rep.clone());
        let facts = gather(c, fleet, None, &Default::default()).await?;
        let plan = compose::lifecycle(verb, loaded, &facts, run.only, jobs)?;
        let how = Execute {
            cluster: c,
            command: verb.name(),
            yes: run.yes,
            json: output.json,
            ask: matches!(verb, Verb::Destroy | Verb::Rollback),
        };
        execute(&plan, how, fleet, rep.clone(), cancel).await?;
        {
            crate::report::summary(format!(
                "{}: {}",
                c.name,
                match verb {
                    Verb::Start if plan.is_noop() => "already running; verified",
                    Verb::Start => "started and verified",
                    Verb::Stop if plan.is_noop() =>
                        "nothing was running; no Flink daemon is running on any host",
                    Verb::Stop => "stopped; no Flink daemon is running on any host",
                    Verb::Destroy => "destroyed: what flinkup installed is gone from every host",
                    Verb::Rollback => "rolled back and verified",
                    Verb::Deploy | Verb::Smoke => "done",
                }
            ));
        }
        Ok(exit::OK)
    };
    let r = locked(c, &fleet, verb.name(), work).await;
    fleet.close().await;
    r
}

/// `smoke`: verify the cluster, run a job on it, wait for it to finish. It changes nothing
/// on the hosts but a job in the cluster's history (and the job's jar in the state
/// directory), so it takes no lock.
pub async fn smoke(
    loaded: &Loaded,
    jar: Option<&std::path::Path>,
    args: Option<Vec<String>>,
    run: &RunArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    if let Some(o) = run.only {
        let installed = crate::components::registry()
            .iter()
            .any(|k| o.is(k.name()) && k.in_inventory(c));
        if !installed {
            return Err(crate::error::Error::Usage(format!(
                "nothing to prove with --only {}: this inventory does not install {}",
                o.component().as_str().to_lowercase(),
                o.component()
            )));
        }
    }
    let job = super::smoke_job(c, jar, args)?;
    let fleet = connect(c, remote).await?;
    let result = async {
        let facts = gather(c, &fleet, None, &Default::default()).await?;
        let plan = compose::smoke(loaded, &facts, &job, run.only)?;
        if run.dry_run {
            print_plan(&plan, output.json);
            return Ok(exit::OK);
        }
        let rep = reporter(output.quiet, output.json);
        let cancel = cancel_on_ctrl_c(rep.clone());
        let how = Execute {
            cluster: c,
            command: "smoke",
            yes: true,
            json: output.json,
            ask: false,
        };
        execute(&plan, how, &fleet, rep.clone(), cancel).await?;
        let has = |name: &str| plan.components.iter().any(|k| k.name == name);
        let mut proven = Vec::new();
        if has(crate::components::flink::NAME) {
            proven.push("the smoke job finished");
        }
        if has(crate::components::fornaxee::NAME) {
            proven.push("Fornaxee answers on every host");
        }
        crate::report::summary(format!("{}: {}", c.name, proven.join("; ")));
        Ok(exit::OK)
    }
    .await;
    fleet.close().await;
    result
}

/// `unlock`: a plan of one step, removing the lock a killed run left behind.
pub async fn unlock(
    loaded: &Loaded,
    run: &RunArgs,
    remote: &RemoteArgs,
    output: &OutputArgs,
) -> Result<i32> {
    let c = &loaded.cluster;
    let site = flink::lock_site(c);
    let jm = c.jobmanager();
    let fleet = crate::fleet::Fleet::connect(&[jm], &super::connect_options(remote), 1).await?;
    let facts = gather(c, &fleet, None, &Default::default()).await;
    let result = async {
        let facts = facts?;
        let holder = facts.host(&site.host).machine.lock.clone();
        let mut plan = Plan {
            command: "unlock".into(),
            cluster: c.name.clone(),
            mode: PlanMode::Live,
            components: vec![ComponentInfo {
                name: flink::NAME.into(),
                version: c.version.to_string(),
                detail: format!("Scala {}", c.scala),
                artifact: None,
                summary: c.topology(),
            }],
            hosts: vec![HostView {
                host: site.host.clone(),
                address: jm.address.clone(),
                roles: jm.roles(),
                java: None,
                current_release: None,
                running: Vec::new(),
                notes: match &holder {
                    Some(h) => vec![format!("locked by {}", h.describe_state())],
                    None => vec!["not locked".into()],
                },
            }],
            preflight: Vec::new(),
            stages: Vec::new(),
            rollback: None,
            notes: Vec::new(),
            sizing: Vec::new(),
            warnings: Vec::new(),
        };
        if let Some(h) = &holder {
            let mut s = Stage::new("unlock", None);
            s.push(
                &site.host,
                Action::Unlock {
                    lock_dir: site.lock_dir(),
                    holder: h.describe(),
                },
            );
            plan.stages.push(s);
        }
        if run.dry_run {
            print_plan(&plan, output.json);
            return Ok(exit::OK);
        }
        let Some(h) = holder else {
            crate::report::summary(format!("{}: not locked", site.host));
            return Ok(exit::OK);
        };
        if !output.json {
            crate::report::stdout(&format!(
                "{}: locked by {}\n",
                site.host,
                h.describe_state()
            ));
        }
        super::confirm(
            run.yes,
            "Remove this lock? Only do so if that run is gone.",
            "unlock needs confirmation: no terminal to ask on; run again with --yes",
            "the lock was kept",
        )?;
        let rep = reporter(output.quiet, output.json);
        let cancel = cancel_on_ctrl_c(rep.clone());
        // The lock and its holder were shown above; the plan is its one step.
        crate::apply::Runner {
            fleet: &fleet,
            rep: rep.as_ref(),
            cancel,
            outcomes: Default::default(),
        }
        .run(&plan)
        .await?;
        crate::report::summary(format!("{}: lock removed", site.host));
        Ok(exit::OK)
    }
    .await;
    fleet.close().await;
    result
}
