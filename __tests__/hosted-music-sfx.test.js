'use strict';
// `hyperframes music` / `sfx` and the JS `music()` / `sfx()` against contract servers on
// 127.0.0.1: the HeyGen audio library (both list envelopes, the score cut-off, presigned downloads),
// Lyria through the Gemini API, the bundled sound-effect library, fitting to a length, and the
// failures that fall through with an `anomalies` entry. Every CLI run has HYPERFRAMES_LOG=debug
// and is checked for the providers' keys.

const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, okJson, failJson } = require('./support/setup.js');
const { parseWav, levels, listFiles } = require('./support/voice.js');
const { useMedia, KEYS, useApiEnv } = require('./support/media-servers.js');

const SOUNDS = 'GET /v3/audio/sounds';
const LYRIA = 'POST /v1beta/models/lyria-3-clip-preview:generateContent';

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

async function run(args, { keys = { heygen: true, gemini: true }, env = {} } = {}) {
  const r = await runCli(args, { home, env: { ...media.env(keys), HYPERFRAMES_LOG: 'debug', ...env } });
  assertNoSecrets(r.output, Object.values(KEYS), `hyperframes ${args.join(' ')}`);
  return r;
}

const file = (name) => path.join(home.dir, name);
const wav = (name) => parseWav(fs.readFileSync(file(name)));
const seconds = (w) => w.frames / w.sampleRate;
const PLAN_402 = { status: 402, json: { error: { code: 'plan_upgrade_required', message: 'Upgrade your plan' } } };

/** No auth of any kind on a presigned download. */
function plainDownloads() {
  assert.ok(media.cdn.log.length >= 1, 'nothing was downloaded');
  for (const d of media.cdn.log) {
    for (const h of ['x-api-key', 'authorization', 'x-heygen-client-source', 'x-heygen-source', 'x-goog-api-key']) {
      assert.equal(d.headers[h], undefined, `the presigned download carried ${h}`);
    }
  }
}

describe('music: the HeyGen library', () => {
  for (const envelope of ['array', 'legacy', 'items']) {
    test(`search (${envelope} envelope), the best-scored track, fitted to --seconds`, async () => {
      media.heygen.soundsEnvelope = envelope;
      const j = okJson(await run(['music', 'calm cinematic underscore', '--seconds', '5', '-o', 'bgm.wav', '--json']));
      assert.equal(j.provider, 'heygen');
      assert.equal(j.title, 'Calm Horizon');
      assert.deepEqual(j.anomalies, []);
      assert.equal(j.durationSeconds, 5);
      assert.equal(j.sampleRate, 44100);
      assert.equal(j.channels, 2);

      const [q, ...more] = media.heygen.hits(SOUNDS);
      assert.equal(more.length, 0);
      assert.deepEqual({ ...q.query }, { query: 'calm cinematic underscore', type: 'music', limit: '5' });
      assert.equal(q.headers['x-api-key'], KEYS.heygen);
      assert.equal(q.headers['x-heygen-client-source'], 'hyperframes');
      assert.deepEqual(media.cdn.log.map((d) => d.path), ['/audio/music.wav']);
      plainDownloads();
      assert.equal(media.gemini.connections, 0);

      // A 2 s track looped to 5 s: the right length, with sound all the way through.
      const w = wav('bgm.wav');
      assert.equal(w.sampleRate, 44100);
      assert.equal(w.channels, 2);
      assert.equal(w.frames, 5 * 44100);
      const tail = w.samples.subarray(Math.round(3.5 * 44100) * 2, Math.round(4 * 44100) * 2);
      assert.ok(levels(tail).rms > 0.1, `silent after the loop point (rms ${levels(tail).rms})`);
      assert.ok(levels(w.samples).peak <= 0.9, 'peak-normalised to 0.89');
    });
  }

  test('a track longer than --seconds is trimmed (with a fade-out)', async () => {
    const j = okJson(await run(['music', 'calm', '--seconds', '1', '-o', 'bgm.wav', '--json']));
    assert.equal(j.provider, 'heygen');
    const w = wav('bgm.wav');
    assert.equal(w.frames, 44100);
    assert.ok(Math.abs(w.samples[w.samples.length - 1]) < 0.01, 'faded out');
  });

  test('human output names the file, length, provider and title', async () => {
    const r = await run(['music', 'calm', '--seconds', '3', '-o', 'out/bgm.wav']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /out\/bgm\.wav \(3\.0s, heygen: Calm Horizon\)/);
    assert.equal(seconds(wav('out/bgm.wav')), 3);
  });
});

