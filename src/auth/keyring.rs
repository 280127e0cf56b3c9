//! Opt-in OS keyring storage for the HeyGen credential.
//!
//! The store module serialises the credential (API key and OAuth tokens) into one small JSON
//! string; this module keeps that string as a single keyring entry (service [`SERVICE`], account
//! [`account()`]). The keyring is used only when the user asks for it with
//! `HYPERFRAMES_CREDENTIAL_STORE=keyring`; any failure here is reported as an
//! [`AuthErrorCode::Keyring`] error so the caller can fall back to the credentials file.
//!
//! Backends: on Linux and the BSDs this is always the Secret Service over D-Bus (gnome-keyring,
//! KWallet, KeePassXC...), named explicitly so that a build can never silently use keyring's
//! in-memory mock store. Elsewhere keyring's platform default is used, and refused when it is the
//! mock (no native feature compiled in).
//!
//! Threading: keyring's Secret Service backend drives zbus through a private tokio runtime and
//! panics when called on a thread that is inside another tokio runtime. Every operation therefore
//! runs on its own short-lived worker thread (serialised, with a timeout so a keyring waiting on
//! an unlock prompt cannot hang the CLI). The functions are blocking: call them from a plain
//! thread or from `tokio::task::spawn_blocking`, never directly in async code.

use std::fmt;
use std::sync::{mpsc, Mutex};
use std::time::Duration;

use ::keyring::{CredentialBuilder, Entry, Error as KeyringError};
use tracing::debug;

use super::error::{AuthError, AuthErrorCode, AuthResult};

/// Keyring service name of the credential entry.
pub const SERVICE: &str = "hyperframes";
/// Default keyring account (user) of the credential entry.
pub const ACCOUNT: &str = "heygen";
/// Env var that selects the credential store; `keyring` (any case) opts in to this module.
pub const STORE_ENV: &str = "HYPERFRAMES_CREDENTIAL_STORE";
/// Env var overriding [`ACCOUNT`] (tests use distinct accounts).
pub const ACCOUNT_ENV: &str = "HYPERFRAMES_KEYRING_ACCOUNT";
/// Env var overriding [`DEFAULT_TIMEOUT`], in whole seconds.
pub const TIMEOUT_ENV: &str = "HYPERFRAMES_KEYRING_TIMEOUT_SECS";
/// How long one keyring operation may take. Generous, because a desktop keyring may show an
/// unlock prompt that the user has to answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const MAX_DETAIL_CHARS: usize = 300;

/// Platforms where keyring's backend is the Secret Service (selected by the crate features).
const SECRET_SERVICE_PLATFORM: bool = cfg!(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"));

/// True when the user opted in via env `HYPERFRAMES_CREDENTIAL_STORE=keyring` (case-insensitive).
pub fn requested_by_env() -> bool {
    is_keyring_choice(std::env::var(STORE_ENV).ok().as_deref())
}

fn is_keyring_choice(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.trim().eq_ignore_ascii_case("keyring"))
}

/// The keyring account in use: `HYPERFRAMES_KEYRING_ACCOUNT` when set and non-blank, else
/// [`ACCOUNT`].
pub fn account() -> String {
    account_from(std::env::var(ACCOUNT_ENV).ok().as_deref())
}

fn account_from(value: Option<&str>) -> String {
    match value.map(str::trim) {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => ACCOUNT.to_string(),
    }
}

fn timeout() -> Duration {
    std::env::var(TIMEOUT_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&secs| secs > 0)
        .map_or(DEFAULT_TIMEOUT, Duration::from_secs)
}

/// A short description of the backend in use, for status/doctor.
pub fn backend_name() -> &'static str {
    #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
    {
        "Secret Service (D-Bus)"
    }
    #[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
    {
        if is_mock(::keyring::default::default_credential_builder().as_ref()) {
            "none (no native keyring backend in this build)"
        } else if cfg!(target_os = "macos") {
            "macOS Keychain"
        } else if cfg!(target_os = "ios") {
            "iOS Keychain"
        } else if cfg!(target_os = "windows") {
            "Windows Credential Manager"
        } else {
            "platform keyring"
        }
    }
}

/// Store the secret: set it, then read it back and compare. Any failure is an
/// [`AuthErrorCode::Keyring`] error saying why; the secret never appears in it.
pub fn save(secret: &str) -> AuthResult<()> {
    save_as(&account(), secret)
}

