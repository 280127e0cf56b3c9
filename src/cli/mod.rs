//! Argument parsing and dispatch. Commands call the same core functions as the JS API.

mod auth;
mod beats;
mod captions;
mod describe;
mod doctor;
mod loudness;
mod media;
mod models;
mod music;
mod plan;
mod progress;
mod prompt;
mod routing;
mod sfx;
mod text_input;
mod transcribe;
mod tts;
mod voices;

use clap::{Args, Parser, Subcommand};

use crate::environment::Tty;
use crate::output::Output;

#[derive(Parser, Debug)]
#[command(
    name = "hyperframes",
    version,
    about = "Voice, captions, music and sound effects for videos made from code.",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Sign in to HeyGen and manage the stored credential.
    Auth(AuthArgs),
    /// Speak text (HeyGen, ElevenLabs, or the local Kokoro engine): WAV, word timings, captions.
    Tts(tts::TtsArgs),
    /// A sound effect: the HeyGen library when signed in, else the bundled library.
    Sfx(sfx::SfxArgs),
    /// Background music fitted to a length: the HeyGen library, Lyria (Gemini), or the local MusicGen
    /// (weights CC-BY-NC-4.0, non-commercial).
    Music(music::MusicArgs),
    /// Build a video script's whole audio: voiced lines, sound effects, a music bed, a manifest.
    Media {
        #[command(subcommand)]
        command: media::MediaCommand,
    },
    /// Measure loudness (EBU R128: LUFS, range, true peak), or normalise a file to a target.
    Loudness(loudness::LoudnessArgs),
    /// Tempo (BPM), beat times with their strength, and downbeats of a music file.
    Beats(beats::BeatsArgs),
    /// Describe images in one sentence each (OpenRouter or Gemini; skipped without a key).
    Describe(describe::DescribeArgs),
    /// List the voices of a provider (HeyGen, ElevenLabs or the local Kokoro).
    Voices(voices::VoicesArgs),
    /// Turn timed words (JSON) into SRT, WebVTT, ASS (karaoke) or Remotion captions.
    Captions(captions::CaptionsArgs),
    /// Transcribe recorded speech with word times (local Whisper), or align it to its script.
    Transcribe(transcribe::TranscribeArgs),
    /// Install, list, verify and remove local models.
    Models {
        #[command(subcommand)]
        command: models::ModelsCommand,
    },
    /// Which provider voice, music, sound effects and descriptions will use, and why.
    Plan {
        #[arg(long)]
        json: bool,
        /// Plan as if offline: hosted providers are never used.
        #[arg(long)]
        local_only: bool,
    },
    /// Check what is installed and what each capability will use.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Exit 1 when a required check fails.
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Args, Debug)]
struct AuthArgs {
    #[command(subcommand)]
    command: Option<AuthCommand>,
}

