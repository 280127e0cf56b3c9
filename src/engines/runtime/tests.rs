use super::*;
use crate::test_support::{env_lock, onnxruntime_lib as real_lib, EnvGuard};

fn set(name: &str, value: impl AsRef<std::ffi::OsStr>) -> EnvGuard {
    EnvGuard::set(&[(name, Some(value.as_ref().to_str().expect("a UTF-8 test value")))])
}

/// Builds `<tmp>/a/node_modules/onnxruntime-node/bin/napi-v6/<plat>/<arch>/<lib>`
/// as a symlink to `target` and returns the link path.
#[cfg(unix)]
fn fake_npm_tree(root: &Path, target: &Path) -> PathBuf {
    let (platform, arch) = npm_platform_arch().expect("supported platform");
    let lib_dir = root.join("a/node_modules").join(NPM_PACKAGE).join("bin/napi-v6").join(platform).join(arch);
    std::fs::create_dir_all(&lib_dir).unwrap();
    std::fs::create_dir_all(root.join("a/b/c")).unwrap();
    let link = lib_dir.join(lib_file_names()[0]);
    std::os::unix::fs::symlink(target, &link).unwrap();
    link
}

#[test]
fn override_pointing_at_missing_file_is_not_found() {
    let _lock = env_lock();
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope/libonnxruntime.so.1");
    let _env = set(ENV_DYLIB_PATH, &missing);

    let err = locate().unwrap_err();
    assert_eq!(err.code, codes::NOT_FOUND);
    assert!(err.message.contains(ENV_DYLIB_PATH), "{}", err.message);
    assert!(err.message.contains("nope"), "{}", err.message);
    assert!(err.hint.contains("onnxruntime-node"), "{}", err.hint);
    assert!(err.hint.contains(ENV_DYLIB_PATH), "{}", err.hint);
    assert_eq!(err.to_string(), err.message);
}

#[test]
fn override_pointing_at_real_library_is_used() {
    let Some(lib) = real_lib() else { return };
    let _lock = env_lock();
    let _env = set(ENV_DYLIB_PATH, &lib);

    let loc = locate().unwrap();
    assert_eq!(loc.source, RuntimeSource::EnvOverride);
    assert_eq!(loc.path, lib);
}

#[test]
fn override_with_directory_finds_library_inside() {
    let Some(lib) = real_lib() else { return };
    let _lock = env_lock();
    let _env = set(ENV_DYLIB_PATH, lib.parent().unwrap());
    let loc = locate().unwrap();
    assert_eq!(loc.source, RuntimeSource::EnvOverride);
    assert_eq!(loc.path, lib);

    let empty = tempfile::tempdir().unwrap();
    let _env2 = set(ENV_DYLIB_PATH, empty.path());
    assert_eq!(locate().unwrap_err().code, codes::NOT_FOUND);
}

#[test]
fn empty_override_is_ignored() {
    let search = Search { env_override: None, addon_dir: None, start_dirs: vec![], system_dirs: vec![] };
    let err = search.run().unwrap_err();
    assert_eq!(err.code, codes::NOT_FOUND);
    assert!(err.hint.contains("npm"), "{}", err.hint);

    // Through the process path: an empty ORT_DYLIB_PATH is "unset".
    let _lock = env_lock();
    let _env = set(ENV_DYLIB_PATH, "");
    assert!(Search::from_process(None).env_override.is_none());
}

#[cfg(all(unix, target_os = "linux", target_arch = "x86_64"))]
#[test]
fn node_modules_walk_finds_package_in_ancestor() {
    let Some(lib) = real_lib() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let link = fake_npm_tree(tmp.path(), &lib);
    let start = tmp.path().join("a/b/c");

    assert_eq!(find_npm_runtime(&start), Some(link.clone()));
    // Starting inside a node_modules folder still works.
    assert_eq!(find_npm_runtime(&tmp.path().join("a/node_modules")), Some(link.clone()));
    // Nothing above a sibling tree.
    let other = tmp.path().join("z");
    std::fs::create_dir_all(&other).unwrap();
    assert_eq!(find_npm_runtime(&other), None);

    let search = Search { env_override: None, addon_dir: None, start_dirs: vec![start], system_dirs: vec![] };
    let loc = search.run().unwrap();
    assert_eq!(loc.source, RuntimeSource::NpmPackage);
    assert_eq!(loc.path, link);
}

