'use strict';
// The JS API of the local voice and the model manager without a real model: `tts()`,
// `ttsStream()`, `listVoices()`, `modelsList()`, `modelsInstall()`, `modelsRemove()`,
// `modelsVerify()`. Errors are Errors with `.code` (and `.hint`). The API reads the environment at
// call time, so each test points HYPERFRAMES_MODELS_DIR at a fresh temp dir (and restores the env).

const { describe, test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('./support/cli.js');
const { MODEL_FILE, MODEL_SIZE, INSTALL_HINT, listFiles, startMirror, sendBytes } = require('./support/voice.js');

const api = require('../lib/index.js');

const CLEARED = /^(HYPERFRAMES_|HTTPS?_PROXY$|https?_proxy$|ALL_PROXY$|all_proxy$)/;

let home;
let saved;
beforeEach(() => {
  home = makeHome();
  saved = { ...process.env };
  for (const k of Object.keys(process.env)) if (CLEARED.test(k)) delete process.env[k];
  process.env.HYPERFRAMES_MODELS_DIR = home.modelsDir;
});
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
  home.cleanup();
});

/** Awaits a rejection and returns the error (asserting it is a coded Error). */
async function rejection(promise, code) {
  let err;
  try {
    await promise;
  } catch (e) {
    err = e;
  }
  assert.ok(err, 'expected a rejection');
  assert.ok(err instanceof Error, `an Error: ${err}`);
  assert.equal(err.code, code, `${err.code}: ${err.message}`);
  assert.equal(err.name, 'HyperframesError');
  assert.ok(err.message.length > 5, err.message);
  assert.doesNotMatch(err.message, /^[A-Z_]+: /, 'the code is not left in the message');
  assert.doesNotMatch(err.message, /\nHint:/, 'the hint is not left in the message');
  return err;
}

/** Runs a `ttsStream()` to the end; returns the error thrown by the first iteration (or fails). */
async function streamError(text, options, code) {
  const chunks = [];
  const err = await rejection(
    (async () => {
      for await (const c of api.ttsStream(text, options)) chunks.push(c);
    })(),
    code,
  );
  assert.equal(chunks.length, 0, 'no chunk before the error');
  return err;
}

/** Files of a verify result as `{path, state}`, whether given as objects or `[path, {state}]` pairs. */
function fileStates(files) {
  return files.map((f) => (Array.isArray(f) ? { path: f[0], state: f[1].state } : { path: f.path, state: f.state }));
}

describe('tts(): input errors reject with a code, before any model work', () => {
  const cases = [
    ['empty text', '', {}, 'EMPTY_TEXT'],
    ['blank text', ' \n\t ', {}, 'EMPTY_TEXT'],
    ['speed 0', 'Hello.', { speed: 0 }, 'BAD_SPEED'],
    ['speed -1', 'Hello.', { speed: -1 }, 'BAD_SPEED'],
    ['speed 3.5', 'Hello.', { speed: 3.5 }, 'BAD_SPEED'],
    ['speed NaN', 'Hello.', { speed: NaN }, 'BAD_SPEED'],
    ['speed Infinity', 'Hello.', { speed: Infinity }, 'BAD_SPEED'],
    ['lang xx', 'Hello.', { lang: 'xx' }, 'BAD_LANG'],
    ['malformed blend', 'Hello.', { voice: 'af_sky.4+' }, 'BAD_BLEND'],
    ['captions .txt', 'Hello.', { captions: path.join('out', 'c.txt') }, 'BAD_OUTPUT'],
    ['format wav', 'Hello.', { format: 'wav' }, 'BAD_OUTPUT'],
    ['unknown model', 'Hello.', { model: 'nope' }, 'UNKNOWN_MODEL'],
  ];
  for (const [name, text, options, code] of cases) {
    test(`${name} → ${code}`, async () => {
      const out = path.join(home.dir, 'out.wav');
      const p = api.tts(text, { ...options, output: out });
      assert.ok(p && typeof p.then === 'function', 'tts() returns a promise (errors are rejections)');
      await rejection(p, code);
      assert.deepEqual(listFiles(home.dir), [], 'nothing written (no WAV, no models dir)');
    });
  }

  test("tts('') → EMPTY_TEXT; bad speed → BAD_SPEED with a hint", async () => {
    await rejection(api.tts(''), 'EMPTY_TEXT');
    const err = await rejection(api.tts('Hello.', { speed: 0 }), 'BAD_SPEED');
    assert.match(err.message, /speed/i);
    assert.equal(typeof err.hint, 'string');
  });
});

