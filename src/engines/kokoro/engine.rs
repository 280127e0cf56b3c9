//! Text in, 24 kHz audio and exact word timings out: phonemize, chunk (≤ 510 tokens), run each
//! chunk with the voice's style row, and place every word from the model's own durations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::chunk::{self, Chunk};
use super::g2p::{self, Lang, Phonemized};
use super::lexicon::Lexicon;
use super::markup::{self, Part};
use super::model::{self, KokoroModel};
use super::timing::{self, TimedWord};
use super::voices::{self, VoicePack};
use crate::audio::wav;
use crate::engines::catalog::{self, ModelSpec};
use crate::engines::error::{EngineError, EngineResult};

pub const SAMPLE_RATE: u32 = timing::SAMPLE_RATE;
pub const DEFAULT_VOICE: &str = "af_heart";
pub const MAX_SPEED: f32 = 3.0;
/// Seams between chunks are faded over this long so they never click.
pub const SEAM_FADE_MS: f32 = 2.5;
/// The first chunk is kept short (about a sentence) so streamed audio starts early.
pub const FIRST_CHUNK_TOKENS: usize = 100;
/// Later chunks stay well under Kokoro's 510-token limit: ONNX Runtime's working memory grows with
/// the chunk's audio length (about 800 MB peak at 400 tokens, under 400 MB at about 120), while its
/// time per token barely changes, and chunks still end at sentence or clause boundaries.
pub const CHUNK_TOKENS: usize = 120;

#[derive(Debug, Clone, Default)]
pub struct TtsOptions {
    /// A voice id or a blend (`af_sky.4+af_nicole.6`); `None` picks the default voice.
    pub voice: Option<String>,
    pub speed: f32,
    /// `None` follows the voice's language.
    pub lang: Option<Lang>,
    /// Pronunciations for whole words, applied before G2P (inline markup wins).
    pub lexicon: Option<Arc<Lexicon>>,
}

/// One chunk of audio, ready as soon as it is synthesised (seams already faded).
#[derive(Debug, Clone)]
pub struct ChunkAudio {
    pub index: usize,
    pub count: usize,
    pub samples: Vec<f32>,
    pub words: Vec<TimedWord>,
}

#[derive(Debug, Clone)]
pub struct Synthesis {
    pub samples: Vec<f32>,
    pub words: Vec<TimedWord>,
    pub chunks: usize,
    pub voice: String,
    pub lang: Lang,
    /// Set when the requested voice was not given and the default had to be replaced.
    pub voice_note: Option<String>,
    /// True when the model gave no durations and timings were estimated.
    pub approximate: bool,
}

impl Synthesis {
    pub fn duration_seconds(&self) -> f64 {
        self.samples.len() as f64 / SAMPLE_RATE as f64
    }
}

/// Parses the `--speed` flag, with the same error code as an out-of-range number.
pub fn parse_speed(text: &str) -> EngineResult<f32> {
    let speed = text.trim().parse::<f32>().unwrap_or(f32::NAN);
    check_speed(speed).map_err(|mut e| {
        e.message = format!("--speed must be a number greater than 0 and at most {MAX_SPEED} (got {text}).");
        e
    })?;
    Ok(speed)
}

pub fn check_speed(speed: f32) -> EngineResult<()> {
    if !(speed.is_finite() && speed > 0.0 && speed <= MAX_SPEED) {
        return Err(EngineError::new(
            "BAD_SPEED",
            format!("Speed must be a number greater than 0 and at most {MAX_SPEED} (got {speed})."),
        )
        .with_hint("1.0 is normal speed; 1.5 is half again as fast."));
    }
    Ok(())
}

/// Every installed voice pack, searched in order.
pub struct Voices {
    packs: Vec<VoicePack>,
}

impl Voices {
    pub fn open(paths: &[PathBuf]) -> EngineResult<Voices> {
        let packs = paths.iter().map(|p| VoicePack::open(p)).collect::<EngineResult<Vec<_>>>()?;
        if packs.is_empty() {
            return Err(EngineError::new("MODEL_MISSING", "No Kokoro voice pack is installed.")
                .with_hint(format!("Run `{}`.", catalog::install_command("kokoro"))));
        }
        Ok(Voices { packs })
    }

