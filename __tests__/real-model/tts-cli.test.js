'use strict';
// `hyperframes tts` with the real Kokoro int8 model and the Japanese voice pack (voices_ja.npz):
// WAV format, exact word timings, captions, speed, determinism, f32, streaming PCM, the default
// voice stand-in, and unknown voices. Runs when HYPERFRAMES_TEST_MODELS_DIR points at a models dir
// holding the real files (`.ci/run` sets it); each test is skipped otherwise.
//
// Syntheses cost seconds each on 2 cores, so the reference run happens once in before() and the
// other tests compare against it.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { makeHome, runCli } = require('../support/cli.js');
const { parseJson } = require('../support/setup.js');
const {
  SKIP_REAL,
  JA_VOICES,
  INSTALL_HINT,
  realModelsDir,
  parseWav,
  levels,
  normWords,
  parseSrt,
  parseVtt,
  runRaw,
} = require('../support/voice.js');

const REAL = realModelsDir();
const SR = 24_000;
const FRAME = 600; // samples per model frame (25 ms)
const TEXT = 'Hello world, this is a test of the local voice. Every word gets its own time.';
const LONG_TEXT =
  'Local engines run on your own computer, so nothing you write ever leaves the machine. ' +
  'The voice model reads the text, turns every word into sounds, and then speaks them one after another. ' +
  'Because the model also reports how long each sound lasts, every word gets an exact start and end time, which is what captions need. ' +
  'Long texts are cut into pieces at the ends of sentences, and each piece is spoken as soon as it is ready, so a listener can start hearing the first sentence while the rest is still being made. ' +
  'The first piece is kept short on purpose, so that the wait before the first sound stays small. ' +
  'Later pieces are longer, because the model works best with whole paragraphs. ' +
  'When all the pieces are done, they are joined with a short fade, so that no click can be heard at the seams. ' +
  'The same text with the same voice and the same speed always gives exactly the same audio, which makes the results easy to test.';
const VOICE = ['--voice', 'jm_kumo', '--lang', 'en-us'];
const TIMEOUT = 300_000;

let home;
const run = (args, opts = {}) =>
  runCli(args, { home, timeoutMs: TIMEOUT, ...opts, env: { HYPERFRAMES_MODELS_DIR: REAL, ...(opts.env || {}) } });
const runBytes = (args, opts = {}) =>
  runRaw(args, { home, timeoutMs: TIMEOUT, ...opts, env: { HYPERFRAMES_MODELS_DIR: REAL, ...(opts.env || {}) } });
const file = (name) => path.join(home.dir, name);

/** Checks word timings against the text and the audio duration. */
function checkWords(words, text, durationSeconds) {
  assert.ok(words.length > 0);
  words.forEach((w, i) => {
    assert.equal(w.id, `w${i}`, JSON.stringify(w));
    assert.equal(typeof w.text, 'string');
    assert.ok(w.text.trim().length > 0, JSON.stringify(w));
    assert.ok(Number.isFinite(w.start) && Number.isFinite(w.end), JSON.stringify(w));
    assert.ok(w.start >= 0, JSON.stringify(w));
    assert.ok(w.start < w.end, `start < end: ${JSON.stringify(w)}`);
    assert.ok(!w.approximate, `timings from the model, not estimated: ${JSON.stringify(w)}`);
    if (i > 0) {
      assert.ok(w.start > words[i - 1].start, `starts strictly increase: ${JSON.stringify(words[i - 1])} → ${JSON.stringify(w)}`);
      assert.ok(w.start >= words[i - 1].end, `no overlap: ${JSON.stringify(words[i - 1])} → ${JSON.stringify(w)}`);
    }
  });
  assert.ok(words[words.length - 1].end <= durationSeconds + 1e-9, `last end ${words[words.length - 1].end} ≤ ${durationSeconds}`);
  assert.deepEqual(normWords(words.map((w) => w.text).join(' ')), normWords(text), 'every word of the input, in order');
}

