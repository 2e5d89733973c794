//! One file per subcommand: resolve arguments, gather facts, build the plan, show it,
//! confirm, run it. What they share lives here: loading the inventory, connecting, gathering
//! facts, the deploy lock, confirmation prompts, and executing a plan.

mod check;
mod deploy;
mod lifecycle;
mod ops;
mod status;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::apply::{Interrupt, Runner};
use crate::artifact::{self, FetchOptions};
use crate::cli::{Cli, Command, FetchArgs, JobsArgs, LifecycleArgs, RemoteArgs};
use crate::components::flink::{self, plan::ArtifactState, render::Renderer, tls::Issue};
use crate::components::fornaxee;
use crate::compose::{self, gather, BundleAtHand, Removed};
use crate::error::{exit, Error, Result};
use crate::facts::Facts;
use crate::fleet::{lock, Fleet, CONNECT_TIMEOUT};
use crate::inventory::{self, Cluster, LoadOptions, Loaded};
use crate::plan::{self, Plan, PlanMode};
use crate::remote::ConnectOptions;
use crate::report::{self, Event, Reporter, Style};

pub fn dispatch(cli: Cli) -> Result<i32> {
    // `--deny-warnings`, for every command that loads the inventory.
    let deny = cli.deny_warnings;
    let opts = |insecure_no_checksum: bool| LoadOptions {
        insecure_no_checksum,
        deny_warnings: deny,
    };
    let load = |path: &Path, insecure_no_checksum: bool| {
        load(path, opts(insecure_no_checksum)).and_then(|l| with_tls(l, Issue::Keep, true))
    };
    match cli.command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "flinkup", &mut buf);
            write_stdout(&buf)
        }
        Command::Man { page, dir } => match dir {
            Some(dir) => crate::man::install(&dir),
            None => write_stdout(&crate::man::page(page.as_deref())?),
        },
        // Read-only: the TLS material is neither made nor read.
        Command::Validate { inv, .. } => validate(self::load(&inv.inventory, opts(false))?),
        Command::Render { inv, output } => render(load(&inv.inventory, false)?, &output),
        Command::Plan {
            inv,
            offline,
            json,
            fetch,
            remote,
        } => {
            let mut loaded = load(&inv.inventory, fetch.insecure_no_checksum)?;
            let _kit = from_kit(&fetch, &mut loaded)?;
            if offline {
                offline_plan(&loaded, &fetch, json)
            } else {
                runtime()?.block_on(deploy::preview(
                    &loaded,
                    None,
                    &Default::default(),
                    &fetch,
                    &remote,
                    json,
                ))
            }
        }
        Command::Deploy(a) => {
            let mut loaded = load(&a.inv.inventory, a.fetch.insecure_no_checksum)?;
            let _kit = from_kit(&a.fetch, &mut loaded)?;
            deploy_or_preview(&loaded, "deploy", &a)
        }
        Command::Check { inv, remote, json } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(check::check(&loaded, &remote, json))
        }
        Command::Status {
            inv,
            remote,
            json,
            watch,
        } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(status::status(&loaded, &remote, json, watch))
        }
        Command::Exec {
            inv,
            pick,
            remote,
            command,
        } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::exec(&loaded, &pick, &remote, &command))
        }
        Command::History {
            inv,
            remote,
            json,
            show,
        } => {
            let loaded = load(&inv.inventory, false)?;
            let id = show.map(|crate::cli::HistoryShow::Show { id }| id);
            runtime()?.block_on(ops::history(&loaded, &remote, json, id.as_deref()))
        }
        Command::Ssh {
            inv,
            host,
            ssh_config,
            command,
        } => {
            let loaded = load(&inv.inventory, false)?;
            ops::ssh(&loaded, &host, ssh_config, &command)
        }
        Command::Logs {
            inv,
            pick,
            ask,
            remote,
        } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::logs(&loaded, &pick, &ask, &remote))
        }
        Command::Start(a) => {
            let loaded = load(&a.inv.inventory, false)?;
            lifecycle(lifecycle::Verb::Start, &loaded, a, None)
        }
        Command::Stop(a) => {
            let loaded = load(&a.base.inv.inventory, false)?;
            lifecycle(lifecycle::Verb::Stop, &loaded, a.base, Some(a.jobs))
        }
        Command::Destroy(a) => {
            let loaded = load(&a.base.inv.inventory, false)?;
            lifecycle(lifecycle::Verb::Destroy, &loaded, a.base, Some(a.jobs))
        }
        Command::Rollback(a) => {
            let loaded = load(&a.base.inv.inventory, false)?;
            lifecycle(lifecycle::Verb::Rollback, &loaded, a.base, Some(a.jobs))
        }
        Command::Ca { inv } => {
            let loaded = load(&inv.inventory, false)?;
            match loaded.cluster.tls_material() {
                Some(m) => write_stdout(m.ca_pem().as_bytes()),
                None => Err(no_tls(&loaded, "")),
            }
        }
        Command::Tls {
            command: crate::cli::TlsCommand::Rotate(a),
        } => {
            let plain = self::load(&a.inv.inventory, opts(a.fetch.insecure_no_checksum))?;
            if plain.cluster.tls.is_none() {
                return Err(no_tls(&plain, " to rotate"));
            }
            // Kept only once the plan that distributes them ran to the end: until then the
            // hosts' certificates and the ones here are both valid under the same CA.
            let mut loaded = with_tls(plain, Issue::Rotate, false)?;
            let _kit = from_kit(&a.fetch, &mut loaded)?;
            let code = deploy_or_preview(&loaded, "tls rotate", &a)?;
            if code == exit::OK && !a.run.dry_run {
                if let Some(m) = loaded.cluster.tls_material() {
                    m.save()?;
                }
            }
            Ok(code)
        }
        Command::Unlock(a) => {
            let loaded = load(&a.inv.inventory, false)?;
            runtime()?.block_on(lifecycle::unlock(&loaded, &a.run, &a.remote, &a.output))
        }
        Command::Smoke {
            inv,
            jar,
            run,
            remote,
            output,
            args,
        } => {
            let loaded = load(&inv.inventory, false)?;
            let args = (!args.is_empty()).then_some(args);
            runtime()?.block_on(lifecycle::smoke(
                &loaded,
                jar.as_deref(),
                args,
                &run,
                &remote,
                &output,
            ))
        }
        Command::Kit { inv, output, fetch } => {
            let loaded = load(&inv.inventory, fetch.insecure_no_checksum)?;
            runtime()?.block_on(make_kit(&loaded, &output, &fetch))
        }
        Command::Fetch {
            inv,
            fetch,
            quiet,
            json,
        } => {
            let mut loaded = load(&inv.inventory, fetch.insecure_no_checksum)?;
            let _kit = from_kit(&fetch, &mut loaded)?;
            let opts = FetchOptions::new(fetch.cache_dir.clone());
            let rep = report::reporter(Style::choose(quiet, json));
            let c = &loaded.cluster;
            // Every archive the inventory names: Flink's release, Fornaxee's bundle, the Java
            // runtime.
            let arts = std::iter::once(&c.artifact)
                .chain(c.fornaxee.as_ref().map(|f| &f.artifact))
                .chain(c.java.as_ref().map(|j| &j.artifact));
            for art in arts {
                let got = runtime()?.block_on(artifact::fetch(art, &opts, rep.as_ref()))?;
                if !json {
                    // sha512sum format, so the line can be checked with `sha512sum -c`.
                    report::stdout(&format!("{}  {}\n", got.sha512, got.path.display()));
                }
            }
            Ok(exit::OK)
        }
    }
}

