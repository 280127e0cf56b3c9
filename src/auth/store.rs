//! The credentials file shared with the `heygen` CLI: JSON with `api_key`, `oauth` and `user`, unknown
//! keys kept at every level, mode 0600 in a 0700 directory, written atomically under a cross-process
//! lock so concurrent logins, refreshes and logouts never lose each other's fields.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::error::{AuthError, AuthErrorCode, AuthResult};
use super::{keyring, paths, scrub};
use crate::fsio::input::Input;

/// Top-level key (unknown to the `heygen` CLI, which preserves it) marking that the secrets live in
/// the OS keyring rather than in this file.
pub const STORE_MARKER_KEY: &str = "hyperframes_credential_store";
pub const STORE_MARKER_KEYRING: &str = "keyring";

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OAuthBlock {
    /// Empty only for a refresh-only block as the `heygen` CLI may write it.
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_at: Option<String>,
    pub scope: Option<String>,
    pub token_type: Option<String>,
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserBlock {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub extra: Map<String, Value>,
}

impl UserBlock {
    pub fn is_empty(&self) -> bool {
        self.email.is_none()
            && self.first_name.is_none()
            && self.last_name.is_none()
            && self.username.is_none()
            && self.extra.is_empty()
    }

    pub fn has_identity(&self) -> bool {
        self.email.is_some() || self.first_name.is_some() || self.last_name.is_some() || self.username.is_some()
    }

    /// email, then "first last", first, last, username.
    pub fn display_name(&self) -> Option<String> {
        if let Some(e) = &self.email {
            return Some(e.clone());
        }
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) => return Some(format!("{f} {l}")),
            (Some(f), None) => return Some(f.clone()),
            (None, Some(l)) => return Some(l.clone()),
            _ => {}
        }
        self.username.clone()
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Credentials {
    pub api_key: Option<String>,
    pub oauth: Option<OAuthBlock>,
    pub user: Option<UserBlock>,
    /// Top-level keys this tool does not know, kept as written.
    pub extra: Map<String, Value>,
}

impl Credentials {
    pub fn uses_keyring(&self) -> bool {
        self.extra.get(STORE_MARKER_KEY).and_then(Value::as_str) == Some(STORE_MARKER_KEYRING)
    }

    pub fn set_keyring_marker(&mut self, on: bool) {
        if on {
            self.extra.insert(STORE_MARKER_KEY.into(), Value::String(STORE_MARKER_KEYRING.into()));
        } else {
            self.extra.remove(STORE_MARKER_KEY);
        }
    }

    pub fn has_credential(&self) -> bool {
        self.api_key.is_some() || self.oauth.is_some()
    }

    /// Data that is not ours to drop: unknown keys anywhere, or a credential.
    fn has_anything_worth_keeping(&self) -> bool {
        let foreign_root = self.extra.keys().any(|k| k != STORE_MARKER_KEY);
        let foreign_user = self.user.as_ref().is_some_and(|u| !u.extra.is_empty());
        self.has_credential() || foreign_root || foreign_user
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Absent,
    Json,
    Legacy,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub format: Format,
    pub creds: Credentials,
    /// True when the secrets were read from the OS keyring.
    pub from_keyring: bool,
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Whether `s` can be sent as an HTTP header value (no control characters). Every stored secret
/// must be: it ends up in an `Authorization` header.
pub fn is_header_safe(s: &str) -> bool {
    !s.chars().any(|c| (c as u32) < 0x20 || c as u32 == 0x7f)
}

fn string_field(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => Some(s.clone()),
        _ => None,
    }
}

fn take_known(obj: &Map<String, Value>, known: &[&str]) -> Map<String, Value> {
    obj.iter().filter(|(k, _)| !known.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect()
}

const OAUTH_KEYS: [&str; 5] = ["access_token", "refresh_token", "expires_at", "scope", "token_type"];
const USER_KEYS: [&str; 4] = ["email", "first_name", "last_name", "username"];
const ROOT_KEYS: [&str; 3] = ["api_key", "oauth", "user"];

/// Longest token accepted, from the token endpoint or in this file. Real access tokens (JWTs
/// included) are a few KiB at most; a larger one would be refused by servers as an oversized
/// header (HTTP 431) on every call, so it is refused before it is stored or sent.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

fn parse_oauth(v: &Value) -> AuthResult<Option<OAuthBlock>> {
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(AuthError::invalid_store("`oauth` is not an object")),
    };
    for key in ["access_token", "refresh_token"] {
        if let Some(Value::String(s)) = obj.get(key).filter(|v| v.as_str().is_some_and(|s| s.len() > MAX_TOKEN_LEN)) {
            return Err(AuthError::invalid_store(format!(
                "`oauth.{key}` is {} long (at most {MAX_TOKEN_LEN} bytes)",
                crate::fsio::input::human_bytes(s.len() as u64)
            )));
        }
    }
    let refresh_token = string_field(obj.get("refresh_token"));
    let access_token = match obj.get("access_token") {
        Some(Value::String(s)) if !s.is_empty() && is_header_safe(s) => s.clone(),
        // The `heygen` CLI may keep a refresh-only block: usable once refreshed.
        Some(Value::String(s)) if s.is_empty() && refresh_token.is_some() => String::new(),
        None if refresh_token.is_some() => String::new(),
        _ => return Err(AuthError::invalid_store("`oauth.access_token` is missing or invalid")),
    };
    Ok(Some(OAuthBlock {
        access_token,
        refresh_token,
        expires_at: string_field(obj.get("expires_at")),
        scope: string_field(obj.get("scope")),
        token_type: string_field(obj.get("token_type")),
        extra: take_known(obj, &OAUTH_KEYS),
    }))
}

fn parse_user(v: &Value) -> AuthResult<Option<UserBlock>> {
    let obj = match v {
        Value::Null => return Ok(None),
        Value::Object(o) => o,
        _ => return Err(AuthError::invalid_store("`user` is not an object")),
    };
    // Sub-fields of the wrong type are kept verbatim rather than dropped.
    let mut extra = Map::new();
    for (k, val) in obj {
        if !USER_KEYS.contains(&k.as_str()) || !matches!(val, Value::String(_) | Value::Null) {
            extra.insert(k.clone(), val.clone());
        }
    }
    let s = |k: &str| match obj.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    };
    Ok(Some(UserBlock {
        email: s("email"),
        first_name: s("first_name"),
        last_name: s("last_name"),
        username: s("username"),
        extra,
    }))
}

/// HeyGen keys are well under 100 characters; anything this long is a paste gone wrong (a whole
/// file, a log) and would only be refused by the server as an oversized header.
pub const MAX_API_KEY_LEN: usize = 1024;

/// What makes `key` unusable as an API key, wherever it comes from (the file, the environment, a
/// login): it goes into an `x-api-key` header, so it must be one short run of visible characters.
/// The answer never quotes the key.
pub fn api_key_problem(key: &str) -> Option<String> {
    if key.trim().is_empty() {
        return Some("is empty".into());
    }
    if !is_header_safe(key) {
        return Some("contains control characters (a newline or similar)".into());
    }
    if key.chars().any(char::is_whitespace) {
        return Some("contains spaces".into());
    }
    if key.len() > MAX_API_KEY_LEN {
        return Some(format!(
            "is {} long (HeyGen keys are far shorter than {MAX_API_KEY_LEN} characters)",
            crate::fsio::input::human_bytes(key.len() as u64)
        ));
    }
    None
}

fn validate_api_key(key: &str, label: &str) -> AuthResult<()> {
    match api_key_problem(key) {
        Some(problem) => Err(AuthError::invalid_store(format!("{label} {problem}"))),
        None => Ok(()),
    }
}

/// Parses file content. An empty (or blank) file is absent.
pub fn parse(content: &str) -> AuthResult<(Format, Credentials)> {
    let text = content.trim();
    if text.is_empty() {
        return Ok((Format::Absent, Credentials::default()));
    }
    if !text.starts_with('{') {
        let ok = text.len() >= 8 && text.bytes().all(|b| (0x21..=0x7e).contains(&b));
        if ok {
            validate_api_key(text, "the legacy API key")?;
        } else {
            return Err(AuthError::invalid_store(
                "the file is neither JSON nor a single-line API key (at least 8 printable characters, no spaces)",
            ));
        }
        scrub::register_secret(text);
        return Ok((Format::Legacy, Credentials { api_key: Some(text.to_string()), ..Default::default() }));
    }
    let root: Value =
        serde_json::from_str(text).map_err(|e| AuthError::invalid_store(format!("invalid JSON ({e})")))?;
    let obj = root.as_object().ok_or_else(|| AuthError::invalid_store("the JSON root is not an object"))?;
    let api_key = match obj.get("api_key") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            validate_api_key(s, "`api_key`")?;
            scrub::register_secret(s);
            Some(s.clone())
        }
        Some(_) => return Err(AuthError::invalid_store("`api_key` is not a string")),
    };
    let oauth = obj.get("oauth").map(parse_oauth).transpose()?.flatten();
    if let Some(o) = &oauth {
        scrub::register_secret(&o.access_token);
        if let Some(rt) = &o.refresh_token {
            scrub::register_secret(rt);
        }
    }
    let user = obj.get("user").map(parse_user).transpose()?.flatten();
    Ok((Format::Json, Credentials { api_key, oauth, user, extra: take_known(obj, &ROOT_KEYS) }))
}

