//! Printing for `hyperframes auth …`.

use super::{fail, prompt, AuthCommand};
use crate::auth::error::{AuthError, AuthErrorCode};
use crate::auth::login::{self, LoginEvent, LoginOutcome};
use crate::auth::resolve::Kind;
use crate::auth::status::{self, Status};
use crate::auth::{browser, session};
use crate::environment::{self, Tty};
use crate::output::{terminal_line, Output};
use crate::report::{RefreshResult, TokenResult};

pub(super) async fn run(cmd: AuthCommand, tty: Tty, out: &Output) -> i32 {
    match cmd {
        AuthCommand::Login { api_key, device, keyring } => login(api_key, device, keyring, tty, out).await,
        AuthCommand::Status { json } => print_status(status::status(tty).await, json, out),
        AuthCommand::Logout { keep_api_key, yes } => logout(keep_api_key, yes, tty, out).await,
        AuthCommand::Refresh { json } => match session::refresh().await {
            Ok(r) => {
                let r = RefreshResult::from(r);
                if json {
                    out.success(&r);
                } else {
                    let until = r.expires_at.map(|e| format!(" (expires {e})")).unwrap_or_default();
                    out.out(&format!("{} Refreshed OAuth access token{until}.", out.green("✓")));
                }
                0
            }
            Err(e) => fail(out, json, &e),
        },
        AuthCommand::Token { json } => match session::token().await {
            Ok(c) => {
                if json {
                    let token = TokenResult::from(c);
                    let report = crate::report::Success::new(&token);
                    out.out_secret(&serde_json::to_string_pretty(&report).expect("reports always serialise"));
                } else {
                    out.out_secret(&c.secret);
                }
                0
            }
            Err(e) => fail(out, json, &e),
        },
    }
}

fn print_login_event(out: &Output, event: LoginEvent) {
    match event {
        LoginEvent::OpeningBrowser { location } => out.out(&format!("Opening browser to {location} ...")),
        LoginEvent::BrowserFailed { detail, url } => {
            out.err(&format!("Could not open browser automatically ({detail})."));
            out.err("Open this URL manually to continue:");
            out.err(&url);
            out.out(&out.dim("(open the URL above to continue)"));
        }
        LoginEvent::BrowserDisabled { url } => {
            out.err("Browser auto-open is disabled.");
            out.err("Open this URL manually to continue:");
            out.err(&url);
        }
        LoginEvent::WaitingForCallback { redirect_uri } => {
            out.out(&format!("Waiting for callback on {redirect_uri} ..."))
        }
        LoginEvent::DeviceCode { verification_uri, complete, user_code } => {
            out.out(&format!("Open {verification_uri} in a browser."));
            if !complete {
                out.out(&format!("Enter code {}.", out.bold(&terminal_line(&user_code))));
            }
        }
        LoginEvent::WaitingForApproval => out.out("Waiting for approval…"),
    }
}

fn print_login_outcome(out: &Output, o: &LoginOutcome, api_key: bool) {
    for w in &o.warnings {
        out.err(&format!("{} {w}", out.yellow("⚠")));
    }
    // The identity and its error are the server's text.
    let who = o.identity.as_deref().map(terminal_line).unwrap_or_else(|| "(unknown user)".into());
    let place = if o.in_keyring { " (secret kept in the OS keyring)" } else { "" };
    if let Some(err) = &o.identity_error {
        out.out(&format!(
            "{} Signed in{place}. The identity check failed: {} (the sign-in is saved; `hyperframes auth status` checks again)",
            out.green("✓"),
            terminal_line(err)
        ));
    } else if api_key {
        out.out(&format!("{} API key saved{place}. Authenticated as {who}.", out.green("✓")));
    } else {
        out.out(&format!("{} Signed in as {who}{place}.", out.green("✓")));
    }
}

