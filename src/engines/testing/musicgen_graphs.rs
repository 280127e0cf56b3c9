//! Tiny MusicGen-shaped model files for the tests: the four files the engine loads, with the
//! tensor names, dtypes and ranks of the Xenova/musicgen-small ONNX export, and small dimensions.
//!
//! What the graphs compute is chosen so a test can predict every token greedy decoding picks, and
//! so that each piece of plumbing changes the result when it is wrong:
//!
//! - **text encoder**: `last_hidden_state[b, t, j] = emb[input_ids[b, t], j] · attention_mask[b, t]`
//!   with `emb[v, j] = 1 + v % 3` when `j == v % hidden`, else 0.
//! - **decoder** (`decoder_model_merged`): with `use_cache_branch` false the cross-attention cache
//!   is computed from `(encoder_hidden_states + 0.25) · encoder_attention_mask` (layer `i`'s key ×
//!   (i+1), value × 2(i+1)); with it true the `past_key_values.*.encoder.*` inputs are passed
//!   through (an `If`, like the real merged export). From that cache the graph reads
//!   `e[b] = Σ_t (3 + id_t % 3)` for a prompt's batch row (0 for the zeroed unconditional row), and
//!   from the self-attention cache (every new position stores `i+1` in layer `i`'s key and `10(i+1)`
//!   in its value) the number of past positions. Then for row `r` (batch `r / K`, codebook `r % K`)
//!   at absolute position `pos` with input token `x`:
//!   `target = (7x + 3k + 11·pos + 5) mod 1024 + e[batch]` and `logits[v] = -(v - target)²`.
//!   Classifier-free guidance `u + g·(c − u)` of two such parabolas peaks at `u_target + g·e`.
//! - **EnCodec** (`encodec_decode`): each frame becomes `samples_per_frame` samples of value
//!   `Σ_k (k+1)·code[k] / 20480`, so the codebook order shows in the audio.

use std::path::Path;

use super::onnx::{model, node, value_info, value_info_unshaped, Attr, Dim, Graph, Init, Node, BOOL, FLOAT, INT64};

/// The sizes of a tiny MusicGen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    pub layers: usize,
    pub heads: usize,
    pub head_dim: usize,
    pub codebooks: usize,
    /// Audio-token vocabulary (the pad / start token is this value).
    pub vocab: usize,
    pub samples_per_frame: usize,
}

impl Dims {
    /// The text encoder's hidden size (equal to `heads · head_dim` here).
    pub fn hidden(&self) -> usize {
        self.heads * self.head_dim
    }
}

/// Two layers, two heads of 4, four codebooks of 2048 codes, 640 samples a frame (32 kHz at 50 Hz):
/// the real model's vocabulary and audio rates with tiny layers.
pub const TINY: Dims = Dims { layers: 2, heads: 2, head_dim: 4, codebooks: 4, vocab: 2048, samples_per_frame: 640 };

/// What the tiny text encoder + decoder give as `e` for a prompt's token ids.
pub fn prompt_weight(ids: &[i64]) -> i64 {
    ids.iter().map(|id| 3 + id % 3).sum()
}

/// The token the tiny decoder's logits peak at for input `x`, codebook `k`, position `pos`, and
/// prompt weight `e` (before guidance).
pub fn tiny_target(x: i64, k: usize, pos: usize, e: i64) -> i64 {
    (7 * x + 3 * k as i64 + 11 * pos as i64 + 5) % 1024 + e
}

/// The sample value the tiny EnCodec gives a frame of codes (one code per codebook).
pub fn tiny_frame_value(codes: &[i64]) -> f32 {
    let s: i64 = codes.iter().enumerate().map(|(k, c)| (k as i64 + 1) * c).sum();
    s as f32 / 20480.0
}

/// Renames graph inputs/outputs (for tests of models that do not match the export).
pub type Renames<'a> = &'a [(&'a str, &'a str)];

