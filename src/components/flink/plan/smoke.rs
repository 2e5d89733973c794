//! The smoke job: submit a job with `bin/flink run -d` and wait for it to finish, the guide's
//! last step ("submit a test job"), after deploy or on its own.

use super::*;

/// The job that proves the cluster runs jobs.
#[derive(Debug, Clone, Default)]
pub struct SmokeJob {
    /// A jar from the operator's machine, verified: (path, sha512, size). None: the
    /// distribution's examples/streaming/WordCount.jar.
    pub jar: Option<(std::path::PathBuf, String, u64)>,
    pub args: Vec<String>,
    pub timeout: std::time::Duration,
}

/// Stages that upload the smoke job's jar (when it is the operator's) and run it.
pub(super) fn smoke_stages(inp: &Inputs, job: &SmokeJob) -> Vec<Stage> {
    let c = inp.cluster;
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    let p = paths(c, jf);
    let mut stages = Vec::new();
    let jar = match &job.jar {
        Some((local, sha, size)) => {
            let name = local
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "job.jar".into());
            let dest = format!("{}/smoke/{name}", p.state);
            if jf.flink().smoke_jars.get(&dest) != Some(sha) {
                let mut s = Stage::new("smoke upload", Some(NAME));
                s.push(
                    &jm,
                    Action::Upload {
                        file: name,
                        local: Some(local.display().to_string()),
                        dest: dest.clone(),
                        size: Some(*size),
                        sha512: Some(sha.clone()),
                    },
                );
                stages.push(s);
            }
            dest
        }
        None => format!("{}/examples/streaming/WordCount.jar", p.link),
    };
    let mut s = Stage::new("smoke", Some(NAME));
    s.if_failed = "The cluster keeps running; only the smoke job failed.".into();
    s.push(
        &jm,
        crate::components::flink::check_action(Check::FlinkSmoke(SmokeCheck {
            flink: format!("{}/bin/flink", p.link),
            jar,
            args: job.args.clone(),
            jvm_args: jvm_args(c, jf),
            target: rest_target(c),
            jobmanager: c.jobmanager().name.clone(),
            rest_port: c.rest_port,
            tls: crate::components::flink::tls::RestTls::of(c),
            timeout_secs: job.timeout.as_secs(),
            tm_logs: c
                .taskmanagers()
                .map(|h| {
                    let f = inp.facts.host(&HostId::of(h));
                    (HostId::of(h), format!("{}/log", paths(c, f).link))
                })
                .collect(),
        })),
    );
    stages.push(s);
    stages
}

/// `smoke`: verify the cluster, then run a job on it and wait for it to finish.
pub fn smoke(inp: &Inputs, job: &SmokeJob) -> Plan {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "smoke");
    let jm = coordinator(c);
    let jf = inp.facts.host(&jm);
    if !c.manages_flink() {
        plan.preflight.push(Finding::error(
            None,
            "this inventory deploys no Flink cluster to run a job on",
            "submit jobs to the existing cluster with its own tools",
        ));
        return plan;
    }
    if jf.gathered && !jf.flink().runs(Role::JobManager) {
        plan.preflight.push(Finding::error(
            Some(&jm),
            "the JobManager does not run",
            "start the cluster first: `flinkup start` (or `flinkup deploy`)",
        ));
    }
    plan.stages.push(verify_stage(inp, &missing(inp)));
    plan.stages.extend(smoke_stages(inp, job));
    plan
}
