//! A component that exists only for tests: it proves a product plugs in through its folder and
//! its line in the registry alone. On every host of a cluster whose name starts with
//! `marker`, it installs a small file, runs a daemon beside it, and checks both; stop stops
//! the daemon, destroy removes what it installed.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::{Component, PlanCtx, ProbeAsk, Verb};
use crate::error::{Error, Result};
use crate::facts::{HostFacts, MachineProbe, Part};
use crate::fleet::{Fleet, HostId};
use crate::inventory::Cluster;
use crate::plan::{Action, Change, CheckStep, ComponentInfo, Plan, Stage};
use crate::remote::{q, qp};
use crate::report::Reporter;

pub const NAME: &str = "Marker";

pub struct Marker;

/// What the marker's probe finds on a host.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MarkerFacts {
    pub content: Option<String>,
    pub running: Option<u32>,
}

fn facts(f: &HostFacts) -> &MarkerFacts {
    f.parts.get_or_empty()
}

fn dir(c: &Cluster) -> String {
    format!("{}/marker-{}", c.install_dir, c.name)
}

fn file(c: &Cluster) -> String {
    format!("{}/marker.txt", dir(c))
}

fn pid_file(c: &Cluster) -> String {
    format!("{}/marker.pid", dir(c))
}

fn content(c: &Cluster) -> String {
    format!("marker of {}\n", c.name)
}

/// The marker's one check: the file holds what was planned and the daemon runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "check", rename_all = "snake_case")]
enum Check {
    MarkerPresent {
        file: String,
        content: String,
        pid_file: String,
    },
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Check::MarkerPresent { file, .. } => {
                write!(f, "{file} is in place and its daemon runs")
            }
        }
    }
}

impl Marker {
    fn stop(&self, c: &Cluster, ctx: &PlanCtx, reason: &str) -> Option<Stage> {
        let mut s = Stage::new("marker stop", Some(NAME));
        for h in &c.hosts {
            let id = HostId::of(h);
            if facts(ctx.facts.host(&id)).running.is_some() {
                s.push(
                    &id,
                    Action::StopServices {
                        services: vec!["marker".into()],
                        scripts: Vec::new(),
                        pid_files: vec![pid_file(c)],
                        cmdline_has: Some("sleep".into()),
                        terminate: true,
                        grace_secs: 5,
                        reason: reason.into(),
                    },
                );
            }
        }
        (!s.steps.is_empty()).then_some(s)
    }

    fn start_and_check(&self, c: &Cluster, ctx: &PlanCtx, plan: &mut Plan) {
        let mut start = Stage::new("marker start", Some(NAME));
        for h in &c.hosts {
            let id = HostId::of(h);
            if facts(ctx.facts.host(&id)).running.is_none() {
                start.push(
                    &id,
                    Action::RunDaemon {
                        service: "marker".into(),
                        script: "/bin/sh".into(),
                        args: vec!["-c".into(), "exec sleep 86400".into()],
                        env_file: None,
                        pid_file: pid_file(c),
                        log: format!("{}/marker.log", dir(c)),
                        dirs: vec![dir(c)],
                        reason: "not running".into(),
                    },
                );
            }
        }
        if !start.steps.is_empty() {
            plan.stages.push(start);
        }
        plan.stages.push(self.verify(c));
    }

    /// Every host's file and daemon checked.
    fn verify(&self, c: &Cluster) -> Stage {
        let mut verify = Stage::new("marker verify", Some(NAME));
        for h in &c.hosts {
            verify.push(
                &HostId::of(h),
                super::check_step(
                    NAME,
                    &Check::MarkerPresent {
                        file: file(c),
                        content: content(c),
                        pid_file: pid_file(c),
                    },
                    None,
                ),
            );
        }
        verify
    }
}

