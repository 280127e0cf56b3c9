//! Printing for `hyperframes doctor`.

use crate::auth::paths::redact_home;
use crate::output::Output;

pub(super) async fn run(json: bool, strict: bool, node_version: Option<String>, out: &Output) -> i32 {
    let report = crate::blocking(move || crate::doctor::run(node_version.as_deref())).await;
    if json {
        out.json(&report.report());
    } else {
        out.out(&out.bold("hyperframes doctor"));
        out.out("");
        for c in &report.checks {
            let mark = if c.ok {
                out.green("✓")
            } else if c.required {
                out.red("✗")
            } else {
                out.yellow("⚠")
            };
            out.out(&format!("{mark} {:<16} {}", c.name, redact_home(&c.detail, "~")));
            if let (false, Some(h)) = (c.ok, &c.hint) {
                out.out(&format!("{:19}{}", "", out.dim(&redact_home(h, "~"))));
            }
        }
        out.out("");
        if report.checks.iter().all(|c| c.ok) {
            out.out("◇  All checks passed");
        } else if report.ok() {
            out.out("◇  Required checks passed; optional items above can be installed when you need them");
        } else {
            out.out("◇  Some checks failed — see hints above");
        }
    }
    if strict && !report.ok() {
        1
    } else {
        0
    }
}
