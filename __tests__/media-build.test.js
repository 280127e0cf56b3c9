'use strict';
// `hyperframes media build` and `buildMedia()` against the media contract servers on 127.0.0.1: a
// script's lines, cues and bed; a failed line never stopping the others; per-line fall-through;
// incremental rebuilds; local-only with zero connections; bad requests refused before anything is
// written. Also `tts --stream` with a hosted provider.

const { describe, test, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { runCli } = require('./support/cli.js');
const { assertNoSecrets, parseJson } = require('./support/setup.js');
const { parseWav, listFiles, runRaw } = require('./support/voice.js');
const { useMedia, KEYS, MP3_SECONDS, useApiEnv } = require('./support/media-servers.js');

const SPEECH = 'POST /v3/voices/speech';
const MARCIA = '05f19352e8f74b0392a8f411eba40de1';

let media;
let home;
useMedia((m, h) => {
  media = m;
  home = h;
});

const SCRIPT = {
  voice: MARCIA,
  lines: [
    { id: 'intro', text: 'Ship videos from code.', sfx: ['whoosh', { name: 'pop', at: 0.25, volume: 0.5 }] },
    { id: 'empty', text: '   ' },
    { id: 'outro', text: 'Thanks for watching.', sfx: ['Whoosh'] },
  ],
  music: { prompt: 'calm cinematic underscore' },
};

function writeRequest(value, name = 'request.json') {
  const p = path.join(home.dir, name);
  fs.writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value));
  return p;
}

async function build(args, { keys = { heygen: true, eleven: true }, env = {}, ...opts } = {}) {
  const r = await runCli(['media', 'build', ...args], {
    home,
    env: { ...media.env(keys), HYPERFRAMES_LOG: 'debug', ...env },
    ...opts,
  });
  assertNoSecrets(r.output, Object.values(KEYS), `media build ${args.join(' ')}`);
  return r;
}

const outDir = () => path.join(home.dir, 'audio');
const readManifest = () => JSON.parse(fs.readFileSync(path.join(outDir(), 'audio_meta.json'), 'utf8'));
const wavAt = (rel) => parseWav(fs.readFileSync(path.join(outDir(), rel)));

