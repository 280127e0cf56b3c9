use serde_json::json;

use super::*;

fn problems(value: serde_json::Value) -> String {
    let e = MediaRequest::from_value(&value).unwrap_err();
    assert_eq!(e.code, "BAD_REQUEST");
    assert!(e.hint.is_some());
    e.message
}

#[test]
fn a_full_request_parses_with_defaults_filled_in() {
    let r = MediaRequest::from_value(&json!({
        "provider": "heygen", "voice": " v1 ", "speed": 1.25, "lang": "en", "concurrency": 2,
        "lines": [
            {"id": "intro", "text": "Hello.", "sfx": ["whoosh", {"name": "pop", "at": 1.5, "volume": 0.5}]},
            {"id": 2, "text": "Bye.", "voice": "af_heart", "speed": 0.9, "sfx": "ping"},
        ],
        "music": {"query": "upbeat", "seconds": 12, "volume": 0.2},
    }))
    .unwrap();
    assert_eq!(r.provider.as_deref(), Some("heygen"));
    assert_eq!(r.voice.as_deref(), Some("v1"));
    assert_eq!(r.speed, 1.25);
    assert_eq!(r.concurrency, Some(2));
    assert_eq!(r.lines.len(), 2);
    assert_eq!(
        r.lines[0].sfx,
        vec![
            Cue { name: "whoosh".into(), at: 0.0, volume: SFX_VOLUME },
            Cue { name: "pop".into(), at: 1.5, volume: 0.5 },
        ]
    );
    assert_eq!(r.lines[1].id, "2");
    assert_eq!(r.lines[1].speed, Some(0.9));
    assert_eq!(r.lines[1].sfx[0].name, "ping");
    let m = r.music.clone().unwrap();
    assert_eq!((m.prompt.as_str(), m.seconds, m.volume), ("upbeat", Some(12.0), Some(0.2)));
    assert_eq!(
        r.cues().map(|(l, c)| (l.id.as_str(), c.name.as_str())).collect::<Vec<_>>(),
        vec![("intro", "whoosh"), ("intro", "pop"), ("2", "ping")]
    );
}

#[test]
fn the_js_engines_bgm_block_and_modes_are_understood() {
    let r =
        MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "x"}], "bgm": {"mode": "retrieve"}})).unwrap();
    let m = r.music.unwrap();
    assert_eq!((m.prompt.as_str(), m.provider.as_deref()), (DEFAULT_MUSIC_PROMPT, Some("heygen")));
    let r =
        MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "x"}], "bgm": {"mode": "generate"}})).unwrap();
    assert!(r.music.unwrap().generate_only);
    let r = MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "x"}], "bgm": {"mode": "none"}})).unwrap();
    assert_eq!(r.music, None);
    let r = MediaRequest::from_value(&json!({"music": "lofi beats"})).unwrap();
    assert_eq!(r.music.unwrap().prompt, "lofi beats");
    let r = MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "x"}], "music": false})).unwrap();
    assert_eq!(r.music, None);
}

#[test]
fn an_empty_line_is_kept_so_it_fails_on_its_own() {
    let r = MediaRequest::from_value(&json!({"lines": [{"id": "a"}, {"id": "b", "text": "  "}]})).unwrap();
    assert_eq!(r.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>(), vec!["", "  "]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let message = problems(json!({
        "speed": 9,
        "lines": [
            {"id": "../etc/passwd", "text": "x"},
            {"text": "no id"},
            {"id": "ok", "text": 5, "sfx": [{"at": 1}, {"name": "pop", "at": -1}, 7]},
            {"id": "OK", "text": "dup"},
            "not a line",
        ],
        "music": {"seconds": -3, "mode": "loud", "volume": 9},
        "concurrency": 0,
    }));
    for part in [
        "speed: must be greater than 0",
        "lines[0].id: \"../etc/passwd\" cannot name a file",
        "lines[1].id: is required",
        "lines[2].text: must be a string",
        "lines[2].sfx[0]: needs an effect name",
        "lines[2].sfx[1].at: must be 0 or more",
        "lines[2].sfx[2]: must be an effect name",
        "the id \"OK\" is used twice",
        "lines[4]: must be an object",
        "music.seconds: must be more than 0",
        "music.mode: \"loud\" is not one of",
        "music.volume: must be between 0 and 4",
        "concurrency: must be a whole number",
    ] {
        assert!(message.contains(part), "missing {part:?} in:\n{message}");
    }
}

#[test]
fn not_json_or_nothing_to_do_is_refused() {
    let e = MediaRequest::parse("{\"lines\": [").unwrap_err();
    assert_eq!(e.code, "BAD_REQUEST");
    assert!(e.message.contains("not JSON"), "{}", e.message);
    assert!(problems(json!([1, 2])).contains("must be a JSON object"));
    assert!(problems(json!({})).contains("nothing to build"));
    assert!(problems(json!({"lines": []})).contains("nothing to build"));
    assert!(problems(json!({"lines": {"id": "a"}})).contains("lines: must be an array"));
}

#[test]
fn ids_that_cannot_name_a_file_are_refused() {
    for bad in ["", ".hidden", "a/b", "a\\b", "a b", "é", &"x".repeat(65)] {
        assert!(problems(json!({"lines": [{"id": bad, "text": "x"}]})).contains("lines[0].id"), "{bad:?}");
    }
    for good in ["intro", "line-1", "S01_E02.take3", &"x".repeat(64)] {
        assert!(MediaRequest::from_value(&json!({"lines": [{"id": good, "text": "x"}]})).is_ok(), "{good:?}");
    }
}

#[test]
fn windows_device_names_are_refused_as_ids_in_any_case_with_or_without_an_extension() {
    for bad in ["con", "NUL", "aux", "Prn", "com1", "COM9", "lpt1", "LpT0", "nul.wav", "con.words.json", "aux."] {
        let message = problems(json!({"lines": [{"id": bad, "text": "x"}]}));
        assert!(message.contains("lines[0].id") && message.contains("cannot name a file"), "{bad}: {message}");
        assert!(message.contains("Windows"), "{bad}: {message}");
    }
    for good in ["console", "nul2", "com", "com10", "lpt", "auxiliary", "my.con", "conference-1"] {
        assert!(MediaRequest::from_value(&json!({"lines": [{"id": good, "text": "x"}]})).is_ok(), "{good:?}");
    }
}

#[cfg(unix)]
#[test]
fn a_request_file_is_read_through_the_bounded_reader() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("request.json");
    crate::test_support::make_fifo(&fifo);
    for p in [std::path::Path::new("/dev/zero"), fifo.as_path()] {
        let e = MediaRequest::read_text(p.to_str().unwrap()).unwrap_err();
        assert_eq!(e.code, crate::fsio::input::NOT_A_FILE, "{e:?}");
        assert!(e.hint.is_some());
    }
    let sparse = dir.path().join("big.json");
    std::fs::File::create(&sparse).unwrap().set_len(1 << 30).unwrap();
    assert_eq!(MediaRequest::read_text(sparse.to_str().unwrap()).unwrap_err().code, crate::fsio::input::TOO_LARGE);
    let missing = dir.path().join("nope.json");
    let e = MediaRequest::read_text(missing.to_str().unwrap()).unwrap_err();
    assert_eq!(e.code, "IO_ERROR");
    assert!(e.message.starts_with("Cannot read the request") && e.message.contains("nope.json"), "{}", e.message);
    let ok = dir.path().join("ok.json");
    std::fs::write(&ok, "\u{feff}{\"lines\": [{\"id\": \"a\", \"text\": \"x\"}]}").unwrap();
    assert!(MediaRequest::parse(&MediaRequest::read_text(ok.to_str().unwrap()).unwrap()).is_ok(), "a BOM is dropped");
}

