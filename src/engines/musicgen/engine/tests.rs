use std::cell::RefCell;

use super::*;
use crate::engines::musicgen::delay::DelayPattern;
use crate::engines::testing::musicgen_graphs::{
    decoder, prompt_weight, text_encoder, tiny_frame_value, tiny_target, write_model_dir, Dims, TINY,
};

fn tiny_dir(dims: Dims) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("musicgen-small");
    write_model_dir(&dir, dims);
    (tmp, dir)
}

fn greedy(seconds: f64, guidance: f32) -> GenerateOptions {
    GenerateOptions { seconds, seed: 0, top_k: 1, temperature: 1.0, guidance_scale: Some(guidance) }
}

/// What greedy decoding of the tiny decoder must give, straight from the reference rules: every
/// codebook starts from 2048; the token fed back at a pad position of the delay pattern is 2048;
/// guidance moves each peak from `u` to `u + g·(c − u)`.
fn expected_codes(ids: &[i64], frames: usize, guidance: i64) -> Vec<Vec<i64>> {
    let k_books = 4;
    let e = prompt_weight(ids);
    let pattern = DelayPattern::new(k_books, frames);
    let mut seq = vec![vec![2048i64]; k_books];
    for step in 0..pattern.steps() {
        for (k, row) in seq.iter_mut().enumerate() {
            let x = row[step];
            let (u, c) = (tiny_target(x, k, step, 0), tiny_target(x, k, step, e));
            let token = if guidance > 1 { u + guidance * (c - u) } else { c };
            row.push(if pattern.is_pad(k, step + 1) { 2048 } else { token });
        }
    }
    (0..k_books).map(|k| seq[k][k + 1..=k + frames].to_vec()).collect()
}

#[test]
fn musicgen_greedy_codes_follow_the_delay_pattern_cache_and_guidance() {
    let (_tmp, dir) = tiny_dir(TINY);
    let engine = MusicGen::open(&dir).unwrap();
    let out = engine.generate("calm piano", &greedy(0.12, 3.0), &|_, _| {}).unwrap();
    assert_eq!(out.prompt_ids, [5, 6, 7, 1], "▁ca lm ▁piano </s>");
    let e = prompt_weight(&out.prompt_ids);
    assert_eq!(e, 16);
    assert_eq!((out.steps, out.codes.len(), out.codes[0].len()), (9, 4, 6), "ceil(0.12 × 50) = 6 frames, +3 steps");
    assert_eq!(out.codes, expected_codes(&out.prompt_ids, 6, 3));
    // Worked by hand: codebook 0, frame 0 sees the start token at position 0:
    // (7·2048 + 5) mod 1024 + 3·16 = 5 + 48.
    assert_eq!(out.codes[0][0], 53);
    // Frame 1 sees the code just sampled at position 1; with the cache fed back it knows it is at
    // position 1 (376 + 11 + 48); a decoder that forgot its past would say 424.
    assert_eq!(out.codes[0][1], 435);
    // Codebook 1's frame 0 (position 2) is fed the pad token the delay pattern put at position 1:
    // (7·2048 + 3 + 11 + 5) mod 1024 + 48. Feeding the sampled 56 back instead would give 459.
    assert_eq!(out.codes[1][0], 67);
    // EnCodec got the codes in codebook order: each frame's 640 samples carry Σ (k+1)·code[k].
    assert_eq!((out.sample_rate, out.samples.len()), (32_000, 6 * 640));
    for f in 0..6 {
        let frame: Vec<i64> = out.codes.iter().map(|c| c[f]).collect();
        let v = tiny_frame_value(&frame);
        assert!(out.samples[f * 640..(f + 1) * 640].iter().all(|&s| (s - v).abs() < 1e-6), "frame {f}");
    }
}

