//! Loudness as ITU-R BS.1770-4 / EBU R128 measure it: integrated loudness (LUFS), loudness range
//! (LU), the loudest short-term (3 s) window, sample peak and true peak (4× oversampled).
//!
//! The meter is the maintained `ebur128` crate (a port of libebur128, the meter behind ffmpeg's
//! `ebur128` filter); this module feeds it and turns its figures into [`Measures`]. [`normalize`]
//! brings audio to a target loudness with the true-peak [`super::limiter`].

use crate::engines::error::{EngineError, EngineResult};

use super::limiter::{self, Limiter};

/// Named targets people use: streaming and social video, podcasts, EBU broadcast.
pub const PRESETS: &[(&str, f64)] = &[("web", -14.0), ("social", -14.0), ("podcast", -16.0), ("broadcast", -23.0)];

/// The range a target loudness may take.
pub const TARGET_RANGE: std::ops::RangeInclusive<f64> = -70.0..=0.0;

/// How often the short-term loudness is read for its maximum: every 100 ms, as EBU Tech 3341 asks
/// of a meter's refresh.
const SHORT_TERM_STEP_SECONDS: f64 = 0.1;

/// The measures of one piece of audio. Levels that do not exist (the loudness of silence is −∞)
/// are `None`, never NaN or infinite.
#[derive(Debug, Clone, PartialEq)]
pub struct Measures {
    /// Gated integrated loudness in LUFS; `None` for silence (or audio under the −70 LUFS gate).
    pub integrated_lufs: Option<f64>,
    /// Loudness range in LU (0 when there is too little loud audio to have a range).
    pub loudness_range: f64,
    /// The loudest 3-second window in LUFS; `None` for silence.
    pub short_term_max_lufs: Option<f64>,
    /// Largest sample in dBFS; `None` when every sample is 0.
    pub sample_peak_dbfs: Option<f64>,
    /// Largest inter-sample peak (4× oversampled below 96 kHz) in dBTP; `None` when silent.
    pub true_peak_dbtp: Option<f64>,
    pub duration_seconds: f64,
}

impl Measures {
    /// True when the audio has no loudness to measure (integrated loudness is −∞).
    pub fn is_silent(&self) -> bool {
        self.integrated_lufs.is_none()
    }
}

fn meter_error(e: ebur128::Error) -> EngineError {
    EngineError::new("BAD_AUDIO", format!("cannot measure the loudness: {e}"))
}

/// A level in dB, `None` for −∞ (or a NaN the meter should never give).
fn finite(db: f64) -> Option<f64> {
    db.is_finite().then_some(db)
}

/// Linear amplitude to dB, `None` for 0.
pub fn amplitude_db(linear: f64) -> Option<f64> {
    (linear > 0.0).then(|| 20.0 * linear.log10()).and_then(finite)
}

/// dB to linear amplitude.
pub fn db_amplitude(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

/// Measures interleaved `samples` of `channels` channels at `sample_rate`. Channels are weighted
/// as BS.1770 says by position (L, R, C, Ls, Rs; the fourth of six, LFE, is left out; mono counts
/// as one channel, so a full-scale 1 kHz sine reads −3.01 LUFS).
pub fn measure(samples: &[f32], sample_rate: u32, channels: u16) -> EngineResult<Measures> {
    if sample_rate == 0 || channels == 0 {
        return Err(EngineError::new("BAD_AUDIO", "audio needs a positive sample rate and at least one channel"));
    }
    let ch = usize::from(channels);
    let mode = ebur128::Mode::I
        | ebur128::Mode::LRA
        | ebur128::Mode::S
        | ebur128::Mode::TRUE_PEAK
        | ebur128::Mode::SAMPLE_PEAK;
    let mut meter = ebur128::EbuR128::new(u32::from(channels), sample_rate, mode).map_err(meter_error)?;
    let frames = samples.len() / ch;
    let step = ((f64::from(sample_rate) * SHORT_TERM_STEP_SECONDS) as usize).max(1);
    let window = 3 * sample_rate as usize;
    let mut short_term_max = f64::NEG_INFINITY;
    let mut fed = 0;
    while fed < frames {
        let n = step.min(frames - fed);
        meter.add_frames_f32(&samples[fed * ch..(fed + n) * ch]).map_err(meter_error)?;
        fed += n;
        // A window is only read once it is full, or at the end of audio shorter than one.
        if fed >= window || fed == frames {
            short_term_max = short_term_max.max(meter.loudness_shortterm().map_err(meter_error)?);
        }
    }
    let integrated = meter.loudness_global().map_err(meter_error)?;
    let range = meter.loudness_range().map_err(meter_error)?;
    let mut sample_peak = 0f64;
    let mut true_peak = 0f64;
    for c in 0..u32::from(channels) {
        sample_peak = sample_peak.max(meter.sample_peak(c).map_err(meter_error)?);
        true_peak = true_peak.max(meter.true_peak(c).map_err(meter_error)?);
    }
    let integrated_lufs = finite(integrated).filter(|_| frames > 0);
    Ok(Measures {
        integrated_lufs,
        loudness_range: if integrated_lufs.is_some() { finite(range).unwrap_or(0.0) } else { 0.0 },
        short_term_max_lufs: finite(short_term_max).filter(|_| integrated_lufs.is_some()),
        sample_peak_dbfs: amplitude_db(sample_peak),
        // The meter's true peak is never below the sample peak; keep that when it rounds under.
        true_peak_dbtp: amplitude_db(true_peak.max(sample_peak)),
        duration_seconds: frames as f64 / f64::from(sample_rate),
    })
}

/// What [`normalize`] aims for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Target {
    /// Integrated loudness to reach, LUFS.
    pub lufs: f64,
    /// The ceiling for the true peak of the result, dBTP.
    pub true_peak_dbtp: f64,
    /// The largest gain allowed, dB; more is an error.
    pub max_gain_db: f64,
}