// ---------------------------------------------------------------------------------------------
// Serialisation: unknown keys first, then the known fields in a fixed order; empty fields omitted.

fn put(map: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(s) = v {
        map.insert(key.into(), Value::String(s.clone()));
    }
}

fn oauth_value(o: &OAuthBlock) -> Value {
    let mut m = o.extra.clone();
    m.insert("access_token".into(), Value::String(o.access_token.clone()));
    put(&mut m, "refresh_token", &o.refresh_token);
    put(&mut m, "expires_at", &o.expires_at);
    put(&mut m, "scope", &o.scope);
    put(&mut m, "token_type", &o.token_type);
    Value::Object(m)
}

fn to_value(c: &Credentials, include_secrets: bool) -> Value {
    let mut m = c.extra.clone();
    if include_secrets {
        put(&mut m, "api_key", &c.api_key);
        if let Some(o) = &c.oauth {
            m.insert("oauth".into(), oauth_value(o));
        }
    }
    if let Some(u) = c.user.as_ref().filter(|u| !u.is_empty()) {
        let mut um = u.extra.clone();
        put(&mut um, "email", &u.email);
        put(&mut um, "first_name", &u.first_name);
        put(&mut um, "last_name", &u.last_name);
        put(&mut um, "username", &u.username);
        m.insert("user".into(), Value::Object(um));
    }
    Value::Object(m)
}

