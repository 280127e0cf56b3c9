//! Text → music: tokenize, encode the prompt, sample the codes step by step with the decoder and
//! its key/value cache (classifier-free guidance batches the prompt with an empty one), undo the
//! delay pattern and decode the codes to audio with EnCodec.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ort::session::SessionInputValue;
use ort::value::{DynValue, Tensor};

use super::config::MusicgenConfig;
use super::delay::DelayPattern;
use super::model::{self, bad_model, inference_failed, Decoder, Encodec, TextEncoder};
use super::sampling::{guide, sample_top_k, Rng};
use super::tokenizer::Tokenizer;
use crate::engines::error::{EngineError, EngineResult};

/// Hugging Face's MusicGen generation defaults.
pub const DEFAULT_TOP_K: usize = 250;
pub const DEFAULT_TEMPERATURE: f32 = 1.0;
/// Longest prompt the text encoder gets, in tokens.
pub const MAX_PROMPT_TOKENS: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerateOptions {
    /// Seconds of audio to generate.
    pub seconds: f64,
    pub seed: u64,
    /// 1 is greedy; 0 keeps the whole vocabulary.
    pub top_k: usize,
    pub temperature: f32,
    /// `None`: the model's (3). At 1 or below there is no guidance (and half the decoder work).
    pub guidance_scale: Option<f32>,
}

impl GenerateOptions {
    pub fn new(seconds: f64, seed: u64) -> Self {
        Self { seconds, seed, top_k: DEFAULT_TOP_K, temperature: DEFAULT_TEMPERATURE, guidance_scale: None }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// Mono audio at `sample_rate`.
    pub samples: Vec<f32>,
    pub sample_rate: u32,
    /// `[codebook][frame]`, what EnCodec decoded.
    pub codes: Vec<Vec<i64>>,
    /// The prompt's token ids (`</s>` included).
    pub prompt_ids: Vec<i64>,
    /// Decoder steps taken.
    pub steps: usize,
}

pub struct MusicGen {
    pub config: MusicgenConfig,
    tokenizer: Tokenizer,
    text_encoder: TextEncoder,
    decoder: Decoder,
    encodec: Encodec,
    dir: PathBuf,
}

fn read_text(path: &Path) -> EngineResult<String> {
    crate::fsio::input::read_text(path, crate::fsio::input::limits::MODEL_SIDE_FILE)
}

/// The text encoder's output.
struct Encoded {
    hidden: Vec<f32>,
    tokens: usize,
    width: usize,
}

impl MusicGen {
    /// Loads the model folder (`tokenizer.json`, `config.json` and the three ONNX files). Missing
    /// files are `MODEL_MISSING`; files that do not match the export are `BAD_MODEL`.
    pub fn open(dir: &Path) -> EngineResult<Self> {
        for name in [model::TOKENIZER, model::CONFIG, model::TEXT_ENCODER, model::DECODER, model::ENCODEC] {
            if !dir.join(name).is_file() {
                return Err(model::missing_file(dir, name));
            }
        }
        let config_path = dir.join(model::CONFIG);
        let config = MusicgenConfig::parse(&read_text(&config_path)?, &config_path.display().to_string())?;
        let tokenizer_path = dir.join(model::TOKENIZER);
        let tokenizer = Tokenizer::from_json(&read_text(&tokenizer_path)?, &tokenizer_path.display().to_string())?;
        let text_encoder = TextEncoder::load(&dir.join(model::TEXT_ENCODER))?;
        let decoder = Decoder::load(&dir.join(model::DECODER), &config)?;
        let encodec = Encodec::load(&dir.join(model::ENCODEC), config.num_codebooks)?;
        Ok(Self { config, tokenizer, text_encoder, decoder, encodec, dir: dir.to_path_buf() })
    }

    /// Code frames for `seconds` of audio: `ceil(seconds × frame rate)`.
    pub fn frames_for(&self, seconds: f64) -> usize {
        (seconds * self.config.frame_rate - 1e-9).ceil().max(1.0) as usize
    }

    #[cfg(test)]
    /// Decoder steps for `seconds` of audio (frames + codebooks − 1).
    pub fn steps_for(&self, seconds: f64) -> usize {
        DelayPattern::new(self.config.num_codebooks, self.frames_for(seconds)).steps()
    }

