//! What the chain commands share: `--provider`, `--local-only`, `--no-fallback`, and printing a
//! chain's failure and anomalies.

use clap::Args;
use serde_json::json;

use crate::chains::{ChainError, Routing};
use crate::output::Output;

#[derive(Args, Debug, Clone, Default)]
pub(crate) struct RoutingArgs {
    /// Use only this provider (default: the plan's choice, falling through on provider failures).
    #[arg(long, value_name = "NAME")]
    pub provider: Option<String>,
    /// Never use a hosted provider (nothing touches the network).
    #[arg(long)]
    pub local_only: bool,
    /// Fail on the first provider failure instead of trying the next provider.
    #[arg(long)]
    pub no_fallback: bool,
}

impl RoutingArgs {
    pub fn routing(&self) -> Routing {
        Routing { provider: self.provider.clone(), local_only: self.local_only, no_fallback: self.no_fallback }
    }
}

/// Prints `{ok:false,error,code,hint,anomalies}` (JSON) or the message, hint and anomalies; 1.
pub(super) fn chain_fail(out: &Output, json: bool, e: &ChainError) -> i32 {
    if e.code == crate::fsio::STDOUT_CLOSED {
        return super::models::CLOSED_PIPE_EXIT;
    }
    if json {
        out.json(&json!({
            "ok": false, "error": e.message, "code": e.code, "hint": e.hint, "provider": e.provider,
            "anomalies": e.anomalies,
        }));
    } else {
        print_anomalies(out, &e.anomalies);
        out.err(&out.err_red(&e.message));
        if let Some(h) = &e.hint {
            out.err(&out.err_dim(h));
        }
    }
    1
}

/// Each skipped provider's failure, on stderr.
pub(super) fn print_anomalies(out: &Output, anomalies: &[String]) {
    for a in anomalies {
        out.err(&out.err_dim(&format!("  ! {a}")));
    }
}