impl Default for Target {
    fn default() -> Self {
        Self { lufs: -14.0, true_peak_dbtp: -1.0, max_gain_db: 12.0 }
    }
}

/// A target given as a number of LUFS or a preset name (`web`, `social`, `podcast`, `broadcast`).
pub fn parse_target(text: &str) -> EngineResult<f64> {
    let t = text.trim();
    let lufs = PRESETS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(t))
        .map(|(_, v)| *v)
        .or_else(|| t.trim_end_matches("LUFS").trim_end_matches("lufs").trim().parse::<f64>().ok())
        .ok_or_else(|| {
            EngineError::new("BAD_INPUT", format!("--target must be a loudness in LUFS or a preset, not '{t}'"))
                .with_hint("e.g. --target -14, or web/social (-14), podcast (-16), broadcast (-23)")
        })?;
    check_target(lufs)?;
    Ok(lufs)
}

/// A target outside −70…0 LUFS is refused (nothing is that quiet, and nothing above full scale).
pub fn check_target(lufs: f64) -> EngineResult<()> {
    if !lufs.is_finite() || !TARGET_RANGE.contains(&lufs) {
        return Err(EngineError::new(
            "BAD_INPUT",
            format!("the target loudness must be between -70 and 0 LUFS, not {lufs}"),
        )
        .with_hint("Loudness is negative: -14 for web and social video, -16 for podcasts, -23 for broadcast."));
    }
    Ok(())
}

/// Normalised audio and what was done to it.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalized {
    pub samples: Vec<f32>,
    /// The gain applied before limiting, dB.
    pub gain_db: f64,
    /// The deepest gain reduction of the limiter, dB (0 when it had nothing to do).
    pub limiter_reduction_db: f64,
    /// The measures of the input.
    pub before: Measures,
    /// The measures of the result (of `samples`, as returned).
    pub after: Measures,
}

/// How far under the ceiling the limiter aims, dB. Meters disagree on true peak: ffmpeg's
/// `ebur128` filter upsamples to 192 kHz with its resampler and reads up to 0.3 dB above the 4×
/// BS.1770 interpolator we measure with on drums (bench/loudness.js; on a pure inter-sample-peak
/// sine it reads 0.6 dB above the exact value). 0.3 dB keeps results under the ceiling by both.
const CEILING_MARGIN_DB: f64 = 0.3;
/// Passes of gain-then-limit: the limiter takes loudness off peaky audio, which the next pass
/// gives back (within the gain allowed). Kokoro's speech brought to −14 LUFS needs about 7 dB of
/// limiting and five passes to land within 0.1 LU; three left it 1 LU short.
const PASSES: usize = 8;
/// How close to the target a pass must land to stop, LU.
const CLOSE_ENOUGH_LU: f64 = 0.1;

