//! Decoding what providers send back (MP3 from presigned URLs, WAV, raw 16-bit PCM, OGG/Vorbis,
//! FLAC) into interleaved `f32` samples, entirely in-process (pure-Rust `symphonia`, no ffmpeg).

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use symphonia::core::audio::GenericAudioBufferRef;
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::engines::error::{EngineError, EngineResult};

/// Sample rate Lyria RealTime streams at (16-bit little-endian PCM, stereo).
pub const LYRIA_SAMPLE_RATE: u32 = 48_000;
/// Channel count of Lyria RealTime's PCM.
pub const LYRIA_CHANNELS: u16 = 2;

/// Refuse to hold more than this many decoded samples (2 GiB of `f32`; over 3 hours of 48 kHz
/// mono), whatever the use's [`Limit`]: a stream claiming a huge sample rate must not make us
/// allocate without bound either.
const MAX_SAMPLES: usize = 1 << 29;

/// The code of audio longer than its use can need.
pub const TOO_LONG: &str = "AUDIO_TOO_LONG";

/// How much decoded audio a use can need. Decoding stops with [`TOO_LONG`] as soon as more
/// arrives: a 160 KB FLAC of silence can really hold hours of samples, and headers can claim
/// anything, so nothing is allocated for a claimed length and buffers grow only as samples decode.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limit {
    /// What the audio is for, as messages name it ("a transcription").
    pub what: &'static str,
    pub max_seconds: f64,
}

impl Limit {
    pub const fn new(what: &'static str, max_seconds: f64) -> Self {
        Self { what, max_seconds }
    }

    fn max_frames(&self, rate: u32) -> u64 {
        (self.max_seconds * f64::from(rate)).ceil() as u64
    }
}

/// The limits of this crate's uses of decoded audio.
pub mod limits {
    use super::Limit;

    /// Audio to transcribe (`transcribe`, `transcribe()`): three hours.
    pub const TRANSCRIPTION: Limit = Limit::new("a transcription", 3.0 * 3600.0);
    /// A recorded narration line of `media build`: half an hour.
    pub const RECORDED_LINE: Limit = Limit::new("a recorded narration line", 30.0 * 60.0);
    /// A music bed from a provider: one hour.
    pub const MUSIC: Limit = Limit::new("a music bed", 3600.0);
    /// A file measured or beat-tracked (`loudness`, `beats`): two hours, channels kept.
    pub const ANALYSIS: Limit = Limit::new("a loudness or beat analysis", 2.0 * 3600.0);
    /// A sound effect from a provider: ten minutes.
    pub const SOUND_EFFECT: Limit = Limit::new("a sound effect", 600.0);
    /// The most a provider's speech clip may last, however long its text.
    pub const SPEECH_CLIP_CEILING: f64 = 15.0 * 60.0;

    /// A provider's speech clip for `text`: slow speech is about 8 characters a second, so
    /// 0.25 s a character (half that pace) plus 30 s for pauses, at most [`SPEECH_CLIP_CEILING`].
    pub fn speech_clip(text: &str) -> Limit {
        let seconds = 30.0 + 0.25 * text.chars().count() as f64;
        Limit::new("a speech clip", seconds.min(SPEECH_CLIP_CEILING))
    }
}

fn too_long(limit: &Limit) -> EngineError {
    let minutes = limit.max_seconds / 60.0;
    let shown = if minutes >= 60.0 { format!("{:.1} hours", minutes / 60.0) } else { format!("{minutes:.1} minutes") };
    EngineError::new(TOO_LONG, format!("the audio is longer than {} can need: decoding stopped at {shown}", limit.what))
        .with_hint(format!("Give audio of at most {shown} (cut a longer recording into parts)."))
}

/// Decoded audio: interleaved `f32` samples (nominally in [-1, 1]) with their rate and layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// Interleaved by frame: `[l0, r0, l1, r1, …]` for stereo.
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    pub channels: u16,
}

impl Decoded {
    /// Number of frames (samples per channel).
    pub fn frames(&self) -> usize {
        if self.channels == 0 {
            0
        } else {
            self.samples.len() / usize::from(self.channels)
        }
    }

    /// Exact duration: frames / sample rate (0 for a zero rate).
    pub fn duration_seconds(&self) -> f64 {
        if self.sample_rate == 0 {
            return 0.0;
        }
        self.frames() as f64 / f64::from(self.sample_rate)
    }

    /// The channels averaged into one (a copy when already mono).
    pub fn to_mono(&self) -> Vec<f32> {
        let ch = usize::from(self.channels.max(1));
        if ch == 1 {
            return self.samples.clone();
        }
        let scale = 1.0 / ch as f32;
        self.samples.chunks_exact(ch).map(|frame| frame.iter().sum::<f32>() * scale).collect()
    }
}

fn bad_audio(message: impl Into<String>) -> EngineError {
    EngineError::new("BAD_AUDIO", message)
}

/// What a caller's hint says about the data.
#[derive(Debug, PartialEq)]
enum HintKind {
    /// Headerless 16-bit little-endian PCM with this rate and channel count.
    RawPcm(u32, u16),
    /// A container/codec symphonia can probe; the strings are an extension and/or a MIME type.
    Container { extension: Option<String>, mime: Option<String> },
}

