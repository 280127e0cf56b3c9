#!/usr/bin/env python3
"""Converts a CTranslate2 Whisper model (faster-whisper format) into ONNX graphs, without torch.

    convert_ct2.py MODEL_DIR OUT_DIR

MODEL_DIR holds the CTranslate2 files: model.bin (WhisperSpec), config.json (alignment heads,
suppressed ids) and tokenizer.json (Hugging Face). OUT_DIR receives the layout of the published
onnx-community/whisper-*_timestamped exports (transformers.js `scripts/extra/whisper.py`, Optimum
"automatic-speech-recognition-with-past" with cross-attention outputs), so one engine runs both:

  encoder_model.onnx          input_features f32 [batch, mels, 3000] -> last_hidden_state [batch, 1500, D]
  decoder_model_merged.onnx   input_ids i64 [batch, seq], encoder_hidden_states [batch, 1500, D],
                              past_key_values.{i}.decoder.key|value [batch, H, past, D/H],
                              past_key_values.{i}.encoder.key|value [batch, H, 1500, D/H],
                              use_cache_branch bool [1]
                              -> logits [batch, seq, V], present.{i}.decoder.key|value,
                                 present.{i}.encoder.key|value, cross_attentions.{i} [batch, H, seq, 1500]
  config.json, generation_config.json, tokenizer.json

Weights stay float16 in the files (as in the CTranslate2 model) with a Cast to float32 in the graph.
Deterministic: the same input gives byte-identical output files.
"""

import json
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
IR_VERSION = 8
CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


def read_ct2(path):
    """Variables of a CTranslate2 model.bin (binary version 6), aliases resolved."""
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def take(fmt):
        nonlocal pos
        size = struct.calcsize("<" + fmt)
        value = struct.unpack_from("<" + fmt, data, pos)
        pos += size
        return value[0] if len(value) == 1 else value

    def text():
        nonlocal pos
        n = take("H")
        s = data[pos : pos + n].rstrip(b"\0").decode()
        pos += n
        return s

    version = take("I")
    if version != 6:
        raise SystemExit(f"unsupported CTranslate2 binary version {version} (expected 6)")
    spec = text()
    take("I")  # spec revision
    if spec != "WhisperSpec":
        raise SystemExit(f"not a Whisper model: spec {spec}")
    variables = {}
    for _ in range(take("I")):
        name = text()
        rank = take("B")
        dims = [take("I") for _ in range(rank)]
        dtype = take("B")
        nbytes = take("I")
        if dtype not in CT2_DTYPES:
            raise SystemExit(f"{name}: unsupported dtype {dtype}")
        arr = np.frombuffer(data, dtype=CT2_DTYPES[dtype], count=nbytes // np.dtype(CT2_DTYPES[dtype]).itemsize, offset=pos)
        pos += nbytes
        variables[name] = arr.reshape(dims) if dims else arr[0]
    for _ in range(take("I")):
        alias, target = text(), text()
        variables[alias] = variables[target]
    return variables


class Graph:
    """A small builder: float16 initialisers cast once to float32, unique node names."""

    def __init__(self):
        self.nodes, self.inits, self.count = [], [], 0

    def name(self, hint):
        self.count += 1
        return f"{hint}_{self.count}"

    def op(self, op_type, inputs, hint=None, outputs=1, **attrs):
        outs = [self.name(hint or op_type) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.name("n_" + op_type), **attrs))
        return outs[0] if outputs == 1 else outs

    def weight(self, name, array):
        array = np.ascontiguousarray(array)
        if array.dtype == np.float16:
            self.inits.append(numpy_helper.from_array(array, name + "_f16"))
            self.nodes.append(helper.make_node("Cast", [name + "_f16"], [name], name="cast_" + name, to=TensorProto.FLOAT))
        else:
            self.inits.append(numpy_helper.from_array(array, name))
        return name

    def const(self, array, hint="const"):
        name = self.name(hint)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name


def linear(g, x, w, b, out_name, transposed_weights):
    """x @ W^T + b, with W stored transposed ([in, out]) so MatMul needs no Transpose at run time."""
    if out_name not in transposed_weights:
        transposed_weights[out_name] = (g.weight(out_name + ".w", w.T), g.weight(out_name + ".b", b) if b is not None else None)
    wt, bias = transposed_weights[out_name]
    y = g.op("MatMul", [x, wt])
    return g.op("Add", [y, bias]) if bias is not None else y


