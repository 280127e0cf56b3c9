//! Hosted providers (HeyGen, ElevenLabs, Lyria, OpenRouter, Gemini): one module per service,
//! sharing one error type and one request helper.

pub mod elevenlabs;
pub mod error;
pub mod gemini;
pub mod heygen;
pub mod http;
pub mod lyria;
pub mod openrouter;
pub mod plan;
pub mod speech;
#[cfg(test)]
pub mod test_server;
pub mod vision;