    pub fn names(&self) -> Vec<String> {
        let mut all: Vec<String> = self.packs.iter().flat_map(VoicePack::names).collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn contains(&self, name: &str) -> bool {
        self.packs.iter().any(|p| p.contains(name))
    }

    fn unknown(&self, missing: &[String]) -> EngineError {
        let names = self.names();
        let listed = if names.len() > 12 {
            format!("{}, … ({} in all)", names[..12].join(", "), names.len())
        } else {
            names.join(", ")
        };
        EngineError::new(
            "UNKNOWN_VOICE",
            format!("Voice {} is not installed. Installed voices: {listed}.", missing.join(", ")),
        )
        .with_hint(format!(
            "See `hyperframes tts --list`; `{}` installs the full voice pack.",
            catalog::install_command("kokoro")
        ))
    }

    /// The style vector for a voice or blend, whichever packs its voices live in.
    pub fn style(&self, spec: &str, n_tokens: usize) -> EngineResult<[f32; voices::STYLE_DIM]> {
        if let Some(pack) = self.packs.iter().find(|p| p.contains(spec.trim())) {
            return pack.style(spec, n_tokens);
        }
        let terms = voices::parse_blend(spec)?;
        let missing: Vec<String> = terms.iter().filter(|t| !self.contains(&t.voice)).map(|t| t.voice.clone()).collect();
        if !missing.is_empty() {
            return Err(self.unknown(&missing));
        }
        let mut chosen = Vec::with_capacity(terms.len());
        for t in &terms {
            let pack = self.packs.iter().find(|p| p.contains(&t.voice)).expect("checked above");
            chosen.push((t.voice.clone(), pack.voice(&t.voice)?.to_vec()));
        }
        VoicePack::from_voices(chosen)?.style(spec, n_tokens)
    }

    /// Checks a voice or blend exists without computing anything.
    pub fn check(&self, spec: &str) -> EngineResult<()> {
        self.style(spec, 1).map(|_| ())
    }
}

pub struct Kokoro {
    model: Arc<KokoroModel>,
    voices: Voices,
}

/// Folder (next to the model) for individual voice files, `<name>.npy` or raw `<name>.bin`.
pub const SINGLE_VOICES_DIR: &str = "voices";

/// The model file and the installed voice packs of a catalog entry under `dir`: the NPZ packs
/// present, then a folder of individual voice files if there is one.
pub fn installed_files(dir: &Path, spec: &ModelSpec) -> (PathBuf, Vec<PathBuf>) {
    let model = spec.files.iter().find(|f| !f.optional).expect("a Kokoro spec has a model file").path_in(dir);
    let mut packs: Vec<PathBuf> = spec
        .files
        .iter()
        .filter(|f| spec.at_least_one_of.contains(&f.path))
        .map(|f| f.path_in(dir))
        .filter(|p| p.is_file())
        .collect();
    let singles = model.with_file_name(SINGLE_VOICES_DIR);
    let has_voice_files = std::fs::read_dir(&singles).is_ok_and(|mut entries| {
        entries.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "npy" || x == "bin")))
    });
    if has_voice_files {
        packs.push(singles);
    }
    (model, packs)
}

impl Kokoro {
    pub fn open(model_path: &Path, voice_packs: &[PathBuf]) -> EngineResult<Kokoro> {
        let voices = Voices::open(voice_packs)?;
        let model = model::shared(model_path)?;
        Ok(Kokoro { model, voices })
    }

    pub fn voices(&self) -> &Voices {
        &self.voices
    }

    /// The voice to use, and a note when the default had to be replaced.
    fn pick_voice(&self, requested: Option<&str>, lang: Option<Lang>) -> EngineResult<(String, Option<String>)> {
        if let Some(v) = requested.map(str::trim).filter(|v| !v.is_empty()) {
            self.voices.check(v)?;
            return Ok((v.to_string(), None));
        }
        let wanted = lang.unwrap_or(Lang::EnUs);
        if self.voices.contains(DEFAULT_VOICE) && wanted == Lang::EnUs {
            return Ok((DEFAULT_VOICE.to_string(), None));
        }
        let names = self.voices.names();
        let same_lang = names.iter().find(|n| Lang::for_voice(n) == Some(wanted));
        let chosen = same_lang.or(names.first()).expect("Voices::open refuses an empty set").clone();
        let note = (wanted == Lang::EnUs || same_lang.is_none())
            .then(|| format!("{DEFAULT_VOICE} is not installed; using {chosen}."));
        Ok((chosen, note))
    }

    /// Synthesises `text`, handing each chunk to `on_chunk` as soon as it is ready.
    pub fn synthesize(
        &self,
        text: &str,
        opts: &TtsOptions,
        on_chunk: &mut dyn FnMut(&ChunkAudio) -> EngineResult<()>,
    ) -> EngineResult<Synthesis> {
        check_speed(opts.speed)?;
        if text.trim().is_empty() {
            return Err(
                EngineError::new("EMPTY_TEXT", "No text to speak.").with_hint("Pass some text, or a .txt file.")
            );
        }
        let (voice, voice_note) = self.pick_voice(opts.voice.as_deref(), opts.lang)?;
        // The language follows a voice the user chose; a stand-in for the default voice keeps the
        // default's language (English) rather than reading English text as, say, Japanese.
        let chosen = opts.voice.is_some().then(|| voices::parse_blend(&voice).ok()).flatten();
        let voice_lang = chosen.and_then(|t| t.first().and_then(|t| Lang::for_voice(&t.voice)));
        let lang = opts.lang.or(voice_lang).unwrap_or(Lang::EnUs);
        let steps = plan(text, opts, lang)?;
        let count = steps.steps.len();
        let fade = wav::samples_for_ms(SAMPLE_RATE, SEAM_FADE_MS);
        let (mut samples, mut words) = (Vec::new(), Vec::new());
        let mut next_id = 0usize;
        for (index, step) in steps.steps.iter().enumerate() {
            let out = match step {
                Step::Speak { passage, chunk: c } => {
                    let mut audio = self.run_chunk(c, &voice, opts.speed)?;
                    let p = &steps.passages[*passage];
                    let chunk_words = self.time_words(p, c, &audio, samples.len() as u64, &mut next_id)?;
                    wav::fade_seams(&mut audio.samples, fade, index > 0, index + 1 < count);
                    ChunkAudio { index, count, samples: audio.samples, words: chunk_words }
                }
                Step::Silence(n) => ChunkAudio { index, count, samples: vec![0.0; *n], words: Vec::new() },
            };
            on_chunk(&out)?;
            samples.extend_from_slice(&out.samples);
            words.extend(out.words);
        }
        let chunks = steps.steps.iter().filter(|s| matches!(s, Step::Speak { .. })).count();
        Ok(Synthesis { samples, words, chunks, voice, lang, voice_note, approximate: !self.model.has_durations() })
    }

