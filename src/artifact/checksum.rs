//! Streaming hashes and the checksum file formats Apache publishes.

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256, Sha512};

use crate::inventory::HashAlgo;

/// Hashes with sha512 (what hosts verify) and, when a sha256 is pinned, sha256 too.
#[derive(Clone)]
pub struct Hasher {
    sha512: Sha512,
    sha256: Option<Sha256>,
}

pub struct Digests {
    pub sha512: String,
    pub sha256: Option<String>,
}

impl Digests {
    pub fn get(&self, algo: HashAlgo) -> Option<&str> {
        match algo {
            HashAlgo::Sha512 => Some(&self.sha512),
            HashAlgo::Sha256 => self.sha256.as_deref(),
        }
    }
}

impl Hasher {
    pub fn new(with_sha256: bool) -> Self {
        Hasher {
            sha512: Sha512::new(),
            sha256: with_sha256.then(Sha256::new),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        self.sha512.update(data);
        if let Some(h) = self.sha256.as_mut() {
            h.update(data);
        }
    }

    pub fn finish(self) -> Digests {
        Digests {
            sha512: hex::encode(self.sha512.finalize()),
            sha256: self.sha256.map(|h| hex::encode(h.finalize())),
        }
    }

    /// Feeds a whole file, in fixed-size chunks.
    pub fn update_file(&mut self, path: &Path) -> std::io::Result<u64> {
        let mut f = std::fs::File::open(path)?;
        let mut buf = vec![0u8; 256 * 1024];
        let mut n = 0u64;
        loop {
            let r = f.read(&mut buf)?;
            if r == 0 {
                return Ok(n);
            }
            self.update(&buf[..r]);
            n += r as u64;
        }
    }
}

pub fn hash_file(path: &Path, with_sha256: bool) -> std::io::Result<Digests> {
    let mut h = Hasher::new(with_sha256);
    h.update_file(path)?;
    Ok(h.finish())
}

/// Reads a checksum file: `sha512sum` format (`<hex>  <name>`), a bare hash, or the older
/// `gpg --print-md` layout Apache used (`name: 3B3E 3F…` over several lines).
/// Returns the algorithm (by length) and the lower-case hex.
pub fn parse_sidecar(text: &str) -> Result<(HashAlgo, String), String> {
    let first = text.split_whitespace().next().unwrap_or("");
    let body = if first.chars().all(|c| c.is_ascii_hexdigit()) {
        first
    } else {
        text.split_once(':').map_or(first, |(_, rest)| rest)
    };
    let hex: String = body
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase();
    let algo = match hex.len() {
        128 => HashAlgo::Sha512,
        64 => HashAlgo::Sha256,
        n => {
            return Err(format!(
                "expected a sha512 (128 hex characters) or sha256 (64), found {n} characters"
            ))
        }
    };
    if !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err("the checksum contains characters that are not hexadecimal".into());
    }
    Ok((algo, hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sidecar_formats() {
        let h = "ab".repeat(64);
        assert_eq!(parse_sidecar(&format!("{h}  flink.tgz\n")).unwrap().1, h);
        assert_eq!(parse_sidecar(&format!("{h}\n")).unwrap().1, h);
        assert_eq!(parse_sidecar(&format!("{h} *flink.tgz")).unwrap().1, h);
        let gpg = format!(
            "flink.tgz: {}\n {}",
            h[..64].to_uppercase(),
            h[64..].to_uppercase()
        );
        assert_eq!(parse_sidecar(&gpg).unwrap(), (HashAlgo::Sha512, h.clone()));
        assert!(parse_sidecar("<html>not found</html>").is_err());
        assert_eq!(parse_sidecar(&"cd".repeat(32)).unwrap().0, HashAlgo::Sha256);
    }
}
