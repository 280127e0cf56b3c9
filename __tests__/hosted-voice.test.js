'use strict';
// `hyperframes tts` / `voices` against HeyGen and ElevenLabs contract servers on 127.0.0.1: the
// request shapes, presigned downloads without auth, words and captions, every failure mode with
// its fall-through (HeyGen → ElevenLabs) and `anomalies` entry, `--no-fallback`, and
// `--local-only` / HYPERFRAMES_OFFLINE=1 (zero connections). Every run has HYPERFRAMES_LOG=debug and
// its output is checked for the providers' keys.

const { describe, test, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson, isoIn, okJson, failJson } = require('./support/setup.js');
const { parseWav, parseSrt, parseVtt, listFiles } = require('./support/voice.js');
const { useMedia, KEYS, MP3_SECONDS } = require('./support/media-servers.js');

const SPEECH = 'POST /v3/voices/speech';
const RACHEL = '21m00Tcm4TlvDq8ikWAM';
const EL_TTS = `POST /v1/text-to-speech/${RACHEL}/with-timestamps`;
const MARCIA = '05f19352e8f74b0392a8f411eba40de1';
const AT = 'at_SECRETACCESS_voice_0123456789';
const RT = 'rt_SECRETREFRESH_voice_0123456789';

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

/** Every secret a run might leak: the static keys and any token the fake issued. */
function secrets() {
  const s = [...Object.values(KEYS), AT, RT];
  for (const t of media.heygen.issued) s.push(t.access_token, t.refresh_token);
  return s;
}

/** Runs the CLI with keys for `keys` (default HeyGen + ElevenLabs), debug logging, and checks for leaks. */
async function run(args, { keys = { heygen: true, eleven: true }, env = {}, ...opts } = {}) {
  const r = await runCli(args, { home, env: { ...media.env(keys), HYPERFRAMES_LOG: 'debug', ...env }, ...opts });
  assertNoSecrets(r.output, secrets(), `hyperframes ${args.join(' ')}`);
  return r;
}

const file = (name) => path.join(home.dir, name);
const wav = (name) => parseWav(fs.readFileSync(file(name)));

/** HeyGen failed, ElevenLabs spoke: one anomaly naming heygen and matching `re`. */
function fellThrough(j, re) {
  assert.equal(j.provider, 'elevenlabs', JSON.stringify(j));
  assert.equal(j.voice, RACHEL);
  assert.equal(j.anomalies.length, 1, JSON.stringify(j.anomalies));
  assert.match(j.anomalies[0], /^heygen: /);
  assert.match(j.anomalies[0], re);
  assert.equal(media.eleven.hits(EL_TTS).length, 1);
  const w = wav('out.wav');
  assert.equal(w.sampleRate, 44100);
  assert.ok(Math.abs(w.frames / w.sampleRate - MP3_SECONDS) < 0.06, `duration ${w.frames / w.sampleRate}`);
}

