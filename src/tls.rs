//! Which certificate authorities HTTPS trusts: the built-in Mozilla roots, the OS trust store, and
//! the certificates named by `SSL_CERT_FILE`, `SSL_CERT_DIR` and `NODE_EXTRA_CA_CERTS` (company
//! proxies that inspect TLS re-sign traffic with their own authority). Loaded once per process, when
//! the first HTTP client is built; a source that cannot be read is named in one warning on stderr and
//! the others still apply.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

pub const SSL_CERT_FILE: &str = "SSL_CERT_FILE";
pub const SSL_CERT_DIR: &str = "SSL_CERT_DIR";
pub const NODE_EXTRA_CA_CERTS: &str = "NODE_EXTRA_CA_CERTS";

/// What a user behind a TLS-inspecting proxy should do when a certificate is not trusted.
pub const UNTRUSTED_HINT: &str = "if a proxy or company certificate authority signs HTTPS traffic here, give its \
     certificate (PEM) with SSL_CERT_FILE or NODE_EXTRA_CA_CERTS";

/// The TLS settings every client shares: built on first use, then cloned (cheap: the root store
/// and the verifier are behind `Arc`s).
pub fn client_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let started = std::time::Instant::now();
            let roots = load(&|name| std::env::var_os(name), &os_store);
            for warning in &roots.warnings {
                crate::output::Output::new(false, false).err(&format!("warning: {warning}"));
            }
            tracing::debug!(trusted = roots.store.len(), elapsed = ?started.elapsed(), "TLS roots loaded");
            config_with(roots.store)
        })
        .clone()
}

fn config_with(store: RootCertStore) -> rustls::ClientConfig {
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(store)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// The root store and one line per source that was set but could not (fully) be used.
pub struct Roots {
    pub store: RootCertStore,
    pub warnings: Vec<String>,
}

/// Builds the root store from the built-in roots, `os` (the OS trust store) and the variables
/// `env` returns. Every source is independent: a broken one only costs its own certificates.
pub fn load(env: &dyn Fn(&str) -> Option<OsString>, os: &dyn Fn() -> Vec<CertificateDer<'static>>) -> Roots {
    let mut store = Store::new();
    store.roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    // Native stores often hold a few ancient certificates that webpki cannot use; skip those quietly.
    let (added, ignored) = store.add(os());
    tracing::debug!(added, ignored, "OS trust store");

    let mut warnings = Vec::new();
    let set = |name: &str| env(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    for name in [SSL_CERT_FILE, NODE_EXTRA_CA_CERTS] {
        if let Some(path) = set(name) {
            let read = read_cert_file(&path);
            let found = read.certs.len();
            let (_, unusable) = store.add(read.certs);
            let problem = read
                .problem
                .or_else(|| (unusable > 0).then(|| format!("{unusable} certificate(s) could not be parsed")));
            if let Some(problem) = problem {
                warnings.push(source_warning(name, &path, &problem, found - unusable));
            }
        }
    }
    if let Some(dirs) = set(SSL_CERT_DIR) {
        for dir in std::env::split_paths(&dirs).filter(|d| !d.as_os_str().is_empty()) {
            let read = read_cert_dir(&dir);
            let found = read.certs.len();
            let (_, unusable) = store.add(read.certs);
            if let Some(first) = read.errors.first() {
                warnings.push(source_warning(SSL_CERT_DIR, &dir, first, found - unusable));
            } else if found == 0 {
                warnings.push(source_warning(SSL_CERT_DIR, &dir, "no PEM certificate in it", 0));
            }
        }
    }
    Roots { store: store.roots, warnings }
}

/// A root store that parses each distinct certificate once: the variables often name the very
/// bundle the OS store already holds (`SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt`).
struct Store {
    roots: RootCertStore,
    seen: HashSet<Vec<u8>>,
}

impl Store {
    fn new() -> Self {
        Store { roots: RootCertStore::empty(), seen: HashSet::new() }
    }

    /// Adds the certificates not seen before; returns how many were added and how many unusable.
    fn add(&mut self, certs: Vec<CertificateDer<'static>>) -> (usize, usize) {
        let fresh: Vec<_> = certs.into_iter().filter(|c| self.seen.insert(c.as_ref().to_vec())).collect();
        self.roots.add_parsable_certificates(fresh)
    }
}

fn source_warning(name: &str, path: &Path, problem: &str, used: usize) -> String {
    let kept = match used {
        0 => "nothing from it is trusted".to_string(),
        n => format!("{n} certificate(s) from it are trusted"),
    };
    format!("{name}={}: {problem}; {kept}. HTTPS still trusts the built-in and system roots.", path.display())
}

/// Certificates from one file, and what was wrong with it, if anything.
#[derive(Debug)]
pub struct CertFile {
    pub certs: Vec<CertificateDer<'static>>,
    pub problem: Option<String>,
}

/// The most a certificate file is read (a distribution's whole bundle is about 200 KiB).
const CERT_FILE: crate::fsio::input::Input = crate::fsio::input::Input::new("the certificate file", 16 * 1024 * 1024);

/// Reads PEM (any number of certificates; other sections and text between them are skipped) or a
/// single DER certificate. A bad PEM section is reported and the good ones are still used. The file
/// is read through [`crate::fsio::input`]: a FIFO, a device or a file over 16 MiB is not read.
pub fn read_cert_file(path: &Path) -> CertFile {
    let bytes = match crate::fsio::input::read_bytes(path, CERT_FILE) {
        Ok(b) => b,
        Err(e) => return CertFile { certs: Vec::new(), problem: Some(format!("cannot read it ({})", e.message)) },
    };
    let has_pem = bytes.windows(11).any(|w| w == b"-----BEGIN ");
    if !has_pem {
        // DER is one ASN.1 SEQUENCE; anything else is not a certificate file at all.
        let problem = (bytes.first() != Some(&0x30)).then(|| "neither PEM nor a DER certificate".to_string());
        let certs = if problem.is_none() { vec![CertificateDer::from(bytes)] } else { Vec::new() };
        return CertFile { certs, problem };
    }
    let mut certs = Vec::new();
    let mut bad = Vec::new();
    for item in CertificateDer::pem_slice_iter(&bytes) {
        match item {
            Ok(cert) => certs.push(cert.into_owned()),
            Err(e) => bad.push(e.to_string()),
        }
    }
    let problem = match (bad.first(), certs.is_empty()) {
        (Some(first), _) => Some(format!("{} malformed PEM section(s) ({first})", bad.len())),
        (None, true) => Some("no CERTIFICATE section in it".to_string()),
        (None, false) => None,
    };
    CertFile { certs, problem }
}

/// The OS trust store, found on first use. On Linux and the BSDs that is every certificate in the
/// distribution's CA folders (`/etc/ssl/certs`, `/etc/pki/tls/certs`, …), read independently of
/// `SSL_CERT_FILE`/`SSL_CERT_DIR` so that those add to it rather than replace it.
pub fn os_store() -> Vec<CertificateDer<'static>> {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        let dirs: Vec<&Path> = openssl_probe::candidate_cert_dirs().collect();
        certs_in_dirs(&dirs)
    }
    // The keychain / the Windows store. rustls-native-certs reads them only while SSL_CERT_FILE and
    // SSL_CERT_DIR are unset (when set, `load` reads those itself).
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    {
        let read = rustls_native_certs::load_native_certs();
        for e in &read.errors {
            tracing::debug!("OS trust store: {e}");
        }
        read.certs
    }
}

