#!/usr/bin/env node
'use strict';
// npm run pack:local -- DIR: writes the root tarball and this machine's platform tarball into DIR,
// as they would be published: the root with its release manifest (optionalDependencies), the
// platform package with the addon built at the repository root (`npm run build`) and the pinned
// ONNX Runtime library. Both are staged outside the source tree, which is left as it was. Prints
// the two tarballs' paths and sizes as JSON.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, hostPlatform } = require('./platforms.js');
const { sync, releaseManifest, writeJson } = require('./sync-versions.js');
const ort = require('./ort.js');

function npmPack(dir, dest) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const out = execFileSync(npm, ['pack', '--json', '--pack-destination', dest], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    shell: process.platform === 'win32',
    // `npm pack` in the repository would run `prepack` scripts; there are none, and none may run here.
    env: { ...process.env, npm_config_ignore_scripts: 'true' },
  });
  const [info] = JSON.parse(out);
  return { file: path.join(dest, info.filename), size: info.size, unpackedSize: info.unpackedSize, files: info.files.map((f) => f.path) };
}

function packLocal(dest) {
  const problems = sync({ write: false });
  if (problems.length) throw new Error(`versions out of step (run node scripts/sync-versions.js):\n${problems.join('\n')}`);
  const platform = hostPlatform();
  const addon = path.join(ROOT, platform.addon);
  if (!fs.existsSync(addon)) throw new Error(`${platform.addon} is not built: run \`npm run build\` first`);
  fs.mkdirSync(dest, { recursive: true });

  const staging = fs.mkdtempSync(path.join(os.tmpdir(), 'hyperframes-pack-'));
  try {
    const platformDir = path.join(staging, 'platform');
    fs.mkdirSync(platformDir);
    for (const name of ['package.json', 'README.md']) fs.copyFileSync(path.join(platform.dir, name), path.join(platformDir, name));
    fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(platformDir, 'LICENSE'));
    fs.copyFileSync(addon, path.join(platformDir, platform.addon));
    ort.place([{ ort: platform.ort, out: platformDir }]);

    // The root as published: packed from the repository, then with the release manifest.
    const rootDir = path.join(staging, 'root');
    fs.mkdirSync(rootDir);
    const plain = npmPack(ROOT, rootDir);
    execFileSync('tar', ['-xzf', plain.file, '-C', rootDir]);
    fs.rmSync(plain.file);
    writeJson(path.join(rootDir, 'package', 'package.json'), releaseManifest());
    return { root: npmPack(path.join(rootDir, 'package'), dest), platform: npmPack(platformDir, dest) };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const dest = process.argv[2];
  if (!dest) {
    process.stderr.write('usage: npm run pack:local -- DIR\n');
    process.exitCode = 2;
  } else {
    const packed = packLocal(path.resolve(dest));
    process.stdout.write(`${JSON.stringify(packed, (k, v) => (k === 'files' ? undefined : v), 2)}\n`);
  }
}

module.exports = { packLocal };
