//! Transcription and script alignment over a whole recording: 30 s windows decoded one after the
//! other, word times from the alignment heads, and (with a script) the script's own tokens forced
//! through each window.

use ort::value::DynValue;
use serde::Serialize;

use super::align::{normalise, pair_words, similarity};
use super::decode::{decode_window, needs_fallback, Rng, TEMPERATURES};
use super::mel::{log_mel, FRAMES_PER_SECOND, HOP, SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES};
use super::model::{StepOutput, WhisperModel};
use super::timing::token_times;
use super::window::split_window;
use super::words::{clean_up, merge_punctuation, split_words, time_words, TimedWord};
use crate::engines::error::{EngineError, EngineResult};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Word {
    pub id: String,
    pub text: String,
    pub start: f64,
    pub end: f64,
    /// Mean probability of the word's tokens, 0–1.
    pub confidence: f64,
}

impl From<&Word> for crate::audio::captions::Word {
    /// The caption word, keeping the confidence (Remotion's `confidence`).
    fn from(w: &Word) -> Self {
        Self { id: w.id.clone(), text: w.text.clone(), start: w.start, end: w.end, confidence: Some(w.confidence) }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Segment {
    pub id: usize,
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// A script word that could not be placed in the audio.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Unaligned {
    /// Position in the script (0-based, counting words).
    pub index: usize,
    pub text: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Transcript {
    pub text: String,
    pub language: String,
    pub model: String,
    pub duration_seconds: f64,
    pub words: Vec<Word>,
    pub segments: Vec<Segment>,
    pub unaligned: Vec<Unaligned>,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// ISO code; `None` detects it (multilingual models) or means English.
    pub language: Option<String>,
    /// The text spoken, to align instead of transcribing freely.
    pub script: Option<String>,
    /// The catalog name reported in the result.
    pub model_name: String,
}

/// Windows whose loudest 20 ms has an RMS below this are silence and are not decoded.
const SILENCE_RMS: f32 = 0.003;
/// Forced words whose every token is at least this likely are placed even without a heard
/// counterpart (the least likely token, as the later tokens of a long word are easy guesses).
const PLACE_CONFIDENCE: f64 = 0.3;
/// Most text tokens one forced pass can carry (the text context is 448).
const MAX_FORCED_TOKENS: usize = 440;

/// RMS per 10 ms frame.
fn envelope(samples: &[f32]) -> Vec<f32> {
    samples.chunks(160).map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len().max(1) as f32).sqrt()).collect()
}

/// Word edges that fall in silence move to where the sound starts (or stops): attention places a
/// word after a pause too early, and the first word of a recording at the very start.
fn snap_to_sound(words: &mut [TimedWord], samples: &[f32]) {
    let env = envelope(samples);
    if env.is_empty() {
        return;
    }
    let mut sorted = env.clone();
    sorted.sort_by(f32::total_cmp);
    let loud = sorted[sorted.len() * 95 / 100];
    let threshold = (loud * 0.05).max(SILENCE_RMS);
    let frame = |t: f64| ((t * 100.0).max(0.0) as usize).min(env.len() - 1);
    for w in words.iter_mut() {
        let (a, b) = (frame(w.start), frame(w.end));
        if env[a] >= threshold || b <= a {
            continue;
        }
        if let Some(k) = (a..b).find(|&k| env[k] >= threshold) {
            w.start = (k as f64 / 100.0).min(w.end - super::words::MIN_WORD_SECONDS);
        }
    }
}

fn loudest_rms(samples: &[f32]) -> f32 {
    samples
        .chunks(320)
        .map(|c| (c.iter().map(|s| s * s).sum::<f32>() / c.len().max(1) as f32).sqrt())
        .fold(0.0, f32::max)
}

/// One decoded window, kept for script alignment.
struct Window {
    seek: usize,
    frames: usize,
    hidden: DynValue,
    /// Index range of this window's words in the transcript.
    words: std::ops::Range<usize>,
}

struct Forced {
    /// Token boundary times (n + 1), seconds from the window start.
    times: Vec<f64>,
    probs: Vec<f64>,
}

pub(crate) fn resolve_language(model: &WhisperModel, lang: Option<&str>) -> EngineResult<Option<u32>> {
    let sp = &model.specials;
    let Some(code) = lang.map(|l| l.trim().to_ascii_lowercase()) else { return Ok(None) };
    let code = code.split(['-', '_']).next().unwrap_or_default().to_string();
    if !sp.multilingual {
        if code == "en" {
            return Ok(None);
        }
        return Err(EngineError::new(
            "BAD_LANG",
            format!("This model is English-only; it cannot transcribe `{code}`."),
        )
        .with_hint("Use --model whisper-base for other languages, or --lang en."));
    }
    sp.languages.iter().find(|(c, _)| *c == code).map(|(_, id)| Some(*id)).ok_or_else(|| {
        EngineError::new("BAD_LANG", format!("Unknown language `{code}`."))
            .with_hint("Use an ISO 639-1 code Whisper knows, such as en, de, fr, es, ja or zh.")
    })
}

/// The tokens every window starts with: start of transcript, then (multilingual models) the
/// language (`lang`, else the first) and the transcribe task.
pub(crate) fn prompt(model: &WhisperModel, lang: Option<u32>) -> Vec<u32> {
    let sp = &model.specials;
    let mut p = vec![sp.sot];
    if sp.multilingual {
        p.push(lang.or_else(|| sp.languages.first().map(|l| l.1)).unwrap_or(sp.sot + 1));
        p.extend(sp.transcribe);
    }
    p
}

fn detect_language(model: &WhisperModel, hidden: &DynValue) -> EngineResult<u32> {
    let sp = &model.specials;
    let mut state = model.start()?;
    let out = model.step(hidden, &mut state, &[sp.sot], 1, None)?;
    let best = sp.languages.iter().max_by(|a, b| out.logits[a.1 as usize].total_cmp(&out.logits[b.1 as usize]));
    Ok(best.map_or(sp.sot + 1, |l| l.1))
}

/// Runs `prompt + notimestamps + text + eot` through the decoder at once, returning every
/// position's logits and the cross-attention of `heads` (row `prompt.len()` predicts `text[0]`).
pub(crate) fn forced_pass(
    model: &WhisperModel,
    hidden: &DynValue,
    prompt: &[u32],
    text: &[u32],
    heads: &[[usize; 2]],
) -> EngineResult<StepOutput> {
    let sp = &model.specials;
    let mut ids = prompt.to_vec();
    ids.push(sp.no_timestamps);
    ids.extend_from_slice(text);
    ids.push(sp.eot);
    let mut state = model.start()?;
    model.step(hidden, &mut state, &ids, ids.len(), Some(heads))
}

/// Forces `text` after `prompt` and aligns its tokens to the audio.
fn force(model: &WhisperModel, hidden: &DynValue, prompt: &[u32], text: &[u32], frames: usize) -> EngineResult<Forced> {
    let sp = &model.specials;
    let out = forced_pass(model, hidden, prompt, text, &model.timing_heads)?;
    let att = out.attention.expect("attention was requested");
    let first_row = prompt.len();
    let times = token_times(&att, frames.div_ceil(2), first_row, text.len());
    let eot = sp.eot as usize;
    let probs = text
        .iter()
        .enumerate()
        .map(|(k, &t)| {
            let row = &out.logits[(first_row + k) * out.vocab..(first_row + k) * out.vocab + eot];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let sum: f64 = row.iter().map(|l| f64::from((l - max).exp())).sum();
            row.get(t as usize).map_or(0.0, |l| f64::from((l - max).exp()) / sum)
        })
        .collect();
    Ok(Forced { times, probs })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Transcribes (or, with `opts.script`, aligns) 16 kHz mono audio. `progress(done, total)` gets
/// seconds of audio handled.
pub fn transcribe(
    model: &WhisperModel,
    samples: &[f32],
    opts: &Options,
    progress: &dyn Fn(f64, f64),
) -> EngineResult<Transcript> {
    let duration = samples.len() as f64 / f64::from(SAMPLE_RATE);
    if samples.len() < HOP {
        return Err(EngineError::new("BAD_AUDIO", "The audio is empty (no samples to transcribe).")
            .with_hint("Pass a recording with speech in it (WAV, MP3, FLAC or OGG)."));
    }
    let script_words: Option<Vec<String>> =
        opts.script.as_deref().map(|s| s.split_whitespace().map(str::to_string).collect());
    if script_words.as_ref().is_some_and(|w| w.is_empty()) {
        return Err(EngineError::new("EMPTY_TEXT", "The script is empty.").with_hint("Pass the text that is spoken."));
    }
    let mut lang = resolve_language(model, opts.language.as_deref())?;
    let mut padded = samples.to_vec();
    padded.extend(std::iter::repeat_n(0.0, WINDOW_SAMPLES));
    let mel = log_mel(&padded, model.mels);
    let content_frames = samples.len() / HOP;

    let sp = &model.specials;
    let mut words: Vec<TimedWord> = Vec::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut windows: Vec<Window> = Vec::new();
    let mut rng = Rng::new(0x5eed);
    let mut seek = 0usize;
    while seek < content_frames {
        let frames = WINDOW_FRAMES.min(content_frames - seek);
        progress(seek as f64 / FRAMES_PER_SECOND, duration);
        let audio = &samples[seek * HOP..((seek + frames) * HOP).min(samples.len())];
        if loudest_rms(audio) < SILENCE_RMS {
            seek += frames;
            continue;
        }
        let hidden = model.encode(mel.window(seek))?;
        if sp.multilingual && lang.is_none() {
            lang = Some(detect_language(model, &hidden)?);
        }
        let prompt = prompt(model, lang);
        // Temperature fallback; when every attempt looks degenerate, the likeliest one is kept
        // (repeated text such as a chorus trips the compression check at every temperature).
        let mut decoded = decode_window(model, &hidden, &prompt, TEMPERATURES[0], &mut rng)?;
        for &t in &TEMPERATURES[1..] {
            if !needs_fallback(&decoded) {
                break;
            }
            let next = decode_window(model, &hidden, &prompt, t, &mut rng)?;
            if !needs_fallback(&next) || next.avg_logprob > decoded.avg_logprob {
                decoded = next;
            }
        }
        if decoded.no_speech_prob > 0.6 && decoded.avg_logprob < -1.0 {
            seek += frames;
            continue;
        }
        let split = split_window(&decoded.tokens, sp, seek, frames);
        let text: Vec<u32> = split.segments.iter().flat_map(|s| s.tokens.iter().copied()).collect();
        let first_word = words.len();
        let mut next_seek = split.next_seek;
        if !text.is_empty() {
            let forced = force(model, &hidden, &prompt, &text, frames)?;
            let offset = seek as f64 / FRAMES_PER_SECOND;
            let mut timed = time_words(&split_words(&model.tokenizer, &text), &forced.times, &forced.probs, offset);
            merge_punctuation(&mut timed);
            // A word can not start before the previous window's last word ended.
            let floor = words.last().map_or(0.0, |w| w.end);
            for w in &mut timed {
                w.start = w.start.max(floor);
                w.end = w.end.max(w.start);
            }
            // Segments: consecutive words by token count.
            let mut k = 0;
            let mut wi = 0;
            for s in &split.segments {
                let mut seg_words = Vec::new();
                let end_token = k + s.tokens.len();
                while wi < timed.len() && k < end_token {
                    k += timed[wi].tokens;
                    seg_words.push(wi);
                    wi += 1;
                }
                if let (Some(&a), Some(&b)) = (seg_words.first(), seg_words.last()) {
                    let text: String = seg_words.iter().map(|&i| timed[i].text.as_str()).collect();
                    segments.push(Segment {
                        id: segments.len(),
                        start: timed[a].start,
                        end: timed[b].end,
                        text: text.trim().to_string(),
                    });
                }
            }
            if !split.consumed_all {
                if let Some(last) = timed.last() {
                    let at = (last.end * FRAMES_PER_SECOND).round() as usize;
                    next_seek = at.clamp(seek + 1, next_seek.max(seek + 1));
                }
            }
            words.extend(timed);
        }
        windows.push(Window { seek, frames, hidden, words: first_word..words.len() });
        seek = next_seek.max(seek + 1);
    }
    progress(duration, duration);
    clean_up(&mut words);
    snap_to_sound(&mut words, samples);
    let language = match lang {
        Some(id) => sp.languages.iter().find(|l| l.1 == id).map_or("en".to_string(), |l| l.0.clone()),
        None => "en".to_string(),
    };
    let model_name = opts.model_name.clone();
    let Some(script) = script_words else {
        let text = words.iter().map(|w| w.text.as_str()).collect::<String>().trim().to_string();
        let words = words
            .iter()
            .enumerate()
            .map(|(i, w)| Word {
                id: format!("w{i}"),
                text: w.text.trim().to_string(),
                start: round3(w.start),
                end: round3(w.end),
                confidence: round3(w.probability),
            })
            .collect();
        for s in &mut segments {
            s.start = round3(s.start);
            s.end = round3(s.end);
        }
        return Ok(Transcript {
            text,
            language,
            model: model_name,
            duration_seconds: round3(duration),
            words,
            segments,
            unaligned: Vec::new(),
        });
    };
    align_script(model, &script, &words, &windows, lang, language, model_name, samples)
}

#[allow(clippy::too_many_arguments)]
fn align_script(
    model: &WhisperModel,
    script: &[String],
    heard: &[TimedWord],
    windows: &[Window],
    lang: Option<u32>,
    language: String,
    model_name: String,
    samples: &[f32],
) -> EngineResult<Transcript> {
    let duration = samples.len() as f64 / f64::from(SAMPLE_RATE);
    let norm_script: Vec<String> = script.iter().map(|w| normalise(w)).collect();
    let norm_heard: Vec<String> = heard.iter().map(|w| normalise(&w.text)).collect();
    let pairs = pair_words(&norm_script, &norm_heard);
    let window_of_heard = |j: usize| windows.iter().position(|w| w.words.contains(&j));
    // Each script word's window: its partner's, else the previous word's, else the next one's.
    let mut assigned: Vec<Option<usize>> = pairs.iter().map(|p| p.and_then(window_of_heard)).collect();
    for i in 1..assigned.len() {
        if assigned[i].is_none() {
            assigned[i] = assigned[i - 1];
        }
    }
    for i in (0..assigned.len().saturating_sub(1)).rev() {
        if assigned[i].is_none() {
            assigned[i] = assigned[i + 1];
        }
    }
    let anchor: Vec<bool> =
        pairs.iter().zip(&norm_script).map(|(p, s)| p.is_some_and(|j| similarity(s, &norm_heard[j]) >= 0.6)).collect();
    let prompt = prompt(model, lang);
    let mut placed: Vec<Option<TimedWord>> = vec![None; script.len()];
    let mut unaligned = Vec::new();
    for (wi, window) in windows.iter().enumerate() {
        let members: Vec<usize> = (0..script.len()).filter(|&i| assigned[i] == Some(wi)).collect();
        if members.is_empty() {
            continue;
        }
        let mut text = Vec::new();
        let mut counts = Vec::new();
        let mut fitted = Vec::new();
        for &i in &members {
            let tokens = model.tokenizer.encode(&format!(" {}", script[i]));
            if text.len() + tokens.len() > MAX_FORCED_TOKENS {
                unaligned.push(Unaligned {
                    index: i,
                    text: script[i].clone(),
                    reason: "too much text for one 30 s window".into(),
                });
                continue;
            }
            counts.push((script[i].clone(), tokens.len()));
            text.extend(tokens);
            fitted.push(i);
        }
        let forced = force(model, &window.hidden, &prompt, &text, window.frames)?;
        let offset = window.seek as f64 / FRAMES_PER_SECOND;
        for (timed, &i) in time_words(&counts, &forced.times, &forced.probs, offset).into_iter().zip(&fitted) {
            placed[i] = Some(timed);
        }
    }
    // A word is placed when it was heard (a close spelling), when the model finds it likely here,
    // or when it sits between heard words (a name the transcript spelt differently).
    let near_anchor = |i: usize, dir: isize| {
        (1..=2).any(|d| {
            let k = i as isize + dir * d;
            k >= 0 && (k as usize) < anchor.len() && anchor[k as usize]
        })
    };
    let mut out: Vec<(usize, TimedWord)> = Vec::new();
    for (i, p) in placed.into_iter().enumerate() {
        let Some(w) = p else {
            if !unaligned.iter().any(|u: &Unaligned| u.index == i) {
                let reason = if windows.is_empty() { "no speech found in the audio" } else { "not found in the audio" };
                unaligned.push(Unaligned { index: i, text: script[i].clone(), reason: reason.into() });
            }
            continue;
        };
        let ok =
            anchor[i] || w.least >= PLACE_CONFIDENCE || (pairs[i].is_some() && near_anchor(i, -1) && near_anchor(i, 1));
        if ok {
            out.push((i, w));
        } else {
            unaligned.push(Unaligned {
                index: i,
                text: script[i].clone(),
                reason: format!("not heard in the audio (confidence {:.2})", w.probability),
            });
        }
    }
    unaligned.sort_by_key(|u| u.index);
    let mut timed: Vec<TimedWord> = out.iter().map(|(_, w)| w.clone()).collect();
    clean_up(&mut timed);
    snap_to_sound(&mut timed, samples);
    let words: Vec<Word> = out
        .iter()
        .zip(&timed)
        .map(|((i, _), w)| Word {
            id: format!("w{i}"),
            text: script[*i].clone(),
            start: round3(w.start),
            end: round3(w.end),
            confidence: round3(w.probability),
        })
        .collect();
    let mut segments = Vec::new();
    for (wi, _) in windows.iter().enumerate() {
        let in_window: Vec<&Word> =
            out.iter().zip(&words).filter(|((i, _), _)| assigned[*i] == Some(wi)).map(|(_, w)| w).collect();
        if let (Some(a), Some(b)) = (in_window.first(), in_window.last()) {
            let text = in_window.iter().map(|w| w.text.as_str()).collect::<Vec<_>>().join(" ");
            segments.push(Segment { id: segments.len(), start: a.start, end: b.end, text });
        }
    }
    Ok(Transcript {
        text: script.join(" "),
        language,
        model: model_name,
        duration_seconds: round3(duration),
        words,
        segments,
        unaligned,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::captions::{self, Format, Rules};

    #[test]
    fn heard_words_give_remotion_captions_their_confidence() {
        let heard = [
            Word { id: "w0".into(), text: "Hello,".into(), start: 0.0, end: 0.4, confidence: 0.913 },
            Word { id: "w1".into(), text: "world.".into(), start: 0.5, end: 0.9, confidence: 0.42 },
        ];
        let words: Vec<captions::Word> = heard.iter().map(captions::Word::from).collect();
        assert_eq!(words[1].confidence, Some(0.42));
        let v: serde_json::Value =
            serde_json::from_str(&captions::build(&words, Format::Remotion, &Rules::default())).unwrap();
        let got: Vec<_> = v.as_array().unwrap().iter().map(|c| (c["text"].clone(), c["confidence"].clone())).collect();
        assert_eq!(
            got,
            [
                (serde_json::json!(" Hello,"), serde_json::json!(0.913)),
                (serde_json::json!(" world."), serde_json::json!(0.42))
            ]
        );
    }
}