/// Certificates in the PEM files of `dirs` (each certificate once, however many links point at
/// its file).
pub fn certs_in_dirs(dirs: &[&Path]) -> Vec<CertificateDer<'static>> {
    let mut certs = Vec::new();
    for dir in dirs {
        let read = read_cert_dir(dir);
        for e in &read.errors {
            tracing::debug!("OS trust store: {e}");
        }
        certs.extend(read.certs);
    }
    certs.sort_unstable_by(|a, b| a.as_ref().cmp(b.as_ref()));
    certs.dedup();
    certs
}

/// What a CA folder held, and what could not be read in it.
pub struct CertDir {
    pub certs: Vec<CertificateDer<'static>>,
    pub errors: Vec<String>,
}

/// The PEM certificates of every regular file in `dir` (links followed), as OpenSSL reads a CA
/// folder. Our own rather than rustls-native-certs' reader, because that one reads each file whole
/// without a bound; here each goes through [`crate::fsio::input`]: FIFOs, devices, sub-folders and
/// dangling links are skipped without being opened for reading (OpenSSL skips them too), and a
/// file over 16 MiB is reported, not read.
pub fn read_cert_dir(dir: &Path) -> CertDir {
    use crate::fsio::input::NOT_A_FILE;
    let mut out = CertDir { certs: Vec::new(), errors: Vec::new() };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            out.errors.push(format!("cannot open the folder ({e})"));
            return out;
        }
    };
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => {
                out.errors.push(format!("cannot list the folder ({e})"));
                continue;
            }
        };
        let bytes = match crate::fsio::input::read_bytes(&path, CERT_FILE) {
            Ok(bytes) => bytes,
            Err(e) if e.code == NOT_A_FILE => continue,
            Err(e) => {
                out.errors.push(e.message);
                continue;
            }
        };
        for item in CertificateDer::pem_slice_iter(&bytes) {
            match item {
                Ok(cert) => out.certs.push(cert.into_owned()),
                Err(e) => out.errors.push(format!("{}: {e}", path.display())),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
