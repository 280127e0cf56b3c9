#!/usr/bin/env python3
"""`hyperframes beats` against librosa's `beat.beat_track` on generated drum tracks with known
beats: mir_eval F-measure at ±70 ms (first 5 s trimmed, as mir_eval does), BPM error, and wall
time on 3 minutes of audio, ours over librosa's (aim ≤ 0.1×).

    python3 -m venv .cache/beats-venv && .cache/beats-venv/bin/pip install librosa mir_eval
    .cache/beats-venv/bin/python bench/beats.py [--cli bin/hyperframes.js]

Ours runs as the CLI does (a `node` process: start-up, decoding and all), librosa as a script
does (`librosa.load` at its default 22.05 kHz, then `beat_track`), both timed from outside.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import librosa
import mir_eval
import numpy as np
import soundfile as sf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def drum_track(rate, bpm, seconds, start=0.5, seed=0):
    """Kick on every beat (louder on one), snare on two and four, hats on eighths, a chord pad."""
    rng = np.random.default_rng(seed)
    n = int(rate * seconds)
    t = np.arange(n) / rate
    out = 0.03 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))
    period = 60.0 / bpm
    beats = []
    k = 0
    while start + k * period < seconds - 0.05:
        at = start + k * period
        beats.append(at)
        i = int(at * rate)
        m = min(int(0.2 * rate), n - i)
        dt = np.arange(m) / rate
        accent = 1.0 if k % 4 == 0 else 0.6
        phase = 2 * np.pi * (50 * dt + (100 / 30) * (1 - np.exp(-30 * dt)))
        out[i:i + m] += accent * 0.7 * np.exp(-20 * dt) * np.sin(phase)
        if k % 2 == 1:
            m2 = min(int(0.12 * rate), n - i)
            out[i:i + m2] += 0.3 * np.exp(-35 * np.arange(m2) / rate) * rng.uniform(-1, 1, m2)
        for eighth in (0.0, period / 2):
            h = int((at + eighth) * rate)
            m3 = max(0, min(int(0.03 * rate), n - h))
            noise = np.diff(rng.uniform(-1, 1, m3 + 1))
            out[h:h + m3] += 0.12 * np.exp(-150 * np.arange(m3) / rate) * noise
        k += 1
    return out.astype(np.float32), np.array(beats)


def ours(cli, path):
    t0 = time.perf_counter()
    run = subprocess.run(["node", cli, "beats", path, "--json"], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    j = json.loads(run.stdout)
    return j["bpm"], np.array([b["time"] for b in j["beats"]]), wall


def theirs(path):
    t0 = time.perf_counter()
    y, sr = librosa.load(path)
    tempo, frames = librosa.beat.beat_track(y=y, sr=sr)
    wall = time.perf_counter() - t0
    return float(np.atleast_1d(tempo)[0]), librosa.frames_to_time(frames, sr=sr), wall


def f70(ref, est):
    ref, est = mir_eval.beat.trim_beats(ref), mir_eval.beat.trim_beats(est)
    return mir_eval.beat.f_measure(ref, est, f_measure_threshold=0.07)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default=os.path.join(ROOT, "bin", "hyperframes.js"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="hf-beats-")
    cases = [(87, 44100, 2), (100, 22050, 1), (128, 48000, 2), (140, 32000, 1), (95, 44100, 1), (174, 48000, 2)]
    # A warm-up so librosa's first-call JIT is not in its figures.
    warm = os.path.join(tmp, "warm.wav")
    sf.write(warm, drum_track(22050, 120, 10)[0], 22050)
    theirs(warm)
    print(f"{'track':<22} {'ours BPM':>9} {'err%':>6} {'F':>5}   {'librosa BPM':>11} {'err%':>6} {'F':>5}")
    ok = True
    for bpm, rate, channels in cases:
        mono, truth = drum_track(rate, bpm, 30.0, seed=bpm)
        path = os.path.join(tmp, f"drums-{bpm}-{rate}-{channels}ch.wav")
        sf.write(path, np.stack([mono] * channels, axis=1) if channels > 1 else mono, rate, subtype="PCM_16")
        b1, e1, _ = ours(args.cli, path)
        b2, e2, _ = theirs(path)
        f1, f2 = f70(truth, e1), f70(truth, e2)
        err1, err2 = 100 * (b1 - bpm) / bpm if b1 else float("nan"), 100 * (b2 - bpm) / bpm
        ok &= f1 >= 0.9 and abs(err1) <= 1.0
        print(f"{os.path.basename(path)[7:-4]:<22} {b1:>9.2f} {err1:>6.2f} {f1:>5.3f}   {b2:>11.2f} {err2:>6.2f} {f2:>5.3f}")
    # Three minutes, 44.1 kHz stereo.
    mono, truth = drum_track(44100, 118, 180.0, seed=7)
    long = os.path.join(tmp, "three-minutes.wav")
    sf.write(long, np.stack([mono, mono], axis=1), 44100, subtype="PCM_16")
    b1, e1, w1 = ours(args.cli, long)
    b2, e2, w2 = theirs(long)
    print(f"\n3 min 44.1 kHz stereo at 118 BPM: ours {w1:.2f} s (BPM {b1:.2f}, F {f70(truth, e1):.3f}), "
          f"librosa {w2:.2f} s (BPM {b2:.2f}, F {f70(truth, e2):.3f}); ours/librosa = {w1 / w2:.3f}x")
    print("all PASS (BPM within 1%, F >= 0.9)" if ok else "some FAIL")


if __name__ == "__main__":
    sys.exit(main())
