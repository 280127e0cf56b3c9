use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::chains::testing::{self, SINE_MP3};
use crate::providers::test_server::{Recorded, Scripted, TestServer};

/// A HeyGen stand-in: speech whose one word is the line's first word, presigned MP3 downloads,
/// a music library with one track and no sound effects. Speech for text containing "boom" is a
/// 400; `delay` slows every speech request.
async fn heygen(delay: Duration) -> TestServer {
    TestServer::routed(move |r: &Recorded| {
        if r.target.starts_with("/v3/voices/speech") {
            let text = r.json()["text"].as_str().unwrap_or_default().to_string();
            if text.contains("boom") {
                return (delay, Scripted::json(400, json!({"error": {"code": "invalid_text", "message": "boom"}})));
            }
            let first = text.split_whitespace().next().unwrap_or_default().to_string();
            let body = json!({"data": {"audio_url": "{base}/audio/line.mp3",
                "word_timestamps": [{"word": "<start>", "start": 0.0, "end": 0.0}, {"word": first, "start": 0.05, "end": 0.3}]}});
            (delay, Scripted::json(200, body))
        } else if r.target.starts_with("/audio/") {
            (Duration::ZERO, Scripted::bytes(200, "audio/mpeg", SINE_MP3.to_vec()))
        } else if r.target.contains("type=music") {
            let hit = json!({"id": "m1", "name": "Calm Bed", "description": "", "audio_url": "{base}/audio/bed.mp3", "duration": 1.0, "score": 0.9});
            (Duration::ZERO, Scripted::json(200, json!({"data": [hit]})))
        } else if r.target.contains("type=sound_effects") {
            (Duration::ZERO, Scripted::json(200, json!({"data": []})))
        } else {
            (Duration::ZERO, Scripted::json(404, json!({})))
        }
    })
    .await
}

fn providers(server: &TestServer, hosted: usize) -> Providers {
    Providers { heygen: Some(testing::heygen(server)), limits: Limits::new(hosted), ..Providers::default() }
}

fn heygen_only() -> Facts {
    Facts { heygen: true, ..Facts::default() }
}

fn options(out: &Path) -> BuildOptions {
    BuildOptions { out: out.to_path_buf(), ..BuildOptions::default() }
}

fn request(value: Value) -> MediaRequest {
    MediaRequest::from_value(&value).unwrap()
}

fn wav_seconds(path: &Path) -> f64 {
    let r = hound::WavReader::open(path).unwrap();
    f64::from(r.duration()) / f64::from(r.spec().sample_rate)
}

