//! `hyperframes media build <request.json> --out DIR`: a script's whole audio in one run.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use serde_json::json;

use super::fail;
use super::routing::{print_anomalies, RoutingArgs};
use crate::media::{self, BuildOptions, Event, MediaError, MediaRequest};
use crate::output::Output;

#[derive(Subcommand, Debug)]
pub(crate) enum MediaCommand {
    /// Voice every line, fetch the sound effects and the music bed, and write audio_meta.json.
    Build(BuildArgs),
}

#[derive(Args, Debug)]
pub(crate) struct BuildArgs {
    /// The request file (JSON: {lines: [{id, text, sfx?}], music?}), or - to read it from stdin.
    request: String,
    /// The folder to write voice/, sfx/, music/ and audio_meta.json into (created if missing).
    #[arg(short, long)]
    out: PathBuf,
    /// Voice every line with this voice (overrides the request's).
    #[arg(long)]
    voice: Option<String>,
    /// Requests at once per hosted provider (default: the request's, else HYPERFRAMES_TTS_CONCURRENCY, else 4).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: Option<u16>,
    /// Leave the music bed out.
    #[arg(long)]
    no_music: bool,
    /// Never download the local voice model (fail the lines instead).
    #[arg(long)]
    no_download: bool,
    /// Voice every line again, even those unchanged since the last build into this folder.
    #[arg(long)]
    fresh: bool,
    #[command(flatten)]
    routing: RoutingArgs,
    /// Print the manifest as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(command: MediaCommand, out: &Output) -> i32 {
    match command {
        MediaCommand::Build(args) => build(args, out).await,
    }
}

fn read_request(source: &str) -> Result<MediaRequest, MediaError> {
    MediaRequest::parse(&MediaRequest::read_text(source)?)
}

/// The start of the anomaly `media build` records when the music bed fails.
const MUSIC_LEFT_OUT: &str = "music: left out";

/// How the ready lines came to be: "voiced", or "ready: 2 voiced, 1 kept unchanged" when a line
/// was kept from the previous build rather than voiced now.
fn lines_made(voices: &[crate::media::manifest::VoiceEntry]) -> String {
    let kept = voices.iter().filter(|v| v.reused).count();
    if kept == 0 {
        return "voiced".to_string();
    }
    format!("ready: {} voiced, {kept} kept unchanged", voices.len() - kept)
}

fn progress(out: &Output, event: Event) {
    let line = match event {
        Event::Started { lines, effects, music } => {
            let music = if music { ", a music bed" } else { "" };
            format!("Building {lines} line(s), {effects} sound effect(s){music}…")
        }
        Event::Line { id, reused: true, outcome: Ok((provider, seconds)) } => {
            format!("  = voice {id}  {seconds:.2}s  {provider} (unchanged, kept)")
        }
        Event::Line { id, outcome: Ok((provider, seconds)), .. } => {
            format!("  ✓ voice {id}  {seconds:.2}s  {provider}")
        }
        Event::Line { id, outcome: Err(why), .. } => format!("  ✗ voice {id}  {why}"),
        Event::Effect { name, outcome: Ok(provider) } => format!("  ✓ sfx {name}  {provider}"),
        Event::Effect { name, outcome: Err(why) } => format!("  ✗ sfx {name}  {why}"),
        Event::Music { outcome: Ok(provider) } => format!("  ✓ music  {provider}"),
        Event::Music { outcome: Err(why) } => format!("  ✗ music  {why}"),
    };
    out.err(&out.err_dim(&line));
}

async fn build(args: BuildArgs, out: &Output) -> i32 {
    let source = args.request.clone();
    let request = match crate::blocking(move || read_request(&source)).await {
        Ok(r) => r,
        Err(e) => return fail(out, args.json, &e),
    };
    let opts = BuildOptions {
        out: args.out.clone(),
        routing: args.routing.routing(),
        voice: args.voice.clone(),
        concurrency: args.concurrency.map(usize::from),
        allow_download: !args.no_download,
        no_music: args.no_music,
        fresh: args.fresh,
    };
    let quiet = args.json;
    let on_event = |e: Event| {
        if !quiet {
            progress(out, e);
        }
    };
    let manifest = match media::build(&request, &opts, &on_event).await {
        Ok(m) => m,
        Err(e) => return fail(out, args.json, &e),
    };
    let manifest_path = args.out.join(media::manifest::FILE_NAME);
    if args.json {
        let mut value = serde_json::to_value(&manifest).expect("the manifest always serialises");
        value["manifest_path"] = json!(manifest_path);
        out.json(&value);
    } else {
        // The progress lines already said why the music was left out ("✗ music …").
        let anomalies: Vec<String> =
            manifest.anomalies.iter().filter(|a| !a.starts_with(MUSIC_LEFT_OUT)).cloned().collect();
        print_anomalies(out, &anomalies);
        if let Some(note) = manifest.bgm.as_ref().and_then(|m| m.license) {
            out.err(&out.err_dim(&format!("note: {note}")));
        }
        let music = if manifest.bgm.is_some() { " · music" } else { "" };
        let summary = format!(
            "{} of {} line(s) {} ({:.1}s) · {} sound effect cue(s){music} → {}",
            manifest.voices.len(),
            request.lines.len(),
            lines_made(&manifest.voices),
            manifest.total_duration_s,
            manifest.sfx.len(),
            manifest_path.display()
        );
        let mark = if manifest.ok { out.green("✓") } else { out.red("✗") };
        out.out(&format!("{mark} {summary}"));
    }
    i32::from(!manifest.ok)
}
