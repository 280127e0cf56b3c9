//! The local MusicGen engine: text-to-music with the Xenova/musicgen-small ONNX export, in process
//! through ONNX Runtime.
//!
//! - [`tokenizer`]: the T5 Unigram tokenizer from `tokenizer.json`.
//! - [`config`]: the values of `config.json` the engine needs.
//! - [`delay`]: the codebook delay pattern, built and undone in Rust.
//! - [`sampling`]: classifier-free guidance and seeded top-k sampling.
//! - [`model`]: the three sessions, checked against the export's tensors, and the errors that
//!   name a missing or mismatched model.
//! - [`engine`]: the generation loop with the decoder's key/value cache, and EnCodec decoding.
//! - [`service`]: the installed model, shared per process, and the seed length for a request.

pub mod config;
pub mod delay;
pub mod engine;
pub mod model;
pub mod sampling;
pub mod service;
pub mod tokenizer;