#[tokio::test]
async fn a_script_becomes_voice_files_cues_a_bed_and_a_manifest() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let req = request(json!({
        "lines": [
            {"id": "intro", "text": "Hello there.", "sfx": ["whoosh", {"name": "Whoosh", "at": 0.5}]},
            {"id": "empty", "text": " "},
            {"id": "outro", "text": "Goodbye now.", "sfx": ["pop"]},
        ],
        "music": {"prompt": "calm"},
    }));
    let log = Mutex::new(Vec::new());
    let record = |e: Event| log.lock().unwrap().push(e);
    let m = build_with(&req, &options(dir.path()), &heygen_only(), &providers(&server, 1), &record).await.unwrap();

    assert!(!m.ok, "one line failed");
    assert_eq!(m.voices.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), vec!["intro", "outro"]);
    assert_eq!(m.failed.len(), 1);
    assert_eq!((m.failed[0].id.as_str(), m.failed[0].code), ("empty", "EMPTY_TEXT"));
    assert_eq!(m.tts_provider, Some("heygen"));
    assert_eq!(m.providers.voice, vec!["heygen"]);
    for v in &m.voices {
        let wav = dir.path().join(&v.path);
        assert!((wav_seconds(&wav) - v.duration_s).abs() < 0.002, "{}", v.path);
        assert_eq!(v.words.as_array().unwrap().len(), 1, "the <start> sentinel is dropped");
        let words: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join(&v.words_path)).unwrap()).unwrap();
        assert_eq!(words, v.words);
    }
    assert_eq!(m.voices[0].words[0]["text"], "Hello");
    assert_eq!(m.voices[1].words[0]["text"], "Goodbye");
    let total: f64 = m.voices.iter().map(|v| v.duration_s).sum();
    assert!((m.total_duration_s - total).abs() < 0.001);

    // "whoosh" and "Whoosh" share one file; the library had no effects, so the bundled one served.
    assert_eq!(m.sfx.len(), 3);
    assert_eq!(m.sfx[0].path, m.sfx[1].path);
    assert_eq!((m.sfx[1].line.as_str(), m.sfx[1].offset_s, m.sfx[1].volume), ("intro", 0.5, 0.35));
    assert_eq!(m.sfx[2].path, "sfx/pop.wav");
    assert!(m.sfx.iter().all(|s| s.provider == "bundled" && dir.path().join(&s.path).is_file()));
    assert_eq!(m.providers.sfx, vec!["bundled"]);

    let bed = m.bgm.as_ref().unwrap();
    assert_eq!((bed.provider, bed.title.as_deref(), bed.volume), ("heygen", Some("Calm Bed"), 0.12));
    assert!((bed.duration_s - m.total_duration_s).abs() < 0.002, "the bed lasts as long as the voice");
    assert!((wav_seconds(&dir.path().join(MUSIC_FILE)) - m.total_duration_s).abs() < 0.01);

    assert!(m.anomalies.iter().any(|a| a.starts_with("line empty: not voiced")), "{:?}", m.anomalies);
    assert!(m.anomalies.iter().any(|a| a.contains("sound effect \"whoosh\": heygen: no match")), "{:?}", m.anomalies);
    let on_disk: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("audio_meta.json")).unwrap()).unwrap();
    assert_eq!(on_disk, serde_json::to_value(&m).unwrap());
    assert!(!dir.path().join("voice/empty.wav").exists());

    let seen: Vec<Event> = log.lock().unwrap().clone();
    assert_eq!(seen[0], Event::Started { lines: 3, effects: 2, music: true });
    assert_eq!(seen.iter().filter(|e| matches!(e, Event::Line { .. })).count(), 3);
    assert_eq!(seen.iter().filter(|e| matches!(e, Event::Effect { outcome: Ok("bundled"), .. })).count(), 2);
    assert!(seen.contains(&Event::Music { outcome: Ok("heygen") }));
}

#[tokio::test]
async fn a_failing_line_never_stops_the_others_and_order_is_kept() {
    let server = heygen(Duration::from_millis(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<Value> = (0..6)
        .map(
            |i| json!({"id": format!("l{i}"), "text": if i == 2 { "boom".to_string() } else { format!("w{i} words") }}),
        )
        .collect();
    let m = build_with(
        &request(json!({"lines": lines})),
        &options(dir.path()),
        &heygen_only(),
        &providers(&server, 3),
        &|_| {},
    )
    .await
    .unwrap();
    assert_eq!(m.voices.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), vec!["l0", "l1", "l3", "l4", "l5"]);
    for v in &m.voices {
        assert_eq!(v.words[0]["text"], format!("w{}", &v.id[1..]), "each file holds its own line");
    }
    assert_eq!(m.failed[0].id, "l2");
    assert!(m.failed[0].error.contains("400"), "{:?}", m.failed[0]);
    assert_eq!(m.bgm, None);
}

#[tokio::test]
async fn hosted_requests_stay_within_the_limit() {
    for limit in [2, 1] {
        let server = heygen(Duration::from_millis(40)).await;
        let dir = tempfile::tempdir().unwrap();
        let lines: Vec<Value> = (0..6).map(|i| json!({"id": format!("l{i}"), "text": "hi"})).collect();
        let m = build_with(
            &request(json!({"lines": lines})),
            &options(dir.path()),
            &heygen_only(),
            &providers(&server, limit),
            &|_| {},
        )
        .await
        .unwrap();
        assert!(m.ok);
        // An upper bound only: how many overlap below it depends on scheduling (the limits'
        // own tests show a limit is reached).
        let peak = server.peak_in_flight();
        assert!((1..=limit).contains(&peak), "limit {limit}, peak {peak}");
    }
}

#[tokio::test]
async fn local_only_touches_no_server_and_still_writes_the_manifest() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let facts = Facts { local_only: true, ..heygen_only() };
    let req = request(json!({"lines": [{"id": "a", "text": "Hi.", "sfx": ["click"]}], "music": true}));
    let m = build_with(&req, &options(dir.path()), &facts, &providers(&server, 2), &|_| {}).await.unwrap();
    assert!(server.requests().is_empty(), "{:?}", server.requests().len());
    assert!(!m.ok);
    assert_eq!(m.failed[0].code, "NO_PROVIDER");
    assert_eq!(m.sfx[0].provider, "bundled");
    assert_eq!(m.bgm, None);
    assert!(m.anomalies.iter().any(|a| a.starts_with("music: left out")), "{:?}", m.anomalies);
    assert!(dir.path().join("audio_meta.json").is_file());
}

