//! `flinkup fetch` against a real HTTP server on 127.0.0.1 that the tests start.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha512};

use crate::httpd::{Behave, Body, Server};
use crate::support::{flinkup, Run};
use crate::testbed::flink_tarball;

fn payload() -> Vec<u8> {
    // 3 MiB of deterministic, incompressible-looking bytes.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..3 * 1024 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn sha512(data: &[u8]) -> String {
    hex::encode(Sha512::digest(data))
}

struct Case {
    dir: tempfile::TempDir,
}

impl Case {
    fn new(artifact: &str) -> Case {
        let dir = tempfile::tempdir().unwrap();
        let inv = format!(
            "cluster: fetch-test\nflink:\n  version: 1.9.3\n  artifact:\n{artifact}\njobmanager: 198.18.0.1\ntaskmanagers: [198.18.0.1]\n"
        );
        std::fs::write(dir.path().join("inv.yaml"), inv).unwrap();
        Case { dir }
    }

    fn cache(&self) -> PathBuf {
        self.dir.path().join("cache")
    }

    fn inv(&self) -> PathBuf {
        self.dir.path().join("inv.yaml")
    }

    fn fetch(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "fetch".to_string(),
            "-i".into(),
            self.inv().display().to_string(),
            "--cache-dir".into(),
            self.cache().display().to_string(),
            "--quiet".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        flinkup(args)
    }

    /// Every regular file under the cache, `.part` files included.
    fn cached_files(&self) -> Vec<PathBuf> {
        fn walk(p: &Path, out: &mut Vec<PathBuf>) {
            if let Ok(rd) = std::fs::read_dir(p) {
                for e in rd.flatten() {
                    let path = e.path();
                    if path.is_dir() {
                        walk(&path, out);
                    } else {
                        out.push(path);
                    }
                }
            }
        }
        let mut v = Vec::new();
        walk(&self.cache(), &mut v);
        v
    }

    fn complete_files(&self) -> Vec<PathBuf> {
        self.cached_files()
            .into_iter()
            .filter(|p| !p.to_string_lossy().ends_with(".part"))
            .collect()
    }
}

const TGZ: &str = "/dist/flink-1.9.3-bin-scala_2.11.tgz";

/// The payload served at TGZ with `behave`, and an inventory that pins its sha512.
fn pinned(behave: Behave) -> (Vec<u8>, Server, Case) {
    let data = payload();
    let srv = Server::start();
    srv.bytes(TGZ, &data, behave);
    let case = Case::new(&format!(
        "    url: {}\n    sha512: \"{}\"",
        srv.url(TGZ),
        sha512(&data)
    ));
    (data, srv, case)
}

#[test]
fn good_download_verified_by_sidecar() {
    let data = payload();
    let srv = Server::start();
    srv.bytes(TGZ, &data, Behave::Serve);
    srv.bytes(
        &format!("{TGZ}.sha512"),
        format!("{}  flink-1.9.3-bin-scala_2.11.tgz\n", sha512(&data)).as_bytes(),
        Behave::Serve,
    );
    let case = Case::new(&format!("    url: {}", srv.url(TGZ)));
    let run = case.fetch(&[]).expect_code(0);
    let files = case.complete_files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read(&files[0]).unwrap(), data);
    assert!(run.stdout().starts_with(&sha512(&data)), "{}", run.stdout());
    assert!(run.stderr().contains("verified"), "{}", run.stderr());
    // A second fetch uses the cache and downloads nothing.
    let before = srv.hits().iter().filter(|h| h.path == TGZ).count();
    let run = case.fetch(&[]).expect_code(0);
    assert!(run.stderr().contains("using cached"), "{}", run.stderr());
    assert_eq!(srv.hits().iter().filter(|h| h.path == TGZ).count(), before);
    // The offline plan now says so.
    let plan = flinkup([
        "plan",
        "-i",
        case.inv().to_str().unwrap(),
        "--offline",
        "--cache-dir",
        case.cache().to_str().unwrap(),
    ])
    .expect_code(0);
    assert!(
        plan.stdout()
            .contains("cache     in the cache (hashed again before use)"),
        "{}",
        plan.stdout()
    );
}

#[test]
fn pinned_hash_mismatch_leaves_nothing_in_the_cache() {
    let data = payload();
    let srv = Server::start();
    srv.bytes(TGZ, &data, Behave::Serve);
    let wrong = "0".repeat(128);
    let case = Case::new(&format!(
        "    url: {}\n    sha512: \"{wrong}\"",
        srv.url(TGZ)
    ));
    let run = case.fetch(&[]).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains(&format!("expected {wrong}, got {}", sha512(&data))),
        "{err}"
    );
    assert!(err.contains(&srv.url(TGZ)), "names the URL: {err}");
    assert!(case.cached_files().is_empty(), "{:?}", case.cached_files());
}

