use super::*;
use serde_json::json;

fn tmp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::at(dir.path().join(".heygen"));
    (dir, store)
}

fn write_raw(store: &Store, text: &str) {
    fs::create_dir_all(store.dir()).unwrap();
    fs::write(store.path(), text).unwrap();
}

#[test]
fn absent_and_blank_files_are_absent() {
    let (_d, store) = tmp_store();
    assert_eq!(store.load().unwrap().format, Format::Absent);
    write_raw(&store, "  \n\t");
    assert_eq!(store.load().unwrap().format, Format::Absent);
}

#[test]
fn legacy_plaintext_key_is_read_and_upgraded_on_write() {
    let (_d, store) = tmp_store();
    write_raw(&store, "hg_legacykey123\n");
    let loaded = store.load().unwrap();
    assert_eq!(loaded.format, Format::Legacy);
    assert_eq!(loaded.creds.api_key.as_deref(), Some("hg_legacykey123"));
    store
        .update(|c| {
            c.user = Some(UserBlock { email: Some("a@b.c".into()), ..Default::default() });
            Ok(())
        })
        .unwrap();
    let v: Value = serde_json::from_str(&fs::read_to_string(store.path()).unwrap()).unwrap();
    assert_eq!(v["api_key"], "hg_legacykey123");
    assert_eq!(v["user"]["email"], "a@b.c");
}

#[test]
fn legacy_with_spaces_or_too_short_is_invalid() {
    for bad in ["short", "has a space inside", "two\nlines-here"] {
        let err = parse(bad).unwrap_err();
        assert_eq!(err.code, super::super::error::AuthErrorCode::InvalidStore, "{bad}");
    }
}

