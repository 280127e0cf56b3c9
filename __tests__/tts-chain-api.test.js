'use strict';
// `tts()` and `ttsStream()` through the voice chain, like `hyperframes tts`: a pinned or planned
// hosted provider serves, failures fall through with `anomalies`, `noFallback` and `localOnly`
// behave as on the CLI. Against the media contract servers on 127.0.0.1.

const { describe, test, afterEach } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { assertNoSecrets } = require('./support/setup.js');
const { parseWav } = require('./support/voice.js');
const { useMedia, KEYS, MP3_SECONDS, setProcessEnv } = require('./support/media-servers.js');

const api = require('../lib/index.js');
const SPEECH = 'POST /v3/voices/speech';
const MARCIA = '05f19352e8f74b0392a8f411eba40de1';

let media;
let home;
let restore;
useMedia((m, h) => {
  media = m;
  home = h;
});
function useEnv(keys) {
  restore = setProcessEnv({ HOME: home.dir, HEYGEN_CONFIG_DIR: home.configDir, HYPERFRAMES_MODELS_DIR: home.modelsDir, ...media.env(keys) });
}
afterEach(() => {
  if (restore) restore();
  restore = null;
});

async function rejection(promise) {
  return promise.then(
    () => assert.fail('expected a rejection'),
    (e) => e,
  );
}

describe('tts() through the voice chain', () => {
  test('signed in, auto: HeyGen speaks; WAV buffer at its rate, words, output and captions files', async () => {
    useEnv({ heygen: true });
    const output = path.join(home.dir, 'hello.wav');
    const captions = path.join(home.dir, 'hello.srt');
    const r = await api.tts('Hello there friend.', { voice: MARCIA, output, captions });
    assert.equal(r.provider, 'heygen');
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.voice, MARCIA);
    const wav = parseWav(r.audio);
    assert.equal(wav.sampleRate, r.sampleRate);
    assert.ok(Math.abs(wav.frames / wav.sampleRate - MP3_SECONDS) < 0.06);
    assert.equal(r.durationSeconds, Math.round((wav.frames / wav.sampleRate) * 1000) / 1000);
    assert.deepEqual(r.words.map((w) => [w.id, w.text]), [['w0', 'Hello'], ['w1', 'there'], ['w2', 'friend.']]);
    assert.deepEqual(fs.readFileSync(output), r.audio);
    assert.match(fs.readFileSync(captions, 'utf8'), /^1\n00:00:00,000 --> /);
    const sent = media.heygen.hits(SPEECH)[0];
    assert.equal(sent.body.text, 'Hello there friend.');
    assert.equal(sent.headers['x-api-key'], KEYS.heygen);
  });

  test('a HeyGen 402 falls through to ElevenLabs, with the anomaly in the result', async () => {
    useEnv({ heygen: true, eleven: true });
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required', message: 'upgrade' } } });
    const r = await api.tts('Fall through please.');
    assert.equal(r.provider, 'elevenlabs');
    assert.equal(r.anomalies.length, 1);
    assert.match(r.anomalies[0], /^heygen: HTTP 402.*plan_upgrade_required/);
    assert.ok(r.words.length >= 3);
  });

  test('noFallback: rejects with the provider error; no file; no key in it', async () => {
    useEnv({ heygen: true, eleven: true });
    media.heygen.queue(SPEECH, { status: 401, json: { error: `key ${KEYS.heygen} is not valid` } });
    const output = path.join(home.dir, 'never.wav');
    const err = await rejection(api.tts('No fallback.', { noFallback: true, output }));
    assert.match(err.code, /^PROVIDER_/);
    assert.ok(err.hint);
    assertNoSecrets(`${err.message}\n${err.hint}`, Object.values(KEYS), 'the JS error');
    assert.equal(fs.existsSync(output), false);
    assert.equal(media.eleven.connections, 0);
  });

  test('when every provider fails, the Error carries what failed before the last one', async () => {
    useEnv({ heygen: true, eleven: true });
    media.heygen.queue(SPEECH, ...[1, 2, 3].map(() => ({ status: 503, json: { error: 'busy' } })));
    media.eleven.queue('POST /v1/text-to-speech/21m00Tcm4TlvDq8ikWAM/with-timestamps', { status: 401, json: { detail: { status: 'invalid_api_key' } } });
    // Kokoro, last, may not download its model here: its error is the one thrown.
    const err = await rejection(api.tts('Nobody can speak.', { download: false }));
    assert.equal(err.code, 'MODEL_MISSING');
    assert.equal(err.anomalies.length, 2, err.anomalies);
    assert.match(err.anomalies[0], /^heygen: HTTP 503/);
    assert.match(err.anomalies[1], /^elevenlabs: HTTP 401/);
    assert.doesNotMatch(err.message, /Anomalies/);
    assertNoSecrets(`${err.message}\n${err.hint}\n${err.anomalies}`, Object.values(KEYS), 'the JS error');
  });

  test('localOnly never connects, even when signed in; the missing local model is the error', async () => {
    useEnv({ heygen: true, eleven: true });
    const err = await rejection(api.tts('Offline please.', { localOnly: true }));
    assert.equal(err.code, 'MODEL_MISSING');
    assert.equal(media.connections(), 0);
  });

  test('HYPERFRAMES_OFFLINE=1 with a pinned hosted provider: refused, and the hint says why', async () => {
    useEnv({ heygen: true });
    process.env.HYPERFRAMES_OFFLINE = '1';
    const err = await rejection(api.tts('Hi.', { provider: 'heygen' }));
    assert.equal(err.code, 'PROVIDER_UNAVAILABLE');
    assert.match(err.hint, /HYPERFRAMES_OFFLINE/);
    assert.equal(media.connections(), 0);
  });

  test('an unknown provider is refused clearly', async () => {
    useEnv({ heygen: true });
    const err = await rejection(api.tts('Hi.', { provider: 'polly' }));
    assert.equal(err.code, 'PROVIDER_UNAVAILABLE');
    assert.match(err.message, /polly/);
    assert.equal(media.connections(), 0);
  });
});

describe('ttsStream() with a hosted provider', () => {
  test('yields the hosted audio as one chunk at its own rate', async () => {
    useEnv({ heygen: true });
    const chunks = [];
    for await (const c of api.ttsStream('Streaming one chunk.', { provider: 'heygen', voice: MARCIA })) chunks.push(c);
    assert.equal(chunks.length, 1);
    assert.equal(chunks[0].index, 0);
    assert.equal(chunks[0].count, 1);
    assert.ok(chunks[0].sampleRate > 0);
    assert.ok(Math.abs(chunks[0].samples.length / chunks[0].sampleRate - MP3_SECONDS) < 0.06);
    assert.deepEqual(chunks[0].words.map((w) => w.text), ['Streaming', 'one', 'chunk.']);
  });
});
