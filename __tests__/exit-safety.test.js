'use strict';
// A JS program may end while the addon works: `process.exit()` mid-load or mid-inference must end
// the process with the code asked for, no signal and no ONNX Runtime text on stderr (its teardown
// used to crash under a working session: signal 11 in about 3 of 16 runs). A throwing
// `onProgress` rejects `buildMedia` with that very error and stops the build.
// The exit runs use the real Kokoro model (HYPERFRAMES_TEST_MODELS_DIR; skipped visibly otherwise).

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, ROOT } = require('./support/cli.js');
const { SKIP_REAL, realModelsDir, missingRealFiles } = require('./support/voice.js');
const { runNodeScript } = require('./support/node-child.js');

const api = require('../lib/index.js');

const REAL = realModelsDir();
const RUNS = 16;
const EXIT_CODE = 7;
const TEXT = 'Local engines run on your own computer. Every word has a time. Nothing leaves the machine.';

let home;
before(() => {
  home = makeHome();
});
after(() => home.cleanup());

const EARLIER = 'an earlier take';

/**
 * A child that starts `work` and calls process.exit(EXIT_CODE) after `delayMs`. tts() writes to
 * `output`, a file holding EARLIER until a finished WAV replaces it.
 */
function exitMidWork(work, delayMs) {
  const output = work === 'tts' ? path.join(fs.mkdtempSync(path.join(home.dir, 'exit-')), 'speech.wav') : null;
  if (output) fs.writeFileSync(output, EARLIER);
  const script = `
    const hf = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
    const text = ${JSON.stringify(TEXT)};
    const opts = { voice: 'jm_kumo', lang: 'en-us', localOnly: true, download: false };
    if (${JSON.stringify(work)} === 'tts') {
      hf.tts(text, { ...opts, output: ${JSON.stringify(output)} }).catch(() => {});
    } else {
      const request = { voice: 'jm_kumo', lang: 'en-us', lines: [1, 2, 3].map((i) => ({ id: 'l' + i, text })) };
      const out = require('node:fs').mkdtempSync(${JSON.stringify(path.join(home.dir, 'build-'))});
      hf.buildMedia(request, { out, localOnly: true, allowDownload: false, onProgress: () => {} }).catch(() => {});
    }
    setTimeout(() => process.exit(${EXIT_CODE}), ${delayMs});
  `;
  const env = {
    PATH: process.env.PATH,
    LANG: 'C.UTF-8',
    HOME: home.dir,
    HEYGEN_CONFIG_DIR: home.configDir,
    HYPERFRAMES_MODELS_DIR: REAL,
    NO_COLOR: '1',
  };
  return runNodeScript(script, env, { timeoutMs: 120_000 }).then((r) => ({ ...r, delayMs, output }));
}

/** RUNS exits spread over model loading and inference, two children at a time. */
async function exitRuns(work) {
  assert.deepEqual(missingRealFiles(REAL), [], 'the real model is there, so the children really work');
  const delays = Array.from({ length: RUNS }, (_, i) => 200 + i * 250);
  const results = [];
  for (let i = 0; i < delays.length; i += 2) {
    results.push(...(await Promise.all(delays.slice(i, i + 2).map((d) => exitMidWork(work, d)))));
  }
  return results;
}

function assertCleanExits(results) {
  const bad = results.filter((r) => r.signal !== null || r.code !== EXIT_CODE || /onnxruntime|\[E:|\[W:/i.test(r.stderr));
  assert.deepEqual(
    bad.map((r) => ({ delayMs: r.delayMs, code: r.code, signal: r.signal, stderr: r.stderr.slice(0, 400) })),
    [],
    `${bad.length} of ${results.length} exits were not clean`,
  );
  for (const r of results) assert.equal(r.stderr, '', `nothing on stderr (exit after ${r.delayMs} ms)`);
}

describe('process.exit while the local engine works', () => {
  test(`tts(): ${RUNS} exits mid-work end with the code asked for, no signal, no ONNX Runtime text`, async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const results = await exitRuns('tts');
    assertCleanExits(results);
    // The WAV is written as it is made, without a name until it is whole: whenever the exit came,
    // the folder holds the earlier file or the finished WAV, and nothing else.
    const finished = results.filter((r) => {
      assert.deepEqual(fs.readdirSync(path.dirname(r.output)), ['speech.wav'], `exit after ${r.delayMs} ms`);
      const bytes = fs.readFileSync(r.output);
      if (bytes.toString() === EARLIER) return false;
      assert.equal(bytes.toString('latin1', 0, 4), 'RIFF', `exit after ${r.delayMs} ms: a WAV or the earlier file`);
      assert.equal(bytes.readUInt32LE(4), bytes.length - 8, `exit after ${r.delayMs} ms: a whole WAV`);
      return true;
    });
    t.diagnostic(`${finished.length} of ${results.length} runs finished their WAV before the exit`);
  });

  test(`buildMedia(): ${RUNS} exits mid-build end with the code asked for, no signal, no ONNX Runtime text`, async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    assertCleanExits(await exitRuns('buildMedia'));
  });
});