describe('music: falling through to Lyria', () => {
  function lyriaServed(j, re) {
    assert.equal(j.provider, 'lyria', JSON.stringify(j));
    assert.equal(j.title, null);
    assert.equal(j.anomalies.length, 1, JSON.stringify(j.anomalies));
    assert.match(j.anomalies[0], /^heygen: /);
    assert.match(j.anomalies[0], re);
    const [g, ...more] = media.gemini.hits(LYRIA);
    assert.equal(more.length, 0);
    assert.equal(g.headers['x-goog-api-key'], KEYS.gemini);
    assert.equal(g.query.key, undefined, 'the key never goes in the URL');
    const parts = g.body.contents[0].parts;
    assert.match(parts[0].text, /^calm piano/);
    assert.match(parts[0].text, /about 4 seconds/);
    assert.ok(g.body.generationConfig.responseModalities.includes('AUDIO'));
    assert.equal(j.sampleRate, 48000);
    assert.equal(j.channels, 2);
    const w = wav('bgm.wav');
    assert.equal(w.frames, 4 * 48000);
  }

  test('402 plan_upgrade_required: Lyria serves, the anomaly has the code', async () => {
    media.heygen.queue(SOUNDS, PLAN_402);
    const j = okJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--json']));
    lyriaServed(j, /HTTP 402.*plan_upgrade_required/);
    assert.equal(media.heygen.hits(SOUNDS).length, 1);
  });

  test('5xx after three attempts', async () => {
    for (let i = 0; i < 3; i++) media.heygen.queue(SOUNDS, { status: 502, body: 'bad gateway' });
    const j = okJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--json']));
    lyriaServed(j, /HTTP 502/);
    assert.equal(media.heygen.hits(SOUNDS).length, 3);
  });

  test('no track scores above the server default: no match', async () => {
    media.heygen.sounds.music = [];
    const j = okJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--json']));
    lyriaServed(j, /no music matches/);
    assert.equal(media.cdn.connections, 0);
  });

  test('an undecodable download', async () => {
    media.cdn.files['music.wav'] = { body: Buffer.from('RIFF....WAVEjunk'.repeat(10)), type: 'audio/wav' };
    const j = okJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--json']));
    lyriaServed(j, /heygen/);
  });

  test('--provider lyria: Lyria alone, HeyGen untouched', async () => {
    const j = okJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--provider', 'lyria', '--json']));
    assert.equal(j.provider, 'lyria');
    assert.deepEqual(j.anomalies, []);
    assert.equal(media.heygen.connections, 0);
  });

  test('--no-fallback: the HeyGen failure, no file, Lyria untouched', async () => {
    media.heygen.queue(SOUNDS, PLAN_402);
    const j = failJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--no-fallback', '--json']), 'PROVIDER_PAYMENT_REQUIRED');
    assert.equal(j.provider, 'heygen');
    assert.match(j.error, /plan_upgrade_required/);
    assert.equal(media.gemini.connections, 0);
    assert.deepEqual(listFiles(home.dir), []);
  });

  test('both fail: the last error, the first as an anomaly, no file', async () => {
    media.heygen.queue(SOUNDS, PLAN_402);
    for (let i = 0; i < 2; i++) media.gemini.queue(LYRIA, { status: 500, json: { error: { code: 500, message: 'internal' } } });
    const j = failJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--json']), 'PROVIDER_SERVER_ERROR');
    assert.equal(j.provider, 'lyria');
    assert.equal(j.anomalies.length, 1);
    assert.match(j.anomalies[0], /^heygen: HTTP 402/);
    assert.equal(media.gemini.hits(LYRIA).length, 2, 'Lyria makes two attempts');
    assert.deepEqual(listFiles(home.dir), []);
  });

  test('a Gemini key Google rejects: unauthorized, with the key not echoed', async () => {
    media.heygen.queue(SOUNDS, PLAN_402);
    media.gemini.apiKeys.clear();
    const j = failJson(await run(['music', 'calm piano', '--seconds', '4', '-o', 'bgm.wav', '--json']), 'PROVIDER_UNAUTHORIZED');
    assert.match(j.hint, /GEMINI_API_KEY/);
  });

  test('no HeyGen credential and no Gemini key: NO_PROVIDER with hints, nothing contacted', async () => {
    const j = failJson(await run(['music', 'calm', '--json'], { keys: { heygen: false } }), 'NO_PROVIDER');
    assert.match(j.hint, /auth login/);
    assert.match(j.hint, /GEMINI_API_KEY/);
    assert.equal(media.connections(), 0);
  });

  test('--local-only: nothing contacted, a clear NO_PROVIDER', async () => {
    const j = failJson(await run(['music', 'calm', '--local-only', '--json']), 'NO_PROVIDER');
    assert.match(j.error, /local-only/);
    assert.equal(media.connections(), 0);
  });
});

