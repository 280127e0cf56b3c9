'use strict';
// `hyperframes models` with the real Kokoro files: verify an installed model, and a full
// install → list → verify → reinstall (skipped) → remove cycle into a fresh models dir, copying
// from the real files with --from. Runs when HYPERFRAMES_TEST_MODELS_DIR points at the real
// models (skipped otherwise). No synthesis here.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('../support/cli.js');
const { parseJson } = require('../support/setup.js');
const { SKIP_REAL, MODEL_FILE, VOICES_JA, realModelsDir, missingRealFiles, listFiles, jsonLines } = require('../support/voice.js');

const REAL = realModelsDir();

let home;
before(() => {
  home = makeHome();
});
after(() => home.cleanup());

describe('models with the real Kokoro files', () => {
  test('HYPERFRAMES_TEST_MODELS_DIR holds the real Kokoro int8 model and voices_ja.npz', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    assert.deepEqual(missingRealFiles(REAL), [], `missing under ${REAL}`);
  });

  test('models verify kokoro --json → ok, the model and voices_ja.npz verified', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await runCli(['models', 'verify', 'kokoro', '--json'], { home, env: { HYPERFRAMES_MODELS_DIR: REAL } });
    assert.equal(r.code, 0, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, true);
    assert.equal(body.models.length, 1);
    const k = body.models[0];
    assert.equal(k.name, 'kokoro');
    assert.equal(k.installed, true);
    const states = Object.fromEntries(k.files.map((f) => [f.path, f.state]));
    assert.equal(states[MODEL_FILE], 'verified');
    assert.equal(states[VOICES_JA], 'verified');
    assert.ok(['verified', 'missing'].includes(states['kokoro/voices-v1.0.bin']));

    const all = await runCli(['models', 'verify', '--json'], { home, env: { HYPERFRAMES_MODELS_DIR: REAL } });
    assert.equal(all.code, 0, all.output);
    const allBody = parseJson(all.stdout);
    assert.equal(allBody.ok, true);
    assert.ok(allBody.models.some((m) => m.name === 'kokoro'), 'verify with no name covers the installed kokoro');

    const text = await runCli(['models', 'verify', 'kokoro'], { home, env: { HYPERFRAMES_MODELS_DIR: REAL } });
    assert.equal(text.code, 0, text.output);
    assert.match(text.stdout, /kokoro\/kokoro-v1\.0\.int8\.onnx\s+✓ sha256 ok/);
  });

  test('install --from the real files → installed; again → skipped; remove → gone', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const dir = path.join(home.dir, 'fresh-models');
    const env = { HYPERFRAMES_MODELS_DIR: dir };
    const run = (args) => runCli(args, { home, env, timeoutMs: 300_000 });

    const first = await run(['models', 'install', 'kokoro', '--from', path.join(REAL, 'kokoro'), '--json']);
    assert.equal(first.code, 0, first.output);
    const report = parseJson(first.stdout);
    assert.equal(report.ok, true);
    assert.equal(report.model, 'kokoro');
    assert.equal(report.dir, dir);
    const byPath = Object.fromEntries(report.files.map((f) => [f.path, f]));
    assert.equal(byPath[MODEL_FILE].outcome, 'copied');
    assert.equal(byPath[MODEL_FILE].sha256, '6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb');
    assert.equal(byPath[VOICES_JA].outcome, 'copied');
    const events = jsonLines(first.stderr);
    assert.ok(events.some((e) => e.event === 'done' && e.file === MODEL_FILE), first.stderr.slice(0, 2000));
    assert.ok(events.some((e) => e.event === 'done' && e.file === VOICES_JA));
    const files = listFiles(dir);
    assert.ok(files.includes(MODEL_FILE) && files.includes(VOICES_JA), files.join(', '));
    assert.ok(!files.some((f) => f.endsWith('.partial')), files.join(', '));
    assert.ok(fs.existsSync(path.join(REAL, 'kokoro', 'kokoro-v1.0.int8.onnx')), 'copied, not moved');

    const list = parseJson((await run(['models', 'list', '--json'])).stdout);
    assert.equal(list.models.find((m) => m.name === 'kokoro').installed, true);
    assert.equal(list.models.find((m) => m.name === 'kokoro-fp32').installed, false);

    const again = await run(['models', 'install', 'kokoro', '--from', path.join(REAL, 'kokoro'), '--json']);
    assert.equal(again.code, 0, again.output);
    const againFiles = Object.fromEntries(parseJson(again.stdout).files.map((f) => [f.path, f]));
    assert.equal(againFiles[MODEL_FILE].outcome, 'skipped');
    assert.equal(againFiles[MODEL_FILE].reason, 'already_installed');

    const removed = await run(['models', 'remove', 'kokoro', '--json']);
    assert.equal(removed.code, 0, removed.output);
    const body = parseJson(removed.stdout);
    assert.ok(body.removed.includes(path.join(dir, 'kokoro', 'kokoro-v1.0.int8.onnx')), removed.stdout);
    assert.deepEqual(listFiles(dir), [], 'nothing left (hash sidecars included)');
    const after = parseJson((await run(['models', 'list', '--json'])).stdout);
    assert.equal(after.models.find((m) => m.name === 'kokoro').installed, false);
    const twice = await run(['models', 'remove', 'kokoro', '--json']);
    assert.deepEqual(parseJson(twice.stdout), { ok: true, removed: [] });
  });
});
