//! `hyperframes voices` and `tts --list`: the voices of one provider (default: the one the plan
//! chooses), from [`crate::chains::voice::list_voices`].

use clap::Args;
use serde::Serialize;

use super::fail;
use crate::chains::voice::{list_voices, VoiceList, VoiceRow};
use crate::output::Output;

#[derive(Args, Debug)]
pub(crate) struct VoicesArgs {
    /// heygen, elevenlabs or kokoro (default: the plan's voice provider).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// Only voices speaking this language (a tag like `es`, or a name like `Spanish`).
    #[arg(long)]
    lang: Option<String>,
    /// Never ask a hosted provider (lists the local Kokoro voices).
    #[arg(long)]
    local_only: bool,
    #[arg(long)]
    json: bool,
}

impl VoicesArgs {
    /// `hyperframes tts --list --provider …`.
    pub(super) fn for_provider(provider: Option<&str>, lang: Option<String>, local_only: bool, json: bool) -> Self {
        Self { provider: provider.map(String::from), lang, local_only, json }
    }
}

/// `voices --json` (and `tts --list --json`).
#[derive(Serialize)]
struct VoicesReport {
    ok: bool,
    #[serde(flatten)]
    list: VoiceList,
}

pub(super) async fn run(args: VoicesArgs, out: &Output) -> i32 {
    let list = match list_voices(args.provider.as_deref(), args.lang.as_deref(), args.local_only).await {
        Ok(l) => l,
        Err(e) => return fail(out, args.json, &e),
    };
    if args.json {
        let report = VoicesReport { ok: true, list };
        out.out(&serde_json::to_string_pretty(&report).expect("reports always serialise"));
        return 0;
    }
    let rows = &list.voices;
    let width = |f: fn(&VoiceRow) -> usize, min: usize| rows.iter().map(f).max().unwrap_or(0).max(min);
    let (w_id, w_name, w_lang) = (width(|r| r.id.len(), 2), width(|r| r.name.len(), 4), width(|r| r.language.len(), 4));
    out.out(&format!("{:<w_id$} {:<w_name$} {:<w_lang$} {:<7} installed", "ID", "Name", "Lang", "Gender"));
    for r in rows {
        let mark = if r.installed == Some(true) { out.green("✓") } else { String::new() };
        let gender = r.gender.as_deref().unwrap_or("");
        out.out(&format!("{:<w_id$} {:<w_name$} {:<w_lang$} {gender:<7} {mark}", r.id, r.name, r.language));
    }
    if rows.is_empty() {
        out.out(&out.dim("No voices match."));
    } else if list.provider == "kokoro" && !rows.iter().any(|r| r.installed == Some(true)) {
        out.out(&out.dim("No voices installed: run `hyperframes models install kokoro`."));
    }
    out.out(&out.dim(&format!("{} {} voices", rows.len(), list.provider)));
    0
}