async fn login(api_key: Option<String>, device: bool, keyring: bool, tty: Tty, out: &Output) -> i32 {
    if device && api_key.is_some() {
        return fail(out, false, &AuthError::usage("Choose either --device or --api-key, not both."));
    }
    if let Some(value) = api_key {
        let key = if !value.trim().is_empty() {
            Ok(value)
        } else if !tty.stdin {
            prompt::read_stdin(prompt::STDIN_TIMEOUT)
        } else {
            crate::blocking(prompt::hidden_api_key).await
        };
        let result = match key {
            Ok(k) => login::login_with_api_key(k, keyring).await,
            Err(e) => Err(e),
        };
        return match result {
            Ok(o) => {
                print_login_outcome(out, &o, true);
                0
            }
            Err(e) => fail(out, false, &e),
        };
    }
    let on_event = |e: LoginEvent| print_login_event(out, e);
    let result = if device {
        if environment::is_ci() || !(tty.stdin && tty.stdout) {
            return fail(
                out,
                false,
                &AuthError::usage("`--device` needs an interactive terminal (stdin and stdout) outside CI.").with_hint(
                    "In CI or scripts, set HEYGEN_API_KEY or pipe a key to `hyperframes auth login --api-key`.",
                ),
            );
        }
        login::login_with_device(keyring, &on_event).await
    } else {
        if let Some(reason) = environment::browser_blocker(tty.stdout) {
            return fail(
                out,
                false,
                &AuthError::usage(format!("Browser sign-in is not available: {reason}."))
                    .with_hint("Run `hyperframes auth login --device`, or `hyperframes auth login --api-key`."),
            );
        }
        login::login_with_browser(keyring, &browser::open, &on_event).await
    };
    match result {
        Ok(o) => {
            print_login_outcome(out, &o, false);
            0
        }
        Err(e) if e.code == AuthErrorCode::Usage || e.code == AuthErrorCode::DeviceAuthFailed => fail(out, false, &e),
        Err(mut e) => {
            e.message = format!("Sign-in failed: {}", e.message);
            fail(out, false, &e)
        }
    }
}

async fn logout(keep_api_key: bool, yes: bool, tty: Tty, out: &Output) -> i32 {
    if !yes {
        let what = if keep_api_key { "the OAuth session" } else { "the stored HeyGen credential" };
        let ok = prompt::confirm(&format!("This signs you out and removes {what}. Continue?"), tty.stdin);
        if !ok {
            out.err("Aborted.");
            if !tty.stdin {
                out.err(&out.err_dim("Pass --yes to sign out without a prompt."));
            }
            return 1;
        }
    }
    match session::logout(keep_api_key).await {
        Ok(o) => {
            for w in &o.warnings {
                out.out(&out.dim(w));
            }
            for v in &o.env_still_set {
                out.out(&format!(
                    "{} {v} is still set in your environment and will keep being used; unset it to sign out fully.",
                    out.yellow("⚠")
                ));
            }
            if keep_api_key {
                let line = match (o.removed_oauth, o.kept_api_key) {
                    (true, true) => "OAuth session removed. API key retained.",
                    (true, false) => "OAuth session removed. No API key was stored, so no HeyGen credential remains.",
                    (false, true) => "No OAuth session was stored. API key retained.",
                    (false, false) => "No OAuth session and no API key were stored; nothing was removed.",
                };
                out.out(&format!("{} {line}", out.green("✓")));
            } else if let Some(path) = o.removed {
                out.out(&format!("{} Signed out. Removed {path}.", out.green("✓")));
            } else {
                out.out(&format!("{} Signed out. No stored credential was found.", out.green("✓")));
            }
            0
        }
        Err(e) => fail(out, false, &e),
    }
}

