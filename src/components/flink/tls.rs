//! TLS inside the cluster and on its REST API (`tls:`): a CA per cluster kept on the operator's
//! machine, the certificates it issues, the PKCS12 keystore and truststore Flink reads, the keys
//! each release names them by, and the cipher suites both the release and the hosts' JDK accept.
//!
//! Everything secret stays in files: the plan carries paths and fingerprints, never a password
//! or a key.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::inventory::{Cluster, Version};

/// ECDHE with the ECDSA keys flinkup issues, AES-GCM: what current JDKs and every release from
/// 1.9 accept (the releases' own default before 2.0, `TLS_RSA_WITH_AES_128_CBC_SHA`, is
/// disabled by current JDK updates).
pub const SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
];

/// How long before a certificate expires `status` warns.
pub const WARN_BEFORE: Duration = Duration::from_secs(30 * 24 * 3600);

/// The CA's lifetime; the cluster's certificates live `tls.validity` (default 825 days).
const CA_DAYS: u64 = 3650;
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(825 * 24 * 3600);

/// The files each host gets, under `<install_dir>/tls/`.
pub const KEYSTORE: &str = "keystore.p12";
pub const TRUSTSTORE: &str = "truststore.p12";
pub const CA_PEM: &str = "ca.pem";
/// flinkup's (and Fornaxee's) client certificate and key, for REST with client
/// authentication.
pub const CLIENT_PEM: &str = "client.pem";
/// Every file a host gets.
pub const FILES: [&str; 4] = [KEYSTORE, TRUSTSTORE, CA_PEM, CLIENT_PEM];

/// The validated `tls:` section, with the material once it is loaded.
#[derive(Debug, Clone, Serialize)]
pub struct Tls {
    /// REST requires a client certificate signed by the cluster's CA.
    pub client_auth: bool,
    pub suites: Vec<String>,
    #[serde(skip)]
    pub validity: Duration,
    /// Loaded (or made) by the command before planning; never serialized.
    #[serde(skip)]
    pub material: Option<Material>,
}

/// The flink-conf keys flinkup writes for TLS (under the names the release reads).
pub const KEYS: &[&str] = &[
    "security.ssl.internal.enabled",
    "security.ssl.internal.keystore",
    "security.ssl.internal.keystore-password",
    "security.ssl.internal.key-password",
    "security.ssl.internal.truststore",
    "security.ssl.internal.truststore-password",
    "security.ssl.rest.enabled",
    "security.ssl.rest.keystore",
    "security.ssl.rest.keystore-password",
    "security.ssl.rest.key-password",
    "security.ssl.rest.truststore",
    "security.ssl.rest.truststore-password",
    "security.ssl.rest.authentication-enabled",
    "security.ssl.algorithms",
];

/// The keys of `KEYS` the release's catalogue does not define.
pub fn missing_keys(v: Version) -> Vec<&'static str> {
    match super::catalogue::release(v) {
        Some(r) => KEYS.iter().copied().filter(|k| !r.reads(k)).collect(),
        None => KEYS.to_vec(),
    }
}

/// Where the TLS files sit on a host.
pub fn host_dir(c: &Cluster) -> String {
    format!("{}/tls", c.install_dir)
}

/// The key/value lines of flink-conf for TLS (the release's names), passwords included: the
/// file is written mode 0600 and every output masks them.
pub fn keys(c: &Cluster, t: &Tls) -> Vec<(String, String)> {
    let Some(m) = &t.material else {
        return Vec::new();
    };
    let dir = host_dir(c);
    let ks = format!("{dir}/{KEYSTORE}");
    let ts = format!("{dir}/{TRUSTSTORE}");
    let pw = m.secrets();
    let values: Vec<String> = vec![
        "true".into(),
        ks.clone(),
        pw.keystore_password.clone(),
        pw.keystore_password.clone(),
        ts.clone(),
        pw.truststore_password.clone(),
        "true".into(),
        ks,
        pw.keystore_password.clone(),
        pw.keystore_password.clone(),
        ts,
        pw.truststore_password.clone(),
        t.client_auth.to_string(),
        t.suites.join(","),
    ];
    KEYS.iter()
        .zip(values)
        .map(|(k, v)| (super::render::written_as(c.version, k), v))
        .collect()
}

