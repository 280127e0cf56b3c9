'use strict';
// `models install` against hostile mirrors on 127.0.0.1: credentials in the mirror URL never reach
// any output, a mirror that stalls is given up with a clear error naming the host (after a
// "waiting for <host>" line), and two installs at once do not trip over each other.

const { describe, test, beforeEach, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('./support/cli.js');
const { parseJson } = require('./support/setup.js');
const { MODEL_FILE, MODEL_SIZE, startMirror, jsonLines } = require('./support/voice.js');

let home;
beforeEach(() => {
  home = makeHome();
});
afterEach(() => home.cleanup());

const run = (args, opts = {}) => runCli(args, { home, ...opts });
const SECRETS = ['pw-S3CRET', 'mirror-user', 'SIGSECRET', 'CREDSECRET', 'TOKSECRET'];

function assertClean(r, label) {
  for (const s of SECRETS) assert.ok(!r.output.includes(s), `${label} leaks ${s}:\n${r.output}`);
}

/** A mirror that sends the model's headers and first bytes, then nothing (the socket stays open). */
function stallingMirror() {
  return startMirror((req, res) => {
    if (req.url.endsWith(MODEL_FILE)) {
      res.writeHead(200, { 'content-length': MODEL_SIZE });
      res.write(Buffer.alloc(1000, 7));
    } else {
      res.writeHead(404, { 'content-length': 0 });
      res.end();
    }
  });
}

describe('secrets in mirror URLs', () => {
  test('userinfo and signed-URL parameters never appear in text, --json or debug logs', async () => {
    const mirror = await startMirror((req, res) => {
      res.writeHead(req.url.includes('.onnx') ? 500 : 404, { 'content-length': 0 });
      res.end();
    });
    try {
      const withUser = mirror.url.replace('http://', 'http://mirror-user:pw-S3CRET@');
      const env = { HYPERFRAMES_MODEL_MIRROR: `${withUser}/base`, HYPERFRAMES_LOG: 'debug' };
      const text = await run(['models', 'install', 'kokoro'], { env });
      assert.equal(text.code, 1, text.output);
      assert.match(text.stderr, /127\.0\.0\.1/, 'the host is still named');
      assertClean(text, 'text');
      const json = await run(['models', 'install', 'kokoro', '--json'], { env });
      assert.equal(parseJson(json.stdout).ok, false);
      assertClean(json, '--json');

      const signed = `${withUser}/kokoro/kokoro-v1.0.int8.onnx?X-Amz-Credential=CREDSECRET&X-Amz-Signature=SIGSECRET&token=TOKSECRET`;
      const from = await run(['models', 'install', 'kokoro', '--from', signed, '--json'], { env: { HYPERFRAMES_LOG: 'debug' } });
      assert.equal(from.code, 1, from.output);
      assert.ok(mirror.requests.some((q) => q.url.includes('SIGSECRET')), 'the real URL is still used');
      assertClean(from, '--from URL');
    } finally {
      await mirror.stop();
    }
  });
});

describe('a mirror that stalls', () => {
  test('headers then nothing: a waiting line, then DOWNLOAD_STALLED naming the host; the bytes are kept', async () => {
    const mirror = await stallingMirror();
    try {
      const host = mirror.url.replace('http://', '');
      const env = { HYPERFRAMES_MODEL_MIRROR: mirror.url, HYPERFRAMES_DOWNLOAD_IDLE_TIMEOUT: '1' };
      const r = await run(['models', 'install', 'kokoro'], { env });
      assert.equal(r.code, 1, r.output);
      assert.ok(r.stderr.includes(`waiting for ${host}`), r.stderr);
      assert.ok(r.stderr.includes(`no data from ${host}`), r.stderr);
      assert.match(r.stderr, /HYPERFRAMES_DOWNLOAD_IDLE_TIMEOUT/);
      assert.equal(fs.statSync(path.join(home.modelsDir, `${MODEL_FILE}.partial`)).size, 1000);

      const json = await run(['models', 'install', 'kokoro', '--json'], { env });
      assert.equal(parseJson(json.stdout).code, 'DOWNLOAD_STALLED');
      assert.ok(jsonLines(json.stderr).some((e) => e.event === 'waiting' && e.host === host), json.stderr);
    } finally {
      await mirror.stop();
    }
  });

  test('a mirror that accepts and never answers is given up too', async () => {
    const net = require('node:net');
    const held = [];
    const server = net.createServer((s) => held.push(s));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    try {
      const env = { HYPERFRAMES_MODEL_MIRROR: `http://127.0.0.1:${port}`, HYPERFRAMES_DOWNLOAD_IDLE_TIMEOUT: '1' };
      const r = await run(['models', 'install', 'kokoro', '--json'], { env });
      const body = parseJson(r.stdout);
      assert.equal(body.code, 'DOWNLOAD_STALLED', r.output);
      assert.ok(body.error.includes(`no answer from 127.0.0.1:${port}`), body.error);
    } finally {
      for (const s of held) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('two installs at once', () => {
  test('the second waits for the first with a message; neither trips over the other', async () => {
    const mirror = await stallingMirror();
    try {
      const env = { HYPERFRAMES_MODEL_MIRROR: mirror.url, HYPERFRAMES_DOWNLOAD_IDLE_TIMEOUT: '2' };
      let second;
      const first = run(['models', 'install', 'kokoro'], {
        env,
        onData: (text) => {
          // Start the second once the first is downloading (and so holds the lock).
          if (!second && text.includes('Downloading')) second = run(['models', 'install', 'kokoro'], { env });
        },
      });
      const a = await first;
      assert.ok(second, `the first never started downloading:\n${a.output}`);
      const b = await second;
      for (const r of [a, b]) {
        assert.equal(r.code, 1, r.output);
        assert.doesNotMatch(r.output, /No such file or directory/);
        assert.match(r.stderr, /DOWNLOAD_STALLED|no data from/);
      }
      assert.match(b.stderr, /Another `models install` is installing into .*kokoro; waiting for it to finish/);
      assert.deepEqual(
        fs.readdirSync(home.modelsDir).filter((n) => n.endsWith('.lock')),
        [],
        'no lock file is left behind',
      );
    } finally {
      await mirror.stop();
    }
  });
});

describe('damaged models are never used (real Kokoro model)', () => {
  const { realModelsDir, SKIP_REAL } = require('./support/voice.js');
  const REAL = realModelsDir();
  const skip = REAL ? false : SKIP_REAL;
  const SAY = ['tts', 'Hello there, general.', '--voice', 'jm_kumo', '--lang', 'en-us', '--json', '--no-download'];
  const TIMEOUT = 300_000;

  /** A models dir in the temp HOME with the real voices linked and the model copied (the derived
   * copy lives beside the real file, so a linked model would put it in the shared dir). */
  function modelsDir() {
    const dir = path.join(home.dir, 'models', 'kokoro');
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(path.join(REAL, 'kokoro', 'voices_ja.npz'), path.join(dir, 'voices_ja.npz'));
    const model = path.join(dir, 'kokoro-v1.0.int8.onnx');
    fs.copyFileSync(path.join(REAL, MODEL_FILE), model);
    return { dir, model, env: { HYPERFRAMES_MODELS_DIR: path.dirname(dir) } };
  }
  const timedCopies = (dir) =>
    fs.existsSync(path.join(dir, '.timed')) ? fs.readdirSync(path.join(dir, '.timed')).filter((n) => n.endsWith('.onnx')) : [];

  test('a truncated derived copy: tts derives it again (exact timings), verify reports and deletes a damaged one', { skip, timeout: TIMEOUT }, async () => {
    const { dir, env } = modelsDir();
    const first = await run(SAY, { env, timeoutMs: TIMEOUT });
    assert.equal(first.code, 0, first.output);
    assert.equal(parseJson(first.stdout).wordsApproximate, false);
    const [name] = timedCopies(dir);
    const copy = path.join(dir, '.timed', name);
    const size = fs.statSync(copy).size;

    fs.truncateSync(copy, Math.floor(size / 3));
    const again = await run(SAY, { env, timeoutMs: TIMEOUT });
    assert.equal(again.code, 0, again.output);
    assert.equal(parseJson(again.stdout).wordsApproximate, false, 'no silent downgrade to approximate timings');
    assert.equal(fs.statSync(copy).size, size, 'the copy was derived again');

    const fd = fs.openSync(copy, 'r+');
    fs.writeSync(fd, Buffer.from('garbage!'), 0, 8, Math.floor(size / 2));
    fs.closeSync(fd);
    const doctor = parseJson((await run(['doctor', '--json'], { env })).stdout);
    const check = doctor.checks.find((c) => /Kokoro/.test(c.name));
    assert.equal(check.ok, false, JSON.stringify(check));
    assert.match(check.detail, /derived copy/);
    const verify = await run(['models', 'verify', 'kokoro', '--json'], { env, timeoutMs: TIMEOUT });
    assert.equal(verify.code, 1, verify.output);
    const model = parseJson(verify.stdout).models[0];
    assert.deepEqual(model.derived, [{ path: `kokoro/.timed/${name}`, state: 'corrupt' }]);
    assert.ok(!fs.existsSync(copy), 'the damaged copy is deleted');
    const fixed = await run(SAY, { env, timeoutMs: TIMEOUT });
    assert.equal(parseJson(fixed.stdout).wordsApproximate, false);
    const ok = await run(['models', 'verify', 'kokoro', '--json'], { env, timeoutMs: TIMEOUT });
    assert.equal(ok.code, 0, ok.output);
    assert.equal(parseJson(ok.stdout).models[0].derived[0].state, 'verified');
  });

  test('a damaged model file: list, doctor and verify agree, and tts refuses with MODEL_CORRUPT', { skip, timeout: TIMEOUT }, async () => {
    const { model, env } = modelsDir();
    const fd = fs.openSync(model, 'r+');
    fs.writeSync(fd, Buffer.from([0x42, 0x42, 0x42, 0x42]), 0, 4, 40_000_000);
    fs.closeSync(fd);
    const list = parseJson((await run(['models', 'list', '--json'], { env, timeoutMs: TIMEOUT })).stdout);
    const kokoro = list.models.find((m) => m.name === 'kokoro');
    assert.equal(kokoro.installed, false);
    assert.equal(kokoro.files.find((f) => f.path === MODEL_FILE).state, 'corrupt');
    const text = await run(['models', 'list'], { env, timeoutMs: TIMEOUT });
    assert.match(text.stdout, /kokoro .*damaged/);
    const doctor = parseJson((await run(['doctor', '--json'], { env, timeoutMs: TIMEOUT })).stdout);
    assert.match(doctor.checks.find((c) => /Kokoro/.test(c.name)).detail, /sha256 mismatch/);
    const verify = await run(['models', 'verify', 'kokoro', '--json'], { env, timeoutMs: TIMEOUT });
    assert.equal(verify.code, 1);
    const tts = await run(SAY, { env, timeoutMs: TIMEOUT });
    assert.equal(tts.code, 1, tts.output);
    const body = parseJson(tts.stdout);
    assert.equal(body.code, 'MODEL_CORRUPT');
    assert.match(body.hint, /hyperframes models install kokoro/);
  });
});