#[test]
fn control_characters_in_an_id_are_escaped_in_the_message() {
    let message = problems(json!({"lines": [{"id": "bad\u{0}id\u{1b}[31m", "text": "x"}]}));
    assert!(message.contains(r#""bad\0id\u{1b}[31m" cannot name a file"#), "{message}");
    assert!(!message.chars().any(|c| c.is_control() && c != '\n'), "{message:?}");
    let long = problems(json!({"lines": [{"id": "y".repeat(5000), "text": "x"}]}));
    assert!(long.len() < 400, "a long id is cut: {} chars", long.len());
}

#[test]
fn a_lexicon_is_an_object_or_a_file() {
    let r = MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "x"}], "lexicon": {"kokoro": "kˈOkəɹO"}}))
        .unwrap();
    assert_eq!(r.lexicon.unwrap().lookup("Kokoro"), Some("kˈOkəɹO"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lex.json");
    std::fs::write(&path, r#"{"gif": "ɡˈɪf"}"#).unwrap();
    let r = MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "x"}], "lexicon": path})).unwrap();
    assert_eq!(r.lexicon.unwrap().lookup("GIF"), Some("ɡˈɪf"));
    for (bad, what) in [
        (json!({"kokoro": 3}), "not a string"),
        (json!({"": "kO"}), "empty word"),
        (json!(7), "must be an object"),
        (json!("/nonexistent/lex.json"), "cannot be read"),
    ] {
        let message = problems(json!({"lines": [{"id": "a", "text": "x"}], "lexicon": bad}));
        assert!(message.contains("lexicon: ") && message.contains(what), "{what}: {message}");
    }
}

#[test]
fn a_typo_is_refused_with_the_key_meant_and_where_it_is() {
    // Both used to pass: "lnes" built nothing ("nothing to build"), "txt" failed the line later.
    let message = problems(json!({"lnes": [{"id": "a", "text": "x"}], "music": true}));
    assert!(message.contains("unknown key \"lnes\" (did you mean \"lines\"?)"), "{message}");
    let message = problems(json!({"lnes": [{"id": "a", "text": "x"}]}));
    assert!(!message.contains("nothing to build"), "the typo is the problem: {message}");
    let message = problems(json!({"lines": [{"id": "a", "txt": "x"}]}));
    assert!(message.contains("lines[0]: unknown key \"txt\" (did you mean \"text\"?)"), "{message}");
    let message = problems(json!({
        "lines": [{"id": "a", "text": "x", "sfx": [{"name": "pop", "vol": 1}]}],
        "music": {"promt": "calm", "extra": 1},
    }));
    for part in [
        "lines[0].sfx[0]: unknown key \"vol\" (did you mean \"volume\"?)",
        "music: unknown key \"promt\" (did you mean \"prompt\"?)",
        "music: unknown key \"extra\" (the keys here are prompt, query",
    ] {
        assert!(message.contains(part), "missing {part:?} in:\n{message}");
    }
}

#[test]
fn a_line_may_carry_recorded_narration() {
    let r = MediaRequest::from_value(&json!({"lines": [{"id": "a", "text": "Hi.", "audio": " take1.wav "}]})).unwrap();
    assert_eq!(r.lines[0].audio.as_deref(), Some(std::path::Path::new("take1.wav")));
    assert!(problems(json!({"lines": [{"id": "a", "audio": 3}]})).contains("lines[0].audio: must be a string"));
}