/// Writes generated text; a reader that closed the pipe early (`| head`) is fine.
fn write_stdout(bytes: &[u8]) -> Result<i32> {
    report::stdout_bytes(bytes)
        .map(|_| exit::OK)
        .map_err(|e| Error::io("cannot write to standard output", e))
}

fn lifecycle(
    verb: lifecycle::Verb,
    loaded: &Loaded,
    a: LifecycleArgs,
    jobs: Option<JobsArgs>,
) -> Result<i32> {
    runtime()?.block_on(lifecycle::run(
        verb,
        loaded,
        &a.run,
        &a.remote,
        &a.output,
        &jobs.unwrap_or_default(),
    ))
}

/// With `--kit`, the inventory's archives come from the kit (kept unpacked while the command
/// runs).
fn from_kit(fetch: &FetchArgs, loaded: &mut Loaded) -> Result<Option<artifact::kit::Opened>> {
    let Some(path) = &fetch.kit else {
        return Ok(None);
    };
    let kit = artifact::kit::open(path)?;
    artifact::kit::apply(&kit, loaded, path)?;
    Ok(Some(kit))
}

/// `flinkup kit`: every archive fetched and verified, then written with this binary and the
/// inventory into one file.
async fn make_kit(loaded: &Loaded, out: &Path, fetch: &FetchArgs) -> Result<i32> {
    let c = &loaded.cluster;
    if c.source == Path::new("<stdin>") {
        return Err(Error::Usage(
            "a kit carries its inventory: give the inventory as a file, not on standard input"
                .into(),
        ));
    }
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    let rep = report::reporter(Style::choose(false, false));
    let flink = artifact::fetch(&c.artifact, &opts, rep.as_ref()).await?;
    let exe = std::env::current_exe()
        .map_err(|e| Error::io("cannot find this flinkup's own binary", e))?;
    let mut files = vec![
        (
            "flinkup".to_string(),
            "flinkup",
            Some(env!("CARGO_PKG_VERSION").to_string()),
            exe,
        ),
        (
            "inventory.yaml".to_string(),
            "inventory",
            None,
            c.source.clone(),
        ),
        (
            format!("artifacts/{}", c.artifact.file_name),
            "flink",
            Some(c.version.to_string()),
            flink.path,
        ),
    ];
    if let Some(f) = &c.fornaxee {
        let got = artifact::fetch(&f.artifact, &opts, rep.as_ref()).await?;
        files.push((
            format!("artifacts/{}", f.artifact.file_name),
            "fornaxee",
            Some(f.version.clone()),
            got.path,
        ));
    }
    if let (Some(j), Some(jdk)) = (
        &c.java,
        java_runtime(c, fetch, rep.as_ref(), true, false).await?,
    ) {
        files.push((
            format!("artifacts/{}", j.artifact.file_name),
            "java",
            Some(jdk.version),
            jdk.art.local.map(PathBuf::from).unwrap_or_default(),
        ));
    }
    let m = artifact::kit::write(out, &c.name, &files)?;
    let size: u64 = m.entries.iter().map(|e| e.size).sum();
    report::summary(format!(
        "{}: {} entries ({}), flinkup {} for {}; at the site: tar xf {} flinkup inventory.yaml && ./flinkup deploy --kit {} -i inventory.yaml",
        out.display(),
        m.entries.len(),
        crate::inventory::units::human(size),
        m.flinkup,
        m.platform,
        out.display(),
        out.display()
    ));
    Ok(exit::OK)
}