/**
 * A worker runs tts() and buildMedia() and is terminated after `delayMs`; the main thread ends
 * normally `mainMs` later, while the work the worker started goes on on native threads.
 */
function terminateWorkerMidWork(delayMs, mainMs = 1500) {
  const worker = `
    const hf = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
    const text = ${JSON.stringify(TEXT)};
    hf.tts(text, { voice: 'jm_kumo', lang: 'en-us', localOnly: true, download: false }).catch(() => {});
    const out = require('node:fs').mkdtempSync(${JSON.stringify(path.join(home.dir, 'worker-'))});
    const request = { voice: 'jm_kumo', lang: 'en-us', lines: [{ id: 'a', text }] };
    hf.buildMedia(request, { out, localOnly: true, allowDownload: false, onProgress: () => {} }).catch(() => {});
  `;
  const script = `
    const { Worker } = require('node:worker_threads');
    const w = new Worker(${JSON.stringify(worker)}, { eval: true });
    setTimeout(() => w.terminate().then(() => setTimeout(() => process.stdout.write('main done'), ${mainMs})), ${delayMs});
  `;
  const env = { PATH: process.env.PATH, HOME: home.dir, HEYGEN_CONFIG_DIR: home.configDir, HYPERFRAMES_MODELS_DIR: REAL, NO_COLOR: '1' };
  return runNodeScript(script, env, { timeoutMs: 120_000 });
}

describe('a worker torn down while the local engine works', () => {
  // The last two runs tear the worker down early, before ONNX Runtime is loaded, and end the main
  // thread while the orphaned work loads it and builds its session: ONNX Runtime's destructors,
  // registered after the exit guard, used to run first and crash that build (signal 11).
  test('the main thread carries on and exits cleanly (8 runs)', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    assert.deepEqual(missingRealFiles(REAL), []);
    const runs = [300, 900, 1500, 2200, 3000, 4000].map((delayMs) => [delayMs, 1500]).concat([[300, 2500], [300, 3500]]);
    for (const [delayMs, mainMs] of runs) {
      const r = await terminateWorkerMidWork(delayMs, mainMs);
      assert.deepEqual(
        { code: r.code, signal: r.signal, stdout: r.stdout, stderr: r.stderr },
        { code: 0, signal: null, stdout: 'main done', stderr: '' },
        `worker terminated after ${delayMs} ms, main thread ended ${mainMs} ms later`,
      );
    }
  });
});

describe('a throwing onProgress', () => {
  let saved;
  before(() => {
    saved = process.env.HYPERFRAMES_MODELS_DIR;
  });
  after(() => {
    if (saved === undefined) delete process.env.HYPERFRAMES_MODELS_DIR;
    else process.env.HYPERFRAMES_MODELS_DIR = saved;
  });

  async function buildThrowing(modelsDir, lines) {
    process.env.HYPERFRAMES_MODELS_DIR = modelsDir;
    const out = fs.mkdtempSync(path.join(home.dir, 'throw-'));
    const thrown = new Error('the progress callback failed');
    const events = [];
    const request = { voice: 'jm_kumo', lang: 'en-us', lines: lines.map((text, i) => ({ id: `l${i}`, text })) };
    const onProgress = (e) => {
      events.push(e.kind);
      throw thrown;
    };
    const err = await api.buildMedia(request, { out, localOnly: true, allowDownload: false, onProgress }).then(
      () => assert.fail('buildMedia resolved although onProgress threw'),
      (e) => e,
    );
    return { err, thrown, events, out };
  }

  test('rejects the promise with the error it threw (no model needed)', async () => {
    const { err, thrown, events } = await buildThrowing(path.join(home.dir, 'no-models'), ['One line.', 'Two lines.']);
    assert.equal(err, thrown, `the very error onProgress threw, got ${err && err.stack}`);
    assert.equal(events[0], 'started');
  });

  test('stops the build: no more events, no manifest, no line after the one in progress', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const { err, thrown, events, out } = await buildThrowing(REAL, [TEXT, TEXT, TEXT, TEXT]);
    assert.equal(err, thrown);
    // Whatever was still running has had time to finish (a line takes well under this here).
    await new Promise((r) => setTimeout(r, 8000));
    assert.deepEqual(events, ['started'], 'onProgress is not called after it threw');
    assert.ok(!fs.existsSync(path.join(out, 'audio_meta.json')), 'no manifest was written');
    const voiced = fs.existsSync(path.join(out, 'voice')) ? fs.readdirSync(path.join(out, 'voice')) : [];
    assert.ok(voiced.length <= 1, `at most the line in progress was voiced: ${voiced}`);
  });
});
