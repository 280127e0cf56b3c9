#!/usr/bin/env python3
"""Normalises texts the way Whisper's WER is reported (openai-whisper's EnglishTextNormalizer:
spelled-out numbers to digits, British to American spellings, no punctuation or case), for
bench/whisper.js. Applied alike to the reference and to every transcript.

    whisper_normalise.py NORMALIZERS_PARENT_DIR < ["text", ...]   # prints [["word", ...], ...]
"""
import json
import sys

sys.path.insert(0, sys.argv[1])
from normalizers import EnglishTextNormalizer  # noqa: E402  (the folder copied from the sdist)


def main():
    norm = EnglishTextNormalizer()
    json.dump([norm(t).split() for t in json.load(sys.stdin)], sys.stdout)


if __name__ == "__main__":
    main()
