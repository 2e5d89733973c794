//! Manual pages that ship with the binary: flinkup(1) and a page per command from the same
//! clap definitions `--help` prints, and flinkup-inventory(5), the README's annotated
//! inventory with every key and its default.

use std::path::Path;

use clap::CommandFactory;

use crate::error::{exit, Error, Result};

/// The README, whose "The inventory" section is the inventory reference.
const README: &str = include_str!("../README.md");

/// The pages' names: `flinkup`, `flinkup-<command>`, `flinkup-inventory`.
fn commands() -> Vec<clap::Command> {
    let mut cmd = crate::cli::Cli::command();
    // The `help` command clap adds, listed by flinkup(1) like the others.
    cmd.build();
    cmd.get_subcommands().cloned().collect()
}

fn render(cmd: clap::Command) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut buf)
        .map_err(|e| Error::io("cannot render the man page", e))?;
    Ok(buf)
}

/// One page: None is flinkup(1), `inventory` flinkup-inventory(5), else a command's page.
pub fn page(name: Option<&str>) -> Result<Vec<u8>> {
    match name {
        None => render(crate::cli::Cli::command()),
        Some("inventory") => Ok(inventory().into_bytes()),
        Some(n) => {
            let all = commands();
            let found = all.iter().find(|c| c.get_name() == n).cloned();
            match found {
                // clap names are static strings; one page per run.
                Some(c) => render(c.name(&*Box::leak(format!("flinkup-{n}").into_boxed_str()))),
                None => Err(Error::Usage(format!(
                    "no man page `{n}`; pages: inventory, {}",
                    all.iter()
                        .map(|c| c.get_name().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
    }
}

/// Writes every page under `dir/man1` and `dir/man5`.
pub fn install(dir: &Path) -> Result<i32> {
    let write = |sub: &str, file: String, bytes: Vec<u8>| -> Result<()> {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d)
            .map_err(|e| Error::io(format!("cannot create {}", d.display()), e))?;
        let p = d.join(file);
        std::fs::write(&p, bytes).map_err(|e| Error::io(format!("cannot write {}", p.display()), e))
    };
    write("man1", "flinkup.1".into(), page(None)?)?;
    let mut n = 1;
    for c in commands() {
        let name = c.get_name().to_string();
        write("man1", format!("flinkup-{name}.1"), page(Some(&name))?)?;
        n += 1;
    }
    write(
        "man5",
        "flinkup-inventory.5".into(),
        page(Some("inventory"))?,
    )?;
    crate::report::summary(format!(
        "{} pages in {}/man1 and flinkup-inventory.5 in {}/man5",
        n,
        dir.display(),
        dir.display()
    ));
    Ok(exit::OK)
}

/// Text safe in roff: backslashes doubled, a leading `.` or `'` kept from being a request.
fn roff(line: &str) -> String {
    let l = line.replace('\\', "\\e");
    if l.starts_with('.') || l.starts_with('\'') {
        format!("\\&{l}")
    } else {
        l
    }
}

/// flinkup-inventory(5): the README's inventory section, its annotated example verbatim.
fn inventory() -> String {
    let section = README
        .split("\n## The inventory\n")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .unwrap_or_default();
    let mut out = String::from(
        ".TH FLINKUP-INVENTORY 5 \"\" \"flinkup\" \"File Formats\"\n.SH NAME\nflinkup-inventory \\- the YAML file that describes a cluster for flinkup\n.SH SYNOPSIS\n.B flinkup\n.I command\n.B \\-i\n.I inventory.yaml\n.SH DESCRIPTION\n",
    );
    let mut in_code = false;
    for line in section.lines() {
        if line.starts_with("```") {
            out.push_str(if in_code {
                ".fi\n.RE\n"
            } else {
                ".RS 2\n.nf\n"
            });
            in_code = !in_code;
        } else if let Some(h) = line.strip_prefix("### ") {
            out.push_str(&format!(".SH {}\n", roff(&h.to_uppercase())));
        } else if line.trim().is_empty() {
            if !in_code {
                out.push_str(".PP\n");
            } else {
                out.push('\n');
            }
        } else {
            out.push_str(&roff(line));
            out.push('\n');
        }
    }
    out.push_str(".SH SEE ALSO\n.BR flinkup (1),\n.BR flinkup-validate (1)\n");
    out
}