/// Reads a hint such as `"mp3"`, `".wav"`, `"track.flac"`, `"audio/mpeg"` or
/// `"audio/L16;rate=48000;channels=2"`. Raw PCM defaults to Lyria's 48 kHz stereo when the
/// parameters are absent.
fn parse_hint(hint: Option<&str>) -> HintKind {
    let Some(raw) = hint.map(str::trim).filter(|h| !h.is_empty()) else {
        return HintKind::Container { extension: None, mime: None };
    };
    let lower = raw.to_ascii_lowercase();
    let mut parts = lower.split(';').map(str::trim);
    let base = parts.next().unwrap_or_default().to_string();
    let params: Vec<(&str, &str)> =
        parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
    let param = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);

    let raw_pcm = matches!(
        base.as_str(),
        "pcm" | "s16le" | "raw" | "l16" | "audio/l16" | "audio/pcm" | "audio/raw" | "audio/s16le"
    );
    if raw_pcm {
        let rate = param("rate").and_then(|v| v.parse().ok()).filter(|r| *r > 0).unwrap_or(LYRIA_SAMPLE_RATE);
        let channels = param("channels").and_then(|v| v.parse().ok()).filter(|c| *c > 0).unwrap_or(LYRIA_CHANNELS);
        return HintKind::RawPcm(rate, channels);
    }
    if base.contains('/') && !base.contains('.') {
        // A MIME type. Normalise a few common spellings symphonia may not list.
        let extension = match base.as_str() {
            "audio/mpeg" | "audio/mp3" | "audio/mpeg3" | "audio/x-mpeg" | "audio/x-mp3" => Some("mp3"),
            "audio/wav" | "audio/x-wav" | "audio/wave" | "audio/vnd.wave" => Some("wav"),
            "audio/ogg" | "application/ogg" | "audio/vorbis" => Some("ogg"),
            "audio/flac" | "audio/x-flac" => Some("flac"),
            _ => None,
        };
        return HintKind::Container { extension: extension.map(String::from), mime: Some(base) };
    }
    // An extension, possibly with a dot or a whole file name in front.
    let extension = base.rsplit('.').next().unwrap_or_default().to_string();
    HintKind::Container { extension: Some(extension).filter(|e| !e.is_empty()), mime: None }
}

/// Decodes a whole audio file held in memory. `hint` is optional help for probing (an extension
/// like `"mp3"` or a MIME type like `"audio/mpeg"`); the content is sniffed either way, so a wrong
/// hint (an MP3 saved as `.wav`, say) still decodes. A hint naming raw PCM (`"pcm"`, `"s16le"`,
/// `"audio/L16;rate=…;channels=…"`) decodes headerless 16-bit little-endian samples, unless the
/// bytes turn out to be a RIFF/WAVE file.
///
/// A truncated final frame is tolerated (what decoded before it is kept) and undecodable packets
/// in the middle are skipped. Unsupported, empty or corrupt data is a `BAD_AUDIO` error, audio
/// longer than `limit` a [`TOO_LONG`] one; this function does not panic.
pub fn decode_bytes(bytes: &[u8], hint: Option<&str>, limit: Limit) -> EngineResult<Decoded> {
    decode_source(Source::Bytes(bytes), hint, limit, false)
}

/// As [`decode_bytes`], with the channels averaged into one as they decode (a 32-channel file
/// costs no more memory than a mono one).
pub fn decode_bytes_mono(bytes: &[u8], hint: Option<&str>, limit: Limit) -> EngineResult<Decoded> {
    decode_source(Source::Bytes(bytes), hint, limit, true)
}

/// Decodes the audio file at `path` to mono, streaming it from disk (the file is never held
/// whole). The file is opened through [`crate::fsio::input`]: a FIFO, a device or a file over
/// [`crate::fsio::input::limits::AUDIO`] is refused at once; a missing file is `NOT_FOUND`.
pub fn decode_file_mono(path: &Path, limit: Limit) -> EngineResult<Decoded> {
    use crate::fsio::input;
    let (file, _) = input::open(path, input::limits::AUDIO).map_err(|e| {
        if e.code == input::NOT_A_FILE && !path.exists() {
            EngineError { code: "NOT_FOUND", ..e }
        } else {
            e
        }
    })?;
    let hint = path.extension().and_then(|e| e.to_str());
    if let HintKind::RawPcm(..) = parse_hint(hint) {
        let bytes = input::read_bytes(path, input::limits::AUDIO)?;
        return decode_bytes_mono(&bytes, hint, limit);
    }
    decode_source(Source::File(&file), hint, limit, true)
}

fn decode_source(source: Source<'_>, hint: Option<&str>, limit: Limit, mono: bool) -> EngineResult<Decoded> {
    if let (HintKind::RawPcm(rate, channels), Source::Bytes(bytes)) = (parse_hint(hint), &source) {
        if !looks_like_riff(bytes) {
            let d = decode_pcm_s16le(bytes, rate, channels, limit)?;
            return Ok(if mono && d.channels > 1 { Decoded { samples: d.to_mono(), channels: 1, ..d } } else { d });
        }
    }
    let mut out = Vec::new();
    let (sample_rate, channels, _) = run(source, hint, Some(&mut out), limit, mono)?;
    Ok(Decoded { samples: out, sample_rate, channels })
}

/// Reads an audio file a user named (through [`crate::fsio::input`], so a FIFO or a device is
/// refused and the size is bounded) and decodes it; errors name the file.
pub fn read_audio_file(path: &std::path::Path) -> EngineResult<Decoded> {
    let bytes = crate::fsio::input::read_bytes(path, crate::fsio::input::limits::AUDIO)?;
    let name = path.to_string_lossy();
    decode_bytes(&bytes, Some(&name), limits::ANALYSIS).map_err(|e| {
        let message = format!("{}: {}", path.display(), e.message);
        EngineError { message, ..e }.with_hint("Give a WAV, MP3, FLAC or Ogg Vorbis file.")
    })
}

