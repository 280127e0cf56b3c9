//! Two outputs of one run on one path (`-o x.wav --words x.wav`, `-` twice) would overwrite each
//! other, the last one written winning silently. Commands check their outputs here first.

use std::path::{Path, PathBuf};

use super::{destination, Destination};
use crate::error::Error;

/// Where an output really goes, for comparison: `-`, or a regular file's absolute path with every
/// symbolic link (of the file and of its folders) resolved. A FIFO or device is `None`: several
/// outputs may share `/dev/null`.
fn identity(path: &Path) -> Option<PathBuf> {
    match destination(path).ok()? {
        Destination::Stdout => Some(PathBuf::from(super::STDOUT)),
        Destination::Stream(_) => None,
        Destination::File(p) => {
            let name = p.file_name()?.to_owned();
            let folder = match p.parent() {
                Some(f) if !f.as_os_str().is_empty() => f.to_path_buf(),
                _ => PathBuf::from("."),
            };
            // A folder that does not exist yet is compared as written (absolute).
            let folder =
                std::fs::canonicalize(&folder).unwrap_or_else(|_| std::path::absolute(&folder).unwrap_or(folder));
            Some(folder.join(name))
        }
    }
}

/// Refuses, with `USAGE` naming both flags, two of `outputs` (`(flag, path)`) that go to the same
/// file or both to stdout.
pub fn check_distinct(outputs: &[(&str, &Path)]) -> Result<(), Error> {
    let resolved: Vec<(&str, &Path, Option<PathBuf>)> =
        outputs.iter().map(|(flag, p)| (*flag, *p, identity(p))).collect();
    for (i, (flag_a, path_a, id_a)) in resolved.iter().enumerate() {
        let Some(id_a) = id_a else { continue };
        if let Some((flag_b, path_b, _)) = resolved[i + 1..].iter().find(|(_, _, id)| id.as_ref() == Some(id_a)) {
            let same = if path_a == path_b {
                format!("{}", path_a.display())
            } else {
                format!("{} and {}, the same file", path_a.display(), path_b.display())
            };
            let what = if id_a.as_os_str() == super::STDOUT { "stdout (-)".to_string() } else { same };
            return Err(Error::new("USAGE", format!("{flag_a} and {flag_b} both write to {what}"))
                .with_hint("Give each output its own path."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_outputs_on_one_file_are_refused_naming_both_flags() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("x.wav");
        let e = check_distinct(&[("--output", &a), ("--words", &a)]).unwrap_err();
        assert_eq!(e.code, "USAGE");
        assert!(e.message.contains("--output and --words"), "{}", e.message);
        let dotted = dir.path().join("sub/../x.wav");
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        assert!(check_distinct(&[("--output", &a), ("--captions", &dotted)]).is_err(), "the same file by another name");
        let stdout = Path::new("-");
        let e = check_distinct(&[("--words", stdout), ("--captions", stdout)]).unwrap_err();
        assert!(e.message.contains("stdout"), "{}", e.message);
        let b = dir.path().join("x.srt");
        assert!(check_distinct(&[("--output", &a), ("--captions", &b), ("--words", stdout)]).is_ok());
        let null = Path::new("/dev/null");
        assert!(check_distinct(&[("--output", null), ("--words", null)]).is_ok(), "a device may be shared");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_to_another_output_is_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("words.json");
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&a, &link).unwrap();
        let e = check_distinct(&[("--words", &a), ("--captions", &link)]).unwrap_err();
        assert!(e.message.contains("the same file"), "{}", e.message);
        let folder_link = dir.path().join("again");
        std::os::unix::fs::symlink(dir.path(), &folder_link).unwrap();
        assert!(check_distinct(&[("--words", &a), ("--captions", &folder_link.join("words.json"))]).is_err());
    }
}
