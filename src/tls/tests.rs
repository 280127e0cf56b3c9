use std::collections::HashMap;

use super::*;
use crate::test_support::http::{Scripted, TestServer};

fn ca(name: &str) -> rcgen::Certificate {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&rcgen::KeyPair::generate().unwrap()).unwrap()
}

/// The subject webpki records for `cert` once it is a trust anchor.
fn subject(cert: &rcgen::Certificate) -> Vec<u8> {
    let mut one = RootCertStore::empty();
    one.add(cert.der().clone()).unwrap();
    one.roots[0].subject.as_ref().to_vec()
}

fn trusts(roots: &Roots, cert: &rcgen::Certificate) -> bool {
    let want = subject(cert);
    roots.store.roots.iter().any(|ta| ta.subject.as_ref() == want.as_slice())
}

fn load_with(vars: &[(&str, &Path)]) -> Roots {
    let vars: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), v.as_os_str().to_owned())).collect();
    load(&|name| vars.get(name).cloned(), &Vec::new)
}

fn builtin() -> usize {
    webpki_roots::TLS_SERVER_ROOTS.len()
}

/// Loads a file holding `contents` through `var`; it must add nothing and give exactly one warning.
fn sole_warning(var: &str, contents: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, contents).unwrap();
    let mut roots = load_with(&[(var, &path)]);
    assert_eq!(roots.store.len(), builtin(), "nothing from the file is trusted");
    assert_eq!(roots.warnings.len(), 1, "{:?}", roots.warnings);
    let w = roots.warnings.remove(0);
    assert!(w.starts_with(&format!("{var}={}: ", path.display())), "{w}");
    w
}

#[test]
fn built_in_roots_are_always_there_and_unset_variables_add_nothing() {
    let roots = load_with(&[]);
    assert_eq!(roots.store.len(), builtin());
    assert!(roots.warnings.is_empty());
    let empty: HashMap<&str, OsString> =
        [(SSL_CERT_FILE, OsString::new()), (NODE_EXTRA_CA_CERTS, OsString::new())].into();
    let roots = load(&|name| empty.get(name).cloned(), &Vec::new);
    assert!(roots.warnings.is_empty(), "an empty variable counts as unset: {:?}", roots.warnings);
}

#[test]
fn each_file_variable_adds_every_certificate_of_a_pem_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ca("Proxy CA A"), ca("Proxy CA B"));
    let bundle = dir.path().join("bundle.pem");
    std::fs::write(&bundle, format!("{}{}", a.pem(), b.pem())).unwrap();
    for var in [SSL_CERT_FILE, NODE_EXTRA_CA_CERTS] {
        let roots = load_with(&[(var, &bundle)]);
        assert!(trusts(&roots, &a) && trusts(&roots, &b), "{var}");
        assert_eq!(roots.store.len(), builtin() + 2, "{var}");
        assert!(roots.warnings.is_empty(), "{var}: {:?}", roots.warnings);
    }
}

#[test]
fn both_file_variables_and_the_os_store_add_up() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, os) = (ca("File CA"), ca("Node CA"), ca("OS CA"));
    let (fa, fb) = (dir.path().join("a.pem"), dir.path().join("b.pem"));
    std::fs::write(&fa, a.pem()).unwrap();
    std::fs::write(&fb, b.pem()).unwrap();
    let vars: HashMap<&str, OsString> =
        [(SSL_CERT_FILE, fa.clone().into_os_string()), (NODE_EXTRA_CA_CERTS, fb.clone().into_os_string())].into();
    let os_der = os.der().clone();
    let roots = load(&|name| vars.get(name).cloned(), &|| vec![os_der.clone()]);
    assert!(trusts(&roots, &a) && trusts(&roots, &b) && trusts(&roots, &os));
    assert!(roots.warnings.is_empty(), "{:?}", roots.warnings);
}

#[test]
fn a_missing_file_is_one_warning_naming_the_variable_and_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nowhere.pem");
    let roots = load_with(&[(NODE_EXTRA_CA_CERTS, &missing)]);
    assert_eq!(roots.store.len(), builtin(), "the other roots still apply");
    assert_eq!(roots.warnings.len(), 1);
    let w = &roots.warnings[0];
    assert!(w.starts_with(&format!("NODE_EXTRA_CA_CERTS={}: cannot read it", missing.display())), "{w}");
    assert!(w.contains("nothing from it is trusted"), "{w}");
}