#[test]
fn sidecar_mismatch_is_refused() {
    let data = payload();
    let srv = Server::start();
    srv.bytes(TGZ, &data, Behave::Serve);
    srv.bytes(
        &format!("{TGZ}.sha512"),
        format!("{}  x.tgz\n", "ab".repeat(64)).as_bytes(),
        Behave::Serve,
    );
    let case = Case::new(&format!("    url: {}", srv.url(TGZ)));
    let run = case.fetch(&[]).expect_code(1);
    assert!(run.stderr().contains("sha512 mismatch"), "{}", run.stderr());
    assert!(case.cached_files().is_empty());

    // A sidecar that disagrees with a pin is an error before anything is downloaded.
    let case = Case::new(&format!(
        "    url: {}\n    checksum_url: {}.sha512\n    sha512: \"{}\"",
        srv.url(TGZ),
        srv.url(TGZ),
        sha512(&data)
    ));
    let before = srv.hits().iter().filter(|h| h.path == TGZ).count();
    let run = case.fetch(&[]).expect_code(1);
    assert!(
        run.stderr().contains("one of them is wrong"),
        "{}",
        run.stderr()
    );
    assert_eq!(srv.hits().iter().filter(|h| h.path == TGZ).count(), before);
}

#[test]
fn not_found_then_mirror_succeeds() {
    let data = payload();
    let srv = Server::start();
    srv.bytes("/mirror/flink.tgz", &data, Behave::Serve);
    let case = Case::new(&format!(
        "    url: {}\n    mirrors: [{}]\n    sha512: \"{}\"",
        srv.url("/missing/flink-1.9.3-bin-scala_2.11.tgz"),
        srv.url("/mirror/flink.tgz"),
        sha512(&data)
    ));
    let run = case.fetch(&[]).expect_code(0);
    assert!(run.stderr().contains("HTTP 404"), "{}", run.stderr());
    assert_eq!(std::fs::read(&case.complete_files()[0]).unwrap(), data);

    // 503s are retried on the same source.
    let srv = Server::start();
    srv.bytes(TGZ, &data, Behave::Unavailable(2));
    let case = Case::new(&format!(
        "    url: {}\n    sha512: \"{}\"",
        srv.url(TGZ),
        sha512(&data)
    ));
    let run = case.fetch(&[]).expect_code(0);
    assert!(run.stderr().contains("503"), "{}", run.stderr());
}

#[test]
fn dropped_connection_resumes_with_range() {
    let (data, srv, case) = pinned(Behave::DropOnce(1024 * 1024));
    let run = case.fetch(&[]).expect_code(0);
    let ranges: Vec<String> = srv.hits().into_iter().filter_map(|h| h.range).collect();
    assert_eq!(
        ranges.len(),
        1,
        "one resumed request: {ranges:?}\n{}",
        run.stderr()
    );
    let from: u64 = ranges[0]
        .trim_start_matches("bytes=")
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(from > 0 && from <= 1024 * 1024, "{from}");
    assert_eq!(std::fs::read(&case.complete_files()[0]).unwrap(), data);
    assert!(case
        .cached_files()
        .iter()
        .all(|p| !p.to_string_lossy().ends_with(".part")));
}

#[test]
fn truncated_body_fails_and_is_never_used() {
    let (_data, _srv, case) = pinned(Behave::Truncate(100_000));
    let run = case.fetch(&[]).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains("truncated") || err.contains("connection lost"),
        "{err}"
    );
    assert!(err.contains("gave up after 4 tries"), "{err}");
    assert!(
        case.complete_files().is_empty(),
        "{:?}",
        case.complete_files()
    );
}

#[test]
fn corrupted_cache_file_is_deleted_and_fetched_again() {
    let (data, _srv, case) = pinned(Behave::Serve);
    case.fetch(&[]).expect_code(0);
    let cached = case.complete_files().remove(0);
    let mut bytes = std::fs::read(&cached).unwrap();
    bytes[1000] ^= 0xff;
    std::fs::write(&cached, bytes).unwrap();
    let run = case.fetch(&[]).expect_code(0);
    assert!(run.stderr().contains("is corrupt"), "{}", run.stderr());
    assert_eq!(std::fs::read(&cached).unwrap(), data);
}