#[test]
fn musicgen_guidance_scale_changes_the_peak_and_one_means_no_guidance() {
    let (_tmp, dir) = tiny_dir(TINY);
    let engine = MusicGen::open(&dir).unwrap();
    let ids = [5, 6, 7, 1];
    let unguided = engine.generate("calm piano", &greedy(0.1, 1.0), &|_, _| {}).unwrap();
    assert_eq!(unguided.codes, expected_codes(&ids, 5, 1));
    assert_eq!(unguided.codes[0][0], 5 + 16, "the conditional logits alone");
    let strong = engine.generate("calm piano", &greedy(0.1, 5.0), &|_, _| {}).unwrap();
    assert_eq!(strong.codes, expected_codes(&ids, 5, 5));
    assert_eq!(strong.codes[0][0], 5 + 5 * 16);
    // The prompt matters: another prompt, another weight, other codes.
    let other = engine.generate("lofi beats", &greedy(0.1, 3.0), &|_, _| {}).unwrap();
    assert_eq!(other.codes, expected_codes(&other.prompt_ids, 5, 3));
    assert_ne!(other.codes, expected_codes(&ids, 5, 3));
}

#[test]
fn musicgen_sampling_is_deterministic_per_seed_and_reports_progress() {
    let (_tmp, dir) = tiny_dir(TINY);
    let engine = MusicGen::open(&dir).unwrap();
    let calls = RefCell::new(Vec::new());
    let opts = GenerateOptions::new(0.2, 7);
    assert_eq!((opts.top_k, opts.temperature, opts.guidance_scale), (250, 1.0, None));
    let a = engine.generate("calm piano", &opts, &|i, n| calls.borrow_mut().push((i, n))).unwrap();
    let b = engine.generate("calm piano", &opts, &|_, _| {}).unwrap();
    let c = engine.generate("calm piano", &GenerateOptions { seed: 8, ..opts }, &|_, _| {}).unwrap();
    assert_eq!(a, b, "same seed, same music");
    assert_ne!(a.codes, c.codes, "another seed, other music");
    // Sampling stays near the guided peak (the logits fall off as −d²) and inside the vocabulary.
    let greedy_codes = expected_codes(&a.prompt_ids, 10, 3);
    assert_ne!(a.codes, greedy_codes, "top-k 250 at temperature 1 is not greedy");
    assert!(a.codes.iter().flatten().all(|&c| (0..2048).contains(&c)));
    assert!(a.codes[0][0].abs_diff(greedy_codes[0][0]) <= 3, "{} vs {}", a.codes[0][0], greedy_codes[0][0]);
    let calls = calls.into_inner();
    assert_eq!(calls.len(), 13);
    assert_eq!(calls.first(), Some(&(1, 13)));
    assert_eq!(calls.last(), Some(&(13, 13)));
}

#[test]
fn musicgen_encodec_gets_codebook_major_codes() {
    let (_tmp, dir) = tiny_dir(TINY);
    let engine = MusicGen::open(&dir).unwrap();
    let codes = vec![vec![1, 2], vec![3, 4], vec![5, 6], vec![7, 8]];
    let audio = engine.decode_audio(&codes).unwrap();
    assert_eq!(audio.len(), 2 * 640);
    let near = |a: f32, b: f32| (a - b).abs() < 1e-6;
    assert!(near(audio[0], (1 + 2 * 3 + 3 * 5 + 4 * 7) as f32 / 20480.0), "{}", audio[0]);
    assert!(near(audio[640], (2 + 2 * 4 + 3 * 6 + 4 * 8) as f32 / 20480.0), "{}", audio[640]);
    // Transposed (frame-major) codes would give (1 + 2·2 + 3·3 + 4·4) / 20480 first.
    assert!(!near(audio[0], (1 + 2 * 2 + 3 * 3 + 4 * 4) as f32 / 20480.0));
    assert_eq!(engine.decode_audio(&codes[..3]).unwrap_err().code, "INFERENCE_FAILED");
    assert_eq!(engine.decode_audio(&[vec![], vec![], vec![], vec![]]).unwrap_err().code, "INFERENCE_FAILED");
}

