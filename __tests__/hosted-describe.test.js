'use strict';
// `hyperframes describe` and the JS `describe()` against OpenRouter and Gemini contract servers on
// 127.0.0.1: the request shapes (data-URL image after the prompt with a Bearer key; Gemini
// `inlineData` with `x-goog-api-key`), OpenRouter → Gemini fall-through per image with
// `anomalies`, skipped runs without a key, and per-image errors for unreadable or non-image files.

const { describe, test, after, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson } = require('./support/setup.js');
const { useMedia, KEYS, PNG, useApiEnv } = require('./support/media-servers.js');

const CHAT = 'POST /v1/chat/completions';
const GEMINI = 'POST /v1beta/models/gemini-3.1-flash-lite-preview:generateContent';
const OR_TEXT = 'A red square on a dark background (openrouter).';
const GM_TEXT = 'A red square on a dark background (gemini).';

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});
beforeEach(() => {
  fs.writeFileSync(path.join(home.dir, 'red.png'), PNG);
});

async function run(args, { keys = { heygen: false, openrouter: true, gemini: true }, env = {} } = {}) {
  const r = await runCli(args, { home, env: { ...media.env(keys), HYPERFRAMES_LOG: 'debug', ...env } });
  assertNoSecrets(r.output, Object.values(KEYS), `hyperframes ${args.join(' ')}`);
  return r;
}

// `describe --json` is `describe()`'s result with `ok`: one object, skipped or not.
function result(r, code = 0) {
  assert.equal(r.code, code, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const j = parseJson(r.stdout);
  assert.equal(j.ok, code === 0, r.stdout);
  assert.ok(Array.isArray(j.images), r.stdout);
  return j;
}

function rows(r, code = 0) {
  return result(r, code).images;
}

describe('describe: OpenRouter', () => {
  test('chat completions: the prompt, then the image as a base64 data URL, with a Bearer key', async () => {
    const [row, ...more] = rows(await run(['describe', 'red.png', '--json']));
    assert.equal(more.length, 0);
    assert.deepEqual(row, { path: 'red.png', provider: 'openrouter', model: 'google/gemini-3.1-flash-lite', anomalies: [], description: OR_TEXT });
    const [req, ...others] = media.openrouter.hits(CHAT);
    assert.equal(others.length, 0);
    assert.equal(req.headers.authorization, `Bearer ${KEYS.openrouter}`);
    assert.equal(req.headers['x-title'], 'HyperFrames');
    assert.equal(req.body.model, 'google/gemini-3.1-flash-lite');
    assert.equal(req.body.max_tokens, 500);
    const [msg] = req.body.messages;
    assert.equal(msg.role, 'user');
    assert.deepEqual(msg.content.map((c) => c.type), ['text', 'image_url']);
    assert.match(msg.content[0].text, /one short, factual sentence/i);
    assert.equal(msg.content[1].image_url.url, `data:image/png;base64,${PNG.toString('base64')}`);
    assert.equal(media.gemini.connections, 0);
  });

  test('HYPERFRAMES_OPENROUTER_MODEL picks the model; human output is one line per image', async () => {
    const r = await run(['describe', 'red.png'], { env: { HYPERFRAMES_OPENROUTER_MODEL: 'openai/gpt-4o-mini' } });
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout, `red.png: ${OR_TEXT}\n`);
    assert.equal(media.openrouter.hits(CHAT)[0].body.model, 'openai/gpt-4o-mini');
  });

  test('a description with terminal escapes is printed stripped; --json keeps it, escaped', async () => {
    const hostile = 'A red\x1b[2J\x1b]0;owned\x07 square\u202e on\x9b31m a\x1b[31m dark\nbackground.';
    media.openrouter.description = hostile;
    const r = await run(['describe', 'red.png']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout, 'red.png: A red square on31m a dark background.\n');
    const j = await run(['describe', 'red.png', '--json']);
    assert.ok(!j.stdout.includes('\x1b'), 'no raw ESC in JSON');
    assert.equal(result(j).images[0].description, hostile);
  });
});

