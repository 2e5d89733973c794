//! Events from the runners, and the reporters that show them: the only code that touches the
//! terminal's progress bars. Runners emit [`Event`]s and never print.

use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use std::collections::HashMap;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A download begins (or resumes from `offset`).
    FetchStart {
        url: String,
        total: Option<u64>,
        offset: u64,
    },
    FetchProgress {
        bytes: u64,
    },
    /// A transient failure; the same source is tried again after `wait_ms`.
    FetchRetry {
        url: String,
        attempt: u32,
        reason: String,
        wait_ms: u64,
    },
    /// A source failed for good; the next mirror, if any, is tried.
    SourceFailed {
        url: String,
        reason: String,
    },
    CacheHit {
        path: String,
    },
    /// A cached file no longer matches its checksum: it is deleted and fetched again.
    CacheCorrupt {
        path: String,
        reason: String,
    },
    Verified {
        path: String,
        algorithm: String,
        hex: String,
    },
    /// One step on one host has started.
    Step {
        host: String,
        action: String,
        detail: String,
    },
    /// Bytes sent to a host during an upload.
    UploadProgress {
        host: String,
        bytes: u64,
        total: u64,
    },
    /// A host finished its steps (ok) or failed (with the reason).
    HostDone {
        host: String,
        ok: bool,
        message: String,
    },
    Warning {
        message: String,
    },
    Info {
        message: String,
    },
}

/// "1 TaskManager", "2 TaskManagers".
pub fn plural(n: u64, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// The version of the JSON Lines stream `--json` prints; its first line carries it.
pub const SCHEMA_VERSION: u32 = 1;

static JSON: AtomicBool = AtomicBool::new(false);
static SUMMARY: Mutex<Option<String>> = Mutex::new(None);

/// Prints one JSON object on its own line on standard output. A closed stdout (a reader
/// that went away) is not an error worth dying for.
pub fn json_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer(&mut out, v);
    let _ = writeln!(out);
    let _ = out.flush();
}

/// Starts a JSON Lines stream: every later output of the run is one object per line.
pub fn begin_json(command: &str) {
    JSON.store(true, Ordering::Relaxed);
    json_line(&serde_json::json!({
        "event": "schema",
        "version": SCHEMA_VERSION,
        "command": command,
        "flinkup": env!("CARGO_PKG_VERSION"),
    }));
}

pub fn json_mode() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// The one-line outcome of a command: printed as text, or kept for the JSON result event.
pub fn summary(text: impl Into<String>) {
    let text = text.into();
    if json_mode() {
        if let Ok(mut s) = SUMMARY.lock() {
            *s = Some(text);
        }
    } else {
        println!("{text}");
    }
}

/// A command's own report for the person at the terminal (a plan, a status, a check), on
/// standard output. A closed stdout is not an error worth dying for.
pub fn stdout(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// A line about the run for the person at the terminal (`-v` traces), on standard error.
pub fn trace(line: &str) {
    eprintln!("{line}");
}

/// The rendered error that ends a run, on standard error.
pub fn error_text(text: &str) {
    eprintln!("{text}");
}

/// The outcome for the JSON result event only (text output already says it).
pub fn result_summary(text: impl Into<String>) {
    if let Ok(mut s) = SUMMARY.lock() {
        *s = Some(text.into());
    }
}

/// Ends a JSON Lines stream: the error as an event, then the result.
pub fn finish_json(code: i32, error: Option<String>) {
    if !json_mode() {
        return;
    }
    if let Some(e) = &error {
        json_line(&serde_json::json!({"event": "error", "message": e, "exit_code": code}));
    }
    let summary = SUMMARY.lock().ok().and_then(|s| s.clone());
    json_line(&serde_json::json!({
        "event": "result",
        "ok": code == 0,
        "exit_code": code,
        "summary": summary.or(error),
    }));
}

pub trait Reporter: Send + Sync {
    fn event(&self, e: &Event);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Progress bars on a terminal.
    Bar,
    /// One line per event on stderr.
    Plain,
    /// One JSON object per event on stdout.
    Json,
}

impl Style {
    pub fn choose(quiet: bool, json: bool) -> Style {
        if json {
            Style::Json
        } else if quiet || !std::io::stderr().is_terminal() {
            Style::Plain
        } else {
            Style::Bar
        }
    }
}

pub fn reporter(style: Style) -> Box<dyn Reporter> {
    match style {
        Style::Bar => Box::new(Bars::default()),
        Style::Plain => Box::new(Plain::default()),
        Style::Json => Box::new(Json::default()),
    }
}

/// Plain text for one event; None for events only a progress display uses.
fn line(e: &Event) -> Option<String> {
    Some(match e {
        Event::FetchStart { url, total, offset } => match (offset, total) {
            (0, Some(t)) => format!("fetching {url} ({})", crate::inventory::units::human(*t)),
            (0, None) => format!("fetching {url}"),
            (o, _) => format!("resuming {url} from byte {o}"),
        },
        Event::FetchProgress { .. } | Event::UploadProgress { .. } => return None,
        Event::FetchRetry {
            url,
            attempt,
            reason,
            wait_ms,
        } => format!("retry {attempt} of {url} in {wait_ms} ms: {reason}"),
        Event::SourceFailed { url, reason } => format!("{url} failed: {reason}"),
        Event::CacheHit { path } => format!("using cached {path} (checksum verified)"),
        Event::CacheCorrupt { path, reason } => {
            format!("warning: cached {path} is corrupt ({reason}): deleted, fetching again")
        }
        Event::Verified {
            path,
            algorithm,
            hex,
        } => format!(
            "verified {path} ({algorithm} {}…)",
            &hex[..hex.len().min(16)]
        ),
        Event::Step {
            host,
            action,
            detail,
        } => format!("{host}: {action} {detail}"),
        Event::HostDone { host, ok, message } => {
            format!("{host}: {} {message}", if *ok { "done" } else { "FAILED" })
        }
        Event::Warning { message } => format!("warning: {message}"),
        Event::Info { message } => message.clone(),
    })
}

#[derive(Default)]
struct Plain {
    /// Last progress tenth printed, so a long download prints at most ten progress lines.
    tenth: Mutex<(u64, Option<u64>, u64)>,
}

impl Reporter for Plain {
    fn event(&self, e: &Event) {
        let mut err = std::io::stderr().lock();
        match e {
            Event::FetchStart { total, offset, .. } => {
                if let Ok(mut t) = self.tenth.lock() {
                    *t = (*offset, *total, 0);
                }
            }
            Event::FetchProgress { bytes } => {
                if let Ok(mut t) = self.tenth.lock() {
                    t.0 += bytes;
                    if let Some(total) = t.1.filter(|x| *x > 0) {
                        let now = t.0 * 10 / total;
                        if now > t.2 {
                            t.2 = now;
                            let _ = writeln!(err, "  {}%", now * 10);
                        }
                    }
                }
                return;
            }
            _ => {}
        }
        if let Some(l) = line(e) {
            let _ = writeln!(err, "{l}");
        }
    }
}

/// JSON Lines; progress at most four times a second per host (and download), plus the end.
#[derive(Default)]
struct Json {
    last: Mutex<HashMap<String, Instant>>,
}

impl Json {
    fn throttled(&self, key: &str, done: bool) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        let now = Instant::now();
        match last.get(key) {
            Some(t) if !done && now.duration_since(*t) < Duration::from_millis(250) => true,
            _ => {
                last.insert(key.to_string(), now);
                false
            }
        }
    }
}