    /// Generates `opts.seconds` of music for `prompt`. `progress(step, steps)` is called after each
    /// decoder step.
    pub fn generate(
        &self,
        prompt: &str,
        opts: &GenerateOptions,
        progress: &dyn Fn(usize, usize),
    ) -> EngineResult<Generated> {
        if !(opts.seconds.is_finite() && opts.seconds > 0.0) {
            return Err(EngineError::new("BAD_DURATION", format!("cannot generate {} seconds of music", opts.seconds)));
        }
        let mut prompt_ids = self.tokenizer.encode(prompt);
        if prompt_ids.len() > MAX_PROMPT_TOKENS {
            // Keep the end-of-sequence token.
            let eos = prompt_ids.last().copied();
            prompt_ids.truncate(MAX_PROMPT_TOKENS - 1);
            prompt_ids.extend(eos);
        }
        let encoded = self.encode_text(&prompt_ids)?;
        let pattern = DelayPattern::new(self.config.num_codebooks, self.frames_for(opts.seconds));
        let codes = self.generate_codes(&encoded, pattern, opts, progress)?;
        let samples = self.decode_audio(&codes)?;
        Ok(Generated { samples, sample_rate: self.config.sampling_rate, codes, prompt_ids, steps: pattern.steps() })
    }

    fn encode_text(&self, ids: &[i64]) -> EngineResult<Encoded> {
        let failed = |e: ort::Error| inference_failed("text encoding", e);
        let path = self.dir.join(model::TEXT_ENCODER);
        let input_ids = Tensor::from_array(([1usize, ids.len()], ids.to_vec())).map_err(failed)?;
        let mask = Tensor::from_array(([1usize, ids.len()], vec![1i64; ids.len()])).map_err(failed)?;
        let mut session = self.text_encoder.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(ort::inputs!["input_ids" => input_ids, "attention_mask" => mask]).map_err(failed)?;
        let value =
            outputs.get("last_hidden_state").ok_or_else(|| bad_model(&path, "no output `last_hidden_state`"))?;
        let (shape, hidden) = value.try_extract_tensor::<f32>().map_err(failed)?;
        if shape.len() != 3 || shape[0] != 1 || shape[1] != ids.len() as i64 || shape[2] <= 0 {
            return Err(bad_model(
                &path,
                format!("`last_hidden_state` has shape {:?} for {} tokens", &shape[..], ids.len()),
            ));
        }
        Ok(Encoded { hidden: hidden.to_vec(), tokens: ids.len(), width: shape[2] as usize })
    }

