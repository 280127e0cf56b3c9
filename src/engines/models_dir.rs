//! Where downloaded model files live.

use std::path::PathBuf;

/// Environment variable that overrides the models directory.
pub const ENV_MODELS_DIR: &str = "HYPERFRAMES_MODELS_DIR";

/// The root directory for model files.
///
/// `$HYPERFRAMES_MODELS_DIR` when it is set and non-empty; otherwise the
/// platform cache directory (`~/.cache` on Linux, `~/Library/Caches` on macOS,
/// `%LOCALAPPDATA%` on Windows) joined with `hyperframes/models`. Without a
/// cache directory it falls back to `~/.cache/hyperframes/models`, and without
/// a home directory to the system temp directory.
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(ENV_MODELS_DIR).filter(|v| !v.is_empty()) {
        return PathBuf::from(dir);
    }
    let base = dirs::cache_dir()
        .or_else(|| dirs::home_dir().map(|home| home.join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("hyperframes").join("models")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{env_lock, EnvGuard};

    #[test]
    fn env_override_wins_when_non_empty() {
        let _lock = env_lock();
        let _env = EnvGuard::set(&[(ENV_MODELS_DIR, Some("/tmp/hf-models-test"))]);
        assert_eq!(models_dir(), PathBuf::from("/tmp/hf-models-test"));

        let _env = EnvGuard::set(&[(ENV_MODELS_DIR, Some(""))]);
        let default = models_dir();
        assert!(default.ends_with("hyperframes/models"), "{default:?}");
        assert_ne!(default, PathBuf::from(""));

        let _env = EnvGuard::set(&[(ENV_MODELS_DIR, None)]);
        assert_eq!(models_dir(), default);
    }
}
