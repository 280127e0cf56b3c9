//! Tempo, beats and downbeats of music: an onset envelope ([`onset`]), its tempo ([`tempo`]) and
//! the beats tracked through it by dynamic programming ([`track`]), the method of librosa's
//! `beat_track` (Ellis 2007) in-process and in a fraction of its time.

pub mod onset;
pub mod tempo;
pub mod track;

use crate::audio::decode::Decoded;

/// One beat: its time in seconds and its strength (0–1, the loudest beat's onset being 1).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beat {
    pub time: f64,
    pub strength: f64,
}

/// What [`analyse`] finds.
#[derive(Debug, Clone, PartialEq)]
pub struct Analysis {
    /// The tempo, BPM; `None` when no beat was found (silence, or no pulse).
    pub bpm: Option<f64>,
    pub beats: Vec<Beat>,
    /// The times of the first beats of bars (4/4), where the bars stand out; else empty.
    pub downbeats: Vec<f64>,
    pub duration_seconds: f64,
}

/// Beats per bar looked for.
const BAR: usize = 4;
/// How much more the strongest bar position must hit than the others' mean to count as the downbeat.
const DOWNBEAT_MARGIN: f64 = 1.2;

/// Analyses `audio` (any rate and channel count; channels are averaged).
pub fn analyse(audio: &Decoded) -> Analysis {
    let mono = audio.to_mono();
    let duration_seconds = audio.duration_seconds();
    let none = Analysis { bpm: None, beats: Vec::new(), downbeats: Vec::new(), duration_seconds };
    if audio.sample_rate == 0 || mono.is_empty() {
        return none;
    }
    let onsets = onset::onset_strength(&mono, audio.sample_rate);
    let Some(first_bpm) = tempo::estimate(&onsets.strength, onsets.frame_rate) else { return none };
    let period = onsets.frame_rate * 60.0 / first_bpm;
    let frames = track::track(&onsets.strength, period);
    if frames.len() < 2 {
        return none;
    }
    let peak_near = |env: &[f32], f: usize| -> f64 {
        let (a, b) = (f.saturating_sub(2), (f + 3).min(env.len()));
        f64::from(env[a..b].iter().copied().fold(0f32, f32::max))
    };
    let strengths: Vec<f64> = frames.iter().map(|&f| peak_near(&onsets.strength, f)).collect();
    let loudest = strengths.iter().copied().fold(0f64, f64::max).max(f64::MIN_POSITIVE);
    let times: Vec<f64> = frames.iter().map(|&f| f as f64 / onsets.frame_rate).collect();
    let beats: Vec<Beat> = times
        .iter()
        .zip(&strengths)
        .map(|(&time, &s)| Beat { time: round_ms(time), strength: (s / loudest * 1000.0).round() / 1000.0 })
        .collect();
    let bpm = fitted_bpm(&times).unwrap_or(first_bpm);
    let downbeats = downbeats(&frames, &onsets.low).into_iter().map(|i| beats[i].time).collect();
    Analysis { bpm: Some((bpm * 100.0).round() / 100.0), beats, downbeats, duration_seconds }
}

/// Reads and analyses an audio file.
pub fn analyse_file(path: &std::path::Path) -> crate::engines::error::EngineResult<Analysis> {
    Ok(analyse(&crate::audio::decode::read_audio_file(path)?))
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

/// The tempo of a steady beat: the slope of beat time against beat number (least squares), which
/// is finer than the frame grid the beats sit on.
fn fitted_bpm(times: &[f64]) -> Option<f64> {
    if times.len() < 4 {
        return None;
    }
    let n = times.len() as f64;
    let mean_i = (n - 1.0) / 2.0;
    let mean_t = times.iter().sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (i, t) in times.iter().enumerate() {
        num += (i as f64 - mean_i) * (t - mean_t);
        den += (i as f64 - mean_i).powi(2);
    }
    let slope = num / den;
    (slope > 0.0).then(|| 60.0 / slope)
}

/// Indices of the beats that start bars: the bar position whose beats hit hardest in the low
/// bands (kick and bass: their power in the 60 ms from the beat), when it stands out by
/// [`DOWNBEAT_MARGIN`].
fn downbeats(frames: &[usize], low: &[f32]) -> Vec<usize> {
    if frames.len() < 2 * BAR {
        return Vec::new();
    }
    let hit = |f: usize| {
        let (a, b) = (f.saturating_sub(1).min(low.len()), (f + 6).min(low.len()));
        f64::from(low[a..b].iter().copied().fold(0f32, f32::max))
    };
    let mut sums = [0f64; BAR];
    let mut counts = [0usize; BAR];
    for (i, &f) in frames.iter().enumerate() {
        sums[i % BAR] += hit(f);
        counts[i % BAR] += 1;
    }
    let means: Vec<f64> = sums.iter().zip(counts).map(|(s, c)| s / c.max(1) as f64).collect();
    let (phase, best) = means.iter().copied().enumerate().max_by(|a, b| a.1.total_cmp(&b.1)).expect("BAR > 0");
    let others = (means.iter().sum::<f64>() - best) / (BAR - 1) as f64;
    if best <= 0.0 || best < DOWNBEAT_MARGIN * others {
        return Vec::new();
    }
    (phase..frames.len()).step_by(BAR).collect()
}

#[cfg(test)]
mod tests;