describe('HeyGen Starfish speech', () => {
  test('request shape, presigned download without auth, words, SRT and VTT captions', async () => {
    const r = await run(['tts', 'Hello there, bright world.', '-o', 'out.wav', '--words', 'words.json', '--captions', 'caps.srt', '--json']);
    const j = okJson(r);
    assert.equal(j.provider, 'heygen');
    assert.equal(j.voice, MARCIA);
    assert.deepEqual(j.anomalies, []);

    const [req, ...more] = media.heygen.hits(SPEECH);
    assert.equal(more.length, 0);
    assert.deepEqual(req.body, { text: 'Hello there, bright world.', voice_id: MARCIA, speed: 1 });
    assert.equal(req.headers['x-api-key'], KEYS.heygen);
    assert.equal(req.headers['x-heygen-client-source'], 'hyperframes');
    assert.match(req.headers['content-type'], /application\/json/);

    const [dl, ...moreDl] = media.cdn.log;
    assert.equal(moreDl.length, 0);
    assert.equal(dl.path, '/audio/speech.mp3');
    assert.equal(dl.query['X-Amz-Signature'], 'presigned');
    for (const h of ['x-api-key', 'authorization', 'x-heygen-client-source', 'x-heygen-source', 'cookie']) {
      assert.equal(dl.headers[h], undefined, `the presigned download carried ${h}`);
    }
    assert.equal(media.eleven.connections, 0);

    // Words: sentinels dropped, ids re-numbered, seconds.
    const words = JSON.parse(fs.readFileSync(file('words.json'), 'utf8'));
    assert.deepEqual(
      words.map((w) => [w.id, w.text]),
      [['w0', 'Hello'], ['w1', 'there,'], ['w2', 'bright'], ['w3', 'world.']],
    );
    for (const w of words) {
      assert.deepEqual(Object.keys(w).sort(), ['end', 'id', 'start', 'text']);
      assert.ok(w.start >= 0 && w.end >= w.start && w.end <= MP3_SECONDS + 1e-9, JSON.stringify(w));
    }
    assert.deepEqual(j.words, words);
    assert.equal(words[3].end, 0.5);

    const cues = parseSrt(fs.readFileSync(file('caps.srt'), 'utf8'));
    assert.equal(cues.map((c) => c.text).join(' '), 'Hello there, bright world.');
    assert.equal(cues[0].start, 0);

    const w = wav('out.wav');
    assert.equal(w.sampleRate, 44100);
    assert.equal(w.channels, 1);
    assert.ok(Math.abs(w.frames / w.sampleRate - MP3_SECONDS) < 0.06);
    assert.ok(Math.abs(j.durationSeconds - MP3_SECONDS) < 0.06);

    // VTT from a second run (human output this time).
    const r2 = await run(['tts', 'Hello there, bright world.', '-o', 'out2.wav', '--captions', 'caps.vtt']);
    assert.equal(r2.code, 0, r2.output);
    assert.match(r2.stdout, /out2\.wav .*heygen voice 05f19352e8f74b0392a8f411eba40de1, 4 words/);
    const vtt = parseVtt(fs.readFileSync(file('caps.vtt'), 'utf8'));
    assert.equal(vtt.map((c) => c.text).join(' '), 'Hello there, bright world.');
  });

  test('another language: the catalog is paged for its first voice, and `language` is sent', async () => {
    const j = okJson(await run(['tts', 'Hola a todos', '--lang', 'es', '-o', 'out.wav', '--json']));
    assert.equal(j.provider, 'heygen');
    const voices = media.heygen.hits('GET /v3/voices');
    assert.ok(voices.length >= 1);
    assert.deepEqual({ ...voices[0].query }, { engine: 'starfish', type: 'public', limit: '50' });
    const spanish = media.heygen.voicePages.flat().find((v) => v.language === 'Spanish');
    assert.equal(j.voice, spanish.voice_id);
    const [req] = media.heygen.hits(SPEECH);
    assert.deepEqual(req.body, { text: 'Hola a todos', voice_id: spanish.voice_id, speed: 1, language: 'es' });
  });

  test('an explicit voice and speed are sent as given; English sends no language', async () => {
    const id = 'ab'.repeat(16);
    okJson(await run(['tts', 'Quick one', '--voice', id, '--speed', '1.5', '--lang', 'en', '-o', 'out.wav', '--json']));
    const [req] = media.heygen.hits(SPEECH);
    assert.deepEqual(req.body, { text: 'Quick one', voice_id: id, speed: 1.5 });
    assert.equal(media.heygen.hits('GET /v3/voices').length, 0);
  });

  test('voices --provider heygen: every page of the Starfish catalog', async () => {
    const j = okJson(await run(['voices', '--provider', 'heygen', '--json']));
    assert.equal(j.provider, 'heygen');
    const all = media.heygen.voicePages.flat();
    assert.deepEqual(j.voices.map((v) => v.id), all.map((v) => v.voice_id));
    assert.deepEqual(Object.keys(j.voices[0]).sort(), ['gender', 'id', 'language', 'name']);
    const pages = media.heygen.hits('GET /v3/voices');
    assert.equal(pages.length, 2);
    assert.equal(pages[0].query.engine, 'starfish');
    assert.equal(pages[0].query.token, undefined);
    assert.equal(pages[1].query.token, 'page_1');
    for (const p of pages) assert.equal(p.headers['x-api-key'], KEYS.heygen);

    const es = okJson(await run(['voices', '--provider', 'heygen', '--lang', 'Spanish', '--json']));
    assert.deepEqual(es.voices.map((v) => v.language), ['Spanish']);
  });
  test('hostile word times and a clip cut short: words checked against the audio, reported, captions sane', async () => {
    media.heygen.queue(SPEECH, {
      status: 200,
      json: {
        data: {
          audio_url: `${media.cdn.url}/audio/speech.mp3?X-Amz-Signature=presigned`,
          duration: 1e308,
          word_timestamps: [
            { word: 'Hello', start: 0.05, end: 0.2 },
            { word: 'huge', start: 1e308, end: 1e308 },
            { word: 'negative', start: -4, end: 0.25 },
            { word: 'there\u0000\u001b[2J', start: 0.25, end: 0.2 },
            { word: 'late', start: 0.4, end: 3.0 },
          ],
        },
      },
    });
    const r = await run(['tts', 'Hello there late', '-o', 'out.wav', '--words', 'words.json', '--captions', 'caps.srt', '--json']);
    const j = okJson(r);
    assert.equal(j.provider, 'heygen');
    for (const re of [/not a plausible length/, /2 words dropped: a time is not a number/, /control characters removed/, /ending before it starts/, /the audio looks truncated: 1 word runs past its end/]) {
      assert.ok(j.anomalies.some((a) => a.startsWith('heygen: ') && re.test(a)), `${re}: ${JSON.stringify(j.anomalies)}`);
    }
    const raw = fs.readFileSync(file('words.json'), 'utf8');
    assert.ok(!raw.includes('null') && !/[\u0000-\u0008\u001b\u007f]/.test(raw), raw);
    const words = JSON.parse(raw);
    assert.deepEqual(words.map((w) => w.text), ['Hello', 'there[2J', 'late']);
    for (const w of words) assert.ok(w.start >= 0 && w.start <= w.end && w.end <= MP3_SECONDS + 0.01, JSON.stringify(w));
    for (const c of parseSrt(fs.readFileSync(file('caps.srt'), 'utf8'))) assert.ok(c.end < 2, JSON.stringify(c));
    // Our own `captions` reads the words file back.
    const again = await run(['captions', file('words.json'), '--to', 'vtt', '-o', 'again.vtt']);
    assert.equal(again.code, 0, again.output);
  });
});

