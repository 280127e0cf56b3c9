//! `hyperframes music`: background music from the HeyGen library, Lyria, or the local MusicGen
//! engine, fitted to a length.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use clap::Args;
use serde_json::json;

use super::fail;
use super::routing::{print_anomalies, RoutingArgs};
use crate::chains::music::{self, Generation, MusicRequest, DEFAULT_SECONDS};
use crate::output::Output;

#[derive(Args, Debug)]
pub(crate) struct MusicArgs {
    /// A mood to search the library for, or a prompt to generate from.
    prompt: String,
    /// Length of the track in seconds (looped or trimmed to fit).
    #[arg(long, default_value_t = DEFAULT_SECONDS, allow_negative_numbers = true)]
    seconds: f64,
    /// Output WAV file.
    #[arg(short, long, visible_alias = "out", default_value = "bgm.wav")]
    output: PathBuf,
    /// Sampling seed for the local MusicGen engine (the same seed and prompt give the same music;
    /// random when unset, and printed).
    #[arg(long)]
    seed: Option<u64>,
    #[command(flatten)]
    routing: RoutingArgs,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Style {
    Bar,
    Lines,
    Json,
}

/// MusicGen's decoder steps on stderr: a bar on a terminal, a line per 10% otherwise, JSON lines
/// with `--json`.
struct StepPrinter {
    style: Style,
    last_tenth: Mutex<Option<usize>>,
    /// The terminal's bar (`Bar` style), made at the first step.
    bar: std::sync::OnceLock<indicatif::ProgressBar>,
}

impl StepPrinter {
    fn new(style: Style) -> Self {
        Self { style, last_tenth: Mutex::new(None), bar: std::sync::OnceLock::new() }
    }

    /// The line to print for a step (`Lines` and `Json` styles).
    fn line(&self, step: usize, steps: usize) -> Option<String> {
        let steps = steps.max(1);
        let pct = step * 100 / steps;
        let tenth = pct / 10;
        let mut last = self.last_tenth.lock().unwrap_or_else(|e| e.into_inner());
        if *last == Some(tenth) {
            return None;
        }
        *last = Some(tenth);
        Some(match self.style {
            Style::Json => {
                format!("{}\n", json!({"event": "generating", "provider": "musicgen", "step": step, "steps": steps}))
            }
            _ => format!("  musicgen: {pct}% (step {step} / {steps})\n"),
        })
    }

    fn step(&self, step: usize, steps: usize) {
        if self.style == Style::Bar {
            let bar = self.bar.get_or_init(|| {
                let _ = writeln!(std::io::stderr(), "Generating music with MusicGen");
                super::progress::steps_bar(steps as u64, "step")
            });
            bar.set_position(step as u64);
            if step >= steps {
                super::progress::finish(bar);
            }
            return;
        }
        if let Some(text) = self.line(step, steps) {
            let mut e = std::io::stderr().lock();
            let _ = e.write_all(text.as_bytes());
            let _ = e.flush();
        }
    }
}

pub(super) async fn run(args: MusicArgs, out: &Output) -> i32 {
    let out = &if crate::fsio::is_stdout(&args.output) { out.results_on_stderr() } else { *out };
    let req = MusicRequest {
        prompt: args.prompt.clone(),
        seconds: args.seconds,
        output: args.output.clone(),
        routing: args.routing.routing(),
    };
    let style = if args.json {
        Style::Json
    } else if std::io::stderr().is_terminal() {
        Style::Bar
    } else {
        Style::Lines
    };
    let printer = Arc::new(StepPrinter::new(style));
    let generation = Generation { seed: args.seed, progress: Some(Arc::new(move |i, n| printer.step(i, n))) };
    match music::music_generating(&req, &generation).await {
        Ok(r) => {
            if args.json {
                out.success(&crate::report::MusicResult::from(r));
            } else {
                print_anomalies(out, &r.anomalies);
                if let Some(note) = music::license_note(r.provider) {
                    out.err(&out.err_dim(&format!("note: {note}")));
                }
                let title = r.title.as_ref().map(|t| format!(": {t}")).unwrap_or_default();
                let seed = r.seed.map(|s| format!(", seed {s}")).unwrap_or_default();
                out.out(&format!(
                    "{} {} ({:.1}s, {}{title}{seed})",
                    out.green("✓"),
                    r.path.display(),
                    r.duration,
                    r.provider
                ));
            }
            0
        }
        Err(e) => fail(out, args.json, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn musicgen_progress_lines_every_tenth_and_a_bar_on_terminals() {
        let lines = StepPrinter::new(Style::Lines);
        let printed: Vec<String> = (1..=503).filter_map(|i| lines.line(i, 503)).collect();
        assert_eq!(printed.len(), 11, "0%, 10%, …, 100%: {printed:?}");
        assert_eq!(printed[0], "  musicgen: 0% (step 1 / 503)\n");
        assert_eq!(printed[10], "  musicgen: 100% (step 503 / 503)\n");
        let json = StepPrinter::new(Style::Json);
        let first: serde_json::Value = serde_json::from_str(json.line(1, 10).unwrap().trim()).unwrap();
        assert_eq!(first["step"], 1);
        assert_eq!(first["steps"], 10);
        let bar = StepPrinter::new(Style::Bar);
        bar.step(1, 4);
        let drawn = bar.bar.get().expect("a bar at the first step");
        assert_eq!((drawn.position(), drawn.length()), (1, Some(4)));
        bar.step(4, 4);
        assert!(drawn.is_finished());
    }

    #[test]
    fn musicgen_cli_provider_musicgen_writes_the_track() {
        let _lock = crate::test_support::env_lock();
        let models = tempfile::tempdir().unwrap();
        let spec = crate::engines::musicgen::service::spec().unwrap();
        let tiny = crate::engines::testing::musicgen_graphs::TINY;
        crate::engines::testing::musicgen_graphs::write_model_dir(&spec.dir_in(models.path()), tiny);
        let config = tempfile::tempdir().unwrap();
        let _env = crate::test_support::EnvGuard::set(&[
            ("HYPERFRAMES_MODELS_DIR", models.path().to_str()),
            ("HEYGEN_CONFIG_DIR", config.path().to_str()),
            ("HEYGEN_API_KEY", None),
            ("HYPERFRAMES_API_KEY", None),
        ]);
        let out = config.path().join("bgm.wav");
        let argv = |seed: &str| -> Vec<String> {
            let out = out.to_str().unwrap();
            ["hyperframes", "music", "calm piano", "--provider", "musicgen", "--seconds", "3", "--seed", seed]
                .iter()
                .map(|s| s.to_string())
                .chain(["-o".into(), out.into(), "--json".into()])
                .collect()
        };
        let ctx = || crate::cli::CliContext {
            tty: Some(crate::environment::Tty { stdin: false, stdout: false, stderr: false }),
            ..Default::default()
        };
        if crate::engines::runtime::locate().is_err() {
            crate::test_support::skip::<()>("no ONNX Runtime on this machine");
            return;
        }
        assert_eq!(crate::cli::run(argv("5"), ctx()), 0);
        let (first, rate, ch) = crate::audio::wav::read_wav(&out).unwrap();
        assert_eq!((rate, ch, first.len()), (32_000, 1, 96_000));
        assert_eq!(crate::cli::run(argv("5"), ctx()), 0);
        assert_eq!(crate::audio::wav::read_wav(&out).unwrap().0, first, "--seed makes it repeatable");
        assert_eq!(crate::cli::run(argv("6"), ctx()), 0);
        assert_ne!(crate::audio::wav::read_wav(&out).unwrap().0, first);
    }
}
