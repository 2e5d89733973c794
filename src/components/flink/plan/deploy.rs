//! `deploy`: install what is missing, write what changed, switch the link, then start, restart
//! or retire what the change needs, verified.

use super::*;

/// `deploy`: make every host match the inventory, (re)start what must, verify.
pub fn deploy(inp: &Inputs, renderer: &Renderer) -> Result<Plan> {
    let c = inp.cluster;
    let mut plan = skeleton(inp, "deploy");
    let mut diffs = Diffs::default();
    let mut install = Stage::new("install", Some(NAME));
    install.if_failed = "Nothing was started or stopped. Fix the cause and run the same command again: hosts already done are skipped.".into();
    let mut switch = Stage::new("switch", Some(NAME));
    switch.on_failure = OnFailure::Undo;
    switch.if_failed = "Every link was switched back; nothing was started or stopped.".into();
    // Per host, why its JobManager and its TaskManager would have to restart.
    let mut effects: BTreeMap<HostId, (Vec<String>, Vec<String>)> = BTreeMap::new();
    let mut upgrade = false;
    let (need, exact) = disk_needed(inp.artifact.size);
    for (i, h) in c.hosts.iter().enumerate() {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        let fl = f.flink();
        let p = paths(c, f);
        let java = crate::components::java::chosen(c, f, inp.jdk);
        let extras = HostExtras::for_host(c, h, java.as_ref(), &p.release);
        let files = renderer.render(c, &extras)?;
        // A release of the same name from another archive (a re-packed or damaged tarball)
        // is installed again.
        let other_archive = fl.release_present
            && matches!((&fl.release_sha512, &inp.artifact.sha512), (Some(a), Some(b)) if a != b);
        if other_archive {
            plan.hosts[i].notes.push(format!(
                "{} was unpacked from another archive than {}: installed again",
                p.release, c.artifact.file_name
            ));
        }
        let fl_present = fl.release_present && !other_archive;
        if !fl_present {
            let archive = format!("{}/{}", p.state, c.artifact.file_name);
            let have = fl.artifact_sha512.is_some() && fl.artifact_sha512 == inp.artifact.sha512;
            if have {
                plan.hosts[i].notes.push(format!(
                    "{archive} already there (sha512 matches): not uploaded again"
                ));
            }
            install.extend_host(
                &id,
                crate::plan::ReleaseInstall {
                    art: &inp.artifact,
                    file: &c.artifact.file_name,
                    archive,
                    release: p.release.clone(),
                    top_dir: format!("flink-{}", c.version),
                    staging: p.state.clone(),
                    have,
                    keep: id == coordinator(c),
                    download: match c.distribution {
                        crate::inventory::Distribution::Direct => Some(c.artifact.urls.clone()),
                        crate::inventory::Distribution::Auto if fl.url_reach.is_some() => {
                            Some(c.artifact.urls.clone())
                        }
                        _ => None,
                    },
                }
                .actions(),
            );
            if let Some(kb) = f.machine.disk_free_kb.filter(|_| f.gathered) {
                if kb * 1024 < need {
                    let message = format!(
                        "{} free under {}, need {} for the tarball and the release{}",
                        units::human(kb * 1024),
                        c.install_dir,
                        units::human(need),
                        if exact {
                            ""
                        } else {
                            " (estimated: the tarball is not at hand yet)"
                        }
                    );
                    // An estimate warns; the real tarball's size refuses.
                    plan.preflight.push(if exact {
                        Finding::error(
                            Some(&id),
                            message,
                            "free space there, or choose another install_dir",
                        )
                    } else {
                        Finding::warning(Some(&id), message)
                    });
                }
            }
        }
        let mut new_jars = Vec::new();
        for jar in &inp.jars {
            if fl.libs.get(&jar.name) == Some(&jar.sha512) {
                continue;
            }
            install.push(
                &id,
                Action::Upload {
                    file: jar.name.clone(),
                    local: Some(jar.local.display().to_string()),
                    dest: format!("{}/lib/{}", p.release, jar.name),
                    size: Some(jar.size),
                    sha512: Some(jar.sha512.clone()),
                },
            );
            new_jars.push(jar.name.clone());
        }
        if fl_present && !new_jars.is_empty() && !fl.running.is_empty() {
            let why = format!("connector jars changed in lib/ ({})", new_jars.join(", "));
            let e = effects.entry(id.clone()).or_default();
            e.0.push(why.clone());
            e.1.push(why);
            plan.hosts[i].notes.push(format!(
                "connector jars new in lib/: {}; its daemons load lib/ only at start",
                new_jars.join(", ")
            ));
        }
        for file in &files {
            let path = format!("{}/conf/{}", p.release, file.name);
            let old = fl.conf.get(&file.name).filter(|_| fl_present);
            if old.map(String::as_str) == Some(file.content.as_str()) {
                continue;
            }
            let change = if old.is_some() {
                Change::Update
            } else {
                Change::Create
            };
            if fl_present && file.name == c.version.config_file() {
                let (jm, tm) = conf_effects(
                    old.map_or("", String::as_str),
                    &file.content,
                    c.ha.is_some(),
                );
                let e = effects.entry(id.clone()).or_default();
                e.0.extend(jm);
                e.1.extend(tm);
            }
            install.push(
                &id,
                Action::WriteFile {
                    diff: diffs.get(old.map_or("", String::as_str), &file.content, &path),
                    path,
                    change,
                    content: file.content.clone(),
                    executable: file.executable,
                },
            );
        }
        tls_files(inp, h, i, fl_present, &mut install, &mut effects, &mut plan);
        if c.manages_flink() {
            supervision(inp, h, &mut install, &mut effects, &mut plan, i);
        }
        if other_archive && fl.current_link.as_deref() == Some(p.release.as_str()) {
            // The running release is replaced in place: a restart like an upgrade.
            upgrade = true;
        }
        if fl.current_link.as_deref() != Some(p.release.as_str()) {
            if fl.current_link.is_some() {
                upgrade = true;
            }
            switch.push(
                &id,
                Action::Link {
                    link: p.link.clone(),
                    target: p.release.clone(),
                    previous: fl.current_link.clone(),
                },
            );
        }
        plan.hosts[i].notes = [
            plan.hosts[i].notes.clone(),
            host_notes(c, f, java.as_ref(), &extras),
        ]
        .concat();
        java_preflight(c, h, &id, f, java.as_ref(), &mut plan);
        if f.gathered && !f.machine.install_dir_writable {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!(
                    "{} is not writable by {}: nothing can be installed there",
                    c.install_dir, f.machine.user
                ),
                "create it and give that user write access, or choose another install_dir",
            ));
        }
    }
    if c.manages_flink() {
        start_preflight(inp, &mut plan);
        let trust = trust_stage(inp, &mut plan);
        plan.stages.extend(trust);
    }
    let any_running = c
        .hosts
        .iter()
        .any(|h| !inp.facts.host(&HostId::of(h)).flink().running.is_empty());
    let from = c
        .hosts
        .iter()
        .find_map(|h| inp.facts.host(&HostId::of(h)).flink().current_link.clone())
        .and_then(|l| parse_version(&l))
        .filter(|v| *v != c.version);
    if let Some(from) = from {
        plan.notes.push(upgrade_notes(c, from));
    }
    if !install.steps.is_empty() {
        plan.stages.push(install);
    }
    if upgrade && any_running && c.manages_flink() {
        // Running jobs are savepointed (or the plan refused) while the old release still
        // runs and its client is the one the link names.
        let what = format!(
            "the upgrade to Flink {} restarts the cluster{}",
            c.version,
            from.filter(|f| f.major != c.version.major)
                .map(|f| format!(
                    " (and Flink does not guarantee that savepoints of {f} restore on {})",
                    c.version
                ))
                .unwrap_or_default()
        );
        let protect = protect_jobs(inp, &mut plan, &what);
        plan.stages.extend(protect);
    }
    if !switch.steps.is_empty() {
        plan.stages.push(switch);
    }
    if !c.manages_flink() {
        // Only Flink clients here: nothing to start, stop or verify.
        return Ok(plan);
    }
    let retiring = retire(inp, &mut plan);
    plan.stages.extend(retiring);
    let mut starting;
    if upgrade && any_running {
        // A new release: everything stops, the link switches, everything starts. If the new
        // release does not come up, the previous one is put back, started and verified.
        let from_stage = plan.stages.len();
        plan.stages.extend(stop_stage(
            inp,
            "the release changed; Flink runs the new one only after a restart",
        ));
        let starts = start_stages(inp, true);
        starting = true;
        plan.stages.extend(starts);
        plan.rollback = switch_back(inp, from_stage, plan.stages.len());
        plan.stages.extend(prune_stage(inp));
    } else {
        let restarts = restart_stages(inp, &effects, &mut plan);
        starting = !restarts.is_empty();
        plan.stages.extend(restarts);
        let starts = start_stages(inp, false);
        let started = starts.len() > 1;
        plan.stages.extend(starts);
        starting |= started;
    }
    plan.stages.extend(tls_cleanup(inp));
    if inp.day2.no_start {
        // Staging: what would stop, restart or start is left out, so what runs keeps running.
        let changes_running = plan.stages.iter().any(|s| {
            s.steps
                .iter()
                .any(|st| matches!(st.action, Action::StopServices { .. }))
        });
        if changes_running || plan.rollback.is_some() {
            plan.preflight.push(Finding::error(
                None,
                "--no-start stages an installation, and this plan restarts running daemons",
                "run without --no-start to apply the change, or stage it on stopped hosts",
            ));
        }
        // The command keeps only the installing stages of every component.
        plan.rollback = None;
    }
    if let Some(meta) = &inp.record {
        let jf = inp.facts.host(&coordinator(c));
        let previous = jf.flink().record.as_ref();
        let release = paths(c, jf).release;
        let record = crate::components::flink::record::of(c, meta, previous, &release);
        let same = previous.is_some_and(|p| {
            crate::components::flink::record::Record {
                deployed_at: String::new(),
                by: String::new(),
                ..p.clone()
            } == crate::components::flink::record::Record {
                deployed_at: String::new(),
                by: String::new(),
                ..record.clone()
            }
        });
        if !same {
            let mut s = Stage::new("record", Some(NAME));
            let path = resolve(
                &crate::components::flink::record::file(c),
                jf.machine.home.as_deref(),
            );
            s.push(
                &coordinator(c),
                Action::WriteFile {
                    change: if previous.is_some() {
                        Change::Update
                    } else {
                        Change::Create
                    },
                    content: serde_json::to_string_pretty(&record).unwrap_or_default() + "\n",
                    diff: String::new(),
                    path,
                    executable: false,
                },
            );
            plan.stages.push(s);
        }
    }
    if let Some(job) = inp.smoke.as_ref().filter(|_| !inp.day2.no_start) {
        let wanted = match c.smoke.when {
            SmokeWhen::Always => true,
            SmokeWhen::OnStart => starting,
            SmokeWhen::Never => false,
        };
        if wanted {
            plan.stages.extend(smoke_stages(inp, job));
        }
    }
    if let Some(check) = crate::components::flink::ha::shared_storage_check(c) {
        // Proven before anything changes, whenever something does.
        if plan
            .stages
            .iter()
            .any(|s| s.steps.iter().any(|st| st.action.changes_hosts()))
        {
            let mut s = Stage::new("ha storage", Some(NAME));
            s.if_failed = "Nothing was changed.".into();
            let writer = check.writer.clone();
            s.push(
                &writer,
                crate::components::flink::check_action(Check::FlinkHaStorage(check)),
            );
            plan.insert_stages(0, vec![s]);
        }
    }
    plan.sizing = sizing::notes(c)
        .into_iter()
        .map(|n| {
            if n.warn {
                format!("warning: {}", n.text)
            } else {
                n.text
            }
        })
        .collect();
    Ok(plan)
}

