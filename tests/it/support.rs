//! A small fluent helper around the flinkup binary.

use std::path::{Path, PathBuf};
use std::process::Output;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub out: Output,
}

impl Run {
    pub fn code(&self) -> i32 {
        self.out.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }
    #[track_caller]
    pub fn expect_code(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Runs flinkup with `args` from the project root.
pub fn flinkup<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    flinkup_in(&root(), args)
}

/// Runs flinkup with these environment variables added (its state directory, say).
pub fn flinkup_env<I, S>(env: &[(&str, &std::path::Path)], args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = assert_cmd::Command::cargo_bin("flinkup").expect("the flinkup binary is built");
    cmd.current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.args(args).output().expect("flinkup runs");
    Run { out }
}

/// Runs flinkup with neither USER nor LOGNAME set (cron, `env -i`, some CI runners).
pub fn flinkup_without_user<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = assert_cmd::Command::cargo_bin("flinkup")
        .expect("the flinkup binary is built")
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args(args)
        .output()
        .expect("flinkup runs");
    Run { out }
}

pub fn flinkup_in<I, S>(dir: &Path, args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = assert_cmd::Command::cargo_bin("flinkup")
        .expect("the flinkup binary is built")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("CLICOLOR_FORCE")
        .args(args)
        .output()
        .expect("flinkup runs");
    Run { out }
}

/// Prints a line to the real standard output, past the test harness's capture, so summary
/// figures appear in every run's log.
pub fn report(line: String) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

impl Run {
    /// The JSON Lines stdout, one value per line; panics on a line that does not parse.
    pub fn json_lines(&self) -> Vec<serde_json::Value> {
        self.stdout()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .collect()
    }

    /// The first JSON Lines event of this kind.
    pub fn event(&self, kind: &str) -> serde_json::Value {
        self.json_lines()
            .into_iter()
            .find(|v| v["event"] == kind)
            .unwrap_or_else(|| panic!("no {kind} event in\n{}", self.stdout()))
    }
}