#[cfg(all(unix, target_os = "linux", target_arch = "x86_64"))]
#[test]
fn locate_from_uses_extra_start_dir() {
    let Some(lib) = real_lib() else { return };
    let _lock = env_lock();
    let _env = EnvGuard::set(&[(ENV_DYLIB_PATH, None)]);
    let tmp = tempfile::tempdir().unwrap();
    let link = fake_npm_tree(tmp.path(), &lib);

    let loc = locate_from(Some(&tmp.path().join("a/b/c"))).unwrap();
    assert_eq!(loc.source, RuntimeSource::NpmPackage);
    // The addon's own directory is searched first; when this crate sits
    // next to a real node_modules (a checkout after `npm ci`) that copy wins.
    if !Search::from_process(None).start_dirs.iter().any(|d| find_npm_runtime(d).is_some()) {
        let canonical_link = link.parent().unwrap().canonicalize().unwrap().join(link.file_name().unwrap());
        assert_eq!(loc.path, canonical_link);
    }
}

#[test]
fn system_dirs_and_versioned_names() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    assert_eq!(find_lib_in(dir), None);
    if cfg!(target_os = "linux") {
        std::fs::write(dir.join("libonnxruntime.so.1.9.0"), b"x").unwrap();
        std::fs::write(dir.join("libonnxruntime.so.1.31.1"), b"x").unwrap();
        std::fs::write(dir.join("libonnxruntime.so.1.31.1.bak"), b"x").unwrap();
        assert_eq!(find_lib_in(dir), Some(dir.join("libonnxruntime.so.1.31.1")));

        let search = Search {
            env_override: None,
            addon_dir: None,
            start_dirs: vec![],
            system_dirs: vec![PathBuf::from("/definitely/not/here"), dir.to_path_buf()],
        };
        let loc = search.run().unwrap();
        assert_eq!(loc.source, RuntimeSource::System);
        assert_eq!(loc.path, dir.join("libonnxruntime.so.1.31.1"));

        std::fs::write(dir.join("libonnxruntime.so.1"), b"x").unwrap();
        assert_eq!(find_lib_in(dir), Some(dir.join("libonnxruntime.so.1")));
    }
    let sys = system_dirs();
    assert!(!sys.is_empty());
    for (i, d) in sys.iter().enumerate() {
        assert!(!sys[i + 1..].contains(d), "duplicate {d:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn ld_library_path_is_searched_first() {
    let _lock = env_lock();
    let _env = set("LD_LIBRARY_PATH", "/opt/ort-a:/opt/ort-b");
    let sys = system_dirs();
    assert_eq!(sys[0], PathBuf::from("/opt/ort-a"));
    assert_eq!(sys[1], PathBuf::from("/opt/ort-b"));
    assert!(sys.contains(&PathBuf::from("/usr/lib")));
    assert!(sys.contains(&PathBuf::from("/usr/local/lib")));
}

/// The order every platform uses, Windows included: the search only sees
/// the folders it is given, so no platform's loader is needed to check it.
#[test]
fn search_order_is_override_then_addon_folder_then_npm_then_system() {
    let tmp = tempfile::tempdir().unwrap();
    let lib = lib_file_names()[0];
    let put = |dir: &Path| {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(lib), b"x").unwrap();
        dir.join(lib)
    };
    let addon = tmp.path().join("project/node_modules/hyperframes-platform");
    let bundled = put(&addon);
    let npm = npm_platform_arch().map(|(platform, arch)| {
        put(&tmp.path().join("project/node_modules").join(NPM_PACKAGE).join("bin/napi-v6").join(platform).join(arch))
    });
    let system = put(&tmp.path().join("system"));
    let chosen = put(&tmp.path().join("chosen"));
    let mut search = Search {
        env_override: Some(chosen.clone().into_os_string()),
        addon_dir: Some(addon.clone()),
        start_dirs: vec![addon.clone()],
        system_dirs: vec![tmp.path().join("system")],
    };
    let found = |s: &Search| s.run().map(|l| (l.source, l.path)).unwrap();

    assert_eq!(found(&search), (RuntimeSource::EnvOverride, chosen));
    search.env_override = None;
    assert_eq!(found(&search), (RuntimeSource::Bundled, bundled.clone()));
    std::fs::remove_file(&bundled).unwrap();
    if let Some(npm) = npm {
        assert_eq!(found(&search), (RuntimeSource::NpmPackage, npm.clone()));
        std::fs::remove_file(&npm).unwrap();
    }
    assert_eq!(found(&search), (RuntimeSource::System, system.clone()));
    std::fs::remove_file(&system).unwrap();

    let err = search.run().unwrap_err();
    assert_eq!(err.code, codes::NOT_FOUND);
    assert!(err.message.contains(&format!("no {lib} next to the addon in {}", addon.display())), "{}", err.message);
    assert!(
        err.hint.contains(PLATFORM_PACKAGE) || cfg!(all(target_os = "macos", target_arch = "x86_64")),
        "{}",
        err.hint
    );
    assert!(err.hint.contains(ENV_DYLIB_PATH), "{}", err.hint);

    // An addon whose folder the loader could not tell is said so, not guessed.
    search.addon_dir = None;
    assert!(search.run().unwrap_err().message.contains("the addon's folder is unknown"));
}

