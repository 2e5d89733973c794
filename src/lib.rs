//! flinkup: inventory → validated model → facts → plan (stages of self-contained actions) →
//! apply → verify. Products (Flink) are components behind one boundary; the engine knows none.

pub mod apply;
pub mod artifact;
pub mod cli;
mod commands;
pub mod components;
pub mod compose;
pub mod diagnostic;
pub mod error;
pub mod facts;
pub mod fleet;
pub mod inventory;
pub mod man;
pub mod plan;
pub mod remote;
pub mod report;
pub mod secrets;

use clap::Parser;

/// Runs the command line and returns the process exit code.
pub fn run() -> i32 {
    let cli = cli::Cli::parse().resolved();
    let color = match cli.color {
        cli::ColorChoice::Always => true,
        cli::ColorChoice::Never => false,
        cli::ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && report::stdout_is_terminal()
        }
    };
    console::set_colors_enabled(color);
    console::set_colors_enabled_stderr(color);
    if let Some(command) = cli.json_command() {
        report::begin_json(command);
    }
    match commands::dispatch(cli) {
        Ok(code) => {
            report::finish_json(code, None);
            code
        }
        Err(e) => {
            report::error_text(&error::render(&e));
            let diags = match &e {
                error::Error::Inventory(d) => d.as_slice(),
                _ => &[],
            };
            report::finish_json_with(e.exit_code(), Some(e.to_string()), diags);
            e.exit_code()
        }
    }
}
