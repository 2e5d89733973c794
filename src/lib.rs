//! flinkup: inventory → validated model → facts → plan (stages of self-contained actions) →
//! apply → verify. Products (Flink) are components behind one boundary; the engine knows none.

pub mod apply;
pub mod artifact;
pub mod cli;
mod commands;
pub mod components;
pub mod error;
pub mod facts;
pub mod fleet;
pub mod inventory;
pub mod plan;
pub mod remote;
pub mod report;

use clap::Parser;

/// Runs the command line and returns the process exit code.
pub fn run() -> i32 {
    let cli = cli::Cli::parse();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{}", error::render(&e));
            e.exit_code()
        }
    }
}
