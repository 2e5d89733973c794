//! Fornaxee's read-only probe on the hosts that run it: the release, its etc/ files, the
//! `fornaxee` link, the service's pid.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::inventory::Fornaxee;
use crate::remote::qp;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FornaxeeFacts {
    /// The release directory holds an unpacked bundle.
    pub release_present: bool,
    /// sha512 of the bundle already uploaded to the state directory, if one is there.
    pub artifact_sha512: Option<String>,
    /// The release's etc/ files flinkup writes, by name.
    pub etc: BTreeMap<String, String>,
    pub current_link: Option<String>,
    /// The service's pid, when it runs.
    pub running: Option<u32>,
    /// The installed release's bundle.yaml, when it reads.
    pub manifest: Option<super::bundle::Manifest>,
    /// The existing cluster's version, read with `GET /config` from this host.
    pub cluster_version: Option<String>,
    /// Why the existing cluster's REST API did not answer from this host.
    pub cluster_error: Option<String>,
    /// On a host of the existing cluster: sha512 of the asked-about jars in its lib/.
    pub existing_libs: BTreeMap<String, String>,
    /// On a host of the existing cluster: the Flink daemons running there.
    pub existing_daemons: Vec<String>,
    /// Its systemd unit's file and state, when it has one.
    pub unit_file: Option<String>,
    pub unit: Option<crate::components::flink::supervise::UnitState>,
}

/// Fornaxee's part of a host's facts.
pub trait FornaxeeFactsOf {
    /// What Fornaxee's probe found (empty facts when it did not run there).
    fn fornaxee(&self) -> &FornaxeeFacts;
    fn fornaxee_mut(&mut self) -> &mut FornaxeeFacts;
}

impl FornaxeeFactsOf for crate::facts::HostFacts {
    fn fornaxee(&self) -> &FornaxeeFacts {
        self.parts.get_or_empty()
    }
    fn fornaxee_mut(&mut self) -> &mut FornaxeeFacts {
        self.parts.get_mut()
    }
}

/// The etc/ files flinkup writes.
pub const ETC_FILES: &[&str] = &["fornaxee.properties", "fornaxee-env.sh"];

/// The probe script; its keys start with `fx.` so they never meet another probe's.
pub fn script(f: &Fornaxee) -> String {
    let mut s = base_script(f);
    if let Some(e) = &f.flink {
        // Asked from this host, as Fornaxee will ask it.
        s.push_str(&format!(
            r#"{http}
U={url}
R=$(http_get "$U"); S=$(printf '%s\n' "$R" | head -n1)
if [ "$S" = 200 ]; then echo "fx.cluster_config=$(printf '%s\n' "$R" | tail -n +2 | base64 -w0)"
elif [ "$S" = 000 ]; then echo "fx.cluster_error=nothing answers at $U"
else echo "fx.cluster_error=HTTP $S from $U"; fi
"#,
            http = crate::remote::shell::HTTP_GET_FN,
            url = crate::remote::q(&format!("{}/config", e.rest))
        ));
    }
    s
}

/// On a host of an existing cluster: the jars in its lib/ and the daemons that run there.
pub fn existing_script(home: &str, jars: &[String]) -> String {
    let mut s = String::from("set +e\n");
    for j in jars {
        s.push_str(&format!(
            "if [ -f {lib}/{j} ]; then echo \"fx.lib.\"{j}\"=$(sha512sum {lib}/{j} | cut -d' ' -f1)\"; fi\n",
            lib = qp(&format!("{home}/lib")),
            j = crate::remote::q(j)
        ));
    }
    s.push_str("for p in $(pgrep java 2>/dev/null); do c=$(tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null); case \"$c\" in *StandaloneSessionClusterEntrypoint*) echo fx.daemon=jobmanager;; *TaskManagerRunner*) echo fx.daemon=taskmanager;; esac; done\n");
    s
}

fn base_script(f: &Fornaxee) -> String {
    format!(
        r#"set +e
{runs}
FX={rel}
if [ -x "$FX/bin/fornaxee" ] && [ -f "$FX/bundle.yaml" ]; then echo fx.release=1
elif [ -f {art} ]; then echo "fx.artifact_sha512=$(sha512sum {art} | cut -d' ' -f1)"; fi
if [ -f "$FX/bundle.yaml" ]; then echo "fx.manifest=$(base64 -w0 < "$FX/bundle.yaml")"; fi
for f in {etc}; do if [ -f "$FX/etc/$f" ]; then echo "fx.etc.$f=$(base64 -w0 < "$FX/etc/$f")"; fi; done
if [ -L {link} ]; then echo "fx.link=$(readlink {link})"; fi
P=$(cat {pid} 2>/dev/null | head -n1)
if [ -n "$P" ] && alive "$P"; then echo "fx.running=$P"; fi
"#,
        runs = crate::remote::shell::ALIVE_FN,
        rel = qp(&f.release_dir()),
        art = qp(&format!("{}/{}", f.state_dir(), f.artifact.file_name)),
        etc = ETC_FILES.join(" "),
        link = qp(&f.current_link()),
        pid = qp(&f.pid_file()),
    )
}

pub fn parse(out: &str) -> FornaxeeFacts {
    use base64::Engine;
    let mut f = FornaxeeFacts::default();
    for line in out.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let Some(k) = k.strip_prefix("fx.") else {
            continue;
        };
        match k {
            "release" => f.release_present = true,
            "artifact_sha512" if v.len() == 128 => f.artifact_sha512 = Some(v.to_string()),
            "link" => f.current_link = Some(v.to_string()),
            "running" => f.running = v.trim().parse().ok(),
            "unit_file" => f.unit_file = crate::facts::b64_text(v),
            "unit" => f.unit = Some(crate::components::flink::supervise::parse_state(v)),
            "cluster_config" => {
                let text = crate::facts::b64_text(v).unwrap_or_default();
                match serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|j| j["flink-version"].as_str().map(str::to_string))
                {
                    Some(ver) => f.cluster_version = Some(ver),
                    None => {
                        f.cluster_error = Some(format!(
                            "GET /config answered without a flink-version: {}",
                            text.chars().take(200).collect::<String>()
                        ))
                    }
                }
            }
            "cluster_error" => {
                f.cluster_error = Some(if v.trim().is_empty() {
                    "no answer".into()
                } else {
                    v.trim().to_string()
                })
            }
            "daemon" => f.existing_daemons.push(v.trim().to_string()),
            "manifest" => {
                f.manifest = base64::engine::general_purpose::STANDARD
                    .decode(v.trim())
                    .ok()
                    .and_then(|b| serde_yaml::from_slice(&b).ok())
            }
            k if k.starts_with("lib.") => {
                f.existing_libs
                    .insert(k[4..].to_string(), v.trim().to_string());
            }
            k if k.starts_with("etc.") => {
                if let Some(text) = crate::facts::b64_text(v) {
                    f.etc.insert(k[4..].to_string(), text);
                }
            }
            _ => {}
        }
    }
    // A service systemd runs is running whatever its pid file says (it writes none).
    if let Some(pid) = f
        .unit
        .as_ref()
        .and_then(crate::components::flink::supervise::UnitState::pid)
    {
        f.running.get_or_insert(pid);
    }
    f
}
