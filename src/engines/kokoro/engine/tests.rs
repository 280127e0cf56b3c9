use super::*;
use crate::engines::kokoro::markup::Part;
use crate::engines::kokoro::voices::{STYLE_DIM, STYLE_ROWS};
use crate::engines::testing::onnx::{kokoro_like, kokoro_like_durations};

struct Fixture {
    _dir: tempfile::TempDir,
    kokoro: Kokoro,
}

/// A fixture model plus a folder voice pack whose voices are constant (so the audio value shows
/// which voice, or blend, spoke).
fn fixture(voices: &[(&str, f32)], with_durations: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("kokoro.onnx");
    std::fs::write(&model, kokoro_like("tokens", with_durations)).unwrap();
    let pack = dir.path().join("voices");
    std::fs::create_dir_all(&pack).unwrap();
    for (name, value) in voices {
        let bytes: Vec<u8> = (0..STYLE_ROWS * STYLE_DIM).flat_map(|_| value.to_le_bytes()).collect();
        std::fs::write(pack.join(format!("{name}.bin")), bytes).unwrap();
    }
    let kokoro = Kokoro::open(&model, &[pack]).unwrap();
    Fixture { _dir: dir, kokoro }
}

fn opts(voice: Option<&str>, speed: f32) -> TtsOptions {
    TtsOptions { voice: voice.map(Into::into), speed, lang: None, lexicon: None, stream: false }
}

fn speak(f: &Fixture, text: &str, o: &TtsOptions) -> EngineResult<Synthesis> {
    f.kokoro.synthesize(text, o, &mut |_| Ok(()))
}

const TEXT: &str = "Local engines run on your own computer. This sentence has a time for every word!";

#[test]
fn sample_count_is_exactly_the_sum_of_durations_times_600() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let s = speak(&f, TEXT, &opts(None, 1.0)).unwrap();
    let p = g2p::phonemize(TEXT, Lang::EnUs).unwrap();
    let expected: usize = chunk::chunk_with_first(&p, CHUNK_LIMITS, CHUNK_LIMITS)
        .iter()
        .map(|c| {
            let padded: Vec<i64> = [0].into_iter().chain(c.tokens.iter().copied()).chain([0]).collect();
            kokoro_like_durations(&padded, 1.0).iter().sum::<f32>() as usize * timing::SAMPLES_PER_FRAME
        })
        .sum();
    assert_eq!(s.samples.len(), expected);
    assert!(s.words.iter().all(|w| !w.approximate));
    assert_eq!(s.voice, "af_heart");
    assert!(s.samples.iter().all(|&v| (v - 0.5).abs() < 1e-6), "one chunk: no seams, the voice's value throughout");
}

#[test]
fn every_word_is_timed_in_order_within_the_audio() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let s = speak(&f, TEXT, &opts(None, 1.0)).unwrap();
    let spoken: Vec<&str> = TEXT.split_whitespace().collect();
    assert_eq!(s.words.len(), spoken.len());
    let total = s.duration_seconds();
    for (i, (w, text)) in s.words.iter().zip(&spoken).enumerate() {
        assert_eq!(w.id, format!("w{i}"));
        assert_eq!(&w.text, text);
        assert!(w.start < w.end && w.end <= total + 1e-9, "{w:?}");
        if i > 0 {
            assert!(w.start > s.words[i - 1].start, "starts strictly increase: {w:?}");
        }
    }
}

#[test]
fn long_text_streams_chunks_in_order_and_keeps_the_invariant() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let text = TEXT.repeat(30);
    let mut seen = Vec::new();
    let s = f
        .kokoro
        .synthesize(&text, &opts(None, 1.0), &mut |c| {
            seen.push((c.index, c.count, c.samples.len(), c.words.len()));
            Ok(())
        })
        .unwrap();
    assert!(s.chunks > 1);
    assert_eq!(seen.len(), s.chunks);
    assert!(seen.iter().enumerate().all(|(i, c)| c.0 == i && c.1 == s.chunks));
    assert_eq!(seen.iter().map(|c| c.2).sum::<usize>(), s.samples.len());
    assert_eq!(s.words.len(), text.split_whitespace().count());
    assert!(s.words.windows(2).all(|w| w[0].start < w[1].start));
}

