//! Download progress: a bar on a terminal, a line per 10% otherwise, JSON lines with `--json`.
//! Always on stderr, so stdout stays clean for results.

use std::io::Write;
use std::sync::Mutex;

use crate::engines::install::Progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bar,
    Lines,
    Json,
}

pub struct Printer {
    style: Style,
    last_tenth: Mutex<Option<(String, u64)>>,
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1_000_000.0)
}

impl Printer {
    pub fn new(style: Style) -> Self {
        Self { style, last_tenth: Mutex::new(None) }
    }

    fn write(&self, text: &str) {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(crate::auth::scrub::scrub(text).as_bytes());
        let _ = e.flush();
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
                self.write(&format!("Downloading {file}{size}{resume}\n"));
            }
            Progress::Copying { file, total } => self.write(&format!("Copying {file} ({})\n", mb(total))),
            Progress::Bytes { file, done, total } => {
                let Some(total) = total.filter(|t| *t > 0) else { return };
                let pct = (done * 100 / total).min(100);
                match self.style {
                    Style::Bar => {
                        let filled = (pct / 4) as usize;
                        self.write(&format!(
                            "\r  [{}{}] {pct:>3}%  {} / {}",
                            "#".repeat(filled),
                            ".".repeat(25 - filled),
                            mb(done),
                            mb(total)
                        ));
                    }
                    _ => {
                        let tenth = pct / 10;
                        let mut last = self.last_tenth.lock().unwrap_or_else(|e| e.into_inner());
                        if last.as_ref().is_none_or(|(f, t)| f != file || *t != tenth) {
                            *last = Some((file.to_string(), tenth));
                            self.write(&format!("  {file}: {pct}% ({} / {})\n", mb(done), mb(total)));
                        }
                    }
                }
            }
            Progress::Verifying { file } => {
                let lead = if self.style == Style::Bar { "\n" } else { "" };
                self.write(&format!("{lead}  verifying {file} (sha256)\n"));
            }
            Progress::Done { file } => self.write(&format!("  ✓ {file}\n")),
            Progress::Skipped { file, reason } => self.write(&format!("  - {file}: {}\n", reason.describe())),
            Progress::Waiting { file, host, seconds } => {
                let lead = if self.style == Style::Bar { "\n" } else { "" };
                self.write(&format!("{lead}  waiting for {host}… ({file}: no data for {seconds}s)\n"));
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
