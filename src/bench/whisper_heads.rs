//! `cargo bench --features bench --bench whisper_heads -- MODEL_DIR CALIBRATION_DIR [CHECK_DIR]`:
//! chooses the cross-attention heads that time words best (see `engines::whisper::heads`).
//!
//! Each folder holds passages as `<id>.wav`, `<id>.txt` (the script) and `<id>.words.json` (the
//! exact words Kokoro wrote with `tts --words`); `bench/whisper-heads.js` voices them. Every
//! passage is aligned to its script once, keeping every head's attention; then heads are added one
//! at a time, each time the one that most lowers the mean word-start error on the calibration
//! passages, until one gains less than 0.5 ms. The published heads and the chosen set are then
//! scored on both folders; the check folder takes no part in the choice.

use std::path::{Path, PathBuf};

use crate::audio::{decode, resample};
use crate::engines::whisper::engine::{forced_pass, prompt, resolve_language};
use crate::engines::whisper::mel::{log_mel, HOP, SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES};
use crate::engines::whisper::model::WhisperModel;
use crate::engines::whisper::timing::{token_times, HeadAttention};

/// Stop adding heads when the mean error improves by less than this (ms).
const MIN_GAIN_MS: f64 = 0.5;

/// One passage aligned to its script, with every head's attention.
struct Passage {
    id: String,
    /// `[layer, head]` order: `layers × heads` blocks of `tokens × frames`.
    attention: HeadAttention,
    first_row: usize,
    audio_frames: usize,
    /// Tokens per script word.
    counts: Vec<usize>,
    truth: Vec<f64>,
}

#[derive(serde::Deserialize)]
struct TruthWord {
    start: f64,
}

fn passages(model: &WhisperModel, dir: &Path) -> Vec<Passage> {
    let mut ids: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".words.json").map(str::to_string))
        .collect();
    ids.sort();
    let all: Vec<[usize; 2]> = (0..model.layers).flat_map(|l| (0..model.heads).map(move |h| [l, h])).collect();
    let english = resolve_language(model, Some("en")).expect("every Whisper model speaks English");
    let prompt = prompt(model, english);
    let mut out = Vec::new();
    for id in ids {
        let file = |ext: &str| dir.join(format!("{id}{ext}"));
        let bytes = std::fs::read(file(".wav")).expect("read the passage's WAV");
        let samples = resample::to_mono_resampled(
            &decode::decode_bytes(&bytes, Some("wav"), decode::limits::TRANSCRIPTION).unwrap(),
            SAMPLE_RATE,
        );
        if samples.len() > WINDOW_SAMPLES {
            eprintln!("{id}: skipped, longer than one 30 s window");
            continue;
        }
        let script = std::fs::read_to_string(file(".txt")).unwrap();
        let truth: Vec<TruthWord> = serde_json::from_slice(&std::fs::read(file(".words.json")).unwrap()).unwrap();
        let words: Vec<&str> = script.split_whitespace().collect();
        if words.len() != truth.len() {
            eprintln!("{id}: skipped, {} script words but {} timed words", words.len(), truth.len());
            continue;
        }
        let tokens: Vec<Vec<u32>> = words.iter().map(|w| model.tokenizer.encode(&format!(" {w}"))).collect();
        let mut padded = samples.clone();
        padded.extend(std::iter::repeat_n(0.0, WINDOW_SAMPLES));
        let hidden = model.encode(log_mel(&padded, model.mels).window(0)).expect("encode");
        let step = forced_pass(model, &hidden, &prompt, &tokens.concat(), &all).expect("forced pass");
        out.push(Passage {
            id,
            attention: step.attention.expect("attention was requested"),
            first_row: prompt.len(),
            audio_frames: (samples.len() / HOP).min(WINDOW_FRAMES).div_ceil(2),
            counts: tokens.iter().map(Vec::len).collect(),
            truth: truth.iter().map(|w| w.start).collect(),
        });
    }
    out
}

