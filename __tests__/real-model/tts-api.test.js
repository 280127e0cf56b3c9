'use strict';
// The JS API with the real Kokoro int8 model and voices_ja.npz: `tts()` (WAV Buffer, words,
// output/captions files), `ttsStream()` (chunks in order that add up to `tts()` exactly, early
// break ends cleanly), the default-voice note, unknown voices, and the model manager on an
// installed model. Runs when HYPERFRAMES_TEST_MODELS_DIR points at the real models (skipped
// otherwise). One `tts()` of TEXT in before() is shared by the assertions.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, buildEnv, ROOT } = require('../support/cli.js');
const { SKIP_REAL, JA_VOICES, INSTALL_HINT, MODEL_FILE, VOICES_JA, realModelsDir, parseWav, levels, normWords, parseVtt } = require('../support/voice.js');

const api = require('../../lib/index.js');

const REAL = realModelsDir();
const SR = 24_000;
// Two chunks: the first chunk is kept short (≤ 120 phoneme tokens), so the last sentence spills over.
const TEXT =
  'Local engines run on your own computer. This sentence was spoken by Kokoro, and every word has a time. Nothing leaves the machine.';
const OPTS = { voice: 'jm_kumo', lang: 'en-us' };

let home;
let saved;
let result; // tts(TEXT)
let wav; // parseWav(result.audio)

function wordsOk(words, text, durationSeconds) {
  assert.ok(words.length > 0);
  words.forEach((w, i) => {
    assert.equal(w.id, `w${i}`);
    assert.ok(w.start < w.end, JSON.stringify(w));
    assert.ok(!w.approximate, JSON.stringify(w));
    if (i > 0) assert.ok(w.start > words[i - 1].start, `starts increase at ${w.id}`);
  });
  assert.ok(words[words.length - 1].end <= durationSeconds + 1e-9);
  assert.deepEqual(normWords(words.map((w) => w.text).join(' ')), normWords(text));
}

