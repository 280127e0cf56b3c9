//! `hyperframes describe`: one-sentence descriptions of images (OpenRouter or Gemini).

use std::path::PathBuf;

use clap::Args;

use super::fail;
use super::routing::{print_anomalies, RoutingArgs};
use crate::chains::describe::{self, DescribeRequest};
use crate::output::{terminal_line, Output};
use crate::report::DescribeResult;

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

/// Exit 1 when any image failed; a skipped run (no vision provider) is not a failure. `--json` is
/// `describe()`'s result with `ok` (false when an image failed), skipped or not.
pub(super) async fn run(args: DescribeArgs, out: &Output) -> i32 {
    let req = DescribeRequest { images: args.images.clone(), routing: args.routing.routing() };
    let r = match describe::describe(&req).await {
        Ok(r) => DescribeResult::from(r),
        Err(e) => return fail(out, args.json, &e),
    };
    let failed = r.images.iter().any(|i| i.error.is_some());
    if args.json {
        out.json(&Described { ok: !failed, result: &r });
        return i32::from(failed);
    }
    if r.skipped {
        out.err(&out.err_dim(&format!("Descriptions skipped: {}", r.reason.unwrap_or_default())));
        return 0;
    }
    for i in &r.images {
        print_anomalies(out, &i.anomalies);
        match (&i.description, &i.error) {
            // Descriptions and errors are a provider's text: no escapes reach the terminal.
            (Some(d), _) => out.out(&format!("{}: {}", terminal_line(&i.path), terminal_line(d))),
            (None, Some(e)) => {
                out.out(&format!("{}: {} {}", terminal_line(&i.path), out.yellow("✗"), terminal_line(e)))
            }
            (None, None) => {}
        }
    }
    i32::from(failed)
}

#[derive(serde::Serialize)]
struct Described<'a> {
    ok: bool,
    #[serde(flatten)]
    result: &'a DescribeResult,
}
