//! WAV output (16-bit PCM or 32-bit float; mono unless a channel count is given), WAV input, and helpers to join and measure audio.

use std::fs::File;
use std::io::{BufWriter, Cursor, Seek, Write};
use std::path::{Path, PathBuf};

use crate::engines::error::{EngineError, EngineResult};

/// Sample encoding of a written WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SampleFormat {
    /// 16-bit PCM: what most tools expect. Samples are clamped to [-1, 1].
    #[default]
    Int16,
    /// 32-bit IEEE float: lossless, values outside [-1, 1] kept.
    Float32,
}

#[cfg(test)]
/// Fade length at chunk boundaries used by the voice engine: 2.5 ms at 24 kHz.
pub const DEFAULT_FADE_SAMPLES: usize = 60;

fn spec(sample_rate: u32, channels: u16, format: SampleFormat) -> hound::WavSpec {
    let (bits_per_sample, sample_format) = match format {
        SampleFormat::Int16 => (16, hound::SampleFormat::Int),
        SampleFormat::Float32 => (32, hound::SampleFormat::Float),
    };
    hound::WavSpec { channels, sample_rate, bits_per_sample, sample_format }
}

/// Float sample to 16-bit: clamped to [-1, 1], scaled by 32767 and rounded; NaN becomes 0.
pub fn to_i16(s: f32) -> i16 {
    if s.is_nan() {
        return 0;
    }
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

fn write_samples<W: Write + Seek>(
    writer: &mut hound::WavWriter<W>,
    samples: &[f32],
    format: SampleFormat,
) -> hound::Result<()> {
    match format {
        SampleFormat::Int16 => {
            let mut i16_writer = writer.get_i16_writer(samples.len() as u32);
            for &s in samples {
                i16_writer.write_sample(to_i16(s));
            }
            i16_writer.flush()
        }
        SampleFormat::Float32 => {
            for &s in samples {
                writer.write_sample(if s.is_finite() { s } else { 0.0 })?;
            }
            Ok(())
        }
    }
}

fn encode<W: Write + Seek>(
    w: W,
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
    format: SampleFormat,
) -> hound::Result<()> {
    let mut writer = hound::WavWriter::new(w, spec(sample_rate, channels, format))?;
    write_samples(&mut writer, samples, format)?;
    writer.finalize()
}

fn check_rate(sample_rate: u32) -> EngineResult<()> {
    if sample_rate == 0 {
        return Err(EngineError::new("BAD_AUDIO", "sample rate must be positive"));
    }
    Ok(())
}

fn check_channels(channels: u16) -> EngineResult<()> {
    if channels == 0 {
        return Err(EngineError::new("BAD_AUDIO", "a WAV file needs at least one channel"));
    }
    Ok(())
}

fn check_count(count: usize, format: SampleFormat) -> EngineResult<()> {
    let bytes_per = match format {
        SampleFormat::Int16 => 2u64,
        SampleFormat::Float32 => 4,
    };
    // WAV sizes are 32-bit; leave room for the headers.
    if count as u64 * bytes_per > u64::from(u32::MAX) - 1024 {
        return Err(EngineError::new("BAD_AUDIO", format!("{count} samples are too many for one WAV file")));
    }
    Ok(())
}

/// Writes mono `samples` as a WAV file to `path` by the rules of [`crate::fsio`] (atomic for
/// files, streamed for FIFOs, devices and `-`). Non-finite samples are written as 0.
pub fn write_wav(path: &Path, samples: &[f32], sample_rate: u32, format: SampleFormat) -> EngineResult<()> {
    write_wav_channels(path, samples, sample_rate, 1, format)
}

/// [`write_wav`] for interleaved samples of `channels` channels (`[l0, r0, l1, r1, …]`).
pub fn write_wav_channels(
    path: &Path,
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
    format: SampleFormat,
) -> EngineResult<()> {
    check_channels(channels)?;
    match crate::fsio::destination(path)? {
        crate::fsio::Destination::File(_) => {
            let mut out = WavOut::create_channels(path, sample_rate, channels, format)?;
            out.push(samples, sample_rate)?;
            out.finish()
        }
        _ => crate::fsio::write_bytes(path, &wav_bytes_channels(samples, sample_rate, channels, format)?),
    }
}

/// A mono WAV written as its samples come (speech, chunk by chunk), so the whole audio need never
/// be held or encoded in memory. A regular file is written beside its path and takes its place
/// only at [`WavOut::finish`]; dropped before that, it leaves nothing (see [`crate::fsio::Staged`]).
/// A FIFO, a device or stdout cannot be seeked back to for the header's sizes, so their samples are
/// gathered and written whole at the end.
pub struct WavOut {
    shown: PathBuf,
    sample_rate: u32,
    channels: u16,
    format: SampleFormat,
    /// Samples taken so far.
    count: usize,
    to: WavTo,
}

enum WavTo {
    File { writer: hound::WavWriter<BufWriter<File>>, staged: crate::fsio::Staged },
    Gathered(Vec<f32>),
}

impl WavOut {
    /// Starts the WAV for `path` (a file, a link to one, a FIFO, a device or `-`), creating a new
    /// file's parent folders.
    pub fn create(path: &Path, sample_rate: u32, format: SampleFormat) -> EngineResult<WavOut> {
        Self::create_channels(path, sample_rate, 1, format)
    }

    /// [`WavOut::create`] for interleaved audio of `channels` channels.
    pub fn create_channels(path: &Path, sample_rate: u32, channels: u16, format: SampleFormat) -> EngineResult<WavOut> {
        check_rate(sample_rate)?;
        check_channels(channels)?;
        let failed = |e: std::io::Error| EngineError::io(format!("cannot write {}", path.display()), &e);
        let to = match crate::fsio::destination(path)? {
            crate::fsio::Destination::File(target) => {
                if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| EngineError::io(format!("cannot create directory {}", parent.display()), &e))?;
                }
                let staged = crate::fsio::Staged::create(&target, crate::fsio::Mode::Keep).map_err(failed)?;
                let file = staged.file().try_clone().map_err(failed)?;
                let writer = hound::WavWriter::new(BufWriter::new(file), spec(sample_rate, channels, format))
                    .map_err(|e| hound_error(path, e))?;
                WavTo::File { writer, staged }
            }
            _ => WavTo::Gathered(Vec::new()),
        };
        Ok(WavOut { shown: path.to_path_buf(), sample_rate, channels, format, count: 0, to })
    }

    /// Appends `samples`, which must be at the rate the file was started with.
    pub fn push(&mut self, samples: &[f32], sample_rate: u32) -> EngineResult<()> {
        if sample_rate != self.sample_rate {
            return Err(EngineError::new(
                "BAD_AUDIO",
                format!("audio at {sample_rate} Hz cannot join {} at {} Hz", self.shown.display(), self.sample_rate),
            ));
        }
        let total = self.count + samples.len();
        check_count(total, self.format)?;
        match &mut self.to {
            WavTo::Gathered(all) => all.extend_from_slice(samples),
            WavTo::File { writer, .. } => {
                write_samples(writer, samples, self.format).map_err(|e| hound_error(&self.shown, e))?
            }
        }
        self.count = total;
        Ok(())
    }

    /// Completes the header and puts the file in place (or writes the gathered samples).
    pub fn finish(self) -> EngineResult<()> {
        match self.to {
            WavTo::Gathered(all) => crate::fsio::write_bytes(
                &self.shown,
                &wav_bytes_channels(&all, self.sample_rate, self.channels, self.format)?,
            ),
            WavTo::File { writer, staged } => {
                writer.finalize().map_err(|e| hound_error(&self.shown, e))?;
                staged.commit().map_err(|e| EngineError::io(format!("cannot write {}", self.shown.display()), &e))
            }
        }
    }
}