    fn run_chunk(&self, c: &Chunk, voice: &str, speed: f32) -> EngineResult<RawChunk> {
        let style = self.voices.style(voice, c.tokens.len())?;
        let mut padded = Vec::with_capacity(c.tokens.len() + 2);
        padded.push(super::vocab::PAD);
        padded.extend_from_slice(&c.tokens);
        padded.push(super::vocab::PAD);
        let started = std::time::Instant::now();
        let out = self.model.infer(&padded, &style, speed)?;
        tracing::debug!(
            ort_ms = started.elapsed().as_secs_f64() * 1e3,
            tokens = c.tokens.len(),
            frames = out.durations.as_ref().map(|d| d.iter().sum::<f32>()),
            samples = out.audio.len(),
            "chunk synthesised"
        );
        Ok(RawChunk { samples: out.audio, durations: out.durations })
    }

    fn time_words(
        &self,
        p: &Phonemized,
        c: &Chunk,
        audio: &RawChunk,
        offset: u64,
        next_id: &mut usize,
    ) -> EngineResult<Vec<TimedWord>> {
        match &audio.durations {
            Some(d) => {
                let expected = timing::total_samples(d)?;
                if expected != audio.samples.len() as u64 {
                    tracing::debug!(expected, actual = audio.samples.len(), "durations and audio length differ");
                }
                timing::words_from_durations(p, c, d, offset, next_id)
            }
            None => Ok(timing::approximate_words(p, c, audio.samples.len(), offset, next_id)),
        }
    }
}

/// What a synthesis does, in order: model calls and exact silences.
enum Step {
    Speak {
        passage: usize,
        chunk: Chunk,
    },
    /// This many samples of silence (a `<break>`).
    Silence(usize),
}

struct Plan {
    passages: Vec<Phonemized>,
    steps: Vec<Step>,
}

/// The number of samples a pause lasts at 24 kHz, rounded to the nearest sample.
pub fn pause_samples(d: std::time::Duration) -> usize {
    (d.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as usize
}

/// Reads the markup, applies the lexicon and phonemizes each passage: the whole synthesis as a list
/// of steps. Every error (markup, lexicon, G2P) comes out here, before the model runs once.
fn plan(text: &str, opts: &TtsOptions, lang: Lang) -> EngineResult<Plan> {
    let mut script = markup::parse(text)?;
    if let Some(lex) = &opts.lexicon {
        lex.apply(&mut script);
    }
    let started = std::time::Instant::now();
    let mut plan = Plan { passages: Vec::new(), steps: Vec::new() };
    for part in &script.parts {
        match part {
            Part::Pause(d) => plan.steps.push(Step::Silence(pause_samples(*d))),
            // Spaces or punctuation alone between two breaks: nothing to say.
            Part::Speech(p) if !p.has_words() && p.pronunciations.is_empty() => {}
            Part::Speech(p) => {
                let phonemized = g2p::phonemize_passage(p, lang)?;
                tracing::debug!(lang = lang.code(), phonemes = %phonemized.phonemes(), "phonemized");
                let first_max = if plan.passages.is_empty() { FIRST_CHUNK_TOKENS } else { CHUNK_TOKENS };
                let passage = plan.passages.len();
                for c in chunk::chunk_with_first(&phonemized, first_max, CHUNK_TOKENS) {
                    plan.steps.push(Step::Speak { passage, chunk: c });
                }
                plan.passages.push(phonemized);
            }
        }
    }
    tracing::debug!(g2p_ms = started.elapsed().as_secs_f64() * 1e3, "planned");
    if plan.passages.is_empty() {
        return Err(EngineError::new("EMPTY_TEXT", "No text to speak: the text has only pauses or punctuation.")
            .with_hint("Put some words around the <break …/> tags."));
    }
    Ok(plan)
}

struct RawChunk {
    samples: Vec<f32>,
    durations: Option<Vec<f32>>,
}

#[cfg(test)]
mod tests;