#[cfg(unix)]
#[test]
fn a_fifo_device_or_huge_file_is_a_warning_without_being_read_and_skipped_in_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("ca.pem");
    crate::test_support::make_fifo(&fifo);
    let sparse = dir.path().join("huge.pem");
    std::fs::File::create(&sparse).unwrap().set_len(1 << 30).unwrap();
    for (var, path) in
        [(SSL_CERT_FILE, fifo.as_path()), (NODE_EXTRA_CA_CERTS, Path::new("/dev/zero")), (SSL_CERT_FILE, &sparse)]
    {
        let roots = load_with(&[(var, path)]);
        assert_eq!(roots.store.len(), builtin());
        assert_eq!(roots.warnings.len(), 1, "{:?}", roots.warnings);
        assert!(roots.warnings[0].contains("cannot read it"), "{}", roots.warnings[0]);
    }
    // In SSL_CERT_DIR: the FIFO and a link to a device are skipped, the huge file is named, and
    // the real certificate next to them is trusted.
    let a = ca("Dir CA beside a FIFO");
    std::fs::write(dir.path().join("a.pem"), a.pem()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("zero.pem")).unwrap();
    let roots = load_with(&[(SSL_CERT_DIR, dir.path())]);
    assert!(trusts(&roots, &a));
    assert_eq!(roots.warnings.len(), 1, "{:?}", roots.warnings);
    assert!(roots.warnings[0].contains("huge.pem") && roots.warnings[0].contains("too large"), "{}", roots.warnings[0]);
    std::fs::remove_file(&sparse).unwrap();
    assert!(load_with(&[(SSL_CERT_DIR, dir.path())]).warnings.is_empty());
}

#[test]
fn a_directory_or_unreadable_path_given_as_a_file_is_a_warning_not_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let roots = load_with(&[(SSL_CERT_FILE, dir.path())]);
    assert_eq!(roots.store.len(), builtin());
    assert_eq!(roots.warnings.len(), 1);
    assert!(roots.warnings[0].contains("SSL_CERT_FILE="), "{}", roots.warnings[0]);
}

#[test]
fn garbage_around_and_inside_a_pem_bundle_costs_only_the_broken_section() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ca("Good A"), ca("Good B"));
    let broken = "-----BEGIN CERTIFICATE-----\n!!!! not base64 !!!!\n-----END CERTIFICATE-----\n";
    let text = format!("Bag Attributes: exported by a tool\n{}\nrandom words\n{broken}{}trailing", a.pem(), b.pem());
    let path = dir.path().join("mixed.pem");
    std::fs::write(&path, text).unwrap();
    let roots = load_with(&[(SSL_CERT_FILE, &path)]);
    assert!(trusts(&roots, &a) && trusts(&roots, &b));
    assert_eq!(roots.warnings.len(), 1, "{:?}", roots.warnings);
    let w = &roots.warnings[0];
    assert!(w.contains("1 malformed PEM section(s)") && w.contains("2 certificate(s) from it are trusted"), "{w}");
}

#[test]
fn a_well_formed_pem_section_that_is_not_a_certificate_is_reported() {
    // Valid base64, valid PEM framing, but the DER inside is not a certificate.
    let w = sole_warning(NODE_EXTRA_CA_CERTS, b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n");
    assert!(w.contains("1 certificate(s) could not be parsed"), "{w}");
}

#[test]
fn a_pem_file_without_certificates_is_reported() {
    let key = rcgen::KeyPair::generate().unwrap();
    let w = sole_warning(SSL_CERT_FILE, key.serialize_pem().as_bytes());
    assert!(w.contains("no CERTIFICATE section"), "{w}");
}

#[test]
fn a_single_der_certificate_is_accepted_and_other_binary_or_an_empty_file_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let a = ca("DER CA");
    let der = dir.path().join("ca.der");
    std::fs::write(&der, a.der().as_ref()).unwrap();
    let roots = load_with(&[(NODE_EXTRA_CA_CERTS, &der)]);
    assert!(trusts(&roots, &a));
    assert!(roots.warnings.is_empty(), "{:?}", roots.warnings);

    let w = sole_warning(NODE_EXTRA_CA_CERTS, &[0xff, 0xd8, 0xff, 0xe0, 0, 0x10]);
    assert!(w.contains("neither PEM nor a DER certificate"), "{w}");
    let w = sole_warning(SSL_CERT_FILE, b"");
    assert!(w.contains("nothing from it is trusted"), "an empty file is not silently fine: {w}");
}

#[test]
fn ssl_cert_dir_reads_each_listed_folder_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    std::fs::create_dir_all(&one).unwrap();
    std::fs::create_dir_all(&two).unwrap();
    let (a, b) = (ca("Dir CA A"), ca("Dir CA B"));
    std::fs::write(one.join("a.pem"), a.pem()).unwrap();
    std::fs::write(two.join("b.crt"), b.pem()).unwrap();
    let missing = dir.path().join("gone");
    let list = std::env::join_paths([&one, &missing, &two]).unwrap();
    let roots = load_with(&[(SSL_CERT_DIR, Path::new(&list))]);
    assert!(trusts(&roots, &a) && trusts(&roots, &b));
    assert_eq!(roots.warnings.len(), 1, "{:?}", roots.warnings);
    assert!(roots.warnings[0].starts_with(&format!("SSL_CERT_DIR={}:", missing.display())), "{}", roots.warnings[0]);
}

