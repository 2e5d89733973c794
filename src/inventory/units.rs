//! Parsers for the value formats an inventory uses: Flink memory sizes, durations, host names.

use std::net::IpAddr;
use std::time::Duration;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;
pub const GIB: u64 = 1024 * MIB;

/// Parses a memory size the way Flink's `MemorySize` does (`1024m`, `1g`, `512mb`, `64 kb`).
///
/// A number without a unit is refused: Flink reads it as bytes, so `1024` would give the JVM a
/// one-kilobyte heap, which is never what was meant.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("`{text}` does not start with a number"));
    }
    let n: u64 = num.parse().map_err(|_| format!("`{num}` is too large"))?;
    let mult = match unit.trim().to_ascii_lowercase().as_str() {
        "" => {
            return Err(format!(
                "`{text}` has no unit; Flink would read it as {n} bytes"
            ))
        }
        "b" | "bytes" => 1,
        "k" | "kb" | "kibibytes" => KIB,
        "m" | "mb" | "mebibytes" => MIB,
        "g" | "gb" | "gibibytes" => GIB,
        "t" | "tb" | "tebibytes" => GIB * 1024,
        other => return Err(format!("unknown unit `{other}` in `{text}`")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{text}` is too large"))
}

/// Formats bytes in the largest unit that divides them, the way Flink configs are written.
pub fn format_memory(bytes: u64) -> String {
    for (unit, size) in [("g", GIB), ("m", MIB), ("k", KIB)] {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}b")
}

/// Human-readable size with one decimal, for sizing notes.
pub fn human(bytes: u64) -> String {
    let b = bytes as f64;
    if bytes >= GIB {
        format!("{:.1} GiB", b / GIB as f64)
    } else if bytes >= MIB {
        format!("{:.1} MiB", b / MIB as f64)
    } else if bytes >= KIB {
        format!("{:.1} KiB", b / KIB as f64)
    } else {
        format!("{bytes} B")
    }
}

/// Parses `120s`, `2m`, `1m 30s`; a bare number means seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t).map_err(|e| format!("`{text}` is not a duration ({e})"))
}

/// Checks a host name (RFC 1123) or an IPv4/IPv6 address.
///
/// Anything else is refused: a name reaches ssh's command line and Flink's slaves file, so a
/// leading `-` (an ssh option) or a shell character must never get through.
pub fn check_host(name: &str) -> Result<(), String> {
    if name.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if name.is_empty() {
        return Err("the host name is empty".into());
    }
    if name.len() > 253 {
        return Err(format!("`{name}` is longer than 253 characters"));
    }
    if name.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return Err(format!("`{name}` is not a valid IPv4 address"));
    }
    for label in name.split('.') {
        if label.is_empty() {
            return Err(format!(
                "`{name}` has an empty label (two dots, or a dot at an end)"
            ));
        }
        if label.len() > 63 {
            return Err(format!(
                "label `{label}` in `{name}` is longer than 63 characters"
            ));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("`{name}` contains `{}`", c.escape_default()));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!(
                "label `{label}` in `{name}` starts or ends with `-`"
            ));
        }
    }
    Ok(())
}

/// Checks a POSIX user name, which is passed to ssh and written into paths.
pub fn check_user(user: &str) -> Result<(), String> {
    let ok = !user.is_empty()
        && user.len() <= 32
        && user
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && user
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not a valid user name (lower-case letters, digits, `_`, `-`; not starting with a digit or `-`)",
            user.escape_default()
        ))
    }
}

/// Checks a path on a host: absolute or under the user's home (`~/`), one line, no NUL.
pub fn check_remote_path(path: &str) -> Result<(), String> {
    if path.chars().any(|c| c.is_control()) {
        return Err(format!(
            "`{}` contains a control character (newline, tab…)",
            path.escape_default()
        ));
    }
    if let Some(c) = path
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/._-+@~".contains(*c)))
    {
        return Err(format!(
            "`{path}` contains `{c}`; paths may use letters, digits and / . _ - + @ ~ only, since Flink's shell scripts do not quote every path"
        ));
    }
    if !(path.starts_with('/') || path == "~" || path.starts_with("~/")) {
        return Err(format!("`{path}` is neither absolute nor under `~/`"));
    }
    if path.split('/').any(|seg| seg == "..") {
        return Err(format!("`{path}` contains `..`"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_as_flink_reads_them() {
        assert_eq!(parse_memory("1024m"), Ok(1024 * MIB));
        assert_eq!(parse_memory("1g"), Ok(GIB));
        assert_eq!(parse_memory("512mb"), Ok(512 * MIB));
        assert_eq!(parse_memory("64 KB"), Ok(64 * KIB));
        assert!(parse_memory("1024").unwrap_err().contains("no unit"));
        assert!(parse_memory("lots").is_err());
        assert!(parse_memory("1x").unwrap_err().contains("unknown unit"));
        assert!(parse_memory("99999999999999999999g").is_err());
        assert_eq!(format_memory(1024 * MIB), "1g");
        assert_eq!(format_memory(512 * MIB), "512m");
    }

    #[test]
    fn host_names() {
        for ok in ["192.168.1.143", "tm-1.example.org", "::1", "localhost", "a"] {
            assert_eq!(check_host(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "-oProxyCommand=x",
            "a;b",
            "a b",
            "300.1.1.1",
            "a..b",
            "x-",
            "a$(id)",
        ] {
            assert!(check_host(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users_and_paths() {
        assert!(check_user("root").is_ok());
        assert!(check_user("flink").is_ok());
        assert!(check_user("-o").is_err());
        assert!(check_user("a;b").is_err());
        assert!(check_remote_path("/opt").is_ok());
        assert!(check_remote_path("~/flink").is_ok());
        assert!(check_remote_path("opt").is_err());
        assert!(check_remote_path("/opt/../etc").is_err());
        assert!(check_remote_path("/opt\nx").is_err());
        assert!(check_remote_path("/opt/$(touch x)").is_err());
        assert!(check_remote_path("/opt/a b").is_err());
        assert!(check_remote_path("/opt/`id`").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("120s"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("soon").is_err());
    }
}
