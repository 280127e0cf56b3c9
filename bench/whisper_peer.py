#!/usr/bin/env python3
"""The peer for bench/whisper.js: faster-whisper 1.2.1 (CTranslate2) with word_timestamps=True on
the same tiny.en CTranslate2 weights, greedy, one fresh process per run (model load included).

    whisper_peer.py CT2_MODEL_DIR AUDIO     # prints {"text", "words": [{text, start, end, probability}]}
"""
import json
import sys

from faster_whisper import WhisperModel


def main():
    model_dir, audio = sys.argv[1], sys.argv[2]
    model = WhisperModel(model_dir, device="cpu", compute_type="default")
    segments, _ = model.transcribe(audio, beam_size=1, word_timestamps=True, condition_on_previous_text=False)
    words, text = [], []
    for s in segments:
        text.append(s.text)
        for w in s.words or []:
            words.append({"text": w.word.strip(), "start": w.start, "end": w.end, "probability": w.probability})
    json.dump({"text": "".join(text).strip(), "words": words}, sys.stdout)


if __name__ == "__main__":
    main()