fn load(path: &Path, opts: LoadOptions) -> Result<Loaded> {
    let loaded = inventory::load(path, opts)?;
    for w in &loaded.warnings {
        if report::json_mode() {
            report::json_line(&w.event());
        } else {
            report::trace(&format!("{w}\n"));
        }
    }
    Ok(loaded)
}

/// `deploy`'s plan shown (`--dry-run`) or applied.
fn deploy_or_preview(
    loaded: &Loaded,
    command: &'static str,
    a: &crate::cli::DeployArgs,
) -> Result<i32> {
    if a.run.dry_run {
        return runtime()?.block_on(deploy::preview(
            loaded,
            a.run.only,
            &a.day2,
            &a.fetch,
            &a.remote,
            a.output.json,
        ));
    }
    runtime()?.block_on(deploy::deploy(
        loaded, command, &a.run, &a.day2, &a.fetch, &a.remote, &a.output,
    ))
}

/// A TLS command on a cluster without `tls:`.
fn no_tls(loaded: &Loaded, what: &str) -> Error {
    Error::Failed(format!(
        "cluster {} has no TLS{what}: add `tls: {{enabled: true}}` to {} and deploy",
        loaded.cluster.name,
        loaded.cluster.source.display()
    ))
}

/// Loads the cluster's TLS material (made the first time) into the validated cluster.
pub(crate) fn with_tls(mut loaded: Loaded, issue: Issue, save: bool) -> Result<Loaded> {
    let c = &loaded.cluster;
    if let Some(t) = &c.tls {
        let m = flink::tls::load(c, t, issue, save)?;
        if let Some(t) = loaded.cluster.tls.as_mut() {
            t.material = Some(m);
        }
    }
    Ok(loaded)
}

