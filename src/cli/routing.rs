//! What the chain commands share: `--provider`, `--local-only`, `--no-fallback`, and printing a
//! chain's failure and anomalies.

use clap::Args;

use crate::chains::Routing;
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

/// Each skipped provider's failure, on stderr.
pub(super) fn print_anomalies(out: &Output, anomalies: &[String]) {
    for a in anomalies {
        out.err(&out.err_dim(&format!("  ! {a}")));
    }
}