describe('media build (CLI)', () => {
  test('voices every line, fetches the cues and the bed, and writes audio_meta.json', async () => {
    // HeyGen's library has no "pop" (every other search gets the fake's usual answer).
    const noPop = (req) => (req.query.query === 'pop' ? { status: 200, json: { data: [] } } : { fallthrough: true });
    media.heygen.queue('GET /v3/audio/sounds', noPop, noPop, noPop);
    const r = await build([writeRequest(SCRIPT), '--out', outDir(), '--json']);
    assert.equal(r.code, 1, 'one line failed, so the exit code says so');
    const j = parseJson(r.stdout);
    const { manifest_path: manifestPath, ...manifest } = j;
    assert.equal(manifestPath, path.join(outDir(), 'audio_meta.json'));
    assert.deepEqual(readManifest(), manifest, 'stdout and the file agree');

    assert.equal(j.ok, false);
    assert.equal(j.tts_provider, 'heygen');
    assert.equal(j.voice_id, MARCIA);
    assert.deepEqual(j.voices.map((v) => v.id), ['intro', 'outro']);
    assert.deepEqual(j.failed.map((f) => [f.id, f.code]), [['empty', 'EMPTY_TEXT']]);
    assert.equal(media.heygen.hits(SPEECH).length, 2, 'the empty line never reached the provider');
    for (const v of j.voices) {
      const w = wavAt(v.path);
      assert.equal(w.sampleRate, v.sample_rate);
      assert.ok(Math.abs(w.frames / w.sampleRate - v.duration_s) < 0.002, v.path);
      assert.ok(Math.abs(v.duration_s - MP3_SECONDS) < 0.06, `${v.duration_s}`);
      assert.deepEqual(JSON.parse(fs.readFileSync(path.join(outDir(), v.words_path), 'utf8')), v.words);
      assert.equal(v.reused, false);
      assert.match(v.input_sha256, /^[0-9a-f]{64}$/);
    }
    assert.deepEqual(j.voices[0].words.map((w) => w.text), ['Ship', 'videos', 'from', 'code.']);
    assert.deepEqual(j.voices[0].words.map((w) => w.id), ['w0', 'w1', 'w2', 'w3']);
    assert.equal(j.total_duration_s, Math.round((j.voices[0].duration_s + j.voices[1].duration_s) * 1000) / 1000);

    // HeyGen has a whoosh (score 0.55 ≥ 0.4) but no pop: the bundled library serves that one.
    assert.deepEqual(j.sfx.map((s) => [s.line, s.name, s.provider, s.offset_s, s.volume]), [
      ['intro', 'whoosh', 'heygen', 0, 0.35],
      ['intro', 'pop', 'bundled', 0.25, 0.5],
      ['outro', 'Whoosh', 'heygen', 0, 0.35],
    ]);
    assert.equal(j.sfx[0].path, j.sfx[2].path, 'one file per distinct effect');
    assert.equal(media.heygen.hits('GET /v3/audio/sounds').filter((h) => h.query.type === 'sound_effects').length, 2);
    for (const s of j.sfx) assert.ok(wavAt(s.path).frames > 0, s.path);
    assert.deepEqual(j.providers, { voice: ['heygen'], music: 'heygen', sfx: ['heygen', 'bundled'] });

    assert.equal(j.bgm.provider, 'heygen');
    assert.equal(j.bgm.title, 'Calm Horizon');
    assert.equal(j.bgm.volume, 0.12);
    assert.equal(j.bgm.duration_s, j.total_duration_s, 'the bed lasts as long as the narration');
    const bed = wavAt(j.bgm.path);
    assert.ok(Math.abs(bed.frames / bed.sampleRate - j.total_duration_s) < 0.01);

    assert.ok(j.anomalies.some((a) => a.startsWith('line empty: not voiced')), j.anomalies.join('\n'));
    assert.ok(j.anomalies.some((a) => a.includes('"pop"') && a.includes('heygen: no match')), j.anomalies.join('\n'));
    assert.deepEqual(listFiles(path.join(outDir(), 'voice')).sort(), ['intro.wav', 'intro.words.json', 'outro.wav', 'outro.words.json']);
  });

  test('human output: progress per line on stderr, a summary on stdout', async () => {
    const r = await build([writeRequest(SCRIPT), '--out', outDir(), '--no-music', '--local-only']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Building 3 line\(s\), 2 sound effect\(s\)…/);
    assert.match(r.stderr, /✗ voice intro +kokoro: The Kokoro .*model is not installed/);
    assert.match(r.stderr, /✗ voice empty +No text to speak/);
    assert.match(r.stderr, /✓ sfx pop +bundled/);
    assert.match(r.stdout, /✗ 0 of 3 line\(s\) voiced .*3 sound effect cue\(s\) → .*audio_meta\.json/);
    assert.equal(readManifest().bgm, null, '--no-music');
  });

  test('a provider failure on one line falls through for that line only', async () => {
    media.heygen.queue(SPEECH, { status: 402, json: { error: { code: 'plan_upgrade_required', message: 'upgrade' } } });
    const req = { lines: [{ id: 'a', text: 'First line here.' }, { id: 'b', text: 'Second line here.' }] };
    const r = await build([writeRequest(req), '--out', outDir(), '--json', '--concurrency', '1']);
    assert.equal(r.code, 0, r.output);
    const j = parseJson(r.stdout);
    assert.equal(j.ok, true);
    assert.deepEqual(j.voices.map((v) => [v.id, v.provider]), [['a', 'elevenlabs'], ['b', 'heygen']]);
    assert.deepEqual(j.providers.voice, ['elevenlabs', 'heygen']);
    assert.equal(j.anomalies.length, 1, j.anomalies.join('\n'));
    assert.match(j.anomalies[0], /^line a: heygen: HTTP 402.*plan_upgrade_required/);
    assert.ok(j.voices[0].words.length >= 3, 'ElevenLabs words from its character alignment');
  });

  test('--no-fallback: the line fails with the provider error, the others are voiced', async () => {
    media.heygen.queue(SPEECH, { status: 503, json: { error: 'busy' } }, { status: 503, json: {} }, { status: 503, json: {} });
    const req = { lines: [{ id: 'a', text: 'One.' }, { id: 'b', text: 'Two.' }] };
    const r = await build([writeRequest(req), '--out', outDir(), '--json', '--concurrency', '1', '--no-fallback']);
    assert.equal(r.code, 1);
    const j = parseJson(r.stdout);
    assert.deepEqual(j.failed.map((f) => [f.id, f.code]), [['a', 'PROVIDER_SERVER_ERROR']]);
    assert.deepEqual(j.voices.map((v) => [v.id, v.provider]), [['b', 'heygen']]);
    assert.equal(media.eleven.connections, 0, 'no fall-through');
    assert.equal(fs.existsSync(path.join(outDir(), 'voice', 'a.wav')), false);
  });

  test('a rebuild keeps unchanged lines without asking the provider; --fresh voices them again', async () => {
    const req = { voice: MARCIA, lines: [{ id: 'a', text: 'Alpha line.' }, { id: 'b', text: 'Beta line.' }] };
    const p = writeRequest(req);
    assert.equal((await build([p, '--out', outDir(), '--json'])).code, 0);
    assert.equal(media.heygen.hits(SPEECH).length, 2);

    const again = await build([p, '--out', outDir()]);
    assert.equal(again.code, 0, again.output);
    assert.match(again.stderr, /= voice a .*unchanged, kept/);
    // Kept lines are not said to be voiced (#21 item 8).
    assert.match(again.stdout, /2 of 2 line\(s\) ready: 0 voiced, 2 kept unchanged/);
    assert.equal(media.heygen.hits(SPEECH).length, 2, 'nothing was asked again');

    req.lines[1].text = 'Beta line, edited.';
    const edited = parseJson((await build([writeRequest(req), '--out', outDir(), '--json'])).stdout);
    assert.deepEqual(edited.voices.map((v) => v.reused), [true, false]);
    assert.equal(media.heygen.hits(SPEECH).length, 3);
    assert.equal(media.heygen.hits(SPEECH)[2].body.text, 'Beta line, edited.');

    await build([p, '--out', outDir(), '--fresh']);
    assert.equal(media.heygen.hits(SPEECH).length, 5);
  });

  test('--local-only: no connection at all; the bundled effects still serve', async () => {
    const r = await build([writeRequest(SCRIPT), '--out', outDir(), '--json', '--local-only']);
    assert.equal(media.connections(), 0, 'no hosted provider was contacted');
    assert.equal(r.code, 1);
    const j = parseJson(r.stdout);
    assert.deepEqual(j.failed.map((f) => f.id), ['intro', 'empty', 'outro']);
    assert.equal(j.failed[0].code, 'MODEL_MISSING', 'Kokoro is not installed and local-only never downloads');
    assert.match(j.failed[0].error, /Kokoro .*not installed/);
    assert.match(j.failed[0].hint, /models install kokoro/);
    assert.ok(j.sfx.length === 3 && j.sfx.every((s) => s.provider === 'bundled'));
    assert.equal(j.bgm, null);
    assert.ok(j.anomalies.some((a) => a.startsWith('music: left out')));
  });

  test('a music bed that cannot be made is said once on the terminal (#21 item 8)', async () => {
    const r = await build([writeRequest(SCRIPT), '--out', outDir(), '--local-only']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.match(/✗ music /g)?.length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /music: left out/, 'not again among the anomalies');
  });

  test('the request can come from stdin', async () => {
    const req = { lines: [{ id: 'only', text: 'From standard input.' }] };
    const r = await build(['-', '--out', outDir(), '--json', '--voice', MARCIA], { input: JSON.stringify(req) });
    assert.equal(r.code, 0, r.output);
    assert.deepEqual(parseJson(r.stdout).voices.map((v) => v.id), ['only']);
  });

  for (const [label, body, pattern] of [
    ['not JSON', '{"lines": [', /not JSON/],
    ['duplicate ids', { lines: [{ id: 'a', text: 'x' }, { id: 'A', text: 'y' }] }, /used twice/],
    ['an id that cannot name a file', { lines: [{ id: '../../etc/x', text: 'x' }] }, /cannot name a file/],
    ['nothing to build', { lines: [] }, /nothing to build/],
    ['a bad speed', { speed: 0, lines: [{ id: 'a', text: 'x' }] }, /speed: must be greater than 0/],
    ['a misspelt key', { lnes: [{ id: 'a', text: 'x' }] }, /unknown key "lnes" \(did you mean "lines"\?\)/],
    ['a misspelt line key', { lines: [{ id: 'a', txt: 'x' }] }, /lines\[0\]: unknown key "txt" \(did you mean "text"\?\)/],
  ]) {
    test(`a request with ${label} is refused before anything is written`, async () => {
      const r = await build([writeRequest(body), '--out', outDir(), '--json']);
      assert.equal(r.code, 1);
      const j = parseJson(r.stdout);
      assert.equal(j.ok, false);
      assert.equal(j.code, 'BAD_REQUEST');
      assert.match(j.error, pattern);
      assert.ok(j.hint);
      assert.equal(fs.existsSync(outDir()), false, 'no output folder');
      assert.equal(media.connections(), 0);
    });
  }

  test('a missing request file is a clear IO_ERROR', async () => {
    const r = await build([path.join(home.dir, 'nope.json'), '--out', outDir()]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Cannot read the request .*nope\.json/);
    assert.equal(fs.existsSync(outDir()), false);
  });
});

