//! Jobs on a running cluster: the smoke job that proves it runs them (the guide's last step,
//! "submit a test job"), and each job's health as the guide teaches to watch it —
//! backpressure (OK / LOW / HIGH), checkpoint counts, durations, sizes, failures, and the
//! checkpoint start delay.

use std::fmt;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::rest::Rest;
use crate::error::{Error, Result};
use crate::fleet::{Fleet, HostId};
use crate::remote::{q, qp};
use crate::report::{Event, Reporter};

/// Submit a job with `bin/flink run -d` on the JobManager host and wait for it to finish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmokeCheck {
    /// `<release>/bin/flink` on the JobManager host.
    pub flink: String,
    /// The job jar on the JobManager host.
    pub jar: String,
    pub args: Vec<String>,
    /// JVM options the client needs (the JDK opens on Java 16+).
    pub jvm_args: Option<String>,
    /// `-m host:port` when the REST API listens on another address than the JobManager's
    /// name (`rest.bind-address`).
    pub target: Option<String>,
    pub jobmanager: String,
    pub rest_port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<super::tls::RestTls>,
    pub timeout_secs: u64,
    /// Where the TaskManagers' logs are, for a failed job: (host, log directory).
    pub tm_logs: Vec<(HostId, String)>,
}

impl fmt::Display for SmokeCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "smoke job: {} run -d {}{} finishes within {}s",
            self.flink,
            self.jar,
            self.args
                .iter()
                .map(|a| format!(" {a}"))
                .collect::<String>(),
            self.timeout_secs
        )
    }
}

/// A `bin/flink` client command on the JobManager host, with the user Flink's scripts expect,
/// the JVM options it needs there, and `-m` when REST listens on its own address.
fn client(
    flink: &str,
    jvm_args: Option<&str>,
    target: Option<&str>,
    verb: &str,
    rest: &str,
) -> String {
    format!(
        "export USER=\"${{USER:-$(id -un)}}\"{jvm}; {flink} {verb} {target}{rest}",
        jvm = jvm_args
            .map(|j| format!("; export JVM_ARGS={}", q(j)))
            .unwrap_or_default(),
        flink = qp(flink),
        target = target.map(|t| format!("-m {} ", q(t))).unwrap_or_default(),
    )
}

/// The JobID `flink run -d` prints.
fn job_id(out: &str) -> Option<String> {
    out.split(|c: char| !c.is_ascii_hexdigit())
        .find(|w| w.len() == 32)
        .filter(|_| out.contains("JobID"))
        .map(str::to_string)
}

