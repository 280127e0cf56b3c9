//! `hyperframes models list|install|remove|verify`.

use clap::Subcommand;

use super::fail;
use super::progress::{Printer, Style};
use crate::engines::catalog::{self, FileState, ModelReport, ModelSpec};
use crate::engines::error::EngineError;
use crate::engines::install::{self, Source};
use crate::engines::models_dir;
use crate::output::Output;
use crate::report::{InstallResult, ModelList};

/// `models remove --json` (the JS `modelsRemove()` returns the list itself).
#[derive(serde::Serialize)]
struct Removed {
    removed: Vec<String>,
}

/// `models verify --json`: `ok` is false when any model fails (the JS `modelsVerify(name)` returns
/// one model's report).
#[derive(serde::Serialize)]
struct Verification {
    ok: bool,
    models: Vec<ModelReport>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum ModelsCommand {
    /// Every model the local engines can use, and whether it is installed.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Download (or copy with --from) a model, verifying sha256; resumes partial downloads.
    Install {
        name: String,
        /// A local file or folder, or a URL (a mirror base, or one file), instead of the official source.
        #[arg(long, value_name = "PATH|URL")]
        from: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Delete a model's files (voice packs another installed model uses are kept).
    Remove {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Re-hash installed files against their published sha256.
    Verify {
        name: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

fn find(name: &str) -> Result<&'static ModelSpec, EngineError> {
    catalog::find(name).ok_or_else(|| {
        let names: Vec<&str> = catalog::all().iter().map(|m| m.name).collect();
        EngineError::new("UNKNOWN_MODEL", format!("Unknown model '{name}'. Available: {}.", names.join(", ")))
            .with_hint("See `hyperframes models list`.")
    })
}

pub(super) async fn run(cmd: ModelsCommand, stderr_tty: bool, out: &Output) -> i32 {
    let dir = models_dir::models_dir();
    match cmd {
        ModelsCommand::List { json } => {
            // Hash-checked like `verify`, through the size-and-time cache (a file is rehashed only
            // when it changed since it was last verified), so a damaged model is not "installed".
            let list_dir = dir.clone();
            let rows: Vec<(&ModelSpec, catalog::ModelStatus)> = crate::blocking(move || {
                catalog::all().iter().map(|m| (m, catalog::status(&list_dir, m, true))).collect()
            })
            .await;
            if json {
                out.json(&ModelList {
                    dir: dir.display().to_string(),
                    models: rows.iter().map(|(m, s)| ModelReport::new(m, s)).collect(),
                });
            } else {
                out.out(&format!("Models in {}", crate::auth::paths::display(&dir)));
                for (m, s) in &rows {
                    let damaged = s.files.iter().any(|(_, f)| matches!(f, FileState::Corrupt { .. }));
                    let mark = if damaged {
                        out.red("✗ damaged (see `hyperframes models verify`)")
                    } else if s.installed {
                        out.green("✓ installed")
                    } else {
                        out.dim("not installed")
                    };
                    out.out(&format!("  {:<16} {:<9} {:<34} {mark}", m.name, m.capability, m.label));
                }
            }
            0
        }
        ModelsCommand::Install { name, from, json } => {
            let spec = match find(&name) {
                Ok(s) => s,
                Err(e) => return fail(out, json, &e),
            };
            let source = match from {
                None => Source::Official,
                Some(f) if f.starts_with("http://") || f.starts_with("https://") => Source::FromUrl(f),
                Some(f) => Source::From(f.into()),
            };
            let style = if json {
                Style::Json
            } else if stderr_tty {
                Style::Bar
            } else {
                Style::Lines
            };
            let printer = Printer::new(style);
            match install::install(spec, &dir, &source, &|p| printer.event(p)).await {
                Ok(report) => {
                    if json {
                        out.success(&InstallResult::from(report));
                    } else {
                        out.out(&format!(
                            "{} {} installed in {}",
                            out.green("✓"),
                            spec.label,
                            crate::auth::paths::display(&dir)
                        ));
                    }
                    0
                }
                Err(e) => fail(out, json, &e),
            }
        }
        ModelsCommand::Remove { name, json } => {
            let spec = match find(&name) {
                Ok(s) => s,
                Err(e) => return fail(out, json, &e),
            };
            match install::remove(spec, &dir) {
                Ok(removed) => {
                    if json {
                        let removed = removed.iter().map(|p| p.display().to_string()).collect();
                        out.success(&Removed { removed });
                    } else {
                        out.out(&format!("{} Removed {} ({} files).", out.green("✓"), spec.label, removed.len()));
                    }
                    0
                }
                Err(e) => fail(out, json, &e),
            }
        }
        ModelsCommand::Verify { name, json } => {
            let specs: Vec<&'static ModelSpec> = match name {
                Some(n) => match find(&n) {
                    Ok(s) => vec![s],
                    Err(e) => return fail(out, json, &e),
                },
                None => catalog::all().iter().filter(|m| catalog::any_file_present(&dir, m)).collect(),
            };
            let dir2 = dir.clone();
            let results =
                crate::blocking(move || specs.into_iter().map(|m| (m, install::verify(m, &dir2))).collect::<Vec<_>>())
                    .await;
            let corrupt = |f: &FileState| matches!(f, FileState::Corrupt { .. });
            let bad = results.iter().any(|(_, s)| {
                !s.installed || s.files.iter().any(|(_, f)| corrupt(f)) || s.derived.iter().any(|(_, f)| corrupt(f))
            });
            if json {
                out.json(&Verification {
                    ok: !bad,
                    models: results.iter().map(|(m, s)| ModelReport::new(m, s)).collect(),
                });
            } else if results.is_empty() {
                out.out("No models installed.");
            } else {
                for (m, s) in &results {
                    out.out(&format!("{}:", m.name));
                    for (p, f) in &s.files {
                        let mark = match f {
                            FileState::Verified => out.green("✓ sha256 ok"),
                            FileState::Present { .. } => out.dim("present (no published sha256)"),
                            FileState::Missing => out.dim("missing"),
                            FileState::Corrupt { expected, actual } => {
                                out.red(&format!("✗ corrupt (expected {expected}, got {actual})"))
                            }
                        };
                        out.out(&format!("  {p:<40} {mark}"));
                    }
                    for (p, f) in &s.derived {
                        let mark = match f {
                            FileState::Corrupt { .. } => out
                                .red("✗ damaged derived copy: deleted (tts derives it again from the verified model)"),
                            _ => out.green("✓ derived copy ok"),
                        };
                        out.out(&format!("  {p:<40} {mark}"));
                    }
                }
            }
            i32::from(bad)
        }
    }
}