def gelu(g, x):
    half = g.const(np.array(0.5, np.float32))
    one = g.const(np.array(1.0, np.float32))
    inv_sqrt2 = g.const(np.array(1 / np.sqrt(2), np.float32))
    erf = g.op("Erf", [g.op("Mul", [x, inv_sqrt2])])
    return g.op("Mul", [g.op("Mul", [x, half]), g.op("Add", [erf, one])])


def layer_norm(g, x, v, prefix, cache):
    if prefix not in cache:
        cache[prefix] = (g.weight(prefix + ".g", v[prefix + "/gamma"]), g.weight(prefix + ".b", v[prefix + "/beta"]))
    gamma, beta = cache[prefix]
    return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)


def split_heads(g, x, heads, head_dim):
    """[B, T, D] -> [B, H, T, hd]"""
    shape = g.const(np.array([0, -1, heads, head_dim], np.int64), "heads_shape")
    return g.op("Transpose", [g.op("Reshape", [x, shape])], perm=[0, 2, 1, 3])


def merge_heads(g, x, dim):
    shape = g.const(np.array([0, -1, dim], np.int64), "merge_shape")
    return g.op("Reshape", [g.op("Transpose", [x], perm=[0, 2, 1, 3]), shape])


def attend(g, q, k, v, scale, mask=None, probs_name=None):
    """softmax(q k^T * scale + mask) v, all [B, H, T, hd]; returns (context, probabilities)."""
    scores = g.op("Mul", [g.op("MatMul", [q, g.op("Transpose", [k], perm=[0, 1, 3, 2])]), g.const(np.array(scale, np.float32))])
    if mask is not None:
        scores = g.op("Add", [scores, mask])
    probs = g.op("Softmax", [scores], axis=-1)
    if probs_name:
        g.nodes.append(helper.make_node("Identity", [probs], [probs_name], name=g.name("n_out")))
    return g.op("MatMul", [probs, v]), probs


def build_encoder(v, n_mels, dim, heads, layers):
    g, wt, ln = Graph(), {}, {}
    head_dim = dim // heads
    conv1_w = g.weight("conv1.w", v["encoder/conv1/weight"])
    conv1_b = g.weight("conv1.b", v["encoder/conv1/bias"])
    conv2_w = g.weight("conv2.w", v["encoder/conv2/weight"])
    conv2_b = g.weight("conv2.b", v["encoder/conv2/bias"])
    x = gelu(g, g.op("Conv", ["input_features", conv1_w, conv1_b], kernel_shape=[3], pads=[1, 1]))
    x = gelu(g, g.op("Conv", [x, conv2_w, conv2_b], kernel_shape=[3], pads=[1, 1], strides=[2]))
    x = g.op("Transpose", [x], perm=[0, 2, 1])
    x = g.op("Add", [x, g.weight("enc_pos", v["encoder/position_encodings/encodings"])])
    for i in range(layers):
        p = f"encoder/layer_{i}"
        h = layer_norm(g, x, v, f"{p}/self_attention/layer_norm", ln)
        qkv_w, qkv_b = v[f"{p}/self_attention/linear_0/weight"], v[f"{p}/self_attention/linear_0/bias"]
        q = split_heads(g, linear(g, h, qkv_w[:dim], qkv_b[:dim], f"enc{i}.q", wt), heads, head_dim)
        k = split_heads(g, linear(g, h, qkv_w[dim : 2 * dim], None, f"enc{i}.k", wt), heads, head_dim)
        val = split_heads(g, linear(g, h, qkv_w[2 * dim :], qkv_b[2 * dim :], f"enc{i}.v", wt), heads, head_dim)
        ctx, _ = attend(g, q, k, val, head_dim**-0.5)
        o = linear(g, merge_heads(g, ctx, dim), v[f"{p}/self_attention/linear_1/weight"], v[f"{p}/self_attention/linear_1/bias"], f"enc{i}.o", wt)
        x = g.op("Add", [x, o])
        h = layer_norm(g, x, v, f"{p}/ffn/layer_norm", ln)
        h = gelu(g, linear(g, h, v[f"{p}/ffn/linear_0/weight"], v[f"{p}/ffn/linear_0/bias"], f"enc{i}.fc1", wt))
        h = linear(g, h, v[f"{p}/ffn/linear_1/weight"], v[f"{p}/ffn/linear_1/bias"], f"enc{i}.fc2", wt)
        x = g.op("Add", [x, h])
    x = layer_norm(g, x, v, "encoder/layer_norm", ln)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="n_last_hidden_state"))
    inputs = [helper.make_tensor_value_info("input_features", TensorProto.FLOAT, ["batch_size", n_mels, 3000])]
    outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", 1500, dim])]
    return finish(g, "whisper_encoder", inputs, outputs)


