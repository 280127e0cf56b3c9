//! `hyperframes beats`: tempo, beats and downbeats of a music file, optionally written as a beats
//! file in HyperFrames' shape.

use std::path::{Path, PathBuf};

use clap::Args;

use super::fail;
use crate::engines::error::EngineError;
use crate::output::Output;
use crate::report::BeatsResult;

#[derive(Args, Debug)]
pub(crate) struct BeatsArgs {
    /// A music file (WAV, MP3, FLAC, Ogg Vorbis).
    file: PathBuf,
    /// Write the beats file here (`{version, audio, bpm, beats: [{time, strength}], downbeats}`).
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

/// Analyses `file` and writes the beats file to `output` when given.
fn beats_of(file: &Path, output: Option<&Path>) -> Result<BeatsResult, EngineError> {
    let analysis = crate::audio::beats::analyse_file(file)?;
    let result = BeatsResult::new(&file.display().to_string(), &analysis, output.map(|p| p.display().to_string()));
    if let Some(path) = output {
        crate::fsio::write_bytes(path, result.file_text().as_bytes())?;
    }
    Ok(result)
}

pub(super) fn run(args: BeatsArgs, out: &Output) -> i32 {
    let result = match beats_of(&args.file, args.output.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(out, args.json, &e),
    };
    if args.json {
        out.success(&result);
        return 0;
    }
    let summary = match result.bpm.0 {
        Some(bpm) => format!(
            "{}: {bpm:.1} BPM, {} beats, {} downbeats ({:.2} s)",
            result.audio,
            result.beats.len(),
            result.downbeats.len(),
            result.duration_seconds
        ),
        None => format!("{}: no beat found ({:.2} s)", result.audio, result.duration_seconds),
    };
    out.out(&summary);
    if let Some(path) = &result.output_path.0 {
        out.out(&format!("{} {path}", out.green("✓")));
    }
    0
}