/// Decodes headerless signed 16-bit little-endian PCM, interleaved (Lyria RealTime sends 48 kHz
/// stereo this way). A trailing partial frame is dropped.
pub fn decode_pcm_s16le(bytes: &[u8], sample_rate: u32, channels: u16, limit: Limit) -> EngineResult<Decoded> {
    if sample_rate == 0 {
        return Err(bad_audio("raw PCM needs a positive sample rate"));
    }
    if channels == 0 {
        return Err(bad_audio("raw PCM needs at least one channel"));
    }
    let frame_bytes = 2 * usize::from(channels);
    let usable = bytes.len() - bytes.len() % frame_bytes;
    if (usable / frame_bytes) as u64 > limit.max_frames(sample_rate) {
        return Err(too_long(&limit));
    }
    if usable / 2 > MAX_SAMPLES {
        return Err(bad_audio(format!("raw PCM of {} bytes is too long to decode", bytes.len())));
    }
    let samples =
        bytes[..usable].chunks_exact(2).map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0).collect();
    Ok(Decoded { samples, sample_rate, channels })
}

/// Exact duration in seconds (decoded frame count / sample rate). Everything is decoded, since
/// compressed formats' headers can be missing or wrong, but no samples are kept; decoding stops
/// with [`TOO_LONG`] past `limit`.
pub fn probe_duration(bytes: &[u8], hint: Option<&str>, limit: Limit) -> EngineResult<f64> {
    if let HintKind::RawPcm(rate, channels) = parse_hint(hint) {
        if !looks_like_riff(bytes) {
            let frames = bytes.len() / (2 * usize::from(channels));
            if frames as u64 > limit.max_frames(rate) {
                return Err(too_long(&limit));
            }
            return Ok(frames as f64 / f64::from(rate));
        }
    }
    let (sample_rate, _, frames) = run(Source::Bytes(bytes), hint, None, limit, false)?;
    Ok(frames as f64 / f64::from(sample_rate))
}

/// Whether `bytes` start an MPEG audio layer III stream (an ID3v2 tag in front is allowed), as
/// symphonia's probe recognises it: only the container is read, nothing is decoded.
pub fn is_mp3(bytes: &[u8]) -> bool {
    use symphonia::core::codecs::audio::well_known::CODEC_ID_MP3;
    if bytes.is_empty() {
        return false;
    }
    let probe = || {
        let mss = MediaSourceStream::new(Box::new(Cursor::new(bytes)), Default::default());
        let format = symphonia::default::get_probe()
            .probe(&Hint::new(), mss, FormatOptions::default(), MetadataOptions::default())
            .ok()?;
        let track = format.default_track(TrackType::Audio)?;
        Some(track.codec_params.as_ref()?.audio()?.codec == CODEC_ID_MP3)
    };
    catch_unwind(AssertUnwindSafe(probe)).ok().flatten().unwrap_or(false)
}

fn looks_like_riff(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WAVE"
}

/// Where the encoded audio is: in memory, or in an open file read as it decodes.
enum Source<'a> {
    Bytes(&'a [u8]),
    File(&'a File),
}

impl<'a> Source<'a> {
    /// A reader from the first byte (a file is read through its own handle, rewound).
    fn media(&self) -> std::io::Result<Box<dyn MediaSource + 'a>> {
        Ok(match self {
            Source::Bytes(b) => Box::new(Cursor::new(*b)),
            Source::File(f) => {
                let mut f = f.try_clone()?;
                f.seek(SeekFrom::Start(0))?;
                Box::new(f)
            }
        })
    }

    fn is_empty(&self) -> bool {
        match self {
            Source::Bytes(b) => b.is_empty(),
            Source::File(f) => f.metadata().is_ok_and(|m| m.len() == 0),
        }
    }

    fn is_riff(&self) -> bool {
        let mut head = [0u8; 12];
        self.media().and_then(|mut m| m.read_exact(&mut head)).is_ok() && looks_like_riff(&head)
    }
}

/// Decodes with panics from the decoder turned into errors (defence in depth against malformed
/// input; symphonia aims not to panic, but we never want to take the host process down).
fn run(
    source: Source<'_>,
    hint: Option<&str>,
    mut out: Option<&mut Vec<f32>>,
    limit: Limit,
    mono: bool,
) -> EngineResult<(u32, u16, u64)> {
    if source.is_empty() {
        return Err(bad_audio("no audio data (0 bytes)"));
    }
    match attempt(run_symphonia, &source, hint, out.as_deref_mut(), limit, mono) {
        Ok(done) => Ok(done),
        // symphonia maps WAV channels to speaker positions and refuses more than it can name
        // (over 18 with a channel mask, over 26 without); hound reads any channel count the
        // format allows, so a WAV symphonia could not open is tried there before it is refused.
        Err((e, 0)) if e.code == "BAD_AUDIO" && source.is_riff() => {
            // hound's own error once it got past the header, else symphonia's (the better one).
            attempt(run_hound, &source, hint, out, limit, mono).map_err(|(theirs, frames)| {
                if frames > 0 || theirs.code == TOO_LONG {
                    theirs
                } else {
                    e
                }
            })
        }
        Err((e, _)) => Err(e),
    }
}

type Decoder = fn(&Source<'_>, Option<&str>, &mut Sink<'_>) -> EngineResult<()>;

/// One decoder's try, into an emptied `out`: its result, or its error with the frames it took.
fn attempt(
    decoder: Decoder,
    source: &Source<'_>,
    hint: Option<&str>,
    mut out: Option<&mut Vec<f32>>,
    limit: Limit,
    mono: bool,
) -> Result<(u32, u16, u64), (EngineError, u64)> {
    if let Some(out) = out.as_deref_mut() {
        out.clear();
    }
    let mut sink = Sink::new(out, limit, mono);
    match catch_unwind(AssertUnwindSafe(|| decoder(source, hint, &mut sink))) {
        Ok(Ok(())) => Ok((sink.rate, sink.channels, sink.frames)),
        Ok(Err(e)) => Err((e, sink.frames)),
        Err(_) => Err((bad_audio("the audio data is corrupt (the decoder gave up)"), sink.frames)),
    }
}

