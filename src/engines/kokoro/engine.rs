//! Text in, 24 kHz audio and exact word timings out: phonemize, chunk (≤ 510 tokens), run each
//! chunk with the voice's style row, and place every word from the model's own durations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::chunk::{self, Chunk};
use super::g2p::{self, Lang, Phonemized};
use super::lexicon::Lexicon;
use super::markup;
use super::model::{self, KokoroModel};
use super::pauses;
use super::timing::{self, TimedWord};
use super::voices::{self, VoicePack};
use crate::audio::{limit, wav};
use crate::engines::catalog::{self, ModelSpec};
use crate::engines::error::{EngineError, EngineResult};

pub const SAMPLE_RATE: u32 = timing::SAMPLE_RATE;
pub const DEFAULT_VOICE: &str = "af_heart";
pub const MAX_SPEED: f32 = 3.0;
/// Seams between chunks are faded over this long so they never click.
pub const SEAM_FADE_MS: f32 = 2.5;
/// Chunks aim at 120 tokens, well under Kokoro's 510-token limit: ONNX Runtime's working memory
/// grows with the chunk's audio length (about 800 MB peak at 400 tokens, under 400 MB at about
/// 120), while its time per token barely changes. A chunk grows past 120 only to reach a sentence
/// or clause end (a run-on sentence with no comma), never past 510.
pub const CHUNK_LIMITS: chunk::Limits = chunk::Limits { soft: 120, min_fill: 40, hard: chunk::MAX_TOKENS };
/// When streaming, the first chunk is short, about 2 s of audio (Kokoro speaks about 14 tokens a
/// second), so audio starts early; it still ends at a sentence or clause end, and at no fewer than
/// 8 tokens (Kokoro reads very short inputs badly). Only the first chunk of a stream: a file gets
/// no seam there.
pub const STREAM_FIRST_LIMITS: chunk::Limits = chunk::Limits { soft: 30, min_fill: 8, hard: chunk::MAX_TOKENS };

#[derive(Debug, Clone, Default)]
pub struct TtsOptions {
    /// A voice id or a blend (`af_sky.4+af_nicole.6`); `None` picks the default voice.
    pub voice: Option<String>,
    pub speed: f32,
    /// `None` follows the voice's language.
    pub lang: Option<Lang>,
    /// Pronunciations for whole words, applied before G2P (inline markup wins).
    pub lexicon: Option<Arc<Lexicon>>,
    /// Someone listens as the chunks come (`--stream`, `ttsStream()`): the first chunk is kept
    /// short ([`STREAM_FIRST_LIMITS`]) so audio starts early.
    pub stream: bool,
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
    /// The whole audio; empty from [`Kokoro::synthesize_streaming`], which hands it out chunk by
    /// chunk only.
    pub samples: Vec<f32>,
    /// How many samples were made (`samples.len()` when they were kept).
    pub sample_count: usize,
    pub words: Vec<TimedWord>,
    /// Speech chunks handed out: one per model call, cut in two where a pause goes inside it.
    pub chunks: usize,
    pub voice: String,
    pub lang: Lang,
    /// Set when the requested voice was not given and the default had to be replaced.
    pub voice_note: Option<String>,
}