fn hound_error(path: &Path, e: hound::Error) -> EngineError {
    match e {
        hound::Error::IoError(io) => EngineError::io(format!("cannot write {}", path.display()), &io),
        other => EngineError::new("BAD_AUDIO", format!("cannot encode {}: {other}", path.display())),
    }
}

#[cfg(test)]
/// The bytes of a mono WAV file holding `samples` (e.g. for a JS `Buffer`).
///
/// # Panics
/// When the data exceeds WAV's 4 GiB limit (over a billion samples) or `sample_rate` is 0; use
/// [`try_wav_bytes`] where those can come from user input.
pub fn wav_bytes(samples: &[f32], sample_rate: u32, format: SampleFormat) -> Vec<u8> {
    try_wav_bytes(samples, sample_rate, format).unwrap_or_else(|e| panic!("wav_bytes: {e}"))
}

/// [`wav_bytes`] that reports a zero sample rate or oversize data as `BAD_AUDIO` instead of panicking.
pub fn try_wav_bytes(samples: &[f32], sample_rate: u32, format: SampleFormat) -> EngineResult<Vec<u8>> {
    wav_bytes_channels(samples, sample_rate, 1, format)
}

/// [`try_wav_bytes`] for interleaved samples of `channels` channels.
pub fn wav_bytes_channels(
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
    format: SampleFormat,
) -> EngineResult<Vec<u8>> {
    check_rate(sample_rate)?;
    check_channels(channels)?;
    check_count(samples.len(), format)?;
    let header = 80;
    let per = if format == SampleFormat::Int16 { 2 } else { 4 };
    let mut cursor = Cursor::new(Vec::with_capacity(header + samples.len() * per));
    encode(&mut cursor, samples, sample_rate, channels, format)
        .map_err(|e| EngineError::new("BAD_AUDIO", format!("cannot encode WAV: {e}")))?;
    Ok(cursor.into_inner())
}

