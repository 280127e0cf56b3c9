//! Hosted providers (HeyGen, ElevenLabs, Lyria, OpenRouter, Gemini): one module per service,
//! sharing one error type and one request helper.

pub mod error;
pub mod http;
pub mod plan;
#[cfg(test)]
pub mod test_server;
