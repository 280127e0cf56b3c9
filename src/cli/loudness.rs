//! `hyperframes loudness`: measure files (EBU R128 / BS.1770-4), or normalise one to a target.

use std::path::PathBuf;

use clap::Args;

use super::fail;
use crate::audio::loudness::{self, Target};
use crate::engines::error::EngineError;
use crate::output::Output;
use crate::report::{LoudnessList, LoudnessMeasures, NormalizeResult};

#[derive(Args, Debug)]
#[command(after_help = "Presets for --target: web and social -14, podcast -16, broadcast -23 (LUFS).")]
pub(crate) struct LoudnessArgs {
    /// Audio files (WAV, MP3, FLAC, Ogg Vorbis), at any rate and channel count.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Normalise to this integrated loudness: LUFS (-70 to 0) or a preset name. Needs -o and one FILE.
    #[arg(long, value_name = "LUFS", allow_hyphen_values = true)]
    target: Option<String>,
    /// Where to write the normalised audio (16-bit WAV at the input's rate and channels).
    #[arg(short, long, value_name = "OUT")]
    output: Option<PathBuf>,
    /// The highest true peak of the normalised audio, dBTP.
    #[arg(long, value_name = "DBTP", default_value_t = -1.0, allow_hyphen_values = true)]
    true_peak: f64,
    /// The largest gain normalising may apply, dB; needing more is an error and writes nothing.
    #[arg(long, value_name = "DB", default_value_t = 12.0, allow_hyphen_values = true)]
    max_gain: f64,
    #[arg(long)]
    json: bool,
}

fn usage(message: &str) -> EngineError {
    EngineError::new("USAGE", message.to_string()).with_hint("See `hyperframes loudness --help`.")
}

/// The measures of one file as reported.
fn measure_file(path: &std::path::Path) -> Result<LoudnessMeasures, EngineError> {
    let (m, rate, channels) = loudness::measure_file(path)?;
    Ok(LoudnessMeasures::new(&path.display().to_string(), &m, rate, channels))
}

/// Normalises `input` into `output` and reports it.
fn normalize_file(
    input: &std::path::Path,
    output: &std::path::Path,
    target: Target,
) -> Result<NormalizeResult, EngineError> {
    let (n, rate, channels) = loudness::normalize_file(input, output, target)?;
    Ok(NormalizeResult::new(&input.display().to_string(), &output.display().to_string(), target, &n, rate, channels))
}

fn db(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "-inf".to_string(), |v| format!("{v:.1} {unit}"))
}

fn line(m: &LoudnessMeasures) -> String {
    let Some(i) = m.integrated_lufs.0 else {
        let what = if m.duration_seconds == 0.0 { "empty" } else { "silent" };
        return format!("{}: {what} ({:.2} s)", m.path, m.duration_seconds);
    };
    format!(
        "{}: {i:.1} LUFS, range {:.1} LU, short-term max {}, true peak {}, sample peak {} ({:.2} s)",
        m.path,
        m.loudness_range,
        db(m.short_term_max_lufs.0, "LUFS"),
        db(m.true_peak_dbtp.0, "dBTP"),
        db(m.sample_peak_dbfs.0, "dBFS"),
        m.duration_seconds
    )
}

pub(super) fn run(args: LoudnessArgs, out: &Output) -> i32 {
    match (&args.target, &args.output) {
        (Some(target), Some(output)) => {
            let result = (|| {
                if args.files.len() != 1 {
                    return Err(usage("--target normalises one file at a time"));
                }
                let lufs = loudness::parse_target(target)?;
                let target = Target { lufs, true_peak_dbtp: args.true_peak, max_gain_db: args.max_gain };
                normalize_file(&args.files[0], output, target)
            })();
            match result {
                Err(e) => fail(out, args.json, &e),
                Ok(r) if args.json => {
                    out.success(&r);
                    0
                }
                Ok(r) => {
                    out.out(&format!(
                        "{} {} ({:+.1} dB, limiter {:.1} dB)",
                        out.green("✓"),
                        r.output_path,
                        r.gain_db,
                        r.limiter_reduction_db
                    ));
                    out.out(&format!("  before  {}", line(&r.input)));
                    out.out(&format!("  after   {}", line(&r.output)));
                    0
                }
            }
        }
        (Some(_), None) => fail(out, args.json, &usage("--target needs -o OUT: where to write the normalised audio")),
        (None, Some(_)) => fail(out, args.json, &usage("-o is for normalising: give --target LUFS too")),
        (None, None) => {
            let mut files = Vec::with_capacity(args.files.len());
            for path in &args.files {
                match measure_file(path) {
                    Ok(m) => files.push(m),
                    Err(e) => return fail(out, args.json, &e),
                }
            }
            if args.json {
                out.success(&LoudnessList { files });
            } else {
                for m in &files {
                    out.out(&line(m));
                }
            }
            0
        }
    }
}