impl Synthesis {
    #[cfg(test)]
    pub fn duration_seconds(&self) -> f64 {
        self.sample_count as f64 / SAMPLE_RATE as f64
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

    #[cfg(test)]
    /// Synthesises `text`, handing each chunk to `on_chunk` as soon as it is ready.
    pub fn synthesize(
        &self,
        text: &str,
        opts: &TtsOptions,
        on_chunk: &mut dyn FnMut(&ChunkAudio) -> EngineResult<()>,
    ) -> EngineResult<Synthesis> {
        self.speak(prepare(text, opts)?, opts, on_chunk, true)
    }

    #[cfg(test)]
    /// Like [`Kokoro::synthesize`], but the audio is only handed to `on_chunk`, never gathered:
    /// memory stays flat however long the text (the result's `samples` is empty).
    pub fn synthesize_streaming(
        &self,
        text: &str,
        opts: &TtsOptions,
        on_chunk: &mut dyn FnMut(&ChunkAudio) -> EngineResult<()>,
    ) -> EngineResult<Synthesis> {
        self.speak(prepare(text, opts)?, opts, on_chunk, false)
    }

    /// Speaks a text [`prepare`]d with the same `opts`; `keep_audio: false` streams only.
    pub fn speak(
        &self,
        prepared: Prepared,
        opts: &TtsOptions,
        on_chunk: &mut dyn FnMut(&ChunkAudio) -> EngineResult<()>,
        keep_audio: bool,
    ) -> EngineResult<Synthesis> {
        let (voice, voice_note) = self.pick_voice(opts.voice.as_deref(), opts.lang)?;
        let mut plan = prepared.plan;
        let lang = plan.lang;
        let count = plan.count;
        let fade = wav::samples_for_ms(SAMPLE_RATE, SEAM_FADE_MS);
        let mut sink = Sink { on_chunk, keep_audio, samples: Vec::new(), words: Vec::new(), made: 0 };
        let (mut index, mut chunks, mut next_id) = (0usize, 0usize, 0usize);
        for b in 0..plan.blocks.len() {
            let Some((p, block_chunks)) = plan.take(b)? else {
                // Nothing to say between two breaks: only their silence.
                let n = plan.blocks[b].pauses.iter().map(|q| q.samples).sum();
                if n > 0 {
                    sink.emit(ChunkAudio { index, count, samples: vec![0.0; n], words: Vec::new() })?;
                    index += 1;
                }
                continue;
            };
            let inserts = std::mem::take(&mut plan.blocks[b].inserts);
            for (c, inserts) in block_chunks.iter().zip(inserts) {
                let mut audio = self.run_chunk(c, &voice, opts.speed)?;
                let mut chunk_words = self.time_words(&p, c, &audio, sink.made as u64, &mut next_id)?;
                let limited = limit::limit_speech(&mut audio.samples, SAMPLE_RATE);
                if limited.min_gain < 1.0 {
                    tracing::debug!(peak = limited.peak_before, min_gain = limited.min_gain, "peaks limited");
                }
                // The chunk's speech, cut where pauses go, each pause a piece of silence of its own.
                let tokens = c.tokens.len();
                let mut out = Pieces { sink: &mut sink, index: &mut index, count, fade, shift: 0, spoken: 0 };
                for i in inserts.iter().filter(|i| i.token == 0) {
                    out.silence(i.samples)?;
                }
                let (mut from, start) = (0, out.sink.made - out.shift);
                for i in inserts.iter().filter(|i| i.token > 0 && i.token < tokens) {
                    let at = pauses::sample_at(i.token, tokens, audio.durations.as_deref(), audio.samples.len())?;
                    let at = at.max(from);
                    let cut = chunk_words
                        .iter()
                        .position(|w| (w.start * f64::from(SAMPLE_RATE)).round() as usize >= start + at)
                        .unwrap_or(chunk_words.len());
                    out.speech(audio.samples[from..at].to_vec(), chunk_words.drain(..cut).collect())?;
                    out.silence(i.samples)?;
                    from = at;
                }
                out.speech(audio.samples[from..].to_vec(), std::mem::take(&mut chunk_words))?;
                for i in inserts.iter().filter(|i| i.token >= tokens) {
                    out.silence(i.samples)?;
                }
                chunks += out.spoken;
            }
        }
        let Sink { samples, words, made, .. } = sink;
        Ok(Synthesis { samples, sample_count: made, words, chunks, voice, lang, voice_note })
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

/// A text read (markup, lexicon) and phonemized, ready for the model: see [`prepare`].
pub struct Prepared {
    plan: Plan,
}

impl Prepared {
    /// Whether everything is phonemized already, so the G2P is no longer needed to speak it: a
    /// text of one block is held phonemized, a longer one's blocks wait in a temporary file.
    pub fn is_phonemized(&self) -> bool {
        self.plan.ready.is_some() || self.plan.spill.is_some()
    }
}

/// Reads `text`'s markup, applies the lexicon and phonemizes it, without the model: a one-shot
/// caller can then [`g2p::release`] the G2P before loading the model, so their memory never adds up.
/// The language is `opts.lang`, else the chosen voice's, else English.
pub fn prepare(text: &str, opts: &TtsOptions) -> EngineResult<Prepared> {
    check_speed(opts.speed)?;
    if text.trim().is_empty() {
        return Err(EngineError::new("EMPTY_TEXT", "No text to speak.").with_hint("Pass some text, or a .txt file."));
    }
    let chosen = opts.voice.as_deref().map(str::trim).filter(|v| !v.is_empty());
    let voice_lang = chosen
        .and_then(|v| voices::parse_blend(v).ok())
        .and_then(|terms| terms.first().and_then(|t| Lang::for_voice(&t.voice)));
    let lang = opts.lang.or(voice_lang).unwrap_or(Lang::EnUs);
    Ok(Prepared { plan: Plan::new(text, opts, lang)? })
}

/// Where a synthesis's chunks go: the caller's callback, and the gathered audio and words.
struct Sink<'a> {
    on_chunk: &'a mut dyn FnMut(&ChunkAudio) -> EngineResult<()>,
    keep_audio: bool,
    samples: Vec<f32>,
    words: Vec<TimedWord>,
    /// Samples made so far: where the next chunk starts.
    made: usize,
}

impl Sink<'_> {
    fn emit(&mut self, out: ChunkAudio) -> EngineResult<()> {
        (self.on_chunk)(&out)?;
        self.made += out.samples.len();
        if self.keep_audio {
            self.samples.extend_from_slice(&out.samples);
        }
        self.words.extend(out.words);
        Ok(())
    }
}

/// Hands a chunk's pieces to the sink in order: its speech parts (seams faded, words moved by the
/// silence inserted before them in this synthesis) and the silences of the pauses between them.
struct Pieces<'s, 'a> {
    sink: &'s mut Sink<'a>,
    index: &'s mut usize,
    count: usize,
    fade: usize,
    /// Silence samples inserted before the current speech part, since the chunk's words were timed.
    shift: usize,
    /// Speech parts handed out.
    spoken: usize,
}

impl Pieces<'_, '_> {
    fn speech(&mut self, mut samples: Vec<f32>, mut words: Vec<TimedWord>) -> EngineResult<()> {
        wav::fade_seams(&mut samples, self.fade, *self.index > 0, *self.index + 1 < self.count);
        let shift = self.shift as f64 / f64::from(SAMPLE_RATE);
        for w in &mut words {
            w.start += shift;
            w.end += shift;
        }
        self.spoken += 1;
        self.put(samples, words)
    }