describe('describe: Gemini', () => {
  test('generateContent: inline image data and the prompt, x-goog-api-key, never ?key=', async () => {
    const [row] = rows(await run(['describe', 'red.png', '--json'], { keys: { heygen: false, gemini: true } }));
    assert.equal(row.provider, 'gemini');
    assert.equal(row.model, 'gemini-3.1-flash-lite-preview');
    assert.equal(row.description, GM_TEXT);
    const [req] = media.gemini.hits(GEMINI);
    assert.equal(req.headers['x-goog-api-key'], KEYS.gemini);
    assert.equal(req.query.key, undefined);
    const parts = req.body.contents[0].parts;
    const inline = parts[0].inlineData || parts[0].inline_data;
    assert.equal(inline.mimeType || inline.mime_type, 'image/png');
    assert.equal(inline.data, PNG.toString('base64'));
    assert.match(parts[1].text, /sentence/);
    assert.equal((req.body.generationConfig || req.body.generation_config).maxOutputTokens, 500);
    assert.equal(media.openrouter.connections, 0);
  });
});

describe('describe: OpenRouter failures fall through to Gemini', () => {
  const failures = [
    ['5xx after three attempts', () => [{ status: 503, json: { error: { message: 'upstream busy' } } }, 3], /HTTP 503/, 3],
    ['402 out of credits', () => [{ status: 402, json: { error: { code: 402, message: 'Insufficient credits' } } }, 1], /HTTP 402/, 1],
    ['a 200 carrying an upstream error', () => [{ status: 200, json: { error: { code: 502, message: 'Provider returned error' } } }, 3], /502|Provider returned error/, null],
    ['a truncated body', () => [{ status: 200, json: { choices: [{ message: { content: 'x'.repeat(200) } }] }, truncate: true }, 3], /openrouter/, 3],
  ];
  for (const [name, script, re, attempts] of failures) {
    test(name, async () => {
      const [spec, n] = script();
      for (let i = 0; i < n; i++) media.openrouter.queue(CHAT, spec);
      const [row] = rows(await run(['describe', 'red.png', '--json']));
      assert.equal(row.provider, 'gemini', JSON.stringify(row));
      assert.equal(row.description, GM_TEXT);
      assert.equal(row.anomalies.length, 1, JSON.stringify(row));
      assert.match(row.anomalies[0], /^openrouter: /);
      assert.match(row.anomalies[0], re);
      if (attempts) assert.equal(media.openrouter.hits(CHAT).length, attempts);
      assert.equal(media.gemini.hits(GEMINI).length, 1);
    });
  }

  test('a rejected OpenRouter key (the body echoes it): Gemini serves, the key is not shown', async () => {
    media.openrouter.apiKeys.clear();
    const r = await run(['describe', 'red.png']);
    assert.equal(r.code, 0, r.output);
    assert.equal(r.stdout, `red.png: ${GM_TEXT}\n`);
    assert.match(r.stderr, /! openrouter: HTTP 401/);
  });

  test('a slow OpenRouter (HYPERFRAMES_VISION_TIMEOUT_MS): Gemini serves', async () => {
    media.openrouter.queue(CHAT, { delayMs: 5000, fallthrough: true });
    const [row] = rows(await run(['describe', 'red.png', '--json'], { env: { HYPERFRAMES_VISION_TIMEOUT_MS: '1500' } }));
    assert.equal(row.provider, 'gemini');
    assert.match(row.anomalies[0], /timed out/);
  });

  test('--no-fallback: the image fails with OpenRouter\'s error, exit 1, Gemini untouched', async () => {
    media.openrouter.queue(CHAT, { status: 402, json: { error: { code: 402, message: 'Insufficient credits' } } });
    const [row] = rows(await run(['describe', 'red.png', '--no-fallback', '--json']), 1);
    assert.equal(row.provider, 'openrouter');
    assert.equal(row.code, 'PROVIDER_PAYMENT_REQUIRED');
    assert.match(row.error, /402/);
    assert.equal(media.gemini.connections, 0);
  });

  test('--provider openrouter alone: no fall-through', async () => {
    for (let i = 0; i < 3; i++) media.openrouter.queue(CHAT, { status: 500, json: {} });
    const [row] = rows(await run(['describe', 'red.png', '--provider', 'openrouter', '--json']), 1);
    assert.equal(row.code, 'PROVIDER_SERVER_ERROR');
    assert.equal(media.gemini.connections, 0);
  });

  test('both fail: the last error, the first as an anomaly', async () => {
    media.openrouter.queue(CHAT, { status: 402, json: { error: { code: 402, message: 'Insufficient credits' } } });
    media.gemini.apiKeys.clear();
    const [row] = rows(await run(['describe', 'red.png', '--json']), 1);
    assert.equal(row.provider, 'gemini');
    assert.equal(row.code, 'PROVIDER_UNAUTHORIZED');
    assert.match(row.hint, /GEMINI_API_KEY/);
    assert.match(row.anomalies[0], /^openrouter: HTTP 402/);
  });
});