/// What the hosts' JDK refuses (`jdk.tls.disabledAlgorithms`), as the probe read it.
pub fn disabled_entries(value: &str) -> Vec<String> {
    value
        .replace("\\\n", " ")
        .replace('\\', " ")
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Whether a JDK with these `disabledAlgorithms` entries refuses `suite` (TLS 1.2): an entry
/// names the suite, a wildcard prefix of it (`TLS_RSA_*`), its key exchange, or its cipher.
pub fn suite_disabled(suite: &str, disabled: &[String]) -> bool {
    let body = suite.strip_prefix("TLS_").unwrap_or(suite);
    let (kx, rest) = body.split_once("_WITH_").unwrap_or((body, ""));
    let cipher = rest
        .rsplit_once('_')
        .map(|(c, _)| c.to_string())
        .unwrap_or_default();
    let mut parts: Vec<String> = vec![suite.to_string(), kx.to_string(), cipher.clone()];
    parts.extend(kx.split('_').map(str::to_string));
    if let Some((alg, mode)) = cipher.rsplit_once('_') {
        parts.push(mode.to_string());
        parts.push(alg.split('_').next().unwrap_or(alg).to_string());
    }
    disabled.iter().any(|d| {
        // Constraints (`EC keySize < 224`, `… usage HandshakeSignature`) do not refuse a
        // whole suite.
        if d.contains(' ') {
            return false;
        }
        if d == "TLSv1.2" {
            return true;
        }
        match d.strip_suffix('*') {
            Some(prefix) => suite.starts_with(prefix),
            None => parts.iter().any(|p| p.eq_ignore_ascii_case(d)),
        }
    })
}

/// The REST API's TLS as flinkup's own requests use it: files on the operator's machine, and
/// the same on the JobManager host for requests made there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestTls {
    pub ca: PathBuf,
    /// The client certificate and key (PEM), when REST wants one.
    pub identity: Option<PathBuf>,
    pub host_ca: String,
    pub host_identity: Option<String>,
}

impl RestTls {
    pub fn of(c: &Cluster) -> Option<RestTls> {
        let t = c.tls.as_ref()?;
        let m = c.tls_material()?;
        let dir = host_dir(c);
        Some(RestTls {
            ca: m.dir.join(CA_PEM),
            identity: t.client_auth.then(|| m.dir.join(CLIENT_PEM)),
            host_ca: format!("{dir}/{CA_PEM}"),
            host_identity: t.client_auth.then(|| format!("{dir}/{CLIENT_PEM}")),
        })
    }

    /// An HTTP client that trusts the cluster's CA (and only it) and shows the client
    /// certificate when REST asks for one.
    pub fn client(&self, timeout: Duration) -> std::result::Result<reqwest::Client, String> {
        let read =
            |p: &Path| std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        let ca = reqwest::Certificate::from_pem(&read(&self.ca)?)
            .map_err(|e| format!("{}: {e}", self.ca.display()))?;
        let mut b = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .add_root_certificate(ca)
            .connect_timeout(Duration::from_secs(3))
            .timeout(timeout);
        if let Some(id) = &self.identity {
            let pem = read(id)?;
            b = b.identity(
                reqwest::Identity::from_pem(&pem).map_err(|e| format!("{}: {e}", id.display()))?,
            );
        }
        b.build().map_err(|e| e.to_string())
    }

    /// Shell assignments that make `http_get` on a host use the cluster's CA and client
    /// certificate for https URLs.
    pub fn shell_env(&self) -> String {
        format!(
            "HTTP_CA={}; HTTP_CERT={}; ",
            crate::remote::qp(&self.host_ca),
            self.host_identity
                .as_deref()
                .map(crate::remote::qp)
                .unwrap_or_default()
        )
    }
}

/// Passwords of the keystore and truststore.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    pub keystore_password: String,
    pub truststore_password: String,
}

/// The cluster's CA and certificates as kept on the operator's machine.
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    ca_cert: String,
    ca_key: String,
    cert: String,
    key: String,
    client_cert: String,
    client_key: String,
    secrets: Secrets,
    /// The names and addresses the cluster's certificate is valid for.
    names: Vec<String>,
    not_after: u64,
    ca_not_after: u64,
}

/// The material a plan distributes: bytes of each host file, their fingerprints, the passwords
/// flink-conf names, and when the certificates expire.
#[derive(Clone)]
pub struct Material {
    stored: Stored,
    pub dir: PathBuf,
    pub files: Vec<(&'static str, Vec<u8>)>,
}

impl std::fmt::Debug for Material {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Material")
            .field("dir", &self.dir)
            .field("names", &self.stored.names)
            .field("not_after", &self.stored.not_after)
            .finish_non_exhaustive()
    }
}

impl Material {
    /// The passwords flink-conf names.
    pub fn secrets(&self) -> &Secrets {
        &self.stored.secrets
    }