#[test]
fn a_failing_consumer_stops_synthesis() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let text = TEXT.repeat(30);
    let mut calls = 0;
    let err = f
        .kokoro
        .synthesize(&text, &opts(None, 1.0), &mut |_| {
            calls += 1;
            Err(EngineError::new("IO_ERROR", "the reader went away"))
        })
        .err()
        .unwrap();
    assert_eq!((err.code, calls), ("IO_ERROR", 1));
}

#[test]
fn speed_shortens_and_output_is_deterministic() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let normal = speak(&f, TEXT, &opts(None, 1.0)).unwrap();
    let fast = speak(&f, TEXT, &opts(None, 1.5)).unwrap();
    assert!(fast.samples.len() < normal.samples.len());
    assert_eq!(speak(&f, TEXT, &opts(None, 1.0)).unwrap().samples, normal.samples);
}

#[test]
fn blends_mix_voices_by_weight() {
    let f = fixture(&[("af_heart", 0.5), ("jf_alpha", 0.1)], true);
    let s = speak(&f, "Hello there.", &opts(Some("af_heart.4+jf_alpha.6"), 1.0)).unwrap();
    assert!((s.samples[s.samples.len() / 2] - (0.4 * 0.5 + 0.6 * 0.1)).abs() < 1e-5);
}

#[test]
fn missing_default_voice_falls_back_with_a_note() {
    let f = fixture(&[("jm_kumo", 0.3)], true);
    let s = speak(&f, "Hello there.", &opts(None, 1.0)).unwrap();
    assert_eq!(s.voice, "jm_kumo");
    assert!(s.voice_note.unwrap().contains("af_heart is not installed"));
    assert_eq!(s.lang, Lang::EnUs, "a stand-in voice does not change the language");
    assert_eq!(speak(&f, "Hello there.", &opts(Some("jm_kumo"), 1.0)).unwrap().lang, Lang::Ja, "a chosen voice does");
    let explicit = TtsOptions { lang: Some(Lang::EnUs), ..opts(Some("jm_kumo"), 1.0) };
    assert_eq!(speak(&f, "Hello there.", &explicit).unwrap().lang, Lang::EnUs, "and --lang wins");
}

#[test]
fn models_without_durations_give_approximate_words() {
    let f = fixture(&[("af_heart", 0.5)], false);
    let s = speak(&f, TEXT, &opts(None, 1.0)).unwrap();
    assert!(s.words.iter().all(|w| w.approximate));
    assert_eq!(s.words.len(), TEXT.split_whitespace().count());
}

#[test]
fn bad_input_is_refused_with_a_clear_code() {
    let f = fixture(&[("af_heart", 0.5)], true);
    for (text, o, code) in [
        ("   \n", opts(None, 1.0), "EMPTY_TEXT"),
        ("Hi there.", opts(None, 0.0), "BAD_SPEED"),
        ("Hi there.", opts(None, -1.0), "BAD_SPEED"),
        ("Hi there.", opts(None, 3.5), "BAD_SPEED"),
        ("Hi there.", opts(None, f32::NAN), "BAD_SPEED"),
        ("Hi there.", opts(Some("af_nobody"), 1.0), "UNKNOWN_VOICE"),
        ("Hi there.", opts(Some("af_heart.4+"), 1.0), "BAD_BLEND"),
        ("Hi there.", opts(Some("af_heart+af_nobody"), 1.0), "UNKNOWN_VOICE"),
    ] {
        let err = speak(&f, text, &o).err().unwrap_or_else(|| panic!("{text:?} {:?} should fail", o.voice));
        assert_eq!(err.code, code, "{}", err.message);
        assert!(err.hint.is_some(), "{code} has a hint");
    }
    let err = speak(&f, "Hi there.", &opts(Some("af_nobody"), 1.0)).err().unwrap();
    assert!(err.message.contains("af_heart"), "lists the installed voices: {}", err.message);
}