describe('buildMedia() (JS API)', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: true });

  test('builds from a request object or a file and resolves with the manifest', async () => {
    const m = await api.buildMedia(SCRIPT, { out: outDir(), noMusic: true });
    assert.equal(m.ok, false);
    assert.deepEqual(m.voices.map((v) => v.id), ['intro', 'outro']);
    assert.equal(m.failed[0].id, 'empty');
    assert.equal(m.bgm, null);
    const { manifest_path: manifestPath, ...rest } = m;
    assert.equal(manifestPath, path.join(outDir(), 'audio_meta.json'));
    assert.deepEqual(readManifest(), rest);

    const fromFile = await api.buildMedia(writeRequest(SCRIPT), { out: outDir(), noMusic: true });
    assert.ok(fromFile.voices.every((v) => v.reused), 'the second build kept both lines');
  });

  test('a bad request rejects with BAD_REQUEST and a hint; nothing is written', async () => {
    const err = await api.buildMedia({ lines: [{ text: 'no id' }] }, { out: outDir() }).then(
      () => assert.fail('expected a rejection'),
      (e) => e,
    );
    assert.equal(err.code, 'BAD_REQUEST');
    assert.match(err.message, /lines\[0\]\.id: is required/);
    assert.ok(err.hint);
    assert.equal(fs.existsSync(outDir()), false);
    const noOut = await api.buildMedia(SCRIPT, { out: ' ' }).catch((e) => e);
    assert.equal(noOut.code, 'BAD_REQUEST');
  });
});

