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