/** Every cue's text is made of the words, in order; each cue covers its words' times. */
function checkCues(cues, words) {
  assert.ok(cues.length > 0);
  let k = 0;
  cues.forEach((c, i) => {
    const parts = c.text.split(/\s+/).filter(Boolean);
    const mine = words.slice(k, k + parts.length);
    assert.deepEqual(parts, mine.map((w) => w.text.trim()), `cue ${i + 1} (${c.text}) is made of the next words`);
    assert.ok(Math.abs(c.start - mine[0].start) <= 0.0011, `cue ${i + 1} starts with its first word`);
    // Broadcast rules may hold a cue on screen past its last word (minimum duration, reading
    // speed), never into the next cue's first word.
    const lastEnd = Math.max(...mine.map((w) => w.end));
    assert.ok(c.end >= lastEnd - 0.0011, `cue ${i + 1} lasts at least to its last word`);
    const next = words[k + parts.length];
    if (next) assert.ok(c.end <= next.start + 0.0011, `cue ${i + 1} ends before the next cue's first word`);
    assert.ok(c.start < c.end);
    if (i > 0) assert.ok(c.start >= cues[i - 1].end, 'cues do not overlap');
    k += parts.length;
  });
  assert.equal(k, words.length, 'all words are in the cues');
}

describe('tts with the real Kokoro model', () => {
  /** The reference: TEXT, jm_kumo, en-us, i16, with --json, --words and --captions (srt). */
  let ref;

  before(async () => {
    home = makeHome();
    if (!REAL) return;
    const r = await run(['tts', TEXT, ...VOICE, '-o', 'a.wav', '--words', 'a.words.json', '--captions', 'a.srt', '--json']);
    assert.equal(r.code, 0, r.output);
    const wavBytes = fs.readFileSync(file('a.wav'));
    ref = { r, json: parseJson(r.stdout), wavBytes, wav: parseWav(wavBytes) };
  });
  after(() => home.cleanup());

  test('English text with an installed voice: --json report', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const { json, r } = ref;
    assert.equal(json.ok, true);
    assert.equal(json.provider, 'kokoro');
    assert.equal(json.model, 'kokoro');
    assert.equal(json.voice, 'jm_kumo');
    assert.equal(json.lang, 'en-us');
    assert.equal(json.speed, 1);
    assert.equal(json.sampleRate, SR);
    assert.equal(json.outputPath, 'a.wav');
    assert.equal(json.wordsPath, 'a.words.json');
    assert.equal(json.captionsPath, 'a.srt');
    assert.equal(json.chunks, 1);
    assert.equal(json.wordsApproximate, false);
    assert.equal(json.note, null, 'a chosen voice needs no note');
    assert.equal(json.durationSeconds, Math.round((ref.wav.frames / SR) * 1000) / 1000);
    assert.doesNotMatch(r.stderr, /error/i);
  });

  test('WAV: 24 kHz mono 16-bit PCM, whole frames of 600 samples, not silent', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const { wav } = ref;
    assert.equal(wav.audioFormat, 1, 'PCM');
    assert.equal(wav.channels, 1);
    assert.equal(wav.sampleRate, SR);
    assert.equal(wav.bitsPerSample, 16);
    assert.equal(wav.blockAlign, 2);
    assert.equal(wav.byteRate, SR * 2);
    assert.equal(wav.riffSize, ref.wavBytes.length - 8, 'RIFF size matches the file');
    assert.ok(wav.frames > SR, `over a second of audio (${wav.frames} samples)`);
    assert.equal(wav.frames % FRAME, 0, `${wav.frames} samples is a whole number of model frames`);
    const { peak, rms } = levels(wav.samples);
    assert.ok(peak > 0.1, `peak ${peak}`);
    assert.ok(rms > 0.01, `rms ${rms}`);
  });

  test('--json words: ids w0…, start < end, increasing, every input word in order, within the audio', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    checkWords(ref.json.words, TEXT, ref.wav.frames / SR);
    assert.equal(ref.json.words.length, normWords(TEXT).length);
  });

  test('--words file equals the JSON words', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    assert.deepEqual(parseJson(fs.readFileSync(file('a.words.json'), 'utf8')), ref.json.words);
  });

  test('--captions x.srt: numbered cues, --> timestamps, cue text made of the words', (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const text = fs.readFileSync(file('a.srt'), 'utf8');
    assert.match(text, /^1\n\d{2}:\d{2}:\d{2},\d{3} --> \d{2}:\d{2}:\d{2},\d{3}\n/);
    checkCues(parseSrt(text), ref.json.words);
  });

  test('same input twice → byte-identical WAV; --captions x.vtt follows WebVTT', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', TEXT, ...VOICE, '-o', 'b.wav', '--captions', 'b.vtt']);
    assert.equal(r.code, 0, r.output);
    assert.match(r.stdout, /✓ b\.wav \(\d+\.\d\ds, kokoro voice jm_kumo, \d+ words\)/);
    assert.match(r.stdout, /\+ b\.vtt/);
    assert.ok(fs.readFileSync(file('b.wav')).equals(ref.wavBytes), 'identical bytes');
    const vtt = fs.readFileSync(file('b.vtt'), 'utf8');
    assert.match(vtt, /^WEBVTT\n\n\d{2}:\d{2}:\d{2}\.\d{3} --> \d{2}:\d{2}:\d{2}\.\d{3}\n/);
    const cues = parseVtt(vtt);
    checkCues(cues, ref.json.words);
    assert.deepEqual(cues, parseSrt(fs.readFileSync(file('a.srt'), 'utf8')), 'same cues as the SRT');
  });

  test('--speed 1.5 gives shorter audio than 1.0', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', TEXT, ...VOICE, '--speed', '1.5', '-o', 'fast.wav', '--json']);
    assert.equal(r.code, 0, r.output);
    const json = parseJson(r.stdout);
    assert.equal(json.speed, 1.5);
    const fast = parseWav(fs.readFileSync(file('fast.wav')));
    assert.equal(fast.sampleRate, SR);
    assert.ok(fast.frames < ref.wav.frames, `${fast.frames} < ${ref.wav.frames} samples`);
    assert.ok(fast.frames < ref.wav.frames * 0.85, `clearly shorter: ${fast.frames} vs ${ref.wav.frames}`);
    assert.ok(json.durationSeconds < ref.json.durationSeconds);
    checkWords(json.words, TEXT, fast.frames / SR);
    assert.ok(json.words[json.words.length - 1].end < ref.json.words[ref.json.words.length - 1].end);
  });

  test('--format f32 writes a 32-bit float WAV with the same samples', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', TEXT, ...VOICE, '--format', 'f32', '-o', 'f.wav']);
    assert.equal(r.code, 0, r.output);
    const f = parseWav(fs.readFileSync(file('f.wav')));
    assert.equal(f.audioFormat, 3, 'IEEE float');
    assert.equal(f.bitsPerSample, 32);
    assert.equal(f.channels, 1);
    assert.equal(f.sampleRate, SR);
    assert.equal(f.blockAlign, 4);
    assert.equal(f.frames, ref.wav.frames);
    let worst = 0;
    for (let i = 0; i < f.frames; i++) {
      const q = Math.round(Math.max(-1, Math.min(1, f.samples[i])) * 32767);
      worst = Math.max(worst, Math.abs(q - ref.wav.data.readInt16LE(i * 2)));
    }
    assert.ok(worst <= 1, `the i16 WAV is the f32 samples quantised (worst difference ${worst})`);
    assert.ok(levels(f.samples).rms > 0.01);
  });

  test('--stream writes raw s16le PCM: whole 1200-byte frames, about the WAV data (its first chunk cut short)', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await runBytes(['tts', TEXT, ...VOICE, '--stream', '-o', 'not-written.wav']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length % (FRAME * 2), 0, `${r.stdout.length} bytes`);
    // The stream's first chunk ends at "Hello world," (a file is not cut there): its own audio, a
    // little longer for the extra seam's lead-in and tail (6.65 s against 6.03 s).
    const d = (r.stdout.length - ref.wav.data.length) / ref.wav.data.length;
    assert.ok(d > 0 && d < 0.15, `${r.stdout.length} bytes, the WAV's ${ref.wav.data.length}`);
    assert.ok(!fs.existsSync(file('not-written.wav')), 'no WAV with --stream');
    assert.doesNotMatch(r.stdout.subarray(0, 4).toString('latin1'), /RIFF/);
  });

  test(
    '--stream --json keeps stdout pure PCM',
    async (t) => {
      if (!REAL) return t.skip(SKIP_REAL);
      const r = await runBytes(['tts', 'Hi.', ...VOICE, '--stream', '--json']);
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout.toString('latin1'), /"ok": ?true/, 'no JSON report mixed into the audio');
      assert.equal(r.stdout.length % (FRAME * 2), 0, `${r.stdout.length} bytes`);
    },
  );

  test('--stream, long text: several chunks; audio reaches stdout before the process ends', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await runBytes(['tts', LONG_TEXT, ...VOICE, '--stream', '--words', 'long.words.json', '--captions', 'long.vtt']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length % (FRAME * 2), 0, `${r.stdout.length} bytes`);
    assert.ok(r.firstStdoutAt !== null, 'some audio');
    assert.equal(r.exitedBeforeFirstStdout, false, 'the first bytes arrived while the process was still running');
    assert.ok(r.firstStdoutAt < r.exitedAt, `first bytes at ${r.firstStdoutAt.toFixed(0)} ms, exit at ${r.exitedAt.toFixed(0)} ms`);
    assert.ok(r.stdoutEvents >= 2, `audio arrived in pieces (${r.stdoutEvents})`);
    const seconds = r.stdout.length / 2 / SR;
    assert.ok(seconds > 30, `${seconds} s of audio for ${LONG_TEXT.length} characters`);
    // Words and captions span the chunks.
    const words = parseJson(fs.readFileSync(file('long.words.json'), 'utf8'));
    checkWords(words, LONG_TEXT, seconds);
    checkCues(parseVtt(fs.readFileSync(file('long.vtt'), 'utf8')), words);
  });

  test('no voice given: af_heart is not installed, an installed voice speaks English, with a note', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const json = await run(['tts', 'Hi there.', '-o', 'n.wav', '--json']);
    assert.equal(json.code, 0, json.output);
    const body = parseJson(json.stdout);
    assert.ok(JA_VOICES.includes(body.voice), body.voice);
    assert.equal(body.lang, 'en-us', 'English stays English');
    assert.match(body.note, /af_heart is not installed/);
    assert.ok(body.note.includes(body.voice), body.note);
    checkWords(body.words, 'Hi there.', parseWav(fs.readFileSync(file('n.wav'))).frames / SR);

    const plain = await run(['tts', 'Hi there.']);
    assert.equal(plain.code, 0, plain.output);
    assert.match(plain.stderr, /af_heart is not installed; using j[fm]_\w+/);
    assert.match(plain.stdout, /✓ speech\.wav/);
    assert.ok(fs.existsSync(file('speech.wav')), 'the default output is speech.wav in the cwd');
  });

  test('a Japanese voice without --lang speaks Japanese (the language follows the voice)', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', 'こんにちは。', '--voice', 'jf_alpha', '-o', 'ja.wav', '--json']);
    assert.equal(r.code, 0, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.lang, 'ja');
    assert.equal(body.voice, 'jf_alpha');
    const wav = parseWav(fs.readFileSync(file('ja.wav')));
    assert.ok(levels(wav.samples).rms > 0.01, 'not silent');
    assert.equal(body.words.map((w) => w.text).join(''), 'こんにちは。');
    assert.ok(body.words.every((w) => w.start < w.end));
  });

  test('--voice af_heart → UNKNOWN_VOICE listing the installed voices, with the install hint', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', 'Hi there.', '--voice', 'af_heart', '-o', 'x.wav', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.ok, false);
    assert.equal(body.code, 'UNKNOWN_VOICE');
    assert.match(body.error, /af_heart/);
    for (const v of JA_VOICES) assert.ok(body.error.includes(v), `lists ${v}: ${body.error}`);
    assert.ok(body.hint.includes(INSTALL_HINT), body.hint);
    assert.match(body.hint, /hyperframes tts --list/);
    assert.ok(!fs.existsSync(file('x.wav')));
  });

  test('a blend with a voice that is not installed → UNKNOWN_VOICE naming it', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', 'Hi there.', '--voice', 'jm_kumo.5+af_sky.5', '-o', 'y.wav', '--json']);
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.code, 'UNKNOWN_VOICE');
    assert.match(body.error, /af_sky/);
    assert.doesNotMatch(body.error, /Voice [^.]*jm_kumo[^.]* is not installed/, 'jm_kumo is installed');
    assert.ok(!fs.existsSync(file('y.wav')));
  });

  test('tts --list marks exactly the five installed Japanese voices', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const r = await run(['tts', '--list', '--json']);
    assert.equal(r.code, 0, r.output);
    const rows = parseJson(r.stdout).voices;
    assert.equal(rows.length, 54);
    assert.deepEqual(
      rows.filter((v) => v.installed).map((v) => v.id).sort(),
      [...JA_VOICES].sort(),
    );
    const text = await run(['tts', '--list']);
    const marked = text.stdout.split('\n').filter((l) => l.includes('✓'));
    assert.equal(marked.length, 5, text.stdout);
    assert.doesNotMatch(text.stdout, /No voices installed/);
  });

  test('a model file of the right size but wrong bytes → MODEL_CORRUPT with a hint', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const dir = path.join(home.dir, 'corrupt-models', 'kokoro');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(path.join(REAL, 'kokoro', 'voices_ja.npz'), path.join(dir, 'voices_ja.npz'));
    const model = path.join(dir, 'kokoro-v1.0.int8.onnx');
    fs.writeFileSync(model, '');
    fs.truncateSync(model, fs.statSync(path.join(REAL, 'kokoro', 'kokoro-v1.0.int8.onnx')).size);
    const r = await run(['tts', 'Hi there.', ...VOICE, '-o', 'c.wav', '--json'], {
      env: { HYPERFRAMES_MODELS_DIR: path.dirname(dir) },
    });
    assert.equal(r.code, 1, r.output);
    const body = parseJson(r.stdout);
    assert.equal(body.code, 'MODEL_CORRUPT');
    assert.match(body.hint, /hyperframes models (verify|install) kokoro/);
    assert.ok(!fs.existsSync(file('c.wav')));
  });

  test('Ctrl-C while the WAV is being written: the earlier file is kept, nothing else is left', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const dir = fs.mkdtempSync(path.join(home.dir, 'sigint-'));
    const wav = path.join(dir, 'speech.wav');
    fs.writeFileSync(wav, 'an earlier take');
    let interrupted = false;
    const r = await run(['tts', LONG_TEXT, ...VOICE, '-o', wav, '--captions', path.join(dir, 'speech.srt')], {
      onSpawn: (child) => {
        const poll = setInterval(() => {
          if (child.exitCode !== null || child.signalCode !== null) return clearInterval(poll);
          if (writingInto(child.pid, dir)) {
            clearInterval(poll);
            interrupted = true;
            child.kill('SIGINT');
          }
        }, 20);
      },
    });
    assert.ok(interrupted, `the WAV was never seen being written:\n${r.output}`);
    assert.equal(r.code, 'signal SIGINT', r.output);
    assert.deepEqual(fs.readdirSync(dir), ['speech.wav'], 'no partial WAV, no temporary file, no captions');
    assert.equal(fs.readFileSync(wav, 'utf8'), 'an earlier take');
  });
});

/** Whether process `pid` has a file open in `dir` (the WAV it is writing, named or not). */
function writingInto(pid, dir) {
  let fds;
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return false;
  }
  return fds.some((fd) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(dir + path.sep);
    } catch {
      return false;
    }
  });
}