    fn silence(&mut self, samples: usize) -> EngineResult<()> {
        self.shift += samples;
        self.put(vec![0.0; samples], Vec::new())
    }

    fn put(&mut self, samples: Vec<f32>, words: Vec<TimedWord>) -> EngineResult<()> {
        self.sink.emit(ChunkAudio { index: *self.index, count: self.count, samples, words })?;
        *self.index += 1;
        Ok(())
    }
}

/// A passage longer than this (bytes) is phonemized a block at a time, cut at sentence ends, so a
/// long text never sits in memory as phonemes and tokens all at once.
pub const BLOCK_BYTES: usize = 16 * 1024;

/// A block of the text to phonemize and speak, with the pauses of the breaks in it (see
/// [`pauses`]) and, once phonemized, where in its chunks they go.
struct Block {
    passage: markup::Passage,
    pauses: Vec<pauses::Pause>,
    /// Per chunk, the silences to insert.
    inserts: Vec<Vec<pauses::Insert>>,
}

/// The whole synthesis as blocks (the pauses of its breaks placed in their audio), phonemized once, up front (streams report `count`
/// from the first chunk). A text of one block is held as it is; a longer one's blocks go to a
/// temporary file and are read back one at a time as they are spoken, so neither the phonemes nor
/// the G2P (94 MB, which a one-shot caller can then release) stay in memory however long the text.
struct Plan {
    blocks: Vec<Block>,
    lang: Lang,
    count: usize,
    /// The one block's phonemes and chunks, when the text has a single block.
    ready: Option<(usize, Phonemized, Vec<Chunk>)>,
    /// Every block's phonemes and chunks, when the text has several.
    spill: Option<Spill>,
    /// The first block with words gets the short first chunk, when streaming.
    first_speech: Option<usize>,
    stream: bool,
}

/// Phonemized blocks in a temporary file, each as JSON at a recorded place. The file's name is
/// removed as soon as it is open (Rust opens files shareable for deletion on Windows too), so it
/// goes when the handle closes, even after a crash.
struct Spill {
    file: std::fs::File,
    /// Per block: the byte range of its phonemes and chunks, when it has words.
    at: Vec<Option<(u64, u64)>>,
    len: u64,
}

impl Spill {
    fn new(blocks: usize) -> EngineResult<Spill> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let dir = std::env::temp_dir();
        let failed =
            |e: std::io::Error| EngineError::io(format!("cannot write a temporary file in {}", dir.display()), &e);
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = dir.join(format!(".hyperframes-tts-{}-{n}-{nanos:x}.json", std::process::id()));
        let file = std::fs::OpenOptions::new().read(true).write(true).create_new(true).open(&name).map_err(failed)?;
        let _ = std::fs::remove_file(&name);
        Ok(Spill { file, at: vec![None; blocks], len: 0 })
    }

