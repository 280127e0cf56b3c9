use super::*;
use std::fs;

fn sine(n: usize, rate: u32, hz: f32, amp: f32) -> Vec<f32> {
    (0..n).map(|i| amp * (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin()).collect()
}

fn no_temp_files(dir: &Path) -> bool {
    fs::read_dir(dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
}

#[test]
fn i16_conversion_clamps_and_rounds() {
    assert_eq!(to_i16(0.0), 0);
    assert_eq!(to_i16(1.0), 32767);
    assert_eq!(to_i16(-1.0), -32767);
    assert_eq!(to_i16(1.5), 32767);
    assert_eq!(to_i16(-7.0), -32767);
    assert_eq!(to_i16(0.5), 16384); // 16383.5 rounds away from zero
    assert_eq!(to_i16(1.0 / 32767.0 * 0.49), 0);
    assert_eq!(to_i16(1.0 / 32767.0 * 0.51), 1);
    assert_eq!(to_i16(f32::NAN), 0);
    assert_eq!(to_i16(f32::INFINITY), 32767);
    assert_eq!(to_i16(f32::NEG_INFINITY), -32767);
}

#[test]
fn round_trip_i16() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/out.wav");
    let samples = sine(2400, 24_000, 440.0, 0.8);
    write_wav(&path, &samples, 24_000, SampleFormat::Int16).unwrap();
    let (back, rate, channels) = read_wav(&path).unwrap();
    assert_eq!((rate, channels, back.len()), (24_000, 1, samples.len()));
    for (a, b) in samples.iter().zip(&back) {
        // Written with ×32767 and rounding, read back with ÷32768 (the usual conventions).
        assert!((a - b).abs() <= 1.5 / 32767.0, "{a} vs {b}");
    }
    assert_eq!(fs::metadata(&path).unwrap().len(), 44 + 2 * 2400);
    assert!(no_temp_files(path.parent().unwrap()));
}

#[test]
fn round_trip_f32_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    let mut samples = sine(1000, 24_000, 1000.0, 1.3);
    samples.push(f32::NAN);
    write_wav(&path, &samples, 24_000, SampleFormat::Float32).unwrap();
    let (back, rate, channels) = read_wav(&path).unwrap();
    assert_eq!((rate, channels), (24_000, 1));
    assert_eq!(&back[..1000], &samples[..1000]);
    assert_eq!(back[1000], 0.0);
}

#[test]
fn wav_bytes_match_file() {
    let dir = tempfile::tempdir().unwrap();
    let samples = sine(500, 22_050, 300.0, 0.5);
    for format in [SampleFormat::Int16, SampleFormat::Float32] {
        let path = dir.path().join(format!("{format:?}.wav"));
        write_wav(&path, &samples, 22_050, format).unwrap();
        let bytes = wav_bytes(&samples, 22_050, format);
        assert_eq!(bytes, fs::read(&path).unwrap());
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(&bytes[8..12], b"WAVE");
    }
    // Empty audio is still a valid file.
    let empty = wav_bytes(&[], 24_000, SampleFormat::Int16);
    assert_eq!(empty.len(), 44);
}

#[test]
fn read_other_depths_and_stereo() {
    let dir = tempfile::tempdir().unwrap();
    for (bits, max) in [(8u16, 127i32), (24, 8_388_607), (32, i32::MAX)] {
        let path = dir.path().join(format!("{bits}.wav"));
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16_000,
            bits_per_sample: bits,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&path, spec).unwrap();
        for v in [max, -max - 1, 0, max / 2] {
            w.write_sample(v).unwrap();
        }
        w.finalize().unwrap();
        let (s, rate, ch) = read_wav(&path).unwrap();
        assert_eq!((rate, ch, s.len()), (16_000, 2, 4));
        assert!((s[0] - 1.0).abs() < 0.01 && s[1] == -1.0 && s[2] == 0.0 && (s[3] - 0.5).abs() < 0.01, "{bits}: {s:?}");
    }
}

#[test]
fn read_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(read_wav(&dir.path().join("missing.wav")).unwrap_err().code, "IO_ERROR");
    let junk = dir.path().join("junk.wav");
    fs::write(&junk, b"RIFF----WAVEnope").unwrap();
    let e = read_wav(&junk).unwrap_err();
    assert_eq!(e.code, "BAD_AUDIO", "{e:?}");
    let cut = dir.path().join("cut.wav");
    let bytes = wav_bytes(&sine(100, 8000, 100.0, 0.5), 8000, SampleFormat::Int16);
    fs::write(&cut, &bytes[..bytes.len() - 51]).unwrap();
    assert_eq!(read_wav(&cut).unwrap_err().code, "BAD_AUDIO");
}