impl Reporter for Json {
    fn event(&self, e: &Event) {
        let skip = match e {
            Event::UploadProgress { host, bytes, total } => self.throttled(host, bytes >= total),
            Event::FetchProgress { .. } => self.throttled("", false),
            _ => false,
        };
        if skip {
            return;
        }
        if let Ok(v) = serde_json::to_value(e) {
            json_line(&v);
        }
    }
}

/// Progress bars: one for the download, one per host for uploads, all under one
/// MultiProgress so that log lines print above them.
#[derive(Default)]
struct Bars {
    multi: MultiProgress,
    fetch: Mutex<Option<ProgressBar>>,
    uploads: Mutex<HashMap<String, ProgressBar>>,
    /// A spinner per host while it starts, stops or is verified.
    spinners: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn spin(&self, host: &str, text: String) {
        let Ok(mut sp) = self.spinners.lock() else {
            return;
        };
        let bar = sp.entry(host.to_string()).or_insert_with(|| {
            let b = self.multi.add(ProgressBar::new_spinner());
            b.set_style(
                ProgressStyle::with_template("{spinner} {prefix}: {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.set_prefix(host.to_string());
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        bar.set_message(text);
    }

    fn unspin(&self, host: &str) {
        if let Some(b) = self.spinners.lock().ok().and_then(|mut s| s.remove(host)) {
            b.finish_and_clear();
        }
    }
}

fn bar_style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Reporter for Bars {
    fn event(&self, e: &Event) {
        match e {
            Event::FetchStart { url, total, offset } => {
                let bar = match total {
                    Some(t) => ProgressBar::new(*t),
                    None => ProgressBar::new_spinner(),
                };
                let bar = self.multi.add(bar);
                bar.set_style(bar_style(
                    "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}",
                ));
                bar.set_message(url.rsplit('/').next().unwrap_or(url).to_string());
                bar.set_position(*offset);
                if let Ok(mut f) = self.fetch.lock() {
                    *f = Some(bar);
                }
            }
            Event::FetchProgress { bytes } => {
                if let Some(b) = self.fetch.lock().ok().and_then(|f| f.clone()) {
                    b.inc(*bytes);
                }
            }
            Event::UploadProgress { host, bytes, total } => {
                let Ok(mut ups) = self.uploads.lock() else {
                    return;
                };
                let bar = ups.entry(host.clone()).or_insert_with(|| {
                    let b = self.multi.add(ProgressBar::new(*total));
                    b.set_style(bar_style("{prefix:>20} upload [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}"));
                    b.set_prefix(host.clone());
                    b
                });
                bar.set_position(*bytes);
                if bytes >= total {
                    bar.finish_and_clear();
                    ups.remove(host);
                }
            }
            Event::Step {
                host,
                action,
                detail,
            } if matches!(action.as_str(), "start" | "stop" | "verify") => {
                self.spin(host, format!("{action} {detail}"));
            }
            other => {
                if let Event::HostDone { host, .. } = other {
                    self.unspin(host);
                }
                if let Some(l) = line(other) {
                    let _ = self.multi.println(l);
                }
                if matches!(other, Event::Verified { .. } | Event::SourceFailed { .. }) {
                    if let Some(b) = self.fetch.lock().ok().and_then(|mut f| f.take()) {
                        b.finish_and_clear();
                    }
                }
            }
        }
    }
}

/// A reporter that keeps events, for tests and for building summaries.
#[derive(Default)]
pub struct Collect(pub Mutex<Vec<Event>>);

impl Reporter for Collect {
    fn event(&self, e: &Event) {
        if let Ok(mut v) = self.0.lock() {
            v.push(e.clone());
        }
    }
}
