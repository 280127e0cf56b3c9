#!/usr/bin/env node
'use strict';
// Times `hyperframes auth status --json` (signed out, no network) against a bare `node -e 0` in the
// same run, alternating the two so machine noise hits both alike, and prints the ratio of medians.
// Usage: node bench/auth-status.js [runs]   (build the release addon first: npm run build)
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const runs = Number(process.argv[2] || 30);
const home = fs.mkdtempSync(path.join(os.tmpdir(), 'hf-bench-'));
const env = {
  PATH: process.env.PATH,
  HOME: home,
  HEYGEN_CONFIG_DIR: path.join(home, '.heygen'),
  HYPERFRAMES_MODELS_DIR: path.join(home, 'models'),
};
const cli = path.join(__dirname, '..', 'bin', 'hyperframes.js');
const cases = {
  'node -e 0': [process.execPath, ['-e', '0']],
  'hyperframes auth status --json': [process.execPath, [cli, 'auth', 'status', '--json']],
};

function timeOnce([cmd, args]) {
  const start = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.error) throw r.error;
  return { ms, out: r.stdout };
}

// Warm the page cache, and check the command really answers.
const probe = timeOnce(cases['hyperframes auth status --json']);
JSON.parse(probe.out);

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < runs; i++) {
  for (const [name, c] of Object.entries(cases)) samples[name].push(timeOnce(c).ms);
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const base = median(samples['node -e 0']);
for (const [name, xs] of Object.entries(samples)) {
  const m = median(xs);
  console.log(`${name.padEnd(34)} median ${m.toFixed(1).padStart(7)} ms  min ${Math.min(...xs).toFixed(1).padStart(7)} ms`);
}
const ratio = median(samples['hyperframes auth status --json']) / base;
console.log(`ratio (auth status / bare node): ${ratio.toFixed(2)}x over ${runs} alternating runs (target <= 1.5x)`);
fs.rmSync(home, { recursive: true, force: true });
