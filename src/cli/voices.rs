//! `hyperframes voices`: the voices of one provider (default: the one the plan chooses).

use clap::Args;
use serde_json::{json, Value};

use super::fail;
use crate::chains::{gather, ChainError};
use crate::engines::kokoro::{service, voices};
use crate::output::Output;
use crate::providers::plan::{pin, plan_for, Capability};

#[derive(Args, Debug)]
pub(crate) struct VoicesArgs {
    /// heygen, elevenlabs or kokoro (default: the plan's voice provider).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// Only voices speaking this language (a tag like `es`, or a name like `Spanish`).
    #[arg(long)]
    lang: Option<String>,
    /// Never ask a hosted provider (lists the local Kokoro voices).
    #[arg(long)]
    local_only: bool,
    #[arg(long)]
    json: bool,
}

impl VoicesArgs {
    /// `hyperframes tts --list --provider …`.
    pub(super) fn for_provider(provider: Option<&str>, lang: Option<String>, local_only: bool, json: bool) -> Self {
        Self { provider: provider.map(String::from), lang, local_only, json }
    }
}

struct Row {
    id: String,
    name: String,
    language: String,
    gender: Option<String>,
    installed: Option<bool>,
}

fn lang_matches(language: &str, wanted: Option<&str>) -> bool {
    let Some(w) = wanted.map(str::trim).filter(|w| !w.is_empty()) else { return true };
    let (l, w) = (language.to_ascii_lowercase(), w.to_ascii_lowercase());
    l == w || l.starts_with(&format!("{w}-")) || w.starts_with(&format!("{l}-")) || l.contains(&w)
}

fn kokoro_rows(lang: Option<&str>) -> Vec<Row> {
    let installed: Vec<String> =
        service::model_spec(None).and_then(service::open_voices).map(|v| v.names()).unwrap_or_default();
    voices::catalog()
        .iter()
        .filter(|v| lang_matches(v.language, lang))
        .map(|v| Row {
            id: v.id.to_string(),
            name: v.display_name.to_string(),
            language: v.language.to_string(),
            gender: Some(v.gender.to_string()),
            installed: Some(installed.iter().any(|i| i.eq_ignore_ascii_case(v.id))),
        })
        .collect()
}

pub(super) async fn run(args: VoicesArgs, out: &Output) -> i32 {
    let wanted = args.provider.as_deref().map(str::trim).filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("auto"));
    let lang = args.lang.as_deref();
    let rows: Result<(&'static str, Vec<Row>), ChainError> = async {
        if wanted.is_some_and(|p| p.eq_ignore_ascii_case("kokoro")) {
            return Ok(("kokoro", kokoro_rows(lang)));
        }
        let (facts, providers) = gather(args.local_only).await;
        let plan = plan_for(Capability::Voice, &facts);
        let provider = match wanted {
            Some(p) => pin(&plan, p).map_err(|m| crate::chains::pin_error(&plan, p, m, facts.local_only))?,
            None => plan.chosen.unwrap_or(crate::providers::Provider::Kokoro),
        };
        match provider {
            crate::providers::Provider::Heygen => {
                let c = providers
                    .heygen
                    .as_ref()
                    .ok_or_else(|| crate::chains::not_configured(crate::providers::Provider::Heygen))?;
                let list = c.list_voices(lang).await?;
                Ok((
                    provider.as_str(),
                    list.into_iter()
                        .map(|v| Row {
                            id: v.voice_id,
                            name: v.name,
                            language: v.language,
                            gender: v.gender,
                            installed: None,
                        })
                        .collect(),
                ))
            }
            crate::providers::Provider::Elevenlabs => {
                let c = providers
                    .elevenlabs
                    .as_ref()
                    .ok_or_else(|| crate::chains::not_configured(crate::providers::Provider::Elevenlabs))?;
                let list = c.list_voices().await?;
                Ok((
                    provider.as_str(),
                    list.iter()
                        .map(|v| Row {
                            id: v.voice_id.clone(),
                            name: v.name.clone(),
                            language: v.label("language").unwrap_or_default().to_string(),
                            gender: v.label("gender").map(String::from),
                            installed: None,
                        })
                        .filter(|r| lang.is_none() || lang_matches(&r.language, lang))
                        .collect(),
                ))
            }
            _ => Ok(("kokoro", kokoro_rows(lang))),
        }
    }
    .await;
    let (provider, rows) = match rows {
        Ok(r) => r,
        Err(e) => return fail(out, args.json, &e),
    };
    if args.json {
        let list: Vec<Value> = rows
            .iter()
            .map(|r| {
                let mut v = json!({"id": r.id, "name": r.name, "language": r.language, "gender": r.gender});
                if let Some(i) = r.installed {
                    v["installed"] = json!(i);
                }
                v
            })
            .collect();
        out.json(&json!({"ok": true, "provider": provider, "voices": list}));
        return 0;
    }
    out.out(&out.dim(&format!("{provider} voices")));
    for r in &rows {
        let mark = if r.installed == Some(true) { out.green("✓") } else { String::new() };
        out.out(&format!(
            "{:<34} {:<20} {:<10} {:<7} {mark}",
            r.id,
            r.name,
            r.language,
            r.gender.as_deref().unwrap_or("")
        ));
    }
    if rows.is_empty() {
        out.out(&out.dim("No voices match."));
    }
    0
}