describe('tts --stream with a hosted provider', () => {
  test('writes the audio as 24 kHz 16-bit PCM on stdout, the report on stderr', async () => {
    const args = ['tts', 'Streaming from HeyGen.', '--provider', 'heygen', '--stream', '--json', '--words', 'w.json'];
    const r = await runRaw(args, { home, env: media.env({ heygen: true }), timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stderr);
    assert.equal(report.provider, 'heygen');
    assert.equal(report.sampleRate, 24000);
    assert.equal(report.outputPath, null);
    const bytes = r.stdout.length;
    assert.equal(bytes % 2, 0);
    assert.ok(Math.abs(bytes / 2 / 24000 - report.durationSeconds) < 0.01, `${bytes} bytes for ${report.durationSeconds}s`);
    assert.equal(fs.existsSync(path.join(home.dir, 'speech.wav')), false, 'no WAV when streaming');
    assert.equal(JSON.parse(fs.readFileSync(path.join(home.dir, 'w.json'), 'utf8')).length, 3);
  });
});

describe('buildMedia() progress', () => {
  const api = require('../lib/index.js');
  useApiEnv(() => ({ media, home }), { heygen: true });

  test('onProgress hears the start, then every line, effect and the bed', async () => {
    const events = [];
    const m = await api.buildMedia(SCRIPT, { out: outDir(), onProgress: (e) => events.push(e) });
    // Callbacks are queued to the JS thread; let the queue drain.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(events[0], { kind: 'started', ok: true, lines: 3, effects: 2, music: true });
    const lines = events.filter((e) => e.kind === 'line');
    assert.deepEqual(lines.map((e) => [e.id, e.ok]).sort(), [['empty', false], ['intro', true], ['outro', true]]);
    const intro = lines.find((e) => e.id === 'intro');
    assert.equal(intro.provider, 'heygen');
    assert.equal(intro.reused, false);
    assert.equal(intro.seconds, m.voices[0].duration_s);
    assert.match(lines.find((e) => e.id === 'empty').error, /No text to speak/);
    assert.equal(events.filter((e) => e.kind === 'effect').length, 2);
    assert.deepEqual(events.filter((e) => e.kind === 'music').map((e) => [e.ok, e.provider]), [[true, 'heygen']]);
  });
});
