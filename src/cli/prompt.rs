//! Reading input from people and pipes: a piped secret, a hidden prompt, a yes/no question.

use std::io::{BufRead, Read, Write};
use std::sync::mpsc;
use std::time::Duration;

use crate::auth::error::{AuthError, AuthErrorCode, AuthResult};

pub const STDIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads all of stdin (a piped key), giving up after `timeout`.
pub fn read_stdin(timeout: Duration) -> AuthResult<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut s = String::new();
        let r = std::io::stdin().lock().take(64 * 1024).read_to_string(&mut s).map(|_| s);
        let _ = tx.send(r);
    });
    match rx.recv_timeout(timeout) {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(AuthError::io(format!("could not read the API key from stdin: {e}"))),
        Err(_) => Err(AuthError::usage(format!(
            "Timed out waiting for stdin ({}s). Pipe the key in, or pass --api-key with a value.",
            timeout.as_secs()
        ))),
    }
}

fn aborted() -> AuthError {
    AuthError::new(AuthErrorCode::Aborted, "Aborted.")
}

/// Hidden prompt for the API key, asking again until the key has a plausible shape.
pub fn hidden_api_key() -> AuthResult<String> {
    loop {
        let key = rpassword::prompt_password("Enter HeyGen API key: ").map_err(|e| {
            if e.kind() == std::io::ErrorKind::Interrupted || e.kind() == std::io::ErrorKind::UnexpectedEof {
                aborted()
            } else {
                AuthError::io(format!("could not read from the terminal: {e}"))
            }
        })?;
        let key = key.trim().to_string();
        match crate::auth::login::validate_api_key(&key) {
            Ok(()) => return Ok(key),
            Err(e) => eprintln!("{}", e.message),
        }
    }
}

/// `[y/N]` question; only y/yes count. A non-terminal stdin counts as no.
pub fn confirm(question: &str, stdin_tty: bool) -> bool {
    if !stdin_tty {
        return false;
    }
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    if std::io::stdin().lock().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
