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

/// Text from a server (an account name, a model's description, an error body) made safe for a
/// terminal or a human-readable line: escape sequences (CSI, OSC, any other `ESC x`) are removed
/// whole, and so are C0 controls (except newline and tab), DEL, C1 controls and the Unicode bidi
/// overrides and isolates that can make a line read differently from what it is. Everything else
/// is kept as it came. JSON output does not need this (serde escapes control characters).
pub fn terminal_text(text: &str) -> String {
    strip_controls(text, false)
}

/// [`terminal_text`] for a single line: newlines and tabs become spaces too.
pub fn terminal_line(text: &str) -> String {
    strip_controls(text, true)
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn strip_controls(text: &str, one_line: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => skip_escape(&mut chars),
            '\n' | '\t' | '\r' if one_line => out.push(' '),
            '\n' | '\t' => out.push(c),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Consumes the rest of an escape sequence after its ESC: CSI (`ESC [` … final byte), OSC/DCS/
/// APC/PM/SOS (`ESC ]` … BEL or `ESC \`), or a plain two-character escape.
fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
        Some(']' | 'P' | '_' | '^' | 'X') => {
            while let Some(c) = chars.next() {
                if c == '\u{7}' {
                    break;
                }
                if c == '\u{1b}' {
                    if chars.peek() == Some(&'\\') {
                        chars.next();
                    }
                    break;
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_and_controls_are_stripped_from_server_text() {
        let hostile = "ada\x1b[2J\x1b[31m@evil\x1b[0m.com\x1b]0;owned\x07\x1b]8;;http://x\x1b\\link\x1bc\u{9b}31m\u{85}\r\x08\x7f\0!";
        assert_eq!(terminal_text(hostile), "ada@evil.comlink31m!");
        assert!(!terminal_text(hostile).chars().any(|c| c.is_control()));
        assert_eq!(terminal_text("a\u{202E}gnp.exe\u{2066}b\u{200F}"), "agnp.exeb", "bidi overrides and isolates");
        assert_eq!(terminal_text("two\nlines\tand tab"), "two\nlines\tand tab");
        assert_eq!(terminal_line("two\nlines\tand\r tab"), "two lines and  tab");
        assert_eq!(terminal_text("café — 日本 🎬"), "café — 日本 🎬", "printable text stays");
        assert_eq!(terminal_text("cut \x1b[31"), "cut ", "an unfinished sequence is dropped to the end");
    }
}
