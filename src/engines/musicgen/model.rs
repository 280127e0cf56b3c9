//! The three ONNX sessions of the export (text encoder, merged decoder, EnCodec decoder), checked
//! against the tensor names, dtypes and ranks the engine feeds them.

use std::path::Path;
use std::sync::Mutex;

use ort::session::Session;
use ort::value::{TensorElementType, ValueType};

use super::config::MusicgenConfig;
use crate::engines::catalog;
use crate::engines::error::{EngineError, EngineResult};
use crate::engines::runtime;

pub const TEXT_ENCODER: &str = "text_encoder_quantized.onnx";
pub const DECODER: &str = "decoder_model_merged_quantized.onnx";
pub const ENCODEC: &str = "encodec_decode.onnx";
pub const TOKENIZER: &str = "tokenizer.json";
pub const CONFIG: &str = "config.json";

/// The catalog name of the model.
pub const MODEL: &str = "musicgen-small";
/// Said wherever the user is told to install it.
pub const LICENSE_NOTE: &str = "the MusicGen weights are CC-BY-NC-4.0, for non-commercial use only";

fn install_hint() -> String {
    format!("Run `{}` ({LICENSE_NOTE}).", catalog::install_command(MODEL))
}

/// `MODEL_MISSING` for the models root `root`.
pub fn missing(root: &Path) -> EngineError {
    EngineError::new("MODEL_MISSING", format!("The MusicGen model is not installed in {}.", root.display()))
        .with_hint(install_hint())
}

/// `MODEL_MISSING` for one file of a model folder.
pub(crate) fn missing_file(dir: &Path, name: &str) -> EngineError {
    EngineError::new("MODEL_MISSING", format!("The MusicGen model in {} has no {name}.", dir.display()))
        .with_hint(install_hint())
}

/// A model file whose tensors are not what the engine expects.
pub fn bad_model(file: &Path, detail: impl std::fmt::Display) -> EngineError {
    EngineError::new("BAD_MODEL", format!("{} does not match the MusicGen export: {detail}", file.display())).with_hint(
        "Reinstall it with `hyperframes models remove musicgen-small` then `hyperframes models install musicgen-small` \
         (the Xenova/musicgen-small ONNX export).",
    )
}

pub(crate) fn inference_failed(what: &str, e: impl std::fmt::Display) -> EngineError {
    EngineError::new("INFERENCE_FAILED", format!("MusicGen {what} failed: {e}"))
}

fn build_session(path: &Path) -> EngineResult<Session> {
    let rt = runtime::ensure_loaded()?;
    let mut builder = Session::builder(rt.environment())
        .and_then(|b| b.with_intra_threads(runtime::threads()).map_err(ort::Error::<()>::from))
        .map_err(|e| bad_model(path, e))?;
    builder.commit_from_file(path).map_err(|e| bad_model(path, e))
}

/// What a tensor must look like: element type and rank.
struct Expect<'a> {
    name: &'a str,
    ty: TensorElementType,
    rank: usize,
}

fn tensor_of(ty: &ValueType) -> Option<(TensorElementType, Vec<i64>)> {
    match ty {
        ValueType::Tensor { ty, shape, .. } => Some((*ty, shape.iter().copied().collect())),
        _ => None,
    }
}

/// Finds `e` among `outlets` (a session's inputs or outputs) and checks its type and rank; returns
/// its declared dimensions (−1 for symbolic ones).
fn check(path: &Path, outlets: &[ort::value::Outlet], side: &str, e: Expect<'_>) -> EngineResult<Vec<i64>> {
    let outlet = outlets.iter().find(|o| o.name() == e.name).ok_or_else(|| {
        let names: Vec<&str> = outlets.iter().map(|o| o.name()).take(8).collect();
        bad_model(
            path,
            format!(
                "no {side} `{}` (it has {}{})",
                e.name,
                names.join(", "),
                if outlets.len() > 8 { ", …" } else { "" }
            ),
        )
    })?;
    let (ty, dims) =
        tensor_of(outlet.dtype()).ok_or_else(|| bad_model(path, format!("{side} `{}` is not a tensor", e.name)))?;
    if ty != e.ty {
        return Err(bad_model(path, format!("{side} `{}` is {ty:?}, expected {:?}", e.name, e.ty)));
    }
    if dims.len() != e.rank {
        return Err(bad_model(path, format!("{side} `{}` has rank {}, expected {}", e.name, dims.len(), e.rank)));
    }
    Ok(dims)
}