fn save_as(account: &str, secret: &str) -> AuthResult<()> {
    debug!(
        backend = backend_name(),
        service = SERVICE,
        account = %account,
        len = secret.len(),
        "keyring: saving credential"
    );
    let owned = secret.to_string();
    let result = run(account.to_string(), move |entry| {
        entry.set_password(&owned)?;
        let back = entry.get_password()?;
        if back == owned {
            Ok(())
        } else {
            Err(Failure::VerifyMismatch)
        }
    });
    match result {
        Ok(()) => {
            debug!(account = %account, "keyring: credential saved and verified");
            Ok(())
        }
        Err(failure) => Err(to_auth_error(Op::Save, account, failure, Some(secret))),
    }
}

/// Read the secret. `Ok(None)` when there is no entry; `Err` when the keyring itself is
/// unavailable or the entry cannot be read.
pub fn load() -> AuthResult<Option<String>> {
    load_as(&account())
}

fn load_as(account: &str) -> AuthResult<Option<String>> {
    debug!(
        backend = backend_name(),
        service = SERVICE,
        account = %account,
        "keyring: loading credential"
    );
    match run(account.to_string(), |entry| entry.get_password().map_err(Failure::from)) {
        Ok(secret) => {
            debug!(account = %account, len = secret.len(), "keyring: credential found");
            Ok(Some(secret))
        }
        Err(Failure::Keyring(KeyringError::NoEntry)) => {
            debug!(account = %account, "keyring: no credential stored");
            Ok(None)
        }
        Err(failure) => Err(to_auth_error(Op::Load, account, failure, None)),
    }
}

/// Delete the secret. Idempotent: no entry is `Ok`.
pub fn delete() -> AuthResult<()> {
    delete_as(&account())
}

fn delete_as(account: &str) -> AuthResult<()> {
    debug!(
        backend = backend_name(),
        service = SERVICE,
        account = %account,
        "keyring: deleting credential"
    );
    match run(account.to_string(), |entry| entry.delete_credential().map_err(Failure::from)) {
        Ok(()) => {
            debug!(account = %account, "keyring: credential deleted");
            Ok(())
        }
        Err(Failure::Keyring(KeyringError::NoEntry)) => {
            debug!(account = %account, "keyring: nothing to delete");
            Ok(())
        }
        Err(failure) => Err(to_auth_error(Op::Delete, account, failure, None)),
    }
}

// ---------------------------------------------------------------------------------------------
// Running an operation

enum Failure {
    Keyring(KeyringError),
    /// keyring would use its in-memory mock store (no native backend compiled in).
    #[cfg_attr(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"), allow(dead_code))]
    NoBackend,
    /// The value read back after writing differs from what was written.
    VerifyMismatch,
    TimedOut(Duration),
    /// The worker thread could not be started or died (a panic inside the backend).
    Crashed(String),
}

impl From<KeyringError> for Failure {
    fn from(err: KeyringError) -> Self {
        Failure::Keyring(err)
    }
}

/// Serialises keyring access: the Secret Service does not cope well with concurrent requests.
static KEYRING_LOCK: Mutex<()> = Mutex::new(());

/// Run `op` on the credential entry of `account`, on a fresh worker thread (so no tokio runtime
/// context is inherited), waiting at most [`timeout()`]. A timed-out worker is left to finish on
/// its own.
fn run<T, F>(account: String, op: F) -> Result<T, Failure>
where
    T: Send + 'static,
    F: FnOnce(&Entry) -> Result<T, Failure> + Send + 'static,
{
    let limit = timeout();
    let (tx, rx) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new().name("hyperframes-keyring".into()).spawn(move || {
        let _guard = KEYRING_LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = entry_for(&account).and_then(|entry| op(&entry));
        // The receiver is gone when the caller timed out; nothing left to report to.
        let _ = tx.send(result);
    });
    if let Err(err) = spawned {
        return Err(Failure::Crashed(format!("could not start the keyring thread: {err}")));
    }
    match rx.recv_timeout(limit) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Failure::TimedOut(limit)),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure::Crashed("the keyring backend panicked".to_string())),
    }
}

fn entry_for(account: &str) -> Result<Entry, Failure> {
    let builder = platform_builder()?;
    let credential = builder.build(None, SERVICE, account)?;
    Ok(Entry::new_with_credential(credential))
}

