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
    long_version = long_version(),
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// When to colour output; NO_COLOR in the environment means never for `auto`.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,
    /// Print every remote command with its host and how long it took.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Treat inventory warnings as errors (a mistyped Flink key, say).
    #[arg(long, global = true, visible_alias = "strict")]
    pub deny_warnings: bool,
}

impl Cli {
    /// The global flags resolved into the command's own arguments, so nothing below reads a
    /// process-wide setting.
    pub fn resolved(mut self) -> Cli {
        let verbose = self.verbose;
        let remote = match &mut self.command {
            Command::Plan { remote, .. }
            | Command::Check { remote, .. }
            | Command::Status { remote, .. }
            | Command::Exec { remote, .. }
            | Command::History { remote, .. }
            | Command::Logs { remote, .. }
            | Command::Smoke { remote, .. } => Some(remote),
            Command::Deploy(a)
            | Command::Tls {
                command: TlsCommand::Rotate(a),
            } => Some(&mut a.remote),
            Command::Start(a) | Command::Unlock(a) => Some(&mut a.remote),
            Command::Stop(a) | Command::Rollback(a) | Command::Destroy(a) => {
                Some(&mut a.base.remote)
            }
            _ => None,
        };
        if let Some(r) = remote {
            r.verbose = verbose;
        }
        self
    }

    /// The command's name when it was asked for JSON Lines (`--json`).
    pub fn json_command(&self) -> Option<&'static str> {
        match &self.command {
            Command::Plan { json: true, .. } => Some("plan"),
            Command::Validate { json: true, .. } => Some("validate"),
            Command::Check { json: true, .. } => Some("check"),
            Command::Deploy(a) if a.output.json => Some("deploy"),
            Command::Tls {
                command: TlsCommand::Rotate(a),
            } if a.output.json => Some("tls rotate"),
            Command::Status { json: true, .. } => Some("status"),
            Command::Fetch { json: true, .. } => Some("fetch"),
            Command::Start(a) if a.output.json => Some("start"),
            Command::Stop(a) if a.base.output.json => Some("stop"),
            Command::Destroy(a) if a.base.output.json => Some("destroy"),
            Command::Unlock(a) if a.output.json => Some("unlock"),
            Command::Rollback(a) if a.base.output.json => Some("rollback"),
            Command::Smoke { output, .. } if output.json => Some("smoke"),
            _ => None,
        }
    }
}