pub fn serialize(c: &Credentials) -> String {
    let mut s = serde_json::to_string_pretty(&to_value(c, true)).expect("JSON values always serialise");
    s.push('\n');
    s
}

/// The part that goes to the OS keyring when the keyring holds the secrets.
fn secret_blob(c: &Credentials) -> String {
    let mut m = Map::new();
    put(&mut m, "api_key", &c.api_key);
    if let Some(o) = &c.oauth {
        m.insert("oauth".into(), oauth_value(o));
    }
    Value::Object(m).to_string()
}

fn apply_secret_blob(c: &mut Credentials, blob: &str) -> AuthResult<()> {
    let (_, secrets) = parse(blob).map_err(|e| AuthError::invalid_store(format!("keyring entry: {}", e.message)))?;
    c.api_key = secrets.api_key;
    c.oauth = secrets.oauth;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Files

/// Symbolic links followed from the credentials path before giving up (as the kernel's ELOOP).
const MAX_LINK_HOPS: usize = 40;

pub struct Store {
    dir: PathBuf,
}

/// Held while a read-modify-write is in progress; other processes wait for it.
pub struct StoreLock {
    _file: File,
}

/// What `save` did with the secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveOutcome {
    pub in_keyring: bool,
    /// Set when the keyring was asked for but the file had to be used instead.
    pub warning: Option<String>,
}

fn io_detail(e: &io::Error) -> String {
    scrub::scrub(&e.to_string())
}