/// The Secret Service builder, named explicitly: this fails to compile (rather than silently
/// using the mock store) if keyring's Secret Service feature is ever dropped.
#[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
fn platform_builder() -> Result<Box<CredentialBuilder>, Failure> {
    Ok(::keyring::secret_service::default_credential_builder())
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
fn platform_builder() -> Result<Box<CredentialBuilder>, Failure> {
    let builder = ::keyring::default::default_credential_builder();
    if is_mock(builder.as_ref()) {
        Err(Failure::NoBackend)
    } else {
        Ok(builder)
    }
}

#[cfg(not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")))]
fn is_mock(builder: &CredentialBuilder) -> bool {
    builder.as_any().is::<::keyring::mock::MockCredentialBuilder>()
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Clone, Copy, Debug)]
enum Op {
    Save,
    Load,
    Delete,
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Save => "save the credential to",
            Op::Load => "read the credential from",
            Op::Delete => "delete the credential from",
        })
    }
}

const UNSET_HINT: &str = "or unset HYPERFRAMES_CREDENTIAL_STORE to keep credentials in the credentials file";
const USE_FILE_HINT: &str = "Unset HYPERFRAMES_CREDENTIAL_STORE to keep credentials in the credentials file.";

fn unavailable_hint() -> String {
    if SECRET_SERVICE_PLATFORM {
        format!(
            "Start a Secret Service provider (gnome-keyring, KWallet or KeePassXC) in your D-Bus \
             session (DBUS_SESSION_BUS_ADDRESS must be set), {UNSET_HINT}."
        )
    } else {
        format!("Check that the system keychain is available, {UNSET_HINT}.")
    }
}

fn locked_hint() -> String {
    if SECRET_SERVICE_PLATFORM {
        format!(
            "Unlock your login keyring (for example log in to the desktop, or run \
             `gnome-keyring-daemon --unlock`) and allow access, {UNSET_HINT}."
        )
    } else {
        format!("Unlock the system keychain and allow access, {UNSET_HINT}.")
    }
}

fn to_auth_error(op: Op, account: &str, failure: Failure, secret: Option<&str>) -> AuthError {
    let clean = |detail: &dyn fmt::Display| scrub_detail(&detail.to_string(), secret);
    let (reason, hint) = match failure {
        Failure::Keyring(KeyringError::PlatformFailure(detail)) => {
            let what = if SECRET_SERVICE_PLATFORM {
                "no Secret Service provider or D-Bus session found"
            } else {
                "the platform keyring failed"
            };
            let detail = clean(&detail);
            // The Secret Service crate's own text for "no bus / no provider" says the same thing.
            let reason = if detail.to_ascii_lowercase().contains("no secret service provider") {
                what.to_string()
            } else {
                format!("{what} ({detail})")
            };
            (reason, unavailable_hint())
        }
        Failure::Keyring(KeyringError::NoStorageAccess(detail)) => {
            (format!("the keyring is locked or access was denied ({})", clean(&detail)), locked_hint())
        }
        Failure::Keyring(KeyringError::NoEntry) => {
            ("the entry disappeared while it was being written".to_string(), format!("Try again, {UNSET_HINT}."))
        }
        Failure::Keyring(KeyringError::BadEncoding(_)) => (
            "the stored entry is not valid UTF-8".to_string(),
            format!(
                "Remove the entry (service `{SERVICE}`, account `{account}`) with \
                 `hyperframes auth logout` or your keyring manager, then sign in again."
            ),
        ),
        Failure::Keyring(KeyringError::TooLong(field, limit)) => {
            (format!("the {} is longer than the keyring allows ({limit})", clean(&field)), USE_FILE_HINT.to_string())
        }
        Failure::Keyring(KeyringError::Invalid(attr, why)) => (
            format!("invalid entry attribute {}: {}", clean(&attr), clean(&why)),
            format!("Check {ACCOUNT_ENV}, {UNSET_HINT}."),
        ),
        Failure::Keyring(KeyringError::Ambiguous(items)) => (
            format!("{} entries match service `{SERVICE}`, account `{account}`", items.len()),
            if SECRET_SERVICE_PLATFORM {
                format!(
                    "Remove the duplicates (e.g. `secret-tool clear service {SERVICE} \
                     username {account}`), {UNSET_HINT}."
                )
            } else {
                format!("Remove the duplicate entries with your keychain manager, {UNSET_HINT}.")
            },
        ),
        Failure::Keyring(other) => (clean(&other), format!("Check your OS keyring, {UNSET_HINT}.")),
        Failure::NoBackend => {
            ("no native keyring backend is built into this binary".to_string(), USE_FILE_HINT.to_string())
        }
        Failure::VerifyMismatch => (
            "reading the entry back returned a different value".to_string(),
            format!("Check your OS keyring, {UNSET_HINT}."),
        ),
        Failure::TimedOut(limit) => (
            format!(
                "no answer within {} s (the keyring may be waiting for an unlock prompt \
                 nobody can see)",
                limit.as_secs()
            ),
            locked_hint(),
        ),
        Failure::Crashed(detail) => (clean(&detail), unavailable_hint()),
    };
    let message = format!("Could not {op} the OS keyring: {reason}");
    debug!(account = %account, error = %message, "keyring: operation failed");
    AuthError::new(AuthErrorCode::Keyring, message).with_hint(hint)
}