/// Accumulates decoded samples, fixing the stream's layout from the first buffer and stopping at
/// the use's limit.
struct Sink<'a> {
    out: Option<&'a mut Vec<f32>>,
    limit: Limit,
    mono: bool,
    rate: u32,
    channels: u16,
    frames: u64,
    max_frames: u64,
    scratch: Vec<f32>,
}

impl<'a> Sink<'a> {
    fn new(out: Option<&'a mut Vec<f32>>, limit: Limit, mono: bool) -> Self {
        Sink { out, limit, mono, rate: 0, channels: 0, frames: 0, max_frames: 0, scratch: Vec::new() }
    }

    fn push(&mut self, buf: &GenericAudioBufferRef<'_>) -> EngineResult<()> {
        let ch = buf.spec().channels().count();
        if buf.frames() == 0 || ch == 0 || !self.admit(buf.frames(), ch, buf.spec().rate())? {
            return Ok(());
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        buf.copy_to_vec_interleaved(&mut scratch);
        self.store(&scratch, ch);
        self.scratch = scratch;
        Ok(())
    }

    /// Takes whole frames of `ch` interleaved samples at `rate`.
    fn accept(&mut self, samples: &[f32], ch: usize, rate: u32) -> EngineResult<()> {
        let frames = samples.len() / ch.max(1);
        if frames > 0 && self.admit(frames, ch, rate)? {
            self.store(&samples[..frames * ch], ch);
        }
        Ok(())
    }

    /// Counts `frames` more frames of `ch` channels at `rate`, or refuses them; whether they are
    /// to be kept.
    fn admit(&mut self, frames: usize, ch: usize, rate: u32) -> EngineResult<bool> {
        if self.rate == 0 {
            if rate == 0 {
                return Err(bad_audio("the stream reports a sample rate of 0"));
            }
            self.rate = rate;
            self.max_frames = self.limit.max_frames(rate);
            self.channels = if self.mono {
                1
            } else {
                u16::try_from(ch).map_err(|_| bad_audio(format!("{ch} channels are too many")))?
            };
        } else if rate != self.rate {
            return Err(bad_audio(format!("the sample rate changes mid-stream ({} Hz to {rate} Hz)", self.rate)));
        }
        if self.frames + frames as u64 > self.max_frames {
            return Err(too_long(&self.limit));
        }
        self.frames += frames as u64;
        let Some(out) = self.out.as_deref() else { return Ok(false) };
        if out.len() + frames * usize::from(self.channels) > MAX_SAMPLES {
            return Err(bad_audio("the audio is too long to decode in memory"));
        }
        Ok(true)
    }

    fn store(&mut self, samples: &[f32], ch: usize) {
        let Some(out) = self.out.as_deref_mut() else { return };
        let want = usize::from(self.channels);
        if ch == want {
            out.extend_from_slice(samples);
            return;
        }
        // Mixed to mono, or the channel count changed mid-stream (legal in MPEG audio): mixed to
        // the first layout.
        let scale = 1.0 / ch as f32;
        for frame in samples.chunks_exact(ch) {
            let mean = frame.iter().sum::<f32>() * scale;
            for c in 0..want {
                out.push(if want == 1 { mean } else { frame.get(c).copied().unwrap_or(mean) });
            }
        }
    }
}

/// A WAV file by `hound`, read as it decodes: integer PCM of 8 to 32 bits or 32-bit float, any
/// channel count. A truncated data chunk keeps what was read before the cut.
fn run_hound(source: &Source<'_>, _: Option<&str>, sink: &mut Sink<'_>) -> EngineResult<()> {
    let media = source.media().map_err(|e| EngineError::io("cannot read the audio", &e))?;
    let reader = hound::WavReader::new(std::io::BufReader::new(media))
        .map_err(|e| bad_audio(format!("unsupported or unrecognised audio format ({e})")))?;
    let spec = reader.spec();
    let ch = usize::from(spec.channels);
    if ch == 0 || spec.sample_rate == 0 {
        return Err(bad_audio("the WAV header gives no channels or no sample rate"));
    }
    let mut chunk = Vec::with_capacity(4096 * ch);
    let flush = |chunk: &mut Vec<f32>, sink: &mut Sink<'_>| {
        let done = sink.accept(chunk, ch, spec.sample_rate);
        chunk.clear();
        done
    };
    macro_rules! each {
        ($ty:ty, $scale:expr) => {
            for s in reader.into_samples::<$ty>() {
                let Ok(s) = s else { break };
                chunk.push(s as f32 * $scale);
                if chunk.len() >= 4096 * ch {
                    flush(&mut chunk, sink)?;
                }
            }
        };
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => each!(f32, 1.0),
        (hound::SampleFormat::Int, bits @ 1..=32) => each!(i32, 1.0 / (1u64 << (bits - 1)) as f32),
        (format, bits) => return Err(bad_audio(format!("unsupported WAV sample format ({bits}-bit {format:?})"))),
    }
    flush(&mut chunk, sink)?;
    if sink.frames == 0 {
        return Err(bad_audio("no audio could be decoded (the WAV file has no complete frame)"));
    }
    Ok(())
}

