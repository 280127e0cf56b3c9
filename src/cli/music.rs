//! `hyperframes music`: background music from the HeyGen library or Lyria, fitted to a length.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::routing::{chain_fail, print_anomalies, RoutingArgs};
use crate::chains::music::{self, MusicRequest, DEFAULT_SECONDS};
use crate::output::Output;

#[derive(Args, Debug)]
pub(crate) struct MusicArgs {
    /// A mood to search the library for, or a prompt to generate from.
    prompt: String,
    /// Length of the track in seconds (looped or trimmed to fit).
    #[arg(long, default_value_t = DEFAULT_SECONDS)]
    seconds: f64,
    /// Output WAV file.
    #[arg(short, long, visible_alias = "out", default_value = "bgm.wav")]
    output: PathBuf,
    #[command(flatten)]
    routing: RoutingArgs,
    #[arg(long)]
    json: bool,
}

pub(super) async fn run(args: MusicArgs, out: &Output) -> i32 {
    let req = MusicRequest {
        prompt: args.prompt.clone(),
        seconds: args.seconds,
        output: args.output.clone(),
        routing: args.routing.routing(),
    };
    match music::music(&req).await {
        Ok(r) => {
            if args.json {
                out.json(&json!({
                    "ok": true, "path": r.path, "provider": r.provider, "title": r.title,
                    "duration": r.duration, "sampleRate": r.sample_rate, "channels": r.channels,
                    "anomalies": r.anomalies,
                }));
            } else {
                print_anomalies(out, &r.anomalies);
                let title = r.title.as_ref().map(|t| format!(": {t}")).unwrap_or_default();
                out.out(&format!(
                    "{} {} ({:.1}s, {}{title})",
                    out.green("✓"),
                    r.path.display(),
                    r.duration,
                    r.provider
                ));
            }
            0
        }
        Err(e) => chain_fail(out, args.json, &e),
    }
}