/// `--version`: the version, the commit it was built from, the Flink versions it deploys, and
/// the releases its key catalogue knows.
pub fn long_version() -> &'static str {
    static TEXT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TEXT.get_or_init(|| {
        let known: Vec<String> = crate::components::flink::catalogue::releases()
            .iter()
            .map(|r| r.version.to_string())
            .collect();
        format!(
            "{} (commit {})\nsupported Flink versions: {} (default 1.9.2)\ntested on real hosts: {}\nkey catalogue, read from the releases: {}",
            env!("CARGO_PKG_VERSION"),
            env!("FLINKUP_COMMIT"),
            crate::components::flink::validate::supported_text(),
            crate::inventory::TESTED.join(", "),
            known.join(", ")
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Args, Clone)]
pub struct InventoryArg {
    /// The inventory file (YAML) describing the cluster; `-` reads it from standard input.
    #[arg(short, long, value_name = "FILE", env = "FLINKUP_INVENTORY")]
    pub inventory: PathBuf,
}

/// How flinkup reaches the hosts.
#[derive(Debug, Args, Clone, Default)]
pub struct RemoteArgs {
    /// An ssh_config file to use instead of ~/.ssh/config (passed to ssh as -F).
    #[arg(long, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// How many hosts are worked on at once.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// `-v`, resolved from the global flag once the command line is parsed.
    #[arg(skip)]
    pub verbose: bool,
}

/// How progress is shown.
#[derive(Debug, Args, Clone, Default)]
pub struct OutputArgs {
    /// No progress bars; a line per event.
    #[arg(short, long)]
    pub quiet: bool,
    /// Machine-readable output: the plan or status as JSON, progress as JSON lines.
    #[arg(long)]
    pub json: bool,
}

/// What every command that changes an installed cluster takes.
#[derive(Debug, Args, Clone)]
pub struct LifecycleArgs {
    #[command(flatten)]
    pub inv: InventoryArg,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A command that stops daemons: what it does with the jobs running on them.
#[derive(Debug, Args, Clone)]
pub struct StoppingArgs {
    #[command(flatten)]
    pub base: LifecycleArgs,
    #[command(flatten)]
    pub jobs: JobsArgs,
}

/// Running jobs on daemons a plan stops: refused unless savepointed first or forced.
#[derive(Debug, Args, Clone, Default)]
pub struct JobsArgs {
    /// Stop running jobs with a savepoint in DIR (`flink stop -p DIR`) before stopping the
    /// daemons they run on; DIR must be writable by every Flink host (shared storage).
    #[arg(long, value_name = "DIR")]
    pub savepoint: Option<String>,
    /// Go ahead even when running jobs would be lost (deploy: also remove the JobManager host
    /// or every TaskManager host of the recorded cluster).
    #[arg(long)]
    pub force: bool,
}

/// How a command that changes hosts is carried out.
#[derive(Debug, Args, Clone, Default)]
pub struct RunArgs {
    /// Gather facts read-only, print the plan (JSON with --json), change nothing, exit 0.
    #[arg(long)]
    pub dry_run: bool,
    /// Answer yes to the confirmation. Without a terminal, commands that ask refuse unless
    /// this is given.
    #[arg(short, long)]
    pub yes: bool,
    /// Act on one component only: its stages run, the others' are left out of the plan.
    #[arg(long, value_name = "COMPONENT")]
    pub only: Option<Only>,
}

/// How deploy changes a running cluster.
#[derive(Debug, Args, Clone, Default)]
pub struct Day2Args {
    /// TaskManager hosts restarted at a time when their configuration changed; each batch
    /// is verified before the next.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub batch: usize,
    #[command(flatten)]
    pub jobs: JobsArgs,
    /// Leave the files of hosts removed from the inventory in place (their daemons stop).
    #[arg(long)]
    pub keep_files: bool,
    /// Install and configure everything, start nothing (staging before a maintenance
    /// window); a later deploy only starts and verifies.
    #[arg(long)]
    pub no_start: bool,
}

/// A registered component `--only` names (any case: `flink`, `Fornaxee`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Only(&'static str);

impl Only {
    /// The component's name as plans give it.
    pub fn component(self) -> crate::plan::ComponentId {
        crate::plan::ComponentId(self.0)
    }

    /// Whether it names this component.
    pub fn is(self, name: &str) -> bool {
        self.0 == name
    }
}

impl std::str::FromStr for Only {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let names: Vec<&'static str> = crate::components::registry()
            .iter()
            .map(|c| c.name())
            .collect();
        names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(s))
            .map(|n| Only(n))
            .ok_or_else(|| {
                format!(
                    "no component named `{s}`; components: {}",
                    names
                        .iter()
                        .map(|n| n.to_lowercase())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })
    }
}

#[derive(Debug, Subcommand)]
pub enum TlsCommand {
    /// New certificates, keys and passwords under the cluster's CA, distributed and the
    /// daemons restarted with them (the JobManager, then the TaskManagers in verified
    /// batches; running jobs protected as for any restart), verified. A plan like deploy's:
    /// --dry-run shows it and keeps the current certificates.
    Rotate(DeployArgs),
}

/// What `deploy` (and `tls rotate`, a deploy with new certificates) takes.
#[derive(Debug, Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub inv: InventoryArg,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub day2: Day2Args,
    #[command(flatten)]
    pub fetch: FetchArgs,
    #[command(flatten)]
    pub remote: RemoteArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Subcommand)]
pub enum HistoryShow {
    /// One entry: who, from where, the inventory's hash, each stage's outcome, the plan.
    Show {
        /// The entry's id, or its first characters.
        id: String,
    },
}