#[test]
fn installed_files_find_the_model_and_the_packs_present() {
    let dir = tempfile::tempdir().unwrap();
    let spec = catalog::find("kokoro").unwrap();
    let (model, packs) = installed_files(dir.path(), spec);
    assert!(model.ends_with("kokoro/kokoro-v1.0.int8.onnx"));
    assert!(packs.is_empty());
    std::fs::create_dir_all(dir.path().join("kokoro")).unwrap();
    std::fs::write(dir.path().join("kokoro/voices_ja.npz"), b"x").unwrap();
    assert_eq!(installed_files(dir.path(), spec).1, vec![dir.path().join("kokoro/voices_ja.npz")]);
    std::fs::create_dir_all(dir.path().join("kokoro/voices")).unwrap();
    std::fs::write(dir.path().join("kokoro/voices/my_voice.bin"), b"x").unwrap();
    assert_eq!(installed_files(dir.path(), spec).1.last().unwrap(), &dir.path().join("kokoro/voices"));
}

/// The real-model tier: `HYPERFRAMES_TEST_MODELS_DIR` holds the real int8 model and voices (see
/// scripts/test.sh). Without it these tests print `SKIPPED:` (see `crate::test_support::real_model`).
fn real_engine() -> Option<Kokoro> {
    let dir = crate::test_support::real_model("kokoro")?;
    let (model, packs) = installed_files(dir.parent().unwrap(), catalog::find("kokoro").unwrap());
    Some(Kokoro::open(&model, &packs).expect("the real Kokoro model opens"))
}

const ENGLISH: &str = "Local engines run on your own computer. Every word gets a time from the model itself.";

#[test]
fn real_model_durations_account_for_every_sample() {
    let Some(k) = real_engine() else { return };
    assert!(k.model.has_durations(), "the durations tensor is exposed on the real model");
    let p = g2p::phonemize(ENGLISH, Lang::EnUs).unwrap();
    for c in chunk::chunk(&p, chunk::MAX_TOKENS) {
        let raw = k.run_chunk(&c, "jm_kumo", 1.0).unwrap();
        let d = raw.durations.unwrap();
        assert_eq!(d.len(), c.tokens.len() + 2);
        assert_eq!(timing::total_samples(&d).unwrap(), raw.samples.len() as u64, "sum(durations) × 600 == samples");
    }
}

#[test]
fn real_model_speaks_english_with_timed_words() {
    let Some(k) = real_engine() else { return };
    let o =
        TtsOptions { voice: Some("jm_kumo".into()), speed: 1.0, lang: Some(Lang::EnUs), lexicon: None, stream: false };
    let s = speak(&Fixture { _dir: tempfile::tempdir().unwrap(), kokoro: k }, ENGLISH, &o).unwrap();
    assert_eq!(s.samples.len() % timing::SAMPLES_PER_FRAME, 0);
    assert!(wav::rms(&s.samples) > 0.01, "not silent");
    let spoken: Vec<&str> = ENGLISH.split_whitespace().collect();
    assert_eq!(s.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), spoken);
    assert!(s.words.windows(2).all(|w| w[0].start < w[1].start));
    assert!(s.words.last().unwrap().end <= s.duration_seconds());
}

#[test]
fn real_model_speed_and_determinism() {
    let Some(k) = real_engine() else { return };
    let f = Fixture { _dir: tempfile::tempdir().unwrap(), kokoro: k };
    let o = |speed| TtsOptions {
        voice: Some("jm_kumo".into()),
        speed,
        lang: Some(Lang::EnUs),
        lexicon: None,
        stream: false,
    };
    let normal = speak(&f, "The same words, twice.", &o(1.0)).unwrap();
    assert_eq!(speak(&f, "The same words, twice.", &o(1.0)).unwrap().samples, normal.samples);
    assert!(speak(&f, "The same words, twice.", &o(1.5)).unwrap().samples.len() < normal.samples.len());
}