    /// When the cluster's certificate expires (Unix seconds).
    pub fn not_after(&self) -> u64 {
        self.stored.not_after
    }

    /// When the CA expires (Unix seconds).
    pub fn ca_not_after(&self) -> u64 {
        self.stored.ca_not_after
    }

    /// The CA certificate (PEM).
    pub fn ca_pem(&self) -> &str {
        &self.stored.ca_cert
    }

    /// The sha256 of one host file.
    pub fn fingerprint(&self, name: &str) -> Option<String> {
        self.files
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| hex::encode(Sha256::digest(b)))
    }
}

/// Where flinkup keeps what it knows on the operator's machine: `FLINKUP_STATE_DIR`, else the
/// platform's data directory.
pub fn state_root() -> PathBuf {
    std::env::var_os("FLINKUP_STATE_DIR")
        .map(PathBuf::from)
        .or_else(|| dirs::data_local_dir().map(|d| d.join("flinkup")))
        .unwrap_or_else(|| PathBuf::from(".flinkup"))
}

/// The cluster's TLS directory on the operator's machine.
pub fn local_dir(cluster_name: &str) -> PathBuf {
    let safe: String = cluster_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    state_root().join("clusters").join(safe).join("tls")
}

/// The names the cluster's certificate covers: every JobManager's name and address, and
/// `localhost`/`127.0.0.1` (requests made on the JobManager host itself).
pub fn names(c: &Cluster) -> Vec<String> {
    let mut n: Vec<String> = c
        .jobmanagers()
        .flat_map(|h| [h.name.clone(), h.address.clone()])
        .chain(["localhost".to_string(), "127.0.0.1".to_string()])
        .collect();
    n.sort();
    n.dedup();
    n
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn password() -> Result<String> {
    let mut b = [0u8; 24];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .map_err(|e| Error::io("cannot read /dev/urandom for a password".to_string(), e))?;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    Ok(b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect())
}

fn tls_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Failed(format!("TLS: {what}: {e}"))
}

fn offset(secs: u64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::now_utc())
}

fn new_ca(cluster_name: &str) -> Result<(String, String, u64)> {
    let key = rcgen::KeyPair::generate().map_err(|e| tls_err("CA key", e))?;
    let mut p = rcgen::CertificateParams::default();
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("flinkup CA for cluster {cluster_name}"),
    );
    p.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let start = now().saturating_sub(3600);
    let end = now() + CA_DAYS * 24 * 3600;
    p.not_before = offset(start);
    p.not_after = offset(end);
    let cert = p
        .self_signed(&key)
        .map_err(|e| tls_err("CA certificate", e))?;
    Ok((cert.pem(), key.serialize_pem(), end))
}

fn issue(
    ca_cert: &str,
    ca_key: &str,
    cn: &str,
    sans: &[String],
    client_only: bool,
    validity: Duration,
) -> Result<(String, String, u64)> {
    let ca_key = rcgen::KeyPair::from_pem(ca_key).map_err(|e| tls_err("the CA's key", e))?;
    let ca = rcgen::CertificateParams::from_ca_cert_pem(ca_cert)
        .map_err(|e| tls_err("the CA's certificate", e))?
        .self_signed(&ca_key)
        .map_err(|e| tls_err("the CA's certificate", e))?;
    let key = rcgen::KeyPair::generate().map_err(|e| tls_err("key", e))?;
    let mut p = rcgen::CertificateParams::new(sans.to_vec()).map_err(|e| tls_err("names", e))?;
    p.distinguished_name = rcgen::DistinguishedName::new();
    p.distinguished_name.push(rcgen::DnType::CommonName, cn);
    p.key_usages = vec![
        rcgen::KeyUsagePurpose::DigitalSignature,
        rcgen::KeyUsagePurpose::KeyAgreement,
    ];
    p.extended_key_usages = if client_only {
        vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth]
    } else {
        vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ]
    };
    p.use_authority_key_identifier_extension = true;
    let mut serial = [0u8; 16];
    serial.copy_from_slice(&Sha256::digest(format!("{cn}{}{}", now(), password()?))[..16]);
    serial[0] &= 0x7f;
    p.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let start = now().saturating_sub(3600);
    let end = now() + validity.as_secs();
    p.not_before = offset(start);
    p.not_after = offset(end);
    let cert = p
        .signed_by(&key, &ca, &ca_key)
        .map_err(|e| tls_err("certificate", e))?;
    Ok((cert.pem(), key.serialize_pem(), end))
}

fn der_of(pem_text: &str) -> Result<Vec<u8>> {
    let body: String = pem_text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(body.trim())
        .map_err(|e| tls_err("PEM", e))
}

