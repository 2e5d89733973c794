//! Command-line arguments as typed, before anything is read or resolved.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Turns one inventory file into a running, verified Apache Flink standalone cluster.
///
/// Every command that changes hosts first shows the plan it will execute. Exit codes: 0 done,
/// 1 failed, 2 invalid input or refused (nothing changed), 130 interrupted.
#[derive(Debug, Parser)]
#[command(
    name = "flinkup",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args, Clone)]
pub struct InventoryArg {
    /// The inventory file (YAML) describing the cluster.
    #[arg(short, long, value_name = "FILE")]
    pub inventory: PathBuf,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FetchArgs {
    /// Where verified tarballs are kept [default: $XDG_CACHE_HOME/flinkup or ~/.cache/flinkup].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use a local `path:` artifact that has no checksum anywhere. Shown in red in the plan.
    #[arg(long)]
    pub insecure_no_checksum: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the inventory and report every problem; contacts nothing.
    Validate {
        #[command(flatten)]
        inv: InventoryArg,
    },
    /// Write the rendered flink-conf.yaml, slaves/workers and masters files to a directory.
    Render {
        #[command(flatten)]
        inv: InventoryArg,
        /// Directory to write into (created if missing).
        #[arg(short, long, value_name = "DIR")]
        output: PathBuf,
    },
    /// Show what deploy would do: uploads, file diffs, links, start and verification.
    Plan {
        #[command(flatten)]
        inv: InventoryArg,
        /// Plan as if every host were empty, contacting nothing.
        #[arg(long)]
        offline: bool,
        /// Print the plan as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        fetch: FetchArgs,
    },
    /// Download (or take from a local path) the Flink tarball and verify its checksum.
    Fetch {
        #[command(flatten)]
        inv: InventoryArg,
        #[command(flatten)]
        fetch: FetchArgs,
        /// No progress bar; a line per event.
        #[arg(short, long)]
        quiet: bool,
        /// Progress as JSON events, one per line.
        #[arg(long)]
        json: bool,
    },
}
