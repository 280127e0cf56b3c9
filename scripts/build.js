#!/usr/bin/env node
'use strict';
// Builds the addon at the repository root (`npm run build` = release, `npm run build:debug`).
// Linux glibc builds link against glibc 2.17 through the napi-rs cross toolchain (npm packages
// `@napi-rs/cross-toolchain-*`), so the addon loads on any glibc ≥ 2.28 system ONNX Runtime
// supports; they use their own target dir (target/glibc) so `cargo test`'s host build stays warm.
//
//   node scripts/build.js [--release] [--target TRIPLE] [--host-toolchain] [extra napi args]
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync, spawnSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const CROSS_TARGETS = { 'x86_64-unknown-linux-gnu': 'x86_64', 'aarch64-unknown-linux-gnu': 'aarch64' };

function hostTriple() {
  if (process.platform === 'linux') return `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-unknown-linux-gnu`;
  return null;
}

/**
 * Makes sure napi finds the toolchain it will look for. napi fetches
 * `@napi-rs/cross-toolchain-<host>-target-<arch>` at the version of `@napi-rs/cross-toolchain`,
 * but the target packages are not all published at every version (x86_64 stops at 1.0.0 while the
 * index is at 1.0.5); when the exact version is missing, the newest published one is unpacked
 * where napi looks, so it does not try the download that would fail.
 */
function seedToolchain(triple) {
  const cliDir = path.dirname(require.resolve('@napi-rs/cli/package.json', { paths: [ROOT] }));
  const meta = require(require.resolve('@napi-rs/cross-toolchain/package.json', { paths: [cliDir] }));
  const dest = path.join(os.homedir(), '.napi-rs', 'cross-toolchain', meta.version, triple);
  if (fs.existsSync(path.join(dest, 'package.json'))) return;
  const host = process.arch === 'arm64' ? 'arm64' : 'x64';
  const pkg = `@napi-rs/cross-toolchain-${host}-target-${CROSS_TARGETS[triple]}`;
  const npm = (args, opts = {}) => execFileSync('npm', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...opts });
  const published = JSON.parse(npm(['view', pkg, 'versions', '--json']));
  if (published.includes(meta.version)) return; // napi's own download works
  const version = published.filter((v) => !v.includes('-')).pop();
  process.stderr.write(`${pkg}@${meta.version} is not published; using ${version}\n`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'napi-cross-'));
  try {
    // `npm pack` checks the registry's integrity hash of the tarball.
    const file = npm(['pack', `${pkg}@${version}`, '--silent'], { cwd: tmp }).trim().split('\n').pop();
    execFileSync('tar', ['-xzf', file], { cwd: tmp });
    fs.mkdirSync(dest, { recursive: true });
    execFileSync('tar', ['-xJf', path.join(tmp, 'package', `${triple}.tar.xz`), '-C', dest]);
    fs.copyFileSync(path.join(tmp, 'package', 'package.json'), path.join(dest, 'package.json'));
  } catch (err) {
    fs.rmSync(dest, { recursive: true, force: true });
    throw err;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function main(argv) {
  const args = [...argv];
  const take = (flag) => {
    const i = args.indexOf(flag);
    if (i < 0) return false;
    args.splice(i, 1);
    return true;
  };
  const hostToolchain = take('--host-toolchain');
  const ti = args.indexOf('--target');
  const triple = ti >= 0 ? args[ti + 1] : hostTriple();
  const napiArgs = ['napi', 'build', '--platform', ...args];
  const env = { ...process.env };
  if (!hostToolchain && CROSS_TARGETS[triple]) {
    seedToolchain(triple);
    if (ti < 0) napiArgs.push('--target', triple);
    napiArgs.push('--use-napi-cross');
    env.CARGO_TARGET_DIR = env.CARGO_TARGET_DIR || path.join(ROOT, 'target', 'glibc');
  }
  const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';
  const r = spawnSync(npx, napiArgs, { cwd: ROOT, env, stdio: 'inherit', shell: process.platform === 'win32' });
  return r.status ?? 1;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

module.exports = { seedToolchain };