/// Backend error text, with the secret (if it ever appeared) removed and the length bounded.
fn scrub_detail(detail: &str, secret: Option<&str>) -> String {
    let mut text = match secret {
        Some(s) if !s.is_empty() => detail.replace(s, "[redacted]"),
        _ => detail.to_string(),
    };
    if let Some((cut, _)) = text.char_indices().nth(MAX_DETAIL_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Set in the child process of the no-service tests.
    const CHILD_ENV: &str = "HYPERFRAMES_KEYRING_TEST_CHILD";
    /// Enables the tests against a real Secret Service (see scripts/with-secret-service.sh).
    const REAL_ENV: &str = "HYPERFRAMES_TEST_KEYRING";

    #[test]
    fn requested_by_env_parsing() {
        for yes in ["keyring", "KEYRING", "KeyRing", " keyring\n"] {
            assert!(is_keyring_choice(Some(yes)), "{yes:?}");
        }
        for no in ["", "file", "keyrings", "key ring", "1", "true"] {
            assert!(!is_keyring_choice(Some(no)), "{no:?}");
        }
        assert!(!is_keyring_choice(None));
    }

    #[test]
    fn account_override() {
        assert_eq!(account_from(None), ACCOUNT);
        assert_eq!(account_from(Some("")), ACCOUNT);
        assert_eq!(account_from(Some("   ")), ACCOUNT);
        assert_eq!(account_from(Some(" ci-1 ")), "ci-1");
    }

    #[test]
    fn backend_is_not_the_mock() {
        let name = backend_name();
        assert!(!name.is_empty());
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        {
            assert_eq!(name, "Secret Service (D-Bus)");
            assert!(platform_builder().is_ok());
        }
    }

    #[test]
    fn scrub_removes_secret_and_bounds_length() {
        assert_eq!(scrub_detail("bad value sk-123 here", Some("sk-123")), "bad value [redacted] here");
        assert_eq!(scrub_detail("plain", Some("")), "plain");
        let long = "é".repeat(1000);
        let out = scrub_detail(&long, None);
        assert_eq!(out.chars().count(), MAX_DETAIL_CHARS + 1);
        assert!(out.ends_with('…'));
    }

    #[test]
    fn error_messages_never_contain_the_secret() {
        let secret = r#"{"api_key":"hf-secret-value"}"#;
        let failures = vec![
            Failure::Keyring(KeyringError::PlatformFailure(format!("echo {secret}").into())),
            Failure::Keyring(KeyringError::NoStorageAccess(format!("denied {secret}").into())),
            Failure::Keyring(KeyringError::BadEncoding(secret.as_bytes().to_vec())),
            Failure::Keyring(KeyringError::Invalid("x".into(), secret.into())),
            Failure::VerifyMismatch,
            Failure::TimedOut(Duration::from_secs(3)),
            Failure::Crashed(secret.into()),
        ];
        for failure in failures {
            let err = to_auth_error(Op::Save, "acct", failure, Some(secret));
            assert_eq!(err.code, AuthErrorCode::Keyring);
            assert!(!err.message.contains("hf-secret-value"), "{}", err.message);
            let hint = err.hint.expect("hint");
            assert!(!hint.contains("hf-secret-value"));
            assert!(hint.contains("HYPERFRAMES_CREDENTIAL_STORE") || hint.contains("logout"));
        }
    }

    #[test]
    fn platform_failure_message_names_secret_service() {
        let err = to_auth_error(Op::Load, "acct", Failure::Keyring(KeyringError::PlatformFailure("boom".into())), None);
        assert_eq!(err.code, AuthErrorCode::Keyring);
        assert!(err.message.contains("(boom)"), "{}", err.message);
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        {
            assert!(err.message.contains("no Secret Service provider or D-Bus session found"));
            assert!(err.hint.unwrap().contains("Secret Service provider"));
        }
    }

    /// The name of a test in this module as libtest knows it (without the crate name).
    fn test_name(function: &str) -> String {
        let module = module_path!();
        let module = module.split_once("::").map_or(module, |(_, rest)| rest);
        format!("{module}::{function}")
    }

    /// Runs `function` (a test in this module) again in a child process whose session bus does
    /// not exist, so the check holds even when the parent runs under a real Secret Service.
    fn run_in_child_without_bus(function: &str) {
        let runtime_dir = std::env::temp_dir().join(format!("hf-keyring-nobus-{}-{function}", std::process::id()));
        std::fs::create_dir_all(&runtime_dir).unwrap();
        let output = Command::new(std::env::current_exe().unwrap())
            .args([test_name(function).as_str(), "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, "1")
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            // zbus falls back to $XDG_RUNTIME_DIR/bus: point it at an empty directory.
            .env("XDG_RUNTIME_DIR", &runtime_dir)
            .env(TIMEOUT_ENV, "20")
            .output()
            .expect("spawn test child");
        let _ = std::fs::remove_dir_all(&runtime_dir);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprint!("{stderr}");
        assert!(output.status.success(), "child failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}", output.status);
        assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}\n{stderr}");
    }

    fn assert_unavailable(err: &AuthError) {
        assert_eq!(err.code, AuthErrorCode::Keyring);
        #[cfg(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd"))]
        assert!(err.message.contains("no Secret Service provider or D-Bus session found"), "{}", err.message);
        assert!(err.hint.as_deref().unwrap().contains("HYPERFRAMES_CREDENTIAL_STORE"));
    }

    #[cfg_attr(
        not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")),
        ignore = "would touch the real platform keychain"
    )]
    #[test]
    fn without_session_bus_save_load_delete_fail_cleanly() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return run_in_child_without_bus("without_session_bus_save_load_delete_fail_cleanly");
        }
        let secret = "never-shown-3f9a";
        let err = save(secret).unwrap_err();
        eprintln!("save without bus: {} | hint: {:?}", err.message, err.hint);
        assert_unavailable(&err);
        assert!(!err.message.contains(secret));

        let err = load().unwrap_err();
        eprintln!("load without bus: {}", err.message);
        assert_unavailable(&err);

        let err = delete().unwrap_err();
        assert_unavailable(&err);
    }

    #[cfg_attr(
        not(any(target_os = "linux", target_os = "freebsd", target_os = "openbsd")),
        ignore = "would touch the real platform keychain"
    )]
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn without_session_bus_callable_inside_tokio_runtime() {
        if std::env::var_os(CHILD_ENV).is_none() {
            return run_in_child_without_bus("without_session_bus_callable_inside_tokio_runtime");
        }
        // Directly on a runtime thread (not recommended, but it must not panic) ...
        assert_unavailable(&load().unwrap_err());
        // ... and the intended way.
        let err = tokio::task::spawn_blocking(|| save("x-secret")).await.unwrap().unwrap_err();
        assert_unavailable(&err);
    }

    // -----------------------------------------------------------------------------------------
    // Real Secret Service tier, run with:
    //   scripts/with-secret-service.sh env HYPERFRAMES_TEST_KEYRING=1 cargo test auth::keyring

    fn real_service_enabled(test: &str) -> bool {
        if std::env::var(REAL_ENV).as_deref() == Ok("1") {
            true
        } else {
            eprintln!(
                "skipping {test}: set {REAL_ENV}=1 and run under scripts/with-secret-service.sh \
                 to test against a real Secret Service"
            );
            false
        }
    }

    /// A per-process account, so runs never see each other's entries; removed afterwards.
    fn with_account<T>(name: &str, f: impl FnOnce(&str) -> T) -> T {
        let account = format!("test-{name}-{}", std::process::id());
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&account)));
        let _ = delete_as(&account);
        match out {
            Ok(v) => v,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    #[test]
    fn real_roundtrip() {
        if !real_service_enabled("real_roundtrip") {
            return;
        }
        with_account("roundtrip", |acct| {
            assert_eq!(load_as(acct).unwrap(), None);
            let secret = r#"{"api_key":"hg_live_abc123","access_token":"at","refresh_token":"rt"}"#;
            save_as(acct, secret).unwrap();
            assert_eq!(load_as(acct).unwrap().as_deref(), Some(secret));
        });
    }

    #[test]
    fn real_overwrite() {
        if !real_service_enabled("real_overwrite") {
            return;
        }
        with_account("overwrite", |acct| {
            save_as(acct, "first").unwrap();
            save_as(acct, "second, longer value").unwrap();
            assert_eq!(load_as(acct).unwrap().as_deref(), Some("second, longer value"));
            save_as(acct, "3").unwrap();
            assert_eq!(load_as(acct).unwrap().as_deref(), Some("3"));
        });
    }

    #[test]
    fn real_delete_is_idempotent() {
        if !real_service_enabled("real_delete_is_idempotent") {
            return;
        }
        with_account("delete", |acct| {
            delete_as(acct).unwrap();
            save_as(acct, "to be deleted").unwrap();
            delete_as(acct).unwrap();
            assert_eq!(load_as(acct).unwrap(), None);
            delete_as(acct).unwrap();
            assert_eq!(load_as(acct).unwrap(), None);
        });
    }

    #[test]
    fn real_accounts_are_isolated() {
        if !real_service_enabled("real_accounts_are_isolated") {
            return;
        }
        with_account("iso-a", |a| {
            with_account("iso-b", |b| {
                save_as(a, "secret-a").unwrap();
                assert_eq!(load_as(b).unwrap(), None, "account b sees a's entry");
                save_as(b, "secret-b").unwrap();
                assert_eq!(load_as(a).unwrap().as_deref(), Some("secret-a"));
                delete_as(a).unwrap();
                assert_eq!(load_as(a).unwrap(), None);
                assert_eq!(load_as(b).unwrap().as_deref(), Some("secret-b"), "deleting a removed b");
            });
        });
    }

    #[test]
    fn real_unicode_and_quotes() {
        if !real_service_enabled("real_unicode_and_quotes") {
            return;
        }
        with_account("unicode", |acct| {
            let secret = "{\"k\":\"välue ✓ 秘密 🔑 \\\"quoted\\\" 'single' \\n tab\\t\"}\n\ttrailing ";
            save_as(acct, secret).unwrap();
            assert_eq!(load_as(acct).unwrap().as_deref(), Some(secret));
        });
    }

    /// The public functions read the account from the env; the child gets its own account.
    #[test]
    fn real_public_api_uses_env_account() {
        if std::env::var_os(CHILD_ENV).is_none() {
            if !real_service_enabled("real_public_api_uses_env_account") {
                return;
            }
            let account = format!("test-env-{}", std::process::id());
            let output = Command::new(std::env::current_exe().unwrap())
                .args([test_name("real_public_api_uses_env_account").as_str(), "--exact", "--test-threads=1"])
                .env(CHILD_ENV, "1")
                .env(ACCOUNT_ENV, &account)
                .output()
                .expect("spawn test child");
            // The child left its entry behind: it must be under the env account.
            let stored = load_as(&account);
            let _ = delete_as(&account);
            let stdout = String::from_utf8_lossy(&output.stdout);
            assert!(
                output.status.success() && stdout.contains("1 passed"),
                "child failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(stored.unwrap().as_deref(), Some("via env account"));
            return;
        }
        assert_ne!(account(), ACCOUNT);
        delete().unwrap();
        assert_eq!(load().unwrap(), None);
        save("via env account").unwrap();
        assert_eq!(load().unwrap().as_deref(), Some("via env account"));
    }

    #[test]
    fn real_from_spawn_blocking_and_runtime_thread() {
        if !real_service_enabled("real_from_spawn_blocking_and_runtime_thread") {
            return;
        }
        with_account("tokio", |acct| {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            let owned = acct.to_string();
            let (roundtrip, direct) = rt.block_on(async move {
                let for_blocking = owned.clone();
                let roundtrip = tokio::task::spawn_blocking(move || {
                    save_as(&for_blocking, "from spawn_blocking")?;
                    load_as(&for_blocking)
                })
                .await
                .unwrap();
                // Straight on a runtime worker thread: must not panic either.
                let direct = load_as(&owned);
                (roundtrip, direct)
            });
            assert_eq!(roundtrip.unwrap().as_deref(), Some("from spawn_blocking"));
            assert_eq!(direct.unwrap().as_deref(), Some("from spawn_blocking"));
        });
    }
}
