//! Command-line conventions: JSON Lines, completions and the man page, plain messages for
//! unreadable inventories, warnings as errors, and the documented exit codes produced for real.

use crate::support::flinkup;

/// The kinds of a JSON Lines stream, in order (every line must parse).
fn kinds(run: &crate::support::Run) -> Vec<String> {
    run.json_lines()
        .iter()
        .map(|v| v["event"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn plan_json_lines_schema_first_result_last() {
    let run = flinkup([
        "plan",
        "-i",
        "inventories/seed.yaml",
        "--offline",
        "--json",
        "--cache-dir",
        "target/no-cache",
    ])
    .expect_code(0);
    assert_eq!(kinds(&run), ["schema", "plan", "result"]);
    let lines = run.json_lines();
    insta::assert_json_snapshot!("jsonl_plan_schema", lines[0]);
    insta::assert_json_snapshot!("jsonl_plan_result", lines[2]);
}

#[test]
fn errors_are_events_too() {
    let run = flinkup(["plan", "-i", "does/not/exist.yaml", "--offline", "--json"]).expect_code(2);
    assert_eq!(kinds(&run), ["schema", "error", "result"]);
    insta::assert_json_snapshot!("jsonl_error", run.json_lines());
    assert!(run.stderr().contains("no such file"));
}

#[test]
fn unreadable_inventories_are_plain_input_errors() {
    let missing = flinkup(["validate", "-i", "does/not/exist.yaml"]).expect_code(2);
    insta::assert_snapshot!("error_missing_inventory", missing.stderr());
    let dir = flinkup(["validate", "-i", "tests"]).expect_code(2);
    insta::assert_snapshot!("error_directory_inventory", dir.stderr());
    for run in [&missing, &dir] {
        assert!(!run.stderr().contains("os error"), "{}", run.stderr());
    }
    // `render -o` onto an existing file.
    let out = flinkup(["render", "-i", "inventories/seed.yaml", "-o", "Cargo.toml"]).expect_code(2);
    insta::assert_snapshot!("error_render_onto_file", out.stderr());
}

#[test]
fn local_artifacts_are_checked_by_validate_and_plan() {
    for verb in [&["validate"][..], &["plan", "--offline"][..]] {
        let mut args = verb.to_vec();
        args.extend(["-i", "tests/inventories/conventions/no-checksum.yaml"]);
        let run = flinkup(&args).expect_code(2);
        assert!(run.stderr().contains("has no checksum"), "{}", run.stderr());
    }
    let run = flinkup([
        "validate",
        "-i",
        "tests/inventories/conventions/no-checksum.yaml",
    ])
    .expect_code(2);
    insta::assert_snapshot!("error_local_artifact_without_checksum", run.stderr());
    let run = flinkup([
        "validate",
        "-i",
        "tests/inventories/conventions/other-version.yaml",
    ])
    .expect_code(2);
    insta::assert_snapshot!("error_artifact_of_another_version", run.stderr());
}

#[test]
fn warnings_become_errors_on_request() {
    flinkup([
        "validate",
        "-i",
        "tests/inventories/good/deprecated-key.yaml",
    ])
    .expect_code(0);
    for flag in ["--deny-warnings", "--strict"] {
        let run = flinkup([
            "validate",
            "-i",
            "tests/inventories/good/deprecated-key.yaml",
            flag,
        ])
        .expect_code(2);
        assert!(
            run.stderr()
                .contains("error: `taskmanager.network.memory.fraction` is deprecated"),
            "{}",
            run.stderr()
        );
    }
}

#[test]
fn inventory_from_the_environment_or_standard_input() {
    let run = assert_cmd::Command::cargo_bin("flinkup")
        .unwrap()
        .current_dir(crate::support::root())
        .env("FLINKUP_INVENTORY", "inventories/seed.yaml")
        .arg("validate")
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
    let seed = std::fs::read(crate::support::root().join("inventories/seed.yaml")).unwrap();
    let run = assert_cmd::Command::cargo_bin("flinkup")
        .unwrap()
        .current_dir(crate::support::root())
        .args(["validate", "-i", "-"])
        .write_stdin(seed)
        .output()
        .unwrap();
    assert!(run.status.success(), "{run:?}");
}

#[test]
fn completions_and_man_page() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let run = flinkup(["completions", shell]).expect_code(0);
        for sub in ["deploy", "destroy", "smoke", "status"] {
            assert!(run.stdout().contains(sub), "{shell} completes {sub}");
        }
    }
    let fish = flinkup(["completions", "fish"]).expect_code(0).stdout();
    let subcommands: Vec<&str> = fish
        .lines()
        .filter(|l| l.contains("__fish_flinkup_needs_command") && l.contains(" -a "))
        .collect();
    insta::assert_snapshot!("completions_fish_subcommands", subcommands.join("\n"));
    let man = flinkup(["man"]).expect_code(0).stdout();
    assert!(
        man.starts_with(".ie") || man.contains(".TH flinkup 1"),
        "{man}"
    );
    let version = flinkup(["--version"]).expect_code(0).stdout();
    assert!(
        version.contains("commit") && version.contains("supported Flink versions"),
        "{version}"
    );
}

#[test]
fn exit_code_0_done() {
    flinkup(["validate", "-i", "inventories/seed.yaml"]).expect_code(0);
}

#[test]
fn exit_code_1_failed() {
    // A download from a port nothing listens on fails: the operation ran and failed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let inv = dir.path().join("inv.yaml");
    std::fs::write(
        &inv,
        format!(
            "cluster: down\nflink:\n  version: 1.9.3\n  artifact:\n    url: http://127.0.0.1:{port}/flink-1.9.3-bin-scala_2.11.tgz\n    sha512: \"{}\"\njobmanager: h1\ntaskmanagers: [h1]\n",
            "a".repeat(128)
        ),
    )
    .unwrap();
    let run = flinkup([
        "fetch",
        "-i",
        inv.to_str().unwrap(),
        "--cache-dir",
        dir.path().join("cache").to_str().unwrap(),
    ])
    .expect_code(1);
    assert!(run.stderr().contains("refused"), "{}", run.stderr());
}

#[test]
fn exit_code_2_invalid_input() {
    flinkup(["validate", "-i", "tests/inventories/bad/zero-slots.yaml"]).expect_code(2);
    flinkup(["frobnicate"]).expect_code(2);
}

/// `validate --json`: each problem an event with its parts as fields, then the result.
#[test]
fn validate_json_names_file_line_column_key_and_help() {
    let run = flinkup([
        "validate",
        "--json",
        "-i",
        "tests/inventories/bad/several-mistakes.yaml",
    ])
    .expect_code(2);
    let events = run.json_lines();
    let errors: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "error").collect();
    assert_eq!(errors.len(), 4);
    assert!(errors
        .iter()
        .all(|e| e["line"].is_u64() && e["column"].is_u64() && e["key"].is_string()));
    insta::assert_snapshot!(
        "validate_json_bad",
        events
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let ok = flinkup(["validate", "--json", "-i", "inventories/seed.yaml"]).expect_code(0);
    assert_eq!(ok.event("result")["ok"], true);
}

/// A page per command, flinkup-inventory(5) from the README's reference, and `--dir`
/// writing them all where man finds them.
#[test]
fn man_pages_for_every_command_and_the_inventory() {
    let deploy = flinkup(["man", "deploy"]).expect_code(0).stdout();
    // Without the line naming the commit it was built from.
    let deploy: Vec<&str> = deploy.lines().filter(|l| !l.contains("(commit ")).collect();
    insta::assert_snapshot!("man_deploy", deploy.join("\n"));
    let inventory = flinkup(["man", "inventory"]).expect_code(0).stdout();
    assert!(
        inventory.contains(".TH FLINKUP-INVENTORY 5")
            && inventory.contains("taskmanagers: [192.168.1.100, 192.168.1.143]")
            && inventory.contains("jobmanagers: [jm1, jm2]"),
        "{inventory}"
    );
    insta::assert_snapshot!("man_inventory", inventory);
    let main = flinkup(["man"]).expect_code(0).stdout();
    let dir = tempfile::tempdir().unwrap();
    flinkup(["man", "--dir", &dir.path().display().to_string()]).expect_code(0);
    // Every page the main page names exists.
    for seen in main.split("flinkup\\-").skip(1) {
        let name: String = seen
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '\\' || *c == '-')
            .collect::<String>()
            .replace("\\-", "-");
        if !seen[name.len()..].starts_with("(1)") {
            continue;
        }
        assert!(
            dir.path().join(format!("man1/flinkup-{name}.1")).is_file(),
            "flinkup-{name}(1) is named by flinkup(1) and installed"
        );
    }
    assert!(dir.path().join("man5/flinkup-inventory.5").is_file());
    flinkup(["man", "nope"]).expect_code(2);
}
