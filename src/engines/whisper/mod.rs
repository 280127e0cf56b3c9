//! Whisper in-process: transcription with word times from the alignment heads' cross-attention,
//! and alignment of recorded speech to the script it reads.

pub mod align;
pub mod decode;
pub mod engine;
pub mod heads;
pub mod mel;
pub mod model;
pub mod service;
pub mod timing;
pub mod tokenizer;
pub mod window;
pub mod words;

pub use engine::Transcript;
pub use service::{transcribe_bytes, transcribe_decoded, transcribe_file, TranscribeRequest};
