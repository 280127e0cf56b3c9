//! `hyperframes sfx`: a sound effect from the HeyGen library, else the bundled library.

use std::path::PathBuf;

use clap::Args;

use super::fail;
use super::routing::{print_anomalies, RoutingArgs};
use crate::chains::sfx::{self, SfxRequest};
use crate::chains::ChainError;
use crate::output::Output;
use crate::providers::plan::{plan_for, Capability};
use crate::report::{SfxList, SfxListed, SfxResult};

#[derive(Args, Debug)]
pub(crate) struct SfxArgs {
    /// What it should sound like ("whoosh", "soft click", "success chime").
    query: Option<String>,
    /// Output WAV file (default: `<query>.wav`).
    #[arg(short, long, visible_alias = "out")]
    output: Option<PathBuf>,
    /// List the effects that match (every bundled effect without a query) instead of writing one.
    #[arg(long)]
    list: bool,
    #[command(flatten)]
    routing: RoutingArgs,
    #[arg(long)]
    json: bool,
}

async fn list(args: &SfxArgs, out: &Output) -> i32 {
    let query = args.query.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let mut rows = Vec::new();
    let mut anomalies = Vec::new();
    if let Some(q) = query {
        let (facts, providers) = crate::chains::gather(args.routing.local_only).await;
        let wants_heygen = args.routing.provider.as_deref().is_none_or(|p| p.eq_ignore_ascii_case("heygen"));
        if wants_heygen && plan_for(Capability::SoundEffects, &facts).chosen == Some(crate::providers::Provider::Heygen)
        {
            match sfx::list_heygen(q, &providers).await {
                Ok(r) => rows.extend(r),
                Err(e) => anomalies.push(e.anomaly()),
            }
        }
    }
    if args.routing.provider.as_deref().is_none_or(|p| p.eq_ignore_ascii_case("bundled")) {
        rows.extend(sfx::list_bundled(query));
    }
    // A library that could not be searched is said on stderr, and in the JSON's `anomalies`.
    print_anomalies(out, &anomalies);
    if args.json {
        out.success(&SfxList { effects: rows.iter().map(SfxListed::from).collect(), anomalies });
        return 0;
    }
    if rows.is_empty() {
        out.out(&out.dim("No sound effect matches."));
    }
    for r in &rows {
        let dur = r.duration.map(|d| format!("{d:.2}s")).unwrap_or_default();
        out.out(&format!("{:<8} {:<28} {:>7}  {}", r.provider, r.name, dur, out.dim(&r.description)));
    }
    0
}

pub(super) async fn run(args: SfxArgs, out: &Output) -> i32 {
    if args.list {
        return list(&args, out).await;
    }
    let Some(query) = args.query.clone().filter(|q| !q.trim().is_empty()) else {
        let e = ChainError::new("EMPTY_QUERY", "Say which sound effect you want.")
            .with_hint("hyperframes sfx whoosh -o whoosh.wav (or `hyperframes sfx --list`)");
        return fail(out, args.json, &e);
    };
    let output =
        args.output.clone().unwrap_or_else(|| PathBuf::from(format!("{}.wav", crate::sfx::library::slug(&query))));
    let out = &if crate::fsio::is_stdout(&output) { out.results_on_stderr() } else { *out };
    let req = SfxRequest { query, output, routing: args.routing.routing() };
    match sfx::sfx(&req).await {
        Ok(r) => {
            if args.json {
                out.success(&SfxResult::from(r));
            } else {
                print_anomalies(out, &r.anomalies);
                if let Some(m) = r.matched.as_ref().filter(|m| m.is_loose()) {
                    out.err(&out.err_dim(&format!(
                        "note: a loose match: {} has \"{}\" of \"{}\" (see `hyperframes sfx --list {}`)",
                        m.entry.name,
                        m.matched_words.join(" "),
                        m.query_words.join(" "),
                        m.query_words.join(" "),
                    )));
                }
                out.out(&format!(
                    "{} {} ({:.2}s, {}: {})",
                    out.green("✓"),
                    r.path.display(),
                    r.duration,
                    r.provider,
                    r.name
                ));
            }
            0
        }
        Err(e) => fail(out, args.json, &e),
    }
}