fn print_status(st: Status, json: bool, out: &Output) -> i32 {
    let code = if st.ok() { 0 } else { 1 };
    if json {
        match &st {
            // Compact when signed out, as the HyperFrames JS CLI prints it.
            Status::NotConfigured { .. } => {
                out.out(&serde_json::to_string(&st.report()).expect("reports always serialise"))
            }
            _ => out.json(&st.report()),
        }
        return code;
    }
    match &st {
        Status::Broken(e) => {
            fail(out, false, e);
        }
        Status::NotConfigured { interactive: false, engines } => {
            out.out("Not signed in to HeyGen (non-interactive).");
            out.out(&out.dim(&format!(
                "Set HEYGEN_API_KEY to use HeyGen; otherwise local engines: {}.",
                crate::auth::status::offline_summary(engines)
            )));
        }
        Status::NotConfigured { interactive: true, engines } => {
            out.out(&format!(
                "Not signed in to HeyGen — local engines (free, offline): {}.",
                crate::auth::status::offline_summary(engines)
            ));
            out.out("");
            out.out("Sign in or sign up (browser OAuth, writes ~/.heygen — no per-repo .env):");
            out.out(&format!("  {}", out.bold("npx hyperframes auth login")));
            out.out("Or use an API key from https://app.heygen.com/settings/api:");
            out.out(&format!("  {}", out.bold("npx hyperframes auth login --api-key")));
            out.out("");
            out.out("Prefer offline? Workflows will use these local engines:");
            for e in engines {
                if e.ready {
                    out.out(&format!("  {} → {}  {}", e.capability, e.label, out.green("✓ ready")));
                    if e.capability == "music" && e.label == "MusicGen" {
                        out.out(&format!("      {}", out.yellow(crate::chains::music::MUSICGEN_LICENSE_NOTE)));
                    }
                } else {
                    out.out(&format!("  {} → {}  {}", e.capability, e.label, out.yellow("⚠ not installed")));
                    if let Some(h) = &e.setup_hint {
                        out.out(&format!("      {}", out.dim(h)));
                    }
                }
            }
            if engines.iter().any(|e| !e.ready) {
                out.out(&out.dim("Run `npx hyperframes doctor` for details."));
            }
        }
        Status::Configured(c) => {
            let cred = &c.credential;
            out.out(&format!("Source:   {}", cred.source.label()));
            out.out(&format!("Type:     {}", cred.kind.as_str()));
            if cred.kind == Kind::OAuth {
                let state = if cred.expired { "expired" } else { "valid" };
                let refresh = if cred.refreshable { " · refreshable" } else { "" };
                let exp = cred.expires_at.as_ref().map(status::iso).unwrap_or_else(|| "unknown".into());
                out.out(&format!("Expires:  {exp} ({state}){refresh}"));
                if let Some(s) = &cred.scope {
                    out.out(&format!("Scope:    {}", terminal_line(s)));
                }
            }
            match (&c.user, &c.api_error) {
                (Some(u), _) => {
                    let name = u.display_name().map(|n| terminal_line(&n));
                    out.out(&format!("Account:  {}", name.unwrap_or_else(|| "(unknown user)".into())));
                    // Every row carries text from the server: stripped of escapes before printing.
                    for row in account_rows(u) {
                        out.out(&terminal_line(&row));
                    }
                }
                (None, Some(e)) => {
                    out.out(&format!("{} API check failed: {}", out.red("✗"), terminal_line(&e.message)));
                    if let Some(name) = cred.persisted_user.as_ref().and_then(|u| u.display_name()) {
                        if !cred.source.is_env() {
                            out.out(&format!("Account:  {} (cached)", terminal_line(&name)));
                        }
                    }
                    if let Some(h) = &e.hint {
                        out.out(&out.dim(h));
                    }
                }
                (None, None) => {}
            }
        }
    }
    code
}

fn account_rows(u: &crate::auth::client::UserInfo) -> Vec<String> {
    let mut rows = Vec::new();
    let num = |v: Option<&serde_json::Value>| {
        v.and_then(|v| v.as_f64().map(|n| n.to_string()).or(v.as_str().map(String::from)))
    };
    if let Some(b) = u.str("billing_type") {
        rows.push(format!("Billing:  {b}"));
    }
    if let Some(w) = u.raw.get("wallet") {
        if let Some(bal) = num(w.get("remaining_balance")) {
            let cur = w.get("currency").and_then(|c| c.as_str()).map(|c| format!(" {c}")).unwrap_or_default();
            rows.push(format!("Wallet:   {bal}{cur}"));
        }
    }
    if let Some(sub) = u.raw.get("subscription") {
        if let Some(plan) = sub.get("plan").and_then(|p| p.as_str()) {
            rows.push(format!("Plan:     {plan}"));
        }
        for (key, label) in [("premium_credits", "Premium credits"), ("add_on_credits", "Add-on credits")] {
            if let Some(c) = sub.get("credits").and_then(|c| c.get(key)) {
                if let Some(rem) = num(c.get("remaining")) {
                    let resets = c
                        .get("resets_at")
                        .and_then(|r| r.as_str())
                        .map(|r| format!(" (resets {})", r.get(..10).unwrap_or(r)))
                        .unwrap_or_default();
                    rows.push(format!("{label}: {rem}{resets}"));
                }
            }
        }
    }
    if let Some(usage) = u.raw.get("usage_based") {
        if let Some(cur) = num(usage.get("spending_current_usd")) {
            let cap = num(usage.get("spending_cap_usd")).map(|c| format!(" / ${c}")).unwrap_or_default();
            rows.push(format!("Usage:    ${cur}{cap}"));
        }
    }
    rows
}
