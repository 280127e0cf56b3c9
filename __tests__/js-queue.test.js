'use strict';
// Concurrent JS calls to a local engine take turns: 8 concurrent tts() peak within 1.5× the memory
// of one call (they peaked at 2.4× before the queue: 1108 MB against 468 MB; 20 calls at 2551 MB).
// Peak memory is the child process's VmHWM (Linux /proc). Uses the real Kokoro model
// (HYPERFRAMES_TEST_MODELS_DIR; skipped visibly otherwise).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, ROOT } = require('./support/cli.js');
const { SKIP_REAL, realModelsDir } = require('./support/voice.js');
const { runNodeScript } = require('./support/node-child.js');

const REAL = realModelsDir();
const TEXT = 'Local engines run on your own computer. Every word has a time. Nothing leaves the machine.';
const HAS_PROC = fs.existsSync('/proc/self/status');

let home;
before(() => {
  home = makeHome();
});
after(() => home.cleanup());

/** Peak resident memory (MB) of a child process that runs `calls` tts() at once, and their results. */
function peakOf(calls) {
  const script = `
    const hf = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
    const opts = { voice: 'jm_kumo', lang: 'en-us', localOnly: true, download: false };
    Promise.all(Array.from({ length: ${calls} }, () => hf.tts(${JSON.stringify(TEXT)}, opts))).then((results) => {
      const hwm = /VmHWM:\\s+(\\d+) kB/.exec(require('node:fs').readFileSync('/proc/self/status', 'utf8'))[1];
      const sizes = results.map((r) => r.audio.length);
      process.stdout.write(JSON.stringify({ peakMb: Number(hwm) / 1024, sizes }));
    });
  `;
  const env = { PATH: process.env.PATH, HOME: home.dir, HEYGEN_CONFIG_DIR: home.configDir, HYPERFRAMES_MODELS_DIR: REAL };
  return runNodeScript(script, env).then((r) => {
    if (r.code !== 0) throw new Error(`child exited ${r.code} (${r.signal}): ${r.stderr}`);
    return JSON.parse(r.stdout);
  });
}

describe('concurrent tts() calls take turns with the local engine', () => {
  test('8 at once peak within 1.5× the memory of one call, and all succeed alike', { timeout: 1_200_000 }, async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    if (!HAS_PROC) return t.skip('needs /proc/<pid>/status (Linux) to read peak memory');
    const one = await peakOf(1);
    const eight = await peakOf(8);
    const ratio = eight.peakMb / one.peakMb;
    t.diagnostic(`peak RSS: 1 call ${one.peakMb.toFixed(0)} MB, 8 calls ${eight.peakMb.toFixed(0)} MB (${ratio.toFixed(2)}×)`);
    assert.ok(ratio <= 1.5, `8 concurrent calls peaked at ${ratio.toFixed(2)}× one call`);
    assert.equal(eight.sizes.length, 8);
    for (const size of eight.sizes) assert.equal(size, one.sizes[0], 'every call made the same audio');
  });
});
