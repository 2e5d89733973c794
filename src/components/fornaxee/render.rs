//! Renders Fornaxee's etc/ files: `fornaxee.properties` (the bundle's defaults with the
//! site's values written over them) and `fornaxee-env.sh` (a Tera template).

use std::collections::BTreeMap;

use tera::{Context, Tera};

use crate::error::{Error, Result};
use crate::inventory::units;

const ENV_TEMPLATE: &str = include_str!("../../../templates/fornaxee/fornaxee-env.sh.tera");

/// What the env file says, resolved for one host.
pub struct EnvValues<'a> {
    pub cluster: &'a str,
    pub java_home: Option<&'a str>,
    pub heap: u64,
    pub flink_home: &'a str,
    pub data_dir: &'a str,
    pub log_dir: &'a str,
}

/// `fornaxee-env.sh`; `templates_dir` may hold its own `fornaxee-env.sh.tera`.
pub fn env(v: &EnvValues, templates_dir: Option<&std::path::Path>) -> Result<String> {
    let name = "fornaxee-env.sh.tera";
    let text = match templates_dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
        Some(p) => std::fs::read_to_string(&p)
            .map_err(|e| Error::io(format!("cannot read template {}", p.display()), e))?,
        None => ENV_TEMPLATE.to_string(),
    };
    let mut ctx = Context::new();
    ctx.insert("cluster", v.cluster);
    ctx.insert("java_home", &v.java_home);
    ctx.insert("heap", &units::format_memory(v.heap));
    ctx.insert("flink_home", v.flink_home);
    ctx.insert("data_dir", v.data_dir);
    ctx.insert("log_dir", v.log_dir);
    Tera::one_off(&text, &ctx, false).map_err(|e| Error::Template {
        name: name.into(),
        message: crate::error::chain(&e),
    })
}

/// The key of a `.properties` line, if it sets one (`key=value`, `key: value`, `key value`).
fn key_of(line: &str) -> Option<&str> {
    let t = line.trim_start();
    if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
        return None;
    }
    let end = t
        .find(|c: char| c == '=' || c == ':' || c.is_whitespace())
        .unwrap_or(t.len());
    Some(&t[..end])
}

/// The bundle's defaults with `values` written over them: a key the defaults set keeps its
/// place and gets the new value; the others follow in a block flinkup owns.
pub fn properties(defaults: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    let mut done: Vec<&str> = Vec::new();
    for line in defaults.lines() {
        match key_of(line).and_then(|k| values.get_key_value(k)) {
            Some((k, v)) => {
                out.push_str(&format!("{k}={v}\n"));
                done.push(k);
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    let rest: Vec<(&String, &String)> = values
        .iter()
        .filter(|(k, _)| !done.contains(&k.as_str()))
        .collect();
    if !rest.is_empty() {
        if !out.is_empty() && !out.ends_with("\n\n") {
            out.push('\n');
        }
        out.push_str("# Set by flinkup from the inventory.\n");
        for (k, v) in rest {
            out.push_str(&format!("{k}={v}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_values_replace_defaults_in_place() {
        let defaults = "# defaults\nhttp.port=18630\nfoo = 1\n";
        let mut v = BTreeMap::new();
        v.insert("http.port".to_string(), "18700".to_string());
        v.insert("flink.rest.url".to_string(), "http://jm:8081".to_string());
        let p = properties(defaults, &v);
        assert_eq!(
            p,
            "# defaults\nhttp.port=18700\nfoo = 1\n\n# Set by flinkup from the inventory.\nflink.rest.url=http://jm:8081\n"
        );
    }
}