def build_decoder(v, dim, heads, layers):
    g, wt, ln = Graph(), {}, {}
    head_dim = dim // heads
    scale = head_dim**-0.5
    f32 = TensorProto.FLOAT
    kv_shape = lambda length: ["batch_size", heads, length, head_dim]  # noqa: E731

    # The token embedding is stored once, transposed ([D, V]): the logits use it as is, the
    # embedding lookup gathers its columns.
    emb_t = g.weight("embed_tokens_t", v["decoder/embeddings/weight"].T)
    tok = g.op("Transpose", [g.op("Gather", [emb_t, "input_ids"], axis=1)], perm=[1, 2, 0])

    past_len = g.op("Gather", [g.op("Shape", ["past_key_values.0.decoder.key"]), g.const(np.array(2, np.int64))])
    seq_len = g.op("Gather", [g.op("Shape", ["input_ids"]), g.const(np.array(1, np.int64))])
    total = g.op("Add", [past_len, seq_len])
    one = g.const(np.array(1, np.int64))
    positions = g.op("Range", [past_len, total, one])
    pos = g.op("Gather", [g.weight("dec_pos", v["decoder/position_encodings/encodings"]), positions], axis=0)
    x = g.op("Add", [tok, pos])

    # Causal mask [seq, total]: query i (absolute position past+i) sees keys 0..past+i.
    rows = g.op("Unsqueeze", [positions, one])
    cols = g.op("Unsqueeze", [g.op("Range", [g.const(np.array(0, np.int64)), total, one]), g.const(np.array(0, np.int64))])
    mask = g.op(
        "Where",
        [g.op("Greater", [cols, rows]), g.const(np.array(-1e9, np.float32)), g.const(np.array(0.0, np.float32))],
    )

    # Cross-attention keys/values: from encoder_hidden_states on the first step (use_cache_branch
    # false), from the cache afterwards. One If computes all layers' so the projection of the 1500
    # audio frames runs once per window.
    compute, reuse = Graph(), []
    compute.count = 10_000_000
    cross_outs = []
    for i in range(layers):
        p = f"decoder/layer_{i}/attention"
        kv_w, kv_b = v[f"{p}/linear_1/weight"], v[f"{p}/linear_1/bias"]
        kw = g.weight(f"dec{i}.cross_k.w", kv_w[:dim].T)
        vw = g.weight(f"dec{i}.cross_v.w", kv_w[dim:].T)
        vb = g.weight(f"dec{i}.cross_v.b", kv_b[dim:])
        k = split_heads(compute, compute.op("MatMul", ["encoder_hidden_states", kw]), heads, head_dim)
        val = split_heads(compute, compute.op("Add", [compute.op("MatMul", ["encoder_hidden_states", vw]), vb]), heads, head_dim)
        for kind, src in (("key", k), ("value", val)):
            out = f"cross_{kind}_{i}"
            compute.nodes.append(helper.make_node("Identity", [src], [out + "_new"], name=compute.name("n_id")))
            reuse.append(helper.make_node("Identity", [f"past_key_values.{i}.encoder.{kind}"], [out + "_old"], name=f"n_reuse_{kind}_{i}"))
            cross_outs.append(out)
    then_graph = helper.make_graph(reuse, "reuse_cross_kv", [], [helper.make_tensor_value_info(o + "_old", f32, None) for o in cross_outs])
    g.inits.extend(compute.inits)
    else_graph = helper.make_graph(compute.nodes, "compute_cross_kv", [], [helper.make_tensor_value_info(o + "_new", f32, None) for o in cross_outs])
    g.nodes.append(helper.make_node("If", ["use_cache_branch"], cross_outs, name="n_cross_kv", then_branch=then_graph, else_branch=else_graph))

    for i in range(layers):
        p = f"decoder/layer_{i}"
        h = layer_norm(g, x, v, f"{p}/self_attention/layer_norm", ln)
        qkv_w, qkv_b = v[f"{p}/self_attention/linear_0/weight"], v[f"{p}/self_attention/linear_0/bias"]
        q = split_heads(g, linear(g, h, qkv_w[:dim], qkv_b[:dim], f"dec{i}.q", wt), heads, head_dim)
        k_new = split_heads(g, linear(g, h, qkv_w[dim : 2 * dim], None, f"dec{i}.k", wt), heads, head_dim)
        v_new = split_heads(g, linear(g, h, qkv_w[2 * dim :], qkv_b[2 * dim :], f"dec{i}.v", wt), heads, head_dim)
        k_all = g.op("Concat", [f"past_key_values.{i}.decoder.key", k_new], axis=2)
        v_all = g.op("Concat", [f"past_key_values.{i}.decoder.value", v_new], axis=2)
        g.nodes.append(helper.make_node("Identity", [k_all], [f"present.{i}.decoder.key"], name=g.name("n_out")))
        g.nodes.append(helper.make_node("Identity", [v_all], [f"present.{i}.decoder.value"], name=g.name("n_out")))
        ctx, _ = attend(g, q, k_all, v_all, scale, mask)
        o = linear(g, merge_heads(g, ctx, dim), v[f"{p}/self_attention/linear_1/weight"], v[f"{p}/self_attention/linear_1/bias"], f"dec{i}.o", wt)
        x = g.op("Add", [x, o])

        h = layer_norm(g, x, v, f"{p}/attention/layer_norm", ln)
        q = split_heads(g, linear(g, h, v[f"{p}/attention/linear_0/weight"], v[f"{p}/attention/linear_0/bias"], f"dec{i}.cq", wt), heads, head_dim)
        ck, cv = f"cross_key_{i}", f"cross_value_{i}"
        g.nodes.append(helper.make_node("Identity", [ck], [f"present.{i}.encoder.key"], name=g.name("n_out")))
        g.nodes.append(helper.make_node("Identity", [cv], [f"present.{i}.encoder.value"], name=g.name("n_out")))
        ctx, _ = attend(g, q, ck, cv, scale, probs_name=f"cross_attentions.{i}")
        o = linear(g, merge_heads(g, ctx, dim), v[f"{p}/attention/linear_2/weight"], v[f"{p}/attention/linear_2/bias"], f"dec{i}.co", wt)
        x = g.op("Add", [x, o])

        h = layer_norm(g, x, v, f"{p}/ffn/layer_norm", ln)
        h = gelu(g, linear(g, h, v[f"{p}/ffn/linear_0/weight"], v[f"{p}/ffn/linear_0/bias"], f"dec{i}.fc1", wt))
        h = linear(g, h, v[f"{p}/ffn/linear_1/weight"], v[f"{p}/ffn/linear_1/bias"], f"dec{i}.fc2", wt)
        x = g.op("Add", [x, h])
    x = layer_norm(g, x, v, "decoder/layer_norm", ln)
    g.nodes.append(helper.make_node("MatMul", [x, emb_t], ["logits"], name="n_logits"))

    vocab = v["decoder/embeddings/weight"].shape[0]
    inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch_size", "decoder_sequence_length"]),
        helper.make_tensor_value_info("encoder_hidden_states", f32, ["batch_size", "encoder_sequence_length / 2", dim]),
    ]
    for i in range(layers):
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.decoder.{kind}", f32, kv_shape("past_decoder_sequence_length")))
        for kind in ("key", "value"):
            inputs.append(helper.make_tensor_value_info(f"past_key_values.{i}.encoder.{kind}", f32, kv_shape("encoder_sequence_length_out")))
    inputs.append(helper.make_tensor_value_info("use_cache_branch", TensorProto.BOOL, [1]))
    outputs = [helper.make_tensor_value_info("logits", f32, ["batch_size", "decoder_sequence_length", vocab])]
    for i in range(layers):
        for kind in ("key", "value"):
            outputs.append(helper.make_tensor_value_info(f"present.{i}.decoder.{kind}", f32, kv_shape("past_decoder_sequence_length + 1")))
        for kind in ("key", "value"):
            outputs.append(helper.make_tensor_value_info(f"present.{i}.encoder.{kind}", f32, kv_shape("encoder_sequence_length_out")))
    for i in range(layers):
        outputs.append(helper.make_tensor_value_info(f"cross_attentions.{i}", f32, ["batch_size", heads, "decoder_sequence_length", "encoder_sequence_length_out"]))
    return finish(g, "whisper_decoder_merged", inputs, outputs)