/// Where systemd supervises a host's daemons: each daemon's unit file, written where it is
/// missing or changed (a changed one restarts that daemon only); a daemon that runs under the
/// other supervisor than the inventory asks moves, by the rules of a restart.
fn supervision(
    inp: &Inputs,
    h: &Host,
    install: &mut Stage,
    effects: &mut BTreeMap<HostId, (Vec<String>, Vec<String>)>,
    plan: &mut Plan,
    i: usize,
) {
    use crate::components::flink::supervise;
    let c = inp.cluster;
    let id = HostId::of(h);
    let f = inp.facts.host(&id);
    let fl = f.flink();
    let (systemd, why) = supervise::systemd_on(h, f);
    let mut effect = |r: Role, why: String| {
        let e = effects.entry(id.clone()).or_default();
        match r {
            Role::JobManager => e.0.push(why),
            Role::TaskManager => e.1.push(why),
        }
    };
    if f.gathered && h.supervisor == crate::inventory::Supervisor::Systemd {
        if !f.machine.systemd {
            plan.preflight.push(Finding::error(
                Some(&id),
                "supervisor: systemd, and systemd does not run as PID 1 here",
                "use supervisor: scripts (or auto) for this host",
            ));
        } else if !f.machine.root && !f.machine.sudo {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!(
                    "supervisor: systemd, and flinkup logs in as {}, who is not root and may not `sudo -n` to manage system units",
                    f.machine.user
                ),
                "log in as root for this host (ssh.user: root), give that user password-free sudo, or use supervisor: scripts",
            ));
        }
    }
    if !systemd {
        if !roles(h).is_empty() {
            plan.hosts[i].notes.push(if f.gathered {
                format!("daemons from Flink's scripts ({why})")
            } else {
                "daemons: supervisor: auto runs them under systemd units where systemd is PID 1 and flinkup logs in as root, else from Flink's scripts; decided at deploy".into()
            });
        }
        for r in roles(h) {
            if fl.runs(r) && unit_active(f, r) {
                effect(r, format!("it runs under systemd and {why}"));
            }
        }
        return;
    }
    plan.hosts[i].notes.push(format!(
        "daemons under systemd ({why}): {}",
        roles(h)
            .iter()
            .map(|r| supervise::unit_name(c, *r))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    for r in roles(h) {
        let old = fl.unit_files.get(&r);
        if let Some(a) = supervise::write(
            c,
            r.as_str(),
            old.map(String::as_str),
            supervise::unit_file(c, h, f, r),
        ) {
            install.push(&id, a);
            if fl.runs(r) && old.is_some() && unit_active(f, r) {
                effect(r, "its unit file changed".into());
            }
        }
        if fl.runs(r) && !unit_active(f, r) {
            effect(
                r,
                "it runs from Flink's scripts and moves under systemd".into(),
            );
        }
    }
}

/// `tls:` on a host: the keystore, truststore, CA and client certificate where they differ
/// from what the host has (a daemon that runs restarts for new ones), and the host's JDK
/// checked against the cipher suites.
fn tls_files(
    inp: &Inputs,
    h: &Host,
    i: usize,
    fl_present: bool,
    install: &mut Stage,
    effects: &mut BTreeMap<HostId, (Vec<String>, Vec<String>)>,
    plan: &mut Plan,
) {
    use crate::components::flink::tls;
    let c = inp.cluster;
    let Some(t) = &c.tls else { return };
    let Some(m) = &t.material else { return };
    let id = HostId::of(h);
    let f = inp.facts.host(&id);
    let fl = f.flink();
    if let Some(d) = &fl.jdk_tls_disabled {
        let disabled = tls::disabled_entries(d);
        let refused: Vec<&String> = t
            .suites
            .iter()
            .filter(|s| tls::suite_disabled(s, &disabled))
            .collect();
        if refused.len() == t.suites.len() {
            plan.preflight.push(Finding::error(
                Some(&id),
                format!(
                    "the JDK that runs Flink here ({}) disables every cipher suite tls: offers ({}): its jdk.tls.disabledAlgorithms is `{}`",
                    fl.java.as_ref().map_or("java", |j| j.path.as_str()),
                    t.suites.join(", "),
                    disabled.join(", ")
                ),
                "choose suites that JDK accepts under tls.cipher_suites (e.g. TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256), or run Flink with another Java",
            ));
        } else if !refused.is_empty() {
            plan.hosts[i].notes.push(format!(
                "its JDK disables {} of the TLS suites; the others remain",
                refused
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    let dir = resolve(&tls::host_dir(c), f.machine.home.as_deref());
    let mut changed = false;
    for (name, bytes) in &m.files {
        let Some(sha) = m.fingerprint(name) else {
            continue;
        };
        let now = fl.tls_files.get(*name);
        if now == Some(&sha) {
            continue;
        }
        changed |= now.is_some();
        install.push(
            &id,
            Action::WriteSecret {
                path: format!("{dir}/{name}"),
                change: if now.is_some() {
                    Change::Update
                } else {
                    Change::Create
                },
                what: match *name {
                    tls::KEYSTORE => "the cluster's key and certificate (PKCS12)",
                    tls::TRUSTSTORE => "the cluster's CA (PKCS12)",
                    tls::CA_PEM => "the cluster's CA certificate (PEM)",
                    _ => "flinkup's client certificate and key (PEM)",
                }
                .to_string(),
                sha256: sha,
                content: crate::plan::SecretBytes(bytes.clone()),
            },
        );
    }
    if changed && fl_present && !fl.running.is_empty() {
        let why = "its TLS certificates changed".to_string();
        let e = effects.entry(id).or_default();
        e.0.push(why.clone());
        e.1.push(why);
    }
}

/// TLS turned off: the keystores and keys flinkup left on the hosts go once the daemons run
/// without them (a savepoint's client still read them before the restart).
fn tls_cleanup(inp: &Inputs) -> Option<Stage> {
    let c = inp.cluster;
    if c.tls.is_some() {
        return None;
    }
    let mut s = Stage::new("tls cleanup", Some(NAME));
    s.if_failed = "The cluster runs without TLS; remove <install_dir>/tls/ by hand or run the same command again.".into();
    for h in &c.hosts {
        let id = HostId::of(h);
        let f = inp.facts.host(&id);
        if f.flink().tls_files.is_empty() {
            continue;
        }
        s.push(
            &id,
            Action::Remove {
                link: None,
                trees: vec![resolve(
                    &crate::components::flink::tls::host_dir(c),
                    f.machine.home.as_deref(),
                )],
                state_dir: None,
            },
        );
    }
    (!s.steps.is_empty()).then_some(s)
}
