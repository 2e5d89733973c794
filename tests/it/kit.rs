//! A site kit on real test hosts: made here from the inventory's archives, then a deploy from
//! it whose inventory names only URLs that refuse connections; a damaged kit refused before any
//! host changes.

use std::process::Command;

use crate::support::flinkup;
use crate::testbed::{flink_lock, flink_tarball, Spec, Testbed};

#[test]
fn a_site_kit_deploys_with_no_network_and_a_damaged_one_is_refused() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec::default());
    let made_for = tb.guide_inventory("site", 2, "cluster-script");
    let kit = tb.dir.join("site.kit");
    let run = flinkup([
        "kit",
        "-i",
        &made_for.display().to_string(),
        "-o",
        &kit.display().to_string(),
        "--cache-dir",
        &tb.dir.join("cache").display().to_string(),
    ])
    .expect_code(0);
    assert!(
        run.stdout().contains("3 entries") && run.stdout().contains("deploy --kit"),
        "{}",
        run.stdout()
    );
    let list = Command::new("tar").arg("tf").arg(&kit).output().unwrap();
    let list = String::from_utf8_lossy(&list.stdout).to_string();
    assert_eq!(
        list.lines().collect::<Vec<_>>(),
        [
            "manifest.json",
            "flinkup",
            "inventory.yaml",
            "artifacts/flink-1.9.3-bin-scala_2.11.tgz"
        ]
    );
    // The binary in the kit runs, as the engineer will run it at the site.
    let bin = tb.dir.join("from-kit");
    std::fs::create_dir_all(&bin).unwrap();
    assert!(Command::new("tar")
        .arg("xf")
        .arg(&kit)
        .arg("-C")
        .arg(&bin)
        .arg("flinkup")
        .status()
        .unwrap()
        .success());
    let v = Command::new(bin.join("flinkup"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).contains("supported Flink versions"));

    // The site's own inventory names the archive by URLs nothing answers at.
    let text = std::fs::read_to_string(&made_for).unwrap().replace(
        &format!("    path: {}\n", flink_tarball().display()),
        "    url: http://127.0.0.1:9/flink-1.9.3-bin-scala_2.11.tgz\n    checksum_url: http://127.0.0.1:9/flink-1.9.3-bin-scala_2.11.tgz.sha512\n",
    );
    assert!(text.contains("127.0.0.1:9"), "{text}");
    let site = tb.inventory("site", text.trim_start_matches("cluster: site\n"));

    // One byte of the archive changed: refused, naming it, and no host touched.
    let damaged = tb.dir.join("damaged.kit");
    let mut bytes = std::fs::read(&kit).unwrap();
    // Inside the archive's entry: its header's block, as tar numbers them, then its data.
    let blocks = Command::new("tar")
        .arg("-tR")
        .arg("-f")
        .arg(&kit)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&blocks.stdout).into_owned();
    let block: usize = listing
        .lines()
        .find(|l| l.ends_with("artifacts/flink-1.9.3-bin-scala_2.11.tgz"))
        .and_then(|l| l.strip_prefix("block "))
        .and_then(|l| l.split(':').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("the archive's entry in\n{listing}"));
    let at = (block + 1) * 512 + 100_000;
    bytes[at] ^= 0xff;
    std::fs::write(&damaged, bytes).unwrap();
    let mut args = tb.cmd("deploy", &site, &["--yes", "--quiet"]);
    args.extend(["--kit".into(), damaged.display().to_string()]);
    let run = flinkup(&args).expect_code(2);
    assert!(
        run.stderr()
            .contains("artifacts/flink-1.9.3-bin-scala_2.11.tgz does not match its manifest"),
        "{}",
        run.stderr()
    );
    for h in &tb.hosts {
        assert!(
            !h.opt().join(".flinkup").exists(),
            "nothing on {}",
            h.hostname
        );
    }

    // From the kit: deployed and verified, nothing downloaded.
    let mut args = tb.cmd("deploy", &site, &["--yes", "--quiet"]);
    args.extend(["--kit".into(), kit.display().to_string()]);
    let run = flinkup(&args).expect_code(0);
    assert!(
        run.stdout().contains("deployed and verified"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    flinkup(tb.cmd("destroy", &site, &["--yes", "--quiet"])).expect_code(0);
}

/// `distribution: direct` against a site mirror on another test host: the hosts download the
/// archive themselves (the operator's link carries none of it); a mirror serving a corrupted
/// file is refused on the hosts, nothing unpacked. Then `auto` with one host cut off from the
/// mirror: the other downloads, it gets the one upload.
#[test]
fn hosts_download_from_a_site_mirror_and_a_corrupted_one_is_refused() {
    let _flink = flink_lock();
    let tb = Testbed::new(Spec {
        hosts: 3,
        ..Spec::default()
    });
    let tgz = flink_tarball();
    let sha = std::fs::read_to_string(tgz.with_extension("tgz.sha512")).unwrap();
    let sha = sha.split_whitespace().next().unwrap().to_string();
    let mirror = tb.hosts[2].root.join("tmp/mirror");
    std::fs::create_dir_all(&mirror).unwrap();
    let served = mirror.join("flink-1.9.3-bin-scala_2.11.tgz");
    let mut bytes = std::fs::read(&tgz).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0xff;
    std::fs::write(&served, &bytes).unwrap();
    let mut server = tb.hosts[2].spawn("cd /tmp/mirror && exec python3 -m http.server 8000");
    tb.wait_listening(2, 8000, 30, "the mirror listens");
    let inv = tb.inventory(
        "mirror",
        &format!(
            "flink:\n  version: 1.9.3\n  install_dir: /opt\n  artifact:\n    url: http://{m}:8000/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: {sha}\nssh:\n  user: root\njobmanager: {h1}\ntaskmanagers: [{h2}, {h1}]\nconfig:\n  jobmanager.heap.size: 512m\n  taskmanager.heap.size: 512m\n  taskmanager.numberOfTaskSlots: 2\n  rest.port: 8082\nverify:\n  smoke: false\ndistribution: direct\n",
            m = tb.ip(2),
            h1 = tb.ip(0),
            h2 = tb.ip(1),
        ),
    );
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(1);
    assert!(
        run.stderr().contains("served a file whose sha512 is")
            && run.stderr().contains("nothing was unpacked"),
        "{}",
        run.stderr()
    );
    for h in &tb.hosts[..2] {
        assert!(!h.opt().join("flink-1.9.3").exists(), "nothing unpacked");
    }

    std::fs::copy(&tgz, &served).unwrap();
    let sent = tb.operator_tx_bytes();
    let run = flinkup(tb.cmd("deploy", &inv, &["--yes", "--quiet"])).expect_code(0);
    let sent = tb.operator_tx_bytes() - sent;
    assert!(
        run.stdout()
            .contains("+ download flink-1.9.3-bin-scala_2.11.tgz on the host"),
        "{}",
        run.stdout()
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    assert!(
        sent < 20 * 1024 * 1024,
        "the operator's link carried {sent} bytes, the archive none of them"
    );
    flinkup(tb.cmd("destroy", &inv, &["--yes", "--quiet"])).expect_code(0);

    // `distribution: auto` when host 2 cannot reach the mirror: host 1 downloads it there,
    // host 2 gets the one upload; the plan says so.
    let o = tb.hosts[1].exec(&format!("ip route add prohibit {}/32", tb.ip(2)));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&inv).unwrap();
    let auto = tb.inventory(
        "mirror",
        text.trim_start_matches("cluster: mirror\n")
            .replace("distribution: direct\n", "")
            .as_str(),
    );
    let sent = tb.operator_tx_bytes();
    let run = flinkup(tb.cmd("deploy", &auto, &["--yes"])).expect_code(0);
    let sent = tb.operator_tx_bytes() - sent;
    let out = run.stdout();
    let size = std::fs::metadata(&tgz).unwrap().len();
    assert!(
        out.contains(&format!(
            "{} reaches http://{}:8000/flink-1.9.3-bin-scala_2.11.tgz and downloads",
            tb.ip(0),
            tb.ip(2)
        )) && out.contains(&format!(
            "the other hosts do not reach its URLs; uploaded to {}",
            tb.ip(1)
        )),
        "{out}"
    );
    assert_eq!(tb.overview(), Some((2, 4)));
    assert!(
        sent > size && sent < size + size / 2,
        "the operator's link carried {sent} bytes: one archive of {size}"
    );
    flinkup(tb.cmd("destroy", &auto, &["--yes", "--quiet"])).expect_code(0);
    let _ = server.kill();
    let _ = server.wait();
}
