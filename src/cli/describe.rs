//! `hyperframes describe`: one-sentence descriptions of images (OpenRouter or Gemini).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::fail;
use super::routing::{print_anomalies, RoutingArgs};
use crate::chains::describe::{self, DescribeRequest};
use crate::output::Output;

#[derive(Args, Debug)]
pub(crate) struct DescribeArgs {
    /// Image files (PNG, JPEG, WebP, GIF).
    #[arg(required = true)]
    images: Vec<PathBuf>,
    #[command(flatten)]
    routing: RoutingArgs,
    #[arg(long)]
    json: bool,
}

/// Exit 1 when any image failed; a skipped run (no vision provider) is not a failure.
pub(super) async fn run(args: DescribeArgs, out: &Output) -> i32 {
    let req = DescribeRequest { images: args.images.clone(), routing: args.routing.routing() };
    let r = match describe::describe(&req).await {
        Ok(r) => r,
        Err(e) => return fail(out, args.json, &e),
    };
    if r.skipped {
        let reason = r.reason.unwrap_or_default();
        if args.json {
            out.json(&json!(args
                .images
                .iter()
                .map(|p| json!({"path": p, "skipped": true, "reason": reason}))
                .collect::<Vec<_>>()));
        } else {
            out.err(&out.err_dim(&format!("Descriptions skipped: {reason}")));
        }
        return 0;
    }
    let failed = r.images.iter().any(|i| i.error.is_some());
    if args.json {
        out.json(&json!(r
            .images
            .iter()
            .map(|i| {
                let provider = i.provider.or(r.provider);
                let model = i.model.as_ref().or(r.model.as_ref());
                let mut v = json!({"path": i.path, "provider": provider, "model": model, "anomalies": i.anomalies});
                match (&i.description, &i.error) {
                    (Some(d), _) => v["description"] = json!(d),
                    (None, Some(e)) => {
                        v["error"] = json!(e.message);
                        v["code"] = json!(e.code);
                        v["hint"] = json!(e.hint);
                    }
                    (None, None) => {}
                }
                v
            })
            .collect::<Vec<_>>()));
    } else {
        for i in &r.images {
            print_anomalies(out, &i.anomalies);
            match (&i.description, &i.error) {
                (Some(d), _) => out.out(&format!("{}: {}", i.path.display(), d.replace('\n', " "))),
                (None, Some(e)) => out.out(&format!("{}: {} {}", i.path.display(), out.yellow("✗"), e.message)),
                (None, None) => {}
            }
        }
    }
    i32::from(failed)
}