impl Store {
    pub fn from_env() -> Self {
        Self { dir: paths::config_dir() }
    }

    pub fn at(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(paths::CREDENTIALS_FILE)
    }

    fn ensure_dir(&self) -> AuthResult<()> {
        if self.dir.exists() && !self.dir.is_dir() {
            return Err(AuthError::invalid_store(format!(
                "{} exists but is not a directory",
                paths::display(&self.dir)
            )));
        }
        fs::create_dir_all(&self.dir)
            .map_err(|e| AuthError::io(format!("cannot create {}: {}", paths::display(&self.dir), io_detail(&e))))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700));
        }
        Ok(())
    }

    /// Takes the cross-process lock (blocking until other writers are done).
    pub fn lock(&self) -> AuthResult<StoreLock> {
        self.ensure_dir()?;
        let path = self.dir.join(paths::LOCK_FILE);
        let mut opts = OpenOptions::new();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let file = opts
            .open(&path)
            .map_err(|e| AuthError::io(format!("cannot open {}: {}", paths::display(&path), io_detail(&e))))?;
        file.lock().map_err(|e| AuthError::io(format!("cannot lock {}: {}", paths::display(&path), io_detail(&e))))?;
        Ok(StoreLock { _file: file })
    }

    /// Reads the file without modifying anything; a corrupt or unreadable file is an error.
    /// Secrets kept in the OS keyring are fetched too (blocking: call off the async runtime).
    pub fn load(&self) -> AuthResult<Loaded> {
        let path = self.path();
        let Some(content) = read_credentials_file(&path)? else {
            return Ok(Loaded { format: Format::Absent, creds: Credentials::default(), from_keyring: false });
        };
        let (format, mut creds) = parse(&content).map_err(|mut e| {
            e.message = format!("{} ({})", e.message, paths::display(&path));
            e
        })?;
        let mut from_keyring = false;
        if creds.uses_keyring() && !creds.has_credential() {
            match keyring::load()? {
                Some(blob) => {
                    apply_secret_blob(&mut creds, &blob)?;
                    from_keyring = true;
                }
                None => tracing::debug!("keyring marker present but the keyring holds no entry"),
            }
        }
        Ok(Loaded { format, creds, from_keyring })
    }

    /// Writes the credentials atomically (temp file + rename). With the keyring marker set, the
    /// secrets go to the OS keyring and the file keeps the rest; if the keyring cannot take them,
    /// they go to the file and the outcome carries a warning.
    pub fn save(&self, _lock: &StoreLock, creds: &Credentials) -> AuthResult<SaveOutcome> {
        if !creds.has_anything_worth_keeping() {
            self.remove_file()?;
            return Ok(SaveOutcome { in_keyring: false, warning: None });
        }
        if creds.uses_keyring() && creds.has_credential() {
            match keyring::save(&secret_blob(creds)) {
                Ok(()) => {
                    let text = format!(
                        "{}\n",
                        serde_json::to_string_pretty(&to_value(creds, false)).expect("JSON values always serialise")
                    );
                    self.write_atomically(&text)?;
                    return Ok(SaveOutcome { in_keyring: true, warning: None });
                }
                Err(e) => {
                    let mut fallback = creds.clone();
                    fallback.set_keyring_marker(false);
                    self.write_atomically(&serialize(&fallback))?;
                    let warning = format!(
                        "OS keyring unavailable ({}); the credential was saved to {} (mode 0600) instead.",
                        e.message,
                        paths::display(&self.path())
                    );
                    return Ok(SaveOutcome { in_keyring: false, warning: Some(warning) });
                }
            }
        }
        if !creds.uses_keyring() {
            // Secrets moved back to the file: drop any stale keyring copy (best effort).
            if let Err(e) = keyring_delete_if_marked(self) {
                tracing::debug!("could not clear the keyring entry: {}", e.message);
            }
        }
        self.write_atomically(&serialize(creds))?;
        Ok(SaveOutcome { in_keyring: false, warning: None })
    }

    /// The file the credentials live in: the credentials path, or, when that is a symbolic link
    /// (dotfiles setups), the file it points to, followed link by link (a dangling link gives
    /// the path it names, so a first write creates the target).
    fn resolved_path(&self) -> io::Result<PathBuf> {
        let mut path = self.path();
        for _ in 0..MAX_LINK_HOPS {
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    let target = fs::read_link(&path)?;
                    path = match path.parent() {
                        Some(dir) if target.is_relative() => dir.join(target),
                        _ => target,
                    };
                }
                _ => return Ok(path),
            }
        }
        Err(io::Error::other("too many levels of symbolic links"))
    }

    /// Replaces the credentials file with `text` through a temporary file and a rename in the
    /// same directory. A symlinked credentials path is written through: the link stays, its
    /// target is replaced (mode 0600).
    fn write_atomically(&self, text: &str) -> AuthResult<()> {
        self.ensure_dir()?;
        let shown = self.path();
        let cannot =
            |e: &io::Error| AuthError::io(format!("cannot write {}: {}", paths::display(&shown), io_detail(e)));
        let path = self.resolved_path().map_err(|e| cannot(&e))?;
        crate::fsio::replace_file(&path, crate::fsio::Mode::Exactly(0o600), |w| w.write_all(text.as_bytes()))
            .map_err(|e| cannot(&e))?;
        Ok(())
    }

    /// Removes the credentials (idempotent). Through a symlink, the target holding the secrets is
    /// removed and the link is left for the next sign-in to write through.
    fn remove_file(&self) -> AuthResult<bool> {
        let cannot =
            |e: &io::Error| AuthError::io(format!("cannot remove {}: {}", paths::display(&self.path()), io_detail(e)));
        match fs::remove_file(self.resolved_path().map_err(|e| cannot(&e))?) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(cannot(&e)),
        }
    }

    /// Reads, lets `f` change the credentials, and writes them back, all under the lock.
    /// A corrupt file is never overwritten: the error comes back and the file stays as it was.
    pub fn update<R>(&self, f: impl FnOnce(&mut Credentials) -> AuthResult<R>) -> AuthResult<(R, SaveOutcome)> {
        let lock = self.lock()?;
        let mut creds = self.load()?.creds;
        let r = f(&mut creds)?;
        let outcome = self.save(&lock, &creds)?;
        Ok((r, outcome))
    }

    /// Removes the file (idempotent) and any keyring entry it points to. Works on a corrupt file.
    pub fn delete(&self) -> AuthResult<bool> {
        let _lock = self.lock()?;
        if let Err(e) = keyring_delete_if_marked(self) {
            tracing::debug!("could not clear the keyring entry: {}", e.message);
        }
        self.remove_file()
    }
}

