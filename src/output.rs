//! Everything printed goes through here, scrubbed of secrets, with colour only for terminals.

use std::io::Write;

use crate::auth::scrub::scrub;

#[derive(Debug, Clone, Copy)]
pub struct Output {
    pub color_out: bool,
    pub color_err: bool,
    /// Results go to stderr because stdout carries the data (`-o -`).
    pub results_on_stderr: bool,
}

impl Output {
    pub fn new(stdout_tty: bool, stderr_tty: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self { color_out: stdout_tty && !no_color, color_err: stderr_tty && !no_color, results_on_stderr: false }
    }

    /// The same output with results (`out`, `json`) sent to stderr, for when stdout carries a
    /// file's bytes (`-o -`).
    pub fn results_on_stderr(self) -> Self {
        Self { color_out: self.color_err, results_on_stderr: true, ..self }
    }

    pub fn out(&self, text: &str) {
        if self.results_on_stderr {
            return self.err(text);
        }
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{}", scrub(text));
        let _ = o.flush();
    }

    pub fn err(&self, text: &str) {
        let mut e = std::io::stderr().lock();
        let _ = writeln!(e, "{}", scrub(text));
        let _ = e.flush();
    }

    /// Prints a secret on purpose (`auth token`): the one unscrubbed path.
    pub fn out_secret(&self, text: &str) {
        let mut o = std::io::stdout().lock();
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    }

    pub fn json<T: serde::Serialize + ?Sized>(&self, value: &T) {
        self.out(&serde_json::to_string_pretty(value).expect("reports always serialise"));
    }

    /// A command's `--json` on success: `{"ok": true, …}` followed by the result's own fields, the
    /// same struct the JS API returns (see [`crate::report`]).
    pub fn success<T: serde::Serialize>(&self, result: &T) {
        self.json(&crate::report::shape::Success::new(result));
    }

    fn paint(on: bool, code: &str, text: &str) -> String {
        if on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        Self::paint(self.color_out, "2", text)
    }
    pub fn green(&self, text: &str) -> String {
        Self::paint(self.color_out, "32", text)
    }
    pub fn red(&self, text: &str) -> String {
        Self::paint(self.color_out, "31", text)
    }
    pub fn yellow(&self, text: &str) -> String {
        Self::paint(self.color_out, "33", text)
    }
    pub fn bold(&self, text: &str) -> String {
        Self::paint(self.color_out, "1", text)
    }
    pub fn err_red(&self, text: &str) -> String {
        Self::paint(self.color_err, "31", text)
    }
    pub fn err_dim(&self, text: &str) -> String {
        Self::paint(self.color_err, "2", text)
    }
}