describe('HeyGen failures fall through to ElevenLabs with an anomaly', () => {
  test('401 with an API key (the body echoes the key)', async () => {
    media.heygen.apiKeys.clear();
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /HTTP 401/);
    assert.equal(media.heygen.hits(SPEECH).length, 1, '401 is not retried with an API key');
  });

  test('401 with OAuth: one refresh, then the replay succeeds', async () => {
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(3600), token_type: 'Bearer' } });
    media.heygen.addRefreshToken(RT); // the access token itself is not accepted
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json'], { keys: { heygen: false, eleven: true } }));
    assert.equal(j.provider, 'heygen');
    assert.deepEqual(j.anomalies, []);
    const speech = media.heygen.hits(SPEECH);
    assert.equal(speech.length, 2);
    assert.equal(speech[0].headers.authorization, `Bearer ${AT}`);
    assert.equal(speech[0].headers['x-heygen-source'], 'cli');
    assert.equal(speech[1].headers.authorization, `Bearer ${media.heygen.issued[0].access_token}`);
    assert.equal(media.heygen.requests('token').length, 1);
    assert.equal(home.read().oauth.access_token, media.heygen.issued[0].access_token, 'the rotated token is saved');
    assert.equal(media.eleven.connections, 0);
  });

  test('401 with OAuth whose refresh is refused: falls through, login hint kept out of the way', async () => {
    home.write({ oauth: { access_token: AT, refresh_token: RT, expires_at: isoIn(3600), token_type: 'Bearer' } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json'], { keys: { heygen: false, eleven: true } }));
    fellThrough(j, /expired|refresh/i);
    assert.equal(media.heygen.hits(SPEECH).length, 1);
    assert.equal(media.heygen.requests('token').length, 1);
  });

  test('402 plan_upgrade_required: the error code is in the anomaly, no retry', async () => {
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required', message: 'Upgrade your plan' } } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /HTTP 402.*plan_upgrade_required/);
    assert.equal(media.heygen.hits(SPEECH).length, 1);
  });

  test('402 in human output: the anomaly is printed on stderr', async () => {
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required', message: 'Upgrade your plan' } } });
    const r = await run(['tts', 'Hello there', '-o', 'out.wav']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stderr, /! heygen: HTTP 402.*plan_upgrade_required/);
    assert.match(r.stdout, /elevenlabs voice 21m00Tcm4TlvDq8ikWAM/);
  });

  test('429 with Retry-After: the wait is honoured, then HeyGen serves', async () => {
    media.heygen.queue(SPEECH, { status: 429, headers: { 'retry-after': '1' }, json: { error: { code: 'rate_limited' } } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    assert.equal(j.provider, 'heygen');
    assert.deepEqual(j.anomalies, []);
    const [first, second, ...rest] = media.heygen.hits(SPEECH);
    assert.equal(rest.length, 0);
    assert.ok(second.at - first.at >= 900, `retried after ${second.at - first.at} ms, Retry-After said 1 s`);
    assert.equal(media.eleven.connections, 0);
  });

  test('429 on every attempt: bounded, then falls through', async () => {
    for (let i = 0; i < 5; i++) media.heygen.queue(SPEECH, { status: 429, headers: { 'retry-after': '0' }, json: { error: 'slow down' } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /HTTP 429/);
    assert.equal(media.heygen.hits(SPEECH).length, 3);
  });

  test('429 asking for a wait beyond the limit: no wait, falls through with the reason', async () => {
    media.heygen.queue(SPEECH, { status: 429, headers: { 'retry-after': '3600' }, json: { error: 'come back later' } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /HTTP 429/);
    assert.equal(media.heygen.hits(SPEECH).length, 1);
  });

  test('5xx: three attempts, then falls through', async () => {
    for (let i = 0; i < 5; i++) media.heygen.queue(SPEECH, { status: 503, json: { error: 'busy' } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /HTTP 503/);
    assert.equal(media.heygen.hits(SPEECH).length, 3);
  });

  test('5xx once: the retry succeeds', async () => {
    media.heygen.queue(SPEECH, { status: 500, json: { error: 'oops' } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    assert.equal(j.provider, 'heygen');
    assert.equal(media.heygen.hits(SPEECH).length, 2);
  });

  test('a slow response times out (HYPERFRAMES_PROVIDER_TIMEOUT_MS), then falls through', { timeout: 60_000 }, async () => {
    for (let i = 0; i < 3; i++) media.heygen.queue(SPEECH, { delayMs: 5000, fallthrough: true });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json'], { env: { HYPERFRAMES_PROVIDER_TIMEOUT_MS: '1000' } }));
    fellThrough(j, /timed out/);
    assert.equal(media.heygen.hits(SPEECH).length, 3);
  });

  test('a truncated body (Content-Length larger than sent): retried, then falls through', async () => {
    for (let i = 0; i < 3; i++) media.heygen.queue(SPEECH, { status: 200, json: { data: { audio_url: 'x', word_timestamps: [] } }, truncate: true });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /heygen speech/);
    assert.equal(media.heygen.hits(SPEECH).length, 3);
  });

  test('a truncated audio download falls through', async () => {
    for (let i = 0; i < 3; i++) media.cdn.queue('GET /audio/speech.mp3', { status: 200, body: Buffer.alloc(4000, 0xff), truncate: true });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /download/);
  });

  test('an oversized body (over the 1 MiB cap for API replies): not retried, falls through', async () => {
    const huge = { data: { audio_url: 'x', padding: 'x'.repeat(2 * 1024 * 1024) } };
    media.heygen.queue(SPEECH, { status: 200, json: huge });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /larger than/);
    assert.equal(media.heygen.hits(SPEECH).length, 1);
  });

  test('undecodable audio falls through', async () => {
    media.cdn.files['speech.mp3'] = { body: Buffer.from('<html>Access denied</html>'.repeat(20)), type: 'audio/mpeg' };
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /heygen/);
  });

  test('a reply without audio_url falls through', async () => {
    media.heygen.queue(SPEECH, { status: 200, json: { data: { word_timestamps: [] } } });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /audio_url/);
  });

  test('an expired presigned link (403) falls through', async () => {
    media.cdn.queue('GET /audio/speech.mp3', { status: 403, body: '<Error>Request has expired</Error>' });
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json']));
    fellThrough(j, /presigned/);
  });

  test('HeyGen unreachable (connection refused) falls through', async () => {
    const j = okJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--json'], { env: { HEYGEN_API_URL: 'http://127.0.0.1:9' } }));
    fellThrough(j, /heygen/);
  });
});

describe('--no-fallback, pinning and failures with nothing left', () => {
  test('--no-fallback: the first failure, exit 1, JSON error, no output file, ElevenLabs untouched', async () => {
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required', message: 'Upgrade your plan' } } });
    const r = await run(['tts', 'Hello there', '-o', 'out.wav', '--words', 'w.json', '--no-fallback', '--json']);
    const j = failJson(r, 'PROVIDER_PAYMENT_REQUIRED');
    assert.equal(j.provider, 'heygen');
    assert.match(j.error, /plan_upgrade_required/);
    assert.match(j.hint, /upgrade/i);
    assert.deepEqual(j.anomalies, []);
    assert.equal(media.eleven.connections, 0);
    assert.deepEqual(listFiles(home.dir), []);
  });

  test('--no-fallback in human output: message and hint on stderr, nothing on stdout', async () => {
    for (let i = 0; i < 3; i++) media.heygen.queue(SPEECH, { status: 503, json: { error: 'busy' } });
    const r = await run(['tts', 'Hello there', '-o', 'out.wav', '--no-fallback']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /HTTP 503/);
    assert.ok(!fs.existsSync(file('out.wav')));
  });

  test('--provider heygen alone: its failure is the error (no fall-through)', async () => {
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required' } } });
    const j = failJson(await run(['tts', 'Hello there', '-o', 'out.wav', '--provider', 'heygen', '--json']), 'PROVIDER_PAYMENT_REQUIRED');
    assert.equal(j.provider, 'heygen');
    assert.equal(media.eleven.connections, 0);
    assert.ok(!fs.existsSync(file('out.wav')));
  });

  test('both hosted providers fail: the last error carries the earlier one as an anomaly', async () => {
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required' } } });
    media.eleven.apiKeys.clear();
    const r = await run(['tts', 'Hello there', '-o', 'out.wav', '--no-download', '--json']);
    assert.equal(r.code, 1, r.output);
    const j = parseJson(r.stdout);
    assert.equal(j.ok, false);
    // Kokoro (no model here, downloads refused) is the last link when ONNX Runtime is present.
    assert.ok(['MODEL_MISSING', 'PROVIDER_UNAUTHORIZED'].includes(j.code), r.stdout);
    assert.ok(j.anomalies.some((a) => /^heygen: HTTP 402/.test(a)), r.stdout);
    if (j.code === 'MODEL_MISSING') assert.ok(j.anomalies.some((a) => /^elevenlabs: HTTP 401/.test(a)), r.stdout);
    assert.ok(!fs.existsSync(file('out.wav')));
  });
});

describe('local-only: nothing is contacted', () => {
  const offline = [
    ['--local-only', ['tts', 'Hello there', '-o', 'out.wav', '--local-only', '--json'], {}],
    ['HYPERFRAMES_OFFLINE=1', ['tts', 'Hello there', '-o', 'out.wav', '--json'], { HYPERFRAMES_OFFLINE: '1' }],
    ['--local-only --provider kokoro', ['tts', 'Hello there', '-o', 'out.wav', '--provider', 'kokoro', '--local-only', '--json'], {}],
  ];
  for (const [name, args, env] of offline) {
    test(`${name} with every key set: zero connections, a clear MODEL_MISSING without the model`, async () => {
      const r = await run(args, { keys: { heygen: true, eleven: true, gemini: true, openrouter: true }, env });
      assert.equal(media.connections(), 0, `connections: ${media.all.map((s) => `${s.name}=${s.connections}`).join(' ')}`);
      const j = failJson(r, 'MODEL_MISSING');
      assert.match(j.hint, /hyperframes models install kokoro/);
      assert.ok(!fs.existsSync(file('out.wav')));
    });
  }

  test('--local-only --provider heygen: refused, zero connections', async () => {
    const j = failJson(await run(['tts', 'Hello', '--provider', 'heygen', '--local-only', '--json']), 'PROVIDER_UNAVAILABLE');
    assert.match(j.error, /local-only/);
    assert.equal(media.connections(), 0);
  });

  test('voices --local-only and tts --list --local-only: the local catalog, zero connections', async () => {
    const v = okJson(await run(['voices', '--local-only', '--json']));
    assert.equal(v.provider, 'kokoro');
    const r = await run(['tts', '--list', '--provider', 'heygen', '--local-only', '--json']);
    assert.equal(media.connections(), 0, `tts --list --provider heygen --local-only connected (${r.stdout.slice(0, 200)})`);
    assert.equal(r.code, 1, r.output);
    assert.equal(parseJson(r.stdout).code, 'PROVIDER_UNAVAILABLE');
  });
});

describe('ElevenLabs with timestamps', () => {
  test('--provider elevenlabs: xi-api-key, voice id in the path, characters rebuilt into words', async () => {
    const r = await run(['tts', 'Hi there, friend', '--provider', 'elevenlabs', '-o', 'out.wav', '--words', 'w.json', '--json']);
    const j = okJson(r);
    assert.equal(j.provider, 'elevenlabs');
    assert.equal(j.voice, RACHEL);
    assert.deepEqual(j.anomalies, []);
    const [req, ...more] = media.eleven.hits(EL_TTS);
    assert.equal(more.length, 0);
    assert.equal(req.headers['xi-api-key'], KEYS.eleven);
    assert.equal(req.headers['x-api-key'], undefined);
    assert.equal(req.query.output_format, 'mp3_44100_128');
    assert.deepEqual(req.body, { text: 'Hi there, friend', model_id: 'eleven_multilingual_v2' });
    const words = JSON.parse(fs.readFileSync(file('w.json'), 'utf8'));
    assert.deepEqual(words.map((w) => [w.id, w.text]), [['w0', 'Hi'], ['w1', 'there,'], ['w2', 'friend']]);
    // 16 characters over 0.5 s: "there," is characters 3–8.
    const per = MP3_SECONDS / 16;
    assert.ok(Math.abs(words[1].start - 3 * per) < 0.002 && Math.abs(words[1].end - 9 * per) < 0.002, JSON.stringify(words[1]));
    assert.equal(media.heygen.connections, 0);
  });

  test('an ElevenLabs voice id routes to ElevenLabs (HeyGen skipped with an anomaly); speed is sent', async () => {
    const j = okJson(await run(['tts', 'Hello', '--voice', 'SAz9YHcvj6GT2YYXdXww', '--speed', '1.1', '-o', 'out.wav', '--json']));
    assert.equal(j.provider, 'elevenlabs');
    assert.equal(j.voice, 'SAz9YHcvj6GT2YYXdXww');
    assert.match(j.anomalies[0], /^heygen: skipped/);
    assert.equal(media.heygen.connections, 0);
    const [req] = media.eleven.hits('POST /v1/text-to-speech/SAz9YHcvj6GT2YYXdXww/with-timestamps');
    assert.deepEqual(req.body.voice_settings, { speed: 1.1 });
  });

  test('voices --provider elevenlabs', async () => {
    const j = okJson(await run(['voices', '--provider', 'elevenlabs', '--json']));
    assert.deepEqual(j.voices.map((v) => v.id), [RACHEL, 'SAz9YHcvj6GT2YYXdXww']);
    assert.equal(media.eleven.hits('GET /v1/voices')[0].headers['xi-api-key'], KEYS.eleven);
  });

  test('a misaligned reply (lists of different lengths) is a clear provider error', async () => {
    media.eleven.queue(EL_TTS, { status: 200, json: { audio_base64: 'AAAA', alignment: { characters: ['a', 'b'], character_start_times_seconds: [0], character_end_times_seconds: [0.1, 0.2] } } });
    const j = failJson(await run(['tts', 'ab', '--provider', 'elevenlabs', '-o', 'out.wav', '--json']), 'PROVIDER_BAD_RESPONSE');
    assert.equal(j.provider, 'elevenlabs');
    assert.ok(!fs.existsSync(file('out.wav')));
  });
});