/// The samples between the end of word `before` and the start of the word after it.
fn gap(s: &Synthesis, before: usize) -> i64 {
    let at = |t: f64| (t * 24_000.0).round() as i64;
    at(s.words[before + 1].start) - at(s.words[before].end)
}

#[test]
fn a_break_adds_exactly_its_length_to_the_gap_the_text_has_without_it() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let (a, b) = ("Local engines run here.", "Every word gets a time!");
    let plain = speak(&f, &format!("{a} {b}"), &opts(None, 1.0)).unwrap();
    let text = format!("{a} <break time=\"1.5s\"/> {b}<break time=\"250ms\"/>");
    let mut streamed: Vec<f32> = Vec::new();
    let mut silences = Vec::new();
    let s = f
        .kokoro
        .synthesize(&text, &opts(None, 1.0), &mut |c| {
            if c.samples.iter().all(|v| *v == 0.0) {
                silences.push(c.samples.len());
            }
            streamed.extend_from_slice(&c.samples);
            Ok(())
        })
        .unwrap();
    assert_eq!(silences, [36_000, 6_000], "the stream carries each pause as exact silence");
    assert_eq!(streamed, s.samples);
    assert_eq!(s.samples.len(), plain.samples.len() + 36_000 + 6_000);
    let texts: Vec<&str> = s.words.iter().map(|w| w.text.as_str()).collect();
    let written: Vec<&str> = a.split_whitespace().chain(b.split_whitespace()).collect();
    assert_eq!(texts, written, "the words as written, never the markup");
    // The text is spoken as without the break: the words before keep their times, those after
    // move by exactly the pause, and the gap between "here." and "Every" grows by exactly 36 000.
    let n = a.split_whitespace().count();
    assert_eq!(gap(&s, n - 1), gap(&plain, n - 1) + 36_000);
    for (i, (w, p)) in s.words.iter().zip(&plain.words).enumerate() {
        let shift = if i < n { 0.0 } else { 1.5 };
        assert!((w.start - (p.start + shift)).abs() < 1e-9 && (w.end - (p.end + shift)).abs() < 1e-9, "{w:?}");
    }
    // The silence sits right after "here.": the audio before it is the plain audio.
    let cut = (s.words[n - 1].end * 24_000.0).round() as usize;
    assert!(s.samples[cut..cut + 36_000].iter().all(|v| *v == 0.0));
    assert_eq!(s.samples[..cut - 60], plain.samples[..cut - 60]);
    let ids: Vec<String> = (0..s.words.len()).map(|i| format!("w{i}")).collect();
    assert_eq!(s.words.iter().map(|w| w.id.clone()).collect::<Vec<_>>(), ids);
    // A break at the start is silence before everything; words move by it.
    let lead = speak(&f, &format!("<break time=\"1s\"/>{a} {b}"), &opts(None, 1.0)).unwrap();
    assert!(lead.samples[..24_000].iter().all(|v| *v == 0.0));
    assert!((lead.words[0].start - (plain.words[0].start + 1.0)).abs() < 1e-9);
}

#[test]
fn markup_and_lexicon_errors_come_before_any_audio() {
    let f = fixture(&[("af_heart", 0.5)], true);
    for (text, code) in [
        ("Wait <break time=\"-1s\"/> now", "BAD_MARKUP"),
        ("Wait <break time=\"500\"/> now", "BAD_MARKUP"),
        ("Say [Kokoro](/kˈOB/)", "BAD_MARKUP"),
        ("<break time=\"1s\"/> . <break time=\"1s\"/>", "EMPTY_TEXT"),
    ] {
        let mut chunks = 0;
        let mut count = |_: &ChunkAudio| {
            chunks += 1;
            Ok(())
        };
        let e = f.kokoro.synthesize(text, &opts(None, 1.0), &mut count).unwrap_err();
        assert_eq!((e.code, chunks), (code, 0), "{text}: {}", e.message);
    }
}

