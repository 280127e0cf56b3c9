#!/usr/bin/env node
'use strict';
// Places the ONNX Runtime library a platform package ships, taken from the pinned onnxruntime-node
// tarball on the npm registry: fetched once into .cache/ort with `npm pack`, sha256-verified on
// every use, the one file read out of it with no install script run.
//
//   node scripts/ort.js --all                      every npm/<platform>/ (release)
//   node scripts/ort.js --platform SUFFIX --out DIR one platform's library into DIR
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const zlib = require('node:zlib');
const { execFileSync } = require('node:child_process');
const { ROOT, platforms } = require('./platforms.js');

const PACKAGE = 'onnxruntime-node';
const VERSION = '1.30.0';
// sha256 of onnxruntime-node-1.30.0.tgz (the registry's sha1 8d4c4a75…, integrity sha512-twhs1C2C…).
const SHA256 = '6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75';
const CACHE = path.join(ROOT, '.cache', 'ort');
const TARBALL = path.join(CACHE, `${PACKAGE}-${VERSION}.tgz`);

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** The verified tarball, fetched from the registry when it is not cached (or fails the check). */
function tarball() {
  if (fs.existsSync(TARBALL) && sha256(TARBALL) === SHA256) return TARBALL;
  fs.mkdirSync(CACHE, { recursive: true });
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['pack', `${PACKAGE}@${VERSION}`, '--pack-destination', CACHE, '--silent'], {
    stdio: ['ignore', 'ignore', 'inherit'],
    shell: process.platform === 'win32',
  });
  const got = sha256(TARBALL);
  if (got !== SHA256) {
    fs.rmSync(TARBALL, { force: true });
    throw new Error(`${PACKAGE}@${VERSION} from the registry has sha256 ${got}, expected ${SHA256}`);
  }
  return TARBALL;
}

/** The named members of a gzipped tar (ustar headers; npm writes no long names for these). */
function extract(file, wanted) {
  const tar = zlib.gunzipSync(fs.readFileSync(file));
  const found = new Map();
  for (let at = 0; at + 512 <= tar.length && found.size < wanted.size; ) {
    const header = tar.subarray(at, at + 512);
    if (header[0] === 0) break;
    const field = (start, len) => header.subarray(start, start + len).toString('utf8').replace(/\0.*$/s, '');
    const prefix = field(345, 155);
    const name = prefix ? `${prefix}/${field(0, 100)}` : field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const body = at + 512;
    if (wanted.has(name)) found.set(name, tar.subarray(body, body + size));
    at = body + Math.ceil(size / 512) * 512;
  }
  return found;
}

/** Writes each `{ort, out}` library; returns the paths written. */
function place(jobs) {
  const todo = jobs.filter((j) => j.ort);
  if (todo.length === 0) return [];
  const members = extract(tarball(), new Set(todo.map((j) => j.ort.member)));
  return todo.map(({ ort, out }) => {
    const bytes = members.get(ort.member);
    if (!bytes) throw new Error(`${ort.member} is not in ${PACKAGE}@${VERSION}`);
    fs.mkdirSync(out, { recursive: true });
    const dest = path.join(out, ort.file);
    fs.writeFileSync(`${dest}.part`, bytes, { mode: 0o755 });
    fs.renameSync(`${dest}.part`, dest);
    return dest;
  });
}

function main(argv) {
  const all = argv.includes('--all');
  const arg = (flag) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  let jobs;
  if (all) {
    jobs = platforms().map((p) => ({ ort: p.ort, out: p.dir, suffix: p.suffix }));
  } else {
    const suffix = arg('--platform');
    const out = arg('--out');
    const p = platforms().find((x) => x.suffix === suffix);
    if (!p || !out) {
      process.stderr.write(`usage: node scripts/ort.js --all | --platform <${platforms().map((x) => x.suffix).join('|')}> --out DIR\n`);
      return 2;
    }
    jobs = [{ ort: p.ort, out: path.resolve(out), suffix }];
  }
  for (const dest of place(jobs)) process.stdout.write(`${path.relative(process.cwd(), dest) || dest}\n`);
  for (const j of jobs.filter((x) => !x.ort)) {
    process.stderr.write(`${j.suffix}: no ONNX Runtime ${VERSION} build exists; the package relies on ORT_DYLIB_PATH or a system library\n`);
  }
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));

module.exports = { place, tarball, VERSION };