describe('sfx', () => {
  test('a stored OAuth session refreshed with expires_in 1e16: the clamped session serves, no crash', async () => {
    media.heygen.addRefreshToken('rt_SECRETREFRESH_sfx_0123456789');
    media.heygen.tokenExpiresIn = 1e16;
    const past = new Date(Date.now() - 600_000).toISOString();
    home.write({ oauth: { access_token: 'at_SECRETACCESS_sfx_0123456789', refresh_token: 'rt_SECRETREFRESH_sfx_0123456789', expires_at: past } });
    const j = okJson(await run(['sfx', 'whoosh', '--json'], { keys: { heygen: false, gemini: true } }));
    assert.equal(j.provider, 'heygen');
    assert.deepEqual(j.anomalies, []);
    const [issued] = media.heygen.issued;
    assert.equal(media.heygen.hits(SOUNDS)[0].headers.authorization, `Bearer ${issued.access_token}`);
    assert.equal(home.read().oauth.refresh_token, issued.refresh_token, 'the rotated refresh token is stored');
  });

  test('the HeyGen library: type=sound_effects, min_score 0.4, the best hit, a WAV', async () => {
    const j = okJson(await run(['sfx', 'whoosh', '--json']));
    assert.equal(j.provider, 'heygen');
    assert.equal(j.name, 'Big Whoosh');
    assert.equal(j.outputPath, 'whoosh.wav');
    assert.deepEqual(j.anomalies, []);
    const [q, ...more] = media.heygen.hits(SOUNDS);
    assert.equal(more.length, 0);
    assert.deepEqual({ ...q.query }, { query: 'whoosh', type: 'sound_effects', limit: '3', min_score: '0.4' });
    assert.equal(q.headers['x-api-key'], KEYS.heygen);
    assert.deepEqual(media.cdn.log.map((d) => d.path), ['/audio/sfx.wav']);
    plainDownloads();
    const w = wav('whoosh.wav');
    assert.equal(w.sampleRate, 44100);
    assert.ok(Math.abs(seconds(w) - 0.4) < 0.01);
    assert.ok(Math.abs(j.durationSeconds - 0.4) < 0.01);
  });

  test('the legacy envelope works too', async () => {
    media.heygen.soundsEnvelope = 'legacy';
    const j = okJson(await run(['sfx', 'whoosh', '-o', 'fx/w.wav', '--json']));
    assert.equal(j.name, 'Big Whoosh');
    assert.ok(fs.existsSync(file('fx/w.wav')));
  });

  test('HeyGen errors: the bundled library serves, with an anomaly', async () => {
    for (let i = 0; i < 3; i++) media.heygen.queue(SOUNDS, { status: 500, json: { error: 'boom' } });
    const j = okJson(await run(['sfx', 'whoosh', '--json']));
    assert.equal(j.provider, 'bundled');
    assert.equal(j.name, 'whoosh');
    assert.equal(j.anomalies.length, 1);
    assert.match(j.anomalies[0], /^heygen: HTTP 500/);
    const w = wav('whoosh.wav');
    assert.ok(levels(w.samples).peak > 0.05, 'the bundled effect is not silent');
  });

  test('HeyGen has no match above the score cut-off: bundled, with an anomaly', async () => {
    media.heygen.sounds.sound_effects = [{ id: 'x', name: 'Faint', description: '', audio_url: 'sfx.wav', score: 0.3 }];
    const j = okJson(await run(['sfx', 'success chime', '--json']));
    assert.equal(j.provider, 'bundled');
    assert.equal(j.name, 'chime');
    assert.match(j.anomalies[0], /no match/);
    assert.equal(media.cdn.connections, 0);
  });

  test('HeyGen 402: bundled, the anomaly names the code', async () => {
    media.heygen.queue(SOUNDS, PLAN_402);
    const j = okJson(await run(['sfx', 'click', '--json']));
    assert.equal(j.provider, 'bundled');
    assert.match(j.anomalies[0], /HTTP 402.*plan_upgrade_required/);
  });

  test('undecodable HeyGen audio: bundled; with --no-fallback, a clear error and no file', async () => {
    media.cdn.files['sfx.wav'] = { body: Buffer.from('not audio at all '.repeat(30)), type: 'audio/wav' };
    const j = okJson(await run(['sfx', 'whoosh', '--json']));
    assert.equal(j.provider, 'bundled');
    assert.match(j.anomalies[0], /^heygen: /);

    fs.rmSync(file('whoosh.wav'));
    const e = failJson(await run(['sfx', 'whoosh', '--no-fallback', '--json']), 'BAD_AUDIO');
    assert.equal(e.provider, 'heygen');
    assert.deepEqual(listFiles(home.dir), []);
  });

  test('--local-only: the bundled library, zero connections', async () => {
    const j = okJson(await run(['sfx', 'riser', '--local-only', '--json']));
    assert.equal(j.provider, 'bundled');
    assert.equal(j.name, 'riser');
    assert.deepEqual(j.anomalies, []);
    assert.equal(media.connections(), 0);
  });

  test('bundled search by name, substring and description', async () => {
    const cases = [
      ['whoosh-short', 'whoosh-short'],
      ['Whoosh Short', 'whoosh-short'],
      ['bass', 'impact-bass-1'],
      ['success', 'chime'],
    ];
    for (const [query, name] of cases) {
      const j = okJson(await run(['sfx', query, '--provider', 'bundled', '-o', 'x.wav', '--json']));
      assert.equal(j.name, name, query);
      assert.equal(j.provider, 'bundled');
    }
    assert.equal(media.connections(), 0);
  });

  test('sfx --list: all 19 bundled effects; with a query, HeyGen hits first', async () => {
    const all = JSON.parse((await run(['sfx', '--list', '--json'], { keys: { heygen: false } })).stdout).effects;
    assert.equal(all.length, 19);
    assert.ok(all.every((r) => r.provider === 'bundled'));
    const listed = JSON.parse((await run(['sfx', 'whoosh', '--list', '--json'])).stdout);
    assert.equal(listed.ok, true);
    assert.deepEqual(listed.anomalies, []);
    const hits = listed.effects;
    assert.equal(hits[0].provider, 'heygen');
    assert.equal(hits[0].name, 'Big Whoosh');
    assert.ok(hits.some((r) => r.provider === 'bundled' && r.name === 'whoosh'));
    assert.equal(media.heygen.hits(SOUNDS)[0].query.limit, '10');

    // HeyGen failing: the bundled listing, and the anomalies (JSON and stderr) say what was left out.
    media.heygen.queue(SOUNDS, { status: 503, json: {} }, { status: 503, json: {} }, { status: 503, json: {} });
    const degraded = await run(['sfx', 'whoosh', '--list', '--json']);
    const left = JSON.parse(degraded.stdout);
    assert.ok(left.effects.length > 0 && left.effects.every((r) => r.provider === 'bundled'));
    assert.match(left.anomalies.join('\n'), /heygen: HTTP 503/);
    assert.match(degraded.stderr, /! heygen: HTTP 503/);
  });

  test('nothing matches anywhere: SFX_NOT_FOUND with names to try, no file', async () => {
    media.heygen.sounds.sound_effects = [];
    const j = failJson(await run(['sfx', 'qqqzzz', '--json']), 'SFX_NOT_FOUND');
    assert.match(j.hint, /chime/);
    assert.match(j.anomalies[0], /no match/);
    assert.deepEqual(listFiles(home.dir), []);
  });
});