    /// The sampling loop. Returns `[codebook][frame]` codes.
    fn generate_codes(
        &self,
        encoded: &Encoded,
        pattern: DelayPattern,
        opts: &GenerateOptions,
        progress: &dyn Fn(usize, usize),
    ) -> EngineResult<Vec<Vec<i64>>> {
        let failed = |e: ort::Error| inference_failed("decoding", e);
        let path = self.dir.join(model::DECODER);
        let books = self.config.num_codebooks;
        let pad = self.config.pad_token_id;
        let guidance = opts.guidance_scale.unwrap_or(self.config.guidance_scale);
        // Guidance runs the prompt (row 0) and an empty prompt (row 1: zeroed states, zero mask).
        let guided = guidance > 1.0;
        let batch = if guided { 2 } else { 1 };
        let (t, width) = (encoded.tokens, encoded.width);
        let mut states = encoded.hidden.clone();
        let mut mask = vec![1i64; t];
        if guided {
            states.resize(2 * t * width, 0.0);
            mask.resize(2 * t, 0);
        }
        let states = Tensor::from_array(([batch, t, width], states)).map_err(failed)?;
        let mask = Tensor::from_array(([batch, t], mask)).map_err(failed)?;

        let (layers, heads, head_dim) = (self.decoder.layers, self.decoder.heads, self.decoder.head_dim);
        let mut past: Vec<(String, DynValue)> = Vec::with_capacity(layers * 4);
        for i in 0..layers {
            for part in ["decoder", "encoder"] {
                for kind in ["key", "value"] {
                    let empty = Tensor::<f32>::from_array(([batch, heads, 0, head_dim], Vec::new())).map_err(failed)?;
                    past.push((format!("past_key_values.{i}.{part}.{kind}"), empty.into_dyn()));
                }
            }
        }

        let steps = pattern.steps();
        let mut seq: Vec<Vec<i64>> = (0..books)
            .map(|_| {
                let mut row = Vec::with_capacity(pattern.len());
                row.push(self.config.decoder_start_token_id);
                row
            })
            .collect();
        let mut rng = Rng::new(opts.seed);
        let (mut guided_row, mut scratch) = (Vec::new(), Vec::new());
        let mut session = self.decoder.session.lock().unwrap_or_else(|e| e.into_inner());
        for step in 0..steps {
            let tokens: Vec<i64> = (0..batch).flat_map(|_| seq.iter().map(|row| row[step])).collect();
            let input_ids = Tensor::from_array(([batch * books, 1], tokens)).map_err(failed)?;
            let use_cache = Tensor::from_array(([1usize], vec![step > 0])).map_err(failed)?;
            let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(past.len() + 4);
            inputs.push(("input_ids".into(), input_ids.into()));
            inputs.push(("encoder_hidden_states".into(), (&states).into()));
            inputs.push(("encoder_attention_mask".into(), (&mask).into()));
            inputs.push(("use_cache_branch".into(), use_cache.into()));
            for (name, value) in &past {
                inputs.push((name.as_str().into(), value.into()));
            }
            let outputs = session.run(inputs).map_err(failed)?;
            {
                let value = outputs.get("logits").ok_or_else(|| bad_model(&path, "no output `logits`"))?;
                let (shape, logits) = value.try_extract_tensor::<f32>().map_err(failed)?;
                let ok = shape.len() == 3 && shape[0] == (batch * books) as i64 && shape[1] == 1 && shape[2] > 0;
                if !ok {
                    return Err(bad_model(&path, format!("`logits` has shape {:?}", &shape[..])));
                }
                let vocab = shape[2] as usize;
                for (k, row) in seq.iter_mut().enumerate() {
                    let cond = &logits[k * vocab..(k + 1) * vocab];
                    let scores = if guided {
                        let uncond = &logits[(books + k) * vocab..(books + k + 1) * vocab];
                        guide(cond, uncond, guidance, &mut guided_row);
                        &guided_row[..]
                    } else {
                        cond
                    };
                    let code = sample_top_k(scores, opts.top_k, opts.temperature, &mut rng, &mut scratch) as i64;
                    row.push(if pattern.is_pad(k, step + 1) { pad } else { code });
                }
            }
            // This step's cache is the next step's past.
            let mut next = Vec::with_capacity(past.len());
            for (name, value) in outputs {
                if let Some(rest) = name.strip_prefix("present.") {
                    next.push((format!("past_key_values.{rest}"), value));
                }
            }
            if next.len() != past.len() {
                return Err(bad_model(
                    &path,
                    format!("{} `present.*` outputs for {} cache inputs", next.len(), past.len()),
                ));
            }
            past = next;
            progress(step + 1, steps);
        }
        drop(session);
        pattern.undo(&seq).ok_or_else(|| inference_failed("decoding", "the delay pattern came out short"))
    }

    /// EnCodec: `[codebook][frame]` codes → mono samples.
    pub fn decode_audio(&self, codes: &[Vec<i64>]) -> EngineResult<Vec<f32>> {
        let failed = |e: ort::Error| inference_failed("audio decoding", e);
        let path = self.dir.join(model::ENCODEC);
        let books = codes.len();
        let frames = codes.first().map_or(0, Vec::len);
        if books != self.config.num_codebooks || frames == 0 || codes.iter().any(|c| c.len() != frames) {
            return Err(inference_failed("audio decoding", format!("{books} codebooks of uneven or no frames")));
        }
        let flat: Vec<i64> = codes.iter().flatten().copied().collect();
        let audio_codes = Tensor::from_array(([1usize, 1, books, frames], flat)).map_err(failed)?;
        let mut session = self.encodec.session.lock().unwrap_or_else(|e| e.into_inner());
        let outputs = session.run(ort::inputs!["audio_codes" => audio_codes]).map_err(failed)?;
        let value = outputs.get("audio_values").ok_or_else(|| bad_model(&path, "no output `audio_values`"))?;
        let (shape, samples) = value.try_extract_tensor::<f32>().map_err(failed)?;
        if shape.len() != 3 || shape[0] != 1 || shape[1] != 1 {
            return Err(bad_model(&path, format!("`audio_values` has shape {:?}", &shape[..])));
        }
        Ok(samples.to_vec())
    }
}

#[cfg(test)]
mod tests;