#[test]
fn write_rejects_zero_rate() {
    assert_eq!(try_wav_bytes(&[0.0], 0, SampleFormat::Float32).unwrap_err().code, "BAD_AUDIO");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.wav");
    assert_eq!(write_wav(&path, &[0.0], 0, SampleFormat::Int16).unwrap_err().code, "BAD_AUDIO");
    assert!(!path.exists());
}

#[test]
fn overwrite_replaces_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");
    write_wav(&path, &[0.1; 10], 24_000, SampleFormat::Int16).unwrap();
    write_wav(&path, &[0.2; 20], 24_000, SampleFormat::Int16).unwrap();
    assert_eq!(read_wav(&path).unwrap().0.len(), 20);
    assert!(no_temp_files(dir.path()));
}

#[test]
fn failed_write_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.wav");

    // Failure midway through writing: nothing at `path`, no temp left.
    let err = write_encoded(&path, |w| {
        w.write_all(b"RIFF partial data")?;
        Err(std::io::Error::other("disk full"))
    })
    .unwrap_err();
    assert_eq!(err.code, "IO_ERROR");
    assert!(!path.exists());
    assert!(no_temp_files(dir.path()));

    // An existing output survives a failed overwrite untouched.
    write_wav(&path, &[0.25; 8], 24_000, SampleFormat::Int16).unwrap();
    let before = fs::read(&path).unwrap();
    assert!(write_encoded(&path, |w| {
        w.write_all(&[0u8; 100_000])?;
        Err(std::io::Error::other("boom"))
    })
    .is_err());
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(no_temp_files(dir.path()));

    // The target is a directory.
    let sub = dir.path().join("taken");
    fs::create_dir(&sub).unwrap();
    assert_eq!(write_wav(&sub, &[0.0; 4], 24_000, SampleFormat::Int16).unwrap_err().code, "IO_ERROR");
    assert!(no_temp_files(dir.path()));

    // A parent that is a file cannot be created.
    let blocker = dir.path().join("file");
    fs::write(&blocker, b"x").unwrap();
    assert_eq!(write_wav(&blocker.join("o.wav"), &[0.0], 24_000, SampleFormat::Int16).unwrap_err().code, "IO_ERROR");
}

#[cfg(unix)]
#[test]
fn unwritable_directory_leaves_nothing() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores permissions; then there is nothing to test here.
    let probe = ro.join("probe");
    if fs::write(&probe, b"").is_ok() {
        let _ = fs::remove_file(&probe);
        eprintln!("running with permission override (root): skipped");
    } else {
        let err = write_wav(&ro.join("out.wav"), &[0.0; 4], 24_000, SampleFormat::Int16).unwrap_err();
        assert_eq!(err.code, "IO_ERROR");
        assert_eq!(fs::read_dir(&ro).unwrap().count(), 0);
    }
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn join_keeps_exact_count() {
    let chunks = vec![vec![0.3; 1000], vec![], vec![0.1; 7], vec![-0.2; 1], vec![0.4; 333]];
    for fade in [0, 1, 60, 5000] {
        let out = join_chunks(&chunks, fade);
        assert_eq!(out.len(), 1341, "fade {fade}");
    }
    assert!(join_chunks(&[], 60).is_empty());
    assert_eq!(join_chunks(&[vec![0.5; 10]], 60), vec![0.5; 10]);
    // No fade: plain concatenation.
    assert_eq!(join_chunks(&[vec![1.0, 2.0], vec![3.0]], 0), vec![1.0, 2.0, 3.0]);
}

#[test]
fn join_has_no_click_between_opposite_dc_chunks() {
    let fade = DEFAULT_FADE_SAMPLES;
    let chunks = vec![vec![0.5; 2400], vec![-0.5; 2400], vec![0.5; 2400]];
    let out = join_chunks(&chunks, fade);
    assert_eq!(out.len(), 7200);
    // Outer edges and chunk interiors untouched.
    assert_eq!(out[0], 0.5);
    assert_eq!(out[7199], 0.5);
    assert_eq!(out[1200], 0.5);
    assert_eq!(out[2400 + 1200], -0.5);
    assert_eq!(out[2400 - fade - 1], 0.5);
    // Largest step of a raised-cosine fade of amplitude A over n samples is at most A·π/(2n).
    let bound = 0.5 * std::f32::consts::PI / (2.0 * fade as f32) + 1e-6;
    let max_step = out.windows(2).map(|w| (w[1] - w[0]).abs()).fold(0.0f32, f32::max);
    assert!(max_step <= bound, "max step {max_step} > {bound}");
    // The seam itself is near silence (without fades it would jump by 1.0).
    assert!(out[2399].abs() < 1e-3 && out[2400].abs() < 1e-3);
    assert!((out[2399] + out[2400]).abs() < 1e-6, "symmetric fade");
}