fn renamed(name: &str, renames: Renames<'_>) -> String {
    renames.iter().find(|(from, _)| *from == name).map_or_else(|| name.to_string(), |(_, to)| to.to_string())
}

fn rename_nodes(nodes: &mut [Node], renames: Renames<'_>) {
    for n in nodes {
        for s in n.inputs.iter_mut().chain(n.outputs.iter_mut()) {
            *s = renamed(s, renames);
        }
        for a in &mut n.attrs {
            if let Attr::Graph(_, g) = a {
                rename_nodes(&mut g.nodes, renames);
            }
        }
    }
}

fn f32_const(name: String, v: f32) -> Init {
    Init::F32Named(name, vec![], vec![v])
}

/// The text encoder: `input_ids`, `attention_mask` (int64 [b, t]) → `last_hidden_state` (f32 [b, t, hidden]).
pub fn text_encoder(dims: Dims, text_vocab: usize) -> Vec<u8> {
    let h = dims.hidden();
    let mut emb = vec![0f32; text_vocab * h];
    for v in 0..text_vocab {
        emb[v * h + v % h] = 1.0 + (v % 3) as f32;
    }
    let nodes = vec![
        node("Gather", &["emb", "input_ids"], &["embedded"], vec![Attr::Int("axis", 0)]),
        node("Cast", &["attention_mask"], &["mask_f"], vec![Attr::Int("to", FLOAT as i64)]),
        node("Unsqueeze", &["mask_f", "axis_last"], &["mask_u"], vec![]),
        node("Mul", &["embedded", "mask_u"], &["last_hidden_state"], vec![]),
    ];
    let inits = [Init::F32("emb", vec![text_vocab as i64, h as i64], emb), Init::I64("axis_last", vec![1], vec![-1])];
    let inputs = [
        value_info("input_ids", INT64, &[Dim::Named("batch_size"), Dim::Named("encoder_sequence_length")]),
        value_info("attention_mask", INT64, &[Dim::Named("batch_size"), Dim::Named("encoder_sequence_length")]),
    ];
    let outputs = [value_info(
        "last_hidden_state",
        FLOAT,
        &[Dim::Named("batch_size"), Dim::Named("encoder_sequence_length"), Dim::Fixed(h as i64)],
    )];
    model(&nodes, &inits, &inputs, &outputs)
}

