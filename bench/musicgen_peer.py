"""The peer side of bench/musicgen.sh: MusicGen's generation loop written the usual Python way
(onnxruntime + numpy, as optimum / transformers.js drive the Xenova export), run on the same model
files as hyperframes.

It reads a job (JSON): the model folder, the prompt's token ids (from hyperframes' tokenizer, so
both sides feed the text encoder the same input), the number of frames, the intra-op thread count,
the number of timed runs, and the seed. Per run it encodes the prompt, runs the merged decoder with
classifier-free guidance (batch 2: the prompt and zeroed states with a zero mask), scale 3, top-k
250 at temperature 1, the delay pattern (pad 2048 before and after each codebook's window) and
feeds every `present.*` output back as `past_key_values.*`; then it undoes the pattern and decodes
the codes with EnCodec. A last greedy run (top-k 1) writes its codes so the parent can check both
sides computed the same thing.

Prints one JSON line: {"runs": [{"seconds", "steps", "run_ms"}...], "greedy_codes": [[...]...]}.

Usage: python musicgen_peer.py JOB.json
"""

import json
import sys
import time

import numpy as np
import onnxruntime as ort


def session(path, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(path, sess_options=opts, providers=["CPUExecutionProvider"])


def sample(logits, top_k, rng):
    if top_k == 1:
        return int(np.argmax(logits))
    idx = np.argpartition(-logits, top_k - 1)[:top_k]
    top = logits[idx].astype(np.float64)
    p = np.exp(top - top.max())
    p /= p.sum()
    return int(idx[rng.choice(len(idx), p=p)])


def generate(text_enc, dec, encodec, ids, frames, top_k, guidance, rng, pad=2048, books=4):
    ids = np.array([ids], dtype=np.int64)
    hidden = text_enc.run(["last_hidden_state"], {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0]
    states = np.concatenate([hidden, np.zeros_like(hidden)], axis=0)
    mask = np.concatenate([np.ones_like(ids), np.zeros_like(ids)], axis=0)
    batch = 2
    past_inputs = [i for i in dec.get_inputs() if i.name.startswith("past_key_values.")]
    past = {i.name: np.zeros((batch, i.shape[1], 0, i.shape[3]), dtype=np.float32) for i in past_inputs}
    out_names = [o.name for o in dec.get_outputs()]
    steps = frames + books - 1
    seq = [[pad] for _ in range(books)]
    for step in range(steps):
        tokens = np.array([[row[step]] for _ in range(batch) for row in seq], dtype=np.int64)
        feeds = {
            "input_ids": tokens,
            "encoder_hidden_states": states,
            "encoder_attention_mask": mask,
            "use_cache_branch": np.array([step > 0]),
        }
        feeds.update(past)
        outs = dict(zip(out_names, dec.run(out_names, feeds)))
        logits = outs["logits"][:, -1, :]
        for k in range(books):
            cond, uncond = logits[k], logits[books + k]
            scores = uncond + guidance * (cond - uncond)
            code = sample(scores, top_k, rng)
            pos = step + 1
            seq[k].append(pad if (pos <= k or pos > k + frames) else code)
        past = {"past_key_values." + n[len("present."):]: v for n, v in outs.items() if n.startswith("present.")}
    codes = np.array([seq[k][k + 1 : k + 1 + frames] for k in range(books)], dtype=np.int64)
    audio = encodec.run(["audio_values"], {"audio_codes": codes[None, None]})[0]
    return codes, audio, steps


def main():
    job = json.load(open(sys.argv[1]))
    d, threads = job["model_dir"], job["threads"]
    text_enc = session(d + "/text_encoder_quantized.onnx", threads)
    dec = session(d + "/decoder_model_merged_quantized.onnx", threads)
    encodec = session(d + "/encodec_decode.onnx", threads)
    rng = np.random.default_rng(job["seed"])
    # Warm-up, like the Rust side.
    generate(text_enc, dec, encodec, job["ids"], 2, 250, 3.0, rng)
    runs = []
    for _ in range(job["runs"]):
        t0 = time.perf_counter()
        _, audio, steps = generate(text_enc, dec, encodec, job["ids"], job["frames"], 250, 3.0, rng)
        runs.append({"steps": steps, "run_ms": (time.perf_counter() - t0) * 1e3, "samples": int(audio.size)})
    greedy, _, _ = generate(text_enc, dec, encodec, job["ids"], job["frames"], 1, 3.0, rng)
    print(json.dumps({"runs": runs, "greedy_codes": greedy.tolist(), "onnxruntime": ort.__version__}))


if __name__ == "__main__":
    main()