describe('describe: skipped, and per-image input errors', () => {
  test('no key: skipped clearly, exit 0, nothing contacted', async () => {
    const j = result(await run(['describe', 'red.png', '--json'], { keys: { heygen: false } }));
    assert.deepEqual(j, { ok: true, skipped: true, reason: 'no vision provider is configured (set OPENROUTER_API_KEY or GEMINI_API_KEY)', images: [] });
    const human = await run(['describe', 'red.png'], { keys: { heygen: false } });
    assert.equal(human.code, 0);
    assert.match(human.stderr, /Descriptions skipped: no vision provider is configured/);
    assert.equal(media.connections(), 0);
  });

  test('--local-only / HYPERFRAMES_OFFLINE=1 with keys: skipped, zero connections', async () => {
    const a = result(await run(['describe', 'red.png', '--local-only', '--json']));
    assert.match(a.reason, /local-only/);
    const b = result(await run(['describe', 'red.png', '--json'], { env: { HYPERFRAMES_OFFLINE: '1' } }));
    assert.equal(b.skipped, true);
    assert.equal(media.connections(), 0);
  });

  test('a missing file, a text file, an empty file: each its own error; the good image is described', async () => {
    fs.writeFileSync(path.join(home.dir, 'notes.png'), 'just some text, not an image');
    fs.writeFileSync(path.join(home.dir, 'empty.png'), '');
    const r = await run(['describe', 'red.png', 'missing.png', 'notes.png', 'empty.png', '--json']);
    const [ok, missing, notes, empty] = rows(r, 1);
    assert.equal(ok.description, OR_TEXT);
    assert.equal(missing.code, 'IO_ERROR');
    assert.match(missing.error, /cannot read missing\.png/);
    assert.equal(notes.code, 'UNSUPPORTED_IMAGE');
    assert.match(notes.hint, /PNG or JPEG/);
    assert.equal(empty.code, 'UNSUPPORTED_IMAGE');
    assert.match(empty.error, /empty/);
    for (const bad of [missing, notes, empty]) {
      assert.equal(bad.description, undefined);
      assert.deepEqual(bad.anomalies, []);
    }
    assert.equal(media.openrouter.hits(CHAT).length, 1, 'only the readable image was sent');
    assert.equal(media.gemini.connections, 0, 'input errors never fall through');
  });

  test('an unknown --provider: PROVIDER_UNAVAILABLE, nothing contacted', async () => {
    const r = await run(['describe', 'red.png', '--provider', 'claude', '--json']);
    assert.equal(r.code, 1);
    const j = parseJson(r.stdout);
    assert.equal(j.ok, false);
    assert.equal(j.code, 'PROVIDER_UNAVAILABLE');
    assert.equal(media.connections(), 0);
  });
});

describe('JS API: describe()', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: false, openrouter: true, gemini: true });

  test('OpenRouter 5xx → Gemini per image, with anomalies; input errors stay per image', async () => {
    for (let i = 0; i < 3; i++) media.openrouter.queue(CHAT, { status: 500, json: { error: `bad key ${KEYS.openrouter}` } });
    const red = path.join(home.dir, 'red.png');
    const r = await api.describe([red, path.join(home.dir, 'nope.png')]);
    assert.equal(r.skipped, false);
    assert.equal(r.provider, 'openrouter');
    const [a, b] = r.images;
    assert.equal(a.path, red);
    assert.equal(a.description, GM_TEXT);
    assert.equal(a.provider, 'gemini');
    assert.equal(a.anomalies.length, 1);
    assert.match(a.anomalies[0], /^openrouter: HTTP 500/);
    assertNoSecrets(a.anomalies.join('\n'), Object.values(KEYS), 'the anomalies');
    assert.equal(b.code, 'IO_ERROR');
    assert.equal(b.description, undefined);
  });

  test('localOnly: skipped; no key: skipped; nothing contacted', async () => {
    const a = await api.describe([path.join(home.dir, 'red.png')], { localOnly: true });
    assert.equal(a.skipped, true);
    assert.deepEqual(a.images, []);
    delete process.env.OPENROUTER_API_KEY;
    delete process.env.GEMINI_API_KEY;
    const b = await api.describe([path.join(home.dir, 'red.png')]);
    assert.equal(b.skipped, true);
    assert.match(b.reason, /OPENROUTER_API_KEY/);
    assert.equal(media.connections(), 0);
  });
});