fn input(name: &str, ty: TensorElementType, rank: usize) -> Expect<'_> {
    Expect { name, ty, rank }
}

use TensorElementType::{Bool, Float32, Int64};

pub struct TextEncoder {
    pub session: Mutex<Session>,
}

impl TextEncoder {
    pub fn load(path: &Path) -> EngineResult<Self> {
        let session = build_session(path)?;
        check(path, session.inputs(), "input", input("input_ids", Int64, 2))?;
        check(path, session.inputs(), "input", input("attention_mask", Int64, 2))?;
        check(path, session.outputs(), "output", input("last_hidden_state", Float32, 3))?;
        Ok(Self { session: Mutex::new(session) })
    }
}

/// The merged decoder and the shape of its cache.
pub struct Decoder {
    pub session: Mutex<Session>,
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
}

impl Decoder {
    pub fn load(path: &Path, config: &MusicgenConfig) -> EngineResult<Self> {
        let session = build_session(path)?;
        let (ins, outs) = (session.inputs(), session.outputs());
        check(path, ins, "input", input("input_ids", Int64, 2))?;
        check(path, ins, "input", input("encoder_hidden_states", Float32, 3))?;
        check(path, ins, "input", input("encoder_attention_mask", Int64, 2))?;
        check(path, ins, "input", input("use_cache_branch", Bool, 1))?;
        check(path, outs, "output", input("logits", Float32, 3))?;
        // Layers: however many `past_key_values.{i}.decoder.key` inputs there are.
        let layers =
            (0..).take_while(|i| ins.iter().any(|o| o.name() == format!("past_key_values.{i}.decoder.key"))).count();
        if layers == 0 {
            return Err(bad_model(path, "no input `past_key_values.0.decoder.key`"));
        }
        if let Some(n) = config.num_hidden_layers.filter(|n| *n != layers) {
            return Err(bad_model(path, format!("{layers} cache layers, but config.json says {n}")));
        }
        let mut heads = None;
        let mut head_dim = None;
        for i in 0..layers {
            for part in ["decoder", "encoder"] {
                for kind in ["key", "value"] {
                    let past = format!("past_key_values.{i}.{part}.{kind}");
                    let dims = check(path, ins, "input", input(&past, Float32, 4))?;
                    check(path, outs, "output", input(&format!("present.{i}.{part}.{kind}"), Float32, 4))?;
                    for (slot, value) in [(&mut heads, dims[1]), (&mut head_dim, dims[3])] {
                        if value > 0 {
                            match *slot {
                                Some(v) if v != value as usize => {
                                    return Err(bad_model(path, format!("input `{past}` has dimensions {dims:?}")))
                                }
                                _ => *slot = Some(value as usize),
                            }
                        }
                    }
                }
            }
        }
        // Symbolic head sizes: take them from config.json.
        let heads = heads.or(config.num_attention_heads).ok_or_else(|| {
            bad_model(path, "the cache inputs do not fix the number of heads and config.json does not give it")
        })?;
        let head_dim =
            head_dim.or_else(|| config.hidden_size.map(|h| h / heads.max(1))).filter(|d| *d > 0).ok_or_else(|| {
                bad_model(path, "the cache inputs do not fix the head size and config.json does not give it")
            })?;
        Ok(Self { session: Mutex::new(session), layers, heads, head_dim })
    }
}

pub struct Encodec {
    pub session: Mutex<Session>,
}

impl Encodec {
    pub fn load(path: &Path, codebooks: usize) -> EngineResult<Self> {
        let session = build_session(path)?;
        let dims = check(path, session.inputs(), "input", input("audio_codes", Int64, 4))?;
        if dims[2] > 0 && dims[2] as usize != codebooks {
            return Err(bad_model(path, format!("input `audio_codes` takes {} codebooks, not {codebooks}", dims[2])));
        }
        check(path, session.outputs(), "output", input("audio_values", Float32, 3))?;
        Ok(Self { session: Mutex::new(session) })
    }
}