#[test]
fn platform_package_names_this_build() {
    assert!(PLATFORM_PACKAGE.starts_with("hyperframes-"), "{PLATFORM_PACKAGE}");
    assert!(PLATFORM_PACKAGE.ends_with(&format!("@{}", crate::VERSION)), "{PLATFORM_PACKAGE}");
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    assert_eq!(PLATFORM_PACKAGE, format!("hyperframes-linux-x64-gnu@{}", crate::VERSION));
}

#[test]
fn addon_dir_is_this_binary_dir() {
    let dir = addon_dir().expect("addon dir");
    let exe = std::env::current_exe().unwrap().canonicalize().unwrap();
    // Under `cargo test` the code lives in the test executable itself.
    assert_eq!(dir, exe.parent().unwrap());
}

#[test]
fn version_error_is_mapped_with_hint() {
    let path = Path::new("/x/libonnxruntime.so.1");
    let err = map_load_error(
        &ort::LoadDynamicError::BadVersion { version_str: "1.28.2".into(), path: path.to_path_buf() },
        path,
    );
    assert_eq!(err.code, codes::VERSION);
    assert!(err.message.contains("1.28.2"), "{}", err.message);
    assert!(err.message.contains("1.30"), "{}", err.message);
    assert!(err.hint.contains(PLATFORM_PACKAGE), "{}", err.hint);
    assert!(err.hint.contains("ORT_DYLIB_PATH"), "{}", err.hint);

    let err = map_load_error(&ort::LoadDynamicError::MissingApi { path: path.to_path_buf() }, path);
    assert_eq!(err.code, codes::LOAD_FAILED);
}

#[test]
fn npm_package_json_version() {
    let Some(lib) = real_lib() else { return };
    let npm = RuntimeLocation { path: lib.clone(), source: RuntimeSource::NpmPackage };
    assert_eq!(npm_package_version(&npm).as_deref(), Some("1.30.0"));
    let env = RuntimeLocation { path: lib, source: RuntimeSource::EnvOverride };
    assert_eq!(npm_package_version(&env), None);
}

#[test]
fn build_info_version_parsing() {
    assert_eq!(
        parse_release_branch("ORT Build Info: git-branch=rel-1.30.0, git-commit-id=abc"),
        Some("1.30.0".to_string())
    );
    assert_eq!(parse_release_branch("ORT Build Info: git-branch=main"), None);
}

#[test]
fn threads_env_override() {
    let taken = |count| ThreadSetting { count, note: None };
    assert_eq!(decide_threads(Some("3"), 8), taken(3));
    assert_eq!(decide_threads(Some(" 4 "), 8), taken(4));
    assert_eq!(decide_threads(Some("8"), 8), taken(8));
    assert_eq!(decide_threads(None, 8), taken(8));
    assert_eq!(decide_threads(Some(""), 8), taken(8));

    let cores = std::thread::available_parallelism().unwrap().get();
    let _lock = env_lock();
    let _env = set(ENV_THREADS, "1");
    assert_eq!(threads(), 1);
    let _env = EnvGuard::set(&[(ENV_THREADS, None)]);
    assert_eq!(threads(), cores);
    let _env = set(ENV_THREADS, "99999");
    assert_eq!(threads(), cores, "clamped to the cores");
}

#[test]
fn more_threads_than_cores_are_clamped_and_said() {
    for raw in ["9", "1000", "99999", "184467440737095516160000"] {
        let s = decide_threads(Some(raw), 8);
        assert_eq!(s.count, 8, "{raw}");
        let note = s.note.unwrap_or_default();
        assert!(note.contains(&format!("HYPERFRAMES_THREADS={raw}")) && note.contains("8 cores"), "{note}");
    }
}

#[test]
fn a_value_that_is_no_thread_count_is_ignored_and_said() {
    for raw in ["0", "000", "-2", "lots", "2.5", "1e3"] {
        let s = decide_threads(Some(raw), 4);
        assert_eq!(s.count, 4, "{raw}");
        assert!(s.note.is_some_and(|n| n.contains("ignored")), "{raw}");
    }
}

