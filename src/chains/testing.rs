//! Test helpers: clients pointed at a [`TestServer`], with fast retry policies.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::client::HeygenClient;
use crate::auth::resolve::{Credential, Source};
use crate::providers::elevenlabs::ElevenLabs;
use crate::providers::heygen::HeygenMedia;
use crate::providers::http::Policy;
use crate::providers::lyria::Lyria;
use crate::providers::plan::Facts;
use crate::providers::test_server::{RecordingSleeper, Scripted, TestServer};
use crate::test_support::{env_lock, EnvGuard};

pub fn fast() -> Policy {
    Policy { timeout: Duration::from_millis(2_000), ..Policy::default() }
}

pub fn heygen(server: &TestServer) -> HeygenMedia {
    let cred = Credential::api_key(Source::Env, "hg_chain_test_key_0001");
    let client = {
        let _lock = env_lock();
        let _env = EnvGuard::set(&[("HEYGEN_API_URL", Some(server.url().as_str()))]);
        HeygenClient::new(cred)
    };
    HeygenMedia::with_client(client)
        .with_base_url(&server.url())
        .with_policy(fast())
        .with_sleeper(Arc::new(RecordingSleeper::default()))
}

pub fn elevenlabs(server: &TestServer) -> ElevenLabs {
    ElevenLabs::new("el_chain_test_key_0001", &server.url())
        .with_policy(fast())
        .with_sleeper(Arc::new(RecordingSleeper::default()))
}

pub fn lyria(server: &TestServer) -> Lyria {
    Lyria::new("gm_chain_test_key_0001", server.url(), fast(), Arc::new(RecordingSleeper::default()))
}

/// Facts with every hosted key present (ONNX Runtime and Kokoro absent).
pub fn all_keys() -> Facts {
    Facts { heygen: true, elevenlabs_key: true, gemini_key: true, openrouter_key: false, ..Facts::default() }
}

/// A mono 16-bit WAV of `seconds` of a 440 Hz tone at `rate`.
pub fn tone_wav(seconds: f64, rate: u32, channels: u16) -> Vec<u8> {
    let frames = (seconds * f64::from(rate)) as usize;
    let mut samples = Vec::with_capacity(frames * usize::from(channels));
    for i in 0..frames {
        let s = 0.5 * (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin();
        for _ in 0..channels {
            samples.push(s as f32);
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    let spec =
        hound::WavSpec { channels, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for s in samples {
        w.write_sample(crate::audio::wav::to_i16(s)).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

pub fn wav_reply(bytes: Vec<u8>) -> Scripted {
    Scripted::bytes(200, "audio/wav", bytes)
}

pub const SINE_MP3: &[u8] = include_bytes!("../audio/testdata/sine440.mp3");