impl Component for Marker {
    fn name(&self) -> &'static str {
        NAME
    }

    fn in_inventory(&self, c: &Cluster) -> bool {
        c.name.starts_with("marker")
    }

    fn probe(
        &self,
        c: &Cluster,
        id: &HostId,
        ask: &ProbeAsk,
        _: &mut MachineProbe,
    ) -> Option<String> {
        if !self.in_inventory(c) || ask.host(c, id).is_none() {
            return None;
        }
        Some(format!(
            "{alive}\nif [ -f {file} ]; then echo \"content=$(base64 -w0 < {file})\"; fi\nP=$(cat {pid} 2>/dev/null)\nif [ -n \"$P\" ] && alive \"$P\" sleep; then echo \"running=$P\"; fi\n",
            alive = crate::remote::shell::ALIVE_FN,
            file = qp(&file(c)),
            pid = qp(&pid_file(c)),
        ))
    }

    fn parse(&self, _: &Cluster, _: &HostId, _: &ProbeAsk, out: &str) -> Box<dyn Part> {
        let mut f = MarkerFacts::default();
        for (k, v) in out.lines().filter_map(|l| l.split_once('=')) {
            match k {
                "content" => f.content = crate::facts::b64_text(v),
                "running" => f.running = v.trim().parse().ok(),
                _ => {}
            }
        }
        Box::new(f)
    }

    fn plan(&self, ctx: &PlanCtx, plan: &mut Plan) -> Result<()> {
        let c = ctx.cluster();
        if !self.in_inventory(c) {
            return Ok(());
        }
        plan.components.push(ComponentInfo {
            name: NAME.into(),
            version: "1".into(),
            detail: String::new(),
            artifact: None,
            summary: format!("a file and a daemon on {} hosts", c.hosts.len()),
        });
        match ctx.verb {
            Verb::Deploy => {
                let mut install = Stage::new("marker install", Some(NAME));
                for h in &c.hosts {
                    let id = HostId::of(h);
                    let now = facts(ctx.facts.host(&id)).content.clone();
                    if now.as_deref() != Some(content(c).as_str()) {
                        install.push(
                            &id,
                            Action::WriteFile {
                                path: file(c),
                                change: if now.is_some() {
                                    Change::Update
                                } else {
                                    Change::Create
                                },
                                content: content(c),
                                diff: String::new(),
                                executable: false,
                            },
                        );
                    }
                }
                if !install.steps.is_empty() {
                    plan.stages.push(install);
                }
                self.start_and_check(c, ctx, plan);
            }
            Verb::Start => self.start_and_check(c, ctx, plan),
            Verb::Stop => plan.stages.extend(self.stop(c, ctx, "flinkup stop")),
            Verb::Destroy => {
                plan.stages
                    .extend(self.stop(c, ctx, "destroy removes the installation"));
                let mut remove = Stage::new("marker remove", Some(NAME));
                for h in &c.hosts {
                    remove.push(
                        &HostId::of(h),
                        Action::Remove {
                            link: None,
                            trees: vec![dir(c)],
                            state_dir: None,
                        },
                    );
                }
                plan.stages.push(remove);
            }
            Verb::Rollback => {}
            Verb::Smoke => plan.stages.push(self.verify(c)),
        }
        Ok(())
    }

    fn run_check<'a>(
        &'a self,
        step: &'a CheckStep,
        host: &'a HostId,
        fleet: &'a Fleet,
        _: &'a dyn Reporter,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Check::MarkerPresent {
                file,
                content,
                pid_file,
            } = super::parse_check::<Check>(step)?;
            let out = fleet
                .get(host)?
                .sh(
                    host.as_str(),
                    &format!(
                        "{alive}\ncat {file}; P=$(cat {pid} 2>/dev/null); if [ -n \"$P\" ] && alive \"$P\" sleep; then echo {ok}; fi",
                        alive = crate::remote::shell::ALIVE_FN,
                        file = qp(&file),
                        pid = qp(&pid_file),
                        ok = q("@daemon-runs"),
                    ),
                )
                .await?;
            match out.stdout.strip_suffix("@daemon-runs\n") {
                Some(c) if c == content => Ok(()),
                Some(c) => Err(Error::Failed(format!(
                    "{host}: {file} holds {c:?}, not {content:?}"
                ))),
                None => Err(Error::Failed(format!(
                    "{host}: the marker daemon does not run"
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::apply::{Interrupt, Runner};
    use crate::compose;
    use crate::facts::Facts;
    use crate::inventory::Loaded;
    use crate::remote::ConnectOptions;

    struct Site {
        _dir: tempfile::TempDir,
        loaded: Loaded,
        fleet: Fleet,
    }

    async fn site() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let tarball = dir.path().join("flink-1.9.3-bin-scala_2.11.tgz");
        std::fs::write(&tarball, b"not needed: the marker alone is planned").unwrap();
        let inv = dir.path().join("marker.yaml");
        std::fs::write(
            &inv,
            format!(
                "cluster: marker-test\nconnection: local\nflink:\n  version: 1.9.3\n  install_dir: {opt}\n  start: direct\n  artifact: {{path: {tgz}, sha512: {sha}}}\njobmanager: localhost\ntaskmanagers: [localhost]\nconfig:\n  rest.port: 48081\n  jobmanager.rpc.port: 46123\n",
                opt = dir.path().join("opt").display(),
                tgz = tarball.display(),
                sha = "0".repeat(128),
            ),
        )
        .unwrap();
        let loaded = crate::inventory::load(&inv, Default::default()).unwrap();
        let hosts: Vec<&crate::inventory::Host> = loaded.cluster.hosts.iter().collect();
        let fleet = Fleet::connect(&hosts, &ConnectOptions::default(), 2)
            .await
            .unwrap();
        Site {
            _dir: dir,
            loaded,
            fleet,
        }
    }

    impl Site {
        async fn facts(&self) -> Facts {
            compose::gather(&self.loaded.cluster, &self.fleet, None, &Default::default())
                .await
                .unwrap()
        }

        fn marker(&self, f: &Facts) -> MarkerFacts {
            facts(f.host(&HostId("localhost".into()))).clone()
        }

        async fn apply(&self, plan: &Plan) {
            assert!(plan.refusals().is_empty(), "{:?}", plan.refusals());
            let rep = crate::report::reporter(crate::report::Style::Plain);
            Runner {
                fleet: &self.fleet,
                rep: rep.as_ref(),
                cancel: Arc::new(Interrupt::default()),
                outcomes: Default::default(),
            }
            .run(plan)
            .await
            .unwrap();
        }

        fn lifecycle(&self, verb: Verb, f: &Facts) -> Plan {
            compose::lifecycle(
                verb,
                &self.loaded,
                f,
                Some("marker".parse().unwrap()),
                &Default::default(),
            )
            .unwrap()
        }
    }

    /// The marker is planned, applied through a local connection, found again by its probe,
    /// stopped and destroyed, with no engine file knowing it exists.
    #[tokio::test]
    async fn a_component_plugs_in_through_its_registration_alone() {
        let s = site().await;
        let renderer = crate::components::flink::render::Renderer::new(&s.loaded.cluster).unwrap();
        let deploy = |f: &Facts| {
            compose::deploy(
                &s.loaded,
                f,
                compose::DeployAsk {
                    jdk: None,
                    mode: crate::plan::PlanMode::Live,
                    art: Default::default(),
                    bundle: None,
                    only: Some("marker".parse().unwrap()),
                    day2: &Default::default(),
                    smoke: Default::default(),
                    renderer: &renderer,
                },
            )
            .unwrap()
        };

        let before = s.facts().await;
        assert_eq!(s.marker(&before), MarkerFacts::default());
        let plan = deploy(&before);
        let stages: Vec<&str> = plan.stages.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(stages, ["marker install", "marker start", "marker verify"]);
        assert_eq!(plan.components.len(), 1, "--only keeps the marker alone");
        s.apply(&plan).await;

        let after = s.facts().await;
        let m = s.marker(&after);
        assert_eq!(m.content.as_deref(), Some("marker of marker-test\n"));
        assert!(m.running.is_some(), "{m:?}");
        assert!(deploy(&after).is_noop(), "a second deploy changes nothing");

        let stop = s.lifecycle(Verb::Stop, &after);
        assert_eq!(stop.stages.len(), 1);
        s.apply(&stop).await;
        let stopped = s.facts().await;
        assert_eq!(s.marker(&stopped).running, None);
        assert!(s.marker(&stopped).content.is_some(), "stop keeps the file");

        let destroy = s.lifecycle(Verb::Destroy, &stopped);
        s.apply(&destroy).await;
        assert_eq!(s.marker(&s.facts().await), MarkerFacts::default());
        assert!(!std::path::Path::new(&dir(&s.loaded.cluster)).exists());
        s.fleet.close().await;
    }
}