fn validate(loaded: Loaded) -> Result<i32> {
    let c = &loaded.cluster;
    let text = format!(
        "{}: valid. Cluster {}, Flink {}: {}{}",
        c.source.display(),
        c.name,
        c.version,
        c.topology(),
        match loaded.warnings.len() {
            0 => String::new(),
            n => format!(" ({n} warning{})", if n == 1 { "" } else { "s" }),
        }
    );
    if report::json_mode() {
        report::summary(text);
    } else {
        report::stdout(&format!("{text}\n"));
    }
    Ok(exit::OK)
}

fn render(loaded: Loaded, out: &Path) -> Result<i32> {
    use crate::components::flink::render::HostExtras;
    let c = &loaded.cluster;
    let renderer = Renderer::new(c)?;
    if out.exists() && !out.is_dir() {
        return Err(Error::Usage(format!(
            "{} is a file, and render writes a directory of files: give a directory (it is created if missing)",
            out.display()
        )));
    }
    std::fs::create_dir_all(out).map_err(|e| {
        Error::Usage(format!(
            "cannot create the directory {}: {}",
            out.display(),
            inventory::plain_io(&e)
        ))
    })?;
    let jm = c.jobmanager();
    let files = renderer.render(c, &HostExtras::for_host(c, jm, None, &c.release_dir()))?;
    for f in &files {
        let p = out.join(&f.name);
        std::fs::write(&p, &f.content)
            .map_err(|e| Error::io(format!("cannot write {}", p.display()), e))?;
        if crate::secrets::carries_secrets(&f.content) {
            // Passwords (tls:): readable by this user only, as on the hosts.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io(format!("cannot make {} private", p.display()), e))?;
        }
        report::stdout(&format!("wrote {}\n", p.display()));
    }
    Ok(exit::OK)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))
}

/// What is known of the tarball without downloading: pinned or cached sha512, local size.
fn artifact_state(c: &Cluster, fetch: &FetchArgs) -> ArtifactState {
    let cache = FetchOptions::new(fetch.cache_dir.clone()).cache_dir;
    // A local file's own .sha512 says which file it is; a cache entry found by file name
    // may be another file of the same name.
    let sidecar = c
        .artifact
        .path
        .as_ref()
        .and_then(|p| std::fs::read_to_string(format!("{}.sha512", p.display())).ok())
        .and_then(|t| artifact::parse_sidecar(&t).ok())
        .filter(|(algo, _)| *algo == inventory::HashAlgo::Sha512)
        .map(|(_, hex)| hex);
    let sha512 = c
        .artifact
        .checksum
        .pinned_sha512()
        .or(sidecar)
        .or_else(|| artifact::cached_sha512(&c.artifact, &cache));
    let size = c
        .artifact
        .path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .or_else(|| artifact::cached_size(&c.artifact, &cache));
    ArtifactState {
        local: None,
        sha512,
        size,
        cached: Some(artifact::is_cached(&c.artifact, &cache)),
    }
}

