//! Progress on stderr, so stdout stays clean for results: an indicatif bar on a terminal (rate,
//! ETA, the terminal's width), a line per 10% otherwise, JSON lines with `--json`. The bars are
//! drawn only when stderr is a terminal (indicatif hides them otherwise), so piped and `--json`
//! output is unchanged by them.

use std::io::Write;
use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engines::install::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    Lines,
    Json,
}

/// How a bar is shown: its text, `[bar]`, percent, counts, rate and ETA.
const BYTES: &str =
    "  [{wide_bar}] {percent:>3}%  {decimal_bytes} / {decimal_total_bytes}  {decimal_bytes_per_sec}  ETA {eta}";
const BYTES_UNKNOWN: &str = "  {spinner} {decimal_bytes}  {decimal_bytes_per_sec}";

/// A bar on stderr with `template` (indicatif's), hidden when stderr is not a terminal.
pub fn bar(len: Option<u64>, template: &str) -> ProgressBar {
    let style = ProgressStyle::with_template(template).expect("the templates here are valid").progress_chars("#>.");
    ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr()).with_style(style)
}

/// A bar for a job counted in steps (`{pos} / {len}` with `unit`), e.g. MusicGen's decoder.
pub fn steps_bar(len: u64, unit: &str) -> ProgressBar {
    bar(Some(len), &format!("  [{{wide_bar}}] {{percent:>3}}%  {unit} {{pos}} / {{len}}  ETA {{eta}}"))
}

/// Leaves `bar` on screen at its last state, and the cursor on the next line (indicatif leaves it
/// at the end of a finished bar, where the next text would continue the bar's line).
pub fn finish(bar: &ProgressBar) {
    bar.finish();
    if !bar.is_hidden() {
        let _ = std::io::stderr().write_all(b"\n");
    }
}

/// Downloads and copies of model files, one event at a time.
pub struct Printer {
    style: Style,
    last_tenth: Mutex<Option<(String, u64)>>,
    /// The file whose bar is showing (`Bar` style).
    current: Mutex<Option<(String, ProgressBar)>>,
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1_000_000.0)
}

impl Printer {
    pub fn new(style: Style) -> Self {
        Self { style, last_tenth: Mutex::new(None), current: Mutex::new(None) }
    }

