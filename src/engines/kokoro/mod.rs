//! Kokoro-82M text to speech, in-process through ONNX Runtime, with word timings from the
//! model's own per-token durations.

pub mod chunk;
pub mod engine;
pub mod g2p;
pub mod lexicon;
pub mod markup;
pub mod model;
pub mod pauses;
pub mod service;
pub mod timing;
pub mod vocab;
pub mod voices;
