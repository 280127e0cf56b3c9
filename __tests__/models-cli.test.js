'use strict';
// `hyperframes models list|install|remove|verify` without real model files: an empty models dir,
// fake files (which must never pass verification or be left at their final paths), unknown names,
// and removal being idempotent.

const { describe, test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const { MODEL_FILE, VOICES_JA, MODEL_SIZE, INSTALL_HINT, listFiles, startMirror, sendBytes, jsonLines } = require('./support/voice.js');

const NAMES = ['kokoro', 'kokoro-fp32', 'whisper-tiny.en', 'whisper-base', 'musicgen-small'];
const KOKORO_FILES = ['kokoro/kokoro-v1.0.int8.onnx', 'kokoro/voices-v1.0.bin', 'kokoro/voices_ja.npz'];

let home;
beforeEach(() => {
  home = makeHome();
});
afterEach(() => {
  home.cleanup();
});

const run = (args, opts = {}) => runCli(args, { home, ...opts });

function jsonFailure(r, code) {
  assert.equal(r.code, 1, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const body = parseJson(r.stdout);
  assert.deepEqual(Object.keys(body).sort(), ['code', 'error', 'hint', 'ok'], r.stdout);
  assert.equal(body.ok, false);
  assert.equal(body.code, code, r.stdout);
  assert.ok(typeof body.error === 'string' && body.error.length > 5, r.stdout);
  return body;
}

/** Writes a file under the models dir (`rel` is `/`-separated). */
function put(rel, content) {
  const p = path.join(home.modelsDir, ...rel.split('/'));
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
}

/** A sparse file of `size` zero bytes (right size, wrong sha256), cheap to make. */
function sparse(p, size) {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, '');
  fs.truncateSync(p, size);
  return p;
}

describe('models list', () => {
  test('text: the models dir and every model, none installed', async () => {
    const r = await run(['models', 'list']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0], /^Models in (~\/models|.*\/models)$/);
    for (const name of NAMES) {
      const row = lines.find((l) => l.trim().startsWith(`${name} `));
      assert.ok(row, `a row for ${name}:\n${r.stdout}`);
      assert.match(row, /not installed/);
    }
    assert.match(r.stdout, /kokoro\s+voice\s+Kokoro 82M \(int8\)/);
    assert.ok(!fs.existsSync(home.modelsDir), 'listing creates nothing');
  });

  test('--json: {dir, models:[{name, capability, label, license, installed, files:[{path, state}]}]}', async () => {
    const r = await run(['models', 'list', '--json']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stderr, '');
    const body = parseJson(r.stdout);
    assert.deepEqual(Object.keys(body).sort(), ['dir', 'models']);
    assert.equal(body.dir, home.modelsDir);
    assert.deepEqual(
      body.models.map((m) => m.name),
      NAMES,
    );
    for (const m of body.models) {
      assert.deepEqual(Object.keys(m).sort(), ['capability', 'files', 'installed', 'label', 'license', 'name']);
      assert.ok(['voice', 'captions', 'music'].includes(m.capability), m.capability);
      assert.equal(m.installed, false);
      assert.ok(m.files.length > 0);
      for (const f of m.files) {
        assert.deepEqual(Object.keys(f).sort(), ['path', 'state']);
        assert.ok(f.path.startsWith(`${m.name.startsWith('kokoro') ? 'kokoro' : m.name}/`), f.path);
        assert.equal(f.state, 'missing');
      }
    }
    const kokoro = body.models[0];
    assert.deepEqual(kokoro.files.map((f) => f.path), KOKORO_FILES);
    assert.equal(kokoro.capability, 'voice');
    assert.equal(kokoro.license, 'Apache-2.0');
  });

  test('a truncated model file does not count as installed', async () => {
    put(MODEL_FILE, 'short');
    put(VOICES_JA, 'short');
    const body = parseJson((await run(['models', 'list', '--json'])).stdout);
    assert.equal(body.models[0].installed, false);
  });
});