#[test]
fn real_model_inline_and_lexicon_pronunciations_give_identical_samples() {
    let Some(k) = real_engine() else { return };
    let f = Fixture { _dir: tempfile::tempdir().unwrap(), kokoro: k };
    let lexicon = Lexicon::parse(r#"{"kokoro": "kˈOkəɹO"}"#, "test").unwrap();
    let o = TtsOptions { lexicon: Some(Arc::new(lexicon)), ..english("jm_kumo") };
    let inline = speak(&f, "Say [Kokoro](/kˈOkəɹO/) twice.", &english("jm_kumo")).unwrap();
    let lex = speak(&f, "Say Kokoro twice.", &o).unwrap();
    assert_eq!(inline.samples, lex.samples);
    assert_eq!(inline.words, lex.words);
    assert_eq!(inline.words[1].text, "Kokoro");
    let plain = speak(&f, "Say Kokoro twice.", &english("jm_kumo")).unwrap();
    assert_ne!(plain.samples, inline.samples, "the pronunciation changed what was said");
}

#[test]
fn real_model_breaks_add_exactly_their_length_to_the_gap() {
    let Some(k) = real_engine() else { return };
    let f = Fixture { _dir: tempfile::tempdir().unwrap(), kokoro: k };
    let o = english("jm_kumo");
    let plain = speak(&f, "Wait for it. Now.", &o).unwrap();
    let s = speak(&f, "Wait for it. <break time=\"1.5s\"/> Now.", &o).unwrap();
    // "it." is word 2: the silence between it and "Now." is 1.5 s plus the text's own gap, exactly.
    assert_eq!(gap(&s, 2), gap(&plain, 2) + 36_000, "plain gap {} samples", gap(&plain, 2));
    assert_eq!(s.samples.len(), plain.samples.len() + 36_000);
    assert_eq!(s.samples.len() % timing::SAMPLES_PER_FRAME, 0);
    assert!((s.words[3].start - (plain.words[3].start + 1.5)).abs() < 1e-9);
    assert_eq!(s.words[..3], plain.words[..3]);
}

/// The real tier's voices are Japanese; English text is read with --lang en-us.
fn english(voice: &str) -> TtsOptions {
    TtsOptions { lang: Some(Lang::EnUs), ..opts(Some(voice), 1.0) }
}

#[test]
fn long_passages_are_cut_into_blocks_at_sentence_ends_never_inside_a_given_word() {
    let text = "One two three. Four five six! Seven [eight](/ˈAt/) nine. Ten.";
    let Part::Speech(p) = markup::parse(text).unwrap().parts.remove(0) else { panic!() };
    let blocks = split_blocks(p.clone(), 20);
    let texts: Vec<&str> = blocks.iter().map(|b| b.text.as_str()).collect();
    assert_eq!(texts.concat(), p.text, "nothing lost or repeated");
    assert_eq!(texts[0], "One two three.");
    assert!(blocks.iter().all(|b| b.text.len() <= 20));
    let with = blocks.iter().find(|b| !b.pronunciations.is_empty()).unwrap();
    let q = &with.pronunciations[0];
    assert_eq!((&with.text[q.start..q.end], q.phonemes.as_str()), ("eight", "ˈAt"));
    let no_space = "x".repeat(50);
    let Part::Speech(p) = markup::parse(&no_space).unwrap().parts.remove(0) else { panic!() };
    assert_eq!(split_blocks(p, 20).iter().map(|b| b.text.len()).collect::<Vec<_>>(), [20, 20, 10]);
}

#[test]
fn a_long_text_is_spoken_block_by_block_with_the_same_words_and_an_exact_count() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let text = format!("{} <break time=\"1s\"/> The end.", TEXT.repeat(BLOCK_BYTES / TEXT.len() * 3));
    let mut seen = Vec::new();
    let s = f
        .kokoro
        .synthesize_streaming(&text, &opts(None, 1.0), &mut |c| {
            seen.push((c.index, c.count, c.samples.len()));
            Ok(())
        })
        .unwrap();
    assert!(s.samples.is_empty(), "streaming gathers no audio");
    assert_eq!(s.sample_count, seen.iter().map(|c| c.2).sum::<usize>());
    let count = seen.len();
    assert!(
        seen.iter().enumerate().all(|(i, c)| c.0 == i && c.1 == count),
        "indices in order, count exact from the start"
    );
    let spoken: Vec<&str> =
        text.split_whitespace().filter(|w| !w.starts_with('<') && !w.starts_with("time=")).collect();
    assert_eq!(s.words.iter().map(|w| w.text.as_str()).collect::<Vec<_>>(), spoken);
    assert!(s.words.windows(2).all(|w| w[0].end <= w[1].start));
    let kept = speak(&f, &text, &opts(None, 1.0)).unwrap();
    assert_eq!((kept.samples.len(), kept.words.len()), (s.sample_count, s.words.len()));
    // Prepared once, the text needs no G2P to be spoken: its blocks wait phonemized.
    let prepared = prepare(&text, &opts(None, 1.0)).unwrap();
    assert!(prepared.is_phonemized());
    let again = f.kokoro.speak(prepared, &opts(None, 1.0), &mut |_| Ok(()), true).unwrap();
    assert_eq!(again.samples, kept.samples);
    assert_eq!(again.words.len(), kept.words.len());
}