#[tokio::test]
async fn music_modes_and_no_music() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let req = request(json!({"music": {"mode": "generate", "seconds": 2}}));
    let m = build_with(&req, &options(dir.path()), &heygen_only(), &providers(&server, 1), &|_| {}).await.unwrap();
    assert_eq!(m.bgm, None, "the library does not generate");
    assert!(m.anomalies.iter().any(|a| a.contains("No music generator")), "{:?}", m.anomalies);
    assert!(server.requests().is_empty());

    let req = request(json!({"music": {"mode": "retrieve", "seconds": 2}}));
    let m = build_with(&req, &options(dir.path()), &heygen_only(), &providers(&server, 1), &|_| {}).await.unwrap();
    let bed = m.bgm.unwrap();
    assert_eq!((bed.provider, bed.duration_s, bed.volume), ("heygen", 2.0, 0.9), "alone, the bed is loud");

    let opts = BuildOptions { no_music: true, ..options(dir.path()) };
    let req = request(json!({"lines": [{"id": "a", "text": "Hi."}], "music": true}));
    let before = server.requests().len();
    let m = build_with(&req, &opts, &heygen_only(), &providers(&server, 1), &|_| {}).await.unwrap();
    assert_eq!(m.bgm, None);
    assert!(server.requests()[before..].iter().all(|r| !r.target.contains("type=music")));
}

#[tokio::test]
async fn an_output_folder_that_cannot_be_made_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let req = request(json!({"lines": [{"id": "a", "text": "Hi."}]}));
    let e = build_with(&req, &options(&file.join("out")), &heygen_only(), &Providers::default(), &|_| {})
        .await
        .unwrap_err();
    assert_eq!(e.code, "IO_ERROR");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[tokio::test]
async fn the_voice_provider_and_voice_can_be_overridden() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let req = request(json!({"provider": "elevenlabs", "voice": "someone", "lines": [{"id": "a", "text": "Hi."}]}));
    let opts = BuildOptions {
        routing: Routing { provider: Some("heygen".into()), ..Routing::default() },
        voice: Some("0123456789abcdef0123456789abcdef".into()),
        ..options(dir.path())
    };
    let m = build_with(&req, &opts, &heygen_only(), &providers(&server, 1), &|_| {}).await.unwrap();
    assert!(m.ok, "{:?}", m.failed);
    assert_eq!(m.voice_id.as_deref(), Some("0123456789abcdef0123456789abcdef"));
    let speech = server.requests().into_iter().find(|r| r.target.starts_with("/v3/voices/speech")).unwrap();
    assert_eq!(speech.json()["voice_id"], "0123456789abcdef0123456789abcdef");
}

