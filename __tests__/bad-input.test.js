'use strict';
// Bad input to the hosted chains (CLI and JS API), with contract servers on 127.0.0.1 standing by:
// every case fails with a stable `code` and a clear message, leaves no output file behind, and
// (where the input is ours to check) contacts nothing. Text over HeyGen's 5,000-character limit is
// not refused: it is split at sentences into several requests, laid end to end.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson } = require('./support/setup.js');
const { parseWav, listFiles } = require('./support/voice.js');
const { useMedia, KEYS, MP3_SECONDS, useApiEnv } = require('./support/media-servers.js');

const SPEECH = 'POST /v3/voices/speech';

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

async function run(args, { keys = { heygen: true, eleven: true, gemini: true }, env = {}, input } = {}) {
  const r = await runCli(args, { home, input, env: { ...media.env(keys), HYPERFRAMES_LOG: 'debug', ...env } });
  assertNoSecrets(r.output, Object.values(KEYS), `hyperframes ${args.join(' ')}`);
  return r;
}

/** exit 1, one JSON object `{ok:false, code, error}` on stdout, a message matching `re`. */
function refused(r, code, re) {
  assert.equal(r.code, 1, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
  const j = parseJson(r.stdout);
  assert.equal(j.ok, false, r.stdout);
  assert.equal(j.code, code, r.stdout);
  if (re) assert.match(j.error, re);
  return j;
}

function nothingWritten() {
  assert.deepEqual(listFiles(home.dir), [], 'an output file was left behind');
}

/** A sentence-per-line text of about `n` characters. */
function longText(n) {
  const sentences = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const s = `Sentence number ${i} tells a short story about the sea and the sky.`;
    sentences.push(s);
    len += s.length + 1;
  }
  return sentences.join(' ');
}

