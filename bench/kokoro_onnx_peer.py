"""The kokoro-onnx side of bench/kokoro.js: one fresh process per measured run, like `hyperframes tts`.

Reads a job (JSON) naming the model, voice packs, voice, thread count, the phonemes hyperframes fed
its model and its per-chunk token counts; builds the onnxruntime session itself (so the intra-op
thread count is the same as ours), wraps it with kokoro-onnx's public `Kokoro.from_session`, and
speaks each chunk with `Kokoro.create(chunk, voice, speed, lang, is_phonemes=True, trim=False,
sentence_pause=0, clause_pause=0)`: the same phonemes, cut into the same model calls as hyperframes cut them, with
kokoro-onnx's own trimming and pause insertion off so both sides run exactly the same ORT work and
the audio lengths can be compared. With "own_chunking" the whole phoneme string goes to one
`create` call and kokoro-onnx splits it itself.

Output: a 16-bit 24 kHz WAV (`out`), or with `stream` raw s16le PCM on stdout as each chunk is
ready (the parent times the first byte). A report with absolute time stamps (`time.time()`, seconds
since the epoch) is written to `report` so the parent can lay them against its spawn time.

Usage: python kokoro_onnx_peer.py JOB.json
"""

import time

T_START = time.time()

import json  # noqa: E402
import sys  # noqa: E402
import wave  # noqa: E402

import numpy as np  # noqa: E402
import onnxruntime as rt  # noqa: E402
from kokoro_onnx import Kokoro  # noqa: E402

T_IMPORTS = time.time()


class TimedSession:
    """Delegates to the real session and adds up the time spent inside `run`."""

    def __init__(self, session):
        self._session = session
        self.runs = []

    def run(self, *args, **kwargs):
        started = time.perf_counter()
        out = self._session.run(*args, **kwargs)
        self.runs.append((time.perf_counter() - started) * 1e3)
        return out

    def __getattr__(self, name):
        return getattr(self._session, name)


def to_i16(audio):
    return (np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2")


def split_like(phonemes, counts, vocab):
    """Cuts `phonemes` into pieces of `counts` tokens each, the spaces between them dropped: how
    hyperframes chunked the same string (its log gives each chunk's token count)."""
    pieces, at = [], 0
    for n in counts:
        while at < len(phonemes) and (phonemes[at] == " " or phonemes[at] not in vocab):
            at += 1
        start, taken = at, 0
        while at < len(phonemes) and taken < n:
            taken += phonemes[at] in vocab
            at += 1
        if taken != n:
            raise SystemExit(f"peer: phonemes hold fewer tokens than the chunk counts {counts}")
        pieces.append(phonemes[start:at])
    rest = [c for c in phonemes[at:] if c in vocab and c != " "]
    if rest:
        raise SystemExit(f"peer: {len(rest)} tokens left over after the chunk counts {counts}")
    return pieces


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        job = json.load(f)
    packs = [job["voices"]] if isinstance(job["voices"], str) else job["voices"]
    voices = packs[0] if len(packs) == 1 else next((p for p in packs if job["voice"] in np.load(p)), None)
    if voices is None:
        raise SystemExit(f"peer: voice {job['voice']} is in none of {packs}")

    options = rt.SessionOptions()
    options.intra_op_num_threads = int(job["threads"])
    session = rt.InferenceSession(job["model"], sess_options=options, providers=["CPUExecutionProvider"])
    t_session = time.time()
    kokoro = Kokoro.from_session(session, voices)
    timed = TimedSession(kokoro.sess)
    kokoro.sess = timed
    style = kokoro.get_voice_style(job["voice"])
    t_ready = time.time()

    stream = bool(job.get("stream"))
    out = sys.stdout.buffer
    parts, chunks = [], []
    if job.get("own_chunking"):
        pieces = [job["phonemes"]]
    else:
        pieces = split_like(job["phonemes"], job["chunk_tokens"], kokoro.tokenizer.vocab)
    t_synth = time.time()
    for piece in pieces:
        before = len(timed.runs)
        audio, _ = kokoro.create(
            piece,
            style,
            speed=float(job["speed"]),
            lang=job["lang"],
            is_phonemes=True,
            trim=False,
            sentence_pause=0.0,
            clause_pause=0.0,
        )
        if stream:
            out.write(to_i16(audio).tobytes())
            out.flush()
        else:
            parts.append(audio)
        chunks.append(
            {
                "end": time.time(),
                "ort_ms": sum(timed.runs[before:]),
                "calls": len(timed.runs) - before,
                "tokens": len(kokoro.tokenizer.tokenize(piece, limit=None)),
                "samples": int(len(audio)),
            }
        )
    t_synth_done = time.time()
    if not stream:
        pcm = to_i16(np.concatenate(parts))
        with wave.open(job["out"], "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(24000)
            w.writeframes(pcm.tobytes())
    t_done = time.time()

    import importlib.metadata as md

    report = {
        "start": T_START,
        "imports": T_IMPORTS,
        "session": t_session,
        "ready": t_ready,
        "synth_start": t_synth,
        "synth_done": t_synth_done,
        "done": t_done,
        "chunks": chunks,
        "samples": sum(c["samples"] for c in chunks),
        "voices": voices,
        "threads": options.intra_op_num_threads,
        "versions": {
            "python": sys.version.split()[0],
            "kokoro-onnx": md.version("kokoro-onnx"),
            "onnxruntime": rt.__version__,
            "numpy": np.__version__,
        },
    }
    with open(job["report"], "w", encoding="utf-8") as f:
        json.dump(report, f)


if __name__ == "__main__":
    main()