#[test]
fn invalid_json_shapes_are_errors() {
    for bad in [
        "{not json",
        r#"{"api_key": 5}"#,
        r#"{"api_key": ""}"#,
        r#"{"api_key": "abc\r\ndef"}"#,
        r#"{"oauth": "x"}"#,
        r#"{"oauth": {"refresh_token": 5}}"#,
        r#"{"oauth": {"access_token": "a\nb"}}"#,
        r#"{"user": []}"#,
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert!(parse("[1,2]").is_err());
}

#[test]
fn bad_optional_oauth_fields_are_dropped_and_refresh_only_block_is_kept() {
    let (_, c) = parse(r#"{"oauth":{"access_token":"at_123456","refresh_token":"x\ny","scope":""}}"#).unwrap();
    let o = c.oauth.unwrap();
    assert_eq!(o.refresh_token, None);
    assert_eq!(o.scope, None);
    let (_, c) = parse(r#"{"oauth":{"access_token":"","refresh_token":"rt_1234567"}}"#).unwrap();
    assert_eq!(c.oauth.unwrap().access_token, "");
}

#[test]
fn unknown_keys_survive_every_level_and_order_is_stable() {
    let (_d, store) = tmp_store();
    let original = json!({
        "zeta": {"nested": [1, 2, {"x": null}]},
        "api_key": "hg_abcdefgh",
        "oauth": {"access_token": "at_abcdefgh", "vendor": {"a": 1}, "expires_at": "2030-01-01T00:00:00Z"},
        "user": {"email": "e@x.io", "avatar": "http://img", "plan_id": 7},
        "profile": "default"
    });
    write_raw(&store, &original.to_string());
    store
        .update(|c| {
            c.api_key = Some("hg_newkeyvalue".into());
            Ok(())
        })
        .unwrap();
    let text = fs::read_to_string(store.path()).unwrap();
    assert!(text.ends_with("}\n"));
    assert!(text.contains("\n  \"zeta\""), "2-space indent: {text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["zeta"], original["zeta"]);
    assert_eq!(v["profile"], "default");
    assert_eq!(v["oauth"]["vendor"], json!({"a": 1}));
    assert_eq!(v["user"]["avatar"], "http://img");
    assert_eq!(v["user"]["plan_id"], 7);
    assert_eq!(v["api_key"], "hg_newkeyvalue");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["zeta", "profile", "api_key", "oauth", "user"]);
}

#[cfg(unix)]
#[test]
fn file_is_0600_and_dir_0700_even_when_overwriting() {
    use std::os::unix::fs::PermissionsExt;
    let (_d, store) = tmp_store();
    write_raw(&store, r#"{"api_key":"hg_abcdefgh"}"#);
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(store.dir(), fs::Permissions::from_mode(0o755)).unwrap();
    store.update(|_| Ok(())).unwrap();
    assert_eq!(fs::metadata(store.path()).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(fs::metadata(store.dir()).unwrap().permissions().mode() & 0o777, 0o700);
    let leftovers: Vec<_> = fs::read_dir(store.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn corrupt_file_is_never_overwritten_by_a_mutation() {
    let (_d, store) = tmp_store();
    write_raw(&store, "{corrupt");
    let err = store.update(|c| {
        c.api_key = Some("hg_abcdefgh".into());
        Ok(())
    });
    assert!(err.is_err());
    assert_eq!(fs::read_to_string(store.path()).unwrap(), "{corrupt");
    assert!(store.delete().unwrap(), "logout can still remove it");
}

#[test]
fn config_path_that_is_a_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, "x").unwrap();
    let store = Store::at(&file);
    let err = store.update(|_| Ok(())).unwrap_err();
    assert!(err.message.contains("not a directory"), "{}", err.message);
    assert!(store.load().is_err());
}

#[test]
fn clearing_the_last_credential_deletes_the_file_unless_foreign_data_remains() {
    let (_d, store) = tmp_store();
    write_raw(&store, r#"{"oauth":{"access_token":"at_abcdefgh"},"user":{"email":"a@b.c"}}"#);
    store
        .update(|c| {
            c.oauth = None;
            Ok(())
        })
        .unwrap();
    assert!(!store.path().exists());

    write_raw(&store, r#"{"oauth":{"access_token":"at_abcdefgh"},"user":{"email":"a@b.c","theme":"dark"}}"#);
    store
        .update(|c| {
            c.oauth = None;
            Ok(())
        })
        .unwrap();
    let v: Value = serde_json::from_str(&fs::read_to_string(store.path()).unwrap()).unwrap();
    assert_eq!(v["user"]["theme"], "dark");
    assert!(v.get("oauth").is_none());
}

#[test]
fn delete_is_idempotent() {
    let (_d, store) = tmp_store();
    assert!(!store.delete().unwrap());
    write_raw(&store, r#"{"api_key":"hg_abcdefgh"}"#);
    assert!(store.delete().unwrap());
    assert!(!store.delete().unwrap());
}

#[test]
fn display_name_order() {
    let u = |e: Option<&str>, f: Option<&str>, l: Option<&str>, n: Option<&str>| UserBlock {
        email: e.map(Into::into),
        first_name: f.map(Into::into),
        last_name: l.map(Into::into),
        username: n.map(Into::into),
        extra: Map::new(),
    };
    assert_eq!(u(Some("e"), Some("f"), None, None).display_name().unwrap(), "e");
    assert_eq!(u(None, Some("Ada"), Some("L"), Some("u")).display_name().unwrap(), "Ada L");
    assert_eq!(u(None, None, Some("L"), Some("u")).display_name().unwrap(), "L");
    assert_eq!(u(None, None, None, Some("u")).display_name().unwrap(), "u");
    assert_eq!(u(None, None, None, None).display_name(), None);
}

const WORKER_ENV: &str = "HYPERFRAMES_STORE_WORKER_DIR";
const WORKER_ROUNDS: usize = 20;

/// Entry point for the child processes of the test below; does nothing in a normal run.
#[test]
fn store_lock_worker() {
    let Ok(dir) = std::env::var(WORKER_ENV) else { return };
    let id: usize = std::env::var("HYPERFRAMES_STORE_WORKER_ID").unwrap().parse().unwrap();
    let store = Store::at(dir);
    for round in 0..WORKER_ROUNDS {
        store
            .update(|c| {
                c.extra.insert(format!("w{id}_r{round}"), json!(round));
                let user = c.user.get_or_insert_with(UserBlock::default);
                user.extra.insert(format!("u{id}"), json!(round));
                if id == 0 {
                    c.api_key = Some(format!("hg_worker_key_{round:04}"));
                }
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn concurrent_processes_mutating_different_keys_lose_nothing() {
    if std::env::var(WORKER_ENV).is_ok() {
        return;
    }
    const WORKERS: usize = 10;
    let (_d, store) = tmp_store();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..WORKERS)
        .map(|id| {
            std::process::Command::new(&exe)
                .args(["--exact", "auth::store::tests::store_lock_worker", "--test-threads=1", "-q"])
                .env(WORKER_ENV, store.dir())
                .env("HYPERFRAMES_STORE_WORKER_ID", id.to_string())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let creds = store.load().unwrap().creds;
    for id in 0..WORKERS {
        for round in 0..WORKER_ROUNDS {
            assert_eq!(creds.extra.get(&format!("w{id}_r{round}")), Some(&json!(round)), "lost w{id}_r{round}");
        }
        assert_eq!(creds.user.as_ref().unwrap().extra.get(&format!("u{id}")), Some(&json!(WORKER_ROUNDS - 1)));
    }
    assert_eq!(creds.api_key.as_deref(), Some("hg_worker_key_0019"));
}

fn keyring_creds(key: &str) -> Credentials {
    let mut c = Credentials { api_key: Some(key.into()), ..Default::default() };
    c.user = Some(UserBlock { email: Some("k@example.com".into()), ..Default::default() });
    c.extra.insert("foreign".into(), json!({"kept": true}));
    c.set_keyring_marker(true);
    c
}

/// Real Secret Service tier (run by scripts/test.sh under scripts/with-secret-service.sh).
#[test]
fn keyring_holds_the_secret_and_the_file_only_metadata() {
    if std::env::var("HYPERFRAMES_TEST_KEYRING").as_deref() != Ok("1") {
        eprintln!("skipping: set HYPERFRAMES_TEST_KEYRING=1 under scripts/with-secret-service.sh");
        return;
    }
    let _l = crate::test_support::env_lock();
    let _g = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_KEYRING_ACCOUNT", Some("store-test"))]);
    let (_d, store) = tmp_store();
    let lock = store.lock().unwrap();
    let outcome = store.save(&lock, &keyring_creds("hg_keyring_secret_123")).unwrap();
    drop(lock);
    assert_eq!(outcome, SaveOutcome { in_keyring: true, warning: None });
    let text = fs::read_to_string(store.path()).unwrap();
    assert!(!text.contains("hg_keyring_secret_123"), "secret must not be in the file: {text}");
    assert!(text.contains(STORE_MARKER_KEY) && text.contains("k@example.com") && text.contains("foreign"));
    let loaded = store.load().unwrap();
    assert!(loaded.from_keyring);
    assert_eq!(loaded.creds.api_key.as_deref(), Some("hg_keyring_secret_123"));
    let cred = crate::auth::resolve::from_loaded(&loaded, chrono::Utc::now()).unwrap();
    assert_eq!(cred.source, crate::auth::resolve::Source::Keyring);
    assert!(store.delete().unwrap());
    assert_eq!(crate::auth::keyring::load().unwrap(), None, "logout clears the keyring entry too");
}

const NO_BUS_CHILD: &str = "HYPERFRAMES_STORE_NO_BUS_CHILD";

/// Without any Secret Service the secret goes to the file, with a warning. Runs in a child process
/// with no session bus so that it holds even when the parent runs under the keyring harness.
#[test]
fn keyring_unavailable_falls_back_to_the_file_with_a_warning() {
    if std::env::var(NO_BUS_CHILD).is_err() {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "auth::store::tests::keyring_unavailable_falls_back_to_the_file_with_a_warning"])
            .args(["--test-threads=1", "-q"])
            .env(NO_BUS_CHILD, dir.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let store = Store::at(std::path::PathBuf::from(std::env::var(NO_BUS_CHILD).unwrap()).join(".heygen"));
    let lock = store.lock().unwrap();
    let outcome = store.save(&lock, &keyring_creds("hg_fallback_secret_1")).unwrap();
    assert!(!outcome.in_keyring);
    let warning = outcome.warning.expect("a warning explains the fallback");
    assert!(warning.contains("keyring unavailable"), "{warning}");
    assert!(!warning.contains("hg_fallback_secret_1"));
    let v: Value = serde_json::from_str(&fs::read_to_string(store.path()).unwrap()).unwrap();
    assert_eq!(v["api_key"], "hg_fallback_secret_1");
    assert!(v.get(STORE_MARKER_KEY).is_none(), "the marker is dropped so readers use the file");
    assert_eq!(v["foreign"], json!({"kept": true}));
}

#[cfg(unix)]
fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A FIFO, a link to a device, or a huge sparse file at the credentials path is refused at once
/// with a code and a hint: never read whole, never waited on, never taken for "signed out", and
/// never replaced by a mutation (a sign-in) either.
#[cfg(unix)]
#[test]
fn fifos_devices_and_huge_files_are_refused_not_read_and_not_replaced() {
    let (_d, store) = tmp_store();
    fs::create_dir_all(store.dir()).unwrap();
    let check = |what: &str, expect: &str| {
        let e = store.load().unwrap_err();
        assert_eq!(e.code, AuthErrorCode::InvalidStore, "{what}: {}", e.message);
        assert!(e.message.contains(expect), "{what}: {}", e.message);
        assert!(e.hint.as_deref().is_some_and(|h| h.contains("regular file")), "{what}: {:?}", e.hint);
        let e = store.update(|c| {
            c.api_key = Some("hg_new_key_0123456789".into());
            Ok(())
        });
        assert_eq!(e.unwrap_err().code, AuthErrorCode::InvalidStore, "{what}: a sign-in must not replace it");
        assert!(keyring_delete_if_marked(&store).is_ok());
    };

    mkfifo(&store.path());
    check("fifo", "a FIFO"); // a blocking read would hang here
    assert!(std::os::unix::fs::FileTypeExt::is_fifo(&fs::symlink_metadata(store.path()).unwrap().file_type()));
    fs::remove_file(store.path()).unwrap();

    std::os::unix::fs::symlink("/dev/zero", store.path()).unwrap();
    check("/dev/zero", "a device");
    fs::remove_file(store.path()).unwrap();

    let f = File::create(store.path()).unwrap();
    f.set_len(500 * 1024 * 1024).unwrap(); // sparse: costs nothing unless read
    check("sparse 500 MiB", "too large");
    assert_eq!(fs::metadata(store.path()).unwrap().len(), 500 * 1024 * 1024, "left as it was");
}

#[test]
fn a_dangling_link_is_still_absent() {
    let (_d, store) = tmp_store();
    fs::create_dir_all(store.dir()).unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(store.dir().join("nowhere"), store.path()).unwrap();
    assert_eq!(store.load().unwrap().format, Format::Absent);
}

/// Issue #22 item 12: a stored key goes into a header, so its shape is checked where it is read.
#[test]
fn stored_keys_of_the_wrong_shape_are_refused() {
    for (content, expect) in [
        (r#"{"api_key":"    "}"#.to_string(), "is empty"),
        (r#"{"api_key":"hg_0123 456789"}"#.to_string(), "contains spaces"),
        (format!(r#"{{"api_key":"hg_{}"}}"#, "k".repeat(50_000)), "long"),
        ("[".repeat(200 * 1024), "long"),
    ] {
        let e = parse(&content).unwrap_err();
        assert_eq!(e.code, AuthErrorCode::InvalidStore);
        assert!(e.message.contains(expect) && e.message.len() < 300, "{}", e.message);
    }
    assert!(parse(r#"{"api_key":"hg_0123456789"}"#).is_ok());
    assert_eq!(api_key_problem(&"k".repeat(MAX_API_KEY_LEN)), None, "exactly the limit is fine");
}

/// A stored token too large for any header is refused where it is read, not sent.
#[test]
fn stored_oversized_tokens_are_refused() {
    let big = "t".repeat(MAX_TOKEN_LEN + 1);
    for block in [json!({"access_token": big}), json!({"access_token": "at_ok", "refresh_token": big})] {
        let e = parse(&json!({ "oauth": block }).to_string()).unwrap_err();
        assert_eq!(e.code, AuthErrorCode::InvalidStore);
        assert!(e.message.contains("at most 8192 bytes") && e.message.len() < 300, "{}", e.message);
    }
    let ok = json!({"oauth": {"access_token": "t".repeat(MAX_TOKEN_LEN)}}).to_string();
    assert!(parse(&ok).is_ok(), "exactly the limit is fine");
}
