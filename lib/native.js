'use strict';
// Loads the addon: a local build at the package root (a source checkout), else this platform's
// package `hyperframes-<platform>-<arch>[-<abi>]`, which npm installs from optionalDependencies and
// which also carries the ONNX Runtime library. Skipping the generated loader's platform probing
// keeps start-up fast; when no package fits, the error names the one to install and why.
const path = require('node:path');
const fs = require('node:fs');

const root = path.join(__dirname, '..');
const manifest = require('../package.json');

/** The error every loading failure becomes: `code`, `message` and `hint`, like the addon's own. */
class PlatformError extends Error {
  constructor(code, message, hint, cause) {
    super(message, cause ? { cause } : undefined);
    this.name = 'HyperframesError';
    this.code = code;
    this.hint = hint;
  }
}

/** `linux-x64-gnu`, `darwin-arm64`, `win32-x64-msvc`: the suffix of the platform package's name. */
function platformSuffix(libc) {
  const abi = process.platform === 'linux' ? `-${libc}` : process.platform === 'win32' ? '-msvc' : '';
  return `${process.platform}-${process.arch}${abi}`;
}

/** `gnu` or `musl`; asked only on the error path (the process report is slow to build). */
function linuxLibc() {
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'gnu' : 'musl';
  } catch {
    return 'gnu';
  }
}

/** The platform packages of a published hyperframes (its optionalDependencies); none in a checkout. */
function supportedPackages() {
  return Object.keys(manifest.optionalDependencies || {});
}

function notBuilt(file) {
  return new PlatformError(
    'ADDON_NOT_BUILT',
    `This is a source checkout of hyperframes and its addon ${path.basename(file)} is not built.`,
    'Run `npm run build` (or `npm run build:debug`) in it.',
  );
}

function describePlatform(libc) {
  const libcNote = process.platform === 'linux' ? ` with ${libc === 'musl' ? 'musl libc' : 'glibc'}` : '';
  return `${process.platform} on ${process.arch}${libcNote}`;
}

function unsupported(libc) {
  const here = describePlatform(libc);
  const hint =
    libc === 'musl'
      ? 'The Linux builds need glibc 2.28 or newer: use a glibc-based system or image (Debian 10+, Ubuntu 20.04+, RHEL 8+, Amazon Linux 2023; e.g. node:20-slim rather than node:20-alpine).'
      : `Builds exist for: ${supportedPackages()
          .map((p) => p.replace(/^hyperframes-/, ''))
          .join(', ')}.`;
  return new PlatformError('PLATFORM_UNSUPPORTED', `hyperframes has no native build for ${here}.`, hint);
}

function notInstalled(pkg, libc) {
  return new PlatformError(
    'PLATFORM_PACKAGE_MISSING',
    `The native part of hyperframes for ${describePlatform(libc)} is the package ${pkg}, and it is not installed.`,
    `Run \`npm install ${pkg}@${manifest.version}\`. npm leaves it out when optional dependencies are ` +
      'omitted (--omit=optional, --no-optional) or when node_modules or the lockfile came from another platform.',
  );
}

function mismatched(pkg, found) {
  return new PlatformError(
    'PLATFORM_PACKAGE_MISMATCH',
    `${pkg} ${found} is installed, but hyperframes ${manifest.version} needs ${pkg} ${manifest.version}.`,
    `Run \`npm install ${pkg}@${manifest.version}\` (the two packages are released together).`,
  );
}

function loadFailed(file, pkg, err) {
  const detail = String((err && err.message) || err).split('\n')[0];
  const glibc = /GLIBC_[0-9.]+' not found/.test(detail);
  return new PlatformError(
    'ADDON_LOAD_FAILED',
    `Could not load the native addon ${file}: ${detail}`,
    glibc
      ? 'hyperframes needs glibc 2.28 or newer (Debian 10+, Ubuntu 20.04+, RHEL 8+, Amazon Linux 2023).'
      : `Reinstall it: \`npm install ${pkg}@${manifest.version}\`.`,
    err,
  );
}

function load() {
  if (process.env.NAPI_RS_NATIVE_LIBRARY_PATH) return require('../index.js');
  // Linux is taken to be glibc until a load fails: checking libc up front costs start-up time.
  let libc = 'gnu';
  let suffix = platformSuffix(libc);
  const local = path.join(root, `hyperframes.${suffix}.node`);
  if (fs.existsSync(local)) return require(local);

  if (supportedPackages().length === 0) throw notBuilt(local);
  let pkg = `hyperframes-${suffix}`;
  if (!supportedPackages().includes(pkg)) {
    if (process.platform === 'linux') libc = linuxLibc();
    throw unsupported(libc);
  }
  let installed;
  try {
    installed = require(`${pkg}/package.json`);
  } catch {
    if (process.platform === 'linux' && linuxLibc() === 'musl') {
      libc = 'musl';
      suffix = platformSuffix(libc);
      pkg = `hyperframes-${suffix}`;
      if (!supportedPackages().includes(pkg)) throw unsupported(libc);
    }
    throw notInstalled(pkg, libc);
  }
  if (installed.version !== manifest.version) throw mismatched(pkg, installed.version);
  const file = path.join(path.dirname(require.resolve(`${pkg}/package.json`)), installed.main);
  try {
    return require(file);
  } catch (err) {
    throw loadFailed(file, pkg, err);
  }
}

module.exports = load();