/// The merged decoder (see the module docs). `renames` renames graph inputs/outputs.
pub fn decoder(dims: Dims, renames: Renames<'_>) -> Vec<u8> {
    let Dims { layers, heads, head_dim, codebooks, vocab, .. } = dims;
    let (heads_i, hd_i) = (heads as i64, head_dim as i64);
    let mut nodes: Vec<Node> = Vec::new();
    let mut inits: Vec<Init> = vec![
        Init::I64("axes123", vec![3], vec![1, 2, 3]),
        Init::I64("axis_last", vec![1], vec![-1]),
        Init::I64("idx0", vec![1], vec![0]),
        Init::I64("idx1", vec![1], vec![1]),
        Init::I64("zero_i", vec![], vec![0]),
        Init::I64("one_i", vec![], vec![1]),
        Init::I64("codebooks", vec![], vec![codebooks as i64]),
        Init::I64("heads", vec![1], vec![heads_i]),
        Init::I64("head_dim", vec![1], vec![hd_i]),
        Init::I64("to_heads", vec![4], vec![0, 0, heads_i, hd_i]),
        Init::F32("quarter", vec![], vec![0.25]),
        Init::F32("zero_f", vec![], vec![0.0]),
        Init::F32("one_f", vec![], vec![1.0]),
        Init::F32("k7", vec![], vec![7.0]),
        Init::F32("k3", vec![], vec![3.0]),
        Init::F32("k11", vec![], vec![11.0]),
        Init::F32("k5", vec![], vec![5.0]),
        Init::F32("k1024", vec![], vec![1024.0]),
        Init::F32("two_layers", vec![], vec![2.0 * layers as f32]),
        Init::F32("iota", vec![vocab as i64], (0..vocab).map(|v| v as f32).collect()),
    ];
    let mut add =
        |op: &'static str, ins: &[&str], outs: &[&str], attrs: Vec<Attr>| nodes.push(node(op, ins, outs, attrs));

    // Shapes.
    add("Shape", &["input_ids"], &["ids_shape"], vec![]);
    add("Gather", &["ids_shape", "zero_i"], &["n_rows"], vec![Attr::Int("axis", 0)]);
    add("Gather", &["ids_shape", "one_i"], &["s_len"], vec![Attr::Int("axis", 0)]);
    add("Gather", &["ids_shape", "idx1"], &["s_vec"], vec![Attr::Int("axis", 0)]);
    add("Shape", &["encoder_hidden_states"], &["enc_shape"], vec![]);
    add("Gather", &["enc_shape", "idx0"], &["b_vec"], vec![Attr::Int("axis", 0)]);

    // Cross-attention cache: computed from the encoder states, or passed through.
    add("Cast", &["encoder_attention_mask"], &["enc_mask_f"], vec![Attr::Int("to", FLOAT as i64)]);
    add("Unsqueeze", &["enc_mask_f", "axis_last"], &["enc_mask_u"], vec![]);
    add("Add", &["encoder_hidden_states", "quarter"], &["states_plus"], vec![]);
    add("Mul", &["states_plus", "enc_mask_u"], &["states_masked"], vec![]);
    add("Reshape", &["states_masked", "to_heads"], &["states_heads"], vec![]);
    add("Transpose", &["states_heads"], &["enc_base"], vec![Attr::Ints("perm", vec![0, 2, 1, 3])]);
    let mut then_nodes = Vec::new();
    let mut else_nodes = Vec::new();
    let mut then_outs = Vec::new();
    let mut else_outs = Vec::new();
    let mut if_outs = Vec::new();
    for i in 0..layers {
        for (kind, factor) in [("key", (i + 1) as f32), ("value", 2.0 * (i + 1) as f32)] {
            let then_name = format!("then_enc_{kind}_{i}");
            let else_name = format!("else_enc_{kind}_{i}");
            let factor_name = format!("enc_factor_{kind}_{i}");
            then_nodes.push(node("Identity", &[&format!("past_key_values.{i}.encoder.{kind}")], &[&then_name], vec![]));
            else_nodes.push(node("Mul", &["enc_base", &factor_name], &[&else_name], vec![]));
            inits.push(f32_const(factor_name, factor));
            then_outs.push(value_info_unshaped(&then_name, FLOAT));
            else_outs.push(value_info_unshaped(&else_name, FLOAT));
            if_outs.push(format!("present.{i}.encoder.{kind}"));
        }
    }
    let if_out_refs: Vec<&str> = if_outs.iter().map(String::as_str).collect();
    add(
        "If",
        &["use_cache_branch"],
        &if_out_refs,
        vec![
            Attr::Graph("then_branch", Graph { name: "then".into(), nodes: then_nodes, outputs: then_outs }),
            Attr::Graph("else_branch", Graph { name: "else".into(), nodes: else_nodes, outputs: else_outs }),
        ],
    );

    // e[b] from the cross-attention cache; the past length from the self-attention cache.
    add("Concat", &["b_vec", "heads", "s_vec", "head_dim"], &["new_shape"], vec![Attr::Int("axis", 0)]);
    let mut e_terms = Vec::new();
    let mut pos_terms = Vec::new();
    for i in 0..layers {
        for (kind, enc_div, dec_fill) in
            [("key", (i + 1) as f32, (i + 1) as f32), ("value", 2.0 * (i + 1) as f32, 10.0 * (i + 1) as f32)]
        {
            let present_enc = format!("present.{i}.encoder.{kind}");
            let (sum, div, term) =
                (format!("enc_sum_{kind}_{i}"), format!("enc_div_{kind}_{i}"), format!("e_{kind}_{i}"));
            add("ReduceSum", &[&present_enc, "axes123"], &[&sum], vec![Attr::Int("keepdims", 0)]);
            inits.push(f32_const(div.clone(), enc_div));
            add("Div", &[&sum, &div], &[&term], vec![]);
            e_terms.push(term);

            let past = format!("past_key_values.{i}.decoder.{kind}");
            let fill = format!("dec_fill_{kind}_{i}");
            let new = format!("dec_new_{kind}_{i}");
            inits.push(f32_const(fill.clone(), dec_fill));
            add("Expand", &[&fill, "new_shape"], &[&new], vec![]);
            add("Concat", &[&past, &new], &[&format!("present.{i}.decoder.{kind}")], vec![Attr::Int("axis", 2)]);
            let (psum, pdiv, pterm) =
                (format!("dec_sum_{kind}_{i}"), format!("dec_div_{kind}_{i}"), format!("p_{kind}_{i}"));
            add("ReduceSum", &[&past, "axes123"], &[&psum], vec![Attr::Int("keepdims", 0)]);
            inits.push(f32_const(pdiv.clone(), dec_fill * (heads * head_dim) as f32));
            add("Div", &[&psum, &pdiv], &[&pterm], vec![]);
            pos_terms.push(pterm);
        }
    }
    let e_refs: Vec<&str> = e_terms.iter().map(String::as_str).collect();
    add("Sum", &e_refs, &["e_total"], vec![]);
    add("Div", &["e_total", "two_layers"], &["e_b"], vec![]);
    let p_refs: Vec<&str> = pos_terms.iter().map(String::as_str).collect();
    add("Sum", &p_refs, &["p_total"], vec![]);
    add("Div", &["p_total", "two_layers"], &["past_len"], vec![]);
    // The merged model ignores the self-attention cache on the first (no-cache) pass.
    add("Where", &["use_cache_branch", "past_len", "zero_f"], &["pos_b"], vec![]);

    // Per row: codebook, batch, prompt weight and position.
    add("Range", &["zero_i", "n_rows", "one_i"], &["rows"], vec![]);
    add("Mod", &["rows", "codebooks"], &["k_idx"], vec![]);
    add("Div", &["rows", "codebooks"], &["b_idx"], vec![]);
    add("Cast", &["k_idx"], &["k_f"], vec![Attr::Int("to", FLOAT as i64)]);
    add("Unsqueeze", &["k_f", "axis_last"], &["k_col"], vec![]);
    add("Gather", &["e_b", "b_idx"], &["e_rows"], vec![Attr::Int("axis", 0)]);
    add("Unsqueeze", &["e_rows", "axis_last"], &["e_col"], vec![]);
    add("Gather", &["pos_b", "b_idx"], &["pos_rows"], vec![Attr::Int("axis", 0)]);
    add("Unsqueeze", &["pos_rows", "axis_last"], &["pos_col"], vec![]);
    add("Cast", &["s_len"], &["s_f"], vec![Attr::Int("to", FLOAT as i64)]);
    add("Range", &["zero_f", "s_f", "one_f"], &["p_range"], vec![]);
    add("Add", &["pos_col", "p_range"], &["pos_grid"], vec![]);
    add("Cast", &["input_ids"], &["x_f"], vec![Attr::Int("to", FLOAT as i64)]);
    add("Mul", &["x_f", "k7"], &["a_x"], vec![]);
    add("Mul", &["k_col", "k3"], &["a_k"], vec![]);
    add("Mul", &["pos_grid", "k11"], &["a_pos"], vec![]);
    add("Sum", &["a_x", "a_k", "a_pos", "k5"], &["lin"], vec![]);
    add("Mod", &["lin", "k1024"], &["base"], vec![Attr::Int("fmod", 1)]);
    add("Add", &["base", "e_col"], &["target"], vec![]);
    add("Unsqueeze", &["target", "axis_last"], &["target3"], vec![]);
    add("Sub", &["iota", "target3"], &["diff"], vec![]);
    add("Mul", &["diff", "diff"], &["diff2"], vec![]);
    add("Neg", &["diff2"], &["logits"], vec![]);

    rename_nodes(&mut nodes, renames);
    let n = |s: &str| renamed(s, renames);
    let kv_dims =
        |seq: &'static str| [Dim::Named("total_batch_size"), Dim::Fixed(heads_i), Dim::Named(seq), Dim::Fixed(hd_i)];
    let mut inputs = vec![
        value_info(
            &n("encoder_attention_mask"),
            INT64,
            &[Dim::Named("total_batch_size"), Dim::Named("encoder_sequence_length")],
        ),
        value_info(
            &n("input_ids"),
            INT64,
            &[Dim::Named("total_batch_size_x_num_codebooks"), Dim::Named("decoder_sequence_length")],
        ),
        value_info(
            &n("encoder_hidden_states"),
            FLOAT,
            &[Dim::Named("total_batch_size"), Dim::Named("encoder_sequence_length"), Dim::Fixed(dims.hidden() as i64)],
        ),
    ];
    let mut outputs = vec![value_info(
        &n("logits"),
        FLOAT,
        &[
            Dim::Named("total_batch_size_x_num_codebooks"),
            Dim::Named("decoder_sequence_length"),
            Dim::Fixed(vocab as i64),
        ],
    )];
    for i in 0..layers {
        for part in ["decoder", "encoder"] {
            for kind in ["key", "value"] {
                let (past_seq, present_seq) = if part == "decoder" {
                    ("past_decoder_sequence_length", "past_decoder_sequence_length + 1")
                } else {
                    ("encoder_sequence_length_out", "encoder_sequence_length_out")
                };
                inputs.push(value_info(&n(&format!("past_key_values.{i}.{part}.{kind}")), FLOAT, &kv_dims(past_seq)));
                outputs.push(value_info(&n(&format!("present.{i}.{part}.{kind}")), FLOAT, &kv_dims(present_seq)));
            }
        }
    }
    inputs.push(value_info(&n("use_cache_branch"), BOOL, &[Dim::Fixed(1)]));
    model(&nodes, &inits, &inputs, &outputs)
}