/// The credentials file is small JSON: a megabyte is thousands of times what it holds.
pub const CREDENTIALS_INPUT: Input = Input::new("the credentials file", 1024 * 1024);

/// The text of the credentials file through the one bounded reader (a FIFO, a device or an
/// oversized file is refused at once, never read or waited on); `None` when there is no file.
pub fn read_credentials_file(path: &Path) -> AuthResult<Option<String>> {
    // A missing file (or a dangling link) is "not signed in"; anything else that is there must be
    // a regular file of sane size, and a refusal is an error, never mistaken for "absent" (which
    // a sign-in would then overwrite).
    match fs::metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        _ => {}
    }
    match crate::fsio::input::read_text(path, CREDENTIALS_INPUT) {
        Ok(text) => Ok(Some(text)),
        Err(e) => {
            let shown = paths::display(path);
            let message = scrub::scrub(&e.message.replace(&path.display().to_string(), &shown));
            Err(AuthError::new(AuthErrorCode::InvalidStore, format!("Credential file is unusable: {message}"))
                .with_hint(format!(
                    "Replace {shown} with a regular file (or delete it), then run `hyperframes auth login`."
                )))
        }
    }
}

fn keyring_delete_if_marked(store: &Store) -> AuthResult<()> {
    let marked = read_credentials_file(&store.path())
        .ok()
        .flatten()
        .and_then(|t| parse(&t).ok())
        .is_some_and(|(_, c)| c.uses_keyring());
    if marked {
        keyring::delete()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