    fn put(&mut self, i: usize, block: &(Phonemized, Vec<Chunk>)) -> EngineResult<()> {
        use std::io::{Seek, SeekFrom, Write};
        let bytes = serde_json::to_vec(block).expect("phonemes serialise");
        let io = |e: std::io::Error| EngineError::io("cannot write the phonemized text to a temporary file", &e);
        self.file.seek(SeekFrom::Start(self.len)).map_err(io)?;
        self.file.write_all(&bytes).map_err(io)?;
        self.at[i] = Some((self.len, bytes.len() as u64));
        self.len += bytes.len() as u64;
        Ok(())
    }

    fn get(&mut self, i: usize) -> EngineResult<Option<(Phonemized, Vec<Chunk>)>> {
        use std::io::{Read, Seek, SeekFrom};
        let Some((start, len)) = self.at[i] else { return Ok(None) };
        let io =
            |e: std::io::Error| EngineError::io("cannot read the phonemized text back from its temporary file", &e);
        let mut bytes = vec![0u8; len as usize];
        self.file.seek(SeekFrom::Start(start)).map_err(io)?;
        self.file.read_exact(&mut bytes).map_err(io)?;
        let block = serde_json::from_slice(&bytes).map_err(|e| io(std::io::Error::other(e)))?;
        Ok(Some(block))
    }
}

