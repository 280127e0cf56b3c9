#!/usr/bin/env node
'use strict';
// npm run pack:local -- DIR: writes the root tarball and this machine's platform tarball into DIR,
// as they would be published: the platform package gets the addon built at the repository root
// (`npm run build`) and the pinned ONNX Runtime library, in a staging copy of npm/<platform>/ so
// the source tree is left as it was. Prints the two tarball paths as JSON.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { ROOT, hostPlatform } = require('./platforms.js');
const { sync } = require('./sync-versions.js');
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
    for (const name of fs.readdirSync(platform.dir)) fs.copyFileSync(path.join(platform.dir, name), path.join(staging, name));
    fs.copyFileSync(path.join(ROOT, 'LICENSE'), path.join(staging, 'LICENSE'));
    fs.copyFileSync(addon, path.join(staging, platform.addon));
    ort.place([{ ort: platform.ort, out: staging }]);
    return { root: npmPack(ROOT, dest), platform: npmPack(staging, dest) };
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