fn offline_plan(loaded: &Loaded, fetch: &FetchArgs, json: bool) -> Result<i32> {
    let c = &loaded.cluster;
    let facts = Facts::default();
    let mut art = artifact_state(c, fetch);
    art.sha512 = c.artifact.checksum.pinned_sha512();
    let rep = report::reporter(Style::Plain);
    let bundle = runtime()?.block_on(fornaxee_bundle(c, fetch, rep.as_ref(), true))?;
    let plan = compose::deploy(
        loaded,
        &facts,
        compose::DeployAsk {
            jdk: None,
            mode: PlanMode::Offline,
            art,
            bundle: bundle.as_ref(),
            only: None,
            day2: &Default::default(),
            smoke: smoke_job(c, None, None)?,
            renderer: &Renderer::new(c)?,
        },
    )?;
    print_plan(&plan, json);
    Ok(exit::OK)
}

pub(crate) fn print_plan(plan: &Plan, json: bool) {
    let changes = plan.actions().filter(|a| a.changes_hosts()).count();
    report::result_summary(format!(
        "{} plan: {changes} change{}, {} refusal{}",
        plan.command,
        if changes == 1 { "" } else { "s" },
        plan.refusals().len(),
        if plan.refusals().len() == 1 { "" } else { "s" }
    ));
    if json {
        let _ = report::stdout_bytes(&plan::display::json_line(plan));
    } else {
        report::stdout(&plan::display::colored(&plan::display::text(plan)));
    }
}

fn connect_options(args: &RemoteArgs) -> ConnectOptions {
    ConnectOptions {
        ssh_config: args.ssh_config.clone(),
        connect_timeout: Some(CONNECT_TIMEOUT),
        verbose: args.verbose,
    }
}

/// Connects to every host of the run; any unreachable host refuses the command.
async fn connect(c: &Cluster, args: &RemoteArgs) -> Result<Fleet> {
    Fleet::connect(
        &compose::all_hosts(c),
        &connect_options(args),
        args.concurrency,
    )
    .await
}

/// Like [`connect`], then also to the hosts flinkup recorded at its last deploy that the
/// inventory no longer lists (their daemons must stop); those may be unreachable.
async fn connect_recorded(c: &Cluster, args: &RemoteArgs) -> Result<(Fleet, Removed)> {
    let mut fleet = connect(c, args).await?;
    let mut removed = Removed::default();
    if !c.manages_flink() {
        return Ok((fleet, removed));
    }
    let jm = flink::coordinator(c);
    let script = format!(
        "cat {} 2>/dev/null; exit 0",
        crate::remote::qp(&flink::record::file(c))
    );
    let record: Option<flink::record::Record> = match fleet.get(&jm) {
        Ok(r) => r
            .sh(jm.as_str(), &script)
            .await
            .ok()
            .and_then(|o| serde_json::from_str(&o.stdout).ok()),
        Err(_) => None,
    };
    // Read once: the facts of this run take it from here.
    removed.record = Some(record.clone());
    let Some(record) = record else {
        return Ok((fleet, removed));
    };
    let gone: Vec<inventory::Host> = record
        .hosts
        .iter()
        .filter(|r| !c.hosts.iter().any(|h| h.name == r.name))
        .map(|r| flink::record::host(r, c.jobmanager()))
        .collect();
    if gone.is_empty() {
        return Ok((fleet, removed));
    }
    let refs: Vec<&inventory::Host> = gone.iter().collect();
    let (more, failures) =
        Fleet::connect_lenient(&refs, &connect_options(args), args.concurrency).await;
    fleet.merge(more);
    removed.unreachable = failures
        .into_iter()
        .map(|f| (f.host, f.error.to_string()))
        .collect();
    removed.hosts = gone;
    Ok((fleet, removed))
}