#[test]
fn speech_past_full_scale_is_limited_to_the_ceiling_without_moving_anything() {
    // The fixture speaks the voice's value: 1.5 is past full scale, as Kokoro's peaks are.
    let loud = fixture(&[("af_heart", 1.5)], true);
    let quiet = fixture(&[("af_heart", 0.5)], true);
    let (l, q) = (speak(&loud, TEXT, &opts(None, 1.0)).unwrap(), speak(&quiet, TEXT, &opts(None, 1.0)).unwrap());
    assert!(wav::peak(&l.samples) <= limit::SPEECH_CEILING, "peak {}", wav::peak(&l.samples));
    assert!(l.samples.iter().all(|v| wav::to_i16(*v).unsigned_abs() < 32767), "no sample at full scale");
    assert_eq!(l.samples.len(), q.samples.len(), "sample count unchanged");
    assert_eq!(l.words, q.words, "word timings unchanged");
    assert!(q.samples.iter().all(|&v| (v - 0.5).abs() < 1e-6), "audio under the ceiling is untouched");
}

/// The (samples, last word) of each chunk a synthesis hands out.
fn chunks_of(f: &Fixture, text: &str, o: &TtsOptions) -> Vec<(usize, String)> {
    let mut seen = Vec::new();
    f.kokoro
        .synthesize(text, o, &mut |c| {
            seen.push((c.samples.len(), c.words.last().map(|w| w.text.clone()).unwrap_or_default()));
            Ok(())
        })
        .unwrap();
    seen
}

#[test]
fn only_a_stream_gets_a_short_first_chunk_and_it_ends_a_clause() {
    let f = fixture(&[("af_heart", 0.5)], true);
    let text = "Three short sentences, read as one stream. The second follows the first. A third ends it.";
    let file = chunks_of(&f, text, &opts(None, 1.0));
    assert_eq!(file.len(), 1, "a file is not cut where no one asked: {file:?}");
    let stream = chunks_of(&f, text, &TtsOptions { stream: true, ..opts(None, 1.0) });
    assert!(stream.len() > 1, "{stream:?}");
    assert_eq!(stream[0].1, "sentences,", "the first chunk ends at the first clause end");
    assert!(stream[0].0 < file[0].0 / 3);
}
