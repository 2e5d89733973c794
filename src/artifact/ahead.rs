//! The operator's copy of an archive hashed ahead: while the hosts are probed, a thread reads
//! the file once for its sha512 and, when hosts may relay it, the sha512 of each relay chunk,
//! so neither the check before use nor the relay waits on a read of its own. A file whose
//! size, modification time or inode changed since is hashed again by whoever asks.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

/// The unit a relaying host checks before tar may read it.
pub const CHUNK: u64 = 8 << 20;

/// A file's sha512 and, when asked for, the sha512 of each [`CHUNK`] of it, from one read.
#[derive(Debug, Clone)]
pub struct Sums {
    pub sha512: String,
    /// Empty unless chunks were asked for.
    pub chunks: Vec<String>,
}

/// Reads the file once: its sha512 and, with `chunks`, each chunk's.
pub fn sums(path: &Path, chunks: bool) -> std::io::Result<Sums> {
    use sha2::{Digest, Sha512};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut buf = vec![0u8; CHUNK as usize];
    let mut out = Vec::new();
    let mut whole = Sha512::new();
    loop {
        let mut n = 0;
        while n < buf.len() {
            match f.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        if n > 0 {
            whole.update(&buf[..n]);
            if chunks {
                out.push(hex::encode(Sha512::digest(&buf[..n])));
            }
        }
        if n < buf.len() {
            return Ok(Sums {
                sha512: hex::encode(whole.finalize()),
                chunks: out,
            });
        }
    }
}

/// What tells a file from the one that was hashed, short of reading it.
#[derive(PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<std::time::SystemTime>,
    ino: u64,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            len: m.len(),
            modified: m.modified().ok(),
            ino: m.ino(),
        })
    }
}

struct Pending {
    stamp: Stamp,
    chunks: bool,
    /// `None` while the thread reads; then its result (`None` when the read failed).
    done: Mutex<Option<Option<Sums>>>,
    ready: Condvar,
}

static AHEAD: Mutex<Vec<(PathBuf, Arc<Pending>)>> = Mutex::new(Vec::new());

/// Starts hashing `path` on its own thread (once per path); `chunks` when hosts may relay it.
pub fn start(path: &Path, chunks: bool) {
    let Some(stamp) = Stamp::of(path) else {
        return;
    };
    let mut table = AHEAD.lock().unwrap_or_else(|e| e.into_inner());
    if table.iter().any(|(p, _)| p == path) {
        return;
    }
    let pending = Arc::new(Pending {
        stamp,
        chunks,
        done: Mutex::new(None),
        ready: Condvar::new(),
    });
    table.push((path.to_path_buf(), pending.clone()));
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        let got = sums(&path, pending.chunks).ok();
        *pending.done.lock().unwrap_or_else(|e| e.into_inner()) = Some(got);
        pending.ready.notify_all();
    });
}

/// The sums hashed ahead for `path`, waiting for them if the thread still reads; `None` when
/// nothing was started for it, the read failed, chunks were wanted but not hashed, or the file
/// is no longer the one that was read.
pub fn take(path: &Path, chunks: bool) -> Option<Sums> {
    let pending = {
        let table = AHEAD.lock().unwrap_or_else(|e| e.into_inner());
        table.iter().find(|(p, _)| p == path)?.1.clone()
    };
    if chunks && !pending.chunks {
        return None;
    }
    let mut done = pending.done.lock().unwrap_or_else(|e| e.into_inner());
    while done.is_none() {
        done = pending.ready.wait(done).unwrap_or_else(|e| e.into_inner());
    }
    let got = done.clone().flatten()?;
    (Stamp::of(path)? == pending.stamp).then_some(got)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_ahead_is_what_a_read_gives_until_the_file_changes() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.tgz");
        let data: Vec<u8> = (0..(CHUNK as usize * 2 + 5)).map(|i| i as u8).collect();
        std::fs::write(&f, &data).unwrap();
        assert!(take(&f, false).is_none(), "nothing was started");
        start(&f, true);
        let got = take(&f, true).expect("hashed ahead");
        let read = sums(&f, true).unwrap();
        assert_eq!(got.sha512, read.sha512);
        assert_eq!(got.chunks, read.chunks);
        assert_eq!(got.chunks.len(), 3);
        // Another file in its place (a new inode) is not the one that was hashed.
        let g = dir.path().join("b.tgz");
        std::fs::write(&g, b"other").unwrap();
        std::fs::rename(&g, &f).unwrap();
        assert!(take(&f, false).is_none());
    }

    #[test]
    fn chunks_not_hashed_ahead_are_not_offered() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.tgz");
        std::fs::write(&f, b"small").unwrap();
        start(&f, false);
        assert!(take(&f, true).is_none());
        assert_eq!(
            take(&f, false).unwrap().sha512,
            sums(&f, false).unwrap().sha512
        );
    }
}