#[test]
fn local_path_with_and_without_checksum() {
    let data = payload();
    let case = Case::new("    path: flink-1.9.3-bin-scala_2.11.tgz");
    let tgz = case.dir.path().join("flink-1.9.3-bin-scala_2.11.tgz");
    std::fs::write(&tgz, &data).unwrap();

    // No checksum anywhere: refused by the inventory check itself, with the ways out.
    let run = case.fetch(&[]).expect_code(2);
    let err = run.stderr();
    assert!(
        err.contains("has no checksum") && err.contains("--insecure-no-checksum"),
        "{err}"
    );

    // Allowed only when asked, loudly, and the plan says so.
    let run = case.fetch(&["--insecure-no-checksum"]).expect_code(0);
    assert!(
        run.stderr().contains("WITHOUT checksum verification"),
        "{}",
        run.stderr()
    );
    let plan = flinkup([
        "plan",
        "-i",
        case.inv().to_str().unwrap(),
        "--offline",
        "--insecure-no-checksum",
    ])
    .expect_code(0);
    assert!(plan.stdout().contains("INSECURE"), "{}", plan.stdout());

    // With a sidecar next to it: verified.
    std::fs::write(
        tgz.with_extension("tgz.sha512"),
        format!("{}  flink-1.9.3-bin-scala_2.11.tgz\n", sha512(&data)),
    )
    .unwrap();
    let run = case.fetch(&[]).expect_code(0);
    assert!(run.stderr().contains("verified"), "{}", run.stderr());

    // A wrong pin fails even with a good sidecar present.
    let case2 = Case::new(&format!(
        "    path: {}\n    sha512: \"{}\"",
        tgz.display(),
        "1".repeat(128)
    ));
    case2.fetch(&[]).expect_code(1);
}

#[test]
fn json_events_for_automation() {
    let (_data, _srv, case) = pinned(Behave::Serve);
    let run = case.fetch(&["--json"]).expect_code(0);
    let events: Vec<serde_json::Value> = run
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.first().unwrap()["event"], "schema");
    assert_eq!(events[1]["event"], "fetch_start");
    assert_eq!(events[events.len() - 2]["event"], "verified");
    assert_eq!(events.last().unwrap()["event"], "result");
}

#[test]
fn refused_connection_names_url_and_reason() {
    // A port nothing listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/flink.tgz");
    let case = Case::new(&format!(
        "    url: {url}\n    sha512: \"{}\"",
        "a".repeat(128)
    ));
    let run = case.fetch(&[]).expect_code(1);
    let err = run.stderr();
    assert!(
        err.contains(&url) && err.contains("connection refused"),
        "{err}"
    );
    // Nothing answers at all: the way out is a file brought here, named with `path:`.
    assert!(
        err.contains("artifact: {path: /path/to/flink.tgz}"),
        "{err}"
    );
    // The same without a pinned hash: the checksum cannot be had either, and the advice is
    // the local file, not pinning a hash.
    let case = Case::new(&format!("    url: {url}"));
    let err = case.fetch(&[]).expect_code(1).stderr();
    assert!(
        err.contains("cannot get the checksum")
            && err.contains("artifact: {path: /path/to/flink.tgz}"),
        "{err}"
    );
    assert!(!err.contains("Pin flink.artifact.sha512"), "{err}");
}

#[test]
fn real_flink_tarball_fetched_with_its_sha512() {
    let tgz = flink_tarball();
    let sidecar = std::fs::read_to_string(tgz.with_extension("tgz.sha512")).unwrap();
    let srv = Server::start();
    srv.route(TGZ, Body::File(tgz.clone()), Behave::Serve);
    srv.bytes(&format!("{TGZ}.sha512"), sidecar.as_bytes(), Behave::Serve);
    let case = Case::new(&format!("    url: {}", srv.url(TGZ)));
    let run = case.fetch(&[]).expect_code(0);
    let want = sidecar.split_whitespace().next().unwrap();
    assert!(run.stdout().starts_with(want), "{}", run.stdout());
    let got = case.complete_files().remove(0);
    assert_eq!(
        std::fs::metadata(got).unwrap().len(),
        std::fs::metadata(&tgz).unwrap().len()
    );
}

#[test]
fn tls_failure_names_url_and_reason() {
    // An https:// URL answered by a plain-HTTP server: the TLS handshake fails.
    let srv = Server::start();
    srv.bytes(TGZ, &payload(), Behave::Serve);
    let url = srv.url(TGZ).replace("http://", "https://");
    let case = Case::new(&format!(
        "    url: {url}\n    sha512: \"{}\"",
        "a".repeat(128)
    ));
    let run = case.fetch(&[]).expect_code(1);
    let err = run.stderr();
    assert!(err.contains(&url) && err.contains("TLS error"), "{err}");
}

#[test]
fn full_cache_disk_is_named_and_leaves_nothing() {
    let (_data, _srv, case) = pinned(Behave::Serve);
    std::fs::create_dir_all(case.cache()).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(case.cache())
        .status()
        .expect("mount");
    assert!(
        mounted.success(),
        "mounting a 1 MiB tmpfs needs root (as .ci/run runs the tests)"
    );
    let run = case.fetch(&[]);
    let files = case.cached_files();
    let _ = std::process::Command::new("umount")
        .arg(case.cache())
        .status();
    let run = run.expect_code(1);
    let err = run.stderr();
    assert!(err.contains("disk full") && err.contains(".part"), "{err}");
    assert!(files.is_empty(), "{files:?}");
}
