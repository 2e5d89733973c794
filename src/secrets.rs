//! What counts as a secret in configuration text, and how it is masked wherever text leaves
//! flinkup (plans, diffs, verbose command logs, JSON).

/// Keys whose values never leave the config file: plan output, logs and JSON show a mask.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token"]
        .iter()
        .any(|w| k.contains(w))
}

pub const MASK: &str = "********";

/// Whether a configuration text sets a secret key to a value (it is then written private).
pub fn carries_secrets(text: &str) -> bool {
    mask_secrets(text) != text
}

/// Masks the value of every `key: value` line (plain or in a diff) whose key looks secret.
pub fn mask_secrets(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches('\n');
        let (prefix, rest) = match body.chars().next() {
            Some(c @ ('+' | '-' | ' ')) if !body.starts_with("+++") && !body.starts_with("---") => {
                (&body[..c.len_utf8()], &body[c.len_utf8()..])
            }
            _ => ("", body),
        };
        // `key: value` (flink-conf.yaml) or `key=value` (.properties).
        let sep = rest.find([':', '=']).map(|i| (i, &rest[i..=i]));
        match sep.map(|(i, s)| (&rest[..i], s)) {
            Some((k, sep)) if !k.trim_start().starts_with('#') && is_secret_key(k.trim()) => {
                out.push_str(prefix);
                out.push_str(k);
                out.push_str(if sep == ":" { ": " } else { "=" });
                out.push_str(MASK);
                if line.ends_with('\n') {
                    out.push('\n');
                }
            }
            _ => out.push_str(line),
        }
    }
    out
}
