'use strict';
// Speech markup with the real Kokoro int8 model (runs when HYPERFRAMES_TEST_MODELS_DIR is set):
// a break adds exactly its length to the gap the text has without it, measured from the words file
// and on the WAV; the words after it move by exactly that much; `--stream` carries the silence;
// inline phonemes and a lexicon entry give byte-identical audio; captions show the written words,
// and `@remotion/captions` pages our `--to remotion` output into those words.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { createTikTokStyleCaptions } = require('@remotion/captions');
const { makeHome, runCli } = require('../support/cli.js');
const { parseJson } = require('../support/setup.js');
const { SKIP_REAL, realModelsDir, parseWav, runRaw } = require('../support/voice.js');

const REAL = realModelsDir();
const SR = 24_000;
const VOICE = ['--voice', 'jm_kumo', '--lang', 'en-us', '--provider', 'kokoro'];
const TIMEOUT = 300_000;
const A = 'Local engines run here.';
const B = 'Every word gets [Kokoro](/kˈOkəɹO/) timing.';
const PAUSE = 0.7;

let home;
const env = () => ({ HYPERFRAMES_MODELS_DIR: REAL });
const run = (args) => runCli(args, { home, timeoutMs: TIMEOUT, env: env() });
const file = (name) => path.join(home.dir, name);
const words = (name) => JSON.parse(fs.readFileSync(file(name), 'utf8'));

describe('markup with the real Kokoro model', () => {
  before(() => {
    home = makeHome();
  });
  after(() => home.cleanup());

  test('a break adds exactly its length to the gap the text has without it; stream carries it', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    const text = `${A} <break time="${PAUSE * 1000}ms"/> ${B}`;
    for (const [name, input] of [['plain', `${A} ${B}`], ['ab', text]]) {
      const r = await run(['tts', input, ...VOICE, '-o', `${name}.wav`, '--words', `${name}.json`, '--to', 'remotion', '--json']);
      assert.equal(r.code, 0, r.output);
      assert.equal(parseJson(r.stdout).captionsPath, `${name}.captions.json`);
    }
    const [plain, ab] = ['plain', 'ab'].map((n) => parseWav(fs.readFileSync(file(`${n}.wav`))));
    const gap = Math.round(PAUSE * SR);
    assert.equal(ab.frames, plain.frames + gap, 'the text without the break, plus exactly the pause');
    const [wp, wab] = ['plain', 'ab'].map((n) => words(`${n}.json`));
    assert.deepEqual(wab.map((w) => w.text), wp.map((w) => w.text), 'the written words, never the markup');
    assert.ok(wab.some((w) => w.text === 'Kokoro'));
    // The pause as heard, measured from the words file: the gap between "here." and "Every" is the
    // plain text's gap plus exactly the break (the words file is rounded to the millisecond).
    const n = A.split(' ').length;
    const heard = (w) => w[n].start - w[n - 1].end;
    assert.ok(Math.abs(heard(wab) - (heard(wp) + PAUSE)) <= 0.0011, `gap ${heard(wab)} vs ${heard(wp)} + ${PAUSE}`);
    wab.forEach((w, i) => {
      const shift = i < n ? 0 : PAUSE;
      assert.ok(Math.abs(w.start - (wp[i].start + shift)) <= 0.0011, `${w.text}: ${w.start} vs ${wp[i].start} + ${shift}`);
      assert.ok(Math.abs(w.end - (wp[i].end + shift)) <= 0.0011, `${w.text}: end`);
    });
    // On the WAV: the silence starts where "here." ends and lasts the pause (plus the few samples
    // of the 2.5 ms fades either side that round to zero in 16 bits).
    const zeroRun = (samples, from) => {
      let k = from;
      while (k < samples.length && samples[k] === 0) k++;
      return k - from;
    };
    const end = Math.round(wab[n - 1].end * SR);
    let at = end - 100;
    while (at < end + 100 && zeroRun(ab.samples, at) < gap) at++;
    assert.ok(at < end + 100, `a silence of the pause's length starts where "here." ends (${wab[n - 1].end} s)`);
    const silent = zeroRun(ab.samples, at);
    assert.ok(silent >= gap && silent <= gap + 120, `silence of ${silent} samples, pause ${gap}`);

    const captions = JSON.parse(fs.readFileSync(file('ab.captions.json'), 'utf8'));
    const { pages } = createTikTokStyleCaptions({ captions, combineTokensWithinMilliseconds: 1200 });
    assert.deepEqual(pages.flatMap((p) => p.tokens.map((k) => k.text.trim())), wab.map((w) => w.text));

    // A stream starts with a short first chunk ("Local engines run here."), so its audio is its own:
    // the pause then lies at a chunk seam, and adds exactly its length to the stream of the text
    // without it (whose seam has the two chunks' pad frames there).
    const longestSilence = (buf) => {
      const pcm = new Int16Array(buf.buffer, buf.byteOffset, buf.length / 2);
      let longest = 0;
      for (let k = 0, run = 0; k < pcm.length; k++) {
        run = pcm[k] === 0 ? run + 1 : 0;
        longest = Math.max(longest, run);
      }
      return longest;
    };
    const streams = [];
    for (const input of [`${A} ${B}`, text]) {
      const r = await runRaw(['tts', input, ...VOICE, '--stream'], { home, timeoutMs: TIMEOUT, env: env() });
      assert.equal(r.code, 0, r.stderr);
      streams.push(r.stdout);
    }
    assert.equal(streams[1].length, streams[0].length + 2 * gap, 'the plain stream plus exactly the pause');
    const extra = longestSilence(streams[1]) - longestSilence(streams[0]);
    assert.ok(extra >= gap && extra <= gap + 120, `the stream's silence grew by ${extra} samples, pause ${gap}`);
  });

  test('inline phonemes and a lexicon entry give identical audio', async (t) => {
    if (!REAL) return t.skip(SKIP_REAL);
    fs.writeFileSync(file('lex.json'), JSON.stringify({ kokoro: 'kˈOkəɹO' }));
    const inline = await run(['tts', 'Say [Kokoro](/kˈOkəɹO/) twice.', ...VOICE, '-o', 'inline.wav', '--json']);
    const lex = await run(['tts', 'Say Kokoro twice.', ...VOICE, '--lexicon', 'lex.json', '-o', 'lex.wav', '--json']);
    assert.equal(inline.code, 0, inline.output);
    assert.equal(lex.code, 0, lex.output);
    assert.deepEqual(fs.readFileSync(file('inline.wav')), fs.readFileSync(file('lex.wav')));
    assert.deepEqual(parseJson(inline.stdout).words, parseJson(lex.stdout).words);
  });
});
