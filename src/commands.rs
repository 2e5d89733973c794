//! One function per subcommand: resolve arguments, run the pipeline stages, print.

use std::path::Path;

use crate::artifact::{self, FetchOptions};
use crate::cli::{Cli, Command, FetchArgs};
use crate::error::{exit, Error, Result};
use crate::facts::HostFacts;
use crate::inventory::{self, Diagnostic, LoadOptions, Loaded};
use crate::ops;
use crate::plan::PlanMode;
use crate::render::{HostExtras, Renderer};
use crate::report::{self, Style};

pub fn dispatch(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Validate { inv } => validate(&inv.inventory),
        Command::Render { inv, output } => render(&inv.inventory, &output),
        Command::Plan {
            inv,
            offline,
            json,
            fetch,
            remote,
        } => {
            let loaded = load(&inv.inventory, fetch.insecure_no_checksum)?;
            if offline {
                offline_plan(&loaded, &fetch, json)
            } else {
                runtime()?.block_on(ops::live_plan(&loaded, &fetch, &remote, json))
            }
        }
        Command::Deploy {
            inv,
            yes,
            fetch,
            remote,
            output,
        } => {
            let loaded = load(&inv.inventory, fetch.insecure_no_checksum)?;
            runtime()?.block_on(ops::deploy(&loaded, yes, &fetch, &remote, &output))
        }
        Command::Check { inv, remote } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::check(&loaded, &remote))
        }
        Command::Status { inv, remote, json } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::status(&loaded, &remote, json))
        }
        Command::Start { inv, remote } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::start_cmd(&loaded, &remote))
        }
        Command::Stop { inv, remote } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::stop_cmd(&loaded, &remote))
        }
        Command::Unlock { inv, yes, remote } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::unlock(&loaded, yes, &remote))
        }
        Command::Destroy { inv, yes, remote } => {
            let loaded = load(&inv.inventory, false)?;
            runtime()?.block_on(ops::destroy(&loaded, yes, &remote))
        }
        Command::Fetch {
            inv,
            fetch,
            quiet,
            json,
        } => {
            let loaded = load(&inv.inventory, fetch.insecure_no_checksum)?;
            let opts = FetchOptions::new(fetch.cache_dir.clone());
            let rep = report::reporter(Style::choose(quiet, json));
            let got = runtime()?.block_on(artifact::fetch(
                &loaded.cluster.artifact,
                &opts,
                rep.as_ref(),
            ))?;
            if !json {
                // sha512sum format, so the line can be checked with `sha512sum -c`.
                println!("{}  {}", got.sha512, got.path.display());
            }
            Ok(exit::OK)
        }
    }
}

fn load(path: &Path, insecure_no_checksum: bool) -> Result<Loaded> {
    let loaded = inventory::load(
        path,
        LoadOptions {
            insecure_no_checksum,
        },
    )?;
    print_warnings(&loaded.warnings);
    Ok(loaded)
}

fn print_warnings(warnings: &[Diagnostic]) {
    for w in warnings {
        eprintln!("{w}\n");
    }
}

fn validate(path: &Path) -> Result<i32> {
    let loaded = load(path, false)?;
    let c = &loaded.cluster;
    println!(
        "{}: valid. Cluster {}, Flink {}: {}{}",
        path.display(),
        c.name,
        c.version,
        c.topology(),
        match loaded.warnings.len() {
            0 => String::new(),
            n => format!(" ({n} warning{})", if n == 1 { "" } else { "s" }),
        }
    );
    Ok(exit::OK)
}

fn render(path: &Path, out: &Path) -> Result<i32> {
    let loaded = load(path, false)?;
    let c = &loaded.cluster;
    let renderer = Renderer::new(c)?;
    std::fs::create_dir_all(out)
        .map_err(|e| Error::io(format!("cannot create {}", out.display()), e))?;
    let jm = c.jobmanager();
    let files = renderer.render(c, &HostExtras::for_host(c, jm, None))?;
    for f in &files {
        let p = out.join(&f.name);
        std::fs::write(&p, &f.content)
            .map_err(|e| Error::io(format!("cannot write {}", p.display()), e))?;
        println!("wrote {}", p.display());
    }
    Ok(exit::OK)
}

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("cannot start the async runtime", e))
}

fn offline_plan(loaded: &Loaded, fetch: &FetchArgs, json: bool) -> Result<i32> {
    let c = &loaded.cluster;
    let facts = vec![HostFacts::empty(); c.hosts.len()];
    let cached = artifact::is_cached(
        &c.artifact,
        &FetchOptions::new(fetch.cache_dir.clone()).cache_dir,
    );
    let plan = ops::build_plan(
        loaded,
        &facts,
        PlanMode::Offline,
        c.artifact.checksum.pinned_sha512(),
        cached,
    )?;
    ops::print_plan(&plan, json);
    Ok(exit::OK)
}