fn stores(s: &Stored) -> Result<(Vec<u8>, Vec<u8>)> {
    let cert = |p: &str| {
        der_of(p).and_then(|d| {
            p12_keystore::Certificate::from_der(&d).map_err(|e| tls_err("certificate", e))
        })
    };
    let key =
        p12_keystore::PrivateKey::from_der(&der_of(&s.key)?).map_err(|e| tls_err("key", e))?;
    let chain = p12_keystore::PrivateKeyChain::new(
        Sha256::digest(s.cert.as_bytes())[..20].to_vec(),
        key,
        [cert(&s.cert)?, cert(&s.ca_cert)?],
    );
    let mut ks = p12_keystore::KeyStore::new();
    ks.add_entry("flink", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let keystore = ks
        .writer(&s.secrets.keystore_password)
        .write()
        .map_err(|e| tls_err("keystore", e))?;
    let mut ts = p12_keystore::KeyStore::new();
    ts.add_entry(
        "ca",
        p12_keystore::KeyStoreEntry::Certificate(cert(&s.ca_cert)?),
    );
    let truststore = ts
        .writer(&s.secrets.truststore_password)
        .write()
        .map_err(|e| tls_err("truststore", e))?;
    Ok((keystore, truststore))
}

/// Writes a private file (mode 0600) atomically.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    f.write_all(bytes)
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, path)
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

/// What [`load`] should do with the cluster's certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Issue {
    /// Keep them (issue the cluster's certificate again only when its names changed).
    Keep,
    /// New certificates, keys and passwords under the same CA (`flinkup tls rotate`).
    Rotate,
}

/// Loads the cluster's TLS material, making the CA and certificates the first time (and the
/// cluster's certificate again when its names changed). With `save: false` a rotation is
/// computed but not kept (a dry run).
pub fn load(c: &Cluster, t: &Tls, issue_mode: Issue, save: bool) -> Result<Material> {
    let dir = local_dir(&c.name);
    let json = dir.join("tls.json");
    let want = names(c);
    let previous: Option<Stored> =
        match std::fs::read(&json) {
            Ok(b) => Some(serde_json::from_slice(&b).map_err(|e| {
                tls_err(&format!("{} is not flinkup's TLS state", json.display()), e)
            })?),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(Error::io(format!("cannot read {}", json.display()), e)),
        };
    let reissue = |ca_cert: String, ca_key: String, ca_not_after: u64| -> Result<Stored> {
        let (cert, key, not_after) = issue(
            &ca_cert,
            &ca_key,
            &format!("flink cluster {}", c.name),
            &want,
            false,
            t.validity,
        )?;
        let (client_cert, client_key, _) = issue(
            &ca_cert,
            &ca_key,
            &format!("flinkup client for cluster {}", c.name),
            &[],
            true,
            t.validity,
        )?;
        Ok(Stored {
            ca_cert,
            ca_key,
            cert,
            key,
            client_cert,
            client_key,
            secrets: Secrets {
                keystore_password: password()?,
                truststore_password: password()?,
            },
            names: want.clone(),
            not_after,
            ca_not_after,
        })
    };
    let (stored, changed) = match previous {
        Some(p) if issue_mode == Issue::Keep && p.names == want => (p, false),
        Some(p) => (reissue(p.ca_cert, p.ca_key, p.ca_not_after)?, true),
        None => {
            let (ca_cert, ca_key, ca_end) = new_ca(&c.name)?;
            (reissue(ca_cert, ca_key, ca_end)?, true)
        }
    };
    let (keystore, truststore) = if changed {
        stores(&stored)?
    } else {
        let read = |n: &str| {
            std::fs::read(dir.join(n))
                .map_err(|e| Error::io(format!("cannot read {}", dir.join(n).display()), e))
        };
        match (read(KEYSTORE), read(TRUSTSTORE)) {
            (Ok(k), Ok(t)) => (k, t),
            _ => stores(&stored)?,
        }
    };
    let client_pem = format!("{}{}", stored.client_cert, stored.client_key);
    let m = Material {
        files: vec![
            (KEYSTORE, keystore),
            (TRUSTSTORE, truststore),
            (CA_PEM, stored.ca_cert.clone().into_bytes()),
            (CLIENT_PEM, client_pem.into_bytes()),
        ],
        stored,
        dir: dir.clone(),
    };
    if save && (changed || !dir.join(KEYSTORE).is_file() || !dir.join(CLIENT_PEM).is_file()) {
        m.save()?;
    }
    Ok(m)
}

