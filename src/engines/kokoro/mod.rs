//! Kokoro-82M text to speech, in-process through ONNX Runtime.

pub mod model;
pub mod voices;
