use super::*;

fn temp_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect()
}

#[test]
fn regular_file_is_replaced_whole_and_keeps_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/out.txt");
    write_bytes(&path, b"first").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    write_bytes(&path, b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    assert!(temp_files(&dir.path().join("sub")).is_empty());
}

#[test]
fn a_failed_write_leaves_the_old_file_and_no_temp() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.txt");
    fs::write(&path, b"old").unwrap();
    let err = write_with(&path, |w| {
        w.write_all(b"half")?;
        Err(io::Error::other("boom"))
    })
    .unwrap_err();
    assert_eq!(err.code, "IO_ERROR");
    assert_eq!(fs::read(&path).unwrap(), b"old");
    assert!(temp_files(dir.path()).is_empty());
}

#[test]
fn a_symlink_is_followed_and_survives() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("real.txt");
    fs::write(&target, b"old").unwrap();
    let link = dir.path().join("link.txt");
    std::os::unix::fs::symlink("real.txt", &link).unwrap();
    write_bytes(&link, b"new").unwrap();
    assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(fs::read(&target).unwrap(), b"new");
    // A dangling link creates its target.
    let dangling = dir.path().join("dangling.txt");
    std::os::unix::fs::symlink(dir.path().join("made.txt"), &dangling).unwrap();
    write_bytes(&dangling, b"made").unwrap();
    assert_eq!(fs::read(dir.path().join("made.txt")).unwrap(), b"made");
    // Discarding after a later failure removes the target, never the link.
    discard(&link);
    assert!(fs::symlink_metadata(&link).is_ok() && !target.exists());
}

#[test]
fn a_fifo_gets_every_byte_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    write_bytes(&fifo, &data).unwrap();
    assert_eq!(reader.join().unwrap(), data);
    assert_eq!(destination(&fifo).unwrap(), Destination::Stream(fifo.clone()));
    discard(&fifo);
    assert!(fs::symlink_metadata(&fifo).is_ok(), "the FIFO itself is never removed");
}

#[test]
fn a_full_device_is_an_error() {
    let full = Path::new("/dev/full");
    if !full.exists() {
        eprintln!("skipped: no /dev/full here");
        return;
    }
    let err = write_bytes(full, &[0u8; 100_000]).unwrap_err();
    assert_eq!(err.code, "IO_ERROR");
    assert!(err.message.contains("/dev/full"), "{}", err.message);
    assert!(Path::new("/dev/full").exists());
}

#[test]
fn directories_and_empty_paths_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = write_bytes(dir.path(), b"x").unwrap_err();
    assert!(e.message.contains("is a directory"), "{}", e.message);
    assert_eq!(write_bytes(Path::new(""), b"x").unwrap_err().code, "IO_ERROR");
    assert_eq!(destination(Path::new("-")).unwrap(), Destination::Stdout);
}

#[cfg(unix)]
#[test]
fn replace_file_can_set_exact_permissions_and_move_into_place_is_whole() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret.json");
    fs::write(&path, b"old").unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    replace_file(&path, Mode::Exactly(0o600), |w| w.write_all(b"new")).unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new");
    assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    let failed = replace_file(&path, Mode::Exactly(0o600), |_| Err(io::Error::other("disk full")));
    assert!(failed.is_err());
    assert_eq!(fs::read(&path).unwrap(), b"new");
    assert!(temp_files(dir.path()).is_empty());

    let partial = dir.path().join("model.onnx.partial");
    fs::write(&partial, b"bytes").unwrap();
    move_into_place(&partial, &dir.path().join("model.onnx")).unwrap();
    assert!(!partial.exists());
    assert_eq!(fs::read(dir.path().join("model.onnx")).unwrap(), b"bytes");
}

/// Every name in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[cfg(target_os = "linux")]
#[test]
fn a_staged_file_has_no_name_until_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("speech.wav");
    fs::write(&path, b"old").unwrap();
    let staged = Staged::create(&path, Mode::Keep).unwrap();
    staged.file().write_all(b"new").unwrap();
    // ext4 and tmpfs make unnamed files, so nothing but the old file is in the folder mid-write:
    // a kill now would leave nothing behind.
    assert_eq!(names(dir.path()), ["speech.wav"]);
    staged.commit().unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"new");
    assert_eq!(names(dir.path()), ["speech.wav"]);
}

#[test]
fn an_abandoned_staged_file_leaves_the_old_file_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("speech.wav");
    fs::write(&path, b"old").unwrap();
    let staged = Staged::create(&path, Mode::Keep).unwrap();
    staged.file().write_all(b"half of the new").unwrap();
    drop(staged);
    assert_eq!(fs::read(&path).unwrap(), b"old");
    assert_eq!(names(dir.path()), ["speech.wav"]);
    // A new name stays free.
    drop(Staged::create(&dir.path().join("new.wav"), Mode::Keep).unwrap());
    assert_eq!(names(dir.path()), ["speech.wav"]);
}