describe('models verify', () => {
  test('--json on an empty dir: ok with no models, exit 0', async () => {
    const r = await run(['models', 'verify', '--json']);
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(parseJson(r.stdout), { ok: true, models: [] });
  });

  test('text on an empty dir: "No models installed."', async () => {
    const r = await run(['models', 'verify']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout.trim(), 'No models installed.');
  });

  test('verify kokoro on an empty dir: ok:false, every file missing, exit 1', async () => {
    const r = await run(['models', 'verify', 'kokoro', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, false);
    assert.equal(body.models.length, 1);
    assert.equal(body.models[0].name, 'kokoro');
    assert.equal(body.models[0].installed, false);
    assert.deepEqual(
      body.models[0].files,
      KOKORO_FILES.map((p) => ({ path: p, state: 'missing' })),
    );
  });

  test('fake kokoro files are reported corrupt, exit 1', async () => {
    put(MODEL_FILE, 'not a model');
    sparse(path.join(home.modelsDir, 'kokoro', 'voices_ja.npz'), 2_612_478); // right size, wrong bytes
    const r = await run(['models', 'verify', 'kokoro', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, false);
    assert.deepEqual(body.models[0].files, [
      { path: MODEL_FILE, state: 'corrupt' },
      { path: 'kokoro/voices-v1.0.bin', state: 'missing' },
      { path: VOICES_JA, state: 'corrupt' },
    ]);
    const text = await run(['models', 'verify', 'kokoro']);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /corrupt/);
    assert.match(text.stdout, /fc663c0f5c64d1f10c7c6daa2323ea20efe1b255a891b0d912d07bf58c529d15/, 'names the expected sha256');
  });

  test('verify (all installed) rehashes: right-size fake files are reported corrupt, by list too, exit 1', async () => {
    sparse(path.join(home.modelsDir, 'kokoro', 'kokoro-v1.0.int8.onnx'), MODEL_SIZE);
    sparse(path.join(home.modelsDir, 'kokoro', 'voices_ja.npz'), 2_612_478);
    const list = parseJson((await run(['models', 'list', '--json'])).stdout);
    assert.equal(list.models[0].installed, false, 'list agrees with verify');
    assert.equal(list.models[0].files.find((f) => f.path === MODEL_FILE).state, 'corrupt');
    const r = await run(['models', 'verify', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, false);
    const kokoro = body.models.find((m) => m.name === 'kokoro');
    assert.ok(kokoro, r.stdout);
    assert.equal(kokoro.installed, false);
    assert.equal(kokoro.files.find((f) => f.path === MODEL_FILE).state, 'corrupt');
    assert.equal(kokoro.files.find((f) => f.path === VOICES_JA).state, 'corrupt');
  });

  test('verify nope → UNKNOWN_MODEL', async () => {
    jsonFailure(await run(['models', 'verify', 'nope', '--json']), 'UNKNOWN_MODEL');
  });
});

describe('models remove', () => {
  test('remove kokoro on an empty dir is ok, twice (idempotent)', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await run(['models', 'remove', 'kokoro', '--json']);
      assert.equal(r.code, 0, r.output);
      assert.deepEqual(parseJson(r.stdout), { ok: true, removed: [] });
    }
    const text = await run(['models', 'remove', 'kokoro']);
    assert.equal(text.code, 0, text.output);
    assert.match(text.stdout, /Removed Kokoro 82M \(int8\) \(0 files\)/);
  });

  test('removes the files and stale .partial, keeps foreign files; then nothing is left to remove', async () => {
    put(MODEL_FILE, 'x');
    put(`${VOICES_JA}`, 'y');
    put('kokoro/voices-v1.0.bin.partial', 'z');
    put('kokoro/notes.txt', 'mine');
    put('other/keep.bin', 'other');
    const r = await run(['models', 'remove', 'kokoro', '--json']);
    assert.equal(r.code, 0, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, true);
    assert.deepEqual(
      [...body.removed].sort(),
      [MODEL_FILE, 'kokoro/voices-v1.0.bin.partial', VOICES_JA].map((p) => path.join(home.modelsDir, ...p.split('/'))).sort(),
    );
    assert.deepEqual(listFiles(home.modelsDir), ['kokoro/notes.txt', 'other/keep.bin']);

    const again = await run(['models', 'remove', 'kokoro', '--json']);
    assert.equal(again.code, 0);
    assert.deepEqual(parseJson(again.stdout), { ok: true, removed: [] });
  });

  test('remove drops the emptied kokoro folder', async () => {
    put(MODEL_FILE, 'x');
    await run(['models', 'remove', 'kokoro', '--json']);
    assert.ok(!fs.existsSync(path.join(home.modelsDir, 'kokoro')));
  });

  test('remove nope → UNKNOWN_MODEL', async () => {
    const body = jsonFailure(await run(['models', 'remove', 'nope', '--json']), 'UNKNOWN_MODEL');
    assert.match(body.error, /nope/);
  });
});