describe('JS API with the real Kokoro model', () => {
  before(async () => {
    home = makeHome();
    saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (/^HYPERFRAMES_(?!TEST_)/.test(k)) delete process.env[k];
    if (!REAL) return;
    process.env.HYPERFRAMES_MODELS_DIR = REAL;
    result = await api.tts(TEXT, { ...OPTS, output: path.join(home.dir, 'out', 'api.wav'), captions: path.join(home.dir, 'out', 'api.vtt') });
    wav = parseWav(result.audio);
  });
  after(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
    home.cleanup();
  });

  test('tts(): a WAV Buffer (RIFF, 24 kHz mono 16-bit), sampleRate, words, chunks', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    assert.ok(Buffer.isBuffer(result.audio));
    assert.equal(result.audio.subarray(0, 4).toString('latin1'), 'RIFF');
    assert.equal(result.audio.subarray(8, 12).toString('latin1'), 'WAVE');
    assert.equal(wav.audioFormat, 1);
    assert.equal(wav.channels, 1);
    assert.equal(wav.bitsPerSample, 16);
    assert.equal(wav.sampleRate, SR);
    assert.equal(result.sampleRate, SR);
    assert.equal(wav.frames % 600, 0, `${wav.frames} samples`);
    assert.equal(result.durationSeconds, Math.round((wav.frames / SR) * 1000) / 1000);
    assert.equal(result.voice, 'jm_kumo');
    assert.equal(result.lang, 'en-us');
    assert.equal(result.provider, 'kokoro');
    assert.ok(result.chunks >= 2, `chunks: ${result.chunks}`);
    assert.ok(result.note == null, `no note for a chosen voice: ${result.note}`);
    assert.ok(levels(wav.samples).rms > 0.01, 'not silent');
    wordsOk(result.words, TEXT, wav.frames / SR);
  });

  test('tts() output and captions options write the files', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const out = path.join(home.dir, 'out', 'api.wav');
    assert.equal(result.outputPath, out);
    assert.ok(fs.readFileSync(out).equals(result.audio), 'the file holds the returned WAV');
    const cues = parseVtt(fs.readFileSync(path.join(home.dir, 'out', 'api.vtt'), 'utf8'));
    assert.deepEqual(
      cues.flatMap((c) => c.text.split(/\s+/)),
      result.words.map((w) => w.text.trim()),
    );
  });

  test('ttsStream(): ≥ 2 chunks in order, a short first one, the same words as tts()', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const chunks = [];
    for await (const c of api.ttsStream(TEXT, OPTS)) chunks.push(c);
    assert.ok(chunks.length >= 2, `${chunks.length} chunks`);
    chunks.forEach((c, i) => {
      assert.equal(c.index, i);
      assert.equal(c.count, chunks.length);
      assert.equal(c.sampleRate, SR);
      assert.ok(c.samples instanceof Float32Array);
      assert.ok(c.samples.length > 0);
    });
    // The stream's first chunk is cut short at the first sentence or clause end (a file is not cut
    // there), so its audio is its own: the same words, in order, about as long as tts()'s.
    assert.ok(chunks[0].samples.length < 4 * SR, `first chunk ${chunks[0].samples.length / SR} s`);
    assert.equal(chunks[0].words.map((w) => w.text).join(' '), 'Local engines run on your own computer.');
    const total = chunks.reduce((n, c) => n + c.samples.length, 0);
    assert.ok(Math.abs(total - wav.frames) / wav.frames < 0.1, `stream ${total} samples, tts() ${wav.frames}`);
    const words = chunks.flatMap((c) => c.words);
    assert.deepEqual(words.map((w) => w.text), result.words.map((w) => w.text));
    let at = 0;
    for (const c of chunks) {
      for (const w of c.words) assert.ok(w.start >= at / SR - 1e-9 && w.end <= (at + c.samples.length) / SR + 0.0011, `${w.text} in its chunk`);
      at += c.samples.length;
    }
  });

  test('ttsStream(): breaking out after the first chunk ends cleanly (no unhandled rejection)', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const unhandled = [];
    const onUnhandled = (e) => unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      const it = api.ttsStream(TEXT, OPTS);
      let seen = 0;
      for await (const c of it) {
        assert.equal(c.index, 0);
        seen += 1;
        break;
      }
      assert.equal(seen, 1);
      assert.deepEqual(await it.next(), { value: undefined, done: true }, 'finished after the break');
      await new Promise((r) => setTimeout(r, 300));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  test('ttsStream(): after an early break the process exits on its own, with code 0', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const script = `
      const api = require(${JSON.stringify(path.join(ROOT, 'lib', 'index.js'))});
      process.on('unhandledRejection', (e) => { console.error('UNHANDLED', e); process.exitCode = 3; });
      (async () => {
        for await (const c of api.ttsStream(${JSON.stringify(TEXT)}, ${JSON.stringify(OPTS)})) {
          console.log('chunk', c.index, c.count);
          break;
        }
        console.log('broke');
      })().catch((e) => { console.error('FAILED', e); process.exitCode = 2; });
    `;
    const env = buildEnv({ home, env: { HYPERFRAMES_MODELS_DIR: REAL } });
    const r = await new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { env, cwd: home.dir, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`the process did not exit after breaking out of ttsStream()\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      }, 240_000);
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, stdout, stderr });
      });
    });
    assert.equal(r.signal, null, `killed by ${r.signal}\n${r.stderr}`);
    assert.equal(r.code, 0, `exit code\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    assert.match(r.stdout, /^chunk 0 \d+\nbroke\n$/);
    assert.doesNotMatch(r.stderr, /UNHANDLED|FAILED|panick/i, r.stderr);
  });

  test("tts() without a voice: an installed voice speaks English, with a note; format 'f32'", async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await api.tts('Hi there.', { format: 'f32' });
    assert.ok(JA_VOICES.includes(r.voice), r.voice);
    assert.equal(r.lang, 'en-us');
    assert.match(r.note, /af_heart is not installed/);
    const f = parseWav(r.audio);
    assert.equal(f.audioFormat, 3, '32-bit float WAV');
    assert.equal(f.bitsPerSample, 32);
    assert.equal(f.sampleRate, SR);
    assert.ok(r.outputPath == null, 'no file without `output`');
    wordsOk(r.words, 'Hi there.', f.frames / SR);
  });

  test("tts(text, {voice: 'af_heart'}) rejects UNKNOWN_VOICE with the installed voices and the install hint", async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const out = path.join(home.dir, 'never.wav');
    await assert.rejects(api.tts('Hi there.', { voice: 'af_heart', output: out }), (e) => {
      assert.equal(e.code, 'UNKNOWN_VOICE');
      for (const v of JA_VOICES) assert.ok(e.message.includes(v), e.message);
      assert.ok(e.hint.includes(INSTALL_HINT), e.hint);
      return true;
    });
    assert.ok(!fs.existsSync(out));
  });

  test('listVoices(), modelsList(), modelsVerify() on the installed model', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const installed = api.listVoices().filter((v) => v.installed).map((v) => v.id);
    assert.deepEqual(installed.sort(), [...JA_VOICES].sort());
    const list = api.modelsList();
    assert.equal(list.dir, REAL);
    assert.equal(list.models.find((m) => m.name === 'kokoro').installed, true);
    assert.equal(list.models.find((m) => m.name === 'kokoro-fp32').installed, false);
    const st = await api.modelsVerify('kokoro');
    assert.equal(st.name, 'kokoro');
    assert.equal(st.installed, true);
    const states = Object.fromEntries(st.files.map((f) => (Array.isArray(f) ? [f[0], f[1].state] : [f.path, f.state])));
    assert.equal(states[MODEL_FILE], 'verified');
    assert.equal(states[VOICES_JA], 'verified');
  });
});