/// Fetches (verifying its checksum) and inspects the inventory's Fornaxee bundle. With
/// `at_hand_only`, a bundle that is neither local nor cached is left alone (previews never
/// download).
async fn fornaxee_bundle(
    c: &Cluster,
    fetch: &FetchArgs,
    rep: &dyn Reporter,
    at_hand_only: bool,
) -> Result<Option<BundleAtHand>> {
    let Some(fx) = &c.fornaxee else {
        return Ok(None);
    };
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    if at_hand_only && !artifact::is_cached(&fx.artifact, &opts.cache_dir) {
        return Ok(None);
    }
    let got = artifact::fetch(&fx.artifact, &opts, rep).await?;
    let jars = opts.cache_dir.join("fornaxee-jars").join(&got.sha512);
    let bundle = fornaxee::bundle::inspect(&got.path, &fx.version, &jars)?;
    Ok(Some(BundleAtHand {
        art: ArtifactState {
            local: Some(got.path.display().to_string()),
            sha512: Some(got.sha512),
            size: Some(got.size),
            cached: Some(true),
        },
        bundle,
    }))
}

/// Fetches (verifying its checksum) and reads the inventory's Java runtime archive when some
/// host needs it installed (`needed`); with `at_hand_only`, only an archive that is local or
/// cached (previews never download).
async fn java_runtime(
    c: &Cluster,
    fetch: &FetchArgs,
    rep: &dyn Reporter,
    needed: bool,
    at_hand_only: bool,
) -> Result<Option<crate::components::java::JdkAtHand>> {
    let Some(rt) = c.java.as_ref().filter(|_| needed) else {
        return Ok(None);
    };
    let opts = FetchOptions::new(fetch.cache_dir.clone());
    if at_hand_only && !artifact::is_cached(&rt.artifact, &opts.cache_dir) {
        return Ok(None);
    }
    let got = artifact::fetch(&rt.artifact, &opts, rep).await?;
    let path = got.path.clone();
    let (top_dir, version, major) =
        tokio::task::spawn_blocking(move || crate::components::java::inspect(&path))
            .await
            .map_err(|e| Error::Failed(format!("reading the Java runtime's archive: {e}")))??;
    Ok(Some(crate::components::java::JdkAtHand {
        art: ArtifactState {
            local: Some(got.path.display().to_string()),
            sha512: Some(got.sha512),
            size: Some(got.size),
            cached: Some(true),
        },
        top_dir,
        version,
        major,
    }))
}

/// The smoke job: `jar` and `args` from the command line, else from `verify.smoke`; a local
/// jar is hashed so the host can check what it received.
fn smoke_job(
    c: &Cluster,
    jar: Option<&Path>,
    args: Option<Vec<String>>,
) -> Result<flink::plan::SmokeJob> {
    let jar = match jar.or(c.smoke.jar.as_deref()) {
        Some(p) => {
            let d = artifact::hash_file(p, false)
                .map_err(|e| Error::io(format!("cannot read the job jar {}", p.display()), e))?;
            let size = std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
            Some((p.to_path_buf(), d.sha512, size))
        }
        None => None,
    };
    Ok(flink::plan::SmokeJob {
        jar,
        args: args.unwrap_or_else(|| c.smoke.args.clone()),
        timeout: c.smoke.timeout,
    })
}

/// Counts Ctrl-C presses for the runner: the first aborts transfers and stops between two
/// steps, the second aborts the step under way; a third exits at once.
fn cancel_on_ctrl_c(rep: Arc<dyn Reporter>) -> Arc<Interrupt> {
    let flag = Arc::new(Interrupt::default());
    let f = flag.clone();
    tokio::spawn(async move {
        while tokio::signal::ctrl_c().await.is_ok() {
            let message = match f.press() {
                1 => "interrupted: transfers stop now (a re-run resumes them); the action under way finishes, then flinkup stops. Ctrl-C again to stop it at once",
                2 => "interrupted again: stopping the action under way now, then releasing the lock",
                _ => std::process::exit(exit::INTERRUPTED),
            };
            rep.event(&Event::Warning {
                message: message.into(),
            });
        }
    });
    flag
}

/// Asks a yes/no question on the terminal; `--yes` answers it, and without a terminal the
/// answer is no (exit 2) with `no_tty` saying how to proceed.
fn confirm(yes: bool, question: &str, no_tty: &str, declined: &str) -> Result<()> {
    if yes {
        return Ok(());
    }
    match report::ask_yes_no(question) {
        None => Err(Error::Usage(no_tty.into())),
        Some(true) => Ok(()),
        Some(false) => Err(Error::Usage(declined.into())),
    }
}