def finish(g, name, inputs, outputs):
    graph = helper.make_graph(g.nodes, name, inputs, outputs, initializer=g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="hyperframes-convert-ct2")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def hf_configs(ct2_config, tokenizer, dim, heads, enc_layers, dec_layers, n_mels, vocab):
    added = {t["content"]: t["id"] for t in tokenizer["added_tokens"]}
    multilingual = vocab >= 51865
    no_ts = added["<|notimestamps|>"]
    lang_to_id = {}
    if multilingual:
        lang_to_id = {c: i for c, i in added.items() if i in set(ct2_config.get("lang_ids", [])) and c.startswith("<|") and c.endswith("|>")}
    config = {
        "model_type": "whisper",
        "d_model": dim,
        "encoder_attention_heads": heads,
        "decoder_attention_heads": heads,
        "encoder_layers": enc_layers,
        "decoder_layers": dec_layers,
        "num_mel_bins": n_mels,
        "vocab_size": vocab,
        "max_source_positions": 1500,
        "max_target_positions": 448,
        "bos_token_id": added["<|endoftext|>"],
        "eos_token_id": added["<|endoftext|>"],
        "decoder_start_token_id": added["<|startoftranscript|>"],
    }
    generation = {
        "alignment_heads": ct2_config["alignment_heads"],
        "begin_suppress_tokens": ct2_config.get("suppress_ids_begin", []),
        "suppress_tokens": ct2_config.get("suppress_ids", []),
        "decoder_start_token_id": added["<|startoftranscript|>"],
        "eos_token_id": added["<|endoftext|>"],
        "no_timestamps_token_id": no_ts,
        "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50,
        "max_length": 448,
    }
    if multilingual:
        generation["lang_to_id"] = lang_to_id
        generation["task_to_id"] = {"transcribe": added["<|transcribe|>"], "translate": added["<|translate|>"]}
    return config, generation


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    src, out = sys.argv[1], sys.argv[2]
    v = read_ct2(os.path.join(src, "model.bin"))
    with open(os.path.join(src, "config.json")) as f:
        ct2_config = json.load(f)
    with open(os.path.join(src, "tokenizer.json"), "rb") as f:
        tokenizer_bytes = f.read()
    tokenizer = json.loads(tokenizer_bytes)
    dim = v["encoder/conv1/weight"].shape[0]
    n_mels = v["encoder/conv1/weight"].shape[1]
    heads = int(v["encoder/num_heads"])
    dec_heads = int(v["decoder/num_heads"])
    assert heads == dec_heads, "encoder and decoder head counts differ"
    enc_layers, dec_layers = (
        len({k.split("/")[1] for k in v if k.split("/")[0] == part and k.split("/")[1].removeprefix("layer_").isdigit()})
        for part in ("encoder", "decoder")
    )
    vocab = v["decoder/embeddings/weight"].shape[0]
    os.makedirs(out, exist_ok=True)
    onnx.save(build_encoder(v, n_mels, dim, heads, enc_layers), os.path.join(out, "encoder_model.onnx"))
    onnx.save(build_decoder(v, dim, heads, dec_layers), os.path.join(out, "decoder_model_merged.onnx"))
    config, generation = hf_configs(ct2_config, tokenizer, dim, heads, enc_layers, dec_layers, n_mels, vocab)
    for name, obj in (("config.json", config), ("generation_config.json", generation)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(obj, f, indent=2, sort_keys=True)
            f.write("\n")
    with open(os.path.join(out, "tokenizer.json"), "wb") as f:
        f.write(tokenizer_bytes)
    print(f"converted: d_model {dim}, heads {heads}, layers {enc_layers}+{dec_layers}, vocab {vocab}, mels {n_mels}", file=sys.stderr)


if __name__ == "__main__":
    main()
