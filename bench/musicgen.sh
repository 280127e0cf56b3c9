#!/usr/bin/env bash
# MusicGen generation loop: steps/second of ours (Rust, ort) against the same loop in Python
# (onnxruntime + numpy, bench/musicgen_peer.py) on the same tiny test-built model files, in one run.
# Prints figures and ratios, asserts no time (it does check both sides' greedy codes are identical).
#
#   bench/musicgen.sh                      # 10 s of audio (503 steps), 3 runs per side
#   HYPERFRAMES_BENCH_SECONDS=30 HYPERFRAMES_BENCH_RUNS=5 HYPERFRAMES_THREADS=1 bench/musicgen.sh
#
# The same as `cargo bench --features bench --bench musicgen` (benches/musicgen.rs), with LTO off
# to keep the optimised build to a few minutes. The peer needs a Python with onnxruntime and
# numpy: HYPERFRAMES_BENCH_PYTHON, else .cache/bench-venv (see bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16
export CARGO_PROFILE_BENCH_LTO=false CARGO_PROFILE_BENCH_CODEGEN_UNITS=16
exec cargo bench --target x86_64-unknown-linux-gnu --features bench --bench musicgen
