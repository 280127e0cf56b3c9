//! `hyperframes plan`: which provider each capability will use, and why the others are skipped.

use crate::output::Output;
use crate::providers::plan::{plan_all, Facts, PlanReport};

pub(super) async fn run(json: bool, local_only: bool, out: &Output) -> i32 {
    let plans = crate::blocking(move || plan_all(&Facts::gather(local_only))).await;
    if json {
        out.json(&PlanReport::new(&plans));
        return 0;
    }
    for p in &plans {
        let chosen = p
            .candidates
            .iter()
            .find(|c| Some(c.provider) == p.chosen)
            .map(|c| out.green(c.label))
            .unwrap_or_else(|| out.yellow("nothing (skipped)"));
        out.out(&format!("{:<13} → {chosen}", p.capability.as_str()));
        if let Some(note) = p.chosen.and_then(crate::chains::music::license_note) {
            out.out(&out.yellow(&format!("{:16}note: {note}", "")));
        }
        for c in p.candidates.iter().filter(|c| Some(c.provider) != p.chosen) {
            if let Some(reason) = &c.reason {
                let hint = c.setup_hint.as_ref().map(|h| format!(" — {h}")).unwrap_or_default();
                out.out(&out.dim(&format!("{:16}{}: {reason}{hint}", "", c.label)));
            }
        }
    }
    0
}