/// What `logs` prints.
#[derive(Debug, Args, Clone, Default)]
pub struct LogsArgs {
    /// Only this component's logs.
    #[arg(long, value_name = "COMPONENT")]
    pub component: Option<Only>,
    /// Only this daemon's logs: jobmanager, taskmanager, zookeeper, fornaxee.
    #[arg(long, value_name = "DAEMON")]
    pub daemon: Option<String>,
    /// Lines from the end of each log.
    #[arg(short = 'n', long, default_value_t = 50, value_name = "N")]
    pub lines: usize,
    /// Only lines matching this extended regular expression (grep -E, on the host).
    #[arg(long, value_name = "PATTERN")]
    pub grep: Option<String>,
    /// Only lines logged in the last DURATION (`10m`, `2h`; by the host's clock and the
    /// lines' own timestamps; a stack trace goes with the line it follows).
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub since: Option<std::time::Duration>,
    /// Keep printing new lines as they are written, from every log at once, until Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,
}

/// Which hosts a command works on: all of the inventory's, or those picked.
#[derive(Debug, Args, Clone, Default)]
pub struct PickArgs {
    /// A host, as the inventory names it or by its address (repeat for several).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Hosts that have this role: jobmanager, taskmanager, zookeeper, fornaxee.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
}

#[derive(Debug, Args, Clone, Default)]
pub struct FetchArgs {
    /// Where verified tarballs are kept [default: $XDG_CACHE_HOME/flinkup or ~/.cache/flinkup].
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Use a local `path:` artifact that has no checksum anywhere. Shown in red in the plan.
    #[arg(long)]
    pub insecure_no_checksum: bool,
    /// Take every archive from this site kit (`flinkup kit`), checked against its manifest;
    /// no URL is contacted.
    #[arg(long, value_name = "SITE.kit")]
    pub kit: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the inventory and report every problem; contacts nothing.
    Validate {
        #[command(flatten)]
        inv: InventoryArg,
        /// JSON Lines: each problem an event with file, line, column, key and help.
        #[arg(long)]
        json: bool,
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
    ///
    /// Without --offline it connects to every host read-only and plans from what is there.
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
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// Make the hosts match the inventory, start the cluster and verify it.
    ///
    /// Fetches and verifies the tarball, gathers facts, shows the plan, asks for confirmation,
    /// then executes exactly that plan. A re-run with nothing changed changes nothing.
    Deploy(DeployArgs),
    /// Preflight: ssh, write access, java, disk space, ports, host name resolution.
    Check {
        #[command(flatten)]
        inv: InventoryArg,
        #[command(flatten)]
        remote: RemoteArgs,
        /// JSON Lines: an event per host (what is fine, what is found) and per finding.
        #[arg(long)]
        json: bool,
    },
    /// Per host: reachable, release, daemons, Fornaxee; the cluster's REST figures; every job's
    /// health. Exit 0 healthy, 1 degraded.
    ///
    /// Degraded when: a host cannot be reached; no JobManager's REST API answers; a
    /// TaskManager of the inventory does not run, has not registered, or an unlisted one has;
    /// one of several JobManagers does not run (one standby fewer); a Fornaxee service does
    /// not run or its health path does not answer 200; a running job has restarted, fails its
    /// checkpoints, takes longer for a checkpoint than its interval, or shows HIGH (or
    /// unsampled) backpressure; the ZooKeeper quorum is lost; a TaskManager log says network
    /// buffers ran out. Not deployed or stopped clusters say so and what to run.
    Status {
        #[command(flatten)]
        inv: InventoryArg,
        #[command(flatten)]
        remote: RemoteArgs,
        /// Print the status as JSON.
        #[arg(long)]
        json: bool,
        /// Read and print the status again every SECONDS (in place on a terminal) until Ctrl-C.
        #[arg(long, value_name = "SECONDS")]
        watch: Option<u64>,
    },
    /// Start what is installed and not running (as `flink.start` says), then verify.
    Start(LifecycleArgs),
    /// Stop every Flink daemon of the cluster; no Flink JVM is left running.
    Stop(StoppingArgs),
    /// Remove the deploy lock left on the JobManager host by a run that was killed.
    Unlock(LifecycleArgs),
    /// Go back to the Flink release installed before the current one: stop, switch the link
    /// back, start, verify. Shows the plan and asks first.
    Rollback(StoppingArgs),
    /// Stop the cluster and remove what flinkup installed (releases, link, state, its
    /// ~/.ssh/config block); nothing else. Shows the plan and asks first.
    Destroy(StoppingArgs),
    /// Prove the cluster runs jobs: submit one with `bin/flink run -d` on the JobManager host
    /// (by default the distribution's examples/streaming/WordCount.jar) and wait until it
    /// finishes; on failure, its exception and the TaskManagers' log tails.
    Smoke {
        #[command(flatten)]
        inv: InventoryArg,
        /// A job jar on this machine, uploaded and checked on the JobManager host.
        #[arg(long, value_name = "JAR")]
        jar: Option<PathBuf>,
        #[command(flatten)]
        run: RunArgs,
        #[command(flatten)]
        remote: RemoteArgs,
        #[command(flatten)]
        output: OutputArgs,
        /// Arguments passed to the job, after `--`.
        #[arg(last = true, value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Print the cluster's CA certificate (PEM) so a browser or `curl --cacert` trusts its
    /// REST API (`tls:`); made with the cluster's first TLS plan, kept on this machine.
    Ca {
        #[command(flatten)]
        inv: InventoryArg,
    },
    /// The cluster's TLS (`tls:`): `flinkup tls rotate` renews its certificates.
    Tls {
        #[command(subcommand)]
        command: TlsCommand,
    },
    /// Run a shell command on the cluster's hosts (all, or those --host and --role pick), at
    /// most --concurrency at once; each output line prefixed with its host, each host's exit
    /// status reported. Exit 1 when any host failed or was not reached.
    Exec {
        #[command(flatten)]
        inv: InventoryArg,
        #[command(flatten)]
        pick: PickArgs,
        #[command(flatten)]
        remote: RemoteArgs,
        /// The command, after `--`; run by the host's sh.
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Open a shell on a host of the inventory (by name or address) with the ssh settings
    /// flinkup uses there; with `-- COMMAND`, run that instead. Exits with ssh's status.
    Ssh {
        #[command(flatten)]
        inv: InventoryArg,
        /// The host, as the inventory names it or by its address.
        #[arg(value_name = "HOST")]
        host: String,
        /// An ssh_config file to use instead of ~/.ssh/config (passed to ssh as -F).
        #[arg(long, value_name = "FILE")]
        ssh_config: Option<PathBuf>,
        /// A command to run instead of a login shell.
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Print the daemons' own log files from the hosts that run them, each line prefixed with
    /// its host and daemon; known failures (network buffers, ports taken, Java module options)
    /// are pointed out as they pass. `-f` follows every log at once until Ctrl-C.
    Logs {
        #[command(flatten)]
        inv: InventoryArg,
        #[command(flatten)]
        pick: PickArgs,
        #[command(flatten)]
        ask: LogsArgs,
        #[command(flatten)]
        remote: RemoteArgs,
    },
    /// The history of every plan applied to the cluster, kept on its JobManager host: when,
    /// by whom, the command and how each stage ended. `history show ID` prints one entry with
    /// the plan that ran.
    History {
        #[command(flatten)]
        inv: InventoryArg,
        #[command(flatten)]
        remote: RemoteArgs,
        /// One JSON object per entry, oldest first.
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        show: Option<HistoryShow>,
    },
    /// Print a shell completion script: `flinkup completions bash > /etc/bash_completion.d/flinkup`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print a man page (roff), or write them all: `flinkup man --dir /usr/local/share/man`
    /// installs flinkup(1), flinkup-<command>(1) for every command and the inventory
    /// reference flinkup-inventory(5).
    Man {
        /// The page: a command (`deploy`) or `inventory`; none: flinkup(1).
        #[arg(value_name = "PAGE")]
        page: Option<String>,
        /// Write every page under DIR/man1 and DIR/man5 instead of printing one.
        #[arg(long, value_name = "DIR", conflicts_with = "page")]
        dir: Option<PathBuf>,
    },
    /// Make a site kit: one file with this flinkup, the inventory and every archive it needs,
    /// each with its sha512, for a site without internet (`deploy --kit SITE.kit` there).
    Kit {
        #[command(flatten)]
        inv: InventoryArg,
        /// The kit to write.
        #[arg(short, long, value_name = "SITE.kit")]
        output: PathBuf,
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
