//! Handing memory the process no longer uses back to the system, so that resident memory (what
//! peak-RSS figures count) follows what the engines actually hold. Linux with glibc only; elsewhere
//! both calls do nothing.
//!
//! Measured on the 994-character Kokoro benchmark paragraph to WAV (release addon, `/usr/bin/time`
//! maximum resident size, in MiB): 425-437 before, 408 with [`trim_heap`] after the session is
//! built and after every chunk, 396 with [`drop_read_only_data`] as well (see `kokoro/model.rs`).

/// Returns the free pages of glibc's heaps to the system (`malloc_trim(0)`). ONNX Runtime frees
/// the parsed model and the graph optimiser's scratch once a session is built, and every chunk
/// frees its outputs and kernels' scratch; glibc keeps all of that resident until trimmed.
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` only releases free memory; it takes glibc's own locks.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drops this library's read-only data segment (the first mapping of the addon file: constants,
/// and the English G2P's embedded lexicons, tagger and neural weights, about 12 MB once the G2P has
/// read them) from the page tables. The pages are clean copies of the file, never written (the
/// loader's relocations go to the later RELRO and data segments, left alone), so the kernel reads
/// any page back from the file on the next access: nothing changes but resident memory, which
/// otherwise keeps every page the G2P ever touched until the process exits.
pub fn drop_read_only_data() {
    #[cfg(target_os = "linux")]
    if let Some((start, len)) = read_only_segment() {
        // SAFETY: the range is a private, read-only, file-backed mapping of this library that has
        // no dirty pages (checked by `read_only_segment`): MADV_DONTNEED only unmaps pages that
        // are refaulted from the file.
        let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
        tracing::debug!(start = format_args!("{start:#x}"), len, rc, "dropped the addon's read-only data pages");
    }
}

/// Start and length of the mapping that begins at this library's load address, when it is
/// read-only, private, starts at file offset 0 and has no dirty page.
#[cfg(target_os = "linux")]
fn read_only_segment() -> Option<(usize, usize)> {
    let anchor = read_only_segment as fn() -> Option<(usize, usize)>;
    // SAFETY: `dladdr` only inspects the loader's tables; `info` is plain data read on success.
    let mut info: libc::Dl_info = unsafe { std::mem::zeroed() };
    if unsafe { libc::dladdr(anchor as *const libc::c_void, &mut info) } == 0 || info.dli_fbase.is_null() {
        return None;
    }
    let base = info.dli_fbase as usize;
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut lines = smaps
        .lines()
        .skip_while(|l| l.split_once('-').and_then(|(s, _)| usize::from_str_radix(s, 16).ok()) != Some(base));
    let segment = segment_of(lines.next()?, base)?;
    // The fields of this mapping, up to the next mapping's header line.
    let dirty = lines
        .take_while(|l| l.split_once('-').is_none_or(|(s, _)| usize::from_str_radix(s, 16).is_err()))
        .filter(|l| l.starts_with("Private_Dirty:") || l.starts_with("Shared_Dirty:"))
        .any(|l| l.split_whitespace().nth(1) != Some("0"));
    (!dirty).then_some(segment)
}

/// Parses one `/proc/self/maps` line: `start-end perms offset dev inode path`; only a private
/// read-only mapping from offset 0 of a file qualifies.
#[cfg(any(target_os = "linux", test))]
fn segment_of(line: &str, base: usize) -> Option<(usize, usize)> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let (start, end) = (usize::from_str_radix(start, 16).ok()?, usize::from_str_radix(end, 16).ok()?);
    let perms = fields.next()?;
    let offset = u64::from_str_radix(fields.next()?, 16).ok()?;
    let path = fields.nth(2)?;
    (start == base && end > start && perms == "r--p" && offset == 0 && path.starts_with('/'))
        .then_some((start, end - start))
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEXT: &str = "read-only data read back from the file after its pages were dropped";

    #[test]
    fn only_a_private_read_only_mapping_from_offset_zero_qualifies() {
        let line = "7f6479800000-7f647b06b000 r--p 00000000 fe:00 10011502   /tmp/x/hyperframes.node";
        assert_eq!(segment_of(line, 0x7f6479800000), Some((0x7f6479800000, 0x7f647b06b000 - 0x7f6479800000)));
        assert_eq!(segment_of(line, 0x1000), None, "another base");
        let text = "7f647b06b000-7f647bf08000 r-xp 00000000 fe:00 10011502   /tmp/x/hyperframes.node";
        assert_eq!(segment_of(text, 0x7f647b06b000), None, "code");
        let relro = "7f647bf08000-7f647bfae000 r--p 02706000 fe:00 10011502   /tmp/x/hyperframes.node";
        assert_eq!(segment_of(relro, 0x7f647bf08000), None, "not at offset 0");
        let anon = "7f647bf08000-7f647bfae000 r--p 00000000 00:00 0";
        assert_eq!(segment_of(anon, 0x7f647bf08000), None, "not a file");
    }

    #[test]
    fn data_and_the_heap_still_read_right_afterwards() {
        let heap: Vec<u8> = (0..=255).collect();
        drop_read_only_data();
        trim_heap();
        assert_eq!(std::hint::black_box(TEXT).len(), 67);
        assert!(TEXT.ends_with("dropped"));
        assert_eq!(heap.iter().map(|&b| b as u32).sum::<u32>(), 255 * 128);
    }
}
