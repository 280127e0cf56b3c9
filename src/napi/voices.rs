//! `listVoices()`: the Kokoro voices, marking the installed ones; the same rows as
//! `hyperframes voices --provider kokoro --json` (from [`crate::chains::voice::kokoro_voices`]).

#![cfg_attr(test, allow(dead_code))] // napi registers these only in the addon build

use napi_derive::napi;

use crate::chains::voice::kokoro_voices;

#[napi(object)]
pub struct VoiceRow {
    pub id: String,
    pub name: String,
    pub language: String,
    /// `female` or `male`.
    pub gender: String,
    pub installed: bool,
}

/// All 54 Kokoro voices, marking the installed ones.
#[napi]
pub fn list_voices() -> Vec<VoiceRow> {
    kokoro_voices(None)
        .into_iter()
        .map(|v| VoiceRow {
            id: v.id,
            name: v.name,
            language: v.language,
            gender: v.gender.unwrap_or_default(),
            installed: v.installed.unwrap_or(false),
        })
        .collect()
}