describe('tts(): model missing', () => {
  test('download: false → MODEL_MISSING with the install command; nothing fetched', async () => {
    const mirror = await startMirror();
    try {
      process.env.HYPERFRAMES_MODEL_MIRROR = `${mirror.url}/m`;
      const err = await rejection(api.tts('Hello there.', { download: false }), 'MODEL_MISSING');
      assert.ok(err.hint.includes(INSTALL_HINT), err.hint);
      assert.ok(err.message.includes(home.modelsDir), err.message);
      assert.equal(mirror.connections, 0);
    } finally {
      await mirror.stop();
    }
  });

  test('HYPERFRAMES_OFFLINE=1 → MODEL_MISSING; neither mirror nor proxy is contacted', async () => {
    const mirror = await startMirror();
    try {
      Object.assign(process.env, {
        HYPERFRAMES_OFFLINE: '1',
        HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m`,
        HTTPS_PROXY: mirror.url,
        HTTP_PROXY: mirror.url,
      });
      const err = await rejection(api.tts('Hello there.'), 'MODEL_MISSING');
      assert.ok(err.hint.includes(INSTALL_HINT), err.hint);
      await streamError('Hello there.', {}, 'MODEL_MISSING');
      assert.equal(mirror.connections, 0);
      assert.deepEqual(mirror.requests, []);
      assert.deepEqual(listFiles(home.dir), []);
    } finally {
      await mirror.stop();
    }
  });

  test('auto-install from a mirror serving wrong bytes → CHECKSUM_MISMATCH, nothing installed', async () => {
    const mirror = await startMirror((req, res) => {
      if (req.url === `/m/${MODEL_FILE}`) sendBytes(res, MODEL_SIZE, 7);
      else {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
      }
    });
    try {
      process.env.HYPERFRAMES_MODEL_MIRROR = `${mirror.url}/m`;
      const out = path.join(home.dir, 'out.wav');
      const err = await rejection(api.tts('Hello there.', { output: out }), 'CHECKSUM_MISMATCH');
      assert.ok(err.message.includes(MODEL_FILE), err.message);
      assert.equal(typeof err.hint, 'string');
      assert.deepEqual(listFiles(home.modelsDir), [], 'no model file and no .partial');
      assert.ok(!fs.existsSync(out));
    } finally {
      await mirror.stop();
    }
  });
});

describe('ttsStream(): errors surface on the first iteration', () => {
  test("ttsStream('') → EMPTY_TEXT", async () => {
    const it = api.ttsStream('', { voice: 'jm_kumo' });
    assert.equal(typeof it[Symbol.asyncIterator], 'function', 'an async iterator');
    const err = await rejection(it.next(), 'EMPTY_TEXT');
    assert.ok(err.message);
    // Finished after the error.
    assert.deepEqual(await it.next(), { value: undefined, done: true });
  });

  test('bad speed / lang / blend → their codes', async () => {
    await streamError('Hello.', { speed: 0 }, 'BAD_SPEED');
    await streamError('Hello.', { lang: 'xx' }, 'BAD_LANG');
    await streamError('Hello.', { voice: 'af_sky.4+' }, 'BAD_BLEND');
  });

  test('model missing (download: false) → MODEL_MISSING from the worker', async () => {
    const err = await streamError('Hello there.', { download: false }, 'MODEL_MISSING');
    assert.ok(err.hint.includes(INSTALL_HINT), err.hint);
  });
});

describe('listVoices()', () => {
  test('54 rows {id, name, language, gender, installed:false}, the same as `tts --list --json`', async () => {
    const rows = api.listVoices();
    assert.ok(Array.isArray(rows));
    assert.equal(rows.length, 54);
    for (const v of rows) {
      assert.deepEqual(Object.keys(v).sort(), ['gender', 'id', 'installed', 'language', 'name']);
      assert.equal(v.installed, false);
      assert.ok(['female', 'male'].includes(v.gender));
    }
    assert.ok(rows.some((v) => v.id === 'af_heart' && v.language === 'en-us' && v.gender === 'female'));
    assert.ok(rows.some((v) => v.id === 'jm_kumo' && v.language === 'ja' && v.gender === 'male'));
    const cli = await runCli(['tts', '--list', '--json'], { home });
    assert.equal(cli.code, 0, cli.output);
    assert.deepEqual(rows, JSON.parse(cli.stdout).voices);
  });
});

describe('model manager API', () => {
  test('modelsList(): {dir, models:[{name, capability, label, license, installed, files}]}', () => {
    const list = api.modelsList();
    assert.equal(list.dir, home.modelsDir);
    assert.deepEqual(
      list.models.map((m) => m.name),
      ['kokoro', 'kokoro-fp32', 'whisper-tiny.en', 'whisper-base', 'musicgen-small'],
    );
    for (const m of list.models) {
      assert.deepEqual(Object.keys(m).sort(), ['capability', 'files', 'installed', 'label', 'license', 'name']);
      assert.equal(m.installed, false);
      assert.equal(typeof m.label, 'string');
    }
    assert.equal(list.models[0].capability, 'voice');
  });

  test("modelsRemove('nope') throws synchronously with UNKNOWN_MODEL", () => {
    assert.throws(
      () => api.modelsRemove('nope'),
      (e) => e instanceof Error && e.code === 'UNKNOWN_MODEL' && /nope/.test(e.message),
    );
  });

  test("modelsRemove('kokoro') on an empty dir → [] (idempotent); removes fake files", () => {
    assert.deepEqual(api.modelsRemove('kokoro'), []);
    assert.deepEqual(api.modelsRemove('kokoro'), []);
    const p = path.join(home.modelsDir, 'kokoro', 'kokoro-v1.0.int8.onnx');
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, 'fake');
    fs.writeFileSync(`${p}.partial`, 'fake');
    assert.deepEqual(api.modelsRemove('kokoro').sort(), [p, `${p}.partial`].sort());
    assert.deepEqual(api.modelsRemove('kokoro'), []);
    assert.deepEqual(listFiles(home.modelsDir), []);
  });

  test("modelsInstall('nope') rejects UNKNOWN_MODEL", async () => {
    const p = api.modelsInstall('nope');
    assert.ok(p && typeof p.then === 'function');
    await rejection(p, 'UNKNOWN_MODEL');
  });

  test("modelsInstall('kokoro', {from: <empty dir>}) rejects MODEL_MISSING, nothing installed", async () => {
    const src = path.join(home.dir, 'src');
    fs.mkdirSync(src);
    const err = await rejection(api.modelsInstall('kokoro', { from: src }), 'MODEL_MISSING');
    assert.ok(err.message.includes(MODEL_FILE), err.message);
    assert.deepEqual(listFiles(home.modelsDir), []);
    assert.equal(api.modelsList().models[0].installed, false);
  });

  test("modelsInstall('kokoro', {from: <fake file>}) rejects CHECKSUM_MISMATCH, nothing installed", async () => {
    const src = path.join(home.dir, 'kokoro-v1.0.int8.onnx');
    fs.writeFileSync(src, 'fake');
    await rejection(api.modelsInstall('kokoro', { from: src }), 'CHECKSUM_MISMATCH');
    assert.deepEqual(listFiles(home.modelsDir), []);
  });

  test("modelsVerify('kokoro') on an empty dir: not installed, every file missing", async () => {
    const st = await api.modelsVerify('kokoro');
    assert.equal(st.name, 'kokoro');
    assert.equal(st.installed, false);
    assert.ok(Array.isArray(st.files));
    assert.deepEqual(fileStates(st.files), [
      { path: MODEL_FILE, state: 'missing' },
      { path: 'kokoro/voices-v1.0.bin', state: 'missing' },
      { path: 'kokoro/voices_ja.npz', state: 'missing' },
    ]);
  });

  test(
    'modelsVerify() reports files as {path, state} like `models verify --json`',
    async () => {
      const st = await api.modelsVerify('kokoro');
      const cli = await runCli(['models', 'verify', 'kokoro', '--json'], { home });
      assert.deepEqual(st.files, JSON.parse(cli.stdout).models[0].files);
    },
  );

  test(
    'modelsList() is the same as `models list --json` (as documented)',
    async () => {
      const cli = await runCli(['models', 'list', '--json'], { home });
      assert.deepEqual(api.modelsList(), JSON.parse(cli.stdout));
    },
  );

  test("modelsVerify('nope') rejects UNKNOWN_MODEL", async () => {
    await rejection(api.modelsVerify('nope'), 'UNKNOWN_MODEL');
  });
});