#[test]
fn the_os_store_reads_a_ca_folder_once_per_file_however_many_links_point_at_it() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (ca("Distro CA A"), ca("Distro CA B"));
    std::fs::write(dir.path().join("ca-certificates.crt"), format!("{}{}", a.pem(), b.pem())).unwrap();
    std::fs::write(dir.path().join("a.pem"), a.pem()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("a.pem"), dir.path().join("1a2b3c4d.0")).unwrap();
    std::fs::write(dir.path().join("README"), "not a certificate").unwrap();
    let certs = certs_in_dirs(&[dir.path(), dir.path()]);
    assert_eq!(certs.len(), 2, "duplicates across files and folders are dropped");
    let roots = load(&|_| None, &|| certs.clone());
    assert!(trusts(&roots, &a) && trusts(&roots, &b));
}

#[test]
fn this_machines_os_store_is_found() {
    let has_distro_store = ["/etc/ssl/certs", "/etc/pki/tls/certs"].iter().any(|d| Path::new(d).is_dir());
    if !cfg!(target_os = "linux") || !has_distro_store {
        eprintln!("skipping: no distribution CA folder on this machine");
        return;
    }
    let certs = os_store();
    assert!(!certs.is_empty(), "the distribution's CA folder holds certificates");
    let roots = load(&|_| None, &os_store);
    assert!(roots.store.len() >= builtin());
}

#[test]
fn the_shared_config_offers_h2_and_http1() {
    let config = config_with(RootCertStore::empty());
    assert_eq!(config.alpn_protocols, vec![b"h2".to_vec(), b"http/1.1".to_vec()]);
}

fn test_ca() -> rcgen::CertifiedIssuer<'static, rcgen::KeyPair> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(rcgen::DnType::CommonName, "Inspecting proxy CA");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap()
}

async fn get(store: RootCertStore, url: &str) -> Result<String, reqwest::Error> {
    let client = reqwest::Client::builder().no_proxy().use_preconfigured_tls(config_with(store)).build().unwrap();
    client.get(url).send().await?.text().await
}

#[tokio::test]
async fn an_https_server_signed_by_a_given_ca_is_reached_and_otherwise_the_error_names_the_fix() {
    let ca = test_ca();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("proxy-ca.pem");
    std::fs::write(&pem, ca.pem()).unwrap();

    let server = TestServer::https(&ca).await;
    let e = get(load_with(&[]).store, &server.url()).await.unwrap_err();
    assert!(server.requests().is_empty(), "the handshake failed before any request");
    let text = crate::http::describe(&e);
    assert!(text.starts_with("the server's TLS certificate is not trusted (it is signed by an authority"), "{text}");
    assert!(text.contains("SSL_CERT_FILE or NODE_EXTRA_CA_CERTS"), "{text}");

    for var in [SSL_CERT_FILE, NODE_EXTRA_CA_CERTS] {
        server.push(Scripted::bytes(200, "text/plain", b"ok".to_vec()));
        let body = get(load_with(&[(var, &pem)]).store, &server.url()).await.unwrap();
        assert_eq!(body, "ok", "{var}");
    }
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_certificate_named_by_several_sources_is_added_once() {
    let dir = tempfile::tempdir().unwrap();
    let a = ca("Everywhere CA");
    let file = dir.path().join("bundle.crt");
    std::fs::write(&file, a.pem()).unwrap();
    let vars: HashMap<&str, OsString> = [
        (SSL_CERT_FILE, file.clone().into_os_string()),
        (NODE_EXTRA_CA_CERTS, file.clone().into_os_string()),
        (SSL_CERT_DIR, dir.path().as_os_str().to_owned()),
    ]
    .into();
    let der = a.der().clone();
    let roots = load(&|name| vars.get(name).cloned(), &|| vec![der.clone()]);
    assert_eq!(roots.store.len(), builtin() + 1);
    assert!(roots.warnings.is_empty(), "a repeat is not a problem: {:?}", roots.warnings);
}

#[test]
fn the_process_builds_its_tls_settings_once() {
    let (first, second) = (client_config(), client_config());
    assert!(
        Arc::ptr_eq(first.crypto_provider(), second.crypto_provider()),
        "the second client reuses the first's roots"
    );
}