fn run_symphonia(source: &Source<'_>, hint: Option<&str>, sink: &mut Sink<'_>) -> EngineResult<()> {
    let mut probe_hint = Hint::new();
    if let HintKind::Container { extension, mime } = parse_hint(hint) {
        if let Some(ext) = extension.as_deref() {
            probe_hint.with_extension(ext);
        }
        if let Some(mime) = mime.as_deref() {
            probe_hint.mime_type(mime);
        }
    }
    let media = source.media().map_err(|e| EngineError::io("cannot read the audio", &e))?;
    let mss = MediaSourceStream::new(media, Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(&probe_hint, mss, FormatOptions::default(), MetadataOptions::default())
        .map_err(|e| bad_audio(format!("unsupported or unrecognised audio format ({})", describe(&e))))?;

    let track = format.default_track(TrackType::Audio).ok_or_else(|| bad_audio("the file has no audio track"))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or_else(|| bad_audio("the audio track has no codec parameters"))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(|e| bad_audio(format!("unsupported audio codec ({})", describe(&e))))?;

    let mut skipped = 0usize;
    let mut last_error: Option<String> = None;
    loop {
        let packet = match format.next_packet() {
            Ok(Some(packet)) => packet,
            Ok(None) => break,
            // A chained stream with new parameters: keep what the first part gave.
            Err(SymError::ResetRequired) => break,
            // Truncated or damaged tail: stop here and keep what decoded so far (checked below).
            Err(e) => {
                last_error = Some(describe(&e));
                break;
            }
        };
        if packet.track_id != track_id {
            continue;
        }
        match decoder.decode(&packet) {
            Ok(buf) => sink.push(&buf)?,
            // A damaged packet (typically a cut-off final frame): skip it, keep going.
            Err(e @ (SymError::DecodeError(_) | SymError::IoError(_))) => {
                skipped += 1;
                last_error = Some(describe(&e));
            }
            Err(SymError::ResetRequired) => break,
            Err(e) => return Err(bad_audio(format!("cannot decode the audio ({})", describe(&e)))),
        }
    }
    if sink.frames == 0 || sink.rate == 0 {
        let why = last_error.map(|e| format!(": {e}")).unwrap_or_default();
        return Err(bad_audio(format!("no audio could be decoded ({skipped} damaged packet(s){why})")));
    }
    Ok(())
}

fn describe(e: &SymError) -> String {
    match e {
        SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => "unexpected end of data".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::wav::{wav_bytes, SampleFormat};

    const ANY: Limit = limits::TRANSCRIPTION;

    /// 0.5 s of a 440 Hz sine at 44.1 kHz mono, amplitude 0.5, MPEG-1 Layer III 64 kbit/s CBR.
    /// Our own generated tone (no third-party content; same licence as this crate). Made with:
    ///   sox -n -r 44100 -c 1 -b 16 tone.wav synth 0.5 sine 440 vol 0.5
    ///   lame --quiet -b 64 -m m --noreplaygain tone.wav sine440.mp3
    /// (`lame` writes a Xing/LAME header with encoder delay and padding, so the gapless decode is
    /// exactly 22 050 frames.) Only needed to create the fixture, never at build or test time.
    const SINE_MP3: &[u8] = include_bytes!("testdata/sine440.mp3");

    fn sine(n: usize, rate: u32, hz: f32, amp: f32) -> Vec<f32> {
        (0..n).map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin()).collect()
    }

    /// Frequency from rising zero crossings over the middle of the signal.
    fn zero_crossing_hz(s: &[f32], rate: u32) -> f64 {
        let mid = &s[s.len() / 5..s.len() * 4 / 5];
        let ups: Vec<usize> = (1..mid.len()).filter(|&i| mid[i - 1] < 0.0 && mid[i] >= 0.0).collect();
        let periods = (ups.len() - 1) as f64;
        periods * f64::from(rate) / (ups[ups.len() - 1] - ups[0]) as f64
    }

    #[test]
    fn wav_round_trips() {
        let samples = sine(2_400, 24_000, 300.0, 0.6);
        for format in [SampleFormat::Int16, SampleFormat::Float32] {
            let bytes = wav_bytes(&samples, 24_000, format);
            for hint in [None, Some("wav"), Some("audio/wav"), Some("x.WAV"), Some("mp3")] {
                let d = decode_bytes(&bytes, hint, ANY).unwrap();
                assert_eq!((d.sample_rate, d.channels, d.samples.len()), (24_000, 1, 2_400), "{format:?} {hint:?}");
                for (a, b) in samples.iter().zip(&d.samples) {
                    assert!((a - b).abs() < 1.0 / 16_000.0, "{a} vs {b}");
                }
                assert!((d.duration_seconds() - 0.1).abs() < 1e-12);
                assert!((probe_duration(&bytes, hint, ANY).unwrap() - 0.1).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn stereo_wav_and_mono_mix() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for _ in 0..480 {
            w.write_sample(16_384i16).unwrap();
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
        let d = decode_bytes(cursor.get_ref(), Some("audio/x-wav"), ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (48_000, 2, 480));
        assert!((d.duration_seconds() - 0.01).abs() < 1e-12);
        let mono = d.to_mono();
        assert_eq!(mono.len(), 480);
        assert!(mono.iter().all(|s| (s - 0.25).abs() < 1e-4));
    }

    #[test]
    fn mp3_fixture_decodes_to_a_440_hz_tone() {
        assert!(SINE_MP3.len() < 20_000);
        let d = decode_bytes(SINE_MP3, Some("mp3"), ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels), (44_100, 1));
        assert!((d.duration_seconds() - 0.5).abs() < 0.03, "{}", d.duration_seconds());
        let hz = zero_crossing_hz(&d.samples, d.sample_rate);
        assert!((hz - 440.0).abs() < 5.0, "{hz} Hz");
        let p = crate::audio::wav::peak(&d.samples);
        assert!((0.4..0.6).contains(&p), "peak {p}");
        // Sniffed without (or despite a wrong) hint: an MP3 saved under a .wav name decodes too.
        for hint in [None, Some("audio/mpeg"), Some("wav"), Some("track.mp3")] {
            let again = decode_bytes(SINE_MP3, hint, ANY).unwrap();
            assert_eq!(again.samples.len(), d.samples.len(), "{hint:?}");
        }
        assert!((probe_duration(SINE_MP3, None, ANY).unwrap() - d.duration_seconds()).abs() < 1e-12);
    }

    #[test]
    fn mp3_with_an_id3v2_tag_decodes() {
        // Hosted TTS often prepends ID3v2 tags; build one with a title frame in front of the MP3.
        let title = b"\x03narration";
        let mut frame = b"TIT2".to_vec();
        frame.extend_from_slice(&(title.len() as u32).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(title);
        frame.resize(frame.len() + 300, 0); // padding, as taggers leave
        let size = frame.len() as u32;
        let syncsafe =
            [(size >> 21) as u8 & 0x7f, (size >> 14) as u8 & 0x7f, (size >> 7) as u8 & 0x7f, size as u8 & 0x7f];
        let mut tagged = b"ID3\x03\x00\x00".to_vec();
        tagged.extend_from_slice(&syncsafe);
        tagged.extend_from_slice(&frame);
        tagged.extend_from_slice(SINE_MP3);
        let plain = decode_bytes(SINE_MP3, None, ANY).unwrap();
        for hint in [None, Some("mp3")] {
            let d = decode_bytes(&tagged, hint, ANY).unwrap();
            assert_eq!(d.samples.len(), plain.samples.len(), "{hint:?}");
        }
    }

    #[test]
    fn truncated_mp3_keeps_what_decodes() {
        let full = decode_bytes(SINE_MP3, Some("mp3"), ANY).unwrap().duration_seconds();
        // Cut in the middle of a frame: the partial last frame is dropped, not an error.
        let cut = &SINE_MP3[..SINE_MP3.len() * 2 / 3 + 37];
        let d = decode_bytes(cut, Some("mp3"), ANY).unwrap();
        assert!(d.duration_seconds() > 0.2 && d.duration_seconds() < full, "{}", d.duration_seconds());
        let hz = zero_crossing_hz(&d.samples, d.sample_rate);
        assert!((hz - 440.0).abs() < 5.0, "{hz} Hz");
    }

    #[test]
    fn truncated_flac_keeps_what_decodes() {
        let flac = include_bytes!("testdata/sine440.flac");
        let cut = &flac[..flac.len() * 2 / 3 + 37];
        let d = decode_bytes(cut, None, ANY).unwrap();
        assert!(d.duration_seconds() > 0.2 && d.duration_seconds() < 0.5, "{}", d.duration_seconds());
        assert!((probe_duration(cut, Some("flac"), ANY).unwrap() - d.duration_seconds()).abs() < 1e-12);
    }

    #[test]
    fn truncated_ogg_is_a_clean_error() {
        // The fixture's 0.5 s of audio sit in one Ogg page after ~3.5 KB of Vorbis headers; a page
        // is checksummed as a whole, so cutting into it leaves nothing decodable (longer files cut
        // mid-way keep their complete pages, as with the MP3 above).
        let ogg = include_bytes!("testdata/sine440.ogg");
        for len in [100, 2_000, ogg.len() - 200, ogg.len() - 1] {
            assert_eq!(decode_bytes(&ogg[..len], None, ANY).unwrap_err().code, "BAD_AUDIO", "{len}");
        }
    }

    #[test]
    fn truncated_wav_keeps_what_decodes() {
        let bytes = wav_bytes(&sine(4_800, 48_000, 1_000.0, 0.5), 48_000, SampleFormat::Int16);
        let d = decode_bytes(&bytes[..bytes.len() - 1001], None, ANY).unwrap();
        assert!(d.frames() > 4_000 && d.frames() < 4_800, "{}", d.frames());
    }

    #[test]
    fn raw_pcm() {
        let mut bytes = Vec::new();
        for v in [16_384i16, -16_384, 32_767, i16::MIN, 0, 0] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.push(7); // a partial trailing frame is dropped
        let d = decode_pcm_s16le(&bytes, 48_000, 2, ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (48_000, 2, 3));
        assert_eq!(d.samples, vec![0.5, -0.5, 32_767.0 / 32_768.0, -1.0, 0.0, 0.0]);
        assert_eq!(d.to_mono(), vec![0.0, (32_767.0 / 32_768.0 - 1.0) / 2.0, 0.0]);
        assert_eq!(decode_pcm_s16le(&bytes, 0, 2, ANY).unwrap_err().code, "BAD_AUDIO");
        assert_eq!(decode_pcm_s16le(&bytes, 48_000, 0, ANY).unwrap_err().code, "BAD_AUDIO");
        assert_eq!(decode_pcm_s16le(&[], 48_000, 2, ANY).unwrap().frames(), 0);

        // Through decode_bytes with a PCM hint: parameters from the MIME type, Lyria's by default.
        let one_second = vec![0u8; 48_000 * 4];
        let d = decode_bytes(&one_second, Some("audio/L16;rate=48000;channels=2"), ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (48_000, 2, 48_000));
        let d = decode_bytes(&one_second, Some("pcm"), ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels), (LYRIA_SAMPLE_RATE, LYRIA_CHANNELS));
        let d = decode_bytes(&one_second, Some("audio/pcm; rate=24000; channels=1"), ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (24_000, 1, 96_000));
        assert!((probe_duration(&one_second, Some("s16le"), ANY).unwrap() - 1.0).abs() < 1e-12);
        // A WAV file under a PCM hint is still read as WAV (its header is not turned into noise).
        let wav = wav_bytes(&[0.25; 100], 16_000, SampleFormat::Int16);
        let d = decode_bytes(&wav, Some("pcm"), ANY).unwrap();
        assert_eq!((d.sample_rate, d.channels, d.frames()), (16_000, 1, 100));
    }

    #[test]
    fn hints_are_parsed() {
        assert_eq!(parse_hint(None), HintKind::Container { extension: None, mime: None });
        assert_eq!(parse_hint(Some("  ")), HintKind::Container { extension: None, mime: None });
        assert_eq!(parse_hint(Some(".MP3")), HintKind::Container { extension: Some("mp3".into()), mime: None });
        assert_eq!(parse_hint(Some("a/b/c.flac")), HintKind::Container { extension: Some("flac".into()), mime: None });
        assert_eq!(
            parse_hint(Some("audio/mpeg")),
            HintKind::Container { extension: Some("mp3".into()), mime: Some("audio/mpeg".into()) }
        );
        assert_eq!(parse_hint(Some("audio/L16;rate=44100;channels=1")), HintKind::RawPcm(44_100, 1));
        assert_eq!(parse_hint(Some("audio/l16;rate=0;channels=x")), HintKind::RawPcm(48_000, 2));
    }

    #[test]
    fn garbage_and_truncation_are_errors_not_panics() {
        let empty = decode_bytes(&[], None, ANY).unwrap_err();
        assert_eq!(empty.code, "BAD_AUDIO");
        assert!(empty.message.contains("0 bytes"), "{}", empty.message);
        assert_eq!(probe_duration(&[], Some("mp3"), ANY).unwrap_err().code, "BAD_AUDIO");

        // Deterministic pseudo-random junk of many sizes, with and without hints.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut junk = vec![0u8; 20_000];
        for b in junk.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        for len in [1, 3, 4, 11, 12, 44, 100, 417, 4_096, 20_000] {
            for hint in [None, Some("mp3"), Some("wav"), Some("ogg"), Some("flac"), Some("audio/mpeg")] {
                if let Err(e) = decode_bytes(&junk[..len], hint, ANY) {
                    assert_eq!(e.code, "BAD_AUDIO", "{len} {hint:?}: {e:?}");
                }
            }
        }
        let e = decode_bytes(b"this is plainly not audio at all, just some text", None, ANY).unwrap_err();
        assert_eq!(e.code, "BAD_AUDIO");
        assert!(e.message.contains("unsupported") || e.message.contains("no audio"), "{}", e.message);

        // Every prefix length of a real MP3 and a real WAV, and headers followed by junk.
        let wav = wav_bytes(&sine(2_000, 16_000, 500.0, 0.5), 16_000, SampleFormat::Int16);
        for data in [SINE_MP3, &wav[..]] {
            for len in (0..data.len()).step_by(97).chain([1, 2, 43, 44, 45]) {
                if let Err(e) = decode_bytes(&data[..len], None, ANY) {
                    assert_eq!(e.code, "BAD_AUDIO", "prefix {len}: {e:?}");
                }
            }
            let mut spliced = data[..data.len().min(600)].to_vec();
            spliced.extend_from_slice(&junk[..3_000]);
            if let Err(e) = decode_bytes(&spliced, None, ANY) {
                assert_eq!(e.code, "BAD_AUDIO");
            }
        }
        // Flipped bytes inside the MP3 body: damaged frames are skipped or reported, never a panic.
        let mut damaged = SINE_MP3.to_vec();
        for i in (400..damaged.len()).step_by(61) {
            damaged[i] ^= 0x5A;
        }
        if let Err(e) = decode_bytes(&damaged, Some("mp3"), ANY) {
            assert_eq!(e.code, "BAD_AUDIO");
        }
    }

    #[test]
    fn ogg_vorbis_and_flac_decode() {
        // The same generated tone (see `SINE_MP3`) encoded as `oggenc -q 0 --serial 1` and
        // `flac -8 --no-padding`, to prove the extra codecs are wired in.
        for (bytes, hint) in [
            (&include_bytes!("testdata/sine440.ogg")[..], "ogg"),
            (&include_bytes!("testdata/sine440.flac")[..], "flac"),
        ] {
            let d = decode_bytes(bytes, None, ANY).unwrap();
            assert_eq!((d.sample_rate, d.channels), (44_100, 1), "{hint}");
            assert!((d.duration_seconds() - 0.5).abs() < 0.01, "{hint}: {}", d.duration_seconds());
            let hz = zero_crossing_hz(&d.samples, d.sample_rate);
            assert!((hz - 440.0).abs() < 5.0, "{hint}: {hz} Hz");
        }
    }

    fn multichannel_wav(channels: u16, frames: usize) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut cursor = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
        for _ in 0..frames {
            for c in 0..channels {
                // Channel 0 carries 0.5, every other one 0: the mono mix is 0.5 / channels.
                w.write_sample(if c == 0 { 16_384i16 } else { 0 }).unwrap();
            }
        }
        w.finalize().unwrap();
        cursor.into_inner()
    }

    #[test]
    fn any_channel_count_a_wav_allows_is_decoded_and_mixed_to_mono() {
        // symphonia names at most 18 (masked) or 26 speaker positions; hound takes over past that.
        for channels in [1u16, 2, 6, 18, 19, 27, 32, 64] {
            let wav = multichannel_wav(channels, 1_600);
            let d = decode_bytes(&wav, Some("wav"), ANY).unwrap_or_else(|e| panic!("{channels}: {e:?}"));
            assert_eq!((d.sample_rate, d.channels, d.frames()), (16_000, channels, 1_600), "{channels}");
            assert!((d.samples[0] - 0.5).abs() < 1e-4 && d.samples[1..usize::from(channels)].iter().all(|s| *s == 0.0));
            let m = decode_bytes_mono(&wav, None, ANY).unwrap();
            assert_eq!((m.channels, m.frames()), (1, 1_600), "{channels}");
            let want = 0.5 / f32::from(channels);
            assert!(m.samples.iter().all(|s| (s - want).abs() < 1e-4), "{channels}: {}", m.samples[0]);
        }
        // Truncated past its header, a 32-channel WAV keeps its whole frames, as other WAVs do.
        let wav = multichannel_wav(32, 1_000);
        let d = decode_bytes(&wav[..wav.len() - 64 * 100 - 7], None, ANY).unwrap();
        assert_eq!((d.channels, d.frames()), (32, 899));
        assert_eq!(decode_bytes(&wav[..60], None, ANY).unwrap_err().code, "BAD_AUDIO");
    }

    #[test]
    fn audio_longer_than_its_use_can_need_stops_there() {
        let minute = crate::test_support::silent_flac(60 * 48_000, 60 * 48_000);
        let ten = Limit::new("a test clip", 10.0);
        for e in [
            decode_bytes(&minute, None, ten).unwrap_err(),
            decode_bytes_mono(&minute, Some("flac"), ten).unwrap_err(),
            probe_duration(&minute, None, ten).unwrap_err(),
        ] {
            assert_eq!(e.code, TOO_LONG);
            assert!(e.message.contains("a test clip") && e.message.contains("0.2 minutes"), "{}", e.message);
        }
        let d = decode_bytes(&minute, None, Limit::new("a test clip", 60.0)).unwrap();
        assert_eq!((d.sample_rate, d.frames()), (48_000, 60 * 48_000), "exactly the limit is fine");
        // Raw PCM and WAV are measured the same way.
        let pcm = vec![0u8; 11 * 48_000 * 4];
        assert_eq!(decode_bytes(&pcm, Some("pcm"), ten).unwrap_err().code, TOO_LONG);
        assert_eq!(probe_duration(&pcm, Some("pcm"), ten).unwrap_err().code, TOO_LONG);
        let wav = wav_bytes(&vec![0.0; 11 * 8_000], 8_000, SampleFormat::Int16);
        assert_eq!(decode_bytes(&wav, None, ten).unwrap_err().code, TOO_LONG);
        assert_eq!(decode_bytes(&multichannel_wav(32, 11 * 16_000), None, ten).unwrap_err().code, TOO_LONG);
    }

    #[test]
    fn the_reports_160_kb_bomb_is_refused_by_every_use_without_being_held() {
        // 672 M frames of silence (3.9 hours at 48 kHz) in about 160 KB, claiming their length.
        let bomb = crate::test_support::silent_flac(672_000_000, 672_000_000);
        assert!(bomb.len() < 200_000, "{}", bomb.len());
        // A provider's clip stops within a minute of audio (nothing held past it)...
        let clip = limits::speech_clip("Hello there, and welcome.");
        assert!(clip.max_seconds < 60.0);
        assert_eq!(decode_bytes(&bomb, Some("audio/flac"), clip).unwrap_err().code, TOO_LONG);
        // ...and the longer uses are counted without keeping a sample.
        for limit in [limits::TRANSCRIPTION, limits::SOUND_EFFECT] {
            let e = probe_duration(&bomb, None, limit).unwrap_err();
            assert_eq!(e.code, TOO_LONG, "{}", limit.what);
            assert!(e.message.contains(limit.what), "{}", e.message);
        }
    }

    #[test]
    fn a_claimed_length_is_never_trusted() {
        // STREAMINFO claiming 2^36 - 1 frames (a day and a half): one second decodes, as it is.
        let flac = crate::test_support::silent_flac(48_000, (1 << 36) - 1);
        let d = decode_bytes(&flac, None, Limit::new("a test clip", 10.0)).unwrap();
        assert_eq!(d.frames(), 48_000);
        // A WAV whose RIFF and data chunks claim 4 GiB (as streaming writers leave them) but
        // that holds 0.1 s.
        let mut wav = wav_bytes(&vec![0.25; 1_600], 16_000, SampleFormat::Int16);
        let data = wav.windows(4).position(|w| w == b"data").unwrap();
        wav[data + 4..data + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        wav[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let d = decode_bytes(&wav, None, Limit::new("a test clip", 10.0)).unwrap();
        assert_eq!(d.frames(), 1_600);
    }

    #[test]
    fn speech_clip_limits_follow_the_text_up_to_a_ceiling() {
        assert_eq!(limits::speech_clip("").max_seconds, 30.0);
        assert_eq!(limits::speech_clip(&"é".repeat(400)).max_seconds, 130.0);
        assert_eq!(limits::speech_clip(&"a".repeat(100_000)).max_seconds, limits::SPEECH_CLIP_CEILING);
    }

    #[cfg(unix)]
    #[test]
    fn a_file_is_decoded_from_disk_and_devices_fifos_and_missing_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("take.flac");
        std::fs::write(&path, crate::test_support::silent_flac(2 * 48_000, 0)).unwrap();
        let d = decode_file_mono(&path, ANY).unwrap();
        assert_eq!((d.channels, d.frames()), (1, 96_000));
        let wav = dir.path().join("32.wav");
        std::fs::write(&wav, multichannel_wav(32, 1_600)).unwrap();
        assert_eq!(decode_file_mono(&wav, ANY).unwrap().frames(), 1_600);
        let e = decode_file_mono(&path, Limit::new("a test clip", 1.0)).unwrap_err();
        assert_eq!(e.code, TOO_LONG);

        let link = dir.path().join("zero.wav");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        let fifo = dir.path().join("fifo.wav");
        crate::test_support::make_fifo(&fifo);
        for p in [Path::new("/dev/zero"), &link, &fifo] {
            let e = decode_file_mono(p, ANY).unwrap_err();
            assert_eq!(e.code, crate::fsio::input::NOT_A_FILE, "{}: {e:?}", p.display());
        }
        let sparse = dir.path().join("sparse.wav");
        std::fs::File::create(&sparse).unwrap().set_len(3 << 30).unwrap();
        assert_eq!(decode_file_mono(&sparse, ANY).unwrap_err().code, crate::fsio::input::TOO_LARGE);
        assert_eq!(decode_file_mono(&dir.path().join("none.wav"), ANY).unwrap_err().code, "NOT_FOUND");
    }
}
