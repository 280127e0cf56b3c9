'use strict';
// Slow and dead hosted providers: every call has a total time budget (attempts and waits
// included), a "waiting for …" line appears on stderr while a call is slow, a Retry-After beyond
// the budget is reported as asked and not waited for, and a provider that keeps failing is skipped
// for the rest of the run with ONE anomaly saying so. Budgets are made small through the
// environment; nothing asserts elapsed time, only what was sent and said.

const { describe, test } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson, okJson } = require('./support/setup.js');
const { useMedia, KEYS } = require('./support/media-servers.js');

const SPEECH = 'POST /v3/voices/speech';
const RACHEL = '21m00Tcm4TlvDq8ikWAM';
const EL_TTS = `POST /v1/text-to-speech/${RACHEL}/with-timestamps`;

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const SMALL = { HYPERFRAMES_PROVIDER_BUDGET_MS: '600', HYPERFRAMES_PROVIDER_WAIT_NOTICE_MS: '150' };

async function run(args, { env = {}, ...opts } = {}) {
  const r = await runCli(args, { home, env: { ...media.env({ heygen: true, eleven: true }), ...env }, ...opts });
  assertNoSecrets(r.output, Object.values(KEYS), `hyperframes ${args.join(' ')}`);
  return r;
}

describe('a provider that answers slowly', () => {
  test('headers, then a trickling body: one attempt cut off by the budget, a waiting line, ElevenLabs speaks', async () => {
    // Headers at once, then a byte every 100 ms of a 2 KB body: far beyond the budget.
    media.heygen.queue(SPEECH, { trickle: true });
    const r = await run(['tts', 'Hello there', '-o', 'out.wav', '--json'], { env: SMALL });
    const j = okJson(r);
    assert.equal(j.provider, 'elevenlabs', r.output);
    assert.equal(media.heygen.hits(SPEECH).length, 1, 'no attempt after the budget ran out');
    assert.equal(media.eleven.hits(EL_TTS).length, 1);
    assert.equal(j.anomalies.length, 1, j.anomalies.join('\n'));
    assert.match(j.anomalies[0], /^heygen: heygen speech: no answer within the 0\.6s budget for this call \(1 attempt/);
    assert.match(r.stderr, /^waiting for HeyGen… \d+(\.\d)?s$/m);
  });

  test('a stalled provider: the per-attempt limit (HYPERFRAMES_PROVIDER_TIMEOUT_MS) never outlasts the budget', async () => {
    for (let i = 0; i < 3; i++) media.heygen.queue(SPEECH, { stall: true });
    const r = await run(['tts', 'Hello there', '-o', 'out.wav', '--json'], {
      env: { ...SMALL, HYPERFRAMES_PROVIDER_TIMEOUT_MS: '400' },
    });
    const j = okJson(r);
    assert.equal(j.provider, 'elevenlabs');
    // 400 ms, then a 500 ms backoff that does not fit what is left of 600 ms.
    assert.equal(media.heygen.hits(SPEECH).length, 1);
    assert.match(j.anomalies[0], /budget/);
  });

  test('Retry-After: 100000 is reported as asked, beyond the budget, and not waited for', async () => {
    media.heygen.queue(SPEECH, { status: 429, headers: { 'retry-after': '100000' }, json: { error: 'come back tomorrow' } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    assert.equal(j.provider, 'elevenlabs');
    assert.equal(media.heygen.hits(SPEECH).length, 1);
    assert.match(j.anomalies[0], /HTTP 429/);
    assert.match(j.anomalies[0], /asked to wait 100000s before retrying: beyond this call's 30s budget/);
    assert.ok(!/3600/.test(j.anomalies[0]), j.anomalies[0]);
  });
});

describe('a provider that keeps failing is skipped for the rest of the run', () => {
  const request = {
    lines: Array.from({ length: 8 }, (_, i) => ({ id: `l${i + 1}`, text: `Line number ${i + 1} is here.` })),
  };

  test('media build of 8 lines: two timed-out calls, then HeyGen is skipped with ONE anomaly', async () => {
    for (let i = 0; i < 30; i++) media.heygen.queue(SPEECH, { stall: true });
    const req = path.join(home.dir, 'request.json');
    fs.writeFileSync(req, JSON.stringify(request));
    const out = path.join(home.dir, 'audio');
    const r = await run(['media', 'build', req, '--out', out, '--json', '--concurrency', '1', '--no-music'], {
      env: SMALL,
    });
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.deepEqual(
      j.voices.map((v) => v.provider),
      Array(8).fill('elevenlabs'),
    );
    assert.equal(media.heygen.hits(SPEECH).length, 2, `two failures in a row, then no more requests\n${j.anomalies.join('\n')}`);
    assert.equal(media.eleven.hits(EL_TTS).length, 8);
    const skips = j.anomalies.filter((a) => /skipped for the rest of this run/.test(a));
    assert.equal(skips.length, 1, j.anomalies.join('\n'));
    assert.match(skips[0], /^line l3: heygen: skipped for the rest of this run after 2 failures in a row/);
    assert.equal(j.anomalies.length, 3, j.anomalies.join('\n'));
  });

  test('a provider that answers again is not skipped: one failure is not a pattern', async () => {
    media.heygen.queue(SPEECH, { status: 503, json: { error: 'busy' } }, { status: 503, json: {} }, { status: 503, json: {} });
    const req = path.join(home.dir, 'request.json');
    fs.writeFileSync(req, JSON.stringify({ lines: request.lines.slice(0, 3) }));
    const r = await run(['media', 'build', req, '--out', path.join(home.dir, 'audio'), '--json', '--concurrency', '1', '--no-music']);
    const j = parseJson(r.stdout);
    assert.deepEqual(j.voices.map((v) => v.provider), ['elevenlabs', 'heygen', 'heygen']);
    assert.ok(!j.anomalies.some((a) => /skipped/.test(a)), j.anomalies.join('\n'));
  });
});

describe('concurrent JS calls share what they learn', () => {
  const { setProcessEnv } = require('./support/media-servers.js');
  const api = require('../lib/index.js');

  test('JS calls in one process: after two failed calls HeyGen is skipped by the next concurrent ones, with ONE anomaly', async () => {
    const restore = setProcessEnv({
      HOME: home.dir,
      HEYGEN_CONFIG_DIR: home.configDir,
      HYPERFRAMES_MODELS_DIR: home.modelsDir,
      ...media.env({ heygen: true, eleven: true }),
      ...SMALL,
      HYPERFRAMES_PROVIDER_WAIT_NOTICE_MS: '60000',
      HYPERFRAMES_PROVIDER_COOLDOWN_MS: '600000',
    });
    try {
      for (let i = 0; i < 30; i++) media.heygen.queue(SPEECH, { status: 503, json: { error: 'down' } });
      const first = await Promise.all([api.tts('First call.'), api.tts('Second call.')]);
      assert.deepEqual(first.map((r) => r.provider), ['elevenlabs', 'elevenlabs']);
      const asked = media.heygen.hits(SPEECH).length;
      assert.ok(asked >= 2, `${asked} requests`);
      const later = await Promise.all(Array.from({ length: 6 }, (_, i) => api.tts(`Later call ${i}.`)));
      assert.deepEqual(later.map((r) => r.provider), Array(6).fill('elevenlabs'));
      assert.equal(media.heygen.hits(SPEECH).length, asked, 'no request to HeyGen after it was skipped');
      const notes = later.flatMap((r) => r.anomalies);
      assert.equal(notes.length, 1, notes.join('\n'));
      assert.match(notes[0], /^heygen: skipped for the rest of this run after 2 failures in a row/);
    } finally {
      restore();
    }
  });
});