/// Process-global: the only test that opens the library. It first checks
/// two failure paths (nothing is cached on failure), then loads the real
/// library.
#[test]
fn ensure_loaded_reports_version() {
    let Some(lib) = real_lib() else { return };
    let _lock = env_lock();

    if loaded().is_none() {
        let tmp = tempfile::tempdir().unwrap();
        let _env = set(ENV_DYLIB_PATH, tmp.path().join("missing.so"));
        // Another test may load the real library between the check above and this call (the
        // runtime is process-wide); then the failure paths cannot be seen in this process.
        if let Err(err) = ensure_loaded() {
            assert_eq!(err.code, codes::NOT_FOUND, "{err:?}");
        }

        let bogus = tmp.path().join("libonnxruntime.so.1");
        std::fs::write(&bogus, b"definitely not an ELF file").unwrap();
        let _env = set(ENV_DYLIB_PATH, &bogus);
        if let Err(err) = ensure_loaded() {
            assert_eq!(err.code, codes::LOAD_FAILED, "{err:?}");
            assert!(err.message.contains("libonnxruntime.so.1"), "{}", err.message);
        }
    }

    let _env = set(ENV_DYLIB_PATH, &lib);
    let rt = ensure_loaded().expect("load real ONNX Runtime");
    assert_eq!(rt.version, "1.30.0");
    assert!(rt.location.path.is_absolute());
    assert!(std::ptr::eq(rt, ensure_loaded().unwrap()));
    assert!(loaded().is_some());
    // The environment is usable for sessions.
    let _ = rt.environment();
}

/// A little-endian ELF64 file: its header, one program header (a `PT_LOAD` of `segment_len`
/// bytes from offset 0), then `len` bytes in all.
fn elf64(segment_len: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len.max(120)];
    b[..4].copy_from_slice(b"\x7fELF");
    b[4] = 2; // 64-bit
    b[5] = 1; // little-endian
    b[32..40].copy_from_slice(&64u64.to_le_bytes()); // e_phoff
    b[54..56].copy_from_slice(&56u16.to_le_bytes()); // e_phentsize
    b[56..58].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
    b[64..68].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    b[64 + 32..64 + 40].copy_from_slice(&segment_len.to_le_bytes()); // p_filesz
    b.truncate(len);
    b
}

#[test]
fn a_library_cut_short_is_refused_before_it_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.so");
    std::fs::write(&whole, elf64(4096, 4096)).unwrap();
    assert_eq!(check_library_file(&whole), Ok(()));
    let cut = dir.path().join("cut.so");
    std::fs::write(&cut, elf64(4096, 2000)).unwrap();
    let e = check_library_file(&cut).unwrap_err();
    assert_eq!(e.code, codes::LOAD_FAILED);
    assert!(e.message.contains("cut short") && e.message.contains("byte 4096"), "{}", e.message);
    assert!(e.hint.contains("ORT_DYLIB_PATH"), "{}", e.hint);
    let headers_cut = dir.path().join("headers.so");
    std::fs::write(&headers_cut, &elf64(4096, 4096)[..90]).unwrap();
    assert!(check_library_file(&headers_cut).unwrap_err().message.contains("program header table"));

    // The real library, whole and cut in half (where it is installed).
    let Some(lib) = real_lib() else { return };
    assert_eq!(check_library_file(&lib), Ok(()));
    let bytes = std::fs::read(&lib).unwrap();
    let half = dir.path().join("libonnxruntime.so.1");
    std::fs::write(&half, &bytes[..bytes.len() / 2]).unwrap();
    assert!(check_library_file(&half).unwrap_err().message.contains("cut short"));
}

#[test]
fn what_is_no_shared_library_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.so");
    std::fs::write(&text, "just some text, long enough to hold a header if it were one").unwrap();
    assert!(check_library_file(&text).unwrap_err().message.contains("no ELF, Mach-O or PE header"));
    let empty = dir.path().join("empty.so");
    std::fs::write(&empty, "").unwrap();
    assert!(check_library_file(&empty).unwrap_err().message.contains("too small"));
    let mut no_class = elf64(4096, 4096);
    no_class[4] = 9;
    std::fs::write(&text, no_class).unwrap();
    assert!(check_library_file(&text).unwrap_err().message.contains("unknown class"));
}

#[cfg(unix)]
#[test]
fn a_device_is_not_a_regular_file() {
    let e = locate_override(Path::new("/dev/zero")).unwrap_err();
    assert!(e.message.contains("not a regular file") && !e.message.contains("does not exist"), "{}", e.message);
    assert!(check_library_file(Path::new("/dev/zero")).unwrap_err().message.contains("not a regular file"));
}