#[derive(Subcommand, Debug)]
pub(crate) enum AuthCommand {
    /// Sign in: browser OAuth by default, `--device` for SSH/headless, `--api-key` for a key.
    Login {
        /// Use an API key: the value given, else stdin when piped, else a hidden prompt.
        #[arg(long, value_name = "KEY", num_args = 0..=1, default_missing_value = "")]
        api_key: Option<String>,
        /// Sign in with a code on another device (RFC 8628), for SSH and headless machines.
        #[arg(long)]
        device: bool,
        /// Keep the secret in the OS keyring instead of the credentials file.
        #[arg(long)]
        keyring: bool,
    },
    /// Show which credential is used, where it comes from, and whether HeyGen accepts it.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Remove the stored credential (revoking OAuth tokens first).
    Logout {
        /// Remove only the OAuth session and keep a stored API key.
        #[arg(long)]
        keep_api_key: bool,
        /// Do not ask for confirmation.
        #[arg(long, short = 'y')]
        yes: bool,
    },
    /// Refresh the OAuth access token now.
    Refresh {
        #[arg(long)]
        json: bool,
    },
    /// Print the credential in use, for scripts (like `gh auth token`).
    Token {
        /// Print `{token, type, source}` as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub const AUTH_HELP_FOOTER: &str = "\
Environment:
  HEYGEN_API_KEY          API key; wins over everything else
  HYPERFRAMES_API_KEY     API key, used when HEYGEN_API_KEY is unset
  HEYGEN_CONFIG_DIR       folder of the shared credentials file (default ~/.heygen)
  HEYGEN_API_URL          HeyGen API base URL (default https://api.heygen.com)
  HYPERFRAMES_CREDENTIAL_STORE=keyring   keep secrets in the OS keyring
  HYPERFRAMES_OAUTH_CLIENT_ID, HYPERFRAMES_OAUTH_{AUTHORIZE,TOKEN,REVOKE,DEVICE}_URL   OAuth overrides";

#[derive(Debug, Clone, Default)]
pub struct CliContext {
    pub tty: Option<Tty>,
    pub node_version: Option<String>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime can be built")
}

/// Runs the CLI and returns the exit code (0 or 1).
pub fn run(argv: Vec<String>, ctx: CliContext) -> i32 {
    crate::init_logging();
    let tty = ctx.tty.unwrap_or_else(Tty::detect);
    let out = Output::new(tty.stdout, tty.stderr);
    let wants_json = argv.iter().skip(1).any(|a| a == "--json");
    let cli = match Cli::try_parse_from(argv) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => 0,
                _ => 1,
            };
            if code == 1 && wants_json {
                let text = e.render().to_string();
                let message = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
                out.json(&serde_json::json!({
                    "ok": false,
                    "error": message,
                    "code": "USAGE",
                    "hint": "Run the command with --help to see its options.",
                }));
                return 1;
            }
            let _ = e.print();
            return code;
        }
    };
    let rt = runtime();
    match cli.command {
        Command::Auth(AuthArgs { command: None }) => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            cmd.build();
            let auth = cmd.find_subcommand_mut("auth").expect("auth is a subcommand");
            out.out(&format!("{}\n{AUTH_HELP_FOOTER}", auth.render_help()));
            0
        }
        Command::Auth(AuthArgs { command: Some(c) }) => rt.block_on(auth::run(c, tty, &out)),
        Command::Tts(args) => rt.block_on(tts::run(args, tty.stderr, &out)),
        Command::Captions(args) => captions::run(args, &out),
        Command::Transcribe(args) => transcribe::run(args, tty.stderr, &out),
        Command::Sfx(args) => rt.block_on(sfx::run(args, &out)),
        Command::Music(args) => rt.block_on(music::run(args, &out)),
        Command::Media { command } => rt.block_on(media::run(command, &out)),
        Command::Loudness(args) => loudness::run(args, &out),
        Command::Beats(args) => beats::run(args, &out),
        Command::Describe(args) => rt.block_on(describe::run(args, &out)),
        Command::Voices(args) => rt.block_on(voices::run(args, &out)),
        Command::Models { command } => rt.block_on(models::run(command, tty.stderr, &out)),
        Command::Plan { json, local_only } => rt.block_on(plan::run(json, local_only, &out)),
        Command::Doctor { json, strict } => rt.block_on(doctor::run(json, strict, ctx.node_version, &out)),
    }
}

/// The exit code when stdout was closed by its reader (`… | head`): 141 is what a shell reports for
/// a process ended by SIGPIPE, so pipelines under `set -o pipefail` see it, and nothing is printed
/// (the reader is gone, and a message on stderr would only be noise), as other CLIs do.
pub(crate) const CLOSED_PIPE_EXIT: i32 = 141;

/// The one printer of a command's failure: with `--json` its JSON form on stdout
/// (`{ok:false,error,code,hint}`, a chain's also `provider` and `anomalies`), else the skipped
/// providers' failures, the message and the hint on stderr. Returns the exit code: 1, or
/// [`CLOSED_PIPE_EXIT`].
fn fail<E: Clone + Into<crate::error::Error>>(out: &Output, json: bool, e: &E) -> i32 {
    let e: crate::error::Error = e.clone().into();
    if e.code == crate::fsio::STDOUT_CLOSED {
        return CLOSED_PIPE_EXIT;
    }
    if json {
        out.json(&serde_json::to_value(&e).expect("errors always serialise"));
    } else {
        routing::print_anomalies(out, &e.anomalies);
        // Messages may quote a server (an error body, an IdP's text): no raw escapes.
        out.err(&out.err_red(&crate::output::terminal_text(&e.message)));
        if let Some(h) = &e.hint {
            out.err(&out.err_dim(&crate::output::terminal_text(h)));
        }
    }
    1
}
