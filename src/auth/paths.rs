//! Where the shared HeyGen credentials live.

use std::path::{Path, PathBuf};

pub const CREDENTIALS_FILE: &str = "credentials";
pub const LOCK_FILE: &str = "credentials.lock";

pub fn home_dir() -> Option<PathBuf> {
    dirs::home_dir()
}

/// `$HEYGEN_CONFIG_DIR` when non-empty (verbatim), else `<home>/.heygen`.
pub fn config_dir() -> PathBuf {
    match std::env::var_os("HEYGEN_CONFIG_DIR") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => home_dir().unwrap_or_else(|| PathBuf::from(".")).join(".heygen"),
    }
}

pub fn credentials_path() -> PathBuf {
    config_dir().join(CREDENTIALS_FILE)
}

/// A path for people: the home directory shown as `~`.
pub fn display(path: &Path) -> String {
    redact_home(&path.display().to_string(), "~")
}

/// Replaces every occurrence of the home directory in `text` with `replacement`.
pub fn redact_home(text: &str, replacement: &str) -> String {
    let mut out = text.to_string();
    for home in [home_dir().map(|h| h.display().to_string()), std::env::var("USERPROFILE").ok()].into_iter().flatten() {
        let home = home.trim_end_matches(['/', '\\']);
        if home.len() > 1 {
            out = out.replace(home, replacement);
        }
    }
    out
}