impl Material {
    /// Keeps the material on the operator's machine, every file private.
    pub fn save(&self) -> Result<()> {
        let dir = &self.dir;
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            for d in [dir.as_path(), dir.parent().unwrap_or(dir)] {
                let _ = std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o700));
            }
        }
        for (name, bytes) in &self.files {
            write_private(&dir.join(name), bytes)?;
        }
        let text = serde_json::to_vec_pretty(&self.stored).map_err(|e| tls_err("state", e))?;
        write_private(&dir.join("tls.json"), &text)
    }
}

/// The CA certificate of a cluster whose TLS material exists.
pub fn ca_pem(cluster_name: &str) -> Result<String> {
    let p = local_dir(cluster_name).join(CA_PEM);
    std::fs::read_to_string(&p).map_err(|e| {
        Error::Failed(format!(
            "cluster {cluster_name} has no CA on this machine ({}: {e}); deploy it with `tls: {{enabled: true}}` first, or set FLINKUP_STATE_DIR to where its state is",
            p.display()
        ))
    })
}

/// A certificate's expiry in words, and whether it is within [`WARN_BEFORE`].
pub fn expiry(not_after: u64) -> (String, bool) {
    let now = now();
    let date = humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(not_after));
    if not_after <= now {
        return (format!("expired at {date}"), true);
    }
    let left = not_after - now;
    (
        format!("valid until {date} ({} days)", left / 86400),
        left <= WARN_BEFORE.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suites_refused_by_a_jdk_are_told_apart() {
        let d = disabled_entries(
            "SSLv3, TLSv1, TLSv1.1, DTLSv1.0, RC4, DES, \\\n    MD5withRSA, DH keySize < 1024, EC keySize < 224, 3DES_EDE_CBC, anon, NULL, \\\n    ECDH, TLS_RSA_*, rsa_pkcs1_sha1 usage HandshakeSignature",
        );
        assert!(suite_disabled("TLS_RSA_WITH_AES_128_CBC_SHA", &d));
        for s in SUITES {
            assert!(!suite_disabled(s, &d), "{s}");
        }
        let strict = disabled_entries("ECDHE, TLSv1.1");
        assert!(SUITES.iter().all(|s| suite_disabled(s, &strict)));
        assert!(suite_disabled(SUITES[0], &disabled_entries("AES_256_GCM")));
        assert!(!suite_disabled(SUITES[1], &disabled_entries("AES_256_GCM")));
    }

    #[test]
    fn every_catalogued_release_names_the_tls_keys() {
        for r in super::super::catalogue::releases() {
            let v = crate::inventory::Version {
                major: r.major,
                minor: r.minor,
                patch: 0,
            };
            assert_eq!(missing_keys(v), Vec::<&str>::new(), "{}", r.name());
        }
        // A release the catalogue does not know lacks them all, and tls: is refused for it.
        let unknown = crate::inventory::Version {
            major: 1,
            minor: 8,
            patch: 3,
        };
        assert_eq!(missing_keys(unknown).len(), KEYS.len());
    }

    #[test]
    fn expiry_warns_within_thirty_days() {
        let now = now();
        assert!(!expiry(now + 40 * 86400).1);
        assert!(expiry(now + 20 * 86400).1);
        assert!(expiry(now.saturating_sub(10)).0.starts_with("expired"));
    }

    #[test]
    fn keystores_hold_the_chain_and_the_ca() {
        let (ca_cert, ca_key, _) = new_ca("t").unwrap();
        let (cert, key, _) = issue(
            &ca_cert,
            &ca_key,
            "n",
            &["localhost".into(), "127.0.0.1".into()],
            false,
            DEFAULT_VALIDITY,
        )
        .unwrap();
        let s = Stored {
            ca_cert,
            ca_key,
            cert,
            key,
            client_cert: String::new(),
            client_key: String::new(),
            secrets: Secrets {
                keystore_password: "a".into(),
                truststore_password: "b".into(),
            },
            names: vec![],
            not_after: 0,
            ca_not_after: 0,
        };
        let (k, t) = stores(&s).unwrap();
        let ks = p12_keystore::KeyStore::from_pkcs12(
            &k,
            "a",
            p12_keystore::Pkcs12ImportPolicy::default(),
        )
        .unwrap();
        let (_, chain) = ks.private_key_chain().unwrap();
        assert_eq!(chain.certs().len(), 2);
        let ts = p12_keystore::KeyStore::from_pkcs12(
            &t,
            "b",
            p12_keystore::Pkcs12ImportPolicy::default(),
        )
        .unwrap();
        assert_eq!(ts.entries_len(), 1);
    }
}