/// Encodes a file in memory with `fill` (WAV encoders need to seek back to the header, which a
/// FIFO or stdout cannot), then writes it to `path` by the rules of [`crate::fsio`].
pub(crate) fn write_encoded<F>(path: &Path, fill: F) -> EngineResult<()>
where
    F: FnOnce(&mut Cursor<Vec<u8>>) -> std::io::Result<()>,
{
    let mut cursor = Cursor::new(Vec::new());
    fill(&mut cursor).map_err(|e| EngineError::io(format!("cannot write {}", path.display()), &e))?;
    crate::fsio::write_bytes(path, &cursor.into_inner())
}

#[cfg(test)]
/// Reads a WAV file as interleaved float samples in [-1, 1], with its sample rate and channel count.
/// Integer PCM of 8 to 32 bits and 32-bit float are supported.
pub fn read_wav(path: &Path) -> EngineResult<(Vec<f32>, u32, u16)> {
    let file = File::open(path).map_err(|e| EngineError::io(format!("cannot open {}", path.display()), &e))?;
    let reader = hound::WavReader::new(std::io::BufReader::new(file)).map_err(|e| wav_error(path, e))?;
    let spec = reader.spec();
    let samples = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            reader.into_samples::<f32>().collect::<Result<Vec<_>, _>>().map_err(|e| wav_error(path, e))?
        }
        (hound::SampleFormat::Int, bits @ 1..=32) => {
            let scale = 1.0 / (1u64 << (bits - 1)) as f64;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|v| (f64::from(v) * scale) as f32))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| wav_error(path, e))?
        }
        (kind, bits) => {
            return Err(EngineError::new(
                "BAD_AUDIO",
                format!("{}: unsupported WAV sample format {kind:?} with {bits} bits", path.display()),
            ))
        }
    };
    Ok((samples, spec.sample_rate, spec.channels))
}

#[cfg(test)]
fn wav_error(path: &Path, e: hound::Error) -> EngineError {
    match e {
        // hound reports a short read as `Other` ("Failed to read enough bytes").
        hound::Error::IoError(io)
            if matches!(io.kind(), std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other) =>
        {
            EngineError::new("BAD_AUDIO", format!("{} is truncated or malformed: {io}", path.display()))
        }
        hound::Error::IoError(io) => EngineError::io(format!("cannot read {}", path.display()), &io),
        other => EngineError::new("BAD_AUDIO", format!("{} is not a readable WAV file: {other}", path.display())),
    }
}

/// Raised-cosine gain rising from near 0 to near 1 over `len` samples (sampled at half steps, so
/// the fade-out is its mirror image and neither ends exactly on 0 or 1).
fn fade_in_gain(i: usize, len: usize) -> f32 {
    let x = (i as f64 + 0.5) / len as f64;
    (0.5 * (1.0 - (std::f64::consts::PI * x).cos())) as f32
}

/// Fades one chunk's edges in place over up to `fade_samples` (never more than half the chunk):
/// the start when it follows another chunk, the end when another chunk follows. Streaming applies
/// this chunk by chunk; [`join_chunks`] applies it to all of them.
pub fn fade_seams(chunk: &mut [f32], fade_samples: usize, follows: bool, followed: bool) {
    let len = chunk.len();
    let fade = fade_samples.min(len / 2);
    for i in 0..fade {
        let g = fade_in_gain(i, fade);
        if follows {
            chunk[i] *= g;
        }
        if followed {
            chunk[len - 1 - i] *= g;
        }
    }
}

/// Concatenates chunks, fading each internal boundary out and in over up to `fade_samples` on
/// either side (never more than half a chunk) so the seams do not click. Fades are applied in
/// place: the result has exactly as many samples as all chunks together, so timings computed per
/// chunk stay valid. The outer start and end are left untouched; empty chunks are skipped.
pub fn join_chunks(chunks: &[Vec<f32>], fade_samples: usize) -> Vec<f32> {
    let total = chunks.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(total);
    let non_empty: Vec<&Vec<f32>> = chunks.iter().filter(|c| !c.is_empty()).collect();
    let last = non_empty.len().saturating_sub(1);
    for (k, chunk) in non_empty.iter().enumerate() {
        let start = out.len();
        out.extend_from_slice(chunk);
        fade_seams(&mut out[start..], fade_samples, k > 0, k < last);
    }
    debug_assert_eq!(out.len(), total);
    out
}

/// Number of samples in `ms` milliseconds at `sample_rate` (rounded).
pub fn samples_for_ms(sample_rate: u32, ms: f32) -> usize {
    (f64::from(sample_rate) * f64::from(ms.max(0.0)) / 1000.0).round() as usize
}

/// Largest absolute sample (0 for no samples; NaN ignored).
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0.0f32, |m, s| m.max(s.abs()))
}

#[cfg(test)]
/// Root mean square (0 for no samples).
pub fn rms(samples: &[f32]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt() as f32
}

#[cfg(test)]
mod tests;
