//! Property tests over the inventory loader and validator: arbitrary bytes and structured
//! mutations of the shipped inventories never panic, never hang, and every rejection is an
//! ordinary invalid-input error (exit code 2).

use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

use crate::support::root;

#[derive(Default)]
struct Tally {
    cases: AtomicUsize,
    accepted: AtomicUsize,
    rejected: AtomicUsize,
    slowest_us: AtomicU64,
}

fn check(t: &Tally, bytes: &[u8]) -> Result<(), TestCaseError> {
    t.cases.fetch_add(1, Ordering::Relaxed);
    let start = Instant::now();
    let dir = root().join("tests/inventories/good");
    let path = dir.join("fuzz.yaml");
    let r = std::panic::catch_unwind(|| {
        flinkup::inventory::load_bytes(&path, bytes, Default::default())
    });
    let took = start.elapsed();
    t.slowest_us
        .fetch_max(took.as_micros() as u64, Ordering::Relaxed);
    prop_assert!(
        took.as_secs() < 2,
        "took {took:?} (a hang) on {:?}",
        String::from_utf8_lossy(bytes)
    );
    match r {
        Err(_) => {
            return Err(TestCaseError::fail(format!(
                "panic on {:?}",
                String::from_utf8_lossy(bytes)
            )))
        }
        Ok(Ok(_)) => {
            t.accepted.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Err(e)) => {
            prop_assert_eq!(
                e.exit_code(),
                2,
                "rejection with the wrong exit code: {}",
                e
            );
            t.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

fn seeds() -> Vec<String> {
    let mut v = Vec::new();
    for dir in ["inventories", "tests/inventories/good"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            if let Ok(t) = std::fs::read_to_string(e.path()) {
                v.push(t);
            }
        }
    }
    v
}

const TOKENS: &[&str] = &[
    ":",
    "- ",
    "[",
    "]",
    "{",
    "}",
    "#",
    "'",
    "\"",
    "\n",
    "  ",
    "&a ",
    "*a",
    "!!binary ",
    "? ",
    "|",
    ">",
    "%",
    "@",
    "`",
    "null",
    "~",
    "1e309",
    "-1",
    "0",
    "99999999999999999999",
    "0x10",
    "...",
    "---\n",
    "<<: *a\n",
    "\t",
    "\u{feff}",
    "taskmanagers: []\n",
    "jobmanager: ",
    "config:\n  rest.port: ",
    "\u{0}",
    "é",
    "$(touch /tmp/flinkup-canary)",
];

#[derive(Debug, Clone)]
enum Mutation {
    DeleteLine(usize),
    DuplicateLine(usize),
    SwapLines(usize, usize),
    Insert(usize, usize),
    Replace(usize, usize),
    Truncate(usize),
    Indent(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::DeleteLine),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Mutation::Replace(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 0usize..6).prop_map(|(a, b)| Mutation::Indent(a, b)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let n = lines.len().max(1);
    let boundary = |s: &str, i: usize| {
        let mut i = i % (s.len() + 1);
        while !s.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match m {
        Mutation::DeleteLine(i) if !lines.is_empty() => {
            lines.remove(i % n);
        }
        Mutation::DuplicateLine(i) if !lines.is_empty() => {
            let l = lines[i % n].clone();
            lines.insert(i % n, l);
        }
        Mutation::SwapLines(a, b) if !lines.is_empty() => lines.swap(a % n, b % n),
        Mutation::Insert(pos, tok) => {
            let s = lines.join("\n");
            let p = boundary(&s, *pos);
            return format!("{}{}{}", &s[..p], TOKENS[tok % TOKENS.len()], &s[p..]);
        }
        Mutation::Replace(pos, tok) => {
            let s = lines.join("\n");
            let p = boundary(&s, *pos);
            let q = boundary(&s, p + 1).max(p);
            return format!("{}{}{}", &s[..p], TOKENS[tok % TOKENS.len()], &s[q..]);
        }
        Mutation::Truncate(pos) => {
            let s = lines.join("\n");
            let p = boundary(&s, *pos);
            return s[..p].to_string();
        }
        Mutation::Indent(i, k) if !lines.is_empty() => {
            let l = format!("{}{}", " ".repeat(*k), lines[i % n]);
            lines[i % n] = l;
        }
        _ => {}
    }
    lines.join("\n") + "\n"
}

#[test]
fn loader_never_panics_or_hangs() {
    let t = Tally::default();
    let mut runner = TestRunner::new(Config {
        cases: 10_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(any::<u8>(), 0..1024), |bytes| {
            check(&t, &bytes)
        })
        .unwrap();
    let seeds = seeds();
    let mut runner = TestRunner::new(Config {
        cases: 30_000,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(
            &(0..seeds.len(), proptest::collection::vec(mutation(), 1..6)),
            |(s, ms)| {
                let text = ms.iter().fold(seeds[s].clone(), |acc, m| apply(&acc, m));
                check(&t, text.as_bytes())
            },
        )
        .unwrap();
    // Deep nesting and alias expansion, the classic parser killers.
    let deep = "[".repeat(10_000);
    check(&t, deep.as_bytes()).unwrap();
    let laughs = "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n";
    check(&t, laughs.as_bytes()).unwrap();
    assert!(!Path::new("/tmp/flinkup-canary").exists());
    crate::support::report(format!(
        "fuzz: {} cases ({} accepted, {} rejected with exit code 2), panics 0, slowest {:.1} ms",
        t.cases.load(Ordering::Relaxed),
        t.accepted.load(Ordering::Relaxed),
        t.rejected.load(Ordering::Relaxed),
        t.slowest_us.load(Ordering::Relaxed) as f64 / 1000.0
    ));
}