#[test]
fn join_short_chunks_fade_at_most_half() {
    // A 10-sample chunk between long ones gets 5-sample fades on each side, not overlapping ones.
    let out = join_chunks(&[vec![1.0; 100], vec![1.0; 10], vec![1.0; 100]], 60);
    assert_eq!(out.len(), 210);
    let mid = &out[100..110];
    assert!(mid.iter().all(|v| *v > 0.0 && *v < 1.0));
    assert!((mid[4] - mid[5]).abs() < 1e-6);
    assert!(mid[4] > 0.9);
}

#[test]
fn fade_gain_is_monotonic_and_mirrored() {
    let n = 60;
    let g: Vec<f32> = (0..n).map(|i| fade_in_gain(i, n)).collect();
    assert!(g.windows(2).all(|w| w[1] > w[0]));
    assert!(g[0] > 0.0 && g[0] < 0.001 && g[n - 1] < 1.0 && g[n - 1] > 0.999);
    for i in 0..n {
        assert!((g[i] + g[n - 1 - i] - 1.0).abs() < 1e-6);
    }
}

#[test]
fn samples_for_ms_values() {
    assert_eq!(samples_for_ms(24_000, 2.5), DEFAULT_FADE_SAMPLES);
    assert_eq!(samples_for_ms(44_100, 10.0), 441);
    assert_eq!(samples_for_ms(24_000, -1.0), 0);
}

#[test]
fn peak_and_rms() {
    assert_eq!(peak(&[]), 0.0);
    assert_eq!(rms(&[]), 0.0);
    assert_eq!(peak(&[0.1, -0.7, 0.3, f32::NAN]), 0.7);
    assert!((rms(&[0.5; 100]) - 0.5).abs() < 1e-7);
    assert!((rms(&[0.5, -0.5]) - 0.5).abs() < 1e-7);
    let s = sine(24_000, 24_000, 100.0, 1.0);
    assert!((rms(&s) - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-4);
    assert!((peak(&s) - 1.0).abs() < 1e-4);
}

#[test]
fn a_wav_written_chunk_by_chunk_is_the_wav_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let samples = sine(24_007, 24_000, 440.0, 1.3);
    for format in [SampleFormat::Int16, SampleFormat::Float32] {
        let path = dir.path().join(format!("{format:?}.wav"));
        let mut out = WavOut::create(&path, 24_000, format).unwrap();
        for chunk in samples.chunks(5_000) {
            out.push(chunk, 24_000).unwrap();
        }
        out.push(&[], 24_000).unwrap();
        out.finish().unwrap();
        assert_eq!(fs::read(&path).unwrap(), wav_bytes(&samples, 24_000, format), "{format:?}");
    }
    // Nothing pushed: a valid empty WAV.
    let empty = dir.path().join("empty.wav");
    WavOut::create(&empty, 24_000, SampleFormat::Int16).unwrap().finish().unwrap();
    assert_eq!(read_wav(&empty).unwrap(), (vec![], 24_000, 1));
    assert!(no_temp_files(dir.path()));
}

#[test]
fn an_unfinished_wav_leaves_the_earlier_file_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("speech.wav");
    write_wav(&path, &[0.25; 8], 24_000, SampleFormat::Int16).unwrap();
    let before = fs::read(&path).unwrap();
    let mut out = WavOut::create(&path, 24_000, SampleFormat::Int16).unwrap();
    out.push(&sine(100_000, 24_000, 220.0, 0.5), 24_000).unwrap();
    // Audio at another rate cannot join: an error, and the file is not touched.
    let e = out.push(&[0.0; 10], 44_100).unwrap_err();
    assert_eq!(e.code, "BAD_AUDIO");
    assert!(e.message.contains("44100 Hz") && e.message.contains("24000 Hz"), "{}", e.message);
    drop(out);
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    assert_eq!(WavOut::create(&path, 0, SampleFormat::Int16).err().unwrap().code, "BAD_AUDIO");
}

#[cfg(unix)]
#[test]
fn a_fifo_gets_the_same_wav_written_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("audio.fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let samples = sine(9_000, 24_000, 330.0, 0.4);
    let mut out = WavOut::create(&fifo, 24_000, SampleFormat::Int16).unwrap();
    out.push(&samples[..4_000], 24_000).unwrap();
    out.push(&samples[4_000..], 24_000).unwrap();
    out.finish().unwrap();
    assert_eq!(reader.join().unwrap(), wav_bytes(&samples, 24_000, SampleFormat::Int16));
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO is written in place");
}
