//! `hyperframes plan`: which provider each capability will use, and why the others are skipped.

use crate::output::Output;
use crate::providers::plan::{plan_all, Facts, Plan, PlanReport};

pub(super) async fn run(json: bool, local_only: bool, out: &Output) -> i32 {
    let plans = crate::blocking(move || plan_all(&Facts::gather(local_only))).await;
    if json {
        out.json(&PlanReport::new(&plans));
        return 0;
    }
    for line in lines(&plans, out) {
        out.out(&line);
    }
    0
}

/// The human form: one line per capability with its choice (and MusicGen's licence note when it
/// is chosen), then a dimmed line per candidate that cannot serve.
fn lines(plans: &[Plan], out: &Output) -> Vec<String> {
    let mut lines = Vec::new();
    for p in plans {
        let chosen = p
            .candidates
            .iter()
            .find(|c| Some(c.provider) == p.chosen)
            .map(|c| out.green(c.label))
            .unwrap_or_else(|| out.yellow("nothing (skipped)"));
        lines.push(format!("{:<13} → {chosen}", p.capability.as_str()));
        if let Some(note) = p.chosen.and_then(crate::chains::music::license_note) {
            lines.push(out.yellow(&format!("{:16}note: {note}", "")));
        }
        for c in p.candidates.iter().filter(|c| Some(c.provider) != p.chosen) {
            if let Some(reason) = &c.reason {
                let hint = c.setup_hint.as_ref().map(|h| format!(" — {h}")).unwrap_or_default();
                lines.push(out.dim(&format!("{:16}{}: {reason}{hint}", "", c.label)));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn music_planned_with_musicgen_carries_its_licence_note() {
        let out = Output::new(false, false);
        let facts = Facts { musicgen_installed: true, onnx_runtime: true, ..Facts::default() };
        let text = lines(&plan_all(&facts), &out).join("\n");
        assert!(text.contains("music         → MusicGen\n"), "{text}");
        assert!(text.contains("note: MusicGen's weights are CC-BY-NC-4.0"), "{text}");
        let without = lines(&plan_all(&Facts::default()), &out).join("\n");
        assert!(!without.contains("CC-BY-NC-4.0: music made"), "{without}");
    }
}