#[tokio::test]
async fn unchanged_lines_are_kept_and_changed_or_damaged_ones_voiced_again() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let speech_requests = || server.requests().iter().filter(|r| r.target.starts_with("/v3/voices/speech")).count();
    let script = |second: &str| {
        request(
            json!({"lines": [{"id": "a", "text": "First line."}, {"id": "b", "text": second}, {"id": "c", "text": "Third."}]}),
        )
    };
    let run = |req: MediaRequest, fresh: bool| {
        let opts = BuildOptions { fresh, ..options(dir.path()) };
        let providers = providers(&server, 1);
        async move { build_with(&req, &opts, &heygen_only(), &providers, &|_| {}).await.unwrap() }
    };
    let first = run(script("Second."), false).await;
    assert_eq!(speech_requests(), 3);
    assert!(first.voices.iter().all(|v| !v.reused && v.input_sha256.len() == 64));

    let again = run(script("Second."), false).await;
    assert_eq!(speech_requests(), 3, "nothing changed, nothing is asked again");
    assert!(again.voices.iter().all(|v| v.reused));
    assert_eq!(
        again.voices.iter().map(|v| (&v.words, v.duration_s)).collect::<Vec<_>>(),
        first.voices.iter().map(|v| (&v.words, v.duration_s)).collect::<Vec<_>>()
    );

    let edited = run(script("A new second line."), false).await;
    assert_eq!(speech_requests(), 4, "only the edited line");
    assert_eq!(edited.voices.iter().map(|v| v.reused).collect::<Vec<_>>(), vec![true, false, true]);
    assert_eq!(edited.voices[1].words[0]["text"], "A");

    std::fs::write(dir.path().join("voice/c.wav"), b"RIFF").unwrap();
    let repaired = run(script("A new second line."), false).await;
    assert_eq!(speech_requests(), 5, "a damaged file is voiced again");
    assert!(!repaired.voices[2].reused);

    run(script("A new second line."), true).await;
    assert_eq!(speech_requests(), 8, "--fresh voices everything");

    let faster = request(json!({"speed": 1.2, "lines": [{"id": "a", "text": "First line."}]}));
    assert!(!run(faster, false).await.voices[0].reused, "a different speed is a different line");
}

#[tokio::test]
async fn a_recording_that_cannot_be_read_fails_its_line_only() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-take.wav");
    let req = request(json!({"lines": [
        {"id": "voiced", "text": "Hello there."},
        {"id": "take", "text": "Recorded words.", "audio": missing},
    ]}));
    let out = dir.path().join("out");
    let m = build_with(&req, &options(&out), &heygen_only(), &providers(&server, 2), &|_| {}).await.unwrap();
    assert_eq!(m.voices.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), vec!["voiced"]);
    assert_eq!(m.failed.len(), 1);
    let failed = &m.failed[0];
    assert_eq!((failed.id.as_str(), failed.code), ("take", "NOT_FOUND"));
    assert!(failed.error.contains("no-such-take.wav"), "{}", failed.error);
    assert!(failed.hint.as_deref().unwrap_or_default().contains("\"audio\" path"), "{failed:?}");
    assert!(!m.ok);
    assert!(!out.join("voice/take.wav").exists());
}