describe('JS API: music() and sfx()', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: true, gemini: true });

  test('music(): HeyGen 402 → Lyria, with the anomaly in the result', async () => {
    media.heygen.queue(SOUNDS, PLAN_402);
    const out = file('js-bgm.wav');
    const r = await api.music('calm piano', { seconds: 2, output: out });
    assert.equal(r.provider, 'lyria');
    assert.equal(r.outputPath, out);
    assert.equal(r.sampleRate, 48000);
    assert.equal(r.channels, 2);
    assert.equal(r.durationSeconds, 2);
    assert.equal(r.anomalies.length, 1);
    assert.match(r.anomalies[0], /^heygen: HTTP 402.*plan_upgrade_required/);
    assert.equal(wav('js-bgm.wav').frames, 2 * 48000);
  });

  test('music() with noFallback: an Error with code and hint, no file, no key in it', async () => {
    media.heygen.queue(SOUNDS, { status: 401, json: { error: `key ${KEYS.heygen} is not valid` } });
    const out = file('js-bgm.wav');
    const err = await api.music('calm', { output: out, noFallback: true }).then(
      () => assert.fail('expected a rejection'),
      (e) => e,
    );
    assert.equal(err.code, 'PROVIDER_UNAUTHORIZED');
    assert.match(err.hint, /HEYGEN_API_KEY|auth login/);
    assertNoSecrets(`${err.message}\n${err.hint}\n${err.stack}`, Object.values(KEYS), 'the JS error');
    assert.ok(!fs.existsSync(out));
    assert.equal(media.gemini.connections, 0);
  });

  test('music() bad input: EMPTY_QUERY and BAD_DURATION, nothing contacted', async () => {
    await assert.rejects(api.music('  ', { output: file('a.wav') }), { code: 'EMPTY_QUERY' });
    await assert.rejects(api.music('calm', { seconds: 0, output: file('a.wav') }), { code: 'BAD_DURATION' });
    await assert.rejects(api.music('calm', { seconds: Number.NaN, output: file('a.wav') }), { code: 'BAD_DURATION' });
    assert.equal(media.connections(), 0);
  });

  test('sfx(): HeyGen, then the bundled library with an anomaly', async () => {
    const a = await api.sfx('whoosh', { output: file('a.wav') });
    assert.equal(a.provider, 'heygen');
    assert.deepEqual(a.anomalies, []);
    for (let i = 0; i < 3; i++) media.heygen.queue(SOUNDS, { status: 503, json: {} });
    const b = await api.sfx('whoosh', { output: file('b.wav') });
    assert.equal(b.provider, 'bundled');
    assert.match(b.anomalies[0], /^heygen: HTTP 503/);
    const c = await api.sfx('pop', { output: file('c.wav'), localOnly: true });
    assert.equal(c.provider, 'bundled');
    assert.equal(c.name, 'pop');
  });

  test('sfx() unknown provider: PROVIDER_UNAVAILABLE naming the choices', async () => {
    await assert.rejects(api.sfx('whoosh', { provider: 'freesound', output: file('a.wav') }), (e) => {
      assert.equal(e.code, 'PROVIDER_UNAVAILABLE');
      assert.match(e.message, /choose one of/);
      return true;
    });
    assert.ok(!fs.existsSync(file('a.wav')));
  });
});