    /// Writes `text` (scrubbed), above the bar when one is showing.
    fn write(&self, text: &str) {
        let text = crate::auth::scrub::scrub(text);
        let put = || {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(text.as_bytes());
            let _ = e.flush();
        };
        match self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            Some((_, bar)) if !bar.is_finished() => bar.suspend(put),
            _ => put(),
        }
    }

    /// Starts the bar of `file` (`Bar` style only), `done` bytes in.
    fn start_bar(&self, file: &str, total: Option<u64>, done: u64) {
        if self.style != Style::Bar {
            return;
        }
        let bar = bar(total.filter(|t| *t > 0), if total.is_some() { BYTES } else { BYTES_UNKNOWN });
        bar.set_position(done);
        // The rate and ETA are of this run's bytes, not of what an earlier run left.
        bar.reset_eta();
        let mut current = self.current.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, old)) = current.replace((file.to_string(), bar)) {
            old.finish_and_clear();
        }
    }

    /// Leaves the bar of the file at its last state (a finished bar stays on screen).
    fn end_bar(&self) {
        if let Some((_, bar)) = self.current.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            if !bar.is_finished() {
                finish(bar);
            }
        }
    }

    pub fn event(&self, p: Progress) {
        if self.style == Style::Json {
            self.write(&format!("{}\n", serde_json::to_string(&p).expect("progress events serialise")));
            return;
        }
        match p {
            Progress::Start { file, total, resumed_from } => {
                let size = total.map(|t| format!(" ({})", mb(t))).unwrap_or_default();
                let resume =
                    if resumed_from > 0 { format!(", resuming at {}", mb(resumed_from)) } else { String::new() };
                self.end_bar();
                self.write(&format!("Downloading {file}{size}{resume}\n"));
                self.start_bar(file, total, resumed_from);
            }
            Progress::Copying { file, total } => {
                self.end_bar();
                self.write(&format!("Copying {file} ({})\n", mb(total)));
                self.start_bar(file, Some(total), 0);
            }
            Progress::Bytes { file, done, total } => match self.style {
                Style::Bar => {
                    let current = self.current.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some((_, bar)) = current.as_ref().filter(|(f, _)| f == file) {
                        if let Some(total) = total.filter(|t| *t > 0 && bar.length() != Some(*t)) {
                            bar.set_length(total);
                        }
                        bar.set_position(done);
                    }
                }
                _ => {
                    let Some(total) = total.filter(|t| *t > 0) else { return };
                    let pct = (done * 100 / total).min(100);
                    let tenth = pct / 10;
                    let mut last = self.last_tenth.lock().unwrap_or_else(|e| e.into_inner());
                    if last.as_ref().is_none_or(|(f, t)| f != file || *t != tenth) {
                        *last = Some((file.to_string(), tenth));
                        drop(last);
                        self.write(&format!("  {file}: {pct}% ({} / {})\n", mb(done), mb(total)));
                    }
                }
            },
            Progress::Verifying { file } => {
                self.end_bar();
                self.write(&format!("  verifying {file} (sha256)\n"));
            }
            Progress::Done { file } => {
                self.end_bar();
                self.write(&format!("  ✓ {file}\n"));
            }
            Progress::Skipped { file, reason } => self.write(&format!("  - {file}: {}\n", reason.describe())),
            Progress::Waiting { file, host, seconds } => {
                self.write(&format!("  waiting for {host}… ({file}: no data for {seconds}s)\n"))
            }
            Progress::LeftoverDiscarded { file, bytes } => self.write(&format!(
                "  ! {file}: the {} left by an earlier run did not match the catalog; deleted it and downloading \
                 the file again from the start\n",
                mb(bytes)
            )),
            Progress::InstallRunning { folder } => self
                .write(&format!("Another `models install` is installing into {folder}; waiting for it to finish…\n")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bar_follows_the_file_and_its_bytes() {
        let p = Printer::new(Style::Bar);
        p.event(Progress::Start { file: "k/model.onnx", total: Some(1000), resumed_from: 400 });
        {
            let current = p.current.lock().unwrap();
            let (file, bar) = current.as_ref().unwrap();
            assert_eq!((file.as_str(), bar.length(), bar.position()), ("k/model.onnx", Some(1000), 400));
        }
        p.event(Progress::Bytes { file: "k/model.onnx", done: 700, total: Some(1000) });
        // Bytes of another file do not move this bar.
        p.event(Progress::Bytes { file: "k/other.bin", done: 5, total: Some(10) });
        assert_eq!(p.current.lock().unwrap().as_ref().unwrap().1.position(), 700);
        p.event(Progress::Verifying { file: "k/model.onnx" });
        assert!(p.current.lock().unwrap().as_ref().unwrap().1.is_finished());
        p.event(Progress::Copying { file: "k/voices.bin", total: 50 });
        let current = p.current.lock().unwrap();
        let (file, bar) = current.as_ref().unwrap();
        assert_eq!(
            (file.as_str(), bar.length(), bar.position(), bar.is_finished()),
            ("k/voices.bin", Some(50), 0, false)
        );
    }

    #[test]
    fn lines_and_json_styles_draw_no_bar() {
        for style in [Style::Lines, Style::Json] {
            let p = Printer::new(style);
            p.event(Progress::Start { file: "k/model.onnx", total: Some(1000), resumed_from: 0 });
            p.event(Progress::Bytes { file: "k/model.onnx", done: 500, total: Some(1000) });
            assert!(p.current.lock().unwrap().is_none());
        }
        let lines = Printer::new(Style::Lines);
        lines.event(Progress::Bytes { file: "f", done: 10, total: Some(100) });
        lines.event(Progress::Bytes { file: "f", done: 15, total: Some(100) });
        assert_eq!(*lines.last_tenth.lock().unwrap(), Some(("f".to_string(), 1)));
    }
}
