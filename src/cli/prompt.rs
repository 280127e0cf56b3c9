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
        let key = prompt_hidden("Enter HeyGen API key: ").map_err(|e| {
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

/// Asks on the terminal with echo off. On Unix echo is turned off *before* the prompt is shown:
/// rpassword shows the prompt first, so a key pasted the moment the prompt appears could be
/// echoed before echo went off. Characters typed ahead are kept (the mode changes at once,
/// without flushing input).
#[cfg(unix)]
fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    use std::os::fd::AsRawFd;
    let tty = std::fs::File::options().read(true).write(true).open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    // SAFETY: termios is plain data filled by tcgetattr on a descriptor we own.
    let mut saved: libc::termios = unsafe { std::mem::zeroed() };
    if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut hidden = saved;
    hidden.c_lflag &= !libc::ECHO;
    hidden.c_lflag |= libc::ECHONL;
    if unsafe { libc::tcsetattr(fd, libc::TCSANOW, &hidden) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    struct Restore(i32, libc::termios);
    impl Drop for Restore {
        fn drop(&mut self) {
            // SAFETY: restores the settings read above on the same descriptor.
            unsafe { libc::tcsetattr(self.0, libc::TCSANOW, &self.1) };
        }
    }
    let _restore = Restore(fd, saved);
    let mut out = &tty;
    out.write_all(prompt.as_bytes())?;
    out.flush()?;
    let mut line = String::new();
    if std::io::BufReader::new(&tty).take(64 * 1024).read_line(&mut line)? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

#[cfg(not(unix))]
fn prompt_hidden(prompt: &str) -> std::io::Result<String> {
    rpassword::prompt_password(prompt)
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