#[test]
fn musicgen_reads_layers_and_heads_from_the_model() {
    let dims = Dims { layers: 3, heads: 4, head_dim: 2, ..TINY };
    let (_tmp, dir) = tiny_dir(dims);
    let engine = MusicGen::open(&dir).unwrap();
    assert_eq!((engine.decoder.layers, engine.decoder.heads, engine.decoder.head_dim), (3, 4, 2));
    let out = engine.generate("calm piano", &greedy(0.06, 3.0), &|_, _| {}).unwrap();
    assert_eq!(out.codes, expected_codes(&out.prompt_ids, 3, 3));
}

#[test]
fn musicgen_names_the_tensor_a_bad_model_lacks() {
    let (_tmp, dir) = tiny_dir(TINY);
    let path = dir.join(model::DECODER);
    for (from, to) in [("logits", "lm_logits"), ("past_key_values.1.encoder.value", "past_key_values.1.encoder.v")] {
        std::fs::write(&path, decoder(TINY, &[(from, to)])).unwrap();
        let e = MusicGen::open(&dir).err().expect("a renamed tensor is refused");
        assert_eq!(e.code, "BAD_MODEL", "{e:?}");
        assert!(e.message.contains(&format!("`{from}`")), "{}", e.message);
        assert!(e.message.contains("decoder_model_merged_quantized.onnx"), "{}", e.message);
        assert!(e.hint.as_deref().unwrap().contains("models install musicgen-small"));
    }
    // The text encoder's file holding another graph.
    std::fs::write(&path, decoder(TINY, &[])).unwrap();
    std::fs::copy(dir.join(model::ENCODEC), dir.join(model::TEXT_ENCODER)).unwrap();
    let e = MusicGen::open(&dir).err().unwrap();
    assert_eq!(e.code, "BAD_MODEL");
    assert!(e.message.contains("`input_ids`"), "{}", e.message);
    // config.json disagreeing with the decoder's layers.
    std::fs::write(dir.join(model::TEXT_ENCODER), text_encoder(TINY, 30)).unwrap();
    let config = crate::engines::testing::musicgen_graphs::config_json(Dims { layers: 5, ..TINY });
    std::fs::write(dir.join(model::CONFIG), config).unwrap();
    let e = MusicGen::open(&dir).err().unwrap();
    assert!(e.code == "BAD_MODEL" && e.message.contains("config.json says 5"), "{e:?}");
    // Not an ONNX file at all.
    std::fs::write(dir.join(model::CONFIG), crate::engines::testing::musicgen_graphs::config_json(TINY)).unwrap();
    std::fs::write(dir.join(model::ENCODEC), b"\x08\x07garbage").unwrap();
    assert_eq!(MusicGen::open(&dir).err().unwrap().code, "BAD_MODEL");
}

#[test]
fn musicgen_missing_files_say_how_to_install_and_the_licence() {
    let tmp = tempfile::tempdir().unwrap();
    let e = MusicGen::open(tmp.path()).err().unwrap();
    assert_eq!(e.code, "MODEL_MISSING");
    assert!(e.message.contains("tokenizer.json"), "{}", e.message);
    let hint = e.hint.unwrap();
    assert!(hint.contains("hyperframes models install musicgen-small") && hint.contains("CC-BY-NC-4.0"), "{hint}");
    let (_tmp2, dir) = tiny_dir(TINY);
    std::fs::remove_file(dir.join(model::ENCODEC)).unwrap();
    let e = MusicGen::open(&dir).err().unwrap();
    assert!(e.code == "MODEL_MISSING" && e.message.contains("encodec_decode.onnx"), "{e:?}");
}

#[test]
fn musicgen_frames_and_steps_for_a_length() {
    let (_tmp, dir) = tiny_dir(TINY);
    let engine = MusicGen::open(&dir).unwrap();
    assert_eq!(engine.frames_for(10.0), 500);
    assert_eq!(engine.steps_for(10.0), 503);
    assert_eq!(engine.frames_for(0.001), 1);
    assert_eq!(engine.frames_for(0.021), 2);
    let e = engine.generate("calm", &greedy(0.0, 3.0), &|_, _| {}).unwrap_err();
    assert_eq!(e.code, "BAD_DURATION");
}
