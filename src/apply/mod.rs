//! Executes a plan: stage after stage; inside a stage, the hosts of a batch at once (bounded
//! by `--concurrency`), each host's steps in order. Nothing here decides *what* to do: each
//! [`Action`] carries everything its executor needs.
//!
//! A failed stage stops the run. A stage marked [`OnFailure::Undo`] first puts back what its
//! completed steps changed, from the state each one recorded before changing it.

mod exec;
mod relay;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub use exec::Undo;

use crate::error::{Error, HostFailure, Result};
use crate::fleet::{bounded, Fleet, HostId};
use crate::plan::{Batch, OnFailure, Plan, Stage};
use crate::report::{Event, Reporter};

/// How many times the operator asked to stop (Ctrl-C). The first stops the run between two
/// steps and aborts transfers at once (a re-run resumes them); the second aborts whatever step
/// runs. Either way the lock is released and the connections closed before flinkup exits.
#[derive(Debug, Default)]
pub struct Interrupt(AtomicUsize);

impl Interrupt {
    pub fn press(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn presses(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Resolves once the operator pressed Ctrl-C `n` times.
    pub async fn reached(&self, n: usize) {
        while self.presses() < n {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

pub struct Runner<'a> {
    pub fleet: &'a Fleet,
    pub rep: &'a dyn Reporter,
    /// Set by Ctrl-C: checked between steps; transfers are aborted by the first, any step by
    /// the second.
    pub cancel: Arc<Interrupt>,
    /// Each stage run so far and how it ended (`done`, `failed`, `interrupted`), the way
    /// back's stages prefixed `rollback:`: what the history keeps of a run.
    pub outcomes: std::sync::Mutex<Vec<(String, String)>>,
}

impl Runner<'_> {
    fn note(&self, name: &str, r: &Result<()>) {
        if let Ok(mut o) = self.outcomes.lock() {
            o.push((
                name.to_string(),
                match r {
                    Ok(()) => "done".into(),
                    Err(Error::Interrupted) => "interrupted".into(),
                    Err(_) => "failed".into(),
                },
            ));
        }
    }

    /// What [`Runner::outcomes`] holds, taken out.
    pub fn take_outcomes(&self) -> Vec<(String, String)> {
        self.outcomes
            .lock()
            .map(|mut o| std::mem::take(&mut *o))
            .unwrap_or_default()
    }

    fn cancelled(&self) -> bool {
        self.cancel.presses() > 0
    }

    /// Runs every stage of the plan in order. When a stage the plan's rollback covers fails,
    /// the rollback's stages put the previous state back before the error is returned.
    pub async fn run(&self, plan: &Plan) -> Result<()> {
        for (i, stage) in plan.stages.iter().enumerate() {
            if self.cancelled() {
                return Err(Error::Interrupted);
            }
            let r = self.stage(stage).await;
            self.note(&stage.name, &r);
            let Err(cause) = r else {
                continue;
            };
            let Some(rb) = plan
                .rollback
                .as_ref()
                .filter(|r| (r.from_stage..r.until_stage).contains(&i))
            else {
                return Err(cause);
            };
            if matches!(cause, Error::Interrupted) {
                return Err(cause);
            }
            self.rep.event(&Event::Warning {
                message: format!("{cause}\nrolling back to {}", rb.restores),
            });
            for s in &rb.stages {
                let r = self.stage(s).await;
                self.note(&format!("rollback: {}", s.name), &r);
                if let Err(e) = r {
                    return Err(Error::Failed(format!(
                        "{cause}\nThe rollback to {} failed too: {e}",
                        rb.restores
                    )));
                }
            }
            return Err(Error::RolledBack {
                cause: Box::new(cause),
                restored: format!("{} runs again and is verified", rb.restores),
            });
        }
        Ok(())
    }

    async fn stage(&self, stage: &Stage) -> Result<()> {
        let targets = stage.targets();
        let batches: Vec<Vec<HostId>> = match stage.batch {
            Batch::All => vec![targets.clone()],
            Batch::Rolling(n) => targets.chunks(n.max(1)).map(<[HostId]>::to_vec).collect(),
        };
        let record = stage.on_failure == OnFailure::Undo;
        let mut done: Vec<(HostId, Vec<Undo>)> = Vec::new();
        for batch in batches {
            if self.cancelled() {
                return Err(Error::Interrupted);
            }
            let results = bounded(batch, self.fleet.concurrency, |id| async move {
                let (undo, r) = self.host_steps(stage, &id, record).await;
                self.rep.event(&Event::HostDone {
                    host: id.clone(),
                    ok: r.is_ok(),
                    message: match &r {
                        Ok(n) => {
                            format!("{}: {n} step{}", stage.name, if *n == 1 { "" } else { "s" })
                        }
                        Err(e) => e.to_string(),
                    },
                });
                (id, undo, r)
            })
            .await;
            let mut failures = Vec::new();
            let mut interrupted = false;
            let mut total = targets.len();
            let mut told = None;
            for (id, undo, r) in results {
                done.push((id.clone(), undo));
                match r {
                    Ok(_) => {}
                    Err(Error::Interrupted) => interrupted = true,
                    // A step that spans hosts (a relay) names the hosts that failed in it.
                    Err(Error::Hosts {
                        failures: inner,
                        total: t,
                        after,
                        ..
                    }) => {
                        total = total.max(t);
                        failures.extend(inner);
                        told = Some(after).filter(|a| !a.is_empty());
                    }
                    Err(error) => failures.push(HostFailure { host: id, error }),
                }
            }
            if failures.is_empty() && !interrupted {
                continue;
            }
            let mut after = told.unwrap_or_else(|| stage.if_failed.clone());
            if record {
                let undone = self.undo(done).await;
                if !undone.is_empty() {
                    after = format!(
                        "Putting back the stage's earlier steps failed too:\n  {}\nRun the same command again.",
                        undone.join("\n  ")
                    );
                }
            }
            if failures.is_empty() {
                return Err(Error::Interrupted);
            }
            return Err(Error::Hosts {
                what: format!("failed in stage {}", stage.name),
                failures,
                total,
                after,
            });
        }
        Ok(())
    }

    /// One host's steps of a stage, in order; returns what to undo and how many steps ran.
    async fn host_steps(
        &self,
        stage: &Stage,
        id: &HostId,
        record: bool,
    ) -> (Vec<Undo>, Result<usize>) {
        let mut undo = Vec::new();
        let mut n = 0;
        for step in stage.steps.iter().filter(|s| &s.host == id) {
            if self.cancelled() {
                return (undo, Err(Error::Interrupted));
            }
            self.rep.event(&Event::Step {
                host: id.clone(),
                action: step.action.verb().to_string(),
                detail: exec::detail(&step.action),
            });
            // A transfer over the operator's link stops at the first Ctrl-C (a re-run resumes
            // it); a copy on this machine's own disk is quick and finishes like any action.
            let local = matches!(self.fleet.get(id), Ok(crate::remote::Remote::Local { .. }));
            let presses = if step.action.is_transfer() && !local {
                1
            } else {
                2
            };
            let r = tokio::select! {
                r = exec::execute(&step.action, id, self.fleet, self.rep, record) => r,
                () = self.cancel.reached(presses) => Err(Error::Interrupted),
            };
            match r {
                Ok(u) => undo.extend(u),
                Err(e) => return (undo, Err(e)),
            }
            n += 1;
        }
        (undo, Ok(n))
    }

    /// Puts back what completed steps changed, newest first; returns what could not be undone.
    async fn undo(&self, done: Vec<(HostId, Vec<Undo>)>) -> Vec<String> {
        let results = bounded(done, self.fleet.concurrency, |(id, undo)| async move {
            let mut failed = Vec::new();
            for u in undo.iter().rev() {
                self.rep.event(&Event::Step {
                    host: id.clone(),
                    action: "undo".into(),
                    detail: u.to_string(),
                });
                if let Err(e) = exec::undo(u, &id, self.fleet).await {
                    failed.push(format!("{id}: {u}: {e}"));
                }
            }
            failed
        })
        .await;
        results.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::plan::{Action, PlanMode, Stage};
    use crate::remote::Remote;
    use crate::report::Collect;

    fn plan(stages: Vec<Stage>) -> Plan {
        Plan {
            command: "test".into(),
            cluster: "t".into(),
            mode: PlanMode::Live,
            components: Vec::new(),
            hosts: Vec::new(),
            preflight: Vec::new(),
            stages,
            rollback: None,
            notes: Vec::new(),
            sizing: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// Runs one stage with every named host reached through a local shell.
    async fn run_locally(names: &[&str], stage: Stage) -> Result<()> {
        let remotes: BTreeMap<HostId, Remote> = names
            .iter()
            .map(|n| (HostId((*n).into()), Remote::Local { verbose: false }))
            .collect();
        let fleet = Fleet::from_remotes(remotes, 4);
        let rep = Collect::default();
        let runner = Runner {
            fleet: &fleet,
            rep: &rep,
            cancel: Arc::new(Interrupt::default()),
            outcomes: Default::default(),
        };
        runner.run(&plan(vec![stage])).await
    }

    fn link(dir: &std::path::Path, name: &str, target: &str, previous: Option<&str>) -> Action {
        Action::Link {
            link: dir.join(name).display().to_string(),
            target: dir.join(target).display().to_string(),
            previous: previous.map(|p| dir.join(p).display().to_string()),
        }
    }

    #[tokio::test]
    async fn a_failed_undo_stage_puts_back_what_its_other_hosts_changed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::os::unix::fs::symlink(d.join("old"), d.join("a-link")).unwrap();
        let mut s = Stage::new("switch", None);
        s.on_failure = OnFailure::Undo;
        s.push(&HostId("a".into()), link(d, "a-link", "new", Some("old")));
        // Its parent directory does not exist: this host's switch fails.
        s.push(&HostId("b".into()), link(d, "missing/b-link", "new", None));
        let err = run_locally(&["a", "b"], s).await.unwrap_err();
        match &err {
            Error::Hosts { failures, .. } => {
                assert_eq!(failures.len(), 1);
                assert_eq!(failures[0].host, HostId("b".into()));
            }
            other => panic!("expected a host failure, got {other}"),
        }
        assert_eq!(std::fs::read_link(d.join("a-link")).unwrap(), d.join("old"));
    }

    #[tokio::test]
    async fn rolling_batches_stop_at_the_first_failed_batch() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut s = Stage::new("rolling", None);
        s.batch = Batch::Rolling(1);
        s.push(&HostId("a".into()), link(d, "missing/a-link", "new", None));
        s.push(&HostId("b".into()), link(d, "b-link", "new", None));
        assert!(run_locally(&["a", "b"], s).await.is_err());
        assert!(
            d.join("b-link").symlink_metadata().is_err(),
            "the second batch never ran"
        );
    }
}