pub async fn smoke(c: &SmokeCheck, host: &HostId, fleet: &Fleet, rep: &dyn Reporter) -> Result<()> {
    let jm = fleet.get(host)?;
    let args: Vec<String> = c.args.iter().map(|a| q(a)).collect();
    let script = format!(
        "if [ ! -f {jar} ]; then echo \"no job jar at \"{jar}\": this distribution has no examples; name one with --jar or verify.smoke.jar\" >&2; exit 2; fi; {run} 2>&1",
        jar = qp(&c.jar),
        run = client(
            &c.flink,
            c.jvm_args.as_deref(),
            c.target.as_deref(),
            "run",
            &format!("-d {} {}", qp(&c.jar), args.join(" ")),
        ),
    );
    let start = Instant::now();
    let out = jm.sh(host.as_str(), &script).await?;
    let Some(id) = job_id(&out.stdout).filter(|_| out.ok()) else {
        let text = format!("{}{}", out.stdout, out.stderr);
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        return Err(Error::remote(
            host.as_str(),
            format!(
                "the smoke job was not submitted: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
            ),
        ));
    };
    rep.event(&Event::Info {
        message: format!("smoke job {id} submitted"),
    });
    let rest = Rest::new(&c.jobmanager, c.rest_port, host.as_str(), jm).with_tls(c.tls.as_ref());
    let deadline = Duration::from_secs(c.timeout_secs);
    loop {
        let state = rest
            .json(&format!("/jobs/{id}"))
            .await
            .ok()
            .and_then(|v| v["state"].as_str().map(str::to_string))
            .unwrap_or_default();
        match state.as_str() {
            "FINISHED" => {
                rep.event(&Event::Info {
                    message: format!(
                        "smoke job {id} FINISHED in {:.1}s",
                        start.elapsed().as_secs_f64()
                    ),
                });
                return Ok(());
            }
            "FAILED" | "CANCELED" => {
                return Err(job_failed(c, host, fleet, &rest, &id, &state).await);
            }
            _ => {}
        }
        if start.elapsed() >= deadline {
            let _ = jm
                .sh(
                    host.as_str(),
                    &format!(
                        "{} >/dev/null 2>&1",
                        client(
                            &c.flink,
                            c.jvm_args.as_deref(),
                            c.target.as_deref(),
                            "cancel",
                            &id
                        )
                    ),
                )
                .await;
            return Err(Error::remote(
                host.as_str(),
                format!(
                    "the smoke job {id} did not finish within {}s (last state {}); it was cancelled",
                    c.timeout_secs,
                    if state.is_empty() { "unknown" } else { &state }
                ),
            ));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The job's exception and the TaskManagers' log tails.
async fn job_failed(
    c: &SmokeCheck,
    host: &HostId,
    fleet: &Fleet,
    rest: &Rest<'_>,
    id: &str,
    state: &str,
) -> Error {
    let exception = rest
        .json(&format!("/jobs/{id}/exceptions"))
        .await
        .ok()
        .and_then(|v| v["root-exception"].as_str().map(str::to_string))
        .unwrap_or_else(|| "(no exception recorded)".into());
    let mut msg = format!("the smoke job {id} {state}:\n    ");
    msg.push_str(
        &exception
            .lines()
            .take(12)
            .collect::<Vec<_>>()
            .join("\n    "),
    );
    let ids: Vec<HostId> = c.tm_logs.iter().map(|(h, _)| h.clone()).collect();
    let tails = fleet
        .for_each(&ids, |id, remote| {
            let dir = c
                .tm_logs
                .iter()
                .find(|(h, _)| *h == id)
                .map(|(_, d)| d.clone())
                .unwrap_or_default();
            async move {
                remote
                    .sh(
                        id.as_str(),
                        &format!(
                            "for f in {d}/flink-*-taskexecutor-*.log; do [ -s \"$f\" ] && {{ echo \"--- $f\"; tail -n 8 \"$f\"; }}; done; exit 0",
                            d = qp(&dir)
                        ),
                    )
                    .await
            }
        })
        .await;
    for (h, r) in tails {
        if let Ok(o) = r {
            if !o.stdout.trim().is_empty() {
                msg.push_str(&format!("\n  TaskManager log on {h}:"));
                for l in o.stdout.lines() {
                    msg.push_str("\n    ");
                    msg.push_str(l);
                }
            }
        }
    }
    Error::remote(host.as_str(), msg)
}

/// One vertex of a running job.
#[derive(Debug, Clone, Serialize)]
pub struct VertexHealth {
    pub id: String,
    pub name: String,
    pub parallelism: u64,
    /// "ok", "low" or "high"; None when no current sample came in time (`unsampled` says why).
    pub backpressure: Option<String>,
    /// Why there is no backpressure level: "sampling did not finish within N s".
    pub unsampled: Option<String>,
    /// The highest ratio of sampled stack traces waiting for a buffer, over its subtasks.
    pub ratio: Option<f64>,
    /// The latest completed checkpoint's start delay for this vertex, worst subtask (ms):
    /// end_to_end − alignment − sync − async.
    pub start_delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Checkpoints {
    pub completed: u64,
    pub failed: u64,
    pub in_progress: u64,
    pub interval_ms: Option<u64>,
    pub latest_id: Option<u64>,
    pub latest_duration_ms: Option<u64>,
    pub latest_size_bytes: Option<u64>,
    /// The latest failed checkpoint is newer than the latest completed one.
    pub failing: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobHealth {
    pub id: String,
    pub name: String,
    pub state: String,
    pub uptime_ms: u64,
    pub restarts: u64,
    pub vertices: Vec<VertexHealth>,
    pub checkpoints: Option<Checkpoints>,
    /// Why the job counts as degraded, each with the guide's advice.
    pub problems: Vec<String>,
}

fn u(v: &serde_json::Value) -> Option<u64> {
    v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))
}

/// How the running JobManager samples backpressure (Flink up to 1.12: stack traces), read from
/// its own configuration (`GET /jobmanager/config`), with the release's defaults for keys it
/// does not set, from the key catalogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// `web.backpressure.refresh-interval`: a sample younger than this is the current one;
    /// an older one makes the JobManager sample again.
    pub refresh_ms: u64,
    /// `web.backpressure.num-samples` × `web.backpressure.delay-between-samples`.
    pub num_samples: u64,
    pub delay_ms: u64,
    /// `akka.ask.timeout`: how long the JobManager waits for a sample before dropping it.
    pub timeout_ms: u64,
}

impl Sampling {
    /// The release's own defaults, as its key catalogue records them (a release without stack
    /// sampling keeps the 1.9 figures, which then go unused).
    pub fn defaults(v: crate::inventory::Version) -> Sampling {
        let rel = super::catalogue::release(v).unwrap_or(&super::catalogue::releases()[0]);
        let num = |k: &str, fallback: u64| {
            rel.default(k)
                .and_then(|d| d.trim().parse().ok())
                .unwrap_or(fallback)
        };
        Sampling {
            refresh_ms: num("web.backpressure.refresh-interval", 60_000),
            num_samples: num("web.backpressure.num-samples", 100),
            delay_ms: num("web.backpressure.delay-between-samples", 50),
            timeout_ms: ["pekko.ask.timeout", "akka.ask.timeout"]
                .iter()
                .find_map(|k| rel.default(k))
                .and_then(|d| crate::inventory::units::parse_duration(&d.replace(' ', "")).ok())
                .map_or(10_000, |t| t.as_millis() as u64),
        }
    }

    /// From `/jobmanager/config`'s `[{"key":…,"value":…}]`; the current key names win over the
    /// deprecated `jobmanager.web.backpressure.*` ones.
    pub fn from_config(config: &serde_json::Value, v: crate::inventory::Version) -> Sampling {
        let get = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| super::rest::config_value(config, k))
                .map(str::to_string)
        };
        let num = |keys: &[&str], default: u64| {
            get(keys)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let d = Sampling::defaults(v);
        Sampling {
            refresh_ms: num(
                &[
                    "web.backpressure.refresh-interval",
                    "jobmanager.web.backpressure.refresh-interval",
                ],
                d.refresh_ms,
            ),
            num_samples: num(
                &[
                    "web.backpressure.num-samples",
                    "jobmanager.web.backpressure.num-samples",
                ],
                d.num_samples,
            ),
            delay_ms: num(
                &[
                    "web.backpressure.delay-between-samples",
                    "jobmanager.web.backpressure.delay-between-samples",
                ],
                d.delay_ms,
            ),
            timeout_ms: get(&["pekko.ask.timeout", "akka.ask.timeout"])
                .and_then(|v| crate::inventory::units::parse_duration(&v.replace(' ', "")).ok())
                .map_or(d.timeout_ms, |t| t.as_millis() as u64),
        }
    }

    /// How long to wait for a current sample: the stack traces a TaskManager takes
    /// (samples × delay) and the ask timeout within which the JobManager must collect them
    /// once they are due, plus a second for the requests themselves.
    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.num_samples * self.delay_ms + self.timeout_ms + 1000)
    }

    fn explain(&self) -> String {
        format!(
            "web.backpressure.num-samples {} × delay-between-samples {} ms, akka.ask.timeout {} ms",
            self.num_samples, self.delay_ms, self.timeout_ms
        )
    }
}