/// EnCodec decode: `audio_codes` (int64 [1, b, K, frames]) → `audio_values` (f32 [b, 1, samples]).
pub fn encodec_decode(dims: Dims) -> Vec<u8> {
    let k = dims.codebooks;
    let nodes = vec![
        node("Squeeze", &["audio_codes", "axis0"], &["codes3"], vec![]),
        node("Cast", &["codes3"], &["codes_f"], vec![Attr::Int("to", FLOAT as i64)]),
        node("Mul", &["codes_f", "weights"], &["weighted"], vec![]),
        node("ReduceSum", &["weighted", "axis1"], &["frame_values"], vec![Attr::Int("keepdims", 1)]),
        node("Unsqueeze", &["frame_values", "axis_last"], &["frame_values4"], vec![]),
        node("Expand", &["frame_values4", "spread"], &["spread4"], vec![]),
        node("Reshape", &["spread4", "flat"], &["audio_values"], vec![]),
    ];
    let inits = [
        Init::I64("axis0", vec![1], vec![0]),
        Init::I64("axis1", vec![1], vec![1]),
        Init::I64("axis_last", vec![1], vec![-1]),
        Init::F32("weights", vec![1, k as i64, 1], (0..k).map(|i| (i + 1) as f32 / 20480.0).collect()),
        Init::I64("spread", vec![4], vec![1, 1, 1, dims.samples_per_frame as i64]),
        Init::I64("flat", vec![3], vec![0, 0, -1]),
    ];
    let inputs = [value_info(
        "audio_codes",
        INT64,
        &[Dim::Fixed(1), Dim::Named("batch_size"), Dim::Fixed(k as i64), Dim::Named("chunk_length")],
    )];
    let outputs =
        [value_info("audio_values", FLOAT, &[Dim::Named("batch_size"), Dim::Fixed(1), Dim::Named("audio_length")])];
    model(&nodes, &inits, &inputs, &outputs)
}