#[cfg(unix)]
#[tokio::test]
async fn a_recording_that_is_a_device_or_a_fifo_fails_its_line_at_once() {
    let server = heygen(Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let zero = dir.path().join("zero.wav");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    let fifo = dir.path().join("pipe.flac");
    crate::test_support::make_fifo(&fifo);
    let req = request(json!({"lines": [
        {"id": "voiced", "text": "Hello there."},
        {"id": "zero", "text": "Recorded words.", "audio": zero},
        {"id": "pipe", "text": "Recorded words.", "audio": fifo},
    ]}));
    let out = dir.path().join("out");
    let m = build_with(&req, &options(&out), &heygen_only(), &providers(&server, 2), &|_| {}).await.unwrap();
    assert_eq!(m.voices.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(), vec!["voiced"]);
    let mut failed: Vec<_> = m.failed.iter().map(|f| (f.id.as_str(), f.code)).collect();
    failed.sort();
    assert_eq!(failed, vec![("pipe", "BAD_INPUT"), ("zero", "BAD_INPUT")], "{:?}", m.failed);
    assert!(m.failed.iter().all(|f| f.error.contains("not a regular file")), "{:?}", m.failed);
}

/// The real-model tier: Kokoro speaks a line, then a second build uses that speech as a line's
/// recording, whose words Whisper places. Needs `HYPERFRAMES_TEST_MODELS_DIR` (Kokoro, whisper-tiny.en
/// and an ONNX Runtime); without them it says it skipped.
#[test]
fn a_recorded_line_gets_its_words_placed_like_a_voiced_one() {
    let Ok(models) = std::env::var("HYPERFRAMES_TEST_MODELS_DIR") else {
        eprintln!("skipping a_recorded_line_gets_its_words_placed_like_a_voiced_one: set HYPERFRAMES_TEST_MODELS_DIR");
        return;
    };
    let _lock = crate::test_support::env_lock();
    let _env = crate::test_support::EnvGuard::set(&[("HYPERFRAMES_MODELS_DIR", Some(models.as_str()))]);
    let facts = Facts::gather(true);
    let whisper = Path::new(&models).join("whisper-tiny.en");
    if !facts.kokoro_installed || !facts.onnx_runtime || !whisper.is_dir() {
        eprintln!("skipping a_recorded_line_gets_its_words_placed_like_a_voiced_one: Kokoro, whisper-tiny.en or the ONNX Runtime is missing");
        return;
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let local =
        |out: &Path| BuildOptions { routing: Routing { local_only: true, ..Routing::default() }, ..options(out) };
    let text = "The quick brown fox jumps over the lazy dog.";
    let spoken = dir.path().join("spoken");
    let req = request(json!({"lines": [{"id": "said", "text": text}]}));
    let first = rt.block_on(build_with(&req, &local(&spoken), &facts, &Providers::default(), &|_| {})).unwrap();
    assert_eq!(first.voices[0].provider, "kokoro", "{first:?}");

    let take = spoken.join("voice/said.wav");
    let out = dir.path().join("recorded");
    let req = request(json!({"lines": [{"id": "take", "text": text, "audio": take}]}));
    let m = rt.block_on(build_with(&req, &local(&out), &facts, &Providers::default(), &|_| {})).unwrap();
    assert!(m.ok && m.failed.is_empty(), "{m:?}");
    let v = &m.voices[0];
    assert_eq!((v.id.as_str(), v.provider, v.path.as_str()), ("take", "recorded", "voice/take.wav"));
    assert_eq!(v.voice, take.display().to_string());
    assert_eq!(m.providers.voice, vec!["recorded"]);
    // The recording is kept at its own rate and length.
    assert_eq!(v.sample_rate, first.voices[0].sample_rate);
    assert!(
        (v.duration_s - first.voices[0].duration_s).abs() < 0.01,
        "{} vs {}",
        v.duration_s,
        first.voices[0].duration_s
    );
    assert!((wav_seconds(&out.join(&v.path)) - v.duration_s).abs() < 0.002);
    // Every word of the text, in order, placed inside the recording.
    let words = v.words.as_array().unwrap();
    let said: Vec<&str> = words.iter().map(|w| w["text"].as_str().unwrap()).collect();
    assert_eq!(said, text.split_whitespace().collect::<Vec<_>>(), "{words:?}");
    let mut last = 0.0;
    for w in words {
        let (start, end) = (w["start"].as_f64().unwrap(), w["end"].as_f64().unwrap());
        assert!(start >= last - 1e-9 && start <= end && end <= v.duration_s + 1e-9, "{words:?}");
        last = start;
    }
    let file: Value = serde_json::from_str(&std::fs::read_to_string(out.join(&v.words_path)).unwrap()).unwrap();
    assert_eq!(&file, &v.words);

    // Unchanged text and recording: the next build keeps the line.
    let again = rt.block_on(build_with(&req, &local(&out), &facts, &Providers::default(), &|_| {})).unwrap();
    assert!(again.voices[0].reused, "{again:?}");
}