describe('models install (nothing real to install)', () => {
  test('install nope → UNKNOWN_MODEL listing the models, with a hint; text mode on stderr', async () => {
    const body = jsonFailure(await run(['models', 'install', 'nope', '--json']), 'UNKNOWN_MODEL');
    assert.match(body.error, /nope/);
    for (const n of NAMES) assert.ok(body.error.includes(n), body.error);
    assert.match(body.hint, /hyperframes models list/);
    const text = await run(['models', 'install', 'nope']);
    assert.equal(text.code, 1);
    assert.equal(text.stdout, '');
    assert.match(text.stderr, /Unknown model 'nope'/);
    assert.ok(!fs.existsSync(home.modelsDir));
  });

  test('--from an empty folder → MODEL_MISSING, nothing installed', async () => {
    const src = path.join(home.dir, 'empty-src');
    fs.mkdirSync(src);
    const r = await run(['models', 'install', 'kokoro', '--from', src, '--json']);
    const body = jsonFailure(r, 'MODEL_MISSING');
    assert.ok(body.error.includes(MODEL_FILE), body.error);
    assert.ok(body.hint.includes(`${INSTALL_HINT} --from`), body.hint);
    assert.deepEqual(listFiles(home.modelsDir), []);
    // Progress as JSON lines on stderr: the voice packs were looked for and skipped.
    const events = jsonLines(r.stderr);
    assert.ok(events.every((e) => e.event === 'skipped' && e.reason === 'not_at_source'), r.stderr);
    const list = parseJson((await run(['models', 'list', '--json'])).stdout);
    assert.equal(list.models[0].installed, false);
  });

  test('--from a path that does not exist → an error, nothing installed', async () => {
    const r = await run(['models', 'install', 'kokoro', '--from', path.join(home.dir, 'nowhere'), '--json']);
    const body = parseJson(r.stdout);
    assert.equal(r.code, 1);
    assert.equal(body.ok, false);
    assert.match(body.code, /^[A-Z_]+$/);
    assert.match(body.error, /nowhere/);
    assert.deepEqual(listFiles(home.modelsDir), []);
  });

  test('--from a folder with a fake model (wrong size) → CHECKSUM_MISMATCH, nothing at the final path', async () => {
    const src = path.join(home.dir, 'src');
    fs.mkdirSync(src);
    fs.writeFileSync(path.join(src, 'kokoro-v1.0.int8.onnx'), 'fake');
    fs.writeFileSync(path.join(src, 'voices_ja.npz'), 'fake');
    const body = jsonFailure(await run(['models', 'install', 'kokoro', '--from', src, '--json']), 'CHECKSUM_MISMATCH');
    assert.ok(body.error.includes(MODEL_FILE), body.error);
    assert.deepEqual(listFiles(home.modelsDir), [], 'no model file, no .partial');
    assert.deepEqual(listFiles(src), ['kokoro-v1.0.int8.onnx', 'voices_ja.npz'], 'the source is left alone');
  });

  test('--from a fake model of the right size → CHECKSUM_MISMATCH (sha256), no .partial left', async () => {
    const fake = sparse(path.join(home.dir, 'src', 'kokoro-v1.0.int8.onnx'), MODEL_SIZE);
    const r = await run(['models', 'install', 'kokoro', '--from', fake, '--json']);
    const body = jsonFailure(r, 'CHECKSUM_MISMATCH');
    assert.match(body.error, /sha256 mismatch/);
    assert.deepEqual(listFiles(home.modelsDir), []);
    const events = jsonLines(r.stderr);
    assert.deepEqual(events[0], { event: 'copying', file: MODEL_FILE, total: MODEL_SIZE });
    assert.ok(events.some((e) => e.event === 'verifying' && e.file === MODEL_FILE));
    assert.ok(!events.some((e) => e.event === 'done'));
  });

  test('from a mirror URL (--from http://127.0.0.1…) serving wrong bytes → CHECKSUM_MISMATCH; 404 → DOWNLOAD_FAILED', async () => {
    const mirror = await startMirror((req, res) => {
      if (req.url === `/good/${MODEL_FILE}`) sendBytes(res, MODEL_SIZE, 1);
      else {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
      }
    });
    try {
      const bad = await run(['models', 'install', 'kokoro', '--from', `${mirror.url}/good`, '--json']);
      jsonFailure(bad, 'CHECKSUM_MISMATCH');
      assert.deepEqual(listFiles(home.modelsDir), []);
      assert.ok(jsonLines(bad.stderr).some((e) => e.event === 'bytes' && e.done === MODEL_SIZE), 'progress on stderr');

      const gone = await run(['models', 'install', 'kokoro', '--from', `${mirror.url}/gone/`, '--json']);
      const body = jsonFailure(gone, 'DOWNLOAD_FAILED');
      assert.match(body.error, /404/);
      assert.deepEqual(listFiles(home.modelsDir), []);
      assert.ok(mirror.requests.some((q) => q.url === `/gone/${MODEL_FILE}`), JSON.stringify(mirror.requests));
    } finally {
      await mirror.stop();
    }
  });

  test('HYPERFRAMES_OFFLINE=1 still installs --from a local folder (no network involved)', async () => {
    const mirror = await startMirror();
    try {
      const src = path.join(home.dir, 'src');
      fs.mkdirSync(src);
      const env = { HYPERFRAMES_OFFLINE: '1', HTTP_PROXY: mirror.url, HTTPS_PROXY: mirror.url };
      const r = await run(['models', 'install', 'kokoro', '--from', src, '--json'], { env });
      jsonFailure(r, 'MODEL_MISSING');
      assert.equal(mirror.connections, 0);
    } finally {
      await mirror.stop();
    }
  });

  test(
    'HYPERFRAMES_OFFLINE=1: models install kokoro (official source or mirror) does not touch the network',
    async () => {
      const mirror = await startMirror();
      try {
        const env = {
          HYPERFRAMES_OFFLINE: '1',
          HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m`,
          HTTP_PROXY: mirror.url,
          HTTPS_PROXY: mirror.url,
        };
        const r = await run(['models', 'install', 'kokoro', '--json'], { env });
        assert.equal(r.code, 1, r.output);
        assert.equal(mirror.connections, 0, `no connection (saw ${JSON.stringify(mirror.requests)})`);
        const body = parseJson(r.stdout);
        assert.equal(body.ok, false);
        assert.match(body.error + (body.hint || ''), /offline|HYPERFRAMES_OFFLINE/i);
      } finally {
        await mirror.stop();
      }
    },
  );

  test('HYPERFRAMES_MODEL_MIRROR applies to a plain install (text mode: progress lines on stderr)', async () => {
    const mirror = await startMirror((req, res) => {
      if (req.url === `/m/${MODEL_FILE}`) sendBytes(res, MODEL_SIZE, 2);
      else {
        res.writeHead(404, { 'content-length': 0 });
        res.end();
      }
    });
    try {
      const r = await run(['models', 'install', 'kokoro'], { env: { HYPERFRAMES_MODEL_MIRROR: `${mirror.url}/m` } });
      assert.equal(r.code, 1, r.output);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /Downloading kokoro\/kokoro-v1\.0\.int8\.onnx/);
      assert.match(r.stderr, /sha256 mismatch/);
      assert.deepEqual(listFiles(home.modelsDir), []);
    } finally {
      await mirror.stop();
    }
  });
});