/// A tiny T5-style `tokenizer.json` (SentencePiece Unigram, Metaspace `▁`, `</s>` appended).
/// Scores are chosen so Viterbi and greedy longest-match disagree: `▁calm` exists but scores worse
/// than `▁ca` + `lm`.
pub fn tokenizer_json() -> String {
    let pieces: &[(&str, f64)] = &[
        ("<pad>", 0.0),
        ("</s>", 0.0),
        ("<unk>", 0.0),
        ("▁", -3.0),
        ("▁calm", -20.0),
        ("▁ca", -2.0),
        ("lm", -2.0),
        ("▁piano", -4.0),
        ("▁pi", -3.0),
        ("ano", -3.0),
        ("▁lo", -2.5),
        ("fi", -2.5),
        ("▁beat", -4.0),
        ("s", -1.5),
        ("a", -5.0),
        ("b", -5.0),
        ("c", -5.0),
        ("e", -5.0),
        ("f", -5.0),
        ("i", -5.0),
        ("l", -5.0),
        ("m", -5.0),
        ("n", -5.0),
        ("o", -5.0),
        ("p", -5.0),
        ("t", -5.0),
        ("▁c", -6.0),
        ("▁p", -6.0),
        ("▁l", -6.0),
        ("▁b", -6.0),
    ];
    let vocab: Vec<serde_json::Value> = pieces.iter().map(|(p, s)| serde_json::json!([p, s])).collect();
    serde_json::json!({
        "version": "1.0",
        "added_tokens": [
            {"id": 0, "content": "<pad>", "special": true},
            {"id": 1, "content": "</s>", "special": true},
            {"id": 2, "content": "<unk>", "special": true}
        ],
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Precompiled", "precompiled_charsmap": ""},
            {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": " "}
        ]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Metaspace", "replacement": "▁", "add_prefix_space": true}
        ]},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
            "special_tokens": {"</s>": {"id": "</s>", "ids": [1], "tokens": ["</s>"]}}},
        "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab}
    })
    .to_string()
}