/// Brings interleaved `samples` to `target`'s integrated loudness with the true-peak limiter.
/// `finish` is applied to each candidate result before it is measured (quantising to the output
/// format, say), so the measures describe exactly what is written. Silence cannot be normalised
/// (`SILENT_AUDIO`); a gain above `max_gain_db` is `GAIN_TOO_LARGE`, with the gain it would need.
pub fn normalize(
    samples: &[f32],
    sample_rate: u32,
    channels: u16,
    target: Target,
    finish: impl Fn(&mut [f32]),
) -> EngineResult<Normalized> {
    check_target(target.lufs)?;
    if !target.true_peak_dbtp.is_finite() || target.true_peak_dbtp > 0.0 {
        return Err(EngineError::new(
            "BAD_INPUT",
            format!("--true-peak must be 0 dBTP or less, not {}", target.true_peak_dbtp),
        ));
    }
    let before = measure(samples, sample_rate, channels)?;
    let Some(loudness) = before.integrated_lufs else {
        return Err(EngineError::new(
            "SILENT_AUDIO",
            "the audio is silent: its loudness is -inf, so no gain reaches a target",
        )
        .with_hint("Check the file has sound in it (its level is under the -70 LUFS gate)."));
    };
    let needed = target.lufs - loudness;
    if needed > target.max_gain_db {
        return Err(EngineError::new(
            "GAIN_TOO_LARGE",
            format!(
                "reaching {} LUFS from {loudness:.1} LUFS needs {needed:+.1} dB of gain, more than the {:+.1} dB allowed",
                target.lufs, target.max_gain_db
            ),
        )
        .with_hint("Raise --max-gain if the noise floor can take it, or choose a lower --target."));
    }
    let mut ceiling = target.true_peak_dbtp - CEILING_MARGIN_DB;
    let mut gain_db = needed;
    let mut best: Option<Normalized> = None;
    for _ in 0..PASSES {
        let gain = db_amplitude(gain_db) as f32;
        let mut out: Vec<f32> = samples.iter().map(|s| s * gain).collect();
        let mut lim =
            Limiter::new(sample_rate, channels, limiter::Settings { ceiling_dbtp: ceiling, ..Default::default() });
        let reduction = lim.process(&mut out);
        finish(&mut out);
        let after = measure(&out, sample_rate, channels)?;
        let over = after.true_peak_dbtp.map_or(0.0, |tp| tp - target.true_peak_dbtp);
        let short = after.integrated_lufs.map_or(0.0, |l| target.lufs - l);
        let done = over <= 0.0 && short.abs() <= CLOSE_ENOUGH_LU;
        let candidate =
            Normalized { samples: out, gain_db, limiter_reduction_db: reduction, before: before.clone(), after };
        if over <= 0.0 || best.is_none() {
            best = Some(candidate);
        }
        if done {
            break;
        }
        if over > 0.0 {
            ceiling -= over + CEILING_MARGIN_DB;
        } else if short > 0.0 && gain_db + short <= target.max_gain_db {
            gain_db += short;
        } else {
            break;
        }
    }
    Ok(best.expect("at least one pass ran"))
}

/// Reads and measures an audio file; returns its measures, rate and channel count.
pub fn measure_file(path: &std::path::Path) -> EngineResult<(Measures, u32, u16)> {
    let audio = super::decode::read_audio_file(path)?;
    Ok((measure(&audio.samples, audio.sample_rate, audio.channels)?, audio.sample_rate, audio.channels))
}

/// Reads `input`, normalises it to `target` and writes a WAV of the same rate and channels,
/// 16-bit, to `output` (through [`crate::fsio`]: nothing is written when anything fails). Returns
/// the result with the input's rate and channel count.
pub fn normalize_file(
    input: &std::path::Path,
    output: &std::path::Path,
    target: Target,
) -> EngineResult<(Normalized, u32, u16)> {
    let audio = super::decode::read_audio_file(input)?;
    let quantise = |s: &mut [f32]| {
        for v in s {
            *v = f32::from(super::wav::to_i16(*v)) / 32767.0;
        }
    };
    let n = normalize(&audio.samples, audio.sample_rate, audio.channels, target, quantise)?;
    super::wav::write_wav_channels(
        output,
        &n.samples,
        audio.sample_rate,
        audio.channels,
        super::wav::SampleFormat::Int16,
    )?;
    Ok((n, audio.sample_rate, audio.channels))
}

#[cfg(test)]
mod tests;