/// How a plan is carried out once built.
struct Execute<'a> {
    /// The cluster whose lock host keeps the history of what ran.
    cluster: &'a Cluster,
    command: &'a str,
    yes: bool,
    json: bool,
    /// Ask before executing (when the plan changes anything).
    ask: bool,
}

/// Shows the plan, refuses it if preflight found what cannot work, asks if needed, and runs
/// exactly it.
async fn execute(
    plan: &Plan,
    how: Execute<'_>,
    fleet: &Fleet,
    rep: Arc<dyn Reporter>,
    cancel: Arc<Interrupt>,
) -> Result<()> {
    print_plan(plan, how.json);
    let refusals = plan.refusals();
    if !refusals.is_empty() {
        return Err(Error::Refused(refusals));
    }
    if how.ask && !plan.is_noop() {
        confirm(
            how.yes,
            "Apply this plan?",
            &format!("{} needs confirmation: no terminal to ask on. Review the plan above and run again with --yes", how.command),
            "not applied: the plan was not confirmed",
        )?;
    }
    if cancel.presses() > 0 {
        return Err(Error::Interrupted);
    }
    let runner = Runner {
        fleet,
        rep: rep.as_ref(),
        cancel,
        outcomes: Default::default(),
    };
    let started = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let r = runner.run(plan).await;
    // A destroy that ran to the end took the history with the rest of flinkup's state.
    let gone = how.command == "destroy" && r.is_ok();
    if !plan.is_noop() && !gone {
        history(
            &how,
            plan,
            &started,
            runner.take_outcomes(),
            &r,
            fleet,
            rep.as_ref(),
        )
        .await;
    }
    r
}

/// Appends the run to the cluster's history; a history that cannot be written is a warning,
/// never the run's failure.
async fn history(
    how: &Execute<'_>,
    plan: &Plan,
    started: &str,
    stages: Vec<(String, String)>,
    r: &Result<()>,
    fleet: &Fleet,
    rep: &dyn Reporter,
) {
    let c = how.cluster;
    let site = flink::lock_site(c);
    let Ok(remote) = fleet.get(&site.host) else {
        return;
    };
    let meta = compose::record_meta(c);
    let entry = crate::fleet::history::Entry {
        id: crate::fleet::history::id(started),
        command: how.command.to_string(),
        cluster: c.name.clone(),
        by: meta.by,
        inventory: c.source.display().to_string(),
        inventory_sha256: meta.inventory_sha256,
        started: started.to_string(),
        ended: meta.at,
        outcome: match r {
            Ok(()) => "done",
            Err(Error::Interrupted) => "interrupted",
            Err(Error::RolledBack { .. }) => "rolled back",
            Err(_) => "failed",
        }
        .into(),
        error: r.as_ref().err().map(|e| e.to_string()),
        stages: stages
            .into_iter()
            .map(|(name, outcome)| crate::fleet::history::StageOutcome { name, outcome })
            .collect(),
        plan: serde_json::to_value(crate::plan::display::masked(plan)).unwrap_or_default(),
    };
    if let Err(e) = crate::fleet::history::append(&site, remote, &entry).await {
        rep.event(&Event::Warning {
            message: format!("the run is not in the history: {e}"),
        });
    }
}

/// Runs `work` while holding the deploy lock, then releases it and closes every connection,
/// whatever `work` returned.
async fn locked<Fut>(c: &Cluster, fleet: &Fleet, command: &str, work: Fut) -> Result<i32>
where
    Fut: std::future::Future<Output = Result<i32>>,
{
    let site = flink::lock_site(c);
    let jm = fleet.get(&site.host)?;
    let me = lock::acquire(&site, jm, command).await?;
    let r = work.await;
    lock::release(&site, jm, &me).await;
    r
}

fn reporter(quiet: bool, json: bool) -> Arc<dyn Reporter> {
    Arc::from(report::reporter(Style::choose(quiet, json)))
}
