//! `listVoices()`: the Kokoro voices, marking the installed ones.

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi_derive::napi;

use crate::engines::kokoro::{service, voices};

#[napi(object)]
pub struct VoiceRow {
    pub id: String,
    pub label: String,
    pub language: String,
    pub gender: String,
    pub installed: bool,
}

/// All 54 Kokoro voices, marking the installed ones.
#[napi]
pub fn list_voices() -> Vec<VoiceRow> {
    let installed = service::model_spec(None).and_then(service::open_voices).map(|v| v.names()).unwrap_or_default();
    voices::catalog()
        .iter()
        .map(|v| VoiceRow {
            id: v.id.to_string(),
            label: v.display_name.to_string(),
            language: v.language.to_string(),
            gender: v.gender.to_string(),
            installed: installed.iter().any(|i| i.eq_ignore_ascii_case(v.id)),
        })
        .collect()
}
