'use strict';
// The platform packages (npm/<suffix>/): one per napi target in package.json, each carrying the
// addon and the ONNX Runtime library it loads, taken from the pinned onnxruntime-node tarball.
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const manifest = require('../package.json');

// Rust target triple → the suffix napi-rs gives the package and the addon file.
const SUFFIX = {
  'x86_64-unknown-linux-gnu': 'linux-x64-gnu',
  'aarch64-unknown-linux-gnu': 'linux-arm64-gnu',
  'aarch64-apple-darwin': 'darwin-arm64',
  'x86_64-apple-darwin': 'darwin-x64',
  'x86_64-pc-windows-msvc': 'win32-x64-msvc',
};

// Where each platform's library sits in the onnxruntime-node tarball, and its name next to the
// addon (one of the names the addon looks for first). onnxruntime-node 1.30.0 has no macOS x64
// build (nor does any official ONNX Runtime release since 1.23), so that package ships without
// one and the addon falls back to ORT_DYLIB_PATH or a system library (e.g. Homebrew's).
const ORT = {
  'linux-x64-gnu': { member: 'package/bin/napi-v6/linux/x64/libonnxruntime.so.1', file: 'libonnxruntime.so.1' },
  'linux-arm64-gnu': { member: 'package/bin/napi-v6/linux/arm64/libonnxruntime.so.1', file: 'libonnxruntime.so.1' },
  'darwin-arm64': { member: 'package/bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib', file: 'libonnxruntime.1.dylib' },
  'darwin-x64': null,
  'win32-x64-msvc': { member: 'package/bin/napi-v6/win32/x64/onnxruntime.dll', file: 'onnxruntime.dll' },
};

function platforms() {
  return manifest.napi.targets.map((triple) => {
    const suffix = SUFFIX[triple];
    if (!suffix) throw new Error(`scripts/platforms.js does not know the target ${triple}`);
    return {
      triple,
      suffix,
      name: `${manifest.name}-${suffix}`,
      dir: path.join(ROOT, 'npm', suffix),
      addon: `${manifest.napi.binaryName}.${suffix}.node`,
      ort: ORT[suffix],
    };
  });
}

/** This machine's platform package (Linux is taken to be glibc, the only Linux flavour built). */
function hostPlatform() {
  const abi = process.platform === 'linux' ? '-gnu' : process.platform === 'win32' ? '-msvc' : '';
  const suffix = `${process.platform}-${process.arch}${abi}`;
  const found = platforms().find((p) => p.suffix === suffix);
  if (!found) throw new Error(`no platform package for ${suffix}`);
  return found;
}

module.exports = { ROOT, manifest, platforms, hostPlatform };