/// The number of samples a pause lasts at 24 kHz, rounded to the nearest sample.
pub fn pause_samples(d: std::time::Duration) -> usize {
    (d.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as usize
}

impl Plan {
    /// Reads the markup, applies the lexicon and checks every block phonemizes: every error
    /// (markup, lexicon, G2P) comes out here, before the model runs once.
    fn new(text: &str, opts: &TtsOptions, lang: Lang) -> EngineResult<Plan> {
        let mut script = markup::parse(text)?;
        if let Some(lex) = &opts.lexicon {
            lex.apply(&mut script);
        }
        // The text is spoken as if the breaks were not there; their silence goes into its audio.
        let (passage, all_pauses) = pauses::join(script, pause_samples);
        let mut blocks = Vec::new();
        let mut start = 0;
        for passage in split_blocks(passage, BLOCK_BYTES) {
            let end = start + passage.text.len();
            blocks.push(Block { passage, pauses: Vec::new(), inserts: Vec::new() });
            for q in &all_pauses {
                if q.at >= start && q.at < end {
                    blocks.last_mut().unwrap().pauses.push(pauses::Pause { at: q.at - start, ..*q });
                }
            }
            start = end;
        }
        // Pauses at the very end (and every pause of a text with no characters) go to the last block.
        for q in all_pauses.iter().filter(|q| q.at >= start) {
            if blocks.is_empty() {
                blocks.push(Block { passage: markup::Passage::default(), pauses: Vec::new(), inserts: Vec::new() });
            }
            let at = blocks.last().unwrap().passage.text.len();
            blocks.last_mut().unwrap().pauses.push(pauses::Pause { at, ..*q });
        }
        let spill = if blocks.len() > 1 { Some(Spill::new(blocks.len())?) } else { None };
        let mut plan =
            Plan { blocks, lang, count: 0, ready: None, spill: None, first_speech: None, stream: opts.stream };
        let started = std::time::Instant::now();
        let mut spill = spill;
        for i in 0..plan.blocks.len() {
            match plan.phonemize(i)? {
                Some((p, chunks)) => {
                    let block = &mut plan.blocks[i];
                    block.inserts = pauses::place(&p, &chunks, &block.pauses);
                    plan.count += chunks
                        .iter()
                        .zip(&block.inserts)
                        .map(|(c, i)| pauses::pieces(c.tokens.len(), i))
                        .sum::<usize>();
                    match spill.as_mut() {
                        Some(s) => s.put(i, &(p, chunks))?,
                        None => plan.ready = Some((i, p, chunks)),
                    }
                }
                None => plan.count += usize::from(plan.blocks[i].pauses.iter().any(|q| q.samples > 0)),
            }
        }
        plan.spill = spill;
        tracing::debug!(
            g2p_ms = started.elapsed().as_secs_f64() * 1e3,
            blocks = plan.blocks.len(),
            chunks = plan.count,
            "planned"
        );
        if plan.first_speech.is_none() {
            return Err(EngineError::new("EMPTY_TEXT", "No text to speak: the text has only pauses or punctuation.")
                .with_hint("Put some words around the <break …/> tags."));
        }
        Ok(plan)
    }

    /// Block `i`'s phonemes and chunks; `None` for a block with nothing to say.
    fn phonemize(&mut self, i: usize) -> EngineResult<Option<(Phonemized, Vec<Chunk>)>> {
        let p = &self.blocks[i].passage;
        // Spaces or punctuation alone (between two breaks, say): nothing to say.
        if !p.has_words() && p.pronunciations.is_empty() {
            return Ok(None);
        }
        let phonemized = g2p::phonemize_passage(p, self.lang)?;
        tracing::debug!(lang = self.lang.code(), phonemes = %phonemized.phonemes(), "phonemized");
        let first = *self.first_speech.get_or_insert(i) == i;
        let first_limits = if first && self.stream { STREAM_FIRST_LIMITS } else { CHUNK_LIMITS };
        let chunks = chunk::chunk_with_first(&phonemized, first_limits, CHUNK_LIMITS);
        Ok(Some((phonemized, chunks)))
    }

    /// Block `i`, ready to speak, as [`Plan::new`] phonemized it.
    fn take(&mut self, i: usize) -> EngineResult<Option<(Phonemized, Vec<Chunk>)>> {
        if let Some(s) = self.spill.as_mut() {
            return s.get(i);
        }
        match self.ready.take() {
            Some((at, p, c)) if at == i => Ok(Some((p, c))),
            other => {
                self.ready = other;
                Ok(None)
            }
        }
    }
}

/// Cuts a passage into blocks of at most about `max` bytes, after a sentence end where there is
/// one (else after a space), never inside a word with a given pronunciation.
fn split_blocks(p: markup::Passage, max: usize) -> Vec<markup::Passage> {
    if p.text.len() <= max {
        return vec![p];
    }
    let mut out = Vec::new();
    let mut start = 0;
    while p.text.len() - start > max {
        let window = &p.text[start..g2p::floor_boundary(&p.text, start + max)];
        let mut sentence = window.char_indices().rev().filter(|(k, c)| {
            matches!(c, '.' | '!' | '?' | '…' | '\n') && window[k + c.len_utf8()..].starts_with(char::is_whitespace)
        });
        let cut = sentence
            .next()
            .map(|(k, c)| k + c.len_utf8())
            .or_else(|| window.rfind(char::is_whitespace))
            .filter(|k| *k > 0)
            .map_or(start + window.len(), |k| start + k);
        let cut = p.pronunciations.iter().find(|q| q.start < cut && cut < q.end).map_or(cut, |q| {
            if q.start > start {
                q.start
            } else {
                q.end
            }
        });
        out.push(start..cut);
        start = cut;
    }
    out.push(start..p.text.len());
    out.into_iter()
        .map(|r| markup::Passage {
            text: p.text[r.clone()].to_string(),
            pronunciations: p
                .pronunciations
                .iter()
                .filter(|q| q.start >= r.start && q.end <= r.end)
                .map(|q| markup::Pronunciation { start: q.start - r.start, end: q.end - r.start, ..q.clone() })
                .collect(),
        })
        .collect()
}

struct RawChunk {
    samples: Vec<f32>,
    durations: Option<Vec<f32>>,
}

#[cfg(test)]
mod tests;