/// A vertex's backpressure as the JobManager sampled it, or why there is none.
#[derive(Debug, Clone, PartialEq)]
pub enum Sampled {
    Level {
        level: String,
        ratio: Option<f64>,
    },
    /// No sample newer than the refresh interval arrived within the budget.
    NotInTime {
        waited: Duration,
    },
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Whether an `ok` answer is the sample to report. The JobManager answers with the sample it
/// holds and starts a new one only when that one is older than the refresh interval, so a
/// sample younger than that is the current one; an older one counts once a newer one replaces
/// it (its end timestamp changes), which does not depend on the two machines' clocks agreeing.
fn current(end: u64, asked_ms: u64, first_end: Option<u64>, s: &Sampling) -> bool {
    asked_ms.saturating_sub(end) <= s.refresh_ms || first_end.is_some_and(|f| f != end)
}

/// Backpressure of one vertex: asks (which makes the JobManager sample when it holds nothing
/// current), then polls until a current sample is there, for as long as the cluster's own
/// sampling settings say one can take.
async fn backpressure(rest: &Rest<'_>, job: &str, vertex: &str, s: &Sampling) -> Sampled {
    let asked = now_ms();
    let start = Instant::now();
    let budget = s.budget();
    let path = format!("/jobs/{job}/vertices/{vertex}/backpressure");
    let mut first_end = None;
    loop {
        if let Ok(v) = rest.json(&path).await {
            if v["status"] == "ok" {
                if let Some(end) = u(&v["end-timestamp"]) {
                    if current(end, asked, first_end, s) {
                        let ratio = v["subtasks"].as_array().map(|s| {
                            s.iter()
                                .filter_map(|x| x["ratio"].as_f64())
                                .fold(0.0_f64, f64::max)
                        });
                        if let Some(level) = v["backpressure-level"].as_str() {
                            return Sampled::Level {
                                level: level.to_string(),
                                ratio,
                            };
                        }
                    }
                    first_end.get_or_insert(end);
                }
            }
        }
        if start.elapsed() >= budget {
            return Sampled::NotInTime {
                waited: start.elapsed(),
            };
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every job the cluster lists, with the health of the running ones; `config` is the running
/// JobManager's configuration (`GET /jobmanager/config`), its backpressure sampling settings.
pub async fn health(
    rest: &Rest<'_>,
    config: &serde_json::Value,
    version: crate::inventory::Version,
) -> Result<Vec<JobHealth>, String> {
    let overview = rest.json("/jobs/overview").await?;
    let sampling = Sampling::from_config(config, version);
    // Every job at once, and within a job its backpressure sampling (seconds on 1.x) beside
    // the checkpoint figures: status takes as long as the slowest sample, not their sum.
    let jobs = overview["jobs"].as_array().cloned().unwrap_or_default();
    Ok(futures_util::future::join_all(jobs.iter().map(|j| job_health(rest, j, &sampling))).await)
}

/// One job's health: state, restarts, each vertex's backpressure and start delay, checkpoints.
async fn job_health(rest: &Rest<'_>, j: &serde_json::Value, sampling: &Sampling) -> JobHealth {
    let id = j["jid"].as_str().unwrap_or_default().to_string();
    let state = j["state"].as_str().unwrap_or_default().to_string();
    let mut h = JobHealth {
        id: id.clone(),
        name: j["name"].as_str().unwrap_or_default().to_string(),
        state: state.clone(),
        uptime_ms: u(&j["duration"]).unwrap_or(0),
        restarts: 0,
        vertices: Vec::new(),
        checkpoints: None,
        problems: Vec::new(),
    };
    if !matches!(
        state.as_str(),
        "RUNNING" | "RESTARTING" | "FAILING" | "CREATED"
    ) {
        return h;
    }
    if let Ok(m) = rest
        .json(&format!("/jobs/{id}/metrics?get=fullRestarts,numRestarts"))
        .await
    {
        h.restarts = m
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x["value"].as_str().and_then(|v| v.parse::<u64>().ok()))
            .max()
            .unwrap_or(0);
    }
    let detail = rest.json(&format!("/jobs/{id}")).await.unwrap_or_default();
    let vertices: Vec<(String, String, u64)> = detail["vertices"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_string(),
                v["name"].as_str().unwrap_or_default().to_string(),
                u(&v["parallelism"]).unwrap_or(1),
            )
        })
        .collect();
    let sampling_all = futures_util::future::join_all(
        vertices
            .iter()
            .map(|(vid, _, _)| backpressure(rest, &id, vid, sampling)),
    );
    let figures = async {
        let cps = checkpoints(rest, &id).await;
        let delays = match cps.as_ref().and_then(|c| c.latest_id) {
            Some(cp) => start_delays(rest, &id, cp, &vertices).await,
            None => Vec::new(),
        };
        (cps, delays)
    };
    let (sampled, (cps, delays)) = tokio::join!(sampling_all, figures);
    for (i, ((vid, name, par), sample)) in vertices.iter().zip(sampled).enumerate() {
        let (backpressure, ratio, unsampled) = match sample {
            Sampled::Level { level, ratio } => (Some(level), ratio, None),
            Sampled::NotInTime { waited } => (
                None,
                None,
                Some(format!(
                    "sampling did not finish within {} s ({})",
                    waited.as_secs(),
                    sampling.explain()
                )),
            ),
        };
        h.vertices.push(VertexHealth {
            id: vid.clone(),
            name: name.clone(),
            parallelism: *par,
            backpressure,
            unsampled,
            ratio,
            start_delay_ms: delays.get(i).copied().flatten(),
        });
    }
    h.checkpoints = cps;
    h.problems = problems(&h);
    h
}

async fn checkpoints(rest: &Rest<'_>, job: &str) -> Option<Checkpoints> {
    let v = rest.json(&format!("/jobs/{job}/checkpoints")).await.ok()?;
    let counts = &v["counts"];
    let latest = &v["latest"]["completed"];
    let failed_id = u(&v["latest"]["failed"]["id"]);
    let interval = rest
        .json(&format!("/jobs/{job}/checkpoints/config"))
        .await
        .ok()
        .and_then(|c| u(&c["interval"]))
        .filter(|i| *i > 0 && *i < i64::MAX as u64);
    let latest_id = u(&latest["id"]);
    Some(Checkpoints {
        completed: u(&counts["completed"]).unwrap_or(0),
        failed: u(&counts["failed"]).unwrap_or(0),
        in_progress: u(&counts["in_progress"]).unwrap_or(0),
        interval_ms: interval,
        latest_id,
        latest_duration_ms: u(&latest["end_to_end_duration"]),
        latest_size_bytes: u(&latest["state_size"]),
        failing: failed_id.is_some_and(|f| latest_id.is_none_or(|c| f > c)),
    })
}

/// Per vertex, the worst subtask's start delay in a completed checkpoint (Flink 1.9 reports
/// no start delay itself: end_to_end − alignment − sync − async).
async fn start_delays(
    rest: &Rest<'_>,
    job: &str,
    cp: u64,
    vertices: &[(String, String, u64)],
) -> Vec<Option<u64>> {
    let mut out = Vec::new();
    for (vid, _, _) in vertices {
        let v = rest
            .json(&format!(
                "/jobs/{job}/checkpoints/details/{cp}/subtasks/{vid}"
            ))
            .await
            .ok();
        let worst = v.and_then(|v| {
            v["subtasks"].as_array().and_then(|subs| {
                subs.iter()
                    .filter_map(|s| {
                        let e2e = u(&s["end_to_end_duration"])?;
                        let align = u(&s["alignment"]["duration"]).unwrap_or(0);
                        let sync = u(&s["checkpoint"]["sync"]).unwrap_or(0);
                        let asyn = u(&s["checkpoint"]["async"]).unwrap_or(0);
                        Some(e2e.saturating_sub(align + sync + asyn))
                    })
                    .max()
            })
        });
        out.push(worst);
    }
    out
}

/// The rules that make a job degraded, each with the guide's advice.
fn problems(h: &JobHealth) -> Vec<String> {
    let mut p = Vec::new();
    if h.state != "RUNNING" {
        p.push(format!("the job is {}, not RUNNING", h.state));
    }
    if h.restarts > 0 {
        p.push(format!(
            "the job restarted {} time{}: look at its exceptions (/jobs/{}/exceptions)",
            h.restarts,
            if h.restarts == 1 { "" } else { "s" },
            h.id
        ));
    }
    for (i, v) in h.vertices.iter().enumerate() {
        if let Some(why) = &v.unsampled {
            p.push(format!(
                "the backpressure of `{}` is unknown: {why}; the job is not called healthy without it — run status again, or look at the JobManager's log if it keeps failing",
                v.name
            ));
        }
        if v.backpressure.as_deref() == Some("high") {
            let next = h
                .vertices
                .get(i + 1)
                .map(|n| format!("`{}`", n.name))
                .unwrap_or_else(|| "the vertex after it".into());
            p.push(format!(
                "HIGH backpressure on `{}` (ratio {:.2}): the vertex downstream, {next}, cannot keep up — raise its parallelism, or slow the source",
                v.name,
                v.ratio.unwrap_or(0.0)
            ));
        }
    }
    if let Some(c) = &h.checkpoints {
        if c.failing {
            p.push(format!(
                "checkpoints are failing ({} failed, the latest after the last completed one): look at the checkpoint history in the web UI and the TaskManager logs",
                c.failed
            ));
        }
        if let (Some(d), Some(i)) = (c.latest_duration_ms, c.interval_ms) {
            if d > i {
                p.push(format!(
                    "checkpoints take longer than their interval ({d} ms > {i} ms): set a minimum pause between checkpoints (CheckpointConfig.setMinPauseBetweenCheckpoints) so the job makes progress between them"
                ));
            }
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    const V19: crate::inventory::Version = crate::inventory::Version {
        major: 1,
        minor: 9,
        patch: 3,
    };

    #[test]
    fn sampling_follows_the_clusters_settings() {
        let cfg = serde_json::json!([
            {"key": "jobmanager.web.backpressure.num-samples", "value": "20"},
            {"key": "web.backpressure.delay-between-samples", "value": "100"},
            {"key": "akka.ask.timeout", "value": "30 s"},
        ]);
        let s = Sampling::from_config(&cfg, V19);
        assert_eq!(
            s,
            Sampling {
                refresh_ms: 60_000,
                num_samples: 20,
                delay_ms: 100,
                timeout_ms: 30_000
            }
        );
        assert_eq!(s.budget(), Duration::from_millis(2000 + 30_000 + 1000));
        assert_eq!(
            Sampling::from_config(&serde_json::json!([]), V19).budget(),
            Duration::from_secs(16)
        );
    }

    #[test]
    fn a_sample_within_the_refresh_interval_is_current() {
        let s = Sampling::defaults(V19);
        // Taken by an earlier status 20 s ago: the JobManager keeps answering with it.
        assert!(current(100_000, 120_000, None, &s));
        // Older than the refresh interval: wait for the one it triggers.
        assert!(!current(10_000, 120_000, None, &s));
        assert!(!current(10_000, 120_500, Some(10_000), &s));
        assert!(current(121_000, 122_000, Some(10_000), &s));
        // The JobManager's clock far behind ours: a new sample still counts once it replaces
        // the first one seen.
        assert!(current(50, 500_000, Some(10), &s));
    }

    #[test]
    fn finds_the_job_id() {
        let out = "Starting execution of program\nJob has been submitted with JobID 3f2a1b0c4d5e6f708192a3b4c5d6e7f8\n";
        assert_eq!(
            job_id(out).as_deref(),
            Some("3f2a1b0c4d5e6f708192a3b4c5d6e7f8")
        );
        assert_eq!(job_id("no job here"), None);
    }
}

/// Stop each running job with a savepoint (`flink stop -p DIR <job>`), reporting each
/// savepoint's path and how to resume from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Savepoint {
    pub flink: String,
    /// (id, name) of each job.
    pub jobs: Vec<(String, String)>,
    pub dir: String,
    pub jvm_args: Option<String>,
    pub target: Option<String>,
    /// The configuration the running cluster started with (file name, text), when the plan
    /// has already written one that turns TLS on or off: the client must speak as the
    /// running JobManager does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_conf: Option<(String, String)>,
}

impl fmt::Display for Savepoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stop {} job{} with a savepoint in {}: {}",
            self.jobs.len(),
            if self.jobs.len() == 1 { "" } else { "s" },
            self.dir,
            self.jobs
                .iter()
                .map(|(id, name)| format!("{id} `{name}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

pub async fn savepoint(
    s: &Savepoint,
    host: &HostId,
    fleet: &Fleet,
    rep: &dyn Reporter,
) -> Result<()> {
    let jm = fleet.get(host)?;
    for (id, name) in &s.jobs {
        let stop = client(
            &s.flink,
            s.jvm_args.as_deref(),
            s.target.as_deref(),
            "stop",
            &format!("-p {} {}", q(&s.dir), q(id)),
        );
        let script = match &s.running_conf {
            Some((file, text)) => format!(
                "T=$(mktemp -d) || exit 1\ncp -r \"$(dirname {flink})/../conf/.\" \"$T\"/ && printf '%s' {text} > \"$T\"/{file} && chmod 600 \"$T\"/{file} && export FLINK_CONF_DIR=\"$T\"\n{stop} 2>&1; rc=$?; rm -rf \"$T\"; exit $rc",
                flink = qp(&s.flink),
                text = q(text),
                file = q(file),
            ),
            None => format!("{stop} 2>&1"),
        };
        let out = jm.sh(host.as_str(), &script).await?;
        let path = out
            .stdout
            .lines()
            .find_map(|l| l.split("Path: ").nth(1))
            .map(|p| p.trim().to_string());
        match (out.ok(), path) {
            (true, Some(path)) => rep.event(&Event::Info {
                message: format!(
                    "job {id} `{name}` stopped with a savepoint at {path}; resume it with: {} run -s {path} <its jar>",
                    s.flink
                ),
            }),
            _ => {
                let tail: Vec<&str> = out.stdout.lines().rev().take(8).collect();
                return Err(Error::remote(
                    host.as_str(),
                    format!(
                        "job {id} `{name}` could not be stopped with a savepoint in {}: {}",
                        s.dir,
                        tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
                    ),
                ));
            }
        }
    }
    Ok(())
}
