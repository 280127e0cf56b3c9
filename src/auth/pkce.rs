//! PKCE (RFC 7636, S256) and the OAuth `state` value.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::scrub;

/// The `code_challenge_method` sent with the authorize request.
pub const METHOD: &str = "S256";
/// Random bytes behind a verifier (86 base64url chars).
pub const VERIFIER_BYTES: usize = 64;
/// Random bytes behind a state value (43 base64url chars).
pub const STATE_BYTES: usize = 32;

/// A PKCE pair. `Debug` never shows the verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Pkce {
    /// Sent only in the code exchange. Registered with the scrubber on creation.
    pub verifier: String,
    /// `base64url(SHA-256(verifier))`, sent in the authorize URL.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier (base64url, no padding, of 64 random bytes) and its S256 challenge.
    /// The verifier is registered as a secret.
    pub fn generate() -> Pkce {
        let verifier = random_b64url(VERIFIER_BYTES);
        scrub::register_secret(&verifier);
        let challenge = challenge_for(&verifier);
        Pkce { verifier, challenge }
    }
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce").field("verifier", &scrub::REDACTED).field("challenge", &self.challenge).finish()
    }
}

/// Same as [`Pkce::generate`].
pub fn generate() -> Pkce {
    Pkce::generate()
}

/// The S256 challenge for `verifier`: base64url, no padding, of its SHA-256 digest.
pub fn challenge_for(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A fresh OAuth `state`: base64url, no padding, of 32 random bytes. Not a secret: it is part of
/// the authorize URL the user may have to open by hand.
pub fn random_state() -> String {
    random_b64url(STATE_BYTES)
}

/// Compares two strings in time that depends only on their lengths. Different lengths → false.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn random_b64url(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // Without an OS random source no sign-in can be secure; there is nothing sensible to fall back to.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator is unavailable");
    URL_SAFE_NO_PAD.encode(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn is_unreserved(s: &str) -> bool {
        s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }

    #[test]
    fn verifier_shape() {
        let pkce = Pkce::generate();
        assert_eq!(pkce.verifier.len(), 86);
        assert!((43..=128).contains(&pkce.verifier.len()));
        assert!(is_unreserved(&pkce.verifier), "{}", pkce.verifier);
        assert!(!pkce.verifier.contains('='));
    }

    #[test]
    fn challenge_matches_verifier() {
        let pkce = generate();
        assert_eq!(pkce.challenge, challenge_for(&pkce.verifier));
        assert_eq!(pkce.challenge.len(), 43);
        assert!(is_unreserved(&pkce.challenge));
        assert_eq!(METHOD, "S256");
    }

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            challenge_for("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifier_is_registered_and_hidden_from_debug() {
        let pkce = Pkce::generate();
        assert_eq!(scrub::scrub(&format!("v={}", pkce.verifier)), "v=<redacted>");
        let debug = format!("{pkce:?}");
        assert!(!debug.contains(&pkce.verifier), "{debug}");
        assert!(debug.contains(&pkce.challenge), "{debug}");
    }

    #[test]
    fn values_are_distinct() {
        let verifiers: HashSet<String> = (0..50).map(|_| Pkce::generate().verifier).collect();
        assert_eq!(verifiers.len(), 50);
        let states: HashSet<String> = (0..50).map(|_| random_state()).collect();
        assert_eq!(states.len(), 50);
    }

    #[test]
    fn state_shape_and_entropy() {
        let state = random_state();
        assert_eq!(state.len(), 43);
        assert!(is_unreserved(&state));
        let decoded = URL_SAFE_NO_PAD.decode(&state).unwrap();
        assert_eq!(decoded.len(), STATE_BYTES);
        // 32 random bytes being all one value is astronomically unlikely.
        assert!(decoded.iter().any(|&b| b != decoded[0]));
        // Across many states every base64url symbol position varies.
        let distinct_first: HashSet<char> = (0..200).map(|_| random_state().chars().next().unwrap()).collect();
        assert!(distinct_first.len() > 10, "{distinct_first:?}");
    }

    #[test]
    fn constant_time_comparison() {
        assert!(constant_time_eq("abc123", "abc123"));
        assert!(constant_time_eq("", ""));
        assert!(!constant_time_eq("abc123", "abc124"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert!(!constant_time_eq("abcd", "abc"));
        assert!(!constant_time_eq("", "a"));
    }
}
