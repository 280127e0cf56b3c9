//! The parts of the export's `config.json` the engine needs, with musicgen-small's values as
//! defaults for anything the file leaves out.

use serde_json::Value;

use crate::engines::error::{EngineError, EngineResult};

#[derive(Debug, Clone, PartialEq)]
pub struct MusicgenConfig {
    pub num_codebooks: usize,
    /// Pad token of the delay pattern (2048): one past the last code.
    pub pad_token_id: i64,
    /// The token every codebook starts from (2048).
    pub decoder_start_token_id: i64,
    /// Output rate of EnCodec (32 000 Hz).
    pub sampling_rate: u32,
    /// Codes per second (50).
    pub frame_rate: f64,
    /// Classifier-free guidance scale (3; from `generation_config.json` in the Hugging Face repo,
    /// so usually absent here).
    pub guidance_scale: f32,
    pub num_hidden_layers: Option<usize>,
    pub num_attention_heads: Option<usize>,
    pub hidden_size: Option<usize>,
}

impl Default for MusicgenConfig {
    fn default() -> Self {
        Self {
            num_codebooks: 4,
            pad_token_id: 2048,
            decoder_start_token_id: 2048,
            sampling_rate: 32_000,
            frame_rate: 50.0,
            guidance_scale: 3.0,
            num_hidden_layers: None,
            num_attention_heads: None,
            hidden_size: None,
        }
    }
}

fn uint(v: Option<&Value>) -> Option<u64> {
    v.and_then(Value::as_u64)
}

impl MusicgenConfig {
    /// Parses `config.json`. `what` names the file in errors.
    pub fn parse(text: &str, what: &str) -> EngineResult<Self> {
        let bad = |detail: String| EngineError::new("BAD_MODEL", format!("{what} is not a MusicGen config: {detail}"));
        let json: Value = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        if !json.is_object() {
            return Err(bad("not a JSON object".into()));
        }
        let d = MusicgenConfig::default();
        let decoder = json.get("decoder");
        let audio = json.get("audio_encoder");
        let pick = |key: &str| decoder.and_then(|dec| dec.get(key)).or_else(|| json.get(key));

        let num_codebooks = uint(pick("num_codebooks")).map_or(d.num_codebooks, |n| n as usize);
        if !(1..=16).contains(&num_codebooks) {
            return Err(bad(format!("num_codebooks {num_codebooks}")));
        }
        let pad_token_id = pick("pad_token_id").and_then(Value::as_i64).unwrap_or(d.pad_token_id);
        let decoder_start_token_id = json
            .get("decoder_start_token_id")
            .or_else(|| decoder.and_then(|dec| dec.get("bos_token_id")))
            .and_then(Value::as_i64)
            .unwrap_or(pad_token_id);
        let sampling_rate = uint(audio.and_then(|a| a.get("sampling_rate"))).map_or(d.sampling_rate, |r| r as u32);
        if sampling_rate == 0 {
            return Err(bad("audio_encoder.sampling_rate is 0".into()));
        }
        let hop: Option<u64> = audio
            .and_then(|a| a.get("upsampling_ratios"))
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_u64).product());
        let frame_rate = audio
            .and_then(|a| a.get("frame_rate"))
            .and_then(Value::as_f64)
            .or_else(|| hop.filter(|h| *h > 0).map(|h| f64::from(sampling_rate) / h as f64))
            .unwrap_or(d.frame_rate);
        if !(frame_rate.is_finite() && frame_rate > 0.0) {
            return Err(bad(format!("frame rate {frame_rate}")));
        }
        let guidance_scale = json.get("guidance_scale").and_then(Value::as_f64).map_or(d.guidance_scale, |g| g as f32);
        Ok(Self {
            num_codebooks,
            pad_token_id,
            decoder_start_token_id,
            sampling_rate,
            frame_rate,
            guidance_scale,
            num_hidden_layers: uint(pick("num_hidden_layers")).map(|n| n as usize),
            num_attention_heads: uint(pick("num_attention_heads")).map(|n| n as usize),
            hidden_size: uint(pick("hidden_size")).map(|n| n as usize),
        })
    }

    #[cfg(test)]
    /// Audio samples per code frame (640 at 32 kHz and 50 Hz).
    pub fn samples_per_frame(&self) -> f64 {
        f64::from(self.sampling_rate) / self.frame_rate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::testing::musicgen_graphs::{config_json, TINY};

    #[test]
    fn musicgen_config_reads_the_export_layout() {
        let c = MusicgenConfig::parse(&config_json(TINY), "config.json").unwrap();
        assert_eq!(c.num_codebooks, 4);
        assert_eq!((c.pad_token_id, c.decoder_start_token_id), (2048, 2048));
        assert_eq!(c.sampling_rate, 32_000);
        assert_eq!(c.frame_rate, 50.0, "32000 / (8·5·4·4)");
        assert_eq!(c.samples_per_frame(), 640.0);
        assert_eq!(c.guidance_scale, 3.0);
        assert_eq!((c.num_hidden_layers, c.num_attention_heads, c.hidden_size), (Some(2), Some(2), Some(8)));
    }

    #[test]
    fn musicgen_config_rejects_nonsense() {
        assert_eq!(MusicgenConfig::parse("[1]", "c").unwrap_err().code, "BAD_MODEL");
        assert_eq!(MusicgenConfig::parse("not json", "c").unwrap_err().code, "BAD_MODEL");
        let zero = r#"{"decoder": {"num_codebooks": 0}}"#;
        assert!(MusicgenConfig::parse(zero, "c").unwrap_err().message.contains("num_codebooks"));
        let explicit = r#"{"guidance_scale": 5, "audio_encoder": {"sampling_rate": 24000, "frame_rate": 75}}"#;
        let c = MusicgenConfig::parse(explicit, "c").unwrap();
        assert_eq!((c.guidance_scale, c.sampling_rate, c.frame_rate), (5.0, 24_000, 75.0));
    }
}