/// Number of pieces in [`tokenizer_json`].
pub const TOKENIZER_VOCAB: usize = 30;

/// A `config.json` shaped like musicgen-small's, with the tiny sizes.
pub fn config_json(dims: Dims) -> String {
    serde_json::json!({
        "model_type": "musicgen",
        "decoder_start_token_id": dims.vocab,
        "pad_token_id": dims.vocab,
        "decoder": {
            "model_type": "musicgen_decoder",
            "num_codebooks": dims.codebooks,
            "num_hidden_layers": dims.layers,
            "num_attention_heads": dims.heads,
            "hidden_size": dims.heads * dims.head_dim,
            "vocab_size": dims.vocab,
            "pad_token_id": dims.vocab,
            "bos_token_id": dims.vocab
        },
        "audio_encoder": {
            "model_type": "encodec",
            "sampling_rate": 32000,
            "upsampling_ratios": [8, 5, 4, 4]
        },
        "text_encoder": {"model_type": "t5", "d_model": dims.hidden()}
    })
    .to_string()
}

/// Writes a whole tiny `musicgen-small` folder (the catalog's file names) into `dir`.
pub fn write_model_dir(dir: &Path, dims: Dims) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json()).unwrap();
    std::fs::write(dir.join("config.json"), config_json(dims)).unwrap();
    std::fs::write(dir.join("text_encoder_quantized.onnx"), text_encoder(dims, TOKENIZER_VOCAB)).unwrap();
    std::fs::write(dir.join("decoder_model_merged_quantized.onnx"), decoder(dims, &[])).unwrap();
    std::fs::write(dir.join("encodec_decode.onnx"), encodec_decode(dims)).unwrap();
}
