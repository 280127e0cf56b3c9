//! The text `tts` speaks: a positional argument (the text itself, or a file), `--text-file`, or
//! `-` for stdin, each read through [`crate::fsio::input`] (regular files only, bounded, BOM
//! dropped).
//!
//! A positional argument that looks like a file name (`script.txt`, `notes/intro`) but names no
//! file is refused, with the close file name in that folder when there is one: speaking
//! "scrpt dot t x t" is never what a user who mistyped a name wanted.

use std::path::Path;

use crate::error::Error;
use crate::fsio::input::{self, limits};

/// Extensions of files people keep text to speak in, or confuse with one (a captions file).
const TEXT_EXTENSIONS: &[&str] = &["txt", "text", "md", "markdown", "rst", "ssml", "srt", "vtt", "ass", "json"];

/// How alike (normalised Damerau–Levenshtein, 0–1) a file name must be to be offered as meant.
const SIMILAR: f64 = 0.6;

/// Whether `arg` reads as a file name rather than words: one token (no whitespace) that ends in a
/// text file's extension or holds a path separator.
pub(crate) fn looks_like_path(arg: &str) -> bool {
    if arg.is_empty() || arg.chars().any(char::is_whitespace) {
        return false;
    }
    let has_separator = arg.contains('/') || (cfg!(windows) && arg.contains('\\'));
    let text_extension = Path::new(arg)
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| TEXT_EXTENSIONS.iter().any(|t| t.eq_ignore_ascii_case(e)));
    has_separator || text_extension
}

/// The text of the positional argument: the file it names when it looks like a file name, else
/// the argument itself.
pub(crate) fn positional(arg: &str) -> Result<String, Error> {
    if arg == "-" {
        return non_empty(input::read_stdin_text(limits::TEXT)?, "standard input");
    }
    if !looks_like_path(arg) {
        return Ok(arg.to_string());
    }
    let path = Path::new(arg);
    match std::fs::metadata(path) {
        Ok(_) => text_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(missing(arg, path)),
        Err(e) => Err(Error::io(format!("cannot read the text file {arg}"), &e)),
    }
}

/// The text of a file named by `--text-file` or the positional argument.
pub(crate) fn text_file(path: &Path) -> Result<String, Error> {
    non_empty(input::read_text(path, limits::TEXT)?, &path.display().to_string())
}

fn non_empty(text: String, shown: &str) -> Result<String, Error> {
    if text.trim().is_empty() {
        return Err(Error::new("EMPTY_TEXT", format!("{shown} is empty: there is no text to speak.")));
    }
    Ok(text)
}

fn missing(arg: &str, path: &Path) -> Error {
    let meant = closest_sibling(path);
    let message = match &meant {
        Some(m) => format!("No such file: {arg} (did you mean {m}?)"),
        None => format!("No such file: {arg}"),
    };
    let literal: String = arg.chars().filter(|c| *c != '\'').collect();
    Error::new("BAD_INPUT", message).with_hint(format!(
        "Give the file with --text-file PATH; to speak these words as written, pipe them: echo '{literal}' | hyperframes tts -"
    ))
}

/// The name in `path`'s folder most like its file name, shown as `path` would be with it.
fn closest_sibling(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?.to_lowercase();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let best = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .map(|n| (strsim::normalized_damerau_levenshtein(&name, &n.to_lowercase()), n))
        .filter(|(score, _)| *score >= SIMILAR)
        .max_by(|a, b| a.0.total_cmp(&b.0))?
        .1;
    Some(path.with_file_name(best).display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_told_from_words() {
        for path in ["scrpt.txt", "notes.MD", "a/b", "./intro", "captions.srt", "dir/script"] {
            assert!(looks_like_path(path), "{path}");
        }
        for words in ["Hello world", "Hello.", "e.g.", "Node.js", "and / or", "", "see notes.txt now", "3.5"] {
            assert!(!looks_like_path(words), "{words}");
        }
    }

    #[test]
    fn a_missing_file_is_refused_with_the_close_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("script.txt"), "Hello there.").unwrap();
        let typo = dir.path().join("scrpt.txt");
        let e = positional(typo.to_str().unwrap()).unwrap_err();
        assert_eq!(e.code, "BAD_INPUT");
        let meant = dir.path().join("script.txt").display().to_string();
        assert!(e.message.contains(&format!("did you mean {meant}?")), "{}", e.message);
        assert!(e.hint.as_deref().unwrap().contains("--text-file"), "{:?}", e.hint);
        let far = dir.path().join("zzzzzz.md");
        let e = positional(far.to_str().unwrap()).unwrap_err();
        assert!(!e.message.contains("did you mean"), "{}", e.message);
    }

    #[test]
    fn a_file_is_read_bounded_without_its_bom_and_words_are_spoken_as_given() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.md");
        std::fs::write(&p, b"\xEF\xBB\xBFHello there.").unwrap();
        assert_eq!(positional(p.to_str().unwrap()).unwrap(), "Hello there.");
        assert_eq!(text_file(&p).unwrap(), "Hello there.");
        assert_eq!(positional("Hello there.").unwrap(), "Hello there.");
        std::fs::write(&p, " \n").unwrap();
        assert_eq!(text_file(&p).unwrap_err().code, "EMPTY_TEXT");
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_folders_are_refused() {
        assert_eq!(text_file(Path::new("/dev/zero")).unwrap_err().code, "BAD_INPUT");
        let dir = tempfile::tempdir().unwrap();
        let e = positional(&format!("{}/", dir.path().display())).unwrap_err();
        assert!(e.message.contains("a folder"), "{}", e.message);
    }
}
