//! Opening the authorize URL: `$BROWSER` (a `:`-separated list, `%s` for the URL) or the platform opener.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn spawn(program: &str, args: &[String]) -> Result<(), String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{program}: {e}"))?;
    // A real browser keeps running; an opener that fails exits quickly with an error.
    let deadline = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(format!("{program} exited with {status}")),
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(e.to_string()),
        }
    }
    Ok(())
}

fn split_command(template: &str, url: &str) -> Option<(String, Vec<String>)> {
    let mut words = template.split_whitespace().map(str::to_string);
    let program = words.next()?;
    let mut args: Vec<String> = words.collect();
    if args.iter().any(|a| a.contains("%s")) {
        for a in &mut args {
            *a = a.replace("%s", url);
        }
    } else {
        args.push(url.to_string());
    }
    Some((program, args))
}

pub fn open(url: &str) -> Result<(), String> {
    if let Ok(list) = std::env::var("BROWSER") {
        let mut last_err = String::from("BROWSER is empty");
        for entry in list.split(':').filter(|s| !s.trim().is_empty()) {
            if let Some((program, args)) = split_command(entry, url) {
                match spawn(&program, &args) {
                    Ok(()) => return Ok(()),
                    Err(e) => last_err = e,
                }
            }
        }
        if !list.trim().is_empty() {
            return Err(last_err);
        }
    }
    if cfg!(target_os = "macos") {
        spawn("open", &[url.to_string()])
    } else if cfg!(windows) {
        spawn("rundll32", &["url.dll,FileProtocolHandler".to_string(), url.to_string()])
    } else {
        spawn("xdg-open", &[url.to_string()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_template_substitutes_or_appends_the_url() {
        let (p, a) = split_command("firefox --new-tab %s", "http://x").unwrap();
        assert_eq!((p.as_str(), a), ("firefox", vec!["--new-tab".to_string(), "http://x".to_string()]));
        let (p, a) = split_command("w3m", "http://x").unwrap();
        assert_eq!((p.as_str(), a), ("w3m", vec!["http://x".to_string()]));
    }
}
