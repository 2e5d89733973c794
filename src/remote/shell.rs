//! Shell functions every script sent to a host shares: one answer to "does this process
//! still run" and one way to GET a URL from the host itself. Scripts include the text of the
//! function they call.

/// `alive PID [NEEDLE]`: the process exists and is not a zombie (a pid file can outlive its
/// process, and a zombie still answers `kill -0`), and, with NEEDLE, its command line holds
/// it (a pid can be reused by something else). Without /proc, `kill -0` alone.
pub const ALIVE_FN: &str = r#"alive() { kill -0 "$1" 2>/dev/null || return 1; [ -d /proc/"$1" ] || return 0; [ "$(cut -d' ' -f3 /proc/"$1"/stat 2>/dev/null)" != Z ] || return 1; [ -z "$2" ] || grep -qaF -- "$2" /proc/"$1"/cmdline 2>/dev/null; }"#;

/// `port_open SECONDS HOST PORT`: something accepts a TCP connection there within SECONDS.
pub const PORT_OPEN_FN: &str = r#"port_open() { timeout "$1" bash -c 'exec 3<>/dev/tcp/"$0"/"$1"' "$2" "$3" >/dev/null 2>&1; }"#;

/// `http_get URL`: the HTTP status on the first line (000 when nothing answered), the body
/// after it; with curl, else wget, whichever the host has.
pub const HTTP_GET_FN: &str = r#"http_get() {
  _t=$(mktemp) || return 1
  if command -v curl >/dev/null 2>&1; then _c=$(curl -s ${HTTP_CA:+--cacert "$HTTP_CA"} ${HTTP_CERT:+--cert "$HTTP_CERT"} --max-time 5 -o "$_t" -w '%{http_code}' "$1" 2>/dev/null) || _c=${_c:-000}
  elif command -v wget >/dev/null 2>&1; then
    if wget -q -T 5 ${HTTP_CA:+--ca-certificate="$HTTP_CA"} ${HTTP_CERT:+--certificate="$HTTP_CERT" --private-key="$HTTP_CERT"} -O "$_t" "$1" 2>/dev/null; then _c=200
    else _c=$(wget -S -T 5 ${HTTP_CA:+--ca-certificate="$HTTP_CA"} ${HTTP_CERT:+--certificate="$HTTP_CERT" --private-key="$HTTP_CERT"} -O /dev/null "$1" 2>&1 | awk '$1 ~ /^HTTP\// {c=$2} END {printf "%03d", c+0}'); fi
  else _c=000; fi
  echo "$_c"; cat "$_t"; rm -f "$_t"
}
http_body() { _r=$(http_get "$1") && [ "$(printf '%s\n' "$_r" | head -n1)" = 200 ] && printf '%s\n' "$_r" | tail -n +2; }"#;

/// What `http_get` printed: the status (0 when nothing answered) and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    pub status: u16,
    pub body: String,
}

impl HttpAnswer {
    pub fn parse(out: &str) -> HttpAnswer {
        let (first, body) = out.split_once('\n').unwrap_or((out, ""));
        HttpAnswer {
            status: first.trim().parse().unwrap_or(0),
            body: body.strip_suffix('\n').unwrap_or(body).to_string(),
        }
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> String {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn nothing_answering_is_000_once() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let out = sh(&format!("{HTTP_GET_FN}\nhttp_get http://127.0.0.1:{port}/"));
        let a = HttpAnswer::parse(&out);
        assert_eq!((a.status, a.body.as_str()), (0, ""), "{out:?}");
        assert!(!sh(&format!(
            "{HTTP_GET_FN}\nhttp_body http://127.0.0.1:{port}/ || echo none"
        ))
        .contains("200"));
    }

    #[test]
    fn a_port_is_open_while_something_listens() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let script = format!("{PORT_OPEN_FN}\nport_open 2 127.0.0.1 {port} && echo open");
        assert_eq!(sh(&script), "open\n");
        drop(l);
        assert_eq!(
            sh(&format!(
                "{PORT_OPEN_FN}\nport_open 2 127.0.0.1 {port} || echo shut"
            )),
            "shut\n"
        );
    }

    #[test]
    fn a_live_process_is_alive_and_its_needle_matters() {
        let me = std::process::id();
        assert_eq!(sh(&format!("{ALIVE_FN}\nalive {me} && echo yes")), "yes\n");
        assert_eq!(
            sh(&format!("{ALIVE_FN}\nalive {me} no-such-needle || echo no")),
            "no\n"
        );
        assert_eq!(
            sh(&format!("{ALIVE_FN}\nalive 999999999 || echo no")),
            "no\n"
        );
    }
}
