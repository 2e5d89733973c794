//! flinkup: inventory → validated model → rendered files → plan → apply → verify.

pub mod apply;
pub mod artifact;
pub mod cli;
mod commands;
pub mod error;
pub mod facts;
pub mod inventory;
pub mod lock;
mod ops;
pub mod plan;
pub mod remote;
pub mod render;
pub mod report;
pub mod verify;

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