describe('tts through the hosted chain', () => {
  for (const [name, args] of [
    ['empty text', ['tts', '', '-o', 'out.wav', '--json']],
    ['blank text', ['tts', ' \n\t ', '-o', 'out.wav', '--json']],
    ['blank stdin', ['tts', '-', '-o', 'out.wav', '--json']],
  ]) {
    test(`${name}: EMPTY_TEXT, nothing contacted`, async () => {
      refused(await run(args, { input: '   ' }), 'EMPTY_TEXT', /text/i);
      assert.equal(media.connections(), 0);
      nothingWritten();
    });
  }

  test('text over 5,000 characters is split at sentences: several requests, one timeline', async () => {
    const text = longText(7_500);
    fs.writeFileSync(path.join(home.dir, 'long.txt'), text);
    const r = await run(['tts', 'long.txt', '-o', 'out.wav', '--words', 'w.json', '--json']);
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.equal(j.provider, 'heygen');
    const reqs = media.heygen.hits(SPEECH);
    assert.equal(reqs.length, 2);
    for (const q of reqs) {
      assert.ok(q.body.text.length <= 5000, `a request of ${q.body.text.length} characters`);
      assert.match(q.body.text, /\.$/, 'cut at a sentence end');
    }
    assert.equal(`${reqs[0].body.text} ${reqs[1].body.text}`, text);
    const words = JSON.parse(fs.readFileSync(path.join(home.dir, 'w.json'), 'utf8'));
    assert.equal(words.length, text.split(' ').length);
    assert.deepEqual(words.map((w) => w.id), words.map((_, i) => `w${i}`));
    for (let i = 1; i < words.length; i++) assert.ok(words[i].start >= words[i - 1].start - 1e-9, `word ${i} goes back in time`);
    const first2 = words.findIndex((w) => w.start >= MP3_SECONDS - 1e-6);
    assert.ok(first2 > 0, 'the second part starts after the first part');
    const w = parseWav(fs.readFileSync(path.join(home.dir, 'out.wav')));
    assert.ok(Math.abs(w.frames / w.sampleRate - 2 * MP3_SECONDS) < 0.1, `duration ${w.frames / w.sampleRate}`);
  });

  test('an unknown --provider: USAGE with the choices, nothing contacted', async () => {
    const j = refused(await run(['tts', 'Hello', '--provider', 'polly', '--json']), 'USAGE', /polly/);
    assert.match(j.error, /provider/);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('an unknown HeyGen voice: the 400 is ours to fix, so no fall-through and no file', async () => {
    const id = '0'.repeat(32);
    media.heygen.queue(SPEECH, { status: 400, json: { error: { code: 'invalid_parameter', message: `voice_id ${id} is not a Starfish voice` } } });
    const j = refused(await run(['tts', 'Hello', '--voice', id, '-o', 'out.wav', '--json']), 'PROVIDER_BAD_REQUEST', /Starfish voice/);
    assert.equal(j.provider, 'heygen');
    assert.equal(media.eleven.connections, 0);
    nothingWritten();
  });

  test('an unknown ElevenLabs voice: PROVIDER_NOT_FOUND naming it, no file', async () => {
    const j = refused(await run(['tts', 'Hello', '--provider', 'elevenlabs', '--voice', 'NoSuchVoice123', '-o', 'out.wav', '--json']), 'PROVIDER_NOT_FOUND', /NoSuchVoice123/);
    assert.equal(j.provider, 'elevenlabs');
    nothingWritten();
  });

  test('a voice id that cannot be sent anywhere: refused before any request, named once', async () => {
    const j = refused(await run(['tts', 'Hello', '--voice', 'not a voice!', '-o', 'out.wav', '--json']), 'PROVIDER_BAD_REQUEST', /not a valid voice id/);
    assert.doesNotMatch(j.error, /elevenlabs: elevenlabs:/);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('a speed HeyGen does not take: refused before any request, named once', async () => {
    const j = refused(await run(['tts', 'Hello', '--speed', '2.5', '-o', 'out.wav', '--json']), 'PROVIDER_BAD_REQUEST', /speed must be between 0\.5 and 2/);
    assert.doesNotMatch(j.error, /heygen: heygen:/);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('a bad speed, captions or audio name: refused before any request', async () => {
    refused(await run(['tts', 'Hello', '--speed', 'fast', '-o', 'out.wav', '--json']), 'BAD_SPEED');
    refused(await run(['tts', 'Hello', '--captions', 'caps.txt', '-o', 'out.wav', '--json']), 'BAD_OUTPUT', /\.srt or \.vtt/);
    refused(await run(['tts', 'Hello', '-o', 'out.mp3', '--json']), 'BAD_OUTPUT', /must end in \.wav/);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('a missing --text-file: BAD_INPUT, nothing contacted', async () => {
    refused(await run(['tts', '--text-file', 'nope.txt', '-o', 'out.wav', '--json']), 'BAD_INPUT', /nope\.txt/);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });
});

describe('music, sfx, describe, captions', () => {
  test('music: empty prompt, bad lengths, unknown provider', async () => {
    refused(await run(['music', ' ', '--json']), 'EMPTY_QUERY');
    refused(await run(['music', 'calm', '--seconds', '0', '--json']), 'BAD_DURATION');
    refused(await run(['music', 'calm', '--seconds=-3', '--json']), 'BAD_DURATION');
    refused(await run(['music', 'calm', '--seconds', '-1', '--json']), 'BAD_DURATION');
    refused(await run(['music', 'calm', '--seconds', '7200', '--json']), 'BAD_DURATION');
    const j = refused(await run(['music', 'calm', '--provider', 'suno', '--json']), 'PROVIDER_UNAVAILABLE', /choose one of: heygen, lyria/);
    assert.ok(j.hint);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('sfx: empty query, unknown provider', async () => {
    refused(await run(['sfx', '', '--json']), 'EMPTY_QUERY');
    refused(await run(['sfx', 'pop', '--provider', 'freesound', '--json']), 'PROVIDER_UNAVAILABLE', /choose one of: heygen, bundled/);
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('sfx: unsupported audio from HeyGen (an Ogg container of garbage) with --no-fallback: BAD_AUDIO, no file', async () => {
    media.cdn.files['sfx.wav'] = { body: Buffer.concat([Buffer.from('OggS'), Buffer.alloc(600, 7)]), type: 'audio/ogg' };
    const j = refused(await run(['sfx', 'whoosh', '--no-fallback', '--json']), 'BAD_AUDIO');
    assert.equal(j.provider, 'heygen');
    nothingWritten();
  });

  test('describe: an unknown provider is refused; no images is a usage error', async () => {
    refused(await run(['describe', 'x.png', '--provider', 'claude', '--json'], { keys: { heygen: false, openrouter: true } }), 'PROVIDER_UNAVAILABLE');
    refused(await run(['describe', '--json']), 'USAGE');
    assert.equal(media.connections(), 0);
  });

  test('captions: a missing file, not JSON, not words, an inverted time range', async () => {
    // Read through fsio::input: a missing input is BAD_INPUT, as for every input file.
    refused(await run(['captions', 'nope.json', '--json']), 'BAD_INPUT', /nope\.json/);
    fs.writeFileSync(path.join(home.dir, 'a.json'), 'not json');
    refused(await run(['captions', 'a.json', '--json']), 'BAD_INPUT', /not JSON/);
    fs.writeFileSync(path.join(home.dir, 'b.json'), JSON.stringify([{ word: 'x' }]));
    refused(await run(['captions', 'b.json', '--json']), 'BAD_INPUT', /words like/);
    fs.writeFileSync(path.join(home.dir, 'typo.json'), JSON.stringify([{ text: 'x', strat: 0, end: 1 }]));
    refused(await run(['captions', 'typo.json', '--json']), 'BAD_INPUT', /unknown key "strat" \(did you mean "start"\?\)/);
    fs.writeFileSync(path.join(home.dir, 'c.json'), JSON.stringify([{ text: 'x', start: 2, end: 1 }]));
    refused(await run(['captions', 'c.json', '-o', 'c.srt', '--json']), 'BAD_INPUT', /invalid time range/);
    refused(await run(['captions', 'c.json', '--to', 'docx', '--json']), 'BAD_OUTPUT');
    assert.ok(!fs.existsSync(path.join(home.dir, 'c.srt')));
  });

  test('captions: `tts --json` output converts to SRT', async () => {
    const r = await run(['tts', 'One two three.', '-o', 'out.wav', '--json']);
    fs.writeFileSync(path.join(home.dir, 'tts.json'), r.stdout);
    const c = await run(['captions', 'tts.json', '-o', 'caps.vtt', '--json']);
    assert.equal(c.code, 0, c.output);
    assert.deepEqual(parseJson(c.stdout), { ok: true, outputPath: 'caps.vtt', outputPaths: ['caps.vtt'], cues: 1, wordCount: 3 });
    // Held for the 5/6 s minimum a cue stays on screen (broadcast rules), as no cue follows.
    assert.match(fs.readFileSync(path.join(home.dir, 'caps.vtt'), 'utf8'), /^WEBVTT\n\n00:00:00\.000 --> 00:00:00\.833\nOne two three\.\n/);
  });
});

describe('JS API bad input', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: true, openrouter: true });

  test('sfx/music/describe: stable codes, no file, nothing contacted', async () => {
    await assert.rejects(api.sfx('   ', { output: path.join(home.dir, 'a.wav') }), { code: 'EMPTY_QUERY' });
    await assert.rejects(api.music('calm', { seconds: -1, output: path.join(home.dir, 'a.wav') }), { code: 'BAD_DURATION' });
    await assert.rejects(api.music('calm', { provider: 'suno', output: path.join(home.dir, 'a.wav') }), { code: 'PROVIDER_UNAVAILABLE' });
    for (const seed of [1.5, -1, 2 ** 53]) {
      await assert.rejects(api.music('calm', { seed, output: path.join(home.dir, 'a.wav') }), { code: 'BAD_SEED' });
    }
    await assert.rejects(api.describe([path.join(home.dir, 'x.png')], { provider: 'claude' }), { code: 'PROVIDER_UNAVAILABLE' });
    const r = await api.describe([path.join(home.dir, 'missing.png')]);
    assert.equal(r.images[0].code, 'IO_ERROR');
    assert.equal(media.connections(), 0);
    nothingWritten();
  });

  test('tts(): empty text and a bad speed are refused before anything else', async () => {
    await assert.rejects(api.tts('  '), { code: 'EMPTY_TEXT' });
    await assert.rejects(api.tts('Hello', { speed: 0 }), { code: 'BAD_SPEED' });
    await assert.rejects(api.tts('Hello', { captions: path.join(home.dir, 'x.txt') }), { code: 'BAD_OUTPUT' });
    assert.equal(media.connections(), 0);
    nothingWritten();
  });
});