/// Signed word-start errors (ms) of one passage timed by `heads` (indices into its attention).
fn errors(p: &Passage, heads: &[usize]) -> Vec<f64> {
    let block = p.attention.tokens * p.attention.frames;
    let data = heads.iter().flat_map(|&h| p.attention.data[h * block..(h + 1) * block].iter().copied()).collect();
    let att = HeadAttention { heads: heads.len(), tokens: p.attention.tokens, frames: p.attention.frames, data };
    let tokens: usize = p.counts.iter().sum();
    let times = token_times(&att, p.audio_frames, p.first_row, tokens);
    let mut k = 0;
    p.counts
        .iter()
        .zip(&p.truth)
        .map(|(n, truth)| {
            let e = (times[k] - truth) * 1000.0;
            k += n;
            e
        })
        .collect()
}

struct Score {
    mean: f64,
    median: f64,
    p90: f64,
    bias: f64,
}

fn score(passages: &[Passage], heads: &[usize]) -> Score {
    let signed: Vec<f64> = passages.iter().flat_map(|p| errors(p, heads)).collect();
    let mut abs: Vec<f64> = signed.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let mut s = signed.clone();
    s.sort_by(f64::total_cmp);
    let at = |v: &[f64], q: f64| v.get(((v.len() as f64 * q) as usize).min(v.len().saturating_sub(1))).copied();
    Score {
        mean: abs.iter().sum::<f64>() / abs.len().max(1) as f64,
        median: at(&abs, 0.5).unwrap_or(f64::NAN),
        p90: at(&abs, 0.9).unwrap_or(f64::NAN),
        bias: at(&s, 0.5).unwrap_or(f64::NAN),
    }
}

fn line(label: &str, s: &Score) -> String {
    format!("{label:<12} mean {:>4.0}  median {:>4.0}  p90 {:>4.0}  bias {:>+4.0} ms", s.mean, s.median, s.p90, s.bias)
}

pub fn run() {
    let args: Vec<PathBuf> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).map(PathBuf::from).collect();
    let [model_dir, calibration, rest @ ..] = args.as_slice() else {
        eprintln!("usage: cargo bench --features bench --bench whisper_heads -- MODEL_DIR CALIBRATION_DIR [CHECK_DIR]");
        std::process::exit(2);
    };
    let model = WhisperModel::load(model_dir).unwrap_or_else(|e| panic!("{}: {}", model_dir.display(), e.message));
    let index = |[l, h]: [usize; 2]| l * model.heads + h;
    let cal = passages(&model, calibration);
    let check = rest.first().map(|d| passages(&model, d)).unwrap_or_default();
    let words = |ps: &[Passage]| ps.iter().map(|p| p.truth.len()).sum::<usize>();
    println!(
        "{}: {} calibration passages ({} words), {} check passages ({} words)",
        model_dir.display(),
        cal.len(),
        words(&cal),
        check.len(),
        words(&check)
    );
    println!("  calibration: {}", cal.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join(" "));

    let published: Vec<usize> = model.published_heads.iter().map(|&h| index(h)).collect();
    let mut chosen: Vec<usize> = Vec::new();
    let mut best = f64::INFINITY;
    loop {
        let candidate = (0..model.layers * model.heads)
            .filter(|h| !chosen.contains(h))
            .map(|h| {
                let mut set = chosen.clone();
                set.push(h);
                (h, score(&cal, &set).mean)
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((h, mean)) = candidate.filter(|&(_, mean)| mean < best - MIN_GAIN_MS) else { break };
        chosen.push(h);
        best = mean;
        println!("  + head [{}, {}]: calibration mean {mean:.1} ms", h / model.heads, h % model.heads);
    }
    let named =
        |set: &[usize]| format!("{:?}", set.iter().map(|h| [h / model.heads, h % model.heads]).collect::<Vec<_>>());
    println!("\npublished {}\nchosen    {}\nin use    {:?}\n", named(&published), named(&chosen), model.timing_heads);
    for (name, ps) in [("calibration", &cal), ("check", &check)] {
        if ps.is_empty() {
            continue;
        }
        println!("{name}:");
        println!("  {}", line("published", &score(ps, &published)));
        println!("  {}", line("chosen", &score(ps, &chosen)));
    }
}
